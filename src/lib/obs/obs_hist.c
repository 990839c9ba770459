/* SPDX-License-Identifier: MIT */
/* The log-linear latency histogram and Prometheus formatting helpers. */
#include <math.h>
#include <stdio.h>

#include "obs_int.h"

unsigned loki__hist_index(uint64_t v)
{
    if (v < LOKI__HIST_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* v in [2^e, 2^(e+1)), e >= 3 */
    if (e > 44)
        return LOKI__HIST_BUCKETS - 1;
    unsigned sub = (unsigned)(v >> (e - 3)) & 7u;
    unsigned i = (e - 2) * LOKI__HIST_SUB + sub;
    return i < LOKI__HIST_BUCKETS ? i : LOKI__HIST_BUCKETS - 1;
}

void loki__hist_bounds(unsigned i, uint64_t *lo, uint64_t *hi)
{
    if (i < LOKI__HIST_SUB) {
        *lo = i;
        *hi = i + 1;
        return;
    }
    unsigned e = i / LOKI__HIST_SUB + 2, sub = i % LOKI__HIST_SUB;
    *lo = (uint64_t)(8 + sub) << (e - 3);
    *hi = (uint64_t)(9 + sub) << (e - 3);
}

uint64_t loki__hist_quantile(const uint64_t *hist, uint64_t count, double q, uint64_t min,
                             uint64_t max)
{
    if (count == 0)
        return 0;
    double want = q * (double)count;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < LOKI__HIST_BUCKETS; i++) {
        seen += hist[i];
        if (seen >= rank) {
            uint64_t lo, hi;
            loki__hist_bounds(i, &lo, &hi);
            uint64_t mid = lo + (hi - lo) / 2;
            return mid < min ? min : mid > max ? max : mid;
        }
    }
    return max;
}

const uint64_t loki__prom_bounds_ns[LOKI__PROM_NB] = {
    1000,      2500,      5000,       10000,      25000,      50000,      100000,   250000,
    500000,    1000000,   2500000,    5000000,    10000000,   25000000,   50000000, 100000000,
    250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000};

unsigned loki__prom_index(uint64_t ns)
{
    unsigned lo = 0, hi = LOKI__PROM_NB; /* first bound >= ns; NB when none */
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (loki__prom_bounds_ns[mid] >= ns)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

void loki__prom_label_value(loki_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            loki__buf_adds(b, "\\\\");
        else if (*s == '"')
            loki__buf_adds(b, "\\\"");
        else if (*s == '\n')
            loki__buf_adds(b, "\\n");
        else
            loki__buf_addc(b, *s);
    }
}

void loki__prom_double(loki_buf *b, double v)
{
    if (isnan(v))
        loki__buf_adds(b, "NaN");
    else if (isinf(v))
        loki__buf_adds(b, v > 0 ? "+Inf" : "-Inf");
    else
        loki__buf_printf(b, "%.15g", v);
}
