/**
 * Helpers over API objects as plain JSON: keys, owner references, pod readiness,
 * conditions, int-or-percent values, template hashing. All pure.
 */
import { parseTime } from './clock.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Obj = Record<string, any>;

/** The queue key of an object: `namespace/name`, or `name` when cluster-scoped. */
export function keyOf(o: Obj): string {
  const ns = o.metadata?.namespace;
  return ns ? `${ns}/${o.metadata.name}` : o.metadata.name;
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export function ownerRefs(o: Obj): OwnerReference[] {
  return Array.isArray(o.metadata?.ownerReferences) ? o.metadata.ownerReferences : [];
}

/** The ownerReference with `controller: true`, if any. */
export function controllerOf(o: Obj): OwnerReference | undefined {
  return ownerRefs(o).find((r) => r.controller === true);
}

/** A controller reference to `owner`, as controllers put on what they create. */
export function controllerRef(owner: Obj, apiVersion: string, kind: string): OwnerReference {
  return { apiVersion, kind, name: owner.metadata.name, uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true };
}

export function isBeingDeleted(o: Obj): boolean {
  return Boolean(o.metadata?.deletionTimestamp);
}

export function getCondition(status: Obj | undefined, type: string): Obj | undefined {
  return Array.isArray(status?.conditions) ? status!.conditions.find((c: Obj) => c.type === type) : undefined;
}

/** Pod condition Ready=True. */
export function isPodReady(pod: Obj): boolean {
  return getCondition(pod.status, 'Ready')?.status === 'True';
}

/** Ready for at least `minReadySeconds` at `now` (ms), as podutil.IsPodAvailable. */
export function isPodAvailable(pod: Obj, minReadySeconds: number, now: number): boolean {
  const c = getCondition(pod.status, 'Ready');
  if (c?.status !== 'True') return false;
  if (!minReadySeconds) return true;
  const since = parseTime(c.lastTransitionTime);
  return since !== undefined && since + minReadySeconds * 1000 <= now;
}

/** Not finished and not being deleted: counts towards a controller's replicas. */
export function isPodActive(pod: Obj): boolean {
  const phase = pod.status?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed' && !isBeingDeleted(pod);
}

/**
 * A scaled int-or-percent, as intstr.GetScaledValueFromIntOrPercent: ints as they
 * are, "25%" of `total` rounded up or down. Malformed values count as 0.
 */
export function scaledValue(v: unknown, total: number, roundUp: boolean): number {
  if (typeof v === 'number') return Math.trunc(v);
  if (typeof v === 'string') {
    const m = /^(\d+)%$/.exec(v);
    if (m) {
      const x = (Number(m[1]) * total) / 100;
      return roundUp ? Math.ceil(x) : Math.floor(x);
    }
    if (/^\d+$/.test(v)) return Number(v);
  }
  return 0;
}

function isPlain(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A canonical copy for semantic comparison: keys sorted; null, empty objects and
 * empty lists dropped (Go decodes those to the same zero values, and kubectl's
 * patches carry `creationTimestamp: null` in templates).
 */
export function normalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalize);
  if (!isPlain(v)) return v;
  const out: Obj = {};
  for (const key of Object.keys(v).sort()) {
    const x = normalize(v[key]);
    if (x === null || x === undefined) continue;
    if (isPlain(x) && Object.keys(x).length === 0) continue;
    if (Array.isArray(x) && x.length === 0) continue;
    out[key] = x;
  }
  return out;
}

/** Deep equality of JSON values (key order ignored; undefined members ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (isPlain(a) && isPlain(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => jsonEqual(a[k], b[k]));
  }
  return false;
}

export function semanticEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(normalize(a)) === JSON.stringify(normalize(b));
}

/** 32-bit FNV-1a of a string's UTF-8 bytes. */
export function fnv32a(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const SAFE_CHARS = 'bcdfghjklmnpqrstvwxz2456789';

/** rand.SafeEncodeString: maps each character to one that cannot spell words. */
export function safeEncode(s: string): string {
  let out = '';
  for (const ch of s) out += SAFE_CHARS[ch.charCodeAt(0) % SAFE_CHARS.length];
  return out;
}

/**
 * The `pod-template-hash` of a template, as controller.ComputeHash: FNV-32a of the
 * template (here its canonical JSON rather than Go's spew dump) and the collision
 * count, safe-encoded. Stable across restarts and independent of key order.
 */
export function templateHash(template: unknown, collisionCount?: number): string {
  let s = JSON.stringify(normalize(template));
  if (collisionCount !== undefined && collisionCount !== null) s += `#${collisionCount}`;
  return safeEncode(String(fnv32a(s)));
}

/** Matches the template's labels exactly (all of them present with the same values). */
export function hasAllLabels(labels: Obj | undefined, want: Obj | undefined): boolean {
  const have = labels ?? {};
  return Object.entries(want ?? {}).every(([k, v]) => have[k] === v);
}
