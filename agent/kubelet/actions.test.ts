/**
 * computePodActions and its helpers against kubelet's rules (kuberuntime_manager
 * computePodActions, findNextInitContainerToRun, ShouldContainerBeRestarted),
 * on hand-built relists: no runtime involved.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerStatus, SandboxStatus } from '../runtime/types.js';
import { computePodActions, containerHash, groupByPod, podFinished, type ActionContext, type Obj, type RuntimePod } from './actions.js';

const T0 = Date.parse('2024-05-01T10:00:00Z');
const REF = { uid: 'u1', name: 'web', namespace: 'default' };

function sandbox(id: string, attempt: number, state: 'ready' | 'notready' = 'ready', pod = REF): SandboxStatus {
  return { id, pod, attempt, state, createdAt: new Date(T0 + attempt * 60_000), pid: state === 'ready' ? 100 + attempt : 0, hostNetwork: false, labels: {} };
}

/** An instance of `spec` (hash matching it unless overridden). */
function ctr(spec: Obj, o: Partial<ContainerStatus> & { id: string; sandboxId: string }): ContainerStatus {
  const attempt = o.attempt ?? 0;
  const state = o.state ?? 'running';
  return {
    pod: REF,
    name: spec.name,
    attempt,
    init: false,
    image: spec.image,
    imageId: 'sha256:abc',
    state,
    createdAt: new Date(T0 + attempt * 1000),
    startedAt: state === 'created' ? undefined : new Date(T0 + attempt * 1000 + 100),
    finishedAt: state === 'exited' ? new Date(T0 + attempt * 1000 + 500) : undefined,
    pid: state === 'running' ? 200 + attempt : 0,
    specHash: containerHash(spec),
    labels: {},
    ...o,
  };
}

const exited = (spec: Obj, id: string, sandboxId: string, exitCode: number, attempt = 0, init = false): ContainerStatus =>
  ctr(spec, { id, sandboxId, state: 'exited', exitCode, attempt, init });

function rp(sandboxes: SandboxStatus[], containers: ContainerStatus[]): RuntimePod {
  return groupByPod(sandboxes, containers).get(REF.uid) ?? { uid: REF.uid, sandboxes: [], containers: [] };
}

function ctx(o: Partial<ActionContext> = {}): ActionContext {
  return { now: T0 + 3_600_000, backoffUntil: () => undefined, livenessFailed: new Set(), ...o };
}

const app = { name: 'app', image: 'skiff.local/busybox:1.35', command: ['sleep', '3600'] };
const side = { name: 'side', image: 'skiff.local/busybox:1.35', command: ['sleep', '7200'] };
const init1 = { name: 'init1', image: 'skiff.local/busybox:1.35', command: ['true'] };
const init2 = { name: 'init2', image: 'skiff.local/busybox:1.35', command: ['true'] };

function pod(spec: Obj = {}): Obj {
  return { metadata: { uid: REF.uid, name: REF.name, namespace: REF.namespace }, spec: { containers: [app], ...spec } };
}

const names = (a: { start: { container: Obj }[] }): string[] => a.start.map((s) => s.container.name);

test('groupByPod groups by uid and sorts newest first (attempt, then creation time)', () => {
  const other = { uid: 'u2', name: 'db', namespace: 'default' };
  const s0 = sandbox('s0', 0, 'notready');
  const s1 = sandbox('s1', 1);
  const s2 = sandbox('s2', 0, 'ready', other);
  const c0 = exited(app, 'c0', 's0', 1, 0);
  const c1 = ctr(app, { id: 'c1', sandboxId: 's1', attempt: 1 });
  const sameAttemptOlder = ctr(side, { id: 'c2', sandboxId: 's1', attempt: 1, createdAt: new Date(T0) });
  const sameAttemptNewer = ctr(side, { id: 'c3', sandboxId: 's1', attempt: 1, createdAt: new Date(T0 + 5000) });
  const c4 = ctr(app, { id: 'c4', sandboxId: 's2', pod: other });
  const m = groupByPod([s0, s2, s1], [c0, sameAttemptOlder, c1, c4, sameAttemptNewer]);
  assert.deepEqual([...m.keys()].sort(), ['u1', 'u2']);
  assert.deepEqual(m.get('u1')!.sandboxes.map((s) => s.id), ['s1', 's0']);
  assert.deepEqual(m.get('u1')!.containers.map((c) => c.id), ['c3', 'c1', 'c2', 'c0']);
  assert.deepEqual(m.get('u2')!.sandboxes.map((s) => s.id), ['s2']);
  assert.deepEqual(m.get('u2')!.containers.map((c) => c.id), ['c4']);
  assert.equal(groupByPod([], []).size, 0);
});

test('containerHash is stable, ignores resources, and changes with the rest of the spec', () => {
  const h = containerHash(app);
  assert.match(h, /^[0-9a-f]{16}$/);
  assert.equal(containerHash({ ...app }), h);
  assert.equal(containerHash({ ...app, resources: { limits: { cpu: '1' } } }), h, 'resources are resized in place, not restarted');
  assert.notEqual(containerHash({ ...app, image: 'skiff.local/busybox:1.36' }), h);
  assert.notEqual(containerHash({ ...app, command: ['sleep', '1'] }), h);
  assert.equal(containerHash(undefined), containerHash({}));
});

test('podFinished: only when every app container exited and the policy keeps it exited', () => {
  const s = 's1';
  const sbx = [sandbox(s, 0)];
  const two = { containers: [app, side] };
  assert.equal(podFinished(pod({ restartPolicy: 'Always' }), rp(sbx, [exited(app, 'a', s, 0)])), false, 'Always never finishes');
  assert.equal(podFinished(pod(), rp(sbx, [exited(app, 'a', s, 0)])), false, 'restartPolicy defaults to Always');
  assert.equal(podFinished(pod({ restartPolicy: 'OnFailure', ...two }), rp(sbx, [exited(app, 'a', s, 0), exited(side, 'b', s, 0)])), true);
  assert.equal(podFinished(pod({ restartPolicy: 'OnFailure', ...two }), rp(sbx, [exited(app, 'a', s, 0), exited(side, 'b', s, 2)])), false, 'a failed one restarts');
  assert.equal(podFinished(pod({ restartPolicy: 'Never', ...two }), rp(sbx, [exited(app, 'a', s, 0), exited(side, 'b', s, 2)])), true);
  assert.equal(podFinished(pod({ restartPolicy: 'Never', ...two }), rp(sbx, [exited(app, 'a', s, 0), ctr(side, { id: 'b', sandboxId: s })])), false, 'one still running');
  assert.equal(podFinished(pod({ restartPolicy: 'Never', ...two }), rp(sbx, [exited(app, 'a', s, 0)])), false, 'one never started');
  assert.equal(podFinished(pod({ restartPolicy: 'Never' }), undefined), false);
  assert.equal(podFinished(pod({ restartPolicy: 'Never', containers: [] }), rp(sbx, [])), false, 'no containers: nothing finished');
  // Only the newest instance counts: an old failure followed by a success is a success.
  assert.equal(podFinished(pod({ restartPolicy: 'OnFailure' }), rp(sbx, [exited(app, 'a0', s, 1, 0), exited(app, 'a1', s, 0, 1)])), true);
});

test('a new pod gets a sandbox (attempt 0) and all its app containers', () => {
  const a = computePodActions(pod({ containers: [app, side] }), undefined, ctx());
  assert.equal(a.createSandbox, true);
  assert.equal(a.sandboxAttempt, 0);
  assert.equal(a.killPod, false, 'nothing to kill yet');
  assert.deepEqual(names(a), ['app', 'side']);
  assert.ok(a.start.every((s) => !s.init && s.attempt === 0));
  assert.deepEqual(a.kill, []);
  assert.equal(a.backoff.size, 0);
  assert.deepEqual(a.prune, []);
  assert.equal(a.podFailed, undefined);
});

test('a new pod with init containers gets a sandbox and only the first init container', () => {
  const a = computePodActions(pod({ initContainers: [init1, init2], containers: [app, side] }), undefined, ctx());
  assert.equal(a.createSandbox, true);
  assert.deepEqual(a.start.map((s) => [s.container.name, s.init, s.attempt]), [['init1', true, 0]]);
});

test('init containers run in order, one at a time, in the current sandbox', () => {
  const p = pod({ initContainers: [init1, init2] });
  const sbx = [sandbox('s1', 0)];
  // Sandbox up, nothing started yet (the start of the first sync failed): init1.
  assert.deepEqual(names(computePodActions(p, rp(sbx, []), ctx())), ['init1']);
  // init1 running: wait.
  const running = computePodActions(p, rp(sbx, [ctr(init1, { id: 'i1', sandboxId: 's1', init: true })]), ctx());
  assert.deepEqual(running.start, []);
  assert.equal(running.createSandbox, false);
  assert.equal(running.killPod, false);
  // init1 done: init2, and still no app container.
  const next = computePodActions(p, rp(sbx, [exited(init1, 'i1', 's1', 0, 0, true)]), ctx());
  assert.deepEqual(next.start.map((s) => [s.container.name, s.init, s.attempt]), [['init2', true, 0]]);
  // Both done: the app containers.
  const apps = computePodActions(p, rp(sbx, [exited(init1, 'i1', 's1', 0, 0, true), exited(init2, 'i2', 's1', 0, 0, true)]), ctx());
  assert.deepEqual(apps.start.map((s) => [s.container.name, s.init, s.attempt]), [['app', false, 0]]);
});

test('an init container created but never started is replaced, not waited on forever', () => {
  const p = pod({ initContainers: [init1] });
  const stuck = ctr(init1, { id: 'i1', sandboxId: 's1', init: true, state: 'created', attempt: 0 });
  const a = computePodActions(p, rp([sandbox('s1', 0)], [stuck]), ctx());
  assert.deepEqual(a.kill, [{ id: 'i1', name: 'init1', reason: 'never started' }]);
  assert.deepEqual(a.start.map((s) => [s.container.name, s.init, s.attempt]), [['init1', true, 1]]);
});

test('a failed init container under restartPolicy Never fails the pod', () => {
  const p = pod({ restartPolicy: 'Never', initContainers: [init1, init2] });
  const a = computePodActions(p, rp([sandbox('s1', 0)], [exited(init1, 'i1', 's1', 0, 0, true), exited(init2, 'i2', 's1', 3, 0, true)]), ctx());
  assert.equal(a.podFailed, 'init container init2 exited with code 3');
  assert.equal(a.killPod, true);
  assert.equal(a.createSandbox, false);
  assert.deepEqual(a.start, []);
});

for (const policy of ['OnFailure', 'Always']) {
  test(`a failed init container under ${policy} restarts after its backoff`, () => {
    const p = pod({ restartPolicy: policy, initContainers: [init1, init2] });
    const failed = exited(init1, 'i1', 's1', 1, 2, true);
    const r = rp([sandbox('s1', 0)], [failed]);
    const asked: [string, number][] = [];
    const waiting = computePodActions(p, r, ctx({ backoffUntil: (name, finishedAt) => (asked.push([name, finishedAt]), T0 + 99_000) }));
    assert.deepEqual(asked, [['init1', failed.finishedAt!.getTime()]], 'backoff counted from when it finished');
    assert.deepEqual(waiting.start, []);
    assert.deepEqual([...waiting.backoff], [['init1', T0 + 99_000]]);
    assert.equal(waiting.podFailed, undefined);
    assert.equal(waiting.killPod, false);

    const go = computePodActions(p, r, ctx());
    assert.deepEqual(go.start.map((s) => [s.container.name, s.init, s.attempt]), [['init1', true, 3]]);
    assert.equal(go.backoff.size, 0);
  });
}

test('app containers wait until every init container succeeded in the current sandbox', () => {
  const p = pod({ initContainers: [init1, init2] });
  // Both inits succeeded, but in the previous sandbox: the new one runs them again from the first.
  const old = [exited(init1, 'i1', 's0', 0, 0, true), exited(init2, 'i2', 's0', 0, 0, true)];
  const a = computePodActions(p, rp([sandbox('s1', 1), sandbox('s0', 0, 'notready')], old), ctx());
  assert.deepEqual(a.start.map((s) => [s.container.name, s.init, s.attempt]), [['init1', true, 1]]);
  // init1 re-ran in s1; init2 only in s0: init2 next, still no app.
  const b = computePodActions(p, rp([sandbox('s1', 1), sandbox('s0', 0, 'notready')], [...old, exited(init1, 'i1b', 's1', 0, 1, true)]), ctx());
  assert.deepEqual(names(b), ['init2']);
});

test('exited app containers restart per restartPolicy, with attempt + 1', () => {
  const cases: [string, number, boolean][] = [
    ['Always', 0, true],
    ['Always', 1, true],
    ['OnFailure', 0, false],
    ['OnFailure', 137, true],
    ['Never', 0, false],
    ['Never', 1, false],
  ];
  for (const [policy, code, restart] of cases) {
    const p = pod({ restartPolicy: policy, containers: [app, side] });
    // `side` keeps running so the pod is not finished.
    const r = rp([sandbox('s1', 0)], [exited(app, 'a4', 's1', code, 4), ctr(side, { id: 'b', sandboxId: 's1' })]);
    const a = computePodActions(p, r, ctx());
    assert.deepEqual(a.start.map((s) => [s.container.name, s.attempt]), restart ? [['app', 5]] : [], `${policy} exit ${code}`);
    assert.equal(a.killPod, false, `${policy} exit ${code}`);
    assert.deepEqual(a.kill, []);
  }
});

test('a container in backoff is not started and is reported with its deadline', () => {
  const p = pod({ containers: [app, side] });
  const crashed = exited(app, 'a2', 's1', 1, 2);
  const r = rp([sandbox('s1', 0)], [crashed, ctr(side, { id: 'b', sandboxId: 's1' })]);
  const asked: string[] = [];
  const a = computePodActions(p, r, ctx({ backoffUntil: (name, at) => (asked.push(name), at === crashed.finishedAt!.getTime() ? T0 + 40_000 : undefined) }));
  assert.deepEqual(asked, ['app'], 'only the exited container is asked about');
  assert.deepEqual(a.start, []);
  assert.deepEqual([...a.backoff], [['app', T0 + 40_000]]);
  assert.equal(a.killPod, false, 'a crash-looping pod is not torn down');
});

test('a running container is killed when its spec hash changed or its liveness probe failed', () => {
  const p = pod({ containers: [app, side] });
  const stale = ctr(app, { id: 'a0', sandboxId: 's1', specHash: containerHash({ ...app, image: 'old' }) });
  const healthy = ctr(side, { id: 'b0', sandboxId: 's1' });
  const r = rp([sandbox('s1', 0)], [stale, healthy]);
  const a = computePodActions(p, r, ctx());
  assert.deepEqual(a.kill, [{ id: 'a0', name: 'app', reason: 'spec changed' }]);
  assert.deepEqual(a.start, [], 'restarted by a later sync once it shows as exited');
  assert.equal(a.killPod, false);

  const b = computePodActions(p, rp([sandbox('s1', 0)], [ctr(app, { id: 'a0', sandboxId: 's1' }), healthy]), ctx({ livenessFailed: new Set(['b0']) }));
  assert.deepEqual(b.kill, [{ id: 'b0', name: 'side', reason: 'liveness probe failed' }]);

  const c = computePodActions(p, rp([sandbox('s1', 0)], [ctr(app, { id: 'a0', sandboxId: 's1' }), healthy]), ctx({ livenessFailed: new Set(['gone']) }));
  assert.deepEqual(c.kill, [], 'a failure of another instance does not count');
  assert.deepEqual(c.start, []);
  assert.equal(c.createSandbox, false);
});

test('a container created but never started is replaced by a new attempt', () => {
  const r = rp([sandbox('s1', 0)], [ctr(app, { id: 'a1', sandboxId: 's1', state: 'created', attempt: 1 })]);
  const a = computePodActions(pod(), r, ctx());
  assert.deepEqual(a.kill, [{ id: 'a1', name: 'app', reason: 'never started' }]);
  assert.deepEqual(a.start.map((s) => [s.container.name, s.attempt]), [['app', 2]]);
});

test('a dead sandbox means killPod and a new sandbox with attempt + 1, containers from the start', () => {
  const p = pod({ containers: [app, side] });
  const r = rp([sandbox('s3', 3, 'notready')], [exited(app, 'a', 's3', 137, 5), exited(side, 'b', 's3', 137, 0)]);
  const a = computePodActions(p, r, ctx());
  assert.equal(a.killPod, true);
  assert.equal(a.createSandbox, true);
  assert.equal(a.sandboxAttempt, 4);
  assert.deepEqual(a.start.map((s) => [s.container.name, s.attempt]), [['app', 6], ['side', 1]]);

  const withInits = computePodActions(pod({ initContainers: [init1, init2] }), rp([sandbox('s3', 3, 'notready')], [exited(init1, 'i', 's3', 0, 0, true), exited(app, 'a', 's3', 137, 5)]), ctx());
  assert.deepEqual(withInits.start.map((s) => [s.container.name, s.init, s.attempt]), [['init1', true, 1]], 'init containers first, again');
});

test('two ready sandboxes, or a newest one not ready, also mean a new sandbox', () => {
  const twoReady = computePodActions(pod(), rp([sandbox('s1', 1), sandbox('s0', 0)], []), ctx());
  assert.equal(twoReady.createSandbox, true);
  assert.equal(twoReady.sandboxAttempt, 2);
  assert.equal(twoReady.killPod, true);

  const olderReady = computePodActions(pod(), rp([sandbox('s1', 1, 'notready'), sandbox('s0', 0)], []), ctx());
  assert.equal(olderReady.createSandbox, true);
  assert.equal(olderReady.sandboxAttempt, 2);
});

test('a finished pod gets no new sandbox; its live sandbox is killed', () => {
  const p = pod({ restartPolicy: 'OnFailure', containers: [app, side] });
  const done = [exited(app, 'a', 's1', 0), exited(side, 'b', 's1', 0)];
  const dead = computePodActions(p, rp([sandbox('s1', 0, 'notready')], done), ctx());
  assert.equal(dead.createSandbox, false);
  assert.equal(dead.killPod, false, 'nothing left running');
  assert.deepEqual(dead.start, []);

  const live = computePodActions(p, rp([sandbox('s1', 0)], done), ctx());
  assert.equal(live.createSandbox, false);
  assert.equal(live.killPod, true, 'the sandbox of a finished pod is stopped');
  assert.deepEqual(live.start, []);
});

test('a Never pod whose containers ran gets no new sandbox when it dies', () => {
  const p = pod({ restartPolicy: 'Never', containers: [app, side] });
  // app was running when the sandbox died; side never started.
  const ran = computePodActions(p, rp([sandbox('s1', 0, 'notready')], [ctr(app, { id: 'a', sandboxId: 's1' })]), ctx());
  assert.equal(ran.createSandbox, false);
  assert.equal(ran.killPod, true, 'the container still running is stopped');
  assert.deepEqual(ran.start, []);

  // Only an init container ran: kubelet counts every container status, so no re-run either.
  const initRan = computePodActions(pod({ restartPolicy: 'Never', initContainers: [init1] }), rp([sandbox('s1', 0, 'notready')], [exited(init1, 'i', 's1', 0, 0, true)]), ctx());
  assert.equal(initRan.createSandbox, false);
  assert.deepEqual(initRan.start, []);

  // Nothing ran yet: the sandbox is simply retried.
  const none = computePodActions(p, rp([sandbox('s1', 0, 'notready')], []), ctx());
  assert.equal(none.createSandbox, true);
  assert.equal(none.sandboxAttempt, 1);
  assert.deepEqual(names(none), ['app', 'side']);
});

test('OnFailure: a container that succeeded stays finished across a new sandbox', () => {
  const p = pod({ restartPolicy: 'OnFailure', containers: [app, side] });
  // app completed; side was killed with the sandbox.
  const before = [exited(app, 'a', 's0', 0, 0), exited(side, 'b', 's0', 137, 0)];
  const a = computePodActions(p, rp([sandbox('s0', 0, 'notready')], before), ctx());
  assert.equal(a.createSandbox, true);
  assert.deepEqual(a.start.map((s) => [s.container.name, s.attempt]), [['side', 1]]);
  // In the new sandbox, later syncs leave it alone too.
  const b = computePodActions(p, rp([sandbox('s1', 1), sandbox('s0', 0, 'notready')], [...before, ctr(side, { id: 'b1', sandboxId: 's1', attempt: 1 })]), ctx());
  assert.deepEqual(b.start, []);
  assert.deepEqual(b.kill, []);
  assert.equal(b.killPod, false);
});

test('Always: a container of an earlier sandbox is started in the current one', () => {
  const r = rp([sandbox('s1', 1), sandbox('s0', 0, 'notready')], [exited(app, 'a', 's0', 0, 3)]);
  const a = computePodActions(pod({ restartPolicy: 'Always' }), r, ctx());
  assert.deepEqual(a.start.map((s) => [s.container.name, s.attempt]), [['app', 4]]);
  assert.equal(a.createSandbox, false);
});

test('pruning keeps the newest two instances per name (init and app apart), exited only', () => {
  const s = 's1';
  const cs = [
    exited(app, 'a0', s, 1, 0),
    exited(app, 'a1', s, 1, 1),
    exited(app, 'a2', s, 1, 2),
    exited(app, 'a3', s, 1, 3),
    ctr(app, { id: 'a4', sandboxId: s, attempt: 4 }),
    exited(init1, 'i0', s, 1, 0, true),
    exited(init1, 'i1', s, 1, 1, true),
    exited(init1, 'i2', s, 0, 2, true),
    // An app container named like the init container does not share its count.
    exited({ ...side, name: 'init1' }, 'x0', s, 1, 0),
  ];
  const a = computePodActions(pod({ initContainers: [init1] }), rp([sandbox(s, 0)], cs), ctx({ backoffUntil: () => T0 + 1 }));
  assert.deepEqual(a.prune.sort(), ['a0', 'a1', 'a2', 'i0']);
  assert.deepEqual(computePodActions(pod(), undefined, ctx()).prune, []);
  // Fewer than three: nothing to prune.
  assert.deepEqual(computePodActions(pod(), rp([sandbox(s, 0)], [exited(app, 'a0', s, 1, 0), exited(app, 'a1', s, 1, 1)]), ctx()).prune, []);
});
