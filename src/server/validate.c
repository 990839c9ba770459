/* SPDX-License-Identifier: MIT */
/* Checking one document for the server: argument validation with helpful errors, the verdict
 * cache (key = SHA-256 over text, type, sorted modules, options, ruleset fingerprint and
 * engine version, so a rule change never serves an old verdict), the engine call, and the
 * summary the audit log and LOKI's {validation, risk} shape need. */
#include <stdlib.h>
#include <string.h>

#include "loki/cache.h"
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

static void cache_key(srv *s, const vreq *q, char key[65])
{
    char extra[64];
    int n = snprintf(extra, sizeof extra, "no_universal=%d json=%u gen=%llu", q->no_universal,
                     q->json_flags, (unsigned long long)atomic_load(&s->cache_gen));
    loki_cache_key_parts kp = {.text = q->text,
                               .text_len = q->len,
                               .document_type = q->doc_type,
                               .modules = q->modules,
                               .n_modules = q->n_modules,
                               .ruleset_fingerprint = s->fingerprint,
                               .engine_version = loki_version(),
                               .extra = extra,
                               .extra_len = n > 0 ? (size_t)n : 0};
    if (loki_cache_key_build(&kp, key) != LOKI_OK)
        key[0] = '\0';
}

/*
 * A cached value is one header line with the summary, then the verdict JSON. The summary
 * travels as text (module ids, not pointers) so a value written by another instance through
 * Redis decodes here too.
 */
static char *encode(const vres *r, size_t *len)
{
    const srv_summary *m = &r->sum;
    sbuf b;
    sbuf_init(&b);
    sbuf_printf(&b, "L1 %s %zu %d %u %.4f %.4f %.4f %.4f", m->doc_sha256, m->doc_bytes,
                (int)m->risk, m->n_universal, m->scan_ms, m->evaluate_ms, m->detect_ms,
                m->total_ms);
    for (int i = 0; i < 5; i++)
        sbuf_printf(&b, " %u %u %u", m->by_status[i], m->fail_by_sev[i], m->warn_by_sev[i]);
    for (size_t i = 0; i < m->n_mod; i++)
        sbuf_printf(&b, " %s:%u:%u", m->mod_id[i], m->mod_fail[i], m->mod_warn[i]);
    sbuf_puts(&b, "\n");
    sbuf_put(&b, r->json, r->len);
    return sbuf_take(&b, len);
}

/* Decodes a cached value in place: on success r->json owns `val` (JSON moved to the front). */
static int decode(srv *s, char *val, size_t len, vres *r)
{
    char *nl = memchr(val, '\n', len);
    if (!nl || strncmp(val, "L1 ", 3) != 0)
        return -1;
    *nl = '\0';
    srv_summary *m = &r->sum;
    memset(m, 0, sizeof *m);
    int risk = 0, pos = 0;
    if (sscanf(val + 3, "%64s %zu %d %u %lf %lf %lf %lf%n", m->doc_sha256, &m->doc_bytes, &risk,
               &m->n_universal, &m->scan_ms, &m->evaluate_ms, &m->detect_ms, &m->total_ms,
               &pos) != 8 || risk < 0 || risk > 3)
        return -1;
    m->risk = (loki_risk)risk;
    char *p = val + 3 + pos, *end;
    for (int i = 0; i < 5; i++) {
        m->by_status[i] = (unsigned)strtoul(p, &end, 10);
        m->fail_by_sev[i] = (unsigned)strtoul(end, &end, 10);
        m->warn_by_sev[i] = (unsigned)strtoul(end, &p, 10);
    }
    char *save = NULL;
    for (char *t = strtok_r(p, " ", &save); t && m->n_mod < SRV_MAX_MODULES;
         t = strtok_r(NULL, " ", &save)) {
        char *c1 = strchr(t, ':');
        if (!c1)
            return -1;
        *c1 = '\0';
        const loki_module_info *mi = loki_engine_find_module(s->eng, t);
        if (!mi)
            return -1; /* written by an engine with other packs: treat as a miss */
        m->mod_id[m->n_mod] = mi->id;
        m->mod_fail[m->n_mod] = (unsigned)strtoul(c1 + 1, &end, 10);
        m->mod_warn[m->n_mod] = (unsigned)strtoul(*end == ':' ? end + 1 : end, NULL, 10);
        m->n_mod++;
    }
    size_t hdr = (size_t)(nl + 1 - val);
    memmove(val, nl + 1, len - hdr);
    val[len - hdr] = '\0';
    r->json = val;
    r->len = len - hdr;
    return 0;
}

void srv_summarize(const loki_verdict *v, srv_summary *sum)
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

/* Runs the engine for q (no cache) and fills r. */
static void check(srv *s, const vreq *q, vres *r)
{
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
        return;
    }
    srv_hist_observe(&s->m.check_seconds, s->now() - t0);
    st = loki_verdict_to_json(v, q->json_flags, &r->json, &r->len);
    if (st != LOKI_OK) {
        loki_verdict_destroy(v);
        engine_error(r, st, &err);
        return;
    }
    srv_summarize(v, &r->sum);
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
}

typedef struct compute_ud {
    srv *s;
    const vreq *q;
    vres *r;
    int ran;
} compute_ud;

static loki_status compute(void *ud, void **val, size_t *val_len, uint64_t *ttl_ms)
{
    (void)ttl_ms;
    compute_ud *c = ud;
    c->ran = 1;
    check(c->s, c->q, c->r);
    if (c->r->status != 200)
        return LOKI_EINVAL; /* any error: never cached; details stay in c->r */
    *val = encode(c->r, val_len);
    free(c->r->json);
    c->r->json = NULL;
    if (!*val) { /* r must not stay a 200 without its JSON */
        fail(c->r, 503, "out_of_memory", "out of memory; try again");
        return LOKI_ENOMEM;
    }
    return LOKI_OK;
}

/* Cache lookup, or single-flight computation. Returns 0 when r is final. */
static int cached(srv *s, const vreq *q, vres *r)
{
    char key[65];
    cache_key(s, q, key);
    if (!key[0])
        return -1;
    compute_ud ud = {s, q, r, 0};
    void *val = NULL;
    size_t len = 0;
    int from_cache = 0;
    loki_status st = loki_cache_get_or_compute(s->cache, "verdict", key, 64, compute, &ud, &val,
                                               &len, &from_cache);
    if (st != LOKI_OK)
        return ud.ran ? 0 : -1; /* our own error is final; a shared or cache error: run alone */
    if (decode(s, val, len, r) != 0) {
        free(val);
        return -1;
    }
    r->status = 200;
    r->cache_hit = from_cache;
    return 0;
}

void srv_validate(srv *s, const vreq *q, vres *r)
{
    memset(r, 0, sizeof *r);
    if (srv_check_modules(s, q, r) != 0)
        goto counted_error;
    if (!s->cache || cached(s, q, r) != 0) {
        memset(r, 0, sizeof *r);
        check(s, q, r);
    }
    if (r->status != 200)
        goto counted_error;
    count_verdict(s, &r->sum);
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
