import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatValue, goQuote, isDNS1035Label, isDNS1123Label, isDNS1123Subdomain, isLabelValue, isQualifiedName, isValidPortName,
  nameIsDNSSubdomain, validateObjectMeta, validateObjectMetaUpdate,
} from './meta.js';
import { validateCreate, validateUpdate, validateStatusUpdate } from './index.js';

const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

test('name checks return apimachinery messages', () => {
  assert.deepEqual(isDNS1123Subdomain('example.com'), []);
  assert.deepEqual(isDNS1123Subdomain('Bad_Name'), [SUBDOMAIN_MSG]);
  assert.deepEqual(isDNS1123Subdomain('a'.repeat(254)), ['must be no more than 253 characters']);
  assert.deepEqual(isDNS1123Label('my-name'), []);
  assert.deepEqual(isDNS1123Label('a.b'), ['must not contain dots']);
  assert.deepEqual(isDNS1123Label('-x'), [LABEL_MSG]);
  assert.deepEqual(isDNS1123Label('a'.repeat(64)), ['must be no more than 63 characters']);
  assert.deepEqual(isDNS1035Label('1abc'), [
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
  ]);
  assert.deepEqual(isQualifiedName('app.kubernetes.io/name'), []);
  assert.deepEqual(isQualifiedName('MyName'), []);
  assert.deepEqual(isQualifiedName('bad key'), [
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
  ]);
  assert.deepEqual(isQualifiedName('/x'), ['prefix part must be non-empty']);
  assert.deepEqual(isQualifiedName('Bad_Prefix/x'), [`prefix part ${SUBDOMAIN_MSG}`]);
  assert.equal(isQualifiedName('a/b/c').length, 1);
  assert.match(isQualifiedName('a/b/c')[0], /^a valid label key .* with an optional DNS subdomain prefix and '\/' \(e\.g\. 'example\.com\/MyName'\)$/);
  assert.deepEqual(isLabelValue(''), []);
  assert.deepEqual(isLabelValue('v1.2_x'), []);
  assert.deepEqual(isLabelValue('-bad'), [
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
  ]);
  assert.deepEqual(isValidPortName('http'), []);
  assert.deepEqual(isValidPortName('HTTP'), ['must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)', 'must contain at least one letter (a-z)']);
  assert.deepEqual(isValidPortName('a-very-long-port-name'), ['must be no more than 15 characters']);
  assert.deepEqual(isValidPortName('a--b'), ['must not contain consecutive hyphens']);
  assert.deepEqual(isValidPortName('8080'), ['must contain at least one letter (a-z)']);
});

test('bad values print as field.Error does', () => {
  assert.equal(formatValue('x"y'), '"x\\"y"');
  assert.equal(formatValue(-1), '-1');
  assert.equal(formatValue(true), 'true');
  assert.equal(formatValue(null), 'null');
  assert.equal(formatValue({ b: '2', a: '1' }), '{"a":"1","b":"2"}');
  assert.equal(formatValue(['x']), '["x"]');
  assert.equal(goQuote('tab\there\u0001'), '"tab\\there\\x01"');
});

test('ObjectMeta on create: name, generateName, namespace scope, labels, annotations, finalizers', () => {
  assert.deepEqual(validateObjectMeta({ name: 'ok', namespace: 'default' }, true, nameIsDNSSubdomain), []);
  assert.deepEqual(validateObjectMeta({ namespace: 'default' }, true, nameIsDNSSubdomain), [
    { reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' },
  ]);
  assert.deepEqual(validateObjectMeta({ name: 'Bad_Name', namespace: 'default' }, true, nameIsDNSSubdomain), [
    { reason: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: "Bad_Name": ${SUBDOMAIN_MSG}` },
  ]);
  // A generateName may end in a dash; the generated name is what must be valid.
  assert.deepEqual(validateObjectMeta({ generateName: 'web-', name: 'web-x7k2p', namespace: 'default' }, true, nameIsDNSSubdomain), []);
  assert.deepEqual(validateObjectMeta({ generateName: 'Web-', name: 'web-x7k2p', namespace: 'default' }, true, nameIsDNSSubdomain).map((e) => e.field), ['metadata.generateName']);
  assert.deepEqual(validateObjectMeta({ name: 'n1', namespace: 'default' }, false, nameIsDNSSubdomain), [
    { reason: 'FieldValueForbidden', field: 'metadata.namespace', message: 'Forbidden: not allowed on this type' },
  ]);
  assert.deepEqual(validateObjectMeta({ name: 'x' }, true, nameIsDNSSubdomain), [{ reason: 'FieldValueRequired', field: 'metadata.namespace', message: 'Required value' }]);
  const labels = validateObjectMeta({ name: 'x', namespace: 'default', labels: { 'bad key': 'v', ok: 'bad value!', n: 1 } }, true, nameIsDNSSubdomain);
  assert.deepEqual(labels.map((e) => [e.field, e.reason]), [
    ['metadata.labels', 'FieldValueInvalid'],
    ['metadata.labels', 'FieldValueTypeInvalid'],
    ['metadata.labels', 'FieldValueInvalid'],
  ]);
  assert.match(labels[0].message, /^Invalid value: "bad key": name part must consist of/);
  assert.equal(labels[1].message, 'Invalid value: 1: must be of type string');
  assert.match(labels[2].message, /^Invalid value: "bad value!": a valid label must be an empty string/);
  assert.deepEqual(validateObjectMeta({ name: 'x', namespace: 'default', annotations: { big: 'x'.repeat(256 * 1024) } }, true, nameIsDNSSubdomain), [
    { reason: 'FieldValueTooLong', field: 'metadata.annotations', message: 'Too long: may not be more than 262144 bytes' },
  ]);
  assert.deepEqual(validateObjectMeta({ name: 'x', namespace: 'default', annotations: { 'Kubectl.Kubernetes.IO/Thing': 'ok' } }, true, nameIsDNSSubdomain), []);
  assert.deepEqual(validateObjectMeta({ name: 'x', namespace: 'default', finalizers: ['example.com/cleanup', 'kubernetes', 'custom'] }, true, nameIsDNSSubdomain), [
    { reason: 'FieldValueInvalid', field: 'metadata.finalizers[2]', message: 'Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified' },
  ]);
  assert.deepEqual(validateObjectMeta({ name: 'x', namespace: 'default', generation: -1 }, true, nameIsDNSSubdomain).map((e) => e.message), [
    'Invalid value: -1: must be greater than or equal to 0',
  ]);
  const owners = validateObjectMeta({ name: 'x', namespace: 'default', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: '1', controller: true }, { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs2', controller: true }] }, true, nameIsDNSSubdomain);
  assert.deepEqual(owners.map((e) => e.field), ['metadata.ownerReferences.uid', 'metadata.ownerReferences']);
  assert.match(owners[1].message, /Only one reference can have Controller set to true\. Found "true" in references for ReplicaSet\/rs and ReplicaSet\/rs2$/);
});

test('ObjectMeta on update: identity is immutable, no finalizers added while deleting', () => {
  const old = { name: 'a', namespace: 'default', uid: 'u1', creationTimestamp: '2024-01-01T00:00:00Z', generation: 2 };
  assert.deepEqual(validateObjectMetaUpdate({ ...old, labels: { x: 'y' } }, old), []);
  assert.deepEqual(validateObjectMetaUpdate({ ...old, name: 'b', uid: 'u2' }, old), [
    { reason: 'FieldValueInvalid', field: 'metadata.name', message: 'Invalid value: "b": field is immutable' },
    { reason: 'FieldValueInvalid', field: 'metadata.uid', message: 'Invalid value: "u2": field is immutable' },
  ]);
  assert.deepEqual(validateObjectMetaUpdate({ ...old, generation: 1 }, old).map((e) => e.message), ['Invalid value: 1: must not be decremented']);
  const deleting = { ...old, deletionTimestamp: '2024-01-02T00:00:00Z', finalizers: ['a.io/x'] };
  assert.deepEqual(validateObjectMetaUpdate({ ...deleting, finalizers: ['a.io/x', 'b.io/y'] }, deleting), [
    { reason: 'FieldValueForbidden', field: 'metadata.finalizers', message: 'Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"b.io/y"}' },
  ]);
});

test('index: unknown kinds get metadata checks, status updates only metadata rules, errors deduplicated', () => {
  assert.deepEqual(validateCreate('Widget', { metadata: { name: 'w', namespace: 'default' } }), []);
  assert.equal(validateCreate('Widget', { metadata: { name: 'W', namespace: 'default' } })[0].field, 'metadata.name');
  const old = { metadata: { name: 'x', namespace: 'default', uid: '1' }, data: {} };
  assert.deepEqual(validateStatusUpdate('Pod', { metadata: { name: 'x', namespace: 'default', uid: '1' }, status: { phase: 'Bogus' } }, old), []);
  assert.equal(validateStatusUpdate('Pod', { metadata: { name: 'y', namespace: 'default', uid: '1' } }, old)[0].field, 'metadata.name');
  // Labels are checked by both the update and the create rules; reported once.
  const bad = validateUpdate('ConfigMap', { metadata: { name: 'x', namespace: 'default', uid: '1', labels: { a: '-' } } }, old);
  assert.equal(bad.filter((e) => e.field === 'metadata.labels').length, 1);
});
