#!/bin/sh
# SPDX-License-Identifier: MIT
# ctest wrapper for the SDK tests: skips (77) without node/npm, installs the pinned packages
# with `npm ci` when node_modules is missing, then runs sdk_run.py (servers + node --test).
# Usage: run.sh LOKI_BINARY TMPDIR
set -e
here=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null 2>&1 || { echo "node not found: skipping"; exit 77; }
if [ ! -d "$here/node_modules" ]; then
  command -v npm >/dev/null 2>&1 || { echo "npm not found: skipping"; exit 77; }
  (cd "$here" && npm ci --no-audit --no-fund) || { echo "npm ci failed: skipping"; exit 77; }
fi
exec python3 "$here/sdk_run.py" "$1" "$2"
