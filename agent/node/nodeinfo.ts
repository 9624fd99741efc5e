/**
 * Who this node is: name, labels, addresses and `status.nodeInfo`, as a
 * kubelet reports them. Parsers and builders are pure; `readSystemInfo` and
 * `defaultNodeIP` read the host (files under /proc, /etc and /sys, and the
 * interface list; no traffic is sent anywhere).
 */
import { readFile } from 'node:fs/promises';
import { hostname, networkInterfaces, release, type NetworkInterfaceInfo } from 'node:os';

export const KUBELET_VERSION = 'v1.32.0-skiff';

/** Node.js `process.arch` to Go's GOARCH, which Kubernetes labels carry. */
const GO_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64' };

export function goArch(nodeArch: string = process.arch): string {
  return GO_ARCH[nodeArch] ?? nodeArch;
}

/** The default node name: the host name, lowercased (node names are DNS subdomains). */
export function defaultNodeName(): string {
  return hostname().toLowerCase();
}

/** The labels a kubelet sets on its Node (no node-role labels: roles are the admin's). */
export function nodeLabels(nodeName: string, arch = goArch()): Record<string, string> {
  return {
    'kubernetes.io/hostname': nodeName,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': arch,
    'beta.kubernetes.io/os': 'linux',
    'beta.kubernetes.io/arch': arch,
  };
}

/** PRETTY_NAME of /etc/os-release text (quotes removed), "Linux" when absent. */
export function parseOsRelease(text: string): string {
  for (const line of text.split('\n')) {
    const m = /^PRETTY_NAME=(.*)$/.exec(line.trim());
    if (m) return m[1].replace(/^["']|["']$/g, '') || 'Linux';
  }
  return 'Linux';
}

/**
 * The interface of the IPv4 default route in /proc/net/route text (the
 * route with destination and mask 0, lowest metric), or undefined.
 */
export function defaultRouteInterface(routeText: string): string | undefined {
  let best: { iface: string; metric: number } | undefined;
  for (const line of routeText.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [iface, dest, , flags, , , metric, mask] = f;
    // RTF_UP (0x1) must be set on a usable route.
    if (dest !== '00000000' || mask !== '00000000' || (parseInt(flags, 16) & 1) === 0) continue;
    const m = Number(metric);
    if (!best || m < best.metric) best = { iface, metric: m };
  }
  return best?.iface;
}

/**
 * The node's InternalIP: the first IPv4 address of the default route's
 * interface, else the first non-loopback, non-link-local IPv4 address of any
 * interface (skipping Docker's and Skiff's bridges), else 127.0.0.1.
 */
export function pickNodeIP(ifaces: NodeJS.Dict<NetworkInterfaceInfo[]>, defaultIface?: string): string {
  const v4 = (name: string): string | undefined =>
    (ifaces[name] ?? []).find((a) => a.family === 'IPv4' && !a.internal && !a.address.startsWith('169.254.'))?.address;
  if (defaultIface) {
    const ip = v4(defaultIface);
    if (ip) return ip;
  }
  const bridges = /^(docker\d*|skiff\d*|cni\d*|veth.*|br-.*)$/;
  for (const name of Object.keys(ifaces).sort()) {
    if (bridges.test(name)) continue;
    const ip = v4(name);
    if (ip) return ip;
  }
  return '127.0.0.1';
}

/** The node IP of this host (see pickNodeIP). */
export async function defaultNodeIP(): Promise<string> {
  const route = await readFile('/proc/net/route', 'utf8').catch(() => '');
  return pickNodeIP(networkInterfaces(), defaultRouteInterface(route));
}

export interface SystemInfo {
  machineID: string;
  systemUUID: string;
  bootID: string;
  kernelVersion: string;
  osImage: string;
  operatingSystem: 'linux';
  architecture: string;
}

const firstLine = async (path: string): Promise<string> => (await readFile(path, 'utf8').catch(() => '')).trim();

/** Host identity for status.nodeInfo (empty strings where the host does not say). */
export async function readSystemInfo(): Promise<SystemInfo> {
  const [machineID, systemUUID, bootID, osRelease] = await Promise.all([
    firstLine('/etc/machine-id').then((s) => s || firstLine('/var/lib/dbus/machine-id')),
    firstLine('/sys/class/dmi/id/product_uuid'),
    firstLine('/proc/sys/kernel/random/boot_id'),
    readFile('/etc/os-release', 'utf8').catch(() => readFile('/usr/lib/os-release', 'utf8').catch(() => '')),
  ]);
  return { machineID, systemUUID, bootID, kernelVersion: release(), osImage: parseOsRelease(osRelease), operatingSystem: 'linux', architecture: goArch() };
}

/** status.nodeInfo as the API expects it (every field a string). */
export function nodeInfo(sys: SystemInfo, containerRuntimeVersion: string): Record<string, string> {
  return {
    machineID: sys.machineID,
    systemUUID: sys.systemUUID,
    bootID: sys.bootID,
    kernelVersion: sys.kernelVersion,
    osImage: sys.osImage,
    containerRuntimeVersion,
    kubeletVersion: KUBELET_VERSION,
    operatingSystem: sys.operatingSystem,
    architecture: sys.architecture,
  };
}

/** status.addresses: InternalIP then Hostname. */
export function nodeAddresses(nodeIP: string, host: string): { type: string; address: string }[] {
  return [
    { type: 'InternalIP', address: nodeIP },
    { type: 'Hostname', address: host },
  ];
}
