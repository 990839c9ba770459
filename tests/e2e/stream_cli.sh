#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `loki check --stream`, automatic streaming above --stream-above, and several files at once:
# the same verdicts as whole-file checks, errors located, output in command-line order.
# usage: stream_cli.sh LOKI TMPDIR GOLDEN_DOMAINS_DIR
set -u
loki=$1; tmp=$2/stream_cli.$$; dom=$3; mkdir -p "$tmp"; trap 'rm -rf "$tmp"' EXIT
fails=0; passes=0
ok() { passes=$((passes+1)); }
bad() { echo "FAIL $*"; fails=$((fails+1)); }
same() { # name file_a file_b
    if cmp -s "$2" "$3"; then ok; else bad "$1: verdicts differ"; diff "$2" "$3" | head -10; fi
}
# Documents of our own: every domain text, repeated to ~600 KB (one segment) and ~3 MB.
cat "$dom"/*/*.txt > "$tmp/one.txt"
for i in $(seq 25); do cat "$dom"/*/*.txt; done > "$tmp/small.txt"
for i in $(seq 120); do cat "$dom"/*/*.txt; done > "$tmp/big.txt"
J="--format json --no-timings --input-format text"
# One segment: the whole verdict, detectors included, is the same.
"$loki" check $J "$tmp/small.txt" > "$tmp/a.json"; ra=$?
"$loki" check $J --stream "$tmp/small.txt" > "$tmp/b.json"; rb=$?
[ "$ra" = "$rb" ] && ok || bad "small: exit $ra vs $rb"
same small "$tmp/a.json" "$tmp/b.json"
# Many segments (stream_segment is 1 MiB): the rule-pack verdict is the same.
"$loki" check $J --no-universal "$tmp/big.txt" > "$tmp/a.json"
"$loki" check $J --no-universal --stream "$tmp/big.txt" > "$tmp/b.json"
same big "$tmp/a.json" "$tmp/b.json"
# Standard input larger than --stream-above becomes a stream by itself.
"$loki" check $J --no-universal - < "$tmp/big.txt" | sed 's/"file": "[^"]*"/"file": ""/' > "$tmp/a.json"
cat "$tmp/big.txt" | "$loki" check $J --no-universal --stream-above 100000 - \
    | sed 's/"file": "[^"]*"/"file": ""/' > "$tmp/b.json"
same stdin_auto "$tmp/a.json" "$tmp/b.json"
# A limit smaller than the first read still decides: 5 KB on a pipe with --stream-above 1000
# is a stream (held in memory, it would break --max-bytes 2000).
for i in $(seq 100); do echo "Line $i of a plain note about personal data."; done > "$tmp/5k.txt"
cat "$tmp/5k.txt" | "$loki" check --stream-above 1000 --max-bytes 2000 --no-universal - \
    >/dev/null 2>"$tmp/err"; rc=$?
[ "$rc" -lt 2 ] && ok || bad "small --stream-above on a pipe: rc=$rc $(head -c 200 "$tmp/err")"
# A bad byte deep in a stream: exit 2, located by byte, line and column.
{ head -c 2500000 "$tmp/big.txt"; printf 'x\n\xff\n'; } > "$tmp/badbyte.txt"
want=$("$loki" check "$tmp/badbyte.txt" 2>&1 >/dev/null | grep -o 'at byte [0-9]* (line [0-9]*, column [0-9]*)')
got=$("$loki" check --stream "$tmp/badbyte.txt" 2>&1 >/dev/null | grep -o 'at byte [0-9]* (line [0-9]*, column [0-9]*)')
"$loki" check --stream "$tmp/badbyte.txt" >/dev/null 2>&1; rc=$?
[ -n "$want" ] && [ "$want" = "$got" ] && [ "$rc" = 2 ] && ok || bad "bad byte: '$want' vs '$got' rc=$rc"
# Several files: one JSON array in command-line order, each as checked alone.
files=("$dom"/gdpr_uk/violating.txt "$dom"/fca_uk/compliant.txt "$dom"/nda_uk/violating.txt "$dom"/tax_uk/violating.txt)
"$loki" check $J --jobs 3 "${files[@]}" > "$tmp/multi.json"
{ echo "["; n=0; for f in "${files[@]}"; do [ $n -gt 0 ] && echo ","; "$loki" check $J "$f"; n=1; done; echo "]"; } > "$tmp/each.json"
python3 - "$tmp/multi.json" "$tmp/each.json" <<'PY' && ok || bad "multi-file output differs from single checks"
import json, sys
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
assert [x["file"] for x in a] == [x["file"] for x in b], "order"
assert a == b, "verdicts"
PY
# A PDF is never streamed, however large: --stream-above leaves document formats alone.
printf '%%PDF-1.4 not really a pdf' > "$tmp/fake.pdf"
"$loki" check --stream-above 1 "$tmp/fake.pdf" >/dev/null 2>"$tmp/err"; rc=$?
grep -q "pdf\|PDF" "$tmp/err" && [ "$rc" = 2 ] && ok || bad "fake pdf streamed? rc=$rc $(head -c 200 "$tmp/err")"
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
