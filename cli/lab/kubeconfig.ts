/**
 * The host's kubeconfig for the lab: the server node's admin kubeconfig with the
 * API server at https://192.168.56.10:6443 (the host reaches it on the lab
 * bridge) and its names changed to `skiff-lab`, so it can sit next to (or be
 * merged with) the kubeconfig of a cluster on the host itself. The serving
 * certificate carries 192.168.56.10: the server is provisioned with
 * `--advertise-address 192.168.56.10`, which pki.ts adds to its SANs.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import yaml from 'js-yaml';
import { LAB_API_URL, LAB_KUBECONFIG } from './plan.js';
import { LabError, nodeExec } from './exec.js';

interface Named<T> {
  name: string;
  [k: string]: unknown;
  cluster?: T;
  context?: { cluster: string; user: string; [k: string]: unknown };
}

interface KubeconfigDoc {
  clusters?: Named<{ server: string }>[];
  users?: Named<unknown>[];
  contexts?: Named<unknown>[];
  'current-context'?: string;
  [k: string]: unknown;
}

export const LAB_CONTEXT = 'skiff-lab';

/**
 * The lab's kubeconfig from the server's admin kubeconfig: the one cluster's
 * server set to `server`, cluster, user and context renamed to `skiff-lab`. Pure.
 */
export function labKubeconfig(adminKubeconfig: string, server = LAB_API_URL): string {
  const doc = yaml.load(adminKubeconfig) as KubeconfigDoc | undefined;
  const cluster = doc?.clusters?.[0];
  const user = doc?.users?.[0];
  if (!doc || !cluster?.cluster || !user) throw new LabError('the server node\'s admin kubeconfig has no cluster or user');
  const out: KubeconfigDoc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ ...cluster, name: LAB_CONTEXT, cluster: { ...cluster.cluster, server } }],
    users: [{ ...user, name: LAB_CONTEXT }],
    contexts: [{ name: LAB_CONTEXT, context: { cluster: LAB_CONTEXT, user: LAB_CONTEXT } }],
    'current-context': LAB_CONTEXT,
  };
  return yaml.dump(out, { lineWidth: -1 });
}

/** Admin kubeconfig paths on the server node, the provisioning command's first. */
export const ADMIN_KUBECONFIGS = ['/etc/skiff/admin.kubeconfig', '/var/lib/skiff/server/admin.kubeconfig'];

/** Reads the admin kubeconfig from the server node and writes the lab's (0600) to `path`. */
export async function writeLabKubeconfig(serverNode: string, path = LAB_KUBECONFIG): Promise<string> {
  let text: string | undefined;
  for (const p of ADMIN_KUBECONFIGS) {
    text = await nodeExec(serverNode, ['cat', p]).catch(() => undefined);
    if (text) break;
  }
  if (!text) throw new LabError(`no admin kubeconfig on ${serverNode} (${ADMIN_KUBECONFIGS.join(', ')}): did the server start? see 'docker exec ${serverNode} journalctl -u skiff-server'`);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, labKubeconfig(text), { mode: 0o600 });
  return path;
}
