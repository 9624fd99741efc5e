/**
 * QoS classes and the cgroup layout of Skiff's pods. Pure.
 *
 * Layout (the kubelet's, with `skiff` in place of `kubepods`), the same path in
 * every cgroup v1 hierarchy and in the v2 unified tree:
 *
 *   /skiff                       node-level parent of every pod
 *   /skiff/pod<uid>              Guaranteed pods, directly under the root
 *   /skiff/burstable/pod<uid>    Burstable pods
 *   /skiff/besteffort/pod<uid>   BestEffort pods (cpu.shares 2 on the class)
 *
 * The pod cgroup is what the runtime receives as CgroupParent; with Docker's
 * cgroupfs driver each container then lives in `<pod cgroup>/<container id>`.
 * Guaranteed pods sit beside the class cgroups (not in a `guaranteed` one) so
 * their shares compete with the classes as a whole, exactly as in the kubelet.
 */
import { compareQuantities, addQuantities, tryParseQuantity, type Quantity } from '../../common/quantity.js';

export type QosClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

/** The name of the node-level parent cgroup under each hierarchy root. */
export const DEFAULT_CGROUP_ROOT = 'skiff';

/** A resource list as it arrives in JSON: `{cpu: "250m", memory: "64Mi"}`. */
export type ResourceList = Record<string, unknown>;

/** The parts of a container the cgroup logic reads. */
export interface ContainerLike {
  name?: string;
  resources?: { requests?: ResourceList; limits?: ResourceList };
  /** `Always` on an init container makes it a sidecar (restartable init container). */
  restartPolicy?: string;
}

/** The parts of a pod the cgroup logic reads (plain JSON or @kubernetes/client-node's V1Pod). */
export interface PodLike {
  metadata?: { uid?: string };
  spec?: { containers?: ContainerLike[]; initContainers?: ContainerLike[]; overhead?: ResourceList };
  status?: { qosClass?: string };
}

const QOS_RESOURCES = ['cpu', 'memory'] as const;

/** Adds the positive cpu/memory quantities of `list` into `into`; returns the names found. */
function sumPositive(into: Map<string, Quantity>, list: ResourceList | undefined): Set<string> {
  const found = new Set<string>();
  for (const name of QOS_RESOURCES) {
    const q = tryParseQuantity(list?.[name]);
    if (!q || q.nanos <= 0n) continue;
    found.add(name);
    const prev = into.get(name);
    into.set(name, prev ? addQuantities(prev, q) : q);
  }
  return found;
}

/**
 * The QoS class as Kubernetes' qos.ComputePodQOS computes it: only cpu and
 * memory count and zero quantities are ignored; init containers count like
 * the others. Guaranteed needs cpu and memory limits on every container and
 * the summed requests equal to the summed limits; nothing set at all is
 * BestEffort; anything else is Burstable.
 */
export function computeQosClass(pod: PodLike): QosClass {
  const requests = new Map<string, Quantity>();
  const limits = new Map<string, Quantity>();
  let guaranteed = true;
  for (const c of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])]) {
    sumPositive(requests, c.resources?.requests);
    const found = sumPositive(limits, c.resources?.limits);
    if (!found.has('cpu') || !found.has('memory')) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed) {
    for (const [name, req] of requests) {
      const lim = limits.get(name);
      if (!lim || compareQuantities(lim, req) !== 0) guaranteed = false;
    }
  }
  return guaranteed && requests.size === limits.size ? 'Guaranteed' : 'Burstable';
}

/**
 * The pod's QoS class: `status.qosClass` when the API server set it (it is
 * fixed at creation, as GetPodQOS trusts it), otherwise computed.
 */
export function qosClass(pod: PodLike): QosClass {
  const s = pod.status?.qosClass;
  if (s === 'Guaranteed' || s === 'Burstable' || s === 'BestEffort') return s;
  return computeQosClass(pod);
}

/** `pod<uid>`: the directory name of a pod cgroup. */
export function podCgroupName(uid: string): string {
  return `pod${uid}`;
}

/** The cgroup (absolute, `/`-rooted) that holds pods of a class: `/skiff`, `/skiff/burstable`, `/skiff/besteffort`. */
export function qosCgroupPath(qos: QosClass, root = DEFAULT_CGROUP_ROOT): string {
  if (qos === 'Guaranteed') return `/${root}`;
  return `/${root}/${qos.toLowerCase()}`;
}

/** The pod's cgroup, e.g. `/skiff/burstable/pod<uid>`: the runtime's CgroupParent for its sandbox and containers. */
export function podCgroupParent(pod: PodLike, root = DEFAULT_CGROUP_ROOT): string {
  const uid = pod.metadata?.uid;
  if (!uid) throw new Error('pod has no metadata.uid: cannot name its cgroup');
  return podCgroupPathFor(uid, qosClass(pod), root);
}

/** The pod cgroup of a uid in a class. */
export function podCgroupPathFor(uid: string, qos: QosClass, root = DEFAULT_CGROUP_ROOT): string {
  return `${qosCgroupPath(qos, root)}/${podCgroupName(uid)}`;
}

/** Every class, with the cgroups that hold their pods (Guaranteed: the root itself). */
export const QOS_CLASSES: readonly QosClass[] = ['Guaranteed', 'Burstable', 'BestEffort'];

/** The uid in a `pod<uid>` directory name, or undefined for any other name. */
export function uidOfPodCgroup(name: string): string | undefined {
  const m = /^pod([0-9a-zA-Z_-]+)$/.exec(name);
  return m ? m[1] : undefined;
}
