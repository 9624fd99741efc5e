/**
 * How an agent turns what it was given (server URL, token, maybe a CA) into
 * credentials it can trust, as k3s agents do:
 *
 * - a full join token `K10<ca-sha256>::<secret>` (common/jointoken.ts) with no
 *   CA: the CA is fetched from the server's unauthenticated `GET /cacerts`
 *   over TLS *without* verification, then accepted only if its SHA-256 equals
 *   the token's hash. Every later request verifies the server against it, so a
 *   man in the middle can neither substitute a CA nor pass the TLS check;
 * - a full token and a CA: the CA must match the token's hash (a stale or
 *   wrong file is caught at start, not as TLS errors later);
 * - a bare secret: the CA must be given (`--ca-file` or the kubeconfig).
 *
 * The bearer token sent to the API server is always the secret part.
 */
import { request } from 'node:https';
import type { Credentials } from '../controlplane/controllers/client.js';
import { caHash, parseJoinToken } from '../common/jointoken.js';
import type { Logger } from '../common/log.js';

/** Refuse absurd answers: a CA bundle is a few KiB. */
const MAX_CA_BYTES = 256 * 1024;

export interface JoinInput {
  server: string;
  token: string;
  /** PEM, when given by --ca-file or a kubeconfig. */
  ca?: string;
}

export type CaFetcher = (server: string) => Promise<Buffer>;

/** GET <server>/cacerts, unverified (the caller checks the hash). One attempt, 10 s timeout. */
export const fetchServerCa: CaFetcher = (server) =>
  new Promise((resolve, reject) => {
    const url = new URL('/cacerts', server);
    const req = request(url, { method: 'GET', rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_CA_BYTES) req.destroy(new Error(`${url.href}: answer larger than ${MAX_CA_BYTES} bytes`));
        else chunks.push(c);
      });
      res.on('error', reject);
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${url.href} answered ${res.statusCode} (a Skiff server serves its CA there)`));
        else resolve(Buffer.concat(chunks));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${url.href}: no answer within 10 s`)));
    req.on('error', reject);
    req.end();
  });

export interface ResolveOptions {
  fetch?: CaFetcher;
  /** How long to keep retrying an unreachable server (the server may be starting). Default 60 s. */
  deadlineMs?: number;
  log?: Logger;
}

/**
 * Credentials for the ApiClient from a join input. Throws a one-line error for a
 * malformed token, a CA that does not match, or a server that never answered
 * /cacerts within the deadline (polled every second).
 */
export async function resolveJoin(i: JoinInput, o: ResolveOptions = {}): Promise<Credentials> {
  const t = parseJoinToken(i.token);
  if (!t.caHash) {
    if (!i.ca) throw new Error('the cluster CA is required with a bare token: pass --ca-file, or use the full join token K10<ca-sha256>::<secret> from the server\'s <data-dir>/node-token');
    return { server: i.server, ca: i.ca, token: t.secret };
  }
  if (i.ca !== undefined) {
    const got = caHash(i.ca);
    if (got !== t.caHash) throw new Error(`the CA given (sha256 ${got.slice(0, 16)}...) is not the one the join token names (sha256 ${t.caHash.slice(0, 16)}...): wrong --ca-file or a token of another cluster`);
    return { server: i.server, ca: i.ca, token: t.secret };
  }
  const fetch = o.fetch ?? fetchServerCa;
  const end = Date.now() + (o.deadlineMs ?? 60_000);
  for (let attempt = 1; ; attempt++) {
    let body: Buffer;
    try {
      body = await fetch(i.server);
    } catch (e) {
      if (Date.now() >= end) throw new Error(`cannot fetch the cluster CA from ${i.server}/cacerts: ${(e as Error).message}`);
      if (attempt === 1) o.log?.info({ server: i.server, err: (e as Error).message }, 'server not answering yet; retrying');
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    // A mismatch is never retried: it is either the wrong server or an attack.
    const got = caHash(body);
    if (got !== t.caHash) throw new Error(`the CA served by ${i.server} (sha256 ${got.slice(0, 16)}...) does not match the join token (sha256 ${t.caHash.slice(0, 16)}...): refusing to trust it`);
    return { server: i.server, ca: body.toString('utf8'), token: t.secret };
  }
}
