import { test } from 'node:test';
import assert from 'node:assert/strict';
import { desiredSlices, endpointSubsets, findPort, isManaged, podBelongs, sliceLabels } from './endpoints-logic.js';
import { sliceName } from './endpointslice.js';
import type { Obj } from './objects.js';

const svc = (extra: Obj = {}): Obj => ({
  metadata: { name: 'web', namespace: 'default', labels: { team: 'a' } },
  spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }], ...extra },
});
const pod = (name: string, ip: string | undefined, opts: { ready?: boolean; labels?: Obj; port?: number; deleting?: boolean; phase?: string; restart?: string } = {}): Obj => ({
  metadata: { name, namespace: 'default', uid: `u-${name}`, labels: opts.labels ?? { app: 'web' }, ...(opts.deleting ? { deletionTimestamp: 't' } : {}) },
  spec: {
    nodeName: 'n1',
    restartPolicy: opts.restart ?? 'Always',
    containers: [{ name: 'c', ports: opts.port === undefined ? [] : [{ name: 'http', containerPort: opts.port, protocol: 'TCP' }] }],
  },
  status: { phase: opts.phase ?? 'Running', podIP: ip, conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }] },
});

test('which services are managed and which pods belong', () => {
  assert.equal(isManaged(svc()), true);
  assert.equal(isManaged(svc({ selector: undefined })), false);
  assert.equal(isManaged(svc({ selector: {} })), false);
  assert.equal(isManaged(svc({ type: 'ExternalName' })), false);
  assert.equal(podBelongs(pod('a', undefined), false), false, 'no IP yet');
  assert.equal(podBelongs(pod('a', '1.1.1.1', { deleting: true }), false), false);
  assert.equal(podBelongs(pod('a', '1.1.1.1', { deleting: true }), true), true);
  assert.equal(podBelongs(pod('a', '1.1.1.1', { phase: 'Succeeded', restart: 'Never' }), true), false);
  assert.equal(podBelongs(pod('a', '1.1.1.1', { phase: 'Failed', restart: 'OnFailure' }), true), true);
});

test('target ports resolve by number or by named container port', () => {
  assert.equal(findPort(pod('a', 'x', { port: 8080 }), { port: 80, targetPort: 'http' }), 8080);
  assert.equal(findPort(pod('a', 'x'), { port: 80, targetPort: 'http' }), undefined);
  assert.equal(findPort(pod('a', 'x'), { port: 80, targetPort: 9000 }), 9000);
  assert.equal(findPort(pod('a', 'x'), { port: 80 }), 80);
  assert.equal(findPort(pod('a', 'x', { port: 8080 }), { port: 80, targetPort: 'http', protocol: 'UDP' }), undefined);
});

test('Endpoints: ready and not-ready addresses, one subset per port set', () => {
  const pods = [
    pod('b', '10.0.0.10', { port: 8080 }),
    pod('a', '10.0.0.9', { port: 8080 }),
    pod('c', '10.0.0.11', { port: 8080, ready: false }),
    pod('d', '10.0.0.12', { port: 9090 }),
    pod('e', '10.0.0.13'),
    pod('other', '10.0.0.14', { port: 8080, labels: { app: 'db' } }),
    pod('dying', '10.0.0.15', { port: 8080, deleting: true }),
  ];
  const subsets = endpointSubsets(svc(), pods);
  assert.equal(subsets.length, 2);
  const s8080 = subsets.find((s) => s.ports[0].port === 8080)!;
  assert.deepEqual(s8080.addresses.map((a: Obj) => a.ip), ['10.0.0.9', '10.0.0.10'], 'numeric order');
  assert.deepEqual(s8080.notReadyAddresses.map((a: Obj) => a.targetRef.name), ['c']);
  assert.deepEqual(s8080.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
  assert.deepEqual(s8080.addresses[0], { ip: '10.0.0.9', nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'default', name: 'a', uid: 'u-a' } });
  const published = endpointSubsets(svc({ publishNotReadyAddresses: true }), pods);
  assert.equal(published.find((s) => s.ports[0].port === 8080)!.addresses.length, 4, 'terminating pods too, as Kubernetes');
});

test('EndpointSlices: conditions ready/serving/terminating, ports, labels, chunks', () => {
  const pods = [pod('a', '10.0.0.9', { port: 8080 }), pod('c', '10.0.0.11', { port: 8080, ready: false }), pod('dying', '10.0.0.15', { port: 8080, deleting: true })];
  const [slice] = desiredSlices(svc(), pods);
  assert.deepEqual(slice.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
  const cond = Object.fromEntries(slice.endpoints.map((e) => [e.targetRef.name, e.conditions]));
  assert.deepEqual(cond, {
    a: { ready: true, serving: true, terminating: false },
    c: { ready: false, serving: false, terminating: false },
    dying: { ready: false, serving: true, terminating: true },
  });
  const many = Array.from({ length: 5 }, (_, i) => pod(`p${i}`, `10.0.1.${i}`, { port: 8080 }));
  assert.deepEqual(desiredSlices(svc(), many, 2).map((s) => s.endpoints.length), [2, 2, 1]);
  assert.deepEqual(desiredSlices(svc(), []), []);
  assert.deepEqual(sliceLabels(svc({ clusterIP: 'None' })), {
    team: 'a',
    'service.kubernetes.io/headless': '',
    'kubernetes.io/service-name': 'web',
    'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
  });
  assert.notEqual(sliceName('web', slice.ports, 0), sliceName('web', [], 0));
  assert.equal(sliceName('web', slice.ports, 1), `${sliceName('web', slice.ports, 0)}-1`);
});
