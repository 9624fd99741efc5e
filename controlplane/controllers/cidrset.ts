/**
 * An IPv4 CIDR carved into equal subnets (the node IPAM's CidrSet): the cluster
 * CIDR 10.244.0.0/16 gives 256 /24s. Allocation takes the lowest free subnet;
 * `occupy` marks subnets already in use (rebuilt from the nodes at start), and
 * `release` frees one. Pure bookkeeping, no I/O.
 */

function parseIPv4(s: string): number {
  const parts = s.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new Error(`invalid IPv4 address ${s}`);
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

function formatIPv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

export function parseCidr(cidr: string): { base: number; prefix: number } {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr.trim());
  if (!m || Number(m[2]) > 32) throw new Error(`invalid IPv4 CIDR ${cidr}`);
  const prefix = Number(m[2]);
  const size = 2 ** (32 - prefix);
  // Normalize host bits away (10.244.1.7/16 -> 10.244.0.0/16).
  const base = Math.floor(parseIPv4(m[1]) / size) * size;
  return { base, prefix };
}

export class CidrSet {
  private readonly base: number;
  private readonly clusterPrefix: number;
  private readonly count: number;
  private readonly used = new Set<number>();

  constructor(
    readonly clusterCidr: string,
    readonly subnetPrefix = 24,
  ) {
    const { base, prefix } = parseCidr(clusterCidr);
    if (subnetPrefix < prefix) throw new Error(`subnet /${subnetPrefix} is larger than the cluster CIDR ${clusterCidr}`);
    this.base = base;
    this.clusterPrefix = prefix;
    this.count = 2 ** (subnetPrefix - prefix);
  }

  /** Subnets in the set. */
  get size(): number {
    return this.count;
  }

  get allocated(): number {
    return this.used.size;
  }

  private indexOf(cidr: string): number | undefined {
    let parsed;
    try {
      parsed = parseCidr(cidr);
    } catch {
      return undefined;
    }
    if (parsed.prefix !== this.subnetPrefix) return undefined;
    const i = (parsed.base - this.base) / 2 ** (32 - this.subnetPrefix);
    return Number.isInteger(i) && i >= 0 && i < this.count ? i : undefined;
  }

  private cidrAt(i: number): string {
    return `${formatIPv4(this.base + i * 2 ** (32 - this.subnetPrefix))}/${this.subnetPrefix}`;
  }

  /** The lowest free subnet, now taken; undefined when the set is full. */
  allocateNext(): string | undefined {
    for (let i = 0; i < this.count; i++) {
      if (!this.used.has(i)) {
        this.used.add(i);
        return this.cidrAt(i);
      }
    }
    return undefined;
  }

  /** Marks `cidr` taken. False when it is not one of this set's subnets. */
  occupy(cidr: string): boolean {
    const i = this.indexOf(cidr);
    if (i === undefined) return false;
    this.used.add(i);
    return true;
  }

  isAllocated(cidr: string): boolean {
    const i = this.indexOf(cidr);
    return i !== undefined && this.used.has(i);
  }

  /** Frees `cidr` (no-op when not allocated or foreign). */
  release(cidr: string): void {
    const i = this.indexOf(cidr);
    if (i !== undefined) this.used.delete(i);
  }

  toString(): string {
    return `${formatIPv4(this.base)}/${this.clusterPrefix} in /${this.subnetPrefix}s`;
  }
}
