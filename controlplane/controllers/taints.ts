/**
 * Taints, tolerations and node selection terms, as pure functions: whether a
 * pod tolerates a node, when a NoExecute taint evicts it, which taints a node's
 * Ready condition calls for, and required node affinity matching.
 */
import { parseTime } from './clock.js';
import type { Obj } from './objects.js';

export interface Taint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' | string;
  timeAdded?: string;
}

export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal' | string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

export const NOT_READY = 'node.kubernetes.io/not-ready';
export const UNREACHABLE = 'node.kubernetes.io/unreachable';
export const UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';

/** ToleratesTaint: effect and key must match when set; Exists ignores the value. */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  if (t.operator === 'Exists') return true;
  if (!t.operator || t.operator === 'Equal') return (t.value ?? '') === (taint.value ?? '');
  return false;
}

/** Taints with one of `effects` that no toleration covers. */
export function untolerated(taints: Taint[], tolerations: Toleration[], effects: string[]): Taint[] {
  return taints.filter((x) => effects.includes(x.effect) && !tolerations.some((t) => tolerates(t, x)));
}

/**
 * When the NoExecute `taints` evict a pod with `tolerations`, in ms since the
 * epoch: `now` for an untolerated taint; the latest taint's timeAdded plus the
 * smallest tolerationSeconds among the matching tolerations; undefined (never)
 * when no taint applies or every matching toleration is unbounded.
 */
export function evictionTime(taints: Taint[], tolerations: Toleration[], now: number): number | undefined {
  const noExecute = taints.filter((x) => x.effect === 'NoExecute');
  if (noExecute.length === 0) return undefined;
  let minSeconds: number | undefined;
  let start = 0;
  for (const taint of noExecute) {
    const t = tolerations.find((x) => tolerates(x, taint));
    if (!t) return now;
    if (typeof t.tolerationSeconds === 'number') minSeconds = Math.min(minSeconds ?? Infinity, Math.max(0, t.tolerationSeconds));
    start = Math.max(start, parseTime(taint.timeAdded) ?? now);
  }
  return minSeconds === undefined ? undefined : start + minSeconds * 1000;
}

/**
 * A node's taints with the condition taints set as its Ready condition calls for:
 * Unknown -> unreachable, False -> not-ready (NoSchedule and NoExecute each),
 * True or absent -> neither; spec.unschedulable -> unschedulable:NoSchedule.
 * Other taints and the timeAdded of taints that stay are kept.
 */
export function desiredTaints(node: Obj, nowIso: string): Taint[] {
  const current: Taint[] = node.spec?.taints ?? [];
  const ready = (node.status?.conditions ?? []).find((c: Obj) => c.type === 'Ready')?.status;
  const want: Taint[] = [];
  const key = ready === 'Unknown' ? UNREACHABLE : ready === 'False' ? NOT_READY : undefined;
  if (key) want.push({ key, effect: 'NoSchedule' }, { key, effect: 'NoExecute', timeAdded: nowIso });
  if (node.spec?.unschedulable) want.push({ key: UNSCHEDULABLE, effect: 'NoSchedule', timeAdded: nowIso });
  const managed = new Set([NOT_READY, UNREACHABLE, UNSCHEDULABLE]);
  const out = current.filter((t) => !managed.has(t.key));
  for (const w of want) {
    const had = current.find((t) => t.key === w.key && t.effect === w.effect);
    out.push(had ?? (w.effect === 'NoExecute' || w.key === UNSCHEDULABLE ? w : { key: w.key, effect: w.effect }));
  }
  return out;
}

interface Requirement {
  key: string;
  operator: string;
  values?: string[];
}

function requirementMatches(r: Requirement, value: string | undefined): boolean {
  const vals = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return value !== undefined && vals.includes(value);
    case 'NotIn':
      return value === undefined || !vals.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
    case 'Lt': {
      if (value === undefined || !/^-?\d+$/.test(value) || !/^-?\d+$/.test(vals[0] ?? '')) return false;
      return r.operator === 'Gt' ? Number(value) > Number(vals[0]) : Number(value) < Number(vals[0]);
    }
    default:
      return false;
  }
}

/**
 * NodeSelectorTerms: ORed terms, each ANDing matchExpressions (labels) and
 * matchFields (only metadata.name). A term with no requirements matches nothing.
 */
export function matchesNodeSelectorTerms(node: Obj, terms: Obj[]): boolean {
  const labels: Record<string, string> = node.metadata?.labels ?? {};
  return terms.some((term) => {
    const exprs: Requirement[] = term.matchExpressions ?? [];
    const fields: Requirement[] = term.matchFields ?? [];
    if (exprs.length === 0 && fields.length === 0) return false;
    return (
      exprs.every((r) => requirementMatches(r, Object.prototype.hasOwnProperty.call(labels, r.key) ? labels[r.key] : undefined)) &&
      fields.every((r) => r.key === 'metadata.name' && requirementMatches(r, node.metadata?.name))
    );
  });
}

/** spec.nodeSelector and required node affinity of a pod spec against a node. */
export function nodeMatchesPodSpec(node: Obj, spec: Obj): boolean {
  const labels: Record<string, string> = node.metadata?.labels ?? {};
  for (const [k, v] of Object.entries((spec.nodeSelector ?? {}) as Record<string, string>)) if (labels[k] !== v) return false;
  const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  return !Array.isArray(terms) || terms.length === 0 || matchesNodeSelectorTerms(node, terms);
}
