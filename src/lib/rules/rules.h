/* SPDX-License-Identifier: MIT */
/*
 * The rule model: packs loaded from YAML into modules, gates, named pattern sets, conditions
 * and outcomes. Everything lives in one arena owned by the ruleset; after loading it is
 * immutable and shared by all threads. Internal.
 */
#ifndef LOKI_RULES_H
#define LOKI_RULES_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "../util/util.h"
#include "loki/loki.h"

#define LOKI_MAX_PATTERN_WIDTH 1024u

typedef struct loki_pattern {
    const char *source;  /* as written in the pack */
    const char *regex;   /* rewritten: boundaries, whitespace (see docs/rules.md) */
    unsigned set;        /* index of its set in the ruleset */
    unsigned width;      /* maximum match width in bytes */
    _Atomic(void *) pcre; /* pcre2_code *, compiled and JIT-compiled on first use */
    const char *file;
    unsigned line, col;
} loki_pattern;

typedef struct loki_set {
    const char *name;
    unsigned module;
    int gate;            /* -1: module level */
    unsigned first_pattern, n_patterns;
    unsigned used;       /* referenced by a condition or spans list */
    unsigned domain;     /* referenced by a module's domain guard (scanned first) */
    unsigned needs_all;  /* count(), near() or spans read every match; else the first of each
                            pattern is enough (the scanner stops looking after it) */
} loki_set;

/* Match table: per set, sorted unique [start, end) matches and per-set distinct-pattern count. */
typedef struct loki_match {
    size_t start, end;
    unsigned pattern;
} loki_match;

/* Where a kept match lies, recorded while its text was still in memory (streaming checks keep
 * only the first matches of each set and forget the text; see engine/stream.c). */
typedef struct loki_match_loc {
    unsigned line, column;
    size_t char_start, char_end;
    const char *text; /* at most 200 bytes, not cut inside a UTF-8 sequence */
    size_t text_len;
} loki_match_loc;

typedef struct loki_set_matches {
    loki_match *m;
    size_t n, cap;
    size_t total;       /* matches in the document: n, unless a streaming check kept fewer */
    loki_match_loc *loc; /* streaming only: the locations of m[0..n) */
    unsigned distinct;
} loki_set_matches;

struct loki_cond;

typedef struct loki_match_table {
    loki_set_matches *sets; /* indexed by set */
    size_t n_sets;
    /* Streaming checks evaluate near() while the text streams past (the matches are not all
     * kept): near_true[i] is the answer for near_conds[i]. NULL otherwise. */
    const struct loki_cond *const *near_conds;
    const unsigned char *near_true;
    size_t n_near;
} loki_match_table;

/* ---- conditions ---- */
typedef enum {
    COND_TRUE, COND_FALSE, COND_SET, COND_NOT, COND_AND, COND_OR, COND_FUNC
} loki_cond_kind;

typedef enum { CMP_GE, CMP_GT, CMP_LE, CMP_LT, CMP_EQ } loki_cmp;

struct loki_cond_func;

typedef struct loki_cond {
    loki_cond_kind kind;
    struct loki_cond *a, *b;
    unsigned set;                      /* COND_SET */
    const struct loki_cond_func *func; /* COND_FUNC */
    unsigned args[2];                  /* set arguments */
    long num;                          /* numeric argument (near distance) */
    loki_cmp cmp;                      /* for value functions */
    long rhs;
} loki_cond;

/* One row per condition kind (Suricata style). A value function returns a number compared
 * with `cmp rhs`; a predicate (needs_cmp = 0) returns 0/1. */
typedef struct loki_cond_func {
    const char *name;
    const char *args; /* 's' = set name, 'n' = non-negative integer */
    int needs_cmp;
    int needs_all; /* reads every match of its sets (not just whether each pattern matched) */
    long (*eval)(const loki_cond *c, const loki_match_table *mt);
} loki_cond_func;

extern const loki_cond_func loki__cond_funcs[];
extern const size_t loki__n_cond_funcs;

long loki__cond_count(const loki_cond *c, const loki_match_table *mt);
long loki__cond_distinct(const loki_cond *c, const loki_match_table *mt);
long loki__cond_near(const loki_cond *c, const loki_match_table *mt);

/* Resolves a set name to its index for one module/gate; returns -1 if undefined. */
typedef int (*loki_set_resolver)(void *ctx, const char *name, size_t len);

/* Parses expr into *out (nodes in arena). On error returns -1 with a message and the 0-based
 * byte position of the problem in expr. */
int loki__cond_parse(loki_arena *a, const char *expr, loki_set_resolver resolve, void *ctx,
                     loki_cond **out, char *msg, size_t msgsz, size_t *errpos);
int loki__cond_eval(const loki_cond *c, const loki_match_table *mt);
/* Marks every set the condition reads as used (and as a domain set when `domain`). */
void loki__cond_mark(const loki_cond *c, loki_set *sets, int domain);

/* ---- gates, modules, ruleset ---- */
typedef struct loki_outcome {
    loki_cond *when; /* NULL: always */
    loki_gate_status status;
    loki_severity severity;
    const char *message, *suggestion, *penalty;
    unsigned *span_sets;
    size_t n_span_sets;
} loki_outcome;

typedef struct loki_gate {
    loki_gate_info info;
    loki_cond *relevant; /* NULL: always */
    loki_outcome *outcomes;
    size_t n_outcomes;
} loki_gate;

typedef struct loki_module {
    loki_module_info info;
    loki_cond *domain; /* NULL: always */
    loki_gate *gates;
    const loki_gate_info **gate_infos;
    const char **applies_to;
} loki_module;

/* A document type LOKI can infer (rules/_doctypes.yaml): detected when at least `min`
 * different signal patterns match. */
typedef struct loki_doctype {
    const char *name;
    unsigned set;
    unsigned min;
} loki_doctype;

typedef struct loki_ruleset {
    loki_arena arena;
    loki_module *modules;
    size_t n_modules;
    const loki_module_info **module_infos;
    loki_set *sets;
    size_t n_sets;
    loki_pattern *patterns;
    size_t n_patterns;
    loki_example *examples;
    size_t n_examples;
    loki_doctype *doctypes;
    size_t n_doctypes;
    unsigned max_width;
    char fingerprint[65];
    pthread_mutex_t pcre_lock; /* serialises first-use compilation of patterns */
} loki_ruleset;

typedef struct loki_load_config {
    const char *path;
    const char *const *modules;
    size_t n_modules;
    size_t max_pack_bytes;
} loki_load_config;

/* Loads and validates packs; on error returns the status with err located. */
loki_status loki__rules_load(const loki_load_config *cfg, loki_ruleset **out, loki_error *err);
void loki__rules_free(loki_ruleset *rs);

/* Pattern rewriting (pattern.c): applies the pack language's conveniences. */
char *loki__pattern_rewrite(loki_arena *a, const char *src);

#endif
