import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Answer, RecordType } from 'dns-packet';
import { Indexer } from '../../controlplane/controllers/store.js';
import { sampleCluster, service, slice } from './fixtures.js';
import { resolveQuestion, type ZoneOptions } from './resolve.js';
import { IndexedView } from './view.js';

const Z: ZoneOptions = { domain: 'cluster.local', ttl: 5 };
const view = sampleCluster();
const ask = (name: string, type: string, v = view) => resolveQuestion({ name, type: type as RecordType, class: 'IN' }, v, Z);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const data = (rs: Answer[]): unknown[] => rs.map((r) => (r as any).data);
const SOA = { name: 'cluster.local', type: 'SOA', ttl: 5, data: { mname: 'ns.dns.cluster.local', rname: 'hostmaster.cluster.local', serial: 42, refresh: 7200, retry: 1800, expire: 86400, minimum: 5 } };

test('a ClusterIP service: A is its ClusterIP, authoritative, TTL 5; the owner name is the name as asked', () => {
  const r = ask('Web.Default.svc.cluster.local', 'A');
  assert.equal(r.rcode, 'NOERROR');
  assert.equal(r.authoritative, true);
  assert.deepEqual(r.answers, [{ name: 'Web.Default.svc.cluster.local', type: 'A', ttl: 5, data: '10.96.5.5' }]);
  assert.deepEqual(r.authorities, []);
});

test('NODATA for an existing name of another type: NOERROR, no answer, SOA in authority', () => {
  const r = ask('web.default.svc.cluster.local', 'AAAA');
  assert.equal(r.rcode, 'NOERROR');
  assert.deepEqual(r.answers, []);
  assert.deepEqual(r.authorities, [SOA]);
  assert.equal(ask('web.default.svc.cluster.local', 'TXT').rcode, 'NOERROR');
  // A namespace with services exists (an empty non-terminal) ...
  assert.equal(ask('default.svc.cluster.local', 'A').rcode, 'NOERROR');
  // ... one without does not.
  assert.equal(ask('nosuch.svc.cluster.local', 'A').rcode, 'NXDOMAIN');
});

test('NXDOMAIN with the SOA for names under the zone that do not exist', () => {
  for (const n of ['nope.default.svc.cluster.local', 'web.nosuch.svc.cluster.local', 'x.cluster.local', 'db-9.db.default.svc.cluster.local']) {
    const r = ask(n, 'A');
    assert.equal(r.rcode, 'NXDOMAIN', n);
    assert.equal(r.authoritative, true);
    assert.deepEqual(r.authorities, [SOA], n);
  }
});

test('a headless service: every ready endpoint address; not-ready ones are left out', () => {
  const r = ask('db.default.svc.cluster.local', 'A');
  assert.deepEqual(data(r.answers), ['10.244.0.11', '10.244.0.12', '10.244.0.14']);
});

test('endpoint names of a headless service: by hostname, or by dashed IP without one; none for ClusterIP services', () => {
  assert.deepEqual(data(ask('db-1.db.default.svc.cluster.local', 'A').answers), ['10.244.0.12']);
  assert.deepEqual(data(ask('10-244-0-14.db.default.svc.cluster.local', 'A').answers), ['10.244.0.14']);
  assert.equal(ask('db-2.db.default.svc.cluster.local', 'A').rcode, 'NXDOMAIN', 'not ready');
  assert.equal(ask('10-244-0-21.web.default.svc.cluster.local', 'A').rcode, 'NXDOMAIN', 'ClusterIP services have no endpoint names');
});

test('SRV of a ClusterIP service: the service port and name, with its address as additional', () => {
  const r = ask('_http._tcp.web.default.svc.cluster.local', 'SRV');
  assert.deepEqual(r.answers, [{ name: '_http._tcp.web.default.svc.cluster.local', type: 'SRV', ttl: 5, data: { priority: 0, weight: 100, port: 80, target: 'web.default.svc.cluster.local' } }]);
  assert.deepEqual(r.additionals, [{ name: 'web.default.svc.cluster.local', type: 'A', ttl: 5, data: '10.96.5.5' }]);
  assert.deepEqual(data(ask('_dns._udp.web.default.svc.cluster.local', 'SRV').answers), [{ priority: 0, weight: 100, port: 53, target: 'web.default.svc.cluster.local' }]);
  assert.equal(ask('_dns._tcp.web.default.svc.cluster.local', 'SRV').rcode, 'NXDOMAIN', 'the dns port is UDP');
  assert.equal(ask('_nope._tcp.web.default.svc.cluster.local', 'SRV').rcode, 'NXDOMAIN');
  assert.equal(ask('_tcp.web.default.svc.cluster.local', 'SRV').rcode, 'NOERROR', 'the _tcp level exists');
  assert.equal(ask('_sctp.web.default.svc.cluster.local', 'SRV').rcode, 'NXDOMAIN');
  // An SRV name asked for its A records: it exists, with other types.
  assert.equal(ask('_http._tcp.web.default.svc.cluster.local', 'A').rcode, 'NOERROR');
});

test('SRV of a headless service: one record per ready endpoint on the slice port, targets resolvable', () => {
  const r = ask('_pg._tcp.db.default.svc.cluster.local', 'SRV');
  assert.deepEqual(data(r.answers), [
    { priority: 0, weight: 33, port: 15432, target: 'db-0.db.default.svc.cluster.local' },
    { priority: 0, weight: 33, port: 15432, target: 'db-1.db.default.svc.cluster.local' },
    { priority: 0, weight: 33, port: 15432, target: '10-244-0-14.db.default.svc.cluster.local' },
  ]);
  assert.deepEqual(
    r.additionals.map((a) => [a.name, (a as { data: unknown }).data]),
    [
      ['db-0.db.default.svc.cluster.local', '10.244.0.11'],
      ['db-1.db.default.svc.cluster.local', '10.244.0.12'],
      ['10-244-0-14.db.default.svc.cluster.local', '10.244.0.14'],
    ],
  );
});

test('ExternalName: a CNAME; followed inside the zone, left to the client outside it; loops end', () => {
  const ext = ask('ext.default.svc.cluster.local', 'A');
  assert.equal(ext.rcode, 'NOERROR');
  assert.deepEqual(ext.answers, [{ name: 'ext.default.svc.cluster.local', type: 'CNAME', ttl: 5, data: 'db.other.example.com' }]);
  const alias = ask('alias.default.svc.cluster.local', 'A');
  assert.deepEqual(
    alias.answers.map((a) => [a.name, a.type, (a as { data: unknown }).data]),
    [
      ['alias.default.svc.cluster.local', 'CNAME', 'web.default.svc.cluster.local'],
      ['web.default.svc.cluster.local', 'A', '10.96.5.5'],
    ],
  );
  const loop = ask('loop1.default.svc.cluster.local', 'A');
  assert.equal(loop.rcode, 'NOERROR');
  assert.deepEqual(data(loop.answers), ['loop2.default.svc.cluster.local', 'loop1.default.svc.cluster.local']);
  assert.deepEqual(data(ask('ext.default.svc.cluster.local', 'CNAME').answers), ['db.other.example.com']);
});

test('pod names answer the dashed address', () => {
  assert.deepEqual(data(ask('10-244-3-4.anyns.pod.cluster.local', 'A').answers), ['10.244.3.4']);
  assert.equal(ask('10-244-3-4.anyns.pod.cluster.local', 'AAAA').rcode, 'NOERROR');
});

test('PTR for ClusterIPs and named headless endpoints; other addresses are not ours', () => {
  assert.deepEqual(data(ask('5.5.96.10.in-addr.arpa', 'PTR').answers), ['web.default.svc.cluster.local']);
  assert.deepEqual(data(ask('11.0.244.10.in-addr.arpa', 'PTR').answers), ['db-0.db.default.svc.cluster.local']);
  assert.equal(ask('9.9.9.9.in-addr.arpa', 'PTR').rcode, 'REFUSED');
});

test('names outside the zone and other classes are REFUSED, never answered or forwarded', () => {
  for (const n of ['example.com', 'kubernetes.io', '.', 'local']) {
    const r = ask(n, 'A');
    assert.equal(r.rcode, 'REFUSED', n);
    assert.equal(r.authoritative, false);
    assert.deepEqual(r.answers, []);
  }
  assert.equal(resolveQuestion({ name: 'web.default.svc.cluster.local', type: 'A', class: 'CH' }, view, Z).rcode, 'REFUSED');
});

test('the apex answers SOA; ANY returns every record at a name', () => {
  assert.deepEqual(ask('cluster.local', 'SOA').answers, [SOA]);
  assert.deepEqual(data(ask('web.default.svc.cluster.local', 'ANY').answers), ['10.96.5.5']);
});

test('answers follow the cache as it changes; the SOA serial moves on', () => {
  const services = new Indexer();
  const slices = new Indexer();
  const v = new IndexedView(services, slices, 100);
  assert.equal(ask('late.ns1.svc.cluster.local', 'A', v).rcode, 'NXDOMAIN');
  services.upsert(service('ns1', 'late', { clusterIP: 'None' }));
  v.changed();
  const empty = ask('late.ns1.svc.cluster.local', 'A', v);
  assert.equal(empty.rcode, 'NOERROR', 'a headless service without endpoints exists');
  assert.equal((empty.authorities[0] as { data: { serial: number } }).data.serial, 101);
  slices.upsert(slice('ns1', 'late', 'late-1', [{ ip: '10.244.9.9', ready: true }]));
  assert.deepEqual(data(ask('late.ns1.svc.cluster.local', 'A', v).answers), ['10.244.9.9']);
  slices.upsert(slice('ns1', 'late', 'late-1', [{ ip: '10.244.9.9', ready: false }]));
  assert.deepEqual(ask('late.ns1.svc.cluster.local', 'A', v).answers, []);
});
