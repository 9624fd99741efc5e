/**
 * Builders for scheduler tests: plain Node and Pod objects as the API server
 * would send them, and NodeInfos / cycle states to call plugins directly.
 */
import type { V1Affinity, V1Container, V1Taint, V1Toleration } from '@kubernetes/client-node';
import { SchedulerCache } from './cache.js';
import { NodeInfo } from './nodeinfo.js';
import type { Node, Pod } from './objects.js';
import { newPodInfo, type PodInfo } from './podinfo.js';
import { newCycleState, type CycleState } from './types.js';

export interface NodeSpec {
  cpu?: string;
  memory?: string;
  pods?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  taints?: V1Taint[];
  unschedulable?: boolean;
  extra?: Record<string, string>;
}

export function makeNode(name: string, o: NodeSpec = {}): Node {
  const resources = { cpu: o.cpu ?? '4', memory: o.memory ?? '8Gi', pods: o.pods ?? '110', ...(o.extra ?? {}) };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...(o.labels ?? {}) }, ...(o.annotations ? { annotations: o.annotations } : {}) },
    spec: { ...(o.taints ? { taints: o.taints } : {}), ...(o.unschedulable ? { unschedulable: true } : {}) },
    status: { capacity: resources, allocatable: resources, conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

export interface PodSpec {
  namespace?: string;
  uid?: string;
  cpu?: string;
  memory?: string;
  labels?: Record<string, string>;
  nodeName?: string;
  nodeSelector?: Record<string, string>;
  affinity?: V1Affinity;
  tolerations?: V1Toleration[];
  hostPorts?: number[];
  containers?: V1Container[];
  initContainers?: V1Container[];
  priority?: number;
  schedulerName?: string;
  overhead?: Record<string, string>;
}

let uidSeq = 0;

export function makePod(name: string, o: PodSpec = {}): Pod {
  const requests: Record<string, string> = {};
  if (o.cpu) requests.cpu = o.cpu;
  if (o.memory) requests.memory = o.memory;
  const container: V1Container = {
    name: 'app',
    image: 'pause',
    resources: Object.keys(requests).length ? { requests } : {},
    ...(o.hostPorts ? { ports: o.hostPorts.map((p) => ({ containerPort: p, hostPort: p, protocol: 'TCP' })) } : {}),
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: o.namespace ?? 'default', uid: o.uid ?? `uid-${name}-${++uidSeq}`, labels: o.labels ?? {} },
    spec: {
      containers: o.containers ?? [container],
      ...(o.initContainers ? { initContainers: o.initContainers } : {}),
      schedulerName: o.schedulerName ?? 'default-scheduler',
      ...(o.nodeName ? { nodeName: o.nodeName } : {}),
      ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
      ...(o.affinity ? { affinity: o.affinity } : {}),
      ...(o.tolerations ? { tolerations: o.tolerations } : {}),
      ...(o.priority !== undefined ? { priority: o.priority } : {}),
      ...(o.overhead ? { overhead: o.overhead } : {}),
    },
    status: { phase: 'Pending' },
  };
}

export function podInfo(name: string, o: PodSpec = {}): PodInfo {
  return newPodInfo(makePod(name, o));
}

/** A NodeInfo for `node` holding `pods` (assigned). */
export function nodeInfo(node: Node, pods: PodInfo[] = []): NodeInfo {
  const ni = new NodeInfo(node.metadata?.name ?? '');
  ni.setNode(node);
  for (const p of pods) ni.addPod(p);
  return ni;
}

/** A cache with these nodes and assigned pods (pods name their node through nodeName). */
export function cacheWith(nodes: Node[], pods: Pod[] = []): SchedulerCache {
  const c = new SchedulerCache();
  for (const n of nodes) c.setNode(n);
  for (const p of pods) c.addOrUpdatePod(newPodInfo(p));
  return c;
}

/** A cycle state for `pod` over `cache` (an empty cache when omitted). */
export function cycle(pod: PodInfo, cache: SchedulerCache = new SchedulerCache(), now = Date.parse('2025-01-01T00:00:00Z')): CycleState {
  return newCycleState(pod, cache, now);
}
