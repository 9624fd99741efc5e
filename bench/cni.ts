/**
 * CNI benchmark: ADD and DEL latency (sequential, p50/p99) and 100 ADDs then
 * 100 DELs run at once (wall time), for cni/skiff-bridge and, in the same run
 * on the same kind of config, for Debian's reference bridge + host-local
 * plugins (/usr/lib/cni), which are the floor. Both get a bridge, subnet and
 * data dir of the benchmark's own; iterations alternate between the two so
 * load from elsewhere on the host hits both alike. Everything is removed at
 * the end.
 *
 * Run (as root): node dist/bench/cni.js [--quick]
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { percentile, printRows, type Row } from './report.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const quick = process.argv.includes('--quick');
const RUNS = quick ? 20 : 50;
const PARALLEL = 100;
const REF_BIN = '/usr/lib/cni';
const tag = randomBytes(3).toString('hex');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

function exec(cmd: string, args: string[], input = '', env: NodeJS.ProcessEnv = process.env): Promise<Result> {
  return new Promise((res, rej) => {
    const t = performance.now();
    const p = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.stdin.on('error', () => undefined);
    p.on('error', rej);
    p.on('close', (code) => res({ code: code ?? -1, stdout, stderr, ms: performance.now() - t }));
    p.stdin.end(input);
  });
}

async function must(cmd: string, args: string[], input = ''): Promise<string> {
  const r = await exec(cmd, args, input);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

interface Plugin {
  label: string;
  bin: string;
  net: string;
  bridge: string;
  conf: string;
}

function call(p: Plugin, command: string, ns: string, id: string): Promise<Result> {
  const env = { PATH: process.env.PATH, CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: `/var/run/netns/${ns}`, CNI_IFNAME: 'eth0', CNI_PATH: REF_BIN };
  return exec(p.bin, [], p.conf, env).then((r) => {
    if (r.code !== 0) throw new Error(`${p.label} ${command} ${id}: ${r.stdout}${r.stderr}`);
    return r;
  });
}

async function freeSubnets(n: number): Promise<string[]> {
  const routes = await must('ip', ['-4', 'route', 'show', 'table', 'all']);
  const out: string[] = [];
  for (let o = 200; o < 250 && out.length < n; o++) if (!routes.includes(`10.244.${o}.`)) out.push(`10.244.${o}.0/24`);
  if (out.length < n) throw new Error('no free 10.244.2xx.0/24 subnets');
  return out;
}

async function cleanup(plugins: Plugin[], namespaces: string[], dataDir: string): Promise<void> {
  await exec('ip', ['-force', '-batch', '-'], namespaces.map((n) => `netns del ${n}\n`).join(''));
  for (const p of plugins) if (existsSync(`/sys/class/net/${p.bridge}`)) await exec('ip', ['link', 'del', 'dev', p.bridge]);
  const rules = (await exec('iptables', ['-w', '5', '-t', 'nat', '-S'])).stdout.split('\n');
  const mine = rules.filter((l) => l.startsWith('-A ') && plugins.some((p) => l.includes(`skiff-bridge ${p.net}:`) || l.includes(`"${p.net}"`)));
  for (const rule of mine) await exec('bash', ['-c', `iptables -w 5 -t nat ${rule.replace(/^-A /, '-D ')}`]);
  for (const chain of new Set(mine.map((l) => /^-A (CNI-[0-9a-f]+)/.exec(l)?.[1]).filter(Boolean))) await exec('iptables', ['-w', '5', '-t', 'nat', '-X', chain!]);
  const left = await exec('iptables', ['-w', '5', '-t', 'nat', '-S', 'SKIFF-CNI-MASQ']);
  if (left.code === 0 && !left.stdout.includes('-A SKIFF-CNI-MASQ')) {
    await exec('iptables', ['-w', '5', '-t', 'nat', '-D', 'POSTROUTING', '-m', 'comment', '--comment', 'skiff-bridge pod masquerade', '-j', 'SKIFF-CNI-MASQ']);
    await exec('iptables', ['-w', '5', '-t', 'nat', '-X', 'SKIFF-CNI-MASQ']);
  }
  for (const p of plugins) rmSync(`/run/skiff-cni/masq-${p.net}`, { force: true });
  // The host-wide lock and the directory, once no network's stamp is left.
  if (existsSync('/run/skiff-cni') && readdirSync('/run/skiff-cni').every((f) => f === 'lock')) rmSync('/run/skiff-cni', { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
}

/** The two plugins on one config shape, each with a bridge and subnet of its own. */
function pair(masq: boolean, subnets: string[], dataDir: string): [Plugin, Plugin] {
  const dns = { nameservers: ['10.96.0.10'], search: ['default.svc.cluster.local'] };
  const k = masq ? 'm' : 'n';
  const ours: Plugin = { label: 'skiff-bridge', bin: join(ROOT, 'cni', 'skiff-bridge'), net: `sktb${k}-${tag}`, bridge: `sktb${k}${tag}`, conf: '' };
  ours.conf = JSON.stringify({ cniVersion: '1.0.0', name: ours.net, type: 'skiff-bridge', bridge: ours.bridge, ipMasq: masq, hairpinMode: true, ipam: { type: 'host-local', ranges: [[{ subnet: subnets[0] }]], dataDir }, dns });
  const ref: Plugin = { label: 'bridge+host-local', bin: join(REF_BIN, 'bridge'), net: `sktr${k}-${tag}`, bridge: `sktr${k}${tag}`, conf: '' };
  ref.conf = JSON.stringify({ cniVersion: '1.0.0', name: ref.net, type: 'bridge', bridge: ref.bridge, isGateway: true, isDefaultGateway: true, ipMasq: masq, hairpinMode: true, ipam: { type: 'host-local', ranges: [[{ subnet: subnets[1] }]], dataDir }, dns });
  return [ours, ref];
}

/** Sequential latencies, then PARALLEL ADDs and DELs at once, for one pair; rows with ratios. */
async function measure(ours: Plugin, ref: Plugin, namespaces: string[], what: string): Promise<Row[]> {
  // Warm-up: the first ADD creates the bridge (and the masquerade rules).
  for (const p of [ours, ref]) {
    await call(p, 'ADD', namespaces[0], `warm-${tag}`);
    await call(p, 'DEL', namespaces[0], `warm-${tag}`);
  }
  const lat = new Map<string, number[]>();
  const record = (k: string, ms: number): void => void (lat.get(k) ?? lat.set(k, []).get(k)!).push(ms);
  for (let i = 0; i < RUNS; i++) {
    const ns = namespaces[i % namespaces.length];
    for (const p of i % 2 ? [ref, ours] : [ours, ref]) {
      record(`${p.label} ADD`, (await call(p, 'ADD', ns, `seq${i}-${tag}`)).ms);
      record(`${p.label} DEL`, (await call(p, 'DEL', ns, `seq${i}-${tag}`)).ms);
    }
  }
  const wall = new Map<string, number>();
  for (const p of [ours, ref]) {
    let t = performance.now();
    await Promise.all(namespaces.map((ns, i) => call(p, 'ADD', ns, `par${i}-${tag}`)));
    wall.set(`${p.label} ADD`, performance.now() - t);
    t = performance.now();
    await Promise.all(namespaces.map((ns, i) => call(p, 'DEL', ns, `par${i}-${tag}`)));
    wall.set(`${p.label} DEL`, performance.now() - t);
  }
  const rows: Row[] = [];
  for (const verb of ['ADD', 'DEL']) {
    const o = lat.get(`${ours.label} ${verb}`)!;
    const r = lat.get(`${ref.label} ${verb}`)!;
    rows.push({ name: `${verb} skiff-bridge, ${what}`, value: percentile(o, 50), unit: 'ms', p50: percentile(o, 50), p99: percentile(o, 99), ratio: percentile(o, 50) / percentile(r, 50), goal: '<= 1x' });
    rows.push({ name: `${verb} bridge+host-local, ${what} (floor)`, value: percentile(r, 50), unit: 'ms', p50: percentile(r, 50), p99: percentile(r, 99) });
  }
  for (const verb of ['ADD', 'DEL']) {
    const o = wall.get(`${ours.label} ${verb}`)!;
    const r = wall.get(`${ref.label} ${verb}`)!;
    rows.push({ name: `${PARALLEL} parallel ${verb}s skiff-bridge, ${what}`, value: o, unit: 'ms wall', ratio: o / r, goal: '<= 1x' });
    rows.push({ name: `${PARALLEL} parallel ${verb}s bridge+host-local, ${what} (floor)`, value: r, unit: 'ms wall' });
  }
  return rows;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the CNI benchmark needs root (network namespaces)');
  const dataDir = mkdtempSync(join(tmpdir(), 'skt-bench-'));
  const subnets = await freeSubnets(4);
  const masq = pair(true, subnets.slice(0, 2), dataDir);
  const plain = pair(false, subnets.slice(2), dataDir);
  const namespaces = Array.from({ length: PARALLEL }, (_, i) => `sktb${tag}-${i}`);
  try {
    await must('ip', ['-batch', '-'], namespaces.map((n) => `netns add ${n}\n`).join(''));
    const rows = [...(await measure(...masq, namespaces, 'ipMasq')), ...(await measure(...plain, namespaces, 'no ipMasq'))];
    printRows(`CNI plugin ADD/DEL, ${RUNS} sequential runs each (alternating), then ${PARALLEL} at once; hairpin, default route, dns`, rows);
  } finally {
    await cleanup([...masq, ...plain], namespaces, dataDir);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
