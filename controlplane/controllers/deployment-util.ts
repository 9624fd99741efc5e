/**
 * Deployment bookkeeping as pure functions (deployment/util in Kubernetes):
 * revisions and the annotations kubectl's rollout history/undo read, finding
 * the new ReplicaSet by template, building it, and counting replicas.
 */
import { controllerRef, normalize, semanticEqual, templateHash, type Obj } from './objects.js';

export const REVISION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas';
export const CHANGE_CAUSE = 'kubernetes.io/change-cause';
export const HASH_LABEL = 'pod-template-hash';
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
const ROLLBACK_TO = 'deprecated.deployment.rollback.to';

/** Annotations of a Deployment that are not copied to its ReplicaSets. */
const SKIP_COPY = new Set([LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO]);

/** The revision annotation as a number (0 when absent or malformed). */
export function revisionOf(o: Obj | undefined): number {
  const v = o?.metadata?.annotations?.[REVISION];
  return typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : 0;
}

export function maxRevision(sets: Obj[]): number {
  return sets.reduce((m, rs) => Math.max(m, revisionOf(rs)), 0);
}

/** A template without the pod-template-hash label, for comparing a ReplicaSet's with a Deployment's. */
function withoutHash(t: Obj | undefined): Obj {
  const c = structuredClone(t ?? {});
  if (c.metadata?.labels) delete c.metadata.labels[HASH_LABEL];
  return c;
}

/** Whether two pod templates are the same, ignoring pod-template-hash (EqualIgnoreHash). */
export function equalIgnoreHash(a: Obj | undefined, b: Obj | undefined): boolean {
  return semanticEqual(withoutHash(a), withoutHash(b));
}

const byCreation = (a: Obj, b: Obj): number =>
  String(a.metadata.creationTimestamp ?? '').localeCompare(String(b.metadata.creationTimestamp ?? '')) || String(a.metadata.name).localeCompare(String(b.metadata.name));

/** ReplicaSets oldest first (ReplicaSetsByCreationTimestamp). */
export function sortByCreation(sets: Obj[]): Obj[] {
  return [...sets].sort(byCreation);
}

/** The ReplicaSet running the Deployment's current template (the oldest, should there be several). */
export function findNewReplicaSet(d: Obj, sets: Obj[]): Obj | undefined {
  return sortByCreation(sets).find((rs) => equalIgnoreHash(rs.spec?.template, d.spec?.template));
}

export const specReplicas = (rs: Obj | undefined): number => rs?.spec?.replicas ?? 0;
export const sumSpec = (sets: Obj[]): number => sets.reduce((n, rs) => n + specReplicas(rs), 0);
export const sumStatus = (sets: Obj[]): number => sets.reduce((n, rs) => n + (rs.status?.replicas ?? 0), 0);
export const sumReady = (sets: Obj[]): number => sets.reduce((n, rs) => n + (rs.status?.readyReplicas ?? 0), 0);
export const sumAvailable = (sets: Obj[]): number => sets.reduce((n, rs) => n + (rs.status?.availableReplicas ?? 0), 0);
/** Sets with replicas wanted (FilterActiveReplicaSets). */
export const activeSets = (sets: (Obj | undefined)[]): Obj[] => sets.filter((rs): rs is Obj => !!rs && specReplicas(rs) > 0);

/**
 * Copies the Deployment's annotations onto `rs` (not the ones that describe the
 * Deployment itself), then raises `rs`'s revision to `newRevision`, remembering a
 * revision it had before in revision-history (a rollback re-uses an old set).
 * New sets also get desired/max-replicas. Mutates `rs`; returns whether it changed.
 */
export function setNewReplicaSetAnnotations(d: Obj, rs: Obj, newRevision: number, exists: boolean, maxSurge: number): boolean {
  const ann: Obj = (rs.metadata.annotations ??= {});
  let changed = false;
  for (const [k, v] of Object.entries(d.metadata?.annotations ?? {})) {
    if (SKIP_COPY.has(k) || ann[k] === v) continue;
    ann[k] = v;
    changed = true;
  }
  const had = typeof ann[REVISION] === 'string' ? ann[REVISION] : undefined;
  const old = had && /^\d+$/.test(had) ? Number(had) : 0;
  if (old < newRevision) {
    ann[REVISION] = String(newRevision);
    changed = true;
    if (had) {
      const hist = typeof ann[REVISION_HISTORY] === 'string' && ann[REVISION_HISTORY] ? `${ann[REVISION_HISTORY]},${had}` : had;
      // Kubernetes bounds the history by length; keep the newest entries.
      ann[REVISION_HISTORY] = hist.length > 2048 ? hist.slice(hist.indexOf(',', hist.length - 2048) + 1) : hist;
    }
  }
  if (!exists) changed = setReplicasAnnotations(rs, d.spec?.replicas ?? 0, (d.spec?.replicas ?? 0) + maxSurge) || changed;
  return changed;
}

/** Sets desired-replicas and max-replicas; returns whether they changed. */
export function setReplicasAnnotations(rs: Obj, desired: number, max: number): boolean {
  const ann: Obj = (rs.metadata.annotations ??= {});
  if (ann[DESIRED_REPLICAS] === String(desired) && ann[MAX_REPLICAS] === String(max)) return false;
  ann[DESIRED_REPLICAS] = String(desired);
  ann[MAX_REPLICAS] = String(max);
  return true;
}

export function annotationInt(rs: Obj | undefined, key: string): number | undefined {
  const v = rs?.metadata?.annotations?.[key];
  return typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined;
}

/**
 * A new ReplicaSet for the Deployment's current template: named
 * `<deployment>-<pod-template-hash>`, the hash label added to its labels,
 * selector and template, owned by the Deployment, with `replicas`.
 */
export function newReplicaSet(d: Obj, replicas: number): Obj {
  const template = structuredClone(d.spec.template ?? {});
  const hash = templateHash(normalize(withoutHash(template)), d.status?.collisionCount);
  template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [HASH_LABEL]: hash } };
  const selector = structuredClone(d.spec.selector ?? {});
  selector.matchLabels = { ...(selector.matchLabels ?? {}), [HASH_LABEL]: hash };
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `${d.metadata.name}-${hash}`,
      namespace: d.metadata.namespace,
      labels: template.metadata.labels,
      ownerReferences: [controllerRef(d, 'apps/v1', 'Deployment')],
    },
    spec: { replicas, minReadySeconds: d.spec.minReadySeconds ?? 0, selector, template },
  };
}

/**
 * Old ReplicaSets to delete beyond revisionHistoryLimit: lowest revisions first,
 * only those fully scaled down, settled and not already being deleted.
 */
export function setsToCleanUp(oldSets: Obj[], limit: number | undefined): Obj[] {
  if (limit === undefined || limit === null) return [];
  const cleanable = oldSets.filter((rs) => !rs.metadata.deletionTimestamp);
  const diff = cleanable.length - limit;
  if (diff <= 0) return [];
  const sorted = [...cleanable].sort((a, b) => revisionOf(a) - revisionOf(b) || byCreation(a, b));
  return sorted
    .slice(0, diff)
    .filter((rs) => (rs.status?.replicas ?? 0) === 0 && specReplicas(rs) === 0 && (rs.metadata.generation ?? 0) <= (rs.status?.observedGeneration ?? 0));
}
