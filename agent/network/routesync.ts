/**
 * The host-gw route syncer: watches Nodes (SharedInformer over ApiListWatch, as
 * the kubelet watches pods) and keeps this host's main routing table holding,
 * for every other node, `<podCIDR> via <InternalIP> proto 77` (decisions in
 * routes.ts).
 *
 * Contracts:
 * - Level-triggered: a sync reads the kernel's table and the informer's cache
 *   and converges; node events only request a sync (coalesced: at most one
 *   runs, one more is queued). A periodic resync repairs routes someone
 *   deleted or changed.
 * - Nothing is deleted before the informer has synced (an empty cache would
 *   otherwise mean "remove every route").
 * - Only routes with protocol SKIFF_ROUTE_PROTO are ever replaced or deleted.
 * - `stop()` leaves the routes in place: an agent restart must not cut
 *   cross-node traffic. `removeSkiffRoutes` is the explicit teardown.
 * - A failing command is logged and retried at the next sync; it never throws
 *   out of the loop.
 */
import type { Logger } from '../../common/log.js';
import { execRunner, type Runner } from '../../common/iptables.js';
import type { ApiClient } from '../../controlplane/controllers/client.js';
import { SharedInformer } from '../../controlplane/controllers/informer.js';
import { ApiListWatch } from '../../controlplane/controllers/listwatch.js';
import type { Obj } from '../../controlplane/controllers/objects.js';
import { desiredRoutes, parseAddrJson, parseRouteJson, planRoutes, SKIFF_ROUTE_PROTO, type KernelRoute } from './routes.js';

export interface RouteSyncerOptions {
  /** An ApiClient: the agent's (the informer lists and watches through it). */
  api: ApiClient;
  nodeName: string;
  clusterCIDR?: string;
  log: Logger;
  /** Periodic repair (default 30 s). */
  resyncMs?: number;
  /** Runs `ip`; defaults to spawning it. */
  runner?: Runner;
  /** Operate in this network namespace (`ip -n NS`): tests only. */
  netns?: string;
}

export interface SyncResult {
  replaced: string[];
  removed: string[];
  skipped: { node: string; reason: string }[];
  errors: string[];
}

const nodeKey = (n: Obj): string =>
  JSON.stringify([n.spec?.podCIDR ?? n.spec?.podCIDRs?.[0] ?? '', (n.status?.addresses as { type: string; address: string }[] | undefined)?.filter((a) => a.type === 'InternalIP') ?? []]);

/** `ip` with the namespace and numeric/JSON output options. */
function ipArgs(netns: string | undefined, args: string[]): string[] {
  return [...(netns ? ['-n', netns] : []), ...args];
}

async function ip(runner: Runner, netns: string | undefined, args: string[]): Promise<string> {
  const r = await runner.run('ip', ipArgs(netns, args));
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${(r.stderr || r.stdout).trim() || `exit ${r.code}`}`);
  return r.stdout;
}

export class RouteSyncer {
  readonly informer: SharedInformer;
  private readonly runner: Runner;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private pending = false;
  private stopped = false;
  /** Skip reasons last logged, so a steady state does not log every resync. */
  private lastSkips = '';
  /** The last sync's outcome (tests, debugging). */
  last?: SyncResult;

  constructor(private readonly o: RouteSyncerOptions) {
    this.runner = o.runner ?? execRunner;
    const path = '/api/v1/nodes';
    this.informer = new SharedInformer(path, () => o.api.list(path), (p, list) => new ApiListWatch(o.api, p, list), o.log);
  }

  /** Starts watching; the first sync runs once the informer has synced. Returns at once. */
  start(): void {
    this.informer.addEventHandler({
      add: () => this.kick(),
      // Status heartbeats change nodes every few seconds: only a new podCIDR or address matters.
      update: (old, cur) => {
        if (nodeKey(old) !== nodeKey(cur)) this.kick();
      },
      delete: () => this.kick(),
    });
    this.informer.start();
    void this.informer.whenSynced().then(() => this.kick());
    this.timer = setInterval(() => this.kick(), this.o.resyncMs ?? 30_000);
    this.timer.unref();
  }

  /** Requests a sync; coalesces with one running. */
  kick(): void {
    if (this.stopped || !this.informer.hasSynced()) return;
    if (this.running) {
      this.pending = true;
      return;
    }
    this.running = this.loop().finally(() => (this.running = undefined));
  }

  private async loop(): Promise<void> {
    do {
      this.pending = false;
      await this.syncOnce().catch((e: Error) => this.o.log.warn({ err: e.message }, 'route sync failed; retrying at the next resync'));
    } while (this.pending && !this.stopped);
  }

  /** Resolves when no sync is running or queued (tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** One sync: read the host, decide, apply. Exposed for tests; normally driven by kick(). */
  async syncOnce(): Promise<SyncResult> {
    const { runner, o } = this;
    const local = parseAddrJson(await ip(runner, o.netns, ['-j', '-4', 'addr', 'show']));
    const table = parseRouteJson(await ip(runner, o.netns, ['-N', '-j', '-4', 'route', 'show', 'table', 'main']));
    const { routes, skipped } = desiredRoutes(this.informer.listAll(), o.nodeName, local, o.clusterCIDR);
    const plan = planRoutes(routes, table);
    const res: SyncResult = { replaced: [], removed: [], skipped: [...skipped, ...plan.conflicts], errors: [] };
    for (const r of plan.replace) {
      try {
        await ip(runner, o.netns, ['-4', 'route', 'replace', r.dst, 'via', r.via, 'proto', String(SKIFF_ROUTE_PROTO)]);
        res.replaced.push(`${r.dst} via ${r.via}`);
        o.log.info({ node: r.node, dst: r.dst, via: r.via }, 'route to node pods programmed');
      } catch (e) {
        res.errors.push((e as Error).message);
        o.log.warn({ node: r.node, err: (e as Error).message }, 'programming a route failed');
      }
    }
    for (const r of plan.remove) {
      try {
        await ip(runner, o.netns, delArgs(r));
        res.removed.push(`${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}`);
        o.log.info({ dst: r.dst, via: r.gateway }, 'route to a departed node removed');
      } catch (e) {
        res.errors.push((e as Error).message);
        o.log.warn({ dst: r.dst, err: (e as Error).message }, 'removing a route failed');
      }
    }
    const skips = JSON.stringify(res.skipped);
    if (skips !== this.lastSkips) {
      this.lastSkips = skips;
      for (const s of res.skipped) o.log.info({ node: s.node, reason: s.reason }, 'no route to node pods');
    }
    this.last = res;
    return res;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.informer.stop();
    await this.idle();
  }
}

function delArgs(r: KernelRoute): string[] {
  return ['-4', 'route', 'del', r.dst, ...(r.gateway ? ['via', r.gateway] : []), ...(r.dev ? ['dev', r.dev] : []), ...(r.metric ? ['metric', String(r.metric)] : []), 'proto', String(SKIFF_ROUTE_PROTO)];
}

/**
 * Deletes every route of ours from the main table (`skiff down`); succeeds when
 * there is none. Returns how many were removed.
 */
export async function removeSkiffRoutes(o: { runner?: Runner; netns?: string } = {}): Promise<number> {
  const runner = o.runner ?? execRunner;
  const ours = parseRouteJson(await ip(runner, o.netns, ['-N', '-j', '-4', 'route', 'show', 'table', 'main', 'proto', String(SKIFF_ROUTE_PROTO)]));
  let n = 0;
  for (const r of ours) {
    // show with a proto filter omits the protocol field: it is ours by the filter.
    const res = await runner.run('ip', ipArgs(o.netns, delArgs({ ...r, protocol: String(SKIFF_ROUTE_PROTO) })));
    if (res.code === 0) n++;
  }
  return n;
}
