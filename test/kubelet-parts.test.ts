/**
 * The kubelet's pod-level pieces together, against a real `skiff server` (ConfigMaps,
 * Secrets and the pod itself come from its API, defaults included) and a real busybox
 * container that mounts the volumes: env from the API, ConfigMap/Secret/downward/
 * projected/emptyDir volumes seen inside the container, an atomic ConfigMap update seen
 * by the running container, /etc/hosts and resolv.conf, exec probes on the real clock
 * driving readiness and a liveness restart callback, and a preStop hook.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { ApiClient, isNotFound } from '../controlplane/controllers/client.js';
import { DockerRuntime } from '../agent/runtime/docker.js';
import { resolveEnv } from '../agent/kubelet/env.js';
import { formatResolvConf, resolvConfFor } from '../agent/kubelet/dns.js';
import { runHook } from '../agent/kubelet/hooks.js';
import { ProbeManager } from '../agent/kubelet/probes.js';
import { VolumeManager, type VolumeContext } from '../agent/kubelet/volumes.js';
import { API_ONLY, run, startServer, waitFor, type ServerProc } from './harness.js';

const IMAGE = 'skiff.local/busybox:1.35';

describe('kubelet parts with a real API server and a real container', () => {
  let s: ServerProc;
  let api: ApiClient;
  let base: string;
  let vm: VolumeManager;
  let pm: ProbeManager | undefined;
  let containerId = '';
  let pod: any;
  const runtime = new DockerRuntime({ sandboxImage: IMAGE });
  const kills: string[] = [];
  const changes: string[] = [];

  const getOrUndefined = async (path: string): Promise<any> => {
    try {
      return await api.get(path);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  };
  const ctx: VolumeContext & { nodeName: string } = {
    nodeName: 'node-1',
    getConfigMap: (ns, name) => getOrUndefined(`/api/v1/namespaces/${ns}/configmaps/${name}`),
    getSecret: (ns, name) => getOrUndefined(`/api/v1/namespaces/${ns}/secrets/${name}`),
    getServiceAccountToken: async () => 'test-token',
    allocatable: { cpu: '2', memory: '2Gi' },
  };
  const exec = async (cmd: string[]): Promise<string> => {
    const r = await runtime.execSync(containerId, cmd, 10_000);
    assert.equal(r.exitCode, 0, `${cmd.join(' ')}: ${r.output}`);
    return r.output;
  };

  before(async () => {
    s = await startServer({ extraArgs: API_ONLY });
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(s.kubeconfig);
    api = new ApiClient(kc);
    base = await mkdtemp(join(tmpdir(), 'skiff-parts-'));
    vm = new VolumeManager(join(base, 'pods'));
    await api.create('/api/v1/namespaces/default/configmaps', { metadata: { name: 'app-config' }, data: { greeting: 'hello', 'app.conf': 'mode=one\n' } });
    await api.create('/api/v1/namespaces/default/secrets', { metadata: { name: 'app-secret' }, stringData: { password: 'p4ss' } });
    pod = await api.create('/api/v1/namespaces/default/pods', {
      metadata: { name: 'parts', labels: { app: 'parts' } },
      spec: {
        nodeName: 'node-1',
        hostname: 'parts-0',
        subdomain: 'svc',
        volumes: [
          { name: 'config', configMap: { name: 'app-config' } },
          { name: 'secret', secret: { secretName: 'app-secret', defaultMode: 0o400 } },
          { name: 'info', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } },
          { name: 'api', projected: { sources: [{ serviceAccountToken: { path: 'token' } }, { configMap: { name: 'app-config', items: [{ key: 'greeting', path: 'greeting' }] } }] } },
          { name: 'cache', emptyDir: { medium: 'Memory', sizeLimit: '4Mi' } },
        ],
        containers: [
          {
            name: 'app',
            image: IMAGE,
            env: [
              { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'app-config', key: 'greeting' } } },
              { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'app-secret', key: 'password' } } },
              { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              { name: 'MSG', value: '$(GREETING) from $(POD)' },
            ],
            volumeMounts: [
              { name: 'config', mountPath: '/etc/config' },
              { name: 'secret', mountPath: '/etc/secret' },
              { name: 'info', mountPath: '/etc/info' },
              { name: 'api', mountPath: '/var/run/secrets/skiff' },
              { name: 'cache', mountPath: '/cache' },
              { name: 'cache', mountPath: '/cache-sub', subPathExpr: '$(POD)' },
            ],
            readinessProbe: { exec: { command: ['cat', '/tmp/ready'] }, periodSeconds: 1 },
            livenessProbe: { exec: { command: ['sh', '-c', 'test ! -f /tmp/dead'] }, periodSeconds: 1, failureThreshold: 2 },
          },
        ],
      },
    });
  });

  after(async () => {
    pm?.stop();
    if (containerId) await run('docker', ['rm', '-f', containerId]);
    if (pod && vm) await vm.cleanupVolumes(pod.metadata.uid);
    if (base) await rm(base, { recursive: true, force: true });
    await s?.stop();
    if (s) await rm(s.dataDir, { recursive: true, force: true });
  });

  it('runs a container with the env, volumes, hosts and DNS the pieces computed', async () => {
    const c = pod.spec.containers[0];
    const { env } = await resolveEnv(pod, c, { ...ctx, podIP: '127.0.0.1' });
    assert.deepEqual(Object.fromEntries(env.map((e) => [e.name, e.value])), { GREETING: 'hello', PASSWORD: 'p4ss', POD: 'parts', MSG: 'hello from parts' });
    const volumes = await vm.ensureVolumes(pod, ctx);
    const mounts = await vm.mountsFor(pod, c, volumes, env);
    const hosts = await vm.writeHostsFile(pod, '10.244.0.9');
    const dns = await resolvConfFor(pod, { clusterDNS: '10.96.0.10', clusterDomain: 'cluster.local', hostResolvConf: '' });
    const resolv = join(base, 'resolv.conf');
    await writeFile(resolv, formatResolvConf(dns));
    const args = ['run', '-d', '--network', 'none', '--label', 'skiff.test=kubelet-parts'];
    for (const e of env) args.push('-e', `${e.name}=${e.value}`);
    for (const m of mounts) args.push('-v', `${m.hostPath}:${m.containerPath}${m.readOnly ? ':ro' : ''}`);
    args.push('-v', `${hosts}:/etc/hosts`, '-v', `${resolv}:/etc/resolv.conf:ro`, IMAGE, 'sleep', '600');
    const r = await run('docker', args);
    assert.equal(r.code, 0, r.stderr);
    containerId = r.stdout.trim();

    assert.equal(await exec(['cat', '/etc/config/greeting']), 'hello');
    assert.equal(await exec(['cat', '/etc/secret/password']), 'p4ss');
    assert.equal((await exec(['stat', '-L', '-c', '%a', '/etc/secret/password'])).trim(), '400');
    assert.equal(await exec(['cat', '/etc/info/labels']), 'app="parts"');
    assert.equal(await exec(['cat', '/var/run/secrets/skiff/token']), 'test-token');
    assert.equal(await exec(['sh', '-c', 'echo "$MSG"']), 'hello from parts\n');
    assert.match(await exec(['cat', '/etc/hosts']), /10\.244\.0\.9\tparts-0\.svc\.default\.svc\.cluster\.local\tparts-0\n/);
    assert.match(await exec(['cat', '/etc/resolv.conf']), /search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local/);
    // API volumes are read-only inside; the emptyDir is shared with its subPath view.
    const ro = await runtime.execSync(containerId, ['sh', '-c', 'echo x > /etc/config/new'], 10_000);
    assert.notEqual(ro.exitCode, 0);
    await exec(['sh', '-c', 'echo shared > /cache-sub/file']);
    assert.equal(await exec(['cat', '/cache/parts/file']), 'shared\n');
  });

  it('shows a ConfigMap update to the running container, atomically', async () => {
    await api.patch('/api/v1/namespaces/default/configmaps/app-config', { data: { greeting: 'bonjour', 'app.conf': 'mode=two\n' } });
    const r = await vm.refresh(pod);
    assert.deepEqual(r.changed.sort(), ['api', 'config']);
    assert.equal(await exec(['cat', '/etc/config/greeting']), 'bonjour');
    assert.equal(await exec(['cat', '/etc/config/app.conf']), 'mode=two\n');
    assert.equal(await exec(['cat', '/var/run/secrets/skiff/greeting']), 'bonjour');
    // A label change reaches the downward API file.
    const relabeled = await api.patch('/api/v1/namespaces/default/pods/parts', { metadata: { labels: { app: 'parts', v: '2' } } });
    assert.deepEqual((await vm.refresh(relabeled)).changed, ['info']);
    assert.equal(await exec(['cat', '/etc/info/labels']), 'app="parts"\nv="2"');
  });

  it('drives readiness and liveness with exec probes on the real clock', async () => {
    pm = new ProbeManager({
      runtime,
      onChange: (uid) => changes.push(uid),
      onLivenessFailure: (uid, name, msg) => kills.push(`${uid}/${name}: ${msg}`),
    });
    pm.containerStarted(pod, 'app', { containerId, podIP: '127.0.0.1' });
    assert.equal(pm.status(pod.metadata.uid, 'app').ready, false);
    await exec(['touch', '/tmp/ready']);
    await waitFor(() => pm!.status(pod.metadata.uid, 'app').ready, 'readiness to pass', 15_000);
    assert.ok(changes.includes(pod.metadata.uid));
    await exec(['rm', '/tmp/ready']);
    await waitFor(() => !pm!.status(pod.metadata.uid, 'app').ready, 'readiness to fail after 3 failures', 15_000);
    assert.deepEqual(kills, []);
    await exec(['touch', '/tmp/dead']);
    await waitFor(() => kills.length > 0, 'the liveness failure callback', 15_000);
    assert.deepEqual(kills, [`${pod.metadata.uid}/app: Container app failed liveness probe, will be restarted`]);
    pm.containerStopped(pod.metadata.uid, 'app');
    await pm.idle();
  });

  it('runs a preStop exec hook in the container', async () => {
    const r = await runHook({ exec: { command: ['sh', '-c', 'echo bye > /cache/prestop'] } }, { runtime, containerId, timeoutMs: 10_000, pod, container: pod.spec.containers[0] });
    assert.deepEqual(r, { ok: true });
    assert.equal(await exec(['cat', '/cache/prestop']), 'bye\n');
  });
});
