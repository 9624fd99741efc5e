/**
 * What goes into ConfigMap, Secret, downwardAPI and projected volumes: pure functions
 * from the pod's volume source and the API objects to a Payload (path -> bytes and
 * mode), with the kubelet's rules and messages (configmap.MakePayload,
 * secret.MakePayload, downwardapi.CollectData, projected.collectData).
 * The I/O (fetching, writing, mounting) lives in volumes.ts.
 */
import type { FileProjection, Payload } from './atomic-writer.js';
import { secretData } from './env.js';
import { containerResourceValue, podFieldValue, resourceFieldContainer, type Allocatable, type Obj } from './fieldpath.js';

/** The API's default for defaultMode on every projected-file volume. */
export const DEFAULT_MODE = 0o644;

/** One key's bytes from a ConfigMap (data, then binaryData as base64). */
function configMapValue(cm: Obj, key: string): Buffer | undefined {
  if (cm.data?.[key] !== undefined) return Buffer.from(String(cm.data[key]), 'utf8');
  if (cm.binaryData?.[key] !== undefined) return Buffer.from(String(cm.binaryData[key]), 'base64');
  return undefined;
}

function allKeys(kind: 'configmap' | 'secret', obj: Obj): Map<string, Buffer> {
  if (kind === 'secret') return new Map(Object.entries(secretData(obj)));
  const out = new Map<string, Buffer>();
  for (const k of Object.keys(obj.data ?? {})) out.set(k, configMapValue(obj, k)!);
  for (const k of Object.keys(obj.binaryData ?? {})) out.set(k, configMapValue(obj, k)!);
  return out;
}

/**
 * Files of a ConfigMap or Secret (`obj` undefined when it does not exist): every key, or
 * only `items` (key -> path, with their own mode). Missing keys fail unless optional.
 */
export function keysPayload(kind: 'configmap' | 'secret', name: string, obj: Obj | undefined, items: Obj[] | undefined, defaultMode: number, optional: boolean): Payload {
  const payload: Payload = new Map();
  if (!obj) {
    if (optional) return payload;
    throw new Error(`${kind} "${name}" not found`);
  }
  const keys = allKeys(kind, obj);
  if (!items || items.length === 0) {
    for (const [k, data] of keys) payload.set(k, { data, mode: defaultMode });
    return payload;
  }
  for (const item of items) {
    const data = keys.get(item.key);
    if (!data) {
      if (optional) continue;
      throw new Error(kind === 'secret' ? `references non-existent secret key: ${item.key}` : `configmap references non-existent config key: ${item.key}`);
    }
    payload.set(item.path, { data, mode: item.mode ?? defaultMode });
  }
  return payload;
}

/** Files of a downwardAPI volume or projection: fieldRef and resourceFieldRef items. */
export function downwardPayload(pod: Obj, items: Obj[] | undefined, defaultMode: number, allocatable: Allocatable = {}): Payload {
  const payload: Payload = new Map();
  const errors: string[] = [];
  for (const item of items ?? []) {
    let value = '';
    try {
      if (item.fieldRef) value = podFieldValue(pod, item.fieldRef.fieldPath);
      else if (item.resourceFieldRef) {
        const c = resourceFieldContainer(pod, item.resourceFieldRef);
        value = containerResourceValue(item.resourceFieldRef, c, allocatable);
      }
    } catch (e) {
      errors.push((e as Error).message);
      continue;
    }
    payload.set(item.path, { data: Buffer.from(value, 'utf8'), mode: item.mode ?? defaultMode });
  }
  if (errors.length) throw new Error(errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`);
  return payload;
}

/** What the I/O side fetched for one pod: objects by name (undefined = not found) and tokens by projection path. */
export interface FetchedSources {
  configMaps: Map<string, Obj | undefined>;
  secrets: Map<string, Obj | undefined>;
  /** Token per serviceAccountToken `path`; absent when no token could be had (the source is skipped). */
  tokens: Map<string, string>;
  allocatable?: Allocatable;
}

/** Names of the ConfigMaps and Secrets a volume needs, so the caller can fetch them. */
export function referencedObjects(volume: Obj): { configMaps: string[]; secrets: string[] } {
  const configMaps: string[] = [];
  const secrets: string[] = [];
  if (volume.configMap) configMaps.push(volume.configMap.name);
  if (volume.secret) secrets.push(volume.secret.secretName);
  for (const s of (volume.projected?.sources ?? []) as Obj[]) {
    if (s.configMap) configMaps.push(s.configMap.name);
    if (s.secret) secrets.push(s.secret.name);
  }
  return { configMaps, secrets };
}

/** Files of a projected volume: its sources merged in order (a later path replaces an earlier one). */
export function projectedPayload(pod: Obj, projected: Obj, fetched: FetchedSources): { payload: Payload; skipped: string[] } {
  const mode: number = projected.defaultMode ?? DEFAULT_MODE;
  const payload: Payload = new Map();
  const skipped: string[] = [];
  const merge = (p: Payload): void => {
    for (const [k, v] of p) payload.set(k, v);
  };
  for (const s of (projected.sources ?? []) as Obj[]) {
    if (s.configMap) {
      const cm = fetched.configMaps.get(s.configMap.name);
      merge(keysPayload('configmap', s.configMap.name, cm, s.configMap.items, mode, s.configMap.optional === true));
    } else if (s.secret) {
      const sec = fetched.secrets.get(s.secret.name);
      merge(keysPayload('secret', s.secret.name, sec, s.secret.items, mode, s.secret.optional === true));
    } else if (s.downwardAPI) {
      merge(downwardPayload(pod, s.downwardAPI.items, mode, fetched.allocatable));
    } else if (s.serviceAccountToken) {
      const token = fetched.tokens.get(s.serviceAccountToken.path);
      if (token === undefined) skipped.push(`serviceAccountToken ${s.serviceAccountToken.path}`);
      else payload.set(s.serviceAccountToken.path, { data: Buffer.from(token, 'utf8'), mode } satisfies FileProjection);
    } else {
      skipped.push(`source ${Object.keys(s).join(',') || '(empty)'}`);
    }
  }
  return { payload, skipped };
}

/** Plugin directory names, as the kubelet lays out `pods/<uid>/volumes/<plugin>/<name>`. */
export const PLUGIN_DIRS: Record<string, string> = {
  emptyDir: 'kubernetes.io~empty-dir',
  configMap: 'kubernetes.io~configmap',
  secret: 'kubernetes.io~secret',
  downwardAPI: 'kubernetes.io~downward-api',
  projected: 'kubernetes.io~projected',
};

/** The volume's kind: the first source field present, e.g. `emptyDir`, `hostPath`. */
export function volumeKind(volume: Obj): string {
  for (const k of ['emptyDir', 'hostPath', 'configMap', 'secret', 'downwardAPI', 'projected']) if (volume[k] !== undefined && volume[k] !== null) return k;
  return Object.keys(volume).find((k) => k !== 'name') ?? 'unknown';
}

/** Volumes whose files the kubelet projects from the API (mounted read-only, refreshed). */
export function isApiDataVolume(volume: Obj): boolean {
  return ['configMap', 'secret', 'downwardAPI', 'projected'].includes(volumeKind(volume));
}
