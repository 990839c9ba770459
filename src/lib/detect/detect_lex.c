/* SPDX-License-Identifier: MIT */
/* Bounded phrase matching for the detectors: every call looks at a fixed number of bytes, so
 * calling it at each word start keeps a scan linear. Phrase lists are prepared as tries that
 * match a whole list in one walk (docs/internals/detect_lex.md). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "detect_lex.h"

#define D (LX_DIGIT | LX_ALNUM)
#define U (LX_UPPER | LX_ALNUM)
#define L (LX_LOWER | LX_ALNUM)
#define B LX_BLANK
#define S LX_STOP
const unsigned char loki__lx_class[256] = {
    ['\t'] = B, ['\n'] = B | S, ['\r'] = B, [' '] = B, ['-'] = B, ['.'] = S, ['!'] = S, ['?'] = S,
    ['0'] = D,  ['1'] = D,      ['2'] = D,  ['3'] = D, ['4'] = D, ['5'] = D, ['6'] = D, ['7'] = D,
    ['8'] = D,  ['9'] = D,      ['A'] = U,  ['B'] = U, ['C'] = U, ['D'] = U, ['E'] = U, ['F'] = U,
    ['G'] = U,  ['H'] = U,      ['I'] = U,  ['J'] = U, ['K'] = U, ['L'] = U, ['M'] = U, ['N'] = U,
    ['O'] = U,  ['P'] = U,      ['Q'] = U,  ['R'] = U, ['S'] = U, ['T'] = U, ['U'] = U, ['V'] = U,
    ['W'] = U,  ['X'] = U,      ['Y'] = U,  ['Z'] = U, ['a'] = L, ['b'] = L, ['c'] = L, ['d'] = L,
    ['e'] = L,  ['f'] = L,      ['g'] = L,  ['h'] = L, ['i'] = L, ['j'] = L, ['k'] = L, ['l'] = L,
    ['m'] = L,  ['n'] = L,      ['o'] = L,  ['p'] = L, ['q'] = L, ['r'] = L, ['s'] = L, ['t'] = L,
    ['u'] = L,  ['v'] = L,      ['w'] = L,  ['x'] = L, ['y'] = L, ['z'] = L,
};
#undef D
#undef U
#undef L
#undef B
#undef S

static int blank(char c)
{
    return (lx_class(c) & LX_BLANK) != 0;
}

size_t loki__lx_phrase_at(const char *t, size_t len, size_t i, const char *ph)
{
    size_t j = i;
    for (const char *q = ph; *q; q++) {
        if (*q == ' ') {
            size_t k = 0;
            while (j < len && k < 8 && blank(t[j])) {
                j++;
                k++;
            }
            if (k == 0)
                return 0;
            continue;
        }
        if (*q == '\'') {
            if (j < len && t[j] == '\'') {
                j++;
                continue;
            }
            if (j + 2 < len && (unsigned char)t[j] == 0xE2 && (unsigned char)t[j + 1] == 0x80 &&
                (unsigned char)t[j + 2] == 0x99) {
                j += 3;
                continue;
            }
            return 0;
        }
        if (j >= len || lx_lower(t[j]) != *q)
            return 0;
        j++;
    }
    if (j == i)
        return 0;
    char last = ph[0] ? ph[strlen(ph) - 1] : 0;
    if (lx_alnum(last) && j < len && (lx_alnum(t[j]) || t[j] == '_'))
        return 0;
    return j;
}

/* ---- phrase lists ---- */

/* Flags a column whose text byte may stand for more than itself: a blank (a run of them) or
 * the lead byte of U+2019. */
#define WIDE 0x80u

static unsigned short new_node(lx_pool *pool)
{
    assert(pool->n_node < pool->cap_node && pool->n_node <= 0xFFFF);
    memset(&pool->node[pool->n_node], 0, sizeof pool->node[0]);
    return (unsigned short)pool->n_node++;
}

/* Sorted by text, the phrases below a node are one range of `order`; its children are the
 * distinct bytes at `depth` in that range. Fills node k from order[lo, hi). */
static void build_node(lx_dict *d, lx_pool *pool, const char *const *phrase,
                       const unsigned short *order, size_t lo, size_t hi, size_t depth,
                       unsigned short k, size_t *n_ends)
{
    lx_node *nd = &pool->node[k];
    nd->end = (unsigned short)*n_ends;
    while (lo < hi && phrase[order[lo]][depth] == '\0')
        d->ends[(*n_ends)++] = order[lo++]; /* ends here: shorter phrases sort first */
    nd->n_end = (unsigned short)(*n_ends - nd->end);
    size_t n_child = 0;
    for (size_t m = lo; m < hi; m++)
        n_child += m == lo || phrase[order[m]][depth] != phrase[order[m - 1]][depth];
    if (n_child > 1) {
        assert(pool->n_cell + d->n_codes <= pool->cap_cell);
        memset(&pool->cell[pool->n_cell], 0, d->n_codes * sizeof pool->cell[0]);
        nd->branch = 1;
        nd->row = (unsigned)pool->n_cell;
        pool->n_cell += d->n_codes;
    }
    for (size_t m = lo; m < hi;) {
        unsigned char sym = (unsigned char)phrase[order[m]][depth];
        size_t e = m;
        while (e < hi && (unsigned char)phrase[order[e]][depth] == sym)
            e++;
        unsigned short c = new_node(pool);
        unsigned col = d->code[sym] & ~WIDE;
        if (pool->node[k].branch) {
            pool->cell[pool->node[k].row + col] = c;
        } else {
            pool->node[k].child = c;
            pool->node[k].code = (unsigned char)col;
        }
        build_node(d, pool, phrase, order, m, e, depth + 1, c, n_ends);
        m = e;
    }
}

/* Columns: one per byte the phrases use (fewer than WIDE: they are ASCII). The text's
 * uppercase letters share their lowercase letter's column, its blanks share ' ' and the lead
 * byte of U+2019 shares '\''. */
static void build_codes(lx_dict *d, const char *const *phrase)
{
    for (size_t k = 0; phrase[k]; k++)
        for (const unsigned char *q = (const unsigned char *)phrase[k]; *q; q++)
            if (!d->code[*q])
                d->code[*q] = (unsigned char)++d->n_codes;
    d->n_codes++; /* column 0: a byte no phrase has */
    for (unsigned c = 'A'; c <= 'Z'; c++)
        d->code[c] = d->code[c + 32];
    for (unsigned c = 0; c < 256; c++)
        if (blank((char)c) && d->code[' '])
            d->code[c] = (unsigned char)(d->code[' '] | WIDE);
    if (d->code['\''])
        d->code[0xE2] = (unsigned char)(d->code['\''] | WIDE);
}

static void build_lead(lx_dict *d, const char *const *phrase)
{
    for (size_t k = 0; phrase[k]; k++) {
        size_t n = 0;
        while (lx_alnum(phrase[k][n]))
            n++;
        if (n == 0)
            continue; /* never at a word start */
        assert(n <= 31);
        unsigned h = lx_word_hash(phrase[k], 0, n);
        d->lead[h >> 6] |= (uint64_t)1 << (h & 63u);
        d->lead_len[(unsigned char)phrase[k][0] & 31u] |= 1u << n;
    }
}

typedef struct sorted {
    const char *text;
    unsigned short index;
} sorted;

/* By text, then by index (so that equal phrases keep their order). */
static int by_text(const void *a, const void *b)
{
    const sorted *x = a, *y = b;
    int c = strcmp(x->text, y->text);
    return c ? c : (int)x->index - (int)y->index;
}

void loki__lx_dict_init(lx_dict *d, const char *const *phrase, lx_pool *pool)
{
    sorted by[LX_DICT_MAX];
    unsigned short order[LX_DICT_MAX];
    size_t n = 0;
    memset(d, 0, sizeof *d);
    for (; phrase[n]; n++) {
        /* The text offers one byte per position (text_code), which a literal blank or an
         * uppercase letter in a phrase would never equal. */
        assert(n < LX_DICT_MAX && phrase[n][0]);
        for (const char *q = phrase[n]; *q; q++)
            assert(*q == ' ' || !(blank(*q) || lx_upper(*q) || (unsigned char)*q >= 0x80));
        by[n] = (sorted){.text = phrase[n], .index = (unsigned short)n};
    }
    qsort(by, n, sizeof by[0], by_text);
    for (size_t k = 0; k < n; k++)
        order[k] = by[k].index;
    build_codes(d, phrase);
    size_t n_ends = 0;
    d->root = new_node(pool);
    build_node(d, pool, phrase, order, 0, n, 0, (unsigned short)d->root, &n_ends);
    d->node = pool->node;
    d->cell = pool->cell;
    d->n = (unsigned)n;
    build_lead(d, phrase);
}

/*
 * The column of a WIDE byte at t[j] (flag cleared), or 0 when it does not stand for a phrase
 * byte after all; *next is where the next byte starts. Blanks go as one ' ' (1-8 of them) and
 * U+2019 as one '\'', as in loki__lx_phrase_at().
 */
static unsigned wide_code(const char *t, size_t len, size_t j, unsigned k, size_t *next)
{
    if ((unsigned char)t[j] == 0xE2) {
        if (!(j + 2 < len && (unsigned char)t[j + 1] == 0x80 && (unsigned char)t[j + 2] == 0x99))
            return 0;
        *next = j + 3;
        return k & ~WIDE;
    }
    size_t e = j + 1;
    while (e < len && e - j < 8 && blank(t[e]))
        e++;
    *next = e;
    return k & ~WIDE;
}

/* The column of the text at t[j] and where the next byte starts (*next); 0: no phrase has it */
static inline unsigned text_code(const lx_dict *d, const char *t, size_t len, size_t j,
                                 size_t *next)
{
    unsigned k = d->code[(unsigned char)t[j]];
    *next = j + 1;
    return k & WIDE ? wide_code(t, len, j, k, next) : k;
}

/* The child of nd along column k, or NULL. */
static inline const lx_node *child(const lx_dict *d, const lx_node *nd, unsigned k)
{
    unsigned c = nd->branch ? d->cell[nd->row + k] : nd->code == k ? nd->child : 0;
    return c ? &d->node[c] : NULL;
}

/* A phrase ending in a letter or digit must not be followed by one (or by '_'). */
static inline int boundary_ok(const char *t, size_t len, size_t j, char last)
{
    return !(lx_alnum(last) && j < len && (lx_alnum(t[j]) || t[j] == '_'));
}

size_t loki__lx_dict_match(const lx_dict *d, const char *t, size_t len, size_t i, lx_hit *out)
{
    const lx_node *nd = &d->node[d->root];
    size_t j = i, next, n = 0;
    unsigned k;
    while (j < len && (k = text_code(d, t, len, j, &next)) != 0 && (nd = child(d, nd, k))) {
        char last = t[j];
        j = next;
        if (nd->n_end && boundary_ok(t, len, j, last))
            for (unsigned m = nd->end; m < (unsigned)nd->end + nd->n_end; m++)
                out[n++] = (lx_hit){.phrase = d->ends[m], .end = j};
    }
    /* By index, the order a caller trying the phrases one by one would find them in. */
    for (size_t m = 1; m < n; m++) {
        lx_hit h = out[m];
        size_t q = m;
        while (q > 0 && out[q - 1].phrase > h.phrase) {
            out[q] = out[q - 1];
            q--;
        }
        out[q] = h;
    }
    return n;
}

/* 1 when a phrase of d matches at t[i], ending anywhere (exact: 0) or at len (exact: 1). */
static int match_any(const lx_dict *d, const char *t, size_t len, size_t i, int exact)
{
    const lx_node *nd = &d->node[d->root];
    size_t j = i, next;
    unsigned k;
    while (j < len && (k = text_code(d, t, len, j, &next)) != 0 && (nd = child(d, nd, k))) {
        char last = t[j];
        j = next;
        if (nd->n_end && boundary_ok(t, len, j, last) && (!exact || j == len))
            return 1;
    }
    return 0;
}

int loki__lx_dict_at(const lx_dict *d, const char *t, size_t len, size_t i)
{
    return match_any(d, t, len, i, 0);
}

int loki__lx_dict_ends_at(const lx_dict *d, const char *t, size_t len, size_t i)
{
    return match_any(d, t, len, i, 1);
}

int loki__lx_window_has(const lx_dict *d, const char *t, size_t len, size_t from, size_t to)
{
    if (to > len)
        to = len;
    for (size_t i = from; i < to; i++) {
        if (!lx_alnum(t[i]))
            continue;
        size_t e = lx_word_end(t, len, i + 1);
        if (lx_word_start(t, i) && lx_dict_may_start(d, t, i, e) && match_any(d, t, len, i, 0))
            return 1;
        i = e - 1; /* no word starts inside a word */
    }
    return 0;
}
