#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end tests of the interceptor (docs/interceptor.md) through real `loki serve`
processes and tests/e2e/fake_provider.py: verdicts for both APIs, streaming and not; retries,
Retry-After, the circuit breaker, truncation, rate limits, health, metrics and audit rows.
Usage: proxy_api.py LOKI_BINARY TMPDIR"""
import json
import sqlite3
import time

from proxy_lib import (ALLOWED, BLOCKED, FILLER, FLAGGED, Fake, call, error_event, loki,
                       loki_event, sse, stream_text, terminated)
from server_lib import binary_and_tmp, metric, parse_prometheus, run

BIN, TMP = binary_and_tmp()
APIS = ("anthropic", "openai")


def answer_text(api, body):
    if api == "anthropic":
        return "".join(b["text"] for b in body["content"] if b["type"] == "text")
    return body["choices"][0]["message"]["content"]


# ---- verdicts, not streaming ---------------------------------------------------------------

def test_allowed_both_apis(c):
    for api in APIS:
        c.fake.script({"text": ALLOWED})
        st, hd, data = call(c.main, api)
        assert st == 200, (api, st, data)
        body = json.loads(data)
        assert answer_text(api, body) == ALLOWED
        assert hd["x-loki-verdict"] == "allowed" and hd["x-loki-risk"] == "LOW", hd
        lk = body["loki"]
        assert lk["verdict"] == "allowed" and lk["risk"] == "LOW" and lk["findings"] == []
        assert len(lk["document_hash"]) == 64 and len(lk["ruleset_fingerprint"]) == 64
        if api == "anthropic":
            assert body["type"] == "message" and body["usage"]["output_tokens"] > 0
        else:
            assert body["object"] == "chat.completion"


def test_flagged_both_apis(c):
    for api in APIS:
        c.fake.script({"text": FLAGGED})
        st, hd, data = call(c.main, api)
        assert st == 200, (api, st, data)
        body = json.loads(data)
        assert answer_text(api, body) == FLAGGED
        assert hd["x-loki-verdict"] == "flagged", hd
        f = body["loki"]["findings"]
        assert f and f[0]["status"] == "WARNING" and f[0]["spans"], f


def test_blocked_both_apis(c):
    for api in APIS:
        c.fake.script({"text": BLOCKED})
        st, hd, data = call(c.main, api)
        assert st == 422, (api, st, data)
        assert hd["x-loki-verdict"] == "blocked" and hd["x-loki-risk"] == "CRITICAL", hd
        body = json.loads(data)
        if api == "anthropic":
            assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
        else:
            assert body["error"]["code"] == "loki_blocked" and body["error"]["param"] is None
        assert "LOKI blocked this answer" in body["error"]["message"], body
        fails = [f for f in body["loki"]["findings"] if f["status"] == "FAIL"]
        assert fails and fails[0]["severity"] == "critical" and fails[0]["spans"], fails
        assert fails[0]["spans"][0]["text"] == "guaranteed returns"


def test_request_forwarded_unchanged_key_not_leaked(c):
    c.fake.script({"text": ALLOWED})
    body = {"model": "claude-test", "max_tokens": 9, "temperature": 0.25, "metadata": {"x": 1},
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hey"}]}]}
    st, _, _ = c.main.request("POST", "/v1/messages", body, {"anthropic-version": "2023-06-01",
                                                              "anthropic-beta": "tools-x"})
    assert st == 200
    got = c.fake.get("/_requests")[-1]
    assert got["body"] == body, got["body"]
    h = {k.lower(): v for k, v in got["headers"].items()}
    assert h["x-api-key"] == "sk-ant-test-secret-key" and h["anthropic-beta"] == "tools-x"
    assert h["anthropic-version"] == "2023-06-01"
    c.fake.script({"text": ALLOWED})
    call(c.main, "openai")
    h = {k.lower(): v for k, v in c.fake.get("/_requests")[-1]["headers"].items()}
    assert h["authorization"] == "Bearer sk-test-secret-key"


def test_upstream_error_relayed(c):
    c.fake.script({"status": 400, "error_message": "max_tokens is required"})
    st, _, data = call(c.main, "anthropic")
    assert st == 400 and json.loads(data)["error"]["message"] == "max_tokens is required"


# ---- streaming -----------------------------------------------------------------------------

def test_stream_allowed_both_apis(c):
    long = (FILLER * 6)[:700]
    for api in APIS:
        c.fake.script({"text": long, "chunks": 40})
        st, hd, data = call(c.main, api, stream=True)
        assert st == 200 and hd["content-type"].startswith("text/event-stream"), (st, hd)
        ev = sse(data)
        assert stream_text(api, ev) == long
        assert terminated(api, ev) and error_event(api, ev) is None
        lk = loki_event(ev)
        assert lk["verdict"] == "allowed" and lk["stream"]["end"] == "complete", lk
        assert lk["stream"]["checks"] >= 2 and lk["stream"]["relayed_text_bytes"] == len(long)
        # The verdict event comes after the provider's terminator.
        names = [e for e, d in ev]
        if api == "anthropic":
            assert names.index("message_stop") < len(names) - 1
        else:
            assert [d for _, d in ev].index("[DONE]") == len(ev) - 2


def test_stream_flagged(c):
    for api in APIS:
        c.fake.script({"text": FLAGGED})
        st, _, data = call(c.main, api, stream=True)
        ev = sse(data)
        assert st == 200 and stream_text(api, ev) == FLAGGED and terminated(api, ev)
        assert loki_event(ev)["verdict"] == "flagged"


def test_stream_blocked_midway_before_text_reaches_client(c):
    # The violation sits early in a long answer: it must be caught before its text is relayed,
    # the stream ended by a native error event, no terminator.
    text = "Intro. " + BLOCKED + " " + FILLER * 5
    for api in APIS:
        c.fake.script({"text": text, "chunks": 60, "chunk_delay_ms": 2})
        st, _, data = call(c.main, api, stream=True)
        assert st == 200
        ev = sse(data)
        got = stream_text(api, ev)
        assert "guaranteed returns" not in got, got
        assert not terminated(api, ev), ev[-3:]
        err = error_event(api, ev)
        assert err and "LOKI blocked this answer" in err["message"], ev[-3:]
        lk = loki_event(ev)
        assert lk["verdict"] == "blocked" and lk["stream"]["end"] == "blocked", lk
        assert lk["stream"]["text_bytes"] < len(text)  # stopped before the upstream finished


def test_stream_blocked_at_end(c):
    # Short answer: everything is inside the window; the final check blocks it.
    for api in APIS:
        c.fake.script({"text": BLOCKED})
        st, _, data = call(c.main, api, stream=True)
        ev = sse(data)
        assert stream_text(api, ev) == "" and not terminated(api, ev)
        assert "LOKI blocked" in error_event(api, ev)["message"]
        assert loki_event(ev)["verdict"] == "blocked"


def test_stream_truncated_reported(c):
    for api in APIS:
        c.fake.script({"text": FILLER, "truncate": True})
        st, _, data = call(c.main, api, stream=True)
        ev = sse(data)
        assert st == 200 and not terminated(api, ev)
        err = error_event(api, ev)
        assert err and "ended early" in err["message"], ev[-3:]
        assert loki_event(ev)["stream"]["end"] == "truncated"


def test_stream_upstream_error_event(c):
    c.fake.script({"text": ALLOWED, "error_event": True, "error_message": "overloaded now"})
    st, _, data = call(c.main, "anthropic", stream=True)
    ev = sse(data)
    err = error_event("anthropic", ev)
    assert err and "overloaded now" in err["message"] and not terminated("anthropic", ev)


def test_stream_error_before_first_event_is_plain_error(c):
    c.fake.script({"status": 401, "error_message": "bad key"}, reset=True)
    st, hd, data = call(c.main, "openai", stream=True)
    assert st == 401 and json.loads(data)["error"]["message"] == "bad key"


# ---- resilience ----------------------------------------------------------------------------

def test_5xx_retried(c):
    c.fake.script({"status": 500}, {"status": 503}, {"text": ALLOWED})
    st, _, data = call(c.retry, "openai")
    assert st == 200 and c.fake.requests() == 3, (st, data, c.fake.requests())


def test_reset_and_truncated_json_retried(c):
    c.fake.script({"reset": True}, {"truncate": True}, {"text": ALLOWED})
    st, _, _ = call(c.retry, "anthropic")
    assert st == 200 and c.fake.requests() == 3


def test_429_retry_after_honoured(c):
    c.fake.script({"status": 429, "retry_after": "1"}, {"text": ALLOWED})
    t0 = time.time()
    st, _, _ = call(c.retry, "anthropic")
    took = time.time() - t0
    assert st == 200 and c.fake.requests() == 2 and took >= 0.95, (st, took)


def test_429_relayed_with_retry_after_when_attempts_run_out(c):
    c.fake.script({"status": 429, "retry_after": "1", "repeat": 3})
    st, hd, data = call(c.retry, "openai")
    assert st == 429 and hd.get("retry-after") == "1", (st, hd)
    assert json.loads(data)["error"]["type"] == "rate_limit_error"
    assert c.fake.requests() == 3


def test_no_retry_after_relayed_bytes(c):
    c.fake.script({"text": FILLER * 4, "chunks": 30, "reset_after_events": 12},
                  {"text": ALLOWED})
    for api in ("anthropic",):
        st, _, data = call(c.retry, api, stream=True)
        ev = sse(data)
        assert st == 200 and not terminated(api, ev)
        assert error_event(api, ev) is not None
        assert c.fake.requests() == 1, c.fake.requests()
        assert c.fake.get("/_stats")["queued"] == 1  # the second behaviour was never used


def test_breaker_opens_rejects_fast_half_opens_and_closes(c):
    s = c.brk
    # min_calls 4, failure rate 0.5, consecutive 100, open 1500 ms, one attempt per call.
    c.fake.script({"text": ALLOWED}, {"status": 500}, {"text": ALLOWED}, {"status": 502})
    codes = [call(s, "openai")[0] for _ in range(4)]
    assert codes == [200, 500, 200, 502], codes
    h, _ = s.json("GET", "/api/health")
    assert h["providers"]["openai"]["breaker"]["state"] == "open", h["providers"]
    n = c.fake.requests()
    t0 = time.time()
    st, hd, data = call(s, "openai")
    took = time.time() - t0
    assert st == 503 and json.loads(data)["error"]["code"] == "circuit_open", (st, data)
    assert int(hd["retry-after"]) >= 1 and c.fake.requests() == n, hd
    assert took < 0.5, took
    time.sleep(1.6)
    c.fake.script({"text": ALLOWED}, reset=False)
    st, _, _ = call(s, "openai")  # the half-open probe
    assert st == 200
    h, _ = s.json("GET", "/api/health")
    b = h["providers"]["openai"]["breaker"]
    assert b["state"] == "closed" and b["opened"] == 1 and b["half_opened"] == 1 and \
        b["closed"] == 1, b
    fams = parse_prometheus(s.request("GET", "/metrics")[2].decode())
    assert metric(fams, "loki_provider_breaker_transitions_total", provider="openai",
                  to="open") == 1
    assert metric(fams, "loki_provider_rejected_total", provider="openai",
                  reason="breaker_open") >= 1


def test_breaker_failed_probe_reopens(c):
    s = c.brk
    c.fake.script({"status": 500, "repeat": 4})
    for _ in range(4):
        call(s, "anthropic")
    assert call(s, "anthropic")[0] == 503
    time.sleep(1.6)
    c.fake.script({"status": 500}, reset=False)
    assert call(s, "anthropic")[0] == 500  # the probe fails
    assert call(s, "anthropic")[0] == 503  # open again
    h, _ = s.json("GET", "/api/health")
    assert h["providers"]["anthropic"]["breaker"]["state"] == "open"


def test_client_rate_limit_holds(c):
    s = c.rl
    c.fake.script({"text": ALLOWED, "repeat": 10})
    codes = [call(s, "openai") for _ in range(4)]
    st = [x[0] for x in codes]
    assert st[:2] == [200, 200] and 429 in st[2:], st
    limited = next(x for x in codes if x[0] == 429)
    assert int(limited[1]["retry-after"]) >= 1


def test_provider_rate_limit_holds(c):
    s = c.prl
    c.fake.script({"text": ALLOWED, "repeat": 10})
    st = [call(s, "anthropic")[0] for _ in range(3)]
    assert st == [200, 200, 429], st
    st, hd, data = call(s, "anthropic")
    body = json.loads(data)
    assert st == 429 and body["error"]["type"] == "rate_limit_error" and "retry-after" in hd
    assert c.fake.requests() == 2


def test_prompt_validation(c):
    c.fake.script({"text": ALLOWED})
    assert call(c.pv, "openai", text="What is a pension?")[0] == 200
    c.fake.script()
    st, hd, data = c.pv.request("POST", "/v1/messages", {
        "model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": BLOCKED}]})
    # Nothing reaches the provider.
    assert st == 422 and "prompt" in json.loads(data)["error"]["message"], (st, data)
    assert c.fake.requests() == 0 and hd["x-loki-verdict"] == "blocked"


# ---- observability -------------------------------------------------------------------------

def test_metrics_and_health(c):
    c.fake.script({"text": ALLOWED})
    call(c.main, "anthropic")
    text = c.main.request("GET", "/metrics")[2].decode()
    fams = parse_prometheus(text)
    assert metric(fams, "loki_proxy_requests_total", gen_ai_system="anthropic", stream="false",
                  result="ok") >= 1
    assert metric(fams, "loki_proxy_verdicts_total", gen_ai_system="anthropic",
                  verdict="blocked") >= 1
    assert metric(fams, "loki_gen_ai_client_token_usage", "loki_gen_ai_client_token_usage_count",
                  gen_ai_system="anthropic", gen_ai_token_type="output") >= 1
    for fam in ("loki_gen_ai_client_operation_duration_seconds",
                "loki_gen_ai_server_time_to_first_token_seconds", "loki_provider_retries_total",
                "loki_provider_breaker_state"):
        assert fam in fams, fam
    assert metric(fams, "loki_http_requests_total", route="/v1/messages", code="422") >= 1
    assert "sk-ant-test-secret-key" not in text
    h, _ = c.main.json("GET", "/api/health?detailed=true")
    p = h["providers"]["anthropic"]
    assert p["breaker"]["state"] == "closed" and p["calls"] >= 1 and p["output_tokens"] > 0
    assert "sk-" not in json.dumps(h)


def test_audit_rows(c):
    st, _, _ = c.main.request("GET", "/api/health")  # let the writer catch up
    time.sleep(0.5)
    db = sqlite3.connect(c.main.audit_db)
    rows = db.execute("SELECT route, overall_risk, doc_type FROM audit").fetchall()
    routes = {r[0] for r in rows}
    assert "/v1/messages:allowed" in routes and "/v1/chat/completions:blocked" in routes, routes
    assert all(r[2] == "ai_generated" for r in rows if r[0].startswith("/v1/"))
    logs = open(c.main.access_log).read() + c.main.stderr()
    assert "sk-ant-test-secret-key" not in logs and "sk-test-secret-key" not in logs


TESTS = [test_allowed_both_apis, test_flagged_both_apis, test_blocked_both_apis,
         test_request_forwarded_unchanged_key_not_leaked, test_upstream_error_relayed,
         test_stream_allowed_both_apis, test_stream_flagged,
         test_stream_blocked_midway_before_text_reaches_client, test_stream_blocked_at_end,
         test_stream_truncated_reported, test_stream_upstream_error_event,
         test_stream_error_before_first_event_is_plain_error, test_5xx_retried,
         test_reset_and_truncated_json_retried, test_429_retry_after_honoured,
         test_429_relayed_with_retry_after_when_attempts_run_out, test_no_retry_after_relayed_bytes,
         test_breaker_opens_rejects_fast_half_opens_and_closes, test_breaker_failed_probe_reopens,
         test_client_rate_limit_holds, test_provider_rate_limit_holds, test_prompt_validation,
         test_metrics_and_health, test_audit_rows]


class Ctx:
    pass


def setup():
    c = Ctx()
    c.fake = Fake(TMP)
    c.main = loki(BIN, TMP, c.fake, "main", "provider_max_attempts = 1\n")
    c.retry = loki(BIN, TMP, c.fake, "retry", "provider_max_attempts = 3\n"
                   "provider_retry_base_ms = 20\nprovider_breaker_consecutive = 100\n")
    c.brk = loki(BIN, TMP, c.fake, "brk", "provider_max_attempts = 1\n"
                 "provider_breaker_min_calls = 4\nprovider_breaker_failure_rate = 0.5\n"
                 "provider_breaker_consecutive = 100\nprovider_breaker_open_ms = 1500\n")
    c.rl = loki(BIN, TMP, c.fake, "rl", "rate_limit = 0.2\nrate_burst = 2\n")
    c.pv = loki(BIN, TMP, c.fake, "pv", "proxy_validate_prompt = true\n")
    c.prl = loki(BIN, TMP, c.fake, "prl", "provider_rpm = 2\nprovider_max_attempts = 1\n")
    return c


def teardown(c):
    if not c:
        return
    for s in (getattr(c, n, None) for n in ("main", "retry", "brk", "rl", "prl", "pv")):
        if s:
            s.stop()
    c.fake.stop()


if __name__ == "__main__":
    raise SystemExit(run(TESTS, setup, teardown))
