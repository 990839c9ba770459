#!/bin/sh
# SPDX-License-Identifier: MIT
# Soak test for `loki serve` (loopback only, bounded): mixed cached and uncached 10 KB
# validations with wrk for DURATION seconds while the server's RSS is sampled every 10 s.
# Prints requests, non-2xx/socket errors and the RSS drift between the first sample after
# warm-up and the last. Exits 1 when errors occur or RSS drifts by more than 5 %.
#
# usage: bench/soak.sh [LOKI_BINARY] [SECONDS]   (defaults: build/release/loki 300)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/build/release/loki}
SECS=${2:-300}
command -v wrk >/dev/null || { echo "soak.sh: wrk not installed" >&2; exit 77; }
TMP=$(mktemp -d)
PID=""
cleanup() {
    [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
cat "$ROOT"/tests/golden/domains/*/violating.txt | head -c 10240 > "$TMP/doc.txt"
python3 -c "import json,sys; print(json.dumps(open(sys.argv[1]).read())[1:-1], end='')" "$TMP/doc.txt" > "$TMP/esc.txt"
cat > "$TMP/mixed.lua" <<LUA
local f = io.open("$TMP/esc.txt"); local text = f:read("*a"); f:close()
local n = 0
local hdr = { ["Content-Type"] = "application/json" }
function setup(thread) thread:set("seed", math.random(1, 1000000000)) end
function init(args) math.randomseed(seed or os.time()); n = math.random(1, 1000000000) end
-- one request in four is a new document (uncached); the rest repeat 50 documents (cached)
function request()
  n = n + 1
  local id = (n % 4 == 0) and n or (n % 50)
  return wrk.format("POST", "/api/validate", hdr, '{"text":"doc ' .. id .. ' ' .. text .. '"}')
end
LUA
# A 32 MB verdict cache fills within the warm-up, so growth after it would be a leak.
"$BIN" serve --listen 127.0.0.1:0 --access-log off --audit-db "$TMP/audit.db" --cache-bytes 32m \
    2> "$TMP/stderr" &
PID=$!
i=0
until grep -q "listening on" "$TMP/stderr"; do
    i=$((i + 1)); [ $i -gt 600 ] && { cat "$TMP/stderr" >&2; exit 1; }; sleep 0.1
done
PORT=$(sed -n 's/.*listening on http:\/\/[0-9.]*:\([0-9]*\).*/\1/p' "$TMP/stderr" | head -1)
wrk -t2 -c32 -d"${SECS}s" -s "$TMP/mixed.lua" "http://127.0.0.1:$PORT/api/validate" > "$TMP/wrk.txt" 2>&1 &
WRK=$!
: > "$TMP/rss"
t=0
while kill -0 "$WRK" 2>/dev/null; do
    sleep 10; t=$((t + 10))
    awk '/VmRSS/ {print $2}' "/proc/$PID/status" >> "$TMP/rss" 2>/dev/null || true
done
wait "$WRK" || true
cat "$TMP/wrk.txt"
python3 - "$TMP/rss" "$TMP/wrk.txt" "$SECS" <<'PY'
import re, sys
rss = [int(x) for x in open(sys.argv[1]).read().split()]
wrk = open(sys.argv[2]).read()
req = int(re.search(r'(\d+) requests in', wrk).group(1))
non2xx = int((re.search(r'Non-2xx or 3xx responses: (\d+)', wrk) or [0, 0])[1]) if 'Non-2xx' in wrk else 0
sock = sum(int(x) for x in re.findall(r'(?:connect|read|write|timeout) (\d+)', wrk))
base = rss[min(2, len(rss) - 1)] if rss else 0   # after 30 s of warm-up (caches filled)
last = rss[-1] if rss else 0
drift = (last - base) / base * 100 if base else 0
print(f"soak: {sys.argv[3]} s, {req} requests, {non2xx} non-2xx, {sock} socket errors; "
      f"RSS after warm-up {base/1024:.1f} MB, at end {last/1024:.1f} MB, drift {drift:+.1f} % "
      f"(samples: {' '.join(str(r // 1024) for r in rss)} MB)")
sys.exit(0 if non2xx == 0 and sock == 0 and abs(drift) <= 5 else 1)
PY
