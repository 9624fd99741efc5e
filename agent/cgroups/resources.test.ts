import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { containerResources, milliCpuToQuota, milliCpuToShares, podResources, podTotals, sharesToWeight } from './resources.js';
import type { ContainerLike, PodLike } from './qos.js';

const c = (requests?: Record<string, string>, limits?: Record<string, string>, restartPolicy?: string): ContainerLike => ({
  resources: { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) },
  ...(restartPolicy ? { restartPolicy } : {}),
});
const pod = (containers: ContainerLike[], initContainers: ContainerLike[] = [], overhead?: Record<string, string>): PodLike => ({
  metadata: { uid: 'u' },
  spec: { containers, initContainers, ...(overhead ? { overhead } : {}) },
});
const Mi = 1024 * 1024;

describe('cpu conversions', () => {
  it('maps millicores to shares like the kubelet (1024 per core, min 2, max 262144)', () => {
    assert.equal(milliCpuToShares(0), 2);
    assert.equal(milliCpuToShares(1), 2);
    assert.equal(milliCpuToShares(100), 102);
    assert.equal(milliCpuToShares(250), 256);
    assert.equal(milliCpuToShares(1000), 1024);
    assert.equal(milliCpuToShares(1_000_000), 262144);
  });

  it('maps millicores to a CFS quota over a 100 ms period, at least 1 ms, 0 without limit', () => {
    assert.equal(milliCpuToQuota(0), 0);
    assert.equal(milliCpuToQuota(1), 1000);
    assert.equal(milliCpuToQuota(250), 25000);
    assert.equal(milliCpuToQuota(1500), 150000);
  });

  it('converts shares to cgroup v2 weights as runc does', () => {
    assert.equal(sharesToWeight(2), 1);
    assert.equal(sharesToWeight(1024), 39);
    assert.equal(sharesToWeight(262144), 10000);
  });
});

describe('containerResources', () => {
  it('gives a BestEffort container the minimum shares and no limits', () => {
    assert.deepEqual(containerResources(c()), { cpuShares: 2 });
  });

  it('turns requests into shares and limits into quota and memory limit', () => {
    assert.deepEqual(containerResources(c({ cpu: '250m', memory: '32Mi' }, { cpu: '500m', memory: '64Mi' })), {
      cpuShares: 256,
      cpuQuota: 50000,
      cpuPeriod: 100000,
      memoryLimit: 64 * Mi,
    });
  });

  it('takes shares from the cpu limit when only a limit is set', () => {
    assert.deepEqual(containerResources(c(undefined, { cpu: '1' })), { cpuShares: 1024, cpuQuota: 100000, cpuPeriod: 100000 });
  });
});

describe('podTotals and podResources', () => {
  it('sums app containers and takes the largest init container when bigger', () => {
    const t = podTotals(pod([c({ cpu: '100m', memory: '10Mi' }), c({ cpu: '200m', memory: '20Mi' })], [c({ cpu: '500m', memory: '5Mi' })]));
    assert.deepEqual(t.requests, { milliCpu: 500, memory: 30 * Mi });
  });

  it('adds sidecars (restartable init containers) to the app containers and to later init containers', () => {
    const t = podTotals(
      pod([c({ cpu: '100m' })], [c({ cpu: '50m' }, undefined, 'Always'), c({ cpu: '400m' })]),
    );
    // app 100 + sidecar 50 = 150; the later init container runs with the sidecar: 400 + 50 = 450.
    assert.equal(t.requests.milliCpu, 450);
  });

  it('adds pod overhead to requests, and to limits only where a limit exists', () => {
    const t = podTotals(pod([c({ cpu: '100m', memory: '10Mi' }, { memory: '20Mi' })], [], { cpu: '10m', memory: '1Mi' }));
    assert.deepEqual(t.requests, { milliCpu: 110, memory: 11 * Mi });
    assert.deepEqual(t.limits, { milliCpu: 0, memory: 21 * Mi });
    assert.equal(t.cpuLimitsDeclared, false);
    assert.equal(t.memoryLimitsDeclared, true);
  });

  it('sets every limit on a Guaranteed pod', () => {
    const full = { cpu: '500m', memory: '64Mi' };
    assert.deepEqual(podResources(pod([c(full, full), c(full, full)])), {
      qos: 'Guaranteed',
      cpuShares: 1024,
      cpuQuota: 100000,
      cpuPeriod: 100000,
      memoryLimit: 128 * Mi,
    });
  });

  it('limits a Burstable pod only on resources every container limits', () => {
    const r = podResources(pod([c({ cpu: '100m' }, { cpu: '200m', memory: '64Mi' }), c({ cpu: '100m' }, { cpu: '300m' })]));
    assert.deepEqual(r, { qos: 'Burstable', cpuShares: 204, cpuQuota: 50000, cpuPeriod: 100000 });
    const r2 = podResources(pod([c({ memory: '10Mi' }, { memory: '64Mi' })], [c(undefined, { memory: '128Mi' })]));
    assert.deepEqual(r2, { qos: 'Burstable', cpuShares: 2, memoryLimit: 128 * Mi });
  });

  it('drops the memory limit when an init container has none', () => {
    const r = podResources(pod([c({ memory: '10Mi' }, { memory: '64Mi' })], [c({ cpu: '10m' })]));
    assert.equal(r.memoryLimit, undefined);
  });

  it('gives a BestEffort pod the minimum shares only', () => {
    assert.deepEqual(podResources(pod([c()])), { qos: 'BestEffort', cpuShares: 2 });
  });
});
