import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASE_PACKAGES, DISABLED_LINKS, INIT_SCRIPT, MASKED_UNITS, NODE_BINARY, applyRootfs, nodePackages, recipeHash, rootfsFiles, tarballHash } from './rootfs.js';
import { parsePkgsArray } from './install-packages.js';

test('nodePackages: base list plus the provisioning packages, sorted, no duplicates', () => {
  const p = nodePackages(['python3', 'docker.io', 'python3']);
  assert.deepEqual(p, [...p].sort());
  assert.equal(new Set(p).size, p.length);
  for (const x of [...BASE_PACKAGES, 'python3']) assert.ok(p.includes(x), x);
});

test('recipeHash and tarballHash: stable, and changed by every input they cover', () => {
  const pk = nodePackages();
  const h = recipeHash(pk, 'aa');
  assert.match(h, /^[0-9a-f]{16}$/);
  assert.equal(recipeHash(pk, 'aa'), h);
  assert.notEqual(recipeHash(pk, 'bb'), h, 'a different Node.js binary');
  assert.notEqual(recipeHash(nodePackages(['jq']), 'aa'), h, 'another package');
  // The tarball depends on the packages only: a new Node.js reuses the download.
  assert.equal(tarballHash(pk), tarballHash([...pk]));
  assert.notEqual(tarballHash(nodePackages(['jq'])), tarballHash(pk));
});

test('the entrypoint remounts every cgroup mount writable, then execs systemd', () => {
  assert.match(INIT_SCRIPT, /^#!\/bin\/sh\n/);
  assert.match(INIT_SCRIPT, /" - cgroup "\* \| \*" - cgroup2 "\*\) mount -o remount,bind,rw "\$mnt"/);
  assert.match(INIT_SCRIPT, /exec \/sbin\/init\n$/);
  const files = rootfsFiles();
  assert.ok(files.some((f) => f.path === '/etc/default/docker' && f.content.includes('--insecure-registry 192.168.56.10:5000')));
  assert.ok(files.some((f) => f.path === '/etc/docker/registry/config.yml' && !f.content.includes('htpasswd')));
});

test('applyRootfs: files with their modes, masked units, the registry not enabled, Node.js copied, apt cache emptied', async () => {
  const root = mkdtempSync(join(tmpdir(), 'skiff-rootfs-'));
  try {
    mkdirSync(join(root, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
    writeFileSync(join(root, DISABLED_LINKS[0]!.slice(1)), '');
    mkdirSync(join(root, 'var/cache/apt/archives'), { recursive: true });
    writeFileSync(join(root, 'var/cache/apt/archives/x.deb'), 'deb');
    writeFileSync(join(root, 'etc/machine-id'), 'old-id\n');
    const fakeNode = join(root, 'fake-node');
    writeFileSync(fakeNode, '#!/bin/sh\n');
    await applyRootfs(root, fakeNode);
    for (const f of rootfsFiles()) {
      assert.equal(readFileSync(join(root, f.path), 'utf8'), f.content, f.path);
      assert.equal(statSync(join(root, f.path)).mode & 0o777, f.mode, f.path);
    }
    for (const u of MASKED_UNITS) assert.equal(readlinkSync(join(root, 'etc/systemd/system', u)), '/dev/null', u);
    assert.throws(() => lstatSync(join(root, DISABLED_LINKS[0]!)));
    assert.equal(statSync(join(root, NODE_BINARY)).mode & 0o777, 0o755);
    assert.throws(() => statSync(join(root, 'var/cache/apt/archives/x.deb')));
    assert.ok(statSync(join(root, 'var/cache/apt/archives/partial')).isDirectory());
    // Idempotent.
    await applyRootfs(root, fakeNode);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('parsePkgsArray: the words of pkgs=( ... ) across lines and comments', () => {
  const script = `#!/bin/bash
# pkgs=(not this)
pkgs=(openssl ca-certificates python3 # trailing comment
  docker.io busybox-static   iputils-ping
  libstdc++6)
other=(x y)
`;
  assert.deepEqual(parsePkgsArray(script), ['openssl', 'ca-certificates', 'python3', 'docker.io', 'busybox-static', 'iputils-ping', 'libstdc++6']);
  assert.throws(() => parsePkgsArray('echo hi\n'), /no pkgs=/);
});
