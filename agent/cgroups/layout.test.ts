import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { allHierarchies, dirIn, hierarchyOf, layoutFromMounts, ownPath, parseMountInfo, parseProcCgroup } from './layout.js';

/** This VM: v1 hierarchies each mounted alone plus an empty cgroup2 (hybrid). */
const HYBRID = `22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw`;

/** Debian 12 default: the unified tree only. */
const V2 = `25 20 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot`;

/** Classic systemd v1: cpu and cpuacct co-mounted; inside a container without a cgroup namespace. */
const COMOUNTED = `30 25 0:26 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid master:11 - cgroup cgroup rw,cpu,cpuacct
31 25 0:27 /docker/abc /sys/fs/cgroup/memory ro,nosuid master:12 - cgroup cgroup rw,memory
32 25 0:27 /docker/abc /mnt/again/memory ro - cgroup cgroup rw,memory`;

describe('cgroup layout', () => {
  it('reads a hybrid host as v1 with the unified mount kept for cleanup', () => {
    const l = layoutFromMounts(parseMountInfo(HYBRID));
    assert.equal(l.version, 1);
    assert.equal(hierarchyOf(l, 'cpu')?.dir, '/sys/fs/cgroup/cpu');
    assert.equal(hierarchyOf(l, 'cpuacct')?.dir, '/sys/fs/cgroup/cpuacct');
    assert.equal(hierarchyOf(l, 'name=systemd')?.dir, '/sys/fs/cgroup/systemd');
    assert.equal(l.unified?.dir, '/sys/fs/cgroup/unified');
    assert.equal(allHierarchies(l).length, 6);
  });

  it('reads a pure cgroup2 host as v2', () => {
    const l = layoutFromMounts(parseMountInfo(V2));
    assert.equal(l.version, 2);
    assert.equal(l.unified?.dir, '/sys/fs/cgroup');
    assert.deepEqual(allHierarchies(l).map((h) => h.dir), ['/sys/fs/cgroup']);
  });

  it('handles co-mounted controllers, duplicate mounts and mounts of a sub-tree', () => {
    const l = layoutFromMounts(parseMountInfo(COMOUNTED));
    assert.equal(l.v1.length, 2, 'the second memory mount is the same hierarchy');
    const cpu = hierarchyOf(l, 'cpuacct')!;
    assert.equal(cpu, hierarchyOf(l, 'cpu'));
    assert.deepEqual(cpu.controllers, ['cpu', 'cpuacct']);
    assert.equal(dirIn(cpu, '/docker/abc/x'), '/sys/fs/cgroup/cpu,cpuacct/x');
    assert.equal(dirIn(cpu, '/skiff/pod1'), '/sys/fs/cgroup/cpu,cpuacct/skiff/pod1');
  });

  it('refuses a host without cgroups', () => {
    assert.throws(() => layoutFromMounts(parseMountInfo('1 0 0:1 / / rw - ext4 /dev/sda1 rw')), /no cgroup filesystem/);
  });

  it('parses /proc/self/cgroup for v1 and v2', () => {
    const own = parseProcCgroup('9:name=systemd:/\n4:memory:/process_api/x\n2:cpu,cpuacct:/a\n0::/\n');
    assert.equal(own.get('memory'), '/process_api/x');
    assert.equal(own.get('cpuacct'), '/a');
    assert.equal(own.get('name=systemd'), '/');
    const l1 = layoutFromMounts(parseMountInfo(HYBRID));
    assert.equal(ownPath(own, l1, 'memory'), '/process_api/x');
    const l2 = layoutFromMounts(parseMountInfo(V2));
    assert.equal(ownPath(parseProcCgroup('0::/system.slice/skiff-agent.service\n'), l2, 'memory'), '/system.slice/skiff-agent.service');
  });
});
