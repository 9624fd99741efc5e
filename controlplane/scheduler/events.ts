/**
 * Event recording for the scheduler (core/v1 Events, as client-go's recorder
 * writes them for kube-scheduler: `Scheduled`, `FailedScheduling`).
 *
 * Contracts:
 * - record() never blocks and never throws; writes happen in the background,
 *   at most `concurrency` at a time, after bindings in priority (events are
 *   best-effort, as in Kubernetes).
 * - Repeats aggregate: the same (object uid, type, reason) updates one Event —
 *   count, lastTimestamp and the latest message — through a PATCH, instead of
 *   creating one object per scheduling attempt. Records made while a write for
 *   the same event is queued coalesce into that write.
 * - At most `maxQueued` distinct events wait for a write; beyond that new ones
 *   are dropped and counted (client-go drops past 1000 queued events too), so a
 *   burst of thousands of pods cannot starve the bindings of the API server.
 */
import { hostname } from 'node:os';
import type { Clock } from '../../common/clock.js';
import type { RestClient } from './rest.js';

export interface EventTarget {
  namespace: string;
  name: string;
  uid: string;
  resourceVersion?: string;
}

/** Where events go; answers are HTTP statuses. */
export interface EventSink {
  create(namespace: string, event: Record<string, unknown>): Promise<number>;
  patch(namespace: string, name: string, patch: Record<string, unknown>): Promise<number>;
}

export function restEventSink(rest: RestClient): EventSink {
  const path = (ns: string, name?: string): string => `/api/v1/namespaces/${encodeURIComponent(ns)}/events${name ? `/${encodeURIComponent(name)}` : ''}`;
  return {
    create: async (ns, ev) => (await rest.request('POST', path(ns), ev)).status,
    patch: async (ns, name, p) => (await rest.request('PATCH', path(ns, name), p, 'application/merge-patch+json')).status,
  };
}

export interface RecorderOptions {
  clock: Clock;
  component?: string;
  maxQueued?: number;
  concurrency?: number;
  /** Aggregation memory: distinct events remembered (least recently used forgotten first). */
  maxTracked?: number;
}

interface Entry {
  target: EventTarget;
  type: string;
  reason: string;
  message: string;
  count: number;
  first: number;
  last: number;
  /** Name of the Event object once created. */
  name?: string;
  /** Count the API has seen. */
  written: number;
  queued: boolean;
  writing: boolean;
}

const rfc3339 = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export class EventRecorder {
  private readonly clock: Clock;
  private readonly component: string;
  private readonly instance: string;
  private readonly maxQueued: number;
  private readonly concurrency: number;
  private readonly maxTracked: number;
  private readonly tracked = new Map<string, Entry>();
  private queue: Entry[] = [];
  private inFlight = 0;
  private seq = 0;
  private idle: (() => void)[] = [];
  readonly stats = { created: 0, patched: 0, dropped: 0, failed: 0 };

  constructor(
    private readonly sink: EventSink,
    o: RecorderOptions,
  ) {
    this.clock = o.clock;
    this.component = o.component ?? 'default-scheduler';
    this.instance = `${this.component}-${hostname()}`;
    this.maxQueued = o.maxQueued ?? 1000;
    this.concurrency = o.concurrency ?? 1;
    this.maxTracked = o.maxTracked ?? 4096;
  }

  record(target: EventTarget, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const key = `${target.uid}\u0000${type}\u0000${reason}`;
    const now = this.clock.now();
    let e = this.tracked.get(key);
    if (e) this.tracked.delete(key);
    else e = { target, type, reason, message, count: 0, first: now, last: now, written: 0, queued: false, writing: false };
    e.count++;
    e.last = now;
    e.message = message;
    e.target = target;
    // Re-insert to keep the Map in least-recently-used order.
    this.tracked.set(key, e);
    if (this.tracked.size > this.maxTracked) this.tracked.delete(this.tracked.keys().next().value as string);
    this.enqueue(e);
  }

  private enqueue(e: Entry): void {
    if (e.queued || e.writing) return; // the pending write picks up the new count
    if (this.queue.length >= this.maxQueued) {
      this.stats.dropped++;
      return;
    }
    e.queued = true;
    this.queue.push(e);
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < this.concurrency && this.queue.length) {
      const e = this.queue.shift() as Entry;
      e.queued = false;
      e.writing = true;
      this.inFlight++;
      void this.write(e).finally(() => {
        e.writing = false;
        this.inFlight--;
        if (e.count > e.written) this.enqueue(e);
        this.pump();
        if (this.inFlight === 0 && this.queue.length === 0) for (const fn of this.idle.splice(0)) fn();
      });
    }
  }

  private newName(e: Entry): string {
    // client-go: "<object name>.<unix nanos in hex>"; the sequence keeps names unique within a millisecond.
    const nanos = BigInt(this.clock.now()) * 1_000_000n + BigInt(this.seq++ % 1_000_000);
    return `${e.target.name}.${nanos.toString(16)}`;
  }

  private async write(e: Entry): Promise<void> {
    const count = e.count;
    const ns = e.target.namespace;
    try {
      if (e.name) {
        const status = await this.sink.patch(ns, e.name, { count, lastTimestamp: rfc3339(e.last), message: e.message });
        if (status >= 200 && status < 300) {
          e.written = count;
          this.stats.patched++;
          return;
        }
        if (status !== 404) {
          this.stats.failed++;
          e.written = count; // do not retry forever; the next record tries again
          return;
        }
        e.name = undefined; // deleted (TTL, cleanup): start a new Event
      }
      const name = this.newName(e);
      const status = await this.sink.create(ns, this.eventObject(e, name, count));
      if (status >= 200 && status < 300) {
        e.name = name;
        this.stats.created++;
      } else this.stats.failed++;
      e.written = count;
    } catch {
      this.stats.failed++;
      e.written = count;
    }
  }

  private eventObject(e: Entry, name: string, count: number): Record<string, unknown> {
    const t = e.target;
    return {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: t.namespace },
      involvedObject: { kind: 'Pod', apiVersion: 'v1', namespace: t.namespace, name: t.name, uid: t.uid, ...(t.resourceVersion ? { resourceVersion: t.resourceVersion } : {}) },
      reason: e.reason,
      message: e.message,
      type: e.type,
      source: { component: this.component },
      firstTimestamp: rfc3339(e.first),
      lastTimestamp: rfc3339(e.last),
      count,
      reportingComponent: this.component,
      reportingInstance: this.instance,
    };
  }

  /** Resolves once every queued write has finished (for tests and orderly shutdown). */
  flush(): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Abandons queued writes (in-flight ones finish on their own). */
  discard(): void {
    for (const e of this.queue) e.queued = false;
    this.queue = [];
  }
}
