/**
 * What the node image holds beyond debootstrap's packages, as pure data: the
 * files written into the root filesystem, the units switched off, and the
 * content hash over all of it (the image's tag and label), so the image is
 * rebuilt exactly when one of its inputs changes. `applyRootfs` writes it.
 */
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { REGISTRY } from './plan.js';

/** Bump when the recipe changes in a way the data below does not show. */
const RECIPE_VERSION = '1';

export const SUITE = 'bookworm';
export const VARIANT = 'minbase';

/**
 * Debian packages of a node: systemd as init; the container runtime; what
 * scripts/setup.sh installs for the agent and the CNI plugin (iptables, iproute2,
 * util-linux, bash-builtins, conntrack, kmod, busybox-static for the local
 * images, curl for dockerd.sh, openssl for the PKI); the registry for the server
 * node; nftables for the service proxy's nft mode; libstdc++6 and libgcc-s1 for
 * the host's Node.js binary (ldd). python3-cffi-backend provides the virtual
 * packages python3-cryptography depends on (python3-kubernetes, from setup.sh's
 * list, needs it): debootstrap's resolver does not follow virtual packages.
 */
export const BASE_PACKAGES = [
  'systemd', 'systemd-sysv', 'dbus', 'docker.io', 'containerd', 'iptables', 'iproute2', 'kmod', 'procps',
  'ca-certificates', 'openssl', 'util-linux', 'conntrack', 'busybox-static', 'docker-registry', 'bash-builtins',
  'curl', 'iputils-ping', 'nftables', 'libstdc++6', 'libgcc-s1', 'python3-cffi-backend',
];

/** Base packages plus `extra` (the provisioning command's list), sorted and unique. Pure. */
export function nodePackages(extra: readonly string[] = []): string[] {
  return [...new Set([...BASE_PACKAGES, ...extra])].sort();
}

/** The entrypoint: makes the node's cgroups writable, then becomes systemd. */
export const INIT_SCRIPT = `#!/bin/sh
# PID 1 of a Skiff lab node until it execs systemd.
# Without --privileged Docker mounts the cgroup hierarchies read-only. The node
# runs in a private cgroup namespace, so each mount shows only this node's own
# subtree: making them writable lets systemd, the nested dockerd and the agent's
# pod cgroups live under the node's cgroup, and touches nothing outside it.
mount -o remount,rw /sys/fs/cgroup 2>/dev/null || true
while read -r _id _parent _dev _root mnt _opts rest; do
  case " $rest" in
    *" - cgroup "* | *" - cgroup2 "*) mount -o remount,bind,rw "$mnt" || echo "skiff-lab-init: cannot make $mnt writable" >&2 ;;
  esac
done </proc/self/mountinfo
exec /sbin/init
`;

/** Debian's registry (docker-registry) without the package's htpasswd auth: the lab network is internal. */
export const REGISTRY_CONFIG = `version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: /var/lib/docker-registry
  delete:
    enabled: true
http:
  addr: :5000
`;

export interface RootfsFile {
  path: string;
  content: string;
  mode: number;
}

/** Files written into the root filesystem. Pure. */
export function rootfsFiles(): RootfsFile[] {
  return [
    { path: '/usr/local/sbin/skiff-lab-init', content: INIT_SCRIPT, mode: 0o755 },
    // Debian's docker.service reads DOCKER_OPTS from here; a flag rather than
    // daemon.json, so provisioning may write daemon.json without losing it.
    { path: '/etc/default/docker', content: `# Skiff lab: pull from the server node's registry over plain HTTP.\nDOCKER_OPTS="--insecure-registry ${REGISTRY}"\n`, mode: 0o644 },
    { path: '/etc/docker/registry/config.yml', content: REGISTRY_CONFIG, mode: 0o644 },
    // The journal in memory and small: a node is disposable, and memory per node counts.
    { path: '/etc/systemd/journald.conf.d/skiff-lab.conf', content: '[Journal]\nStorage=volatile\nRuntimeMaxUse=32M\n', mode: 0o644 },
    // Empty: systemd makes a fresh machine id at every boot, so nodes differ.
    { path: '/etc/machine-id', content: '', mode: 0o444 },
    { path: '/etc/profile.d/skiff.sh', content: 'export PATH="/opt/skiff/bin:$PATH" SKIFF_NO_SETUP=1\n', mode: 0o644 },
  ];
}

/** Units masked in the image: consoles, timers and housekeeping a throwaway container never needs. */
export const MASKED_UNITS = [
  'getty@tty1.service', 'console-getty.service', 'getty.target', 'apt-daily.timer', 'apt-daily-upgrade.timer',
  'dpkg-db-backup.timer', 'e2scrub_all.timer', 'e2scrub_reap.service', 'fstrim.timer', 'systemd-pstore.service',
  'remote-fs.target', 'systemd-firstboot.service', 'systemd-udevd.service', 'systemd-udev-trigger.service',
];

/** Enablement links removed: the registry runs on the server node only (`lab up` enables it there). */
export const DISABLED_LINKS = ['/etc/systemd/system/multi-user.target.wants/docker-registry.service'];

/** Where the host's Node.js goes. */
export const NODE_BINARY = '/usr/local/bin/node';

/** Import changes: systemd as PID 1 through the entrypoint. */
export const IMAGE_CHANGES = ['ENV container=docker', 'CMD ["/usr/local/sbin/skiff-lab-init"]'];

/**
 * The image's content hash: recipe version, suite, variant, packages, files,
 * masked units and the Node.js binary's own hash. Pure.
 */
export function recipeHash(packages: readonly string[], nodeBinarySha256: string): string {
  const h = createHash('sha256');
  h.update(`v${RECIPE_VERSION}\0${SUITE}\0${VARIANT}\0${packages.join(',')}\0`);
  for (const f of rootfsFiles()) h.update(`${f.path}\0${f.mode}\0${f.content}\0`);
  h.update(`${MASKED_UNITS.join(',')}\0${DISABLED_LINKS.join(',')}\0${IMAGE_CHANGES.join('\0')}\0${nodeBinarySha256}`);
  return h.digest('hex').slice(0, 16);
}

/** The hash naming the debootstrap tarball: only what debootstrap downloads. Pure. */
export function tarballHash(packages: readonly string[]): string {
  return createHash('sha256').update(`${SUITE}\0${VARIANT}\0${packages.join(',')}`).digest('hex').slice(0, 16);
}

/** Writes the files, masks and node binary into the debootstrapped `root`. */
export async function applyRootfs(root: string, nodeBinary: string): Promise<void> {
  for (const f of rootfsFiles()) {
    const p = join(root, f.path);
    await mkdir(dirname(p), { recursive: true });
    await rm(p, { force: true }); // may be a symlink (machine-id) or read-only
    await writeFile(p, f.content);
    await chmod(p, f.mode);
  }
  for (const u of MASKED_UNITS) {
    const p = join(root, 'etc/systemd/system', u);
    await rm(p, { force: true });
    await symlink('/dev/null', p);
  }
  for (const l of DISABLED_LINKS) await rm(join(root, l), { force: true });
  await mkdir(dirname(join(root, NODE_BINARY)), { recursive: true });
  await copyFile(nodeBinary, join(root, NODE_BINARY));
  await chmod(join(root, NODE_BINARY), 0o755);
  // debootstrap leaves its downloads in the apt cache: not needed in the image.
  await rm(join(root, 'var/cache/apt/archives'), { recursive: true, force: true });
  await mkdir(join(root, 'var/cache/apt/archives/partial'), { recursive: true });
}
