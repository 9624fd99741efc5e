/**
 * NodeUnschedulable: cordoned nodes (`spec.unschedulable`) take no new pods,
 * unless the pod tolerates the `node.kubernetes.io/unschedulable:NoSchedule`
 * taint the node lifecycle controller would put there.
 */
import type { NodeInfo } from '../nodeinfo.js';
import { SUCCESS, unresolvable, type CycleState, type FilterPlugin, type Status } from '../types.js';
import { toleratesAny } from './tainttoleration.js';

const UNSCHEDULABLE_TAINT = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' };

export const ERR_UNSCHEDULABLE = 'node(s) were unschedulable';

export const NodeUnschedulable: FilterPlugin = {
  name: 'NodeUnschedulable',
  events: ['NodeAdd', 'NodeUpdate'],

  filter(state: CycleState, node: NodeInfo): Status {
    if (!node.unschedulable) return SUCCESS;
    if (toleratesAny(state.pod.tolerations, UNSCHEDULABLE_TAINT)) return SUCCESS;
    return unresolvable(ERR_UNSCHEDULABLE);
  },
};
