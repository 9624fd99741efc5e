import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Container } from '@kubernetes/client-node';
import { parseUsage, formatUsage } from './objects.js';
import { DEFAULT_MEMORY_REQUEST, podRequests, termMatches } from './podinfo.js';
import { makeNode, makePod, podInfo } from './testutil.js';

const c = (name: string, cpu?: string, memory?: string, extra: Partial<V1Container> = {}): V1Container => ({
  name,
  resources: { requests: { ...(cpu ? { cpu } : {}), ...(memory ? { memory } : {}) } },
  ...extra,
});

describe('podRequests', () => {
  it('sums app containers', () => {
    const r = podRequests(makePod('p', { containers: [c('a', '1', '1Gi'), c('b', '500m', '512Mi')] }));
    assert.deepEqual(r, { milliCPU: 1500, memory: 1536 * 2 ** 20 });
  });
  it('takes the max of each init container against the app containers', () => {
    const r = podRequests(makePod('p', { containers: [c('a', '1'), c('b', '2')], initContainers: [c('i1', '4', '64Mi'), c('i2', '1', '2Gi')] }));
    assert.deepEqual(r, { milliCPU: 4000, memory: 2 * 2 ** 30 });
  });
  it('adds sidecars (restartable init containers) to everything after them', () => {
    const always = { restartPolicy: 'Always' };
    // app 3 + sidecar 1 = 4; init i2 runs next to the sidecar: 2 + 1 = 3 -> 4
    assert.equal(podRequests(makePod('p', { containers: [c('a', '3')], initContainers: [c('s', '1', undefined, always), c('i2', '2')] })).milliCPU, 4000);
    // a big init before any sidecar: max(5, 3 + 1) = 5
    assert.equal(podRequests(makePod('p', { containers: [c('a', '3')], initContainers: [c('i1', '5'), c('s', '1', undefined, always)] })).milliCPU, 5000);
    // init after the sidecar: 4 + 1 = 5 > 3 + 1
    assert.equal(podRequests(makePod('p', { containers: [c('a', '3')], initContainers: [c('s', '1', undefined, always), c('i2', '4')] })).milliCPU, 5000);
  });
  it('adds pod overhead and falls back to limits', () => {
    const r = podRequests(makePod('p', { containers: [{ name: 'a', resources: { limits: { cpu: '250m', memory: '128Mi' } } }], overhead: { cpu: '50m' } }));
    assert.deepEqual(r, { milliCPU: 300, memory: 128 * 2 ** 20 });
  });
  it('applies the 100m / 200Mi scoring defaults per container with nonMissing', () => {
    const pod = makePod('p', { containers: [c('a'), c('b', '1')] });
    assert.deepEqual(podRequests(pod), { milliCPU: 1000, memory: 0 });
    assert.deepEqual(podRequests(pod, true), { milliCPU: 1100, memory: 2 * DEFAULT_MEMORY_REQUEST });
    assert.deepEqual(podRequests(makePod('p', { containers: [c('a', '0')] }), true).milliCPU, 0, 'an explicit zero is not missing');
  });
  it('keeps scalar resources apart', () => {
    const r = podRequests(makePod('p', { containers: [{ name: 'a', resources: { requests: { 'example.com/dongle': '2', 'ephemeral-storage': '1Gi' } } }] }));
    assert.deepEqual([...(r.scalar ?? [])], [['example.com/dongle', 2], ['ephemeral-storage', 2 ** 30]]);
  });
});

describe('newPodInfo', () => {
  it('collects host ports with defaults', () => {
    const pi = podInfo('p', { containers: [{ name: 'a', ports: [{ containerPort: 80, hostPort: 8080 }, { containerPort: 81 }, { containerPort: 53, hostPort: 53, protocol: 'UDP', hostIP: '10.0.0.1' }] }] });
    assert.deepEqual(pi.hostPorts, [
      { ip: '0.0.0.0', protocol: 'TCP', port: 8080 },
      { ip: '10.0.0.1', protocol: 'UDP', port: 53 },
    ]);
  });
  it('resolves affinity term namespaces and selectors', () => {
    const owner = (t: object) =>
      podInfo('o', { namespace: 'team', labels: { app: 'web', tier: 'fe' }, affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'k', ...t }] } } }).requiredAntiAffinity[0];
    const web = (ns: string, labels: Record<string, string> = { app: 'web', tier: 'fe' }) => podInfo('x', { namespace: ns, labels });
    const own = owner({ labelSelector: { matchLabels: { app: 'web' } } });
    assert.equal(termMatches(own, web('team')), true);
    assert.equal(termMatches(own, web('other')), false);
    assert.equal(termMatches(owner({ labelSelector: { matchLabels: { app: 'web' } }, namespaces: ['other'] }), web('other')), true);
    assert.equal(termMatches(owner({ labelSelector: { matchLabels: { app: 'web' } }, namespaceSelector: {} }), web('anything')), true);
    assert.equal(termMatches(owner({}), web('team')), false, 'no labelSelector selects nothing');
    assert.equal(termMatches(owner({ labelSelector: {} }), web('team')), true, 'empty labelSelector selects everything');
    const keyed = owner({ labelSelector: { matchLabels: { app: 'web' } }, matchLabelKeys: ['tier'] });
    assert.equal(termMatches(keyed, web('team', { app: 'web', tier: 'be' })), false);
    assert.equal(termMatches(keyed, web('team')), true);
  });
  it('reads scheduling fields', () => {
    const pi = podInfo('p', { priority: 7, schedulerName: 'other', nodeName: 'n1' });
    assert.equal(pi.priority, 7);
    assert.equal(pi.schedulerName, 'other');
    assert.equal(pi.nodeName, 'n1');
    assert.equal(pi.hasAffinity, false);
  });
});

describe('usage annotation', () => {
  it('round-trips and rejects garbage', () => {
    const t = new Date('2025-01-01T10:00:00Z');
    const node = makeNode('n', { annotations: { 'skiff.io/usage': formatUsage(1250, 2 ** 31, t) } });
    assert.equal(node.metadata?.annotations?.['skiff.io/usage'], '{"cpu":"1250m","memory":"2147483648","timestamp":"2025-01-01T10:00:00Z"}');
    assert.deepEqual(parseUsage(node), { milliCPU: 1250, memory: 2 ** 31, time: t.getTime() });
    assert.deepEqual(parseUsage(makeNode('n', { annotations: { 'skiff.io/usage': '{"cpu":"1.5","memory":"1Gi","timestamp":"2025-01-01T10:00:00Z"}' } }))?.milliCPU, 1500);
    for (const bad of ['nope', '{}', '{"cpu":"1","memory":"x","timestamp":"2025-01-01T10:00:00Z"}', '{"cpu":"1","memory":"1","timestamp":"yesterday"}']) {
      assert.equal(parseUsage(makeNode('n', { annotations: { 'skiff.io/usage': bad } })), undefined, bad);
    }
  });
});
