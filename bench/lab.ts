/**
 * Lab benchmark: how long `skiff lab up --nodes 3` takes warm (node image
 * cached) and, with --cold, cold (image and package cache purged first: the
 * debootstrap download, install and import included); memory per node (the
 * node container's cgroup, as `docker stats` reports it: usage less page
 * cache) idle and with 6 pods; and the time from killing a node container to
 * its Deployment's full replica count on the other nodes.
 *
 * Floors, measured in the same run where one exists: for `up`, the node
 * containers booting systemd alone (the `nodes` step); for failover, the
 * configured detection + eviction time (grace period and toleration seconds
 * of the lab's server), the least any implementation with those settings needs.
 *
 * Run (as root, no lab running): node dist/bench/lab.js [--cold]
 */
import { spawn } from 'node:child_process';
import { labUp } from '../cli/lab/up.js';
import { labDown } from '../cli/lab/down.js';
import { labContainers } from '../cli/lab/nodes.js';
import { installPackages } from '../cli/lab/install-packages.js';
import { CHECKOUT } from '../cli/lab/nodes.js';
import { LAB_KUBECONFIG, LAB_SERVER_SETTINGS } from '../cli/lab/plan.js';
import { LAB_BUSYBOX } from '../cli/lab/registry.js';
import { printRows, type Row } from './report.js';

const cold = process.argv.includes('--cold');

function sh(cmd: string, args: string[], input = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')}: ${err}${out}`))));
    p.stdin.end(input);
  });
}

const kubectl = (args: string[], input = ''): Promise<string> => sh('kubectl', ['--kubeconfig', LAB_KUBECONFIG, ...args], input);

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** `docker stats` memory per lab container, MiB. */
async function memory(): Promise<Map<string, number>> {
  const out = await sh('docker', ['stats', '--no-stream', '--format', '{{.Name}}\t{{.MemUsage}}', ...(await labContainers()).filter((c) => c.running).map((c) => c.name)]);
  const unit: Record<string, number> = { B: 1 / 1048576, KiB: 1 / 1024, MiB: 1, GiB: 1024 };
  const m = new Map<string, number>();
  for (const l of out.split('\n').filter(Boolean)) {
    const [name, usage] = l.split('\t');
    const x = /^([\d.]+)(B|KiB|MiB|GiB)/.exec(usage ?? '');
    if (name && x) m.set(name, Number(x[1]) * unit[x[2]!]!);
  }
  return m;
}

async function readyWeb(): Promise<{ node: string }[]> {
  const pods = JSON.parse(await kubectl(['get', 'pods', '-l', 'app=web', '-o', 'json'])).items as { spec: { nodeName: string }; metadata: { deletionTimestamp?: string }; status: { conditions?: { type: string; status: string }[] } }[];
  return pods.filter((p) => !p.metadata.deletionTimestamp && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).map((p) => ({ node: p.spec.nodeName }));
}

async function main(): Promise<void> {
  if ((await labContainers()).length) throw new Error('a lab is running on this host: skiff lab down first (the benchmark makes and removes its own)');
  const rows: Row[] = [];
  const quiet = { write: () => {} };
  const extraPackages = await installPackages(CHECKOUT);
  if (cold) {
    await labDown({ purge: true, out: quiet });
    const r = await labUp({ nodes: 3, extraPackages, out: quiet });
    rows.push({ name: 'lab up --nodes 3, cold (image build)', value: r.ms.total!, unit: 'ms' });
    rows.push({ name: '  of which the node image', value: r.ms.image!, unit: 'ms' });
    await labDown({ out: quiet });
  }
  const up = await labUp({ nodes: 3, extraPackages, out: quiet });
  const floor = up.ms.nodes!;
  rows.push({ name: 'lab up --nodes 3, warm', value: up.ms.total!, unit: 'ms', ratio: up.ms.total! / floor });
  for (const s of ['nodes', 'registry', 'server', 'agents', 'ready']) rows.push({ name: `  step ${s}`, value: up.ms[s] ?? 0, unit: 'ms' });
  try {
    const idle = await memory();
    for (const [n, mib] of idle) rows.push({ name: `memory ${n} idle`, value: mib, unit: 'MiB' });
    await kubectl(['create', 'deployment', 'web', `--image=${LAB_BUSYBOX}`, '--replicas=6', '--', 'httpd', '-f', '-p', '80', '-h', '/etc']);
    await waitFor('6 ready pods', async () => (await readyWeb()).length === 6, 180_000);
    const busy = await memory();
    for (const [n, mib] of busy) rows.push({ name: `memory ${n} with ${(await readyWeb()).filter((p) => p.node === n).length} pods`, value: mib, unit: 'MiB' });

    const victim = 'skiff-lab-2';
    const t0 = performance.now();
    await sh('docker', ['kill', victim]);
    await waitFor(`${victim} NotReady`, async () => !/\bTrue\b/.test(await kubectl(['get', 'node', victim, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])), 120_000);
    const notReady = performance.now() - t0;
    await waitFor('6 ready pods on the other nodes', async () => {
      const r = await readyWeb();
      return r.length === 6 && r.every((p) => p.node !== victim);
    }, 300_000);
    const back = performance.now() - t0;
    const grace = Number(LAB_SERVER_SETTINGS.nodeMonitorGracePeriod.replace(/s$/, '')) * 1000;
    const evictionFloor = LAB_SERVER_SETTINGS.defaultTolerationSeconds * 1000;
    rows.push({ name: `node lost -> NotReady (grace ${grace / 1000} s)`, value: notReady, unit: 'ms', goal: `<= ${grace / 1000 + 10} s` });
    rows.push({ name: 'node lost -> 6/6 replicas ready elsewhere', value: back, unit: 'ms', ratio: back / (notReady + evictionFloor), goal: 'floor: NotReady + toleration' });
  } finally {
    await labDown({ out: quiet });
  }
  printRows('lab (3 nodes)', rows);
}

main().catch((e: Error) => {
  console.error(`bench lab: ${e.message}`);
  process.exitCode = 1;
});
