/* SPDX-License-Identifier: MIT */
/* Error filling, SHA-256 (OpenSSL EVP) and the monotonic clock. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "util.h"

void loki__err_clear(loki_error *err)
{
    if (!err)
        return;
    memset(err, 0, sizeof *err);
    err->offset = SIZE_MAX;
}

__attribute__((format(printf, 3, 0))) static void err_vfill(loki_error *err, loki_status code,
                                                          const char *fmt, va_list ap)
{
    err->code = code;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
}

loki_status loki__err(loki_error *err, loki_status code, const char *fmt, ...)
{
    if (!err)
        return code;
    loki__err_clear(err);
    va_list ap;
    va_start(ap, fmt);
    err_vfill(err, code, fmt, ap);
    va_end(ap);
    return code;
}

loki_status loki__err_at(loki_error *err, loki_status code, const char *file, unsigned line,
                         unsigned col, const char *fmt, ...)
{
    if (!err)
        return code;
    loki__err_clear(err);
    va_list ap;
    va_start(ap, fmt);
    err_vfill(err, code, fmt, ap);
    va_end(ap);
    snprintf(err->file, sizeof err->file, "%s", file ? file : "");
    err->line = line;
    err->column = col;
    return code;
}

void loki__hex(const unsigned char *in, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[in[i] >> 4];
        out[2 * i + 1] = hx[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int loki__sha256_begin(loki_sha256 *h)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c)
        return -1;
    if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(c);
        return -1;
    }
    h->ctx = c;
    return 0;
}

int loki__sha256_update(loki_sha256 *h, const void *p, size_t n)
{
    return EVP_DigestUpdate(h->ctx, p, n) == 1 ? 0 : -1;
}

int loki__sha256_end(loki_sha256 *h, unsigned char out[32])
{
    unsigned int len = 0;
    int ok = EVP_DigestFinal_ex(h->ctx, out, &len) == 1 && len == 32;
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
    return ok ? 0 : -1;
}

int loki__sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    if (EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) != 1 || len != 32)
        return -1;
    loki__hex(md, 32, out);
    return 0;
}

double loki__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

size_t loki__cut_near(const char *t, size_t len, size_t at, size_t slack)
{
    size_t end = at + slack < len ? at + slack : len;
    for (size_t i = at; i + 1 < end; i++)
        if (t[i] == '\n' && t[i + 1] == '\n')
            return i + 2;
    for (size_t i = at; i < end; i++)
        if (t[i] == '\n')
            return i + 1;
    for (size_t i = at; i + 1 < end; i++)
        if (t[i] == '.' && t[i + 1] == ' ')
            return i + 2;
    return at;
}
