/**
 * `skiff proxy`: the service proxy without the rest of the agent, for hosts
 * whose kubelet is something else, or to run it apart while debugging. Same
 * proxy, same rules as inside `skiff agent`; never run both on one host.
 */
import { hostname } from 'node:os';
import { logger } from '../../common/log.js';
import { ApiClient, type Credentials } from '../../controlplane/controllers/client.js';
import { isIPv4 } from './model.js';
import { startProxy, type ModeName, type ModeRequest } from './proxy.js';

export interface StandaloneOptions {
  credentials: Credentials;
  nodeName?: string;
  /** NodePorts only on this address and 127.0.0.1; undefined: on every local address. */
  nodeIP?: string;
  clusterCIDR: string;
  mode?: ModeRequest;
  minSyncIntervalMs?: number;
  fullSyncIntervalMs?: number;
}

export async function runProxy(o: StandaloneOptions): Promise<{ mode: ModeName; nodeName: string; stop(): Promise<void> }> {
  const nodeName = (o.nodeName ?? hostname()).toLowerCase();
  if (o.nodeIP !== undefined && !isIPv4(o.nodeIP)) throw new Error(`--node-ip must be an IPv4 address, got "${o.nodeIP}"`);
  const api = new ApiClient(o.credentials);
  const p = await startProxy({
    api,
    nodeName,
    clusterCIDR: o.clusterCIDR,
    mode: o.mode,
    nodePortAddresses: o.nodeIP ? [o.nodeIP] : undefined,
    minSyncIntervalMs: o.minSyncIntervalMs,
    fullSyncIntervalMs: o.fullSyncIntervalMs,
    log: logger('proxy'),
  });
  return {
    mode: p.mode,
    nodeName,
    async stop() {
      await p.stop();
      api.close();
    },
  };
}
