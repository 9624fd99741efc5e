/**
 * The systemd units, `skiff install` and the Vagrantfile, as far as this host
 * (systemd not PID 1, no VMs) can check them for real:
 *
 * - `systemd-analyze verify` on the shipped units, and on the units `skiff
 *   install --root` puts into an image root (with /usr/local/bin/skiff linked
 *   into the copied build), inside a root that holds a copy of the host's
 *   /usr/lib/systemd/system so dependencies resolve. Its warnings (unknown keys,
 *   bad values) exit 0, so any stderr line about our units fails the test too;
 * - `skiff install` into temporary roots: the files, modes and links it makes,
 *   units enabled for the next boot (`systemctl --root enable`), a second run
 *   that changes nothing, bad flags exiting 2 with one line, a bad token 1;
 * - `vagrant validate` (with Debian's vagrant-libvirt, so the provider settings
 *   are checked too), and the join key pair the Vagrantfile makes.
 *
 * systemd-analyze, vagrant and vagrant-libvirt are installed from Debian when
 * missing (as root); when that is impossible the test is skipped with the reason.
 * Nothing is written outside the temporary directories, which `after` removes.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatJoinToken } from '../common/jointoken.js';
import { CLI, ROOT, removeDir, type RunResult } from './harness.js';

/** Runs a command with stdin closed, to completion or its deadline. */
function run(cmd: string, args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: o.cwd, env: o.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], timeout: o.timeoutMs ?? 120_000 });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const has = async (cmd: string): Promise<boolean> => (await run('sh', ['-c', `command -v ${cmd}`])).code === 0;

const installed = async (pkg: string): Promise<boolean> => (await run('dpkg-query', ['-W', '-f=${db:Status-Abbrev}', pkg])).stdout.startsWith('ii');

/** Makes `cmd` available from Debian's `pkg` (when `cmd` is undefined: the package installed), or says why it cannot be (the skip reason). */
async function ensureTool(cmd: string | undefined, pkg: string): Promise<string | undefined> {
  const present = (): Promise<boolean> => (cmd ? has(cmd) : installed(pkg));
  if (await present()) return undefined;
  if (process.getuid?.() !== 0) return `${cmd ?? pkg} is missing and installing ${pkg} needs root`;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', NEEDRESTART_SUSPEND: '1' };
  let r = await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', pkg], { env, timeoutMs: 600_000 });
  if (r.code !== 0) {
    await run('apt-get', ['update', '-qq'], { env, timeoutMs: 300_000 });
    r = await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', pkg], { env, timeoutMs: 600_000 });
  }
  if (r.code !== 0 || !(await present())) return `Debian's ${pkg} does not install here: ${(r.stderr || r.stdout).trim().split('\n').pop()}`;
  return undefined;
}

/** `skiff install` from the checkout's build, or from another CLI (an installed copy). */
const skiff = (args: string[], cli = CLI) => run(process.execPath, [cli, 'install', ...args], { timeoutMs: 300_000 });

/** A root where systemd-analyze finds the host's units (it resolves dependencies inside the root). */
function unitRoot(dir: string): string {
  mkdirSync(join(dir, 'usr', 'lib', 'systemd'), { recursive: true });
  cpSync('/usr/lib/systemd/system', join(dir, 'usr', 'lib', 'systemd', 'system'), { recursive: true, verbatimSymlinks: true });
  return dir;
}

async function verify(root: string, units: string[]): Promise<void> {
  const r = await run('systemd-analyze', ['verify', '--man=no', `--root=${root}`, ...units]);
  const ours = r.stderr.split('\n').filter((l) => /skiff-(server|agent)\.service/.test(l));
  assert.equal(r.code, 0, `systemd-analyze verify failed:\n${r.stderr}`);
  assert.deepEqual(ours, [], 'no warning about our units');
}

/** `Key=value` lines of a unit (the last wins, as systemd reads single-valued keys). */
function unitKeys(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of text.split('\n')) {
    const x = /^([A-Za-z]+)=(.*)$/.exec(l);
    if (x) m.set(x[1], m.has(x[1]) && /^(After|Wants|Environment)$/.test(x[1]) ? `${m.get(x[1])} ${x[2]}` : x[2]);
  }
  return m;
}

describe('systemd units and skiff install', { timeout: 900_000 }, () => {
  let tmp: string;
  let noAnalyze: string | undefined;

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'skiff-systemd-'));
    noAnalyze = await ensureTool('systemd-analyze', 'systemd');
  });
  after(() => {
    if (tmp) removeDir(tmp);
  });

  it('the units keep pods alive across agent restarts and read /etc/skiff', () => {
    const agent = unitKeys(readFileSync(join(ROOT, 'systemd', 'skiff-agent.service'), 'utf8'));
    const server = unitKeys(readFileSync(join(ROOT, 'systemd', 'skiff-server.service'), 'utf8'));
    assert.equal(agent.get('Delegate'), 'yes');
    assert.equal(agent.get('KillMode'), 'process');
    for (const u of [agent, server]) {
      assert.equal(u.get('Restart'), 'on-failure');
      assert.equal(u.get('StartLimitIntervalSec'), '0');
      assert.match(u.get('After') ?? '', /network-online\.target/);
      assert.match(u.get('Environment') ?? '', /SKIFF_NO_SETUP=1/);
      assert.equal(u.get('LimitNOFILE'), '1048576');
    }
    assert.match(agent.get('After') ?? '', /docker\.service/);
    assert.match(agent.get('After') ?? '', /containerd\.service/);
    assert.equal(agent.get('EnvironmentFile'), '/etc/skiff/agent.env');
    assert.equal(server.get('EnvironmentFile'), '/etc/skiff/server.env');
    assert.equal(agent.get('ExecStart'), '/usr/local/bin/skiff agent $SKIFF_AGENT_ARGS');
    assert.equal(server.get('ExecStart'), '/usr/local/bin/skiff server $SKIFF_SERVER_ARGS');
  });

  it('systemd-analyze verify passes on the shipped units', async (t: TestContext) => {
    if (noAnalyze) return t.skip(noAnalyze);
    const root = unitRoot(join(tmp, 'shipped'));
    mkdirSync(join(root, 'etc', 'systemd', 'system'), { recursive: true });
    mkdirSync(join(root, 'usr', 'local', 'bin'), { recursive: true });
    writeFileSync(join(root, 'usr', 'local', 'bin', 'skiff'), '#!/bin/sh\n', { mode: 0o755 });
    for (const u of ['skiff-server.service', 'skiff-agent.service']) copyFileSync(join(ROOT, 'systemd', u), join(root, 'etc', 'systemd', 'system', u));
    await verify(root, ['skiff-server.service', 'skiff-agent.service']);
  });

  it('install --role server into an image root: build, link, env files, daemon.json, enabled units; again: no change', async (t: TestContext) => {
    if (noAnalyze) return t.skip(noAnalyze);
    const root = join(tmp, 'server-root');
    mkdirSync(root);
    const r = await skiff(['--role', 'server', '--root', root, '--node-ip', '192.168.56.10', '--node-name', 'server', '--server-args=--node-monitor-grace-period 20s']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /copying the build/);
    assert.equal(readlinkSync(join(root, 'usr/local/bin/skiff')), '/opt/skiff/bin/skiff');
    assert.ok(existsSync(join(root, 'opt/skiff/dist/cli/main.js')) && existsSync(join(root, 'opt/skiff/node_modules/.package-lock.json')));
    assert.match(readFileSync(join(root, 'etc/skiff/server.env'), 'utf8'), /^SKIFF_SERVER_ARGS="--data-dir \/var\/lib\/skiff\/server --advertise-address 192\.168\.56\.10 --write-kubeconfig \/etc\/skiff\/admin\.kubeconfig --node-monitor-grace-period 20s"$/m);
    assert.match(readFileSync(join(root, 'etc/skiff/agent.env'), 'utf8'), /^SKIFF_AGENT_ARGS="--server https:\/\/127\.0\.0\.1:6443 --token-file \/var\/lib\/skiff\/server\/node-token --ca-file \/var\/lib\/skiff\/server\/pki\/ca\.crt --node-ip 192\.168\.56\.10 --node-name server"$/m);
    assert.deepEqual(JSON.parse(readFileSync(join(root, 'etc/docker/daemon.json'), 'utf8')), { 'exec-opts': ['native.cgroupdriver=cgroupfs'] });
    assert.match(readFileSync(join(root, 'opt/cni/bin/skiff-bridge'), 'utf8'), /^SKIFF_CNI_LIB=\/usr\/local\/lib\/skiff\/cni$/m);
    for (const u of ['skiff-server.service', 'skiff-agent.service']) {
      assert.equal(readFileSync(join(root, 'etc/systemd/system', u), 'utf8'), readFileSync(join(ROOT, 'systemd', u), 'utf8'));
      assert.ok(lstatSync(join(root, 'etc/systemd/system/multi-user.target.wants', u)).isSymbolicLink(), `${u} enabled`);
    }
    await verify(unitRoot(root), ['skiff-server.service', 'skiff-agent.service']);

    // Idempotence, from the installed copy's own CLI: a build that nobody rebuilds meanwhile
    // (the checkout's dist/ may be rebuilt by a concurrent tsc while this test runs).
    const installed = join(root, 'opt/skiff/dist/cli/main.js');
    const root2 = join(tmp, 'server-root-2');
    mkdirSync(root2);
    const args = ['--role', 'server', '--root', root2, '--node-ip', '192.168.56.10', '--node-name', 'server', '--server-args=--node-monitor-grace-period 20s'];
    const first = await skiff(args, installed);
    assert.equal(first.code, 0, first.stderr + first.stdout);
    assert.match(first.stdout, /copying the build/);
    const before = statSync(join(root2, 'etc/skiff/server.env')).mtimeMs;
    const again = await skiff(args, installed);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /build in .* is up to date/);
    assert.doesNotMatch(again.stdout, /\(changed\)|copying|linked|cgroup driver|CNI plugin/);
    assert.equal(statSync(join(root2, 'etc/skiff/server.env')).mtimeMs, before);
  });

  it('install --role agent: the token 0600, the CA optional with a K10 token and checked against it', async () => {
    const root = join(tmp, 'agent-root');
    mkdirSync(root);
    const ca = '-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n';
    const tokenFile = join(tmp, 'node-token');
    writeFileSync(tokenFile, `${formatJoinToken(ca, 'K10secret')}\n`, { mode: 0o600 });
    const base = ['--role', 'agent', '--root', root, '--server', 'https://192.168.56.10:6443', '--token-file', tokenFile, '--node-ip', '192.168.56.11', '--node-name', 'worker-1'];
    const r = await skiff(base);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(statSync(join(root, 'etc/skiff/node-token')).mode & 0o777, 0o600);
    assert.equal(readFileSync(join(root, 'etc/skiff/node-token'), 'utf8'), readFileSync(tokenFile, 'utf8'));
    assert.match(readFileSync(join(root, 'etc/skiff/agent.env'), 'utf8'), /^SKIFF_AGENT_ARGS="--server https:\/\/192\.168\.56\.10:6443 --token-file \/etc\/skiff\/node-token --node-ip 192\.168\.56\.11 --node-name worker-1"$/m);
    assert.ok(!existsSync(join(root, 'etc/skiff/server.env')) && !existsSync(join(root, 'etc/systemd/system/skiff-server.service')));

    const caFile = join(tmp, 'ca.crt');
    writeFileSync(caFile, ca);
    assert.equal((await skiff([...base, '--ca-file', caFile])).code, 0);
    assert.match(readFileSync(join(root, 'etc/skiff/agent.env'), 'utf8'), /--ca-file \/etc\/skiff\/ca\.crt/);

    const wrong = join(tmp, 'other.crt');
    writeFileSync(wrong, ca.replace('MIIBtest', 'MIIBother'));
    const bad = await skiff([...base, '--ca-file', wrong]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^skiff install: .*other\.crt is not the CA the join token names/);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
  });

  it('bad flags exit 2 with one line; a bare token without a CA exits 1', async () => {
    const cases: [string[], RegExp][] = [
      [[], /--role server\|agent is required/],
      [['--role', 'server', '--token', 'x'], /--token is for --role agent/],
      [['--role', 'agent', '--server', 'https://a:6443'], /exactly one of --token or --token-file/],
      [['--role', 'server', '--node-ip', '999.1.1.1'], /--node-ip must be an IPv4 address/],
      [['--role', 'server', '--prefix', '/usr'], /system directory/],
      [['--role', 'server', '--bogus'], /Unknown option '--bogus'/],
    ];
    for (const [args, re] of cases) {
      const r = await skiff(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /\(see 'skiff install --help'\)$/m);
    }
    const root = join(tmp, 'bare-root');
    mkdirSync(root);
    const r = await skiff(['--role', 'agent', '--root', root, '--server', 'https://192.168.56.10:6443', '--token', 'K10bare']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^skiff install: the token is a bare secret: pass --ca-file too/);
  });

  it('refuses to replace a prefix it did not make', async () => {
    const root = join(tmp, 'foreign-root');
    mkdirSync(join(root, 'opt', 'skiff'), { recursive: true });
    writeFileSync(join(root, 'opt', 'skiff', 'precious'), 'data');
    const r = await skiff(['--role', 'server', '--root', root]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /opt\/skiff exists and was not made by skiff install: refusing to replace it/);
    assert.equal(readFileSync(join(root, 'opt', 'skiff', 'precious'), 'utf8'), 'data');
  });
});

describe('Vagrantfile', { timeout: 900_000 }, () => {
  it('vagrant validate passes, libvirt provider settings included; its join key pair is a valid OpenSSH pair', async (t: TestContext) => {
    const why = await ensureTool('vagrant', 'vagrant');
    if (why) return t.skip(why);
    // The libvirt provider plugin makes validate check that provider's settings too.
    const noLibvirt = await ensureTool(undefined, 'vagrant-libvirt');
    const libvirt = noLibvirt === undefined;
    const dir = mkdtempSync(join(tmpdir(), 'skiff-vagrant-'));
    try {
      copyFileSync(join(ROOT, 'Vagrantfile'), join(dir, 'Vagrantfile'));
      const env = { ...process.env, VAGRANT_HOME: join(dir, '.vagrant.d'), VAGRANT_CHECKPOINT_DISABLE: '1' };
      for (const workers of ['2', '0', '5']) {
        const r = await run('vagrant', ['validate', ...(libvirt ? [] : ['--ignore-provider'])], { cwd: dir, env: { ...env, SKIFF_WORKERS: workers }, timeoutMs: 120_000 });
        assert.equal(r.code, 0, `SKIFF_WORKERS=${workers}: ${r.stderr}${r.stdout}`);
        assert.match(r.stdout, /Vagrantfile validated successfully/);
      }
      if (libvirt) {
        // The machines SKIFF_WORKERS=3 defines (status needs a usable provider: libvirt's plugin is one without a daemon).
        const st = await run('vagrant', ['status', '--machine-readable'], { cwd: dir, env: { ...env, SKIFF_WORKERS: '3', VAGRANT_DEFAULT_PROVIDER: 'libvirt' } });
        const names = [...st.stdout.matchAll(/^\d+,([^,]+),metadata,provider,libvirt$/gm)].map((m) => m[1]);
        assert.deepEqual(names, ['server', 'worker-1', 'worker-2', 'worker-3'], st.stderr);
      }
      const key = join(dir, '.vagrant', 'skiff', 'join_key');
      assert.equal(statSync(key).mode & 0o777, 0o600);
      if (await has('ssh-keygen')) {
        const derived = await run('ssh-keygen', ['-y', '-f', key]);
        assert.equal(derived.code, 0, derived.stderr);
        assert.equal(`${derived.stdout.trim()} skiff-join\n`, readFileSync(`${key}.pub`, 'utf8'));
      }
      if (!libvirt) t.diagnostic(`provider settings not validated (--ignore-provider): ${noLibvirt}`);
    } finally {
      removeDir(dir);
    }
  });
});
