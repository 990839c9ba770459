#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Domain documents written for LOKI (tests/golden/domains/<module>/): violating.txt must FAIL
# every gate in expected_fails.txt; compliant.txt must come back LOW risk with no FAIL.
# usage: run_domains.sh LOKI DOMAINS_DIR
set -u
loki=$1; dir=$2; passes=0; fails=0
for d in "$dir"/*/; do
    m=$(basename "$d")
    [ -f "$d/violating.txt" ] || continue
    out=$("$loki" check --format json --type unknown --fail-on none "$d/violating.txt") || { echo "FAIL $m: check errored"; fails=$((fails+1)); continue; }
    while read -r gate; do
        [ -z "$gate" ] && continue
        st=$(printf '%s' "$out" | python3 -c "import json,sys; v=json.load(sys.stdin); m,g=sys.argv[1].split('.',1); print(v['modules'].get(m,{}).get('gates',{}).get(g,{}).get('status'))" "$gate")
        if [ "$st" = FAIL ]; then passes=$((passes+1)); else echo "FAIL $m/violating.txt: $gate is $st"; fails=$((fails+1)); fi
    done < "$d/expected_fails.txt"
    out=$("$loki" check --format json --type unknown --fail-on none "$d/compliant.txt") || { echo "FAIL $m: check errored"; fails=$((fails+1)); continue; }
    res=$(printf '%s' "$out" | python3 -c "
import json,sys; v=json.load(sys.stdin)
f=[m+'.'+g for m,mr in v['modules'].items() for g,gr in mr['gates'].items() if gr['status']=='FAIL']
print(v['overall_risk'], ' '.join(f))")
    if [ "${res%% *}" = LOW ] && [ "$res" = "LOW " ] || [ "$res" = LOW ]; then passes=$((passes+1)); else echo "FAIL $m/compliant.txt: $res"; fails=$((fails+1)); fi
done
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
