/* SPDX-License-Identifier: MIT */
/*
 * Small building blocks shared by the library: the allocation wrapper (with the allocation-
 * failure hook tests use), a growable byte buffer with a hard cap, a bump arena, error filling
 * and SHA-256. Internal: not installed.
 */
#ifndef LOKI_UTIL_H
#define LOKI_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "loki/loki.h"

/* ---- allocation: every library allocation goes through these ---- */
void *loki__malloc(size_t n);
void *loki__calloc(size_t count, size_t size); /* overflow-checked */
void *loki__realloc(void *p, size_t n);
void *loki__reallocarray(void *p, size_t count, size_t size); /* overflow-checked */
void loki__free(void *p);
char *loki__strndup(const char *s, size_t n);
char *loki__strdup(const char *s);

/* Test hook: make the n-th allocation from now fail (0 disables). Returns the number of
 * allocations made since the last call. Not thread-safe; for single-threaded torture tests. */
unsigned long loki__alloc_fail_at(unsigned long n);

/* ---- growable buffer ---- */
typedef struct loki_buf {
    char *p;
    size_t len, cap, max; /* max: hard cap (0 = SIZE_MAX/2) */
    int oom;              /* sticky: an append failed */
} loki_buf;

void loki__buf_init(loki_buf *b, size_t max);
void loki__buf_release(loki_buf *b);
int loki__buf_reserve(loki_buf *b, size_t extra);
int loki__buf_add(loki_buf *b, const void *p, size_t n);
int loki__buf_adds(loki_buf *b, const char *s);
int loki__buf_addc(loki_buf *b, char c);
int loki__buf_printf(loki_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (quotes included), escaping as RFC 8259 requires. */
int loki__buf_json_str(loki_buf *b, const char *s, size_t n);

/* ---- bump arena: many small allocations freed together ---- */
typedef struct loki_arena_chunk loki_arena_chunk;
typedef struct loki_arena {
    loki_arena_chunk *head;
} loki_arena;

void loki__arena_init(loki_arena *a);
void loki__arena_release(loki_arena *a);
void *loki__arena_alloc(loki_arena *a, size_t n); /* zeroed, 16-byte aligned */
void *loki__arena_array(loki_arena *a, size_t count, size_t size);
char *loki__arena_strndup(loki_arena *a, const char *s, size_t n);
char *loki__arena_strdup(loki_arena *a, const char *s);

/* ---- errors ---- */
/* Fills err (if not NULL) and returns code. */
loki_status loki__err(loki_error *err, loki_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
loki_status loki__err_at(loki_error *err, loki_status code, const char *file, unsigned line,
                         unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
void loki__err_clear(loki_error *err);

/* ---- hashing ---- */
/* SHA-256 of one buffer as 64 lowercase hex chars plus NUL. Returns 0 on success. */
int loki__sha256_hex(const void *p, size_t n, char out[65]);
typedef struct loki_sha256 {
    void *ctx;
} loki_sha256;
int loki__sha256_begin(loki_sha256 *h);
int loki__sha256_update(loki_sha256 *h, const void *p, size_t n);
int loki__sha256_end(loki_sha256 *h, unsigned char out[32]); /* also frees */
void loki__hex(const unsigned char *in, size_t n, char *out);

/* A place to cut text into chunks, at or after `at` (within `slack` bytes): after "\n\n",
 * else after '\n', else after ". ", else `at` itself. */
size_t loki__cut_near(const char *t, size_t len, size_t at, size_t slack);

/* Monotonic clock in milliseconds (double). */
double loki__now_ms(void);

#endif
