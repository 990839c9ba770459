/* SPDX-License-Identifier: MIT */
/* Profiler and metrics: histogram accuracy, statistics under an injected clock, nesting and
 * bottlenecks, the renderings, many threads recording at once, and the metrics registry's
 * Prometheus exposition. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loki/obs.h"
#include "obs/obs_int.h"

typedef struct fake_clock {
    uint64_t now;
} fake_clock;

static uint64_t fake_now(void *ud)
{
    return ((fake_clock *)ud)->now;
}

static loki_profiler *make(fake_clock *clk)
{
    loki_profiler_config cfg;
    loki_profiler_config_default(&cfg);
    if (clk) {
        cfg.clock = fake_now;
        cfg.clock_ud = clk;
    }
    loki_profiler *p = NULL;
    assert_int_equal(loki_profiler_create(&cfg, &p), LOKI_OK);
    return p;
}

static const loki_prof_op_stats *find(const loki_prof_report *r, const char *name)
{
    for (size_t i = 0; i < r->n_ops; i++)
        if (strcmp(r->ops[i].name, name) == 0)
            return &r->ops[i];
    return NULL;
}

static void histogram_buckets(void **state)
{
    (void)state;
    uint64_t prev_hi = 0;
    for (unsigned i = 0; i < LOKI__HIST_BUCKETS; i++) {
        uint64_t lo, hi;
        loki__hist_bounds(i, &lo, &hi);
        assert_int_equal(lo, prev_hi); /* contiguous */
        assert_int_equal(loki__hist_index(lo), i);
        assert_int_equal(loki__hist_index(hi - 1), i);
        if (lo >= 8)
            assert_true((double)(hi - lo) / (double)lo <= 0.125 + 1e-12);
        prev_hi = hi;
    }
    assert_int_equal(loki__hist_index(UINT64_MAX), LOKI__HIST_BUCKETS - 1);
    assert_int_equal(loki__prom_index(0), 0);
    assert_int_equal(loki__prom_index(1000), 0);
    assert_int_equal(loki__prom_index(1001), 1);
    assert_int_equal(loki__prom_index(20000000000ull), LOKI__PROM_NB);
}

static void stats_with_fake_clock(void **state)
{
    (void)state;
    fake_clock clk = {0};
    loki_profiler *p = make(&clk);
    int op = loki_profiler_op(p, "scan");
    assert_true(op >= 0);
    assert_int_equal(loki_profiler_op(p, "scan"), op);
    /* 1..1000 µs once each. */
    for (uint64_t i = 1; i <= 1000; i++) {
        loki_prof_scope s = loki_prof_begin(p, op);
        clk.now += i * 1000;
        loki_prof_end(&s);
    }
    loki_prof_report r;
    assert_int_equal(loki_profiler_snapshot(p, &r), LOKI_OK);
    const loki_prof_op_stats *o = find(&r, "scan");
    assert_non_null(o);
    assert_int_equal(o->count, 1000);
    assert_int_equal(o->min_ns, 1000);
    assert_int_equal(o->max_ns, 1000000);
    assert_int_equal(o->total_ns, 500500ull * 1000);
    assert_true(o->mean_ns > 500499.0 && o->mean_ns < 500501.0);
    /* Within the histogram's ~6 % of the true quantiles. */
    assert_true(o->p50_ns > 470000 && o->p50_ns < 530000);
    assert_true(o->p95_ns > 893000 && o->p95_ns < 1007000);
    assert_true(o->p99_ns > 930000 && o->p99_ns <= 1000000);
    assert_int_equal(r.toplevel_ns, o->total_ns);
    loki_prof_report_release(&r);
    loki_profiler_reset(p);
    assert_int_equal(loki_profiler_snapshot(p, &r), LOKI_OK);
    assert_int_equal(r.n_ops, 0);
    loki_prof_report_release(&r);
    loki_profiler_destroy(p);
}

static void nesting_and_bottlenecks(void **state)
{
    (void)state;
    fake_clock clk = {0};
    loki_profiler *p = make(&clk);
    int check = loki_profiler_op(p, "check");
    int scan = loki_profiler_op(p, "scan");
    int eval = loki_profiler_op(p, "evaluate");
    int render = loki_profiler_op(p, "render");
    for (int i = 0; i < 10; i++) {
        loki_prof_scope c = loki_prof_begin(p, check);
        loki_prof_scope s = loki_prof_begin(p, scan);
        clk.now += 700;
        loki_prof_end(&s);
        loki_prof_scope e = loki_prof_begin(p, eval);
        clk.now += 200;
        loki_prof_end(&e);
        loki_prof_end(&c);
        loki_prof_scope rd = loki_prof_begin(p, render); /* top-level too */
        clk.now += 100;
        loki_prof_end(&rd);
    }
    loki_prof_report r;
    assert_int_equal(loki_profiler_snapshot(p, &r), LOKI_OK);
    assert_int_equal(r.toplevel_ns, 10 * 1000); /* check (900) + render (100) */
    assert_string_equal(r.ops[0].name, "check");
    assert_string_equal(r.ops[1].name, "scan");
    const loki_prof_op_stats *sc = find(&r, "scan");
    assert_true(sc->share > 0.69 && sc->share < 0.71);
    assert_true(sc->bottleneck);
    assert_true(find(&r, "evaluate")->bottleneck); /* exactly 20 % */
    assert_false(find(&r, "render")->bottleneck);
    loki_prof_report_release(&r);

    char *js = NULL;
    assert_int_equal(loki_profiler_json(p, &js, NULL), LOKI_OK);
    assert_non_null(strstr(js, "{\"name\":\"scan\",\"count\":10,\"total_ms\":0.007000"));
    assert_non_null(strstr(js, "\"bottlenecks\":[\"check\",\"scan\",\"evaluate\"]"));
    free(js);
    char *tx = NULL;
    assert_int_equal(loki_profiler_text(p, &tx, NULL), LOKI_OK);
    assert_non_null(strstr(tx, "operation"));
    assert_non_null(strstr(tx, "bottlenecks (>= 20%): check scan evaluate\n"));
    free(tx);
    loki_profiler_destroy(p);
}

#if defined(__GNUC__)
static void scoped_work(loki_profiler *p, fake_clock *clk)
{
    LOKI_PROF_FUNCTION(p);
    clk->now += 5000;
    {
        LOKI_PROF_SCOPE(p, "inner");
        clk->now += 1000;
    }
}
#endif

static void macros_and_null_profiler(void **state)
{
    (void)state;
    fake_clock clk = {0};
    loki_profiler *p = make(&clk);
#if defined(__GNUC__)
    scoped_work(p, &clk);
    scoped_work(NULL, &clk); /* no profiler: inert */
    loki_prof_report r;
    assert_int_equal(loki_profiler_snapshot(p, &r), LOKI_OK);
    assert_int_equal(find(&r, "scoped_work")->total_ns, 6000);
    assert_int_equal(find(&r, "inner")->total_ns, 1000);
    assert_int_equal(r.toplevel_ns, 6000);
    loki_prof_report_release(&r);
#endif
    loki_prof_scope s = loki_prof_begin(p, -1);
    loki_prof_end(&s);
    loki_prof_end(&s);
    loki_profiler_record(p, 999, 5);
    assert_int_equal(loki_profiler_op(NULL, "x"), -1);
    loki_profiler_destroy(NULL);
    loki_profiler_mem(p, loki_profiler_op(p, "alloc"), 1000);
    loki_profiler_mem(p, -1, 500);
    loki_profiler_mem(p, -1, -1200);
    loki_prof_report r2;
    assert_int_equal(loki_profiler_snapshot(p, &r2), LOKI_OK);
    assert_int_equal(r2.mem_peak, 1500);
    assert_int_equal(r2.mem_current, 300);
    loki_prof_report_release(&r2);
    loki_profiler_destroy(p);
}

static void op_table_is_bounded(void **state)
{
    (void)state;
    loki_profiler_config cfg;
    loki_profiler_config_default(&cfg);
    cfg.max_ops = 4;
    loki_profiler *p = NULL;
    assert_int_equal(loki_profiler_create(&cfg, &p), LOKI_OK);
    char name[16];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "op%d", i);
        assert_int_equal(loki_profiler_op(p, name), i);
    }
    assert_int_equal(loki_profiler_op(p, "op4"), -1);
    assert_int_equal(loki_profiler_op(p, "op2"), 2);
    loki_profiler_destroy(p);
}

typedef struct rec_arg {
    loki_profiler *p;
    int ops[3];
} rec_arg;

static void *recorder(void *arg)
{
    rec_arg *a = arg;
    for (int i = 0; i < 20000; i++) {
        loki_profiler_record(a->p, a->ops[i % 3], (uint64_t)(i % 100) + 1);
        if (i % 1000 == 0)
            loki_profiler_op(a->p, "late"); /* registration races with recording */
    }
    return NULL;
}

static void *reader(void *arg)
{
    rec_arg *a = arg;
    for (int i = 0; i < 50; i++) {
        char *s = NULL;
        if (loki_profiler_prometheus(a->p, &s, NULL) == LOKI_OK)
            free(s);
    }
    return NULL;
}

static void threads_record_concurrently(void **state)
{
    (void)state;
    loki_profiler *p = make(NULL);
    rec_arg a = {.p = p};
    a.ops[0] = loki_profiler_op(p, "a");
    a.ops[1] = loki_profiler_op(p, "b");
    a.ops[2] = loki_profiler_op(p, "c");
    enum { T = 6 };
    pthread_t th[T + 1];
    /* Two rounds: threads of the second round adopt the buffers of exited ones. */
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < T; i++)
            pthread_create(&th[i], NULL, recorder, &a);
        pthread_create(&th[T], NULL, reader, &a);
        for (int i = 0; i <= T; i++)
            pthread_join(th[i], NULL);
    }
    loki_prof_report r;
    assert_int_equal(loki_profiler_snapshot(p, &r), LOKI_OK);
    uint64_t total = 0;
    for (size_t i = 0; i < r.n_ops; i++)
        total += r.ops[i].count;
    assert_int_equal(total, 2 * T * 20000);
    assert_int_equal(find(&r, "a")->min_ns, 1);
    assert_int_equal(find(&r, "a")->max_ns, 100);
    loki_prof_report_release(&r);
    loki_profiler_destroy(p);
}

static void profiler_prometheus(void **state)
{
    (void)state;
    loki_profiler *p = make(NULL);
    int op = loki_profiler_op(p, "sc\"an");
    loki_profiler_record(p, op, 2000);        /* 2 µs */
    loki_profiler_record(p, op, 3000000);     /* 3 ms */
    loki_profiler_record(p, op, 30000000000); /* 30 s */
    char *s = NULL;
    assert_int_equal(loki_profiler_prometheus(p, &s, NULL), LOKI_OK);
    assert_non_null(strstr(s, "# TYPE loki_operation_duration_seconds histogram\n"));
    assert_non_null(
        strstr(s, "loki_operation_duration_seconds_bucket{op=\"sc\\\"an\",le=\"1e-06\"} 0\n"));
    assert_non_null(
        strstr(s, "loki_operation_duration_seconds_bucket{op=\"sc\\\"an\",le=\"2.5e-06\"} 1\n"));
    assert_non_null(
        strstr(s, "loki_operation_duration_seconds_bucket{op=\"sc\\\"an\",le=\"0.005\"} 2\n"));
    assert_non_null(
        strstr(s, "loki_operation_duration_seconds_bucket{op=\"sc\\\"an\",le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(s, "loki_operation_duration_seconds_sum{op=\"sc\\\"an\"} 30.003002\n"));
    assert_non_null(strstr(s, "loki_operation_duration_seconds_count{op=\"sc\\\"an\"} 3\n"));
    free(s);
    loki_profiler_destroy(p);
}

static void metrics_registry(void **state)
{
    (void)state;
    loki_metrics *m = NULL;
    assert_int_equal(loki_metrics_create(8, &m), LOKI_OK);
    const char *l1[] = {"method", "POST", "path", "/v1/\"check\"\n", NULL};
    const char *l2[] = {"method", "GET", "path", "/health", NULL};
    int r1 = loki_metrics_counter(m, "loki_http_requests_total", "HTTP requests.", l1);
    int r2 = loki_metrics_counter(m, "loki_http_requests_total", "HTTP requests.", l2);
    assert_true(r1 >= 0 && r2 >= 0 && r1 != r2);
    assert_int_equal(loki_metrics_counter(m, "loki_http_requests_total", "x", l1), r1);
    int g = loki_metrics_gauge(m, "loki_inflight_requests", "Requests in flight.", NULL);
    const double b[] = {0.01, 0.1, 1};
    int h = loki_metrics_histogram(m, "loki_request_duration_seconds", "Latency.", NULL, b, 3);
    assert_true(g >= 0 && h >= 0);
    /* Names are checked. */
    assert_int_equal(loki_metrics_counter(m, "loki_requests", "no _total", NULL), -1);
    assert_int_equal(loki_metrics_gauge(m, "loki_x_total", "gauge with _total", NULL), -1);
    assert_int_equal(loki_metrics_gauge(m, "other_metric", "no prefix", NULL), -1);
    assert_int_equal(loki_metrics_gauge(m, "loki_bad-name", "dash", NULL), -1);
    assert_int_equal(loki_metrics_gauge(m, "loki_http_requests_total", "type clash", NULL), -1);
    const double bad[] = {1, 1};
    assert_int_equal(loki_metrics_histogram(m, "loki_h_seconds", "", NULL, bad, 2), -1);
    const char *badl[] = {"0bad", "v", NULL};
    assert_int_equal(loki_metrics_gauge(m, "loki_g", "", badl), -1);

    loki_metrics_inc(m, r1, 3);
    loki_metrics_inc(m, r2, 1);
    loki_metrics_inc(m, g, 1); /* wrong type: ignored */
    loki_metrics_set(m, g, 2.5);
    loki_metrics_observe(m, h, 0.005);
    loki_metrics_observe(m, h, 0.05);
    loki_metrics_observe(m, h, 5);
    char *s = NULL;
    assert_int_equal(loki_metrics_prometheus(m, &s, NULL), LOKI_OK);
    const char *want = "# HELP loki_http_requests_total HTTP requests.\n"
                       "# TYPE loki_http_requests_total counter\n"
                       "loki_http_requests_total{method=\"POST\",path=\"/v1/\\\"check\\\"\\n\"} 3\n"
                       "loki_http_requests_total{method=\"GET\",path=\"/health\"} 1\n"
                       "# HELP loki_inflight_requests Requests in flight.\n"
                       "# TYPE loki_inflight_requests gauge\n"
                       "loki_inflight_requests 2.5\n"
                       "# HELP loki_request_duration_seconds Latency.\n"
                       "# TYPE loki_request_duration_seconds histogram\n"
                       "loki_request_duration_seconds_bucket{le=\"0.01\"} 1\n"
                       "loki_request_duration_seconds_bucket{le=\"0.1\"} 2\n"
                       "loki_request_duration_seconds_bucket{le=\"1\"} 2\n"
                       "loki_request_duration_seconds_bucket{le=\"+Inf\"} 3\n"
                       "loki_request_duration_seconds_sum 5.055\n"
                       "loki_request_duration_seconds_count 3\n";
    assert_string_equal(s, want);
    free(s);
    /* The registry is bounded. */
    int last = 0;
    for (int i = 0; i < 10; i++) {
        char name[32];
        snprintf(name, sizeof name, "loki_g%d", i);
        last = loki_metrics_gauge(m, name, "", NULL);
    }
    assert_int_equal(last, -1);
    loki_metrics_destroy(m);
    loki_metrics_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(histogram_buckets),       cmocka_unit_test(stats_with_fake_clock),
        cmocka_unit_test(nesting_and_bottlenecks), cmocka_unit_test(macros_and_null_profiler),
        cmocka_unit_test(op_table_is_bounded),     cmocka_unit_test(threads_record_concurrently),
        cmocka_unit_test(profiler_prometheus),     cmocka_unit_test(metrics_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
