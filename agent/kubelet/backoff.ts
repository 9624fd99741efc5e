/**
 * Crash-loop backoff per (pod uid, container name), as the kubelet keys it:
 * the first restart is immediate; after that a container that exited waits
 * 10 s, then 20 s, 40 s ... up to 300 s, counted from when it finished. An
 * entry not touched for twice the maximum is forgotten, so a container that ran
 * well for ten minutes starts again from 10 s.
 */
export const INITIAL_BACKOFF_MS = 10_000;
export const MAX_BACKOFF_MS = 300_000;

interface Entry {
  delay: number;
  updated: number;
}

export class Backoff {
  private entries = new Map<string, Entry>();

  constructor(
    private readonly initial = INITIAL_BACKOFF_MS,
    private readonly max = MAX_BACKOFF_MS,
  ) {}

  static key(uid: string, container: string): string {
    return `${uid}/${container}`;
  }

  /** Until when a restart must wait (ms epoch), or undefined when it may go now. */
  waitUntil(key: string, finishedAt: number, now: number): number | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (now - e.updated > 2 * this.max) {
      this.entries.delete(key);
      return undefined;
    }
    const until = finishedAt + e.delay;
    return now < until ? until : undefined;
  }

  /** Records a restart: the next one waits twice as long. */
  next(key: string, now: number): void {
    const e = this.entries.get(key);
    if (!e || now - e.updated > 2 * this.max) this.entries.set(key, { delay: this.initial, updated: now });
    else this.entries.set(key, { delay: Math.min(e.delay * 2, this.max), updated: now });
  }

  /** Forgets a pod's entries (the pod is gone). */
  forgetPod(uid: string): void {
    for (const k of this.entries.keys()) if (k.startsWith(`${uid}/`)) this.entries.delete(k);
  }
}
