/**
 * The proxy's view of the cluster, as pure data: from Service and EndpointSlice
 * objects to one `ServicePort` per (service, port), each with the endpoints it
 * may send to. Pure functions only; both rule renderers (nftables.ts,
 * iptables-rules.ts) start from this.
 *
 * Contracts (kube-proxy's, pkg/proxy/servicechangetracker + endpointslicecache):
 * - ExternalName services and ports without a ClusterIP (headless) get no rules;
 *   protocols other than TCP, UDP and SCTP are ignored.
 * - Endpoints come from the slices labelled `kubernetes.io/service-name=<name>` in
 *   the service's namespace, IPv4 only; a slice port matches a service port by
 *   name ('' for an unnamed port) and gives the endpoint's port.
 * - An endpoint is used when `conditions.ready` is true or unset (the API says
 *   unset means ready); a terminating or not-ready one leaves the rotation.
 * - internalTrafficPolicy Local: ClusterIP traffic goes only to endpoints whose
 *   `nodeName` is this node; externalTrafficPolicy Local does the same for NodePort
 *   and external IPs (and those keep the client's address: no masquerade).
 * - Endpoints are sorted by address then port, so the same input always renders
 *   the same text (golden tests, and diffing for partial syncs).
 */
import type { Obj } from '../../controlplane/controllers/objects.js';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface Endpoint {
  ip: string;
  port: number;
  nodeName?: string;
}

export interface ServicePort {
  /** `namespace/name:port`, or `namespace/name` for an unnamed port (kube-proxy's ServicePortName). */
  key: string;
  /** `namespace/name`: the unit of change tracking. */
  service: string;
  protocol: Protocol;
  clusterIP: string;
  port: number;
  /** 0 when the service has none. */
  nodePort: number;
  externalIPs: string[];
  /** ClientIP affinity timeout in seconds; 0 when sessionAffinity is None. */
  affinitySeconds: number;
  /** Ready endpoints for traffic to the ClusterIP (internalTrafficPolicy applied). */
  internal: Endpoint[];
  /** Ready endpoints for NodePort and external IP traffic (externalTrafficPolicy applied). */
  external: Endpoint[];
  /** externalTrafficPolicy Local: external traffic keeps its source address. */
  externalLocal: boolean;
  /** True when the service has ready endpoints somewhere (decides REJECT vs DROP when a Local policy leaves none here). */
  hasEndpoints: boolean;
}

export interface ProxyTopology {
  /** This node's name: endpoints with this nodeName are local. */
  nodeName: string;
  /** The cluster's pod CIDR: ClusterIP traffic from outside it is masqueraded. */
  clusterCIDR: string;
}

const PROTOCOLS = new Set<string>(['TCP', 'UDP', 'SCTP']);
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function isIPv4(s: unknown): s is string {
  const m = typeof s === 'string' ? IPV4.exec(s) : null;
  return !!m && m.slice(1).every((o) => Number(o) <= 255);
}

const validPort = (p: unknown): p is number => Number.isInteger(p) && (p as number) > 0 && (p as number) < 65536;

/** Sort key: address as a number, then port. */
function epOrder(a: Endpoint, b: Endpoint): number {
  return ipToInt(a.ip) - ipToInt(b.ip) || a.port - b.port;
}

export function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

/** `ns/name` of the service a slice belongs to; undefined when it names none. */
export function sliceService(slice: Obj): string | undefined {
  const name = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
  return name ? `${slice.metadata?.namespace ?? ''}/${name}` : undefined;
}

export function serviceKey(svc: Obj): string {
  return `${svc.metadata?.namespace ?? ''}/${svc.metadata?.name}`;
}

interface SliceEndpoint extends Endpoint {
  ready: boolean;
}

/** The endpoints the slices give for the port named `portName`, deduplicated (a pod may appear in two slices while they are rebalanced). */
function endpointsFor(slices: Obj[], portName: string, protocol: Protocol): SliceEndpoint[] {
  const out = new Map<string, SliceEndpoint>();
  for (const s of slices) {
    if (s.addressType !== 'IPv4') continue;
    const sp = (s.ports ?? []).find((p: Obj) => (p.name ?? '') === portName && (p.protocol ?? 'TCP') === protocol);
    if (!sp || !validPort(sp.port)) continue;
    for (const e of s.endpoints ?? []) {
      // Unset means ready (discovery/v1 EndpointConditions); false or terminating means out.
      const ready = e.conditions?.ready !== false && e.conditions?.terminating !== true;
      for (const ip of e.addresses ?? []) {
        if (!isIPv4(ip)) continue;
        const k = `${ip}:${sp.port}`;
        const prev = out.get(k);
        // A ready copy wins over a not-ready one (slices catching up with each other).
        if (!prev || (!prev.ready && ready)) out.set(k, { ip, port: sp.port, nodeName: e.nodeName, ready });
      }
    }
  }
  return [...out.values()];
}

/**
 * The service ports of one Service with their endpoints (`slices` are the slices
 * of this service; others are ignored). Returns [] for services that get no rules.
 */
export function servicePorts(svc: Obj, slices: Obj[], topo: ProxyTopology): ServicePort[] {
  const spec = svc.spec ?? {};
  if (spec.type === 'ExternalName') return [];
  const clusterIP: string | undefined = spec.clusterIP;
  if (!isIPv4(clusterIP)) return []; // headless ("None"), IPv6-only or not yet allocated
  const service = serviceKey(svc);
  const own = slices.filter((s) => sliceService(s) === service);
  const affinitySeconds = spec.sessionAffinity === 'ClientIP' ? Number(spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800) : 0;
  const internalLocal = spec.internalTrafficPolicy === 'Local';
  const externalLocal = spec.externalTrafficPolicy === 'Local';
  const externalIPs = [...new Set<string>((spec.externalIPs ?? []).filter(isIPv4))].sort((a, b) => ipToInt(a) - ipToInt(b));
  const withNodePorts = spec.type === 'NodePort' || spec.type === 'LoadBalancer';
  const out: ServicePort[] = [];
  for (const p of spec.ports ?? []) {
    const protocol = (p.protocol ?? 'TCP') as string;
    if (!PROTOCOLS.has(protocol) || !validPort(p.port)) continue;
    const name = p.name ?? '';
    const ready = endpointsFor(own, name, protocol as Protocol)
      .filter((e) => e.ready)
      .map(({ ip, port, nodeName }): Endpoint => (nodeName ? { ip, port, nodeName } : { ip, port }))
      .sort(epOrder);
    const local = ready.filter((e) => e.nodeName === topo.nodeName);
    out.push({
      key: name ? `${service}:${name}` : service,
      service,
      protocol: protocol as Protocol,
      clusterIP,
      port: p.port,
      nodePort: withNodePorts && validPort(p.nodePort) ? p.nodePort : 0,
      externalIPs,
      affinitySeconds: Number.isInteger(affinitySeconds) && affinitySeconds > 0 ? Math.min(affinitySeconds, 86400) : 0,
      internal: internalLocal ? local : ready,
      external: externalLocal ? local : ready,
      externalLocal,
      hasEndpoints: ready.length > 0,
    });
  }
  return out;
}

/** Every service port of the cluster, in a stable order (by key). */
export function allServicePorts(services: Obj[], slices: Obj[], topo: ProxyTopology): ServicePort[] {
  const bySvc = new Map<string, Obj[]>();
  for (const s of slices) {
    const k = sliceService(s);
    if (!k) continue;
    let l = bySvc.get(k);
    if (!l) bySvc.set(k, (l = []));
    l.push(s);
  }
  const out: ServicePort[] = [];
  for (const svc of services) out.push(...servicePorts(svc, bySvc.get(serviceKey(svc)) ?? [], topo));
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** `10.244.0.0/16` → [network as int, mask as int]; throws on anything else. */
export function parseCIDR(cidr: string): { base: number; bits: number } {
  const [ip, bits] = cidr.split('/');
  const n = Number(bits);
  if (!isIPv4(ip) || !Number.isInteger(n) || n < 0 || n > 32) throw new Error(`not an IPv4 CIDR: "${cidr}"`);
  return { base: ipToInt(ip), bits: n };
}
