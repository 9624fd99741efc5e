/**
 * The node's heartbeat Lease, `kube-node-lease/<node>`, as the kubelet's
 * lease controller keeps it: created when missing (owned by the Node, so it
 * goes when the Node is deleted), then renewed by updating `renewTime`
 * (MicroTime) on the last copy seen; a conflict re-reads the Lease and
 * tries again, a NotFound creates it anew. One renewal per call; the caller's
 * loop supplies the cadence and the retries.
 */
import { isAlreadyExists, isConflict, isNotFound, type Api } from '../../controlplane/controllers/client.js';
import type { Obj } from '../../controlplane/controllers/objects.js';
import type { Clock } from '../../common/clock.js';

export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
export const DEFAULT_LEASE_DURATION_SECONDS = 40;

/** metav1.MicroTime: RFC 3339 with microseconds, `2025-01-01T00:00:00.000000Z`. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

const leasePath = (name?: string): string =>
  `/apis/coordination.k8s.io/v1/namespaces/${NODE_LEASE_NAMESPACE}/leases${name ? `/${encodeURIComponent(name)}` : ''}`;

/** The desired Lease for a node at `nowMs`, owned by the Node when its uid is known. */
export function leaseFor(nodeName: string, nowMs: number, durationSeconds: number, nodeUid?: string): Obj {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: nodeName,
      namespace: NODE_LEASE_NAMESPACE,
      ...(nodeUid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: nodeUid }] } : {}),
    },
    spec: { holderIdentity: nodeName, leaseDurationSeconds: durationSeconds, renewTime: microTime(nowMs) },
  };
}

/** `lease` renewed at `nowMs`: holder and duration reasserted, owner added when missing. */
export function renewed(lease: Obj, nodeName: string, nowMs: number, durationSeconds: number, nodeUid?: string): Obj {
  const next = structuredClone(lease);
  next.spec = { ...next.spec, holderIdentity: nodeName, leaseDurationSeconds: durationSeconds, renewTime: microTime(nowMs) };
  const owners: Obj[] = next.metadata.ownerReferences ?? [];
  if (nodeUid && !owners.some((o) => o.kind === 'Node' && o.uid === nodeUid)) {
    next.metadata.ownerReferences = [...owners.filter((o) => o.kind !== 'Node'), { apiVersion: 'v1', kind: 'Node', name: nodeName, uid: nodeUid }];
  }
  return next;
}

export class NodeLease {
  private latest?: Obj;
  /** The Node's uid, for the owner reference (set after registration). */
  nodeUid?: string;

  constructor(
    private readonly api: Api,
    private readonly nodeName: string,
    private readonly clock: Clock,
    private readonly durationSeconds = DEFAULT_LEASE_DURATION_SECONDS,
  ) {}

  /** The last Lease written or read. */
  get lease(): Obj | undefined {
    return this.latest;
  }

  /** Renews the Lease once (creating it when missing). Throws on failures the next call may fix. */
  async renew(): Promise<Obj> {
    if (!this.latest) {
      try {
        this.latest = await this.api.get(leasePath(this.nodeName));
      } catch (e) {
        if (!isNotFound(e)) throw e;
        return this.create();
      }
    }
    try {
      this.latest = await this.api.update(leasePath(this.nodeName), renewed(this.latest!, this.nodeName, this.clock.now(), this.durationSeconds, this.nodeUid));
      return this.latest;
    } catch (e) {
      if (isNotFound(e)) return this.create();
      // Someone else wrote it (or our copy is stale): read it again, and update that once.
      this.latest = undefined;
      if (!isConflict(e)) throw e;
      const fresh = await this.api.get(leasePath(this.nodeName));
      this.latest = await this.api.update(leasePath(this.nodeName), renewed(fresh, this.nodeName, this.clock.now(), this.durationSeconds, this.nodeUid));
      return this.latest;
    }
  }

  private async create(): Promise<Obj> {
    try {
      this.latest = await this.api.create(leasePath(), leaseFor(this.nodeName, this.clock.now(), this.durationSeconds, this.nodeUid));
      return this.latest;
    } catch (e) {
      // Created meanwhile (a previous attempt that timed out): renew that one on the next call.
      if (isAlreadyExists(e)) this.latest = undefined;
      throw e;
    }
  }
}
