import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GroupCommit } from './groupcommit.js';
import { until } from './test-helpers.js';

describe('GroupCommit', () => {
  it('commits writes submitted in one turn as one batch, in order', async () => {
    const batches: number[][] = [];
    const gc = new GroupCommit<number, number>((ops) => {
      batches.push([...ops]);
      return ops.map((n) => n * 10);
    });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => gc.submit(i)));
    assert.deepEqual(results, Array.from({ length: 50 }, (_, i) => i * 10));
    assert.deepEqual(batches, [Array.from({ length: 50 }, (_, i) => i)]);
  });

  it('writers that resubmit on resolution join the next single batch', async () => {
    const sizes: number[] = [];
    const gc = new GroupCommit<number, number>((ops) => {
      sizes.push(ops.length);
      return [...ops];
    });
    await Promise.all(Array.from({ length: 20 }, async (_, w) => {
      for (let i = 0; i < 5; i++) await gc.submit(w);
    }));
    assert.deepEqual(sizes, [20, 20, 20, 20, 20]);
  });

  it('splits at maxBatch and rejects a failed batch as a whole', async () => {
    const sizes: number[] = [];
    const gc = new GroupCommit<number, number>((ops) => {
      sizes.push(ops.length);
      if (ops.includes(-1)) throw new Error('disk full');
      return [...ops];
    }, 4);
    const settled = await Promise.allSettled([1, 2, 3, 4, 5, -1, 7].map((n) => gc.submit(n)));
    assert.deepEqual(sizes, [4, 3]);
    const ok = settled.map((s) => s.status === 'fulfilled');
    assert.deepEqual(ok, [true, true, true, true, false, false, false]);
  });

  it('flush commits synchronously', async () => {
    const gc = new GroupCommit<number, number>((ops) => [...ops]);
    const a = gc.submit(1);
    gc.flush();
    assert.equal(gc.pending, 0);
    assert.equal(await a, 1);
  });

  it('pipelines an asynchronous apply: one batch in flight, writes meanwhile form the next', async () => {
    const batches: number[][] = [];
    const inFlight: { ops: number[]; done: (r: number[]) => void }[] = [];
    const gc = new GroupCommit<number, number>(
      (ops) =>
        new Promise<number[]>((resolve) => {
          batches.push([...ops]);
          inFlight.push({ ops: [...ops], done: resolve });
        }),
    );
    const first = [0, 1, 2].map((n) => gc.submit(n));
    await until(() => inFlight.length === 1, 'the first batch');
    assert.equal(gc.busy, true);
    // Submitted while the first batch commits: they wait, in several event-loop turns.
    const second: Promise<number>[] = [];
    for (let n = 3; n < 7; n++) {
      second.push(gc.submit(n));
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(inFlight.length, 1, 'no second batch while one is in flight');
    assert.equal(gc.pending, 4);
    inFlight[0]?.done([0, 10, 20]);
    assert.deepEqual(await Promise.all(first), [0, 10, 20]);
    await until(() => inFlight.length === 2, 'the second batch');
    inFlight[1]?.done([30, 40, 50, 60]);
    assert.deepEqual(await Promise.all(second), [30, 40, 50, 60]);
    assert.deepEqual(batches, [[0, 1, 2], [3, 4, 5, 6]]);
    assert.equal(gc.busy, false);
  });

  it('writers resubmitting on resolution of an asynchronous batch join the next single batch', async () => {
    const sizes: number[] = [];
    const gc = new GroupCommit<number, number>(async (ops) => {
      sizes.push(ops.length);
      await new Promise((resolve) => setImmediate(resolve));
      return [...ops];
    });
    await Promise.all(Array.from({ length: 20 }, async (_, w) => {
      for (let i = 0; i < 5; i++) await gc.submit(w);
    }));
    assert.deepEqual(sizes, [20, 20, 20, 20, 20]);
  });

  it('rejects a failed asynchronous batch as a whole and goes on with the next', async () => {
    let calls = 0;
    const gc = new GroupCommit<number, number>(async (ops) => {
      calls++;
      if (calls === 1) throw new Error('disk full');
      return [...ops];
    });
    const a = [1, 2].map((n) => gc.submit(n));
    const settled = await Promise.allSettled(a);
    assert.deepEqual(settled.map((r) => r.status), ['rejected', 'rejected']);
    assert.equal(await gc.submit(3), 3);
  });

  it('drain() waits for the batch in flight and everything queued behind it', async () => {
    const order: string[] = [];
    const gc = new GroupCommit<number, number>(async (ops) => {
      await new Promise((resolve) => setImmediate(resolve));
      order.push(`batch ${ops.join(',')}`);
      return [...ops];
    }, 2);
    const all = [1, 2, 3, 4, 5].map((n) => gc.submit(n).then((r) => void order.push(`resolved ${r}`)));
    await gc.drain();
    order.push('drained');
    await Promise.all(all);
    assert.deepEqual(order.slice(0, 3), ['batch 1,2', 'resolved 1', 'resolved 2']);
    assert.equal(order.indexOf('drained') > order.indexOf('batch 5'), true);
    assert.equal(gc.pending, 0);
    assert.equal(gc.busy, false);
  });
});
