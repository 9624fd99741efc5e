/**
 * Statistics of one cgroup, read from its files: cumulative cpu time, memory
 * usage and working set, and the number of pids. The working set is what the
 * kubelet (through cAdvisor) evicts and `kubectl top` reports: usage minus the
 * inactive file cache, floored at zero.
 *
 * v1: cpuacct.usage (ns), memory.usage_in_bytes and memory.stat
 *     `total_inactive_file` (hierarchical), pids.current.
 * v2: cpu.stat `usage_usec`, memory.current and memory.stat `inactive_file`,
 *     pids.current.
 *
 * The parsers are pure and exported for tests; readers answer undefined for a
 * cgroup that does not exist (a container already gone is not an error).
 */
import { readFile } from 'node:fs/promises';
import { dirIn, hierarchyOf, type CgroupLayout, type Hierarchy } from './layout.js';

export interface CgroupStats {
  /** Cumulative cpu time of the cgroup and its descendants, in nanoseconds. */
  cpuUsageNs: number;
  memoryUsageBytes: number;
  /** usage - inactive_file, at least 0. */
  memoryWorkingSetBytes: number;
  /** Processes and threads in the cgroup (pids.current); undefined without the pids controller. */
  pids?: number;
}

/** Parses `key value` lines (memory.stat, cpu.stat) into numbers; malformed lines are skipped. */
export function parseFlatKeyed(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (!k || v === undefined) continue;
    const n = Number(v);
    if (Number.isFinite(n)) out.set(k, n);
  }
  return out;
}

/** v1 limits at or above this are the kernel's "unlimited" (PAGE_COUNTER_MAX rounded to pages). */
const V1_UNLIMITED = 2 ** 62;

/** A byte or count limit file (`memory.max`, `memory.limit_in_bytes`, `pids.max`): undefined for "max"/unlimited. */
export function parseLimit(text: string): number | undefined {
  const t = text.trim();
  if (t === '' || t === 'max' || t === '-1') return undefined;
  const n = Number(t);
  if (!Number.isFinite(n) || n < 0 || n >= V1_UNLIMITED) return undefined;
  return n;
}

/** v2 cpu.max (`<quota|max> <period>`): the quota in µs (undefined for max) and the period. */
export function parseCpuMax(text: string): { quota?: number; period: number } {
  const [q, p] = text.trim().split(/\s+/);
  const period = Number(p) > 0 ? Number(p) : 100_000;
  const quota = q === 'max' || q === undefined ? undefined : Number(q);
  return { quota: quota !== undefined && Number.isFinite(quota) && quota > 0 ? quota : undefined, period };
}

/** Usage minus inactive file cache, never negative. */
export function workingSet(usage: number, inactiveFile: number): number {
  return Math.max(0, usage - inactiveFile);
}

/** Reads a file, or undefined when it (or its cgroup) does not exist. */
export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENODEV') return undefined;
    throw e;
  }
}

const num = (s: string | undefined): number | undefined => {
  if (s === undefined) return undefined;
  const n = Number(s.trim());
  return Number.isFinite(n) ? n : undefined;
};

async function readV1(layout: CgroupLayout, path: string): Promise<CgroupStats | undefined> {
  const file = (h: Hierarchy | undefined, name: string): Promise<string | undefined> =>
    h ? readOptional(`${dirIn(h, path)}/${name}`) : Promise.resolve(undefined);
  const [cpu, usage, stat, pids] = await Promise.all([
    file(hierarchyOf(layout, 'cpuacct'), 'cpuacct.usage'),
    file(hierarchyOf(layout, 'memory'), 'memory.usage_in_bytes'),
    file(hierarchyOf(layout, 'memory'), 'memory.stat'),
    file(hierarchyOf(layout, 'pids'), 'pids.current'),
  ]);
  if (cpu === undefined && usage === undefined) return undefined;
  const ms = parseFlatKeyed(stat ?? '');
  const memoryUsageBytes = num(usage) ?? 0;
  // total_* counts the whole subtree (what a pod cgroup with container children needs).
  const inactive = ms.get('total_inactive_file') ?? ms.get('inactive_file') ?? 0;
  return { cpuUsageNs: num(cpu) ?? 0, memoryUsageBytes, memoryWorkingSetBytes: workingSet(memoryUsageBytes, inactive), pids: num(pids) };
}

async function readV2(layout: CgroupLayout, path: string): Promise<CgroupStats | undefined> {
  if (!layout.unified) return undefined;
  const dir = dirIn(layout.unified, path);
  const [cpu, current, stat, pids] = await Promise.all([
    readOptional(`${dir}/cpu.stat`),
    readOptional(`${dir}/memory.current`),
    readOptional(`${dir}/memory.stat`),
    readOptional(`${dir}/pids.current`),
  ]);
  if (cpu === undefined && current === undefined) return undefined;
  const memoryUsageBytes = num(current) ?? 0;
  const inactive = parseFlatKeyed(stat ?? '').get('inactive_file') ?? 0;
  const usec = parseFlatKeyed(cpu ?? '').get('usage_usec') ?? 0;
  return { cpuUsageNs: usec * 1000, memoryUsageBytes, memoryWorkingSetBytes: workingSet(memoryUsageBytes, inactive), pids: num(pids) };
}

/**
 * Statistics of the cgroup at `path` (absolute within the hierarchies, e.g.
 * `/skiff/burstable/pod<uid>` or `/skiff/burstable/pod<uid>/<container id>`);
 * undefined when it does not exist.
 */
export function readCgroupStats(layout: CgroupLayout, path: string): Promise<CgroupStats | undefined> {
  return layout.version === 2 ? readV2(layout, path) : readV1(layout, path);
}
