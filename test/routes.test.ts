/**
 * host-gw routes against the real kernel and a real API server: two "nodes" are
 * network namespaces of the test's own joined by a veth pair (198.51.100.0/24,
 * a documentation range, inside the namespaces only), each with a "pod"
 * namespace behind it on its pod CIDR. One RouteSyncer per node namespace
 * watches the Node objects; pod-to-pod traffic then flows across the two nodes
 * with the source address intact. Also: a node off-link is skipped with its
 * reason, a route someone else made is left alone, a deleted route is repaired,
 * a departed node's route removed. Nothing touches the host's own namespace (the
 * test checks that its table gained no route of ours); `after` deletes every
 * namespace, which takes the links and routes with it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { ApiClient } from '../controlplane/controllers/client.js';
import { isLogLevel, logger, setLogLevel } from '../common/log.js';
import { RouteSyncer, removeSkiffRoutes } from '../agent/network/routesync.js';
import { SKIFF_ROUTE_PROTO } from '../agent/network/routes.js';
import { API_ONLY, removeDir, startServer, waitFor, type RunResult, type ServerProc } from './harness.js';

const tag = randomBytes(3).toString('hex');
const NS = { a: `s6rt-a-${tag}`, b: `s6rt-b-${tag}`, podA: `s6rt-pa-${tag}`, podB: `s6rt-pb-${tag}` };
const NODE_IP = { a: '198.51.100.1', b: '198.51.100.2' };
const POD_CIDR = { a: '10.244.200.0/24', b: '10.244.201.0/24' };
const POD_IP = { a: '10.244.200.2', b: '10.244.201.2' };

/** Runs a command with stdin closed (ip and python3 read none), to completion or the deadline. */
function run(cmd: string, args: string[], o: { timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: o.timeoutMs ?? 30_000 });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function sh(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}
const ipn = (ns: string, ...args: string[]) => sh('ip', ['-n', ns, ...args]);

/** Our routes in a namespace (or the host's with ns undefined), as "dst via gw" strings. */
async function ours(ns?: string): Promise<string[]> {
  const out = await sh('ip', [...(ns ? ['-n', ns] : []), '-N', '-j', '-4', 'route', 'show', 'table', 'main', 'proto', String(SKIFF_ROUTE_PROTO)]);
  return (JSON.parse(out || '[]') as { dst: string; gateway?: string }[]).map((r) => `${r.dst} via ${r.gateway}`).sort();
}

/** A pod namespace behind a node namespace: veth, the node side as gateway (.1), forwarding on. */
async function podBehind(node: string, pod: string, cidr: string, podIP: string, link: string): Promise<void> {
  const gw = cidr.replace(/0\/24$/, '1');
  await sh('ip', ['netns', 'add', pod]);
  await sh('ip', ['link', 'add', `${link}n`, 'netns', node, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod]);
  await ipn(node, 'addr', 'add', `${gw}/24`, 'dev', `${link}n`);
  await ipn(node, 'link', 'set', `${link}n`, 'up');
  await ipn(pod, 'addr', 'add', `${podIP}/24`, 'dev', 'eth0');
  await ipn(pod, 'link', 'set', 'eth0', 'up');
  await ipn(pod, 'link', 'set', 'lo', 'up');
  await ipn(pod, 'route', 'add', 'default', 'via', gw);
  await sh('ip', ['netns', 'exec', node, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
}

/** One TCP connection pod A -> pod B: returns the peer address pod B saw (python3 on both ends). */
async function peerSeenByB(): Promise<string> {
  const server = run('ip', ['netns', 'exec', NS.podB, 'python3', '-c', [
    'import socket,sys',
    's=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
    `s.bind(("${POD_IP.b}", 8080)); s.listen(1); s.settimeout(20)`,
    'print("listening", flush=True)',
    'c,a=s.accept(); c.sendall(b"hi"); print(a[0], flush=True); c.close()',
  ].join('\n')], { timeoutMs: 30_000 });
  // Connect with retries until the listener is up (bounded).
  await waitFor(async () => {
    const r = await run('ip', ['netns', 'exec', NS.podA, 'python3', '-c', `import socket; s=socket.create_connection(("${POD_IP.b}", 8080), timeout=2); print(s.recv(2).decode())`], { timeoutMs: 10_000 });
    return r.code === 0 && r.stdout.trim() === 'hi';
  }, 'a TCP connection from pod A to pod B', 20_000);
  const r = await server;
  return r.stdout.split('\n').filter((l) => l && l !== 'listening').pop() ?? '';
}

describe('host-gw routes between two node namespaces', { timeout: 180_000 }, () => {
  let s: ServerProc;
  let api: ApiClient;
  const syncers: RouteSyncer[] = [];
  let hostBefore: string[] = [];

  const createNode = (name: string, podCIDR: string, ip: string) =>
    api.request('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name }, spec: { podCIDR, podCIDRs: [podCIDR] }, status: { addresses: [{ type: 'InternalIP', address: ip }] } });

  before(async () => {
    const level = process.env.SKIFF_LOG_LEVEL ?? 'warn';
    setLogLevel(isLogLevel(level) ? level : 'warn');
    hostBefore = await ours();
    s = await startServer({ extraArgs: API_ONLY });
    api = new ApiClient({ server: s.url, ca: s.ca, token: s.token });
    await sh('ip', ['netns', 'add', NS.a]);
    await sh('ip', ['netns', 'add', NS.b]);
    await sh('ip', ['link', 'add', 'eth1', 'netns', NS.a, 'type', 'veth', 'peer', 'name', 'eth1', 'netns', NS.b]);
    await ipn(NS.a, 'addr', 'add', `${NODE_IP.a}/24`, 'dev', 'eth1');
    await ipn(NS.b, 'addr', 'add', `${NODE_IP.b}/24`, 'dev', 'eth1');
    for (const ns of [NS.a, NS.b]) {
      await ipn(ns, 'link', 'set', 'eth1', 'up');
      await ipn(ns, 'link', 'set', 'lo', 'up');
    }
    await podBehind(NS.a, NS.podA, POD_CIDR.a, POD_IP.a, 'pa');
    await podBehind(NS.b, NS.podB, POD_CIDR.b, POD_IP.b, 'pb');
    await createNode('node-a', POD_CIDR.a, NODE_IP.a);
    await createNode('node-b', POD_CIDR.b, NODE_IP.b);
    // Off-link: its InternalIP is on no network the node namespaces have.
    await createNode('node-far', '10.244.202.0/24', '203.0.113.9');
    for (const [name, netns] of [['node-a', NS.a], ['node-b', NS.b]] as const) {
      const r = new RouteSyncer({ api, nodeName: name, clusterCIDR: '10.244.0.0/16', log: logger(`routes-${name}`), resyncMs: 300, netns });
      r.start();
      syncers.push(r);
    }
  });

  after(async () => {
    for (const r of syncers) await r.stop().catch(() => undefined);
    api?.close();
    for (const ns of Object.values(NS)) await run('ip', ['netns', 'del', ns]);
    await s?.stop();
    if (s) removeDir(s.dataDir);
  });

  it('programs each node\'s route to the other\'s pods, skips the off-link node with its reason', async () => {
    await waitFor(async () => (await ours(NS.a)).join() === `${POD_CIDR.b} via ${NODE_IP.b}`, 'node A routes to node B\'s pods');
    await waitFor(async () => (await ours(NS.b)).join() === `${POD_CIDR.a} via ${NODE_IP.a}`, 'node B routes to node A\'s pods');
    const far = syncers[0].last?.skipped.find((x) => x.node === 'node-far');
    assert.match(far?.reason ?? '', /203\.0\.113\.9 is not on a directly connected network/);
  });

  it('carries pod-to-pod traffic across the nodes without NAT', async () => {
    await sh('ip', ['netns', 'exec', NS.podA, 'ping', '-c', '1', '-W', '5', POD_IP.b]);
    assert.equal(await peerSeenByB(), POD_IP.a, 'pod B sees pod A\'s own address');
  });

  it('repairs a route deleted behind its back', async () => {
    await ipn(NS.a, 'route', 'del', POD_CIDR.b);
    assert.deepEqual(await ours(NS.a), []);
    await waitFor(async () => (await ours(NS.a)).join() === `${POD_CIDR.b} via ${NODE_IP.b}`, 'the route back after a resync');
  });

  it('leaves alone a route to a node\'s pods that it did not make', async () => {
    await ipn(NS.a, 'route', 'add', '10.244.203.0/24', 'via', NODE_IP.b, 'proto', 'static');
    await createNode('node-c', '10.244.203.0/24', '198.51.100.3');
    await waitFor(() => syncers[0].last?.skipped.some((x) => x.node === 'node-c' && /did not make/.test(x.reason)), 'the conflict reported');
    const r = JSON.parse(await ipn(NS.a, '-N', '-j', 'route', 'show', '10.244.203.0/24')) as { gateway: string; protocol: string }[];
    assert.deepEqual(r.map((x) => [x.gateway, x.protocol]), [[NODE_IP.b, '4']], 'the static route is as it was');
  });

  it('removes the route of a node that left, and only ours', async () => {
    await api.request('DELETE', '/api/v1/nodes/node-b');
    await waitFor(async () => (await ours(NS.a)).length === 0, 'the route to node B\'s pods gone');
    assert.match(await ipn(NS.a, 'route', 'show', '10.244.203.0/24'), /via 198\.51\.100\.2 dev eth1 proto static/);
    // Node B left: its agent stopped (a running syncer would repair what is removed next),
    // and B still routes to node A's and node C's pods: both are ours, both go.
    await syncers[1].stop();
    assert.equal(await removeSkiffRoutes({ netns: NS.b }), 2);
    assert.deepEqual(await ours(NS.b), []);
    assert.equal(await removeSkiffRoutes({ netns: NS.b }), 0, 'idempotent');
  });

  it('never touched the host\'s own routing table', async () => {
    assert.deepEqual(await ours(), hostBefore);
  });
});
