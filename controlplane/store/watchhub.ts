/**
 * In-process watch fan-out.
 *
 * Contract:
 * - The store calls `publish` once per committed batch, synchronously after the
 *   commit and in revision order, so every watcher sees events in revision order.
 * - `publish` never blocks and never waits for a consumer: each watcher has a
 *   bounded buffer, and a watcher whose buffer would overflow is closed with
 *   reason 'slow' (its undelivered events are dropped; the client resumes from
 *   the last revision it saw, as after any watch end).
 * - A watch that starts in the past replays from the log lazily, one page at a
 *   time, up to `replayUpTo` (the last revision published when it registered);
 *   live events, all > replayUpTo, wait in the buffer meanwhile. Registration
 *   and the `replayUpTo` read happen in one synchronous block with no publish in
 *   between, so there is neither a gap nor a duplicate at the seam.
 */

import { CompactedError } from './types.js';
import type { Watch, WatchCloseReason, WatchEvent } from './types.js';

/**
 * Logged events on keys starting with `prefix` with revision in (after, upTo],
 * in revision order, at most `limit`. Throws CompactedError when that range is
 * no longer complete in the log.
 */
export type ReplaySource = (prefix: string, after: number, upTo: number, limit: number) => WatchEvent[];

const REPLAY_PAGE = 256;

/** A FIFO with O(1) shift. */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(v: T): void {
    this.items.push(v);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const v = this.items[this.head] as T;
    this.items[this.head++] = undefined as T; // let the event be collected
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return v;
  }
  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

export interface HubWatchOptions {
  prefix: string;
  afterRevision: number;
  bufferSize: number;
  /** The last revision already published: events up to it come from `replay`. */
  replayUpTo: number;
  replay: ReplaySource;
  signal?: AbortSignal;
}

const DONE: IteratorReturnResult<undefined> = { value: undefined, done: true };

/** One watcher. Single consumer: at most one pending `next()` at a time. */
export class HubWatch implements Watch {
  readonly prefix: string;
  private reason: WatchCloseReason | undefined;
  private readonly after: number;
  private readonly bufferSize: number;
  private readonly live = new Fifo<WatchEvent>();
  private page: WatchEvent[] = [];
  private pageIndex = 0;
  /** Replay has read the log up to here. */
  private cursor: number;
  private readonly replayUpTo: number;
  private readonly replay: ReplaySource;
  private waiter: ((r: IteratorResult<WatchEvent>) => void) | undefined;
  private readonly signal: AbortSignal | undefined;
  private readonly onAbort = (): void => this.end('aborted');

  constructor(
    private readonly hub: WatchHub,
    opts: HubWatchOptions,
  ) {
    this.prefix = opts.prefix;
    this.after = opts.afterRevision;
    this.bufferSize = Math.max(1, opts.bufferSize);
    this.cursor = opts.afterRevision;
    this.replayUpTo = opts.replayUpTo;
    this.replay = opts.replay;
    this.signal = opts.signal;
    this.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  get closeReason(): WatchCloseReason | undefined {
    return this.reason;
  }

  /** Ends the watch with 'closed'. Idempotent; undelivered events are dropped. */
  close(): void {
    this.end('closed');
  }

  /** Ends the watch once; the first reason wins. A pending `next()` resolves done. */
  end(reason: WatchCloseReason): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.live.clear();
    this.page = [];
    this.hub.remove(this);
    this.signal?.removeEventListener('abort', this.onAbort);
    const w = this.waiter;
    this.waiter = undefined;
    w?.(DONE);
  }

  /**
   * Queues a progress notification at the hub's last published revision. Every
   * event up to that revision was already offered to this watcher (publish is
   * synchronous), so it lands after them; it does not count against the buffer.
   */
  requestProgress(): void {
    if (this.reason !== undefined) return;
    const revision = this.hub.lastRevision();
    const ev: WatchEvent = { type: 'progress', kv: { key: '', value: '', createRevision: 0, modRevision: revision }, revision };
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: ev, done: false });
      return;
    }
    this.live.push(ev);
  }

  /** Called by the hub with a committed event whose key matches the prefix. Never blocks. */
  offer(ev: WatchEvent): void {
    if (this.reason !== undefined || ev.revision <= this.after) return;
    // A waiter exists only once replay is done and the buffer is empty, so
    // handing the event straight over keeps the order.
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: ev, done: false });
      return;
    }
    if (this.live.length >= this.bufferSize) {
      this.end('slow');
      return;
    }
    this.live.push(ev);
  }

  /** The next event available without waiting: replayed ones first, then buffered live ones. */
  private take(): WatchEvent | undefined {
    if (this.pageIndex < this.page.length) return this.page[this.pageIndex++];
    if (this.cursor < this.replayUpTo) {
      let page: WatchEvent[];
      try {
        page = this.replay(this.prefix, this.cursor, this.replayUpTo, REPLAY_PAGE);
      } catch (err) {
        // Compaction overtook the replay: the history it needs is gone.
        if (err instanceof CompactedError) {
          this.end('compacted');
          return undefined;
        }
        this.end('closed');
        throw err;
      }
      const last = page[page.length - 1];
      this.cursor = page.length < REPLAY_PAGE || last === undefined ? this.replayUpTo : last.revision;
      this.page = page;
      this.pageIndex = 0;
      if (page.length > 0) return this.page[this.pageIndex++];
    }
    return this.live.shift();
  }

  next(): Promise<IteratorResult<WatchEvent>> {
    if (this.reason !== undefined) return Promise.resolve(DONE);
    if (this.waiter) return Promise.reject(new Error('watch: next() called while another next() is pending'));
    let ev: WatchEvent | undefined;
    try {
      ev = this.take();
    } catch (err) {
      return Promise.reject(err);
    }
    if (ev !== undefined) return Promise.resolve({ value: ev, done: false });
    if (this.reason !== undefined) return Promise.resolve(DONE);
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    return {
      next: () => this.next(),
      // `break` out of for-await closes the watch.
      return: () => {
        this.close();
        return Promise.resolve(DONE);
      },
    };
  }
}

/** The set of open watchers of one store. */
export class WatchHub {
  private readonly watchers = new Set<HubWatch>();

  /** @param lastRevision the store's last committed (and so published) revision. */
  constructor(readonly lastRevision: () => number) {}

  get size(): number {
    return this.watchers.size;
  }

  /**
   * Registers a watcher. The caller must read `opts.replayUpTo` (the last
   * published revision) in the same synchronous block as this call.
   */
  open(opts: HubWatchOptions): HubWatch {
    const w = new HubWatch(this, opts);
    if (opts.signal?.aborted) {
      w.end('aborted');
      return w;
    }
    this.watchers.add(w);
    return w;
  }

  /** @internal Called by HubWatch.end. */
  remove(w: HubWatch): void {
    this.watchers.delete(w);
  }

  /** Fans out one committed batch, in revision order. Never blocks on a consumer. */
  publish(events: readonly WatchEvent[]): void {
    if (this.watchers.size === 0 || events.length === 0) return;
    // Deleting from a Set while iterating it is safe: a watcher closed as slow is skipped after.
    for (const w of this.watchers) {
      for (const ev of events) {
        if (w.closeReason !== undefined) break;
        if (ev.kv.key.startsWith(w.prefix)) w.offer(ev);
      }
    }
  }

  /** Ends every watcher with `reason`. */
  closeAll(reason: WatchCloseReason): void {
    for (const w of [...this.watchers]) w.end(reason);
  }
}
