/**
 * The pod's volumes on this host, laid out as the kubelet lays them out:
 *
 *   <root>/<uid>/volumes/kubernetes.io~empty-dir/<name>     emptyDir (tmpfs when medium Memory)
 *   <root>/<uid>/volumes/kubernetes.io~configmap/<name>     ConfigMap files (AtomicWriter)
 *   <root>/<uid>/volumes/kubernetes.io~secret/<name>        Secret files, on tmpfs
 *   <root>/<uid>/volumes/kubernetes.io~downward-api/<name>  downward API files
 *   <root>/<uid>/volumes/kubernetes.io~projected/<name>     projected sources, on tmpfs
 *   <root>/<uid>/etc-hosts                                  the pod's /etc/hosts
 *   <root>/<uid>/containers/<name>/<attempt>/termination-log
 *
 * hostPath volumes are the host path itself, after the `type` checks.
 *
 * Contract: `ensureVolumes` is idempotent (the worker calls it on every sync) and
 * returns the host path of every volume, or rejects with a VolumeError (reason
 * FailedMount, the kubelet's message) naming the volumes that failed. `refresh` rewrites
 * API-data volumes whose content changed, atomically, so running containers see the
 * update. `cleanupVolumes` unmounts what we mounted and removes the pod directory; a pod
 * directory that still has a mount after unmounting is left in place (never removed
 * through a mount). Secrets and projected volumes live on tmpfs so their data never
 * reaches the disk, as in Kubernetes.
 */
import { chmod, chown, mkdir, open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { logger } from '../../common/log.js';
import { parseQuantity, value as quantityValue } from '../../common/quantity.js';
import type { Mount } from '../runtime/types.js';
import { writeAtomic, type Payload } from './atomic-writer.js';
import type { EnvVar } from './env.js';
import type { Allocatable, Obj } from './fieldpath.js';
import { checkHostPath } from './hostpath.js';
import { hostNetworkHostsContent, managedHostsContent, type HostAlias } from './hosts.js';
import { SystemMounter, type Mounter } from './mount.js';
import { mountsFor } from './volume-mounts.js';
import { DEFAULT_MODE, PLUGIN_DIRS, downwardPayload, keysPayload, projectedPayload, referencedObjects, volumeKind, type FetchedSources } from './volume-sources.js';

export { mountsFor, expandSubPathExpr } from './volume-mounts.js';
export type { HostAlias } from './hosts.js';

export const DEFAULT_PODS_ROOT = '/var/lib/skiff/agent/pods';
/** The kubelet reads at most this much of a termination message. */
export const MAX_TERMINATION_MESSAGE = 4096;

export interface VolumeContext {
  /** The object, or undefined when it does not exist (other errors are thrown). */
  getConfigMap(namespace: string, name: string): Promise<Obj | undefined>;
  getSecret(namespace: string, name: string): Promise<Obj | undefined>;
  /** A token for a projected serviceAccountToken source; undefined skips that source (logged). */
  getServiceAccountToken?(pod: Obj, source: { audience?: string; expirationSeconds?: number; path: string }): Promise<string | undefined>;
  /** Node allocatable, for resourceFieldRef items of containers without limits. */
  allocatable?: Allocatable;
}

/** A volume that could not be set up; `reason` is the event reason. */
export class VolumeError extends Error {
  readonly reason = 'FailedMount';
  readonly code = 'FailedMount';
  constructor(
    message: string,
    readonly volumes: string[],
  ) {
    super(message);
    this.name = 'VolumeError';
  }
}

const log = logger('volumes');

/** A path element we create from an API value: no separators, not `.` or `..`. */
function safeName(what: string, s: unknown): string {
  const v = String(s ?? '');
  if (!v || v.includes('/') || v === '.' || v === '..' || v.includes('\0')) throw new Error(`invalid ${what} "${v}" for a host path`);
  return v;
}

export class VolumeManager {
  private readonly mounter: Mounter;
  /** The context of each pod's last ensureVolumes, for refresh. */
  private readonly contexts = new Map<string, VolumeContext>();
  /** `uid/volume` whose skipped projected sources were logged once (refresh runs often). */
  private readonly skipLogged = new Set<string>();

  constructor(
    readonly root: string = DEFAULT_PODS_ROOT,
    opts: { mounter?: Mounter } = {},
  ) {
    this.mounter = opts.mounter ?? new SystemMounter();
  }

  podDir(uid: string): string {
    return join(this.root, safeName('pod uid', uid));
  }

  volumeDir(uid: string, kind: string, name: string): string {
    return join(this.podDir(uid), 'volumes', PLUGIN_DIRS[kind] ?? `skiff~${kind}`, safeName('volume name', name));
  }

  /** Sets up every volume of `pod`; returns volume name -> host path. */
  async ensureVolumes(pod: Obj, ctx: VolumeContext): Promise<Map<string, string>> {
    const uid = pod.metadata?.uid;
    this.contexts.set(safeName('pod uid', uid), ctx);
    await mkdir(this.podDir(uid), { recursive: true, mode: 0o750 });
    const out = new Map<string, string>();
    const failed: { name: string; message: string }[] = [];
    for (const v of (pod.spec?.volumes ?? []) as Obj[]) {
      try {
        out.set(v.name, await this.setUp(pod, v, ctx));
      } catch (e) {
        failed.push({ name: v.name, message: `MountVolume.SetUp failed for volume "${v.name}" : ${(e as Error).message}` });
      }
    }
    if (failed.length) {
      for (const f of failed) log.warn({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, volume: f.name }, f.message);
      throw new VolumeError(failed.map((f) => f.message).join('; '), failed.map((f) => f.name));
    }
    return out;
  }

  /** Mounts of `container` over volumes from ensureVolumes (see volume-mounts.ts). */
  mountsFor(pod: Obj, container: Obj, volumes: Map<string, string>, env: EnvVar[] = []): Promise<Mount[]> {
    return mountsFor(pod, container, volumes, env);
  }

  /**
   * Rewrites the ConfigMap, Secret, downward API and projected volumes of `pod` whose
   * content changed (e.g. new labels, an edited ConfigMap). Failures keep the old
   * content and are returned, as the kubelet keeps a volume when its source vanishes.
   */
  async refresh(pod: Obj, ctx?: VolumeContext): Promise<{ changed: string[]; errors: VolumeError[] }> {
    const uid = pod.metadata?.uid;
    const c = ctx ?? this.contexts.get(uid);
    const changed: string[] = [];
    const errors: VolumeError[] = [];
    if (!c || !(await exists(this.podDir(uid)))) return { changed, errors };
    for (const v of (pod.spec?.volumes ?? []) as Obj[]) {
      const kind = volumeKind(v);
      if (!['configMap', 'secret', 'downwardAPI', 'projected'].includes(kind)) continue;
      try {
        if (await this.writeApiVolume(pod, v, kind, c)) changed.push(v.name);
      } catch (e) {
        errors.push(new VolumeError(`MountVolume.SetUp failed for volume "${v.name}" : ${(e as Error).message}`, [v.name]));
      }
    }
    if (changed.length) log.info({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, volumes: changed }, 'volumes updated');
    return { changed, errors };
  }

  /** Unmounts and removes everything under the pod's directory. Idempotent. */
  async cleanupVolumes(uid: string): Promise<void> {
    const dir = this.podDir(uid);
    this.contexts.delete(uid);
    for (const k of this.skipLogged) if (k.startsWith(`${uid}/`)) this.skipLogged.delete(k);
    for (const m of await this.mounter.mountsUnder(dir)) await this.mounter.unmount(m);
    const left = await this.mounter.mountsUnder(dir);
    if (left.length) throw new Error(`pod directory ${dir} still has mounts after unmounting: ${left.join(', ')}`);
    await rm(dir, { recursive: true, force: true });
  }

  /** Pod UIDs that have a directory here (for removing orphans after a restart). */
  async podUIDs(): Promise<string[]> {
    try {
      return (await readdir(this.root, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  /**
   * Writes the pod's /etc/hosts (to be bind-mounted into each container) and returns its
   * path. A hostNetwork pod gets the node's file (`nodeHostsFile`) plus hostAliases.
   * Rewritten in place, so an existing bind mount sees the change.
   */
  async writeHostsFile(pod: Obj, podIP: string | string[] | undefined, hostAliases?: HostAlias[], opts: { clusterDomain?: string; nodeHostsFile?: string } = {}): Promise<string> {
    const path = join(this.podDir(pod.metadata?.uid), 'etc-hosts');
    const aliases = hostAliases ?? (pod.spec?.hostAliases as HostAlias[] | undefined);
    let text: string;
    if (pod.spec?.hostNetwork === true) text = hostNetworkHostsContent(await readFile(opts.nodeHostsFile ?? '/etc/hosts', 'utf8').catch(() => ''), aliases);
    else text = managedHostsContent(pod, (Array.isArray(podIP) ? podIP : podIP ? [podIP] : []).filter(Boolean), aliases, opts.clusterDomain);
    await mkdir(this.podDir(pod.metadata.uid), { recursive: true, mode: 0o750 });
    if ((await readFile(path, 'utf8').catch(() => undefined)) !== text) await writeFile(path, text, { mode: 0o644 });
    return path;
  }

  /** Path of a container attempt's termination-log file. */
  terminationLogPath(uid: string, container: string, attempt: number): string {
    return join(this.podDir(uid), 'containers', safeName('container name', container), String(Math.trunc(attempt)), 'termination-log');
  }

  /** Creates the (empty) termination-log file, writable by any user in the container, and returns its path. */
  async ensureTerminationLog(uid: string, container: string, attempt: number): Promise<string> {
    const path = this.terminationLogPath(uid, container, attempt);
    await mkdir(join(path, '..'), { recursive: true, mode: 0o755 });
    await (await open(path, 'a')).close();
    await chmod(path, 0o666);
    return path;
  }

  /** The termination message (at most 4096 bytes, the tail as the kubelet keeps), or '' when none. */
  async readTerminationMessage(uid: string, container: string, attempt: number): Promise<string> {
    try {
      const data = await readFile(this.terminationLogPath(uid, container, attempt));
      return data.subarray(Math.max(0, data.length - MAX_TERMINATION_MESSAGE)).toString('utf8');
    } catch {
      return '';
    }
  }

  private async setUp(pod: Obj, v: Obj, ctx: VolumeContext): Promise<string> {
    const kind = volumeKind(v);
    const uid: string = pod.metadata.uid;
    switch (kind) {
      case 'hostPath':
        await checkHostPath(v.hostPath.path, v.hostPath.type);
        return v.hostPath.path;
      case 'emptyDir':
        return this.setUpEmptyDir(pod, v);
      case 'configMap':
      case 'secret':
      case 'downwardAPI':
      case 'projected':
        await this.writeApiVolume(pod, v, kind, ctx);
        return this.volumeDir(uid, kind, v.name);
      default:
        throw new Error(`volume type ${kind} is not supported by this node`);
    }
  }

  private async setUpEmptyDir(pod: Obj, v: Obj): Promise<string> {
    const dir = this.volumeDir(pod.metadata.uid, 'emptyDir', v.name);
    const medium: string = v.emptyDir.medium ?? '';
    await mkdir(dir, { recursive: true });
    if (medium === 'Memory') {
      if (!(await this.mounter.isMountPoint(dir))) {
        const size = v.emptyDir.sizeLimit ? quantityValue(parseQuantity(v.emptyDir.sizeLimit)) : undefined;
        await this.mounter.mountTmpfs(dir, { sizeBytes: size, mode: 0o777 });
      }
    } else if (medium !== '') throw new Error(`emptyDir medium ${medium} is not supported`);
    const fsGroup = pod.spec?.securityContext?.fsGroup;
    // 0777: containers running as any user can write, as with the kubelet's emptyDir.
    if (typeof fsGroup === 'number') {
      await chown(dir, (await stat(dir)).uid, fsGroup);
      await chmod(dir, 0o2777);
    } else await chmod(dir, 0o777);
    return dir;
  }

  /** Computes and atomically writes one API-data volume; true when its files changed. */
  private async writeApiVolume(pod: Obj, v: Obj, kind: string, ctx: VolumeContext): Promise<boolean> {
    const dir = this.volumeDir(pod.metadata.uid, kind, v.name);
    const payload = await this.payloadFor(pod, v, kind, ctx);
    if (kind === 'secret' || kind === 'projected') {
      await mkdir(dir, { recursive: true });
      if (!(await this.mounter.isMountPoint(dir))) await this.mounter.mountTmpfs(dir, { mode: 0o755 });
    }
    const fsGroup = pod.spec?.securityContext?.fsGroup;
    return writeAtomic(dir, payload, typeof fsGroup === 'number' ? { gid: fsGroup } : {});
  }

  private async payloadFor(pod: Obj, v: Obj, kind: string, ctx: VolumeContext): Promise<Payload> {
    const ns: string = pod.metadata.namespace ?? 'default';
    if (kind === 'downwardAPI') return downwardPayload(pod, v.downwardAPI.items, v.downwardAPI.defaultMode ?? DEFAULT_MODE, ctx.allocatable);
    const refs = referencedObjects(v);
    const fetched: FetchedSources = { configMaps: new Map(), secrets: new Map(), tokens: new Map(), allocatable: ctx.allocatable };
    for (const n of refs.configMaps) if (!fetched.configMaps.has(n)) fetched.configMaps.set(n, await ctx.getConfigMap(ns, n));
    for (const n of refs.secrets) if (!fetched.secrets.has(n)) fetched.secrets.set(n, await ctx.getSecret(ns, n));
    if (kind === 'configMap') {
      const s = v.configMap;
      return keysPayload('configmap', s.name, fetched.configMaps.get(s.name), s.items, s.defaultMode ?? DEFAULT_MODE, s.optional === true);
    }
    if (kind === 'secret') {
      const s = v.secret;
      return keysPayload('secret', s.secretName, fetched.secrets.get(s.secretName), s.items, s.defaultMode ?? DEFAULT_MODE, s.optional === true);
    }
    for (const s of (v.projected.sources ?? []) as Obj[]) {
      const t = s.serviceAccountToken;
      if (!t) continue;
      const token = ctx.getServiceAccountToken ? await ctx.getServiceAccountToken(pod, { audience: t.audience, expirationSeconds: t.expirationSeconds, path: t.path }) : undefined;
      if (token !== undefined) fetched.tokens.set(t.path, token);
    }
    const { payload, skipped } = projectedPayload(pod, v.projected, fetched);
    const key = `${pod.metadata.uid}/${v.name}`;
    if (skipped.length && !this.skipLogged.has(key)) {
      this.skipLogged.add(key);
      log.info({ pod: `${ns}/${pod.metadata.name}`, volume: v.name, skipped }, 'projected volume sources skipped (no token provider or unsupported source)');
    }
    return payload;
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
