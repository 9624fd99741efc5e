import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../common/clock.js';
import { setLogLevel } from '../../common/log.js';
import { ApiError } from '../../controlplane/controllers/client.js';
import { parseUsage } from '../../controlplane/scheduler/objects.js';
import { FakeApi, FakeReadings } from './fakes.js';
import { NodeAgent, SERVING_CERT_ANNOTATION, type NodeAgentOptions } from './node.js';
import { USAGE_ANNOTATION } from './usage.js';

setLogLevel('silent');

const NODE = '/api/v1/nodes/n1';
const LEASE = '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1';
const T0 = Date.parse('2025-01-01T00:00:00Z');

/** Lets the agent's promise chains run after the fake clock fired timers. */
async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
}

function setup(over: Partial<NodeAgentOptions> = {}) {
  const api = new FakeApi();
  const clock = new FakeClock(T0);
  const readings = new FakeReadings();
  const state = { runtime: true, network: true, cidrs: [] as string[] };
  const agent = new NodeAgent({
    api,
    nodeName: 'N1',
    nodeIP: '192.168.56.11',
    port: 10250,
    servingCertSha256: 'ab12',
    dataDir: '/var/lib/skiff/agent',
    runtimeVersion: async () => 'docker://20.10.24',
    runtimeReady: async () => state.runtime,
    networkReady: async () => state.network,
    onPodCIDR: (c) => void state.cidrs.push(c),
    readings,
    systemInfo: async () => ({ machineID: 'm', systemUUID: 's', bootID: 'b', kernelVersion: '6.1.0', osImage: 'Debian GNU/Linux 12 (bookworm)', operatingSystem: 'linux', architecture: 'amd64' }),
    clock,
    ...over,
  });
  /** Advances the fake clock in steps, letting async work finish at each. */
  const advance = async (ms: number, step = 100): Promise<void> => {
    for (let t = 0; t < ms; t += step) {
      clock.advance(Math.min(step, ms - t));
      await settle();
    }
  };
  const node = () => api.objects.get(NODE)!;
  const cond = (type: string) => node().status.conditions.find((c: { type: string }) => c.type === type);
  return { api, clock, readings, state, agent, advance, node, cond };
}

describe('NodeAgent', () => {
  it('registers the node with labels, addresses, nodeInfo, capacity, conditions and the cert annotation, and a lease', async () => {
    const t = setup();
    await t.agent.start();
    const n = t.node();
    assert.equal(n.metadata.labels['kubernetes.io/hostname'], 'n1', 'the name is lowercased');
    assert.equal(n.metadata.labels['kubernetes.io/os'], 'linux');
    assert.equal(n.metadata.labels['beta.kubernetes.io/arch'], n.metadata.labels['kubernetes.io/arch']);
    assert.ok(!Object.keys(n.metadata.labels).some((k) => k.startsWith('node-role.kubernetes.io/')));
    assert.equal(n.metadata.annotations[SERVING_CERT_ANNOTATION], 'ab12');
    assert.deepEqual(n.spec, {});
    assert.deepEqual(n.status.addresses, [{ type: 'InternalIP', address: '192.168.56.11' }, { type: 'Hostname', address: 'n1' }]);
    assert.deepEqual(n.status.daemonEndpoints, { kubeletEndpoint: { Port: 10250 } });
    assert.equal(n.status.nodeInfo.containerRuntimeVersion, 'docker://20.10.24');
    assert.equal(n.status.nodeInfo.kubeletVersion, 'v1.32.0-skiff');
    assert.deepEqual(n.status.capacity, { cpu: '4', memory: '8Gi', 'ephemeral-storage': '100Gi', pods: '110' });
    assert.deepEqual(n.status.allocatable, { cpu: '3900m', memory: '7836Mi', 'ephemeral-storage': '90Gi', pods: '110' });
    assert.deepEqual(t.agent.allocatable(), n.status.allocatable);
    assert.equal(t.cond('Ready').reason, 'KubeletReady');
    assert.equal(t.agent.nodeIP(), '192.168.56.11');
    await t.advance(100);
    const lease = t.api.objects.get(LEASE)!;
    assert.equal(lease.spec.holderIdentity, 'n1');
    assert.equal(lease.metadata.ownerReferences[0].uid, n.metadata.uid);
    await t.agent.stop();
  });

  it('delivers the podCIDR once assigned and posts the status at once', async () => {
    const t = setup();
    t.state.network = false;
    await t.agent.start();
    assert.equal(t.cond('Ready').status, 'False');
    await t.advance(3000);
    assert.deepEqual(t.state.cidrs, []);
    t.api.objects.get(NODE)!.spec.podCIDR = '10.244.3.0/24';
    t.state.network = true;
    const waited = t.agent.waitForPodCIDR();
    await t.advance(1000);
    assert.deepEqual(t.state.cidrs, ['10.244.3.0/24']);
    assert.equal(await waited, '10.244.3.0/24');
    assert.equal(t.cond('Ready').status, 'True', 'status posted right after delivery, before the 10 s tick');
    await t.advance(30_000);
    assert.deepEqual(t.state.cidrs, ['10.244.3.0/24'], 'delivered once');
    await t.agent.stop();
  });

  it('retries a failing podCIDR callback without failing registration', async () => {
    let calls = 0;
    const t = setup({
      onPodCIDR: () => {
        if (++calls === 1) throw new Error('cannot write the CNI config');
      },
    });
    t.api.objects.set(NODE, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', uid: 'old', resourceVersion: '1' }, spec: { podCIDR: '10.244.9.0/24' }, status: {} });
    await t.agent.start();
    assert.equal(t.agent.podCIDR(), undefined);
    await t.advance(1000);
    assert.equal(calls, 2);
    assert.equal(t.agent.podCIDR(), '10.244.9.0/24');
    await t.agent.stop();
  });

  it('refreshes heartbeats every 10 s and moves transition times only on change', async () => {
    const t = setup();
    await t.agent.start();
    const first = t.cond('Ready');
    await t.advance(10_000);
    const second = t.cond('Ready');
    assert.equal(second.lastHeartbeatTime, '2025-01-01T00:00:10Z');
    assert.equal(second.lastTransitionTime, first.lastTransitionTime);
    t.state.runtime = false;
    await t.advance(10_000);
    const third = t.cond('Ready');
    assert.deepEqual([third.status, third.reason, third.message], ['False', 'KubeletNotReady', 'container runtime is down']);
    assert.equal(third.lastTransitionTime, '2025-01-01T00:00:20Z');
    assert.equal(t.cond('MemoryPressure').lastTransitionTime, first.lastTransitionTime);
    await t.agent.stop();
  });

  it('never overwrites what users set: unschedulable, taints, their labels and conditions', async () => {
    const t = setup();
    await t.agent.start();
    const n = t.api.objects.get(NODE)!;
    n.spec = { unschedulable: true, taints: [{ key: 'k', value: 'v', effect: 'NoSchedule' }] };
    n.metadata.labels['team'] = 'a';
    n.status.conditions.push({ type: 'NetworkUnavailable', status: 'False', reason: 'RouteCreated', message: 'm', lastHeartbeatTime: 'x', lastTransitionTime: 'x' });
    await t.advance(20_000);
    const after = t.node();
    assert.deepEqual(after.spec, { unschedulable: true, taints: [{ key: 'k', value: 'v', effect: 'NoSchedule' }] });
    assert.equal(after.metadata.labels.team, 'a');
    assert.ok(after.status.conditions.some((c: { type: string }) => c.type === 'NetworkUnavailable'));
    await t.agent.stop();
    // A restart re-registers against the existing node: still untouched.
    const again = setup();
    again.api.objects.set(NODE, after);
    await again.agent.start();
    assert.deepEqual(again.node().spec, after.spec);
    assert.equal(again.node().metadata.labels.team, 'a');
    await again.agent.stop();
  });

  it('publishes the usage annotation as a rate over the interval', async () => {
    const t = setup();
    await t.agent.start();
    assert.equal(t.node().metadata.annotations[USAGE_ANNOTATION], undefined);
    t.readings.usage = { cpuUsageNs: 5e9, memoryUsageBytes: 3 * 2 ** 30, memoryWorkingSetBytes: 2 ** 31 };
    await t.advance(10_000);
    const u = parseUsage(t.node());
    assert.deepEqual(u, { milliCPU: 500, memory: 2 ** 31, time: T0 + 10_000 });
    await t.agent.stop();
  });

  it('keeps renewing through API failures and re-registers a deleted node', async () => {
    const t = setup();
    await t.agent.start();
    await t.advance(100);
    const before = t.api.objects.get(LEASE)!.spec.renewTime;
    t.api.failing = { match: /^(PUT|GET|PATCH) /, error: new ApiError(503, 'ServiceUnavailable', 'apiserver down') };
    const calls = t.api.calls.length;
    await t.advance(30_000);
    assert.equal(t.api.objects.get(LEASE)!.spec.renewTime, before, 'nothing renewed while the API server fails');
    assert.ok(t.api.calls.length - calls > 6, 'retried (with backoff) meanwhile');
    t.api.failing = undefined;
    await t.advance(10_000);
    const renewedAt = Date.parse(t.api.objects.get(LEASE)!.spec.renewTime);
    assert.ok(t.clock.now() - renewedAt <= 10_000, 'renewed within the last interval after recovery');
    t.api.objects.delete(NODE);
    await t.advance(10_000);
    assert.ok(t.api.objects.get(NODE), 'registered again');
    assert.equal(t.cond('Ready').status, 'True');
    await t.agent.stop();
  });

  it('retries registration until the API server answers', async () => {
    const t = setup();
    t.api.failing = { match: /^POST \/api\/v1\/nodes$/, error: new ApiError(503, 'ServiceUnavailable', 'starting') };
    let started = false;
    const p = t.agent.start().then(() => (started = true));
    await t.advance(2000);
    assert.equal(started, false);
    t.api.failing = undefined;
    await t.advance(2000);
    await p;
    assert.ok(t.api.objects.get(NODE));
    await t.agent.stop();
  });

  it('answers a kubelet-like summary with node and pod usage', async () => {
    const t = setup({
      podUsage: async () => [{ pod: { uid: 'u1', name: 'web', namespace: 'default' }, containers: [{ id: 'c1', name: 'app' }] }],
    });
    t.readings.cgroups.set('/skiff/burstable/podu1', { cpuUsageNs: 0, memoryUsageBytes: 50, memoryWorkingSetBytes: 40, pids: 2 });
    t.readings.cgroups.set('/skiff/burstable/podu1/c1', { cpuUsageNs: 0, memoryUsageBytes: 30, memoryWorkingSetBytes: 20 });
    await t.agent.start();
    t.readings.cgroups.set('/skiff/burstable/podu1', { cpuUsageNs: 1e9, memoryUsageBytes: 50, memoryWorkingSetBytes: 40, pids: 2 });
    t.readings.cgroups.set('/skiff/burstable/podu1/c1', { cpuUsageNs: 1e9, memoryUsageBytes: 30, memoryWorkingSetBytes: 20 });
    await t.advance(10_000);
    const s = await t.agent.summary();
    assert.equal(s.node.nodeName, 'n1');
    assert.equal(s.node.startTime, '2024-12-31T00:00:00Z');
    assert.equal(s.node.memory.workingSetBytes, 2 ** 30);
    assert.equal(s.node.memory.availableBytes, 7 * 2 ** 30);
    assert.equal(s.node.fs.usedBytes, 50 * 2 ** 30);
    assert.deepEqual(s.node.rlimit.maxpid, 32768);
    assert.equal(s.pods.length, 1);
    assert.equal(s.pods[0].cpu.usageNanoCores, 1e8);
    assert.equal(s.pods[0].containers[0].name, 'app');
    assert.equal(s.pods[0].containers[0].memory.workingSetBytes, 20);
    await t.agent.stop();
  });
});
