/**
 * The native nftables ruleset (pure): Skiff's own `table ip skiff`, whose chains
 * do not grow with the number of services. Services live in maps (see
 * nft-elements.ts); one change is a handful of element deletions and additions.
 *
 * Chains (fixed, plus one lb chain per endpoint count in use):
 *
 *   nat-prerouting/nat-output (nat, -100)  -> services: mark, then
 *       `ip daddr . meta l4proto . th dport vmap @service-ips`, and for local
 *       destinations `meta l4proto . th dport vmap @service-nodeports`
 *   lb-K / lb-aff-K / np-K / np-aff-K      -> `dnat ... numgen random mod K map @backends-<proto>`
 *   nat-postrouting (nat, 100)             -> masquerading: hairpin mark, then
 *       kube-proxy's pattern: mark 0x4000 unset -> return; clear it; masquerade
 *   filter-input/forward/output (-110)     -> new connections to a destination
 *       without endpoints: reject (ICMP port unreachable) or drop
 *   affinity-prerouting/output (-90)       -> after DNAT: remember the endpoint a
 *       ClientIP-affinity client got, in the dynamic map `affinity`
 *
 * `NftRuleset` keeps the desired elements (indexed by the service that owns
 * them) and what was last applied, and renders either the whole table (full
 * sync) or the element diff of the services changed since (partial sync).
 * Contracts: no I/O; `commit()` only after the payload was applied, `forget()`
 * after a failure (the next payload is then a full one). It names no table but
 * its own.
 */
import { AFFINITY_SET, lbChain, needs, serviceElements, type Element } from './nft-elements.js';
import type { ServicePort } from './model.js';

export const TABLE = 'skiff';
export const FAMILY = 'ip';
const T = `${FAMILY} ${TABLE}`;

export interface NftOptions {
  clusterCIDR: string;
  /** Where NodePorts answer: undefined = every local address (kube-proxy's default); else these and 127.0.0.1. */
  nodePortAddresses?: string[];
}

/** Base chains: [name, type, hook, priority]. */
const BASE: [string, string, string, number][] = [
  ['nat-prerouting', 'nat', 'prerouting', -100],
  ['nat-output', 'nat', 'output', -100],
  ['nat-postrouting', 'nat', 'postrouting', 100],
  ['filter-input', 'filter', 'input', -110],
  ['filter-forward', 'filter', 'forward', -110],
  ['filter-output', 'filter', 'output', -110],
  ['affinity-prerouting', 'filter', 'prerouting', -90],
  ['affinity-output', 'filter', 'output', -90],
];
const REGULAR = ['services', 'mark-for-masquerade', 'masquerading', 'service-check', 'nodeport-check', 'reject-chain', 'affinity-record'];

const SVC3 = 'ipv4_addr . inet_proto . inet_service';
/** The transport protocols a Service port may use, as nft names them. */
export const PROTOCOLS = ['tcp', 'udp', 'sctp'] as const;
const PORT2 = 'inet_proto . inet_service';
/** The maps and sets flushed and refilled on a full sync, in render order. */
export const SETS: [string, string][] = [
  ['service-ips', `type ${SVC3} : verdict`],
  ['service-nodeports', `type ${PORT2} : verdict`],
  // One backends map per transport protocol, its data typed `ip daddr . <proto> dport`:
  // such a data type carries an implicit `meta l4proto <proto>`, so a single map typed
  // `tcp dport` never forwarded UDP (cluster DNS), and one typed `th dport` is read back
  // wrongly by nft 1.0.6 (Debian 12): any later transaction adding a rule that uses it
  // fails with "conflicting protocols specified: tcp vs. th". Each lb chain has one
  // rule per protocol (lbRules).
  ...PROTOCOLS.map((p): [string, string] => [`backends-${p}`, `typeof ip daddr . meta l4proto . th dport . numgen random mod 2 : ip daddr . ${p} dport`]),
  ...PROTOCOLS.map((p): [string, string] => [`nodeport-backends-${p}`, `typeof meta l4proto . th dport . numgen random mod 2 : ip daddr . ${p} dport`]),
  ['no-endpoint-services', `type ${SVC3} : verdict`],
  ['no-endpoint-nodeports', `type ${PORT2} : verdict`],
  ['masq-services', `type ${SVC3}`],
  ['masq-external', `type ${SVC3}`],
  ['masq-nodeports', `type ${PORT2}`],
  ['hairpin', 'type ipv4_addr . ipv4_addr'],
];
/** Remembered endpoints for ClientIP affinity: never flushed by a sync (clients would lose their endpoint). */
export const AFFINITY_MAP = `add map ${T} affinity { type ipv4_addr . ${SVC3} : ipv4_addr . inet_service; flags dynamic,timeout; size 65536; }`;
const MASQ_MARK = '0x4000';
const CHUNK = 1000;

function setDecl(name: string): string {
  const m = AFFINITY_SET.exec(name);
  if (m) return `add set ${T} ${name} { type ${m[1] ? PORT2 : SVC3}; }`;
  const def = SETS.find(([n]) => n === name);
  if (!def) throw new Error(`nftables: unknown set ${name}`);
  return `${def[1].includes(':') ? 'add map' : 'add set'} ${T} ${name} { ${def[1]}; }`;
}

/** The rules of the fixed chains. */
export function staticRules(o: NftOptions): [string, string][] {
  const local = o.nodePortAddresses ? `ip daddr { ${[...new Set([...o.nodePortAddresses, '127.0.0.1'])].join(', ')} }` : 'fib daddr type local';
  const dst = 'ip daddr . meta l4proto . th dport';
  const port = 'meta l4proto . th dport';
  return [
    ['nat-prerouting', 'jump services'],
    ['nat-output', 'jump services'],
    ['nat-postrouting', 'jump masquerading'],
    ['filter-input', 'ct state new jump nodeport-check'],
    ['filter-input', 'ct state new jump service-check'],
    ['filter-forward', 'ct state new jump service-check'],
    ['filter-output', 'ct state new jump service-check'],
    ['affinity-prerouting', 'ct state new ct status dnat jump affinity-record'],
    ['affinity-output', 'ct state new ct status dnat jump affinity-record'],
    ['services', `${dst} @masq-services ip saddr != ${o.clusterCIDR} jump mark-for-masquerade`],
    ['services', `${dst} @masq-external jump mark-for-masquerade`],
    ['services', `${dst} vmap @service-ips`],
    ['services', `${local} ${port} @masq-nodeports jump mark-for-masquerade`],
    ['services', `${local} ${port} vmap @service-nodeports`],
    ['mark-for-masquerade', `meta mark set meta mark | ${MASQ_MARK}`],
    // Hairpin: a pod DNATed to itself must see the reply come from elsewhere.
    ['masquerading', 'ct status dnat ip saddr . ip daddr @hairpin jump mark-for-masquerade'],
    ['masquerading', `meta mark & ${MASQ_MARK} == 0 return`],
    ['masquerading', `meta mark set meta mark ^ ${MASQ_MARK}`],
    ['masquerading', 'masquerade fully-random'],
    ['service-check', `${dst} vmap @no-endpoint-services`],
    ['nodeport-check', `${local} ${port} vmap @no-endpoint-nodeports`],
    ['reject-chain', 'reject'],
  ];
}

/** The rules of an lb chain (`lb-3`, `np-aff-2`, ...). */
export function lbRules(chain: string): string[] {
  const m = /^(lb|np)(-aff)?-(\d+)$/.exec(chain);
  if (!m) throw new Error(`nftables: not an lb chain: ${chain}`);
  const k = Number(m[3]);
  const out: string[] = [];
  // NodePorts on 127.0.0.1 need masquerading: a reply to 127.0.0.1 cannot leave the pod (route_localnet).
  if (m[1] === 'np') out.push('ip saddr 127.0.0.0/8 jump mark-for-masquerade');
  if (m[2]) out.push('meta l4proto { tcp, udp, sctp } dnat ip to ip saddr . ip daddr . meta l4proto . th dport map @affinity');
  const key = m[1] === 'lb' ? 'ip daddr . meta l4proto . th dport' : 'meta l4proto . th dport';
  for (const p of PROTOCOLS) out.push(`meta l4proto ${p} dnat ip to ${key} . numgen random mod ${k} map @${m[1] === 'lb' ? 'backends' : 'nodeport-backends'}-${p}`);
  return out;
}

/** The rules of `affinity-record` for the affinity sets in use: one per set and protocol (ct's port needs the protocol context). */
export function affinityRules(sets: Iterable<string>): string[] {
  const out: string[] = [];
  for (const s of [...sets].sort()) {
    const m = AFFINITY_SET.exec(s)!;
    const match = m[1] ? 'meta l4proto . ct original proto-dst' : 'ct original ip daddr . meta l4proto . ct original proto-dst';
    for (const p of ['tcp', 'udp', 'sctp']) {
      out.push(`meta l4proto ${p} ${match} @${s} update @affinity { ip saddr . ct original ip daddr . meta l4proto . ct original proto-dst timeout ${m[2]}s : ip daddr . th dport }`);
    }
  }
  return out;
}

/** `add element` lines for (key, data) pairs, CHUNK per line (one statement per element costs nft's parser dearly). */
function addLines(set: string, items: [string, string][], out: string[]): void {
  for (let i = 0; i < items.length; i += CHUNK) {
    out.push(`add element ${T} ${set} { ${items.slice(i, i + CHUNK).map(([k, d]) => (d ? `${k} : ${d}` : k)).join(', ')} }`);
  }
}

function deleteLines(set: string, keys: string[], out: string[]): void {
  for (let i = 0; i < keys.length; i += CHUNK) out.push(`delete element ${T} ${set} { ${keys.slice(i, i + CHUNK).join(', ')} }`);
}

const byNatural = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const setOrder = (a: string, b: string): number => {
  const i = SETS.findIndex(([n]) => n === a);
  const j = SETS.findIndex(([n]) => n === b);
  return (i < 0 ? 99 : i) - (j < 0 ? 99 : j) || byNatural(a, b);
};

export type FullMode = 'recreate' | 'flush';

export class NftRuleset {
  /** set -> key -> [owning service, data] (almost always one owner: arrays, not Maps, at 100,000 keys). */
  private owners = new Map<string, Map<string, [string, string][]>>();
  private contrib = new Map<string, Element[]>();
  /** What the kernel has, as far as we know: set -> key -> data. Empty until a full sync is committed. */
  private applied = new Map<string, Map<string, string>>();
  private appliedChains = new Set<string>();
  private appliedAffinity = new Set<string>();
  private dirty = new Map<string, Set<string>>();
  private synced = false;

  constructor(private readonly opts: NftOptions) {}

  /** Replaces the elements of service `svc` (`ns/name`) with those of `ports` ([] removes it). */
  setService(svc: string, ports: ServicePort[]): void {
    const next = serviceElements(ports);
    for (const e of this.contrib.get(svc) ?? []) {
      const keys = this.owners.get(e.set);
      const own = keys?.get(e.key);
      if (own) {
        const rest = own.filter(([o]) => o !== svc);
        if (rest.length) keys!.set(e.key, rest);
        else keys!.delete(e.key);
      }
      this.touch(e.set, e.key);
    }
    for (const e of next) {
      let keys = this.owners.get(e.set);
      if (!keys) this.owners.set(e.set, (keys = new Map()));
      const own = keys.get(e.key);
      if (!own) keys.set(e.key, [[svc, e.data]]);
      else own.push([svc, e.data]);
      this.touch(e.set, e.key);
    }
    if (next.length) this.contrib.set(svc, next);
    else this.contrib.delete(svc);
  }

  private touch(set: string, key: string): void {
    // Before the first full sync everything is rendered anyway.
    if (!this.synced) return;
    let d = this.dirty.get(set);
    if (!d) this.dirty.set(set, (d = new Set()));
    d.add(key);
  }

  /** The data wanted for a key: the smallest owning service wins a conflict (two services claiming one external IP and port). */
  private desired(set: string, key: string): string | undefined {
    const own = this.owners.get(set)?.get(key);
    if (!own || own.length === 0) return undefined;
    if (own.length === 1) return own[0]![1];
    return [...own].sort((a, b) => byNatural(a[0], b[0]))[0]![1];
  }

  /** Every desired set with its sorted (key, data) pairs. */
  private desiredAll(): Map<string, [string, string][]> {
    const out = new Map<string, [string, string][]>();
    for (const set of [...this.owners.keys()].sort(setOrder)) {
      const items: [string, string][] = [];
      for (const key of this.owners.get(set)!.keys()) {
        const d = this.desired(set, key);
        if (d !== undefined) items.push([key, d]);
      }
      if (items.length) out.set(set, items.sort((a, b) => byNatural(a[0], b[0])));
    }
    return out;
  }

  /** True when a partial payload is possible (a full sync was committed and nothing failed since). */
  get canPartial(): boolean {
    return this.synced;
  }

  /** True when some service uses ClientIP affinity (as last applied). */
  get hasAffinity(): boolean {
    return this.appliedAffinity.size > 0;
  }

  /** Services with elements. */
  get serviceCount(): number {
    return this.contrib.size;
  }

  /**
   * The whole table. 'recreate' deletes and rebuilds it (first sync of a process:
   * nothing is known about what the kernel holds); 'flush' empties chains and our
   * maps in place, keeping the affinity map, and removes lb chains and affinity
   * sets that are no longer used. Both are one atomic transaction.
   */
  renderFull(mode: FullMode): { payload: string; commit: () => void } {
    const all = this.desiredAll();
    const { chains, affinity } = needs([...all].map(([s, items]) => [s, items.map(([, d]) => d)]));
    const lb = [...chains].sort(byNatural);
    const aff = [...affinity].sort(byNatural);
    const out: string[] = [`add table ${T}`];
    out.push(mode === 'recreate' ? `delete table ${T}` : `flush table ${T}`);
    if (mode === 'recreate') out.push(`add table ${T}`);
    for (const [name, type, hook, prio] of BASE) out.push(`add chain ${T} ${name} { type ${type} hook ${hook} priority ${prio}; policy accept; }`);
    for (const name of [...REGULAR, ...lb]) out.push(`add chain ${T} ${name}`);
    out.push(AFFINITY_MAP);
    for (const [name] of SETS) out.push(setDecl(name));
    for (const name of aff) out.push(setDecl(name));
    if (mode === 'flush') for (const name of [...SETS.map(([n]) => n), ...aff]) out.push(`flush ${setDecl(name).startsWith('add map') ? 'map' : 'set'} ${T} ${name}`);
    for (const [chain, rule] of staticRules(this.opts)) out.push(`add rule ${T} ${chain} ${rule}`);
    for (const c of lb) for (const r of lbRules(c)) out.push(`add rule ${T} ${c} ${r}`);
    for (const r of affinityRules(aff)) out.push(`add rule ${T} affinity-record ${r}`);
    for (const [set, items] of all) addLines(set, items, out);
    if (mode === 'flush') {
      // Declared first so that deleting one already gone is no error; no rule refers to them any more.
      for (const c of [...this.appliedChains].filter((c) => !chains.has(c)).sort(byNatural)) out.push(`add chain ${T} ${c}`, `delete chain ${T} ${c}`);
      for (const s of [...this.appliedAffinity].filter((s) => !affinity.has(s)).sort(byNatural)) out.push(setDecl(s), `delete set ${T} ${s}`);
    }
    return {
      payload: out.join('\n') + '\n',
      commit: () => {
        this.applied = new Map([...all].map(([s, items]) => [s, new Map(items)]));
        this.appliedChains = chains;
        this.appliedAffinity = affinity;
        this.dirty.clear();
        this.synced = true;
      },
    };
  }

  /**
   * The changes since the last commit, as element deletions and additions (a key
   * whose data changed is deleted and re-added in the same transaction), plus any
   * lb chain or affinity set that did not exist yet. '' when nothing changed.
   * Chains and sets no longer used stay until the next full sync.
   */
  renderPartial(): { payload: string; commit: () => void } {
    if (!this.synced) throw new Error('nftables: no full sync committed yet');
    const dels: [string, string[]][] = [];
    const adds: [string, [string, string][]][] = [];
    const changes: [string, string, string | undefined][] = [];
    for (const set of [...this.dirty.keys()].sort(setOrder)) {
      const have = this.applied.get(set);
      const d: string[] = [];
      const a: [string, string][] = [];
      for (const key of [...this.dirty.get(set)!].sort(byNatural)) {
        const want = this.desired(set, key);
        const cur = have?.get(key);
        if (want === cur) continue;
        if (cur !== undefined) d.push(key);
        if (want !== undefined) a.push([key, want]);
        changes.push([set, key, want]);
      }
      if (d.length) dels.push([set, d]);
      if (a.length) adds.push([set, a]);
    }
    const newChains = new Set<string>();
    const newAffinity = new Set<string>();
    for (const [set, items] of adds) {
      const n = needs([[set, items.map(([, d]) => d)]]);
      for (const c of n.chains) if (!this.appliedChains.has(c)) newChains.add(c);
      for (const s of n.affinity) if (!this.appliedAffinity.has(s)) newAffinity.add(s);
    }
    const out: string[] = [];
    for (const c of [...newChains].sort(byNatural)) {
      out.push(`add chain ${T} ${c}`, `flush chain ${T} ${c}`);
      for (const r of lbRules(c)) out.push(`add rule ${T} ${c} ${r}`);
    }
    if (newAffinity.size) {
      const all = new Set([...this.appliedAffinity, ...newAffinity]);
      for (const s of [...newAffinity].sort(byNatural)) out.push(setDecl(s));
      out.push(`flush chain ${T} affinity-record`);
      for (const r of affinityRules(all)) out.push(`add rule ${T} affinity-record ${r}`);
    }
    for (const [set, keys] of dels) deleteLines(set, keys, out);
    for (const [set, items] of adds) addLines(set, items, out);
    return {
      payload: out.length ? out.join('\n') + '\n' : '',
      commit: () => {
        for (const [set, key, want] of changes) {
          let m = this.applied.get(set);
          if (!m) this.applied.set(set, (m = new Map()));
          if (want === undefined) m.delete(key);
          else m.set(key, want);
        }
        for (const c of newChains) this.appliedChains.add(c);
        for (const s of newAffinity) this.appliedAffinity.add(s);
        this.dirty.clear();
      },
    };
  }

  /**
   * The affinity entries that point at an endpoint the destination no longer
   * sends to (it left, or the service lost affinity): kube-proxy's per-endpoint
   * `recent` lists vanish with the endpoint, our one dynamic map needs purging.
   */
  staleAffinity(entries: { dst: string; protocol: string; port: number; endpoint: string; endpointPort: number }[]): typeof entries {
    return entries.filter((e) => {
      const target = `${e.endpoint} . ${e.endpointPort}`;
      const svcKey = `${e.dst} . ${e.protocol} . ${e.port}`;
      const viaIp = this.desired('service-ips', svcKey);
      const [set, key, lb] = viaIp ? [`backends-${e.protocol}`, svcKey, viaIp] : [`nodeport-backends-${e.protocol}`, `${e.protocol} . ${e.port}`, this.desired('service-nodeports', `${e.protocol} . ${e.port}`)];
      const m = lb ? /-aff-(\d+)$/.exec(lb) : null;
      if (!m) return true;
      for (let i = 0; i < Number(m[1]); i++) if (this.desired(set, `${key} . ${i}`) === target) return false;
      return true;
    });
  }

  /** After a failed apply: nothing is known any more, the next sync must be a full 'recreate'. */
  forget(): void {
    this.synced = false;
  }

  /** lb chain names for `k` endpoints, re-exported for tests and the README. */
  static lbChain = lbChain;
}
