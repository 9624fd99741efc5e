/**
 * The ReplicaSet controller's decisions, as pure functions: which pods to delete
 * when scaling down, the status a set of pods amounts to, the pod a template
 * makes, and the batches creations go out in.
 */
import { parseTime } from './clock.js';
import { getCondition, hasAllLabels, isPodAvailable, isPodReady, type Obj, type OwnerReference } from './objects.js';

const PHASE_ORDINAL: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

function maxRestarts(pod: Obj): number {
  const all = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])];
  return all.reduce((m: number, c: Obj) => Math.max(m, c.restartCount ?? 0), 0);
}

/** a is after b, treating a missing time as earliest (afterOrZero in Kubernetes). */
function afterOrZero(a: number | undefined, b: number | undefined): boolean {
  if (a === undefined || b === undefined) return a === undefined;
  return a > b;
}

/**
 * Orders pods so that the ones to delete first come first, as ActivePodsWithRanks:
 * unscheduled before scheduled; Pending before Unknown before Running; not ready
 * before ready; on nodes crowded with related pods first; recently ready before
 * long ready; more restarts first; newer before older.
 *
 * `related` are the pods of the same owner's sets (for a Deployment, all its
 * ReplicaSets): a pod's rank is how many of them share its node.
 */
export function rankForDeletion(pods: Obj[], related: Obj[] = pods): Obj[] {
  const onNode = new Map<string, number>();
  for (const p of related) {
    const n = p.spec?.nodeName ?? '';
    onNode.set(n, (onNode.get(n) ?? 0) + 1);
  }
  const rank = (p: Obj): number => onNode.get(p.spec?.nodeName ?? '') ?? 0;
  const readySince = (p: Obj): number | undefined => parseTime(getCondition(p.status, 'Ready')?.lastTransitionTime);
  const cmp = (a: Obj, b: Obj): number => {
    const na = a.spec?.nodeName ?? '';
    const nb = b.spec?.nodeName ?? '';
    if (na !== nb && (na === '' || nb === '')) return na === '' ? -1 : 1;
    const pa = PHASE_ORDINAL[a.status?.phase] ?? 0;
    const pb = PHASE_ORDINAL[b.status?.phase] ?? 0;
    if (pa !== pb) return pa - pb;
    const ra = isPodReady(a);
    const rb = isPodReady(b);
    if (ra !== rb) return ra ? 1 : -1;
    if (rank(a) !== rank(b)) return rank(b) - rank(a);
    if (ra && rb) {
      const ta = readySince(a);
      const tb = readySince(b);
      if (ta !== tb) return afterOrZero(ta, tb) ? -1 : 1;
    }
    const xa = maxRestarts(a);
    const xb = maxRestarts(b);
    if (xa !== xb) return xb - xa;
    const ca = parseTime(a.metadata?.creationTimestamp);
    const cb = parseTime(b.metadata?.creationTimestamp);
    if (ca !== cb) return afterOrZero(ca, cb) ? -1 : 1;
    return 0;
  };
  return [...pods].sort(cmp);
}

/** The `n` pods to delete from `pods`, best candidates first. */
export function podsToDelete(pods: Obj[], n: number, related?: Obj[]): Obj[] {
  if (n <= 0) return [];
  return rankForDeletion(pods, related).slice(0, n);
}

/**
 * Creations go out in batches of 1, 2, 4, ... (slowStartBatch), so a template
 * that cannot work fails once rather than `n` times.
 */
export function slowStartBatches(n: number, initial = 1): number[] {
  const out: number[] = [];
  let size = initial;
  let left = n;
  while (left > 0) {
    const b = Math.min(size, left);
    out.push(b);
    left -= b;
    size *= 2;
  }
  return out;
}

export interface ReplicaSetStatus {
  replicas: number;
  fullyLabeledReplicas: number;
  readyReplicas: number;
  availableReplicas: number;
  observedGeneration: number;
  conditions?: Obj[];
}

/**
 * The status of `rs` given its active, owned `pods` at `now` (ms). `failure` is
 * the message of a failed create or delete in this sync (condition ReplicaFailure).
 */
export function replicaSetStatus(rs: Obj, pods: Obj[], now: number, failure?: string, nowTime?: string): ReplicaSetStatus {
  const tmplLabels = rs.spec?.template?.metadata?.labels ?? {};
  const minReady = rs.spec?.minReadySeconds ?? 0;
  const status: ReplicaSetStatus = {
    replicas: pods.length,
    fullyLabeledReplicas: pods.filter((p) => hasAllLabels(p.metadata?.labels, tmplLabels)).length,
    readyReplicas: pods.filter(isPodReady).length,
    availableReplicas: pods.filter((p) => isPodAvailable(p, minReady, now)).length,
    observedGeneration: rs.metadata?.generation ?? 0,
  };
  const others = ((rs.status?.conditions ?? []) as Obj[]).filter((c) => c.type !== 'ReplicaFailure');
  if (failure) {
    const prev = getCondition(rs.status, 'ReplicaFailure');
    const cond = prev?.status === 'True' && prev.message === failure ? prev : { type: 'ReplicaFailure', status: 'True', lastTransitionTime: nowTime, reason: 'FailedCreate', message: failure };
    status.conditions = [...others, cond];
  } else if (others.length) {
    status.conditions = others;
  }
  return status;
}

/**
 * The pod a controller creates from `template`: the template's labels,
 * annotations, finalizers and spec, `generateName` `<owner>-`, and a controller
 * reference to the owner. Deep-copied: the result shares nothing with the input.
 */
export function podFromTemplate(template: Obj, namespace: string, generateName: string, ref: OwnerReference): Obj {
  const t = structuredClone(template ?? {});
  const meta: Obj = { generateName, namespace, ownerReferences: [ref] };
  if (t.metadata?.labels) meta.labels = t.metadata.labels;
  if (t.metadata?.annotations) meta.annotations = t.metadata.annotations;
  if (t.metadata?.finalizers) meta.finalizers = t.metadata.finalizers;
  return { apiVersion: 'v1', kind: 'Pod', metadata: meta, spec: t.spec ?? {} };
}
