import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dashedIP, labelsOf, parseName, reverseName, undashIP } from './names.js';

const D = 'cluster.local';

test('service, endpoint and SRV names under <ns>.svc, case-insensitive, trailing dot optional', () => {
  assert.deepEqual(parseName('Web.Default.SVC.Cluster.Local.', D), { kind: 'service', namespace: 'default', service: 'web' });
  assert.deepEqual(parseName('db-0.db.default.svc.cluster.local', D), { kind: 'endpoint', namespace: 'default', service: 'db', endpoint: 'db-0' });
  assert.deepEqual(parseName('_http._TCP.web.default.svc.cluster.local', D), { kind: 'srv', namespace: 'default', service: 'web', port: 'http', protocol: 'tcp' });
  assert.deepEqual(parseName('_tcp.web.default.svc.cluster.local', D), { kind: 'srvproto', namespace: 'default', service: 'web', protocol: 'tcp' });
  assert.deepEqual(parseName('default.svc.cluster.local', D), { kind: 'namespace', namespace: 'default', tree: 'svc' });
});

test('the apex, its fixed subtrees, and shapes the scheme does not define', () => {
  assert.deepEqual(parseName('cluster.local', D), { kind: 'apex' });
  assert.deepEqual(parseName('svc.cluster.local', D), { kind: 'fixed' });
  assert.deepEqual(parseName('pod.cluster.local', D), { kind: 'fixed' });
  assert.deepEqual(parseName('foo.cluster.local', D), { kind: 'none' });
  assert.deepEqual(parseName('a.b.c.d.default.svc.cluster.local', D), { kind: 'none' });
  assert.deepEqual(parseName('_x.y.web.default.svc.cluster.local', D), { kind: 'none' });
});

test('pod names are dashed IPv4 addresses; anything else under pod is NXDOMAIN material', () => {
  assert.deepEqual(parseName('10-244-0-5.default.pod.cluster.local', D), { kind: 'pod', namespace: 'default', ip: '10.244.0.5' });
  assert.deepEqual(parseName('10-244-0-999.default.pod.cluster.local', D), { kind: 'none' });
  assert.deepEqual(parseName('web.default.pod.cluster.local', D), { kind: 'none' });
  assert.deepEqual(parseName('default.pod.cluster.local', D), { kind: 'namespace', namespace: 'default', tree: 'pod' });
});

test('names outside the cluster domain, and a different cluster domain', () => {
  assert.deepEqual(parseName('example.com', D), { kind: 'outside' });
  assert.deepEqual(parseName('local', D), { kind: 'outside' });
  assert.deepEqual(parseName('.', D), { kind: 'outside' });
  assert.deepEqual(parseName('notcluster.local', D), { kind: 'outside' });
  assert.deepEqual(parseName('web.default.svc.cluster.local', 'skiff.internal'), { kind: 'outside' });
  assert.deepEqual(parseName('web.default.svc.skiff.internal', 'skiff.internal'), { kind: 'service', namespace: 'default', service: 'web' });
});

test('reverse names: full IPv4 addresses only', () => {
  assert.deepEqual(parseName('10.0.96.10.in-addr.arpa', D), { kind: 'reverse', ip: '10.96.0.10' });
  assert.deepEqual(parseName('10.0.96.10.IN-ADDR.ARPA.', D), { kind: 'reverse', ip: '10.96.0.10' });
  assert.deepEqual(parseName('0.96.10.in-addr.arpa', D), { kind: 'outside' });
  assert.deepEqual(parseName('256.0.96.10.in-addr.arpa', D), { kind: 'outside' });
  assert.deepEqual(parseName('01.0.96.10.in-addr.arpa', D), { kind: 'outside' });
  assert.equal(reverseName('10.96.0.10'), '10.0.96.10.in-addr.arpa');
});

test('helpers: labels, dashed IPs', () => {
  assert.deepEqual(labelsOf('A.b.C.'), ['a', 'b', 'c']);
  assert.deepEqual(labelsOf(''), []);
  assert.equal(dashedIP('10.244.1.5'), '10-244-1-5');
  assert.equal(undashIP('10-244-1-5'), '10.244.1.5');
  assert.equal(undashIP('10-244-1'), undefined);
  assert.equal(undashIP('a-b-c-d'), undefined);
});
