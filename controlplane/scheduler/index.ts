/**
 * Skiff's scheduler: assigns pending pods to nodes the way kube-scheduler's
 * default profile does, as a client of the API server.
 *
 *   informers (nodes, pods) -> cache (nodes + assigned/assumed pods)
 *                           -> queue (pending pods of our schedulerName)
 *   loop: pop -> filter/score (framework + plugins) -> assume -> bind (async)
 *
 * Pods enter the queue when they have no nodeName, our schedulerName and no
 * deletionTimestamp; pods of other schedulers are left alone. Assigned pods in
 * a terminal phase count as gone (they hold no resources).
 *
 * startScheduler resolves once both caches have synced and the loop runs;
 * stop() (or aborting `signal`) stops the informers and the loop, lets
 * bindings in flight finish, and gives queued events a moment to be written.
 *
 * Run one scheduler per schedulerName and cluster: there is no leader election
 * yet, and two instances do not see each other's assumptions, so they could
 * over-commit a node between them (one pod bound by both is safe: the second
 * binding gets 409 and is dropped).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { logger } from '../../common/log.js';
import { SchedulerCache } from './cache.js';
import { realClock, type Clock } from '../../common/clock.js';
import { EventRecorder, restEventSink } from './events.js';
import { Framework } from './framework.js';
import { startInformer, type RunningInformer } from './informers.js';
import { isTerminal, type Node, type Pod } from './objects.js';
import { newPodInfo } from './podinfo.js';
import { SchedulingQueue } from './queue.js';
import { buildProfile, type ProfileConfig } from './registry.js';
import { RestClient } from './rest.js';
import { restSchedulerApi, Scheduler, type SchedulerStats } from './scheduler.js';

export { USAGE_ANNOTATION, formatUsage, parseUsage } from './objects.js';
export { DEFAULT_PROFILE, REGISTRY, type ProfileConfig } from './registry.js';
export type { Clock } from '../../common/clock.js';
export type { SchedulerStats } from './scheduler.js';

export interface SchedulerOptions {
  kubeconfig: KubeConfig;
  /** Pods with this spec.schedulerName are ours (default 'default-scheduler'). */
  schedulerName?: string;
  signal?: AbortSignal;
  /** 0/unset: kube-scheduler's adaptive percentage; 1-100: fixed. */
  percentageOfNodesToScore?: number;
  clock?: Clock;
  profile?: ProfileConfig;
  /** Bindings in flight at once (default 32). */
  maxBindsInFlight?: number;
}

export interface StatsSnapshot extends SchedulerStats {
  queue: { active: number; backoff: number; unschedulable: number; inFlight: number };
  events: { created: number; patched: number; dropped: number; failed: number };
  nodes: number;
  pods: number;
}

export interface SchedulerHandle {
  stop(): Promise<void>;
  stats(): StatsSnapshot;
}

const EVENT_FLUSH_ON_STOP_MS = 2000;

export async function startScheduler(opts: SchedulerOptions): Promise<SchedulerHandle> {
  const schedulerName = opts.schedulerName ?? 'default-scheduler';
  const clock = opts.clock ?? realClock;
  const log = logger('scheduler');
  const profile = buildProfile(opts.profile);
  const rest = await RestClient.create(opts.kubeconfig);
  const cache = new SchedulerCache();
  const queue = new SchedulingQueue({ clock, pluginEvents: profile.events });
  const recorder = new EventRecorder(restEventSink(rest), { clock, component: schedulerName });
  const framework = new Framework(profile, { percentageOfNodesToScore: opts.percentageOfNodesToScore });
  const scheduler = new Scheduler({ cache, queue, framework, api: restSchedulerApi(rest), recorder, clock, log, maxBindsInFlight: opts.maxBindsInFlight });

  const nodeHandlers = {
    upsert(node: Node): void {
      const ev = cache.setNode(node);
      if (ev) queue.moveAllToActiveOrBackoff(ev);
    },
    remove(node: Node): void {
      cache.removeNode(node.metadata?.name ?? '');
    },
  };
  const podHandlers = {
    upsert(pod: Pod): void {
      if (isTerminal(pod)) return podHandlers.remove(pod);
      const pi = newPodInfo(pod);
      if (pi.nodeName) {
        // Assigned (by us or anyone): it is no longer pending; account it.
        queue.delete(pi.uid);
        queue.moveAllToActiveOrBackoff(cache.addOrUpdatePod(pi));
        return;
      }
      // Our binding is in flight and the informer has not caught up: keep the assumption.
      if (cache.isAssumed(pi.uid)) return;
      if (pi.schedulerName !== schedulerName || pi.deleting) {
        queue.delete(pi.uid);
        return;
      }
      scheduler.stats.firstPendingAt ??= performance.now();
      queue.add(pi);
    },
    remove(pod: Pod): void {
      const uid = pod.metadata?.uid ?? '';
      if (cache.removePod(uid)) queue.moveAllToActiveOrBackoff('AssignedPodDelete');
      queue.delete(uid);
    },
  };

  const ac = new AbortController();
  const onAbort = (): void => ac.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) ac.abort();
  const informers: RunningInformer[] = [];
  // Connections for the bindings, opened while the caches fill (not awaited).
  void rest.warm(opts.maxBindsInFlight ?? 32);
  try {
    // Nodes first, so the first pods popped see every node.
    informers.push(await startInformer<Node>(opts.kubeconfig, rest, '/api/v1/nodes', nodeHandlers, log, ac.signal));
    informers.push(await startInformer<Pod>(opts.kubeconfig, rest, '/api/v1/pods', podHandlers, log, ac.signal));
  } catch (e) {
    await Promise.all(informers.map((i) => i.stop()));
    queue.close();
    await rest.close();
    throw e;
  }
  log.info({ schedulerName, nodes: cache.nodes.length, pending: queue.stats().active }, 'scheduler started');
  const loop = scheduler.run().catch((e) => log.error({ err: e }, 'scheduling loop crashed'));

  const doStop = async (): Promise<void> => {
    // Let stop() record its promise before abort listeners call it again.
    await null;
    opts.signal?.removeEventListener('abort', onAbort);
    ac.abort();
    await Promise.all(informers.map((i) => i.stop()));
    queue.close();
    scheduler.wake();
    await loop;
    await scheduler.drain();
    await Promise.race([recorder.flush(), new Promise((r) => setTimeout(r, EVENT_FLUSH_ON_STOP_MS).unref())]);
    recorder.discard();
    await rest.close();
    log.info('scheduler stopped');
  };
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= doStop());
  ac.signal.addEventListener('abort', () => void stop(), { once: true });

  return {
    stop,
    stats: () => ({ ...scheduler.stats, queue: queue.stats(), events: { ...recorder.stats }, nodes: cache.nodes.length, pods: cache.podCount }),
  };
}
