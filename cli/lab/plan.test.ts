import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LAB_BRIDGE, LAB_LABEL, LAB_NETWORK, MAX_NODES, labNodes, networkCreateArgs, nodeIndex, nodeRunArgs, volumeCreateArgs } from './plan.js';
import { buildMounts } from './build.js';

test('labNodes: the server on .10, workers from .11, names and volumes per index', () => {
  const nodes = labNodes(3);
  assert.deepEqual(
    nodes.map((n) => [n.name, n.ip, n.role, n.volume]),
    [
      ['skiff-lab-0', '192.168.56.10', 'server', 'skiff-lab-0-docker'],
      ['skiff-lab-1', '192.168.56.11', 'agent', 'skiff-lab-1-docker'],
      ['skiff-lab-2', '192.168.56.12', 'agent', 'skiff-lab-2-docker'],
    ],
  );
  assert.equal(labNodes(MAX_NODES).at(-1)!.ip, '192.168.56.254');
  for (const bad of [0, -1, 1.5, MAX_NODES + 1]) assert.throws(() => labNodes(bad), /holds 1 to 245 nodes/);
});

test('nodeIndex: lab container names only (docker inspect names start with /)', () => {
  assert.equal(nodeIndex('skiff-lab-0'), 0);
  assert.equal(nodeIndex('/skiff-lab-12'), 12);
  for (const other of ['skiff-lab', 'skiff-lab-x', 'my-skiff-lab-1', 'skiff-lab-1-docker']) assert.equal(nodeIndex(other), undefined, other);
});

test('networkCreateArgs: internal, the contract subnet and gateway, a fixed bridge name, labelled', () => {
  const a = networkCreateArgs();
  assert.ok(a.includes('--internal'));
  assert.deepEqual(a.slice(a.indexOf('--subnet'), a.indexOf('--subnet') + 4), ['--subnet', '192.168.56.0/24', '--gateway', '192.168.56.1']);
  assert.ok(a.includes(`com.docker.network.bridge.name=${LAB_BRIDGE}`));
  assert.ok(a.includes(`${LAB_LABEL}=1`));
  assert.equal(a.at(-1), LAB_NETWORK);
});

test('nodeRunArgs: no --privileged; capabilities, cgroupns, tmpfs, volume and read-only build mounts', () => {
  const [, worker] = labNodes(2);
  const a = nodeRunArgs(worker!, { image: 'skiff.local/lab-node:abc', buildMounts: buildMounts('/src'), tun: true });
  const pairs = (flag: string): string[] => a.flatMap((x, i) => (x === flag ? [a[i + 1]!] : []));
  assert.ok(!a.includes('--privileged'));
  assert.deepEqual(pairs('--cap-add'), ['ALL']);
  assert.deepEqual(pairs('--cap-drop'), ['SYS_RESOURCE']);
  assert.deepEqual(pairs('--security-opt'), ['seccomp=unconfined', 'apparmor=unconfined', 'systempaths=unconfined']);
  assert.deepEqual(pairs('--cgroupns'), ['private']);
  assert.deepEqual(pairs('--tmpfs').map((t) => t.split(':')[0]), ['/run', '/run/lock']);
  assert.deepEqual(pairs('--volume'), ['skiff-lab-1-docker:/var/lib/docker', '/var/lib/skiff/lab/build:/opt/skiff:ro', '/src/node_modules:/opt/skiff/node_modules:ro']);
  assert.deepEqual(pairs('--device'), ['/dev/net/tun']);
  assert.deepEqual([pairs('--name')[0], pairs('--hostname')[0], pairs('--ip')[0], pairs('--network')[0]], ['skiff-lab-1', 'skiff-lab-1', '192.168.56.11', LAB_NETWORK]);
  assert.deepEqual(pairs('--label'), [`${LAB_LABEL}=1`, `${LAB_LABEL}.role=agent`]);
  assert.equal(a.at(-1), 'skiff.local/lab-node:abc');
  const plain = nodeRunArgs(worker!, { image: 'i', buildMounts: [], modulesDir: '/lib/modules/6.1.0' });
  assert.ok(plain.includes('/lib/modules/6.1.0:/lib/modules/6.1.0:ro'));
  assert.ok(!plain.includes('--device'));
});

test('volumeCreateArgs: labelled so lab down finds it', () => {
  assert.deepEqual(volumeCreateArgs(labNodes(1)[0]!), ['volume', 'create', '--label', `${LAB_LABEL}=1`, 'skiff-lab-0-docker']);
});
