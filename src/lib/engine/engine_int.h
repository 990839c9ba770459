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
    /* statistics (relaxed atomics: counters, not synchronisation) */
    _Atomic uint64_t st_checks, st_errors, st_bytes, st_parallel;
    _Atomic uint64_t st_scan_us, st_eval_us, st_detect_us;
};

typedef struct loki_verdict_impl {
    loki_verdict pub; /* first: loki_verdict * and impl * convert */
    loki_arena arena;
} loki_verdict_impl;

loki_scratch *loki__engine_scratch_get(loki_engine *eng);
void loki__engine_scratch_put(loki_engine *eng, loki_scratch *s);

#endif
