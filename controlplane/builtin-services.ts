/**
 * The two Services every cluster has, created by the server itself (as
 * kube-apiserver creates `kubernetes` and kubeadm the `kube-dns` addon):
 *
 * - `default/kubernetes`: ClusterIP = the first address of the service CIDR
 *   (10.96.0.1), port `https` 443 -> the API server's port, no selector. Its
 *   Endpoints and EndpointSlice `kubernetes` list the address pods reach the API
 *   server on, kept up to date by `ApiEndpointReconciler` (kube-apiserver's
 *   endpoint reconciler): the Endpoints carry `endpointslice.kubernetes.io/skip-mirror`,
 *   the slice is labelled with the service name only, as kube-apiserver does.
 * - `kube-system/kube-dns`: ClusterIP = the tenth address (10.96.0.10, what agents
 *   write into pods' resolv.conf), ports `dns` 53/UDP and `dns-tcp` 53/TCP ->
 *   10053, no selector, `internalTrafficPolicy: Local`. Its endpoints are published
 *   by the agents, one slice per node (agent/dns/publisher.ts): each node's pods
 *   are sent to the DNS server inside their own node's agent.
 *
 * Both are created before the API serves its first request, so nobody else can
 * claim their addresses (dynamic allocation never hands out the low band anyway:
 * allocator.ts), and re-created by the reconciler if deleted. Existing objects are
 * left as they are, except the `kubernetes` ports, which follow the server's port.
 */
import { isIPv4 } from 'node:net';
import { StatusError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { intToIp, parseCidr } from './apiserver/allocator.js';
import type { Obj } from './apiserver/objects.js';
import type { Registry } from './apiserver/registry.js';
import { findResource, type ResourceDef } from './apiserver/resources.js';

const SERVICES = findResource('', 'v1', 'services')!;
const ENDPOINTS = findResource('', 'v1', 'endpoints')!;
const SLICES = findResource('discovery.k8s.io', 'v1', 'endpointslices')!;

export const DNS_TARGET_PORT = 10053;

export function kubernetesServiceIP(serviceCidr: string): string {
  return intToIp(parseCidr(serviceCidr).base + 1);
}

export function dnsServiceIP(serviceCidr: string): string {
  return intToIp(parseCidr(serviceCidr).base + 10);
}

export function kubernetesService(ip: string, apiPort: number): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { component: 'apiserver', provider: 'kubernetes' } },
    spec: { type: 'ClusterIP', clusterIP: ip, clusterIPs: [ip], sessionAffinity: 'None', ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: apiPort }] },
  };
}

export function kubeDnsService(ip: string): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'kube-dns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns', 'kubernetes.io/cluster-service': 'true', 'kubernetes.io/name': 'KubeDNS' } },
    spec: {
      type: 'ClusterIP',
      clusterIP: ip,
      clusterIPs: [ip],
      internalTrafficPolicy: 'Local',
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: DNS_TARGET_PORT },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: DNS_TARGET_PORT },
      ],
    },
  };
}

export function kubernetesEndpoints(address: string, port: number): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
    subsets: [{ addresses: [{ ip: address }], ports: [{ name: 'https', port, protocol: 'TCP' }] }],
  };
}

export function kubernetesSlice(address: string, port: number): Obj {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes' } },
    addressType: isIPv4(address) ? 'IPv4' : 'IPv6',
    endpoints: [{ addresses: [address], conditions: { ready: true } }],
    ports: [{ name: 'https', port, protocol: 'TCP' }],
  };
}

const isLoopback = (ip: string): boolean => ip.startsWith('127.') || ip === '::1' || ip === 'localhost';
const isWildcard = (ip: string): boolean => ['0.0.0.0', '::', ''].includes(ip);

/**
 * The address the `kubernetes` Service's endpoints list, chosen as kube-apiserver
 * defaults --advertise-address: the advertise address unless it is loopback, the
 * bind address unless it is a wildcard or loopback, else the host's address (the
 * default route's). Undefined when the server is reachable on loopback only:
 * pods could not reach it, and the API rejects loopback endpoints.
 */
export function apiEndpointAddress(o: { advertiseAddress?: string; bindAddress: string; hostIP?: string }): string | undefined {
  if (o.advertiseAddress && !isLoopback(o.advertiseAddress) && !isWildcard(o.advertiseAddress)) return o.advertiseAddress;
  if (!isWildcard(o.bindAddress)) return isLoopback(o.bindAddress) ? undefined : o.bindAddress;
  return o.hostIP && !isLoopback(o.hostIP) ? o.hostIP : undefined;
}

const notFound = (e: unknown): boolean => e instanceof StatusError && e.code === 404;

/** `o` as stored, or undefined. */
async function read(reg: Registry, r: ResourceDef, ns: string, name: string): Promise<Obj | undefined> {
  try {
    return await reg.get(r, ns, name);
  } catch (e) {
    if (notFound(e)) return undefined;
    throw e;
  }
}

/**
 * Creates `want` when missing; when present and `differs(cur)`, replaces the
 * fields `patch` names. Create races (409) are left to the next round.
 */
async function ensure(reg: Registry, r: ResourceDef, want: Obj, differs: (cur: Obj) => boolean, patch: (cur: Obj) => Obj): Promise<'created' | 'updated' | 'unchanged'> {
  const { namespace, name } = want.metadata;
  const cur = await read(reg, r, namespace, name);
  if (!cur) {
    try {
      await reg.create(r, namespace, want);
      return 'created';
    } catch (e) {
      if (e instanceof StatusError && e.code === 409) return 'unchanged';
      throw e;
    }
  }
  if (!differs(cur)) return 'unchanged';
  await reg.update(r, namespace, name, patch(cur));
  return 'updated';
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

export interface BuiltinOptions {
  serviceCidr: string;
  /** The port the API server listens on (the `kubernetes` targetPort and endpoint port). */
  apiPort: number;
  /** From apiEndpointAddress; undefined: no endpoints are written. */
  endpointAddress?: string;
}

/**
 * One reconcile pass: both Services, then the `kubernetes` Endpoints and
 * EndpointSlice. Idempotent. Never throws: an object that cannot be written (its
 * address held by a user's service in an older store, say) is reported in the
 * result and logged once per distinct failure, and the others still go ahead.
 */
export async function reconcileBuiltins(reg: Registry, o: BuiltinOptions, log: Logger, lastErrors = new Map<string, string>()): Promise<Record<string, string>> {
  const k8s = kubernetesService(kubernetesServiceIP(o.serviceCidr), o.apiPort);
  const dns = kubeDnsService(dnsServiceIP(o.serviceCidr));
  const steps: [string, () => Promise<string>][] = [
    ['kubernetes', () => ensure(reg, SERVICES, k8s, (cur) => !same(cur.spec?.ports, k8s.spec.ports), (cur) => ({ ...cur, spec: { ...cur.spec, ports: k8s.spec.ports } }))],
    ['kube-dns', () => ensure(reg, SERVICES, dns, () => false, (cur) => cur)],
  ];
  if (o.endpointAddress) {
    const ep = kubernetesEndpoints(o.endpointAddress, o.apiPort);
    const sl = kubernetesSlice(o.endpointAddress, o.apiPort);
    steps.push(['endpoints', () => ensure(reg, ENDPOINTS, ep, (cur) => !same(cur.subsets, ep.subsets), (cur) => ({ ...cur, subsets: ep.subsets }))]);
    steps.push([
      'endpointslice',
      () =>
        ensure(
          reg,
          SLICES,
          sl,
          (cur) => !same(cur.endpoints, sl.endpoints) || !same(cur.ports, sl.ports) || cur.addressType !== sl.addressType,
          (cur) => ({ ...cur, addressType: sl.addressType, endpoints: sl.endpoints, ports: sl.ports }),
        ),
    ]);
  }
  const results: Record<string, string> = {};
  for (const [what, step] of steps) {
    try {
      results[what] = await step();
      lastErrors.delete(what);
    } catch (e) {
      const msg = (e as Error).message;
      results[what] = `failed: ${msg}`;
      if (lastErrors.get(what) !== msg) log.warn({ object: what, err: msg }, 'cannot write a built-in service object; retrying');
      lastErrors.set(what, msg);
    }
  }
  const changed = Object.entries(results).filter(([, v]) => v === 'created' || v === 'updated');
  if (changed.length) log.info({ ...Object.fromEntries(changed), address: o.endpointAddress, port: o.apiPort }, 'built-in services reconciled');
  return results;
}

/**
 * Runs reconcileBuiltins now and every `intervalMs` (default 10 s, kube-apiserver's
 * endpoint reconciler period) until stopped: a deleted Service comes back, the
 * endpoints follow the server's address and port.
 */
export class BuiltinServicesReconciler {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private readonly lastErrors = new Map<string, string>();

  constructor(
    private readonly reg: Registry,
    private readonly o: BuiltinOptions,
    private readonly log: Logger,
    private readonly intervalMs = 10_000,
  ) {}

  async start(): Promise<void> {
    if (!this.o.endpointAddress) {
      this.log.info('the API server is reachable on loopback only: the kubernetes Service gets no endpoints (pass --advertise-address or bind a routable address)');
    }
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  tick(): Promise<void> {
    this.running ??= reconcileBuiltins(this.reg, this.o, this.log, this.lastErrors)
      .then(() => undefined)
      .finally(() => (this.running = undefined));
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
