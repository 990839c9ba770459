/* SPDX-License-Identifier: MIT */
/* Cache without a Redis server: LRU and byte budget, TTL with an injected clock, jitter,
 * namespaces, keys, single-flight under threads, errors never cached, the breaker against an
 * unreachable Redis, stats renderings and allocation failures. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "loki/cache.h"
#include "util/util.h"

typedef struct fake_clock {
    uint64_t now;
} fake_clock;

static uint64_t fake_now(void *ud)
{
    return __atomic_load_n(&((fake_clock *)ud)->now, __ATOMIC_RELAXED);
}

static loki_cache *make(loki_cache_config *cfg)
{
    loki_cache *c = NULL;
    loki_error err;
    assert_int_equal(loki_cache_create(cfg, &c, &err), LOKI_OK);
    return c;
}

static void put(loki_cache *c, const char *ns, const char *k, const char *v)
{
    assert_int_equal(loki_cache_set(c, ns, k, strlen(k), v, strlen(v), 0), LOKI_OK);
}

/* 1 when present with the expected value, 0 when missing. */
static int has(loki_cache *c, const char *ns, const char *k, const char *want)
{
    void *v = NULL;
    size_t n = 0;
    loki_status st = loki_cache_get(c, ns, k, strlen(k), &v, &n);
    if (st == LOKI_ENOTFOUND)
        return 0;
    assert_int_equal(st, LOKI_OK);
    if (want) {
        assert_int_equal(n, strlen(want));
        assert_memory_equal(v, want, n);
        assert_int_equal(((char *)v)[n], '\0');
    }
    free(v);
    return 1;
}

static void lru_evicts_least_recent(void **state)
{
    (void)state;
    fake_clock clk = {1000};
    loki_cache_config cfg;
    loki_cache_config_default(&cfg);
    cfg.shards = 1;
    cfg.max_entries = 3;
    cfg.clock = fake_now;
    cfg.clock_ud = &clk;
    loki_cache *c = make(&cfg);
    put(c, "t", "a", "1");
    put(c, "t", "b", "2");
    put(c, "t", "c", "3");
    assert_true(has(c, "t", "a", "1")); /* a is now the most recent */
    put(c, "t", "d", "4");              /* evicts b */
    assert_false(has(c, "t", "b", NULL));
    assert_true(has(c, "t", "a", "1"));
    assert_true(has(c, "t", "c", "3"));
    assert_true(has(c, "t", "d", "4"));
    put(c, "t", "c", "33"); /* overwrite keeps the count */
    assert_true(has(c, "t", "c", "33"));
    loki_cache_stats st;
    loki_cache_stats_get(c, &st);
    assert_int_equal(st.entries, 3);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(st.misses, 1);
    loki_cache_destroy(c);
}

static void byte_budget_is_kept(void **state)
{
    (void)state;
    loki_cache_config cfg;
    loki_cache_config_default(&cfg);
    cfg.shards = 4;
    cfg.max_bytes = 64 * 1024;
    loki_cache *c = make(&cfg);
    char val[1000];
    memset(val, 'x', sizeof val);
    for (int i = 0; i < 500; i++) {
        char k[32];
        snprintf(k, sizeof k, "key-%d", i);
        assert_int_equal(loki_cache_set(c, NULL, k, strlen(k), val, sizeof val, 0), LOKI_OK);
    }
    loki_cache_stats st;
    loki_cache_stats_get(c, &st);
    assert_true(st.bytes <= cfg.max_bytes);
    assert_true(st.entries > 20 && st.entries < 64);
    assert_int_equal(st.evictions, 500 - st.entries);
    /* The newest survive. */
    assert_true(has(c, NULL, "key-499", NULL));
    /* A value larger than a shard's budget is refused, as is one over max_value_bytes. */
    char *big = calloc(1, 20000);
    assert_int_equal(loki_cache_set(c, NULL, "big", 3, big, 20000, 0), LOKI_ELIMIT);
    free(big);
    loki_cache_destroy(c);
}

static void ttl_expires_with_clock(void **state)
{
    (void)state;
    fake_clock clk = {5000};
    loki_cache_config cfg;
    loki_cache_config_default(&cfg);
    cfg.default_ttl_ms = 1000;
    cfg.ttl_jitter_pct = 0;
    cfg.clock = fake_now;
    cfg.clock_ud = &clk;
    loki_cache *c = make(&cfg);
    put(c, "t", "short", "s");
    assert_int_equal(loki_cache_set(c, "t", "long", 4, "l", 1, 5000), LOKI_OK);
    clk.now += 999;
    assert_true(has(c, "t", "short", "s"));
    clk.now += 1;
    assert_false(has(c, "t", "short", NULL));
    assert_true(has(c, "t", "long", "l"));
    clk.now += 4000;
    assert_false(has(c, "t", "long", NULL));
    loki_cache_stats st;
    loki_cache_stats_get(c, &st);
    assert_int_equal(st.expirations, 2);
    assert_int_equal(st.entries, 0);
    /* TTL 0 in the config: entries never expire. */
    loki_cache_destroy(c);
    cfg.default_ttl_ms = 0;
    c = make(&cfg);
    put(c, "t", "k", "v");
    clk.now += 1000ull * 1000 * 1000;
    assert_true(has(c, "t", "k", "v"));
    loki_cache_destroy(c);
}

static void ttl_jitter_stays_in_range(void **state)
{
    (void)state;
    fake_clock clk = {0};
    loki_cache_config cfg;
    loki_cache_config_default(&cfg);
    cfg.default_ttl_ms = 10000;
    cfg.ttl_jitter_pct = 10;
    cfg.jitter_seed = 42;
    cfg.clock = fake_now;
    cfg.clock_ud = &clk;
    loki_cache *c = make(&cfg);
    enum { N = 400 };
    for (int i = 0; i < N; i++) {
        char k[16];
        snprintf(k, sizeof k, "%d", i);
        put(c, "j", k, "v");
    }
    /* Before 9000 ms nothing expired, after 11000 everything has; in between some have. */
    int alive_8999 = 0, alive_10000 = 0, alive_11001 = 0;
    uint64_t probes[3] = {8999, 10000, 11001};
    int *alive[3] = {&alive_8999, &alive_10000, &alive_11001};
    for (int p = 0; p < 3; p++) {
        clk.now = probes[p];
        for (int i = 0; i < N; i++) {
            char k[16];
            snprintf(k, sizeof k, "%d", i);
            void *v;
            size_t n;
            if (loki_cache_get(c, "j", k, strlen(k), &v, &n) == LOKI_OK) {
                (*alive[p])++;
                free(v);
            }
        }
    }
    assert_int_equal(alive_8999, N);
    assert_true(alive_10000 > N / 4 && alive_10000 < 3 * N / 4);
    assert_int_equal(alive_11001, 0);
    loki_cache_destroy(c);
}

static void namespaces_do_not_collide(void **state)
{
    (void)state;
    loki_cache *c = make(NULL);
    put(c, "a", "k", "in-a");
    put(c, "b", "k", "in-b");
    put(c, NULL, "k", "in-default");
    assert_true(has(c, "a", "k", "in-a"));
    assert_true(has(c, "b", "k", "in-b"));
    assert_true(has(c, "default", "k", "in-default"));
    assert_int_equal(loki_cache_del(c, "a", "k", 1), LOKI_OK);
    assert_false(has(c, "a", "k", NULL));
    assert_true(has(c, "b", "k", "in-b"));
    /* Binary keys and empty values. */
    const char bk[] = {'x', 0, 'y'};
    assert_int_equal(loki_cache_set(c, "a", bk, 3, "", 0, 0), LOKI_OK);
    void *v;
    size_t n = 99;
    assert_int_equal(loki_cache_get(c, "a", bk, 3, &v, &n), LOKI_OK);
    assert_int_equal(n, 0);
    free(v);
    assert_int_equal(loki_cache_get(c, "a", bk, 2, &v, &n), LOKI_ENOTFOUND);
    /* Caps and bad arguments. */
    char longkey[2000];
    memset(longkey, 'k', sizeof longkey);
    assert_int_equal(loki_cache_set(c, "a", longkey, sizeof longkey, "v", 1, 0), LOKI_ELIMIT);
    assert_int_equal(loki_cache_get(c, "a", NULL, 3, &v, &n), LOKI_EINVAL);
    loki_cache_destroy(c);
    loki_cache_destroy(NULL);
}

static void key_covers_every_input(void **state)
{
    (void)state;
    const char *mods1[] = {"gdpr", "fca", "gdpr"};
    const char *mods2[] = {"fca", "gdpr"};
    loki_cache_key_parts kp = {.text = "hello",
                               .text_len = 5,
                               .document_type = "email",
                               .modules = mods1,
                               .n_modules = 3,
                               .ruleset_fingerprint = "abc",
                               .engine_version = "1.0"};
    char k1[65], k2[65];
    assert_int_equal(loki_cache_key_build(&kp, k1), LOKI_OK);
    assert_int_equal(strlen(k1), 64);
    kp.modules = mods2;
    kp.n_modules = 2;
    assert_int_equal(loki_cache_key_build(&kp, k2), LOKI_OK);
    assert_string_equal(k1, k2); /* order and duplicates do not matter */
    const char *orig = k1;
    (void)orig;
    struct {
        const char *what;
        loki_cache_key_parts p;
    } v[5];
    for (int i = 0; i < 5; i++)
        v[i].p = kp;
    v[0].p.text_len = 4;
    v[1].p.document_type = "policy";
    v[2].p.ruleset_fingerprint = "abd";
    v[3].p.engine_version = "1.1";
    v[4].p.n_modules = 1;
    for (int i = 0; i < 5; i++) {
        char k[65];
        assert_int_equal(loki_cache_key_build(&v[i].p, k), LOKI_OK);
        assert_string_not_equal(k, k1);
    }
    /* Field boundaries are unambiguous: text "ab"+type "c" vs text "a"+type "bc". */
    loki_cache_key_parts a = {.text = "ab", .text_len = 2, .document_type = "c"};
    loki_cache_key_parts b = {.text = "a", .text_len = 1, .document_type = "bc"};
    char ka[65], kb[65];
    assert_int_equal(loki_cache_key_build(&a, ka), LOKI_OK);
    assert_int_equal(loki_cache_key_build(&b, kb), LOKI_OK);
    assert_string_not_equal(ka, kb);
    kp.extra = "no_universal=1";
    kp.extra_len = strlen(kp.extra);
    assert_int_equal(loki_cache_key_build(&kp, k2), LOKI_OK);
    assert_string_not_equal(k1, k2);
}

/* ---- get_or_compute and single-flight ---- */

typedef struct work {
    int calls; /* atomic */
    int fail;
    unsigned delay_us;
} work;

static loki_status compute(void *ud, void **val, size_t *len, uint64_t *ttl)
{
    (void)ttl;
    work *w = ud;
    __atomic_add_fetch(&w->calls, 1, __ATOMIC_SEQ_CST);
    if (w->delay_us)
        usleep(w->delay_us);
    if (w->fail)
        return LOKI_EINTERNAL;
    *val = strdup("computed");
    *len = 8;
    return LOKI_OK;
}

static void compute_once_then_hit(void **state)
{
    (void)state;
    loki_cache *c = make(NULL);
    work w = {0};
    void *v;
    size_t n;
    int hit = -1;
    assert_int_equal(loki_cache_get_or_compute(c, "v", "k", 1, compute, &w, &v, &n, &hit), LOKI_OK);
    assert_int_equal(hit, 0);
    assert_memory_equal(v, "computed", 8);
    free(v);
    assert_int_equal(loki_cache_get_or_compute(c, "v", "k", 1, compute, &w, &v, &n, &hit), LOKI_OK);
    assert_int_equal(hit, 1);
    free(v);
    assert_int_equal(w.calls, 1);
    /* Errors are returned, never stored. */
    work bad = {.fail = 1};
    assert_int_equal(loki_cache_get_or_compute(c, "v", "e", 1, compute, &bad, &v, &n, &hit),
                     LOKI_EINTERNAL);
    assert_null(v);
    assert_int_equal(loki_cache_get_or_compute(c, "v", "e", 1, compute, &bad, &v, &n, &hit),
                     LOKI_EINTERNAL);
    assert_int_equal(bad.calls, 2);
    assert_false(has(c, "v", "e", NULL));
    loki_cache_stats st;
    loki_cache_stats_get(c, &st);
    assert_int_equal(st.computes, 3);
    loki_cache_destroy(c);
}

static loki_status compute_nostore(void *ud, void **val, size_t *len, uint64_t *ttl)
{
    (void)ud;
    *val = strdup("x");
    *len = 1;
    *ttl = LOKI_CACHE_TTL_NO_STORE;
    return LOKI_OK;
}

static void compute_can_skip_storing(void **state)
{
    (void)state;
    loki_cache *c = make(NULL);
    void *v;
    size_t n;
    assert_int_equal(loki_cache_get_or_compute(c, "v", "k", 1, compute_nostore, NULL, &v, &n, NULL),
                     LOKI_OK);
    free(v);
    assert_false(has(c, "v", "k", NULL));
    loki_cache_destroy(c);
}

typedef struct flight_arg {
    loki_cache *c;
    work *w;
    const char *key;
    loki_status st;
    int hit;
    int ok_value;
} flight_arg;

static void *flight_thread(void *arg)
{
    flight_arg *a = arg;
    void *v = NULL;
    size_t n = 0;
    a->st = loki_cache_get_or_compute(a->c, "sf", a->key, strlen(a->key), compute, a->w, &v, &n,
                                      &a->hit);
    a->ok_value = a->st == LOKI_OK && n == 8 && memcmp(v, "computed", 8) == 0;
    free(v);
    return NULL;
}

static void run_flight(loki_cache *c, work *w, const char *key, int nthreads, flight_arg *args)
{
    pthread_t th[16];
    for (int i = 0; i < nthreads; i++) {
        args[i] = (flight_arg){.c = c, .w = w, .key = key};
        assert_int_equal(pthread_create(&th[i], NULL, flight_thread, &args[i]), 0);
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
}

static void single_flight_under_threads(void **state)
{
    (void)state;
    loki_cache *c = make(NULL);
    enum { T = 12 };
    flight_arg args[T];
    work w = {.delay_us = 100000};
    run_flight(c, &w, "same", T, args);
    assert_int_equal(w.calls, 1);
    int computed = 0;
    for (int i = 0; i < T; i++) {
        assert_int_equal(args[i].st, LOKI_OK);
        assert_true(args[i].ok_value);
        computed += !args[i].hit;
    }
    assert_int_equal(computed, 1);
    loki_cache_stats st;
    loki_cache_stats_get(c, &st);
    assert_int_equal(st.computes, 1);
    assert_int_equal(st.shared + st.hits, T - 1);

    /* A failing leader shares its error with the waiters of that flight, and nothing is
     * stored: the next call computes again. */
    work bad = {.delay_us = 100000, .fail = 1};
    run_flight(c, &bad, "bad", T, args);
    assert_true(bad.calls >= 1 && bad.calls < T);
    for (int i = 0; i < T; i++)
        assert_int_equal(args[i].st, LOKI_EINTERNAL);
    int before = bad.calls;
    run_flight(c, &bad, "bad", 1, args);
    assert_int_equal(bad.calls, before + 1);
    loki_cache_destroy(c);
}

/* ---- the breaker, against a Redis that is not there ---- */

static void breaker_opens_and_probes(void **state)
{
    (void)state;
    fake_clock clk = {100};
    loki_cache_config cfg;
    loki_cache_config_default(&cfg);
    cfg.redis_url = "unix:///nonexistent/loki-test-redis.sock";
    cfg.redis_near_cache = 0;
    cfg.breaker_failures = 3;
    cfg.breaker_open_ms = 1000;
    cfg.clock = fake_now;
    cfg.clock_ud = &clk;
    loki_cache *c = make(&cfg);
    /* Every operation still works, from memory. */
    for (int i = 0; i < 3; i++)
        put(c, "b", "k", "v");
    loki_cache_stats st;
    loki_cache_stats_get(c, &st);
    assert_int_equal(st.breaker, LOKI_BREAKER_OPEN);
    assert_string_equal(st.health, "degraded");
    assert_int_equal(st.errors, 3);
    assert_int_equal(st.breaker_opens, 1);
    assert_true(has(c, "b", "k", "v")); /* rejected at once, memory serves */
    loki_cache_stats_get(c, &st);
    assert_int_equal(st.errors, 3);
    assert_true(st.breaker_rejects >= 1);
    assert_true(st.fallbacks >= 4);
    /* After the open period one probe goes to Redis; it fails and the breaker reopens. */
    clk.now += 1000;
    assert_true(has(c, "b", "k", "v"));
    loki_cache_stats_get(c, &st);
    assert_int_equal(st.errors, 4);
    assert_int_equal(st.breaker, LOKI_BREAKER_OPEN);
    assert_int_equal(st.breaker_opens, 2);
    loki_cache_destroy(c);
}

static void bad_urls_are_rejected(void **state)
{
    (void)state;
    const char *bad[] = {"http://x",        "redis://h:0",      "redis://h:99999", "redis://h:12x",
                         "unix://relative", "redis://h/notadb", "unix:///s?x=1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        loki_cache_config cfg;
        loki_cache_config_default(&cfg);
        cfg.redis_url = bad[i];
        loki_cache *c = (loki_cache *)1;
        loki_error err;
        assert_int_equal(loki_cache_create(&cfg, &c, &err), LOKI_EINVAL);
        assert_null(c);
        assert_int_equal(err.code, LOKI_EINVAL);
    }
    const char *good[] = {
        "redis://127.0.0.1:6390/2", "redis://:pw@localhost",    "/tmp/r.sock",
        "unix:///tmp/r.sock?db=3",  "redis+unix:///tmp/r.sock", "redis://[::1]:6390"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        loki_cache_config cfg;
        loki_cache_config_default(&cfg);
        cfg.redis_url = good[i];
        loki_cache *c = NULL;
        assert_int_equal(loki_cache_create(&cfg, &c, NULL), LOKI_OK);
        loki_cache_destroy(c);
    }
}

static void stats_render(void **state)
{
    (void)state;
    loki_cache *c = make(NULL);
    put(c, "s", "k", "v");
    assert_true(has(c, "s", "k", "v"));
    assert_false(has(c, "s", "missing", NULL));
    loki_cache_stats st;
    loki_cache_stats_get(c, &st);
    assert_true(st.hit_rate > 0.49 && st.hit_rate < 0.51);
    char *js = NULL;
    assert_int_equal(loki_cache_stats_json(&st, &js, NULL), LOKI_OK);
    assert_non_null(strstr(js, "\"backend\":\"memory\""));
    assert_non_null(strstr(js, "\"breaker\":\"none\""));
    assert_non_null(strstr(js, "\"hits\":1,"));
    free(js);
    char *pm = NULL;
    assert_int_equal(loki_cache_stats_prometheus(&st, &pm, NULL), LOKI_OK);
    assert_non_null(strstr(pm, "# TYPE loki_cache_hits_total counter\nloki_cache_hits_total 1\n"));
    assert_non_null(strstr(pm, "loki_cache_misses_total 1\n"));
    assert_non_null(strstr(pm, "# TYPE loki_cache_bytes gauge\n"));
    free(pm);
    loki_cache_destroy(c);
}

/* Every allocation failure ends in a clean status, never a crash or a leak. */
static void allocation_failures(void **state)
{
    (void)state;
    for (unsigned long n = 1; n < 200; n++) {
        loki__alloc_fail_at(n);
        loki_cache *c = NULL;
        loki_status st = loki_cache_create(NULL, &c, NULL);
        if (st == LOKI_OK) {
            loki_cache_set(c, "n", "key", 3, "value", 5, 0);
            void *v = NULL;
            size_t len;
            if (loki_cache_get(c, "n", "key", 3, &v, &len) == LOKI_OK)
                free(v);
            work w = {0};
            if (loki_cache_get_or_compute(c, "n", "k2", 2, compute, &w, &v, &len, NULL) == LOKI_OK)
                free(v);
            char key[65];
            loki_cache_key_parts kp = {.text = "t", .text_len = 1};
            loki_cache_key_build(&kp, key);
            loki_cache_stats s;
            loki_cache_stats_get(c, &s);
            char *js = NULL;
            if (loki_cache_stats_json(&s, &js, NULL) == LOKI_OK)
                free(js);
        } else {
            assert_int_equal(st, LOKI_ENOMEM);
        }
        loki_cache_destroy(c);
        unsigned long made = loki__alloc_fail_at(0);
        if (made < n)
            break;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lru_evicts_least_recent),     cmocka_unit_test(byte_budget_is_kept),
        cmocka_unit_test(ttl_expires_with_clock),      cmocka_unit_test(ttl_jitter_stays_in_range),
        cmocka_unit_test(namespaces_do_not_collide),   cmocka_unit_test(key_covers_every_input),
        cmocka_unit_test(compute_once_then_hit),       cmocka_unit_test(compute_can_skip_storing),
        cmocka_unit_test(single_flight_under_threads), cmocka_unit_test(breaker_opens_and_probes),
        cmocka_unit_test(bad_urls_are_rejected),       cmocka_unit_test(stats_render),
        cmocka_unit_test(allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
