import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logger } from '../../common/log.js';
import { FakeClock, rfc3339 } from './clock.js';
import { FakeApi, fakeSources, type FakeSource } from './fakes.js';
import { InformerFactory } from './informer.js';
import { NodeLifecycleController } from './nodelifecycle.js';
import type { Obj } from './objects.js';

const NODE_PATH = '/api/v1/nodes/n1';

function setupObjects(t0: number): { node: Obj; lease: Obj; pods: Obj[] } {
  const node = {
    metadata: { name: 'n1', uid: 'n1', resourceVersion: '1' },
    spec: {},
    status: { conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: rfc3339(t0), lastTransitionTime: rfc3339(t0) }] },
  };
  const lease = { metadata: { name: 'n1', namespace: 'kube-node-lease', resourceVersion: '1' }, spec: { renewTime: rfc3339(t0) } };
  const pod = (name: string, tolerations: Obj[]): Obj => ({
    metadata: { name, namespace: 'default', uid: `u-${name}`, resourceVersion: '1' },
    spec: { nodeName: 'n1', tolerations },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  });
  const pods = [
    pod('patient', [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 10 }]),
    pod('intolerant', []),
    pod('forever', [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' }]),
  ];
  return { node, lease, pods };
}

test('a silent node goes Unknown after the grace period, is tainted, and its pods are evicted on time', async () => {
  const clock = new FakeClock();
  const t0 = clock.now();
  const { node, lease, pods } = setupObjects(t0);
  const api = new FakeApi();
  api.objects.set(NODE_PATH, node);
  const lists: Record<string, Obj[]> = { '/api/v1/nodes': [node], '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases': [lease], '/api/v1/pods': pods };
  api.list = async (path: string) => ({ items: lists[path] ?? [], metadata: { resourceVersion: '1' } });
  for (const p of pods) api.objects.set(`/api/v1/namespaces/default/pods/${p.metadata.name}`, p);
  const { factory, sources } = fakeSources();
  const informers = new InformerFactory({ api, log: logger('test'), source: factory, clock });
  const ctl = new NodeLifecycleController({ api, informers, clock, log: logger('test') }, { gracePeriodSeconds: 40 });
  informers.start();
  await informers.waitForSync();
  const leases = sources.get('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases') as FakeSource;
  const nodes = sources.get('/api/v1/nodes') as FakeSource;
  const podSrc = sources.get('/api/v1/pods') as FakeSource;
  const seeNode = (): void => nodes.emit('update', api.objects.get(NODE_PATH));

  await ctl.sync('n1');
  assert.equal(api.calls.filter((c) => c.verb !== 'list').length, 0, 'healthy: nothing to write');

  // Renewals within the grace period keep it healthy.
  clock.advance(30_000);
  leases.emit('update', { ...lease, metadata: { ...lease.metadata, resourceVersion: '2' }, spec: { renewTime: rfc3339(clock.now()) } });
  await ctl.sync('n1');
  clock.advance(30_000);
  await ctl.sync('n1');
  assert.equal(api.made('update').length, 0, '30 s since the last renewal: still fine');

  clock.advance(11_000);
  await ctl.sync('n1');
  const status = api.made('update', `${NODE_PATH}/status`)[0].body as Obj;
  const ready = status.status.conditions.find((c: Obj) => c.type === 'Ready');
  assert.deepEqual([ready.status, ready.reason, ready.message], ['Unknown', 'NodeStatusUnknown', 'Kubelet stopped posting node status.']);
  const taints = (api.made('patch', NODE_PATH)[0].body as Obj).spec.taints;
  assert.deepEqual(taints.map((t: Obj) => `${t.key}:${t.effect}`), ['node.kubernetes.io/unreachable:NoSchedule', 'node.kubernetes.io/unreachable:NoExecute']);
  assert.equal(taints[1].timeAdded, rfc3339(clock.now()));
  // Pods are marked not ready; the one without a toleration goes at once.
  assert.equal(api.made('patch', '/api/v1/namespaces/default/pods/').filter((c) => c.path.endsWith('/status')).length, 3);
  assert.deepEqual(api.made('delete').map((c) => c.path.split('/').pop()), ['intolerant']);

  seeNode();
  podSrc.emit('delete', pods[1]);
  clock.advance(9_000);
  await ctl.sync('n1');
  assert.equal(api.made('delete').length, 1, 'tolerationSeconds not yet over');
  clock.advance(1_000);
  await ctl.sync('n1');
  assert.deepEqual(api.made('delete').map((c) => c.path.split('/').pop()), ['intolerant', 'patient'], 'evicted after 10 s; the unbounded toleration stays');

  // The kubelet returns: Ready=True again, and the taints come off.
  const back = structuredClone(api.objects.get(NODE_PATH)!);
  back.status.conditions = [{ type: 'Ready', status: 'True', lastHeartbeatTime: rfc3339(clock.now()) }];
  back.metadata.resourceVersion = '99';
  api.objects.set(NODE_PATH, back);
  seeNode();
  await ctl.sync('n1');
  assert.equal((api.made('patch', NODE_PATH).at(-1)!.body as Obj).spec.taints, null);
});
