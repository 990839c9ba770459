/* SPDX-License-Identifier: MIT */
/* Observability internals: the log-linear histogram shared by the profiler and its reports,
 * and Prometheus text helpers shared with the metrics registry. Internal: not installed. */
#ifndef LOKI_OBS_INT_H
#define LOKI_OBS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "loki/obs.h"
#include "util/util.h"

/*
 * Log-linear buckets over nanoseconds: values below 8 get their own bucket; above, each power
 * of two is split into 8 sub-buckets, so a bucket is at most 12.5 % wide and its midpoint is
 * within ~6 % of any value in it. Values of 2^44 ns (4.9 h) and more share the last bucket.
 */
#define LOKI__HIST_SUB 8
#define LOKI__HIST_BUCKETS 344

unsigned loki__hist_index(uint64_t v);
/* [*lo, *hi) of bucket i. */
void loki__hist_bounds(unsigned i, uint64_t *lo, uint64_t *hi);
/* The q-quantile (0 < q <= 1) of a histogram with `count` samples, clamped to [min, max]. */
uint64_t loki__hist_quantile(const uint64_t *hist, uint64_t count, double q, uint64_t min,
                             uint64_t max);

/* Prometheus buckets for durations (seconds), shared by the profiler's exposition. */
#define LOKI__PROM_NB 22
extern const uint64_t loki__prom_bounds_ns[LOKI__PROM_NB];
unsigned loki__prom_index(uint64_t ns); /* 0..LOKI__PROM_NB (the last is +Inf) */

/* Appends a label value escaped as the exposition format requires (\\, \", \n). */
void loki__prom_label_value(loki_buf *b, const char *s);
/* Appends a double the way Prometheus writes numbers ("+Inf", "NaN", shortest %g). */
void loki__prom_double(loki_buf *b, double v);

#endif
