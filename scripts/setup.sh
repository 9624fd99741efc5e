#!/usr/bin/env bash
# Installs what Skiff needs on a Debian 12 host and builds it. Idempotent and quick
# when nothing changed (~40 ms before the build check): Debian packages only when
# missing, as root a Docker engine answering (scripts/dockerd.sh ensure) and the CNI
# plugin installed when its source is newer, `npm ci` only when the lockfile changed,
# `tsc` only when a source is newer than the last build.
# Usage: scripts/setup.sh [--quiet]
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
cd "$root"
quiet=${1:-}
say() { [ "$quiet" = "--quiet" ] || echo "setup: $*"; }

# Debian packages: openssl for the PKI, python3-kubernetes for the Python client tests,
# iproute2 and procps for the tests' process and network checks; for cni/skiff-bridge,
# iptables, util-linux (flock, nsenter) and bash-builtins (loadable unlink/mkdir), and for
# its tests and benchmark the reference plugins (containernetworking-plugins) and ping.
# For the agent: docker.io (the runtime), busybox-static (the local busybox and sandbox
# images are built from /bin/busybox), conntrack (flushing stale UDP entries of services),
# kmod (modprobe br_netfilter) and curl (the cheap probe of the Docker socket).
pkgs=(openssl ca-certificates python3 python3-kubernetes iproute2 procps iptables util-linux bash-builtins containernetworking-plugins iputils-ping
  docker.io busybox-static conntrack kmod curl nftables)
# One dpkg-query for all (one per package cost ~25 ms each); "ii" = installed.
installed=$'\n'$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${pkgs[@]}" 2>/dev/null || true)
missing=()
for p in "${pkgs[@]}"; do
  [[ $installed == *$'\n'"$p ii"* ]] || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  # apt's chatter (debconf, needrestart) goes to a log, shown only when it fails.
  aptlog=$(mktemp)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$aptlog" 2>&1; then
    tail -n 20 "$aptlog" >&2
    rm -f "$aptlog"
    echo "setup: installing ${missing[*]} failed" >&2
    exit 1
  fi
  rm -f "$aptlog"
fi

# Root only (both write to the system; doctor reports what is missing otherwise).
if [ "$(id -u)" = 0 ]; then
  # A Docker engine answering on its socket: ~30 ms when it already does. A failure is
  # a warning, not an abort, so `skiff doctor` can still run and say what is wrong.
  scripts/dockerd.sh ensure || echo "setup: warning: the Docker engine is not available (see above); the agent needs it" >&2
  # The CNI plugin, when the installed copy is missing or older than the source.
  cni_bin=/opt/cni/bin/skiff-bridge
  if [ ! -x "$cni_bin" ] || [ ! -d /usr/local/lib/skiff/cni ] ||
    [ -n "$(find cni/skiff-bridge cni/lib cni/install.sh -newer "$cni_bin" -print -quit 2>/dev/null)" ]; then
    say "installing the CNI plugin to $cni_bin"
    cni/install.sh
  fi
fi

# npm packages (better-sqlite3 builds from source with node-gyp).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi

# The build: TypeScript to dist/.
stamp=dist/.build-stamp
if [ ! -f "$stamp" ] || [ -n "$(find cli common controlplane agent test bench tsconfig.json package-lock.json -newer "$stamp" -type f -print -quit 2>/dev/null)" ]; then
  say "building (tsc)"
  node node_modules/typescript/bin/tsc -p .
  touch "$stamp"
fi

