/**
 * The Endpoints controller: for every Service with a selector, an Endpoints
 * object of the same name listing the selected pods' IPs — ready pods under
 * `addresses`, the others under `notReadyAddresses` — with ports resolved per
 * pod (endpoints-logic.ts). Services without a selector are left alone (their
 * Endpoints are the user's). Keys are service keys; pod events map to the
 * services selecting the pod before or after the change.
 */
import { ApiError, isNotFound } from './client.js';
import { QueueController, type ControllerContext } from './controller.js';
import { endpointSubsets, endpointsLabels, isManaged, serviceSelects } from './endpoints-logic.js';
import type { SharedInformer } from './informer.js';
import { isBeingDeleted, keyOf, semanticEqual, splitKey, type Obj } from './objects.js';
import { ENDPOINTS, PODS, SERVICES, pathFor } from './resources.js';

/**
 * Wires `ctl`'s queue to service and pod events: a service change queues the
 * service; a pod change queues every service selecting the old or new pod.
 */
export function watchServicesAndPods(ctl: QueueController, services: SharedInformer, pods: SharedInformer): void {
  const q = ctl.queue;
  services.addEventHandler({ add: (s) => q.add(keyOf(s)), update: (_o, s) => q.add(keyOf(s)), delete: (s) => q.add(keyOf(s)) });
  const forPod = (p: Obj): void => {
    for (const s of services.listAll(p.metadata.namespace)) if (serviceSelects(s, p.metadata.labels)) q.add(keyOf(s));
  };
  pods.addEventHandler({
    add: forPod,
    update: (old, cur) => {
      if (old.metadata.resourceVersion === cur.metadata.resourceVersion) return;
      forPod(cur);
      if (!semanticEqual(old.metadata.labels, cur.metadata.labels)) forPod(old);
    },
    delete: forPod,
  });
}

export class EndpointsController extends QueueController {
  private readonly services: SharedInformer;
  private readonly pods: SharedInformer;
  private readonly endpoints: SharedInformer;

  constructor(ctx: ControllerContext) {
    super('endpoints', ctx);
    this.services = ctx.informers.forKind(SERVICES);
    this.pods = ctx.informers.forKind(PODS);
    this.endpoints = ctx.informers.forKind(ENDPOINTS);
    watchServicesAndPods(this, this.services, this.pods);
    // Someone else changing or deleting our Endpoints gets it put back.
    this.endpoints.addEventHandler({
      update: (_o, e) => this.queue.add(keyOf(e)),
      delete: (e) => this.queue.add(keyOf(e)),
    });
  }

  async sync(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const svc = this.services.get(namespace, name);
    const current = this.endpoints.get(namespace, name);
    if (!svc) {
      if (!current) return;
      try {
        await this.api.delete(pathFor(ENDPOINTS, namespace, name), { preconditions: { uid: current.metadata.uid } });
      } catch (e) {
        if (!isNotFound(e) && !(e instanceof ApiError && e.code === 409)) throw e;
      }
      return;
    }
    if (!isManaged(svc) || isBeingDeleted(svc)) return;
    const subsets = endpointSubsets(svc, this.pods.listAll(namespace));
    const labels = endpointsLabels(svc);
    if (current && semanticEqual(current.subsets ?? [], subsets) && semanticEqual(current.metadata.labels ?? {}, labels)) return;
    const body: Obj = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name, namespace, labels },
      subsets,
    };
    if (current) {
      body.metadata = { ...current.metadata, labels, resourceVersion: current.metadata.resourceVersion };
      await this.api.update(pathFor(ENDPOINTS, namespace, name), body);
    } else {
      // AlreadyExists means the cache lags: the retry sees the object and updates it.
      await this.api.create(pathFor(ENDPOINTS, namespace), body);
    }
  }
}
