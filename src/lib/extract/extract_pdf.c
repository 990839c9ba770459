/* SPDX-License-Identifier: MIT */
/* PDF through poppler-glib: the text of each page in reading order, one page after the other,
 * each mapped to its page number (and the line within the page). The input buffer is lent to
 * poppler without a copy.
 *
 * poppler-glib is opened with dlopen() on the first PDF rather than linked: it pulls in about
 * 40 shared libraries (cairo, glib, fontconfig, NSS...) whose relocation was a third of every
 * `loki` start-up, and most runs never see a PDF. The headers still give the types. */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <poppler.h>

#include "extract_int.h"

#define POPPLER_SONAME "libpoppler-glib.so.8"

static struct {
    GBytes *(*bytes_new_static)(gconstpointer, gsize);
    void (*bytes_unref)(GBytes *);
    void (*object_unref)(gpointer);
    void (*error_free)(GError *);
    void (*g_free_)(gpointer);
    GQuark (*error_quark)(void);
    PopplerDocument *(*doc_new)(GBytes *, const char *, GError **);
    int (*n_pages)(PopplerDocument *);
    PopplerPage *(*get_page)(PopplerDocument *, int);
    char *(*page_text)(PopplerPage *);
    int ok;
    char why[256];
} P;
static pthread_once_t p_once = PTHREAD_ONCE_INIT;

static void p_load(void)
{
    void *h = dlopen(POPPLER_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(P.why, sizeof P.why, "%s", e ? e : "cannot be loaded");
        return;
    }
    /* dlsym() returns void *; POSIX guarantees the conversion to a function pointer works. */
#define SYM(field, name)                                                                      \
    do {                                                                                      \
        void *f_ = dlsym(h, name);                                                            \
        if (!f_) {                                                                            \
            snprintf(P.why, sizeof P.why, "%s has no %s", POPPLER_SONAME, name);             \
            return;                                                                           \
        }                                                                                     \
        memcpy(&P.field, &f_, sizeof f_);                                                     \
    } while (0)
    SYM(bytes_new_static, "g_bytes_new_static");
    SYM(bytes_unref, "g_bytes_unref");
    SYM(object_unref, "g_object_unref");
    SYM(error_free, "g_error_free");
    SYM(g_free_, "g_free");
    SYM(error_quark, "poppler_error_quark");
    SYM(doc_new, "poppler_document_new_from_bytes");
    SYM(n_pages, "poppler_document_get_n_pages");
    SYM(get_page, "poppler_document_get_page");
    SYM(page_text, "poppler_page_get_text");
#undef SYM
    P.ok = 1; /* the handle stays open for the life of the process */
}

static loki_status open_error(GError *ge, loki_error *err)
{
    loki_status st;
    if (ge && ge->domain == P.error_quark() && ge->code == POPPLER_ERROR_ENCRYPTED)
        st = loki__err(err, LOKI_EPARSE, "encrypted PDF: needs a password");
    else
        st = loki__err(err, LOKI_EPARSE, "malformed PDF: %s",
                       ge && ge->message ? ge->message : "cannot be opened");
    return st;
}

loki_status loki__extract_pdf(ex_emit *e, const char *p, size_t n, unsigned *pages, loki_error *err)
{
    GError *ge = NULL;
    loki_status st = LOKI_OK;
    *pages = 0;
    if (n > INT_MAX)
        return loki__err(err, LOKI_ELIMIT, "PDF larger than 2 GiB");
    pthread_once(&p_once, p_load);
    if (!P.ok)
        return loki__err(err, LOKI_EINTERNAL, "PDF support is not available (%s); install "
                         "the libpoppler-glib8 package", P.why);
    GBytes *bytes = P.bytes_new_static(p, n);
    PopplerDocument *doc = P.doc_new(bytes, NULL, &ge);
    if (!doc) {
        st = open_error(ge, err);
        goto out;
    }
    int np = P.n_pages(doc);
    if (np < 0 || (unsigned)np > e->o->max_pdf_pages) {
        st = loki__err(err, LOKI_ELIMIT, "PDF has %d pages, over max_pdf_pages (%u)", np,
                       e->o->max_pdf_pages);
        goto out_doc;
    }
    for (int i = 0; i < np && st == LOKI_OK; i++) {
        PopplerPage *page = P.get_page(doc, i);
        if (!page)
            continue; /* an unreadable page has no text; the others still count */
        char *t = P.page_text(page);
        loki__ex_unit(e, (uint32_t)i + 1);
        if (t && (loki__ex_put(e, t, strlen(t), 1, 1) || loki__ex_sep(e, '\n')))
            st = loki__ex_fail(e, err);
        P.g_free_(t);
        P.object_unref(page);
    }
    *pages = (unsigned)np;
out_doc:
    P.object_unref(doc);
out:
    if (ge)
        P.error_free(ge);
    P.bytes_unref(bytes);
    return st;
}
