/* SPDX-License-Identifier: MIT */
/*
 * Streaming checks give the verdict loki_check() gives for the whole text: property tests over
 * random documents, random piece sizes and small segments (so matches, near() pairs, counts
 * and long regions cross segment edges), on a pack written for the purpose and on the bundled
 * packs; plus encoding errors located at the same place, and misuse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"
#include "loki/loki.h"

/* Sets read in every way the evaluator reads them: presence, count(), distinct(), near(),
 * spans; a long pattern (regions wider than a small segment's overlap matter) and patterns
 * anchored by \b at both ends. */
static const char PACK[] =
    "module: t\nname: T\nversion: '1'\n"
    "patterns:\n"
    "  a: ['alpha', 'alph[eo]n']\n"
    "  b: ['beta\\w{0,5}', 'b[eé]ta']\n"
    "  c: ['gamma.{0,300}delta']\n"
    "  d: ['\\d{3,6}']\n"
    "  e: ['epsilon']\n"
    "gates:\n"
    "  - id: near_ab\n    title: N\n    severity: high\n    legal: L\n"
    "    outcomes:\n"
    "      - when: near(a, b, 40)\n        status: FAIL\n        message: near\n"
    "        spans: [a, b]\n"
    "    examples:\n      pass: ['x']\n      fail: ['alpha beta']\n"
    "  - id: count_d\n    title: C\n    severity: medium\n    legal: L\n"
    "    outcomes:\n"
    "      - when: count(d) >= 7\n        status: FAIL\n        message: many\n"
    "        spans: [d]\n"
    "      - when: count(d) >= 3\n        status: WARNING\n        message: some\n"
    "    examples:\n      pass: ['x']\n      fail: ['100 200 300 400 500 600 700']\n"
    "  - id: long_c\n    title: L\n    severity: low\n    legal: L\n"
    "    relevant: e | c\n"
    "    outcomes:\n"
    "      - when: c & distinct(a) >= 2\n        status: FAIL\n        message: long\n"
    "        spans: [c, e]\n"
    "    examples:\n      pass: ['x']\n      fail: ['gamma delta alpha alphon']\n";

static const char *const WORDS[] = {
    "alpha", "alphen", "alphon", "beta", "betamax", "béta", "gamma", "delta", "epsilon",
    "12", "123", "4567", "1234567", "the", "of", "data", "é", "—", "€", "notice",
    "alphabet", "xalpha", "\n", "\n\n", ".", ",", "personal", "consent", "beta_x",
};

static unsigned long long rng = 88172645463325252ULL;
static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static char *random_doc(size_t approx, size_t *len)
{
    size_t cap = approx + 64, n = 0;
    char *p = malloc(cap);
    assert_non_null(p);
    while (n < approx) {
        const char *w = WORDS[rnd(sizeof WORDS / sizeof *WORDS)];
        size_t l = strlen(w);
        if (rnd(50) == 0) { /* a long line with no break, to make segments cut anywhere */
            for (int i = 0; i < 40 && n + 6 < approx; i++) {
                memcpy(p + n, "xxxxx ", 6);
                n += 6;
            }
            continue;
        }
        if (n + l + 1 >= cap)
            break;
        memcpy(p + n, w, l);
        n += l;
        p[n++] = ' ';
    }
    *len = n;
    return p;
}

static loki_engine *engine_over(const char *rules, size_t segment)
{
    loki_engine_config cfg;
    loki_engine_config_default(&cfg);
    cfg.rules_path = rules;
    cfg.stream_segment_bytes = segment;
    cfg.cache_dir = getenv("LOKI_TEST_CACHE");
    loki_engine *eng = NULL;
    loki_error err;
    loki_status st = loki_engine_create(&cfg, &eng, &err);
    if (st != LOKI_OK)
        fail_msg("engine: %s:%u:%u %s", err.file, err.line, err.column, err.message);
    return eng;
}

static char *render(const loki_verdict *v)
{
    char *js = NULL;
    assert_int_equal(loki_verdict_to_json(v, LOKI_JSON_PRETTY | LOKI_JSON_NO_TIMINGS, &js, NULL),
                     LOKI_OK);
    return js;
}

/* Feeds text in random pieces (max_piece 0: all at once) and returns the verdict's JSON. */
static char *streamed(loki_engine *eng, const loki_check_options *o, const char *t, size_t n,
                      unsigned max_piece)
{
    loki_stream *st = NULL;
    loki_error err;
    assert_int_equal(loki_stream_begin(eng, o, &st, &err), LOKI_OK);
    size_t off = 0;
    while (off < n) {
        size_t k = max_piece ? 1 + rnd(max_piece) : n;
        if (k > n - off)
            k = n - off;
        loki_status rc = loki_stream_feed(st, t + off, k, &err);
        if (rc != LOKI_OK)
            fail_msg("feed: %s", err.message);
        off += k;
    }
    assert_int_equal(loki_stream_bytes(st), n);
    loki_verdict *v = NULL;
    loki_status rc = loki_stream_end(st, &v, &err);
    if (rc != LOKI_OK)
        fail_msg("end: %s", err.message);
    loki_stream_destroy(st);
    char *js = render(v);
    loki_verdict_destroy(v);
    return js;
}

static char *whole(loki_engine *eng, const loki_check_options *o, const char *t, size_t n)
{
    loki_verdict *v = NULL;
    loki_error err;
    loki_status rc = loki_check(eng, t, n, o, &v, &err);
    if (rc != LOKI_OK)
        fail_msg("check: %s", err.message);
    char *js = render(v);
    loki_verdict_destroy(v);
    return js;
}

static void same(const char *a, const char *b, const char *what, unsigned round)
{
    if (strcmp(a, b) == 0)
        return;
    size_t i = 0;
    while (a[i] && a[i] == b[i])
        i++;
    size_t from = i > 200 ? i - 200 : 0;
    fail_msg("%s (round %u): verdicts differ at byte %zu:\nwhole:  %.400s\nstream: %.400s", what,
             round, i, a + from, b + from);
}

static void test_pack_property(void **state)
{
    (void)state;
    const char *dir = th_tmpdir("stream_pack");
    th_write(dir, "t.yaml", PACK);
    loki_engine *eng = engine_over(dir, 4096);
    loki_check_options o;
    loki_check_options_default(&o);
    o.timestamp = 1;
    unsigned fired_near = 0, fired_count = 0;
    for (unsigned round = 0; round < 40; round++) {
        size_t n;
        char *t = random_doc(2000 + rnd(60000), &n);
        char *a = whole(eng, &o, t, n);
        char *b = streamed(eng, &o, t, n, round % 3 == 0 ? 0 : 1 + rnd(9000));
        same(a, b, "test pack", round);
        fired_near += strstr(a, "\"message\": \"near\"") != NULL;
        fired_count += strstr(a, "\"message\": \"many\"") != NULL;
        free(a);
        free(b);
        free(t);
    }
    /* The documents exercised the conditions (a property that never fires proves little). */
    assert_true(fired_near > 5);
    assert_true(fired_count > 5);
    loki_engine_destroy(eng);
}

/* near() whose two matches lie in different segments, and a count spread over many. */
static void test_pack_across_segments(void **state)
{
    (void)state;
    const char *dir = th_tmpdir("stream_pack2");
    th_write(dir, "t.yaml", PACK);
    loki_engine *eng = engine_over(dir, 4096);
    loki_check_options o;
    loki_check_options_default(&o);
    o.timestamp = 1;
    size_t n = 30000;
    char *t = malloc(n);
    assert_non_null(t);
    memset(t, 'x', n);
    for (size_t i = 99; i < n; i += 100)
        t[i] = '\n';
    memcpy(t + 4090, " alpha ", 7);       /* near pair across the first segment edge */
    memcpy(t + 4120, " beta ", 6);
    for (size_t i = 0; i < 8; i++)        /* one number per segment: count(d) >= 7 */
        memcpy(t + 2000 + i * 3500, " 4242 ", 6);
    char *a = whole(eng, &o, t, n);
    assert_non_null(strstr(a, "\"message\": \"near\""));
    assert_non_null(strstr(a, "\"message\": \"many\""));
    char *b = streamed(eng, &o, t, n, 1000);
    same(a, b, "across segments", 0);
    free(a);
    free(b);
    free(t);
    loki_engine_destroy(eng);
}

static char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)sz + 1);
    assert_non_null(p);
    *n = fread(p, 1, (size_t)sz, f);
    fclose(f);
    return p;
}

static const char *const DOMAIN_DOCS[] = {
    "fca_uk/violating.txt", "gdpr_uk/violating.txt", "nda_uk/violating.txt",
    "tax_uk/violating.txt", "hr_scottish/violating.txt", "uk_employment/violating.txt",
    "fca_uk/compliant.txt", "gdpr_uk/compliant.txt", "industry_specific/violating.txt",
    "scottish_law/violating.txt",
};

/* The bundled packs: each domain document alone (one segment: the whole verdict, detectors
 * included, must match), and many of them run together into a large document cut into small
 * segments (the rule-pack verdict must match; the detectors run per segment by design). */
static void test_bundled_packs(void **state)
{
    (void)state;
    loki_engine *eng = engine_over(LOKI_SOURCE_RULES, 4096);
    loki_engine *big = engine_over(LOKI_SOURCE_RULES, 1u << 20);
    loki_check_options o;
    loki_check_options_default(&o);
    o.timestamp = 1;
    size_t cap = 1u << 20, n_all = 0;
    char *all = malloc(cap);
    assert_non_null(all);
    for (size_t i = 0; i < sizeof DOMAIN_DOCS / sizeof *DOMAIN_DOCS; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/golden/domains/%s", LOKI_SOURCE_DIR, DOMAIN_DOCS[i]);
        size_t n = 0;
        char *t = read_file(path, &n);
        if (!t)
            fail_msg("cannot read %s", path);
        char *a = whole(big, &o, t, n);
        char *b = streamed(big, &o, t, n, 1 + rnd(500));
        same(a, b, DOMAIN_DOCS[i], 0);
        free(a);
        free(b);
        for (int rep = 0; rep < 3 && n_all + n < cap; rep++) {
            memcpy(all + n_all, t, n);
            n_all += n;
        }
        free(t);
    }
    o.no_universal = 1;
    const char *types[] = {NULL, "privacy_notice", "financial_promotion", "ai_generated"};
    for (unsigned k = 0; k < 4; k++) {
        o.document_type = types[k];
        char *a = whole(eng, &o, all, n_all);
        char *b = streamed(eng, &o, all, n_all, 1 + rnd(20000));
        same(a, b, types[k] ? types[k] : "unknown", k);
        free(a);
        free(b);
    }
    free(all);
    loki_engine_destroy(eng);
    loki_engine_destroy(big);
}

/* An invalid byte deep in the stream is reported where loki_check() reports it, and the
 * stream stays failed. A multi-byte character split between two feeds is not an error. */
static void test_encoding(void **state)
{
    (void)state;
    const char *dir = th_tmpdir("stream_pack3");
    th_write(dir, "t.yaml", PACK);
    loki_engine *eng = engine_over(dir, 4096);
    size_t n = 20000;
    char *t = malloc(n);
    assert_non_null(t);
    for (size_t i = 0; i < n; i++)
        t[i] = (char)(i % 37 == 36 ? '\n' : 'a' + (char)(i % 26));
    memcpy(t + 5000, "\xc3\xa9", 2); /* é, fed in two halves below */
    t[15000] = '\xff';
    loki_error e1, e2;
    loki_verdict *v = NULL;
    assert_int_equal(loki_check(eng, t, n, NULL, &v, &e1), LOKI_EENCODING);
    loki_stream *st = NULL;
    assert_int_equal(loki_stream_begin(eng, NULL, &st, &e2), LOKI_OK);
    assert_int_equal(loki_stream_feed(st, t, 5001, &e2), LOKI_OK);
    loki_status rc = loki_stream_feed(st, t + 5001, n - 5001, &e2);
    if (rc == LOKI_OK)
        rc = loki_stream_end(st, &v, &e2);
    assert_int_equal(rc, LOKI_EENCODING);
    assert_int_equal(e2.offset, e1.offset);
    assert_int_equal(e2.line, e1.line);
    assert_int_equal(e2.column, e1.column);
    assert_int_equal(loki_stream_feed(st, "ok", 2, &e2), LOKI_EENCODING);
    assert_int_equal(loki_stream_end(st, &v, &e2), LOKI_EENCODING);
    assert_null(v);
    loki_stream_destroy(st);
    /* A text that ends inside a character is invalid at its end. */
    assert_int_equal(loki_stream_begin(eng, NULL, &st, &e2), LOKI_OK);
    assert_int_equal(loki_stream_feed(st, "abc\xe2\x82", 5, &e2), LOKI_OK);
    assert_int_equal(loki_stream_end(st, &v, &e2), LOKI_EENCODING);
    assert_int_equal(e2.offset, 3);
    loki_stream_destroy(st);
    free(t);
    loki_engine_destroy(eng);
}

static void test_misuse(void **state)
{
    (void)state;
    const char *dir = th_tmpdir("stream_pack4");
    th_write(dir, "t.yaml", PACK);
    loki_engine *eng = engine_over(dir, 4096);
    loki_stream *st = NULL;
    loki_error err;
    loki_check_options o;
    loki_check_options_default(&o);
    const char *mods[] = {"nope"};
    o.modules = mods;
    o.n_modules = 1;
    assert_int_equal(loki_stream_begin(eng, &o, &st, &err), LOKI_EINVAL);
    assert_null(st);
    assert_non_null(strstr(err.message, "nope"));
    o.modules = NULL;
    o.n_modules = 0;
    o.document_type = "no_such_type";
    assert_int_equal(loki_stream_begin(eng, &o, &st, &err), LOKI_EINVAL);
    assert_int_equal(loki_stream_feed(NULL, "x", 1, &err), LOKI_EINVAL);
    /* An empty stream is an empty document. */
    assert_int_equal(loki_stream_begin(eng, NULL, &st, &err), LOKI_OK);
    loki_verdict *v = NULL;
    assert_int_equal(loki_stream_end(st, &v, &err), LOKI_OK);
    assert_int_equal(v->document_bytes, 0);
    assert_string_equal(v->document_hash,
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    loki_verdict *v2 = NULL;
    assert_int_equal(loki_stream_end(st, &v2, &err), LOKI_EINVAL); /* ended already */
    assert_null(v2);
    loki_verdict_destroy(v);
    loki_stream_destroy(st);
    loki_stream_destroy(NULL);
    loki_engine_destroy(eng);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack_property),
        cmocka_unit_test(test_pack_across_segments),
        cmocka_unit_test(test_encoding),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_bundled_packs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
