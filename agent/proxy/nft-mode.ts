/**
 * The nftables rule mode: NftRuleset (pure) applied through Nft (I/O).
 *
 * - Full sync: the first one of a process deletes and rebuilds our table (we
 *   know nothing about what an earlier run left); later ones flush and refill it
 *   in place, which keeps the ClientIP affinity map. A failed 'flush' falls back
 *   to 'recreate' (someone changed a base chain's hook or priority).
 * - Partial sync: element deletions and additions of the services changed since;
 *   a failure falls back to a full 'recreate' at once.
 * - After a sync that may have moved endpoints of affinity services, affinity
 *   entries pointing at endpoints no longer in rotation are deleted.
 */
import type { Logger } from '../../common/log.js';
import type { ServicePort } from './model.js';
import { Nft } from './nft.js';
import { NftRuleset, type NftOptions } from './nftables.js';
import type { RuleMode, SyncResult } from './proxier.js';

export class NftMode implements RuleMode {
  readonly name = 'nftables';
  readonly ruleset: NftRuleset;
  private fullDone = false;
  private affinityDirty = false;

  constructor(
    opts: NftOptions,
    readonly nft: Nft,
    private readonly log: Logger,
  ) {
    this.ruleset = new NftRuleset(opts);
  }

  setService(svc: string, ports: ServicePort[]): void {
    this.ruleset.setService(svc, ports);
    if (ports.some((p) => p.affinitySeconds > 0)) this.affinityDirty = true;
  }

  async sync(full: boolean): Promise<SyncResult> {
    let r: SyncResult;
    if (!full && this.ruleset.canPartial) {
      const p = this.ruleset.renderPartial();
      try {
        await this.nft.apply(p.payload);
        p.commit();
        r = { kind: p.payload ? 'partial' : 'none', bytes: p.payload.length };
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'nftables partial sync failed; rebuilding the table');
        this.ruleset.forget();
        r = await this.full('recreate');
      }
    } else {
      r = await this.full(this.fullDone && this.ruleset.canPartial ? 'flush' : 'recreate');
    }
    if (r.kind !== 'none' && (this.affinityDirty || this.ruleset.hasAffinity)) await this.purgeAffinity();
    return r;
  }

  private async full(mode: 'flush' | 'recreate'): Promise<SyncResult> {
    let f = this.ruleset.renderFull(mode);
    try {
      await this.nft.apply(f.payload);
    } catch (e) {
      if (mode === 'recreate') {
        this.ruleset.forget();
        throw e;
      }
      this.log.warn({ err: (e as Error).message }, 'nftables in-place full sync failed; recreating the table');
      f = this.ruleset.renderFull('recreate');
      try {
        await this.nft.apply(f.payload);
      } catch (e2) {
        this.ruleset.forget();
        throw e2;
      }
    }
    f.commit();
    this.fullDone = true;
    return { kind: 'full', bytes: f.payload.length };
  }

  /** Deletes affinity entries whose endpoint left its service (best effort: they expire anyway). */
  private async purgeAffinity(): Promise<void> {
    this.affinityDirty = false;
    try {
      const entries = await this.nft.affinityEntries();
      const stale = this.ruleset.staleAffinity(entries);
      if (stale.length) {
        await this.nft.deleteAffinity(stale as typeof entries);
        this.log.debug({ stale: stale.length }, 'stale affinity entries removed');
      }
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'could not purge stale affinity entries');
    }
  }

  async teardown(): Promise<void> {
    await this.nft.deleteTable();
    this.ruleset.forget();
  }
}
