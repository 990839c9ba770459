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

/*
 * dbs[0] holds the patterns of every set a module's domain guard reads (scanned first when the
 * document type is unknown, to decide which modules apply); dbs[1 + m] holds every pattern of
 * module m. Either may be NULL when it would be empty.
 */
typedef struct loki_db {
    hs_database_t **dbs;
    size_t n_dbs;
    unsigned *widths; /* per pattern */
    int from_cache;
} loki_db;

#define LOKI_DB_DOMAIN 0
#define LOKI_DB_MODULE(m) ((size_t)(m) + 1)

/* Compiles (or loads from cache_dir, when not NULL) the database for rs, and JIT-compiles the
 * patterns' PCRE2 code. Pattern errors are located at their file:line:col. */
loki_status loki__db_build(loki_ruleset *rs, const char *cache_dir, int eager, loki_db *db,
                           loki_error *err);
/* The same databases compiled for Vectorscan's stream mode (cached as <fingerprint>.hsstream),
 * after loki__db_build() has run for rs. */
loki_status loki__db_build_stream(loki_ruleset *rs, const char *cache_dir, loki_db *db,
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
    loki_match *pm;            /* per-pattern matches (reused) */
    size_t n_pm, cap_pm;
    loki_match_table mt;
    int oom;
    const unsigned *widths;
    unsigned char *done; /* per pattern: already scanned for this document */
    size_t enumerated;   /* regions already turned into matches */
    /* Parallel workers: ends outside (lo, hi] are another chunk's; `base` is added to the
     * chunk-relative offsets Vectorscan reports. `done_of` points at the owner's done[]. */
    size_t lo, hi, base;
    int chunked;
    const unsigned char *done_of;
    /* Per pattern, for the whole document (a streaming check enumerates a pattern's regions
     * over many rounds): where its last match ended, and whether it has matched. */
    size_t *last_end;
    unsigned char *matched;
    /* Per set: matches before this index come from earlier rounds and stay as they are. */
    size_t *round_from;
    /* Streaming: the text handed to the enumeration starts at this document offset; the
     * regions settled by a round (kept between rounds: no allocation per round). */
    size_t tbase;
    loki_region *ready;
    size_t cap_ready;
} loki_scratch;

loki_scratch *loki__scratch_create(const loki_ruleset *rs, const loki_db *db);
void loki__scratch_destroy(loki_scratch *s, size_t n_sets);

/* Starts a new document: empties the match table. */
void loki__scan_reset(const loki_ruleset *rs, loki_scratch *s);
/* Scans text with database `which` and adds its matches to s->mt; patterns already scanned for
 * this document (by an earlier database) are not counted twice. Only `used` sets get matches. */
loki_status loki__scan_db(loki_ruleset *rs, const loki_db *db, size_t which, loki_scratch *s,
                          const char *text, size_t len, loki_error *err);
/* Parallel scanning of one document: the caller supplies per-worker scratch spaces (created by
 * loki__scratch_create) and a chunk count; see scan_par.c. */
typedef struct loki_par {
    loki_scratch **workers;
    size_t n_workers;
    size_t min_chunk; /* documents shorter than 2 * min_chunk are scanned on one thread */
} loki_par;
loki_status loki__scan_db_par(loki_ruleset *rs, const loki_db *db, size_t which, loki_scratch *s,
                              const loki_par *par, const char *text, size_t len,
                              loki_error *err);
/* Turns regions (any order) into matches: PCRE2 per pattern, then each set's new matches sorted
 * and de-duplicated. `text` holds document bytes [s->tbase, len). */
loki_status loki__scan_enumerate(loki_ruleset *rs, loki_scratch *s, const loki_region *rg,
                                 size_t nr, const char *text, size_t len, loki_error *err);
/* Internal to scan.c/scan_par.c: turn regions[from..] into matches. */
loki_status loki__scan_finish(loki_ruleset *rs, size_t which, loki_scratch *s, size_t from,
                              const char *text, size_t len, loki_error *err);
int loki__scan_on_match(unsigned int id, unsigned long long from, unsigned long long to,
                        unsigned int flags, void *ctx);

/* Streaming (scan_stream.c): regions recorded by hs_scan_stream() are enumerated once the
 * text after them is in memory. `text` holds the document's bytes [tbase, end); with `eof`
 * every region is finished, otherwise those that could still need text beyond `end` stay
 * pending (a long region is split). Returns the offset below which no later match can start. */
loki_status loki__scan_stream_round(loki_ruleset *rs, loki_scratch *s, const char *text,
                                    size_t tbase, size_t end, int eof, size_t *safe,
                                    loki_error *err);
/* The smallest start of a pending region, or `dflt` when none is pending. */
size_t loki__scan_pending_from(const loki_scratch *s, size_t dflt);

/* Reset, then every module database. */
loki_status loki__scan(loki_ruleset *rs, const loki_db *db, loki_scratch *s,
                       const char *text, size_t len, loki_error *err);

#endif
