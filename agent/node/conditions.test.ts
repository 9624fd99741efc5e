import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_EVICTION } from './capacity.js';
import { conditionsChanged, desiredConditions, mergeConditions, observe, type Observations } from './conditions.js';
import { FakeReadings } from './fakes.js';

const Mi = 2 ** 20;
const healthy: Observations = {
  runtimeReady: true,
  networkReady: true,
  memoryAvailableBytes: 4096 * Mi,
  fs: { capacityBytes: 1000, availableBytes: 500, inodes: 1000, inodesFree: 900 },
  pids: { max: 1000, running: 100 },
};
const byType = (o: Observations) => Object.fromEntries(desiredConditions(o, DEFAULT_EVICTION, 100 * Mi).map((c) => [c.type, c]));

describe('node conditions', () => {
  it('reports a healthy node with the kubelet reasons, in kubelet order', () => {
    const cs = desiredConditions(healthy, DEFAULT_EVICTION, 100 * Mi);
    assert.deepEqual(cs.map((c) => `${c.type}=${c.status}:${c.reason}`), [
      'MemoryPressure=False:KubeletHasSufficientMemory',
      'DiskPressure=False:KubeletHasNoDiskPressure',
      'PIDPressure=False:KubeletHasSufficientPID',
      'Ready=True:KubeletReady',
    ]);
    assert.equal(cs[3].message, 'kubelet is posting ready status');
  });

  it('is not Ready without the runtime or without the network, saying which', () => {
    const r = byType({ ...healthy, runtimeReady: false }).Ready;
    assert.deepEqual([r.status, r.reason, r.message], ['False', 'KubeletNotReady', 'container runtime is down']);
    const n = byType({ ...healthy, networkReady: false }).Ready;
    assert.equal(n.reason, 'KubeletNotReady');
    assert.match(n.message, /^container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady/);
  });

  it('reports memory pressure below the memory.available threshold', () => {
    assert.equal(byType({ ...healthy, memoryAvailableBytes: 100 * Mi }).MemoryPressure.status, 'False');
    const c = byType({ ...healthy, memoryAvailableBytes: 99 * Mi }).MemoryPressure;
    assert.deepEqual([c.status, c.reason], ['True', 'KubeletHasInsufficientMemory']);
  });

  it('reports disk pressure below 10% space or 5% inodes, but not for filesystems without inode counts', () => {
    assert.equal(byType({ ...healthy, fs: { ...healthy.fs, availableBytes: 99 } }).DiskPressure.reason, 'KubeletHasDiskPressure');
    assert.equal(byType({ ...healthy, fs: { ...healthy.fs, availableBytes: 100 } }).DiskPressure.status, 'False');
    assert.equal(byType({ ...healthy, fs: { ...healthy.fs, inodesFree: 49 } }).DiskPressure.status, 'True');
    assert.equal(byType({ ...healthy, fs: { ...healthy.fs, inodes: 0, inodesFree: 0 } }).DiskPressure.status, 'False');
  });

  it('reports PID pressure above 90% of the limit', () => {
    assert.equal(byType({ ...healthy, pids: { max: 1000, running: 900 } }).PIDPressure.status, 'False');
    const c = byType({ ...healthy, pids: { max: 1000, running: 901 } }).PIDPressure;
    assert.deepEqual([c.status, c.reason, c.message], ['True', 'KubeletHasInsufficientPID', 'kubelet has insufficient PID available']);
  });

  it('moves the heartbeat every time and the transition only on a status change; keeps others\' conditions', () => {
    const t1 = '2025-01-01T00:00:00Z';
    const t2 = '2025-01-01T00:00:10Z';
    const first = mergeConditions(undefined, desiredConditions(healthy, DEFAULT_EVICTION, 100 * Mi), t1);
    assert.ok(first.every((c) => c.lastHeartbeatTime === t1 && c.lastTransitionTime === t1));
    const foreign = { type: 'NetworkUnavailable', status: 'False' as const, reason: 'RouteCreated', message: 'x', lastHeartbeatTime: t1, lastTransitionTime: t1 };
    const second = mergeConditions([...first, foreign], desiredConditions({ ...healthy, runtimeReady: false }, DEFAULT_EVICTION, 100 * Mi), t2);
    const ready = second.find((c) => c.type === 'Ready')!;
    assert.deepEqual([ready.status, ready.lastHeartbeatTime, ready.lastTransitionTime], ['False', t2, t2]);
    const mem = second.find((c) => c.type === 'MemoryPressure')!;
    assert.deepEqual([mem.lastHeartbeatTime, mem.lastTransitionTime], [t2, t1]);
    assert.deepEqual(second.find((c) => c.type === 'NetworkUnavailable'), foreign);
  });

  it('treats Unknown (set by the lifecycle controller) as a transition back', () => {
    const t1 = '2025-01-01T00:00:00Z';
    const prev = [{ type: 'Ready', status: 'Unknown' as const, reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastHeartbeatTime: t1, lastTransitionTime: t1 }];
    const next = mergeConditions(prev, desiredConditions(healthy, DEFAULT_EVICTION, 100 * Mi), '2025-01-01T00:01:00Z');
    assert.equal(next.find((c) => c.type === 'Ready')!.lastTransitionTime, '2025-01-01T00:01:00Z');
    assert.equal(conditionsChanged(prev, desiredConditions(healthy, DEFAULT_EVICTION, 100 * Mi)), true);
    assert.equal(conditionsChanged(next, desiredConditions(healthy, DEFAULT_EVICTION, 100 * Mi)), false);
  });

  it('observes through the readings; a readiness probe that throws counts as not ready', async () => {
    const r = new FakeReadings();
    r.usage = { cpuUsageNs: 0, memoryUsageBytes: 3000 * Mi, memoryWorkingSetBytes: 1000 * Mi };
    const o = await observe(r, {
      dataDir: '/d',
      memoryCapacityBytes: 1050 * Mi,
      runtimeReady: async () => {
        throw new Error('docker down');
      },
      networkReady: async () => true,
    });
    assert.equal(o.runtimeReady, false);
    assert.equal(o.memoryAvailableBytes, 50 * Mi);
    assert.equal(byType(o).MemoryPressure.status, 'True');
  });
});
