import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CidrSet } from './cidrset.js';
import { unknownConditions } from './nodelifecycle.js';
import type { Obj } from './objects.js';
import { desiredTaints, evictionTime, matchesNodeSelectorTerms, nodeMatchesPodSpec, tolerates, untolerated } from './taints.js';

const T0 = Date.parse('2025-01-01T00:00:00Z');
const unreachable = { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: '2025-01-01T00:00:00Z' };

test('toleration matching: key, effect, Exists and Equal', () => {
  const taint = { key: 'dedicated', value: 'db', effect: 'NoSchedule' };
  assert.equal(tolerates({ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }, taint), true);
  assert.equal(tolerates({ key: 'dedicated', value: 'db' }, taint), true, 'Equal is the default, empty effect matches all');
  assert.equal(tolerates({ key: 'dedicated', operator: 'Equal', value: 'web' }, taint), false);
  assert.equal(tolerates({ key: 'dedicated', operator: 'Exists', effect: 'NoExecute' }, taint), false);
  assert.equal(tolerates({ operator: 'Exists' }, taint), true, 'empty key with Exists tolerates everything');
  assert.deepEqual(untolerated([taint, { key: 'soft', effect: 'PreferNoSchedule' }], [], ['NoSchedule', 'NoExecute']), [taint]);
});

test('eviction time: at once without a toleration, after the smallest tolerationSeconds, never when unbounded', () => {
  const later = T0 + 60_000;
  assert.equal(evictionTime([unreachable], [], later), later, 'no matching toleration: now');
  assert.equal(evictionTime([unreachable], [{ key: 'other', operator: 'Exists' }], later), later);
  const tol = [
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    { operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 },
  ];
  assert.equal(evictionTime([unreachable], tol, later), T0 + 300_000, 'the first matching toleration decides, from timeAdded');
  assert.equal(evictionTime([unreachable], [{ operator: 'Exists', tolerationSeconds: -5 }], later), T0, 'negative means at once');
  assert.equal(evictionTime([unreachable], [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists' }], later), undefined);
  assert.equal(evictionTime([{ key: 'x', effect: 'NoSchedule' }], [], later), undefined, 'NoSchedule never evicts');
  const both = [unreachable, { key: 'node.kubernetes.io/not-ready', effect: 'NoExecute', timeAdded: '2025-01-01T00:00:10Z' }];
  const tols = [
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', tolerationSeconds: 20 },
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', tolerationSeconds: 5 },
  ];
  assert.equal(evictionTime(both, tols, later), T0 + 15_000, 'smallest seconds from the latest taint');
});

test('condition taints follow Ready and keep their timeAdded', () => {
  const node = (ready: string | undefined, taints: Obj[] = [], unschedulable = false): Obj => ({
    spec: { taints, unschedulable },
    status: { conditions: ready ? [{ type: 'Ready', status: ready }] : [] },
  });
  const now = '2025-01-01T00:01:00Z';
  assert.deepEqual(desiredTaints(node('Unknown'), now), [
    { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: now },
  ]);
  assert.deepEqual(desiredTaints(node('False'), now).map((t) => `${t.key}:${t.effect}`), ['node.kubernetes.io/not-ready:NoSchedule', 'node.kubernetes.io/not-ready:NoExecute']);
  const tainted = desiredTaints(node('Unknown'), '2025-01-01T00:00:00Z');
  assert.deepEqual(desiredTaints(node('Unknown', tainted), now), tainted, 'unchanged, same timeAdded');
  const mine = { key: 'dedicated', value: 'db', effect: 'NoSchedule' };
  assert.deepEqual(desiredTaints(node('True', [...tainted, mine]), now), [mine], 'back to Ready: only foreign taints stay');
  assert.deepEqual(desiredTaints(node(undefined, [], true), now).map((t) => t.key), ['node.kubernetes.io/unschedulable']);
});

test('a silent node: conditions Unknown, Ready added if never posted', () => {
  const now = '2025-01-01T00:01:00Z';
  const n = { status: { conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: 'hb' }, { type: 'DiskPressure', status: 'False' }] } };
  const c = unknownConditions(n, now)!;
  assert.deepEqual(c[0], { type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastHeartbeatTime: 'hb', lastTransitionTime: now });
  assert.equal(c[1].status, 'Unknown');
  assert.equal(unknownConditions({ status: { conditions: c } }, now), undefined, 'already Unknown');
  assert.equal(unknownConditions({}, now)![0].reason, 'NodeStatusNeverUpdated');
});

test('node selector terms and required affinity', () => {
  const node = { metadata: { name: 'n1', labels: { zone: 'a', cores: '8' } } };
  assert.equal(matchesNodeSelectorTerms(node, [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] }]), true);
  assert.equal(matchesNodeSelectorTerms(node, [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n2'] }] }]), false);
  assert.equal(matchesNodeSelectorTerms(node, [{}, { matchExpressions: [{ key: 'cores', operator: 'Gt', values: ['4'] }] }]), true, 'terms are ORed');
  assert.equal(matchesNodeSelectorTerms(node, [{ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }]), false);
  assert.equal(matchesNodeSelectorTerms(node, [{ matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] }]), true);
  assert.equal(nodeMatchesPodSpec(node, { nodeSelector: { zone: 'a' } }), true);
  assert.equal(nodeMatchesPodSpec(node, { nodeSelector: { zone: 'b' } }), false);
});

test('CidrSet: lowest free /24, no duplicates, release and rebuild', () => {
  const set = new CidrSet('10.244.0.0/16');
  assert.equal(set.size, 256);
  assert.equal(set.occupy('10.244.0.0/24'), true);
  assert.equal(set.occupy('10.245.0.0/24'), false, 'outside the cluster CIDR');
  assert.equal(set.occupy('10.244.3.0/25'), false, 'wrong size');
  assert.equal(set.allocateNext(), '10.244.1.0/24');
  assert.equal(set.allocateNext(), '10.244.2.0/24');
  set.release('10.244.1.0/24');
  assert.equal(set.isAllocated('10.244.1.0/24'), false);
  assert.equal(set.allocateNext(), '10.244.1.0/24');
  const small = new CidrSet('10.0.0.0/23');
  assert.deepEqual([small.allocateNext(), small.allocateNext(), small.allocateNext()], ['10.0.0.0/24', '10.0.1.0/24', undefined]);
  assert.throws(() => new CidrSet('10.0.0.0/25'), /larger/);
  assert.throws(() => new CidrSet('nonsense'));
});
