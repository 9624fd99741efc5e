/**
 * One scheduling cycle for one pod, as kube-scheduler's schedulePod:
 * pre-filter, filter nodes starting from a rotating index until enough feasible
 * nodes are found (adaptive percentage of nodes to score), pre-score, score,
 * normalize, weight, pick the best (ties broken at random). Synchronous and
 * free of I/O; the caller assumes and binds the result.
 */
import type { NodeInfo } from './nodeinfo.js';
import type { PodInfo } from './podinfo.js';
import type { Profile } from './registry.js';
import { newCycleState, type CycleState, type FilterPlugin, type Snapshot, type Status } from './types.js';

/** kube-scheduler's minFeasibleNodesToFind and minFeasibleNodesPercentageToFind. */
const MIN_FEASIBLE_NODES = 100;
const MIN_FEASIBLE_PERCENTAGE = 5;

export const NO_NODES_MESSAGE = 'no nodes available to schedule pods';

/**
 * How many feasible nodes to look for before scoring. Below 100 nodes, all of
 * them; otherwise `percentage`% of the nodes (adaptive when 0 or unset:
 * 50 - nodes/125, at least 5), and at least 100.
 */
export function numFeasibleNodesToFind(percentage: number | undefined, numAllNodes: number): number {
  if (numAllNodes < MIN_FEASIBLE_NODES) return numAllNodes;
  let pct = percentage ?? 0;
  if (pct <= 0) {
    pct = 50 - Math.trunc(numAllNodes / 125);
    if (pct < MIN_FEASIBLE_PERCENTAGE) pct = MIN_FEASIBLE_PERCENTAGE;
  }
  if (pct >= 100) return numAllNodes;
  const n = Math.trunc((numAllNodes * pct) / 100);
  return n < MIN_FEASIBLE_NODES ? MIN_FEASIBLE_NODES : n;
}

/**
 * No node fits. `message` is kube-scheduler's FitError text:
 * `0/3 nodes are available: 1 node(s) had untolerated taint {k: v}, 2 Insufficient cpu.`
 * — reasons counted over nodes and sorted as strings, as Kubernetes sorts them.
 */
export class FitError {
  constructor(
    readonly numAllNodes: number,
    /** Reason -> number of nodes that gave it. */
    readonly reasons: ReadonlyMap<string, number>,
    /** Plugins that rejected at least one node (drives requeueing). */
    readonly plugins: ReadonlySet<string>,
    /** Set when a pre-filter rejected the pod outright. */
    readonly preFilterMessage?: string,
  ) {}

  get message(): string {
    if (this.numAllNodes === 0) return NO_NODES_MESSAGE;
    let msg = `0/${this.numAllNodes} nodes are available:`;
    if (this.preFilterMessage) return `${msg} ${this.preFilterMessage}.`;
    const parts = [...this.reasons].map(([reason, n]) => `${n} ${reason}`);
    // Go's sort.Strings: byte order, which JavaScript's default sort matches for ASCII.
    parts.sort();
    if (parts.length) msg += ` ${parts.join(', ')}.`;
    return msg;
  }
}

export interface ScheduleResult {
  node: string;
  /** Nodes run through the filters this cycle. */
  evaluatedNodes: number;
  feasibleNodes: number;
}

export interface FrameworkOptions {
  /** 0 or unset: adaptive, as kube-scheduler. */
  percentageOfNodesToScore?: number;
  /** For tie-breaking; Math.random by default. */
  random?: () => number;
}

export class Framework {
  private nextStartNodeIndex = 0;
  private readonly random: () => number;
  // Buffers reused across cycles (cycles never overlap): a cycle at 5,000 nodes
  // would otherwise allocate ~12 KB just for these, and young-generation GC
  // pauses delay the bindings' responses.
  private scratch = new Float64Array(0);
  private totalsBuf = new Float64Array(0);
  private readonly feasibleBuf: NodeInfo[] = [];

  constructor(
    readonly profile: Profile,
    private readonly opts: FrameworkOptions = {},
  ) {
    this.random = opts.random ?? Math.random;
  }

  /** Picks a node for `pod`, or explains why none fits. Advances the rotating start index. */
  schedule(pod: PodInfo, snapshot: Snapshot, now: number): ScheduleResult | FitError {
    const nodes = snapshot.nodes;
    const n = nodes.length;
    if (n === 0) return new FitError(0, new Map(), new Set());
    const state = newCycleState(pod, snapshot, now);
    const filters: FilterPlugin[] = [];
    for (const p of this.profile.filters) {
      if (!p.preFilter) {
        filters.push(p);
        continue;
      }
      const s = p.preFilter(state);
      if (s.code === 'Skip') continue;
      if (s.code !== 'Success') return new FitError(n, new Map(), new Set([p.name]), s.reasons.join(', '));
      filters.push(p);
    }

    const want = numFeasibleNodesToFind(this.opts.percentageOfNodesToScore, n);
    const feasible = this.feasibleBuf;
    feasible.length = 0;
    let reasons: Map<string, number> | undefined;
    let rejecters: Set<string> | undefined;
    let processed = 0;
    const start = this.nextStartNodeIndex;
    for (let i = 0; i < n && feasible.length < want; i++) {
      const node = nodes[(start + i) % n];
      processed++;
      const rejected = runFilters(filters, state, node);
      if (!rejected) {
        feasible.push(node);
        continue;
      }
      (rejecters ??= new Set()).add(rejected.plugin);
      reasons ??= new Map();
      for (const r of rejected.status.reasons) reasons.set(r, (reasons.get(r) ?? 0) + 1);
    }
    this.nextStartNodeIndex = (start + processed) % n;
    if (feasible.length === 0) return new FitError(n, reasons ?? new Map(), rejecters ?? new Set());
    if (feasible.length === 1) return { node: feasible[0].name, evaluatedNodes: processed, feasibleNodes: 1 };
    const totals = this.score(state, feasible);
    return { node: feasible[this.selectHost(totals)].name, evaluatedNodes: processed, feasibleNodes: feasible.length };
  }

  /**
   * Weighted sum of every score plugin's (normalized) scores, per feasible
   * node. The result is a view on a buffer the next cycle reuses.
   */
  score(state: CycleState, feasible: readonly NodeInfo[]): Float64Array {
    const k = feasible.length;
    if (this.scratch.length < k) {
      this.scratch = new Float64Array(k);
      this.totalsBuf = new Float64Array(k);
    }
    const totals = this.totalsBuf.subarray(0, k);
    totals.fill(0);
    for (const { plugin, weight } of this.profile.scores) {
      if (plugin.preScore && plugin.preScore(state, feasible).code === 'Skip') continue;
      const scores = this.scratch.subarray(0, k);
      for (let i = 0; i < k; i++) scores[i] = plugin.score(state, feasible[i]);
      plugin.normalize?.(state, scores);
      for (let i = 0; i < k; i++) totals[i] += scores[i] * weight;
    }
    return totals;
  }

  /** Index of the highest total; among equals each is equally likely (reservoir sampling). */
  private selectHost(totals: Float64Array): number {
    let best = 0;
    let ties = 1;
    for (let i = 1; i < totals.length; i++) {
      if (totals[i] > totals[best]) {
        best = i;
        ties = 1;
      } else if (totals[i] === totals[best]) {
        ties++;
        if (this.random() * ties < 1) best = i;
      }
    }
    return best;
  }
}

/** Runs filters in order; the first rejection decides, as in kube-scheduler. */
function runFilters(filters: readonly FilterPlugin[], state: CycleState, node: NodeInfo): { plugin: string; status: Status } | undefined {
  for (const p of filters) {
    const s = p.filter(state, node);
    if (s.code !== 'Success') return { plugin: p.name, status: s };
  }
  return undefined;
}
