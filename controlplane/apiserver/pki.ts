/**
 * The cluster CA and the API server's serving certificate, generated once under
 * `<dataDir>/pki` with the openssl CLI (no hand-rolled ASN.1). Idempotent: existing
 * files are kept, so kubeconfigs written earlier stay valid across restarts; a
 * serving certificate missing a SAN that is now needed is re-issued from the same CA.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { openssl } from '../../common/openssl.js';

export interface Pki {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  dir: string;
}

/** Subject alternative names the serving certificate must carry. */
export function servingSans(hosts: string[]): string[] {
  const names = new Set(['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', '127.0.0.1', ...hosts]);
  return [...names].filter((h) => h && h !== '0.0.0.0' && h !== '::').map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`));
}

export async function ensurePki(dataDir: string, hosts: string[]): Promise<Pki> {
  const dir = join(dataDir, 'pki');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caKey = join(dir, 'ca.key');
  const caCert = join(dir, 'ca.crt');
  if (!existsSync(caKey) || !existsSync(caCert)) {
    await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key'], dir);
    await openssl(['req', '-x509', '-new', '-key', 'ca.key', '-sha256', '-days', '3650', '-subj', '/CN=skiff-ca', '-out', 'ca.crt'], dir);
  }
  const sans = servingSans(hosts);
  const sanFile = join(dir, 'serving.sans');
  const wanted = sans.join(',');
  const srvKey = join(dir, 'serving.key');
  const srvCert = join(dir, 'serving.crt');
  const have = existsSync(sanFile) ? readFileSync(sanFile, 'utf8') : '';
  const covered = have && wanted.split(',').every((s) => have.split(',').includes(s));
  if (!covered || !existsSync(srvCert) || !existsSync(srvKey)) {
    const all = [...new Set([...(have ? have.split(',') : []), ...sans])];
    const ext = join(dir, 'serving.ext');
    writeFileSync(ext, `subjectAltName=${all.join(',')}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n`);
    await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'serving.key'], dir);
    await openssl(['req', '-new', '-key', 'serving.key', '-subj', '/CN=kube-apiserver', '-out', 'serving.csr'], dir);
    await openssl(['x509', '-req', '-in', 'serving.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '3650', '-sha256', '-extfile', 'serving.ext', '-out', 'serving.crt'], dir);
    rmSync(join(dir, 'serving.csr'), { force: true });
    writeFileSync(sanFile, all.join(','));
  }
  return {
    dir,
    caCert: readFileSync(caCert, 'utf8'),
    caKey: readFileSync(caKey, 'utf8'),
    servingCert: readFileSync(srvCert, 'utf8'),
    servingKey: readFileSync(srvKey, 'utf8'),
  };
}

/** CN of the client certificate the API server presents to agents (agent/server/auth.ts checks it). */
export const KUBELET_CLIENT_CN = 'skiff-apiserver-kubelet-client';

/**
 * The API server's client certificate for agents, `<dir>/kubelet-client.{crt,key}`,
 * signed by the cluster CA with clientAuth usage. Idempotent: kept once made.
 */
export async function ensureKubeletClientCert(pki: Pki): Promise<{ cert: string; key: string }> {
  const crt = join(pki.dir, 'kubelet-client.crt');
  const key = join(pki.dir, 'kubelet-client.key');
  if (!existsSync(crt) || !existsSync(key)) {
    writeFileSync(join(pki.dir, 'kubelet-client.ext'), 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n');
    await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'kubelet-client.key'], pki.dir);
    await openssl(['req', '-new', '-key', 'kubelet-client.key', '-subj', `/CN=${KUBELET_CLIENT_CN}`, '-out', 'kubelet-client.csr'], pki.dir);
    await openssl(['x509', '-req', '-in', 'kubelet-client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '3650', '-sha256', '-extfile', 'kubelet-client.ext', '-out', 'kubelet-client.crt'], pki.dir);
    rmSync(join(pki.dir, 'kubelet-client.csr'), { force: true });
  }
  return { cert: readFileSync(crt, 'utf8'), key: readFileSync(key, 'utf8') };
}
