import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addDefaultTolerations, applyDefaults } from '../defaults.js';
import { validateCreate, validateUpdate } from './index.js';

type Obj = Record<string, any>;

/** A defaulted Pod built from a spec fragment, as the registry would validate it. */
function pod(spec: Obj, meta: Obj = {}): Obj {
  const p: Obj = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default', ...meta }, spec };
  addDefaultTolerations(p);
  applyDefaults('Pod', p);
  return p;
}
const one = (c: Obj, extra: Obj = {}): Obj => pod({ containers: [{ name: 'app', image: 'nginx:1.27', ...c }], ...extra });
const errs = (p: Obj): [string, string, string][] => validateCreate('Pod', p).map((e) => [e.field, e.reason, e.message]);

test('valid Pods produce no errors', () => {
  assert.deepEqual(errs(one({})), []);
  const rich = pod({
    initContainers: [{ name: 'init', image: 'busybox', command: ['sh', '-c', 'true'] }, { name: 'sidecar', image: 'envoy:1', restartPolicy: 'Always', readinessProbe: { tcpSocket: { port: 9901 } } }],
    containers: [{
      name: 'app', image: 'registry.local:5000/app:v1',
      ports: [{ name: 'http', containerPort: 8080 }, { name: 'metrics', containerPort: 9090, protocol: 'TCP' }],
      env: [{ name: 'MODE', value: 'prod' }, { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }, { name: 'app.config', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'k' } } }],
      resources: { requests: { cpu: '250m', memory: '64Mi' }, limits: { cpu: '1', memory: '128Mi', 'example.com/widget': '2' } },
      livenessProbe: { httpGet: { path: '/healthz', port: 'http' } },
      startupProbe: { exec: { command: ['true'] }, failureThreshold: 30 },
      volumeMounts: [{ name: 'cfg', mountPath: '/etc/app' }, { name: 'scratch', mountPath: '/tmp' }],
    }],
    volumes: [{ name: 'cfg', configMap: { name: 'cfg' } }, { name: 'scratch' }],
    nodeSelector: { 'kubernetes.io/os': 'linux' },
    tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'web', effect: 'NoSchedule' }],
    restartPolicy: 'OnFailure',
    activeDeadlineSeconds: 600,
  });
  assert.deepEqual(errs(rich), []);
});

test('containers: at least one, unique DNS-1123 names across init containers, image required', () => {
  assert.deepEqual(errs(pod({ containers: [] })), [['spec.containers', 'FieldValueRequired', 'Required value']]);
  assert.deepEqual(errs(pod({ containers: [{ name: 'a', image: 'x' }, { name: 'a', image: 'x' }] })), [['spec.containers[1].name', 'FieldValueDuplicate', 'Duplicate value: "a"']]);
  assert.deepEqual(errs(pod({ containers: [{ name: 'a', image: 'x' }], initContainers: [{ name: 'a', image: 'x' }] })), [['spec.initContainers[0].name', 'FieldValueDuplicate', 'Duplicate value: "a"']]);
  const bad = errs(one({ name: 'App_1' }));
  assert.equal(bad.length, 1);
  assert.deepEqual(bad[0].slice(0, 2), ['spec.containers[0].name', 'FieldValueInvalid']);
  assert.match(bad[0][2], /^Invalid value: "App_1": a lowercase RFC 1123 label must consist of/);
  assert.deepEqual(errs(pod({ containers: [{ name: 'app' }] })), [['spec.containers[0].image', 'FieldValueRequired', 'Required value']]);
  assert.deepEqual(errs(one({ image: ' nginx' })), [['spec.containers[0].image', 'FieldValueInvalid', 'Invalid value: " nginx": must not have leading or trailing whitespace']]);
});

test('ports: range, protocol enum, IANA names, host port conflicts', () => {
  assert.deepEqual(errs(one({ ports: [{ containerPort: 70000 }] })), [['spec.containers[0].ports[0].containerPort', 'FieldValueInvalid', 'Invalid value: 70000: must be between 1 and 65535, inclusive']]);
  assert.deepEqual(errs(one({ ports: [{ containerPort: 0 }] })), [['spec.containers[0].ports[0].containerPort', 'FieldValueRequired', 'Required value']]);
  assert.deepEqual(errs(one({ ports: [{ containerPort: 80, protocol: 'HTTP' }] })), [
    ['spec.containers[0].ports[0].protocol', 'FieldValueNotSupported', 'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"'],
  ]);
  assert.deepEqual(errs(one({ ports: [{ name: 'way-too-long-name', containerPort: 80 }] })), [['spec.containers[0].ports[0].name', 'FieldValueInvalid', 'Invalid value: "way-too-long-name": must be no more than 15 characters']]);
  assert.deepEqual(errs(one({ ports: [{ name: 'web', containerPort: 80 }, { name: 'web', containerPort: 81 }] })), [['spec.containers[0].ports[1].name', 'FieldValueDuplicate', 'Duplicate value: "web"']]);
  assert.deepEqual(errs(one({ ports: [{ containerPort: 80, hostPort: 8080 }, { containerPort: 81, hostPort: 8080 }] })), [['spec.containers[0].ports[1].hostPort', 'FieldValueDuplicate', 'Duplicate value: "TCP//8080"']]);
  assert.deepEqual(errs(one({ ports: [{ containerPort: 80, hostPort: 8080 }] }, { hostNetwork: true })), [
    ['spec.containers[0].ports[0].hostPort', 'FieldValueInvalid', 'Invalid value: 8080: must match `containerPort` when `hostNetwork` is true'],
  ]);
  assert.deepEqual(errs(one({ ports: [{ containerPort: '80' }] })), [['spec.containers[0].ports[0].containerPort', 'FieldValueTypeInvalid', 'Invalid value: "80": must be of type integer']]);
});

test('resources: valid quantities, requests <= limits, known resource names', () => {
  assert.deepEqual(errs(one({ resources: { limits: { cpu: '1' }, requests: { cpu: '2' } } })), [
    ['spec.containers[0].resources.requests', 'FieldValueInvalid', 'Invalid value: "2": must be less than or equal to cpu limit of 1'],
  ]);
  assert.deepEqual(errs(one({ resources: { limits: { memory: 'lots' } } })), [
    ['spec.containers[0].resources.limits[memory]', 'FieldValueInvalid', `Invalid value: "lots": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`],
    ['spec.containers[0].resources.requests[memory]', 'FieldValueInvalid', `Invalid value: "lots": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`],
  ]);
  assert.deepEqual(errs(one({ resources: { requests: { cpu: '-1' } } })), [['spec.containers[0].resources.requests[cpu]', 'FieldValueInvalid', 'Invalid value: "-1": must be greater than or equal to 0']]);
  assert.deepEqual(errs(one({ resources: { requests: { gpu: '1' } } })), [
    ['spec.containers[0].resources.requests[gpu]', 'FieldValueInvalid', 'Invalid value: "gpu": must be a standard resource type or fully qualified'],
    ['spec.containers[0].resources.requests[gpu]', 'FieldValueInvalid', 'Invalid value: "gpu": must be a standard resource for containers'],
  ]);
  assert.deepEqual(errs(one({ resources: { requests: { 'nvidia.com/gpu': '1' } } })), [['spec.containers[0].resources.limits', 'FieldValueRequired', 'Required value: Limit must be set for non overcommitable resources']]);
  assert.deepEqual(errs(one({ resources: { limits: { 'nvidia.com/gpu': '2' }, requests: { 'nvidia.com/gpu': '1' } } })), [
    ['spec.containers[0].resources.requests', 'FieldValueInvalid', 'Invalid value: "1": must be equal to nvidia.com/gpu limit of 2'],
  ]);
  assert.deepEqual(errs(one({ resources: { limits: { 'nvidia.com/gpu': '500m' } } })).map((e) => e[2]), ['Invalid value: "500m": must be an integer', 'Invalid value: "500m": must be an integer']);
});

test('restartPolicy and dnsPolicy enums, terminationGracePeriodSeconds required', () => {
  assert.deepEqual(errs(one({}, { restartPolicy: 'Sometimes' })), [['spec.restartPolicy', 'FieldValueNotSupported', 'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"']]);
  assert.deepEqual(errs(one({}, { dnsPolicy: 'Google' })), [
    ['spec.dnsPolicy', 'FieldValueNotSupported', 'Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"'],
  ]);
  assert.deepEqual(errs(one({}, { dnsPolicy: 'None' })), [['spec.dnsConfig', 'FieldValueRequired', 'Required value: must provide `dnsConfig` when `dnsPolicy` is None']]);
  const raw: Obj = { metadata: { name: 'raw', namespace: 'default' }, spec: { containers: [{ name: 'a', image: 'x', imagePullPolicy: 'IfNotPresent', terminationMessagePolicy: 'File' }], restartPolicy: 'Always', dnsPolicy: 'ClusterFirst' } };
  assert.deepEqual(errs(raw), [['spec.terminationGracePeriodSeconds', 'FieldValueRequired', 'Required value']]);
  assert.deepEqual(errs(one({}, { activeDeadlineSeconds: 0 })), [['spec.activeDeadlineSeconds', 'FieldValueInvalid', 'Invalid value: 0: must be between 1 and 2147483647, inclusive']]);
  assert.deepEqual(errs(one({ imagePullPolicy: 'Sometimes' })), [['spec.containers[0].imagePullPolicy', 'FieldValueNotSupported', 'Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"']]);
});

test('volumes: unique names, one source, mounts must name a volume', () => {
  assert.deepEqual(errs(one({}, { volumes: [{ name: 'v' }, { name: 'v' }] })), [['spec.volumes[1].name', 'FieldValueDuplicate', 'Duplicate value: "v"']]);
  assert.deepEqual(errs(one({}, { volumes: [{ name: 'v', emptyDir: {}, configMap: { name: 'c' } }] })), [['spec.volumes[0].configMap', 'FieldValueForbidden', 'Forbidden: may not specify more than 1 volume type']]);
  assert.deepEqual(errs(one({}, { volumes: [{ name: 'Vol' }] })).map((e) => e[0]), ['spec.volumes[0].name']);
  assert.deepEqual(errs(one({}, { volumes: [{ name: 'h', hostPath: {} }] })), [['spec.volumes[0].hostPath.path', 'FieldValueRequired', 'Required value']]);
  assert.deepEqual(errs(one({ volumeMounts: [{ name: 'missing', mountPath: '/data' }] })), [['spec.containers[0].volumeMounts[0].name', 'FieldValueNotFound', 'Not found: "missing"']]);
  assert.deepEqual(errs(one({ volumeMounts: [{ name: 'v', mountPath: '/d' }, { name: 'v', mountPath: '/d' }] }, { volumes: [{ name: 'v' }] })), [
    ['spec.containers[0].volumeMounts[1].mountPath', 'FieldValueInvalid', 'Invalid value: "/d": must be unique'],
  ]);
  assert.deepEqual(errs(one({ volumeMounts: [{ name: 'v' }] }, { volumes: [{ name: 'v' }] })), [['spec.containers[0].volumeMounts[0].mountPath', 'FieldValueRequired', 'Required value']]);
});

test('probes need exactly one handler; env names and sources', () => {
  assert.deepEqual(errs(one({ livenessProbe: { initialDelaySeconds: 5 } })), [['spec.containers[0].livenessProbe', 'FieldValueRequired', 'Required value: must specify a handler type']]);
  assert.deepEqual(errs(one({ readinessProbe: { exec: { command: ['true'] }, tcpSocket: { port: 80 } } })), [
    ['spec.containers[0].readinessProbe.tcpSocket', 'FieldValueForbidden', 'Forbidden: may not specify more than 1 handler type'],
  ]);
  assert.deepEqual(errs(one({ livenessProbe: { tcpSocket: { port: 80 }, successThreshold: 2 } })), [['spec.containers[0].livenessProbe.successThreshold', 'FieldValueInvalid', 'Invalid value: 2: must be 1']]);
  assert.deepEqual(errs(one({ livenessProbe: { httpGet: { port: 0 } } })), [['spec.containers[0].livenessProbe.httpGet.port', 'FieldValueInvalid', 'Invalid value: 0: must be between 1 and 65535, inclusive']]);
  assert.deepEqual(errs(one({ livenessProbe: { exec: { command: ['x'] }, periodSeconds: -1 } })), [['spec.containers[0].livenessProbe.periodSeconds', 'FieldValueInvalid', 'Invalid value: -1: must be greater than or equal to 0']]);
  assert.deepEqual(errs(one({ env: [{ value: 'x' }] })), [['spec.containers[0].env[0].name', 'FieldValueRequired', 'Required value']]);
  assert.deepEqual(errs(one({ env: [{ name: 'A=B' }] })), [['spec.containers[0].env[0].name', 'FieldValueInvalid', `Invalid value: "A=B": a valid environment variable name must consist only of printable ASCII characters other than '='`]]);
  assert.deepEqual(errs(one({ env: [{ name: 'A', value: 'x', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] })), [
    ['spec.containers[0].env[0].valueFrom', 'FieldValueInvalid', 'Invalid value: "": may not be specified when `value` is not empty'],
  ]);
  assert.deepEqual(errs(one({ env: [{ name: 'A', valueFrom: { fieldRef: { fieldPath: 'spec.bogus' } } }] })).map((e) => [e[0], e[1]]), [['spec.containers[0].env[0].valueFrom.fieldRef.fieldPath', 'FieldValueNotSupported']]);
});

test('init containers: only Always as restartPolicy, probes only for sidecars; tolerations', () => {
  const init = (c: Obj): Obj => pod({ containers: [{ name: 'app', image: 'x' }], initContainers: [{ name: 'init', image: 'x', ...c }] });
  assert.deepEqual(errs(init({ restartPolicy: 'Never' })), [['spec.initContainers[0].restartPolicy', 'FieldValueNotSupported', 'Unsupported value: "Never": supported values: "Always"']]);
  assert.deepEqual(errs(init({ readinessProbe: { exec: { command: ['x'] } } })), [
    ['spec.initContainers[0].readinessProbe', 'FieldValueForbidden', 'Forbidden: may not be set for init containers without restartPolicy=Always'],
  ]);
  assert.deepEqual(errs(one({ restartPolicy: 'Always' })), [['spec.containers[0].restartPolicy', 'FieldValueForbidden', 'Forbidden: may not be set for non-init containers']]);
  assert.deepEqual(errs(one({}, { tolerations: [{ key: 'k', operator: 'Maybe' }] })), [['spec.tolerations[0].operator', 'FieldValueNotSupported', 'Unsupported value: "Maybe": supported values: "Equal", "Exists"']]);
  assert.deepEqual(errs(one({}, { tolerations: [{ key: 'k', operator: 'Exists', effect: 'NoSchedule', tolerationSeconds: 5 }] })), [
    ['spec.tolerations[0].effect', 'FieldValueInvalid', `Invalid value: "NoSchedule": effect must be 'NoExecute' when \`tolerationSeconds\` is set`],
  ]);
});

test('Pod updates: only images, activeDeadlineSeconds and added tolerations may change', () => {
  const old = one({ ports: [{ containerPort: 80 }] });
  const next = (f: (p: Obj) => void): Obj => {
    const p = structuredClone(old);
    f(p);
    return p;
  };
  const upd = (p: Obj): [string, string, string][] => validateUpdate('Pod', p, old).map((e) => [e.field, e.reason, e.message]);
  assert.deepEqual(upd(next((p) => (p.spec.containers[0].image = 'nginx:1.28'))), []);
  assert.deepEqual(upd(next((p) => (p.metadata.labels = { tier: 'web' }))), []);
  assert.deepEqual(upd(next((p) => (p.spec.activeDeadlineSeconds = 30))), []);
  assert.deepEqual(upd(next((p) => p.spec.tolerations.push({ key: 'extra', operator: 'Exists', effect: 'NoSchedule' }))), []);
  assert.deepEqual(upd(next((p) => (p.spec.tolerations[0].tolerationSeconds = 30))), []);
  const ports = upd(next((p) => (p.spec.containers[0].ports[0].containerPort = 8080)));
  assert.equal(ports.length, 1);
  assert.deepEqual(ports[0].slice(0, 2), ['spec', 'FieldValueForbidden']);
  assert.equal(ports[0][2], [
    'Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
    '  core.PodSpec{',
    '-   containers[0].ports[0].containerPort: 80',
    '+   containers[0].ports[0].containerPort: 8080',
    '  }',
  ].join('\n'));
  assert.deepEqual(upd(next((p) => p.spec.containers.push({ ...structuredClone(p.spec.containers[0]), name: 'two' }))), [
    ['spec.containers', 'FieldValueForbidden', 'Forbidden: pod updates may not add or remove containers'],
  ]);
  assert.deepEqual(upd(next((p) => (p.spec.tolerations[0].key = 'example.com/other'))), [
    ['spec.tolerations', 'FieldValueForbidden', 'Forbidden: existing toleration can not be modified except its tolerationSeconds'],
  ]);
  const withDeadline = structuredClone(old);
  withDeadline.spec.activeDeadlineSeconds = 30;
  const later = structuredClone(withDeadline);
  later.spec.activeDeadlineSeconds = 60;
  assert.deepEqual(validateUpdate('Pod', later, withDeadline).map((e) => e.message), ['Invalid value: 60: must be less than or equal to previous value']);
  const cleared = structuredClone(withDeadline);
  delete cleared.spec.activeDeadlineSeconds;
  assert.deepEqual(validateUpdate('Pod', cleared, withDeadline).map((e) => e.message), ['Invalid value: null: must not update from a positive integer to nil value']);
  assert.deepEqual(upd(next((p) => (p.metadata.name = 'other'))).map((e) => e[0]), ['metadata.name']);
  // An object stored before a default existed compares as if defaulted, as reads are in Kubernetes.
  const legacy = structuredClone(old);
  delete legacy.spec.enableServiceLinks;
  delete legacy.spec.containers[0].terminationMessagePolicy;
  assert.deepEqual(validateUpdate('Pod', old, legacy), []);
});
