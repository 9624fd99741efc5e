import { test } from 'node:test';
import assert from 'node:assert/strict';
import { downwardPayload, isApiDataVolume, keysPayload, projectedPayload, referencedObjects, volumeKind } from './volume-sources.js';

const text = (p: Map<string, { data: Buffer; mode: number }>): Record<string, [string, number]> =>
  Object.fromEntries([...p].map(([k, v]) => [k, [v.data.toString(), v.mode]]));

test('keysPayload: all keys, items, optional objects and keys', () => {
  const cm = { data: { a: '1' }, binaryData: { b: Buffer.from('2').toString('base64') } };
  assert.deepEqual(text(keysPayload('configmap', 'c', cm, undefined, 0o644, false)), { a: ['1', 0o644], b: ['2', 0o644] });
  assert.deepEqual(text(keysPayload('configmap', 'c', cm, [{ key: 'b', path: 'x/b', mode: 0o600 }, { key: 'zz', path: 'zz' }], 0o644, true)), { 'x/b': ['2', 0o600] });
  assert.deepEqual(text(keysPayload('secret', 's', undefined, undefined, 0o644, true)), {});
  assert.throws(() => keysPayload('secret', 's', undefined, undefined, 0o644, false), /^Error: secret "s" not found$/);
  assert.throws(() => keysPayload('secret', 's', { data: {} }, [{ key: 'k', path: 'k' }], 0o644, false), /references non-existent secret key: k/);
});

test('downwardPayload: every bad item is reported', () => {
  const pod = { metadata: { name: 'p' }, spec: { containers: [{ name: 'c' }] } };
  assert.deepEqual(text(downwardPayload(pod, [{ path: 'n', fieldRef: { fieldPath: 'metadata.name' }, mode: 0o400 }], 0o644)), { n: ['p', 0o400] });
  assert.throws(
    () => downwardPayload(pod, [{ path: 'a', fieldRef: { fieldPath: 'spec.x' } }, { path: 'b', resourceFieldRef: { containerName: 'c', resource: 'limits.gpu' } }], 0o644),
    /^Error: \[unsupported fieldPath: spec.x, unsupported container resource : limits.gpu\]$/,
  );
});

test('projectedPayload: sources merged in order, token skipped without one, unknown sources skipped', () => {
  const projected = {
    defaultMode: 0o440,
    sources: [
      { configMap: { name: 'c' } },
      { secret: { name: 's', items: [{ key: 'k', path: 'k' }] } },
      { serviceAccountToken: { path: 'token' } },
      { clusterTrustBundle: { name: 'b', path: 'ca' } },
    ],
  };
  const fetched = {
    configMaps: new Map([['c', { data: { k: 'from-cm', other: 'o' } }]]),
    secrets: new Map([['s', { data: { k: Buffer.from('from-secret').toString('base64') } }]]),
    tokens: new Map<string, string>(),
  };
  const r = projectedPayload({ metadata: {} }, projected, fetched);
  assert.deepEqual(text(r.payload), { k: ['from-secret', 0o440], other: ['o', 0o440] });
  assert.deepEqual(r.skipped, ['serviceAccountToken token', 'source clusterTrustBundle']);
  assert.deepEqual(referencedObjects({ projected }), { configMaps: ['c'], secrets: ['s'] });
});

test('volumeKind and isApiDataVolume', () => {
  assert.equal(volumeKind({ name: 'x', emptyDir: {} }), 'emptyDir');
  assert.equal(volumeKind({ name: 'x', persistentVolumeClaim: { claimName: 'c' } }), 'persistentVolumeClaim');
  assert.ok(isApiDataVolume({ name: 'x', projected: { sources: [] } }));
  assert.ok(!isApiDataVolume({ name: 'x', hostPath: { path: '/' } }));
});
