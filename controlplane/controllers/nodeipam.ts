/**
 * Node IPAM: gives every node a pod subnet (`spec.podCIDR` and `spec.podCIDRs`,
 * a /24 of the cluster CIDR) and takes it back when the node goes. The
 * allocation map lives in memory and is rebuilt from the nodes' podCIDRs after
 * the cache syncs, before any allocation, so a restart never hands out a subnet
 * twice. Keys are node names.
 */
import { isNotFound } from './client.js';
import { CidrSet } from './cidrset.js';
import { QueueController, type ControllerContext } from './controller.js';
import type { SharedInformer } from './informer.js';
import { NODES, pathFor } from './resources.js';

export class NodeIpamController extends QueueController {
  readonly cidrs: CidrSet;
  private readonly nodes: SharedInformer;
  /** node name -> subnet we consider it to hold. */
  private readonly assigned = new Map<string, string>();

  constructor(ctx: ControllerContext, clusterCidr: string) {
    super('nodeipam', ctx);
    this.cidrs = new CidrSet(clusterCidr, 24);
    this.nodes = ctx.informers.forKind(NODES);
    this.nodes.addEventHandler({
      add: (n) => this.queue.add(n.metadata.name),
      update: (old, n) => old.spec?.podCIDR !== n.spec?.podCIDR && this.queue.add(n.metadata.name),
      delete: (n) => this.queue.add(n.metadata.name),
    });
  }

  protected override async beforeStart(): Promise<void> {
    for (const n of this.nodes.listAll()) {
      const cidr: string | undefined = n.spec?.podCIDR;
      if (cidr && this.cidrs.occupy(cidr)) this.assigned.set(n.metadata.name, cidr);
    }
    this.log.info({ allocated: this.cidrs.allocated, of: this.cidrs.size }, 'pod CIDR map rebuilt from nodes');
  }

  async sync(name: string): Promise<void> {
    const node = this.nodes.get(undefined, name);
    const held = this.assigned.get(name);
    if (!node) {
      if (held) {
        this.cidrs.release(held);
        this.assigned.delete(name);
        this.log.info({ node: name, podCIDR: held }, 'released pod CIDR of deleted node');
      }
      return;
    }
    const cidr: string | undefined = node.spec?.podCIDR;
    if (cidr) {
      if (held !== cidr) {
        // Set by someone else (or a re-created node): record it; a stale hold goes back.
        if (held) this.cidrs.release(held);
        this.cidrs.occupy(cidr);
        this.assigned.set(name, cidr);
      }
      return;
    }
    // A node re-created under the same name without a subnet returns the old one first.
    if (held) {
      this.cidrs.release(held);
      this.assigned.delete(name);
    }
    const next = this.cidrs.allocateNext();
    if (!next) {
      this.log.error({ node: name, clusterCidr: this.cidrs.clusterCidr }, 'no pod CIDR left for node');
      throw new Error(`cluster CIDR ${this.cidrs.clusterCidr} is exhausted`);
    }
    try {
      const patch = { metadata: { resourceVersion: node.metadata.resourceVersion }, spec: { podCIDR: next, podCIDRs: [next] } };
      await this.api.patch(pathFor(NODES, undefined, name), patch);
      this.assigned.set(name, next);
      this.log.info({ node: name, podCIDR: next }, 'assigned pod CIDR');
    } catch (e) {
      this.cidrs.release(next);
      if (isNotFound(e)) return;
      throw e;
    }
  }
}
