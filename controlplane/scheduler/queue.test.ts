import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../common/clock.js';
import { SchedulingQueue } from './queue.js';
import { buildProfile } from './registry.js';
import { podInfo } from './testutil.js';
import { newPodInfo } from './podinfo.js';

const events = buildProfile().events;

function setup(): { clock: FakeClock; q: SchedulingQueue } {
  const clock = new FakeClock();
  return { clock, q: new SchedulingQueue({ clock, pluginEvents: events }) };
}

const names = (q: SchedulingQueue): string[] => {
  const out: string[] = [];
  for (let p = q.pop(); p; p = q.pop()) {
    out.push(p.pi.name);
    q.done(p.pi.uid);
  }
  return out;
};

describe('SchedulingQueue', () => {
  it('pops higher priority first, then oldest first, without duplicates', () => {
    const { clock, q } = setup();
    const a = podInfo('a');
    q.add(a);
    clock.advance(1);
    q.add(podInfo('b', { priority: 10 }));
    clock.advance(1);
    q.add(podInfo('c'));
    q.add(a); // a newer version of a pod already queued replaces it in place
    assert.deepEqual(names(q), ['b', 'a', 'c']);
  });

  it('backs off 1 s doubling to 10 s', () => {
    const { q } = setup();
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => q.backoffDuration(n)), [1000, 2000, 4000, 8000, 10000, 10000]);
  });

  it('retries after an error once the backoff expires, driven by the clock', () => {
    const { clock, q } = setup();
    const p = podInfo('p');
    q.add(p);
    assert.equal(q.pop()?.attempts, 1);
    q.requeueAfterError(p.uid);
    assert.equal(q.pop(), undefined);
    assert.deepEqual(q.stats(), { active: 0, backoff: 1, unschedulable: 0, inFlight: 0 });
    clock.advance(999);
    assert.equal(q.pop(), undefined);
    clock.advance(1);
    const again = q.pop();
    assert.equal(again?.attempts, 2);
    q.requeueAfterError(p.uid);
    clock.advance(1999);
    assert.equal(q.pop(), undefined, 'second failure: 2 s');
    clock.advance(1);
    assert.equal(q.pop()?.pi.name, 'p');
  });

  it('parks unschedulable pods until an event relevant to the rejecting plugins', () => {
    const { clock, q } = setup();
    const p = podInfo('p');
    q.add(p);
    q.pop();
    q.requeueUnschedulable(p.uid, new Set(['NodeResourcesFit']));
    clock.advance(60_000);
    assert.equal(q.pop(), undefined, 'no event, no retry');
    q.moveAllToActiveOrBackoff('AssignedPodAdd');
    assert.equal(q.stats().unschedulable, 1, 'a new pod elsewhere cannot free resources');
    q.moveAllToActiveOrBackoff('AssignedPodDelete');
    assert.equal(q.pop()?.pi.name, 'p');
  });

  it('sends moved pods still backing off to backoff first', () => {
    const { clock, q } = setup();
    const p = podInfo('p');
    q.add(p);
    q.pop();
    q.requeueUnschedulable(p.uid, new Set(['TaintToleration']));
    clock.advance(500);
    q.moveAllToActiveOrBackoff('NodeUpdate');
    assert.deepEqual(q.stats(), { active: 0, backoff: 1, unschedulable: 0, inFlight: 0 });
    clock.advance(500);
    assert.equal(q.pop()?.pi.name, 'p');
  });

  it('does not lose an event that happened while the pod was in flight', () => {
    const { clock, q } = setup();
    const p = podInfo('p');
    q.add(p);
    q.pop();
    q.moveAllToActiveOrBackoff('NodeAdd'); // e.g. a node joined during the cycle
    q.requeueUnschedulable(p.uid, new Set(['NodeResourcesFit']));
    assert.deepEqual(q.stats(), { active: 0, backoff: 1, unschedulable: 0, inFlight: 0 });
    clock.advance(1000);
    assert.equal(q.pop()?.pi.name, 'p');
  });

  it('retries any unschedulable pod after 5 minutes without events', () => {
    const { clock, q } = setup();
    const p = podInfo('p');
    q.add(p);
    q.pop();
    q.requeueUnschedulable(p.uid, new Set(['NodeAffinity']));
    clock.advance(4 * 60_000);
    assert.equal(q.pop(), undefined);
    clock.advance(90_000); // the 30 s flush after the 5-minute mark
    assert.equal(q.pop()?.pi.name, 'p');
  });

  it('moves an unschedulable pod whose spec changed, not one that only changed status', () => {
    const { q } = setup();
    const p = podInfo('p');
    q.add(p);
    q.pop();
    q.requeueUnschedulable(p.uid, new Set(['TaintToleration']));
    q.add(newPodInfo({ ...p.pod, status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False' }] } }));
    assert.equal(q.stats().unschedulable, 1);
    q.add(newPodInfo({ ...p.pod, spec: { ...p.pod.spec!, tolerations: [{ operator: 'Exists' }] } }));
    assert.equal(q.stats().unschedulable, 0);
  });

  it('retries after backoff a pod whose spec changed while it was in flight', () => {
    const { clock, q } = setup();
    const p = podInfo('p');
    q.add(p);
    q.pop();
    q.add(newPodInfo({ ...p.pod, spec: { ...p.pod.spec!, tolerations: [{ operator: 'Exists' }] } }));
    q.requeueUnschedulable(p.uid, new Set(['TaintToleration']));
    assert.deepEqual(q.stats(), { active: 0, backoff: 1, unschedulable: 0, inFlight: 0 });
    clock.advance(1000);
    assert.equal(q.pop()?.pi.tolerations.length, 1);
  });

  it('forgets pods deleted while in flight', () => {
    const { q } = setup();
    const p = podInfo('p');
    q.add(p);
    q.pop();
    q.delete(p.uid);
    q.requeueUnschedulable(p.uid, new Set());
    q.requeueAfterError(p.uid);
    assert.deepEqual(q.stats(), { active: 0, backoff: 0, unschedulable: 0, inFlight: 0 });
    assert.equal(q.has(p.uid), false);
  });

  it('keeps the newest version of a pod updated while in flight', () => {
    const { clock, q } = setup();
    const p = podInfo('p');
    q.add(p);
    q.pop();
    q.add(newPodInfo({ ...p.pod, metadata: { ...p.pod.metadata, labels: { v: '2' } } }));
    q.requeueAfterError(p.uid);
    clock.advance(1000);
    assert.equal(q.pop()?.pi.labels.v, '2');
  });

  it('wakes a waiting loop on add and on close', async () => {
    const { q } = setup();
    const w = q.wait();
    q.add(podInfo('p'));
    await w;
    q.pop();
    const w2 = q.wait();
    q.close();
    await w2;
    q.add(podInfo('late'));
    assert.equal(q.pop(), undefined);
  });
});
