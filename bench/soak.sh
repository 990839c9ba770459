#!/bin/sh
# SPDX-License-Identifier: MIT
# Soak test for `loki serve` (loopback only, bounded): mixed cached and uncached 10 KB
# validations with wrk (2 threads, 32 connections; one request in four is a new document, the
# rest repeat 50 documents) against a server with a 32 MB verdict cache.
#
# Method. One wrk run of WARMUP + SECONDS; the server's VmRSS is sampled every 10 s.
#   - Warm-up: the first WARMUP seconds (default 60). At its end the script checks that the
#     verdict cache is full (bytes >= 90 % of its budget, from /api/cache/stats) and takes the
#     RSS sample then as the baseline. Growth before that point is the cache filling, not drift.
#   - Soak: the next SECONDS seconds (default 300) under the same load.
#   - Drift: the largest deviation of any soak sample from the baseline ("max"), and the last
#     sample against the baseline ("end"). "Flat within ±5 %" means every sample, so the
#     verdict uses max, not end: an RSS that steps up and settles still fails.
# Exits 1 on any non-2xx or socket error, a cache that is not full after the warm-up, or a max
# drift beyond ±5 %; 77 when wrk is missing.
#
# usage: bench/soak.sh [LOKI_BINARY] [SECONDS] [WARMUP]   (defaults: build/release/loki 300 60)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/build/release/loki}
SECS=${2:-300}
WARMUP=${3:-60}
STEP=10
case "$SECS.$WARMUP" in *[!0-9.]*) echo "soak.sh: SECONDS and WARMUP are whole seconds" >&2; exit 2 ;; esac
[ "$WARMUP" -ge "$STEP" ] && [ $((WARMUP % STEP)) -eq 0 ] && [ "$SECS" -ge "$STEP" ] ||
    { echo "soak.sh: WARMUP must be a multiple of $STEP s, SECONDS at least $STEP s" >&2; exit 2; }
command -v wrk >/dev/null || { echo "soak.sh: wrk not installed" >&2; exit 77; }
TMP=$(mktemp -d)
PID=""
WRK=""
cleanup() {
    [ -n "$WRK" ] && kill "$WRK" 2>/dev/null || true
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
"$BIN" serve --listen 127.0.0.1:0 --access-log off --audit-db "$TMP/audit.db" --cache-bytes 32m \
    2> "$TMP/stderr" &
PID=$!
i=0
until grep -q "listening on" "$TMP/stderr"; do
    i=$((i + 1)); [ $i -gt 600 ] && { cat "$TMP/stderr" >&2; exit 1; }; sleep 0.1
done
PORT=$(sed -n 's/.*listening on http:\/\/[0-9.]*:\([0-9]*\).*/\1/p' "$TMP/stderr" | head -1)
wrk -t2 -c32 -d"$((WARMUP + SECS))s" -s "$TMP/mixed.lua" "http://127.0.0.1:$PORT/api/validate" \
    > "$TMP/wrk.txt" 2>&1 &
WRK=$!
# Samples "seconds-since-start kB" on a fixed 10 s grid (sleep time does not accumulate error).
: > "$TMP/rss"
t0=$(date +%s)
next=$STEP
while kill -0 "$WRK" 2>/dev/null; do
    now=$(($(date +%s) - t0))
    if [ "$now" -lt "$next" ]; then sleep 1; continue; fi
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status" 2>/dev/null) || rss=""
    [ -n "$rss" ] && echo "$next $rss" >> "$TMP/rss"
    if [ "$next" -eq "$WARMUP" ]; then
        curl -s "http://127.0.0.1:$PORT/api/cache/stats" > "$TMP/cache.json" || true
    fi
    next=$((next + STEP))
done
wait "$WRK" || true
WRK=""
if [ "$((next - STEP))" -lt "$((WARMUP + SECS))" ]; then  # wrk ended just before the last tick
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status" 2>/dev/null) || rss=""
    [ -n "$rss" ] && echo "$((WARMUP + SECS)) $rss" >> "$TMP/rss"
fi
cat "$TMP/wrk.txt"
python3 - "$TMP/rss" "$TMP/wrk.txt" "$TMP/cache.json" "$WARMUP" "$SECS" <<'PY'
import json, re, sys
rss = [tuple(int(x) for x in l.split()) for l in open(sys.argv[1]) if l.strip()]
wrk = open(sys.argv[2]).read()
try:
    cache = json.load(open(sys.argv[3]))
except (OSError, ValueError):
    cache = {}
warm, secs = int(sys.argv[4]), int(sys.argv[5])
req = int(re.search(r'(\d+) requests in', wrk).group(1))
m = re.search(r'Non-2xx or 3xx responses: (\d+)', wrk)
non2xx = int(m.group(1)) if m else 0
sock = sum(int(x) for x in re.findall(r'(?:connect|read|write|timeout) (\d+)', wrk))
full = cache.get('max_bytes', 0) > 0 and cache.get('bytes', 0) >= 0.9 * cache['max_bytes']
base = next((r for t, r in rss if t == warm), 0)
soak = [r for t, r in rss if t > warm]
have = base > 0 and len(soak) > 0
maxdev = max((r - base for r in soak), key=abs) / base * 100 if have else 0
end = (soak[-1] - base) / base * 100 if have else 0
ok = non2xx == 0 and sock == 0 and full and have and abs(maxdev) <= 5
print(f"soak: {warm} s warm-up + {secs} s, {req} requests, {non2xx} non-2xx, {sock} socket "
      f"errors; cache at baseline {cache.get('bytes', 0) / 2**20:.1f} of "
      f"{cache.get('max_bytes', 0) / 2**20:.0f} MB ({'full' if full else 'NOT FULL'}); "
      f"RSS baseline {base / 1024:.1f} MB, end {soak[-1] / 1024 if soak else 0:.1f} MB, "
      f"drift max {maxdev:+.1f} %, end {end:+.1f} %")
print("soak: RSS MB every 10 s (| = baseline): " +
      ' '.join(f"{r // 1024}" + ('|' if t == warm else '') for t, r in rss))
sys.exit(0 if ok else 1)
PY
