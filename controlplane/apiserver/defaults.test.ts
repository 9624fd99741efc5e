import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addDefaultTolerations, applyDefaults, defaultPullPolicy } from './defaults.js';
import { podQOSClass } from '../../common/qos.js';

type Obj = Record<string, any>;
const defaulted = (kind: string, o: Obj): Obj => {
  applyDefaults(kind, o);
  return o;
};

const DEFAULT_TOLERATIONS = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
];

test('a minimal Pod defaults to what kube-apiserver stores (kubectl run nginx --image=nginx)', () => {
  const pod: Obj = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'nginx', namespace: 'default', labels: { run: 'nginx' } }, spec: { containers: [{ name: 'nginx', image: 'nginx' }] } };
  addDefaultTolerations(pod);
  applyDefaults('Pod', pod);
  assert.deepEqual(pod, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'nginx', namespace: 'default', labels: { run: 'nginx' } },
    spec: {
      containers: [{
        name: 'nginx', image: 'nginx', imagePullPolicy: 'Always', resources: {},
        terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File',
      }],
      dnsPolicy: 'ClusterFirst',
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
      priority: 0,
      restartPolicy: 'Always',
      schedulerName: 'default-scheduler',
      securityContext: {},
      serviceAccount: 'default',
      serviceAccountName: 'default',
      terminationGracePeriodSeconds: 30,
      tolerations: DEFAULT_TOLERATIONS,
    },
    status: { phase: 'Pending', qosClass: 'BestEffort' },
  });
  // Idempotent: a second pass (as on every update) changes nothing.
  const again = structuredClone(pod);
  applyDefaults('Pod', again);
  addDefaultTolerations(again);
  assert.deepEqual(again, pod);
});

test('a minimal Deployment defaults to what kube-apiserver stores (kubectl create deployment)', () => {
  const d = defaulted('Deployment', {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default', labels: { app: 'web' } },
    spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.27' }] } } },
  });
  assert.deepEqual(d, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', labels: { app: 'web' } },
    spec: {
      progressDeadlineSeconds: 600,
      replicas: 1,
      revisionHistoryLimit: 10,
      selector: { matchLabels: { app: 'web' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [{
            name: 'nginx', image: 'nginx:1.27', imagePullPolicy: 'IfNotPresent', resources: {},
            terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File',
          }],
          dnsPolicy: 'ClusterFirst',
          restartPolicy: 'Always',
          schedulerName: 'default-scheduler',
          securityContext: {},
          terminationGracePeriodSeconds: 30,
        },
      },
    },
  });
});

test('Pods copy limits into missing requests and canonicalize quantities; templates do not copy', () => {
  const containers = [{ name: 'c', image: 'busybox', resources: { limits: { cpu: 1, memory: '1024Mi' }, requests: { cpu: '500m' } } }];
  const pod = defaulted('Pod', { metadata: { name: 'p' }, spec: { containers: structuredClone(containers) } });
  assert.deepEqual(pod.spec.containers[0].resources, { limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '500m', memory: '1Gi' } });
  assert.equal(pod.status.qosClass, 'Burstable');
  const rs = defaulted('ReplicaSet', { spec: { template: { spec: { containers: structuredClone(containers) } } } });
  assert.equal(rs.spec.replicas, 1);
  assert.deepEqual(rs.spec.template.spec.containers[0].resources, { limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '500m' } });
  assert.equal(rs.spec.template.spec.serviceAccountName, undefined);
  assert.equal(rs.spec.template.spec.enableServiceLinks, undefined);
  const sub = defaulted('Pod', { spec: { containers: [{ name: 'c', image: 'x', resources: { requests: { cpu: '0.0001' } } }] } });
  assert.equal(sub.spec.containers[0].resources.requests.cpu, '1m', 'rounded up to milli precision');
});

test('QoS classes follow qos.ComputePodQOS', () => {
  const pod = (...resources: Obj[]): Obj => ({ spec: { containers: resources.map((r, i) => ({ name: `c${i}`, resources: r })) } });
  assert.equal(podQOSClass(pod({})), 'BestEffort');
  assert.equal(podQOSClass(pod({ requests: { cpu: '0' } })), 'BestEffort');
  assert.equal(podQOSClass(pod({ requests: { 'nvidia.com/gpu': '1' } })), 'BestEffort');
  assert.equal(podQOSClass(pod({ limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '1', memory: '1Gi' } })), 'Guaranteed');
  assert.equal(podQOSClass(pod({ limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '1000m', memory: '1024Mi' } })), 'Guaranteed');
  assert.equal(podQOSClass(pod({ limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '500m', memory: '1Gi' } })), 'Burstable');
  assert.equal(podQOSClass(pod({ limits: { cpu: '1' }, requests: { cpu: '1' } })), 'Burstable');
  assert.equal(podQOSClass(pod({ limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '1', memory: '1Gi' } }, {})), 'Burstable');
  const withInit = pod({ limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '1', memory: '1Gi' } });
  withInit.spec.initContainers = [{ name: 'init', resources: { requests: { memory: '10Mi' } } }];
  assert.equal(podQOSClass(withInit), 'Burstable');
});

test('image pull policy: Always for latest or untagged images, IfNotPresent otherwise', () => {
  assert.equal(defaultPullPolicy('nginx'), 'Always');
  assert.equal(defaultPullPolicy('nginx:latest'), 'Always');
  assert.equal(defaultPullPolicy('registry.local:5000/team/app'), 'Always');
  assert.equal(defaultPullPolicy('nginx:1.27'), 'IfNotPresent');
  assert.equal(defaultPullPolicy('registry.local:5000/app:v2'), 'IfNotPresent');
  assert.equal(defaultPullPolicy('nginx@sha256:0123456789abcdef'), 'IfNotPresent');
  assert.equal(defaultPullPolicy('nginx:latest@sha256:0123456789abcdef'), 'Always');
  assert.equal(defaultPullPolicy(undefined), 'IfNotPresent');
});

test('container, probe, env and volume defaults', () => {
  const pod = defaulted('Pod', {
    spec: {
      hostNetwork: true,
      containers: [{
        name: 'app', image: 'app:1', imagePullPolicy: 'Never',
        ports: [{ containerPort: 8080 }, { containerPort: 53, protocol: 'UDP', hostPort: 5353 }],
        livenessProbe: { httpGet: { port: 8080 } },
        readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 5, timeoutSeconds: 0 },
        lifecycle: { preStop: { httpGet: { port: 80, path: '/stop' } } },
        env: [{ name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
      }],
      volumes: [
        { name: 'scratch' },
        { name: 'cfg', configMap: { name: 'cfg' } },
        { name: 'creds', secret: { secretName: 's', defaultMode: 256 } },
        { name: 'host', hostPath: { path: '/var/log' } },
        { name: 'tmp', emptyDir: { sizeLimit: '1024Mi' } },
      ],
    },
  });
  const c = pod.spec.containers[0];
  assert.equal(c.imagePullPolicy, 'Never');
  assert.deepEqual(c.ports, [{ containerPort: 8080, protocol: 'TCP', hostPort: 8080 }, { containerPort: 53, protocol: 'UDP', hostPort: 5353 }]);
  assert.deepEqual(c.livenessProbe, { httpGet: { port: 8080, path: '/', scheme: 'HTTP' }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 });
  assert.deepEqual(c.readinessProbe, { tcpSocket: { port: 8080 }, periodSeconds: 5, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 });
  assert.deepEqual(c.lifecycle.preStop.httpGet, { port: 80, path: '/stop', scheme: 'HTTP' });
  assert.deepEqual(c.env[0].valueFrom.fieldRef, { fieldPath: 'spec.nodeName', apiVersion: 'v1' });
  assert.deepEqual(pod.spec.volumes, [
    { name: 'scratch', emptyDir: {} },
    { name: 'cfg', configMap: { name: 'cfg', defaultMode: 420 } },
    { name: 'creds', secret: { secretName: 's', defaultMode: 256 } },
    { name: 'host', hostPath: { path: '/var/log', type: '' } },
    { name: 'tmp', emptyDir: { sizeLimit: '1Gi' } },
  ]);
});

test('default tolerations are added once and respect existing ones', () => {
  const p1: Obj = { spec: { tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 10 }] } };
  addDefaultTolerations(p1);
  assert.deepEqual(p1.spec.tolerations, [
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 10 },
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  ]);
  const everything: Obj = { spec: { tolerations: [{ operator: 'Exists' }] } };
  addDefaultTolerations(everything);
  assert.deepEqual(everything.spec.tolerations, [{ operator: 'Exists' }]);
  const noSchedule: Obj = { spec: { tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoSchedule' }] } };
  addDefaultTolerations(noSchedule, 60);
  assert.equal(noSchedule.spec.tolerations.length, 3);
  assert.equal(noSchedule.spec.tolerations[2].tolerationSeconds, 60);
});

test('Pod admission-like defaults: service account mirror, built-in priorities, status kept when present', () => {
  const pod = defaulted('Pod', { spec: { serviceAccount: 'builder', priorityClassName: 'system-node-critical', containers: [] }, status: { phase: 'Running' } });
  assert.equal(pod.spec.serviceAccountName, 'builder');
  assert.equal(pod.spec.serviceAccount, 'builder');
  assert.equal(pod.spec.priority, 2000001000);
  assert.deepEqual(pod.status, { phase: 'Running' });
  const custom = defaulted('Pod', { spec: { priorityClassName: 'high', containers: [] } });
  assert.equal(custom.spec.priority, undefined);
});

test('Service defaults', () => {
  const svc = defaulted('Service', { spec: { selector: { app: 'web' }, ports: [{ port: 80 }, { port: 443, targetPort: 'https', name: 'https' }] } });
  assert.deepEqual(svc.spec, {
    selector: { app: 'web' },
    ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }, { port: 443, targetPort: 'https', name: 'https', protocol: 'TCP' }],
    type: 'ClusterIP',
    sessionAffinity: 'None',
    internalTrafficPolicy: 'Cluster',
    ipFamilyPolicy: 'SingleStack',
    ipFamilies: ['IPv4'],
  });
  const sticky = defaulted('Service', { spec: { type: 'NodePort', sessionAffinity: 'ClientIP', ports: [{ port: 80 }] } });
  assert.deepEqual(sticky.spec.sessionAffinityConfig, { clientIP: { timeoutSeconds: 10800 } });
  assert.equal(sticky.spec.externalTrafficPolicy, 'Cluster');
  const lb = defaulted('Service', { spec: { type: 'LoadBalancer', ports: [{ port: 80 }] } });
  assert.equal(lb.spec.allocateLoadBalancerNodePorts, true);
  const headless = defaulted('Service', { spec: { clusterIP: 'None', selector: { app: 'db' } } });
  assert.deepEqual([headless.spec.clusterIPs, headless.spec.ipFamilyPolicy, headless.spec.ipFamilies], [['None'], 'SingleStack', ['IPv4']]);
  const bare = defaulted('Service', { spec: { clusterIP: 'None' } });
  assert.deepEqual([bare.spec.ipFamilyPolicy, bare.spec.ipFamilies], ['RequireDualStack', ['IPv4', 'IPv6']]);
  const ext = defaulted('Service', { spec: { type: 'ExternalName', externalName: 'example.com' } });
  assert.deepEqual(ext.spec, { type: 'ExternalName', externalName: 'example.com', sessionAffinity: 'None' });
  const fixed = defaulted('Service', { spec: { clusterIPs: ['10.96.0.20'], ports: [{ port: 53, protocol: 'UDP' }] } });
  assert.equal(fixed.spec.clusterIP, '10.96.0.20');
});

test('DaemonSet, Secret, Namespace, Node, Event and EndpointSlice defaults', () => {
  const ds = defaulted('DaemonSet', { spec: { template: { spec: { containers: [{ name: 'c', image: 'x:1' }] } } } });
  assert.deepEqual(ds.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
  assert.equal(ds.spec.revisionHistoryLimit, 10);
  assert.equal(ds.spec.template.spec.restartPolicy, 'Always');
  const onDelete = defaulted('DaemonSet', { spec: { updateStrategy: { type: 'OnDelete' } } });
  assert.deepEqual(onDelete.spec.updateStrategy, { type: 'OnDelete' });
  const secret = defaulted('Secret', { data: { a: 'YQ==' }, stringData: { b: 'héllo' } });
  assert.deepEqual(secret, { type: 'Opaque', data: { a: 'YQ==', b: Buffer.from('héllo').toString('base64') } });
  const ns = defaulted('Namespace', { metadata: { name: 'team-a' } });
  assert.deepEqual(ns, { metadata: { name: 'team-a', labels: { 'kubernetes.io/metadata.name': 'team-a' } }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
  const node = defaulted('Node', { metadata: { name: 'n1' }, status: { capacity: { cpu: 2, memory: '2048Mi', pods: '110' } } });
  assert.deepEqual(node.status, { capacity: { cpu: '2', memory: '2Gi', pods: '110' }, allocatable: { cpu: '2', memory: '2Gi', pods: '110' } });
  assert.deepEqual(defaulted('Event', { reason: 'Started' }), { reason: 'Started', count: 1, type: 'Normal' });
  assert.deepEqual(defaulted('Event', { count: 4, type: 'Warning' }), { count: 4, type: 'Warning' });
  const slice = defaulted('EndpointSlice', { addressType: 'IPv4', ports: [{ port: 80 }, { name: 'dns', port: 53, protocol: 'UDP' }] });
  assert.deepEqual(slice.ports, [{ port: 80, name: '', protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }]);
  const eps = defaulted('Endpoints', { subsets: [{ addresses: [{ ip: '10.244.0.5' }], ports: [{ port: 80 }] }] });
  assert.equal(eps.subsets[0].ports[0].protocol, 'TCP');
  const cm: Obj = { data: { a: 'b' } };
  applyDefaults('ConfigMap', cm);
  assert.deepEqual(cm, { data: { a: 'b' } });
});
