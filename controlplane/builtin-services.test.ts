import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { logger } from '../common/log.js';
import { StatusError } from '../common/errors.js';
import { Registry } from './apiserver/registry.js';
import { findResource } from './apiserver/resources.js';
import { SYSTEM_NAMESPACES } from './apiserver/namespaces.js';
import { openStore, type SqliteStore } from './store/index.js';
import { apiEndpointAddress, BuiltinServicesReconciler, dnsServiceIP, kubernetesServiceIP, reconcileBuiltins } from './builtin-services.js';

const SERVICES = findResource('', 'v1', 'services')!;
const ENDPOINTS = findResource('', 'v1', 'endpoints')!;
const SLICES = findResource('discovery.k8s.io', 'v1', 'endpointslices')!;
const NAMESPACES = findResource('', 'v1', 'namespaces')!;
const CIDR = '10.96.0.0/12';
const log = logger('builtin-services-test');

test('addresses: .1 and .10 of the service CIDR', () => {
  assert.equal(kubernetesServiceIP(CIDR), '10.96.0.1');
  assert.equal(dnsServiceIP(CIDR), '10.96.0.10');
  assert.equal(kubernetesServiceIP('10.43.0.0/16'), '10.43.0.1');
  assert.equal(dnsServiceIP('10.43.0.0/16'), '10.43.0.10');
});

test('the kubernetes endpoint address: advertised, bound, else the host address; never loopback', () => {
  assert.equal(apiEndpointAddress({ advertiseAddress: '192.168.56.10', bindAddress: '0.0.0.0', hostIP: '10.0.2.15' }), '192.168.56.10');
  assert.equal(apiEndpointAddress({ advertiseAddress: '127.0.0.1', bindAddress: '0.0.0.0', hostIP: '10.0.2.15' }), '10.0.2.15');
  assert.equal(apiEndpointAddress({ bindAddress: '192.168.56.10', hostIP: '10.0.2.15' }), '192.168.56.10');
  assert.equal(apiEndpointAddress({ bindAddress: '127.0.0.1', hostIP: '10.0.2.15' }), undefined);
  assert.equal(apiEndpointAddress({ bindAddress: '0.0.0.0', hostIP: '127.0.0.1' }), undefined);
});

describe('built-in services on a real registry and SQLite store', () => {
  let store: SqliteStore;
  let reg: Registry;

  before(async () => {
    store = openStore('sqlite', ':memory:');
    reg = new Registry(store, log, { serviceCidr: CIDR });
    await reg.init(SERVICES);
    for (const name of SYSTEM_NAMESPACES) await reg.create(NAMESPACES, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  });

  after(async () => {
    await store?.close();
  });

  test('first pass creates both Services, the Endpoints and the EndpointSlice; the second changes nothing', async () => {
    const first = await reconcileBuiltins(reg, { serviceCidr: CIDR, apiPort: 6443, endpointAddress: '192.168.56.10' }, log);
    assert.deepEqual(first, { kubernetes: 'created', 'kube-dns': 'created', endpoints: 'created', endpointslice: 'created' });
    const k8s = await reg.get(SERVICES, 'default', 'kubernetes');
    assert.equal(k8s.spec.clusterIP, '10.96.0.1');
    assert.deepEqual(k8s.spec.ports, [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }]);
    assert.equal(k8s.spec.selector, undefined);
    const dns = await reg.get(SERVICES, 'kube-system', 'kube-dns');
    assert.equal(dns.spec.clusterIP, '10.96.0.10');
    assert.equal(dns.spec.internalTrafficPolicy, 'Local');
    assert.equal(dns.metadata.labels['k8s-app'], 'kube-dns');
    assert.deepEqual(
      dns.spec.ports.map((p: { name: string; port: number; protocol: string; targetPort: number }) => [p.name, p.port, p.protocol, p.targetPort]),
      [
        ['dns', 53, 'UDP', 10053],
        ['dns-tcp', 53, 'TCP', 10053],
      ],
    );
    const ep = await reg.get(ENDPOINTS, 'default', 'kubernetes');
    assert.deepEqual(ep.subsets, [{ addresses: [{ ip: '192.168.56.10' }], ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] }]);
    const sl = await reg.get(SLICES, 'default', 'kubernetes');
    assert.equal(sl.metadata.labels['kubernetes.io/service-name'], 'kubernetes');
    assert.deepEqual(sl.endpoints[0].addresses, ['192.168.56.10']);
    const again = await reconcileBuiltins(reg, { serviceCidr: CIDR, apiPort: 6443, endpointAddress: '192.168.56.10' }, log);
    assert.deepEqual(again, { kubernetes: 'unchanged', 'kube-dns': 'unchanged', endpoints: 'unchanged', endpointslice: 'unchanged' });
  });

  test('the endpoints follow a new address and port; the kubernetes ports follow the port', async () => {
    const r = await reconcileBuiltins(reg, { serviceCidr: CIDR, apiPort: 7443, endpointAddress: '192.168.56.20' }, log);
    assert.deepEqual(r, { kubernetes: 'updated', 'kube-dns': 'unchanged', endpoints: 'updated', endpointslice: 'updated' });
    assert.equal((await reg.get(SERVICES, 'default', 'kubernetes')).spec.ports[0].targetPort, 7443);
    assert.equal((await reg.get(SERVICES, 'default', 'kubernetes')).spec.clusterIP, '10.96.0.1');
    assert.deepEqual((await reg.get(ENDPOINTS, 'default', 'kubernetes')).subsets[0].addresses, [{ ip: '192.168.56.20' }]);
    assert.deepEqual((await reg.get(SLICES, 'default', 'kubernetes')).ports, [{ name: 'https', port: 7443, protocol: 'TCP' }]);
  });

  test('their addresses are taken: explicit requests fail, dynamic allocation never lands on them', async () => {
    const svc = (name: string, clusterIP?: string) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { ...(clusterIP ? { clusterIP } : {}), ports: [{ port: 80 }] } });
    await assert.rejects(reg.create(SERVICES, 'default', svc('steal', '10.96.0.10')), (e: unknown) => e instanceof StatusError && /already allocated/.test(e.message));
    await assert.rejects(reg.create(SERVICES, 'default', svc('steal', '10.96.0.1')), /already allocated/);
    for (let i = 0; i < 20; i++) {
      const ip = (await reg.create(SERVICES, 'default', svc(`dyn-${i}`))).spec.clusterIP as string;
      assert.ok(!ip.startsWith('10.96.0.'), `${ip} is outside the low band`);
    }
  });

  test('a deleted kube-dns comes back on the next pass; one object failing does not stop the others', async () => {
    const rec = new BuiltinServicesReconciler(reg, { serviceCidr: CIDR, apiPort: 7443, endpointAddress: '192.168.56.20' }, log, 60_000);
    await reg.delete(SERVICES, 'kube-system', 'kube-dns');
    await rec.start();
    assert.equal((await reg.get(SERVICES, 'kube-system', 'kube-dns')).spec.clusterIP, '10.96.0.10');
    // Someone grabs 10.96.0.10 while kube-dns is gone: that object fails, the rest reconcile.
    await reg.delete(SERVICES, 'kube-system', 'kube-dns');
    await reg.delete(SERVICES, 'default', 'kubernetes');
    await reg.create(SERVICES, 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'squatter' }, spec: { clusterIP: '10.96.0.10', ports: [{ port: 53 }] } });
    const r = await reconcileBuiltins(reg, { serviceCidr: CIDR, apiPort: 7443, endpointAddress: '192.168.56.20' }, log);
    assert.match(r['kube-dns'], /^failed: .*already allocated/);
    assert.equal(r.kubernetes, 'created');
    await rec.stop();
  });
});
