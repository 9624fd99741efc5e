/**
 * Rollout math for Deployments, as pure functions mirroring the Kubernetes
 * deployment controller (rolling.go, sync.go, progress.go, deployment/util):
 * surge and unavailability budgets, how far to scale the new ReplicaSet up and
 * the old ones down, proportional scaling, and the status and conditions
 * `kubectl rollout status` reads. Sizes are returned as plans (name -> replicas);
 * the controller applies them.
 */
import { rfc3339 } from './clock.js';
import { parseTime } from './clock.js';
import { getCondition, scaledValue, type Obj } from './objects.js';
import { activeSets, annotationInt, DESIRED_REPLICAS, MAX_REPLICAS, sortByCreation, specReplicas, sumAvailable, sumReady, sumSpec, sumStatus } from './deployment-util.js';

export const isRolling = (d: Obj): boolean => (d.spec?.strategy?.type ?? 'RollingUpdate') === 'RollingUpdate';

/**
 * maxSurge rounded up and maxUnavailable rounded down against `replicas`; both
 * zero would deadlock a rollout, so maxUnavailable becomes 1 (ResolveFenceposts).
 */
export function resolveFenceposts(d: Obj, replicas: number = d.spec?.replicas ?? 0): { surge: number; unavailable: number } {
  const ru = d.spec?.strategy?.rollingUpdate ?? {};
  const surge = scaledValue(ru.maxSurge ?? '25%', replicas, true);
  let unavailable = scaledValue(ru.maxUnavailable ?? '25%', replicas, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable };
}

export function maxSurge(d: Obj): number {
  return isRolling(d) ? resolveFenceposts(d).surge : 0;
}

export function maxUnavailable(d: Obj): number {
  const replicas = d.spec?.replicas ?? 0;
  if (!isRolling(d) || replicas === 0) return 0;
  return Math.min(resolveFenceposts(d).unavailable, replicas);
}

/** The size the new ReplicaSet may grow to now (NewRSNewReplicas). */
export function newRSNewReplicas(d: Obj, allSets: Obj[], newRS: Obj): number {
  const replicas = d.spec?.replicas ?? 0;
  if (!isRolling(d)) return replicas;
  const current = sumSpec(allSets);
  const maxTotal = replicas + resolveFenceposts(d).surge;
  if (current >= maxTotal) return specReplicas(newRS);
  const up = Math.min(maxTotal - current, replicas - specReplicas(newRS));
  return specReplicas(newRS) + Math.max(0, up);
}

/**
 * How far old sets may shrink in a rolling update (reconcileOldReplicaSets):
 * first unhealthy replicas (they serve nothing), then healthy ones while at
 * least `replicas - maxUnavailable` stay available. Returns new sizes for the
 * sets that change.
 */
export function scaleDownOldPlan(d: Obj, oldSets: Obj[], newRS: Obj | undefined): Map<string, number> {
  const plan = new Map<string, number>();
  const sizeOf = (rs: Obj): number => plan.get(rs.metadata.name) ?? specReplicas(rs);
  const oldActive = activeSets(oldSets);
  if (sumSpec(oldActive) === 0) return plan;
  const replicas = d.spec?.replicas ?? 0;
  const minAvailable = replicas - maxUnavailable(d);
  const all = [...oldSets, ...(newRS ? [newRS] : [])];
  const newUnavailable = newRS ? specReplicas(newRS) - (newRS.status?.availableReplicas ?? 0) : 0;
  const maxScaledDown = sumSpec(all) - minAvailable - newUnavailable;
  if (maxScaledDown <= 0) return plan;

  let cleaned = 0;
  for (const rs of sortByCreation(oldActive)) {
    if (cleaned >= maxScaledDown) break;
    const unhealthy = specReplicas(rs) - (rs.status?.availableReplicas ?? 0);
    if (unhealthy <= 0) continue;
    const n = Math.min(maxScaledDown - cleaned, unhealthy);
    plan.set(rs.metadata.name, specReplicas(rs) - n);
    cleaned += n;
  }

  const available = sumAvailable(all);
  if (available <= minAvailable) return plan;
  const total = available - minAvailable;
  let scaled = 0;
  for (const rs of sortByCreation(oldActive)) {
    if (scaled >= total) break;
    const size = sizeOf(rs);
    if (size === 0) continue;
    const n = Math.min(size, total - scaled);
    plan.set(rs.metadata.name, size - n);
    scaled += n;
  }
  return plan;
}

/** The one set with replicas, else the newest (FindActiveOrLatest); undefined when several are active. */
export function activeOrLatest(newRS: Obj | undefined, oldSets: Obj[]): Obj | undefined {
  if (!newRS && oldSets.length === 0) return undefined;
  const newestFirst = sortByCreation(oldSets).reverse();
  const active = activeSets([...newestFirst, newRS]);
  if (active.length === 0) return newRS ?? newestFirst[0];
  if (active.length === 1) return active[0];
  return undefined;
}

/** The new set has everything and it is all available (IsSaturated). */
export function isSaturated(d: Obj, rs: Obj | undefined): boolean {
  if (!rs) return false;
  const replicas = d.spec?.replicas ?? 0;
  return annotationInt(rs, DESIRED_REPLICAS) === replicas && specReplicas(rs) === replicas && (rs.status?.availableReplicas ?? 0) === replicas;
}

/**
 * Sizes after a scaling event during a rollout: the change in replicas is spread
 * over the active sets in proportion to their size (relative to max-replicas),
 * leftovers to the largest (scale() in sync.go). Returns sizes for all active sets.
 */
export function proportionalScalePlan(d: Obj, sets: Obj[]): Map<string, number> {
  const replicas = d.spec?.replicas ?? 0;
  const active = activeSets(sets);
  const allowed = replicas > 0 ? replicas + maxSurge(d) : 0;
  const toAdd = allowed - sumSpec(active);
  const newer = (a: Obj, b: Obj): number => -String(a.metadata.creationTimestamp ?? '').localeCompare(String(b.metadata.creationTimestamp ?? '')) || String(a.metadata.name).localeCompare(b.metadata.name);
  // Growing favours bigger then newer sets; shrinking takes from bigger then older ones.
  const ordered = [...active].sort((a, b) => specReplicas(b) - specReplicas(a) || (toAdd > 0 ? newer(a, b) : -newer(a, b)));
  const sizes = new Map<string, number>();
  let added = 0;
  for (const rs of ordered) {
    let proportion = 0;
    if (toAdd !== 0 && specReplicas(rs) !== 0 && toAdd !== added) {
      const deploymentReplicas = replicas + maxSurge(d);
      const annotated = annotationInt(rs, MAX_REPLICAS) ?? d.status?.replicas ?? 0;
      const fraction = replicas === 0 ? -specReplicas(rs) : annotated ? Math.round((specReplicas(rs) * deploymentReplicas) / annotated) - specReplicas(rs) : 0;
      const left = toAdd - added;
      proportion = toAdd > 0 ? Math.min(fraction, left) : Math.max(fraction, left);
    }
    sizes.set(rs.metadata.name, specReplicas(rs) + proportion);
    added += proportion;
  }
  if (ordered.length && toAdd !== 0) {
    const first = ordered[0].metadata.name;
    sizes.set(first, Math.max(0, sizes.get(first)! + toAdd - added));
  }
  return sizes;
}

export interface DeploymentStatus {
  observedGeneration: number;
  replicas: number;
  updatedReplicas: number;
  readyReplicas: number;
  availableReplicas: number;
  unavailableReplicas: number;
  conditions: Obj[];
  collisionCount?: number;
}

/**
 * Adds or replaces a condition: an unchanged status and reason keeps the old one;
 * a changed reason with the same status keeps lastTransitionTime.
 */
export function setCondition(conds: Obj[], c: Obj): Obj[] {
  const cur = conds.find((x) => x.type === c.type);
  if (cur && cur.status === c.status && cur.reason === c.reason) return conds;
  const next = cur && cur.status === c.status ? { ...c, lastTransitionTime: cur.lastTransitionTime } : c;
  return [...conds.filter((x) => x.type !== c.type), next];
}

export function condition(type: string, status: string, reason: string, message: string, now: number): Obj {
  const t = rfc3339(now);
  return { type, status, lastUpdateTime: t, lastTransitionTime: t, reason, message };
}

/** Status from the sets (calculateStatus), with the Available condition. */
export function calculateStatus(d: Obj, allSets: Obj[], newRS: Obj | undefined, now: number): DeploymentStatus {
  const available = sumAvailable(allSets);
  const s: DeploymentStatus = {
    observedGeneration: d.metadata.generation ?? 0,
    replicas: sumStatus(allSets),
    updatedReplicas: newRS ? (newRS.status?.replicas ?? 0) : 0,
    readyReplicas: sumReady(allSets),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, sumSpec(allSets) - available),
    conditions: [...(d.status?.conditions ?? [])],
  };
  if (d.status?.collisionCount !== undefined) s.collisionCount = d.status.collisionCount;
  const replicas = d.spec?.replicas ?? 0;
  const c =
    available >= replicas - maxUnavailable(d)
      ? condition('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.', now)
      : condition('Available', 'False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.', now);
  s.conditions = setCondition(s.conditions, c);
  return s;
}

export function deploymentComplete(d: Obj, s: DeploymentStatus): boolean {
  const replicas = d.spec?.replicas ?? 0;
  return s.updatedReplicas === replicas && s.replicas === replicas && s.availableReplicas === replicas && s.observedGeneration >= (d.metadata.generation ?? 0);
}

/** Some progress since the last recorded status (DeploymentProgressing). */
export function deploymentProgressing(d: Obj, s: DeploymentStatus): boolean {
  const old = d.status ?? {};
  const oldOld = (old.replicas ?? 0) - (old.updatedReplicas ?? 0);
  const newOld = s.replicas - s.updatedReplicas;
  return s.updatedReplicas > (old.updatedReplicas ?? 0) || newOld < oldOld || s.readyReplicas > (old.readyReplicas ?? 0) || s.availableReplicas > (old.availableReplicas ?? 0);
}

export const hasProgressDeadline = (d: Obj): boolean => typeof d.spec?.progressDeadlineSeconds === 'number' && d.spec.progressDeadlineSeconds < 2147483647;

export function deploymentTimedOut(d: Obj, s: DeploymentStatus, now: number): boolean {
  if (!hasProgressDeadline(d)) return false;
  const c = getCondition(s, 'Progressing');
  if (!c || c.reason === 'NewReplicaSetAvailable') return false;
  if (c.reason === 'ProgressDeadlineExceeded') return true;
  const from = parseTime(c.lastUpdateTime);
  return from !== undefined && from + d.spec.progressDeadlineSeconds * 1000 < now;
}

/**
 * The status after a rollout step (syncRolloutStatus): Available, plus Progressing
 * with NewReplicaSetAvailable, ReplicaSetUpdated or ProgressDeadlineExceeded.
 */
export function rolloutStatus(d: Obj, allSets: Obj[], newRS: Obj | undefined, now: number): DeploymentStatus {
  const s = calculateStatus(d, allSets, newRS, now);
  if (!hasProgressDeadline(d)) {
    s.conditions = s.conditions.filter((c) => c.type !== 'Progressing');
    return s;
  }
  const cur = getCondition(s, 'Progressing');
  const complete = s.replicas === s.updatedReplicas && cur?.reason === 'NewReplicaSetAvailable';
  if (complete) return s;
  const name = newRS?.metadata?.name ?? '';
  if (deploymentComplete(d, s)) {
    s.conditions = setCondition(s.conditions, condition('Progressing', 'True', 'NewReplicaSetAvailable', `ReplicaSet "${name}" has successfully progressed.`, now));
  } else if (deploymentProgressing(d, s)) {
    const c = condition('Progressing', 'True', 'ReplicaSetUpdated', `ReplicaSet "${name}" is progressing.`, now);
    // Progress refreshes lastUpdateTime (the deadline counts from it), not lastTransitionTime.
    if (cur?.status === 'True') c.lastTransitionTime = cur.lastTransitionTime;
    s.conditions = [...s.conditions.filter((x) => x.type !== 'Progressing'), c];
  } else if (deploymentTimedOut(d, s, now)) {
    s.conditions = setCondition(s.conditions, condition('Progressing', 'False', 'ProgressDeadlineExceeded', `ReplicaSet "${name}" has timed out progressing.`, now));
  }
  return s;
}

/** When a stuck rollout would pass its deadline, in ms from now (undefined: nothing to wait for). */
export function msUntilDeadline(d: Obj, s: DeploymentStatus, now: number): number | undefined {
  const c = getCondition(s, 'Progressing');
  if (!hasProgressDeadline(d) || !c || deploymentComplete(d, s) || c.reason === 'ProgressDeadlineExceeded' || c.reason === 'NewReplicaSetAvailable') return undefined;
  const from = parseTime(c.lastUpdateTime);
  if (from === undefined) return undefined;
  return Math.max(0, from + d.spec.progressDeadlineSeconds * 1000 - now) + 1000;
}

/** Progressing=Unknown with DeploymentPaused / DeploymentResumed when spec.paused flips. */
export function pausedConditions(d: Obj, now: number): Obj[] | undefined {
  if (!hasProgressDeadline(d)) return undefined;
  const conds: Obj[] = d.status?.conditions ?? [];
  const cur = conds.find((c) => c.type === 'Progressing');
  if (cur?.reason === 'ProgressDeadlineExceeded') return undefined;
  const pausedNow = cur?.reason === 'DeploymentPaused';
  if (d.spec?.paused && !pausedNow) return setCondition(conds, condition('Progressing', 'Unknown', 'DeploymentPaused', 'Deployment is paused', now));
  if (!d.spec?.paused && pausedNow) return setCondition(conds, condition('Progressing', 'Unknown', 'DeploymentResumed', 'Deployment is resumed', now));
  return undefined;
}
