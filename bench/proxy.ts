/**
 * Service proxy benchmark: full sync with 1,000, 5,000 and 10,000 services of
 * 3 endpoints each, the periodic in-place resync, and one endpoint change at
 * 10,000 services, for each rule mode, each next to its floor measured in the
 * same run: the backend applying the very same payload alone (`nft -f FILE`,
 * `iptables-restore --noflush < FILE`).
 *
 * A proxy sync here is what the Proxier does: ServicePorts from Service and
 * EndpointSlice objects, the ruleset, the payload, its application (and for
 * iptables the `iptables-save` listing and the jumps). Everything runs inside a
 * network namespace made for the run (`ip netns add`), so the host's own
 * ruleset never holds these services; the namespace goes at the end.
 *
 * Modes: nftables (native, our default on nf_tables hosts), iptables-legacy;
 * iptables-nft (the fallback without the nft binary) at 1,000 services only:
 * kube-proxy's layout through it took minutes at 10,000 on this machine.
 *
 * Runs under the agent's node flags (bench/as-agent.ts).
 *
 * Run (as root): node dist/bench/proxy.js [--quick]
 */
import './as-agent.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execRunner, Iptables, type Backend, type Runner } from '../common/iptables.js';
import { logger } from '../common/log.js';
import type { Obj } from '../controlplane/controllers/objects.js';
import { servicePorts, type ProxyTopology } from '../agent/proxy/model.js';
import { Nft } from '../agent/proxy/nft.js';
import { NftMode } from '../agent/proxy/nft-mode.js';
import { IptablesMode } from '../agent/proxy/iptables-mode.js';
import type { RuleMode } from '../agent/proxy/proxier.js';
import { percentile, printRows, type Row } from './report.js';

const quick = process.argv.includes('--quick');
const SIZES = quick ? [1000, 5000] : [1000, 5000, 10_000];
const BIG = SIZES[SIZES.length - 1]!;
const REPS = quick ? 1 : 3;
const CHANGES = quick ? 5 : 15;
const NS = `skiff-bench-proxy-${process.pid}`;
const TOPO: ProxyTopology = { nodeName: 'bench-node', clusterCIDR: '10.244.0.0/16' };
const log = logger('bench-proxy');
log.level = 'warn';
const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-proxy-'));

/** Runs every command inside the benchmark's namespace. */
const nsRunner: Runner = { run: (cmd, args, input) => execRunner.run('ip', ['netns', 'exec', NS, cmd, ...args], input) };

async function must(cmd: string, args: string[], input?: string): Promise<string> {
  const r = await execRunner.run(cmd, args, input);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

const ip = (n: number, a: number): string => `${a}.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;

/** n Services (ClusterIP 10.96.x.y, every 10th a NodePort) with one EndpointSlice of 3 ready endpoints each. */
function cluster(n: number): { services: Obj[]; slices: Map<string, Obj> } {
  const services: Obj[] = [];
  const slices = new Map<string, Obj>();
  for (let i = 0; i < n; i++) {
    const name = `svc-${i}`;
    const np = i % 10 === 0 && i / 10 < 2767;
    services.push({ metadata: { namespace: 'bench', name }, spec: { type: np ? 'NodePort' : 'ClusterIP', clusterIP: ip((96 << 16) + 10 + i, 10), ports: [{ name: 'http', port: 80, protocol: 'TCP', ...(np ? { nodePort: 30000 + i / 10 } : {}) }] } });
    slices.set(`bench/${name}`, slice(name, [0, 1, 2].map((j) => ip((244 << 16) + 3 * i + j + 2, 10))));
  }
  return { services, slices };
}

function slice(name: string, ips: string[]): Obj {
  return {
    metadata: { namespace: 'bench', name: `${name}-x`, labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: ips.map((a) => ({ addresses: [a], nodeName: 'bench-node', conditions: { ready: true } })),
  };
}

/** The Proxier's first sync: every service through servicePorts, then one full apply. */
async function fullSync(mode: RuleMode, c: ReturnType<typeof cluster>): Promise<number> {
  const t = performance.now();
  for (const s of c.services) {
    const key = `bench/${s.metadata.name}`;
    mode.setService(key, servicePorts(s, [c.slices.get(key)!], TOPO));
  }
  await mode.sync(true);
  return performance.now() - t;
}

/** Replaces the first endpoint of service i with a fresh address, as an EndpointSlice update would. */
function moveEndpoint(c: ReturnType<typeof cluster>, i: number, seq: number): string {
  const key = `bench/svc-${i}`;
  const old = c.slices.get(key)!;
  const ips = old.endpoints.map((e: Obj) => e.addresses[0] as string);
  ips[0] = ip((250 << 16) + seq, 10);
  c.slices.set(key, slice(`svc-${i}`, ips));
  return key;
}

async function timed(cmd: string, args: string[], file: string): Promise<number> {
  const t = performance.now();
  const r = await execRunner.run('sh', ['-c', `exec ip netns exec ${NS} ${cmd} ${args.join(' ')} < ${file}`]);
  const ms = performance.now() - t;
  if (r.code !== 0) throw new Error(`${cmd} failed: ${r.stderr.trim().slice(0, 500)}`);
  return ms;
}

const median = (xs: number[]): number => percentile(xs, 50);
const lines = (s: string): number => s.split('\n').filter(Boolean).length;

function row(name: string, ms: number[], floor: number[], extra: Partial<Row> = {}): Row[] {
  const v = median(ms);
  const f = median(floor);
  return [
    { name, value: v, unit: 'ms', p50: v, p99: percentile(ms, 99), ratio: v / f, ...extra },
    { name: `  floor: backend alone, same payload`, value: f, unit: 'ms', p50: f, p99: percentile(floor, 99) },
  ];
}

async function benchNft(rows: Row[]): Promise<void> {
  const nft = new Nft(execRunner, NS);
  const file = join(dir, 'nft.txt');
  for (const n of SIZES) {
    const c = cluster(n);
    const ours: number[] = [];
    const floor: number[] = [];
    let mode!: NftMode;
    let size = 0;
    for (let r = 0; r < REPS; r++) {
      await nft.deleteTable();
      mode = new NftMode({ clusterCIDR: TOPO.clusterCIDR }, nft, log);
      ours.push(await fullSync(mode, c));
      const payload = mode.ruleset.renderFull('recreate').payload;
      size = lines(payload);
      writeFileSync(file, payload);
      await nft.deleteTable();
      floor.push(await timed('nft', ['-f', '/dev/stdin'], file));
    }
    rows.push(...row(`nftables full sync, ${n} services (${size} lines, first: table rebuilt)`, ours, floor, { goal: n === 10_000 ? '< 5000 ms' : undefined }));
    if (n !== BIG) continue;
    // The periodic resync: our table flushed and refilled in place (affinity kept).
    const resync: number[] = [];
    const resyncFloor: number[] = [];
    for (let r = 0; r < REPS; r++) {
      const t = performance.now();
      await mode.sync(true);
      resync.push(performance.now() - t);
      writeFileSync(file, mode.ruleset.renderFull('flush').payload);
      resyncFloor.push(await timed('nft', ['-f', '/dev/stdin'], file));
    }
    rows.push(...row(`nftables periodic full resync, ${n} services (in place)`, resync, resyncFloor));
    const change: number[] = [];
    const changeFloor: number[] = [];
    for (let k = 0; k < CHANGES; k++) {
      let key = moveEndpoint(c, (k * 7919) % n, 2 * k);
      const t = performance.now();
      mode.setService(key, servicePorts(c.services[(k * 7919) % n]!, [c.slices.get(key)!], TOPO));
      await mode.sync(false);
      change.push(performance.now() - t);
      key = moveEndpoint(c, (k * 7919) % n, 2 * k + 1);
      mode.ruleset.setService(key, servicePorts(c.services[(k * 7919) % n]!, [c.slices.get(key)!], TOPO));
      const p = mode.ruleset.renderPartial();
      writeFileSync(file, p.payload);
      changeFloor.push(await timed('nft', ['-f', '/dev/stdin'], file));
      p.commit();
    }
    rows.push(...row(`nftables one endpoint change at ${n} services`, change, changeFloor, { goal: '< 100 ms' }));
  }
  await nft.deleteTable();
}

async function benchIptables(rows: Row[], backend: Backend, sizes: number[]): Promise<void> {
  const ipt = new Iptables(backend, nsRunner);
  const restore = `iptables-${backend}-restore`;
  const files = { nat: join(dir, 'nat.txt'), filter: join(dir, 'filter.txt') };
  for (const n of sizes) {
    const c = cluster(n);
    const ours: number[] = [];
    const floor: number[] = [];
    let mode!: IptablesMode;
    let size = 0;
    for (let r = 0; r < REPS; r++) {
      await new IptablesMode({ clusterCIDR: TOPO.clusterCIDR }, ipt, log).teardown();
      mode = new IptablesMode({ clusterCIDR: TOPO.clusterCIDR }, ipt, log);
      ours.push(await fullSync(mode, c));
      const f = mode.ruleset.renderFull({ nat: [], filter: [] });
      size = lines(f.payload.nat) + lines(f.payload.filter);
      writeFileSync(files.nat, f.payload.nat);
      writeFileSync(files.filter, f.payload.filter);
      await new IptablesMode({ clusterCIDR: TOPO.clusterCIDR }, ipt, log).teardown();
      floor.push((await timed(restore, ['--noflush', '-w', '5'], files.filter)) + (await timed(restore, ['--noflush', '-w', '5'], files.nat)));
    }
    rows.push(...row(`iptables-${backend} full sync, ${n} services (${size} lines)`, ours, floor, { goal: n === 10_000 ? '< 5000 ms' : undefined }));
    if (n !== sizes[sizes.length - 1]) continue;
    await mode.sync(true); // the floor's restore left the chains without jumps and our record empty: a real sync first
    const change: number[] = [];
    const changeFloor: number[] = [];
    for (let k = 0; k < Math.min(CHANGES, 5); k++) {
      const i = (k * 7919) % n;
      let key = moveEndpoint(c, i, 2 * k);
      const t = performance.now();
      mode.setService(key, servicePorts(c.services[i]!, [c.slices.get(key)!], TOPO));
      await mode.sync(false);
      change.push(performance.now() - t);
      key = moveEndpoint(c, i, 2 * k + 1);
      mode.ruleset.setService(key, servicePorts(c.services[i]!, [c.slices.get(key)!], TOPO));
      const p = mode.ruleset.renderPartial();
      writeFileSync(files.nat, p.payload.nat);
      changeFloor.push(await timed(restore, ['--noflush', '-w', '5'], files.nat));
      p.commit();
    }
    rows.push(...row(`iptables-${backend} one endpoint change at ${n} services`, change, changeFloor, { goal: n === 10_000 ? '< 100 ms' : undefined }));
  }
  await new IptablesMode({ clusterCIDR: TOPO.clusterCIDR }, ipt, log).teardown();
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: the benchmark makes a network namespace');
  await must('ip', ['netns', 'add', NS]);
  const rows: Row[] = [];
  try {
    await must('ip', ['netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up']);
    if (await new Nft(execRunner, NS).available()) await benchNft(rows);
    else console.log('nft is not installed (apt-get install -y nftables): nftables mode skipped');
    await benchIptables(rows, 'legacy', SIZES);
    await benchIptables(rows, 'nft', [1000]);
  } finally {
    await execRunner.run('ip', ['netns', 'del', NS]);
    rmSync(dir, { recursive: true, force: true });
  }
  printRows(`Service proxy: ${REPS} run(s) per full sync, 3 endpoints per service, in netns ${NS}`, rows);
}

main().catch((e) => {
  console.error(`bench/proxy: ${(e as Error).message}`);
  void execRunner.run('ip', ['netns', 'del', NS]).finally(() => process.exit(1));
});
