/**
 * The build the nodes run: a snapshot of the checkout's build, taken when a lab
 * is created and mounted read-only at /opt/skiff in every node (the prefix of
 * `skiff install`, which then uses it in place).
 *
 * Why a snapshot and not the image: the node image holds only Debian packages
 * and Node.js, so a code change never rebuilds it (minutes); `lab down` + `lab
 * up` after a rebuild takes the new build in seconds. Why not the live
 * checkout: a node must not see its code change under it while the host
 * rebuilds, and the snapshot holds no sources, so `skiff install`'s
 * scripts/setup.sh finds nothing to rebuild in a node (it could not: read-only).
 *
 * node_modules (~170 MB, changed only by `npm ci`, which replaces files rather
 * than rewriting them) is not copied: the checkout's is mounted read-only on
 * top of the snapshot's empty node_modules folder.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { must } from './exec.js';
import { removeTree } from './image.js';

export const LAB_STATE = '/var/lib/skiff/lab';
export const BUILD_DIR = join(LAB_STATE, 'build');

/** What `skiff install` copies as "the build", less node_modules (mounted). */
export const BUILD_ITEMS = ['bin', 'scripts', 'cni', 'systemd', 'dist', 'package.json', 'package-lock.json'];

/** Mounts for a node: the snapshot and the checkout's node_modules on top of it. Pure. */
export function buildMounts(checkout: string, dir = BUILD_DIR): { source: string; target: string }[] {
  return [
    { source: dir, target: '/opt/skiff' },
    { source: join(checkout, 'node_modules'), target: '/opt/skiff/node_modules' },
  ];
}

/**
 * Replaces the snapshot with the checkout's current build (`cp -a`: timestamps
 * kept, which setup.sh compares). Only while no node uses it: callers take it
 * when they create the first node of a lab.
 */
export async function snapshotBuild(checkout: string, dir = BUILD_DIR): Promise<void> {
  for (const need of ['dist/cli/main.js', 'node_modules/.package-lock.json', 'bin/skiff']) {
    if (!existsSync(join(checkout, need))) throw new Error(`${join(checkout, need)} is missing: build first (scripts/setup.sh)`);
  }
  await mkdir(LAB_STATE, { recursive: true });
  const stage = `${dir}.new-${process.pid}`;
  await removeTree(stage);
  await mkdir(join(stage, 'node_modules'), { recursive: true });
  await must('cp', ['-a', ...BUILD_ITEMS.filter((i) => existsSync(join(checkout, i))).map((i) => join(checkout, i)), stage]);
  await removeTree(dir);
  await rename(stage, dir);
}

/** Removes the lab's state folder (the snapshot); true when there was one. */
export async function removeLabState(): Promise<boolean> {
  if (!existsSync(LAB_STATE)) return false;
  await removeTree(LAB_STATE);
  return true;
}
