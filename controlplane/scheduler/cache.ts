/**
 * The scheduler cache: nodes and the pods assigned to them, fed by informers,
 * plus *assumed* pods — pods this scheduler chose a node for whose binding the
 * informer has not reported yet. Assuming lets the next pod in the same burst
 * see the resources, ports and affinity of the pods just placed, so a burst
 * never over-commits a node while bindings are in flight.
 *
 * Lifecycle of a pod in the cache (kube-scheduler's cache state machine):
 *   assume -> (binding OK) finishBinding -> informer add confirms it
 *   assume -> (binding failed) forget
 *   informer add/update/delete for assigned pods at any time.
 * If the informer reports the pod on another node than assumed, the informer wins.
 *
 * Not thread-safe by design: JavaScript runs one scheduling cycle at a time, and
 * a cycle reads the cache synchronously, so the cache itself is the snapshot.
 */
import { NodeInfo, NodeSlab } from './nodeinfo.js';
import type { Node } from './objects.js';
import type { PodInfo } from './podinfo.js';
import type { Snapshot } from './types.js';

interface PodState {
  pi: PodInfo;
  node: string;
  assumed: boolean;
}

export class SchedulerCache implements Snapshot {
  private readonly infos = new Map<string, NodeInfo>();
  private readonly states = new Map<string, PodState>();
  private order: NodeInfo[] | undefined;
  private readonly withAffinity = new Set<NodeInfo>();
  private readonly withAntiAffinity = new Set<NodeInfo>();
  private preferNoSchedule = 0;
  private readonly slab = new NodeSlab();

  /** Nodes with a Node object, in a stable order (rebuilt only when nodes come or go). */
  get nodes(): readonly NodeInfo[] {
    this.order ??= [...this.infos.values()].filter((n) => n.node !== undefined);
    return this.order;
  }

  get preferNoScheduleNodes(): number {
    return this.preferNoSchedule;
  }

  nodesWithAffinityPods(): Iterable<NodeInfo> {
    return this.withAffinity;
  }

  nodesWithRequiredAntiAffinityPods(): Iterable<NodeInfo> {
    return this.withAntiAffinity;
  }

  nodeInfo(name: string): NodeInfo | undefined {
    return this.infos.get(name);
  }

  get podCount(): number {
    return this.states.size;
  }

  /**
   * Adds or updates a node. Returns which queue event it amounts to: 'NodeAdd',
   * 'NodeUpdate' when something filters read changed, or undefined (usage or
   * status heartbeat only).
   */
  setNode(node: Node): 'NodeAdd' | 'NodeUpdate' | undefined {
    const name = node.metadata?.name ?? '';
    let ni = this.infos.get(name);
    if (!ni) {
      ni = new NodeInfo(name, this.slab);
      this.infos.set(name, ni);
    }
    const isNew = ni.node === undefined;
    const hadPrefer = ni.hasPreferNoSchedule;
    const relevant = ni.setNode(node);
    this.preferNoSchedule += Number(ni.hasPreferNoSchedule) - Number(hadPrefer);
    if (isNew) this.order = undefined;
    return isNew ? 'NodeAdd' : relevant ? 'NodeUpdate' : undefined;
  }

  /** Forgets a node; its pods stay accounted on a placeholder until they are deleted. */
  removeNode(name: string): void {
    const ni = this.infos.get(name);
    if (!ni || !ni.node) return;
    if (ni.hasPreferNoSchedule) this.preferNoSchedule--;
    ni.node = undefined;
    ni.hasPreferNoSchedule = false;
    this.order = undefined;
    if (ni.pods.size === 0) this.drop(ni);
  }

  private placeOn(pi: PodInfo, nodeName: string): void {
    let ni = this.infos.get(nodeName);
    if (!ni) {
      // The pod names a node we have not seen (yet): account it on a placeholder.
      ni = new NodeInfo(nodeName, this.slab);
      this.infos.set(nodeName, ni);
    }
    ni.addPod(pi);
    this.reindex(ni);
  }

  private takeOff(uid: string, nodeName: string): void {
    const ni = this.infos.get(nodeName);
    if (!ni) return;
    ni.removePod(uid);
    this.reindex(ni);
    if (!ni.node && ni.pods.size === 0) this.drop(ni);
  }

  private drop(ni: NodeInfo): void {
    this.infos.delete(ni.name);
    ni.release();
  }

  private reindex(ni: NodeInfo): void {
    if (ni.podsWithAffinity.size) this.withAffinity.add(ni);
    else this.withAffinity.delete(ni);
    if (ni.podsWithRequiredAntiAffinity.size) this.withAntiAffinity.add(ni);
    else this.withAntiAffinity.delete(ni);
  }

  /**
   * The informer reports an assigned pod (spec.nodeName set). Returns
   * 'AssignedPodAdd' for a pod the cache did not hold as assigned (an assumed
   * pod being confirmed counts as an add: others may now be placed next to it)
   * and 'AssignedPodUpdate' otherwise.
   */
  addOrUpdatePod(pi: PodInfo): 'AssignedPodAdd' | 'AssignedPodUpdate' {
    const st = this.states.get(pi.uid);
    if (st) this.takeOff(pi.uid, st.node);
    this.placeOn(pi, pi.nodeName);
    this.states.set(pi.uid, { pi, node: pi.nodeName, assumed: false });
    return !st || st.assumed ? 'AssignedPodAdd' : 'AssignedPodUpdate';
  }

  /** The pod is gone (deleted or terminal). Returns whether the cache held it. */
  removePod(uid: string): boolean {
    const st = this.states.get(uid);
    if (!st) return false;
    this.takeOff(uid, st.node);
    this.states.delete(uid);
    return true;
  }

  /** Accounts `pi` on `nodeName` before the binding is confirmed. No-op if the pod is already known. */
  assume(pi: PodInfo, nodeName: string): boolean {
    if (this.states.has(pi.uid)) return false;
    this.placeOn(pi, nodeName);
    this.states.set(pi.uid, { pi, node: nodeName, assumed: true });
    return true;
  }

  /** Drops an assumption after a failed binding; pods the informer confirmed are left alone. */
  forget(uid: string): void {
    const st = this.states.get(uid);
    if (st?.assumed) this.removePod(uid);
  }

  isAssumed(uid: string): boolean {
    return this.states.get(uid)?.assumed === true;
  }

  /** Whether the cache holds the pod, assumed or assigned. */
  hasPod(uid: string): boolean {
    return this.states.has(uid);
  }
}
