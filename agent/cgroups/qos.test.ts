import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { computeQosClass, podCgroupParent, qosClass, qosCgroupPath, uidOfPodCgroup, type ContainerLike, type PodLike } from './qos.js';

const c = (requests?: Record<string, string>, limits?: Record<string, string>, restartPolicy?: string): ContainerLike => ({
  name: 'c',
  resources: { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) },
  ...(restartPolicy ? { restartPolicy } : {}),
});
const pod = (containers: ContainerLike[], initContainers: ContainerLike[] = [], uid = 'u1'): PodLike => ({ metadata: { uid }, spec: { containers, initContainers } });
const full = { cpu: '500m', memory: '64Mi' };

describe('computeQosClass', () => {
  it('is BestEffort with no requests or limits at all', () => {
    assert.equal(computeQosClass(pod([c(), c()])), 'BestEffort');
  });

  it('ignores zero quantities and resources other than cpu and memory', () => {
    assert.equal(computeQosClass(pod([c({ cpu: '0', 'ephemeral-storage': '1Gi' }, { 'nvidia.com/gpu': '1' })])), 'BestEffort');
  });

  it('is Guaranteed when every container has cpu and memory limits equal to requests', () => {
    assert.equal(computeQosClass(pod([c(full, full), c({ cpu: '1', memory: '1Gi' }, { cpu: '1000m', memory: '1024Mi' })])), 'Guaranteed');
  });

  it('compares sums: per-container mismatches that cancel out still give Guaranteed, as Kubernetes does', () => {
    const p = pod([c({ cpu: '200m', memory: '64Mi' }, { cpu: '300m', memory: '64Mi' }), c({ cpu: '300m', memory: '64Mi' }, { cpu: '200m', memory: '64Mi' })]);
    assert.equal(computeQosClass(p), 'Guaranteed');
  });

  it('is Burstable when a limit is missing, requests differ from limits, or only requests are set', () => {
    assert.equal(computeQosClass(pod([c(full, { cpu: '500m' })])), 'Burstable');
    assert.equal(computeQosClass(pod([c({ cpu: '100m', memory: '64Mi' }, full)])), 'Burstable');
    assert.equal(computeQosClass(pod([c({ cpu: '100m' })])), 'Burstable');
    assert.equal(computeQosClass(pod([c(full, full), c()])), 'Burstable');
  });

  it('counts init containers: a BestEffort init container makes a Guaranteed pod Burstable', () => {
    assert.equal(computeQosClass(pod([c(full, full)], [c()])), 'Burstable');
    assert.equal(computeQosClass(pod([c(full, full)], [c(full, full)])), 'Guaranteed');
    assert.equal(computeQosClass(pod([c()], [c({ memory: '10Mi' })])), 'Burstable');
  });

  it('qosClass trusts status.qosClass as GetPodQOS does, and computes otherwise', () => {
    assert.equal(qosClass({ ...pod([c()]), status: { qosClass: 'Guaranteed' } }), 'Guaranteed');
    assert.equal(qosClass({ ...pod([c()]), status: { qosClass: 'bogus' } }), 'BestEffort');
  });
});

describe('pod cgroup layout', () => {
  it('puts Guaranteed pods under the root and the others under their class', () => {
    assert.equal(podCgroupParent(pod([c(full, full)], [], 'abc-1')), '/skiff/podabc-1');
    assert.equal(podCgroupParent(pod([c({ cpu: '1m' })], [], 'abc-2')), '/skiff/burstable/podabc-2');
    assert.equal(podCgroupParent(pod([c()], [], 'abc-3')), '/skiff/besteffort/podabc-3');
    assert.equal(podCgroupParent(pod([c()], [], 'x'), 'skiff-test'), '/skiff-test/besteffort/podx');
  });

  it('names class cgroups and recognizes pod directories', () => {
    assert.equal(qosCgroupPath('Guaranteed'), '/skiff');
    assert.equal(qosCgroupPath('Burstable'), '/skiff/burstable');
    assert.equal(qosCgroupPath('BestEffort'), '/skiff/besteffort');
    assert.equal(uidOfPodCgroup('pod0b1e-22'), '0b1e-22');
    assert.equal(uidOfPodCgroup('burstable'), undefined);
    assert.equal(uidOfPodCgroup('pod'), undefined);
  });

  it('refuses a pod without a uid', () => {
    assert.throws(() => podCgroupParent({ spec: { containers: [] } }), /no metadata.uid/);
  });
});
