/**
 * The scheduler against a real `skiff server`: fake nodes (Node objects with
 * capacity, allocatable and a Ready condition, created through the API; no
 * agent), pods created directly, and the scheduler placing them — by
 * resources without over-committing, around taints, by node selectors, apart
 * by pod anti-affinity, evenly by topology spread, away from nodes busy per
 * their live usage — and
 * reporting pods that fit nowhere until a node grows.
 *
 * Each test gets its own server and scheduler; all waits are conditions with deadlines.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clientConfig } from '../controlplane/client.js';
import { formatUsage, startScheduler } from '../controlplane/scheduler/index.js';
import { http, removeDir, startServer, waitFor, type ServerProc } from './harness.js';

/**
 * The scheduler under test: started in-process, with the server's embedded
 * scheduler disabled so exactly one scheduler runs (two would race for the same
 * pods and over-commit). To test the scheduler embedded in `skiff server`
 * instead, set this to false.
 */
const IN_PROCESS = false;

async function startTestScheduler(s: ServerProc): Promise<{ stop(): Promise<void> }> {
  if (!IN_PROCESS) return { stop: async () => undefined };
  return startScheduler({ kubeconfig: clientConfig(s.url, s.ca, s.token) });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = any;

interface Cluster {
  s: ServerProc;
  call(method: string, path: string, body?: unknown, contentType?: string): Promise<Obj>;
  node(name: string, o?: { cpu?: string; memory?: string; labels?: Record<string, string>; annotations?: Record<string, string>; taints?: Obj[] }): Promise<void>;
  pod(name: string, o?: { cpu?: string; memory?: string; labels?: Record<string, string>; spec?: Obj }): Promise<void>;
  get(name: string): Promise<Obj>;
  nodeOf(name: string): Promise<string | undefined>;
  events(pod: string): Promise<Obj[]>;
  /** Stops the API server and starts it again on the same data dir and port. */
  restartServer(): Promise<void>;
}

/** Runs `fn` against a fresh server with the scheduler running; cleans up either way. */
async function withCluster(fn: (c: Cluster) => Promise<void>): Promise<void> {
  const extraArgs = IN_PROCESS ? ['--disable-scheduler'] : [];
  let s = await startServer({ extraArgs });
  const call = async (method: string, path: string, body?: unknown, contentType?: string): Promise<Obj> => {
    const r = await http(s, method, path, body === undefined ? undefined : JSON.stringify(body), contentType ? { 'content-type': contentType } : {});
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.body}`);
    return r.json();
  };
  const c: Cluster = {
    get s() {
      return s;
    },
    call,
    async node(name, o = {}) {
      const res = { cpu: o.cpu ?? '2', memory: o.memory ?? '4Gi', pods: '110' };
      await call('POST', '/api/v1/nodes', {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name, labels: { 'kubernetes.io/hostname': name, ...(o.labels ?? {}) }, annotations: o.annotations ?? {} },
        spec: o.taints ? { taints: o.taints } : {},
        status: { capacity: res, allocatable: res, conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }] },
      });
    },
    async pod(name, o = {}) {
      const requests = { cpu: o.cpu ?? '100m', memory: o.memory ?? '64Mi' };
      await call('POST', '/api/v1/namespaces/default/pods', {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, labels: o.labels ?? {} },
        spec: { containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10', resources: { requests } }], ...(o.spec ?? {}) },
      });
    },
    get: (name) => call('GET', `/api/v1/namespaces/default/pods/${name}`),
    nodeOf: async (name) => (await c.get(name)).spec.nodeName,
    events: async (pod) => (await call('GET', '/api/v1/namespaces/default/events')).items.filter((e: Obj) => e.involvedObject?.name === pod),
    async restartServer() {
      await s.stop();
      s = await startServer({ dataDir: s.dataDir, port: s.port, extraArgs });
    },
  };
  const sched = await startTestScheduler(s);
  try {
    await fn(c);
  } finally {
    await sched.stop();
    await s.stop();
    removeDir(s.dataDir);
  }
}

/** Waits until every named pod is bound; returns pod -> node. */
async function placements(c: Cluster, names: string[]): Promise<Map<string, string>> {
  return waitFor(
    async () => {
      const pods = (await c.call('GET', '/api/v1/namespaces/default/pods')).items as Obj[];
      const bound = new Map<string, string>(pods.filter((p) => p.spec.nodeName).map((p) => [p.metadata.name, p.spec.nodeName]));
      return names.every((n) => bound.has(n)) ? new Map(names.map((n) => [n, bound.get(n) as string])) : undefined;
    },
    `pods ${names.join(',')} bound`,
    30_000,
  );
}

/** The pod's FailedScheduling event, once it exists. */
const failedScheduling = (c: Cluster, pod: string): Promise<Obj> =>
  waitFor(async () => (await c.events(pod)).find((e: Obj) => e.reason === 'FailedScheduling'), `FailedScheduling for ${pod}`);

const range = (n: number, prefix: string): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

describe('scheduler against a real API server', () => {
  it('places a batch of 10 replicas by resources and never over-commits a node', () =>
    withCluster(async (c) => {
      await c.node('small', { cpu: '1' });
      await c.node('medium', { cpu: '2' });
      await c.node('large', { cpu: '2' });
      await c.pod('not-ours', { spec: { schedulerName: 'someone-else' } });
      const names = range(10, 'web');
      await Promise.all(names.map((n) => c.pod(n, { cpu: '500m', labels: { app: 'web' } })));
      const placed = await placements(c, names);
      const perNode = new Map<string, number>();
      for (const node of placed.values()) perNode.set(node, (perNode.get(node) ?? 0) + 500);
      // 5 cpu of requests on 5 cpu of nodes: every node exactly full, none over.
      assert.deepEqual(Object.fromEntries([...perNode].sort()), { large: 2000, medium: 2000, small: 1000 });
      const ev = await waitFor(async () => (await c.events('web-0')).find((e: Obj) => e.reason === 'Scheduled'), 'Scheduled event');
      assert.equal(ev.message, `Successfully assigned default/web-0 to ${placed.get('web-0')}`);
      assert.equal(ev.source.component, 'default-scheduler');
      assert.equal(ev.type, 'Normal');
      // One more replica fits nowhere and says why.
      await c.pod('web-10', { cpu: '500m', labels: { app: 'web' } });
      const failed = await failedScheduling(c, 'web-10');
      assert.equal(failed.message, '0/3 nodes are available: 3 Insufficient cpu.');
      assert.equal(await c.nodeOf('not-ours'), undefined, 'pods of another scheduler are left alone');
    }));

  it('respects taints, tolerations and node selectors', () =>
    withCluster(async (c) => {
      await c.node('gpu', { labels: { accelerator: 'gpu' }, taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] });
      await c.node('ssd', { labels: { disk: 'ssd' } });
      await c.node('hdd', { labels: { disk: 'hdd' } });
      const plain = range(4, 'plain');
      const onSsd = range(3, 'fast');
      await Promise.all(plain.map((n) => c.pod(n)));
      await Promise.all(onSsd.map((n) => c.pod(n, { spec: { nodeSelector: { disk: 'ssd' } } })));
      await c.pod('trainer', { spec: { nodeSelector: { accelerator: 'gpu' }, tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }] } });
      const placed = await placements(c, [...plain, ...onSsd, 'trainer']);
      for (const n of plain) assert.notEqual(placed.get(n), 'gpu', `${n} must not land on the tainted node`);
      for (const n of onSsd) assert.equal(placed.get(n), 'ssd');
      assert.equal(placed.get('trainer'), 'gpu');
      await c.pod('wants-gpu', { spec: { nodeSelector: { accelerator: 'gpu' } } });
      const failed = await failedScheduling(c, 'wants-gpu');
      assert.equal(failed.message, "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 node(s) didn't match Pod's node affinity/selector.");
    }));

  it('spreads replicas with required pod anti-affinity, one per node', () =>
    withCluster(async (c) => {
      for (const n of ['a', 'b', 'c']) await c.node(n);
      const spec = { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'kubernetes.io/hostname' }] } } };
      const names = range(3, 'db');
      await Promise.all(names.map((n) => c.pod(n, { labels: { app: 'db' }, spec })));
      const placed = await placements(c, names);
      assert.deepEqual([...new Set(placed.values())].sort(), ['a', 'b', 'c']);
      await c.pod('db-3', { labels: { app: 'db' }, spec });
      const failed = await failedScheduling(c, 'db-3');
      assert.equal(failed.message, "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.");
    }));

  it('spreads the pods of a ReplicaSet evenly and enforces DoNotSchedule topology spread constraints', () =>
    withCluster(async (c) => {
      for (const n of ['a', 'b', 'c']) await c.node(n);
      // Default spreading: pods of one controller (ownerReference controller=true) spread by hostname.
      await c.call('POST', '/apis/apps/v1/namespaces/default/replicasets', {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: { name: 'spread' },
        spec: {
          replicas: 6,
          selector: { matchLabels: { app: 'spread' } },
          template: { metadata: { labels: { app: 'spread' } }, spec: { containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }] } },
        },
      });
      const perNode = await waitFor(
        async () => {
          const pods = ((await c.call('GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dspread')).items as Obj[]).filter((p) => p.metadata.ownerReferences?.[0]?.controller);
          if (pods.length !== 6 || !pods.every((p) => p.spec.nodeName)) return undefined;
          const m: Record<string, number> = {};
          for (const p of pods) m[p.spec.nodeName] = (m[p.spec.nodeName] ?? 0) + 1;
          return m;
        },
        'six ReplicaSet pods bound',
        30_000,
      );
      assert.deepEqual(perNode, { a: 2, b: 2, c: 2 });

      // Two pods already on a; a third may only go to a (nodeSelector), where the skew would be 3 > 1.
      await Promise.all(['x-0', 'x-1'].map((n) => c.pod(n, { labels: { tier: 'x' }, spec: { nodeName: 'a' } })));
      const constraint = { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { tier: 'x' } } };
      await c.pod('x-2', { labels: { tier: 'x' }, spec: { nodeSelector: { 'kubernetes.io/hostname': 'a' }, topologySpreadConstraints: [{ ...constraint, nodeAffinityPolicy: 'Ignore' }] } });
      const failed = await failedScheduling(c, 'x-2');
      assert.equal(failed.message, "0/3 nodes are available: 1 node(s) didn't match pod topology spread constraints, 2 node(s) didn't match Pod's node affinity/selector.");
      const cond = await waitFor(async () => (await c.get('x-2')).status.conditions?.find((x: Obj) => x.type === 'PodScheduled'), 'PodScheduled condition');
      assert.deepEqual([cond.status, cond.reason], ['False', 'Unschedulable']);
      // A topology key no node carries.
      await c.pod('x-3', { labels: { tier: 'x' }, spec: { topologySpreadConstraints: [{ ...constraint, topologyKey: 'topology.kubernetes.io/zone' }] } });
      assert.equal((await failedScheduling(c, 'x-3')).message, "0/3 nodes are available: 3 node(s) didn't match pod topology spread constraints (missing required label).");
      // Without the nodeSelector the same constraint sends the pod to an empty node.
      await c.pod('x-4', { labels: { tier: 'x' }, spec: { topologySpreadConstraints: [constraint] } });
      assert.notEqual((await placements(c, ['x-4'])).get('x-4'), 'a');
    }));

  it('steers pods away from a node whose live usage is high, unless the reading is stale', () =>
    withCluster(async (c) => {
      const usage = (cpu: number, mem: number, ageMs: number) => ({ 'skiff.io/usage': formatUsage(cpu, mem, new Date(Date.now() - ageMs)) });
      // No pods anywhere: by requests the three nodes are equal.
      await c.node('busy', { cpu: '4', memory: '8Gi', annotations: usage(3600, 7 * 2 ** 30, 0) });
      await c.node('stale', { cpu: '4', memory: '8Gi', annotations: usage(3600, 7 * 2 ** 30, 120_000) });
      await c.node('idle', { cpu: '4', memory: '8Gi', annotations: usage(100, 2 ** 28, 0) });
      const names = range(4, 'app');
      await Promise.all(names.map((n) => c.pod(n)));
      const nodes = [...(await placements(c, names)).values()];
      assert.equal(nodes.filter((n) => n === 'busy').length, 0, `busy with unrequested work: ${nodes}`);
      assert.ok(nodes.includes('stale'), `a two-minute-old reading is ignored: ${nodes}`);
      assert.ok(nodes.includes('idle'), `${nodes}`);
    }));

  it('reports a pod too large for every node, then places it once a node grows', () =>
    withCluster(async (c) => {
      await c.node('n1', { cpu: '1' });
      await c.node('n2', { cpu: '1' });
      await c.pod('big', { cpu: '3' });
      const failed = await failedScheduling(c, 'big');
      assert.equal(failed.message, '0/2 nodes are available: 2 Insufficient cpu.');
      assert.equal(failed.type, 'Warning');
      assert.equal(failed.involvedObject.kind, 'Pod');
      const cond = await waitFor(async () => (await c.get('big')).status.conditions?.find((x: Obj) => x.type === 'PodScheduled'), 'PodScheduled condition');
      assert.deepEqual([cond.status, cond.reason, cond.message], ['False', 'Unschedulable', '0/2 nodes are available: 2 Insufficient cpu.']);
      const grown = { cpu: '4', memory: '4Gi', pods: '110' };
      await c.call('PATCH', '/api/v1/nodes/n2/status', { status: { capacity: grown, allocatable: grown } }, 'application/merge-patch+json');
      assert.equal((await placements(c, ['big'])).get('big'), 'n2');
      const scheduled = await waitFor(async () => (await c.get('big')).status.conditions?.find((x: Obj) => x.type === 'PodScheduled' && x.status === 'True'), 'PodScheduled=True');
      assert.ok(scheduled);
    }));

  it('keeps scheduling across an API server restart (informers resume)', () =>
    withCluster(async (c) => {
      await c.node('n1');
      await c.pod('before');
      assert.equal((await placements(c, ['before'])).get('before'), 'n1');
      await c.restartServer();
      await c.node('n2', { cpu: '4' });
      await c.pod('after', { cpu: '3' });
      assert.equal((await placements(c, ['after'])).get('after'), 'n2', 'the node added after the restart was seen');
    }));
});
