#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Golden CLI outputs: each case in cases/ is checked with the fixed pack in pack/ in every
# format, and compared byte for byte with expected/. UPDATE=1 rewrites the expected files.
# usage: run_golden.sh LOKI GOLDEN_DIR
set -u
loki=$1; dir=$2; passes=0; fails=0
cd "$dir/cases" || exit 1
for f in *.txt; do
    c=${f%.txt}
    for fmt in text json sarif; do
        exp="$dir/expected/$c.$fmt"
        out=$("$loki" check --rules "$dir/pack" --no-cache --format "$fmt" --no-timings --color never "$f" 2>&1; echo "exit=$?")
        if [ "${UPDATE:-0}" = 1 ]; then printf '%s\n' "$out" > "$exp"; fi
        if [ "$out" = "$(cat "$exp" 2>/dev/null)" ]; then passes=$((passes+1)); else
            echo "FAIL $c.$fmt:"; diff <(printf '%s\n' "$out") "$exp" | head -20; fails=$((fails+1)); fi
    done
done
# --all lists every gate, and the catalog commands are stable too.
for cmd in "modules" "gates" "gates golden" "rules test"; do
    name=$(echo "$cmd" | tr ' ' '_'); exp="$dir/expected/cmd_$name.txt"
    # shellcheck disable=SC2086
    out=$("$loki" $cmd --rules "$dir/pack" --no-cache 2>&1 | sed "s#$dir#GOLDEN#g"; echo "exit=${PIPESTATUS[0]}")
    if [ "${UPDATE:-0}" = 1 ]; then printf '%s\n' "$out" > "$exp"; fi
    if [ "$out" = "$(cat "$exp" 2>/dev/null)" ]; then passes=$((passes+1)); else
        echo "FAIL cmd $cmd:"; diff <(printf '%s\n' "$out") "$exp" | head -20; fails=$((fails+1)); fi
done
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
