/**
 * Kubernetes' WebSocket channel protocol for exec (v4.channel.k8s.io and
 * v5.channel.k8s.io), as pure functions. Every binary message starts with its
 * channel: 0 stdin, 1 stdout, 2 stderr, 3 status (error), 4 resize
 * (`{"Width":80,"Height":24}`); v5 adds the client's `[255, channel]` to close a
 * channel (stdin). The session ends with a Status on channel 3 and close 1000.
 */

export const V5_PROTOCOL = 'v5.channel.k8s.io';
export const V4_PROTOCOL = 'v4.channel.k8s.io';
/** Best first. v1-v3 (plain-text errors, no exit codes) are not offered. */
export const SUPPORTED_PROTOCOLS = [V5_PROTOCOL, V4_PROTOCOL] as const;

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export const ERROR = 3;
export const RESIZE = 4;
export const CLOSE = 255;

/** The protocol to speak among those the client offered, best first; undefined when none is supported. */
export function selectProtocol(offered: Iterable<string>): string | undefined {
  const set = new Set([...offered].map((p) => p.trim()));
  return SUPPORTED_PROTOCOLS.find((p) => set.has(p));
}

/** Splits a Sec-WebSocket-Protocol header into its tokens. */
export function offeredProtocols(header: string | string[] | undefined): string[] {
  const all = Array.isArray(header) ? header.join(',') : (header ?? '');
  return all.split(',').map((s) => s.trim()).filter(Boolean);
}

export function encodeFrame(channel: number, data?: Buffer | string): Buffer {
  const body = data === undefined ? Buffer.alloc(0) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  return Buffer.concat([Buffer.from([channel]), body]);
}

export type ClientMessage =
  | { kind: 'stdin'; data: Buffer }
  | { kind: 'close'; channel: number }
  | { kind: 'resize'; width: number; height: number }
  | { kind: 'ignored'; why: string };

/** What a message from the client means under `protocol`. Never throws: bad input is ignored, as kubelet does. */
export function decodeClientMessage(protocol: string, msg: Buffer): ClientMessage {
  if (msg.length === 0) return { kind: 'ignored', why: 'empty message' };
  const channel = msg[0];
  const body = msg.subarray(1);
  switch (channel) {
    case STDIN:
      return { kind: 'stdin', data: body };
    case RESIZE: {
      try {
        const v = JSON.parse(body.toString('utf8')) as { Width?: unknown; Height?: unknown };
        const width = Number(v.Width);
        const height = Number(v.Height);
        if (Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0) return { kind: 'resize', width, height };
      } catch {
        // fall through
      }
      return { kind: 'ignored', why: 'malformed resize' };
    }
    case CLOSE:
      if (protocol !== V5_PROTOCOL) return { kind: 'ignored', why: `close frames need ${V5_PROTOCOL}` };
      if (body.length !== 1) return { kind: 'ignored', why: 'malformed close frame' };
      return { kind: 'close', channel: body[0] };
    default:
      return { kind: 'ignored', why: `unexpected channel ${channel}` };
  }
}

export interface ExecStatus {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes: { reason: string; message: string }[] };
}

/**
 * The status written on channel 3 when the process exited: Success for 0,
 * otherwise NonZeroExitCode with the code as the ExitCode cause (kubectl exits
 * with that code).
 */
export function exitStatus(exitCode: number, command: string[]): ExecStatus {
  if (exitCode === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  };
}

/** The status for a session that failed without an exit code (could not start, runtime error). */
export function errorStatus(message: string): ExecStatus {
  return { metadata: {}, status: 'Failure', message, reason: 'InternalError', code: 500 };
}
