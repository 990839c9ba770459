/* SPDX-License-Identifier: MIT */
/* loki_parallel_process(): chunks tile the text, overlaps are honoured, every aggregation gives
 * the serial answer for any thread count and chunk size, errors and progress are reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loki/parallel.h"

static unsigned long long rng = 0x9E3779B97F4A7C15ULL;
static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static char *make_text(size_t n)
{
    char *t = malloc(n + 1);
    assert_non_null(t);
    for (size_t i = 0; i < n; i++) {
        unsigned r = rnd(100);
        t[i] = r < 3 ? '\n' : r < 5 ? 'X' : r < 20 ? ' ' : (char)('a' + r % 26);
    }
    t[n] = '\0';
    return t;
}

typedef struct ctx {
    const char *text;
    size_t len, overlap;
    int fail_at;           /* chunk index whose fn fails, or -1 */
    _Atomic int freed;
    size_t progress_last, progress_total;
} ctx;

/* Counts 'X' in the owned range; checks the chunk's geometry on the way. */
static loki_status count_x(void *c_, const loki_chunk *ch, loki_chunk_result *out, loki_error *err)
{
    ctx *c = c_;
    if (c->fail_at >= 0 && ch->index == (size_t)c->fail_at) {
        snprintf(err->message, sizeof err->message, "chunk %zu refused", ch->index);
        return LOKI_EPARSE;
    }
    assert_true(ch->own_start <= ch->own_end);
    assert_true(ch->offset <= ch->own_start);
    assert_true(ch->own_end <= ch->offset + ch->len);
    size_t want_from = ch->own_start > c->overlap ? ch->own_start - c->overlap : 0;
    assert_int_equal(ch->offset, want_from);
    assert_ptr_equal(ch->text, c->text + ch->offset);
    size_t *n = malloc(sizeof *n);
    assert_non_null(n);
    *n = 0;
    for (size_t i = ch->own_start; i < ch->own_end; i++)
        *n += c->text[i] == 'X';
    out->value = n;
    out->severity = (int)*n;
    return LOKI_OK;
}

static loki_status add(void *c_, void **acc, void *next, loki_error *err)
{
    (void)c_;
    (void)err;
    *(size_t *)*acc += *(size_t *)next;
    free(next);
    return LOKI_OK;
}

static void free_value(void *c_, void *v)
{
    ctx *c = c_;
    c->freed++;
    free(v);
}

static void on_progress(void *c_, size_t done, size_t total)
{
    ctx *c = c_;
    assert_true(done >= c->progress_last);
    c->progress_last = done;
    c->progress_total = total;
}

static void test_aggregations(void **state)
{
    (void)state;
    for (unsigned round = 0; round < 30; round++) {
        size_t n = 1 + rnd(300000);
        char *t = make_text(n);
        size_t want = 0;
        for (size_t i = 0; i < n; i++)
            want += t[i] == 'X';
        ctx c = {.text = t, .len = n, .overlap = rnd(3) ? rnd(5000) : 0, .fail_at = -1};
        loki_parallel_options o;
        loki_parallel_options_default(&o);
        o.chunk_bytes = 4096 + rnd(60000);
        o.overlap = c.overlap;
        o.jobs = 1 + rnd(4);
        o.fn = count_x;
        o.merge = add;
        o.free_value = free_value;
        o.progress = on_progress;
        o.ctx = &c;
        void **v = NULL;
        size_t nv = 0;
        loki_error err;
        /* ALL: one result per chunk, in order; owned ranges tile the text. */
        o.aggregate = LOKI_AGG_ALL;
        assert_int_equal(loki_parallel_process(t, n, &o, &v, &nv, NULL, &err), LOKI_OK);
        assert_true(nv >= 1);
        assert_int_equal(c.progress_last, nv);
        assert_int_equal(c.progress_total, nv);
        size_t sum = 0, best = 0;
        int best_i = 0;
        for (size_t i = 0; i < nv; i++) {
            size_t x = *(size_t *)v[i];
            sum += x;
            if (x > best) {
                best = x;
                best_i = (int)i;
            }
            free(v[i]);
        }
        free(v);
        assert_int_equal(sum, want);
        (void)best_i;
        /* MERGE: the serial sum. */
        c.progress_last = 0;
        o.aggregate = LOKI_AGG_MERGE;
        int sev = -1;
        assert_int_equal(loki_parallel_process(t, n, &o, &v, &nv, &sev, &err), LOKI_OK);
        assert_int_equal(nv, 1);
        assert_int_equal(*(size_t *)v[0], want);
        free(v[0]);
        free(v);
        /* MAX_SEVERITY: the chunk with most X; the others are freed. */
        c.progress_last = 0;
        c.freed = 0;
        o.aggregate = LOKI_AGG_MAX_SEVERITY;
        assert_int_equal(loki_parallel_process(t, n, &o, &v, &nv, &sev, &err), LOKI_OK);
        assert_int_equal(nv, 1);
        assert_int_equal(*(size_t *)v[0], best);
        assert_int_equal(sev, (int)best);
        assert_int_equal(c.freed, (int)c.progress_total - 1);
        free(v[0]);
        free(v);
        free(t);
    }
}

static _Atomic int bad_cuts;
static loki_status check_cut(void *c_, const loki_chunk *ch, loki_chunk_result *out,
                             loki_error *err)
{
    ctx *c = c_;
    if (ch->own_end != c->len && c->text[ch->own_end - 1] != '\n')
        bad_cuts++;
    return count_x(c_, ch, out, err);
}

static void test_cuts_at_line_ends(void **state)
{
    (void)state;
    size_t n = 200000;
    char *t = malloc(n);
    assert_non_null(t);
    memset(t, 'a', n);
    for (size_t i = 999; i < n; i += 1000)
        t[i] = '\n';
    ctx c = {.text = t, .len = n, .fail_at = -1};
    loki_parallel_options o;
    loki_parallel_options_default(&o);
    o.chunk_bytes = 16384;
    o.jobs = 2;
    o.fn = check_cut;
    o.ctx = &c;
    void **v = NULL;
    size_t nv = 0;
    /* Geometry is checked in count_x; here, every cut follows a line end. */
    assert_int_equal(loki_parallel_process(t, n, &o, &v, &nv, NULL, NULL), LOKI_OK);
    assert_true(nv >= 10);
    assert_int_equal(bad_cuts, 0);
    for (size_t i = 0; i < nv; i++)
        free(v[i]);
    free(v);
    free(t);
}

static void test_errors(void **state)
{
    (void)state;
    size_t n = 100000;
    char *t = make_text(n);
    ctx c = {.text = t, .len = n, .fail_at = 3};
    loki_parallel_options o;
    loki_parallel_options_default(&o);
    o.chunk_bytes = 8192;
    o.jobs = 3;
    o.fn = count_x;
    o.free_value = free_value;
    o.ctx = &c;
    void **v = (void **)1;
    size_t nv = 7;
    loki_error err;
    assert_int_equal(loki_parallel_process(t, n, &o, &v, &nv, NULL, &err), LOKI_EPARSE);
    assert_null(v);
    assert_int_equal(nv, 0);
    assert_string_equal(err.message, "chunk 3 refused");
    assert_true(c.freed >= 1); /* the other chunks' results were handed back */
    o.aggregate = LOKI_AGG_MERGE; /* without a merge function */
    assert_int_equal(loki_parallel_process(t, n, &o, &v, &nv, NULL, &err), LOKI_EINVAL);
    o.fn = NULL;
    assert_int_equal(loki_parallel_process(t, n, &o, &v, &nv, NULL, &err), LOKI_EINVAL);
    /* An empty text: no chunk, no call. */
    o.fn = count_x;
    o.aggregate = LOKI_AGG_ALL;
    assert_int_equal(loki_parallel_process("", 0, &o, &v, &nv, NULL, &err), LOKI_OK);
    assert_int_equal(nv, 0);
    free(v);
    free(t);
}

static void test_estimate(void **state)
{
    (void)state;
    /* No engine measurements yet: the built-in 8 MB/s. */
    double one = loki_engine_estimate_ms(NULL, 8000000, 1);
    assert_true(one > 999.0 && one < 1001.0);
    double two = loki_engine_estimate_ms(NULL, 8000000, 2);
    assert_true(two > 555.0 && two < 556.0); /* 1000 / 1.8 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aggregations),
        cmocka_unit_test(test_cuts_at_line_ends),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_estimate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
