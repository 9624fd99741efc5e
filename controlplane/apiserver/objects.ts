/**
 * Small helpers for API objects as plain JSON: typed as `Obj` (any-shaped record)
 * because objects arrive from users and are validated, not trusted.
 */
import { randomInt, randomUUID } from 'node:crypto';
import type { ResourceDef } from './resources.js';
import { groupVersion } from './resources.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Obj = Record<string, any>;

/** RFC 3339 with second precision, as Kubernetes serializes metav1.Time. */
export function rfc3339(d: Date = new Date()): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z');
}

const NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789';

/** The 5-character suffix apiserver appends to generateName. */
export function randomSuffix(): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += NAME_CHARS[randomInt(NAME_CHARS.length)];
  return s;
}

export function newUid(): string {
  return randomUUID();
}

export function isPlainObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep equality of JSON values (key order ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => jsonEqual(a[k], b[k]));
  }
  return false;
}

export function clone<T>(v: T): T {
  return structuredClone(v);
}

export function typeMeta(r: ResourceDef): { apiVersion: string; kind: string } {
  return { apiVersion: groupVersion(r), kind: r.kind };
}

/** Everything but metadata and status: what a spec change means for `generation`. */
export function specPart(o: Obj): Obj {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
  return rest;
}

/** Decode a stored value into an object carrying its resourceVersion. */
export function decode(value: string, modRevision: number): Obj {
  const o = JSON.parse(value) as Obj;
  o.metadata ??= {};
  o.metadata.resourceVersion = String(modRevision);
  return o;
}

/** Encode for storage: resourceVersion is the store's revision, never stored. */
export function encode(o: Obj): string {
  const { resourceVersion: _rv, ...meta } = o.metadata ?? {};
  return JSON.stringify({ ...o, metadata: meta });
}

export function parseIntParam(v: unknown, name: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string' || !/^-?\d+$/.test(v)) throw new Error(`${name} must be an integer`);
  return Number(v);
}

/** Go's strconv.ParseBool, which clients rely on (`True`, `1`, `t` are all true). */
export function parseBool(v: unknown): boolean | undefined {
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') return undefined;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  throw new Error(`invalid boolean value "${v}"`);
}
