/* SPDX-License-Identifier: MIT */
/*
 * Internal contract between loki_extract() and the per-format extractors: every extractor
 * appends text through an emitter that records, next to the bytes, where they came from.
 * Not installed.
 */
#ifndef LOKI_EXTRACT_INT_H
#define LOKI_EXTRACT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "loki/extract.h"
#include "util/util.h"

/*
 * One run of output bytes starting at `out`. A linear run advances its source position with
 * the text (a code point is a column, '\n' starts a new line); a non-linear one maps every
 * byte to (line, col). `unit` is the page (PDF) or paragraph (DOCX).
 */
typedef struct ex_seg {
    size_t out;
    uint32_t line, col;
    uint32_t unit;
    uint16_t part;
    uint8_t linear;
} ex_seg;

#define EX_MAX_PARTS 256

typedef struct ex_emit {
    loki_buf text;
    ex_seg *segs;
    size_t n_segs, cap_segs, max_segs;
    size_t max_out;
    /* Context of the next bytes. */
    uint32_t unit;
    uint16_t part;
    char *parts[EX_MAX_PARTS]; /* part names, index 0 unused (no part) */
    size_t n_parts;
    /* Where the last linear run would continue; lets adjacent puts share one segment. */
    uint32_t next_line, next_col;
    int limit, oom;
    const loki_extract_options *o;
} ex_emit;

void loki__ex_init(ex_emit *e, const loki_extract_options *o);
void loki__ex_release(ex_emit *e);
/* Appends n bytes whose first one sits at source (line, col), advancing linearly. Returns 0,
 * or -1 once the output cap was hit (e->limit) or an allocation failed (e->oom). */
int loki__ex_put(ex_emit *e, const char *p, size_t n, uint32_t line, uint32_t col);
/* Appends n bytes that all map to (line, col): decoded entities, separators. */
int loki__ex_put_at(ex_emit *e, const char *p, size_t n, uint32_t line, uint32_t col);
/* Appends a separator ("\n", " ") mapped to wherever the previous byte was, unless the text
 * is empty or already ends with it (for "\n": ends with a newline). */
int loki__ex_sep(ex_emit *e, char c);
/* Sets the page/paragraph of the following bytes. */
void loki__ex_unit(ex_emit *e, uint32_t unit);
/* Sets the named part of the following bytes (name copied); -1 on failure. */
int loki__ex_part(ex_emit *e, const char *name);
/* The status an extractor returns after a failed put, with a message. */
loki_status loki__ex_fail(ex_emit *e, loki_error *err);

/* Decodes a text-like input to UTF-8: strips a UTF-8 BOM, converts UTF-16 (BOM or sniffed)
 * and non-UTF-8 bytes (as CP-1252). *out points into p or at *owned (free with loki__free). */
loki_status loki__ex_decode_text(const char *p, size_t n, const char **out, size_t *out_len,
                                 char **owned, int *utf16, loki_error *err);
/* 1 when p starts with a UTF-16 BOM or looks like BOM-less UTF-16. */
int loki__ex_is_utf16(const char *p, size_t n);
/* Length of the longest valid UTF-8 prefix of p. */
size_t loki__ex_utf8_valid_prefix(const char *p, size_t n);
/* Replaces bytes that are not valid UTF-8 by '?' and NULs by ' ', in place. */
void loki__ex_sanitize(char *p, size_t n);
/* Appends code point cp as UTF-8 to b. */
int loki__ex_utf8_put(loki_buf *b, uint32_t cp);
/* Converts single-byte text in ISO-8859-1 / CP-1252 to UTF-8. */
int loki__ex_cp1252_to_utf8(loki_buf *b, const char *p, size_t n);

/* The extractors. Input is the whole document; they fill e and return a status. */
loki_status loki__extract_text(ex_emit *e, const char *p, size_t n, loki_error *err);
loki_status loki__extract_markdown(ex_emit *e, const char *p, size_t n, loki_error *err);
/* line_base: the source line of the first line of p (1 for a standalone document). `encoding`
 * is a charset name for libxml2 or NULL to let it detect one. */
loki_status loki__extract_html(ex_emit *e, const char *p, size_t n, uint32_t line_base,
                               const char *encoding, loki_error *err);
loki_status loki__extract_eml(ex_emit *e, const char *p, size_t n, loki_error *err);
loki_status loki__extract_docx(ex_emit *e, const char *p, size_t n, loki_error *err);
loki_status loki__extract_pdf(ex_emit *e, const char *p, size_t n, unsigned *pages,
                              loki_error *err);

/* Initialises libxml2 once per process (thread-safe). */
void loki__ex_xml_init(void);

/* ASCII case-insensitive helpers. */
int loki__ex_ieq(const char *a, size_t an, const char *b);
int loki__ex_istarts(const char *a, size_t an, const char *prefix);

#endif
