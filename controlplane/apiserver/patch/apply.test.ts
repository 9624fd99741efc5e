import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatusError } from '../../../common/errors.js';
import { applyConfiguration, parseApplyBody } from './apply.js';

const config = () => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', labels: { app: 'web' } },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: { containers: [{ name: 'web', image: 'nginx:1.26', env: [{ name: 'A', value: '1' }] }] },
    },
  },
});

function code(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof StatusError, String(e));
    return e.code;
  }
  return 0;
}

describe('server-side apply', () => {
  it('creates: the result is the configuration, without nulls', () => {
    const cfg = { ...config(), status: null };
    const out = applyConfiguration(undefined, cfg, 'Deployment');
    assert.deepEqual(out, config());
    assert.notEqual(out.metadata, cfg.metadata);
  });

  it('merges into the live object with merge keys, keeping server-set fields', () => {
    const live = {
      ...config(),
      metadata: { name: 'web', labels: { app: 'web', team: 'x' }, uid: 'u1', resourceVersion: '7' },
      status: { replicas: 2 },
    };
    live.spec.template.spec.containers[0] = {
      ...live.spec.template.spec.containers[0],
      imagePullPolicy: 'IfNotPresent',
    } as (typeof live.spec.template.spec.containers)[0];
    const applied = config();
    applied.spec.replicas = 3;
    applied.spec.template.spec.containers[0].image = 'nginx:1.27';
    applied.spec.template.spec.containers[0].env.push({ name: 'B', value: '2' });

    const out = applyConfiguration(live, applied, 'Deployment') as Record<string, any>;
    assert.equal(out.spec.replicas, 3);
    assert.deepEqual(out.metadata.labels, { app: 'web', team: 'x' });
    assert.equal(out.metadata.uid, 'u1');
    assert.deepEqual(out.status, { replicas: 2 });
    const c = out.spec.template.spec.containers;
    assert.equal(c.length, 1);
    assert.equal(c[0].image, 'nginx:1.27');
    assert.equal(c[0].imagePullPolicy, 'IfNotPresent');
    assert.deepEqual(c[0].env, [{ name: 'A', value: '1' }, { name: 'B', value: '2' }]);
  });

  it('a null in the configuration does not delete a live field', () => {
    const live = { ...config(), metadata: { name: 'web', labels: { app: 'web', team: 'x' } } };
    const applied = { ...config(), metadata: { name: 'web', labels: { app: 'web', team: null } } };
    const out = applyConfiguration(live, applied, 'Deployment') as Record<string, any>;
    assert.deepEqual(out.metadata.labels, { app: 'web', team: 'x' });
  });

  it('accepts the raw YAML or JSON body', () => {
    const yamlBody = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: "v"\n';
    assert.deepEqual(applyConfiguration(undefined, yamlBody, 'ConfigMap'), {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c' },
      data: { k: 'v' },
    });
    assert.deepEqual(parseApplyBody('{"a": [1, "2"]}'), { a: [1, '2'] });
  });

  it('never mutates the live object or the configuration', () => {
    const live = config();
    const applied = { ...config(), spec: { ...config().spec, replicas: 9 } };
    const snapshot = structuredClone({ live, applied });
    applyConfiguration(live, applied, 'Deployment');
    assert.deepEqual({ live, applied }, snapshot);
  });

  it('400 for configurations that cannot be applied', () => {
    assert.equal(code(() => applyConfiguration(undefined, [], 'Deployment')), 400);
    assert.equal(code(() => applyConfiguration(undefined, 'a: [', 'Deployment')), 400);
    assert.equal(code(() => applyConfiguration(undefined, { kind: 'Deployment' }, 'Deployment')), 400);
    assert.equal(code(() => applyConfiguration(undefined, { apiVersion: 'apps/v1' }, 'Deployment')), 400);
    assert.equal(code(() => applyConfiguration(undefined, { ...config(), kind: 'StatefulSet' }, 'Deployment')), 400);
    assert.equal(code(() => applyConfiguration(undefined, { ...config(), spec: { $patch: 'replace' } }, 'Deployment')), 400);
  });
});
