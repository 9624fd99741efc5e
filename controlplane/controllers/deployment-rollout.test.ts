import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  activeOrLatest,
  calculateStatus,
  maxSurge,
  maxUnavailable,
  msUntilDeadline,
  newRSNewReplicas,
  pausedConditions,
  proportionalScalePlan,
  resolveFenceposts,
  rolloutStatus,
  scaleDownOldPlan,
  setCondition,
} from './deployment-rollout.js';
import type { Obj } from './objects.js';

const T0 = Date.parse('2025-01-01T00:00:00Z');

function deploy(replicas: number, surge: unknown = '25%', unavailable: unknown = '25%', extra: Obj = {}): Obj {
  return {
    metadata: { name: 'web', namespace: 'default', uid: 'd1', generation: 2 },
    spec: { replicas, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: surge, maxUnavailable: unavailable } }, progressDeadlineSeconds: 600, ...extra },
    status: { observedGeneration: 1 },
  };
}

function rs(name: string, replicas: number, available = replicas, opts: { created?: string; max?: number; desired?: number; ready?: number } = {}): Obj {
  const ann: Obj = {};
  if (opts.max !== undefined) ann['deployment.kubernetes.io/max-replicas'] = String(opts.max);
  if (opts.desired !== undefined) ann['deployment.kubernetes.io/desired-replicas'] = String(opts.desired);
  return {
    metadata: { name, creationTimestamp: opts.created ?? '2025-01-01T00:00:00Z', annotations: ann },
    spec: { replicas },
    status: { replicas, readyReplicas: opts.ready ?? available, availableReplicas: available },
  };
}

test('fenceposts: surge rounds up, unavailable down, never both zero', () => {
  assert.deepEqual(resolveFenceposts(deploy(10)), { surge: 3, unavailable: 2 });
  assert.deepEqual(resolveFenceposts(deploy(3)), { surge: 1, unavailable: 0 });
  assert.deepEqual(resolveFenceposts(deploy(1, 0, '0%')), { surge: 0, unavailable: 1 });
  assert.deepEqual(resolveFenceposts(deploy(10, 2, 1)), { surge: 2, unavailable: 1 });
  assert.deepEqual(resolveFenceposts(deploy(4, '50%', '30%')), { surge: 2, unavailable: 1 });
  assert.equal(maxUnavailable(deploy(2, 0, 5)), 2, 'capped at replicas');
  assert.equal(maxUnavailable(deploy(0)), 0);
  assert.equal(maxSurge({ ...deploy(10), spec: { replicas: 10, strategy: { type: 'Recreate' } } }), 0);
});

test('new ReplicaSet grows within maxSurge', () => {
  const d = deploy(10);
  const newRS = rs('new', 0);
  assert.equal(newRSNewReplicas(d, [rs('old', 10), newRS], newRS), 3);
  const grown = rs('new', 3, 0);
  assert.equal(newRSNewReplicas(d, [rs('old', 10), grown], grown), 3, 'at the surge limit');
  const later = rs('new', 3, 3);
  assert.equal(newRSNewReplicas(d, [rs('old', 8), later], later), 5);
  assert.equal(newRSNewReplicas(deploy(3, 1, 0), [rs('old', 0), rs('new', 2)], rs('new', 2)), 3, 'never past replicas');
  const recreate = { ...d, spec: { ...d.spec, strategy: { type: 'Recreate' } } };
  assert.equal(newRSNewReplicas(recreate, [rs('new', 0)], rs('new', 0)), 10);
});

test('old ReplicaSets shrink while minimum availability holds, unhealthy replicas first', () => {
  const d = deploy(10);
  assert.deepEqual([...scaleDownOldPlan(d, [rs('old', 10)], rs('new', 3, 0))], [['old', 8]]);
  // Three old replicas are unavailable: those go first, and no healthy one.
  assert.deepEqual([...scaleDownOldPlan(d, [rs('old', 10, 7)], rs('new', 3, 0))], [['old', 8]]);
  assert.deepEqual([...scaleDownOldPlan(d, [rs('old', 8)], rs('new', 3, 3))], [['old', 5]]);
  // Nothing to give while the new set is not yet available.
  assert.deepEqual([...scaleDownOldPlan(deploy(3, 1, 0), [rs('old', 3)], rs('new', 1, 0))], []);
  // Oldest sets shrink first.
  const plan = scaleDownOldPlan(deploy(4, 1, 1), [rs('b', 2, 2, { created: '2025-01-02T00:00:00Z' }), rs('a', 2, 2, { created: '2025-01-01T00:00:00Z' })], rs('new', 1, 1));
  assert.deepEqual([...plan], [['a', 0]]);
});

test('scaling in the middle of a rollout is proportional, leftovers to the largest set', () => {
  const d = deploy(20);
  const up = proportionalScalePlan(d, [rs('new', 4, 4, { max: 13 }), rs('old', 8, 8, { max: 13, created: '2024-12-31T00:00:00Z' })]);
  assert.deepEqual(Object.fromEntries(up), { old: 17, new: 8 });
  const down = proportionalScalePlan(deploy(10), [rs('new', 8, 8, { max: 25 }), rs('old', 17, 17, { max: 25, created: '2024-12-31T00:00:00Z' })]);
  assert.deepEqual(Object.fromEntries(down), { old: 9, new: 4 });
  const toZero = proportionalScalePlan(deploy(0), [rs('a', 3, 3, { max: 4 }), rs('b', 1, 1, { max: 4 })]);
  assert.deepEqual(Object.fromEntries(toZero), { a: 0, b: 0 });
});

test('activeOrLatest picks the only active set, else the newest', () => {
  const a = rs('a', 0, 0, { created: '2025-01-01T00:00:00Z' });
  const b = rs('b', 0, 0, { created: '2025-01-02T00:00:00Z' });
  assert.equal(activeOrLatest(undefined, [a, b])?.metadata.name, 'b');
  assert.equal(activeOrLatest(rs('n', 0), [a, b])?.metadata.name, 'n');
  assert.equal(activeOrLatest(rs('n', 0), [a, rs('c', 2)])?.metadata.name, 'c');
  assert.equal(activeOrLatest(rs('n', 1), [rs('c', 2)]), undefined);
});

test('status counts the sets and sets Available by maxUnavailable', () => {
  const d = deploy(4);
  const s = calculateStatus(d, [rs('old', 1, 1), rs('new', 3, 2, { ready: 3 })], rs('new', 3, 2), T0);
  assert.deepEqual(
    [s.observedGeneration, s.replicas, s.updatedReplicas, s.readyReplicas, s.availableReplicas, s.unavailableReplicas],
    [2, 4, 3, 4, 3, 1],
  );
  assert.deepEqual(s.conditions.map((c) => [c.type, c.status, c.reason]), [['Available', 'True', 'MinimumReplicasAvailable']]);
  const low = calculateStatus(d, [rs('new', 4, 1)], rs('new', 4, 1), T0);
  assert.equal(low.conditions[0].reason, 'MinimumReplicasUnavailable');
});

test('Progressing: ReplicaSetUpdated while moving, NewReplicaSetAvailable when done, deadline exceeded when stuck', () => {
  const d = deploy(2);
  const moving = rolloutStatus(d, [rs('new', 2, 1)], rs('new', 2, 1), T0);
  const prog = moving.conditions.find((c) => c.type === 'Progressing')!;
  assert.deepEqual([prog.status, prog.reason, prog.message], ['True', 'ReplicaSetUpdated', 'ReplicaSet "new" is progressing.']);

  const done = rolloutStatus({ ...d, status: moving }, [rs('new', 2, 2)], rs('new', 2, 2), T0 + 1000);
  const c = done.conditions.find((x) => x.type === 'Progressing')!;
  assert.deepEqual([c.status, c.reason, c.message], ['True', 'NewReplicaSetAvailable', 'ReplicaSet "new" has successfully progressed.']);

  // No progress since the last status, and the deadline has passed.
  const stuckD = { ...d, spec: { ...d.spec, progressDeadlineSeconds: 10 }, status: moving };
  assert.equal(msUntilDeadline(stuckD, moving, T0 + 4000), 7000);
  const stuck = rolloutStatus(stuckD, [rs('new', 2, 1)], rs('new', 2, 1), T0 + 11_000);
  const x = stuck.conditions.find((y) => y.type === 'Progressing')!;
  assert.deepEqual([x.status, x.reason], ['False', 'ProgressDeadlineExceeded']);
  const notYet = rolloutStatus(stuckD, [rs('new', 2, 1)], rs('new', 2, 1), T0 + 9000);
  assert.equal(notYet.conditions.find((y) => y.type === 'Progressing')!.reason, 'ReplicaSetUpdated');
});

test('paused and resumed conditions', () => {
  const d = deploy(2, '25%', '25%', { paused: true });
  const paused = pausedConditions(d, T0)!;
  assert.deepEqual(paused.map((c) => [c.type, c.status, c.reason]), [['Progressing', 'Unknown', 'DeploymentPaused']]);
  assert.equal(pausedConditions({ ...d, status: { conditions: paused } }, T0), undefined, 'already paused');
  const resumed = pausedConditions({ ...d, spec: { ...d.spec, paused: false }, status: { conditions: paused } }, T0)!;
  assert.equal(resumed[0].reason, 'DeploymentResumed');
});

test('setCondition keeps the transition time when only the reason changes', () => {
  const a = [{ type: 'Progressing', status: 'True', reason: 'A', lastTransitionTime: 't0', lastUpdateTime: 't0' }];
  const b = setCondition(a, { type: 'Progressing', status: 'True', reason: 'B', lastTransitionTime: 't1', lastUpdateTime: 't1' });
  assert.deepEqual([b[0].reason, b[0].lastTransitionTime, b[0].lastUpdateTime], ['B', 't0', 't1']);
  assert.equal(setCondition(b, { type: 'Progressing', status: 'True', reason: 'B', lastTransitionTime: 't2' }), b, 'unchanged');
  const c = setCondition(b, { type: 'Progressing', status: 'False', reason: 'C', lastTransitionTime: 't3' });
  assert.equal(c[0].lastTransitionTime, 't3');
});
