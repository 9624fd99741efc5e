import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logger } from '../../common/log.js';
import { FakeClock } from './clock.js';
import { FakeApi, fakeSources, type FakeSource } from './fakes.js';
import { BY_NODE, indexByNode } from './indexes.js';
import { InformerFactory, type SourceFactory } from './informer.js';
import type { Obj } from './objects.js';
import { PODS, pathFor } from './resources.js';
import { Indexer } from './store.js';

const pod = (ns: string, name: string, node?: string, rv = '1'): Obj => ({ metadata: { namespace: ns, name, uid: `${ns}-${name}`, resourceVersion: rv }, spec: node ? { nodeName: node } : {} });
const log = logger('test');
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('Indexer keeps indexes in step with upserts and removals', () => {
  const ix = new Indexer();
  ix.addIndex('node', (o) => (o.spec?.nodeName ? [o.spec.nodeName] : []));
  ix.upsert(pod('a', 'p1', 'n1'));
  ix.upsert(pod('b', 'p2', 'n1'));
  ix.upsert(pod('a', 'p3'));
  assert.deepEqual(ix.byIndex('node', 'n1').map((o) => o.metadata.name).sort(), ['p1', 'p2']);
  assert.deepEqual(ix.list('a').map((o) => o.metadata.name).sort(), ['p1', 'p3']);
  const old = ix.upsert(pod('a', 'p1', 'n2', '2'));
  assert.equal(old?.spec.nodeName, 'n1');
  assert.deepEqual(ix.byIndex('node', 'n1').map((o) => o.metadata.name), ['p2']);
  assert.deepEqual(ix.byIndex('node', 'n2').map((o) => o.metadata.name), ['p1']);
  ix.remove(pod('b', 'p2'));
  assert.deepEqual(ix.byIndex('node', 'n1'), []);
  assert.deepEqual(ix.indexValues('node'), ['n2']);
  assert.equal(ix.get('a', 'p3')?.metadata.name, 'p3');
  assert.equal(ix.size, 2);
  // An index added later covers what is already stored.
  ix.addIndex('ns', (o) => [o.metadata.namespace]);
  assert.equal(ix.byIndex('ns', 'a').length, 2);
  assert.throws(() => ix.addIndex('ns', () => []));
});

test('one shared informer per resource: synced after the first list, handlers get the old object', async () => {
  const api = new FakeApi();
  api.objects.set(`${pathFor(PODS, 'default')}/p1`, pod('default', 'p1', 'n1'));
  const { factory, sources } = fakeSources();
  // Lists go to the cluster-wide path; FakeApi only knows namespaced paths, so answer by hand.
  api.list = async () => ({ items: [pod('default', 'p1', 'n1')], metadata: { resourceVersion: '1' } });
  const f = new InformerFactory({ api, log, source: factory, clock: new FakeClock() });
  const a = f.forKind(PODS);
  const b = f.forKind(PODS);
  assert.equal(a, b, 'the same informer for the same resource');
  indexByNode(a);
  indexByNode(b);
  const events: string[] = [];
  a.addEventHandler({
    add: (o) => events.push(`add ${o.metadata.name}`),
    update: (old, o) => events.push(`update ${o.metadata.name} ${old.spec.nodeName}->${o.spec.nodeName}`),
    delete: (o) => events.push(`delete ${o.metadata.name}`),
  });
  assert.equal(a.hasSynced(), false);
  f.start();
  await f.waitForSync();
  assert.equal(a.hasSynced(), true);
  assert.deepEqual(events, ['add p1']);
  const src = sources.get('/api/v1/pods')!;
  src.emit('update', pod('default', 'p1', 'n2', '2'));
  src.emit('add', pod('default', 'p2', 'n2'));
  src.emit('delete', pod('default', 'p1', 'n2', '3'));
  assert.deepEqual(events, ['add p1', 'update p1 n1->n2', 'add p2', 'delete p1']);
  assert.deepEqual(a.byIndex(BY_NODE, 'n2').map((o) => o.metadata.name), ['p2']);

  // A handler added after start replays the cache as adds.
  const late: string[] = [];
  a.addEventHandler({ add: (o) => late.push(o.metadata.name) });
  assert.deepEqual(late, ['p2']);
  await f.stop();
});

test('an informer that fails restarts with backoff and syncs then', async () => {
  const clock = new FakeClock();
  const api = new FakeApi();
  api.list = async () => ({ items: [], metadata: { resourceVersion: '1' } });
  const { factory, sources } = fakeSources();
  // The first start fails the way client-node does: an error event, no list.
  const failing: SourceFactory = (path, list) => {
    const src = factory(path, list) as FakeSource;
    src.failNextStart = true;
    return src;
  };
  const f = new InformerFactory({ api, log, source: failing, clock });
  const inf = f.forKind(PODS);
  let synced = false;
  void inf.whenSynced().then(() => (synced = true));
  inf.start();
  await tick();
  assert.equal(synced, false);
  assert.equal(sources.get('/api/v1/pods')!.started, 1);
  clock.advance(199);
  await tick();
  assert.equal(sources.get('/api/v1/pods')!.started, 1, 'not before the backoff');
  clock.advance(1);
  await tick();
  await tick();
  assert.equal(sources.get('/api/v1/pods')!.started, 2);
  assert.equal(synced, true);
  await f.stop();
});

test('waitForSync gives up when aborted', async () => {
  const api = new FakeApi();
  api.list = () => new Promise(() => undefined);
  const { factory } = fakeSources();
  const f = new InformerFactory({ api, log, source: factory });
  f.forKind(PODS);
  f.start();
  const ac = new AbortController();
  const p = f.waitForSync(ac.signal);
  ac.abort();
  await assert.rejects(p, /aborted/);
});

test('an informer whose start rejects (the server is down) keeps retrying with backoff', async () => {
  const clock = new FakeClock();
  const api = new FakeApi();
  let up = false;
  let lists = 0;
  api.list = async () => {
    lists++;
    if (!up) throw new Error('connect ECONNREFUSED');
    return { items: [pod('default', 'p1')], metadata: { resourceVersion: '5' } };
  };
  // A source whose start() lists and rejects when the list fails, as ApiListWatch does.
  const rejecting: SourceFactory = (_path, list) => ({
    on() {},
    async start() {
      await list();
    },
    async stop() {},
  });
  const f = new InformerFactory({ api, log, source: rejecting, clock });
  const inf = f.forKind(PODS);
  let synced = false;
  void inf.whenSynced().then(() => (synced = true));
  inf.start();
  await tick();
  assert.equal(lists, 1);
  clock.advance(200);
  await tick();
  assert.equal(lists, 2, 'retried after 200 ms');
  clock.advance(400);
  await tick();
  assert.equal(lists, 3, 'and again after 400 ms');
  up = true;
  clock.advance(800);
  await tick();
  await tick();
  assert.equal(lists, 4);
  assert.equal(synced, true, 'synced once the server answers');
  await f.stop();
});
