/* SPDX-License-Identifier: MIT */
/* Per-client token buckets. Time is an argument, never read here, so the limiter is exact
 * and testable. Buckets live in a chained hash table under one mutex (a take is a few dozen
 * nanoseconds); when the table reaches max_clients, buckets that have refilled completely are
 * dropped, since a full bucket is the same as no bucket. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

typedef struct bucket {
    struct bucket *next;
    double tokens, last;
    char id[];
} bucket;

struct ratelimit {
    pthread_mutex_t lock;
    double rate, burst;
    size_t max_clients, n, nbuckets;
    bucket **tab;
    rl_redis *shared; /* ratelimit_redis.c: asked first; these buckets stand in when it fails */
};

ratelimit *ratelimit_create(double rate, double burst, size_t max_clients)
{
    ratelimit *r = loki__calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->rate = rate;
    r->burst = burst < 1 ? 1 : burst;
    r->max_clients = max_clients;
    r->nbuckets = 4096;
    r->tab = loki__calloc(r->nbuckets, sizeof *r->tab);
    if (!r->tab) {
        free(r);
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

void ratelimit_destroy(ratelimit *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nbuckets; i++) {
        bucket *b = r->tab[i];
        while (b) {
            bucket *n = b->next;
            free(b);
            b = n;
        }
    }
    free(r->tab);
    rl_redis_destroy(r->shared);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

static size_t str_hash(const char *s)
{
    size_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static void refill(const ratelimit *r, bucket *b, double now)
{
    if (now > b->last) {
        b->tokens = fmin(r->burst, b->tokens + (now - b->last) * r->rate);
        b->last = now;
    }
}

/* Drops buckets that are full again; called with the lock held. */
static void sweep(ratelimit *r, double now)
{
    for (size_t i = 0; i < r->nbuckets; i++) {
        bucket **pp = &r->tab[i];
        while (*pp) {
            bucket *b = *pp;
            refill(r, b, now);
            if (b->tokens >= r->burst) {
                *pp = b->next;
                free(b);
                r->n--;
            } else {
                pp = &b->next;
            }
        }
    }
}

void ratelimit_set_shared(ratelimit *r, rl_redis *shared)
{
    r->shared = shared;
}

rl_redis *ratelimit_get_shared(ratelimit *r)
{
    return r->shared;
}

int ratelimit_take(ratelimit *r, const char *client, double now, double *retry_after)
{
    int ok = r->shared ? rl_redis_take(r->shared, client, -1, retry_after) : -1;
    if (ok >= 0)
        return ok;
    ok = 1;
    pthread_mutex_lock(&r->lock);
    size_t h = str_hash(client) & (r->nbuckets - 1);
    bucket *b = r->tab[h];
    while (b && strcmp(b->id, client) != 0)
        b = b->next;
    if (!b) {
        if (r->n >= r->max_clients)
            sweep(r, now);
        size_t len = strlen(client);
        b = r->n < r->max_clients ? loki__malloc(sizeof *b + len + 1) : NULL;
        if (!b) {
            /* Table full of active clients (or no memory): fail open rather than lock out
             * a client we cannot track. */
            pthread_mutex_unlock(&r->lock);
            return 1;
        }
        memcpy(b->id, client, len + 1);
        b->tokens = r->burst;
        b->last = now;
        b->next = r->tab[h];
        r->tab[h] = b;
        r->n++;
    }
    refill(r, b, now);
    if (b->tokens >= 1) {
        b->tokens -= 1;
    } else {
        ok = 0;
        if (retry_after)
            *retry_after = r->rate > 0 ? (1 - b->tokens) / r->rate : 3600;
    }
    pthread_mutex_unlock(&r->lock);
    return ok;
}
