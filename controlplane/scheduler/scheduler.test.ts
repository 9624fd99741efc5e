import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { logger } from '../../common/log.js';
import { SchedulerCache } from './cache.js';
import { FakeClock } from '../../common/clock.js';
import { EventRecorder, type EventSink } from './events.js';
import { Framework } from './framework.js';
import type { V1PodCondition } from '@kubernetes/client-node';
import { newPodInfo, type PodInfo } from './podinfo.js';
import { SchedulingQueue } from './queue.js';
import { buildProfile } from './registry.js';
import { Scheduler, type SchedulerApi } from './scheduler.js';
import { makeNode, podInfo } from './testutil.js';

interface Call {
  pod: string;
  node: string;
  settle(status: number, message?: string): void;
}

/** A fake API whose bindings stay pending until the test settles them. */
function fakeApi() {
  const binds: Call[] = [];
  const patches: { pod: string; patch: Record<string, unknown> }[] = [];
  const api: SchedulerApi = {
    bind: (pi: PodInfo, node: string) =>
      new Promise((resolve) => binds.push({ pod: pi.name, node, settle: (status, message) => resolve({ status, message }) })),
    patchStatus: async (pi, patch) => (patches.push({ pod: pi.name, patch }), { status: 200 }),
  };
  return { api, binds, patches };
}

function fakeSink() {
  const created: Record<string, unknown>[] = [];
  const patched: { name: string; patch: Record<string, unknown> }[] = [];
  const sink: EventSink = {
    create: async (_ns, ev) => (created.push(ev), 201),
    patch: async (_ns, name, patch) => (patched.push({ name, patch }), 200),
  };
  return { sink, created, patched };
}

function setup(nodes = [makeNode('n1', { cpu: '1' }), makeNode('n2', { cpu: '1' })]) {
  const clock = new FakeClock();
  const cache = new SchedulerCache();
  for (const n of nodes) cache.setNode(n);
  const profile = buildProfile();
  const queue = new SchedulingQueue({ clock, pluginEvents: profile.events });
  const { api, binds, patches } = fakeApi();
  const events = fakeSink();
  const recorder = new EventRecorder(events.sink, { clock });
  const scheduler = new Scheduler({ cache, queue, framework: new Framework(profile), api, recorder, clock, log: logger('scheduler-test') });
  /** Pops and schedules everything that is ready. */
  const drain = (): void => {
    for (let q = queue.pop(); q; q = queue.pop()) scheduler.scheduleOne(q);
  };
  return { clock, cache, queue, scheduler, binds, patches, events, recorder, drain };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('Scheduler', () => {
  it('never over-commits a node while bindings are in flight (assume cache)', async () => {
    const t = setup();
    for (let i = 0; i < 5; i++) t.queue.add(podInfo(`p${i}`, { cpu: '400m' }));
    t.drain();
    // Four fit (two per 1-cpu node) before any binding answered; the fifth does not.
    assert.equal(t.binds.length, 4);
    const perNode = new Map<string, number>();
    for (const b of t.binds) perNode.set(b.node, (perNode.get(b.node) ?? 0) + 1);
    assert.deepEqual([...perNode.values()], [2, 2]);
    assert.equal(t.scheduler.stats.unschedulable, 1);
    await t.recorder.flush();
    const failed = t.events.created.find((e) => e.reason === 'FailedScheduling');
    assert.equal(failed?.message, '0/2 nodes are available: 2 Insufficient cpu.');
    assert.deepEqual(t.patches[0].patch, {
      status: { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/2 nodes are available: 2 Insufficient cpu.', lastProbeTime: null, lastTransitionTime: '2025-01-01T00:00:00Z' }] },
    });
    for (const b of t.binds) b.settle(201);
    await tick();
    assert.equal(t.scheduler.stats.bound, 4);
    await t.recorder.flush();
    assert.equal(t.events.created.filter((e) => e.reason === 'Scheduled').length, 4);
    assert.match(String(t.events.created.find((e) => e.reason === 'Scheduled')?.message), /^Successfully assigned default\/p\d to n[12]$/);
  });

  it('drops a pod whose binding answers 409 and frees what it assumed', async () => {
    const t = setup([makeNode('n1', { cpu: '1' })]);
    const p = podInfo('p', { cpu: '1' });
    t.queue.add(p);
    t.drain();
    t.binds[0].settle(409, 'pod p is already assigned to node "other"');
    await tick();
    assert.equal(t.cache.hasPod(p.uid), false);
    assert.equal(t.cache.nodeInfo('n1')?.reqMilliCPU, 0);
    assert.equal(t.queue.has(p.uid), false, 'not retried');
    assert.equal(t.scheduler.stats.conflicts, 1);
  });

  it('retries after backoff when a binding fails otherwise', async () => {
    const t = setup([makeNode('n1', { cpu: '1' })]);
    const p = podInfo('p', { cpu: '1' });
    t.queue.add(p);
    t.drain();
    t.binds[0].settle(500, 'etcdserver: request timed out');
    await tick();
    assert.equal(t.cache.hasPod(p.uid), false, 'assumption forgotten');
    assert.equal(t.scheduler.stats.bindErrors, 1);
    t.drain();
    assert.equal(t.binds.length, 1, 'still backing off');
    t.clock.advance(1000);
    t.drain();
    assert.equal(t.binds.length, 2);
    t.binds[1].settle(201);
    await tick();
    assert.equal(t.scheduler.stats.bound, 1);
  });

  it('retries an unschedulable pod when a node grows, aggregating its FailedScheduling event', async () => {
    const t = setup([makeNode('n1', { cpu: '1' })]);
    const p = podInfo('big', { cpu: '2' });
    t.queue.add(p);
    t.drain();
    // The informer brings the pod back with the condition the scheduler patched.
    const cond = (t.patches[0].patch.status as { conditions: V1PodCondition[] }).conditions[0];
    t.queue.add(newPodInfo({ ...p.pod, status: { phase: 'Pending', conditions: [cond] } }));
    t.clock.advance(2000);
    t.queue.moveAllToActiveOrBackoff('AssignedPodDelete'); // frees room elsewhere, still too small
    t.drain();
    assert.equal(t.scheduler.stats.unschedulable, 2);
    await t.recorder.flush();
    assert.equal(t.events.created.length, 1, 'one Event object');
    assert.deepEqual(
      t.events.patched.map((x) => x.patch.count),
      [2],
    );
    const ev = t.events.created[0] as { involvedObject: Record<string, unknown>; source: Record<string, unknown>; count: number; type: string };
    assert.deepEqual(ev.source, { component: 'default-scheduler' });
    assert.equal(ev.type, 'Warning');
    assert.equal(ev.involvedObject.uid, p.uid);
    assert.equal(t.patches.length, 1, 'the condition already says so: no second patch');
    t.cache.setNode(makeNode('n1', { cpu: '4' }));
    t.queue.moveAllToActiveOrBackoff('NodeUpdate');
    t.clock.advance(10_000);
    t.drain();
    assert.equal(t.binds.at(-1)?.pod, 'big');
  });

  it('runs until the queue closes', async () => {
    const t = setup();
    const loop = t.scheduler.run();
    t.queue.add(podInfo('a', { cpu: '100m' }));
    while (t.binds.length === 0) await tick();
    t.binds[0].settle(201);
    t.queue.close();
    t.scheduler.wake();
    await loop;
    await t.scheduler.drain();
    assert.equal(t.scheduler.stats.bound, 1);
  });
});
