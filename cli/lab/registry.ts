/**
 * The lab's image registry: Debian's docker-registry on the server node,
 * 192.168.56.10:5000, plain HTTP (every node's dockerd lists it as an insecure
 * registry: rootfs.ts). It holds the host's local images so pods pull them the
 * way a real cluster's nodes do:
 *
 *   192.168.56.10:5000/busybox:1.35   (skiff.local/busybox:1.35 on the host)
 *   192.168.56.10:5000/pause:1.0      (skiff.local/pause:1.0)
 *
 * Loading: the host's dockerd does not trust that registry (and the lab leaves
 * the host's Docker configuration alone), so the images travel as
 * `docker save | docker exec -i skiff-lab-0 docker load`, and the server node's
 * own dockerd tags and pushes them to its registry; the pushed tags are then
 * removed there, so the server node pulls them like every other node.
 */
import { BUSYBOX_IMAGE, SANDBOX_IMAGE } from '../../agent/host/images.js';
import { REGISTRY } from './plan.js';
import { nodeExec, nodeTry, pipe, waitUntil } from './exec.js';

/** host image -> registry name. Pure. */
export function registryImages(): { local: string; remote: string }[] {
  return [
    { local: BUSYBOX_IMAGE, remote: `${REGISTRY}/busybox:1.35` },
    { local: SANDBOX_IMAGE, remote: `${REGISTRY}/pause:1.0` },
  ];
}

/** The image pods in the lab use: pulled from the registry on every node. */
export const LAB_BUSYBOX = `${REGISTRY}/busybox:1.35`;

/** Makes sure the host has its local images (built from busybox-static, as the agent does). */
export async function ensureHostImages(): Promise<void> {
  const { connectDocker } = await import('../../agent/runtime/dockerode.js');
  const { ensureLocalImages } = await import('../../agent/host/images.js');
  const { logger } = await import('../../common/log.js');
  await ensureLocalImages(connectDocker(), logger('lab'));
}

/** Starts the registry on the server node and waits until it answers. Idempotent. */
export async function startRegistry(serverNode: string): Promise<void> {
  await nodeExec(serverNode, ['systemctl', 'enable', '--now', 'docker-registry.service']);
  await waitUntil(
    `the registry on ${serverNode}`,
    async () => (await nodeTry(serverNode, ['curl', '-sf', '-o', '/dev/null', 'http://127.0.0.1:5000/v2/'])).code === 0,
    30_000,
  );
}

/** True when the registry already has `remote` (repository:tag). */
async function hasImage(serverNode: string, remote: string): Promise<boolean> {
  const [repoTag] = remote.split('/').slice(1);
  const [repo, tag] = repoTag!.split(':');
  const r = await nodeTry(serverNode, ['curl', '-sf', '-o', '/dev/null', '-H', 'Accept: application/vnd.docker.distribution.manifest.v2+json', `http://127.0.0.1:5000/v2/${repo}/manifests/${tag}`]);
  return r.code === 0;
}

/**
 * Pushes the host's local images into the registry (skipping those it has).
 * Returns the names pushed.
 */
export async function loadRegistry(serverNode: string): Promise<string[]> {
  const missing = [];
  for (const img of registryImages()) if (!(await hasImage(serverNode, img.remote))) missing.push(img);
  if (!missing.length) return [];
  await ensureHostImages();
  await pipe(['docker', ['save', ...missing.map((m) => m.local)]], ['docker', ['exec', '-i', serverNode, 'docker', 'load', '-q']]);
  for (const m of missing) {
    await nodeExec(serverNode, ['docker', 'tag', m.local, m.remote]);
    await nodeExec(serverNode, ['docker', 'push', m.remote]);
    // Only the registry's name goes: skiff.local/* are the agent's own local images.
    await nodeExec(serverNode, ['docker', 'rmi', m.remote]);
  }
  return missing.map((m) => m.remote);
}

/** The registry's repositories (`GET /v2/_catalog`), for `lab status`. */
export async function registryCatalog(serverNode: string): Promise<string[]> {
  const r = await nodeTry(serverNode, ['curl', '-sf', 'http://127.0.0.1:5000/v2/_catalog']);
  if (r.code !== 0) return [];
  try {
    return (JSON.parse(r.stdout) as { repositories?: string[] }).repositories ?? [];
  } catch {
    return [];
  }
}
