/* SPDX-License-Identifier: MIT */
/* loki_extract(): picks an extractor by sniffing the content, runs it through an emitter, and
 * answers location queries on the result. */
#include <stdio.h>
#include <string.h>

#include "extract_int.h"

struct loki_extracted {
    loki_doc_format format;
    char *text;
    size_t len;
    ex_seg *segs;
    size_t n_segs;
    char *parts[EX_MAX_PARTS];
    size_t n_parts;
    unsigned pages;
};

static const char *const format_names[] = {"auto", "text",     "docx", "pdf",
                                           "html", "markdown", "eml"};

const char *loki_doc_format_name(loki_doc_format f)
{
    if ((unsigned)f < sizeof format_names / sizeof *format_names)
        return format_names[f];
    return "unknown";
}

int loki_doc_format_parse(const char *name)
{
    static const struct {
        const char *name;
        loki_doc_format f;
    } alias[] = {{"txt", LOKI_FORMAT_TEXT},
                 {"md", LOKI_FORMAT_MARKDOWN},
                 {"htm", LOKI_FORMAT_HTML},
                 {"email", LOKI_FORMAT_EML}};
    if (!name)
        return -1;
    for (size_t i = 0; i < sizeof format_names / sizeof *format_names; i++)
        if (loki__ex_ieq(name, strlen(name), format_names[i]))
            return (int)i;
    for (size_t i = 0; i < sizeof alias / sizeof *alias; i++)
        if (loki__ex_ieq(name, strlen(name), alias[i].name))
            return (int)alias[i].f;
    return -1;
}

void loki_extract_options_default(loki_extract_options *o)
{
    memset(o, 0, sizeof *o);
    o->format = LOKI_FORMAT_AUTO;
    o->max_input_bytes = (size_t)256 << 20;
    o->max_output_bytes = (size_t)64 << 20;
    o->max_uncompressed_bytes = (size_t)256 << 20;
    o->max_compression_ratio = 200;
    o->max_zip_entries = 10000;
    o->max_pdf_pages = 2000;
    o->max_mime_parts = 256;
    o->max_mime_depth = 16;
}

/* ---- sniffing ---- */

static const char *hint_ext(const char *hint)
{
    if (!hint)
        return "";
    const char *slash = strrchr(hint, '/');
    const char *base = slash ? slash + 1 : hint;
    const char *dot = strrchr(base, '.');
    return dot ? dot + 1 : "";
}

static int ext_is(const char *ext, const char *const *list)
{
    for (; *list; list++)
        if (loki__ex_ieq(ext, strlen(ext), *list))
            return 1;
    return 0;
}

static const char *memfind(const char *h, size_t hn, const char *needle)
{
    size_t nn = strlen(needle);
    for (size_t i = 0; nn <= hn && i <= hn - nn; i++)
        if (loki__ex_istarts(h + i, hn - i, needle))
            return h + i;
    return NULL;
}

static int looks_html(const char *p, size_t n)
{
    size_t lim = n < 2048 ? n : 2048;
    size_t i = 0;
    while (i < lim && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    if (loki__ex_istarts(p + i, lim - i, "<!doctype html") ||
        loki__ex_istarts(p + i, lim - i, "<html"))
        return 1;
    static const char *const tags[] = {"<html",   "<body",  "<head>", "<div", "<p>",
                                       "<title>", "<meta ", "<table", NULL};
    int hits = 0;
    for (const char *const *t = tags; *t; t++)
        hits += memfind(p, lim, *t) != NULL;
    return hits >= 2 || (i < lim && p[i] == '<' && hits >= 1);
}

static int header_name_line(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && ((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z') ||
                     (p[i] >= '0' && p[i] <= '9') || p[i] == '-'))
        i++;
    return i > 0 && i < n && p[i] == ':';
}

static int looks_eml(const char *p, size_t n)
{
    static const char *const known[] = {
        "from:",     "to:",          "subject:",      "date:",     "message-id:", "mime-version:",
        "received:", "return-path:", "content-type:", "reply-to:", "cc:",         NULL};
    size_t lim = n < 16384 ? n : 16384, i = 0;
    int hits = 0, lines = 0;
    if (!header_name_line(p, lim))
        return 0;
    while (i < lim && lines < 200) {
        const char *nl = memchr(p + i, '\n', lim - i);
        size_t len = nl ? (size_t)(nl - (p + i)) : lim - i;
        if (len == 0 || (len == 1 && p[i] == '\r'))
            break; /* end of the header block */
        if (p[i] != ' ' && p[i] != '\t') {
            if (!header_name_line(p + i, len))
                return 0;
            for (const char *const *k = known; *k; k++)
                hits += loki__ex_istarts(p + i, len, *k);
        }
        lines++;
        i += len + 1;
    }
    return hits >= 2;
}

static int looks_markdown(const char *p, size_t n)
{
    size_t lim = n < 4096 ? n : 4096, i = 0;
    int score = 0;
    while (i < lim) {
        const char *nl = memchr(p + i, '\n', lim - i);
        size_t len = nl ? (size_t)(nl - (p + i)) : lim - i;
        const char *l = p + i;
        if (len >= 2 && l[0] == '#' && (l[1] == ' ' || l[1] == '#'))
            score += 2;
        else if (len >= 3 && (l[0] == '-' || l[0] == '*') && l[1] == ' ')
            score += 1;
        else if (len >= 3 && memcmp(l, "```", 3) == 0)
            score += 2;
        if (memfind(l, len, "](") || memfind(l, len, "**"))
            score += 1;
        i += len + 1;
    }
    return score >= 3;
}

static loki_doc_format sniff(const char *p, size_t n, const char *hint, loki_error *err)
{
    static const char *const md_ext[] = {"md", "markdown", "mdown", "mkd", NULL};
    static const char *const html_ext[] = {"html", "htm", "xhtml", NULL};
    static const char *const eml_ext[] = {"eml", NULL};
    const char *ext = hint_ext(hint);
    if (n >= 5 && memfind(p, n < 1024 ? n : 1024, "%PDF-"))
        return LOKI_FORMAT_PDF;
    if (n >= 4 && memcmp(p, "PK\x03\x04", 4) == 0)
        return LOKI_FORMAT_DOCX; /* the extractor says so when the zip is not a DOCX */
    if (n >= 8 && memcmp(p, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8) == 0) {
        loki__err(err, LOKI_EINVAL,
                  "legacy OLE document (.doc/.xls) is not supported; save "
                  "it as .docx or PDF");
        return LOKI_FORMAT_AUTO;
    }
    if (loki__ex_is_utf16(p, n))
        return LOKI_FORMAT_TEXT; /* loki_extract decodes it and sniffs again */
    if (memchr(p, '\0', n < 4096 ? n : 4096)) {
        loki__err(err, LOKI_EINVAL, "binary data in an unsupported format");
        return LOKI_FORMAT_AUTO;
    }
    if (ext_is(ext, html_ext) || looks_html(p, n))
        return LOKI_FORMAT_HTML;
    if (ext_is(ext, eml_ext) || looks_eml(p, n))
        return LOKI_FORMAT_EML;
    if (ext_is(ext, md_ext) || looks_markdown(p, n))
        return LOKI_FORMAT_MARKDOWN;
    return LOKI_FORMAT_TEXT;
}

/* ---- extraction ---- */

static loki_status run(ex_emit *e, loki_doc_format f, const char *p, size_t n, const char *hint,
                       unsigned *pages, loki_error *err)
{
    switch (f) {
    case LOKI_FORMAT_DOCX: return loki__extract_docx(e, p, n, err);
    case LOKI_FORMAT_PDF: return loki__extract_pdf(e, p, n, pages, err);
    case LOKI_FORMAT_HTML: return loki__extract_html(e, p, n, 1, NULL, err);
    case LOKI_FORMAT_MARKDOWN: return loki__extract_markdown(e, p, n, err);
    case LOKI_FORMAT_EML: return loki__extract_eml(e, p, n, err);
    case LOKI_FORMAT_TEXT:
    case LOKI_FORMAT_AUTO: break;
    }
    (void)hint;
    return loki__extract_text(e, p, n, err);
}

static loki_status finish(ex_emit *e, loki_doc_format f, unsigned pages, loki_extracted **out,
                          loki_error *err)
{
    loki_extracted *ex = loki__calloc(1, sizeof *ex);
    if (!ex || (!e->text.p && loki__buf_reserve(&e->text, 0))) {
        loki__free(ex);
        return loki__err(err, LOKI_ENOMEM, "out of memory extracting text");
    }
    e->text.p[e->text.len] = '\0'; /* reserve alone does not terminate */
    loki__ex_sanitize(e->text.p, e->text.len);
    ex->format = f;
    ex->text = e->text.p;
    ex->len = e->text.len;
    ex->segs = e->segs;
    ex->n_segs = e->n_segs;
    ex->n_parts = e->n_parts;
    memcpy(ex->parts, e->parts, sizeof e->parts);
    ex->pages = pages;
    /* Ownership moved into ex. */
    memset(e, 0, sizeof *e);
    *out = ex;
    return LOKI_OK;
}

loki_status loki_extract(const void *data, size_t len, const char *filename_hint,
                         const loki_extract_options *o, loki_extracted **out, loki_error *err)
{
    loki_extract_options def;
    ex_emit e;
    loki_status st;
    const char *p = data;
    char *decoded = NULL;
    unsigned pages = 0;
    loki__err_clear(err);
    if (!out || (!data && len))
        return loki__err(err, LOKI_EINVAL, "loki_extract: NULL argument");
    *out = NULL;
    if (!o) {
        loki_extract_options_default(&def);
        o = &def;
    }
    if ((unsigned)o->format > LOKI_FORMAT_EML)
        return loki__err(err, LOKI_EINVAL, "loki_extract: unknown format %d", (int)o->format);
    if (len > o->max_input_bytes)
        return loki__err(err, LOKI_ELIMIT, "input of %zu bytes exceeds max_input_bytes (%zu)", len,
                         o->max_input_bytes);
    if (!p)
        p = "";
    loki_doc_format f = o->format;
    if (f == LOKI_FORMAT_AUTO) {
        f = sniff(p, len, filename_hint, err);
        if (f == LOKI_FORMAT_AUTO)
            return err ? err->code : LOKI_EINVAL;
    }
    loki__ex_init(&e, o);
    if (o->format == LOKI_FORMAT_AUTO && f == LOKI_FORMAT_TEXT && loki__ex_is_utf16(p, len)) {
        /* UTF-16 may hold any text-like format: decode, then sniff the UTF-8. */
        const char *d;
        size_t dn;
        int is16 = 0;
        st = loki__ex_decode_text(p, len, &d, &dn, &decoded, &is16, err);
        if (st != LOKI_OK)
            goto out;
        f = sniff(d, dn, filename_hint, NULL);
        if (f == LOKI_FORMAT_PDF || f == LOKI_FORMAT_DOCX || f == LOKI_FORMAT_AUTO)
            f = LOKI_FORMAT_TEXT;
        st = f == LOKI_FORMAT_HTML ? loki__extract_html(&e, d, dn, 1, "UTF-8", err)
                                   : run(&e, f, d, dn, filename_hint, &pages, err);
        goto done;
    }
    st = run(&e, f, p, len, filename_hint, &pages, err);
done:
    if (st == LOKI_OK)
        st = finish(&e, f, pages, out, err);
out:
    loki__free(decoded);
    loki__ex_release(&e);
    return st;
}

void loki_extracted_destroy(loki_extracted *ex)
{
    if (!ex)
        return;
    loki__free(ex->text);
    loki__free(ex->segs);
    for (size_t i = 1; i < ex->n_parts; i++)
        loki__free(ex->parts[i]);
    loki__free(ex);
}

const char *loki_extracted_text(const loki_extracted *ex, size_t *len)
{
    if (len)
        *len = ex ? ex->len : 0;
    return ex ? ex->text : NULL;
}

loki_doc_format loki_extracted_format(const loki_extracted *ex)
{
    return ex ? ex->format : LOKI_FORMAT_AUTO;
}

unsigned loki_extracted_pages(const loki_extracted *ex)
{
    return ex ? ex->pages : 0;
}

/* ---- locations ---- */

loki_status loki_extracted_locate(const loki_extracted *ex, size_t offset, loki_location *loc)
{
    if (!ex || !loc || offset > ex->len)
        return LOKI_EINVAL;
    memset(loc, 0, sizeof *loc);
    loc->format = ex->format;
    if (ex->n_segs == 0)
        return LOKI_OK;
    /* The last segment starting at or before offset. */
    size_t lo = 0, hi = ex->n_segs;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (ex->segs[mid].out <= offset)
            lo = mid;
        else
            hi = mid;
    }
    const ex_seg *s = &ex->segs[lo];
    uint32_t line = s->line, col = s->col;
    if (s->linear && line) {
        for (size_t i = s->out; i < offset && i < ex->len; i++) {
            unsigned char c = (unsigned char)ex->text[i];
            if (c == '\n') {
                line++;
                col = 1;
            } else if ((c & 0xC0) != 0x80) {
                col++;
            }
        }
    }
    loc->line = line;
    loc->column = col;
    if (ex->format == LOKI_FORMAT_PDF)
        loc->page = s->unit;
    else if (ex->format == LOKI_FORMAT_DOCX)
        loc->paragraph = s->unit;
    loc->part = s->part && s->part < ex->n_parts ? ex->parts[s->part] : NULL;
    return LOKI_OK;
}

/* Appends "[, ]<text>" to out (bounded); written without snprintf chains, which GCC's
 * truncation analysis cannot follow. */
static void loc_add(char *out, size_t cap, size_t *k, const char *text)
{
    if (*k && *k + 2 < cap) {
        out[(*k)++] = ',';
        out[(*k)++] = ' ';
    }
    for (const char *p = text; *p && *k + 1 < cap; p++)
        out[(*k)++] = *p;
    out[*k] = '\0';
}

int loki_location_format(const loki_location *l, char *buf, size_t n)
{
    char tmp[160], item[80];
    size_t k = 0;
    tmp[0] = '\0';
    if (l->page) {
        snprintf(item, sizeof item, "page %u", l->page);
        loc_add(tmp, sizeof tmp, &k, item);
    }
    if (l->part && l->format == LOKI_FORMAT_DOCX && strcmp(l->part, "body") != 0)
        loc_add(tmp, sizeof tmp, &k, l->part);
    if (l->paragraph) {
        snprintf(item, sizeof item, "paragraph %u", l->paragraph);
        loc_add(tmp, sizeof tmp, &k, item);
    }
    if (l->line) {
        snprintf(item, sizeof item, "line %u", l->line);
        loc_add(tmp, sizeof tmp, &k, item);
    }
    if (l->column && l->format != LOKI_FORMAT_PDF) {
        snprintf(item, sizeof item, "column %u", l->column);
        loc_add(tmp, sizeof tmp, &k, item);
    }
    return snprintf(buf, n, "%s", tmp);
}
