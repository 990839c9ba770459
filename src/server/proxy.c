/* SPDX-License-Identifier: MIT */
/*
 * The interceptor: POST /v1/messages (Anthropic) and /v1/chat/completions (OpenAI and
 * compatible upstreams) take the provider's own request body unchanged, forward it through
 * loki_provider_call() (breaker, retries, budgets), check the generated text with the engine
 * and return the provider's status and body with the verdict added: x-loki-risk and
 * x-loki-verdict headers and a `loki` object. A blocked answer becomes a 422 error in the
 * provider's own error format, which the official SDKs raise as an API error. Streams are in
 * proxy_stream.c. Keys are never logged, echoed or put in an error message.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "proxy.h"

static const char *const api_system[PX__N] = {"anthropic", "openai", "gcp.gemini"};
static const char *const result_names[PR__N] = {"ok", "blocked", "upstream_error",
                                                "breaker_open", "rate_limited", "failed",
                                                "truncated", "prompt_blocked"};
static const char *const verdict_names[3] = {"allowed", "flagged", "blocked"};

const char *px_verdict_name(int v)
{
    return verdict_names[v & 3];
}

static loki_provider_kind kind_of(int api)
{
    return api == PX_ANTHROPIC ? LOKI_PROVIDER_ANTHROPIC
           : api == PX_OPENAI  ? LOKI_PROVIDER_OPENAI
                               : LOKI_PROVIDER_GEMINI;
}

/* ---- setup ------------------------------------------------------------------------------ */

static int parse_block(const char *v)
{
    static const char *const names[5] = {"low", "medium", "high", "critical", "never"};
    for (int i = 0; i < 5; i++)
        if (!strcasecmp(v, names[i]))
            return i;
    return -1;
}

static int parse_modules(srv *s, srv_proxy *px)
{
    snprintf(px->modules_buf, sizeof px->modules_buf, "%s", s->cfg.proxy_modules);
    char *save = NULL;
    for (char *t = strtok_r(px->modules_buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        if (px->n_modules == SRV_MAX_MODULES || !loki_engine_find_module(s->eng, t)) {
            fprintf(stderr, "loki serve: proxy_modules: unknown module '%s'\n", t);
            return -1;
        }
        px->modules[px->n_modules++] = t;
    }
    return 0;
}

static int make_provider(srv *s, srv_proxy *px, int api)
{
    const srv_config *c = &s->cfg;
    const char *urls[PX__N] = {c->anthropic_base_url, c->openai_base_url, c->gemini_base_url};
    const char *keys[PX__N] = {c->anthropic_api_key, c->openai_api_key, c->gemini_api_key};
    loki_provider_config pc;
    loki_provider_config_default(&pc, kind_of(api));
    pc.base_url = urls[api][0] ? urls[api] : NULL;
    pc.api_key = keys[api][0] ? keys[api] : NULL;
    pc.pass_client_key = c->proxy_pass_client_key;
    pc.timeout_ms = (long)c->provider_timeout * 1000;
    pc.connect_timeout_ms = (long)c->provider_connect_timeout * 1000;
    pc.requests_per_min = c->provider_rpm;
    pc.retry.max_attempts = c->provider_max_attempts ? c->provider_max_attempts : 1;
    pc.retry.base_ms = c->provider_retry_base_ms;
    pc.breaker.open_ms = c->provider_breaker_open_ms;
    pc.breaker.min_calls = c->provider_breaker_min_calls;
    pc.breaker.failure_rate = c->provider_breaker_failure_rate;
    pc.breaker.consecutive_failures = c->provider_breaker_consecutive;
    loki_error err;
    memset(&err, 0, sizeof err);
    if (loki_provider_create(&pc, px->http, &px->prov[api], &err) != LOKI_OK) {
        fprintf(stderr, "loki serve: provider %s: %s\n", api_system[api], err.message);
        return -1;
    }
    return 0;
}

int srv_proxy_setup(srv *s)
{
    srv_proxy *px = loki__calloc(1, sizeof *px);
    if (!px) {
        fprintf(stderr, "loki serve: out of memory\n");
        return -1;
    }
    s->proxy = px;
    px->block_risk = parse_block(s->cfg.proxy_block);
    if (px->block_risk < 0) {
        fprintf(stderr, "loki serve: proxy_block: want low, medium, high, critical or never, "
                        "not '%s'\n", s->cfg.proxy_block);
        return -1;
    }
    px->window = s->cfg.proxy_stream_window;
    if (parse_modules(s, px) != 0)
        return -1;
    if (loki_http_create(0, &px->http) != LOKI_OK) {
        fprintf(stderr, "loki serve: cannot create the HTTP client\n");
        return -1;
    }
    for (int i = 0; i < PX__N; i++)
        if (make_provider(s, px, i) != 0)
            return -1;
    /* The keys were copied by the providers; the configuration copy is no longer needed. */
    explicit_bzero(s->cfg.anthropic_api_key, sizeof s->cfg.anthropic_api_key);
    explicit_bzero(s->cfg.openai_api_key, sizeof s->cfg.openai_api_key);
    explicit_bzero(s->cfg.gemini_api_key, sizeof s->cfg.gemini_api_key);
    return 0;
}

void srv_proxy_teardown(srv *s)
{
    srv_proxy *px = s->proxy;
    if (!px)
        return;
    /* Stream producers finish with their upstream call (bounded by provider_timeout). */
    for (int i = 0; i < 3000 && atomic_load(&px->live_streams) > 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&px->live_streams) > 0)
        return; /* still in use at exit: leaking beats freeing under a running thread */
    for (int i = 0; i < PX__N; i++)
        loki_provider_destroy(px->prov[i]);
    loki_http_destroy(px->http);
    free(px);
    s->proxy = NULL;
}

/* ---- checking --------------------------------------------------------------------------- */

static void spans_json(sbuf *b, const loki_span *sp, size_t n)
{
    char txt[256];
    sbuf_puts(b, ",\"spans\":[");
    for (size_t i = 0; i < n; i++) {
        size_t tl = sp[i].text_len < sizeof txt - 1 ? sp[i].text_len : sizeof txt - 1;
        memcpy(txt, sp[i].text ? sp[i].text : "", sp[i].text ? tl : 0);
        txt[sp[i].text ? tl : 0] = '\0';
        sbuf_printf(b, "%s{\"start\":%zu,\"end\":%zu,\"line\":%u,\"column\":%u,\"text\":",
                    i ? "," : "", sp[i].start, sp[i].end, sp[i].line, sp[i].column);
        sbuf_json_str(b, txt);
        sbuf_puts(b, "}");
    }
    sbuf_puts(b, "]");
}

static int counts(loki_gate_status st)
{
    return st == LOKI_FAIL || st == LOKI_WARNING;
}

static void note_spans(px_verdict *v, const loki_span *sp, size_t n)
{
    v->evidence_block |= n > 0;
    for (size_t i = 0; i < n; i++)
        if (sp[i].start < v->first_span)
            v->first_span = sp[i].start;
}

/* Findings that fail or warn, gates first; notes the first blocking one in v->reason. */
static void findings_json(const loki_verdict *lv, int block_sev, sbuf *b, px_verdict *v)
{
    int any = 0, best = -1;
    for (size_t i = 0; i < lv->n_modules; i++) {
        const loki_module_result *m = &lv->modules[i];
        for (size_t k = 0; k < m->n_findings; k++) {
            const loki_finding *f = &m->findings[k];
            if (!counts(f->status))
                continue;
            sbuf_puts(b, any++ ? ",{\"module\":" : "{\"module\":");
            sbuf_json_str(b, m->module->id);
            sbuf_puts(b, ",\"gate\":");
            sbuf_json_str(b, f->gate->id);
            sbuf_puts(b, ",\"title\":");
            sbuf_json_str(b, f->gate->title);
            sbuf_printf(b, ",\"status\":\"%s\",\"severity\":\"%s\",\"citation\":",
                        loki_status_name(f->status), loki_severity_name(f->severity));
            sbuf_json_str(b, f->gate->legal_source ? f->gate->legal_source : "");
            sbuf_puts(b, ",\"message\":");
            sbuf_json_str(b, f->message ? f->message : "");
            spans_json(b, f->spans, f->n_spans);
            sbuf_puts(b, "}");
            if (f->status == LOKI_FAIL && (int)f->severity >= block_sev) {
                if ((int)f->severity > best) {
                    best = (int)f->severity;
                    snprintf(v->reason, sizeof v->reason, "%s/%s (%s): %s", m->module->id,
                             f->gate->id, f->gate->legal_source ? f->gate->legal_source : "",
                             f->message ? f->message : f->gate->title);
                }
                note_spans(v, f->spans, f->n_spans);
            }
        }
    }
    for (size_t i = 0; i < lv->n_universal; i++) {
        const loki_universal_finding *u = &lv->universal[i];
        if (!counts(u->status))
            continue;
        sbuf_puts(b, any++ ? ",{\"detector\":" : "{\"detector\":");
        sbuf_json_str(b, u->detector);
        sbuf_puts(b, ",\"type\":");
        sbuf_json_str(b, u->type);
        sbuf_printf(b, ",\"status\":\"%s\",\"severity\":\"%s\",\"confidence\":%.2f,\"message\":",
                    loki_status_name(u->status), loki_severity_name(u->severity), u->confidence);
        sbuf_json_str(b, u->message ? u->message : "");
        spans_json(b, u->spans, u->n_spans);
        sbuf_puts(b, "}");
        if (u->status == LOKI_FAIL && (int)u->severity >= block_sev) {
            if ((int)u->severity > best) {
                best = (int)u->severity;
                snprintf(v->reason, sizeof v->reason, "%s/%s: %s", u->detector, u->type,
                         u->message ? u->message : "");
            }
            note_spans(v, u->spans, u->n_spans);
        }
    }
    v->verdict = any ? PX_FLAGGED : PX_ALLOWED;
}

void px_check(srv *s, const char *text, size_t len, px_verdict *v)
{
    srv_proxy *px = s->proxy;
    memset(v, 0, sizeof *v);
    v->first_span = SIZE_MAX;
    loki_check_options o;
    loki_check_options_default(&o);
    o.document_type = "ai_generated";
    o.modules = px->n_modules ? px->modules : NULL;
    o.n_modules = px->n_modules;
    loki_verdict *lv = NULL;
    loki_error err;
    memset(&err, 0, sizeof err);
    double t0 = s->now();
    loki_status st = loki_check(s->eng, text, len, &o, &lv, &err);
    v->check_ms = (s->now() - t0) * 1000;
    if (st != LOKI_OK) {
        snprintf(v->reason, sizeof v->reason, "LOKI could not check the answer: %s%s%.400s",
                 loki_strerror(st), err.message[0] ? ": " : "", err.message);
        return;
    }
    srv_hist_observe(&px->m.check, v->check_ms / 1000);
    v->ok = 1;
    v->risk = lv->overall_risk;
    srv_summarize(lv, &v->sum);
    /* Risk LOW..CRITICAL blocks FAILs of severity LOW..CRITICAL (severity = risk + 1). */
    int block_sev = px->block_risk + 1;
    sbuf b;
    sbuf_init(&b);
    sbuf_puts(&b, "{\"verdict\":\"\",\"risk\":");
    size_t verdict_at = 12; /* offset of the empty verdict string's closing quote */
    sbuf_printf(&b, "\"%s\",\"document_hash\":\"%s\",\"ruleset_fingerprint\":\"%s\","
                    "\"document_bytes\":%zu,\"findings\":[",
                loki_risk_name(lv->overall_risk), lv->document_hash, s->fingerprint, len);
    findings_json(lv, block_sev, &b, v);
    if ((int)lv->overall_risk >= px->block_risk && px->block_risk < 4) {
        v->verdict = PX_BLOCKED;
        if (!v->reason[0])
            snprintf(v->reason, sizeof v->reason, "overall risk %s",
                     loki_risk_name(lv->overall_risk));
    } else if (lv->overall_risk > LOKI_RISK_LOW) {
        v->verdict = PX_FLAGGED;
    }
    sbuf_printf(&b, "],\"check_ms\":%.3f}", v->check_ms);
    loki_verdict_destroy(lv);
    /* Splice the verdict name in now that it is known. */
    sbuf out;
    sbuf_init(&out);
    if (b.oom) {
        out.oom = 1; /* b holds a truncated object: fail below rather than send it */
    } else {
        sbuf_put(&out, b.p, verdict_at);
        sbuf_puts(&out, px_verdict_name(v->verdict));
        sbuf_put(&out, b.p + verdict_at, b.len - verdict_at);
    }
    sbuf_release(&b);
    v->loki_json = sbuf_take(&out, &v->loki_len);
    if (!v->loki_json) {
        v->ok = 0;
        snprintf(v->reason, sizeof v->reason, "out of memory");
    }
}

void px_verdict_release(px_verdict *v)
{
    free(v->loki_json);
    v->loki_json = NULL;
}

/* ---- bodies ----------------------------------------------------------------------------- */

char *px_add_loki(const char *body, size_t len, const char *loki, size_t loki_len,
                  size_t *out_len)
{
    size_t a = 0, z = len;
    while (a < z && strchr(" \t\r\n", body[a]))
        a++;
    while (z > a && strchr(" \t\r\n", body[z - 1]))
        z--;
    if (z - a < 2 || body[a] != '{' || body[z - 1] != '}')
        return NULL;
    size_t inner = a + 1;
    while (inner < z - 1 && strchr(" \t\r\n", body[inner]))
        inner++;
    int empty = inner == z - 1;
    sbuf b;
    sbuf_init(&b);
    sbuf_put(&b, body, z - 1);
    sbuf_puts(&b, empty ? "\"loki\":" : ",\"loki\":");
    sbuf_put(&b, loki, loki_len);
    sbuf_puts(&b, "}");
    return sbuf_take(&b, out_len);
}

char *px_error_body(int api, unsigned status, const char *code, const char *msg,
                    const char *loki_json, size_t loki_len, size_t *len)
{
    char *err = NULL;
    size_t n = 0;
    if (loki_provider_render_error(kind_of(api), (int)status, NULL, code, msg, strlen(msg), 0,
                                   &err, &n) != LOKI_OK)
        return NULL;
    if (!loki_json) {
        *len = n;
        return err;
    }
    char *out = px_add_loki(err, n, loki_json, loki_len, len);
    free(err);
    return out;
}

/* ---- bookkeeping ------------------------------------------------------------------------ */

static const uint64_t tok_bounds[PX_TOK_BUCKETS] = {1,     4,      16,     64,      256,
                                                    1024,  4096,   16384,  65536,   262144,
                                                    1048576, 4194304, 16777216, 67108864};

static void tok_observe(px_tok_hist *h, int64_t n)
{
    if (n < 0)
        return;
    int i = 0;
    while (i < PX_TOK_BUCKETS && (uint64_t)n > tok_bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, (uint64_t)n, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

void px_count(srv *s, int api, int stream, int result, const loki_provider_result *r)
{
    px_metrics *m = &s->proxy->m;
    atomic_fetch_add_explicit(&m->requests[api][stream ? 1 : 0][result], 1,
                              memory_order_relaxed);
    if (r && r->ttfb_ms > 0)
        srv_hist_observe(&m->ttft[api], r->ttfb_ms / 1000);
    if (r && r->status >= 200 && r->status < 300) {
        tok_observe(&m->tokens[api][0], r->input_tokens);
        tok_observe(&m->tokens[api][1], r->output_tokens);
    }
}

void px_audit(srv *s, srv_req *q, int api, const px_verdict *v, double ms)
{
    if (!s->audit || !v->ok)
        return;
    audit_row row;
    memset(&row, 0, sizeof row);
    row.ts = s->now_unix();
    snprintf(row.client, sizeof row.client, "%s", q->client);
    snprintf(row.doc_type, sizeof row.doc_type, "ai_generated");
    size_t off = 0;
    srv_proxy *px = s->proxy;
    for (size_t i = 0; i < px->n_modules && off < sizeof row.modules; i++) {
        int n = snprintf(row.modules + off, sizeof row.modules - off, "%s%s", i ? "," : "",
                         px->modules[i]);
        if (n < 0)
            break;
        off += (size_t)n;
    }
    /* The route column carries the verdict: "/v1/messages:blocked". */
    snprintf(row.route, sizeof row.route, "%s:%s",
             api == PX_ANTHROPIC ? "/v1/messages" : "/v1/chat/completions",
             px_verdict_name(v->verdict));
    row.duration_ms = ms;
    row.sum = v->sum;
    audit_log(s->audit, &row);
}

static void set_retry_after(srv_req *q, unsigned status, int64_t ms)
{
    if (ms < 0)
        return;
    double secs = ceil((double)ms / 1000.0);
    if (secs < 1)
        secs = 1;
    q->retry_after = secs;
    if (status != 429) { /* http.c adds it for 429 from q->retry_after */
        char v[32];
        snprintf(v, sizeof v, "%.0f", secs);
        srv_add_header(q, "Retry-After", v);
    }
}

static int reply_error(srv *s, srv_req *q, int api, unsigned status, const char *code,
                       const char *msg)
{
    size_t len = 0;
    char *body = px_error_body(api, status, code, msg, NULL, 0, &len);
    return srv_reply(s, q, status, "application/json", body, len);
}

/* An upstream call that produced no usable answer: map it to a status the SDKs understand. */
static int reply_failure(srv *s, srv_req *q, const px_call *c, loki_status st,
                         const loki_provider_result *r, const loki_error *err, int *result)
{
    unsigned status = 502;
    const char *code = "upstream_error";
    *result = PR_FAILED;
    if (st == LOKI_ECIRCUIT_OPEN) {
        status = 503;
        code = "circuit_open";
        *result = PR_BREAKER_OPEN;
        set_retry_after(q, status, r->retry_after_ms);
    } else if (st == LOKI_ELIMIT && r->retry_after_ms >= 0) {
        status = 429;
        code = "rate_limited";
        *result = PR_RATE_LIMITED;
        set_retry_after(q, status, r->retry_after_ms);
    } else if (st == LOKI_ETIMEOUT) {
        status = 504;
        code = "upstream_timeout";
    } else if (st == LOKI_EINVAL) {
        status = 400;
        code = "invalid_request";
    } else if (st == LOKI_ENOMEM) {
        status = 503;
        code = "out_of_memory";
    }
    if (r->streamed && !r->stream_complete)
        *result = PR_TRUNCATED;
    char msg[700];
    snprintf(msg, sizeof msg, "LOKI: %s", err->message[0] ? err->message : loki_strerror(st));
    return reply_error(s, q, c->api, status, code, msg);
}

static void verdict_headers(srv_req *q, const px_verdict *v)
{
    srv_add_header(q, "x-loki-risk", loki_risk_name(v->risk));
    srv_add_header(q, "x-loki-verdict", px_verdict_name(v->verdict));
}

static int reply_answer(srv *s, srv_req *q, const px_call *c, loki_provider_result *r,
                        double t0)
{
    px_verdict v;
    px_check(s, r->text ? r->text : "", r->text_len, &v);
    int rc;
    if (!v.ok) {
        px_count(s, c->api, c->stream, PR_FAILED, r);
        rc = reply_error(s, q, c->api, 502, "loki_check_failed", v.reason);
        px_verdict_release(&v);
        return rc;
    }
    atomic_fetch_add_explicit(&s->proxy->m.verdicts[c->api][v.verdict], 1, memory_order_relaxed);
    px_count(s, c->api, c->stream, v.verdict == PX_BLOCKED ? PR_BLOCKED : PR_OK, r);
    px_audit(s, q, c->api, &v, (s->now() - t0) * 1000);
    verdict_headers(q, &v);
    size_t len = 0;
    char *body;
    unsigned status = (unsigned)r->status;
    if (v.verdict == PX_BLOCKED) {
        char msg[700];
        snprintf(msg, sizeof msg, "LOKI blocked this answer (risk %s): %s",
                 loki_risk_name(v.risk), v.reason);
        status = 422;
        body = px_error_body(c->api, status, "loki_blocked", msg, v.loki_json, v.loki_len, &len);
    } else {
        body = px_add_loki(r->body ? r->body : "", r->body_len, v.loki_json, v.loki_len, &len);
        if (!body) { /* not a JSON object (cannot happen for a parsed 2xx): relay it as is */
            body = loki__malloc(r->body_len + 1);
            if (body) {
                memcpy(body, r->body ? r->body : "", r->body_len);
                len = r->body_len;
            }
        }
    }
    px_verdict_release(&v);
    return srv_reply(s, q, status, "application/json", body, len);
}

int px_respond(srv *s, srv_req *q, const px_call *c, loki_status st, loki_provider_result *r,
               const loki_error *err, double t0)
{
    int rc, result = PR_UPSTREAM_ERROR;
    if (st == LOKI_OK && r->status >= 200 && r->status < 300 && !r->streamed) {
        rc = reply_answer(s, q, c, r, t0);
    } else if (st == LOKI_OK && r->status >= 300 && !r->streamed) {
        /* The provider's own error: relay status and body unchanged. */
        set_retry_after(q, (unsigned)r->status, r->retry_after_ms);
        char *body = loki__malloc(r->body_len + 1);
        if (body)
            memcpy(body, r->body ? r->body : "", r->body_len);
        px_count(s, c->api, c->stream, result, r);
        rc = srv_reply(s, q, (unsigned)r->status,
                       r->content_type ? r->content_type : "application/json", body,
                       r->body_len);
    } else {
        rc = reply_failure(s, q, c, st == LOKI_OK ? LOKI_EIO : st, r, err, &result);
        px_count(s, c->api, c->stream, result, r);
    }
    srv_hist_observe(&s->proxy->m.duration[c->api], s->now() - t0);
    return rc;
}

/* ---- requests --------------------------------------------------------------------------- */

/* Appends the text of a content value (a string, or an array of {type: text, text}). */
static void content_text(const cJSON *c, sbuf *out)
{
    if (cJSON_IsString(c)) {
        sbuf_puts(out, c->valuestring);
        sbuf_puts(out, "\n\n");
        return;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, c)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "text");
        if (cJSON_IsString(t)) {
            sbuf_puts(out, t->valuestring);
            sbuf_puts(out, "\n\n");
        }
    }
}

static void prompt_text(const cJSON *root, sbuf *out)
{
    content_text(cJSON_GetObjectItemCaseSensitive(root, "system"), out);
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "messages"))
    content_text(cJSON_GetObjectItemCaseSensitive(it, "content"), out);
}

/* Returns 1 when the prompt is blocked (a reply was queued). */
static int check_prompt(srv *s, srv_req *q, const px_call *c, const cJSON *root, int *rc)
{
    sbuf p;
    sbuf_init(&p);
    prompt_text(root, &p);
    if (p.oom || !p.len) {
        sbuf_release(&p);
        return 0;
    }
    px_verdict v;
    px_check(s, p.p, p.len, &v);
    sbuf_release(&p);
    if (!v.ok || v.verdict != PX_BLOCKED) {
        px_verdict_release(&v);
        return 0;
    }
    char msg[700];
    snprintf(msg, sizeof msg, "LOKI blocked this prompt (risk %s): %s", loki_risk_name(v.risk),
             v.reason);
    verdict_headers(q, &v);
    size_t len = 0;
    char *body = px_error_body(c->api, 422, "loki_prompt_blocked", msg, v.loki_json, v.loki_len,
                               &len);
    px_verdict_release(&v);
    px_count(s, c->api, c->stream, PR_PROMPT_BLOCKED, NULL);
    *rc = srv_reply(s, q, 422, "application/json", body, len);
    return 1;
}

static void forward_header(srv_req *q, px_call *c, const char *name)
{
    const char *v = srv_header(q, name);
    if (!v || c->n_headers == sizeof c->headers / sizeof c->headers[0])
        return;
    snprintf(c->hbuf[c->n_headers], sizeof c->hbuf[0], "%s: %s", name, v);
    c->headers[c->n_headers] = c->hbuf[c->n_headers];
    c->n_headers++;
}

static const char *client_key(srv *s, srv_req *q, int api)
{
    if (s->n_keys) /* the key the client presented is LOKI's own, not a provider key */
        return NULL;
    const char *k = api == PX_ANTHROPIC ? srv_header(q, "x-api-key") : NULL;
    const char *auth = srv_header(q, "Authorization");
    if (!k && auth && !strncasecmp(auth, "Bearer ", 7))
        k = auth + 7;
    return k;
}

static int proxy_route(srv *s, srv_req *q, int api)
{
    double t0 = s->now();
    if (!s->proxy)
        return reply_error(s, q, api, 503, "unavailable", "LOKI: the interceptor is not set up");
    int oom = 0;
    cJSON *root = q->body.len ? srv_json_parse(q->body.p, q->body.len, NULL, &oom) : NULL;
    if (oom)
        return reply_error(s, q, api, 503, "out_of_memory", "LOKI: out of memory; try again");
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return reply_error(s, q, api, 400, "invalid_json",
                           "LOKI: the request body must be a JSON object");
    }
    px_call c;
    memset(&c, 0, sizeof c);
    c.api = api;
    c.stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "stream"));
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (cJSON_IsString(model))
        snprintf(c.model, sizeof c.model, "%s", model->valuestring);
    if (api == PX_ANTHROPIC) {
        forward_header(q, &c, "anthropic-version");
        forward_header(q, &c, "anthropic-beta");
    } else {
        forward_header(q, &c, "openai-organization");
        forward_header(q, &c, "openai-project");
    }
    c.client_key = client_key(s, q, api);
    int rc = 0;
    if (s->cfg.proxy_validate_prompt && check_prompt(s, q, &c, root, &rc)) {
        cJSON_Delete(root);
        return rc;
    }
    cJSON_Delete(root);
    if (c.stream)
        return px_stream(s, q, &c, t0);
    loki_provider_request rq;
    memset(&rq, 0, sizeof rq);
    rq.body = q->body.p;
    rq.body_len = q->body.len;
    rq.client_api_key = c.client_key;
    rq.headers = c.headers;
    rq.n_headers = c.n_headers;
    loki_provider_result r;
    loki_provider_result_init(&r);
    loki_error err;
    memset(&err, 0, sizeof err);
    loki_status st = loki_provider_call(s->proxy->prov[api], &rq, &r, &err);
    rc = px_respond(s, q, &c, st, &r, &err, t0);
    loki_provider_result_release(&r);
    return rc;
}

int route_proxy_messages(srv *s, srv_req *q)
{
    return proxy_route(s, q, PX_ANTHROPIC);
}

int route_proxy_chat(srv *s, srv_req *q)
{
    return proxy_route(s, q, PX_OPENAI);
}

/* ---- health and metrics ----------------------------------------------------------------- */

static int64_t now_ms(srv *s)
{
    return (int64_t)(s->now() * 1000);
}

void srv_proxy_health(srv *s, sbuf *b)
{
    srv_proxy *px = s->proxy;
    if (!px)
        return;
    sbuf_puts(b, ",\"providers\":{");
    for (int i = 0; i < PX__N; i++) {
        loki_provider_stats ps;
        loki_breaker_stats bs;
        loki_provider_stats_get(px->prov[i], &ps);
        loki_breaker_stats_get(loki_provider_breaker(px->prov[i]), now_ms(s), &bs);
        sbuf_printf(b, "%s\"%s\":{\"breaker\":{\"state\":\"%s\",\"opened\":%llu,"
                       "\"half_opened\":%llu,\"closed\":%llu,\"rejected\":%llu,"
                       "\"window_calls\":%u,\"window_failures\":%u},",
                    i ? "," : "", loki_provider_name(px->prov[i]),
                    loki_circuit_state_name(bs.state), (unsigned long long)bs.opened,
                    (unsigned long long)bs.half_opened, (unsigned long long)bs.closed,
                    (unsigned long long)bs.rejected, bs.window_calls, bs.window_failures);
        sbuf_printf(b, "\"calls\":%llu,\"attempts\":%llu,\"retries\":%llu,\"successes\":%llu,"
                       "\"failures\":%llu,\"rejected_open\":%llu,\"rejected_rate\":%llu,"
                       "\"budget_exhausted\":%llu,\"input_tokens\":%llu,\"output_tokens\":%llu}",
                    (unsigned long long)ps.calls, (unsigned long long)ps.attempts,
                    (unsigned long long)ps.retries, (unsigned long long)ps.successes,
                    (unsigned long long)ps.failures, (unsigned long long)ps.rejected_open,
                    (unsigned long long)ps.rejected_rate, (unsigned long long)ps.budget_exhausted,
                    (unsigned long long)ps.input_tokens, (unsigned long long)ps.output_tokens);
    }
    sbuf_puts(b, "}");
}

static const double sec_bounds[SRV_N_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                 0.025,  0.05,  0.1,    0.25,  0.5,
                                                 1,      2.5,   5,      10};

static void hist_series(sbuf *o, const char *name, const char *labels, srv_hist *h)
{
    uint64_t cum = 0;
    for (int i = 0; i <= SRV_N_BUCKETS; i++) {
        cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        if (i < SRV_N_BUCKETS)
            sbuf_printf(o, "%s_bucket{%s,le=\"%g\"} %llu\n", name, labels, sec_bounds[i],
                        (unsigned long long)cum);
        else
            sbuf_printf(o, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels,
                        (unsigned long long)cum);
    }
    sbuf_printf(o, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, labels,
                (double)h->sum_us / 1e6, name, labels, (unsigned long long)cum);
}

static void tok_series(sbuf *o, const char *name, const char *labels, px_tok_hist *h)
{
    uint64_t cum = 0;
    for (int i = 0; i <= PX_TOK_BUCKETS; i++) {
        cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        if (i < PX_TOK_BUCKETS)
            sbuf_printf(o, "%s_bucket{%s,le=\"%llu\"} %llu\n", name, labels,
                        (unsigned long long)tok_bounds[i], (unsigned long long)cum);
        else
            sbuf_printf(o, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels,
                        (unsigned long long)cum);
    }
    sbuf_printf(o, "%s_sum{%s} %llu\n%s_count{%s} %llu\n", name, labels,
                (unsigned long long)h->sum, name, labels, (unsigned long long)cum);
}

static void family(sbuf *o, const char *name, const char *type, const char *help)
{
    sbuf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_requests(srv_proxy *px, sbuf *o)
{
    family(o, "loki_proxy_requests_total", "counter",
           "Proxied LLM requests by API, streaming and result.");
    for (int a = 0; a < PX__N; a++)
        for (int st = 0; st < 2; st++)
            for (int r = 0; r < PR__N; r++) {
                uint64_t v = px->m.requests[a][st][r];
                if (v)
                    sbuf_printf(o, "loki_proxy_requests_total{gen_ai_system=\"%s\",stream=\"%s\","
                                   "result=\"%s\"} %llu\n",
                                api_system[a], st ? "true" : "false", result_names[r],
                                (unsigned long long)v);
            }
    family(o, "loki_proxy_verdicts_total", "counter", "Checked answers by verdict.");
    for (int a = 0; a < 2; a++)
        for (int v = 0; v < 3; v++)
            sbuf_printf(o, "loki_proxy_verdicts_total{gen_ai_system=\"%s\",verdict=\"%s\"} %llu\n",
                        api_system[a], verdict_names[v],
                        (unsigned long long)px->m.verdicts[a][v]);
    char lab[128];
    family(o, "loki_gen_ai_client_operation_duration_seconds", "histogram",
           "Proxied call duration, validation included (OTel gen_ai.client.operation.duration).");
    for (int a = 0; a < 2; a++) {
        snprintf(lab, sizeof lab, "gen_ai_system=\"%s\",gen_ai_operation_name=\"chat\"",
                 api_system[a]);
        hist_series(o, "loki_gen_ai_client_operation_duration_seconds", lab, &px->m.duration[a]);
    }
    family(o, "loki_gen_ai_server_time_to_first_token_seconds", "histogram",
           "Time to the first upstream response byte (OTel gen_ai.server.time_to_first_token, "
           "seen from LOKI).");
    for (int a = 0; a < 2; a++) {
        snprintf(lab, sizeof lab, "gen_ai_system=\"%s\",gen_ai_operation_name=\"chat\"",
                 api_system[a]);
        hist_series(o, "loki_gen_ai_server_time_to_first_token_seconds", lab, &px->m.ttft[a]);
    }
    family(o, "loki_gen_ai_client_token_usage", "histogram",
           "Tokens per call as the provider reports them (OTel gen_ai.client.token.usage).");
    for (int a = 0; a < 2; a++)
        for (int t = 0; t < 2; t++) {
            snprintf(lab, sizeof lab, "gen_ai_system=\"%s\",gen_ai_token_type=\"%s\"",
                     api_system[a], t ? "output" : "input");
            tok_series(o, "loki_gen_ai_client_token_usage", lab, &px->m.tokens[a][t]);
        }
    family(o, "loki_proxy_check_duration_seconds", "histogram",
           "Engine time per check of a proxied answer or stream prefix.");
    hist_series(o, "loki_proxy_check_duration_seconds", "api=\"all\"", &px->m.check);
    family(o, "loki_proxy_stream_checks_total", "counter", "Incremental checks of stream prefixes.");
    sbuf_printf(o, "loki_proxy_stream_checks_total %llu\n",
                (unsigned long long)px->m.stream_checks);
    family(o, "loki_proxy_stream_blocked_total", "counter",
           "Streams ended by a block, by when (midway: before the upstream finished).");
    sbuf_printf(o, "loki_proxy_stream_blocked_total{when=\"midway\"} %llu\n",
                (unsigned long long)px->m.stream_blocked_midway);
    family(o, "loki_proxy_stream_leaked_total", "counter",
           "Blocked streams whose offending span had already been relayed (window too small).");
    sbuf_printf(o, "loki_proxy_stream_leaked_total %llu\n",
                (unsigned long long)px->m.stream_leaked);
}

static void render_providers(srv *s, sbuf *o)
{
    srv_proxy *px = s->proxy;
    loki_provider_stats ps[PX__N];
    loki_breaker_stats bs[PX__N];
    for (int i = 0; i < PX__N; i++) {
        loki_provider_stats_get(px->prov[i], &ps[i]);
        loki_breaker_stats_get(loki_provider_breaker(px->prov[i]), now_ms(s), &bs[i]);
    }
#define PROV_COUNTER(fname, help, field)                                                       \
    family(o, fname, "counter", help);                                                         \
    for (int i = 0; i < PX__N; i++)                                                            \
        sbuf_printf(o, fname "{provider=\"%s\"} %llu\n", loki_provider_name(px->prov[i]),      \
                    (unsigned long long)ps[i].field);
    PROV_COUNTER("loki_provider_calls_total", "Upstream calls (retries not counted).", calls)
    PROV_COUNTER("loki_provider_attempts_total", "Upstream attempts.", attempts)
    PROV_COUNTER("loki_provider_retries_total", "Upstream attempts after the first.", retries)
    PROV_COUNTER("loki_provider_failures_total", "Calls ending in a transport error, 5xx or a cut "
                 "stream.", failures)
    PROV_COUNTER("loki_provider_retry_budget_exhausted_total", "Retries refused by the budget.",
                 budget_exhausted)
#undef PROV_COUNTER
    family(o, "loki_provider_rejected_total", "counter",
           "Calls refused before any attempt, by reason.");
    for (int i = 0; i < PX__N; i++)
        sbuf_printf(o, "loki_provider_rejected_total{provider=\"%s\",reason=\"breaker_open\"} %llu\n"
                       "loki_provider_rejected_total{provider=\"%s\",reason=\"rate_limit\"} %llu\n",
                    loki_provider_name(px->prov[i]), (unsigned long long)ps[i].rejected_open,
                    loki_provider_name(px->prov[i]), (unsigned long long)ps[i].rejected_rate);
    family(o, "loki_provider_breaker_state", "gauge",
           "1 for the state each provider's circuit breaker is in.");
    static const char *const states[3] = {"closed", "open", "half_open"};
    for (int i = 0; i < PX__N; i++)
        for (int k = 0; k < 3; k++)
            sbuf_printf(o, "loki_provider_breaker_state{provider=\"%s\",state=\"%s\"} %d\n",
                        loki_provider_name(px->prov[i]), states[k], (int)bs[i].state == k);
    family(o, "loki_provider_breaker_transitions_total", "counter",
           "Circuit breaker transitions by target state.");
    for (int i = 0; i < PX__N; i++) {
        const char *n = loki_provider_name(px->prov[i]);
        sbuf_printf(o,
                    "loki_provider_breaker_transitions_total{provider=\"%s\",to=\"open\"} %llu\n"
                    "loki_provider_breaker_transitions_total{provider=\"%s\",to=\"half_open\"} "
                    "%llu\n"
                    "loki_provider_breaker_transitions_total{provider=\"%s\",to=\"closed\"} %llu\n",
                    n, (unsigned long long)bs[i].opened, n, (unsigned long long)bs[i].half_opened,
                    n, (unsigned long long)bs[i].closed);
    }
}

void srv_proxy_metrics(srv *s, sbuf *o)
{
    if (!s->proxy)
        return;
    render_requests(s->proxy, o);
    render_providers(s, o);
}
