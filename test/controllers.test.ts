/**
 * The controllers against a real `skiff server`, driven by the real kubectl:
 * Deployments (apply, scale, rollout status/history/undo), garbage collection
 * with each propagation policy, namespace deletion, default service accounts,
 * and endpoints following readiness. Fake nodes (FakeNodes) stand in for agents
 * and the scheduler; the control plane comes from `./controlplane.ts`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { ApiClient, isNotFound } from '../controlplane/controllers/client.js';
import { FakeNodes } from '../controlplane/controllers/fakenodes.js';
import { kubectl, kubectlOk, removeDir, waitFor, type ServerProc } from './harness.js';
import { startControlPlane } from './controlplane.js';

const deployment = (name: string, image: string, replicas = 3, extra = ''): string => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      containers:
      - name: main
        image: ${image}
        ports:
        - {name: http, containerPort: 8080}
${extra}`;

describe('controllers against skiff server', () => {
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

  before(async () => {
    cp = await startControlPlane();
    s = cp.s;
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(s.kubeconfig);
    api = new ApiClient(kc);
    nodes = new FakeNodes(api, { startUnready: (p) => p.metadata.labels?.app === 'stuck' });
    await nodes.addNode('node-a');
    await nodes.addNode('node-b');
    nodes.start();
  });
  after(async () => {
    nodes?.stop();
    api?.close();
    await cp?.stop();
    if (s) removeDir(s.dataDir);
  });

  it('gives every new namespace a default service account', async () => {
    await kubectlOk(s, ['create', 'namespace', 'sa-test']);
    await waitFor(async () => (await get('/api/v1/namespaces/sa-test/serviceaccounts/default')).metadata.name === 'default', 'default service account');
    await kubectlOk(s, ['-n', 'sa-test', 'delete', 'serviceaccount', 'default']);
    await waitFor(async () => (await get('/api/v1/namespaces/sa-test/serviceaccounts/default')).metadata.uid, 'default service account recreated');
  });

  it('runs a Deployment: apply, scale, rollout status, set image, history, undo', { timeout: 180_000 }, async () => {
    assert.match(await kubectlOk(s, ['apply', '-f', '-'], deployment('web', 'nginx:1.25')), /deployment.apps\/web created/);
    const rsList = await waitFor(async () => {
      const l = await list('/apis/apps/v1/namespaces/default/replicasets', 'app=web');
      return l.length === 1 && l;
    }, 'the ReplicaSet');
    const rs = rsList[0];
    assert.match(rs.metadata.name, /^web-[a-z0-9]+$/);
    const hash = rs.metadata.labels['pod-template-hash'];
    assert.equal(rs.metadata.name, `web-${hash}`);
    assert.equal(rs.spec.selector.matchLabels['pod-template-hash'], hash);
    assert.equal(rs.metadata.annotations['deployment.kubernetes.io/revision'], '1');
    assert.equal(rs.metadata.ownerReferences[0].kind, 'Deployment');

    const out = await kubectlOk(s, ['rollout', 'status', 'deployment/web', '--timeout=60s']);
    assert.match(out, /successfully rolled out/);
    const pods = await list('/api/v1/namespaces/default/pods', 'app=web');
    assert.equal(pods.length, 3);
    for (const p of pods) {
      assert.ok(p.metadata.name.startsWith(`web-${hash}-`));
      assert.deepEqual(
        { kind: p.metadata.ownerReferences[0].kind, controller: p.metadata.ownerReferences[0].controller, block: p.metadata.ownerReferences[0].blockOwnerDeletion },
        { kind: 'ReplicaSet', controller: true, block: true },
      );
    }
    const d = await get('/apis/apps/v1/namespaces/default/deployments/web');
    assert.equal(d.metadata.annotations['deployment.kubernetes.io/revision'], '1');
    assert.deepEqual(
      [d.status.replicas, d.status.updatedReplicas, d.status.readyReplicas, d.status.availableReplicas, d.status.observedGeneration],
      [3, 3, 3, 3, d.metadata.generation],
    );
    const conds = Object.fromEntries(d.status.conditions.map((c: any) => [c.type, c.reason]));
    assert.deepEqual(conds, { Available: 'MinimumReplicasAvailable', Progressing: 'NewReplicaSetAvailable' });

    await kubectlOk(s, ['scale', 'deployment/web', '--replicas=5']);
    await waitFor(async () => (await list('/api/v1/namespaces/default/pods', 'app=web')).filter((p) => !p.metadata.deletionTimestamp).length === 5, '5 pods');
    assert.match(await kubectlOk(s, ['rollout', 'status', 'deployment/web', '--timeout=60s']), /successfully rolled out/);

    await kubectlOk(s, ['set', 'image', 'deployment/web', 'main=nginx:1.26']);
    // The cause is copied to the Deployment's current (new) ReplicaSet, as in Kubernetes.
    await kubectlOk(s, ['annotate', 'deployment/web', 'kubernetes.io/change-cause=upgrade to 1.26']);
    assert.match(await kubectlOk(s, ['rollout', 'status', 'deployment/web', '--timeout=90s']), /successfully rolled out/);
    const sets = await list('/apis/apps/v1/namespaces/default/replicasets', 'app=web');
    assert.equal(sets.length, 2);
    const byRev = Object.fromEntries(sets.map((x) => [x.metadata.annotations['deployment.kubernetes.io/revision'], x]));
    assert.equal(byRev['2'].spec.template.spec.containers[0].image, 'nginx:1.26');
    assert.equal(byRev['2'].spec.replicas, 5);
    assert.equal(byRev['1'].spec.replicas, 0);
    assert.equal(byRev['2'].metadata.annotations['kubernetes.io/change-cause'], 'upgrade to 1.26');
    const live = (await list('/api/v1/namespaces/default/pods', 'app=web')).filter((p) => !p.metadata.deletionTimestamp);
    assert.equal(live.length, 5);
    assert.ok(live.every((p) => p.spec.containers[0].image === 'nginx:1.26'));

    const hist = await kubectlOk(s, ['rollout', 'history', 'deployment/web']);
    assert.match(hist, /^1\s+<none>/m);
    assert.match(hist, /^2\s+upgrade to 1\.26/m);

    assert.match(await kubectlOk(s, ['rollout', 'undo', 'deployment/web']), /rolled back/);
    assert.match(await kubectlOk(s, ['rollout', 'status', 'deployment/web', '--timeout=90s']), /successfully rolled out/);
    const after = await list('/apis/apps/v1/namespaces/default/replicasets', 'app=web');
    assert.equal(after.length, 2, 'undo re-uses the old ReplicaSet');
    const old = after.find((x) => x.metadata.name === rs.metadata.name);
    assert.equal(old.metadata.annotations['deployment.kubernetes.io/revision'], '3');
    assert.equal(old.metadata.annotations['deployment.kubernetes.io/revision-history'], '1');
    assert.equal(old.spec.replicas, 5);
    const d2 = await get('/apis/apps/v1/namespaces/default/deployments/web');
    assert.equal(d2.metadata.annotations['deployment.kubernetes.io/revision'], '3');
    assert.equal(d2.spec.template.spec.containers[0].image, 'nginx:1.25');
    const hist2 = await kubectlOk(s, ['rollout', 'history', 'deployment/web']);
    assert.match(hist2, /^2\s+upgrade to 1\.26/m);
    assert.match(hist2, /^3\s+/m);
    assert.doesNotMatch(hist2, /^1\s+/m);
  });

  it('pauses and resumes a rollout', { timeout: 120_000 }, async () => {
    await kubectlOk(s, ['apply', '-f', '-'], deployment('paused', 'nginx:1.25', 2));
    await kubectlOk(s, ['rollout', 'status', 'deployment/paused', '--timeout=60s']);
    await kubectlOk(s, ['rollout', 'pause', 'deployment/paused']);
    await waitFor(async () => {
      const d = await get('/apis/apps/v1/namespaces/default/deployments/paused');
      return d.status.conditions.some((c: any) => c.type === 'Progressing' && c.reason === 'DeploymentPaused');
    }, 'DeploymentPaused condition');
    await kubectlOk(s, ['set', 'image', 'deployment/paused', 'main=nginx:1.26']);
    await waitFor(async () => {
      const d = await get('/apis/apps/v1/namespaces/default/deployments/paused');
      return d.status.observedGeneration === d.metadata.generation;
    }, 'paused deployment observed');
    assert.equal((await list('/apis/apps/v1/namespaces/default/replicasets', 'app=paused')).length, 1, 'no new ReplicaSet while paused');
    await kubectlOk(s, ['rollout', 'resume', 'deployment/paused']);
    assert.match(await kubectlOk(s, ['rollout', 'status', 'deployment/paused', '--timeout=60s']), /successfully rolled out/);
    assert.equal((await list('/apis/apps/v1/namespaces/default/replicasets', 'app=paused')).length, 2);
  });

  it('Recreate replaces every pod; a rollout that never becomes available exceeds its deadline', { timeout: 120_000 }, async () => {
    await kubectlOk(s, ['apply', '-f', '-'], deployment('recreate', 'nginx:1.25', 2, '  strategy: {type: Recreate}\n'));
    await kubectlOk(s, ['rollout', 'status', 'deployment/recreate', '--timeout=60s']);
    await kubectlOk(s, ['set', 'image', 'deployment/recreate', 'main=nginx:1.26']);
    assert.match(await kubectlOk(s, ['rollout', 'status', 'deployment/recreate', '--timeout=60s']), /successfully rolled out/);
    const live = (await list('/api/v1/namespaces/default/pods', 'app=recreate')).filter((p) => !p.metadata.deletionTimestamp);
    assert.deepEqual(live.map((p) => p.spec.containers[0].image), ['nginx:1.26', 'nginx:1.26']);

    await kubectlOk(s, ['apply', '-f', '-'], deployment('stuck', 'nginx:1.25', 1, '  progressDeadlineSeconds: 2\n'));
    const r = await kubectl(s, ['rollout', 'status', 'deployment/stuck', '--timeout=60s']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /exceeded its progress deadline/);
    const d = await get('/apis/apps/v1/namespaces/default/deployments/stuck');
    const c = d.status.conditions.find((x: any) => x.type === 'Progressing');
    assert.deepEqual([c.status, c.reason], ['False', 'ProgressDeadlineExceeded']);
    await kubectlOk(s, ['delete', 'deployment', 'stuck', 'recreate']);
  });

  it('garbage-collects with Background, Foreground and Orphan propagation', { timeout: 120_000 }, async () => {
    for (const n of ['gc-bg', 'gc-fg', 'gc-or']) await kubectlOk(s, ['apply', '-f', '-'], deployment(n, 'nginx:1.25', 2));
    for (const n of ['gc-bg', 'gc-fg', 'gc-or']) await kubectlOk(s, ['rollout', 'status', `deployment/${n}`, '--timeout=60s']);

    await kubectlOk(s, ['delete', 'deployment', 'gc-bg', '--cascade=background']);
    await waitFor(async () => (await list('/apis/apps/v1/namespaces/default/replicasets', 'app=gc-bg')).length === 0, 'background: ReplicaSet collected');
    await waitFor(async () => (await list('/api/v1/namespaces/default/pods', 'app=gc-bg')).length === 0, 'background: pods collected');

    // Foreground: the Deployment stays (with its finalizer) until its dependents are gone.
    const del = kubectl(s, ['delete', 'deployment', 'gc-fg', '--cascade=foreground', '--wait=false']);
    await waitFor(async () => {
      const d = await get('/apis/apps/v1/namespaces/default/deployments/gc-fg');
      return d.metadata.deletionTimestamp && d.metadata.finalizers?.includes('foregroundDeletion');
    }, 'foreground: owner marked').catch(() => undefined);
    assert.equal((await del).code, 0);
    await waitFor(() => gone('/apis/apps/v1/namespaces/default/deployments/gc-fg'), 'foreground: owner gone last', 30_000);
    assert.equal((await list('/apis/apps/v1/namespaces/default/replicasets', 'app=gc-fg')).length, 0);
    assert.equal((await list('/api/v1/namespaces/default/pods', 'app=gc-fg')).length, 0);

    await kubectlOk(s, ['delete', 'deployment', 'gc-or', '--cascade=orphan']);
    await waitFor(() => gone('/apis/apps/v1/namespaces/default/deployments/gc-or'), 'orphan: owner gone');
    const orphans = await list('/apis/apps/v1/namespaces/default/replicasets', 'app=gc-or');
    assert.equal(orphans.length, 1);
    assert.equal(orphans[0].metadata.ownerReferences, undefined);
    assert.equal((await list('/api/v1/namespaces/default/pods', 'app=gc-or')).length, 2, 'pods stay with their ReplicaSet');
  });

  it('deletes everything in a namespace, then the namespace', { timeout: 120_000 }, async () => {
    await kubectlOk(s, ['create', 'namespace', 'doomed']);
    await kubectlOk(s, ['-n', 'doomed', 'apply', '-f', '-'], deployment('app', 'nginx:1.25', 2));
    await kubectlOk(s, ['-n', 'doomed', 'create', 'configmap', 'cfg', '--from-literal=a=b']);
    await kubectlOk(s, ['-n', 'doomed', 'create', 'secret', 'generic', 'sec', '--from-literal=a=b']);
    await kubectlOk(s, ['-n', 'doomed', 'create', 'service', 'clusterip', 'app', '--tcp=80:8080']);
    await kubectlOk(s, ['-n', 'doomed', 'rollout', 'status', 'deployment/app', '--timeout=60s']);
    await kubectlOk(s, ['delete', 'namespace', 'doomed', '--timeout=60s']);
    await waitFor(() => gone('/api/v1/namespaces/doomed'), 'namespace gone', 30_000);
    for (const path of ['/api/v1/namespaces/doomed/pods', '/api/v1/namespaces/doomed/configmaps', '/apis/apps/v1/namespaces/doomed/replicasets']) {
      assert.equal((await list(path)).length, 0, path);
    }
  });

  it('keeps Endpoints and EndpointSlices in step with pod readiness', { timeout: 120_000 }, async () => {
    await kubectlOk(s, ['apply', '-f', '-'], deployment('echo', 'nginx:1.25', 2));
    await kubectlOk(s, ['apply', '-f', '-'], `apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports: [{name: web, port: 80, targetPort: http}]
`);
    await kubectlOk(s, ['rollout', 'status', 'deployment/echo', '--timeout=60s']);
    const ep = await waitFor(async () => {
      const e = await get('/api/v1/namespaces/default/endpoints/echo');
      return e.subsets?.[0]?.addresses?.length === 2 && e;
    }, 'two ready endpoints');
    assert.deepEqual(ep.subsets[0].ports, [{ name: 'web', port: 8080, protocol: 'TCP' }]);

    const pods = await list('/api/v1/namespaces/default/pods', 'app=echo');
    const victim = pods[0];
    const conds = victim.status.conditions.map((c: any) => (c.type === 'Ready' ? { ...c, status: 'False' } : c));
    await api.patch(`/api/v1/namespaces/default/pods/${victim.metadata.name}/status`, { status: { conditions: conds } });
    await waitFor(async () => {
      const e = await get('/api/v1/namespaces/default/endpoints/echo');
      return e.subsets?.[0]?.addresses?.length === 1 && e.subsets[0].notReadyAddresses?.[0]?.targetRef?.name === victim.metadata.name;
    }, 'the unready pod moves to notReadyAddresses');
    await waitFor(async () => {
      const sl = await list('/apis/discovery.k8s.io/v1/namespaces/default/endpointslices', 'kubernetes.io/service-name=echo');
      if (sl.length !== 1) return false;
      const e = sl[0].endpoints.find((x: any) => x.targetRef.name === victim.metadata.name);
      return (
        sl[0].metadata.labels['endpointslice.kubernetes.io/managed-by'] === 'endpointslice-controller.k8s.io' &&
        sl[0].ports[0].port === 8080 &&
        e?.conditions.ready === false &&
        e.conditions.serving === false &&
        sl[0].endpoints.length === 2
      );
    }, 'the EndpointSlice reports the pod not ready');

    // A service without a selector is left alone.
    await kubectlOk(s, ['apply', '-f', '-'], `apiVersion: v1
kind: Service
metadata: {name: manual}
spec:
  ports: [{port: 80}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: manual}
subsets: [{addresses: [{ip: 192.168.56.50}], ports: [{port: 80}]}]
`);
    await waitFor(async () => (await get('/api/v1/namespaces/default/endpoints/echo')).subsets, 'controllers still running');
    const manual = await get('/api/v1/namespaces/default/endpoints/manual');
    assert.equal(manual.subsets[0].addresses[0].ip, '192.168.56.50');
    assert.equal((await list('/apis/discovery.k8s.io/v1/namespaces/default/endpointslices', 'kubernetes.io/service-name=manual')).length, 0);
  });

  it('the fake nodes saw no unexpected errors', () => {
    assert.deepEqual(nodes.errors, []);
  });
});
