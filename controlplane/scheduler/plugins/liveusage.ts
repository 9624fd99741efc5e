/**
 * LiveUsage (Skiff's own score): ranks nodes by free cpu and memory after
 * placing the pod, where "used" is the larger of what pods request and what
 * the node really uses according to the agent's `skiff.io/usage` annotation.
 * A node busy with work its requests do not show (unrequested pods, system
 * daemons, bursting containers) therefore scores lower; a node without a
 * reading, or with one older than 60 s, is judged by its requests alone, so
 * the plugin then agrees with LeastAllocated. Same 0-100 scale and integer
 * arithmetic as LeastAllocated.
 */
import type { NodeInfo } from '../nodeinfo.js';
import { USAGE_MAX_AGE_MS } from '../objects.js';
import type { CycleState, ScorePlugin } from '../types.js';
import { leastRequestedScore } from './noderesourcesfit.js';

/** Whether the node's usage reading may be trusted at `now` (ms since the epoch). */
export function freshUsage(node: NodeInfo, now: number): boolean {
  return node.usage !== undefined && now - node.usage.time <= USAGE_MAX_AGE_MS;
}

export const LiveUsage: ScorePlugin = {
  name: 'LiveUsage',
  events: [],

  score(state: CycleState, node: NodeInfo): number {
    const pod = state.pod.nonZero;
    const usage = freshUsage(node, state.now) ? node.usage : undefined;
    let sum = 0;
    let weights = 0;
    if (node.allocMilliCPU > 0) {
      const used = Math.max(node.nonZeroMilliCPU, usage?.milliCPU ?? 0);
      sum += leastRequestedScore(used + pod.milliCPU, node.allocMilliCPU);
      weights++;
    }
    if (node.allocMemory > 0) {
      const used = Math.max(node.nonZeroMemory, usage?.memory ?? 0);
      sum += leastRequestedScore(used + pod.memory, node.allocMemory);
      weights++;
    }
    return weights ? Math.trunc(sum / weights) : 0;
  },
};
