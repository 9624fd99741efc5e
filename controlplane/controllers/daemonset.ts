/**
 * The DaemonSet controller: one pod per eligible node, each pinned to its node
 * by required node affinity on `metadata.name` and bound by the scheduler;
 * pods leave nodes they no longer belong on; RollingUpdate replaces old pods
 * within maxUnavailable; status via the status subresource. Expectations keep a
 * lagging pod cache from causing double creates, as for ReplicaSets.
 * Decisions are in daemonset-logic.ts.
 */
import { claim } from './claim.js';
import { isNamespaceTerminating, isNotFound } from './client.js';
import { QueueController, type ControllerContext } from './controller.js';
import { daemonPod, daemonSetHash, daemonSetStatus, nodeOfPod, planNodes, rollingUpdateDeletions, type DaemonSetStatus } from './daemonset-logic.js';
import { Expectations } from './expectations.js';
import { indexByController, resolveRef, selects } from './indexes.js';
import type { SharedInformer } from './informer.js';
import { controllerOf, isBeingDeleted, jsonEqual, keyOf, splitKey, type Obj } from './objects.js';
import { DAEMONSETS, NODES, PODS, pathFor } from './resources.js';

export class DaemonSetController extends QueueController {
  readonly expectations: Expectations;
  private readonly sets: SharedInformer;
  private readonly pods: SharedInformer;
  private readonly nodes: SharedInformer;

  constructor(ctx: ControllerContext) {
    super('daemonset', ctx);
    this.expectations = new Expectations(this.clock);
    this.sets = ctx.informers.forKind(DAEMONSETS);
    this.pods = ctx.informers.forKind(PODS);
    this.nodes = ctx.informers.forKind(NODES);
    indexByController(this.pods);
    const enqueue = (ds: Obj): void => this.queue.add(keyOf(ds));
    this.sets.addEventHandler({
      add: enqueue,
      update: (_o, ds) => enqueue(ds),
      delete: (ds) => {
        this.expectations.delete(keyOf(ds));
        enqueue(ds);
      },
    });
    this.pods.addEventHandler({
      add: (p) => this.podEvent(p, 'add'),
      update: (old, p) => {
        if (old.metadata.resourceVersion === p.metadata.resourceVersion) return;
        if (controllerOf(old)?.uid !== controllerOf(p)?.uid) this.podEvent(old, 'update');
        this.podEvent(p, isBeingDeleted(p) && !isBeingDeleted(old) ? 'delete' : 'update');
      },
      delete: (p) => this.podEvent(p, 'delete'),
    });
    // Node changes (labels, taints, new nodes) can change where daemons belong.
    const allSets = (): void => {
      for (const ds of this.sets.listAll()) enqueue(ds);
    };
    this.nodes.addEventHandler({
      add: allSets,
      update: (old, n) => {
        if (!jsonEqual(old.metadata.labels, n.metadata.labels) || !jsonEqual(old.spec?.taints, n.spec?.taints)) allSets();
      },
      delete: allSets,
    });
  }

  private podEvent(p: Obj, what: 'add' | 'update' | 'delete'): void {
    const ref = controllerOf(p);
    if (!ref) {
      for (const ds of this.sets.listAll(p.metadata.namespace)) if (selects(ds, p.metadata.labels)) this.queue.add(keyOf(ds));
      return;
    }
    if (ref.kind !== 'DaemonSet') return;
    const ds = resolveRef(this.sets, p.metadata.namespace, ref);
    if (!ds) return;
    const key = keyOf(ds);
    if (what === 'add' && !isBeingDeleted(p)) this.expectations.creationObserved(key);
    if (what === 'delete' || (what === 'add' && isBeingDeleted(p))) this.expectations.deletionObserved(key, keyOf(p));
    this.queue.add(key);
  }

  async sync(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const ds = this.sets.get(namespace, name);
    if (!ds) {
      this.expectations.delete(key);
      return;
    }
    const pods = await claim(
      { api: this.api, owner: ds, apiVersion: 'apps/v1', kind: 'DaemonSet', ownerPath: pathFor(DAEMONSETS, namespace, name), candidatePath: (p) => pathFor(PODS, namespace, p.metadata.name) },
      this.pods.listAll(namespace),
    );
    const nodes = this.nodes.listAll();
    const byNode = new Map<string, Obj[]>();
    for (const p of pods) {
      const n = nodeOfPod(p);
      if (!n) continue;
      byNode.set(n, [...(byNode.get(n) ?? []), p]);
    }
    const hash = daemonSetHash(ds);
    const now = this.clock.now();
    if (this.expectations.satisfied(key) && !isBeingDeleted(ds)) {
      const plan = planNodes(ds, nodes, byNode);
      if ((ds.spec?.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate') {
        const planned = new Set(plan.delete.map(keyOf));
        for (const p of rollingUpdateDeletions(ds, nodes, byNode, hash, now)) if (!planned.has(keyOf(p))) plan.delete.push(p);
      }
      await this.apply(key, ds, hash, plan.create, plan.delete);
    }
    await this.updateStatus(ds, daemonSetStatus(ds, nodes, byNode, hash, now));
  }

  private async apply(key: string, ds: Obj, hash: string, create: string[], del: Obj[]): Promise<void> {
    if (create.length === 0 && del.length === 0) return;
    this.expectations.expect(key, create.length, del.map(keyOf));
    const ns = ds.metadata.namespace;
    const errors: string[] = [];
    await Promise.all([
      ...create.map(async (node) => {
        try {
          await this.api.create(pathFor(PODS, ns), daemonPod(ds, node, hash));
        } catch (e) {
          this.expectations.creationObserved(key);
          if (!isNamespaceTerminating(e)) errors.push((e as Error).message);
        }
      }),
      ...del.map(async (p) => {
        try {
          await this.api.delete(pathFor(PODS, ns, p.metadata.name), { preconditions: { uid: p.metadata.uid } });
        } catch (e) {
          this.expectations.deletionObserved(key, keyOf(p));
          if (!isNotFound(e)) errors.push((e as Error).message);
        }
      }),
    ]);
    this.log.debug({ key, createdOn: create, deleted: del.map((p) => `${p.metadata.name}@${nodeOfPod(p)}`), hash }, 'synced daemon pods');
    if (errors.length) throw new Error(`daemon set ${key}: ${errors[0]}`);
  }

  private async updateStatus(ds: Obj, status: DaemonSetStatus): Promise<void> {
    const cur = ds.status ?? {};
    if ((Object.keys(status) as (keyof DaemonSetStatus)[]).every((k) => (cur[k] ?? 0) === status[k])) return;
    try {
      await this.api.update(pathFor(DAEMONSETS, ds.metadata.namespace, ds.metadata.name, 'status'), { ...ds, status: { ...cur, ...status } });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}
