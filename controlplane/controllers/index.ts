/**
 * The controller manager: builds the enabled controllers over one shared
 * informer factory, starts the informers, waits for every cache to sync, then
 * starts each controller's workers. `stop()` (or aborting `signal`) shuts the
 * queues down, waits for syncs in flight, and stops the informers.
 */
import { clientNodeSource } from './clientnode.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { logger } from '../../common/log.js';
import { realClock, type Clock } from './clock.js';
import { ApiClient } from './client.js';
import type { ControllerContext, QueueController } from './controller.js';
import { DaemonSetController } from './daemonset.js';
import { DeploymentController } from './deployment.js';
import { EndpointsController } from './endpoints.js';
import { EndpointSliceController } from './endpointslice.js';
import { GarbageCollector } from './garbagecollector.js';
import { InformerFactory } from './informer.js';
import { NamespaceController } from './namespace.js';
import { NodeIpamController } from './nodeipam.js';
import { NodeLifecycleController } from './nodelifecycle.js';
import { PodGcController } from './podgc.js';
import { ReplicaSetController } from './replicaset.js';
import { ServiceAccountController } from './serviceaccount.js';

export interface ControllerOptions {
  kubeconfig: KubeConfig;
  /** Pod network, split into one /24 per node (default 10.244.0.0/16). */
  clusterCidr: string;
  /** A node whose lease is not renewed for this long becomes Unknown (default 40). */
  nodeMonitorGracePeriodSeconds?: number;
  /**
   * Kept for flag compatibility: like Kubernetes since 1.27, eviction from dead
   * nodes is taint-based and timed by each pod's tolerationSeconds.
   */
  podEvictionTimeoutSeconds?: number;
  /** Finished pods kept before the oldest are deleted (default 12500). */
  terminatedPodGcThreshold?: number;
  clock?: Clock;
  signal?: AbortSignal;
  /** Names of the controllers to run (default all): see CONTROLLERS. */
  only?: string[];
  /** Workers per controller (default 2). */
  workers?: number;
}

export const CONTROLLERS = [
  'replicaset',
  'deployment',
  'daemonset',
  'endpoints',
  'endpointslice',
  'nodeipam',
  'nodelifecycle',
  'namespace',
  'garbagecollector',
  'serviceaccount',
  'podgc',
] as const;

export type ControllerName = (typeof CONTROLLERS)[number];

export interface RunningControllers {
  stop(): Promise<void>;
}

function build(name: ControllerName, ctx: ControllerContext, o: ControllerOptions): QueueController {
  switch (name) {
    case 'replicaset':
      return new ReplicaSetController(ctx);
    case 'deployment':
      return new DeploymentController(ctx);
    case 'daemonset':
      return new DaemonSetController(ctx);
    case 'endpoints':
      return new EndpointsController(ctx);
    case 'endpointslice':
      return new EndpointSliceController(ctx);
    case 'nodeipam':
      return new NodeIpamController(ctx, o.clusterCidr);
    case 'nodelifecycle':
      return new NodeLifecycleController(ctx, { gracePeriodSeconds: o.nodeMonitorGracePeriodSeconds ?? 40 });
    case 'namespace':
      return new NamespaceController(ctx);
    case 'garbagecollector':
      return new GarbageCollector(ctx);
    case 'serviceaccount':
      return new ServiceAccountController(ctx);
    case 'podgc':
      return new PodGcController(ctx, { terminatedThreshold: o.terminatedPodGcThreshold ?? 12500 });
  }
}

/**
 * Starts the controllers. Resolves once caches have synced and workers run;
 * rejects if `signal` aborts first or a name in `only` is unknown.
 */
export async function startControllers(o: ControllerOptions): Promise<RunningControllers> {
  const log = logger('controller-manager');
  const clock = o.clock ?? realClock;
  const names = (o.only ?? [...CONTROLLERS]) as ControllerName[];
  for (const n of names) if (!CONTROLLERS.includes(n)) throw new Error(`unknown controller ${n}; known: ${CONTROLLERS.join(', ')}`);
  const api = new ApiClient(o.kubeconfig);
  const informers = new InformerFactory({ api, source: clientNodeSource(o.kubeconfig), log, clock });
  const ctx: ControllerContext = { api, informers, clock, log };
  const controllers = names.map((n) => build(n, ctx, o));

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await Promise.all(controllers.map((c) => c.stop()));
      await informers.stop();
      api.close();
      log.info('controllers stopped');
    })());
  o.signal?.addEventListener('abort', () => void stop(), { once: true });

  informers.start();
  try {
    await informers.waitForSync(o.signal);
  } catch (e) {
    await stop();
    throw e;
  }
  for (const c of controllers) await c.run(o.workers ?? 2);
  log.info({ controllers: names }, 'controllers started');
  return { stop };
}
