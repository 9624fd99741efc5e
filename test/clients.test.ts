/**
 * The official client libraries, unmodified, against a real `skiff server`:
 * @kubernetes/client-node's informer keeps an exact copy of a changing
 * collection across its 30 s watch timeouts and across a server restart; the
 * Python client (Debian's python3-kubernetes) lists, creates and watches.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { API_ONLY, removeDir, run, startServer, waitFor, type ServerProc } from './harness.js';

describe('@kubernetes/client-node informer', () => {
  let s: ServerProc;
  before(async () => {
    s = await startServer({ extraArgs: API_ONLY });
  });
  after(async () => {
    await s.stop();
    removeDir(s.dataDir);
  });

  it('keeps an exact copy across watch timeouts and a server restart', { timeout: 180_000 }, async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(s.kubeconfig);
    let api = kc.makeApiClient(k8s.CoreV1Api);
    await api.createNamespace({ body: { metadata: { name: 'inf' } } });
    const informer = k8s.makeInformer(kc, '/api/v1/namespaces/inf/configmaps', () => api.listNamespacedConfigMap({ namespace: 'inf' }));
    let connects = 0;
    let stopped = false;
    informer.on('connect', () => connects++);
    // The documented pattern: an informer stops on a connection error; restart it.
    informer.on('error', () => {
      if (!stopped) setTimeout(() => void informer.start().catch(() => undefined), 200);
    });
    await informer.start();

    const serverState = async (): Promise<string> => {
      const list = await api.listNamespacedConfigMap({ namespace: 'inf' });
      return list.items.map((c) => `${c.metadata!.name}@${c.metadata!.resourceVersion}=${c.data?.v}`).sort().join(',');
    };
    const cacheState = (): string =>
      informer
        .list()
        .map((c) => `${c.metadata!.name}@${c.metadata!.resourceVersion}=${c.data?.v}`)
        .sort()
        .join(',');
    const converged = async (what: string): Promise<void> => {
      let want = '';
      await waitFor(async () => {
        want = await serverState();
        return cacheState() === want;
      }, `informer to match the server (${what})`, 20_000);
      assert.equal(cacheState(), want);
    };
    const churn = async (round: number): Promise<void> => {
      for (let i = 0; i < 10; i++) {
        await api.createNamespacedConfigMap({ namespace: 'inf', body: { metadata: { name: `r${round}-${i}` }, data: { v: '0' } } });
      }
      for (let i = 0; i < 10; i += 2) {
        await api.patchNamespacedConfigMap({ namespace: 'inf', name: `r${round}-${i}`, body: [{ op: 'replace', path: '/data/v', value: String(i) }] });
      }
      for (let i = 1; i < 10; i += 3) await api.deleteNamespacedConfigMap({ namespace: 'inf', name: `r${round}-${i}` });
    };

    try {
      await churn(1);
      await converged('after the first changes');

      // client-node aborts a watch after 30 s without data and re-watches from the
      // last resourceVersion; wait for that reconnect, then change things again.
      const before = connects;
      await waitFor(() => connects > before, 'the informer to re-watch after its 30 s timeout', 60_000);
      await churn(2);
      await converged('after a watch timeout');

      // Restart the server on the same port and data dir.
      const port = s.port;
      const dataDir = s.dataDir;
      await s.stop();
      s = await startServer({ dataDir, port, extraArgs: API_ONLY });
      api = kc.makeApiClient(k8s.CoreV1Api);
      await churn(3);
      await converged('after a server restart');
      assert.equal(informer.list().length, 3 * (10 - 3));
    } finally {
      stopped = true;
      await informer.stop();
    }
  });
});

const PY = '/usr/bin/python3';

describe('Python kubernetes client', () => {
  let s: ServerProc;
  before(async () => {
    s = await startServer({ extraArgs: API_ONLY });
  });
  after(async () => {
    await s.stop();
    removeDir(s.dataDir);
  });

  it('lists, creates and watches', async (t) => {
    const probe = existsSync(PY) ? await run(PY, ['-c', 'import kubernetes']) : { code: 1 };
    if (probe.code !== 0) {
      t.skip('python3-kubernetes is not installed (scripts/setup.sh installs it)');
      return;
    }
    const script = `
import sys
from kubernetes import client, config, watch
config.load_kube_config(sys.argv[1])
v1 = client.CoreV1Api()
names = sorted(n.metadata.name for n in v1.list_namespace().items)
print("namespaces", ",".join(names))
v1.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="from-python", labels={"lang": "py"}), data={"k": "v"}))
cm = v1.read_namespaced_config_map("from-python", "default")
print("read", cm.data["k"], cm.metadata.resource_version)
w = watch.Watch()
for ev in w.stream(v1.list_namespaced_config_map, "default", label_selector="lang=py", timeout_seconds=5):
    print("event", ev["type"], ev["object"].metadata.name)
    w.stop()
try:
    v1.read_namespaced_config_map("missing", "default")
except client.exceptions.ApiException as e:
    print("missing", e.status, e.reason)
`;
    const r = await run(PY, ['-c', script, s.kubeconfig], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^namespaces default,kube-node-lease,kube-public,kube-system$/m);
    assert.match(r.stdout, /^read v \d+$/m);
    assert.match(r.stdout, /^event ADDED from-python$/m);
    assert.match(r.stdout, /^missing 404 Not Found$/m);
  });
});
