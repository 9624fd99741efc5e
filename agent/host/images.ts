/**
 * The node's local images, built from the host's Debian busybox-static binary
 * (no registry is needed, or reachable):
 *
 * - BUSYBOX_IMAGE `skiff.local/busybox:1.35` (also tagged `busybox:1.35` so pod
 *   specs can say `image: busybox:1.35`): every applet in /bin, /sbin and
 *   /usr/{bin,sbin} symlinks to /bin, /etc/passwd and /etc/group (root, nobody),
 *   /tmp 1777, PATH, CMD ["sh"]. The applets are hard links to /bin/busybox, as in
 *   the official busybox image: dockerd 20.10 imports 270 symlinks in ~0.35 s but
 *   270 hard links in ~0.17 s (measured on the 2-core VM), and to a program both
 *   look the same (argv[0] names the applet);
 * - SANDBOX_IMAGE `skiff.local/pause:1.0`, the pod sandbox: the busybox binary only,
 *   an entrypoint that sleeps without busy-looping and exits 0 on TERM/INT, so
 *   stopping a sandbox is immediate.
 *
 * Each is a `docker import` of a tar made with the `tar` CLI, with its config given
 * as import changes, and labelled with a hash of its whole recipe and of the busybox
 * binary: `ensureLocalImages` rebuilds an image only when that label differs, so the
 * usual run is two inspects. Safe to call concurrently from several processes (an
 * import is atomic; the last tag wins and both are identical).
 */
import { spawn, execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, copyFile, link, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type Dockerode from 'dockerode';
import type { Logger } from '../../common/log.js';

export const BUSYBOX_IMAGE = 'skiff.local/busybox:1.35';
/** The short name users write; tagged only when free or already ours. */
export const BUSYBOX_ALIAS = 'busybox:1.35';
export const SANDBOX_IMAGE = 'skiff.local/pause:1.0';
export const CONTENT_LABEL = 'skiff.io/content-hash';
/** The host binary both images are made of (Debian's busybox-static). */
export const BUSYBOX_BINARY = '/bin/busybox';

/** Bump when the recipe changes in a way its text below does not show. */
const RECIPE_VERSION = '2';

export const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n';
export const GROUP = 'root:x:0:\nnobody:x:65534:\n';
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** The sandbox's process: `sleep & wait` keeps the shell interruptible, so TERM ends it at once. */
export const SANDBOX_SCRIPT = "trap 'exit 0' TERM INT; while :; do /bin/busybox sleep 86400 & wait $!; done";

export interface ImageRecipe {
  /** repo:tag */
  name: string;
  /** Dockerfile instructions applied by the import (CMD, ENV, ENTRYPOINT, LABEL). */
  changes: string[];
  /** Whether the rootfs holds the applet symlinks and /etc files, or the binary alone. */
  full: boolean;
}

/** The two recipes, labelled with `hash` (from `contentHash`). Pure. */
export function recipes(hash: string, names: { busybox?: string; sandbox?: string } = {}): ImageRecipe[] {
  const label = `LABEL ${CONTENT_LABEL}=${hash}`;
  return [
    { name: names.busybox ?? BUSYBOX_IMAGE, full: true, changes: [`ENV ${PATH_ENV}`, 'CMD ["sh"]', label] },
    {
      name: names.sandbox ?? SANDBOX_IMAGE,
      full: false,
      changes: [`ENV ${PATH_ENV}`, `ENTRYPOINT ${JSON.stringify(['/bin/busybox', 'sh', '-c', SANDBOX_SCRIPT])}`, 'CMD []', label],
    },
  ];
}

/** Hash of the busybox binary and of everything in the recipes (except the label itself). Pure. */
export function contentHash(binary: Buffer): string {
  const h = createHash('sha256');
  h.update(`v${RECIPE_VERSION}\0${PASSWD}\0${GROUP}\0`);
  for (const r of recipes('')) h.update(`${r.full}\0${r.changes.join('\0')}\0`);
  h.update(binary);
  return h.digest('hex').slice(0, 32);
}

/**
 * True for an ELF executable without a program interpreter (PT_INTERP), i.e. one
 * that runs in an image holding no libc: Debian's busybox-static, not busybox. Pure.
 */
export function isStaticElf(b: Buffer): boolean {
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46) return false;
  const is64 = b[4] === 2;
  const le = b[5] === 1;
  const u16 = (o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const phoff = is64 ? Number(le ? b.readBigUInt64LE(0x20) : b.readBigUInt64BE(0x20)) : u32(0x1c);
  const phentsize = u16(is64 ? 0x36 : 0x2a);
  const phnum = u16(is64 ? 0x38 : 0x2c);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 4 > b.length) return false;
    if (u32(at) === 3) return false; // PT_INTERP
  }
  return true;
}

/** Applet names from `busybox --list` (one a line), without `busybox` itself or anything path-like. Pure. */
export function parseApplets(list: string): string[] {
  return [...new Set(list.split('\n').map((s) => s.trim()))].filter((s) => s && s !== 'busybox' && !s.includes('/') && s !== '.' && s !== '..');
}

/** Writes the rootfs of `recipe` under `dir`. */
async function writeRootfs(dir: string, full: boolean, applets: string[]): Promise<void> {
  await mkdir(join(dir, 'bin'));
  await copyFile(BUSYBOX_BINARY, join(dir, 'bin/busybox'));
  await chmod(join(dir, 'bin/busybox'), 0o755);
  if (!full) return;
  await Promise.all(applets.map((a) => link(join(dir, 'bin/busybox'), join(dir, 'bin', a))));
  await mkdir(join(dir, 'usr'));
  await Promise.all([
    symlink('bin', join(dir, 'sbin')),
    symlink('../bin', join(dir, 'usr/bin')),
    symlink('../bin', join(dir, 'usr/sbin')),
    mkdir(join(dir, 'etc')),
    mkdir(join(dir, 'root'), { mode: 0o700 }),
    mkdir(join(dir, 'home')),
    mkdir(join(dir, 'var')),
    mkdir(join(dir, 'tmp')),
  ]);
  // mkdir's mode passes through the umask; the sticky bit needs chmod anyway.
  await chmod(join(dir, 'tmp'), 0o1777);
  await chmod(join(dir, 'root'), 0o700);
  await writeFile(join(dir, 'etc/passwd'), PASSWD, { mode: 0o644 });
  await writeFile(join(dir, 'etc/group'), GROUP, { mode: 0o644 });
}

/** The Labels of an image, or undefined when it does not exist. */
async function inspectImage(docker: Dockerode, name: string): Promise<{ id: string; labels: Record<string, string> } | undefined> {
  try {
    const info = await docker.getImage(name).inspect();
    return { id: info.Id, labels: info.Config?.Labels ?? {} };
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw err;
  }
}

/** Imports `dir` as `recipe.name` via `tar -c | POST /images/create?fromSrc=-`; resolves with the new image id. */
async function importDir(docker: Dockerode, dir: string, recipe: ImageRecipe): Promise<string> {
  const colon = recipe.name.lastIndexOf(':');
  const repo = recipe.name.slice(0, colon);
  const tag = recipe.name.slice(colon + 1);
  const tar = spawn('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', dir, '-cf', '-', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let tarErr = '';
  tar.stderr.on('data', (b: Buffer) => (tarErr += b.toString()));
  const tarDone = new Promise<void>((resolve, reject) => {
    tar.on('error', reject);
    tar.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`tar failed (exit ${code}): ${tarErr.trim()}`))));
  });
  // Awaited below; until then a failure must not surface as an unhandled rejection.
  tarDone.catch(() => undefined);
  let body: string;
  try {
    const stream = await docker.importImage(tar.stdout, { repo, tag, changes: recipe.changes, message: 'skiff local image' });
    // The answer is a stream of JSON messages; the last names the image, or one is an error.
    body = await new Promise<string>((resolve, reject) => {
      let text = '';
      stream.on('data', (b: Buffer) => (text += b.toString()));
      stream.on('end', () => resolve(text));
      stream.on('error', reject);
    });
  } catch (err) {
    tar.kill();
    throw new Error(`docker import of ${recipe.name} failed: ${(err as Error).message}`);
  }
  await tarDone;
  let id = '';
  for (const line of body.split(/\r?\n/)) {
    if (!line.trim()) continue;
    const msg = JSON.parse(line) as { error?: string; status?: string };
    if (msg.error) throw new Error(`docker import of ${recipe.name} failed: ${msg.error}`);
    if (msg.status?.startsWith('sha256:')) id = msg.status.trim();
  }
  if (!id) throw new Error(`docker import of ${recipe.name} gave no image id: ${body.slice(0, 200)}`);
  return id;
}

export interface EnsureImagesOptions {
  /** Other names (tests build throwaway copies); no alias is tagged then. */
  names?: { busybox: string; sandbox: string };
}

/** What `ensureLocalImages` did: names built (empty when all were current) and its duration. */
export interface EnsureImagesResult {
  built: string[];
  ms: number;
}

/**
 * Builds the local images that are missing or stale (see the module doc). Rejects
 * with a clear message when the busybox binary is missing (install busybox-static).
 */
export async function ensureLocalImages(docker: Dockerode, log: Logger, opts: EnsureImagesOptions = {}): Promise<EnsureImagesResult> {
  const t0 = performance.now();
  const binary = await readFile(BUSYBOX_BINARY).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`local images: cannot read ${BUSYBOX_BINARY} (${err.code}): install it with apt-get install -y busybox-static`);
  });
  if (!isStaticElf(binary)) throw new Error(`local images: ${BUSYBOX_BINARY} is not statically linked and cannot run in an image without libc: apt-get install -y busybox-static`);
  const hash = contentHash(binary);
  const all = recipes(hash, opts.names);
  const current = await Promise.all(all.map((r) => inspectImage(docker, r.name)));
  const stale = all.filter((_, i) => current[i]?.labels[CONTENT_LABEL] !== hash);
  const built: string[] = [];
  const superseded: string[] = [];
  if (stale.length) {
    const { stdout } = await promisify(execFile)(BUSYBOX_BINARY, ['--list']);
    const applets = parseApplets(stdout);
    const dir = await mkdtemp(join(tmpdir(), 'skiff-images-'));
    try {
      await Promise.all(
        stale.map(async (r, i) => {
          const root = join(dir, String(i));
          await mkdir(root);
          await writeRootfs(root, r.full, applets);
          const id = await importDir(docker, root, r);
          built.push(r.name);
          const old = current[all.indexOf(r)];
          if (old && old.id !== id) superseded.push(old.id);
        }),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  if (!opts.names) await ensureAlias(docker, hash, log);
  // After the alias moved: an old image still used by a container stays.
  for (const id of superseded) await removeQuietly(docker, id, log);
  const ms = Math.round(performance.now() - t0);
  if (built.length) log.info({ built, ms, hash }, 'built local images');
  return { built, ms };
}

/** Tags BUSYBOX_ALIAS unless it names an image that is not ours (a real busybox pulled by the user). */
async function ensureAlias(docker: Dockerode, hash: string, log: Logger): Promise<void> {
  const alias = await inspectImage(docker, BUSYBOX_ALIAS);
  const ours = await inspectImage(docker, BUSYBOX_IMAGE);
  if (!ours || alias?.id === ours.id) return;
  if (alias && !alias.labels[CONTENT_LABEL]) {
    log.debug({ alias: BUSYBOX_ALIAS }, 'busybox:1.35 exists and is not ours: left as it is');
    return;
  }
  const colon = BUSYBOX_ALIAS.lastIndexOf(':');
  await docker.getImage(BUSYBOX_IMAGE).tag({ repo: BUSYBOX_ALIAS.slice(0, colon), tag: BUSYBOX_ALIAS.slice(colon + 1) });
  log.debug({ alias: BUSYBOX_ALIAS, hash }, 'tagged');
}

/** Removes a superseded image; one still used by a container (or tagged elsewhere) stays. */
async function removeQuietly(docker: Dockerode, id: string, log: Logger): Promise<void> {
  try {
    await docker.getImage(id).remove({ noprune: false });
  } catch (err) {
    log.debug({ id, err: (err as Error).message }, 'superseded image kept');
  }
}
