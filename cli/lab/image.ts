/**
 * The node image `skiff.local/lab-node:<hash>`, built once and cached:
 *
 *   debootstrap --make-tarball   the packages, downloaded once from this host's
 *                                mirror into /var/cache/skiff/lab/<suite>-<hash>.tgz
 *   debootstrap --unpack-tarball a root filesystem from that tarball (no network)
 *   applyRootfs                  entrypoint, registry and docker settings, masked
 *                                units, the host's Node.js (rootfs.ts)
 *   tar | docker import          the image, labelled with its content hash
 *
 * `ensureNodeImage` does nothing but one inspect when the image of the current
 * hash exists; the tarball survives image removal (`lab down --purge` removes
 * both). The project's build is not in the image: it is bind-mounted (README.md).
 * One build at a time per host (the work folder is per process, the tarball is
 * renamed into place, the import is atomic).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CACHE_DIR, LAB_LABEL, NODE_IMAGE_REPO } from './plan.js';
import { IMAGE_CHANGES, NODE_BINARY, SUITE, VARIANT, applyRootfs, nodePackages, recipeHash, tarballHash } from './rootfs.js';
import { LabError, docker, must, run, tail } from './exec.js';
import { Progress } from './progress.js';
import { hostMirror } from './sources.js';

export const CONTENT_LABEL = 'skiff.io/content-hash';
const UNSAFE_IO = 'etc/dpkg/dpkg.cfg.d/skiff-lab-unsafe-io';

export interface NodeImage {
  name: string;
  hash: string;
  /** True when this call built it. */
  built: boolean;
  ms: number;
}

export interface ImageOptions {
  /** Packages the provisioning command needs, on top of the base list. */
  extraPackages?: readonly string[];
  progress?: Progress;
  cacheDir?: string;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The image name and hash for the current inputs (reads the Node.js binary: ~0.2 s). */
export async function nodeImageName(extraPackages: readonly string[] = []): Promise<{ name: string; hash: string; packages: string[] }> {
  const packages = nodePackages(extraPackages);
  const hash = recipeHash(packages, await sha256File(process.execPath));
  return { name: `${NODE_IMAGE_REPO}:${hash}`, hash, packages };
}

/** The content label of an image, or undefined when there is no such image. */
export async function imageHash(name: string): Promise<string | undefined> {
  const r = await run('docker', ['image', 'inspect', '--format', `{{index .Config.Labels "${CONTENT_LABEL}"}}`, name]);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/** Builds the node image unless the current one exists (see the module doc). */
export async function ensureNodeImage(o: ImageOptions = {}): Promise<NodeImage> {
  const t0 = Date.now();
  const { name, hash, packages } = await nodeImageName(o.extraPackages);
  if ((await imageHash(name)) === hash) return { name, hash, built: false, ms: Date.now() - t0 };
  const progress = o.progress ?? new Progress('lab: image: ');
  const cache = o.cacheDir ?? CACHE_DIR;
  await mkdir(cache, { recursive: true });
  progress.say(`building ${name} (once; later runs reuse it)`);
  await ensureDebootstrap(progress);
  const mirror = await hostMirror(SUITE);
  const tarball = join(cache, `${SUITE}-${tarballHash(packages)}.tgz`);
  const common = [`--variant=${VARIANT}`, `--include=${packages.join(',')}`, `--keyring=${mirror.keyring}`];
  if (!existsSync(tarball)) {
    progress.say(`downloading ${packages.length} packages and their dependencies from ${mirror.uri} into ${tarball}`);
    const work = join(cache, `download-${process.pid}`);
    await removeTree(work);
    const partial = `${tarball}.${process.pid}.partial`;
    try {
      await must('debootstrap', [...common, `--make-tarball=${partial}`, SUITE, work, mirror.uri], { onOutput: progress.feed(), timeoutMs: 30 * 60_000 });
      await rename(partial, tarball);
    } finally {
      progress.endLine();
      await rm(partial, { force: true });
      await removeTree(work);
    }
  }
  // Folders of earlier builds that failed (kept for a look) go now.
  for (const old of (await readdir(cache)).filter((n) => n.startsWith('rootfs-'))) await removeTree(join(cache, old));
  const root = join(cache, `rootfs-${hash}-${process.pid}`);
  let keep = false;
  try {
    progress.say('installing the packages into a root filesystem (debootstrap --unpack-tarball)');
    // dpkg without an fsync per file (dpkg's own switch for throwaway roots): the
    // install runs about twice as fast, and a crash only costs a rebuild.
    await mkdir(join(root, 'etc/dpkg/dpkg.cfg.d'), { recursive: true });
    await writeFile(join(root, UNSAFE_IO), 'force-unsafe-io\n');
    try {
      await must('debootstrap', [...common, `--unpack-tarball=${tarball}`, SUITE, root, mirror.uri], { onOutput: progress.feed(), timeoutMs: 30 * 60_000 });
    } catch (err) {
      keep = true;
      throw new LabError(`${(err as Error).message}\n  the root filesystem is kept for a look until the next build: chroot ${root} dpkg --configure -a`);
    }
    progress.endLine();
    await rm(join(root, UNSAFE_IO));
    await applyRootfs(root, process.execPath);
    // The host's Node.js must find every library it links in the image.
    const ldd = await run('chroot', [root, 'ldd', NODE_BINARY]);
    if (ldd.code !== 0 || /not found/.test(ldd.stdout)) throw new LabError(`the host's Node.js cannot run in the node image: ${tail(ldd.stdout + ldd.stderr, 5)}`);
    progress.say('importing into Docker');
    await importRoot(root, name, hash, progress);
  } finally {
    progress.endLine();
    if (!keep) await removeTree(root);
  }
  await removeOldImages(name);
  // Tarballs of other package lists are not needed any more.
  for (const old of (await readdir(cache)).filter((n) => n.endsWith('.tgz') && join(cache, n) !== tarball)) await rm(join(cache, old), { force: true });
  progress.say(`built ${name} in ${progress.elapsed()} s`);
  return { name, hash, built: true, ms: Date.now() - t0 };
}

/** Installs debootstrap through apt when missing (as scripts/setup.sh does for the node's packages). */
async function ensureDebootstrap(progress: Progress): Promise<void> {
  if ((await run('sh', ['-c', 'command -v debootstrap'])).code === 0) return;
  progress.say('installing debootstrap (apt-get)');
  await must('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap'], { timeoutMs: 10 * 60_000 });
}

/** `tar -C root -c . | docker import`, reporting megabytes as they go. */
function importRoot(root: string, name: string, hash: string, progress: Progress): Promise<void> {
  const changes = [...IMAGE_CHANGES, `LABEL ${CONTENT_LABEL}=${hash} ${LAB_LABEL}=1`].flatMap((c) => ['--change', c]);
  return new Promise((resolve, reject) => {
    const tar = spawn('tar', ['--numeric-owner', '--xattrs', '-C', root, '-cf', '-', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const imp = spawn('docker', ['import', ...changes, '--message', 'skiff lab node', '-', name], { stdio: ['pipe', 'pipe', 'pipe'] });
    let bytes = 0;
    let shown = 0;
    tar.stdout.on('data', (b: Buffer) => {
      bytes += b.length;
      if (bytes - shown >= 100 * 1024 * 1024) {
        shown = bytes;
        progress.say(`imported ${Math.round(bytes / 1048576)} MB`);
      }
    });
    tar.stdout.pipe(imp.stdin);
    imp.stdin.on('error', () => {});
    let err = '';
    tar.stderr.on('data', (d: Buffer) => (err += d.toString()));
    imp.stderr.on('data', (d: Buffer) => (err += d.toString()));
    imp.stdout.resume();
    let left = 2;
    let failed = '';
    const close = (what: string) => (code: number | null) => {
      if (code !== 0) failed ||= `${what} exited ${code}`;
      if (--left) return;
      if (failed) reject(new LabError(`docker import of ${name} failed (${failed}): ${tail(err)}`));
      else resolve();
    };
    tar.on('close', close('tar'));
    imp.on('close', close('docker import'));
    tar.on('error', reject);
    imp.on('error', reject);
  });
}

/** Removes other tags of the node image repository that no container uses (older recipes). */
async function removeOldImages(keep: string): Promise<void> {
  const out = await docker(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', NODE_IMAGE_REPO]);
  for (const img of out.split('\n').map((s) => s.trim()).filter((s) => s && s !== keep)) {
    await run('docker', ['image', 'rm', img]); // in use by a container: kept, and that is fine
  }
}

/** Every lab-node image and the cached tarballs (`lab down --purge`). */
export async function purgeImages(cacheDir = CACHE_DIR): Promise<string[]> {
  const removed: string[] = [];
  const out = await docker(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', NODE_IMAGE_REPO]);
  for (const img of out.split('\n').map((s) => s.trim()).filter(Boolean)) {
    const r = await run('docker', ['image', 'rm', img]);
    if (r.code === 0) removed.push(img);
  }
  if (existsSync(cacheDir)) {
    await removeTree(cacheDir);
    removed.push(cacheDir);
  }
  return removed;
}

/**
 * `rm -rf` of a build folder, safely: debootstrap mounts /proc and /sys inside its
 * target, and an interrupted run can leave them mounted; those are unmounted first
 * (deepest first), and `--one-file-system` keeps rm from ever crossing into one.
 */
export async function removeTree(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const mounts = info
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await run('umount', ['-l', m]);
  await must('rm', ['-rf', '--one-file-system', dir]);
}
