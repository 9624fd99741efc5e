/**
 * The iptables rule mode: IptRuleset (pure) through common/iptables.ts, on the
 * host's backend (never another one).
 *
 * - Full sync: `iptables-save` of nat and filter lists our chains (so stale
 *   per-service chains are deleted) and the jumps, one `iptables-restore
 *   --noflush` per table, then the jumps from the built-in chains are fixed
 *   where the save showed them missing, duplicated or not first.
 * - Partial sync: one restore with only the chains of changed services (and the
 *   dispatch chains when they changed); a failure falls back to a full sync.
 * - Teardown: jumps deleted, then our chains flushed and deleted; chains of
 *   others (SKIFF-FORWARD of the host network included) are never named.
 */
import type { Logger } from '../../common/log.js';
import { buildPayload, planJump, type Iptables, type Table } from '../../common/iptables.js';
import type { ServicePort } from './model.js';
import { EXTERNAL_SERVICES, FILTER_SERVICES, IptRuleset, JUMPS, MARK_MASQ, NAT_SERVICES, NODEPORTS, POSTROUTING, SERVICE_CHAIN, type IptOptions } from './iptables-rules.js';
import type { RuleMode, SyncResult } from './proxier.js';

/** Chain names declared in an `iptables-save` text (pure). */
export function savedChains(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) if (line.startsWith(':')) out.push(line.slice(1, line.indexOf(' ')));
  return out;
}

const FIXED: Record<'nat' | 'filter', string[]> = {
  nat: [NAT_SERVICES, NODEPORTS, MARK_MASQ, POSTROUTING],
  filter: [FILTER_SERVICES, EXTERNAL_SERVICES],
};

export class IptablesMode implements RuleMode {
  readonly name: string;
  readonly ruleset: IptRuleset;

  constructor(
    opts: IptOptions,
    readonly ipt: Iptables,
    private readonly log: Logger,
  ) {
    this.name = `iptables-${ipt.backend}`;
    this.ruleset = new IptRuleset(opts);
  }

  setService(svc: string, ports: ServicePort[]): void {
    this.ruleset.setService(svc, ports);
  }

  async sync(full: boolean): Promise<SyncResult> {
    if (!full && this.ruleset.canPartial) {
      const p = this.ruleset.renderPartial();
      try {
        // filter first: a service losing its endpoints gets its REJECT before its DNAT goes.
        if (p.payload.filter) await this.ipt.restore('filter', p.payload.filter);
        if (p.payload.nat) await this.ipt.restore('nat', p.payload.nat);
        p.commit();
        const bytes = p.payload.nat.length + p.payload.filter.length;
        return { kind: bytes ? 'partial' : 'none', bytes };
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'iptables partial sync failed; doing a full sync');
        this.ruleset.forget();
      }
    }
    // One save per table serves both the stale chains and the jump check: with legacy,
    // every listing (even `-S ONE-CHAIN`) reads the whole table from the kernel.
    const saved = { nat: await this.ipt.save('nat'), filter: await this.ipt.save('filter') };
    const f = this.ruleset.renderFull({ nat: savedChains(saved.nat), filter: [] });
    try {
      await this.ipt.restore('filter', f.payload.filter);
      await this.ipt.restore('nat', f.payload.nat);
      // Our payloads never name built-in chains, so the jumps are as saved.
      for (const [table, chain, spec] of JUMPS) {
        const plan = planJump(saved[table as 'nat' | 'filter'], chain, spec, 'first');
        if (plan.insert || plan.remove.length) await this.ipt.ensureJump(table, chain, spec, 'first');
      }
    } catch (e) {
      this.ruleset.forget();
      throw e;
    }
    f.commit();
    return { kind: 'full', bytes: f.payload.nat.length + f.payload.filter.length };
  }

  async teardown(): Promise<void> {
    for (const [table, chain, spec] of JUMPS) await this.ipt.deleteJumps(table, chain, spec[spec.length - 1]!);
    for (const table of ['nat', 'filter'] as Table[]) {
      const present = new Set(savedChains(await this.ipt.save(table)));
      const ours = [...present].filter((c) => SERVICE_CHAIN.test(c) || FIXED[table as 'nat' | 'filter'].includes(c));
      // Declaring flushes every chain first, so no rule of ours still jumps to one being deleted.
      if (ours.length) await this.ipt.restore(table, buildPayload([{ table, chains: [], deleteChains: ours }]));
    }
    this.ruleset.forget();
  }
}
