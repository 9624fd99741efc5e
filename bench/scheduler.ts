/**
 * Scheduler benchmark, shaped like Kubernetes' scheduler_perf SchedulingBasic:
 * fake nodes (4 cpu, 32Gi, 110 pods, Ready) and pods requesting 100m / 500Mi,
 * against a real `skiff server` process, with the scheduler in this process.
 *
 * Per scenario (5,000 nodes / 10,000 pods and 1,000 nodes / 1,000 pods):
 * 1. floor: raw `POST pods/{name}/binding` writes per second to the same
 *    server, no scheduling work, same client and concurrency as the scheduler
 *    (those pods, bound round-robin, also play SchedulingBasic's initPods);
 * 2. scheduler: the measured pods are created first, then the scheduler starts;
 *    pods/s from the first pending pod the scheduler sees to its last binding,
 *    plus the scheduler's memory (RSS and heap growth while it runs).
 *
 * Run: node dist/bench/scheduler.js [--quick]
 */
import { readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { clientConfig } from '../controlplane/client.js';
import { RestClient, podPath } from '../controlplane/scheduler/rest.js';
import { startScheduler } from '../controlplane/scheduler/index.js';
import { removeDir, startServer, type ServerProc } from '../test/harness.js';
import { percentile, printRows, type Row } from './report.js';

const quick = process.argv.includes('--quick');
const CONCURRENCY = 32;

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

interface Scenario {
  nodes: number;
  pods: number;
  /** Pods bound directly for the floor (and left in place as initial load). */
  floorPods: number;
}

const SCENARIOS: Scenario[] = quick
  ? [{ nodes: 1000, pods: 1000, floorPods: 1000 }, { nodes: 5000, pods: 2000, floorPods: 2000 }]
  : [{ nodes: 5000, pods: 10000, floorPods: 10000 }, { nodes: 1000, pods: 1000, floorPods: 1000 }];

async function drive(total: number, concurrency: number, op: (i: number) => Promise<void>): Promise<{ lat: number[]; seconds: number }> {
  const lat: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t = performance.now();
        await op(i);
        lat.push(performance.now() - t);
      }
    }),
  );
  return { lat, seconds: (performance.now() - start) / 1000 };
}

function node(i: number): object {
  const name = `node-${i}`;
  const resources = { cpu: '4', memory: '32Gi', pods: '110' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'topology.kubernetes.io/zone': `zone-${i % 3}` } },
    status: { capacity: resources, allocatable: resources, conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }] },
  };
}

function pod(name: string, schedulerName: string): object {
  const res = { cpu: '100m', memory: '500Mi' };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'bench', labels: { app: 'bench' } },
    spec: { schedulerName, containers: [{ name: 'pause', image: 'registry.k8s.io/pause:3.10', ports: [{ containerPort: 80 }], resources: { requests: res, limits: res } }] },
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
function procCpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function must(p: Promise<{ status: number; body: { message?: string } }>, what: string): Promise<void> {
  const r = await p;
  if (r.status >= 300) throw new Error(`${what}: ${r.status} ${r.body?.message ?? ''}`);
}

async function scenario(s: ServerProc, sc: Scenario, rows: Row[]): Promise<void> {
  const kc = clientConfig(s.url, s.ca, s.token);
  const rest = await RestClient.create(kc);
  const tag = `${sc.nodes} nodes`;
  try {
    await must(rest.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } }), 'namespace');
    const cn = await drive(sc.nodes, CONCURRENCY, (i) => must(rest.request('POST', '/api/v1/nodes', node(i)), 'create node'));
    const cp = await drive(sc.floorPods + sc.pods, CONCURRENCY, (i) =>
      i < sc.floorPods
        ? must(rest.request('POST', '/api/v1/namespaces/bench/pods', pod(`floor-${i}`, 'bench-floor')), 'create pod')
        : must(rest.request('POST', '/api/v1/namespaces/bench/pods', pod(`pod-${i - sc.floorPods}`, 'default-scheduler')), 'create pod'),
    );
    console.error(`${tag}: created ${sc.nodes} nodes (${(sc.nodes / cn.seconds).toFixed(0)}/s), ${sc.floorPods + sc.pods} pods (${((sc.floorPods + sc.pods) / cp.seconds).toFixed(0)}/s)`);

    // Floor: the same binding requests the scheduler sends, with nothing else to do.
    const fl = await drive(sc.floorPods, CONCURRENCY, (i) =>
      must(
        rest.request('POST', podPath('bench', `floor-${i}`, 'binding'), {
          apiVersion: 'v1',
          kind: 'Binding',
          metadata: { name: `floor-${i}`, namespace: 'bench' },
          target: { apiVersion: 'v1', kind: 'Node', name: `node-${i % sc.nodes}` },
        }),
        'floor binding',
      ),
    );
    const floor = sc.floorPods / fl.seconds;
    rows.push({ name: `${tag}: raw pods/binding writes (floor)`, value: floor, unit: 'bindings/s', p50: percentile(fl.lat, 50), p99: percentile(fl.lat, 99) });

    gc();
    const before = process.memoryUsage();
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const srvCpu0 = procCpuSeconds(s.proc.pid as number);
    const sched = await startScheduler({ kubeconfig: kc, maxBindsInFlight: CONCURRENCY });
    const synced = performance.now();
    const deadline = Date.now() + 300_000;
    while (sched.stats().bound < sc.pods) {
      if (Date.now() > deadline) throw new Error(`only ${sched.stats().bound}/${sc.pods} bound: ${JSON.stringify(sched.stats())}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const st = sched.stats();
    const cpu = process.cpuUsage(cpu0);
    const srvCpu = procCpuSeconds(s.proc.pid as number) - srvCpu0;
    const wall = (performance.now() - t0) / 1000;
    const during = process.memoryUsage();
    gc();
    const after = process.memoryUsage();
    await sched.stop();
    const seconds = ((st.lastBoundAt ?? 0) - (st.firstPendingAt ?? 0)) / 1000;
    const rate = sc.pods / seconds;
    console.error(`${tag}: caches synced in ${(synced - t0).toFixed(0)} ms; stats ${JSON.stringify(st)}`);
    rows.push({ name: `${tag}: ${sc.pods} pods scheduled + bound`, value: rate, unit: 'pods/s', ratio: rate / floor, goal: sc.nodes >= 5000 ? '>= 1000/s, >= 0.8x floor' : '>= 0.8x floor' });
    rows.push({ name: `${tag}: CPU while scheduling, scheduler process`, value: (100 * (cpu.user + cpu.system)) / 1e6 / wall, unit: '% of a core' });
    rows.push({ name: `${tag}: CPU while scheduling, API server`, value: (100 * srvCpu) / wall, unit: '% of a core' });
    rows.push({ name: `${tag}: scheduler RSS growth (peak)`, value: (during.rss - before.rss) / 2 ** 20, unit: 'MiB' });
    rows.push({ name: `${tag}: scheduler heap growth (after GC)`, value: (after.heapUsed - before.heapUsed) / 2 ** 20, unit: 'MiB' });
    rows.push({ name: `${tag}: Scheduled events written / dropped`, value: st.events.created, unit: `written, ${st.events.dropped} dropped` });
  } finally {
    await rest.close();
  }
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const sc of SCENARIOS) {
    // Only the scheduler under test: no embedded scheduler, and no node lifecycle controller tainting agentless nodes.
    const s = await startServer({ extraArgs: ['--log-level', 'error', '--disable-scheduler', '--disable-controllers'] });
    try {
      await scenario(s, sc, rows);
    } finally {
      await s.stop();
      removeDir(s.dataDir);
    }
  }
  printRows('Scheduler vs raw binding writes (same run, same server, same concurrency)', rows);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
