/**
 * Test support: fake nodes for exercising the controllers against a real API
 * server without agents. FakeNodes registers Node objects (capacity, Ready),
 * renews their Leases in kube-node-lease, and plays scheduler and kubelet for
 * pods: binds unbound pods to a live node (honouring a daemon pod's
 * metadata.name affinity), marks newly bound pods Running and Ready with an IP,
 * and finishes the deletion of terminating pods on live nodes. A node can be
 * "killed" (its lease and pods freeze) and revived.
 *
 * Not used by the controllers themselves; it lives here so the integration
 * tests of this component can share it.
 */
import { ApiError, type Api } from './client.js';
import { nodeOfPod } from './daemonset-logic.js';
import type { Obj } from './objects.js';
import { LEASES, NODES, PODS, pathFor } from './resources.js';

export interface FakeNodesOptions {
  /** How often leases are renewed and pods are looked at (ms). */
  intervalMs?: number;
  /** Pods matching this are left Running but not Ready. */
  startUnready?: (pod: Obj) => boolean;
}

const micro = (): string => new Date().toISOString().replace('Z', '000Z');

export class FakeNodes {
  readonly alive = new Set<string>();
  readonly known = new Set<string>();
  private timer?: NodeJS.Timeout;
  private busy = false;
  private ipSeq = 1;
  private rr = 0;
  /** Errors from background ticks, for test failure messages. */
  readonly errors: string[] = [];

  constructor(
    private readonly api: Api,
    private readonly opts: FakeNodesOptions = {},
  ) {}

  /** Registers a Ready node with a lease, alive from now on. */
  async addNode(name: string, labels: Record<string, string> = {}, taints: Obj[] = []): Promise<void> {
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    await this.api.create(pathFor(NODES), {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } },
      spec: taints.length ? { taints } : {},
      status: {
        capacity: { cpu: '4', memory: '8Gi', pods: '110' },
        allocatable: { cpu: '4', memory: '8Gi', pods: '110' },
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now }],
      },
    });
    await this.api.create(pathFor(LEASES, 'kube-node-lease'), {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, namespace: 'kube-node-lease' },
      spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: micro() },
    });
    this.known.add(name);
    this.alive.add(name);
  }

  /** Stops renewing the node's lease and touching its pods. */
  kill(name: string): void {
    this.alive.delete(name);
  }

  /** Renews the lease again and posts Ready=True, as a returning kubelet does. */
  async revive(name: string): Promise<void> {
    this.alive.add(name);
    await this.renew(name);
    const node = await this.api.get(pathFor(NODES, undefined, name));
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const conditions = (node.status?.conditions ?? []).map((c: Obj) =>
      c.type === 'Ready' ? { ...c, status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now } : c,
    );
    await this.api.patch(pathFor(NODES, undefined, name, 'status'), { status: { conditions } });
  }

  start(): void {
    const every = this.opts.intervalMs ?? 250;
    this.timer = setInterval(() => void this.tick(), every);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async renew(name: string): Promise<void> {
    await this.api.patch(pathFor(LEASES, 'kube-node-lease', name), { spec: { renewTime: micro() } });
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await Promise.all([...this.alive].map((n) => this.renew(n)));
      const pods: Obj[] = (await this.api.list(pathFor(PODS))).items ?? [];
      for (const p of pods) await this.handle(p);
    } catch (e) {
      this.errors.push((e as Error).message);
    } finally {
      this.busy = false;
    }
  }

  private async handle(p: Obj): Promise<void> {
    const ns = p.metadata.namespace;
    const name = p.metadata.name;
    try {
      if (!p.spec.nodeName) {
        if (p.metadata.deletionTimestamp) return;
        const pinned = nodeOfPod(p);
        const live = [...this.alive];
        const target = pinned ?? live[this.rr++ % Math.max(1, live.length)];
        if (!target || !this.alive.has(target)) return;
        await this.api.create(`${pathFor(PODS, ns, name)}/binding`, {
          apiVersion: 'v1',
          kind: 'Binding',
          metadata: { name, namespace: ns, uid: p.metadata.uid },
          target: { kind: 'Node', name: target },
        });
        return;
      }
      if (!this.alive.has(p.spec.nodeName)) return;
      if (p.metadata.deletionTimestamp) {
        await this.api.delete(pathFor(PODS, ns, name), { gracePeriodSeconds: 0, preconditions: { uid: p.metadata.uid } });
        return;
      }
      if (p.status?.phase === 'Pending') {
        const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
        const ready = this.opts.startUnready?.(p) ? 'False' : 'True';
        const ip = `10.244.${Math.floor(this.ipSeq / 250)}.${(this.ipSeq++ % 250) + 2}`;
        await this.api.patch(pathFor(PODS, ns, name, 'status'), {
          status: {
            phase: 'Running',
            podIP: ip,
            podIPs: [{ ip }],
            hostIP: '192.168.56.11',
            startTime: now,
            conditions: [
              { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
              { type: 'Initialized', status: 'True', lastTransitionTime: now },
              { type: 'ContainersReady', status: ready, lastTransitionTime: now },
              { type: 'Ready', status: ready, lastTransitionTime: now },
            ],
          },
        });
      }
    } catch (e) {
      // Races with the controllers (pod deleted or bound meanwhile) are expected.
      if (!(e instanceof ApiError && (e.code === 404 || e.code === 409))) this.errors.push((e as Error).message);
    }
  }
}
