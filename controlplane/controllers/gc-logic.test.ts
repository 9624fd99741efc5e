import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockingDependents, decideForDependent, ownerState, withoutFinalizer, withoutRefs, type OwnerState } from './gc-logic.js';
import type { Obj } from './objects.js';
import { podsToCollect } from './podgc.js';

const ref = (uid: string, block = true): Obj => ({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `rs-${uid}`, uid, controller: true, blockOwnerDeletion: block });
const dep = (refs: Obj[], finalizers?: string[]): Obj => ({ metadata: { name: 'p', uid: 'p1', ownerReferences: refs, finalizers } });
const states = (o: Record<string, OwnerState>): Map<string, OwnerState> => new Map(Object.entries(o));

test('owner states: solid, dangling (gone or replaced), waiting (foreground deletion)', () => {
  const r = ref('u1') as never;
  assert.equal(ownerState(r, undefined), 'dangling');
  assert.equal(ownerState(r, { metadata: { uid: 'other' } }), 'dangling');
  assert.equal(ownerState(r, { metadata: { uid: 'u1' } }), 'solid');
  assert.equal(ownerState(r, { metadata: { uid: 'u1', deletionTimestamp: 't', finalizers: ['orphan'] } }), 'solid');
  assert.equal(ownerState(r, { metadata: { uid: 'u1', deletionTimestamp: 't', finalizers: ['foregroundDeletion'] } }), 'waiting');
});

test('a dependent with a solid owner stays, minus references to gone owners', () => {
  const o = dep([ref('a'), ref('b'), ref('c')]);
  assert.deepEqual(decideForDependent(o, states({ a: 'solid', b: 'solid', c: 'solid' }), false), { type: 'none' });
  assert.deepEqual(decideForDependent(o, states({ a: 'solid', b: 'dangling', c: 'waiting' }), false), { type: 'removeRefs', uids: ['b', 'c'] });
  assert.deepEqual(withoutRefs(o, ['b', 'c']).map((r) => r.uid), ['a']);
});

test('a dependent without solid owners is deleted with the right policy', () => {
  assert.deepEqual(decideForDependent(dep([ref('a')]), states({ a: 'dangling' }), false), { type: 'delete', policy: 'Background' });
  assert.deepEqual(decideForDependent(dep([ref('a')]), states({ a: 'waiting' }), true), { type: 'delete', policy: 'Foreground' }, 'its own dependents go first');
  assert.deepEqual(decideForDependent(dep([ref('a')]), states({ a: 'waiting' }), false), { type: 'delete', policy: 'Background' });
  assert.deepEqual(decideForDependent(dep([ref('a')], ['orphan']), states({ a: 'dangling' }), true), { type: 'delete', policy: 'Orphan' });
  assert.deepEqual(decideForDependent(dep([]), states({}), false), { type: 'none' });
});

test('only dependents with blockOwnerDeletion hold a foreground-deleted owner', () => {
  const a = dep([ref('o', true)]);
  const b = dep([ref('o', false)]);
  const c = dep([ref('x', true)]);
  assert.deepEqual(blockingDependents('o', [a, b, c]), [a]);
  assert.deepEqual(withoutFinalizer({ metadata: { finalizers: ['foregroundDeletion', 'x'] } }, 'foregroundDeletion'), ['x']);
});

test('pod GC: finished pods over the threshold oldest first, pods of vanished nodes, unbound terminating pods', () => {
  const p = (name: string, phase: string, created: string, node?: string, deleting = false): Obj => ({
    metadata: { name, creationTimestamp: created, ...(deleting ? { deletionTimestamp: created } : {}) },
    spec: node ? { nodeName: node } : {},
    status: { phase },
  });
  const pods = [
    p('done-new', 'Succeeded', '2025-01-03T00:00:00Z', 'n1'),
    p('done-old', 'Failed', '2025-01-01T00:00:00Z', 'n1'),
    p('done-mid', 'Succeeded', '2025-01-02T00:00:00Z', 'n1'),
    p('running', 'Running', '2025-01-01T00:00:00Z', 'n1'),
    p('lost', 'Running', '2025-01-01T00:00:00Z', 'gone'),
    p('stuck', 'Pending', '2025-01-01T00:00:00Z', undefined, true),
  ];
  const c = podsToCollect(pods, (n) => n === 'n1', 1);
  assert.deepEqual(c.terminated.map((x) => x.metadata.name), ['done-old', 'done-mid']);
  assert.deepEqual(c.orphaned.map((x) => x.metadata.name), ['lost']);
  assert.deepEqual(c.unscheduledTerminating.map((x) => x.metadata.name), ['stuck']);
  assert.deepEqual(podsToCollect(pods, () => true, 0).terminated, [], 'threshold 0 disables it');
});
