/**
 * The scheduling queue, after kube-scheduler's PriorityQueue. A pending pod is
 * in exactly one place at a time:
 * - active: ready to schedule, highest spec.priority first, then oldest first;
 * - backoff: failed recently, waits 1 s doubling per attempt up to 10 s;
 * - unschedulable: no node fits; waits for a cluster event that could change
 *   the verdict of a plugin that rejected it (NodeAdd, NodeUpdate,
 *   AssignedPodDelete, ...), or 5 minutes at most;
 * - in flight: popped and being scheduled or bound.
 *
 * Keys are pod UIDs. Informer handlers call add/update/delete at any time; the
 * scheduling loop pops, then reports the outcome with done / requeueUnschedulable /
 * requeueAfterError. A pod deleted while in flight is not requeued. An event
 * that arrives while a pod is in flight sends that pod to backoff instead of
 * unschedulable if it failed, so the event is not lost (moveRequestCycle).
 *
 * Time comes from the Clock: with a FakeClock, backoff expiry and the
 * unschedulable flush happen inside clock.advance(), synchronously.
 */
import type { Clock, TimerHandle } from '../../common/clock.js';
import { KeyedHeap } from './heap.js';
import type { PodInfo } from './podinfo.js';
import type { ClusterEvent } from './types.js';

export interface QueuedPodInfo {
  pi: PodInfo;
  /** When the pod entered the queue; orders pods of equal priority. */
  readonly timestamp: number;
  /** Scheduling attempts so far (incremented by pop). */
  attempts: number;
  /** Plugins that rejected the pod last time; empty = worth retrying on any event. */
  unschedulablePlugins: ReadonlySet<string>;
  /** When the last attempt failed; backoff counts from here. */
  lastFailure: number;
  /** The scheduling cycle that popped it last. */
  cycle: number;
  /** Its spec or labels changed while in flight: the verdict may be stale. */
  changedInFlight?: boolean;
}

export interface QueueOptions {
  clock: Clock;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Longest stay in unschedulable without any event (kube: podMaxInUnschedulablePodsDuration). */
  maxUnschedulableMs?: number;
  /** Plugin name -> events worth a retry; without it every event retries every pod. */
  pluginEvents?: ReadonlyMap<string, ReadonlySet<ClusterEvent>>;
}

const LEFTOVER_FLUSH_MS = 30_000;

function specChanged(a: PodInfo, b: PodInfo): boolean {
  return JSON.stringify(a.pod.spec) !== JSON.stringify(b.pod.spec) || JSON.stringify(a.labels) !== JSON.stringify(b.labels);
}

export class SchedulingQueue {
  private readonly clock: Clock;
  private readonly initialBackoff: number;
  private readonly maxBackoff: number;
  private readonly maxUnschedulable: number;
  private readonly pluginEvents?: ReadonlyMap<string, ReadonlySet<ClusterEvent>>;
  private readonly active = new KeyedHeap<QueuedPodInfo>(
    (q) => q.pi.uid,
    (a, b) => (a.pi.priority !== b.pi.priority ? a.pi.priority > b.pi.priority : a.timestamp < b.timestamp),
  );
  private readonly backoff = new KeyedHeap<QueuedPodInfo>(
    (q) => q.pi.uid,
    (a, b) => this.backoffExpiry(a) < this.backoffExpiry(b),
  );
  private readonly unschedulable = new Map<string, QueuedPodInfo>();
  private readonly inFlight = new Map<string, QueuedPodInfo>();
  /** The cycle at which each event kind last moved pods. */
  private readonly eventCycle = new Map<ClusterEvent, number>();
  private schedulingCycle = 0;
  private waiters: (() => void)[] = [];
  private backoffTimer: { timer: TimerHandle; due: number } | undefined;
  private leftoverTimer: TimerHandle | undefined;
  private closed = false;

  constructor(o: QueueOptions) {
    this.clock = o.clock;
    this.initialBackoff = o.initialBackoffMs ?? 1000;
    this.maxBackoff = o.maxBackoffMs ?? 10_000;
    this.maxUnschedulable = o.maxUnschedulableMs ?? 300_000;
    this.pluginEvents = o.pluginEvents;
    this.armLeftover();
  }

  /** Backoff after `attempts` attempts: initial * 2^(attempts-1), capped. */
  backoffDuration(attempts: number): number {
    let d = this.initialBackoff;
    for (let i = 1; i < attempts; i++) {
      d *= 2;
      if (d >= this.maxBackoff) return this.maxBackoff;
    }
    return Math.min(d, this.maxBackoff);
  }

  private backoffExpiry(q: QueuedPodInfo): number {
    return q.lastFailure + this.backoffDuration(q.attempts);
  }

  private isBackingOff(q: QueuedPodInfo): boolean {
    return q.attempts > 0 && this.backoffExpiry(q) > this.clock.now();
  }

  /** Adds a pending pod, or takes a newer version of one already known (wherever it is). */
  add(pi: PodInfo): void {
    if (this.closed) return;
    const uid = pi.uid;
    const flying = this.inFlight.get(uid);
    if (flying) {
      if (specChanged(flying.pi, pi)) flying.changedInFlight = true;
      flying.pi = pi;
      return;
    }
    const a = this.active.get(uid) ?? this.backoff.get(uid);
    if (a) {
      const old = a.pi;
      a.pi = pi;
      // Priority may have changed: restore heap order.
      if (this.active.has(uid)) this.active.push(a);
      else if (old.priority !== pi.priority) this.backoff.push(a);
      return;
    }
    const u = this.unschedulable.get(uid);
    if (u) {
      const changed = specChanged(u.pi, pi);
      u.pi = pi;
      // A pod whose spec or labels changed may fit now (kube: isPodUpdated).
      if (changed) this.moveOut(u);
      return;
    }
    this.active.push({ pi, timestamp: this.clock.now(), attempts: 0, unschedulablePlugins: new Set(), lastFailure: 0, cycle: 0 });
    this.wake();
  }

  /** Forgets a pod wherever it is (deleted, assigned elsewhere, no longer ours). */
  delete(uid: string): void {
    this.active.remove(uid);
    if (this.backoff.remove(uid)) this.armBackoff();
    this.unschedulable.delete(uid);
    this.inFlight.delete(uid);
  }

  has(uid: string): boolean {
    return this.active.has(uid) || this.backoff.has(uid) || this.unschedulable.has(uid) || this.inFlight.has(uid);
  }

  /** Takes the next pod to schedule, or undefined when none is ready. The pod is then in flight. */
  pop(): QueuedPodInfo | undefined {
    const q = this.active.pop();
    if (!q) return undefined;
    q.attempts++;
    q.cycle = ++this.schedulingCycle;
    q.changedInFlight = false;
    this.inFlight.set(q.pi.uid, q);
    return q;
  }

  /** The in-flight entry (with the newest PodInfo seen while in flight). */
  inFlightPod(uid: string): QueuedPodInfo | undefined {
    return this.inFlight.get(uid);
  }

  /** The pod was bound or dropped: it leaves the queue. */
  done(uid: string): void {
    this.inFlight.delete(uid);
  }

  /**
   * No node fits. The pod waits in unschedulable for an event relevant to
   * `plugins` — or goes to backoff if such an event already happened while it
   * was in flight. Ignored if the pod was deleted meanwhile.
   */
  requeueUnschedulable(uid: string, plugins: ReadonlySet<string>): void {
    const q = this.inFlight.get(uid);
    if (!q || this.closed) return;
    this.inFlight.delete(uid);
    q.unschedulablePlugins = plugins;
    q.lastFailure = this.clock.now();
    // A relevant event, or a change to the pod itself, during the cycle: do not wait for another.
    let missed = q.changedInFlight === true;
    for (const [ev, cycle] of this.eventCycle) if (cycle >= q.cycle && this.worthRetry(q, ev)) missed = true;
    if (missed) this.toBackoff(q);
    else this.unschedulable.set(uid, q);
  }

  /** An error (API failure, conflict) rather than a verdict: retry after backoff. */
  requeueAfterError(uid: string): void {
    const q = this.inFlight.get(uid);
    if (!q || this.closed) return;
    this.inFlight.delete(uid);
    q.unschedulablePlugins = new Set();
    q.lastFailure = this.clock.now();
    this.toBackoff(q);
  }

  private worthRetry(q: QueuedPodInfo, event: ClusterEvent): boolean {
    if (!this.pluginEvents || q.unschedulablePlugins.size === 0) return true;
    for (const p of q.unschedulablePlugins) if (this.pluginEvents.get(p)?.has(event)) return true;
    return false;
  }

  /** A cluster event: unschedulable pods it may help go to active (or backoff if still backing off). */
  moveAllToActiveOrBackoff(event: ClusterEvent): void {
    this.eventCycle.set(event, this.schedulingCycle);
    if (this.unschedulable.size === 0) return;
    for (const q of [...this.unschedulable.values()]) if (this.worthRetry(q, event)) this.moveOut(q);
  }

  private moveOut(q: QueuedPodInfo): void {
    this.unschedulable.delete(q.pi.uid);
    if (this.isBackingOff(q)) this.toBackoff(q);
    else {
      this.active.push(q);
      this.wake();
    }
  }

  private toBackoff(q: QueuedPodInfo): void {
    this.backoff.push(q);
    this.armBackoff();
  }

  /** Moves pods whose backoff expired to active. Timers call it; tests may too. */
  flushBackoffCompleted(): void {
    const now = this.clock.now();
    let moved = false;
    for (let top = this.backoff.peek(); top && this.backoffExpiry(top) <= now; top = this.backoff.peek()) {
      this.active.push(this.backoff.pop() as QueuedPodInfo);
      moved = true;
    }
    this.armBackoff();
    if (moved) this.wake();
  }

  /** Moves pods unschedulable for longer than maxUnschedulableMs back into play. */
  flushUnschedulableLeftover(): void {
    const now = this.clock.now();
    for (const q of [...this.unschedulable.values()]) if (now - q.lastFailure >= this.maxUnschedulable) this.moveOut(q);
  }

  private armBackoff(): void {
    const top = this.backoff.peek();
    const due = top ? this.backoffExpiry(top) : undefined;
    if (this.backoffTimer && this.backoffTimer.due === due) return;
    this.backoffTimer?.timer.cancel();
    this.backoffTimer = undefined;
    if (due === undefined || this.closed) return;
    this.backoffTimer = { due, timer: this.clock.after(due - this.clock.now(), () => ((this.backoffTimer = undefined), this.flushBackoffCompleted())) };
  }

  private armLeftover(): void {
    this.leftoverTimer = this.clock.after(LEFTOVER_FLUSH_MS, () => {
      this.flushUnschedulableLeftover();
      if (!this.closed) this.armLeftover();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  /** Resolves when a pod is ready to pop or the queue is closed. */
  wait(): Promise<void> {
    if (this.active.size > 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Stops timers and releases waiters; later adds are ignored. */
  close(): void {
    this.closed = true;
    this.backoffTimer?.timer.cancel();
    this.leftoverTimer?.cancel();
    this.wake();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  stats(): { active: number; backoff: number; unschedulable: number; inFlight: number } {
    return { active: this.active.size, backoff: this.backoff.size, unschedulable: this.unschedulable.size, inFlight: this.inFlight.size };
  }
}
