/**
 * The shape every controller shares: event handlers enqueue keys, workers take
 * keys off a WorkQueue and call `sync(key)`. A sync that throws is retried with
 * the key's backoff; one that returns is forgotten (backoff reset). Workers
 * start only after the informers the controller reads have synced.
 */
import type { Logger } from '../../common/log.js';
import type { Clock } from './clock.js';
import { realClock } from './clock.js';
import type { Api } from './client.js';
import { ApiError } from './client.js';
import type { InformerFactory } from './informer.js';
import { WorkQueue } from './workqueue.js';

/** What every controller gets. */
export interface ControllerContext {
  api: Api;
  informers: InformerFactory;
  clock: Clock;
  log: Logger;
}

export abstract class QueueController {
  readonly queue: WorkQueue;
  protected readonly api: Api;
  protected readonly clock: Clock;
  protected readonly log: Logger;
  private workers: Promise<void>[] = [];

  constructor(
    readonly name: string,
    protected readonly ctx: ControllerContext,
  ) {
    this.api = ctx.api;
    this.clock = ctx.clock ?? realClock;
    this.log = ctx.log.child({ controller: name });
    this.queue = new WorkQueue({ clock: this.clock });
  }

  /**
   * Reconciles one key against the cache. Must be idempotent; an object that is
   * gone is success. Throw to be retried with backoff.
   */
  abstract sync(key: string): Promise<void>;

  /** Runs once after caches synced, before workers start (e.g. to rebuild allocator state). */
  protected async beforeStart(): Promise<void> {}

  /** Starts `n` workers. Call after the informers synced. */
  async run(n = 2): Promise<void> {
    await this.beforeStart();
    for (let i = 0; i < n; i++) this.workers.push(this.worker());
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.sync(key);
        this.queue.forget(key);
      } catch (e) {
        // Conflicts are routine (a stale cache raced a write): retry quietly.
        const quiet = e instanceof ApiError && (e.code === 409 || e.code === 404);
        this.log[quiet ? 'debug' : 'warn']({ key, err: (e as Error).message, retries: this.queue.numRequeues(key) }, 'sync failed; requeueing');
        this.queue.addRateLimited(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  /** Stops taking keys and waits for syncs in flight. */
  async stop(): Promise<void> {
    await this.queue.shutDown();
    await Promise.all(this.workers);
  }
}
