/**
 * The probe and hook actions that touch the network or the runtime: exec in the
 * container, HTTP(S) GET, TCP connect. Each resolves with an outcome; a rejection means
 * the probe could not be run at all (the kubelet's "probe errored", result discarded).
 *
 * HTTP follows the kubelet's prober: `kube-probe/<version>` user agent, `Accept: *\/*`,
 * no keep-alive, TLS without verification, 200-399 is success, redirects followed (at
 * most 10) while they stay on the same host name, a redirect elsewhere is a success
 * with a warning, and at most 1 KiB of body is read. Messages follow Go's error text
 * (`Get "http://...": dial tcp ...: connect: connection refused`) so events read as a
 * Kubernetes user expects.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { Runtime } from '../runtime/types.js';
import type { Obj } from './fieldpath.js';

export type Outcome = { result: 'success' | 'warning' | 'failure'; output: string };

export const PROBE_USER_AGENT = 'kube-probe/1.32';
export const MAX_BODY_BYTES = 1024;
/** Exec output kept in a probe message (the kubelet's maxReadLength). */
export const MAX_EXEC_OUTPUT = 10 * 1024;
const MAX_REDIRECTS = 10;

/** A port given as number, numeric string or container port name; throws when the name is unknown. */
export function resolvePort(port: unknown, container: Obj | undefined): number {
  if (typeof port === 'number') return port;
  const s = String(port ?? '');
  if (/^\d+$/.test(s)) return Number(s);
  const p = ((container?.ports ?? []) as Obj[]).find((x) => x.name === s);
  if (!p) throw new Error(`couldn't find port: ${s} in container ${container?.name ?? '?'}`);
  return Number(p.containerPort);
}

const hostPort = (host: string, port: number): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** Go's wording for the common dial errors. */
function dialError(e: NodeJS.ErrnoException, host: string, port: number): string {
  const addr = `dial tcp ${hostPort(host, port)}`;
  switch (e.code) {
    case 'ECONNREFUSED':
      return `${addr}: connect: connection refused`;
    case 'EHOSTUNREACH':
      return `${addr}: connect: no route to host`;
    case 'ENETUNREACH':
      return `${addr}: connect: network is unreachable`;
    case 'ECONNRESET':
      return `read tcp ${hostPort(host, port)}: read: connection reset by peer`;
    default:
      return `${addr}: ${e.message}`;
  }
}

/** Runs `cmd` in the container: exit 0 is success, a timeout is a failure. */
export async function execAction(runtime: Runtime, containerId: string, cmd: string[], timeoutMs: number): Promise<Outcome> {
  const r = await runtime.execSync(containerId, cmd, timeoutMs);
  const output = r.output.length > MAX_EXEC_OUTPUT ? r.output.slice(0, MAX_EXEC_OUTPUT) : r.output;
  if (r.timedOut) return { result: 'failure', output: `command "${cmd.join(' ')}" timed out` };
  return { result: r.exitCode === 0 ? 'success' : 'failure', output };
}

/** Connects to host:port within the timeout; connecting is success. */
export function tcpAction(host: string, port: number, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ result: 'failure', output: `dial tcp ${hostPort(host, port)}: i/o timeout` });
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ result: 'success', output: '' });
    });
    sock.once('error', (e) => {
      clearTimeout(timer);
      resolve({ result: 'failure', output: dialError(e, host, port) });
    });
  });
}

export interface HttpGetSpec {
  scheme: 'HTTP' | 'HTTPS';
  host: string;
  port: number;
  path: string;
  headers?: { name: string; value: string }[];
}

/** The probe's URL (path defaults to `/`, a missing leading slash is added). */
export function probeURL(spec: HttpGetSpec): URL {
  const path = !spec.path ? '/' : spec.path.startsWith('/') ? spec.path : `/${spec.path}`;
  return new URL(`${spec.scheme === 'HTTPS' ? 'https' : 'http'}://${hostPort(spec.host, spec.port)}${path}`);
}

interface Response {
  status: number;
  location?: string;
  body: string;
}

/** One GET, at most MAX_BODY_BYTES of body read; rejects with Go-like messages. */
function getOnce(url: URL, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  return new Promise((resolve, reject) => {
    const opts = { method: 'GET', headers, agent: false as const, signal, rejectUnauthorized: false };
    let responded = false;
    const bodyTimeout = `Get "${url.href}": net/http: request canceled (Client.Timeout or context cancellation while reading body)`;
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, opts, (res: IncomingMessage) => {
      responded = true;
      const chunks: Buffer[] = [];
      let size = 0;
      const done = (): void => {
        res.destroy();
        resolve({ status: res.statusCode ?? 0, location: res.headers.location, body: Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString('utf8') });
      };
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        size += c.length;
        // Enough read: a probe never needs more, and a huge body must not cost memory.
        if (size >= MAX_BODY_BYTES) done();
      });
      res.on('end', done);
      res.on('error', (e) => reject(new Error(signal.aborted ? bodyTimeout : `Get "${url.href}": ${e.message}`)));
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (signal.aborted && responded) reject(new Error(bodyTimeout));
      else if (signal.aborted) reject(new Error(`Get "${url.href}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`));
      else reject(new Error(`Get "${url.href}": ${dialError(e, host, port)}`));
    });
    req.end();
  });
}

/** Host names the way Go's redirect check compares them (URL.Hostname, no port). */
const hostnameOf = (u: URL): string => u.hostname.replace(/^\[|\]$/g, '');

/**
 * The HTTP GET action. `judgeStatus: false` (hooks) makes any answer a success, as
 * lifecycle hooks ignore the status code; probes judge 200-399. Hooks also send their
 * own user agent (`kube-lifecycle/<version>`).
 */
export async function httpGetAction(spec: HttpGetSpec, timeoutMs: number, opts: { judgeStatus?: boolean; userAgent?: string } = {}): Promise<Outcome> {
  const judge = opts.judgeStatus !== false;
  let url = probeURL(spec);
  const headers: Record<string, string> = { 'user-agent': opts.userAgent ?? PROBE_USER_AGENT, accept: '*/*', connection: 'close' };
  for (const h of spec.headers ?? []) headers[h.name.toLowerCase()] = h.value;
  const firstHost = hostnameOf(url);
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    for (let hops = 0; ; hops++) {
      const res = await getOnce(url, headers, signal);
      if (res.status >= 300 && res.status < 400 && res.location) {
        const next = new URL(res.location, url);
        if (hostnameOf(next) === firstHost && (next.protocol === 'http:' || next.protocol === 'https:')) {
          if (hops + 1 >= MAX_REDIRECTS) return { result: 'failure', output: `Get "${next.href}": stopped after ${MAX_REDIRECTS} redirects` };
          url = next;
          continue;
        }
        // Another host: the kubelet does not follow, and counts it as a success with a warning.
        return { result: 'warning', output: `Probe terminated redirects, Response body: ${res.body}` };
      }
      if (judge && res.status >= 300 && res.status < 400) return { result: 'warning', output: `Probe terminated redirects, Response body: ${res.body}` };
      if (!judge || (res.status >= 200 && res.status < 400)) return { result: 'success', output: res.body };
      return { result: 'failure', output: `HTTP probe failed with statuscode: ${res.status}` };
    }
  } catch (e) {
    return { result: 'failure', output: (e as Error).message };
  }
}
