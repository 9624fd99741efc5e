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
import { podQOSClass, type QosClass } from '../../common/qos.js';

export type { QosClass };

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

/** The QoS class computed from the containers' resources (common/qos.ts, shared with the API server). */
export function computeQosClass(pod: PodLike): QosClass {
  return podQOSClass(pod);
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
