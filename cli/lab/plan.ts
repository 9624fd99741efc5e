/**
 * The lab's layout, as pure data: which node containers exist, their names and
 * addresses, their volumes, and the exact `docker` arguments that create them.
 * Everything `lab up` makes and `lab down` removes is named here (and carries the
 * label LAB_LABEL), so the two always agree on what belongs to the lab.
 *
 * Addresses follow the design contract: network 192.168.56.0/24, created
 * internal (no route out), the host on the bridge's gateway .1, the server node
 * on .10 and workers on .11, .12, ... (the same addresses as the Vagrantfile).
 */

export const LAB_NETWORK = 'skiff-lab';
/** The bridge's device name on the host: fixed, so the host rule (hostrules.ts) can name it. */
export const LAB_BRIDGE = 'skiff-lab0';
export const LAB_SUBNET = '192.168.56.0/24';
export const LAB_GATEWAY = '192.168.56.1';
/** Label on every container, network and volume the lab makes; `lab down` removes by it. */
export const LAB_LABEL = 'skiff.io/lab';
export const NODE_IMAGE_REPO = 'skiff.local/lab-node';
export const CACHE_DIR = '/var/cache/skiff/lab';
export const LAB_KUBECONFIG = '/etc/skiff/lab.kubeconfig';
export const SERVER_IP = '192.168.56.10';
export const API_PORT = 6443;
export const REGISTRY_PORT = 5000;
export const REGISTRY = `${SERVER_IP}:${REGISTRY_PORT}`;
/** Where the build is mounted (read-only) in every node: the prefix of `skiff install` (build.ts). */
export const SRC_MOUNT = '/opt/skiff';
/** Most nodes the /24 holds from .10 up (.10 .. .254). */
export const MAX_NODES = 245;

/**
 * Short failure-detection settings for the lab (a real cluster keeps the defaults,
 * 40 s and 300 s): a lost node is Unknown after 10 s and its pods are evicted 10 s
 * later, so the failover test and benchmark finish in well under a minute.
 */
export const LAB_SERVER_SETTINGS = { nodeMonitorGracePeriod: '10s', defaultTolerationSeconds: 10 };

export type Role = 'server' | 'agent';

export interface LabNode {
  index: number;
  /** Container name, host name and Kubernetes Node name: `skiff-lab-<index>`. */
  name: string;
  ip: string;
  /** `server` runs the control plane and an agent; `agent` only an agent. */
  role: Role;
  /** Named volume for the node's /var/lib/docker (see `nodeRunArgs`). */
  volume: string;
}

/** The name of node `i`. Pure. */
export function nodeName(i: number): string {
  return `skiff-lab-${i}`;
}

/** Nodes 0..n-1: node 0 is the server. Throws for a count the subnet cannot hold. Pure. */
export function labNodes(n: number): LabNode[] {
  if (!Number.isInteger(n) || n < 1 || n > MAX_NODES) throw new Error(`the lab holds 1 to ${MAX_NODES} nodes, got ${n}`);
  return Array.from({ length: n }, (_, i) => ({
    index: i,
    name: nodeName(i),
    ip: `192.168.56.${10 + i}`,
    role: i === 0 ? 'server' : 'agent',
    volume: `${nodeName(i)}-docker`,
  }));
}

/** The index of a lab container name, or undefined for any other name. Pure. */
export function nodeIndex(name: string): number | undefined {
  const m = /^\/?skiff-lab-(\d{1,3})$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** `docker network create` arguments for the lab network. Pure. */
export function networkCreateArgs(): string[] {
  return [
    'network', 'create',
    // No route out: Docker gives the containers no default gateway and drops
    // forwarding between this bridge and any other interface.
    '--internal',
    '--driver', 'bridge',
    '--subnet', LAB_SUBNET,
    '--gateway', LAB_GATEWAY,
    '--opt', `com.docker.network.bridge.name=${LAB_BRIDGE}`,
    '--label', `${LAB_LABEL}=1`,
    LAB_NETWORK,
  ];
}

export interface RunOptions {
  /** repo:tag of the node image. */
  image: string;
  /** Read-only mounts of the build (build.ts: the snapshot at SRC_MOUNT, node_modules on top). */
  buildMounts: { source: string; target: string }[];
  /** Bind /lib/modules/<release> read-only (only when the host has that folder). */
  modulesDir?: string;
  /** Pass /dev/net/tun (when the host has it): the agent's fallback for the service device. */
  tun?: boolean;
}

/**
 * `docker run` arguments for one node container. Pure. Why each option:
 *
 * - `--privileged` fails on this kind of host (one capability cannot be granted):
 *   every capability but SYS_RESOURCE instead, no seccomp or AppArmor profile, and
 *   `systempaths=unconfined` so /proc/sys is writable (the agent sets ip_forward and
 *   the bridge sysctls of the node's own network namespace);
 * - `--cgroupns=private`: the node sees its own cgroup as the root of every
 *   hierarchy, so systemd, the nested dockerd and the agent's pod cgroups
 *   (`/skiff/...`) all stay inside the node's cgroup and two nodes never share
 *   one; Docker mounts those hierarchies read-only, and the image's entrypoint
 *   (`skiff-lab-init`, rootfs.ts) remounts them writable before it starts systemd;
 * - tmpfs on /run and /run/lock, as systemd expects; `container=docker` tells it
 *   where it runs; SIGRTMIN+3 is systemd's "halt" for `docker stop`;
 * - a volume for /var/lib/docker: the nested dockerd's overlay2 cannot sit on the
 *   container's own overlay root;
 * - the build read-only at /opt/skiff (a snapshot of the checkout's: build.ts);
 * - /dev/net/tun: on kernels without the dummy driver the agent routes the
 *   service CIDR to a detached tun device (agent/host/network.ts).
 */
export function nodeRunArgs(node: LabNode, o: RunOptions): string[] {
  return [
    'run', '--detach',
    '--name', node.name,
    '--hostname', node.name,
    '--label', `${LAB_LABEL}=1`,
    '--label', `${LAB_LABEL}.role=${node.role}`,
    '--network', LAB_NETWORK,
    '--ip', node.ip,
    '--cap-add', 'ALL',
    '--cap-drop', 'SYS_RESOURCE',
    '--security-opt', 'seccomp=unconfined',
    '--security-opt', 'apparmor=unconfined',
    '--security-opt', 'systempaths=unconfined',
    '--cgroupns', 'private',
    '--tmpfs', '/run:rw,nosuid,nodev,mode=755',
    '--tmpfs', '/run/lock:rw,nosuid,nodev,noexec',
    '--env', 'container=docker',
    '--stop-signal', 'SIGRTMIN+3',
    '--volume', `${node.volume}:/var/lib/docker`,
    ...o.buildMounts.flatMap((m) => ['--volume', `${m.source}:${m.target}:ro`]),
    ...(o.modulesDir ? ['--volume', `${o.modulesDir}:${o.modulesDir}:ro`] : []),
    ...(o.tun ? ['--device', '/dev/net/tun'] : []),
    o.image,
  ];
}

/** `docker volume create` arguments for a node's volume. Pure. */
export function volumeCreateArgs(node: LabNode): string[] {
  return ['volume', 'create', '--label', `${LAB_LABEL}=1`, node.volume];
}

/** The API server URL the host's kubectl uses. */
export const LAB_API_URL = `https://${SERVER_IP}:${API_PORT}`;
