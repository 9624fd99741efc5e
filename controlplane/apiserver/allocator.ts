/**
 * ClusterIP and NodePort allocation for Services, without duplicates.
 *
 * State is an in-memory set rebuilt from the stored Services at start-up; the API
 * server is the only writer of Services, and allocation happens before the store
 * write, with `release` on a failed write. Dynamic ClusterIPs come from above the
 * static band (Kubernetes' lower band: min(max(16, size/16), 256) addresses), so
 * well-known addresses like the DNS service's 10.96.0.10 stay free for explicit use.
 */
import { invalid } from '../../common/errors.js';
import type { Obj } from './objects.js';

export function parseCidr(cidr: string): { base: number; size: number } {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  if (!m) throw new Error(`invalid CIDR ${cidr}`);
  const octets = m.slice(1, 5).map(Number);
  const bits = Number(m[5]);
  if (octets.some((o) => o > 255) || bits < 8 || bits > 30) throw new Error(`invalid CIDR ${cidr}`);
  const ip = octets.reduce((a, o) => a * 256 + o, 0);
  const size = 2 ** (32 - bits);
  return { base: ip - (ip % size), size };
}

export function ipToInt(ip: string): number | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  if (!m) return undefined;
  const o = m.slice(1).map(Number);
  if (o.some((x) => x > 255)) return undefined;
  return o.reduce((a, x) => a * 256 + x, 0);
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

const NODE_PORT_TYPES = new Set(['NodePort', 'LoadBalancer']);

export class ServiceAllocator {
  private readonly ips = new Set<number>();
  private readonly ports = new Set<number>();
  private readonly base: number;
  private readonly size: number;
  private readonly lowBand: number;
  private ipCursor = 0;
  private portCursor = 0;

  constructor(
    serviceCidr: string,
    private readonly portMin = 30000,
    private readonly portMax = 32767,
  ) {
    ({ base: this.base, size: this.size } = parseCidr(serviceCidr));
    this.lowBand = Math.min(Math.max(16, Math.floor(this.size / 16)), 256);
  }

  /** Marks what existing services hold. */
  load(services: Obj[]): void {
    for (const s of services) {
      const ip = ipToInt(s.spec?.clusterIP ?? '');
      if (ip !== undefined) this.ips.add(ip);
      for (const p of s.spec?.ports ?? []) if (p.nodePort) this.ports.add(p.nodePort);
    }
  }

  /**
   * Fills spec.clusterIP(s) and nodePorts of a new service, reserving them.
   * Returns the release function to call if the store write fails.
   */
  allocate(svc: Obj): () => void {
    const taken: { ips: number[]; ports: number[] } = { ips: [], ports: [] };
    const release = (): void => {
      taken.ips.forEach((i) => this.ips.delete(i));
      taken.ports.forEach((p) => this.ports.delete(p));
    };
    try {
      this.allocateIp(svc, taken.ips);
      this.allocatePorts(svc, undefined, taken.ports);
    } catch (e) {
      release();
      throw e;
    }
    return release;
  }

  /** Handles an update: nodePorts added or dropped with the type; clusterIP is immutable. */
  update(svc: Obj, old: Obj): () => void {
    const taken: number[] = [];
    const release = (): void => taken.forEach((p) => this.ports.delete(p));
    try {
      this.allocatePorts(svc, old, taken);
    } catch (e) {
      release();
      throw e;
    }
    return release;
  }

  /** After an update is stored: free the node ports the old version held and the new one does not. */
  commitUpdate(svc: Obj, old: Obj): void {
    const now = new Set<number>((svc.spec?.ports ?? []).map((p: Obj) => p.nodePort).filter(Boolean));
    for (const p of old.spec?.ports ?? []) if (p.nodePort && !now.has(p.nodePort)) this.ports.delete(p.nodePort);
  }

  release(svc: Obj): void {
    const ip = ipToInt(svc.spec?.clusterIP ?? '');
    if (ip !== undefined) this.ips.delete(ip);
    for (const p of svc.spec?.ports ?? []) if (p.nodePort) this.ports.delete(p.nodePort);
  }

  private fail(name: string, field: string, value: string, msg: string): never {
    throw invalid('Service', name, [{ reason: 'FieldValueInvalid', field, message: `Invalid value: ${value}: ${msg}` }]);
  }

  private allocateIp(svc: Obj, taken: number[]): void {
    const spec = (svc.spec ??= {});
    const name = svc.metadata?.name ?? '';
    if (spec.type === 'ExternalName') return;
    if (spec.clusterIP === 'None') {
      spec.clusterIPs = ['None'];
      return;
    }
    const want: string | undefined = spec.clusterIP || spec.clusterIPs?.[0] || undefined;
    if (want) {
      const n = ipToInt(want);
      const list = `[]string{"${want}"}`;
      if (n === undefined) this.fail(name, 'spec.clusterIPs', list, 'must be a valid IP address');
      if (n <= this.base || n >= this.base + this.size - 1) {
        this.fail(name, 'spec.clusterIPs', list, `failed to allocate IP ${want}: provided IP is not in the valid range. The range of valid IPs is ${intToIp(this.base)}/${32 - Math.log2(this.size)}`);
      }
      if (this.ips.has(n)) this.fail(name, 'spec.clusterIPs', list, `failed to allocate IP ${want}: provided IP is already allocated`);
      this.ips.add(n);
      taken.push(n);
    } else {
      const span = this.size - 2 - this.lowBand;
      let found: number | undefined;
      for (let i = 0; i < span; i++) {
        const n = this.base + 1 + this.lowBand + ((this.ipCursor + i) % span);
        if (!this.ips.has(n)) {
          found = n;
          this.ipCursor = (this.ipCursor + i + 1) % span;
          break;
        }
      }
      if (found === undefined) throw invalid('Service', name, [{ reason: 'FieldValueInvalid', field: 'spec.clusterIPs', message: 'Internal error: range is full' }]);
      this.ips.add(found);
      taken.push(found);
      spec.clusterIP = intToIp(found);
    }
    spec.clusterIPs = [spec.clusterIP];
  }

  private allocatePorts(svc: Obj, old: Obj | undefined, taken: number[]): void {
    const spec = svc.spec ?? {};
    const ports: Obj[] = spec.ports ?? [];
    const name = svc.metadata?.name ?? '';
    const oldPorts = new Set<number>((old?.spec?.ports ?? []).map((p: Obj) => p.nodePort).filter(Boolean));
    if (!NODE_PORT_TYPES.has(spec.type)) {
      for (const p of ports) delete p.nodePort;
      return;
    }
    const seen = new Set<number>();
    ports.forEach((p, i) => {
      if (!p.nodePort) return;
      if (p.nodePort < this.portMin || p.nodePort > this.portMax) {
        this.fail(name, `spec.ports[${i}].nodePort`, String(p.nodePort), `provided port is not in the valid range. The range of valid ports is ${this.portMin}-${this.portMax}`);
      }
      if (seen.has(p.nodePort)) this.fail(name, `spec.ports[${i}].nodePort`, String(p.nodePort), 'duplicate nodePort');
      seen.add(p.nodePort);
      if (oldPorts.has(p.nodePort)) return;
      if (this.ports.has(p.nodePort)) this.fail(name, `spec.ports[${i}].nodePort`, String(p.nodePort), 'provided port is already allocated');
      this.ports.add(p.nodePort);
      taken.push(p.nodePort);
    });
    const span = this.portMax - this.portMin + 1;
    ports.forEach((p) => {
      if (p.nodePort) return;
      for (let i = 0; i < span; i++) {
        const n = this.portMin + ((this.portCursor + i) % span);
        if (!this.ports.has(n)) {
          this.portCursor = (this.portCursor + i + 1) % span;
          this.ports.add(n);
          taken.push(n);
          p.nodePort = n;
          return;
        }
      }
      throw invalid('Service', name, [{ reason: 'FieldValueInvalid', field: 'spec.ports', message: 'Internal error: node port range is full' }]);
    });
  }
}
