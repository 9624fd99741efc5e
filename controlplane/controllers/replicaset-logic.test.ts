import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from './clock.js';
import { Expectations } from './expectations.js';
import type { Obj } from './objects.js';
import { podFromTemplate, podsToDelete, rankForDeletion, replicaSetStatus, slowStartBatches } from './replicaset-logic.js';

interface P {
  name: string;
  node?: string;
  phase?: string;
  ready?: boolean;
  readySince?: string;
  created?: string;
  restarts?: number;
  labels?: Obj;
}

function pod(p: P): Obj {
  return {
    metadata: { name: p.name, namespace: 'default', creationTimestamp: p.created ?? '2025-01-01T00:00:00Z', labels: p.labels ?? { app: 'web' } },
    spec: p.node ? { nodeName: p.node } : {},
    status: {
      phase: p.phase ?? 'Running',
      conditions: [{ type: 'Ready', status: p.ready === false ? 'False' : 'True', lastTransitionTime: p.readySince ?? '2025-01-01T00:00:00Z' }],
      containerStatuses: [{ restartCount: p.restarts ?? 0 }],
    },
  };
}

const names = (pods: Obj[]): string[] => pods.map((p) => p.metadata.name);

test('scale-down prefers unscheduled, then pending, then not ready pods', () => {
  const pods = [
    pod({ name: 'running', node: 'n1' }),
    pod({ name: 'unready', node: 'n1', ready: false }),
    pod({ name: 'pending', node: 'n1', phase: 'Pending', ready: false }),
    pod({ name: 'unscheduled', phase: 'Pending', ready: false }),
  ];
  assert.deepEqual(names(rankForDeletion(pods)), ['unscheduled', 'pending', 'unready', 'running']);
  assert.deepEqual(names(podsToDelete(pods, 2)), ['unscheduled', 'pending']);
  assert.deepEqual(podsToDelete(pods, 0), []);
});

test('among ready pods: crowded nodes, then recently ready, then restarts, then newest', () => {
  const crowded = [pod({ name: 'a1', node: 'a' }), pod({ name: 'a2', node: 'a' }), pod({ name: 'b1', node: 'b' })];
  assert.equal(rankForDeletion(crowded)[0].spec.nodeName, 'a', 'node with more related pods first');
  const byReady = [pod({ name: 'old', node: 'x', readySince: '2025-01-01T00:00:00Z' }), pod({ name: 'recent', node: 'y', readySince: '2025-01-01T01:00:00Z' })];
  assert.deepEqual(names(rankForDeletion(byReady)), ['recent', 'old']);
  const byRestarts = [pod({ name: 'calm', node: 'x' }), pod({ name: 'flappy', node: 'y', restarts: 5 })];
  assert.deepEqual(names(rankForDeletion(byRestarts)), ['flappy', 'calm']);
  const byAge = [pod({ name: 'older', node: 'x', created: '2025-01-01T00:00:00Z' }), pod({ name: 'newer', node: 'y', created: '2025-01-02T00:00:00Z' })];
  assert.deepEqual(names(rankForDeletion(byAge)), ['newer', 'older']);
});

test('creations go out in doubling batches', () => {
  assert.deepEqual(slowStartBatches(0), []);
  assert.deepEqual(slowStartBatches(1), [1]);
  assert.deepEqual(slowStartBatches(10), [1, 2, 4, 3]);
});

test('status: ready, available after minReadySeconds, fully labelled, failure condition', () => {
  const rs = { metadata: { generation: 4 }, spec: { minReadySeconds: 10, template: { metadata: { labels: { app: 'web', tier: 'fe' } } } } };
  const now = Date.parse('2025-01-01T00:00:30Z');
  const pods = [
    pod({ name: 'a', readySince: '2025-01-01T00:00:00Z', labels: { app: 'web', tier: 'fe' } }),
    pod({ name: 'b', readySince: '2025-01-01T00:00:25Z', labels: { app: 'web', tier: 'fe' } }),
    pod({ name: 'c', ready: false }),
  ];
  const s = replicaSetStatus(rs, pods, now);
  assert.deepEqual(s, { replicas: 3, fullyLabeledReplicas: 2, readyReplicas: 2, availableReplicas: 1, observedGeneration: 4 });
  const failed = replicaSetStatus(rs, [], now, 'quota exceeded', '2025-01-01T00:00:30Z');
  assert.deepEqual(failed.conditions, [{ type: 'ReplicaFailure', status: 'True', lastTransitionTime: '2025-01-01T00:00:30Z', reason: 'FailedCreate', message: 'quota exceeded' }]);
  assert.equal(replicaSetStatus({ ...rs, status: { conditions: failed.conditions } }, [], now).conditions, undefined, 'cleared once creates work');
});

test('a pod from a template carries labels, annotations, spec and the controller reference', () => {
  const t = { metadata: { labels: { app: 'web' }, annotations: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } };
  const ref = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-1', uid: 'u', controller: true, blockOwnerDeletion: true };
  const p = podFromTemplate(t, 'ns', 'web-1-', ref);
  assert.deepEqual(p.metadata, { generateName: 'web-1-', namespace: 'ns', ownerReferences: [ref], labels: { app: 'web' }, annotations: { a: 'b' } });
  p.spec.containers[0].image = 'changed';
  assert.equal(t.spec.containers[0].image, 'i', 'deep copy');
});

test('expectations: satisfied once observed, or after the TTL', () => {
  const clock = new FakeClock();
  const e = new Expectations(clock, 60_000);
  assert.equal(e.satisfied('rs'), true, 'nothing expected');
  e.expectCreations('rs', 2);
  assert.equal(e.satisfied('rs'), false);
  e.creationObserved('rs');
  assert.equal(e.satisfied('rs'), false);
  e.creationObserved('rs');
  assert.equal(e.satisfied('rs'), true);
  e.expectDeletions('rs', ['ns/a', 'ns/b']);
  e.deletionObserved('rs', 'ns/other');
  e.deletionObserved('rs', 'ns/a');
  assert.deepEqual(e.pending('rs'), { adds: 0, deletes: 1 });
  clock.advance(60_001);
  assert.equal(e.satisfied('rs'), true, 'expired');
  e.expect('rs', 1, ['ns/x']);
  e.delete('rs');
  assert.equal(e.satisfied('rs'), true);
});
