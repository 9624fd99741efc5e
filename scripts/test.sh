#!/usr/bin/env bash
# Runs every test: unit tests beside the code and end-to-end tests under test/,
# with Node's built-in runner. Installs and builds what it needs first.
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
cd "$root"
scripts/setup.sh
# The end-to-end tests drive the real kubectl: install it when missing (apt, as root).
if ! command -v kubectl >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "test: installing kubectl (apt-get)" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends kubectl; } >/dev/null 2>&1 || true
fi
if ! command -v kubectl >/dev/null; then
  echo "test: kubectl is required by the end-to-end tests and could not be installed: install kubectl 1.32" >&2
  exit 1
fi
# Tests that run containers without an agent need the local images the agent would build.
node dist/cli/main.js images
mapfile -t files < <(find dist -name '*.test.js' -not -path '*/node_modules/*' | sort)
exec node --test --test-concurrency=2 --test-timeout=600000 "${files[@]}"
