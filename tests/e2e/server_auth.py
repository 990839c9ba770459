#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`loki serve` end to end: configuration precedence (file < env < flags), API keys, per-client
token buckets (429 + Retry-After, short windows), CORS, protected ops routes.
usage: server_auth.py LOKI_BINARY TMPDIR"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_lib import Server, expect_error, run, binary_and_tmp  # noqa

K1, K2, K3 = "k1-secret-abcdef", "k2-secret-123456", "k3-rate-test"
CONFIG = """# test config
batch_max = 7
cache_entries = 50
cache_ttl = 123
api_keys = wrong-key-from-file
rate_limit = 0.5
rate_burst = 3
cors_origins = "https://a.example, https://b.example"
"""


def setup():
    binary, tmp = binary_and_tmp()
    env = {"LOKI_BATCH_MAX": "6", "LOKI_CACHE_ENTRIES": "60", "LOKI_API_KEYS": ",".join((K1, K2, K3))}
    s = Server(binary, tmp, name="auth", config=CONFIG, env=env, args=["--batch-max", "5"])
    s.start()
    s.binary = binary
    return s


def teardown(s):
    if s:
        assert s.stop() == 0


def bearer(k):
    return {"Authorization": "Bearer " + k}


def test_precedence(s):
    # file only: cache_ttl; env over file: cache_entries, api_keys; flag over env: batch_max.
    d, _ = s.json("GET", "/api/cache/stats", headers=bearer(K1))
    assert d["ttl_seconds"] == 123 and d["max_entries"] == 60, d
    e = expect_error(s.request("POST", "/api/validate/batch", {"documents": ["a"] * 6},
                               bearer(K2)), 413)
    assert "1 to 5" in e["message"], e


def test_auth_required(s):
    st, hd, data = s.request("GET", "/api/modules")
    expect_error((st, hd, data), 401, "unauthorized")
    assert hd["www-authenticate"].startswith("Bearer")
    expect_error(s.request("GET", "/api/modules", headers=bearer("nope")), 401)
    expect_error(s.request("GET", "/api/modules", headers=bearer("wrong-key-from-file")), 401)
    expect_error(s.request("GET", "/api/modules", headers=bearer(K1 + "x")), 401)
    expect_error(s.request("GET", "/api/modules", headers=bearer(K1[:-1])), 401)
    expect_error(s.request("POST", "/api/validate", {"text": "hi"}), 401)


def test_auth_accepted(s):
    s.json("GET", "/api/modules", headers=bearer(K1))
    s.json("POST", "/api/validate", {"text": "hi"}, headers={"X-API-Key": K2})
    s.json("GET", "/api/gates", headers={"authorization": "bearer " + K2})


def test_ops_open(s):
    s.json("GET", "/api/health")
    st, _, _ = s.request("GET", "/metrics")
    assert st == 200


def test_rate_limit(s):
    """Burst 3, refill 0.5/s: a fresh client gets 3 requests, then 429 with Retry-After 2."""
    k = {"X-API-Key": K3}  # a client no other test uses
    got = [s.request("GET", "/api/modules", headers=k)[0] for _ in range(3)]
    assert got == [200, 200, 200], got
    st, hd, data = s.request("GET", "/api/modules", headers=k)
    expect_error((st, hd, data), 429, "rate_limited")
    assert hd["retry-after"] in ("1", "2"), hd
    # Another client has its own bucket; health is never limited.
    for _ in range(3):
        s.json("GET", "/api/health", headers=k)
    time.sleep(float(hd["retry-after"]) + 0.1)
    assert s.request("GET", "/api/modules", headers=k)[0] == 200
    assert s.request("GET", "/api/modules", headers=k)[0] == 429


def test_rate_limit_per_client(s):
    """K3 is exhausted, K1 is not: buckets are per client. Failed authentication does not take
    tokens from anyone."""
    assert s.request("GET", "/api/modules", headers={"X-API-Key": K3})[0] == 429
    for _ in range(5):
        expect_error(s.request("GET", "/api/modules", headers={"X-API-Key": "bad"}), 401)
    assert s.request("GET", "/api/modules", headers={"X-API-Key": K1})[0] == 200


def test_cors(s):
    st, hd, _ = s.request("GET", "/api/health", headers={"Origin": "https://b.example"})
    assert st == 200 and hd["access-control-allow-origin"] == "https://b.example"
    assert "origin" in hd["vary"].lower()
    st, hd, _ = s.request("GET", "/api/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in hd
    st, hd, _ = s.request("OPTIONS", "/api/validate",
                          headers={"Origin": "https://a.example",
                                   "Access-Control-Request-Method": "POST"})
    assert st == 204, st
    assert "POST" in hd["access-control-allow-methods"]
    assert "authorization" in hd["access-control-allow-headers"].lower()


def test_access_log_has_no_keys(s):
    with open(s.access_log) as f:
        text = f.read()
    assert K1 not in text and K2 not in text
    clients = {json.loads(x)["client"] for x in text.splitlines() if x}
    assert any(c.startswith("key:") for c in clients), clients


def test_protect_ops(s):
    p = Server(s.binary, s.tmp, name="ops", args=["--protect-ops", "--api-keys", K1])
    p.start()
    try:
        expect_error(p.request("GET", "/api/health"), 401)
        assert p.request("GET", "/metrics")[0] == 401
        p.json("GET", "/api/health", headers=bearer(K1))
    finally:
        assert p.stop() == 0


def test_bad_config_rejected(s):
    import subprocess
    for args in (["--threads", "lots"], ["--no-such-flag"], ["--listen", "nohost"],
                 ["--max-body-bytes", "0"]):
        r = subprocess.run([s.binary, "serve", "--audit-db", "off"] + args,
                           capture_output=True, timeout=60)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
    bad = os.path.join(s.tmp, "bad.conf")
    with open(bad, "w") as f:
        f.write("listen = 127.0.0.1:0\nfrobnicate = 1\n")
    r = subprocess.run([s.binary, "serve", "--config", bad], capture_output=True, timeout=60)
    assert r.returncode == 2 and b"bad.conf:2" in r.stderr, r.stderr


TESTS = [test_precedence, test_auth_required, test_auth_accepted, test_ops_open, test_rate_limit,
         test_rate_limit_per_client, test_cors, test_access_log_has_no_keys, test_protect_ops,
         test_bad_config_rejected]

if __name__ == "__main__":
    sys.exit(run(TESTS, setup, teardown))
