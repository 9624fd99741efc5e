#!/usr/bin/env bash
# Installs skiff-bridge: the plugin to <bin dir>/skiff-bridge (default
# /opt/cni/bin, where runtimes look for CNI plugins) and its library to
# <lib dir> (default /usr/local/lib/skiff/cni), the installed plugin pointing
# at that library. Each file is replaced atomically (write, then rename);
# the library goes first, so a plugin run during an upgrade finds it.
# Usage: cni/install.sh [bin dir] [lib dir]
set -euo pipefail
src="$(cd "$(dirname "$(readlink -f "$0")")" && pwd)"
bin=${1:-/opt/cni/bin}
lib=${2:-/usr/local/lib/skiff/cni}
for d in "$bin" "$lib"; do
  [[ $d =~ ^/[A-Za-z0-9_./-]*$ ]] || { echo "install: $d: use an absolute path of [A-Za-z0-9_./-]" >&2; exit 1; }
done
install -d -m 0755 "$bin" "$lib"
for f in "$src"/lib/*.sh; do
  install -m 0644 "$f" "$lib/.$(basename "$f").new"
  mv -f "$lib/.$(basename "$f").new" "$lib/$(basename "$f")"
done
sed "s|^SKIFF_CNI_LIB=.*|SKIFF_CNI_LIB=$lib|" "$src/skiff-bridge" >"$bin/.skiff-bridge.new"
chmod 0755 "$bin/.skiff-bridge.new"
mv -f "$bin/.skiff-bridge.new" "$bin/skiff-bridge"
