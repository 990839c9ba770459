/* SPDX-License-Identifier: MIT */
/*
 * Cache internals shared by the front (cache.c) and its backends: the backend vtable (Redis's
 * ConnectionType idea), the memory and Redis constructors, the circuit breaker and the
 * single-flight table. Internal: not installed.
 */
#ifndef LOKI_CACHE_INT_H
#define LOKI_CACHE_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "loki/cache.h"

/* ---- backends ---- */

typedef struct loki__cache_backend loki__cache_backend;

typedef struct loki__cache_vt {
    const char *name;
    /* LOKI_OK (*val malloc'd, NUL-terminated beyond *vlen; *ttl_left_ms = remaining TTL, 0 when
     * none), LOKI_ENOTFOUND, or a backend failure (EIO, ETIMEOUT, ENOMEM). */
    loki_status (*get)(loki__cache_backend *b, const char *key, size_t klen, uint64_t now_ms,
                       void **val, size_t *vlen, uint64_t *ttl_left_ms);
    /* ttl_ms 0 = never expires. */
    loki_status (*set)(loki__cache_backend *b, const char *key, size_t klen, const void *val,
                       size_t vlen, uint64_t ttl_ms, uint64_t now_ms);
    loki_status (*del)(loki__cache_backend *b, const char *key, size_t klen);
    void (*destroy)(loki__cache_backend *b);
} loki__cache_vt;

struct loki__cache_backend {
    const loki__cache_vt *vt;
};

typedef struct loki__cache_mem_stats {
    uint64_t entries, bytes, evictions, expirations;
} loki__cache_mem_stats;

loki_status loki__cache_mem_create(size_t max_bytes, size_t max_entries, unsigned shards,
                                   loki__cache_backend **out);
void loki__cache_mem_stats_get(loki__cache_backend *b, loki__cache_mem_stats *st);
/* Bookkeeping bytes charged per entry on top of key and value. */
size_t loki__cache_mem_overhead(void);

typedef struct loki__redis_opts {
    unsigned pool_size;
    unsigned connect_timeout_ms, io_timeout_ms;
    size_t max_value_bytes;
    int sigpipe_guard;
} loki__redis_opts;

/* Parses the URL and sets up the pool; connects lazily. EINVAL for a bad URL. */
loki_status loki__cache_redis_create(const char *url, const loki__redis_opts *o,
                                     loki__cache_backend **out, loki_error *err);

/* ---- circuit breaker (time passed in; thread-safe) ---- */

typedef struct loki__breaker {
    pthread_mutex_t mu;
    loki_breaker_state state;
    unsigned failures;  /* consecutive, while closed */
    unsigned successes; /* probe successes, while half-open */
    unsigned probing;   /* probes in flight, while half-open */
    uint64_t opened_at;
    unsigned fail_threshold, close_successes;
    uint64_t open_ms;
    uint64_t opens, rejects;
} loki__breaker;

void loki__breaker_init(loki__breaker *br, unsigned fail_threshold, uint64_t open_ms,
                        unsigned close_successes);
void loki__breaker_release(loki__breaker *br);
/* 1: the call may go ahead (and must be reported with loki__breaker_done); 0: rejected. */
int loki__breaker_allow(loki__breaker *br, uint64_t now_ms);
void loki__breaker_done(loki__breaker *br, int ok, uint64_t now_ms);
loki_breaker_state loki__breaker_state(loki__breaker *br, uint64_t *opens, uint64_t *rejects);

/* ---- single-flight ---- */

typedef struct loki__flight loki__flight;
typedef struct loki__flights {
    pthread_mutex_t mu;
    loki__flight **slots;
    size_t nslots;
} loki__flights;

loki_status loki__flights_init(loki__flights *fl);
void loki__flights_release(loki__flights *fl);
/*
 * Joins the flight for key. Returns 1 with *f set when the caller is the leader (it must end
 * with loki__flight_finish), 0 when another call led: then *st, *val, *vlen hold a copy of its
 * result. -1 on ENOMEM.
 */
int loki__flight_join(loki__flights *fl, const char *key, size_t klen, loki__flight **f,
                      loki_status *st, void **val, size_t *vlen);
/* Publishes the leader's result to the waiters (copying val when anyone waits). */
void loki__flight_finish(loki__flights *fl, loki__flight *f, loki_status st, const void *val,
                         size_t vlen);

uint64_t loki__cache_hash(const char *p, size_t n);

#endif
