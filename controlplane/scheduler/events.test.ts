import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../common/clock.js';
import { EventRecorder, type EventSink } from './events.js';

const target = { namespace: 'default', name: 'web-1', uid: 'u1' };

function sink(statuses: { create?: number[]; patch?: number[] } = {}) {
  const log: string[] = [];
  const bodies: Record<string, unknown>[] = [];
  const s: EventSink = {
    create: async (ns, ev) => {
      log.push(`create ${ns} ${String((ev.metadata as { name: string }).name).split('.')[0]} count=${ev.count}`);
      bodies.push(ev);
      return statuses.create?.shift() ?? 201;
    },
    patch: async (ns, name, p) => {
      log.push(`patch ${ns} ${name.split('.')[0]} count=${p.count}`);
      return statuses.patch?.shift() ?? 200;
    },
  };
  return { s, log, bodies };
}

describe('EventRecorder', () => {
  it('writes a core/v1 Event as kube-scheduler does', async () => {
    const clock = new FakeClock(Date.parse('2025-01-01T00:00:00Z'));
    const { s, bodies } = sink();
    const r = new EventRecorder(s, { clock });
    r.record({ ...target, resourceVersion: '42' }, 'Normal', 'Scheduled', 'Successfully assigned default/web-1 to n1');
    await r.flush();
    const ev = bodies[0];
    assert.match(String((ev.metadata as { name: string }).name), /^web-1\.[0-9a-f]+$/);
    assert.deepEqual(
      { ...ev, metadata: undefined, reportingInstance: undefined },
      {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: undefined,
        involvedObject: { kind: 'Pod', apiVersion: 'v1', namespace: 'default', name: 'web-1', uid: 'u1', resourceVersion: '42' },
        reason: 'Scheduled',
        message: 'Successfully assigned default/web-1 to n1',
        type: 'Normal',
        source: { component: 'default-scheduler' },
        firstTimestamp: '2025-01-01T00:00:00Z',
        lastTimestamp: '2025-01-01T00:00:00Z',
        count: 1,
        reportingComponent: 'default-scheduler',
        reportingInstance: undefined,
      },
    );
  });

  it('aggregates repeats into one Event, coalescing while a write is pending', async () => {
    const clock = new FakeClock();
    const { s, log } = sink();
    const r = new EventRecorder(s, { clock });
    r.record(target, 'Warning', 'FailedScheduling', '0/1 nodes are available: 1 Insufficient cpu.');
    r.record(target, 'Warning', 'FailedScheduling', '0/1 nodes are available: 1 Insufficient cpu.');
    await r.flush();
    r.record(target, 'Warning', 'FailedScheduling', '0/2 nodes are available: 2 Insufficient cpu.');
    await r.flush();
    assert.deepEqual(log, ['create default web-1 count=1', 'patch default web-1 count=2', 'patch default web-1 count=3']);
    r.record(target, 'Normal', 'Scheduled', 'Successfully assigned default/web-1 to n1');
    await r.flush();
    assert.equal(log.at(-1), 'create default web-1 count=1', 'another reason is another Event');
  });

  it('recreates an Event that disappeared', async () => {
    const { s, log } = sink({ patch: [404] });
    const r = new EventRecorder(s, { clock: new FakeClock() });
    r.record(target, 'Warning', 'FailedScheduling', 'm');
    await r.flush();
    r.record(target, 'Warning', 'FailedScheduling', 'm');
    await r.flush();
    assert.deepEqual(log, ['create default web-1 count=1', 'patch default web-1 count=2', 'create default web-1 count=2']);
  });

  it('drops new events beyond the queue bound instead of piling up', async () => {
    const { s, log } = sink();
    const r = new EventRecorder(s, { clock: new FakeClock(), maxQueued: 3, concurrency: 1 });
    for (let i = 0; i < 10; i++) r.record({ ...target, name: `p${i}`, uid: `u${i}` }, 'Normal', 'Scheduled', 'x');
    await r.flush();
    // One went straight into the writer, three waited, six were dropped.
    assert.equal(log.length, 4);
    assert.equal(r.stats.dropped, 6);
    assert.equal(r.stats.created, 4);
  });
});
