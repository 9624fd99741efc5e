import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { allocatableAmounts, capacityAmounts, DEFAULT_EVICTION, readCapacityInput, toResourceList } from './capacity.js';
import { FakeReadings } from './fakes.js';
import { HostReadings } from './readings.js';

const Gi = 2 ** 30;
const Mi = 2 ** 20;

describe('capacity and allocatable', () => {
  it('takes the host figures when the agent cgroup is not limited', () => {
    const cap = capacityAmounts({ hostMilliCpu: 2000, hostMemoryBytes: 8 * Gi, fsCapacityBytes: 100 * Gi, maxPods: 110 });
    assert.deepEqual(toResourceList(cap), { cpu: '2', memory: '8Gi', 'ephemeral-storage': '100Gi', pods: '110' });
  });

  it('lowers cpu and memory to the agent cgroup limits', () => {
    const cap = capacityAmounts({ hostMilliCpu: 8000, hostMemoryBytes: 32 * Gi, cgroupMilliCpu: 1500, cgroupMemoryBytes: 2 * Gi, fsCapacityBytes: 10 * Gi, maxPods: 50 });
    assert.deepEqual(toResourceList(cap), { cpu: '1500m', memory: '2Gi', 'ephemeral-storage': '10Gi', pods: '50' });
    // A cgroup "limit" above the host is no limit.
    assert.equal(capacityAmounts({ hostMilliCpu: 2000, hostMemoryBytes: Gi, cgroupMemoryBytes: 4 * Gi, fsCapacityBytes: 0, maxPods: 1 }).memory, Gi);
  });

  it('subtracts the reserve and the eviction thresholds', () => {
    const cap = capacityAmounts({ hostMilliCpu: 2000, hostMemoryBytes: 8 * Gi, fsCapacityBytes: 100 * Gi, maxPods: 110 });
    const alloc = allocatableAmounts(cap, { cpu: '100m', memory: '256Mi' });
    assert.deepEqual(alloc, { milliCpu: 1900, memory: 8 * Gi - 256 * Mi - 100 * Mi, ephemeralStorage: 90 * Gi, pods: 110 });
    assert.deepEqual(toResourceList(alloc), { cpu: '1900m', memory: '7836Mi', 'ephemeral-storage': '90Gi', pods: '110' });
  });

  it('never goes below zero, and rejects a malformed reserve with the setting named', () => {
    const tiny = allocatableAmounts({ milliCpu: 50, memory: 100 * Mi, ephemeralStorage: 0, pods: 1 }, { cpu: '100m', memory: '256Mi' });
    assert.equal(tiny.milliCpu, 0);
    assert.equal(tiny.memory, 0);
    assert.throws(() => allocatableAmounts(tiny, { cpu: 'lots', memory: '1Gi' }, DEFAULT_EVICTION), /invalid reserved cpu "lots"/);
  });

  it('prints memory in whole Ki as kubelets do', () => {
    assert.equal(toResourceList({ milliCpu: 1000, memory: 25276063744 + 100, ephemeralStorage: 2048, pods: 110 }).memory, '24683656Ki');
  });

  it('reads its input through the readings', async () => {
    const r = new FakeReadings();
    r.cap = { hostMilliCpu: 4000, hostMemoryBytes: 8 * Gi, cgroupMilliCpu: 2000 };
    assert.deepEqual(await readCapacityInput(r, '/data'), { hostMilliCpu: 4000, hostMemoryBytes: 8 * Gi, cgroupMilliCpu: 2000, fsCapacityBytes: 100 * Gi, maxPods: 110 });
  });

  it('reads this host: cores, memory and the data dir filesystem', async () => {
    const input = await readCapacityInput(new HostReadings(), '/tmp/skiff-does-not-exist/agent');
    assert.ok(input.hostMilliCpu >= 1000 && input.hostMilliCpu % 1000 === 0);
    assert.ok(input.hostMemoryBytes > 64 * Mi);
    assert.ok(input.fsCapacityBytes > 0, 'statfs of the nearest existing ancestor');
  });
});
