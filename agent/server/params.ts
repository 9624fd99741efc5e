/**
 * Parsing of the agent API's paths and query strings, in kubelet's shape:
 *   /containerLogs/{namespace}/{pod}/{container}?follow=&tailLines=&timestamps=&sinceSeconds=&sinceTime=&limitBytes=&previous=
 *   /exec/{namespace}/{pod}/{container}?command=a&command=b&stdin=&stdout=&stderr=&tty=
 * Pure functions; failures are 400 StatusErrors with the messages the API server
 * uses for the same PodLogOptions / PodExecOptions.
 */
import { badRequest } from '../../common/errors.js';
import type { LogOptions } from '../runtime/types.js';

export interface ContainerPath {
  namespace: string;
  pod: string;
  container: string;
}

export interface LogRequest {
  opts: LogOptions;
  previous: boolean;
  /** Stop after this many bytes; undefined = no limit. */
  limitBytes?: number;
}

export interface ExecRequest {
  command: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** Splits `/<prefix>/{ns}/{pod}/{container}`; undefined when the path has another shape. */
export function parseContainerPath(pathname: string, prefix: string): ContainerPath | undefined {
  const segs = pathname.split('/').filter((s) => s !== '');
  if (segs.length !== 4 || segs[0] !== prefix) return undefined;
  let parts: string[];
  try {
    parts = segs.slice(1).map(decodeURIComponent);
  } catch {
    throw badRequest(`malformed path ${pathname}`);
  }
  if (parts.some((p) => p === '' || p.includes('/'))) return undefined;
  const [namespace, pod, container] = parts;
  return { namespace, pod, container };
}

/** Go's strconv.ParseBool, as kubelet reads its query flags; absent or empty = false. */
export function goBool(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  if (v === null || v === '') return false;
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(v)) return false;
  throw badRequest(`${name}: invalid boolean value "${v}"`);
}

function int(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`${name}: invalid integer value "${v}"`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw badRequest(`${name}: value "${v}" is out of range`);
  return n;
}

/** RFC 3339 (with or without fractional seconds) to Unix seconds. */
function rfc3339Seconds(v: string): number {
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(v)) throw badRequest(`sinceTime: invalid RFC3339 time "${v}"`);
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw badRequest(`sinceTime: invalid RFC3339 time "${v}"`);
  return ms / 1000;
}

/** The log query as runtime options; `nowMs` anchors sinceSeconds. */
export function parseLogQuery(q: URLSearchParams, nowMs: number): LogRequest {
  const tail = int(q, 'tailLines');
  const sinceSeconds = int(q, 'sinceSeconds');
  const sinceTime = q.get('sinceTime') || undefined;
  const limitBytes = int(q, 'limitBytes');
  if (tail !== undefined && tail < 0) throw badRequest('tailLines: Invalid value: must be greater than or equal to 0');
  if (sinceSeconds !== undefined && sinceSeconds < 1) throw badRequest('sinceSeconds: Invalid value: must be greater than 0');
  if (limitBytes !== undefined && limitBytes < 1) throw badRequest('limitBytes: Invalid value: must be greater than 0');
  if (sinceSeconds !== undefined && sinceTime !== undefined) throw badRequest('at most one of `sinceTime` or `sinceSeconds` may be specified');
  const since = sinceSeconds !== undefined ? Math.floor(nowMs / 1000) - sinceSeconds : sinceTime !== undefined ? rfc3339Seconds(sinceTime) : undefined;
  return {
    opts: {
      follow: goBool(q, 'follow'),
      timestamps: goBool(q, 'timestamps'),
      ...(tail !== undefined ? { tail } : {}),
      ...(since !== undefined ? { since } : {}),
    },
    previous: goBool(q, 'previous'),
    ...(limitBytes !== undefined ? { limitBytes } : {}),
  };
}

/** The exec query. With a TTY stderr is merged into stdout, so a stderr request is dropped (as kubelet does). */
export function parseExecQuery(q: URLSearchParams): ExecRequest {
  const command = q.getAll('command');
  if (!command.length || command[0] === '') throw badRequest('you must specify at least 1 command');
  const tty = goBool(q, 'tty');
  const r: ExecRequest = { command, stdin: goBool(q, 'stdin'), stdout: goBool(q, 'stdout'), stderr: goBool(q, 'stderr') && !tty, tty };
  if (!r.stdin && !r.stdout && !r.stderr && !goBool(q, 'stderr')) throw badRequest('you must specify at least 1 of stdin, stdout, stderr');
  return r;
}
