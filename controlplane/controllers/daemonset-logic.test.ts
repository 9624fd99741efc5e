import { test } from 'node:test';
import assert from 'node:assert/strict';
import { daemonPod, daemonSetHash, daemonSetStatus, nodeOfPod, nodeShouldRunDaemonPod, planNodes, rollingUpdateDeletions } from './daemonset-logic.js';
import type { Obj } from './objects.js';

const node = (name: string, labels: Obj = {}, taints: Obj[] = []): Obj => ({ metadata: { name, labels }, spec: { taints } });
const ds = (extra: Obj = {}): Obj => ({
  metadata: { name: 'agent', namespace: 'kube-system', uid: 'ds1', generation: 3 },
  spec: {
    selector: { matchLabels: { app: 'agent' } },
    template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'c', image: 'i:1' }], ...extra } },
    updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
  },
});
const pod = (name: string, nodeName: string, hash: string, opts: { ready?: boolean; phase?: string; created?: string; deleting?: boolean } = {}): Obj => ({
  metadata: { name, creationTimestamp: opts.created ?? '2025-01-01T00:00:00Z', labels: { app: 'agent', 'controller-revision-hash': hash }, ...(opts.deleting ? { deletionTimestamp: 'x' } : {}) },
  spec: { nodeName },
  status: { phase: opts.phase ?? 'Running', conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True', lastTransitionTime: '2025-01-01T00:00:00Z' }] },
});
const byNode = (pods: Obj[]): Map<string, Obj[]> => {
  const m = new Map<string, Obj[]>();
  for (const p of pods) m.set(p.spec.nodeName, [...(m.get(p.spec.nodeName) ?? []), p]);
  return m;
};

test('eligibility: selector, affinity, taints against template and daemon tolerations', () => {
  const d = ds({ nodeSelector: { role: 'worker' } });
  assert.deepEqual(nodeShouldRunDaemonPod(node('n', { role: 'worker' }), d), { shouldRun: true, shouldContinueRunning: true });
  assert.deepEqual(nodeShouldRunDaemonPod(node('n', { role: 'db' }), d), { shouldRun: false, shouldContinueRunning: false });
  // Daemons tolerate node trouble by default...
  const troubled = node('n', { role: 'worker' }, [
    { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' },
    { key: 'node.kubernetes.io/disk-pressure', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' },
  ]);
  assert.equal(nodeShouldRunDaemonPod(troubled, d).shouldRun, true);
  // ...but not a user's NoSchedule taint; a running pod may stay, a NoExecute one evicts.
  assert.deepEqual(nodeShouldRunDaemonPod(node('n', { role: 'worker' }, [{ key: 'dedicated', effect: 'NoSchedule' }]), d), { shouldRun: false, shouldContinueRunning: true });
  assert.deepEqual(nodeShouldRunDaemonPod(node('n', { role: 'worker' }, [{ key: 'dedicated', effect: 'NoExecute' }]), d), { shouldRun: false, shouldContinueRunning: false });
  const tolerant = ds({ tolerations: [{ key: 'dedicated', operator: 'Exists' }] });
  assert.equal(nodeShouldRunDaemonPod(node('n', {}, [{ key: 'dedicated', effect: 'NoExecute' }]), tolerant).shouldRun, true);
  const pinned = ds({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }] } } } });
  assert.equal(nodeShouldRunDaemonPod(node('n', { zone: 'b' }), pinned).shouldRun, false);
});

test('the daemon pod is pinned by node affinity and carries the revision hash and tolerations', () => {
  const d = ds({ hostNetwork: true });
  const p = daemonPod(d, 'n1', 'h1');
  assert.equal(p.spec.nodeName, undefined, 'the scheduler binds it');
  assert.deepEqual(p.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution, { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] }] });
  assert.equal(nodeOfPod(p), 'n1');
  assert.deepEqual(p.metadata.labels, { app: 'agent', 'controller-revision-hash': 'h1', 'pod-template-generation': '3' });
  assert.deepEqual(p.metadata.ownerReferences[0], { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: 'ds1', controller: true, blockOwnerDeletion: true });
  const keys = p.spec.tolerations.map((t: Obj) => `${t.key}:${t.effect}`);
  for (const k of ['node.kubernetes.io/not-ready:NoExecute', 'node.kubernetes.io/unreachable:NoExecute', 'node.kubernetes.io/memory-pressure:NoSchedule', 'node.kubernetes.io/pid-pressure:NoSchedule', 'node.kubernetes.io/network-unavailable:NoSchedule']) {
    assert.ok(keys.includes(k), k);
  }
  assert.ok(p.spec.tolerations.every((t: Obj) => t.tolerationSeconds === undefined));
  assert.notEqual(daemonSetHash(d), daemonSetHash(ds()));
});

test('per-node plan: create where missing, drop failed, duplicates and misplaced pods', () => {
  const d = ds({ nodeSelector: { role: 'worker' } });
  const nodes = [node('a', { role: 'worker' }), node('b', { role: 'worker' }), node('c', { role: 'db' }), node('d', { role: 'worker' })];
  const pods = [
    pod('a-old', 'a', 'h', { created: '2025-01-01T00:00:00Z' }),
    pod('a-dup', 'a', 'h', { created: '2025-01-02T00:00:00Z' }),
    pod('c-1', 'c', 'h'),
    pod('d-failed', 'd', 'h', { phase: 'Failed' }),
    pod('gone-1', 'gone', 'h'),
  ];
  const plan = planNodes(d, nodes, byNode(pods));
  assert.deepEqual(plan.create, ['b']);
  assert.deepEqual(plan.delete.map((p) => p.metadata.name).sort(), ['a-dup', 'c-1', 'd-failed', 'gone-1']);
  // A node with a pod still terminating gets no new one yet.
  assert.deepEqual(planNodes(d, [node('x', { role: 'worker' })], byNode([pod('x-1', 'x', 'h', { deleting: true })])).create, []);
});

test('rolling update: unavailable old pods at once, available ones within maxUnavailable', () => {
  const d = ds();
  const nodes = ['a', 'b', 'c', 'd'].map((n) => node(n));
  const now = Date.parse('2025-01-01T01:00:00Z');
  const pods = [pod('a', 'a', 'old'), pod('b', 'b', 'old'), pod('c', 'c', 'old', { ready: false }), pod('d', 'd', 'new')];
  assert.deepEqual(rollingUpdateDeletions(d, nodes, byNode(pods), 'new', now).map((p) => p.metadata.name), ['c', 'a']);
  // A new pod not yet available uses up the budget.
  const busy = [pod('a', 'a', 'old'), pod('b', 'b', 'old'), pod('d', 'd', 'new', { ready: false })];
  assert.deepEqual(rollingUpdateDeletions(d, nodes, byNode(busy), 'new', now).map((p) => p.metadata.name), []);
  const wide = { ...d, spec: { ...d.spec, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '50%' } } } };
  assert.equal(rollingUpdateDeletions(wide, nodes, byNode([pod('a', 'a', 'old'), pod('b', 'b', 'old'), pod('c', 'c', 'old'), pod('d', 'd', 'old')]), 'new', now).length, 2);
});

test('status counts per node', () => {
  const d = ds({ nodeSelector: { role: 'worker' } });
  const nodes = [node('a', { role: 'worker' }), node('b', { role: 'worker' }), node('c', { role: 'db' }), node('e', { role: 'worker' })];
  const pods = [pod('a', 'a', 'new'), pod('b', 'b', 'old', { ready: false }), pod('c', 'c', 'new')];
  assert.deepEqual(daemonSetStatus(d, nodes, byNode(pods), 'new', Date.parse('2025-01-01T01:00:00Z')), {
    currentNumberScheduled: 2,
    numberMisscheduled: 1,
    desiredNumberScheduled: 3,
    numberReady: 1,
    updatedNumberScheduled: 1,
    numberAvailable: 1,
    numberUnavailable: 2,
    observedGeneration: 3,
  });
});
