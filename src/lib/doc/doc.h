/* SPDX-License-Identifier: MIT */
/*
 * The document: a validated UTF-8 text and the mapping from byte offsets to code-point offsets
 * and line/column, built lazily (only verdicts with spans need it). Internal.
 */
#ifndef LOKI_DOC_H
#define LOKI_DOC_H

#include <stddef.h>

#include "loki/loki.h"

/* Returns the byte offset of the first invalid UTF-8 sequence or NUL byte, or len when the text
 * is valid. Overlong forms, surrogates and code points above U+10FFFF are invalid. */
size_t loki__utf8_check(const char *p, size_t len, const char **why);

/* Span texts and excerpts are cut to this many bytes (loki_span.text). */
#define LOKI_SPAN_TEXT_MAX 200u

/* How many of p[0, len) an excerpt of at most `max` bytes keeps: len, or about max, moved back
 * so that no UTF-8 sequence is cut (p[max] must be readable when len > max). */
size_t loki__utf8_excerpt_len(const char *p, size_t len, size_t max);

/* Fills err for an encoding error at byte `off` (line/column 1-based) and returns
 * LOKI_EENCODING: the message and location every check reports. */
loki_status loki__err_encoding(loki_error *err, const char *why, size_t off, unsigned line,
                               unsigned col);

typedef struct loki_posmap {
    const char *text;
    size_t len;
    size_t *line_start; /* byte offset of each line's first byte */
    size_t n_lines;
    size_t *cp_check;   /* code points before byte (i * LOKI_POS_STEP) */
    size_t n_check;
} loki_posmap;

#define LOKI_POS_STEP 4096u

int loki__posmap_init(loki_posmap *m, const char *text, size_t len);
void loki__posmap_release(loki_posmap *m);
/* 1-based line and code-point column of byte offset off, and the code-point offset. */
void loki__posmap_locate(const loki_posmap *m, size_t off, unsigned *line, unsigned *col,
                         size_t *cp);
/* Line/column of a byte offset without a map (for error messages; linear). */
void loki__locate_linear(const char *text, size_t off, unsigned *line, unsigned *col);

#endif
