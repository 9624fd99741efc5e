import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logger } from '../../common/log.js';
import { FakeClock } from './clock.js';
import { EXPECTATIONS_TTL_MS } from './expectations.js';
import { FakeApi, fakeSources, type FakeSource } from './fakes.js';
import { InformerFactory } from './informer.js';
import type { Obj } from './objects.js';
import { ReplicaSetController } from './replicaset.js';

const RS_PATH = '/apis/apps/v1/namespaces/default/replicasets/web';

function replicaSet(replicas: number): Obj {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: 'web', namespace: 'default', uid: 'rs-uid', resourceVersion: '1', generation: 1 },
    spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } },
  };
}

function pod(name: string, opts: { owned?: boolean; node?: string; ready?: boolean } = {}): Obj {
  return {
    metadata: {
      name,
      namespace: 'default',
      uid: `uid-${name}`,
      resourceVersion: '5',
      labels: { app: 'web' },
      creationTimestamp: '2025-01-01T00:00:00Z',
      ...(opts.owned === false ? {} : { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'rs-uid', controller: true, blockOwnerDeletion: true }] }),
    },
    spec: opts.node ? { nodeName: opts.node } : {},
    status: { phase: opts.node ? 'Running' : 'Pending', conditions: [{ type: 'Ready', status: opts.ready ? 'True' : 'False' }] },
  };
}

async function setup(rs: Obj, pods: Obj[]) {
  const api = new FakeApi();
  api.objects.set(RS_PATH, rs);
  for (const p of pods) api.objects.set(`/api/v1/namespaces/default/pods/${p.metadata.name}`, p);
  const listed: Record<string, Obj[]> = { '/apis/apps/v1/replicasets': [rs], '/api/v1/pods': pods };
  const realList = api.list.bind(api);
  api.list = async (path: string) => (listed[path] ? { items: listed[path], metadata: { resourceVersion: '1' } } : realList(path));
  const { factory, sources } = fakeSources();
  const clock = new FakeClock();
  const informers = new InformerFactory({ api, log: logger('test'), source: factory, clock });
  const ctl = new ReplicaSetController({ api, informers, clock, log: logger('test') });
  informers.start();
  await informers.waitForSync();
  const podSource = sources.get('/api/v1/pods') as FakeSource;
  return { api, ctl, clock, podSource };
}

test('a cache that has not seen its own creates yet never causes a second round', async () => {
  const { api, ctl, clock, podSource } = await setup(replicaSet(3), []);
  await ctl.sync('default/web');
  const creates = api.made('create', '/api/v1/namespaces/default/pods');
  assert.equal(creates.length, 3);
  const body = creates[0].body as Obj;
  assert.equal(body.metadata.generateName, 'web-');
  assert.deepEqual(body.metadata.labels, { app: 'web' });
  assert.deepEqual(body.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'rs-uid', controller: true, blockOwnerDeletion: true }]);

  await ctl.sync('default/web');
  assert.equal(api.made('create').length, 3, 'expectations hold back a second round');
  const created = [...api.objects.entries()].filter(([p]) => p.startsWith('/api/v1/namespaces/default/pods/')).map(([, o]) => o);
  podSource.emit('add', created[0]);
  podSource.emit('add', created[1]);
  await ctl.sync('default/web');
  assert.equal(api.made('create').length, 3, 'one creation still unobserved');
  assert.deepEqual(ctl.expectations.pending('default/web'), { adds: 1, deletes: 0 });

  // A lost event must not wedge the set forever: after the TTL it acts on the cache.
  clock.advance(EXPECTATIONS_TTL_MS + 1);
  await ctl.sync('default/web');
  assert.equal(api.made('create').length, 4);
  const status = api.made('update', `${RS_PATH}/status`).at(-1)!.body as Obj;
  assert.equal(status.status.replicas, 2);
  assert.equal(status.status.observedGeneration, 1);
});

test('scaling down deletes unscheduled and unready pods first, and waits to see the deletions', async () => {
  const pods = [pod('ready', { node: 'n1', ready: true }), pod('unready', { node: 'n1' }), pod('unscheduled')];
  const { api, ctl, podSource } = await setup(replicaSet(1), pods);
  await ctl.sync('default/web');
  assert.deepEqual(api.made('delete').map((c) => c.path.split('/').pop()).sort(), ['unready', 'unscheduled']);
  await ctl.sync('default/web');
  assert.equal(api.made('delete').length, 2, 'no second round before the deletions are seen');
  podSource.emit('delete', pods[1]);
  podSource.emit('delete', pods[2]);
  assert.equal(ctl.expectations.satisfied('default/web'), true);
});

test('adopts a matching orphan and releases an owned pod that stopped matching', async () => {
  const orphan = pod('orphan', { owned: false, node: 'n1', ready: true });
  const stray = { ...pod('stray', { node: 'n1', ready: true }), metadata: { ...pod('stray').metadata, labels: { app: 'other' } } };
  const { api, ctl } = await setup(replicaSet(1), [orphan, stray]);
  await ctl.sync('default/web');
  const patches = api.made('patch');
  const adopt = patches.find((p) => p.path.endsWith('/orphan'))!.body as Obj;
  assert.equal(adopt.metadata.ownerReferences[0].uid, 'rs-uid');
  assert.equal(adopt.metadata.resourceVersion, '5', 'pinned to what was decided on');
  const release = patches.find((p) => p.path.endsWith('/stray'))!.body as Obj;
  assert.equal(release.metadata.ownerReferences, null);
  assert.equal(api.made('create').length, 0, 'the adopted pod fills the one replica');
  assert.ok(api.made('get', RS_PATH).length === 1, 'the owner was checked live before adopting');
});
