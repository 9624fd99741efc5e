/**
 * Bearer-token authentication and a small authorizer.
 *
 * Tokens live in `<dataDir>/tokens.json`, created on first start: the admin token
 * (group system:masters, everything allowed) and the node-join token (group
 * system:nodes, what an agent needs). Tokens are compared in constant time.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface UserInfo {
  name: string;
  groups: string[];
}

export interface Tokens {
  admin: string;
  node: string;
}

export function ensureTokens(dataDir: string): Tokens {
  const file = join(dataDir, 'tokens.json');
  if (existsSync(file)) {
    const t = JSON.parse(readFileSync(file, 'utf8')) as Partial<Tokens>;
    if (t.admin && t.node) return { admin: t.admin, node: t.node };
  }
  const t: Tokens = { admin: randomBytes(24).toString('hex'), node: `K10${randomBytes(24).toString('hex')}` };
  writeFileSync(file, JSON.stringify(t, null, 2), { mode: 0o600 });
  return t;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class Authenticator {
  constructor(private readonly tokens: Tokens) {}

  /** The user for an Authorization header, or undefined when it proves nothing. */
  authenticate(header: string | undefined): UserInfo | undefined {
    if (!header) return undefined;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) return undefined;
    const token = m[1];
    if (same(token, this.tokens.admin)) return { name: 'admin', groups: ['system:masters', 'system:authenticated'] };
    if (same(token, this.tokens.node)) return { name: 'system:node', groups: ['system:nodes', 'system:authenticated'] };
    return undefined;
  }
}

export interface Attributes {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

const NODE_READ = new Set(['get', 'list', 'watch']);
const NODE_WRITE: Record<string, true> = {
  nodes: true,
  'nodes/status': true,
  'pods/status': true,
  events: true,
  leases: true,
};

/**
 * The kube-dns EndpointSlices agents publish for their node-local DNS server
 * (agent/dns/publisher.ts): `kube-system/kube-dns-<node>`. Tokens do not say which
 * node is asking, so any node may create slices in kube-system (a create names the
 * object in its body only) and update, patch or delete those named `kube-dns-*`.
 */
function isNodeDnsSlice(a: Attributes): boolean {
  if (a.group !== 'discovery.k8s.io' || a.resource !== 'endpointslices' || a.subresource || a.namespace !== 'kube-system') return false;
  if (a.verb === 'create') return true;
  return ['update', 'patch', 'delete'].includes(a.verb) && (a.name ?? '').startsWith('kube-dns-');
}

/**
 * Returns undefined when allowed, otherwise the reason for a 403.
 * Nodes may read everything, write node and pod status, events and leases,
 * create/delete pods (mirror pods and finishing graceful deletes), and manage
 * their kube-dns EndpointSlices.
 */
export function authorize(user: UserInfo, a: Attributes): string | undefined {
  if (user.groups.includes('system:masters')) return undefined;
  if (user.groups.includes('system:nodes')) {
    const res = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
    if (NODE_READ.has(a.verb)) return undefined;
    if (NODE_WRITE[res]) return undefined;
    if (res === 'pods' && (a.verb === 'create' || a.verb === 'delete')) return undefined;
    if (isNodeDnsSlice(a)) return undefined;
  }
  const scope = a.namespace ? ` in the namespace "${a.namespace}"` : ' at the cluster scope';
  const what = a.group ? `${a.resource}.${a.group}` : a.resource;
  const sub = a.subresource ? `/${a.subresource}` : '';
  return `${what}${sub}${a.name ? ` "${a.name}"` : ''} is forbidden: User "${user.name}" cannot ${a.verb} resource "${a.resource}${sub}" in API group "${a.group}"${scope}`;
}
