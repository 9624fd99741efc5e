/**
 * The node conditions a kubelet posts, with Kubernetes' reasons and messages:
 *
 *   MemoryPressure  memory available (capacity - working set) < memory.available threshold
 *   DiskPressure    data dir filesystem: available < nodefs.available share, or free inodes < inodesFree share
 *   PIDPressure     pids in use > pidsInUse share of the binding limit
 *   Ready           runtime answers and the pod network (CNI config) is in place
 *
 * `desiredConditions` decides (pure); `mergeConditions` stamps times: the
 * heartbeat moves on every post, the transition time only when the status
 * changes (kept from the node's previous conditions otherwise).
 * `observe` gathers the figures through NodeReadings.
 */
import type { EvictionThresholds } from './capacity.js';
import type { FsStats, NodeReadings, PidStats } from './readings.js';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface NodeCondition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastHeartbeatTime: string;
  lastTransitionTime: string;
}

export type DesiredCondition = Pick<NodeCondition, 'type' | 'status' | 'reason' | 'message'>;

/** The types this layer owns, in the order kubelets post them. */
export const OWNED_CONDITIONS = ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'Ready'] as const;

export interface Observations {
  runtimeReady: boolean;
  networkReady: boolean;
  /** Bytes: memory capacity minus the working set. */
  memoryAvailableBytes: number;
  fs: FsStats;
  pids: PidStats;
}

export function memoryPressure(o: Observations, thresholdBytes: number): boolean {
  return o.memoryAvailableBytes < thresholdBytes;
}

export function diskPressure(fs: FsStats, t: EvictionThresholds): boolean {
  const lowSpace = fs.capacityBytes > 0 && fs.availableBytes < fs.capacityBytes * t.nodefsAvailable;
  // Filesystems without a fixed inode table (btrfs) report 0 inodes: no inode pressure there.
  const lowInodes = fs.inodes > 0 && fs.inodesFree < fs.inodes * t.nodefsInodesFree;
  return lowSpace || lowInodes;
}

export function pidPressure(p: PidStats, t: EvictionThresholds): boolean {
  return p.max > 0 && p.running > p.max * t.pidsInUse;
}

/** The kubelet's NotReady message parts. */
function notReadyMessage(o: Observations): string {
  const errs: string[] = [];
  if (!o.runtimeReady) errs.push('container runtime is down');
  if (!o.networkReady) errs.push('container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized');
  return errs.join(', ');
}

/** The four conditions for the observations; `memoryThresholdBytes` is the memory.available threshold. */
export function desiredConditions(o: Observations, t: EvictionThresholds, memoryThresholdBytes: number): DesiredCondition[] {
  const mem = memoryPressure(o, memoryThresholdBytes);
  const disk = diskPressure(o.fs, t);
  const pid = pidPressure(o.pids, t);
  const ready = o.runtimeReady && o.networkReady;
  return [
    mem
      ? { type: 'MemoryPressure', status: 'True', reason: 'KubeletHasInsufficientMemory', message: 'kubelet has insufficient memory available' }
      : { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available' },
    disk
      ? { type: 'DiskPressure', status: 'True', reason: 'KubeletHasDiskPressure', message: 'kubelet has disk pressure' }
      : { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure' },
    pid
      ? { type: 'PIDPressure', status: 'True', reason: 'KubeletHasInsufficientPID', message: 'kubelet has insufficient PID available' }
      : { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available' },
    ready
      ? { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' }
      : { type: 'Ready', status: 'False', reason: 'KubeletNotReady', message: notReadyMessage(o) },
  ];
}

/**
 * The conditions to post: ours with `nowIso` as heartbeat and the previous
 * transition time when the status did not change, followed by conditions of
 * other types (set by others) untouched. A previous status of Unknown (the
 * node lifecycle controller's verdict while we were silent) is a change.
 */
export function mergeConditions(previous: readonly Partial<NodeCondition>[] | undefined, desired: DesiredCondition[], nowIso: string): NodeCondition[] {
  const prev = previous ?? [];
  const ours = desired.map((d): NodeCondition => {
    const p = prev.find((c) => c.type === d.type);
    const same = p?.status === d.status && typeof p.lastTransitionTime === 'string';
    return { ...d, lastHeartbeatTime: nowIso, lastTransitionTime: same ? p.lastTransitionTime! : nowIso };
  });
  const owned = new Set(desired.map((d) => d.type));
  const others = prev.filter((c) => c.type && !owned.has(c.type)) as NodeCondition[];
  return [...ours, ...others];
}

/** Whether the conditions differ in anything but the heartbeat (to post at once rather than at the next tick). */
export function conditionsChanged(a: readonly Partial<NodeCondition>[] | undefined, b: readonly DesiredCondition[]): boolean {
  return b.some((d) => {
    const c = (a ?? []).find((x) => x.type === d.type);
    return !c || c.status !== d.status || c.reason !== d.reason || c.message !== d.message;
  });
}

/** Gathers the observations: readiness probes from the caller, the rest through the readings. */
export async function observe(
  readings: NodeReadings,
  opts: { dataDir: string; memoryCapacityBytes: number; runtimeReady: () => Promise<boolean>; networkReady: () => Promise<boolean> },
): Promise<Observations> {
  const safe = (f: () => Promise<boolean>): Promise<boolean> => f().catch(() => false);
  const [runtimeReady, networkReady, usage, fs, pids] = await Promise.all([safe(opts.runtimeReady), safe(opts.networkReady), readings.nodeUsage(), readings.fs(opts.dataDir), readings.pids()]);
  return { runtimeReady, networkReady, memoryAvailableBytes: Math.max(0, opts.memoryCapacityBytes - usage.memoryWorkingSetBytes), fs, pids };
}
