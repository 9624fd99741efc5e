/**
 * A minimal client of the lab's API server from the host, with the lab's
 * kubeconfig (its CA and bearer token): enough for `lab up` to wait for Ready
 * nodes and `lab status` to list them without kubectl. Certificate checks are
 * real: a server certificate without 192.168.56.10 in its SANs fails here too.
 */
import { request } from 'node:https';
import { readFile } from 'node:fs/promises';
import yaml from 'js-yaml';
import { LAB_KUBECONFIG } from './plan.js';

export interface ApiCreds {
  server: string;
  ca: string;
  token: string;
}

/** Server, CA and token from kubeconfig text (first cluster and user). Pure. */
export function credsFromKubeconfig(text: string): ApiCreds {
  const doc = yaml.load(text) as {
    clusters?: { cluster?: { server?: string; 'certificate-authority-data'?: string } }[];
    users?: { user?: { token?: string } }[];
  };
  const c = doc?.clusters?.[0]?.cluster;
  const token = doc?.users?.[0]?.user?.token;
  if (!c?.server || !c['certificate-authority-data'] || !token) throw new Error('kubeconfig lacks server, certificate-authority-data or token');
  return { server: c.server, ca: Buffer.from(c['certificate-authority-data'], 'base64').toString(), token };
}

export async function labCreds(path = LAB_KUBECONFIG): Promise<ApiCreds> {
  return credsFromKubeconfig(await readFile(path, 'utf8'));
}

/** GET `path` as JSON; rejects on a transport error, a timeout or a non-2xx answer. */
export function apiGet<T>(creds: ApiCreds, path: string, timeoutMs = 5000): Promise<T> {
  const url = new URL(path, creds.server);
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: creds.ca, headers: { authorization: `Bearer ${creds.token}`, accept: 'application/json' }, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        if ((res.statusCode ?? 0) >= 300) return reject(new Error(`GET ${path}: ${res.statusCode} ${body.slice(0, 200)}`));
        try {
          resolve(JSON.parse(body) as T);
        } catch (e) {
          reject(e as Error);
        }
      });
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer in ${timeoutMs} ms`)));
    req.end();
  });
}

export interface NodeSummary {
  name: string;
  ready: 'True' | 'False' | 'Unknown';
  ip: string;
  podCIDR: string;
  version: string;
}

interface NodeList {
  items: {
    metadata: { name: string };
    spec?: { podCIDR?: string };
    status?: { conditions?: { type: string; status: string }[]; addresses?: { type: string; address: string }[]; nodeInfo?: { kubeletVersion?: string } };
  }[];
}

/** Node names, readiness, InternalIP and podCIDR, sorted by name. */
export async function listNodes(creds: ApiCreds): Promise<NodeSummary[]> {
  const list = await apiGet<NodeList>(creds, '/api/v1/nodes');
  return list.items
    .map((n) => ({
      name: n.metadata.name,
      ready: (n.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? 'Unknown') as NodeSummary['ready'],
      ip: n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '',
      podCIDR: n.spec?.podCIDR ?? '',
      version: n.status?.nodeInfo?.kubeletVersion ?? '',
    }))
    .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
}
