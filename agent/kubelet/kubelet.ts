/**
 * The kubelet's loop: desired pods come from an informer on the pods bound to
 * this node (and from static manifests); the actual state from a relist of the
 * runtime (the PLEG: every second, and at once on a Docker event). Any change
 * to either side wakes the pod's worker, which runs `syncPod` (podsync.ts).
 * Runtime pods that no source wants any more are torn down (orphans).
 */
import type { ApiClient } from '../../controlplane/controllers/client.js';
import { SharedInformer } from '../../controlplane/controllers/informer.js';
import { ApiListWatch } from '../../controlplane/controllers/listwatch.js';
import type { DockerRuntime } from '../runtime/docker.js';
import type { ContainerStatus, SandboxStatus } from '../runtime/types.js';
import { groupByPod, type Obj, type RuntimePod } from './actions.js';
import { Backoff } from './backoff.js';
import { EventRecorder } from './events.js';
import { PodSyncer, type NodeSettings, type PodSyncDeps } from './podsync.js';
import { PodWorkers } from './podworkers.js';
import { StatusManager } from './statusmanager.js';

export interface KubeletOptions extends NodeSettings {
  api: ApiClient;
  /** Extra pods from a non-API source (static manifests), by uid. */
  staticPods?: () => Map<string, Obj>;
  relistPeriodMs?: number;
}

/** Relist results: one docker ps at a time, shared by everyone who asked while it ran. */
class Relister {
  private inflight?: Promise<Map<string, RuntimePod>>;
  private queued?: Promise<Map<string, RuntimePod>>;
  last = new Map<string, RuntimePod>();
  lastAt = 0;

  constructor(private readonly runtime: DockerRuntime) {}

  /** A relist that started after this call. */
  fresh(): Promise<Map<string, RuntimePod>> {
    if (!this.inflight) return (this.inflight = this.run());
    if (!this.queued) {
      const after = this.inflight.catch(() => undefined);
      this.queued = after.then(() => {
        this.queued = undefined;
        return (this.inflight = this.run());
      });
    }
    return this.queued;
  }

  private async run(): Promise<Map<string, RuntimePod>> {
    try {
      const [s, c]: [SandboxStatus[], ContainerStatus[]] = await Promise.all([this.runtime.listSandboxes(), this.runtime.listContainers()]);
      this.last = groupByPod(s, c);
      this.lastAt = Date.now();
      return this.last;
    } finally {
      this.inflight = undefined;
    }
  }
}

/** A compact signature of a runtime pod: a change means the worker must look. */
function signature(rp: RuntimePod | undefined): string {
  if (!rp) return '';
  return [...rp.sandboxes.map((s) => `${s.id}:${s.state}`), ...rp.containers.map((c) => `${c.id}:${c.state}`)].join(',');
}

export class Kubelet {
  readonly informer: SharedInformer;
  readonly relister: Relister;
  readonly status: StatusManager;
  readonly events: EventRecorder;
  readonly backoff = new Backoff();
  private readonly workers: PodWorkers;
  private readonly syncer: PodSyncer;
  private readonly abort = new AbortController();
  private signatures = new Map<string, string>();
  private timer?: NodeJS.Timeout;
  private housekeeping?: NodeJS.Timeout;
  private relistPending = false;

  constructor(private readonly opts: KubeletOptions) {
    const path = '/api/v1/pods';
    const fieldSelector = `spec.nodeName=${opts.nodeName}`;
    this.informer = new SharedInformer(
      path,
      () => opts.api.list(path, { fieldSelector }),
      (p, list) => new ApiListWatch(opts.api, p, list, { fieldSelector }),
      opts.log,
    );
    this.relister = new Relister(opts.runtime);
    this.status = new StatusManager(opts.api, opts.log);
    this.events = new EventRecorder(opts.api, opts.nodeName, opts.log);
    const deps: PodSyncDeps = {
      ...opts,
      backoff: this.backoff,
      status: this.status,
      events: this.events,
      relist: () => this.relister.fresh(),
      desired: (uid) => this.desired(uid),
      requeue: (uid, ms) => this.workers.after(uid, ms),
      wake: (uid) => this.workers.update(uid),
    };
    this.syncer = new PodSyncer(deps);
    this.workers = new PodWorkers((uid) => this.syncer.sync(uid), opts.log);
  }

  /** The pod a source wants for `uid` (API pods bound here, then static pods). */
  desired(uid: string): Obj | undefined {
    const s = this.opts.staticPods?.().get(uid);
    if (s) return s;
    return this.byUid.get(uid);
  }

  private byUid = new Map<string, Obj>();

  async start(): Promise<void> {
    this.informer.addEventHandler({
      add: (p) => this.onPod(p),
      update: (_o, p) => this.onPod(p),
      delete: (p) => {
        this.byUid.delete(p.metadata.uid);
        this.workers.update(p.metadata.uid);
      },
    });
    this.informer.start();
    await this.informer.whenSynced();
    await this.relist();
    // Every pod that exists on either side gets a first sync (adoption after a restart).
    for (const uid of new Set([...this.byUid.keys(), ...this.relister.last.keys(), ...(this.opts.staticPods?.().keys() ?? [])])) this.workers.update(uid);
    this.opts.runtime.watchEvents(() => this.requestRelist(), this.abort.signal);
    const period = this.opts.relistPeriodMs ?? 1000;
    const tick = (): void => {
      void this.relist().finally(() => {
        if (!this.abort.signal.aborted) this.timer = setTimeout(tick, period);
      });
    };
    this.timer = setTimeout(tick, period);
    this.housekeeping = setInterval(() => {
      this.status.retry();
      for (const uid of this.syncer.runningPods()) this.workers.update(uid);
    }, 10_000);
  }

  /** Static pods changed (the manifest source calls this). */
  staticChanged(uids: Iterable<string>): void {
    for (const u of uids) this.workers.update(u);
  }

  private onPod(p: Obj): void {
    // Mirror pods only show static pods in the API; the manifest is what runs.
    if (p.metadata.annotations?.['kubernetes.io/config.mirror']) return;
    this.byUid.set(p.metadata.uid, p);
    this.workers.update(p.metadata.uid);
  }

  private requestRelist(): void {
    if (this.relistPending) return;
    this.relistPending = true;
    setImmediate(() => {
      this.relistPending = false;
      void this.relist();
    });
  }

  private async relist(): Promise<void> {
    let pods: Map<string, RuntimePod>;
    try {
      pods = await this.relister.fresh();
    } catch (e) {
      this.opts.log.warn({ err: (e as Error).message }, 'runtime relist failed');
      return;
    }
    const uids = new Set([...pods.keys(), ...this.signatures.keys()]);
    for (const uid of uids) {
      const sig = signature(pods.get(uid));
      if (sig !== this.signatures.get(uid)) {
        if (sig) this.signatures.set(uid, sig);
        else this.signatures.delete(uid);
        this.workers.update(uid);
      }
    }
  }

  /** The runtime view of a pod from the last relist (for logs/exec lookups). */
  runtimePod(uid: string): RuntimePod | undefined {
    return this.relister.last.get(uid);
  }

  /** Finds a pod bound here by namespace/name (API or static). */
  podByName(namespace: string, name: string): Obj | undefined {
    for (const p of this.byUid.values()) if (p.metadata.namespace === namespace && p.metadata.name === name) return p;
    for (const p of this.opts.staticPods?.().values() ?? []) if (p.metadata.namespace === namespace && p.metadata.name === name) return p;
    return undefined;
  }

  /** The readiness and IPs of a pod, as last computed. */
  lastStatus(uid: string): Obj | undefined {
    return this.status.get(uid);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    if (this.timer) clearTimeout(this.timer);
    if (this.housekeeping) clearInterval(this.housekeeping);
    this.workers.stop();
    this.syncer.stop();
    await this.informer.stop();
  }
}
