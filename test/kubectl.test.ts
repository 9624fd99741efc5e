/**
 * The real kubectl against a real `skiff server`: what a user types on day one.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { API_ONLY, kubectl, kubectlOk, removeDir, startServer, waitFor, type ServerProc } from './harness.js';

const DEPLOYMENT = (image: string, extra = ''): string => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: ${image}
        ports:
        - containerPort: 80
${extra}`;

const CONFIGMAP = (v: string): string => `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {tier: config}
data:
  mode: "${v}"
`;

describe('kubectl against skiff server', () => {
  let s: ServerProc;
  before(async () => {
    s = await startServer({ extraArgs: API_ONLY });
  });
  after(async () => {
    await s.stop();
    removeDir(s.dataDir);
  });

  it('lists the system namespaces as a table', async () => {
    const out = await kubectlOk(s, ['get', 'namespaces']);
    assert.match(out, /^NAME\s+STATUS\s+AGE/m);
    for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) assert.match(out, new RegExp(`^${ns}\\s+Active\\s+\\d+s`, 'm'));
  });

  it('applies a deployment with default validation: created, unchanged, configured', async () => {
    assert.match(await kubectlOk(s, ['apply', '-f', '-'], DEPLOYMENT('busybox:1.36')), /deployment.apps\/web created/);
    assert.match(await kubectlOk(s, ['apply', '-f', '-'], DEPLOYMENT('busybox:1.36')), /deployment.apps\/web unchanged/);
    assert.match(await kubectlOk(s, ['apply', '-f', '-'], DEPLOYMENT('busybox:1.37')), /deployment.apps\/web configured/);
    const d = JSON.parse(await kubectlOk(s, ['get', 'deployment', 'web', '-o', 'json']));
    assert.equal(d.spec.template.spec.containers[0].image, 'busybox:1.37');
    assert.equal(d.metadata.generation, 2);
    assert.equal(d.spec.strategy.type, 'RollingUpdate');
    assert.ok(d.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']);
    const table = await kubectlOk(s, ['get', 'deployments', '-o', 'wide']);
    assert.match(table, /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\s+CONTAINERS\s+IMAGES\s+SELECTOR/m);
    assert.match(table, /^web\s+0\/2\s+0\s+0\s+\S+\s+web\s+busybox:1.37\s+app=web/m);
  });

  it('rejects an unknown field under default (strict) validation and accepts it with --validate=false', async () => {
    const bad = DEPLOYMENT('busybox:1.36').replace('replicas: 2', 'replicas: 2\n  replicaz: 3').replace('name: web\n  labels', 'name: web2\n  labels');
    const r = await kubectl(s, ['apply', '-f', '-'], bad);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unknown field "spec.replicaz"/);
    const missing = await kubectl(s, ['get', 'deployment', 'web2']);
    assert.match(missing.stderr, /deployments.apps "web2" not found/);
  });

  it('creates, refuses a duplicate, replaces, patches three ways, labels and annotates', async () => {
    assert.match(await kubectlOk(s, ['create', '-f', '-'], CONFIGMAP('a')), /configmap\/settings created/);
    const dup = await kubectl(s, ['create', '-f', '-'], CONFIGMAP('a'));
    assert.notEqual(dup.code, 0);
    assert.match(dup.stderr, /configmaps "settings" already exists/);
    assert.match(await kubectlOk(s, ['replace', '-f', '-'], CONFIGMAP('b')), /configmap\/settings replaced/);
    await kubectlOk(s, ['patch', 'configmap', 'settings', '--type=json', '-p', '[{"op":"add","path":"/data/json","value":"1"}]']);
    await kubectlOk(s, ['patch', 'configmap', 'settings', '--type=merge', '-p', '{"data":{"merge":"2"}}']);
    await kubectlOk(s, ['patch', 'configmap', 'settings', '-p', '{"data":{"strategic":"3","mode":null}}']);
    await kubectlOk(s, ['label', 'configmap', 'settings', 'color=blue']);
    await kubectlOk(s, ['annotate', 'configmap', 'settings', 'note=hello']);
    const cm = JSON.parse(await kubectlOk(s, ['get', 'cm', 'settings', '-o', 'json']));
    assert.deepEqual(cm.data, { json: '1', merge: '2', strategic: '3' });
    assert.equal(cm.metadata.labels.color, 'blue');
    assert.equal(cm.metadata.annotations.note, 'hello');
    const sel = await kubectlOk(s, ['get', 'cm', '-l', 'color=blue,tier in (config)', '-o', 'name']);
    assert.equal(sel.trim(), 'configmap/settings');
    const none = await kubectlOk(s, ['get', 'cm', '-l', 'color!=blue', '-o', 'name']);
    assert.equal(none.trim(), '');
  });

  it('scales a deployment', async () => {
    assert.match(await kubectlOk(s, ['scale', 'deployment', 'web', '--replicas=5']), /deployment.apps\/web scaled/);
    const d = JSON.parse(await kubectlOk(s, ['get', 'deploy', 'web', '-o', 'json']));
    assert.equal(d.spec.replicas, 5);
  });

  it('describes objects', async () => {
    const out = await kubectlOk(s, ['describe', 'deployment', 'web']);
    assert.match(out, /^Name:\s+web$/m);
    assert.match(out, /^Replicas:\s+5 desired/m);
    const cm = await kubectlOk(s, ['describe', 'configmap', 'settings']);
    assert.match(cm, /^Labels:\s+color=blue/m);
  });

  it('shows a pending pod with -o wide and filters by field selector', async () => {
    await kubectlOk(s, ['run', 'lone', '--image=busybox:1.36', '--restart=Never', '--', 'sleep', '3600']);
    const out = await kubectlOk(s, ['get', 'pods', '-o', 'wide']);
    assert.match(out, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES/m);
    assert.match(out, /^lone\s+0\/1\s+Pending\s+0\s+\S+\s+<none>\s+<none>\s+<none>\s+<none>/m);
    const pending = await kubectlOk(s, ['get', 'pods', '--field-selector', 'status.phase=Pending', '-o', 'name']);
    assert.equal(pending.trim(), 'pod/lone');
    const bad = await kubectl(s, ['get', 'pods', '--field-selector', 'spec.bogus=1']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /field label not supported: spec.bogus/);
  });

  it('sees a change through get -w', async () => {
    const p = spawn('kubectl', ['--kubeconfig', s.kubeconfig, '--cache-dir', join(s.dataDir, 'kubectl-cache'), 'get', 'configmaps', '-w', '--output-watch-events'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    try {
      await waitFor(() => /ADDED\s+settings/.test(out), 'the initial listing in get -w');
      await kubectlOk(s, ['label', 'configmap', 'settings', 'watched=yes']);
      await waitFor(() => /MODIFIED\s+settings/.test(out), 'a MODIFIED event in get -w');
      await kubectlOk(s, ['create', 'configmap', 'later', '--from-literal=a=b', '--dry-run=client', '-o', 'yaml']).then((y) => kubectlOk(s, ['apply', '-f', '-'], y));
      await waitFor(() => /ADDED\s+later/.test(out), 'an ADDED event for a new object');
    } finally {
      p.kill();
    }
  });

  it('applies server-side: creates, then merges a change', async () => {
    const doc = (v: string): string => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: "${v}"\n`;
    assert.match(await kubectlOk(s, ['apply', '--server-side', '-f', '-'], doc('1')), /configmap\/ssa serverside-applied/);
    await kubectlOk(s, ['patch', 'configmap', 'ssa', '--type=merge', '-p', '{"data":{"other":"kept"}}']);
    assert.match(await kubectlOk(s, ['apply', '--server-side', '-f', '-'], doc('2')), /configmap\/ssa serverside-applied/);
    const cm = JSON.parse(await kubectlOk(s, ['get', 'cm', 'ssa', '-o', 'json']));
    assert.deepEqual(cm.data, { a: '2', other: 'kept' });
  });

  it('deletes and waits for the object to be gone', async () => {
    assert.match(await kubectlOk(s, ['delete', 'configmap', 'settings']), /configmap "settings" deleted/);
    const r = await kubectl(s, ['get', 'configmap', 'settings']);
    assert.match(r.stderr, /configmaps "settings" not found/);
    assert.match(await kubectlOk(s, ['delete', 'deployment', 'web']), /deployment.apps "web" deleted/);
    assert.match(await kubectlOk(s, ['delete', 'pod', 'lone']), /pod "lone" deleted/);
  });
});
