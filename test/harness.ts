/**
 * End-to-end harness: a real `skiff server` process on a temporary data dir and
 * port 0, the real kubectl against it, and condition waits with deadlines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'node:https';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'dist', 'cli', 'main.js');

export interface ServerProc {
  url: string;
  port: number;
  dataDir: string;
  kubeconfig: string;
  token: string;
  ca: string;
  proc: ChildProcess;
  /** Output the server printed so far (for failure messages). */
  output(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit. */
  kill9(): Promise<void>;
}

/**
 * Flags for suites that test the API server alone: without the embedded scheduler and
 * controllers, objects stay exactly as the test wrote them.
 */
export const API_ONLY = ['--disable-scheduler', '--disable-controllers'];

export interface StartOptions {
  dataDir?: string;
  port?: number;
  extraArgs?: string[];
}

/** Starts `skiff server` and resolves once it printed its ready line. */
export async function startServer(o: StartOptions = {}): Promise<ServerProc> {
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'skiff-e2e-'));
  const args = [CLI, 'server', '--data-dir', dataDir, '--bind-address', '127.0.0.1', '--port', String(o.port ?? 0), '--log-level', 'warn', ...(o.extraArgs ?? [])];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const deadline = setTimeout(() => reject(new Error(`server did not start within 30 s:\n${out}`)), 30_000);
    const onData = (): void => {
      const m = /skiff server ready (\S+)/.exec(out);
      if (m) {
        clearTimeout(deadline);
        proc.stdout!.off('data', onData);
        resolveUrl(m[1]);
      }
    };
    proc.stdout!.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(deadline);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
  const tokens = JSON.parse(readFileSync(join(dataDir, 'tokens.json'), 'utf8')) as { admin: string };
  const stopWith = async (sig: NodeJS.Signals): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(sig);
    await exited;
  };
  return {
    url,
    port: Number(new URL(url).port),
    dataDir,
    kubeconfig: join(dataDir, 'admin.kubeconfig'),
    token: tokens.admin,
    ca: readFileSync(join(dataDir, 'pki', 'ca.crt'), 'utf8'),
    proc,
    output: () => out,
    stop: () => stopWith('SIGTERM'),
    kill9: () => stopWith('SIGKILL'),
  };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, optionally feeding stdin. */
export function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolveRun, reject) => {
    const p = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} did not finish within ${opts.timeoutMs ?? 60_000} ms\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code: code ?? -1, stdout, stderr });
    });
    p.stdin.end(opts.input ?? '');
  });
}

/** The real kubectl against a server, with its own discovery cache. */
export function kubectl(s: Pick<ServerProc, 'kubeconfig' | 'dataDir'>, args: string[], input?: string): Promise<RunResult> {
  return run('kubectl', ['--kubeconfig', s.kubeconfig, '--cache-dir', join(s.dataDir, 'kubectl-cache'), ...args], { input });
}

/** kubectl that must succeed; returns stdout. */
export async function kubectlOk(s: Pick<ServerProc, 'kubeconfig' | 'dataDir'>, args: string[], input?: string): Promise<string> {
  const r = await kubectl(s, args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Polls `cond` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(cond: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json(): any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

const agents = new Map<string, Agent>();

/** A raw HTTPS request to the server (for what kubectl cannot send). */
export function http(s: Pick<ServerProc, 'port' | 'ca' | 'token'>, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}, auth = true): Promise<HttpResult> {
  let agent = agents.get(s.ca);
  if (!agent) {
    agent = new Agent({ ca: s.ca, keepAlive: true, maxSockets: 64 });
    agents.set(s.ca, agent);
  }
  return new Promise((resolveReq, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: s.port,
        method,
        path,
        agent,
        servername: 'localhost',
        headers: {
          ...(auth ? { authorization: `Bearer ${s.token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolveReq({ status: res.statusCode ?? 0, headers: res.headers, body: text, json: () => JSON.parse(text) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
