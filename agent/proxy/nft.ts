/**
 * The I/O of the nftables mode: `nft -f` of a payload (one atomic transaction),
 * the affinity map's entries, and the table's removal. Everything here names
 * only Skiff's own table (`ip skiff`).
 *
 * `netns` runs every command inside a network namespace (`ip netns exec`): the
 * benchmark and tests use it so the host's ruleset is never loaded with
 * thousands of services.
 */
import { execRunner, type RunResult, type Runner } from '../../common/iptables.js';
import { FAMILY, TABLE } from './nftables.js';

export class NftError extends Error {
  readonly code = 'NftFailed';
  constructor(
    readonly command: string,
    readonly result: RunResult,
  ) {
    super(`${command} failed (exit ${result.code}): ${(result.stderr.trim() || result.stdout.trim() || 'no output').slice(0, 2000)}`);
    this.name = 'NftError';
  }
}

/** One remembered ClientIP-affinity choice: client -> destination (ip, protocol, port) -> endpoint. */
export interface AffinityEntry {
  client: string;
  dst: string;
  protocol: string;
  port: number;
  endpoint: string;
  endpointPort: number;
}

export class Nft {
  constructor(
    private readonly runner: Runner = execRunner,
    readonly netns?: string,
  ) {}

  private cmd(args: string[]): [string, string[]] {
    return this.netns ? ['ip', ['netns', 'exec', this.netns, 'nft', ...args]] : ['nft', args];
  }

  private async run(args: string[], input?: string): Promise<RunResult> {
    const [c, a] = this.cmd(args);
    return this.runner.run(c, a, input);
  }

  /** True when the `nft` binary runs (Debian package `nftables`). */
  async available(): Promise<boolean> {
    try {
      return (await this.run(['--version'])).code === 0;
    } catch {
      return false;
    }
  }

  /** Applies a payload as one transaction; nothing of it is applied when it fails. */
  async apply(payload: string): Promise<void> {
    if (!payload) return;
    const r = await this.run(['-f', '/dev/stdin'], payload);
    if (r.code !== 0) throw new NftError('nft -f', r);
  }

  /** True when our table exists. */
  async hasTable(): Promise<boolean> {
    const r = await this.run(['list', 'table', FAMILY, TABLE]);
    return r.code === 0;
  }

  /** `nft list table` text (tests, debugging). */
  async listTable(): Promise<string> {
    const r = await this.run(['list', 'table', FAMILY, TABLE]);
    if (r.code !== 0) throw new NftError(`nft list table ${FAMILY} ${TABLE}`, r);
    return r.stdout;
  }

  /** The entries of the affinity map; [] when the table or map is missing. */
  async affinityEntries(): Promise<AffinityEntry[]> {
    const r = await this.run(['-j', 'list', 'map', FAMILY, TABLE, 'affinity']);
    if (r.code !== 0) return [];
    return parseAffinityJson(r.stdout);
  }

  /** Deletes affinity entries (keys only); entries that expired meanwhile make nft fail, so they go one transaction each on failure. */
  async deleteAffinity(entries: AffinityEntry[]): Promise<void> {
    if (!entries.length) return;
    const key = (e: AffinityEntry): string => `${e.client} . ${e.dst} . ${e.protocol} . ${e.port}`;
    const all = `delete element ${FAMILY} ${TABLE} affinity { ${entries.map(key).join(', ')} }\n`;
    if ((await this.run(['-f', '/dev/stdin'], all)).code === 0) return;
    for (const e of entries) await this.run(['-f', '/dev/stdin'], `delete element ${FAMILY} ${TABLE} affinity { ${key(e)} }\n`);
  }

  /** Removes our table (idempotent); returns true when there was one. */
  async deleteTable(): Promise<boolean> {
    const r = await this.run(['-f', '/dev/stdin'], `add table ${FAMILY} ${TABLE}\ndelete table ${FAMILY} ${TABLE}\n`);
    if (r.code !== 0) throw new NftError(`nft delete table ${FAMILY} ${TABLE}`, r);
    return true;
  }
}

/** Parses `nft -j list map ... affinity` (pure). */
export function parseAffinityJson(text: string): AffinityEntry[] {
  const out: AffinityEntry[] = [];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let doc: any;
  try {
    doc = JSON.parse(text);
  } catch {
    return out;
  }
  for (const item of doc?.nftables ?? []) {
    for (const pair of item?.map?.elem ?? []) {
      if (!Array.isArray(pair) || pair.length !== 2) continue;
      const k = pair[0]?.elem?.val?.concat ?? pair[0]?.concat;
      const v = pair[1]?.concat;
      if (!Array.isArray(k) || k.length !== 4 || !Array.isArray(v) || v.length !== 2) continue;
      out.push({ client: String(k[0]), dst: String(k[1]), protocol: String(k[2]), port: Number(k[3]), endpoint: String(v[0]), endpointPort: Number(v[1]) });
    }
  }
  return out;
}
