#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`loki serve` end to end: every route, every error status, cache, audit rows, access log,
Prometheus output (parsed), keep-alive and slow clients.
usage: server_api.py LOKI_BINARY TMPDIR"""
import hashlib
import json
import os
import socket
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_lib import Server, expect_error, metric, parse_prometheus, run, binary_and_tmp  # noqa

HERE = os.path.dirname(os.path.abspath(__file__))
MARKER = "Zebracorn-7f3a-unique-marker"  # must never reach the audit log or access log
FCA_DOC = open(os.path.join(HERE, "..", "golden", "domains", "fca_uk", "violating.txt")).read()
DOC = ("Dear Ms Smith, this letter confirms the outcome of the disciplinary meeting. "
       "You may appeal within five working days. " + MARKER)


def setup():
    binary, tmp = binary_and_tmp()
    s = Server(binary, tmp, name="api",
               args=["--max-body-bytes", "256k", "--batch-max", "5", "--conn-timeout", "2",
                     "--header-memory", "16k", "--threads", "2"])
    s.start()
    s.sent_ok = 0  # successful validations, for the audit and metrics checks
    return s


def teardown(s):
    if s:
        assert s.stop() == 0, "exit status"


def validate(s, body, path="/api/validate", expect=200, headers=None):
    d, hd = s.json("POST", path, body, headers, expect)
    if expect == 200:
        s.sent_ok += 1
    return d, hd


# ---- routes -------------------------------------------------------------------------------

def test_health(s):
    d, _ = s.json("GET", "/api/health")
    assert d["status"] == "ok" and d["version"] and d["uptime_seconds"] >= 0, d
    assert "modules" not in d
    d, _ = s.json("GET", "/api/health?detailed=true")
    for k in ("modules", "module_count", "gate_count", "cache", "audit", "breakers",
              "ruleset_fingerprint", "uptime_seconds", "version"):
        assert k in d, k
    assert d["module_count"] == len(d["modules"]) >= 1
    assert d["gate_count"] == sum(m["gates"] for m in d["modules"])
    assert d["cache"]["enabled"] and d["audit"]["state"] == "ok"


def test_modules_and_gates(s):
    mods, _ = s.json("GET", "/api/modules")
    assert mods["count"] == len(mods["modules"]) >= 1
    for m in mods["modules"]:
        assert {"id", "name", "version", "description", "gates", "applies_to"} <= set(m), m
    gates, _ = s.json("GET", "/api/gates")
    assert gates["count"] == len(gates["gates"]) == sum(m["gates"] for m in mods["modules"])
    for g in gates["gates"]:
        assert {"module", "id", "title", "severity", "legal_source"} <= set(g), g
        assert g["severity"] in ("none", "low", "medium", "high", "critical")
    first = mods["modules"][0]
    one, _ = s.json("GET", "/api/gates?module=" + first["id"])
    assert one["count"] == first["gates"] and all(g["module"] == first["id"] for g in one["gates"])
    e = expect_error(s.request("GET", "/api/gates?module=nope"), 400, "unknown_module")
    assert first["id"] in e["message"]
    s.modules = [m["id"] for m in mods["modules"]]


def test_validate_json_and_cache(s):
    d, hd = validate(s, {"text": DOC})
    assert d["document_hash"] == hashlib.sha256(DOC.encode()).hexdigest()
    assert d["overall_risk"] in ("LOW", "MEDIUM", "HIGH", "CRITICAL")
    assert set(d["modules"]) == set(s.modules)
    assert hd["x-loki-cache"] == "miss" and hd["content-type"] == "application/json"
    d2, hd2 = validate(s, {"text": DOC})
    assert hd2["x-loki-cache"] == "hit" and d2 == d
    # A different module list is a different cache key.
    d3, hd3 = validate(s, {"text": DOC, "modules": [s.modules[0]]})
    assert hd3["x-loki-cache"] == "miss" and list(d3["modules"]) == [s.modules[0]]


def test_validate_type_and_options(s):
    d, _ = validate(s, {"text": FCA_DOC, "document_type": "financial_promotion",
                        "modules": ["fca_uk"], "options": {"no_timings": True}})
    assert d["document_type"] == "financial_promotion" and "timings" not in d
    assert d["overall_risk"] in ("HIGH", "CRITICAL"), d["overall_risk"]
    s.fca_risk = d["overall_risk"]


def test_validate_text_plain(s):
    d, _ = validate(s, DOC.encode(), "/api/validate?modules=%s&document_type=disciplinary_letter"
                    % s.modules[0], headers={"Content-Type": "text/plain; charset=utf-8"})
    assert list(d["modules"]) == [s.modules[0]] and d["document_type"] == "disciplinary_letter"


def test_validate_document_loki_shape(s):
    for path in ("/validate-document", "/api/validate-document"):
        d, _ = validate(s, {"text": FCA_DOC, "document_type": "financial_promotion",
                            "modules": ["fca_uk"]}, path)
        assert set(d) == {"validation", "risk"}, d.keys()
        assert d["risk"]["overall_risk"] == d["validation"]["overall_risk"] == s.fca_risk
        assert d["risk"]["gates"]["fail"] >= 1


def test_batch(s):
    body = {"documents": [DOC, {"id": "fca", "text": FCA_DOC, "document_type":
                                "financial_promotion"}, {"id": "bad", "text": 3},
                          {"text": "x", "modules": ["nope"]}],
            "modules": ["fca_uk", s.modules[0]]}
    d, _ = s.json("POST", "/api/validate/batch", body)
    s.sent_ok += 2
    assert d["count"] == 4 and [r["status"] for r in d["results"]] == [200, 200, 400, 400]
    assert d["results"][1]["id"] == "fca" and d["results"][2]["error"]["code"] == "invalid_type"
    assert d["results"][3]["error"]["code"] == "unknown_module"
    assert set(d["results"][0]["verdict"]["modules"]) == {"fca_uk", s.modules[0]}
    assert d["summary"]["errors"] == 2 and sum(d["summary"]["by_risk"].values()) == 2
    expect_error(s.request("POST", "/api/validate/batch", {"documents": ["a"] * 6}), 413,
                 "too_many_documents")
    expect_error(s.request("POST", "/api/validate/batch", {"documents": []}), 400)
    expect_error(s.request("POST", "/api/validate/batch", {"documents": "a"}), 400, "invalid_type")
    expect_error(s.request("POST", "/api/validate/batch", {"docs": []}), 400, "missing_field")


# ---- errors -------------------------------------------------------------------------------

def test_malformed_json(s):
    body = b'{"text": "abc",\n  "modules": [1,, 2]}'
    e = expect_error(s.request("POST", "/api/validate", body,
                               {"Content-Type": "application/json"}), 400, "invalid_json")
    assert "byte 32 (line 2, column 17)" in e["message"], e
    e = expect_error(s.request("POST", "/api/validate", b'{"text":"a"} trailing',
                               {"Content-Type": "application/json"}), 400, "invalid_json")
    assert "byte 13" in e["message"], e
    expect_error(s.request("POST", "/api/validate", b"", {"Content-Type": "application/json"}),
                 400, "invalid_json")


def test_wrong_types(s):
    post = lambda b: s.request("POST", "/api/validate", b)  # noqa: E731
    expect_error(post({"text": 5}), 400, "invalid_type")
    expect_error(post({"modules": ["fca_uk"]}), 400, "missing_field")
    expect_error(post({"text": "a", "modules": "fca_uk"}), 400, "invalid_type")
    expect_error(post({"text": "a", "modules": [1]}), 400, "invalid_type")
    expect_error(post({"text": "a", "document_type": 7}), 400, "invalid_type")
    expect_error(post({"text": "a", "options": {"pretty": "yes"}}), 400, "invalid_type")
    expect_error(post({"text": "a", "options": {"frobnicate": True}}), 400, "invalid_option")
    expect_error(post(["text"]), 400, "invalid_type")
    e = expect_error(post({"text": "a", "modules": ["fca_uk", "nope"]}), 400, "unknown_module")
    assert all(m in e["message"] for m in s.modules), e
    e = expect_error(post({"text": "a", "document_type": "poem"}), 400, "unknown_document_type")
    assert "privacy_notice" in e["message"]


def test_invalid_utf8(s):
    e = expect_error(s.request("POST", "/api/validate", b'{"text": "ab\xff\xfecd"}',
                               {"Content-Type": "application/json"}), 400, "invalid_utf8")
    assert "byte 2" in e["message"], e
    expect_error(s.request("POST", "/api/validate", b"abc\x00def",
                           {"Content-Type": "text/plain"}), 400, "invalid_utf8")


def test_status_codes(s):
    expect_error(s.request("POST", "/api/validate", b"<x/>", {"Content-Type": "application/xml"}),
                 415, "unsupported_media_type")
    st, hd, _ = s.request("GET", "/api/validate")
    expect_error((st, hd, _), 405, "method_not_allowed")
    assert hd["allow"].startswith("POST"), hd
    expect_error(s.request("DELETE", "/api/modules"), 405)
    expect_error(s.request("GET", "/api/nope"), 404, "not_found")
    expect_error(s.request("POST", "/metrics", b""), 405)


def test_body_too_large(s):
    big = {"text": "a" * (300 * 1024)}
    expect_error(s.request("POST", "/api/validate", big), 413, "payload_too_large")
    # Chunked upload (no Content-Length): rejected after 256 KiB, not buffered without bound.
    c = s.conn()
    c.putrequest("POST", "/api/validate")
    c.putheader("Content-Type", "text/plain")
    c.putheader("Transfer-Encoding", "chunked")
    c.endheaders()
    chunk = b"a" * 65536
    for _ in range(6):
        c.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    c.send(b"0\r\n\r\n")
    r = c.getresponse()
    expect_error((r.status, dict(r.getheaders()), r.read()), 413, "payload_too_large")
    c.close()
    # Exactly under the limit still works.
    validate(s, ("b " * 60000).encode(), headers={"Content-Type": "text/plain"})


def test_url_and_header_limits(s):
    st, _, _ = s.request("GET", "/api/modules?x=" + "a" * 20000)
    assert st == 414, st
    st, _, _ = s.request("GET", "/api/modules", headers={"X-Big": "b" * 20000})
    assert st in (413, 431), st  # libmicrohttpd answers 431 (older releases 413)
    s.json("GET", "/api/health")  # and the server is fine


def test_cors_off_by_default(s):
    st, hd, _ = s.request("GET", "/api/modules", headers={"Origin": "https://x.example"})
    assert st == 200 and "access-control-allow-origin" not in hd
    st, _, _ = s.request("OPTIONS", "/api/validate", headers={"Origin": "https://x.example"})
    assert st == 405


def test_keep_alive(s):
    c = s.conn()
    socks = set()
    for _ in range(5):
        st, hd, _ = s.request("GET", "/api/health", conn=c)
        assert st == 200 and hd.get("connection", "").lower() != "close"
        socks.add(id(c.sock))
    assert len(socks) == 1, "connection was not reused"
    c.close()


def test_slow_client_dropped(s):
    """A client that sends half a request and stalls is dropped after conn_timeout (2 s); the
    server keeps answering others meanwhile."""
    slow = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(20)]
    for k in slow:
        k.sendall(b"POST /api/validate HTTP/1.1\r\nHost: x\r\nContent-Le")
    s.json("GET", "/api/health")
    t0 = time.time()
    for k in slow:
        k.settimeout(10)
        assert k.recv(100) == b"", "slow client was answered instead of dropped"
        k.close()
    assert time.time() - t0 < 8, "slow clients held for %.1fs" % (time.time() - t0)


# ---- cache, stats, metrics, audit --------------------------------------------------------

def test_cache_stats_and_clear(s):
    st, _ = s.json("GET", "/api/cache/stats")
    assert st["enabled"] and st["hits"] >= 1 and st["entries"] >= 1 and 0 < st["hit_rate"] < 1
    d, _ = s.json("POST", "/api/cache/clear")
    assert d["cleared"] == st["entries"] and d["generation"] == 1, d
    st2, _ = s.json("GET", "/api/cache/stats")
    assert st2["generation"] == 1 and st2["breaker"] == "closed" and st2["health"] == "ok"
    _, hd = validate(s, {"text": DOC})  # cached before the clear: a miss now
    assert hd["x-loki-cache"] == "miss"
    _, hd = validate(s, {"text": DOC})
    assert hd["x-loki-cache"] == "hit"
    expect_error(s.request("GET", "/api/cache/clear"), 405)


def test_stats(s):
    d, _ = s.json("GET", "/api/stats")
    assert d["checks"] >= 1 and d["mean_ms"]["total"] > 0 and d["requests"] > 10
    assert sum(d["validations"].values()) == s.sent_ok, (d["validations"], s.sent_ok)


def test_metrics_parsed(s):
    st, hd, data = s.request("GET", "/metrics")
    assert st == 200 and hd["content-type"].startswith("text/plain; version=0.0.4"), hd
    fams = parse_prometheus(data.decode())
    for name, fam in fams.items():
        assert name.startswith("loki_"), name
        if fam["type"] == "counter":
            assert name.endswith("_total"), name
        if fam["type"] == "histogram":
            # Durations are in seconds; the one count histogram is OTel's token usage.
            assert name.endswith("_seconds") or name == "loki_gen_ai_client_token_usage", name
    assert sum(metric(fams, "loki_validations_total", risk=r)
               for r in ("LOW", "MEDIUM", "HIGH", "CRITICAL")) == s.sent_ok
    assert metric(fams, "loki_http_requests_total", route="/api/validate", code="200") >= 5
    assert metric(fams, "loki_http_requests_total", route="/api/validate", code="400") >= 10
    assert metric(fams, "loki_http_requests_total", route="other", code="404") >= 1
    assert metric(fams, "loki_http_request_duration_seconds",
                  "loki_http_request_duration_seconds_count", route="/api/validate") >= 15
    assert metric(fams, "loki_cache_hits_total") >= 1
    assert metric(fams, "loki_check_duration_seconds", "loki_check_duration_seconds_count") >= 1
    assert metric(fams, "loki_modules_loaded") == len(s.modules)


def test_audit_rows(s):
    d, _ = s.json("GET", "/api/audit/stats")  # flushes the queue first
    assert d["rows"] == s.sent_ok and d["errors"] == 0 and d["cache_hit_rows"] >= 1, d
    db = sqlite3.connect(s.audit_db)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        cols = [r[1] for r in db.execute("PRAGMA table_info(audit)")]
        for c in ("ts", "client", "doc_sha256", "doc_bytes", "doc_type", "modules",
                  "overall_risk", "n_pass", "n_fail", "n_warning", "n_na", "n_error",
                  "ruleset_fingerprint", "engine_version", "cache_hit", "duration_ms"):
            assert c in cols, c
        rows = db.execute("SELECT doc_sha256, doc_bytes, client, cache_hit, engine_version,"
                          " overall_risk, modules FROM audit WHERE doc_sha256 = ?",
                          (hashlib.sha256(DOC.encode()).hexdigest(),)).fetchall()
        assert len(rows) >= 3 and all(r[1] == len(DOC) for r in rows), rows
        assert rows[0][2] == "ip:127.0.0.1" and rows[0][4]
        assert {r[3] for r in rows} == {0, 1}
        fca = db.execute("SELECT overall_risk, n_fail FROM audit WHERE doc_type ="
                         " 'financial_promotion'").fetchall()
        assert fca and all(r[0] == s.fca_risk and r[1] >= 1 for r in fca), fca
    finally:
        db.close()
    for path in (s.audit_db, s.audit_db + "-wal", s.access_log):
        if os.path.exists(path):
            with open(path, "rb") as f:
                assert MARKER.encode() not in f.read(), "document text leaked into " + path


def test_analytics(s):
    ov, _ = s.json("GET", "/api/analytics/overview")
    assert ov["total_validations"] == s.sent_ok and ov["clients"] == 1
    assert sum(ov["by_risk"].values()) == s.sent_ok and ov["by_document_type"]["unknown"] >= 1
    tr, _ = s.json("GET", "/api/analytics/trends?interval=minute&buckets=5")
    assert len(tr["buckets"]) == 5 and sum(b["validations"] for b in tr["buckets"]) == s.sent_ok
    expect_error(s.request("GET", "/api/analytics/trends?interval=fortnight"), 400)
    expect_error(s.request("GET", "/api/analytics/trends?buckets=0"), 400)
    mo, _ = s.json("GET", "/api/analytics/modules")
    fca = [m for m in mo["modules"] if m["module"] == "fca_uk"][0]
    assert fca["validations"] >= 4 and fca["fails"] >= 1 and fca["documents_failing"] >= 1


def test_access_log(s):
    with open(s.access_log) as f:
        lines = [json.loads(x) for x in f if x.strip()]
    assert len(lines) > 20
    for x in lines:
        assert {"ts", "ip", "client", "method", "path", "status", "bytes", "ms"} <= set(x), x
    assert any(x["status"] == 413 for x in lines) and any(x.get("cache") == "hit" for x in lines)


TESTS = [test_health, test_modules_and_gates, test_validate_json_and_cache,
         test_validate_type_and_options, test_validate_text_plain,
         test_validate_document_loki_shape, test_batch, test_malformed_json, test_wrong_types,
         test_invalid_utf8, test_status_codes, test_body_too_large, test_url_and_header_limits,
         test_cors_off_by_default, test_keep_alive, test_slow_client_dropped,
         test_cache_stats_and_clear, test_stats, test_metrics_parsed, test_audit_rows,
         test_analytics, test_access_log]

if __name__ == "__main__":
    sys.exit(run(TESTS, setup, teardown))
