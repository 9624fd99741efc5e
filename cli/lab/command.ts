/**
 * `skiff lab up|status|down`: flag parsing and help for the lab, called from
 * cli/main.ts. Usage errors print one line and return 2, as every command does.
 */
import { parseArgs } from 'node:util';
import { CACHE_DIR, LAB_KUBECONFIG, MAX_NODES } from './plan.js';

export const LAB_SUMMARY = 'a multi-node cluster in node containers on this host: lab up|status|down';

export const LAB_HELP = `Usage: skiff lab up [--nodes N]
       skiff lab status
       skiff lab down [--purge]

A real multi-node cluster on one Linux host: N Debian containers with systemd as
PID 1 on the internal Docker network skiff-lab (192.168.56.0/24, no route out),
the server on 192.168.56.10 and workers on .11, .12, ...; each node runs its own
dockerd, and the Skiff units installed by 'skiff install', as a VM would. Root only.

  up       builds the node image once (debootstrap; cached as skiff.local/lab-node
           and ${CACHE_DIR}), starts the nodes, runs a registry on the server
           node (192.168.56.10:5000, holding busybox:1.35 and pause:1.0), provisions
           every node, writes ${LAB_KUBECONFIG} and waits until all are Ready.
           Running it again while the lab is up changes nothing.
  status   node containers, their units, the registry, kubectl get nodes
  down     removes the containers, their volumes, the network, the host rule and
           the kubeconfig; --purge also the node image and the package cache

Flags:
  --nodes N   number of nodes, the server included (default 3, at most ${MAX_NODES})
  --purge     (down) also remove the cached node image and debootstrap tarball

Pods pull from the lab's registry: image: 192.168.56.10:5000/busybox:1.35`;

class LabUsage extends Error {}

function nodesFlag(v: string | undefined): number {
  if (v === undefined) return 3;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > MAX_NODES) throw new LabUsage(`--nodes must be 1 to ${MAX_NODES}, got "${v}"`);
  return Number(v);
}

/** Runs `skiff lab <args>`; resolves with the exit code. */
export async function runLab(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  try {
    if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
      process.stdout.write(`${LAB_HELP}\n`);
      return sub ? 0 : 2;
    }
    const { values } = parseArgs({
      args: rest,
      options: { nodes: { type: 'string' }, purge: { type: 'boolean' }, help: { type: 'boolean' } },
      allowPositionals: false,
      strict: true,
    });
    if (values.help) {
      process.stdout.write(`${LAB_HELP}\n`);
      return 0;
    }
    const only = (allowed: string[]): void => {
      const bad = Object.keys(values).filter((k) => !allowed.includes(k));
      if (bad.length) throw new LabUsage(`lab ${sub} takes no --${bad[0]}`);
    };
    switch (sub) {
      case 'up': {
        only(['nodes']);
        const { labUp } = await import('./up.js');
        const { installPackages } = await import('./install-packages.js');
        const { CHECKOUT } = await import('./nodes.js');
        await labUp({ nodes: nodesFlag(values.nodes), extraPackages: await installPackages(CHECKOUT) });
        return 0;
      }
      case 'status': {
        only([]);
        const { labStatus } = await import('./status.js');
        return await labStatus();
      }
      case 'down': {
        only(['purge']);
        const { labDown } = await import('./down.js');
        await labDown({ purge: values.purge === true });
        return 0;
      }
      default:
        throw new LabUsage(`unknown lab command "${sub}" (up, status or down)`);
    }
  } catch (e) {
    const err = e as Error & { code?: string };
    if (e instanceof LabUsage || err.code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`skiff lab: ${err.message} (see 'skiff lab --help')\n`);
      return 2;
    }
    process.stderr.write(`skiff lab ${sub}: ${err.message}\n`);
    return 1;
  }
}
