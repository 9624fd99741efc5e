/**
 * End-to-end test of the node host layer, against the real Docker engine and the
 * real kernel:
 *
 * - local images: built from /bin/busybox under throwaway names (removed after),
 *   rebuilt only when stale, run as real containers; the sandbox stops at once
 *   with status 0. Then the real names are ensured and left in place (they are
 *   the node's images, which every agent run ensures anyway).
 * - host network: run inside network namespaces made here, never on the host's
 *   own tables, so a concurrently running agent or test keeps its SKIFF-FORWARD
 *   and the host's network is never at risk. A router namespace gets Docker's
 *   situation (FORWARD policy DROP, a DOCKER-USER jump), two pod namespaces hang
 *   off it, and a ping between them proves SKIFF-FORWARD is what lets pod traffic
 *   through. Both iptables backends: nft, and legacy chosen by detection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { logger } from '../common/log.js';
import { BUSYBOX_ALIAS, BUSYBOX_IMAGE, CONTENT_LABEL, ensureLocalImages, SANDBOX_IMAGE } from '../agent/host/images.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const log = logger('host-test');

async function sh(cmd: string, args: string[]): Promise<string> {
  return (await run(cmd, args, { timeout: 60_000 })).stdout;
}
async function ok(cmd: string, args: string[]): Promise<boolean> {
  return run(cmd, args, { timeout: 60_000 }).then(() => true, () => false);
}

// ---------------------------------------------------------------------------
// Images.

async function runToEnd(docker: Dockerode, image: string, cmd: string[]): Promise<{ code: number; out: string }> {
  const c = await docker.createContainer({ Image: image, Cmd: cmd, HostConfig: { NetworkMode: 'none' }, Labels: { 'skiff.io/test': 'host' } });
  try {
    await c.start();
    const { StatusCode } = (await c.wait()) as { StatusCode: number };
    const logs = (await c.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
    // Multiplexed frames: 8-byte header (stream, size) then the payload.
    let out = '';
    for (let i = 0; i + 8 <= logs.length; ) {
      const n = logs.readUInt32BE(i + 4);
      out += logs.subarray(i + 8, i + 8 + n).toString();
      i += 8 + n;
    }
    return { code: StatusCode, out };
  } finally {
    await c.remove({ force: true });
  }
}

test('local images: built once from busybox-static, runnable, sandbox stops at once', { skip: !isRoot && 'needs root and Docker' }, async (t) => {
  const docker = new Dockerode();
  const names = { busybox: `skiff.local/test-busybox:${process.pid}`, sandbox: `skiff.local/test-pause:${process.pid}` };
  try {
    const first = await ensureLocalImages(docker, log, { names });
    assert.deepEqual([...first.built].sort(), [names.busybox, names.sandbox].sort());
    t.diagnostic(`local images built in ${first.ms} ms`);
    const second = await ensureLocalImages(docker, log, { names });
    assert.deepEqual(second.built, [], 'current images are not rebuilt');
    t.diagnostic(`local images already current: ${second.ms} ms`);

    const bb = await docker.getImage(names.busybox).inspect();
    assert.deepEqual(bb.Config.Cmd, ['sh']);
    assert.match(bb.Config.Labels?.[CONTENT_LABEL] ?? '', /^[0-9a-f]{32}$/);

    const script = [
      'id -un; id -un nobody',
      'stat -c %a /tmp',
      'for a in sh httpd nc wget nslookup sleep; do command -v $a >/dev/null && echo have-$a; done',
      'ls /bin | wc -l',
      'echo "$PATH"',
    ].join('; ');
    const r = await runToEnd(docker, names.busybox, ['sh', '-c', script]);
    assert.equal(r.code, 0, r.out);
    const lines = r.out.trim().split('\n');
    assert.deepEqual(lines.slice(0, 3), ['root', 'nobody', '1777']);
    assert.deepEqual(lines.slice(3, 9), ['sh', 'httpd', 'nc', 'wget', 'nslookup', 'sleep'].map((a) => `have-${a}`));
    assert.ok(Number(lines[9]) > 200, `every applet in /bin, got ${lines[9]}`);
    assert.match(lines[10]!, /(^|:)\/bin(:|$)/);

    // The sandbox: only the binary, running until stopped, then exit 0 at once.
    const sb = await docker.createContainer({ Image: names.sandbox, HostConfig: { NetworkMode: 'none' }, Labels: { 'skiff.io/test': 'host' } });
    try {
      await sb.start();
      assert.equal((await sb.inspect()).State.Running, true);
      const t0 = performance.now();
      await sb.stop({ t: 10 });
      const stopMs = performance.now() - t0;
      const st = (await sb.inspect()).State;
      assert.equal(st.ExitCode, 0);
      assert.ok(stopMs < 3000, `docker stop of a sandbox took ${Math.round(stopMs)} ms: TERM must end it, not the 10 s kill`);
    } finally {
      await sb.remove({ force: true });
    }
  } finally {
    for (const n of Object.values(names)) await docker.getImage(n).remove({ force: true }).catch(() => undefined);
  }
  for (const n of Object.values(names)) assert.equal(await docker.getImage(n).inspect().then(() => true, () => false), false, `${n} removed`);
});

test('local images: the real names exist, labelled, and busybox:1.35 is ours unless a foreign one was there', { skip: !isRoot && 'needs root and Docker' }, async () => {
  const docker = new Dockerode();
  const foreign = await docker.getImage(BUSYBOX_ALIAS).inspect().then((i) => !i.Config.Labels?.[CONTENT_LABEL], () => false);
  await ensureLocalImages(docker, log);
  const again = await ensureLocalImages(docker, log);
  assert.deepEqual(again.built, []);
  const bb = await docker.getImage(BUSYBOX_IMAGE).inspect();
  const pause = await docker.getImage(SANDBOX_IMAGE).inspect();
  assert.equal(bb.Config.Labels?.[CONTENT_LABEL], pause.Config.Labels?.[CONTENT_LABEL]);
  if (!foreign) assert.equal((await docker.getImage(BUSYBOX_ALIAS).inspect()).Id, bb.Id);
});

// ---------------------------------------------------------------------------
// Host network, in namespaces of our own.

const NETWORK_MODULE = new URL('../agent/host/network.js', import.meta.url).href;
const CLUSTER = '10.244.0.0/16';
const SERVICES = '10.96.0.0/12';

/** Runs ensure or teardown in a child process inside `ns` (as the agent would on the host); returns its result. */
async function inNetns(ns: string, verb: 'ensure' | 'teardown'): Promise<{ backend: string; serviceDevice: string; changed: boolean; bridgeNetfilter: boolean } | null>;
async function inNetns(ns: string, verb: 'teardownPods', cniRunDir: string): Promise<{ bridge: boolean; masquerade: boolean; busy: number }>;
async function inNetns(ns: string, verb: 'ensure' | 'teardown' | 'teardownPods', cniRunDir = ''): Promise<unknown> {
  const call = { ensure: `m.ensureHostNetwork({ clusterCIDR: '${CLUSTER}', serviceCIDR: '${SERVICES}' })`, teardown: 'm.teardownHostNetwork()', teardownPods: `m.teardownPodNetwork({ cniRunDir: ${JSON.stringify(cniRunDir)} })` }[verb];
  const script = `import * as m from ${JSON.stringify(NETWORK_MODULE)}; const r = await ${call}; process.stdout.write('\\nRESULT ' + JSON.stringify(r ?? null) + '\\n');`;
  const { stdout } = await run('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', script], {
    env: { ...process.env, SKIFF_LOG_LEVEL: 'warn' },
    timeout: 60_000,
  });
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  assert.ok(line, `no result from ${verb} in ${ns}: ${stdout}`);
  return JSON.parse(line.slice('RESULT '.length));
}

/** A ping from pod A to pod B through the router namespace; `tries` bounds retries (ARP on a fresh link). */
async function podsTalk(a: string, tries = 3): Promise<boolean> {
  for (let i = 0; i < tries; i++) if (await ok('ip', ['netns', 'exec', a, 'ping', '-c', '1', '-W', '1', '-q', '10.244.2.2'])) return true;
  return false;
}

for (const backend of ['nft', 'legacy'] as const) {
  const ipt = `iptables-${backend}`;
  const other = backend === 'nft' ? 'iptables-legacy' : 'iptables-nft';
  const available = isRoot && (await ok(ipt, ['--version'])) && (await ok(other, ['--version']));
  test(`host network (${backend}, detected): chain and first jump once, service route, pods forwarded, clean teardown`, { skip: !available && 'needs root and both iptables backends' }, async (t) => {
    const tag = `${process.pid}${backend[0]}`;
    const [R, A, B] = ['r', 'a', 'b'].map((x) => `skiff-ht-${tag}-${x}`) as [string, string, string];
    const inR = (cmd: string, ...args: string[]) => sh('ip', ['netns', 'exec', R, cmd, ...args]);
    try {
      for (const ns of [R, A, B]) await sh('ip', ['netns', 'add', ns]);
      const batch = [
        [R, 'link set lo up'],
        [R, `link add va type veth peer name eth0 netns ${A}`],
        [R, `link add vb type veth peer name eth0 netns ${B}`],
        [R, 'addr add 10.244.1.1/24 dev va'],
        [R, 'addr add 10.244.2.1/24 dev vb'],
        [R, 'link set va up'],
        [R, 'link set vb up'],
        [A, 'addr add 10.244.1.2/24 dev eth0'],
        [A, 'link set eth0 up'],
        [A, 'route add default via 10.244.1.1'],
        [B, 'addr add 10.244.2.2/24 dev eth0'],
        [B, 'link set eth0 up'],
        [B, 'route add default via 10.244.2.1'],
      ] as const;
      for (const [ns, cmd] of batch) await sh('ip', ['-n', ns, ...cmd.split(' ')]);
      // Docker's situation, in the backend under test only (so detection picks it).
      await inR('sh', '-c', 'echo 0 > /proc/sys/net/ipv4/ip_forward');
      await inR(ipt, '-w', '5', '-P', 'FORWARD', 'DROP');
      await inR(ipt, '-w', '5', '-N', 'DOCKER-USER');
      await inR(ipt, '-w', '5', '-A', 'DOCKER-USER', '-j', 'RETURN');
      await inR(ipt, '-w', '5', '-A', 'FORWARD', '-j', 'DOCKER-USER');
      assert.equal(await podsTalk(A, 1), false, 'before ensure the router drops pod traffic');

      const first = await inNetns(R, 'ensure');
      assert.equal(first?.backend, backend, 'backend detected from the rules present');
      assert.equal(first?.changed, true);
      assert.ok(first?.serviceDevice === 'dummy' || first?.serviceDevice === 'tun');
      t.diagnostic(`skiff-svc is a ${first?.serviceDevice} device; br_netfilter ${first?.bridgeNetfilter ? 'present' : 'missing'}`);
      const second = await inNetns(R, 'ensure');
      assert.equal(second?.changed, false, 'second ensure changes nothing');

      const check = async () => {
        const fwd = (await inR(ipt, '-w', '5', '-S', 'FORWARD')).trim().split('\n');
        assert.equal(fwd[0], '-P FORWARD DROP', 'policy untouched');
        const rules = fwd.filter((l) => l.startsWith('-A '));
        assert.equal(rules.filter((l) => l.endsWith('-j SKIFF-FORWARD')).length, 1, fwd.join('\n'));
        assert.match(rules[0]!, /-j SKIFF-FORWARD$/, 'our jump comes first');
        assert.ok(rules.includes('-A FORWARD -j DOCKER-USER'), 'other jumps untouched');
        const chain = (await inR(ipt, '-w', '5', '-S', 'SKIFF-FORWARD')).trim().split('\n');
        assert.deepEqual(chain.filter((l) => l.startsWith('-A ')), [
          `-A SKIFF-FORWARD -s ${CLUSTER} -m comment --comment "skiff: from pods" -j ACCEPT`,
          `-A SKIFF-FORWARD -d ${CLUSTER} -m comment --comment "skiff: to pods" -j ACCEPT`,
        ]);
        assert.doesNotMatch(await inR(`${other}-save`), /SKIFF/, 'never both backends');
        assert.equal((await inR('cat', '/proc/sys/net/ipv4/ip_forward')).trim(), '1');
        assert.match(await sh('ip', ['-n', R, '-4', 'route', 'show', 'exact', SERVICES]), /dev skiff-svc/);
        // A service IP with no proxy rule goes to skiff-svc (dropped there), from the node and from a pod.
        assert.match(await sh('ip', ['-n', R, 'route', 'get', '10.96.0.5']), /dev skiff-svc/);
        assert.match(await sh('ip', ['-n', R, 'route', 'get', '10.96.0.5', 'from', '10.244.1.2', 'iif', 'va']), /dev skiff-svc/);
      };
      await check();
      assert.equal(await podsTalk(A), true, 'SKIFF-FORWARD lets pod traffic through a DROP policy');

      // Drift: a duplicate jump appended and the chain flushed are both repaired.
      await inR(ipt, '-w', '5', '-A', 'FORWARD', '-m', 'comment', '--comment', 'skiff: pod forwarding', '-j', 'SKIFF-FORWARD');
      await inR(ipt, '-w', '5', '-F', 'SKIFF-FORWARD');
      assert.equal((await inNetns(R, 'ensure'))?.changed, true);
      await check();

      await inNetns(R, 'teardown');
      await inNetns(R, 'teardown');
      assert.doesNotMatch(await inR(`${ipt}-save`), /SKIFF/, 'no chain or jump of ours left');
      const fwd = await inR(ipt, '-w', '5', '-S', 'FORWARD');
      assert.match(fwd, /^-P FORWARD DROP$/m);
      assert.match(fwd, /^-A FORWARD -j DOCKER-USER$/m);
      assert.equal(await ok('ip', ['-n', R, 'link', 'show', 'skiff-svc']), false, 'skiff-svc removed');
      assert.equal(await sh('ip', ['-n', R, '-4', 'route', 'show', 'exact', SERVICES]), '');
      assert.equal(await podsTalk(A, 1), false, 'after teardown the DROP policy applies again');
    } finally {
      for (const ns of [R, A, B]) await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    }
    for (const ns of [R, A, B]) assert.equal(await ok('ip', ['netns', 'pids', ns]), false, `${ns} removed`);
  });
}

test('pod network teardown: kept while a pod is on the bridge, then bridge, masquerade chain and the plugin\'s stamps removed, idempotent', { skip: !isRoot && 'needs root' }, async () => {
  const N = `skiff-ht-${process.pid}-p`;
  // The plugin's run dir, as cni/skiff-bridge leaves it: its lock and a masquerade stamp.
  const runDir = mkdtempSync(join(tmpdir(), 'skiff-ht-cni-'));
  writeFileSync(join(runDir, 'lock'), '');
  writeFileSync(join(runDir, 'masq-skiff'), 'iptables-nft 10.244.1.0/24 10.244.0.0/16\n');
  const inN = (cmd: string, ...args: string[]) => sh('ip', ['netns', 'exec', N, cmd, ...args]);
  try {
    await sh('ip', ['netns', 'add', N]);
    // What cni/skiff-bridge leaves on a node: the bridge with a pod's veth, the chain and its jump.
    for (const cmd of ['link add skiff0 type bridge', 'link add vpod type veth peer name vpeer', 'link set vpod master skiff0', 'link add other type bridge']) await sh('ip', ['-n', N, ...cmd.split(' ')]);
    await inN('iptables-nft', '-w', '5', '-t', 'nat', '-N', 'SKIFF-CNI-MASQ');
    await inN('iptables-nft', '-w', '5', '-t', 'nat', '-A', 'SKIFF-CNI-MASQ', '-s', '10.244.1.0/24', '-j', 'MASQUERADE');
    await inN('iptables-nft', '-w', '5', '-t', 'nat', '-A', 'POSTROUTING', '-m', 'comment', '--comment', 'skiff-bridge pod masquerade', '-j', 'SKIFF-CNI-MASQ');
    await inN('iptables-nft', '-w', '5', '-t', 'nat', '-A', 'POSTROUTING', '-s', '192.0.2.0/24', '-j', 'MASQUERADE');

    assert.deepEqual(await inNetns(N, 'teardownPods', runDir), { bridge: false, masquerade: false, busy: 1 });
    assert.ok(existsSync(join(runDir, 'masq-skiff')), 'stamp kept with the rules');
    assert.equal(await ok('ip', ['-n', N, 'link', 'show', 'skiff0']), true, 'bridge kept while a pod is on it');
    assert.match(await inN('iptables-nft-save', '-t', 'nat'), /SKIFF-CNI-MASQ/);

    await sh('ip', ['-n', N, 'link', 'del', 'vpod']);
    assert.deepEqual(await inNetns(N, 'teardownPods', runDir), { bridge: true, masquerade: true, busy: 0 });
    assert.equal(existsSync(join(runDir, 'masq-skiff')), false, 'the stamp goes with the chain: the next ADD must add the rules again');
    assert.ok(existsSync(join(runDir, 'lock')), 'the lock file stays');
    assert.deepEqual(await inNetns(N, 'teardownPods', runDir), { bridge: false, masquerade: false, busy: 0 });
    assert.equal(await ok('ip', ['-n', N, 'link', 'show', 'skiff0']), false, 'bridge removed');
    assert.equal(await ok('ip', ['-n', N, 'link', 'show', 'other']), true, 'other bridges untouched');
    const nat = await inN('iptables-nft-save', '-t', 'nat');
    assert.doesNotMatch(nat, /SKIFF/, 'no chain or jump of ours left');
    assert.match(nat, /-A POSTROUTING -s 192\.0\.2\.0\/24 -j MASQUERADE/, 'other rules untouched');
  } finally {
    await run('ip', ['netns', 'del', N]).catch(() => undefined);
    rmSync(runDir, { recursive: true, force: true });
  }
});
