/**
 * One serialized worker per pod UID (the kubelet's podWorkers): `update(uid)`
 * asks for a sync; a worker never runs two syncs of one pod at once, and
 * requests that arrive during a sync coalesce into one more sync, which reads
 * the latest desired state then. Different pods sync in parallel, up to
 * `parallelism` at a time. A failed sync is retried with backoff (1 s doubling
 * to 30 s); `after(uid, ms)` schedules a sync (backoff expiry, grace periods).
 */
import type { Logger } from '../../common/log.js';

interface Worker {
  running: boolean;
  again: boolean;
  failures: number;
  timer?: NodeJS.Timeout;
  timerAt?: number;
}

export class PodWorkers {
  private workers = new Map<string, Worker>();
  private active = 0;
  private waiting: (() => void)[] = [];
  private stopped = false;

  constructor(
    private readonly sync: (uid: string) => Promise<'done' | 'keep'>,
    private readonly log: Logger,
    private readonly parallelism = 16,
  ) {}

  update(uid: string): void {
    if (this.stopped) return;
    let w = this.workers.get(uid);
    if (!w) this.workers.set(uid, (w = { running: false, again: false, failures: 0 }));
    if (w.running) {
      w.again = true;
      return;
    }
    w.running = true;
    void this.run(uid, w);
  }

  /** Syncs `uid` again in `ms` (the earliest pending request wins). */
  after(uid: string, ms: number): void {
    const w = this.workers.get(uid);
    if (!w || this.stopped) return;
    const at = Date.now() + ms;
    if (w.timer && w.timerAt !== undefined && w.timerAt <= at) return;
    if (w.timer) clearTimeout(w.timer);
    w.timerAt = at;
    w.timer = setTimeout(() => {
      w.timer = undefined;
      w.timerAt = undefined;
      this.update(uid);
    }, Math.max(0, ms));
    w.timer.unref?.();
  }

  has(uid: string): boolean {
    return this.workers.has(uid);
  }

  uids(): string[] {
    return [...this.workers.keys()];
  }

  private async slot(): Promise<void> {
    if (this.active < this.parallelism) {
      this.active++;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }

  private async run(uid: string, w: Worker): Promise<void> {
    for (;;) {
      w.again = false;
      await this.slot();
      let result: 'done' | 'keep' = 'keep';
      try {
        result = await this.sync(uid);
        w.failures = 0;
      } catch (e) {
        w.failures++;
        const delay = Math.min(30_000, 1000 * 2 ** Math.min(w.failures - 1, 5));
        this.log.warn({ uid, err: (e as Error).message, retryInMs: delay }, 'pod sync failed');
        this.after(uid, delay);
      } finally {
        this.release();
      }
      if (this.stopped) return;
      if (result === 'done' && !w.again) {
        if (w.timer) clearTimeout(w.timer);
        this.workers.delete(uid);
        return;
      }
      if (!w.again) {
        w.running = false;
        return;
      }
    }
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.workers.values()) if (w.timer) clearTimeout(w.timer);
  }
}
