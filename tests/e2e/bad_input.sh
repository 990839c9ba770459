#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Bad input to `loki check`: every case ends in a clear error (exit 2, message naming the file
# and the problem) or a correct verdict, never a crash. usage: bad_input.sh LOKI TMPDIR
set -u
loki=$1; tmp=$2/bad_input.$$; mkdir -p "$tmp"; trap 'rm -rf "$tmp"' EXIT
fails=0; passes=0
expect() { # name want_rc stderr_regex cmd...
    local name=$1 want=$2 re=$3; shift 3
    "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
    if [ "$rc" -ne "$want" ] || ! grep -Eq -- "$re" "$tmp/err" "$tmp/out"; then
        echo "FAIL $name: rc=$rc (want $want), stderr: $(head -c 300 "$tmp/err")"; fails=$((fails+1))
    else passes=$((passes+1)); fi
    if [ "$rc" -ge 128 ]; then echo "FAIL $name: killed by signal $((rc-128))"; fails=$((fails+1)); fi
}
printf 'Privacy notice\nbad byte \xff here\n' > "$tmp/invalid.txt"
printf 'abc\0def' > "$tmp/nul.txt"
: > "$tmp/empty.txt"
printf 'caf\xc3' > "$tmp/truncated.txt"
printf '\xc0\xaf overlong' > "$tmp/overlong.txt"
expect invalid_utf8 2 'invalid.txt: error: invalid UTF-8 (lead|continuation) byte at byte 24 \(line 2, column 10\)' "$loki" check "$tmp/invalid.txt"
expect nul_byte 2 'nul.txt: error: NUL byte at byte 3' "$loki" check "$tmp/nul.txt"
expect truncated 2 'truncated UTF-8 sequence' "$loki" check "$tmp/truncated.txt"
expect overlong 2 'error: invalid UTF-8' "$loki" check "$tmp/overlong.txt"
expect empty_file 0 'LOW risk' "$loki" check "$tmp/empty.txt"
expect missing_file 2 'nope.txt: error: cannot open: No such file' "$loki" check "$tmp/nope.txt"
expect directory 2 'error: is a directory' "$loki" check "$tmp"
expect unknown_type 2 "unknown document type 'memo'" "$loki" check --type memo "$tmp/empty.txt"
expect unknown_module 2 "unknown module 'nope'" "$loki" check --modules nope "$tmp/empty.txt"
expect unknown_format 2 "unknown format 'xml'" "$loki" check --format xml "$tmp/empty.txt"
expect unknown_option 2 "unknown option '--bogus'" "$loki" check --bogus "$tmp/empty.txt"
expect bad_fail_on 2 "unknown severity 'worst'" "$loki" check --fail-on worst "$tmp/empty.txt"
expect too_big 2 'larger than the 10-byte limit' "$loki" check --max-bytes 10 "$tmp/invalid.txt"
# A broken document format: a clear error naming the file, not a crash or a silent pass.
printf 'PK\003\004this is not really a zip archive at all' > "$tmp/broken.docx"
expect broken_docx 2 'broken.docx: error: ' "$loki" check "$tmp/broken.docx"
printf '%%PDF-1.4\ngarbage where the objects should be' > "$tmp/broken.pdf"
expect broken_pdf 2 'broken.pdf: error: malformed PDF' "$loki" check "$tmp/broken.pdf"
# An HTML document is checked on its visible text, with locations in the source.
printf '<html><script>var s="by using our website you agree";</script><body>\n<h1>Privacy notice</h1>\n<p>By using our website you agree to the processing of your personal data.</p></body></html>' > "$tmp/notice.html"
expect html_consent 1 'notice.html \(line 3, column 4\) "By using our website you agree"' "$loki" check --type privacy_notice "$tmp/notice.html"
# Several files, one bad: the good one still gets its verdict, exit 2 for the bad one.
expect mixed_files 2 '"file": ".*empty.txt"' "$loki" check --format json "$tmp/empty.txt" "$tmp/nul.txt"
# A 50 MB document: a verdict, not a crash or a hang.
python3 -c "
import sys
para = 'We collect personal data such as your name and e-mail address to run our service. '
with open(sys.argv[1], 'w') as f:
    while f.tell() < 50 * 1024 * 1024:
        f.write(para * 20 + '\n\n')
" "$tmp/big.txt"
expect fifty_mb 0 '"overall_risk"' timeout 120 "$loki" check --format json --fail-on none "$tmp/big.txt"
expect stdin 0 'stdin' sh -c "printf 'hello' | '$loki' check --format json -"
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
