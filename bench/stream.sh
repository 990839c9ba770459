#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Streaming benchmark: N MB of text through a pipe into `loki check --stream -`; prints peak
# RSS, wall and CPU time and MB/s. The text is every document of tests/golden/domains repeated
# to 1 MB, then that megabyte N times (default 1024: about 1 GB).
# usage: bench/stream.sh [LOKI_BINARY] [N_MB] [extra loki check options...]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$top/build/release/loki}; n=${2:-1024}; shift $(( $# > 2 ? 2 : $# )) || true
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
python3 - "$top/tests/golden/domains" "$work/1m.txt" <<'PY'
import glob, sys
text = "\n\n".join(open(f).read() for f in sorted(glob.glob(sys.argv[1] + "/*/*.txt")))
out, n = [], 0
while n < (1 << 20):
    out.append(text); n += len(text.encode())
open(sys.argv[2], "w").write("".join(out)[: 1 << 20])
PY
echo "input: $n x 1 MiB through a pipe; binary: $bin; options: --stream --format json $*"
set +e
( for _ in $(seq "$n"); do cat "$work/1m.txt"; done ) |
    /usr/bin/time -f "%M %e %U %S" -o "$work/time" "$bin" check --stream --format json "$@" - \
    > "$work/verdict.json"
rc=$?
set -e
read -r rss wall user sys < <(tail -1 "$work/time")
python3 - "$work/verdict.json" "$rss" "$wall" "$user" "$sys" "$n" "$rc" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
rss, wall, user, sysc, n, rc = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
print(f"document_bytes {v['document_bytes']}  overall_risk {v['overall_risk']}  exit {rc}")
print(f"peak RSS {rss / 1024:.1f} MB   wall {wall:.1f} s   cpu {user + sysc:.1f} s   "
      f"{n * 1.048576 / wall:.1f} MB/s wall, {n * 1.048576 / (user + sysc):.1f} MB/s cpu")
PY
