/**
 * Group commit: writes submitted close together are applied in ONE transaction,
 * so one fsync covers the whole batch.
 *
 * Contract:
 * - Operations are applied in submission order; `apply` sees them in that order
 *   inside one transaction and returns one result per operation.
 * - No promise settles before `apply` returned, i.e. before the batch committed:
 *   a resolved write is durable. If `apply` throws, the batch rolled back and
 *   every operation in it rejects with that error.
 * - A flush is scheduled with setImmediate on the first submission, so every
 *   write issued in the current turn of the event loop (including promise
 *   continuations of the previous batch) joins the same batch.
 */

interface Pending<Op, R> {
  op: Op;
  resolve: (r: R) => void;
  reject: (err: unknown) => void;
}

export class GroupCommit<Op, R> {
  private queue: Pending<Op, R>[] = [];
  private scheduled: NodeJS.Immediate | undefined;

  /**
   * @param apply runs the batch in one transaction, synchronously; returns one result per op.
   * @param maxBatch caps a transaction so one huge burst does not hold the event loop for long.
   */
  constructor(
    private readonly apply: (ops: readonly Op[]) => R[],
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
    this.scheduled ??= setImmediate(() => {
      this.scheduled = undefined;
      this.commitOne();
      // More than maxBatch waiting: let reads and I/O run between transactions.
      if (this.queue.length > 0) this.schedule();
    });
  }

  /** Number of operations waiting for a batch. */
  get pending(): number {
    return this.queue.length;
  }

  /** Commits everything queued now, in batches of at most maxBatch. Synchronous. */
  flush(): void {
    if (this.scheduled) {
      clearImmediate(this.scheduled);
      this.scheduled = undefined;
    }
    while (this.queue.length > 0) this.commitOne();
  }

  private commitOne(): void {
    const batch = this.queue.splice(0, this.maxBatch);
    if (batch.length === 0) return;
    let results: R[];
    try {
      results = this.apply(batch.map((p) => p.op));
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    batch.forEach((p, i) => p.resolve(results[i] as R));
  }
}
