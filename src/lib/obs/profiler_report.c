/* SPDX-License-Identifier: MIT */
/* The profiler's reading side: merging per-thread buffers into a snapshot, the bottleneck
 * rule, and the JSON, text and Prometheus renderings. */
#include <stdlib.h>
#include <string.h>

#include "profiler_int.h"

typedef struct merged {
    uint64_t count, total, min, max, alloc;
    uint64_t hist[LOKI__HIST_BUCKETS];
    uint64_t prom[LOKI__PROM_NB + 1];
} merged;

static uint64_t ld(_Atomic uint64_t *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

static void merge_cell(merged *m, loki__op_cell *c)
{
    m->count += ld(&c->count);
    m->total += ld(&c->total);
    m->alloc += ld(&c->alloc);
    uint64_t mn = ld(&c->min), mx = ld(&c->max);
    if (mn < m->min)
        m->min = mn;
    if (mx > m->max)
        m->max = mx;
    for (unsigned i = 0; i < LOKI__HIST_BUCKETS; i++)
        m->hist[i] += ld(&c->hist[i]);
    for (unsigned i = 0; i <= LOKI__PROM_NB; i++)
        m->prom[i] += ld(&c->prom[i]);
}

/* Merges op `op` over every buffer; caller holds p->mu. */
static void merge_op(loki_profiler *p, int op, merged *m)
{
    memset(m, 0, sizeof *m);
    m->min = UINT64_MAX;
    for (loki__tbuf *t = p->bufs; t; t = t->next) {
        loki__op_cell *c = atomic_load_explicit(&t->cells[op], memory_order_acquire);
        if (c)
            merge_cell(m, c);
    }
    if (m->count == 0)
        m->min = 0;
}

static int by_total_desc(const void *a, const void *b)
{
    const loki_prof_op_stats *x = a, *y = b;
    if (x->total_ns != y->total_ns)
        return x->total_ns < y->total_ns ? 1 : -1;
    return strcmp(x->name, y->name);
}

static void fill_stats(const loki_profiler *p, const merged *m, uint64_t toplevel,
                       loki_prof_op_stats *o)
{
    o->count = m->count;
    o->total_ns = m->total;
    o->min_ns = m->min;
    o->max_ns = m->max;
    o->mean_ns = m->count ? (double)m->total / (double)m->count : 0.0;
    o->p50_ns = loki__hist_quantile(m->hist, m->count, 0.50, m->min, m->max);
    o->p95_ns = loki__hist_quantile(m->hist, m->count, 0.95, m->min, m->max);
    o->p99_ns = loki__hist_quantile(m->hist, m->count, 0.99, m->min, m->max);
    o->share = toplevel ? (double)m->total / (double)toplevel : 0.0;
    o->alloc_bytes = m->alloc;
    o->bottleneck = (toplevel && o->share * 100.0 >= p->cfg.bottleneck_pct) ||
                    (p->cfg.bottleneck_p95_ns && o->p95_ns >= p->cfg.bottleneck_p95_ns);
}

loki_status loki_profiler_snapshot(loki_profiler *p, loki_prof_report *out)
{
    memset(out, 0, sizeof *out);
    if (!p)
        return LOKI_EINVAL;
    out->bottleneck_pct = p->cfg.bottleneck_pct;
    loki_status rc = LOKI_OK;
    merged *m = loki__malloc(sizeof *m);
    unsigned n = atomic_load_explicit(&p->n_ops, memory_order_acquire);
    out->ops = loki__calloc(n ? n : 1, sizeof *out->ops);
    if (!m || !out->ops) {
        rc = LOKI_ENOMEM;
        goto out_free;
    }
    pthread_mutex_lock(&p->mu);
    for (loki__tbuf *t = p->bufs; t; t = t->next)
        out->toplevel_ns += ld(&t->toplevel);
    for (unsigned i = 0; i < n; i++) {
        merge_op(p, (int)i, m);
        if (m->count == 0)
            continue;
        loki_prof_op_stats *o = &out->ops[out->n_ops++];
        o->name = p->names[i];
        fill_stats(p, m, out->toplevel_ns, o);
    }
    pthread_mutex_unlock(&p->mu);
    qsort(out->ops, out->n_ops, sizeof *out->ops, by_total_desc);
    out->mem_current = (uint64_t)atomic_load_explicit(&p->mem_cur, memory_order_relaxed);
    out->mem_peak = (uint64_t)atomic_load_explicit(&p->mem_peak, memory_order_relaxed);
out_free:
    loki__free(m);
    if (rc != LOKI_OK) {
        loki__free(out->ops);
        out->ops = NULL;
    }
    return rc;
}

void loki_prof_report_release(loki_prof_report *r)
{
    if (!r)
        return;
    loki__free(r->ops);
    memset(r, 0, sizeof *r);
}

static loki_status finish(loki_buf *b, char **out, size_t *out_len)
{
    if (b->oom || !b->p) {
        loki__buf_release(b);
        return LOKI_ENOMEM;
    }
    *out = b->p;
    if (out_len)
        *out_len = b->len;
    return LOKI_OK;
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

loki_status loki_profiler_json(loki_profiler *p, char **out, size_t *out_len)
{
    *out = NULL;
    loki_prof_report r;
    loki_status rc = loki_profiler_snapshot(p, &r);
    if (rc != LOKI_OK)
        return rc;
    loki_buf b;
    loki__buf_init(&b, 0);
    loki__buf_printf(&b,
                     "{\"toplevel_ms\":%.6f,\"bottleneck_pct\":%.2f,\"mem_peak_bytes\":%llu,"
                     "\"ops\":[",
                     ms(r.toplevel_ns), r.bottleneck_pct, (unsigned long long)r.mem_peak);
    for (size_t i = 0; i < r.n_ops; i++) {
        const loki_prof_op_stats *o = &r.ops[i];
        loki__buf_adds(&b, i ? ",{\"name\":" : "{\"name\":");
        loki__buf_json_str(&b, o->name, strlen(o->name));
        loki__buf_printf(&b,
                         ",\"count\":%llu,\"total_ms\":%.6f,\"min_ms\":%.6f,\"max_ms\":%.6f,"
                         "\"mean_ms\":%.6f,\"p50_ms\":%.6f,\"p95_ms\":%.6f,\"p99_ms\":%.6f,"
                         "\"share\":%.4f,\"alloc_bytes\":%llu,\"bottleneck\":%s}",
                         (unsigned long long)o->count, ms(o->total_ns), ms(o->min_ns),
                         ms(o->max_ns), o->mean_ns / 1e6, ms(o->p50_ns), ms(o->p95_ns),
                         ms(o->p99_ns), o->share, (unsigned long long)o->alloc_bytes,
                         o->bottleneck ? "true" : "false");
    }
    loki__buf_adds(&b, "],\"bottlenecks\":[");
    int first = 1;
    for (size_t i = 0; i < r.n_ops; i++) {
        if (!r.ops[i].bottleneck)
            continue;
        if (!first)
            loki__buf_addc(&b, ',');
        first = 0;
        loki__buf_json_str(&b, r.ops[i].name, strlen(r.ops[i].name));
    }
    loki__buf_adds(&b, "]}");
    loki_prof_report_release(&r);
    return finish(&b, out, out_len);
}

loki_status loki_profiler_text(loki_profiler *p, char **out, size_t *out_len)
{
    *out = NULL;
    loki_prof_report r;
    loki_status rc = loki_profiler_snapshot(p, &r);
    if (rc != LOKI_OK)
        return rc;
    loki_buf b;
    loki__buf_init(&b, 0);
    loki__buf_printf(&b, "%-24s %8s %10s %9s %9s %9s %9s %9s %6s\n", "operation", "count",
                     "total ms", "mean ms", "p50 ms", "p95 ms", "p99 ms", "max ms", "share");
    for (size_t i = 0; i < r.n_ops; i++) {
        const loki_prof_op_stats *o = &r.ops[i];
        loki__buf_printf(&b, "%-24.24s %8llu %10.3f %9.3f %9.3f %9.3f %9.3f %9.3f %5.1f%%%s\n",
                         o->name, (unsigned long long)o->count, ms(o->total_ns), o->mean_ns / 1e6,
                         ms(o->p50_ns), ms(o->p95_ns), ms(o->p99_ns), ms(o->max_ns),
                         o->share * 100.0, o->bottleneck ? " *" : "");
    }
    loki__buf_printf(&b, "top-level total %.3f ms; bottlenecks (>= %.0f%%):", ms(r.toplevel_ns),
                     r.bottleneck_pct);
    int any = 0;
    for (size_t i = 0; i < r.n_ops; i++)
        if (r.ops[i].bottleneck) {
            loki__buf_printf(&b, " %s", r.ops[i].name);
            any = 1;
        }
    loki__buf_adds(&b, any ? "\n" : " none\n");
    loki_prof_report_release(&r);
    return finish(&b, out, out_len);
}

static void prom_series(loki_buf *b, const char *name, const merged *m)
{
    uint64_t cum = 0;
    for (unsigned i = 0; i <= LOKI__PROM_NB; i++) {
        cum += m->prom[i];
        loki__buf_adds(b, "loki_operation_duration_seconds_bucket{op=\"");
        loki__prom_label_value(b, name);
        loki__buf_adds(b, "\",le=\"");
        if (i < LOKI__PROM_NB)
            loki__prom_double(b, (double)loki__prom_bounds_ns[i] / 1e9);
        else
            loki__buf_adds(b, "+Inf");
        loki__buf_printf(b, "\"} %llu\n", (unsigned long long)cum);
    }
    loki__buf_adds(b, "loki_operation_duration_seconds_sum{op=\"");
    loki__prom_label_value(b, name);
    loki__buf_adds(b, "\"} ");
    loki__prom_double(b, (double)m->total / 1e9);
    loki__buf_adds(b, "\nloki_operation_duration_seconds_count{op=\"");
    loki__prom_label_value(b, name);
    loki__buf_printf(b, "\"} %llu\n", (unsigned long long)cum);
}

loki_status loki_profiler_prometheus(loki_profiler *p, char **out, size_t *out_len)
{
    *out = NULL;
    if (!p)
        return LOKI_EINVAL;
    merged *m = loki__malloc(sizeof *m);
    if (!m)
        return LOKI_ENOMEM;
    loki_buf b;
    loki__buf_init(&b, 0);
    loki__buf_adds(&b, "# HELP loki_operation_duration_seconds Time spent in profiled "
                       "operations.\n# TYPE loki_operation_duration_seconds histogram\n");
    pthread_mutex_lock(&p->mu);
    unsigned n = atomic_load_explicit(&p->n_ops, memory_order_acquire);
    for (unsigned i = 0; i < n; i++) {
        merge_op(p, (int)i, m);
        prom_series(&b, p->names[i], m);
    }
    pthread_mutex_unlock(&p->mu);
    loki__free(m);
    return finish(&b, out, out_len);
}
