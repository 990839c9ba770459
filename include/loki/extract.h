/* SPDX-License-Identifier: MIT */
/*
 * libloki text extraction: turns a real document (DOCX, PDF, HTML, Markdown, plain text in
 * UTF-8/UTF-16, e-mail) into the UTF-8 text loki_check() reads, plus a location map so that a
 * byte offset in that text (a span of a finding) maps back to a place in the original: a page
 * (PDF), a paragraph (DOCX) or a source line and column (text, HTML, Markdown, e-mail).
 *
 * Every input is untrusted: zip bombs, huge PDFs and oversized output are refused with
 * LOKI_ELIMIT, malformed files with LOKI_EPARSE, each with a message naming the reason. The
 * library never prints, exits or reads the environment.
 */
#ifndef LOKI_EXTRACT_H
#define LOKI_EXTRACT_H

#include <stddef.h>

#include "loki/loki.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum loki_doc_format {
    LOKI_FORMAT_AUTO = 0, /* options: sniff the content (and the file name hint) */
    LOKI_FORMAT_TEXT,     /* plain text: UTF-8, UTF-16 LE/BE (BOM or sniffed), else CP-1252 */
    LOKI_FORMAT_DOCX,     /* Office Open XML word processing document */
    LOKI_FORMAT_PDF,
    LOKI_FORMAT_HTML,
    LOKI_FORMAT_MARKDOWN,
    LOKI_FORMAT_EML /* RFC 5322 message with MIME parts */
} loki_doc_format;

/* "auto", "text", "docx", "pdf", "html", "markdown", "eml"; never NULL. */
const char *loki_doc_format_name(loki_doc_format f);
/* Parses one of the names above (also "txt", "md", "htm", "email"); -1 when unknown. */
int loki_doc_format_parse(const char *name);

typedef struct loki_extract_options {
    /* LOKI_FORMAT_AUTO (default) sniffs; any other value forces that extractor. */
    loki_doc_format format;
    /* Largest input accepted (default 256 MiB). */
    size_t max_input_bytes;
    /* Largest extracted text (default 64 MiB). */
    size_t max_output_bytes;
    /* DOCX: total bytes inflated from the archive (default 256 MiB), the largest
     * uncompressed/compressed ratio of any member read (default 200) and the most entries
     * the archive may list (default 10000). */
    size_t max_uncompressed_bytes;
    unsigned max_compression_ratio;
    unsigned max_zip_entries;
    /* PDF: documents with more pages are refused (default 2000). */
    unsigned max_pdf_pages;
    /* E-mail: most MIME parts visited and deepest multipart nesting (defaults 256 and 16). */
    unsigned max_mime_parts;
    unsigned max_mime_depth;
} loki_extract_options;

/* Fills *o with the defaults above. */
void loki_extract_options_default(loki_extract_options *o);

typedef struct loki_extracted loki_extracted;

/*
 * Extracts the text of `len` bytes at `data`. `filename_hint` (may be NULL) is only a hint:
 * the content decides, the extension breaks ties between text-like formats (.md, .html,
 * .eml). `o` may be NULL for the defaults. On success *out owns the text and the map; on
 * failure *out is NULL and err says why:
 *   LOKI_EINVAL  bad arguments, or an unsupported format (legacy .doc, a zip that is not a
 *                DOCX, other binary data)
 *   LOKI_EPARSE  a malformed document (broken zip, unreadable or encrypted PDF, ...)
 *   LOKI_ELIMIT  a cap of loki_extract_options was hit (message names the cap)
 *   LOKI_ENOMEM  an allocation failed
 * The text is valid UTF-8 without NUL bytes (bytes that are neither are replaced by '?', and
 * NULs by spaces, so byte offsets stay put). Thread-safe: independent calls may run at once.
 */
loki_status loki_extract(const void *data, size_t len, const char *filename_hint,
                         const loki_extract_options *o, loki_extracted **out, loki_error *err);

/* Frees the result; NULL is a no-op. */
void loki_extracted_destroy(loki_extracted *ex);

/* The extracted text (NUL-terminated, valid UTF-8); *len (if not NULL) gets its length. */
const char *loki_extracted_text(const loki_extracted *ex, size_t *len);
/* The format that was extracted (never LOKI_FORMAT_AUTO). */
loki_doc_format loki_extracted_format(const loki_extracted *ex);
/* PDF: the number of pages; 0 for other formats. */
unsigned loki_extracted_pages(const loki_extracted *ex);

/* Where a byte of the extracted text came from. Fields that do not apply are 0 / NULL. */
typedef struct loki_location {
    loki_doc_format format;
    unsigned page;      /* PDF: 1-based page */
    unsigned paragraph; /* DOCX: 1-based paragraph (w:p, table cells included) within `part` */
    const char *part;   /* DOCX: "body", "header1", "footer2", "footnotes", "endnotes";
                           e-mail: "headers" or "body"; NULL otherwise. Valid while ex lives */
    unsigned line;      /* 1-based source line: text, Markdown, HTML, e-mail; PDF: line within
                           the page's text; 0 when unknown (DOCX) */
    unsigned column;    /* 1-based, in code points, on that line; 0 when unknown */
} loki_location;

/*
 * Maps a byte offset of the extracted text (0 <= offset <= len; a span's start) to where it
 * came from. LOKI_EINVAL when the offset is past the end. Read-only: many threads may call it
 * on one result. Columns are exact for text/Markdown/HTML; inside decoded e-mail bodies
 * (quoted-printable, base64) the line is the encoded line and the column approximate.
 */
loki_status loki_extracted_locate(const loki_extracted *ex, size_t offset, loki_location *loc);

/*
 * Renders a location for people: "page 2, line 5", "paragraph 7" or "footnotes, paragraph 1",
 * "line 12, column 4". Writes at most n bytes (NUL included) and returns the length it
 * needed, like snprintf.
 */
int loki_location_format(const loki_location *loc, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* LOKI_EXTRACT_H */
