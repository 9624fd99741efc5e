/**
 * Informers for the scheduler: @kubernetes/client-node list+watch on nodes and
 * pods, restarted after errors as the library's documentation shows, with the
 * list done through our RestClient so listed and watched objects are the same
 * plain JSON.
 *
 * Handlers run inside the informer's callbacks and only update the cache and
 * the queue (no I/O): upsert covers both ADDED and MODIFIED, because after a
 * relist the library reports changed objects as either.
 */
import { makeInformer, type Informer, type KubeConfig, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';
import type { Logger } from '../../common/log.js';
import type { RestClient } from './rest.js';

export interface Handlers<T> {
  upsert(obj: T): void;
  remove(obj: T): void;
}

export interface RunningInformer {
  stop(): Promise<void>;
}

const RESTART_DELAY_MS = 1000;
const MAX_RESTART_DELAY_MS = 30_000;

/**
 * Starts an informer on `path` and resolves once its first list has been
 * delivered to the handlers (caches synced), while the watch connects. Errors restart it after a second,
 * doubling up to 30 s while errors repeat, keeping its resourceVersion so it
 * resumes the watch (or relists after 410).
 * Rejects only if `signal` aborts before the first sync.
 */
export async function startInformer<T extends KubernetesObject>(
  kc: KubeConfig,
  rest: RestClient,
  path: string,
  h: Handlers<T>,
  log: Logger,
  signal: AbortSignal,
): Promise<RunningInformer> {
  let listed = false;
  /** Next restart delay; back to the minimum once the informer delivers again. */
  let delay = RESTART_DELAY_MS;
  let resolveSynced: () => void = () => undefined;
  const synced = new Promise<void>((r) => (resolveSynced = r));
  const informer: Informer<T> & ObjectCache<T> = makeInformer<T>(kc, path, async () => {
    const list = await rest.list<T>(path);
    listed = true;
    delay = RESTART_DELAY_MS;
    // The library hands the items to the handlers synchronously right after this
    // returns, then opens the watch (from the list's resourceVersion, so nothing
    // is missed). The cache is synced once that macrotask ends: no need to wait
    // for the watch connection before scheduling.
    setImmediate(resolveSynced);
    return list;
  });
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const safe = (fn: (o: T) => void) => (o: T) => {
    delay = RESTART_DELAY_MS;
    try {
      fn(o);
    } catch (e) {
      log.error({ err: e, path }, 'informer handler failed');
    }
  };
  informer.on('add', safe(h.upsert));
  informer.on('update', safe(h.upsert));
  informer.on('delete', safe(h.remove));

  const start = async (): Promise<void> => {
    if (stopped) return;
    try {
      await informer.start();
    } catch (e) {
      log.warn({ err: e, path }, 'informer start failed');
    }
    if (listed) resolveSynced();
  };
  informer.on('error', (err: unknown) => {
    if (stopped) return;
    log.warn({ err, path, retryInMs: delay }, 'informer error; restarting');
    clearTimeout(timer);
    timer = setTimeout(() => void start(), delay);
    timer.unref();
    delay = Math.min(delay * 2, MAX_RESTART_DELAY_MS);
  });

  const stop = async (): Promise<void> => {
    stopped = true;
    clearTimeout(timer);
    await informer.stop();
  };
  const aborted = new Promise<never>((_, reject) => {
    const onAbort = (): void => reject(new Error('scheduler stopped before caches synced'));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  void start();
  try {
    await Promise.race([synced, aborted]);
  } catch (e) {
    await stop();
    throw e;
  }
  return { stop };
}
