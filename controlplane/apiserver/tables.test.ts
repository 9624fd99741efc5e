import { test } from 'node:test';
import assert from 'node:assert/strict';
import { humanDuration, toTable } from './tables.js';

const NOW = new Date('2024-05-01T12:00:00Z');
/** RFC 3339 timestamp `s` seconds before NOW. */
const ago = (s: number): string => new Date(NOW.getTime() - s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

type Row = { cells: unknown[]; conditions?: unknown[]; object?: Record<string, any> };
type Table = { kind: string; apiVersion: string; metadata: Record<string, unknown>; columnDefinitions?: { name: string; priority: number; type: string; format: string; description: string }[]; rows: Row[] };

const table = (plural: string, objs: Record<string, any>[], opts: Partial<Parameters<typeof toTable>[2]> = {}): Table =>
  toTable(plural, objs, { now: NOW, ...opts }) as unknown as Table;
const cells = (plural: string, obj: Record<string, any>): unknown[] => table(plural, [obj]).rows[0].cells;
const columns = (plural: string, priority: number): string[] =>
  table(plural, []).columnDefinitions!.filter((c) => c.priority === priority).map((c) => c.name);

test('humanDuration follows apimachinery duration.HumanDuration', () => {
  const s = 1000;
  const cases: [number, string][] = [
    [0, '0s'], [-1500, '0s'], [-2500, '<invalid>'], [45 * s, '45s'], [119 * s, '119s'], [120 * s, '2m'],
    [192 * s, '3m12s'], [599 * s, '9m59s'], [600 * s, '10m'], [179 * 60 * s, '179m'], [3 * 3600 * s, '3h'],
    [(3 * 3600 + 300) * s, '3h5m'], [(7 * 3600 + 59 * 60) * s, '7h59m'], [8 * 3600 * s, '8h'], [47 * 3600 * s, '47h'],
    [48 * 3600 * s, '2d'], [51 * 3600 * s, '2d3h'], [8 * 86400 * s, '8d'], [729 * 86400 * s, '729d'],
    [730 * 86400 * s, '2y'], [(4 * 365 + 100) * 86400 * s, '4y100d'], [8 * 365 * 86400 * s, '8y'], [10 * 365 * 86400 * s, '10y'],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `humanDuration(${ms})`);
});

const pod = (extra: Record<string, any> = {}): Record<string, any> => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'default', creationTimestamp: ago(192), uid: 'u1', labels: { app: 'x' } },
  spec: { containers: [{ name: 'a', image: 'nginx' }], ...(extra.spec ?? {}) },
  ...(extra.status ? { status: extra.status } : {}),
  ...(extra.metadata ? { metadata: { name: 'p', creationTimestamp: ago(192), ...extra.metadata } } : {}),
});

test('pod columns and wide columns', () => {
  assert.deepEqual(columns('pods', 0), ['Name', 'Ready', 'Status', 'Restarts', 'Age']);
  assert.deepEqual(columns('pods', 1), ['IP', 'Node', 'Nominated Node', 'Readiness Gates']);
  assert.equal(table('pods', []).columnDefinitions![0].format, 'name');
});

test('pending pod without status shows Pending and 0/N', () => {
  const p = pod({ spec: { containers: [{ name: 'a' }, { name: 'b' }] } });
  assert.deepEqual(cells('pods', p), ['p', '0/2', 'Pending', '0', '3m12s', '<none>', '<none>', '<none>', '<none>']);
});

test('running ready pod', () => {
  const p = pod({
    spec: { nodeName: 'n1' },
    status: {
      phase: 'Running',
      podIP: '10.244.0.5',
      podIPs: [{ ip: '10.244.0.5' }],
      conditions: [{ type: 'Ready', status: 'True' }],
      containerStatuses: [{ name: 'a', ready: true, restartCount: 0, state: { running: { startedAt: ago(100) } } }],
    },
  });
  assert.deepEqual(cells('pods', p), ['p', '1/1', 'Running', '0', '3m12s', '10.244.0.5', 'n1', '<none>', '<none>']);
});

test('waiting reasons: ContainerCreating and CrashLoopBackOff with restarts ago', () => {
  const creating = pod({ status: { phase: 'Pending', containerStatuses: [{ name: 'a', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }] } });
  assert.equal(cells('pods', creating)[2], 'ContainerCreating');
  const crash = pod({
    status: {
      phase: 'Running',
      containerStatuses: [{
        name: 'a', ready: false, restartCount: 3,
        state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off' } },
        lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: ago(300) } },
      }],
    },
  });
  assert.deepEqual(cells('pods', crash).slice(1, 4), ['0/1', 'CrashLoopBackOff', '3 (5m ago)']);
});

test('terminated reasons: Completed (with row condition), Error, OOMKilled, ExitCode', () => {
  const term = (t: Record<string, unknown>, phase = 'Running') =>
    pod({ status: { phase, containerStatuses: [{ name: 'a', ready: false, restartCount: 0, state: { terminated: t } }] } });
  const done = table('pods', [term({ exitCode: 0, reason: 'Completed' }, 'Succeeded')]).rows[0];
  assert.equal(done.cells[2], 'Completed');
  assert.deepEqual(done.conditions, [{ type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.' }]);
  const failed = table('pods', [term({ exitCode: 1, reason: 'Error' }, 'Failed')]).rows[0];
  assert.equal(failed.cells[2], 'Error');
  assert.equal((failed.conditions![0] as { reason: string }).reason, 'Failed');
  assert.equal(cells('pods', term({ exitCode: 137, reason: 'OOMKilled' }))[2], 'OOMKilled');
  assert.equal(cells('pods', term({ exitCode: 2 }))[2], 'ExitCode:2');
  assert.equal(cells('pods', term({ exitCode: 0, signal: 9 }))[2], 'Signal:9');
});

test('a completed container beside a running one keeps the pod Running or NotReady', () => {
  const mk = (ready: boolean) =>
    pod({
      spec: { containers: [{ name: 'a' }, { name: 'b' }] },
      status: {
        phase: 'Running',
        conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
        containerStatuses: [
          { name: 'a', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } },
          { name: 'b', ready: true, restartCount: 0, state: { running: {} } },
        ],
      },
    });
  assert.deepEqual(cells('pods', mk(true)).slice(1, 3), ['1/2', 'Running']);
  assert.equal(cells('pods', mk(false))[2], 'NotReady');
});

test('init containers: Init:N/M, Init:<reason>, and sidecars counted as containers', () => {
  const spec = { initContainers: [{ name: 'i1' }, { name: 'i2' }] };
  const init = (second: Record<string, unknown>) =>
    pod({
      spec,
      status: {
        phase: 'Pending',
        initContainerStatuses: [
          { name: 'i1', ready: true, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } },
          { name: 'i2', ready: false, restartCount: 0, state: second },
        ],
        containerStatuses: [{ name: 'a', ready: false, restartCount: 0, state: { waiting: { reason: 'PodInitializing' } } }],
      },
    });
  assert.equal(cells('pods', init({ running: {} }))[2], 'Init:1/2');
  assert.equal(cells('pods', init({ waiting: { reason: 'ErrImagePull' } }))[2], 'Init:ErrImagePull');
  assert.equal(cells('pods', init({ waiting: { reason: 'PodInitializing' } }))[2], 'Init:1/2');
  assert.equal(cells('pods', init({ terminated: { exitCode: 1, reason: 'Error' } }))[2], 'Init:Error');
  assert.equal(cells('pods', init({ terminated: { exitCode: 3 } }))[2], 'Init:ExitCode:3');

  const sidecar = pod({
    spec: { initContainers: [{ name: 'proxy', restartPolicy: 'Always' }] },
    status: {
      phase: 'Running',
      conditions: [{ type: 'Initialized', status: 'True' }, { type: 'Ready', status: 'True' }],
      initContainerStatuses: [{ name: 'proxy', ready: true, started: true, restartCount: 1, state: { running: {} }, lastState: { terminated: { exitCode: 1, finishedAt: ago(60) } } }],
      containerStatuses: [{ name: 'a', ready: true, restartCount: 0, state: { running: {} } }],
    },
  });
  assert.deepEqual(cells('pods', sidecar).slice(1, 4), ['2/2', 'Running', '1 (60s ago)']);
});

test('terminating, node-lost and scheduling-gated pods', () => {
  const running = { phase: 'Running', containerStatuses: [{ name: 'a', ready: true, restartCount: 0, state: { running: {} } }] };
  assert.equal(cells('pods', pod({ metadata: { deletionTimestamp: ago(5) }, status: running }))[2], 'Terminating');
  assert.equal(cells('pods', pod({ metadata: { deletionTimestamp: ago(5) }, status: { ...running, reason: 'NodeLost' } }))[2], 'Unknown');
  // A finished pod being deleted keeps its final status.
  assert.equal(cells('pods', pod({ metadata: { deletionTimestamp: ago(5) }, status: { phase: 'Succeeded' } }))[2], 'Succeeded');
  const gated = pod({ status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'SchedulingGated' }] } });
  assert.equal(cells('pods', gated)[2], 'SchedulingGated');
  const gates = pod({ spec: { readinessGates: [{ conditionType: 'x/a' }, { conditionType: 'x/b' }] }, status: { phase: 'Running', conditions: [{ type: 'x/a', status: 'True' }] } });
  assert.equal(cells('pods', gates)[8], '1/2');
});

const template = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1' }, { name: 'log', image: 'busybox' }] } };

test('deployments, replicasets and daemonsets', () => {
  assert.deepEqual(columns('deployments', 0), ['Name', 'Ready', 'Up-to-date', 'Available', 'Age']);
  assert.deepEqual(columns('deployments', 1), ['Containers', 'Images', 'Selector']);
  const d = {
    metadata: { name: 'web', creationTimestamp: ago(3 * 3600) },
    spec: { replicas: 3, selector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['b', 'a'] }] }, template },
    status: { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 },
  };
  assert.deepEqual(cells('deployments', d), ['web', '2/3', 3, 2, '3h', 'web,log', 'nginx:1,busybox', 'app=web,tier in (a,b)']);
  assert.deepEqual(cells('deployments', { metadata: { name: 'new' }, spec: { template } }).slice(0, 5), ['new', '0/1', 0, 0, '<unknown>']);

  assert.deepEqual(columns('replicasets', 0), ['Name', 'Desired', 'Current', 'Ready', 'Age']);
  const rs = { metadata: { name: 'web-1', creationTimestamp: ago(50) }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template }, status: { replicas: 2, readyReplicas: 1 } };
  assert.deepEqual(cells('replicasets', rs), ['web-1', 2, 2, 1, '50s', 'web,log', 'nginx:1,busybox', 'app=web']);

  assert.deepEqual(columns('daemonsets', 0), ['Name', 'Desired', 'Current', 'Ready', 'Up-to-date', 'Available', 'Node Selector', 'Age']);
  const ds = {
    metadata: { name: 'agent', creationTimestamp: ago(2 * 86400) },
    spec: { selector: { matchLabels: { app: 'agent' } }, template: { spec: { nodeSelector: { 'kubernetes.io/os': 'linux' }, containers: [{ name: 'a', image: 'img' }] } } },
    status: { desiredNumberScheduled: 2, currentNumberScheduled: 2, numberReady: 1, updatedNumberScheduled: 2, numberAvailable: 1 },
  };
  assert.deepEqual(cells('daemonsets', ds), ['agent', 2, 2, 1, 2, 1, 'kubernetes.io/os=linux', '2d', 'a', 'img', 'app=agent']);
});

test('services: ClusterIP, NodePort, LoadBalancer, headless', () => {
  assert.deepEqual(columns('services', 0), ['Name', 'Type', 'Cluster-IP', 'External-IP', 'Port(s)', 'Age']);
  const svc = (spec: Record<string, any>, status?: Record<string, any>) => ({ metadata: { name: 's', creationTimestamp: ago(30) }, spec, ...(status ? { status } : {}) });
  assert.deepEqual(cells('services', svc({ type: 'ClusterIP', clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }], selector: { k8s: 'dns' } })),
    ['s', 'ClusterIP', '10.96.0.10', '<none>', '53/UDP,53/TCP', '30s', 'k8s=dns']);
  assert.deepEqual(cells('services', svc({ type: 'NodePort', clusterIPs: ['10.96.1.1'], ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }] })).slice(1, 5),
    ['NodePort', '10.96.1.1', '<none>', '80:30080/TCP']);
  assert.equal(cells('services', svc({ type: 'LoadBalancer', clusterIPs: ['10.96.1.2'], ports: [{ port: 80, nodePort: 31000 }] }))[3], '<pending>');
  assert.equal(cells('services', svc({ type: 'LoadBalancer', ports: [] }, { loadBalancer: { ingress: [{ ip: '192.168.56.20' }, { hostname: 'lb.example' }] } }))[3], '192.168.56.20,lb.example');
  assert.deepEqual(cells('services', svc({ clusterIP: 'None', clusterIPs: ['None'] })).slice(1, 7), ['ClusterIP', 'None', '<none>', '<none>', '30s', '<none>']);
  assert.equal(cells('services', svc({ type: 'ExternalName', externalName: 'db.example' }))[3], 'db.example');
});

test('endpoints and endpoint slices', () => {
  const addrs = (...ips: string[]) => ips.map((ip) => ({ ip }));
  const ep = { metadata: { name: 'web', creationTimestamp: ago(10) }, subsets: [{ addresses: addrs('10.244.0.5', '10.244.0.6', '10.244.1.2', '10.244.1.3'), ports: [{ port: 80 }] }] };
  assert.deepEqual(cells('endpoints', ep), ['web', '10.244.0.5:80,10.244.0.6:80,10.244.1.2:80 + 1 more...', '10s']);
  assert.equal(cells('endpoints', { metadata: { name: 'e' } })[1], '<none>');
  assert.equal(cells('endpoints', { metadata: { name: 'e' }, subsets: [{ addresses: addrs('10.0.0.1') }] })[1], '10.0.0.1');

  assert.deepEqual(columns('endpointslices', 0), ['Name', 'AddressType', 'Ports', 'Endpoints', 'Age']);
  const slice = { metadata: { name: 'web-abc', creationTimestamp: ago(10) }, addressType: 'IPv4', ports: [{ port: 80 }, { name: 'x' }], endpoints: [{ addresses: ['10.0.0.1'] }, { addresses: ['10.0.0.2'] }] };
  assert.deepEqual(cells('endpointslices', slice), ['web-abc', 'IPv4', '80,x', '10.0.0.1,10.0.0.2', '10s']);
  assert.deepEqual(cells('endpointslices', { metadata: { name: 'e' }, addressType: 'IPv4' }).slice(2, 4), ['<unset>', '<unset>']);
});

test('nodes: Ready, NotReady, Unknown, cordoned, roles and wide columns', () => {
  assert.deepEqual(columns('nodes', 0), ['Name', 'Status', 'Roles', 'Age', 'Version']);
  assert.deepEqual(columns('nodes', 1), ['Internal-IP', 'External-IP', 'OS-Image', 'Kernel-Version', 'Container-Runtime']);
  const node = (ready: string | undefined, extra: Record<string, any> = {}) => ({
    metadata: { name: 'n1', creationTimestamp: ago(5 * 86400), labels: { 'node-role.kubernetes.io/control-plane': '', 'kubernetes.io/role': 'worker', ...(extra.labels ?? {}) } },
    spec: extra.spec ?? {},
    status: {
      conditions: ready ? [{ type: 'MemoryPressure', status: 'False' }, { type: 'Ready', status: ready }] : [],
      addresses: [{ type: 'InternalIP', address: '192.168.56.10' }, { type: 'Hostname', address: 'n1' }],
      nodeInfo: { kubeletVersion: 'v1.32.0', osImage: 'Debian GNU/Linux 12 (bookworm)', kernelVersion: '6.1.0', containerRuntimeVersion: 'docker://27.0.0' },
    },
  });
  assert.deepEqual(cells('nodes', node('True')), ['n1', 'Ready', 'control-plane,worker', '5d', 'v1.32.0', '192.168.56.10', '<none>', 'Debian GNU/Linux 12 (bookworm)', '6.1.0', 'docker://27.0.0']);
  assert.equal(cells('nodes', node('False'))[1], 'NotReady');
  assert.equal(cells('nodes', node('Unknown'))[1], 'NotReady');
  assert.equal(cells('nodes', node(undefined))[1], 'Unknown');
  assert.equal(cells('nodes', node('True', { spec: { unschedulable: true } }))[1], 'Ready,SchedulingDisabled');
  assert.deepEqual(cells('nodes', { metadata: { name: 'bare' } }).slice(1, 10), ['Unknown', '<none>', '<unknown>', '', '<none>', '<none>', '<unknown>', '<unknown>', '<unknown>']);
});

test('events: core/v1 columns and cells, series and singleton counts', () => {
  assert.deepEqual(columns('events', 0), ['Last Seen', 'Type', 'Reason', 'Object', 'Message']);
  assert.deepEqual(columns('events', 1), ['Subobject', 'Source', 'First Seen', 'Count', 'Name']);
  const ev = {
    metadata: { name: 'p.17a', namespace: 'default', creationTimestamp: ago(600) },
    involvedObject: { kind: 'Pod', name: 'p', fieldPath: 'spec.containers{a}' },
    reason: 'Pulled', message: 'Successfully pulled image\n', type: 'Normal',
    source: { component: 'kubelet', host: 'n1' }, firstTimestamp: ago(600), lastTimestamp: ago(45), count: 4,
  };
  assert.deepEqual(cells('events', ev), ['45s', 'Normal', 'Pulled', 'pod/p', 'spec.containers{a}', 'kubelet, n1', 'Successfully pulled image', '10m', 4, 'p.17a']);
  const modern = { metadata: { name: 'e2' }, involvedObject: { kind: 'Node' }, eventTime: ago(90), reportingComponent: 'scheduler', type: 'Warning', reason: 'X', message: 'm' };
  assert.deepEqual(cells('events', modern).slice(0, 9), ['90s', 'Warning', 'X', 'node', '', 'scheduler', 'm', '90s', 1]);
  const series = { ...modern, series: { count: 7, lastObservedTime: ago(3) } };
  assert.deepEqual([cells('events', series)[0], cells('events', series)[8]], ['3s', 7]);
});

test('namespaces, configmaps, secrets, serviceaccounts, leases', () => {
  assert.deepEqual(cells('namespaces', { metadata: { name: 'default', creationTimestamp: ago(60) }, status: { phase: 'Active' } }), ['default', 'Active', '60s']);
  assert.equal(cells('namespaces', { metadata: { name: 'x', deletionTimestamp: ago(1) } })[1], 'Terminating');
  assert.deepEqual(cells('configmaps', { metadata: { name: 'c', creationTimestamp: ago(60) }, data: { a: '1', b: '2' }, binaryData: { c: 'AA==' } }), ['c', 3, '60s']);
  assert.deepEqual(cells('secrets', { metadata: { name: 's', creationTimestamp: ago(60) }, type: 'kubernetes.io/tls', data: { 'tls.crt': 'x', 'tls.key': 'y' } }), ['s', 'kubernetes.io/tls', 2, '60s']);
  assert.deepEqual(cells('secrets', { metadata: { name: 's' } }).slice(1, 3), ['Opaque', 0]);
  assert.deepEqual(cells('serviceaccounts', { metadata: { name: 'default', creationTimestamp: ago(60) } }), ['default', 0, '60s']);
  assert.deepEqual(cells('leases', { metadata: { name: 'n1', creationTimestamp: ago(60) }, spec: { holderIdentity: 'n1' } }), ['n1', 'n1', '60s']);
  assert.deepEqual(columns('secrets', 0), ['Name', 'Type', 'Data', 'Age']);
  assert.deepEqual(columns('leases', 0), ['Name', 'Holder', 'Age']);
});

test('resources without a printer get the NAME / AGE default table', () => {
  const t = table('widgets', [{ metadata: { name: 'w', creationTimestamp: ago(7200) } }]);
  assert.deepEqual(t.columnDefinitions!.map((c) => [c.name, c.type]), [['Name', 'string'], ['Age', 'date']]);
  assert.deepEqual(t.rows[0].cells, ['w', '120m']);
});

test('table envelope: metadata, includeObject variants, withColumns', () => {
  const p = pod();
  const t = table('pods', [p], { resourceVersion: '123', continue: 'tok', remainingItemCount: 5 });
  assert.equal(t.kind, 'Table');
  assert.equal(t.apiVersion, 'meta.k8s.io/v1');
  assert.deepEqual(t.metadata, { resourceVersion: '123', continue: 'tok', remainingItemCount: 5 });
  assert.deepEqual(t.rows[0].object, { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: p.metadata });
  assert.deepEqual(table('pods', [p], { resourceVersion: '1' }).metadata, { resourceVersion: '1' });
  assert.deepEqual(table('pods', [p], { includeObject: 'Object' }).rows[0].object, p);
  assert.ok(!('object' in table('pods', [p], { includeObject: 'None' }).rows[0]));
  const watchEvent = table('pods', [p], { withColumns: false });
  assert.ok(!('columnDefinitions' in watchEvent));
  assert.equal(watchEvent.rows.length, 1);
  assert.deepEqual(table('pods', []).rows, []);
  for (const c of table('pods', []).columnDefinitions!) assert.deepEqual(Object.keys(c).sort(), ['description', 'format', 'name', 'priority', 'type']);
});
