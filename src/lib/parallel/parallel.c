/* SPDX-License-Identifier: MIT */
/*
 * loki_parallel_process(): cut, run on a pool, aggregate (include/loki/parallel.h).
 *
 * Chunk i owns [b[i], b[i+1]), with the cuts b[] placed at paragraph/line/sentence ends near
 * len * i / k (the same rule as the parallel scanner), and is handed [b[i] - overlap,
 * b[i+1] + overlap) clipped to the text. Threads take the next chunk index from an atomic
 * counter; results land in a per-chunk slot, so aggregation in text order needs no locking
 * and the outcome does not depend on scheduling.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "../util/util.h"
#include "loki/parallel.h"

void loki_parallel_options_default(loki_parallel_options *o)
{
    memset(o, 0, sizeof *o);
    o->chunk_bytes = 1u << 20;
    o->jobs = 1;
    o->aggregate = LOKI_AGG_ALL;
}

typedef struct slot {
    loki_chunk chunk;
    loki_chunk_result res;
    loki_status st;
    loki_error err;
    int done;
} slot;

typedef struct pool {
    const loki_parallel_options *o;
    slot *slots;
    size_t n;
    atomic_size_t next;
    pthread_mutex_t lock; /* guards finished + cond (progress reporting) */
    pthread_cond_t cond;
    size_t finished;
} pool;

static void *worker(void *arg)
{
    pool *p = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n)
            break;
        slot *s = &p->slots[i];
        loki__err_clear(&s->err);
        s->st = p->o->fn(p->o->ctx, &s->chunk, &s->res, &s->err);
        pthread_mutex_lock(&p->lock);
        s->done = 1;
        p->finished++;
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->lock);
    }
    return NULL;
}

static void free_all(const loki_parallel_options *o, slot *s, size_t n)
{
    for (size_t i = 0; o->free_value && i < n; i++)
        if (s[i].res.value)
            o->free_value(o->ctx, s[i].res.value);
}

loki_status loki_parallel_process(const char *text, size_t len, const loki_parallel_options *o,
                                  void ***values, size_t *n_values, int *severity,
                                  loki_error *err)
{
    loki__err_clear(err);
    if (!o || !o->fn || !values || !n_values || (!text && len))
        return loki__err(err, LOKI_EINVAL, "options, fn, text or outputs missing");
    if (o->aggregate == LOKI_AGG_MERGE && !o->merge)
        return loki__err(err, LOKI_EINVAL, "LOKI_AGG_MERGE needs a merge function");
    if (o->aggregate != LOKI_AGG_ALL && o->aggregate != LOKI_AGG_MERGE &&
        o->aggregate != LOKI_AGG_MAX_SEVERITY)
        return loki__err(err, LOKI_EINVAL, "unknown aggregation %d", (int)o->aggregate);
    *values = NULL;
    *n_values = 0;
    size_t cb = o->chunk_bytes < 4096 ? 4096 : o->chunk_bytes;
    size_t k = len ? (len + cb - 1) / cb : 0;
    unsigned jobs = o->jobs ? o->jobs : 1;
    if (jobs > 64)
        jobs = 64;
    slot *s = k ? loki__calloc(k, sizeof *s) : NULL;
    if (k && !s)
        return loki__err(err, LOKI_ENOMEM, "out of memory");
    size_t prev = 0;
    for (size_t i = 0; i < k; i++) {
        size_t cut = i + 1 == k ? len : loki__cut_near(text, len, len / k * (i + 1), cb / 4);
        if (cut < prev)
            cut = prev;
        size_t from = prev > o->overlap ? prev - o->overlap : 0;
        size_t to = len - cut > o->overlap ? cut + o->overlap : len;
        s[i].chunk = (loki_chunk){text + from, to - from, from, prev, cut, i, k};
        prev = cut;
    }
    pool p = {.o = o, .slots = s, .n = k};
    atomic_init(&p.next, 0);
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.cond, NULL);
    pthread_t th[64];
    int started[64] = {0};
    size_t nth = jobs < k ? jobs : k;
    int any = 0;
    for (size_t t = 1; t < nth; t++)
        any |= started[t] = pthread_create(&th[t], NULL, worker, &p) == 0;
    if (o->progress && any) {
        /* Report from this thread while the others work; then help finish. */
        pthread_mutex_lock(&p.lock);
        size_t seen = 0;
        while (p.finished < k && atomic_load(&p.next) < k) {
            if (p.finished != seen)
                o->progress(o->ctx, seen = p.finished, k);
            pthread_cond_wait(&p.cond, &p.lock);
        }
        pthread_mutex_unlock(&p.lock);
    }
    worker(&p);
    for (size_t t = 1; t < nth; t++)
        if (started[t])
            pthread_join(th[t], NULL);
    pthread_mutex_destroy(&p.lock);
    pthread_cond_destroy(&p.cond);
    if (o->progress && k)
        o->progress(o->ctx, k, k);
    for (size_t i = 0; i < k; i++)
        if (s[i].st != LOKI_OK) {
            loki_status st = s[i].st;
            if (err) {
                *err = s[i].err;
                err->code = st;
            }
            free_all(o, s, k);
            loki__free(s);
            return st;
        }
    void **out = loki__malloc((k ? k : 1) * sizeof *out);
    if (!out) {
        free_all(o, s, k);
        loki__free(s);
        return loki__err(err, LOKI_ENOMEM, "out of memory");
    }
    if (o->aggregate == LOKI_AGG_ALL || k == 0) {
        for (size_t i = 0; i < k; i++)
            out[i] = s[i].res.value;
        *n_values = k;
    } else if (o->aggregate == LOKI_AGG_MAX_SEVERITY) {
        size_t best = 0;
        for (size_t i = 1; i < k; i++)
            if (s[i].res.severity > s[best].res.severity)
                best = i;
        out[0] = s[best].res.value;
        if (severity)
            *severity = s[best].res.severity;
        s[best].res.value = NULL;
        free_all(o, s, k);
        *n_values = 1;
    } else {
        void *acc = s[0].res.value;
        int sev = s[0].res.severity;
        s[0].res.value = NULL;
        for (size_t i = 1; i < k; i++) {
            void *next = s[i].res.value;
            s[i].res.value = NULL;
            loki_status st = o->merge(o->ctx, &acc, next, err);
            if (st != LOKI_OK) {
                if (acc && o->free_value)
                    o->free_value(o->ctx, acc);
                free_all(o, s, k);
                loki__free(s);
                loki__free(out);
                return st;
            }
            if (s[i].res.severity > sev)
                sev = s[i].res.severity;
        }
        out[0] = acc;
        if (severity)
            *severity = sev;
        *n_values = 1;
    }
    loki__free(s);
    *values = out;
    return LOKI_OK;
}

double loki_engine_estimate_ms(const loki_engine *eng, uint64_t bytes, unsigned jobs)
{
    /* Before any measurement: 8 MB/s, the all-packs single-thread figure of
     * docs/performance.md on a small machine, rounded down. */
    double mb_per_s = 8.0;
    if (eng) {
        loki_engine_stats st;
        loki_engine_stats_get(eng, &st);
        double ms = st.scan_ms + st.evaluate_ms + st.detect_ms;
        if (st.bytes >= 65536 && ms > 0)
            mb_per_s = (double)st.bytes / 1e6 / (ms / 1e3);
    }
    double speedup = 1.0 + 0.8 * (double)((jobs ? jobs : 1) - 1);
    return (double)bytes / 1e6 / mb_per_s * 1e3 / speedup;
}
