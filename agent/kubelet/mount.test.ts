import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SystemMounter, parseMountInfo, unescapeMountPath } from './mount.js';

test('parseMountInfo reads field 5 and decodes octal escapes', () => {
  const text = '36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 - ext3 /dev/root rw\n24 1 0:22 / /sys rw - sysfs sysfs rw\n';
  assert.deepEqual(parseMountInfo(text), ['/mnt/with space', '/sys']);
  assert.equal(unescapeMountPath('a\\011b\\134c'), 'a\tb\\c');
});

test('SystemMounter: tmpfs mount, nested mounts listed deepest first, unmount idempotent', async () => {
  const m = new SystemMounter();
  const dir = await mkdtemp(join(tmpdir(), 'skiff-mount-'));
  const outer = join(dir, 'a');
  const inner = join(dir, 'a', 'b');
  try {
    await mkdir(outer);
    await m.mountTmpfs(outer, { sizeBytes: 1 << 20 });
    await mkdir(inner);
    await m.mountTmpfs(inner, { mode: 0o755 });
    assert.deepEqual(await m.mountsUnder(dir), [inner, outer]);
    assert.equal(await m.isMountPoint(`${outer}/`), true);
    for (const p of await m.mountsUnder(dir)) await m.unmount(p);
    await m.unmount(outer);
    assert.deepEqual(await m.mountsUnder(dir), []);
  } finally {
    for (const p of await m.mountsUnder(dir)) await m.unmount(p);
    await rm(dir, { recursive: true, force: true });
  }
});
