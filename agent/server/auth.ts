/**
 * Who may use the agent's API: only the API server, recognised by a client
 * certificate that chains to the cluster CA and names it. Pure decision logic:
 * the TLS layer supplies what it verified, this says 401, 403 or yes.
 */
import { StatusError } from '../../common/errors.js';

/** Common name of the client certificate the API server presents to agents. */
export const API_SERVER_CLIENT_CN = 'skiff-apiserver-kubelet-client';

/** What the TLS handshake established about the client. */
export interface PeerInfo {
  /** True when the client sent a certificate that chains to the cluster CA. */
  authorized: boolean;
  /** OpenSSL's reason when it does not (e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE). */
  authorizationError?: string;
  /** Subject CN of the client certificate, undefined when none was sent. */
  commonName?: string;
  /** False when the client sent no certificate at all. */
  presented: boolean;
}

/**
 * Undefined when the client is the API server; otherwise the StatusError to
 * answer with: 401 without a certificate valid for the cluster CA, 403 for a
 * valid certificate of someone else.
 */
export function checkClient(p: PeerInfo): StatusError | undefined {
  if (!p.presented) return new StatusError(401, 'Unauthorized', 'Unauthorized: a client certificate signed by the cluster CA is required');
  if (!p.authorized) {
    return new StatusError(401, 'Unauthorized', `Unauthorized: the client certificate is not valid for the cluster CA (${p.authorizationError ?? 'unverified'})`);
  }
  if (p.commonName !== API_SERVER_CLIENT_CN) {
    return new StatusError(403, 'Forbidden', `Forbidden: user "${p.commonName ?? ''}" may not use the agent API; only ${API_SERVER_CLIENT_CN} may`);
  }
  return undefined;
}
