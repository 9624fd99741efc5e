/** Shared helpers for the store tests. Not part of the store's API. */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Watch, WatchEvent } from './types.js';

/** A fresh temp dir; `cleanup` removes it. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skiff-store-test-'));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Rejects if `p` has not settled within `ms`: fails a hung test, never paces one. */
export function deadline<T>(p: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    // Ref'd on purpose: it keeps the loop alive while the test waits on unref'd store timers.
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Reads exactly `n` events from a watch (fails if it ends first). */
export async function take(w: Watch, n: number): Promise<WatchEvent[]> {
  const out: WatchEvent[] = [];
  if (n === 0) return out;
  const it = w[Symbol.asyncIterator]();
  const read = async (): Promise<WatchEvent[]> => {
    while (out.length < n) {
      const r = await it.next();
      if (r.done) throw new Error(`watch ended (${w.closeReason}) after ${out.length} of ${n} events`);
      out.push(r.value);
    }
    return out;
  };
  return deadline(read(), `${n} watch events`);
}

/** Drains a watch until it ends; returns what it delivered. */
export async function drain(w: Watch): Promise<WatchEvent[]> {
  const out: WatchEvent[] = [];
  const read = async (): Promise<WatchEvent[]> => {
    for await (const ev of w) out.push(ev);
    return out;
  };
  return deadline(read(), 'watch to end');
}
