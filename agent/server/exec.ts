/**
 * One exec session: a WebSocket speaking the channel protocol (channels.ts) on
 * one side, the runtime's ExecSession on the other.
 *
 * Order of events: the socket is already open; input that arrives while the
 * runtime starts the process is queued; an empty frame on the lowest output
 * channel tells old clients the stream is up (as kubelet does); output is
 * forwarded with backpressure; once the process exited and its output is sent,
 * the status goes on channel 3 and the socket closes with 1000. If the client
 * goes away first, stdin is closed and the runtime connection dropped (Docker
 * cannot kill an exec; the process sees EOF or a broken pipe).
 */
import type { WebSocket } from 'ws';
import type { Logger } from '../../common/log.js';
import type { ExecSession, Runtime } from '../runtime/types.js';
import { decodeClientMessage, encodeFrame, ERROR, errorStatus, exitStatus, STDERR, STDIN, STDOUT, type ClientMessage, type ExecStatus } from './channels.js';
import type { ExecRequest } from './params.js';

/** Output buffered in the socket above which reading from the process pauses. */
const HIGH_WATER = 1 << 20;

export async function serveExec(ws: WebSocket, runtime: Pick<Runtime, 'exec'>, containerId: string, r: ExecRequest, log: Logger): Promise<void> {
  const protocol = ws.protocol;
  const queued: ClientMessage[] = [];
  let session: ExecSession | undefined;
  let clientGone = false;

  const apply = (m: ClientMessage): void => {
    if (!session) return void queued.push(m);
    switch (m.kind) {
      case 'stdin':
        if (session.stdin && !session.stdin.writableEnded) session.stdin.write(m.data);
        break;
      case 'close':
        if (m.channel === STDIN) session.stdin?.end();
        break;
      case 'resize':
        session.resize(m.width, m.height).catch((e) => log.debug({ err: e }, 'exec resize failed'));
        break;
      case 'ignored':
        log.debug({ why: m.why }, 'exec message ignored');
        break;
    }
  };
  const abort = (): void => {
    if (!session) return;
    session.stdin?.end();
    session.stdout.destroy();
    session.stderr?.destroy();
  };
  ws.on('message', (data, isBinary) => {
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (!isBinary && protocol) log.debug('text message on a channel socket');
    apply(decodeClientMessage(protocol, buf));
  });
  ws.on('close', () => {
    clientGone = true;
    abort();
  });
  ws.on('error', (e) => log.debug({ err: e }, 'exec socket error'));

  const finish = (status: ExecStatus): void => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(encodeFrame(ERROR, JSON.stringify(status)));
    ws.close(1000);
  };

  try {
    session = await runtime.exec(containerId, r.command, { stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, tty: r.tty });
  } catch (e) {
    log.info({ err: e, container: containerId }, 'exec could not start');
    finish(errorStatus(`error executing command in container: ${(e as Error).message}`));
    return;
  }
  if (clientGone) return abort();

  // Tell the client the stream is established, on the lowest channel it reads.
  ws.send(encodeFrame(r.stdout ? STDOUT : r.stderr ? STDERR : ERROR));

  const outputs = [session.stdout, ...(session.stderr ? [session.stderr] : [])];
  let paused = false;
  const sent = (): void => {
    if (paused && ws.bufferedAmount < HIGH_WATER / 4) {
      paused = false;
      for (const s of outputs) s.resume();
    }
  };
  const forward = (channel: number) => (chunk: Buffer): void => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(encodeFrame(channel, chunk), sent);
    if (!paused && ws.bufferedAmount > HIGH_WATER) {
      paused = true;
      for (const s of outputs) s.pause();
    }
  };
  session.stdout.on('data', forward(STDOUT));
  session.stderr?.on('data', forward(STDERR));
  for (const m of queued.splice(0)) apply(m);

  try {
    const code = await session.exitCode;
    log.debug({ container: containerId, command: r.command, exitCode: code, protocol }, 'exec finished');
    finish(exitStatus(code, r.command));
  } catch (e) {
    if (!clientGone) log.warn({ err: e, container: containerId }, 'exec ended without an exit code');
    finish(errorStatus(`error executing command in container: ${(e as Error).message}`));
  }
}
