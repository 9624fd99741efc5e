/**
 * The service proxy end to end: a real server, a real `skiff agent` (which runs
 * the proxy) on this host, real pods (busybox httpd answering with its pod name)
 * and the host's real netfilter, in whichever mode the agent picks here (native
 * nftables on Debian 12). Traffic goes only to the Services, pods and bridge this
 * suite creates, and to 127.0.0.1.
 *
 * Host-wide: the agent holds test/agentharness.ts's host lock, so no other
 * suite's proxy programs the host meanwhile; teardown is checked under that lock.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, kubectl, kubectlOk, removeDir, startServer, waitFor, type ServerProc } from './harness.js';
import { acquireHostLock, getJson, isRunningReady, releaseHostLock, startAgent, waitPod, type AgentProc } from './agentharness.js';
import { teardownProxy } from '../agent/proxy/proxy.js';
import { logger } from '../common/log.js';
import { execRunner, openIptables } from '../common/iptables.js';

const NODE = 'skiff-e2e-proxy';
const IMG = 'busybox:1.35';
const NODEPORT = 31080;
const isRoot = process.getuid?.() === 0;

let s: ServerProc;
let agent: AgentProc | undefined;
/** The mode the current suite's agent was told to use. */
let modeFlag: 'auto' | 'iptables' = 'auto';
const apply = (yaml: string): Promise<string> => kubectlOk(s, ['apply', '-f', '-'], yaml);

/** httpd serving its pod name; Ready unless /tmp/notready exists (the check is instant; docker exec may not be). */
function deployment(name: string, replicas: number): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: default}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: ${IMG}
        command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"]
        readinessProbe:
          exec: {command: ["sh", "-c", "test ! -f /tmp/notready"]}
          periodSeconds: 1
          failureThreshold: 1
          # A docker exec can take over a second on a loaded 2-core host: a probe that
          # timed out would take every endpoint out at once (connection refused).
          timeoutSeconds: 10
`;
}

function service(name: string, app: string, extra = ''): string {
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: default}
spec:
  selector: {app: ${app}}
  ports: [{port: 80, targetPort: 80${extra.includes('NodePort') ? `, nodePort: ${NODEPORT}` : ''}}]
${extra}`;
}

/** One HTTP GET on a fresh connection (a new conntrack flow, so a new balancing decision). */
function get(host: string, port = 80, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/', agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body.trim()));
    });
    req.on('timeout', () => req.destroy(new Error(`GET http://${host}:${port}/ timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** How a TCP connect ends, and how long it took. */
function connectResult(host: string, port: number, timeoutMs = 5000): Promise<{ outcome: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const sock = connect({ host, port, timeout: timeoutMs });
    const done = (outcome: string): void => {
      sock.destroy();
      resolve({ outcome, ms: Date.now() - t0 });
    };
    sock.once('connect', () => done('connected'));
    sock.once('timeout', () => done('timeout'));
    sock.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}

async function clusterIP(name: string): Promise<string> {
  const svc = await waitFor(() => getJson(s, ['service', name]), `service ${name}`);
  return svc.spec.clusterIP;
}

async function readyPods(app: string): Promise<string[]> {
  const l = await getJson(s, ['pods', '-l', `app=${app}`]);
  return (l?.items ?? []).filter(isRunningReady).map((p: { metadata: { name: string } }) => p.metadata.name).sort();
}

/** Endpoints the slice of a service lists as ready. */
async function readyEndpoints(svc: string): Promise<number> {
  const l = await getJson(s, ['endpointslices', '-l', `kubernetes.io/service-name=${svc}`]);
  return (l?.items ?? []).flatMap((sl: { endpoints?: { conditions?: { ready?: boolean } }[] }) => sl.endpoints ?? []).filter((e: { conditions?: { ready?: boolean } }) => e.conditions?.ready !== false).length;
}

/** Names answering `n` fresh GETs, with counts. */
async function spread(host: string, n: number, port = 80): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const name = await get(host, port);
    seen.set(name, (seen.get(name) ?? 0) + 1);
  }
  return seen;
}

/** Commands that ignore stdin go through common/iptables.ts's runner (no EPIPE on an unread stdin). */
const sh = (cmd: string, args: string[]) => execRunner.run(cmd, args);
const nftMode = async (): Promise<boolean> => modeFlag === 'auto' && (await sh('nft', ['list', 'table', 'ip', 'skiff'])).code === 0;
const hasNftTable = async (): Promise<boolean> => (await sh('nft', ['list', 'table', 'ip', 'skiff'])).code === 0;

/**
 * The suite, for one mode: 'auto' (native nftables on this host, or iptables on a
 * legacy host) and 'iptables' (kube-proxy's layout on the host's backend).
 */
function suite(mode: 'auto' | 'iptables'): void {
  describe(`service proxy (--proxy-mode ${mode})`, { concurrency: false, skip: !isRoot && 'needs root, Docker and netfilter' }, () => {
    let web: string;
    let pods: string[];

    before(async () => {
      modeFlag = mode;
      s = await startServer({ extraArgs: ['--node-monitor-grace-period', '20s'] });
      agent = await startAgent(s, { nodeName: NODE, extraArgs: ['--proxy-mode', mode, '--proxy-min-sync-period', '0ms', '--proxy-full-sync-period', '3s'] });
      await waitFor(async () => {
        const n = await getJson(s, ['node', NODE]);
        return n?.spec?.podCIDR && n.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
      }, 'node Ready with a podCIDR', 60_000);
      await apply(deployment('web', 3));
      await apply(service('web', 'web', '  type: NodePort\n'));
      await apply(service('sticky', 'web', '  sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}\n'));
      await apply(deployment('lonely', 1));
      await apply(service('lonely', 'lonely'));
      await apply(`apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: ${IMG}, command: ["sleep", "3600"]}]
`);
      pods = await waitFor(async () => {
        const p = await readyPods('web');
        return p.length === 3 && p;
      }, '3 web pods Ready', 120_000);
      await waitPod(s, 'default', 'client', isRunningReady, 'Running');
      web = await clusterIP('web');
      await waitFor(async () => (await readyEndpoints('web')) === 3, 'web slice with 3 ready endpoints', 30_000);
    });

    after(async () => {
      // Under the host lock: our agent's rules are removed by us, not another suite's.
      await acquireHostLock();
      try {
        if (s) await kubectl(s, ['delete', 'deployments,services,pods', '--all', '--wait=true', '--timeout=90s', '--grace-period=1']);
        await agent?.stop();
        await s?.stop();
        const log = logger('proxy-test');
        log.level = 'warn';
        await teardownProxy({ log });
        assert.equal(await hasNftTable(), false, 'no table ip skiff after teardown');
        for (const [cmd, table] of [['iptables-nft-save', 'nat'], ['iptables-nft-save', 'filter'], ['iptables-legacy-save', 'nat'], ['iptables-legacy-save', 'filter']]) {
          const out = (await sh(cmd, ['-t', table])).stdout;
          assert.doesNotMatch(out, /SKIFF-(SERVICES|NODEPORTS|POSTROUTING|MARK-MASQ|EXTERNAL-SERVICES|SVC-|SEP-|EXT-|SVL-)/, `${cmd} -t ${table}: no proxy chain after teardown`);
        }
      } finally {
        releaseHostLock();
        if (agent) removeDir(agent.dataDir);
        if (s) removeDir(s.dataDir);
      }
    });

    test('ClusterIP from the host reaches the pods, spread over all 3 endpoints', async () => {
      await waitFor(() => get(web).then((b) => pods.includes(b), () => false), 'ClusterIP answers from the host', 20_000);
      const seen = await spread(web, 300);
      assert.deepEqual([...seen.keys()].sort(), pods, `every endpoint answered: ${JSON.stringify([...seen])}`);
      // Each gets a share: 1/3 expected (100); below 50 would mean a skewed balancer (p < 1e-7 by chance).
      for (const [name, n] of seen) assert.ok(n >= 50, `${name} got ${n} of 300 requests`);
    });

    test('ClusterIP from a pod, and a pod reaching itself through its own Service (hairpin)', async () => {
      const out = await kubectlOk(s, ['exec', 'client', '--', 'sh', '-c', `for i in 1 2 3 4 5 6; do timeout 5 wget -qO- http://${web}/ || echo FAIL; done`]);
      const lines = out.trim().split('\n');
      assert.equal(lines.length, 6, out);
      for (const l of lines) assert.ok(pods.includes(l), `pod got an answer from an endpoint: ${out}`);
      // From web's own pod, about a third of the requests land on itself: each must still be answered.
      const self = pods[0]!;
      const mine = await kubectlOk(s, ['exec', self, '--', 'sh', '-c', `for i in $(seq 30); do timeout 5 wget -qO- http://${web}/ || echo FAIL; done`]);
      const got = mine.trim().split('\n');
      assert.ok(!got.includes('FAIL'), `every request through the Service answered:\n${mine}`);
      assert.ok(got.includes(self), `at least one of 30 requests came back to the pod itself (hairpin): ${got.join(' ')}`);
    });

    test('NodePort answers on 127.0.0.1, the node IP and the pod bridge address', async () => {
      const bridge = (await sh('ip', ['-4', '-o', 'addr', 'show', 'dev', 'skiff0'])).stdout.match(/inet (\d+\.\d+\.\d+\.\d+)/)?.[1];
      assert.ok(bridge, 'skiff0 has an address');
      const node = await getJson(s, ['node', NODE]);
      const nodeIP = node.status.addresses.find((a: { type: string }) => a.type === 'InternalIP').address;
      for (const addr of new Set(['127.0.0.1', nodeIP, bridge])) {
        const body = await waitFor(() => get(addr, NODEPORT).catch(() => undefined), `NodePort on ${addr}`, 10_000);
        assert.ok(pods.includes(body), `NodePort on ${addr} answered by a web pod: ${body}`);
      }
    });

    test('sessionAffinity ClientIP keeps a client on one endpoint', async () => {
      const sticky = await clusterIP('sticky');
      await waitFor(() => get(sticky).then((b) => pods.includes(b), () => false), 'sticky answers', 20_000);
      const seen = await spread(sticky, 40);
      assert.equal(seen.size, 1, `one endpoint for every request: ${JSON.stringify([...seen])}`);
      const fromPod = await kubectlOk(s, ['exec', 'client', '--', 'sh', '-c', `for i in $(seq 10); do timeout 5 wget -qO- http://${sticky}/; done`]);
      assert.equal(new Set(fromPod.trim().split('\n')).size, 1, `a pod client also stays on one endpoint:\n${fromPod}`);
    });

    test('a readiness flip takes an endpoint out of rotation, and back', async () => {
      const victim = pods[1]!;
      await kubectlOk(s, ['exec', victim, '--', 'touch', '/tmp/notready']);
      await waitFor(async () => (await readyEndpoints('web')) === 2, 'slice shows 2 ready endpoints', 30_000);
      // The proxy follows within its sync; then 60 fresh requests never reach the unready pod.
      await waitFor(async () => !(await spread(web, 30)).has(victim), 'unready pod out of rotation', 15_000);
      const seen = await spread(web, 60);
      assert.ok(!seen.has(victim), `unready ${victim} got no request: ${JSON.stringify([...seen])}`);
      assert.equal(seen.size, 2);
      await kubectlOk(s, ['exec', victim, '--', 'rm', '/tmp/notready']);
      await waitFor(async () => (await spread(web, 30)).has(victim), 'ready again: back in rotation', 30_000);
    });

    test('rules flushed behind the proxy\'s back are repaired by the periodic full resync', async () => {
      if (await nftMode()) assert.equal((await sh('nft', ['flush', 'chain', 'ip', 'skiff', 'services'])).code, 0);
      else assert.equal((await sh((await openIptables()).command, ['-t', 'nat', '-F', 'SKIFF-SERVICES'])).code, 0);
      const t0 = Date.now();
      await waitFor(() => get(web, 80, 1000).then((b) => pods.includes(b), () => false), 'ClusterIP answers again', 15_000);
      // The full resync period is 3 s in this suite.
      assert.ok(Date.now() - t0 < 8000, `repaired within the period (+ margin): ${Date.now() - t0} ms`);
      // A full resync rewrites the proxy's own chains only: the CNI plugin's pod masquerade stays.
      const masq = await sh((await openIptables()).command, ['-w', '5', '-t', 'nat', '-S', 'SKIFF-CNI-MASQ']);
      assert.match(masq.stdout, /^-A SKIFF-CNI-MASQ -s 10\.244\.\d+\.0\/24 .*-j MASQUERADE$/m, masq.stdout + masq.stderr);
    });

    test('a Service scaled to 0 fails fast: connection refused, not a hang', async () => {
      const lonely = await clusterIP('lonely');
      await waitFor(() => get(lonely).then(() => true, () => false), 'lonely answers', 60_000);
      await kubectlOk(s, ['scale', 'deployment/lonely', '--replicas=0']);
      await waitFor(async () => (await readyEndpoints('lonely')) === 0, 'lonely has no endpoints', 60_000);
      const r = await waitFor(async () => {
        const c = await connectResult(lonely, 80);
        return c.outcome === 'ECONNREFUSED' && c;
      }, 'connection refused', 15_000);
      assert.ok(r.ms < 1000, `refused within 1 s (${r.ms} ms)`);
      const again = await connectResult(lonely, 80);
      assert.equal(again.outcome, 'ECONNREFUSED');
      assert.ok(again.ms < 1000, `refused within 1 s (${again.ms} ms)`);
      // From a pod too: wget fails at once rather than waiting out its 5 s timeout.
      const t0 = Date.now();
      const out = await kubectl(s, ['exec', 'client', '--', 'sh', '-c', `timeout 5 wget -qO- http://${lonely}/; echo rc=$?`]);
      assert.match(out.stdout, /rc=1/, out.stdout + out.stderr);
      assert.ok(Date.now() - t0 < 4000, `pod's wget failed fast (${Date.now() - t0} ms including kubectl exec)`);
    });
  });
}

suite('auto');
suite('iptables');

/**
 * `skiff proxy` alone (no agent, no pods): a Service without selector and a
 * hand-made EndpointSlice pointing at a busybox httpd inside a network namespace
 * made here, reached from the host through the ClusterIP and a NodePort.
 */
describe('skiff proxy (standalone)', { concurrency: false, skip: !isRoot && 'needs root and netfilter' }, () => {
  const NS = `skiff-ptest-${process.pid % 10000}`;
  const HOST_IF = `skp${process.pid % 10000}`;
  let proxy: ChildProcess | undefined;
  let out = '';
  let dir = '';

  before(async () => {
    await acquireHostLock();
    s = await startServer({ extraArgs: ['--disable-scheduler'] });
    dir = mkdtempSync(join(tmpdir(), 'skiff-ptest-'));
    writeFileSync(join(dir, 'index.html'), 'from-netns\n');
    // A namespace with one address behind a veth: the endpoint.
    for (const args of [
      ['netns', 'add', NS],
      ['link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS],
      ['addr', 'add', '10.250.77.1/30', 'dev', HOST_IF],
      ['link', 'set', HOST_IF, 'up'],
      ['-n', NS, 'addr', 'add', '10.250.77.2/30', 'dev', 'eth0'],
      ['-n', NS, 'link', 'set', 'eth0', 'up'],
      ['-n', NS, 'link', 'set', 'lo', 'up'],
    ]) assert.equal((await sh('ip', args)).code, 0, `ip ${args.join(' ')}`);
    const httpd = await sh('ip', ['netns', 'exec', NS, 'busybox', 'httpd', '-p', '8080', '-h', dir]);
    assert.equal(httpd.code, 0, httpd.stderr);
    await apply(`apiVersion: v1
kind: Service
metadata: {name: outside, namespace: default}
spec:
  type: NodePort
  ports: [{port: 80, targetPort: 8080, nodePort: ${NODEPORT + 1}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: outside-1, namespace: default, labels: {kubernetes.io/service-name: outside}}
addressType: IPv4
ports: [{name: "", port: 8080, protocol: TCP}]
endpoints: [{addresses: ["10.250.77.2"], conditions: {ready: true}}]
`);
    const token = (JSON.parse(readFileSync(join(s.dataDir, 'tokens.json'), 'utf8')) as { node: string }).node;
    proxy = spawn(process.execPath, [CLI, 'proxy', '--server', s.url, '--token', token, '--ca-file', join(s.dataDir, 'pki', 'ca.crt'), '--node-name', 'standalone', '--proxy-full-sync-period', '2s', '--proxy-min-sync-period', '0ms', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    proxy.stdout!.on('data', (d) => (out += d));
    proxy.stderr!.on('data', (d) => (out += d));
    await waitFor(() => /skiff proxy ready mode=\S+/.test(out) || proxy!.exitCode !== null, 'skiff proxy ready', 30_000);
    assert.match(out, /skiff proxy ready mode=(nftables|iptables-\w+) node=standalone/, out);
  });

  after(async () => {
    if (proxy && proxy.exitCode === null) {
      const exited = new Promise((r) => proxy!.once('exit', r));
      proxy.kill('SIGTERM');
      await exited;
    }
    await s?.stop();
    // The busybox httpd daemon lives in the namespace: kill it by the namespace's pids, then the namespace.
    const pids = (await sh('ip', ['netns', 'pids', NS])).stdout.split('\n').filter(Boolean);
    for (const pid of pids) process.kill(Number(pid), 'SIGKILL');
    await sh('ip', ['link', 'del', HOST_IF]);
    await sh('ip', ['netns', 'del', NS]);
    releaseHostLock();
    if (dir) removeDir(dir);
    if (s) removeDir(s.dataDir);
  });

  test('a ClusterIP and a NodePort reach an endpoint outside any pod; the rules outlive the process', async () => {
    const ip = await clusterIP('outside');
    assert.equal(await waitFor(() => get(ip).catch(() => undefined), 'ClusterIP through skiff proxy', 15_000), 'from-netns');
    assert.equal(await get('127.0.0.1', NODEPORT + 1), 'from-netns');
    const exited = new Promise((r) => proxy!.once('exit', r));
    proxy!.kill('SIGTERM');
    await exited;
    assert.equal(proxy!.exitCode, 0, out);
    assert.equal(await get(ip), 'from-netns', 'a stopped proxy leaves its rules (a restarted one takes over)');
  });
});
