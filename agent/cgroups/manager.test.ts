import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, rmdir, unlink, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setLogLevel } from '../../common/log.js';
import { allHierarchies, detectLayout, dirIn, layoutV1, layoutV2, type CgroupLayout } from './layout.js';
import { CgroupBusyError, CgroupManager } from './manager.js';
import type { PodLike } from './qos.js';

setLogLevel('warn');

const burstable = (uid: string): PodLike => ({
  metadata: { uid },
  spec: { containers: [{ resources: { requests: { cpu: '250m', memory: '32Mi' }, limits: { cpu: '500m', memory: '64Mi' } } }] },
});
const guaranteed = (uid: string): PodLike => ({
  metadata: { uid },
  spec: { containers: [{ resources: { requests: { cpu: '1', memory: '128Mi' }, limits: { cpu: '1', memory: '128Mi' } } }] },
});
const besteffort = (uid: string): PodLike => ({ metadata: { uid }, spec: { containers: [{}] } });

const read = (p: string): string => readFileSync(p, 'utf8').trim();

/**
 * rmdir for a plain directory tree standing in for cgroupfs: control files
 * vanish with the directory, as in the kernel, and a non-empty cgroup.procs
 * means processes live there (EBUSY).
 */
async function fakeRmdir(dir: string): Promise<void> {
  const procs = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
  if (procs.trim()) throw Object.assign(new Error(`EBUSY: ${dir}`), { code: 'EBUSY' });
  for (const e of await readdir(dir, { withFileTypes: true })) if (e.isFile()) await unlink(join(dir, e.name));
  await rmdir(dir);
}

describe('CgroupManager on a fake v1 tree', () => {
  let base: string;
  let m: CgroupManager;
  before(() => {
    base = mkdtempSync(join(tmpdir(), 'skiff-cg-v1-'));
    m = new CgroupManager({ layout: layoutV1(base), rmdir: fakeRmdir });
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  it('creates the QoS cgroups with BestEffort at the minimum shares and the root at allocatable', async () => {
    await m.ensureQosCgroups({ milliCpu: 1500, memory: 1 << 30 });
    assert.equal(read(join(base, 'cpu/skiff/besteffort/cpu.shares')), '2');
    assert.equal(read(join(base, 'cpu/skiff/cpu.shares')), '1536');
    assert.equal(read(join(base, 'memory/skiff/memory.limit_in_bytes')), String(1 << 30));
    for (const c of ['cpu', 'cpuacct', 'memory', 'pids']) assert.ok(existsSync(join(base, c, 'skiff/burstable')), c);
  });

  it('creates pod cgroups in cpu, cpuacct, memory and pids with the pod-level limits', async () => {
    assert.equal(await m.ensurePodCgroup(burstable('b1')), '/skiff/burstable/podb1');
    assert.equal(read(join(base, 'cpu/skiff/burstable/podb1/cpu.shares')), '256');
    assert.equal(read(join(base, 'cpu/skiff/burstable/podb1/cpu.cfs_quota_us')), '50000');
    assert.equal(read(join(base, 'cpu/skiff/burstable/podb1/cpu.cfs_period_us')), '100000');
    assert.equal(read(join(base, 'memory/skiff/burstable/podb1/memory.limit_in_bytes')), String(64 * 1024 * 1024));
    assert.ok(existsSync(join(base, 'cpuacct/skiff/burstable/podb1')));
    assert.ok(existsSync(join(base, 'pids/skiff/burstable/podb1')));
    assert.ok(!existsSync(join(base, 'cpuset/skiff/burstable/podb1')), 'other hierarchies are left to runc');

    assert.equal(await m.ensurePodCgroup(guaranteed('g1')), '/skiff/podg1');
    assert.equal(read(join(base, 'cpu/skiff/podg1/cpu.shares')), '1024');
    assert.equal(await m.ensurePodCgroup(besteffort('e1')), '/skiff/besteffort/pode1');
    assert.equal(read(join(base, 'cpu/skiff/besteffort/pode1/cpu.cfs_quota_us')), '-1');
    assert.equal(read(join(base, 'memory/skiff/besteffort/pode1/memory.limit_in_bytes')), '-1');
  });

  it('lists pod cgroups of every hierarchy, including ones only runc left behind', async () => {
    mkdirSync(join(base, 'systemd/skiff/burstable/podorphan/abcdef'), { recursive: true });
    const pods = await m.listPodCgroups();
    assert.deepEqual(
      pods.map((p) => `${p.qos}:${p.uid}:${p.path}`),
      ['BestEffort:e1:/skiff/besteffort/pode1', 'Burstable:b1:/skiff/burstable/podb1', 'Burstable:orphan:/skiff/burstable/podorphan', 'Guaranteed:g1:/skiff/podg1'],
    );
  });

  it('gives the Burstable class the summed requests of its pods', async () => {
    await m.updateQosCgroups([burstable('b1'), burstable('b2'), guaranteed('g1')]);
    assert.equal(read(join(base, 'cpu/skiff/burstable/cpu.shares')), '512');
  });

  it('removes a pod cgroup and container leftovers in every hierarchy; removing again is success', async () => {
    mkdirSync(join(base, 'cpuset/skiff/burstable/podb1/c0ffee'), { recursive: true });
    await m.removePodCgroup('b1');
    for (const c of ['cpu', 'cpuacct', 'memory', 'pids', 'cpuset']) assert.ok(!existsSync(join(base, c, 'skiff/burstable/podb1')), c);
    await m.removePodCgroup('b1');
    await m.removePodCgroup('orphan');
    assert.deepEqual((await m.listPodCgroups()).map((p) => p.uid), ['e1', 'g1']);
  });

  it('refuses to remove a pod cgroup that still has processes, and keeps it', async () => {
    writeFileSync(join(base, 'memory/skiff/podg1/cgroup.procs'), '4242\n');
    await assert.rejects(m.removePodCgroup('g1'), (e: unknown) => e instanceof CgroupBusyError && e.code === 'CgroupBusy' && /podg1/.test(e.message));
    assert.ok(existsSync(join(base, 'memory/skiff/podg1')));
    writeFileSync(join(base, 'memory/skiff/podg1/cgroup.procs'), '');
    await m.removePodCgroup('g1');
    assert.ok(!existsSync(join(base, 'memory/skiff/podg1')));
  });
});

describe('CgroupManager on a fake v2 tree', () => {
  let base: string;
  before(() => {
    base = mkdtempSync(join(tmpdir(), 'skiff-cg-v2-'));
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  it('enables the available controllers at every level down to the pod and writes weight, cpu.max and memory.max', async () => {
    // The kernel lists at each level the controllers its parent enabled; pre-create those files.
    const levels = ['', 'skiff', 'skiff/burstable', 'skiff/burstable/podv2'];
    for (const l of levels) {
      mkdirSync(join(base, l), { recursive: true });
      writeFileSync(join(base, l, 'cgroup.controllers'), 'cpuset cpu io memory pids rdma\n');
      writeFileSync(join(base, l, 'cgroup.subtree_control'), l === '' ? 'memory\n' : '');
    }
    const m = new CgroupManager({ layout: layoutV2(base), rmdir: fakeRmdir });
    assert.equal(await m.ensurePodCgroup(burstable('v2')), '/skiff/burstable/podv2');
    assert.equal(read(join(base, 'cgroup.subtree_control')), '+cpu +pids +cpuset +io', 'root: only what is not enabled yet');
    for (const l of levels.slice(1)) assert.equal(read(join(base, l, 'cgroup.subtree_control')), '+cpu +memory +pids +cpuset +io', l);
    const pod = join(base, 'skiff/burstable/podv2');
    assert.equal(read(join(pod, 'cpu.weight')), '10');
    assert.equal(read(join(pod, 'cpu.max')), '50000 100000');
    assert.equal(read(join(pod, 'memory.max')), String(64 * 1024 * 1024));

    await m.ensurePodCgroup(besteffort('e2'));
    assert.equal(read(join(base, 'skiff/besteffort/pode2/cpu.max')), 'max 100000');
    assert.equal(read(join(base, 'skiff/besteffort/pode2/memory.max')), 'max');
    assert.deepEqual((await m.listPodCgroups()).map((p) => p.uid), ['e2', 'v2']);
    await m.removePodCgroup('v2');
    assert.ok(!existsSync(pod));
  });
});

const sh = promisify(execFile);

describe('CgroupManager on this host (real cgroups and Docker)', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () => {
  const root = `skiff-test-${process.pid}`;
  const uid = `e2e-${process.pid}`;
  let layout: CgroupLayout;
  let m: CgroupManager;
  let container: string | undefined;

  before(async () => {
    layout = await detectLayout();
    m = new CgroupManager({ layout, root });
  });
  after(async () => {
    if (container) await sh('docker', ['rm', '-f', container]).catch(() => undefined);
    await m.removePodCgroup(uid).catch(() => undefined);
    // Our test root and its class cgroups, deepest first, in every hierarchy.
    for (const h of allHierarchies(layout)) {
      for (const p of [`/${root}/burstable`, `/${root}/besteffort`, `/${root}`]) await rmdir(dirIn(h, p)).catch(() => undefined);
    }
  });

  it('creates a pod cgroup Docker runs a container in, reads its statistics, and removes it once empty', { timeout: 60_000 }, async () => {
    await m.ensureQosCgroups();
    const path = await m.ensurePodCgroup(burstable(uid));
    assert.equal(path, `/${root}/burstable/pod${uid}`);
    if (layout.version === 1) {
      const cpu = layout.v1.find((h) => h.controllers.includes('cpu'))!;
      const mem = layout.v1.find((h) => h.controllers.includes('memory'))!;
      assert.equal(read(join(dirIn(cpu, path), 'cpu.shares')), '256');
      assert.equal(read(join(dirIn(cpu, path), 'cpu.cfs_quota_us')), '50000');
      assert.equal(read(join(dirIn(mem, path), 'memory.limit_in_bytes')), String(64 * 1024 * 1024));
    } else {
      assert.equal(read(join(dirIn(layout.unified!, path), 'cpu.max')), '50000 100000');
    }

    const run = await sh('docker', ['run', '-d', '--network', 'none', '--cgroup-parent', path, '--memory', '32m', 'skiff.local/busybox:1.35', 'sh', '-c', 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 300']);
    container = run.stdout.trim();
    const deadline = Date.now() + 20_000;
    let ok = false;
    while (!ok && Date.now() < deadline) {
      const [pod, ctr] = await Promise.all([m.stats(path), m.stats(`${path}/${container}`)]);
      ok = !!pod && !!ctr && pod.cpuUsageNs > 0 && ctr.cpuUsageNs > 0 && pod.memoryUsageBytes > 0 && (pod.pids ?? 0) >= 1 && pod.cpuUsageNs >= ctr.cpuUsageNs;
      if (!ok) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(ok, 'pod and container statistics show the running container');
    assert.ok((await m.listPodCgroups()).some((p) => p.uid === uid && p.qos === 'Burstable'));
    await assert.rejects(m.removePodCgroup(uid), CgroupBusyError);

    await sh('docker', ['rm', '-f', container]);
    container = undefined;
    // The kernel may hold a dying memory cgroup for a moment after its last process exits.
    const end = Date.now() + 20_000;
    for (;;) {
      try {
        await m.removePodCgroup(uid);
        break;
      } catch (e) {
        if (!(e instanceof CgroupBusyError) || Date.now() > end) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    for (const h of allHierarchies(layout)) assert.ok(!existsSync(dirIn(h, path)), `${h.dir} still has the pod cgroup`);
    assert.ok(!(await m.listPodCgroups()).some((p) => p.uid === uid));
  });
});
