import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { layoutV1, layoutV2 } from './layout.js';
import { ancestors, readOwnLimits } from './limits.js';
import { parseCpuMax, parseFlatKeyed, parseLimit, readCgroupStats, workingSet } from './stats.js';

/** Writes files of a fake cgroup tree: path (relative to base) -> content. */
function writeTree(base: string, files: Record<string, string>): void {
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(dirname(join(base, p)), { recursive: true });
    writeFileSync(join(base, p), content);
  }
}

describe('cgroup file formats', () => {
  it('parses flat keyed files', () => {
    const m = parseFlatKeyed('cache 4096\ninactive_file 1024\ntotal_inactive_file 2048\n\nbroken\n');
    assert.equal(m.get('inactive_file'), 1024);
    assert.equal(m.get('total_inactive_file'), 2048);
    assert.equal(m.has('broken'), false);
  });

  it('reads v1 and v2 limits, with unlimited as undefined', () => {
    assert.equal(parseLimit('max\n'), undefined);
    assert.equal(parseLimit('9223372036854771712\n'), undefined);
    assert.equal(parseLimit('-1'), undefined);
    assert.equal(parseLimit('536870912\n'), 536870912);
    assert.deepEqual(parseCpuMax('max 100000\n'), { quota: undefined, period: 100000 });
    assert.deepEqual(parseCpuMax('150000 100000\n'), { quota: 150000, period: 100000 });
  });

  it('computes the working set as usage minus inactive file, never below zero', () => {
    assert.equal(workingSet(1000, 300), 700);
    assert.equal(workingSet(100, 300), 0);
  });

  it('lists ancestors up to the root', () => {
    assert.deepEqual(ancestors('/a/b'), ['/a/b', '/a', '/']);
    assert.deepEqual(ancestors('/'), ['/']);
  });
});

describe('readers on fake cgroup trees', () => {
  let base: string;
  before(() => {
    base = mkdtempSync(join(tmpdir(), 'skiff-cg-stats-'));
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  it('reads v1 statistics from cpuacct, memory and pids', async () => {
    const root = join(base, 'v1');
    writeTree(root, {
      'cpuacct/skiff/pod1/cpuacct.usage': '123456789\n',
      'memory/skiff/pod1/memory.usage_in_bytes': '10485760\n',
      'memory/skiff/pod1/memory.stat': 'cache 100\ninactive_file 1\ntotal_inactive_file 2097152\n',
      'pids/skiff/pod1/pids.current': '7\n',
    });
    const l = layoutV1(root);
    assert.deepEqual(await readCgroupStats(l, '/skiff/pod1'), {
      cpuUsageNs: 123456789,
      memoryUsageBytes: 10485760,
      memoryWorkingSetBytes: 10485760 - 2097152,
      pids: 7,
    });
    assert.equal(await readCgroupStats(l, '/skiff/pod-gone'), undefined);
  });

  it('reads v2 statistics from cpu.stat, memory.current and memory.stat', async () => {
    const root = join(base, 'v2');
    writeTree(root, {
      'skiff/burstable/pod2/cpu.stat': 'usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n',
      'skiff/burstable/pod2/memory.current': '4096000\n',
      'skiff/burstable/pod2/memory.stat': 'anon 100\nfile 2000\ninactive_file 96000\n',
      'skiff/burstable/pod2/pids.current': '3\n',
    });
    assert.deepEqual(await readCgroupStats(layoutV2(root), '/skiff/burstable/pod2'), {
      cpuUsageNs: 2_500_000,
      memoryUsageBytes: 4096000,
      memoryWorkingSetBytes: 4000000,
      pids: 3,
    });
  });

  it('finds the tightest v1 limits along the agent cgroup ancestry', async () => {
    const root = join(base, 'own1');
    const unlimited = '9223372036854771712\n';
    writeTree(root, {
      'memory/memory.limit_in_bytes': unlimited,
      'memory/slice/memory.limit_in_bytes': '2147483648\n',
      'memory/slice/agent/memory.limit_in_bytes': unlimited,
      'cpu/cpu.cfs_quota_us': '-1\n',
      'cpu/cpu.cfs_period_us': '100000\n',
      'cpu/slice/cpu.cfs_quota_us': '-1\n',
      'cpu/slice/cpu.cfs_period_us': '100000\n',
      'cpu/slice/agent/cpu.cfs_quota_us': '150000\n',
      'cpu/slice/agent/cpu.cfs_period_us': '100000\n',
      'pids/slice/agent/pids.max': 'max\n',
      'proc-cgroup': '5:pids:/slice/agent\n4:memory:/slice/agent\n3:cpuacct:/slice/agent\n2:cpu:/slice/agent\n0::/\n',
    });
    const lim = await readOwnLimits(layoutV1(root), join(root, 'proc-cgroup'));
    assert.deepEqual(lim.memory, { value: 2147483648, path: '/slice' });
    assert.deepEqual(lim.milliCpu, { value: 1500, path: '/slice/agent' });
    assert.equal(lim.pidsMax, undefined);
    assert.equal(lim.paths.memory, '/slice/agent');
  });

  it('finds v2 limits along the unified path', async () => {
    const root = join(base, 'own2');
    writeTree(root, {
      'agent.slice/memory.max': '1073741824\n',
      'agent.slice/cpu.max': '50000 100000\n',
      'agent.slice/pids.max': '1000\n',
      'agent.slice/agent.service/memory.max': 'max\n',
      'agent.slice/agent.service/cpu.max': 'max 100000\n',
      'agent.slice/agent.service/pids.max': '500\n',
      'proc-cgroup': '0::/agent.slice/agent.service\n',
    });
    const lim = await readOwnLimits(layoutV2(root), join(root, 'proc-cgroup'));
    assert.deepEqual(lim.memory, { value: 1073741824, path: '/agent.slice' });
    assert.deepEqual(lim.milliCpu, { value: 500, path: '/agent.slice' });
    assert.deepEqual(lim.pidsMax, { value: 500, path: '/agent.slice/agent.service' });
  });
});
