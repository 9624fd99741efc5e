/**
 * PodTopologySpread, as kube-scheduler's plugin of that name: spreads matching
 * pods evenly over topology domains = (topologyKey, node label value), so any
 * node label works as a topology key, `kubernetes.io/hostname` included.
 *
 * Counting (both halves): for each constraint, the pods on a node that are in
 * the incoming pod's namespace, not being deleted, and match the constraint's
 * labelSelector (plus `key = incoming pod's value` for each matchLabelKeys key
 * the pod carries) count for the node's domain. Only nodes carrying every
 * topology key of the pod's constraints count, and per constraint only nodes
 * that pass its inclusion policies: nodeAffinityPolicy Honor (the default) =
 * the pod's nodeSelector and required node affinity match the node;
 * nodeTaintsPolicy Honor (default Ignore) = the pod tolerates the node's
 * NoSchedule/NoExecute taints. Every node's pods are walked once per cycle, in
 * preFilter / preScore, as kube-scheduler does.
 *
 * Filter (`whenUnsatisfiable: DoNotSchedule`): a node lacking a topology key
 * is unresolvable; otherwise for each constraint
 * `count(node's domain) + selfMatch - globalMin <= maxSkew`, where selfMatch is
 * 1 when the pod matches its own selector (kube's rule; the usual case) and
 * globalMin is the smallest count over the eligible domains, or 0 when there
 * are fewer eligible domains than minDomains (default 1).
 *
 * Score (`ScheduleAnyway`): kube-scheduler's algorithm — per constraint,
 * `count * log(domains + 2) + (maxSkew - 1)` summed over the node's
 * constraints and rounded, where domains is the number of distinct domains
 * among the feasible nodes (for the hostname key: the feasible nodes) and
 * count, for the hostname key, is the node's own matching pods, for other keys
 * the domain's over all eligible nodes. Feasible nodes missing a topology key
 * are ignored (score 0). Normalized reversed: `100 * (max + min - s) / max`
 * (integer division, min and max over the non-ignored nodes), all 100 when
 * max is 0.
 *
 * System defaults: a pod with no constraints of its own is scored (never
 * filtered) with kube-scheduler's default constraints, hostname maxSkew 3 and
 * zone maxSkew 5, both ScheduleAnyway, without requiring the nodes to carry
 * the keys (as kube does for system defaults). Difference from kube-scheduler:
 * kube selects the pods of the Services, ReplicationControllers, ReplicaSets
 * and StatefulSets that select the incoming pod; this scheduler watches none
 * of those, so it selects "pods controlled by the same controller" instead:
 * same namespace and same `ownerReferences[controller=true].uid`. So a pod
 * without a controller gets no default spreading (SKIP; kube would still
 * spread it if a Service selected it), while pods of controllers kube derives
 * no selector from (a Job, say) are spread here and not by kube; and pods of
 * two ReplicaSets behind one Service are spread per ReplicaSet, not together.
 * The controller uid is parsed once per pod version (PodInfo.controllerUID):
 * the per-cycle walk over every pod then touches no nested objects.
 *
 * Also left out, having no counterpart here: kube's PreFilterExtensions
 * (AddPod/RemovePod, used by preemption, which this scheduler lacks), the
 * parallel per-node counting, and the plugin arguments (custom default
 * constraints, defaultingType List).
 */
import type { V1TopologySpreadConstraint } from '@kubernetes/client-node';
import { matches, selectorFromObject, type Requirement, type Selector } from '../../../common/labels.js';
import type { NodeInfo } from '../nodeinfo.js';
import type { PodInfo } from '../podinfo.js';
import { SKIP, SUCCESS, unresolvable, unschedulable, type CycleState, type FilterPlugin, type ScorePlugin, type Status } from '../types.js';
import { requiredNodePredicates, type NodePredicate } from './nodeselector.js';
import { firstUntolerated } from './tainttoleration.js';

export const ERR_MISSING_LABEL = "node(s) didn't match pod topology spread constraints (missing required label)";
export const ERR_CONSTRAINTS = "node(s) didn't match pod topology spread constraints";

export const LABEL_HOSTNAME = 'kubernetes.io/hostname';
export const LABEL_ZONE = 'topology.kubernetes.io/zone';

const FILTER_KEY = 'PodTopologySpread/filter';
const SCORE_KEY = 'PodTopologySpread/score';
const HARD_EFFECTS = ['NoSchedule', 'NoExecute'];

/** A parsed constraint; `matches` tells whether an existing pod counts (namespace and deletion checked apart). */
export interface Constraint {
  readonly maxSkew: number;
  readonly topologyKey: string;
  readonly minDomains: number;
  readonly honorAffinity: boolean;
  readonly honorTaints: boolean;
  readonly matches: (pod: PodInfo) => boolean;
}

const NOTHING = (): boolean => false;

/** Parses one explicit constraint of `pod`; an absent or invalid selector matches no pod. */
export function parseConstraint(c: V1TopologySpreadConstraint, pod: PodInfo): Constraint {
  let selector: Selector | null = null;
  try {
    selector = selectorFromObject(c.labelSelector as never);
    const extra: Requirement[] = [];
    for (const k of c.matchLabelKeys ?? []) if (k in pod.labels) extra.push({ key: k, operator: 'In', values: [pod.labels[k]] });
    if (selector && extra.length) selector = [...selector, ...extra];
  } catch {
    // Validation should have refused it; an invalid selector selects nothing.
    selector = null;
  }
  const sel = selector;
  return {
    maxSkew: c.maxSkew > 0 ? c.maxSkew : 1,
    topologyKey: c.topologyKey,
    minDomains: c.minDomains && c.minDomains > 0 ? c.minDomains : 1,
    honorAffinity: c.nodeAffinityPolicy !== 'Ignore',
    honorTaints: c.nodeTaintsPolicy === 'Honor',
    matches: sel === null ? NOTHING : (p) => matches(sel, p.labels as Record<string, string>),
  };
}

/** kube-scheduler's system default constraints, selecting the pods of the same controller. */
function defaultConstraints(uid: string): Constraint[] {
  const sameController = (p: PodInfo): boolean => p.controllerUID === uid;
  const base = { minDomains: 1, honorAffinity: true, honorTaints: false, matches: sameController };
  return [
    { ...base, maxSkew: 3, topologyKey: LABEL_HOSTNAME },
    { ...base, maxSkew: 5, topologyKey: LABEL_ZONE },
  ];
}

/** Pods on `node` counting for `c`: same namespace as `ns`, not being deleted, matching. */
function countMatching(node: NodeInfo, c: Constraint, ns: string): number {
  let n = 0;
  for (const p of node.pods.values()) if (!p.deleting && p.namespace === ns && c.matches(p)) n++;
  return n;
}

function hasAllKeys(node: NodeInfo, constraints: readonly Constraint[]): boolean {
  for (const c of constraints) if (node.labels[c.topologyKey] === undefined) return false;
  return true;
}

/** The pod's nodeSelector and required node affinity as one predicate; undefined when it has neither. */
function requiredNodeAffinity(pod: PodInfo): NodePredicate | undefined {
  const preds = requiredNodePredicates(pod.pod.spec);
  if (!preds.length) return undefined;
  return preds.length === 1 ? preds[0] : (n) => preds.every((p) => p(n));
}

/** Node inclusion policies of one constraint (kube's MatchNodeInclusionPolicies). */
function included(c: Constraint, pod: PodInfo, node: NodeInfo, affinity: NodePredicate | undefined): boolean {
  if (c.honorAffinity && affinity && !affinity(node)) return false;
  if (c.honorTaints && node.taintCount > 0 && firstUntolerated(node.taints, pod.tolerations, HARD_EFFECTS)) return false;
  return true;
}

interface FilterState {
  constraints: Constraint[];
  /** Per constraint: domain value -> matching pods, for every eligible domain (0 included). */
  counts: Map<string, number>[];
  /** Per constraint: the global minimum the skew is measured against. */
  min: number[];
  /** Per constraint: 1 when the incoming pod matches the selector itself. */
  self: number[];
}

interface ScoreState {
  constraints: Constraint[];
  /** Per constraint: domain value -> matching pods (unused for the hostname key, counted per node). */
  counts: Map<string, number>[];
  /** Per constraint: log(domains + 2). */
  weights: number[];
  /** Feasible nodes missing a required topology key. */
  ignored: Set<NodeInfo> | undefined;
  /** The feasible nodes, in the order of the scores normalize gets. */
  nodes: readonly NodeInfo[];
}

export const PodTopologySpread: FilterPlugin & ScorePlugin = {
  name: 'PodTopologySpread',
  events: ['NodeAdd', 'NodeUpdate', 'AssignedPodAdd', 'AssignedPodUpdate', 'AssignedPodDelete'],

  preFilter(state: CycleState): Status {
    const pod = state.pod;
    const specs = pod.pod.spec?.topologySpreadConstraints;
    if (!specs?.length) return SKIP;
    const constraints: Constraint[] = [];
    for (const c of specs) if (c.whenUnsatisfiable !== 'ScheduleAnyway') constraints.push(parseConstraint(c, pod));
    if (!constraints.length) return SKIP;
    const affinity = requiredNodeAffinity(pod);
    const counts = constraints.map(() => new Map<string, number>());
    for (const ni of state.snapshot.nodes) {
      if (!ni.node || !hasAllKeys(ni, constraints)) continue;
      for (let i = 0; i < constraints.length; i++) {
        const c = constraints[i];
        if (!included(c, pod, ni, affinity)) continue;
        const v = ni.labels[c.topologyKey];
        counts[i].set(v, (counts[i].get(v) ?? 0) + countMatching(ni, c, pod.namespace));
      }
    }
    const min = constraints.map((c, i) => {
      if (counts[i].size < c.minDomains) return 0;
      let m = Infinity;
      for (const n of counts[i].values()) if (n < m) m = n;
      return m;
    });
    const self = constraints.map((c) => (c.matches(pod) ? 1 : 0));
    state.data.set(FILTER_KEY, { constraints, counts, min, self } satisfies FilterState);
    return SUCCESS;
  },

  filter(state: CycleState, node: NodeInfo): Status {
    const s = state.data.get(FILTER_KEY) as FilterState | undefined;
    if (!s) return SUCCESS;
    if (!hasAllKeys(node, s.constraints)) return unresolvable(ERR_MISSING_LABEL);
    for (let i = 0; i < s.constraints.length; i++) {
      const c = s.constraints[i];
      const count = s.counts[i].get(node.labels[c.topologyKey]) ?? 0;
      if (count + s.self[i] - s.min[i] > c.maxSkew) return unschedulable(ERR_CONSTRAINTS);
    }
    return SUCCESS;
  },

  preScore(state: CycleState, nodes: readonly NodeInfo[]): Status {
    if (!nodes.length) return SKIP;
    const pod = state.pod;
    const specs = pod.pod.spec?.topologySpreadConstraints;
    let constraints: Constraint[];
    let requireAll: boolean;
    if (specs?.length) {
      constraints = [];
      for (const c of specs) if (c.whenUnsatisfiable === 'ScheduleAnyway') constraints.push(parseConstraint(c, pod));
      requireAll = true;
    } else {
      const uid = pod.controllerUID;
      if (uid === undefined) return SKIP;
      constraints = defaultConstraints(uid);
      requireAll = false;
    }
    if (!constraints.length) return SKIP;

    // Domains among the feasible nodes; only these are counted below.
    let ignored: Set<NodeInfo> | undefined;
    const counts = constraints.map(() => new Map<string, number>());
    for (const ni of nodes) {
      if (requireAll && !hasAllKeys(ni, constraints)) {
        (ignored ??= new Set()).add(ni);
        continue;
      }
      for (let i = 0; i < constraints.length; i++) {
        const key = constraints[i].topologyKey;
        if (key === LABEL_HOSTNAME) continue;
        // A node without the key (possible for system defaults) sits in the '' domain, as in kube.
        const v = ni.labels[key] ?? '';
        if (!counts[i].has(v)) counts[i].set(v, 0);
      }
    }
    const weights = constraints.map((c, i) => Math.log((c.topologyKey === LABEL_HOSTNAME ? nodes.length - (ignored?.size ?? 0) : counts[i].size) + 2));

    let needCount = false;
    for (let i = 0; i < constraints.length; i++) if (counts[i].size) needCount = true;
    if (needCount) {
      const affinity = requiredNodeAffinity(pod);
      for (const ni of state.snapshot.nodes) {
        if (!ni.node || (requireAll && !hasAllKeys(ni, constraints))) continue;
        for (let i = 0; i < constraints.length; i++) {
          const c = constraints[i];
          if (c.topologyKey === LABEL_HOSTNAME) continue;
          const v = ni.labels[c.topologyKey] ?? '';
          const n = counts[i].get(v);
          if (n === undefined || !included(c, pod, ni, affinity)) continue;
          counts[i].set(v, n + countMatching(ni, c, pod.namespace));
        }
      }
    }
    state.data.set(SCORE_KEY, { constraints, counts, weights, ignored, nodes } satisfies ScoreState);
    return SUCCESS;
  },

  /** Weighted matching-pod counts over the node's domains (more is worse; normalize reverses). */
  score(state: CycleState, node: NodeInfo): number {
    const s = state.data.get(SCORE_KEY) as ScoreState;
    if (s.ignored?.has(node)) return 0;
    let score = 0;
    for (let i = 0; i < s.constraints.length; i++) {
      const c = s.constraints[i];
      const v = node.labels[c.topologyKey];
      if (v === undefined) continue;
      const cnt = c.topologyKey === LABEL_HOSTNAME ? countMatching(node, c, state.pod.namespace) : (s.counts[i].get(v) ?? 0);
      score += cnt * s.weights[i] + (c.maxSkew - 1);
    }
    return Math.round(score);
  },

  normalize(state: CycleState, scores: Float64Array): void {
    const s = state.data.get(SCORE_KEY) as ScoreState;
    const ignored = (i: number): boolean => s.ignored !== undefined && s.ignored.has(s.nodes[i]);
    let min = Infinity;
    let max = 0;
    for (let i = 0; i < scores.length; i++) {
      if (ignored(i)) continue;
      if (scores[i] < min) min = scores[i];
      if (scores[i] > max) max = scores[i];
    }
    for (let i = 0; i < scores.length; i++) {
      if (ignored(i)) scores[i] = 0;
      else if (max === 0) scores[i] = 100;
      else scores[i] = Math.trunc((100 * (max + min - scores[i])) / max);
    }
  },
};
