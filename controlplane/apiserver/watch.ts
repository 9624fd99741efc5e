/**
 * Kubernetes watch semantics over a store watch.
 *
 * - resourceVersion unset or "0": the current state first, as synthetic ADDED
 *   events read at one revision, then every change after that revision.
 * - resourceVersion N: every change after N; too old → one ERROR 410 Expired.
 * - Selectors are applied to both the old and the new object, so an object that
 *   stops matching is DELETED for this watcher and one that starts matching is ADDED.
 * - A store watch closed as 'slow' ends the stream: the client re-watches from the
 *   last resourceVersion it saw, exactly as after a timeout.
 */
import { expired } from '../../common/errors.js';
import { CompactedError, type WatchEvent as StoreEvent } from '../store/types.js';
import { decode, typeMeta, type Obj } from './objects.js';
import type { ListOptions, Registry } from './registry.js';
import { storagePrefix, type ResourceDef } from './resources.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent {
  type: WatchEventType;
  object: Obj;
}

export interface WatchRequest extends Pick<ListOptions, 'labelSelector' | 'fieldSelector'> {
  resourceVersion?: string;
  signal: AbortSignal;
  /** Filled in once the store watch is open: asks it for a progress notification (a BOOKMARK). */
  progress?: { request?: () => void };
  /** Buffered, undelivered events per watcher before it is dropped. */
  bufferSize?: number;
}

/** Translates one store event for a watcher with selectors; undefined when it does not concern it. */
export function translate(reg: Registry, r: ResourceDef, ev: StoreEvent, req: WatchRequest): WatchEvent | undefined {
  if (ev.type === 'progress') {
    return { type: 'BOOKMARK', object: { ...typeMeta(r), metadata: { resourceVersion: String(ev.revision) } } };
  }
  const withType = (o: Obj): Obj => ({ ...typeMeta(r), ...o });
  const now = ev.type === 'delete' ? undefined : withType(decode(ev.kv.value, ev.kv.modRevision));
  const before = ev.prev ? withType(decode(ev.prev.value, ev.prev.modRevision)) : undefined;
  const nowMatches = now !== undefined && reg.matches(r, now, req);
  const beforeMatches = before !== undefined && reg.matches(r, before, req);
  if (ev.type === 'delete') {
    if (!beforeMatches) return undefined;
    // The deleted object is reported at the revision of its deletion.
    before!.metadata.resourceVersion = String(ev.revision);
    return { type: 'DELETED', object: before! };
  }
  if (nowMatches && beforeMatches) return { type: 'MODIFIED', object: now! };
  if (nowMatches) return { type: 'ADDED', object: now! };
  if (beforeMatches) return { type: 'DELETED', object: now! };
  return undefined;
}

export function expiredEvent(message: string): WatchEvent {
  return { type: 'ERROR', object: expired(message).toStatus() as unknown as Obj };
}

/**
 * Yields watch events until the signal aborts or the store ends the watch.
 * A BOOKMARK is yielded for each progress notification requested through
 * `req.progress`: its revision covers every change to the collection so far,
 * matching or not, so a client resuming from it misses nothing.
 */
export async function* watchResource(
  reg: Registry,
  r: ResourceDef,
  ns: string | undefined,
  req: WatchRequest,
): AsyncGenerator<WatchEvent> {
  const prefix = storagePrefix(r, r.namespaced ? ns : undefined);
  let after: number;
  if (!req.resourceVersion || req.resourceVersion === '0') {
    const snapshot = await reg.list(r, ns, { labelSelector: req.labelSelector, fieldSelector: req.fieldSelector });
    for (const o of snapshot.items) yield { type: 'ADDED', object: o };
    after = Number(snapshot.resourceVersion);
  } else {
    after = Number(req.resourceVersion);
  }
  let w;
  try {
    w = await reg.store.watch(prefix, { afterRevision: after, signal: req.signal, bufferSize: req.bufferSize });
  } catch (e) {
    if (e instanceof CompactedError) {
      yield expiredEvent(`too old resource version: ${after} (${e.compacted + 1})`);
      return;
    }
    throw e;
  }
  if (req.progress) req.progress.request = () => w.requestProgress();
  try {
    for await (const ev of w) {
      const out = translate(reg, r, ev, req);
      if (out) yield out;
    }
    if (w.closeReason === 'compacted') yield expiredEvent(`too old resource version: ${after}`);
  } finally {
    w.close();
  }
}
