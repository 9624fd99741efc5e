/**
 * `skiff up` / `skiff down` on one host: the server and the agent run detached, its PID in
 * /run/skiff, its log in /var/log/skiff. Readiness is polled on /readyz with a
 * deadline; `down` signals only the PIDs it recorded and waits for them to exit.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'node:https';
import { DEFAULTS } from '../controlplane/settings.js';
import { AGENT_ENV, AGENT_NODE_FLAGS } from '../agent/settings.js';

const RUN_DIR = process.env.SKIFF_RUN_DIR ?? '/run/skiff';
const LOG_DIR = process.env.SKIFF_LOG_DIR ?? '/var/log/skiff';
const MAIN = resolve(dirname(fileURLToPath(import.meta.url)), 'main.js');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readPid(name: string): number | undefined {
  const f = join(RUN_DIR, `${name}.pid`);
  if (!existsSync(f)) return undefined;
  const pid = Number(readFileSync(f, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
}

function readyz(port: number): Promise<boolean> {
  return new Promise((resolveReady) => {
    const req = request({ host: '127.0.0.1', port, path: '/readyz', rejectUnauthorized: false, timeout: 1000 }, (res) => {
      res.resume();
      resolveReady(res.statusCode === 200);
    });
    req.on('error', () => resolveReady(false));
    req.on('timeout', () => {
      req.destroy();
      resolveReady(false);
    });
    req.end();
  });
}

async function waitFor(cond: () => Promise<boolean>, deadlineMs: number, pid: number): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (await cond()) return true;
    if (!alive(pid)) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** Spawns `skiff <args>` detached, logging to /var/log/skiff/<name>.log, its pid in /run/skiff/<name>.pid. */
function spawnDetached(name: string, args: string[], nodeFlags: string[] = [], env: Record<string, string> = {}): { pid: number; log: string } {
  const logFile = join(LOG_DIR, `${name}.log`);
  const out = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...nodeFlags, MAIN, ...args], { detached: true, stdio: ['ignore', out, out], env: { ...process.env, ...env } });
  child.unref();
  writeFileSync(join(RUN_DIR, `${name}.pid`), `${child.pid}\n`);
  process.stdout.write(`skiff: ${name} starting (pid ${child.pid}, log ${logFile})\n`);
  return { pid: child.pid!, log: logFile };
}

/** The join token file every server writes at start (controlplane/server.ts), as --token-file reads it. */
function nodeTokenFile(dataDir: string): string {
  return join(dataDir, 'node-token');
}

export interface UpOptions {
  dataDir: string;
  port: number;
  /** Run the control plane only. */
  noAgent?: boolean;
  nodeName?: string;
}

export async function runUp(o: UpOptions): Promise<number> {
  mkdirSync(RUN_DIR, { recursive: true });
  mkdirSync(LOG_DIR, { recursive: true });
  let server = readPid('server');
  if (server) process.stdout.write(`skiff: server already running (pid ${server})\n`);
  else {
    const s = spawnDetached('server', ['server', '--data-dir', o.dataDir, '--port', String(o.port), '--write-kubeconfig', DEFAULTS.kubeconfig]);
    server = s.pid;
    if (!(await waitFor(() => readyz(o.port), 60_000, server))) {
      process.stderr.write(`skiff: server did not become ready; see ${s.log}\n`);
      return 1;
    }
  }
  const kube = join(homedir(), '.kube', 'config');
  if (!existsSync(kube)) {
    mkdirSync(dirname(kube), { recursive: true });
    copyFileSync(join(o.dataDir, 'admin.kubeconfig'), kube);
    process.stdout.write(`skiff: wrote ${kube}\n`);
  }
  if (!o.noAgent) {
    const running = readPid('agent');
    if (running) process.stdout.write(`skiff: agent already running (pid ${running})\n`);
    else {
      const a = spawnDetached('agent', [
        'agent',
        '--server', `https://127.0.0.1:${o.port}`,
        '--token-file', nodeTokenFile(o.dataDir),
        '--ca-file', join(o.dataDir, 'pki', 'ca.crt'),
        ...(o.nodeName ? ['--node-name', o.nodeName] : []),
      ], AGENT_NODE_FLAGS, AGENT_ENV);
      const nodeName = (o.nodeName ?? hostname()).toLowerCase();
      const ready = await waitFor(() => nodeReady(o.dataDir, o.port, nodeName), 120_000, a.pid);
      if (!ready) {
        process.stderr.write(`skiff: node ${nodeName} did not become Ready; see ${a.log} (and 'skiff doctor')\n`);
        return 1;
      }
      process.stdout.write(`skiff: node ${nodeName} is Ready\n`);
    }
  }
  process.stdout.write(`skiff: cluster is up: kubectl --kubeconfig ${DEFAULTS.kubeconfig} get nodes\n`);
  return 0;
}

/** GET the Node with the admin token; true once its Ready condition is True. */
function nodeReady(dataDir: string, port: number, name: string): Promise<boolean> {
  const token = (JSON.parse(readFileSync(join(dataDir, 'tokens.json'), 'utf8')) as { admin: string }).admin;
  return new Promise((resolveReady) => {
    const req = request(
      { host: '127.0.0.1', port, path: `/api/v1/nodes/${name}`, ca: readFileSync(join(dataDir, 'pki', 'ca.crt')), servername: 'localhost', headers: { authorization: `Bearer ${token}` }, timeout: 2000 },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => {
          try {
            const n = JSON.parse(body) as { status?: { conditions?: { type: string; status: string }[] } };
            resolveReady(res.statusCode === 200 && !!n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
          } catch {
            resolveReady(false);
          }
        });
      },
    );
    req.on('error', () => resolveReady(false));
    req.on('timeout', () => {
      req.destroy();
      resolveReady(false);
    });
    req.end();
  });
}

async function stopPid(name: string): Promise<void> {
  const pid = readPid(name);
  rmSync(join(RUN_DIR, `${name}.pid`), { force: true });
  if (!pid) return;
  process.kill(pid, 'SIGTERM');
  const end = Date.now() + 30_000;
  while (alive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  if (alive(pid)) {
    process.stderr.write(`skiff: ${name} (pid ${pid}) did not stop within 30 s; killing it\n`);
    process.kill(pid, 'SIGKILL');
  }
  process.stdout.write(`skiff: ${name} stopped (pid ${pid})\n`);
}

/**
 * Stops the agent, then the server, then removes what the agent left on the host:
 * pod containers (their IPs released through the CNI plugin), the host network
 * rules, and the pods' bridge. Cluster state is kept: the next `up` starts the same pods again.
 */
export async function runDown(o: { agentDataDir?: string } = {}): Promise<number> {
  const any = readPid('agent') || readPid('server');
  await stopPid('agent');
  await stopPid('server');
  const removed = await removePodContainers(o.agentDataDir ?? '/var/lib/skiff/agent');
  const { teardownHostNetwork, teardownPodNetwork } = await import('../agent/host/network.js');
  await teardownHostNetwork().catch((e: Error) => process.stderr.write(`skiff: host network teardown: ${e.message}\n`));
  // The pods' bridge and masquerade chain, once no pod container is left on it.
  await teardownPodNetwork().catch((e: Error) => process.stderr.write(`skiff: pod network teardown: ${e.message}\n`));
  // The service proxy's table/chains (agent or `skiff proxy`): gone with the agent that made them.
  const { teardownProxy } = await import('../agent/proxy/proxy.js');
  await teardownProxy().catch((e: Error) => process.stderr.write(`skiff: service proxy teardown: ${e.message}\n`));
  const { removeSkiffRoutes } = await import('../agent/network/routesync.js');
  await removeSkiffRoutes().catch((e: Error) => process.stderr.write(`skiff: removing host-gw routes: ${e.message}\n`));
  if (!any && removed === 0) process.stdout.write('skiff: nothing is running\n');
  else if (removed) process.stdout.write(`skiff: removed ${removed} pod container(s)\n`);
  return 0;
}

async function removePodContainers(agentDataDir: string): Promise<number> {
  const { SANDBOX_IMAGE } = await import('../agent/host/images.js');
  const { CniNetwork } = await import('../agent/network/cni.js');
  const { DockerRuntime } = await import('../agent/runtime/docker.js');
  const rt = new DockerRuntime({ sandboxImage: SANDBOX_IMAGE });
  try {
    await rt.version();
  } catch {
    return 0; // no engine: nothing of ours can be running
  }
  const cni = new CniNetwork(join(agentDataDir, 'cni'));
  const containers = await rt.listContainers();
  await Promise.all(containers.map((c) => rt.removeContainer(c.id)));
  const sandboxes = await rt.listSandboxes();
  for (const sb of sandboxes) {
    if (!sb.hostNetwork) await cni.del({ containerId: sb.id, netns: sb.netnsPath ?? '', ifName: 'eth0' }).catch(() => undefined);
    await rt.removeSandbox(sb.id);
  }
  return containers.length + sandboxes.length;
}

export async function runKubeconfig(dataDir: string): Promise<number> {
  const f = join(dataDir, 'admin.kubeconfig');
  if (!existsSync(f)) {
    process.stderr.write(`skiff kubeconfig: no ${f}; start the server first (skiff up)\n`);
    return 1;
  }
  process.stdout.write(readFileSync(f, 'utf8'));
  return 0;
}
