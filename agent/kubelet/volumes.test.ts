import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, statfs, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SystemMounter } from './mount.js';
import { VolumeError, VolumeManager, mountsFor, type VolumeContext } from './volumes.js';
import type { Obj } from './fieldpath.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const base = await mkdtemp(join(tmpdir(), 'skiff-vol-'));
const mounter = new SystemMounter();
const vm = new VolumeManager(join(base, 'pods'));
let seq = 0;

after(async () => {
  // Whatever a failed test left mounted goes before the directory does.
  for (const m of await mounter.mountsUnder(base)) await mounter.unmount(m);
  await rm(base, { recursive: true, force: true });
});

function ctxWith(cms: Record<string, Obj> = {}, secrets: Record<string, Obj> = {}, extra: Partial<VolumeContext> = {}): VolumeContext {
  return {
    getConfigMap: async (_ns, name) => cms[name],
    getSecret: async (_ns, name) => secrets[name],
    ...extra,
  };
}

function pod(volumes: Obj[], extra: Obj = {}): Obj {
  return {
    metadata: { name: 'web', namespace: 'prod', uid: `uid-${++seq}`, labels: { app: 'web', tier: 'fe' }, annotations: { owner: 'team "a"' } },
    spec: { nodeName: 'n1', volumes, containers: [{ name: 'app', resources: { limits: { memory: '64Mi' } } }], ...extra },
  };
}

test('emptyDir: shared directory, tmpfs with sizeLimit for medium Memory, cleanup unmounts and removes', async () => {
  const p = pod([{ name: 'scratch', emptyDir: {} }, { name: 'mem', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } }]);
  const vols = await vm.ensureVolumes(p, ctxWith());
  const scratch = vols.get('scratch')!;
  assert.equal(scratch, join(vm.podDir(p.metadata.uid), 'volumes/kubernetes.io~empty-dir/scratch'));
  assert.equal((await stat(scratch)).mode & 0o777, 0o777);
  const mem = vols.get('mem')!;
  assert.ok(await mounter.isMountPoint(mem));
  const fs = await statfs(mem);
  assert.equal(fs.blocks * fs.bsize, 1024 * 1024);
  // Idempotent: a second sync neither remounts nor fails.
  await vm.ensureVolumes(p, ctxWith());
  assert.equal((await mounter.mountsUnder(mem)).length, 1);
  const a = await mountsFor(p, { name: 'a', volumeMounts: [{ name: 'scratch', mountPath: '/data' }] }, vols);
  const b = await mountsFor(p, { name: 'b', volumeMounts: [{ name: 'scratch', mountPath: '/shared', readOnly: true }] }, vols);
  assert.deepEqual(a, [{ hostPath: scratch, containerPath: '/data', readOnly: false }]);
  assert.deepEqual(b, [{ hostPath: scratch, containerPath: '/shared', readOnly: true }]);
  await vm.cleanupVolumes(p.metadata.uid);
  assert.equal(await mounter.isMountPoint(mem), false);
  await assert.rejects(stat(vm.podDir(p.metadata.uid)), { code: 'ENOENT' });
  await vm.cleanupVolumes(p.metadata.uid);
});

test('emptyDir with fsGroup: group-owned and setgid', async () => {
  const p = pod([{ name: 'd', emptyDir: {} }], { securityContext: { fsGroup: 2000 } });
  const dir = (await vm.ensureVolumes(p, ctxWith())).get('d')!;
  const st = await stat(dir);
  assert.equal(st.gid, 2000);
  assert.equal(st.mode & 0o7777, 0o2777);
  await vm.cleanupVolumes(p.metadata.uid);
});

test('hostPath: type checks and creation as Kubernetes does', async () => {
  const h = join(base, 'host');
  await mkdir(h, { recursive: true });
  await writeFile(join(h, 'file'), 'x');
  const sock = join(h, 'sock');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  try {
    const ok = pod([
      { name: 'mk', hostPath: { path: join(h, 'new/dir'), type: 'DirectoryOrCreate' } },
      { name: 'dir', hostPath: { path: h, type: 'Directory' } },
      { name: 'mkf', hostPath: { path: join(h, 'newfile'), type: 'FileOrCreate' } },
      { name: 'f', hostPath: { path: join(h, 'file'), type: 'File' } },
      { name: 's', hostPath: { path: sock, type: 'Socket' } },
      { name: 'any', hostPath: { path: join(h, 'whatever') } },
    ]);
    const vols = await vm.ensureVolumes(ok, ctxWith());
    assert.equal(vols.get('mk'), join(h, 'new/dir'));
    assert.ok((await stat(join(h, 'new/dir'))).isDirectory());
    assert.ok((await stat(join(h, 'newfile'))).isFile());
    assert.equal(await readFile(join(h, 'file'), 'utf8'), 'x');
    await vm.cleanupVolumes(ok.metadata.uid);
    // Cleanup never touches hostPath content.
    assert.ok((await stat(join(h, 'file'))).isFile());

    const bad = pod([
      { name: 'notdir', hostPath: { path: join(h, 'file'), type: 'Directory' } },
      { name: 'notfile', hostPath: { path: h, type: 'File' } },
      { name: 'nosock', hostPath: { path: join(h, 'file'), type: 'Socket' } },
      { name: 'missing', hostPath: { path: join(h, 'nope'), type: 'Directory' } },
      { name: 'noparent', hostPath: { path: join(h, 'no/such/file'), type: 'FileOrCreate' } },
    ]);
    await assert.rejects(vm.ensureVolumes(bad, ctxWith()), (e: unknown) => {
      assert.ok(e instanceof VolumeError);
      assert.equal(e.reason, 'FailedMount');
      assert.deepEqual(e.volumes, ['notdir', 'notfile', 'nosock', 'missing', 'noparent']);
      assert.match(e.message, new RegExp(`^MountVolume.SetUp failed for volume "notdir" : hostPath type check failed: ${join(h, 'file')} is not a directory; `));
      assert.match(e.message, /volume "notfile" : hostPath type check failed: .* is not a file/);
      assert.match(e.message, /volume "nosock" : hostPath type check failed: .* is not a socket file/);
      return true;
    });
    await vm.cleanupVolumes(bad.metadata.uid);
  } finally {
    server.close();
  }
});

test('configMap: all keys or items, modes, binaryData, read-only mounts, optional and missing', async () => {
  const cms = { cfg: { data: { 'app.conf': 'port=80\n', extra: 'e' }, binaryData: { 'blob.bin': b64('\x00\x01') } } };
  const p = pod([
    { name: 'all', configMap: { name: 'cfg' } },
    { name: 'some', configMap: { name: 'cfg', defaultMode: 0o600, items: [{ key: 'app.conf', path: 'conf/app.conf', mode: 0o444 }, { key: 'extra', path: 'e.txt' }] } },
    { name: 'opt', configMap: { name: 'absent', optional: true } },
  ]);
  const vols = await vm.ensureVolumes(p, ctxWith(cms));
  const all = vols.get('all')!;
  assert.ok(all.endsWith('volumes/kubernetes.io~configmap/all'));
  assert.deepEqual((await readdir(all)).filter((n) => !n.startsWith('..')).sort(), ['app.conf', 'blob.bin', 'extra']);
  assert.deepEqual(await readFile(join(all, 'blob.bin')), Buffer.from([0, 1]));
  assert.equal((await stat(join(all, 'extra'))).mode & 0o777, 0o644);
  const some = vols.get('some')!;
  assert.equal(await readFile(join(some, 'conf/app.conf'), 'utf8'), 'port=80\n');
  assert.equal((await stat(join(some, 'conf/app.conf'))).mode & 0o777, 0o444);
  assert.equal((await stat(join(some, 'e.txt'))).mode & 0o777, 0o600);
  assert.deepEqual((await readdir(vols.get('opt')!)).filter((n) => !n.startsWith('..')), []);
  const mounts = await mountsFor(p, { name: 'app', volumeMounts: [{ name: 'all', mountPath: '/etc/app' }, { name: 'some', mountPath: '/etc/one', subPath: 'e.txt' }] }, vols);
  assert.equal(mounts[0].readOnly, true);
  assert.equal(await readFile(mounts[1].hostPath, 'utf8'), 'e');
  await vm.cleanupVolumes(p.metadata.uid);

  const missing = pod([{ name: 'c', configMap: { name: 'absent' } }]);
  await assert.rejects(vm.ensureVolumes(missing, ctxWith()), { message: 'MountVolume.SetUp failed for volume "c" : configmap "absent" not found' });
  const noKey = pod([{ name: 'c', configMap: { name: 'cfg', items: [{ key: 'nokey', path: 'x' }] } }]);
  await assert.rejects(vm.ensureVolumes(noKey, ctxWith(cms)), { message: 'MountVolume.SetUp failed for volume "c" : configmap references non-existent config key: nokey' });
  const escape = pod([{ name: 'c', configMap: { name: 'cfg', items: [{ key: 'extra', path: '../../etc/x' }] } }]);
  await assert.rejects(vm.ensureVolumes(escape, ctxWith(cms)), /invalid path: must not contain '\.\.': \.\.\/\.\.\/etc\/x/);
  for (const x of [missing, noKey, escape]) await vm.cleanupVolumes(x.metadata.uid);
});

test('secret: decoded, on tmpfs, items and modes; missing secret and key errors', async () => {
  const secrets = { creds: { data: { user: b64('admin'), pass: b64('s3cret') } } };
  const p = pod([{ name: 's', secret: { secretName: 'creds', defaultMode: 0o400, items: [{ key: 'pass', path: 'password' }] } }]);
  const dir = (await vm.ensureVolumes(p, ctxWith({}, secrets))).get('s')!;
  assert.ok(dir.endsWith('volumes/kubernetes.io~secret/s'));
  assert.ok(await mounter.isMountPoint(dir));
  assert.equal(await readFile(join(dir, 'password'), 'utf8'), 's3cret');
  assert.equal((await stat(join(dir, 'password'))).mode & 0o777, 0o400);
  await vm.cleanupVolumes(p.metadata.uid);
  assert.equal(await mounter.isMountPoint(dir), false);

  await assert.rejects(vm.ensureVolumes(pod([{ name: 's', secret: { secretName: 'nope' } }]), ctxWith()), /volume "s" : secret "nope" not found$/);
  const noKey = pod([{ name: 's', secret: { secretName: 'creds', items: [{ key: 'x', path: 'x' }] } }]);
  await assert.rejects(vm.ensureVolumes(noKey, ctxWith({}, secrets)), /references non-existent secret key: x$/);
  await vm.cleanupVolumes(noKey.metadata.uid);
});

test('downwardAPI: field and resource files; refresh rewrites atomically only on change', async () => {
  const p = pod([
    {
      name: 'info',
      downwardAPI: {
        items: [
          { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
          { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } },
          { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
          { path: 'ns', fieldRef: { fieldPath: 'metadata.namespace' } },
          { path: 'uid', fieldRef: { fieldPath: 'metadata.uid' } },
          { path: 'tier', fieldRef: { fieldPath: "metadata.labels['tier']" } },
          { path: 'mem_limit', resourceFieldRef: { containerName: 'app', resource: 'limits.memory', divisor: '1Mi' } },
          { path: 'cpu_limit', resourceFieldRef: { containerName: 'app', resource: 'limits.cpu', divisor: '1m' } },
        ],
      },
    },
  ]);
  const ctx = ctxWith({}, {}, { allocatable: { cpu: '2', memory: '4Gi' } });
  const dir = (await vm.ensureVolumes(p, ctx)).get('info')!;
  const read = (f: string): Promise<string> => readFile(join(dir, f), 'utf8');
  assert.equal(await read('labels'), 'app="web"\ntier="fe"');
  assert.equal(await read('annotations'), 'owner="team \\"a\\""');
  assert.deepEqual([await read('name'), await read('ns'), await read('uid'), await read('tier')], ['web', 'prod', p.metadata.uid, 'fe']);
  assert.equal(await read('mem_limit'), '64');
  assert.equal(await read('cpu_limit'), '2000');
  assert.deepEqual(await vm.refresh(p), { changed: [], errors: [] });
  const before = await readlink(join(dir, '..data'));
  const relabeled = { ...p, metadata: { ...p.metadata, labels: { app: 'web', tier: 'be' } } };
  assert.deepEqual((await vm.refresh(relabeled)).changed, ['info']);
  assert.notEqual(await readlink(join(dir, '..data')), before);
  assert.equal(await read('labels'), 'app="web"\ntier="be"');
  await assert.rejects(lstat(join(dir, before)), { code: 'ENOENT' });
  await vm.cleanupVolumes(p.metadata.uid);
  // After cleanup refresh has nothing to do and recreates nothing.
  assert.deepEqual(await vm.refresh(relabeled), { changed: [], errors: [] });
  await assert.rejects(stat(vm.podDir(p.metadata.uid)), { code: 'ENOENT' });
});

test('configMap refresh: an edit shows through the same path; a deleted source keeps the old content', async () => {
  const cms: Record<string, Obj> = { cfg: { data: { a: '1', b: '2' } } };
  const p = pod([{ name: 'c', configMap: { name: 'cfg' } }]);
  const dir = (await vm.ensureVolumes(p, ctxWith(cms))).get('c')!;
  cms.cfg = { data: { a: '10', c: '3' } };
  assert.deepEqual((await vm.refresh(p)).changed, ['c']);
  assert.equal(await readFile(join(dir, 'a'), 'utf8'), '10');
  assert.equal(await readFile(join(dir, 'c'), 'utf8'), '3');
  await assert.rejects(lstat(join(dir, 'b')), { code: 'ENOENT' });
  delete cms.cfg;
  const r = await vm.refresh(p);
  assert.deepEqual(r.changed, []);
  assert.equal(r.errors[0].message, 'MountVolume.SetUp failed for volume "c" : configmap "cfg" not found');
  assert.equal(await readFile(join(dir, 'a'), 'utf8'), '10');
  await vm.cleanupVolumes(p.metadata.uid);
});

test('projected: configMap, secret, downwardAPI and token sources; token skipped without a provider', async () => {
  const volume = {
    name: 'kube-api-access',
    projected: {
      defaultMode: 0o420,
      sources: [
        { serviceAccountToken: { path: 'token', expirationSeconds: 3607 } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
        { secret: { name: 'extra', optional: true } },
      ],
    },
  };
  const cms = { 'kube-root-ca.crt': { data: { 'ca.crt': '-----BEGIN CERTIFICATE-----\n' } } };
  const seen: Obj[] = [];
  const withToken = ctxWith(cms, {}, { getServiceAccountToken: async (_pod, src) => (seen.push(src), 'tok-123') });
  const p = pod([volume]);
  const dir = (await vm.ensureVolumes(p, withToken)).get('kube-api-access')!;
  assert.ok(await mounter.isMountPoint(dir));
  assert.equal(await readFile(join(dir, 'token'), 'utf8'), 'tok-123');
  assert.deepEqual(seen[0], { audience: undefined, expirationSeconds: 3607, path: 'token' });
  assert.equal(await readFile(join(dir, 'namespace'), 'utf8'), 'prod');
  assert.equal((await stat(join(dir, 'ca.crt'))).mode & 0o777, 0o420);
  await vm.cleanupVolumes(p.metadata.uid);

  const q = pod([volume]);
  const dir2 = (await vm.ensureVolumes(q, ctxWith(cms))).get('kube-api-access')!;
  assert.deepEqual((await readdir(dir2)).filter((n) => !n.startsWith('..')).sort(), ['ca.crt', 'namespace']);
  await vm.cleanupVolumes(q.metadata.uid);
});

test('mountsFor: subPath and subPathExpr, escapes refused, unknown volume', async () => {
  const p = pod([{ name: 'data', emptyDir: {} }]);
  const vols = await vm.ensureVolumes(p, ctxWith());
  const data = vols.get('data')!;
  const m = await mountsFor(
    p,
    { name: 'app', volumeMounts: [{ name: 'data', mountPath: '/logs', subPathExpr: 'logs/$(POD_NAME)' }] },
    vols,
    [{ name: 'POD_NAME', value: 'web' }],
  );
  assert.deepEqual(m, [{ hostPath: join(data, 'logs/web'), containerPath: '/logs', readOnly: false }]);
  assert.ok((await stat(join(data, 'logs/web'))).isDirectory());
  const mount = (vmnt: Obj, env: Obj[] = []): Promise<unknown> => mountsFor(p, { name: 'app', volumeMounts: [vmnt] }, vols, env as never);
  await assert.rejects(mount({ name: 'data', mountPath: '/x', subPath: '../../etc' }), { reason: 'CreateContainerConfigError', message: "unable to provision SubPath `../../etc`: must not contain '..'" });
  await assert.rejects(mount({ name: 'data', mountPath: '/x', subPath: '/etc' }), { message: 'error SubPath `/etc` must not be an absolute path' });
  await assert.rejects(mount({ name: 'data', mountPath: '/x', subPathExpr: '$(NOPE)' }), { message: 'missing value for NOPE' });
  await assert.rejects(mount({ name: 'other', mountPath: '/x' }), { message: 'cannot find volume "other" to mount into container "app"' });
  // A symlink a container planted inside the volume must not lead out of it.
  await symlink('/etc', join(data, 'evil'));
  await assert.rejects(mount({ name: 'data', mountPath: '/x', subPath: 'evil' }), { message: 'failed to prepare subPath for volumeMount "data" of container "app"' });
  await assert.rejects(mount({ name: 'data', mountPath: '/x', subPath: 'evil/newdir' }), { message: 'failed to prepare subPath for volumeMount "data" of container "app"' });
  await assert.rejects(stat('/etc/newdir'), { code: 'ENOENT' });
  await vm.cleanupVolumes(p.metadata.uid);
});

test('writeHostsFile, termination log files', async () => {
  const p = pod([], { hostname: 'db-0', subdomain: 'db', hostAliases: [{ ip: '10.1.2.3', hostnames: ['foo.local', 'bar.local'] }] });
  const path = await vm.writeHostsFile(p, '10.244.0.7', undefined, { clusterDomain: 'cluster.local' });
  const text = await readFile(path, 'utf8');
  assert.equal(
    text,
    '# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n' +
      '10.244.0.7\tdb-0.db.prod.svc.cluster.local\tdb-0\n\n# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar.local\n',
  );
  const plain = await vm.writeHostsFile(pod([]), ['10.244.0.8'], []);
  assert.match(await readFile(plain, 'utf8'), /\n10\.244\.0\.8\tweb\n$/);
  const nodeHosts = join(base, 'node-hosts');
  await writeFile(nodeHosts, '127.0.0.1 localhost\n192.168.56.11 node1');
  const hn = pod([], { hostNetwork: true });
  const hostNet = await vm.writeHostsFile(hn, '192.168.56.11', [{ ip: '1.1.1.1', hostnames: ['x'] }], { nodeHostsFile: nodeHosts });
  assert.equal(await readFile(hostNet, 'utf8'), '# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n192.168.56.11 node1\n\n# Entries added by HostAliases.\n1.1.1.1\tx\n');

  const log = await vm.ensureTerminationLog(p.metadata.uid, 'app', 2);
  assert.equal(log, join(vm.podDir(p.metadata.uid), 'containers/app/2/termination-log'));
  const st = await stat(log);
  assert.equal(st.size, 0);
  assert.equal(st.mode & 0o777, 0o666);
  assert.equal(await vm.ensureTerminationLog(p.metadata.uid, 'app', 2), log);
  await writeFile(log, 'x'.repeat(5000) + 'END');
  const msg = await vm.readTerminationMessage(p.metadata.uid, 'app', 2);
  assert.equal(msg.length, 4096);
  assert.ok(msg.endsWith('END'));
  assert.equal(await vm.readTerminationMessage(p.metadata.uid, 'app', 9), '');
  assert.throws(() => vm.terminationLogPath(p.metadata.uid, '../x', 0), /invalid container name/);
  for (const x of [p, hn]) await vm.cleanupVolumes(x.metadata.uid);
  await vm.cleanupVolumes(pod([]).metadata.uid);
});
