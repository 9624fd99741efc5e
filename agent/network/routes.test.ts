import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Obj } from '../../controlplane/controllers/objects.js';
import { cidrsOverlap, desiredRoutes, ipv4, parseAddrJson, parseCidr, parseRouteJson, planRoutes, SKIFF_ROUTE_PROTO, type KernelRoute, type LocalAddress } from './routes.js';

const node = (name: string, podCIDR?: string, ip?: string): Obj => ({
  metadata: { name },
  spec: podCIDR ? { podCIDR } : {},
  status: { addresses: [...(ip ? [{ type: 'InternalIP', address: ip }] : []), { type: 'Hostname', address: name }] },
});

/** The lab's server node: eth1 on 192.168.56.0/24, its pods on skiff0. */
const LOCAL: LocalAddress[] = [
  { address: '127.0.0.1', prefixLen: 8, dev: 'lo' },
  { address: '10.0.2.15', prefixLen: 24, dev: 'eth0' },
  { address: '192.168.56.10', prefixLen: 24, dev: 'eth1' },
  { address: '10.244.0.1', prefixLen: 24, dev: 'skiff0' },
];
const CLUSTER = '10.244.0.0/16';
const P = String(SKIFF_ROUTE_PROTO);

describe('IPv4 helpers', () => {
  it('parse addresses and CIDRs, clearing host bits, refusing junk', () => {
    assert.equal(ipv4('192.168.56.10'), 0xc0a8380a);
    assert.equal(ipv4('256.1.1.1'), undefined);
    assert.equal(ipv4('fd00::1'), undefined);
    assert.deepEqual(parseCidr('10.244.1.7/24'), { base: ipv4('10.244.1.0'), bits: 24 });
    assert.deepEqual(parseCidr('0.0.0.0/0'), { base: 0, bits: 0 });
    for (const bad of ['10.244.1.0', '10.244.1.0/33', '10.244.1.0/24/1', 'x/24', 'fd00::/64']) assert.equal(parseCidr(bad), undefined, bad);
  });
  it('overlap is containment either way', () => {
    assert.ok(cidrsOverlap(parseCidr('10.244.0.0/16')!, parseCidr('10.244.3.0/24')!));
    assert.ok(cidrsOverlap(parseCidr('10.244.3.0/24')!, parseCidr('10.244.0.0/16')!));
    assert.ok(!cidrsOverlap(parseCidr('10.244.3.0/24')!, parseCidr('10.244.4.0/24')!));
  });
});

describe('desiredRoutes', () => {
  it('routes every other node\'s podCIDR via its InternalIP on a connected network, in name order', () => {
    const nodes = [node('server', '10.244.0.0/24', '192.168.56.10'), node('worker-2', '10.244.2.0/24', '192.168.56.12'), node('worker-1', '10.244.1.0/24', '192.168.56.11')];
    const { routes, skipped } = desiredRoutes(nodes, 'server', LOCAL, CLUSTER);
    assert.deepEqual(routes, [
      { dst: '10.244.1.0/24', via: '192.168.56.11', node: 'worker-1' },
      { dst: '10.244.2.0/24', via: '192.168.56.12', node: 'worker-2' },
    ]);
    assert.deepEqual(skipped, []);
  });

  it('normalizes a podCIDR with host bits to its network', () => {
    const { routes } = desiredRoutes([node('w', '10.244.1.9/24', '192.168.56.11')], 'server', LOCAL, CLUSTER);
    assert.deepEqual(routes, [{ dst: '10.244.1.0/24', via: '192.168.56.11', node: 'w' }]);
  });

  it('skips, each with its reason, what cannot or must not be routed', () => {
    const nodes = [
      node('server', '10.244.0.0/24', '192.168.56.10'),
      node('a-no-cidr', undefined, '192.168.56.20'),
      node('b-no-ip', '10.244.5.0/24'),
      node('c-same-host', '10.244.6.0/24', '10.0.2.15'),
      node('d-far', '10.244.7.0/24', '172.16.9.9'),
      node('e-in-cluster', '10.244.8.0/24', '10.244.0.77'),
      node('f-overlaps-me', '10.244.0.0/25', '192.168.56.21'),
      node('g-v6', 'fd00:10::/64', '192.168.56.22'),
      node('h-first', '10.244.9.0/24', '192.168.56.23'),
      node('i-dup', '10.244.9.0/24', '192.168.56.24'),
      node('j-on-link', '192.168.56.128/25', '192.168.56.25'),
    ];
    const { routes, skipped } = desiredRoutes(nodes, 'server', LOCAL, CLUSTER);
    assert.deepEqual(routes, [{ dst: '10.244.9.0/24', via: '192.168.56.23', node: 'h-first' }]);
    const why = Object.fromEntries(skipped.map((s) => [s.node, s.reason]));
    assert.match(why['a-no-cidr'], /no podCIDR/);
    assert.match(why['b-no-ip'], /no IPv4 InternalIP/);
    assert.match(why['c-same-host'], /address of this host/);
    assert.match(why['d-far'], /not on a directly connected network/);
    assert.match(why['e-in-cluster'], /cluster CIDR/);
    assert.match(why['f-overlaps-me'], /overlaps this node's 10\.244\.0\.0\/24/);
    assert.match(why['g-v6'], /not an IPv4 CIDR/);
    assert.match(why['i-dup'], /overlaps that of node h-first/);
    assert.match(why['j-on-link'], /overlaps the connected network of eth1/);
    assert.equal(skipped.length, 9);
  });

  it('agents sharing one host (tests: every node on 127.0.0.1) get no route at all', () => {
    const nodes = [node('n1', '10.244.1.0/24', '127.0.0.1'), node('n2', '10.244.2.0/24', '127.0.0.1')];
    const { routes, skipped } = desiredRoutes(nodes, 'n1', LOCAL, CLUSTER);
    assert.deepEqual(routes, []);
    assert.match(skipped[0].reason, /address of this host/);
  });

  it('works before its own node has a podCIDR, and without a cluster CIDR', () => {
    const { routes } = desiredRoutes([node('server'), node('w', '10.244.1.0/24', '192.168.56.11')], 'server', LOCAL);
    assert.equal(routes.length, 1);
  });
});

describe('planRoutes', () => {
  const want = [
    { dst: '10.244.1.0/24', via: '192.168.56.11', node: 'w1' },
    { dst: '10.244.2.0/24', via: '192.168.56.12', node: 'w2' },
  ];
  const base: KernelRoute[] = [
    { dst: 'default', gateway: '10.0.2.2', dev: 'eth0', protocol: '3' },
    { dst: '192.168.56.0/24', dev: 'eth1', protocol: '2' },
  ];

  it('adds what is missing, keeps what is right, fixes a changed gateway', () => {
    const table = [...base, { dst: '10.244.1.0/24', gateway: '192.168.56.11', dev: 'eth1', protocol: P }, { dst: '10.244.2.0/24', gateway: '192.168.56.99', dev: 'eth1', protocol: P }];
    assert.deepEqual(planRoutes(want, table), { replace: [want[1]], remove: [], conflicts: [] });
    assert.deepEqual(planRoutes(want, base), { replace: want, remove: [], conflicts: [] });
    assert.deepEqual(planRoutes(want, [...base, { dst: '10.244.1.0/24', gateway: '192.168.56.11', protocol: P }, { dst: '10.244.2.0/24', gateway: '192.168.56.12', protocol: P }]), { replace: [], remove: [], conflicts: [] });
  });

  it('removes only its own routes that no node wants, and stale duplicates with another metric', () => {
    const gone: KernelRoute = { dst: '10.244.7.0/24', gateway: '192.168.56.17', dev: 'eth1', protocol: P };
    const foreign: KernelRoute = { dst: '10.244.8.0/24', gateway: '192.168.56.18', dev: 'eth1', protocol: '4' };
    const dupe: KernelRoute = { dst: '10.244.1.0/24', gateway: '192.168.56.11', dev: 'eth1', protocol: P, metric: 50 };
    const table = [...base, gone, foreign, dupe, { dst: '10.244.1.0/24', gateway: '192.168.56.11', protocol: P }, { dst: '10.244.2.0/24', gateway: '192.168.56.12', protocol: P }];
    assert.deepEqual(planRoutes(want, table), { replace: [], remove: [dupe, gone], conflicts: [] });
    // With no node left, every route of ours goes and nothing else.
    assert.deepEqual(planRoutes([], table).remove.map((r) => r.dst).sort(), ['10.244.1.0/24', '10.244.1.0/24', '10.244.2.0/24', '10.244.7.0/24']);
  });

  it('never replaces a route someone else made for the same destination', () => {
    const theirs: KernelRoute = { dst: '10.244.1.0/24', dev: 'wg0', protocol: '4' };
    const p = planRoutes(want, [...base, theirs]);
    assert.deepEqual(p.replace, [want[1]]);
    assert.deepEqual(p.remove, []);
    assert.equal(p.conflicts.length, 1);
    assert.match(p.conflicts[0].reason, /did not make exists \(dev wg0, proto 4\)/);
  });

  it('a /32 as ip prints it (no length) still matches', () => {
    const host = [{ dst: '10.244.9.9/32', via: '192.168.56.11', node: 'x' }];
    assert.deepEqual(planRoutes(host, [{ dst: '10.244.9.9', gateway: '192.168.56.11', protocol: P }]).replace, []);
  });
});

describe('parsing ip -j', () => {
  it('reads addresses and routes as iproute2 6.1 prints them', () => {
    const addr = '[{"ifindex":1,"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},{"ifindex":2,"ifname":"eth1","addr_info":[{"family":"inet","local":"192.168.56.10","prefixlen":24},{"family":"inet6","local":"fe80::1","prefixlen":64}]},{"ifindex":3,"ifname":"dummy0"}]';
    assert.deepEqual(parseAddrJson(addr), [
      { address: '127.0.0.1', prefixLen: 8, dev: 'lo' },
      { address: '192.168.56.10', prefixLen: 24, dev: 'eth1' },
    ]);
    const route = '[{"dst":"default","gateway":"10.0.2.2","dev":"eth0","flags":[]},{"dst":"10.244.3.0/24","gateway":"192.168.56.12","dev":"eth1","protocol":"77","metric":5,"flags":[]}]';
    assert.deepEqual(parseRouteJson(route), [
      { dst: 'default', gateway: '10.0.2.2', dev: 'eth0', protocol: '3' },
      { dst: '10.244.3.0/24', gateway: '192.168.56.12', dev: 'eth1', protocol: '77', metric: 5 },
    ]);
    assert.deepEqual(parseRouteJson(''), []);
  });
});
