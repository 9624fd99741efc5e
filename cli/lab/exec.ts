/**
 * Running the host's tools for the lab: the `docker` CLI (the commands a reader
 * could type to do the same by hand), debootstrap, tar. Every failure becomes a
 * `LabError` naming the command and its last lines of output; nothing here
 * retries or decides anything.
 */
import { spawn } from 'node:child_process';

export class LabError extends Error {
  readonly code = 'LabFailed';
  constructor(message: string) {
    super(message);
    this.name = 'LabError';
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to stdin, then closed. */
  input?: string | Buffer;
  /** Called with every chunk of stdout and stderr (progress). */
  onOutput?: (chunk: Buffer) => void;
  /** Killed (SIGKILL) after this long; default 10 minutes. */
  timeoutMs?: number;
  env?: Record<string, string>;
  cwd?: string;
}

/** Output kept in memory per stream: enough for error messages and JSON answers. */
const KEEP = 4 * 1024 * 1024;

/** Runs `cmd args`; resolves with the exit code (never rejects for a non-zero exit). */
export function run(cmd: string, args: string[], o: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: o.env ? { ...process.env, ...o.env } : process.env, cwd: o.cwd });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 600_000);
    child.stdout.on('data', (b: Buffer) => {
      if (stdout.length < KEEP) stdout += b.toString();
      o.onOutput?.(b);
    });
    child.stderr.on('data', (b: Buffer) => {
      if (stderr.length < KEEP) stderr += b.toString();
      o.onOutput?.(b);
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new LabError(err.code === 'ENOENT' ? `${cmd} is not installed (apt-get install -y ${cmd === 'docker' ? 'docker.io' : cmd})` : `${cmd}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.on('error', () => {}); // a command that exits without reading stdin: its exit code tells
    child.stdin.end(o.input ?? '');
  });
}

/** The last `n` non-empty lines of a text, joined for a one-line message. */
export function tail(text: string, n = 3): string {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).slice(-n).join(' | ');
}

/** Runs a command that must succeed; resolves with its stdout. */
export async function must(cmd: string, args: string[], o: RunOptions = {}): Promise<string> {
  const r = await run(cmd, args, o);
  if (r.code !== 0) throw new LabError(`${cmd} ${args.slice(0, 4).join(' ')}${args.length > 4 ? ' ...' : ''} failed (exit ${r.code}): ${tail(r.stderr || r.stdout) || 'no output'}`);
  return r.stdout;
}

/** `docker <args>`, which must succeed. */
export function docker(args: string[], o: RunOptions = {}): Promise<string> {
  return must('docker', args, o);
}

/** Environment for commands in a node: the build is the read-only checkout, never rebuilt there. */
export const NODE_ENV = ['SKIFF_NO_SETUP=1', 'PATH=/opt/skiff/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];

/** `docker exec [-i] <node> <cmd...>` with NODE_ENV, which must succeed. */
export function nodeExec(node: string, cmd: string[], o: RunOptions = {}): Promise<string> {
  const env = NODE_ENV.flatMap((e) => ['--env', e]);
  return docker(['exec', ...(o.input !== undefined ? ['-i'] : []), ...env, node, ...cmd], o);
}

/** The same, resolving with the result whatever the exit code. */
export function nodeTry(node: string, cmd: string[], o: RunOptions = {}): Promise<RunResult> {
  const env = NODE_ENV.flatMap((e) => ['--env', e]);
  return run('docker', ['exec', ...env, node, ...cmd], o);
}

/**
 * `a | b`: `from`'s stdout piped into `to`'s stdin, both must succeed (e.g.
 * `docker save ... | docker exec -i node docker load`), without holding the
 * stream in memory.
 */
export function pipe(from: [string, string[]], to: [string, string[]], timeoutMs = 600_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const a = spawn(from[0], from[1], { stdio: ['ignore', 'pipe', 'pipe'] });
    const b = spawn(to[0], to[1], { stdio: ['pipe', 'pipe', 'pipe'] });
    a.stdout.pipe(b.stdin);
    b.stdin.on('error', () => {}); // b died early: its exit code tells
    let errA = '';
    let errB = '';
    a.stderr.on('data', (d: Buffer) => (errA += d.toString()));
    b.stderr.on('data', (d: Buffer) => (errB += d.toString()));
    b.stdout.resume();
    const timer = setTimeout(() => {
      a.kill('SIGKILL');
      b.kill('SIGKILL');
    }, timeoutMs);
    let codeA: number | null | undefined;
    let codeB: number | null | undefined;
    const done = (): void => {
      if (codeA === undefined || codeB === undefined) return;
      clearTimeout(timer);
      if (codeA === 0 && codeB === 0) resolve();
      else reject(new LabError(`${from[0]} ${from[1].join(' ')} | ${to[0]} ${to[1].slice(0, 4).join(' ')} failed (exit ${codeA}/${codeB}): ${tail(errA + errB) || 'no output'}`));
    };
    a.on('error', reject);
    b.on('error', reject);
    a.on('close', (c) => {
      codeA = c;
      done();
    });
    b.on('close', (c) => {
      codeB = c;
      done();
    });
  });
}

/** Polls `cond` every `intervalMs` until it is true; throws `what` after `timeoutMs`. */
export async function waitUntil(what: string, cond: () => Promise<boolean>, timeoutMs: number, intervalMs = 250): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new LabError(`${what}: not done after ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
