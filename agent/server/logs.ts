/**
 * GET /containerLogs/{namespace}/{pod}/{container}: the container's log as
 * text/plain, chunked, each piece written as soon as the runtime hands it over.
 * Headers are sent as soon as the container is known, so `kubectl logs -f` is
 * connected before the first line; the body ends when the log ends (with follow:
 * when the container stops), after limitBytes, or when the client goes away.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { badRequest, StatusError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { Runtime } from '../runtime/types.js';
import type { ContainerPath } from './params.js';
import { parseLogQuery } from './params.js';

/** How the server finds the runtime container of a pod's container. */
export interface PodLookup {
  /**
   * The runtime id of `container` in pod `namespace/pod` on this node: the current
   * instance, or with `previous` the last terminated one before it. Undefined
   * when there is none.
   */
  container(namespace: string, pod: string, container: string, previous: boolean): Promise<{ id: string } | undefined>;
}

export interface LogDeps {
  runtime: Pick<Runtime, 'logs' | 'inspectContainer'>;
  lookup: PodLookup;
  log: Logger;
  now?: () => number;
}

/**
 * The container id, or the StatusError kubelet answers with: 404 for an unknown
 * pod or container, 400 when a previous instance was asked for and there is none.
 */
export async function resolveContainer(lookup: PodLookup, p: ContainerPath, previous: boolean): Promise<string> {
  const found = await lookup.container(p.namespace, p.pod, p.container, previous);
  if (found) return found.id;
  const current = previous ? await lookup.container(p.namespace, p.pod, p.container, false) : undefined;
  if (!current) {
    throw new StatusError(404, 'NotFound', `container "${p.container}" in pod "${p.namespace}/${p.pod}" not found on this node`, { name: p.pod, kind: 'pods' });
  }
  throw badRequest(`previous terminated container "${p.container}" in pod "${p.pod}" not found`);
}

/** Forwards at most `limit` bytes to `res`, then calls `onLimit`; keeps `res`'s backpressure. */
class LimitedWriter extends Writable {
  private left: number;
  constructor(private readonly res: ServerResponse, limit: number, private readonly onLimit: () => void) {
    super();
    this.left = limit;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.left <= 0) return cb();
    const part = chunk.length > this.left ? chunk.subarray(0, this.left) : chunk;
    this.left -= part.length;
    const ok = this.res.write(part);
    if (this.left <= 0) this.onLimit();
    if (ok || this.res.destroyed) cb();
    else this.res.once('drain', () => cb());
  }
}

export async function serveLogs(req: IncomingMessage, res: ServerResponse, target: ContainerPath, query: URLSearchParams, d: LogDeps): Promise<void> {
  const r = parseLogQuery(query, (d.now ?? Date.now)());
  const id = await resolveContainer(d.lookup, target, r.previous);
  const status = await d.runtime.inspectContainer(id);
  if (!status) throw new StatusError(404, 'NotFound', `container "${target.container}" in pod "${target.namespace}/${target.pod}" not found in the runtime`, { name: target.pod, kind: 'pods' });

  res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' });
  res.flushHeaders();
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  req.socket.setNoDelay(true);
  res.once('close', stop);
  const out = r.limitBytes !== undefined ? new LimitedWriter(res, r.limitBytes, stop) : res;
  try {
    await d.runtime.logs(id, r.opts, out, ac.signal);
  } catch (e) {
    // Headers are out: all that is left is to end the body.
    if (!ac.signal.aborted) d.log.warn({ err: e, container: id }, 'log stream failed');
  } finally {
    res.off('close', stop);
    res.end();
  }
}
