import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUSYBOX_IMAGE, CONTENT_LABEL, contentHash, isStaticElf, parseApplets, recipes, SANDBOX_IMAGE, SANDBOX_SCRIPT } from './images.js';

test('recipes: busybox runs sh, the sandbox traps TERM and waits; both carry the content label', () => {
  const [busybox, sandbox] = recipes('abc');
  assert.equal(busybox!.name, BUSYBOX_IMAGE);
  assert.equal(busybox!.full, true);
  assert.ok(busybox!.changes.includes('CMD ["sh"]'));
  assert.ok(busybox!.changes.some((c) => /^ENV PATH=.*(^|:)\/bin(:|$)/.test(c)));
  assert.equal(sandbox!.name, SANDBOX_IMAGE);
  assert.equal(sandbox!.full, false);
  const entry = sandbox!.changes.find((c) => c.startsWith('ENTRYPOINT '))!;
  assert.deepEqual(JSON.parse(entry.slice('ENTRYPOINT '.length)), ['/bin/busybox', 'sh', '-c', SANDBOX_SCRIPT]);
  for (const r of [busybox!, sandbox!]) assert.ok(r.changes.includes(`LABEL ${CONTENT_LABEL}=abc`));
  // The sandbox must not busy-loop and must end on TERM with status 0.
  assert.match(SANDBOX_SCRIPT, /trap 'exit 0' TERM INT/);
  assert.match(SANDBOX_SCRIPT, /sleep \d+ & wait \$!/);
  assert.deepEqual(recipes('x', { busybox: 'a:1', sandbox: 'b:2' }).map((r) => r.name), ['a:1', 'b:2']);
});

test('contentHash is stable for the same binary and changes with it', () => {
  const a = contentHash(Buffer.from('busybox one'));
  assert.equal(a, contentHash(Buffer.from('busybox one')));
  assert.notEqual(a, contentHash(Buffer.from('busybox two')));
  assert.match(a, /^[0-9a-f]{32}$/);
});

test('parseApplets drops blanks, duplicates, busybox itself and path-like names', () => {
  assert.deepEqual(parseApplets('[\n[[\nsh\n\nbusybox\nsh\n../x\n.\nwget\n'), ['[', '[[', 'sh', 'wget']);
});

test('isStaticElf: the host busybox-static is static, a dynamic binary and non-ELF data are not', async () => {
  const { open } = await import('node:fs/promises');
  // The ELF and program headers sit at the start of the file.
  const head = async (p: string) => {
    const f = await open(p);
    try {
      const b = Buffer.alloc(65536);
      const { bytesRead } = await f.read(b, 0, b.length, 0);
      return b.subarray(0, bytesRead);
    } finally {
      await f.close();
    }
  };
  assert.equal(isStaticElf(await head('/bin/busybox')), true);
  assert.equal(isStaticElf(await head(process.execPath)), false, 'node is dynamically linked');
  assert.equal(isStaticElf(Buffer.from('#!/bin/sh\necho hi\n'.padEnd(80))), false);
});
