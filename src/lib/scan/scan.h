/* SPDX-License-Identifier: MIT */
/*
 * The scanner: every pattern of the active packs in one Vectorscan database (db.c, with the
 * on-disk cache), one pass over the text into per-pattern candidate regions, then PCRE2 JIT on
 * those small regions for exact leftmost non-overlapping spans (scan.c). Internal.
 */
#ifndef LOKI_SCAN_H
#define LOKI_SCAN_H

#include <hs/hs.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "../rules/rules.h"

typedef struct loki_db {
    hs_database_t *db;
    unsigned *widths; /* per pattern */
    int from_cache;
} loki_db;

/* Compiles (or loads from cache_dir, when not NULL) the database for rs, and JIT-compiles the
 * patterns' PCRE2 code. Pattern errors are located at their file:line:col. */
loki_status loki__db_build(loki_ruleset *rs, const char *cache_dir, int eager, loki_db *db,
                           loki_error *err);
void loki__db_release(loki_db *db);

/* The pattern's PCRE2 code, compiled and JIT-compiled on first use (thread-safe). NULL when
 * PCRE2 rejects the pattern; err is then filled with its location. */
pcre2_code *loki__pattern_code(loki_ruleset *rs, loki_pattern *p, loki_error *err);

/* Per-thread scanning state, pooled by the engine. */
typedef struct loki_region {
    unsigned pattern;
    size_t start, end;
} loki_region;

typedef struct loki_scratch {
    struct loki_scratch *next; /* pool link */
    hs_scratch_t *hs;
    pcre2_match_data *md;
    pcre2_match_context *mc;
    int *open;                 /* per pattern: index of its open region, or -1 */
    loki_region *regions, *sorted;
    size_t n_regions, cap_regions;
    size_t *bucket;            /* per pattern + 1: counting-sort offsets */
    loki_match *pm;            /* per-pattern matches (reused) */
    size_t n_pm, cap_pm;
    loki_match_table mt;
    int oom;
    const unsigned *widths;
} loki_scratch;

loki_scratch *loki__scratch_create(const loki_ruleset *rs, const loki_db *db);
void loki__scratch_destroy(loki_scratch *s, size_t n_sets);

/* Scans text into s->mt. Only sets marked `used` get matches. */
loki_status loki__scan(loki_ruleset *rs, const loki_db *db, loki_scratch *s,
                       const char *text, size_t len, loki_error *err);

#endif
