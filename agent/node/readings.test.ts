import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hostMemory, HostReadings, parseBootTime, parseLoadavgThreads, parseMeminfo, parseProcStatCpu } from './readings.js';

describe('procfs parsers', () => {
  it('sums busy cpu ticks of /proc/stat into ns, without idle and iowait', () => {
    const stat = 'cpu  100 5 50 9000 40 3 2 1 0 0\ncpu0 50 2 25 4500 20 1 1 0 0 0\nbtime 1735689600\n';
    assert.equal(parseProcStatCpu(stat), (100 + 5 + 50 + 3 + 2 + 1) * 10_000_000);
    assert.equal(parseBootTime(stat), Date.parse('2025-01-01T00:00:00Z'));
    assert.throws(() => parseProcStatCpu('intr 1\n'), /no aggregate cpu line/);
  });

  it('reads meminfo in bytes and derives usage and working set', () => {
    const m = parseMeminfo('MemTotal:       1000 kB\nMemFree:         200 kB\nInactive(file):  300 kB\nHugePages_Total:       0\n');
    assert.equal(m.get('MemTotal'), 1000 * 1024);
    assert.equal(m.get('HugePages_Total'), 0);
    assert.deepEqual(hostMemory(m), { total: 1000 * 1024, usage: 800 * 1024, workingSet: 500 * 1024 });
  });

  it('counts threads from /proc/loadavg', () => {
    assert.equal(parseLoadavgThreads('0.21 0.95 1.77 1/103 17395\n'), 103);
    assert.throws(() => parseLoadavgThreads('garbage'), /unexpected/);
  });
});

describe('HostReadings on this host', () => {
  it('reads usage, pids, filesystem and boot time consistently', async () => {
    const r = new HostReadings();
    const a = await r.nodeUsage();
    // Burn a little cpu so the busy counter visibly moves (a tick is 10 ms).
    const end = Date.now() + 60;
    while (Date.now() < end) Math.sqrt(Math.random());
    const b = await r.nodeUsage();
    assert.ok(b.cpuUsageNs > a.cpuUsageNs, 'busy cpu time grows');
    assert.ok(a.memoryWorkingSetBytes > 0 && a.memoryWorkingSetBytes <= a.memoryUsageBytes);
    const pids = await r.pids();
    assert.ok(pids.running > 0 && pids.running < pids.max);
    const fs = await r.fs('/tmp');
    assert.ok(fs.availableBytes > 0 && fs.availableBytes <= fs.capacityBytes);
    assert.ok((await r.bootTime()) < Date.now());
    assert.ok((await r.podCgroups()) instanceof Map);
  });
});
