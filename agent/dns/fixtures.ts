/**
 * Services and EndpointSlices for the DNS unit tests and the benchmark, shaped
 * as the API server stores them, loaded into the real IndexedView over real
 * Indexers (the informers' stores).
 */
import type { Obj } from '../../controlplane/controllers/objects.js';
import { Indexer } from '../../controlplane/controllers/store.js';
import { IndexedView } from './view.js';

export function service(ns: string, name: string, spec: Obj): Obj {
  return { apiVersion: 'v1', kind: 'Service', metadata: { namespace: ns, name, uid: `uid-${ns}-${name}`, resourceVersion: '1' }, spec };
}

export interface EndpointFixture {
  ip: string;
  ready?: boolean;
  hostname?: string;
}

export function slice(ns: string, svc: string, name: string, eps: EndpointFixture[], ports: Obj[] = []): Obj {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: ns, name, labels: { 'kubernetes.io/service-name': svc }, resourceVersion: '1' },
    addressType: 'IPv4',
    endpoints: eps.map((e) => ({
      addresses: [e.ip],
      conditions: e.ready === undefined ? {} : { ready: e.ready },
      ...(e.hostname ? { hostname: e.hostname } : {}),
    })),
    ports,
  };
}

export function viewOf(services: Obj[], slices: Obj[], serial = 42): IndexedView {
  const s = new Indexer();
  for (const o of services) s.upsert(o);
  const e = new Indexer();
  for (const o of slices) e.upsert(o);
  return new IndexedView(s, e, serial);
}

/** A small cluster covering every record kind the zone serves. */
export function sampleCluster(): IndexedView {
  return viewOf(
    [
      service('default', 'web', { type: 'ClusterIP', clusterIP: '10.96.5.5', clusterIPs: ['10.96.5.5'], ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }, { name: 'dns', port: 53, protocol: 'UDP' }] }),
      service('default', 'db', { clusterIP: 'None', clusterIPs: ['None'], ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] }),
      service('default', 'ext', { type: 'ExternalName', externalName: 'db.other.example.com.' }),
      service('default', 'alias', { type: 'ExternalName', externalName: 'web.default.svc.cluster.local' }),
      service('default', 'loop1', { type: 'ExternalName', externalName: 'loop2.default.svc.cluster.local' }),
      service('default', 'loop2', { type: 'ExternalName', externalName: 'loop1.default.svc.cluster.local' }),
      service('other', 'api', { clusterIP: '10.96.7.7', ports: [{ port: 443, protocol: 'TCP' }] }),
    ],
    [
      slice('default', 'db', 'db-abc', [{ ip: '10.244.0.11', hostname: 'db-0' }, { ip: '10.244.0.12', hostname: 'db-1' }, { ip: '10.244.0.13', ready: false, hostname: 'db-2' }, { ip: '10.244.0.14' }], [
        { name: 'pg', port: 15432, protocol: 'TCP' },
      ]),
      slice('default', 'web', 'web-abc', [{ ip: '10.244.0.21' }], [{ name: 'http', port: 8080, protocol: 'TCP' }]),
    ],
  );
}
