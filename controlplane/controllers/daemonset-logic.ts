/**
 * DaemonSet decisions as pure functions: which nodes should run a daemon pod
 * (node selector, required affinity, taints against the template's tolerations
 * plus the ones every daemon pod gets), the pod for a node (pinned with node
 * affinity on metadata.name, left for the scheduler to bind), what to create and
 * delete per node, the rolling update within maxUnavailable, and status.
 */
import { isPodAvailable, isPodReady, scaledValue, templateHash, type Obj } from './objects.js';
import { podFromTemplate } from './replicaset-logic.js';
import { nodeMatchesPodSpec, NOT_READY, UNREACHABLE, UNSCHEDULABLE, untolerated, type Toleration } from './taints.js';

export const REVISION_HASH_LABEL = 'controller-revision-hash';
export const TEMPLATE_GENERATION_LABEL = 'pod-template-generation';

/** The tolerations AddOrUpdateDaemonPodTolerations adds, so daemons survive node trouble. */
export function daemonTolerations(hostNetwork: boolean): Toleration[] {
  const t: Toleration[] = [
    { key: NOT_READY, operator: 'Exists', effect: 'NoExecute' },
    { key: UNREACHABLE, operator: 'Exists', effect: 'NoExecute' },
    { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: UNSCHEDULABLE, operator: 'Exists', effect: 'NoSchedule' },
  ];
  if (hostNetwork) t.push({ key: 'node.kubernetes.io/network-unavailable', operator: 'Exists', effect: 'NoSchedule' });
  return t;
}

/** The template's tolerations plus the daemon ones it lacks (same key and effect). */
export function withDaemonTolerations(spec: Obj): Toleration[] {
  const own: Toleration[] = spec?.tolerations ?? [];
  const extra = daemonTolerations(spec?.hostNetwork === true).filter((d) => !own.some((t) => t.key === d.key && t.effect === d.effect));
  return [...own, ...extra];
}

/**
 * shouldRun: a new daemon pod belongs on the node. shouldContinueRunning: an
 * existing one may stay (only NoExecute taints drive pods away).
 */
export function nodeShouldRunDaemonPod(node: Obj, ds: Obj): { shouldRun: boolean; shouldContinueRunning: boolean } {
  const spec = ds.spec?.template?.spec ?? {};
  if (!nodeMatchesPodSpec(node, spec)) return { shouldRun: false, shouldContinueRunning: false };
  const tolerations = withDaemonTolerations(spec);
  const taints = node.spec?.taints ?? [];
  return {
    shouldRun: untolerated(taints, tolerations, ['NoSchedule', 'NoExecute']).length === 0,
    shouldContinueRunning: untolerated(taints, tolerations, ['NoExecute']).length === 0,
  };
}

/** The hash identifying the current template (the pods' controller-revision-hash). */
export function daemonSetHash(ds: Obj): string {
  return templateHash(ds.spec?.template, ds.status?.collisionCount);
}

/** The node a daemon pod is bound to, or pinned to by its metadata.name node affinity. */
export function nodeOfPod(pod: Obj): string | undefined {
  if (pod.spec?.nodeName) return pod.spec.nodeName;
  for (const term of pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []) {
    for (const f of term.matchFields ?? []) if (f.key === 'metadata.name' && f.operator === 'In' && f.values?.length === 1) return f.values[0];
  }
  return undefined;
}

/** The daemon pod for `node`: template labels plus the revision hash, pinned by affinity, daemon tolerations. */
export function daemonPod(ds: Obj, node: string, hash: string): Obj {
  const ref = { apiVersion: 'apps/v1', kind: 'DaemonSet', name: ds.metadata.name, uid: ds.metadata.uid, controller: true, blockOwnerDeletion: true };
  const pod = podFromTemplate(ds.spec.template, ds.metadata.namespace, `${ds.metadata.name}-`, ref);
  pod.metadata.labels = { ...(pod.metadata.labels ?? {}), [REVISION_HASH_LABEL]: hash, [TEMPLATE_GENERATION_LABEL]: String(ds.metadata.generation ?? 1) };
  pod.spec.tolerations = withDaemonTolerations(pod.spec);
  // ReplaceDaemonSetPodNodeNameNodeAffinity: exactly this node, whatever the template said.
  pod.spec.affinity = {
    ...(pod.spec.affinity ?? {}),
    nodeAffinity: {
      ...(pod.spec.affinity?.nodeAffinity ?? {}),
      requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }] },
    },
  };
  return pod;
}

export const isUpdated = (pod: Obj, hash: string): boolean => pod.metadata?.labels?.[REVISION_HASH_LABEL] === hash;

const oldestFirst = (a: Obj, b: Obj): number =>
  String(a.metadata.creationTimestamp ?? '').localeCompare(String(b.metadata.creationTimestamp ?? '')) || String(a.metadata.name).localeCompare(b.metadata.name);

export interface NodePlan {
  /** Nodes that need a daemon pod created. */
  create: string[];
  /** Pods to delete: finished, duplicates, or on nodes they must leave. */
  delete: Obj[];
}

/** podsShouldBeOnNode over all nodes; `podsByNode` holds the set's pods per node. */
export function planNodes(ds: Obj, nodes: Obj[], podsByNode: Map<string, Obj[]>): NodePlan {
  const plan: NodePlan = { create: [], delete: [] };
  const known = new Set<string>();
  for (const node of nodes) {
    const name = node.metadata.name;
    known.add(name);
    const pods = podsByNode.get(name) ?? [];
    const { shouldRun, shouldContinueRunning } = nodeShouldRunDaemonPod(node, ds);
    if (shouldRun && pods.length === 0) {
      plan.create.push(name);
    } else if (shouldContinueRunning) {
      const running: Obj[] = [];
      for (const p of pods) {
        if (p.metadata.deletionTimestamp) continue;
        const phase = p.status?.phase;
        if (phase === 'Failed' || phase === 'Succeeded') plan.delete.push(p);
        else running.push(p);
      }
      // One daemon pod per node: keep the oldest.
      plan.delete.push(...running.sort(oldestFirst).slice(1));
    } else if (pods.length > 0) {
      plan.delete.push(...pods.filter((p) => !p.metadata.deletionTimestamp));
    }
  }
  // Pods pinned to nodes that no longer exist go too.
  for (const [name, pods] of podsByNode) if (!known.has(name)) plan.delete.push(...pods.filter((p) => !p.metadata.deletionTimestamp));
  return plan;
}

/**
 * Old pods to replace now in a RollingUpdate (maxSurge 0): old pods that are not
 * available go at once; available ones only while fewer than maxUnavailable
 * nodes are without an available daemon.
 */
export function rollingUpdateDeletions(ds: Obj, nodes: Obj[], podsByNode: Map<string, Obj[]>, hash: string, now: number): Obj[] {
  const minReady = ds.spec?.minReadySeconds ?? 0;
  const desired = nodes.filter((n) => nodeShouldRunDaemonPod(n, ds).shouldRun).length;
  const maxUnavailable = scaledValue(ds.spec?.updateStrategy?.rollingUpdate?.maxUnavailable ?? 1, desired, true);
  let unavailable = 0;
  const replaceNow: Obj[] = [];
  const candidates: Obj[] = [];
  for (const node of nodes) {
    if (!nodeShouldRunDaemonPod(node, ds).shouldRun) continue;
    const pods = (podsByNode.get(node.metadata.name) ?? []).filter((p) => !p.metadata.deletionTimestamp);
    const newPod = pods.find((p) => isUpdated(p, hash));
    const oldPod = pods.find((p) => !isUpdated(p, hash));
    if (pods.length > 1 || (!newPod && !oldPod) || (newPod && oldPod)) {
      unavailable++;
    } else if (newPod) {
      if (!isPodAvailable(newPod, minReady, now)) unavailable++;
    } else if (oldPod) {
      if (!isPodAvailable(oldPod, minReady, now)) replaceNow.push(oldPod);
      else candidates.push(oldPod);
    }
  }
  // As Kubernetes: unavailable old pods are replaced outside the budget (they serve nothing now).
  const budget = Math.max(0, Math.min(maxUnavailable - unavailable, candidates.length));
  return [...replaceNow, ...candidates.sort(oldestFirst).slice(0, budget)];
}

export interface DaemonSetStatus {
  currentNumberScheduled: number;
  numberMisscheduled: number;
  desiredNumberScheduled: number;
  numberReady: number;
  updatedNumberScheduled: number;
  numberAvailable: number;
  numberUnavailable: number;
  observedGeneration: number;
}

export function daemonSetStatus(ds: Obj, nodes: Obj[], podsByNode: Map<string, Obj[]>, hash: string, now: number): DaemonSetStatus {
  const minReady = ds.spec?.minReadySeconds ?? 0;
  const s: DaemonSetStatus = {
    currentNumberScheduled: 0,
    numberMisscheduled: 0,
    desiredNumberScheduled: 0,
    numberReady: 0,
    updatedNumberScheduled: 0,
    numberAvailable: 0,
    numberUnavailable: 0,
    observedGeneration: ds.metadata.generation ?? 0,
  };
  for (const node of nodes) {
    const pods = (podsByNode.get(node.metadata.name) ?? []).filter((p) => !p.metadata.deletionTimestamp);
    const { shouldRun } = nodeShouldRunDaemonPod(node, ds);
    if (!shouldRun) {
      if (pods.length) s.numberMisscheduled++;
      continue;
    }
    s.desiredNumberScheduled++;
    if (pods.length === 0) continue;
    s.currentNumberScheduled++;
    const pod = [...pods].sort(oldestFirst)[0];
    if (isPodReady(pod)) {
      s.numberReady++;
      if (isPodAvailable(pod, minReady, now)) s.numberAvailable++;
    }
    if (isUpdated(pod, hash)) s.updatedNumberScheduled++;
  }
  s.numberUnavailable = Math.max(0, s.desiredNumberScheduled - s.numberAvailable);
  return s;
}
