/* SPDX-License-Identifier: MIT */
/*
 * libloki result cache: a byte-value cache with an in-memory sharded LRU (always present) and
 * an optional Redis tier behind a circuit breaker. Used for verdicts, but generic: any
 * expensive function can be wrapped with loki_cache_get_or_compute(). No call ever fails
 * because Redis failed: the memory tier serves instead and the breaker state shows in stats.
 */
#ifndef LOKI_CACHE_H
#define LOKI_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "loki/loki.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct loki_cache loki_cache;

/* A monotonic clock in milliseconds. Tests inject one to drive TTLs and the breaker. */
typedef uint64_t (*loki_cache_clock_fn)(void *ud);

/* Per-entry TTL values: 0 means "the configured default". */
#define LOKI_CACHE_TTL_DEFAULT 0u
/* Returned by a compute function in *ttl_ms: return the value but do not store it. */
#define LOKI_CACHE_TTL_NO_STORE UINT64_MAX

typedef struct loki_cache_config {
    /* Memory tier: byte budget over keys, values and bookkeeping (default 64 MiB), an optional
     * entry cap (0 = none) and the number of independently locked shards (default 16). */
    size_t max_bytes;
    size_t max_entries;
    unsigned shards;
    /* Default TTL in ms (default 1 h; 0 = entries never expire) and the jitter applied to every
     * TTL, in percent either way (default 10: a TTL lands uniformly in [0.9 t, 1.1 t]). */
    uint64_t default_ttl_ms;
    unsigned ttl_jitter_pct;
    /* Hard caps: longer keys fail with LOKI_ELIMIT; larger values are not stored (the set
     * returns LOKI_ELIMIT, get_or_compute still returns the value). Defaults 1 KiB, 8 MiB. */
    size_t max_key_bytes;
    size_t max_value_bytes;
    /* Prefix of every stored key, before "<namespace>:" (default "loki:"). */
    const char *key_prefix;

    /* Redis tier, or NULL for memory only. "redis://[:password@]host[:port][/db]",
     * "unix:///path/redis.sock[?db=N]" (also "redis+unix://", or a bare absolute path). */
    const char *redis_url;
    /* 1 (default): the memory tier also stands in front of Redis as a near cache (sets go to
     * both, Redis hits are copied into memory). 0: memory is used only while Redis is
     * unavailable. */
    int redis_near_cache;
    unsigned redis_pool_size;          /* connections, default 4 */
    unsigned redis_connect_timeout_ms; /* default 200 */
    unsigned redis_io_timeout_ms;      /* per command, default 100 */
    /* 1 (default): block SIGPIPE in the calling thread around Redis I/O (libpq's technique)
     * so a dead server cannot kill a process that did not ignore SIGPIPE. */
    int redis_sigpipe_guard;

    /* Breaker: opens after this many consecutive Redis failures (default 3); stays open for
     * breaker_open_ms (default 5000), then lets one probe through; breaker_close_successes
     * probe successes close it (default 2). */
    unsigned breaker_failures;
    uint64_t breaker_open_ms;
    unsigned breaker_close_successes;

    /* Clock hook (NULL: CLOCK_MONOTONIC) and the seed of the TTL jitter. */
    loki_cache_clock_fn clock;
    void *clock_ud;
    uint64_t jitter_seed;
} loki_cache_config;

/* Fills *cfg with the defaults above (redis_url NULL). */
void loki_cache_config_default(loki_cache_config *cfg);

/*
 * Creates a cache. A Redis URL that does not parse fails with LOKI_EINVAL; a Redis server that
 * is down does not fail creation (the breaker handles it). Thread-safe (independent caches).
 */
loki_status loki_cache_create(const loki_cache_config *cfg, loki_cache **out, loki_error *err);
/* Frees the cache; NULL is a no-op. No other call may be running on it. */
void loki_cache_destroy(loki_cache *c);

/*
 * Every key lives in a namespace (`ns`, NUL-terminated, NULL = "default"): entries of
 * different namespaces never collide. Keys are bytes (key, key_len).
 *
 * loki_cache_get: LOKI_OK with *val a malloc'd copy (caller frees with free(); a NUL byte
 * follows the value, not counted in *val_len), or LOKI_ENOTFOUND on a miss. Other statuses
 * only for bad arguments (EINVAL, ELIMIT) or ENOMEM; a failing Redis is a miss, not an error.
 * Thread-safe.
 */
loki_status loki_cache_get(loki_cache *c, const char *ns, const char *key, size_t key_len,
                           void **val, size_t *val_len);
/*
 * Stores a copy of the value with ttl_ms (LOKI_CACHE_TTL_DEFAULT for the default; jitter is
 * applied either way). LOKI_ELIMIT when the value exceeds max_value_bytes. Redis failures are
 * absorbed (the value goes to memory). Thread-safe.
 */
loki_status loki_cache_set(loki_cache *c, const char *ns, const char *key, size_t key_len,
                           const void *val, size_t val_len, uint64_t ttl_ms);
/* Removes the entry from every tier. LOKI_OK whether or not it existed. Thread-safe. */
loki_status loki_cache_del(loki_cache *c, const char *ns, const char *key, size_t key_len);

/*
 * A computation whose result may be cached. On LOKI_OK it hands over *val (malloc'd, freed by
 * the cache's caller with free()) and may set *ttl_ms (preset to LOKI_CACHE_TTL_DEFAULT; set
 * LOKI_CACHE_TTL_NO_STORE to skip storing). Any other status is an error: never cached.
 */
typedef loki_status (*loki_cache_compute_fn)(void *ud, void **val, size_t *val_len,
                                             uint64_t *ttl_ms);

/*
 * Returns the cached value or computes, stores and returns it. Concurrent misses on one key
 * compute once (single-flight): the others wait and receive a copy of the leader's result, or
 * the leader's error status (errors are shared with the waiters of that flight but never
 * stored). *val is malloc'd (free() it). *from_cache (may be NULL) is 1 when this call did not
 * run fn. Thread-safe; fn runs without any cache lock held and must not call back into the
 * same key of the same cache.
 */
loki_status loki_cache_get_or_compute(loki_cache *c, const char *ns, const char *key,
                                      size_t key_len, loki_cache_compute_fn fn, void *ud,
                                      void **val, size_t *val_len, int *from_cache);

/* ---- verdict keys ---- */

typedef struct loki_cache_key_parts {
    const char *text; /* the document, text_len bytes */
    size_t text_len;
    const char *document_type;  /* NULL = "unknown" */
    const char *const *modules; /* any order, duplicates allowed; NULL/0 = all loaded */
    size_t n_modules;
    const char *ruleset_fingerprint; /* loki_engine_fingerprint(); NULL = "" */
    const char *engine_version;      /* NULL = loki_version() */
    /* Anything else that changes the result (e.g. "no_universal=1"); may be NULL. */
    const char *extra;
    size_t extra_len;
} loki_cache_key_parts;

/*
 * Writes the 64-hex-char SHA-256 cache key (plus NUL) of a check: the fields are
 * length-prefixed so no two distinct inputs share an encoding, and the modules are sorted and
 * de-duplicated first. LOKI_ENOMEM or LOKI_EINTERNAL on failure. Thread-safe.
 */
loki_status loki_cache_key_build(const loki_cache_key_parts *parts, char out[65]);

/* ---- statistics ---- */

typedef enum loki_breaker_state {
    LOKI_BREAKER_CLOSED = 0, /* Redis is used */
    LOKI_BREAKER_HALF_OPEN,  /* probing Redis after a failure period */
    LOKI_BREAKER_OPEN        /* Redis is skipped; memory serves */
} loki_breaker_state;

/* "closed", "half_open", "open". */
const char *loki_breaker_state_name(loki_breaker_state s);

typedef struct loki_cache_stats {
    uint64_t hits, misses, sets, evictions, expirations;
    uint64_t errors; /* Redis operations that failed (each one absorbed) */
    uint64_t memory_hits, redis_hits;
    uint64_t fallbacks; /* operations served by memory because Redis failed or was skipped */
    uint64_t computes;  /* get_or_compute calls that ran fn */
    uint64_t shared;    /* get_or_compute calls that waited for another's computation */
    uint64_t too_large; /* values not stored because of max_value_bytes */
    uint64_t entries, bytes, max_bytes; /* memory tier */
    double hit_rate;                    /* hits / (hits + misses), 0 when no lookups */
    const char *backend;                /* "memory" or "redis" (configured primary) */
    int redis_configured;
    loki_breaker_state breaker;
    const char *health; /* "ok", or "degraded" while Redis is skipped */
    uint64_t breaker_opens, breaker_rejects;
} loki_cache_stats;

/* A consistent-enough snapshot (counters are read individually). Thread-safe. */
void loki_cache_stats_get(loki_cache *c, loki_cache_stats *st);
/* The stats as one JSON object / as Prometheus text (loki_cache_* metrics, _total counters,
 * bytes as base unit). *out is malloc'd and NUL-terminated; free() it. */
loki_status loki_cache_stats_json(const loki_cache_stats *st, char **out, size_t *out_len);
loki_status loki_cache_stats_prometheus(const loki_cache_stats *st, char **out, size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif /* LOKI_CACHE_H */
