/* SPDX-License-Identifier: MIT */
/*
 * Tiny ASCII character classes and bounded, case-insensitive phrase matching shared by the
 * detectors. Phrases are lowercase ASCII; in a phrase, ' ' matches one or more spaces, tabs,
 * line breaks or hyphens, and '\'' matches ' or U+2019. Internal.
 */
#ifndef LOKI_DETECT_LEX_H
#define LOKI_DETECT_LEX_H

#include <stddef.h>

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
    return (c >= 'a' && c <= 'z') || lx_upper(c);
}

static inline int lx_alnum(char c)
{
    return lx_alpha(c) || lx_digit(c);
}

static inline char lx_lower(char c)
{
    return lx_upper(c) ? (char)(c + 32) : c;
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

/* 1 when one of words (NULL-terminated) starts at a word boundary inside t[from, to). */
int loki__lx_window_has(const char *t, size_t len, size_t from, size_t to,
                        const char *const *words);

#endif
