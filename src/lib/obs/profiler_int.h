/* SPDX-License-Identifier: MIT */
/* The profiler's data layout, shared by its recording side (profiler.c) and its reports
 * (profiler_report.c). Internal: not installed. */
#ifndef LOKI_PROFILER_INT_H
#define LOKI_PROFILER_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "obs_int.h"

/* One operation's statistics in one thread: written by that thread only. */
typedef struct loki__op_cell {
    _Atomic uint64_t count, total, min, max, alloc;
    _Atomic uint64_t hist[LOKI__HIST_BUCKETS];
    _Atomic uint64_t prom[LOKI__PROM_NB + 1];
} loki__op_cell;

typedef struct loki__tbuf {
    struct loki__tbuf *next;
    loki_profiler *p;
    unsigned depth; /* open scopes; owner only */
    int free;       /* its thread exited; under p->mu */
    _Atomic uint64_t toplevel;
    _Atomic(loki__op_cell *) *cells; /* max_ops slots, filled on first use */
} loki__tbuf;

struct loki_profiler {
    loki_profiler_config cfg;
    pthread_key_t key;
    pthread_mutex_t mu; /* registration and the buffer list */
    loki__tbuf *bufs;
    char **names;
    _Atomic unsigned n_ops;
    _Atomic int *htab; /* open addressing: id + 1, 0 = empty */
    size_t hsize;
    _Atomic int64_t mem_cur, mem_peak;
};

uint64_t loki__prof_now(const loki_profiler *p);

#endif
