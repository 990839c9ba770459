/* SPDX-License-Identifier: MIT */
/*
 * loki_provider_call() against tests/e2e/fake_provider.py, which this test starts on a free
 * port and scripts per request: success for each wire format, 429 + Retry-After honoured,
 * 5xx retried, breaker opening and rejecting fast, fallback, no retry after relayed bytes,
 * truncated and cut streams, resets, timeouts, local rate limits, connection reuse. Time runs
 * on a virtual clock that the sleep hook advances, so backoffs cost nothing.
 * With LOKI_PROV_BENCH=N it also measures the latency loki_provider_call adds over a raw
 * libcurl call for a 2 KB answer (N calls each) and prints p50/p99.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "loki/providers.h"

static pid_t fake_pid;
static int fake_port;
static char base_url[64];
static loki_http *http;

/* ---- the fake provider process ---- */

static int start_fake(void)
{
    const char *script = getenv("LOKI_FAKE_PROVIDER");
    if (!script || !*script)
        script = "tests/e2e/fake_provider.py";
    int fds[2];
    if (pipe(fds))
        return -1;
    fake_pid = fork();
    if (fake_pid < 0)
        return -1;
    if (fake_pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execlp("python3", "python3", script, "--port", "0", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[256] = "";
    if (!f || !fgets(line, sizeof line, f))
        return -1;
    fclose(f);
    const char *colon = strrchr(line, ':');
    fake_port = colon ? atoi(colon + 1) : 0;
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d", fake_port);
    return fake_port > 0 ? 0 : -1;
}

static void stop_fake(void)
{
    if (fake_pid > 0) {
        kill(fake_pid, SIGTERM);
        waitpid(fake_pid, NULL, 0);
    }
}

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    char *out = ud;
    if (out) {
        size_t have = strlen(out), k = s * n;
        if (have + k < 4096) {
            memcpy(out + have, p, k);
            out[have + k] = '\0';
        }
    }
    return s * n;
}

/* Raw libcurl request to the fake's control endpoints; returns the HTTP status. */
static long control(const char *method, const char *path, const char *body, char *out)
{
    char url[128];
    snprintf(url, sizeof url, "%s%s", base_url, path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (!strcmp(method, "POST"))
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "{}");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    if (out)
        out[0] = '\0';
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status;
}

static void script(const char *queue_json)
{
    char body[2048];
    snprintf(body, sizeof body, "{\"reset\":true,\"queue\":%s}", queue_json);
    assert_int_equal(control("POST", "/_script", body, NULL), 200);
}

static int upstream_requests(void)
{
    char out[4096];
    assert_int_equal(control("GET", "/_stats", NULL, out), 200);
    const char *p = strstr(out, "\"requests\": ");
    return p ? atoi(p + 12) : -1;
}

/* ---- virtual time ---- */

static int64_t vclock = 1000000;
static int64_t sleeps[16];
static int n_sleeps;

static int64_t v_now(void *ud)
{
    (void)ud;
    return vclock;
}

static void v_sleep(void *ud, int64_t ms)
{
    (void)ud;
    if (n_sleeps < 16)
        sleeps[n_sleeps++] = ms;
    vclock += ms;
}

static double v_rand(void *ud)
{
    (void)ud;
    return 0.5;
}

static void config(loki_provider_config *c, loki_provider_kind k)
{
    loki_provider_config_default(c, k);
    c->base_url = base_url;
    c->api_key = "sk-test-SECRET-KEY";
    c->model = "fake-model";
    c->timeout_ms = 5000;
    c->connect_timeout_ms = 1000;
    c->hooks = (loki_provider_hooks){.now_ms = v_now, .sleep_ms = v_sleep, .rand01 = v_rand};
}

static loki_provider *make(loki_provider_config *c)
{
    loki_provider *p;
    loki_error err;
    assert_int_equal(loki_provider_create(c, http, &p, &err), LOKI_OK);
    n_sleeps = 0;
    return p;
}

static loki_status call(loki_provider *p, const char *body, loki_provider_result *r,
                        loki_error *err)
{
    loki_provider_request rq = {.body = body, .body_len = strlen(body)};
    loki_provider_result_init(r);
    return loki_provider_call(p, &rq, r, err);
}

static const char *const msg_body =
    "{\"model\":\"claude-test\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\","
    "\"content\":\"hi\"}]}";
static const char *const msg_stream_body =
    "{\"model\":\"claude-test\",\"stream\":true,\"messages\":[{\"role\":\"user\","
    "\"content\":\"hi\"}]}";

/* ---- tests ---- */

static void anthropic_success(void **st)
{
    (void)st;
    script("[{\"text\":\"All good.\"}]");
    loki_provider_config c;
    config(&c, LOKI_PROVIDER_ANTHROPIC);
    loki_provider *p = make(&c);
    loki_provider_result r;
    loki_error err;
    assert_int_equal(call(p, msg_body, &r, &err), LOKI_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.text, "All good.");
    assert_string_equal(r.model, "claude-test");
    assert_true(r.input_tokens > 0 && r.output_tokens > 0);
    assert_int_equal(r.attempts, 1);
    assert_non_null(strstr(r.body, "\"content\""));
    loki_provider_result_release(&r);
    /* What the upstream saw: our key, the version header, the body unchanged. */
    char out[4096];
    assert_int_equal(control("GET", "/_requests", NULL, out), 200);
    assert_non_null(strstr(out, "\"x-api-key\": \"sk-test-SECRET-KEY\""));
    assert_non_null(strstr(out, "\"anthropic-version\": \"2023-06-01\""));
    assert_non_null(strstr(out, "\"path\": \"/v1/messages\""));
    assert_non_null(strstr(out, "\"max_tokens\": 64"));
    loki_provider_destroy(p);
}

static void openai_and_gemini_success(void **st)
{
    (void)st;
    script("[{\"text\":\"From OpenAI.\"},{\"text\":\"From Gemini.\"}]");
    loki_provider_config c;
    config(&c, LOKI_PROVIDER_OPENAI);
    c.base_url = NULL; /* overridden below through the SDK-style /v1 suffix */
    char v1[80];
    snprintf(v1, sizeof v1, "%s/v1/", base_url);
    c.base_url = v1;
    loki_provider *p = make(&c);
    loki_provider_result r;
    assert_int_equal(call(p, "{\"model\":\"gpt-test\",\"messages\":[]}", &r, NULL), LOKI_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.text, "From OpenAI.");
    assert_string_equal(r.stop_reason, "stop");
    loki_provider_result_release(&r);
    loki_provider_destroy(p);

    config(&c, LOKI_PROVIDER_GEMINI);
    c.model = "gemini-test";
    p = make(&c);
    assert_int_equal(call(p, "{\"contents\":[]}", &r, NULL), LOKI_OK);
    assert_string_equal(r.text, "From Gemini.");
    assert_string_equal(r.model, "fake-model");
    loki_provider_result_release(&r);
    loki_provider_destroy(p);

    char out[4096];
    control("GET", "/_requests", NULL, out);
    assert_non_null(strstr(out, "\"Authorization\": \"Bearer sk-test-SECRET-KEY\""));
    assert_non_null(strstr(out, "\"path\": \"/v1/chat/completions\""));
    assert_non_null(strstr(out, "\"path\": \"/v1beta/models/gemini-test:generateContent\""));
    assert_non_null(strstr(out, "\"x-goog-api-key\": \"sk-test-SECRET-KEY\""));

    /* A model name that would change the URL is refused. */
    config(&c, LOKI_PROVIDER_GEMINI);
    c.model = "../x?key=1";
    p = make(&c);
    loki_error err;
    assert_int_equal(call(p, "{}", &r, &err), LOKI_EINVAL);
    loki_provider_result_release(&r);
    loki_provider_destroy(p);
}

static void retry_after_is_honoured(void **st)
{
    (void)st;
    script("[{\"status\":429,\"retry_after\":\"2\"},{\"text\":\"after the wait\"}]");
    loki_provider_config c;
    config(&c, LOKI_PROVIDER_ANTHROPIC);
    loki_provider *p = make(&c);
    loki_provider_result r;
    assert_int_equal(call(p, msg_body, &r, NULL), LOKI_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.attempts, 2);
    assert_string_equal(r.text, "after the wait");
    assert_int_equal(n_sleeps, 1);
    assert_int_equal(sleeps[0], 2000);
    loki_provider_result_release(&r);
    /* 429 does not count against the breaker. */
    loki_breaker_stats bs;
    loki_breaker_stats_get(loki_provider_breaker(p), vclock, &bs);
    assert_int_equal(bs.failures, 0);
    loki_provider_destroy(p);
}

static void server_errors_retried_then_success(void **st)
{
    (void)st;
    script("[{\"status\":503},{\"status\":529},{\"text\":\"third time\"}]");
    loki_provider_config c;
    config(&c, LOKI_PROVIDER_ANTHROPIC);
    loki_provider *p = make(&c);
    loki_provider_result r;
    assert_int_equal(call(p, msg_body, &r, NULL), LOKI_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.attempts, 3);
    assert_string_equal(r.text, "third time");
    /* Full jitter with rand01 = 0.5: half of 200 then half of 400 (+1 for the closed range). */
    assert_int_equal(n_sleeps, 2);
    assert_int_equal(sleeps[0], 100);
    assert_int_equal(sleeps[1], 200);
    loki_provider_result_release(&r);

    /* Exhausted: the last upstream answer is returned as is. */
    script("[{\"status\":503,\"repeat\":3},{\"text\":\"never reached\"}]");
    assert_int_equal(call(p, msg_body, &r, NULL), LOKI_OK);
    assert_int_equal(r.status, 503);
    assert_int_equal(r.attempts, 3);
    assert_non_null(strstr(r.body, "api_error"));
    loki_provider_result_release(&r);

    /* A 400 is the client's problem: no retry. */
    script("[{\"status\":400},{\"text\":\"never reached\"}]");
    assert_int_equal(call(p, msg_body, &r, NULL), LOKI_OK);
    assert_int_equal(r.status, 400);
    assert_int_equal(r.attempts, 1);
    loki_provider_result_release(&r);
    loki_provider_stats s;
    loki_provider_stats_get(p, &s);
    assert_int_equal(s.calls, 3);
    assert_int_equal(s.retries, 4);
    assert_int_equal(s.successes, 1);
    assert_int_equal(s.failures, 1);
    loki_provider_destroy(p);
}

static void resets_and_timeouts(void **st)
{
    (void)st;
    script("[{\"reset\":true},{\"truncate\":true},{\"text\":\"recovered\"}]");
    loki_provider_config c;
    config(&c, LOKI_PROVIDER_OPENAI);
    loki_provider *p = make(&c);
    loki_provider_result r;
    assert_int_equal(call(p, "{\"messages\":[]}", &r, NULL), LOKI_OK);
    /* libcurl itself re-sends once when a reused keep-alive connection turns out dead before
     * any response byte (the stale-connection race), so the reset may cost no attempt of ours;
     * the upstream saw all three requests either way. */
    assert_true(r.attempts == 2 || r.attempts == 3);
    assert_int_equal(upstream_requests(), 3);
    assert_string_equal(r.text, "recovered");
    loki_provider_result_release(&r);
    loki_provider_destroy(p);

    script("[{\"delay_ms\":1500}]");
    config(&c, LOKI_PROVIDER_OPENAI);
    c.timeout_ms = 300;
    c.retry.max_attempts = 1;
    p = make(&c);
    loki_error err;
    assert_int_equal(call(p, "{}", &r, &err), LOKI_ETIMEOUT);
    assert_int_equal(r.status, 0);
    assert_null(strstr(err.message, "SECRET"));
    loki_provider_result_release(&r);
    loki_provider_destroy(p);

    /* Nobody listening. */
    config(&c, LOKI_PROVIDER_OPENAI);
    c.base_url = "http://127.0.0.1:1";
    p = make(&c);
    assert_int_equal(call(p, "{}", &r, &err), LOKI_EIO);
    assert_int_equal(r.attempts, 3);
    assert_null(strstr(err.message, "SECRET"));
    loki_provider_result_release(&r);
    loki_provider_destroy(p);
}

static void breaker_opens_and_rejects_fast(void **st)
{
    (void)st;
    script("[{\"status\":500,\"repeat\":3},{\"text\":\"probe ok\"}]");
    loki_provider_config c;
    config(&c, LOKI_PROVIDER_ANTHROPIC);
    c.retry.max_attempts = 1;
    c.breaker.consecutive_failures = 3;
    c.breaker.open_ms = 5000;
    loki_provider *p = make(&c);
    loki_provider_result r;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(call(p, msg_body, &r, NULL), LOKI_OK);
        assert_int_equal(r.status, 500);
        loki_provider_result_release(&r);
    }
    int before = upstream_requests();
    loki_error err;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(call(p, msg_body, &r, &err), LOKI_ECIRCUIT_OPEN);
        assert_int_equal(r.retry_after_ms, 5000);
        loki_provider_result_release(&r);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
                1000.0 / 1000.0;
    print_message("breaker open: mean time to reject %.2f us (ASan build)\n", us);
    assert_true(us < 1000.0);
    assert_int_equal(upstream_requests(), before);
    /* After open_ms a probe goes through and closes it. */
    vclock += 5000;
    assert_int_equal(call(p, msg_body, &r, NULL), LOKI_OK);
    assert_string_equal(r.text, "probe ok");
    loki_provider_result_release(&r);
    loki_breaker_stats bs;
    loki_breaker_stats_get(loki_provider_breaker(p), vclock, &bs);
    assert_int_equal(bs.state, LOKI_CIRCUIT_CLOSED);
    loki_provider_stats s;
    loki_provider_stats_get(p, &s);
    assert_int_equal(s.rejected_open, 1000);
    loki_provider_destroy(p);
}

static void fallback_serves_while_open(void **st)
{
    (void)st;
    script("[{\"status\":502},{\"text\":\"from the fallback\"}]");
    loki_provider_config c;
    config(&c, LOKI_PROVIDER_OPENAI);
    c.retry.max_attempts = 1;
    c.breaker.consecutive_failures = 1;
    loki_provider *p = make(&c);
    c.name = "openai-fallback";
    loki_provider *fb = make(&c);
    assert_int_equal(loki_provider_set_fallback(p, fb), LOKI_OK);
    loki_provider_config g;
    config(&g, LOKI_PROVIDER_GEMINI);
    loki_provider *other = make(&g);
    assert_int_equal(loki_provider_set_fallback(p, other), LOKI_EINVAL); /* other wire format */
    loki_provider_result r;
    assert_int_equal(call(p, "{}", &r, NULL), LOKI_OK);
    assert_int_equal(r.status, 502);
    loki_provider_result_release(&r);
    assert_int_equal(call(p, "{}", &r, NULL), LOKI_OK);
    assert_int_equal(r.used_fallback, 1);
    assert_string_equal(r.text, "from the fallback");
    loki_provider_result_release(&r);
    loki_provider_destroy(other);
    loki_provider_destroy(fb);
    loki_provider_destroy(p);
}

/* ---- streaming ---- */

typedef struct relay {
    char text[8192];
    size_t len;
    size_t raw;
    int events, done, abort_after;
} relay;

static int on_event(void *ud, const loki_sse_event *ev, const loki_stream_delta *d)
{
    (void)ev;
    relay *x = ud;
    x->events++;
    if (d->text && x->len + d->text_len < sizeof x->text) {
        memcpy(x->text + x->len, d->text, d->text_len);
        x->len += d->text_len;
        x->text[x->len] = '\0';
    }
    x->done |= d->done;
    return x->abort_after && x->events >= x->abort_after;
}

static int on_data(void *ud, const char *p, size_t n)
{
    (void)p;
    ((relay *)ud)->raw += n;
    return 0;
}

static loki_status stream_call(loki_provider *p, const char *body, relay *x,
                               loki_provider_result *r, loki_error *err)
{
    memset(x, 0, sizeof *x);
    loki_provider_request rq = {.body = body,
                                .body_len = strlen(body),
                                .stream = 1,
                                .on_event = on_event,
                                .on_data = on_data,
                                .ud = x};
    loki_provider_result_init(r);
    return loki_provider_call(p, &rq, r, err);
}

static void streams_relay_deltas(void **st)
{
    (void)st;
    script(
        "[{\"text\":\"Streaming answer in pieces.\",\"chunks\":5},"
        "{\"text\":\"OpenAI pieces.\",\"chunks\":3},{\"text\":\"Gemini pieces.\",\"chunks\":3}]");
    loki_provider_config c;
    config(&c, LOKI_PROVIDER_ANTHROPIC);
    loki_provider *p = make(&c);
    relay x;
    loki_provider_result r;
    assert_int_equal(stream_call(p, msg_stream_body, &x, &r, NULL), LOKI_OK);
    assert_string_equal(x.text, "Streaming answer in pieces.");
    assert_string_equal(r.text, "Streaming answer in pieces.");
    assert_true(x.done && r.stream_complete && r.streamed && r.bytes_relayed);
    assert_true(x.raw > 0);
    assert_true(r.input_tokens > 0);
    loki_provider_result_release(&r);
    loki_provider_destroy(p);

    config(&c, LOKI_PROVIDER_OPENAI);
    p = make(&c);
    assert_int_equal(stream_call(p, "{\"stream\":true,\"stream_options\":{\"include_usage\":true}}",
                                 &x, &r, NULL),
                     LOKI_OK);
    assert_string_equal(x.text, "OpenAI pieces.");
    assert_true(r.output_tokens > 0);
    loki_provider_result_release(&r);
    loki_provider_destroy(p);

    config(&c, LOKI_PROVIDER_GEMINI);
    p = make(&c);
    assert_int_equal(stream_call(p, "{}", &x, &r, NULL), LOKI_OK);
    assert_string_equal(x.text, "Gemini pieces.");
    assert_string_equal(r.stop_reason, "STOP");
    loki_provider_result_release(&r);
    loki_provider_destroy(p);
}

static void no_retry_after_relayed_bytes(void **st)
{
    (void)st;
    script("[{\"reset_after_events\":4,\"text\":\"cut in the middle of things\"},"
           "{\"text\":\"a second answer must not follow\"}]");
    loki_provider_config c;
    config(&c, LOKI_PROVIDER_ANTHROPIC);
    loki_provider *p = make(&c);
    relay x;
    loki_provider_result r;
    loki_error err;
    assert_int_equal(stream_call(p, msg_stream_body, &x, &r, &err), LOKI_EIO);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(r.bytes_relayed, 1);
    assert_int_equal(r.stream_complete, 0);
    assert_non_null(strstr(err.message, "truncated"));
    assert_int_equal(upstream_requests(), 1);
    loki_provider_result_release(&r);
    loki_provider_destroy(p);
}

static void truncated_stream_reported(void **st)
{
    (void)st;
    /* Clean HTTP end but no message_stop / [DONE]. */
    script("[{\"truncate\":true},{\"truncate\":true}]");
    loki_provider_config c;
    config(&c, LOKI_PROVIDER_ANTHROPIC);
    loki_provider *p = make(&c);
    relay x;
    loki_provider_result r;
    loki_error err;
    assert_int_equal(stream_call(p, msg_stream_body, &x, &r, &err), LOKI_EIO);
    assert_int_equal(r.stream_complete, 0);
    assert_int_equal(x.done, 0);
    assert_true(x.len > 0);
    loki_provider_result_release(&r);
    loki_provider_destroy(p);
    config(&c, LOKI_PROVIDER_OPENAI);
    p = make(&c);
    assert_int_equal(stream_call(p, "{\"stream\":true}", &x, &r, &err), LOKI_EIO);
    assert_int_equal(r.stream_complete, 0);
    loki_provider_result_release(&r);

    /* Without callbacks nothing was relayed, so a cut stream may be retried. */
    script("[{\"truncate\":true},{\"text\":\"whole\"}]");
    loki_provider_request rq = {.body = "{\"stream\":true}", .body_len = 15, .stream = 1};
    loki_provider_result_init(&r);
    assert_int_equal(loki_provider_call(p, &rq, &r, NULL), LOKI_OK);
    assert_int_equal(r.attempts, 2);
    assert_string_equal(r.text, "whole");
    loki_provider_result_release(&r);

    /* An error event mid-stream. */
    script("[{\"error_event\":true,\"error_message\":\"upstream overloaded\"}]");
    assert_int_equal(stream_call(p, "{\"stream\":true}", &x, &r, &err), LOKI_EIO);
    assert_non_null(strstr(err.message, "upstream overloaded"));
    loki_provider_result_release(&r);
    loki_provider_destroy(p);
}

static void caller_can_abort(void **st)
{
    (void)st;
    script("[{\"text_bytes\":2000,\"chunks\":50}]");
    loki_provider_config c;
    config(&c, LOKI_PROVIDER_ANTHROPIC);
    loki_provider *p = make(&c);
    relay x;
    memset(&x, 0, sizeof x);
    x.abort_after = 5;
    loki_provider_request rq = {.body = msg_stream_body,
                                .body_len = strlen(msg_stream_body),
                                .stream = 1,
                                .on_event = on_event,
                                .ud = &x};
    loki_provider_result r;
    loki_provider_result_init(&r);
    assert_int_equal(loki_provider_call(p, &rq, &r, NULL), LOKI_OK);
    assert_int_equal(r.aborted, 1);
    assert_int_equal(x.events, 5);
    assert_int_equal(r.attempts, 1);
    loki_provider_result_release(&r);
    loki_provider_destroy(p);
}

static void local_rate_limits(void **st)
{
    (void)st;
    script("[]");
    loki_provider_config c;
    config(&c, LOKI_PROVIDER_OPENAI);
    c.requests_per_min = 2;
    loki_provider *p = make(&c);
    loki_provider_result r;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(call(p, "{}", &r, NULL), LOKI_OK);
        loki_provider_result_release(&r);
    }
    assert_int_equal(call(p, "{}", &r, NULL), LOKI_ELIMIT);
    assert_int_equal(r.retry_after_ms, 30000); /* one request refills in 60 s / 2 */
    loki_provider_result_release(&r);
    assert_int_equal(upstream_requests(), 2);
    vclock += 30000;
    assert_int_equal(call(p, "{}", &r, NULL), LOKI_OK);
    loki_provider_result_release(&r);
    loki_provider_destroy(p);

    /* Tokens per minute: a body estimated at 100 tokens against a 150 budget. */
    config(&c, LOKI_PROVIDER_OPENAI);
    c.tokens_per_min = 150;
    p = make(&c);
    loki_provider_request rq = {.body = "{}", .body_len = 2, .est_tokens = 100};
    loki_provider_result_init(&r);
    assert_int_equal(loki_provider_call(p, &rq, &r, NULL), LOKI_OK);
    loki_provider_result_release(&r);
    assert_int_equal(loki_provider_call(p, &rq, &r, NULL), LOKI_ELIMIT);
    loki_provider_result_release(&r);
    loki_provider_stats s;
    loki_provider_stats_get(p, &s);
    assert_int_equal(s.rejected_rate, 1);
    loki_provider_destroy(p);
}

static void connections_are_reused(void **st)
{
    (void)st;
    script("[]");
    loki_http *h;
    assert_int_equal(loki_http_create(4, &h), LOKI_OK);
    loki_provider_config c;
    config(&c, LOKI_PROVIDER_ANTHROPIC);
    loki_provider *p;
    assert_int_equal(loki_provider_create(&c, h, &p, NULL), LOKI_OK);
    loki_provider_result r;
    for (int i = 0; i < 20; i++) {
        assert_int_equal(call(p, msg_body, &r, NULL), LOKI_OK);
        loki_provider_result_release(&r);
        relay x;
        assert_int_equal(stream_call(p, msg_stream_body, &x, &r, NULL), LOKI_OK);
        loki_provider_result_release(&r);
    }
    loki_http_stats hs;
    loki_http_stats_get(h, &hs);
    assert_int_equal(hs.requests, 40);
    assert_int_equal(hs.handles_created, 1);
    assert_int_equal(hs.connects, 1);
    loki_provider_destroy(p);
    loki_http_destroy(h);
}

static void client_key_passes_through(void **st)
{
    (void)st;
    script("[]");
    loki_provider_config c;
    config(&c, LOKI_PROVIDER_ANTHROPIC);
    c.pass_client_key = 1;
    loki_provider *p = make(&c);
    const char *hdrs[] = {"anthropic-version: 2099-01-01", "anthropic-beta: tools-1",
                          "x-api-key: ignored-here"};
    loki_provider_request rq = {.body = msg_body,
                                .body_len = strlen(msg_body),
                                .client_api_key = "client-own-key",
                                .headers = hdrs,
                                .n_headers = 3};
    loki_provider_result r;
    loki_provider_result_init(&r);
    assert_int_equal(loki_provider_call(p, &rq, &r, NULL), LOKI_OK);
    loki_provider_result_release(&r);
    char out[4096];
    control("GET", "/_requests", NULL, out);
    assert_non_null(strstr(out, "\"x-api-key\": \"client-own-key\""));
    assert_non_null(strstr(out, "\"anthropic-version\": \"2099-01-01\""));
    assert_non_null(strstr(out, "\"anthropic-beta\": \"tools-1\""));
    assert_null(strstr(out, "ignored-here"));
    assert_null(strstr(out, "2023-06-01"));
    /* A header with a line break is refused before anything is sent. */
    const char *bad[] = {"x-evil: a\r\nx-api-key: b"};
    rq.headers = bad;
    rq.n_headers = 1;
    assert_int_equal(loki_provider_call(p, &rq, &r, NULL), LOKI_EINVAL);
    loki_provider_result_release(&r);
    loki_provider_destroy(p);
}

/* ---- threads share one provider and one handle pool ---- */

typedef struct worker {
    loki_provider *p;
    int ok;
} worker;

static void *work(void *ud)
{
    worker *w = ud;
    for (int i = 0; i < 25; i++) {
        loki_provider_result r;
        relay x;
        loki_status st = i % 2 ? stream_call(w->p, msg_stream_body, &x, &r, NULL)
                               : call(w->p, msg_body, &r, NULL);
        w->ok += st == LOKI_OK && r.status == 200 && r.text_len > 0;
        loki_provider_result_release(&r);
    }
    return NULL;
}

static void threads_share_a_provider(void **st)
{
    (void)st;
    script("[]");
    loki_provider_config c;
    config(&c, LOKI_PROVIDER_ANTHROPIC);
    c.hooks = (loki_provider_hooks){0}; /* the virtual clock is not thread-safe */
    loki_provider *p = make(&c);
    pthread_t t[6];
    worker w[6];
    for (int i = 0; i < 6; i++) {
        w[i] = (worker){.p = p};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].ok, 25);
    }
    loki_provider_stats s;
    loki_provider_stats_get(p, &s);
    assert_int_equal(s.successes, 150);
    loki_http_stats hs;
    loki_http_stats_get(http, &hs);
    assert_true(hs.idle <= 16);
    loki_provider_destroy(p);
}

/* ---- optional benchmark ---- */

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void bench(int n)
{
    control("POST", "/_script", "{\"reset\":true,\"default\":{\"text_bytes\":2048}}", NULL);
    double *raw = calloc((size_t)n, sizeof *raw), *lib = calloc((size_t)n, sizeof *lib);
    char url[128];
    snprintf(url, sizeof url, "%s/v1/messages", base_url);
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "x-api-key: k");
    h = curl_slist_append(h, "anthropic-version: 2023-06-01");
    loki_provider_config cfg;
    loki_provider_config_default(&cfg, LOKI_PROVIDER_ANTHROPIC);
    cfg.base_url = base_url;
    cfg.api_key = "k";
    loki_provider *p;
    loki_provider_create(&cfg, http, &p, NULL);
    loki_provider_result r;
    for (int i = -20; i < n; i++) { /* interleaved, after a warm-up */
        char body[4096] = "";
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, msg_body);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, (void *)body);
        double t0 = now_us();
        curl_easy_perform(c);
        double t1 = now_us();
        loki_provider_result_init(&r);
        loki_provider_request rq = {.body = msg_body, .body_len = strlen(msg_body)};
        loki_provider_call(p, &rq, &r, NULL);
        double t2 = now_us();
        if (i >= 0) {
            raw[i] = t1 - t0;
            lib[i] = t2 - t1;
        }
        if (r.text_len != 2048)
            fprintf(stderr, "bench: unexpected answer length %zu\n", r.text_len);
        loki_provider_result_release(&r);
    }
    qsort(raw, (size_t)n, sizeof *raw, cmp_d);
    qsort(lib, (size_t)n, sizeof *lib, cmp_d);
    int p50 = n / 2, p99 = n * 99 / 100;
    printf("bench 2 KB answer, %d calls: raw curl p50 %.1f us p99 %.1f us; loki_provider_call "
           "p50 %.1f us p99 %.1f us; added p50 %.1f us p99 %.1f us\n",
           n, raw[p50], raw[p99], lib[p50], lib[p99], lib[p50] - raw[p50], lib[p99] - raw[p99]);
    loki_provider_destroy(p);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(raw);
    free(lib);
    control("POST", "/_reset", "{}", NULL);
}

static int setup(void **st)
{
    (void)st;
    return 0;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (start_fake() != 0) {
        fprintf(stderr, "cannot start fake_provider.py (python3?)\n");
        stop_fake();
        return 77;
    }
    if (loki_http_create(0, &http) != LOKI_OK) {
        stop_fake();
        return 1;
    }
    int rc = 0;
    const char *b = getenv("LOKI_PROV_BENCH");
    if (b && atoi(b) > 0) {
        bench(atoi(b));
    } else {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup(anthropic_success, setup),
            cmocka_unit_test(openai_and_gemini_success),
            cmocka_unit_test(retry_after_is_honoured),
            cmocka_unit_test(server_errors_retried_then_success),
            cmocka_unit_test(resets_and_timeouts),
            cmocka_unit_test(breaker_opens_and_rejects_fast),
            cmocka_unit_test(fallback_serves_while_open),
            cmocka_unit_test(streams_relay_deltas),
            cmocka_unit_test(no_retry_after_relayed_bytes),
            cmocka_unit_test(truncated_stream_reported),
            cmocka_unit_test(caller_can_abort),
            cmocka_unit_test(local_rate_limits),
            cmocka_unit_test(connections_are_reused),
            cmocka_unit_test(client_key_passes_through),
            cmocka_unit_test(threads_share_a_provider),
        };
        rc = cmocka_run_group_tests(tests, NULL, NULL);
    }
    loki_http_destroy(http);
    stop_fake();
    return rc;
}
