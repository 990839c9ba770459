/* SPDX-License-Identifier: MIT */
/* Circuit breaker, retry policy, retry budget and token bucket, driven by an injected clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "loki/resilience.h"

static void breaker_opens_on_consecutive_failures(void **st)
{
    (void)st;
    loki_breaker_config c;
    loki_breaker_config_default(&c);
    c.consecutive_failures = 3;
    c.failure_rate = 0; /* only the count rule */
    c.open_ms = 1000;
    loki_breaker *b;
    assert_int_equal(loki_breaker_create("p", &c, &b), LOKI_OK);
    int64_t t = 5000, ra = -1;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(loki_breaker_allow(b, t, NULL), LOKI_OK);
        loki_breaker_record(b, 0, t);
    }
    loki_breaker_stats s;
    loki_breaker_stats_get(b, t, &s);
    assert_int_equal(s.state, LOKI_CIRCUIT_OPEN);
    assert_int_equal(s.opened, 1);
    /* OPEN rejects at once and says when to come back. */
    assert_int_equal(loki_breaker_allow(b, t + 400, &ra), LOKI_ECIRCUIT_OPEN);
    assert_int_equal(ra, 600);
    /* After open_ms, one probe passes, a second is rejected while it is out. */
    assert_int_equal(loki_breaker_allow(b, t + 1000, NULL), LOKI_OK);
    assert_int_equal(loki_breaker_allow(b, t + 1001, NULL), LOKI_ECIRCUIT_OPEN);
    /* The probe fails: OPEN again. */
    loki_breaker_record(b, 0, t + 1002);
    loki_breaker_stats_get(b, t + 1002, &s);
    assert_int_equal(s.state, LOKI_CIRCUIT_OPEN);
    assert_int_equal(s.opened, 2);
    /* Next probe succeeds: CLOSED. */
    assert_int_equal(loki_breaker_allow(b, t + 2100, NULL), LOKI_OK);
    loki_breaker_record(b, 1, t + 2100);
    loki_breaker_stats_get(b, t + 2100, &s);
    assert_int_equal(s.state, LOKI_CIRCUIT_CLOSED);
    assert_int_equal(s.closed, 1);
    assert_int_equal(s.rejected, 2);
    loki_breaker_destroy(b);
}

static void breaker_opens_on_failure_rate(void **st)
{
    (void)st;
    loki_breaker_config c;
    loki_breaker_config_default(&c);
    c.consecutive_failures = 0; /* only the rate rule */
    c.failure_rate = 0.5;
    c.min_calls = 10;
    c.window_ms = 10000;
    loki_breaker *b;
    assert_int_equal(loki_breaker_create("p", &c, &b), LOKI_OK);
    loki_breaker_stats s;
    /* Alternate success/failure: 50% failures; opens when the 10th call is recorded. */
    for (int i = 0; i < 9; i++) {
        loki_breaker_allow(b, 100 + i, NULL);
        loki_breaker_record(b, i % 2 == 0, 100 + i);
        loki_breaker_stats_get(b, 100 + i, &s);
        assert_int_equal(s.state, LOKI_CIRCUIT_CLOSED);
    }
    loki_breaker_allow(b, 110, NULL);
    loki_breaker_record(b, 0, 110);
    loki_breaker_stats_get(b, 110, &s);
    assert_int_equal(s.state, LOKI_CIRCUIT_OPEN);
    loki_breaker_destroy(b);
    /* A third of calls failing never opens it; old failures leave the window. */
    assert_int_equal(loki_breaker_create("q", &c, &b), LOKI_OK);
    for (int i = 0; i < 50; i++) {
        loki_breaker_allow(b, i * 10, NULL);
        loki_breaker_record(b, i % 3 != 0, i * 10);
    }
    loki_breaker_stats_get(b, 500, &s);
    assert_int_equal(s.state, LOKI_CIRCUIT_CLOSED);
    loki_breaker_stats_get(b, 60000, &s);
    assert_int_equal(s.window_calls, 0);
    loki_breaker_destroy(b);
}

static void retry_decisions(void **st)
{
    (void)st;
    loki_retry_policy p;
    loki_retry_policy_default(&p);
    loki_attempt a = {503, 0, 0, -1, 0};
    int64_t w = -1;
    /* full jitter: rand 0 → 0 ms; rand just under 1 → the cap (200, 400 ms) */
    assert_int_equal(loki_retry_next(&p, 1, &a, 0.0, &w), 1);
    assert_int_equal(w, 0);
    assert_int_equal(loki_retry_next(&p, 1, &a, 0.9999999, &w), 1);
    assert_int_equal(w, 200);
    assert_int_equal(loki_retry_next(&p, 2, &a, 0.9999999, &w), 1);
    assert_int_equal(w, 400);
    assert_int_equal(loki_retry_next(&p, 3, &a, 0.5, &w), 0); /* max_attempts reached */
    /* Retry-After wins over backoff. */
    a.retry_after_ms = 1500;
    assert_int_equal(loki_retry_next(&p, 1, &a, 0.5, &w), 1);
    assert_int_equal(w, 1500);
    a.retry_after_ms = 120000; /* longer than we hold a client */
    assert_int_equal(loki_retry_next(&p, 1, &a, 0.5, &w), 0);
    /* What is retryable. */
    int codes[] = {429, 500, 502, 503, 504, 529};
    for (size_t i = 0; i < 6; i++) {
        loki_attempt x = {codes[i], 0, 0, -1, 0};
        assert_true(loki_retry_retryable(&x));
    }
    loki_attempt bad = {400, 0, 0, -1, 0}, nf = {404, 0, 0, -1, 0}, to = {0, 1, 0, -1, 0};
    assert_false(loki_retry_retryable(&bad));
    assert_false(loki_retry_retryable(&nf));
    assert_true(loki_retry_retryable(&to));
    /* Never after a relayed byte. */
    loki_attempt relayed = {0, 0, 1, -1, 1};
    assert_false(loki_retry_retryable(&relayed));
}

static void retry_after_parsing(void **st)
{
    (void)st;
    assert_int_equal(loki_retry_after_parse("7", 0), 7000);
    assert_int_equal(loki_retry_after_parse(" 0", 0), 0);
    assert_int_equal(loki_retry_after_parse("soon", 0), -1);
    assert_int_equal(loki_retry_after_parse("-3", 0), -1);
    /* Fri, 27 Nov 2026 10:00:30 GMT is 30 s after 10:00:00. */
    assert_int_equal(loki_retry_after_parse("Fri, 27 Nov 2026 10:00:30 GMT", 1795773600), 30000);
}

static void retry_budget_caps_retries(void **st)
{
    (void)st;
    loki_retry_budget *b;
    assert_int_equal(loki_retry_budget_create(0.1, 2, 1000, &b), LOKI_OK);
    for (int i = 0; i < 50; i++)
        loki_retry_budget_note_request(b, 10);
    int ok = 0;
    for (int i = 0; i < 50; i++)
        ok += loki_retry_budget_take(b, 10);
    assert_int_equal(ok, 5); /* 10% of 50 */
    /* A new window: the minimum still allows a couple. */
    assert_int_equal(loki_retry_budget_take(b, 2000), 1);
    assert_int_equal(loki_retry_budget_take(b, 2000), 1);
    assert_int_equal(loki_retry_budget_take(b, 2000), 0);
    loki_retry_budget_destroy(b);
}

static void token_bucket(void **st)
{
    (void)st;
    loki_bucket *b;
    assert_int_equal(loki_bucket_create(2.0, 3.0, 0, &b), LOKI_OK); /* 2/s, burst 3 */
    int64_t w = 0;
    assert_true(loki_bucket_take(b, 1, 0, &w));
    assert_true(loki_bucket_take(b, 1, 0, &w));
    assert_true(loki_bucket_take(b, 1, 0, &w));
    assert_false(loki_bucket_take(b, 1, 0, &w));
    assert_int_equal(w, 500);
    assert_false(loki_bucket_take(b, 1, 499, &w));
    assert_true(loki_bucket_take(b, 1, 500, &w));
    /* Refill is capped at the burst. */
    assert_true(loki_bucket_level(b, 100000) <= 3.0);
    assert_false(loki_bucket_take(b, 4, 100000, &w));
    assert_int_equal(w, -1); /* can never be satisfied */
    loki_bucket_destroy(b);
    assert_int_equal(loki_bucket_create(0, 1, 0, &b), LOKI_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(breaker_opens_on_consecutive_failures),
        cmocka_unit_test(breaker_opens_on_failure_rate),
        cmocka_unit_test(retry_decisions),
        cmocka_unit_test(retry_after_parsing),
        cmocka_unit_test(retry_budget_caps_retries),
        cmocka_unit_test(token_bucket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
