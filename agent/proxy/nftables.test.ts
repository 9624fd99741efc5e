/**
 * Golden tests of the nftables ruleset: the whole table for the fixture cluster
 * (fixtures.ts), and the partial payload after two services changed. The text
 * below is exactly what `nft -f` receives; test/proxy.test.ts applies it for real.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allServicePorts, type ServicePort } from './model.js';
import { NftRuleset, affinityRules, lbRules } from './nftables.js';
import { SERVICES, SLICES, TOPOLOGY, slice } from './fixtures.js';

function byService(ports: ServicePort[]): Map<string, ServicePort[]> {
  const m = new Map<string, ServicePort[]>();
  for (const p of ports) m.set(p.service, [...(m.get(p.service) ?? []), p]);
  return m;
}

function fixtureRuleset(): NftRuleset {
  const rs = new NftRuleset({ clusterCIDR: TOPOLOGY.clusterCIDR });
  for (const [k, v] of byService(allServicePorts(SERVICES, SLICES, TOPOLOGY))) rs.setService(k, v);
  return rs;
}

/** web loses 10.244.0.4 (3 -> 2 endpoints), empty gains its first endpoint. */
function change(rs: NftRuleset): void {
  const slices = SLICES.map((s) => {
    const name = s.metadata.labels['kubernetes.io/service-name'];
    if (name === 'web') return slice('web', [{ ip: '10.244.0.5' }, { ip: '10.244.1.7', node: 'node-b' }]);
    if (name === 'empty') return slice('empty', [{ ip: '10.244.0.20' }], [{ name: 'dns', port: 53, protocol: 'UDP' }]);
    return s;
  });
  const ports = allServicePorts(SERVICES, slices, TOPOLOGY);
  for (const k of ['default/web', 'default/empty']) rs.setService(k, ports.filter((p) => p.service === k));
}

const FULL = `add table ip skiff
delete table ip skiff
add table ip skiff
add chain ip skiff nat-prerouting { type nat hook prerouting priority -100; policy accept; }
add chain ip skiff nat-output { type nat hook output priority -100; policy accept; }
add chain ip skiff nat-postrouting { type nat hook postrouting priority 100; policy accept; }
add chain ip skiff filter-input { type filter hook input priority -110; policy accept; }
add chain ip skiff filter-forward { type filter hook forward priority -110; policy accept; }
add chain ip skiff filter-output { type filter hook output priority -110; policy accept; }
add chain ip skiff affinity-prerouting { type filter hook prerouting priority -90; policy accept; }
add chain ip skiff affinity-output { type filter hook output priority -90; policy accept; }
add chain ip skiff services
add chain ip skiff mark-for-masquerade
add chain ip skiff masquerading
add chain ip skiff service-check
add chain ip skiff nodeport-check
add chain ip skiff reject-chain
add chain ip skiff affinity-record
add chain ip skiff lb-3
add chain ip skiff lb-aff-2
add chain ip skiff np-3
add map ip skiff affinity { type ipv4_addr . ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; flags dynamic,timeout; size 65536; }
add map ip skiff service-ips { type ipv4_addr . inet_proto . inet_service : verdict; }
add map ip skiff service-nodeports { type inet_proto . inet_service : verdict; }
add map ip skiff backends-tcp { typeof ip daddr . meta l4proto . th dport . numgen random mod 2 : ip daddr . tcp dport; }
add map ip skiff backends-udp { typeof ip daddr . meta l4proto . th dport . numgen random mod 2 : ip daddr . udp dport; }
add map ip skiff backends-sctp { typeof ip daddr . meta l4proto . th dport . numgen random mod 2 : ip daddr . sctp dport; }
add map ip skiff nodeport-backends-tcp { typeof meta l4proto . th dport . numgen random mod 2 : ip daddr . tcp dport; }
add map ip skiff nodeport-backends-udp { typeof meta l4proto . th dport . numgen random mod 2 : ip daddr . udp dport; }
add map ip skiff nodeport-backends-sctp { typeof meta l4proto . th dport . numgen random mod 2 : ip daddr . sctp dport; }
add map ip skiff no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict; }
add map ip skiff no-endpoint-nodeports { type inet_proto . inet_service : verdict; }
add set ip skiff masq-services { type ipv4_addr . inet_proto . inet_service; }
add set ip skiff masq-external { type ipv4_addr . inet_proto . inet_service; }
add set ip skiff masq-nodeports { type inet_proto . inet_service; }
add set ip skiff hairpin { type ipv4_addr . ipv4_addr; }
add set ip skiff affinity-600 { type ipv4_addr . inet_proto . inet_service; }
add rule ip skiff nat-prerouting jump services
add rule ip skiff nat-output jump services
add rule ip skiff nat-postrouting jump masquerading
add rule ip skiff filter-input ct state new jump nodeport-check
add rule ip skiff filter-input ct state new jump service-check
add rule ip skiff filter-forward ct state new jump service-check
add rule ip skiff filter-output ct state new jump service-check
add rule ip skiff affinity-prerouting ct state new ct status dnat jump affinity-record
add rule ip skiff affinity-output ct state new ct status dnat jump affinity-record
add rule ip skiff services ip daddr . meta l4proto . th dport @masq-services ip saddr != 10.244.0.0/16 jump mark-for-masquerade
add rule ip skiff services ip daddr . meta l4proto . th dport @masq-external jump mark-for-masquerade
add rule ip skiff services ip daddr . meta l4proto . th dport vmap @service-ips
add rule ip skiff services fib daddr type local meta l4proto . th dport @masq-nodeports jump mark-for-masquerade
add rule ip skiff services fib daddr type local meta l4proto . th dport vmap @service-nodeports
add rule ip skiff mark-for-masquerade meta mark set meta mark | 0x4000
add rule ip skiff masquerading ct status dnat ip saddr . ip daddr @hairpin jump mark-for-masquerade
add rule ip skiff masquerading meta mark & 0x4000 == 0 return
add rule ip skiff masquerading meta mark set meta mark ^ 0x4000
add rule ip skiff masquerading masquerade fully-random
add rule ip skiff service-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services
add rule ip skiff nodeport-check fib daddr type local meta l4proto . th dport vmap @no-endpoint-nodeports
add rule ip skiff reject-chain reject
add rule ip skiff lb-3 meta l4proto tcp dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 3 map @backends-tcp
add rule ip skiff lb-3 meta l4proto udp dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 3 map @backends-udp
add rule ip skiff lb-3 meta l4proto sctp dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 3 map @backends-sctp
add rule ip skiff lb-aff-2 meta l4proto { tcp, udp, sctp } dnat ip to ip saddr . ip daddr . meta l4proto . th dport map @affinity
add rule ip skiff lb-aff-2 meta l4proto tcp dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @backends-tcp
add rule ip skiff lb-aff-2 meta l4proto udp dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @backends-udp
add rule ip skiff lb-aff-2 meta l4proto sctp dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @backends-sctp
add rule ip skiff np-3 ip saddr 127.0.0.0/8 jump mark-for-masquerade
add rule ip skiff np-3 meta l4proto tcp dnat ip to meta l4proto . th dport . numgen random mod 3 map @nodeport-backends-tcp
add rule ip skiff np-3 meta l4proto udp dnat ip to meta l4proto . th dport . numgen random mod 3 map @nodeport-backends-udp
add rule ip skiff np-3 meta l4proto sctp dnat ip to meta l4proto . th dport . numgen random mod 3 map @nodeport-backends-sctp
add rule ip skiff affinity-record meta l4proto tcp ct original ip daddr . meta l4proto . ct original proto-dst @affinity-600 update @affinity { ip saddr . ct original ip daddr . meta l4proto . ct original proto-dst timeout 600s : ip daddr . th dport }
add rule ip skiff affinity-record meta l4proto udp ct original ip daddr . meta l4proto . ct original proto-dst @affinity-600 update @affinity { ip saddr . ct original ip daddr . meta l4proto . ct original proto-dst timeout 600s : ip daddr . th dport }
add rule ip skiff affinity-record meta l4proto sctp ct original ip daddr . meta l4proto . ct original proto-dst @affinity-600 update @affinity { ip saddr . ct original ip daddr . meta l4proto . ct original proto-dst timeout 600s : ip daddr . th dport }
add element ip skiff service-ips { 10.96.0.10 . tcp . 80 : goto lb-3, 10.96.0.11 . tcp . 80 : goto lb-aff-2, 192.0.2.10 . tcp . 80 : goto lb-3 }
add element ip skiff service-nodeports { tcp . 30080 : goto np-3 }
add element ip skiff backends-tcp { 10.96.0.10 . tcp . 80 . 0 : 10.244.0.4 . 8080, 10.96.0.10 . tcp . 80 . 1 : 10.244.0.5 . 8080, 10.96.0.10 . tcp . 80 . 2 : 10.244.1.7 . 8080, 10.96.0.11 . tcp . 80 . 0 : 10.244.0.5 . 80, 10.96.0.11 . tcp . 80 . 1 : 10.244.0.9 . 80, 192.0.2.10 . tcp . 80 . 0 : 10.244.0.4 . 8080, 192.0.2.10 . tcp . 80 . 1 : 10.244.0.5 . 8080, 192.0.2.10 . tcp . 80 . 2 : 10.244.1.7 . 8080 }
add element ip skiff nodeport-backends-tcp { tcp . 30080 . 0 : 10.244.0.4 . 8080, tcp . 30080 . 1 : 10.244.0.5 . 8080, tcp . 30080 . 2 : 10.244.1.7 . 8080 }
add element ip skiff no-endpoint-services { 10.96.0.12 . udp . 53 : goto reject-chain, 10.96.0.13 . tcp . 80 : drop }
add element ip skiff masq-services { 10.96.0.10 . tcp . 80, 10.96.0.11 . tcp . 80 }
add element ip skiff masq-external { 192.0.2.10 . tcp . 80 }
add element ip skiff masq-nodeports { tcp . 30080 }
add element ip skiff hairpin { 10.244.0.4 . 10.244.0.4, 10.244.0.5 . 10.244.0.5, 10.244.0.9 . 10.244.0.9, 10.244.1.7 . 10.244.1.7, 10.244.1.8 . 10.244.1.8 }
add element ip skiff affinity-600 { 10.96.0.11 . tcp . 80 }
`;

const PARTIAL = `add chain ip skiff lb-1
flush chain ip skiff lb-1
add rule ip skiff lb-1 meta l4proto tcp dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 1 map @backends-tcp
add rule ip skiff lb-1 meta l4proto udp dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 1 map @backends-udp
add rule ip skiff lb-1 meta l4proto sctp dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 1 map @backends-sctp
add chain ip skiff lb-2
flush chain ip skiff lb-2
add rule ip skiff lb-2 meta l4proto tcp dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @backends-tcp
add rule ip skiff lb-2 meta l4proto udp dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @backends-udp
add rule ip skiff lb-2 meta l4proto sctp dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @backends-sctp
add chain ip skiff np-2
flush chain ip skiff np-2
add rule ip skiff np-2 ip saddr 127.0.0.0/8 jump mark-for-masquerade
add rule ip skiff np-2 meta l4proto tcp dnat ip to meta l4proto . th dport . numgen random mod 2 map @nodeport-backends-tcp
add rule ip skiff np-2 meta l4proto udp dnat ip to meta l4proto . th dport . numgen random mod 2 map @nodeport-backends-udp
add rule ip skiff np-2 meta l4proto sctp dnat ip to meta l4proto . th dport . numgen random mod 2 map @nodeport-backends-sctp
delete element ip skiff service-ips { 10.96.0.10 . tcp . 80, 192.0.2.10 . tcp . 80 }
delete element ip skiff service-nodeports { tcp . 30080 }
delete element ip skiff backends-tcp { 10.96.0.10 . tcp . 80 . 0, 10.96.0.10 . tcp . 80 . 1, 10.96.0.10 . tcp . 80 . 2, 192.0.2.10 . tcp . 80 . 0, 192.0.2.10 . tcp . 80 . 1, 192.0.2.10 . tcp . 80 . 2 }
delete element ip skiff nodeport-backends-tcp { tcp . 30080 . 0, tcp . 30080 . 1, tcp . 30080 . 2 }
delete element ip skiff no-endpoint-services { 10.96.0.12 . udp . 53 }
delete element ip skiff hairpin { 10.244.0.4 . 10.244.0.4 }
add element ip skiff service-ips { 10.96.0.10 . tcp . 80 : goto lb-2, 10.96.0.12 . udp . 53 : goto lb-1, 192.0.2.10 . tcp . 80 : goto lb-2 }
add element ip skiff service-nodeports { tcp . 30080 : goto np-2 }
add element ip skiff backends-tcp { 10.96.0.10 . tcp . 80 . 0 : 10.244.0.5 . 8080, 10.96.0.10 . tcp . 80 . 1 : 10.244.1.7 . 8080, 192.0.2.10 . tcp . 80 . 0 : 10.244.0.5 . 8080, 192.0.2.10 . tcp . 80 . 1 : 10.244.1.7 . 8080 }
add element ip skiff backends-udp { 10.96.0.12 . udp . 53 . 0 : 10.244.0.20 . 53 }
add element ip skiff nodeport-backends-tcp { tcp . 30080 . 0 : 10.244.0.5 . 8080, tcp . 30080 . 1 : 10.244.1.7 . 8080 }
add element ip skiff masq-services { 10.96.0.12 . udp . 53 }
add element ip skiff hairpin { 10.244.0.20 . 10.244.0.20 }
`;

test('full sync renders the whole table (golden)', () => {
  const rs = fixtureRuleset();
  assert.equal(rs.renderFull('recreate').payload, FULL);
});

test("'flush' full sync empties our chains and maps in place, keeps the affinity map, drops unused lb chains", () => {
  const rs = fixtureRuleset();
  rs.renderFull('recreate').commit();
  change(rs);
  const p = rs.renderFull('flush').payload;
  const lines = p.split('\n');
  assert.equal(lines[1], 'flush table ip skiff');
  assert.ok(!p.includes('delete table'));
  for (const set of ['service-ips', 'backends-tcp', 'backends-udp', 'nodeport-backends-sctp', 'hairpin', 'affinity-600']) assert.ok(lines.includes(`flush ${set === 'hairpin' || set.startsWith('affinity-') ? 'set' : 'map'} ip skiff ${set}`), set);
  assert.ok(!lines.includes('flush map ip skiff affinity'), 'remembered affinity survives a resync');
  // lb-3 and np-3 were in use, now nothing has 3 endpoints: declared then deleted (idempotent even if gone).
  for (const c of ['lb-3', 'np-3']) {
    const del = lines.indexOf(`delete chain ip skiff ${c}`);
    assert.ok(del > 0 && lines[del - 1] === `add chain ip skiff ${c}`, `${c} declared then deleted`);
  }
  assert.ok(!lines.includes('delete chain ip skiff lb-2'), 'chains in use stay');
});

test('partial sync after two services changed: only their elements (golden)', () => {
  const rs = fixtureRuleset();
  assert.equal(rs.canPartial, false);
  assert.throws(() => rs.renderPartial(), /no full sync/);
  rs.renderFull('recreate').commit();
  assert.equal(rs.canPartial, true);
  change(rs);
  const p = rs.renderPartial();
  assert.equal(p.payload, PARTIAL);
  p.commit();
  assert.equal(rs.renderPartial().payload, '', 'nothing left to do after commit');
});

test('an uncommitted partial is rendered again; forget() demands a full sync', () => {
  const rs = fixtureRuleset();
  rs.renderFull('recreate').commit();
  change(rs);
  assert.equal(rs.renderPartial().payload, PARTIAL);
  assert.equal(rs.renderPartial().payload, PARTIAL, 'not committed: same diff');
  rs.forget();
  assert.equal(rs.canPartial, false);
});

test('a service removed and re-added unchanged is no change; a removed service deletes its elements', () => {
  const rs = fixtureRuleset();
  rs.renderFull('recreate').commit();
  const sticky = byService(allServicePorts(SERVICES, SLICES, TOPOLOGY)).get('default/sticky')!;
  rs.setService('default/sticky', []);
  rs.setService('default/sticky', sticky);
  assert.equal(rs.renderPartial().payload, '');
  rs.setService('default/sticky', []);
  const p = rs.renderPartial().payload;
  assert.match(p, /^delete element ip skiff service-ips \{ 10\.96\.0\.11 \. tcp \. 80 \}$/m);
  assert.match(p, /^delete element ip skiff backends-tcp \{ 10\.96\.0\.11 \. tcp \. 80 \. 0, 10\.96\.0\.11 \. tcp \. 80 \. 1 \}$/m);
  // 10.244.0.5 is also a web endpoint: its hairpin element stays; 10.244.0.9 was sticky's alone.
  assert.match(p, /^delete element ip skiff hairpin \{ 10\.244\.0\.9 \. 10\.244\.0\.9 \}$/m);
  assert.ok(!p.includes('add element'), p);
});

test('two services claiming one destination: the first by name wins, the other takes over when it goes', () => {
  const rs = new NftRuleset({ clusterCIDR: '10.244.0.0/16' });
  const sp = (svc: string, ep: string): ServicePort => ({ key: svc, service: svc, protocol: 'TCP', clusterIP: '10.96.0.50', port: 80, nodePort: 0, externalIPs: [], affinitySeconds: 0, internal: [{ ip: ep, port: 80 }], external: [{ ip: ep, port: 80 }], externalLocal: false, hasEndpoints: true });
  rs.setService('ns/b', [sp('ns/b', '10.244.0.2')]);
  rs.setService('ns/a', [sp('ns/a', '10.244.0.1')]);
  assert.match(rs.renderFull('recreate').payload, /10\.96\.0\.50 \. tcp \. 80 \. 0 : 10\.244\.0\.1 \. 80/);
  rs.renderFull('recreate').commit();
  rs.setService('ns/a', []);
  assert.match(rs.renderPartial().payload, /add element ip skiff backends-tcp \{ 10\.96\.0\.50 \. tcp \. 80 \. 0 : 10\.244\.0\.2 \. 80 \}/);
});

test('lb chains: one per endpoint count; NodePort ones masquerade loopback clients; affinity ones look up first', () => {
  assert.deepEqual(lbRules('lb-4'), ['tcp', 'udp', 'sctp'].map((p) => `meta l4proto ${p} dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 4 map @backends-${p}`));
  assert.deepEqual(lbRules('np-aff-2'), [
    'ip saddr 127.0.0.0/8 jump mark-for-masquerade',
    'meta l4proto { tcp, udp, sctp } dnat ip to ip saddr . ip daddr . meta l4proto . th dport map @affinity',
    ...['tcp', 'udp', 'sctp'].map((p) => `meta l4proto ${p} dnat ip to meta l4proto . th dport . numgen random mod 2 map @nodeport-backends-${p}`),
  ]);
  assert.throws(() => lbRules('services'), /not an lb chain/);
  assert.equal(affinityRules(['affinity-np-30']).length, 3, 'one rule per protocol');
  assert.match(affinityRules(['affinity-np-30'])[0]!, /^meta l4proto tcp meta l4proto \. ct original proto-dst @affinity-np-30 update @affinity \{ .* timeout 30s : ip daddr \. th dport \}$/);
});

test('staleAffinity: entries whose endpoint left the rotation, or whose service lost affinity', () => {
  const rs = fixtureRuleset();
  const e = (dst: string, endpoint: string, port = 80, endpointPort = 80) => ({ client: '10.244.0.99', dst, protocol: 'tcp', port, endpoint, endpointPort });
  const entries = [e('10.96.0.11', '10.244.0.5'), e('10.96.0.11', '10.244.0.9'), e('10.96.0.11', '10.244.0.77'), e('10.96.0.10', '10.244.0.5', 80, 8080), e('10.96.0.99', '10.244.0.5')];
  assert.deepEqual(rs.staleAffinity(entries), [entries[2], entries[3], entries[4]]);
});

test('nodePortAddresses restricts NodePorts to the given addresses and 127.0.0.1', () => {
  const rs = new NftRuleset({ clusterCIDR: '10.244.0.0/16', nodePortAddresses: ['192.168.56.11'] });
  const p = rs.renderFull('recreate').payload;
  assert.ok(p.includes('add rule ip skiff services ip daddr { 192.168.56.11, 127.0.0.1 } meta l4proto . th dport vmap @service-nodeports'), p);
  assert.ok(!p.includes('fib daddr type local'));
});
