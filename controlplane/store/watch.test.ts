import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SqliteStore } from './sqlite.js';
import { deadline, drain, take } from './test-helpers.js';
import { CompactedError } from './types.js';
import type { WatchEvent, WriteResult } from './types.js';

function revisions(evs: WatchEvent[]): number[] {
  return evs.map((e) => e.revision);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function writtenRevision(r: WriteResult): number {
  assert.equal(r.ok, true);
  return r.ok ? r.revision : -1;
}

describe('SqliteStore watch', () => {
  it('delivers create, update and delete events with prev values', async () => {
    const s = SqliteStore.open(':memory:');
    const w = await s.watch('/e/', { afterRevision: await s.currentRevision() });
    const c = await s.create('/e/k', 'v1');
    const u = await s.update('/e/k', 'v2', writtenRevision(c));
    const d = await s.delete('/e/k');
    await s.create('/other', 'ignored');
    const [ec, eu, ed] = await take(w, 3);
    assert.deepEqual(ec, { type: 'create', revision: 1, kv: { key: '/e/k', value: 'v1', createRevision: 1, modRevision: 1 } });
    assert.equal(writtenRevision(u), 2);
    assert.deepEqual(eu, {
      type: 'update',
      revision: 2,
      kv: { key: '/e/k', value: 'v2', createRevision: 1, modRevision: 2 },
      prev: { key: '/e/k', value: 'v1', createRevision: 1, modRevision: 1 },
    });
    assert.equal(d.ok && d.revision, 3);
    assert.deepEqual(ed, {
      type: 'delete',
      revision: 3,
      kv: { key: '/e/k', value: 'v2', createRevision: 1, modRevision: 3 },
      prev: { key: '/e/k', value: 'v2', createRevision: 1, modRevision: 2 },
    });
    await s.close();
    assert.equal(w.closeReason, 'store-closed');
  });

  it('delivers many concurrent writes in revision order', async () => {
    const s = SqliteStore.open(':memory:');
    const w = await s.watch('/o/', { afterRevision: 0 });
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => s.create(`/o/${i % 37}/${i}`, String(i))));
    const evs = await take(w, 500);
    assert.deepEqual(revisions(evs), range(1, 500));
    // The event at each revision is the write that got it.
    for (const r of results) {
      assert.ok(r.ok);
      assert.equal(evs[r.revision - 1]?.kv.key, r.kv.key);
    }
    await s.close();
  });

  it('replays from a past revision, then continues live with no gap and no duplicate', async () => {
    const s = SqliteStore.open(':memory:');
    // More history than one replay page, interleaved with keys outside the prefix.
    for (let i = 0; i < 700; i++) await s.create(i % 3 === 0 ? `/skip/${i}` : `/p/${i}`, String(i));
    const from = 100;
    const inFlight: Promise<WriteResult>[] = [];
    // Writes submitted but not yet committed while the watch registers: they must arrive live, once.
    for (let i = 0; i < 50; i++) inFlight.push(s.create(`/p/live-a/${i}`, ''));
    const w = await s.watch('/p/', { afterRevision: from });
    for (let i = 0; i < 50; i++) inFlight.push(s.create(`/p/live-b/${i}`, ''));
    // Consume while more writes commit, so replay pages and live events interleave.
    const got: WatchEvent[] = [];
    const readAll = (async () => {
      for await (const ev of w) {
        got.push(ev);
        if (ev.kv.key === '/p/live-b/49') break;
      }
    })();
    for (let i = 0; i < 50; i++) inFlight.push(s.create(`/skip/live-c/${i}`, ''));
    await Promise.all(inFlight);
    await deadline(readAll, 'replay + live events');
    const expected: number[] = [];
    for (let rev = from + 1; rev <= 700; rev++) if ((rev - 1) % 3 !== 0) expected.push(rev);
    expected.push(...range(701, 800));
    assert.deepEqual(revisions(got), expected);
    assert.equal(w.closeReason, 'closed');
    await s.close();
  });

  it('closes a slow watcher without blocking writers or other watchers', async () => {
    const s = SqliteStore.open(':memory:');
    const slow = await s.watch('/s/', { afterRevision: 0, bufferSize: 5 });
    const fast = await s.watch('/s/', { afterRevision: 0 });
    const writes = await Promise.all(Array.from({ length: 20 }, (_, i) => s.create(`/s/${i}`, '')));
    assert.ok(writes.every((r) => r.ok));
    // Events are published before writes resolve, so the overflow already happened.
    assert.equal(slow.closeReason, 'slow');
    assert.deepEqual(await drain(slow), []);
    assert.deepEqual(revisions(await take(fast, 20)), range(1, 20));
    assert.equal(fast.closeReason, undefined);
    assert.equal(s.watcherCount, 1);
    await s.close();
  });

  it('an abort signal closes the watch with aborted and ends a pending iteration', async () => {
    const s = SqliteStore.open(':memory:');
    const ac = new AbortController();
    const w = await s.watch('', { afterRevision: 0, signal: ac.signal });
    const ended = drain(w);
    await s.create('/a', '1');
    ac.abort();
    const evs = await ended;
    assert.deepEqual(revisions(evs), [1]);
    assert.equal(w.closeReason, 'aborted');
    const pre = await s.watch('', { afterRevision: 0, signal: AbortSignal.abort() });
    assert.equal(pre.closeReason, 'aborted');
    assert.deepEqual(await drain(pre), []);
    assert.equal(s.watcherCount, 0);
    await s.close();
  });

  it('close() and break end watches with their reasons', async () => {
    const s = SqliteStore.open(':memory:');
    const a = await s.watch('', { afterRevision: 0 });
    const b = await s.watch('', { afterRevision: 0 });
    await s.create('/x', '1');
    for await (const ev of a) {
      assert.equal(ev.revision, 1);
      break;
    }
    assert.equal(a.closeReason, 'closed');
    const pending = drain(b);
    await s.close();
    assert.deepEqual(revisions(await pending), [1]);
    assert.equal(b.closeReason, 'store-closed');
  });

  it('closes a replaying watch with compacted when compaction overtakes it', async () => {
    const s = SqliteStore.open(':memory:');
    let r = await s.create('/h', '0');
    for (let i = 1; i < 10; i++) r = await s.update('/h', String(i), writtenRevision(r));
    const w = await s.watch('/h', { afterRevision: 0 });
    await s.compact(await s.currentRevision());
    assert.deepEqual(await drain(w), []);
    assert.equal(w.closeReason, 'compacted');
    await assert.rejects(s.watch('/h', { afterRevision: 0 }), CompactedError);
    await s.close();
  });

  it('filters by exact prefix and honours a future afterRevision', async () => {
    const s = SqliteStore.open(':memory:');
    const w = await s.watch('/a_', { afterRevision: 2 });
    await s.create('/ab', 'no');
    await s.create('/a_1', 'too early');
    await s.create('/a_2', 'yes');
    const [ev] = await take(w, 1);
    assert.equal(ev?.kv.key, '/a_2');
    assert.equal(ev?.revision, 3);
    await s.close();
  });
});
