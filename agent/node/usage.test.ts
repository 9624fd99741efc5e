import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../common/clock.js';
import { parseUsage } from '../../controlplane/scheduler/objects.js';
import { FakeReadings } from './fakes.js';
import { UsageSampler } from './sampler.js';
import { nanoCores, RateTracker, usageAnnotation, USAGE_ANNOTATION } from './usage.js';

describe('usage rates', () => {
  it('turns cumulative cpu into nanocores over the elapsed time', () => {
    assert.equal(nanoCores(undefined, { time: 1000, cpuUsageNs: 5e9 }), undefined);
    // 1.5 s of cpu over 10 s = 0.15 cores.
    assert.equal(nanoCores({ time: 0, cpuUsageNs: 0 }, { time: 10_000, cpuUsageNs: 1.5e9 }), 150_000_000);
    assert.equal(nanoCores({ time: 0, cpuUsageNs: 10 }, { time: 0, cpuUsageNs: 20 }), undefined, 'no time passed');
    assert.equal(nanoCores({ time: 0, cpuUsageNs: 10 }, { time: 10, cpuUsageNs: 5 }), undefined, 'counter reset');
  });

  it('forgets keys not seen since the last sweep', () => {
    const t = new RateTracker();
    t.record('a', { time: 0, cpuUsageNs: 0 });
    t.sweep();
    t.sweep();
    assert.equal(t.record('a', { time: 1000, cpuUsageNs: 1e9 }), undefined);
  });

  it('formats the annotation the scheduler parses', () => {
    const v = usageAnnotation(1_250_000_000, 2 ** 31, Date.parse('2025-01-01T10:00:00.123Z'));
    assert.equal(v, '{"cpu":"1250m","memory":"2147483648","timestamp":"2025-01-01T10:00:00Z"}');
    assert.deepEqual(parseUsage({ metadata: { annotations: { [USAGE_ANNOTATION]: v } } }), { milliCPU: 1250, memory: 2 ** 31, time: Date.parse('2025-01-01T10:00:00Z') });
  });
});

describe('UsageSampler', () => {
  it('samples node and pods, with rates from the second sample on and gone cgroups left out', async () => {
    const clock = new FakeClock();
    const r = new FakeReadings();
    const pod = '/skiff/burstable/podu1';
    r.cgroups.set(pod, { cpuUsageNs: 1e9, memoryUsageBytes: 300, memoryWorkingSetBytes: 200, pids: 4 });
    r.cgroups.set(`${pod}/c1`, { cpuUsageNs: 5e8, memoryUsageBytes: 150, memoryWorkingSetBytes: 100 });
    const targets = [
      { pod: { uid: 'u1', name: 'web', namespace: 'default' }, containers: [{ id: 'c1', name: 'app' }, { id: 'gone', name: 'old' }], startTime: new Date('2025-01-01T00:00:00Z') },
      { pod: { uid: 'u2', name: 'nocgroup', namespace: 'default' }, containers: [] },
    ];
    const s = new UsageSampler(r, clock, async () => targets);
    const first = await s.sample();
    assert.equal(first.node.rate, undefined);
    assert.equal(first.pods.length, 1);
    assert.equal(first.pods[0].cpu.usageNanoCores, undefined);
    assert.deepEqual(JSON.parse(first.annotation).cpu, '0m');

    clock.advance(10_000);
    r.usage = { ...r.usage, cpuUsageNs: 2e10 };
    r.cgroups.set(pod, { cpuUsageNs: 3e9, memoryUsageBytes: 400, memoryWorkingSetBytes: 250, pids: 5 });
    r.cgroups.set(`${pod}/c1`, { cpuUsageNs: 1.5e9, memoryUsageBytes: 150, memoryWorkingSetBytes: 120 });
    const second = await s.sample();
    assert.equal(second.node.rate, 2e9, '20 s of cpu in 10 s: 2 cores');
    assert.equal(JSON.parse(second.annotation).cpu, '2000m');
    assert.equal(JSON.parse(second.annotation).memory, String(2 ** 30));
    const p = second.pods[0];
    assert.deepEqual(p.podRef, { uid: 'u1', name: 'web', namespace: 'default' });
    assert.equal(p.startTime, '2025-01-01T00:00:00Z');
    assert.equal(p.cpu.usageNanoCores, 2e8);
    assert.equal(p.memory.workingSetBytes, 250);
    assert.deepEqual(p.process_stats, { process_count: 5 });
    assert.deepEqual(p.containers.map((c) => [c.name, c.cpu.usageNanoCores, c.memory.workingSetBytes]), [['app', 1e8, 120]]);
    assert.equal(s.latest, second);
  });
});
