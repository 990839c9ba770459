/* SPDX-License-Identifier: MIT */
/* Checking one document for the server: argument validation with helpful errors, the verdict
 * cache (key = SHA-256 over text, type, sorted modules, options, ruleset fingerprint and
 * engine version, so a rule change never serves an old verdict), the engine call, and the
 * summary the audit log and LOKI's {validation, risk} shape need. */
#include <stdlib.h>
#include <string.h>

#include "server.h"

static void fail(vres *r, unsigned status, const char *code, const char *msg)
{
    r->status = status;
    snprintf(r->code, sizeof r->code, "%s", code);
    snprintf(r->msg, sizeof r->msg, "%s", msg);
}

int srv_check_modules(srv *s, const vreq *q, vres *r)
{
    for (size_t i = 0; i < q->n_modules; i++) {
        if (loki_engine_find_module(s->eng, q->modules[i]))
            continue;
        sbuf b;
        sbuf_init(&b);
        sbuf_printf(&b, "unknown module '%.100s'; valid modules: ", q->modules[i]);
        for (size_t k = 0; k < loki_engine_module_count(s->eng); k++)
            sbuf_printf(&b, "%s%s", k ? ", " : "", loki_engine_module(s->eng, k)->id);
        fail(r, 400, "unknown_module", b.p ? b.p : "unknown module");
        sbuf_release(&b);
        return -1;
    }
    if (q->doc_type && !loki_document_type_valid(q->doc_type)) {
        sbuf b;
        sbuf_init(&b);
        sbuf_printf(&b, "unknown document_type '%.100s'; valid types: ", q->doc_type);
        const char *const *t = loki_document_types();
        for (size_t k = 0; t[k]; k++)
            sbuf_printf(&b, "%s%s", k ? ", " : "", t[k]);
        fail(r, 400, "unknown_document_type", b.p ? b.p : "unknown document type");
        sbuf_release(&b);
        return -1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void cache_key(srv *s, const vreq *q, uint8_t key[32])
{
    const char *mods[SRV_MAX_MODULES];
    memcpy(mods, q->modules, q->n_modules * sizeof *mods);
    qsort(mods, q->n_modules, sizeof *mods, cmp_str);
    sbuf b;
    sbuf_init(&b);
    uint8_t text_sha[32];
    srv_sha256(q->text, q->len, text_sha);
    sbuf_put(&b, (const char *)text_sha, 32);
    sbuf_printf(&b, "\n%s\n", q->doc_type ? q->doc_type : "unknown");
    for (size_t i = 0; i < q->n_modules; i++)
        sbuf_printf(&b, "%s,", mods[i]);
    sbuf_printf(&b, "\n%d %u\n%s\n%s", q->no_universal, q->json_flags, s->fingerprint,
                loki_version());
    srv_sha256(b.p ? b.p : "", b.len, key);
    sbuf_release(&b);
}

static void summarize(const loki_verdict *v, srv_summary *sum)
{
    memset(sum, 0, sizeof *sum);
    memcpy(sum->doc_sha256, v->document_hash, sizeof sum->doc_sha256);
    sum->doc_bytes = v->document_bytes;
    sum->risk = v->overall_risk;
    memcpy(sum->fail_by_sev, v->fail_by_severity, sizeof sum->fail_by_sev);
    memcpy(sum->warn_by_sev, v->warning_by_severity, sizeof sum->warn_by_sev);
    sum->n_universal = (unsigned)v->n_universal;
    for (size_t i = 0; i < v->n_modules; i++) {
        const loki_module_result *m = &v->modules[i];
        for (int k = 0; k < 5; k++)
            sum->by_status[k] += m->summary[k];
        if (sum->n_mod < SRV_MAX_MODULES) {
            sum->mod_id[sum->n_mod] = m->module->id;
            sum->mod_fail[sum->n_mod] = m->summary[LOKI_FAIL];
            sum->mod_warn[sum->n_mod] = m->summary[LOKI_WARNING];
            sum->n_mod++;
        }
    }
    sum->scan_ms = v->scan_ms;
    sum->evaluate_ms = v->evaluate_ms;
    sum->detect_ms = v->detect_ms;
    sum->total_ms = v->total_ms;
}

static void engine_error(vres *r, loki_status st, const loki_error *err)
{
    char msg[900];
    switch (st) {
    case LOKI_EENCODING:
        snprintf(msg, sizeof msg, "text is not valid UTF-8 (or contains a NUL byte) at byte %zu "
                 "(line %u, column %u)", err->offset, err->line, err->column);
        fail(r, 400, "invalid_utf8", msg);
        break;
    case LOKI_ELIMIT:
        fail(r, 413, "document_too_large", err->message[0] ? err->message : "document too large");
        break;
    case LOKI_EINVAL:
        fail(r, 400, "invalid_argument", err->message[0] ? err->message : loki_strerror(st));
        break;
    case LOKI_ENOMEM:
        fail(r, 503, "out_of_memory", "out of memory; try again");
        break;
    default:
        snprintf(msg, sizeof msg, "%s: %s", loki_strerror(st), err->message);
        fail(r, 500, "internal", msg);
        break;
    }
}

static void count_verdict(srv *s, const srv_summary *sum)
{
    atomic_fetch_add_explicit(&s->m.validations[sum->risk & 3], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->m.doc_bytes, sum->doc_bytes, memory_order_relaxed);
}

void srv_validate(srv *s, const vreq *q, vres *r)
{
    memset(r, 0, sizeof *r);
    uint8_t key[32];
    if (srv_check_modules(s, q, r) != 0)
        goto counted_error;
    if (s->cache) {
        cache_key(s, q, key);
        if (vcache_get(s->cache, key, s->now(), &r->json, &r->len, &r->sum)) {
            r->status = 200;
            r->cache_hit = 1;
            count_verdict(s, &r->sum);
            return;
        }
    }
    loki_check_options o;
    loki_check_options_default(&o);
    o.document_type = q->doc_type;
    o.modules = q->n_modules ? q->modules : NULL;
    o.n_modules = q->n_modules;
    o.no_universal = q->no_universal;
    loki_verdict *v = NULL;
    loki_error err;
    memset(&err, 0, sizeof err);
    double t0 = s->now();
    loki_status st = loki_check(s->eng, q->text, q->len, &o, &v, &err);
    if (st != LOKI_OK) {
        engine_error(r, st, &err);
        goto counted_error;
    }
    srv_hist_observe(&s->m.check_seconds, s->now() - t0);
    st = loki_verdict_to_json(v, q->json_flags, &r->json, &r->len);
    if (st != LOKI_OK) {
        loki_verdict_destroy(v);
        engine_error(r, st, &err);
        goto counted_error;
    }
    summarize(v, &r->sum);
    loki_verdict_destroy(v);
    srv_metrics *m = &s->m;
    atomic_fetch_add_explicit(&m->scan_us, (uint64_t)(r->sum.scan_ms * 1000), memory_order_relaxed);
    atomic_fetch_add_explicit(&m->evaluate_us, (uint64_t)(r->sum.evaluate_ms * 1000),
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&m->detect_us, (uint64_t)(r->sum.detect_ms * 1000),
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&m->total_us, (uint64_t)(r->sum.total_ms * 1000),
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&m->checks, 1, memory_order_relaxed);
    r->status = 200;
    count_verdict(s, &r->sum);
    if (s->cache)
        vcache_put(s->cache, key, r->json, r->len, &r->sum, s->now());
    return;
counted_error:
    atomic_fetch_add_explicit(&s->m.validation_errors, 1, memory_order_relaxed);
}

void srv_risk_json(sbuf *b, const srv_summary *sum)
{
    static const char *sev[5] = {"none", "low", "medium", "high", "critical"};
    sbuf_printf(b, "{\"overall_risk\":\"%s\",\"fail_by_severity\":{", loki_risk_name(sum->risk));
    for (int i = 1; i < 5; i++)
        sbuf_printf(b, "%s\"%s\":%u", i > 1 ? "," : "", sev[i], sum->fail_by_sev[i]);
    sbuf_puts(b, "},\"warning_by_severity\":{");
    for (int i = 1; i < 5; i++)
        sbuf_printf(b, "%s\"%s\":%u", i > 1 ? "," : "", sev[i], sum->warn_by_sev[i]);
    sbuf_printf(b,
                "},\"gates\":{\"pass\":%u,\"fail\":%u,\"warning\":%u,\"na\":%u,\"error\":%u},"
                "\"universal_findings\":%u}",
                sum->by_status[LOKI_PASS], sum->by_status[LOKI_FAIL],
                sum->by_status[LOKI_WARNING], sum->by_status[LOKI_NA],
                sum->by_status[LOKI_ERROR], sum->n_universal);
}

char *srv_loki_shape(const vres *r, size_t *len)
{
    sbuf b;
    sbuf_init(&b);
    sbuf_puts(&b, "{\"validation\":");
    sbuf_put(&b, r->json, r->len);
    sbuf_puts(&b, ",\"risk\":");
    srv_risk_json(&b, &r->sum);
    sbuf_puts(&b, "}");
    return sbuf_take(&b, len);
}

int srv_catalog_init(srv *s)
{
    sbuf m, g;
    sbuf_init(&m);
    sbuf_init(&g);
    size_t n = loki_engine_module_count(s->eng), total = 0;
    sbuf_puts(&m, "{\"modules\":[");
    sbuf_puts(&g, "{\"gates\":[");
    for (size_t i = 0; i < n; i++) {
        const loki_module_info *mi = loki_engine_module(s->eng, i);
        sbuf_puts(&m, i ? ",{\"id\":" : "{\"id\":");
        sbuf_json_str(&m, mi->id);
        sbuf_puts(&m, ",\"name\":");
        sbuf_json_str(&m, mi->name);
        sbuf_puts(&m, ",\"version\":");
        sbuf_json_str(&m, mi->version);
        sbuf_puts(&m, ",\"description\":");
        sbuf_json_str(&m, mi->description);
        sbuf_printf(&m, ",\"gates\":%zu,\"applies_to\":[", mi->n_gates);
        for (size_t k = 0; k < mi->n_applies_to; k++) {
            if (k)
                sbuf_puts(&m, ",");
            sbuf_json_str(&m, mi->applies_to[k]);
        }
        sbuf_puts(&m, "]}");
        for (size_t k = 0; k < mi->n_gates; k++, total++) {
            const loki_gate_info *gi = mi->gates[k];
            sbuf_puts(&g, total ? ",{\"module\":" : "{\"module\":");
            sbuf_json_str(&g, mi->id);
            sbuf_puts(&g, ",\"id\":");
            sbuf_json_str(&g, gi->id);
            sbuf_puts(&g, ",\"title\":");
            sbuf_json_str(&g, gi->title);
            sbuf_printf(&g, ",\"severity\":\"%s\",\"legal_source\":",
                        loki_severity_name(gi->severity));
            sbuf_json_str(&g, gi->legal_source);
            sbuf_puts(&g, "}");
        }
    }
    sbuf_printf(&m, "],\"count\":%zu}", n);
    sbuf_printf(&g, "],\"count\":%zu}", total);
    s->modules_json = sbuf_take(&m, NULL);
    s->gates_json = sbuf_take(&g, NULL);
    return s->modules_json && s->gates_json ? 0 : -1;
}
