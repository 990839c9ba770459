/* SPDX-License-Identifier: MIT */
/* PDF through poppler-glib: the text of each page in reading order, one page after the other,
 * each mapped to its page number (and the line within the page). The input buffer is lent to
 * poppler without a copy. */
#include <limits.h>
#include <string.h>

#include <poppler.h>

#include "extract_int.h"

static loki_status open_error(GError *ge, loki_error *err)
{
    loki_status st;
    if (ge && ge->domain == POPPLER_ERROR && ge->code == POPPLER_ERROR_ENCRYPTED)
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
    GBytes *bytes = g_bytes_new_static(p, n);
    PopplerDocument *doc = poppler_document_new_from_bytes(bytes, NULL, &ge);
    if (!doc) {
        st = open_error(ge, err);
        goto out;
    }
    int np = poppler_document_get_n_pages(doc);
    if (np < 0 || (unsigned)np > e->o->max_pdf_pages) {
        st = loki__err(err, LOKI_ELIMIT, "PDF has %d pages, over max_pdf_pages (%u)", np,
                       e->o->max_pdf_pages);
        goto out_doc;
    }
    for (int i = 0; i < np && st == LOKI_OK; i++) {
        PopplerPage *page = poppler_document_get_page(doc, i);
        if (!page)
            continue; /* an unreadable page has no text; the others still count */
        char *t = poppler_page_get_text(page);
        loki__ex_unit(e, (uint32_t)i + 1);
        if (t && (loki__ex_put(e, t, strlen(t), 1, 1) || loki__ex_sep(e, '\n')))
            st = loki__ex_fail(e, err);
        g_free(t);
        g_object_unref(page);
    }
    *pages = (unsigned)np;
out_doc:
    g_object_unref(doc);
out:
    if (ge)
        g_error_free(ge);
    g_bytes_unref(bytes);
    return st;
}
