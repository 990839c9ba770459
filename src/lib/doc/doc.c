/* SPDX-License-Identifier: MIT */
/* UTF-8 validation and byte → (line, column, code point) mapping. */
#include <string.h>

#include "../util/util.h"
#include "doc.h"

size_t loki__utf8_check(const char *p, size_t len, const char **why)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0;
    while (i < len) {
        /* Fast path: 8 ASCII non-NUL bytes at a time. */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if ((w & 0x8080808080808080ull) != 0)
                break;
            /* any zero byte? */
            if (((w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull) != 0)
                break;
            i += 8;
        }
        if (i >= len)
            break;
        unsigned char c = s[i];
        if (c == 0) {
            if (why)
                *why = "NUL byte";
            return i;
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned cp;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
            cp = c & 0x1Fu;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            cp = c & 0x0Fu;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            cp = c & 0x07u;
        } else {
            if (why)
                *why = "invalid UTF-8 lead byte";
            return i;
        }
        if (len - i < n) {
            if (why)
                *why = "truncated UTF-8 sequence";
            return i;
        }
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) {
                if (why)
                    *why = "invalid UTF-8 continuation byte";
                return i;
            }
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)) {
            if (why)
                *why = "overlong UTF-8 encoding";
            return i;
        }
        if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
            if (why)
                *why = "UTF-8 encodes an invalid code point";
            return i;
        }
        i += n;
    }
    return len;
}

static size_t count_cp(const char *p, size_t from, size_t to)
{
    size_t n = 0;
    for (size_t i = from; i < to; i++)
        n += ((unsigned char)p[i] & 0xC0) != 0x80;
    return n;
}

int loki__posmap_init(loki_posmap *m, const char *text, size_t len)
{
    memset(m, 0, sizeof *m);
    m->text = text;
    m->len = len;
    size_t lines = 1;
    for (const char *q = text; (q = memchr(q, '\n', len - (size_t)(q - text))) != NULL; q++)
        lines++;
    m->line_start = loki__calloc(lines, sizeof *m->line_start);
    m->n_check = len / LOKI_POS_STEP + 1;
    m->cp_check = loki__calloc(m->n_check, sizeof *m->cp_check);
    if (!m->line_start || !m->cp_check) {
        loki__posmap_release(m);
        return -1;
    }
    size_t li = 0;
    m->line_start[li++] = 0;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\n')
            m->line_start[li++] = i + 1;
    m->n_lines = li;
    size_t cp = 0;
    for (size_t k = 0; k < m->n_check; k++) {
        m->cp_check[k] = cp;
        size_t a = k * LOKI_POS_STEP, b = a + LOKI_POS_STEP;
        if (b > len)
            b = len;
        cp += count_cp(text, a, b);
    }
    return 0;
}

void loki__posmap_release(loki_posmap *m)
{
    loki__free(m->line_start);
    loki__free(m->cp_check);
    memset(m, 0, sizeof *m);
}

void loki__posmap_locate(const loki_posmap *m, size_t off, unsigned *line, unsigned *col,
                         size_t *cp)
{
    if (off > m->len)
        off = m->len;
    size_t lo = 0, hi = m->n_lines; /* last line_start <= off */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->line_start[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    size_t k = off / LOKI_POS_STEP;
    size_t cpo = m->cp_check[k] + count_cp(m->text, k * LOKI_POS_STEP, off);
    size_t ls = m->line_start[lo];
    size_t colcp;
    /* Column = code points between line start and off; count from whichever is closer. */
    if (off - ls <= LOKI_POS_STEP) {
        colcp = count_cp(m->text, ls, off);
    } else {
        size_t kl = ls / LOKI_POS_STEP;
        size_t cpl = m->cp_check[kl] + count_cp(m->text, kl * LOKI_POS_STEP, ls);
        colcp = cpo - cpl;
    }
    if (line)
        *line = (unsigned)(lo + 1 > 0xFFFFFFFFu ? 0xFFFFFFFFu : lo + 1);
    if (col)
        *col = (unsigned)(colcp + 1 > 0xFFFFFFFFu ? 0xFFFFFFFFu : colcp + 1);
    if (cp)
        *cp = cpo;
}

void loki__locate_linear(const char *text, size_t off, unsigned *line, unsigned *col)
{
    unsigned l = 1, c = 1;
    for (size_t i = 0; i < off; i++) {
        if (text[i] == '\n') {
            l++;
            c = 1;
        } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

size_t loki__utf8_excerpt_len(const char *p, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80)
        n--; /* do not cut a UTF-8 sequence */
    return n;
}

loki_status loki__err_encoding(loki_error *err, const char *why, size_t off, unsigned line,
                               unsigned col)
{
    loki__err(err, LOKI_EENCODING, "%s at byte %zu (line %u, column %u)", why, off, line, col);
    if (err) {
        err->offset = off;
        err->line = line;
        err->column = col;
    }
    return LOKI_EENCODING;
}
