#!/usr/bin/env bash
# Runs every test: unit tests beside the code and end-to-end tests under test/,
# with Node's built-in runner. Installs and builds what it needs first.
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
cd "$root"
scripts/setup.sh
if ! command -v kubectl >/dev/null; then
  echo "test: kubectl (1.32) is required by the end-to-end tests and is not on PATH" >&2
  exit 1
fi
mapfile -t files < <(find dist -name '*.test.js' -not -path '*/node_modules/*' | sort)
exec node --test --test-concurrency=2 --test-timeout=600000 "${files[@]}"
