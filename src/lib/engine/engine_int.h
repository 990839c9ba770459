/* SPDX-License-Identifier: MIT */
/* The engine object shared by engine.c (lifecycle, catalog), check.c (evaluation) and
 * json.c (rendering). Internal. */
#ifndef LOKI_ENGINE_INT_H
#define LOKI_ENGINE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "../rules/rules.h"
#include "../scan/scan.h"

struct loki_engine {
    loki_engine_config cfg;
    loki_ruleset *rs;
    loki_db db;
    pthread_mutex_t pool_lock;
    loki_scratch *pool; /* idle scratch spaces */
    pthread_mutex_t sdb_lock;
    loki_db sdb;   /* stream mode, built by the first streaming check */
    int sdb_ready;
    char *cache_dir; /* copy of cfg.cache_dir, for the stream-mode databases */
    /* statistics (relaxed atomics: counters, not synchronisation) */
    _Atomic uint64_t st_checks, st_errors, st_bytes, st_parallel;
    _Atomic uint64_t st_scan_us, st_eval_us, st_detect_us;
};

typedef struct loki_verdict_impl {
    loki_verdict pub; /* first: loki_verdict * and impl * convert */
    loki_arena arena;
    loki_arena arena2; /* detector findings computed on another thread (check.c) */
} loki_verdict_impl;

loki_scratch *loki__engine_scratch_get(loki_engine *eng);
/* The document type and modules of o exist (check.c). */
loki_status loki__check_options_valid(const loki_engine *eng, const loki_check_options *o,
                                      loki_error *err);
/* Completes a streamed check (stream.c): s->mt holds the streamed matches with their
 * locations; v has its hash, size, timestamp and universal findings. */
loki_status loki__check_finish_stream(loki_engine *eng, const loki_check_options *opts,
                                      loki_scratch *s, loki_verdict *v, double *eval_ms,
                                      loki_error *err);
/* The stream-mode databases, compiled (or loaded) on first use. */
const loki_db *loki__engine_stream_db(loki_engine *eng, loki_error *err);
void loki__engine_scratch_put(loki_engine *eng, loki_scratch *s);

#endif
