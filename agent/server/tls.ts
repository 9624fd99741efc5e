/**
 * The agent's serving certificate: self-signed (ECDSA P-256, openssl CLI, in the
 * style of controlplane/apiserver/pki.ts), made once under `<dataDir>/pki/` and
 * kept across restarts so its fingerprint stays stable. The API server does not
 * trust it through a CA: it pins the SHA-256 fingerprint the agent publishes on
 * its Node (annotation SERVING_CERT_ANNOTATION).
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { openssl } from '../../common/openssl.js';

/** Node annotation carrying the agent's serving certificate fingerprint (64 lowercase hex digits). */
export const SERVING_CERT_ANNOTATION = 'skiff.io/serving-cert-sha256';

export interface ServingCert {
  cert: string;
  key: string;
  /** SHA-256 of the DER certificate, lowercase hex without separators. */
  fingerprint: string;
  certPath: string;
  keyPath: string;
}

/** `AB:CD:...`, `abcd...` or `sha256:abcd...` -> `abcd...`; undefined when it is not a SHA-256 fingerprint. */
export function normalizeFingerprint(s: string | undefined): string | undefined {
  if (!s) return undefined;
  const hex = s.trim().replace(/^sha256:/i, '').replace(/:/g, '').toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
}

/** The SHA-256 fingerprint of a PEM certificate, normalized. */
export function certFingerprint(pem: string): string {
  return normalizeFingerprint(new X509Certificate(pem).fingerprint256)!;
}

/** subjectAltName entries: the given hosts plus localhost, 127.0.0.1 and this host's name. */
export function agentSans(hosts: string[]): string[] {
  const names = new Set(['localhost', '127.0.0.1', hostname(), ...hosts]);
  return [...names].filter((h) => h && h !== '0.0.0.0' && h !== '::').map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`));
}

/**
 * Returns the serving certificate, generating it on first use. Idempotent: an
 * existing key and certificate are kept as they are (the fingerprint must not
 * change behind the Node's back). New files are written under temporary names and
 * renamed, so a crash never leaves a key without its certificate.
 */
export async function ensureServingCert(dataDir: string, hosts: string[] = []): Promise<ServingCert> {
  const dir = join(dataDir, 'pki');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certPath = join(dir, 'kubelet.crt');
  const keyPath = join(dir, 'kubelet.key');
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    const tmpKey = `kubelet.key.${process.pid}.tmp`;
    const tmpCrt = `kubelet.crt.${process.pid}.tmp`;
    try {
      await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', tmpKey], dir);
      await openssl([
        'req', '-x509', '-new', '-key', tmpKey, '-sha256', '-days', '3650',
        '-subj', `/CN=${hostname()}@skiff-agent`,
        '-addext', `subjectAltName=${agentSans(hosts).join(',')}`,
        '-addext', 'extendedKeyUsage=serverAuth',
        '-addext', 'keyUsage=digitalSignature,keyEncipherment',
        '-out', tmpCrt,
      ], dir);
      renameSync(join(dir, tmpKey), keyPath);
      renameSync(join(dir, tmpCrt), certPath);
    } finally {
      rmSync(join(dir, tmpKey), { force: true });
      rmSync(join(dir, tmpCrt), { force: true });
    }
  }
  const cert = readFileSync(certPath, 'utf8');
  return { cert, key: readFileSync(keyPath, 'utf8'), fingerprint: certFingerprint(cert), certPath, keyPath };
}
