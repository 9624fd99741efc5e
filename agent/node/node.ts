/**
 * NodeAgent: the node half of the kubelet. It registers the Node, keeps its
 * status (capacity, allocatable, conditions, addresses, nodeInfo) and its
 * heartbeat Lease fresh, publishes live usage in the `skiff.io/usage`
 * annotation, hands the podCIDR assigned by the control plane to the caller,
 * and answers /stats/summary.
 *
 * Loops (each on the injected clock, none overlapping itself, failures
 * retried with backoff and logged, never thrown):
 *   lease   every leaseMs (10 s): renew kube-node-lease/<node>
 *   status  every statusMs (10 s), and at once on a change it causes itself
 *           (podCIDR delivered): merge-PATCH nodes/<node>/status
 *   usage   every usageMs (10 s): sample cgroups, PATCH the annotation
 *   podCIDR every podCidrPollMs (1 s) until spec.podCIDR is set and delivered
 *
 * What users own is never written: spec (unschedulable, taints) is sent only
 * in the create, labels and annotations are merged key by key, and node
 * conditions of other types are carried over untouched.
 */
import { access } from 'node:fs/promises';
import { isAlreadyExists, isNotFound, type Api } from '../../controlplane/controllers/client.js';
import type { Obj } from '../../controlplane/controllers/objects.js';
import { realClock, type Clock } from '../../common/clock.js';
import { logger, type Logger } from '../../common/log.js';
import { parseQuantity, value } from '../../common/quantity.js';
import { allocatableAmounts, capacityAmounts, DEFAULT_EVICTION, DEFAULT_MAX_PODS, DEFAULT_RESERVED, readCapacityInput, toResourceList, type Amounts, type EvictionThresholds, type Reserved, type ResourceList } from './capacity.js';
import { conditionsChanged, desiredConditions, mergeConditions, observe } from './conditions.js';
import { DEFAULT_LEASE_DURATION_SECONDS, NodeLease } from './lease.js';
import { Loop } from './loop.js';
import { defaultNodeIP, defaultNodeName, nodeAddresses, nodeInfo, nodeLabels, readSystemInfo, type SystemInfo } from './nodeinfo.js';
import { HostReadings, type NodeReadings } from './readings.js';
import { isoSeconds, USAGE_ANNOTATION } from './usage.js';
import { UsageSampler, type PodUsageTarget } from './sampler.js';
import type { Summary } from './usage.js';

export type { PodUsageTarget } from './sampler.js';

export const SERVING_CERT_ANNOTATION = 'skiff.io/serving-cert-sha256';
export const DEFAULT_CNI_CONFIG = '/etc/cni/net.d/10-skiff.conflist';

export interface NodeAgentIntervals {
  statusMs: number;
  leaseMs: number;
  usageMs: number;
  podCidrPollMs: number;
  /** How long capacity readings are reused (HostReadings reads the hardware and its own cgroup limits once; the data dir's filesystem size each time). */
  capacityMs: number;
}

export const DEFAULT_INTERVALS: NodeAgentIntervals = { statusMs: 10_000, leaseMs: 10_000, usageMs: 10_000, podCidrPollMs: 1_000, capacityMs: 60_000 };

export interface NodeAgentOptions {
  api: Api;
  /** Default: the host name, lowercased. */
  nodeName?: string;
  /** InternalIP; default the address of the default route's interface. */
  nodeIP?: string;
  /** The agent's HTTPS port (daemonEndpoints.kubeletEndpoint.Port). */
  port: number;
  /** SHA-256 of the agent's serving certificate, published for the API server to pin. */
  servingCertSha256: string;
  /** The agent's data dir: its filesystem is the node's ephemeral storage. */
  dataDir: string;
  reserved?: Partial<Reserved>;
  eviction?: Partial<EvictionThresholds>;
  maxPods?: number;
  /** e.g. `docker://20.10.24`. */
  runtimeVersion: () => Promise<string>;
  /** Whether the container runtime answers. */
  runtimeReady: () => Promise<boolean>;
  /** Whether the pod network is in place; default: the CNI config file exists. */
  networkReady?: () => Promise<boolean>;
  /** The CNI config the default networkReady looks for (default /etc/cni/net.d/10-skiff.conflist). */
  cniConfigPath?: string;
  /** Called with spec.podCIDR once assigned (and again if it changes); a throw is retried at the next poll. */
  onPodCIDR?: (cidr: string) => Promise<void> | void;
  /** The pods (and their running containers) to report usage for in summary(). */
  podUsage?: () => Promise<PodUsageTarget[]>;
  readings?: NodeReadings;
  systemInfo?: () => Promise<SystemInfo>;
  clock?: Clock;
  log?: Logger;
  intervals?: Partial<NodeAgentIntervals>;
  leaseDurationSeconds?: number;
}

const nodePath = (name: string, sub?: string): string => `/api/v1/nodes/${encodeURIComponent(name)}${sub ? `/${sub}` : ''}`;
const rfc3339 = isoSeconds;

export class NodeAgent {
  readonly nodeName: string;
  private readonly api: Api;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly readings: NodeReadings;
  private readonly intervals: NodeAgentIntervals;
  private readonly reserved: Reserved;
  private readonly eviction: EvictionThresholds;
  private readonly lease: NodeLease;
  private readonly sampler: UsageSampler;
  private readonly loops: Loop[] = [];
  private ip?: string;
  private sys?: SystemInfo;
  private cap?: { at: number; capacity: Amounts; allocatable: Amounts };
  private node?: Obj;
  private deliveredCIDR?: string;
  private cidrWaiters: ((cidr: string) => void)[] = [];
  private statusLoop?: Loop;
  private cidrLoop?: Loop;
  private stopped = false;

  constructor(private readonly o: NodeAgentOptions) {
    this.api = o.api;
    this.nodeName = (o.nodeName ?? defaultNodeName()).toLowerCase();
    this.clock = o.clock ?? realClock;
    this.log = o.log ?? logger('node');
    this.readings = o.readings ?? new HostReadings();
    this.intervals = { ...DEFAULT_INTERVALS, ...o.intervals };
    this.reserved = { ...DEFAULT_RESERVED, ...o.reserved };
    this.eviction = { ...DEFAULT_EVICTION, ...o.eviction };
    // Fail at construction on a bad reserve rather than in a background loop.
    allocatableAmounts({ milliCpu: 0, memory: 0, ephemeralStorage: 0, pods: 0 }, this.reserved, this.eviction);
    this.lease = new NodeLease(o.api, this.nodeName, this.clock, o.leaseDurationSeconds ?? DEFAULT_LEASE_DURATION_SECONDS);
    this.sampler = new UsageSampler(this.readings, this.clock, o.podUsage);
  }

  /** The node's InternalIP (the configured one until start() resolved the default). */
  nodeIP(): string {
    if (!this.ip && !this.o.nodeIP) throw new Error('nodeIP() before start(): the default node IP is not resolved yet');
    return this.ip ?? this.o.nodeIP!;
  }

  /** Capacity as last computed (undefined before registration). */
  capacity(): ResourceList | undefined {
    return this.cap && toResourceList(this.cap.capacity);
  }

  /** Allocatable as last computed: what the kubelet admits pods against. */
  allocatable(): ResourceList {
    if (!this.cap) throw new Error('allocatable() before start(): capacity is not read yet');
    return toResourceList(this.cap.allocatable);
  }

  /** spec.podCIDR once delivered to onPodCIDR. */
  podCIDR(): string | undefined {
    return this.deliveredCIDR;
  }

  /** Resolves with spec.podCIDR once it has been assigned and delivered. */
  waitForPodCIDR(): Promise<string> {
    if (this.deliveredCIDR) return Promise.resolve(this.deliveredCIDR);
    return new Promise((r) => this.cidrWaiters.push(r));
  }

  /** The last Node object the API server returned. */
  get lastNode(): Obj | undefined {
    return this.node;
  }

  /**
   * Registers the node, then starts the loops. Registration is retried with
   * backoff until it succeeds or the agent is stopped (signal or stop()).
   */
  async start(signal?: AbortSignal): Promise<void> {
    this.stopped = false;
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    this.ip = this.o.nodeIP ?? (await defaultNodeIP());
    this.sys = await (this.o.systemInfo ?? readSystemInfo)();
    await this.sampler.sample().catch((e: unknown) => this.log.warn({ err: (e as Error).message }, 'first usage sample failed'));
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        await this.register();
        break;
      } catch (e) {
        const wait = Math.min(this.intervals.statusMs, 200 * 2 ** Math.min(attempt, 10));
        this.log.warn({ node: this.nodeName, err: (e as Error).message, retryInMs: wait }, 'node registration failed; retrying');
        await new Promise<void>((r) => this.clock.after(wait, r));
      }
    }
    if (this.stopped) return;
    const mk = (name: string, ms: number, fn: () => Promise<void>): Loop => {
      const l = new Loop(name, this.clock, fn, { intervalMs: ms }, this.log);
      this.loops.push(l);
      return l;
    };
    mk('node lease', this.intervals.leaseMs, async () => void (await this.lease.renew())).start();
    this.statusLoop = mk('node status', this.intervals.statusMs, () => this.updateStatus());
    this.statusLoop.start(this.intervals.statusMs);
    mk('node usage', this.intervals.usageMs, () => this.publishUsage()).start(this.intervals.usageMs);
    this.cidrLoop = mk('pod CIDR', this.intervals.podCidrPollMs, () => this.pollPodCIDR());
    this.cidrLoop.start();
    this.log.info({ node: this.nodeName, nodeIP: this.ip }, 'node registered');
  }

  /** Stops every loop (waiting for runs in progress). The Node and its Lease stay; the control plane times them out. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops.map((l) => l.stop()));
    this.loops.length = 0;
  }

  /** Creates the Node, or merges our labels and annotations into the existing one. Returns the Node. */
  async register(): Promise<Obj> {
    const metadata = { name: this.nodeName, labels: nodeLabels(this.nodeName), annotations: { [SERVING_CERT_ANNOTATION]: this.o.servingCertSha256 } };
    const status = await this.statusBody();
    let node: Obj;
    try {
      node = await this.api.create('/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata, spec: {}, status });
      this.log.info({ node: this.nodeName }, 'node created');
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
      // Re-registration after a restart: reassert only what the agent owns in metadata,
      // then post the status against the existing conditions (their transition times).
      this.node = await this.api.patch(nodePath(this.nodeName), { metadata: { labels: metadata.labels, annotations: metadata.annotations } });
      node = await this.api.patch(nodePath(this.nodeName, 'status'), { status: await this.statusBody() });
      this.log.info({ node: this.nodeName }, 'existing node updated');
    }
    this.node = node;
    this.lease.nodeUid = node.metadata?.uid;
    await this.checkPodCIDR(node).catch((e: unknown) => this.cidrFailed(e));
    return node;
  }

  /** Status fields the agent owns, conditions stamped against the last Node seen. */
  private async statusBody(): Promise<Obj> {
    const now = this.clock.now();
    if (!this.cap || now - this.cap.at >= this.intervals.capacityMs) {
      const capacity = capacityAmounts(await readCapacityInput(this.readings, this.o.dataDir, this.o.maxPods ?? DEFAULT_MAX_PODS));
      this.cap = { at: now, capacity, allocatable: allocatableAmounts(capacity, this.reserved, this.eviction) };
    }
    const obs = await observe(this.readings, {
      dataDir: this.o.dataDir,
      memoryCapacityBytes: this.cap.capacity.memory,
      runtimeReady: this.o.runtimeReady,
      networkReady: this.o.networkReady ?? (() => access(this.o.cniConfigPath ?? DEFAULT_CNI_CONFIG).then(() => true)),
    });
    const desired = desiredConditions(obs, this.eviction, value(parseQuantity(this.eviction.memoryAvailable)));
    const prev = this.node?.status?.conditions;
    if (conditionsChanged(prev, desired)) this.log.info({ node: this.nodeName, conditions: desired.map((c) => `${c.type}=${c.status}`).join(' ') }, 'node conditions changed');
    return {
      capacity: toResourceList(this.cap.capacity),
      allocatable: toResourceList(this.cap.allocatable),
      conditions: mergeConditions(prev, desired, rfc3339(now)),
      addresses: nodeAddresses(this.nodeIP(), this.nodeName),
      daemonEndpoints: { kubeletEndpoint: { Port: this.o.port } },
      nodeInfo: nodeInfo(this.sys!, await this.o.runtimeVersion()),
    };
  }

  /**
   * Reads the Node (as the kubelet does before each update: conditions set by
   * others, e.g. Unknown while we were silent, decide the transition times),
   * then posts the status. A Node deleted under us is registered again.
   */
  private async updateStatus(): Promise<void> {
    try {
      this.node = await this.api.get(nodePath(this.nodeName));
      this.node = await this.api.patch(nodePath(this.nodeName, 'status'), { status: await this.statusBody() });
    } catch (e) {
      if (!isNotFound(e)) throw e;
      this.log.warn({ node: this.nodeName }, 'node object was deleted; registering again');
      this.node = undefined;
      await this.register();
      return;
    }
    await this.checkPodCIDR(this.node).catch((e: unknown) => this.cidrFailed(e));
  }

  /** A failed onPodCIDR does not fail registration or status: the pod CIDR loop retries it. */
  private cidrFailed(e: unknown): void {
    this.log.warn({ node: this.nodeName, err: (e as Error).message }, 'pod CIDR callback failed; retrying');
    this.cidrLoop?.kick();
  }

  private async publishUsage(): Promise<void> {
    const snap = await this.sampler.sample();
    if (snap.node.rate === undefined) return;
    const value = snap.annotation;
    try {
      this.node = await this.api.patch(nodePath(this.nodeName), { metadata: { annotations: { [USAGE_ANNOTATION]: value } } });
    } catch (e) {
      // The status loop re-registers a deleted Node; the next sample goes to the new one.
      if (!isNotFound(e)) throw e;
    }
  }

  private async pollPodCIDR(): Promise<void> {
    if (this.deliveredCIDR) return;
    await this.checkPodCIDR(await this.api.get(nodePath(this.nodeName)));
  }

  /** Delivers a new spec.podCIDR to the caller; once delivered, the status is posted at once (readiness may follow). */
  private async checkPodCIDR(node: Obj): Promise<void> {
    const cidr: string | undefined = node.spec?.podCIDR;
    if (!cidr || cidr === this.deliveredCIDR) return;
    this.log.info({ node: this.nodeName, podCIDR: cidr }, 'pod CIDR assigned');
    await this.o.onPodCIDR?.(cidr);
    this.deliveredCIDR = cidr;
    for (const w of this.cidrWaiters.splice(0)) w(cidr);
    this.statusLoop?.kick();
  }

  /** The kubelet's /stats/summary: node and per-pod cpu and memory from the latest sample, fs and pids now. */
  async summary(): Promise<Summary> {
    const snap = this.sampler.latest ?? (await this.sampler.sample());
    const [fs, pids, boot] = await Promise.all([this.readings.fs(this.o.dataDir), this.readings.pids(), this.readings.bootTime()]);
    const t = new Date(this.clock.now()).toISOString();
    return {
      node: {
        nodeName: this.nodeName,
        startTime: isoSeconds(boot),
        cpu: snap.node.cpu,
        memory: { ...snap.node.memory, ...(this.cap ? { availableBytes: Math.max(0, this.cap.capacity.memory - snap.node.memory.workingSetBytes) } : {}) },
        fs: { time: t, availableBytes: fs.availableBytes, capacityBytes: fs.capacityBytes, usedBytes: fs.capacityBytes - fs.availableBytes, inodesFree: fs.inodesFree, inodes: fs.inodes, inodesUsed: fs.inodes - fs.inodesFree },
        rlimit: { time: t, maxpid: pids.max, curproc: pids.running },
      },
      pods: snap.pods,
    };
  }
}
