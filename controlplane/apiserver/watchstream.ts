/**
 * A watch as an HTTP response: 200, `application/json`, chunked, headers flushed
 * at once, one JSON event per line. Ends on `timeoutSeconds` (default: a random
 * 30-60 minutes, as kube-apiserver spreads reconnects), client disconnect, or when
 * the store drops a slow watcher. Bookmarks carry the last revision seen.
 *
 * Back-pressure: when the socket is full we wait for 'drain'; meanwhile the
 * store-side buffer fills, and past its bound the watcher is dropped instead of
 * growing without limit.
 */
import type { Request, Response } from 'express';
import type { Logger } from '../../common/log.js';
import type { TableMode } from './http.js';
import type { Obj } from './objects.js';
import type { ListOptions, Registry } from './registry.js';
import type { ResourceDef } from './resources.js';
import { toTable } from './tables.js';
import { watchResource, type WatchEvent } from './watch.js';

export interface WatchSettings {
  /** Interval between bookmarks when the client allows them. */
  bookmarkIntervalMs: number;
  /** Per-watcher buffer of undelivered store events. */
  bufferSize: number;
}

export interface WatchParams extends Pick<ListOptions, 'labelSelector' | 'fieldSelector' | 'resourceVersion'> {
  timeoutSeconds?: number;
  bookmarks: boolean;
  /** Table mode when the client asked for Table events. */
  table?: TableMode;
}

export async function streamWatch(
  reg: Registry,
  req: Request,
  res: Response,
  r: ResourceDef,
  ns: string | undefined,
  p: WatchParams,
  settings: WatchSettings,
  log: Logger,
): Promise<void> {
  const ac = new AbortController();
  const onClose = (): void => ac.abort();
  res.on('close', onClose);
  const seconds = p.timeoutSeconds && p.timeoutSeconds > 0 ? p.timeoutSeconds : 1800 + Math.floor(Math.random() * 1800);
  const timer = setTimeout(() => ac.abort(), seconds * 1000);
  let firstTable = true;
  const progress: { request?: () => void } = {};

  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
  res.flushHeaders();

  const write = async (ev: WatchEvent): Promise<void> => {
    let out: WatchEvent = ev;
    if (p.table && (ev.type === 'ADDED' || ev.type === 'MODIFIED' || ev.type === 'DELETED')) {
      out = { type: ev.type, object: toTable(r.plural, [ev.object], { now: new Date(), includeObject: p.table, withColumns: firstTable, resourceVersion: ev.object.metadata?.resourceVersion }) as Obj };
      firstTable = false;
    }
    if (!res.write(`${JSON.stringify(out)}\n`)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done);
          ac.signal.removeEventListener('abort', done);
          resolve();
        };
        res.on('drain', done);
        ac.signal.addEventListener('abort', done);
      });
    }
  };

  // Bookmarks: ask the store for progress; it arrives in order as a BOOKMARK event.
  const bookmark = p.bookmarks ? setInterval(() => progress.request?.(), settings.bookmarkIntervalMs) : undefined;
  bookmark?.unref();

  try {
    const events = watchResource(
      reg,
      r,
      ns,
      { labelSelector: p.labelSelector, fieldSelector: p.fieldSelector, resourceVersion: p.resourceVersion, signal: ac.signal, bufferSize: settings.bufferSize, progress },
    );
    for await (const ev of events) {
      if (ac.signal.aborted) break;
      if (ev.type === 'BOOKMARK' && !p.bookmarks) continue;
      await write(ev);
    }
  } catch (e) {
    if (!ac.signal.aborted) log.warn({ err: e, resource: r.plural }, 'watch ended with an error');
  } finally {
    clearTimeout(timer);
    if (bookmark) clearInterval(bookmark);
    res.off('close', onClose);
    ac.abort();
    if (!res.writableEnded) res.end();
  }
}
