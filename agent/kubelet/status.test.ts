/**
 * generatePodStatus and getPhase against kubelet's generateAPIPodStatus,
 * convertToAPIContainerStatuses, getPhase and the pod condition generators,
 * on hand-built relists: no runtime involved.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerStatus, SandboxStatus } from '../runtime/types.js';
import { containerHash, groupByPod, type Obj, type RuntimePod } from './actions.js';
import { generatePodStatus, getPhase, type StatusInput, type Waiting } from './status.js';

const T0 = Date.parse('2024-05-01T10:00:00Z');
const NOW = new Date('2024-05-01T11:00:00.250Z');
const NOW_ISO = '2024-05-01T11:00:00Z';
const EARLIER = '2024-05-01T09:00:00Z';
const REF = { uid: 'u1', name: 'web', namespace: 'default' };

const app = { name: 'app', image: 'skiff.local/busybox:1.35' };
const side = { name: 'side', image: 'skiff.local/busybox:1.35' };
const init1 = { name: 'init1', image: 'skiff.local/busybox:1.35' };
const init2 = { name: 'init2', image: 'skiff.local/busybox:1.35' };

function sandbox(id: string, attempt: number, state: 'ready' | 'notready' = 'ready'): SandboxStatus {
  return { id, pod: REF, attempt, state, createdAt: new Date(T0 + attempt * 60_000), pid: 1, hostNetwork: false, labels: {} };
}

function ctr(spec: Obj, o: Partial<ContainerStatus> & { id: string; sandboxId: string }): ContainerStatus {
  const attempt = o.attempt ?? 0;
  const state = o.state ?? 'running';
  return {
    pod: REF,
    name: spec.name,
    attempt,
    init: false,
    image: spec.image,
    imageId: 'sha256:feed',
    state,
    createdAt: new Date(T0 + attempt * 1000),
    startedAt: state === 'created' ? undefined : new Date(T0 + attempt * 1000 + 123),
    finishedAt: state === 'exited' ? new Date(T0 + attempt * 1000 + 456) : undefined,
    pid: state === 'running' ? 42 : 0,
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

function pod(spec: Obj = {}, status?: Obj): Obj {
  return { metadata: { uid: REF.uid, name: REF.name, namespace: REF.namespace }, spec: { containers: [app], ...spec }, ...(status ? { status } : {}) };
}

function input(o: Partial<StatusInput> & { pod: Obj }): StatusInput {
  return { rp: undefined, hostIP: '10.0.0.5', qosClass: 'BestEffort', now: NOW, waiting: new Map(), ready: new Map(), started: new Map(), ...o };
}

const cond = (s: Obj, type: string): Obj => s.conditions.find((c: Obj) => c.type === type);
const cs = (s: Obj, name: string): Obj => s.containerStatuses.find((c: Obj) => c.name === name);
const ics = (s: Obj, name: string): Obj => s.initContainerStatuses.find((c: Obj) => c.name === name);

test('a pod with nothing in the runtime yet: Pending, ContainerCreating, the five conditions', () => {
  const s = generatePodStatus(input({ pod: pod() }));
  assert.equal(s.phase, 'Pending');
  assert.deepEqual(cs(s, 'app'), {
    name: 'app',
    image: app.image,
    imageID: '',
    ready: false,
    restartCount: 0,
    started: false,
    state: { waiting: { reason: 'ContainerCreating' } },
    lastState: {},
  });
  assert.deepEqual(s.conditions.map((c: Obj) => [c.type, c.status]), [
    ['PodReadyToStartContainers', 'False'],
    ['Initialized', 'True'],
    ['Ready', 'False'],
    ['ContainersReady', 'False'],
    ['PodScheduled', 'True'],
  ]);
  assert.equal(cond(s, 'Ready').reason, 'ContainersNotReady');
  assert.equal(cond(s, 'Ready').message, 'containers with unready status: [app]');
  assert.equal(cond(s, 'ContainersReady').message, 'containers with unready status: [app]');
  assert.ok(s.conditions.every((c: Obj) => c.lastTransitionTime === NOW_ISO && c.lastProbeTime === null), 'times in seconds, as the API shows them');
  assert.equal(s.startTime, NOW_ISO);
  assert.equal(s.hostIP, '10.0.0.5');
  assert.deepEqual(s.hostIPs, [{ ip: '10.0.0.5' }]);
  assert.equal(s.qosClass, 'BestEffort');
  assert.equal(s.podIP, undefined);
  assert.equal(s.initContainerStatuses, undefined, 'only with init containers');
  assert.equal(s.reason, undefined);
});

test('init containers: PodInitializing until started, Initialized lists the incomplete ones', () => {
  const p = pod({ initContainers: [init1, init2], containers: [app] });
  const fresh = generatePodStatus(input({ pod: p }));
  assert.equal(fresh.phase, 'Pending');
  // kubelet's default for every not-started container of a pod with init containers (kubectl: Init:0/2).
  assert.deepEqual(ics(fresh, 'init1').state, { waiting: { reason: 'PodInitializing' } });
  assert.deepEqual(ics(fresh, 'init2').state, { waiting: { reason: 'PodInitializing' } });
  assert.deepEqual(cs(fresh, 'app').state, { waiting: { reason: 'PodInitializing' } });
  assert.equal(cond(fresh, 'Initialized').status, 'False');
  assert.equal(cond(fresh, 'Initialized').reason, 'ContainersNotInitialized');
  assert.equal(cond(fresh, 'Initialized').message, 'containers with incomplete status: [init1 init2]');

  const r1 = rp([sandbox('s1', 0)], [exited(init1, 'i1', 's1', 0, 0, true), ctr(init2, { id: 'i2', sandboxId: 's1', init: true })]);
  const mid = generatePodStatus(input({ pod: p, rp: r1 }));
  assert.equal(mid.phase, 'Pending');
  assert.equal(ics(mid, 'init1').state.terminated.reason, 'Completed');
  assert.equal(ics(mid, 'init1').ready, true, 'a completed init container is ready');
  assert.ok(ics(mid, 'init2').state.running);
  assert.equal(ics(mid, 'init2').ready, false, 'a running init container is not');
  assert.equal(cond(mid, 'Initialized').message, 'containers with incomplete status: [init2]');
  assert.equal(cond(mid, 'PodReadyToStartContainers').status, 'True');

  const r2 = rp([sandbox('s1', 0)], [exited(init1, 'i1', 's1', 0, 0, true), exited(init2, 'i2', 's1', 0, 0, true), ctr(app, { id: 'a', sandboxId: 's1' })]);
  const done = generatePodStatus(input({ pod: p, rp: r2 }));
  assert.equal(done.phase, 'Running');
  assert.equal(cond(done, 'Initialized').status, 'True');
  assert.equal(cond(done, 'Initialized').reason, undefined);
  assert.equal(cond(done, 'Initialized').message, undefined);
  assert.equal(cond(done, 'Ready').status, 'True');
});

test('init containers that succeeded only in an earlier sandbox do not count', () => {
  const p = pod({ initContainers: [init1] });
  const r = rp([sandbox('s1', 1), sandbox('s0', 0, 'notready')], [exited(init1, 'i0', 's0', 0, 0, true), exited(app, 'a0', 's0', 137, 0)]);
  const s = generatePodStatus(input({ pod: p, rp: r }));
  assert.equal(cond(s, 'Initialized').status, 'False');
  assert.equal(s.phase, 'Pending');
});

test('a running container: started and ready without probes, ids in docker:// form', () => {
  const c = ctr(app, { id: 'abc123', sandboxId: 's1', attempt: 2 });
  const s = generatePodStatus(input({ pod: pod(), rp: rp([sandbox('s1', 0)], [c]), podIP: '10.244.0.7' }));
  const st = cs(s, 'app');
  assert.equal(s.phase, 'Running');
  assert.deepEqual(st.state, { running: { startedAt: '2024-05-01T10:00:02Z' } });
  assert.equal(st.containerID, 'docker://abc123');
  assert.equal(st.imageID, 'docker-pullable://sha256:feed');
  assert.equal(st.restartCount, 2, 'restartCount is the attempt');
  assert.equal(st.started, true);
  assert.equal(st.ready, true);
  assert.deepEqual(st.lastState, {});
  for (const t of ['Ready', 'ContainersReady', 'PodReadyToStartContainers', 'Initialized']) assert.equal(cond(s, t).status, 'True', t);
  assert.equal(cond(s, 'Ready').reason, undefined);
  assert.equal(cond(s, 'Ready').message, undefined);
  assert.equal(s.podIP, '10.244.0.7');
  assert.deepEqual(s.podIPs, [{ ip: '10.244.0.7' }]);
});

test('readiness: only a true result from the readiness probe makes the container ready', () => {
  const withProbe = pod({ containers: [{ ...app, readinessProbe: { exec: { command: ['true'] } } }] });
  const r = rp([sandbox('s1', 0)], [ctr(app, { id: 'c1', sandboxId: 's1' })]);
  const results: [Map<string, boolean>, boolean][] = [
    [new Map(), false],
    [new Map([['c1', false]]), false],
    [new Map([['other', true]]), false],
    [new Map([['c1', true]]), true],
  ];
  for (const [ready, want] of results) {
    const s = generatePodStatus(input({ pod: withProbe, rp: r, ready }));
    assert.equal(cs(s, 'app').ready, want, JSON.stringify([...ready]));
    assert.equal(cond(s, 'Ready').status, want ? 'True' : 'False');
    assert.equal(s.phase, 'Running', 'readiness never changes the phase');
  }
});

test('startup probe: not started (and so not ready) until it passed', () => {
  const p = pod({ containers: [{ ...app, startupProbe: { exec: { command: ['true'] } } }] });
  const r = rp([sandbox('s1', 0)], [ctr(app, { id: 'c1', sandboxId: 's1' })]);
  const before = cs(generatePodStatus(input({ pod: p, rp: r })), 'app');
  assert.equal(before.started, false);
  assert.equal(before.ready, false);
  const after = cs(generatePodStatus(input({ pod: p, rp: r, started: new Map([['c1', true]]) })), 'app');
  assert.equal(after.started, true);
  assert.equal(after.ready, true);
});

test('a running container outside the ready sandbox is not ready', () => {
  const r = rp([sandbox('s1', 1), sandbox('s0', 0, 'notready')], [ctr(app, { id: 'c0', sandboxId: 's0' })]);
  const s = generatePodStatus(input({ pod: pod(), rp: r }));
  assert.equal(cs(s, 'app').ready, false);
});

test('terminated reasons: Completed, Error, OOMKilled, ContainerCannotRun', () => {
  const cases: [Partial<ContainerStatus>, number, string, string | undefined][] = [
    [{ exitCode: 0 }, 0, 'Completed', undefined],
    [{ exitCode: 2 }, 2, 'Error', undefined],
    [{ exitCode: 137, oomKilled: true }, 137, 'OOMKilled', undefined],
    [{ exitCode: 127, error: 'exec: "nope": executable file not found in $PATH' }, 127, 'ContainerCannotRun', 'exec: "nope": executable file not found in $PATH'],
  ];
  for (const [o, code, reason, message] of cases) {
    const c = ctr(app, { id: 'x1', sandboxId: 's1', state: 'exited', ...o });
    const s = generatePodStatus(input({ pod: pod({ restartPolicy: 'Never' }), rp: rp([sandbox('s1', 0)], [c]) }));
    const t = cs(s, 'app').state.terminated;
    assert.equal(t.exitCode, code, reason);
    assert.equal(t.reason, reason);
    assert.equal(t.message, message);
    assert.equal(t.startedAt, '2024-05-01T10:00:00Z');
    assert.equal(t.finishedAt, '2024-05-01T10:00:00Z');
    assert.equal(t.containerID, 'docker://x1');
    assert.equal(cs(s, 'app').ready, false);
    assert.equal(cs(s, 'app').started, false);
  }
});

test('a waiting reason is passed through; the exited instance moves to lastState', () => {
  const crash = exited(app, 'a3', 's1', 1, 3);
  const waiting = new Map<string, Waiting>([['app', { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container=app' }]]);
  const s = generatePodStatus(input({ pod: pod({ containers: [app, side] }), rp: rp([sandbox('s1', 0)], [crash, exited(app, 'a2', 's1', 1, 2), ctr(side, { id: 'b', sandboxId: 's1' })]), waiting }));
  const st = cs(s, 'app');
  assert.deepEqual(st.state, { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container=app' } });
  assert.equal(st.lastState.terminated.reason, 'Error');
  assert.equal(st.lastState.terminated.containerID, 'docker://a3', 'lastState is the newest exited instance');
  assert.equal(st.restartCount, 3);
  assert.equal(st.ready, false);
  assert.equal(s.phase, 'Running');
  assert.equal(cond(s, 'Ready').message, 'containers with unready status: [app]');

  // A container not created yet (image pull failing) shows the reason with no lastState: Pending.
  const pull = new Map<string, Waiting>([['app', { reason: 'ErrImagePull', message: 'Failed to pull image' }]]);
  const p = generatePodStatus(input({ pod: pod(), rp: rp([sandbox('s1', 0)], []), waiting: pull }));
  assert.deepEqual(cs(p, 'app').state, { waiting: { reason: 'ErrImagePull', message: 'Failed to pull image' } });
  assert.deepEqual(cs(p, 'app').lastState, {});
  assert.equal(p.phase, 'Pending');
});

test('a restarted running container shows its previous termination in lastState', () => {
  const r = rp([sandbox('s1', 0)], [ctr(app, { id: 'a1', sandboxId: 's1', attempt: 1 }), exited(app, 'a0', 's1', 137, 0)]);
  const st = cs(generatePodStatus(input({ pod: pod(), rp: r })), 'app');
  assert.ok(st.state.running);
  assert.equal(st.lastState.terminated.exitCode, 137);
  assert.equal(st.lastState.terminated.containerID, 'docker://a0');
  assert.equal(st.restartCount, 1);
});

test('phase: Succeeded, Failed, Running and crash loops per restartPolicy', () => {
  const two = { containers: [app, side] };
  const s = 's1';
  const crashLoop = new Map<string, Waiting>([['app', { reason: 'CrashLoopBackOff' }]]);
  const cases: [string, ContainerStatus[], Map<string, Waiting>, string][] = [
    ['OnFailure', [exited(app, 'a', s, 0), exited(side, 'b', s, 0)], new Map(), 'Succeeded'],
    ['Never', [exited(app, 'a', s, 0), exited(side, 'b', s, 0)], new Map(), 'Succeeded'],
    ['Never', [exited(app, 'a', s, 1), exited(side, 'b', s, 0)], new Map(), 'Failed'],
    ['Never', [exited(app, 'a', s, 1), ctr(side, { id: 'b', sandboxId: s })], new Map(), 'Running'],
    ['OnFailure', [exited(app, 'a', s, 1), exited(side, 'b', s, 0)], new Map(), 'Running'],
    ['OnFailure', [exited(app, 'a', s, 1), exited(side, 'b', s, 0)], crashLoop, 'Running'],
    ['Always', [exited(app, 'a', s, 0), exited(side, 'b', s, 0)], new Map(), 'Running'],
    ['Always', [exited(app, 'a', s, 1), exited(side, 'b', s, 1)], crashLoop, 'Running'],
    ['Always', [exited(app, 'a', s, 1)], crashLoop, 'Pending'],
  ];
  for (const [policy, containers, waiting, phase] of cases) {
    const st = generatePodStatus(input({ pod: pod({ restartPolicy: policy, ...two }), rp: rp([sandbox(s, 0)], containers), waiting }));
    assert.equal(st.phase, phase, `${policy}: ${containers.map((c) => `${c.name}=${c.state}/${c.exitCode}`).join(' ')} ${[...waiting.keys()]}`);
  }
});

test('phase: a failed init container fails a Never pod; otherwise the pod stays Pending', () => {
  const r = rp([sandbox('s1', 0)], [exited(init1, 'i', 's1', 1, 0, true)]);
  const never = generatePodStatus(input({ pod: pod({ restartPolicy: 'Never', initContainers: [init1] }), rp: r }));
  assert.equal(never.phase, 'Failed');
  assert.equal(ics(never, 'init1').state.terminated.reason, 'Error');
  assert.equal(ics(never, 'init1').ready, false);
  for (const policy of ['OnFailure', 'Always']) {
    const st = generatePodStatus(input({ pod: pod({ restartPolicy: policy, initContainers: [init1] }), rp: r, waiting: new Map([['init1', { reason: 'CrashLoopBackOff' }]]) }));
    assert.equal(st.phase, 'Pending', policy);
    assert.deepEqual(ics(st, 'init1').state, { waiting: { reason: 'CrashLoopBackOff' } });
    assert.equal(ics(st, 'init1').lastState.terminated.exitCode, 1);
  }
});

test('getPhase on API container statuses', () => {
  const run = { state: { running: {} }, lastState: {} };
  const ok = { state: { terminated: { exitCode: 0 } }, lastState: {} };
  const bad = { state: { terminated: { exitCode: 1 } }, lastState: {} };
  const wait = { state: { waiting: { reason: 'ContainerCreating' } }, lastState: {} };
  const backoff = { state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1 } } };
  const P = (restartPolicy?: string): Obj => ({ spec: { restartPolicy } });
  assert.equal(getPhase(P(), [], true, []), 'Pending', 'no containers: nothing stopped yet');
  assert.equal(getPhase(P(), [run, wait], true, []), 'Pending', 'one not started yet');
  assert.equal(getPhase(P(), [run, backoff], true, []), 'Running');
  assert.equal(getPhase(P(), [backoff], true, []), 'Running', 'Always: all stopped means restarting');
  assert.equal(getPhase(P('OnFailure'), [ok, ok], true, []), 'Succeeded');
  assert.equal(getPhase(P('OnFailure'), [ok, backoff], true, []), 'Running');
  assert.equal(getPhase(P('Never'), [ok, bad], true, []), 'Failed');
  assert.equal(getPhase(P('Never'), [run], false, [bad]), 'Failed', 'failed init under Never');
  assert.equal(getPhase(P('OnFailure'), [wait], false, [bad]), 'Pending');
  assert.equal(getPhase(P('Never'), [wait], false, [run]), 'Pending');
});

test('Failed from the sync (init failure under Never, deadline) carries reason and message', () => {
  const r = rp([sandbox('s1', 0)], [ctr(app, { id: 'a', sandboxId: 's1' })]);
  const s = generatePodStatus(input({ pod: pod(), rp: r, failed: { reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline' } }));
  assert.equal(s.phase, 'Failed');
  assert.equal(s.reason, 'DeadlineExceeded');
  assert.equal(s.message, 'Pod was active on the node longer than the specified deadline');
  assert.equal(cond(s, 'Ready').status, 'False', 'a failed pod is never ready');
  assert.equal(cond(s, 'Ready').reason, 'PodFailed');
  assert.equal(cond(s, 'ContainersReady').reason, 'PodFailed');
});

test('a finished pod: Ready/ContainersReady False with PodCompleted or PodFailed, no message', () => {
  const done = rp([sandbox('s1', 0)], [exited(app, 'a', 's1', 0)]);
  const ok = generatePodStatus(input({ pod: pod({ restartPolicy: 'OnFailure' }), rp: done }));
  assert.equal(ok.phase, 'Succeeded');
  for (const t of ['Ready', 'ContainersReady']) {
    assert.equal(cond(ok, t).status, 'False');
    assert.equal(cond(ok, t).reason, 'PodCompleted');
    assert.equal(cond(ok, t).message, undefined);
  }
  assert.equal(cond(ok, 'PodReadyToStartContainers').status, 'False', 'its sandbox is about to be stopped');
  assert.equal(cond(ok, 'Initialized').status, 'True');

  const bad = generatePodStatus(input({ pod: pod({ restartPolicy: 'Never' }), rp: rp([sandbox('s1', 0, 'notready')], [exited(app, 'a', 's1', 3)]) }));
  assert.equal(bad.phase, 'Failed');
  assert.equal(cond(bad, 'Ready').reason, 'PodFailed');
  assert.equal(cond(bad, 'ContainersReady').reason, 'PodFailed');
  assert.equal(cond(bad, 'Ready').message, undefined);
});

test('a terminal phase never goes back', () => {
  // The API says Succeeded; a stray running instance must not make it Running again.
  const r = rp([sandbox('s1', 0)], [ctr(app, { id: 'a', sandboxId: 's1' })]);
  for (const phase of ['Succeeded', 'Failed']) {
    const s = generatePodStatus(input({ pod: pod({ restartPolicy: 'Always' }, { phase, conditions: [] }), rp: r }));
    assert.equal(s.phase, phase);
    assert.equal(cond(s, 'Ready').status, 'False');
  }
  const fromRunning = generatePodStatus(input({ pod: pod({ restartPolicy: 'Always' }, { phase: 'Running' }), rp: rp([sandbox('s1', 0)], []) }));
  assert.equal(fromRunning.phase, 'Pending', 'non-terminal phases follow the containers');
});

test('conditions keep lastTransitionTime while their status holds; PodScheduled, startTime and podIP are kept', () => {
  const oldConds = [
    { type: 'PodReadyToStartContainers', status: 'True', lastProbeTime: null, lastTransitionTime: EARLIER },
    { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: EARLIER },
    { type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: EARLIER },
    { type: 'ContainersReady', status: 'True', lastProbeTime: null, lastTransitionTime: EARLIER },
    { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: '2024-05-01T08:00:00Z' },
  ];
  const old = { phase: 'Running', conditions: oldConds, startTime: '2024-05-01T08:30:00Z', podIP: '10.244.0.9', podIPs: [{ ip: '10.244.0.9' }] };
  const p = pod({ containers: [{ ...app, readinessProbe: { exec: { command: ['true'] } } }] }, old);
  const r = rp([sandbox('s1', 0)], [ctr(app, { id: 'c1', sandboxId: 's1' })]);

  const same = generatePodStatus(input({ pod: p, rp: r, ready: new Map([['c1', true]]) }));
  for (const c of same.conditions) assert.equal(c.lastTransitionTime, c.type === 'PodScheduled' ? '2024-05-01T08:00:00Z' : EARLIER, c.type);
  assert.equal(same.startTime, '2024-05-01T08:30:00Z');
  assert.equal(same.podIP, '10.244.0.9', 'the sync did not look the IP up this time');
  assert.deepEqual(same.podIPs, [{ ip: '10.244.0.9' }]);

  const unready = generatePodStatus(input({ pod: p, rp: r, ready: new Map([['c1', false]]), podIP: '10.244.0.10' }));
  assert.equal(cond(unready, 'Ready').status, 'False');
  assert.equal(cond(unready, 'Ready').lastTransitionTime, NOW_ISO, 'status changed: new transition time');
  assert.equal(cond(unready, 'ContainersReady').lastTransitionTime, NOW_ISO);
  assert.equal(cond(unready, 'Initialized').lastTransitionTime, EARLIER);
  assert.equal(cond(unready, 'PodReadyToStartContainers').lastTransitionTime, EARLIER);
  assert.deepEqual(cond(unready, 'PodScheduled'), oldConds[4]);
  assert.equal(unready.podIP, '10.244.0.10', 'a fresh IP wins');
  assert.equal(unready.startTime, '2024-05-01T08:30:00Z');
});
