/**
 * NodeAffinity: `spec.nodeSelector` and required node affinity must both match
 * (filter); preferred node affinity terms add their weights (score, normalized
 * so the best node gets 100).
 */
import type { NodeInfo } from '../nodeinfo.js';
import { defaultNormalizeScore, SKIP, SUCCESS, unresolvable, type CycleState, type FilterPlugin, type ScorePlugin, type Status } from '../types.js';
import { compileTerm, requiredNodePredicates, type NodePredicate } from './nodeselector.js';

export const ERR_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector";

interface Preferred {
  weight: number;
  match: NodePredicate;
}

const FILTER_KEY = 'NodeAffinity/filter';
const SCORE_KEY = 'NodeAffinity/score';

export const NodeAffinity: FilterPlugin & ScorePlugin = {
  name: 'NodeAffinity',
  events: ['NodeAdd', 'NodeUpdate'],

  preFilter(state: CycleState): Status {
    const preds = requiredNodePredicates(state.pod.pod.spec);
    if (!preds.length) return SKIP;
    state.data.set(FILTER_KEY, preds);
    return SUCCESS;
  },

  filter(state: CycleState, node: NodeInfo): Status {
    const preds = state.data.get(FILTER_KEY) as NodePredicate[] | undefined;
    if (!preds) return SUCCESS;
    for (const p of preds) if (!p(node)) return unresolvable(ERR_NODE_AFFINITY);
    return SUCCESS;
  },

  preScore(state: CycleState): Status {
    const terms = state.pod.pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    const preferred: Preferred[] = terms.filter((t) => t.weight).map((t) => ({ weight: t.weight, match: compileTerm(t.preference) }));
    if (!preferred.length) return SKIP;
    state.data.set(SCORE_KEY, preferred);
    return SUCCESS;
  },

  /** Sum of the weights of the preferred terms the node matches. */
  score(state: CycleState, node: NodeInfo): number {
    let sum = 0;
    for (const p of state.data.get(SCORE_KEY) as Preferred[]) if (p.match(node)) sum += p.weight;
    return sum;
  },

  normalize(_state: CycleState, scores: Float64Array): void {
    defaultNormalizeScore(scores, false);
  },
};
