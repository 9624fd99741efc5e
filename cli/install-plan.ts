/**
 * `skiff install`'s decisions, pure: flags -> validated options, the paths it
 * writes (under an optional alternate root), the argument lists of the two
 * services, the env files the units read, and Docker's daemon.json merge.
 * cli/install.ts does the I/O.
 *
 * Interfaces other parts rely on (see systemd/README.md):
 * - /etc/skiff/server.env: `SKIFF_SERVER_ARGS="<skiff server flags>"`
 * - /etc/skiff/agent.env: `SKIFF_AGENT_ARGS="<skiff agent flags>"`
 * - /etc/skiff/node-token (0600): the join token an agent was given;
 *   /etc/skiff/ca.crt: the CA, when one was given with --ca-file.
 * Every flag word is restricted to a safe character set, so the env files need
 * no escaping and systemd splits `$SKIFF_*_ARGS` exactly into those words.
 */
import { posix } from 'node:path';
import { DEFAULTS } from '../controlplane/settings.js';

export const INSTALL_FLAGS = {
  role: { type: 'string' },
  server: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  'ca-file': { type: 'string' },
  'node-ip': { type: 'string' },
  'node-name': { type: 'string' },
  'advertise-address': { type: 'string' },
  prefix: { type: 'string' },
  'server-args': { type: 'string' },
  'agent-args': { type: 'string' },
  'no-agent': { type: 'boolean' },
  'no-start': { type: 'boolean' },
  'skip-setup': { type: 'boolean' },
  root: { type: 'string' },
} as const;

export const DEFAULT_PREFIX = '/opt/skiff';

export interface InstallOptions {
  role: 'server' | 'agent';
  /** Agent role: the API server URL. */
  server?: string;
  token?: string;
  tokenFile?: string;
  caFile?: string;
  nodeIP?: string;
  nodeName?: string;
  advertiseAddress?: string;
  /** Where the build is installed (default /opt/skiff); the checkout itself when equal. */
  prefix: string;
  /** Alternate filesystem root (an image being built): nothing is started, host setup is skipped. */
  root: string;
  /** Server role: also run an agent on this node (default true). */
  withAgent: boolean;
  /** Write and enable, start nothing. */
  noStart: boolean;
  /** Do not run scripts/setup.sh (packages, npm, build, CNI plugin). */
  skipSetup: boolean;
  extraServerArgs: string[];
  extraAgentArgs: string[];
}

export class InstallUsageError extends Error {}

/** One word of a service's command line: what may appear unquoted in an env file and in ExecStart. */
const SAFE_WORD = /^[A-Za-z0-9_./:,=@+-]+$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const DNS_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function words(v: string | undefined, flag: string): string[] {
  if (!v) return [];
  const w = v.trim().split(/\s+/).filter(Boolean);
  const bad = w.find((x) => !SAFE_WORD.test(x));
  if (bad !== undefined) throw new InstallUsageError(`--${flag}: "${bad}" has characters other than [A-Za-z0-9_./:,=@+-] (no quoting is supported)`);
  return w;
}

function absPath(v: string, flag: string): string {
  if (!posix.isAbsolute(v) || !SAFE_WORD.test(v) || v.split('/').includes('..')) throw new InstallUsageError(`--${flag} must be an absolute path of [A-Za-z0-9_./:,=@+-] without "..", got "${v}"`);
  return posix.normalize(v).replace(/(.)\/$/, '$1');
}

/** Validates the flags (values as parseArgs gives them); throws InstallUsageError with a one-line reason. */
export function parseInstallFlags(v: Record<string, string | boolean | undefined>): InstallOptions {
  const s = (k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const b = (k: string): boolean => v[k] === true;
  const role = s('role');
  if (role !== 'server' && role !== 'agent') throw new InstallUsageError(role === undefined ? '--role server|agent is required' : `--role must be server or agent, got "${role}"`);
  const only = (flags: string[], r: string): void => {
    const f = flags.find((x) => v[x] !== undefined);
    if (f) throw new InstallUsageError(`--${f} is for --role ${r}`);
  };
  if (role === 'server') only(['server', 'token', 'token-file', 'ca-file'], 'agent (a server makes its own CA and join token)');
  else only(['advertise-address', 'server-args', 'no-agent'], 'server');

  const server = s('server');
  if (role === 'agent') {
    if (!server) throw new InstallUsageError('--server https://HOST:PORT is required for --role agent');
    let u: URL;
    try {
      u = new URL(server);
    } catch {
      throw new InstallUsageError(`--server must be a URL like https://192.168.56.10:6443, got "${server}"`);
    }
    if (u.protocol !== 'https:' || u.pathname !== '/' || u.search || u.username || !SAFE_WORD.test(server)) throw new InstallUsageError(`--server must be https://HOST[:PORT], got "${server}"`);
    if ((s('token') === undefined) === (s('token-file') === undefined)) throw new InstallUsageError('exactly one of --token or --token-file is required for --role agent (the server\'s <data-dir>/node-token)');
  }
  const nodeIP = s('node-ip');
  if (nodeIP !== undefined && !IPV4.test(nodeIP)) throw new InstallUsageError(`--node-ip must be an IPv4 address, got "${nodeIP}"`);
  const adv = s('advertise-address');
  if (adv !== undefined && !IPV4.test(adv) && !DNS_NAME.test(adv)) throw new InstallUsageError(`--advertise-address must be an IPv4 address or a DNS name, got "${adv}"`);
  const nodeName = s('node-name');
  if (nodeName !== undefined && !DNS_NAME.test(nodeName)) throw new InstallUsageError(`--node-name must be a lowercase DNS subdomain, got "${nodeName}"`);
  const prefix = absPath(s('prefix') ?? DEFAULT_PREFIX, 'prefix');
  if (prefix === '/' || /^\/(usr|etc|var|bin|sbin|lib|lib64|boot|dev|proc|sys|run|tmp|home|root)$/.test(prefix)) throw new InstallUsageError(`--prefix ${prefix} is a system directory: use a directory of its own such as ${DEFAULT_PREFIX}`);
  const token = s('token');
  if (token !== undefined && !SAFE_WORD.test(token.trim())) throw new InstallUsageError('--token has characters a join token never has');
  return {
    role,
    server: server?.replace(/\/$/, ''),
    token: token?.trim(),
    // Input files are read, never written into the env files: any path works.
    tokenFile: s('token-file'),
    caFile: s('ca-file'),
    nodeIP,
    nodeName,
    advertiseAddress: adv,
    prefix,
    root: s('root') !== undefined ? absPath(s('root')!, 'root') : '/',
    withAgent: !b('no-agent'),
    noStart: b('no-start'),
    skipSetup: b('skip-setup'),
    extraServerArgs: words(s('server-args'), 'server-args'),
    extraAgentArgs: words(s('agent-args'), 'agent-args'),
  };
}

/** Every path install writes, inside `root` (`/` normally). */
export interface InstallPaths {
  root: string;
  prefix: string;
  etc: string;
  serverEnv: string;
  agentEnv: string;
  nodeToken: string;
  caFile: string;
  units: string;
  bin: string;
  daemonJson: string;
  cniBin: string;
  cniLib: string;
}

/** `p` as seen from outside the root (the same path when root is /). */
export const inRoot = (root: string, p: string): string => (root === '/' ? p : posix.join(root, p));

export function installPaths(o: Pick<InstallOptions, 'root' | 'prefix'>): InstallPaths {
  const r = (p: string): string => inRoot(o.root, p);
  return {
    root: o.root,
    prefix: r(o.prefix),
    etc: r('/etc/skiff'),
    serverEnv: r('/etc/skiff/server.env'),
    agentEnv: r('/etc/skiff/agent.env'),
    nodeToken: r('/etc/skiff/node-token'),
    caFile: r('/etc/skiff/ca.crt'),
    units: r('/etc/systemd/system'),
    bin: r('/usr/local/bin/skiff'),
    daemonJson: r('/etc/docker/daemon.json'),
    cniBin: r('/opt/cni/bin'),
    cniLib: r('/usr/local/lib/skiff/cni'),
  };
}

/** The value of `--name V` or `--name=V` in an argument list (the last one wins, as parseArgs does). */
export function flagValue(args: string[], name: string): string | undefined {
  let found: string | undefined;
  args.forEach((a, i) => {
    if (a === `--${name}` && i + 1 < args.length) found = args[i + 1];
    else if (a.startsWith(`--${name}=`)) found = a.slice(name.length + 3);
  });
  return found;
}

/** `skiff server` flags. The advertise address defaults to --node-ip (kubeconfigs and the cert's SANs carry it). */
export function serverArgs(o: InstallOptions): string[] {
  const adv = o.advertiseAddress ?? o.nodeIP;
  return ['--data-dir', DEFAULTS.dataDir, ...(adv ? ['--advertise-address', adv] : []), '--write-kubeconfig', DEFAULTS.kubeconfig, ...o.extraServerArgs];
}

/**
 * `skiff agent` flags. On a server node the agent joins over loopback with the
 * files the server writes (its node-token and CA); elsewhere with the token and
 * CA install copied to /etc/skiff (paths as seen inside the root).
 */
export function agentArgs(o: InstallOptions, hasCa: boolean): string[] {
  const ident = [...(o.nodeIP ? ['--node-ip', o.nodeIP] : []), ...(o.nodeName ? ['--node-name', o.nodeName] : [])];
  if (o.role === 'server') {
    const sa = serverArgs(o);
    const dataDir = flagValue(sa, 'data-dir') ?? DEFAULTS.dataDir;
    const port = flagValue(sa, 'port') ?? String(DEFAULTS.port);
    const bind = flagValue(sa, 'bind-address') ?? DEFAULTS.bindAddress;
    const host = ['0.0.0.0', '::', ''].includes(bind) ? '127.0.0.1' : bind;
    return ['--server', `https://${host.includes(':') ? `[${host}]` : host}:${port}`, '--token-file', `${dataDir}/node-token`, '--ca-file', `${dataDir}/pki/ca.crt`, ...ident, ...o.extraAgentArgs];
  }
  return ['--server', o.server!, '--token-file', '/etc/skiff/node-token', ...(hasCa ? ['--ca-file', '/etc/skiff/ca.crt'] : []), ...ident, ...o.extraAgentArgs];
}

/** An env file for a unit's EnvironmentFile= (also valid shell: `. file` works). */
export function envFile(unit: string, variable: string, args: string[]): string {
  return [
    `# Read by ${unit} (EnvironmentFile=). Written by \`skiff install\`: re-run it to change,`,
    `# or edit and \`systemctl restart ${unit}\`. Words of [A-Za-z0-9_./:,=@+-] only, no quoting.`,
    `${variable}="${args.join(' ')}"`,
    '',
  ].join('\n');
}

/** The cgroup driver the agent needs (agent/host/checks.ts): pod cgroups are paths, not systemd slices. */
export const CGROUPFS_OPT = 'native.cgroupdriver=cgroupfs';

/**
 * Docker's /etc/docker/daemon.json with `exec-opts` holding native.cgroupdriver=cgroupfs
 * (any other cgroupdriver option replaced, every other key kept). Throws on a file
 * that is not a JSON object rather than overwrite someone's configuration.
 */
export function mergeDaemonJson(existing: string | undefined): { text: string; changed: boolean } {
  let cfg: Record<string, unknown> = {};
  if (existing !== undefined && existing.trim()) {
    const parsed = JSON.parse(existing) as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('/etc/docker/daemon.json is not a JSON object');
    cfg = parsed as Record<string, unknown>;
  }
  const opts = Array.isArray(cfg['exec-opts']) ? (cfg['exec-opts'] as unknown[]).map(String) : [];
  if (opts.includes(CGROUPFS_OPT) && !opts.some((x) => x.startsWith('native.cgroupdriver=') && x !== CGROUPFS_OPT)) return { text: existing!, changed: false };
  cfg['exec-opts'] = [...opts.filter((x) => !x.startsWith('native.cgroupdriver=')), CGROUPFS_OPT];
  return { text: `${JSON.stringify(cfg, null, 2)}\n`, changed: true };
}

/** The units this install enables, in start order. */
export function unitsFor(o: InstallOptions): string[] {
  return o.role === 'server' ? ['skiff-server.service', ...(o.withAgent ? ['skiff-agent.service'] : [])] : ['skiff-agent.service'];
}

export const INSTALL_SUMMARY = 'provision this host as a server or agent node: packages, build, units, started under systemd';

export const INSTALL_HELP = `Usage: skiff install --role server [--node-ip IP] [--advertise-address A] [flags]
       skiff install --role agent --server URL (--token T | --token-file F) [--ca-file F] [flags]

Provisions this host, as root, from a checkout: Debian packages, npm packages, the build and
the CNI plugin (scripts/setup.sh), the build copied to the prefix with /usr/local/bin/skiff
linked to it, /etc/skiff/{server,agent}.env, Docker's cgroup driver (cgroupfs), and the
systemd units skiff-server.service / skiff-agent.service. With systemd as PID 1 it enables
and starts Docker and the units and waits for the API server; otherwise it enables the units
for the next boot and prints how to start by hand. Running it again changes only what
differs, and restarts only the services whose files changed (pods keep running).

The server writes its join token to /var/lib/skiff/server/node-token: K10<ca-sha256>::<secret>.
An agent given that token fetches the CA from the server and checks it against the hash, so
--ca-file is optional with it (required with a bare secret).

Flags:
  --role server|agent     server: the control plane, and an agent on the same node (unless
                          --no-agent); agent: a worker joining --server
  --server URL            agent: the API server, e.g. https://192.168.56.10:6443
  --token T               agent: the join token (the server's node-token)
  --token-file F          agent: read it from a file (it is copied to /etc/skiff/node-token, 0600)
  --ca-file F             agent: the cluster CA (copied to /etc/skiff/ca.crt)
  --node-ip IP            this node's address for other nodes (default: the default route's
                          source; give it on hosts with several networks, e.g. Vagrant)
  --node-name N           the Node's name (default: the host name)
  --advertise-address A   server: the address in kubeconfigs and the certificate (default --node-ip)
  --prefix DIR            where the build goes (default ${DEFAULT_PREFIX}; the checkout itself is used in place)
  --server-args="..."     server: more \`skiff server\` flags, e.g.
                          --server-args="--node-monitor-grace-period 20s" (with "=", as the
                          value starts with a dash)
  --agent-args="..."      more \`skiff agent\` flags
  --no-agent              server: control plane only, no pods on this node
  --no-start              write and enable, start nothing
  --skip-setup            do not run scripts/setup.sh (packages and build already there)
  --root DIR              install into an image's root filesystem: no host setup, nothing started`;
