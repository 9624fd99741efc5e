import { test } from 'node:test';
import assert from 'node:assert/strict';
import { desiredDnsSlice, dnsSliceName, sliceDiffers } from './publisher.js';
import { listenAddresses } from './index.js';

test('the slice a node publishes: its IP, nodeName, ready, dns and dns-tcp ports, owned by its Node', () => {
  const s = desiredDnsSlice({ nodeName: 'n1', nodeIP: '192.168.56.11', port: 10053, nodeUid: 'u1' });
  assert.equal(dnsSliceName('n1'), 'kube-dns-n1');
  assert.deepEqual(s.metadata, {
    name: 'kube-dns-n1',
    namespace: 'kube-system',
    labels: { 'kubernetes.io/service-name': 'kube-dns', 'endpointslice.kubernetes.io/managed-by': 'skiff-agent' },
    ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'u1' }],
  });
  assert.equal(s.addressType, 'IPv4');
  assert.deepEqual(s.endpoints, [{ addresses: ['192.168.56.11'], conditions: { ready: true, serving: true, terminating: false }, nodeName: 'n1' }]);
  assert.deepEqual(s.ports, [
    { name: 'dns', port: 10053, protocol: 'UDP' },
    { name: 'dns-tcp', port: 10053, protocol: 'TCP' },
  ]);
  assert.equal(desiredDnsSlice({ nodeName: 'n1', nodeIP: 'fd00::1', port: 53 }).addressType, 'IPv6');
  assert.deepEqual(desiredDnsSlice({ nodeName: 'n1', nodeIP: '10.0.0.1', port: 53 }).metadata.ownerReferences, []);
});

test('sliceDiffers: only what the publisher sets counts; server-added metadata does not', () => {
  const want = desiredDnsSlice({ nodeName: 'n1', nodeIP: '10.0.0.1', port: 10053, nodeUid: 'u1' });
  const stored = JSON.parse(JSON.stringify(want));
  stored.metadata = { ...stored.metadata, uid: 'x', resourceVersion: '9', creationTimestamp: 'now', labels: { ...stored.metadata.labels, extra: 'kept' } };
  assert.equal(sliceDiffers(stored, want), false);
  for (const edit of [
    (s: typeof stored) => (s.endpoints[0].addresses = ['10.0.0.2']),
    (s: typeof stored) => (s.endpoints[0].conditions.ready = false),
    (s: typeof stored) => (s.ports[0].port = 53),
    (s: typeof stored) => delete s.metadata.labels['kubernetes.io/service-name'],
    (s: typeof stored) => (s.metadata.ownerReferences = []),
  ]) {
    const s = JSON.parse(JSON.stringify(stored));
    edit(s);
    assert.equal(sliceDiffers(s, want), true, String(edit));
  }
});

test('listen addresses: the node IP, plus loopback for host tools unless the node IP is loopback', () => {
  assert.deepEqual(listenAddresses('192.168.56.11', true), ['192.168.56.11', '127.0.0.1']);
  assert.deepEqual(listenAddresses('127.0.0.1', true), ['127.0.0.1']);
  assert.deepEqual(listenAddresses('192.168.56.11', false), ['192.168.56.11']);
});
