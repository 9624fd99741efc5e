/**
 * Question + cache -> answer: the cluster zone's semantics as pure functions.
 *
 *   <svc>.<ns>.svc.<zone>   A/AAAA: the ClusterIP(s); headless (clusterIP None): every
 *                            ready endpoint address; ExternalName: a CNAME
 *   <ep>.<svc>.<ns>.svc     A of one endpoint of a headless service, named by its
 *                            hostname or, without one, by its dashed IP (CoreDNS's choice)
 *   _<port>._<proto>.<svc>… SRV per named port: the service name for a ClusterIP
 *                            service, one record per ready endpoint for a headless
 *                            one; address records of the targets as additionals
 *   <a-b-c-d>.<ns>.pod      A a.b.c.d (kube-dns's "pods insecure": the agent does not
 *                            watch every pod of the cluster, and the name proves nothing)
 *   d.c.b.a.in-addr.arpa    PTR for ClusterIPs and for named endpoints of headless services
 *
 * Negative answers are authoritative with the zone's SOA in authority: NXDOMAIN
 * when the name does not exist, NODATA (NOERROR, no answer) when it exists with
 * other types (an AAAA question for an IPv4 service; a namespace). Names outside
 * the zone are REFUSED: the agent never forwards out of the cluster. CNAMEs are
 * followed while they stay inside the zone (at most 8 hops, loops stop the chase).
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Answer, Question, StringAnswer } from 'dns-packet';
import type { Obj } from '../../controlplane/controllers/objects.js';
import { dashedIP, parseName, type ParsedName } from './names.js';
import type { DnsView, ReadyEndpoint } from './view.js';

export interface ZoneOptions {
  /** The cluster domain, e.g. `cluster.local` (no trailing dot). */
  domain: string;
  /** TTL of every record, and the SOA minimum (negative caching). */
  ttl: number;
}

export type Rcode = 'NOERROR' | 'FORMERR' | 'SERVFAIL' | 'NXDOMAIN' | 'NOTIMP' | 'REFUSED';

export interface Resolution {
  rcode: Rcode;
  /** AA: set on every answer from our zone, positive or negative. */
  authoritative: boolean;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
}

/** What exists at one name: all its records (every type), and glue for SRV targets. */
interface NodeData {
  exists: boolean;
  records: Answer[];
  extra: Answer[];
}

const MAX_CNAME_HOPS = 8;
const MISSING: NodeData = { exists: false, records: [], extra: [] };
const EMPTY: NodeData = { exists: true, records: [], extra: [] };

export function soaRecord(z: ZoneOptions, serial: number): Answer {
  return {
    name: z.domain,
    type: 'SOA',
    ttl: z.ttl,
    data: { mname: `ns.dns.${z.domain}`, rname: `hostmaster.${z.domain}`, serial, refresh: 7200, retry: 1800, expire: 86400, minimum: z.ttl },
  };
}

function addressRecords(name: string, ips: string[], ttl: number): Answer[] {
  const out: Answer[] = [];
  for (const ip of ips) {
    if (isIPv4(ip)) out.push({ name, type: 'A', ttl, data: ip });
    else if (isIPv6(ip)) out.push({ name, type: 'AAAA', ttl, data: ip });
  }
  return out;
}

type ServiceKind = 'external' | 'headless' | 'cluster';

function kindOf(svc: Obj): ServiceKind {
  if (svc.spec?.type === 'ExternalName') return 'external';
  return svc.spec?.clusterIP === 'None' ? 'headless' : 'cluster';
}

function clusterIPs(svc: Obj): string[] {
  const ips: string[] = Array.isArray(svc.spec?.clusterIPs) && svc.spec.clusterIPs.length ? svc.spec.clusterIPs : svc.spec?.clusterIP ? [svc.spec.clusterIP] : [];
  return ips.filter((ip) => ip !== 'None');
}

/** The DNS label of an endpoint: its hostname, else its first address, dashed. */
export function endpointLabel(ep: ReadyEndpoint): string {
  return (ep.hostname ?? dashedIP(ep.addresses[0])).toLowerCase();
}

const serviceFqdn = (z: ZoneOptions, ns: string, svc: string): string => `${svc}.${ns}.svc.${z.domain}`;

/** A port (of a Service spec or a slice) named `name` with protocol `proto`, both lowercase. */
const portMatches = (p: Obj, name: string, proto: string): boolean =>
  typeof p?.name === 'string' && p.name.toLowerCase() === name && String(p.protocol ?? 'TCP').toLowerCase() === proto;

function srvNode(parsed: Extract<ParsedName, { kind: 'srv' }>, owner: string, svc: Obj, view: DnsView, z: ZoneOptions): NodeData {
  const { namespace, service, port, protocol } = parsed;
  const kind = kindOf(svc);
  const specPort = (svc.spec?.ports ?? []).find((p: Obj) => portMatches(p, port, protocol));
  if (kind === 'external') return MISSING;
  if (kind === 'cluster') {
    if (!specPort) return MISSING;
    const target = serviceFqdn(z, namespace, service);
    return {
      exists: true,
      records: [{ name: owner, type: 'SRV', ttl: z.ttl, data: { priority: 0, weight: 100, port: specPort.port, target } }],
      extra: addressRecords(target, clusterIPs(svc), z.ttl),
    };
  }
  // Headless: the port each endpoint serves on comes from its slice (targetPort resolved per pod).
  const records: Answer[] = [];
  const extra: Answer[] = [];
  const eps = view.readyEndpoints(namespace, service).map((ep) => ({ ep, sp: ep.ports.find((p) => portMatches(p, port, protocol)) }));
  const serving = eps.filter((e) => e.sp && typeof e.sp.port === 'number');
  const weight = serving.length ? Math.max(1, Math.floor(100 / serving.length)) : 0;
  for (const { ep, sp } of serving) {
    const target = `${endpointLabel(ep)}.${serviceFqdn(z, namespace, service)}`;
    records.push({ name: owner, type: 'SRV', ttl: z.ttl, data: { priority: 0, weight, port: sp!.port, target } });
    extra.push(...addressRecords(target, ep.addresses, z.ttl));
  }
  // A named port with no ready endpoint yet still names something: NODATA, not NXDOMAIN.
  if (!records.length && !specPort) return MISSING;
  return { exists: true, records, extra };
}

/** Everything at one parsed name, or undefined when the name is not ours to answer. */
function nodeAt(parsed: ParsedName, owner: string, view: DnsView, z: ZoneOptions): NodeData | undefined {
  switch (parsed.kind) {
    case 'outside':
      return undefined;
    case 'apex':
      return { exists: true, records: [soaRecord(z, view.serial())], extra: [] };
    case 'fixed':
      return EMPTY;
    case 'none':
      return MISSING;
    case 'namespace':
      // Pods are not watched: every namespace's pod subtree exists. Service subtrees exist with a service in them.
      return parsed.tree === 'pod' || view.hasServices(parsed.namespace) ? EMPTY : MISSING;
    case 'pod':
      return { exists: true, records: addressRecords(owner, [parsed.ip], z.ttl), extra: [] };
    case 'reverse': {
      const records: Answer[] = [];
      for (const svc of view.servicesByIP(parsed.ip)) {
        records.push({ name: owner, type: 'PTR', ttl: z.ttl, data: serviceFqdn(z, svc.metadata.namespace, svc.metadata.name) });
      }
      for (const { service, hostname } of view.namedEndpointsByIP(parsed.ip)) {
        if (kindOf(service) !== 'headless') continue;
        records.push({ name: owner, type: 'PTR', ttl: z.ttl, data: `${hostname.toLowerCase()}.${serviceFqdn(z, service.metadata.namespace, service.metadata.name)}` });
      }
      // Addresses we hold nothing for are somebody else's reverse zone.
      return records.length ? { exists: true, records, extra: [] } : undefined;
    }
    case 'service':
    case 'endpoint':
    case 'srvproto':
    case 'srv':
      return serviceNode(parsed, owner, view, z);
  }
}

type ServiceName = Extract<ParsedName, { kind: 'service' | 'endpoint' | 'srvproto' | 'srv' }>;

/** Names under one service: the service itself, its endpoints, its SRV tree. */
function serviceNode(parsed: ServiceName, owner: string, view: DnsView, z: ZoneOptions): NodeData {
  const svc = view.service(parsed.namespace, parsed.service);
  if (!svc) return MISSING;
  switch (parsed.kind) {
    case 'service': {
      const kind = kindOf(svc);
      if (kind === 'external') {
        const target = String(svc.spec?.externalName ?? '').replace(/\.$/, '');
        return { exists: true, records: target ? [{ name: owner, type: 'CNAME', ttl: z.ttl, data: target }] : [], extra: [] };
      }
      const ips = kind === 'cluster' ? clusterIPs(svc) : view.readyEndpoints(parsed.namespace, parsed.service).flatMap((ep) => ep.addresses);
      return { exists: true, records: addressRecords(owner, ips, z.ttl), extra: [] };
    }
    case 'endpoint': {
      if (kindOf(svc) !== 'headless') return MISSING;
      const ips = view
        .readyEndpoints(parsed.namespace, parsed.service)
        .filter((ep) => endpointLabel(ep) === parsed.endpoint)
        .flatMap((ep) => ep.addresses);
      return ips.length ? { exists: true, records: addressRecords(owner, ips, z.ttl), extra: [] } : MISSING;
    }
    case 'srvproto':
      return (svc.spec?.ports ?? []).some((p: Obj) => p.name && String(p.protocol ?? 'TCP').toLowerCase() === parsed.protocol) ? EMPTY : MISSING;
    case 'srv':
      return srvNode(parsed, owner, svc, view, z);
  }
}

const refused = (): Resolution => ({ rcode: 'REFUSED', authoritative: false, answers: [], authorities: [], additionals: [] });

/** Answers one question from the view. Pure: the same view and question give the same answer. */
export function resolveQuestion(q: Question, view: DnsView, z: ZoneOptions): Resolution {
  const cls = q.class ?? 'IN';
  if (cls !== 'IN' && cls !== 'ANY') return refused();
  const answers: Answer[] = [];
  const additionals: Answer[] = [];
  const seen = new Set<string>();
  // Decoded questions carry any type name dns-packet knows ('ANY' included) or UNKNOWN_<n>.
  const qtype = q.type as string;
  let name = q.name;
  for (let hop = 0; ; hop++) {
    const node = nodeAt(parseName(name, z.domain), name, view, z);
    // A CNAME leading out of the zone: the client resolves the target itself.
    if (!node) return hop === 0 ? refused() : { rcode: 'NOERROR', authoritative: true, answers, authorities: [], additionals };
    if (!node.exists) return { rcode: 'NXDOMAIN', authoritative: true, answers, authorities: [soaRecord(z, view.serial())], additionals };
    const cname = node.records.find((r): r is StringAnswer => r.type === 'CNAME');
    if (cname && qtype !== 'CNAME' && qtype !== 'ANY') {
      answers.push(cname);
      const target = String(cname.data).toLowerCase();
      seen.add(name.toLowerCase());
      if (seen.has(target) || hop + 1 >= MAX_CNAME_HOPS) return { rcode: 'NOERROR', authoritative: true, answers, authorities: [], additionals };
      name = String(cname.data);
      continue;
    }
    const matching = qtype === 'ANY' ? node.records : node.records.filter((r) => r.type === qtype);
    answers.push(...matching);
    if (matching.some((r) => r.type === 'SRV')) additionals.push(...node.extra);
    return { rcode: 'NOERROR', authoritative: true, answers, authorities: answers.length ? [] : [soaRecord(z, view.serial())], additionals };
  }
}
