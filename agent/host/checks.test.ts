import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cgroupDriverProblem, cgroupLayout, cgroupProblem } from './checks.js';

const V1_HYBRID = [
  'tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0',
  'cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0',
  'cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0',
  'cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0',
  'cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0',
].join('\n');
const V2 = 'cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate,memory_recursiveprot 0 0\n';

test('cgroupLayout: v1 (hybrid) reads the mounted hierarchies, including combined ones', () => {
  assert.deepEqual(cgroupLayout(V1_HYBRID), { version: 1, missing: [], notDelegated: [] });
  const debianV1 = 'cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,cpu,cpuacct 0 0\ncgroup /sys/fs/cgroup/pids cgroup rw,pids 0 0\n';
  const l = cgroupLayout(debianV1);
  assert.deepEqual(l, { version: 1, missing: ['memory'], notDelegated: [] });
  assert.match(cgroupProblem(l)!, /no hierarchy mounted for memory: .*mount -t cgroup -o memory/);
});

test('cgroupLayout: v2 reads the root controllers and subtree_control', () => {
  const ok = cgroupLayout(V2, 'cpuset cpu io memory hugetlb pids rdma misc\n', 'cpuset cpu io memory pids\n');
  assert.deepEqual(ok, { version: 2, missing: [], notDelegated: [] });
  assert.equal(cgroupProblem(ok), undefined);
  const undelegated = cgroupLayout(V2, 'cpu memory pids\n', 'memory\n');
  assert.deepEqual(undelegated.notDelegated, ['cpu', 'pids']);
  assert.match(cgroupProblem(undelegated)!, /echo '\+cpu \+pids' > \/sys\/fs\/cgroup\/cgroup.subtree_control/);
  const noMemory = cgroupLayout(V2, 'cpu pids\n', 'cpu pids\n');
  assert.deepEqual(noMemory.missing, ['memory']);
  assert.match(cgroupProblem(noMemory)!, /lacks the memory controller/);
});

test('cgroupDriverProblem: cgroupfs is fine; systemd gets the fix for its init', () => {
  assert.equal(cgroupDriverProblem('cgroupfs', true), undefined);
  assert.match(cgroupDriverProblem('systemd', true)!, /daemon.json.*systemctl restart docker/);
  assert.match(cgroupDriverProblem('systemd', false)!, /--exec-opt native.cgroupdriver=cgroupfs/);
});
