import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1TopologySpreadConstraint } from '@kubernetes/client-node';
import type { SchedulerCache } from '../cache.js';
import type { Pod } from '../objects.js';
import { newPodInfo, type PodInfo } from '../podinfo.js';
import { buildProfile } from '../registry.js';
import { cacheWith, cycle, makeNode, makePod, type PodSpec } from '../testutil.js';
import { ERR_CONSTRAINTS, ERR_MISSING_LABEL, PodTopologySpread } from './podtopologyspread.js';

const HOST = 'kubernetes.io/hostname';
const ZONE = 'topology.kubernetes.io/zone';

const nodes = [
  makeNode('n1', { labels: { [ZONE]: 'a' } }),
  makeNode('n2', { labels: { [ZONE]: 'a' } }),
  makeNode('n3', { labels: { [ZONE]: 'b' } }),
  makeNode('bare'),
];

interface Extra extends PodSpec {
  spread?: V1TopologySpreadConstraint[];
  /** Controller ownerReference uid. */
  owner?: string;
  deleting?: boolean;
}

function pod(name: string, o: Extra = {}): Pod {
  const p = makePod(name, o);
  if (o.spread) p.spec!.topologySpreadConstraints = o.spread;
  if (o.owner) p.metadata!.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: o.owner, uid: o.owner, controller: true }];
  if (o.deleting) p.metadata!.deletionTimestamp = '2025-01-01T00:00:00Z' as never;
  return p;
}

const pi = (name: string, o: Extra = {}): PodInfo => newPodInfo(pod(name, o));

/** `n` pods labelled app=`app` on `node`. */
const on = (node: string, n: number, app = 'web', o: Extra = {}): Pod[] =>
  Array.from({ length: n }, (_, i) => pod(`${app}-${node}-${i}-${o.namespace ?? ''}${o.owner ?? ''}`, { nodeName: node, labels: { app }, ...o }));

const hard = (topologyKey: string, maxSkew = 1, extra: Partial<V1TopologySpreadConstraint> = {}): V1TopologySpreadConstraint => ({
  maxSkew,
  topologyKey,
  whenUnsatisfiable: 'DoNotSchedule',
  labelSelector: { matchLabels: { app: 'web' } },
  ...extra,
});
const soft = (topologyKey: string, maxSkew = 1): V1TopologySpreadConstraint => ({ ...hard(topologyKey, maxSkew), whenUnsatisfiable: 'ScheduleAnyway' });

/** Filter verdict per node name ('ok' or code: reason). */
function verdicts(cache: SchedulerCache, p: PodInfo): Record<string, string> {
  const state = cycle(p, cache);
  const pre = PodTopologySpread.preFilter?.(state);
  const out: Record<string, string> = {};
  for (const n of cache.nodes) {
    if (pre?.code === 'Skip') out[n.name] = 'ok';
    else {
      const s = PodTopologySpread.filter(state, n);
      out[n.name] = s.code === 'Success' ? 'ok' : `${s.code}: ${s.reasons.join()}`;
    }
  }
  return out;
}

/** Normalized scores per node name over `feasible` (all nodes by default), or undefined on SKIP. */
function scores(cache: SchedulerCache, p: PodInfo, feasible = cache.nodes): Record<string, number> | undefined {
  const state = cycle(p, cache);
  if (PodTopologySpread.preScore?.(state, feasible).code === 'Skip') return undefined;
  const arr = Float64Array.from(feasible.map((n) => PodTopologySpread.score(state, n)));
  PodTopologySpread.normalize?.(state, arr);
  return Object.fromEntries(feasible.map((n, i) => [n.name, arr[i]]));
}

const SKEW = `Unschedulable: ${ERR_CONSTRAINTS}`;
const MISSING = `UnschedulableAndUnresolvable: ${ERR_MISSING_LABEL}`;
const web = (spread: V1TopologySpreadConstraint[], o: Extra = {}): PodInfo => pi('incoming', { labels: { app: 'web' }, spread, ...o });

describe('PodTopologySpread filter', () => {
  it('skips pods without DoNotSchedule constraints', () => {
    const cache = cacheWith(nodes, on('n1', 3));
    assert.equal(PodTopologySpread.preFilter?.(cycle(pi('p', { labels: { app: 'web' } }), cache)).code, 'Skip');
    assert.equal(PodTopologySpread.preFilter?.(cycle(web([soft(HOST)]), cache)).code, 'Skip');
  });

  it('keeps the skew across hostnames within maxSkew', () => {
    const hostNodes = nodes.slice(0, 3);
    const cache = cacheWith(hostNodes, [...on('n1', 2), ...on('n2', 1)]);
    assert.deepEqual(verdicts(cache, web([hard(HOST, 1)])), { n1: SKEW, n2: SKEW, n3: 'ok' });
    assert.deepEqual(verdicts(cache, web([hard(HOST, 2)])), { n1: SKEW, n2: 'ok', n3: 'ok' });
    assert.deepEqual(verdicts(cache, web([hard(HOST, 3)])), { n1: 'ok', n2: 'ok', n3: 'ok' });
  });

  it('keeps the skew across zones, and rejects nodes without the key as unresolvable', () => {
    const cache = cacheWith(nodes, [...on('n1', 1), ...on('n2', 1), ...on('bare', 5)]);
    // zone a: 2, zone b: 0 (pods on the unlabelled node count for no zone).
    assert.deepEqual(verdicts(cache, web([hard(ZONE, 1)])), { n1: SKEW, n2: SKEW, n3: 'ok', bare: MISSING });
    assert.deepEqual(verdicts(cache, web([hard(ZONE, 2)])), { n1: SKEW, n2: SKEW, n3: 'ok', bare: MISSING });
    assert.deepEqual(verdicts(cache, web([hard(ZONE, 3)])), { n1: 'ok', n2: 'ok', n3: 'ok', bare: MISSING });
  });

  it('counts from zero when there are fewer domains than minDomains', () => {
    const cache = cacheWith(nodes, [...on('n1', 1), ...on('n3', 1)]);
    // Zones a and b hold one pod each: global minimum 1, so 1 + 1 - 1 fits maxSkew 1.
    assert.deepEqual(verdicts(cache, web([hard(ZONE, 1)])), { n1: 'ok', n2: 'ok', n3: 'ok', bare: MISSING });
    // Two zones but three wanted: the minimum is taken as 0 and every zone is full.
    assert.deepEqual(verdicts(cache, web([hard(ZONE, 1, { minDomains: 3 })])), { n1: SKEW, n2: SKEW, n3: SKEW, bare: MISSING });
    assert.deepEqual(verdicts(cache, web([hard(ZONE, 2, { minDomains: 3 })])), { n1: 'ok', n2: 'ok', n3: 'ok', bare: MISSING });
  });

  it('counts only matching pods of the pod namespace', () => {
    const cache = cacheWith(nodes.slice(0, 3), [...on('n1', 3, 'web', { namespace: 'other' }), ...on('n2', 3, 'db')]);
    assert.deepEqual(verdicts(cache, web([hard(HOST, 1)])), { n1: 'ok', n2: 'ok', n3: 'ok' });
    assert.deepEqual(verdicts(cache, web([hard(HOST, 1)], { namespace: 'other' })), { n1: SKEW, n2: 'ok', n3: 'ok' });
  });

  it('does not count pods being deleted', () => {
    const cache = cacheWith(nodes.slice(0, 3), on('n1', 2, 'web', { deleting: true }));
    assert.deepEqual(verdicts(cache, web([hard(HOST, 1)])), { n1: 'ok', n2: 'ok', n3: 'ok' });
  });

  it('adds matchLabelKeys values of the pod to the selector', () => {
    const v1 = on('n1', 2, 'web', { labels: { app: 'web', rev: '1' } });
    const cache = cacheWith(nodes.slice(0, 3), v1);
    const c = hard(HOST, 1, { matchLabelKeys: ['rev'] });
    assert.deepEqual(verdicts(cache, web([c], { labels: { app: 'web', rev: '2' } })), { n1: 'ok', n2: 'ok', n3: 'ok' });
    assert.deepEqual(verdicts(cache, web([c], { labels: { app: 'web', rev: '1' } })), { n1: SKEW, n2: 'ok', n3: 'ok' });
  });

  it('honors node affinity and (when asked) taints when choosing the domains', () => {
    const tainted = makeNode('t', { labels: { [ZONE]: 'c' }, taints: [{ key: 'x', effect: 'NoSchedule' }] });
    const cache = cacheWith([...nodes.slice(0, 3), tainted], [...on('n1', 1), ...on('n3', 1)]);
    // Only zone a passes the nodeSelector: its minimum is its own count, 1.
    const pinned = web([hard(ZONE, 1)], { nodeSelector: { [ZONE]: 'a' } });
    assert.equal(verdicts(cache, pinned).n1, 'ok');
    const ignoring = web([hard(ZONE, 1, { nodeAffinityPolicy: 'Ignore' })], { nodeSelector: { [ZONE]: 'a' } });
    assert.equal(verdicts(cache, ignoring).n1, SKEW, 'empty zone c counts: minimum 0');
    assert.equal(verdicts(cache, web([hard(ZONE, 1, { nodeTaintsPolicy: 'Honor' })])).n1, 'ok', 'tainted zone c left out');
  });
});

describe('PodTopologySpread score', () => {
  it('prefers the emptier domain for ScheduleAnyway constraints, ignoring nodes without the key', () => {
    const cache = cacheWith(nodes, [...on('n1', 1), ...on('n2', 1)]);
    // Two zones: weight log(4); zone a: round(2 * 1.386) = 3, zone b: 0 -> 100 * (3 + 0 - s) / 3.
    assert.deepEqual(scores(cache, web([soft(ZONE)])), { n1: 0, n2: 0, n3: 100, bare: 0 });
    assert.equal(scores(cache, web([hard(ZONE)])), undefined, 'DoNotSchedule only: nothing to score');
  });

  it('counts the hostname key per node', () => {
    const cache = cacheWith(nodes.slice(0, 3), [...on('n1', 2), ...on('n2', 1)]);
    // weight log(5) = 1.609: n1 round(3.22) = 3, n2 round(1.61) = 2, n3 0 -> 100 * (3 - s) / 3.
    assert.deepEqual(scores(cache, web([soft(HOST)])), { n1: 0, n2: 33, n3: 100 });
  });

  it('spreads the pods of one ReplicaSet by default and ignores other owners', () => {
    const cache = cacheWith(nodes.slice(0, 3), [...on('n1', 2, 'web', { owner: 'rs-1' }), ...on('n2', 1, 'web', { owner: 'rs-1' }), ...on('n3', 5, 'web', { owner: 'rs-2' })]);
    // Hostname (maxSkew 3): log(5) * count + 2; zone (maxSkew 5, zones a: 3, b: 0): log(4) * count + 4.
    // n1 round(3.22 + 2 + 4.16 + 4) = 13, n2 round(1.61 + 2 + 4.16 + 4) = 12, n3 6 -> 100 * (13 + 6 - s) / 13.
    assert.deepEqual(scores(cache, pi('web-new', { owner: 'rs-1' })), { n1: 46, n2: 53, n3: 100 });
    // Without zone labels the zone constraint scores nothing: n1 5, n2 4, n3 2 -> 100 * (5 + 2 - s) / 5.
    const flat = cacheWith(['n1', 'n2', 'n3'].map((n) => makeNode(n)), [...on('n1', 2, 'web', { owner: 'rs-1' }), ...on('n2', 1, 'web', { owner: 'rs-1' }), ...on('n3', 5, 'web', { owner: 'rs-2' })]);
    assert.deepEqual(scores(flat, pi('web-new', { owner: 'rs-1' })), { n1: 40, n2: 60, n3: 100 });
    assert.deepEqual(scores(cache, pi('web-new', { owner: 'rs-1', namespace: 'other' })), { n1: 100, n2: 100, n3: 100 }, 'namespaced');
  });

  it('skips pods with no controller owner', () => {
    const cache = cacheWith(nodes, on('n1', 2, 'web', { owner: 'rs-1' }));
    assert.equal(scores(cache, pi('lonely', { labels: { app: 'web' } })), undefined);
    const notController = pod('not-controller');
    notController.metadata!.ownerReferences = [{ apiVersion: 'v1', kind: 'Thing', name: 'x', uid: 'rs-1', controller: false }];
    assert.equal(scores(cache, newPodInfo(notController)), undefined);
    assert.equal(PodTopologySpread.preFilter?.(cycle(pi('owned', { owner: 'rs-1' }), cache)).code, 'Skip', 'defaults never filter');
  });

  it('lands six replicas of one ReplicaSet 2/2/2 through the default profile', async () => {
    const { Framework } = await import('../framework.js');
    const cache = cacheWith(nodes.slice(0, 3));
    const fw = new Framework(buildProfile(), { random: () => 0.5 });
    for (let i = 0; i < 6; i++) {
      const p = pi(`r-${i}`, { owner: 'rs-9', labels: { app: 'r' } });
      const r = fw.schedule(p, cache, Date.now());
      assert.ok('node' in r, 'scheduled');
      cache.assume(p, r.node);
    }
    assert.deepEqual(cache.nodes.map((n) => n.pods.size), [2, 2, 2]);
  });
});
