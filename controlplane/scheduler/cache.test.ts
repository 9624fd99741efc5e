import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newPodInfo } from './podinfo.js';
import { cacheWith, makeNode, makePod, podInfo } from './testutil.js';

describe('SchedulerCache', () => {
  it('accounts assumed pods, then lets the informer confirm them without double counting', () => {
    const cache = cacheWith([makeNode('n1', { cpu: '2' })]);
    const pod = makePod('p', { cpu: '1' });
    assert.equal(cache.assume(newPodInfo(pod), 'n1'), true);
    assert.equal(cache.nodeInfo('n1')?.reqMilliCPU, 1000);
    assert.equal(cache.isAssumed(pod.metadata!.uid!), true);
    const ev = cache.addOrUpdatePod(newPodInfo({ ...pod, spec: { ...pod.spec!, nodeName: 'n1' } }));
    assert.equal(ev, 'AssignedPodAdd');
    assert.equal(cache.isAssumed(pod.metadata!.uid!), false);
    assert.equal(cache.nodeInfo('n1')?.reqMilliCPU, 1000);
    assert.equal(cache.nodeInfo('n1')?.pods.size, 1);
    assert.equal(cache.addOrUpdatePod(newPodInfo({ ...pod, spec: { ...pod.spec!, nodeName: 'n1' } })), 'AssignedPodUpdate');
  });

  it('forgets a failed assumption but never an informer-confirmed pod', () => {
    const cache = cacheWith([makeNode('n1')]);
    const a = podInfo('a', { cpu: '1' });
    cache.assume(a, 'n1');
    cache.forget(a.uid);
    assert.equal(cache.nodeInfo('n1')?.reqMilliCPU, 0);
    assert.equal(cache.hasPod(a.uid), false);
    const b = podInfo('b', { cpu: '1', nodeName: 'n1' });
    cache.addOrUpdatePod(b);
    cache.forget(b.uid);
    assert.equal(cache.hasPod(b.uid), true);
  });

  it('believes the informer when a pod lands elsewhere than assumed', () => {
    const cache = cacheWith([makeNode('n1'), makeNode('n2')]);
    const pod = makePod('p', { cpu: '1' });
    cache.assume(newPodInfo(pod), 'n1');
    cache.addOrUpdatePod(newPodInfo({ ...pod, spec: { ...pod.spec!, nodeName: 'n2' } }));
    assert.equal(cache.nodeInfo('n1')?.reqMilliCPU, 0);
    assert.equal(cache.nodeInfo('n2')?.reqMilliCPU, 1000);
  });

  it('keeps pods of unknown or deleted nodes on a placeholder that is never offered', () => {
    const cache = cacheWith([makeNode('n1')]);
    cache.addOrUpdatePod(podInfo('early', { cpu: '1', nodeName: 'later' }));
    assert.deepEqual(cache.nodes.map((n) => n.name), ['n1']);
    assert.equal(cache.setNode(makeNode('later')), 'NodeAdd');
    assert.equal(cache.nodeInfo('later')?.reqMilliCPU, 1000, 'the pod was accounted before its node arrived');
    assert.deepEqual(cache.nodes.map((n) => n.name), ['n1', 'later']);
    cache.removeNode('later');
    assert.deepEqual(cache.nodes.map((n) => n.name), ['n1']);
    assert.ok(cache.nodeInfo('later'), 'placeholder kept while pods remain');
  });

  it('reports node updates only when something filters read changed', () => {
    const cache = cacheWith([makeNode('n1')]);
    const n = makeNode('n1');
    assert.equal(cache.setNode({ ...n, status: { ...n.status, conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: new Date() }] } }), undefined);
    assert.equal(cache.setNode(makeNode('n1', { annotations: { 'skiff.io/usage': '{}' } })), undefined);
    assert.equal(cache.setNode(makeNode('n1', { cpu: '8' })), 'NodeUpdate');
    assert.equal(cache.setNode(makeNode('n1', { cpu: '8', labels: { zone: 'a' } })), 'NodeUpdate');
    assert.equal(cache.setNode(makeNode('n1', { cpu: '8', labels: { zone: 'a' }, taints: [{ key: 'k', effect: 'PreferNoSchedule' }] })), 'NodeUpdate');
    assert.equal(cache.preferNoScheduleNodes, 1);
    assert.equal(cache.nodeInfo('n1')?.allocMilliCPU, 8000);
  });

  it('indexes nodes holding pods with affinity', () => {
    const cache = cacheWith([makeNode('n1'), makeNode('n2')]);
    const anti = podInfo('a', { nodeName: 'n2', affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'k', labelSelector: {} }] } } });
    cache.addOrUpdatePod(anti);
    assert.deepEqual([...cache.nodesWithRequiredAntiAffinityPods()].map((n) => n.name), ['n2']);
    assert.deepEqual([...cache.nodesWithAffinityPods()].map((n) => n.name), ['n2']);
    cache.removePod(anti.uid);
    assert.deepEqual([...cache.nodesWithAffinityPods()], []);
  });
});
