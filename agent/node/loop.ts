/**
 * A periodic task on an injectable clock, as the kubelet's node status and
 * lease loops: run, then wait `intervalMs` after it finished (never two runs
 * at once, no pile-up when a run is slow); a failed run is retried sooner,
 * with backoff doubling from `retryMs` up to the interval. Errors are logged,
 * never thrown: a control plane that is down must not crash the agent.
 */
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';

export interface LoopOptions {
  intervalMs: number;
  /** First retry delay after a failure (default 200 ms, as the kubelet's lease controller). */
  retryMs?: number;
  /** Longest retry delay (default the interval). */
  maxRetryMs?: number;
}

export class Loop {
  private timer?: TimerHandle;
  private running = false;
  private again = false;
  private stopped = true;
  private failures = 0;
  /** Resolves when the current run ends (for stop()). */
  private current: Promise<void> = Promise.resolve();

  constructor(
    private readonly name: string,
    private readonly clock: Clock,
    private readonly fn: () => Promise<void>,
    private readonly o: LoopOptions,
    private readonly log: Logger,
  ) {}

  /** Starts the loop: first run after `delayMs` (default at once). */
  start(delayMs = 0): void {
    this.stopped = false;
    this.schedule(delayMs);
  }

  /** Runs as soon as possible (after the current run, if one is in progress). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  /** Stops scheduling and waits for a run in progress to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    await this.current;
  }

  /** Consecutive failures so far (0 after a success). */
  get failureCount(): number {
    return this.failures;
  }

  private schedule(ms: number): void {
    this.timer?.cancel();
    this.timer = this.clock.after(ms, () => {
      this.timer = undefined;
      this.current = this.run();
    });
  }

  private async run(): Promise<void> {
    if (this.stopped || this.running) return;
    this.running = true;
    let next = this.o.intervalMs;
    try {
      await this.fn();
      this.failures = 0;
    } catch (e) {
      this.failures++;
      const base = this.o.retryMs ?? 200;
      next = Math.min(this.o.maxRetryMs ?? this.o.intervalMs, base * 2 ** Math.min(this.failures - 1, 20));
      this.log.warn({ loop: this.name, err: (e as Error).message, failures: this.failures, retryInMs: next }, `${this.name} failed; retrying`);
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    if (this.again) {
      this.again = false;
      next = 0;
    }
    this.schedule(next);
  }
}
