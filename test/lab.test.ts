/**
 * End to end, in the node-container lab: three Debian node containers with
 * systemd, provisioned by `skiff install`, pods pulled from the lab's registry.
 * The real `lab up` / `lab down` code, the real kubectl on the host through the
 * lab's kubeconfig (TLS to 192.168.56.10), traffic only between lab addresses.
 *
 * Takes ~3 minutes with the node image cached; a cold image build adds 2-6
 * minutes (debootstrap). Skipped, with the reason, where the lab cannot run:
 * not root, no Docker, no kubectl, a lab already running here (it would be
 * replaced), or no node image and no reachable Debian mirror to build one.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, removeDir, waitFor } from './harness.js';
// Ours, not the harness's: it never throws on a command that exits before reading stdin.
import { run } from '../cli/lab/exec.js';
import { labUp } from '../cli/lab/up.js';
import { labDown } from '../cli/lab/down.js';
import { labStatus } from '../cli/lab/status.js';
import { labContainers, labNetworks, labVolumes } from '../cli/lab/nodes.js';
import { installPackages } from '../cli/lab/install-packages.js';
import { imageHash, nodeImageName } from '../cli/lab/image.js';
import { hostMirror } from '../cli/lab/sources.js';
import { SUITE } from '../cli/lab/rootfs.js';
import { LAB_CHAIN } from '../cli/lab/hostrules.js';
import { LAB_STATE } from '../cli/lab/build.js';
import { LAB_BRIDGE, LAB_KUBECONFIG, LAB_NETWORK, LAB_SERVER_SETTINGS, labNodes } from '../cli/lab/plan.js';
import { LAB_BUSYBOX } from '../cli/lab/registry.js';

const NODES = labNodes(3);
const NAMES = NODES.map((n) => n.name);
const GRACE_S = Number(LAB_SERVER_SETTINGS.nodeMonitorGracePeriod.replace(/s$/, ''));

async function skipReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (Docker, iptables, debootstrap)';
  if ((await run('docker', ['version']).catch(() => ({ code: 1 }))).code !== 0) return 'no Docker engine answers';
  if ((await run('kubectl', ['version', '--client']).catch(() => ({ code: 1 }))).code !== 0) return 'kubectl is not on PATH';
  if ((await labContainers()).length || (await labNetworks()).length) return 'a lab is already running on this host: the test would replace it (skiff lab down first)';
  if ((await run('docker', ['network', 'inspect', LAB_NETWORK])).code === 0) return `a Docker network named ${LAB_NETWORK} exists`;
  const { name, hash } = await nodeImageName(await installPackages(ROOT));
  if ((await imageHash(name)) !== hash) {
    // A cold build downloads from the host's Debian mirror (the registry this machine may use).
    const mirror = await hostMirror(SUITE);
    const r = await run('curl', ['-sfI', '-m', '10', '-o', '/dev/null', `${mirror.uri}/dists/${SUITE}/Release`]).catch(() => ({ code: 1 }));
    if (r.code !== 0) return `no node image cached and the Debian mirror ${mirror.uri} does not answer`;
  }
  return undefined;
}

const reason = await skipReason();

const cacheDir = mkdtempSync(join(tmpdir(), 'skiff-lab-kubectl-'));

async function kubectl(args: string[], input?: string): Promise<string> {
  const r = await run('kubectl', ['--kubeconfig', LAB_KUBECONFIG, '--cache-dir', cacheDir, ...args], { input, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function getJson(args: string[]): Promise<any> {
  return JSON.parse(await kubectl([...args, '-o', 'json']));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = any;

const isReady = (p: Obj): boolean => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp && p.status?.conditions?.some((c: Obj) => c.type === 'Ready' && c.status === 'True');
const nodeReady = (n: Obj): string => n.status?.conditions?.find((c: Obj) => c.type === 'Ready')?.status ?? 'Unknown';

async function dockerExec(node: string, cmd: string[]): Promise<string> {
  const r = await run('docker', ['exec', node, ...cmd], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`docker exec ${node} ${cmd.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** GET http://host:port/path from the host (lab addresses only). */
function httpGet(host: string, port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`GET http://${host}:${port}${path}: timeout`)));
    req.end();
  });
}

/** httpd serving /hostname and /cgi-bin/ip (the client's address as the server saw it). */
const WEB = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 6
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      # The scheduler has no default spreading (kube-scheduler's PodTopologySpread
      # defaults): the spread is asked for, as a preference.
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            podAffinityTerm:
              topologyKey: kubernetes.io/hostname
              labelSelector: {matchLabels: {app: web}}
      containers:
      - name: web
        image: ${LAB_BUSYBOX}
        command: [sh, -c]
        args:
        - |
          mkdir -p /www/cgi-bin
          echo '#!/bin/sh' > /www/cgi-bin/ip
          echo 'printf "Content-Type: text/plain\\r\\n\\r\\n%s\\n" "$REMOTE_ADDR"' >> /www/cgi-bin/ip
          chmod +x /www/cgi-bin/ip
          hostname > /www/hostname
          exec httpd -f -p 80 -h /www
        readinessProbe: {httpGet: {path: /hostname, port: 80}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web-np}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80}]
`;

function daemonSet(name: string): string {
  return `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ${name}}
spec:
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: c, image: ${LAB_BUSYBOX}, command: [sleep, '3600']}]
`;
}

async function webPods(): Promise<Obj[]> {
  return (await getJson(['get', 'pods', '-l', 'app=web'])).items;
}

/** Waits until the DaemonSet has one ready pod on each of `nodes`. */
async function waitDaemonSet(name: string, nodes: string[], timeoutMs: number): Promise<Obj[]> {
  return waitFor(
    async () => {
      // Only pods on `nodes` count: a DaemonSet also places one on a lost node (it tolerates it).
      const pods: Obj[] = (await getJson(['get', 'pods', '-l', `app=${name}`])).items.filter((p: Obj) => isReady(p) && nodes.includes(p.spec.nodeName));
      const on = new Set(pods.map((p) => p.spec.nodeName));
      return nodes.every((n) => on.has(n)) && pods.length === nodes.length ? pods : undefined;
    },
    `DaemonSet ${name} ready on ${nodes.join(', ')}`,
    timeoutMs,
  );
}

/** Each node's Lease renewTime (ms). */
async function leaseTimes(): Promise<Map<string, number>> {
  const leases: Obj[] = (await getJson(['get', 'leases', '-n', 'kube-node-lease'])).items;
  return new Map(leases.map((l) => [l.metadata.name, Date.parse(l.spec.renewTime)]));
}

describe('node-container lab', { skip: reason }, () => {
  let upLog = '';
  let downDone = false;

  before(
    async () => {
      await labUp({ nodes: 3, extraPackages: await installPackages(ROOT), out: { write: (s: string) => void (upLog += s) } }).catch((e: Error) => {
        throw new Error(`lab up failed: ${e.message}\n--- lab up output ---\n${upLog}`);
      });
    },
    { timeout: 11 * 60_000 },
  );

  after(async () => {
    if (!downDone && !reason) await labDown({ out: { write: () => {} } }).catch(() => undefined);
    removeDir(cacheDir);
  }, { timeout: 180_000 });

  it('lab up: three nodes Ready through the lab kubeconfig, registry loaded; status shows them; a second up changes nothing', { timeout: 120_000 }, async () => {
    const nodes: Obj[] = (await getJson(['get', 'nodes'])).items;
    assert.deepEqual(nodes.map((n) => n.metadata.name).sort(), NAMES);
    for (const n of nodes) {
      assert.equal(nodeReady(n), 'True', n.metadata.name);
      const ip = n.status.addresses.find((a: Obj) => a.type === 'InternalIP').address;
      assert.equal(ip, NODES.find((x) => x.name === n.metadata.name)!.ip);
    }
    let status = '';
    assert.equal(await labStatus({ write: (s) => void (status += s) }), 0);
    for (const n of NODES) assert.match(status, new RegExp(`${n.name}\\s+${n.ip.replace(/\./g, '\\.')}\\s+${n.role}`));
    assert.match(status, /registry 192\.168\.56\.10:5000: busybox, pause/);
    const ids = (await labContainers()).map((c) => `${c.name}:${c.status}`);
    let again = '';
    const r = await labUp({ nodes: 3, extraPackages: await installPackages(ROOT), out: { write: (s: string) => void (again += s) } });
    assert.equal(r.imageBuilt, false);
    assert.doesNotMatch(again, /skiff install|created|pushed/, again);
    assert.deepEqual((await labContainers()).map((c) => c.name), ids.map((i) => i.split(':')[0]));
  });

  it('a Deployment of 6 spreads over the 3 nodes, each node pulling from the lab registry', { timeout: 180_000 }, async () => {
    await kubectl(['apply', '-f', '-'], WEB);
    const pods = await waitFor(async () => {
      const ps = (await webPods()).filter(isReady);
      return ps.length === 6 ? ps : undefined;
    }, '6 ready web pods', 150_000);
    const perNode = new Map<string, number>();
    for (const p of pods) perNode.set(p.spec.nodeName, (perNode.get(p.spec.nodeName) ?? 0) + 1);
    assert.deepEqual([...perNode.keys()].sort(), NAMES, `pods per node: ${JSON.stringify([...perNode])}`);
    // Pulled, not built locally: every node's dockerd has the registry's image.
    for (const n of NAMES) assert.match(await dockerExec(n, ['docker', 'image', 'ls', '--format', '{{.Repository}}:{{.Tag}}']), /^192\.168\.56\.10:5000\/busybox:1\.35$/m, n);
  });

  it('pod-to-pod across nodes without NAT: each request arrives from the client pod\'s own IP', { timeout: 120_000 }, async () => {
    const pods = (await webPods()).filter(isReady);
    const byNode = NAMES.map((n) => pods.find((p) => p.spec.nodeName === n)!);
    for (let i = 0; i < byNode.length; i++) {
      const [client, server] = [byNode[i]!, byNode[(i + 1) % byNode.length]!];
      // busybox's `wget -T` crashes (static 1.35): `timeout` bounds the request instead.
      const seen = await kubectl(['exec', client.metadata.name, '--', 'timeout', '10', 'wget', '-qO-', `http://${server.status.podIP}/cgi-bin/ip`]);
      assert.equal(/(\d+\.\d+\.\d+\.\d+)/.exec(seen)?.[1], client.status.podIP, `${client.spec.nodeName} -> ${server.spec.nodeName}: ${seen}`);
    }
  });

  it('pod-to-service: the ClusterIP balances over endpoints on several nodes; the NodePort answers on every node', { timeout: 120_000 }, async () => {
    const svc = await getJson(['get', 'service', 'web']);
    const pods = (await webPods()).filter(isReady);
    const nodeOf = new Map(pods.map((p) => [p.metadata.name, p.spec.nodeName]));
    const client = pods.find((p) => p.spec.nodeName === NAMES[0])!;
    const out = await kubectl(['exec', client.metadata.name, '--', 'sh', '-c', `for i in 1 2 3 4 5 6 7 8 9 10 11 12; do timeout 10 wget -qO- http://${svc.spec.clusterIP}/hostname; done`]);
    const answered = out.split('\n').filter(Boolean);
    assert.equal(answered.length, 12, out);
    const nodes = new Set(answered.map((h) => nodeOf.get(h)));
    assert.ok(nodes.size >= 2, `12 requests reached pods on ${[...nodes].join(', ')} only`);
    const np = (await getJson(['get', 'service', 'web-np'])).spec.ports[0].nodePort as number;
    for (const n of NODES) {
      const host = await waitFor(() => httpGet(n.ip, np, '/hostname').then((b) => b.trim()), `NodePort ${np} on ${n.name}`, 30_000);
      assert.ok(nodeOf.has(host), `${n.ip}:${np} answered "${host}"`);
    }
  });

  it('a DaemonSet lands on every node', { timeout: 120_000 }, async () => {
    await kubectl(['apply', '-f', '-'], daemonSet('every'));
    await waitDaemonSet('every', NAMES, 100_000);
  });

  it('systemctl restart skiff-agent restarts no pod', { timeout: 120_000 }, async () => {
    const node = NAMES[1]!;
    // Running containers as `id name` (the name says which pod, should one be replaced).
    const containers = async (): Promise<string> => (await dockerExec(node, ['docker', 'ps', '--no-trunc', '--format', '{{.ID}} {{.Names}}'])).split('\n').filter(Boolean).sort().join(',');
    // Pods already there before the restart (a pod scheduled meanwhile is not a restart).
    let known: Set<string> | undefined;
    const podState = async (): Promise<string> =>
      (await getJson(['get', 'pods', '-A', '--field-selector', `spec.nodeName=${node}`])).items
        .filter((p: Obj) => !known || known.has(p.metadata.uid))
        .map((p: Obj) => `${p.metadata.uid}:${(p.status.containerStatuses ?? []).map((c: Obj) => `${c.containerID}/${c.restartCount}`).join('+')}`)
        .sort()
        .join(',');
    const before1 = await containers();
    const before2 = await podState();
    known = new Set(before2.split(',').filter(Boolean).map((e) => e.split(':')[0]));
    const pid = (await dockerExec(node, ['systemctl', 'show', '-p', 'MainPID', '--value', 'skiff-agent'])).trim();
    const t = Date.now();
    await dockerExec(node, ['systemctl', 'restart', 'skiff-agent']);
    // The new agent is at work once it renewed the node's Lease.
    await waitFor(async () => ((await leaseTimes()).get(node) ?? 0) > t - 1000, `${node}'s Lease renewed by the new agent`, 60_000);
    assert.notEqual((await dockerExec(node, ['systemctl', 'show', '-p', 'MainPID', '--value', 'skiff-agent'])).trim(), pid);
    await waitFor(async () => nodeReady(await getJson(['get', 'node', node])) === 'True', `${node} Ready`, 30_000);
    const after = (await containers()).split(',');
    const gone = before1.split(',').filter((c) => c && !after.includes(c));
    if (gone.length) {
      // What the cluster and the agent said about it, for the failure message.
      const events = await kubectl(['get', 'events', '-A', '--sort-by=.lastTimestamp']).catch((e: Error) => e.message);
      const journal = await dockerExec(node, ['journalctl', '-u', 'skiff-agent', '--since', `@${Math.floor(t / 1000) - 5}`, '--no-pager', '-o', 'cat']).catch((e: Error) => e.message);
      assert.fail(`containers in the node were replaced: ${gone.join(', ')}\nevents:\n${events.split('\n').slice(-25).join('\n')}\nagent since the restart:\n${journal.split('\n').filter((l) => !/"level":(20|10)/.test(l)).slice(-40).join('\n')}`);
    }
    assert.equal(await podState(), before2, 'pods or their containers changed');
  });

  it(`killing a node container: NotReady within the grace period (${GRACE_S} s), its pods back on the other nodes`, { timeout: 180_000 }, async () => {
    const victim = NAMES[2]!;
    const rest = NAMES.filter((n) => n !== victim);
    const t0 = Date.now();
    await run('docker', ['kill', victim]);
    await waitFor(async () => nodeReady(await getJson(['get', 'node', victim])) !== 'True', `${victim} NotReady`, 60_000);
    const notReadyS = (Date.now() - t0) / 1000;
    // The lease is renewed every 10 s: the grace period counts from the last renewal.
    assert.ok(notReadyS <= GRACE_S + 10 + 5, `NotReady after ${notReadyS} s`);
    await waitFor(async () => {
      const ready = (await webPods()).filter(isReady);
      return ready.length === 6 && ready.every((p) => rest.includes(p.spec.nodeName));
    }, '6 ready web pods on the remaining nodes', 90_000);
    const backS = (Date.now() - t0) / 1000;
    assert.ok(backS <= 90, `back after ${backS} s`);
  });

  it('systemctl restart skiff-server loses no object and the agents reconnect', { timeout: 180_000 }, async () => {
    // After the node-loss test: the two nodes left.
    const alive = NAMES.slice(0, 2);
    const snapshot = async (): Promise<string[]> =>
      (await getJson(['get', 'deployments,replicasets,pods,services,daemonsets,configmaps,serviceaccounts', '-A'])).items.map((o: Obj) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}/${o.metadata.uid}`).sort();
    const before1 = await snapshot();
    const t = Date.now();
    await dockerExec(NAMES[0]!, ['systemctl', 'restart', 'skiff-server']);
    await waitFor(() => kubectl(['get', '--raw', '/readyz']).then((s) => s.trim() === 'ok'), 'the API server ready again', 60_000);
    assert.deepEqual(await snapshot(), before1);
    // Every agent renews its Lease against the new server, and its pod watch works again:
    // a new DaemonSet runs on every node.
    await waitFor(async () => {
      const l = await leaseTimes();
      return alive.every((n) => (l.get(n) ?? 0) > t);
    }, 'every Lease renewed after the restart', 60_000);
    await kubectl(['apply', '-f', '-'], daemonSet('after-restart'));
    await waitDaemonSet('after-restart', alive, 100_000);
  });

  it('lab down leaves nothing behind (the cached node image stays)', { timeout: 180_000 }, async () => {
    const r = await labDown({ out: { write: () => {} } });
    downDone = true;
    assert.deepEqual(r.containers.sort(), NAMES);
    assert.deepEqual(await labContainers(), []);
    assert.deepEqual(await labVolumes(), []);
    assert.deepEqual(await labNetworks(), []);
    assert.notEqual((await run('docker', ['network', 'inspect', LAB_NETWORK])).code, 0);
    for (const ipt of ['iptables-nft', 'iptables-legacy']) {
      const save = await run(`${ipt}-save`, ['-t', 'filter']).catch(() => ({ code: 1, stdout: '' }));
      assert.doesNotMatch(save.stdout, new RegExp(LAB_CHAIN), ipt);
    }
    assert.notEqual((await run('ip', ['link', 'show', LAB_BRIDGE])).code, 0, `${LAB_BRIDGE} still exists`);
    assert.equal(existsSync(LAB_KUBECONFIG), false);
    assert.equal(existsSync(LAB_STATE), false);
    const { name, hash } = await nodeImageName(await installPackages(ROOT));
    assert.equal(await imageHash(name), hash, 'the node image should stay cached');
  });
});
