/* SPDX-License-Identifier: MIT */
/* Retry decisions (one loop, owned by the caller): what is retryable, how long to wait
 * (exponential backoff with full jitter, or Retry-After), and a budget that caps retries as a
 * share of first attempts so an outage cannot multiply the load. */
#define _XOPEN_SOURCE 700 /* strptime */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../util/util.h"
#include "loki/resilience.h"

void loki_retry_policy_default(loki_retry_policy *p)
{
    p->max_attempts = 3;
    p->base_ms = 200;
    p->max_backoff_ms = 10000;
    p->max_retry_after_ms = 60000;
}

int loki_retry_retryable(const loki_attempt *a)
{
    if (a->bytes_relayed)
        return 0;
    if (a->timed_out || a->connect_error)
        return 1;
    switch (a->http_status) {
    case 429: case 500: case 502: case 503: case 504: case 529: return 1;
    default: return 0;
    }
}

int loki_retry_next(const loki_retry_policy *p, unsigned attempt, const loki_attempt *a,
                    double rand01, int64_t *wait_ms)
{
    if (attempt >= p->max_attempts || !loki_retry_retryable(a))
        return 0;
    if (a->retry_after_ms >= 0) {
        if (a->retry_after_ms > p->max_retry_after_ms)
            return 0; /* the server asks for longer than we are willing to hold the client */
        *wait_ms = a->retry_after_ms;
        return 1;
    }
    int64_t cap = p->base_ms;
    for (unsigned i = 1; i < attempt && cap < p->max_backoff_ms; i++)
        cap *= 2;
    if (cap > p->max_backoff_ms)
        cap = p->max_backoff_ms;
    if (rand01 < 0)
        rand01 = 0;
    if (rand01 >= 1)
        rand01 = 0.999999;
    *wait_ms = (int64_t)(rand01 * (double)(cap + 1));
    return 1;
}

int64_t loki_retry_after_parse(const char *v, int64_t now_unix)
{
    if (!v)
        return -1;
    while (*v == ' ')
        v++;
    if (isdigit((unsigned char)*v)) {
        char *end;
        long long s = strtoll(v, &end, 10);
        while (*end == ' ')
            end++;
        if (*end || s < 0 || s > 86400LL * 365)
            return -1;
        return (int64_t)s * 1000;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *e = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!e || *e)
        return -1;
    int64_t t = (int64_t)timegm(&tm);
    return t > now_unix ? (t - now_unix) * 1000 : 0;
}

struct loki_retry_budget {
    pthread_mutex_t lock;
    double ratio;
    unsigned min_per_window;
    int64_t window_ms, start;
    unsigned requests, retries;
};

loki_status loki_retry_budget_create(double ratio, unsigned min_per_window, int64_t window_ms,
                                     loki_retry_budget **out)
{
    loki_retry_budget *b = loki__calloc(1, sizeof *b);
    if (!b)
        return LOKI_ENOMEM;
    pthread_mutex_init(&b->lock, NULL);
    b->ratio = ratio;
    b->min_per_window = min_per_window;
    b->window_ms = window_ms > 0 ? window_ms : 10000;
    *out = b;
    return LOKI_OK;
}

void loki_retry_budget_destroy(loki_retry_budget *b)
{
    if (!b)
        return;
    pthread_mutex_destroy(&b->lock);
    loki__free(b);
}

static void roll(loki_retry_budget *b, int64_t now)
{
    if (now - b->start >= b->window_ms) {
        b->start = now;
        b->requests = b->retries = 0;
    }
}

void loki_retry_budget_note_request(loki_retry_budget *b, int64_t now_ms)
{
    pthread_mutex_lock(&b->lock);
    roll(b, now_ms);
    b->requests++;
    pthread_mutex_unlock(&b->lock);
}

int loki_retry_budget_take(loki_retry_budget *b, int64_t now_ms)
{
    pthread_mutex_lock(&b->lock);
    roll(b, now_ms);
    double allowed = b->ratio * (double)b->requests;
    int ok = (double)b->retries < allowed || b->retries < b->min_per_window;
    if (ok)
        b->retries++;
    pthread_mutex_unlock(&b->lock);
    return ok;
}
