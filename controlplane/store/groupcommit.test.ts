import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GroupCommit } from './groupcommit.js';

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
});
