/**
 * The kinds the controllers read and write, and their REST paths. Kept here
 * rather than imported from the API server: controllers are ordinary clients
 * and know the API only as any client would.
 */

export interface Kind {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

const k = (group: string, version: string, plural: string, kind: string, namespaced = true): Kind => ({ group, version, plural, kind, namespaced });

export const PODS = k('', 'v1', 'pods', 'Pod');
export const NODES = k('', 'v1', 'nodes', 'Node', false);
export const NAMESPACES = k('', 'v1', 'namespaces', 'Namespace', false);
export const SERVICES = k('', 'v1', 'services', 'Service');
export const ENDPOINTS = k('', 'v1', 'endpoints', 'Endpoints');
export const CONFIGMAPS = k('', 'v1', 'configmaps', 'ConfigMap');
export const SECRETS = k('', 'v1', 'secrets', 'Secret');
export const SERVICEACCOUNTS = k('', 'v1', 'serviceaccounts', 'ServiceAccount');
export const DEPLOYMENTS = k('apps', 'v1', 'deployments', 'Deployment');
export const REPLICASETS = k('apps', 'v1', 'replicasets', 'ReplicaSet');
export const DAEMONSETS = k('apps', 'v1', 'daemonsets', 'DaemonSet');
export const LEASES = k('coordination.k8s.io', 'v1', 'leases', 'Lease');
export const ENDPOINTSLICES = k('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice');

/** Everything the garbage collector tracks owners and dependents of. */
export const GC_KINDS: readonly Kind[] = [PODS, NODES, SERVICES, ENDPOINTS, CONFIGMAPS, SECRETS, SERVICEACCOUNTS, DEPLOYMENTS, REPLICASETS, DAEMONSETS, LEASES, ENDPOINTSLICES];

export function apiVersionOf(r: Kind): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** The kind an ownerReference (apiVersion + kind) names, if we know it. */
export function kindFor(apiVersion: string, kind: string): Kind | undefined {
  return GC_KINDS.find((r) => apiVersionOf(r) === apiVersion && r.kind === kind);
}

/**
 * `/api/v1/namespaces/ns/pods/name/status`: the path of a collection (no name),
 * an object, or a subresource. `ns` is ignored for cluster-scoped kinds.
 */
export function pathFor(r: Kind, ns?: string, name?: string, sub?: string): string {
  let p = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  if (r.namespaced && ns) p += `/namespaces/${encodeURIComponent(ns)}`;
  p += `/${r.plural}`;
  if (name !== undefined) p += `/${encodeURIComponent(name)}`;
  if (sub) p += `/${sub}`;
  return p;
}
