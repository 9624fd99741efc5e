/**
 * `skiff lab status`: the node containers (address, role, Docker state), the
 * Skiff units in each, the registry's repositories, and the cluster's own view
 * (`kubectl get nodes -o wide` when kubectl is installed, else the API directly).
 * Read-only; exits 1 when there is no lab.
 */
import { existsSync } from 'node:fs';
import { LAB_KUBECONFIG, LAB_LABEL, nodeIndex, nodeName } from './plan.js';
import { nodeTry, run } from './exec.js';
import { labContainers, labNetworks, labVolumes, type ContainerState } from './nodes.js';
import { registryCatalog } from './registry.js';
import { labCreds, listNodes } from './api.js';

const UNITS = ['docker', 'skiff-server', 'skiff-agent', 'docker-registry'];

/** Left-aligned columns. Pure. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** `active`, `inactive`, ... per unit, `-` for a unit that is not installed. */
async function unitStates(c: ContainerState): Promise<string[]> {
  if (!c.running) return UNITS.map(() => '-');
  const r = await nodeTry(c.name, ['systemctl', 'is-active', ...UNITS.map((u) => `${u}.service`)]);
  const states = r.stdout.split('\n').filter(Boolean);
  return UNITS.map((_, i) => (states[i] === 'inactive' ? '-' : states[i] ?? '?'));
}

export async function labStatus(out: { write(s: string): void } = process.stdout): Promise<number> {
  const containers = await labContainers();
  const [volumes, networks] = await Promise.all([labVolumes(), labNetworks()]);
  if (!containers.length && !volumes.length && !networks.length) {
    out.write('lab: no lab on this host (skiff lab up --nodes 3)\n');
    return 1;
  }
  const units = await Promise.all(containers.map(unitStates));
  const rows = [['CONTAINER', 'ADDRESS', 'ROLE', 'STATE', ...UNITS.map((u) => u.toUpperCase())]];
  containers.forEach((c, i) => rows.push([c.name, c.ip || '-', nodeIndex(c.name) === 0 ? 'server' : 'agent', c.status, ...units[i]!]));
  out.write(`${table(rows)}\n\nnetworks: ${networks.join(', ') || '-'}   volumes: ${volumes.join(', ') || '-'}   (label ${LAB_LABEL})\n`);
  const server = containers.find((c) => c.name === nodeName(0) && c.running);
  if (server) out.write(`registry 192.168.56.10:5000: ${(await registryCatalog(server.name)).join(', ') || 'empty'}\n`);
  if (!existsSync(LAB_KUBECONFIG)) {
    out.write(`no ${LAB_KUBECONFIG} yet\n`);
    return 0;
  }
  out.write(`\nkubeconfig ${LAB_KUBECONFIG}:\n`);
  const kubectl = await run('kubectl', ['--kubeconfig', LAB_KUBECONFIG, '--request-timeout', '5s', 'get', 'nodes', '-o', 'wide']).catch(() => undefined);
  if (kubectl && kubectl.code === 0) {
    out.write(kubectl.stdout);
    return 0;
  }
  try {
    const nodes = await listNodes(await labCreds());
    out.write(`${table([['NAME', 'READY', 'INTERNAL-IP', 'POD-CIDR'], ...nodes.map((n) => [n.name, n.ready, n.ip, n.podCIDR])])}\n`);
  } catch (err) {
    out.write(`the API server does not answer: ${(err as Error).message}\n`);
  }
  return 0;
}
