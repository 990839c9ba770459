/* SPDX-License-Identifier: MIT */
/* loki_redact(): the text with every PII value (at or above a confidence) masked. Uses the
 * same scanner as the universal detectors, so what a verdict reports is what gets masked. */
#include <stdlib.h>
#include <string.h>

#include "detect.h"

/* The same cap as a checked document's default. */
#define REDACT_MAX_BYTES ((size_t)256u << 20)

void loki_redact_options_default(loki_redact_options *o)
{
    memset(o, 0, sizeof *o);
    o->style = LOKI_MASK_STARS;
    o->min_confidence = 0.5;
}

static int mask_range(loki_buf *b, const char *t, size_t s, size_t e, loki_mask_style style,
                      const char *label)
{
    if (style == LOKI_MASK_TYPE)
        return loki__buf_addc(b, '[') || loki__buf_adds(b, label) || loki__buf_addc(b, ']');
    size_t keep = style == LOKI_MASK_PARTIAL ? 4 : 0;
    for (size_t i = s; i < e; i++)
        if (loki__buf_addc(b, i + keep >= e ? t[i] : '*'))
            return -1;
    return 0;
}

loki_status loki_redact(const char *text, size_t len, const loki_redact_options *opts, char **out,
                        size_t *out_len, size_t *n_masked, loki_error *err)
{
    loki_redact_options def;
    loki_pii *pii = NULL;
    size_t n_pii = 0, masked = 0;
    loki_buf b;
    loki__buf_init(&b, 0);
    loki__err_clear(err);
    if (out)
        *out = NULL;
    if (!out || (!text && len))
        return loki__err(err, LOKI_EINVAL, "loki_redact: text and out are required");
    if (!opts) {
        loki_redact_options_default(&def);
        opts = &def;
    }
    if ((unsigned)opts->style > LOKI_MASK_PARTIAL)
        return loki__err(err, LOKI_EINVAL, "loki_redact: unknown mask style %d", (int)opts->style);
    if (opts->document_type && !loki_document_type_valid(opts->document_type))
        return loki__err(err, LOKI_EINVAL, "unknown document type '%s'", opts->document_type);
    if (len > REDACT_MAX_BYTES)
        return loki__err(err, LOKI_ELIMIT, "text is larger than %zu bytes", REDACT_MAX_BYTES);
    if (!text)
        text = "";
    const char *why = NULL;
    size_t bad = loki__utf8_check(text, len, &why);
    if (bad < len) {
        unsigned line, col;
        loki__locate_linear(text, bad, &line, &col);
        loki_status st = loki__err_at(err, LOKI_EENCODING, NULL, line, col, "%s at byte %zu",
                                      why ? why : "invalid UTF-8", bad);
        if (err)
            err->offset = bad;
        return st;
    }
    loki_status st = loki__pii_scan(text, len, &pii, &n_pii);
    if (st != LOKI_OK)
        goto out;
    if (loki__buf_reserve(&b, len + 1)) {
        st = LOKI_ENOMEM;
        goto out;
    }
    size_t at = 0;
    for (size_t k = 0; k < n_pii; k++) {
        const loki_pii *p = &pii[k];
        if (p->confidence < opts->min_confidence)
            continue;
        size_t r[2][2] = {{p->start, p->end}, {p->start2, p->end2}};
        for (int j = 0; j < 2; j++) {
            if (r[j][1] <= r[j][0])
                continue;
            if (loki__buf_add(&b, text + at, r[j][0] - at) ||
                mask_range(&b, text, r[j][0], r[j][1], opts->style, loki__pii_label(p->type, j))) {
                st = LOKI_ENOMEM;
                goto out;
            }
            at = r[j][1];
        }
        masked++;
    }
    if (loki__buf_add(&b, text + at, len - at)) {
        st = LOKI_ENOMEM;
        goto out;
    }
    *out = b.p;
    if (out_len)
        *out_len = b.len;
    b.p = NULL;
out:
    loki__free(pii);
    loki__buf_release(&b);
    if (n_masked)
        *n_masked = st == LOKI_OK ? masked : 0;
    if (st != LOKI_OK)
        return loki__err(err, st, "redaction: %s", loki_strerror(st));
    return LOKI_OK;
}
