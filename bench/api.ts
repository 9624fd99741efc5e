/**
 * API server benchmark: create, get, list (1,000 and 10,000 objects) and watch
 * fan-out (100 watchers) through HTTPS against a real `skiff server` process,
 * each printed next to its floor measured in the same run: the same operations
 * on the store layer alone (same SQLite settings, no HTTP).
 *
 * Run: node dist/bench/api.js [--quick]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'node:https';
import { SqliteStore } from '../controlplane/store/sqlite.js';
import { API_ONLY, removeDir, startServer, type ServerProc } from '../test/harness.js';
import { drive, percentile, printRows, type Row } from './report.js';

const quick = process.argv.includes('--quick');
const CONCURRENCY = 50;
const CREATES = quick ? 1000 : 5000;

function configMap(ns: string, name: string): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns, labels: { bench: 'api' } }, data: { key: 'x'.repeat(200) } });
}


/** Issues `total` operations at a fixed rate (open loop), returning latencies. */
async function paced(total: number, perSecond: number, op: (i: number) => Promise<void>): Promise<number[]> {
  const lat: number[] = [];
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t = performance.now();
    pending.push(op(i).then(() => void lat.push(performance.now() - t)));
  }
  await Promise.all(pending);
  return lat;
}

class Client {
  private readonly agent: Agent;
  constructor(private readonly s: ServerProc) {
    this.agent = new Agent({ ca: s.ca, keepAlive: true, maxSockets: CONCURRENCY + 10 });
  }

  call(method: string, path: string, body?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: this.s.port, method, path, agent: this.agent, servername: 'localhost', headers: { authorization: `Bearer ${this.s.token}`, 'content-type': 'application/json' } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            if ((res.statusCode ?? 500) >= 300) reject(new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 200)}`));
            else resolve(text);
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Opens a watch and calls onLine for each event line; resolves once headers arrived. */
  watch(path: string, onLine: (line: string) => void): Promise<() => void> {
    return new Promise((resolve, reject) => {
      const agent = new Agent({ ca: this.s.ca, keepAlive: false });
      const req = request({ host: '127.0.0.1', port: this.s.port, path, agent, servername: 'localhost', headers: { authorization: `Bearer ${this.s.token}` } }, (res) => {
        let buf = '';
        res.on('data', (c) => {
          buf += c;
          let i;
          while ((i = buf.indexOf('\n')) >= 0) {
            onLine(buf.slice(0, i));
            buf = buf.slice(i + 1);
          }
        });
        res.on('error', () => undefined);
        resolve(() => req.destroy());
      });
      req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

async function storeFloor(rows: Row[]): Promise<{ createPerSec: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-store-'));
  const store = SqliteStore.open(join(dir, 'state.db'));
  try {
    const c = await drive(CREATES, CONCURRENCY, async (i) => {
      const r = await store.create(`/registry/configmaps/bench/cm-${i}`, configMap('bench', `cm-${i}`));
      if (!r.ok) throw new Error('store create failed');
    });
    const createPerSec = CREATES / c.seconds;
    rows.push({ name: 'store create (floor)', value: createPerSec, unit: 'ops/s', p50: percentile(c.lat, 50), p99: percentile(c.lat, 99) });
    const g = await drive(CREATES, CONCURRENCY, async (i) => {
      await store.get(`/registry/configmaps/bench/cm-${i % CREATES}`);
    });
    rows.push({ name: 'store get (floor)', value: CREATES / g.seconds, unit: 'ops/s', p50: percentile(g.lat, 50), p99: percentile(g.lat, 99) });
    for (const n of quick ? [1000] : [1000, 10000]) {
      const prefix = `/registry/configmaps/list${n}/`;
      await drive(n, CONCURRENCY, async (i) => void (await store.create(`${prefix}cm-${i}`, configMap(`list${n}`, `cm-${i}`))));
      const l = await drive(10, 1, async () => {
        const res = await store.list(prefix);
        // The API decodes every value; the floor does the same work on the data.
        for (const kv of res.items) JSON.parse(kv.value);
      });
      rows.push({ name: `store list ${n} (floor)`, value: 10 / l.seconds, unit: 'lists/s', p50: percentile(l.lat, 50), p99: percentile(l.lat, 99) });
    }
    return { createPerSec };
  } finally {
    await store.close();
    removeDir(dir);
  }
}

async function apiBench(s: ServerProc, rows: Row[], floor: { createPerSec: number }): Promise<void> {
  const c = new Client(s);
  try {
    await c.call('POST', '/api/v1/namespaces', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } }));
    const cr = await drive(CREATES, CONCURRENCY, (i) => c.call('POST', '/api/v1/namespaces/bench/configmaps', configMap('bench', `cm-${i}`)).then(() => undefined));
    const createPerSec = CREATES / cr.seconds;
    rows.push({ name: 'API create', value: createPerSec, unit: 'ops/s', p50: percentile(cr.lat, 50), p99: percentile(cr.lat, 99), ratio: createPerSec / floor.createPerSec, goal: '>= 0.5x store floor' });

    const rate = 500;
    const pacedN = quick ? 1000 : 2500;
    const pl = await paced(pacedN, rate, (i) => c.call('POST', '/api/v1/namespaces/bench/configmaps', configMap('bench', `paced-${i}`)).then(() => undefined));
    rows.push({ name: `API create at ${rate}/s (p99 goal < 20 ms)`, value: rate, unit: 'ops/s', p50: percentile(pl, 50), p99: percentile(pl, 99), goal: 'p99 < 20 ms' });

    const gt = await drive(CREATES, CONCURRENCY, (i) => c.call('GET', `/api/v1/namespaces/bench/configmaps/cm-${i % CREATES}`).then(() => undefined));
    rows.push({ name: 'API get', value: CREATES / gt.seconds, unit: 'ops/s', p50: percentile(gt.lat, 50), p99: percentile(gt.lat, 99) });

    for (const n of quick ? [1000] : [1000, 10000]) {
      const ns = `list${n}`;
      await c.call('POST', '/api/v1/namespaces', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }));
      await drive(n, CONCURRENCY, (i) => c.call('POST', `/api/v1/namespaces/${ns}/configmaps`, configMap(ns, `cm-${i}`)).then(() => undefined));
      const l = await drive(10, 1, async () => {
        const body = await c.call('GET', `/api/v1/namespaces/${ns}/configmaps`);
        if (JSON.parse(body).items.length !== n) throw new Error('short list');
      });
      rows.push({ name: `API list ${n}`, value: 10 / l.seconds, unit: 'lists/s', p50: percentile(l.lat, 50), p99: percentile(l.lat, 99) });
    }

    // Watch fan-out: 100 watchers, each event's delivery latency to all of them.
    const watchers = 100;
    const events = quick ? 200 : 500;
    const created = new Map<string, number>();
    const seen = new Map<string, number>();
    const lat: number[] = [];
    let delivered = 0;
    const stops: (() => void)[] = [];
    let resolveAll: () => void = () => undefined;
    const allDone = new Promise<void>((r) => (resolveAll = r));
    await c.call('POST', '/api/v1/namespaces', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'fanout' } }));
    const rv = JSON.parse(await c.call('GET', '/api/v1/namespaces/fanout/configmaps')).metadata.resourceVersion;
    for (let w = 0; w < watchers; w++) {
      stops.push(
        await c.watch(`/api/v1/namespaces/fanout/configmaps?watch=true&resourceVersion=${rv}`, (line) => {
          const ev = JSON.parse(line);
          const name = ev.object?.metadata?.name as string;
          delivered++;
          const n = (seen.get(name) ?? 0) + 1;
          seen.set(name, n);
          if (n === watchers) {
            lat.push(performance.now() - (created.get(name) ?? performance.now()));
            if (lat.length === events) resolveAll();
          }
        }),
      );
    }
    const t0 = performance.now();
    await drive(events, 10, async (i) => {
      created.set(`w-${i}`, performance.now());
      await c.call('POST', '/api/v1/namespaces/fanout/configmaps', configMap('fanout', `w-${i}`));
    });
    await Promise.race([allDone, new Promise((_, rej) => setTimeout(() => rej(new Error(`watch fan-out incomplete: ${lat.length}/${events}`)), 60_000))]);
    const secs = (performance.now() - t0) / 1000;
    stops.forEach((s) => s());
    rows.push({ name: `watch fan-out (${watchers} watchers, ${events} events)`, value: delivered / secs, unit: 'events/s delivered', p50: percentile(lat, 50), p99: percentile(lat, 99), goal: 'latency to the last watcher' });
  } finally {
    c.close();
  }
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const floor = await storeFloor(rows);
  const s = await startServer({ extraArgs: [...API_ONLY, '--log-level', 'error'] });
  try {
    await apiBench(s, rows, floor);
  } finally {
    await s.stop();
    removeDir(s.dataDir);
  }
  printRows('API server vs raw store (same run, this machine)', rows);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
