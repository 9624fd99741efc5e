/**
 * Where the cgroup hierarchies are mounted, and which mode the host runs:
 *
 * - v1 (also "hybrid": v1 controllers plus an empty cgroup2 at
 *   /sys/fs/cgroup/unified): one hierarchy per controller or group of
 *   co-mounted controllers (`cpu,cpuacct`), each under its own directory.
 * - v2: one unified tree, usually at /sys/fs/cgroup, whose controllers are
 *   enabled per level through cgroup.subtree_control.
 *
 * Parsing is pure (mountinfo and /proc/<pid>/cgroup text); `detectLayout`
 * reads the files. Tests build a layout over a temporary directory with
 * `layoutV1` / `layoutV2`.
 */
import { readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';

export interface Hierarchy {
  /** Mount directory, e.g. /sys/fs/cgroup/memory or /sys/fs/cgroup. */
  dir: string;
  /** v1 controllers of this hierarchy (`cpu`, `cpuacct`, ...; `name=systemd` for named ones); empty for cgroup2. */
  controllers: string[];
  /** The cgroup this mount exposes as its top (`/` unless mounted from inside a container without a cgroup namespace). */
  root: string;
}

export interface CgroupLayout {
  version: 1 | 2;
  /** v1 hierarchies (controllers and named), in mount order. Empty on v2. */
  v1: Hierarchy[];
  /** The cgroup2 mount: the whole tree on v2; on hybrid v1 hosts the (controller-less) unified mount runc also populates. */
  unified?: Hierarchy;
}

/** Controllers Skiff creates pod cgroups in on v1 (limits and statistics). */
export const V1_CONTROLLERS = ['cpu', 'cpuacct', 'memory', 'pids'] as const;

/** Decodes the octal escapes (`\040` for a space) of mountinfo fields. */
const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Super options of a v1 cgroup mount that are not controllers. */
const NOT_CONTROLLERS = new Set(['rw', 'ro', 'noprefix', 'clone_children', 'xattr', 'cpuset_v2_mode', 'nsdelegate', 'memory_recursiveprot', 'memory_localevents']);

/**
 * The cgroup mounts listed in /proc/<pid>/mountinfo text. A hierarchy
 * mounted twice (bind mounts) is kept once, first mount wins.
 */
export function parseMountInfo(text: string): { v1: Hierarchy[]; unified: Hierarchy[] } {
  const v1: Hierarchy[] = [];
  const unified: Hierarchy[] = [];
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    const [fstype, , superOpts = ''] = post;
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const root = unescape(pre[3] ?? '/');
    const dir = unescape(pre[4] ?? '');
    if (!dir) continue;
    if (fstype === 'cgroup2') {
      if (!unified.some((h) => h.dir === dir)) unified.push({ dir, controllers: [], root });
      continue;
    }
    const controllers = superOpts
      .split(',')
      .filter((o) => o && !NOT_CONTROLLERS.has(o) && !o.startsWith('release_agent='))
      .sort();
    const key = controllers.join(',');
    if (!key || seen.has(key)) continue;
    seen.add(key);
    v1.push({ dir, controllers, root });
  }
  return { v1, unified };
}

/**
 * The layout from parsed mounts: v2 when no v1 hierarchy carries cpu or
 * memory (a pure unified host), v1 otherwise (hybrid included).
 */
export function layoutFromMounts(m: { v1: Hierarchy[]; unified: Hierarchy[] }): CgroupLayout {
  const hasV1 = m.v1.some((h) => h.controllers.includes('cpu') || h.controllers.includes('memory'));
  // Prefer the shortest cgroup2 mount path: /sys/fs/cgroup over a nested bind mount.
  const unified = [...m.unified].sort((a, b) => a.dir.length - b.dir.length)[0];
  if (!hasV1) {
    if (!unified) throw new Error('no cgroup filesystem is mounted (neither cgroup v1 hierarchies nor cgroup2)');
    return { version: 2, v1: [], unified };
  }
  return { version: 1, v1: m.v1, unified };
}

/** Reads the calling process's mountinfo and returns the host's cgroup layout. */
export async function detectLayout(mountinfoPath = '/proc/self/mountinfo'): Promise<CgroupLayout> {
  return layoutFromMounts(parseMountInfo(await readFile(mountinfoPath, 'utf8')));
}

/** A v1 layout over `base`: one directory per controller (tests, or hosts with the usual mounts). */
export function layoutV1(base: string, controllers: readonly string[] = [...V1_CONTROLLERS, 'cpuset', 'name=systemd']): CgroupLayout {
  return {
    version: 1,
    v1: controllers.map((c) => ({ dir: join(base, c.replace(/^name=/, '')), controllers: [c], root: '/' })),
  };
}

/** A v2 layout rooted at `base`. */
export function layoutV2(base: string): CgroupLayout {
  return { version: 2, v1: [], unified: { dir: base, controllers: [], root: '/' } };
}

/** The v1 hierarchy carrying `controller`. */
export function hierarchyOf(layout: CgroupLayout, controller: string): Hierarchy | undefined {
  return layout.v1.find((h) => h.controllers.includes(controller));
}

/**
 * Every hierarchy a pod cgroup may exist in: on v1 all of them (runc creates
 * container cgroups, and so their parents, in every mounted hierarchy, the
 * named and the hybrid unified one included); on v2 the unified tree.
 */
export function allHierarchies(layout: CgroupLayout): Hierarchy[] {
  if (layout.version === 2) return layout.unified ? [layout.unified] : [];
  return layout.unified ? [...layout.v1, layout.unified] : [...layout.v1];
}

/** The directory of cgroup `path` (absolute in the hierarchy, e.g. /skiff/pod1) within a mount. */
export function dirIn(h: Hierarchy, path: string): string {
  // A mount exposing a sub-tree (container without cgroupns) holds paths relative to its root.
  const rel = h.root !== '/' && (path === h.root || path.startsWith(`${h.root}/`)) ? path.slice(h.root.length) : path;
  return join(h.dir, posix.normalize(`/${rel}`));
}

/** Parses /proc/<pid>/cgroup: controller -> path; the v2 entry (`0::/path`) is keyed ''. */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === '') out.set('', m[2]);
    for (const c of m[1].split(',')) if (c) out.set(c, m[2]);
  }
  return out;
}

/** The process's own cgroup path for a v1 controller, or for the v2 tree when `controller` is ''. */
export function ownPath(procCgroup: Map<string, string>, layout: CgroupLayout, controller: string): string | undefined {
  if (layout.version === 2) return procCgroup.get('');
  return procCgroup.get(controller);
}
