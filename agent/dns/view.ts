/**
 * What the DNS server reads: Services and EndpointSlices as the agent's watch
 * caches hold them, through a few indexed lookups. `IndexedView` sits on the
 * informers' own Indexers (no copy of any object: only index entries are
 * added), so the answers always reflect the latest cache state and a query
 * costs a handful of map reads.
 *
 * Only endpoints the EndpointSlice API calls ready are served (a missing
 * `ready` condition means ready, as the API defines); the slice controller
 * already folds `publishNotReadyAddresses` into that condition.
 */
import type { Obj } from '../../controlplane/controllers/objects.js';
import { NAMESPACE_INDEX, type Indexer } from '../../controlplane/controllers/store.js';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** One ready endpoint of a service: its address(es), DNS label and per-slice ports. */
export interface ReadyEndpoint {
  addresses: string[];
  hostname?: string;
  /** The ports of the slice the endpoint came from (slices group endpoints by port set). */
  ports: Obj[];
}

/** The lookups the resolver needs. Implementations must be cheap: called per query. */
export interface DnsView {
  service(namespace: string, name: string): Obj | undefined;
  /** Ready endpoints of the service's slices, deduplicated by address. */
  readyEndpoints(namespace: string, service: string): ReadyEndpoint[];
  /** True when the namespace holds at least one service (`<ns>.svc.<zone>` exists). */
  hasServices(namespace: string): boolean;
  /** Services whose ClusterIP(s) include `ip` (for PTR). */
  servicesByIP(ip: string): Obj[];
  /** Services with an endpoint at `ip` that carries a hostname (for PTR of headless endpoints). */
  namedEndpointsByIP(ip: string): { service: Obj; hostname: string }[];
  /** A number that grows whenever the data changes: the zone's SOA serial. */
  serial(): number;
}

const DNS_SLICES = 'dns:sliceByService';
const DNS_SLICE_IPS = 'dns:sliceByAddress';
const DNS_SERVICE_IPS = 'dns:serviceByClusterIP';

const isReady = (ep: Obj): boolean => ep.conditions?.ready !== false;

/** Over two Indexers (the Service and EndpointSlice informers' stores). */
export class IndexedView implements DnsView {
  private gen: number;

  constructor(
    private readonly services: Indexer,
    private readonly slices: Indexer,
    startSerial = Math.floor(Date.now() / 1000),
  ) {
    this.gen = startSerial;
    // Indexes are shared with anyone else reading these informers: add ours once.
    if (!slices.hasIndex(DNS_SLICES)) {
      slices.addIndex(DNS_SLICES, (s) => {
        const svc = s.metadata?.labels?.[SERVICE_NAME_LABEL];
        return svc ? [`${s.metadata.namespace}/${svc}`] : [];
      });
    }
    if (!slices.hasIndex(DNS_SLICE_IPS)) {
      slices.addIndex(DNS_SLICE_IPS, (s) =>
        Array.isArray(s.endpoints) ? s.endpoints.filter((e: Obj) => e.hostname && isReady(e)).flatMap((e: Obj) => (Array.isArray(e.addresses) ? e.addresses : [])) : [],
      );
    }
    if (!services.hasIndex(DNS_SERVICE_IPS)) {
      services.addIndex(DNS_SERVICE_IPS, (s) => {
        const ips: string[] = Array.isArray(s.spec?.clusterIPs) ? s.spec.clusterIPs : s.spec?.clusterIP ? [s.spec.clusterIP] : [];
        return ips.filter((ip) => ip && ip !== 'None');
      });
    }
  }

  /** Call on every cache change: moves the SOA serial on. */
  changed(): void {
    this.gen++;
  }

  serial(): number {
    return this.gen >>> 0;
  }

  service(namespace: string, name: string): Obj | undefined {
    return this.services.get(namespace, name);
  }

  hasServices(namespace: string): boolean {
    return this.services.byIndex(NAMESPACE_INDEX, namespace).length > 0;
  }

  readyEndpoints(namespace: string, service: string): ReadyEndpoint[] {
    const out: ReadyEndpoint[] = [];
    const seen = new Set<string>();
    // Sorted by slice name so answers do not depend on the order events arrived in.
    const slices = this.slices.byIndex(DNS_SLICES, `${namespace}/${service}`).sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
    for (const s of slices) {
      const ports: Obj[] = Array.isArray(s.ports) ? s.ports : [];
      for (const ep of Array.isArray(s.endpoints) ? s.endpoints : []) {
        if (!isReady(ep) || !Array.isArray(ep.addresses) || ep.addresses.length === 0) continue;
        const key = ep.addresses.join(',');
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ addresses: ep.addresses, hostname: ep.hostname || undefined, ports });
      }
    }
    return out;
  }

  servicesByIP(ip: string): Obj[] {
    return this.services.byIndex(DNS_SERVICE_IPS, ip);
  }

  namedEndpointsByIP(ip: string): { service: Obj; hostname: string }[] {
    const out: { service: Obj; hostname: string }[] = [];
    for (const s of this.slices.byIndex(DNS_SLICE_IPS, ip)) {
      const svc = this.services.get(s.metadata.namespace, s.metadata.labels?.[SERVICE_NAME_LABEL]);
      if (!svc) continue;
      for (const ep of s.endpoints ?? []) {
        if (ep.hostname && isReady(ep) && (ep.addresses ?? []).includes(ip)) out.push({ service: svc, hostname: ep.hostname });
      }
    }
    return out;
  }
}
