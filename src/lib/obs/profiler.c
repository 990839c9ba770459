/* SPDX-License-Identifier: MIT */
/*
 * The profiler's recording side. Every thread that records gets its own buffer (found through
 * a pthread key owned by the profiler, so there is no global state) and is its buffer's only
 * writer: updates are relaxed atomic load+store pairs, no locked instructions, no shared cache
 * lines. Readers merge all buffers. A buffer outlives its thread: when the thread exits it is
 * marked free and the next new thread adopts it, keeping its sums.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "profiler_int.h"

static uint64_t ld(_Atomic uint64_t *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

static void st(_Atomic uint64_t *a, uint64_t v)
{
    atomic_store_explicit(a, v, memory_order_relaxed);
}

void loki_profiler_config_default(loki_profiler_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_ops = 128;
    cfg->bottleneck_pct = 20.0;
}

uint64_t loki__prof_now(const loki_profiler *p)
{
    if (p->cfg.clock)
        return p->cfg.clock(p->cfg.clock_ud);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- per-thread buffers ---- */

static void tbuf_detach(void *arg)
{
    loki__tbuf *t = arg;
    pthread_mutex_lock(&t->p->mu);
    t->free = 1;
    t->depth = 0;
    pthread_mutex_unlock(&t->p->mu);
}

static loki__tbuf *tbuf_attach(loki_profiler *p)
{
    loki__tbuf *t = NULL;
    pthread_mutex_lock(&p->mu);
    for (loki__tbuf *u = p->bufs; u && !t; u = u->next)
        if (u->free)
            t = u;
    if (t) {
        t->free = 0;
    } else {
        t = loki__calloc(1, sizeof *t);
        _Atomic(loki__op_cell *) *cells = t ? loki__calloc(p->cfg.max_ops, sizeof *cells) : NULL;
        if (!cells) {
            loki__free(t);
            t = NULL;
        } else {
            t->p = p;
            t->cells = cells;
            t->next = p->bufs;
            p->bufs = t;
        }
    }
    pthread_mutex_unlock(&p->mu);
    if (t && pthread_setspecific(p->key, t) != 0) {
        tbuf_detach(t);
        t = NULL;
    }
    return t;
}

static loki__tbuf *my_buf(loki_profiler *p)
{
    loki__tbuf *t = pthread_getspecific(p->key);
    return t ? t : tbuf_attach(p);
}

static void cell_zero(loki__op_cell *c)
{
    st(&c->count, 0);
    st(&c->total, 0);
    st(&c->min, UINT64_MAX);
    st(&c->max, 0);
    st(&c->alloc, 0);
    for (unsigned i = 0; i < LOKI__HIST_BUCKETS; i++)
        st(&c->hist[i], 0);
    for (unsigned i = 0; i <= LOKI__PROM_NB; i++)
        st(&c->prom[i], 0);
}

static loki__op_cell *cell_of(loki__tbuf *t, int op)
{
    loki__op_cell *c = atomic_load_explicit(&t->cells[op], memory_order_relaxed);
    if (c)
        return c;
    c = loki__malloc(sizeof *c);
    if (!c)
        return NULL;
    cell_zero(c);
    atomic_store_explicit(&t->cells[op], c, memory_order_release);
    return c;
}

static int op_valid(const loki_profiler *p, int op)
{
    return op >= 0 && (unsigned)op < atomic_load_explicit(&p->n_ops, memory_order_acquire);
}

static void record(loki__tbuf *t, int op, uint64_t ns)
{
    loki__op_cell *c = cell_of(t, op);
    if (!c)
        return;
    st(&c->count, ld(&c->count) + 1);
    st(&c->total, ld(&c->total) + ns);
    if (ns < ld(&c->min))
        st(&c->min, ns);
    if (ns > ld(&c->max))
        st(&c->max, ns);
    _Atomic uint64_t *h = &c->hist[loki__hist_index(ns)];
    st(h, ld(h) + 1);
    _Atomic uint64_t *pb = &c->prom[loki__prom_index(ns)];
    st(pb, ld(pb) + 1);
    if (t->depth == 0)
        st(&t->toplevel, ld(&t->toplevel) + ns);
}

loki_prof_scope loki_prof_begin(loki_profiler *p, int op)
{
    loki_prof_scope s = {NULL, -1, 0};
    if (!p || !op_valid(p, op))
        return s;
    loki__tbuf *t = my_buf(p);
    if (!t)
        return s;
    t->depth++;
    s.p = p;
    s.op = op;
    s.t0 = loki__prof_now(p);
    return s;
}

void loki_prof_end(loki_prof_scope *s)
{
    if (!s || !s->p)
        return;
    uint64_t t1 = loki__prof_now(s->p);
    loki__tbuf *t = pthread_getspecific(s->p->key);
    if (t) {
        if (t->depth)
            t->depth--;
        record(t, s->op, t1 >= s->t0 ? t1 - s->t0 : 0);
    }
    s->p = NULL;
}

void loki_profiler_record(loki_profiler *p, int op, uint64_t ns)
{
    if (!p || !op_valid(p, op))
        return;
    loki__tbuf *t = my_buf(p);
    if (t)
        record(t, op, ns);
}

void loki_profiler_mem(loki_profiler *p, int op, int64_t bytes)
{
    if (!p)
        return;
    int64_t cur = atomic_fetch_add_explicit(&p->mem_cur, bytes, memory_order_relaxed) + bytes;
    int64_t peak = atomic_load_explicit(&p->mem_peak, memory_order_relaxed);
    while (cur > peak && !atomic_compare_exchange_weak_explicit(
                             &p->mem_peak, &peak, cur, memory_order_relaxed, memory_order_relaxed))
        ;
    if (bytes <= 0 || !op_valid(p, op))
        return;
    loki__tbuf *t = my_buf(p);
    loki__op_cell *c = t ? cell_of(t, op) : NULL;
    if (c)
        st(&c->alloc, ld(&c->alloc) + (uint64_t)bytes);
}

/* ---- operation names: lock-free lookup, registration under the mutex ---- */

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static int name_lookup(loki_profiler *p, const char *name, uint64_t h)
{
    size_t mask = p->hsize - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        int v = atomic_load_explicit(&p->htab[i], memory_order_acquire);
        if (v == 0)
            return -1;
        if (strcmp(p->names[v - 1], name) == 0)
            return v - 1;
    }
}

int loki_profiler_op(loki_profiler *p, const char *name)
{
    if (!p || !name)
        return -1;
    uint64_t h = name_hash(name);
    int id = name_lookup(p, name, h);
    if (id >= 0)
        return id;
    pthread_mutex_lock(&p->mu);
    id = name_lookup(p, name, h);
    if (id >= 0)
        goto out;
    unsigned n = atomic_load_explicit(&p->n_ops, memory_order_relaxed);
    if (n >= p->cfg.max_ops)
        goto out;
    p->names[n] = loki__strdup(name);
    if (!p->names[n])
        goto out;
    id = (int)n;
    atomic_store_explicit(&p->n_ops, n + 1, memory_order_release);
    size_t mask = p->hsize - 1, i = h & mask;
    while (atomic_load_explicit(&p->htab[i], memory_order_relaxed) != 0)
        i = (i + 1) & mask;
    atomic_store_explicit(&p->htab[i], id + 1, memory_order_release);
out:
    pthread_mutex_unlock(&p->mu);
    return id;
}

/* ---- lifecycle ---- */

loki_status loki_profiler_create(const loki_profiler_config *cfg, loki_profiler **out)
{
    *out = NULL;
    loki_profiler_config def;
    if (!cfg) {
        loki_profiler_config_default(&def);
        cfg = &def;
    }
    if (cfg->max_ops == 0 || cfg->max_ops > 65536)
        return LOKI_EINVAL;
    loki_profiler *p = loki__calloc(1, sizeof *p);
    if (!p)
        return LOKI_ENOMEM;
    p->cfg = *cfg;
    p->hsize = 16;
    while (p->hsize < 2 * (size_t)cfg->max_ops)
        p->hsize *= 2;
    p->names = loki__calloc(cfg->max_ops, sizeof *p->names);
    p->htab = loki__calloc(p->hsize, sizeof *p->htab);
    if (!p->names || !p->htab || pthread_key_create(&p->key, tbuf_detach) != 0) {
        loki__free(p->names);
        loki__free((void *)p->htab);
        loki__free(p);
        return LOKI_ENOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    *out = p;
    return LOKI_OK;
}

void loki_profiler_destroy(loki_profiler *p)
{
    if (!p)
        return;
    /* Deleting the key first means no exiting thread will run tbuf_detach on freed memory. */
    pthread_key_delete(p->key);
    loki__tbuf *t = p->bufs;
    while (t) {
        loki__tbuf *next = t->next;
        for (unsigned i = 0; i < p->cfg.max_ops; i++)
            loki__free(atomic_load_explicit(&t->cells[i], memory_order_relaxed));
        loki__free((void *)t->cells);
        loki__free(t);
        t = next;
    }
    unsigned n = atomic_load_explicit(&p->n_ops, memory_order_relaxed);
    for (unsigned i = 0; i < n; i++)
        loki__free(p->names[i]);
    loki__free(p->names);
    loki__free((void *)p->htab);
    pthread_mutex_destroy(&p->mu);
    loki__free(p);
}

void loki_profiler_reset(loki_profiler *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    for (loki__tbuf *t = p->bufs; t; t = t->next) {
        st(&t->toplevel, 0);
        for (unsigned i = 0; i < p->cfg.max_ops; i++) {
            loki__op_cell *c = atomic_load_explicit(&t->cells[i], memory_order_acquire);
            if (c)
                cell_zero(c);
        }
    }
    atomic_store_explicit(&p->mem_cur, 0, memory_order_relaxed);
    atomic_store_explicit(&p->mem_peak, 0, memory_order_relaxed);
    pthread_mutex_unlock(&p->mu);
}
