import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1PodAffinityTerm } from '@kubernetes/client-node';
import type { SchedulerCache } from './cache.js';
import type { Pod } from './objects.js';
import { InterPodAffinity } from './plugins/interpodaffinity.js';
import type { PodInfo } from './podinfo.js';
import { cacheWith, cycle, makeNode, makePod, podInfo } from './testutil.js';

const HOST = 'kubernetes.io/hostname';
const ZONE = 'topology.kubernetes.io/zone';
const term = (app: string, topologyKey = HOST, extra: Partial<V1PodAffinityTerm> = {}): V1PodAffinityTerm => ({ labelSelector: { matchLabels: { app } }, topologyKey, ...extra });

const nodes = [
  makeNode('n1', { labels: { [ZONE]: 'a' } }),
  makeNode('n2', { labels: { [ZONE]: 'a' } }),
  makeNode('n3', { labels: { [ZONE]: 'b' } }),
  makeNode('bare'),
];

/** Filter verdict per node name ('ok' or the reason). */
function verdicts(cache: SchedulerCache, pod: PodInfo): Record<string, string> {
  const state = cycle(pod, cache);
  const pre = InterPodAffinity.preFilter?.(state);
  const out: Record<string, string> = {};
  for (const n of cache.nodes) {
    if (pre?.code === 'Skip') out[n.name] = 'ok';
    else {
      const s = InterPodAffinity.filter(state, n);
      out[n.name] = s.code === 'Success' ? 'ok' : `${s.code}: ${s.reasons.join()}`;
    }
  }
  return out;
}

/** Normalized scores per node name, or undefined when the plugin skips. */
function scores(cache: SchedulerCache, pod: PodInfo): Record<string, number> | undefined {
  const state = cycle(pod, cache);
  if (InterPodAffinity.preScore?.(state, cache.nodes).code === 'Skip') return undefined;
  const arr = Float64Array.from(cache.nodes.map((n) => InterPodAffinity.score(state, n)));
  InterPodAffinity.normalize?.(state, arr);
  return Object.fromEntries(cache.nodes.map((n, i) => [n.name, arr[i]]));
}

const on = (node: string, name: string, labels: Record<string, string>, extra: Partial<Parameters<typeof makePod>[1]> = {}): Pod => makePod(name, { nodeName: node, labels, ...extra });

describe('InterPodAffinity filter', () => {
  it('skips when nobody has required terms', () => {
    const cache = cacheWith(nodes, [on('n1', 'a', { app: 'web' })]);
    assert.equal(InterPodAffinity.preFilter?.(cycle(podInfo('p'), cache)).code, 'Skip');
  });

  it('anti-affinity on hostname keeps replicas apart', () => {
    const cache = cacheWith(nodes, [on('n1', 'web-1', { app: 'web' })]);
    const pod = podInfo('web-2', { labels: { app: 'web' }, affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term('web')] } } });
    assert.deepEqual(verdicts(cache, pod), { n1: "Unschedulable: node(s) didn't match pod anti-affinity rules", n2: 'ok', n3: 'ok', bare: 'ok' });
  });

  it("existing pods' anti-affinity repels matching pods across their whole zone", () => {
    const guard = on('n1', 'guard', { app: 'guard' }, { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term('db', ZONE)] } } });
    const cache = cacheWith(nodes, [guard]);
    const db = podInfo('db', { labels: { app: 'db' } });
    const reason = "Unschedulable: node(s) didn't satisfy existing pods anti-affinity rules";
    assert.deepEqual(verdicts(cache, db), { n1: reason, n2: reason, n3: 'ok', bare: 'ok' });
    assert.equal(InterPodAffinity.preFilter?.(cycle(podInfo('web', { labels: { app: 'web' } }), cache)).code, 'Skip');
  });

  it('affinity needs a domain holding a matching pod, and the topology label', () => {
    const cache = cacheWith(nodes, [on('n1', 'cache', { app: 'cache' })]);
    const pod = podInfo('p', { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term('cache', ZONE)] } } });
    const reason = "UnschedulableAndUnresolvable: node(s) didn't match pod affinity rules";
    assert.deepEqual(verdicts(cache, pod), { n1: 'ok', n2: 'ok', n3: reason, bare: reason });
  });

  it('lets the first pod of a self-attracting group in', () => {
    const cache = cacheWith(nodes);
    const self = podInfo('x-1', { labels: { app: 'x' }, affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term('x', ZONE)] } } });
    const reason = "UnschedulableAndUnresolvable: node(s) didn't match pod affinity rules";
    assert.deepEqual(verdicts(cache, self), { n1: 'ok', n2: 'ok', n3: 'ok', bare: reason });
    const other = podInfo('y', { labels: { app: 'y' }, affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term('x', ZONE)] } } });
    assert.deepEqual(verdicts(cache, other), { n1: reason, n2: reason, n3: reason, bare: reason });
  });

  it('matches terms in the pod namespace unless told otherwise', () => {
    const cache = cacheWith(nodes, [on('n1', 'web-1', { app: 'web' }, { namespace: 'other' })]);
    const anti = (extra: Partial<V1PodAffinityTerm>) => podInfo('p', { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term('web', HOST, extra)] } } });
    assert.equal(verdicts(cache, anti({})).n1, 'ok', 'own namespace (default) only');
    assert.notEqual(verdicts(cache, anti({ namespaces: ['other'] })).n1, 'ok');
    assert.notEqual(verdicts(cache, anti({ namespaceSelector: {} })).n1, 'ok', 'empty namespaceSelector = all namespaces');
  });

  it('sees assumed pods like assigned ones', () => {
    const cache = cacheWith(nodes);
    cache.assume(podInfo('web-1', { labels: { app: 'web' } }), 'n2');
    const pod = podInfo('web-2', { labels: { app: 'web' }, affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term('web')] } } });
    assert.notEqual(verdicts(cache, pod).n2, 'ok');
  });
});

describe('InterPodAffinity score', () => {
  it('prefers domains with pods it likes and avoids those it dislikes', () => {
    const cache = cacheWith(nodes, [on('n1', 'cache', { app: 'cache' }), on('n3', 'noisy', { app: 'noisy' })]);
    const pod = podInfo('p', {
      affinity: {
        podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 10, podAffinityTerm: term('cache', ZONE) }] },
        podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 10, podAffinityTerm: term('noisy') }] },
      },
    });
    // zone a: +10 (n1, n2); n3: -10; bare: 0  -> min-max over [10, 10, -10, 0]
    assert.deepEqual(scores(cache, pod), { n1: 100, n2: 100, n3: 0, bare: 50 });
  });

  it("counts existing pods' terms about the incoming pod (symmetry)", () => {
    const fan = on('n2', 'fan', { app: 'fan' }, { affinity: { podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 5, podAffinityTerm: term('star') }] } } });
    const cache = cacheWith(nodes, [fan]);
    assert.deepEqual(scores(cache, podInfo('star', { labels: { app: 'star' } })), { n1: 0, n2: 100, n3: 0, bare: 0 });
    assert.equal(scores(cache, podInfo('other', { labels: { app: 'other' } })), undefined, 'no contribution: skip');
    assert.equal(scores(cacheWith(nodes), podInfo('p')), undefined);
  });
});
