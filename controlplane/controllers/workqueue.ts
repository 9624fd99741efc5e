/**
 * The controllers' work queue, with client-go's semantics:
 *
 * - A key is queued at most once: adding a key that is already waiting is a no-op
 *   (dedupe), so a burst of events for one object costs one sync.
 * - A key is handed to at most one worker at a time. A key added while it is being
 *   processed is parked and re-queued when the worker calls `done(key)`, so the
 *   change is never lost and never processed concurrently.
 * - `addAfter` delays an add (the earliest pending delay for a key wins);
 *   `addRateLimited` delays by the key's exponential backoff, reset by `forget`.
 * - `shutDown` stops accepting keys, drops delayed adds and wakes idle workers
 *   with `undefined`; keys already handed out still get their `done`.
 *
 * Time comes from an injectable Clock, so backoff is testable without sleeping.
 */
import { realClock, type Clock, type TimerHandle } from './clock.js';

/** Per-key exponential backoff: base * 2^failures, capped. */
export class ExponentialBackoff {
  private failures = new Map<string, number>();

  /**
   * Kubernetes caps at 1000 s; a control plane for a few hosts is better served by
   * retrying a stuck object within a minute.
   */
  constructor(
    readonly baseMs = 5,
    readonly maxMs = 60_000,
  ) {}

  /** The delay for the next retry of `key`, counting this failure. */
  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return Math.min(this.maxMs, this.baseMs * 2 ** Math.min(n, 40));
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }
}

export interface WorkQueueOptions {
  clock?: Clock;
  backoff?: ExponentialBackoff;
}

export class WorkQueue {
  private readonly clock: Clock;
  private readonly backoff: ExponentialBackoff;
  private queue: string[] = [];
  /** Keys that need processing: waiting in `queue`, or parked while processing. */
  private dirty = new Set<string>();
  private processing = new Set<string>();
  private waiters: ((key: string | undefined) => void)[] = [];
  private delayed = new Map<string, { at: number; timer: TimerHandle }>();
  private idle: (() => void)[] = [];
  private stopped = false;

  constructor(opts: WorkQueueOptions = {}) {
    this.clock = opts.clock ?? realClock;
    this.backoff = opts.backoff ?? new ExponentialBackoff();
  }

  /** Marks `key` as needing a sync. No-op when already queued or after shutDown. */
  add(key: string): void {
    if (this.stopped || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return; // re-queued by done()
    const w = this.waiters.shift();
    if (w) {
      this.dirty.delete(key);
      this.processing.add(key);
      w(key);
    } else {
      this.queue.push(key);
    }
  }

  /** Adds `key` after `ms`; an earlier pending delayed add for the key is kept. */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + ms;
    const prev = this.delayed.get(key);
    if (prev && prev.at <= at) return;
    prev?.timer.cancel();
    const timer = this.clock.after(ms, () => {
      this.delayed.delete(key);
      this.add(key);
    });
    this.delayed.set(key, { at, timer });
  }

  /** Re-adds `key` after its backoff, which doubles with every call until `forget`. */
  addRateLimited(key: string): void {
    this.addAfter(key, this.backoff.when(key));
  }

  /** Resets the backoff of `key` (call after a successful sync). */
  forget(key: string): void {
    this.backoff.forget(key);
  }

  numRequeues(key: string): number {
    return this.backoff.numRequeues(key);
  }

  /**
   * The next key to process, waiting until one is available; undefined once the
   * queue is shut down. The caller must call `done(key)` when finished.
   */
  get(): Promise<string | undefined> {
    if (this.stopped) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Finishes processing `key`; a key added meanwhile goes back into the queue. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      if (this.stopped) this.dirty.delete(key);
      else {
        this.dirty.delete(key);
        this.add(key);
      }
    }
    if (this.processing.size === 0) for (const f of this.idle.splice(0)) f();
  }

  /** Keys waiting (not counting those being processed or delayed). */
  len(): number {
    return this.queue.length;
  }

  isShuttingDown(): boolean {
    return this.stopped;
  }

  /** Stops the queue; resolves when no key is being processed any more. */
  shutDown(): Promise<void> {
    this.stopped = true;
    for (const d of this.delayed.values()) d.timer.cancel();
    this.delayed.clear();
    this.queue = [];
    this.dirty.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }
}
