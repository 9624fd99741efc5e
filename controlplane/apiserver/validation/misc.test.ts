import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDefaults } from '../defaults.js';
import { isConfigMapKey } from './misc.js';
import { validateCreate, validateUpdate } from './index.js';

type Obj = Record<string, any>;
/** A defaulted object; `namespace` only for namespaced kinds. */
function make(kind: string, body: Obj, namespace?: string): Obj {
  const o: Obj = { kind, ...body };
  o.metadata = { name: 'x', ...(namespace ? { namespace } : {}), ...body.metadata };
  applyDefaults(kind, o);
  return o;
}
const errs = (o: Obj): [string, string, string][] => validateCreate(o.kind, o).map((e) => [e.field, e.reason, e.message]);
const b64 = (s: string): string => Buffer.from(s).toString('base64');

test('ConfigMap: keys, total size, binaryData, immutability', () => {
  assert.deepEqual(errs(make('ConfigMap', { data: { 'app.properties': 'a=b', KEY_1: 'x' }, binaryData: { blob: b64('\u0000\u0001') } }, 'default')), []);
  assert.deepEqual(errs(make('ConfigMap', { data: { 'bad/key': 'x' } }, 'default')), [
    ['data[bad/key]', 'FieldValueInvalid', `Invalid value: "bad/key": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`],
  ]);
  assert.deepEqual(isConfigMapKey('..x'), ["must not start with '..'"]);
  assert.deepEqual(errs(make('ConfigMap', { data: { a: 'x' }, binaryData: { a: b64('y') } }, 'default')), [['data[a]', 'FieldValueInvalid', 'Invalid value: "a": duplicate of key present in binaryData']]);
  assert.deepEqual(errs(make('ConfigMap', { data: { a: 'x'.repeat(1024 * 1024 + 1) } }, 'default')), [['', 'FieldValueTooLong', 'Too long: may not be more than 1048576 bytes']]);
  const old = make('ConfigMap', { immutable: true, data: { a: 'x' } }, 'default');
  const edited = structuredClone(old);
  edited.data.a = 'y';
  edited.immutable = false;
  assert.deepEqual(validateUpdate('ConfigMap', edited, old).map((e) => [e.field, e.message]), [
    ['immutable', 'Forbidden: field is immutable when `immutable` is set'],
    ['data', 'Forbidden: field is immutable when `immutable` is set'],
  ]);
  const relabeled = structuredClone(old);
  relabeled.metadata.labels = { a: 'b' };
  assert.deepEqual(validateUpdate('ConfigMap', relabeled, old), []);
});

test('Secret: base64 values, size, typed secrets, immutable type', () => {
  assert.deepEqual(errs(make('Secret', { data: { password: b64('hunter2') }, stringData: { user: 'admin' } }, 'default')), []);
  assert.deepEqual(errs(make('Secret', { data: { password: 'not base64!' } }, 'default')), [
    ['data[password]', 'FieldValueInvalid', 'Invalid value: "<secret contents redacted>": illegal base64 data at input byte 3'],
  ]);
  assert.deepEqual(errs(make('Secret', { data: { big: b64('x'.repeat(1024 * 1024 + 1)) } }, 'default')), [['data', 'FieldValueTooLong', 'Too long: may not be more than 1048576 bytes']]);
  assert.deepEqual(errs(make('Secret', { type: 'kubernetes.io/tls', data: { 'tls.crt': b64('c') } }, 'default')), [['data[tls.key]', 'FieldValueRequired', 'Required value']]);
  assert.deepEqual(errs(make('Secret', { type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64('{') } }, 'default')).map((e) => [e[0], e[1]]), [
    ['data[.dockerconfigjson]', 'FieldValueInvalid'],
  ]);
  const old = make('Secret', { data: { a: b64('1') } }, 'default');
  const retyped = structuredClone(old);
  retyped.type = 'kubernetes.io/basic-auth';
  retyped.data = { username: b64('u') };
  assert.deepEqual(validateUpdate('Secret', retyped, old).map((e) => [e.field, e.message]), [['type', 'Invalid value: "kubernetes.io/basic-auth": field is immutable']]);
  const frozen = make('Secret', { immutable: true, data: { a: b64('1') } }, 'default');
  const changed = structuredClone(frozen);
  changed.data.a = b64('2');
  assert.deepEqual(validateUpdate('Secret', changed, frozen).map((e) => e.field), ['data']);
});

test('Namespace: DNS-1123 label names, cluster scope, finalizer names', () => {
  assert.deepEqual(errs(make('Namespace', { metadata: { name: 'team-a' } })), []);
  assert.deepEqual(errs(make('Namespace', { metadata: { name: 'team.a' } })), [['metadata.name', 'FieldValueInvalid', 'Invalid value: "team.a": must not contain dots']]);
  assert.deepEqual(errs(make('Namespace', { metadata: { name: 'a', namespace: 'b' } })).map((e) => e[0]), ['metadata.namespace']);
  assert.deepEqual(errs(make('Namespace', { metadata: { name: 'a' }, spec: { finalizers: ['cleanup'] } })), [
    ['spec.finalizers', 'FieldValueInvalid', 'Invalid value: "cleanup": name is neither a standard finalizer name nor is it fully qualified'],
  ]);
});

test('Node: taints, pod CIDRs, capacity quantities; pod CIDR fixed once set', () => {
  const node = (spec: Obj, status: Obj = {}): Obj => make('Node', { metadata: { name: 'node-1' }, spec, status });
  assert.deepEqual(errs(node({ podCIDR: '10.244.1.0/24', taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] }, { capacity: { cpu: '2', memory: '4Gi', pods: '110' } })), []);
  assert.deepEqual(errs(node({ taints: [{ key: 'k', effect: 'Sometimes' }] })), [
    ['metadata.taints[0].effect', 'FieldValueNotSupported', 'Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"'],
  ]);
  assert.deepEqual(errs(node({ taints: [{ key: 'k', effect: 'NoSchedule' }, { key: 'k', value: 'v', effect: 'NoSchedule' }] })), [
    ['metadata.taints[1]', 'FieldValueDuplicate', 'Duplicate value: {"effect":"NoSchedule","key":"k","value":"v"}: taints must be unique by key and effect pair'],
  ]);
  assert.deepEqual(errs(node({ podCIDR: '10.244.1.0/33' })), [['spec.podCIDR', 'FieldValueInvalid', 'Invalid value: "10.244.1.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)']]);
  assert.deepEqual(errs(node({}, { capacity: { cpu: '2' }, allocatable: { cpu: '-1' } })), [['status.allocatable.cpu', 'FieldValueInvalid', 'Invalid value: "-1": must be greater than or equal to 0']]);
  const unassigned = node({});
  const assigned = structuredClone(unassigned);
  assigned.spec.podCIDR = '10.244.2.0/24';
  assert.deepEqual(validateUpdate('Node', assigned, unassigned), []);
  const moved = structuredClone(assigned);
  moved.spec.podCIDR = '10.244.3.0/24';
  assert.deepEqual(validateUpdate('Node', moved, assigned).map((e) => [e.field, e.message]), [
    ['spec.podCIDRs', 'Forbidden: node updates may not change podCIDR except from "" to valid'],
  ]);
});

test('Event: involvedObject required and in the event namespace', () => {
  const ev = (body: Obj): Obj => make('Event', { metadata: { name: 'web.17a' }, reason: 'Started', ...body }, 'default');
  assert.deepEqual(errs(ev({ involvedObject: { kind: 'Pod', name: 'web', namespace: 'default' } })), []);
  assert.deepEqual(errs(ev({ involvedObject: { kind: 'Node', name: 'node-1' } })), []);
  assert.deepEqual(errs(ev({})), [['involvedObject', 'FieldValueRequired', 'Required value']]);
  assert.deepEqual(errs(ev({ involvedObject: { kind: 'Pod', name: 'x', namespace: 'other' } })), [
    ['involvedObject.namespace', 'FieldValueInvalid', 'Invalid value: "other": does not match event.namespace'],
  ]);
  assert.deepEqual(errs(ev({ involvedObject: { kind: 'Pod', name: 'x', namespace: 'default' }, type: 'Error' })), [
    ['type', 'FieldValueNotSupported', 'Unsupported value: "Error": supported values: "Normal", "Warning"'],
  ]);
});

test('Lease, ServiceAccount, Endpoints', () => {
  assert.deepEqual(errs(make('Lease', { spec: { holderIdentity: 'node-1', leaseDurationSeconds: 40 } }, 'kube-node-lease')), []);
  assert.deepEqual(errs(make('Lease', { spec: { leaseDurationSeconds: 0, leaseTransitions: -1 } }, 'kube-node-lease')), [
    ['spec.leaseDurationSeconds', 'FieldValueInvalid', 'Invalid value: 0: must be greater than 0'],
    ['spec.leaseTransitions', 'FieldValueInvalid', 'Invalid value: -1: must be greater than or equal to 0'],
  ]);
  assert.deepEqual(errs(make('ServiceAccount', { metadata: { name: 'builder' } }, 'default')), []);
  assert.deepEqual(errs(make('ServiceAccount', { metadata: { name: 'Builder' } }, 'default')).map((e) => e[0]), ['metadata.name']);
  const eps = (subsets: Obj[]): Obj => make('Endpoints', { metadata: { name: 'web' }, subsets }, 'default');
  assert.deepEqual(errs(eps([{ addresses: [{ ip: '10.244.1.5', nodeName: 'node-1' }], ports: [{ port: 8080 }] }])), []);
  assert.deepEqual(errs(eps([{ ports: [{ port: 80 }] }])), [['subsets[0]', 'FieldValueRequired', 'Required value: must specify `addresses` or `notReadyAddresses`']]);
  assert.deepEqual(errs(eps([{ addresses: [{ ip: '127.0.0.1' }, { ip: 'nope' }] }])), [
    ['subsets[0].addresses[0].ip', 'FieldValueInvalid', 'Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)'],
    ['subsets[0].addresses[1].ip', 'FieldValueInvalid', 'Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'],
  ]);
  assert.deepEqual(errs(eps([{ addresses: [{ ip: '10.244.1.5' }], ports: [{ port: 80 }, { name: 'b', port: 81 }] }])), [['subsets[0].ports[0].name', 'FieldValueRequired', 'Required value']]);
});

test('EndpointSlice: addressType required and enforced, addresses, ports; addressType immutable', () => {
  const slice = (body: Obj): Obj => make('EndpointSlice', { metadata: { name: 'web-abc12' }, ...body }, 'default');
  assert.deepEqual(errs(slice({ addressType: 'IPv4', endpoints: [{ addresses: ['10.244.1.5'], conditions: { ready: true } }], ports: [{ name: 'http', port: 8080 }] })), []);
  assert.deepEqual(errs(slice({ addressType: 'FQDN', endpoints: [{ addresses: ['db.example.com'] }] })), []);
  assert.deepEqual(errs(slice({ endpoints: [] })), [['addressType', 'FieldValueRequired', 'Required value']]);
  assert.deepEqual(errs(slice({ addressType: 'IPX' })), [['addressType', 'FieldValueNotSupported', 'Unsupported value: "IPX": supported values: "FQDN", "IPv4", "IPv6"']]);
  assert.deepEqual(errs(slice({ addressType: 'IPv4', endpoints: [{ addresses: ['fd00::1'] }, { addresses: [] }] })), [
    ['endpoints[0].addresses[0]', 'FieldValueInvalid', 'Invalid value: "fd00::1": must be a valid IPv4 address'],
    ['endpoints[1].addresses', 'FieldValueRequired', 'Required value: must contain at least 1 address'],
  ]);
  assert.deepEqual(errs(slice({ addressType: 'IPv4', ports: [{ name: 'a', port: 80 }, { name: 'a', port: 81, protocol: 'SMTP' }] })), [
    ['ports[1].name', 'FieldValueDuplicate', 'Duplicate value: "a"'],
    ['ports[1].protocol', 'FieldValueNotSupported', 'Unsupported value: "SMTP": supported values: "SCTP", "TCP", "UDP"'],
  ]);
  const old = slice({ addressType: 'IPv4' });
  const changed = structuredClone(old);
  changed.addressType = 'IPv6';
  assert.deepEqual(validateUpdate('EndpointSlice', changed, old).map((e) => [e.field, e.message]), [['addressType', 'Invalid value: "IPv6": field is immutable']]);
});
