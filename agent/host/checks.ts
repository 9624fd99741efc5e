/**
 * The node checks of `skiff doctor`: what the agent needs from the host (Docker,
 * cgroups, iptables, bridges, the CNI plugin, tools). Each check returns a problem
 * text that ends with the command that fixes it, or undefined / `{ info }` when fine.
 * The decisions (cgroup layout, Docker's answer) are pure functions over text the
 * checks read, tested without a host. Checks only read, except two probes that
 * leave nothing behind: a bridge made in a throwaway network namespace, and an
 * `iptables-restore --test` that parses without committing.
 */
import { execFile } from 'node:child_process';
import { access, constants, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { connectDocker } from '../runtime/dockerode.js';
import { detectBackend, Iptables } from '../../common/iptables.js';
import { BUSYBOX_BINARY } from './images.js';

/** Fine with something to show (a version, a choice). */
export interface CheckInfo {
  info: string;
}
export type CheckResult = string | undefined | CheckInfo;

export interface HostCheck {
  name: string;
  /** A failing required check makes doctor exit 1; others only warn. */
  required: boolean;
  run(): Promise<CheckResult>;
}

/** Controllers the agent sets limits with (cpu shares/quota, memory limit, pids). */
export const NEEDED_CONTROLLERS = ['cpu', 'memory', 'pids'] as const;

export interface CgroupLayout {
  version: 1 | 2;
  /** Needed controllers the host lacks (v1: no hierarchy mounted; v2: not in the root's cgroup.controllers). */
  missing: string[];
  /** v2 only: available but not enabled for children in the root's cgroup.subtree_control. */
  notDelegated: string[];
}

/**
 * The cgroup layout from /proc/mounts (pure): v2 when /sys/fs/cgroup itself is
 * cgroup2 (then `controllers` and `subtreeControl` are the root's files), else v1
 * (hybrid included: a cgroup2 mount elsewhere carries no controllers Docker uses).
 */
export function cgroupLayout(mounts: string, controllers = '', subtreeControl = ''): CgroupLayout {
  const rows = mounts.split('\n').map((l) => l.split(' '));
  const unified = rows.some((r) => r[1] === '/sys/fs/cgroup' && r[2] === 'cgroup2');
  if (unified) {
    const have = new Set(controllers.trim().split(/\s+/));
    const on = new Set(subtreeControl.trim().split(/\s+/));
    return {
      version: 2,
      missing: NEEDED_CONTROLLERS.filter((c) => !have.has(c)),
      notDelegated: NEEDED_CONTROLLERS.filter((c) => have.has(c) && !on.has(c)),
    };
  }
  const mounted = new Set(rows.filter((r) => r[2] === 'cgroup').flatMap((r) => (r[3] ?? '').split(',')));
  return { version: 1, missing: NEEDED_CONTROLLERS.filter((c) => !mounted.has(c)), notDelegated: [] };
}

/** The problem with a cgroup layout, with its fix, or undefined (pure). */
export function cgroupProblem(l: CgroupLayout): string | undefined {
  if (l.missing.length) {
    return l.version === 2
      ? `cgroup v2 lacks the ${l.missing.join(', ')} controller(s): enable them in the kernel (boot with cgroup_enable=memory for memory) and reboot`
      : `cgroup v1 has no hierarchy mounted for ${l.missing.join(', ')}: mount them, e.g. mkdir -p /sys/fs/cgroup/${l.missing[0]} && mount -t cgroup -o ${l.missing[0]} cgroup /sys/fs/cgroup/${l.missing[0]}`;
  }
  if (l.notDelegated.length) {
    return `cgroup v2 root does not delegate ${l.notDelegated.join(', ')} to children: echo '${l.notDelegated.map((c) => '+' + c).join(' ')}' > /sys/fs/cgroup/cgroup.subtree_control`;
  }
  return undefined;
}

/** Docker's cgroup driver must be cgroupfs: the agent gives cgroup parents as paths (/skiff/...), not systemd slices (pure). */
export function cgroupDriverProblem(driver: string, systemdInit: boolean): string | undefined {
  if (driver === 'cgroupfs') return undefined;
  const how = systemdInit
    ? `add {"exec-opts": ["native.cgroupdriver=cgroupfs"]} to /etc/docker/daemon.json, then systemctl restart docker`
    : 'restart dockerd with --exec-opt native.cgroupdriver=cgroupfs (scripts/dockerd.sh does)';
  return `Docker uses the ${driver} cgroup driver; the agent needs cgroupfs: ${how}`;
}

const run = promisify(execFile);
const exists = (p: string, mode = constants.F_OK) => access(p, mode).then(() => true, () => false);
const isRoot = () => process.getuid?.() === 0;
const NOT_ROOT: CheckInfo = { info: 'not checked: needs root' };

async function tool(cmd: string, args: string[], fix: string): Promise<CheckResult> {
  try {
    await run(cmd, args, { timeout: 10_000 });
    return undefined;
  } catch {
    return `${cmd} not found or not working: ${fix}`;
  }
}

/** Docker's answer, memoized: three checks read it. */
let dockerInfo: Promise<{ version: string; apiVersion: string; driver: string; cgroupVersion: string }> | undefined;
function docker() {
  dockerInfo ??= (async () => {
    const d = connectDocker({ timeout: 10_000 });
    const [v, i] = await Promise.all([d.version(), d.info() as Promise<{ CgroupDriver?: string; CgroupVersion?: string }>]);
    return { version: v.Version, apiVersion: v.ApiVersion, driver: i.CgroupDriver ?? 'unknown', cgroupVersion: i.CgroupVersion ?? '1' };
  })();
  return dockerInfo;
}

export const hostChecks: HostCheck[] = [
  {
    name: 'Docker engine',
    required: true,
    async run() {
      try {
        const d = await docker();
        return { info: `${d.version}, API ${d.apiVersion}, cgroup driver ${d.driver}, cgroup v${d.cgroupVersion}` };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EACCES') return 'permission denied on /var/run/docker.sock: run as root (sudo)';
        return `no answer on /var/run/docker.sock (${(err as Error).message}): start it with scripts/dockerd.sh ensure (install: apt-get install -y docker.io)`;
      }
    },
  },
  {
    name: 'Docker cgroup driver',
    required: false,
    async run() {
      const d = await docker().catch(() => undefined);
      if (!d) return { info: 'not checked: Docker does not answer' };
      return cgroupDriverProblem(d.driver, await exists('/run/systemd/system'));
    },
  },
  {
    name: 'cgroups (cpu, memory, pids)',
    required: true,
    async run() {
      const mounts = await readFile('/proc/mounts', 'utf8');
      const read = (f: string) => readFile(`/sys/fs/cgroup/${f}`, 'utf8').catch(() => '');
      const layout = cgroupLayout(mounts, await read('cgroup.controllers'), await read('cgroup.subtree_control'));
      return cgroupProblem(layout) ?? { info: `v${layout.version}` };
    },
  },
  {
    name: 'ip_forward',
    required: false,
    async run() {
      const v = (await readFile('/proc/sys/net/ipv4/ip_forward', 'utf8')).trim();
      return v === '1' ? undefined : 'net.ipv4.ip_forward is 0 (the agent sets it at start): sysctl -w net.ipv4.ip_forward=1';
    },
  },
  {
    name: 'iptables',
    required: true,
    async run() {
      if (!isRoot()) return NOT_ROOT;
      try {
        const ipt = new Iptables(await detectBackend());
        await ipt.restore('filter', '*filter\nCOMMIT\n', { noflush: true, test: true });
        return { info: `backend ${ipt.backend}, iptables-restore works` };
      } catch (err) {
        return `${(err as Error).message}: apt-get install -y iptables`;
      }
    },
  },
  {
    name: 'bridge support',
    required: true,
    async run() {
      if (!isRoot()) return NOT_ROOT;
      // In a network namespace of its own, gone when the command ends: the host sees nothing.
      try {
        await run('unshare', ['--net', 'ip', 'link', 'add', 'skiffdoctor0', 'type', 'bridge'], { timeout: 10_000 });
        return undefined;
      } catch (err) {
        return `cannot create a bridge (${((err as { stderr?: string }).stderr ?? '').trim() || (err as Error).message}): modprobe bridge (the kernel needs CONFIG_BRIDGE)`;
      }
    },
  },
  {
    name: 'br_netfilter',
    required: false,
    async run() {
      if (await exists('/proc/sys/net/bridge')) return undefined;
      return 'br_netfilter is not loaded: bridged pod-to-pod traffic bypasses iptables (Services from a pod on the same node): modprobe br_netfilter';
    },
  },
  {
    name: 'CNI plugin /opt/cni/bin/skiff-bridge',
    required: true,
    async run() {
      const bin = '/opt/cni/bin/skiff-bridge';
      if (!(await exists(bin, constants.X_OK))) return `${bin} is missing: cni/install.sh (scripts/setup.sh runs it as root)`;
      try {
        // VERSION reads the config from stdin, as a runtime gives it: it must see EOF.
        const p = run(bin, [], { env: { ...process.env, CNI_COMMAND: 'VERSION' }, timeout: 10_000 });
        p.child.stdin?.end('{"cniVersion":"1.0.0"}');
        const { stdout } = await p;
        return { info: `supports ${(JSON.parse(stdout) as { supportedVersions: string[] }).supportedVersions.join(' ')}` };
      } catch (err) {
        return `${bin} VERSION failed (${(err as Error).message.split('\n')[0]}): reinstall it with cni/install.sh`;
      }
    },
  },
  { name: 'nsenter', required: true, run: () => tool('nsenter', ['--version'], 'apt-get install -y util-linux') },
  { name: 'flock', required: true, run: () => tool('flock', ['--version'], 'apt-get install -y util-linux') },
  { name: 'conntrack', required: false, run: () => tool('conntrack', ['--version'], 'apt-get install -y conntrack (the proxy flushes stale UDP entries with it)') },
  {
    name: `busybox (${BUSYBOX_BINARY})`,
    required: true,
    async run() {
      return (await exists(BUSYBOX_BINARY, constants.X_OK)) ? undefined : `${BUSYBOX_BINARY} is missing (the local busybox and sandbox images are built from it): apt-get install -y busybox-static`;
    },
  },
];
