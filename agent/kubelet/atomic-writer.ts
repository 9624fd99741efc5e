/**
 * Atomic updates of a directory of projected files (ConfigMap, Secret, downward API),
 * laid out as the kubelet's AtomicWriter does so running containers see either the
 * old set of files or the new one, never a mix:
 *
 *   <dir>/..2025_01_01_00_00_00.Ab12Cd/   the data, one timestamped directory per version
 *   <dir>/..data -> ..2025_01_01_00_00_00.Ab12Cd
 *   <dir>/<key>  -> ..data/<key>          one symlink per top-level name
 *
 * An update writes a new timestamped directory, points `..data_tmp` at it and renames
 * that over `..data` (rename(2) is atomic), then removes names no longer present and
 * the old directory. A write with the same content and modes is a no-op, so callers
 * may write on every sync. Paths are validated as the kubelet does: relative, no `..`
 * element, not starting with `..` (reserved for the layout itself).
 */
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, stat, symlink, chmod, chown, unlink, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';

export interface FileProjection {
  data: Buffer;
  /** Permission bits, e.g. 0o644. */
  mode: number;
}

export type Payload = Map<string, FileProjection>;

const DATA_DIR = '..data';
const DATA_DIR_TMP = '..data_tmp';
const MAX_PATH = 4096;
const MAX_NAME = 255;

/** Why a payload path is unacceptable, or undefined when it is fine (validatePath). */
export function invalidPath(p: string): string | undefined {
  if (p === '') return `invalid path: must not be empty: "${p}"`;
  if (p.startsWith('/')) return `invalid path: must be relative path: ${p}`;
  if (p.length > MAX_PATH) return `invalid path: must be less than or equal to ${MAX_PATH} characters`;
  const items = p.split('/');
  for (const item of items) {
    if (item === '..') return `invalid path: must not contain '..': ${p}`;
    if (item.length > MAX_NAME) return `invalid path: filenames must be less than or equal to ${MAX_NAME} characters`;
  }
  if (items[0].startsWith('..') && items[0].length > 2) return `invalid path: must not start with '..': ${p}`;
  return undefined;
}

/** Validates and cleans every path (`a//b/./c` -> `a/b/c`); throws on the first bad one. */
export function validatePayload(payload: Payload): Payload {
  const out: Payload = new Map();
  for (const [p, f] of payload) {
    const why = invalidPath(p);
    if (why) throw new Error(why);
    out.set(posix.normalize(p), f);
  }
  return out;
}

/** The first path element of each payload path: the names visible at the top of the volume. */
export function topLevelNames(paths: Iterable<string>): Set<string> {
  return new Set([...paths].map((p) => p.split('/')[0]));
}

const isErrno = (e: unknown, code: string): boolean => (e as NodeJS.ErrnoException)?.code === code;

/** Every regular file under `dir`, keyed by relative path. */
async function readTree(dir: string, rel = ''): Promise<Map<string, { data: Buffer; mode: number }>> {
  const out = new Map<string, { data: Buffer; mode: number }>();
  for (const ent of await readdir(join(dir, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${ent.name}` : ent.name;
    if (ent.isDirectory()) for (const [k, v] of await readTree(dir, p)) out.set(k, v);
    else if (ent.isFile()) {
      const full = join(dir, p);
      out.set(p, { data: await readFile(full), mode: (await stat(full)).mode & 0o7777 });
    }
  }
  return out;
}

function samePayload(old: Map<string, { data: Buffer; mode: number }>, payload: Payload): boolean {
  if (old.size !== payload.size) return false;
  for (const [p, f] of payload) {
    const o = old.get(p);
    if (!o || o.mode !== (f.mode & 0o7777) || !o.data.equals(f.data)) return false;
  }
  return true;
}

function timestampPrefix(now: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `..${now.getUTCFullYear()}_${pad(now.getUTCMonth() + 1)}_${pad(now.getUTCDate())}_${pad(now.getUTCHours())}_${pad(now.getUTCMinutes())}_${pad(now.getUTCSeconds())}.`;
}

export interface WriteOptions {
  /** Group owning the files (pod securityContext.fsGroup): chgrp and add group read. */
  gid?: number;
  now?: Date;
}

/**
 * Makes `dir` hold exactly `payload`. Resolves true when it changed anything, false
 * when the content was already there. `dir` is created when missing.
 */
export async function writeAtomic(dir: string, payload: Payload, opts: WriteOptions = {}): Promise<boolean> {
  const files = validatePayload(payload);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  let oldTs: string | undefined;
  try {
    oldTs = await readlink(join(dir, DATA_DIR));
  } catch (e) {
    if (!isErrno(e, 'ENOENT')) throw e;
  }
  const wanted = topLevelNames(files.keys());
  if (oldTs && samePayload(await readTree(join(dir, oldTs)), adjustModes(files, opts))) {
    // Same content: only repair missing user-visible links (e.g. after a crash mid-write).
    await linkVisible(dir, wanted);
    return false;
  }
  const ts = await mkdtemp(join(dir, timestampPrefix(opts.now ?? new Date())));
  const tsName = posix.basename(ts);
  try {
    await chmod(ts, 0o755);
    for (const [p, f] of adjustModes(files, opts)) {
      const full = join(ts, p);
      await mkdir(posix.dirname(full), { recursive: true, mode: 0o755 });
      await writeFile(full, f.data, { mode: f.mode });
      // writeFile's mode is filtered by the umask; the projection's mode is exact.
      await chmod(full, f.mode);
      if (opts.gid !== undefined) await chown(full, 0, opts.gid);
    }
    await linkVisible(dir, wanted);
    const tmp = join(dir, DATA_DIR_TMP);
    await rm(tmp, { force: true });
    await symlink(tsName, tmp);
    await rename(tmp, join(dir, DATA_DIR));
  } catch (e) {
    await rm(ts, { recursive: true, force: true });
    throw e;
  }
  // After the swap: names that went away, then the previous version.
  if (oldTs) {
    const old = topLevelNames((await readTree(join(dir, oldTs))).keys());
    for (const name of old) if (!wanted.has(name)) await unlink(join(dir, name)).catch((e) => (isErrno(e, 'ENOENT') ? undefined : Promise.reject(e)));
    await rm(join(dir, oldTs), { recursive: true, force: true });
  }
  return true;
}

function adjustModes(files: Payload, opts: WriteOptions): Payload {
  if (opts.gid === undefined) return files;
  // With an fsGroup the group must be able to read, as SetVolumeOwnership does.
  return new Map([...files].map(([p, f]) => [p, { data: f.data, mode: f.mode | 0o440 }]));
}

/** Creates `<dir>/<name> -> ..data/<name>` for each name that has no entry yet. */
async function linkVisible(dir: string, names: Set<string>): Promise<void> {
  for (const name of names) {
    const link = join(dir, name);
    try {
      await lstat(link);
      continue;
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
    }
    await symlink(posix.join(DATA_DIR, name), link);
  }
}
