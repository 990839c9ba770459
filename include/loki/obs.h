/* SPDX-License-Identifier: MIT */
/*
 * libloki observability: a profiler for named operations (count, min, max, mean, p50/p95/p99,
 * bottlenecks, JSON/text/Prometheus) and a small metrics registry (counters, gauges,
 * histograms) rendered in the Prometheus text format. Recording is cheap and lock-free: each
 * thread writes its own buffer, readers merge them.
 */
#ifndef LOKI_OBS_H
#define LOKI_OBS_H

#include <stddef.h>
#include <stdint.h>

#include "loki/loki.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A monotonic clock in nanoseconds. Tests inject one; NULL means CLOCK_MONOTONIC. */
typedef uint64_t (*loki_obs_clock_fn)(void *ud);

/* ---------------------------------------------------------------------------------------- */
/* Profiler                                                                                  */
/* ---------------------------------------------------------------------------------------- */

typedef struct loki_profiler loki_profiler;

typedef struct loki_profiler_config {
    /* Most distinct operation names (default 128); loki_profiler_op() returns -1 past it. */
    unsigned max_ops;
    /* An operation is a bottleneck when its total time is at least this share of the time
     * spent in top-level (non-nested) operations, in percent (default 20)... */
    double bottleneck_pct;
    /* ...or, when non-zero, when its p95 is at least this many nanoseconds. */
    uint64_t bottleneck_p95_ns;
    loki_obs_clock_fn clock;
    void *clock_ud;
} loki_profiler_config;

void loki_profiler_config_default(loki_profiler_config *cfg);
/* cfg may be NULL for the defaults. Thread-safe (independent profilers). */
loki_status loki_profiler_create(const loki_profiler_config *cfg, loki_profiler **out);
/* NULL is a no-op. No thread may be recording; threads that recorded may still be alive. */
void loki_profiler_destroy(loki_profiler *p);

/*
 * The id of a named operation, registering it on first use (the name is copied). Returns -1
 * when p is NULL, the table is full or memory ran out; every recording call accepts -1 and
 * does nothing. Thread-safe and lock-free once the name exists; cache the id on hot paths.
 */
int loki_profiler_op(loki_profiler *p, const char *name);

/* A running measurement; lives on the caller's stack. */
typedef struct loki_prof_scope {
    loki_profiler *p;
    int op;
    uint64_t t0;
} loki_prof_scope;

/*
 * Starts / ends a measurement of op in the calling thread. Scopes nest: only time in
 * outermost scopes counts towards the "top-level" total used for bottleneck shares. p NULL or
 * op -1 gives an inert scope. Thread-safe; a scope must end in the thread that began it.
 */
loki_prof_scope loki_prof_begin(loki_profiler *p, int op);
void loki_prof_end(loki_prof_scope *s);
/* Records one already-measured duration (counts as top-level when no scope is open). */
void loki_profiler_record(loki_profiler *p, int op, uint64_t ns);
/* Optional allocation tracking: bytes > 0 allocated on behalf of op, < 0 freed. Keeps per-op
 * allocated totals and the profiler's current and peak bytes. Thread-safe. */
void loki_profiler_mem(loki_profiler *p, int op, int64_t bytes);

#if defined(__GNUC__) || defined(__clang__)
#define LOKI__PCAT2(a, b) a##b
#define LOKI__PCAT(a, b) LOKI__PCAT2(a, b)
/* Times the rest of the enclosing block as `name` (GCC/Clang cleanup attribute). */
#define LOKI_PROF_SCOPE(prof, name)                                                                \
    loki_prof_scope LOKI__PCAT(loki__prof_scope_, __LINE__)                                        \
        __attribute__((cleanup(loki_prof_end), unused)) =                                                \
            loki_prof_begin((prof), loki_profiler_op((prof), (name)))
/* Times the whole function, named after it: put it first in the body. */
#define LOKI_PROF_FUNCTION(prof) LOKI_PROF_SCOPE(prof, __func__)
#endif

typedef struct loki_prof_op_stats {
    const char *name; /* valid while the profiler lives */
    uint64_t count;
    uint64_t total_ns, min_ns, max_ns;
    double mean_ns;
    uint64_t p50_ns, p95_ns, p99_ns; /* from a log-linear histogram: within ~6 % */
    double share;                    /* total / top-level total, 0..1 (can exceed 1 if nested) */
    int bottleneck;
    uint64_t alloc_bytes;
} loki_prof_op_stats;

/* A caller-owned snapshot: fill with loki_profiler_snapshot, free with ..._release. */
typedef struct loki_prof_report {
    size_t n_ops;
    loki_prof_op_stats *ops; /* sorted by total time, largest first; ops never used omitted */
    uint64_t toplevel_ns;
    uint64_t mem_current, mem_peak;
    double bottleneck_pct;
} loki_prof_report;

/* Merges every thread's buffer. Safe while other threads record (their newest samples may or
 * may not be included). Thread-safe. */
loki_status loki_profiler_snapshot(loki_profiler *p, loki_prof_report *out);
void loki_prof_report_release(loki_prof_report *r);

/*
 * Renderings; *out is malloc'd and NUL-terminated, free() it. JSON: {"toplevel_ms":..,
 * "ops":[{"name","count","total_ms","min_ms","max_ms","mean_ms","p50_ms","p95_ms","p99_ms",
 * "share","bottleneck"}...],"bottlenecks":[names]}. Text: an aligned table plus a
 * bottleneck line. Prometheus: histogram loki_operation_duration_seconds{op="..."}.
 */
loki_status loki_profiler_json(loki_profiler *p, char **out, size_t *out_len);
loki_status loki_profiler_text(loki_profiler *p, char **out, size_t *out_len);
loki_status loki_profiler_prometheus(loki_profiler *p, char **out, size_t *out_len);

/* Zeroes every statistic (names and ids stay). Call only while no thread records. */
void loki_profiler_reset(loki_profiler *p);

/* ---------------------------------------------------------------------------------------- */
/* Metrics registry (Prometheus text exposition)                                             */
/* ---------------------------------------------------------------------------------------- */

typedef struct loki_metrics loki_metrics;

/* max_series: the most series (name + label set) ever registered (0: 1024). */
loki_status loki_metrics_create(unsigned max_series, loki_metrics **out);
void loki_metrics_destroy(loki_metrics *m); /* NULL is a no-op */

/*
 * Register a series and return its id (>= 0), or -1 when the name is invalid, the registry is
 * full or memory ran out. Names must match [a-zA-Z_:][a-zA-Z0-9_:]* and start with "loki_";
 * counters must end in "_total"; use base units (seconds, bytes) in names and values.
 * `labels` is NULL or a NULL-terminated list of alternating names and values
 * ({"method", "POST", "code", "200", NULL}); values are escaped on output. Registering the
 * same name and labels again returns the same id; one name must keep one type and help text.
 * Histogram bounds are upper bounds, strictly increasing (NULL/0: 1 ms .. 10 s defaults).
 * Thread-safe.
 */
int loki_metrics_counter(loki_metrics *m, const char *name, const char *help,
                         const char *const *labels);
int loki_metrics_gauge(loki_metrics *m, const char *name, const char *help,
                       const char *const *labels);
int loki_metrics_histogram(loki_metrics *m, const char *name, const char *help,
                           const char *const *labels, const double *bounds, size_t n_bounds);

/* Updates; an id of -1 or of the wrong type is ignored. Lock-free, thread-safe. */
void loki_metrics_inc(loki_metrics *m, int id, uint64_t by);
void loki_metrics_set(loki_metrics *m, int id, double value);
void loki_metrics_observe(loki_metrics *m, int id, double value);

/* Every series in the text exposition format 0.0.4, grouped by name in registration order.
 * *out is malloc'd; free() it. Thread-safe. */
loki_status loki_metrics_prometheus(loki_metrics *m, char **out, size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif /* LOKI_OBS_H */
