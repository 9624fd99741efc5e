import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdtemp, readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { invalidPath, topLevelNames, validatePayload, writeAtomic, type Payload } from './atomic-writer.js';

const payload = (files: Record<string, string | [string, number]>): Payload =>
  new Map(Object.entries(files).map(([p, v]) => [p, Array.isArray(v) ? { data: Buffer.from(v[0]), mode: v[1] } : { data: Buffer.from(v), mode: 0o644 }]));

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-aw-'));
  try {
    await fn(join(dir, 'vol'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('invalidPath: the kubelet rules for payload paths', () => {
  assert.equal(invalidPath('a/b.txt'), undefined);
  assert.equal(invalidPath('..a'), "invalid path: must not start with '..': ..a");
  assert.equal(invalidPath('a/../b'), "invalid path: must not contain '..': a/../b");
  assert.equal(invalidPath('..'), "invalid path: must not contain '..': ..");
  assert.equal(invalidPath('/etc/passwd'), 'invalid path: must be relative path: /etc/passwd');
  assert.equal(invalidPath(''), 'invalid path: must not be empty: ""');
  assert.match(invalidPath('x'.repeat(256))!, /filenames must be less than or equal to 255/);
  assert.deepEqual([...validatePayload(payload({ 'a//b/./c': 'x' })).keys()], ['a/b/c']);
  assert.deepEqual([...topLevelNames(['a/b', 'a/c', 'd'])], ['a', 'd']);
});

test('writeAtomic: layout, exact modes, no-op when unchanged', async () => {
  await withDir(async (dir) => {
    const p = payload({ 'config.yaml': 'a: 1\n', 'sub/dir/key': ['secret', 0o400], run: ['#!/bin/sh\n', 0o755] });
    assert.equal(await writeAtomic(dir, p), true);
    const ts = await readlink(join(dir, '..data'));
    assert.match(ts, /^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\w+$/);
    assert.equal(await readlink(join(dir, 'config.yaml')), '..data/config.yaml');
    assert.equal(await readlink(join(dir, 'sub')), '..data/sub');
    assert.equal(await readFile(join(dir, 'sub/dir/key'), 'utf8'), 'secret');
    assert.equal((await stat(join(dir, 'sub/dir/key'))).mode & 0o777, 0o400);
    assert.equal((await stat(join(dir, 'run'))).mode & 0o777, 0o755);
    assert.equal((await stat(join(dir, ts))).mode & 0o777, 0o755);
    assert.equal(await writeAtomic(dir, p), false);
    assert.equal(await readlink(join(dir, '..data')), ts);
  });
});

test('writeAtomic: update swaps ..data, removes old names and the old version', async () => {
  await withDir(async (dir) => {
    await writeAtomic(dir, payload({ a: '1', b: '2' }));
    const first = await readlink(join(dir, '..data'));
    assert.equal(await writeAtomic(dir, payload({ a: '10', c: '3' })), true);
    const second = await readlink(join(dir, '..data'));
    assert.notEqual(first, second);
    assert.equal(await readFile(join(dir, 'a'), 'utf8'), '10');
    assert.equal(await readFile(join(dir, 'c'), 'utf8'), '3');
    await assert.rejects(lstat(join(dir, 'b')), { code: 'ENOENT' });
    assert.deepEqual((await readdir(dir)).sort(), ['..data', second, 'a', 'c'].sort());
    // A mode change alone is an update too.
    assert.equal(await writeAtomic(dir, payload({ a: ['10', 0o600], c: '3' })), true);
    assert.equal((await stat(join(dir, 'a'))).mode & 0o777, 0o600);
  });
});

test('writeAtomic: empty payload gives an empty volume; bad paths write nothing', async () => {
  await withDir(async (dir) => {
    assert.equal(await writeAtomic(dir, new Map()), true);
    assert.deepEqual((await readdir(dir)).filter((n) => !n.startsWith('..')), []);
    await assert.rejects(writeAtomic(dir, payload({ ok: 'x', '../escape': 'y' })), /must not contain '\.\.'/);
    assert.deepEqual((await readdir(dir)).filter((n) => !n.startsWith('..')), []);
  });
});

test('writeAtomic: an fsGroup owns the files and can read them', async () => {
  await withDir(async (dir) => {
    await writeAtomic(dir, payload({ k: ['v', 0o400] }), { gid: 4321 });
    const st = await stat(join(dir, 'k'));
    assert.equal(st.gid, 4321);
    assert.equal(st.mode & 0o777, 0o440);
  });
});
