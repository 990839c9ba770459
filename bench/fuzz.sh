#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every libFuzzer target for N seconds (default 60) and prints executions and crashes.
# Builds the targets with clang in build/fuzz. usage: bench/fuzz.sh [SECONDS]
set -u
secs=${1:-60}
top=$(cd "$(dirname "$0")/.." && pwd)
b=$top/build/fuzz
CC=clang cmake -S "$top" -B "$b" -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_C_FLAGS="-O1 -g -fsanitize=address,undefined,fuzzer-no-link -fno-omit-frame-pointer" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null || exit 1
cmake --build "$b" -j2 >/dev/null 2>&1 || exit 1
export LOKI_CACHE_DIR=$b/cache
printf '%-22s %12s %8s %s\n' target executions crashes corpus
# Compile the bundled rules once so fuzz_check's time goes to inputs, not to start-up.
[ -x "$b/tests/fuzz_check" ] && "$b/tests/fuzz_check" -runs=1 "$top/tests/fuzz/corpus/check" >/dev/null 2>&1
for f in "$b"/tests/fuzz_*; do
    [ -x "$f" ] || continue
    case "$f" in *_replay) continue ;; esac
    t=$(basename "$f"); name=${t#fuzz_}
    work=$b/corpus/$name; mkdir -p "$work" "$b/artifacts/$name"
    seeds=$top/tests/fuzz/corpus/$name; [ -d "$seeds" ] || seeds=
    log=$b/$t.log
    "$f" -max_total_time="$secs" -max_len=20000 -artifact_prefix="$b/artifacts/$name/" \
        "$work" $seeds >"$log" 2>&1
    execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || true)
    [ -z "$execs" ] && execs=$(grep -Eo '#[0-9]+' "$log" | tail -1 | tr -d '#')
    crashes=$(ls "$b/artifacts/$name" 2>/dev/null | wc -l)
    printf '%-22s %12s %8s %s\n' "$t" "${execs:-?}" "$crashes" "$(ls "$work" | wc -l) files"
done
echo "method: each target run for ${secs}s with libFuzzer + ASan/UBSan on this machine; seeds from tests/fuzz/corpus"
