/**
 * The lab's Docker objects: its network, the node containers and their volumes.
 * `ensure*` are idempotent (an existing, labelled object is kept); what is found
 * is listed by the lab label, so `status` and `down` see exactly what `up` made,
 * even from an older `up` with more nodes.
 */
import { existsSync, readdirSync } from 'node:fs';
import { release } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAB_LABEL, LAB_NETWORK, LAB_SUBNET, networkCreateArgs, nodeRunArgs, volumeCreateArgs, type LabNode } from './plan.js';
import { LabError, docker, nodeTry, run, tail, waitUntil } from './exec.js';
import { buildMounts } from './build.js';

/** The checkout this CLI runs from (dist/cli/lab -> three levels up): its build goes into every node. */
export const CHECKOUT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Creates the lab network unless it exists; refuses a same-named network that is not the lab's. */
export async function ensureNetwork(): Promise<'created' | 'exists'> {
  const r = await run('docker', ['network', 'inspect', '--format', `{{index .Labels "${LAB_LABEL}"}} {{range .IPAM.Config}}{{.Subnet}}{{end}}`, LAB_NETWORK]);
  if (r.code === 0) {
    const [label, subnet] = r.stdout.trim().split(' ');
    if (label !== '1') throw new LabError(`a Docker network named ${LAB_NETWORK} exists and was not made by the lab: remove or rename it`);
    if (subnet !== LAB_SUBNET) throw new LabError(`the ${LAB_NETWORK} network has subnet ${subnet}, not ${LAB_SUBNET}: run 'skiff lab down' first`);
    return 'exists';
  }
  const c = await run('docker', networkCreateArgs());
  if (c.code !== 0) {
    const why = tail(c.stderr);
    if (/overlap/i.test(why)) throw new LabError(`cannot create ${LAB_NETWORK}: another Docker network or a host route already uses ${LAB_SUBNET} (${why})`);
    throw new LabError(`docker network create ${LAB_NETWORK} failed: ${why}`);
  }
  return 'created';
}

export interface ContainerState {
  name: string;
  running: boolean;
  image: string;
  /** Docker's `Status` text (`Up 3 minutes`, `Exited (137) ...`). */
  status: string;
  ip: string;
}

/** Every container with the lab label, by name. */
export async function labContainers(): Promise<ContainerState[]> {
  const out = await docker(['ps', '-a', '--filter', `label=${LAB_LABEL}=1`, '--format', '{{.Names}}\t{{.State}}\t{{.Image}}\t{{.Status}}']);
  const rows = out.split('\n').filter(Boolean).map((l) => l.split('\t'));
  const ips = new Map<string, string>();
  if (rows.length) {
    const ins = await run('docker', ['inspect', '--format', `{{.Name}} {{with index .NetworkSettings.Networks "${LAB_NETWORK}"}}{{.IPAddress}}{{end}}`, ...rows.map((r) => r[0]!)]);
    for (const l of ins.stdout.split('\n').filter(Boolean)) {
      const [n, ip] = l.split(' ');
      ips.set(n!.replace(/^\//, ''), ip ?? '');
    }
  }
  return rows
    .map(([name = '', state = '', image = '', status = '']) => ({ name, running: state === 'running', image, status, ip: ips.get(name) ?? '' }))
    .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
}

/** Names of the lab's volumes and networks (label filter). */
export async function labVolumes(): Promise<string[]> {
  return (await docker(['volume', 'ls', '--quiet', '--filter', `label=${LAB_LABEL}=1`])).split('\n').filter(Boolean);
}

export async function labNetworks(): Promise<string[]> {
  return (await docker(['network', 'ls', '--format', '{{.Name}}', '--filter', `label=${LAB_LABEL}=1`])).split('\n').filter(Boolean);
}

/** /lib/modules/<release> when the host has modules there (modprobe in the node needs them). */
function modulesDir(): string | undefined {
  const d = `/lib/modules/${release()}`;
  try {
    return existsSync(d) && readdirSync(d).length ? d : undefined;
  } catch {
    return undefined;
  }
}

export type NodeAction = 'created' | 'started' | 'running';

/**
 * Makes node `node` run: created (with its volume) when missing, started when
 * stopped, kept when running. A running node on another image is kept, with a
 * note in `stale`: a lab is replaced by `lab down` + `lab up`, never under the user.
 */
export async function ensureNodeContainer(node: LabNode, image: string, existing: ContainerState | undefined): Promise<{ action: NodeAction; stale?: string }> {
  if (existing) {
    const stale = existing.image !== image ? `${node.name} runs ${existing.image}, not ${image}: 'skiff lab down' and 'up' again to use it` : undefined;
    if (existing.running) return { action: 'running', stale };
    await docker(['start', node.name]);
    return { action: 'started', stale };
  }
  const vol = await run('docker', ['volume', 'inspect', node.volume]);
  if (vol.code !== 0) await docker(volumeCreateArgs(node));
  await docker(nodeRunArgs(node, { image, buildMounts: buildMounts(CHECKOUT), modulesDir: modulesDir(), tun: existsSync('/dev/net/tun') }));
  return { action: 'created' };
}

/**
 * Waits until systemd in `node` has finished booting (`is-system-running` says
 * running or degraded; a failed unit is reported later by the step needing it).
 */
export async function waitSystemd(node: string, timeoutMs = 90_000): Promise<string> {
  let state = '';
  try {
    await waitUntil(
      `systemd in ${node}`,
      async () => {
        const r = await nodeTry(node, ['systemctl', 'is-system-running']);
        state = r.stdout.trim();
        if (r.code !== 0 && /is not running|No such container/.test(r.stderr)) {
          const logs = await run('docker', ['logs', '--tail', '20', node]);
          throw new LabError(`node ${node} stopped while booting: ${tail(logs.stdout + logs.stderr, 5)}`);
        }
        return state === 'running' || state === 'degraded';
      },
      timeoutMs,
      200,
    );
  } catch (err) {
    if (err instanceof LabError && err.message.includes('not done')) {
      const failed = await nodeTry(node, ['systemctl', '--failed', '--no-legend', '--plain']);
      throw new LabError(`systemd in ${node} did not finish booting (state "${state}"); failed units: ${tail(failed.stdout, 5) || 'none'}`);
    }
    throw err;
  }
  return state;
}
