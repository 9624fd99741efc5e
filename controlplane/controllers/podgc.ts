/**
 * Pod garbage collection: deletes finished pods (Succeeded/Failed) beyond a
 * threshold, oldest first; pods bound to nodes that no longer exist; and
 * unscheduled pods stuck terminating. Works on one key, re-checked on pod and
 * node events and every `periodMs`; the whole decision is `podsToCollect`.
 */
import { isNotFound } from './client.js';
import { QueueController, type ControllerContext } from './controller.js';
import type { SharedInformer } from './informer.js';
import { isBeingDeleted, type Obj } from './objects.js';
import { NODES, PODS, pathFor } from './resources.js';

const KEY = 'pods';

const isTerminated = (p: Obj): boolean => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';

export interface Collection {
  /** Finished pods over the threshold, oldest first. */
  terminated: Obj[];
  /** Pods bound to a node not in `nodeExists`. */
  orphaned: Obj[];
  /** Unbound pods that are being deleted. */
  unscheduledTerminating: Obj[];
}

/** Which pods to delete, given all pods, whether a node exists, and the threshold (<= 0 disables it). */
export function podsToCollect(pods: Obj[], nodeExists: (name: string) => boolean, threshold: number): Collection {
  const terminated = pods.filter((p) => isTerminated(p) && !isBeingDeleted(p));
  const over = threshold > 0 ? terminated.length - threshold : 0;
  const byAge = [...terminated].sort((a, b) => String(a.metadata.creationTimestamp ?? '').localeCompare(String(b.metadata.creationTimestamp ?? '')) || String(a.metadata.name).localeCompare(b.metadata.name));
  const chosen = new Set(over > 0 ? byAge.slice(0, over) : []);
  return {
    terminated: [...chosen],
    orphaned: pods.filter((p) => p.spec?.nodeName && !nodeExists(p.spec.nodeName) && !chosen.has(p)),
    unscheduledTerminating: pods.filter((p) => !p.spec?.nodeName && isBeingDeleted(p)),
  };
}

export class PodGcController extends QueueController {
  private readonly pods: SharedInformer;
  private readonly nodes: SharedInformer;
  private readonly threshold: number;
  private readonly periodMs: number;

  constructor(ctx: ControllerContext, opts: { terminatedThreshold: number; periodMs?: number }) {
    super('podgc', ctx);
    this.threshold = opts.terminatedThreshold;
    this.periodMs = opts.periodMs ?? 20_000;
    this.pods = ctx.informers.forKind(PODS);
    this.nodes = ctx.informers.forKind(NODES);
    const kick = (): void => this.queue.add(KEY);
    this.pods.addEventHandler({
      add: (p) => (isTerminated(p) || p.spec?.nodeName) && kick(),
      update: (old, p) => (isTerminated(p) !== isTerminated(old) || old.spec?.nodeName !== p.spec?.nodeName) && kick(),
    });
    this.nodes.addEventHandler({ delete: kick });
  }

  protected override async beforeStart(): Promise<void> {
    this.queue.add(KEY);
  }

  async sync(): Promise<void> {
    this.queue.addAfter(KEY, this.periodMs);
    const c = podsToCollect(this.pods.listAll(), (n) => Boolean(this.nodes.get(undefined, n)), this.threshold);
    for (const p of c.terminated) await this.forceDelete(p, 'terminated pod over the threshold');
    for (const p of c.orphaned) {
      // The node cache can lag behind a new node: confirm it is gone before deleting.
      try {
        await this.api.get(pathFor(NODES, undefined, p.spec.nodeName));
        continue;
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      await this.forceDelete(p, 'pod bound to a node that no longer exists');
    }
    for (const p of c.unscheduledTerminating) await this.forceDelete(p, 'unscheduled terminating pod');
  }

  private async forceDelete(p: Obj, why: string): Promise<void> {
    this.log.info({ pod: `${p.metadata.namespace}/${p.metadata.name}`, why }, 'collecting pod');
    try {
      await this.api.delete(pathFor(PODS, p.metadata.namespace, p.metadata.name), { gracePeriodSeconds: 0, preconditions: { uid: p.metadata.uid } });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}
