/* SPDX-License-Identifier: MIT */
/*
 * A small metrics registry for the Prometheus text format. Series live in a fixed array sized
 * at creation, so an id indexes it without locks; values are atomics (doubles are stored as
 * their bit patterns and updated by compare-and-swap). Registration takes the mutex.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "obs_int.h"

typedef enum kind { K_COUNTER, K_GAUGE, K_HISTOGRAM } kind;

typedef struct series {
    kind k;
    char *name, *help, *labels; /* labels pre-rendered: a="x",b="y" (may be "") */
    _Atomic uint64_t value;     /* counter value, or gauge double bits */
    size_t n_bounds;
    double *bounds;
    _Atomic uint64_t *buckets; /* n_bounds + 1, non-cumulative */
    _Atomic uint64_t sum_bits, count;
} series;

struct loki_metrics {
    pthread_mutex_t mu;
    unsigned cap;
    _Atomic unsigned n;
    series *s;
};

static const double default_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                        0.25,  0.5,    1,     2.5,  5,     10};

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double bitsd(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

loki_status loki_metrics_create(unsigned max_series, loki_metrics **out)
{
    *out = NULL;
    loki_metrics *m = loki__calloc(1, sizeof *m);
    if (!m)
        return LOKI_ENOMEM;
    m->cap = max_series ? max_series : 1024;
    m->s = loki__calloc(m->cap, sizeof *m->s);
    if (!m->s) {
        loki__free(m);
        return LOKI_ENOMEM;
    }
    pthread_mutex_init(&m->mu, NULL);
    *out = m;
    return LOKI_OK;
}

static void series_free(series *s)
{
    loki__free(s->name);
    loki__free(s->help);
    loki__free(s->labels);
    loki__free(s->bounds);
    loki__free((void *)s->buckets);
}

void loki_metrics_destroy(loki_metrics *m)
{
    if (!m)
        return;
    unsigned n = atomic_load_explicit(&m->n, memory_order_relaxed);
    for (unsigned i = 0; i < n; i++)
        series_free(&m->s[i]);
    loki__free(m->s);
    pthread_mutex_destroy(&m->mu);
    loki__free(m);
}

static int name_ok(const char *n, kind k)
{
    if (!n || strncmp(n, "loki_", 5) != 0)
        return 0;
    for (const char *p = n; *p; p++) {
        int alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == ':';
        if (!alpha && !(p > n && *p >= '0' && *p <= '9'))
            return 0;
    }
    size_t len = strlen(n);
    int total = len > 6 && strcmp(n + len - 6, "_total") == 0;
    return k == K_COUNTER ? total : !total;
}

/* Renders the label list as a="x",b="y" with values escaped; NULL when a name is invalid. */
static char *render_labels(const char *const *labels)
{
    loki_buf b;
    loki__buf_init(&b, 4096);
    loki__buf_adds(&b, "");
    for (size_t i = 0; labels && labels[i]; i += 2) {
        if (!labels[i + 1] || !labels[i][0] || strchr(labels[i], ':') ||
            (labels[i][0] >= '0' && labels[i][0] <= '9'))
            goto bad;
        for (const char *p = labels[i]; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
                  (*p >= '0' && *p <= '9')))
                goto bad;
        loki__buf_printf(&b, "%s%s=\"", i ? "," : "", labels[i]);
        loki__prom_label_value(&b, labels[i + 1]);
        loki__buf_addc(&b, '"');
    }
    if (b.oom)
        goto bad;
    return b.p;
bad:
    loki__buf_release(&b);
    return NULL;
}

static int add_series(loki_metrics *m, kind k, const char *name, const char *help,
                      const char *const *labels, const double *bounds, size_t nb)
{
    if (!m || !name_ok(name, k))
        return -1;
    char *lab = render_labels(labels);
    if (!lab)
        return -1;
    int id = -1;
    pthread_mutex_lock(&m->mu);
    unsigned n = atomic_load_explicit(&m->n, memory_order_relaxed);
    for (unsigned i = 0; i < n; i++) {
        series *s = &m->s[i];
        if (strcmp(s->name, name) != 0)
            continue;
        if (s->k != k) /* one name, one type */
            goto out;
        if (strcmp(s->labels, lab) == 0) {
            id = (int)i;
            goto out;
        }
    }
    if (n >= m->cap)
        goto out;
    series *s = &m->s[n];
    memset(s, 0, sizeof *s);
    s->k = k;
    s->name = loki__strdup(name);
    s->help = loki__strdup(help ? help : "");
    s->labels = lab;
    lab = NULL;
    if (k == K_HISTOGRAM) {
        s->n_bounds = nb;
        s->bounds = loki__reallocarray(NULL, nb, sizeof *s->bounds);
        s->buckets = loki__calloc(nb + 1, sizeof *s->buckets);
        if (s->bounds)
            memcpy(s->bounds, bounds, nb * sizeof *bounds);
    }
    if (!s->name || !s->help || (k == K_HISTOGRAM && (!s->bounds || !s->buckets))) {
        series_free(s);
        goto out;
    }
    id = (int)n;
    atomic_store_explicit(&m->n, n + 1, memory_order_release);
out:
    pthread_mutex_unlock(&m->mu);
    loki__free(lab);
    return id;
}

int loki_metrics_counter(loki_metrics *m, const char *name, const char *help,
                         const char *const *labels)
{
    return add_series(m, K_COUNTER, name, help, labels, NULL, 0);
}

int loki_metrics_gauge(loki_metrics *m, const char *name, const char *help,
                       const char *const *labels)
{
    return add_series(m, K_GAUGE, name, help, labels, NULL, 0);
}

int loki_metrics_histogram(loki_metrics *m, const char *name, const char *help,
                           const char *const *labels, const double *bounds, size_t n_bounds)
{
    if (!bounds || !n_bounds) {
        bounds = default_bounds;
        n_bounds = sizeof default_bounds / sizeof *default_bounds;
    }
    for (size_t i = 1; i < n_bounds; i++)
        if (!(bounds[i] > bounds[i - 1]))
            return -1;
    return add_series(m, K_HISTOGRAM, name, help, labels, bounds, n_bounds);
}

static series *get(loki_metrics *m, int id, kind k)
{
    if (!m || id < 0 || (unsigned)id >= atomic_load_explicit(&m->n, memory_order_acquire))
        return NULL;
    return m->s[id].k == k ? &m->s[id] : NULL;
}

void loki_metrics_inc(loki_metrics *m, int id, uint64_t by)
{
    series *s = get(m, id, K_COUNTER);
    if (s)
        atomic_fetch_add_explicit(&s->value, by, memory_order_relaxed);
}

void loki_metrics_set(loki_metrics *m, int id, double v)
{
    series *s = get(m, id, K_GAUGE);
    if (s)
        atomic_store_explicit(&s->value, dbits(v), memory_order_relaxed);
}

void loki_metrics_observe(loki_metrics *m, int id, double v)
{
    series *s = get(m, id, K_HISTOGRAM);
    if (!s)
        return;
    size_t i = 0;
    while (i < s->n_bounds && v > s->bounds[i])
        i++;
    atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
    uint64_t old = atomic_load_explicit(&s->sum_bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&s->sum_bits, &old, dbits(bitsd(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
}

static void sample_name(loki_buf *b, const series *s, const char *suffix, const char *extra)
{
    loki__buf_printf(b, "%s%s", s->name, suffix);
    if (s->labels[0] || extra) {
        loki__buf_printf(b, "{%s%s%s}", s->labels, s->labels[0] && extra ? "," : "",
                         extra ? extra : "");
    }
    loki__buf_addc(b, ' ');
}

static void render_histogram(loki_buf *b, series *s)
{
    uint64_t cum = 0;
    for (size_t i = 0; i <= s->n_bounds; i++) {
        cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        loki_buf le;
        loki__buf_init(&le, 128);
        loki__buf_adds(&le, "le=\"");
        if (i < s->n_bounds)
            loki__prom_double(&le, s->bounds[i]);
        else
            loki__buf_adds(&le, "+Inf");
        loki__buf_addc(&le, '"');
        sample_name(b, s, "_bucket", le.oom ? "le=\"?\"" : le.p);
        loki__buf_release(&le);
        loki__buf_printf(b, "%llu\n", (unsigned long long)cum);
    }
    sample_name(b, s, "_sum", NULL);
    loki__prom_double(b, bitsd(atomic_load_explicit(&s->sum_bits, memory_order_relaxed)));
    loki__buf_addc(b, '\n');
    sample_name(b, s, "_count", NULL);
    loki__buf_printf(b, "%llu\n", (unsigned long long)cum);
}

loki_status loki_metrics_prometheus(loki_metrics *m, char **out, size_t *out_len)
{
    *out = NULL;
    if (!m)
        return LOKI_EINVAL;
    static const char *const types[] = {"counter", "gauge", "histogram"};
    loki_buf b;
    loki__buf_init(&b, 0);
    loki__buf_adds(&b, "");
    pthread_mutex_lock(&m->mu);
    unsigned n = atomic_load_explicit(&m->n, memory_order_relaxed);
    for (unsigned i = 0; i < n; i++) {
        series *s = &m->s[i];
        int seen = 0; /* HELP/TYPE once per name, then every series of that name together */
        for (unsigned j = 0; j < i && !seen; j++)
            seen = strcmp(m->s[j].name, s->name) == 0;
        if (seen)
            continue;
        loki__buf_printf(&b, "# HELP %s ", s->name);
        for (const char *h = s->help; *h; h++)
            loki__buf_adds(&b, *h == '\n' ? "\\n" : *h == '\\' ? "\\\\" : (char[]){*h, 0});
        loki__buf_printf(&b, "\n# TYPE %s %s\n", s->name, types[s->k]);
        for (unsigned j = i; j < n; j++) {
            series *t = &m->s[j];
            if (strcmp(t->name, s->name) != 0)
                continue;
            if (t->k == K_HISTOGRAM) {
                render_histogram(&b, t);
                continue;
            }
            sample_name(&b, t, "", NULL);
            uint64_t v = atomic_load_explicit(&t->value, memory_order_relaxed);
            if (t->k == K_COUNTER)
                loki__buf_printf(&b, "%llu", (unsigned long long)v);
            else
                loki__prom_double(&b, bitsd(v));
            loki__buf_addc(&b, '\n');
        }
    }
    pthread_mutex_unlock(&m->mu);
    if (b.oom) {
        loki__buf_release(&b);
        return LOKI_ENOMEM;
    }
    *out = b.p;
    if (out_len)
        *out_len = b.len;
    return LOKI_OK;
}
