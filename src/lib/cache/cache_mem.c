/* SPDX-License-Identifier: MIT */
/*
 * The memory backend: a sharded LRU with per-entry expiry and a byte budget. Each shard has its
 * own lock, hash table and LRU list, so threads touching different keys rarely contend. Expired
 * entries are dropped lazily (on lookup, and first when making room).
 */
#include <stdatomic.h>
#include <string.h>

#include "cache_int.h"
#include "util/util.h"

typedef struct entry {
    struct entry *hnext;       /* hash chain */
    struct entry *prev, *next; /* LRU list: head = most recent */
    uint64_t hash;
    uint64_t expires_at; /* 0 = never */
    size_t klen, vlen;
    char data[]; /* key, then value, then NUL */
} entry;

typedef struct shard {
    pthread_mutex_t mu;
    entry **buckets;
    size_t nbuckets; /* power of two */
    entry *head, *tail;
    size_t count, bytes;
    size_t max_bytes, max_entries;
    uint64_t evictions, expirations;
} shard;

typedef struct mem_backend {
    loki__cache_backend base;
    shard *shards;
    unsigned nshards;
} mem_backend;

size_t loki__cache_mem_overhead(void)
{
    return sizeof(entry) + 2 * sizeof(void *);
}

static size_t entry_cost(size_t klen, size_t vlen)
{
    return loki__cache_mem_overhead() + klen + vlen + 1;
}

uint64_t loki__cache_hash(const char *p, size_t n)
{
    /* FNV-1a, then a final mix so the top bits (shard choice) depend on every byte. */
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static shard *shard_for(mem_backend *m, uint64_t h)
{
    return &m->shards[(h >> 40) % m->nshards];
}

static void lru_unlink(shard *s, entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        s->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        s->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(shard *s, entry *e)
{
    e->prev = NULL;
    e->next = s->head;
    if (s->head)
        s->head->prev = e;
    s->head = e;
    if (!s->tail)
        s->tail = e;
}

static entry **bucket_find(shard *s, uint64_t h, const char *key, size_t klen)
{
    entry **pp = &s->buckets[h & (s->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->hnext) {
        entry *e = *pp;
        if (e->hash == h && e->klen == klen && memcmp(e->data, key, klen) == 0)
            return pp;
    }
    return pp;
}

static void entry_remove(shard *s, entry *e)
{
    entry **pp = bucket_find(s, e->hash, e->data, e->klen);
    *pp = e->hnext;
    lru_unlink(s, e);
    s->count--;
    s->bytes -= entry_cost(e->klen, e->vlen);
    loki__free(e);
}

/* Doubling the table keeps chains short; a failed grow just leaves chains longer. */
static void maybe_grow(shard *s)
{
    if (s->count < s->nbuckets)
        return;
    size_t n = s->nbuckets * 2;
    entry **nb = loki__calloc(n, sizeof *nb);
    if (!nb)
        return;
    for (size_t i = 0; i < s->nbuckets; i++) {
        entry *e = s->buckets[i];
        while (e) {
            entry *next = e->hnext;
            e->hnext = nb[e->hash & (n - 1)];
            nb[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    loki__free(s->buckets);
    s->buckets = nb;
    s->nbuckets = n;
}

static int expired(const entry *e, uint64_t now)
{
    return e->expires_at != 0 && now >= e->expires_at;
}

/* Makes room for `cost` more bytes and one more entry: expired entries at the cold end go
 * first (counted as expirations), then least recently used ones (evictions). */
static void make_room(shard *s, size_t cost, uint64_t now)
{
    while (s->tail &&
           (s->bytes + cost > s->max_bytes || (s->max_entries && s->count + 1 > s->max_entries))) {
        entry *e = s->tail;
        if (expired(e, now))
            s->expirations++;
        else
            s->evictions++;
        entry_remove(s, e);
    }
}

static loki_status mem_get(loki__cache_backend *b, const char *key, size_t klen, uint64_t now,
                           void **val, size_t *vlen, uint64_t *ttl_left)
{
    mem_backend *m = (mem_backend *)b;
    uint64_t h = loki__cache_hash(key, klen);
    shard *s = shard_for(m, h);
    loki_status st = LOKI_ENOTFOUND;
    pthread_mutex_lock(&s->mu);
    entry *e = *bucket_find(s, h, key, klen);
    if (!e)
        goto out;
    if (expired(e, now)) {
        s->expirations++;
        entry_remove(s, e);
        goto out;
    }
    char *copy = loki__malloc(e->vlen + 1);
    if (!copy) {
        st = LOKI_ENOMEM;
        goto out;
    }
    memcpy(copy, e->data + e->klen, e->vlen + 1);
    *val = copy;
    *vlen = e->vlen;
    if (ttl_left)
        *ttl_left = e->expires_at ? e->expires_at - now : 0;
    lru_unlink(s, e);
    lru_push_front(s, e);
    st = LOKI_OK;
out:
    pthread_mutex_unlock(&s->mu);
    return st;
}

static loki_status mem_set(loki__cache_backend *b, const char *key, size_t klen, const void *val,
                           size_t vlen, uint64_t ttl_ms, uint64_t now)
{
    mem_backend *m = (mem_backend *)b;
    uint64_t h = loki__cache_hash(key, klen);
    shard *s = shard_for(m, h);
    size_t cost = entry_cost(klen, vlen);
    if (cost > s->max_bytes)
        return LOKI_ELIMIT;
    /* Build the entry before taking the lock: allocation and copying stay outside it. */
    entry *e = loki__malloc(sizeof *e + klen + vlen + 1);
    if (!e)
        return LOKI_ENOMEM;
    memset(e, 0, sizeof *e);
    e->hash = h;
    e->klen = klen;
    e->vlen = vlen;
    e->expires_at = ttl_ms ? now + ttl_ms : 0;
    memcpy(e->data, key, klen);
    if (vlen)
        memcpy(e->data + klen, val, vlen);
    e->data[klen + vlen] = '\0';

    pthread_mutex_lock(&s->mu);
    entry *old = *bucket_find(s, h, key, klen);
    if (old)
        entry_remove(s, old);
    make_room(s, cost, now);
    maybe_grow(s);
    entry **slot = &s->buckets[h & (s->nbuckets - 1)];
    e->hnext = *slot;
    *slot = e;
    lru_push_front(s, e);
    s->count++;
    s->bytes += cost;
    pthread_mutex_unlock(&s->mu);
    return LOKI_OK;
}

static loki_status mem_del(loki__cache_backend *b, const char *key, size_t klen)
{
    mem_backend *m = (mem_backend *)b;
    uint64_t h = loki__cache_hash(key, klen);
    shard *s = shard_for(m, h);
    pthread_mutex_lock(&s->mu);
    entry *e = *bucket_find(s, h, key, klen);
    if (e)
        entry_remove(s, e);
    pthread_mutex_unlock(&s->mu);
    return LOKI_OK;
}

static void mem_destroy(loki__cache_backend *b)
{
    mem_backend *m = (mem_backend *)b;
    if (!m)
        return;
    for (unsigned i = 0; i < m->nshards; i++) {
        shard *s = &m->shards[i];
        entry *e = s->head;
        while (e) {
            entry *next = e->next;
            loki__free(e);
            e = next;
        }
        loki__free(s->buckets);
        pthread_mutex_destroy(&s->mu);
    }
    loki__free(m->shards);
    loki__free(m);
}

static const loki__cache_vt mem_vt = {
    .name = "memory", .get = mem_get, .set = mem_set, .del = mem_del, .destroy = mem_destroy};

void loki__cache_mem_stats_get(loki__cache_backend *b, loki__cache_mem_stats *st)
{
    mem_backend *m = (mem_backend *)b;
    memset(st, 0, sizeof *st);
    for (unsigned i = 0; i < m->nshards; i++) {
        shard *s = &m->shards[i];
        pthread_mutex_lock(&s->mu);
        st->entries += s->count;
        st->bytes += s->bytes;
        st->evictions += s->evictions;
        st->expirations += s->expirations;
        pthread_mutex_unlock(&s->mu);
    }
}

loki_status loki__cache_mem_create(size_t max_bytes, size_t max_entries, unsigned nshards,
                                   loki__cache_backend **out)
{
    *out = NULL;
    if (nshards == 0 || nshards > 1024 || max_bytes == 0)
        return LOKI_EINVAL;
    mem_backend *m = loki__calloc(1, sizeof *m);
    if (!m)
        return LOKI_ENOMEM;
    m->base.vt = &mem_vt;
    m->shards = loki__calloc(nshards, sizeof *m->shards);
    if (!m->shards)
        goto fail;
    for (unsigned i = 0; i < nshards; i++) {
        shard *s = &m->shards[i];
        s->nbuckets = 64;
        s->buckets = loki__calloc(s->nbuckets, sizeof *s->buckets);
        if (!s->buckets)
            goto fail;
        pthread_mutex_init(&s->mu, NULL);
        m->nshards = i + 1;
        /* The budget is split evenly; a shard never holds less than one small entry. */
        s->max_bytes = max_bytes / nshards;
        s->max_entries = max_entries ? (max_entries + nshards - 1) / nshards : 0;
    }
    *out = &m->base;
    return LOKI_OK;
fail:
    mem_destroy(&m->base);
    return LOKI_ENOMEM;
}
