/* SPDX-License-Identifier: MIT */
/* In-process verdict cache: 16 shards, each a chained hash table plus an LRU list under its
 * own mutex, so concurrent requests for different documents rarely contend. Entries hold the
 * rendered verdict JSON and its summary; a lookup copies them out under the lock so no entry
 * outlives its shard's bookkeeping. Errors are never cached (callers only put verdicts). */
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define N_SHARDS 16

typedef struct entry {
    uint8_t key[32];
    struct entry *next_hash;
    struct entry *prev, *next; /* LRU: head = most recent */
    double expires;            /* 0 = never */
    srv_summary sum;
    size_t len;
    char json[]; /* NUL-terminated */
} entry;

typedef struct shard {
    pthread_mutex_t lock;
    entry **tab;
    size_t nbuckets, n, bytes;
    entry *head, *tail;
} shard;

struct vcache {
    shard sh[N_SHARDS];
    size_t max_entries, max_bytes; /* per shard */
    double ttl;
    _Atomic uint64_t hits, misses, inserts, evictions, expired;
};

static size_t key_hash(const uint8_t key[32])
{
    size_t h;
    memcpy(&h, key + 8, sizeof h);
    return h;
}

vcache *vcache_create(size_t max_entries, size_t max_bytes, double ttl)
{
    vcache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->max_entries = max_entries / N_SHARDS + 1;
    c->max_bytes = max_bytes / N_SHARDS + 1;
    c->ttl = ttl;
    for (int i = 0; i < N_SHARDS; i++) {
        shard *s = &c->sh[i];
        s->nbuckets = 64;
        while (s->nbuckets < c->max_entries && s->nbuckets < (1u << 20))
            s->nbuckets *= 2;
        s->tab = calloc(s->nbuckets, sizeof *s->tab);
        pthread_mutex_init(&s->lock, NULL);
        if (!s->tab) {
            vcache_destroy(c);
            return NULL;
        }
    }
    return c;
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

static void remove_entry(shard *s, entry *e)
{
    entry **pp = &s->tab[key_hash(e->key) & (s->nbuckets - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->next_hash;
    if (*pp)
        *pp = e->next_hash;
    lru_unlink(s, e);
    s->n--;
    s->bytes -= e->len;
    free(e);
}

static void clear_shard(shard *s)
{
    while (s->head)
        remove_entry(s, s->head);
}

void vcache_destroy(vcache *c)
{
    if (!c)
        return;
    for (int i = 0; i < N_SHARDS; i++) {
        if (c->sh[i].tab)
            clear_shard(&c->sh[i]);
        free(c->sh[i].tab);
        pthread_mutex_destroy(&c->sh[i].lock);
    }
    free(c);
}

static entry *lookup(shard *s, const uint8_t key[32])
{
    for (entry *e = s->tab[key_hash(key) & (s->nbuckets - 1)]; e; e = e->next_hash)
        if (memcmp(e->key, key, 32) == 0)
            return e;
    return NULL;
}

int vcache_get(vcache *c, const uint8_t key[32], double now, char **json, size_t *len,
               srv_summary *sum)
{
    shard *s = &c->sh[key[0] % N_SHARDS];
    int hit = 0;
    pthread_mutex_lock(&s->lock);
    entry *e = lookup(s, key);
    if (e && e->expires && now >= e->expires) {
        remove_entry(s, e);
        c->expired++;
        e = NULL;
    }
    if (e) {
        char *copy = malloc(e->len + 1);
        if (copy) {
            memcpy(copy, e->json, e->len + 1);
            *json = copy;
            *len = e->len;
            *sum = e->sum;
            lru_unlink(s, e);
            lru_push_front(s, e);
            hit = 1;
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (hit)
        c->hits++;
    else
        c->misses++;
    return hit;
}

void vcache_put(vcache *c, const uint8_t key[32], const char *json, size_t len,
                const srv_summary *sum, double now)
{
    if (len + sizeof(entry) > c->max_bytes)
        return;
    entry *e = malloc(sizeof *e + len + 1);
    if (!e)
        return; /* the cache is an optimisation: no entry is fine */
    memcpy(e->key, key, 32);
    e->expires = c->ttl > 0 ? now + c->ttl : 0;
    e->sum = *sum;
    e->len = len;
    memcpy(e->json, json, len);
    e->json[len] = '\0';
    shard *s = &c->sh[key[0] % N_SHARDS];
    pthread_mutex_lock(&s->lock);
    entry *old = lookup(s, key);
    if (old)
        remove_entry(s, old);
    size_t b = key_hash(key) & (s->nbuckets - 1);
    e->next_hash = s->tab[b];
    s->tab[b] = e;
    lru_push_front(s, e);
    s->n++;
    s->bytes += len;
    while (s->tail && (s->n > c->max_entries || s->bytes > c->max_bytes)) {
        remove_entry(s, s->tail);
        c->evictions++;
    }
    pthread_mutex_unlock(&s->lock);
    c->inserts++;
}

void vcache_clear(vcache *c, size_t *removed)
{
    size_t n = 0;
    for (int i = 0; i < N_SHARDS; i++) {
        pthread_mutex_lock(&c->sh[i].lock);
        n += c->sh[i].n;
        clear_shard(&c->sh[i]);
        pthread_mutex_unlock(&c->sh[i].lock);
    }
    if (removed)
        *removed = n;
}

void vcache_get_stats(vcache *c, vcache_stats *st)
{
    memset(st, 0, sizeof *st);
    st->hits = c->hits;
    st->misses = c->misses;
    st->inserts = c->inserts;
    st->evictions = c->evictions;
    st->expired = c->expired;
    st->max_entries = c->max_entries * N_SHARDS;
    st->max_bytes = c->max_bytes * N_SHARDS;
    for (int i = 0; i < N_SHARDS; i++) {
        pthread_mutex_lock(&c->sh[i].lock);
        st->entries += c->sh[i].n;
        st->bytes += c->sh[i].bytes;
        pthread_mutex_unlock(&c->sh[i].lock);
    }
}
