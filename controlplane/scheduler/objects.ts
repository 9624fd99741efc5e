/**
 * The API objects the scheduler reads, and the live-usage contract between
 * the agent and the scheduler.
 *
 * Objects are the plain JSON the API server sends (watch events and lists
 * alike), typed with @kubernetes/client-node's model interfaces; timestamps
 * therefore arrive as strings even where the models say Date.
 */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { milliValue, tryParseQuantity, value } from '../../common/quantity.js';

export type Pod = V1Pod;
export type Node = V1Node;

/**
 * Node annotation the agent publishes with the node's real cgroup usage:
 * JSON `{"cpu":"<millicores>m","memory":"<bytes>","timestamp":"<RFC3339>"}`,
 * e.g. `{"cpu":"1250m","memory":"2147483648","timestamp":"2025-01-01T10:00:00Z"}`.
 * `cpu` and `memory` are Kubernetes quantities (other spellings such as "1.5"
 * or "2Gi" parse too); `memory` is the working set (usage minus inactive file
 * cache), as kubelet's eviction and `kubectl top` count it. The agent should
 * refresh it at least every 30 s; readings older than USAGE_MAX_AGE_MS are ignored.
 */
export const USAGE_ANNOTATION = 'skiff.io/usage';
export const USAGE_MAX_AGE_MS = 60_000;

export interface NodeUsage {
  milliCPU: number;
  memory: number;
  /** When the reading was taken, ms since the epoch. */
  time: number;
}

/** Parses the usage annotation; undefined when absent or malformed (a bad reading is no reading). */
export function parseUsage(node: Node): NodeUsage | undefined {
  const raw = node.metadata?.annotations?.[USAGE_ANNOTATION];
  if (!raw) return undefined;
  try {
    const u = JSON.parse(raw) as { cpu?: unknown; memory?: unknown; timestamp?: unknown };
    const cpu = tryParseQuantity(u.cpu);
    const mem = tryParseQuantity(u.memory);
    const time = typeof u.timestamp === 'string' ? Date.parse(u.timestamp) : NaN;
    if (!cpu || !mem || Number.isNaN(time)) return undefined;
    return { milliCPU: milliValue(cpu), memory: value(mem), time };
  } catch {
    return undefined;
  }
}

/** The annotation value for a reading (what the agent writes; tests use it for fake nodes). */
export function formatUsage(milliCPU: number, memoryBytes: number, time: Date): string {
  return JSON.stringify({ cpu: `${Math.round(milliCPU)}m`, memory: String(Math.round(memoryBytes)), timestamp: time.toISOString().replace(/\.\d{3}Z$/, 'Z') });
}

/** Pods in a terminal phase hold no resources; kube-scheduler's informer filters them out. */
export function isTerminal(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

/** `namespace/name`. */
export function podKey(pod: Pod): string {
  return `${pod.metadata?.namespace ?? 'default'}/${pod.metadata?.name ?? ''}`;
}
