import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from './clock.js';
import { ExponentialBackoff, WorkQueue } from './workqueue.js';

test('dedupes keys that are waiting', async () => {
  const q = new WorkQueue({ clock: new FakeClock() });
  q.add('a');
  q.add('b');
  q.add('a');
  assert.equal(q.len(), 2);
  assert.equal(await q.get(), 'a');
  assert.equal(await q.get(), 'b');
  assert.equal(q.len(), 0);
});

test('never hands one key to two workers; a re-add while processing comes back after done', async () => {
  const q = new WorkQueue({ clock: new FakeClock() });
  q.add('a');
  const k = await q.get();
  assert.equal(k, 'a');
  q.add('a');
  q.add('a');
  assert.equal(q.len(), 0, 'parked, not queued, while a worker has it');
  let second: string | undefined;
  void q.get().then((x) => (second = x));
  await new Promise((r) => setImmediate(r));
  assert.equal(second, undefined, 'no second worker gets it');
  q.done('a');
  await new Promise((r) => setImmediate(r));
  assert.equal(second, 'a', 'handed out again once, after done');
  q.done('a');
  assert.equal(q.len(), 0);
});

test('a waiting worker is woken by add', async () => {
  const q = new WorkQueue({ clock: new FakeClock() });
  const p = q.get();
  q.add('x');
  assert.equal(await p, 'x');
});

test('addAfter waits on the clock and keeps the earliest delay', async () => {
  const clock = new FakeClock();
  const q = new WorkQueue({ clock });
  q.addAfter('a', 1000);
  q.addAfter('a', 5000);
  q.addAfter('a', 500);
  clock.advance(499);
  assert.equal(q.len(), 0);
  clock.advance(1);
  assert.equal(q.len(), 1);
  clock.advance(10_000);
  assert.equal(q.len(), 1, 'the replaced timers never fire');
});

test('addRateLimited backs off exponentially until forget', async () => {
  const clock = new FakeClock();
  const q = new WorkQueue({ clock, backoff: new ExponentialBackoff(10, 100) });
  const delays: number[] = [];
  for (let i = 0; i < 6; i++) {
    const before = clock.now();
    q.addRateLimited('k');
    let waited = 0;
    while (q.len() === 0) {
      clock.advance(1);
      waited++;
    }
    delays.push(clock.now() - before);
    q.done((await q.get())!);
    assert.ok(waited > 0);
  }
  assert.deepEqual(delays, [10, 20, 40, 80, 100, 100]);
  assert.equal(q.numRequeues('k'), 6);
  q.forget('k');
  assert.equal(q.numRequeues('k'), 0);
});

test('shutDown wakes idle workers, drops delayed keys and waits for work in flight', async () => {
  const clock = new FakeClock();
  const q = new WorkQueue({ clock });
  q.add('busy');
  const k = await q.get();
  const idle = q.get();
  q.addAfter('later', 100);
  let drained = false;
  const done = q.shutDown().then(() => (drained = true));
  assert.equal(await idle, undefined);
  assert.equal(clock.pending(), 0);
  q.add('ignored');
  assert.equal(q.len(), 0);
  await new Promise((r) => setImmediate(r));
  assert.equal(drained, false, 'waits for the key being processed');
  q.done(k!);
  await done;
  assert.equal(drained, true);
  assert.equal(await q.get(), undefined);
});

test('FakeClock fires timers in time order, including ones scheduled while advancing', () => {
  const clock = new FakeClock(0);
  const seen: string[] = [];
  clock.after(20, () => seen.push('b'));
  clock.after(10, () => {
    seen.push('a');
    clock.after(5, () => seen.push('a+5'));
  });
  const c = clock.after(15, () => seen.push('cancelled'));
  c.cancel();
  clock.advance(30);
  assert.deepEqual(seen, ['a', 'a+5', 'b']);
  assert.equal(clock.now(), 30);
});
