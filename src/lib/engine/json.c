/* SPDX-License-Identifier: MIT */
/*
 * Verdict → JSON. Hand-written rather than built through cJSON: a verdict is written once,
 * front to back, and building a cJSON tree first costs more than the check itself on small
 * documents (docs/internals/render.md has the figures). Key order is fixed, so the same verdict
 * always renders to the same bytes.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine_int.h"

typedef struct w {
    loki_buf *b;
    int pretty;
    int depth;
    int first; /* no comma needed before the next member */
} w;

static void nl(w *o)
{
    if (!o->pretty)
        return;
    loki__buf_addc(o->b, '\n');
    for (int i = 0; i < o->depth; i++)
        loki__buf_add(o->b, "  ", 2);
}

static void open_(w *o, char c)
{
    loki__buf_addc(o->b, c);
    o->depth++;
    o->first = 1;
}

static void close_(w *o, char c)
{
    o->depth--;
    if (!o->first)
        nl(o);
    loki__buf_addc(o->b, c);
    o->first = 0;
}

static void key(w *o, const char *k)
{
    if (!o->first)
        loki__buf_addc(o->b, ',');
    nl(o);
    o->first = 0;
    loki__buf_json_str(o->b, k, strlen(k));
    loki__buf_add(o->b, o->pretty ? ": " : ":", o->pretty ? 2 : 1);
}

static void elem(w *o)
{
    if (!o->first)
        loki__buf_addc(o->b, ',');
    nl(o);
    o->first = 0;
}

static void kstr(w *o, const char *k, const char *v)
{
    key(o, k);
    if (v)
        loki__buf_json_str(o->b, v, strlen(v));
    else
        loki__buf_adds(o->b, "null");
}

static void knum(w *o, const char *k, unsigned long long v)
{
    key(o, k);
    loki__buf_printf(o->b, "%llu", v);
}

static void kms(w *o, const char *k, double v)
{
    key(o, k);
    loki__buf_printf(o->b, "%.3f", v);
}

static void span(w *o, const loki_span *s)
{
    elem(o);
    open_(o, '{');
    knum(o, "start", s->start);
    knum(o, "end", s->end);
    knum(o, "char_start", s->char_start);
    knum(o, "char_end", s->char_end);
    knum(o, "line", s->line);
    knum(o, "column", s->column);
    key(o, "text");
    loki__buf_json_str(o->b, s->text, s->text_len);
    kstr(o, "label", s->label);
    close_(o, '}');
}

static void finding(w *o, const loki_finding *f)
{
    key(o, f->gate->id);
    open_(o, '{');
    kstr(o, "status", loki_status_name(f->status));
    kstr(o, "severity", loki_severity_name(f->severity));
    if (f->status == LOKI_NA) {
        /* N/A results are most of a verdict over many modules: keep them to the essentials. */
        kstr(o, "message", f->message);
        kstr(o, "legal_source", f->gate->legal_source);
        close_(o, '}');
        return;
    }
    kstr(o, "title", f->gate->title);
    kstr(o, "message", f->message);
    kstr(o, "legal_source", f->gate->legal_source);
    if (f->suggestion)
        kstr(o, "suggestion", f->suggestion);
    if (f->penalty)
        kstr(o, "penalty", f->penalty);
    key(o, "spans");
    open_(o, '[');
    for (size_t i = 0; i < f->n_spans; i++)
        span(o, &f->spans[i]);
    close_(o, ']');
    close_(o, '}');
}

static void counts(w *o, const char *k, const unsigned *c)
{
    key(o, k);
    open_(o, '{');
    knum(o, "critical", c[LOKI_SEV_CRITICAL]);
    knum(o, "high", c[LOKI_SEV_HIGH]);
    knum(o, "medium", c[LOKI_SEV_MEDIUM]);
    knum(o, "low", c[LOKI_SEV_LOW]);
    close_(o, '}');
}

loki_status loki_verdict_to_json(const loki_verdict *v, unsigned flags, char **out,
                                 size_t *out_len)
{
    loki_buf b;
    loki__buf_init(&b, 0);
    w o = {.b = &b, .pretty = (flags & LOKI_JSON_PRETTY) != 0, .first = 1};
    open_(&o, '{');
    kstr(&o, "engine_version", LOKI_VERSION_STRING);
    kstr(&o, "document_hash", v->document_hash);
    if (!(flags & LOKI_JSON_NO_TIMINGS)) {
        char ts[32];
        time_t t = (time_t)v->timestamp;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        kstr(&o, "timestamp", ts);
    }
    kstr(&o, "document_type", v->document_type);
    key(&o, "document_type_detected");
    open_(&o, '[');
    for (size_t i = 0; i < v->n_detected_types; i++) {
        elem(&o);
        loki__buf_json_str(&b, v->detected_types[i], strlen(v->detected_types[i]));
    }
    close_(&o, ']');
    key(&o, "document_type_signals");
    open_(&o, '{');
    for (size_t i = 0; i < v->n_detected_types; i++) {
        key(&o, v->detected_types[i]);
        open_(&o, '[');
        for (const char *const *s = v->detected_signals[i]; *s; s++) {
            elem(&o);
            loki__buf_json_str(&b, *s, strlen(*s));
        }
        close_(&o, ']');
    }
    close_(&o, '}');
    knum(&o, "document_bytes", v->document_bytes);
    kstr(&o, "ruleset_fingerprint", v->ruleset_fingerprint);
    key(&o, "modules");
    open_(&o, '{');
    for (size_t i = 0; i < v->n_modules; i++) {
        const loki_module_result *m = &v->modules[i];
        key(&o, m->module->id);
        open_(&o, '{');
        kstr(&o, "name", m->module->name);
        kstr(&o, "version", m->module->version);
        key(&o, "applicable");
        loki__buf_adds(&b, m->applicable ? "true" : "false");
        key(&o, "gates");
        open_(&o, '{');
        for (size_t g = 0; g < m->n_findings; g++)
            finding(&o, &m->findings[g]);
        close_(&o, '}');
        key(&o, "summary");
        open_(&o, '{');
        knum(&o, "pass", m->summary[LOKI_PASS]);
        knum(&o, "fail", m->summary[LOKI_FAIL]);
        knum(&o, "warning", m->summary[LOKI_WARNING]);
        knum(&o, "na", m->summary[LOKI_NA]);
        knum(&o, "error", m->summary[LOKI_ERROR]);
        close_(&o, '}');
        close_(&o, '}');
    }
    close_(&o, '}');
    key(&o, "universal");
    open_(&o, '[');
    for (size_t i = 0; i < v->n_universal; i++) {
        const loki_universal_finding *u = &v->universal[i];
        elem(&o);
        open_(&o, '{');
        kstr(&o, "detector", u->detector);
        kstr(&o, "type", u->type);
        kstr(&o, "status", loki_status_name(u->status));
        kstr(&o, "severity", loki_severity_name(u->severity));
        key(&o, "confidence");
        loki__buf_printf(&b, "%.2f", u->confidence);
        kstr(&o, "message", u->message);
        if (u->suggestion)
            kstr(&o, "suggestion", u->suggestion);
        key(&o, "spans");
        open_(&o, '[');
        for (size_t s = 0; s < u->n_spans; s++)
            span(&o, &u->spans[s]);
        close_(&o, ']');
        close_(&o, '}');
    }
    close_(&o, ']');
    kstr(&o, "overall_risk", loki_risk_name(v->overall_risk));
    key(&o, "risk_counts");
    open_(&o, '{');
    counts(&o, "fail", v->fail_by_severity);
    counts(&o, "warning", v->warning_by_severity);
    close_(&o, '}');
    if (!(flags & LOKI_JSON_NO_TIMINGS)) {
        key(&o, "timings");
        open_(&o, '{');
        kms(&o, "scan_ms", v->scan_ms);
        kms(&o, "evaluate_ms", v->evaluate_ms);
        kms(&o, "detect_ms", v->detect_ms);
        kms(&o, "total_ms", v->total_ms);
        close_(&o, '}');
    }
    close_(&o, '}');
    if (b.oom) {
        loki__buf_release(&b);
        return LOKI_ENOMEM;
    }
    *out = b.p;
    if (out_len)
        *out_len = b.len;
    return LOKI_OK;
}
