/* SPDX-License-Identifier: MIT */
/* The server's growable string buffer and hashing helpers. A buffer that failed to grow stays
 * failed, so long rendering code checks `oom` once instead of after every append. */
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

void sbuf_init(sbuf *b)
{
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

void sbuf_release(sbuf *b)
{
    free(b->p);
    sbuf_init(b);
}

static int grow(sbuf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t nc = b->cap ? b->cap : 256;
    while (nc < b->len + extra + 1) {
        if (nc > SIZE_MAX / 2) {
            b->oom = 1;
            return -1;
        }
        nc *= 2;
    }
    char *q = loki__realloc(b->p, nc);
    if (!q) {
        b->oom = 1;
        return -1;
    }
    b->p = q;
    b->cap = nc;
    return 0;
}

void sbuf_put(sbuf *b, const char *s, size_t n)
{
    if (grow(b, n) != 0)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sbuf_puts(sbuf *b, const char *s)
{
    sbuf_put(b, s, strlen(s));
}

void sbuf_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        sbuf_put(b, tmp, (size_t)n);
        return;
    }
    if (grow(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void sbuf_json_str(sbuf *b, const char *s)
{
    static const char hexd[] = "0123456789abcdef";
    sbuf_put(b, "\"", 1);
    if (!s)
        s = "";
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        sbuf_put(b, run, (size_t)(s - run));
        run = s + 1;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sbuf_put(b, e, 2);
        } else {
            char e[6] = {'\\', 'u', '0', '0', hexd[c >> 4], hexd[c & 15]};
            sbuf_put(b, e, 6);
        }
    }
    sbuf_put(b, run, (size_t)(s - run));
    sbuf_put(b, "\"", 1);
}

char *sbuf_take(sbuf *b, size_t *len)
{
    if (b->oom) {
        sbuf_release(b);
        return NULL;
    }
    if (!b->p)
        sbuf_put(b, "", 0);
    char *p = b->p;
    if (len)
        *len = b->len;
    sbuf_init(b);
    return p;
}

void srv_sha256(const void *p, size_t n, uint8_t out[32])
{
    SHA256(p, n, out);
}

void srv_hex(const uint8_t *p, size_t n, char *hex)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = d[p[i] >> 4];
        hex[2 * i + 1] = d[p[i] & 15];
    }
    hex[2 * n] = '\0';
}
