/**
 * Skiff's cgroups, for the rest of the agent. The pure layout and resource
 * rules are re-exported as they are; the I/O helpers below act on this
 * host's hierarchies through one CgroupManager detected on first use (root
 * cgroup `skiff`). Code that needs another root or a fake tree builds its own
 * CgroupManager.
 *
 *   ensureQosCgroups()       at agent start
 *   ensurePodCgroup(pod)     before the pod's sandbox; returns podCgroupParent(pod)
 *   containerResources(c)    the runtime resources of each container
 *   removePodCgroup(uid)     after the pod's last container is removed (CgroupBusyError while processes remain)
 *   listPodCgroups()         to find orphans
 */
import type { PodLike } from './qos.js';
import { CgroupManager, type PodCgroup } from './manager.js';
import type { CgroupStats } from './stats.js';

export { computeQosClass, qosClass, podCgroupParent, podCgroupPathFor, qosCgroupPath, DEFAULT_CGROUP_ROOT, type QosClass, type PodLike, type ContainerLike } from './qos.js';
export { containerResources, podResources, podTotals, milliCpuToShares, milliCpuToQuota, sharesToWeight, type PodResources } from './resources.js';
export { CgroupManager, CgroupBusyError, type PodCgroup } from './manager.js';
export { detectLayout, type CgroupLayout } from './layout.js';
export { readCgroupStats, type CgroupStats } from './stats.js';
export { readOwnLimits, type OwnLimits } from './limits.js';

let host: Promise<CgroupManager> | undefined;

/** The manager of this host's cgroups (detected once, from /proc/self/mountinfo). */
export function hostCgroups(): Promise<CgroupManager> {
  host ??= CgroupManager.detect().catch((e: unknown) => {
    host = undefined;
    throw e;
  });
  return host;
}

export async function ensureQosCgroups(allocatable?: { milliCpu?: number; memory?: number }): Promise<void> {
  await (await hostCgroups()).ensureQosCgroups(allocatable);
}

export async function updateQosCgroups(pods: PodLike[]): Promise<void> {
  await (await hostCgroups()).updateQosCgroups(pods);
}

export async function ensurePodCgroup(pod: PodLike): Promise<string> {
  return (await hostCgroups()).ensurePodCgroup(pod);
}

export async function removePodCgroup(uid: string): Promise<void> {
  await (await hostCgroups()).removePodCgroup(uid);
}

export async function listPodCgroups(): Promise<PodCgroup[]> {
  return (await hostCgroups()).listPodCgroups();
}

export async function cgroupStats(path: string): Promise<CgroupStats | undefined> {
  return (await hostCgroups()).stats(path);
}
