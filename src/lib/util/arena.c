/* SPDX-License-Identifier: MIT */
/* Bump arena: a verdict or a loaded ruleset is many small objects that die together. */
#include <string.h>

#include "util.h"

struct loki_arena_chunk {
    loki_arena_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

#define CHUNK_MIN 8192u

void loki__arena_init(loki_arena *a)
{
    a->head = NULL;
}

void loki__arena_release(loki_arena *a)
{
    loki_arena_chunk *c = a->head;
    while (c) {
        loki_arena_chunk *n = c->next;
        loki__free(c);
        c = n;
    }
    a->head = NULL;
}

void *loki__arena_alloc(loki_arena *a, size_t n)
{
    n = (n + 15u) & ~(size_t)15u;
    if (n == 0)
        n = 16;
    loki_arena_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;
        if (cap > SIZE_MAX - sizeof *c)
            return NULL;
        c = loki__malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

void *loki__arena_array(loki_arena *a, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    return loki__arena_alloc(a, count * size);
}

char *loki__arena_strndup(loki_arena *a, const char *s, size_t n)
{
    char *d = loki__arena_alloc(a, n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *loki__arena_strdup(loki_arena *a, const char *s)
{
    return loki__arena_strndup(a, s, strlen(s));
}
