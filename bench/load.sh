#!/bin/sh
# SPDX-License-Identifier: MIT
# Load test for `loki serve` on loopback with wrk: idle RSS with every pack loaded, then cached
# (one 10 KB document) and uncached (a distinct 10 KB document per request) validations.
# Prints req/s and latency percentiles for each. Bounded: each wrk run lasts DURATION.
#
# usage: bench/load.sh [LOKI_BINARY] [DURATION] [THREADS] [CONNECTIONS]
#        defaults: build/release/loki 10s 2 64
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/build/release/loki}
DUR=${2:-10s}
THREADS=${3:-2}
CONNS=${4:-64}
command -v wrk >/dev/null || { echo "load.sh: wrk not installed (scripts/install-deps.sh)" >&2; exit 77; }
[ -x "$BIN" ] || { echo "load.sh: no binary at $BIN" >&2; exit 2; }

TMP=$(mktemp -d)
PID=""
cleanup() {
    [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# A 10 KB document made of the bundled violating domain documents (it trips real gates).
cat "$ROOT"/tests/golden/domains/*/violating.txt | head -c 10240 > "$TMP/doc.txt"
python3 - "$TMP" <<'PY'
import json, sys
d = sys.argv[1]
text = open(d + "/doc.txt", encoding="utf-8", errors="ignore").read()
open(d + "/cached.json", "w").write(json.dumps({"text": text}))
# The uncached script splices a unique prefix in front of the (escaped) text.
open(d + "/escaped.txt", "w").write(json.dumps(text)[1:-1])
PY

cat > "$TMP/cached.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$TMP/cached.json"); wrk.body = f:read("*a"); f:close()
LUA
cat > "$TMP/uncached.lua" <<LUA
local f = io.open("$TMP/escaped.txt"); local text = f:read("*a"); f:close()
local n = 0
local hdr = { ["Content-Type"] = "application/json" }
function setup(thread) thread:set("seed", math.random(1, 1000000000)) end
function init(args) math.randomseed(seed or os.time()); n = math.random(1, 1000000000) * 1000 end
function request()
  n = n + 1
  return wrk.format("POST", "/api/validate", hdr, '{"text":"doc ' .. n .. ' ' .. text .. '"}')
end
LUA

"$BIN" serve --listen 127.0.0.1:0 --access-log off --audit-db "$TMP/audit.db" \
    --cache-entries 200000 --cache-bytes 2g 2> "$TMP/stderr" &
PID=$!
i=0
until grep -q "listening on" "$TMP/stderr"; do
    i=$((i + 1))
    [ $i -gt 600 ] && { cat "$TMP/stderr" >&2; echo "load.sh: server did not start" >&2; exit 1; }
    kill -0 "$PID" 2>/dev/null || { cat "$TMP/stderr" >&2; exit 1; }
    sleep 0.1
done
PORT=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/stderr")
URL="http://127.0.0.1:$PORT/api/validate"
sleep 1
rss() { awk '/VmRSS/ {printf "%.1f MB", $2 / 1024}' "/proc/$PID/status"; }
echo "loki serve $("$BIN" version | cut -d' ' -f2) on 127.0.0.1:$PORT; wrk -t$THREADS -c$CONNS -d$DUR; $(nproc) CPUs"
echo "idle RSS (all packs loaded): $(rss)"

run() { # name script
    wrk -t"$THREADS" -c"$CONNS" -d"$DUR" --latency --timeout 10s -s "$2" "$URL" > "$TMP/$1.out"
    awk -v name="$1" '
        /Requests\/sec/ { rps = $2 }
        /^ +50%/ { p50 = $2 } /^ +75%/ { p75 = $2 } /^ +90%/ { p90 = $2 } /^ +99%/ { p99 = $2 }
        /Non-2xx/ { non2xx = $NF }
        /Socket errors/ { errs = $0 }
        END { printf "%-9s %10s req/s   p50 %-8s p75 %-8s p90 %-8s p99 %-8s", name, rps, p50, p75, p90, p99
              if (non2xx) printf "  non-2xx %s", non2xx
              if (errs) printf "  (%s)", errs
              printf "\n" }' "$TMP/$1.out"
}
# Prime the cache with the one cached document, then measure.
curl -s -o /dev/null -H 'Content-Type: application/json' --data-binary @"$TMP/cached.json" "$URL" 2>/dev/null || true
run cached "$TMP/cached.lua"
run uncached "$TMP/uncached.lua"
echo "RSS after load: $(rss)"
curl -s "http://127.0.0.1:$PORT/api/cache/stats" 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print("cache: %d hits, %d misses, %d entries, %.1f MB" % (d["hits"], d["misses"], d["entries"], d["bytes"]/1e6))' || true
curl -s "http://127.0.0.1:$PORT/api/audit/stats" 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print("audit: %d rows, %d errors, %d dropped" % (d["rows"], d["errors"], d["dropped"]))' || true
