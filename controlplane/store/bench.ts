/**
 * Raw store write throughput: the floor the API server's create figures are
 * compared with (design.md section 4). Each run uses a fresh file store in a
 * temp dir, so the numbers include the real fsyncs.
 *
 *   node dist/controlplane/store/bench.js [count]
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { SqliteStore } from './sqlite.js';

export interface WriteBenchResult {
  synchronous: 'full' | 'normal';
  /** 1: each create awaited before the next; N: N writers each awaiting their own. */
  concurrency: number;
  creates: number;
  seconds: number;
  perSecond: number;
}

/** Measures `count` creates of ~1 KiB values with `concurrency` awaiting writers. */
export async function benchCreates(
  synchronous: 'full' | 'normal',
  concurrency: number,
  count: number,
): Promise<WriteBenchResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skiff-store-bench-'));
  const store = SqliteStore.open(path.join(dir, 'state.db'), { synchronous });
  const value = JSON.stringify({ kind: 'Pod', spec: { pad: 'x'.repeat(1000) } });
  try {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        const i = next++;
        const r = await store.create(`/registry/pods/bench/p${i}`, value);
        if (!r.ok) throw new Error(`create p${i}: ${r.reason}`);
      }
    };
    const start = process.hrtime.bigint();
    await Promise.all(Array.from({ length: concurrency }, worker));
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    return { synchronous, concurrency, creates: count, seconds, perSecond: Math.round(count / seconds) };
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const count = Number(process.argv[2] ?? 2000);
  for (const sync of ['full', 'normal'] as const) {
    for (const c of [1, 50]) {
      const r = await benchCreates(sync, c, count);
      const took = `${r.creates} in ${r.seconds.toFixed(2)} s`;
      console.log(`synchronous=${r.synchronous} concurrency=${r.concurrency}: ${r.perSecond} creates/s (${took})`);
    }
  }
}
