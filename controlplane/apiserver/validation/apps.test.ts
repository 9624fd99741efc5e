import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDefaults } from '../defaults.js';
import { selectorMatches } from './apps.js';
import { validateCreate, validateUpdate } from './index.js';

type Obj = Record<string, any>;

function workload(kind: string, spec: Obj, labels: Obj | null = { app: 'web' }): Obj {
  const o: Obj = {
    apiVersion: 'apps/v1', kind, metadata: { name: 'web', namespace: 'default' },
    spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } }, ...spec },
  };
  applyDefaults(kind, o);
  return o;
}
const errs = (o: Obj): [string, string, string][] => validateCreate(o.kind, o).map((e) => [e.field, e.reason, e.message]);

test('valid Deployments, ReplicaSets and DaemonSets produce no errors', () => {
  assert.deepEqual(errs(workload('Deployment', { replicas: 3 })), []);
  assert.deepEqual(errs(workload('Deployment', { strategy: { type: 'Recreate' } })), []);
  assert.deepEqual(errs(workload('Deployment', { strategy: { rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } })), []);
  assert.deepEqual(errs(workload('ReplicaSet', { replicas: 0 })), []);
  assert.deepEqual(errs(workload('DaemonSet', {})), []);
  assert.deepEqual(errs(workload('DaemonSet', { updateStrategy: { type: 'OnDelete' } })), []);
  const exprs = workload('Deployment', { selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'api'] }, { key: 'canary', operator: 'DoesNotExist' }] } });
  assert.deepEqual(errs(exprs), []);
});

test('replicas must be non-negative', () => {
  assert.deepEqual(errs(workload('Deployment', { replicas: -1 })), [['spec.replicas', 'FieldValueInvalid', 'Invalid value: -1: must be greater than or equal to 0']]);
  assert.deepEqual(errs(workload('ReplicaSet', { replicas: -2 })), [['spec.replicas', 'FieldValueInvalid', 'Invalid value: -2: must be greater than or equal to 0']]);
});

test('selector: required, non-empty, well-formed, and must match the template labels', () => {
  const noSelector = workload('Deployment', {});
  delete noSelector.spec.selector;
  assert.deepEqual(errs(noSelector), [
    ['spec.selector', 'FieldValueRequired', 'Required value'],
    ['spec.template.metadata.labels', 'FieldValueInvalid', 'Invalid value: {"app":"web"}: `selector` does not match template `labels`'],
  ]);
  assert.deepEqual(errs(workload('Deployment', { selector: {} })), [['spec.selector', 'FieldValueInvalid', 'Invalid value: {}: empty selector is invalid for deployment']]);
  assert.deepEqual(errs(workload('ReplicaSet', { selector: {} })), [['spec.selector', 'FieldValueInvalid', 'Invalid value: {}: empty selector is invalid for deployment']]);
  assert.deepEqual(errs(workload('DaemonSet', { selector: {} })), [['spec.selector', 'FieldValueInvalid', 'Invalid value: {}: empty selector is invalid for daemonset']]);
  assert.deepEqual(errs(workload('Deployment', {}, { app: 'other' })), [
    ['spec.template.metadata.labels', 'FieldValueInvalid', 'Invalid value: {"app":"other"}: `selector` does not match template `labels`'],
  ]);
  assert.deepEqual(errs(workload('DaemonSet', {}, null)), [
    ['spec.template.metadata.labels', 'FieldValueInvalid', 'Invalid value: null: `selector` does not match template `labels`'],
  ]);
  assert.deepEqual(errs(workload('Deployment', { selector: { matchExpressions: [{ key: 'app', operator: 'In' }] } })), [
    ['spec.selector.matchExpressions[0].values', 'FieldValueRequired', "Required value: must be specified when `operator` is 'In' or 'NotIn'"],
    ['spec.template.metadata.labels', 'FieldValueInvalid', 'Invalid value: {"app":"web"}: `selector` does not match template `labels`'],
  ]);
  assert.deepEqual(errs(workload('Deployment', { selector: { matchExpressions: [{ key: 'app', operator: 'Near', values: ['x'] }] } })), [
    ['spec.selector.matchExpressions[0].operator', 'FieldValueInvalid', 'Invalid value: "Near": not a valid selector operator'],
    ['spec.selector', 'FieldValueInvalid', 'Invalid value: {"matchExpressions":[{"key":"app","operator":"Near","values":["x"]}]}: invalid label selector'],
  ]);
});

test('the template is validated as a pod spec whose restartPolicy is Always', () => {
  assert.deepEqual(errs(workload('Deployment', { template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app' }] } } })), [
    ['spec.template.spec.containers[0].image', 'FieldValueRequired', 'Required value'],
  ]);
  assert.deepEqual(errs(workload('Deployment', { template: { metadata: { labels: { app: 'web' } }, spec: { restartPolicy: 'Never', containers: [{ name: 'a', image: 'x' }] } } })), [
    ['spec.template.spec.restartPolicy', 'FieldValueNotSupported', 'Unsupported value: "Never": supported values: "Always"'],
  ]);
  assert.deepEqual(errs(workload('DaemonSet', { template: { metadata: { labels: { app: 'web' } }, spec: { activeDeadlineSeconds: 5, containers: [{ name: 'a', image: 'x' }] } } })), [
    ['spec.template.spec.activeDeadlineSeconds', 'FieldValueForbidden', 'Forbidden: activeDeadlineSeconds in DaemonSet is not Supported'],
  ]);
  // Template labels are reported where ValidatePodTemplateSpec puts them.
  assert.deepEqual(errs(workload('Deployment', { selector: { matchLabels: { 'bad key': 'x' } } }, { 'bad key': 'x' })).map((e) => e[0]), [
    'spec.selector.matchLabels', 'spec.template.labels',
  ]);
});

test('strategies: enums, int-or-percent values, not both zero', () => {
  assert.deepEqual(errs(workload('Deployment', { strategy: { type: 'BlueGreen' } })), [
    ['spec.strategy', 'FieldValueNotSupported', 'Unsupported value: {"Type":"BlueGreen","RollingUpdate":null}: supported values: "Recreate", "RollingUpdate"'],
  ]);
  assert.deepEqual(errs(workload('Deployment', { strategy: { rollingUpdate: { maxSurge: 0, maxUnavailable: 0 } } })), [
    ['spec.strategy.rollingUpdate.maxUnavailable', 'FieldValueInvalid', 'Invalid value: 0: may not be 0 when `maxSurge` is 0'],
  ]);
  assert.deepEqual(errs(workload('Deployment', { strategy: { rollingUpdate: { maxSurge: '0%', maxUnavailable: 0 } } })).map((e) => e[0]), ['spec.strategy.rollingUpdate.maxUnavailable']);
  assert.deepEqual(errs(workload('Deployment', { strategy: { rollingUpdate: { maxSurge: '20percent' } } })), [
    ['spec.strategy.rollingUpdate.maxSurge', 'FieldValueInvalid', `Invalid value: "20percent": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')`],
  ]);
  assert.deepEqual(errs(workload('Deployment', { strategy: { rollingUpdate: { maxUnavailable: '110%' } } })), [
    ['spec.strategy.rollingUpdate.maxUnavailable', 'FieldValueInvalid', 'Invalid value: "110%": must not be greater than 100%'],
  ]);
  assert.deepEqual(errs(workload('Deployment', { strategy: { type: 'Recreate', rollingUpdate: { maxSurge: 1 } } })), [
    ['spec.strategy.rollingUpdate', 'FieldValueForbidden', "Forbidden: may not be specified when strategy `type` is 'Recreate'"],
  ]);
  assert.deepEqual(errs(workload('Deployment', { minReadySeconds: 700 })), [['spec.progressDeadlineSeconds', 'FieldValueInvalid', 'Invalid value: 600: must be greater than minReadySeconds']]);
  assert.deepEqual(errs(workload('DaemonSet', { updateStrategy: { rollingUpdate: { maxUnavailable: 0, maxSurge: 0 } } })), [
    ['spec.updateStrategy.rollingUpdate.maxUnavailable', 'FieldValueRequired', 'Required value: cannot be 0 when maxSurge is 0'],
  ]);
  assert.deepEqual(errs(workload('DaemonSet', { updateStrategy: { rollingUpdate: { maxUnavailable: 1, maxSurge: 1 } } })), [
    ['spec.updateStrategy.rollingUpdate.maxSurge', 'FieldValueInvalid', 'Invalid value: 1: may not be set when maxUnavailable is non-zero'],
  ]);
  assert.deepEqual(errs(workload('DaemonSet', { updateStrategy: { type: 'Surge' } })), [
    ['spec.updateStrategy', 'FieldValueNotSupported', 'Unsupported value: {"Type":"Surge","RollingUpdate":null}: supported values: "RollingUpdate", "OnDelete"'],
  ]);
});

test('updates: the selector is immutable, everything else revalidated', () => {
  for (const kind of ['Deployment', 'ReplicaSet', 'DaemonSet']) {
    const old = workload(kind, {});
    const scaled = structuredClone(old);
    scaled.spec.template.spec.containers[0].image = 'nginx:1.28';
    if (kind !== 'DaemonSet') scaled.spec.replicas = 5;
    assert.deepEqual(validateUpdate(kind, scaled, old), [], kind);
    const moved = structuredClone(old);
    moved.spec.selector = { matchLabels: { app: 'web', tier: 'front' } };
    moved.spec.template.metadata.labels.tier = 'front';
    assert.deepEqual(validateUpdate(kind, moved, old).map((e) => [e.field, e.reason, e.message]), [
      ['spec.selector', 'FieldValueInvalid', 'Invalid value: {"matchLabels":{"app":"web","tier":"front"}}: field is immutable'],
    ], kind);
  }
});

test('selectorMatches implements LabelSelectorAsSelector semantics', () => {
  const labels = { app: 'web', tier: 'front' };
  assert.equal(selectorMatches({ matchLabels: { app: 'web' } }, labels), true);
  assert.equal(selectorMatches({ matchLabels: { app: 'api' } }, labels), false);
  assert.equal(selectorMatches({}, labels), true);
  assert.equal(selectorMatches(undefined, labels), false);
  assert.equal(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['back'] }] }, labels), true);
  assert.equal(selectorMatches({ matchExpressions: [{ key: 'canary', operator: 'Exists' }] }, labels), false);
  assert.equal(selectorMatches({ matchExpressions: [{ key: 'canary', operator: 'NotIn', values: ['x'] }] }, labels), true);
  assert.equal(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'Bogus' }] }, labels), false);
});
