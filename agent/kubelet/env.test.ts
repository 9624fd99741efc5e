import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ContainerConfigError, expand, expandCommand, expandCommandOnlyStatic, isEnvVarName, resolveEnv, type EnvContext, type Obj } from './env.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

function makeCtx(objs: { cms?: Record<string, Obj>; secrets?: Record<string, Obj> } = {}, extra: Partial<EnvContext> = {}): EnvContext & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    nodeName: 'node-1',
    podIP: '10.244.0.5',
    hostIP: '192.168.56.11',
    getConfigMap: async (ns, name) => {
      reads.push(`cm ${ns}/${name}`);
      return objs.cms?.[name];
    },
    getSecret: async (ns, name) => {
      reads.push(`secret ${ns}/${name}`);
      return objs.secrets?.[name];
    },
    ...extra,
  };
}

const pod = (spec: Obj = {}): Obj => ({
  metadata: { name: 'web-1', namespace: 'prod', uid: 'u-123', labels: { app: 'web', tier: 'fe' }, annotations: { note: 'a "quoted"\nline' } },
  spec: { nodeName: 'node-1', serviceAccountName: 'builder', ...spec },
});

const asMap = (env: { name: string; value: string }[]): Record<string, string> => Object.fromEntries(env.map((e) => [e.name, e.value]));

test('expand: refs, escapes, unknown and incomplete refs as Kubernetes does', () => {
  const lookup = (n: string): string | undefined => ({ A: 'x', B: 'y' })[n];
  assert.equal(expand('$(A)-$(B)', lookup), 'x-y');
  assert.equal(expand('$$(A)', lookup), '$(A)');
  assert.equal(expand('$(C)', lookup), '$(C)');
  assert.equal(expand('$(A', lookup), '$(A');
  assert.equal(expand('a$b$', lookup), 'a$b$');
  assert.equal(expand('$$$(A)', lookup), '$x');
  assert.equal(expand('', lookup), '');
});

test('isEnvVarName follows validation.IsEnvVarName', () => {
  assert.ok(isEnvVarName('FOO_bar.1-x'));
  assert.ok(isEnvVarName('.dot'));
  assert.ok(!isEnvVarName('1abc'));
  assert.ok(!isEnvVarName('has space'));
  assert.ok(!isEnvVarName(''));
});

test('envFrom first, then env in order with expansion against earlier vars', async () => {
  const ctx = makeCtx({
    cms: { cfg: { data: { HOST: 'db', PORT: '5432', 'bad key': 'x', '1num': 'y' } } },
    secrets: { creds: { data: { PASS: b64('s3cret') } } },
  });
  const c = {
    name: 'app',
    envFrom: [{ configMapRef: { name: 'cfg' } }, { secretRef: { name: 'creds' }, prefix: 'DB_' }],
    env: [
      { name: 'URL', value: 'pg://$(HOST):$(PORT)/$(MISSING)' },
      { name: 'HOST', value: 'override' },
      { name: 'LATER', value: '$(HOST) $$(HOST) $(SVC_HOST)' },
    ],
  };
  const r = await resolveEnv(pod(), c, { ...ctx, serviceEnv: [{ name: 'SVC_HOST', value: '10.96.0.7' }, { name: 'HOST', value: 'svc' }] });
  assert.deepEqual(r.env, [
    { name: 'HOST', value: 'override' },
    { name: 'PORT', value: '5432' },
    { name: 'DB_PASS', value: 's3cret' },
    { name: 'URL', value: 'pg://db:5432/$(MISSING)' },
    { name: 'LATER', value: 'override $(HOST) 10.96.0.7' },
    { name: 'SVC_HOST', value: '10.96.0.7' },
  ]);
  assert.equal(r.events.length, 1);
  assert.equal(r.events[0].reason, 'InvalidEnvironmentVariableNames');
  assert.equal(
    r.events[0].message,
    'Keys [1num, bad key] from the EnvFrom configMap prod/cfg were skipped since they are considered invalid environment variable names.',
  );
});

test('envFrom optional missing is skipped; required missing fails with the kubelet message', async () => {
  const ctx = makeCtx();
  const ok = await resolveEnv(pod(), { envFrom: [{ configMapRef: { name: 'nope', optional: true } }, { secretRef: { name: 'gone', optional: true } }] }, ctx);
  assert.deepEqual(ok.env, []);
  await assert.rejects(resolveEnv(pod(), { envFrom: [{ configMapRef: { name: 'nope' } }] }, ctx), (e: unknown) => {
    assert.ok(e instanceof ContainerConfigError);
    assert.equal(e.reason, 'CreateContainerConfigError');
    assert.equal(e.message, 'configmap "nope" not found');
    return true;
  });
  await assert.rejects(resolveEnv(pod(), { envFrom: [{ secretRef: { name: 'gone' } }] }, ctx), /^ContainerConfigError: secret "gone" not found$/);
});

test('fieldRef: metadata, labels and annotations, spec and status fields', async () => {
  const env = [
    'metadata.name',
    'metadata.namespace',
    'metadata.uid',
    "metadata.labels['app']",
    "metadata.labels['none']",
    "metadata.annotations['note']",
    'spec.nodeName',
    'spec.serviceAccountName',
    'status.podIP',
    'status.podIPs',
    'status.hostIP',
    'status.hostIPs',
  ].map((p, i) => ({ name: `V${i}`, valueFrom: { fieldRef: { fieldPath: p } } }));
  const r = await resolveEnv(pod(), { env }, makeCtx({}, { podIPs: ['10.244.0.5', 'fd00::5'], hostIPs: ['192.168.56.11'] }));
  assert.deepEqual(
    r.env.map((e) => e.value),
    ['web-1', 'prod', 'u-123', 'web', '', 'a "quoted"\nline', 'node-1', 'builder', '10.244.0.5', '10.244.0.5,fd00::5', '192.168.56.11', '192.168.56.11'],
  );
  await assert.rejects(resolveEnv(pod(), { env: [{ name: 'X', valueFrom: { fieldRef: { fieldPath: 'spec.bogus' } } }] }, makeCtx()), /unsupported fieldPath: spec.bogus/);
});

test('resourceFieldRef: limits and requests with divisors, allocatable when no limit', async () => {
  const c = {
    name: 'app',
    resources: { limits: { memory: '128Mi' }, requests: { cpu: '250m', memory: '64Mi' } },
    env: [
      { name: 'CPU_LIMIT', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } },
      { name: 'CPU_LIMIT_M', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1m' } } },
      { name: 'CPU_REQ', valueFrom: { resourceFieldRef: { resource: 'requests.cpu' } } },
      { name: 'CPU_REQ_M', valueFrom: { resourceFieldRef: { resource: 'requests.cpu', divisor: '1m' } } },
      { name: 'MEM_LIMIT', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
      { name: 'MEM_REQ', valueFrom: { resourceFieldRef: { resource: 'requests.memory' } } },
      { name: 'OTHER', valueFrom: { resourceFieldRef: { containerName: 'side', resource: 'limits.memory', divisor: '1Mi' } } },
    ],
  };
  const p = pod({ containers: [c, { name: 'side', resources: { limits: { memory: '1Gi' } } }] });
  const r = await resolveEnv(p, c, makeCtx({}, { allocatable: { cpu: '2', memory: '4Gi' } }));
  assert.deepEqual(asMap(r.env), {
    CPU_LIMIT: '2',
    CPU_LIMIT_M: '2000',
    CPU_REQ: '1',
    CPU_REQ_M: '250',
    MEM_LIMIT: '128',
    MEM_REQ: String(64 * 1024 * 1024),
    OTHER: '1024',
  });
});

test('configMapKeyRef / secretKeyRef: values, optional skips, kubelet errors', async () => {
  const ctx = makeCtx({ cms: { cfg: { data: { k: 'v' } } }, secrets: { s: { data: { tok: b64('abc') } } } });
  const r = await resolveEnv(
    pod(),
    {
      env: [
        { name: 'A', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'k' } } },
        { name: 'B', valueFrom: { secretKeyRef: { name: 's', key: 'tok' } } },
        { name: 'C', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'nokey', optional: true } } },
        { name: 'D', valueFrom: { secretKeyRef: { name: 'nosecret', key: 'x', optional: true } } },
        { name: 'E', value: '$(A)$(B)$(C)' },
      ],
    },
    ctx,
  );
  assert.deepEqual(r.env, [
    { name: 'A', value: 'v' },
    { name: 'B', value: 'abc' },
    { name: 'E', value: 'vabc$(C)' },
  ]);
  // One read per object even with several refs.
  assert.equal(ctx.reads.filter((x) => x === 'cm prod/cfg').length, 1);
  const fail = (from: Obj): Promise<unknown> => resolveEnv(pod(), { env: [{ name: 'X', valueFrom: from }] }, ctx);
  await assert.rejects(fail({ configMapKeyRef: { name: 'cfg', key: 'nokey' } }), { message: "couldn't find key nokey in ConfigMap prod/cfg", reason: 'CreateContainerConfigError' });
  await assert.rejects(fail({ configMapKeyRef: { name: 'x', key: 'k' } }), { message: 'configmap "x" not found' });
  await assert.rejects(fail({ secretKeyRef: { name: 's', key: 'nokey' } }), { message: "couldn't find key nokey in Secret prod/s" });
  await assert.rejects(fail({ secretKeyRef: { name: 'y', key: 'k' } }), { message: 'secret "y" not found' });
});

test('API errors other than not-found propagate unchanged', async () => {
  const boom = new Error('connection reset');
  const ctx = makeCtx({}, { getConfigMap: async () => Promise.reject(boom) });
  await assert.rejects(resolveEnv(pod(), { envFrom: [{ configMapRef: { name: 'c', optional: true } }] }, ctx), (e) => e === boom);
});

test('expandCommand and expandCommandOnlyStatic', () => {
  const env = [
    { name: 'MSG', value: 'hello' },
    { name: 'N', value: '3' },
  ];
  assert.deepEqual(expandCommand(['sh', '-c', 'echo $(MSG) $$(MSG) $(NOPE)'], env), ['sh', '-c', 'echo hello $(MSG) $(NOPE)']);
  assert.equal(expandCommand(undefined, env), undefined);
  const container = { env: [{ name: 'A', value: 'lit' }, { name: 'B', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }] };
  assert.deepEqual(expandCommandOnlyStatic(['$(A)', '$(B)'], container), ['lit', '$(B)']);
});
