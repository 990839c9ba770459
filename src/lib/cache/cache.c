/* SPDX-License-Identifier: MIT */
/*
 * The cache front: namespaced keys, TTL with jitter, the memory tier and the optional Redis
 * tier behind a circuit breaker, single-flight get_or_compute and the stats. The rule that
 * shapes it: no caller ever sees a Redis failure. A failed or skipped Redis operation falls back
 * to memory and is counted; the breaker keeps a dead Redis from costing a timeout per call.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache_int.h"
#include "util/util.h"

struct loki_cache {
    loki_cache_config cfg; /* strings point into owned copies below */
    char *prefix;
    size_t prefix_len;
    loki__cache_backend *mem;
    loki__cache_backend *redis; /* NULL: memory only */
    loki__breaker br;
    loki__flights flights;
    _Atomic uint64_t jitter_seq;
    _Atomic uint64_t hits, misses, sets, errors, memory_hits, redis_hits, fallbacks, computes,
        shared, too_large;
};

#define KEY_STACK 256

void loki_cache_config_default(loki_cache_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_bytes = 64u << 20;
    cfg->shards = 16;
    cfg->default_ttl_ms = 3600u * 1000u;
    cfg->ttl_jitter_pct = 10;
    cfg->max_key_bytes = 1024;
    cfg->max_value_bytes = 8u << 20;
    cfg->key_prefix = "loki:";
    cfg->redis_near_cache = 1;
    cfg->redis_pool_size = 4;
    cfg->redis_connect_timeout_ms = 200;
    cfg->redis_io_timeout_ms = 100;
    cfg->redis_sigpipe_guard = 1;
    cfg->breaker_failures = 3;
    cfg->breaker_open_ms = 5000;
    cfg->breaker_close_successes = 2;
}

const char *loki_breaker_state_name(loki_breaker_state s)
{
    switch (s) {
    case LOKI_BREAKER_CLOSED: return "closed";
    case LOKI_BREAKER_HALF_OPEN: return "half_open";
    case LOKI_BREAKER_OPEN: return "open";
    }
    return "unknown";
}

static uint64_t now_ms(const loki_cache *c)
{
    if (c->cfg.clock)
        return c->cfg.clock(c->cfg.clock_ud);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void bump(_Atomic uint64_t *ctr)
{
    atomic_fetch_add_explicit(ctr, 1, memory_order_relaxed);
}

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Spreads expiry of entries made together (e.g. after a deploy) so they do not all expire in
 * the same second: ttl * (1 ± pct%), uniformly. */
static uint64_t jittered(loki_cache *c, uint64_t ttl)
{
    if (ttl == LOKI_CACHE_TTL_DEFAULT)
        ttl = c->cfg.default_ttl_ms;
    if (ttl == 0 || c->cfg.ttl_jitter_pct == 0)
        return ttl;
    uint64_t seq = atomic_fetch_add_explicit(&c->jitter_seq, 1, memory_order_relaxed);
    uint64_t r = splitmix64(c->cfg.jitter_seed ^ seq);
    uint64_t span = ttl / 100 * c->cfg.ttl_jitter_pct + ttl % 100 * c->cfg.ttl_jitter_pct / 100;
    if (span == 0)
        return ttl;
    uint64_t off = r % (2 * span + 1);
    uint64_t t = ttl - span + off;
    return t ? t : 1;
}

/* ---- lifecycle ---- */

void loki_cache_destroy(loki_cache *c)
{
    if (!c)
        return;
    if (c->mem)
        c->mem->vt->destroy(c->mem);
    if (c->redis)
        c->redis->vt->destroy(c->redis);
    loki__flights_release(&c->flights);
    loki__breaker_release(&c->br);
    loki__free(c->prefix);
    loki__free(c);
}

loki_status loki_cache_create(const loki_cache_config *cfg, loki_cache **out, loki_error *err)
{
    loki__err_clear(err);
    *out = NULL;
    loki_cache_config def;
    if (!cfg) {
        loki_cache_config_default(&def);
        cfg = &def;
    }
    if (cfg->shards == 0 || cfg->shards > 1024 || cfg->max_bytes == 0 || cfg->max_key_bytes == 0 ||
        cfg->ttl_jitter_pct > 50)
        return loki__err(err, LOKI_EINVAL, "invalid cache configuration");
    loki_cache *c = loki__calloc(1, sizeof *c);
    if (!c)
        return loki__err(err, LOKI_ENOMEM, "out of memory");
    c->cfg = *cfg;
    loki__breaker_init(&c->br, cfg->breaker_failures, cfg->breaker_open_ms,
                       cfg->breaker_close_successes);
    loki_status st = LOKI_ENOMEM;
    c->prefix = loki__strdup(cfg->key_prefix ? cfg->key_prefix : "");
    if (!c->prefix || loki__flights_init(&c->flights) != LOKI_OK)
        goto fail_oom;
    c->prefix_len = strlen(c->prefix);
    c->cfg.key_prefix = c->prefix;
    c->cfg.redis_url = NULL; /* the backend keeps what it needs */
    st = loki__cache_mem_create(cfg->max_bytes, cfg->max_entries, cfg->shards, &c->mem);
    if (st != LOKI_OK)
        goto fail_oom;
    if (cfg->redis_url) {
        loki__redis_opts o = {.pool_size = cfg->redis_pool_size,
                              .connect_timeout_ms = cfg->redis_connect_timeout_ms,
                              .io_timeout_ms = cfg->redis_io_timeout_ms,
                              .max_value_bytes = cfg->max_value_bytes,
                              .sigpipe_guard = cfg->redis_sigpipe_guard};
        st = loki__cache_redis_create(cfg->redis_url, &o, &c->redis, err);
        if (st != LOKI_OK)
            goto fail;
    }
    *out = c;
    return LOKI_OK;
fail_oom:
    loki__err(err, st, "cannot create the cache: %s", loki_strerror(st));
fail:
    loki_cache_destroy(c);
    return st;
}

/* ---- keys: "<prefix><ns>:<key>" ---- */

typedef struct full_key {
    char stack[KEY_STACK];
    char *p;
    size_t len;
} full_key;

static loki_status key_make(loki_cache *c, const char *ns, const char *key, size_t klen,
                            full_key *k)
{
    k->p = NULL;
    if (!key && klen)
        return LOKI_EINVAL;
    if (!ns)
        ns = "default";
    size_t nl = strlen(ns);
    if (klen > c->cfg.max_key_bytes || nl > c->cfg.max_key_bytes)
        return LOKI_ELIMIT;
    k->len = c->prefix_len + nl + 1 + klen;
    k->p = k->len <= sizeof k->stack ? k->stack : loki__malloc(k->len);
    if (!k->p)
        return LOKI_ENOMEM;
    memcpy(k->p, c->prefix, c->prefix_len);
    memcpy(k->p + c->prefix_len, ns, nl);
    k->p[c->prefix_len + nl] = ':';
    if (klen)
        memcpy(k->p + c->prefix_len + nl + 1, key, klen);
    return LOKI_OK;
}

static void key_free(full_key *k)
{
    if (k->p && k->p != k->stack)
        loki__free(k->p);
    k->p = NULL;
}

/* ---- tiers ---- */

/* Runs op on Redis when the breaker lets it; returns 1 when Redis answered (st is its answer),
 * 0 when it was skipped or failed and memory must serve. */
static int redis_attempt(loki_cache *c, loki_status st, uint64_t now)
{
    int ok = st == LOKI_OK || st == LOKI_ENOTFOUND;
    loki__breaker_done(&c->br, ok, now);
    if (!ok) {
        bump(&c->errors);
        bump(&c->fallbacks);
    }
    return ok;
}

static loki_status tier_get(loki_cache *c, const full_key *k, uint64_t now, void **val,
                            size_t *vlen)
{
    loki_status st;
    int near = !c->redis || c->cfg.redis_near_cache;
    if (near) {
        st = c->mem->vt->get(c->mem, k->p, k->len, now, val, vlen, NULL);
        if (st == LOKI_OK)
            bump(&c->memory_hits);
        if (st != LOKI_ENOTFOUND || !c->redis)
            return st;
    }
    if (loki__breaker_allow(&c->br, now)) {
        uint64_t ttl_left = 0;
        st = c->redis->vt->get(c->redis, k->p, k->len, now, val, vlen, &ttl_left);
        if (redis_attempt(c, st, now)) {
            if (st == LOKI_OK) {
                bump(&c->redis_hits);
                if (near) /* copy into the near cache for the rest of its life */
                    c->mem->vt->set(c->mem, k->p, k->len, *val, *vlen, ttl_left, now);
            }
            return st;
        }
    } else {
        bump(&c->fallbacks);
    }
    if (near)
        return LOKI_ENOTFOUND; /* memory was already asked */
    st = c->mem->vt->get(c->mem, k->p, k->len, now, val, vlen, NULL);
    if (st == LOKI_OK)
        bump(&c->memory_hits);
    return st;
}

static loki_status tier_set(loki_cache *c, const full_key *k, const void *val, size_t vlen,
                            uint64_t ttl, uint64_t now)
{
    int near = !c->redis || c->cfg.redis_near_cache;
    loki_status mst = LOKI_OK;
    if (near)
        mst = c->mem->vt->set(c->mem, k->p, k->len, val, vlen, ttl, now);
    if (!c->redis)
        return mst;
    if (loki__breaker_allow(&c->br, now)) {
        loki_status st = c->redis->vt->set(c->redis, k->p, k->len, val, vlen, ttl, now);
        if (redis_attempt(c, st, now))
            return LOKI_OK;
    } else {
        bump(&c->fallbacks);
    }
    if (!near)
        mst = c->mem->vt->set(c->mem, k->p, k->len, val, vlen, ttl, now);
    return mst == LOKI_ENOMEM ? LOKI_ENOMEM : LOKI_OK;
}

/* ---- public operations ---- */

loki_status loki_cache_get(loki_cache *c, const char *ns, const char *key, size_t key_len,
                           void **val, size_t *val_len)
{
    if (!c || !val || !val_len)
        return LOKI_EINVAL;
    *val = NULL;
    *val_len = 0;
    full_key k;
    loki_status st = key_make(c, ns, key, key_len, &k);
    if (st != LOKI_OK)
        return st;
    st = tier_get(c, &k, now_ms(c), val, val_len);
    key_free(&k);
    if (st == LOKI_OK)
        bump(&c->hits);
    else if (st == LOKI_ENOTFOUND)
        bump(&c->misses);
    return st;
}

loki_status loki_cache_set(loki_cache *c, const char *ns, const char *key, size_t key_len,
                           const void *val, size_t val_len, uint64_t ttl_ms)
{
    if (!c || (!val && val_len))
        return LOKI_EINVAL;
    if (val_len > c->cfg.max_value_bytes) {
        bump(&c->too_large);
        return LOKI_ELIMIT;
    }
    full_key k;
    loki_status st = key_make(c, ns, key, key_len, &k);
    if (st != LOKI_OK)
        return st;
    st = tier_set(c, &k, val ? val : "", val_len, jittered(c, ttl_ms), now_ms(c));
    key_free(&k);
    if (st == LOKI_OK)
        bump(&c->sets);
    return st;
}

loki_status loki_cache_del(loki_cache *c, const char *ns, const char *key, size_t key_len)
{
    if (!c)
        return LOKI_EINVAL;
    full_key k;
    loki_status st = key_make(c, ns, key, key_len, &k);
    if (st != LOKI_OK)
        return st;
    uint64_t now = now_ms(c);
    c->mem->vt->del(c->mem, k.p, k.len);
    if (c->redis && loki__breaker_allow(&c->br, now))
        redis_attempt(c, c->redis->vt->del(c->redis, k.p, k.len), now);
    key_free(&k);
    return LOKI_OK;
}

static loki_status lead(loki_cache *c, const full_key *k, loki_cache_compute_fn fn, void *ud,
                        void **val, size_t *vlen, int *from_cache)
{
    /* Someone may have finished and stored it between our miss and taking the lead. */
    loki_status st = tier_get(c, k, now_ms(c), val, vlen);
    if (st == LOKI_OK) {
        *from_cache = 1;
        return st;
    }
    uint64_t ttl = LOKI_CACHE_TTL_DEFAULT;
    *val = NULL;
    *vlen = 0;
    bump(&c->computes);
    st = fn(ud, val, vlen, &ttl);
    if (st != LOKI_OK) {
        free(*val); /* a careless fn may have allocated before failing */
        *val = NULL;
        *vlen = 0;
        return st;
    }
    if (!*val && *vlen) {
        *vlen = 0;
        return LOKI_EINVAL;
    }
    if (ttl == LOKI_CACHE_TTL_NO_STORE)
        return st;
    if (*vlen > c->cfg.max_value_bytes) {
        bump(&c->too_large);
        return st;
    }
    if (tier_set(c, k, *val ? *val : "", *vlen, jittered(c, ttl), now_ms(c)) == LOKI_OK)
        bump(&c->sets);
    return st;
}

loki_status loki_cache_get_or_compute(loki_cache *c, const char *ns, const char *key,
                                      size_t key_len, loki_cache_compute_fn fn, void *ud,
                                      void **val, size_t *val_len, int *from_cache)
{
    int dummy;
    if (!from_cache)
        from_cache = &dummy;
    *from_cache = 0;
    if (!c || !fn || !val || !val_len)
        return LOKI_EINVAL;
    *val = NULL;
    *val_len = 0;
    full_key k;
    loki_status st = key_make(c, ns, key, key_len, &k);
    if (st != LOKI_OK)
        return st;
    st = tier_get(c, &k, now_ms(c), val, val_len);
    if (st == LOKI_OK) {
        bump(&c->hits);
        *from_cache = 1;
        goto out;
    }
    bump(&c->misses);
    loki__flight *f = NULL;
    int r = loki__flight_join(&c->flights, k.p, k.len, &f, &st, val, val_len);
    if (r < 0) {
        st = LOKI_ENOMEM;
    } else if (r == 0) {
        bump(&c->shared);
        *from_cache = 1;
    } else {
        st = lead(c, &k, fn, ud, val, val_len, from_cache);
        loki__flight_finish(&c->flights, f, st, *val, *val_len);
    }
out:
    key_free(&k);
    return st;
}

/* ---- stats ---- */

static uint64_t rd(_Atomic uint64_t *ctr)
{
    return atomic_load_explicit(ctr, memory_order_relaxed);
}

void loki_cache_stats_get(loki_cache *c, loki_cache_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!c)
        return;
    loki__cache_mem_stats ms;
    loki__cache_mem_stats_get(c->mem, &ms);
    st->hits = rd(&c->hits);
    st->misses = rd(&c->misses);
    st->sets = rd(&c->sets);
    st->errors = rd(&c->errors);
    st->memory_hits = rd(&c->memory_hits);
    st->redis_hits = rd(&c->redis_hits);
    st->fallbacks = rd(&c->fallbacks);
    st->computes = rd(&c->computes);
    st->shared = rd(&c->shared);
    st->too_large = rd(&c->too_large);
    st->evictions = ms.evictions;
    st->expirations = ms.expirations;
    st->entries = ms.entries;
    st->bytes = ms.bytes;
    st->max_bytes = c->cfg.max_bytes;
    uint64_t lookups = st->hits + st->misses;
    st->hit_rate = lookups ? (double)st->hits / (double)lookups : 0.0;
    st->redis_configured = c->redis != NULL;
    st->backend = c->redis ? "redis" : "memory";
    st->breaker = c->redis ? loki__breaker_state(&c->br, &st->breaker_opens, &st->breaker_rejects)
                           : LOKI_BREAKER_CLOSED;
    st->health = st->breaker == LOKI_BREAKER_CLOSED ? "ok" : "degraded";
}
