/* SPDX-License-Identifier: MIT */
/* The emitter every extractor writes through (text plus location segments), and the text
 * decoding shared by the text-like formats (BOMs, UTF-16, CP-1252 fallback). */
#include <string.h>

#include "extract_int.h"

/* A linear segment longer than this is split, so locating an offset scans at most this
 * many bytes. */
#define SEG_SPAN_MAX 4096u

void loki__ex_init(ex_emit *e, const loki_extract_options *o)
{
    memset(e, 0, sizeof *e);
    e->o = o;
    e->max_out = o->max_output_bytes;
    loki__buf_init(&e->text, e->max_out ? e->max_out : 1);
    /* The map may cost at most ~1.5 bytes per output byte; past that it gets coarser
     * (runs merge) rather than failing. */
    e->max_segs = e->max_out / 16 + 4096;
    e->n_parts = 1;
}

void loki__ex_release(ex_emit *e)
{
    loki__buf_release(&e->text);
    loki__free(e->segs);
    for (size_t i = 1; i < e->n_parts; i++)
        loki__free(e->parts[i]);
    memset(e, 0, sizeof *e);
}

loki_status loki__ex_fail(ex_emit *e, loki_error *err)
{
    if (e->limit)
        return loki__err(err, LOKI_ELIMIT, "extracted text exceeds max_output_bytes (%zu bytes)",
                         e->max_out);
    return loki__err(err, LOKI_ENOMEM, "out of memory extracting text");
}

static int push_seg(ex_emit *e, uint32_t line, uint32_t col, int linear)
{
    if (e->n_segs == e->cap_segs) {
        size_t cap = e->cap_segs ? e->cap_segs * 2 : 64;
        ex_seg *s = loki__reallocarray(e->segs, cap, sizeof *s);
        if (!s) {
            e->oom = 1;
            return -1;
        }
        e->segs = s;
        e->cap_segs = cap;
    }
    e->segs[e->n_segs++] = (ex_seg){.out = e->text.len,
                                    .line = line,
                                    .col = col,
                                    .unit = e->unit,
                                    .part = e->part,
                                    .linear = (uint8_t)linear};
    return 0;
}

/* Starts a segment for the next bytes unless the current one already describes them. */
static int want_seg(ex_emit *e, uint32_t line, uint32_t col, int linear)
{
    if (e->n_segs) {
        ex_seg *s = &e->segs[e->n_segs - 1];
        int same_ctx = s->unit == e->unit && s->part == e->part;
        if (same_ctx && linear && s->linear && e->next_line == line && e->next_col == col &&
            e->text.len - s->out < SEG_SPAN_MAX)
            return 0;
        if (s->out == e->text.len) { /* empty segment: reuse it */
            *s = (ex_seg){.out = s->out,
                          .line = line,
                          .col = col,
                          .unit = e->unit,
                          .part = e->part,
                          .linear = (uint8_t)linear};
            return 0;
        }
        /* Out of map budget: keep extending the last run unless the page/paragraph changed. */
        if (e->n_segs >= e->max_segs && same_ctx)
            return 0;
    }
    return push_seg(e, line, col, linear);
}

static int add_bytes(ex_emit *e, const char *p, size_t n)
{
    if (n > e->max_out - e->text.len) {
        e->limit = 1;
        return -1;
    }
    if (loki__buf_add(&e->text, p, n)) {
        e->oom = 1;
        return -1;
    }
    return 0;
}

int loki__ex_put(ex_emit *e, const char *p, size_t n, uint32_t line, uint32_t col)
{
    while (n) {
        if (e->limit || e->oom)
            return -1;
        if (want_seg(e, line, col, 1))
            return -1;
        /* Take at most what keeps this segment under SEG_SPAN_MAX (at least one byte). */
        size_t room = SEG_SPAN_MAX - (e->text.len - e->segs[e->n_segs - 1].out);
        size_t k = n < room ? n : (room ? room : 1);
        /* Do not cut a UTF-8 sequence between segments. */
        while (k < n && k > 1 && ((unsigned char)p[k] & 0xC0) == 0x80)
            k--;
        if (add_bytes(e, p, k))
            return -1;
        for (size_t i = 0; i < k; i++) {
            unsigned char c = (unsigned char)p[i];
            if (c == '\n') {
                line++;
                col = 1;
            } else if ((c & 0xC0) != 0x80) {
                col++;
            }
        }
        e->next_line = line;
        e->next_col = col;
        p += k;
        n -= k;
    }
    return 0;
}

int loki__ex_put_at(ex_emit *e, const char *p, size_t n, uint32_t line, uint32_t col)
{
    if (!n)
        return 0;
    if (e->limit || e->oom || want_seg(e, line, col, 0))
        return -1;
    if (add_bytes(e, p, n))
        return -1;
    e->next_line = 0; /* nothing continues a non-linear run */
    return 0;
}

int loki__ex_sep(ex_emit *e, char c)
{
    size_t len = e->text.len;
    if (len == 0 || e->text.p[len - 1] == c || e->text.p[len - 1] == '\n')
        return 0;
    if (e->limit || e->oom)
        return -1;
    /* The separator belongs to the run it ends, so it needs no segment of its own. */
    uint32_t nl = e->next_line, nc = e->next_col;
    if (add_bytes(e, &c, 1))
        return -1;
    if (e->n_segs && e->segs[e->n_segs - 1].linear && nl) {
        e->next_line = c == '\n' ? nl + 1 : nl;
        e->next_col = c == '\n' ? 1 : nc + 1;
    }
    return 0;
}

void loki__ex_unit(ex_emit *e, uint32_t unit)
{
    e->unit = unit;
}

int loki__ex_part(ex_emit *e, const char *name)
{
    for (size_t i = 1; i < e->n_parts; i++)
        if (strcmp(e->parts[i], name) == 0) {
            e->part = (uint16_t)i;
            return 0;
        }
    if (e->n_parts == EX_MAX_PARTS) {
        e->part = (uint16_t)(EX_MAX_PARTS - 1); /* attribute the rest to the last part */
        return 0;
    }
    char *d = loki__strdup(name);
    if (!d) {
        e->oom = 1;
        return -1;
    }
    e->parts[e->n_parts] = d;
    e->part = (uint16_t)e->n_parts++;
    return 0;
}

/* ---- text decoding ---- */

int loki__ex_utf8_put(loki_buf *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        cp = 0xFFFD;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return loki__buf_add(b, u, n);
}

/* CP-1252's 0x80..0x9F; the rest of the byte range is ISO-8859-1. */
static const uint16_t cp1252_hi[32] = {
    0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};

int loki__ex_cp1252_to_utf8(loki_buf *b, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        uint32_t cp = c >= 0x80 && c < 0xA0 ? cp1252_hi[c - 0x80] : c;
        if (loki__ex_utf8_put(b, cp))
            return -1;
    }
    return 0;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t k;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        k = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (k > n)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return k;
}

size_t loki__ex_utf8_valid_prefix(const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_seq(u + i, n - i);
        if (!k)
            break;
        i += k;
    }
    return i;
}

void loki__ex_sanitize(char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_seq(u + i, n - i);
        if (k == 0) {
            p[i++] = '?';
            continue;
        }
        if (k == 1 && p[i] == '\0')
            p[i] = ' ';
        i += k;
    }
}

static int utf16_sniff(const unsigned char *u, size_t n, int *be)
{
    /* ASCII-heavy UTF-16 without a BOM: every other byte of the first characters is 0. */
    if (n < 8 || n % 2)
        return 0;
    size_t lim = n < 512 ? n : 512, zl = 0, zh = 0;
    for (size_t i = 0; i + 1 < lim; i += 2) {
        zl += u[i] == 0;
        zh += u[i + 1] == 0;
    }
    size_t pairs = lim / 2;
    if (zh * 10 >= pairs * 9 && zl == 0) {
        *be = 0;
        return 1;
    }
    if (zl * 10 >= pairs * 9 && zh == 0) {
        *be = 1;
        return 1;
    }
    return 0;
}

static loki_status utf16_decode(const unsigned char *u, size_t n, int be, loki_buf *b,
                                loki_error *err)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        uint32_t w = be ? (uint32_t)(u[i] << 8 | u[i + 1]) : (uint32_t)(u[i + 1] << 8 | u[i]);
        if (w >= 0xD800 && w <= 0xDBFF && i + 3 < n) {
            uint32_t w2 =
                be ? (uint32_t)(u[i + 2] << 8 | u[i + 3]) : (uint32_t)(u[i + 3] << 8 | u[i + 2]);
            if (w2 >= 0xDC00 && w2 <= 0xDFFF) {
                w = 0x10000 + ((w - 0xD800) << 10) + (w2 - 0xDC00);
                i += 2;
            }
        }
        if (loki__ex_utf8_put(b, w))
            goto fail;
    }
    if (n % 2 && loki__ex_utf8_put(b, 0xFFFD))
        goto fail;
    return LOKI_OK;
fail:
    return b->oom && b->len + 4 > b->max
               ? loki__err(err, LOKI_ELIMIT, "decoded text exceeds max_output_bytes")
               : loki__err(err, LOKI_ENOMEM, "out of memory decoding text");
}

int loki__ex_is_utf16(const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    int be;
    if (n >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF)))
        return 1;
    return utf16_sniff(u, n, &be);
}

loki_status loki__ex_decode_text(const char *p, size_t n, const char **out, size_t *out_len,
                                 char **owned, int *utf16, loki_error *err)
{
    const unsigned char *u = (const unsigned char *)p;
    loki_buf b;
    int be = 0, is16 = 0;
    *owned = NULL;
    *utf16 = 0;
    if (n >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) {
        p += 3;
        n -= 3;
        u += 3;
    } else if (n >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF))) {
        be = u[0] == 0xFE;
        is16 = 1;
        u += 2;
        n -= 2;
    } else if (utf16_sniff(u, n, &be)) {
        is16 = 1;
    }
    if (is16) {
        /* UTF-16 grows by at most 3/2 in UTF-8. */
        loki__buf_init(&b, n / 2 * 3 + 8);
        loki_status st = utf16_decode(u, n, be, &b, err);
        if (st != LOKI_OK) {
            loki__buf_release(&b);
            return st;
        }
        *utf16 = 1;
        goto owned;
    }
    if (loki__ex_utf8_valid_prefix(p, n) == n) {
        *out = p;
        *out_len = n;
        return LOKI_OK;
    }
    /* Not UTF-8: the likeliest legacy encoding of Western documents. */
    loki__buf_init(&b, n * 3 + 8);
    if (loki__ex_cp1252_to_utf8(&b, p, n)) {
        loki__buf_release(&b);
        return loki__err(err, LOKI_ENOMEM, "out of memory decoding text");
    }
owned:
    if (!b.p && loki__buf_reserve(&b, 0)) {
        loki__buf_release(&b);
        return loki__err(err, LOKI_ENOMEM, "out of memory decoding text");
    }
    b.p[b.len] = '\0';
    *owned = b.p;
    *out = b.p;
    *out_len = b.len;
    return LOKI_OK;
}

int loki__ex_ieq(const char *a, size_t an, const char *b)
{
    size_t bn = strlen(b);
    if (an != bn)
        return 0;
    for (size_t i = 0; i < an; i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (char)(y + 32);
        if (x != y)
            return 0;
    }
    return 1;
}

int loki__ex_istarts(const char *a, size_t an, const char *prefix)
{
    size_t pn = strlen(prefix);
    return an >= pn && loki__ex_ieq(a, pn, prefix);
}
