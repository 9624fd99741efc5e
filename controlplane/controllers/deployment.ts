/**
 * The Deployment controller: owns ReplicaSets, one per pod template, and moves
 * replicas from old sets to the new one — RollingUpdate within maxSurge and
 * maxUnavailable, or Recreate — recording revisions on the sets and the
 * Deployment, and reporting the status `kubectl rollout status` waits on.
 *
 * A sync takes one step and returns; the ReplicaSet and pod events it causes
 * bring the next sync. Every write is pinned to the resourceVersion the step was
 * decided on, so a stale cache costs a conflict and a retry, never a wrong write.
 * The decisions themselves are pure functions in deployment-rollout.ts and
 * deployment-util.ts.
 */
import { claim } from './claim.js';
import { isAlreadyExists, isNotFound } from './client.js';
import { QueueController, type ControllerContext } from './controller.js';
import {
  activeOrLatest,
  isRolling,
  isSaturated,
  maxSurge,
  msUntilDeadline,
  newRSNewReplicas,
  pausedConditions,
  proportionalScalePlan,
  rolloutStatus,
  calculateStatus,
  scaleDownOldPlan,
  condition,
  setCondition,
  hasProgressDeadline,
  type DeploymentStatus,
} from './deployment-rollout.js';
import {
  activeSets,
  annotationInt,
  DESIRED_REPLICAS,
  equalIgnoreHash,
  findNewReplicaSet,
  MAX_REPLICAS,
  maxRevision,
  newReplicaSet,
  REVISION,
  setNewReplicaSetAnnotations,
  setsToCleanUp,
  specReplicas,
  sumStatus,
} from './deployment-util.js';
import { BY_CONTROLLER, indexByController, resolveRef, selectorOf, selects } from './indexes.js';
import type { SharedInformer } from './informer.js';
import { controllerOf, getCondition, isBeingDeleted, keyOf, normalize, splitKey, type Obj } from './objects.js';
import { DEPLOYMENTS, PODS, REPLICASETS, pathFor } from './resources.js';

interface Sets {
  d: Obj;
  newRS?: Obj;
  old: Obj[];
}

export class DeploymentController extends QueueController {
  private readonly deployments: SharedInformer;
  private readonly sets: SharedInformer;
  private readonly pods: SharedInformer;

  constructor(ctx: ControllerContext) {
    super('deployment', ctx);
    this.deployments = ctx.informers.forKind(DEPLOYMENTS);
    this.sets = ctx.informers.forKind(REPLICASETS);
    this.pods = ctx.informers.forKind(PODS);
    indexByController(this.sets);
    indexByController(this.pods);
    const enqueue = (d: Obj): void => this.queue.add(keyOf(d));
    this.deployments.addEventHandler({ add: enqueue, update: (_o, d) => enqueue(d), delete: enqueue });
    this.sets.addEventHandler({
      add: (rs) => this.setChanged(rs),
      update: (old, rs) => {
        if (old.metadata.resourceVersion === rs.metadata.resourceVersion) return;
        if (controllerOf(old)?.uid !== controllerOf(rs)?.uid) this.setChanged(old);
        this.setChanged(rs);
      },
      delete: (rs) => this.setChanged(rs),
    });
    // Recreate waits for old pods to be gone; nothing else here needs pod events.
    this.pods.addEventHandler({
      delete: (pod) => {
        const rs = resolveRef(this.sets, pod.metadata.namespace, controllerOf(pod));
        const d = rs && this.ownerOf(rs);
        if (d && !isRolling(d)) enqueue(d);
      },
    });
  }

  private ownerOf(rs: Obj): Obj | undefined {
    const ref = controllerOf(rs);
    if (ref?.kind !== 'Deployment') return undefined;
    return resolveRef(this.deployments, rs.metadata.namespace, ref);
  }

  private setChanged(rs: Obj): void {
    const d = this.ownerOf(rs);
    if (d) return this.queue.add(keyOf(d));
    if (controllerOf(rs)) return;
    for (const x of this.deployments.listAll(rs.metadata.namespace)) if (selects(x, rs.metadata.labels)) this.queue.add(keyOf(x));
  }

  async sync(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const cached = this.deployments.get(namespace, name);
    if (!cached) return;
    const sel = selectorOf(cached.spec?.selector);
    if (!sel || sel.length === 0) {
      this.log.warn({ key }, 'deployment has an empty or invalid selector; not managing it');
      return;
    }
    // Conditions set along the way live in this copy until the status write.
    const d: Obj = structuredClone(cached);
    const sets = await this.claimSets(d);
    if (isBeingDeleted(d)) {
      const newRS = findNewReplicaSet(d, sets);
      return this.writeStatus(d, calculateStatus(d, sets, newRS, this.clock.now()));
    }
    const paused = pausedConditions(d, this.clock.now());
    if (paused) d.status = { ...(d.status ?? {}), conditions: paused };
    if (d.spec?.paused || this.isScalingEvent(d, sets)) return this.syncScale(d, sets);
    if (isRolling(d)) return this.rolloutRolling(d, sets);
    return this.rolloutRecreate(d, sets);
  }

  /** The Deployment's sets, adopting matching orphans and releasing sets that stopped matching. */
  private claimSets(d: Obj): Promise<Obj[]> {
    const ns = d.metadata.namespace;
    return claim(
      { api: this.api, owner: d, apiVersion: 'apps/v1', kind: 'Deployment', ownerPath: pathFor(DEPLOYMENTS, ns, d.metadata.name), candidatePath: (rs) => pathFor(REPLICASETS, ns, rs.metadata.name) },
      this.sets.listAll(ns),
    );
  }

  /** A change of spec.replicas not yet reflected in the active sets' desired-replicas annotation. */
  private isScalingEvent(d: Obj, sets: Obj[]): boolean {
    const newRS = findNewReplicaSet(d, sets);
    const all = [...sets.filter((rs) => rs !== newRS), newRS];
    return activeSets(all).some((rs) => {
      const desired = annotationInt(rs, DESIRED_REPLICAS);
      return desired !== undefined && desired !== (d.spec?.replicas ?? 0);
    });
  }

  /**
   * Finds the new set (creating it when `create`), raises its revision above the
   * old ones (a rollback re-uses an old set, whose revision then moves up) and
   * records that revision on the Deployment (getAllReplicaSetsAndSyncRevision).
   */
  private async syncRevision(d: Obj, sets: Obj[], create: boolean): Promise<Sets> {
    const existing = findNewReplicaSet(d, sets);
    const old = sets.filter((rs) => rs !== existing);
    const newRevision = maxRevision(old) + 1;
    let newRS: Obj | undefined;
    if (existing) {
      const copy = structuredClone(existing);
      const changed = setNewReplicaSetAnnotations(d, copy, newRevision, true, maxSurge(d));
      const minReady = d.spec?.minReadySeconds ?? 0;
      if (changed || (copy.spec?.minReadySeconds ?? 0) !== minReady) {
        copy.spec.minReadySeconds = minReady;
        newRS = await this.api.update(pathFor(REPLICASETS, copy.metadata.namespace, copy.metadata.name), copy);
      } else {
        newRS = existing;
      }
      if (hasProgressDeadline(d) && !getCondition(d.status, 'Progressing')) {
        const c = condition('Progressing', 'True', 'FoundNewReplicaSet', `Found new replica set "${newRS!.metadata.name}"`, this.clock.now());
        d.status = { ...(d.status ?? {}), conditions: setCondition(d.status?.conditions ?? [], c) };
      }
    } else if (create) {
      newRS = await this.createNewSet(d, old, newRevision);
    }
    if (newRS) d = await this.setDeploymentRevision(d, newRS.metadata.annotations?.[REVISION]);
    return { d, newRS, old };
  }

  private async createNewSet(d: Obj, old: Obj[], newRevision: number): Promise<Obj> {
    const rs = newReplicaSet(d, 0);
    rs.spec.replicas = newRSNewReplicas(d, [...old, rs], rs);
    setNewReplicaSetAnnotations(d, rs, newRevision, false, maxSurge(d));
    const ns = d.metadata.namespace;
    try {
      const created = await this.api.create(pathFor(REPLICASETS, ns), rs);
      this.log.info({ deployment: keyOf(d), replicaSet: created.metadata.name, replicas: rs.spec.replicas }, 'created new replica set');
      if (hasProgressDeadline(d)) {
        const c = condition('Progressing', 'True', 'NewReplicaSetCreated', `Created new replica set "${created.metadata.name}"`, this.clock.now());
        d.status = { ...(d.status ?? {}), conditions: setCondition(d.status?.conditions ?? [], c) };
      }
      return created;
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
    // The name is the template hash: usually our own set, created before the cache showed it.
    const found = await this.api.get(pathFor(REPLICASETS, ns, rs.metadata.name));
    if (controllerOf(found)?.uid === d.metadata.uid && equalIgnoreHash(found.spec?.template, d.spec?.template)) return found;
    // A true hash collision: bump collisionCount (it changes the hash) and try again.
    const status = { ...(d.status ?? {}), collisionCount: (d.status?.collisionCount ?? 0) + 1 };
    await this.api.update(pathFor(DEPLOYMENTS, ns, d.metadata.name, 'status'), { ...d, status });
    throw new Error(`replica set ${rs.metadata.name} exists with another template; collisionCount raised`);
  }

  /** Records `revision` in the Deployment's annotation; returns the (possibly updated) Deployment. */
  private async setDeploymentRevision(d: Obj, revision: string | undefined): Promise<Obj> {
    if (!revision || d.metadata.annotations?.[REVISION] === revision) return d;
    const patch = { metadata: { annotations: { [REVISION]: revision }, resourceVersion: d.metadata.resourceVersion } };
    const updated = await this.api.patch(pathFor(DEPLOYMENTS, d.metadata.namespace, d.metadata.name), patch);
    // Keep the conditions gathered so far; the status write sends them.
    return { ...updated, status: d.status };
  }

  /** Sets a ReplicaSet's size and the desired/max-replicas annotations; returns the stored set. */
  private async scaleSet(rs: Obj, size: number, d: Obj): Promise<Obj> {
    const desired = String(d.spec?.replicas ?? 0);
    const max = String((d.spec?.replicas ?? 0) + maxSurge(d));
    const ann = rs.metadata.annotations ?? {};
    if (specReplicas(rs) === size && ann[DESIRED_REPLICAS] === desired && ann[MAX_REPLICAS] === max) return rs;
    const patch = {
      metadata: { annotations: { [DESIRED_REPLICAS]: desired, [MAX_REPLICAS]: max }, resourceVersion: rs.metadata.resourceVersion },
      spec: { replicas: size },
    };
    this.log.info({ deployment: keyOf(d), replicaSet: rs.metadata.name, from: specReplicas(rs), to: size }, 'scaling replica set');
    return this.api.patch(pathFor(REPLICASETS, rs.metadata.namespace, rs.metadata.name), patch);
  }

  private async rolloutRolling(d0: Obj, sets: Obj[]): Promise<void> {
    let { d, newRS, old } = await this.syncRevision(d0, sets, true);
    const replicas = d.spec?.replicas ?? 0;
    if (newRS && specReplicas(newRS) !== replicas) {
      const target = specReplicas(newRS) > replicas ? replicas : newRSNewReplicas(d, [...old, newRS], newRS);
      if (target !== specReplicas(newRS)) {
        newRS = await this.scaleSet(newRS, target, d);
        return this.syncRolloutStatus(d, [...old, newRS], newRS);
      }
    }
    const plan = scaleDownOldPlan(d, old, newRS);
    let scaled = false;
    for (let i = 0; i < old.length; i++) {
      const size = plan.get(old[i].metadata.name);
      if (size === undefined || size === specReplicas(old[i])) continue;
      old[i] = await this.scaleSet(old[i], size, d);
      scaled = true;
    }
    if (!scaled && this.complete(d)) await this.cleanup(d, old);
    return this.syncRolloutStatus(d, newRS ? [...old, newRS] : old, newRS);
  }

  private async rolloutRecreate(d0: Obj, sets: Obj[]): Promise<void> {
    let { d, newRS, old } = await this.syncRevision(d0, sets, false);
    let scaled = false;
    for (let i = 0; i < old.length; i++) {
      if (specReplicas(old[i]) === 0) continue;
      old[i] = await this.scaleSet(old[i], 0, d);
      scaled = true;
    }
    const all = (): Obj[] => (newRS ? [...old, newRS] : old);
    if (scaled || this.oldPodsRunning(newRS, old)) return this.syncRolloutStatus(d, all(), newRS);
    if (!newRS) ({ d, newRS, old } = await this.syncRevision(d, sets, true));
    if (newRS && specReplicas(newRS) !== (d.spec?.replicas ?? 0)) newRS = await this.scaleSet(newRS, d.spec?.replicas ?? 0, d);
    if (this.complete(d)) await this.cleanup(d, old);
    return this.syncRolloutStatus(d, all(), newRS);
  }

  /** Old pods that are still there, even terminating: Recreate must not overlap them with new ones. */
  private oldPodsRunning(newRS: Obj | undefined, old: Obj[]): boolean {
    if (sumStatus(old) > 0) return true;
    return old.some((rs) =>
      rs !== newRS && this.pods.byIndex(BY_CONTROLLER, rs.metadata.uid).some((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed'),
    );
  }

  /** Scaling (or a paused Deployment): resize the sets, keep the rollout where it is. */
  private async syncScale(d0: Obj, sets: Obj[]): Promise<void> {
    const { d, newRS, old } = await this.syncRevision(d0, sets, false);
    const replicas = d.spec?.replicas ?? 0;
    const one = activeOrLatest(newRS, old);
    const all = (): Obj[] => (newRS ? [...old, newRS] : old);
    const replace = (rs: Obj): void => {
      const i = old.findIndex((x) => x.metadata.name === rs.metadata.name);
      if (i >= 0) old[i] = rs;
    };
    let n = newRS;
    if (one) {
      if (specReplicas(one) !== replicas) {
        const scaled = await this.scaleSet(one, replicas, d);
        if (one === newRS) n = scaled;
        else replace(scaled);
      }
    } else if (isSaturated(d, newRS)) {
      for (const rs of activeSets(old)) replace(await this.scaleSet(rs, 0, d));
    } else if (isRolling(d)) {
      const plan = proportionalScalePlan(d, all());
      for (const rs of activeSets(all())) {
        const scaled = await this.scaleSet(rs, plan.get(rs.metadata.name) ?? specReplicas(rs), d);
        if (rs === newRS) n = scaled;
        else replace(scaled);
      }
    }
    if (d.spec?.paused) await this.cleanup(d, old);
    return this.writeStatus(d, calculateStatus(d, n ? [...old, n] : old, n, this.clock.now()));
  }

  private complete(d: Obj): boolean {
    const s = d.status ?? {};
    const replicas = d.spec?.replicas ?? 0;
    return s.updatedReplicas === replicas && s.replicas === replicas && s.availableReplicas === replicas && (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
  }

  private async cleanup(d: Obj, old: Obj[]): Promise<void> {
    for (const rs of setsToCleanUp(old, d.spec?.revisionHistoryLimit)) {
      try {
        await this.api.delete(pathFor(REPLICASETS, rs.metadata.namespace, rs.metadata.name), { preconditions: { uid: rs.metadata.uid } });
        this.log.info({ deployment: keyOf(d), replicaSet: rs.metadata.name }, 'deleted old replica set beyond revisionHistoryLimit');
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
  }

  private async syncRolloutStatus(d: Obj, all: Obj[], newRS: Obj | undefined): Promise<void> {
    const now = this.clock.now();
    const s = rolloutStatus(d, all, newRS, now);
    await this.writeStatus(d, s);
    // A rollout that stops progressing must still be declared stuck at its deadline.
    const wait = msUntilDeadline(d, s, now);
    if (wait !== undefined) this.queue.addAfter(keyOf(d), wait);
  }

  private async writeStatus(d: Obj, s: DeploymentStatus): Promise<void> {
    const cached = this.deployments.get(d.metadata.namespace, d.metadata.name);
    if (JSON.stringify(normalize(cached?.status ?? {})) === JSON.stringify(normalize(s)) && cached?.metadata.resourceVersion === d.metadata.resourceVersion) return;
    try {
      await this.api.update(pathFor(DEPLOYMENTS, d.metadata.namespace, d.metadata.name, 'status'), { ...d, status: s });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}
