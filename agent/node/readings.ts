/**
 * Everything the node layer measures, behind one interface so that its
 * decisions (capacity, conditions, usage rates) are unit-tested with fakes;
 * HostReadings is the real source.
 *
 * Host-level figures come from /proc (stat, meminfo, loadavg) and from
 * systeminformation for the hardware (once, in a child process: ./hardware.ts);
 * when the agent's own cgroup is limited (the agent runs in a container or a
 * slice), capacity and usage come from that cgroup instead, since that is all
 * the node can give its pods.
 */
import { readFile, statfs } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { detectLayout, type CgroupLayout } from '../cgroups/layout.js';
import { readOwnLimits, type OwnLimits } from '../cgroups/limits.js';
import { CgroupManager } from '../cgroups/manager.js';
import { readCgroupStats, workingSet, type CgroupStats } from '../cgroups/stats.js';
import { probeHardware, type Hardware } from './hardware.js';

export interface HostCapacity {
  /** Logical cpus of the host (within the agent's cpuset), in millicores. */
  hostMilliCpu: number;
  hostMemoryBytes: number;
  /** Limits of the agent's own cgroup, when any. */
  cgroupMilliCpu?: number;
  cgroupMemoryBytes?: number;
}

export interface FsStats {
  capacityBytes: number;
  availableBytes: number;
  inodes: number;
  inodesFree: number;
}

export interface PidStats {
  /** The binding limit (kernel pid_max / threads-max, or the agent cgroup's pids.max). */
  max: number;
  /** Processes and threads counted against it. */
  running: number;
}

/** A point-in-time sample of the node as a whole: cumulative cpu and memory. */
export interface UsageSample {
  /** ms since the epoch (the readings' clock). */
  time: number;
  cpuUsageNs: number;
  memoryUsageBytes: number;
  memoryWorkingSetBytes: number;
}

export interface NodeReadings {
  capacity(): Promise<HostCapacity>;
  /** The filesystem holding `dir` (the nearest existing ancestor when `dir` is missing). */
  fs(dir: string): Promise<FsStats>;
  pids(): Promise<PidStats>;
  /** Usage of the node: the host, or the agent's cgroup when that one is limited. */
  nodeUsage(): Promise<Omit<UsageSample, 'time'>>;
  /** Statistics of a cgroup path; undefined when it does not exist. */
  cgroup(path: string): Promise<CgroupStats | undefined>;
  /** When the host booted, ms since the epoch. */
  bootTime(): Promise<number>;
  /** Skiff's pod cgroups on this host: uid -> cgroup path. */
  podCgroups(): Promise<Map<string, string>>;
}

/** USER_HZ: /proc/stat counts in 1/100 s on every Linux architecture Skiff runs on. */
const NS_PER_TICK = 10_000_000;

/** Busy cpu time of the aggregate `cpu` line of /proc/stat, in ns (idle and iowait excluded; guest is inside user). */
export function parseProcStatCpu(text: string): number {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('no aggregate cpu line in /proc/stat');
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
  return (user + nice + system + irq + softirq + steal) * NS_PER_TICK;
}

/** `btime` of /proc/stat: boot time in ms since the epoch. */
export function parseBootTime(text: string): number {
  const m = /^btime\s+(\d+)/m.exec(text);
  if (!m) throw new Error('no btime in /proc/stat');
  return Number(m[1]) * 1000;
}

/** /proc/meminfo fields in bytes (the file counts kB). */
export function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([^:]+):\s+(\d+)(?:\s+kB)?/.exec(line);
    if (m) out.set(m[1], Number(m[2]) * (line.includes('kB') ? 1024 : 1));
  }
  return out;
}

/**
 * Host memory as a root cgroup would count it: usage = total - free, working
 * set = usage - inactive file cache (what the kubelet evicts on).
 */
export function hostMemory(meminfo: Map<string, number>): { usage: number; workingSet: number; total: number } {
  const total = meminfo.get('MemTotal') ?? 0;
  const usage = Math.max(0, total - (meminfo.get('MemFree') ?? 0));
  return { total, usage, workingSet: workingSet(usage, meminfo.get('Inactive(file)') ?? 0) };
}

/** Threads alive on the host: the denominator of the 4th field of /proc/loadavg. */
export function parseLoadavgThreads(text: string): number {
  const m = /\s\d+\/(\d+)\s/.exec(text);
  if (!m) throw new Error(`unexpected /proc/loadavg: ${text.trim()}`);
  return Number(m[1]);
}

/** The real readings of this host. Cgroup layout and own limits are read once and cached. */
export class HostReadings implements NodeReadings {
  private layout?: Promise<CgroupLayout>;
  private limits?: Promise<OwnLimits>;

  private manager?: Promise<CgroupManager>;
  private hardware?: Promise<Hardware>;

  /** `cgroupRoot`: the node-level cgroup pods live under (default `skiff`); `proc`: where procfs is mounted. */
  constructor(private readonly o: { cgroupRoot?: string; proc?: string } = {}) {}

  private get proc(): string {
    return this.o.proc ?? '/proc';
  }

  private cg(): Promise<CgroupLayout> {
    return (this.layout ??= detectLayout(`${this.proc}/self/mountinfo`));
  }

  private own(): Promise<OwnLimits> {
    return (this.limits ??= this.cg().then((l) => readOwnLimits(l, `${this.proc}/self/cgroup`)));
  }

  async capacity(): Promise<HostCapacity> {
    // A failed probe is not cached: the next status update tries again.
    this.hardware ??= probeHardware().catch((e) => {
      this.hardware = undefined;
      throw e;
    });
    const [hw, own] = await Promise.all([this.hardware, this.own()]);
    return {
      // A cpuset (container or taskset) narrows the cpus the agent, and its pods, can use.
      hostMilliCpu: Math.max(1, Math.min(hw.cores, availableParallelism())) * 1000,
      hostMemoryBytes: hw.memTotalBytes,
      cgroupMilliCpu: own.milliCpu?.value,
      cgroupMemoryBytes: own.memory?.value,
    };
  }

  async fs(dir: string): Promise<FsStats> {
    let d = dir;
    for (;;) {
      try {
        const s = await statfs(d);
        return { capacityBytes: s.blocks * s.bsize, availableBytes: s.bavail * s.bsize, inodes: s.files, inodesFree: s.ffree };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(d) === d) throw e;
        d = dirname(d);
      }
    }
  }

  async pids(): Promise<PidStats> {
    const [pidMax, threadsMax, loadavg, own, layout] = await Promise.all([
      readFile(`${this.proc}/sys/kernel/pid_max`, 'utf8'),
      readFile(`${this.proc}/sys/kernel/threads-max`, 'utf8').catch(() => ''),
      readFile(`${this.proc}/loadavg`, 'utf8'),
      this.own(),
      this.cg(),
    ]);
    const host: PidStats = { max: Math.min(Number(pidMax), Number(threadsMax) || Infinity), running: parseLoadavgThreads(loadavg) };
    if (!own.pidsMax) return host;
    const current = (await readCgroupStats(layout, own.pidsMax.path))?.pids;
    if (current === undefined) return host;
    const cg: PidStats = { max: own.pidsMax.value, running: current };
    // Report whichever limit is closer to exhaustion.
    return cg.running / cg.max > host.running / host.max ? cg : host;
  }

  async nodeUsage(): Promise<Omit<UsageSample, 'time'>> {
    const own = await this.own();
    if (own.memory || own.milliCpu) {
      const layout = await this.cg();
      const memPath = own.memory?.path ?? own.paths.memory;
      const cpuPath = own.milliCpu?.path ?? own.paths.cpu;
      const [mem, cpu] = await Promise.all([memPath ? readCgroupStats(layout, memPath) : undefined, cpuPath ? readCgroupStats(layout, cpuPath) : undefined]);
      if (mem && cpu) return { cpuUsageNs: cpu.cpuUsageNs, memoryUsageBytes: mem.memoryUsageBytes, memoryWorkingSetBytes: mem.memoryWorkingSetBytes };
    }
    const [stat, meminfo] = await Promise.all([readFile(`${this.proc}/stat`, 'utf8'), readFile(`${this.proc}/meminfo`, 'utf8')]);
    const m = hostMemory(parseMeminfo(meminfo));
    return { cpuUsageNs: parseProcStatCpu(stat), memoryUsageBytes: m.usage, memoryWorkingSetBytes: m.workingSet };
  }

  async cgroup(path: string): Promise<CgroupStats | undefined> {
    return readCgroupStats(await this.cg(), path);
  }

  async podCgroups(): Promise<Map<string, string>> {
    this.manager ??= this.cg().then((layout) => new CgroupManager({ layout, root: this.o.cgroupRoot }));
    const pods = await (await this.manager).listPodCgroups();
    return new Map(pods.map((p) => [p.uid, p.path]));
  }

  async bootTime(): Promise<number> {
    return parseBootTime(await readFile(`${this.proc}/stat`, 'utf8'));
  }
}
