/**
 * The limits that bind the calling process through its own cgroups: memory,
 * cpu quota and pids, each the tightest along the path from the process's
 * cgroup up to the hierarchy root (a limit on any ancestor binds every
 * descendant). Used to make node capacity cgroup-aware when the agent itself
 * runs inside a limited container or slice.
 *
 * v1: memory.limit_in_bytes, cpu.cfs_quota_us / cpu.cfs_period_us, pids.max
 *     in the hierarchies of /proc/self/cgroup.
 * v2: memory.max, cpu.max, pids.max along the unified path.
 */
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { dirIn, hierarchyOf, ownPath, parseProcCgroup, type CgroupLayout, type Hierarchy } from './layout.js';
import { parseCpuMax, parseLimit, readOptional } from './stats.js';

/** A limit and the cgroup where it was found (the one to read usage from). */
export interface BoundLimit {
  value: number;
  /** Cgroup path (absolute in the hierarchy) carrying the limit. */
  path: string;
}

export interface OwnLimits {
  /** Bytes. */
  memory?: BoundLimit;
  /** Millicores: quota * 1000 / period. */
  milliCpu?: BoundLimit;
  pidsMax?: BoundLimit;
  /** The process's own cgroup per concern (for usage when a limit applies). */
  paths: { memory?: string; cpu?: string; pids?: string };
}

/** `/a/b/c` -> [`/a/b/c`, `/a/b`, `/a`, `/`]. */
export function ancestors(path: string): string[] {
  const out: string[] = [];
  let p = posix.normalize(path || '/');
  for (;;) {
    out.push(p);
    if (p === '/') return out;
    p = posix.dirname(p);
  }
}

/** Smallest value of `read` over the path's ancestry; ties keep the deepest cgroup. */
async function tightest(path: string, read: (cg: string) => Promise<number | undefined>): Promise<BoundLimit | undefined> {
  let best: BoundLimit | undefined;
  for (const cg of ancestors(path)) {
    const v = await read(cg);
    if (v !== undefined && (best === undefined || v < best.value)) best = { value: v, path: cg };
  }
  return best;
}

const fileIn = (h: Hierarchy | undefined, cg: string, name: string): Promise<string | undefined> =>
  h ? readOptional(`${dirIn(h, cg)}/${name}`) : Promise.resolve(undefined);

async function v1Limits(layout: CgroupLayout, own: Map<string, string>): Promise<OwnLimits> {
  const mem = hierarchyOf(layout, 'memory');
  const cpu = hierarchyOf(layout, 'cpu');
  const pids = hierarchyOf(layout, 'pids');
  const paths = { memory: ownPath(own, layout, 'memory'), cpu: ownPath(own, layout, 'cpuacct') ?? ownPath(own, layout, 'cpu'), pids: ownPath(own, layout, 'pids') };
  const out: OwnLimits = { paths };
  if (paths.memory) out.memory = await tightest(paths.memory, async (cg) => parseLimit((await fileIn(mem, cg, 'memory.limit_in_bytes')) ?? ''));
  const cpuPath = ownPath(own, layout, 'cpu');
  if (cpuPath) {
    out.milliCpu = await tightest(cpuPath, async (cg) => {
      const quota = Number((await fileIn(cpu, cg, 'cpu.cfs_quota_us')) ?? '-1');
      const period = Number((await fileIn(cpu, cg, 'cpu.cfs_period_us')) ?? '100000');
      return quota > 0 && period > 0 ? Math.floor((quota * 1000) / period) : undefined;
    });
  }
  if (paths.pids) out.pidsMax = await tightest(paths.pids, async (cg) => parseLimit((await fileIn(pids, cg, 'pids.max')) ?? ''));
  return out;
}

async function v2Limits(layout: CgroupLayout, own: Map<string, string>): Promise<OwnLimits> {
  const path = ownPath(own, layout, '');
  const out: OwnLimits = { paths: { memory: path, cpu: path, pids: path } };
  if (!path || !layout.unified) return out;
  const h = layout.unified;
  out.memory = await tightest(path, async (cg) => parseLimit((await fileIn(h, cg, 'memory.max')) ?? ''));
  out.milliCpu = await tightest(path, async (cg) => {
    const text = await fileIn(h, cg, 'cpu.max');
    if (text === undefined) return undefined;
    const { quota, period } = parseCpuMax(text);
    return quota === undefined ? undefined : Math.floor((quota * 1000) / period);
  });
  out.pidsMax = await tightest(path, async (cg) => parseLimit((await fileIn(h, cg, 'pids.max')) ?? ''));
  return out;
}

/** The limits binding a process (default: this one), read from its /proc/<pid>/cgroup and the layout's files. */
export async function readOwnLimits(layout: CgroupLayout, procCgroupPath = '/proc/self/cgroup'): Promise<OwnLimits> {
  const own = parseProcCgroup(await readFile(procCgroupPath, 'utf8'));
  return layout.version === 2 ? v2Limits(layout, own) : v1Limits(layout, own);
}
