/**
 * `skiff lab down [--purge]`: removes everything `lab up` made, found by the lab
 * label (containers, their volumes, the network) plus the host rule, the
 * lab's kubeconfig and the build snapshot (/var/lib/skiff/lab), and nothing else. The node image and the debootstrap
 * tarball stay for the next `up` unless `--purge`. Idempotent: a second run
 * finds nothing and succeeds.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { LAB_KUBECONFIG } from './plan.js';
import { docker } from './exec.js';
import { labContainers, labNetworks, labVolumes } from './nodes.js';
import { removeLabRules } from './hostrules.js';
import { purgeImages } from './image.js';
import { LAB_STATE, removeLabState } from './build.js';

export interface DownResult {
  containers: string[];
  volumes: string[];
  networks: string[];
  rules: number;
  files: string[];
  purged: string[];
}

export async function labDown(o: { purge?: boolean; out?: { write(s: string): void } } = {}): Promise<DownResult> {
  const out = o.out ?? process.stdout;
  const containers = (await labContainers()).map((c) => c.name);
  // SIGKILL: a node is disposable, and killing its PID 1 ends every process of
  // its PID namespace (nested containers included) at once.
  if (containers.length) await docker(['rm', '--force', '--volumes', ...containers], { timeoutMs: 5 * 60_000 });
  const volumes = await labVolumes();
  if (volumes.length) await docker(['volume', 'rm', '--force', ...volumes], { timeoutMs: 5 * 60_000 });
  const networks = await labNetworks();
  for (const n of networks) await docker(['network', 'rm', n]);
  const rules = await removeLabRules();
  const files: string[] = [];
  if (existsSync(LAB_KUBECONFIG)) {
    await rm(LAB_KUBECONFIG, { force: true });
    files.push(LAB_KUBECONFIG);
  }
  if (await removeLabState()) files.push(LAB_STATE);
  const purged = o.purge ? await purgeImages() : [];
  const said = [
    containers.length && `containers ${containers.join(', ')}`,
    volumes.length && `volumes ${volumes.join(', ')}`,
    networks.length && `network ${networks.join(', ')}`,
    rules && 'host rule SKIFF-LAB',
    files.length && files.join(', '),
    purged.length && `cached ${purged.join(', ')}`,
  ].filter(Boolean);
  out.write(said.length ? `lab: removed ${said.join('; ')}\n` : 'lab: nothing to remove\n');
  return { containers, volumes, networks, rules, files, purged };
}
