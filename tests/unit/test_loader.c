/* SPDX-License-Identifier: MIT */
/* The rule-pack loader: every error kind is reported with its message and file:line:column. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"

#define HEAD "module: m\nname: M\nversion: '1'\n"
#define GATE_HEAD "gates:\n  - id: g\n    title: T\n    severity: high\n    legal: L\n"
#define OUT "    outcomes:\n      - when: s\n        status: FAIL\n        message: x\n"
#define EX "    examples:\n      pass: ['a']\n      fail: ['b']\n"
#define PATS "    patterns:\n      s: ['foo']\n"

typedef struct ecase {
    const char *name;
    const char *pack;
    loki_status code;
    const char *msg; /* substring expected in the message */
    unsigned line, col;
} ecase;

static const ecase cases[] = {
    {"yaml syntax", HEAD "gates: [\n", LOKI_EPARSE, "YAML error", 5, 1},
    {"not a mapping", "- a\n- b\n", LOKI_EPARSE, "must be a YAML mapping", 1, 1},
    {"unknown top key", HEAD "colour: red\n" GATE_HEAD PATS OUT EX, LOKI_EPARSE,
     "unknown key 'colour' in rule pack", 4, 1},
    {"missing name", "module: m\nversion: '1'\n" GATE_HEAD PATS OUT EX, LOKI_EPARSE,
     "missing required key 'name'", 1, 1},
    {"bad module id", "module: Bad-Id\nname: M\nversion: '1'\n" GATE_HEAD PATS OUT EX,
     LOKI_EPARSE, "invalid module id 'Bad-Id'", 1, 9},
    {"duplicate gate", HEAD GATE_HEAD PATS OUT EX
     "  - id: g\n    title: T\n    severity: high\n    legal: L\n" OUT EX,
     LOKI_EPARSE, "duplicate gate id 'g'", 18, 9},
    {"duplicate key", HEAD GATE_HEAD "    title: again\n" PATS OUT EX, LOKI_EPARSE,
     "duplicate key 'title' in gate", 9, 5},
    {"undefined set", HEAD GATE_HEAD "    patterns:\n      t: ['foo']\n" OUT EX, LOKI_EPARSE,
     "undefined pattern set 's'", 12, 15},
    {"bad condition", HEAD GATE_HEAD PATS
     "    outcomes:\n      - when: s & | s\n        status: FAIL\n        message: x\n" EX,
     LOKI_EPARSE, "in 'when': unexpected character in condition", 12, 19},
    {"regex syntax", HEAD GATE_HEAD "    patterns:\n      s: ['foo(']\n" OUT EX, LOKI_EPARSE,
     "is invalid or unsupported", 10, 11},
    {"unbounded", HEAD GATE_HEAD "    patterns:\n      s: ['foo.*bar']\n" OUT EX, LOKI_EPARSE,
     "has unbounded width", 10, 11},
    {"too wide", HEAD GATE_HEAD "    patterns:\n      s: ['a.{0,2000}b']\n" OUT EX,
     LOKI_EPARSE, "the limit is 1024", 10, 11},
    {"empty match", HEAD GATE_HEAD "    patterns:\n      s: ['(foo)?']\n" OUT EX, LOKI_EPARSE,
     "can match the empty string", 10, 11},
    {"lookaround", HEAD GATE_HEAD "    patterns:\n      s: ['foo(?=bar)']\n" OUT EX,
     LOKI_EPARSE, "is invalid or unsupported", 10, 11},
    {"empty set", HEAD GATE_HEAD "    patterns:\n      s: []\n" OUT EX, LOKI_EPARSE,
     "has no patterns and can never match", 10, 10},
    {"default not last", HEAD GATE_HEAD PATS
     "    outcomes:\n      - status: PASS\n        message: y\n"
     "      - when: s\n        status: FAIL\n        message: x\n" EX,
     LOKI_EPARSE, "must be the last one", 12, 9},
    {"bad status", HEAD GATE_HEAD PATS
     "    outcomes:\n      - when: s\n        status: BROKEN\n        message: x\n" EX,
     LOKI_EPARSE, "unknown status 'BROKEN'", 13, 17},
    {"bad severity", HEAD "gates:\n  - id: g\n    title: T\n    severity: huge\n    legal: L\n"
     PATS OUT EX, LOKI_EPARSE, "unknown severity 'huge'", 7, 15},
    {"bad doc type", HEAD "applies_to: [privacy_notice, memo]\n" GATE_HEAD PATS OUT EX,
     LOKI_EPARSE, "unknown document type 'memo'", 4, 30},
    {"no examples", HEAD GATE_HEAD PATS OUT, LOKI_EPARSE, "has no 'examples'", 5, 5},
    {"no fail example", HEAD GATE_HEAD PATS OUT "    examples:\n      pass: ['a']\n",
     LOKI_EPARSE, "at least one 'fail' example", 16, 7},
    {"shadowed set", HEAD "patterns:\n  s: ['x']\n" GATE_HEAD PATS OUT EX, LOKI_EPARSE,
     "already defined at module level", 12, 7},
    {"set keyword", HEAD GATE_HEAD "    patterns:\n      count: ['x']\n" OUT EX, LOKI_EPARSE,
     "invalid set name 'count'", 10, 7},
    {"invalid utf8", HEAD "description: caf\xe9\n" GATE_HEAD PATS OUT EX, LOKI_EPARSE,
     "invalid UTF-8", 4, 17},
};

static void each_error_kind(void **st)
{
    (void)st;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const ecase *c = &cases[i];
        loki_engine *eng = NULL;
        loki_error err;
        loki_status s = th_engine(c->pack, &eng, &err);
        if (s != c->code || !strstr(err.message, c->msg) || err.line != c->line ||
            err.column != c->col || !strstr(err.file, "p.yaml")) {
            fail_msg("case '%s': got %d %s:%u:%u '%s'; want %d line %u col %u '%s'", c->name,
                     s, err.file, err.line, err.column, err.message, c->code, c->line, c->col,
                     c->msg);
        }
        assert_null(eng);
    }
}

static void duplicate_module_across_files(void **st)
{
    (void)st;
    const char *d = th_tmpdir("dup");
    th_write(d, "a.yaml", HEAD GATE_HEAD PATS OUT EX);
    th_write(d, "b.yaml", HEAD GATE_HEAD PATS OUT EX);
    loki_engine_config cfg;
    loki_engine_config_default(&cfg);
    cfg.rules_path = d;
    loki_engine *eng = NULL;
    loki_error err;
    assert_int_equal(loki_engine_create(&cfg, &eng, &err), LOKI_EPARSE);
    assert_non_null(strstr(err.message, "duplicate module id 'm'"));
    assert_non_null(strstr(err.file, "b.yaml"));
    assert_int_equal(err.line, 1);
}

static void unknown_module_and_missing_dir(void **st)
{
    (void)st;
    const char *d = th_tmpdir("unk");
    th_write(d, "a.yaml", HEAD GATE_HEAD PATS OUT EX);
    loki_engine_config cfg;
    loki_engine_config_default(&cfg);
    cfg.rules_path = d;
    const char *mods[] = {"nope"};
    cfg.modules = mods;
    cfg.n_modules = 1;
    loki_engine *eng = NULL;
    loki_error err;
    assert_int_equal(loki_engine_create(&cfg, &eng, &err), LOKI_EINVAL);
    assert_non_null(strstr(err.message, "unknown module 'nope'"));
    cfg.modules = NULL;
    cfg.n_modules = 0;
    cfg.rules_path = "/nonexistent/loki/rules";
    assert_int_equal(loki_engine_create(&cfg, &eng, &err), LOKI_EIO);
    assert_non_null(strstr(err.message, "not found"));
}

static void valid_pack_loads(void **st)
{
    (void)st;
    loki_engine *eng = NULL;
    loki_error err;
    assert_int_equal(th_engine(HEAD GATE_HEAD PATS OUT EX, &eng, &err), LOKI_OK);
    assert_int_equal(loki_engine_module_count(eng), 1);
    const loki_module_info *m = loki_engine_module(eng, 0);
    assert_string_equal(m->id, "m");
    assert_int_equal(m->n_gates, 1);
    assert_string_equal(m->gates[0]->legal_source, "L");
    assert_int_equal(m->gates[0]->line, 5);
    assert_int_equal(loki_engine_example_count(eng), 2);
    assert_int_equal(strlen(loki_engine_fingerprint(eng)), 64);
    loki_engine_destroy(eng);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_error_kind),
        cmocka_unit_test(duplicate_module_across_files),
        cmocka_unit_test(unknown_module_and_missing_dir),
        cmocka_unit_test(valid_pack_loads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
