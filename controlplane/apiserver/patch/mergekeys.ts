/**
 * How strategic merge patch treats each list field: the stand-in for the
 * `patchStrategy`/`patchMergeKey` struct tags of the Kubernetes Go types.
 *
 * A list is either merged by a key inside its elements (`containers` by
 * `name`), merged as a set of primitives (`metadata.finalizers`), or atomic
 * (replaced whole). Anything not listed here is atomic, which is also what
 * Kubernetes does for fields without a patch strategy.
 */

export type ListStrategy =
  | { type: 'atomic' }
  | { type: 'primitive' }
  | { type: 'map'; key: string };

const ATOMIC: ListStrategy = { type: 'atomic' };
const PRIMITIVE: ListStrategy = { type: 'primitive' };
const byKey = (key: string): ListStrategy => ({ type: 'map', key });

/** Where the pod spec sits in each workload kind. */
const POD_SPEC_PATHS: Record<string, readonly string[]> = {
  Pod: ['spec'],
  PodTemplate: ['template', 'spec'],
  Deployment: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  ReplicationController: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

const CONTAINER_LISTS = new Set(['containers', 'initContainers', 'ephemeralContainers']);

/** List fields directly under a PodSpec. */
const POD_SPEC_LISTS: Record<string, ListStrategy> = {
  containers: byKey('name'),
  initContainers: byKey('name'),
  ephemeralContainers: byKey('name'),
  volumes: byKey('name'),
  imagePullSecrets: byKey('name'),
  hostAliases: byKey('ip'),
  topologySpreadConstraints: byKey('topologyKey'),
  tolerations: ATOMIC,
};

/** List fields directly under a Container. */
const CONTAINER_FIELDS: Record<string, ListStrategy> = {
  env: byKey('name'),
  ports: byKey('containerPort'),
  volumeMounts: byKey('mountPath'),
  volumeDevices: byKey('devicePath'),
};

function startsWith(path: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= path.length && prefix.every((p, i) => path[i] === p);
}

/**
 * The strategy for the list at `path` (field names from the object root, list
 * indices omitted: `spec.template.spec.containers.env` for a container's env)
 * in an object of `kind`.
 */
export function listStrategy(path: readonly string[], kind: string): ListStrategy {
  const last = path[path.length - 1];
  const parent = path[path.length - 2];

  const podSpec = POD_SPEC_PATHS[kind];
  if (podSpec && startsWith(path, podSpec)) {
    const rel = path.slice(podSpec.length);
    if (rel.length === 1 && Object.prototype.hasOwnProperty.call(POD_SPEC_LISTS, rel[0])) {
      return POD_SPEC_LISTS[rel[0]];
    }
    if (rel.length === 2 && CONTAINER_LISTS.has(rel[0]) && Object.prototype.hasOwnProperty.call(CONTAINER_FIELDS, rel[1])) {
      return CONTAINER_FIELDS[rel[1]];
    }
  }

  if (kind === 'Service' && path.length === 2 && path[0] === 'spec' && last === 'ports') return byKey('port');

  // ObjectMeta appears at the root and inside templates; both behave the same.
  if (parent === 'metadata' && last === 'finalizers') return PRIMITIVE;
  if (parent === 'metadata' && last === 'ownerReferences') return byKey('uid');

  // Pod, Node, Deployment, Job, ... conditions are all keyed by type.
  if (last === 'conditions') return byKey('type');

  return ATOMIC;
}
