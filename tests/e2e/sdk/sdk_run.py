#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Starts the fake provider and `loki serve` in front of it, runs the Node SDK tests against
them (LOKI_URL, FAKE_URL), stops both and fails on a sanitizer report.
Usage: sdk_run.py LOKI_BINARY TMPDIR"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from proxy_lib import Fake, loki  # noqa: E402
from server_lib import tmpdir  # noqa: E402


def main():
    binary, tmp = sys.argv[1], tmpdir(sys.argv[2])
    fake = Fake(tmp)
    srv = None
    rc = 1
    try:
        srv = loki(binary, tmp, fake, "sdk", "provider_max_attempts = 1\n")
        env = dict(os.environ, LOKI_URL="http://127.0.0.1:%d" % srv.port, FAKE_URL=fake.url)
        p = subprocess.run(["node", "--test", "--test-concurrency=1", "proxy_sdk.test.mjs"],
                           cwd=HERE, env=env, timeout=240)
        rc = p.returncode
    finally:
        if srv:
            srv.stop()
        fake.stop()
    print("%d failed" % (1 if rc else 0))
    return rc


if __name__ == "__main__":
    sys.exit(main())
