/**
 * Small helpers over plain JSON values shared by the patch implementations.
 * Values are what `JSON.parse` (or js-yaml's JSON-compatible schema) produces:
 * null, boolean, number, string, arrays and plain objects.
 */

import { StatusError } from '../../../common/errors.js';

export type JsonObject = Record<string, unknown>;

/** True for plain JSON objects (not arrays, not null). */
export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep copy of a JSON value; patches never hand out references to their inputs. */
export function clone<T>(v: T): T {
  // structuredClone keeps undefined and other non-JSON values intact, which is
  // what we want for defensive copies of already-parsed bodies.
  return v === undefined ? v : structuredClone(v);
}

/**
 * JSON equality: objects compare without regard to key order, arrays in order,
 * numbers by value (RFC 6902 section 4.6).
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** The JSON type name of a value, for error messages. */
export function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  return typeof v;
}

/** Compact, bounded rendering of a value for error messages. */
export function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 200 ? `${s.slice(0, 197)}...` : s;
}

/**
 * 422 for a well-formed patch that cannot be applied to this object (a failed
 * JSON Patch `test`, a path that does not exist). Kubernetes answers these with
 * a generic 422 whose message is the patch library's error; so do we.
 */
export function unprocessable(message: string): StatusError {
  return new StatusError(422, 'Invalid', message);
}
