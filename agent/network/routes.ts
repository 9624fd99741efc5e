/**
 * Cross-node pod routes, "host-gw" style (flannel's backend of that name): every
 * node reaches another node's pod CIDR through that node's InternalIP, which
 * must be on a directly connected network (one L2 segment, as the lab's and the
 * Vagrantfile's 192.168.56.0/24). No encapsulation and no NAT: pods see each
 * other's real addresses.
 *
 * This file is the decision logic only, pure and tested without root:
 * `desiredRoutes` (nodes -> routes, with the reason for every node skipped) and
 * `planRoutes` (desired vs the kernel's table -> what to replace and delete).
 * routesync.ts does the I/O.
 *
 * Ownership: every route Skiff adds carries the routing protocol number
 * SKIFF_ROUTE_PROTO, so the cleanup deletes only routes that are ours, and a
 * route someone else made for the same destination is never replaced.
 */
import type { Obj } from '../../controlplane/controllers/objects.js';

/**
 * `proto 77`: the route's origin as iproute2 shows it. 77 is unassigned in
 * iproute2's /etc/iproute2/rt_protos (which reserves 0-4, 8-18, 42, 99, 186-192);
 * an administrator may name it `skiff` there: `echo '77 skiff' > /etc/iproute2/rt_protos.d/skiff.conf`.
 */
export const SKIFF_ROUTE_PROTO = 77;

/** An IPv4 address configured on this host (`ip -j addr`). */
export interface LocalAddress {
  address: string;
  prefixLen: number;
  dev: string;
}

/** A route of the main table (`ip -N -j route`); protocol as a number string ("2" = kernel). */
export interface KernelRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol: string;
  /** Absent (0) for the routes Skiff adds. */
  metric?: number;
}

export interface HostGwRoute {
  /** The other node's pod CIDR. */
  dst: string;
  /** Its InternalIP. */
  via: string;
  node: string;
}

export interface Skipped {
  node: string;
  reason: string;
}

export interface RoutePlan {
  /** `ip route replace <dst> via <via> proto 77`: missing or pointing elsewhere. */
  replace: HostGwRoute[];
  /** Our routes no node wants any more. */
  remove: KernelRoute[];
  /** Desired routes not programmed because a route that is not ours has that destination. */
  conflicts: Skipped[];
}

// ---- IPv4 arithmetic ------------------------------------------------------------

/** The address as an unsigned 32-bit number, or undefined when it is not dotted-quad IPv4. */
export function ipv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const o = m.slice(1, 5).map(Number);
  if (o.some((x) => x > 255)) return undefined;
  return ((o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]) >>> 0;
}

export interface Cidr {
  base: number;
  bits: number;
}

/** `a.b.c.d/n` with the host bits cleared; undefined when malformed. */
export function parseCidr(s: string): Cidr | undefined {
  const [a, n, extra] = s.split('/');
  if (extra !== undefined || n === undefined || !/^\d{1,2}$/.test(n) || Number(n) > 32) return undefined;
  const ip = ipv4(a);
  if (ip === undefined) return undefined;
  const bits = Number(n);
  return { base: (ip & mask(bits)) >>> 0, bits };
}

const mask = (bits: number): number => (bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0);

export const cidrContains = (c: Cidr, ip: number): boolean => ((ip & mask(c.bits)) >>> 0) === c.base;

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  const bits = Math.min(a.bits, b.bits);
  return ((a.base & mask(bits)) >>> 0) === ((b.base & mask(bits)) >>> 0);
}

// ---- decisions ----------------------------------------------------------------

const podCIDROf = (n: Obj): string | undefined => n.spec?.podCIDR ?? n.spec?.podCIDRs?.[0];
const internalIPOf = (n: Obj): string | undefined =>
  (n.status?.addresses as { type: string; address: string }[] | undefined)?.find((a) => a.type === 'InternalIP' && ipv4(a.address) !== undefined)?.address;

/**
 * The routes this node needs to the other nodes' pods. A node is skipped, with
 * its reason, when it has no podCIDR or IPv4 InternalIP yet, when its InternalIP
 * is an address of this host (nodes sharing one host, as in tests), lies in the
 * cluster CIDR, or is not on a directly connected network of this host (a route
 * via a gateway that is not a neighbour cannot work: the kernel refuses it),
 * and when its podCIDR overlaps ours, a connected network, or a node's seen
 * before it (nodes are taken in name order, so every agent decides alike).
 *
 * `local`: this host's IPv4 addresses (loopback ones are ignored).
 */
export function desiredRoutes(nodes: Obj[], self: string, local: LocalAddress[], clusterCIDR?: string): { routes: HostGwRoute[]; skipped: Skipped[] } {
  const routes: HostGwRoute[] = [];
  const skipped: Skipped[] = [];
  const cluster = clusterCIDR ? parseCidr(clusterCIDR) : undefined;
  const nets = local
    .filter((a) => a.dev !== 'lo' && !a.address.startsWith('127.'))
    .map((a) => ({ ...a, ip: ipv4(a.address), cidr: parseCidr(`${a.address}/${a.prefixLen}`) }))
    .filter((a): a is typeof a & { ip: number; cidr: Cidr } => a.ip !== undefined && a.cidr !== undefined);
  const localIPs = new Set(local.map((a) => a.address));
  const me = nodes.find((n) => n.metadata?.name === self);
  const mine = me && podCIDROf(me) ? parseCidr(podCIDROf(me)!) : undefined;
  const taken: { node: string; cidr: Cidr }[] = [];
  const others = nodes.filter((n) => n.metadata?.name && n.metadata.name !== self).sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  for (const n of others) {
    const node = n.metadata.name as string;
    const skip = (reason: string): void => void skipped.push({ node, reason });
    const podCIDR = podCIDROf(n);
    if (!podCIDR) {
      skip('no podCIDR assigned yet');
      continue;
    }
    const pc = parseCidr(podCIDR);
    if (!pc) {
      skip(`podCIDR "${podCIDR}" is not an IPv4 CIDR (host-gw routes are IPv4 only)`);
      continue;
    }
    const ip = internalIPOf(n);
    if (!ip) {
      skip('no IPv4 InternalIP in its status yet');
      continue;
    }
    if (localIPs.has(ip)) {
      skip(`its InternalIP ${ip} is an address of this host (nodes sharing a host need no route)`);
      continue;
    }
    const ipn = ipv4(ip)!;
    if (cluster && cidrContains(cluster, ipn)) {
      skip(`its InternalIP ${ip} lies in the cluster CIDR ${clusterCIDR}`);
      continue;
    }
    const net = nets.find((a) => cidrContains(a.cidr, ipn));
    if (!net) {
      skip(`its InternalIP ${ip} is not on a directly connected network of this host (host-gw needs every node on one L2 segment)`);
      continue;
    }
    if (mine && cidrsOverlap(mine, pc)) {
      skip(`its podCIDR ${podCIDR} overlaps this node's ${podCIDROf(me!)}`);
      continue;
    }
    const onLink = nets.find((a) => cidrsOverlap(a.cidr, pc));
    if (onLink) {
      skip(`its podCIDR ${podCIDR} overlaps the connected network of ${onLink.dev}`);
      continue;
    }
    const clash = taken.find((t) => cidrsOverlap(t.cidr, pc));
    if (clash) {
      skip(`its podCIDR ${podCIDR} overlaps that of node ${clash.node}`);
      continue;
    }
    taken.push({ node, cidr: pc });
    routes.push({ dst: `${ipv4String(pc.base)}/${pc.bits}`, via: ip, node });
  }
  return { routes, skipped };
}

const ipv4String = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

/** `ip` prints a /32 destination without its length. */
const normDst = (dst: string): string => (dst.includes('/') || dst === 'default' ? dst : `${dst}/32`);

/**
 * What to change so that the main table holds exactly the desired routes among
 * ours (protocol SKIFF_ROUTE_PROTO). Routes of other origins are never touched:
 * a desired destination that already has one is reported as a conflict.
 */
export function planRoutes(desired: HostGwRoute[], table: KernelRoute[]): RoutePlan {
  const proto = String(SKIFF_ROUTE_PROTO);
  const ours = table.filter((r) => r.protocol === proto);
  const foreign = table.filter((r) => r.protocol !== proto);
  const plan: RoutePlan = { replace: [], remove: [], conflicts: [] };
  const wanted = new Set<string>();
  for (const d of desired) {
    const f = foreign.find((r) => normDst(r.dst) === d.dst);
    if (f) {
      plan.conflicts.push({ node: d.node, reason: `a route to ${d.dst} that Skiff did not make exists (${f.gateway ? `via ${f.gateway}` : `dev ${f.dev ?? '?'}`}, proto ${f.protocol}); leaving it` });
      wanted.add(d.dst); // and leave ours, if any, alone too
      continue;
    }
    wanted.add(d.dst);
    const cur = ours.filter((r) => normDst(r.dst) === d.dst);
    const right = cur.find((r) => r.gateway === d.via && !r.metric);
    if (!right) plan.replace.push(d); // `replace` rewrites the metric-0 route to d.dst, or adds it
    // Any other route of ours to d.dst (another metric) is stale.
    plan.remove.push(...cur.filter((r) => r !== right && !(r.metric === undefined || r.metric === 0)));
  }
  for (const r of ours) if (!wanted.has(normDst(r.dst))) plan.remove.push(r);
  return plan;
}

// ---- parsing `ip -j` ------------------------------------------------------------

/** IPv4 addresses from `ip -j -4 addr show`. */
export function parseAddrJson(text: string): LocalAddress[] {
  const links = JSON.parse(text || '[]') as { ifname: string; addr_info?: { family: string; local: string; prefixlen: number }[] }[];
  return links.flatMap((l) => (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => ({ address: a.local, prefixLen: a.prefixlen, dev: l.ifname })));
}

/** Routes from `ip -N -j -4 route show table main` (a route without a protocol is `boot`, 3). */
export function parseRouteJson(text: string): KernelRoute[] {
  const rs = JSON.parse(text || '[]') as { dst: string; gateway?: string; dev?: string; protocol?: string; metric?: number }[];
  return rs.map((r) => ({ dst: r.dst, gateway: r.gateway, dev: r.dev, protocol: r.protocol ?? '3', ...(r.metric ? { metric: r.metric } : {}) }));
}
