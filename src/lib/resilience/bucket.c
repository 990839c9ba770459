/* SPDX-License-Identifier: MIT */
/* Token bucket: `rate` tokens per second up to `burst`; time comes from the caller. */
#include <math.h>
#include <pthread.h>

#include "../util/util.h"
#include "loki/resilience.h"

struct loki_bucket {
    pthread_mutex_t lock;
    double rate, burst, level;
    int64_t last;
};

loki_status loki_bucket_create(double rate_per_s, double burst, int64_t now_ms,
                               loki_bucket **out)
{
    if (!(rate_per_s > 0) || !(burst >= 1))
        return LOKI_EINVAL;
    loki_bucket *b = loki__calloc(1, sizeof *b);
    if (!b)
        return LOKI_ENOMEM;
    pthread_mutex_init(&b->lock, NULL);
    b->rate = rate_per_s;
    b->burst = burst;
    b->level = burst;
    b->last = now_ms;
    *out = b;
    return LOKI_OK;
}

void loki_bucket_destroy(loki_bucket *b)
{
    if (!b)
        return;
    pthread_mutex_destroy(&b->lock);
    loki__free(b);
}

static void refill(loki_bucket *b, int64_t now)
{
    if (now > b->last) {
        b->level += (double)(now - b->last) * b->rate / 1000.0;
        if (b->level > b->burst)
            b->level = b->burst;
        b->last = now;
    }
}

int loki_bucket_take(loki_bucket *b, double n, int64_t now_ms, int64_t *wait_ms)
{
    pthread_mutex_lock(&b->lock);
    refill(b, now_ms);
    int ok = b->level >= n;
    if (ok)
        b->level -= n;
    else if (wait_ms)
        *wait_ms = n > b->burst ? -1 : (int64_t)ceil((n - b->level) * 1000.0 / b->rate);
    pthread_mutex_unlock(&b->lock);
    return ok;
}

double loki_bucket_level(loki_bucket *b, int64_t now_ms)
{
    pthread_mutex_lock(&b->lock);
    refill(b, now_ms);
    double l = b->level;
    pthread_mutex_unlock(&b->lock);
    return l;
}
