/**
 * TaintToleration: a node's NoSchedule and NoExecute taints keep out pods that
 * do not tolerate them (filter); PreferNoSchedule taints a pod does not
 * tolerate make the node less attractive (score: count, normalized reversed).
 */
import type { V1Taint, V1Toleration } from '@kubernetes/client-node';
import type { NodeInfo } from '../nodeinfo.js';
import { defaultNormalizeScore, SKIP, SUCCESS, unresolvable, type CycleState, type FilterPlugin, type ScorePlugin, type Status } from '../types.js';

/** Kubernetes' Toleration.ToleratesTaint: empty effect/key match all; operator Equal (default) or Exists. */
export function toleratesTaint(t: V1Toleration, taint: V1Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  switch (t.operator ?? 'Equal') {
    case '':
    case 'Equal':
      return (t.value ?? '') === (taint.value ?? '');
    case 'Exists':
      return true;
    default:
      return false;
  }
}

export function toleratesAny(tolerations: readonly V1Toleration[], taint: V1Taint): boolean {
  for (const t of tolerations) if (toleratesTaint(t, taint)) return true;
  return false;
}

/** The first taint with one of `effects` that no toleration covers. */
export function firstUntolerated(taints: readonly V1Taint[], tolerations: readonly V1Toleration[], effects: readonly string[]): V1Taint | undefined {
  for (const taint of taints) {
    if (!effects.includes(taint.effect)) continue;
    if (!toleratesAny(tolerations, taint)) return taint;
  }
  return undefined;
}

const HARD_EFFECTS = ['NoSchedule', 'NoExecute'];
const SCORE_KEY = 'TaintToleration/score';

export const TaintToleration: FilterPlugin & ScorePlugin = {
  name: 'TaintToleration',
  events: ['NodeAdd', 'NodeUpdate'],

  filter(state: CycleState, node: NodeInfo): Status {
    if (node.taintCount === 0) return SUCCESS;
    const taint = firstUntolerated(node.taints, state.pod.tolerations, HARD_EFFECTS);
    if (!taint) return SUCCESS;
    return unresolvable(`node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}`);
  },

  preScore(state: CycleState): Status {
    // With no PreferNoSchedule taint anywhere every node scores 100: nothing to rank.
    if (state.snapshot.preferNoScheduleNodes === 0) return SKIP;
    // Only tolerations that can cover PreferNoSchedule matter for the score.
    state.data.set(SCORE_KEY, state.pod.tolerations.filter((t) => !t.effect || t.effect === 'PreferNoSchedule'));
    return SUCCESS;
  },

  /** Number of PreferNoSchedule taints the pod does not tolerate (more is worse). */
  score(state: CycleState, node: NodeInfo): number {
    if (!node.hasPreferNoSchedule) return 0;
    const tolerations = state.data.get(SCORE_KEY) as V1Toleration[];
    let n = 0;
    for (const taint of node.taints) if (taint.effect === 'PreferNoSchedule' && !toleratesAny(tolerations, taint)) n++;
    return n;
  },

  normalize(_state: CycleState, scores: Float64Array): void {
    defaultNormalizeScore(scores, true);
  },
};
