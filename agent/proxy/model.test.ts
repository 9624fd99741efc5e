import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allServicePorts, isIPv4, parseCIDR, servicePorts, sliceService } from './model.js';
import { NODE, SERVICES, SLICES, TOPOLOGY, slice, svc } from './fixtures.js';

const ips = (eps: { ip: string; port: number }[]): string[] => eps.map((e) => `${e.ip}:${e.port}`);

test('services without a ClusterIP get no rules; ports are sorted by key', () => {
  const ports = allServicePorts(SERVICES, SLICES, TOPOLOGY);
  assert.deepEqual(ports.map((p) => p.key), ['default/empty:dns', 'default/local', 'default/sticky', 'default/web']);
});

test('ready endpoints only, sorted by address; terminating and not-ready ones leave the rotation', () => {
  const [web] = servicePorts(SERVICES[0]!, [SLICES[0]!], TOPOLOGY);
  assert.deepEqual(ips(web!.internal), ['10.244.0.4:8080', '10.244.0.5:8080', '10.244.1.7:8080']);
  assert.equal(web!.nodePort, 30080);
  assert.deepEqual(web!.externalIPs, ['192.0.2.10']);
  assert.equal(web!.hasEndpoints, true);
});

test('unset conditions.ready counts as ready (discovery/v1); a duplicate across slices counts once', () => {
  const s1 = slice('web', [{ ip: '10.244.0.4' }]);
  delete s1.endpoints[0].conditions;
  const s2 = slice('web', [{ ip: '10.244.0.4', ready: false }], undefined, 'default', 'web-2');
  const [web] = servicePorts(SERVICES[0]!, [s2, s1], TOPOLOGY);
  assert.deepEqual(ips(web!.internal), ['10.244.0.4:8080']);
});

test('internalTrafficPolicy Local keeps only this node\'s endpoints; the service still "has endpoints"', () => {
  const local = servicePorts(SERVICES[3]!, [SLICES[3]!], TOPOLOGY)[0]!;
  assert.deepEqual(local.internal, []);
  assert.equal(local.hasEndpoints, true);
  const mine = servicePorts(SERVICES[3]!, [slice('local', [{ ip: '10.244.0.8', node: NODE }, { ip: '10.244.1.8', node: 'node-b' }], [{ name: '', port: 80, protocol: 'TCP' }])], TOPOLOGY)[0]!;
  assert.deepEqual(ips(mine.internal), ['10.244.0.8:80']);
});

test('externalTrafficPolicy Local: NodePort endpoints local only, ClusterIP ones all', () => {
  const s = svc('etp', { clusterIP: '10.96.0.30', type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ port: 80, nodePort: 30001 }] });
  const [p] = servicePorts(s, [slice('etp', [{ ip: '10.244.0.8' }, { ip: '10.244.1.8', node: 'node-b' }])], TOPOLOGY);
  assert.deepEqual(ips(p!.external), ['10.244.0.8:8080']);
  assert.equal(ips(p!.internal).length, 2);
  assert.equal(p!.externalLocal, true);
});

test('named ports: a slice port matches by name and protocol and gives the target port', () => {
  const s = svc('multi', { clusterIP: '10.96.0.31', ports: [{ name: 'http', port: 80 }, { name: 'dns', port: 53, protocol: 'UDP' }] });
  const sl = slice('multi', [{ ip: '10.244.0.8' }], [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'dns', port: 5353, protocol: 'UDP' }]);
  const ports = servicePorts(s, [sl], TOPOLOGY);
  assert.deepEqual(ports.map((p) => [p.key, p.protocol, ips(p.internal)]), [
    ['default/multi:http', 'TCP', ['10.244.0.8:8080']],
    ['default/multi:dns', 'UDP', ['10.244.0.8:5353']],
  ]);
});

test('sessionAffinity ClientIP: the timeout, 10800 s by default', () => {
  assert.equal(servicePorts(SERVICES[1]!, [], TOPOLOGY)[0]!.affinitySeconds, 600);
  const d = svc('d', { clusterIP: '10.96.0.32', sessionAffinity: 'ClientIP', ports: [{ port: 80 }] });
  assert.equal(servicePorts(d, [], TOPOLOGY)[0]!.affinitySeconds, 10800);
  assert.equal(servicePorts(SERVICES[0]!, [], TOPOLOGY)[0]!.affinitySeconds, 0);
});

test('slices of other services, other namespaces and IPv6 are ignored; NodePort only for NodePort/LoadBalancer', () => {
  const other = slice('web', [{ ip: '10.244.0.50' }], undefined, 'other-ns');
  const v6 = { ...slice('web', [{ ip: 'fd00::1' }]), addressType: 'IPv6' };
  const [web] = servicePorts(SERVICES[0]!, [other, v6], TOPOLOGY);
  assert.deepEqual(web!.internal, []);
  assert.equal(web!.hasEndpoints, false);
  const cip = svc('c', { clusterIP: '10.96.0.33', ports: [{ port: 80, nodePort: 30002 }] });
  assert.equal(servicePorts(cip, [], TOPOLOGY)[0]!.nodePort, 0);
  assert.equal(sliceService(other), 'other-ns/web');
});

test('isIPv4 and parseCIDR', () => {
  assert.ok(isIPv4('10.96.0.1'));
  assert.ok(!isIPv4('10.96.0.256'));
  assert.ok(!isIPv4('None'));
  assert.deepEqual(parseCIDR('10.244.0.0/16'), { base: (10 << 24 >>> 0) + (244 << 16), bits: 16 });
  assert.throws(() => parseCIDR('10.244.0.0'), /not an IPv4 CIDR/);
});
