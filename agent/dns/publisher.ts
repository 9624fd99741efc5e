/**
 * Each agent announces its own DNS server as one endpoint of the `kube-dns`
 * Service: the EndpointSlice `kube-system/kube-dns-<node>` (labels
 * `kubernetes.io/service-name=kube-dns`, `endpointslice.kubernetes.io/managed-by=skiff-agent`),
 * with the node IP, `nodeName` and ports `dns` (UDP) and `dns-tcp` (TCP) on the
 * DNS port, owned by the Node so the garbage collector removes it with the node.
 * The Service has `internalTrafficPolicy: Local`, so each node's proxy sends its
 * pods to its own agent: no node depends on another for DNS.
 *
 * The EndpointSlice controller leaves the slice alone (kube-dns has no selector,
 * and it only touches slices managed by itself). The publisher is level-triggered:
 * `ensure()` reads the live slice and creates or replaces it when it differs, and
 * is re-run when the slice changes in the cache and every minute, so a deleted or
 * edited slice comes back. `remove()` deletes it (the agent stopping: its DNS
 * server is gone with it).
 */
import { isIPv6 } from 'node:net';
import type { Logger } from '../../common/log.js';
import { isConflict, isNotFound, isAlreadyExists, type Api } from '../../controlplane/controllers/client.js';
import { semanticEqual, type Obj } from '../../controlplane/controllers/objects.js';
import { ENDPOINTSLICES, NODES, pathFor } from '../../controlplane/controllers/resources.js';
import { SERVICE_NAME_LABEL } from './view.js';

export const DNS_NAMESPACE = 'kube-system';
export const DNS_SERVICE = 'kube-dns';
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const AGENT_MANAGER = 'skiff-agent';

export function dnsSliceName(nodeName: string): string {
  return `${DNS_SERVICE}-${nodeName}`;
}

export interface SliceParams {
  nodeName: string;
  nodeIP: string;
  port: number;
  /** The Node's uid, for the ownerReference; without it the slice has no owner (yet). */
  nodeUid?: string;
}

/** The slice this node should publish. Pure. */
export function desiredDnsSlice(p: SliceParams): Obj {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: dnsSliceName(p.nodeName),
      namespace: DNS_NAMESPACE,
      labels: { [SERVICE_NAME_LABEL]: DNS_SERVICE, [MANAGED_BY_LABEL]: AGENT_MANAGER },
      ownerReferences: p.nodeUid ? [{ apiVersion: 'v1', kind: 'Node', name: p.nodeName, uid: p.nodeUid }] : [],
    },
    addressType: isIPv6(p.nodeIP) ? 'IPv6' : 'IPv4',
    endpoints: [{ addresses: [p.nodeIP], conditions: { ready: true, serving: true, terminating: false }, nodeName: p.nodeName }],
    ports: [
      { name: 'dns', port: p.port, protocol: 'UDP' },
      { name: 'dns-tcp', port: p.port, protocol: 'TCP' },
    ],
  };
}

/** True when `cur` (as stored) differs from `want` in anything the publisher sets. Pure. */
export function sliceDiffers(cur: Obj, want: Obj): boolean {
  const labels = cur.metadata?.labels ?? {};
  const labelsOk = Object.entries(want.metadata.labels as Record<string, string>).every(([k, v]) => labels[k] === v);
  return (
    !labelsOk ||
    !semanticEqual(cur.metadata?.ownerReferences ?? [], want.metadata.ownerReferences) ||
    cur.addressType !== want.addressType ||
    !semanticEqual(cur.endpoints ?? [], want.endpoints) ||
    !semanticEqual(cur.ports ?? [], want.ports)
  );
}

export interface PublisherOptions {
  api: Api;
  nodeName: string;
  nodeIP: string;
  port: number;
  log: Logger;
  /** Period of the repairing resync (default 60 s). */
  resyncMs?: number;
}

export class DnsSlicePublisher {
  private running?: Promise<void>;
  private again = false;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly o: PublisherOptions) {}

  get name(): string {
    return dnsSliceName(this.o.nodeName);
  }

  /** Ensures now and then every resync period, until stop(). */
  start(): void {
    this.kick();
    this.timer = setInterval(() => this.kick(), this.o.resyncMs ?? 60_000);
    this.timer.unref();
  }

  /** Requests an ensure; calls during one coalesce into one more. Failures are logged and retried at the next kick. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.ensure()
      .catch((e) => this.o.log.warn({ err: (e as Error).message, slice: this.name }, 'publishing the kube-dns EndpointSlice failed; retrying'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Creates or replaces the slice so it matches desiredDnsSlice. Idempotent. */
  async ensure(): Promise<void> {
    const { api, nodeName } = this.o;
    let nodeUid: string | undefined;
    try {
      nodeUid = (await api.get(pathFor(NODES, undefined, nodeName))).metadata?.uid;
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    const want = desiredDnsSlice({ nodeName, nodeIP: this.o.nodeIP, port: this.o.port, nodeUid });
    let cur: Obj | undefined;
    try {
      cur = await api.get(pathFor(ENDPOINTSLICES, DNS_NAMESPACE, this.name));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    if (this.stopped) return;
    if (!cur) {
      try {
        await api.create(pathFor(ENDPOINTSLICES, DNS_NAMESPACE), want);
        this.o.log.info({ slice: this.name, address: this.o.nodeIP, port: this.o.port }, 'published this node\'s DNS endpoint');
      } catch (e) {
        // Someone created it between our read and write: the next round compares it.
        if (!isAlreadyExists(e)) throw e;
        this.again = true;
      }
      return;
    }
    if (!sliceDiffers(cur, want)) return;
    want.metadata = { ...cur.metadata, labels: { ...(cur.metadata.labels ?? {}), ...want.metadata.labels }, ownerReferences: want.metadata.ownerReferences };
    try {
      await api.update(pathFor(ENDPOINTSLICES, DNS_NAMESPACE, this.name), want);
    } catch (e) {
      if (!isConflict(e) && !isNotFound(e)) throw e;
      this.again = true;
    }
  }

  /** Stops the loop and deletes the slice (missing is success). */
  async remove(): Promise<void> {
    this.stop();
    await this.running;
    try {
      await this.o.api.delete(pathFor(ENDPOINTSLICES, DNS_NAMESPACE, this.name));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }
}
