/* SPDX-License-Identifier: MIT */
/* loki_extract(): every format built inside the test (DOCX with libzip, PDF written by hand
 * with exact xref offsets, HTML/Markdown/e-mail as strings). The golden property: the same
 * violating sentences in each format fail the same gates, and the spans locate back to the
 * right page, paragraph or line. Plus the caps (zip bomb, page cap, output cap), malformed
 * input, UTF-16, and allocation-failure torture. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zip.h>

#include "helpers.h"
#include "loki/extract.h"
#include "util/util.h"

#define S1 "By using our website you agree to the collection of your personal data."
#define S2 "We keep customer records indefinitely."

/* ---- document builders ---- */

typedef struct blob {
    char *p;
    size_t n;
} blob;

static void blob_free(blob *b)
{
    free(b->p);
    b->p = NULL;
    b->n = 0;
}

/* A zip written in memory from (name, content) pairs; NULL name ends the list. */
static blob make_zip(const char *const *files, const size_t *sizes)
{
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    assert_non_null(src);
    zip_source_keep(src);
    zip_t *z = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
    assert_non_null(z);
    for (size_t i = 0; files[2 * i]; i++) {
        size_t n = sizes && sizes[i] ? sizes[i] : strlen(files[2 * i + 1]);
        zip_source_t *s = zip_source_buffer(z, files[2 * i + 1], n, 0);
        assert_non_null(s);
        assert_true(zip_file_add(z, files[2 * i], s, ZIP_FL_OVERWRITE) >= 0);
    }
    assert_int_equal(zip_close(z), 0);
    blob b = {0};
    assert_int_equal(zip_source_open(src), 0);
    assert_int_equal(zip_source_seek(src, 0, SEEK_END), 0);
    zip_int64_t sz = zip_source_tell(src);
    assert_true(sz > 0);
    assert_int_equal(zip_source_seek(src, 0, SEEK_SET), 0);
    b.n = (size_t)sz;
    b.p = malloc(b.n);
    assert_int_equal(zip_source_read(src, b.p, (zip_uint64_t)sz), sz);
    zip_source_close(src);
    zip_source_free(src);
    zip_error_fini(&ze);
    return b;
}

#define W_NS "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\""

static const char DOCX_BODY[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
    "<w:document " W_NS "><w:body>"
    "<w:p><w:r><w:t>Privacy notice &amp; terms</w:t></w:r></w:p>"
    "<w:p><w:r><w:t xml:space=\"preserve\">By using our </w:t></w:r>"
    "<w:r><w:rPr><w:b/></w:rPr><w:t>website</w:t></w:r>"
    "<w:del><w:r><w:delText>DELETED</w:delText></w:r></w:del>"
    "<w:r><w:t xml:space=\"preserve\"> you agree to the collection of your personal "
    "data.</w:t></w:r></w:p>"
    "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>" S2 "</w:t></w:r></w:p></w:tc>"
    "<w:tc><w:p><w:r><w:t>Cell two</w:t></w:r></w:p></w:tc></w:tr></w:tbl>"
    "<w:p/>"
    "</w:body></w:document>";
static const char DOCX_HEADER[] = "<?xml version=\"1.0\"?><w:hdr " W_NS
                                  "><w:p><w:r><w:t>Acme Ltd header</w:t></w:r></w:p></w:hdr>";
static const char DOCX_FOOTNOTES[] =
    "<?xml version=\"1.0\"?><w:footnotes " W_NS "><w:footnote w:id=\"1\"><w:p><w:r>"
    "<w:t>Footnote text here.</w:t></w:r></w:p></w:footnote></w:footnotes>";
static const char CONTENT_TYPES[] =
    "<?xml version=\"1.0\"?><Types "
    "xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"/>";

static blob make_docx(void)
{
    const char *files[] = {"[Content_Types].xml",
                           CONTENT_TYPES,
                           "word/document.xml",
                           DOCX_BODY,
                           "word/header1.xml",
                           DOCX_HEADER,
                           "word/footnotes.xml",
                           DOCX_FOOTNOTES,
                           NULL,
                           NULL};
    return make_zip(files, NULL);
}

/* A PDF with one page per string (Helvetica, one Tj per line of the string), its xref table
 * written with the real byte offsets. */
static blob make_pdf(const char *const *pages, size_t n_pages)
{
    size_t n_obj = 3 + 2 * n_pages, off[64];
    char *buf = malloc(1 << 16);
    size_t len = 0;
    assert_true(n_obj < 64);
#define OUT(...) len += (size_t)snprintf(buf + len, (1 << 16) - len, __VA_ARGS__)
    OUT("%%PDF-1.4\n%%\xe2\xe3\xcf\xd3\n");
    off[1] = len;
    OUT("1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
    off[2] = len;
    OUT("2 0 obj\n<< /Type /Pages /Count %zu /Kids [", n_pages);
    for (size_t i = 0; i < n_pages; i++)
        OUT(" %zu 0 R", 4 + 2 * i);
    OUT(" ] >>\nendobj\n");
    off[3] = len;
    OUT("3 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\n");
    for (size_t i = 0; i < n_pages; i++) {
        char content[4096];
        size_t cl = 0;
        cl += (size_t)snprintf(content + cl, sizeof content - cl, "BT /F1 11 Tf 14 TL 50 750 Td\n");
        const char *s = pages[i];
        while (*s) {
            const char *nl = strchr(s, '\n');
            size_t k = nl ? (size_t)(nl - s) : strlen(s);
            cl += (size_t)snprintf(content + cl, sizeof content - cl, "(%.*s) Tj T*\n", (int)k, s);
            s += k + (nl ? 1 : 0);
        }
        cl += (size_t)snprintf(content + cl, sizeof content - cl, "ET\n");
        off[4 + 2 * i] = len;
        OUT("%zu 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %zu 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>\nendobj\n",
            4 + 2 * i, 5 + 2 * i);
        off[5 + 2 * i] = len;
        OUT("%zu 0 obj\n<< /Length %zu >>\nstream\n%sendstream\nendobj\n", 5 + 2 * i, cl, content);
    }
    size_t xref = len;
    OUT("xref\n0 %zu\n0000000000 65535 f \n", n_obj);
    for (size_t i = 1; i < n_obj; i++)
        OUT("%010zu 00000 n \n", off[i]);
    OUT("trailer\n<< /Size %zu /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n", n_obj, xref);
#undef OUT
    return (blob){buf, len};
}

static const char TXT[] = "Privacy notice\n\n" S1 "\n" S2 "\n";

static const char HTML[] = "<!DOCTYPE html>\n"
                           "<html><head><title>Hidden title</title>\n"
                           "<style>p { color: red }</style>\n"
                           "<script>var s = 'We keep customer records forever';</script></head>\n"
                           "<body>\n"
                           "<h1>Privacy notice &amp; terms</h1>\n"
                           "<p>" S1 "</p>\n"
                           "<div hidden>secret hidden text</div>\n"
                           "<ul><li>" S2 "</li></ul>\n"
                           "<p>Caf&eacute; &#8364;5 &lt;ok&gt;</p>\n"
                           "</body></html>\n";

static const char MD[] = "# Privacy notice\n"
                         "\n"
                         "By using our **website** you agree to the [collection](https://x.y/c) "
                         "of your _personal_ data.\n"
                         "\n"
                         "- We keep customer records *indefinitely*.\n"
                         "\n"
                         "```\ncode_block stays\n```\n";

static const char EML[] = "From: Acme <legal@acme.example>\r\n"
                          "To: customer@example.com\r\n"
                          "Subject: =?UTF-8?B?UHJpdmFjeSBub3RpY2Ug4oCT?= update\r\n"
                          "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
                          "MIME-Version: 1.0\r\n"
                          "Content-Type: multipart/alternative; boundary=\"BOUND\"\r\n"
                          "\r\n"
                          "This is a multi-part message.\r\n"
                          "--BOUND\r\n"
                          "Content-Type: text/plain; charset=utf-8\r\n"
                          "Content-Transfer-Encoding: quoted-printable\r\n"
                          "\r\n"
                          "Dear customer,\r\n"
                          "By using our website you agree to the collection of your =\r\n"
                          "personal data.\r\n"
                          "We keep customer records indefinitely.=20\r\n"
                          "Caf=C3=A9\r\n"
                          "--BOUND\r\n"
                          "Content-Type: text/html; charset=utf-8\r\n"
                          "\r\n"
                          "<p>HTML alternative must not appear</p>\r\n"
                          "--BOUND--\r\n";

/* ---- helpers ---- */

static loki_extracted *extract(const void *p, size_t n, const char *hint,
                               const loki_extract_options *o)
{
    loki_extracted *ex = NULL;
    loki_error err;
    loki_status st = loki_extract(p, n, hint, o, &ex, &err);
    if (st != LOKI_OK)
        fail_msg("extract %s failed: %s: %s", hint ? hint : "?", loki_strerror(st), err.message);
    return ex;
}

static size_t find(const loki_extracted *ex, const char *needle)
{
    size_t len;
    const char *t = loki_extracted_text(ex, &len);
    const char *hit = strstr(t, needle);
    if (!hit)
        fail_msg("'%s' not in extracted text:\n%s", needle, t);
    return (size_t)(hit - t);
}

static loki_location where(const loki_extracted *ex, const char *needle)
{
    loki_location l;
    assert_int_equal(loki_extracted_locate(ex, find(ex, needle), &l), LOKI_OK);
    return l;
}

static loki_status extract_err(const void *p, size_t n, const char *hint,
                               const loki_extract_options *o, loki_error *err)
{
    loki_extracted *ex = NULL;
    loki_status st = loki_extract(p, n, hint, o, &ex, err);
    if (st == LOKI_OK)
        loki_extracted_destroy(ex);
    else
        assert_null(ex);
    return st;
}

/* ---- the golden property through the engine ---- */

static const char PACK[] =
    "module: gdpr\nname: G\nversion: '1'\n"
    "gates:\n"
    "  - id: browsewrap_consent\n    title: Consent by browsing\n    severity: critical\n"
    "    legal: Art 7\n"
    "    patterns:\n      bad: ['by using our website you agree']\n"
    "    outcomes:\n      - when: bad\n        status: FAIL\n        message: browsewrap\n"
    "        spans: [bad]\n"
    "      - status: PASS\n        message: ok\n"
    "    examples:\n      pass: ['x']\n      fail: ['by using our website you agree']\n"
    "  - id: retention\n    title: Retention\n    severity: high\n    legal: Art 5\n"
    "    patterns:\n      bad: ['records indefinitely']\n"
    "    outcomes:\n      - when: bad\n        status: FAIL\n        message: retention\n"
    "        spans: [bad]\n"
    "      - status: PASS\n        message: ok\n"
    "    examples:\n      pass: ['x']\n      fail: ['records indefinitely']\n";

/* Checks the text with the pack; returns the locations of the first span of each gate. */
static void check_gates(const loki_extracted *ex, loki_location *consent, loki_location *ret)
{
    static loki_engine *eng;
    loki_error err;
    if (!eng && th_engine(PACK, &eng, &err) != LOKI_OK)
        fail_msg("pack: %s", err.message);
    size_t len;
    const char *t = loki_extracted_text(ex, &len);
    loki_verdict *v = NULL;
    loki_check_options o;
    loki_check_options_default(&o);
    o.no_universal = 1;
    o.timestamp = 1;
    if (loki_check(eng, t, len, &o, &v, &err) != LOKI_OK)
        fail_msg("check: %s", err.message);
    assert_int_equal(v->n_modules, 1);
    const loki_module_result *m = &v->modules[0];
    assert_int_equal(m->n_findings, 2);
    loki_location *out[2] = {consent, ret};
    for (size_t i = 0; i < 2; i++) {
        const loki_finding *f = &m->findings[i];
        if (f->status != LOKI_FAIL)
            fail_msg("gate %s did not fail on %s text:\n%s", f->gate->id,
                     loki_doc_format_name(loki_extracted_format(ex)), t);
        assert_true(f->n_spans >= 1);
        assert_int_equal(loki_extracted_locate(ex, f->spans[0].start, out[i]), LOKI_OK);
    }
    loki_verdict_destroy(v);
}

static void golden_txt(void **st)
{
    (void)st;
    loki_extracted *ex = extract(TXT, strlen(TXT), "notice.txt", NULL);
    assert_int_equal(loki_extracted_format(ex), LOKI_FORMAT_TEXT);
    loki_location a, b;
    check_gates(ex, &a, &b);
    assert_int_equal(a.line, 3);
    assert_int_equal(a.column, 1);
    assert_int_equal(b.line, 4);
    assert_int_equal(b.column, 18); /* "records" */
    loki_extracted_destroy(ex);
}

static void golden_docx(void **st)
{
    (void)st;
    blob d = make_docx();
    loki_extracted *ex = extract(d.p, d.n, NULL, NULL); /* no hint: sniffed */
    assert_int_equal(loki_extracted_format(ex), LOKI_FORMAT_DOCX);
    loki_location a, b;
    check_gates(ex, &a, &b);
    assert_int_equal(a.paragraph, 2);
    assert_string_equal(a.part, "body");
    assert_int_equal(b.paragraph, 3); /* the first table cell */
    assert_null(strstr(loki_extracted_text(ex, NULL), "DELETED"));
    find(ex, "Privacy notice & terms");
    loki_location h = where(ex, "Acme Ltd header");
    assert_string_equal(h.part, "header1");
    assert_int_equal(h.paragraph, 1);
    loki_location fn = where(ex, "Footnote text");
    assert_string_equal(fn.part, "footnotes");
    char buf[80];
    loki_location_format(&fn, buf, sizeof buf);
    assert_string_equal(buf, "footnotes, paragraph 1");
    loki_extracted_destroy(ex);
    blob_free(&d);
}

static void golden_pdf(void **st)
{
    (void)st;
    const char *pages[] = {"Privacy notice\n" S1, "Second page\n" S2};
    blob d = make_pdf(pages, 2);
    loki_extracted *ex = extract(d.p, d.n, "notice.pdf", NULL);
    assert_int_equal(loki_extracted_format(ex), LOKI_FORMAT_PDF);
    assert_int_equal(loki_extracted_pages(ex), 2);
    loki_location a, b;
    check_gates(ex, &a, &b);
    assert_int_equal(a.page, 1);
    assert_int_equal(a.line, 2);
    assert_int_equal(b.page, 2);
    assert_int_equal(b.line, 2);
    char buf[80];
    loki_location_format(&b, buf, sizeof buf);
    assert_string_equal(buf, "page 2, line 2");
    loki_extracted_destroy(ex);
    blob_free(&d);
}

static void golden_html(void **st)
{
    (void)st;
    loki_extracted *ex = extract(HTML, strlen(HTML), NULL, NULL);
    assert_int_equal(loki_extracted_format(ex), LOKI_FORMAT_HTML);
    loki_location a, b;
    check_gates(ex, &a, &b);
    assert_int_equal(a.line, 7);
    assert_int_equal(a.column, 4); /* after <p> */
    assert_int_equal(b.line, 9);
    assert_int_equal(b.column, 26); /* <ul><li> + "We keep customer " */
    const char *t = loki_extracted_text(ex, NULL);
    assert_null(strstr(t, "forever"));
    assert_null(strstr(t, "color"));
    assert_null(strstr(t, "Hidden title"));
    assert_null(strstr(t, "secret"));
    find(ex, "Privacy notice & terms");
    find(ex, "Caf\xc3\xa9 \xe2\x82\xac"
             "5 <ok>");
    loki_extracted_destroy(ex);
}

static void golden_markdown(void **st)
{
    (void)st;
    loki_extracted *ex = extract(MD, strlen(MD), "notice.md", NULL);
    assert_int_equal(loki_extracted_format(ex), LOKI_FORMAT_MARKDOWN);
    loki_location a, b;
    check_gates(ex, &a, &b);
    assert_int_equal(a.line, 3);
    assert_int_equal(a.column, 1);
    assert_int_equal(b.line, 5);
    assert_int_equal(b.column, 20); /* "- We keep customer " */
    const char *t = loki_extracted_text(ex, NULL);
    assert_null(strchr(t, '#'));
    assert_null(strchr(t, '*'));
    assert_null(strstr(t, "https://"));
    find(ex, S1);
    find(ex, "code_block stays");
    loki_location h = where(ex, "Privacy notice");
    assert_int_equal(h.line, 1);
    assert_int_equal(h.column, 3);
    loki_location p = where(ex, "personal data");
    assert_int_equal(p.line, 3);
    assert_int_equal(p.column, 80); /* past the link syntax and the underscore */
    loki_extracted_destroy(ex);
}

static void golden_eml(void **st)
{
    (void)st;
    loki_extracted *ex = extract(EML, strlen(EML), NULL, NULL);
    assert_int_equal(loki_extracted_format(ex), LOKI_FORMAT_EML);
    loki_location a, b;
    check_gates(ex, &a, &b);
    assert_int_equal(a.line, 14);
    assert_int_equal(a.column, 1);
    assert_string_equal(a.part, "body");
    assert_int_equal(b.line, 16);
    const char *t = loki_extracted_text(ex, NULL);
    find(ex, S1); /* the soft line break is gone */
    find(ex, "Caf\xc3\xa9");
    find(ex, "Subject: Privacy notice \xe2\x80\x93 update");
    assert_null(strstr(t, "HTML alternative"));
    assert_null(strstr(t, "multi-part message"));
    loki_location s = where(ex, "Subject:");
    assert_int_equal(s.line, 3);
    assert_string_equal(s.part, "headers");
    loki_extracted_destroy(ex);
}

/* ---- more formats and encodings ---- */

static void utf16_with_bom(void **st)
{
    (void)st;
    /* "Hé 😀\nx" in UTF-16 LE and BE with BOM */
    static const unsigned char le[] = {0xFF, 0xFE, 'H',  0,    0xE9, 0, ' ', 0,
                                       0x3D, 0xD8, 0x00, 0xDE, '\n', 0, 'x', 0};
    static const unsigned char be[] = {0xFE, 0xFF, 0,    'H',  0, 0xE9, 0, ' ',
                                       0xD8, 0x3D, 0xDE, 0x00, 0, '\n', 0, 'x'};
    const char *want = "H\xc3\xa9 \xf0\x9f\x98\x80\nx";
    for (int i = 0; i < 2; i++) {
        loki_extracted *ex = extract(i ? be : le, sizeof le, "a.txt", NULL);
        size_t len;
        assert_string_equal(loki_extracted_text(ex, &len), want);
        assert_int_equal(len, strlen(want));
        loki_location l = where(ex, "x");
        assert_int_equal(l.line, 2);
        assert_int_equal(l.column, 1);
        l = where(ex, " ");
        assert_int_equal(l.column, 3);
        loki_extracted_destroy(ex);
    }
    /* BOM-less UTF-16 LE is recognised by its zero bytes. */
    static const unsigned char nobom[] = {'H', 0, 'e', 0, 'l', 0, 'l', 0, 'o', 0, '!', 0};
    loki_extracted *ex = extract(nobom, sizeof nobom, NULL, NULL);
    assert_string_equal(loki_extracted_text(ex, NULL), "Hello!");
    loki_extracted_destroy(ex);
    /* UTF-16 HTML with BOM goes through the HTML extractor. */
    const char *h = "<html><body><p>A &amp; B</p><script>x</script></body></html>";
    size_t hn = strlen(h);
    unsigned char *u = malloc(2 * hn + 2);
    u[0] = 0xFF;
    u[1] = 0xFE;
    for (size_t i = 0; i < hn; i++) {
        u[2 + 2 * i] = (unsigned char)h[i];
        u[3 + 2 * i] = 0;
    }
    ex = extract(u, 2 * hn + 2, NULL, NULL);
    assert_int_equal(loki_extracted_format(ex), LOKI_FORMAT_HTML);
    assert_string_equal(loki_extracted_text(ex, NULL), "A & B\n");
    loki_extracted_destroy(ex);
    free(u);
}

static void text_encodings(void **st)
{
    (void)st;
    /* Not UTF-8: read as CP-1252. */
    loki_extracted *ex = extract("caf\xe9 \x80", 6, NULL, NULL);
    assert_string_equal(loki_extracted_text(ex, NULL), "caf\xc3\xa9 \xe2\x82\xac");
    loki_extracted_destroy(ex);
    /* A UTF-8 BOM is dropped; an empty document is fine. */
    ex = extract("\xef\xbb\xbfok", 5, NULL, NULL);
    assert_string_equal(loki_extracted_text(ex, NULL), "ok");
    loki_extracted_destroy(ex);
    ex = extract("", 0, NULL, NULL);
    size_t len = 99;
    assert_string_equal(loki_extracted_text(ex, &len), "");
    assert_int_equal(len, 0);
    loki_location l;
    assert_int_equal(loki_extracted_locate(ex, 0, &l), LOKI_OK);
    assert_int_equal(loki_extracted_locate(ex, 1, &l), LOKI_EINVAL);
    loki_extracted_destroy(ex);
    /* A forced format wins over sniffing. */
    loki_extract_options o;
    loki_extract_options_default(&o);
    o.format = LOKI_FORMAT_TEXT;
    ex = extract("<p>x</p>", 8, "a.html", &o);
    assert_string_equal(loki_extracted_text(ex, NULL), "<p>x</p>");
    loki_extracted_destroy(ex);
}

static void markdown_details(void **st)
{
    (void)st;
    const char *md = "Title\n=====\n\n"
                     "> quoted *text* and `code_span` and snake_case_name\n"
                     "1. first ![alt text](img.png) item\n"
                     "| a | b |\n|---|---|\n| c | d |\n"
                     "[ref]: https://example.com\n"
                     "see <https://example.com> and <b>bold</b> \\*literal\\*\n";
    loki_extracted *ex = extract(md, strlen(md), "x.md", NULL);
    const char *t = loki_extracted_text(ex, NULL);
    assert_string_equal(t, "Title\n\n\n"
                           "quoted text and code_span and snake_case_name\n"
                           "first alt text item\n"
                           "a\tb\n\nc\td\n"
                           "\n"
                           "see https://example.com and bold *literal*\n");
    loki_location l = where(ex, "code_span");
    assert_int_equal(l.line, 4);
    assert_int_equal(l.column, 22);
    l = where(ex, "d\n");
    assert_int_equal(l.line, 8);
    assert_int_equal(l.column, 7);
    loki_extracted_destroy(ex);
}

static void eml_details(void **st)
{
    (void)st;
    const char *eml =
        "From: a@b.c\n"
        "Subject: plain\n"
        "Content-Type: multipart/mixed; boundary=XX\n"
        "\n"
        "--XX\n"
        "Content-Type: text/plain; charset=iso-8859-1\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "Q2Fm6SBsaW5lIG9uZQpzZWNvbmQgbGluZQo=\n" /* "Caf\xe9 line one\nsecond line\n" */
        "--XX\n"
        "Content-Type: text/plain\n"
        "Content-Disposition: attachment; filename=x.txt\n"
        "\n"
        "attached text must not appear\n"
        "--XX\n"
        "Content-Type: text/html; charset=utf-8\n"
        "\n"
        "<p>html <b>part</b> &amp; more</p>\n"
        "--XX--\n";
    loki_extracted *ex = extract(eml, strlen(eml), "m.eml", NULL);
    const char *t = loki_extracted_text(ex, NULL);
    find(ex, "Caf\xc3\xa9 line one\nsecond line");
    assert_null(strstr(t, "attached"));
    loki_location l = where(ex, "html part & more");
    assert_int_equal(l.line, 18);
    assert_int_equal(l.column, 4);
    loki_extracted_destroy(ex);

    /* MIME nesting past the cap is refused. */
    loki_buf b;
    loki__buf_init(&b, 0);
    loki__buf_adds(&b, "From: a@b.c\nTo: c@d.e\n");
    for (int i = 0; i < 30; i++)
        loki__buf_printf(&b, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i);
    loki__buf_adds(&b, "\nhello\n");
    loki_error err;
    assert_int_equal(extract_err(b.p, b.len, NULL, NULL, &err), LOKI_ELIMIT);
    assert_non_null(strstr(err.message, "max_mime_depth"));
    loki__buf_release(&b);
}

/* ---- caps and malformed input ---- */

static void zip_bomb_rejected(void **st)
{
    (void)st;
    size_t big = (size_t)8 << 20;
    char *zeros = calloc(1, big + 64);
    memcpy(zeros, "<w:document " W_NS "><w:body>", strlen("<w:document " W_NS "><w:body>"));
    memset(zeros + 100, ' ', big - 100);
    const char *files[] = {"word/document.xml", zeros, NULL, NULL};
    size_t sizes[] = {big};
    blob d = make_zip(files, sizes);
    assert_true(d.n < big / 100);
    loki_error err;
    assert_int_equal(extract_err(d.p, d.n, "bomb.docx", NULL, &err), LOKI_ELIMIT);
    assert_non_null(strstr(err.message, "zip bomb"));
    assert_non_null(strstr(err.message, "max_compression_ratio"));
    /* With the ratio check off, the total-size cap stops it. */
    loki_extract_options o;
    loki_extract_options_default(&o);
    o.max_compression_ratio = 0;
    o.max_uncompressed_bytes = 1 << 20;
    assert_int_equal(extract_err(d.p, d.n, "bomb.docx", &o, &err), LOKI_ELIMIT);
    assert_non_null(strstr(err.message, "max_uncompressed_bytes"));
    /* Too many entries. */
    blob ok = make_docx();
    o.max_zip_entries = 2;
    assert_int_equal(extract_err(ok.p, ok.n, NULL, &o, &err), LOKI_ELIMIT);
    assert_non_null(strstr(err.message, "max_zip_entries"));
    blob_free(&ok);
    blob_free(&d);
    free(zeros);
}

static void malformed_rejected(void **st)
{
    (void)st;
    loki_error err;
    const char *bad_pdf = "%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >>\ngarbage\n";
    assert_int_equal(extract_err(bad_pdf, strlen(bad_pdf), "x.pdf", NULL, &err), LOKI_EPARSE);
    assert_non_null(strstr(err.message, "PDF"));
    /* Every truncation of a valid PDF: a clean answer, never a crash. */
    const char *pages[] = {"Hello " S1};
    blob pdf = make_pdf(pages, 1);
    for (size_t cut = 0; cut < pdf.n; cut += 37) {
        loki_status s = extract_err(pdf.p, cut, "x.pdf", NULL, &err);
        assert_true(s == LOKI_OK || s == LOKI_EPARSE || s == LOKI_EINVAL);
    }
    /* Truncated and corrupted zips. */
    blob d = make_docx();
    for (size_t cut = 4; cut < d.n; cut += 53) {
        loki_status s = extract_err(d.p, cut, "x.docx", NULL, &err);
        assert_true(s == LOKI_EPARSE || s == LOKI_EINVAL);
    }
    for (size_t i = 40; i < d.n; i += 97) {
        d.p[i] ^= 0x55;
        loki_status s = extract_err(d.p, d.n, "x.docx", NULL, &err);
        assert_true(s == LOKI_OK || s == LOKI_EPARSE || s == LOKI_EINVAL);
        d.p[i] ^= 0x55;
    }
    blob_free(&d);
    /* A DOCX whose XML is broken. */
    const char *files[] = {"word/document.xml", "<w:document " W_NS "><w:body><w:p>", NULL, NULL};
    d = make_zip(files, NULL);
    assert_int_equal(extract_err(d.p, d.n, NULL, NULL, &err), LOKI_EPARSE);
    assert_non_null(strstr(err.message, "word/document.xml"));
    blob_free(&d);
    /* A zip that is no DOCX, a legacy .doc, binary junk. */
    const char *other[] = {"a.txt", "hello", NULL, NULL};
    d = make_zip(other, NULL);
    assert_int_equal(extract_err(d.p, d.n, NULL, NULL, &err), LOKI_EINVAL);
    assert_non_null(strstr(err.message, "not a DOCX"));
    blob_free(&d);
    assert_int_equal(extract_err("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest", 12, "a.doc", NULL, &err),
                     LOKI_EINVAL);
    assert_non_null(strstr(err.message, ".doc"));
    assert_int_equal(extract_err("\x01\x02\x00\x00\x05", 5, NULL, NULL, &err), LOKI_EINVAL);
    blob_free(&pdf);
}

static void limits(void **st)
{
    (void)st;
    loki_error err;
    loki_extract_options o;
    loki_extract_options_default(&o);
    assert_int_equal(o.max_pdf_pages, 2000);
    const char *pages[] = {"one", "two", "three"};
    blob pdf = make_pdf(pages, 3);
    o.max_pdf_pages = 2;
    assert_int_equal(extract_err(pdf.p, pdf.n, NULL, &o, &err), LOKI_ELIMIT);
    assert_non_null(strstr(err.message, "max_pdf_pages"));
    blob_free(&pdf);
    loki_extract_options_default(&o);
    o.max_output_bytes = 10;
    assert_int_equal(extract_err(TXT, strlen(TXT), NULL, &o, &err), LOKI_ELIMIT);
    assert_non_null(strstr(err.message, "max_output_bytes"));
    assert_int_equal(extract_err(HTML, strlen(HTML), NULL, &o, &err), LOKI_ELIMIT);
    assert_int_equal(extract_err(MD, strlen(MD), NULL, &o, &err), LOKI_ELIMIT);
    assert_int_equal(extract_err(EML, strlen(EML), NULL, &o, &err), LOKI_ELIMIT);
    blob d = make_docx();
    assert_int_equal(extract_err(d.p, d.n, NULL, &o, &err), LOKI_ELIMIT);
    blob_free(&d);
    loki_extract_options_default(&o);
    o.max_input_bytes = 4;
    assert_int_equal(extract_err(TXT, strlen(TXT), NULL, &o, &err), LOKI_ELIMIT);
    assert_non_null(strstr(err.message, "max_input_bytes"));
    loki_extracted *ex = NULL;
    assert_int_equal(loki_extract(NULL, 3, NULL, NULL, &ex, &err), LOKI_EINVAL);
    assert_int_equal(loki_extract("x", 1, NULL, NULL, NULL, &err), LOKI_EINVAL);
    loki_extracted_destroy(NULL);
    assert_int_equal(loki_doc_format_parse("md"), LOKI_FORMAT_MARKDOWN);
    assert_int_equal(loki_doc_format_parse("PDF"), LOKI_FORMAT_PDF);
    assert_int_equal(loki_doc_format_parse("rtf"), -1);
}

/* Every allocation of ours failing in turn ends in LOKI_ENOMEM (or success), never a crash
 * or a leak. PDF is left out: poppler allocates through glib, which aborts on failure. */
static void alloc_failures(void **st)
{
    (void)st;
    blob d = make_docx();
    const struct {
        const char *p;
        size_t n;
    } docs[] = {
        {TXT, strlen(TXT)}, {HTML, strlen(HTML)}, {MD, strlen(MD)}, {EML, strlen(EML)}, {d.p, d.n}};
    for (size_t k = 0; k < sizeof docs / sizeof *docs; k++) {
        for (unsigned long n = 1; n < 10000; n++) {
            loki_extracted *ex = NULL;
            loki_error err;
            loki__alloc_fail_at(n);
            loki_status s = loki_extract(docs[k].p, docs[k].n, NULL, NULL, &ex, &err);
            loki__alloc_fail_at(0);
            if (s == LOKI_OK) {
                loki_extracted_destroy(ex);
                break;
            }
            if (s != LOKI_ENOMEM)
                fail_msg("doc %zu, allocation %lu: %s (%s)", k, n, loki_strerror(s), err.message);
            assert_null(ex);
        }
    }
    blob_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(golden_txt),
        cmocka_unit_test(golden_docx),
        cmocka_unit_test(golden_pdf),
        cmocka_unit_test(golden_html),
        cmocka_unit_test(golden_markdown),
        cmocka_unit_test(golden_eml),
        cmocka_unit_test(utf16_with_bom),
        cmocka_unit_test(text_encodings),
        cmocka_unit_test(markdown_details),
        cmocka_unit_test(eml_details),
        cmocka_unit_test(zip_bomb_rejected),
        cmocka_unit_test(malformed_rejected),
        cmocka_unit_test(limits),
        cmocka_unit_test(alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
