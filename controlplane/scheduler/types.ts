/**
 * The scheduler framework's vocabulary, after kube-scheduler's: a plugin is a
 * small object with a name and `filter` and/or `score` methods; filters answer
 * with a Status carrying human-readable reasons instead of throwing; scores are
 * integers 0-100 (MaxNodeScore), optionally normalized per plugin, then
 * weighted and summed by the framework.
 *
 * Everything here is synchronous and pure over its inputs: a scheduling cycle
 * for one pod runs to completion without awaiting, so the cache it reads cannot
 * change underneath it (our equivalent of kube-scheduler's snapshot).
 */
import type { NodeInfo } from './nodeinfo.js';
import type { PodInfo } from './podinfo.js';

export const MAX_NODE_SCORE = 100;

/**
 * Outcome of a filter (or pre-filter) for one pod and one node.
 * - Unschedulable: may fit later when other pods go away (resources, ports, anti-affinity).
 * - UnschedulableAndUnresolvable: nothing short of a node change helps (taints, selectors).
 * - Skip (pre-filter/pre-score only): the plugin has nothing to say about this pod.
 */
export type Code = 'Success' | 'Unschedulable' | 'UnschedulableAndUnresolvable' | 'Error' | 'Skip';

export interface Status {
  readonly code: Code;
  /** Short reasons as Kubernetes words them ("Insufficient cpu"); counted per node in FailedScheduling. */
  readonly reasons: readonly string[];
}

export const SUCCESS: Status = Object.freeze({ code: 'Success', reasons: Object.freeze([]) as readonly string[] });
export const SKIP: Status = Object.freeze({ code: 'Skip', reasons: Object.freeze([]) as readonly string[] });

export function unschedulable(...reasons: string[]): Status {
  return { code: 'Unschedulable', reasons };
}

export function unresolvable(...reasons: string[]): Status {
  return { code: 'UnschedulableAndUnresolvable', reasons };
}

export function errorStatus(reason: string): Status {
  return { code: 'Error', reasons: [reason] };
}

/**
 * Cluster changes that may make an unschedulable pod schedulable. Each plugin
 * lists the ones that can flip its verdict (kube-scheduler's EventsToRegister),
 * so a pod rejected only by taints is not retried when some other pod goes away.
 */
export type ClusterEvent = 'NodeAdd' | 'NodeUpdate' | 'AssignedPodAdd' | 'AssignedPodUpdate' | 'AssignedPodDelete';

/** What a cycle reads about the cluster: schedulable nodes in a stable order, plus indexes. */
export interface Snapshot {
  /** Nodes that have a Node object, in the order the rotating start index walks. */
  readonly nodes: readonly NodeInfo[];
  /** Nodes hosting at least one pod with any pod (anti-)affinity term. */
  nodesWithAffinityPods(): Iterable<NodeInfo>;
  /** Nodes hosting at least one pod with a required anti-affinity term. */
  nodesWithRequiredAntiAffinityPods(): Iterable<NodeInfo>;
  /** How many nodes carry a PreferNoSchedule taint (0 lets TaintToleration skip scoring). */
  readonly preferNoScheduleNodes: number;
}

/** Per-pod, per-cycle state: the pod, the snapshot, the time, and what pre-filters computed. */
export interface CycleState {
  readonly pod: PodInfo;
  readonly snapshot: Snapshot;
  /** Milliseconds since the epoch (from the scheduler's clock). */
  readonly now: number;
  /** Plugin name -> what its preFilter/preScore computed for this pod. */
  readonly data: Map<string, unknown>;
}

export function newCycleState(pod: PodInfo, snapshot: Snapshot, now: number): CycleState {
  return { pod, snapshot, now, data: new Map() };
}

export interface Plugin {
  readonly name: string;
  /** Cluster events after which a pod this plugin rejected is worth retrying. */
  readonly events: readonly ClusterEvent[];
}

export interface FilterPlugin extends Plugin {
  /**
   * Once per cycle before any filter: compute pod-level state into `state.data`.
   * SKIP leaves the plugin out of this cycle's filters; an unschedulable status
   * rejects the pod on every node at once.
   */
  preFilter?(state: CycleState): Status;
  /** Whether the pod fits on this node. Must not mutate anything but `state.data`. */
  filter(state: CycleState, node: NodeInfo): Status;
}

export interface ScorePlugin extends Plugin {
  /** Once per cycle over the feasible nodes; SKIP leaves the plugin out of scoring for this pod. */
  preScore?(state: CycleState, nodes: readonly NodeInfo[]): Status;
  /** Score for one feasible node; 0-100 unless `normalize` maps it there. */
  score(state: CycleState, node: NodeInfo): number;
  /** Rewrites all scores of this plugin in place to 0-100 (scores[i] belongs to nodes[i]). */
  normalize?(state: CycleState, scores: Float64Array): void;
}

export function isFilterPlugin(p: Plugin): p is FilterPlugin {
  return typeof (p as FilterPlugin).filter === 'function';
}

export function isScorePlugin(p: Plugin): p is ScorePlugin {
  return typeof (p as ScorePlugin).score === 'function';
}

/**
 * kube-scheduler's DefaultNormalizeScore: scales so the highest becomes 100
 * (integer arithmetic); `reverse` turns "more is worse" counts into scores.
 */
export function defaultNormalizeScore(scores: Float64Array, reverse: boolean): void {
  let max = 0;
  for (const s of scores) if (s > max) max = s;
  if (max === 0) {
    if (reverse) scores.fill(MAX_NODE_SCORE);
    return;
  }
  for (let i = 0; i < scores.length; i++) {
    const s = Math.trunc((MAX_NODE_SCORE * scores[i]) / max);
    scores[i] = reverse ? MAX_NODE_SCORE - s : s;
  }
}
