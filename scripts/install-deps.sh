#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages LOKI needs to build and test. Idempotent: packages already
# present are left alone and apt is not touched at all when nothing is missing.
set -eu
PKGS="build-essential cmake pkg-config libvectorscan-dev libpcre2-dev libyaml-dev libcjson-dev
libssl-dev libcmocka-dev python3 libmicrohttpd-dev libsqlite3-dev sqlite3 wrk
libhiredis-dev redis-server libzip-dev libxml2-dev libpoppler-glib-dev libcurl4-openssl-dev chromium nginx
time"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-deps: run as root (missing:$missing)" >&2; exit 1; }
    SUDO=sudo
fi
echo "install-deps: installing$missing"
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
