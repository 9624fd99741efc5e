/**
 * Live usage: cpu rates from cumulative counters, and the two places they are
 * published, the `skiff.io/usage` node annotation (read by the scheduler's
 * LiveUsage plugin) and a kubelet-like /stats/summary document (stats/v1alpha1
 * shape: what metrics-server and `kubectl top` read). Pure.
 */
import type { PodRef } from '../runtime/types.js';
import { formatUsage } from '../../controlplane/scheduler/objects.js';

export { USAGE_ANNOTATION } from '../../controlplane/scheduler/objects.js';

/** A cumulative cpu counter at a time. */
export interface CpuSample {
  /** ms since the epoch. */
  time: number;
  cpuUsageNs: number;
}

/**
 * Cpu usage rate between two samples in nanocores (ns of cpu per second);
 * undefined without an earlier sample, when no time passed, or when the
 * counter went backwards (a cgroup recreated under the same key).
 */
export function nanoCores(prev: CpuSample | undefined, cur: CpuSample): number | undefined {
  if (!prev) return undefined;
  const dt = cur.time - prev.time;
  const dn = cur.cpuUsageNs - prev.cpuUsageNs;
  if (dt <= 0 || dn < 0) return undefined;
  return Math.round((dn * 1000) / dt);
}

/** Remembers the last sample per key (node, pod uid, container id) and turns new samples into rates. */
export class RateTracker {
  private last = new Map<string, CpuSample>();
  private seen = new Set<string>();

  /** Records a sample and returns the rate since the previous one of this key. */
  record(key: string, s: CpuSample): number | undefined {
    const rate = nanoCores(this.last.get(key), s);
    this.last.set(key, s);
    this.seen.add(key);
    return rate;
  }

  /** Forgets keys not recorded since the previous sweep (pods and containers gone). */
  sweep(): void {
    for (const k of this.last.keys()) if (!this.seen.has(k)) this.last.delete(k);
    this.seen.clear();
  }
}

/** The annotation value: `{"cpu":"<m>m","memory":"<bytes>","timestamp":"<RFC3339>"}`. */
export function usageAnnotation(nanoCoresRate: number, workingSetBytes: number, time: number): string {
  return formatUsage(nanoCoresRate / 1e6, workingSetBytes, new Date(time));
}

export interface CpuStats {
  time: string;
  usageNanoCores?: number;
  usageCoreNanoSeconds: number;
}

export interface MemoryStats {
  time: string;
  availableBytes?: number;
  usageBytes: number;
  workingSetBytes: number;
}

export interface ContainerStats {
  name: string;
  startTime?: string;
  cpu: CpuStats;
  memory: MemoryStats;
}

export interface PodStats {
  podRef: PodRef;
  startTime?: string;
  containers: ContainerStats[];
  cpu: CpuStats;
  memory: MemoryStats;
  process_stats?: { process_count: number };
}

export interface NodeStats {
  nodeName: string;
  startTime: string;
  cpu: CpuStats;
  memory: MemoryStats;
  fs: { time: string; availableBytes: number; capacityBytes: number; usedBytes: number; inodesFree: number; inodes: number; inodesUsed: number };
  rlimit: { time: string; maxpid: number; curproc: number };
}

/** The kubelet's GET /stats/summary document. */
export interface Summary {
  node: NodeStats;
  pods: PodStats[];
}

/** metav1.Time with second precision for start times; sample times keep ms like the kubelet's RFC3339Nano. */
export const isoSeconds = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
export const isoMillis = (ms: number): string => new Date(ms).toISOString();

/** Cpu stats of a sample with its rate. */
export function cpuStats(time: number, usageNs: number, rate: number | undefined): CpuStats {
  return { time: isoMillis(time), ...(rate !== undefined ? { usageNanoCores: rate } : {}), usageCoreNanoSeconds: usageNs };
}

export function memoryStats(time: number, usageBytes: number, workingSetBytes: number, limitBytes?: number): MemoryStats {
  return {
    time: isoMillis(time),
    ...(limitBytes !== undefined ? { availableBytes: Math.max(0, limitBytes - workingSetBytes) } : {}),
    usageBytes,
    workingSetBytes,
  };
}
