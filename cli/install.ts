/**
 * `skiff install --role server|agent ...`: the one provisioning command (the
 * Vagrantfile and the node-container lab use it; nothing is provisioned another
 * way). In order, each step idempotent and skipped when nothing changed:
 *
 * 1. packages, npm, build, CNI plugin, a Docker engine: scripts/setup.sh;
 * 2. the build copied to the prefix (/opt/skiff): bin, scripts, cni, systemd,
 *    dist, node_modules, package files; /usr/local/bin/skiff linked to it.
 *    A copy rather than the checkout in place, because the checkout may be a
 *    folder shared by several machines (Vagrant's /vagrant) or go away; a
 *    checkout that *is* the prefix is used in place;
 * 3. /etc/skiff/{server,agent}.env, the agent's join token and CA;
 * 4. Docker's cgroup driver set to cgroupfs (daemon.json) where systemd runs;
 * 5. the units into /etc/systemd/system; with systemd as PID 1: daemon-reload,
 *    `enable --now` Docker and the units (restarting those whose files changed),
 *    waiting for the API server's /readyz. Without it: the units are enabled for
 *    the next boot and the way to start by hand is printed.
 *
 * `--root DIR` installs into an image being built: no host setup, nothing started.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { caHash, parseJoinToken } from '../common/jointoken.js';
import { DEFAULTS } from '../controlplane/settings.js';
import { agentArgs, envFile, flagValue, installPaths, inRoot, mergeDaemonJson, serverArgs, unitsFor, type InstallOptions, type InstallPaths } from './install-plan.js';

const run = promisify(execFile);
/** The checkout (or installed tree) this CLI runs from: dist/cli/install.js -> root. */
const SOURCE = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUILD_ITEMS = ['bin', 'scripts', 'cni', 'systemd', 'dist', 'node_modules', 'package.json', 'package-lock.json'];
/** Written into the prefix: marks it as ours (never replace a directory that lacks it) and fingerprints its build. */
const MARKER = '.skiff-install.json';

type Say = (msg: string) => void;

/** Writes a file when its content differs (via a temporary file and rename); true when it changed. */
export function writeIfChanged(file: string, content: string, mode: number): boolean {
  if (existsSync(file) && readFileSync(file, 'utf8') === content) {
    chmodSync(file, mode);
    return false;
  }
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
  return true;
}

/** A fingerprint of the build: paths, sizes and mtimes of everything copied (node_modules by its lockfile). */
function fingerprint(src: string): string {
  const h = createHash('sha256');
  const walk = (rel: string): void => {
    const st = lstatSync(join(src, rel));
    h.update(`${rel}\0${st.size}\0${Math.floor(st.mtimeMs)}\n`);
    if (st.isDirectory()) for (const e of readdirSync(join(src, rel)).sort()) walk(join(rel, e));
  };
  for (const item of BUILD_ITEMS) {
    if (item === 'node_modules') walk('node_modules/.package-lock.json');
    else if (existsSync(join(src, item))) walk(item);
  }
  return h.digest('hex');
}

/** Step 2: the build into the prefix. Returns whether anything changed. */
function installBuild(p: InstallPaths, say: Say): boolean {
  for (const need of ['dist/cli/main.js', 'node_modules/.package-lock.json', 'bin/skiff']) {
    if (!existsSync(join(SOURCE, need))) throw new Error(`${join(SOURCE, need)} is missing: build first (scripts/setup.sh)`);
  }
  if (existsSync(p.prefix) && realpathSync(p.prefix) === realpathSync(SOURCE)) {
    say(`using the checkout ${SOURCE} in place (it is the prefix)`);
    return false;
  }
  const fp = fingerprint(SOURCE);
  const marker = join(p.prefix, MARKER);
  if (existsSync(p.prefix)) {
    if (!existsSync(marker) && readdirSync(p.prefix).length > 0) throw new Error(`${p.prefix} exists and was not made by skiff install: refusing to replace it (choose another --prefix)`);
    if (existsSync(marker) && (JSON.parse(readFileSync(marker, 'utf8')) as { fingerprint?: string }).fingerprint === fp) {
      say(`build in ${p.prefix} is up to date`);
      return false;
    }
  }
  say(`copying the build to ${p.prefix}`);
  // Stage next to the prefix, then swap: a half-copied tree is never the installed one.
  const stage = `${p.prefix}.new-${process.pid}`;
  const old = `${p.prefix}.old-${process.pid}`;
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true, mode: 0o755 });
  for (const item of BUILD_ITEMS) {
    if (!existsSync(join(SOURCE, item))) continue;
    // Timestamps kept: setup.sh compares them (a copied lockfile newer than node_modules would trigger npm ci).
    cpSync(join(SOURCE, item), join(stage, item), { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
  }
  writeFileSync(join(stage, MARKER), `${JSON.stringify({ fingerprint: fp, source: SOURCE }, null, 2)}\n`);
  if (existsSync(p.prefix)) renameSync(p.prefix, old);
  renameSync(stage, p.prefix);
  rmSync(old, { recursive: true, force: true });
  return true;
}

/** /usr/local/bin/skiff -> <prefix>/bin/skiff (as seen inside the root). Replaces only a symlink. */
function linkBin(p: InstallPaths, prefixInside: string, say: Say): boolean {
  const target = `${prefixInside}/bin/skiff`;
  let cur: string | undefined;
  try {
    const st = lstatSync(p.bin);
    if (!st.isSymbolicLink()) throw new Error(`${p.bin} exists and is not a symlink: remove it, install links it to ${target}`);
    cur = readlinkSync(p.bin);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (cur === target) return false;
  mkdirSync(dirname(p.bin), { recursive: true });
  if (cur !== undefined) unlinkSync(p.bin);
  symlinkSync(target, p.bin);
  say(`linked ${p.bin} -> ${target}`);
  return true;
}

/**
 * The CNI plugin into an image (on a host, setup.sh installed it): cni/install.sh, then the
 * library path as seen inside the image. Skipped when the installed files are already these.
 */
async function installCniInto(p: InstallPaths, say: Say): Promise<void> {
  const plugin = join(p.cniBin, 'skiff-bridge');
  const want = readFileSync(join(SOURCE, 'cni', 'skiff-bridge'), 'utf8').replace(/^SKIFF_CNI_LIB=.*$/m, 'SKIFF_CNI_LIB=/usr/local/lib/skiff/cni');
  const libs = readdirSync(join(SOURCE, 'cni', 'lib')).filter((f) => f.endsWith('.sh'));
  const same = (a: string, b: string): boolean => existsSync(b) && readFileSync(a, 'utf8') === readFileSync(b, 'utf8');
  if (existsSync(plugin) && readFileSync(plugin, 'utf8') === want && libs.every((f) => same(join(SOURCE, 'cni', 'lib', f), join(p.cniLib, f)))) return;
  await run(join(SOURCE, 'cni', 'install.sh'), [p.cniBin, p.cniLib]);
  writeFileSync(plugin, want, { mode: 0o755 });
  say(`installed the CNI plugin to ${plugin}`);
}

/** The agent's token and CA into /etc/skiff; validates them first (one-line errors). */
function installJoinFiles(o: InstallOptions, p: InstallPaths): { changed: boolean; hasCa: boolean } {
  const token = (o.token ?? readFileSync(o.tokenFile!, 'utf8')).trim();
  let parsed;
  try {
    parsed = parseJoinToken(token);
  } catch (e) {
    throw new Error(`the token${o.tokenFile ? ` in ${o.tokenFile}` : ''} is not usable: ${(e as Error).message}`);
  }
  const ca = o.caFile ? readFileSync(o.caFile, 'utf8') : undefined;
  if (ca !== undefined && !ca.includes('BEGIN CERTIFICATE')) throw new Error(`${o.caFile} is not a PEM certificate`);
  if (!parsed.caHash && ca === undefined) throw new Error('the token is a bare secret: pass --ca-file too, or use the full join token K10<ca-sha256>::<secret> (the server\'s /var/lib/skiff/server/node-token)');
  if (parsed.caHash && ca !== undefined && caHash(ca) !== parsed.caHash) throw new Error(`${o.caFile} is not the CA the join token names: wrong file or a token of another cluster`);
  let changed = writeIfChanged(p.nodeToken, `${token}\n`, 0o600);
  if (ca !== undefined) changed = writeIfChanged(p.caFile, ca, 0o644) || changed;
  else if (existsSync(p.caFile)) {
    rmSync(p.caFile);
    changed = true;
  }
  return { changed, hasCa: ca !== undefined };
}

async function systemctl(args: string[]): Promise<void> {
  try {
    await run('systemctl', args, { timeout: 180_000 });
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`systemctl ${args.join(' ')} failed: ${(err.stderr ?? err.message).trim().split('\n').pop()}`);
  }
}

const isActive = (unit: string): Promise<boolean> => run('systemctl', ['is-active', '--quiet', unit]).then(() => true, () => false);
const hasCommand = (cmd: string): Promise<boolean> => run('sh', ['-c', `command -v ${cmd}`]).then(() => true, () => false);

/** Polls https://host:port/readyz (certificate not checked: it says nothing secret) until 200 or the deadline. */
async function waitReady(host: string, port: number, deadlineMs: number): Promise<boolean> {
  const once = (): Promise<boolean> =>
    new Promise((done) => {
      const req = request({ host, port, path: '/readyz', rejectUnauthorized: false, timeout: 2000 }, (res) => {
        res.resume();
        done(res.statusCode === 200);
      });
      req.on('error', () => done(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (await once()) return true;
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

/** How to run the services by hand where systemd is not PID 1. */
function manualStart(units: string[]): string[] {
  return units.map((u) => {
    const [role, file] = u === 'skiff-server.service' ? ['server', '/etc/skiff/server.env'] : ['agent', '/etc/skiff/agent.env'];
    const v = role === 'server' ? 'SKIFF_SERVER_ARGS' : 'SKIFF_AGENT_ARGS';
    return `  (set -a; . ${file}; mkdir -p /var/log/skiff; SKIFF_NO_SETUP=1 setsid /usr/local/bin/skiff ${role} $${v} >>/var/log/skiff/${role}.log 2>&1 &)`;
  });
}

export async function runInstall(o: InstallOptions, out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const say: Say = (m) => out(`skiff install: ${m}\n`);
  const p = installPaths(o);
  const image = o.root !== '/';
  const systemdRunning = !image && existsSync('/run/systemd/system');

  // 1. Host setup (packages, npm, build, CNI plugin, Docker engine).
  if (image) say(`installing into ${o.root}: no host setup, nothing started`);
  else if (o.skipSetup) say('skipping scripts/setup.sh (--skip-setup)');
  else {
    say('scripts/setup.sh: packages, npm, build, CNI plugin, Docker engine');
    const code = await new Promise<number>((done) => spawn(join(SOURCE, 'scripts', 'setup.sh'), [], { stdio: 'inherit' }).on('close', (c) => done(c ?? 1)));
    if (code !== 0) throw new Error('scripts/setup.sh failed (see above)');
  }

  // 2. The build and the command.
  const buildChanged = installBuild(p, say);
  const binChanged = linkBin(p, o.prefix, say);
  if (image) await installCniInto(p, say);

  // 3. Configuration.
  mkdirSync(p.etc, { recursive: true, mode: 0o755 });
  const units = unitsFor(o);
  const changed: Record<string, boolean> = {};
  if (o.role === 'server') changed['skiff-server.service'] = writeIfChanged(p.serverEnv, envFile('skiff-server.service', 'SKIFF_SERVER_ARGS', serverArgs(o)), 0o644);
  if (units.includes('skiff-agent.service')) {
    const joinFiles = o.role === 'agent' ? installJoinFiles(o, p) : { changed: false, hasCa: false };
    changed['skiff-agent.service'] = writeIfChanged(p.agentEnv, envFile('skiff-agent.service', 'SKIFF_AGENT_ARGS', agentArgs(o, joinFiles.hasCa)), 0o644) || joinFiles.changed;
  }

  // 4. Docker's cgroup driver. Only where systemd starts dockerd: scripts/dockerd.sh passes
  // --exec-opt itself, and dockerd refuses an option given both as a flag and in the file.
  let dockerChanged = false;
  if (systemdRunning || image) {
    const merged = mergeDaemonJson(existsSync(p.daemonJson) ? readFileSync(p.daemonJson, 'utf8') : undefined);
    if (merged.changed) {
      writeIfChanged(p.daemonJson, merged.text, 0o644);
      dockerChanged = true;
      say(`set Docker's cgroup driver to cgroupfs in ${inRoot(o.root, '/etc/docker/daemon.json')}`);
    }
  }

  // 5. Units.
  for (const u of units) {
    const unitChanged = writeIfChanged(join(p.units, u), readFileSync(join(SOURCE, 'systemd', u), 'utf8'), 0o644);
    changed[u] = changed[u] || unitChanged || buildChanged || binChanged;
  }
  say(`units: ${units.map((u) => `${u}${changed[u] ? ' (changed)' : ''}`).join(', ')}`);

  if (!(await hasCommand('systemctl'))) {
    say('systemctl not found: the units are written but not enabled; start by hand:');
    out(`${manualStart(units).join('\n')}\n`);
    return 0;
  }
  const dockerUnit = ['/etc/systemd/system', '/lib/systemd/system', '/usr/lib/systemd/system'].some((d) => existsSync(inRoot(o.root, `${d}/docker.service`)));
  const toEnable = [...(dockerUnit ? ['docker.service'] : []), ...units];
  if (!systemdRunning || o.noStart) {
    await systemctl([...(image ? ['--root', o.root] : []), 'enable', ...toEnable]);
    say(`enabled ${toEnable.join(', ')} for the next boot`);
    if (!systemdRunning && !image) {
      say('systemd is not PID 1 here, so nothing was started. To start by hand (or use `skiff up` for a one-host cluster):');
      out(`${manualStart(units).join('\n')}\n`);
    }
    return 0;
  }

  await systemctl(['daemon-reload']);
  if (dockerUnit) {
    if (dockerChanged && (await isActive('docker.service'))) {
      say('restarting docker for the new cgroup driver');
      await systemctl(['restart', 'docker.service']);
    }
    await systemctl(['enable', '--now', 'docker.service']);
  }
  for (const u of units) {
    const active = await isActive(u);
    await systemctl(['enable', u]);
    if (!active) await systemctl(['start', u]);
    else if (changed[u]) await systemctl(['restart', u]);
    say(`${u}: ${!active ? 'started' : changed[u] ? 'restarted' : 'already running, unchanged'}`);
    if (u === 'skiff-server.service') {
      const sa = serverArgs(o);
      const bind = flagValue(sa, 'bind-address') ?? DEFAULTS.bindAddress;
      const port = Number(flagValue(sa, 'port') ?? DEFAULTS.port);
      if (!(await waitReady(['0.0.0.0', '::'].includes(bind) ? '127.0.0.1' : bind, port, 120_000))) throw new Error(`the API server did not become ready within 120 s: journalctl -u ${u}`);
      const dataDir = flagValue(sa, 'data-dir') ?? DEFAULTS.dataDir;
      const adv = flagValue(sa, 'advertise-address') ?? '<this host>';
      say(`API server ready; admin kubeconfig ${flagValue(sa, 'write-kubeconfig') ?? DEFAULTS.kubeconfig}`);
      say(`join agents with: skiff install --role agent --server https://${adv}:${port} --token-file <a copy of ${dataDir}/node-token> --node-ip <their address>`);
    }
  }
  if (units.includes('skiff-agent.service')) say('agent logs: journalctl -u skiff-agent -f');
  return 0;
}
