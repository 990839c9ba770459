/* SPDX-License-Identifier: MIT */
/*
 * Tiny ASCII character classes and bounded, case-insensitive phrase matching shared by the
 * detectors. Phrases are lowercase ASCII; in a phrase, ' ' matches one or more spaces, tabs,
 * line breaks or hyphens, and '\'' matches ' or U+2019. Internal.
 */
#ifndef LOKI_DETECT_LEX_H
#define LOKI_DETECT_LEX_H

#include <stddef.h>
#include <stdint.h>

/* Character classes of a byte, one table lookup (ASCII only: bytes >= 0x80 have none). */
enum {
    LX_DIGIT = 1u << 0,
    LX_UPPER = 1u << 1,
    LX_LOWER = 1u << 2,
    LX_BLANK = 1u << 3, /* what a ' ' in a phrase matches: space, tab, CR, LF, '-' */
    LX_STOP = 1u << 4,  /* may end a sentence: '.', '!', '?', LF */
    LX_ALNUM = 1u << 5, /* letter or digit (one bit, so classes can be ANDed) */
    LX_ALPHA = LX_UPPER | LX_LOWER,
};
extern const unsigned char loki__lx_class[256];

static inline unsigned lx_class(char c)
{
    return loki__lx_class[(unsigned char)c];
}

static inline int lx_digit(char c)
{
    return c >= '0' && c <= '9';
}

static inline int lx_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static inline int lx_alpha(char c)
{
    return (lx_class(c) & LX_ALPHA) != 0;
}

static inline int lx_alnum(char c)
{
    return (lx_class(c) & LX_ALNUM) != 0;
}

static inline char lx_lower(char c)
{
    return lx_upper(c) ? (char)(c + 32) : c;
}

/* The end of the run of letters and digits from i (i itself when there is none). */
static inline size_t lx_word_end(const char *t, size_t len, size_t i)
{
    const unsigned char *u = (const unsigned char *)t;
    while (i + 4 <= len && (loki__lx_class[u[i]] & loki__lx_class[u[i + 1]] &
                            loki__lx_class[u[i + 2]] & loki__lx_class[u[i + 3]] & LX_ALNUM))
        i += 4;
    while (i < len && lx_alnum(t[i]))
        i++;
    return i;
}

/* 1 when a word may start at i (the byte before is not a letter, digit or '_'). */
static inline int lx_word_start(const char *t, size_t i)
{
    return i == 0 || !(lx_alnum(t[i - 1]) || t[i - 1] == '_');
}

/*
 * Matches phrase ph at t[i] (case-insensitive). Returns the end offset, or 0 when it does not
 * match. A phrase ending in a letter or digit must end at a word boundary. Bounded by the
 * phrase length (each ' ' may swallow at most 8 bytes of blanks).
 */
size_t loki__lx_phrase_at(const char *t, size_t len, size_t i, const char *ph);

/* ---- phrase lists -------------------------------------------------------------------------- */

/* Most phrases in one list. */
#define LX_DICT_MAX 256

/* A node of a phrase trie: the phrases that share the bytes on the path to it. */
typedef struct lx_node {
    unsigned row;         /* several children: their row (a cell per column) in the cells */
    unsigned short child; /* a single child (0: none or several) */
    unsigned char code;   /* the column of the byte that leads to that single child */
    unsigned char branch; /* 1 when the children are in a row */
    unsigned short end;   /* the phrases that end here: ends[end .. end + n_end) */
    unsigned short n_end;
} lx_node;

/* Storage shared by the dicts of one file, filled by loki__lx_dict_init(). */
typedef struct lx_pool {
    lx_node *node;
    size_t n_node, cap_node;
    unsigned short *cell;
    size_t n_cell, cap_cell;
} lx_pool;

/*
 * A list of phrases prepared for matching all of them at once (docs/internals/detect_lex.md):
 * a trie walked along the text, so a position costs one lookup per byte of text matched
 * however long the list is, instead of one comparison per phrase. The text's bytes map to
 * columns (one per byte the phrases use; case folded); a node with one child holds it, a node
 * with several has a row with a cell per column. Built once by loki__lx_dict_init() and then
 * only read, so one dict may be shared by any number of threads.
 */
typedef struct lx_dict {
    const lx_node *node;              /* the pool's */
    const unsigned short *cell;       /* the pool's */
    unsigned root;                    /* node index */
    unsigned n;                       /* phrases */
    unsigned n_codes;                 /* cells in a row: the distinct phrase bytes, plus 1 */
    unsigned char code[256];          /* text byte -> column, 0 when no phrase has it */
    unsigned short ends[LX_DICT_MAX]; /* phrase indices, grouped by the node they end at */
    /* The phrases' first words (their leading letters and digits): bit n of lead_len[c & 31]
     * for a first word of n bytes starting with byte c (either case), and their hashes in a
     * bitmap. See lx_dict_may_start(). */
    uint32_t lead_len[32];
    uint64_t lead[64];
} lx_dict;

/* A 12-bit hash of the word t[i, e) (nonempty, letters and digits), case-insensitive: its
 * length, first two and last two bytes, so that it costs the same for any word. */
static inline unsigned lx_word_hash(const char *t, size_t i, size_t e)
{
    const unsigned char *u = (const unsigned char *)t;
    size_t two = e - i > 1;
    /* | 0x20 lowercases a letter and leaves a digit as it is. */
    unsigned h = (unsigned)(e - i) ^ (u[i] | 0x20u) << 4 ^ (u[i + two] | 0x20u) << 11 ^
                 (u[e - 1 - two] | 0x20u) << 18 ^ (u[e - 1] | 0x20u) << 25;
    return (h * 0x9E3779B1u) >> 20;
}

/*
 * 0 when no phrase of d can match at the word t[i, e) (a whole run of letters and digits):
 * a phrase that matches there starts with that very word, as its first letters and digits
 * are followed by a blank, a quote, punctuation or nothing, which a letter or digit of the
 * text never matches. Most words of a text start no phrase, and this costs less than a walk.
 * 1 means perhaps (hash collisions).
 */
static inline int lx_dict_may_start(const lx_dict *d, const char *t, size_t i, size_t e)
{
    if (e - i > 31 || !(d->lead_len[(unsigned char)t[i] & 31u] >> (e - i) & 1u))
        return 0;
    unsigned h = lx_word_hash(t, i, e);
    return (int)(d->lead[h >> 6] >> (h & 63u) & 1u);
}

/* One phrase found by loki__lx_dict_match(). */
typedef struct lx_hit {
    unsigned phrase; /* index in the list given to loki__lx_dict_init() */
    size_t end;
} lx_hit;

/*
 * Prepares the phrases of the NULL-terminated list (at most LX_DICT_MAX, nonempty, lowercase
 * ASCII; a blank other than ' ' and an uppercase letter never occur in them), taking storage
 * from pool (asserts that it is large enough). The list and the pool must outlive the dict.
 * Not thread-safe: run it once (for instance under pthread_once) before any match.
 */
void loki__lx_dict_init(lx_dict *d, const char *const *phrase, lx_pool *pool);

/*
 * Every phrase of d that loki__lx_phrase_at() would match at t[i], with its end, in the order
 * of their indices. out has room for d->n hits; returns how many were found.
 */
size_t loki__lx_dict_match(const lx_dict *d, const char *t, size_t len, size_t i, lx_hit *out);

/* 1 when a phrase of d matches at t[i]. */
int loki__lx_dict_at(const lx_dict *d, const char *t, size_t len, size_t i);

/* 1 when a phrase of d matches at t[i] and ends exactly at len. */
int loki__lx_dict_ends_at(const lx_dict *d, const char *t, size_t len, size_t i);

/* 1 when a phrase of d starts at a word boundary inside t[from, to). Phrases that do not
 * start with a letter or digit are never found so. */
int loki__lx_window_has(const lx_dict *d, const char *t, size_t len, size_t from, size_t to);

#endif
