/**
 * A pod's QoS class as Kubernetes' qos.ComputePodQOS computes it, shared by the
 * API server (status.qosClass at creation) and the agent (its cgroup layout).
 * Only cpu and memory count and zero quantities are ignored; init containers
 * count like the others. Guaranteed needs cpu and memory limits on every
 * container and the summed requests equal to the summed limits; nothing set at
 * all is BestEffort; anything else is Burstable. Tolerates malformed JSON
 * (defaulting runs before validation): entries that are not objects are skipped.
 */
import { addQuantities, compareQuantities, tryParseQuantity, type Quantity } from './quantity.js';

export type QosClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

const QOS_RESOURCES = ['cpu', 'memory'] as const;

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const objects = (v: unknown): Json[] => (Array.isArray(v) ? v.filter(isObj) : []);

/** Adds the positive cpu/memory quantities of `list` into `into`; returns the names found. */
function sumPositive(into: Map<string, Quantity>, list: unknown): Set<string> {
  const found = new Set<string>();
  if (!isObj(list)) return found;
  for (const name of QOS_RESOURCES) {
    const q = tryParseQuantity(list[name]);
    if (!q || q.nanos <= 0n) continue;
    found.add(name);
    const prev = into.get(name);
    into.set(name, prev ? addQuantities(prev, q) : q);
  }
  return found;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function podQOSClass(pod: { spec?: any }): QosClass {
  const requests = new Map<string, Quantity>();
  const limits = new Map<string, Quantity>();
  let guaranteed = true;
  for (const c of [...objects(pod.spec?.containers), ...objects(pod.spec?.initContainers)]) {
    const res = isObj(c.resources) ? c.resources : {};
    sumPositive(requests, res.requests);
    const found = sumPositive(limits, res.limits);
    if (!found.has('cpu') || !found.has('memory')) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed) {
    for (const [name, req] of requests) {
      const lim = limits.get(name);
      if (!lim || compareQuantities(lim, req) !== 0) guaranteed = false;
    }
  }
  return guaranteed && requests.size === limits.size ? 'Guaranteed' : 'Burstable';
}
