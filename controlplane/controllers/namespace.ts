/**
 * The namespace controller: a namespace being deleted (phase Terminating,
 * spec.finalizers ['kubernetes']) has everything in it deleted — every
 * namespaced resource the server serves, found through discovery — and once
 * nothing is left it is finalized (`PUT namespaces/{n}/finalize` without the
 * `kubernetes` finalizer), which lets the API server remove it.
 *
 * Contents go away at their own pace (pods wait for their node, objects for
 * their finalizers), so a sync that still finds some checks again after a
 * short delay rather than failing into backoff.
 */
import { ApiError, isNotFound } from './client.js';
import { QueueController, type ControllerContext } from './controller.js';
import type { SharedInformer } from './informer.js';
import { isBeingDeleted, type Obj } from './objects.js';
import { NAMESPACES, pathFor } from './resources.js';

/** A namespaced, deletable resource as discovery lists it. */
export interface DiscoveredResource {
  /** `/api/v1` or `/apis/<group>/<version>`. */
  base: string;
  plural: string;
}

const DISCOVERY_TTL_MS = 30_000;

export class NamespaceController extends QueueController {
  private readonly namespaces: SharedInformer;
  private discovered?: { at: number; resources: DiscoveredResource[] };

  /** `recheckMs`: how soon a namespace with contents left is looked at again. */
  constructor(
    ctx: ControllerContext,
    private readonly recheckMs = 1000,
  ) {
    super('namespace', ctx);
    this.namespaces = ctx.informers.forKind(NAMESPACES);
    this.namespaces.addEventHandler({
      add: (ns) => isBeingDeleted(ns) && this.queue.add(ns.metadata.name),
      update: (_old, ns) => isBeingDeleted(ns) && this.queue.add(ns.metadata.name),
    });
  }

  /** Namespaced resources supporting list and delete, from discovery (cached briefly). */
  async resources(): Promise<DiscoveredResource[]> {
    const now = this.clock.now();
    if (this.discovered && now - this.discovered.at < DISCOVERY_TTL_MS) return this.discovered.resources;
    const bases = ['/api/v1'];
    const groups = await this.api.get('/apis');
    for (const g of groups.groups ?? []) {
      const gv = g.preferredVersion?.groupVersion ?? g.versions?.[0]?.groupVersion;
      if (gv) bases.push(`/apis/${gv}`);
    }
    const resources: DiscoveredResource[] = [];
    for (const base of bases) {
      let list: Obj;
      try {
        list = await this.api.get(base);
      } catch (e) {
        // One failing group must not keep every namespace from going away.
        this.log.warn({ base, err: (e as Error).message }, 'discovery failed for group version');
        continue;
      }
      for (const r of list.resources ?? []) {
        const verbs: string[] = r.verbs ?? [];
        if (!r.namespaced || String(r.name).includes('/') || !verbs.includes('list') || !verbs.includes('delete')) continue;
        resources.push({ base, plural: r.name });
      }
    }
    this.discovered = { at: now, resources };
    return resources;
  }

  async sync(name: string): Promise<void> {
    const ns = this.namespaces.get(undefined, name);
    if (!ns || !isBeingDeleted(ns)) return;
    if (!(ns.spec?.finalizers ?? []).includes('kubernetes')) return;
    let remaining = 0;
    for (const r of await this.resources()) remaining += await this.deleteAll(r, name);
    if (remaining > 0) {
      this.log.debug({ namespace: name, remaining }, 'namespace still has content');
      this.queue.addAfter(name, this.recheckMs);
      return;
    }
    try {
      const finalizers = (ns.spec?.finalizers ?? []).filter((f: string) => f !== 'kubernetes');
      await this.api.update(`${pathFor(NAMESPACES, undefined, name)}/finalize`, { ...ns, metadata: { ...ns.metadata, resourceVersion: undefined }, spec: { ...ns.spec, finalizers } });
      this.log.info({ namespace: name }, 'namespace emptied and finalized');
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  /** Deletes every object of `r` in `ns`; returns how many are still there. */
  private async deleteAll(r: DiscoveredResource, ns: string): Promise<number> {
    const path = `${r.base}/namespaces/${encodeURIComponent(ns)}/${r.plural}`;
    let list: Obj;
    try {
      list = await this.api.list(path);
    } catch (e) {
      if (e instanceof ApiError && (e.code === 404 || e.code === 405)) return 0;
      throw e;
    }
    const items: Obj[] = list.items ?? [];
    // Objects already being deleted are waiting for someone else (a node, a finalizer).
    await Promise.all(
      items
        .filter((o) => !isBeingDeleted(o))
        .map(async (o) => {
          try {
            await this.api.delete(`${path}/${encodeURIComponent(o.metadata.name)}`, { propagationPolicy: 'Background', preconditions: { uid: o.metadata.uid } });
          } catch (e) {
            if (!(e instanceof ApiError && (e.code === 404 || e.code === 409))) throw e;
          }
        }),
    );
    return items.length;
  }
}
