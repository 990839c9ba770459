/* SPDX-License-Identifier: MIT */
/* The scanner: spans (byte and code-point offsets, line/column) through loki_check(), the
 * pattern conveniences (whole words, whitespace, case), and a property test: the region-based
 * enumeration equals a plain PCRE2 leftmost enumeration over the whole text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/engine_int.h"
#include "helpers.h"

static const char PACK[] =
    "module: t\nname: T\nversion: '1'\n"
    "patterns:\n"
    "  data: ['personal data']\n"
    "  money: ['£\\d{1,6}']\n"
    "  word: ['interests?']\n"
    "  gap: ['withdraw.{0,20}consent']\n"
    "  digits: ['\\d{2}']\n"
    "  eq: ['={2}']\n"
    "  opt: ['fee £ ?\\d{1,3}']\n"
    "gates:\n"
    "  - id: g\n    title: G\n    severity: high\n    legal: L\n"
    "    outcomes:\n"
    "      - when: data | money | word | gap | digits | eq | opt\n"
    "        status: FAIL\n        message: found\n"
    "        spans: [data, money, word, gap, digits, eq, opt]\n"
    "    examples:\n      pass: ['x']\n      fail: ['personal data']\n";

static loki_engine *eng;

static int setup(void **st)
{
    (void)st;
    loki_error err;
    if (th_engine(PACK, &eng, &err) != LOKI_OK) {
        print_error("engine: %s:%u:%u %s\n", err.file, err.line, err.column, err.message);
        return -1;
    }
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    loki_engine_destroy(eng);
    return 0;
}

static const loki_finding *check1(const char *text, loki_verdict **v)
{
    loki_error err;
    loki_status s = loki_check(eng, text, strlen(text), NULL, v, &err);
    if (s != LOKI_OK)
        fail_msg("check: %s", err.message);
    return &(*v)->modules[0].findings[0];
}

static void spans_ascii_and_multibyte(void **st)
{
    (void)st;
    loki_verdict *v;
    const char *t = "Café owners:\nwe hold PERSONAL\n  DATA and charge £250.";
    const loki_finding *f = check1(t, &v);
    assert_int_equal(f->status, LOKI_FAIL);
    /* personal data and £250; not "25" or "50": two digits must be a whole word */
    assert_int_equal(f->n_spans, 2);
    const loki_span *s = &f->spans[0];
    size_t off = (size_t)(strstr(t, "PERSONAL") - t);
    assert_int_equal(s->start, off);
    assert_int_equal(s->end, off + strlen("PERSONAL\n  DATA"));
    assert_int_equal(s->line, 2);
    assert_int_equal(s->column, 9);
    assert_int_equal(s->char_start, off - 1); /* é is two bytes */
    assert_memory_equal(s->text, "PERSONAL\n  DATA", s->text_len);
    assert_string_equal(s->label, "data");
    s = &f->spans[1];
    off = (size_t)(strstr(t, "£250") - t);
    assert_int_equal(s->start, off);
    assert_int_equal(s->end, off + 5); /* £ is two bytes */
    assert_int_equal(s->char_end - s->char_start, 4);
    assert_int_equal(s->line, 3);
    assert_int_equal(s->column, 19);
    loki_verdict_destroy(v);
}

static void optional_space(void **st)
{
    (void)st;
    loki_verdict *v;
    /* ' ?' is optional whitespace: both spellings match (the fee words are in set opt). */
    const loki_finding *f = check1("a fee £3 and a fee £ 4 and a fee\n£5", &v);
    size_t n = 0;
    for (size_t i = 0; i < f->n_spans; i++)
        n += strcmp(f->spans[i].label, "opt") == 0;
    assert_int_equal(n, 3);
    loki_verdict_destroy(v);
}

static void whole_words_only(void **st)
{
    (void)st;
    loki_verdict *v;
    const loki_finding *f = check1("disinterested interestsx interest, interests.", &v);
    assert_int_equal(f->n_spans, 2);
    assert_memory_equal(f->spans[0].text, "interest", 8);
    assert_int_equal(f->spans[0].text_len, 8);
    assert_int_equal(f->spans[1].text_len, 9);
    loki_verdict_destroy(v);
    f = check1("personal database", &v);
    assert_int_equal(f->status, LOKI_PASS);
    loki_verdict_destroy(v);
}

static void bounded_gap_leftmost_nonoverlapping(void **st)
{
    (void)st;
    loki_verdict *v;
    /* "====" gives two non-overlapping "={2}" matches, not three; "1234" is not a
     * whole-word two-digit match but "12 34" is two. */
    const loki_finding *f = check1("==== 1234 12 34 and withdraw your consent", &v);
    assert_int_equal(f->n_spans, 5);
    assert_int_equal(f->spans[0].start, 0);
    assert_int_equal(f->spans[0].end, 2);
    assert_int_equal(f->spans[1].start, 2);
    assert_int_equal(f->spans[1].end, 4);
    assert_int_equal(f->spans[2].start, 10);
    assert_int_equal(f->spans[3].start, 13);
    assert_memory_equal(f->spans[4].text, "withdraw your consent", 21);
    loki_verdict_destroy(v);
    /* A gap wider than 20 bytes is no match. */
    f = check1("withdraw, if you want to at some point, consent", &v);
    assert_int_equal(f->status, LOKI_PASS);
    loki_verdict_destroy(v);
}

/* Property: for random texts over a small alphabet, the scanner's matches for each pattern
 * equal PCRE2's leftmost non-overlapping enumeration over the whole text. */
static void regions_equal_full_enumeration(void **st)
{
    (void)st;
    static const char *words[] = {"personal", "data", " ", " ", "\n", "withdraw", "consent",
                                  "12", "3", "£", "interest", "s", "x", ".", "=="};
    srand(12345);
    loki_scratch *s = loki__engine_scratch_get(eng);
    loki_ruleset *rs = eng->rs;
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    for (int iter = 0; iter < 300; iter++) {
        char text[4096];
        size_t len = 0;
        size_t target = (size_t)(rand() % 3000);
        while (len < target) {
            const char *w = words[rand() % 15];
            size_t n = strlen(w);
            if (len + n >= sizeof text)
                break;
            memcpy(text + len, w, n);
            len += n;
        }
        loki_error err;
        assert_int_equal(loki__scan(rs, &eng->db, s, text, len, &err), LOKI_OK);
        for (size_t p = 0; p < rs->n_patterns; p++) {
            const loki_pattern *pat = &rs->patterns[p];
            const loki_set_matches *sm = &s->mt.sets[pat->set];
            size_t k = 0, pos = 0;
            while (pos < len) {
                int rc = pcre2_match(loki__pattern_code(rs, (loki_pattern *)pat, NULL), (PCRE2_SPTR)text, len, pos, 0,
                                     md, NULL);
                if (rc < 0)
                    break;
                PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
                /* every pattern here is alone in its set, so set matches == pattern matches */
                assert_true(k < sm->n);
                assert_int_equal(sm->m[k].start, ov[0]);
                assert_int_equal(sm->m[k].end, ov[1]);
                k++;
                pos = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
            }
            assert_int_equal(k, sm->n);
        }
    }
    pcre2_match_data_free(md);
    loki__engine_scratch_put(eng, s);
}

/* Property: a chunked parallel scan gives exactly the match table of a one-thread scan, over
 * random documents, random worker counts and random chunk sizes. */
static void parallel_equals_sequential(void **st)
{
    (void)st;
    static const char *words[] = {"personal", "data", " ", " ", "\n", "\n\n", "withdraw",
                                  "consent", "12", "3", "£", "interest", "s", ".", "=="};
    srand(777);
    loki_ruleset *rs = eng->rs;
    loki_scratch *seq = loki__engine_scratch_get(eng);
    loki_scratch *ws[6];
    for (int i = 0; i < 6; i++)
        ws[i] = loki__engine_scratch_get(eng);
    size_t cap = 200000;
    char *text = malloc(cap);
    for (int iter = 0; iter < 60; iter++) {
        size_t len = 0, target = 1000 + (size_t)(rand() % 150000);
        while (len < target) {
            const char *w = words[rand() % 15];
            size_t n = strlen(w);
            if (len + n >= cap)
                break;
            memcpy(text + len, w, n);
            len += n;
        }
        loki_error err;
        loki__scan_reset(rs, seq);
        for (size_t m = 0; m < rs->n_modules; m++)
            assert_int_equal(loki__scan_db(rs, &eng->db, LOKI_DB_MODULE(m), seq, text, len, &err),
                             LOKI_OK);
        loki_par par = {ws, 2 + (size_t)(rand() % 5), 1 + (size_t)(rand() % 5000)};
        loki_scratch *own = ws[0];
        loki__scan_reset(rs, own);
        for (size_t m = 0; m < rs->n_modules; m++)
            assert_int_equal(
                loki__scan_db_par(rs, &eng->db, LOKI_DB_MODULE(m), own, &par, text, len, &err),
                LOKI_OK);
        for (size_t k = 0; k < rs->n_sets; k++) {
            const loki_set_matches *a = &seq->mt.sets[k], *b = &own->mt.sets[k];
            assert_int_equal(a->n, b->n);
            assert_int_equal(a->distinct, b->distinct);
            for (size_t q = 0; q < a->n; q++) {
                assert_int_equal(a->m[q].start, b->m[q].start);
                assert_int_equal(a->m[q].end, b->m[q].end);
            }
        }
    }
    free(text);
    for (int i = 0; i < 6; i++)
        loki__engine_scratch_put(eng, ws[i]);
    loki__engine_scratch_put(eng, seq);
}

/* The whole verdict (JSON, without timings) is byte-identical with 1 and 3 jobs. */
static void parallel_verdict_identical(void **st)
{
    (void)st;
    const char *d = th_tmpdir("par");
    th_write(d, "p.yaml", PACK);
    loki_engine_config cfg;
    loki_engine_config_default(&cfg);
    cfg.rules_path = d;
    cfg.jobs = 3;
    cfg.parallel_threshold = 1;
    loki_engine *e3 = NULL;
    loki_error err;
    assert_int_equal(loki_engine_create(&cfg, &e3, &err), LOKI_OK);
    size_t len = 3u << 20;
    char *t = malloc(len);
    const char *para = "We hold personal data and charge £12 fees. withdraw your consent 12 34\n\n";
    size_t pl = strlen(para);
    for (size_t o = 0; o < len; o++)
        t[o] = para[o % pl];
    loki_check_options o;
    loki_check_options_default(&o);
    o.timestamp = 1;
    loki_verdict *v1 = NULL, *v3 = NULL;
    assert_int_equal(loki_check(eng, t, len, &o, &v1, &err), LOKI_OK);
    assert_int_equal(loki_check(e3, t, len, &o, &v3, &err), LOKI_OK);
    char *j1, *j3;
    assert_int_equal(loki_verdict_to_json(v1, LOKI_JSON_NO_TIMINGS, &j1, NULL), LOKI_OK);
    assert_int_equal(loki_verdict_to_json(v3, LOKI_JSON_NO_TIMINGS, &j3, NULL), LOKI_OK);
    assert_string_equal(j1, j3);
    free(j1);
    free(j3);
    free(t);
    loki_verdict_destroy(v1);
    loki_verdict_destroy(v3);
    loki_engine_destroy(e3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spans_ascii_and_multibyte),
        cmocka_unit_test(whole_words_only),
        cmocka_unit_test(optional_space),
        cmocka_unit_test(bounded_gap_leftmost_nonoverlapping),
        cmocka_unit_test(regions_equal_full_enumeration),
        cmocka_unit_test(parallel_equals_sequential),
        cmocka_unit_test(parallel_verdict_identical),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
