/**
 * The proxy's sync loop, independent of the backend: services that changed are
 * collected by key, recomputed from the informer caches and handed to the rule
 * mode, which applies either everything (full sync) or only what those
 * services changed (partial sync).
 *
 * Contracts:
 * - `changed(key)` only records the key (event handlers call it: no I/O there).
 * - Syncs never overlap, and start at least `minSyncIntervalMs` after the
 *   previous one began: changes arriving together are applied together.
 * - The first sync, every sync after a failure and one every `fullSyncIntervalMs`
 *   are full: they repair whatever was changed behind our back. A failed sync is
 *   retried with backoff (1 s doubling to 30 s, never sooner than the interval).
 * - Level-triggered: a sync reads the caches at the time it runs, not the events.
 */
import type { Logger } from '../../common/log.js';
import { realClock, type Clock, type TimerHandle } from '../../common/clock.js';
import type { Obj } from '../../controlplane/controllers/objects.js';
import { servicePorts, type ProxyTopology, type ServicePort } from './model.js';
import { staleUdpFlows, type StaleFlow } from './conntrack.js';

export interface SyncResult {
  kind: 'full' | 'partial' | 'none';
  /** Payload size in bytes. */
  bytes: number;
}

/** A rule backend (nftables.ts + nft.ts, or iptables-rules.ts + common/iptables.ts). */
export interface RuleMode {
  readonly name: string;
  /** Records the desired rules of one service (`ns/name`); [] removes them. No I/O. */
  setService(svc: string, ports: ServicePort[]): void;
  /** Applies everything (full) or what changed since the last successful sync. */
  sync(full: boolean): Promise<SyncResult>;
  /** Removes every rule, chain or table of ours. Idempotent. */
  teardown(): Promise<void>;
}

/** Where the proxier reads the desired state: the informer caches. */
export interface ProxySource {
  service(key: string): Obj | undefined;
  slices(key: string): Obj[];
  /** Every service key known (the first sync covers them all). */
  serviceKeys(): string[];
}

export interface ProxierOptions {
  mode: RuleMode;
  source: ProxySource;
  topology: ProxyTopology;
  log: Logger;
  minSyncIntervalMs?: number;
  fullSyncIntervalMs?: number;
  clock?: Clock;
  /** Deletes UDP flows to endpoints that left (ConntrackCleaner); called after the rules changed. */
  conntrack?: { clear(flows: StaleFlow[]): Promise<void> };
}

export interface ProxierStats {
  syncs: number;
  fullSyncs: number;
  partialSyncs: number;
  failures: number;
  lastSyncMs: number;
  lastResult?: SyncResult;
}

export class Proxier {
  private readonly clock: Clock;
  private readonly minInterval: number;
  private readonly fullInterval: number;
  private pending = new Set<string>();
  private fullDue = true;
  private running = false;
  private again = false;
  private timer?: TimerHandle;
  private fullTimer?: TimerHandle;
  private lastStart = -Infinity;
  private failures = 0;
  private stopped = false;
  private started = false;
  private waiters: { after: number; resolve: () => void }[] = [];
  /** The ports last handed to the mode, per service: what stale UDP flows are computed against. */
  private ports = new Map<string, ServicePort[]>();
  private staleFlows: StaleFlow[] = [];
  readonly stats: ProxierStats = { syncs: 0, fullSyncs: 0, partialSyncs: 0, failures: 0, lastSyncMs: 0 };

  constructor(private readonly o: ProxierOptions) {
    this.clock = o.clock ?? realClock;
    this.minInterval = o.minSyncIntervalMs ?? 1000;
    this.fullInterval = o.fullSyncIntervalMs ?? 30_000;
  }

  /** Records that a service (`ns/name`) or one of its slices changed. */
  changed(key: string): void {
    this.pending.add(key);
    if (this.started) this.schedule();
  }

  /** Starts syncing: call once the caches have synced. The first sync is a full one over every service. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const k of this.o.source.serviceKeys()) this.pending.add(k);
    this.fullDue = true;
    this.schedule();
    this.armFullTimer();
  }

  private armFullTimer(): void {
    this.fullTimer?.cancel();
    this.fullTimer = this.clock.after(this.fullInterval, () => {
      this.fullDue = true;
      this.schedule();
      if (!this.stopped) this.armFullTimer();
    });
  }

  /** Resolves after the next sync that starts after this call has finished (tests, `skiff proxy` readiness). */
  waitForSync(): Promise<void> {
    const after = this.stats.syncs + (this.running ? 1 : 0);
    return new Promise((resolve) => this.waiters.push({ after, resolve }));
  }

  private schedule(delayMs?: number): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer && delayMs === undefined) return;
    this.timer?.cancel();
    const wait = Math.max(delayMs ?? 0, this.lastStart + this.minInterval - this.clock.now());
    this.timer = this.clock.after(wait, () => {
      this.timer = undefined;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    if (this.stopped || this.running) return;
    this.running = true;
    this.again = false;
    this.lastStart = this.clock.now();
    const keys = this.pending;
    this.pending = new Set();
    const full = this.fullDue;
    this.fullDue = false;
    let retryIn: number | undefined;
    const t0 = performance.now();
    try {
      for (const k of keys) {
        const svc = this.o.source.service(k);
        const ports = svc ? servicePorts(svc, this.o.source.slices(k), this.o.topology) : [];
        this.o.mode.setService(k, ports);
        if (this.o.conntrack) this.staleFlows.push(...staleUdpFlows(this.ports.get(k) ?? [], ports));
        if (ports.length) this.ports.set(k, ports);
        else this.ports.delete(k);
      }
      const r = await this.o.mode.sync(full);
      // Only once the rules send new flows elsewhere: else a deleted flow would be recreated to the old endpoint.
      if (this.staleFlows.length) await this.o.conntrack!.clear(this.staleFlows.splice(0));
      const ms = performance.now() - t0;
      Object.assign(this.stats, { lastSyncMs: ms, lastResult: r });
      if (r.kind === 'full') this.stats.fullSyncs++;
      if (r.kind === 'partial') this.stats.partialSyncs++;
      this.failures = 0;
      if (r.kind !== 'none') this.o.log.debug({ mode: this.o.mode.name, kind: r.kind, services: keys.size, bytes: r.bytes, ms: Math.round(ms) }, 'proxy rules synced');
    } catch (e) {
      this.failures++;
      this.stats.failures++;
      this.fullDue = true;
      retryIn = Math.min(30_000, 1000 * 2 ** Math.min(this.failures - 1, 5));
      this.o.log.error({ mode: this.o.mode.name, err: (e as Error).message, retryInMs: retryIn }, 'proxy sync failed; retrying with a full sync');
    } finally {
      this.stats.syncs++;
      this.running = false;
    }
    const done = this.waiters.filter((w) => this.stats.syncs > w.after);
    this.waiters = this.waiters.filter((w) => this.stats.syncs <= w.after);
    for (const w of done) w.resolve();
    if (retryIn !== undefined) this.schedule(retryIn);
    else if (this.again || this.pending.size || this.fullDue) this.schedule();
  }

  /** Stops the loop (rules stay in place: a restarted proxy takes over from them). */
  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.fullTimer?.cancel();
    for (const w of this.waiters.splice(0)) w.resolve();
  }
}
