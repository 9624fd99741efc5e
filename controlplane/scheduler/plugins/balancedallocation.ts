/**
 * NodeResourcesBalancedAllocation: prefers nodes where cpu and memory would be
 * used in similar proportions after placing the pod (score = (1 - std of the
 * used fractions) * 100), with exact requests as kube-scheduler counts them.
 * Pods requesting neither cpu nor memory skip it (kubernetes#129138), else
 * best-effort pods would all favour the same node.
 */
import type { NodeInfo } from '../nodeinfo.js';
import { MAX_NODE_SCORE, SKIP, SUCCESS, type CycleState, type ScorePlugin, type Status } from '../types.js';

/** The score from the requested and allocatable amounts of each resource. */
export function balancedScore(requested: readonly number[], allocatable: readonly number[]): number {
  const fractions: number[] = [];
  for (let i = 0; i < requested.length; i++) {
    if (allocatable[i] <= 0) continue;
    fractions.push(Math.min(1, requested[i] / allocatable[i]));
  }
  let std = 0;
  if (fractions.length === 2) {
    std = Math.abs((fractions[0] - fractions[1]) / 2);
  } else if (fractions.length > 2) {
    const mean = fractions.reduce((a, b) => a + b, 0) / fractions.length;
    std = Math.sqrt(fractions.reduce((a, f) => a + (f - mean) * (f - mean), 0) / fractions.length);
  }
  return Math.trunc((1 - std) * MAX_NODE_SCORE);
}

/** balancedScore for exactly cpu and memory, without arrays (it runs for hundreds of nodes per pod). */
export function balancedScore2(cpu: number, allocCpu: number, mem: number, allocMem: number): number {
  if (allocCpu <= 0 || allocMem <= 0) {
    // One resource or none: the deviation of a single fraction is 0.
    return MAX_NODE_SCORE;
  }
  const std = Math.abs((Math.min(1, cpu / allocCpu) - Math.min(1, mem / allocMem)) / 2);
  return Math.trunc((1 - std) * MAX_NODE_SCORE);
}

export const BalancedAllocation: ScorePlugin = {
  name: 'NodeResourcesBalancedAllocation',
  events: [],

  preScore(state: CycleState): Status {
    const r = state.pod.requests;
    return r.milliCPU === 0 && r.memory === 0 ? SKIP : SUCCESS;
  },

  score(state: CycleState, node: NodeInfo): number {
    const req = state.pod.requests;
    return balancedScore2(node.reqMilliCPU + req.milliCPU, node.allocMilliCPU, node.reqMemory + req.memory, node.allocMemory);
  },
};
