/**
 * The node layer against a real `skiff server` (controllers on: node IPAM and
 * node lifecycle), checked with the real kubectl: NodeAgent runs in this
 * process with the node-join token, real host readings and a real Docker
 * ping; the node turns Ready with capacity, a podCIDR, a renewing Lease, the
 * usage annotation and kubelet reasons; a cordon survives status updates and a
 * restart; when the agent stops, the lifecycle controller marks the node
 * NotReady and taints it, and a restarted agent brings it back.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../controlplane/controllers/client.js';
import { clientConfig } from '../controlplane/client.js';
import { parseUsage } from '../controlplane/scheduler/objects.js';
import { isLogLevel, setLogLevel } from '../common/log.js';
import { parseQuantity } from '../common/quantity.js';
import { NodeAgent, SERVING_CERT_ANNOTATION } from '../agent/node/node.js';
import { kubectlOk, removeDir, startServer, waitFor, type ServerProc } from './harness.js';

const level = process.env.SKIFF_LOG_LEVEL ?? 'warn';
if (isLogLevel(level)) setLogLevel(level);

/** GET on the Docker socket: the runtime's own health endpoint. */
function docker(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: '/var/run/docker.sock', path, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`docker ${path}: ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`docker ${path}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

describe('NodeAgent against skiff server and kubectl', () => {
  const nodeName = hostname().toLowerCase();
  let s: ServerProc;
  let api: ApiClient;
  let agent: NodeAgent | undefined;
  let work: string;
  const cidrs: string[] = [];

  const newAgent = (): NodeAgent =>
    new NodeAgent({
      api,
      port: 10250,
      servingCertSha256: 'f00d',
      dataDir: join(work, 'agent'),
      reserved: { cpu: '100m', memory: '256Mi' },
      runtimeVersion: async () => `docker://${(JSON.parse(await docker('/version')) as { Version: string }).Version}`,
      runtimeReady: async () => (await docker('/_ping')) === 'OK',
      cniConfigPath: join(work, 'net.d', '10-skiff.conflist'),
      onPodCIDR: (cidr) => {
        cidrs.push(cidr);
        // What the agent does with it: the CNI config for this node's pod subnet.
        writeFileSync(join(work, 'net.d', '10-skiff.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'skiff', plugins: [{ type: 'skiff-bridge', subnet: cidr }] }));
      },
      intervals: { statusMs: 1000, leaseMs: 1000, usageMs: 1000, podCidrPollMs: 200 },
    });
  const getNode = async (): Promise<any> => JSON.parse(await kubectlOk(s, ['get', 'node', nodeName, '-o', 'json']));
  const cond = (n: any, type: string): any => n.status.conditions.find((c: any) => c.type === type);

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'skiff-node-agent-'));
    mkdirSync(join(work, 'net.d'));
    s = await startServer({ extraArgs: ['--disable-scheduler', '--node-monitor-grace-period', '4s'] });
    const tokens = JSON.parse(readFileSync(join(s.dataDir, 'tokens.json'), 'utf8')) as { node: string };
    // The agent's own credentials: the node-join token (group system:nodes), not admin.
    api = new ApiClient(clientConfig(s.url, s.ca, tokens.node, 'system:node'));
  });
  after(async () => {
    await agent?.stop();
    api?.close();
    await s?.stop();
    if (s) removeDir(s.dataDir);
    if (work) removeDir(work);
  });

  it('registers a Ready node with capacity, allocatable, a podCIDR and kubelet conditions', { timeout: 60_000 }, async () => {
    agent = newAgent();
    await agent.start();
    const table = await waitFor(async () => {
      const out = await kubectlOk(s, ['get', 'node', nodeName]);
      return / Ready /.test(out) && out;
    }, 'kubectl get node shows Ready');
    assert.match(table, /v1\.32\.0-skiff/);
    assert.match(table, /<none>/, 'no role labels');

    const n = await getNode();
    assert.match(n.spec.podCIDR, /^10\.244\.\d+\.0\/24$/);
    assert.deepEqual(cidrs, [n.spec.podCIDR], 'the podCIDR reached the callback once');
    assert.ok(existsSync(join(work, 'net.d', '10-skiff.conflist')));
    for (const r of ['cpu', 'memory', 'pods', 'ephemeral-storage']) {
      assert.ok(parseQuantity(n.status.capacity[r]).nanos > 0n, `capacity ${r}`);
      assert.ok(parseQuantity(n.status.allocatable[r]).nanos > 0n, `allocatable ${r}`);
    }
    assert.equal(n.status.capacity.pods, '110');
    const capCpu = parseQuantity(n.status.capacity.cpu).nanos;
    assert.equal(capCpu - parseQuantity(n.status.allocatable.cpu).nanos, parseQuantity('100m').nanos);
    assert.equal(parseQuantity(n.status.capacity.memory).nanos - parseQuantity(n.status.allocatable.memory).nanos, parseQuantity('356Mi').nanos);
    assert.deepEqual(
      n.status.conditions.map((c: any) => `${c.type}=${c.status}:${c.reason}`),
      ['MemoryPressure=False:KubeletHasSufficientMemory', 'DiskPressure=False:KubeletHasNoDiskPressure', 'PIDPressure=False:KubeletHasSufficientPID', 'Ready=True:KubeletReady'],
    );
    assert.equal(n.status.addresses[0].type, 'InternalIP');
    assert.equal(n.status.addresses[0].address, agent.nodeIP());
    assert.deepEqual(n.status.addresses[1], { type: 'Hostname', address: nodeName });
    assert.match(n.status.nodeInfo.containerRuntimeVersion, /^docker:\/\/20\.10\./);
    assert.match(n.status.nodeInfo.bootID, /^[0-9a-f-]{36}$/);
    assert.equal(n.status.nodeInfo.architecture, n.metadata.labels['kubernetes.io/arch']);
    assert.equal(n.status.daemonEndpoints.kubeletEndpoint.Port, 10250);
    assert.equal(n.metadata.annotations[SERVING_CERT_ANNOTATION], 'f00d');
    assert.equal(n.metadata.labels['kubernetes.io/os'], 'linux');

    const wide = await kubectlOk(s, ['get', 'node', nodeName, '-o', 'wide']);
    assert.ok(wide.includes(agent.nodeIP()), 'INTERNAL-IP column');
  });

  it('renews its Lease and publishes live usage', { timeout: 60_000 }, async () => {
    const renew = (): Promise<string> => kubectlOk(s, ['get', 'lease', '-n', 'kube-node-lease', nodeName, '-o', 'jsonpath={.spec.renewTime}']);
    const first = await renew();
    assert.match(first, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    await waitFor(async () => (await renew()) !== first, 'renewTime moves', 10_000);
    const lease = JSON.parse(await kubectlOk(s, ['get', 'lease', '-n', 'kube-node-lease', nodeName, '-o', 'json']));
    assert.equal(lease.spec.holderIdentity, nodeName);
    assert.equal(lease.spec.leaseDurationSeconds, 40);
    assert.equal(lease.metadata.ownerReferences[0].kind, 'Node');

    const usage = await waitFor(async () => parseUsage(await getNode()), 'usage annotation', 10_000);
    assert.ok(usage.memory > 0, 'working set bytes');
    assert.ok(usage.milliCPU >= 0);
    assert.ok(Math.abs(Date.now() - usage.time) < 30_000, 'fresh timestamp');
    const summary = await agent!.summary();
    assert.equal(summary.node.nodeName, nodeName);
    assert.ok(summary.node.memory.workingSetBytes > 0 && summary.node.fs.capacityBytes > 0);
    assert.ok(summary.node.cpu.usageNanoCores !== undefined);
  });

  it('keeps a cordon across status updates', { timeout: 30_000 }, async () => {
    await kubectlOk(s, ['cordon', nodeName]);
    const hb = cond(await getNode(), 'Ready').lastHeartbeatTime;
    await waitFor(async () => cond(await getNode(), 'Ready').lastHeartbeatTime !== hb, 'a later status update', 10_000);
    const n = await getNode();
    assert.equal(n.spec.unschedulable, true);
    assert.ok(n.spec.taints.some((t: any) => t.key === 'node.kubernetes.io/unschedulable'));
  });

  it('goes NotReady when the agent stops, and Ready again when it restarts', { timeout: 60_000 }, async () => {
    const readyAt = cond(await getNode(), 'Ready').lastTransitionTime;
    await agent!.stop();
    agent = undefined;
    const dead = await waitFor(async () => {
      const out = await kubectlOk(s, ['get', 'node', nodeName]);
      return / NotReady/.test(out) && (await getNode());
    }, 'kubectl get node shows NotReady', 30_000);
    assert.equal(cond(dead, 'Ready').status, 'Unknown');
    assert.equal(cond(dead, 'Ready').reason, 'NodeStatusUnknown');
    assert.equal(cond(dead, 'MemoryPressure').status, 'Unknown');
    await waitFor(async () => ((await getNode()).spec.taints ?? []).some((t: any) => t.key === 'node.kubernetes.io/unreachable'), 'unreachable taint', 10_000);

    agent = newAgent();
    await agent.start();
    const back = await waitFor(async () => {
      const n = await getNode();
      return cond(n, 'Ready').status === 'True' && !(n.spec.taints ?? []).some((t: any) => t.key === 'node.kubernetes.io/unreachable') && n;
    }, 'Ready again, unreachable taint removed', 30_000);
    assert.notEqual(cond(back, 'Ready').lastTransitionTime, readyAt, 'the transition back is recorded');
    assert.equal(back.spec.unschedulable, true, 'the cordon survived the restart');
    await kubectlOk(s, ['uncordon', nodeName]);
  });
});
