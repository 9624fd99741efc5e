/**
 * The streaming half of the Docker runtime: container logs, interactive exec and
 * run-to-completion exec (probes, hooks). agent/runtime/docker.ts delegates its
 * `logs`, `exec` and `execSync` to these functions.
 *
 * Docker multiplexes stdout and stderr of a container without a TTY into one
 * stream of frames: an 8-byte header `[stream, 0, 0, 0, size (uint32 BE)]` and
 * `size` bytes of payload (stream 1 = stdout, 2 = stderr). A container or exec
 * with a TTY has a single raw stream instead, so the TTY flag decides how to read.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { PassThrough, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type Dockerode from 'dockerode';
import type { ExecOptions, ExecSession, LogOptions } from './types.js';

const STDERR = 2;
/** Output execSync keeps (probes and hooks need a message, not a transcript). */
const EXEC_SYNC_MAX_OUTPUT = 64 * 1024;
/** How long to wait for Docker to report an exec's exit code once its stream ended. */
const EXIT_CODE_DEADLINE_MS = 5_000;

export interface DockerFrame {
  /** 0 stdin (echoed), 1 stdout, 2 stderr. */
  stream: number;
  data: Buffer;
}

/**
 * Incremental parser of Docker's multiplexed stream. Chunks may split headers
 * and payloads anywhere; payload is handed out as it arrives (never buffered
 * whole), in order.
 */
export class DockerFrameDemuxer {
  private readonly header = Buffer.alloc(8);
  private headerLen = 0;
  private remaining = 0;
  private stream = 0;

  push(chunk: Buffer): DockerFrame[] {
    const out: DockerFrame[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining === 0) {
        const n = Math.min(8 - this.headerLen, chunk.length - i);
        chunk.copy(this.header, this.headerLen, i, i + n);
        this.headerLen += n;
        i += n;
        if (this.headerLen === 8) {
          this.stream = this.header[0];
          this.remaining = this.header.readUInt32BE(4);
          this.headerLen = 0;
        }
        continue;
      }
      const n = Math.min(this.remaining, chunk.length - i);
      out.push({ stream: this.stream, data: chunk.subarray(i, i + n) });
      this.remaining -= n;
      i += n;
    }
    return out;
  }

  /** True between frames (false means the stream stopped mid-frame). */
  get atBoundary(): boolean {
    return this.headerLen === 0 && this.remaining === 0;
  }
}

/** Docker's logs endpoint as a stream, also without follow (dockerode buffers non-follow logs whole). */
function openLogStream(docker: Dockerode, id: string, opts: LogOptions): Promise<IncomingMessage> {
  const query = {
    stdout: true,
    stderr: true,
    follow: !!opts.follow,
    timestamps: !!opts.timestamps,
    tail: opts.tail === undefined ? 'all' : String(Math.max(0, Math.floor(opts.tail))),
    ...(opts.since !== undefined ? { since: String(opts.since) } : {}),
  };
  return new Promise((resolve, reject) => {
    docker.modem.dial(
      {
        path: `/containers/${encodeURIComponent(id)}/logs?`,
        method: 'GET',
        isStream: true,
        statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
        options: query,
      },
      (err, res) => (err ? reject(err) : resolve(res as IncomingMessage)),
    );
  });
}

/**
 * Copies a container's log into `out` as one byte stream, stdout and stderr
 * interleaved in the order Docker recorded them. With `timestamps`, each line
 * starts with Docker's RFC3339Nano timestamp and a space (what kubectl prints).
 *
 * Resolves when the log ends (without follow: at its current end; with follow:
 * when the container stops) or when `signal` aborts (the Docker stream is then
 * destroyed), or when `out` is closed by its consumer. Rejects when the container
 * does not exist (error with statusCode 404) or the stream breaks. Respects
 * backpressure on `out`; never ends `out` (the caller owns it).
 */
export async function dockerLogs(docker: Dockerode, id: string, opts: LogOptions, out: Writable, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return;
  const info = await docker.getContainer(id).inspect();
  if (signal?.aborted) return;
  const stream = await openLogStream(docker, id, opts);
  const demux = info.Config?.Tty ? undefined : new DockerFrameDemuxer();
  await new Promise<void>((resolve, reject) => {
    let done = false;
    let ended = false;
    let waitingDrain = false;
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      signal?.removeEventListener('abort', onAbort);
      out.off('drain', onDrain);
      out.off('close', onOutClose);
      out.off('error', onOutClose);
      if (!ended) stream.destroy();
      if (err) reject(err);
      else resolve();
    };
    const onAbort = (): void => finish();
    // The consumer went away (client disconnected): stop reading from Docker.
    const onOutClose = (): void => finish();
    const onDrain = (): void => {
      waitingDrain = false;
      stream.resume();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    out.on('close', onOutClose);
    out.on('error', onOutClose);
    stream.on('data', (chunk: Buffer) => {
      if (done) return;
      const parts = demux ? demux.push(chunk).map((f) => f.data) : [chunk];
      let ok = true;
      for (const p of parts) if (p.length) ok = out.write(p) && ok;
      if (!ok && !waitingDrain) {
        waitingDrain = true;
        stream.pause();
        out.once('drain', onDrain);
      }
    });
    stream.on('end', () => {
      ended = true;
      finish();
    });
    stream.on('error', (e) => finish(signal?.aborted ? undefined : e));
    stream.on('close', () => finish(ended || signal?.aborted ? undefined : new Error(`log stream of container ${id} closed before its end`)));
  });
}

interface Hijacked {
  exec: Dockerode.Exec;
  sock: Duplex;
  tty: boolean;
}

async function hijack(docker: Dockerode, id: string, cmd: string[], opts: ExecOptions): Promise<Hijacked> {
  if (!cmd.length) throw new Error('exec needs a command');
  const tty = !!opts.tty;
  const exec = await docker.getContainer(id).exec({
    Cmd: cmd,
    AttachStdin: !!opts.stdin,
    AttachStdout: opts.stdout !== false,
    // With a TTY there is one stream: stderr is merged into stdout.
    AttachStderr: !tty && opts.stderr !== false,
    Tty: tty,
  });
  const sock = await exec.start({ hijack: true, stdin: !!opts.stdin, Detach: false, Tty: tty });
  return { exec, sock, tty };
}

/**
 * The exit code of an exec whose stream has ended. Docker may still report the
 * exec as running for a moment after closing its stream, so poll briefly.
 */
async function exitCodeOf(exec: Dockerode.Exec): Promise<number> {
  const deadline = Date.now() + EXIT_CODE_DEADLINE_MS;
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    const info = await exec.inspect();
    if (!info.Running && info.ExitCode !== null && info.ExitCode !== undefined) return info.ExitCode;
    if (Date.now() > deadline) throw new Error(`exec ${exec.id} did not report an exit code within ${EXIT_CODE_DEADLINE_MS} ms of its stream ending`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/**
 * Starts `cmd` in a running container over a hijacked connection.
 *
 * `stdout`/`stderr` default to attached, `stdin`/`tty` to off. Contract of the
 * session: consume `stdout` and `stderr` (unread output stalls the process, as a
 * full pipe would); ending `stdin` closes the process's stdin (a half-close of the
 * connection); destroying `stdout` aborts the session and closes the connection.
 * Docker cannot kill an exec: an aborted process keeps running until it notices
 * EOF on stdin or a broken pipe. `exitCode` resolves after the output streams have
 * ended (all output consumed) and Docker reports the exit code.
 */
export async function dockerExec(docker: Dockerode, id: string, cmd: string[], opts: ExecOptions): Promise<ExecSession> {
  const { exec, sock, tty } = await hijack(docker, id, cmd, opts);
  const stdout = new PassThrough();
  const stderr = tty ? undefined : new PassThrough();
  const demux = tty ? undefined : new DockerFrameDemuxer();
  let paused = 0;
  const unpause = (): void => {
    if (--paused === 0) sock.resume();
  };
  const deliver = (target: PassThrough, data: Buffer): void => {
    if (!target.write(data)) {
      paused++;
      sock.pause();
      target.once('drain', unpause);
    }
  };
  sock.on('data', (chunk: Buffer) => {
    if (!demux) return deliver(stdout, chunk);
    for (const f of demux.push(chunk)) deliver(f.stream === STDERR && stderr ? stderr : stdout, f.data);
  });
  const connectionDone = new Promise<void>((resolve, reject) => {
    sock.once('end', () => resolve());
    sock.once('close', () => resolve());
    sock.on('error', (e) => reject(e));
  });
  connectionDone
    .catch(() => undefined)
    .finally(() => {
      stdout.end();
      stderr?.end();
    });
  // Abort: the consumer destroyed stdout before the process ended.
  stdout.once('close', () => {
    if (!stdout.readableEnded) sock.destroy();
  });

  const stdin = opts.stdin
    ? new Writable({
        write(chunk: Buffer, _enc, cb) {
          // Input after the process is gone is dropped, as a closed pipe would drop it.
          if (sock.destroyed || sock.writableEnded) return cb();
          sock.write(chunk, () => cb());
        },
        final(cb) {
          if (!sock.destroyed && !sock.writableEnded) sock.end();
          cb();
        },
      })
    : undefined;

  const exitCode = (async () => {
    await connectionDone;
    await Promise.all([finished(stdout).catch(() => undefined), stderr ? finished(stderr).catch(() => undefined) : undefined]);
    return exitCodeOf(exec);
  })();
  // Callers may only look at exitCode late; never leave its rejection unhandled meanwhile.
  exitCode.catch(() => undefined);

  return {
    stdin,
    stdout,
    stderr,
    async resize(width: number, height: number): Promise<void> {
      if (!tty) return;
      await exec.resize({ w: Math.max(1, Math.floor(width)), h: Math.max(1, Math.floor(height)) });
    },
    exitCode,
  };
}

/**
 * Runs `cmd` to completion without stdin and returns its combined output (first
 * 64 KiB, stdout and stderr in order) and exit code.
 *
 * After `timeoutMs` it gives up: `timedOut` is true and `exitCode` is -1, and the
 * kubelet treats that as a failed probe or hook. Docker has no API to kill an exec,
 * so the process itself may live on after the connection is closed.
 */
export async function dockerExecSync(docker: Dockerode, id: string, cmd: string[], timeoutMs: number): Promise<{ exitCode: number; output: string; timedOut: boolean }> {
  const started = Date.now();
  const { exec, sock, tty } = await hijack(docker, id, cmd, { stdout: true, stderr: true });
  const demux = tty ? undefined : new DockerFrameDemuxer();
  const chunks: Buffer[] = [];
  let kept = 0;
  const keep = (b: Buffer): void => {
    if (kept >= EXEC_SYNC_MAX_OUTPUT) return;
    const part = b.subarray(0, EXEC_SYNC_MAX_OUTPUT - kept);
    chunks.push(part);
    kept += part.length;
  };
  sock.on('data', (chunk: Buffer) => {
    if (!demux) return keep(chunk);
    for (const f of demux.push(chunk)) keep(f.data);
  });
  const output = (): string => Buffer.concat(chunks).toString('utf8');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), Math.max(0, timeoutMs - (Date.now() - started)));
  });
  const ended = new Promise<'ended'>((resolve, reject) => {
    sock.once('close', () => resolve('ended'));
    sock.on('error', reject);
  });
  ended.catch(() => undefined);
  try {
    const first = await Promise.race([ended, timedOut]);
    if (first === 'timeout') {
      sock.destroy();
      return { exitCode: -1, output: output(), timedOut: true };
    }
    const code = await Promise.race([exitCodeOf(exec), timedOut]);
    if (code === 'timeout') return { exitCode: -1, output: output(), timedOut: true };
    return { exitCode: code, output: output(), timedOut: false };
  } finally {
    clearTimeout(timer);
  }
}
