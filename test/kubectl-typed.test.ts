/**
 * kubectl's typed generators (`kubectl create namespace|configmap|secret|deployment|
 * service|serviceaccount`) POST protobuf bodies with no JSON fallback: the real kubectl
 * against a real server, checking that what was typed is exactly what was stored.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { API_ONLY, http, kubectl, kubectlOk, removeDir, startServer, type ServerProc } from './harness.js';

const b64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

describe('kubectl typed creates (protobuf bodies)', () => {
  let s: ServerProc;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const getJson = async (...args: string[]): Promise<any> => JSON.parse(await kubectlOk(s, ['get', ...args, '-o', 'json']));
  before(async () => {
    s = await startServer({ extraArgs: API_ONLY });
  });
  after(async () => {
    await s.stop();
    removeDir(s.dataDir);
  });

  it('creates a namespace, and objects inside it', async () => {
    assert.match(await kubectlOk(s, ['create', 'namespace', 'typed']), /^namespace\/typed created$/m);
    const ns = await getJson('namespace', 'typed');
    assert.equal(ns.metadata.name, 'typed');
    assert.equal(ns.metadata.annotations, undefined);
    assert.equal(ns.status.phase, 'Active');
    assert.match(await kubectlOk(s, ['create', 'configmap', 'inside', '-n', 'typed', '--from-literal=a=b']), /configmap\/inside created/);
    assert.equal((await getJson('configmap', 'inside', '-n', 'typed')).metadata.namespace, 'typed');
  });

  it('creates a configmap with data, empty values and binaryData, and refuses a duplicate', async () => {
    const file = join(s.dataDir, 'blob.bin');
    writeFileSync(file, Buffer.from([0xff, 0xfe, 0x00, 0x01]));
    const args = ['create', 'configmap', 'x', '--from-literal=a=b', '--from-literal=empty=', `--from-file=${file}`];
    assert.match(await kubectlOk(s, args), /^configmap\/x created$/m);
    const cm = await getJson('configmap', 'x');
    assert.deepEqual(cm.data, { a: 'b', empty: '' });
    assert.deepEqual(cm.binaryData, { 'blob.bin': Buffer.from([0xff, 0xfe, 0x00, 0x01]).toString('base64') });
    assert.equal(cm.metadata.namespace, 'default');
    const dup = await kubectl(s, args);
    assert.notEqual(dup.code, 0);
    assert.match(dup.stderr, /configmaps "x" already exists/);
  });

  it('creates generic and docker-registry secrets with their data and type', async () => {
    assert.match(await kubectlOk(s, ['create', 'secret', 'generic', 's', '--from-literal=k=v', '--from-literal=pw=s3cr=t']), /^secret\/s created$/m);
    const sec = await getJson('secret', 's');
    assert.deepEqual(Object.keys(sec.data).sort(), ['k', 'pw']);
    assert.equal(b64(sec.data.k), 'v');
    assert.equal(b64(sec.data.pw), 's3cr=t');
    assert.equal(sec.type, 'Opaque');
    await kubectlOk(s, ['create', 'secret', 'docker-registry', 'reg', '--docker-server=r.example.com', '--docker-username=u', '--docker-password=p']);
    const reg = await getJson('secret', 'reg');
    assert.equal(reg.type, 'kubernetes.io/dockerconfigjson');
    assert.deepEqual(JSON.parse(b64(reg.data['.dockerconfigjson'])).auths['r.example.com'], { username: 'u', password: 'p', auth: Buffer.from('u:p').toString('base64') });
  });

  it('creates a deployment with image, replicas, port, selector and command', async () => {
    assert.match(await kubectlOk(s, ['create', 'deployment', 'web', '--image=busybox', '--replicas=2', '--port=80']), /^deployment\.apps\/web created$/m);
    const d = await getJson('deployment', 'web');
    assert.equal(d.spec.replicas, 2);
    assert.deepEqual(d.metadata.labels, { app: 'web' });
    assert.deepEqual(d.spec.selector, { matchLabels: { app: 'web' } });
    assert.deepEqual(d.spec.template.metadata.labels, { app: 'web' });
    const [c, ...rest] = d.spec.template.spec.containers;
    assert.equal(rest.length, 0);
    assert.equal(c.name, 'busybox');
    assert.equal(c.image, 'busybox');
    assert.deepEqual(c.ports, [{ containerPort: 80, protocol: 'TCP' }]);
    assert.equal(c.command, undefined);

    await kubectlOk(s, ['create', 'deployment', 'sleeper', '--image=busybox:1.36', '--', 'sleep', '3600']);
    const sl = await getJson('deployment', 'sleeper');
    assert.equal(sl.spec.replicas, 1);
    assert.deepEqual(sl.spec.template.spec.containers[0].command, ['sleep', '3600']);
    assert.equal(sl.spec.template.spec.containers[0].image, 'busybox:1.36');
  });

  it('creates clusterip, headless and nodeport services', async () => {
    assert.match(await kubectlOk(s, ['create', 'service', 'clusterip', 'svc', '--tcp=80:8080']), /^service\/svc created$/m);
    const svc = await getJson('service', 'svc');
    assert.deepEqual(svc.spec.ports, [{ name: '80-8080', port: 80, targetPort: 8080, protocol: 'TCP' }]);
    assert.deepEqual(svc.spec.selector, { app: 'svc' });
    assert.equal(svc.spec.type, 'ClusterIP');
    assert.match(svc.spec.clusterIP, /^\d+\.\d+\.\d+\.\d+$/);

    await kubectlOk(s, ['create', 'service', 'clusterip', 'headless', '--clusterip=None']);
    assert.equal((await getJson('service', 'headless')).spec.clusterIP, 'None');

    await kubectlOk(s, ['create', 'service', 'nodeport', 'np', '--tcp=81:8081', '--node-port=30081']);
    const np = await getJson('service', 'np');
    assert.equal(np.spec.type, 'NodePort');
    assert.deepEqual(np.spec.ports, [{ name: '81-8081', port: 81, targetPort: 8081, nodePort: 30081, protocol: 'TCP' }]);
  });

  it('creates a serviceaccount', async () => {
    assert.match(await kubectlOk(s, ['create', 'serviceaccount', 'robot']), /^serviceaccount\/robot created$/m);
    const sa = await getJson('serviceaccount', 'robot');
    assert.equal(sa.metadata.name, 'robot');
    assert.equal(sa.metadata.namespace, 'default');
  });

  it('answers 415 naming the kind for a protobuf kind it cannot decode', async () => {
    // runtime.Unknown{typeMeta{apiVersion: coordination.k8s.io/v1, kind: Lease}, raw: Lease{metadata{name: l}}}
    const typeMeta = Buffer.concat([Buffer.from([0x0a, 22]), Buffer.from('coordination.k8s.io/v1'), Buffer.from([0x12, 5]), Buffer.from('Lease')]);
    const raw = Buffer.from([0x0a, 3, 0x0a, 1, 0x6c]);
    const body = Buffer.concat([Buffer.from('k8s\0'), Buffer.from([0x0a, typeMeta.length]), typeMeta, Buffer.from([0x12, raw.length]), raw]);
    const r = await http(s, 'POST', '/apis/coordination.k8s.io/v1/namespaces/default/leases', body, { 'content-type': 'application/vnd.kubernetes.protobuf' });
    assert.equal(r.status, 415);
    assert.equal(r.json().reason, 'UnsupportedMediaType');
    assert.match(r.json().message, /Lease \(coordination\.k8s\.io\/v1\)/);
  });
});
