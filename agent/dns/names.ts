/**
 * What a DNS question's name refers to in the cluster's naming scheme (the
 * Kubernetes DNS specification, https://github.com/kubernetes/dns/blob/master/docs/specification.md):
 *
 *   <svc>.<ns>.svc.<zone>                      a Service
 *   <endpoint>.<svc>.<ns>.svc.<zone>           one endpoint of a headless Service
 *   _<port>._<proto>.<svc>.<ns>.svc.<zone>     SRV for a named port
 *   <a-b-c-d>.<ns>.pod.<zone>                  a pod by its IP
 *   d.c.b.a.in-addr.arpa                       reverse lookups (PTR)
 *
 * Pure: names in, a tagged description out. Matching is case-insensitive (the
 * name is lowercased here, once); the caller answers with the name as asked.
 */
import { isIPv4 } from 'node:net';

export type ParsedName =
  /** Not under the cluster domain nor a reverse name: not ours to answer. */
  | { kind: 'outside' }
  /** The zone apex or one of its fixed empty non-terminals (svc., pod.): exists, no records but SOA/NS at the apex. */
  | { kind: 'apex' }
  | { kind: 'fixed' }
  /** `<ns>.svc.<zone>` and `<ns>.pod.<zone>`: exist when the namespace has services (svc) or always (pod). */
  | { kind: 'namespace'; namespace: string; tree: 'svc' | 'pod' }
  | { kind: 'service'; namespace: string; service: string }
  | { kind: 'endpoint'; namespace: string; service: string; endpoint: string }
  /** `_<proto>.<svc>.<ns>.svc.<zone>`: the empty non-terminal above SRV names. */
  | { kind: 'srvproto'; namespace: string; service: string; protocol: string }
  | { kind: 'srv'; namespace: string; service: string; port: string; protocol: string }
  | { kind: 'pod'; namespace: string; ip: string }
  | { kind: 'reverse'; ip: string }
  /** Under the cluster domain but no shape the scheme defines: NXDOMAIN. */
  | { kind: 'none' };

/** The labels of a name, lowercased, without the root's empty label. */
export function labelsOf(name: string): string[] {
  const n = name.toLowerCase().replace(/\.$/, '');
  return n === '' ? [] : n.split('.');
}

/** `10.244.1.5` -> `10-244-1-5`, as pod and endpoint names spell IPs. */
export function dashedIP(ip: string): string {
  return ip.replace(/[.:]/g, '-');
}

/** `10-244-1-5` -> `10.244.1.5`, undefined when it is not a dashed IPv4 address. */
export function undashIP(label: string): string | undefined {
  const ip = label.replace(/-/g, '.');
  return /^\d+(\.\d+){3}$/.test(ip) && isIPv4(ip) ? ip : undefined;
}

/** `10.96.0.10` -> `10.0.96.10.in-addr.arpa`. */
export function reverseName(ip: string): string {
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}

const OCTET = /^(0|[1-9]\d{0,2})$/;

function parseReverse(labels: string[]): ParsedName {
  // labels end with in-addr, arpa; before them 4 octets, least significant first. Partial
  // names (the reverse tree's upper levels) are not ours: only full addresses are served.
  const octets = labels.slice(0, -2);
  if (octets.length !== 4 || !octets.every((o) => OCTET.test(o) && Number(o) <= 255)) return { kind: 'outside' };
  return { kind: 'reverse', ip: [...octets].reverse().join('.') };
}

/**
 * Parses `qname` against the cluster domain (`cluster.local`). Never throws:
 * anything unexpected is `outside` (not our zone) or `none` (our zone, no such name).
 */
export function parseName(qname: string, domain: string): ParsedName {
  const labels = labelsOf(qname);
  const zone = labelsOf(domain);
  if (labels.length >= 2 && labels[labels.length - 1] === 'arpa' && labels[labels.length - 2] === 'in-addr') return parseReverse(labels);
  if (labels.length < zone.length || zone.some((z, i) => labels[labels.length - zone.length + i] !== z)) return { kind: 'outside' };
  const rel = labels.slice(0, labels.length - zone.length);
  if (rel.length === 0) return { kind: 'apex' };
  const tree = rel[rel.length - 1];
  const sub = rel.slice(0, -1);
  if (tree === 'svc') {
    if (sub.length === 0) return { kind: 'fixed' };
    const namespace = sub[sub.length - 1];
    if (sub.length === 1) return { kind: 'namespace', namespace, tree: 'svc' };
    const service = sub[sub.length - 2];
    if (sub.length === 2) return { kind: 'service', namespace, service };
    if (sub.length === 3) {
      // `_tcp.<svc>...` is the non-terminal above SRV names; any other label names an endpoint.
      return sub[0].startsWith('_') ? { kind: 'srvproto', namespace, service, protocol: sub[0].slice(1) } : { kind: 'endpoint', namespace, service, endpoint: sub[0] };
    }
    if (sub.length === 4 && sub[0].startsWith('_') && sub[1].startsWith('_')) {
      return { kind: 'srv', namespace, service, port: sub[0].slice(1), protocol: sub[1].slice(1) };
    }
    return { kind: 'none' };
  }
  if (tree === 'pod') {
    if (sub.length === 0) return { kind: 'fixed' };
    const namespace = sub[sub.length - 1];
    if (sub.length === 1) return { kind: 'namespace', namespace, tree: 'pod' };
    const ip = sub.length === 2 ? undashIP(sub[0]) : undefined;
    return ip ? { kind: 'pod', namespace, ip } : { kind: 'none' };
  }
  return { kind: 'none' };
}
