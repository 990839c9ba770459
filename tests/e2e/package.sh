#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the .deb with CPack, unpacks it with dpkg -x into a scratch root (no root needed, the
# system is not touched) and runs the packaged loki on a document with the packaged rules.
# usage: package.sh BUILD_DIR SOURCE_DIR
set -eu
b=$1; src=$2; tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$b" && cpack -G DEB -B "$tmp/pkg" >/dev/null)
deb=$(ls "$tmp"/pkg/*.deb | head -1)
echo "built $(basename "$deb") ($(du -k "$deb" | cut -f1) KB)"
dpkg-deb --info "$deb" | grep -E "Package|Version|Depends"
dpkg -x "$deb" "$tmp/root"
for f in usr/bin/loki usr/include/loki/loki.h usr/share/loki/rules/gdpr_uk.yaml \
         usr/share/man/man1/loki.1 usr/share/bash-completion/completions/loki; do
    [ -e "$tmp/root/$f" ] || { echo "missing in package: $f"; exit 1; }
done
[ -n "$(find "$tmp/root/usr/lib" -name 'libloki.so*')" ] || { echo "missing libloki.so"; exit 1; }
[ -n "$(find "$tmp/root/usr/lib" -name 'libloki.a')" ] || { echo "missing libloki.a"; exit 1; }
[ -n "$(find "$tmp/root/usr/lib" -name libloki.pc)" ] || { echo "missing libloki.pc"; exit 1; }
out=$(LOKI_CACHE_DIR="$tmp/cache" "$tmp/root/usr/bin/loki" check --rules "$tmp/root/usr/share/loki/rules" \
      --format json --fail-on none "$src/examples/documents/privacy_notice_violating.txt")
echo "$out" | grep -q '"overall_risk": "CRITICAL"' || { echo "packaged loki gave: $out" | head -20; exit 1; }
"$tmp/root/usr/bin/loki" modules --rules "$tmp/root/usr/share/loki/rules" | tail -1
echo "1 passed, 0 failed"
