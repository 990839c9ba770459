/* SPDX-License-Identifier: MIT */
/*
 * Single-flight: the first caller to miss on a key becomes the leader and computes; callers
 * arriving while it runs wait on the flight and get a copy of its result. A flight leaves the
 * table as soon as its result is published, so a later miss starts a fresh one (errors are
 * shared with current waiters, never remembered).
 */
#include <string.h>

#include "cache_int.h"
#include "util/util.h"

struct loki__flight {
    loki__flight *next;
    pthread_cond_t cv;
    unsigned refs; /* leader + waiters still to read the result */
    int done;
    loki_status st;
    char *val;
    size_t vlen;
    uint64_t hash;
    size_t klen;
    char key[];
};

#define NSLOTS 256

loki_status loki__flights_init(loki__flights *fl)
{
    fl->slots = loki__calloc(NSLOTS, sizeof *fl->slots);
    if (!fl->slots)
        return LOKI_ENOMEM;
    fl->nslots = NSLOTS;
    pthread_mutex_init(&fl->mu, NULL);
    return LOKI_OK;
}

void loki__flights_release(loki__flights *fl)
{
    if (!fl->slots)
        return;
    pthread_mutex_destroy(&fl->mu);
    loki__free(fl->slots);
    fl->slots = NULL;
}

static void flight_unref(loki__flight *f)
{
    if (--f->refs)
        return;
    pthread_cond_destroy(&f->cv);
    loki__free(f->val);
    loki__free(f);
}

static int copy_result(loki__flight *f, loki_status *st, void **val, size_t *vlen)
{
    *st = f->st;
    if (f->st != LOKI_OK)
        return 0;
    char *p = loki__malloc(f->vlen + 1);
    if (!p) {
        *st = LOKI_ENOMEM;
        return 0;
    }
    memcpy(p, f->val, f->vlen + 1);
    *val = p;
    *vlen = f->vlen;
    return 0;
}

int loki__flight_join(loki__flights *fl, const char *key, size_t klen, loki__flight **out,
                      loki_status *st, void **val, size_t *vlen)
{
    uint64_t h = loki__cache_hash(key, klen);
    loki__flight **slot = &fl->slots[h % fl->nslots];
    pthread_mutex_lock(&fl->mu);
    loki__flight *f = *slot;
    while (f && !(f->hash == h && f->klen == klen && memcmp(f->key, key, klen) == 0))
        f = f->next;
    if (f) {
        f->refs++;
        while (!f->done)
            pthread_cond_wait(&f->cv, &fl->mu);
        copy_result(f, st, val, vlen);
        flight_unref(f);
        pthread_mutex_unlock(&fl->mu);
        return 0;
    }
    f = loki__malloc(sizeof *f + klen);
    if (!f) {
        pthread_mutex_unlock(&fl->mu);
        return -1;
    }
    memset(f, 0, sizeof *f);
    pthread_cond_init(&f->cv, NULL);
    f->refs = 1;
    f->hash = h;
    f->klen = klen;
    memcpy(f->key, key, klen);
    f->next = *slot;
    *slot = f;
    pthread_mutex_unlock(&fl->mu);
    *out = f;
    return 1;
}

void loki__flight_finish(loki__flights *fl, loki__flight *f, loki_status st, const void *val,
                         size_t vlen)
{
    pthread_mutex_lock(&fl->mu);
    loki__flight **pp = &fl->slots[f->hash % fl->nslots];
    while (*pp != f)
        pp = &(*pp)->next;
    *pp = f->next;
    f->st = st;
    if (st == LOKI_OK && f->refs > 1) {
        /* Waiters copy from the flight, so it keeps its own copy until the last one reads. */
        f->val = loki__malloc(vlen + 1);
        if (f->val) {
            memcpy(f->val, val, vlen);
            f->val[vlen] = '\0';
            f->vlen = vlen;
        } else {
            f->st = LOKI_ENOMEM;
        }
    }
    f->done = 1;
    pthread_cond_broadcast(&f->cv);
    flight_unref(f);
    pthread_mutex_unlock(&fl->mu);
}
