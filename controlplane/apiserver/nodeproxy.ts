/**
 * pods/log and pods/exec: the API server's proxy to the agent on the pod's node
 * (kubelet's port), as kube-apiserver proxies to kubelets.
 *
 * Reaching an agent: `https://<InternalIP>:<status.daemonEndpoints.kubeletEndpoint.Port>`
 * of the pod's Node, presenting the client certificate `skiff-apiserver-kubelet-client`
 * (pki.ts). The agent's certificate is self-signed and is trusted only if its
 * SHA-256 matches the fingerprint the node published in the annotation
 * `skiff.io/serving-cert-sha256`; the check happens right after the TLS handshake,
 * before a byte of the request is written.
 *
 * Logs go through express (subresources.ts hands them to `streamer`) and are piped
 * through. Exec is a WebSocket upgrade, which never reaches express: the server's
 * `upgrade` event calls `handleUpgrade`, which authenticates and authorizes like
 * any request (`create` on pods/exec), then tunnels the raw upgraded connection to
 * the agent. A tunnel rather than a relay of frames: the agent picks the
 * subprotocol and answers the handshake, and every frame (v5 close, resize, ping)
 * passes unchanged, as in kube-apiserver's UpgradeAwareHandler. Errors before the
 * 101 are Kubernetes Status JSON.
 *
 * SPDY upgrades are tunnelled like WebSocket ones, on purpose: client-go treats
 * any failed WebSocket handshake as "try SPDY" and prints what the SPDY attempt
 * got. Running the SPDY attempt through the same checks (here and on the agent,
 * which refuses SPDY only after finding the container) makes kubectl print the
 * real reason (forbidden, unknown container, certificate mismatch) rather than
 * "SPDY is not supported".
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import { badRequest, StatusError, unauthorized, type Reason } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { authorize, type Authenticator } from './auth.js';
import type { Obj } from './objects.js';
import type { Registry } from './registry.js';
import { findResource } from './resources.js';
import type { PodStreamer } from './subresources.js';

/** Node annotation with the agent's serving certificate SHA-256 (written by the agent, see agent/server/tls.ts). */
export const SERVING_CERT_ANNOTATION = 'skiff.io/serving-cert-sha256';

const LOG_PARAMS = ['follow', 'tailLines', 'timestamps', 'sinceSeconds', 'sinceTime', 'limitBytes', 'previous'];
const EXEC_PARAMS = ['command', 'stdin', 'stdout', 'stderr', 'tty'];
const MAX_ERROR_BODY = 64 * 1024;

export interface AgentEndpoint {
  node: string;
  host: string;
  port: number;
  fingerprint: string;
}

export interface NodeProxyOptions {
  registry: Registry;
  auth: Authenticator;
  log: Logger;
  /** The kubelet-client certificate and key (pki.ts ensureKubeletClientCert). */
  clientCert: string;
  clientKey: string;
  /** Connect + TLS handshake deadline (default 10 s). */
  dialTimeoutMs?: number;
}

export interface NodeProxy {
  streamer: PodStreamer;
  /** For the HTTPS server's `upgrade` event. Answers every upgrade request, exec or not. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

function normalizeFingerprint(s: unknown): string | undefined {
  if (typeof s !== 'string') return undefined;
  const hex = s.trim().replace(/^sha256:/i, '').replace(/:/g, '').toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
}

function unavailable(message: string): StatusError {
  return new StatusError(503, 'ServiceUnavailable', message);
}

/** Where and how to reach a node's agent; 503 when the node has not published enough to do it safely. */
export function agentEndpoint(node: Obj): AgentEndpoint {
  const name: string = node.metadata?.name ?? '';
  const fingerprint = normalizeFingerprint(node.metadata?.annotations?.[SERVING_CERT_ANNOTATION]);
  if (!fingerprint) throw unavailable(`node "${name}" has not published its serving certificate (annotation ${SERVING_CERT_ANNOTATION})`);
  const addrs: { type?: string; address?: string }[] = Array.isArray(node.status?.addresses) ? node.status.addresses : [];
  const host = (addrs.find((a) => a.type === 'InternalIP') ?? addrs.find((a) => a.type === 'ExternalIP'))?.address;
  if (!host || !isIP(host)) throw unavailable(`node "${name}" has no InternalIP address in status.addresses`);
  const port = node.status?.daemonEndpoints?.kubeletEndpoint?.Port;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw unavailable(`node "${name}" has not published its agent port (status.daemonEndpoints.kubeletEndpoint.Port)`);
  return { node: name, host, port, fingerprint };
}

/** The container a request addresses: the named one if the pod has it, else the only one (as kube-apiserver decides). */
export function podContainer(pod: Obj, requested: string | null | undefined): string {
  const names = (k: string): string[] => (Array.isArray(pod.spec?.[k]) ? pod.spec[k].map((c: Obj) => c.name) : []);
  const containers = names('containers');
  const init = names('initContainers');
  const ephemeral = names('ephemeralContainers');
  const podName = pod.metadata?.name;
  if (requested) {
    if (![...containers, ...init, ...ephemeral].includes(requested)) throw badRequest(`container ${requested} is not valid for pod ${podName}`);
    return requested;
  }
  if (containers.length === 1) return containers[0];
  if (containers.length === 0) throw badRequest(`a container name must be specified for pod ${podName}`);
  let msg = `a container name must be specified for pod ${podName}, choose one of: [${containers.join(' ')}]`;
  if (init.length) msg += ` or one of the init containers: [${init.join(' ')}]`;
  if (ephemeral.length) msg += ` or one of the ephemeral containers: [${ephemeral.join(' ')}]`;
  throw badRequest(msg);
}

/** `/<kind>/{ns}/{pod}/{container}?<allowed params of the client's query>` on the agent. */
export function agentPath(kind: 'containerLogs' | 'exec', pod: Obj, container: string, query: URLSearchParams): string {
  const allowed = kind === 'exec' ? EXEC_PARAMS : LOG_PARAMS;
  const out = new URLSearchParams();
  for (const [k, v] of query) if (allowed.includes(k)) out.append(k, v);
  const seg = [pod.metadata.namespace, pod.metadata.name, container].map(encodeURIComponent).join('/');
  const qs = out.toString();
  return `/${kind}/${seg}${qs ? `?${qs}` : ''}`;
}

const REASONS: Record<number, Reason> = { 400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed', 409: 'Conflict', 429: 'TooManyRequests', 503: 'ServiceUnavailable' };

/** An agent's error answer as a StatusError: its own Status when it sent one, else its text. */
export function statusFromAgent(code: number, body: string, node: string): StatusError {
  try {
    const s = JSON.parse(body) as Obj;
    if (s && s.kind === 'Status' && typeof s.message === 'string') return new StatusError(code, (s.reason as Reason) ?? REASONS[code] ?? 'InternalError', s.message, s.details);
  } catch {
    // not JSON
  }
  const text = body.trim() || `the agent on node "${node}" answered ${code}`;
  return new StatusError(code, REASONS[code] ?? 'InternalError', text);
}

function backendError(ep: AgentEndpoint, e: unknown): StatusError {
  if (e instanceof StatusError) return e;
  return new StatusError(502, 'InternalError', `error dialing backend: node "${ep.node}" at ${ep.host}:${ep.port}: ${(e as Error).message}`);
}

/** Connects to the agent and verifies its certificate against the pinned fingerprint before anything is sent. */
export function dialAgent(ep: AgentEndpoint, cert: string, key: string, timeoutMs: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    // rejectUnauthorized is off because trust comes from the pin below, not from a CA.
    const sock = tlsConnect({ host: ep.host, port: ep.port, cert, key, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    const fail = (e: Error): void => {
      clearTimeout(timer);
      sock.destroy();
      reject(e);
    };
    const timer = setTimeout(() => fail(new Error(`connection not established within ${timeoutMs} ms`)), timeoutMs);
    sock.once('error', fail);
    sock.once('secureConnect', () => {
      clearTimeout(timer);
      sock.off('error', fail);
      sock.on('error', () => undefined); // the HTTP layer reports errors from here on
      const got = normalizeFingerprint(sock.getPeerCertificate().fingerprint256);
      if (got !== ep.fingerprint) {
        sock.destroy();
        reject(new StatusError(502, 'InternalError', `error dialing backend: the serving certificate of node "${ep.node}" at ${ep.host}:${ep.port} (sha256 ${got}) does not match its published ${SERVING_CERT_ANNOTATION} (${ep.fingerprint})`));
        return;
      }
      resolve(sock);
    });
  });
}

async function readBounded(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    if (n < MAX_ERROR_BODY) chunks.push(c as Buffer);
    n += (c as Buffer).length;
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, MAX_ERROR_BODY);
}

/** An HTTP error on a connection that asked for an upgrade. */
function rejectUpgrade(socket: Duplex, err: StatusError): void {
  if (socket.destroyed) return;
  const body = JSON.stringify(err.toStatus());
  socket.end(`HTTP/1.1 ${err.code} ${err.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

const UPGRADE_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/(exec|attach|portforward)$/;

export function createNodeProxy(o: NodeProxyOptions): NodeProxy {
  const pods = findResource('', 'v1', 'pods')!;
  const nodes = findResource('', 'v1', 'nodes')!;
  const timeout = o.dialTimeoutMs ?? 10_000;

  const endpointFor = async (pod: Obj): Promise<AgentEndpoint> => agentEndpoint(await o.registry.get(nodes, undefined, pod.spec.nodeName));

  const dial = async (ep: AgentEndpoint): Promise<TLSSocket> => {
    try {
      return await dialAgent(ep, o.clientCert, o.clientKey, timeout);
    } catch (e) {
      throw backendError(ep, e);
    }
  };

  const logs = async (req: Request, res: Response, pod: Obj): Promise<void> => {
    const query = new URL(req.originalUrl, 'https://apiserver.invalid').searchParams;
    const container = podContainer(pod, query.get('container'));
    const ep = await endpointFor(pod);
    const sock = await dial(ep);
    const agentReq = httpRequest({ createConnection: () => sock, method: 'GET', path: agentPath('containerLogs', pod, container, query), headers: { host: `${ep.host}:${ep.port}`, connection: 'close' } });
    const agentRes = await new Promise<IncomingMessage>((resolve, reject) => {
      agentReq.once('response', resolve);
      agentReq.once('error', (e) => reject(backendError(ep, e)));
      agentReq.end();
    });
    if (agentRes.statusCode !== 200) throw statusFromAgent(agentRes.statusCode ?? 500, await readBounded(agentRes), ep.node);
    res.statusCode = 200;
    res.setHeader('Content-Type', 'text/plain');
    res.setHeader('Cache-Control', 'no-cache');
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    // A client that leaves (kubectl logs -f interrupted) closes the agent stream too.
    res.once('close', () => agentReq.destroy());
    await pipeline(agentRes, res).catch((e) => o.log.debug({ err: e, pod: pod.metadata.name }, 'log stream ended early'));
  };

  const streamer: PodStreamer = async (req, res, pod, sub) => {
    if (sub === 'exec') throw badRequest('Upgrade request required: exec is served over WebSocket (v5.channel.k8s.io)');
    return logs(req, res, pod);
  };

  /** Authenticates, authorizes and checks an exec upgrade, then tunnels it to the agent. */
  const upgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const user = o.auth.authenticate(req.headers.authorization);
    if (!user) throw unauthorized();
    const url = new URL(req.url ?? '/', 'https://apiserver.invalid');
    const m = UPGRADE_PATH.exec(url.pathname);
    if (!m) throw badRequest(`upgrade requests are served only for pods/exec, not ${url.pathname}`);
    const [namespace, name, sub] = [decodeURIComponent(m[1]), decodeURIComponent(m[2]), m[3]];
    const denied = authorize(user, { verb: 'create', group: '', resource: 'pods', subresource: sub, namespace, name });
    if (denied) throw new StatusError(403, 'Forbidden', denied, { name, kind: 'pods' });
    if (sub !== 'exec') throw badRequest(`pods/${sub} is not supported by this server (only pods/exec and pods/log are)`);
    const pod = await o.registry.get(pods, namespace, name);
    if (!pod.spec?.nodeName) throw badRequest(`pod ${name} does not have a host assigned`);
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') throw badRequest(`cannot exec into a container in a completed pod; current phase is ${phase}`);
    const container = podContainer(pod, url.searchParams.get('container'));
    const ep = await endpointFor(pod);
    const agentSock = await dial(ep);
    o.log.debug({ user: user.name, namespace, pod: name, container, node: ep.node }, 'exec tunnel to agent');
    tunnel(req, socket as Socket, head, agentSock, ep, agentPath('exec', pod, container, url.searchParams));
  };

  /** Sends the handshake to the agent and, on its 101, splices the two connections together. */
  const tunnel = (req: IncomingMessage, client: Socket, clientHead: Buffer, agentSock: TLSSocket, ep: AgentEndpoint, path: string): void => {
    const headers: Record<string, string | string[]> = { host: `${ep.host}:${ep.port}`, connection: 'Upgrade', upgrade: req.headers.upgrade ?? '' };
    // Only the handshake travels; the client's credentials stay here.
    for (const h of ['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol', 'sec-websocket-extensions', 'x-stream-protocol-version']) {
      const v = req.headers[h];
      if (v !== undefined) headers[h] = v;
    }
    const agentReq = httpRequest({ createConnection: () => agentSock, method: 'GET', path, headers });
    client.once('close', () => agentReq.destroy());
    agentReq.on('upgrade', (res: IncomingMessage, upstream: Socket, upstreamHead: Buffer) => {
      const lines = ['HTTP/1.1 101 Switching Protocols'];
      for (let i = 0; i < res.rawHeaders.length; i += 2) lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
      client.setTimeout(0);
      client.setNoDelay(true);
      client.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (upstreamHead.length) client.write(upstreamHead);
      if (clientHead.length) upstream.write(clientHead);
      upstream.pipe(client);
      client.pipe(upstream);
      const end = (): void => {
        client.destroy();
        upstream.destroy();
      };
      upstream.once('close', end);
      client.once('close', end);
      upstream.on('error', (e) => o.log.debug({ err: e }, 'agent side of exec tunnel failed'));
    });
    agentReq.on('response', (res: IncomingMessage) => {
      readBounded(res)
        .then((body) => rejectUpgrade(client, statusFromAgent(res.statusCode ?? 500, body, ep.node)))
        .catch((e) => rejectUpgrade(client, backendError(ep, e)));
    });
    agentReq.on('error', (e) => rejectUpgrade(client, backendError(ep, e)));
    agentReq.end();
  };

  const handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', (e) => o.log.debug({ err: e }, 'upgrade connection failed'));
    upgrade(req, socket, head).catch((e) => {
      const err = e instanceof StatusError ? e : new StatusError(500, 'InternalError', `Internal error occurred: ${(e as Error).message}`);
      if (err.code >= 500) o.log.error({ err: e, path: req.url }, 'exec upgrade failed');
      rejectUpgrade(socket, err);
    });
  };

  return { streamer, handleUpgrade };
}
