/**
 * NodePorts: a pod asking for host ports fits only where none of them is taken
 * (by assigned or assumed pods), with Kubernetes' 0.0.0.0 wildcard rule.
 */
import type { NodeInfo } from '../nodeinfo.js';
import { SKIP, SUCCESS, unschedulable, type CycleState, type FilterPlugin, type Status } from '../types.js';

export const ERR_NODE_PORTS = "node(s) didn't have free ports for the requested pod ports";

export const NodePorts: FilterPlugin = {
  name: 'NodePorts',
  events: ['NodeAdd', 'AssignedPodDelete'],

  preFilter(state: CycleState): Status {
    return state.pod.hostPorts.length ? SUCCESS : SKIP;
  },

  filter(state: CycleState, node: NodeInfo): Status {
    for (const p of state.pod.hostPorts) if (node.portConflict(p)) return unschedulable(ERR_NODE_PORTS);
    return SUCCESS;
  },
};
