/**
 * Cluster DNS end to end: a real server (which creates the `kubernetes` and
 * `kube-dns` Services), a real `skiff agent` on this host running the DNS server
 * and the service proxy, real pods, and busybox's own nslookup inside them.
 *
 * The node IP is an address on a tun device this suite creates (10.253.53.53/32):
 * pods reach it through their default route like a real node's address, which
 * they cannot do with the harness's 127.0.0.1 (nor may Endpoints point there).
 *
 * Paths exercised: the host querying the agent's DNS on 127.0.0.1 and on the node
 * IP over UDP and TCP with a dns-packet client; pods querying <nodeIP>:<port> with
 * busybox nslookup; and a pod resolving through its resolv.conf nameserver
 * 10.96.0.10, which the proxy sends to this node's DNS endpoint (kube-dns has
 * internalTrafficPolicy Local). Traffic goes only to 127.0.0.1, the tun address,
 * the Service addresses and the pods this suite creates.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { execFile } from 'node:child_process';
import { kubectl, kubectlOk, removeDir, startServer, waitFor, type ServerProc } from './harness.js';
import { getJson, isRunningReady, startAgent, waitPod, type AgentProc } from './agentharness.js';
import { query, type DnsResponse } from '../agent/dns/client.js';

const NODE = 'skiff-e2e-dns';
const NODE_IP = '10.253.53.53';
const NODE_LINK = 'skiff-dnst0';
const IMG = 'busybox:1.35';
const isRoot = process.getuid?.() === 0;

let s: ServerProc;
let agent: AgentProc | undefined;
let port = 0;
/** The harness passes --node-ip 127.0.0.1; a later flag wins. */
const AGENT_ARGS = (): string[] => ['--node-ip', NODE_IP, '--dns-port', String(port), '--proxy-min-sync-period', '0ms'];
const apply = (yaml: string): Promise<string> => kubectlOk(s, ['apply', '-f', '-'], yaml);

/** A port free for both UDP and TCP on 127.0.0.1 (so this suite never collides with a `skiff up` on 10053). */
async function freePort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const udp = createSocket('udp4');
    const p = await new Promise<number>((r) => udp.bind(0, '127.0.0.1', () => r(udp.address().port)));
    const tcpFree = await new Promise<boolean>((r) => {
      const t = createServer();
      t.once('error', () => r(false));
      t.listen(p, '127.0.0.1', () => t.close(() => r(true)));
    });
    await new Promise<void>((r) => udp.close(() => r()));
    if (tcpFree) return p;
  }
  throw new Error('no free port for both UDP and TCP');
}

const ask = (name: string, type: string, tcp = false, server = '127.0.0.1'): Promise<DnsResponse> => query(name, type, { server, port, tcp, timeoutMs: 2000 });
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const data = (r: DnsResponse): any[] => (r.answers ?? []).map((a) => (a as { data: unknown }).data);

/** Runs a command in a pod. */
async function execIn(pod: string, ns: string, cmd: string[]): Promise<{ code: number; out: string }> {
  const r = await kubectl(s, ['exec', '-n', ns, pod, '--', ...cmd]);
  return { code: r.code, out: r.stdout + r.stderr };
}

/** busybox `nslookup NAME [SERVER[:PORT]]` in a pod (its own DNS client; it does not use the search list). */
const nslookup = (pod: string, ns: string, args: string[]): Promise<{ code: number; out: string }> => execIn(pod, ns, ['nslookup', ...args]);

/** `ip ...` without stdin (harness.run feeds stdin, which a command this quick has closed: EPIPE). */
function ip(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => execFile('ip', args, { timeout: 10_000 }, (err, _out, stderr) => resolve({ code: err ? 1 : 0, stderr })));
}

/** The node address: a tun device nobody attaches to still holds a local address. */
async function addNodeAddress(): Promise<void> {
  await ip(['link', 'del', NODE_LINK]);
  for (const args of [['tuntap', 'add', 'dev', NODE_LINK, 'mode', 'tun'], ['addr', 'add', `${NODE_IP}/32`, 'dev', NODE_LINK], ['link', 'set', NODE_LINK, 'up']]) {
    const r = await ip(args);
    if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
  }
}

describe('cluster DNS', { concurrency: false, skip: !isRoot && 'needs root, Docker and netfilter' }, () => {
  let webIP: string;
  let webPodIP: string;

  before(async () => {
    port = await freePort();
    await addNodeAddress();
    s = await startServer({ extraArgs: ['--node-monitor-grace-period', '20s'] });
    agent = await startAgent(s, { nodeName: NODE, extraArgs: AGENT_ARGS() });
    await waitFor(async () => {
      const n = await getJson(s, ['node', NODE]);
      return n?.spec?.podCIDR && n.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
    }, 'node Ready with a podCIDR', 60_000);
    await apply(`apiVersion: v1
kind: Namespace
metadata: {name: dns-srv}
---
apiVersion: v1
kind: Namespace
metadata: {name: dns-client}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: dns-srv, labels: {app: web}}
spec:
  hostname: web-0
  subdomain: db
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: ${IMG}
    command: ["sh", "-c", "mkdir -p /www && echo hello-dns > /www/index.html && exec httpd -f -p 80 -h /www"]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: dns-srv}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: dns-srv}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: pg, port: 5432, targetPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: dns-srv}
spec:
  type: ExternalName
  externalName: web.dns-srv.svc.cluster.local
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: dns-client}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: ${IMG}, command: ["sleep", "3600"]}]
`);
    const web = await waitPod(s, 'dns-srv', 'web', isRunningReady, 'Running and Ready', 90_000);
    webPodIP = web.status.podIP;
    await waitPod(s, 'dns-client', 'client', isRunningReady, 'Running', 90_000);
    webIP = (await getJson(s, ['service', '-n', 'dns-srv', 'web'])).spec.clusterIP;
  });

  after(async () => {
    if (s) await kubectl(s, ['delete', 'namespace', 'dns-srv', 'dns-client', '--wait=true', '--timeout=90s']);
    await agent?.stop();
    await s?.stop();
    if (agent) removeDir(agent.dataDir);
    if (s) removeDir(s.dataDir);
    await ip(['link', 'del', NODE_LINK]);
  });

  test('the control plane creates kubernetes (10.96.0.1) and kube-dns (10.96.0.10); the agent publishes its own DNS endpoint', async () => {
    const k8s = await getJson(s, ['service', '-n', 'default', 'kubernetes']);
    assert.equal(k8s.spec.clusterIP, '10.96.0.1');
    assert.deepEqual(k8s.spec.ports.map((p: { name: string; port: number }) => [p.name, p.port]), [['https', 443]]);
    const dns = await getJson(s, ['service', '-n', 'kube-system', 'kube-dns']);
    assert.equal(dns.spec.clusterIP, '10.96.0.10');
    assert.equal(dns.spec.internalTrafficPolicy, 'Local');
    assert.equal(dns.spec.selector, undefined);
    const slice = await waitFor(() => getJson(s, ['endpointslice', '-n', 'kube-system', `kube-dns-${NODE}`]), 'the kube-dns slice of this node', 30_000);
    assert.equal(slice.metadata.labels['kubernetes.io/service-name'], 'kube-dns');
    assert.equal(slice.metadata.labels['endpointslice.kubernetes.io/managed-by'], 'skiff-agent');
    assert.deepEqual(slice.endpoints.map((e: { addresses: string[]; nodeName: string; conditions: { ready: boolean } }) => [e.addresses, e.nodeName, e.conditions.ready]), [[[NODE_IP], NODE, true]]);
    assert.deepEqual(slice.ports.map((p: { name: string; port: number; protocol: string }) => [p.name, p.port, p.protocol]).sort(), [['dns', port, 'UDP'], ['dns-tcp', port, 'TCP']]);
    const node = await getJson(s, ['node', NODE]);
    assert.deepEqual(slice.metadata.ownerReferences.map((r: { kind: string; uid: string }) => [r.kind, r.uid]), [['Node', node.metadata.uid]]);
  });

  test('from the host over UDP and TCP, on 127.0.0.1 and the node IP: ClusterIP, headless, endpoint hostname, SRV, CNAME, pod names', async () => {
    for (const server of ['127.0.0.1', NODE_IP]) {
      for (const tcp of [false, true]) {
        const a = await ask('web.dns-srv.svc.cluster.local', 'A', tcp, server);
        assert.equal(a.rcode, 'NOERROR');
        assert.equal(a.flag_aa, true);
        assert.deepEqual(data(a), [webIP]);
      }
    }
    // The headless service and its endpoint name appear once the slice lists the ready pod.
    await waitFor(async () => data(await ask('db.dns-srv.svc.cluster.local', 'A'))[0] === webPodIP, 'headless db resolves to the pod', 30_000);
    assert.deepEqual(data(await ask('web-0.db.dns-srv.svc.cluster.local', 'A')), [webPodIP]);
    const srv = await ask('_http._tcp.web.dns-srv.svc.cluster.local', 'SRV');
    assert.deepEqual(data(srv), [{ priority: 0, weight: 100, port: 80, target: 'web.dns-srv.svc.cluster.local' }]);
    const hsrv = await ask('_pg._tcp.db.dns-srv.svc.cluster.local', 'SRV');
    assert.deepEqual(data(hsrv), [{ priority: 0, weight: 100, port: 80, target: 'web-0.db.dns-srv.svc.cluster.local' }]);
    const cname = await ask('ext.dns-srv.svc.cluster.local', 'A');
    assert.deepEqual(data(cname), ['web.dns-srv.svc.cluster.local', webIP]);
    assert.deepEqual(data(await ask(`${webPodIP.replace(/\./g, '-')}.dns-srv.pod.cluster.local`, 'A')), [webPodIP]);
    assert.deepEqual(data(await ask('kubernetes.default.svc.cluster.local', 'A')), ['10.96.0.1']);
    assert.deepEqual(data(await ask('kube-dns.kube-system.svc.cluster.local', 'A')), ['10.96.0.10']);
  });

  test('from the host: NXDOMAIN with SOA, NODATA for AAAA, REFUSED outside the cluster, case-insensitive', async () => {
    const nx = await ask('nope.dns-srv.svc.cluster.local', 'A');
    assert.equal(nx.rcode, 'NXDOMAIN');
    assert.equal(nx.authorities?.[0]?.type, 'SOA');
    const nodata = await ask('web.dns-srv.svc.cluster.local', 'AAAA');
    assert.equal(nodata.rcode, 'NOERROR');
    assert.equal(nodata.answers?.length, 0);
    assert.equal((await ask('example.com', 'A')).rcode, 'REFUSED');
    assert.deepEqual(data(await ask('WEB.Dns-Srv.SVC.cluster.LOCAL', 'A')), [webIP]);
  });

  test('answers follow the API: a new service resolves, a deleted one is NXDOMAIN', async () => {
    await apply(`apiVersion: v1
kind: Service
metadata: {name: late, namespace: dns-srv}
spec:
  selector: {app: nobody}
  ports: [{port: 81}]
`);
    const ip = (await waitFor(() => getJson(s, ['service', '-n', 'dns-srv', 'late']), 'service late')).spec.clusterIP;
    await waitFor(async () => data(await ask('late.dns-srv.svc.cluster.local', 'A'))[0] === ip, 'late resolves', 10_000);
    await kubectlOk(s, ['delete', 'service', '-n', 'dns-srv', 'late']);
    await waitFor(async () => (await ask('late.dns-srv.svc.cluster.local', 'A')).rcode === 'NXDOMAIN', 'late is gone', 10_000);
  });

  test('a pod in another namespace queries its node\'s DNS (<nodeIP>:<port>): FQDN, SRV, NXDOMAIN', async () => {
    const server = `${NODE_IP}:${port}`;
    const fqdn = await nslookup('client', 'dns-client', ['web.dns-srv.svc.cluster.local', server]);
    assert.equal(fqdn.code, 0, fqdn.out);
    assert.ok(fqdn.out.includes(`Address: ${webIP}`), fqdn.out);
    const headless = await nslookup('client', 'dns-client', ['web-0.db.dns-srv.svc.cluster.local', server]);
    assert.ok(headless.out.includes(`Address: ${webPodIP}`), headless.out);
    const srv = await nslookup('client', 'dns-client', ['-type=srv', '_pg._tcp.db.dns-srv.svc.cluster.local', server]);
    assert.equal(srv.code, 0, srv.out);
    assert.match(srv.out, /0 100 80 web-0\.db\.dns-srv\.svc\.cluster\.local/);
    const missing = await nslookup('client', 'dns-client', ['nope.dns-srv.svc.cluster.local', server]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.out, /NXDOMAIN/);
    const outside = await nslookup('client', 'dns-client', ['example.com', server]);
    assert.match(outside.out, /REFUSED/);
  });

  // Pending the proxy: its nftables mode DNATs TCP only (the backends map's data is typed
  // `tcp dport`, which makes nft add `meta l4proto tcp` to every DNAT rule), so UDP to
  // 10.96.0.10:53 is not forwarded yet. Runs anyway; passes once the proxy forwards UDP.
  test('a pod resolves through 10.96.0.10 (its resolv.conf): busybox nslookup, and libc with the search list', async () => {
    const resolv = await kubectlOk(s, ['exec', '-n', 'dns-client', 'client', '--', 'cat', '/etc/resolv.conf']);
    assert.match(resolv, /nameserver 10\.96\.0\.10/);
    assert.match(resolv, /search dns-client\.svc\.cluster\.local svc\.cluster\.local cluster\.local/);
    // The host through the Service over TCP (internalTrafficPolicy Local: this node's endpoint).
    assert.deepEqual(data(await query('web.dns-srv.svc.cluster.local', 'A', { server: '10.96.0.10', port: 53, tcp: true, timeoutMs: 2000 })), [webIP]);
    const fqdn = await waitFor(async () => {
      const r = await nslookup('client', 'dns-client', ['web.dns-srv.svc.cluster.local']);
      return r.code === 0 && r.out.includes(webIP) && r.out;
    }, 'nslookup through 10.96.0.10 from the client pod', 20_000);
    assert.match(fqdn, /Server:\s+10\.96\.0\.10/);
    // busybox ping resolves with libc: `web.dns-srv` has one dot (< ndots 5), so the search
    // list goes first: web.dns-srv.dns-client.svc.cluster.local (NXDOMAIN), then web.dns-srv.svc.cluster.local.
    const ping = await execIn('client', 'dns-client', ['ping', '-c', '1', '-W', '1', 'web.dns-srv']);
    assert.ok(ping.out.includes(`PING web.dns-srv (${webIP})`), ping.out);
  });

  test('the agent puts its kube-dns slice back when deleted, removes it when it stops, publishes it again on restart', async () => {
    const name = `kube-dns-${NODE}`;
    const before = await getJson(s, ['endpointslice', '-n', 'kube-system', name]);
    await kubectlOk(s, ['delete', 'endpointslice', '-n', 'kube-system', name]);
    await waitFor(async () => {
      const sl = await getJson(s, ['endpointslice', '-n', 'kube-system', name]);
      return sl && sl.metadata.uid !== before.metadata.uid;
    }, 'the slice recreated', 20_000);
    await agent!.stop();
    assert.equal(await getJson(s, ['endpointslice', '-n', 'kube-system', name]), undefined, 'a stopped agent serves no DNS: its slice is gone');
    await assert.rejects(ask('web.dns-srv.svc.cluster.local', 'A'), /no UDP answer/);
    // The next agent (same data dir: it adopts the pods) serves and publishes again.
    agent = await startAgent(s, { nodeName: NODE, dataDir: agent!.dataDir, extraArgs: AGENT_ARGS() });
    await waitFor(async () => data(await ask('web.dns-srv.svc.cluster.local', 'A'))[0] === webIP, 'DNS answers after the restart', 30_000);
    await waitFor(() => getJson(s, ['endpointslice', '-n', 'kube-system', name]), 'the slice published again', 20_000);
  });
});
