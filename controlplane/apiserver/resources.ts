/**
 * The resources the API server serves: one table, from which discovery,
 * OpenAPI, routing and storage keys are all derived.
 */

export interface SubresourceDef {
  /** e.g. `status`, `scale`, `binding`. */
  name: string;
  /** Kind the subresource speaks, with its group/version when not the parent's. */
  kind: string;
  group?: string;
  version?: string;
  verbs: string[];
}

export interface ResourceDef {
  /** API group: '' for core. */
  group: string;
  version: string;
  /** Lowercase plural, the URL segment. */
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  verbs: string[];
  subresources: SubresourceDef[];
  /** Whether spec changes bump metadata.generation (objects with a spec/status split). */
  hasStatus: boolean;
}

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

const status = (kind: string): SubresourceDef => ({ name: 'status', kind, verbs: ['get', 'patch', 'update'] });
const scale: SubresourceDef = { name: 'scale', kind: 'Scale', group: 'autoscaling', version: 'v1', verbs: ['get', 'patch', 'update'] };

function def(
  group: string,
  version: string,
  plural: string,
  kind: string,
  opts: Partial<Pick<ResourceDef, 'namespaced' | 'shortNames' | 'categories' | 'verbs' | 'subresources' | 'hasStatus'>> = {},
): ResourceDef {
  return {
    group,
    version,
    plural,
    singular: kind.toLowerCase(),
    kind,
    listKind: `${kind}List`,
    namespaced: opts.namespaced ?? true,
    shortNames: opts.shortNames ?? [],
    categories: opts.categories ?? [],
    verbs: opts.verbs ?? ALL_VERBS,
    subresources: opts.subresources ?? [],
    hasStatus: opts.hasStatus ?? false,
  };
}

export const RESOURCES: readonly ResourceDef[] = [
  def('', 'v1', 'namespaces', 'Namespace', {
    namespaced: false,
    shortNames: ['ns'],
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    subresources: [status('Namespace'), { name: 'finalize', kind: 'Namespace', verbs: ['update'] }],
    hasStatus: true,
  }),
  def('', 'v1', 'nodes', 'Node', { namespaced: false, shortNames: ['no'], subresources: [status('Node')], hasStatus: true }),
  def('', 'v1', 'pods', 'Pod', {
    shortNames: ['po'],
    categories: ['all'],
    subresources: [
      status('Pod'),
      { name: 'binding', kind: 'Binding', verbs: ['create'] },
      { name: 'eviction', kind: 'Eviction', group: 'policy', version: 'v1', verbs: ['create'] },
      { name: 'log', kind: 'Pod', verbs: ['get'] },
      { name: 'exec', kind: 'PodExecOptions', verbs: ['create', 'get'] },
    ],
    hasStatus: true,
  }),
  def('', 'v1', 'services', 'Service', {
    shortNames: ['svc'],
    categories: ['all'],
    verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
    subresources: [status('Service')],
    hasStatus: true,
  }),
  def('', 'v1', 'endpoints', 'Endpoints', { shortNames: ['ep'] }),
  def('', 'v1', 'configmaps', 'ConfigMap', { shortNames: ['cm'] }),
  def('', 'v1', 'secrets', 'Secret'),
  def('', 'v1', 'events', 'Event', { shortNames: ['ev'] }),
  def('', 'v1', 'serviceaccounts', 'ServiceAccount', { shortNames: ['sa'] }),
  def('apps', 'v1', 'deployments', 'Deployment', {
    shortNames: ['deploy'],
    categories: ['all'],
    subresources: [status('Deployment'), scale],
    hasStatus: true,
  }),
  def('apps', 'v1', 'replicasets', 'ReplicaSet', {
    shortNames: ['rs'],
    categories: ['all'],
    subresources: [status('ReplicaSet'), scale],
    hasStatus: true,
  }),
  def('apps', 'v1', 'daemonsets', 'DaemonSet', {
    shortNames: ['ds'],
    categories: ['all'],
    subresources: [status('DaemonSet')],
    hasStatus: true,
  }),
  def('coordination.k8s.io', 'v1', 'leases', 'Lease'),
  def('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice'),
];

export function groupVersion(r: Pick<ResourceDef, 'group' | 'version'>): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** All group versions served, core first, in a stable order. */
export function groupVersions(): { group: string; version: string }[] {
  const seen = new Map<string, { group: string; version: string }>();
  for (const r of RESOURCES) seen.set(groupVersion(r), { group: r.group, version: r.version });
  return [...seen.values()];
}

export function findResource(group: string, version: string, plural: string): ResourceDef | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural);
}

export function findByKind(apiVersion: string, kind: string): ResourceDef | undefined {
  return RESOURCES.find((r) => groupVersion(r) === apiVersion && r.kind === kind);
}

/**
 * Storage key of an object, as kube-apiserver lays out etcd:
 * `/registry/<group>/<plural>/<namespace>/<name>` (core resources have no group segment).
 */
export function storageKey(r: ResourceDef, namespace: string | undefined, name: string): string {
  return `${storagePrefix(r, namespace)}${name}`;
}

/** Prefix for listing: every namespace when namespace is undefined. */
export function storagePrefix(r: ResourceDef, namespace: string | undefined): string {
  const base = r.group ? `/registry/${r.group}/${r.plural}/` : `/registry/${r.plural}/`;
  if (!r.namespaced) return base;
  return namespace === undefined ? base : `${base}${namespace}/`;
}
