import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RESOURCES, groupVersion, groupVersions } from './resources.js';
import { openapiGroupVersion, openapiHash, openapiIndex, openapiPathKey, unknownFields } from './schema.js';

type Json = Record<string, any>;

const deployment = (): Json => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default', labels: { app: 'web', 'any/key': 'v' }, annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['a'] }] },
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: {
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        containers: [
          {
            name: 'web',
            image: 'nginx',
            ports: [{ containerPort: 80, protocol: 'TCP' }],
            env: [{ name: 'A', value: '1' }, { name: 'B', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
            resources: { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: 0.1 } },
            readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 5 },
          },
        ],
        volumes: [{ name: 'cfg', configMap: { name: 'cfg', items: [{ key: 'a', path: 'a' }] } }],
      },
    },
  },
  status: { replicas: 2, conditions: [{ type: 'Available', status: 'True', lastUpdateTime: '2024-01-01T00:00:00Z' }] },
});

test('unknownFields: a valid Deployment has none', () => {
  assert.deepEqual(unknownFields('apps/v1', 'Deployment', deployment()), []);
});

test('unknownFields: typos at several depths, in document order, with strict-decoder paths', () => {
  const d = deployment();
  d.metadata.labelz = { a: 'b' };
  d.spec.replicaz = 3;
  d.spec.template.spec.containers.push({ name: 'b', image: 'x', imagee: 'y', ports: [{ containerPort: 1, hostPortt: 2 }] });
  d.spec.strategy.rollingUpdate.maxSurg = 1;
  d.extra = true;
  assert.deepEqual(unknownFields('apps/v1', 'Deployment', d), [
    'metadata.labelz',
    'spec.strategy.rollingUpdate.maxSurg',
    'spec.template.spec.containers[1].imagee',
    'spec.template.spec.containers[1].ports[0].hostPortt',
    'spec.replicaz',
    'extra',
  ]);
});

test('unknownFields: field names are case-sensitive, maps accept any key, free-form values accept anything', () => {
  assert.deepEqual(unknownFields('v1', 'Pod', { apiVersion: 'v1', kind: 'Pod', Metadata: {} }), ['Metadata']);
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', managedFields: [{ manager: 'm', fieldsV1: { 'f:data': { 'f:x': {} } } }] }, data: { anything: 'goes', 'with.dots': 'x' } };
  assert.deepEqual(unknownFields('v1', 'ConfigMap', cm), []);
  const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: [{ port: 80, targetPort: 'http' }, { port: 81, targetPort: 8081 }], selector: { a: 'b' } } };
  assert.deepEqual(unknownFields('v1', 'Service', svc), []);
});

test('unknownFields: other served kinds, subresource kinds and DeleteOptions; unknown kinds are not checked', () => {
  assert.deepEqual(unknownFields('v1', 'Event', { involvedObject: { kind: 'Pod', nme: 'p' }, reason: 'x' }), ['involvedObject.nme']);
  assert.deepEqual(unknownFields('coordination.k8s.io/v1', 'Lease', { spec: { holderIdentity: 'a', renewTime: '2024-01-01T00:00:00.000000Z', leaseDurationSecond: 1 } }), ['spec.leaseDurationSecond']);
  assert.deepEqual(unknownFields('discovery.k8s.io/v1', 'EndpointSlice', { addressType: 'IPv4', endpoints: [{ addresses: ['1.2.3.4'], conditions: { ready: true, up: true } }] }), ['endpoints[0].conditions.up']);
  assert.deepEqual(unknownFields('v1', 'Binding', { metadata: { name: 'p' }, target: { kind: 'Node', name: 'n1', nodeName: 'x' } }), ['target.nodeName']);
  assert.deepEqual(unknownFields('policy/v1', 'Eviction', { metadata: { name: 'p' }, deleteOptions: { gracePeriodSeconds: 0, grace: 1 } }), ['deleteOptions.grace']);
  assert.deepEqual(unknownFields('autoscaling/v1', 'Scale', { spec: { replicas: 3, replica: 1 } }), ['spec.replica']);
  assert.deepEqual(unknownFields('v1', 'DeleteOptions', { propagationPolicy: 'Background', propagation: 'x' }), ['propagation']);
  assert.deepEqual(unknownFields('v1', 'PodList', { items: [{ spec: { containerz: [] } }] }), ['items[0].spec.containerz']);
  assert.deepEqual(unknownFields('example.com/v1', 'Widget', { anything: 1 }), []);
  assert.deepEqual(unknownFields('apps/v1', 'Pod', { anything: 1 }), [], 'Pod is not served in apps/v1');
});

/** Every `$ref` string anywhere in a JSON value. */
function refs(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) v.forEach((x) => refs(x, out));
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === '$ref' && typeof x === 'string') out.push(x);
      else refs(x, out);
    }
  }
  return out;
}

test('openapiIndex lists every served group version with a hashed URL', () => {
  const idx = openapiIndex();
  const want = groupVersions().map((gv) => (gv.group ? `apis/${gv.group}/${gv.version}` : `api/${gv.version}`));
  assert.deepEqual(Object.keys(idx.paths).sort(), want.sort());
  for (const { group, version } of groupVersions()) {
    const url = idx.paths[openapiPathKey(group, version)].serverRelativeURL;
    assert.equal(url, `/openapi/v3/${openapiPathKey(group, version)}?hash=${openapiHash(group, version)}`);
    assert.match(url, /\?hash=[0-9A-F]{128}$/);
  }
  assert.deepEqual(openapiIndex(), idx, 'stable across calls');
  assert.equal(openapiGroupVersion('batch', 'v1'), undefined);
});

test('every resource has a PATCH operation carrying its GVK object and a fieldValidation query parameter', () => {
  for (const { group, version } of groupVersions()) {
    const doc = openapiGroupVersion(group, version) as Json;
    assert.equal(doc.openapi, '3.0.0');
    assert.equal(openapiGroupVersion(group, version), doc, 'memoized');
    const prefix = group ? `/apis/${group}/${version}` : `/api/${version}`;
    for (const r of RESOURCES.filter((x) => x.group === group && x.version === version)) {
      const item = `${prefix}/${r.namespaced ? 'namespaces/{namespace}/' : ''}${r.plural}/{name}`;
      const patch = doc.paths[item]?.patch;
      assert.ok(patch, `PATCH ${item}`);
      assert.deepEqual(patch['x-kubernetes-group-version-kind'], { group, kind: r.kind, version }, item);
      // kubectl explain reads the GVK from the collection path.
      const collection = doc.paths[item.slice(0, -'/{name}'.length)];
      assert.deepEqual((collection.get ?? collection.post)['x-kubernetes-group-version-kind'], { group, kind: r.kind, version });
    }
    // Whichever PATCH kubectl meets first for a GVK must qualify, so all of them must.
    for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
      if (!item.patch) continue;
      const gvk = item.patch['x-kubernetes-group-version-kind'];
      assert.ok(gvk && !Array.isArray(gvk) && typeof gvk.kind === 'string', `gvk object on ${path}`);
      assert.ok(item.patch.parameters.some((p: Json) => p.name === 'fieldValidation' && p.in === 'query' && p.schema?.type === 'string'), `fieldValidation on ${path}`);
      const types = Object.keys(item.patch.requestBody.content);
      assert.deepEqual(types.sort(), ['application/apply-patch+yaml', 'application/json-patch+json', 'application/merge-patch+json']);
    }
  }
});

test('subresource PATCH operations speak their own kinds', () => {
  const apps = openapiGroupVersion('apps', 'v1') as Json;
  assert.deepEqual(apps.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale'].patch['x-kubernetes-group-version-kind'], { group: 'autoscaling', kind: 'Scale', version: 'v1' });
  assert.deepEqual(apps.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status'].patch['x-kubernetes-group-version-kind'], { group: 'apps', kind: 'Deployment', version: 'v1' });
  const core = openapiGroupVersion('', 'v1') as Json;
  assert.deepEqual(core.paths['/api/v1/namespaces/{namespace}/pods/{name}/eviction'].post['x-kubernetes-group-version-kind'], { group: 'policy', kind: 'Eviction', version: 'v1' });
  assert.ok(core.paths['/api/v1/namespaces/{namespace}/pods/{name}/binding'].post);
  assert.ok(core.paths['/api/v1/pods'].get, 'list across namespaces');
});

test('components.schemas: kinds carry the GVK array, fields are typed, every $ref resolves', () => {
  for (const { group, version } of groupVersions()) {
    const doc = openapiGroupVersion(group, version) as Json;
    const schemas = doc.components.schemas as Record<string, Json>;
    for (const r of RESOURCES.filter((x) => x.group === group && x.version === version)) {
      const gvk = { group, kind: r.kind, version };
      const matches = Object.values(schemas).filter((s) => (s['x-kubernetes-group-version-kind'] ?? []).some((g: Json) => g.group === group && g.kind === r.kind && g.version === version));
      assert.equal(matches.length, 1, `one schema for ${groupVersion(r)} ${r.kind}`);
      assert.ok(Array.isArray(matches[0]['x-kubernetes-group-version-kind']));
      assert.deepEqual(matches[0]['x-kubernetes-group-version-kind'].find((g: Json) => g.kind === r.kind), gvk);
      assert.equal(matches[0].type, 'object');
    }
    for (const ref of refs(doc)) {
      assert.match(ref, /^#\/components\/schemas\//);
      assert.ok(schemas[ref.slice('#/components/schemas/'.length)], `${ref} resolves in ${groupVersion({ group, version })}`);
    }
  }
  const core = (openapiGroupVersion('', 'v1') as Json).components.schemas as Record<string, Json>;
  const apps = (openapiGroupVersion('apps', 'v1') as Json).components.schemas as Record<string, Json>;
  assert.deepEqual(core['io.k8s.api.core.v1.Pod']['x-kubernetes-group-version-kind'], [{ group: '', kind: 'Pod', version: 'v1' }]);
  assert.deepEqual(core['io.k8s.api.core.v1.Pod'].properties.metadata, { allOf: [{ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' }] });
  assert.ok(core['io.k8s.api.core.v1.Event'], 'CoreV1Event is named Event');
  const container = core['io.k8s.api.core.v1.Container'].properties;
  assert.deepEqual(container.image, { type: 'string' });
  assert.deepEqual(container.ports, { type: 'array', items: { allOf: [{ $ref: '#/components/schemas/io.k8s.api.core.v1.ContainerPort' }] } });
  assert.deepEqual(core['io.k8s.api.core.v1.ContainerPort'].properties.containerPort, { type: 'integer', format: 'int32' });
  assert.deepEqual(core['io.k8s.api.core.v1.ServicePort'].properties.targetPort, { 'x-kubernetes-int-or-string': true });
  assert.deepEqual(core['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta'].properties.labels, { type: 'object', additionalProperties: { type: 'string' } });
  assert.deepEqual(core['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta'].properties.creationTimestamp, { type: 'string', format: 'date-time' });
  // kubectl explain deployment.spec.strategy walks these.
  assert.ok(apps['io.k8s.api.apps.v1.DeploymentSpec'].properties.strategy.allOf[0].$ref.endsWith('io.k8s.api.apps.v1.DeploymentStrategy'));
  assert.ok(apps['io.k8s.api.core.v1.PodTemplateSpec'], 'pod templates keep their core/v1 name in apps/v1');
  assert.deepEqual(apps['io.k8s.api.autoscaling.v1.Scale']['x-kubernetes-group-version-kind'], [{ group: 'autoscaling', kind: 'Scale', version: 'v1' }]);
});
