/**
 * Golden tests of the iptables ruleset (kube-proxy's layout, Skiff's prefix):
 * the full payload for the fixture cluster and the partial one after two
 * services changed. This is the text `iptables-restore --noflush` receives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allServicePorts, type ServicePort } from './model.js';
import { IptRuleset, JUMPS, SERVICE_CHAIN, chainName } from './iptables-rules.js';
import { savedChains } from './iptables-mode.js';
import { SERVICES, SLICES, TOPOLOGY, slice } from './fixtures.js';

function fixtureRuleset(): IptRuleset {
  const rs = new IptRuleset({ clusterCIDR: TOPOLOGY.clusterCIDR });
  const m = new Map<string, ServicePort[]>();
  for (const p of allServicePorts(SERVICES, SLICES, TOPOLOGY)) m.set(p.service, [...(m.get(p.service) ?? []), p]);
  for (const [k, v] of m) rs.setService(k, v);
  return rs;
}

function change(rs: IptRuleset): void {
  const slices = SLICES.map((s) => {
    const name = s.metadata.labels['kubernetes.io/service-name'];
    if (name === 'web') return slice('web', [{ ip: '10.244.0.5' }, { ip: '10.244.1.7', node: 'node-b' }]);
    if (name === 'empty') return slice('empty', [{ ip: '10.244.0.20' }], [{ name: 'dns', port: 53, protocol: 'UDP' }]);
    return s;
  });
  const ports = allServicePorts(SERVICES, slices, TOPOLOGY);
  for (const k of ['default/web', 'default/empty']) rs.setService(k, ports.filter((p) => p.service === k));
}

/** What iptables-save listed: a stale chain of ours, and chains of others that must never be touched. */
const EXISTING = { nat: ['SKIFF-SVC-0123456789ABCDEF', 'SKIFF-FORWARD', 'DOCKER', 'KUBE-SVC-0123456789ABCDEF'], filter: [] };

const FULL = `*nat
:SKIFF-SERVICES - [0:0]
:SKIFF-NODEPORTS - [0:0]
:SKIFF-MARK-MASQ - [0:0]
:SKIFF-POSTROUTING - [0:0]
:SKIFF-SVC-DAD4793A5E1C0F3F - [0:0]
:SKIFF-SEP-A2094A284F332874 - [0:0]
:SKIFF-SEP-B3B738C4CCEF961E - [0:0]
:SKIFF-SVC-4FD45E784ED6A21A - [0:0]
:SKIFF-SEP-8FEA13A1EBA53FB2 - [0:0]
:SKIFF-SEP-65866928B6231490 - [0:0]
:SKIFF-SEP-76E35279A3651388 - [0:0]
:SKIFF-EXT-4FD45E784ED6A21A - [0:0]
:SKIFF-SVC-0123456789ABCDEF - [0:0]
-A SKIFF-SERVICES -d 10.96.0.11/32 -p tcp -m comment --comment "default/sticky cluster IP" -m tcp --dport 80 -j SKIFF-SVC-DAD4793A5E1C0F3F
-A SKIFF-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment "default/web cluster IP" -m tcp --dport 80 -j SKIFF-SVC-4FD45E784ED6A21A
-A SKIFF-SERVICES -d 192.0.2.10/32 -p tcp -m comment --comment "default/web external IP" -m tcp --dport 80 -j SKIFF-EXT-4FD45E784ED6A21A
-A SKIFF-SERVICES -m addrtype --dst-type LOCAL -m comment --comment "skiff service nodeports; must be the last rule in this chain" -j SKIFF-NODEPORTS
-A SKIFF-NODEPORTS -p tcp -m comment --comment default/web -m tcp --dport 30080 -j SKIFF-EXT-4FD45E784ED6A21A
-A SKIFF-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A SKIFF-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A SKIFF-POSTROUTING -j MARK --set-xmark 0x4000/0x0
-A SKIFF-POSTROUTING -m comment --comment "skiff service traffic requiring SNAT" -j MASQUERADE --random-fully
-A SKIFF-SVC-DAD4793A5E1C0F3F ! -s 10.244.0.0/16 -d 10.96.0.11/32 -p tcp -m comment --comment "default/sticky cluster IP" -m tcp --dport 80 -j SKIFF-MARK-MASQ
-A SKIFF-SVC-DAD4793A5E1C0F3F -m comment --comment "default/sticky -> 10.244.0.5:80" -m recent --rcheck --seconds 600 --reap --name SKIFF-SEP-A2094A284F332874 --mask 255.255.255.255 --rsource -j SKIFF-SEP-A2094A284F332874
-A SKIFF-SVC-DAD4793A5E1C0F3F -m comment --comment "default/sticky -> 10.244.0.9:80" -m recent --rcheck --seconds 600 --reap --name SKIFF-SEP-B3B738C4CCEF961E --mask 255.255.255.255 --rsource -j SKIFF-SEP-B3B738C4CCEF961E
-A SKIFF-SVC-DAD4793A5E1C0F3F -m comment --comment "default/sticky -> 10.244.0.5:80" -m statistic --mode random --probability 0.5000000000 -j SKIFF-SEP-A2094A284F332874
-A SKIFF-SVC-DAD4793A5E1C0F3F -m comment --comment "default/sticky -> 10.244.0.9:80" -j SKIFF-SEP-B3B738C4CCEF961E
-A SKIFF-SEP-A2094A284F332874 -s 10.244.0.5/32 -m comment --comment default/sticky -j SKIFF-MARK-MASQ
-A SKIFF-SEP-A2094A284F332874 -p tcp -m comment --comment default/sticky -m recent --set --name SKIFF-SEP-A2094A284F332874 --mask 255.255.255.255 --rsource
-A SKIFF-SEP-A2094A284F332874 -p tcp -m comment --comment default/sticky -m tcp -j DNAT --to-destination 10.244.0.5:80
-A SKIFF-SEP-B3B738C4CCEF961E -s 10.244.0.9/32 -m comment --comment default/sticky -j SKIFF-MARK-MASQ
-A SKIFF-SEP-B3B738C4CCEF961E -p tcp -m comment --comment default/sticky -m recent --set --name SKIFF-SEP-B3B738C4CCEF961E --mask 255.255.255.255 --rsource
-A SKIFF-SEP-B3B738C4CCEF961E -p tcp -m comment --comment default/sticky -m tcp -j DNAT --to-destination 10.244.0.9:80
-A SKIFF-SVC-4FD45E784ED6A21A ! -s 10.244.0.0/16 -d 10.96.0.10/32 -p tcp -m comment --comment "default/web cluster IP" -m tcp --dport 80 -j SKIFF-MARK-MASQ
-A SKIFF-SVC-4FD45E784ED6A21A -m comment --comment "default/web -> 10.244.0.4:8080" -m statistic --mode random --probability 0.3333333333 -j SKIFF-SEP-8FEA13A1EBA53FB2
-A SKIFF-SVC-4FD45E784ED6A21A -m comment --comment "default/web -> 10.244.0.5:8080" -m statistic --mode random --probability 0.5000000000 -j SKIFF-SEP-65866928B6231490
-A SKIFF-SVC-4FD45E784ED6A21A -m comment --comment "default/web -> 10.244.1.7:8080" -j SKIFF-SEP-76E35279A3651388
-A SKIFF-SEP-8FEA13A1EBA53FB2 -s 10.244.0.4/32 -m comment --comment default/web -j SKIFF-MARK-MASQ
-A SKIFF-SEP-8FEA13A1EBA53FB2 -p tcp -m comment --comment default/web -m tcp -j DNAT --to-destination 10.244.0.4:8080
-A SKIFF-SEP-65866928B6231490 -s 10.244.0.5/32 -m comment --comment default/web -j SKIFF-MARK-MASQ
-A SKIFF-SEP-65866928B6231490 -p tcp -m comment --comment default/web -m tcp -j DNAT --to-destination 10.244.0.5:8080
-A SKIFF-SEP-76E35279A3651388 -s 10.244.1.7/32 -m comment --comment default/web -j SKIFF-MARK-MASQ
-A SKIFF-SEP-76E35279A3651388 -p tcp -m comment --comment default/web -m tcp -j DNAT --to-destination 10.244.1.7:8080
-A SKIFF-EXT-4FD45E784ED6A21A -m comment --comment "default/web external" -j SKIFF-MARK-MASQ
-A SKIFF-EXT-4FD45E784ED6A21A -j SKIFF-SVC-4FD45E784ED6A21A
-X SKIFF-SVC-0123456789ABCDEF
COMMIT
*filter
:SKIFF-SERVICES - [0:0]
:SKIFF-EXTERNAL-SERVICES - [0:0]
-A SKIFF-SERVICES -d 10.96.0.12/32 -p udp -m comment --comment "default/empty:dns has no endpoints" -m udp --dport 53 -j REJECT --reject-with icmp-port-unreachable
-A SKIFF-SERVICES -d 10.96.0.13/32 -p tcp -m comment --comment "default/local has no local endpoints" -m tcp --dport 80 -j DROP
COMMIT
`;

const PARTIAL_NAT = `*nat
:SKIFF-SERVICES - [0:0]
:SKIFF-NODEPORTS - [0:0]
:SKIFF-SVC-0EE54505903DBBFD - [0:0]
:SKIFF-SEP-01C57C358CB7B640 - [0:0]
:SKIFF-SVC-4FD45E784ED6A21A - [0:0]
:SKIFF-SEP-8FEA13A1EBA53FB2 - [0:0]
-A SKIFF-SERVICES -d 10.96.0.12/32 -p udp -m comment --comment "default/empty:dns cluster IP" -m udp --dport 53 -j SKIFF-SVC-0EE54505903DBBFD
-A SKIFF-SERVICES -d 10.96.0.11/32 -p tcp -m comment --comment "default/sticky cluster IP" -m tcp --dport 80 -j SKIFF-SVC-DAD4793A5E1C0F3F
-A SKIFF-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment "default/web cluster IP" -m tcp --dport 80 -j SKIFF-SVC-4FD45E784ED6A21A
-A SKIFF-SERVICES -d 192.0.2.10/32 -p tcp -m comment --comment "default/web external IP" -m tcp --dport 80 -j SKIFF-EXT-4FD45E784ED6A21A
-A SKIFF-SERVICES -m addrtype --dst-type LOCAL -m comment --comment "skiff service nodeports; must be the last rule in this chain" -j SKIFF-NODEPORTS
-A SKIFF-NODEPORTS -p tcp -m comment --comment default/web -m tcp --dport 30080 -j SKIFF-EXT-4FD45E784ED6A21A
-A SKIFF-SVC-0EE54505903DBBFD ! -s 10.244.0.0/16 -d 10.96.0.12/32 -p udp -m comment --comment "default/empty:dns cluster IP" -m udp --dport 53 -j SKIFF-MARK-MASQ
-A SKIFF-SVC-0EE54505903DBBFD -m comment --comment "default/empty:dns -> 10.244.0.20:53" -j SKIFF-SEP-01C57C358CB7B640
-A SKIFF-SEP-01C57C358CB7B640 -s 10.244.0.20/32 -m comment --comment default/empty:dns -j SKIFF-MARK-MASQ
-A SKIFF-SEP-01C57C358CB7B640 -p udp -m comment --comment default/empty:dns -m udp -j DNAT --to-destination 10.244.0.20:53
-A SKIFF-SVC-4FD45E784ED6A21A ! -s 10.244.0.0/16 -d 10.96.0.10/32 -p tcp -m comment --comment "default/web cluster IP" -m tcp --dport 80 -j SKIFF-MARK-MASQ
-A SKIFF-SVC-4FD45E784ED6A21A -m comment --comment "default/web -> 10.244.0.5:8080" -m statistic --mode random --probability 0.5000000000 -j SKIFF-SEP-65866928B6231490
-A SKIFF-SVC-4FD45E784ED6A21A -m comment --comment "default/web -> 10.244.1.7:8080" -j SKIFF-SEP-76E35279A3651388
-X SKIFF-SEP-8FEA13A1EBA53FB2
COMMIT
`;

const PARTIAL_FILTER = `*filter
:SKIFF-SERVICES - [0:0]
:SKIFF-EXTERNAL-SERVICES - [0:0]
-A SKIFF-SERVICES -d 10.96.0.13/32 -p tcp -m comment --comment "default/local has no local endpoints" -m tcp --dport 80 -j DROP
COMMIT
`;

test('full sync: every chain of ours, stale per-service chains deleted, nobody else\'s named (golden)', () => {
  const f = fixtureRuleset().renderFull(EXISTING);
  assert.equal(f.payload.nat + f.payload.filter, FULL);
  for (const other of ['SKIFF-FORWARD', 'DOCKER', 'KUBE-SVC-0123456789ABCDEF']) assert.ok(!FULL.includes(other), other);
});

test('partial sync: changed chains, removed endpoint chain deleted, dispatch chains rewritten (golden)', () => {
  const rs = fixtureRuleset();
  rs.renderFull(EXISTING).commit();
  change(rs);
  const p = rs.renderPartial();
  assert.equal(p.payload.nat, PARTIAL_NAT);
  assert.equal(p.payload.filter, PARTIAL_FILTER);
  p.commit();
  assert.deepEqual(rs.renderPartial().payload, { nat: '', filter: '' });
});

test('an endpoint change that keeps the dispatch lines rewrites only that service\'s chains', () => {
  const rs = fixtureRuleset();
  rs.renderFull(EXISTING).commit();
  const slices = SLICES.map((s) => (s.metadata.labels['kubernetes.io/service-name'] === 'sticky' ? slice('sticky', [{ ip: '10.244.0.5' }, { ip: '10.244.0.10' }], [{ name: '', port: 80, protocol: 'TCP' }]) : s));
  rs.setService('default/sticky', allServicePorts(SERVICES, slices, TOPOLOGY).filter((p) => p.service === 'default/sticky'));
  const p = rs.renderPartial().payload;
  assert.equal(p.filter, '');
  const declared = p.nat.split('\n').filter((l) => l.startsWith(':'));
  assert.deepEqual(declared, [
    `:${chainName('SVC', 'default/sticky', 'TCP')} - [0:0]`,
    `:${chainName('SEP', 'default/sticky', 'TCP', '10.244.0.10:80')} - [0:0]`,
    `:${chainName('SEP', 'default/sticky', 'TCP', '10.244.0.9:80')} - [0:0]`,
  ]);
  assert.ok(p.nat.includes(`-X ${chainName('SEP', 'default/sticky', 'TCP', '10.244.0.9:80')}`));
});

test('chain names: prefix plus 16 hex digits, matched by the deletion pattern; jumps name only our chains', () => {
  const n = chainName('SVC', 'default/web', 'TCP');
  assert.match(n, /^SKIFF-SVC-[0-9A-F]{16}$/);
  assert.ok(n.length <= 28, 'iptables chain names are at most 28 characters');
  assert.ok(SERVICE_CHAIN.test(n));
  assert.ok(!SERVICE_CHAIN.test('SKIFF-FORWARD'));
  for (const [, chain, spec] of JUMPS) {
    assert.ok(['PREROUTING', 'OUTPUT', 'POSTROUTING', 'INPUT', 'FORWARD'].includes(chain));
    assert.match(spec[spec.length - 1]!, /^SKIFF-(SERVICES|POSTROUTING|EXTERNAL-SERVICES)$/);
  }
});

test('savedChains reads chain declarations of iptables-save', () => {
  assert.deepEqual(savedChains('# x\n*nat\n:PREROUTING ACCEPT [0:0]\n:SKIFF-SERVICES - [0:0]\n-A PREROUTING -j SKIFF-SERVICES\nCOMMIT\n'), ['PREROUTING', 'SKIFF-SERVICES']);
});

test('IptablesMode full sync: two saves, two restores, and jump fixes only where the save shows them missing', async () => {
  const { Iptables } = await import('../../common/iptables.js');
  const { IptablesMode } = await import('./iptables-mode.js');
  const { logger } = await import('../../common/log.js');
  const calls: string[] = [];
  // nat already has our PREROUTING jump first; everything else is missing.
  const natSave = `*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:SKIFF-SERVICES - [0:0]\n-A PREROUTING -m comment --comment "skiff service portals" -j SKIFF-SERVICES\nCOMMIT\n`;
  const runner = {
    async run(cmd: string, args: string[]) {
      calls.push(`${cmd} ${args.join(' ')}`);
      if (cmd.endsWith('-save')) return { code: 0, stdout: args[1] === 'nat' ? natSave : '*filter\nCOMMIT\n', stderr: '' };
      if (args.includes('-S')) return { code: 0, stdout: `-P ${args[args.length - 1]} ACCEPT\n`, stderr: '' };
      return { code: 0, stdout: '', stderr: '' };
    },
  };
  const log = logger('ipt-mode-test');
  log.level = 'silent';
  const mode = new IptablesMode({ clusterCIDR: '10.244.0.0/16' }, new Iptables('legacy', runner), log);
  const r = await mode.sync(true);
  assert.equal(r.kind, 'full');
  assert.deepEqual(calls.slice(0, 4), ['iptables-legacy-save -t nat', 'iptables-legacy-save -t filter', 'iptables-legacy-restore --noflush -w 5 -T filter', 'iptables-legacy-restore --noflush -w 5 -T nat']);
  const listed = calls.filter((c) => c.includes(' -S '));
  assert.deepEqual(listed.map((c) => c.split(' -S ')[1]), ['OUTPUT', 'POSTROUTING', 'INPUT', 'FORWARD', 'OUTPUT'], 'PREROUTING needed no fix');
  assert.equal(calls.filter((c) => c.includes(' -I ')).length, 5);
});
