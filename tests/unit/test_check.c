#define _GNU_SOURCE /* memmem */
/* SPDX-License-Identifier: MIT */
/* loki_check() through the public API: bad input, applicability, risk, determinism, and the
 * on-disk compiled-database cache (reused when valid, rebuilt when corrupt or stale). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"

static const char PACK[] =
    "module: m\nname: M\nversion: '1'\n"
    "applies_to: [privacy_notice]\n"
    "domain: subject\n"
    "patterns:\n  subject: ['privacy notice']\n"
    "gates:\n"
    "  - id: crit\n    title: C\n    severity: critical\n    legal: L1\n"
    "    patterns:\n      bad: ['forbidden']\n"
    "    outcomes:\n      - when: bad\n        status: FAIL\n        message: bad\n"
    "    examples:\n      pass: ['x']\n      fail: ['forbidden']\n"
    "  - id: warn\n    title: W\n    severity: high\n    legal: L2\n"
    "    relevant: subject\n"
    "    patterns:\n      odd: ['odd']\n"
    "    outcomes:\n      - when: odd\n        status: WARNING\n        message: odd\n"
    "      - status: PASS\n        message: fine\n"
    "    examples:\n      pass: ['privacy notice']\n      fail: ['nothing']\n";

static loki_engine *eng;

static int setup(void **st)
{
    (void)st;
    loki_error err;
    return th_engine(PACK, &eng, &err) == LOKI_OK ? 0 : -1;
}

static int teardown(void **st)
{
    (void)st;
    loki_engine_destroy(eng);
    return 0;
}

static loki_verdict *run(const char *text, const char *type)
{
    loki_check_options o;
    loki_check_options_default(&o);
    o.document_type = type;
    loki_verdict *v = NULL;
    loki_error err;
    loki_status s = loki_check(eng, text, strlen(text), &o, &v, &err);
    if (s != LOKI_OK)
        fail_msg("check failed: %s", err.message);
    return v;
}

static void bad_input_errors(void **st)
{
    (void)st;
    loki_verdict *v = NULL;
    loki_error err;
    assert_int_equal(loki_check(eng, "ok\nbad \xff here", 14, NULL, &v, &err), LOKI_EENCODING);
    assert_null(v);
    assert_int_equal(err.offset, 7);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.column, 5);
    assert_non_null(strstr(err.message, "byte 7"));
    assert_int_equal(loki_check(eng, "a\0b", 3, NULL, &v, &err), LOKI_EENCODING);
    assert_non_null(strstr(err.message, "NUL byte"));
    loki_check_options o;
    loki_check_options_default(&o);
    const char *mods[] = {"m", "nope"};
    o.modules = mods;
    o.n_modules = 2;
    assert_int_equal(loki_check(eng, "x", 1, &o, &v, &err), LOKI_EINVAL);
    assert_non_null(strstr(err.message, "unknown module 'nope' (valid: m)"));
    loki_check_options_default(&o);
    o.document_type = "memo";
    assert_int_equal(loki_check(eng, "x", 1, &o, &v, &err), LOKI_EINVAL);
    assert_non_null(strstr(err.message, "unknown document type 'memo'"));
    assert_int_equal(loki_check(eng, NULL, 5, NULL, &v, &err), LOKI_EINVAL);
}

static void empty_document(void **st)
{
    (void)st;
    loki_verdict *v = NULL;
    loki_error err;
    assert_int_equal(loki_check(eng, "", 0, NULL, &v, &err), LOKI_OK);
    assert_int_equal(v->overall_risk, LOKI_RISK_LOW);
    assert_string_equal(v->document_hash,
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(v->modules[0].applicable, 0); /* no subject: domain false */
    loki_verdict_destroy(v);
}

static void applicability_by_type_and_domain(void **st)
{
    (void)st;
    /* unknown type, domain false: every gate N/A, even with a forbidden word */
    loki_verdict *v = run("forbidden", NULL);
    assert_int_equal(v->modules[0].applicable, 0);
    assert_int_equal(v->modules[0].findings[0].status, LOKI_NA);
    assert_int_equal(v->overall_risk, LOKI_RISK_LOW);
    loki_verdict_destroy(v);
    /* given type that the module declares: applies without the domain words */
    v = run("forbidden", "privacy_notice");
    assert_int_equal(v->modules[0].findings[0].status, LOKI_FAIL);
    assert_int_equal(v->modules[0].findings[1].status, LOKI_NA); /* relevant: subject */
    assert_int_equal(v->overall_risk, LOKI_RISK_CRITICAL);
    loki_verdict_destroy(v);
    /* given type not declared: N/A even with the domain words */
    v = run("privacy notice: forbidden", "invoice");
    assert_int_equal(v->modules[0].applicable, 0);
    loki_verdict_destroy(v);
}

static void risk_levels(void **st)
{
    (void)st;
    loki_verdict *v = run("privacy notice, odd", NULL);
    assert_int_equal(v->modules[0].findings[1].status, LOKI_WARNING);
    assert_int_equal(v->warning_by_severity[LOKI_SEV_HIGH], 1);
    assert_int_equal(v->overall_risk, LOKI_RISK_MEDIUM); /* a high WARNING */
    assert_int_equal(v->modules[0].summary[LOKI_WARNING], 1);
    assert_int_equal(v->modules[0].summary[LOKI_PASS], 1); /* crit: no outcome → PASS */
    loki_verdict_destroy(v);
}

static void json_is_deterministic(void **st)
{
    (void)st;
    const char *t = "privacy notice: forbidden \"quoted\"\tand odd";
    loki_verdict *a = run(t, NULL), *b = run(t, NULL);
    char *ja, *jb;
    assert_int_equal(loki_verdict_to_json(a, LOKI_JSON_NO_TIMINGS, &ja, NULL), LOKI_OK);
    assert_int_equal(loki_verdict_to_json(b, LOKI_JSON_NO_TIMINGS, &jb, NULL), LOKI_OK);
    assert_string_equal(ja, jb);
    assert_null(strstr(ja, "timings"));
    assert_non_null(strstr(ja, "\"overall_risk\":\"CRITICAL\""));
    assert_non_null(strstr(ja, "\"legal_source\":\"L1\""));
    free(ja);
    free(jb);
    loki_verdict_destroy(a);
    loki_verdict_destroy(b);
}

static void size_limit(void **st)
{
    (void)st;
    const char *d = th_tmpdir("lim");
    th_write(d, "p.yaml", PACK);
    loki_engine_config cfg;
    loki_engine_config_default(&cfg);
    cfg.rules_path = d;
    cfg.max_document_bytes = 10;
    loki_engine *e = NULL;
    loki_error err;
    assert_int_equal(loki_engine_create(&cfg, &e, &err), LOKI_OK);
    loki_verdict *v = NULL;
    assert_int_equal(loki_check(e, "01234567890", 11, NULL, &v, &err), LOKI_ELIMIT);
    assert_non_null(strstr(err.message, "limit is 10"));
    assert_int_equal(loki_check(e, "0123456789", 10, NULL, &v, &err), LOKI_OK);
    loki_verdict_destroy(v);
    loki_engine_destroy(e);
}

static void disk_cache_reused_and_rebuilt(void **st)
{
    (void)st;
    const char *d0 = th_tmpdir("cache_rules");
    char rules[1100], cache[1100];
    snprintf(rules, sizeof rules, "%s", d0);
    th_write(rules, "p.yaml", PACK);
    snprintf(cache, sizeof cache, "%s/cache/sub", rules);
    loki_engine_config cfg;
    loki_engine_config_default(&cfg);
    cfg.rules_path = rules;
    cfg.cache_dir = cache;
    loki_engine *e = NULL;
    loki_error err;
    assert_int_equal(loki_engine_create(&cfg, &e, &err), LOKI_OK);
    assert_int_equal(loki_engine_db_from_cache(e), 0);
    char path[1300];
    snprintf(path, sizeof path, "%s/%s.hsdb", cache, loki_engine_fingerprint(e));
    loki_engine_destroy(e);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    /* Second start: from cache, same verdicts. */
    assert_int_equal(loki_engine_create(&cfg, &e, &err), LOKI_OK);
    assert_int_equal(loki_engine_db_from_cache(e), 1);
    loki_verdict *v = NULL;
    assert_int_equal(loki_check(e, "forbidden", 9, NULL, &v, &err), LOKI_OK);
    loki_verdict_destroy(v);
    loki_engine_destroy(e);
    /* Corrupt one byte in the middle: detected, rebuilt, rewritten. */
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, (long)(sb.st_size / 2), SEEK_SET);
    int c = fgetc(f);
    fseek(f, (long)(sb.st_size / 2), SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
    assert_int_equal(loki_engine_create(&cfg, &e, &err), LOKI_OK);
    assert_int_equal(loki_engine_db_from_cache(e), 0);
    loki_engine_destroy(e);
    assert_int_equal(loki_engine_create(&cfg, &e, &err), LOKI_OK);
    assert_int_equal(loki_engine_db_from_cache(e), 1);
    loki_engine_destroy(e);
    /* Truncated file: same. */
    assert_int_equal(truncate(path, 100), 0);
    assert_int_equal(loki_engine_create(&cfg, &e, &err), LOKI_OK);
    assert_int_equal(loki_engine_db_from_cache(e), 0);
    loki_engine_destroy(e);
    /* A changed pack has another fingerprint: never the old database. */
    char changed[sizeof PACK + 20];
    snprintf(changed, sizeof changed, "%s", PACK);
    char *p = strstr(changed, "forbidden");
    memcpy(p, "FORBIDDEN", 9);
    th_write(rules, "p.yaml", changed);
    assert_int_equal(loki_engine_create(&cfg, &e, &err), LOKI_OK);
    assert_int_equal(loki_engine_db_from_cache(e), 0);
    loki_engine_destroy(e);
}

/* The universal detectors run in every check (unless turned off), report masked spans, and
 * count toward the overall risk. */
static void universal_findings_in_verdict(void **st)
{
    (void)st;
    const char *t = "Sure! The customer's card is 4111 1111 1111 1111, expiry 12/29.";
    loki_check_options o;
    loki_check_options_default(&o);
    o.document_type = "ai_generated";
    loki_verdict *v = NULL;
    loki_error err;
    assert_int_equal(loki_check(eng, t, strlen(t), &o, &v, &err), LOKI_OK);
    size_t cards = 0;
    for (size_t i = 0; i < v->n_universal; i++) {
        const loki_universal_finding *u = &v->universal[i];
        if (strcmp(u->type, "payment_card") != 0)
            continue;
        cards++;
        assert_int_equal(u->status, LOKI_FAIL);
        assert_int_equal(u->severity, LOKI_SEV_CRITICAL);
        assert_int_equal(u->n_spans, 1);
        assert_int_equal(u->spans[0].start, (size_t)(strstr(t, "4111") - t));
        assert_null(memmem(u->spans[0].text, u->spans[0].text_len, "4111 1111", 9));
    }
    assert_int_equal(cards, 1);
    assert_int_equal(v->overall_risk, LOKI_RISK_CRITICAL);
    char *js;
    assert_int_equal(loki_verdict_to_json(v, 0, &js, NULL), LOKI_OK);
    assert_null(strstr(js, "4111 1111 1111 1111")); /* never the full value */
    assert_non_null(strstr(js, "\"type\":\"payment_card\""));
    free(js);
    loki_verdict_destroy(v);
    /* A Luhn-invalid number is no card; --no-universal turns the detectors off. */
    const char *bad = "The customer's card is 4111 1111 1111 1112.";
    assert_int_equal(loki_check(eng, bad, strlen(bad), &o, &v, &err), LOKI_OK);
    for (size_t i = 0; i < v->n_universal; i++)
        assert_string_not_equal(v->universal[i].type, "payment_card");
    loki_verdict_destroy(v);
    o.no_universal = 1;
    assert_int_equal(loki_check(eng, t, strlen(t), &o, &v, &err), LOKI_OK);
    assert_int_equal(v->n_universal, 0);
    assert_int_equal(v->overall_risk, LOKI_RISK_LOW);
    loki_verdict_destroy(v);
}

static void engine_statistics(void **st)
{
    (void)st;
    loki_engine_stats a, b;
    loki_engine_stats_get(eng, &a);
    loki_verdict *v = run("privacy notice: forbidden", NULL);
    loki_verdict_destroy(v);
    loki_error err;
    assert_int_equal(loki_check(eng, "bad\xff", 4, NULL, &v, &err), LOKI_EENCODING);
    loki_engine_stats_get(eng, &b);
    assert_int_equal(b.checks - a.checks, 1);
    assert_int_equal(b.errors - a.errors, 1);
    assert_int_equal(b.bytes - a.bytes, strlen("privacy notice: forbidden"));
    assert_true(b.scan_ms >= a.scan_ms);
}

static void document_type_inference(void **st)
{
    (void)st;
    const char *d = th_tmpdir("doctypes");
    th_write(d, "p.yaml", PACK);
    th_write(d, "_doctypes.yaml",
             "doctypes:\n"
             "  invoice:\n    min: 2\n    signals: ['invoice number', 'vat number', 'total due']\n"
             "  nda:\n    min: 1\n    signals: ['non-disclosure agreement']\n");
    loki_engine_config cfg;
    loki_engine_config_default(&cfg);
    cfg.rules_path = d;
    loki_engine *e = NULL;
    loki_error err;
    assert_int_equal(loki_engine_create(&cfg, &e, &err), LOKI_OK);
    loki_verdict *v = NULL;
    const char *t = "INVOICE NUMBER 12. Total due: 40. Our VAT number is below.";
    assert_int_equal(loki_check(e, t, strlen(t), NULL, &v, &err), LOKI_OK);
    assert_int_equal(v->n_detected_types, 1);
    assert_string_equal(v->detected_types[0], "invoice");
    assert_string_equal(v->detected_signals[0][0], "INVOICE NUMBER");
    assert_string_equal(v->detected_signals[0][1], "Total due");
    assert_string_equal(v->detected_signals[0][2], "VAT number");
    assert_null(v->detected_signals[0][3]);
    loki_verdict_destroy(v);
    /* One signal is not enough for an invoice; a given type infers nothing. */
    loki_check_options o;
    loki_check_options_default(&o);
    assert_int_equal(loki_check(e, "invoice number 7", 16, &o, &v, &err), LOKI_OK);
    assert_int_equal(v->n_detected_types, 0);
    loki_verdict_destroy(v);
    o.document_type = "invoice";
    assert_int_equal(loki_check(e, t, strlen(t), &o, &v, &err), LOKI_OK);
    assert_int_equal(v->n_detected_types, 0);
    loki_verdict_destroy(v);
    loki_engine_destroy(e);
    /* An unknown type name is refused with its location. */
    th_write(d, "_doctypes.yaml", "doctypes:\n  memo:\n    min: 1\n    signals: ['x']\n");
    assert_int_equal(loki_engine_create(&cfg, &e, &err), LOKI_EPARSE);
    assert_non_null(strstr(err.message, "unknown document type 'memo'"));
    assert_int_equal(err.line, 2);
    assert_int_equal(err.column, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_input_errors),
        cmocka_unit_test(empty_document),
        cmocka_unit_test(applicability_by_type_and_domain),
        cmocka_unit_test(risk_levels),
        cmocka_unit_test(json_is_deterministic),
        cmocka_unit_test(size_limit),
        cmocka_unit_test(disk_cache_reused_and_rebuilt),
        cmocka_unit_test(document_type_inference),
        cmocka_unit_test(universal_findings_in_verdict),
        cmocka_unit_test(engine_statistics),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
