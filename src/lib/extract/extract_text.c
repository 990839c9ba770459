/* SPDX-License-Identifier: MIT */
/* Plain text and Markdown. Markdown is read line by line so every output line stays on its
 * source line; markup (heading #, emphasis, link syntax, list markers, fences) is dropped and
 * the text around it keeps its exact source column. */
#include <string.h>

#include "extract_int.h"

loki_status loki__extract_text(ex_emit *e, const char *p, size_t n, loki_error *err)
{
    const char *d;
    size_t dn;
    char *owned = NULL;
    int is16;
    loki_status st = loki__ex_decode_text(p, n, &d, &dn, &owned, &is16, err);
    if (st != LOKI_OK)
        return st;
    if (loki__ex_put(e, d, dn, 1, 1))
        st = loki__ex_fail(e, err);
    loki__free(owned);
    return st;
}

/* ---- Markdown ---- */

/* How far a closing bracket, backtick run or '>' is searched for (link URLs: MD_URL_MAX):
 * keeps unbalanced markup linear instead of quadratic. */
#define MD_SEARCH_MAX 512u
#define MD_URL_MAX 1024u
#define MD_DEPTH_MAX 8

typedef struct md {
    ex_emit *e;
    const char *l; /* the current line */
    size_t len;
    uint32_t line;
    size_t cur_i; /* column cursor: l[0..cur_i) holds cur_col - 1 code points */
    uint32_t cur_col;
    size_t next_rb; /* the first ']' at or after next_rb_from (len when none) */
    size_t next_rb_from;
} md;

static uint32_t md_col(md *m, size_t i)
{
    if (i < m->cur_i) {
        m->cur_i = 0;
        m->cur_col = 1;
    }
    for (; m->cur_i < i; m->cur_i++)
        if (((unsigned char)m->l[m->cur_i] & 0xC0) != 0x80)
            m->cur_col++;
    return m->cur_col;
}

static int md_emit(md *m, size_t a, size_t b)
{
    if (b <= a)
        return 0;
    return loki__ex_put(m->e, m->l + a, b - a, m->line, md_col(m, a));
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (unsigned char)c >= 0x80;
}

static int is_punct(char c)
{
    return c > ' ' && c < 0x7f && !is_alnum(c);
}

/* The index of the ']' closing the '[' at i, or 0. */
static size_t md_close_bracket(md *m, size_t i, size_t end)
{
    int depth = 0;
    if (i < m->next_rb_from || (m->next_rb < m->len && m->next_rb < i)) {
        const char *rb = memchr(m->l + i, ']', m->len - i);
        m->next_rb = rb ? (size_t)(rb - m->l) : m->len;
        m->next_rb_from = i;
    }
    if (m->next_rb >= end)
        return 0; /* no ']' left: a run of '[' costs nothing */
    size_t lim = end - i > MD_SEARCH_MAX ? i + MD_SEARCH_MAX : end;
    for (size_t j = i; j < lim; j++) {
        if (m->l[j] == '\\') {
            j++;
        } else if (m->l[j] == '[') {
            depth++;
        } else if (m->l[j] == ']' && --depth == 0) {
            return j;
        }
    }
    return 0;
}

static size_t md_find(const md *m, size_t i, size_t end, char c, size_t max)
{
    size_t lim = end - i > max ? i + max : end;
    for (size_t j = i; j < lim; j++)
        if (m->l[j] == c)
            return j;
    return 0;
}

/* A run of '*', '_' or '~' is markup when it touches text on one side only, or (for '*')
 * sits inside a word; an underscore inside a word (snake_case) is text. */
static int md_emphasis(const md *m, size_t a, size_t b)
{
    char c = m->l[a];
    char prev = a ? m->l[a - 1] : ' ';
    char next = b < m->len ? m->l[b] : ' ';
    if (c == '~' && b - a < 2)
        return 0;
    if (is_space(prev) && is_space(next))
        return 0;
    if (c == '_' && is_alnum(prev) && is_alnum(next))
        return 0;
    return 1;
}

/* An inline HTML tag or autolink at i: returns its end (past '>') and whether it is an
 * autolink (whose content is kept). */
static size_t md_angle(const md *m, size_t i, size_t end, int *autolink)
{
    size_t j = md_find(m, i + 1, end, '>', MD_SEARCH_MAX);
    *autolink = 0;
    if (!j)
        return 0;
    const char *s = m->l + i + 1;
    size_t n = j - i - 1;
    if (n == 0 || memchr(s, '<', n))
        return 0;
    if (loki__ex_istarts(s, n, "http://") || loki__ex_istarts(s, n, "https://") ||
        loki__ex_istarts(s, n, "mailto:") || (memchr(s, '@', n) && !memchr(s, ' ', n))) {
        *autolink = 1;
        return j + 1;
    }
    size_t k = s[0] == '/' ? 1 : 0;
    if (k < n && ((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z')))
        return j + 1;
    if (n >= 3 && memcmp(s, "!--", 3) == 0)
        return j + 1;
    return 0;
}

static int md_inline(md *m, size_t a, size_t b, int depth);

/* A link or image at i ('['): emits its text and returns the index after it, or 0. */
static size_t md_link(md *m, size_t i, size_t b, int depth, int *rc)
{
    size_t close = md_close_bracket(m, i, b);
    if (!close || depth >= MD_DEPTH_MAX)
        return 0;
    size_t after = close + 1;
    if (after < b && m->l[after] == '(') {
        size_t rp = md_find(m, after, b, ')', MD_URL_MAX);
        if (!rp)
            return 0;
        after = rp + 1;
    } else if (after < b && m->l[after] == '[') {
        size_t rb = md_find(m, after, b, ']', MD_SEARCH_MAX);
        if (!rb)
            return 0;
        after = rb + 1;
    } else {
        return 0; /* [text] alone: a shortcut reference or plain brackets; keep as text */
    }
    *rc = md_inline(m, i + 1, close, depth + 1);
    return after;
}

static int md_inline(md *m, size_t a, size_t b, int depth)
{
    size_t run = a, i = a;
    int rc = 0;
    while (i < b && rc == 0) {
        char c = m->l[i];
        size_t skip_to = 0, keep_a = 0, keep_b = 0;
        if (c == '\\' && i + 1 < b && is_punct(m->l[i + 1])) {
            skip_to = i + 1; /* drop the backslash, keep the character */
        } else if (c == '`') {
            size_t k = i;
            while (k < b && m->l[k] == '`')
                k++;
            size_t ticks = k - i, j = k, lim = b - k > MD_SEARCH_MAX ? k + MD_SEARCH_MAX : b;
            while (j < lim) {
                if (m->l[j] == '`') {
                    size_t r = j;
                    while (r < b && m->l[r] == '`')
                        r++;
                    if (r - j == ticks)
                        break;
                    j = r;
                } else {
                    j++;
                }
            }
            if (j < lim) {
                keep_a = k;
                keep_b = j;
                skip_to = j + ticks;
            } else {
                i = k;
                continue;
            }
        } else if ((c == '[' || (c == '!' && i + 1 < b && m->l[i + 1] == '['))) {
            size_t at = c == '!' ? i + 1 : i;
            rc = md_emit(m, run, i);
            run = i;
            size_t after = rc ? 0 : md_link(m, at, b, depth, &rc);
            if (after) {
                i = run = after;
                continue;
            }
        } else if (c == '<') {
            int autolink;
            size_t end = md_angle(m, i, b, &autolink);
            if (end) {
                if (autolink) {
                    keep_a = i + 1;
                    keep_b = end - 1;
                }
                skip_to = end;
            }
        } else if (c == '*' || c == '_' || c == '~') {
            size_t k = i;
            while (k < b && m->l[k] == c)
                k++;
            if (md_emphasis(m, i, k))
                skip_to = k;
            else {
                i = k;
                continue;
            }
        }
        if (!skip_to) {
            i++;
            continue;
        }
        if (c == '\\') {
            rc = md_emit(m, run, i);
            run = i + 1;
            i += 2;
            continue;
        }
        rc = md_emit(m, run, i);
        if (!rc && keep_b > keep_a)
            rc = md_emit(m, keep_a, keep_b);
        i = run = skip_to;
    }
    if (!rc)
        rc = md_emit(m, run, b);
    return rc;
}

static int only_chars(const char *s, size_t n, const char *set, size_t min)
{
    size_t hits = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')
            continue;
        if (!strchr(set, s[i]))
            return 0;
        hits++;
    }
    return hits >= min;
}

/* Strips block markup from the front of a line: quote markers, list markers, heading #. */
static size_t md_block_prefix(const char *l, size_t n, size_t *end)
{
    size_t i = 0;
    for (;;) {
        size_t s = i;
        while (i < n && i - s < 3 && l[i] == ' ')
            i++;
        if (i < n && l[i] == '>') {
            i++;
            if (i < n && l[i] == ' ')
                i++;
            continue;
        }
        break;
    }
    size_t h = i;
    while (h < n && l[h] == '#' && h - i < 7)
        h++;
    if (h > i && h - i <= 6 && (h == n || l[h] == ' ' || l[h] == '\t' || l[h] == '\r')) {
        size_t e = n;
        while (e > h && (l[e - 1] == ' ' || l[e - 1] == '\r' || l[e - 1] == '\t'))
            e--;
        size_t t = e;
        while (t > h && l[t - 1] == '#')
            t--;
        if (t < e && (t == h || l[t - 1] == ' '))
            e = t; /* closing #'s */
        *end = e;
        while (h < e && (l[h] == ' ' || l[h] == '\t'))
            h++;
        return h;
    }
    size_t k = i;
    while (k < n && (l[k] == ' ' || l[k] == '\t'))
        k++;
    if (k + 1 < n && (l[k] == '-' || l[k] == '*' || l[k] == '+') && l[k + 1] == ' ') {
        k += 2;
    } else {
        size_t d = k;
        while (d < n && d - k < 9 && l[d] >= '0' && l[d] <= '9')
            d++;
        if (d > k && d + 1 < n && (l[d] == '.' || l[d] == ')') && l[d + 1] == ' ')
            k = d + 2;
        else
            k = i;
    }
    if (k != i && k + 3 < n && l[k] == '[' &&
        (l[k + 1] == ' ' || l[k + 1] == 'x' || l[k + 1] == 'X') && l[k + 2] == ']')
        k += 3 + (l[k + 3] == ' ');
    return k;
}

static int md_ref_definition(const char *l, size_t n)
{
    size_t i = 0;
    while (i < n && i < 3 && l[i] == ' ')
        i++;
    if (i >= n || l[i] != '[')
        return 0;
    const char *rb = memchr(l + i, ']', n - i);
    return rb && (size_t)(rb - l) + 1 < n && rb[1] == ':' && rb - l > (ptrdiff_t)i + 1;
}

static int md_line(md *m, int *fence, const char *prev, size_t prev_len)
{
    const char *l = m->l;
    size_t n = m->len, i = 0;
    while (i < n && i < 3 && l[i] == ' ')
        i++;
    int is_fence = n - i >= 3 && (memcmp(l + i, "```", 3) == 0 || memcmp(l + i, "~~~", 3) == 0);
    if (is_fence) {
        *fence = !*fence;
        return 0;
    }
    if (*fence)
        return md_emit(m, 0, n);
    if (only_chars(l, n, "=", 1) && prev_len && !only_chars(prev, prev_len, "", 0))
        return 0; /* setext underline */
    if (only_chars(l, n, "-", 3) || only_chars(l, n, "*", 3) || only_chars(l, n, "_", 3))
        return 0; /* rule, or setext underline */
    if (only_chars(l, n, "|-:", 3) && memchr(l, '-', n) && memchr(l, '|', n))
        return 0; /* table delimiter row */
    if (md_ref_definition(l, n))
        return 0;
    size_t end = n;
    size_t start = md_block_prefix(l, n, &end);
    if (start < end && l[start] == '|') {
        /* A table row: cells become tab-separated text. */
        size_t a = start + 1;
        while (a <= end) {
            size_t j = a;
            while (j < end && l[j] != '|')
                j++;
            size_t s = a, t = j;
            while (s < t && l[s] == ' ')
                s++;
            while (t > s && (l[t - 1] == ' ' || l[t - 1] == '\r'))
                t--;
            if (t > s) {
                if (m->e->text.len && m->e->text.p[m->e->text.len - 1] != '\n' &&
                    loki__ex_put_at(m->e, "\t", 1, m->line, md_col(m, a)))
                    return -1;
                if (md_inline(m, s, t, 0))
                    return -1;
            }
            a = j + 1;
        }
        return 0;
    }
    return md_inline(m, start, end, 0);
}

loki_status loki__extract_markdown(ex_emit *e, const char *p, size_t n, loki_error *err)
{
    const char *d;
    size_t dn;
    char *owned = NULL;
    int is16, fence = 0;
    loki_status st = loki__ex_decode_text(p, n, &d, &dn, &owned, &is16, err);
    if (st != LOKI_OK)
        return st;
    md m = {.e = e};
    const char *prev = NULL;
    size_t prev_len = 0, i = 0;
    uint32_t line = 1;
    while (i < dn) {
        const char *nl = memchr(d + i, '\n', dn - i);
        size_t len = nl ? (size_t)(nl - (d + i)) : dn - i;
        m.l = d + i;
        m.len = len > 0 && d[i + len - 1] == '\r' ? len - 1 : len;
        m.line = line;
        m.cur_i = 0;
        m.cur_col = 1;
        m.next_rb_from = SIZE_MAX;
        if (md_line(&m, &fence, prev, prev_len) ||
            (nl && loki__ex_put(e, "\n", 1, line, md_col(&m, m.len))))
            goto fail;
        prev = m.l;
        prev_len = m.len;
        i += len + 1;
        line++;
    }
    loki__free(owned);
    return LOKI_OK;
fail:
    loki__free(owned);
    return loki__ex_fail(e, err);
}
