/**
 * The ReplicaSet controller: keeps `spec.replicas` active pods for every
 * ReplicaSet, adopting matching orphans and releasing owned pods whose labels no
 * longer match, and reports status through the status subresource.
 *
 * Expectations guard against a lagging pod cache: after creating or deleting
 * pods for a set, that set is not scaled again until the informer has shown
 * those changes (or the expectations expired).
 */
import { claim } from './claim.js';
import { isNamespaceTerminating, isNotFound } from './client.js';
import { parseTime, rfc3339 } from './clock.js';
import { QueueController, type ControllerContext } from './controller.js';
import { Expectations } from './expectations.js';
import { BY_CONTROLLER, indexByController, resolveRef, selects } from './indexes.js';
import type { SharedInformer } from './informer.js';
import { controllerOf, controllerRef, getCondition, isBeingDeleted, isPodActive, isPodReady, jsonEqual, keyOf, splitKey, type Obj } from './objects.js';
import { podFromTemplate, podsToDelete, replicaSetStatus, slowStartBatches, type ReplicaSetStatus } from './replicaset-logic.js';
import { PODS, REPLICASETS, pathFor } from './resources.js';

/** At most this many creations or deletions per sync, as Kubernetes' burstReplicas. */
const BURST = 500;

export class ReplicaSetController extends QueueController {
  readonly expectations: Expectations;
  private readonly sets: SharedInformer;
  private readonly pods: SharedInformer;

  constructor(ctx: ControllerContext) {
    super('replicaset', ctx);
    this.expectations = new Expectations(this.clock);
    this.sets = ctx.informers.forKind(REPLICASETS);
    this.pods = ctx.informers.forKind(PODS);
    indexByController(this.pods);
    indexByController(this.sets);
    this.sets.addEventHandler({
      add: (rs) => this.queue.add(keyOf(rs)),
      update: (_old, rs) => this.queue.add(keyOf(rs)),
      delete: (rs) => {
        this.expectations.delete(keyOf(rs));
        this.queue.add(keyOf(rs));
      },
    });
    this.pods.addEventHandler({
      add: (p) => this.podAdded(p),
      update: (old, cur) => this.podUpdated(old, cur),
      delete: (p) => this.podDeleted(p),
    });
  }

  private ownerOf(pod: Obj, ref = controllerOf(pod)): Obj | undefined {
    if (ref?.kind !== 'ReplicaSet' || ref.apiVersion !== 'apps/v1') return undefined;
    return resolveRef(this.sets, pod.metadata.namespace, ref);
  }

  /** Sets that would adopt `pod` (for orphans). */
  private matchingSets(pod: Obj): Obj[] {
    return this.sets.listAll(pod.metadata.namespace).filter((rs) => selects(rs, pod.metadata.labels));
  }

  private podAdded(pod: Obj): void {
    // A pod may first show up already being deleted (e.g. after a relist).
    if (isBeingDeleted(pod)) return this.podDeleted(pod);
    const rs = this.ownerOf(pod);
    if (rs) {
      this.expectations.creationObserved(keyOf(rs));
      this.queue.add(keyOf(rs));
      return;
    }
    if (!controllerOf(pod)) for (const s of this.matchingSets(pod)) this.queue.add(keyOf(s));
  }

  private podUpdated(old: Obj, cur: Obj): void {
    if (old.metadata.resourceVersion === cur.metadata.resourceVersion) return;
    const labelsChanged = !jsonEqual(old.metadata.labels, cur.metadata.labels);
    if (isBeingDeleted(cur)) {
      this.podDeleted(cur);
      if (labelsChanged) this.podDeleted(old);
      return;
    }
    const oldRef = controllerOf(old);
    const curRef = controllerOf(cur);
    const refChanged = oldRef?.uid !== curRef?.uid;
    if (refChanged && oldRef) {
      const prev = this.ownerOf(old, oldRef);
      if (prev) this.queue.add(keyOf(prev));
    }
    if (curRef) {
      const rs = this.ownerOf(cur, curRef);
      if (!rs) return;
      this.queue.add(keyOf(rs));
      // Availability needs minReadySeconds of readiness: look again once it has passed.
      const minReady = rs.spec?.minReadySeconds ?? 0;
      if (minReady > 0 && !isPodReady(old) && isPodReady(cur)) this.queue.addAfter(keyOf(rs), minReady * 1000);
      return;
    }
    if (labelsChanged || refChanged) for (const s of this.matchingSets(cur)) this.queue.add(keyOf(s));
  }

  private podDeleted(pod: Obj): void {
    const rs = this.ownerOf(pod);
    if (!rs) return;
    this.expectations.deletionObserved(keyOf(rs), keyOf(pod));
    this.queue.add(keyOf(rs));
  }

  async sync(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const rs = this.sets.get(namespace, name);
    if (!rs) {
      this.expectations.delete(key);
      return;
    }
    const needsSync = this.expectations.satisfied(key);
    const active = this.pods.listAll(namespace).filter(isPodActive);
    const pods = await this.claimPods(rs, active);
    let failure: string | undefined;
    if (needsSync && !isBeingDeleted(rs)) failure = await this.manageReplicas(key, rs, pods);
    const now = this.clock.now();
    const status = replicaSetStatus(rs, pods, now, failure, rfc3339(now));
    await this.updateStatus(rs, status);
    this.requeueForAvailability(key, rs, pods, now);
    if (failure) throw new Error(failure);
  }

  /** The active pods `rs` owns, after adopting matching orphans and releasing non-matching ones. */
  private claimPods(rs: Obj, pods: Obj[]): Promise<Obj[]> {
    const ns = rs.metadata.namespace;
    return claim(
      { api: this.api, owner: rs, apiVersion: 'apps/v1', kind: 'ReplicaSet', ownerPath: pathFor(REPLICASETS, ns, rs.metadata.name), candidatePath: (p) => pathFor(PODS, ns, p.metadata.name) },
      pods,
    );
  }

  /** Creates or deletes pods towards spec.replicas; returns a failure message, if any. */
  private async manageReplicas(key: string, rs: Obj, pods: Obj[]): Promise<string | undefined> {
    const ns = rs.metadata.namespace;
    const diff = pods.length - (rs.spec?.replicas ?? 1);
    if (diff < 0) {
      const n = Math.min(-diff, BURST);
      this.expectations.expectCreations(key, n);
      const ref = controllerRef(rs, 'apps/v1', 'ReplicaSet');
      let sent = 0;
      for (const batch of slowStartBatches(n)) {
        sent += batch;
        const results = await Promise.allSettled(
          Array.from({ length: batch }, () => this.api.create(pathFor(PODS, ns), podFromTemplate(rs.spec.template, ns, `${rs.metadata.name}-`, ref))),
        );
        const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed.length && failed.every((f) => isNamespaceTerminating(f.reason))) {
          // The namespace is going away with everything in it: nothing to retry.
          this.expectations.creationObserved(key, failed.length + (n - sent));
          return undefined;
        }
        if (failed.length) {
          // Creations that failed or were never sent will never be observed.
          this.expectations.creationObserved(key, failed.length + (n - sent));
          return `pods "${rs.metadata.name}-" is forbidden or failed: ${(failed[0].reason as Error).message}`;
        }
      }
      this.log.debug({ key, created: n }, 'created pods');
      return undefined;
    }
    if (diff > 0) {
      const victims = podsToDelete(pods, Math.min(diff, BURST), this.relatedPods(rs));
      this.expectations.expectDeletions(key, victims.map(keyOf));
      let failure: string | undefined;
      await Promise.all(
        victims.map(async (p) => {
          try {
            await this.api.delete(pathFor(PODS, ns, p.metadata.name));
          } catch (e) {
            this.expectations.deletionObserved(key, keyOf(p));
            if (!isNotFound(e)) failure = (e as Error).message;
          }
        }),
      );
      this.log.debug({ key, deleted: victims.length }, 'deleted pods');
      return failure;
    }
    return undefined;
  }

  /** Active pods of every set with the same controller as `rs` (ranks deletions across a Deployment). */
  private relatedPods(rs: Obj): Obj[] {
    const owner = controllerOf(rs);
    const sets = owner ? this.sets.byIndex(BY_CONTROLLER, owner.uid) : [rs];
    return sets.flatMap((s) => this.pods.byIndex(BY_CONTROLLER, s.metadata.uid)).filter(isPodActive);
  }

  private async updateStatus(rs: Obj, status: ReplicaSetStatus): Promise<void> {
    const cur = rs.status ?? {};
    const same = (['replicas', 'fullyLabeledReplicas', 'readyReplicas', 'availableReplicas', 'observedGeneration'] as const).every((f) => (cur[f] ?? 0) === status[f]);
    if (same && jsonEqual(cur.conditions ?? [], status.conditions ?? [])) return;
    try {
      await this.api.update(pathFor(REPLICASETS, rs.metadata.namespace, rs.metadata.name, 'status'), { ...rs, status });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  /** Ready pods become available after minReadySeconds: sync again at the earliest such moment. */
  private requeueForAvailability(key: string, rs: Obj, pods: Obj[], now: number): void {
    const minReady = (rs.spec?.minReadySeconds ?? 0) * 1000;
    if (!minReady) return;
    let next = Infinity;
    for (const p of pods) {
      const since = parseTime(getCondition(p.status, 'Ready')?.lastTransitionTime);
      if (isPodReady(p) && since !== undefined && since + minReady > now) next = Math.min(next, since + minReady - now);
    }
    if (next !== Infinity) this.queue.addAfter(key, next + 1000);
  }
}
