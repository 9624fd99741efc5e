/**
 * The pod printer: kube-apiserver's `printPod` (pkg/printers/internalversion)
 * with `Wide: true`, which is how the server always generates tables; kubectl
 * hides the priority-1 columns unless `-o wide`.
 */

import { col, ageColumn, humanDuration, nameColumn, parseTime, since, type Obj, type Printer, type RowCondition } from './format.js';

/** Reason kubelet/node lifecycle put on pods of an unreachable node (util/node.NodeUnreachablePodReason). */
const NODE_UNREACHABLE_REASON = 'NodeLost';

const SUCCEEDED: RowCondition[] = [{ type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.' }];
const FAILED: RowCondition[] = [{ type: 'Completed', status: 'True', reason: 'Failed', message: 'The pod failed.' }];

const isRestartable = (c: Obj | undefined): boolean => c?.restartPolicy === 'Always';
const hasCondition = (pod: Obj, type: string): boolean =>
  Array.isArray(pod.status?.conditions) && pod.status.conditions.some((c: Obj) => c?.type === type && c?.status === 'True');

/** Milliseconds of `lastState.terminated.finishedAt`, or undefined. */
const lastFinished = (s: Obj): number | undefined => parseTime(s?.lastState?.terminated?.finishedAt);
const later = (a: number | undefined, b: number | undefined): number | undefined =>
  b === undefined ? a : a === undefined || a < b ? b : a;

/** Cells for one pod: name, ready, status, restarts, age, ip, node, nominated node, readiness gates. */
export function podRow(pod: Obj, now: Date): { cells: unknown[]; conditions?: RowCondition[] } {
  const spec: Obj = pod.spec ?? {};
  const status: Obj = pod.status ?? {};
  const containers: Obj[] = Array.isArray(spec.containers) ? spec.containers : [];
  const initSpecs: Obj[] = Array.isArray(spec.initContainers) ? spec.initContainers : [];
  const initStatuses: Obj[] = Array.isArray(status.initContainerStatuses) ? status.initContainerStatuses : [];
  const containerStatuses: Obj[] = Array.isArray(status.containerStatuses) ? status.containerStatuses : [];

  // The apiserver defaults phase to Pending on create; a pod written without a status reads the same way.
  const phase: string = status.phase || 'Pending';
  let reason: string = status.reason || phase;
  for (const c of Array.isArray(status.conditions) ? status.conditions : []) {
    if (c?.type === 'PodScheduled' && c?.reason === 'SchedulingGated') reason = 'SchedulingGated';
  }

  let restarts = 0;
  let sidecarRestarts = 0;
  let totalContainers = containers.length;
  let readyContainers = 0;
  let lastRestart: number | undefined;
  let lastSidecarRestart: number | undefined;

  const initByName = new Map<string, Obj>();
  for (const c of initSpecs) {
    initByName.set(c?.name, c);
    // Sidecars (restartable init containers) count as regular containers.
    if (isRestartable(c)) totalContainers++;
  }

  let initializing = false;
  for (let i = 0; i < initStatuses.length; i++) {
    const cs = initStatuses[i];
    const state: Obj = cs?.state ?? {};
    restarts += Number(cs?.restartCount) || 0;
    lastRestart = later(lastRestart, lastFinished(cs));
    const sidecar = isRestartable(initByName.get(cs?.name));
    if (sidecar) {
      sidecarRestarts += Number(cs?.restartCount) || 0;
      lastSidecarRestart = later(lastSidecarRestart, lastFinished(cs));
    }
    if (state.terminated && (state.terminated.exitCode ?? 0) === 0) continue;
    if (sidecar && cs?.started === true) {
      if (cs.ready) readyContainers++;
      continue;
    }
    if (state.terminated) {
      const t: Obj = state.terminated;
      if (!t.reason) reason = t.signal ? `Init:Signal:${t.signal}` : `Init:ExitCode:${t.exitCode ?? 0}`;
      else reason = `Init:${t.reason}`;
    } else if (state.waiting?.reason && state.waiting.reason !== 'PodInitializing') {
      reason = `Init:${state.waiting.reason}`;
    } else {
      reason = `Init:${i}/${initSpecs.length}`;
    }
    initializing = true;
    break;
  }

  if (!initializing || hasCondition(pod, 'Initialized')) {
    restarts = sidecarRestarts;
    lastRestart = lastSidecarRestart;
    let hasRunning = false;
    // Walk backwards so the first container's reason wins, as the real printer does.
    for (let i = containerStatuses.length - 1; i >= 0; i--) {
      const cs = containerStatuses[i];
      const state: Obj = cs?.state ?? {};
      restarts += Number(cs?.restartCount) || 0;
      lastRestart = later(lastRestart, lastFinished(cs));
      if (state.waiting?.reason) {
        reason = state.waiting.reason;
      } else if (state.terminated?.reason) {
        reason = state.terminated.reason;
      } else if (state.terminated) {
        reason = state.terminated.signal ? `Signal:${state.terminated.signal}` : `ExitCode:${state.terminated.exitCode ?? 0}`;
      } else if (cs?.ready && state.running) {
        hasRunning = true;
        readyContainers++;
      }
    }
    // A completed container next to a running one: the pod is still running.
    if (reason === 'Completed' && hasRunning) reason = hasCondition(pod, 'Ready') ? 'Running' : 'NotReady';
  }

  const deleting = pod.metadata?.deletionTimestamp != null;
  if (deleting && status.reason === NODE_UNREACHABLE_REASON) reason = 'Unknown';
  else if (deleting && phase !== 'Succeeded' && phase !== 'Failed') reason = 'Terminating';

  let restartsCell = String(restarts);
  if (restarts !== 0 && lastRestart !== undefined) restartsCell = `${restarts} (${humanDuration(now.getTime() - lastRestart)} ago)`;

  const podIP: string = (Array.isArray(status.podIPs) && status.podIPs[0]?.ip) || status.podIP || '<none>';
  let gates = '<none>';
  const readinessGates: Obj[] = Array.isArray(spec.readinessGates) ? spec.readinessGates : [];
  if (readinessGates.length > 0) {
    const conds: Obj[] = Array.isArray(status.conditions) ? status.conditions : [];
    const ok = readinessGates.filter((g) => conds.find((c) => c?.type === g?.conditionType)?.status === 'True').length;
    gates = `${ok}/${readinessGates.length}`;
  }

  const cells = [
    pod.metadata?.name ?? '',
    `${readyContainers}/${totalContainers}`,
    reason,
    restartsCell,
    since(pod.metadata?.creationTimestamp, now),
    podIP,
    spec.nodeName || '<none>',
    status.nominatedNodeName || '<none>',
    gates,
  ];
  const conditions = phase === 'Succeeded' ? SUCCEEDED : phase === 'Failed' ? FAILED : undefined;
  return conditions ? { cells, conditions } : { cells };
}

export const podPrinter: Printer = {
  columns: [
    nameColumn(),
    col('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'),
    col('Status', 'string', 'The aggregate status of the containers in this pod.'),
    col('Restarts', 'string', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
    ageColumn(),
    col('IP', 'string', 'podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.', 1),
    col('Node', 'string', 'NodeName indicates in which node this pod is scheduled.', 1),
    col('Nominated Node', 'string', 'nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.', 1),
    col('Readiness Gates', 'string', 'If specified, all readiness gates will be evaluated for pod readiness.', 1),
  ],
  row: podRow,
};
