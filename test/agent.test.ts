/**
 * The agent end to end: a real server (scheduler and controllers embedded), a
 * real `skiff agent` process on this host, real Docker containers networked by
 * cni/skiff-bridge, and the real kubectl. One file for the whole agent, because
 * one host has one skiff0 bridge and one CNI config: suites must not overlap.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kubectl, kubectlOk, removeDir, run, startServer, waitFor, type ServerProc } from './harness.js';
import { dockerPs, getJson, hostNetworkState, isRunningReady, startAgent, vethOf, waitPod, type AgentProc } from './agentharness.js';

const NODE = 'skiff-e2e-node';
const IMG = 'busybox:1.35';

let s: ServerProc;
let agent: AgentProc;

const apply = (yaml: string): Promise<string> => kubectlOk(s, ['apply', '-f', '-'], yaml);

function podYaml(name: string, spec: string, ns = 'default', extraMeta = ''): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${ns}
${extraMeta}spec:
  terminationGracePeriodSeconds: 2
${spec}`;
}

async function deletePod(name: string, ns = 'default'): Promise<void> {
  await kubectl(s, ['delete', 'pod', '-n', ns, name, '--ignore-not-found', '--wait=true', '--timeout=60s']);
}

describe('agent', { concurrency: false }, () => {
  before(async () => {
    s = await startServer({ extraArgs: ['--node-monitor-grace-period', '20s'] });
    agent = await startAgent(s, { nodeName: NODE });
    await waitFor(async () => {
      const n = await getJson(s, ['node', NODE]);
      return n?.spec?.podCIDR && n.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
    }, 'node Ready with a podCIDR', 60_000);
  });

  after(async () => {
    if (s) await kubectl(s, ['delete', 'pods', '--all', '-A', '--wait=true', '--timeout=90s', '--grace-period=1']);
    await agent?.stop();
    await s?.stop();
    if (agent) removeDir(agent.dataDir);
    if (s) removeDir(s.dataDir);
  });

  test('two containers of a pod talk over localhost; pod-to-pod has no NAT', async () => {
    await apply(podYaml('web', `  containers:
  - name: server
    image: ${IMG}
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -vv -p 8080 -h /www"]
  - name: sidecar
    image: ${IMG}
    command: ["sh", "-c", "until wget -qO- http://127.0.0.1:8080/; do sleep 0.2; done; exec sleep 3600"]
`));
    const web = await waitPod(s, 'default', 'web', isRunningReady, 'Running and Ready');
    assert.match(web.status.podIP, /^10\.244\.\d+\.\d+$/);
    assert.equal(web.status.hostIP, '127.0.0.1');
    assert.equal(web.status.qosClass, 'BestEffort');
    await waitFor(async () => (await kubectl(s, ['logs', 'web', '-c', 'sidecar'])).stdout.includes('hello-from-web'), 'sidecar fetched over localhost');

    await apply(podYaml('client', `  containers:
  - name: c
    image: ${IMG}
    command: ["sh", "-c", "until wget -qO- http://${web.status.podIP}:8080/; do sleep 0.2; done; exec sleep 3600"]
`));
    const client = await waitPod(s, 'default', 'client', isRunningReady, 'Running');
    assert.notEqual(client.status.podIP, web.status.podIP);
    await waitFor(async () => (await kubectl(s, ['logs', 'client'])).stdout.includes('hello-from-web'), 'client fetched from web');
    // httpd -vv logs the peer: the server sees the client pod's own IP, not the bridge's or the node's.
    const serverLog = await kubectlOk(s, ['logs', 'web', '-c', 'server']);
    assert.ok(new RegExp(`(^|[^0-9.])${client.status.podIP.replace(/\./g, '\\.')}\\]?:`, 'm').test(serverLog), `server log shows the client pod IP ${client.status.podIP}:\n${serverLog}`);
  });

  test('resources become cgroup limits under the QoS parent; qosClass reported', async () => {
    await apply(podYaml('limited', `  containers:
  - name: c
    image: ${IMG}
    command: ["sleep", "3600"]
    resources:
      requests: { cpu: 250m, memory: 32Mi }
      limits: { cpu: 500m, memory: 64Mi }
`));
    const p = await waitPod(s, 'default', 'limited', isRunningReady, 'Running');
    assert.equal(p.status.qosClass, 'Burstable');
    const id = p.status.containerStatuses[0].containerID.replace('docker://', '');
    const insp = JSON.parse((await run('/usr/bin/docker', ['inspect', id])).stdout)[0];
    assert.equal(insp.HostConfig.CgroupParent, `/skiff/burstable/pod${p.metadata.uid}`);
    // What the container itself sees in its cgroup (v1 here; v2 hosts expose memory.max).
    const mem = (await kubectlOk(s, ['exec', 'limited', '--', 'sh', '-c', 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max'])).trim();
    assert.equal(mem, String(64 * 1024 * 1024));
    const cpu = (await kubectlOk(s, ['exec', 'limited', '--', 'sh', '-c', 'cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.shares 2>/dev/null || cat /sys/fs/cgroup/cpu.max'])).trim().split(/\s+/);
    assert.ok(cpu.includes('50000'), `cpu quota 50000/100000: ${cpu}`);
    if (existsSync('/sys/fs/cgroup/cpu/cpu.shares')) assert.ok(cpu.includes('256'), `cpu.shares 256: ${cpu}`);
    // The pod-level cgroup on the host carries the pod's limit too.
    const hostPod = existsSync('/sys/fs/cgroup/memory/skiff')
      ? `/sys/fs/cgroup/memory/skiff/burstable/pod${p.metadata.uid}/memory.limit_in_bytes`
      : `/sys/fs/cgroup/skiff/burstable/pod${p.metadata.uid}/memory.max`;
    assert.equal(readFileSync(hostPod, 'utf8').trim(), String(64 * 1024 * 1024));
    await deletePod('limited');
  });

  test('a failing liveness probe restarts the container', async () => {
    await apply(podYaml('liveness', `  containers:
  - name: c
    image: ${IMG}
    command: ["sh", "-c", "touch /tmp/healthy; sleep 3; rm /tmp/healthy; exec sleep 3600"]
    livenessProbe:
      exec: { command: ["cat", "/tmp/healthy"] }
      periodSeconds: 1
      failureThreshold: 2
`));
    const p = await waitPod(s, 'default', 'liveness', (x) => x.status?.containerStatuses?.[0]?.restartCount >= 1, 'restarted by liveness', 60_000);
    assert.equal(p.status.containerStatuses[0].lastState.terminated.reason, 'Error');
    const ev = await kubectlOk(s, ['get', 'events', '--field-selector', 'involvedObject.name=liveness', '-o', 'json']);
    assert.ok(JSON.parse(ev).items.some((e: { reason: string }) => e.reason === 'Unhealthy' || e.reason === 'Killing'), 'Unhealthy/Killing events recorded');
    await deletePod('liveness');
  });

  test('kill -9 of a container restarts it, then backs off (CrashLoopBackOff)', async () => {
    await apply(podYaml('crashy', `  containers:
  - name: c
    image: ${IMG}
    command: ["sleep", "3600"]
`));
    const kill = async (): Promise<void> => {
      const p = await waitPod(s, 'default', 'crashy', isRunningReady, 'Running');
      const id = p.status.containerStatuses[0].containerID.replace('docker://', '');
      const pid = (await run('/usr/bin/docker', ['inspect', '-f', '{{.State.Pid}}', id])).stdout.trim();
      process.kill(Number(pid), 'SIGKILL');
    };
    await kill();
    const p1 = await waitPod(s, 'default', 'crashy', (x) => x.status.containerStatuses[0].restartCount === 1 && isRunningReady(x), 'restarted once');
    assert.equal(p1.status.containerStatuses[0].lastState.terminated.exitCode, 137);
    await kill();
    const p2 = await waitPod(s, 'default', 'crashy', (x) => x.status.containerStatuses[0].state.waiting?.reason === 'CrashLoopBackOff', 'CrashLoopBackOff', 20_000);
    assert.match(p2.status.containerStatuses[0].state.waiting.message, /back-off 10s/);
    await waitPod(s, 'default', 'crashy', (x) => x.status.containerStatuses[0].restartCount === 2 && isRunningReady(x), 'restarted after the backoff', 30_000);
    await deletePod('crashy');
  });

  test('restartPolicy Never: exit 0 Succeeded/Completed, exit 3 Failed/Error; OOMKilled', async () => {
    await apply(podYaml('ok-job', `  restartPolicy: Never
  containers:
  - name: c
    image: ${IMG}
    command: ["sh", "-c", "echo done"]
`));
    await apply(podYaml('bad-job', `  restartPolicy: Never
  containers:
  - name: c
    image: ${IMG}
    command: ["sh", "-c", "exit 3"]
`));
    await apply(podYaml('oom', `  restartPolicy: Never
  containers:
  - name: c
    image: ${IMG}
    command: ["sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\\\0' a); echo $x | wc -c"]
    resources:
      limits: { memory: 24Mi }
`));
    const ok = await waitPod(s, 'default', 'ok-job', (x) => x.status?.phase === 'Succeeded', 'Succeeded');
    assert.equal(ok.status.containerStatuses[0].state.terminated.reason, 'Completed');
    const bad = await waitPod(s, 'default', 'bad-job', (x) => x.status?.phase === 'Failed', 'Failed');
    assert.equal(bad.status.containerStatuses[0].state.terminated.exitCode, 3);
    assert.equal(bad.status.containerStatuses[0].state.terminated.reason, 'Error');
    const oom = await waitPod(s, 'default', 'oom', (x) => x.status?.phase === 'Failed', 'OOM killed');
    assert.equal(oom.status.containerStatuses[0].state.terminated.reason, 'OOMKilled');
    for (const n of ['ok-job', 'bad-job', 'oom']) await deletePod(n);
  });

  test('init containers in order, env from ConfigMap/Secret/fieldRef, shared emptyDir and configMap volume', async () => {
    await apply(`apiVersion: v1
kind: ConfigMap
metadata: { name: app-config }
data: { GREETING: hello, file.txt: from-configmap }
---
apiVersion: v1
kind: Secret
metadata: { name: app-secret }
stringData: { PASSWORD: s3cret }
`);
    await apply(podYaml('initdemo', `  initContainers:
  - name: first
    image: ${IMG}
    command: ["sh", "-c", "echo first >> /work/order"]
    volumeMounts: [{ name: work, mountPath: /work }]
  - name: second
    image: ${IMG}
    command: ["sh", "-c", "echo second >> /work/order"]
    volumeMounts: [{ name: work, mountPath: /work }]
  containers:
  - name: main
    image: ${IMG}
    command: ["sh", "-c", "cat /work/order; echo greeting=$GREETING pw=$PASSWORD pod=$POD_NAME ip=$POD_IP x=$(COMPOSED); cat /cfg/file.txt; echo; exec sleep 3600"]
    env:
    - { name: GREETING, valueFrom: { configMapKeyRef: { name: app-config, key: GREETING } } }
    - { name: PASSWORD, valueFrom: { secretKeyRef: { name: app-secret, key: PASSWORD } } }
    - { name: POD_NAME, valueFrom: { fieldRef: { fieldPath: metadata.name } } }
    - { name: POD_IP, valueFrom: { fieldRef: { fieldPath: status.podIP } } }
    - { name: COMPOSED, value: "$(GREETING)-world" }
    volumeMounts: [{ name: work, mountPath: /work }, { name: cfg, mountPath: /cfg }]
  volumes:
  - { name: work, emptyDir: {} }
  - { name: cfg, configMap: { name: app-config } }
`));
    const p = await waitPod(s, 'default', 'initdemo', isRunningReady, 'Running');
    assert.equal(p.status.initContainerStatuses.length, 2);
    assert.ok(p.status.initContainerStatuses.every((c: { state: { terminated?: { reason: string } } }) => c.state.terminated?.reason === 'Completed'));
    const logs = await waitFor(async () => {
      const l = (await kubectl(s, ['logs', 'initdemo'])).stdout;
      return l.includes('from-configmap') ? l : undefined;
    }, 'main logs');
    assert.match(logs, /first\nsecond\n/);
    assert.ok(logs.includes(`greeting=hello pw=s3cret pod=initdemo ip=${p.status.podIP} x=hello-world`), logs);
    await deletePod('initdemo');
  });

  test('a config error is reported as CreateContainerConfigError, then runs once fixed', async () => {
    await apply(podYaml('needs-cm', `  containers:
  - name: c
    image: ${IMG}
    command: ["sleep", "3600"]
    env: [{ name: X, valueFrom: { configMapKeyRef: { name: later-cm, key: X } } }]
`));
    const p = await waitPod(s, 'default', 'needs-cm', (x) => x.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError', 'config error');
    assert.match(p.status.containerStatuses[0].state.waiting.message, /later-cm/);
    await apply(`apiVersion: v1\nkind: ConfigMap\nmetadata: { name: later-cm }\ndata: { X: "1" }\n`);
    await waitPod(s, 'default', 'needs-cm', isRunningReady, 'Running after the ConfigMap appeared', 30_000);
    await deletePod('needs-cm');
  });

  test('readiness probe gates Ready; httpGet and tcpSocket probes', async () => {
    await apply(podYaml('ready-http', `  containers:
  - name: c
    image: ${IMG}
    command: ["sh", "-c", "mkdir -p /www; sleep 2; echo ok > /www/healthz; exec httpd -f -p 8080 -h /www"]
    readinessProbe:
      httpGet: { path: /healthz, port: 8080 }
      periodSeconds: 1
    livenessProbe:
      tcpSocket: { port: 8080 }
      initialDelaySeconds: 5
      periodSeconds: 1
`));
    const before = await waitPod(s, 'default', 'ready-http', (x) => x.status?.containerStatuses?.[0]?.state?.running, 'running');
    assert.equal(before.status.containerStatuses[0].ready, false, 'not ready before the first successful probe');
    await waitPod(s, 'default', 'ready-http', isRunningReady, 'Ready by httpGet', 30_000);
    await deletePod('ready-http');
  });

  test('logs and exec through the real kubectl', async () => {
    await apply(podYaml('shell', `  containers:
  - name: c
    image: ${IMG}
    command: ["sh", "-c", "for i in 1 2 3; do echo line-$i; done; exec sleep 3600"]
`));
    await waitPod(s, 'default', 'shell', isRunningReady, 'Running');
    assert.equal((await kubectlOk(s, ['logs', 'shell', '--tail', '1'])).trim(), 'line-3');
    assert.equal((await kubectlOk(s, ['exec', 'shell', '--', 'sh', '-c', 'echo $((6*7))'])).trim(), '42');
    const r = await kubectl(s, ['exec', 'shell', '--', 'sh', '-c', 'exit 3']);
    assert.equal(r.code, 3);
    const piped = await kubectlOk(s, ['exec', '-i', 'shell', '--', 'sh', '-c', 'tr a-z A-Z'], 'piped input\n');
    assert.equal(piped.trim(), 'PIPED INPUT');
  });

  test('agent restart adopts running containers: no restart, same IP', async () => {
    const before = await waitPod(s, 'default', 'web', isRunningReady, 'Running');
    const ids = before.status.containerStatuses.map((c: { containerID: string }) => c.containerID).sort();
    await agent.stop();
    agent = await startAgent(s, { nodeName: NODE, dataDir: agent.dataDir });
    // The new agent reports again (a fresh heartbeat) and changes nothing.
    const hb = Date.now();
    await waitFor(async () => {
      const n = await getJson(s, ['node', NODE]);
      const ready = n?.status?.conditions?.find((c: { type: string }) => c.type === 'Ready');
      return ready && Date.parse(ready.lastHeartbeatTime) >= hb - 1000;
    }, 'heartbeat from the restarted agent', 30_000);
    const now = await waitPod(s, 'default', 'web', isRunningReady, 'still Running');
    assert.deepEqual(now.status.containerStatuses.map((c: { containerID: string }) => c.containerID).sort(), ids);
    assert.ok(now.status.containerStatuses.every((c: { restartCount: number }) => c.restartCount === 0));
    assert.equal(now.status.podIP, before.status.podIP);
    // and it still serves logs and exec for the adopted containers
    assert.equal((await kubectlOk(s, ['exec', 'web', '-c', 'server', '--', 'cat', '/www/index.html'])).trim(), 'hello-from-web');
  });

  test('static pods run from the manifest directory and are mirrored in the API', async () => {
    mkdirSync(agent.manifests, { recursive: true });
    writeFileSync(join(agent.manifests, 'static-web.yaml'), `apiVersion: v1
kind: Pod
metadata: { name: static-web, namespace: default }
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: ${IMG}
    command: ["sleep", "3600"]
`);
    const name = `static-web-${NODE}`;
    const m = await waitPod(s, 'default', name, isRunningReady, 'mirror pod Running', 60_000);
    assert.equal(m.metadata.annotations['kubernetes.io/config.source'], 'file');
    assert.ok(m.metadata.annotations['kubernetes.io/config.mirror']);
    assert.equal(m.metadata.ownerReferences[0].kind, 'Node');
    rmSync(join(agent.manifests, 'static-web.yaml'));
    await waitFor(async () => (await kubectl(s, ['get', 'pod', name])).code !== 0, 'mirror pod removed', 60_000);
  });

  test('graceful delete: preStop runs, containers removed, veth and IP released', async () => {
    const p = await waitPod(s, 'default', 'client', isRunningReady, 'Running');
    const before = hostNetworkState();
    assert.ok(before.ips.includes(p.status.podIP), `IP ${p.status.podIP} allocated: ${before.ips}`);
    const sandbox = (await run('/usr/bin/docker', ['ps', '-q', '--no-trunc', '--filter', `label=io.kubernetes.pod.uid=${p.metadata.uid}`, '--filter', 'label=skiff.io/kind=sandbox'])).stdout.trim();
    const veth = vethOf(sandbox);
    assert.ok(veth && before.veths.includes(veth), `the pod's host veth ${veth} is on skiff0`);
    await deletePod('client');
    await waitFor(async () => (await dockerPs(p.metadata.uid)).length === 0, 'containers removed');
    const now = hostNetworkState();
    assert.ok(!now.ips.includes(p.status.podIP), 'IP released');
    assert.ok(!existsSync(`/sys/class/net/${veth}`), `veth ${veth} removed`);
  });
});
