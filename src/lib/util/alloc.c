/* SPDX-License-Identifier: MIT */
/* The one allocation wrapper: overflow-checked arrays and an N-th-allocation failure hook so
 * tests can prove every allocation failure ends in LOKI_ENOMEM, not a crash. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Test hook state. Atomic so threads allocating concurrently are not a data race; the hook
 * itself is only meaningful in single-threaded torture tests. */
static _Atomic unsigned long fail_at;   /* 0: never fail */
static _Atomic unsigned long alloc_seq; /* allocations since the hook was armed */

unsigned long loki__alloc_fail_at(unsigned long n)
{
    unsigned long made = atomic_exchange_explicit(&alloc_seq, 0, memory_order_relaxed);
    atomic_store_explicit(&fail_at, n, memory_order_relaxed);
    return made;
}

static int should_fail(void)
{
    unsigned long n = atomic_fetch_add_explicit(&alloc_seq, 1, memory_order_relaxed) + 1;
    unsigned long f = atomic_load_explicit(&fail_at, memory_order_relaxed);
    return f != 0 && n == f;
}

void *loki__malloc(size_t n)
{
    if (should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *loki__calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    if (should_fail())
        return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *loki__realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

void *loki__reallocarray(void *p, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    return loki__realloc(p, count * size);
}

void loki__free(void *p)
{
    free(p);
}

char *loki__strndup(const char *s, size_t n)
{
    char *d = loki__malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *loki__strdup(const char *s)
{
    return loki__strndup(s, strlen(s));
}
