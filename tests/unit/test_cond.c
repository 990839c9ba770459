/* SPDX-License-Identifier: MIT */
/* The condition language: parsing (precedence, errors with positions) and evaluation of every
 * condition kind over a hand-built match table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rules/rules.h"

/* Sets: a=0, b=1, c=2, d=3. */
static const char *names[] = {"a", "b", "c", "d"};

static int resolve(void *ctx, const char *name, size_t len)
{
    (void)ctx;
    for (int i = 0; i < 4; i++)
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
            return i;
    return -1;
}

static loki_match ma[] = {{10, 14, 0}, {50, 55, 1}, {300, 310, 0}};
static loki_match mb[] = {{100, 104, 2}};
static loki_match mc[] = {{400, 405, 3}};
static loki_set_matches sets[4];
static loki_match_table mt = {sets, 4};

static int setup(void **st)
{
    (void)st;
    sets[0] = (loki_set_matches){.m = ma, .n = 3, .cap = 3, .total = 3, .distinct = 2};
    sets[1] = (loki_set_matches){.m = mb, .n = 1, .cap = 1, .total = 1, .distinct = 1};
    sets[2] = (loki_set_matches){.m = mc, .n = 1, .cap = 1, .total = 1, .distinct = 1};
    sets[3] = (loki_set_matches){.m = NULL, .n = 0, .cap = 0, .total = 0, .distinct = 0};
    return 0;
}

static int ev(const char *expr)
{
    loki_arena a;
    loki__arena_init(&a);
    loki_cond *c = NULL;
    char msg[200];
    size_t pos;
    int rc = loki__cond_parse(&a, expr, resolve, NULL, &c, msg, sizeof msg, &pos);
    if (rc) {
        print_error("parse failed for '%s': %s at %zu\n", expr, msg, pos);
        loki__arena_release(&a);
        return -1;
    }
    int v = loki__cond_eval(c, &mt);
    loki__arena_release(&a);
    return v;
}

static void boolean_ops(void **st)
{
    (void)st;
    assert_int_equal(ev("a"), 1);
    assert_int_equal(ev("d"), 0);
    assert_int_equal(ev("!d"), 1);
    assert_int_equal(ev("a & d"), 0);
    assert_int_equal(ev("a | d"), 1);
    assert_int_equal(ev("d | !a"), 0);
    /* & binds tighter than |: d & a | b == (d & a) | b */
    assert_int_equal(ev("d & a | b"), 1);
    assert_int_equal(ev("d & (a | b)"), 0);
    assert_int_equal(ev("!!a"), 1);
    assert_int_equal(ev("true & !false"), 1);
    assert_int_equal(ev("a && b || d"), 1);
}

static void count_and_distinct(void **st)
{
    (void)st;
    assert_int_equal(ev("count(a) >= 3"), 1);
    assert_int_equal(ev("count(a) > 3"), 0);
    assert_int_equal(ev("count(a) == 3"), 1);
    assert_int_equal(ev("count(d) < 1"), 1);
    assert_int_equal(ev("count(b) <= 0"), 0);
    assert_int_equal(ev("distinct(a) >= 2"), 1);
    assert_int_equal(ev("distinct(a) >= 3"), 0);
}

static void near_both_orders(void **st)
{
    (void)st;
    /* a@[50,55) and b@[100,104): gap 45. */
    assert_int_equal(ev("near(a, b, 45)"), 1);
    assert_int_equal(ev("near(a, b, 44)"), 0);
    assert_int_equal(ev("near(b, a, 45)"), 1);
    /* c@[400,405) and a@[300,310): gap 90, b is 296 away. */
    assert_int_equal(ev("near(c, a, 90)"), 1);
    assert_int_equal(ev("near(c, a, 89)"), 0);
    assert_int_equal(ev("near(a, d, 1000)"), 0);
}

static void parse_errors(void **st)
{
    (void)st;
    struct {
        const char *expr;
        const char *msg;
        size_t pos;
    } cases[] = {
        {"a & zz", "undefined pattern set 'zz'", 4},
        {"a &", "unexpected end of condition", 3},
        {"(a | b", "expected ')'", 6},
        {"count(a) 3", "expected a comparison (>=, >, <=, <, ==)", 9},
        {"near(a, b)", "expected ','", 9},
        {"frob(a)", "unknown function 'frob' (known: count, distinct, near)", 0},
        {"a b", "unexpected text after condition", 2},
        {"a # b", "unexpected text after condition", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        loki_arena a;
        loki__arena_init(&a);
        loki_cond *c = NULL;
        char msg[200] = "";
        size_t pos = 999;
        assert_int_equal(
            loki__cond_parse(&a, cases[i].expr, resolve, NULL, &c, msg, sizeof msg, &pos), -1);
        assert_string_equal(msg, cases[i].msg);
        assert_int_equal(pos, cases[i].pos);
        loki__arena_release(&a);
    }
}

static void deep_nesting_is_refused(void **st)
{
    (void)st;
    char expr[400];
    memset(expr, '!', 200);
    strcpy(expr + 200, "a");
    assert_int_equal(ev(expr), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(boolean_ops, setup),
        cmocka_unit_test_setup(count_and_distinct, setup),
        cmocka_unit_test_setup(near_both_orders, setup),
        cmocka_unit_test(parse_errors),
        cmocka_unit_test(deep_nesting_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
