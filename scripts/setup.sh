#!/usr/bin/env bash
# Installs what Skiff needs on a Debian 12 host and builds it. Idempotent and quick
# when nothing changed: Debian packages only when missing, `npm ci` only when the
# lockfile changed, `tsc` only when a source is newer than the last build.
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
pkgs=(openssl ca-certificates python3 python3-kubernetes iproute2 procps iptables util-linux bash-builtins containernetworking-plugins iputils-ping)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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
