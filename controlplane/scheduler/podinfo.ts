/**
 * PodInfo: what the scheduler needs from a Pod, parsed once per pod version
 * (requests, host ports, tolerations, pod affinity terms) so filters and
 * scores over thousands of nodes do no parsing.
 *
 * Requests follow Kubernetes' PodRequests (component-helpers resource helpers):
 * the sum of the app containers, plus restartable ("sidecar") init containers,
 * against which each ordinary init container is compared with max(), then
 * `spec.overhead` is added.
 */
import type { V1Container, V1PodAffinityTerm, V1Toleration } from '@kubernetes/client-node';
import { milliValue, tryParseQuantity, value } from '../../common/quantity.js';
import { matches, selectorFromObject, type Requirement, type Selector } from '../../common/labels.js';
import type { Pod } from './objects.js';

/** Amounts in scheduler units: millicores, bytes, and whole units for everything else. */
export interface Resources {
  milliCPU: number;
  memory: number;
  /** ephemeral-storage, hugepages-*, extended resources (`vendor/name`). Absent when none. */
  scalar?: Map<string, number>;
}

/** kube-scheduler's defaults for containers without cpu/memory requests, used in scoring only. */
export const DEFAULT_MILLI_CPU_REQUEST = 100;
export const DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024;

export interface HostPort {
  /** '0.0.0.0' when the container did not pin an address. */
  ip: string;
  protocol: string;
  port: number;
}

/** A pod (anti-)affinity term, resolved against its owner pod. */
export interface AffinityTerm {
  /** null matches no pod (a missing or invalid labelSelector). */
  readonly selector: Selector | null;
  /** null = every namespace. */
  readonly namespaces: ReadonlySet<string> | null;
  readonly topologyKey: string;
}

export interface WeightedAffinityTerm extends AffinityTerm {
  readonly weight: number;
}

export interface PodInfo {
  readonly pod: Pod;
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly schedulerName: string;
  /** spec.nodeName, '' when unassigned. */
  readonly nodeName: string;
  readonly deleting: boolean;
  readonly priority: number;
  /** Exact requests, for fitting. */
  readonly requests: Resources;
  /** Requests with the 100m / 200Mi defaults for containers that set none, for scoring. */
  readonly nonZero: Resources;
  readonly hostPorts: readonly HostPort[];
  readonly tolerations: readonly V1Toleration[];
  readonly requiredAffinity: readonly AffinityTerm[];
  readonly requiredAntiAffinity: readonly AffinityTerm[];
  readonly preferredAffinity: readonly WeightedAffinityTerm[];
  readonly preferredAntiAffinity: readonly WeightedAffinityTerm[];
  /** Any of the four term lists is non-empty. */
  readonly hasAffinity: boolean;
  /**
   * uid of the `ownerReferences` entry with controller=true, if any: what
   * PodTopologySpread's default spreading groups pods by, kept here so the
   * per-cycle walk over every pod reads no nested objects.
   */
  readonly controllerUID: string | undefined;
}

/** Parsed quantities by text: pods of one workload repeat the same few strings. Bounded. */
const amounts = new Map<string, number>();
const MAX_MEMO = 4096;

function amount(resource: string, q: unknown): number {
  const cpu = resource === 'cpu';
  const key = typeof q === 'string' ? (cpu ? `m${q}` : q) : undefined;
  const hit = key === undefined ? undefined : amounts.get(key);
  if (hit !== undefined) return hit;
  const parsed = tryParseQuantity(q);
  const v = parsed ? (cpu ? milliValue(parsed) : value(parsed)) : 0;
  if (key !== undefined) {
    if (amounts.size >= MAX_MEMO) amounts.clear();
    amounts.set(key, v);
  }
  return v;
}

/** One container's requests; limits stand in for missing requests, as API defaulting does. */
function containerRequests(c: V1Container, nonMissing: boolean): Map<string, number> {
  const out = new Map<string, number>();
  const requests = c.resources?.requests ?? {};
  const limits = c.resources?.limits ?? {};
  for (const [k, v] of Object.entries(requests)) out.set(k, amount(k, v));
  for (const [k, v] of Object.entries(limits)) if (!out.has(k)) out.set(k, amount(k, v));
  if (nonMissing) {
    if (!out.has('cpu')) out.set('cpu', DEFAULT_MILLI_CPU_REQUEST);
    if (!out.has('memory')) out.set('memory', DEFAULT_MEMORY_REQUEST);
  }
  return out;
}

function addTo(acc: Map<string, number>, add: Map<string, number>): void {
  for (const [k, v] of add) acc.set(k, (acc.get(k) ?? 0) + v);
}

function maxInto(acc: Map<string, number>, other: Map<string, number>): void {
  for (const [k, v] of other) if (v > (acc.get(k) ?? 0)) acc.set(k, v);
}

/**
 * Effective requests of a pod as Kubernetes computes them. With `nonMissing`,
 * containers lacking a cpu or memory request count as 100m / 200Mi
 * (kube-scheduler's NonMissingContainerRequests, used by scoring).
 */
export function podRequests(pod: Pod, nonMissing = false): Resources {
  const spec = pod.spec;
  const reqs = new Map<string, number>();
  for (const c of spec?.containers ?? []) addTo(reqs, containerRequests(c, nonMissing));
  const sidecars = new Map<string, number>();
  const initMax = new Map<string, number>();
  for (const c of spec?.initContainers ?? []) {
    let r = containerRequests(c, nonMissing);
    if (c.restartPolicy === 'Always') {
      // A sidecar keeps running next to the app containers and next to later init containers.
      addTo(reqs, r);
      addTo(sidecars, r);
      r = new Map(sidecars);
    } else {
      const withSidecars = new Map(r);
      addTo(withSidecars, sidecars);
      r = withSidecars;
    }
    maxInto(initMax, r);
  }
  maxInto(reqs, initMax);
  for (const [k, v] of Object.entries(spec?.overhead ?? {})) reqs.set(k, (reqs.get(k) ?? 0) + amount(k, v));
  return toResources(reqs);
}

/** Whether a resource name is tracked as a scalar (everything but cpu, memory and pods). */
export function isScalarResource(name: string): boolean {
  return name !== 'cpu' && name !== 'memory' && name !== 'pods';
}

/** A resource list (`{cpu: "2", memory: "4Gi", ...}`) or computed map in scheduler units. */
export function toResources(list: Map<string, number> | Record<string, unknown> | undefined): Resources {
  const entries: [string, number][] = list instanceof Map ? [...list] : Object.entries(list ?? {}).map(([k, v]) => [k, amount(k, v)]);
  const r: Resources = { milliCPU: 0, memory: 0 };
  for (const [k, v] of entries) {
    if (k === 'cpu') r.milliCPU = v;
    else if (k === 'memory') r.memory = v;
    else if (isScalarResource(k) && v !== 0) (r.scalar ??= new Map()).set(k, v);
  }
  return r;
}

function hostPortsOf(pod: Pod): HostPort[] {
  const out: HostPort[] = [];
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      if (!p.hostPort || p.hostPort <= 0) continue;
      out.push({ ip: p.hostIP || '0.0.0.0', protocol: p.protocol || 'TCP', port: p.hostPort });
    }
  }
  return out;
}

/**
 * Resolves a PodAffinityTerm of `owner`: an absent namespace list and selector
 * mean the owner's namespace; an empty namespaceSelector means all namespaces.
 * A non-empty namespaceSelector needs namespace labels, which this scheduler
 * does not watch: it then adds no namespaces beyond the listed ones.
 * matchLabelKeys / mismatchLabelKeys add `key = / != owner's value`.
 */
export function affinityTerm(t: V1PodAffinityTerm, owner: Pod): AffinityTerm {
  const ns = owner.metadata?.namespace ?? 'default';
  let namespaces: Set<string> | null = new Set(t.namespaces ?? []);
  const nsSel = t.namespaceSelector;
  if (nsSel && !nsSel.matchLabels && !nsSel.matchExpressions?.length) namespaces = null;
  else if (namespaces.size === 0 && !nsSel) namespaces.add(ns);
  let selector: Selector | null = null;
  try {
    selector = selectorFromObject(t.labelSelector as never);
    const labels = owner.metadata?.labels ?? {};
    const extra: Requirement[] = [];
    for (const k of t.matchLabelKeys ?? []) if (k in labels) extra.push({ key: k, operator: 'In', values: [labels[k]] });
    for (const k of t.mismatchLabelKeys ?? []) if (k in labels) extra.push({ key: k, operator: 'NotIn', values: [labels[k]] });
    if (selector && extra.length) selector = [...selector, ...extra];
  } catch {
    // An invalid selector selects nothing; validation should have refused it anyway.
    selector = null;
  }
  return { selector, namespaces, topologyKey: t.topologyKey };
}

/** Whether `pod` is selected by the term (namespace and labels). */
export function termMatches(term: AffinityTerm, pod: PodInfo): boolean {
  if (term.selector === null) return false;
  if (term.namespaces !== null && !term.namespaces.has(pod.namespace)) return false;
  return matches(term.selector, pod.labels as Record<string, string>);
}

/** Builds the PodInfo of a pod object; the object is kept by reference and must not be mutated. */
export function newPodInfo(pod: Pod): PodInfo {
  const aff = pod.spec?.affinity;
  const required = (ts: V1PodAffinityTerm[] | undefined): AffinityTerm[] => (ts ?? []).map((t) => affinityTerm(t, pod));
  const preferred = (ts: { weight: number; podAffinityTerm: V1PodAffinityTerm }[] | undefined): WeightedAffinityTerm[] =>
    (ts ?? []).filter((t) => t.weight).map((t) => ({ ...affinityTerm(t.podAffinityTerm, pod), weight: t.weight }));
  const requiredAffinity = required(aff?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution);
  const requiredAntiAffinity = required(aff?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution);
  const preferredAffinity = preferred(aff?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution);
  const preferredAntiAffinity = preferred(aff?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution);
  return {
    pod,
    uid: pod.metadata?.uid ?? '',
    namespace: pod.metadata?.namespace ?? 'default',
    name: pod.metadata?.name ?? '',
    labels: pod.metadata?.labels ?? {},
    schedulerName: pod.spec?.schedulerName || 'default-scheduler',
    nodeName: pod.spec?.nodeName ?? '',
    deleting: !!pod.metadata?.deletionTimestamp,
    priority: pod.spec?.priority ?? 0,
    requests: podRequests(pod),
    nonZero: podRequests(pod, true),
    hostPorts: hostPortsOf(pod),
    tolerations: pod.spec?.tolerations ?? [],
    requiredAffinity,
    requiredAntiAffinity,
    preferredAffinity,
    preferredAntiAffinity,
    hasAffinity: requiredAffinity.length + requiredAntiAffinity.length + preferredAffinity.length + preferredAntiAffinity.length > 0,
    controllerUID: pod.metadata?.ownerReferences?.find((r) => r.controller && r.uid)?.uid,
  };
}
