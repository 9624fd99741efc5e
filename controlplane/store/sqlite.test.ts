import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { openStore, StoreLockedError } from './index.js';
import { SqliteStore } from './sqlite.js';
import { deadline, tempDir } from './test-helpers.js';
import { CompactedError, FutureRevisionError, StoreClosedError } from './types.js';
import type { KeyValue } from './types.js';

function mem(): SqliteStore {
  return SqliteStore.open(':memory:');
}

function okKv(r: { ok: boolean; kv?: KeyValue }): KeyValue {
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.ok(r.kv);
  return r.kv;
}

describe('SqliteStore writes', () => {
  it('assigns increasing global revisions and reports create/mod revisions', async () => {
    const s = mem();
    const a = okKv(await s.create('/a', '1'));
    const b = okKv(await s.create('/b', '1'));
    assert.equal(b.modRevision, a.modRevision + 1);
    const a2 = okKv(await s.update('/a', '2', a.modRevision));
    assert.deepEqual(a2, { key: '/a', value: '2', createRevision: a.modRevision, modRevision: b.modRevision + 1 });
    assert.equal(await s.currentRevision(), a2.modRevision);
    assert.deepEqual(await s.get('/a'), a2);
    await s.close();
  });

  it('create of an existing key answers exists with the current value', async () => {
    const s = mem();
    const first = okKv(await s.create('/k', 'v1'));
    const again = await s.create('/k', 'v2');
    assert.deepEqual(again, { ok: false, reason: 'exists', current: first });
    // Two creates in the same batch: the first wins, the second sees it.
    const [x, y] = await Promise.all([s.create('/same', 'x'), s.create('/same', 'y')]);
    assert.equal(x.ok, true);
    assert.equal(y.ok, false);
    assert.equal(!y.ok && y.reason, 'exists');
    await s.close();
  });

  it('50 concurrent updates with the same expected revision: exactly one wins', async () => {
    const s = mem();
    const base = okKv(await s.create('/race', 'v0'));
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => s.update('/race', `v${i + 1}`, base.modRevision)));
    const winners = results.filter((r) => r.ok);
    assert.equal(winners.length, 1);
    const won = okKv(winners[0] as { ok: true; kv: KeyValue });
    for (const r of results) {
      if (r.ok) continue;
      assert.equal(r.reason, 'conflict');
      assert.deepEqual(r.current, won);
    }
    assert.deepEqual(await s.get('/race'), won);
    assert.equal(await s.currentRevision(), won.modRevision);
    await s.close();
  });

  it('update and delete of a missing key answer missing; delete CAS answers conflict', async () => {
    const s = mem();
    assert.deepEqual(await s.update('/nope', 'x', 1), { ok: false, reason: 'missing' });
    assert.deepEqual(await s.delete('/nope'), { ok: false, reason: 'missing' });
    const kv = okKv(await s.create('/d', 'v'));
    const stale = await s.delete('/d', kv.modRevision + 100);
    assert.deepEqual(stale, { ok: false, reason: 'conflict', current: kv });
    const del = await s.delete('/d', kv.modRevision);
    assert.equal(del.ok, true);
    assert.deepEqual(del.ok && del.prev, kv);
    assert.equal(await s.get('/d'), undefined);
    await s.close();
  });

  it('a deleted key can be created again with a new createRevision', async () => {
    const s = mem();
    const first = okKv(await s.create('/re', 'one'));
    const del = await s.delete('/re');
    assert.equal(del.ok, true);
    const second = okKv(await s.create('/re', 'two'));
    assert.ok(second.createRevision > first.createRevision);
    assert.equal(second.createRevision, second.modRevision);
    assert.deepEqual(await s.get('/re'), second);
    // And again, so the create chains to the second tombstone.
    assert.equal((await s.delete('/re')).ok, true);
    okKv(await s.create('/re', 'three'));
    assert.equal((await s.get('/re'))?.value, 'three');
    await s.close();
  });
});

describe('SqliteStore reads', () => {
  it('lists in key order with exact prefixes, pagination and remaining', async () => {
    const s = mem();
    for (let i = 24; i >= 0; i--) await s.create(`/a/${String(i).padStart(2, '0')}`, `v${i}`);
    await s.create('/ab', 'not under /a/');
    await s.create('/a0', 'not under /a/');
    const all = await s.list('/a/');
    assert.equal(all.items.length, 25);
    assert.equal(all.remaining, 0);
    assert.equal(all.revision, await s.currentRevision());
    assert.deepEqual(
      all.items.map((kv) => kv.key),
      Array.from({ length: 25 }, (_, i) => `/a/${String(i).padStart(2, '0')}`),
    );
    const p1 = await s.list('/a/', { limit: 10 });
    assert.equal(p1.items.length, 10);
    assert.equal(p1.remaining, 15);
    const p2 = await s.list('/a/', { limit: 10, startAfter: p1.items[9]?.key });
    assert.equal(p2.items[0]?.key, '/a/10');
    assert.equal(p2.remaining, 5);
    const p3 = await s.list('/a/', { limit: 10, startAfter: p2.items[9]?.key });
    assert.equal(p3.items.length, 5);
    assert.equal(p3.remaining, 0);
    // Exactly `limit` items left: the page is full and nothing remains.
    const p4 = await s.list('/a/', { limit: 5, startAfter: p2.items[9]?.key });
    assert.equal(p4.items.length, 5);
    assert.equal(p4.remaining, 0);
    assert.equal(await s.count('/a/'), 25);
    assert.equal(await s.count('/a'), 27);
    assert.equal(await s.count(''), 27);
    await s.close();
  });

  it('treats % and _ in prefixes literally', async () => {
    const s = mem();
    await s.create('/x%/1', '');
    await s.create('/x_/1', '');
    await s.create('/xy/1', '');
    await s.create('/x\uffff/1', '');
    await s.create('/x\u{1F600}/1', '');
    assert.deepEqual((await s.list('/x%')).items.map((kv) => kv.key), ['/x%/1']);
    assert.deepEqual((await s.list('/x_')).items.map((kv) => kv.key), ['/x_/1']);
    assert.deepEqual((await s.list('/x\uffff')).items.map((kv) => kv.key), ['/x\uffff/1']);
    assert.deepEqual((await s.list('/x\u{1F600}')).items.map((kv) => kv.key), ['/x\u{1F600}/1']);
    assert.equal(await s.count('/x'), 5);
    await s.close();
  });

  it('lists at an older revision', async () => {
    const s = mem();
    const a = okKv(await s.create('/o/a', 'a1'));
    okKv(await s.create('/o/b', 'b1'));
    const at = await s.currentRevision();
    okKv(await s.update('/o/a', 'a2', a.modRevision));
    assert.equal((await s.delete('/o/b')).ok, true);
    okKv(await s.create('/o/c', 'c1'));
    const old = await s.list('/o/', { revision: at });
    assert.equal(old.revision, at);
    assert.deepEqual(old.items.map((kv) => [kv.key, kv.value]), [['/o/a', 'a1'], ['/o/b', 'b1']]);
    const page = await s.list('/o/', { revision: at, limit: 1 });
    assert.deepEqual(page.items.map((kv) => kv.key), ['/o/a']);
    assert.equal(page.remaining, 1);
    const now = await s.list('/o/');
    assert.deepEqual(now.items.map((kv) => [kv.key, kv.value]), [['/o/a', 'a2'], ['/o/c', 'c1']]);
    await assert.rejects(s.list('/o/', { revision: (await s.currentRevision()) + 1 }), FutureRevisionError);
    await s.close();
  });
});

describe('SqliteStore compaction', () => {
  it('answers CompactedError for old lists and watches and keeps latest values', async () => {
    // A small chunk so the compaction runs in several transactions.
    const s = SqliteStore.open(':memory:', { compactChunk: 3 });
    let kv = okKv(await s.create('/c/hot', '0'));
    for (let i = 1; i <= 10; i++) kv = okKv(await s.update('/c/hot', String(i), kv.modRevision));
    okKv(await s.create('/c/gone', 'x'));
    assert.equal((await s.delete('/c/gone')).ok, true);
    okKv(await s.create('/c/cold', 'c'));
    const mid = await s.currentRevision();
    kv = okKv(await s.update('/c/hot', '11', kv.modRevision));
    await s.compact(mid);
    assert.equal(await s.compactedRevision(), mid);
    await assert.rejects(s.list('/c/', { revision: mid }), (err: unknown) => {
      assert.ok(err instanceof CompactedError);
      assert.equal(err.code, 'ECOMPACTED');
      assert.equal(err.compacted, mid);
      return true;
    });
    await assert.rejects(s.list('/c/', { revision: 2 }), CompactedError);
    await assert.rejects(s.watch('/c/', { afterRevision: mid - 1 }), CompactedError);
    // History above the compacted revision is intact.
    const w = await s.watch('/c/', { afterRevision: mid });
    assert.equal(w.closeReason, undefined);
    w.close();
    const latest = await s.list('/c/');
    assert.deepEqual(latest.items.map((x) => [x.key, x.value]), [['/c/cold', 'c'], ['/c/hot', '11']]);
    // Compacting to an older revision is a no-op; to a future one is refused.
    await s.compact(2);
    assert.equal(await s.compactedRevision(), mid);
    await assert.rejects(s.compact((await s.currentRevision()) + 5), FutureRevisionError);
    // Compact everything: values stay readable and writable.
    await s.compact(await s.currentRevision());
    assert.deepEqual((await s.get('/c/hot'))?.value, '11');
    okKv(await s.update('/c/hot', '12', kv.modRevision));
    okKv(await s.create('/c/gone', 'back'));
    await s.close();
  });

  it('the compactor keeps a window of revisions', async () => {
    const s = mem();
    let kv = okKv(await s.create('/w', '0'));
    for (let i = 0; i < 20; i++) kv = okKv(await s.update('/w', String(i), kv.modRevision));
    // Wait on the compaction itself, via a store whose compact() we observe.
    const done = new Promise<number>((resolve) => {
      const orig = s.compact.bind(s);
      s.compact = async (rev: number) => {
        await orig(rev);
        resolve(rev);
      };
    });
    const stop = s.startCompactor({ intervalMs: 5, keepRevisions: 5 });
    assert.equal(await deadline(done, 'the compactor to run'), kv.modRevision - 5);
    stop();
    assert.equal(await s.compactedRevision(), kv.modRevision - 5);
    await s.close();
  });
});

describe('SqliteStore on disk', () => {
  it('keeps values, the revision sequence and the compacted revision across restart', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = path.join(dir, 'state.db');
      let s = openStore('sqlite', file);
      const a = okKv(await s.create('/r/a', 'a'));
      okKv(await s.update('/r/a', 'a2', a.modRevision));
      okKv(await s.create('/r/b', 'b'));
      await s.compact(await s.currentRevision());
      // The newest rows are a tombstone that compaction removes: the sequence must not go back.
      okKv(await s.create('/r/tmp', 't'));
      assert.equal((await s.delete('/r/tmp')).ok, true);
      const rev = await s.currentRevision();
      await s.compact(rev);
      await s.close();
      await assert.rejects(s.get('/r/a'), StoreClosedError);

      s = openStore('sqlite', file);
      assert.equal(await s.currentRevision(), rev);
      assert.equal(await s.compactedRevision(), rev);
      assert.deepEqual((await s.list('/r/')).items.map((kv) => [kv.key, kv.value]), [['/r/a', 'a2'], ['/r/b', 'b']]);
      const c = okKv(await s.create('/r/c', 'c'));
      assert.equal(c.modRevision, rev + 1);
      await s.close();
    } finally {
      cleanup();
    }
  });

  it('refuses a file another live process holds, and takes over a stale lock', async () => {
    const { dir, cleanup } = tempDir();
    const file = path.join(dir, 'state.db');
    const sleeper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
    try {
      const s = SqliteStore.open(file);
      assert.throws(() => SqliteStore.open(file), StoreLockedError);
      await s.close();

      // A live owner (another process) keeps it locked.
      await once(sleeper, 'spawn');
      fs.writeFileSync(`${file}.lock`, `${sleeper.pid}\n`);
      assert.throws(() => SqliteStore.open(file), (err: unknown) => {
        assert.ok(err instanceof StoreLockedError);
        assert.equal(err.ownerPid, sleeper.pid);
        assert.match(err.message, /in use by process/);
        return true;
      });

      // Once the owner is gone the lock is stale and taken over.
      sleeper.kill('SIGKILL');
      await once(sleeper, 'exit');
      const again = SqliteStore.open(file);
      assert.equal(fs.readFileSync(`${file}.lock`, 'utf8').split(' ')[0], String(process.pid));
      await again.close();
      assert.equal(fs.existsSync(`${file}.lock`), false);
    } finally {
      if (sleeper.exitCode === null && sleeper.signalCode === null) sleeper.kill('SIGKILL');
      cleanup();
    }
  });
});
