import { test } from 'node:test';
import assert from 'node:assert/strict';
import { equalIgnoreHash, findNewReplicaSet, newReplicaSet, setNewReplicaSetAnnotations, setsToCleanUp } from './deployment-util.js';
import { templateHash, type Obj } from './objects.js';

const template = (image: string, extraLabels: Obj = {}): Obj => ({
  metadata: { labels: { app: 'web', ...extraLabels } },
  spec: { containers: [{ name: 'main', image, resources: {} }], securityContext: {} },
});

const deployment = (image: string, annotations: Obj = {}): Obj => ({
  metadata: { name: 'web', namespace: 'default', uid: 'd1', annotations },
  spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: template(image), strategy: { type: 'RollingUpdate' } },
});

test('templates compare ignoring pod-template-hash, nulls and key order', () => {
  const a = template('nginx:1');
  const b = { spec: { securityContext: {}, containers: [{ image: 'nginx:1', name: 'main' }] }, metadata: { creationTimestamp: null, labels: { 'pod-template-hash': 'abc', app: 'web' } } };
  assert.equal(equalIgnoreHash(a, b), true);
  assert.equal(equalIgnoreHash(a, template('nginx:2')), false);
  assert.equal(equalIgnoreHash(a, template('nginx:1', { tier: 'fe' })), false);
});

test('the template hash is stable and collision count changes it', () => {
  const h = templateHash(template('nginx:1'));
  assert.match(h, /^[bcdfghjklmnpqrstvwxz2456789]+$/);
  assert.equal(templateHash({ spec: template('nginx:1').spec, metadata: template('nginx:1').metadata }), h);
  assert.notEqual(templateHash(template('nginx:2')), h);
  assert.notEqual(templateHash(template('nginx:1'), 1), h);
});

test('a new ReplicaSet is named by hash, labelled, selected and owned', () => {
  const d = deployment('nginx:1');
  const rs = newReplicaSet(d, 2);
  const hash = rs.metadata.labels['pod-template-hash'];
  assert.equal(rs.metadata.name, `web-${hash}`);
  assert.deepEqual(rs.spec.selector.matchLabels, { app: 'web', 'pod-template-hash': hash });
  assert.equal(rs.spec.template.metadata.labels['pod-template-hash'], hash);
  assert.deepEqual(rs.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'd1', controller: true, blockOwnerDeletion: true }]);
  assert.equal(rs.spec.replicas, 2);
  assert.equal(d.spec.template.metadata.labels['pod-template-hash'], undefined, 'the Deployment is not modified');
  assert.equal(findNewReplicaSet(d, [{ ...rs, metadata: { ...rs.metadata, creationTimestamp: 'x' } }])?.metadata.name, rs.metadata.name);
  assert.equal(findNewReplicaSet(deployment('nginx:2'), [rs]), undefined);
});

test('annotations: copied from the Deployment, revision raised with history on rollback', () => {
  const d = deployment('nginx:1', { 'kubernetes.io/change-cause': 'why', 'kubectl.kubernetes.io/last-applied-configuration': '{}', 'deployment.kubernetes.io/revision': '9' });
  const fresh = newReplicaSet(d, 0);
  assert.equal(setNewReplicaSetAnnotations(d, fresh, 1, false, 1), true);
  assert.deepEqual(fresh.metadata.annotations, {
    'kubernetes.io/change-cause': 'why',
    'deployment.kubernetes.io/revision': '1',
    'deployment.kubernetes.io/desired-replicas': '3',
    'deployment.kubernetes.io/max-replicas': '4',
  });
  assert.equal(setNewReplicaSetAnnotations(d, fresh, 1, true, 1), false, 'nothing to change');
  // Rolling back to this set: its revision moves up and the old one is remembered.
  assert.equal(setNewReplicaSetAnnotations(d, fresh, 3, true, 1), true);
  assert.equal(fresh.metadata.annotations['deployment.kubernetes.io/revision'], '3');
  assert.equal(fresh.metadata.annotations['deployment.kubernetes.io/revision-history'], '1');
  setNewReplicaSetAnnotations(d, fresh, 5, true, 1);
  assert.equal(fresh.metadata.annotations['deployment.kubernetes.io/revision-history'], '1,3');
});

test('history cleanup removes the oldest settled revisions beyond the limit', () => {
  const old = (name: string, rev: number, replicas = 0, extra: Obj = {}): Obj => ({
    metadata: { name, annotations: { 'deployment.kubernetes.io/revision': String(rev) }, generation: 1, ...extra },
    spec: { replicas },
    status: { replicas, observedGeneration: 1 },
  });
  const sets = [old('r3', 3), old('r1', 1), old('r2', 2, 1), old('r4', 4)];
  assert.deepEqual(setsToCleanUp(sets, 1).map((r) => r.metadata.name), ['r1', 'r3'], 'r2 still has replicas');
  assert.deepEqual(setsToCleanUp(sets, 4), []);
  assert.deepEqual(setsToCleanUp(sets, undefined), []);
  assert.deepEqual(setsToCleanUp([old('a', 1, 0, { deletionTimestamp: 'x' }), old('b', 2)], 0).map((r) => r.metadata.name), ['b']);
});
