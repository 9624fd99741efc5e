import { test } from 'node:test';
import assert from 'node:assert/strict';
import { conntrackArgs, staleUdpFlows } from './conntrack.js';
import type { ServicePort } from './model.js';

const port = (eps: string[], extra: Partial<ServicePort> = {}): ServicePort => ({
  key: 'kube-system/kube-dns:dns',
  service: 'kube-system/kube-dns',
  protocol: 'UDP',
  clusterIP: '10.96.0.10',
  port: 53,
  nodePort: 0,
  externalIPs: [],
  affinitySeconds: 0,
  internal: eps.map((ip) => ({ ip, port: 53 })),
  external: eps.map((ip) => ({ ip, port: 53 })),
  externalLocal: false,
  hasEndpoints: eps.length > 0,
  ...extra,
});

test('a UDP endpoint that left: its flows to the ClusterIP, external IPs and NodePort go', () => {
  const before = [port(['10.244.0.5', '10.244.0.6'], { externalIPs: ['192.0.2.1'], nodePort: 30053 })];
  const after = [port(['10.244.0.6'], { externalIPs: ['192.0.2.1'], nodePort: 30053 })];
  assert.deepEqual(staleUdpFlows(before, after), [
    { dst: '10.96.0.10', port: 53, endpoint: '10.244.0.5' },
    { dst: '192.0.2.1', port: 53, endpoint: '10.244.0.5' },
    { port: 30053, endpoint: '10.244.0.5' },
  ]);
});

test('nothing for TCP, for unchanged endpoints, or for a new service; everything for a deleted one', () => {
  assert.deepEqual(staleUdpFlows([port(['10.244.0.5'], { protocol: 'TCP' })], []), []);
  assert.deepEqual(staleUdpFlows([port(['10.244.0.5'])], [port(['10.244.0.5'])]), []);
  assert.deepEqual(staleUdpFlows([], [port(['10.244.0.5'])]), []);
  assert.deepEqual(staleUdpFlows([port(['10.244.0.5'])], []), [{ dst: '10.96.0.10', port: 53, endpoint: '10.244.0.5' }]);
});

test('conntrack -D arguments', () => {
  assert.deepEqual(conntrackArgs({ dst: '10.96.0.10', port: 53, endpoint: '10.244.0.5' }), ['-D', '-p', 'udp', '--orig-dst', '10.96.0.10', '--orig-port-dst', '53', '--dst-nat', '10.244.0.5']);
  assert.deepEqual(conntrackArgs({ port: 30053, endpoint: '10.244.0.5' }), ['-D', '-p', 'udp', '--orig-port-dst', '30053', '--dst-nat', '10.244.0.5']);
});
