/**
 * The node's host networking, set up at agent start and undone by `skiff down`:
 *
 * - sysctls: `net.ipv4.ip_forward=1`; `net.bridge.bridge-nf-call-iptables=1` when
 *   br_netfilter is there, so bridged pod-to-pod traffic crosses iptables (the
 *   service proxy's DNAT must see it);
 * - the service CIDR routed to the device `skiff-svc` (a dummy, or a detached tun
 *   where the kernel has no dummy driver): a packet to a service IP that no proxy
 *   rule rewrote is dropped there, never sent out of the default route, while
 *   host-originated connections still find a route so OUTPUT DNAT can apply;
 * - filter `SKIFF-FORWARD`, jumped to first from FORWARD: accepts traffic from and
 *   to the cluster CIDR, because dockerd sets the FORWARD policy to DROP.
 *
 * Contracts: `ensureHostNetwork` is idempotent and cheap when nothing changed (it
 * may be re-run periodically, e.g. after dockerd re-inserted its own jumps ahead of
 * ours); it names no chain but SKIFF-FORWARD in a payload, changes no policy and
 * touches no other rule but the single jump. `teardownHostNetwork` removes exactly
 * what ensure made (not the sysctls) and succeeds when it is already gone.
 */
import { access, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { logger, type Logger } from '../../common/log.js';
import { buildPayload, execRunner, openIptables, tokenizeRule, type Iptables, type Runner } from '../../common/iptables.js';
import { withFileLock } from '../../common/flock.js';

export const SERVICE_DEVICE = 'skiff-svc';
/** What the CNI plugin (cni/skiff-bridge) makes on the host: the pods' bridge and its masquerade chain (cni/lib/masq.sh). */
export const POD_BRIDGE = 'skiff0';
export const MASQ_CHAIN = 'SKIFF-CNI-MASQ';
export const FORWARD_CHAIN = 'SKIFF-FORWARD';
/** The jump from FORWARD, in iptables' canonical order (so `-S` output compares equal). */
export const FORWARD_JUMP = ['-m', 'comment', '--comment', 'skiff: pod forwarding', '-j', FORWARD_CHAIN];

export interface HostNetworkOptions {
  clusterCIDR: string;
  serviceCIDR: string;
  log?: Logger;
  /** Defaults to the process's Iptables (backend detected once). */
  iptables?: Iptables;
  /** Runs `ip` and `modprobe`; defaults to spawning them. */
  runner?: Runner;
}

export interface HostNetworkReport {
  backend: string;
  /** How `skiff-svc` is made on this kernel. */
  serviceDevice: 'dummy' | 'tun';
  /** False when br_netfilter is missing: bridged pod-to-pod traffic then bypasses iptables. */
  bridgeNetfilter: boolean;
  /** True when anything had to be changed. */
  changed: boolean;
}

/** `a.b.c.d/n` with every part in range; anything else (and shell-ish text) is refused. */
export function validCIDR(cidr: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  return !!m && m.slice(1, 5).every((o) => Number(o) <= 255) && Number(m[5]) <= 32;
}

/**
 * The filter payload (pure): SKIFF-FORWARD, declared (so created or flushed) and
 * filled. No separate conntrack ESTABLISHED,RELATED rule: every packet of a pod's
 * flow, replies and related ICMP included, has a pod address as source or
 * destination once conntrack has undone NAT, so the two address rules accept them;
 * an unscoped conntrack accept would also let other tools' flows skip their rules.
 */
export function forwardPayload(clusterCIDR: string): string {
  return buildPayload([
    {
      table: 'filter',
      chains: [
        {
          name: FORWARD_CHAIN,
          rules: [
            ['-s', clusterCIDR, '-m', 'comment', '--comment', 'skiff: from pods', '-j', 'ACCEPT'],
            ['-d', clusterCIDR, '-m', 'comment', '--comment', 'skiff: to pods', '-j', 'ACCEPT'],
          ],
        },
      ],
    },
  ]);
}

/** The payload that removes SKIFF-FORWARD (after its jumps are gone). */
export function teardownPayload(): string {
  return buildPayload([{ table: 'filter', chains: [], deleteChains: [FORWARD_CHAIN] }]);
}

const exists = (p: string) => access(p).then(() => true, () => false);

/** Writes a sysctl only when it differs; returns true when it wrote. */
async function ensureSysctl(path: string, value: string): Promise<boolean> {
  const cur = (await readFile(path, 'utf8')).trim();
  if (cur === value) return false;
  await writeFile(path, value + '\n');
  return true;
}

async function ip(runner: Runner, args: string[]): Promise<string> {
  const r = await runner.run('ip', args);
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r.stdout;
}

/** Creates `skiff-svc` if missing: a dummy, else (no dummy driver, e.g. some VM kernels) a tun nobody attaches to. */
async function ensureServiceDevice(runner: Runner, log: Logger): Promise<{ kind: 'dummy' | 'tun'; created: boolean }> {
  const sys = `/sys/class/net/${SERVICE_DEVICE}`;
  if (await exists(sys)) return { kind: (await exists(`${sys}/tun_flags`)) ? 'tun' : 'dummy', created: false };
  const r = await runner.run('ip', ['link', 'add', SERVICE_DEVICE, 'type', 'dummy']);
  if (r.code === 0) return { kind: 'dummy', created: true };
  if (!/Unknown device type|not supported/i.test(r.stderr)) throw new Error(`ip link add ${SERVICE_DEVICE} type dummy failed: ${r.stderr.trim()}`);
  // A persistent tun with no process attached drops what it is given (no carrier,
  // no queue reader), has no ARP, and still carries a route: the same sink as a dummy.
  log.info({ device: SERVICE_DEVICE }, 'no dummy driver in this kernel: using a detached tun device for the service CIDR');
  await ip(runner, ['tuntap', 'add', 'dev', SERVICE_DEVICE, 'mode', 'tun']);
  return { kind: 'tun', created: true };
}

/** Idempotent host network setup; see the module doc. Needs root. */
export async function ensureHostNetwork(opts: HostNetworkOptions): Promise<HostNetworkReport> {
  const log = opts.log ?? logger('host-network');
  const runner = opts.runner ?? execRunner;
  for (const [name, v] of [['clusterCIDR', opts.clusterCIDR], ['serviceCIDR', opts.serviceCIDR]] as const) {
    if (!validCIDR(v)) throw new Error(`host network: ${name} "${v}" is not an IPv4 CIDR`);
  }
  let changed = false;

  changed = (await ensureSysctl('/proc/sys/net/ipv4/ip_forward', '1')) || changed;
  let bridgeNetfilter = await exists('/proc/sys/net/bridge');
  if (!bridgeNetfilter) {
    // Best effort: fails where modules cannot be loaded (containers, no kmod).
    await runner.run('modprobe', ['br_netfilter']).catch(() => undefined);
    bridgeNetfilter = await exists('/proc/sys/net/bridge');
  }
  if (bridgeNetfilter) changed = (await ensureSysctl('/proc/sys/net/bridge/bridge-nf-call-iptables', '1')) || changed;
  else log.warn('br_netfilter is not available: traffic between pods on one bridge bypasses iptables (Services reached from a pod on the same node may not work); load it with: modprobe br_netfilter');

  const dev = await ensureServiceDevice(runner, log);
  changed ||= dev.created;
  const routes = await ip(runner, ['-4', 'route', 'show', 'exact', opts.serviceCIDR, 'table', 'main']);
  const up = (await readFile(`/sys/class/net/${SERVICE_DEVICE}/flags`, 'utf8').then((f) => (Number(f) & 1) === 1, () => false));
  if (!up || !routeVia(routes, SERVICE_DEVICE)) {
    await ip(runner, ['link', 'set', SERVICE_DEVICE, 'up']);
    await ip(runner, ['route', 'replace', opts.serviceCIDR, 'dev', SERVICE_DEVICE]);
    changed = true;
  }

  const ipt = opts.iptables ?? (await openIptables());
  const payload = forwardPayload(opts.clusterCIDR);
  const current = await ipt.listChain('filter', FORWARD_CHAIN);
  if (current === undefined || !sameRules(current, payload)) {
    await ipt.restore('filter', payload, { noflush: true });
    changed = true;
  }
  changed = (await ipt.ensureJump('filter', 'FORWARD', FORWARD_JUMP, 'first')) || changed;

  if (changed) log.info({ backend: ipt.backend, serviceDevice: dev.kind, bridgeNetfilter, clusterCIDR: opts.clusterCIDR, serviceCIDR: opts.serviceCIDR }, 'host network ensured');
  return { backend: ipt.backend, serviceDevice: dev.kind, bridgeNetfilter, changed };
}

/** True when `ip route show exact` output has a route through `dev`. */
export function routeVia(routes: string, dev: string): boolean {
  return routes.split('\n').some((l) => {
    const w = l.trim().split(/\s+/);
    const i = w.indexOf('dev');
    return i >= 0 && w[i + 1] === dev;
  });
}

/** Compares the `-A` lines of an `iptables -S CHAIN` listing with those of the payload we would write. */
export function sameRules(listing: string, payload: string): boolean {
  // Token lists, not text: the two sides may quote differently.
  const pick = (s: string) => s.split('\n').filter((l) => l.startsWith('-A ')).map((l) => tokenizeRule(l).join('\0'));
  const a = pick(listing);
  const b = pick(payload);
  return a.length === b.length && a.every((l, i) => l === b[i]);
}

/** Removes the jump, the chain and `skiff-svc` (its route goes with it). Idempotent; keeps the sysctls. */
export async function teardownHostNetwork(opts: { log?: Logger; iptables?: Iptables; runner?: Runner } = {}): Promise<void> {
  const log = opts.log ?? logger('host-network');
  const runner = opts.runner ?? execRunner;
  const ipt = opts.iptables ?? (await openIptables());
  const jumps = await ipt.deleteJumps('filter', 'FORWARD', FORWARD_CHAIN);
  const hadChain = (await ipt.listChain('filter', FORWARD_CHAIN)) !== undefined;
  if (hadChain) await ipt.restore('filter', teardownPayload(), { noflush: true });
  const hadDevice = await exists(`/sys/class/net/${SERVICE_DEVICE}`);
  if (hadDevice) {
    const r = await runner.run('ip', ['link', 'del', SERVICE_DEVICE]);
    if (r.code !== 0 && (await exists(`/sys/class/net/${SERVICE_DEVICE}`))) throw new Error(`ip link del ${SERVICE_DEVICE} failed: ${r.stderr.trim()}`);
  }
  log.info({ jumps, chain: hadChain, device: hadDevice }, 'host network torn down');
}

/** The CNI plugin's runtime dir (cni/skiff-bridge RUN_DIR): its host-wide lock and its masquerade stamps. */
export const CNI_RUN_DIR = '/run/skiff-cni';

/**
 * Deletes the CNI plugin's masquerade stamps, so that its next ADD checks the rules
 * and adds what is missing. The agent does it at start: rules flushed behind the
 * plugin's back (a firewall reload, an admin) come back with the next pod.
 */
export async function forgetMasqueradeStamps(runDir = CNI_RUN_DIR): Promise<void> {
  const files = await readdir(runDir).catch(() => [] as string[]);
  for (const f of files) if (f.startsWith('masq-')) await rm(join(runDir, f), { force: true });
}

/**
 * Removes what the CNI plugin leaves on the host once no pod is attached (`skiff down`):
 * the bridge and the masquerade chain with its jump from nat POSTROUTING. Like the
 * reference bridge plugin, ours keeps both between pods, as the next pod needs them.
 * Nothing is removed while any interface is still on the bridge; returns what went.
 *
 * The plugin records in `masq-<network>` stamps that it ensured the masquerade rules,
 * so that later ADDs run no iptables at all: the stamps go with the chain, under the
 * plugin's own host-wide lock, or the next ADD would trust rules that are gone.
 */
export async function teardownPodNetwork(opts: { log?: Logger; iptables?: Iptables; runner?: Runner; cniRunDir?: string } = {}): Promise<{ bridge: boolean; masquerade: boolean; busy: number }> {
  const log = opts.log ?? logger('host-network');
  const runner = opts.runner ?? execRunner;
  const runDir = opts.cniRunDir ?? CNI_RUN_DIR;
  const sys = `/sys/class/net/${POD_BRIDGE}`;
  const ports = (await exists(sys)) ? (await readdir(`${sys}/brif`).catch(() => [])).length : 0;
  if (ports > 0) {
    log.info({ bridge: POD_BRIDGE, ports }, 'pods still on the bridge: pod network kept');
    return { bridge: false, masquerade: false, busy: ports };
  }
  let bridge = false;
  if (await exists(sys)) {
    const r = await runner.run('ip', ['link', 'del', POD_BRIDGE]);
    if (r.code !== 0 && (await exists(sys))) throw new Error(`ip link del ${POD_BRIDGE} failed: ${r.stderr.trim()}`);
    bridge = true;
  }
  const ipt = opts.iptables ?? (await openIptables());
  const removeMasquerade = async (): Promise<boolean> => {
    await ipt.deleteJumps('nat', 'POSTROUTING', MASQ_CHAIN);
    const had = (await ipt.listChain('nat', MASQ_CHAIN)) !== undefined;
    if (had) await ipt.restore('nat', buildPayload([{ table: 'nat', chains: [], deleteChains: [MASQ_CHAIN] }]), { noflush: true });
    await forgetMasqueradeStamps(runDir);
    return had;
  };
  // No run dir: the plugin never ran since boot, so there is no stamp and nobody to race.
  const masquerade = (await exists(runDir)) ? await withFileLock(join(runDir, 'lock'), 30_000, removeMasquerade) : await removeMasquerade();
  log.info({ bridge, masquerade }, 'pod network torn down');
  return { bridge, masquerade, busy: 0 };
}
