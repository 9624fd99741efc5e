/**
 * The node lifecycle controller: watches node heartbeats (the Lease named after
 * the node in kube-node-lease, and the Ready condition's lastHeartbeatTime).
 * When neither moved for the grace period, the node's conditions become Unknown
 * ("Kubelet stopped posting node status."). The Ready condition then drives the
 * taints (unreachable / not-ready, NoSchedule and NoExecute); pods on a node
 * that is not Ready are marked Ready=False; and pods on a node with NoExecute
 * taints are evicted (deleted) once their tolerations run out.
 *
 * Heartbeats are timed by this controller's clock when it sees them change,
 * not by the timestamps in them, so clock skew between hosts does not matter
 * (as Kubernetes' probeTimestamp). Keys are node names.
 */
import { isNotFound } from './client.js';
import { rfc3339 } from './clock.js';
import { QueueController, type ControllerContext } from './controller.js';
import { BY_NODE, indexByNode } from './indexes.js';
import type { SharedInformer } from './informer.js';
import { getCondition, isBeingDeleted, jsonEqual, type Obj } from './objects.js';
import { LEASES, NODES, PODS, pathFor } from './resources.js';
import { desiredTaints, evictionTime, type Taint } from './taints.js';

export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
const CONDITION_TYPES = ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'];

/**
 * The node's conditions once its kubelet went silent: every known condition
 * Unknown (reason NodeStatusUnknown), Ready added if it never was posted.
 * Returns undefined when they already say so.
 */
export function unknownConditions(node: Obj, nowIso: string): Obj[] | undefined {
  const conds: Obj[] = structuredClone(node.status?.conditions ?? []);
  let changed = false;
  for (const type of CONDITION_TYPES) {
    const c = conds.find((x) => x.type === type);
    if (!c) {
      if (type !== 'Ready') continue;
      conds.push({ type, status: 'Unknown', reason: 'NodeStatusNeverUpdated', message: 'Kubelet never posted node status.', lastHeartbeatTime: nowIso, lastTransitionTime: nowIso });
      changed = true;
    } else if (c.status !== 'Unknown') {
      Object.assign(c, { status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastTransitionTime: nowIso });
      changed = true;
    }
  }
  return changed ? conds : undefined;
}

interface Health {
  /** When this controller last saw a heartbeat change (ms, controller clock). */
  probe: number;
  renew?: string;
  heartbeat?: string;
}

export class NodeLifecycleController extends QueueController {
  private readonly nodes: SharedInformer;
  private readonly leases: SharedInformer;
  private readonly pods: SharedInformer;
  private readonly health = new Map<string, Health>();
  private readonly graceMs: number;

  constructor(ctx: ControllerContext, opts: { gracePeriodSeconds: number }) {
    super('nodelifecycle', ctx);
    this.graceMs = opts.gracePeriodSeconds * 1000;
    this.nodes = ctx.informers.forKind(NODES);
    this.leases = ctx.informers.forKind(LEASES, NODE_LEASE_NAMESPACE);
    this.pods = ctx.informers.forKind(PODS);
    indexByNode(this.pods);
    const byName = (o: Obj): void => this.queue.add(o.metadata.name);
    this.nodes.addEventHandler({ add: byName, update: (_o, n) => byName(n), delete: byName });
    this.leases.addEventHandler({ add: byName, update: (_o, l) => byName(l) });
    // A pod landing on (or changing on) a tainted or unready node needs the eviction clock.
    const podChanged = (p: Obj): void => {
      const node = p.spec?.nodeName && this.nodes.get(undefined, p.spec.nodeName);
      if (node && ((node.spec?.taints ?? []).some((t: Taint) => t.effect === 'NoExecute') || getCondition(node.status, 'Ready')?.status !== 'True')) {
        this.queue.add(node.metadata.name);
      }
    };
    this.pods.addEventHandler({ add: podChanged, update: (_o, p) => podChanged(p) });
  }

  async sync(name: string): Promise<void> {
    let node = this.nodes.get(undefined, name);
    if (!node) {
      this.health.delete(name);
      return;
    }
    const now = this.clock.now();
    const nowIso = rfc3339(now);
    const renew = this.leases.get(NODE_LEASE_NAMESPACE, name)?.spec?.renewTime;
    const heartbeat = getCondition(node.status, 'Ready')?.lastHeartbeatTime;
    let h = this.health.get(name);
    if (!h) this.health.set(name, (h = { probe: now, renew, heartbeat }));
    else if (h.renew !== renew || h.heartbeat !== heartbeat) Object.assign(h, { probe: now, renew, heartbeat });

    const silentFor = now - h.probe;
    if (silentFor > this.graceMs) {
      const conds = unknownConditions(node, nowIso);
      if (conds) {
        this.log.info({ node: name, silentForMs: silentFor }, 'node stopped posting status; marking Unknown');
        node = await this.write(pathFor(NODES, undefined, name, 'status'), { ...node, status: { ...node.status, conditions: conds } });
        if (!node) return;
        // Our own write moved lastHeartbeatTime for a never-posted Ready: not a heartbeat.
        h.heartbeat = getCondition(node.status, 'Ready')?.lastHeartbeatTime;
      }
    } else {
      this.queue.addAfter(name, this.graceMs - silentFor + 100);
    }

    const taints = desiredTaints(node, nowIso);
    if (!jsonEqual(taints, node.spec?.taints ?? [])) {
      const patch = { metadata: { resourceVersion: node.metadata.resourceVersion }, spec: { taints: taints.length ? taints : null } };
      node = await this.write(pathFor(NODES, undefined, name), patch, true);
      if (!node) return;
    }

    const pods = this.pods.byIndex(BY_NODE, name).filter((p) => !isBeingDeleted(p) && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
    if (getCondition(node.status, 'Ready')?.status !== 'True' && getCondition(node.status, 'Ready')) await this.markPodsNotReady(pods, nowIso);
    await this.evict(name, node.spec?.taints ?? [], pods, now);
  }

  /** PUT (or merge-PATCH) pinned to the cached version; undefined if the object is gone. */
  private async write(path: string, body: Obj, patch = false): Promise<Obj | undefined> {
    try {
      return patch ? await this.api.patch(path, body) : await this.api.update(path, body);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  private async markPodsNotReady(pods: Obj[], nowIso: string): Promise<void> {
    for (const p of pods) {
      const conds: Obj[] = p.status?.conditions ?? [];
      if (getCondition(p.status, 'Ready')?.status !== 'True') continue;
      const next = conds.map((c) => (c.type === 'Ready' ? { ...c, status: 'False', lastTransitionTime: nowIso, reason: 'NodeNotReady', message: 'Node is not ready' } : c));
      await this.write(pathFor(PODS, p.metadata.namespace, p.metadata.name, 'status'), { metadata: { resourceVersion: p.metadata.resourceVersion }, status: { conditions: next } }, true);
    }
  }

  /** Deletes pods whose tolerations of the node's NoExecute taints ran out; schedules the next check. */
  private async evict(node: string, taints: Taint[], pods: Obj[], now: number): Promise<void> {
    let next = Infinity;
    for (const p of pods) {
      const at = evictionTime(taints, p.spec?.tolerations ?? [], now);
      if (at === undefined) continue;
      if (at > now) {
        next = Math.min(next, at);
        continue;
      }
      this.log.info({ node, pod: `${p.metadata.namespace}/${p.metadata.name}` }, 'evicting pod from tainted node');
      try {
        await this.api.delete(pathFor(PODS, p.metadata.namespace, p.metadata.name), { preconditions: { uid: p.metadata.uid } });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    if (next !== Infinity) this.queue.addAfter(node, next - now + 50);
  }
}
