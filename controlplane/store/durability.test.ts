/**
 * A resolved write survives kill -9: a child process writes in a loop and
 * prints each key once its create resolved; we SIGKILL it after N
 * acknowledgements (counted from its stdout) and check every acknowledged key
 * is in the reopened store.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SqliteStore } from './sqlite.js';
import { deadline, tempDir } from './test-helpers.js';

const storeModule = fileURLToPath(new URL('./sqlite.js', import.meta.url));

const WRITER = `
import { SqliteStore } from ${JSON.stringify(storeModule)};
const [file, sync] = process.argv.slice(2);
const store = SqliteStore.open(file, { synchronous: sync });
let n = 0;
// Several writers, so acknowledgements come out of group-committed batches.
async function writer(w) {
  for (;;) {
    const key = '/dur/' + w + '/' + n++;
    const r = await store.create(key, 'value of ' + key);
    if (!r.ok) { console.error('create failed', key, r); process.exit(3); }
    process.stdout.write(key + '\\n');
  }
}
for (let w = 0; w < 8; w++) writer(w);
`;

interface KillRun {
  acked: string[];
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs the writer, SIGKILLs it after `n` acknowledged keys, returns every key it acknowledged. */
function runAndKill(script: string, file: string, sync: string, n: number): Promise<KillRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, file, sync], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked: string[] = [];
    let partial = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => (stderr += d));
    child.stdout.on('data', (d: string) => {
      const lines = (partial + d).split('\n');
      // Only newline-terminated lines count as acknowledged.
      partial = lines.pop() ?? '';
      acked.push(...lines);
      if (acked.length >= n && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    child.on('error', reject);
    // 'close' waits for stdout to drain, so acknowledgements already in the pipe are counted.
    child.on('close', (_code, signal) => resolve({ acked, signal, stderr }));
  });
}

describe('SqliteStore durability', () => {
  for (const sync of ['full', 'normal'] as const) {
    it(`every acknowledged write survives SIGKILL (synchronous=${sync})`, async () => {
      const { dir, cleanup } = tempDir();
      try {
        const script = path.join(dir, 'writer.mjs');
        fs.writeFileSync(script, WRITER);
        const file = path.join(dir, 'state.db');
        const run = await deadline(runAndKill(script, file, sync, 500), 'writer to be killed', 30_000);
        assert.equal(run.signal, 'SIGKILL', run.stderr);
        assert.ok(run.acked.length >= 500);

        // The dead writer's lock is stale and is taken over.
        const s = SqliteStore.open(file);
        try {
          for (const key of run.acked) {
            const kv = await s.get(key);
            assert.ok(kv, `acknowledged ${key} is missing after kill -9`);
            assert.equal(kv.value, `value of ${key}`);
          }
          assert.ok((await s.currentRevision()) >= run.acked.length);
          const more = await s.create('/dur/after', 'x');
          assert.equal(more.ok && more.revision, (await s.currentRevision()));
        } finally {
          await s.close();
        }
      } finally {
        cleanup();
      }
    });
  }
});
