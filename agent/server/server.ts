/**
 * The agent's HTTPS endpoint (kubelet's port 10250): container logs, exec over
 * WebSocket, health and stats, for the API server only.
 *
 * TLS: a self-signed serving certificate (tls.ts) whose fingerprint the node
 * publishes; clients must present a certificate chaining to the cluster CA with
 * CN skiff-apiserver-kubelet-client (auth.ts), checked on every request and
 * upgrade, 401/403 otherwise. The TLS layer requests but does not require the
 * certificate, so refusals are Status JSON answers rather than handshake errors.
 *
 * Endpoints:
 *   GET  /healthz                          -> ok
 *   GET  /stats/summary                    -> summary() as JSON
 *   GET  /containerLogs/{ns}/{pod}/{ctr}   -> logs.ts
 *   GET|POST /exec/{ns}/{pod}/{ctr}        -> WebSocket upgrade, exec.ts
 * Errors are Kubernetes Status JSON with the code, which the API server relays.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import { StatusError, internalError } from '../../common/errors.js';
import { logger, type Logger } from '../../common/log.js';
import type { Runtime } from '../runtime/types.js';
import { checkClient, type PeerInfo } from './auth.js';
import { offeredProtocols, selectProtocol, SUPPORTED_PROTOCOLS } from './channels.js';
import { serveExec } from './exec.js';
import { serveLogs, resolveContainer, type PodLookup } from './logs.js';
import { parseContainerPath, parseExecQuery } from './params.js';
import { ensureServingCert } from './tls.js';

export type { PodLookup } from './logs.js';
export { SERVING_CERT_ANNOTATION } from './tls.js';
export { API_SERVER_CLIENT_CN } from './auth.js';

export const DEFAULT_AGENT_PORT = 10250;

export interface AgentServerOptions {
  /** 10250 in production, 0 in tests. */
  port: number;
  /** Bind address; default all interfaces. */
  host?: string;
  /** The agent's data dir: the serving certificate lives in `<dataDir>/pki/`. */
  dataDir: string;
  /** The cluster CA (PEM), from the agent's kubeconfig: client certificates must chain to it. */
  caCert: string;
  runtime: Pick<Runtime, 'logs' | 'exec' | 'inspectContainer'>;
  lookup: PodLookup;
  /** The kubelet stats summary (node-status code); 503 until one is supplied. */
  summary?: () => Promise<unknown>;
  log?: Logger;
  /** Extra names and addresses for the certificate's SANs (the node's IPs). */
  hosts?: string[];
}

export interface AgentServer {
  port: number;
  /** SHA-256 of the serving certificate, lowercase hex: publish as the Node annotation SERVING_CERT_ANNOTATION. */
  fingerprint: string;
  /** Stops listening and ends every open connection, streams included. */
  close(): Promise<void>;
}

function peerOf(socket: Socket): PeerInfo {
  const tls = socket as TLSSocket;
  const cert = typeof tls.getPeerCertificate === 'function' ? tls.getPeerCertificate() : undefined;
  const presented = !!cert && Object.keys(cert).length > 0;
  const cn = presented ? cert!.subject?.CN : undefined;
  return {
    authorized: tls.authorized === true,
    authorizationError: tls.authorizationError ? String(tls.authorizationError) : undefined,
    commonName: Array.isArray(cn) ? cn[0] : cn,
    presented,
  };
}

function toStatusError(e: unknown): StatusError {
  if (e instanceof StatusError) return e;
  const code = (e as { statusCode?: number }).statusCode;
  if (code === 404) return new StatusError(404, 'NotFound', (e as Error).message);
  return internalError((e as Error)?.message ?? String(e));
}

function sendStatus(res: ServerResponse, err: StatusError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify(err.toStatus());
  res.writeHead(err.code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** An HTTP error on a socket that asked for an upgrade (there is no ServerResponse for it). */
function rejectUpgrade(socket: Duplex, err: StatusError): void {
  const body = JSON.stringify(err.toStatus());
  socket.end(
    `HTTP/1.1 ${err.code} ${err.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export async function startAgentServer(o: AgentServerOptions): Promise<AgentServer> {
  const log = o.log ?? logger('agent-server');
  const tls = await ensureServingCert(o.dataDir, [...(o.hosts ?? []), ...(o.host ? [o.host] : [])]);
  // ws is loaded with the first exec: an agent nobody execs into does not carry it (memory).
  let wss: Promise<WebSocketServer> | undefined;
  const webSockets = (): Promise<WebSocketServer> =>
    (wss ??= import('ws').then(({ WebSocketServer }) => new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: (offered) => selectProtocol(offered) ?? false })));

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const denied = checkClient(peerOf(req.socket));
    if (denied) throw denied;
    const url = new URL(req.url ?? '/', 'https://agent.invalid');
    if (url.pathname === '/healthz' && req.method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
      return;
    }
    if (url.pathname === '/stats/summary' && req.method === 'GET') {
      if (!o.summary) throw new StatusError(503, 'ServiceUnavailable', 'stats are not available yet');
      const body = JSON.stringify(await o.summary());
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
      return;
    }
    const logsTarget = parseContainerPath(url.pathname, 'containerLogs');
    if (logsTarget) {
      if (req.method !== 'GET') throw new StatusError(405, 'MethodNotAllowed', `${req.method} is not allowed on ${url.pathname}`);
      return serveLogs(req, res, logsTarget, url.searchParams, { runtime: o.runtime, lookup: o.lookup, log });
    }
    if (parseContainerPath(url.pathname, 'exec')) {
      throw new StatusError(400, 'BadRequest', `Upgrade request required: exec is served over WebSocket (${SUPPORTED_PROTOCOLS.join(', ')})`);
    }
    throw new StatusError(404, 'NotFound', `the agent has no endpoint ${url.pathname}`);
  };

  const upgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const denied = checkClient(peerOf(req.socket));
    if (denied) return rejectUpgrade(socket, denied);
    const url = new URL(req.url ?? '/', 'https://agent.invalid');
    const target = parseContainerPath(url.pathname, 'exec');
    if (!target) throw new StatusError(404, 'NotFound', `the agent has no streaming endpoint ${url.pathname}`);
    const request = parseExecQuery(url.searchParams);
    // The container is checked before the protocol so that a client falling back to
    // SPDY after a failed WebSocket attempt (client-go does) learns the real reason.
    const id = await resolveContainer(o.lookup, target, false);
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      throw new StatusError(400, 'BadRequest', `upgrade to "${req.headers.upgrade}" is not supported: exec is served over WebSocket (${SUPPORTED_PROTOCOLS.join(', ')}), not SPDY`);
    }
    if (!selectProtocol(offeredProtocols(req.headers['sec-websocket-protocol']))) {
      throw new StatusError(400, 'BadRequest', `no supported WebSocket subprotocol offered: use one of ${SUPPORTED_PROTOCOLS.join(', ')}`);
    }
    // kubelet takes POST for SPDY; a WebSocket handshake is a GET, which ws insists on.
    req.method = 'GET';
    (await webSockets()).handleUpgrade(req, socket, head, (ws) => {
      serveExec(ws, o.runtime, id, request, log).catch((e) => log.error({ err: e }, 'exec session failed'));
    });
  };

  const server: Server = createServer({ key: tls.key, cert: tls.cert, ca: o.caCert, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    handle(req, res).catch((e) => {
      // StatusErrors are answers; anything else is a bug or a runtime failure worth a log line.
      if (!(e instanceof StatusError)) log.error({ err: e, path: req.url }, 'agent request failed');
      sendStatus(res, toStatusError(e));
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', (e) => log.debug({ err: e }, 'upgrade socket error'));
    upgrade(req, socket, head).catch((e) => {
      if (!(e instanceof StatusError)) log.error({ err: e, path: req.url }, 'agent upgrade failed');
      if (!socket.destroyed) rejectUpgrade(socket, toStatusError(e));
    });
  });
  // Failed handshakes (a client refusing our self-signed certificate) are the client's business.
  server.on('tlsClientError', (e) => log.debug({ err: e }, 'TLS handshake failed'));
  const sockets = new Set<Socket>();
  server.on('secureConnection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ port, fingerprint: tls.fingerprint }, 'agent server listening');

  return {
    port,
    fingerprint: tls.fingerprint,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        void wss?.then((w) => {
          for (const ws of w.clients) ws.terminate();
        });
        // Followed logs and exec sessions are long-lived: end them so close() completes.
        for (const s of sockets) s.destroy();
      });
      (await wss)?.close();
    },
  };
}
