/**
 * The iptables ruleset (pure), in kube-proxy's layout with Skiff's prefix, for
 * hosts whose iptables backend is legacy (or nf_tables without `nft`).
 *
 * nat:    PREROUTING, OUTPUT -> SKIFF-SERVICES: per destination `-j SKIFF-SVC-<h>`
 *         (ClusterIP) or `-j SKIFF-EXT-<h>` (external IP); last, local
 *         destinations -> SKIFF-NODEPORTS -> SKIFF-EXT-<h>.
 *         SKIFF-SVC-<h>: mark traffic from outside the cluster CIDR, then one
 *         `-m statistic --mode random --probability 1/(n-i)` jump per endpoint
 *         to SKIFF-SEP-<h> (hairpin mark, affinity `recent --set`, DNAT); with
 *         ClientIP affinity, `recent --rcheck` jumps first.
 *         SKIFF-EXT-<h>: mark (externalTrafficPolicy Cluster; with Local only
 *         127.0.0.0/8), then the SVC chain, or SKIFF-SVL-<h> when the external
 *         endpoint list differs from the internal one (a Local policy).
 *         POSTROUTING -> SKIFF-POSTROUTING: masquerade what carries 0x4000.
 * filter: OUTPUT, FORWARD -> SKIFF-SERVICES (REJECT/DROP destinations without
 *         endpoints); INPUT -> SKIFF-EXTERNAL-SERVICES (same for NodePorts).
 *
 * Chain names are the prefix plus 16 hex digits of a SHA-256, as kube-proxy's.
 * `IptRuleset` renders a full payload (every chain of ours declared, stale ones
 * deleted) or a partial one (the chains of changed services, and the dispatch
 * chains only when a changed service's dispatch rules changed).
 */
import { createHash } from 'node:crypto';
import { buildPayload, type ChainPayload, type Table, type TablePayload } from '../../common/iptables.js';
import type { Endpoint, ServicePort } from './model.js';

export const NAT_SERVICES = 'SKIFF-SERVICES';
export const NODEPORTS = 'SKIFF-NODEPORTS';
export const POSTROUTING = 'SKIFF-POSTROUTING';
export const MARK_MASQ = 'SKIFF-MARK-MASQ';
export const FILTER_SERVICES = 'SKIFF-SERVICES';
export const EXTERNAL_SERVICES = 'SKIFF-EXTERNAL-SERVICES';
/** Per-service chain prefixes: only chains with these (and the fixed names above) are ever deleted. */
export const SERVICE_CHAIN = /^SKIFF-(SVC|SVL|EXT|SEP)-[0-9A-F]{16}$/;

/** The jumps from built-in chains: [table, chain, spec] in iptables' canonical order. */
export const JUMPS: [Table, string, string[]][] = [
  ['nat', 'PREROUTING', ['-m', 'comment', '--comment', 'skiff service portals', '-j', NAT_SERVICES]],
  ['nat', 'OUTPUT', ['-m', 'comment', '--comment', 'skiff service portals', '-j', NAT_SERVICES]],
  ['nat', 'POSTROUTING', ['-m', 'comment', '--comment', 'skiff postrouting rules', '-j', POSTROUTING]],
  ['filter', 'INPUT', ['-m', 'conntrack', '--ctstate', 'NEW', '-m', 'comment', '--comment', 'skiff externally-visible service portals', '-j', EXTERNAL_SERVICES]],
  ['filter', 'FORWARD', ['-m', 'conntrack', '--ctstate', 'NEW', '-m', 'comment', '--comment', 'skiff service portals', '-j', FILTER_SERVICES]],
  ['filter', 'OUTPUT', ['-m', 'conntrack', '--ctstate', 'NEW', '-m', 'comment', '--comment', 'skiff service portals', '-j', FILTER_SERVICES]],
];

export interface IptOptions {
  clusterCIDR: string;
  nodePortAddresses?: string[];
}

export function chainName(prefix: 'SVC' | 'SVL' | 'EXT' | 'SEP', ...parts: string[]): string {
  return `SKIFF-${prefix}-${createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 16).toUpperCase()}`;
}

/** What one service contributes: its own chains, and its lines in the four shared chains. */
export interface ServiceRules {
  nat: ChainPayload[];
  natServices: string[][];
  nodePorts: string[][];
  filterServices: string[][];
  externalServices: string[][];
}

const mark = (...m: string[]): string[] => [...m, '-j', MARK_MASQ];

/** The chain spreading `eps` (and their SEP chains); `masqFrom` set: mark ClusterIP traffic from outside that CIDR. */
function balance(sp: ServicePort, chain: string, eps: Endpoint[], masqFrom: string | undefined, out: ChainPayload[], comment: string): void {
  const p = sp.protocol.toLowerCase();
  const rules: string[][] = [];
  if (masqFrom) rules.push(mark('!', '-s', masqFrom, '-d', `${sp.clusterIP}/32`, '-p', p, '-m', 'comment', '--comment', `${comment} cluster IP`, '-m', p, '--dport', String(sp.port)));
  const seps = eps.map((e) => chainName('SEP', sp.key, sp.protocol, `${e.ip}:${e.port}`));
  if (sp.affinitySeconds) {
    seps.forEach((sep, i) =>
      rules.push(['-m', 'comment', '--comment', `${comment} -> ${eps[i]!.ip}:${eps[i]!.port}`, '-m', 'recent', '--rcheck', '--seconds', String(sp.affinitySeconds), '--reap', '--name', sep, '--mask', '255.255.255.255', '--rsource', '-j', sep]),
    );
  }
  seps.forEach((sep, i) => {
    const c = ['-m', 'comment', '--comment', `${comment} -> ${eps[i]!.ip}:${eps[i]!.port}`];
    const n = eps.length - i;
    rules.push(n > 1 ? [...c, '-m', 'statistic', '--mode', 'random', '--probability', (1 / n).toFixed(10), '-j', sep] : [...c, '-j', sep]);
  });
  out.push({ name: chain, rules });
  seps.forEach((sep, i) => {
    const e = eps[i]!;
    const c = ['-m', 'comment', '--comment', comment];
    const r: string[][] = [mark('-s', `${e.ip}/32`, ...c)];
    if (sp.affinitySeconds) r.push(['-p', p, ...c, '-m', 'recent', '--set', '--name', sep, '--mask', '255.255.255.255', '--rsource']);
    r.push(['-p', p, ...c, '-m', p, '-j', 'DNAT', '--to-destination', `${e.ip}:${e.port}`]);
    if (!out.some((ch) => ch.name === sep)) out.push({ name: sep, rules: r });
  });
}

const sameEps = (a: Endpoint[], b: Endpoint[]): boolean => a.length === b.length && a.every((e, i) => e.ip === b[i]!.ip && e.port === b[i]!.port);

/** The rules of one service's ports (pure; `o.clusterCIDR` decides which ClusterIP traffic is masqueraded). */
export function serviceRules(ports: ServicePort[], o: IptOptions): ServiceRules {
  const r: ServiceRules = { nat: [], natServices: [], nodePorts: [], filterServices: [], externalServices: [] };
  for (const sp of ports) {
    const p = sp.protocol.toLowerCase();
    const comment = sp.key;
    const dport = (addr: string, what: string): string[] => ['-d', `${addr}/32`, '-p', p, '-m', 'comment', '--comment', `${comment} ${what}`, '-m', p, '--dport', String(sp.port)];
    const drop = sp.hasEndpoints ? ['-j', 'DROP'] : ['-j', 'REJECT', '--reject-with', 'icmp-port-unreachable'];
    const svc = chainName('SVC', sp.key, sp.protocol);
    if (sp.internal.length) {
      balance(sp, svc, sp.internal, o.clusterCIDR, r.nat, comment);
      r.natServices.push([...dport(sp.clusterIP, 'cluster IP'), '-j', svc]);
    } else r.filterServices.push([...dport(sp.clusterIP, sp.hasEndpoints ? 'has no local endpoints' : 'has no endpoints'), ...drop]);
    if (!sp.externalIPs.length && !sp.nodePort) continue;
    if (!sp.external.length) {
      for (const ip of sp.externalIPs) r.filterServices.push([...dport(ip, 'has no endpoints'), ...drop]);
      if (sp.nodePort) r.externalServices.push(['-m', 'addrtype', '--dst-type', 'LOCAL', '-p', p, '-m', 'comment', '--comment', `${comment} has no endpoints`, '-m', p, '--dport', String(sp.nodePort), ...drop]);
      continue;
    }
    let target = svc;
    if (!sp.internal.length || !sameEps(sp.internal, sp.external)) {
      target = chainName('SVL', sp.key, sp.protocol);
      balance(sp, target, sp.external, undefined, r.nat, comment);
    }
    const ext = chainName('EXT', sp.key, sp.protocol);
    r.nat.push({ name: ext, rules: [sp.externalLocal ? mark('-s', '127.0.0.0/8', '-m', 'comment', '--comment', `${comment} loopback`) : mark('-m', 'comment', '--comment', `${comment} external`), ['-j', target]] });
    for (const ip of sp.externalIPs) r.natServices.push([...dport(ip, 'external IP'), '-j', ext]);
    if (sp.nodePort) r.nodePorts.push(['-p', p, '-m', 'comment', '--comment', comment, '-m', p, '--dport', String(sp.nodePort), '-j', ext]);
  }
  return r;
}

/** The fixed chains' rules around the per-service lines. */
function sharedChains(all: ServiceRules[], o: IptOptions): { nat: ChainPayload[]; filter: ChainPayload[] } {
  const local = o.nodePortAddresses ? [...new Set([...o.nodePortAddresses, '127.0.0.1'])].map((a) => ['-d', `${a}/32`]) : [['-m', 'addrtype', '--dst-type', 'LOCAL']];
  const natServices = all.flatMap((s) => s.natServices);
  for (const l of local) natServices.push([...l, '-m', 'comment', '--comment', 'skiff service nodeports; must be the last rule in this chain', '-j', NODEPORTS]);
  return {
    nat: [
      { name: NAT_SERVICES, rules: natServices },
      { name: NODEPORTS, rules: all.flatMap((s) => s.nodePorts) },
      { name: MARK_MASQ, rules: [['-j', 'MARK', '--set-xmark', '0x4000/0x4000']] },
      { name: POSTROUTING, rules: [['-m', 'mark', '!', '--mark', '0x4000/0x4000', '-j', 'RETURN'], ['-j', 'MARK', '--set-xmark', '0x4000/0x0'], ['-m', 'comment', '--comment', 'skiff service traffic requiring SNAT', '-j', 'MASQUERADE', '--random-fully']] },
    ],
    filter: [
      { name: FILTER_SERVICES, rules: all.flatMap((s) => s.filterServices) },
      { name: EXTERNAL_SERVICES, rules: all.flatMap((s) => s.externalServices) },
    ],
  };
}

const dispatchKey = (r: ServiceRules): string => JSON.stringify([r.natServices, r.nodePorts, r.filterServices, r.externalServices]);
const chainKey = (c: ChainPayload): string => JSON.stringify(c.rules);

export class IptRuleset {
  private rules = new Map<string, ServiceRules>();
  private applied = new Map<string, ServiceRules>();
  private dirty = new Set<string>();
  private synced = false;

  constructor(private readonly opts: IptOptions) {}

  setService(svc: string, ports: ServicePort[]): void {
    if (ports.length) this.rules.set(svc, serviceRules(ports, this.opts));
    else this.rules.delete(svc);
    this.dirty.add(svc);
  }

  get canPartial(): boolean {
    return this.synced;
  }

  private ordered(): ServiceRules[] {
    return [...this.rules.keys()].sort().map((k) => this.rules.get(k)!);
  }

  /** Every chain of ours declared and filled; `existing` chains of ours (from `iptables-save`) not wanted any more are deleted. */
  renderFull(existing: { nat: string[]; filter: string[] }): { payload: Record<'nat' | 'filter', string>; commit: () => void } {
    const all = this.ordered();
    const shared = sharedChains(all, this.opts);
    const natChains = [...shared.nat, ...all.flatMap((s) => s.nat)];
    const want = new Set(natChains.map((c) => c.name));
    const nat: TablePayload = { table: 'nat', chains: natChains, deleteChains: existing.nat.filter((c) => SERVICE_CHAIN.test(c) && !want.has(c)) };
    const filter: TablePayload = { table: 'filter', chains: shared.filter };
    return {
      payload: { nat: buildPayload([nat]), filter: buildPayload([filter]) },
      commit: () => {
        this.applied = new Map(this.rules);
        this.dirty.clear();
        this.synced = true;
      },
    };
  }

  /** The chains of changed services that differ from what was applied, stale ones deleted; shared chains only when their lines changed. */
  renderPartial(): { payload: Record<'nat' | 'filter', string>; commit: () => void } {
    const natChains: ChainPayload[] = [];
    const del: string[] = [];
    let dispatch = false;
    for (const svc of [...this.dirty].sort()) {
      const before = this.applied.get(svc);
      const after = this.rules.get(svc);
      const old = new Map((before?.nat ?? []).map((c) => [c.name, chainKey(c)]));
      for (const c of after?.nat ?? []) if (old.get(c.name) !== chainKey(c)) natChains.push(c);
      const keep = new Set((after?.nat ?? []).map((c) => c.name));
      for (const name of old.keys()) if (!keep.has(name)) del.push(name);
      if ((before ? dispatchKey(before) : '') !== (after ? dispatchKey(after) : '')) dispatch = true;
    }
    let filter = '';
    if (dispatch) {
      const shared = sharedChains(this.ordered(), this.opts);
      natChains.unshift(...shared.nat.filter((c) => c.name === NAT_SERVICES || c.name === NODEPORTS));
      filter = buildPayload([{ table: 'filter', chains: shared.filter }]);
    }
    const nat = natChains.length || del.length ? buildPayload([{ table: 'nat', chains: natChains, deleteChains: del }]) : '';
    const dirty = [...this.dirty];
    return {
      payload: { nat, filter },
      commit: () => {
        for (const svc of dirty) {
          const r = this.rules.get(svc);
          if (r) this.applied.set(svc, r);
          else this.applied.delete(svc);
        }
        this.dirty.clear();
      },
    };
  }

  forget(): void {
    this.synced = false;
  }
}
