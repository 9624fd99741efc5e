/**
 * NodeInfo: one node as the scheduler sees it — its Node object (parsed
 * allocatable, labels, taints, live usage) and the pods assigned or assumed
 * on it, with running sums of their requests and host ports so filters are
 * O(1) per node.
 *
 * A NodeInfo may exist without a Node object when pods name a node the
 * informer has not delivered yet (or one already deleted); such NodeInfos are
 * kept for accounting but never offered to filters.
 */
import type { V1Taint } from '@kubernetes/client-node';
import { parseUsage, type Node, type NodeUsage } from './objects.js';
import { toResources, type HostPort, type PodInfo, type Resources } from './podinfo.js';

export interface Allocatable extends Resources {
  /** Max pods (status.allocatable.pods). */
  pods: number;
}

function addScalars(acc: Map<string, number> | undefined, add: Map<string, number> | undefined, sign: 1 | -1): Map<string, number> | undefined {
  if (!add) return acc;
  acc ??= new Map();
  for (const [k, v] of add) acc.set(k, (acc.get(k) ?? 0) + sign * v);
  return acc;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

const portKey = (ip: string, p: HostPort): string => `${ip}|${p.protocol}|${p.port}`;
const protoPortKey = (p: HostPort): string => `${p.protocol}|${p.port}`;

function bump(m: Map<string, number>, k: string, by: number): void {
  const n = (m.get(k) ?? 0) + by;
  if (n <= 0) m.delete(k);
  else m.set(k, n);
}

// Offsets of a node's numbers in the slab.
const ALLOC_CPU = 0;
const ALLOC_MEM = 1;
const ALLOC_PODS = 2;
const REQ_CPU = 3;
const REQ_MEM = 4;
const NZ_CPU = 5;
const NZ_MEM = 6;
const POD_COUNT = 7;
/** 8 doubles: one 64-byte cache line per node. */
const STRIDE = 8;

/**
 * The numbers every filter and score reads for every node — allocatable,
 * requested and non-zero requested cpu/memory, max pods, pod count — for many
 * NodeInfos in one growable Float64Array, one cache line per node, in the
 * order nodes were added, which is the order a cycle walks them. A cycle
 * touches hundreds of nodes: as object fields each memory value (beyond 2^30,
 * so a boxed heap number) and each nested object cost a cache miss per node,
 * which measured 5x slower; contiguous lines also let the prefetcher stream them.
 */
export class NodeSlab {
  data: Float64Array;
  private next = 0;
  private readonly free: number[] = [];

  constructor(capacity = 64) {
    this.data = new Float64Array(STRIDE * capacity);
  }

  alloc(): number {
    const off = this.free.pop() ?? this.next++ * STRIDE;
    if (off + STRIDE > this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data.fill(0, off, off + STRIDE);
    return off;
  }

  release(off: number): void {
    this.free.push(off);
  }
}

export class NodeInfo {
  // Hot fields first: filters read them for every node of a cycle.
  private readonly off: number;
  unschedulable = false;
  /** taints.length, kept here so the common untainted case reads no array. */
  taintCount = 0;
  usage: NodeUsage | undefined;
  node: Node | undefined;
  labels: Record<string, string> = {};
  taints: readonly V1Taint[] = [];
  hasPreferNoSchedule = false;
  /** Scalar resources (ephemeral-storage, extended): allocatable and requested. */
  allocScalar: Map<string, number> | undefined;
  reqScalar: Map<string, number> | undefined;
  readonly pods = new Map<string, PodInfo>();
  /** Pods with any pod (anti-)affinity term, and those with required anti-affinity. */
  readonly podsWithAffinity = new Map<string, PodInfo>();
  readonly podsWithRequiredAntiAffinity = new Map<string, PodInfo>();
  /** `ip|proto|port` and `proto|port` use counts. */
  private readonly ports = new Map<string, number>();
  private readonly protoPorts = new Map<string, number>();

  /** `slab`: shared with the other nodes of a cache; a standalone NodeInfo gets its own. */
  constructor(
    readonly name: string,
    private readonly slab: NodeSlab = new NodeSlab(1),
  ) {
    this.off = slab.alloc();
  }

  /** Gives the slab line back (the cache calls it when it drops the NodeInfo). */
  release(): void {
    this.slab.release(this.off);
  }

  get allocMilliCPU(): number {
    return this.slab.data[this.off + ALLOC_CPU];
  }
  get allocMemory(): number {
    return this.slab.data[this.off + ALLOC_MEM];
  }
  get allocPods(): number {
    return this.slab.data[this.off + ALLOC_PODS];
  }
  /** Sum of exact requests of the pods here (assumed ones included). */
  get reqMilliCPU(): number {
    return this.slab.data[this.off + REQ_CPU];
  }
  get reqMemory(): number {
    return this.slab.data[this.off + REQ_MEM];
  }
  /** Sum of requests with the scoring defaults for containers without requests. */
  get nonZeroMilliCPU(): number {
    return this.slab.data[this.off + NZ_CPU];
  }
  get nonZeroMemory(): number {
    return this.slab.data[this.off + NZ_MEM];
  }
  /** pods.size, kept with the other numbers (reading the Map costs two more cache misses per node). */
  get podCount(): number {
    return this.slab.data[this.off + POD_COUNT];
  }

  /** Allocatable as one object (for messages and tests; filters use the getters). */
  get allocatable(): Allocatable {
    return { milliCPU: this.allocMilliCPU, memory: this.allocMemory, pods: this.allocPods, ...(this.allocScalar ? { scalar: this.allocScalar } : {}) };
  }

  get requested(): Resources {
    return { milliCPU: this.reqMilliCPU, memory: this.reqMemory, ...(this.reqScalar ? { scalar: this.reqScalar } : {}) };
  }

  get nonZeroRequested(): Resources {
    return { milliCPU: this.nonZeroMilliCPU, memory: this.nonZeroMemory };
  }

  /**
   * Takes a new version of the Node object. Returns whether anything a filter
   * reads changed (allocatable, labels, taints, unschedulable): only then are
   * unschedulable pods worth retrying. Usage and heartbeats alone do not count.
   */
  setNode(node: Node): boolean {
    const prev = this.node;
    this.node = node;
    this.usage = parseUsage(node);
    const status = node.status;
    const alloc = status?.allocatable ?? status?.capacity ?? {};
    const relevant =
      !prev ||
      !sameJson(prev.status?.allocatable ?? prev.status?.capacity, alloc) ||
      !sameJson(prev.metadata?.labels, node.metadata?.labels) ||
      !sameJson(prev.spec?.taints, node.spec?.taints) ||
      !!prev.spec?.unschedulable !== !!node.spec?.unschedulable;
    if (!relevant) return false;
    const r = toResources(alloc);
    const pods = Number.parseInt(String(alloc.pods ?? '0'), 10);
    const d = this.slab.data;
    d[this.off + ALLOC_CPU] = r.milliCPU;
    d[this.off + ALLOC_MEM] = r.memory;
    d[this.off + ALLOC_PODS] = Number.isFinite(pods) ? pods : 0;
    this.allocScalar = r.scalar;
    this.labels = node.metadata?.labels ?? {};
    this.taints = node.spec?.taints ?? [];
    this.taintCount = this.taints.length;
    this.unschedulable = !!node.spec?.unschedulable;
    this.hasPreferNoSchedule = this.taints.some((t) => t.effect === 'PreferNoSchedule');
    return true;
  }

  /** Accounts a pod (assigned or assumed). Adding a uid already present is a no-op. */
  addPod(pi: PodInfo): void {
    if (this.pods.has(pi.uid)) return;
    this.pods.set(pi.uid, pi);
    if (pi.hasAffinity) this.podsWithAffinity.set(pi.uid, pi);
    if (pi.requiredAntiAffinity.length) this.podsWithRequiredAntiAffinity.set(pi.uid, pi);
    this.account(pi, 1);
    for (const p of pi.hostPorts) {
      bump(this.ports, portKey(p.ip, p), 1);
      bump(this.protoPorts, protoPortKey(p), 1);
    }
  }

  /** Removes the pod with this uid, using the PodInfo it was added with. Returns it, if it was here. */
  removePod(uid: string): PodInfo | undefined {
    const pi = this.pods.get(uid);
    if (!pi) return undefined;
    this.pods.delete(uid);
    this.podsWithAffinity.delete(uid);
    this.podsWithRequiredAntiAffinity.delete(uid);
    this.account(pi, -1);
    for (const p of pi.hostPorts) {
      bump(this.ports, portKey(p.ip, p), -1);
      bump(this.protoPorts, protoPortKey(p), -1);
    }
    return pi;
  }

  private account(pi: PodInfo, sign: 1 | -1): void {
    const d = this.slab.data;
    const o = this.off;
    d[o + REQ_CPU] += sign * pi.requests.milliCPU;
    d[o + REQ_MEM] += sign * pi.requests.memory;
    d[o + NZ_CPU] += sign * pi.nonZero.milliCPU;
    d[o + NZ_MEM] += sign * pi.nonZero.memory;
    d[o + POD_COUNT] += sign;
    this.reqScalar = addScalars(this.reqScalar, pi.requests.scalar, sign);
  }

  /**
   * Whether a wanted host port collides with one in use (Kubernetes' HostPortInfo):
   * 0.0.0.0 collides with the same protocol/port on any address, a specific
   * address with itself and with 0.0.0.0.
   */
  portConflict(want: HostPort): boolean {
    if (want.ip === '0.0.0.0') return this.protoPorts.has(protoPortKey(want));
    return this.ports.has(portKey('0.0.0.0', want)) || this.ports.has(portKey(want.ip, want));
  }
}
