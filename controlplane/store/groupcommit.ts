/**
 * Group commit: writes submitted close together are applied in ONE transaction,
 * so one fsync covers the whole batch.
 *
 * Contract:
 * - Operations are applied in submission order; `apply` sees them in that order
 *   inside one transaction and returns one result per operation, either
 *   directly (a synchronous transaction) or as a promise (a transaction run
 *   elsewhere, e.g. on the store's writer thread).
 * - No promise settles before `apply` returned or its promise resolved, i.e.
 *   before the batch committed: a resolved write is durable. If `apply` throws
 *   or its promise rejects, the batch rolled back and every operation in it
 *   rejects with that error.
 * - A flush is scheduled with setImmediate on the first submission, so every
 *   write issued in the current turn of the event loop (including promise
 *   continuations of the previous batch) joins the same batch.
 * - Pipelining: at most one batch is in flight. Writes submitted while it
 *   commits queue here and go together as the next batch once it settled
 *   (again after a setImmediate, so its writers' continuations join too).
 */

interface Pending<Op, R> {
  op: Op;
  resolve: (r: R) => void;
  reject: (err: unknown) => void;
}

export class GroupCommit<Op, R> {
  private queue: Pending<Op, R>[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  /** The batch whose asynchronous `apply` has not settled yet (never rejects). */
  private inflight: Promise<void> | undefined;

  /**
   * @param apply runs the batch in one transaction; returns one result per op, or a promise of them.
   * @param maxBatch caps a transaction so one huge burst does not hold the event loop for long.
   */
  constructor(
    private readonly apply: (ops: readonly Op[]) => R[] | Promise<R[]>,
    private readonly maxBatch = 1000,
  ) {}

  /** Queues `op`; resolves with its result once its batch has committed. */
  submit(op: Op): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ op, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    // The batch in flight schedules the next one when it settles.
    if (this.inflight) return;
    this.scheduled ??= setImmediate(() => {
      this.scheduled = undefined;
      this.commitOne();
      // More than maxBatch waiting: let reads and I/O run between transactions.
      if (this.queue.length > 0) this.schedule();
    });
  }

  /** Number of operations waiting for a batch (not counting the one in flight). */
  get pending(): number {
    return this.queue.length;
  }

  /** True while an asynchronous batch is committing. */
  get busy(): boolean {
    return this.inflight !== undefined;
  }

  /**
   * Commits everything queued now, in batches of at most maxBatch, when `apply`
   * is synchronous. With an asynchronous `apply` it can only hand over the next
   * batch; use `drain()`.
   */
  flush(): void {
    this.cancelScheduled();
    while (this.queue.length > 0 && !this.inflight) this.commitOne();
  }

  /** Resolves once every operation queued so far, and any submitted meanwhile, has settled. */
  async drain(): Promise<void> {
    for (;;) {
      if (this.inflight) {
        await this.inflight;
        continue;
      }
      if (this.queue.length === 0) return;
      this.cancelScheduled();
      this.commitOne();
    }
  }

  private cancelScheduled(): void {
    if (this.scheduled) {
      clearImmediate(this.scheduled);
      this.scheduled = undefined;
    }
  }

  private commitOne(): void {
    const batch = this.queue.splice(0, this.maxBatch);
    if (batch.length === 0) return;
    let out: R[] | Promise<R[]>;
    try {
      out = this.apply(batch.map((p) => p.op));
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    if (Array.isArray(out)) {
      settle(batch, out);
      return;
    }
    this.inflight = out.then(
      (results) => {
        this.inflight = undefined;
        settle(batch, results);
        if (this.queue.length > 0) this.schedule();
      },
      (err: unknown) => {
        this.inflight = undefined;
        for (const p of batch) p.reject(err);
        if (this.queue.length > 0) this.schedule();
      },
    );
  }
}

function settle<Op, R>(batch: readonly Pending<Op, R>[], results: readonly R[]): void {
  batch.forEach((p, i) => p.resolve(results[i] as R));
}
