/**
 * The service proxy: informers on Services and EndpointSlices (our own
 * list+watch over ApiClient, no @kubernetes/client-node), a Proxier, and the rule
 * mode the host's backend calls for:
 *
 * - the host's iptables backend is nf_tables (Debian 12's default) and `nft` is
 *   installed: native nftables in our own table `ip skiff` (maps, a fixed number
 *   of chains; see README.md for the measurements behind this choice);
 * - the backend is legacy: kube-proxy's iptables layout through
 *   `iptables-legacy-restore --noflush` (mixing legacy and nf_tables on one host
 *   is what must never happen);
 * - nf_tables without the `nft` binary: the iptables layout through iptables-nft
 *   (correct, slow beyond a few thousand services; a warning says to install nftables).
 *
 * `startProxy` runs inside `skiff agent` and alone as `skiff proxy`;
 * `teardownProxy` (`skiff down`) removes our table and chains in every mode.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { logger, type Logger } from '../../common/log.js';
import { openIptables, type Backend } from '../../common/iptables.js';
import type { ApiClient } from '../../controlplane/controllers/client.js';
import { SharedInformer } from '../../controlplane/controllers/informer.js';
import { ApiListWatch } from '../../controlplane/controllers/listwatch.js';
import { serviceKey, sliceService, parseCIDR } from './model.js';
import { Nft } from './nft.js';
import { NftMode } from './nft-mode.js';
import { IptablesMode } from './iptables-mode.js';
import { Proxier, type ProxierStats, type RuleMode } from './proxier.js';
import { ConntrackCleaner } from './conntrack.js';

export type ModeName = 'nftables' | 'iptables';
export type ModeRequest = 'auto' | ModeName;

/** The mode for a host (pure): see the module doc. */
export function chooseMode(backend: Backend, nftInstalled: boolean, requested: ModeRequest = 'auto'): { mode: ModeName; warning?: string } {
  if (requested === 'iptables') return { mode: 'iptables' };
  if (requested === 'nftables') {
    if (backend === 'legacy') return { mode: 'nftables', warning: 'nftables mode requested on a host whose iptables rules are legacy: both will filter packets' };
    return { mode: 'nftables' };
  }
  if (backend === 'legacy') return { mode: 'iptables' };
  if (nftInstalled) return { mode: 'nftables' };
  return { mode: 'iptables', warning: 'the nft binary is missing: using iptables-nft, which is slow with thousands of services; install it with: apt-get install -y nftables' };
}

export interface ProxyOptions {
  api: ApiClient;
  nodeName: string;
  clusterCIDR: string;
  mode?: ModeRequest;
  /** NodePorts answer on every local address unless this lists some (127.0.0.1 is always added). */
  nodePortAddresses?: string[];
  minSyncIntervalMs?: number;
  fullSyncIntervalMs?: number;
  log?: Logger;
  /**
   * Cluster-wide Service and EndpointSlice informers shared with other readers in
   * the process (the agent's DNS): started here if not yet, left running on stop.
   * Without them the proxy makes its own and stops them.
   */
  informers?: { services: SharedInformer; slices: SharedInformer };
}

export interface ProxyHandle {
  mode: ModeName;
  stats: ProxierStats;
  /** Resolves after the next sync has finished. */
  waitForSync(): Promise<void>;
  /** Stops watching and syncing; the rules stay (a restarted proxy takes over). */
  stop(): Promise<void>;
}

const SERVICES = '/api/v1/services';
const SLICES = '/apis/discovery.k8s.io/v1/endpointslices';
const BY_SERVICE = 'service';
const ROUTE_LOCALNET = '/proc/sys/net/ipv4/conf/all/route_localnet';

/** NodePorts on 127.0.0.1 need DNAT of loopback-sourced packets to leave `lo` (kube-proxy sets the same). */
async function ensureRouteLocalnet(log: Logger): Promise<void> {
  try {
    if ((await readFile(ROUTE_LOCALNET, 'utf8')).trim() !== '1') await writeFile(ROUTE_LOCALNET, '1\n');
  } catch (e) {
    log.warn({ err: (e as Error).message }, 'could not set net.ipv4.conf.all.route_localnet=1: NodePorts on 127.0.0.1 will not answer');
  }
}

/** Builds the rule mode for this host. */
export async function openMode(o: { mode?: ModeRequest; clusterCIDR: string; nodePortAddresses?: string[]; log: Logger }): Promise<RuleMode> {
  const ipt = await openIptables();
  const nft = new Nft();
  const choice = chooseMode(ipt.backend, await nft.available(), o.mode);
  if (choice.warning) o.log.warn(choice.warning);
  if (choice.mode === 'nftables') return new NftMode({ clusterCIDR: o.clusterCIDR, nodePortAddresses: o.nodePortAddresses }, nft, o.log);
  return new IptablesMode({ clusterCIDR: o.clusterCIDR, nodePortAddresses: o.nodePortAddresses }, ipt, o.log);
}

export async function startProxy(o: ProxyOptions): Promise<ProxyHandle> {
  const log = o.log ?? logger('proxy');
  parseCIDR(o.clusterCIDR);
  const mode = await openMode({ mode: o.mode, clusterCIDR: o.clusterCIDR, nodePortAddresses: o.nodePortAddresses, log });
  await ensureRouteLocalnet(log);

  const informer = (path: string): SharedInformer => new SharedInformer(path, () => o.api.list(path), (p, list) => new ApiListWatch(o.api, p, list), log);
  const { services, slices } = o.informers ?? { services: informer(SERVICES), slices: informer(SLICES) };
  slices.addIndex(BY_SERVICE, (s) => {
    const k = sliceService(s);
    return k ? [k] : [];
  });
  const proxier = new Proxier({
    mode,
    log,
    topology: { nodeName: o.nodeName, clusterCIDR: o.clusterCIDR },
    minSyncIntervalMs: o.minSyncIntervalMs,
    fullSyncIntervalMs: o.fullSyncIntervalMs,
    conntrack: new ConntrackCleaner(log),
    source: {
      service: (key) => {
        const i = key.indexOf('/');
        return services.get(key.slice(0, i), key.slice(i + 1));
      },
      slices: (key) => slices.byIndex(BY_SERVICE, key),
      serviceKeys: () => services.listAll().map(serviceKey),
    },
  });
  const onService = (s: { metadata?: { namespace?: string; name?: string } }): void => proxier.changed(serviceKey(s));
  const onSlice = (s: object): void => {
    const k = sliceService(s);
    if (k) proxier.changed(k);
  };
  services.addEventHandler({ add: onService, update: (_o, s) => onService(s), delete: onService });
  slices.addEventHandler({ add: onSlice, update: (old, s) => (onSlice(old), onSlice(s)), delete: onSlice });
  services.start();
  slices.start();
  await Promise.all([services.whenSynced(), slices.whenSynced()]);
  const first = proxier.waitForSync();
  proxier.start();
  await first;
  log.info({ mode: mode.name, services: services.listAll().length, ms: Math.round(proxier.stats.lastSyncMs), failures: proxier.stats.failures }, 'service proxy started');

  return {
    mode: mode.name as ModeName,
    stats: proxier.stats,
    waitForSync: () => proxier.waitForSync(),
    async stop() {
      proxier.stop();
      if (!o.informers) await Promise.all([services.stop(), slices.stop()]);
    },
  };
}

/**
 * Removes everything the proxy made, in every mode (`skiff down`): our nftables
 * table when `nft` is installed, and our iptables chains and jumps in the host's
 * backend. Idempotent; touches nothing of anyone else's.
 */
export async function teardownProxy(opts: { log?: Logger } = {}): Promise<void> {
  const log = opts.log ?? logger('proxy');
  const nft = new Nft();
  if (await nft.available()) await nft.deleteTable();
  const ipt = await openIptables();
  await new IptablesMode({ clusterCIDR: '0.0.0.0/0' }, ipt, log).teardown();
  log.info('service proxy rules removed');
}
