/**
 * The node-facing controllers against a real `skiff server`: pod CIDRs for
 * nodes, a node whose lease stops going Unknown with its pods evicted and
 * replaced, DaemonSets placing one pod per eligible node and rolling an update,
 * and pod garbage collection. Fake nodes (FakeNodes) renew leases and play
 * scheduler and kubelet; the control plane comes from `./controlplane.ts`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { ApiClient, isNotFound } from '../controlplane/controllers/client.js';
import { FakeNodes } from '../controlplane/controllers/fakenodes.js';
import { kubectlOk, removeDir, waitFor, type ServerProc } from './harness.js';
import { startControlPlane } from './controlplane.js';

describe('node controllers against skiff server', () => {
  let s: ServerProc;
  let cp: { s: ServerProc; stop(): Promise<void> };
  let api: ApiClient;
  let nodes: FakeNodes;
  const get = (path: string) => api.get(path);
  const list = async (path: string, labelSelector?: string) => ((await api.list(path, labelSelector ? { labelSelector } : {})).items ?? []) as any[];
  const gone = async (path: string): Promise<boolean> => {
    try {
      await api.get(path);
      return false;
    } catch (e) {
      if (isNotFound(e)) return true;
      throw e;
    }
  };
  const ready = (n: any): string | undefined => n.status?.conditions?.find((c: any) => c.type === 'Ready')?.status;

  before(async () => {
    cp = await startControlPlane();
    s = cp.s;
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(s.kubeconfig);
    api = new ApiClient(kc);
    nodes = new FakeNodes(api);
    await nodes.addNode('node-a', { role: 'worker' });
    await nodes.addNode('node-b', { role: 'worker' });
    nodes.start();
  });
  after(async () => {
    nodes?.stop();
    api?.close();
    await cp?.stop();
    if (s) removeDir(s.dataDir);
  });

  it('assigns each node its own /24 and reuses one released by a deleted node', async () => {
    const cidrs = await waitFor(async () => {
      const all = await list('/api/v1/nodes');
      return all.length === 2 && all.every((n) => n.spec.podCIDR) && all.map((n) => n.spec.podCIDR);
    }, 'pod CIDRs for both nodes');
    assert.notEqual(cidrs[0], cidrs[1]);
    for (const c of cidrs) assert.match(c, /^10\.244\.\d+\.0\/24$/);
    await nodes.addNode('node-tmp');
    const tmp = await waitFor(async () => (await get('/api/v1/nodes/node-tmp')).spec.podCIDR, 'pod CIDR for node-tmp');
    assert.ok(!cidrs.includes(tmp));
    assert.deepEqual((await get('/api/v1/nodes/node-tmp')).spec.podCIDRs, [tmp]);
    nodes.kill('node-tmp');
    await kubectlOk(s, ['delete', 'node', 'node-tmp']);
    await nodes.addNode('node-tmp2');
    assert.equal(await waitFor(async () => (await get('/api/v1/nodes/node-tmp2')).spec.podCIDR, 'pod CIDR for node-tmp2'), tmp, 'the released /24 is handed out again');
    nodes.kill('node-tmp2');
    await kubectlOk(s, ['delete', 'node', 'node-tmp2']);
  });

  it('taints a node whose lease stops, evicts its pods and replaces them elsewhere', { timeout: 120_000 }, async () => {
    await kubectlOk(s, ['apply', '-f', '-'], `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: evictme}
spec:
  replicas: 4
  selector: {matchLabels: {app: evictme}}
  template:
    metadata: {labels: {app: evictme}}
    spec:
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      containers: [{name: main, image: nginx:1.25}]
`);
    const placed = await waitFor(async () => {
      const pods = await list('/api/v1/namespaces/default/pods', 'app=evictme');
      return pods.length === 4 && pods.every((p) => p.status.phase === 'Running') && pods;
    }, 'four running pods');
    const onB = placed.filter((p) => p.spec.nodeName === 'node-b').map((p) => p.metadata.name);
    assert.ok(onB.length > 0, 'some pods landed on node-b');

    nodes.kill('node-b');
    const dead = await waitFor(async () => {
      const n = await get('/api/v1/nodes/node-b');
      return ready(n) === 'Unknown' && (n.spec.taints ?? []).length === 2 && n;
    }, 'node-b Unknown and tainted', 20_000);
    const cond = dead.status.conditions.find((c: any) => c.type === 'Ready');
    assert.equal(cond.reason, 'NodeStatusUnknown');
    assert.equal(cond.message, 'Kubelet stopped posting node status.');
    assert.deepEqual(dead.spec.taints.map((t: any) => `${t.key}:${t.effect}`).sort(), ['node.kubernetes.io/unreachable:NoExecute', 'node.kubernetes.io/unreachable:NoSchedule']);
    assert.equal(ready(await get('/api/v1/nodes/node-a')), 'True');

    await waitFor(async () => {
      const pods = await list('/api/v1/namespaces/default/pods', 'app=evictme');
      const evicted = pods.filter((p) => onB.includes(p.metadata.name));
      const live = pods.filter((p) => !p.metadata.deletionTimestamp);
      return (
        evicted.every((p) => p.metadata.deletionTimestamp && p.status.conditions.find((c: any) => c.type === 'Ready')?.status === 'False') &&
        live.length === 4 &&
        live.every((p) => p.spec.nodeName === 'node-a' && p.status.phase === 'Running')
      );
    }, 'pods on node-b evicted and replaced on node-a', 30_000);
    const rs = await get('/apis/apps/v1/namespaces/default/replicasets/evictme');
    await waitFor(async () => (await get('/apis/apps/v1/namespaces/default/replicasets/evictme')).status.readyReplicas === 4, 'ReplicaSet ready again');
    assert.equal(rs.spec.replicas, 4);

    await nodes.revive('node-b');
    await waitFor(async () => {
      const n = await get('/api/v1/nodes/node-b');
      return ready(n) === 'True' && !(n.spec.taints ?? []).length;
    }, 'node-b untainted after it came back');
    await kubectlOk(s, ['delete', 'replicaset', 'evictme']);
  });

  it('runs one DaemonSet pod per eligible node and rolls an update', { timeout: 120_000 }, async () => {
    await nodes.addNode('node-tainted', { role: 'worker' }, [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }]);
    await nodes.addNode('node-other', { role: 'infra' });
    const ds = (image: string): string => `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      nodeSelector: {role: worker}
      containers: [{name: main, image: ${image}}]
`;
    await kubectlOk(s, ['apply', '-f', '-'], ds('busybox:1.36'));
    const status = await waitFor(async () => {
      const d = await get('/apis/apps/v1/namespaces/default/daemonsets/agent');
      return d.status?.numberReady === 2 && d.status;
    }, 'daemon pods ready on the two eligible nodes');
    assert.deepEqual(
      [status.desiredNumberScheduled, status.currentNumberScheduled, status.updatedNumberScheduled, status.numberAvailable, status.numberMisscheduled],
      [2, 2, 2, 2, 0],
    );
    const pods = await list('/api/v1/namespaces/default/pods', 'app=agent');
    assert.deepEqual(pods.map((p) => p.spec.nodeName).sort(), ['node-a', 'node-b']);
    for (const p of pods) {
      const term = p.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0];
      assert.deepEqual(term.matchFields, [{ key: 'metadata.name', operator: 'In', values: [p.spec.nodeName] }]);
      assert.ok(p.spec.tolerations.some((t: any) => t.key === 'node.kubernetes.io/unreachable' && t.effect === 'NoExecute' && t.tolerationSeconds === undefined));
      assert.ok(p.metadata.labels['controller-revision-hash']);
    }

    assert.match(await kubectlOk(s, ['apply', '-f', '-'], ds('busybox:1.37')), /configured/);
    assert.match(await kubectlOk(s, ['rollout', 'status', 'daemonset/agent', '--timeout=60s']), /successfully rolled out/);
    await waitFor(async () => {
      const live = (await list('/api/v1/namespaces/default/pods', 'app=agent')).filter((p) => !p.metadata.deletionTimestamp);
      return live.length === 2 && live.every((p) => p.spec.containers[0].image === 'busybox:1.37');
    }, 'every daemon pod updated');

    // A node that stops matching the selector loses its daemon pod.
    await kubectlOk(s, ['label', 'node', 'node-b', 'role=infra', '--overwrite']);
    await waitFor(async () => {
      const live = (await list('/api/v1/namespaces/default/pods', 'app=agent')).filter((p) => !p.metadata.deletionTimestamp);
      return live.length === 1 && live[0].spec.nodeName === 'node-a';
    }, 'daemon pod removed from node-b');
    await kubectlOk(s, ['label', 'node', 'node-b', 'role=worker', '--overwrite']);
    await kubectlOk(s, ['delete', 'daemonset', 'agent']);
  });

  it('collects pods of vanished nodes and finished pods over the threshold', { timeout: 60_000 }, async () => {
    await api.create('/api/v1/namespaces/default/pods', {
      metadata: { name: 'stray', labels: { app: 'stray' } },
      spec: { nodeName: 'ghost', containers: [{ name: 'main', image: 'busybox' }] },
    });
    await waitFor(() => gone('/api/v1/namespaces/default/pods/stray'), 'pod bound to a missing node collected');

    for (let i = 0; i < 4; i++) {
      await api.create('/api/v1/namespaces/default/pods', {
        metadata: { name: `done-${i}`, labels: { app: 'done' } },
        spec: { restartPolicy: 'Never', nodeName: 'node-a', containers: [{ name: 'main', image: 'busybox' }] },
      });
      await waitFor(async () => (await get(`/api/v1/namespaces/default/pods/done-${i}`)).status.phase === 'Running', `done-${i} running`);
      await api.patch(`/api/v1/namespaces/default/pods/done-${i}/status`, { status: { phase: 'Succeeded' } });
    }
    await waitFor(async () => {
      const names = (await list('/api/v1/namespaces/default/pods', 'app=done')).map((p) => p.metadata.name).sort();
      return names.join(',') === 'done-2,done-3';
    }, 'the two oldest finished pods collected', 40_000);
  });

  it('the fake nodes saw no unexpected errors', () => {
    assert.deepEqual(nodes.errors, []);
  });
});
