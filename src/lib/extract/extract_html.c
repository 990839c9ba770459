/* SPDX-License-Identifier: MIT */
/* HTML through libxml2's forgiving HTML parser, driven as SAX so no tree is built: only text a
 * reader would see is kept (script, style, head, hidden elements dropped), entities come back
 * decoded, whitespace is collapsed and block elements end lines. Positions come from the
 * parser's own line/column counters. */
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>

#include "extract_int.h"

typedef struct html_state {
    ex_emit *e;
    htmlParserCtxtPtr ctxt;
    uint32_t line_base;
    unsigned depth;
    unsigned skip_from;           /* 0: not skipping; else the depth whose end stops the skipping */
    unsigned pre;                 /* inside <pre>/<textarea> */
    uint32_t last_line, last_col; /* parser position at the last event */
    int failed;
} html_state;

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
    xmlInitParser();
}

void loki__ex_xml_init(void)
{
    /* libxml2 wants one initialisation before threads use it. */
    pthread_once(&xml_once, xml_init);
}

static int name_in(const xmlChar *name, const char *const *list)
{
    const char *n = (const char *)name;
    for (; *list; list++)
        if (loki__ex_ieq(n, strlen(n), *list))
            return 1;
    return 0;
}

static const char *const skipped[] = {"script", "style", "head",   "noscript", "template",
                                      "svg",    "math",  "iframe", "object",   "embed",
                                      "canvas", "audio", "video",  "select",   NULL};
static const char *const blocks[] = {
    "p",       "div",      "br",     "li",      "ul",         "ol",         "h1",      "h2",
    "h3",      "h4",       "h5",     "h6",      "tr",         "table",      "section", "article",
    "header",  "footer",   "nav",    "aside",   "blockquote", "pre",        "dt",      "dd",
    "dl",      "form",     "hr",     "address", "figure",     "figcaption", "main",    "body",
    "caption", "fieldset", "legend", "details", "summary",    "textarea",   NULL};
static const char *const cells[] = {"td", "th", NULL};

static void note_pos(html_state *s)
{
    xmlParserInputPtr in = s->ctxt->input;
    if (!in)
        return;
    s->last_line = (uint32_t)(in->line > 0 ? in->line : 1);
    s->last_col = (uint32_t)(in->col > 0 ? in->col : 1);
    if (in->cur && in->end && in->cur < in->end && *in->cur == '>')
        s->last_col++;
}

static int hidden_attr(const xmlChar **atts)
{
    for (size_t i = 0; atts && atts[i]; i += 2) {
        const char *k = (const char *)atts[i], *v = (const char *)atts[i + 1];
        if (loki__ex_ieq(k, strlen(k), "hidden"))
            return 1;
        if (loki__ex_ieq(k, strlen(k), "aria-hidden") && v && loki__ex_ieq(v, strlen(v), "true"))
            return 1;
        if (loki__ex_ieq(k, strlen(k), "style") && v) {
            /* display:none, with or without spaces */
            char c[64];
            size_t n = 0;
            for (const char *q = v; *q && n < sizeof c - 1; q++)
                if (*q != ' ')
                    c[n++] = *q >= 'A' && *q <= 'Z' ? (char)(*q + 32) : *q;
            c[n] = '\0';
            if (strstr(c, "display:none") || strstr(c, "visibility:hidden"))
                return 1;
        }
    }
    return 0;
}

static void on_start(void *ud, const xmlChar *name, const xmlChar **atts)
{
    html_state *s = ud;
    s->depth++;
    note_pos(s);
    if (s->skip_from || s->failed)
        return;
    if (name_in(name, skipped) || hidden_attr(atts)) {
        s->skip_from = s->depth;
        return;
    }
    if (name_in(name, blocks)) {
        if (loki__ex_sep(s->e, '\n'))
            s->failed = 1;
    } else if (name_in(name, cells)) {
        if (loki__ex_sep(s->e, ' '))
            s->failed = 1;
    }
    if (loki__ex_ieq((const char *)name, strlen((const char *)name), "pre") ||
        loki__ex_ieq((const char *)name, strlen((const char *)name), "textarea"))
        s->pre++;
}

static void on_end(void *ud, const xmlChar *name)
{
    html_state *s = ud;
    note_pos(s);
    if (s->skip_from) {
        if (s->depth == s->skip_from)
            s->skip_from = 0;
    } else if (!s->failed) {
        if (name_in(name, blocks) && loki__ex_sep(s->e, '\n'))
            s->failed = 1;
        if ((loki__ex_ieq((const char *)name, strlen((const char *)name), "pre") ||
             loki__ex_ieq((const char *)name, strlen((const char *)name), "textarea")) &&
            s->pre)
            s->pre--;
    }
    if (s->depth)
        s->depth--;
}

/* Emits one run of text at its source position; whitespace collapses unless inside <pre>. */
static void emit_piece(html_state *s, const char *p, size_t n, uint32_t line, uint32_t col)
{
    uint32_t l = line + s->line_base - 1;
    if (s->pre) {
        if (loki__ex_put(s->e, p, n, l, col))
            s->failed = 1;
        return;
    }
    size_t i = 0;
    while (i < n && !s->failed) {
        if (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r' || p[i] == '\f') {
            while (i < n &&
                   (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r' || p[i] == '\f')) {
                if (p[i] == '\n') {
                    l++;
                    col = 1;
                } else {
                    col++;
                }
                i++;
            }
            if (loki__ex_sep(s->e, ' '))
                s->failed = 1;
            continue;
        }
        size_t j = i;
        uint32_t c0 = col;
        while (j < n &&
               !(p[j] == ' ' || p[j] == '\t' || p[j] == '\n' || p[j] == '\r' || p[j] == '\f')) {
            if (((unsigned char)p[j] & 0xC0) != 0x80)
                col++;
            j++;
        }
        if (loki__ex_put(s->e, p + i, j - i, l, c0))
            s->failed = 1;
        i = j;
    }
}

/*
 * The parser reports its position after the chunk. Text after the chunk's last newline is
 * placed exactly from that; earlier lines start at column 1 after their newline; only the
 * chunk's first line borrows the position of the previous event.
 */
static void on_chars(void *ud, const xmlChar *ch, int len)
{
    html_state *s = ud;
    const char *p = (const char *)ch;
    size_t n = len > 0 ? (size_t)len : 0;
    if (s->skip_from || s->failed || !n)
        return;
    xmlParserInputPtr in = s->ctxt->input;
    uint32_t end_line = in && in->line > 0 ? (uint32_t)in->line : 1;
    uint32_t end_col = in && in->col > 0 ? (uint32_t)in->col : 1;
    size_t nl = 0, cps_after_last_nl = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n') {
            nl++;
            cps_after_last_nl = 0;
        } else if (((unsigned char)p[i] & 0xC0) != 0x80) {
            cps_after_last_nl++;
        }
    }
    uint32_t line, col;
    if (nl == 0) {
        line = end_line;
        col = end_col > cps_after_last_nl ? end_col - (uint32_t)cps_after_last_nl : 1;
    } else {
        line = end_line > nl ? end_line - (uint32_t)nl : 1;
        col = s->last_line == line ? s->last_col : 1;
    }
    emit_piece(s, p, n, line, col);
    s->last_line = end_line;
    s->last_col = end_col;
}

static void on_serror(void *ud, xmlErrorPtr e)
{
    (void)ud;
    (void)e; /* recoverable HTML errors are the norm on the web; nothing to report */
}

loki_status loki__extract_html(ex_emit *e, const char *p, size_t n, uint32_t line_base,
                               const char *encoding, loki_error *err)
{
    html_state s = {.e = e, .line_base = line_base ? line_base : 1};
    loki_status st = LOKI_OK;
    htmlSAXHandler sax;
    if (n > INT_MAX)
        return loki__err(err, LOKI_ELIMIT, "HTML document larger than 2 GiB");
    if (n == 0)
        return LOKI_OK;
    loki__ex_xml_init();
    htmlParserCtxtPtr ctxt = htmlCreateMemoryParserCtxt(p, (int)n);
    if (!ctxt)
        return loki__err(err, LOKI_ENOMEM, "out of memory creating the HTML parser");
    memset(&sax, 0, sizeof sax);
    sax.startElement = on_start;
    sax.endElement = on_end;
    sax.characters = on_chars;
    sax.ignorableWhitespace = on_chars;
    sax.serror = on_serror;
    sax.initialized = XML_SAX2_MAGIC;
    *ctxt->sax = sax;
    ctxt->userData = &s;
    s.ctxt = ctxt;
    int opts = HTML_PARSE_RECOVER | HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
               HTML_PARSE_NODEFDTD;
    if (encoding) {
        opts |= HTML_PARSE_IGNORE_ENC;
        xmlSwitchEncoding(ctxt, XML_CHAR_ENCODING_UTF8);
    }
    htmlCtxtUseOptions(ctxt, opts);
    htmlParseDocument(ctxt);
    if (s.failed)
        st = loki__ex_fail(e, err);
    else if (ctxt->errNo == XML_ERR_NO_MEMORY)
        st = loki__err(err, LOKI_ENOMEM, "out of memory parsing HTML");
    if (ctxt->myDoc)
        xmlFreeDoc(ctxt->myDoc);
    htmlFreeParserCtxt(ctxt);
    return st;
}
