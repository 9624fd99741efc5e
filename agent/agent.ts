/**
 * `skiff agent`: everything one node runs, started in dependency order.
 *
 *   credentials -> Docker reachable -> local images -> host network (forwarding,
 *   service CIDR blackhole) -> HTTPS endpoint (logs/exec) -> Node registered,
 *   Lease and status -> CNI config once the node has a podCIDR -> kubelet
 *   (API pods bound here + static pods).
 *
 * Stopping the agent stops its loops only: pods keep running, and the next agent
 * adopts them from a relist (no restart, same IPs).
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { ApiClient, type Credentials } from '../controlplane/controllers/client.js';
import { logger } from '../common/log.js';
import { openIptables } from '../common/iptables.js';
import { ensureQosCgroups } from './cgroups/index.js';
import { ensureLocalImages, SANDBOX_IMAGE } from './host/images.js';
import { ensureHostNetwork, forgetMasqueradeStamps } from './host/network.js';
import { CniNetwork, skiffConflist, writeConflist } from './network/cni.js';
import { NodeAgent } from './node/node.js';
import { HostReadings } from './node/readings.js';
import { DockerRuntime } from './runtime/docker.js';
import { startAgentServer } from './server/index.js';
import { Kubelet } from './kubelet/kubelet.js';
import { StaticPods } from './kubelet/static.js';
import { podLookup } from './lookup.js';
import { startProxy, type ModeRequest, type ProxyHandle } from './proxy/proxy.js';
import { startClusterDns } from './dns/index.js';
import { SharedInformer } from '../controlplane/controllers/informer.js';
import { ApiListWatch } from '../controlplane/controllers/listwatch.js';
import { resolveJoin, type JoinInput } from './bootstrap.js';
import { RouteSyncer } from './network/routesync.js';
import { AGENT_DEFAULTS } from './settings.js';

export { AGENT_DEFAULTS };

export interface AgentOptions {
  server?: string;
  token?: string;
  tokenFile?: string;
  caFile?: string;
  kubeconfig?: string;
  nodeName?: string;
  nodeIP?: string;
  dataDir: string;
  port: number;
  manifests: string;
  clusterCIDR: string;
  serviceCIDR: string;
  clusterDNS: string;
  clusterDomain: string;
  reservedCpu: string;
  reservedMemory: string;
  dockerSocket?: string;
  /** Do not run the service proxy (another proxy programs this host). */
  disableProxy?: boolean;
  proxyMode?: ModeRequest;
  /** Minimum time between two proxy syncs (default 1 s). */
  proxyMinSyncMs?: number;
  /** Period of the proxy's full resync (default 30 s). */
  proxyFullSyncMs?: number;
  /** Port of the node-local cluster DNS server on the node IP and 127.0.0.1 (default 10053; 0 disables). */
  dnsPort?: number;
}

export interface AgentHandle {
  nodeName: string;
  port: number;
  kubelet: Kubelet;
  close(): Promise<void>;
}

/** Server, CA and token from a kubeconfig file (the current context; token auth only). */
function fromKubeconfig(file: string): Credentials {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const doc = yaml.load(readFileSync(file, 'utf8')) as any;
  const ctx = doc?.contexts?.find((c: { name: string }) => c.name === doc['current-context'])?.context;
  const cluster = doc?.clusters?.find((c: { name: string }) => c.name === ctx?.cluster)?.cluster;
  const user = doc?.users?.find((u: { name: string }) => u.name === ctx?.user)?.user;
  if (!cluster?.server) throw new Error(`${file}: no cluster for the current context`);
  const ca = cluster['certificate-authority-data'] ? Buffer.from(cluster['certificate-authority-data'], 'base64').toString('utf8') : cluster['certificate-authority'] ? readFileSync(cluster['certificate-authority'], 'utf8') : '';
  if (!ca) throw new Error(`${file}: the cluster has no CA (certificate-authority-data)`);
  const token = user?.token ?? (user?.tokenFile ? readFileSync(user.tokenFile, 'utf8').trim() : undefined);
  if (!token) throw new Error(`${file}: the agent needs a token user (the node-join token)`);
  return { server: cluster.server, ca, token };
}

/** What the flags give; resolveJoin (bootstrap.ts) verifies or fetches the CA for a full join token. */
function loadCredentials(o: CredentialFlags): JoinInput {
  if (o.kubeconfig) return fromKubeconfig(o.kubeconfig);
  if (!o.server) throw new Error('--server is required (or --kubeconfig)');
  if (!/^https:\/\//.test(o.server)) throw new Error(`--server must be an https:// URL, got "${o.server}"`);
  const token = o.token ?? (o.tokenFile ? readFileSync(o.tokenFile, 'utf8').trim() : undefined);
  if (!token) throw new Error('--token or --token-file is required (the server\'s node-join token)');
  return { server: o.server, token, ca: o.caFile ? readFileSync(o.caFile, 'utf8') : undefined };
}

type CredentialFlags = Pick<AgentOptions, 'server' | 'token' | 'tokenFile' | 'caFile' | 'kubeconfig'>;

/** The API credentials the agent's flags give (`skiff proxy` takes the same flags). */
export function resolveCredentials(o: CredentialFlags): Promise<Credentials> {
  return resolveJoin(loadCredentials(o), { log: logger('agent') });
}

export async function startAgent(o: AgentOptions): Promise<AgentHandle> {
  const log = logger('agent');
  const nodeName = (o.nodeName ?? hostname()).toLowerCase();
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(nodeName)) throw new Error(`node name "${nodeName}" is not a valid DNS subdomain: pass --node-name`);
  // The hardware probe (a child process) runs while the rest starts: node registration
  // waits for it, and a restarted agent must renew its Lease before the grace period ends.
  const readings = new HostReadings();
  void readings.capacity().catch(() => undefined);
  const creds = await resolveJoin(loadCredentials(o), { log });
  const ca = creds.ca;
  const api = new ApiClient(creds);
  await mkdir(o.dataDir, { recursive: true });

  const runtime = new DockerRuntime({ socketPath: o.dockerSocket, sandboxImage: SANDBOX_IMAGE, nodeName });
  let version: string;
  try {
    version = (await runtime.version()).version;
  } catch (e) {
    throw new Error(`the Docker engine does not answer on ${o.dockerSocket ?? '/var/run/docker.sock'} (${(e as Error).message}): run scripts/setup.sh or start dockerd`);
  }
  await ensureLocalImages(runtime.docker, log);
  await ensureHostNetwork({ clusterCIDR: o.clusterCIDR, serviceCIDR: o.serviceCIDR, log });
  await forgetMasqueradeStamps();
  await ensureQosCgroups();

  const cni = new CniNetwork(join(o.dataDir, 'cni'));
  // The lookup reads the kubelet, which needs the node name only: created before it, wired after.
  let kubelet: Kubelet | undefined;
  const server = await startAgentServer({
    port: o.port,
    host: '0.0.0.0',
    dataDir: o.dataDir,
    caCert: ca,
    runtime,
    lookup: podLookup(() => kubelet),
    summary: async () => node.summary(),
    log: logger('agent-server'),
  });

  let networkReady = false;
  const node = new NodeAgent({
    api,
    readings,
    nodeName,
    nodeIP: o.nodeIP,
    port: server.port,
    servingCertSha256: server.fingerprint,
    dataDir: o.dataDir,
    reserved: { cpu: o.reservedCpu, memory: o.reservedMemory },
    runtimeVersion: async () => `docker://${version}`,
    runtimeReady: async () => {
      try {
        await runtime.version();
        return networkReady;
      } catch {
        return false;
      }
    },
    podUsage: async () =>
      [...(kubelet?.relister.last.values() ?? [])]
        .filter((rp) => rp.sandboxes.some((sb) => sb.state === 'ready'))
        .map((rp) => ({
          pod: rp.sandboxes[0].pod,
          startTime: rp.sandboxes[0].createdAt,
          containers: rp.containers.filter((c) => c.state === 'running').map((c) => ({ id: c.id, name: c.name, startTime: c.startedAt })),
        })),
    onPodCIDR: async (cidr: string) => {
      await writeConflist(skiffConflist(cidr, o.clusterCIDR, (await openIptables()).command));
      networkReady = true;
    },
    log: logger('node'),
  });
  await node.start();
  // host-gw: routes to the other nodes' pod CIDRs via their InternalIPs (network/routes.ts).
  const routes = new RouteSyncer({ api, nodeName, clusterCIDR: o.clusterCIDR, log: logger('routes') });
  routes.start();

  let statics: StaticPods | undefined;
  kubelet = new Kubelet({
    api,
    nodeName,
    nodeIP: node.nodeIP(),
    runtime,
    cni,
    dataDir: o.dataDir,
    log: logger('kubelet'),
    clusterDNS: o.clusterDNS,
    clusterDomain: o.clusterDomain,
    staticPods: () => statics?.all() ?? new Map(),
    allocatable: () => node.allocatable(),
  });
  statics = new StaticPods(o.manifests, nodeName, api, logger('static-pods'), (uids) => kubelet!.staticChanged(uids));
  await statics.start();
  await kubelet.start();
  // After the host network (its FORWARD jump must precede ours) and the Node (our
  // informers need the API): Services reach their pods from here on.
  // One watch of Services and one of EndpointSlices for the proxy and the DNS together.
  const watchAll = (path: string): SharedInformer => new SharedInformer(path, () => api.list(path), (p, list) => new ApiListWatch(api, p, list), logger('informer'));
  const informers = { services: watchAll('/api/v1/services'), slices: watchAll('/apis/discovery.k8s.io/v1/endpointslices') };
  let proxy: ProxyHandle | undefined;
  if (!o.disableProxy) {
    try {
      proxy = await startProxy({ api, nodeName, clusterCIDR: o.clusterCIDR, mode: o.proxyMode, minSyncIntervalMs: o.proxyMinSyncMs, fullSyncIntervalMs: o.proxyFullSyncMs, log: logger('proxy'), informers });
    } catch (e) {
      log.error({ err: (e as Error).message }, 'the service proxy could not start: Services will not be reachable on this node');
    }
  }
  // Cluster DNS (dns/): answers from this agent's own caches on <nodeIP>:<dnsPort> and publishes
  // kube-system/kube-dns-<node>; it starts serving in the background once its caches synced.
  const dnsPort = o.dnsPort ?? AGENT_DEFAULTS.dnsPort;
  const dns = dnsPort > 0 ? startClusterDns({ api, informers, nodeName, nodeIP: node.nodeIP(), port: dnsPort, domain: o.clusterDomain, log: logger('dns') }) : undefined;
  log.info({ node: nodeName, port: server.port }, 'agent started');

  return {
    nodeName,
    port: server.port,
    kubelet,
    async close() {
      await dns?.close();
      await proxy?.stop();
      await Promise.all([informers.services.stop(), informers.slices.stop()]);
      statics?.stop();
      await routes.stop();
      await kubelet?.stop();
      await node.stop();
      await server.close();
      api.close();
    },
  };
}
