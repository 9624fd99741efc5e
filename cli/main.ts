/**
 * `skiff`: the one command for servers, agents and labs. Each subcommand parses
 * its own flags; bad usage prints one line and exits 2.
 */
import { parseArgs } from 'node:util';
import { isLogLevel, setLogLevel } from '../common/log.js';
import { runDoctor } from './doctor.js';
import { runDown, runKubeconfig, runUp } from './up.js';
import { INSTALL_FLAGS, INSTALL_HELP, INSTALL_SUMMARY, InstallUsageError, parseInstallFlags } from './install-plan.js';
import { LAB_HELP, LAB_SUMMARY, runLab } from './lab/command.js';
import { DEFAULTS } from '../controlplane/settings.js';
import { AGENT_DEFAULTS } from '../agent/settings.js';

interface Command {
  summary: string;
  help: string;
  run(args: string[]): Promise<number>;
}

const LOG_HELP = '  --log-level LEVEL     fatal|error|warn|info|debug|trace|silent (default info)';

type FlagSpec = Record<string, { type: 'string' | 'boolean' }>;
type FlagValues = Record<string, string | undefined> & { help?: boolean };

function flags(args: string[], options: FlagSpec): FlagValues {
  const { values } = parseArgs({ args, options: { ...options, help: { type: 'boolean' }, 'log-level': { type: 'string' } }, allowPositionals: false, strict: true });
  const v = values as Record<string, string | boolean | undefined>;
  const lvl = v['log-level'];
  if (typeof lvl === 'string') {
    if (!isLogLevel(lvl)) throw new UsageError(`invalid --log-level "${lvl}"`);
    setLogLevel(lvl);
  }
  return v as FlagValues;
}

class UsageError extends Error {}

function intFlag(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) > 65535) throw new UsageError(`--${name} must be a port number, got "${v}"`);
  return Number(v);
}

const SERVER_FLAGS = {
  'data-dir': { type: 'string' },
  'bind-address': { type: 'string' },
  port: { type: 'string' },
  'write-kubeconfig': { type: 'string' },
  'advertise-address': { type: 'string' },
  'cluster-cidr': { type: 'string' },
  'service-cidr': { type: 'string' },
  'compaction-interval': { type: 'string' },
  'compaction-keep': { type: 'string' },
  'bookmark-interval': { type: 'string' },
  'default-toleration-seconds': { type: 'string' },
  'disable-scheduler': { type: 'boolean' },
  'disable-controllers': { type: 'boolean' },
  'node-monitor-grace-period': { type: 'string' },
  'terminated-pod-gc-threshold': { type: 'string' },
} satisfies FlagSpec;

/** `500ms`, `10s`, `5m` → milliseconds. */
function durationFlag(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const m = /^(\d+)(ms|s|m)$/.exec(v);
  if (!m) throw new UsageError(`--${name} must be a duration like 500ms, 10s or 5m, got "${v}"`);
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
}

function countFlag(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--${name} must be a positive integer, got "${v}"`);
  return Number(v);
}

/** The service proxy's tuning, shared by `skiff agent` and `skiff proxy`. */
const PROXY_TUNING_FLAGS = {
  'proxy-mode': { type: 'string' },
  'proxy-min-sync-period': { type: 'string' },
  'proxy-full-sync-period': { type: 'string' },
} satisfies FlagSpec;

const PROXY_TUNING_HELP = `  --proxy-mode M          auto (default: nftables when the host's iptables backend is nf_tables
                          and nft is installed, else iptables on the host's backend), nftables, iptables
  --proxy-min-sync-period D
                          least time between two proxy syncs: changes within it are batched (default 1s)
  --proxy-full-sync-period D
                          full resync period, repairing rules changed behind the proxy's back (default 30s)`;

function proxyTuning(f: FlagValues): { mode: 'auto' | 'nftables' | 'iptables'; minSyncMs: number; fullSyncMs: number } {
  const mode = f['proxy-mode'] ?? 'auto';
  if (mode !== 'auto' && mode !== 'nftables' && mode !== 'iptables') throw new UsageError(`--proxy-mode must be auto, nftables or iptables, got "${mode}"`);
  const fullSyncMs = durationFlag(f['proxy-full-sync-period'], 'proxy-full-sync-period', 30_000);
  if (fullSyncMs < 1000) throw new UsageError('--proxy-full-sync-period must be at least 1s');
  return { mode, minSyncMs: durationFlag(f['proxy-min-sync-period'], 'proxy-min-sync-period', 1000), fullSyncMs };
}

const AGENT_FLAGS = {
  server: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  'ca-file': { type: 'string' },
  kubeconfig: { type: 'string' },
  'node-name': { type: 'string' },
  'node-ip': { type: 'string' },
  'data-dir': { type: 'string' },
  port: { type: 'string' },
  'pod-manifest-path': { type: 'string' },
  'cluster-cidr': { type: 'string' },
  'service-cidr': { type: 'string' },
  'cluster-dns': { type: 'string' },
  'cluster-domain': { type: 'string' },
  'reserved-cpu': { type: 'string' },
  'reserved-memory': { type: 'string' },
  'dns-port': { type: 'string' },
  ...PROXY_TUNING_FLAGS,
  'disable-proxy': { type: 'boolean' },
} satisfies FlagSpec;

const commands: Record<string, Command> = {
  server: {
    summary: 'run the control plane (API server on an embedded SQLite store) in the foreground',
    help: `Usage: skiff server [flags]

Runs the Kubernetes API server over HTTPS, storing everything in SQLite under the data dir.
On first start it creates the cluster CA, the serving certificate, the admin and node-join
tokens, and writes the admin kubeconfig.

Flags:
  --data-dir DIR          state: store, CA and keys, tokens (default ${DEFAULTS.dataDir})
  --bind-address ADDR     address to listen on (default ${DEFAULTS.bindAddress})
  --port PORT             HTTPS port (default ${DEFAULTS.port}; 0 picks a free one)
  --advertise-address A   address written into kubeconfigs (default 127.0.0.1 for a wildcard bind)
  --write-kubeconfig F    also write the admin kubeconfig here (\`skiff up\` uses ${DEFAULTS.kubeconfig});
                          it is always written to <data-dir>/admin.kubeconfig
  --cluster-cidr CIDR     pod network, one /24 per node (default ${DEFAULTS.clusterCidr})
  --service-cidr CIDR     Service ClusterIPs (default ${DEFAULTS.serviceCidr})
  --compaction-interval D how often old revisions are compacted (default 1m)
  --compaction-keep N     revisions kept for watches to resume from (default 10000)
  --bookmark-interval D   watch bookmark interval for clients that allow them (default 15s)
  --default-toleration-seconds N
                          tolerationSeconds of the not-ready/unreachable tolerations added to
                          every pod (default 300; labs use short ones)
  --node-monitor-grace-period D
                          a node whose lease is not renewed for this long is marked Unknown
                          and tainted (default 40s)
  --terminated-pod-gc-threshold N
                          finished pods kept before the oldest are deleted (default 12500)
  --disable-scheduler     do not run the embedded scheduler
  --disable-controllers   do not run the embedded controller manager
${LOG_HELP}`,
    async run(args) {
      const f = flags(args, SERVER_FLAGS);
      if (f.help) return help('server');
      // Loaded on demand: an agent process must not carry the server's modules (and vice versa).
      const { startServer } = await import('../controlplane/server.js');
      const srv = await startServer({
        dataDir: f['data-dir'] ?? DEFAULTS.dataDir,
        bindAddress: f['bind-address'] ?? DEFAULTS.bindAddress,
        port: intFlag(f.port, 'port', DEFAULTS.port),
        advertiseAddress: f['advertise-address'],
        writeKubeconfig: f['write-kubeconfig'],
        clusterCidr: f['cluster-cidr'] ?? DEFAULTS.clusterCidr,
        serviceCidr: f['service-cidr'] ?? DEFAULTS.serviceCidr,
        compactIntervalMs: durationFlag(f['compaction-interval'], 'compaction-interval', 60_000),
        keepRevisions: countFlag(f['compaction-keep'], 'compaction-keep', 10_000),
        bookmarkIntervalMs: durationFlag(f['bookmark-interval'], 'bookmark-interval', 15_000),
        defaultTolerationSeconds: countFlag(f['default-toleration-seconds'], 'default-toleration-seconds', 300),
        nodeMonitorGracePeriodSeconds: durationFlag(f['node-monitor-grace-period'], 'node-monitor-grace-period', 40_000) / 1000,
        terminatedPodGcThreshold: countFlag(f['terminated-pod-gc-threshold'], 'terminated-pod-gc-threshold', 12_500),
        disableScheduler: (f as Record<string, unknown>)['disable-scheduler'] === true,
        disableControllers: (f as Record<string, unknown>)['disable-controllers'] === true,
      });
      // Machine-readable line for scripts and tests that start a server on port 0.
      process.stdout.write(`skiff server ready ${srv.url} kubeconfig=${srv.kubeconfigPath}\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => resolve();
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      // A clean stop must not hang on a stuck client: past the deadline, exit anyway.
      setTimeout(() => process.exit(1), 10_000).unref();
      await srv.close();
      process.exit(0);
    },
  },
  agent: {
    summary: 'run the node agent (kubelet on Docker, CNI networking) in the foreground',
    help: `Usage: skiff agent --server URL (--token T | --token-file F) --ca-file F [flags]
       skiff agent --kubeconfig F [flags]

Registers this host as a Node and runs the pods the scheduler binds to it as Docker
containers, each pod in its own network namespace on the skiff0 bridge.

Flags:
  --server URL            API server, e.g. https://192.168.56.10:6443
  --token T               node-join token (the server's <data-dir>/tokens.json "node")
  --token-file F          read the token from a file instead
  --ca-file F             the cluster CA certificate (the server's <data-dir>/pki/ca.crt)
  --kubeconfig F          credentials from a kubeconfig instead of the three flags above
  --node-name N           Node name (default: this host's name, lowercased)
  --node-ip IP            address other nodes and the API server reach this node on
                          (default: the source address of the default route)
  --data-dir DIR          agent state: pods' volumes, CNI results, serving cert
                          (default ${AGENT_DEFAULTS.dataDir})
  --port PORT             the agent's HTTPS port for logs and exec (default ${AGENT_DEFAULTS.port}; 0 picks one)
  --pod-manifest-path D   static pod manifests (default ${AGENT_DEFAULTS.manifests})
  --cluster-cidr CIDR     pod network of the whole cluster (default ${AGENT_DEFAULTS.clusterCIDR})
  --service-cidr CIDR     Service ClusterIPs, routed to a local dummy device (default ${AGENT_DEFAULTS.serviceCIDR})
  --cluster-dns IP        nameserver for ClusterFirst pods (default ${AGENT_DEFAULTS.clusterDNS})
  --cluster-domain D      (default ${AGENT_DEFAULTS.clusterDomain})
  --reserved-cpu Q        kept back from allocatable for the system (default ${AGENT_DEFAULTS.reservedCpu})
  --reserved-memory Q     (default ${AGENT_DEFAULTS.reservedMemory})
  --dns-port PORT         the node-local cluster DNS server, UDP and TCP on the node IP and 127.0.0.1,
                          reached by pods through the kube-dns Service (default ${AGENT_DEFAULTS.dnsPort}; 0 disables)
  --disable-proxy         do not run the service proxy (run \`skiff proxy\` or another proxy instead)
${PROXY_TUNING_HELP}
${LOG_HELP}`,
    async run(args) {
      const f = flags(args, AGENT_FLAGS);
      const tuning = proxyTuning(f);
      if (f.help) return help('agent');
      const { startAgent } = await import('../agent/agent.js');
      const a = await startAgent({
        server: f.server,
        token: f.token,
        tokenFile: f['token-file'],
        caFile: f['ca-file'],
        kubeconfig: f.kubeconfig,
        nodeName: f['node-name'],
        nodeIP: f['node-ip'],
        dataDir: f['data-dir'] ?? AGENT_DEFAULTS.dataDir,
        port: intFlag(f.port, 'port', AGENT_DEFAULTS.port),
        manifests: f['pod-manifest-path'] ?? AGENT_DEFAULTS.manifests,
        clusterCIDR: f['cluster-cidr'] ?? AGENT_DEFAULTS.clusterCIDR,
        serviceCIDR: f['service-cidr'] ?? AGENT_DEFAULTS.serviceCIDR,
        clusterDNS: f['cluster-dns'] ?? AGENT_DEFAULTS.clusterDNS,
        clusterDomain: f['cluster-domain'] ?? AGENT_DEFAULTS.clusterDomain,
        reservedCpu: f['reserved-cpu'] ?? AGENT_DEFAULTS.reservedCpu,
        reservedMemory: f['reserved-memory'] ?? AGENT_DEFAULTS.reservedMemory,
        dnsPort: intFlag(f['dns-port'], 'dns-port', AGENT_DEFAULTS.dnsPort),
        disableProxy: (f as Record<string, unknown>)['disable-proxy'] === true,
        proxyMode: tuning.mode,
        proxyMinSyncMs: tuning.minSyncMs,
        proxyFullSyncMs: tuning.fullSyncMs,
      });
      process.stdout.write(`skiff agent ready node=${a.nodeName} port=${a.port}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', () => resolve());
        process.once('SIGINT', () => resolve());
      });
      setTimeout(() => process.exit(1), 10_000).unref();
      // Pods keep running: a stopped agent leaves its containers to the next one (adoption).
      await a.close();
      process.exit(0);
    },
  },
  proxy: {
    summary: 'run the service proxy alone (Services -> nftables/iptables on this host) in the foreground',
    help: `Usage: skiff proxy --server URL (--token T | --token-file F) --ca-file F [flags]
       skiff proxy --kubeconfig F [flags]

Watches Services and EndpointSlices and programs this host so that ClusterIPs, NodePorts
and external IPs reach their ready endpoints. \`skiff agent\` runs the same proxy unless
given --disable-proxy: run only one proxy per host.

Flags:
  --server URL            API server, e.g. https://192.168.56.10:6443
  --token T               node-join token
  --token-file F          read the token from a file instead
  --ca-file F             the cluster CA certificate
  --kubeconfig F          credentials from a kubeconfig instead of the three flags above
  --node-name N           this node's name: endpoints on it are local for the Local traffic
                          policies (default: this host's name, lowercased)
  --node-ip IP            serve NodePorts on this address (and 127.0.0.1) only
                          (default: on every local address)
  --cluster-cidr CIDR     pod network: ClusterIP traffic from outside it is masqueraded
                          (default ${AGENT_DEFAULTS.clusterCIDR})
${PROXY_TUNING_HELP}
${LOG_HELP}`,
    async run(args) {
      const f = flags(args, { server: { type: 'string' }, token: { type: 'string' }, 'token-file': { type: 'string' }, 'ca-file': { type: 'string' }, kubeconfig: { type: 'string' }, 'node-name': { type: 'string' }, 'node-ip': { type: 'string' }, 'cluster-cidr': { type: 'string' }, ...PROXY_TUNING_FLAGS });
      if (f.help) return help('proxy');
      const tuning = proxyTuning(f);
      const { resolveCredentials } = await import('../agent/agent.js');
      const { runProxy } = await import('../agent/proxy/standalone.js');
      const p = await runProxy({
        credentials: await resolveCredentials({ server: f.server, token: f.token, tokenFile: f['token-file'], caFile: f['ca-file'], kubeconfig: f.kubeconfig }),
        nodeName: f['node-name'],
        nodeIP: f['node-ip'],
        clusterCIDR: f['cluster-cidr'] ?? AGENT_DEFAULTS.clusterCIDR,
        mode: tuning.mode,
        minSyncIntervalMs: tuning.minSyncMs,
        fullSyncIntervalMs: tuning.fullSyncMs,
      });
      process.stdout.write(`skiff proxy ready mode=${p.mode} node=${p.nodeName}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', () => resolve());
        process.once('SIGINT', () => resolve());
      });
      setTimeout(() => process.exit(1), 10_000).unref();
      // The rules stay: a restarted proxy takes over from them; \`skiff down\` removes them.
      await p.stop();
      process.exit(0);
    },
  },
  up: {
    summary: 'bring up a cluster on this host (in the background) and wait until it answers',
    help: `Usage: skiff up [flags]

Starts the control plane and this host's agent in the background (logs in /var/log/skiff),
waits until the node is Ready, writes ${DEFAULTS.kubeconfig} and, when none exists,
~/.kube/config. Running it again while the cluster is up changes nothing.

Flags:
  --data-dir DIR    server state (default ${DEFAULTS.dataDir})
  --port PORT       HTTPS port (default ${DEFAULTS.port})
  --node-name N     this node's name (default: the host name)
  --no-agent        run the control plane only
${LOG_HELP}`,
    async run(args) {
      const f = flags(args, { 'data-dir': { type: 'string' }, port: { type: 'string' }, 'node-name': { type: 'string' }, 'no-agent': { type: 'boolean' } });
      if (f.help) return help('up');
      return runUp({
        dataDir: f['data-dir'] ?? DEFAULTS.dataDir,
        port: intFlag(f.port, 'port', DEFAULTS.port),
        nodeName: f['node-name'],
        noAgent: (f as Record<string, unknown>)['no-agent'] === true,
      });
    },
  },
  down: {
    summary: 'stop what `skiff up` started on this host (state is kept)',
    help: `Usage: skiff down

Stops the agent and the server \`skiff up\` started, by their recorded PIDs, then removes
the pods' containers (releasing their IPs) and Skiff's host network rules. The cluster
state in ${DEFAULTS.dataDir} is kept: \`skiff up\` starts the same pods again.`,
    async run(args) {
      const f = flags(args, {});
      if (f.help) return help('down');
      return runDown();
    },
  },
  kubeconfig: {
    summary: 'print the admin kubeconfig',
    help: `Usage: skiff kubeconfig [--data-dir DIR]

Prints the admin kubeconfig of the server whose state is in DIR (default ${DEFAULTS.dataDir}).`,
    async run(args) {
      const f = flags(args, { 'data-dir': { type: 'string' } });
      if (f.help) return help('kubeconfig');
      return runKubeconfig(f['data-dir'] ?? DEFAULTS.dataDir);
    },
  },
  lab: {
    summary: LAB_SUMMARY,
    help: LAB_HELP,
    // Subcommands and their flags are parsed in cli/lab/command.ts.
    run: (args) => runLab(args),
  },
  install: {
    summary: INSTALL_SUMMARY,
    help: INSTALL_HELP,
    async run(args) {
      const f = flags(args, INSTALL_FLAGS);
      if (f.help) return help('install');
      let o;
      try {
        o = parseInstallFlags(f);
      } catch (e) {
        if (e instanceof InstallUsageError) throw new UsageError(e.message);
        throw e;
      }
      const { runInstall } = await import('./install.js');
      return runInstall(o);
    },
  },
  images: {
    summary: 'build the local images the agent runs (busybox, the pod sandbox) if missing',
    help: `Usage: skiff images

Builds skiff.local/busybox:1.35 (also tagged busybox:1.35) and the pod sandbox image
skiff.local/pause:1.0 from Debian's busybox-static, unless they are current. The agent does
this at start; the test script runs it first, as some tests use the images without an agent.`,
    async run(args) {
      const f = flags(args, {});
      if (f.help) return help('images');
      const { connectDocker } = await import('../agent/runtime/dockerode.js');
      const { ensureLocalImages } = await import('../agent/host/images.js');
      const { logger } = await import('../common/log.js');
      const r = await ensureLocalImages(connectDocker(), logger('images'));
      process.stdout.write(`skiff: local images ${r.built.length ? `built (${r.built.join(', ')})` : 'current'} in ${Math.round(r.ms)} ms\n`);
      return 0;
    },
  },
  doctor: {
    summary: 'check this host for what Skiff needs, and say how to fix what is missing',
    help: `Usage: skiff doctor

Checks Node.js, openssl, kubectl, the data directory and the API port, and prints one line
per check with a fix for each failure. Exits 1 when something required is missing.`,
    async run(args) {
      const f = flags(args, {});
      if (f.help) return help('doctor');
      return runDoctor();
    },
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`);
  return `Usage: skiff <command> [flags]

Skiff: a Kubernetes-compatible container orchestrator for Linux hosts.

Commands:
${lines.join('\n')}

Run 'skiff <command> --help' for a command's flags.`;
}

function help(cmd: string): number {
  process.stdout.write(`${commands[cmd].help}\n`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(`${usage()}\n`);
    return cmd ? 0 : 2;
  }
  const c = commands[cmd];
  if (!c) {
    process.stderr.write(`skiff: unknown command "${cmd}" (see 'skiff --help')\n`);
    return 2;
  }
  try {
    return await c.run(rest);
  } catch (e) {
    const err = e as Error & { code?: string };
    if (e instanceof UsageError || err.code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`skiff ${cmd}: ${err.message} (see 'skiff ${cmd} --help')\n`);
      return 2;
    }
    process.stderr.write(`skiff ${cmd}: ${err.message}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`skiff: ${(e as Error).message}\n`);
    process.exitCode = 1;
  },
);
