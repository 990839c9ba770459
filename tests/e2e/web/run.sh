#!/bin/sh
# SPDX-License-Identifier: MIT
# Browser tests of the page `loki serve` serves at / (issue 9), run by ctest:
#   run.sh LOKI_BINARY WORKDIR
# Installs playwright-core from package-lock.json into WORKDIR/npm (npm ci, only when missing
# or when the lock file changed), then runs ui.test.mjs with node's test runner against
# Debian's headless chromium. Screenshots go to WORKDIR/screenshots. Exits 77 (skipped) when
# node or /usr/bin/chromium is not installed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 2 ] || { echo "usage: $0 LOKI_BINARY WORKDIR" >&2; exit 2; }
bin=$1
work=$2
chromium=${LOKI_CHROMIUM:-/usr/bin/chromium}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "SKIP: node/npm not installed"
    exit 77
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
    echo "SKIP: node $major is too old for playwright-core (need 20+)"
    exit 77
fi
if [ ! -x "$chromium" ]; then
    echo "SKIP: $chromium not installed (apt-get install chromium)"
    exit 77
fi

mkdir -p "$work/npm" "$work/screenshots"
if [ ! -f "$work/npm/node_modules/playwright-core/package.json" ] ||
    ! cmp -s "$here/package-lock.json" "$work/npm/package-lock.json"; then
    cp "$here/package.json" "$here/package-lock.json" "$work/npm/"
    npm ci --prefix "$work/npm" --no-audit --no-fund --loglevel=error
fi

export LOKI_BIN="$bin" LOKI_WEB_WORK="$work" LOKI_CHROMIUM="$chromium"
export LOKI_WEB_NODE_MODULES="$work/npm/node_modules"
exec node --test --test-reporter=spec "$here/ui.test.mjs"
