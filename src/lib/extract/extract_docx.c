/* SPDX-License-Identifier: MIT */
/* DOCX: the zip is opened in memory with libzip and each text-bearing part (body, headers,
 * footers, footnotes, endnotes) is streamed through libxml2's reader, never inflated whole.
 * Inflation is metered against the uncompressed-size and ratio caps as it happens, so a zip
 * bomb is stopped by what it inflates, not by what its directory claims. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlreader.h>
#include <zip.h>

#include "extract_int.h"

/* Below this size a member's ratio is not checked: small XML compresses very well. */
#define RATIO_MIN_BYTES ((zip_uint64_t)1 << 20)

typedef struct docx {
    ex_emit *e;
    zip_t *z;
    const loki_extract_options *o;
    size_t inflated; /* over the whole archive */
    loki_status st;  /* first failure of a read callback */
    char msg[200];
} docx;

typedef struct member {
    docx *d;
    zip_file_t *f;
    const char *name;
    zip_uint64_t comp_size, read;
} member;

static void set_fail(docx *d, loki_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_fail(docx *d, loki_status st, const char *fmt, ...)
{
    va_list ap;
    if (d->st != LOKI_OK)
        return;
    d->st = st;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof d->msg, fmt, ap);
    va_end(ap);
}

static int member_read(void *ctx, char *buf, int len)
{
    member *m = ctx;
    docx *d = m->d;
    if (len <= 0)
        return 0;
    zip_int64_t r = zip_fread(m->f, buf, (zip_uint64_t)len);
    if (r < 0) {
        set_fail(d, LOKI_EPARSE, "DOCX member %s is corrupt: %s", m->name,
                 zip_error_strerror(zip_file_get_error(m->f)));
        return -1;
    }
    m->read += (zip_uint64_t)r;
    d->inflated += (size_t)r;
    if (d->inflated > d->o->max_uncompressed_bytes) {
        set_fail(d, LOKI_ELIMIT,
                 "DOCX inflates past max_uncompressed_bytes at %s (cap %llu bytes; zip bomb?)",
                 m->name, (unsigned long long)d->o->max_uncompressed_bytes);
        return -1;
    }
    if (m->read > RATIO_MIN_BYTES && d->o->max_compression_ratio &&
        m->read / (m->comp_size ? m->comp_size : 1) > d->o->max_compression_ratio) {
        set_fail(d, LOKI_ELIMIT, "DOCX member %s exceeds max_compression_ratio (%llu:1; zip bomb?)",
                 m->name, (unsigned long long)d->o->max_compression_ratio);
        return -1;
    }
    return (int)r;
}

static int member_close(void *ctx)
{
    (void)ctx;
    return 0;
}

static void xml_error(void *ud, xmlErrorPtr e)
{
    docx *d = ud;
    if (e && e->level >= XML_ERR_ERROR && d->st == LOKI_OK && !d->msg[0])
        snprintf(d->msg, sizeof d->msg, "line %d: %s", e->line,
                 e->message ? e->message : "malformed XML");
}

typedef struct walk {
    int in_t;
    uint32_t para;
} walk;

static int is_w(xmlTextReaderPtr r)
{
    const xmlChar *ns = xmlTextReaderConstNamespaceUri(r);
    return ns && (strstr((const char *)ns, "wordprocessingml") != NULL);
}

static int local_is(xmlTextReaderPtr r, const char *name)
{
    const xmlChar *l = xmlTextReaderConstLocalName(r);
    return l && strcmp((const char *)l, name) == 0;
}

/* One reader event. Returns -1 when the emitter failed. */
static int on_node(docx *d, xmlTextReaderPtr r, walk *w)
{
    ex_emit *e = d->e;
    int type = xmlTextReaderNodeType(r);
    if (type == XML_READER_TYPE_TEXT || type == XML_READER_TYPE_SIGNIFICANT_WHITESPACE ||
        type == XML_READER_TYPE_CDATA) {
        if (!w->in_t)
            return 0;
        const char *v = (const char *)xmlTextReaderConstValue(r);
        return v ? loki__ex_put_at(e, v, strlen(v), 0, 0) : 0;
    }
    if (type == XML_READER_TYPE_ELEMENT) {
        int empty = xmlTextReaderIsEmptyElement(r);
        const xmlChar *ns = xmlTextReaderConstNamespaceUri(r);
        if (local_is(r, "Fallback") && ns && strstr((const char *)ns, "markup-compatibility")) {
            /* mc:Fallback repeats mc:Choice's text (text boxes): read it once. */
            xmlTextReaderNext(r);
            return 1;
        }
        if (!is_w(r))
            return 0;
        if (local_is(r, "p")) {
            loki__ex_unit(e, ++w->para);
            if (empty)
                return loki__ex_sep(e, '\n');
        } else if (local_is(r, "t")) {
            w->in_t = !empty;
        } else if (local_is(r, "tab")) {
            return loki__ex_put_at(e, "\t", 1, 0, 0);
        } else if (local_is(r, "br") || local_is(r, "cr")) {
            return loki__ex_put_at(e, "\n", 1, 0, 0);
        } else if (local_is(r, "noBreakHyphen")) {
            return loki__ex_put_at(e, "-", 1, 0, 0);
        }
        return 0;
    }
    if (type == XML_READER_TYPE_END_ELEMENT && is_w(r)) {
        if (local_is(r, "t"))
            w->in_t = 0;
        else if (local_is(r, "p"))
            return loki__ex_sep(e, '\n');
        else if (local_is(r, "tc"))
            return loki__ex_sep(e, ' ');
    }
    return 0;
}

static loki_status read_part(docx *d, zip_uint64_t idx, const char *name, const char *part,
                             loki_error *err)
{
    zip_stat_t zs;
    member m = {.d = d, .name = name};
    xmlTextReaderPtr r = NULL;
    loki_status st = LOKI_OK;
    if (zip_stat_index(d->z, idx, 0, &zs) != 0)
        return loki__err(err, LOKI_EPARSE, "DOCX: cannot stat %s", name);
    m.comp_size = (zs.valid & ZIP_STAT_COMP_SIZE) ? zs.comp_size : 0;
    if ((zs.valid & ZIP_STAT_SIZE) && zs.size > d->o->max_uncompressed_bytes)
        return loki__err(err, LOKI_ELIMIT,
                         "DOCX member %s declares %llu bytes, over max_uncompressed_bytes "
                         "(%zu; zip bomb?)",
                         name, (unsigned long long)zs.size, d->o->max_uncompressed_bytes);
    if ((zs.valid & ZIP_STAT_SIZE) && zs.size > RATIO_MIN_BYTES && d->o->max_compression_ratio &&
        zs.size / (m.comp_size ? m.comp_size : 1) > d->o->max_compression_ratio)
        return loki__err(err, LOKI_ELIMIT,
                         "DOCX member %s has compression ratio %llu:1, over "
                         "max_compression_ratio (%u; zip bomb?)",
                         name, (unsigned long long)(zs.size / (m.comp_size ? m.comp_size : 1)),
                         d->o->max_compression_ratio);
    m.f = zip_fopen_index(d->z, idx, 0);
    if (!m.f)
        return loki__err(err, LOKI_EPARSE, "DOCX: cannot open %s: %s", name,
                         zip_error_strerror(zip_get_error(d->z)));
    if (loki__ex_part(d->e, part)) {
        st = loki__ex_fail(d->e, err);
        goto out_file;
    }
    d->msg[0] = '\0';
    r = xmlReaderForIO(member_read, member_close, &m, name, NULL,
                       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                           XML_PARSE_NOCDATA);
    if (!r) {
        st = loki__err(err, LOKI_ENOMEM, "out of memory creating the XML reader");
        goto out_file;
    }
    xmlTextReaderSetStructuredErrorHandler(r, xml_error, d);
    walk w = {0};
    int rc;
    while ((rc = xmlTextReaderRead(r)) == 1) {
        int k = on_node(d, r, &w);
        if (k < 0) {
            st = loki__ex_fail(d->e, err);
            goto out_reader;
        }
    }
    if (d->st != LOKI_OK)
        st = loki__err(err, d->st, "%s", d->msg);
    else if (rc < 0)
        st = loki__err(err, LOKI_EPARSE, "DOCX part %s is not well-formed XML: %s", name,
                       d->msg[0] ? d->msg : "parse error");
    else if (loki__ex_sep(d->e, '\n'))
        st = loki__ex_fail(d->e, err);
out_reader:
    xmlFreeTextReader(r);
out_file:
    zip_fclose(m.f);
    return st;
}

/* word/header3.xml -> "header3"; other names -> NULL. */
static int part_name(const char *name, const char *kind, char *out, size_t n)
{
    size_t kl = strlen(kind);
    if (strncmp(name, "word/", 5) != 0 || strncmp(name + 5, kind, kl) != 0)
        return 0;
    const char *rest = name + 5 + kl;
    size_t dl = strspn(rest, "0123456789");
    if (strcmp(rest + dl, ".xml") != 0)
        return 0;
    snprintf(out, n, "%s%.*s", kind, (int)dl, rest);
    return 1;
}

static loki_status read_all(docx *d, zip_int64_t n_entries, loki_error *err)
{
    static const char *const kinds[] = {"header", "footer", "footnotes", "endnotes", NULL};
    zip_int64_t body = zip_name_locate(d->z, "word/document.xml", 0);
    if (body < 0)
        return loki__err(err, LOKI_EINVAL,
                         "zip archive is not a DOCX (no word/document.xml); unsupported format");
    loki_status st = read_part(d, (zip_uint64_t)body, "word/document.xml", "body", err);
    /* Headers and footers after the body, in a stable order (by kind, then name). */
    for (size_t k = 0; kinds[k] && st == LOKI_OK; k++) {
        for (zip_int64_t i = 0; i < n_entries && st == LOKI_OK; i++) {
            const char *name = zip_get_name(d->z, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
            char part[64];
            if (name && part_name(name, kinds[k], part, sizeof part))
                st = read_part(d, (zip_uint64_t)i, name, part, err);
        }
    }
    return st;
}

loki_status loki__extract_docx(ex_emit *e, const char *p, size_t n, loki_error *err)
{
    zip_error_t ze;
    zip_source_t *src = NULL;
    docx d = {.e = e, .o = e->o};
    loki_status st;
    loki__ex_xml_init();
    zip_error_init(&ze);
    src = zip_source_buffer_create(p, n, 0, &ze);
    if (!src) {
        st = loki__err(err, LOKI_ENOMEM, "out of memory opening the DOCX");
        goto out;
    }
    d.z = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
    if (!d.z) {
        st = loki__err(err, LOKI_EPARSE, "malformed DOCX (zip): %s", zip_error_strerror(&ze));
        zip_source_free(src);
        goto out;
    }
    src = NULL; /* owned by the archive now */
    zip_int64_t n_entries = zip_get_num_entries(d.z, 0);
    if (n_entries < 0 || (zip_uint64_t)n_entries > e->o->max_zip_entries) {
        st = loki__err(err, LOKI_ELIMIT, "DOCX lists %lld entries, over max_zip_entries (%u)",
                       (long long)n_entries, e->o->max_zip_entries);
        goto out_zip;
    }
    st = read_all(&d, n_entries, err);
out_zip:
    zip_discard(d.z);
out:
    zip_error_fini(&ze);
    return st;
}
