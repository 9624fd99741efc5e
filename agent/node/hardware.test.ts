import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpus, totalmem } from 'node:os';
import { parseHardware, probeHardware } from './hardware.js';

describe('hardware probe', () => {
  it('reads this host through systeminformation in a child process', async () => {
    const h = await probeHardware();
    // MemTotal of /proc/meminfo, as os.totalmem reads it; cores as the kernel counts cpus.
    assert.equal(h.memTotalBytes, totalmem());
    assert.equal(h.cores, cpus().length);
  });

  it('rejects an answer without sane numbers', () => {
    assert.deepEqual(parseHardware('{"cores":2,"memTotalBytes":4096}\n'), { cores: 2, memTotalBytes: 4096 });
    assert.throws(() => parseHardware('{"cores":0,"memTotalBytes":4096}'), /cores is 0/);
    assert.throws(() => parseHardware('{"cores":2}'), /memTotalBytes is undefined/);
    assert.throws(() => parseHardware('not json'), SyntaxError);
  });
});
