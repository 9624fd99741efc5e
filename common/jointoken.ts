/**
 * The node-join token in k3s's "secure" format: `K10<ca-sha256>::<secret>`.
 *
 * - `<ca-sha256>` is the lowercase hex SHA-256 of the cluster CA certificate
 *   exactly as the server serves it at `GET /cacerts` (the bytes of
 *   `<data-dir>/pki/ca.crt`).
 * - `<secret>` is the bearer token agents authenticate with (`tokens.json`
 *   "node"); it never contains `::`.
 *
 * With the full token an agent needs nothing else to join safely: it fetches
 * the CA from the (yet unverified) server, accepts it only when its hash
 * matches the token, and from then on verifies the server's certificate
 * against it. A bare secret (no `::`) still works with an explicit CA file.
 *
 * Pure functions; the server writes the token (controlplane/server.ts) and the
 * agent resolves it (agent/bootstrap.ts).
 */
import { createHash } from 'node:crypto';

export const JOIN_TOKEN_PREFIX = 'K10';

/** Hex SHA-256 of the CA bytes (a string is hashed as UTF-8, as the server sends it). */
export function caHash(ca: string | Buffer): string {
  return createHash('sha256').update(ca).digest('hex');
}

/** `K10<sha256(ca)>::<secret>`. */
export function formatJoinToken(ca: string | Buffer, secret: string): string {
  if (!secret || secret.includes('::') || /\s/.test(secret)) throw new Error('the node secret must be non-empty, without "::" or whitespace');
  return `${JOIN_TOKEN_PREFIX}${caHash(ca)}::${secret}`;
}

export interface ParsedToken {
  /** The CA hash when the token is a full join token; undefined for a bare secret. */
  caHash?: string;
  /** What goes into `Authorization: Bearer`. */
  secret: string;
}

/**
 * Splits a token. `K10<64 hex>::<secret>` yields both parts; anything without
 * `::` is a bare secret. A token that has `::` but not the full form is refused
 * (a truncated paste must not silently become a secret that fails later as 401).
 */
export function parseJoinToken(token: string): ParsedToken {
  const t = token.trim();
  if (!t) throw new Error('the token is empty');
  if (!t.includes('::')) return { secret: t };
  const m = /^K10([0-9a-f]{64})::(\S+)$/.exec(t);
  if (!m || m[2].includes('::')) throw new Error('malformed join token: expected K10<64 hex digits of the CA SHA-256>::<secret>');
  return { caHash: m[1], secret: m[2] };
}
