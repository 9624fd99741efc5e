/**
 * What one service contributes to the nftables ruleset: map and set elements
 * only, since the native layout has a fixed set of chains (nftables.ts). Pure.
 *
 * Per service port, with P = its protocol and K = its number of endpoints:
 *
 * - traffic to a destination D (the ClusterIP, or an external IP) on port p:
 *   `service-ips`  D . P . p -> goto lb-K (lb-aff-K with ClientIP affinity), and
 *   `backends-P`   D . P . p . i -> endpoint i (i < K), picked by
 *   `numgen random mod K` in the lb chain: kube-proxy's 1/K, 1/(K-1), ...
 *   probabilities, in one map lookup;
 * - a NodePort n: the same with `service-nodeports` P . n and `nodeport-backends-P`;
 * - no endpoints: `no-endpoint-services` / `no-endpoint-nodeports` -> goto
 *   reject-chain (ICMP port unreachable), or drop when a Local traffic policy
 *   leaves none on this node while other nodes have some (kube-proxy does the same);
 * - masquerade marking: `masq-services` (ClusterIP: traffic from outside the
 *   cluster CIDR), `masq-external` and `masq-nodeports` (external traffic with
 *   externalTrafficPolicy Cluster);
 * - hairpin: `hairpin` holds E . E for every endpoint E, so a pod DNATed to
 *   itself is masqueraded (nft cannot compare saddr with daddr directly);
 * - ClientIP affinity: `affinity-<T>` / `affinity-np-<T>` list the destinations
 *   whose chosen endpoint is remembered for T seconds.
 */
import type { Endpoint, ServicePort } from './model.js';

/** One element: the set or map it belongs to, its key and (maps only) its data. */
export interface Element {
  set: string;
  key: string;
  /** '' for a plain set. */
  data: string;
}

export const REJECT = 'goto reject-chain';

const proto = (sp: ServicePort): string => sp.protocol.toLowerCase();

/** The lb chain for `k` endpoints: a chain per endpoint count, not per service. */
export function lbChain(kind: 'lb' | 'np', k: number, affinity: boolean): string {
  return `${kind}${affinity ? '-aff' : ''}-${k}`;
}

/** What a destination without endpoints does: endpoints elsewhere (a Local policy) drop, none at all reject. */
const noEndpoints = (sp: ServicePort): string => (sp.hasEndpoints ? 'drop' : REJECT);

function destination(sp: ServicePort, out: Element[], addr: string, eps: Endpoint[]): void {
  const key = `${addr} . ${proto(sp)} . ${sp.port}`;
  if (eps.length === 0) {
    out.push({ set: 'no-endpoint-services', key, data: noEndpoints(sp) });
    return;
  }
  out.push({ set: 'service-ips', key, data: `goto ${lbChain('lb', eps.length, sp.affinitySeconds > 0)}` });
  eps.forEach((e, i) => out.push({ set: `backends-${proto(sp)}`, key: `${key} . ${i}`, data: `${e.ip} . ${e.port}` }));
  if (sp.affinitySeconds > 0) out.push({ set: `affinity-${sp.affinitySeconds}`, key, data: '' });
}

/** The elements of one service port, in a stable order. */
export function portElements(sp: ServicePort): Element[] {
  const out: Element[] = [];
  const p = proto(sp);
  destination(sp, out, sp.clusterIP, sp.internal);
  if (sp.internal.length) out.push({ set: 'masq-services', key: `${sp.clusterIP} . ${p} . ${sp.port}`, data: '' });
  for (const ip of sp.externalIPs) {
    destination(sp, out, ip, sp.external);
    if (sp.external.length && !sp.externalLocal) out.push({ set: 'masq-external', key: `${ip} . ${p} . ${sp.port}`, data: '' });
  }
  if (sp.nodePort) {
    const key = `${p} . ${sp.nodePort}`;
    const eps = sp.external;
    if (eps.length === 0) out.push({ set: 'no-endpoint-nodeports', key, data: noEndpoints(sp) });
    else {
      out.push({ set: 'service-nodeports', key, data: `goto ${lbChain('np', eps.length, sp.affinitySeconds > 0)}` });
      eps.forEach((e, i) => out.push({ set: `nodeport-backends-${p}`, key: `${key} . ${i}`, data: `${e.ip} . ${e.port}` }));
      if (!sp.externalLocal) out.push({ set: 'masq-nodeports', key, data: '' });
      if (sp.affinitySeconds > 0) out.push({ set: `affinity-np-${sp.affinitySeconds}`, key, data: '' });
    }
  }
  const seen = new Set<string>();
  for (const e of [...sp.internal, ...sp.external]) {
    if (seen.has(e.ip)) continue;
    seen.add(e.ip);
    out.push({ set: 'hairpin', key: `${e.ip} . ${e.ip}`, data: '' });
  }
  return out;
}

/** The elements of all ports of one service. */
export function serviceElements(ports: ServicePort[]): Element[] {
  return ports.flatMap(portElements);
}

/** Sets whose name encodes a per-service parameter: declared on demand. */
export const AFFINITY_SET = /^affinity-(np-)?(\d+)$/;

/**
 * Which lb chains and affinity sets a collection of elements needs (derived
 * from goto targets and set names), so declarations follow the data.
 */
export function needs(sets: Iterable<[string, Iterable<string>]>): { chains: Set<string>; affinity: Set<string> } {
  const chains = new Set<string>();
  const affinity = new Set<string>();
  for (const [set, datas] of sets) {
    if (AFFINITY_SET.test(set)) affinity.add(set);
    if (set === 'service-ips' || set === 'service-nodeports') for (const d of datas) chains.add(d.slice('goto '.length));
  }
  return { chains, affinity };
}
