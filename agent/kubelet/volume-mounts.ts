/**
 * A container's mounts from its `volumeMounts` (the kubelet's makeMounts): the host
 * directory of each volume, narrowed by `subPath` / `subPathExpr`, read-only when asked
 * and always for API-data volumes (ConfigMap, Secret, downwardAPI, projected), as
 * Kubernetes mounts them.
 *
 * A subPath must stay inside its volume: absolute paths and `..` elements are refused,
 * a missing subPath directory is created, and the resolved path (symlinks followed) must
 * still be inside the volume, else the container fails with CreateContainerConfigError.
 * The resolved path is what is mounted, so a symlink swapped in later is not followed.
 */
import { mkdir, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { Mount } from '../runtime/types.js';
import { ContainerConfigError, expand, type EnvVar } from './env.js';
import type { Obj } from './fieldpath.js';
import { isApiDataVolume } from './volume-sources.js';

/** `subPathExpr` expanded with the container's env; every referenced variable must be set and non-empty. */
export function expandSubPathExpr(expr: string, env: EnvVar[]): string {
  const m = new Map(env.map((e) => [e.name, e.value]));
  const missing = new Set<string>();
  const out = expand(expr, (name) => {
    const v = m.get(name);
    if (!v) missing.add(name);
    return v ?? '';
  });
  if (missing.size) throw new ContainerConfigError(`missing value for ${[...missing].sort().join(', ')}`);
  return out;
}

/** Why a subPath is refused, or undefined when its shape is fine. */
export function invalidSubPath(sub: string): string | undefined {
  if (sub.startsWith('/')) return `error SubPath \`${sub}\` must not be an absolute path`;
  if (sub.split('/').includes('..')) return `unable to provision SubPath \`${sub}\`: must not contain '..'`;
  return undefined;
}

const inside = (root: string, p: string): boolean => p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);

/** The deepest existing ancestor of `p` (or `p` itself), resolved. */
async function realpathOfExisting(p: string): Promise<string> {
  let cur = p;
  for (;;) {
    try {
      return await realpath(cur);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      const parent = cur.slice(0, cur.lastIndexOf('/')) || '/';
      if (parent === cur) throw e;
      cur = parent;
    }
  }
}

/** Creates (when missing) and resolves `<volume>/<sub>`, refusing anything that leaves the volume. */
async function prepareSubPath(volumePath: string, sub: string, mountName: string, containerName: string): Promise<string> {
  const root = await realpath(volumePath);
  const target = join(volumePath, sub);
  const prepareErr = new ContainerConfigError(`failed to prepare subPath for volumeMount "${mountName}" of container "${containerName}"`);
  // Refuse before creating anything: an existing symlink on the way could point out.
  if (!inside(root, await realpathOfExisting(target))) throw prepareErr;
  try {
    await stat(target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    // The new directory takes the volume's mode so fsGroup and non-root users keep access.
    const mode = (await stat(volumePath)).mode & 0o7777;
    try {
      await mkdir(target, { recursive: true, mode });
    } catch {
      throw new ContainerConfigError(`failed to create subPath directory for volumeMount "${mountName}" of container "${containerName}"`);
    }
  }
  const resolved = await realpath(target);
  if (!inside(root, resolved)) throw prepareErr;
  return resolved;
}

/**
 * Mounts for `container` given the host paths of the pod's volumes (from
 * VolumeManager.ensureVolumes). `env` is the container's resolved env, for subPathExpr.
 */
export async function mountsFor(pod: Obj, container: Obj, volumes: Map<string, string>, env: EnvVar[] = []): Promise<Mount[]> {
  const specs = new Map<string, Obj>(((pod.spec?.volumes ?? []) as Obj[]).map((v) => [v.name, v]));
  const out: Mount[] = [];
  for (const vm of (container.volumeMounts ?? []) as Obj[]) {
    const host = volumes.get(vm.name);
    if (host === undefined) throw new ContainerConfigError(`cannot find volume "${vm.name}" to mount into container "${container.name}"`);
    let sub: string = vm.subPath ?? '';
    if (vm.subPathExpr) sub = expandSubPathExpr(vm.subPathExpr, env);
    let hostPath = host;
    if (sub) {
      const why = invalidSubPath(sub);
      if (why) throw new ContainerConfigError(why);
      hostPath = await prepareSubPath(host, sub, vm.name, container.name);
    }
    const spec = specs.get(vm.name);
    const readOnly = vm.readOnly === true || (spec !== undefined && isApiDataVolume(spec));
    out.push({ hostPath, containerPath: vm.mountPath, readOnly });
  }
  return out;
}
