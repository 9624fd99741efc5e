/**
 * Cluster DNS inside the agent: a node-local server answering from the agent's
 * own watch caches of Services and EndpointSlices, so no node depends on
 * another (or on a DNS pod) to resolve names, and it costs no extra process.
 *
 * Order: informers synced (an answer from an empty cache would be a false
 * NXDOMAIN) -> sockets bound on <nodeIP>:<port> and 127.0.0.1:<port> (UDP and
 * TCP) -> this node's `kube-dns-<node>` EndpointSlice published, so the proxy
 * sends traffic only to a server that answers. A port already in use does not
 * stop the agent: binding is retried every 5 s, and nothing is published until
 * it succeeds.
 *
 * Why 127.0.0.1 as well: host tools (`nslookup -port=10053 web.default.svc.cluster.local 127.0.0.1`),
 * `skiff doctor` and the benchmark reach the server without knowing the node IP,
 * and loopback is reachable from this host only, so it exposes nothing more.
 */
import type { ApiClient } from '../../controlplane/controllers/client.js';
import { SharedInformer } from '../../controlplane/controllers/informer.js';
import { ApiListWatch } from '../../controlplane/controllers/listwatch.js';
import { ENDPOINTSLICES, SERVICES, pathFor } from '../../controlplane/controllers/resources.js';
import type { Logger } from '../../common/log.js';
import { AGENT_DEFAULTS } from '../settings.js';
import { DnsSlicePublisher, DNS_NAMESPACE } from './publisher.js';
import type { ZoneOptions } from './resolve.js';
import { startDnsServer, type DnsServer } from './server.js';
import { IndexedView } from './view.js';

export const DEFAULT_DNS_PORT = AGENT_DEFAULTS.dnsPort;
export const DNS_TTL = 5;

export interface ClusterDnsOptions {
  api: ApiClient;
  /**
   * Service and EndpointSlice informers (cluster-wide) to share with other readers
   * (the proxy); started here if not yet. Without them the DNS makes its own and
   * stops them on close.
   */
  informers?: { services: SharedInformer; slices: SharedInformer };
  nodeName: string;
  nodeIP: string;
  port: number;
  domain: string;
  log: Logger;
  /** Also listen on 127.0.0.1 when the node IP is not loopback (default true). */
  loopback?: boolean;
  retryMs?: number;
}

export interface ClusterDns {
  /** Resolves once the server answers (caches synced, sockets bound); rejects only if closed first. */
  readonly ready: Promise<DnsServer>;
  close(): Promise<void>;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** The addresses the server listens on: the node IP, and loopback unless the node IP is loopback already. */
export function listenAddresses(nodeIP: string, loopback: boolean): string[] {
  const out = [nodeIP];
  if (loopback && !nodeIP.startsWith('127.') && nodeIP !== '::1') out.push('127.0.0.1');
  return out;
}

export function startClusterDns(o: ClusterDnsOptions): ClusterDns {
  const abort = new AbortController();
  const zone: ZoneOptions = { domain: o.domain.replace(/\.$/, '').toLowerCase(), ttl: DNS_TTL };
  const own = (path: string): SharedInformer => new SharedInformer(path, () => o.api.list(path), (p, list) => new ApiListWatch(o.api, p, list), o.log);
  const { services, slices } = o.informers ?? { services: own(pathFor(SERVICES)), slices: own(pathFor(ENDPOINTSLICES)) };
  const view = new IndexedView(services.store, slices.store);
  const publisher = new DnsSlicePublisher({ api: o.api, nodeName: o.nodeName, nodeIP: o.nodeIP, port: o.port, log: o.log });
  let server: DnsServer | undefined;
  const changed = (): void => view.changed();
  services.addEventHandler({ add: changed, update: changed, delete: changed });
  // Our own slice edited or deleted behind our back: put it back now, not at the next resync.
  const ours = (s: { metadata?: { namespace?: string; name?: string } }): void => {
    if (s.metadata?.namespace === DNS_NAMESPACE && s.metadata?.name === publisher.name && server) publisher.kick();
  };
  slices.addEventHandler({ add: changed, update: (_o, s) => (changed(), ours(s)), delete: (s) => (changed(), ours(s)) });
  services.start();
  slices.start();
  const synced = Promise.all([services.whenSynced(), slices.whenSynced()]);

  const ready = (async (): Promise<DnsServer> => {
    await Promise.race([synced, new Promise((resolve) => abort.signal.addEventListener('abort', resolve, { once: true }))]);
    for (let attempt = 0; !abort.signal.aborted; attempt++) {
      try {
        server = await startDnsServer({ addresses: listenAddresses(o.nodeIP, o.loopback ?? true), port: o.port, view, zone, log: o.log });
        break;
      } catch (e) {
        // Logged loudly once, then quietly: another agent on this host may hold the port for a while.
        o.log[attempt === 0 ? 'error' : 'debug']({ err: (e as Error).message }, 'cluster DNS not serving; retrying every few seconds');
        await pause(o.retryMs ?? 5000, abort.signal);
      }
    }
    if (!server) throw new Error('cluster DNS closed before it started');
    // Closed while binding: the caller's close() has run already, release the sockets here.
    if (abort.signal.aborted) {
      await server.close();
      throw new Error('cluster DNS closed before it started');
    }
    publisher.start();
    return server;
  })();
  ready.catch(() => undefined);

  return {
    ready,
    async close() {
      abort.abort();
      if (server) {
        // Bounded: a stopping agent must not hang on an unreachable API server.
        const gone = publisher.remove().catch((e) => o.log.debug({ err: (e as Error).message }, 'removing the kube-dns EndpointSlice failed'));
        const timeout = new AbortController();
        await Promise.race([gone, pause(3000, timeout.signal)]);
        timeout.abort();
        await server.close();
      }
      publisher.stop();
      if (!o.informers) await Promise.all([services.stop(), slices.stop()]);
    },
  };
}
