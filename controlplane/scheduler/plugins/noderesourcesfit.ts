/**
 * NodeResourcesFit: the pod's requests must fit in the node's allocatable
 * minus what pods already there (assigned or assumed) request — cpu, memory,
 * pod count, ephemeral-storage and extended resources (filter); the score is
 * kube-scheduler's default LeastAllocated strategy: free share of cpu and
 * memory after placing the pod, counting containers without requests as
 * 100m / 200Mi so they do not all pile onto one node.
 */
import type { NodeInfo } from '../nodeinfo.js';
import type { Resources } from '../podinfo.js';
import { MAX_NODE_SCORE, SUCCESS, unschedulable, type CycleState, type FilterPlugin, type ScorePlugin, type Status } from '../types.js';

/** Reasons the pod does not fit, in Kubernetes' order and words; empty when it fits. */
export function insufficientResources(req: Resources, node: NodeInfo): string[] {
  const out: string[] = [];
  if (node.podCount + 1 > node.allocPods) out.push('Too many pods');
  if (req.milliCPU > 0 && req.milliCPU > node.allocMilliCPU - node.reqMilliCPU) out.push('Insufficient cpu');
  if (req.memory > 0 && req.memory > node.allocMemory - node.reqMemory) out.push('Insufficient memory');
  if (req.scalar) {
    for (const [name, want] of req.scalar) {
      if (want > 0 && want > (node.allocScalar?.get(name) ?? 0) - (node.reqScalar?.get(name) ?? 0)) out.push(`Insufficient ${name}`);
    }
  }
  return out;
}

/** (capacity - requested) / capacity as 0-100, 0 when over capacity (integer, as Kubernetes). */
export function leastRequestedScore(requested: number, capacity: number): number {
  if (capacity <= 0 || requested > capacity) return 0;
  return Math.trunc(((capacity - requested) * MAX_NODE_SCORE) / capacity);
}

/** LeastAllocated over cpu and memory, equal weights, skipping resources the node has none of. */
export function leastAllocated(node: NodeInfo, podNonZero: Resources): number {
  let sum = 0;
  let weights = 0;
  if (node.allocMilliCPU > 0) {
    sum += leastRequestedScore(node.nonZeroMilliCPU + podNonZero.milliCPU, node.allocMilliCPU);
    weights++;
  }
  if (node.allocMemory > 0) {
    sum += leastRequestedScore(node.nonZeroMemory + podNonZero.memory, node.allocMemory);
    weights++;
  }
  return weights ? Math.trunc(sum / weights) : 0;
}

export const NodeResourcesFit: FilterPlugin & ScorePlugin = {
  name: 'NodeResourcesFit',
  events: ['NodeAdd', 'NodeUpdate', 'AssignedPodDelete', 'AssignedPodUpdate'],

  filter(state: CycleState, node: NodeInfo): Status {
    const req = state.pod.requests;
    // Fast path for the common case: fits, no allocation.
    if (
      node.podCount < node.allocPods &&
      req.milliCPU <= node.allocMilliCPU - node.reqMilliCPU &&
      req.memory <= node.allocMemory - node.reqMemory &&
      !req.scalar
    ) {
      return SUCCESS;
    }
    const reasons = insufficientResources(req, node);
    return reasons.length ? unschedulable(...reasons) : SUCCESS;
  },

  score(state: CycleState, node: NodeInfo): number {
    return leastAllocated(node, state.pod.nonZero);
  },
};
