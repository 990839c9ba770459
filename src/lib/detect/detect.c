/* SPDX-License-Identifier: MIT */
/*
 * loki__detect_all(): runs the PII scanner and the claim detectors and turns their results
 * into universal findings with located, masked spans. Also the cross-validation rules that
 * combine gate results, for the engine to call once gates are evaluated.
 */
#include <string.h>

#include "detect.h"
#include "detect_lex.h"

#define EXCERPT_MAX LOKI_SPAN_TEXT_MAX

static const char *const pii_message[LOKI_PII_N] = {
    [LOKI_PII_CARD] = "Payment card number (known issuer range, passes the Luhn check)",
    [LOKI_PII_IBAN] = "IBAN (valid country length and mod-97 check digits)",
    [LOKI_PII_NI] = "UK National Insurance number",
    [LOKI_PII_NHS] = "NHS number (passes the mod-11 check)",
    [LOKI_PII_SORT_ACCOUNT] = "UK bank sort code and account number",
    [LOKI_PII_SORT_CODE] = "UK bank sort code",
    [LOKI_PII_ACCOUNT] = "UK bank account number",
    [LOKI_PII_PASSPORT] = "UK passport number",
    [LOKI_PII_DRIVING] = "UK driving licence number (DVLA format)",
    [LOKI_PII_DOB] = "Date of birth",
    [LOKI_PII_EMAIL] = "E-mail address",
    [LOKI_PII_PHONE] = "UK telephone number",
    [LOKI_PII_IP] = "IP address",
    [LOKI_PII_POSTCODE] = "UK postcode",
};

static size_t utf8_cut(const char *t, size_t s, size_t e)
{
    return s + loki__utf8_excerpt_len(t + s, e - s, EXCERPT_MAX);
}

/* How many trailing alphanumerics of a value an excerpt keeps (the rest become '*'). */
static size_t keep_tail(loki_pii_type ty, int second)
{
    switch (ty) {
    case LOKI_PII_CARD:
    case LOKI_PII_IBAN:
    case LOKI_PII_ACCOUNT: return 4;
    case LOKI_PII_SORT_ACCOUNT: return second ? 4 : 0;
    case LOKI_PII_PHONE: return 2;
    default: return 0;
    }
}

/* The masked excerpt of a PII value: letters and digits starred, separators kept, a few
 * trailing characters kept for cards/accounts (as on a receipt), the domain kept for e-mail. */
static char *pii_excerpt(loki_arena *a, const char *t, size_t s, size_t e, loki_pii_type ty,
                         int second)
{
    e = utf8_cut(t, s, e);
    char *x = loki__arena_strndup(a, t + s, e - s);
    if (!x)
        return NULL;
    size_t n = e - s, keep = keep_tail(ty, second), alnum = 0;
    for (size_t i = 0; i < n; i++)
        alnum += lx_alnum(x[i]) != 0;
    size_t stop = n;
    if (ty == LOKI_PII_EMAIL) {
        const char *at = memchr(x, '@', n);
        stop = at ? (size_t)(at - x) : n;
    }
    size_t seen = 0;
    for (size_t i = 0; i < stop; i++) {
        if (!lx_alnum(x[i]))
            continue;
        seen++;
        if (ty == LOKI_PII_EMAIL && seen == 1)
            continue; /* j***@example.org */
        if (ty == LOKI_PII_IBAN && seen <= 2)
            continue; /* the country code */
        if (seen + keep > alnum)
            continue;
        x[i] = '*';
    }
    return x;
}

static int by_ext_end(const loki_pii *p, size_t off)
{
    size_t e = p->end2 > p->end ? p->end2 : p->end;
    return e > off;
}

/* Copies t[s, e) (cut to EXCERPT_MAX) with any PII inside starred. */
static char *plain_excerpt(loki_arena *a, const char *t, size_t s, size_t e, const loki_pii *pii,
                           size_t n_pii)
{
    e = utf8_cut(t, s, e);
    char *x = loki__arena_strndup(a, t + s, e - s);
    if (!x)
        return NULL;
    size_t lo = 0, hi = n_pii; /* first candidate that ends after s */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (by_ext_end(&pii[mid], s))
            hi = mid;
        else
            lo = mid + 1;
    }
    for (size_t k = lo; k < n_pii && pii[k].start < e; k++) {
        size_t r[2][2] = {{pii[k].start, pii[k].end}, {pii[k].start2, pii[k].end2}};
        for (int j = 0; j < 2; j++)
            for (size_t i = r[j][0]; i < r[j][1]; i++)
                if (i >= s && i < e && lx_alnum(t[i]))
                    x[i - s] = '*';
    }
    return x;
}

static void locate(const loki_posmap *pm, const char *t, loki_span *sp, size_t s, size_t e)
{
    sp->start = s;
    sp->end = e;
    loki__posmap_locate(pm, s, &sp->line, &sp->column, &sp->char_start);
    /* A span is short: counting its code points beats a second lookup, which counts from a
     * checkpoint up to LOKI_POS_STEP bytes back. */
    if (e - s <= LOKI_POS_STEP) {
        size_t cp = 0;
        for (size_t i = s; i < e; i++)
            cp += ((unsigned char)t[i] & 0xC0) != 0x80;
        sp->char_end = sp->char_start + cp;
    } else {
        loki__posmap_locate(pm, e, NULL, NULL, &sp->char_end);
    }
}

typedef struct ctx {
    const loki_detect_input *in;
    const loki_posmap *pm;
    const loki_pii *pii;
    size_t n_pii;
} ctx;

static loki_status pii_finding(const ctx *c, const loki_pii *p, loki_universal_finding *f)
{
    loki_arena *a = c->in->arena;
    size_t ns = p->type == LOKI_PII_SORT_ACCOUNT ? 2 : 1;
    loki_span *sp = loki__arena_array(a, ns, sizeof *sp);
    if (!sp)
        return LOKI_ENOMEM;
    for (size_t k = 0; k < ns; k++) {
        size_t s = k ? p->start2 : p->start, e = k ? p->end2 : p->end;
        locate(c->pm, c->in->text, &sp[k], s, e);
        char *x = pii_excerpt(a, c->in->text, s, e, p->type, (int)k);
        if (!x)
            return LOKI_ENOMEM;
        sp[k].text = x;
        sp[k].text_len = strlen(x);
        sp[k].label = p->type == LOKI_PII_SORT_ACCOUNT ? (k ? "account_number" : "sort_code")
                                                       : loki__pii_type_name(p->type);
    }
    f->detector = "pii";
    f->type = loki__pii_type_name(p->type);
    f->severity = loki__pii_severity(p, c->in->doc_type);
    f->status = f->severity >= LOKI_SEV_HIGH ? LOKI_FAIL : LOKI_WARNING;
    f->confidence = p->confidence;
    f->message = pii_message[p->type];
    f->suggestion = "Remove or redact the personal data (loki redact) unless it must be there.";
    f->n_spans = ns;
    f->spans = sp;
    return LOKI_OK;
}

static loki_status claim_finding(const ctx *c, const loki_claim_hit *h, loki_universal_finding *f)
{
    loki_arena *a = c->in->arena;
    unsigned cap = c->in->max_spans ? c->in->max_spans : 50;
    size_t ns = h->n_ranges < cap ? h->n_ranges : cap;
    loki_span *sp = ns ? loki__arena_array(a, ns, sizeof *sp) : NULL;
    if (ns && !sp)
        return LOKI_ENOMEM;
    for (size_t k = 0; k < ns; k++) {
        size_t s = h->range[k][0], e = h->range[k][1];
        locate(c->pm, c->in->text, &sp[k], s, e);
        char *x = plain_excerpt(a, c->in->text, s, e, c->pii, c->n_pii);
        if (!x)
            return LOKI_ENOMEM;
        sp[k].text = x;
        sp[k].text_len = strlen(x);
        sp[k].label = h->range_label[k];
    }
    f->detector = h->detector;
    f->type = h->type;
    f->status = h->status;
    f->severity = h->severity;
    f->confidence = h->confidence;
    f->message = h->message;
    f->suggestion = h->suggestion;
    f->n_spans = ns;
    f->spans = sp;
    return LOKI_OK;
}

/* Cross-validation that needs no gate: sensitive identifiers in an invoice. */
static int invoice_pii(const ctx *c, loki_universal_finding *f)
{
    int card = 0, other = 0;
    for (size_t k = 0; k < c->n_pii; k++) {
        if (c->pii[k].confidence < 0.5)
            continue;
        card |= c->pii[k].type == LOKI_PII_CARD;
        other |= c->pii[k].type == LOKI_PII_NI || c->pii[k].type == LOKI_PII_NHS;
    }
    if (!card && !other)
        return 0; /* before looking for the word, which costs a pass over the text */
    int invoice = c->in->doc_type && strcmp(c->in->doc_type, "invoice") == 0;
    for (size_t i = 0; !invoice && i < c->in->len; i++)
        if ((c->in->text[i] | 0x20) == 'i' && lx_word_start(c->in->text, i) &&
            loki__lx_phrase_at(c->in->text, c->in->len, i, "invoice"))
            invoice = 1;
    if (!invoice)
        return 0;
    memset(f, 0, sizeof *f);
    f->detector = "cross_validation";
    f->type = "sensitive_pii_in_invoice";
    f->status = LOKI_FAIL;
    f->severity = card ? LOKI_SEV_CRITICAL : LOKI_SEV_HIGH;
    f->confidence = 0.8;
    f->message = card ? "An invoice contains a payment card number"
                      : "An invoice contains a National Insurance or NHS number";
    f->suggestion = "Invoices must not carry card numbers (PCI DSS) or personal identifiers.";
    return 1;
}

loki_status loki__detect_all(const loki_detect_input *in, loki_universal_finding **out, size_t *n,
                             loki_error *err)
{
    loki_pii *pii = NULL;
    loki_claim_hit *hits = NULL;
    size_t n_pii = 0, n_hits = 0, cap_hits = 0;
    loki_posmap own;
    int have_own = 0;
    loki_detect_input in2 = *in;
    if (!in2.doc_type)
        in2.doc_type = "unknown";
    *out = NULL;
    *n = 0;
    loki_status st = loki__pii_scan(in->text, in->len, &pii, &n_pii);
    if (st == LOKI_OK)
        st = loki__claims_scan(in->text, in->len, in2.doc_type, in->arena, &hits, &n_hits,
                               &cap_hits);
    if (st != LOKI_OK)
        goto out;
    const loki_posmap *pm = in->pm;
    if (!pm) {
        if (loki__posmap_init(&own, in->text, in->len)) {
            st = LOKI_ENOMEM;
            goto out;
        }
        have_own = 1;
        pm = &own;
    }
    size_t total = n_hits + 1;
    for (size_t k = 0; k < n_pii; k++)
        total += pii[k].confidence >= LOKI_DETECT_MIN_CONFIDENCE;
    if (total > LOKI_DETECT_MAX_FINDINGS)
        total = LOKI_DETECT_MAX_FINDINGS;
    loki_universal_finding *fs = loki__arena_array(in->arena, total, sizeof *fs);
    if (!fs) {
        st = LOKI_ENOMEM;
        goto out;
    }
    ctx c = {.in = &in2, .pm = pm, .pii = pii, .n_pii = n_pii};
    size_t nf = 0;
    /* Claim findings and the cross-validation slot are reserved first, so a flood of PII
     * never crowds them out. */
    size_t pii_room = total - (n_hits + 1 < total ? n_hits + 1 : total);
    for (size_t k = 0; k < n_pii && nf < pii_room && st == LOKI_OK; k++)
        if (pii[k].confidence >= LOKI_DETECT_MIN_CONFIDENCE)
            st = pii_finding(&c, &pii[k], &fs[nf++]);
    for (size_t k = 0; k < n_hits && nf < total && st == LOKI_OK; k++)
        st = claim_finding(&c, &hits[k], &fs[nf++]);
    if (st == LOKI_OK && nf < total && invoice_pii(&c, &fs[nf]))
        nf++;
    if (st == LOKI_OK) {
        *out = fs;
        *n = nf;
    }
out:
    if (have_own)
        loki__posmap_release(&own);
    loki__free(pii);
    loki__free(hits);
    if (st != LOKI_OK)
        return loki__err(err, st, "universal detectors: %s", loki_strerror(st));
    return LOKI_OK;
}

/* ---- cross-validation over gate results ---- */

static const struct cross_rule {
    const char *id;
    loki_severity severity;
    const char *message;
    const char *m1, *g1;
    loki_gate_status s1;
    const char *m2, *g2;
    loki_gate_status s2;
} cross_rules[] = {
    {"invoice_consistency_failure", LOKI_SEV_CRITICAL,
     "VAT invoice integrity and invoice legal requirements both fail", "tax_uk",
     "vat_invoice_integrity", LOKI_FAIL, "tax_uk", "invoice_legal_requirements", LOKI_FAIL},
    {"gdpr_automation_rights_gap", LOKI_SEV_CRITICAL,
     "Automated decision-making without the data-subject rights that must accompany it", "gdpr_uk",
     "automated_decisions", LOKI_FAIL, "gdpr_uk", "rights", LOKI_FAIL},
    {"nda_hr_conflict", LOKI_SEV_HIGH,
     "The NDA gags whistleblowing while the HR confidentiality terms pass", "nda_uk",
     "protected_whistleblowing", LOKI_FAIL, "hr_scottish", "confidentiality", LOKI_PASS},
    {"gdpr_breach_without_notification", LOKI_SEV_CRITICAL,
     "Weak security measures and no breach-notification procedure", "gdpr_uk",
     "breach_notification", LOKI_FAIL, "gdpr_uk", "security", LOKI_FAIL},
};

size_t loki__detect_cross(loki_gate_lookup lookup, void *cx, loki_universal_finding *out,
                          size_t out_cap)
{
    size_t n = 0;
    for (size_t k = 0; k < sizeof cross_rules / sizeof cross_rules[0] && n < out_cap; k++) {
        const struct cross_rule *r = &cross_rules[k];
        if (lookup(cx, r->m1, r->g1) != r->s1 || lookup(cx, r->m2, r->g2) != r->s2)
            continue;
        loki_universal_finding *f = &out[n++];
        memset(f, 0, sizeof *f);
        f->detector = "cross_validation";
        f->type = r->id;
        f->status = LOKI_FAIL;
        f->severity = r->severity;
        f->confidence = 0.9;
        f->message = r->message;
    }
    return n;
}
