import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDefaults } from '../defaults.js';
import { validateCreate, validateUpdate } from './index.js';

type Obj = Record<string, any>;

function svc(spec: Obj, name = 'web'): Obj {
  const s: Obj = { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec };
  applyDefaults('Service', s);
  return s;
}
const errs = (s: Obj): [string, string, string][] => validateCreate('Service', s).map((e) => [e.field, e.reason, e.message]);

test('valid Services produce no errors', () => {
  assert.deepEqual(errs(svc({ selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] })), []);
  assert.deepEqual(errs(svc({ selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }, { name: 'dns', port: 53, protocol: 'UDP' }] })), []);
  assert.deepEqual(errs(svc({ type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }], sessionAffinity: 'ClientIP' })), []);
  assert.deepEqual(errs(svc({ type: 'LoadBalancer', ports: [{ port: 443 }], externalTrafficPolicy: 'Local' })), []);
  assert.deepEqual(errs(svc({ clusterIP: 'None', selector: { app: 'db' } })), []);
  assert.deepEqual(errs(svc({ clusterIP: 'None' })), []);
  assert.deepEqual(errs(svc({ type: 'ExternalName', externalName: 'db.example.com.' })), []);
  assert.deepEqual(errs(svc({ clusterIP: '10.96.0.10', ports: [{ port: 53, protocol: 'UDP' }] })), []);
});

test('Service names are DNS-1035 labels', () => {
  const e = errs(svc({ ports: [{ port: 80 }] }, '1web'));
  assert.equal(e.length, 1);
  assert.deepEqual(e[0].slice(0, 2), ['metadata.name', 'FieldValueInvalid']);
  assert.match(e[0][2], /^Invalid value: "1web": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character/);
});

test('ports: required unless headless or ExternalName, range, names, protocol, duplicates', () => {
  assert.deepEqual(errs(svc({ selector: { app: 'x' } })), [['spec.ports', 'FieldValueRequired', 'Required value']]);
  assert.deepEqual(errs(svc({ ports: [{ port: 0 }] })), [
    ['spec.ports[0].port', 'FieldValueInvalid', 'Invalid value: 0: must be between 1 and 65535, inclusive'],
    ['spec.ports[0].targetPort', 'FieldValueInvalid', 'Invalid value: 0: must be between 1 and 65535, inclusive'],
  ]);
  assert.deepEqual(errs(svc({ ports: [{ port: 70000, targetPort: 80 }] })), [['spec.ports[0].port', 'FieldValueInvalid', 'Invalid value: 70000: must be between 1 and 65535, inclusive']]);
  assert.deepEqual(errs(svc({ ports: [{ port: 80 }, { port: 81 }] })), [
    ['spec.ports[0].name', 'FieldValueRequired', 'Required value'],
    ['spec.ports[1].name', 'FieldValueRequired', 'Required value'],
  ]);
  assert.deepEqual(errs(svc({ ports: [{ name: 'a', port: 80 }, { name: 'a', port: 81 }] })), [['spec.ports[1].name', 'FieldValueDuplicate', 'Duplicate value: "a"']]);
  assert.deepEqual(errs(svc({ ports: [{ port: 80, protocol: 'ICMP' }] })), [['spec.ports[0].protocol', 'FieldValueNotSupported', 'Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"']]);
  assert.deepEqual(errs(svc({ ports: [{ name: 'a', port: 80 }, { name: 'b', port: 80 }] })), [
    ['spec.ports[1]', 'FieldValueDuplicate', 'Duplicate value: {"Name":"","Protocol":"TCP","AppProtocol":null,"Port":80,"TargetPort":0,"NodePort":0}'],
  ]);
  assert.deepEqual(errs(svc({ ports: [{ port: 80, targetPort: 'Not_A_Name' }] })), [
    ['spec.ports[0].targetPort', 'FieldValueInvalid', 'Invalid value: "Not_A_Name": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)'],
  ]);
});

test('type, nodePort range, sessionAffinity and traffic policies', () => {
  assert.deepEqual(errs(svc({ type: 'Magic', ports: [{ port: 80 }] })), [
    ['spec.type', 'FieldValueNotSupported', 'Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"'],
  ]);
  assert.deepEqual(errs(svc({ ports: [{ port: 80, nodePort: 30080 }] })), [['spec.ports[0].nodePort', 'FieldValueForbidden', "Forbidden: may not be used when `type` is 'ClusterIP'"]]);
  assert.deepEqual(errs(svc({ type: 'NodePort', ports: [{ port: 80, nodePort: 80 }] })), [
    ['spec.ports[0].nodePort', 'FieldValueInvalid', 'Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767'],
  ]);
  assert.deepEqual(errs(svc({ type: 'NodePort', ports: [{ name: 'a', port: 80, nodePort: 30001 }, { name: 'b', port: 81, nodePort: 30001 }] })), [
    ['spec.ports[1].nodePort', 'FieldValueDuplicate', 'Duplicate value: 30001'],
  ]);
  assert.deepEqual(errs(svc({ ports: [{ port: 80 }], sessionAffinity: 'Sticky' })), [['spec.sessionAffinity', 'FieldValueNotSupported', 'Unsupported value: "Sticky": supported values: "ClientIP", "None"']]);
  assert.deepEqual(errs(svc({ ports: [{ port: 80 }], sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 100000 } } })), [
    ['spec.sessionAffinityConfig.clientIP.timeoutSeconds', 'FieldValueInvalid', 'Invalid value: 100000: must be greater than 0 and less than 86400'],
  ]);
  assert.deepEqual(errs(svc({ ports: [{ port: 80 }], externalTrafficPolicy: 'Local' })), [
    ['spec.externalTrafficPolicy', 'FieldValueInvalid', 'Invalid value: "Local": may only be set for externally-accessible services'],
  ]);
  assert.deepEqual(errs(svc({ ports: [{ port: 80 }], internalTrafficPolicy: 'Nearby' })), [
    ['spec.internalTrafficPolicy', 'FieldValueNotSupported', 'Unsupported value: "Nearby": supported values: "Cluster", "Local"'],
  ]);
  assert.deepEqual(errs(svc({ type: 'NodePort', clusterIP: 'None', ports: [{ port: 80 }] })), [
    ['spec.clusterIPs[0]', 'FieldValueInvalid', `Invalid value: "None": may not be set to 'None' for NodePort services`],
  ]);
  assert.deepEqual(errs(svc({ clusterIP: '10.96.0.300', ports: [{ port: 80 }] })), [
    ['spec.clusterIPs[0]', 'FieldValueInvalid', 'Invalid value: "10.96.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'],
  ]);
  assert.deepEqual(errs(svc({ type: 'ExternalName' })), [['spec.externalName', 'FieldValueRequired', 'Required value']]);
  assert.deepEqual(errs(svc({ type: 'ExternalName', externalName: 'x.com', clusterIP: '10.96.0.9' })), [['spec.clusterIPs', 'FieldValueForbidden', 'Forbidden: may not be set for ExternalName services']]);
});

test('Service updates: clusterIP is immutable once allocated', () => {
  const old = svc({ selector: { app: 'web' }, clusterIP: '10.96.0.5', ports: [{ port: 80 }] });
  const changed = structuredClone(old);
  changed.spec.clusterIP = '10.96.0.6';
  changed.spec.clusterIPs = ['10.96.0.6'];
  assert.deepEqual(validateUpdate('Service', changed, old).map((e) => [e.field, e.reason, e.message]), [
    ['spec.clusterIPs[0]', 'FieldValueInvalid', 'Invalid value: ["10.96.0.6"]: may not change once set'],
  ]);
  const cleared = structuredClone(old);
  delete cleared.spec.clusterIP;
  delete cleared.spec.clusterIPs;
  assert.deepEqual(validateUpdate('Service', cleared, old).map((e) => e.message), ['Invalid value: null: primary clusterIP can not be unset']);
  const relabeled = structuredClone(old);
  relabeled.spec.selector = { app: 'web2' };
  relabeled.spec.ports[0].port = 8080;
  assert.deepEqual(validateUpdate('Service', relabeled, old), []);
  const toExternal = structuredClone(old);
  toExternal.spec = { type: 'ExternalName', externalName: 'example.com', sessionAffinity: 'None' };
  assert.deepEqual(validateUpdate('Service', toExternal, old), []);
});
