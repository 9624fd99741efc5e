import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../common/clock.js';
import type { Obj } from './fieldpath.js';
import type { Outcome } from './probe-handlers.js';
import { ProbeManager, judge, probeTiming, type ProbeEvent, type ProbeType } from './probes.js';

test('probeTiming: API defaults and given values', () => {
  assert.deepEqual(probeTiming({}), { initialDelayMs: 0, periodMs: 10_000, timeoutMs: 1000, successThreshold: 1, failureThreshold: 3 });
  assert.deepEqual(probeTiming({ initialDelaySeconds: 5, periodSeconds: 2, timeoutSeconds: 3, successThreshold: 2, failureThreshold: 1 }), {
    initialDelayMs: 5000,
    periodMs: 2000,
    timeoutMs: 3000,
    successThreshold: 2,
    failureThreshold: 1,
  });
});

test('judge: consecutive runs against the thresholds', () => {
  const t = { successThreshold: 2, failureThreshold: 3 };
  let r = judge({ run: 0 }, 'failure', t);
  assert.deepEqual(r, { state: { last: 'failure', run: 1 } });
  r = judge(r.state, 'failure', t);
  r = judge(r.state, 'failure', t);
  assert.equal(r.commit, 'failure');
  r = judge(r.state, 'success', t);
  assert.equal(r.commit, undefined);
  r = judge(r.state, 'success', t);
  assert.equal(r.commit, 'success');
  assert.equal(judge(r.state, 'success', t).commit, 'success');
});

/** A manager over a scripted prober: each probe type answers from its queue (default: the last answer). */
function harness() {
  const clock = new FakeClock(0);
  const answers: Record<ProbeType, (Outcome | Error)[]> = { liveness: [], readiness: [], startup: [] };
  const calls: { type: ProbeType; at: number; id: string }[] = [];
  const changes: string[] = [];
  const kills: string[] = [];
  const events: ProbeEvent[] = [];
  const last: Partial<Record<ProbeType, Outcome | Error>> = {};
  const pm = new ProbeManager({
    clock,
    prober: async (type, _probe, target) => {
      calls.push({ type, at: clock.now(), id: target.containerId });
      const a = answers[type].length ? answers[type].shift()! : last[type];
      last[type] = a;
      if (!a) throw new Error(`no answer scripted for ${type}`);
      if (a instanceof Error) throw a;
      return a;
    },
    onChange: (uid) => changes.push(uid),
    onLivenessFailure: (uid, c, msg) => kills.push(`${uid}/${c}: ${msg}`),
    onEvent: (_uid, _c, e) => events.push(e),
  });
  // One period at a time: a probe's answer arrives after advance() returns, and only then is the next one scheduled.
  const step = async (ms: number, times = 1): Promise<void> => {
    for (let i = 0; i < times; i++) {
      clock.advance(ms);
      await pm.idle();
    }
  };
  return { clock, pm, answers, calls, changes, kills, events, step };
}

const ok: Outcome = { result: 'success', output: '' };
const bad: Outcome = { result: 'failure', output: 'HTTP probe failed with statuscode: 500' };
const pod = (container: Obj): Obj => ({ metadata: { uid: 'u1', name: 'p', namespace: 'ns' }, spec: { containers: [{ name: 'app', ...container }] } });

test('readiness: not ready until the first success; initial delay, period, thresholds', async () => {
  const h = harness();
  h.answers.readiness.push(bad, ok, ok, bad, bad, bad);
  h.pm.containerStarted(pod({ readinessProbe: { initialDelaySeconds: 5, periodSeconds: 2, successThreshold: 2, failureThreshold: 3 } }), 'app', { containerId: 'c1', startedAt: 0 });
  assert.deepEqual(h.pm.status('u1', 'app'), { started: true, ready: false });
  await h.step(4999);
  assert.equal(h.calls.length, 0);
  await h.step(1); // t=5000: failure
  await h.step(2000); // t=7000: success 1 of 2
  assert.equal(h.pm.status('u1', 'app').ready, false);
  await h.step(2000); // t=9000: success 2 of 2
  assert.equal(h.pm.status('u1', 'app').ready, true);
  assert.deepEqual(h.changes, ['u1']);
  assert.deepEqual(h.calls.map((c) => c.at), [5000, 7000, 9000]);
  await h.step(2000, 2); // two failures: still ready
  assert.equal(h.pm.status('u1', 'app').ready, true);
  await h.step(2000); // third failure
  assert.equal(h.pm.status('u1', 'app').ready, false);
  assert.deepEqual(h.changes, ['u1', 'u1']);
  assert.equal(h.events.filter((e) => e.message === 'Readiness probe failed: HTTP probe failed with statuscode: 500').length, 4);
  assert.deepEqual(h.kills, []);
  h.pm.stop();
});

test('liveness: callback once at the threshold, then held until a new container', async () => {
  const h = harness();
  h.answers.liveness.push(ok, bad, bad, bad);
  const p = pod({ livenessProbe: { periodSeconds: 10, failureThreshold: 3 } });
  h.pm.containerStarted(p, 'app', { containerId: 'c1', startedAt: 0 });
  await h.step(0);
  await h.step(10_000, 2);
  assert.deepEqual(h.kills, []);
  await h.step(10_000);
  assert.deepEqual(h.kills, ['u1/app: Container app failed liveness probe, will be restarted']);
  await h.step(10_000, 6);
  assert.equal(h.calls.length, 4, 'no probes while the container is being restarted');
  // The same container again changes nothing; a new one starts over.
  h.pm.containerStarted(p, 'app', { containerId: 'c1', startedAt: 0 });
  h.answers.liveness.push(ok);
  h.pm.containerStarted(p, 'app', { containerId: 'c2', startedAt: h.clock.now() });
  await h.step(0);
  assert.equal(h.calls.at(-1)!.id, 'c2');
  assert.equal(h.kills.length, 1);
  h.pm.stop();
});

test('startup gates liveness and readiness; its worker stops after success; its failure restarts', async () => {
  const h = harness();
  h.answers.startup.push(bad, bad, ok);
  h.answers.readiness.push(ok);
  h.answers.liveness.push(ok);
  h.pm.containerStarted(
    pod({ startupProbe: { periodSeconds: 1, failureThreshold: 30 }, readinessProbe: { periodSeconds: 1 }, livenessProbe: { periodSeconds: 1 } }),
    'app',
    { containerId: 'c1', startedAt: 0 },
  );
  assert.deepEqual(h.pm.status('u1', 'app'), { started: false, ready: false });
  await h.step(0);
  await h.step(1000);
  assert.deepEqual(new Set(h.calls.map((c) => c.type)), new Set(['startup']));
  await h.step(1000); // startup succeeds at t=2000
  assert.deepEqual(h.pm.status('u1', 'app'), { started: true, ready: false });
  await h.step(1000);
  assert.deepEqual(h.pm.status('u1', 'app'), { started: true, ready: true });
  await h.step(1000, 5);
  assert.equal(h.calls.filter((c) => c.type === 'startup').length, 3);
  assert.ok(h.calls.filter((c) => c.type === 'liveness').length >= 5);
  assert.deepEqual(h.changes, ['u1', 'u1']);
  h.pm.stop();

  const f = harness();
  f.answers.startup.push(bad);
  f.pm.containerStarted(pod({ startupProbe: { periodSeconds: 1, failureThreshold: 2 }, livenessProbe: {} }), 'app', { containerId: 'c1', startedAt: 0 });
  await f.step(0);
  await f.step(1000);
  assert.deepEqual(f.kills, ['u1/app: Container app failed startup probe, will be restarted']);
  assert.ok(f.calls.every((c) => c.type === 'startup'));
  f.pm.stop();
});

test('a probe that errors is discarded; a warning counts as success', async () => {
  const h = harness();
  h.answers.readiness.push(new Error("couldn't find port: web in container app"), { result: 'warning', output: 'Probe terminated redirects' });
  h.pm.containerStarted(pod({ readinessProbe: { periodSeconds: 1 } }), 'app', { containerId: 'c1', startedAt: 0 });
  await h.step(0);
  assert.equal(h.pm.status('u1', 'app').ready, false);
  assert.equal(h.events[0].message, "Readiness probe errored: couldn't find port: web in container app");
  await h.step(1000);
  assert.equal(h.pm.status('u1', 'app').ready, true);
  assert.equal(h.events[1].reason, 'ProbeWarning');
  h.pm.stop();
});

test('containerStopped and removePod stop the workers; no probe overlaps a slow one', async () => {
  const h = harness();
  h.answers.readiness.push(ok);
  h.pm.containerStarted(pod({ readinessProbe: { periodSeconds: 1 } }), 'app', { containerId: 'c1', startedAt: 0 });
  await h.step(0);
  assert.equal(h.pm.status('u1', 'app').ready, true);
  h.pm.containerStopped('u1', 'app');
  assert.deepEqual(h.pm.status('u1', 'app'), { started: false, ready: false });
  assert.deepEqual(h.changes, ['u1', 'u1']);
  const n = h.calls.length;
  await h.step(10_000);
  assert.equal(h.calls.length, n);
  assert.equal(h.clock.pending(), 0);

  // A probe that has not answered yet: time passes, no second call starts.
  const clock = new FakeClock(0);
  let release!: () => void;
  let calls = 0;
  const pm = new ProbeManager({
    clock,
    prober: () => {
      calls++;
      return new Promise((resolve) => (release = () => resolve(ok)));
    },
    onChange: () => {},
    onLivenessFailure: () => {},
  });
  pm.containerStarted(pod({ livenessProbe: { periodSeconds: 1 } }), 'app', { containerId: 'c1', startedAt: 0 });
  clock.advance(5000);
  assert.equal(calls, 1);
  release();
  await pm.idle();
  // The slow probe took longer than its period: the next one starts at once.
  clock.advance(0);
  assert.equal(calls, 2);
  pm.removePod('u1');
  release();
  await pm.idle();
  assert.equal(clock.pending(), 0);
});

test('unknown container and missing prober are errors', () => {
  const h = harness();
  assert.throws(() => h.pm.containerStarted(pod({}), 'nope', { containerId: 'x' }), /container nope is not in pod ns\/p/);
  assert.throws(() => new ProbeManager({ onChange: () => {}, onLivenessFailure: () => {} }), /needs a runtime or a prober/);
});
