/**
 * InterPodAffinity, as kube-scheduler's plugin of that name.
 *
 * Filter (required terms), per topology domain = (topologyKey, node label value),
 * so any node label works as a topology key, `kubernetes.io/hostname` included:
 * - the pod's affinity terms need a domain already holding a pod matching all of
 *   them — unless no pod anywhere matches and the pod matches its own terms (the
 *   first pod of a group that attracts itself);
 * - the pod's anti-affinity terms forbid domains holding a matching pod;
 * - existing pods' anti-affinity terms that match the pod forbid their domains.
 *
 * Score (preferred terms): every existing pod adds (or, for anti-affinity,
 * subtracts) term weights to its domain, both for the incoming pod's preferred
 * terms matching it and for its own terms matching the incoming pod (its
 * required affinity terms count with weight 1, hardPodAffinityWeight); a node
 * scores the sum over its domains, then min-max normalized to 0-100.
 */
import type { NodeInfo } from '../nodeinfo.js';
import { termMatches, type AffinityTerm, type PodInfo, type WeightedAffinityTerm } from '../podinfo.js';
import { SKIP, SUCCESS, unresolvable, unschedulable, type CycleState, type FilterPlugin, type ScorePlugin, type Status } from '../types.js';

export const ERR_AFFINITY = "node(s) didn't match pod affinity rules";
export const ERR_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules";
export const ERR_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules";

const HARD_POD_AFFINITY_WEIGHT = 1;
const FILTER_KEY = 'InterPodAffinity/filter';
const SCORE_KEY = 'InterPodAffinity/score';

/** Topology domain -> number of matching pods; keys are `topologyKey\0value`. */
type Counts = Map<string, number>;

const domain = (key: string, value: string): string => `${key}\u0000${value}`;

function count(m: Counts, node: NodeInfo, key: string, by: number): void {
  const v = node.labels[key];
  if (v === undefined) return;
  const d = domain(key, v);
  const n = (m.get(d) ?? 0) + by;
  if (n === 0) m.delete(d);
  else m.set(d, n);
}

interface FilterState {
  existingAnti: Counts;
  affinity: Counts;
  anti: Counts;
  matchesOwnAffinity: boolean;
}

function matchesAll(terms: readonly AffinityTerm[], pod: PodInfo): boolean {
  for (const t of terms) if (!termMatches(t, pod)) return false;
  return true;
}

function satisfiesAffinity(s: FilterState, pod: PodInfo, node: NodeInfo): boolean {
  let podsExist = true;
  for (const t of pod.requiredAffinity) {
    const v = node.labels[t.topologyKey];
    // Every topology key must exist on the node, first pod or not.
    if (v === undefined) return false;
    if (!((s.affinity.get(domain(t.topologyKey, v)) ?? 0) > 0)) podsExist = false;
  }
  return podsExist || (s.affinity.size === 0 && s.matchesOwnAffinity);
}

function satisfiesAntiAffinity(s: FilterState, pod: PodInfo, node: NodeInfo): boolean {
  if (s.anti.size === 0) return true;
  for (const t of pod.requiredAntiAffinity) {
    const v = node.labels[t.topologyKey];
    if (v !== undefined && (s.anti.get(domain(t.topologyKey, v)) ?? 0) > 0) return false;
  }
  return true;
}

function satisfiesExistingAntiAffinity(s: FilterState, node: NodeInfo): boolean {
  if (s.existingAnti.size === 0) return true;
  for (const k in node.labels) if ((s.existingAnti.get(domain(k, node.labels[k])) ?? 0) > 0) return false;
  return true;
}

/** Topology key -> value -> summed weight. */
type TopologyScore = Map<string, Map<string, number>>;

function addScore(m: TopologyScore, node: NodeInfo, key: string, weight: number): void {
  const v = node.labels[key];
  if (v === undefined || weight === 0) return;
  let byValue = m.get(key);
  if (!byValue) m.set(key, (byValue = new Map()));
  byValue.set(v, (byValue.get(v) ?? 0) + weight);
}

function processTerms(m: TopologyScore, terms: readonly WeightedAffinityTerm[], target: PodInfo, node: NodeInfo, sign: 1 | -1): void {
  for (const t of terms) if (termMatches(t, target)) addScore(m, node, t.topologyKey, sign * t.weight);
}

/** What one existing pod on `node` contributes to the incoming pod's topology score. */
function processExistingPod(m: TopologyScore, incoming: PodInfo, existing: PodInfo, node: NodeInfo): void {
  processTerms(m, incoming.preferredAffinity, existing, node, 1);
  processTerms(m, incoming.preferredAntiAffinity, existing, node, -1);
  for (const t of existing.requiredAffinity) if (termMatches(t, incoming)) addScore(m, node, t.topologyKey, HARD_POD_AFFINITY_WEIGHT);
  processTerms(m, existing.preferredAffinity, incoming, node, 1);
  processTerms(m, existing.preferredAntiAffinity, incoming, node, -1);
}

export const InterPodAffinity: FilterPlugin & ScorePlugin = {
  name: 'InterPodAffinity',
  events: ['NodeAdd', 'NodeUpdate', 'AssignedPodAdd', 'AssignedPodUpdate', 'AssignedPodDelete'],

  preFilter(state: CycleState): Status {
    const pod = state.pod;
    const existingAnti: Counts = new Map();
    for (const ni of state.snapshot.nodesWithRequiredAntiAffinityPods()) {
      if (!ni.node) continue;
      for (const ep of ni.podsWithRequiredAntiAffinity.values()) {
        for (const t of ep.requiredAntiAffinity) if (termMatches(t, pod)) count(existingAnti, ni, t.topologyKey, 1);
      }
    }
    if (existingAnti.size === 0 && !pod.requiredAffinity.length && !pod.requiredAntiAffinity.length) return SKIP;
    const affinity: Counts = new Map();
    const anti: Counts = new Map();
    if (pod.requiredAffinity.length || pod.requiredAntiAffinity.length) {
      for (const ni of state.snapshot.nodes) {
        for (const ep of ni.pods.values()) {
          if (pod.requiredAffinity.length && matchesAll(pod.requiredAffinity, ep)) {
            for (const t of pod.requiredAffinity) count(affinity, ni, t.topologyKey, 1);
          }
          for (const t of pod.requiredAntiAffinity) if (termMatches(t, ep)) count(anti, ni, t.topologyKey, 1);
        }
      }
    }
    const s: FilterState = { existingAnti, affinity, anti, matchesOwnAffinity: matchesAll(pod.requiredAffinity, pod) };
    state.data.set(FILTER_KEY, s);
    return SUCCESS;
  },

  filter(state: CycleState, node: NodeInfo): Status {
    const s = state.data.get(FILTER_KEY) as FilterState | undefined;
    if (!s) return SUCCESS;
    if (!satisfiesAffinity(s, state.pod, node)) return unresolvable(ERR_AFFINITY);
    if (!satisfiesAntiAffinity(s, state.pod, node)) return unschedulable(ERR_ANTI_AFFINITY);
    if (!satisfiesExistingAntiAffinity(s, node)) return unschedulable(ERR_EXISTING_ANTI_AFFINITY);
    return SUCCESS;
  },

  preScore(state: CycleState): Status {
    const pod = state.pod;
    const hasPreferred = pod.preferredAffinity.length > 0 || pod.preferredAntiAffinity.length > 0;
    // Without preferred terms of its own, only existing pods with affinity terms can matter.
    const nodes = hasPreferred ? state.snapshot.nodes : state.snapshot.nodesWithAffinityPods();
    const m: TopologyScore = new Map();
    for (const ni of nodes) {
      if (!ni.node) continue;
      const pods = hasPreferred ? ni.pods : ni.podsWithAffinity;
      for (const ep of pods.values()) processExistingPod(m, pod, ep, ni);
    }
    if (m.size === 0) return SKIP;
    state.data.set(SCORE_KEY, m);
    return SUCCESS;
  },

  score(state: CycleState, node: NodeInfo): number {
    const m = state.data.get(SCORE_KEY) as TopologyScore;
    let sum = 0;
    for (const [key, byValue] of m) {
      const v = node.labels[key];
      if (v !== undefined) sum += byValue.get(v) ?? 0;
    }
    return sum;
  },

  /** Min-max to 0-100; all equal gives 0 everywhere (no preference). */
  normalize(_state: CycleState, scores: Float64Array): void {
    let min = Infinity;
    let max = -Infinity;
    for (const s of scores) {
      if (s < min) min = s;
      if (s > max) max = s;
    }
    const diff = max - min;
    for (let i = 0; i < scores.length; i++) scores[i] = diff > 0 ? Math.trunc((100 * (scores[i] - min)) / diff) : 0;
  },
};
