/**
 * A real `skiff agent` process for end-to-end tests, joined to a real server
 * with the node-join token, plus helpers to read what Docker and the host show.
 * Agents in tests use the node name given, a temporary data dir and port 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, kubectl, run, waitFor, type ServerProc } from './harness.js';
import { AGENT_ENV, AGENT_NODE_FLAGS } from '../agent/settings.js';
import { teardownProxy } from '../agent/proxy/proxy.js';
import { teardownHostNetwork, teardownPodNetwork } from '../agent/host/network.js';
import { takeFileLock, type FileLock } from '../common/flock.js';
import { logger } from '../common/log.js';

const quiet = logger('test-harness');
quiet.level = 'warn';

export interface AgentProc {
  nodeName: string;
  dataDir: string;
  manifests: string;
  proc: ChildProcess;
  output(): string;
  stop(): Promise<void>;
  kill9(): Promise<void>;
}

/**
 * The host-wide test lock: one agent (and so one service proxy programming the
 * host's tables) at a time across test files. A child `flock` holds
 * /run/skiff-test-host.lock while its stdin is open, so a test process that dies
 * releases it with its pipe. Re-entrant within one process (a suite may run two
 * agents at once); released when the last of them stopped.
 */
export const HOST_LOCK = '/run/skiff-test-host.lock';
let lockHolder: FileLock | undefined;
let lockUsers = 0;
let lockTaking: Promise<void> | undefined;
/** The proxy teardown run by the last release, while it is still running. */
let tearing: Promise<void> | undefined;

export async function acquireHostLock(timeoutMs = 900_000): Promise<void> {
  lockUsers++;
  // A teardown of the previous agent's rules must not race the next agent's proxy.
  if (tearing) await tearing;
  if (lockHolder) return;
  lockTaking ??= takeFileLock(HOST_LOCK, timeoutMs)
    .then((lock) => {
      lockHolder = lock;
      void lock.released.then(() => {
        if (lockHolder === lock) lockHolder = undefined;
      });
    })
    .finally(() => (lockTaking = undefined));
  try {
    await lockTaking;
  } catch (e) {
    lockUsers--;
    throw e;
  }
}

/**
 * Drops one use of the lock. The last one first removes the service proxy's rules
 * the stopped agents left on the host (the next holder's agent makes its own),
 * then releases the lock.
 */
export function releaseHostLock(): void {
  if (lockUsers > 0) lockUsers--;
  if (lockUsers > 0 || !lockHolder) return;
  const holder = lockHolder;
  tearing = teardownProxy({ log: quiet })
    .catch(() => undefined)
    // The agent's host rules (SKIFF-FORWARD, the skiff-svc device) go too, as `skiff down` does.
    .then(() => teardownHostNetwork({ log: quiet }).catch(() => undefined))
    // And the pods' bridge and masquerade chain when no pod is left on it.
    .then(() => teardownPodNetwork({ log: quiet }).catch(() => undefined))
    .then(() => {
      tearing = undefined;
      // Taken again meanwhile by this process: keep holding it.
      if (lockUsers > 0 || lockHolder !== holder) return;
      holder.release();
      lockHolder = undefined;
    });
}

export async function startAgent(s: ServerProc, o: { nodeName: string; dataDir?: string; extraArgs?: string[] }): Promise<AgentProc> {
  await acquireHostLock();
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    releaseHostLock();
  };
  try {
    return await spawnAgent(s, o, release);
  } catch (e) {
    release();
    throw e;
  }
}

async function spawnAgent(s: ServerProc, o: { nodeName: string; dataDir?: string; extraArgs?: string[] }, release: () => void): Promise<AgentProc> {
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'skiff-agent-'));
  const manifests = join(dataDir, 'manifests');
  const node = (JSON.parse(readFileSync(join(s.dataDir, 'tokens.json'), 'utf8')) as { node: string }).node;
  const args = [
    CLI, 'agent',
    '--server', s.url,
    '--token', node,
    '--ca-file', join(s.dataDir, 'pki', 'ca.crt'),
    '--node-name', o.nodeName,
    '--node-ip', '127.0.0.1',
    '--data-dir', dataDir,
    '--port', '0',
    '--pod-manifest-path', manifests,
    '--log-level', process.env.SKIFF_LOG_LEVEL ?? 'warn',
    ...(o.extraArgs ?? []),
  ];
  const proc = spawn(process.execPath, [...AGENT_NODE_FLAGS, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...AGENT_ENV, SKIFF_NO_SETUP: '1' } });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  // The host lock is the agent's for as long as it lives.
  proc.once('exit', release);
  await new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`agent did not start within 60 s:\n${out}`)), 60_000);
    const onData = (): void => {
      if (/skiff agent ready/.test(out)) {
        clearTimeout(deadline);
        proc.stdout!.off('data', onData);
        resolve();
      }
    };
    proc.stdout!.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(deadline);
      reject(new Error(`agent exited with ${code}:\n${out}`));
    });
  });
  const stopWith = async (sig: NodeJS.Signals): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(sig);
    await exited;
  };
  return { nodeName: o.nodeName, dataDir, manifests, proc, output: () => out, stop: () => stopWith('SIGTERM'), kill9: () => stopWith('SIGKILL') };
}

/** `kubectl get -o json` parsed; undefined when it fails (not found). */
export async function getJson(s: ServerProc, args: string[]): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await kubectl(s, ['get', ...args, '-o', 'json']);
  return r.code === 0 ? JSON.parse(r.stdout) : undefined;
}

/** Waits until a pod satisfies `cond`, returning it. */
export function waitPod(s: ServerProc, ns: string, name: string, cond: (p: any) => boolean, what: string, timeoutMs = 60_000): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return waitFor(async () => {
    const p = await getJson(s, ['pod', '-n', ns, name]);
    return p && cond(p) ? p : undefined;
  }, `${ns}/${name}: ${what}`, timeoutMs);
}

export const isRunningReady = (p: any): boolean => p.status?.phase === 'Running' && p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'); // eslint-disable-line @typescript-eslint/no-explicit-any

/** Docker containers of a pod (by uid label), any state. */
export async function dockerPs(uid: string): Promise<string[]> {
  const r = await run('/usr/bin/docker', ['ps', '-aq', '--no-trunc', '--filter', `label=io.kubernetes.pod.uid=${uid}`]);
  return r.stdout.split('\n').filter(Boolean);
}

/** Host veths of the skiff bridge and allocated IPs in the skiff network's IPAM dir. */
export function hostNetworkState(): { veths: string[]; ips: string[] } {
  const brif = '/sys/class/net/skiff0/brif';
  const veths = existsSync(brif) ? readdirSync(brif) : [];
  const dir = '/var/lib/cni/networks/skiff';
  const ips = existsSync(dir) ? readdirSync(dir).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : [];
  return { veths, ips };
}

/** The host veth the CNI plugin created for a sandbox (its alias is `skiff:<id>/<ifname>`). */
export function vethOf(sandboxId: string): string | undefined {
  for (const l of readdirSync('/sys/class/net')) {
    try {
      if (readFileSync(`/sys/class/net/${l}/ifalias`, 'utf8').trim().startsWith(`skiff:${sandboxId}`)) return l;
    } catch {
      /* no alias */
    }
  }
  return undefined;
}
