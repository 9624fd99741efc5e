/**
 * cni/skiff-bridge against the real kernel: network namespaces made with
 * `ip netns add`, a bridge, subnet and data dir of the test's own (never a real
 * skiff0), traffic only between the host and addresses the test created.
 * Covers connectivity (host <-> pod, pod -> gateway, pod <-> pod without NAT),
 * CHECK, idempotent DEL, 100 concurrent ADDs and DELs, rollback, hostile
 * input, the way containerd calls plugins, GC/STATUS, and the result shape
 * next to Debian's reference bridge + host-local plugins on the same config.
 * Everything created is removed in `after`, also when a test fails.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, removeDir, waitFor, type RunResult } from './harness.js';

const PLUGIN = join(ROOT, 'cni', 'skiff-bridge');
const REF_BIN = '/usr/lib/cni';
const PY = '/usr/bin/python3';
const tag = randomBytes(3).toString('hex');
const BRIDGE = `skt${tag}`;
const REF_BRIDGE = `sktr${tag}`;
const NET = `skt-${tag}`;
const REF_NET = `sktr-${tag}`;

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Call extends RunResult {
  json?: Json;
}

/**
 * Runs a command to completion, feeding stdin. (Unlike the harness's run, a
 * command that exits without reading stdin is not an error: plugins may
 * reject their environment before reading the config.)
 */
function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.stdin.on('error', () => undefined);
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} did not finish within ${opts.timeoutMs ?? 60_000} ms`));
    }, opts.timeoutMs ?? 60_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    p.stdin.end(opts.input ?? '');
  });
}

/** Runs a CNI plugin with only the CNI_* variables given (plus PATH). */
async function cni(plugin: string, command: string, conf: Json | string, env: Record<string, string | undefined> = {}): Promise<Call> {
  const e: NodeJS.ProcessEnv = { PATH: process.env.PATH, CNI_COMMAND: command, CNI_PATH: REF_BIN, ...env };
  for (const k of Object.keys(e)) if (e[k] === undefined) delete e[k];
  const r: Call = await run(plugin, [], { input: typeof conf === 'string' ? conf : JSON.stringify(conf), env: e, timeoutMs: 120_000 });
  try {
    r.json = r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
  } catch {
    r.json = undefined;
  }
  return r;
}

async function sh(cmd: string, args: string[], input?: string): Promise<string> {
  const r = await run(cmd, args, { input, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Creates network namespaces in one `ip -batch`. */
async function addNetns(names: string[]): Promise<void> {
  await sh('ip', ['-batch', '-'], names.map((n) => `netns add ${n}\n`).join(''));
}
async function delNetns(names: string[]): Promise<void> {
  if (names.length) await run('ip', ['-force', '-batch', '-'], { input: names.map((n) => `netns del ${n}\n`).join('') });
}

/** Keys of a JSON value as sorted paths, array elements merged: "ips[].address". */
function shape(v: Json, prefix = ''): string[] {
  if (Array.isArray(v)) return [...new Set(v.flatMap((e) => shape(e, `${prefix}[]`)))].sort();
  if (v && typeof v === 'object') return Object.keys(v).flatMap((k) => [`${prefix}.${k}`, ...shape(v[k], `${prefix}.${k}`)]).sort();
  return [];
}

function ipFiles(dataDir: string, net: string): string[] {
  const dir = join(dataDir, net);
  return existsSync(dir) ? readdirSync(dir).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : [];
}

/** Host links whose alias marks them as made by skiff-bridge for this run. */
function ourVeths(): string[] {
  return readdirSync('/sys/class/net').filter((l) => {
    try {
      return readFileSync(`/sys/class/net/${l}/ifalias`, 'utf8').startsWith(`skiff:${tag}-`);
    } catch {
      return false;
    }
  });
}

function bridgePorts(br: string): string[] {
  return existsSync(`/sys/class/net/${br}/brif`) ? readdirSync(`/sys/class/net/${br}/brif`) : [];
}

/** A /24 in 10.244.200-249 that no route on this host uses yet. */
async function freeSubnet(avoid: string[] = []): Promise<string> {
  const routes = await sh('ip', ['-4', 'route', 'show', 'table', 'all']);
  for (let i = 0; i < 200; i++) {
    const o = 200 + Math.floor(Math.random() * 50);
    const net = `10.244.${o}.`;
    if (!routes.includes(net) && !avoid.some((a) => a.startsWith(net))) return `${net}0/24`;
  }
  throw new Error('no free 10.244.2xx.0/24 for the test');
}

/** A TCP listener inside a netns (python3), reporting its port and each peer's address. */
class NetnsListener {
  private proc: ChildProcess;
  private out = '';
  readonly port: Promise<number>;
  constructor(ns: string, ip: string) {
    const script = 'import socket,sys\ns=socket.socket()\ns.bind((sys.argv[1],0))\ns.listen(8)\nprint(s.getsockname()[1],flush=True)\nwhile True:\n c,a=s.accept()\n print(a[0],flush=True)\n c.sendall(b"hello")\n c.close()\n';
    this.proc = spawn('ip', ['netns', 'exec', ns, PY, '-c', script, ip], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout!.on('data', (d) => (this.out += d));
    this.proc.stderr!.on('data', (d) => (this.out += d));
    this.port = waitFor(() => (/^(\d+)\n/.exec(this.out) ? Number(/^(\d+)\n/.exec(this.out)![1]) : undefined), `listener in ${ns}`, 20_000);
  }
  /** Peer addresses seen so far. */
  peers(): string[] {
    return this.out.split('\n').slice(1).filter(Boolean);
  }
  stop(): void {
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

/** Connects from inside a netns to ip:port (python3); returns the local address used and what was read. */
async function connectFrom(ns: string, ip: string, port: number): Promise<{ local: string; data: string }> {
  const script = 'import socket,sys\ns=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=10)\nprint(s.getsockname()[0])\nprint(s.recv(16).decode())\n';
  const out = await sh('ip', ['netns', 'exec', ns, PY, '-c', script, ip, String(port)]);
  const [local, data] = out.trim().split('\n');
  return { local, data: data ?? '' };
}

/** Connects from the host (this process) to ip:port and reads until closed. */
function connectHost(ip: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: ip, port, timeout: 10_000 });
    let data = '';
    s.on('data', (d) => (data += d));
    s.on('end', () => resolve(data));
    s.on('timeout', () => s.destroy(new Error('timeout')));
    s.on('error', reject);
  });
}

describe('cni/skiff-bridge', () => {
  let dataDir: string;
  let subnet: string;
  let refSubnet: string;
  let prefix: string; // "10.244.x."
  let gateway: string;
  let ipForwardBefore = '';
  const namespaces = new Set<string>();
  const listeners: NetnsListener[] = [];
  const servers: Server[] = [];
  const others: ChildProcess[] = [];
  let seq = 0;

  const conf = (extra: Json = {}): Json => ({
    cniVersion: '1.0.0',
    name: NET,
    type: 'skiff-bridge',
    bridge: BRIDGE,
    ipMasq: true,
    hairpinMode: true,
    ipam: { type: 'host-local', ranges: [[{ subnet }]], dataDir },
    dns: { nameservers: ['10.96.0.10'], search: ['default.svc.cluster.local'] },
    ...extra,
  });
  const refConf = (): Json => ({
    cniVersion: '1.0.0',
    name: REF_NET,
    type: 'bridge',
    bridge: REF_BRIDGE,
    isGateway: true,
    isDefaultGateway: true,
    ipMasq: true,
    hairpinMode: true,
    ipam: { type: 'host-local', ranges: [[{ subnet: refSubnet }]], dataDir },
    dns: { nameservers: ['10.96.0.10'], search: ['default.svc.cluster.local'] },
  });

  /** A fresh netns and a container id for one pod. */
  async function pod(): Promise<{ ns: string; id: string; env: Record<string, string> }> {
    const n = ++seq;
    const ns = `skt${tag}-${n}`;
    await addNetns([ns]);
    namespaces.add(ns);
    const id = `${tag}-c${n}`;
    return { ns, id, env: { CNI_CONTAINERID: id, CNI_NETNS: `/var/run/netns/${ns}`, CNI_IFNAME: 'eth0' } };
  }

  async function addOk(p: { env: Record<string, string> }, c: Json = conf()): Promise<Json> {
    const r = await cni(PLUGIN, 'ADD', c, p.env);
    assert.equal(r.code, 0, `ADD failed: ${r.stdout}${r.stderr}`);
    return r.json;
  }

  /** ACCEPT rules for traffic from and to the test's two subnets. */
  const forwardRules = (): string[][] =>
    [subnet, refSubnet].filter(Boolean).flatMap((net) => [
      ['-s', net, '-m', 'comment', '--comment', `skiff cni test ${tag}`, '-j', 'ACCEPT'],
      ['-d', net, '-m', 'comment', '--comment', `skiff cni test ${tag}`, '-j', 'ACCEPT'],
    ]);

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'skt-ipam-'));
    subnet = await freeSubnet();
    refSubnet = await freeSubnet([subnet]);
    prefix = subnet.replace(/0\/24$/, '');
    gateway = `${prefix}1`;
    ipForwardBefore = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
    // Forwarding between the test's pods, as the agent's SKIFF-FORWARD allows the cluster's:
    // with dockerd running, FORWARD drops by default and bridged frames cross iptables.
    for (const rule of forwardRules()) await run('iptables', ['-w', '5', '-I', 'FORWARD', '1', ...rule]);
  });

  after(async () => {
    for (const l of listeners) l.stop();
    for (const s of servers) s.close();
    for (const p of others) if (p.exitCode === null) p.kill('SIGKILL');
    await delNetns([...namespaces]);
    for (const l of ourVeths()) await run('ip', ['link', 'del', 'dev', l]);
    for (const br of [BRIDGE, REF_BRIDGE]) if (existsSync(`/sys/class/net/${br}`)) await run('ip', ['link', 'del', 'dev', br]);
    // Our masquerade rules (skiff's chain and any the reference left), then
    // the shared jump and chain only if nobody else has rules in it.
    const rules = (await run('iptables', ['-w', '5', '-t', 'nat', '-S'])).stdout.split('\n');
    for (const rule of rules.filter((l) => l.startsWith('-A ') && (l.includes(`skiff-bridge ${NET}:`) || l.includes(`"${REF_NET}"`)))) {
      await run('bash', ['-c', `iptables -w 5 -t nat ${rule.replace(/^-A /, '-D ')}`]);
    }
    for (const chain of new Set(rules.filter((l) => l.includes(`"${REF_NET}"`)).map((l) => /-j (CNI-[0-9a-f]+)/.exec(l)?.[1] ?? /^-A (CNI-[0-9a-f]+)/.exec(l)?.[1]).filter(Boolean))) {
      await run('iptables', ['-w', '5', '-t', 'nat', '-X', chain!]);
    }
    const left = (await run('iptables', ['-w', '5', '-t', 'nat', '-S', 'SKIFF-CNI-MASQ'])).stdout.split('\n').filter((l) => l.startsWith('-A '));
    if (left.length === 0 && (await run('iptables', ['-w', '5', '-t', 'nat', '-S', 'SKIFF-CNI-MASQ'])).code === 0) {
      await run('iptables', ['-w', '5', '-t', 'nat', '-D', 'POSTROUTING', '-m', 'comment', '--comment', 'skiff-bridge pod masquerade', '-j', 'SKIFF-CNI-MASQ']);
      await run('iptables', ['-w', '5', '-t', 'nat', '-X', 'SKIFF-CNI-MASQ']);
    }
    for (const rule of forwardRules()) await run('iptables', ['-w', '5', '-D', 'FORWARD', ...rule]);
    await run('rm', ['-f', `/run/skiff-cni/masq-${NET}`, `/tmp/skt-pwned-${tag}`]);
    // The host-wide lock and the directory, once no network's stamp is left.
    if (existsSync('/run/skiff-cni') && readdirSync('/run/skiff-cni').every((f) => f === 'lock')) await run('rm', ['-rf', '/run/skiff-cni']);
    if (ipForwardBefore === '0') writeFileSync('/proc/sys/net/ipv4/ip_forward', '0\n');
    removeDir(dataDir);
  });

  it('answers VERSION with the versions it supports', async () => {
    const r = await cni(PLUGIN, 'VERSION', { cniVersion: '1.0.0' });
    assert.equal(r.code, 0);
    assert.equal(r.json.cniVersion, '1.0.0');
    assert.deepEqual(r.json.supportedVersions, ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']);
    const empty = await cni(PLUGIN, 'VERSION', '');
    assert.equal(empty.code, 0);
    assert.ok(empty.json.supportedVersions.includes('1.0.0'));
  });

  it('ADD wires a pod: host <-> pod, pod -> gateway, hairpin, masquerade rules', { timeout: 120_000 }, async () => {
    const p = await pod();
    const res = await addOk(p);
    assert.equal(res.cniVersion, '1.0.0');
    const [br, veth, eth0] = res.interfaces;
    assert.equal(br.name, BRIDGE);
    assert.match(veth.name, /^veth[0-9a-f]{8}$/);
    assert.equal(eth0.name, 'eth0');
    assert.equal(eth0.sandbox, p.env.CNI_NETNS);
    assert.equal(res.ips.length, 1);
    assert.equal(res.ips[0].interface, 2);
    assert.equal(res.ips[0].gateway, gateway);
    assert.match(res.ips[0].address, new RegExp(`^${prefix.replace(/\./g, '\\.')}\\d+/24$`));
    assert.deepEqual(res.routes, [{ dst: '0.0.0.0/0', gw: gateway }]);
    assert.deepEqual(res.dns, { nameservers: ['10.96.0.10'], search: ['default.svc.cluster.local'] });
    const ip = res.ips[0].address.split('/')[0];

    // The kernel agrees with the result.
    const inNs = await sh('ip', ['-n', p.ns, 'addr', 'show', 'dev', 'eth0']);
    assert.match(inNs, new RegExp(`inet ${ip}/24 `));
    assert.ok(inNs.includes(`link/ether ${eth0.mac} `));
    assert.match(await sh('ip', ['-n', p.ns, 'route', 'show', 'default']), new RegExp(`default via ${gateway} dev eth0`));
    assert.match(await sh('ip', ['addr', 'show', 'dev', BRIDGE]), new RegExp(`inet ${gateway}/24 `));
    assert.equal(readFileSync(`/sys/class/net/${veth.name}/master/ifindex`, 'utf8'), readFileSync(`/sys/class/net/${BRIDGE}/ifindex`, 'utf8'));
    assert.equal(readFileSync(`/sys/class/net/${veth.name}/brport/hairpin_mode`, 'utf8').trim(), '1');
    assert.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), '1');
    assert.equal(readFileSync(join(dataDir, NET, ip), 'utf8'), `${p.id}\r\neth0`);

    // Host -> pod: ICMP and TCP.
    await sh('ping', ['-c', '1', '-W', '5', ip]);
    const l = new NetnsListener(p.ns, ip);
    listeners.push(l);
    assert.equal(await connectHost(ip, await l.port), 'hello');
    await waitFor(() => l.peers().length > 0, 'the listener to report its peer');
    assert.deepEqual(l.peers(), [gateway]); // the host reaches the pod from its bridge address

    // Pod -> gateway: ICMP, and a listener on the host's gateway address sees the pod's own IP.
    await sh('ip', ['netns', 'exec', p.ns, 'ping', '-c', '1', '-W', '5', gateway]);
    const seen: string[] = [];
    const srv: Server = createServer((s) => {
      seen.push(s.remoteAddress ?? '');
      s.end('gw');
    });
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(0, gateway, r));
    const got = await connectFrom(p.ns, gateway, (srv.address() as AddressInfo).port);
    assert.deepEqual(got, { local: ip, data: 'gw' });
    assert.deepEqual(seen, [ip]);

    // Masquerade: our chain, hooked once, with this network's three rules.
    const nat = await sh('iptables', ['-w', '5', '-t', 'nat', '-S']);
    assert.equal(nat.split('\n').filter((x) => x === '-A POSTROUTING -m comment --comment "skiff-bridge pod masquerade" -j SKIFF-CNI-MASQ').length, 1);
    const ours = nat.split('\n').filter((x) => x.includes(`skiff-bridge ${NET}:`));
    assert.deepEqual(ours.map((x) => x.replace(/ -m comment --comment "[^"]*"/, '')).sort(), [
      `-A SKIFF-CNI-MASQ -s ${subnet} -d 10.244.0.0/16 -j RETURN`,
      `-A SKIFF-CNI-MASQ -s ${subnet} -d 224.0.0.0/4 -j RETURN`,
      `-A SKIFF-CNI-MASQ -s ${subnet} -j MASQUERADE`,
    ]);
  });

  it('two pods on the bridge reach each other without NAT', { timeout: 120_000 }, async () => {
    const a = await pod();
    const b = await pod();
    const ipA = (await addOk(a)).ips[0].address.split('/')[0];
    const ipB = (await addOk(b)).ips[0].address.split('/')[0];
    assert.notEqual(ipA, ipB);
    const l = new NetnsListener(a.ns, ipA);
    listeners.push(l);
    const got = await connectFrom(b.ns, ipA, await l.port);
    assert.deepEqual(got, { local: ipB, data: 'hello' });
    await waitFor(() => l.peers().length > 0, 'listener to see the peer');
    assert.deepEqual(l.peers(), [ipB]); // the source is the other pod, not NATed
    // Re-running ADD's network-wide steps added no duplicate rules.
    const nat = await sh('iptables', ['-w', '5', '-t', 'nat', '-S', 'SKIFF-CNI-MASQ']);
    assert.equal(nat.split('\n').filter((x) => x.includes(`skiff-bridge ${NET}:`)).length, 3);
  });

  it('CHECK passes, then fails once the link, the route or a masquerade rule is gone', { timeout: 120_000 }, async () => {
    const p = await pod();
    const res = await addOk(p);
    const withPrev = conf({ prevResult: res });
    const ok = await cni(PLUGIN, 'CHECK', withPrev, p.env);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.equal(ok.stdout, '');

    const noPrev = await cni(PLUGIN, 'CHECK', conf(), p.env);
    assert.equal(noPrev.code, 1);
    assert.equal(noPrev.json.code, 7);

    // A masquerade rule removed behind our back: CHECK reports it, the next ADD restores it.
    const masq = ['-t', 'nat', '-D', 'SKIFF-CNI-MASQ', '-s', subnet, '-m', 'comment', '--comment', `skiff-bridge ${NET}: leaving cluster`, '-j', 'MASQUERADE'];
    await sh('iptables', ['-w', '5', ...masq]);
    const noRule = await cni(PLUGIN, 'CHECK', withPrev, p.env);
    assert.equal(noRule.code, 1);
    assert.equal(noRule.json.code, 104);
    assert.match(noRule.json.msg, /masquerade/);
    const q = await pod();
    await addOk(q);
    assert.equal((await cni(PLUGIN, 'CHECK', withPrev, p.env)).code, 0);

    await sh('ip', ['-n', p.ns, 'route', 'del', 'default']);
    const noRoute = await cni(PLUGIN, 'CHECK', withPrev, p.env);
    assert.equal(noRoute.json?.code, 104, noRoute.stdout);
    assert.match(noRoute.json.msg, /route/);

    await sh('ip', ['link', 'del', 'dev', res.interfaces[1].name]);
    const gone = await cni(PLUGIN, 'CHECK', withPrev, p.env);
    assert.notEqual(gone.code, 0);
    assert.deepEqual(Object.keys(gone.json).sort(), ['cniVersion', 'code', 'details', 'msg']);
    assert.equal(gone.json.code, 104);
  });

  it('DEL is idempotent and frees the address; a missing netns still frees it', { timeout: 120_000 }, async () => {
    const p = await pod();
    const res = await addOk(p);
    const ip = res.ips[0].address.split('/')[0];
    const veth = res.interfaces[1].name;
    for (let i = 0; i < 2; i++) {
      const d = await cni(PLUGIN, 'DEL', conf({ prevResult: res }), p.env);
      assert.equal(d.code, 0, d.stdout + d.stderr);
      assert.equal(d.stdout, '');
    }
    assert.ok(!existsSync(join(dataDir, NET, ip)));
    assert.ok(!existsSync(`/sys/class/net/${veth}`));
    assert.equal(await sh('ip', ['-n', p.ns, '-o', 'link', 'show', 'eth0']).catch(() => ''), '');

    // The netns is gone before DEL (and no prevResult, no CNI_NETNS): still success, still released.
    const q = await pod();
    const r2 = await addOk(q);
    const ip2 = r2.ips[0].address.split('/')[0];
    await delNetns([q.ns]);
    namespaces.delete(q.ns);
    for (const env of [q.env, { ...q.env, CNI_NETNS: undefined }]) {
      const d = await cni(PLUGIN, 'DEL', conf(), env as Record<string, string>);
      assert.equal(d.code, 0, d.stdout + d.stderr);
    }
    assert.ok(!existsSync(join(dataDir, NET, ip2)));
    await waitFor(() => !existsSync(`/sys/class/net/${r2.interfaces[1].name}`), 'the veth to go with its netns');
  });

  it('100 concurrent ADDs get distinct addresses; 100 DELs leave nothing behind', { timeout: 300_000 }, async () => {
    const ourRoutes = async (): Promise<string> => (await sh('ip', ['-4', 'route', 'show'])).split('\n').filter((l) => l.includes(BRIDGE) || l.includes(prefix)).join('\n');
    const routesBefore = await ourRoutes();
    const pods = Array.from({ length: 100 }, (_, i) => ({ ns: `skt${tag}-p${i}`, id: `${tag}-par${i}`, env: {} as Record<string, string> }));
    await addNetns(pods.map((p) => p.ns));
    for (const p of pods) {
      namespaces.add(p.ns);
      p.env = { CNI_CONTAINERID: p.id, CNI_NETNS: `/var/run/netns/${p.ns}`, CNI_IFNAME: 'eth0' };
    }
    const filesBefore = ipFiles(dataDir, NET).length;
    const adds = await Promise.all(pods.map((p) => cni(PLUGIN, 'ADD', conf(), p.env)));
    for (const r of adds) assert.equal(r.code, 0, r.stdout + r.stderr);
    const ips = adds.map((r) => r.json.ips[0].address);
    assert.equal(new Set(ips).size, 100, 'addresses are unique');
    assert.equal(new Set(adds.map((r) => r.json.interfaces[1].name)).size, 100, 'host veth names are unique');
    assert.equal(ipFiles(dataDir, NET).length, filesBefore + 100);
    for (const [i, r] of adds.entries()) {
      const ip = r.json.ips[0].address.split('/')[0];
      assert.equal(readFileSync(join(dataDir, NET, ip), 'utf8'), `${pods[i].id}\r\neth0`);
    }

    const dels = await Promise.all(pods.map((p, i) => cni(PLUGIN, 'DEL', conf({ prevResult: adds[i].json }), p.env)));
    for (const r of dels) assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(ipFiles(dataDir, NET).length, filesBefore);
    const left = new Set(ourVeths());
    for (const p of pods) assert.ok(![...left].some((l) => readFileSync(`/sys/class/net/${l}/ifalias`, 'utf8').startsWith(`skiff:${p.id}/`)));
    for (const p of pods) assert.equal((await sh('ip', ['-n', p.ns, '-o', 'link', 'show'])).includes('eth0'), false);
    assert.equal(await ourRoutes(), routesBefore, 'no routes leaked on the host');
    await delNetns(pods.map((p) => p.ns));
    for (const p of pods) namespaces.delete(p.ns);
  });

  it('ADD rolls back the reservation and the veth when a later step fails', { timeout: 120_000 }, async () => {
    const filesBefore = ipFiles(dataDir, NET).sort();
    const portsBefore = bridgePorts(BRIDGE).sort();

    // The pod already has an eth0: the veth cannot be created.
    const p = await pod();
    await sh('ip', ['-n', p.ns, 'link', 'add', 'eth0', 'type', 'bridge']);
    const r1 = await cni(PLUGIN, 'ADD', conf(), p.env);
    assert.equal(r1.code, 1);
    assert.equal(r1.json.code, 100);
    assert.match(r1.json.details, /File exists/);

    // A route the pod cannot have: the veth exists when it fails.
    const q = await pod();
    const r2 = await cni(PLUGIN, 'ADD', conf({ ipam: { ...conf().ipam, routes: [{ dst: '10.1.0.0/16', gw: '192.0.2.77' }] } }), q.env);
    assert.equal(r2.code, 1);
    assert.equal(r2.json.code, 103);

    assert.deepEqual(ipFiles(dataDir, NET).sort(), filesBefore);
    assert.deepEqual(bridgePorts(BRIDGE).sort(), portsBefore);
    assert.equal((await sh('ip', ['-n', q.ns, '-o', 'link', 'show'])).includes('eth0'), false);
  });

  it('rejects hostile or broken input with the right error and leaves nothing behind', { timeout: 120_000 }, async () => {
    const p = await pod();
    const pwned = `/tmp/skt-pwned-${tag}`;
    const filesBefore = ipFiles(dataDir, NET).sort();
    const portsBefore = bridgePorts(BRIDGE).sort();
    const vethsBefore = ourVeths().sort();
    const good = conf();
    const cases: { what: string; cmd?: string; env?: Record<string, string | undefined>; conf?: Json | string; code: number }[] = [
      { what: 'container id with ;', env: { CNI_CONTAINERID: `x;touch ${pwned}` }, code: 4 },
      { what: 'container id with $()', env: { CNI_CONTAINERID: `$(touch ${pwned})` }, code: 4 },
      { what: 'container id with backticks', env: { CNI_CONTAINERID: `\`touch ${pwned}\`` }, code: 4 },
      { what: 'container id starting with -', env: { CNI_CONTAINERID: '-rf' }, code: 4 },
      { what: 'missing CNI_CONTAINERID', env: { CNI_CONTAINERID: undefined }, code: 4 },
      { what: 'missing CNI_IFNAME', env: { CNI_IFNAME: undefined }, code: 4 },
      { what: 'missing CNI_NETNS', env: { CNI_NETNS: undefined }, code: 4 },
      { what: 'missing CNI_PATH', env: { CNI_PATH: undefined }, code: 4 },
      { what: 'missing CNI_COMMAND', cmd: '', code: 4 },
      { what: 'unknown CNI_COMMAND', cmd: 'ADD;reboot', code: 4 },
      { what: 'netns that does not exist', env: { CNI_NETNS: `/var/run/netns/skt${tag}-nope` }, code: 4 },
      { what: 'netns path with a newline (batch injection)', env: { CNI_NETNS: `/var/run/netns/${p.ns}\nlink del dev ${BRIDGE}` }, code: 4 },
      { what: 'netns path with ..', env: { CNI_NETNS: '/var/run/netns/../../proc/1/ns/net' }, code: 4 },
      { what: 'ifname too long', env: { CNI_IFNAME: 'eth0123456789abc' }, code: 4 },
      { what: 'ifname with /', env: { CNI_IFNAME: 'eth/0' }, code: 4 },
      { what: 'ifname with whitespace', env: { CNI_IFNAME: 'eth 0' }, code: 4 },
      { what: 'ifname with $()', env: { CNI_IFNAME: `$(touch ${pwned})` }, code: 4 },
      { what: 'ifname ..', env: { CNI_IFNAME: '..' }, code: 4 },
      { what: 'malformed CNI_ARGS', env: { CNI_ARGS: 'IgnoreUnknown' }, code: 4 },
      { what: 'not JSON', conf: '{"cniVersion": "1.0.0", "name": ', code: 6 },
      { what: 'JSON with trailing garbage', conf: `${JSON.stringify(good)} $(touch ${pwned})`, code: 6 },
      { what: 'JSON array', conf: '[1,2]', code: 6 },
      { what: 'empty stdin', conf: '', code: 6 },
      { what: 'unsupported version', conf: { ...good, cniVersion: '0.2.0' }, code: 1 },
      { what: 'future version', conf: { ...good, cniVersion: '9.9.9' }, code: 1 },
      { what: 'missing cniVersion', conf: { ...good, cniVersion: undefined }, code: 7 },
      { what: 'missing name', conf: { ...good, name: undefined }, code: 7 },
      { what: 'network name escaping the data dir', conf: { ...good, name: '../../etc' }, code: 7 },
      { what: 'bridge name with a batch command', conf: { ...good, bridge: `br0\nlink del dev ${BRIDGE}` }, code: 7 },
      { what: 'bridge name too long', conf: { ...good, bridge: 'skiff0123456789ab' }, code: 7 },
      { what: 'missing ipam', conf: { ...good, ipam: undefined }, code: 7 },
      { what: 'subnet with shell', conf: { ...good, ipam: { ...good.ipam, ranges: [[{ subnet: `10.0.0.0/24;touch ${pwned}` }]] } }, code: 7 },
      { what: 'subnet with host bits', conf: { ...good, ipam: { ...good.ipam, ranges: [[{ subnet: '10.244.1.1/24' }]] } }, code: 7 },
      { what: 'IPv6 subnet', conf: { ...good, ipam: { ...good.ipam, ranges: [[{ subnet: 'fd00::/64' }]] } }, code: 7 },
      { what: 'dataDir with a space', conf: { ...good, ipam: { ...good.ipam, dataDir: '/tmp/a b' } }, code: 7 },
      { what: 'mtu out of range', conf: { ...good, mtu: 10 }, code: 7 },
      { what: 'ipMasq of the wrong type', conf: { ...good, ipMasq: 'yes' }, code: 7 },
      { what: 'foreign ipam type', conf: { ...good, ipam: { ...good.ipam, type: 'dhcp' } }, code: 7 },
    ];
    for (const c of cases) {
      const env = { ...p.env, CNI_PATH: REF_BIN, ...(c.env ?? {}) };
      const r = await cni(PLUGIN, c.cmd ?? 'ADD', c.conf ?? good, env);
      assert.notEqual(r.code, 0, `${c.what}: exit code`);
      assert.ok(r.json, `${c.what}: stdout is not JSON: ${r.stdout}`);
      assert.deepEqual(Object.keys(r.json).sort(), ['cniVersion', 'code', 'details', 'msg'], c.what);
      assert.equal(r.json.code, c.code, `${c.what}: ${r.stdout}`);
      assert.equal(typeof r.json.msg, 'string');
    }
    assert.ok(!existsSync(pwned), 'nothing was executed');
    assert.deepEqual(ipFiles(dataDir, NET).sort(), filesBefore);
    assert.deepEqual(bridgePorts(BRIDGE).sort(), portsBefore);
    assert.deepEqual(ourVeths().sort(), vethsBefore);
    assert.ok(existsSync(`/sys/class/net/${BRIDGE}`));
  });

  it('works the way containerd calls it: injected name/cniVersion, CNI_ARGS, prevResult, /proc netns', { timeout: 120_000 }, async () => {
    // libcni passes each plugin of a conflist its own object with name and
    // cniVersion injected, possibly a prevResult from earlier plugins.
    const p = await pod();
    const plugin = conf();
    delete plugin.name;
    delete plugin.cniVersion;
    const list = { cniVersion: '1.0.0', name: NET, plugins: [plugin] };
    const injected = { ...list.plugins[0], name: list.name, cniVersion: list.cniVersion, prevResult: { cniVersion: '1.0.0', interfaces: [], ips: [], dns: {} } };
    const env = { ...p.env, CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=${p.id};K8S_POD_UID=0b7b3f6c-1a2b-4c5d-8e9f-0123456789ab` };
    const add = await cni(PLUGIN, 'ADD', injected, env);
    assert.equal(add.code, 0, add.stdout + add.stderr);
    const del = await cni(PLUGIN, 'DEL', { ...injected, prevResult: add.json }, env);
    assert.equal(del.code, 0, del.stdout + del.stderr);

    // A netns given as /proc/<pid>/ns/net (entered with nsenter).
    const holder = spawn('ip', ['netns', 'exec', p.ns, PY, '-c', 'import sys; sys.stdin.read()'], { stdio: ['pipe', 'ignore', 'ignore'] });
    others.push(holder);
    const pid = await waitFor(async () => {
      const out = (await run('pgrep', ['-P', String(holder.pid), '-f', 'sys.stdin.read'])).stdout.trim();
      if (out) return out.split('\n')[0];
      // `ip netns exec` execs python directly in the same process.
      return readFileSync(`/proc/${holder.pid}/cmdline`, 'utf8').includes('python') ? String(holder.pid) : undefined;
    }, 'the netns holder');
    const procEnv = { ...p.env, CNI_NETNS: `/proc/${pid}/ns/net` };
    const add2 = await cni(PLUGIN, 'ADD', conf(), procEnv);
    assert.equal(add2.code, 0, add2.stdout + add2.stderr);
    assert.match(await sh('ip', ['-n', p.ns, 'addr', 'show', 'dev', 'eth0']), new RegExp(`inet ${add2.json.ips[0].address} `));
    assert.equal((await cni(PLUGIN, 'CHECK', conf({ prevResult: add2.json }), procEnv)).code, 0);
    assert.equal((await cni(PLUGIN, 'DEL', conf(), procEnv)).code, 0);
    holder.stdin!.end();
  });

  it('speaks older spec versions: 0.4.0 results carry ips[].version, 0.3.1 refuses CHECK', { timeout: 60_000 }, async () => {
    const p = await pod();
    const r = await addOk(p, conf({ cniVersion: '0.4.0' }));
    assert.equal(r.cniVersion, '0.4.0');
    assert.equal(r.ips[0].version, '4');
    assert.equal((await cni(PLUGIN, 'CHECK', conf({ cniVersion: '0.4.0', prevResult: r }), p.env)).code, 0);
    const c = await cni(PLUGIN, 'CHECK', conf({ cniVersion: '0.3.1', prevResult: r }), p.env);
    assert.equal(c.json.code, 1);
    assert.equal((await cni(PLUGIN, 'DEL', conf({ cniVersion: '0.4.0' }), p.env)).code, 0);
  });

  it('GC releases attachments not listed as valid; STATUS reports ready', { timeout: 60_000 }, async () => {
    const keep = await pod();
    const drop = await pod();
    const rk = await addOk(keep, conf({ cniVersion: '1.1.0' }));
    const rd = await addOk(drop, conf({ cniVersion: '1.1.0' }));
    const ids = ipFiles(dataDir, NET).map((f) => readFileSync(join(dataDir, NET, f), 'utf8').split('\r\n')[0]);
    const valid = ids.filter((id) => id !== drop.id).map((containerID) => ({ containerID, ifname: 'eth0' }));
    const gc = await cni(PLUGIN, 'GC', conf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': valid }), {});
    assert.equal(gc.code, 0, gc.stdout + gc.stderr);
    assert.ok(existsSync(join(dataDir, NET, rk.ips[0].address.split('/')[0])));
    assert.ok(!existsSync(join(dataDir, NET, rd.ips[0].address.split('/')[0])));
    assert.ok(existsSync(`/sys/class/net/${rk.interfaces[1].name}`));
    assert.ok(!existsSync(`/sys/class/net/${rd.interfaces[1].name}`));
    const st = await cni(PLUGIN, 'STATUS', conf({ cniVersion: '1.1.0' }), {});
    assert.equal(st.code, 0, st.stdout);
    assert.equal((await cni(PLUGIN, 'GC', conf(), {})).json.code, 1, 'GC needs a 1.1.0 config');
  });

  it('matches the reference bridge + host-local plugins: result shape and IPAM files', { timeout: 120_000 }, async () => {
    const p = await pod();
    const q = await pod();
    const ours = await addOk(p);
    const ref = await cni(`${REF_BIN}/bridge`, 'ADD', refConf(), { ...q.env, CNI_PATH: REF_BIN });
    assert.equal(ref.code, 0, ref.stdout + ref.stderr);
    assert.deepEqual(shape(ours), shape(ref.json));
    assert.deepEqual(ours.interfaces.map((i: Json) => Object.keys(i).sort()), ref.json.interfaces.map((i: Json) => Object.keys(i).sort()));
    // host-local's reservation file format is ours too.
    const refIp = ref.json.ips[0].address.split('/')[0];
    assert.equal(readFileSync(join(dataDir, REF_NET, refIp), 'utf8'), `${q.id}\r\neth0`);
    const ourIp = ours.ips[0].address.split('/')[0];
    assert.equal(readFileSync(join(dataDir, NET, ourIp), 'utf8'), `${p.id}\r\neth0`);
    assert.ok(existsSync(join(dataDir, NET, 'last_reserved_ip.0')) && existsSync(join(dataDir, REF_NET, 'last_reserved_ip.0')));
    // Error objects: the same required keys.
    const bad = await cni(`${REF_BIN}/bridge`, 'ADD', '{"cniVersion":', { ...q.env, CNI_PATH: REF_BIN });
    const badOurs = await cni(PLUGIN, 'ADD', '{"cniVersion":', p.env);
    assert.ok('code' in bad.json && 'msg' in bad.json && 'code' in badOurs.json && 'msg' in badOurs.json);
    const refDel = await cni(`${REF_BIN}/bridge`, 'DEL', refConf(), { ...q.env, CNI_PATH: REF_BIN });
    assert.equal(refDel.code, 0, refDel.stdout);
  });
});
