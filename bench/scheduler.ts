/**
 * Scheduler benchmark, shaped like Kubernetes' scheduler_perf SchedulingBasic:
 * fake nodes (4 cpu, 32Gi, 110 pods, Ready) and pods requesting 100m / 500Mi,
 * against a real `skiff server` process, with the scheduler in this process.
 *
 * Per scenario (5,000 nodes / 10,000 pods and 1,000 nodes / 1,000 pods):
 * 1. floor: raw `POST pods/{name}/binding` writes per second to the same
 *    server, no scheduling work, same client and the same concurrency (32) as
 *    the scheduler's bindings in flight; measured before and after the
 *    scheduler runs (the machine is shared, so load drifts) and averaged;
 *    those pods stay bound round-robin, as load on the nodes;
 * 2. warm-up, as SchedulingBasic's initPods: a first scheduler instance places
 *    1,000 pods (not measured), so the JIT is warm;
 * 3. scheduler: the measured pods are created while no scheduler runs, then a
 *    fresh scheduler starts; pods/s from the first pending pod it sees (its
 *    initial list) to its last successful binding, plus its memory (RSS and
 *    heap growth) and the CPU of both processes meanwhile.
 *
 * Run: node dist/bench/scheduler.js [--quick]
 */
import { readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { clientConfig } from '../controlplane/client.js';
import { RestClient, podPath } from '../controlplane/scheduler/rest.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { startScheduler, type StatsSnapshot } from '../controlplane/scheduler/index.js';
import { removeDir, startServer, type ServerProc } from '../test/harness.js';
import { drive, percentile, printRows, type Row } from './report.js';

const quick = process.argv.includes('--quick');
const CONCURRENCY = 32;

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

interface Scenario {
  nodes: number;
  pods: number;
  /** Pods scheduled before measuring (SchedulingBasic's initPods). */
  initPods: number;
  /** Pods bound directly for each of the two floor measurements. */
  floorPods: number;
}

const SCENARIOS: Scenario[] = quick
  ? [{ nodes: 1000, pods: 1000, initPods: 500, floorPods: 1000 }, { nodes: 5000, pods: 2000, initPods: 1000, floorPods: 1000 }]
  : [{ nodes: 5000, pods: 10000, initPods: 1000, floorPods: 5000 }, { nodes: 1000, pods: 1000, initPods: 500, floorPods: 1000 }];


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

/** scheduler_perf's pod-default: a pause container requesting 100m / 500Mi. */
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

/** Busy CPU seconds of the whole machine so far (all processes, /proc/stat). */
function machineBusySeconds(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: everything but idle and iowait.
  return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / 100;
}

async function must(p: Promise<{ status: number; body: { message?: string } }>, what: string): Promise<void> {
  const r = await p;
  if (r.status >= 300) throw new Error(`${what}: ${r.status} ${r.body?.message ?? ''}`);
}

async function createPods(rest: RestClient, prefix: string, n: number, schedulerName: string): Promise<void> {
  await drive(n, CONCURRENCY, (i) => must(rest.request('POST', '/api/v1/namespaces/bench/pods', pod(`${prefix}-${i}`, schedulerName)), 'create pod'));
}

interface FloorResult {
  perSecond: number;
  lat: number[];
  /** CPU per binding (us): this process, the API server. */
  clientUs: number;
  serverUs: number;
}

/** Binds `prefix-0..n-1` directly, round-robin over the nodes: the floor. */
async function floorRun(s: ServerProc, rest: RestClient, prefix: string, n: number, nodes: number): Promise<FloorResult> {
  const cpu0 = process.cpuUsage();
  const srv0 = procCpuSeconds(s.proc.pid as number);
  const r = await drive(n, CONCURRENCY, (i) =>
    must(
      rest.request('POST', podPath('bench', `${prefix}-${i}`, 'binding'), {
        apiVersion: 'v1',
        kind: 'Binding',
        metadata: { name: `${prefix}-${i}`, namespace: 'bench' },
        target: { apiVersion: 'v1', kind: 'Node', name: `node-${i % nodes}` },
      }),
      'floor binding',
    ),
  );
  const cpu = process.cpuUsage(cpu0);
  return { perSecond: n / r.seconds, lat: r.lat, clientUs: (cpu.user + cpu.system) / n, serverUs: ((procCpuSeconds(s.proc.pid as number) - srv0) * 1e6) / n };
}

/** Runs a scheduler until `n` pods are bound; returns its stats. */
async function scheduleAll(kc: KubeConfig, n: number): Promise<{ stats: StatsSnapshot; stop(): Promise<void> }> {
  const sched = await startScheduler({ kubeconfig: kc, maxBindsInFlight: CONCURRENCY });
  const deadline = Date.now() + 600_000;
  while (sched.stats().bound < n) {
    if (Date.now() > deadline) throw new Error(`only ${sched.stats().bound}/${n} bound: ${JSON.stringify(sched.stats())}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return { stats: sched.stats(), stop: () => sched.stop() };
}

async function scenario(s: ServerProc, sc: Scenario, rows: Row[]): Promise<void> {
  const kc = clientConfig(s.url, s.ca, s.token);
  const rest = await RestClient.create(kc);
  const tag = `${sc.nodes} nodes`;
  try {
    await must(rest.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } }), 'namespace');
    await drive(sc.nodes, CONCURRENCY, (i) => must(rest.request('POST', '/api/v1/nodes', node(i)), 'create node'));
    await createPods(rest, 'floor-a', sc.floorPods, 'bench-floor');
    await createPods(rest, 'floor-b', sc.floorPods, 'bench-floor');
    const floorA = await floorRun(s, rest, 'floor-a', sc.floorPods, sc.nodes);

    await createPods(rest, 'init', sc.initPods, 'default-scheduler');
    await (await scheduleAll(kc, sc.initPods)).stop();

    await createPods(rest, 'pod', sc.pods, 'default-scheduler');
    gc();
    const before = process.memoryUsage();
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const srvCpu0 = procCpuSeconds(s.proc.pid as number);
    const machine0 = machineBusySeconds();
    const run = await scheduleAll(kc, sc.pods);
    const cpu = process.cpuUsage(cpu0);
    const srvCpu = procCpuSeconds(s.proc.pid as number) - srvCpu0;
    const wall = (performance.now() - t0) / 1000;
    const others = machineBusySeconds() - machine0 - srvCpu - (cpu.user + cpu.system) / 1e6;
    const during = process.memoryUsage();
    gc();
    const after = process.memoryUsage();
    await run.stop();
    const st = run.stats;

    const floorB = await floorRun(s, rest, 'floor-b', sc.floorPods, sc.nodes);
    const floor = (floorA.perSecond + floorB.perSecond) / 2;
    const lat = [...floorA.lat, ...floorB.lat];
    const seconds = ((st.lastBoundAt ?? 0) - (st.firstPendingAt ?? 0)) / 1000;
    const rate = sc.pods / seconds;
    console.error(`${tag}: floor before ${floorA.perSecond.toFixed(0)}/s, after ${floorB.perSecond.toFixed(0)}/s; scheduler stats ${JSON.stringify(st)}`);
    rows.push({ name: `${tag}: raw pods/binding writes (floor)`, value: floor, unit: 'bindings/s', p50: percentile(lat, 50), p99: percentile(lat, 99) });
    const fc = (floorA.clientUs + floorB.clientUs) / 2;
    const fs = (floorA.serverUs + floorB.serverUs) / 2;
    rows.push({ name: `${tag}: floor CPU per binding, client / API server`, value: fc, unit: `us / ${fs.toFixed(0)} us` });
    rows.push({ name: `${tag}: ${sc.pods} pods scheduled + bound`, value: rate, unit: 'pods/s', ratio: rate / floor, goal: sc.nodes >= 5000 ? '>= 1000/s, >= 0.8x floor' : '>= 0.8x floor' });
    rows.push({ name: `${tag}: binding round trip in the scheduler`, value: st.bindMsTotal / (st.bound + st.conflicts + st.bindErrors), unit: 'ms (mean)' });
    rows.push({ name: `${tag}: CPU while scheduling, scheduler process`, value: (100 * (cpu.user + cpu.system)) / 1e6 / wall, unit: `% of a core (${((cpu.user + cpu.system) / sc.pods).toFixed(0)} us/pod)` });
    rows.push({ name: `${tag}: CPU while scheduling, API server`, value: (100 * srvCpu) / wall, unit: `% of a core (${((srvCpu * 1e6) / sc.pods).toFixed(0)} us/pod)` });
    rows.push({ name: `${tag}: CPU while scheduling, other processes`, value: (100 * Math.max(0, others)) / wall, unit: '% of a core (machine is shared)' });
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
