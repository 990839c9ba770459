/* SPDX-License-Identifier: MIT */
/* Allocation-failure injection (SQLite/curl style): fail the N-th allocation for every N
 * through engine creation, a check and JSON rendering. Each run must end in LOKI_ENOMEM (or
 * succeed once N passes the last allocation), never crash; LeakSanitizer checks the rest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"
#include "util/util.h"

static const char PACK[] =
    "module: m\nname: M\nversion: '1'\n"
    "patterns:\n  subject: ['privacy notice', 'personal data']\n"
    "gates:\n"
    "  - id: g\n    title: G\n    severity: high\n    legal: L\n"
    "    relevant: subject\n"
    "    patterns:\n      bad: ['forbidden', 'never.{0,10}delete']\n"
    "    outcomes:\n      - when: bad & count(subject) >= 1\n        status: FAIL\n"
    "        message: bad\n        spans: [bad, subject]\n"
    "    examples:\n      pass: ['privacy notice']\n      fail: ['privacy notice forbidden']\n";

static const char TEXT[] = "Our privacy notice: we never ever delete personal data. forbidden.";

static int one_run(const char *dir, unsigned long n)
{
    loki_engine_config cfg;
    loki_engine_config_default(&cfg);
    cfg.rules_path = dir;
    loki_engine *eng = NULL;
    loki_verdict *v = NULL;
    loki_error err;
    char *json = NULL;
    loki__alloc_fail_at(n);
    loki_status s = loki_engine_create(&cfg, &eng, &err);
    if (s == LOKI_OK)
        s = loki_check(eng, TEXT, strlen(TEXT), NULL, &v, &err);
    if (s == LOKI_OK)
        s = loki_verdict_to_json(v, 0, &json, NULL);
    unsigned long made = loki__alloc_fail_at(0);
    if (s != LOKI_OK && s != LOKI_ENOMEM && s != LOKI_EINTERNAL && s != LOKI_EPARSE)
        fail_msg("allocation %lu: unexpected status %d (%s)", n, s, err.message);
    free(json);
    loki_verdict_destroy(v);
    loki_engine_destroy(eng);
    return s == LOKI_OK && made < n ? 1 : 0; /* 1: N is past the last allocation */
}

static void every_allocation_can_fail(void **st)
{
    (void)st;
    const char *d = th_tmpdir("alloc");
    th_write(d, "p.yaml", PACK);
    unsigned long n;
    for (n = 1; n < 100000; n++)
        if (one_run(d, n))
            break;
    assert_true(n > 20); /* the loop really walked through the allocations */
    print_message("allocation failure points tried: %lu\n", n - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_allocation_can_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
