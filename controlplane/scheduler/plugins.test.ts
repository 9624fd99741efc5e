import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatUsage } from './objects.js';
import { BalancedAllocation, balancedScore, balancedScore2 } from './plugins/balancedallocation.js';
import { LiveUsage } from './plugins/liveusage.js';
import { NodeAffinity } from './plugins/nodeaffinity.js';
import { NodeName } from './plugins/nodename.js';
import { NodePorts } from './plugins/nodeports.js';
import { insufficientResources, leastAllocated, NodeResourcesFit } from './plugins/noderesourcesfit.js';
import { NodeUnschedulable } from './plugins/nodeunschedulable.js';
import { TaintToleration, toleratesTaint } from './plugins/tainttoleration.js';
import { cacheWith, cycle, makeNode, nodeInfo, podInfo } from './testutil.js';
import type { CycleState, FilterPlugin, ScorePlugin, Status } from './types.js';
import type { NodeInfo } from './nodeinfo.js';
import type { PodInfo } from './podinfo.js';

/** Runs preFilter (if any) then filter, as the framework does; a SKIP means "passes". */
function runFilter(p: FilterPlugin, pod: PodInfo, node: NodeInfo, state: CycleState = cycle(pod)): Status {
  const pre = p.preFilter?.(state);
  if (pre?.code === 'Skip') return { code: 'Success', reasons: [] };
  return p.filter(state, node);
}

/** Scores every node with one plugin, normalized; undefined when the plugin skips. */
function runScore(p: ScorePlugin, pod: PodInfo, nodes: NodeInfo[], state: CycleState = cycle(pod)): number[] | undefined {
  if (p.preScore?.(state, nodes).code === 'Skip') return undefined;
  const scores = Float64Array.from(nodes.map((n) => p.score(state, n)));
  p.normalize?.(state, scores);
  return [...scores];
}

describe('NodeUnschedulable', () => {
  const cordoned = nodeInfo(makeNode('n1', { unschedulable: true }));
  it('rejects cordoned nodes as unresolvable', () => {
    assert.deepEqual(runFilter(NodeUnschedulable, podInfo('p'), cordoned), { code: 'UnschedulableAndUnresolvable', reasons: ['node(s) were unschedulable'] });
    assert.equal(runFilter(NodeUnschedulable, podInfo('p'), nodeInfo(makeNode('n2'))).code, 'Success');
  });
  it('lets pods tolerating the unschedulable taint in', () => {
    const tolerant = podInfo('p', { tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] });
    assert.equal(runFilter(NodeUnschedulable, tolerant, cordoned).code, 'Success');
    assert.equal(runFilter(NodeUnschedulable, podInfo('p', { tolerations: [{ operator: 'Exists' }] }), cordoned).code, 'Success');
  });
});

describe('NodeName', () => {
  it('skips pods without nodeName and matches by name', () => {
    assert.equal(NodeName.preFilter?.(cycle(podInfo('p'))).code, 'Skip');
    const pinned = podInfo('p', { nodeName: 'n1' });
    assert.equal(runFilter(NodeName, pinned, nodeInfo(makeNode('n1'))).code, 'Success');
    assert.deepEqual(runFilter(NodeName, pinned, nodeInfo(makeNode('n2'))).reasons, ["node(s) didn't match the requested node name"]);
  });
});

describe('TaintToleration', () => {
  const gpu = nodeInfo(makeNode('gpu', { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] }));
  it('rejects untolerated NoSchedule and NoExecute taints, naming the taint', () => {
    assert.deepEqual(runFilter(TaintToleration, podInfo('p'), gpu), { code: 'UnschedulableAndUnresolvable', reasons: ['node(s) had untolerated taint {dedicated: gpu}'] });
    const noExec = nodeInfo(makeNode('n', { taints: [{ key: 'evict', effect: 'NoExecute' }] }));
    assert.deepEqual(runFilter(TaintToleration, podInfo('p'), noExec).reasons, ['node(s) had untolerated taint {evict: }']);
    const soft = nodeInfo(makeNode('n', { taints: [{ key: 'soft', effect: 'PreferNoSchedule' }] }));
    assert.equal(runFilter(TaintToleration, podInfo('p'), soft).code, 'Success');
  });
  it('matches tolerations as Kubernetes does', () => {
    const taint = { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' };
    assert.equal(toleratesTaint({ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }, taint), true);
    assert.equal(toleratesTaint({ key: 'dedicated', operator: 'Equal', value: 'gpu' }, taint), true, 'empty effect matches all');
    assert.equal(toleratesTaint({ key: 'dedicated', operator: 'Exists' }, taint), true);
    assert.equal(toleratesTaint({ operator: 'Exists' }, taint), true, 'empty key with Exists matches everything');
    assert.equal(toleratesTaint({ key: 'dedicated', value: 'cpu' }, taint), false);
    assert.equal(toleratesTaint({ key: 'dedicated', value: 'gpu', effect: 'NoExecute' }, taint), false);
    assert.equal(toleratesTaint({ key: 'other', operator: 'Exists' }, taint), false);
    const tolerant = podInfo('p', { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }] });
    assert.equal(runFilter(TaintToleration, tolerant, gpu).code, 'Success');
  });
  it('scores untolerated PreferNoSchedule taints, fewer is better', () => {
    const n0 = makeNode('n0');
    const n1 = makeNode('n1', { taints: [{ key: 'a', effect: 'PreferNoSchedule' }] });
    const n2 = makeNode('n2', { taints: [{ key: 'a', effect: 'PreferNoSchedule' }, { key: 'b', effect: 'PreferNoSchedule' }] });
    const cache = cacheWith([n0, n1, n2]);
    const pod = podInfo('p');
    assert.deepEqual(runScore(TaintToleration, pod, [...cache.nodes], cycle(pod, cache)), [100, 50, 0]);
    const tolerant = podInfo('t', { tolerations: [{ key: 'a', operator: 'Exists', effect: 'PreferNoSchedule' }] });
    assert.deepEqual(runScore(TaintToleration, tolerant, [...cache.nodes], cycle(tolerant, cache)), [100, 100, 0]);
    // Nothing tainted anywhere: the plugin has nothing to rank.
    assert.equal(runScore(TaintToleration, pod, [nodeInfo(n0)], cycle(pod, cacheWith([n0]))), undefined);
  });
});

describe('NodeAffinity', () => {
  const node = nodeInfo(makeNode('n1', { labels: { zone: 'a', disk: 'ssd', cores: '8' } }));
  const required = (...terms: object[]) => podInfo('p', { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } } });
  const expr = (key: string, operator: string, values?: string[]) => ({ matchExpressions: [{ key, operator, ...(values ? { values } : {}) }] });
  const fits = (p: PodInfo): boolean => runFilter(NodeAffinity, p, node).code === 'Success';

  it('skips pods without selector or affinity', () => {
    assert.equal(NodeAffinity.preFilter?.(cycle(podInfo('p'))).code, 'Skip');
  });
  it('applies nodeSelector', () => {
    assert.equal(fits(podInfo('p', { nodeSelector: { zone: 'a' } })), true);
    assert.deepEqual(runFilter(NodeAffinity, podInfo('p', { nodeSelector: { zone: 'b' } }), node), {
      code: 'UnschedulableAndUnresolvable',
      reasons: ["node(s) didn't match Pod's node affinity/selector"],
    });
  });
  it('supports every operator', () => {
    assert.equal(fits(required(expr('zone', 'In', ['a', 'b']))), true);
    assert.equal(fits(required(expr('zone', 'In', ['b']))), false);
    assert.equal(fits(required(expr('zone', 'NotIn', ['b']))), true);
    assert.equal(fits(required(expr('missing', 'NotIn', ['b']))), true);
    assert.equal(fits(required(expr('disk', 'Exists'))), true);
    assert.equal(fits(required(expr('disk', 'DoesNotExist'))), false);
    assert.equal(fits(required(expr('gpu', 'DoesNotExist'))), true);
    assert.equal(fits(required(expr('cores', 'Gt', ['4']))), true);
    assert.equal(fits(required(expr('cores', 'Gt', ['8']))), false);
    assert.equal(fits(required(expr('cores', 'Lt', ['16']))), true);
    assert.equal(fits(required(expr('zone', 'Gt', ['1']))), false, 'non-integer label never compares');
    assert.equal(fits(required(expr('cores', 'Gt', ['x']))), false, 'invalid requirement matches nothing');
  });
  it('supports matchFields on metadata.name, ORs terms and ANDs within a term', () => {
    assert.equal(fits(required({ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] })), true);
    assert.equal(fits(required({ matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['n1'] }] })), false);
    assert.equal(fits(required(expr('zone', 'In', ['b']), expr('disk', 'In', ['ssd']))), true);
    assert.equal(fits(required({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }, { key: 'disk', operator: 'In', values: ['hdd'] }] })), false);
    assert.equal(fits(required({})), false, 'an empty term matches nothing');
    assert.equal(fits(required()), false, 'no terms matches nothing');
  });
  it('scores preferred terms by weight, best node 100', () => {
    const a = nodeInfo(makeNode('a', { labels: { zone: 'a', disk: 'ssd' } }));
    const b = nodeInfo(makeNode('b', { labels: { zone: 'b', disk: 'ssd' } }));
    const c = nodeInfo(makeNode('c', { labels: { zone: 'c' } }));
    const pod = podInfo('p', {
      affinity: {
        nodeAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 80, preference: expr('zone', 'In', ['a']) },
            { weight: 20, preference: expr('disk', 'In', ['ssd']) },
          ],
        },
      },
    });
    assert.deepEqual(runScore(NodeAffinity, pod, [a, b, c]), [100, 20, 0]);
    assert.equal(runScore(NodeAffinity, podInfo('q'), [a, b]), undefined);
  });
});

describe('NodeResourcesFit', () => {
  const node = (pods: PodInfo[] = [], o = {}) => nodeInfo(makeNode('n', { cpu: '2', memory: '4Gi', pods: '3', ...o }), pods);
  it('fits requests against allocatable minus what pods request', () => {
    const busy = node([podInfo('a', { cpu: '1500m', memory: '1Gi' })]);
    assert.equal(NodeResourcesFit.filter(cycle(podInfo('p', { cpu: '500m', memory: '3Gi' })), busy).code, 'Success');
    assert.deepEqual(NodeResourcesFit.filter(cycle(podInfo('p', { cpu: '501m' })), busy), { code: 'Unschedulable', reasons: ['Insufficient cpu'] });
    assert.deepEqual(insufficientResources(podInfo('p', { cpu: '1', memory: '3073Mi' }).requests, busy), ['Insufficient cpu', 'Insufficient memory']);
  });
  it('counts pods against allocatable pods', () => {
    const full = node([podInfo('a'), podInfo('b'), podInfo('c')]);
    assert.deepEqual(NodeResourcesFit.filter(cycle(podInfo('p')), full).reasons, ['Too many pods']);
  });
  it('lets pods without requests onto an over-committed node', () => {
    const over = node([podInfo('a', { cpu: '3' })]);
    assert.equal(NodeResourcesFit.filter(cycle(podInfo('p')), over).code, 'Success');
  });
  it('checks extended resources and ephemeral storage', () => {
    const gpuNode = nodeInfo(makeNode('g', { extra: { 'nvidia.com/gpu': '1' } }));
    const wantsTwo = podInfo('p', { containers: [{ name: 'c', resources: { requests: { 'nvidia.com/gpu': '2', 'ephemeral-storage': '1Gi' } } }] });
    assert.deepEqual(NodeResourcesFit.filter(cycle(wantsTwo), gpuNode).reasons, ['Insufficient nvidia.com/gpu', 'Insufficient ephemeral-storage']);
  });
  it('scores LeastAllocated with the non-zero defaults', () => {
    const empty = node();
    // cpu (2000-1000)/2000 = 50, memory (4096-1024)/4096 = 75 -> 62
    assert.equal(leastAllocated(empty, podInfo('p', { cpu: '1', memory: '1Gi' }).nonZero), 62);
    // No requests count as 100m and 200Mi: cpu 95, memory 95 -> 95
    assert.equal(NodeResourcesFit.score(cycle(podInfo('p')), empty), 95);
    const loaded = node([podInfo('a', { cpu: '1', memory: '2Gi' })]);
    assert.ok(NodeResourcesFit.score(cycle(podInfo('p')), loaded) < NodeResourcesFit.score(cycle(podInfo('p')), empty));
  });
});

describe('NodeResourcesBalancedAllocation', () => {
  it('prefers equal cpu and memory fractions', () => {
    assert.equal(balancedScore([1, 2], [2, 4]), 100);
    assert.equal(balancedScore([2, 0], [2, 4]), 50);
    assert.equal(balancedScore2(2, 2, 0, 4), 50);
    assert.equal(balancedScore([1, 1, 1], [2, 4, 4]), Math.trunc((1 - Math.sqrt(((0.5 - 1 / 3) ** 2 + 2 * (0.25 - 1 / 3) ** 2) / 3)) * 100));
  });
  it('ranks nodes and skips pods requesting nothing', () => {
    const cpuHeavy = nodeInfo(makeNode('a', { cpu: '4', memory: '4Gi' }), [podInfo('x', { cpu: '3' })]);
    const even = nodeInfo(makeNode('b', { cpu: '4', memory: '4Gi' }));
    const pod = podInfo('p', { cpu: '1', memory: '1Gi' });
    const [a, b] = runScore(BalancedAllocation, pod, [cpuHeavy, even]) as number[];
    assert.ok(b > a, `${b} > ${a}`);
    assert.equal(runScore(BalancedAllocation, podInfo('q'), [even]), undefined);
  });
});

describe('NodePorts', () => {
  const withPort = (ip?: string, protocol = 'TCP') =>
    podInfo('x', { containers: [{ name: 'c', ports: [{ containerPort: 80, hostPort: 8080, protocol, ...(ip ? { hostIP: ip } : {}) }] }] });
  it('rejects host port conflicts, with the wildcard rule', () => {
    const node = nodeInfo(makeNode('n'), [withPort()]);
    assert.deepEqual(runFilter(NodePorts, withPort(), node), { code: 'Unschedulable', reasons: ["node(s) didn't have free ports for the requested pod ports"] });
    assert.equal(runFilter(NodePorts, withPort(undefined, 'UDP'), node).code, 'Success');
    assert.equal(runFilter(NodePorts, withPort('10.0.0.1'), node).code, 'Unschedulable', '0.0.0.0 in use blocks every address');
    const specific = nodeInfo(makeNode('n'), [withPort('10.0.0.1')]);
    assert.equal(runFilter(NodePorts, withPort('10.0.0.2'), specific).code, 'Success');
    assert.equal(runFilter(NodePorts, withPort(), specific).code, 'Unschedulable', '0.0.0.0 collides with any address');
    assert.equal(NodePorts.preFilter?.(cycle(podInfo('p'))).code, 'Skip');
  });
  it('frees ports when the pod leaves', () => {
    const holder = withPort();
    const node = nodeInfo(makeNode('n'), [holder]);
    node.removePod(holder.uid);
    assert.equal(runFilter(NodePorts, withPort(), node).code, 'Success');
  });
});

describe('LiveUsage', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  const usage = (cpu: number, mem: number, ageMs = 0) => ({ 'skiff.io/usage': formatUsage(cpu, mem, new Date(now - ageMs)) });
  const pod = podInfo('p', { cpu: '100m', memory: '128Mi' });
  it('scores a node busy beyond its requests lower', () => {
    const idle = nodeInfo(makeNode('idle', { cpu: '4', memory: '8Gi', annotations: usage(200, 512 * 2 ** 20) }));
    const busy = nodeInfo(makeNode('busy', { cpu: '4', memory: '8Gi', annotations: usage(3600, 6 * 2 ** 30) }));
    const s = cycle(pod, undefined, now);
    assert.ok(LiveUsage.score(s, busy) < LiveUsage.score(s, idle) - 40, `${LiveUsage.score(s, busy)} vs ${LiveUsage.score(s, idle)}`);
  });
  it('falls back to requests without a fresh reading', () => {
    const plain = nodeInfo(makeNode('plain'));
    const stale = nodeInfo(makeNode('stale', { annotations: usage(3900, 7 * 2 ** 30, 61_000) }));
    const garbage = nodeInfo(makeNode('garbage', { annotations: { 'skiff.io/usage': '{"cpu":"lots"}' } }));
    const s = cycle(pod, undefined, now);
    const expected = leastAllocated(plain, pod.nonZero);
    assert.equal(LiveUsage.score(s, plain), expected);
    assert.equal(LiveUsage.score(s, stale), expected);
    assert.equal(LiveUsage.score(s, garbage), expected);
  });
  it('never counts less than what pods request', () => {
    const reserved = nodeInfo(makeNode('r', { cpu: '4', memory: '8Gi', annotations: usage(0, 0) }), [podInfo('a', { cpu: '2', memory: '4Gi' })]);
    assert.equal(LiveUsage.score(cycle(pod, undefined, now), reserved), leastAllocated(reserved, pod.nonZero));
  });
});
