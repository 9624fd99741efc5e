import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerResourceValue, formatMap, goQuote, podFieldValue, resourceFieldContainer, splitSubscript } from './fieldpath.js';

test('goQuote matches strconv.Quote for escapes and printable Unicode', () => {
  assert.equal(goQuote('plain'), '"plain"');
  assert.equal(goQuote('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(goQuote('l1\nl2\t\r'), '"l1\\nl2\\t\\r"');
  assert.equal(goQuote('\x00\x7f'), '"\\x00\\x7f"');
  assert.equal(goQuote('héllo ✓'), '"héllo ✓"');
});

test('formatMap: sorted key="value" lines, no trailing newline', () => {
  assert.equal(formatMap({ b: '2', a: 'x"y' }), 'a="x\\"y"\nb="2"');
  assert.equal(formatMap(undefined), '');
});

test('splitSubscript and podFieldValue', () => {
  assert.deepEqual(splitSubscript("metadata.labels['app.kubernetes.io/name']"), { path: 'metadata.labels', subscript: 'app.kubernetes.io/name' });
  assert.deepEqual(splitSubscript('metadata.name'), { path: 'metadata.name' });
  const pod = { metadata: { name: 'p', labels: { 'app.kubernetes.io/name': 'web' }, annotations: {} }, spec: {} };
  assert.equal(podFieldValue(pod, "metadata.labels['app.kubernetes.io/name']"), 'web');
  assert.equal(podFieldValue(pod, "metadata.annotations['x']"), '');
  assert.equal(podFieldValue(pod, 'status.podIPs', { podIP: '10.0.0.1' }), '10.0.0.1');
  assert.equal(podFieldValue(pod, 'spec.nodeName'), '');
  assert.throws(() => podFieldValue(pod, "spec.containers['x']"), /unsupported fieldPath/);
});

test('containerResourceValue: ceilings, divisors, allocatable, unsupported resources', () => {
  const c = { name: 'a', resources: { requests: { cpu: '1500m', memory: '100M' } } };
  assert.equal(containerResourceValue({ resource: 'requests.cpu' }, c), '2');
  assert.equal(containerResourceValue({ resource: 'requests.cpu', divisor: '100m' }, c), '15');
  assert.equal(containerResourceValue({ resource: 'requests.memory', divisor: '1Mi' }, c), '96');
  assert.equal(containerResourceValue({ resource: 'limits.memory', divisor: '1Gi' }, c, { memory: '8Gi' }), '8');
  assert.equal(containerResourceValue({ resource: 'limits.cpu' }, c), '0');
  assert.equal(containerResourceValue({ resource: 'requests.cpu', divisor: '0' }, c), '2');
  assert.throws(() => containerResourceValue({ resource: 'limits.gpu' }, c), /unsupported container resource : limits.gpu/);
  const pod = { spec: { initContainers: [{ name: 'init' }], containers: [c] } };
  assert.equal(resourceFieldContainer(pod, { containerName: 'init' }).name, 'init');
  assert.equal(resourceFieldContainer(pod, {}, c), c);
  assert.throws(() => resourceFieldContainer(pod, { containerName: 'zzz' }), /container zzz not found/);
});
