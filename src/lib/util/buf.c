/* SPDX-License-Identifier: MIT */
/* Growable byte buffer with a hard cap (curl's dynbuf idea): a buffer fed from outside can
 * never grow past its owner's limit; failures are sticky so callers check once at the end. */
#include <stdio.h>
#include <string.h>

#include "util.h"

void loki__buf_init(loki_buf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max ? max : SIZE_MAX / 2;
}

void loki__buf_release(loki_buf *b)
{
    loki__free(b->p);
    memset(b, 0, sizeof *b);
}

int loki__buf_reserve(loki_buf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (extra > b->max - b->len) {
        b->oom = 1;
        return -1;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 4 ? need : cap * 2;
    char *p = loki__realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

int loki__buf_add(loki_buf *b, const void *p, size_t n)
{
    if (loki__buf_reserve(b, n))
        return -1;
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int loki__buf_adds(loki_buf *b, const char *s)
{
    return loki__buf_add(b, s, strlen(s));
}

int loki__buf_addc(loki_buf *b, char c)
{
    if (b->len + 1 < b->cap && b->len < b->max && !b->oom) {
        b->p[b->len++] = c;
        b->p[b->len] = '\0';
        return 0;
    }
    return loki__buf_add(b, &c, 1);
}

int loki__buf_printf(loki_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof tmp)
        return loki__buf_add(b, tmp, (size_t)n);
    if (loki__buf_reserve(b, (size_t)n))
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int loki__buf_json_str(loki_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    /* Worst case every byte becomes \u00XX. */
    if (loki__buf_reserve(b, n * 6 + 2))
        return -1;
    char *o = b->p + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': *o++ = '\\'; *o++ = '"'; break;
        case '\\': *o++ = '\\'; *o++ = '\\'; break;
        case '\n': *o++ = '\\'; *o++ = 'n'; break;
        case '\r': *o++ = '\\'; *o++ = 'r'; break;
        case '\t': *o++ = '\\'; *o++ = 't'; break;
        default:
            if (c < 0x20 || c == 0x7f) {
                *o++ = '\\'; *o++ = 'u'; *o++ = '0'; *o++ = '0';
                *o++ = hex[c >> 4]; *o++ = hex[c & 15];
            } else {
                *o++ = (char)c;
            }
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
    b->p[b->len] = '\0';
    return 0;
}
