/**
 * The EndpointSlice controller (discovery.k8s.io/v1): for every Service with a
 * selector, slices listing the selected pods with conditions ready, serving and
 * terminating, labelled `kubernetes.io/service-name` and
 * `endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io`,
 * owned by the Service. A Service with no endpoints keeps one empty placeholder
 * slice, as Kubernetes does. Slices managed by anyone else are never touched.
 *
 * Slice names are derived from the service and its port set rather than
 * generated: a sync working from a cache that has not seen its own last create
 * then fails with AlreadyExists and retries, instead of creating a duplicate.
 */
import { ApiError, isNotFound } from './client.js';
import { QueueController, type ControllerContext } from './controller.js';
import { watchServicesAndPods } from './endpoints.js';
import { desiredSlices, isManaged, MANAGED_BY, MANAGED_BY_LABEL, SERVICE_NAME_LABEL, sliceLabels, type DesiredSlice } from './endpoints-logic.js';
import type { SharedInformer } from './informer.js';
import { fnv32a, isBeingDeleted, safeEncode, semanticEqual, splitKey, type Obj } from './objects.js';
import { ENDPOINTSLICES, PODS, SERVICES, pathFor } from './resources.js';

const BY_SERVICE = 'managedSliceService';

/** The name of the `index`-th slice for one port set of a service. */
export function sliceName(service: string, ports: unknown, index: number): string {
  const base = `${service.slice(0, 200)}-${safeEncode(String(fnv32a(JSON.stringify(ports))))}`;
  return index === 0 ? base : `${base}-${index}`;
}

export class EndpointSliceController extends QueueController {
  private readonly services: SharedInformer;
  private readonly pods: SharedInformer;
  private readonly slices: SharedInformer;

  constructor(ctx: ControllerContext) {
    super('endpointslice', ctx);
    this.services = ctx.informers.forKind(SERVICES);
    this.pods = ctx.informers.forKind(PODS);
    this.slices = ctx.informers.forKind(ENDPOINTSLICES);
    this.slices.addIndex(BY_SERVICE, (s) => {
      const l = s.metadata?.labels ?? {};
      return l[MANAGED_BY_LABEL] === MANAGED_BY && l[SERVICE_NAME_LABEL] ? [`${s.metadata.namespace}/${l[SERVICE_NAME_LABEL]}`] : [];
    });
    watchServicesAndPods(this, this.services, this.pods);
    const bySlice = (s: Obj): void => {
      const svc = s.metadata?.labels?.[SERVICE_NAME_LABEL];
      if (svc && s.metadata.labels[MANAGED_BY_LABEL] === MANAGED_BY) this.queue.add(`${s.metadata.namespace}/${svc}`);
    };
    this.slices.addEventHandler({ update: (_o, s) => bySlice(s), delete: bySlice });
  }

  async sync(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const svc = this.services.get(namespace, name);
    const existing = this.slices.byIndex(BY_SERVICE, key);
    if (!svc || !isManaged(svc)) {
      // Ours are only for services we manage; a service that lost its selector keeps none.
      for (const s of existing) await this.remove(s);
      return;
    }
    // A service on its way out keeps what it has: recreating slices would fight the GC.
    if (isBeingDeleted(svc)) return;
    let desired: DesiredSlice[] = desiredSlices(svc, this.pods.listAll(namespace));
    if (desired.length === 0) desired = [{ ports: [], endpoints: [] }];
    const labels = sliceLabels(svc);
    const owner = { apiVersion: 'v1', kind: 'Service', name, uid: svc.metadata.uid, controller: true, blockOwnerDeletion: true };
    const wanted = new Set<string>();
    const perPorts = new Map<string, number>();
    for (const d of desired) {
      const pk = JSON.stringify(d.ports);
      const i = perPorts.get(pk) ?? 0;
      perPorts.set(pk, i + 1);
      const sliceN = sliceName(name, d.ports, i);
      wanted.add(sliceN);
      const body: Obj = {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: sliceN, namespace, labels, ownerReferences: [owner] },
        addressType: 'IPv4',
        endpoints: d.endpoints,
        ports: d.ports,
      };
      const cur = this.slices.get(namespace, sliceN);
      if (!cur) {
        await this.api.create(pathFor(ENDPOINTSLICES, namespace), body);
        continue;
      }
      const same =
        semanticEqual(cur.endpoints ?? [], d.endpoints) &&
        semanticEqual(cur.ports ?? [], d.ports) &&
        semanticEqual(cur.metadata.labels ?? {}, labels) &&
        semanticEqual(cur.metadata.ownerReferences ?? [], [owner]);
      if (same) continue;
      body.metadata = { ...cur.metadata, labels, ownerReferences: [owner] };
      await this.api.update(pathFor(ENDPOINTSLICES, namespace, sliceN), body);
    }
    for (const s of existing) if (!wanted.has(s.metadata.name)) await this.remove(s);
  }

  private async remove(s: Obj): Promise<void> {
    try {
      await this.api.delete(pathFor(ENDPOINTSLICES, s.metadata.namespace, s.metadata.name), { preconditions: { uid: s.metadata.uid } });
    } catch (e) {
      if (!isNotFound(e) && !(e instanceof ApiError && e.code === 409)) throw e;
    }
  }
}
