/**
 * The service account controller: every active namespace has a `default`
 * ServiceAccount (pods that name no account run as it). Keyed by namespace;
 * a deleted `default` account is recreated.
 */
import { ApiError } from './client.js';
import { QueueController, type ControllerContext } from './controller.js';
import type { SharedInformer } from './informer.js';
import { isBeingDeleted } from './objects.js';
import { NAMESPACES, SERVICEACCOUNTS, pathFor } from './resources.js';

export const DEFAULT_ACCOUNT = 'default';

export class ServiceAccountController extends QueueController {
  private readonly namespaces: SharedInformer;
  private readonly accounts: SharedInformer;

  constructor(ctx: ControllerContext) {
    super('serviceaccount', ctx);
    this.namespaces = ctx.informers.forKind(NAMESPACES);
    this.accounts = ctx.informers.forKind(SERVICEACCOUNTS);
    this.namespaces.addEventHandler({
      add: (ns) => this.queue.add(ns.metadata.name),
      update: (_old, ns) => this.queue.add(ns.metadata.name),
    });
    this.accounts.addEventHandler({
      delete: (sa) => sa.metadata.name === DEFAULT_ACCOUNT && this.queue.add(sa.metadata.namespace),
    });
  }

  async sync(name: string): Promise<void> {
    const ns = this.namespaces.get(undefined, name);
    if (!ns || isBeingDeleted(ns) || ns.status?.phase === 'Terminating') return;
    if (this.accounts.get(name, DEFAULT_ACCOUNT)) return;
    try {
      await this.api.create(pathFor(SERVICEACCOUNTS, name), { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: DEFAULT_ACCOUNT, namespace: name } });
      this.log.debug({ namespace: name }, 'created default service account');
    } catch (e) {
      // Already there (the cache lagged), or the namespace started terminating meanwhile.
      if (e instanceof ApiError && (e.reason === 'AlreadyExists' || e.code === 403 || e.code === 404)) return;
      throw e;
    }
  }
}
