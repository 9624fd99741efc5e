/**
 * Services and EndpointSlices shared by the proxy's golden tests: one of each
 * feature, small enough to read the rendered rules line by line.
 */
import type { Obj } from '../../controlplane/controllers/objects.js';

export const NODE = 'node-a';
export const TOPOLOGY = { nodeName: NODE, clusterCIDR: '10.244.0.0/16' };

export function svc(name: string, spec: Obj, ns = 'default'): Obj {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns, resourceVersion: '1' }, spec: { type: 'ClusterIP', ...spec } };
}

export interface Ep {
  ip: string;
  node?: string;
  ready?: boolean;
  terminating?: boolean;
}

export function slice(service: string, eps: Ep[], ports: Obj[] = [{ name: '', port: 8080, protocol: 'TCP' }], ns = 'default', name = `${service}-abc`): Obj {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: ns, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports,
    endpoints: eps.map((e) => ({
      addresses: [e.ip],
      nodeName: e.node ?? NODE,
      conditions: { ready: e.ready ?? true, serving: e.ready ?? true, terminating: e.terminating ?? false },
    })),
  };
}

/** web: ClusterIP + NodePort + external IP, 3 endpoints (one terminating, one on another node). */
export const SERVICES: Obj[] = [
  svc('web', { clusterIP: '10.96.0.10', type: 'NodePort', externalIPs: ['192.0.2.10'], ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }] }),
  svc('sticky', { clusterIP: '10.96.0.11', sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } }, ports: [{ port: 80 }] }),
  svc('empty', { clusterIP: '10.96.0.12', ports: [{ port: 53, protocol: 'UDP', name: 'dns' }] }),
  svc('local', { clusterIP: '10.96.0.13', internalTrafficPolicy: 'Local', ports: [{ port: 80 }] }),
  svc('headless', { clusterIP: 'None', ports: [{ port: 80 }] }),
  svc('ext', { type: 'ExternalName', externalName: 'example.org' }),
];

export const SLICES: Obj[] = [
  slice('web', [{ ip: '10.244.0.5' }, { ip: '10.244.1.7', node: 'node-b' }, { ip: '10.244.0.6', ready: false, terminating: true }, { ip: '10.244.0.4' }]),
  slice('sticky', [{ ip: '10.244.0.5' }, { ip: '10.244.0.9' }], [{ name: '', port: 80, protocol: 'TCP' }]),
  slice('empty', [], [{ name: 'dns', port: 53, protocol: 'UDP' }]),
  slice('local', [{ ip: '10.244.1.8', node: 'node-b' }], [{ name: '', port: 80, protocol: 'TCP' }]),
];
