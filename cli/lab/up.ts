/**
 * `skiff lab up --nodes N`: a multi-node cluster in node containers on this host.
 *
 *   node image (cached) -> network + host rule -> N containers, systemd booted
 *     -> server node: registry loaded, `skiff install --role server`, API ready
 *     -> other nodes: `skiff install --role agent` with the join token (in parallel)
 *     -> /etc/skiff/lab.kubeconfig -> every node Ready
 *
 * Idempotent: running it again while the lab is up starts what is stopped and
 * provisions what is not, and changes nothing else. Prints each step with its
 * duration; the figures are returned for the benchmark.
 */
import { existsSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { LAB_KUBECONFIG, labNodes, type LabNode } from './plan.js';
import { LabError, run, waitUntil } from './exec.js';
import { ensureNodeImage } from './image.js';
import { ensureLabRules } from './hostrules.js';
import { CHECKOUT, ensureNetwork, ensureNodeContainer, labContainers, waitSystemd } from './nodes.js';
import { LAB_BUSYBOX, loadRegistry, startRegistry } from './registry.js';
import { joinToken, provision, provisioned, waitApiServer } from './provision.js';
import { writeLabKubeconfig } from './kubeconfig.js';
import { labCreds, listNodes } from './api.js';
import { Progress } from './progress.js';
import { BUILD_DIR, snapshotBuild } from './build.js';

export interface LabUpOptions {
  nodes: number;
  /** Packages the provisioning command needs beyond the base list (from cli/install.ts). */
  extraPackages?: readonly string[];
  /** Where progress goes (default stdout). */
  out?: { write(s: string): void; isTTY?: boolean };
}

export interface LabUpResult {
  nodes: LabNode[];
  kubeconfig: string;
  imageBuilt: boolean;
  /** Milliseconds per step, and `total`. */
  ms: Record<string, number>;
}

/**
 * The first source file newer than the build (scripts/setup.sh's own test), or
 * undefined when the build is current: the nodes run the build as it is.
 */
export async function staleBuild(checkout: string): Promise<string | undefined> {
  const stamp = 'dist/.build-stamp';
  const r = await run('sh', ['-c', `[ -f ${stamp} ] || { echo ${stamp}; exit 0; }; find cli common controlplane agent test bench tsconfig.json package-lock.json -newer ${stamp} -type f -print -quit 2>/dev/null`], { cwd: checkout });
  return r.stdout.trim() || undefined;
}

/** Refuses clearly what cannot work: not root, no Docker engine. */
async function preflight(): Promise<void> {
  if (process.getuid?.() !== 0) throw new LabError('the lab needs root (it runs Docker, debootstrap and iptables)');
  const v = await run('docker', ['version', '--format', '{{.Server.Version}}']);
  if (v.code !== 0) throw new LabError(`the Docker engine does not answer: ${v.stderr.trim() || v.stdout.trim()} (scripts/dockerd.sh ensure starts one)`);
}

export async function labUp(o: LabUpOptions): Promise<LabUpResult> {
  const t0 = Date.now();
  const out = o.out ?? process.stdout;
  const p = new Progress('lab: ', out);
  const ms: Record<string, number> = {};
  const step = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    const r = await f();
    ms[name] = Date.now() - t;
    return r;
  };
  const nodes = labNodes(o.nodes);
  const [server, ...agents] = nodes as [LabNode, ...LabNode[]];
  await preflight();

  const image = await step('image', () => ensureNodeImage({ extraPackages: o.extraPackages, progress: new Progress('lab: image: ', out) }));
  if (!image.built) p.say(`node image ${image.name} (cached)`);

  await step('network', async () => {
    const n = await ensureNetwork();
    const rule = await ensureLabRules();
    p.say(`network skiff-lab 192.168.56.0/24 (${n}, internal)${rule ? '; host rule SKIFF-LAB in DOCKER-USER' : ''}`);
  });

  const existing = new Map((await labContainers()).map((c) => [c.name, c]));
  const extra = [...existing.keys()].filter((n) => !nodes.some((x) => x.name === n));
  if (extra.length) p.say(`note: ${extra.join(', ')} from an earlier, larger lab keep running ('skiff lab down' removes them)`);
  // A new lab runs the checkout's build as it is now; a lab that has nodes keeps its own.
  if (!existing.size || !existsSync(BUILD_DIR)) {
    await step('build', () => snapshotBuild(CHECKOUT));
    const stale = await staleBuild(CHECKOUT);
    p.say(`build of ${CHECKOUT} mounted at /opt/skiff in every node${stale ? ` (note: older than ${stale}; scripts/setup.sh rebuilds)` : ''}`);
  }
  await step('nodes', () =>
    Promise.all(
      nodes.map(async (n) => {
        const r = await ensureNodeContainer(n, image.name, existing.get(n.name));
        if (r.stale) p.say(`note: ${r.stale}`);
        await waitSystemd(n.name);
        p.say(`${n.name} ${n.ip} (${n.role}): ${r.action}, systemd up (${p.elapsed()} s)`);
      }),
    ),
  );

  await step('registry', async () => {
    await startRegistry(server.name);
    const pushed = await loadRegistry(server.name);
    p.say(`registry ${LAB_BUSYBOX.split('/')[0]} on ${server.name}${pushed.length ? `: pushed ${pushed.join(', ')}` : ' (loaded)'}`);
  });

  await step('server', async () => {
    if (!(await provisioned(server))) {
      p.say(`${server.name}: skiff install --role server`);
      await provision(server, undefined, (l) => p.say(l));
    }
    await waitApiServer(server);
    p.say(`${server.name}: API server ready (${p.elapsed()} s)`);
  });

  const token = await joinToken(server);
  await step('agents', () =>
    Promise.all(
      agents.map(async (n) => {
        if (await provisioned(n)) return;
        p.say(`${n.name}: skiff install --role agent`);
        await provision(n, token, (l) => p.say(l));
      }),
    ),
  );

  const kubeconfig = await step('kubeconfig', () => writeLabKubeconfig(server.name));
  await step('ready', () => waitNodesReady(nodes.map((n) => n.name), 120_000));
  ms.total = Date.now() - t0;
  p.say(`${nodes.length} node(s) Ready in ${(ms.total / 1000).toFixed(1)} s`);
  out.write(
    [
      '',
      `kubeconfig: ${kubeconfig}`,
      `  export KUBECONFIG=${kubeconfig}`,
      '  kubectl get nodes -o wide',
      `  kubectl create deployment web --image=${LAB_BUSYBOX} --replicas=6 -- httpd -f -p 80 -h /etc`,
      'skiff lab status | skiff lab down',
      '',
    ].join('\n'),
  );
  return { nodes, kubeconfig, imageBuilt: image.built, ms };
}

/** Waits until every named Node is Ready, through the lab's kubeconfig (real TLS checks). */
export async function waitNodesReady(names: string[], timeoutMs: number, path = LAB_KUBECONFIG): Promise<void> {
  await access(path);
  const creds = await labCreds(path);
  let last = '';
  try {
    await waitUntil(
      'every lab node Ready',
      async () => {
        const list = await listNodes(creds).catch((e: Error) => {
          last = e.message;
          return [];
        });
        const ready = new Set(list.filter((n) => n.ready === 'True').map((n) => n.name));
        last = names.filter((n) => !ready.has(n)).join(', ');
        return names.every((n) => ready.has(n));
      },
      timeoutMs,
      500,
    );
  } catch (err) {
    throw new LabError(`${(err as Error).message}; not Ready: ${last} (see 'docker exec <node> journalctl -u skiff-agent')`);
  }
}
