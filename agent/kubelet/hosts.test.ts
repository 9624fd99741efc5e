import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostNetworkHostsContent, managedHostsContent, podHostname } from './hosts.js';

test('podHostname: spec.hostname, long names cut to 63 without a trailing dash, subdomain FQDN', () => {
  assert.deepEqual(podHostname({ metadata: { name: 'web-1', namespace: 'ns' }, spec: {} }), { hostname: 'web-1', domain: undefined });
  const long = `${'a'.repeat(62)}-bcd`;
  assert.equal(podHostname({ metadata: { name: long }, spec: {} }).hostname, 'a'.repeat(62));
  assert.deepEqual(podHostname({ metadata: { name: 'x', namespace: 'ns' }, spec: { hostname: 'db-0', subdomain: 'db' } }, 'example.org'), {
    hostname: 'db-0',
    domain: 'db.ns.svc.example.org',
  });
});

test('managedHostsContent: one line per pod IP, aliases section only when there are aliases', () => {
  const text = managedHostsContent({ metadata: { name: 'p' }, spec: {} }, ['10.244.0.3', 'fd00::3']);
  assert.ok(text.startsWith('# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n'));
  assert.ok(text.endsWith('10.244.0.3\tp\nfd00::3\tp\n'));
  assert.ok(!text.includes('HostAliases'));
});

test('hostNetworkHostsContent: the node file with a header, newline added when missing', () => {
  assert.equal(hostNetworkHostsContent('127.0.0.1 localhost'), '# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n');
});
