/**
 * The node's capacity and allocatable, as Kubernetes quantity strings.
 *
 * capacity: cpu and memory are the host's, lowered to the agent's own cgroup
 * limits when it runs inside one (a container or a limited slice: pods cannot
 * get more than that); ephemeral-storage is the size of the filesystem of the
 * agent's data dir; pods is a configured count (110 by default).
 *
 * allocatable = capacity - reserved - hard eviction thresholds (the kubelet's
 * formula): cpu minus reserved cpu; memory minus reserved memory and the
 * `memory.available` threshold; ephemeral-storage minus the
 * `nodefs.available` threshold (a share of capacity). Never below zero.
 */
import { formatQuantity, milliValue, newMilliQuantity, newQuantity, parseQuantity, value } from '../../common/quantity.js';
import type { NodeReadings } from './readings.js';

export const DEFAULT_MAX_PODS = 110;

/** The kubelet's default hard eviction thresholds that Skiff applies. */
export interface EvictionThresholds {
  /** memory.available, a quantity (default 100Mi). */
  memoryAvailable: string;
  /** nodefs.available as a fraction of capacity (default 0.10). */
  nodefsAvailable: number;
  /** nodefs.inodesFree as a fraction of inodes (default 0.05). */
  nodefsInodesFree: number;
  /** Pressure on PIDs when more than this fraction of the limit is in use (default 0.90). */
  pidsInUse: number;
}

export const DEFAULT_EVICTION: EvictionThresholds = { memoryAvailable: '100Mi', nodefsAvailable: 0.1, nodefsInodesFree: 0.05, pidsInUse: 0.9 };

export interface Reserved {
  /** Quantity, default 100m. */
  cpu: string;
  /** Quantity, default 256Mi. */
  memory: string;
}

export const DEFAULT_RESERVED: Reserved = { cpu: '100m', memory: '256Mi' };

/** The raw figures capacity is made of. */
export interface CapacityInput {
  hostMilliCpu: number;
  hostMemoryBytes: number;
  cgroupMilliCpu?: number;
  cgroupMemoryBytes?: number;
  fsCapacityBytes: number;
  maxPods: number;
}

/** Capacity and allocatable in numbers (millicores, bytes, count), before formatting. */
export interface Amounts {
  milliCpu: number;
  memory: number;
  ephemeralStorage: number;
  pods: number;
}

export type ResourceList = { cpu: string; memory: string; pods: string; 'ephemeral-storage': string };

const minDefined = (a: number, b: number | undefined): number => (b !== undefined && b > 0 && b < a ? b : a);

export function capacityAmounts(i: CapacityInput): Amounts {
  return {
    milliCpu: minDefined(i.hostMilliCpu, i.cgroupMilliCpu),
    memory: minDefined(i.hostMemoryBytes, i.cgroupMemoryBytes),
    ephemeralStorage: i.fsCapacityBytes,
    pods: i.maxPods,
  };
}

/** Parses a reserved/threshold quantity; a clear error names the setting. */
function quantity(text: string, what: string): { milli: number; units: number } {
  try {
    const q = parseQuantity(text);
    return { milli: milliValue(q), units: value(q) };
  } catch (e) {
    throw new Error(`invalid ${what} "${text}": ${(e as Error).message}`);
  }
}

export function allocatableAmounts(cap: Amounts, reserved: Reserved = DEFAULT_RESERVED, eviction: EvictionThresholds = DEFAULT_EVICTION): Amounts {
  const cpu = quantity(reserved.cpu, 'reserved cpu').milli;
  const mem = quantity(reserved.memory, 'reserved memory').units;
  const evictMem = quantity(eviction.memoryAvailable, 'memory.available eviction threshold').units;
  return {
    milliCpu: Math.max(0, cap.milliCpu - cpu),
    memory: Math.max(0, cap.memory - mem - evictMem),
    ephemeralStorage: Math.max(0, Math.floor(cap.ephemeralStorage * (1 - eviction.nodefsAvailable))),
    pods: cap.pods,
  };
}

/**
 * As a Node's resource list: cpu in cores or millicores (`2`, `1500m`),
 * memory and storage in binary units where exact (kubelets print `Ki`).
 */
export function toResourceList(a: Amounts): ResourceList {
  // Kubelets report memory in whole Ki; round down to one so the strings look familiar.
  const ki = (bytes: number): number => Math.floor(bytes / 1024) * 1024;
  return {
    cpu: formatQuantity(newMilliQuantity(a.milliCpu)),
    memory: formatQuantity(newQuantity(ki(a.memory), 'BinarySI')),
    'ephemeral-storage': formatQuantity(newQuantity(ki(a.ephemeralStorage), 'BinarySI')),
    pods: formatQuantity(newQuantity(a.pods)),
  };
}

/** Reads the input of capacity from the host. */
export async function readCapacityInput(readings: NodeReadings, dataDir: string, maxPods = DEFAULT_MAX_PODS): Promise<CapacityInput> {
  const [host, fs] = await Promise.all([readings.capacity(), readings.fs(dataDir)]);
  return { ...host, fsCapacityBytes: fs.capacityBytes, maxPods };
}
