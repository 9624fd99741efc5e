/**
 * Cluster DNS benchmark over UDP on 127.0.0.1, bounded in count and time:
 * latency (p50/p99) with one query in flight at a time, and throughput
 * (queries per second) with 32 in flight, closed loop.
 *
 *   server  the agent's DNS code (agent/dns: server.ts over IndexedView, the
 *           informers' own index structures) in a child process, its cache holding
 *           1,000 ClusterIP services and 100 headless services with 10 endpoints
 *           each; a mix of A (ClusterIP), A (headless, 10 answers), SRV and NXDOMAIN
 *   floor   the same child process setup answering every query with the server's own
 *           answer bytes for it, precomputed (only the id patched): the UDP round
 *           trip through Node's event loop with the same sizes and the same client,
 *           minus the DNS work. The ratio is what decoding, resolving and encoding cost.
 *   codec   answerQuery in-process, no sockets (decode + resolve + encode per query).
 *
 * `--server HOST:PORT` also measures a running agent (e.g. `skiff up`: 127.0.0.1:10053)
 * with `kubernetes.default.svc.cluster.local` A queries. Only that address and
 * 127.0.0.1 are ever queried.
 *
 * Run: node dist/bench/dns.js [--quick] [--server 127.0.0.1:10053]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import dnsPacket from 'dns-packet';
import { logger } from '../common/log.js';
import { AGENT_ENV, AGENT_NODE_FLAGS } from '../agent/settings.js';
import { buildQuery } from '../agent/dns/client.js';
import { service, slice, viewOf } from '../agent/dns/fixtures.js';
import { startDnsServer } from '../agent/dns/server.js';
import type { IndexedView } from '../agent/dns/view.js';
import { answerQuery } from '../agent/dns/wire.js';
import { percentile, printRows, type Row } from './report.js';

const quick = process.argv.includes('--quick');
const TOTAL = quick ? 5_000 : 30_000;
const SEQUENTIAL = quick ? 2_000 : 10_000;
const IN_FLIGHT = 32;
const MAX_SECONDS = 30;
const ZONE = { domain: 'cluster.local', ttl: 5 };
const SERVICES = 1000;
const HEADLESS = 100;

function benchView(): IndexedView {
  const svcs = [];
  const slices = [];
  for (let i = 0; i < SERVICES; i++) svcs.push(service(`ns${i % 20}`, `svc${i}`, { clusterIP: `10.96.${4 + Math.floor(i / 250)}.${(i % 250) + 1}`, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }));
  for (let i = 0; i < HEADLESS; i++) {
    svcs.push(service(`ns${i % 20}`, `hl${i}`, { clusterIP: 'None', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }));
    slices.push(slice(`ns${i % 20}`, `hl${i}`, `hl${i}-x`, Array.from({ length: 10 }, (_, j) => ({ ip: `10.244.${i % 250}.${j + 1}`, hostname: `hl${i}-${j}` })), [{ name: 'http', port: 8080, protocol: 'TCP' }]));
  }
  return viewOf(svcs, slices);
}

/** The query mix: 70% ClusterIP A, 10% headless A, 10% SRV, 10% NXDOMAIN. */
function queries(n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % 10;
    const s = (i * 7919) % SERVICES;
    const h = (i * 31) % HEADLESS;
    if (k < 7) out.push(buildQuery(`svc${s}.ns${s % 20}.svc.cluster.local`, 'A', { id: 0 }));
    else if (k === 7) out.push(buildQuery(`hl${h}.ns${h % 20}.svc.cluster.local`, 'A', { id: 0 }));
    else if (k === 8) out.push(buildQuery(`_http._tcp.hl${h}.ns${h % 20}.svc.cluster.local`, 'SRV', { id: 0 }));
    else out.push(buildQuery(`nope${s}.ns${s % 20}.svc.cluster.local`, 'A', { id: 0 }));
  }
  return out;
}

/** Child process: `dns` serves with the agent's code; `echo` sends back the precomputed answer to each query. */
async function serve(kind: string): Promise<void> {
  const view = benchView();
  if (kind === 'dns') {
    const srv = await startDnsServer({ addresses: ['127.0.0.1'], port: 0, view, zone: ZONE, log: logger('bench-dns') });
    process.send!({ port: srv.port });
    return;
  }
  // Keyed by the query bytes after the id: the same answers the DNS child sends, without the work.
  const canned = new Map<string, Buffer>();
  for (const q of queries(1000)) canned.set(q.subarray(2).toString('latin1'), answerQuery(q, view, ZONE, 'udp')!);
  const sock = createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    const a = canned.get(msg.subarray(2).toString('latin1'));
    if (!a) return;
    const out = Buffer.from(a);
    msg.copy(out, 0, 0, 2);
    sock.send(out, rinfo.port, rinfo.address);
  });
  sock.bind(0, '127.0.0.1', () => process.send!({ port: sock.address().port }));
}

function spawnServer(kind: string): Promise<{ child: ChildProcess; port: number }> {
  // Both servers run as the agent runs (its node flags and environment).
  const child = fork(fileURLToPath(import.meta.url), ['--serve', kind], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [...process.execArgv, ...AGENT_NODE_FLAGS],
    env: { ...process.env, ...AGENT_ENV, SKIFF_LOG_LEVEL: 'warn' },
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve({ child, port: (m as { port: number }).port }));
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
}

interface LoadResult {
  qps: number;
  lat: number[];
  lost: number;
  rcodes: Record<string, number>;
}

/** Closed loop over one UDP socket, ids multiplexing `inFlight` outstanding queries; each answer is decoded. */
function load(host: string, port: number, msgs: Buffer[], total: number, inFlight = IN_FLIGHT): Promise<LoadResult> {
  const sock = createSocket('udp4');
  const pending = new Map<number, { t: number; timer: NodeJS.Timeout }>();
  const lat: number[] = [];
  const rcodes: Record<string, number> = {};
  let sent = 0;
  let done = 0;
  let lost = 0;
  let nextId = 1;
  const start = performance.now();
  const deadline = start + MAX_SECONDS * 1000;
  let closed = false;
  return new Promise((resolve) => {
    const finish = (): void => {
      if (closed || done < sent || pending.size) return;
      closed = true;
      sock.close();
      resolve({ qps: lat.length / ((performance.now() - start) / 1000), lat, lost, rcodes });
    };
    const sendOne = (): void => {
      if (sent >= total || performance.now() > deadline) return finish();
      const id = nextId;
      nextId = (nextId % 65535) + 1;
      const q = Buffer.from(msgs[sent % msgs.length]);
      q.writeUInt16BE(id, 0);
      sent++;
      const timer = setTimeout(() => {
        pending.delete(id);
        lost++;
        done++;
        sendOne();
      }, 1000);
      pending.set(id, { t: performance.now(), timer });
      sock.send(q, port, host);
    };
    sock.on('message', (b) => {
      const id = b.readUInt16BE(0);
      const p = pending.get(id);
      if (!p) return;
      clearTimeout(p.timer);
      pending.delete(id);
      const r = dnsPacket.decode(b) as { rcode?: string };
      rcodes[r.rcode ?? '?'] = (rcodes[r.rcode ?? '?'] ?? 0) + 1;
      lat.push(performance.now() - p.t);
      done++;
      sendOne();
    });
    sock.bind(0, '127.0.0.1', () => {
      for (let i = 0; i < inFlight; i++) sendOne();
    });
  });
}

function codec(msgs: Buffer[], total: number): number {
  const view = benchView();
  for (let i = 0; i < 5000; i++) answerQuery(msgs[i % msgs.length], view, ZONE, 'udp');
  const t = performance.now();
  for (let i = 0; i < total; i++) answerQuery(msgs[i % msgs.length], view, ZONE, 'udp');
  return total / ((performance.now() - t) / 1000);
}

async function main(): Promise<void> {
  const msgs = queries(1000);
  const rows: Row[] = [];
  const dns = await spawnServer('dns');
  const echo = await spawnServer('echo');
  try {
    // Warm both (JIT, socket buffers), then alternate halves so host noise hits both alike.
    await load('127.0.0.1', dns.port, msgs, 3000);
    await load('127.0.0.1', echo.port, msgs, 3000);
    const runs: Record<'dSeq' | 'eSeq' | 'dPar' | 'ePar', LoadResult[]> = { dSeq: [], eSeq: [], dPar: [], ePar: [] };
    for (let i = 0; i < 2; i++) {
      runs.dSeq.push(await load('127.0.0.1', dns.port, msgs, SEQUENTIAL / 2, 1));
      runs.eSeq.push(await load('127.0.0.1', echo.port, msgs, SEQUENTIAL / 2, 1));
      runs.dPar.push(await load('127.0.0.1', dns.port, msgs, TOTAL / 2));
      runs.ePar.push(await load('127.0.0.1', echo.port, msgs, TOTAL / 2));
    }
    const merge = (rs: LoadResult[]): LoadResult => ({
      qps: rs.reduce((a, r) => a + r.qps, 0) / rs.length,
      lat: rs.flatMap((r) => r.lat),
      lost: rs.reduce((a, r) => a + r.lost, 0),
      rcodes: rs.reduce((a, r) => { for (const [k, v] of Object.entries(r.rcodes)) a[k] = (a[k] ?? 0) + v; return a; }, {} as Record<string, number>),
    });
    const [dSeq, eSeq, dPar, ePar] = [merge(runs.dSeq), merge(runs.eSeq), merge(runs.dPar), merge(runs.ePar)];
    const what = `${SERVICES + HEADLESS} services`;
    rows.push({ name: `agent DNS server, ${what}, 1 in flight`, value: dSeq.qps, unit: 'queries/s', p50: percentile(dSeq.lat, 50), p99: percentile(dSeq.lat, 99), ratio: percentile(dSeq.lat, 50) / percentile(eSeq.lat, 50), goal: 'p50 vs floor p50' });
    rows.push({ name: 'floor: UDP responder, precomputed answers, 1 in flight', value: eSeq.qps, unit: 'queries/s', p50: percentile(eSeq.lat, 50), p99: percentile(eSeq.lat, 99) });
    rows.push({ name: `agent DNS server, ${what}, ${IN_FLIGHT} in flight`, value: dPar.qps, unit: 'queries/s', p50: percentile(dPar.lat, 50), p99: percentile(dPar.lat, 99), ratio: dPar.qps / ePar.qps, goal: 'queries/s vs floor' });
    rows.push({ name: `floor: UDP responder, precomputed answers, ${IN_FLIGHT} in flight`, value: ePar.qps, unit: 'queries/s', p50: percentile(ePar.lat, 50), p99: percentile(ePar.lat, 99) });
    rows.push({ name: 'answerQuery in-process (decode, resolve, encode)', value: codec(msgs, TOTAL), unit: 'queries/s' });
    console.log(`answers: ${JSON.stringify(dPar.rcodes)}; lost: ${dSeq.lost + dPar.lost} (server), ${eSeq.lost + ePar.lost} (floor)`);
    const target = process.argv[process.argv.indexOf('--server') + 1];
    if (process.argv.includes('--server') && target) {
      const [host, p] = target.split(':');
      const q = [buildQuery('kubernetes.default.svc.cluster.local', 'A', { id: 0 })];
      await load(host, Number(p), q, 500);
      const a = await load(host, Number(p), q, TOTAL / 2);
      rows.push({ name: `running agent at ${target}: kubernetes.default A, ${IN_FLIGHT} in flight`, value: a.qps, unit: 'queries/s', p50: percentile(a.lat, 50), p99: percentile(a.lat, 99), ratio: a.qps / ePar.qps });
    }
  } finally {
    dns.child.kill();
    echo.child.kill();
  }
  printRows(`Cluster DNS over UDP on 127.0.0.1 (${SEQUENTIAL} sequential and ${TOTAL} concurrent queries each)`, rows);
}

if (process.argv[2] === '--serve') void serve(process.argv[3]);
else await main();
