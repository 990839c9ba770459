#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Interceptor overhead (docs/interceptor.md): latency LOKI adds over calling the fake provider
directly for a 2 KB answer (p50, p99; keep-alive connections, requests interleaved so both
paths see the same machine state), and the time to reject with the provider's breaker open.
Usage: proxy_bench.py LOKI_BINARY [N]   (use a release build; LOKI_RULES_DIR/LOKI_CACHE_DIR
as for `loki serve`)."""
import http.client
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "e2e"))
from proxy_lib import Fake, loki  # noqa: E402

BODY = json.dumps({"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]})
HDRS = {"Content-Type": "application/json", "Authorization": "Bearer sk-x"}


def timed(conn, path="/v1/chat/completions"):
    t0 = time.perf_counter()
    conn.request("POST", path, BODY, HDRS)
    r = conn.getresponse()
    r.read()
    return (time.perf_counter() - t0) * 1000, r.status


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    tmp = tempfile.mkdtemp(prefix="loki-proxy-bench-")
    fake = Fake(tmp)
    fake.post("/_script", {"reset": True, "default": {"text_bytes": 2048}})
    srv = loki(binary, tmp, fake, "bench", "provider_max_attempts = 1\naccess_log = off\n"
               "audit_db = off\n", args=["--access-log", "off", "--audit-db", "off"])
    brk = loki(binary, tmp, fake, "brk", "provider_max_attempts = 1\n"
               "provider_breaker_consecutive = 1\nprovider_breaker_open_ms = 600000\n",
               args=["--access-log", "off", "--audit-db", "off"],
               env={"LOKI_OPENAI_BASE_URL": "http://127.0.0.1:1"})  # nothing listens there
    try:
        d = http.client.HTTPConnection("127.0.0.1", fake.port)
        p = http.client.HTTPConnection("127.0.0.1", srv.port)
        for _ in range(200):  # warm up both paths
            timed(d), timed(p)
        direct, proxied = [], []
        for _ in range(n):
            ms, st = timed(d)
            direct.append(ms)
            ms, st = timed(p)
            assert st == 200, st
            proxied.append(ms)
        b = http.client.HTTPConnection("127.0.0.1", brk.port)
        st = timed(b)[1]  # connection refused -> failure -> open
        assert st in (502, 503), st
        rej = []
        for _ in range(n):
            ms, st = timed(b)
            assert st == 503, st
            rej.append(ms)
        health = json.loads(brk.request("GET", "/api/health")[2])["providers"]["openai"]
        res = {
            "n": n,
            "direct_p50_ms": pct(direct, .5), "direct_p99_ms": pct(direct, .99),
            "loki_p50_ms": pct(proxied, .5), "loki_p99_ms": pct(proxied, .99),
            "added_p50_ms": pct(proxied, .5) - pct(direct, .5),
            "added_p99_ms": pct(proxied, .99) - pct(direct, .99),
            "breaker_open_reject_mean_ms": statistics.mean(rej),
            "breaker_open_reject_p99_ms": pct(rej, .99),
            "breaker_state": health["breaker"]["state"],
            "rejected_open": health["rejected_open"],
        }
        print(json.dumps(res, indent=2))
    finally:
        srv.stop()
        brk.stop()
        fake.stop()


if __name__ == "__main__":
    main()
