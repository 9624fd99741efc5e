/**
 * From Kubernetes resource requests and limits to cgroup settings, for one
 * container (what the runtime applies) and for a whole pod (what Skiff writes
 * on the pod cgroup). Pure; the arithmetic and the rules follow the kubelet
 * (cm/helpers_linux.go ResourceConfigForPod, kuberuntime calculateLinuxResources,
 * and the PodRequests/PodLimits aggregation with init and sidecar containers).
 */
import { milliValue, tryParseQuantity, value } from '../../common/quantity.js';
import type { Resources } from '../runtime/types.js';
import { qosClass, type ContainerLike, type PodLike, type QosClass, type ResourceList } from './qos.js';

export const MIN_SHARES = 2;
export const MAX_SHARES = 262_144;
export const SHARES_PER_CPU = 1024;
/** CFS period in microseconds (the kernel's and the kubelet's default). */
export const QUOTA_PERIOD = 100_000;
/** The kernel refuses quotas below 1 ms. */
export const MIN_QUOTA = 1_000;

/** cpu.shares for a cpu request in millicores: 1024 per core, clamped to [2, 262144]. */
export function milliCpuToShares(milliCpu: number): number {
  if (milliCpu <= 0) return MIN_SHARES;
  const shares = Math.floor((milliCpu * SHARES_PER_CPU) / 1000);
  return Math.min(MAX_SHARES, Math.max(MIN_SHARES, shares));
}

/** cpu.cfs_quota_us for a cpu limit in millicores; 0 means "no limit" (no quota). */
export function milliCpuToQuota(milliCpu: number, period = QUOTA_PERIOD): number {
  if (milliCpu <= 0) return 0;
  return Math.max(MIN_QUOTA, Math.floor((milliCpu * period) / 1000));
}

/** cgroup v2 cpu.weight for v1 shares, with runc's conversion ([2, 262144] -> [1, 10000]). */
export function sharesToWeight(shares: number): number {
  if (shares <= 0) return 100;
  const s = Math.min(MAX_SHARES, Math.max(MIN_SHARES, shares));
  return 1 + Math.floor(((s - 2) * 9999) / 262_142);
}

const milliCpuOf = (list: ResourceList | undefined): number => {
  const q = tryParseQuantity(list?.cpu);
  return q && q.nanos > 0n ? milliValue(q) : 0;
};
const bytesOf = (list: ResourceList | undefined): number => {
  const q = tryParseQuantity(list?.memory);
  return q && q.nanos > 0n ? value(q) : 0;
};

/**
 * A container's runtime resources, as the kubelet computes them: shares from
 * the cpu request (from the limit when only a limit is set; 2 when neither,
 * so BestEffort containers get 2), a CFS quota only with a cpu limit, and a
 * memory limit only when one is set.
 */
export function containerResources(container: ContainerLike): Resources {
  const req = container.resources?.requests;
  const lim = container.resources?.limits;
  const cpuRequest = milliCpuOf(req);
  const cpuLimit = milliCpuOf(lim);
  const memoryLimit = bytesOf(lim);
  const out: Resources = { cpuShares: milliCpuToShares(cpuRequest === 0 && cpuLimit > 0 ? cpuLimit : cpuRequest) };
  if (cpuLimit > 0) {
    out.cpuQuota = milliCpuToQuota(cpuLimit);
    out.cpuPeriod = QUOTA_PERIOD;
  }
  if (memoryLimit > 0) out.memoryLimit = memoryLimit;
  return out;
}

/** cpu in millicores and memory in bytes. */
export interface CpuMem {
  milliCpu: number;
  memory: number;
}

/** A pod's aggregated requests and limits, and whether every container declared each limit. */
export interface PodTotals {
  requests: CpuMem;
  limits: CpuMem;
  cpuLimitsDeclared: boolean;
  memoryLimitsDeclared: boolean;
}

const readList = (list: ResourceList | undefined): CpuMem => ({ milliCpu: milliCpuOf(list), memory: bytesOf(list) });
const add = (a: CpuMem, b: CpuMem): CpuMem => ({ milliCpu: a.milliCpu + b.milliCpu, memory: a.memory + b.memory });
const max = (a: CpuMem, b: CpuMem): CpuMem => ({ milliCpu: Math.max(a.milliCpu, b.milliCpu), memory: Math.max(a.memory, b.memory) });
const ZERO: CpuMem = { milliCpu: 0, memory: 0 };

/**
 * Kubernetes' AggregateContainerRequests/Limits for one side: the sum over app
 * containers and sidecars, raised to the largest init container (each init
 * container counted together with the sidecars started before it). `seen` is
 * called with every container's effective list, as the kubelet's ContainerFn.
 */
function aggregate(pod: PodLike, side: 'requests' | 'limits', seen?: (r: CpuMem) => void): CpuMem {
  let total = ZERO;
  for (const c of pod.spec?.containers ?? []) {
    const r = readList(c.resources?.[side]);
    seen?.(r);
    total = add(total, r);
  }
  let sidecars = ZERO;
  let initMax = ZERO;
  for (const c of pod.spec?.initContainers ?? []) {
    let r = readList(c.resources?.[side]);
    if (c.restartPolicy === 'Always') {
      // A sidecar keeps running beside the app containers and the later init containers.
      total = add(total, r);
      sidecars = add(sidecars, r);
      r = sidecars;
    } else {
      r = add(r, sidecars);
    }
    seen?.(r);
    initMax = max(initMax, r);
  }
  return max(total, initMax);
}

/** Requests and limits of the whole pod, pod overhead included (on limits only where a limit exists). */
export function podTotals(pod: PodLike): PodTotals {
  let cpuLimitsDeclared = true;
  let memoryLimitsDeclared = true;
  const overhead = readList(pod.spec?.overhead);
  const requests = add(aggregate(pod, 'requests'), overhead);
  const limits = aggregate(pod, 'limits', (r) => {
    if (r.milliCpu === 0) cpuLimitsDeclared = false;
    if (r.memory === 0) memoryLimitsDeclared = false;
  });
  if (limits.milliCpu > 0) limits.milliCpu += overhead.milliCpu;
  if (limits.memory > 0) limits.memory += overhead.memory;
  return { requests, limits, cpuLimitsDeclared, memoryLimitsDeclared };
}

/** Pod-level cgroup settings, with the class they were derived for. */
export interface PodResources extends Resources {
  qos: QosClass;
}

/**
 * What the kubelet writes on a pod cgroup (ResourceConfigForPod): Guaranteed
 * pods get shares, quota and memory limit; Burstable pods get shares, plus a
 * quota only when every container has a cpu limit and a memory limit only when
 * every container has a memory limit; BestEffort pods get the minimum shares.
 */
export function podResources(pod: PodLike): PodResources {
  const qos = qosClass(pod);
  if (qos === 'BestEffort') return { qos, cpuShares: MIN_SHARES };
  const t = podTotals(pod);
  const out: PodResources = { qos, cpuShares: milliCpuToShares(t.requests.milliCpu) };
  const quota = milliCpuToQuota(t.limits.milliCpu);
  if ((qos === 'Guaranteed' || t.cpuLimitsDeclared) && quota > 0) {
    out.cpuQuota = quota;
    out.cpuPeriod = QUOTA_PERIOD;
  }
  if ((qos === 'Guaranteed' || t.memoryLimitsDeclared) && t.limits.memory > 0) out.memoryLimit = t.limits.memory;
  return out;
}
