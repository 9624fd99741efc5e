import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatusError } from '../../../common/errors.js';
import { strategicMergePatch as smp } from './strategic.js';
import { listStrategy } from './mergekeys.js';

// Tests index deeply into results; `any` keeps them readable.
type Obj = Record<string, any>;

function pod(): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', labels: { app: 'web', tier: 'fe' }, finalizers: ['a', 'b', 'c'] },
    spec: {
      containers: [
        {
          name: 'web',
          image: 'nginx:1.25',
          env: [
            { name: 'A', value: '1' },
            { name: 'B', value: '2' },
          ],
          ports: [
            { containerPort: 80, protocol: 'TCP' },
            { containerPort: 443, protocol: 'TCP' },
          ],
          volumeMounts: [{ mountPath: '/data', name: 'data' }],
        },
        { name: 'sidecar', image: 'busybox', args: ['sleep', '1d'] },
      ],
      volumes: [{ name: 'data', emptyDir: {} }],
      tolerations: [{ key: 'k1', operator: 'Exists' }],
      securityContext: { runAsUser: 1000, fsGroup: 2000 },
    },
    status: { conditions: [{ type: 'Ready', status: 'False' }, { type: 'PodScheduled', status: 'True' }] },
  };
}

const strategicMergePatch = (current: Obj, p: unknown, kind: string): Obj => smp(current, p, kind);
const patchPod = (p: unknown): Obj => strategicMergePatch(pod(), p, 'Pod');

function badRequest(fn: () => unknown, pattern?: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof StatusError, String(e));
    assert.equal(e.code, 400);
    assert.equal(e.reason, 'BadRequest');
    if (pattern) assert.match(e.message, pattern);
    return;
  }
  assert.fail('expected a 400');
}

describe('strategic merge patch: maps and nulls', () => {
  it('merges maps recursively and deletes keys set to null', () => {
    const out = patchPod({ metadata: { labels: { tier: null, env: 'prod' } }, spec: { securityContext: { runAsUser: null } } });
    assert.deepEqual(out.metadata.labels, { app: 'web', env: 'prod' });
    assert.deepEqual(out.spec.securityContext, { fsGroup: 2000 });
    assert.equal(out.metadata.name, 'p');
  });

  it('null for an absent key is ignored, and nulls never reach new values', () => {
    const out = patchPod({ metadata: { annotations: { a: 'x', b: null } }, spec: { nope: null } });
    assert.deepEqual(out.metadata.annotations, { a: 'x' });
    assert.equal('nope' in out.spec, false);
  });

  it('$patch: replace on a map replaces it', () => {
    const out = patchPod({ spec: { securityContext: { $patch: 'replace', runAsNonRoot: true } } });
    assert.deepEqual(out.spec.securityContext, { runAsNonRoot: true });
  });

  it('$patch: delete on a map removes it; $patch: merge is the default', () => {
    const out = patchPod({ spec: { securityContext: { $patch: 'delete' } }, metadata: { labels: { $patch: 'merge', x: 'y' } } });
    assert.equal('securityContext' in out.spec, false);
    assert.deepEqual(out.metadata.labels, { app: 'web', tier: 'fe', x: 'y' });
  });

  it('$retainKeys clears keys not listed', () => {
    const deploy = { kind: 'Deployment', spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } } } };
    const out = strategicMergePatch(deploy, { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } } }, 'Deployment');
    assert.deepEqual(out.spec, { strategy: { type: 'Recreate' } });
  });

  it('$retainKeys must list every key the patch sets', () => {
    badRequest(() => patchPod({ spec: { securityContext: { $retainKeys: ['fsGroup'], runAsUser: 1 } } }), /retainKeys/);
    badRequest(() => patchPod({ spec: { securityContext: { $retainKeys: 'fsGroup' } } }), /retainKeys/);
  });
});

describe('strategic merge patch: lists', () => {
  it('merges containers by name, keeping unnamed fields', () => {
    const out = patchPod({ spec: { containers: [{ name: 'sidecar', image: 'busybox:1.36' }] } });
    assert.equal(out.spec.containers.length, 2);
    assert.deepEqual(out.spec.containers[1], { name: 'sidecar', image: 'busybox:1.36', args: ['sleep', '1d'] });
    assert.equal(out.spec.containers[0].image, 'nginx:1.25');
  });

  it('merges env by name and ports by containerPort', () => {
    const out = patchPod({
      spec: {
        containers: [
          {
            name: 'web',
            env: [{ name: 'B', value: 'two' }],
            ports: [{ containerPort: 443, name: 'https' }],
          },
        ],
      },
    });
    const web = out.spec.containers[0];
    assert.deepEqual(web.env, [
      { name: 'A', value: '1' },
      { name: 'B', value: 'two' },
    ]);
    assert.deepEqual(web.ports, [
      { containerPort: 80, protocol: 'TCP' },
      { containerPort: 443, protocol: 'TCP', name: 'https' },
    ]);
  });

  it('new elements without $setElementOrder go before server-only ones, as in Kubernetes', () => {
    const out = patchPod({ spec: { containers: [{ name: 'redis', image: 'redis' }] } });
    assert.deepEqual(
      out.spec.containers.map((c: Obj) => c.name),
      ['redis', 'web', 'sidecar'],
    );
  });

  it('merges Service spec.ports by port', () => {
    const svc = { kind: 'Service', spec: { ports: [{ port: 80, targetPort: 8080 }, { port: 443, targetPort: 8443 }] } };
    const out = strategicMergePatch(svc, { spec: { ports: [{ port: 80, targetPort: 9090 }] } }, 'Service');
    assert.deepEqual(out.spec.ports, [{ port: 80, targetPort: 9090 }, { port: 443, targetPort: 8443 }]);
  });

  it('merges status conditions by type', () => {
    const out = patchPod({ status: { conditions: [{ type: 'Ready', status: 'True' }] } });
    assert.deepEqual(out.status.conditions, [
      { type: 'Ready', status: 'True' },
      { type: 'PodScheduled', status: 'True' },
    ]);
  });

  it('replaces atomic lists whole (tolerations, args)', () => {
    const out = patchPod({
      spec: { tolerations: [{ key: 'k2', operator: 'Exists' }], containers: [{ name: 'sidecar', args: ['true'] }] },
    });
    assert.deepEqual(out.spec.tolerations, [{ key: 'k2', operator: 'Exists' }]);
    assert.deepEqual(out.spec.containers[1].args, ['true']);
  });

  it('$patch: delete removes a list element by merge key', () => {
    const out = patchPod({ spec: { containers: [{ name: 'web', env: [{ name: 'A', $patch: 'delete' }] }, { name: 'sidecar', $patch: 'delete' }] } });
    assert.deepEqual(out.spec.containers.map((c: Obj) => c.name), ['web']);
    assert.deepEqual(out.spec.containers[0].env, [{ name: 'B', value: '2' }]);
  });

  it('$patch: replace in a list replaces the list with the other elements', () => {
    const out = patchPod({ spec: { volumes: [{ name: 'cache', emptyDir: {} }, { $patch: 'replace' }] } });
    assert.deepEqual(out.spec.volumes, [{ name: 'cache', emptyDir: {} }]);
  });

  it('$setElementOrder reorders, keeping server-only items relative to their neighbours', () => {
    const out = patchPod({
      spec: {
        '$setElementOrder/containers': [{ name: 'sidecar' }, { name: 'web' }],
      },
    });
    assert.deepEqual(out.spec.containers.map((c: Obj) => c.name), ['sidecar', 'web']);

    const envOut = patchPod({
      spec: {
        containers: [
          {
            name: 'web',
            '$setElementOrder/env': [{ name: 'C' }, { name: 'B' }, { name: 'A' }],
            env: [{ name: 'C', value: '3' }],
          },
        ],
      },
    });
    assert.deepEqual(
      envOut.spec.containers[0].env,
      [
        { name: 'C', value: '3' },
        { name: 'B', value: '2' },
        { name: 'A', value: '1' },
      ],
    );
  });

  it('$setElementOrder places a new element where the order says', () => {
    const out = patchPod({
      spec: {
        '$setElementOrder/containers': [{ name: 'web' }, { name: 'sidecar' }, { name: 'redis' }],
        containers: [{ name: 'redis', image: 'redis' }],
      },
    });
    assert.deepEqual(out.spec.containers.map((c: Obj) => c.name), ['web', 'sidecar', 'redis']);
  });

  it('rejects a patch list that contradicts $setElementOrder', () => {
    badRequest(
      () =>
        patchPod({
          spec: {
            '$setElementOrder/containers': [{ name: 'web' }, { name: 'sidecar' }],
            containers: [{ name: 'sidecar' }, { name: 'web' }],
          },
        }),
      /setElementOrder/,
    );
    badRequest(() => patchPod({ spec: { '$setElementOrder/containers': 'web' } }), /setElementOrder/);
    badRequest(() => patchPod({ spec: { '$setElementOrder/containers': [{ image: 'x' }] } }), /merge key/);
  });

  it('metadata.finalizers merge as a set; $deleteFromPrimitiveList removes', () => {
    const added = patchPod({ metadata: { finalizers: ['b', 'd'] } });
    assert.deepEqual([...added.metadata.finalizers].sort(), ['a', 'b', 'c', 'd']);
    const removed = patchPod({
      metadata: { '$deleteFromPrimitiveList/finalizers': ['b'], '$setElementOrder/finalizers': ['a', 'c'] },
    });
    assert.deepEqual(removed.metadata.finalizers, ['a', 'c']);
    badRequest(() => patchPod({ metadata: { '$deleteFromPrimitiveList/finalizers': [{ x: 1 }] } }), /primitive list/);
    badRequest(() => patchPod({ metadata: { finalizers: [{ x: 1 }] } }), /primitives/);
  });

  it('ownerReferences merge by uid', () => {
    const rs = { kind: 'ReplicaSet', metadata: { ownerReferences: [{ uid: 'u1', name: 'd1' }] } };
    const out = strategicMergePatch(rs, { metadata: { ownerReferences: [{ uid: 'u2', name: 'd2' }] } }, 'ReplicaSet');
    assert.deepEqual(out.metadata.ownerReferences.map((o: Obj) => o.uid).sort(), ['u1', 'u2']);
  });

  it('a list where there was none (or of another type) takes the patch, without directives', () => {
    const out = patchPod({ spec: { initContainers: [{ name: 'init', image: 'x', env: null }, { name: 'gone', $patch: 'delete' }] } });
    assert.deepEqual(out.spec.initContainers, [{ name: 'init', image: 'x' }]);
  });
});

describe('strategic merge patch: errors and purity', () => {
  it('rejects bodies that are not objects', () => {
    for (const body of [[], null, 'x', 3]) badRequest(() => patchPod(body), /must be a JSON object/);
  });

  it('rejects unknown directives', () => {
    badRequest(() => patchPod({ spec: { $patch: 'explode' } }), /unknown patch type/);
    badRequest(() => patchPod({ spec: { containers: [{ name: 'web', $patch: 'explode' }] } }), /unknown patch type/);
    badRequest(() => patchPod({ spec: { $frobnicate: true } }), /unknown strategic merge patch directive "\$frobnicate"/);
    badRequest(() => patchPod({ spec: { '$setElementOrder/': [] } }), /directive/);
    badRequest(() => patchPod({ $patch: 'delete' }), /whole object/);
  });

  it('rejects list elements without their merge key', () => {
    badRequest(() => patchPod({ spec: { containers: [{ image: 'x' }] } }), /merge key: name/);
    badRequest(() => patchPod({ spec: { containers: [{ $patch: 'delete' }] } }), /merge key: name/);
    badRequest(() => patchPod({ spec: { containers: ['web'] } }), /expected a map/);
  });

  it('never mutates current or patch', () => {
    const current = pod();
    const patch = { spec: { containers: [{ name: 'web', env: [{ name: 'Z', value: '9' }] }] }, metadata: { labels: { app: null } } };
    const snapshot = structuredClone({ current, patch });
    const out = strategicMergePatch(current, patch, 'Pod');
    assert.deepEqual({ current, patch }, snapshot);
    out.spec.containers[0].env[0].value = 'changed';
    assert.deepEqual({ current, patch }, snapshot);
  });
});

describe('kubectl client-side apply of a Deployment', () => {
  const live = (): Obj => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'web',
      namespace: 'default',
      resourceVersion: '42',
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"old":true}\n', 'deployment.kubernetes.io/revision': '1' },
    },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [
            {
              name: 'web',
              image: 'nginx:1.25',
              imagePullPolicy: 'IfNotPresent',
              env: [{ name: 'A', value: '1' }],
              ports: [{ containerPort: 80, protocol: 'TCP' }],
              terminationMessagePath: '/dev/termination-log',
            },
            { name: 'sidecar', image: 'busybox', imagePullPolicy: 'Always' },
          ],
          restartPolicy: 'Always',
        },
      },
    },
    status: { replicas: 2 },
  });

  // What kubectl 1.32 sends (CreateThreeWayMergePatch) after the image of
  // `web` changes and env B is added in the manifest.
  const patch = {
    metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"new":true}\n' } },
    spec: {
      template: {
        spec: {
          '$setElementOrder/containers': [{ name: 'web' }, { name: 'sidecar' }],
          containers: [
            {
              '$setElementOrder/env': [{ name: 'A' }, { name: 'B' }],
              env: [{ name: 'B', value: '2' }],
              image: 'nginx:1.26',
              name: 'web',
            },
          ],
        },
      },
    },
  };

  it('changes the image, appends the env var in order, keeps server defaults and the other container', () => {
    const out = strategicMergePatch(live(), patch, 'Deployment');
    const expected = live();
    expected.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'] = '{"new":true}\n';
    expected.spec.template.spec.containers[0].image = 'nginx:1.26';
    expected.spec.template.spec.containers[0].env.push({ name: 'B', value: '2' });
    assert.deepEqual(out, expected);
  });
});

describe('list strategies by path and kind', () => {
  it('knows pod spec lists in every workload kind', () => {
    assert.deepEqual(listStrategy(['spec', 'containers'], 'Pod'), { type: 'map', key: 'name' });
    assert.deepEqual(listStrategy(['spec', 'template', 'spec', 'containers', 'env'], 'Deployment'), { type: 'map', key: 'name' });
    assert.deepEqual(
      listStrategy(['spec', 'jobTemplate', 'spec', 'template', 'spec', 'initContainers', 'volumeMounts'], 'CronJob'),
      { type: 'map', key: 'mountPath' },
    );
    assert.deepEqual(listStrategy(['spec', 'hostAliases'], 'Pod'), { type: 'map', key: 'ip' });
    assert.deepEqual(listStrategy(['spec', 'containers', 'volumeDevices'], 'Pod'), { type: 'map', key: 'devicePath' });
    assert.deepEqual(listStrategy(['spec', 'topologySpreadConstraints'], 'Pod'), { type: 'map', key: 'topologyKey' });
    assert.deepEqual(listStrategy(['spec', 'imagePullSecrets'], 'Pod'), { type: 'map', key: 'name' });
    assert.deepEqual(listStrategy(['spec', 'tolerations'], 'Pod'), { type: 'atomic' });
  });
  it('depends on the kind: ports are keyed by port only in a Service spec', () => {
    assert.deepEqual(listStrategy(['spec', 'ports'], 'Service'), { type: 'map', key: 'port' });
    assert.deepEqual(listStrategy(['spec', 'ports'], 'Pod'), { type: 'atomic' });
    assert.deepEqual(listStrategy(['spec', 'containers'], 'Service'), { type: 'atomic' });
    assert.deepEqual(listStrategy(['subsets', 'ports'], 'Endpoints'), { type: 'atomic' });
  });
  it('metadata lists and conditions apply everywhere', () => {
    assert.deepEqual(listStrategy(['metadata', 'finalizers'], 'ConfigMap'), { type: 'primitive' });
    assert.deepEqual(listStrategy(['metadata', 'ownerReferences'], 'Pod'), { type: 'map', key: 'uid' });
    assert.deepEqual(listStrategy(['status', 'conditions'], 'Node'), { type: 'map', key: 'type' });
    assert.deepEqual(listStrategy(['spec', 'finalizers'], 'Namespace'), { type: 'atomic' });
  });
});
