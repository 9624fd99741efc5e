import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatResolvConf, parseResolvConf, podDNSConfig, podDNSType, resolvConfFor, type DNSOptions } from './dns.js';
import type { Obj } from './fieldpath.js';

const HOST_TEXT = `# generated
nameserver 192.168.56.1
nameserver 192.168.56.2 ; second
search old.example
search lab.example corp.example.
options timeout:2 attempts:3
`;
const host = parseResolvConf(HOST_TEXT);
const OPTS: DNSOptions = { clusterDNS: '10.96.0.10', clusterDomain: 'cluster.local', hostResolvConf: '/etc/resolv.conf' };
const pod = (spec: Obj = {}): Obj => ({ metadata: { name: 'p', namespace: 'team-a' }, spec });

test('parseResolvConf: comments, last search line wins, trailing dots dropped', () => {
  assert.deepEqual(host, {
    servers: ['192.168.56.1', '192.168.56.2'],
    searches: ['lab.example', 'corp.example'],
    options: ['timeout:2', 'attempts:3'],
  });
});

test('podDNSType: policies and the hostNetwork fallback', () => {
  assert.equal(podDNSType(pod()), 'cluster');
  assert.equal(podDNSType(pod({ dnsPolicy: 'ClusterFirst', hostNetwork: true })), 'host');
  assert.equal(podDNSType(pod({ dnsPolicy: 'ClusterFirstWithHostNet', hostNetwork: true })), 'cluster');
  assert.equal(podDNSType(pod({ dnsPolicy: 'Default' })), 'host');
  assert.equal(podDNSType(pod({ dnsPolicy: 'None' })), 'none');
});

test('ClusterFirst: cluster server, namespace searches then host searches, ndots:5', () => {
  const r = podDNSConfig(pod({ dnsPolicy: 'ClusterFirst' }), OPTS, host);
  assert.deepEqual(r.servers, ['10.96.0.10']);
  assert.deepEqual(r.searches, ['team-a.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'lab.example', 'corp.example']);
  assert.deepEqual(r.options, ['ndots:5']);
  assert.deepEqual(r.warnings, []);
});

test('hostNetwork + ClusterFirst and Default use the host resolv.conf', () => {
  for (const spec of [{ hostNetwork: true }, { dnsPolicy: 'Default' }]) {
    const r = podDNSConfig(pod(spec), OPTS, host);
    assert.deepEqual({ servers: r.servers, searches: r.searches, options: r.options }, host);
  }
  const withHostNet = podDNSConfig(pod({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' }), OPTS, host);
  assert.deepEqual(withHostNet.servers, ['10.96.0.10']);
});

test('no cluster DNS: ClusterFirst falls back to Default with a warning', () => {
  const r = podDNSConfig(pod(), { ...OPTS, clusterDNS: [] }, host);
  assert.deepEqual(r.servers, host.servers);
  assert.equal(r.warnings[0].reason, 'MissingClusterDNS');
});

test('empty hostResolvConf means localhost and search "."', () => {
  const r = podDNSConfig(pod({ dnsPolicy: 'Default' }), { ...OPTS, hostResolvConf: '' }, parseResolvConf(''));
  assert.deepEqual([r.servers, r.searches], [['127.0.0.1'], ['.']]);
});

test('None with dnsConfig; dnsConfig merged with dedup and options overriding by name', () => {
  const none = podDNSConfig(
    pod({ dnsPolicy: 'None', dnsConfig: { nameservers: ['1.2.3.4'], searches: ['a.example'], options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }] } }),
    OPTS,
    host,
  );
  assert.deepEqual([none.servers, none.searches, none.options], [['1.2.3.4'], ['a.example'], ['ndots:2', 'edns0']]);
  const merged = podDNSConfig(
    pod({ dnsConfig: { nameservers: ['10.96.0.10', '10.0.0.2'], searches: ['cluster.local', 'x.example'], options: [{ name: 'ndots', value: '1' }, { name: 'single-request' }] } }),
    OPTS,
    host,
  );
  assert.deepEqual(merged.servers, ['10.96.0.10', '10.0.0.2']);
  assert.deepEqual(merged.searches, ['team-a.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'lab.example', 'corp.example', 'x.example']);
  assert.deepEqual(merged.options, ['ndots:1', 'single-request']);
});

test('limits: 3 nameservers, 32 searches, 2048 characters, over-long domains dropped', () => {
  const servers = podDNSConfig(pod({ dnsConfig: { nameservers: ['10.0.0.1', '10.0.0.2', '10.0.0.3'] } }), OPTS, host);
  assert.deepEqual(servers.servers, ['10.96.0.10', '10.0.0.1', '10.0.0.2']);
  assert.match(servers.warnings[0].message, /^Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 10.96.0.10 10.0.0.1 10.0.0.2$/);
  const many = Array.from({ length: 40 }, (_, i) => `d${i}.example`);
  const r = podDNSConfig(pod({ dnsPolicy: 'None', dnsConfig: { searches: many } }), OPTS, host);
  assert.equal(r.searches.length, 32);
  assert.equal(r.warnings[0].reason, 'DNSConfigForming');
  assert.match(r.warnings[0].message, /^Search Line limits were exceeded/);
  const long = Array.from({ length: 20 }, (_, i) => `${String(i).padStart(3, '0')}.${'x'.repeat(200)}`);
  const l = podDNSConfig(pod({ dnsPolicy: 'None', dnsConfig: { searches: [...long, 'y'.repeat(260)] } }), OPTS, host);
  assert.ok(l.searches.join(' ').length <= 2048);
  assert.equal(l.searches.length, 9);
  assert.ok(!l.searches.includes('y'.repeat(260)));
});

test('resolvConfFor reads the host file; a missing file reads as empty', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-dns-'));
  try {
    const file = join(dir, 'resolv.conf');
    await writeFile(file, HOST_TEXT);
    const r = await resolvConfFor(pod({ dnsPolicy: 'Default' }), { ...OPTS, hostResolvConf: file });
    assert.deepEqual(r.servers, host.servers);
    const c = await resolvConfFor(pod(), { ...OPTS, hostResolvConf: join(dir, 'missing') });
    assert.deepEqual(c.searches, ['team-a.svc.cluster.local', 'svc.cluster.local', 'cluster.local']);
    assert.equal(formatResolvConf(c), 'nameserver 10.96.0.10\nsearch team-a.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
