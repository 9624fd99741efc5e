/**
 * Creates, configures, lists and removes Skiff's cgroups (layout in qos.ts):
 * the node-level `/skiff` with its QoS classes, and one cgroup per pod, whose
 * path the runtime receives as CgroupParent (Docker's cgroupfs driver creates
 * each container's cgroup below it).
 *
 * v1: pod cgroups are created in the cpu, cpuacct, memory and pids
 * hierarchies, where Skiff writes limits and reads statistics; runc adds the
 * same path in the other hierarchies when it starts a container there, so
 * removal and listing look at every hierarchy.
 * v2: every level from the root down to the pod cgroup gets the available
 * controllers enabled in cgroup.subtree_control (so the level below, and
 * the containers under a pod, can use them).
 *
 * Contracts: `ensure*` are idempotent and re-apply limits; `removePodCgroup`
 * succeeds when nothing is left, and fails with CgroupBusyError while a
 * process still lives in the pod (only empty cgroups can be removed). Calls
 * for different pods may run concurrently.
 */
import { mkdir, readdir, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { logger, type Logger } from '../../common/log.js';
import { allHierarchies, detectLayout, dirIn, hierarchyOf, V1_CONTROLLERS, type CgroupLayout } from './layout.js';
import { DEFAULT_CGROUP_ROOT, QOS_CLASSES, podCgroupPathFor, qosCgroupPath, qosClass, uidOfPodCgroup, type PodLike, type QosClass } from './qos.js';
import { MIN_SHARES, QUOTA_PERIOD, milliCpuToShares, podResources, podTotals, sharesToWeight } from './resources.js';
import type { Resources } from '../runtime/types.js';
import { readCgroupStats, readOptional, type CgroupStats } from './stats.js';

/** A pod cgroup found on disk. */
export interface PodCgroup {
  uid: string;
  qos: QosClass;
  /** e.g. /skiff/burstable/pod<uid>. */
  path: string;
}

/** A cgroup still holding processes (or busy in the kernel) could not be removed; retry later. */
export class CgroupBusyError extends Error {
  readonly code = 'CgroupBusy';
  constructor(readonly dirs: string[]) {
    super(`cgroup still in use, not removed: ${dirs.join(', ')}`);
    this.name = 'CgroupBusyError';
  }
}

/** Controllers enabled down the v2 tree; cpu, memory and pids are required, the rest best effort. */
const V2_REQUIRED = ['cpu', 'memory', 'pids'];
const V2_OPTIONAL = ['cpuset', 'io', 'hugetlb'];

export interface CgroupManagerOptions {
  layout: CgroupLayout;
  /** Name of the node-level cgroup under each hierarchy root (default `skiff`). */
  root?: string;
  log?: Logger;
  /** Removes one empty cgroup directory (default fs rmdir; tests on a plain directory tree substitute their own). */
  rmdir?: (dir: string) => Promise<void>;
}

export class CgroupManager {
  readonly layout: CgroupLayout;
  readonly root: string;
  private readonly log: Logger;
  private readonly rmdir: (dir: string) => Promise<void>;

  constructor(o: CgroupManagerOptions) {
    this.layout = o.layout;
    this.root = o.root ?? DEFAULT_CGROUP_ROOT;
    this.log = o.log ?? logger('cgroups');
    this.rmdir = o.rmdir ?? ((d) => rmdir(d));
  }

  /** A manager for this host's mounts. */
  static async detect(o: Omit<CgroupManagerOptions, 'layout'> = {}): Promise<CgroupManager> {
    return new CgroupManager({ ...o, layout: await detectLayout() });
  }

  /** The pod's cgroup path (the runtime's CgroupParent). */
  podCgroupParent(pod: PodLike): string {
    const uid = pod.metadata?.uid;
    if (!uid) throw new Error('pod has no metadata.uid: cannot name its cgroup');
    return podCgroupPathFor(uid, qosClass(pod), this.root);
  }

  /**
   * Creates `/skiff`, `/skiff/burstable` and `/skiff/besteffort`; BestEffort
   * gets the minimum cpu weight. With `allocatable`, the root gets the
   * node's allocatable cpu as shares and memory as its limit (the kubelet's
   * node-allocatable enforcement), so pods together cannot starve the host.
   */
  async ensureQosCgroups(allocatable?: { milliCpu?: number; memory?: number }): Promise<void> {
    const rootPath = `/${this.root}`;
    await this.ensurePath(rootPath);
    if (allocatable) {
      await this.apply(rootPath, {
        ...(allocatable.milliCpu ? { cpuShares: milliCpuToShares(allocatable.milliCpu) } : {}),
        ...(allocatable.memory ? { memoryLimit: allocatable.memory } : {}),
      });
    }
    await this.ensurePath(qosCgroupPath('Burstable', this.root));
    await this.ensurePath(qosCgroupPath('BestEffort', this.root));
    await this.apply(qosCgroupPath('BestEffort', this.root), { cpuShares: MIN_SHARES });
  }

  /**
   * Gives the Burstable class the summed cpu requests of its pods as shares
   * (as the kubelet's QoS manager), so it competes fairly with Guaranteed pods.
   */
  async updateQosCgroups(pods: PodLike[]): Promise<void> {
    let milli = 0;
    for (const p of pods) if (qosClass(p) === 'Burstable') milli += podTotals(p).requests.milliCpu;
    await this.apply(qosCgroupPath('Burstable', this.root), { cpuShares: milliCpuToShares(milli) });
  }

  /** Creates the pod's cgroup (and its class parents) and writes the pod-level limits. Returns its path. */
  async ensurePodCgroup(pod: PodLike): Promise<string> {
    const path = this.podCgroupParent(pod);
    const res = podResources(pod);
    await this.ensurePath(path);
    await this.apply(path, res);
    this.log.debug({ path, qos: res.qos, cpuShares: res.cpuShares, cpuQuota: res.cpuQuota, memoryLimit: res.memoryLimit }, 'pod cgroup ensured');
    return path;
  }

  /** Removes the pod's cgroup from every hierarchy, container leftovers below it included. Missing is success. */
  async removePodCgroup(uid: string): Promise<void> {
    const busy: string[] = [];
    for (const h of allHierarchies(this.layout)) {
      for (const qos of QOS_CLASSES) await this.removeTree(dirIn(h, podCgroupPathFor(uid, qos, this.root)), busy);
    }
    if (busy.length) throw new CgroupBusyError(busy);
  }

  /** Every pod cgroup under the root, in any hierarchy (for the cleanup of orphans). */
  async listPodCgroups(): Promise<PodCgroup[]> {
    const found = new Map<string, PodCgroup>();
    for (const h of allHierarchies(this.layout)) {
      for (const qos of QOS_CLASSES) {
        let names: string[];
        try {
          names = (await readdir(dirIn(h, qosCgroupPath(qos, this.root)), { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw e;
        }
        for (const name of names) {
          const uid = uidOfPodCgroup(name);
          if (!uid) continue;
          const path = podCgroupPathFor(uid, qos, this.root);
          found.set(path, { uid, qos, path });
        }
      }
    }
    return [...found.values()].sort((a, b) => a.path.localeCompare(b.path));
  }

  /** Statistics of any cgroup path (pod: its path; container: `<pod path>/<container id>`). */
  stats(path: string): Promise<CgroupStats | undefined> {
    return readCgroupStats(this.layout, path);
  }

  /** mkdir -p of a cgroup path in the hierarchies Skiff uses (v2: enabling controllers on the way down). */
  private async ensurePath(path: string): Promise<void> {
    if (this.layout.version === 1) {
      for (const c of V1_CONTROLLERS) {
        const h = hierarchyOf(this.layout, c);
        if (h) await mkdir(dirIn(h, path), { recursive: true });
      }
      return;
    }
    const h = this.layout.unified!;
    let cur = '/';
    for (const seg of path.split('/').filter(Boolean)) {
      await this.enableControllers(dirIn(h, cur));
      cur = cur === '/' ? `/${seg}` : `${cur}/${seg}`;
      await mkdir(dirIn(h, cur), { recursive: true });
    }
    // The pod's containers are created below it and need the controllers too.
    await this.enableControllers(dirIn(h, cur));
  }

  /** v2: enables in `dir`'s subtree_control every wanted controller it has and lacks. */
  private async enableControllers(dir: string): Promise<void> {
    const available = ((await readOptional(join(dir, 'cgroup.controllers'))) ?? '').split(/\s+/).filter(Boolean);
    const enabled = new Set(((await readOptional(join(dir, 'cgroup.subtree_control'))) ?? '').split(/\s+/).filter(Boolean));
    const missing = [...V2_REQUIRED, ...V2_OPTIONAL].filter((c) => available.includes(c) && !enabled.has(c));
    if (!missing.length) return;
    const file = join(dir, 'cgroup.subtree_control');
    try {
      await writeFile(file, missing.map((c) => `+${c}`).join(' '));
      return;
    } catch {
      // One refused controller fails the whole write: retry one by one to learn which.
    }
    for (const c of missing) {
      try {
        await writeFile(file, `+${c}`);
      } catch (e) {
        const msg = `cannot enable the ${c} controller in ${file}: ${(e as Error).message}`;
        // EBUSY here usually means processes live in this cgroup ("no internal processes" rule).
        if (V2_REQUIRED.includes(c)) throw new Error(msg);
        this.log.debug({ file, controller: c }, msg);
      }
    }
  }

  /** Writes cpu and memory settings on a cgroup; absent fields mean "no limit" (quota, memory) or leave shares alone. */
  private async apply(path: string, r: Resources): Promise<void> {
    const write = async (dir: string, file: string, value: string | number): Promise<void> => {
      try {
        await writeFile(join(dir, file), String(value));
      } catch (e) {
        throw new Error(`cannot write ${value} to ${join(dir, file)}: ${(e as Error).message}`);
      }
    };
    if (this.layout.version === 1) {
      const cpu = hierarchyOf(this.layout, 'cpu');
      if (cpu) {
        const dir = dirIn(cpu, path);
        if (r.cpuShares !== undefined) await write(dir, 'cpu.shares', r.cpuShares);
        await write(dir, 'cpu.cfs_period_us', r.cpuPeriod ?? QUOTA_PERIOD);
        await write(dir, 'cpu.cfs_quota_us', r.cpuQuota ?? -1);
      }
      const mem = hierarchyOf(this.layout, 'memory');
      if (mem) await write(dirIn(mem, path), 'memory.limit_in_bytes', r.memoryLimit ?? -1);
      return;
    }
    const dir = dirIn(this.layout.unified!, path);
    if (r.cpuShares !== undefined) await write(dir, 'cpu.weight', sharesToWeight(r.cpuShares));
    await write(dir, 'cpu.max', `${r.cpuQuota ?? 'max'} ${r.cpuPeriod ?? QUOTA_PERIOD}`);
    await write(dir, 'memory.max', r.memoryLimit ?? 'max');
  }

  /** Depth-first removal of a cgroup directory and its child cgroups; busy ones are collected, missing ones ignored. */
  private async removeTree(dir: string, busy: string[]): Promise<void> {
    let children: string[];
    try {
      children = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    const before = busy.length;
    for (const c of children) await this.removeTree(join(dir, c), busy);
    if (busy.length > before) {
      busy.push(dir);
      return;
    }
    try {
      await this.rmdir(dir);
      this.log.debug({ dir }, 'cgroup removed');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code === 'EBUSY' || code === 'ENOTEMPTY') busy.push(dir);
      else throw e;
    }
  }
}
