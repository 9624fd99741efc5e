/**
 * `skiff server`: opens the store, makes the PKI and tokens on first start,
 * creates the system namespaces, serves the API over HTTPS and writes the admin
 * kubeconfig. Returns a handle whose close() stops everything in order.
 */
import { createServer, type Server } from 'node:https';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import { logger } from '../common/log.js';
import { StatusError } from '../common/errors.js';
import { formatJoinToken } from '../common/jointoken.js';
import { createApp } from './apiserver/app.js';
import { Authenticator, ensureTokens, type Tokens } from './apiserver/auth.js';
import { ensureKubeletClientCert, ensurePki } from './apiserver/pki.js';
import { createNodeProxy } from './apiserver/nodeproxy.js';
import { setPodStreamer } from './apiserver/subresources.js';
import { Registry } from './apiserver/registry.js';
import { findResource } from './apiserver/resources.js';
import { SYSTEM_NAMESPACES } from './apiserver/namespaces.js';
import { openStore } from './store/index.js';
import { clientConfig } from './client.js';
import { startScheduler } from './scheduler/index.js';
import { startControllers } from './controllers/index.js';
import type { Store } from './store/types.js';
import { apiEndpointAddress, BuiltinServicesReconciler, reconcileBuiltins } from './builtin-services.js';
import { defaultNodeIP } from '../agent/node/nodeinfo.js';

export interface ServerOptions {
  dataDir: string;
  bindAddress: string;
  port: number;
  clusterCidr: string;
  serviceCidr: string;
  /** Where to write the admin kubeconfig (besides <dataDir>/admin.kubeconfig). */
  writeKubeconfig?: string;
  /** Address written into kubeconfigs; defaults to 127.0.0.1 for a wildcard bind. */
  advertiseAddress?: string;
  bookmarkIntervalMs?: number;
  compactIntervalMs?: number;
  keepRevisions?: number;
  /** tolerationSeconds of the not-ready/unreachable tolerations admission adds to pods (default 300). */
  defaultTolerationSeconds?: number;
  /** Run without the embedded scheduler / controller manager (e.g. when another server runs them). */
  disableScheduler?: boolean;
  disableControllers?: boolean;
  /** A node whose lease is not renewed for this long becomes Unknown (default 40). */
  nodeMonitorGracePeriodSeconds?: number;
  /** Finished pods kept before pod GC deletes the oldest (default 12500). */
  terminatedPodGcThreshold?: number;
}

export interface RunningServer {
  url: string;
  port: number;
  tokens: Tokens;
  caCert: string;
  kubeconfigPath: string;
  store: Store;
  registry: Registry;
  close(): Promise<void>;
}

import { DEFAULTS } from './settings.js';
export { DEFAULTS };

export function kubeconfig(server: string, caCert: string, token: string, user = 'admin'): string {
  const ca = Buffer.from(caCert).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: skiff',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${ca}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: skiff',
    '  context:',
    '    cluster: skiff',
    `    user: ${user}`,
    'current-context: skiff',
    '',
  ].join('\n');
}

/**
 * <dataDir>/node-token (0600): the full join token `K10<ca-sha256>::<node secret>`
 * that agents are given (`skiff agent --token-file`, `skiff install --role agent`).
 * Rewritten only when its content differs (a re-issued CA changes the hash).
 */
function ensureJoinTokenFile(dataDir: string, caCert: string, secret: string): void {
  const f = join(dataDir, 'node-token');
  const want = `${formatJoinToken(caCert, secret)}\n`;
  if (existsSync(f) && readFileSync(f, 'utf8') === want) return;
  writeFileSync(f, want, { mode: 0o600 });
  chmodSync(f, 0o600);
}

async function bootstrap(reg: Registry): Promise<void> {
  const namespaces = findResource('', 'v1', 'namespaces')!;
  for (const name of SYSTEM_NAMESPACES) {
    try {
      await reg.create(namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    } catch (e) {
      if (!(e instanceof StatusError && e.code === 409)) throw e;
    }
  }
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const log = logger('apiserver');
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const advertise = opts.advertiseAddress ?? (['0.0.0.0', '::', ''].includes(opts.bindAddress) ? '127.0.0.1' : opts.bindAddress);
  const pki = await ensurePki(opts.dataDir, [opts.bindAddress, advertise, hostname(), '10.96.0.1']);
  const kubeletClient = await ensureKubeletClientCert(pki);
  const tokens = ensureTokens(opts.dataDir);
  ensureJoinTokenFile(opts.dataDir, pki.caCert, tokens.node);
  const auth = new Authenticator(tokens);
  const store = await openStore('sqlite', join(opts.dataDir, 'state.db'));
  const stopCompactor = store.startCompactor({ intervalMs: opts.compactIntervalMs ?? 60_000, keepRevisions: opts.keepRevisions ?? 10_000 });
  const registry = new Registry(store, log, { serviceCidr: opts.serviceCidr, defaultTolerationSeconds: opts.defaultTolerationSeconds });
  await registry.init(findResource('', 'v1', 'services')!);
  await bootstrap(registry);
  // The kubernetes and kube-dns Services take their addresses before anyone else can ask for them.
  await reconcileBuiltins(registry, { serviceCidr: opts.serviceCidr, apiPort: opts.port || DEFAULTS.port }, logger('builtin-services'));

  let port = opts.port;
  const app = createApp({
    registry,
    auth,
    log,
    get serverAddress() {
      return `${advertise}:${port}`;
    },
    watch: { bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 15_000, bufferSize: 1000 },
    ready: async () => {
      await store.currentRevision();
      return true;
    },
    caCert: pki.caCert,
  });
  const server: Server = createServer({ key: pki.servingKey, cert: pki.servingCert }, app);
  server.keepAliveTimeout = 65_000;
  // pods/log and pods/exec reach the node's agent; exec arrives as an upgrade, which express never sees.
  const nodeProxy = createNodeProxy({ registry, auth, log, clientCert: kubeletClient.cert, clientKey: kubeletClient.key });
  setPodStreamer(nodeProxy.streamer);
  server.on('upgrade', nodeProxy.handleUpgrade);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.bindAddress, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const url = `https://${advertise.includes(':') ? `[${advertise}]` : advertise}:${port}`;
  const config = kubeconfig(url, pki.caCert, tokens.admin);
  const kubeconfigPath = join(opts.dataDir, 'admin.kubeconfig');
  writeFileSync(kubeconfigPath, config, { mode: 0o600 });
  if (opts.writeKubeconfig) {
    mkdirSync(dirname(opts.writeKubeconfig), { recursive: true });
    writeFileSync(opts.writeKubeconfig, config, { mode: 0o600 });
  }
  log.info({ url, dataDir: opts.dataDir }, 'API server listening');

  const sockets = new Set<import('node:net').Socket>();
  server.on('secureConnection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  // The scheduler and controllers are clients like any other, over loopback HTTPS.
  const local = ['0.0.0.0', '::', ''].includes(opts.bindAddress) ? '127.0.0.1' : opts.bindAddress;
  const kc = clientConfig(`https://${local.includes(':') ? `[${local}]` : local}:${port}`, pki.caCert, tokens.admin, 'skiff-control-plane');
  const components: { name: string; stop(): Promise<void> }[] = [];
  const endpointAddress = apiEndpointAddress({ advertiseAddress: opts.advertiseAddress, bindAddress: opts.bindAddress, hostIP: await defaultNodeIP() });
  const builtins = new BuiltinServicesReconciler(registry, { serviceCidr: opts.serviceCidr, apiPort: port, endpointAddress }, logger('builtin-services'));
  await builtins.start();
  components.push({ name: 'builtin-services', stop: () => builtins.stop() });
  if (!opts.disableControllers) {
    const c = await startControllers({
      kubeconfig: kc,
      clusterCidr: opts.clusterCidr,
      nodeMonitorGracePeriodSeconds: opts.nodeMonitorGracePeriodSeconds,
      terminatedPodGcThreshold: opts.terminatedPodGcThreshold,
    });
    components.push({ name: 'controllers', stop: () => c.stop() });
  }
  if (!opts.disableScheduler) {
    const sch = await startScheduler({ kubeconfig: kc });
    components.push({ name: 'scheduler', stop: () => sch.stop() });
  }

  return {
    url,
    port,
    tokens,
    caCert: pki.caCert,
    kubeconfigPath,
    store,
    registry,
    async close() {
      for (const c of components.reverse()) {
        await c.stop().catch((e) => log.warn({ err: e, component: c.name }, 'stopping component failed'));
      }
      stopCompactor();
      setPodStreamer(undefined);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Watches are long-lived: end their connections so close() completes.
        for (const s of sockets) s.destroy();
      });
      await store.close();
      log.info('API server stopped');
    },
  };
}
