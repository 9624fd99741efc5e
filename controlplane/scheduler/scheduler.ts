/**
 * The scheduling loop: pop a pod, run one cycle (synchronous), assume the pod
 * on the chosen node, and bind it in the background while the next pod is
 * scheduled — binding is I/O, so up to `maxBindsInFlight` run at once.
 *
 * Outcomes:
 * - bound: Event `Scheduled`; the informer later confirms the assumption;
 * - 409 from the binding (someone else bound it, or it is being deleted) or
 *   404: the assumption is forgotten and the pod dropped — the informer brings
 *   whatever is true now;
 * - other binding failures: assumption forgotten, retried after backoff;
 * - no node fits: Event `FailedScheduling` with the FitError message, the pod's
 *   PodScheduled condition set False/Unschedulable, and the pod parked until a
 *   relevant cluster event.
 */
import type { Logger } from '../../common/log.js';
import type { SchedulerCache } from './cache.js';
import type { Clock } from '../../common/clock.js';
import type { EventRecorder, EventTarget } from './events.js';
import { FitError, type Framework } from './framework.js';
import type { PodInfo } from './podinfo.js';
import type { QueuedPodInfo, SchedulingQueue } from './queue.js';
import { podPath, type RestClient } from './rest.js';

/** The API calls the loop makes; answers are HTTP statuses (0 = transport failure). */
export interface SchedulerApi {
  bind(pi: PodInfo, node: string): Promise<{ status: number; message?: string }>;
  patchStatus(pi: PodInfo, patch: Record<string, unknown>): Promise<{ status: number; message?: string }>;
}

export function restSchedulerApi(rest: RestClient): SchedulerApi {
  return {
    async bind(pi, node) {
      const r = await rest.request('POST', podPath(pi.namespace, pi.name, 'binding'), {
        apiVersion: 'v1',
        kind: 'Binding',
        metadata: { name: pi.name, namespace: pi.namespace, uid: pi.uid },
        target: { apiVersion: 'v1', kind: 'Node', name: node },
      });
      return { status: r.status, message: r.body?.message };
    },
    async patchStatus(pi, patch) {
      const r = await rest.request('PATCH', podPath(pi.namespace, pi.name, 'status'), patch, 'application/strategic-merge-patch+json');
      return { status: r.status, message: r.body?.message };
    },
  };
}

export interface SchedulerStats {
  /** Scheduling cycles run. */
  attempts: number;
  /** Successful bindings. */
  bound: number;
  /** Cycles that found no node. */
  unschedulable: number;
  /** Bindings answered 409/404 (pod bound elsewhere or gone): dropped. */
  conflicts: number;
  /** Other binding failures: retried. */
  bindErrors: number;
  /** Sum of binding round trips (ms), over bound + conflicts + bindErrors calls. */
  bindMsTotal: number;
  /** performance.now() when the first pending pod of ours was seen, and of the last binding. */
  firstPendingAt?: number;
  lastBoundAt?: number;
}

export interface SchedulerDeps {
  cache: SchedulerCache;
  queue: SchedulingQueue;
  framework: Framework;
  api: SchedulerApi;
  recorder: EventRecorder;
  clock: Clock;
  log: Logger;
  maxBindsInFlight?: number;
}

/**
 * Run at most this long between yields to the event loop. Short, because a
 * binding response or watch event waiting behind a scheduling slice delays the
 * next binding, which then misses the API server's next group commit; with
 * 10 ms slices we measured event-loop delays of 30 ms (p99) during bursts.
 */
const SLICE_MS = 2;

const target = (pi: PodInfo): EventTarget => ({ namespace: pi.namespace, name: pi.name, uid: pi.uid, resourceVersion: pi.pod.metadata?.resourceVersion });

export class Scheduler {
  readonly stats: SchedulerStats = { attempts: 0, bound: 0, unschedulable: 0, conflicts: 0, bindErrors: 0, bindMsTotal: 0 };
  private binding = 0;
  private readonly maxBinds: number;
  private slotWaiter: (() => void) | undefined;
  private readonly bindings = new Set<Promise<void>>();

  constructor(private readonly d: SchedulerDeps) {
    this.maxBinds = d.maxBindsInFlight ?? 32;
  }

  /** Schedules until the queue is closed. */
  async run(): Promise<void> {
    const { queue } = this.d;
    let slice = performance.now();
    while (!queue.isClosed) {
      if (this.binding >= this.maxBinds) {
        await new Promise<void>((r) => (this.slotWaiter = r));
        continue;
      }
      const q = queue.pop();
      if (!q) {
        await queue.wait();
        slice = performance.now();
        continue;
      }
      try {
        this.scheduleOne(q);
      } catch (e) {
        this.d.log.error({ err: e, pod: `${q.pi.namespace}/${q.pi.name}` }, 'scheduling cycle failed');
        queue.requeueAfterError(q.pi.uid);
      }
      if (performance.now() - slice > SLICE_MS) {
        await new Promise((r) => setImmediate(r));
        slice = performance.now();
      }
    }
  }

  /** Releases a loop waiting for a binding slot (on stop). */
  wake(): void {
    this.slotWaiter?.();
    this.slotWaiter = undefined;
  }

  /** Waits for bindings in flight to settle. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.bindings]);
  }

  /** One cycle for a popped pod; the binding continues in the background. */
  scheduleOne(q: QueuedPodInfo): void {
    const { cache, queue, framework, clock } = this.d;
    const pi = q.pi;
    // Deleted meanwhile, or already assumed/assigned (an informer event raced the queue): nothing to do.
    if (pi.deleting || pi.nodeName || cache.hasPod(pi.uid)) {
      queue.done(pi.uid);
      return;
    }
    this.stats.attempts++;
    const result = framework.schedule(pi, cache, clock.now());
    if (result instanceof FitError) {
      this.unschedulable(pi, result);
      return;
    }
    cache.assume(pi, result.node);
    this.binding++;
    const p = this.bind(pi, result.node).finally(() => {
      this.bindings.delete(p);
      this.binding--;
      this.wake();
    });
    this.bindings.add(p);
  }

  private async bind(pi: PodInfo, node: string): Promise<void> {
    const { cache, queue, recorder, log } = this.d;
    let r: { status: number; message?: string };
    const t0 = performance.now();
    try {
      r = await this.d.api.bind(pi, node);
    } catch (e) {
      r = { status: 0, message: (e as Error).message };
    }
    this.stats.bindMsTotal += performance.now() - t0;
    if (r.status >= 200 && r.status < 300) {
      queue.done(pi.uid);
      this.stats.bound++;
      this.stats.lastBoundAt = performance.now();
      recorder.record(target(pi), 'Normal', 'Scheduled', `Successfully assigned ${pi.namespace}/${pi.name} to ${node}`);
      return;
    }
    const wasAssumed = cache.isAssumed(pi.uid);
    cache.forget(pi.uid);
    // What we reserved is free again: pods waiting for room may fit now (kube does the same).
    if (wasAssumed) queue.moveAllToActiveOrBackoff('AssignedPodDelete');
    if (r.status === 409 || r.status === 404) {
      log.debug({ pod: `${pi.namespace}/${pi.name}`, status: r.status, message: r.message }, 'binding refused; dropping pod');
      this.stats.conflicts++;
      queue.done(pi.uid);
      return;
    }
    log.warn({ pod: `${pi.namespace}/${pi.name}`, node, status: r.status, message: r.message }, 'binding failed; retrying after backoff');
    this.stats.bindErrors++;
    queue.requeueAfterError(pi.uid);
    recorder.record(target(pi), 'Warning', 'FailedScheduling', `Binding rejected: ${r.message ?? `status ${r.status}`}`);
  }

  private unschedulable(pi: PodInfo, err: FitError): void {
    this.stats.unschedulable++;
    const msg = err.message;
    this.d.queue.requeueUnschedulable(pi.uid, err.plugins);
    this.d.recorder.record(target(pi), 'Warning', 'FailedScheduling', msg);
    void this.setUnschedulableCondition(pi, msg);
  }

  /** PodScheduled=False/Unschedulable with the message, unless the pod already says exactly that. */
  private async setUnschedulableCondition(pi: PodInfo, message: string): Promise<void> {
    const cur = pi.pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (cur?.status === 'False' && cur.reason === 'Unschedulable' && cur.message === message) return;
    const now = new Date(this.d.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const condition = {
      type: 'PodScheduled',
      status: 'False',
      reason: 'Unschedulable',
      message,
      lastProbeTime: null,
      // The transition time moves only when the status flips.
      lastTransitionTime: cur?.status === 'False' && cur.lastTransitionTime ? cur.lastTransitionTime : now,
    };
    try {
      const r = await this.d.api.patchStatus(pi, { status: { conditions: [condition] } });
      if (r.status >= 300 && r.status !== 404) this.d.log.warn({ pod: `${pi.namespace}/${pi.name}`, status: r.status, message: r.message }, 'could not set PodScheduled condition');
    } catch (e) {
      this.d.log.warn({ err: e, pod: `${pi.namespace}/${pi.name}` }, 'could not set PodScheduled condition');
    }
  }
}
