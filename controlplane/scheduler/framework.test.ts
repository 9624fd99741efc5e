import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FitError, Framework, numFeasibleNodesToFind } from './framework.js';
import type { NodeInfo } from './nodeinfo.js';
import { buildProfile, REGISTRY } from './registry.js';
import { cacheWith, makeNode, makePod, podInfo } from './testutil.js';
import { SUCCESS, unschedulable, type FilterPlugin, type Plugin, type ScorePlugin } from './types.js';

const NOW = Date.parse('2025-01-01T00:00:00Z');

describe('numFeasibleNodesToFind', () => {
  it('follows kube-scheduler', () => {
    assert.equal(numFeasibleNodesToFind(undefined, 50), 50, 'small clusters: all nodes');
    assert.equal(numFeasibleNodesToFind(0, 100), 100);
    assert.equal(numFeasibleNodesToFind(0, 1000), 420, '50 - 1000/125 = 42%');
    assert.equal(numFeasibleNodesToFind(0, 5000), 500, '50 - 40 = 10%');
    assert.equal(numFeasibleNodesToFind(0, 6000), 300, 'floor of 5%');
    assert.equal(numFeasibleNodesToFind(0, 1500), 570, '38%');
    assert.equal(numFeasibleNodesToFind(50, 1000), 500);
    assert.equal(numFeasibleNodesToFind(100, 1000), 1000);
    assert.equal(numFeasibleNodesToFind(1, 1000), 100, 'at least 100');
  });
});

describe('FitError', () => {
  it('counts reasons over nodes and sorts them as strings', () => {
    const e = new FitError(
      3,
      new Map([
        ['Insufficient cpu', 2],
        ['node(s) had untolerated taint {dedicated: gpu}', 1],
        ['Insufficient memory', 2],
      ]),
      new Set(),
    );
    assert.equal(e.message, '0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu, 2 Insufficient memory.');
    assert.equal(new FitError(0, new Map(), new Set()).message, 'no nodes available to schedule pods');
    assert.equal(new FitError(2, new Map(), new Set(), 'pod has unbound PVCs').message, '0/2 nodes are available: pod has unbound PVCs.');
  });
});

/** A profile over the real registry plus test plugins. */
function profileWith(extra: Plugin[], filters: string[], scores: { name: string; weight: number }[]) {
  const reg = new Map(REGISTRY);
  for (const p of extra) reg.set(p.name, p);
  return buildProfile({ filters, scores }, reg);
}

describe('Framework.schedule', () => {
  it('reports why no node fits, per node and plugin', () => {
    const cache = cacheWith([
      makeNode('small-1', { cpu: '1' }),
      makeNode('small-2', { cpu: '1' }),
      makeNode('tainted', { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] }),
    ]);
    const fw = new Framework(buildProfile());
    const r = fw.schedule(podInfo('big', { cpu: '2' }), cache, NOW);
    assert.ok(r instanceof FitError);
    assert.equal(r.message, '0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu.');
    assert.deepEqual([...r.plugins].sort(), ['NodeResourcesFit', 'TaintToleration']);
  });

  it('places on the best weighted score', () => {
    const cache = cacheWith(
      [makeNode('busy'), makeNode('idle'), makeNode('soft', { taints: [{ key: 'x', effect: 'PreferNoSchedule' }] })],
      [makePodOn('busy', '3')],
    );
    const fw = new Framework(buildProfile());
    const r = fw.schedule(podInfo('p', { cpu: '500m', memory: '256Mi' }), cache, NOW);
    assert.ok(!(r instanceof FitError));
    assert.equal(r.node, 'idle');
    assert.equal(r.feasibleNodes, 3);
  });

  it('breaks ties at random among the best', () => {
    const cache = cacheWith([makeNode('a'), makeNode('b'), makeNode('c')]);
    const picks = new Set<string>();
    for (const x of [0.99, 0.01, 0.6]) {
      const fw = new Framework(buildProfile(), { random: () => x });
      const r = fw.schedule(podInfo('p'), cache, NOW);
      if (!(r instanceof FitError)) picks.add(r.node);
    }
    assert.ok(picks.size >= 2, `picked ${[...picks]}`);
  });

  it('stops filtering once enough nodes fit and rotates the start', () => {
    const seen: string[] = [];
    const recorder: FilterPlugin = { name: 'Recorder', events: [], filter: (_s, n: NodeInfo) => (seen.push(n.name), SUCCESS) };
    const nodes = Array.from({ length: 300 }, (_, i) => makeNode(`n${String(i).padStart(3, '0')}`));
    const fw = new Framework(profileWith([recorder], ['Recorder'], []), { percentageOfNodesToScore: 50 });
    const cache = cacheWith(nodes);
    fw.schedule(podInfo('p1'), cache, NOW);
    assert.equal(seen.length, 150);
    assert.equal(seen[0], 'n000');
    seen.length = 0;
    fw.schedule(podInfo('p2'), cache, NOW);
    assert.equal(seen[0], 'n150', 'the next cycle starts where the last stopped');
    seen.length = 0;
    fw.schedule(podInfo('p3'), cache, NOW);
    assert.equal(seen[0], 'n000');
  });

  it('counts rejected nodes into the start index too', () => {
    const seen: string[] = [];
    const oddOnly: FilterPlugin = {
      name: 'OddOnly',
      events: [],
      filter: (_s, n) => (seen.push(n.name), Number(n.name.slice(1)) % 2 ? SUCCESS : unschedulable('even')),
    };
    const cache = cacheWith(Array.from({ length: 400 }, (_, i) => makeNode(`n${i}`)));
    const fw = new Framework(profileWith([oddOnly], ['OddOnly'], []), { percentageOfNodesToScore: 25 });
    fw.schedule(podInfo('p'), cache, NOW);
    assert.equal(seen.length, 200, '100 feasible odd nodes need 200 evaluated');
    seen.length = 0;
    fw.schedule(podInfo('q'), cache, NOW);
    assert.equal(seen[0], 'n200');
  });

  it('applies weights and per-plugin normalization', () => {
    const prefersA: ScorePlugin = { name: 'PrefersA', events: [], score: (_s, n) => (n.name === 'a' ? 100 : 0) };
    const prefersB: ScorePlugin = { name: 'PrefersB', events: [], score: (_s, n) => (n.name === 'b' ? 60 : 0) };
    const cache = cacheWith([makeNode('a'), makeNode('b')]);
    const pick = (wa: number, wb: number) => {
      const r = new Framework(profileWith([prefersA, prefersB], [], [{ name: 'PrefersA', weight: wa }, { name: 'PrefersB', weight: wb }])).schedule(podInfo('p'), cache, NOW);
      return r instanceof FitError ? r.message : r.node;
    };
    assert.equal(pick(1, 1), 'a');
    assert.equal(pick(1, 2), 'b');
  });

  it('rejects everywhere when there are no nodes', () => {
    const r = new Framework(buildProfile()).schedule(podInfo('p'), cacheWith([]), NOW);
    assert.ok(r instanceof FitError);
    assert.equal(r.message, 'no nodes available to schedule pods');
  });
});

function makePodOn(node: string, cpu: string) {
  return makePod(`on-${node}`, { nodeName: node, cpu });
}
