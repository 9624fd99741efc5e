/**
 * Samples live usage: the node (host, or the agent's limited cgroup) and each
 * pod the caller reports, from cgroup counters, turning cumulative cpu into
 * rates over the time since the previous sample. The latest snapshot feeds
 * both the usage annotation and /stats/summary, so the two always agree.
 *
 * Pods come from the caller (the kubelet knows names and containers); their
 * cgroups are found by uid among Skiff's pod cgroups unless the caller gives
 * the path, and a container's cgroup is `<pod cgroup>/<container id>` (Docker's
 * cgroupfs driver) unless given too. Pods or containers whose cgroup is gone
 * are left out rather than reported as zero.
 */
import type { Clock } from '../../common/clock.js';
import type { PodRef } from '../runtime/types.js';
import type { NodeReadings } from './readings.js';
import { cpuStats, isoSeconds, memoryStats, RateTracker, usageAnnotation, type ContainerStats, type CpuStats, type MemoryStats, type PodStats } from './usage.js';

export interface PodUsageTarget {
  pod: PodRef;
  startTime?: Date | string;
  /** Running containers of the pod (the sandbox is counted in the pod's cgroup, not listed). */
  containers: { id: string; name: string; startTime?: Date | string; cgroupPath?: string }[];
  /** The pod cgroup, when the caller knows it. */
  cgroupPath?: string;
}

export interface UsageSnapshot {
  time: number;
  node: { rate?: number; cpu: CpuStats; memory: MemoryStats };
  pods: PodStats[];
  /** The `skiff.io/usage` value for this snapshot (rate 0 on the first sample). */
  annotation: string;
}

const iso = (t: Date | string | undefined): string | undefined => (t === undefined ? undefined : typeof t === 'string' ? t : isoSeconds(t.getTime()));

export class UsageSampler {
  private readonly rates = new RateTracker();
  private last?: UsageSnapshot;
  private inflight?: Promise<UsageSnapshot>;

  constructor(
    private readonly readings: NodeReadings,
    private readonly clock: Clock,
    private readonly pods?: () => Promise<PodUsageTarget[]>,
  ) {}

  get latest(): UsageSnapshot | undefined {
    return this.last;
  }

  /** Takes a sample (concurrent callers share one). */
  sample(): Promise<UsageSnapshot> {
    this.inflight ??= this.take().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private async take(): Promise<UsageSnapshot> {
    const [node, targets, cgroups] = await Promise.all([
      this.readings.nodeUsage(),
      this.pods ? this.pods() : Promise.resolve([]),
      this.pods ? this.readings.podCgroups() : Promise.resolve(new Map<string, string>()),
    ]);
    const time = this.clock.now();
    const rate = this.rates.record('node', { time, cpuUsageNs: node.cpuUsageNs });
    const pods: PodStats[] = [];
    for (const t of targets) {
      const p = await this.podStats(t, t.cgroupPath ?? cgroups.get(t.pod.uid), time);
      if (p) pods.push(p);
    }
    this.rates.sweep();
    this.last = {
      time,
      node: { rate, cpu: cpuStats(time, node.cpuUsageNs, rate), memory: memoryStats(time, node.memoryUsageBytes, node.memoryWorkingSetBytes) },
      pods,
      annotation: usageAnnotation(rate ?? 0, node.memoryWorkingSetBytes, time),
    };
    return this.last;
  }

  private async podStats(t: PodUsageTarget, path: string | undefined, time: number): Promise<PodStats | undefined> {
    if (!path) return undefined;
    const s = await this.readings.cgroup(path);
    if (!s) return undefined;
    const containers: ContainerStats[] = [];
    for (const c of t.containers) {
      const cs = await this.readings.cgroup(c.cgroupPath ?? `${path}/${c.id}`);
      if (!cs) continue;
      const r = this.rates.record(`container/${c.id}`, { time, cpuUsageNs: cs.cpuUsageNs });
      const startTime = iso(c.startTime);
      containers.push({
        name: c.name,
        ...(startTime ? { startTime } : {}),
        cpu: cpuStats(time, cs.cpuUsageNs, r),
        memory: memoryStats(time, cs.memoryUsageBytes, cs.memoryWorkingSetBytes),
      });
    }
    const rate = this.rates.record(`pod/${t.pod.uid}`, { time, cpuUsageNs: s.cpuUsageNs });
    const startTime = iso(t.startTime);
    return {
      podRef: { name: t.pod.name, namespace: t.pod.namespace, uid: t.pod.uid },
      ...(startTime ? { startTime } : {}),
      containers,
      cpu: cpuStats(time, s.cpuUsageNs, rate),
      memory: memoryStats(time, s.memoryUsageBytes, s.memoryWorkingSetBytes),
      ...(s.pids !== undefined ? { process_stats: { process_count: s.pids } } : {}),
    };
  }
}
