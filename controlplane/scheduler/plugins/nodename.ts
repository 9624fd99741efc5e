/**
 * NodeName: a pod that names its node fits only there. Pods that already have
 * `spec.nodeName` never reach the scheduler; this matters for pods whose name
 * is set through a binding-free path or in tests, and keeps parity with
 * kube-scheduler's filter list.
 */
import type { NodeInfo } from '../nodeinfo.js';
import { SKIP, SUCCESS, unresolvable, type CycleState, type FilterPlugin, type Status } from '../types.js';

export const ERR_NODE_NAME = "node(s) didn't match the requested node name";

export const NodeName: FilterPlugin = {
  name: 'NodeName',
  events: ['NodeAdd'],

  preFilter(state: CycleState): Status {
    return state.pod.nodeName ? SUCCESS : SKIP;
  },

  filter(state: CycleState, node: NodeInfo): Status {
    return !state.pod.nodeName || state.pod.nodeName === node.name ? SUCCESS : unresolvable(ERR_NODE_NAME);
  },
};
