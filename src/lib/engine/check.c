/* SPDX-License-Identifier: MIT */
/*
 * loki_check(): validate the text, scan it once, evaluate every gate of every requested module
 * against the match table, and build the verdict (spans located by line/column), all in one
 * arena owned by the verdict.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../detect/detect.h"
#include "../doc/doc.h"
#include "loki/obs.h"
#include "engine_int.h"

/* The universal detectors, run on their own thread while a large document is scanned in
 * parallel (they do not read the match table), into their own arena. */
typedef struct det_job {
    pthread_t th;
    int started;
    loki_detect_input in;
    loki_universal_finding *u;
    size_t n;
    loki_status st;
    loki_error err;
} det_job;

typedef struct eval_ctx {
    loki_engine *eng;
    loki_scratch *s;
    loki_par par;
    const char *text;
    size_t len;
    const loki_match_table *mt;
    loki_posmap pm;
    int have_pm;
    loki_arena *arena;
    det_job *det; /* not NULL: the detectors are running on their own thread */
} eval_ctx;

static void *det_run(void *arg)
{
    det_job *d = arg;
    loki__err_clear(&d->err);
    d->st = loki__detect_all(&d->in, &d->u, &d->n, &d->err);
    return NULL;
}

/* Scans with one database, in parallel when the document is large and jobs > 1. */
static loki_status scan_stage(eval_ctx *cx, size_t which, loki_error *err)
{
    if (cx->par.n_workers > 1)
        return loki__scan_db_par(cx->eng->rs, &cx->eng->db, which, cx->s, &cx->par, cx->text,
                                 cx->len, err);
    return loki__scan_db(cx->eng->rs, &cx->eng->db, which, cx->s, cx->text, cx->len, err);
}

static int module_requested(const loki_check_options *o, const char *id)
{
    if (!o->modules || o->n_modules == 0)
        return 1;
    for (size_t i = 0; i < o->n_modules; i++)
        if (strcmp(o->modules[i], id) == 0)
            return 1;
    return 0;
}

static int module_applies(const loki_module *m, const char *type, const loki_match_table *mt)
{
    if (strcmp(type, "unknown") == 0 || strcmp(type, "ai_generated") == 0)
        return m->domain ? loki__cond_eval(m->domain, mt) : 1;
    for (size_t i = 0; i < m->info.n_applies_to; i++)
        if (strcmp(m->applies_to[i], type) == 0)
            return 1;
    return 0;
}

/* Collects the matches of the outcome's span sets, in text order, up to the cap. */
static loki_status build_spans(eval_ctx *cx, const loki_outcome *o, loki_finding *f)
{
    const loki_ruleset *rs = cx->eng->rs;
    size_t total = 0;
    for (size_t k = 0; k < o->n_span_sets; k++)
        total += cx->mt->sets[o->span_sets[k]].total;
    if (total == 0)
        return LOKI_OK;
    size_t cap = cx->eng->cfg.max_spans_per_finding;
    /* Merge the sets' sorted lists: small k, so a k-way minimum pick is fine. */
    size_t idx[16] = {0};
    size_t nsets = o->n_span_sets < 16 ? o->n_span_sets : 16;
    size_t n = total < cap ? total : cap;
    loki_span *sp = loki__arena_array(cx->arena, n, sizeof *sp);
    if (!sp)
        return LOKI_ENOMEM;
    if (!cx->have_pm && cx->text) {
        if (loki__posmap_init(&cx->pm, cx->text, cx->len))
            return LOKI_ENOMEM;
        cx->have_pm = 1;
    }
    size_t out = 0;
    size_t last_s = (size_t)-1, last_e = (size_t)-1;
    while (out < n) {
        int best = -1;
        for (size_t k = 0; k < nsets; k++) {
            const loki_set_matches *sm = &cx->mt->sets[o->span_sets[k]];
            if (idx[k] >= sm->n)
                continue;
            if (best < 0 || sm->m[idx[k]].start < cx->mt->sets[o->span_sets[best]].m[idx[best]].start)
                best = (int)k;
        }
        if (best < 0)
            break;
        unsigned si = o->span_sets[best];
        const loki_set_matches *sm = &cx->mt->sets[si];
        const loki_match *m = &sm->m[idx[best]++];
        if (m->start == last_s && m->end == last_e)
            continue; /* the same text found by two sets */
        last_s = m->start;
        last_e = m->end;
        loki_span *s = &sp[out++];
        s->start = m->start;
        s->end = m->end;
        s->label = rs->sets[si].name;
        if (sm->loc) { /* streamed: located while the text was in memory */
            const loki_match_loc *l = &sm->loc[m - sm->m];
            s->line = l->line;
            s->column = l->column;
            s->char_start = l->char_start;
            s->char_end = l->char_end;
            s->text = loki__arena_strndup(cx->arena, l->text, l->text_len);
            s->text_len = l->text_len;
            if (!s->text)
                return LOKI_ENOMEM;
            continue;
        }
        size_t cp_end;
        loki__posmap_locate(&cx->pm, m->start, &s->line, &s->column, &s->char_start);
        loki__posmap_locate(&cx->pm, m->end, NULL, NULL, &cp_end);
        s->char_end = cp_end;
        size_t tl = loki__utf8_excerpt_len(cx->text + m->start, m->end - m->start,
                                           LOKI_SPAN_TEXT_MAX);
        s->text = cx->text + m->start; /* re-pointed into the arena below */
        s->text_len = tl;
        char *copy = loki__arena_strndup(cx->arena, s->text, tl);
        if (!copy)
            return LOKI_ENOMEM;
        s->text = copy;
    }
    f->spans = sp;
    f->n_spans = out;
    return LOKI_OK;
}

/* Profiler scopes that cost nothing without a profiler and can be ended twice. */
static loki_prof_scope prof_begin(loki_profiler *p, const char *name)
{
    return loki_prof_begin(p, p ? loki_profiler_op(p, name) : -1);
}

static void prof_end(loki_prof_scope *s)
{
    if (s->p)
        loki_prof_end(s);
    s->p = NULL;
}

static const char NA_MSG[] = "Not applicable to this document type";
static const char NA_GATE_MSG[] = "Not applicable: the gate's subject is not present";
static const char PASS_MSG[] = "No issue found.";

/* Evaluates one gate into f. `applicable` is the module's applicability. */
static loki_status eval_gate(eval_ctx *cx, const loki_gate *g, int applicable, loki_finding *f)
{
    f->gate = &g->info;
    if (!applicable) {
        f->status = LOKI_NA;
        f->message = NA_MSG;
        return LOKI_OK;
    }
    if (g->relevant && !loki__cond_eval(g->relevant, cx->mt)) {
        f->status = LOKI_NA;
        f->message = NA_GATE_MSG;
        return LOKI_OK;
    }
    for (size_t i = 0; i < g->n_outcomes; i++) {
        const loki_outcome *o = &g->outcomes[i];
        if (o->when && !loki__cond_eval(o->when, cx->mt))
            continue;
        f->status = o->status;
        f->severity = o->severity;
        f->message = o->message;
        f->suggestion = o->suggestion;
        f->penalty = o->penalty;
        return o->n_span_sets ? build_spans(cx, o, f) : LOKI_OK;
    }
    f->status = LOKI_PASS;
    f->message = PASS_MSG;
    return LOKI_OK;
}

/* Type unknown: which document types the text looks like, with the signals seen. */
static loki_status detect_types(eval_ctx *cx, loki_verdict *v)
{
    const loki_ruleset *rs = cx->eng->rs;
    if (rs->n_doctypes == 0)
        return LOKI_OK;
    size_t *order = loki__arena_array(cx->arena, rs->n_doctypes, sizeof *order);
    if (!order)
        return LOKI_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < rs->n_doctypes; i++)
        if (cx->mt->sets[rs->doctypes[i].set].distinct >= rs->doctypes[i].min)
            order[n++] = i;
    /* Best first: more distinct signals; ties keep the file's order (insertion sort: n small). */
    for (size_t i = 1; i < n; i++) {
        size_t x = order[i], j = i;
        unsigned dx = cx->mt->sets[rs->doctypes[x].set].distinct;
        while (j > 0 && cx->mt->sets[rs->doctypes[order[j - 1]].set].distinct < dx) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = x;
    }
    const char **names = loki__arena_array(cx->arena, n + 1, sizeof *names);
    const char ***sigs = loki__arena_array(cx->arena, n + 1, sizeof *sigs);
    if (!names || !sigs)
        return LOKI_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const loki_doctype *d = &rs->doctypes[order[i]];
        const loki_set_matches *sm = &cx->mt->sets[d->set];
        names[i] = d->name;
        size_t k = sm->n < 6 ? sm->n : 6;
        sigs[i] = loki__arena_array(cx->arena, k + 1, sizeof **sigs);
        if (!sigs[i])
            return LOKI_ENOMEM;
        for (size_t j = 0; j < k; j++) {
            size_t l = sm->m[j].end - sm->m[j].start;
            const char *t = cx->text ? cx->text + sm->m[j].start : sm->loc[j].text;
            if (!cx->text && l > sm->loc[j].text_len)
                l = sm->loc[j].text_len;
            sigs[i][j] = loki__arena_strndup(cx->arena, t, l > 80 ? 80 : l);
            if (!sigs[i][j])
                return LOKI_ENOMEM;
        }
    }
    v->detected_types = names;
    v->n_detected_types = n;
    v->detected_signals = (const char *const *const *)sigs;
    return LOKI_OK;
}

/* Gate status for cross-validation rules: N/A when the module did not run. */
static loki_gate_status lookup_gate(void *ctx, const char *module, const char *gate)
{
    const loki_verdict *v = ctx;
    for (size_t i = 0; i < v->n_modules; i++) {
        const loki_module_result *m = &v->modules[i];
        if (strcmp(m->module->id, module) != 0)
            continue;
        for (size_t g = 0; g < m->n_findings; g++)
            if (strcmp(m->findings[g].gate->id, gate) == 0)
                return m->findings[g].status;
    }
    return LOKI_NA;
}

/* Universal detectors, then the cross-validation rules over the gate results. */
static loki_status run_detectors(eval_ctx *cx, loki_verdict *v, const char *type,
                                 loki_error *err)
{
    loki_universal_finding *u = (loki_universal_finding *)v->universal;
    size_t n = v->n_universal;
    if (cx->det) {
        pthread_join(cx->det->th, NULL);
        cx->det->started = 0;
        if (cx->det->st != LOKI_OK) {
            if (err)
                *err = cx->det->err;
            return cx->det->st;
        }
        u = cx->det->u;
        n = cx->det->n;
    } else if (cx->text) {
        if (!cx->have_pm) {
            if (loki__posmap_init(&cx->pm, cx->text, cx->len))
                return loki__err(err, LOKI_ENOMEM, "out of memory");
            cx->have_pm = 1;
        }
        loki_detect_input in = {cx->text, cx->len, type, &cx->pm, cx->arena,
                                cx->eng->cfg.max_spans_per_finding};
        loki_status st = loki__detect_all(&in, &u, &n, err);
        if (st != LOKI_OK)
            return st;
    } /* else streamed: the detectors ran segment by segment (stream.c) */
    loki_universal_finding *all = loki__arena_array(cx->arena, n + 8, sizeof *all);
    if (!all)
        return loki__err(err, LOKI_ENOMEM, "out of memory");
    if (n)
        memcpy(all, u, n * sizeof *u);
    n += loki__detect_cross(lookup_gate, v, all + n, 8);
    v->universal = all;
    v->n_universal = n;
    for (size_t i = 0; i < n; i++) {
        if (all[i].status == LOKI_FAIL)
            v->fail_by_severity[all[i].severity]++;
        else if (all[i].status == LOKI_WARNING)
            v->warning_by_severity[all[i].severity]++;
    }
    return LOKI_OK;
}

static void risk(loki_verdict *v)
{
    const unsigned *F = v->fail_by_severity, *W = v->warning_by_severity;
    if (F[LOKI_SEV_CRITICAL])
        v->overall_risk = LOKI_RISK_CRITICAL;
    else if (F[LOKI_SEV_HIGH])
        v->overall_risk = LOKI_RISK_HIGH;
    else if (F[LOKI_SEV_MEDIUM] || W[LOKI_SEV_HIGH] || W[LOKI_SEV_CRITICAL])
        v->overall_risk = LOKI_RISK_MEDIUM;
    else
        v->overall_risk = LOKI_RISK_LOW;
}

/* Evaluates every requested module against the match table, then the universal detectors,
 * into v. Shared by loki_check() and streaming checks (cx->text NULL: spans and detector
 * findings were recorded while the text streamed past). */
static loki_status evaluate(eval_ctx *cx, const loki_check_options *opts, const char *type,
                            const int *applies, loki_verdict *v, loki_prof_scope *ps_eval,
                            double *t2, loki_error *err)
{
    loki_engine *eng = cx->eng;
    const loki_ruleset *rs = eng->rs;
    loki_verdict_impl *vi = (loki_verdict_impl *)v;
    loki_status st = LOKI_OK;
    v->document_type = type;
    v->ruleset_fingerprint = rs->fingerprint;
    size_t nm = 0;
    for (size_t i = 0; i < rs->n_modules; i++)
        nm += module_requested(opts, rs->modules[i].info.id);
    loki_module_result *mr = loki__arena_array(&vi->arena, nm ? nm : 1, sizeof *mr);
    if (!mr) {
        st = loki__err(err, LOKI_ENOMEM, "out of memory");
        return st;
    }
    size_t k = 0;
    for (size_t i = 0; i < rs->n_modules; i++) {
        const loki_module *m = &rs->modules[i];
        if (!module_requested(opts, m->info.id))
            continue;
        loki_module_result *r = &mr[k++];
        r->module = &m->info;
        r->applicable = applies[i];
        loki_finding *fs = loki__arena_array(&vi->arena, m->info.n_gates, sizeof *fs);
        if (!fs) {
            st = loki__err(err, LOKI_ENOMEM, "out of memory");
            return st;
        }
        for (size_t g = 0; g < m->info.n_gates; g++) {
            if (eval_gate(cx, &m->gates[g], r->applicable, &fs[g]) != LOKI_OK) {
                st = loki__err(err, LOKI_ENOMEM, "out of memory");
                return st;
            }
            r->summary[fs[g].status]++;
            if (fs[g].status == LOKI_FAIL)
                v->fail_by_severity[fs[g].severity]++;
            else if (fs[g].status == LOKI_WARNING)
                v->warning_by_severity[fs[g].severity]++;
        }
        r->findings = fs;
        r->n_findings = m->info.n_gates;
    }
    v->modules = mr;
    v->n_modules = nm;
    prof_end(ps_eval);
    *t2 = loki__now_ms();
    if (!opts->no_universal) {
        loki_prof_scope ps_det = prof_begin(opts->profiler, "detectors");
        st = run_detectors(cx, v, type, err);
        prof_end(&ps_det);
        if (st != LOKI_OK)
            return st;
    }
    risk(v);
    return LOKI_OK;
}

loki_status loki__check_options_valid(const loki_engine *eng, const loki_check_options *o,
                                      loki_error *err)
{
    if (o->document_type && !loki_document_type_valid(o->document_type))
        return loki__err(err, LOKI_EINVAL,
                         "unknown document type '%s' (run 'loki types' for the list)",
                         o->document_type);
    for (size_t i = 0; o->modules && i < o->n_modules; i++) {
        int found = 0;
        for (size_t j = 0; j < eng->rs->n_modules; j++)
            found |= strcmp(eng->rs->modules[j].info.id, o->modules[i]) == 0;
        if (!found) {
            char list[400] = "";
            size_t off = 0;
            for (size_t j = 0; j < eng->rs->n_modules && off < sizeof list - 70; j++)
                off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", j ? ", " : "",
                                        eng->rs->modules[j].info.id);
            return loki__err(err, LOKI_EINVAL, "unknown module '%.100s' (valid: %s)",
                             o->modules[i], list);
        }
    }
    return LOKI_OK;
}

static loki_status validate(loki_engine *eng, const char *text, size_t len,
                            const loki_check_options *o, loki_error *err)
{
    if (!text && len)
        return loki__err(err, LOKI_EINVAL, "text is NULL");
    loki_status st = loki__check_options_valid(eng, o, err);
    if (st != LOKI_OK)
        return st;
    if (len > eng->cfg.max_document_bytes)
        return loki__err(err, LOKI_ELIMIT, "document is %zu bytes; the limit is %zu", len,
                         eng->cfg.max_document_bytes);
    const char *why = "invalid UTF-8";
    size_t bad = loki__utf8_check(text, len, &why);
    if (bad < len) {
        unsigned line, col;
        loki__locate_linear(text, bad, &line, &col);
        return loki__err_encoding(err, why, bad, line, col);
    }
    return LOKI_OK;
}

loki_status loki__check_finish_stream(loki_engine *eng, const loki_check_options *opts,
                                      loki_scratch *s, loki_verdict *v, double *eval_ms,
                                      loki_error *err)
{
    loki_ruleset *rs = eng->rs;
    loki_verdict_impl *vi = (loki_verdict_impl *)v;
    eval_ctx cx = {.eng = eng, .text = NULL, .len = v->document_bytes, .arena = &vi->arena,
                   .mt = &s->mt, .s = s};
    const char *type = opts->document_type ? opts->document_type : "unknown";
    int by_domain = strcmp(type, "unknown") == 0 || strcmp(type, "ai_generated") == 0;
    int *applies = loki__arena_array(&vi->arena, rs->n_modules ? rs->n_modules : 1,
                                     sizeof *applies);
    if (!applies || (by_domain && detect_types(&cx, v) != LOKI_OK))
        return loki__err(err, LOKI_ENOMEM, "out of memory");
    for (size_t i = 0; i < rs->n_modules; i++)
        applies[i] = module_requested(opts, rs->modules[i].info.id) &&
                     module_applies(&rs->modules[i], type, cx.mt);
    loki_prof_scope ps_eval = prof_begin(opts->profiler, "evaluate");
    double t1 = loki__now_ms(), t2 = t1;
    loki_status st = evaluate(&cx, opts, type, applies, v, &ps_eval, &t2, err);
    prof_end(&ps_eval);
    *eval_ms = t2 - t1;
    return st;
}

loki_status loki_check(loki_engine *eng, const char *text, size_t len,
                       const loki_check_options *opts, loki_verdict **out, loki_error *err)
{
    loki__err_clear(err);
    if (!eng || !out)
        return loki__err(err, LOKI_EINVAL, "engine or out is NULL");
    *out = NULL;
    loki_check_options defaults;
    if (!opts) {
        loki_check_options_default(&defaults);
        opts = &defaults;
    }
    loki_status st = validate(eng, text, len, opts, err);
    if (st != LOKI_OK) {
        atomic_fetch_add_explicit(&eng->st_errors, 1, memory_order_relaxed);
        return st;
    }
    det_job det = {0}; /* before the first goto: `out` joins it if it was started */
    double t0 = loki__now_ms();
    loki_prof_scope ps_total = prof_begin(opts->profiler, "check");
    loki_prof_scope ps_scan = prof_begin(opts->profiler, "scan");
    loki_prof_scope ps_eval = prof_begin(NULL, NULL);
    loki_verdict_impl *vi = loki__calloc(1, sizeof *vi);
    if (!vi)
        return loki__err(err, LOKI_ENOMEM, "out of memory");
    loki__arena_init(&vi->arena);
    loki__arena_init(&vi->arena2);
    loki_verdict *v = &vi->pub;
    eval_ctx cx = {.eng = eng, .text = text ? text : "", .len = len, .arena = &vi->arena};
    loki_scratch *s = loki__engine_scratch_get(eng);
    if (!s) {
        st = loki__err(err, LOKI_ENOMEM, "out of memory (scanner scratch)");
        goto out;
    }
    loki_ruleset *rs = eng->rs;
    const char *type = opts->document_type ? opts->document_type : "unknown";
    int *applies = loki__arena_array(&vi->arena, rs->n_modules, sizeof *applies);
    if (!applies) {
        st = loki__err(err, LOKI_ENOMEM, "out of memory");
        goto out;
    }
    /* Stage 1 (type unknown): the domain guards decide which modules apply. Stage 2: only the
     * applicable, requested modules' patterns are scanned. */
    cx.mt = &s->mt;
    cx.s = s;
    loki__scan_reset(rs, s);
    loki_scratch *workers[64];
    if (eng->cfg.jobs > 1 && len >= eng->cfg.parallel_threshold) {
        workers[0] = s;
        size_t n = 1;
        while (n < eng->cfg.jobs && (workers[n] = loki__engine_scratch_get(eng)) != NULL)
            n++;
        cx.par = (loki_par){workers, n, 256u * 1024u};
    }
    if (cx.par.n_workers > 1 && !opts->no_universal) {
        det.in = (loki_detect_input){cx.text, len, type, NULL, &vi->arena2,
                                     eng->cfg.max_spans_per_finding};
        det.started = pthread_create(&det.th, NULL, det_run, &det) == 0;
        if (det.started)
            cx.det = &det;
    }
    int by_domain = strcmp(type, "unknown") == 0 || strcmp(type, "ai_generated") == 0;
    if (by_domain && (st = scan_stage(&cx, LOKI_DB_DOMAIN, err)) != LOKI_OK)
        goto out;
    if (by_domain && detect_types(&cx, v) != LOKI_OK) {
        st = loki__err(err, LOKI_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < rs->n_modules; i++) {
        const loki_module *m = &rs->modules[i];
        applies[i] = module_requested(opts, m->info.id) && module_applies(m, type, cx.mt);
        if (applies[i] && (st = scan_stage(&cx, LOKI_DB_MODULE(i), err)) != LOKI_OK)
            goto out;
        if (opts->progress) /* scanning is most of the work: report it by module */
            opts->progress(opts->progress_ctx, (uint64_t)len * (i + 1) / (rs->n_modules + 1),
                           len);
    }
    double t1 = loki__now_ms();
    prof_end(&ps_scan);
    ps_eval = prof_begin(opts->profiler, "evaluate");
    v->document_bytes = len;
    v->timestamp = opts->timestamp ? opts->timestamp : (int64_t)time(NULL);
    if (loki__sha256_hex(cx.text, len, v->document_hash)) {
        st = loki__err(err, LOKI_EINTERNAL, "SHA-256 failed");
        goto out;
    }
    double t2 = 0;
    st = evaluate(&cx, opts, type, applies, v, &ps_eval, &t2, err);
    if (st != LOKI_OK)
        goto out;
    double t3 = loki__now_ms();
    if (opts->progress)
        opts->progress(opts->progress_ctx, len, len);
    v->detect_ms = t3 - t2;
    v->scan_ms = t1 - t0;
    v->evaluate_ms = t2 - t1;
    v->total_ms = t3 - t0;
out:
    if (det.started)
        pthread_join(det.th, NULL); /* an error before the detectors were collected */
    prof_end(&ps_eval);
    prof_end(&ps_scan);
    prof_end(&ps_total);
    if (cx.have_pm)
        loki__posmap_release(&cx.pm);
    for (size_t i = 1; i < cx.par.n_workers; i++)
        loki__engine_scratch_put(eng, cx.par.workers[i]);
    loki__engine_scratch_put(eng, s);
    if (st != LOKI_OK) {
        atomic_fetch_add_explicit(&eng->st_errors, 1, memory_order_relaxed);
        loki_verdict_destroy(v);
        return st;
    }
    atomic_fetch_add_explicit(&eng->st_checks, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&eng->st_bytes, len, memory_order_relaxed);
    if (cx.par.n_workers > 1)
        atomic_fetch_add_explicit(&eng->st_parallel, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&eng->st_scan_us, (uint64_t)(v->scan_ms * 1e3), memory_order_relaxed);
    atomic_fetch_add_explicit(&eng->st_eval_us, (uint64_t)(v->evaluate_ms * 1e3),
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&eng->st_detect_us, (uint64_t)(v->detect_ms * 1e3),
                              memory_order_relaxed);
    *out = v;
    return LOKI_OK;
}

void loki_verdict_destroy(loki_verdict *v)
{
    if (!v)
        return;
    loki_verdict_impl *vi = (loki_verdict_impl *)v;
    loki__arena_release(&vi->arena);
    loki__arena_release(&vi->arena2);
    loki__free(vi);
}

loki_status loki_engine_test_gate(loki_engine *eng, const char *module_id, const char *gate_id,
                                  const char *text, size_t len, loki_gate_status *status,
                                  loki_error *err)
{
    loki__err_clear(err);
    const loki_module *m = NULL;
    const loki_gate *g = NULL;
    for (size_t i = 0; i < eng->rs->n_modules && !m; i++)
        if (strcmp(eng->rs->modules[i].info.id, module_id) == 0)
            m = &eng->rs->modules[i];
    for (size_t i = 0; m && i < m->info.n_gates && !g; i++)
        if (strcmp(m->gates[i].info.id, gate_id) == 0)
            g = &m->gates[i];
    if (!g)
        return loki__err(err, LOKI_ENOTFOUND, "no gate %s.%s", module_id, gate_id);
    loki_check_options o;
    loki_check_options_default(&o);
    loki_status st = validate(eng, text, len, &o, err);
    if (st != LOKI_OK)
        return st;
    loki_scratch *s = loki__engine_scratch_get(eng);
    if (!s)
        return loki__err(err, LOKI_ENOMEM, "out of memory");
    loki_arena a;
    loki__arena_init(&a);
    eval_ctx cx = {.eng = eng, .text = text, .len = len, .arena = &a};
    loki__scan_reset(eng->rs, s);
    st = loki__scan_db(eng->rs, &eng->db, LOKI_DB_MODULE(m - eng->rs->modules), s, text, len,
                       err);
    if (st == LOKI_OK) {
        cx.mt = &s->mt;
        loki_finding f = {0};
        if (eval_gate(&cx, g, 1, &f) != LOKI_OK)
            st = loki__err(err, LOKI_ENOMEM, "out of memory");
        else
            *status = f.status;
    }
    if (cx.have_pm)
        loki__posmap_release(&cx.pm);
    loki__arena_release(&a);
    loki__engine_scratch_put(eng, s);
    return st;
}
