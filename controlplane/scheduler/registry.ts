/**
 * The plugin registry (name -> plugin) and profiles: which filters run in which
 * order and which scores count with which weight. The default profile mirrors
 * kube-scheduler's default plugin set and weights (TaintToleration 3,
 * NodeAffinity 2, InterPodAffinity 2, PodTopologySpread 2, NodeResourcesFit 1,
 * NodeResourcesBalancedAllocation 1) plus Skiff's LiveUsage at weight 1 — the
 * same as LeastAllocated, so live usage can tip a tie between equally
 * requested nodes or outweigh a moderate difference in requests, but cannot
 * override taints or affinity preferences.
 */
import { BalancedAllocation } from './plugins/balancedallocation.js';
import { InterPodAffinity } from './plugins/interpodaffinity.js';
import { LiveUsage } from './plugins/liveusage.js';
import { NodeAffinity } from './plugins/nodeaffinity.js';
import { NodeName } from './plugins/nodename.js';
import { NodePorts } from './plugins/nodeports.js';
import { NodeResourcesFit } from './plugins/noderesourcesfit.js';
import { NodeUnschedulable } from './plugins/nodeunschedulable.js';
import { PodTopologySpread } from './plugins/podtopologyspread.js';
import { TaintToleration } from './plugins/tainttoleration.js';
import { isFilterPlugin, isScorePlugin, type ClusterEvent, type FilterPlugin, type Plugin, type ScorePlugin } from './types.js';

export const REGISTRY: ReadonlyMap<string, Plugin> = new Map<string, Plugin>(
  [NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit, InterPodAffinity, PodTopologySpread, BalancedAllocation, LiveUsage].map((p) => [p.name, p]),
);

export interface ProfileConfig {
  /** Filter plugin names, in the order they run (cheap and decisive first, as kube-scheduler). */
  filters: readonly string[];
  scores: readonly { name: string; weight: number }[];
}

export interface Profile {
  readonly filters: readonly FilterPlugin[];
  readonly scores: readonly { plugin: ScorePlugin; weight: number }[];
  /** Plugin name -> cluster events that may undo its rejection. */
  readonly events: ReadonlyMap<string, ReadonlySet<ClusterEvent>>;
}

export const DEFAULT_PROFILE: ProfileConfig = {
  filters: ['NodeUnschedulable', 'NodeName', 'TaintToleration', 'NodeAffinity', 'NodePorts', 'NodeResourcesFit', 'PodTopologySpread', 'InterPodAffinity'],
  scores: [
    { name: 'TaintToleration', weight: 3 },
    { name: 'NodeAffinity', weight: 2 },
    { name: 'NodeResourcesFit', weight: 1 },
    { name: 'InterPodAffinity', weight: 2 },
    { name: 'PodTopologySpread', weight: 2 },
    { name: 'NodeResourcesBalancedAllocation', weight: 1 },
    { name: 'LiveUsage', weight: 1 },
  ],
};

/** Resolves a profile's names; throws on an unknown name or a plugin lacking the extension point. */
export function buildProfile(cfg: ProfileConfig = DEFAULT_PROFILE, registry: ReadonlyMap<string, Plugin> = REGISTRY): Profile {
  const get = (name: string): Plugin => {
    const p = registry.get(name);
    if (!p) throw new Error(`scheduler plugin "${name}" is not registered`);
    return p;
  };
  const filters = cfg.filters.map((name) => {
    const p = get(name);
    if (!isFilterPlugin(p)) throw new Error(`scheduler plugin "${name}" has no filter`);
    return p;
  });
  const scores = cfg.scores.map(({ name, weight }) => {
    const p = get(name);
    if (!isScorePlugin(p)) throw new Error(`scheduler plugin "${name}" has no score`);
    if (!(weight > 0)) throw new Error(`scheduler plugin "${name}" needs a positive weight`);
    return { plugin: p, weight };
  });
  const events = new Map<string, ReadonlySet<ClusterEvent>>();
  for (const p of [...filters, ...scores.map((s) => s.plugin)]) events.set(p.name, new Set(p.events));
  return { filters, scores, events };
}
