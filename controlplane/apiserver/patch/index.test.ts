import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatusError } from '../../../common/errors.js';
import { applyPatch, patchTypeFromContentType } from './index.js';

const deploy = () => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', labels: { app: 'web' } },
  spec: { replicas: 1, template: { spec: { containers: [{ name: 'web', image: 'nginx' }] } } },
});

function fails(fn: () => unknown): StatusError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof StatusError, String(e));
    return e;
  }
  assert.fail('expected an error');
}

describe('patchTypeFromContentType', () => {
  it('maps the four patch media types, ignoring parameters and case', () => {
    assert.equal(patchTypeFromContentType('application/json-patch+json'), 'json');
    assert.equal(patchTypeFromContentType('application/merge-patch+json; charset=utf-8'), 'merge');
    assert.equal(patchTypeFromContentType('Application/Strategic-Merge-Patch+JSON'), 'strategic');
    assert.equal(patchTypeFromContentType(' application/apply-patch+yaml ;charset=utf-8'), 'apply');
  });
  it('returns undefined for anything else', () => {
    assert.equal(patchTypeFromContentType('application/json'), undefined);
    assert.equal(patchTypeFromContentType(''), undefined);
    assert.equal(patchTypeFromContentType('application/yaml'), undefined);
  });
});

describe('applyPatch', () => {
  it('dispatches to each patch type', () => {
    const kind = 'Deployment';
    const j = applyPatch('json', deploy(), [{ op: 'replace', path: '/spec/replicas', value: 3 }], kind) as ReturnType<typeof deploy>;
    assert.equal(j.spec.replicas, 3);
    // Merge patch replaces lists; strategic merge merges them by name.
    const m = applyPatch('merge', deploy(), { spec: { template: { spec: { containers: [{ name: 'side' }] } } } }, kind) as ReturnType<typeof deploy>;
    assert.deepEqual(m.spec.template.spec.containers, [{ name: 'side' }]);
    const s = applyPatch('strategic', deploy(), { spec: { template: { spec: { containers: [{ name: 'side' }] } } } }, kind) as ReturnType<typeof deploy>;
    assert.deepEqual(s.spec.template.spec.containers.map((c) => c.name), ['side', 'web']);
    const a = applyPatch('apply', deploy(), { ...deploy(), spec: { replicas: 4 } }, kind) as ReturnType<typeof deploy>;
    assert.equal(a.spec.replicas, 4);
    assert.equal(a.spec.template.spec.containers[0].image, 'nginx');
  });

  it('never mutates current', () => {
    const current = deploy();
    const snapshot = structuredClone(current);
    applyPatch('json', current, [{ op: 'remove', path: '/metadata/labels' }], 'Deployment');
    applyPatch('merge', current, { metadata: { labels: null } }, 'Deployment');
    applyPatch('strategic', current, { metadata: { labels: { app: null } } }, 'Deployment');
    applyPatch('apply', current, { ...deploy(), metadata: { name: 'web', labels: { x: 'y' } } }, 'Deployment');
    assert.deepEqual(current, snapshot);
  });

  it('400 when the body has the wrong JSON type for the patch type', () => {
    assert.equal(fails(() => applyPatch('json', deploy(), { op: 'add' }, 'Deployment')).code, 400);
    assert.equal(fails(() => applyPatch('merge', deploy(), [1], 'Deployment')).code, 400);
    assert.equal(fails(() => applyPatch('merge', deploy(), null, 'Deployment')).code, 400);
    assert.equal(fails(() => applyPatch('strategic', deploy(), 'x', 'Deployment')).code, 400);
    assert.equal(fails(() => applyPatch('apply', deploy(), 7, 'Deployment')).code, 400);
  });

  it('422 when a JSON patch fails or leaves a non-object', () => {
    const t = fails(() => applyPatch('json', deploy(), [{ op: 'test', path: '/spec/replicas', value: 2 }], 'Deployment'));
    assert.equal(t.code, 422);
    assert.match(t.message, /test failed at "\/spec\/replicas": found 1, expected 2/);
    const root = fails(() => applyPatch('json', deploy(), [{ op: 'replace', path: '', value: 'x' }], 'Deployment'));
    assert.equal(root.code, 422);
    assert.match(root.message, /must be an object/);
  });
});
