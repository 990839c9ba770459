/* SPDX-License-Identifier: MIT */
/* Route handlers: request parsing with precise 400s (JSON position, wrong types, unknown
 * modules), validation (single, LOKI shape, batch in parallel), catalog, health, stats,
 * cache, audit analytics and Prometheus metrics. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "loki/cache.h"
#include <openssl/evp.h>

#include "loki/extract.h"
#include "server.h"

/* ---- request parsing -------------------------------------------------------------------- */

/* cJSON allocates through libloki's wrapper like the rest of the server; a failed allocation
 * is noted per thread so that running out of memory is not reported as malformed JSON. */
static _Thread_local int json_oom;

static void *json_malloc(size_t n)
{
    void *p = loki__malloc(n);
    if (!p)
        json_oom = 1;
    return p;
}

void srv_json_init(void)
{
    cJSON_Hooks h = {json_malloc, free};
    cJSON_InitHooks(&h);
}

cJSON *srv_json_parse(const char *p, size_t n, const char **end, int *oom)
{
    json_oom = 0;
    cJSON *root = cJSON_ParseWithLengthOpts(p, n, end, 0);
    *oom = !root && json_oom;
    return root;
}

/* Parses the body as JSON; on failure replies 400 with the byte offset, line and column (503
 * when memory ran out). */
static cJSON *parse_json(srv *s, srv_req *q)
{
    if (q->body.len == 0) {
        srv_error(s, q, 400, "invalid_json", "request body is empty; expected a JSON object");
        return NULL;
    }
    const char *end = NULL;
    int oom = 0;
    cJSON *root = srv_json_parse(q->body.p, q->body.len, &end, &oom);
    if (oom) {
        srv_error(s, q, 503, "out_of_memory", "out of memory parsing the request");
        return NULL;
    }
    if (root) {
        /* cJSON stops after the first value; anything but whitespace after it is an error. */
        const char *p = end, *lim = q->body.p + q->body.len;
        while (p < lim && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
            p++;
        if (p == lim)
            return root;
        cJSON_Delete(root);
        end = p;
    }
    size_t off = end && end >= q->body.p ? (size_t)(end - q->body.p) : 0;
    if (off > q->body.len)
        off = q->body.len;
    unsigned line = 1, col = 1;
    for (size_t i = 0; i < off; i++) {
        if (q->body.p[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    srv_error(s, q, 400, "invalid_json", "malformed JSON at byte %zu (line %u, column %u)", off,
              line, col);
    return NULL;
}

typedef struct perr {
    unsigned status;
    char code[32];
    char msg[512];
} perr;

static int type_err(perr *e, const char *field, const char *want)
{
    e->status = 400;
    snprintf(e->code, sizeof e->code, "invalid_type");
    snprintf(e->msg, sizeof e->msg, "'%s' must be %s", field, want);
    return -1;
}

/* Reads modules / document_type / options from obj into v (keeping v's defaults when absent). */
static int parse_params(const cJSON *obj, vreq *v, perr *e)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "document_type");
    if (t && !cJSON_IsNull(t)) {
        if (!cJSON_IsString(t))
            return type_err(e, "document_type", "a string");
        v->doc_type = t->valuestring;
    }
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "modules");
    if (m && !cJSON_IsNull(m)) {
        if (!cJSON_IsArray(m))
            return type_err(e, "modules", "an array of module ids");
        v->n_modules = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, m)
        {
            if (!cJSON_IsString(it))
                return type_err(e, "modules", "an array of strings");
            if (v->n_modules == SRV_MAX_MODULES)
                return type_err(e, "modules", "at most 64 ids");
            v->modules[v->n_modules++] = it->valuestring;
        }
    }
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(obj, "options");
    if (o && !cJSON_IsNull(o)) {
        if (!cJSON_IsObject(o))
            return type_err(e, "options", "an object");
        const cJSON *it;
        cJSON_ArrayForEach(it, o)
        {
            unsigned flag = 0;
            if (!strcmp(it->string, "no_universal"))
                flag = 0;
            else if (!strcmp(it->string, "pretty"))
                flag = LOKI_JSON_PRETTY;
            else if (!strcmp(it->string, "no_timings"))
                flag = LOKI_JSON_NO_TIMINGS;
            else {
                e->status = 400;
                snprintf(e->code, sizeof e->code, "invalid_option");
                snprintf(e->msg, sizeof e->msg,
                         "unknown option '%.64s' (known: no_universal, pretty, no_timings)",
                         it->string);
                return -1;
            }
            if (!cJSON_IsBool(it))
                return type_err(e, "options values", "booleans");
            int on = cJSON_IsTrue(it);
            if (!flag)
                v->no_universal = on;
            else if (on)
                v->json_flags |= flag;
            else
                v->json_flags &= ~flag;
        }
    }
    return 0;
}

static int parse_doc(const cJSON *obj, vreq *v, perr *e)
{
    if (!cJSON_IsObject(obj)) {
        e->status = 400;
        snprintf(e->code, sizeof e->code, "invalid_type");
        snprintf(e->msg, sizeof e->msg, "expected a JSON object with a 'text' string");
        return -1;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "text");
    if (!t) {
        e->status = 400;
        snprintf(e->code, sizeof e->code, "missing_field");
        snprintf(e->msg, sizeof e->msg, "'text' is required");
        return -1;
    }
    if (!cJSON_IsString(t))
        return type_err(e, "text", "a string");
    v->text = t->valuestring;
    v->len = strlen(t->valuestring);
    return parse_params(obj, v, e);
}

static int is_text_plain(srv_req *q)
{
    const char *ct = srv_header(q, "Content-Type");
    return ct && strncasecmp(ct, "text/plain", 10) == 0;
}

static int is_json_or_none(srv_req *q)
{
    const char *ct = srv_header(q, "Content-Type");
    if (!ct || !*ct)
        return 1;
    if (strncasecmp(ct, "application/json", 16) == 0)
        return 1;
    const char *semi = strchr(ct, ';');
    size_t n = semi ? (size_t)(semi - ct) : strlen(ct);
    return n >= 5 && strncasecmp(ct + n - 5, "+json", 5) == 0;
}

/* text/plain: the body is the document; parameters come from the query string. */
static int parse_plain(srv_req *q, vreq *v, char *mods_buf, size_t mods_sz, perr *e)
{
    v->text = q->body.p ? q->body.p : "";
    v->len = q->body.len;
    v->doc_type = srv_arg(q, "document_type");
    const char *m = srv_arg(q, "modules");
    if (m && *m) {
        snprintf(mods_buf, mods_sz, "%s", m);
        char *save = NULL;
        for (char *tok = strtok_r(mods_buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            if (!*tok)
                continue;
            if (v->n_modules == SRV_MAX_MODULES)
                return type_err(e, "modules", "at most 64 ids");
            v->modules[v->n_modules++] = tok;
        }
    }
    const char *nu = srv_arg(q, "no_universal");
    v->no_universal = nu && (!strcmp(nu, "1") || !strcmp(nu, "true"));
    const char *pr = srv_arg(q, "pretty");
    if (pr && (!strcmp(pr, "1") || !strcmp(pr, "true")))
        v->json_flags |= LOKI_JSON_PRETTY;
    return 0;
}

static void audit_one(srv *s, srv_req *q, const vreq *v, const vres *r, double ms)
{
    if (!s->audit || r->status != 200)
        return;
    audit_row row;
    memset(&row, 0, sizeof row);
    row.ts = s->now_unix();
    snprintf(row.client, sizeof row.client, "%s", q->client);
    snprintf(row.doc_type, sizeof row.doc_type, "%s", v->doc_type ? v->doc_type : "unknown");
    size_t off = 0;
    for (size_t i = 0; i < v->n_modules && off < sizeof row.modules; i++) {
        int n = snprintf(row.modules + off, sizeof row.modules - off, "%s%s", i ? "," : "",
                         v->modules[i]);
        if (n < 0)
            break;
        off += (size_t)n;
    }
    snprintf(row.route, sizeof row.route, "%s", srv_route_names[q->route]);
    row.cache_hit = r->cache_hit;
    row.duration_ms = ms;
    row.sum = r->sum;
    audit_log(s->audit, &row);
}

/* Document uploads: a body whose Content-Type names a document format, or a JSON field
 * "document_base64" (+ "filename"), is turned into text by the extractors. */
static const char *const doc_types_ct[] = {
    "application/pdf", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "text/html", "text/markdown", "message/rfc822", "application/octet-stream", NULL};

static int is_document_body(srv_req *q)
{
    const char *ct = srv_header(q, "Content-Type");
    for (size_t i = 0; ct && doc_types_ct[i]; i++)
        if (strncasecmp(ct, doc_types_ct[i], strlen(doc_types_ct[i])) == 0)
            return 1;
    return 0;
}

/* Decodes standard base64 (whitespace not allowed). Returns a malloc'd buffer, or NULL with
 * *oom set when memory ran out (clear when the input is not base64). */
static unsigned char *b64_decode(const char *in, size_t n, size_t *out_len, int *oom)
{
    *oom = 0;
    if (n % 4 != 0 || n > (size_t)INT32_MAX)
        return NULL;
    unsigned char *out = loki__malloc(n / 4 * 3 + 1);
    if (!out) {
        *oom = 1;
        return NULL;
    }
    int k = n ? EVP_DecodeBlock(out, (const unsigned char *)in, (int)n) : 0;
    if (k < 0) {
        free(out);
        return NULL;
    }
    size_t pad = (n >= 1 && in[n - 1] == '=') + (n >= 2 && in[n - 2] == '=');
    *out_len = (size_t)k - pad;
    return out;
}

/* Extracts text; on failure answers with 413 (limits), 415 (unknown format) or 400. */
static int extract_upload(srv *s, srv_req *q, const void *data, size_t len, const char *name,
                          loki_extracted **ex, vreq *v)
{
    loki_extract_options xo;
    loki_extract_options_default(&xo);
    xo.max_input_bytes = len + 1;
    loki_error err;
    loki_status st = loki_extract(data, len, name, &xo, ex, &err);
    if (st == LOKI_ELIMIT)
        return srv_error(s, q, 413, "document_too_large", "%s", err.message), -1;
    if (st == LOKI_EINVAL)
        return srv_error(s, q, 415, "unsupported_document", "%s", err.message), -1;
    if (st == LOKI_ENOMEM)
        return srv_error(s, q, 503, "out_of_memory", "out of memory; try again"), -1;
    if (st != LOKI_OK)
        return srv_error(s, q, 400, "invalid_document", "%s", err.message), -1;
    v->text = loki_extracted_text(*ex, &v->len);
    return 0;
}

/* Shared by /api/validate and the LOKI paths. */
static int validate_common(srv *s, srv_req *q, int loki_shape)
{
    vreq v;
    perr e = {0};
    char mods_buf[2048];
    cJSON *root = NULL;
    loki_extracted *ex = NULL;
    memset(&v, 0, sizeof v);
    if (is_text_plain(q)) {
        if (parse_plain(q, &v, mods_buf, sizeof mods_buf, &e) != 0)
            return srv_error(s, q, e.status, e.code, "%s", e.msg);
    } else if (is_document_body(q)) {
        if (parse_plain(q, &v, mods_buf, sizeof mods_buf, &e) != 0)
            return srv_error(s, q, e.status, e.code, "%s", e.msg);
        if (extract_upload(s, q, q->body.p ? q->body.p : "", q->body.len,
                           srv_arg(q, "filename"), &ex, &v) != 0)
            return 0;
    } else if (is_json_or_none(q)) {
        root = parse_json(s, q);
        if (!root)
            return 0;
        const cJSON *b64 = cJSON_GetObjectItemCaseSensitive(root, "document_base64");
        if (b64 && !cJSON_GetObjectItemCaseSensitive(root, "text")) {
            if (!cJSON_IsString(b64)) {
                cJSON_Delete(root);
                return srv_error(s, q, 400, "invalid_type", "'document_base64' must be a string");
            }
            size_t bl = 0;
            int oom = 0;
            unsigned char *bytes =
                b64_decode(b64->valuestring, strlen(b64->valuestring), &bl, &oom);
            if (!bytes) {
                cJSON_Delete(root);
                if (oom)
                    return srv_error(s, q, 503, "out_of_memory", "out of memory; try again");
                return srv_error(s, q, 400, "invalid_base64",
                                 "'document_base64' is not valid base64");
            }
            const cJSON *fn = cJSON_GetObjectItemCaseSensitive(root, "filename");
            int r = extract_upload(s, q, bytes, bl, cJSON_IsString(fn) ? fn->valuestring : NULL,
                                   &ex, &v);
            free(bytes);
            if (r != 0 || parse_params(root, &v, &e) != 0) {
                cJSON_Delete(root);
                loki_extracted_destroy(ex);
                return r != 0 ? 0 : srv_error(s, q, e.status, e.code, "%s", e.msg);
            }
        } else if (parse_doc(root, &v, &e) != 0) {
            cJSON_Delete(root);
            return srv_error(s, q, e.status, e.code, "%s", e.msg);
        }
    } else {
        return srv_error(s, q, 415, "unsupported_media_type",
                         "send application/json ({\"text\": ...} or {\"document_base64\": ...}), "
                         "text/plain, or a document (PDF, DOCX, HTML, Markdown, e-mail)");
    }
    double t0 = s->now();
    vres r;
    srv_validate(s, &v, &r);
    q->cache_hit = r.cache_hit;
    audit_one(s, q, &v, &r, (s->now() - t0) * 1000);
    cJSON_Delete(root);
    loki_extracted_destroy(ex);
    if (r.status != 200)
        return srv_error(s, q, r.status, r.code, "%s", r.msg);
    if (!loki_shape)
        return srv_reply(s, q, 200, "application/json", r.json, r.len);
    size_t len = 0;
    char *body = srv_loki_shape(&r, &len);
    free(r.json);
    return srv_reply(s, q, 200, "application/json", body, len);
}

int route_validate(srv *s, srv_req *q)
{
    return validate_common(s, q, 0);
}

int route_validate_doc(srv *s, srv_req *q)
{
    return validate_common(s, q, 1);
}

/* ---- batch ------------------------------------------------------------------------------ */

typedef struct batch_item {
    vreq v;
    vres r;
    perr e;
    const char *id;
    double ms;
} batch_item;

typedef struct batch {
    srv *s;
    batch_item *items;
    size_t n;
    _Atomic size_t next;
} batch;

static void *batch_worker(void *arg)
{
    batch *b = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&b->next, 1);
        if (i >= b->n)
            break;
        batch_item *it = &b->items[i];
        if (it->e.status)
            continue;
        double t0 = b->s->now();
        srv_validate(b->s, &it->v, &it->r);
        it->ms = (b->s->now() - t0) * 1000;
    }
    return NULL;
}

static void run_batch(srv *s, batch *b)
{
    unsigned nt = s->cfg.batch_threads ? s->cfg.batch_threads : s->ncpu;
    if (nt > b->n)
        nt = (unsigned)b->n;
    if (nt > 32)
        nt = 32;
    pthread_t th[32];
    unsigned started = 0;
    for (unsigned i = 1; i < nt; i++)
        if (pthread_create(&th[started], NULL, batch_worker, b) == 0)
            started++;
    batch_worker(b); /* this thread works too; with no helpers it does everything */
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
}

static void batch_render(srv *s, srv_req *q, batch *b, sbuf *o)
{
    unsigned by_risk[4] = {0}, errors = 0;
    sbuf_printf(o, "{\"count\":%zu,\"results\":[", b->n);
    for (size_t i = 0; i < b->n; i++) {
        batch_item *it = &b->items[i];
        sbuf_printf(o, "%s{\"index\":%zu", i ? "," : "", i);
        if (it->id) {
            sbuf_puts(o, ",\"id\":");
            sbuf_json_str(o, it->id);
        }
        unsigned st = it->e.status ? it->e.status : it->r.status;
        if (st == 200) {
            by_risk[it->r.sum.risk & 3]++;
            sbuf_printf(o, ",\"status\":200,\"cache_hit\":%s,\"verdict\":",
                        it->r.cache_hit ? "true" : "false");
            sbuf_put(o, it->r.json, it->r.len);
            audit_one(s, q, &it->v, &it->r, it->ms);
        } else {
            errors++;
            sbuf_printf(o, ",\"status\":%u,\"error\":{\"code\":", st);
            sbuf_json_str(o, it->e.status ? it->e.code : it->r.code);
            sbuf_puts(o, ",\"message\":");
            sbuf_json_str(o, it->e.status ? it->e.msg : it->r.msg);
            sbuf_puts(o, "}");
        }
        sbuf_puts(o, "}");
        free(it->r.json);
        it->r.json = NULL;
    }
    sbuf_printf(o,
                "],\"summary\":{\"by_risk\":{\"LOW\":%u,\"MEDIUM\":%u,\"HIGH\":%u,"
                "\"CRITICAL\":%u},\"errors\":%u}}",
                by_risk[0], by_risk[1], by_risk[2], by_risk[3], errors);
}

int route_batch(srv *s, srv_req *q)
{
    if (!is_json_or_none(q))
        return srv_error(s, q, 415, "unsupported_media_type", "send application/json");
    cJSON *root = parse_json(s, q);
    if (!root)
        return 0;
    int rc;
    perr e = {0};
    vreq defaults;
    memset(&defaults, 0, sizeof defaults);
    const cJSON *docs = cJSON_GetObjectItemCaseSensitive(root, "documents");
    if (!cJSON_IsObject(root) || !docs) {
        rc = srv_error(s, q, 400, "missing_field", "'documents' (an array) is required");
        goto out;
    }
    if (!cJSON_IsArray(docs)) {
        rc = srv_error(s, q, 400, "invalid_type", "'documents' must be an array");
        goto out;
    }
    if (parse_params(root, &defaults, &e) != 0) {
        rc = srv_error(s, q, e.status, e.code, "%s", e.msg);
        goto out;
    }
    size_t n = (size_t)cJSON_GetArraySize(docs);
    if (n == 0 || n > s->cfg.batch_max) {
        rc = srv_error(s, q, n ? 413 : 400, n ? "too_many_documents" : "invalid_type",
                       "'documents' must hold 1 to %u documents (got %zu)", s->cfg.batch_max, n);
        goto out;
    }
    batch b = {.s = s, .n = n};
    b.items = loki__calloc(n, sizeof *b.items);
    if (!b.items) {
        rc = srv_error(s, q, 503, "out_of_memory", "out of memory");
        goto out;
    }
    size_t i = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, docs)
    {
        batch_item *it = &b.items[i++];
        it->v = defaults;
        if (cJSON_IsString(d)) {
            it->v.text = d->valuestring;
            it->v.len = strlen(d->valuestring);
            continue;
        }
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(d, "id");
        if (cJSON_IsString(id))
            it->id = id->valuestring;
        parse_doc(d, &it->v, &it->e);
    }
    run_batch(s, &b);
    sbuf o;
    sbuf_init(&o);
    batch_render(s, q, &b, &o);
    free(b.items);
    rc = srv_reply_json(s, q, 200, &o);
out:
    cJSON_Delete(root);
    return rc;
}

/* ---- catalog, health, stats ------------------------------------------------------------ */

int route_modules(srv *s, srv_req *q)
{
    char *p = loki__strdup(s->modules_json);
    return srv_reply(s, q, 200, "application/json", p, p ? strlen(p) : 0);
}

int route_gates(srv *s, srv_req *q)
{
    const char *mod = srv_arg(q, "module");
    if (!mod) {
        char *p = loki__strdup(s->gates_json);
        return srv_reply(s, q, 200, "application/json", p, p ? strlen(p) : 0);
    }
    const loki_module_info *mi = loki_engine_find_module(s->eng, mod);
    if (!mi) {
        vreq v = {.n_modules = 1};
        vres r;
        memset(&r, 0, sizeof r);
        v.modules[0] = mod;
        srv_check_modules(s, &v, &r);
        return srv_error(s, q, 400, r.code, "%s", r.msg);
    }
    sbuf b;
    sbuf_init(&b);
    sbuf_puts(&b, "{\"gates\":[");
    for (size_t k = 0; k < mi->n_gates; k++) {
        const loki_gate_info *gi = mi->gates[k];
        sbuf_puts(&b, k ? ",{\"module\":" : "{\"module\":");
        sbuf_json_str(&b, mi->id);
        sbuf_puts(&b, ",\"id\":");
        sbuf_json_str(&b, gi->id);
        sbuf_puts(&b, ",\"title\":");
        sbuf_json_str(&b, gi->title);
        sbuf_printf(&b, ",\"severity\":\"%s\",\"legal_source\":", loki_severity_name(gi->severity));
        sbuf_json_str(&b, gi->legal_source);
        sbuf_puts(&b, "}");
    }
    sbuf_printf(&b, "],\"count\":%zu}", mi->n_gates);
    return srv_reply_json(s, q, 200, &b);
}

static void cache_json(srv *s, sbuf *b)
{
    if (!s->cache) {
        sbuf_puts(b, "{\"enabled\":false}");
        return;
    }
    loki_cache_stats st;
    loki_cache_stats_get(s->cache, &st);
    sbuf_printf(b,
                "{\"enabled\":true,\"backend\":\"%s\",\"health\":\"%s\",\"breaker\":\"%s\","
                "\"hits\":%llu,\"misses\":%llu,\"hit_rate\":%.4f,\"entries\":%llu,"
                "\"bytes\":%llu,\"sets\":%llu,\"evictions\":%llu,\"expired\":%llu,"
                "\"computes\":%llu,\"shared\":%llu,\"redis_errors\":%llu,\"generation\":%llu,"
                "\"max_entries\":%zu,\"max_bytes\":%zu,\"ttl_seconds\":%u}",
                st.backend, st.health, loki_breaker_state_name(st.breaker),
                (unsigned long long)st.hits, (unsigned long long)st.misses, st.hit_rate,
                (unsigned long long)st.entries, (unsigned long long)st.bytes,
                (unsigned long long)st.sets, (unsigned long long)st.evictions,
                (unsigned long long)st.expirations, (unsigned long long)st.computes,
                (unsigned long long)st.shared, (unsigned long long)st.errors,
                (unsigned long long)s->cache_gen, s->cfg.cache_entries, s->cfg.cache_bytes,
                s->cfg.cache_ttl);
}

static void audit_json(srv *s, sbuf *b)
{
    if (!s->audit) {
        sbuf_puts(b, "{\"enabled\":false}");
        return;
    }
    audit_stats st;
    audit_get_stats(s->audit, &st);
    sbuf_printf(b,
                "{\"enabled\":true,\"state\":\"%s\",\"rows_written\":%llu,\"errors\":%llu,"
                "\"dropped\":%llu,\"queued\":%llu,\"path\":",
                st.failing ? "failing" : "ok", (unsigned long long)st.rows_written,
                (unsigned long long)st.errors, (unsigned long long)st.dropped,
                (unsigned long long)st.queued);
    sbuf_json_str(b, st.path);
    sbuf_puts(b, ",\"last_error\":");
    sbuf_json_str(b, st.last_error);
    sbuf_puts(b, "}");
}

int route_health(srv *s, srv_req *q)
{
    const char *det = srv_arg(q, "detailed");
    int detailed = det && (!strcmp(det, "true") || !strcmp(det, "1"));
    int degraded = 0;
    if (s->audit) {
        audit_stats st;
        audit_get_stats(s->audit, &st);
        degraded = st.failing || st.dropped;
    }
    sbuf cl, b;
    sbuf_init(&cl);
    srv_cluster_health(s, &cl, &degraded, detailed);
    sbuf_init(&b);
    sbuf_printf(&b, "{\"status\":\"%s\",\"version\":\"%s\",\"uptime_seconds\":%.3f",
                degraded ? "degraded" : "ok", loki_version(), s->now() - s->started);
    if (cl.oom)
        b.oom = 1; /* cl holds a truncated fragment: answer 503 rather than broken JSON */
    else if (cl.p)
        sbuf_put(&b, cl.p, cl.len);
    sbuf_release(&cl);
    srv_proxy_health(s, &b);
    if (detailed) {
        size_t n = loki_engine_module_count(s->eng), gates = 0;
        sbuf_printf(&b, ",\"ruleset_fingerprint\":\"%s\",\"db_from_cache\":%s,\"modules\":[",
                    s->fingerprint, loki_engine_db_from_cache(s->eng) ? "true" : "false");
        for (size_t i = 0; i < n; i++) {
            const loki_module_info *mi = loki_engine_module(s->eng, i);
            gates += mi->n_gates;
            sbuf_printf(&b, "%s{\"id\":", i ? "," : "");
            sbuf_json_str(&b, mi->id);
            sbuf_printf(&b, ",\"gates\":%zu}", mi->n_gates);
        }
        sbuf_printf(&b, "],\"module_count\":%zu,\"gate_count\":%zu,\"cache\":", n, gates);
        cache_json(s, &b);
        sbuf_puts(&b, ",\"audit\":");
        audit_json(s, &b);
        /* The only dependency behind a breaker is the cache's optional Redis tier. */
        loki_cache_stats cst;
        if (s->cache)
            loki_cache_stats_get(s->cache, &cst);
        if (s->cache && cst.redis_configured)
            sbuf_printf(&b, ",\"breakers\":{\"redis\":\"%s\"}", loki_breaker_state_name(cst.breaker));
        else
            sbuf_puts(&b, ",\"breakers\":{}");
        sbuf_printf(&b, ",\"in_flight\":%ld,\"threads\":%u",
                    (long)s->inflight, s->cfg.threads ? s->cfg.threads : s->ncpu);
    }
    sbuf_puts(&b, "}");
    return srv_reply_json(s, q, 200, &b);
}

/* Upper bound of the bucket holding quantile p of a histogram (seconds). */
static double hist_quantile(srv_hist *h, double p)
{
    static const double bounds[SRV_N_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                 0.025,  0.05,  0.1,    0.25,  0.5,
                                                 1,      2.5,   5,      10};
    uint64_t total = 0, cum = 0;
    for (int i = 0; i <= SRV_N_BUCKETS; i++)
        total += h->bucket[i];
    if (!total)
        return 0;
    for (int i = 0; i < SRV_N_BUCKETS; i++) {
        cum += h->bucket[i];
        if ((double)cum >= p * (double)total)
            return bounds[i];
    }
    return bounds[SRV_N_BUCKETS - 1];
}

int route_stats(srv *s, srv_req *q)
{
    srv_metrics *m = &s->m;
    uint64_t n = m->checks, reqs = 0;
    for (int r = 0; r < RT__COUNT; r++)
        for (int c = 0; c < SRV_N_CODES; c++)
            reqs += m->requests[r][c];
    double d = n ? (double)n * 1000.0 : 1;
    sbuf b;
    sbuf_init(&b);
    sbuf_printf(&b,
                "{\"uptime_seconds\":%.3f,\"requests\":%llu,\"in_flight\":%ld,"
                "\"checks\":%llu,\"mean_ms\":{\"scan\":%.4f,\"evaluate\":%.4f,\"detect\":%.4f,"
                "\"total\":%.4f},\"check_seconds_le\":{\"p50\":%g,\"p90\":%g,\"p99\":%g},"
                "\"validations\":{\"LOW\":%llu,\"MEDIUM\":%llu,\"HIGH\":%llu,\"CRITICAL\":%llu},"
                "\"validation_errors\":%llu,\"document_bytes\":%llu,\"cache\":",
                s->now() - s->started, (unsigned long long)reqs, (long)s->inflight,
                (unsigned long long)n, (double)m->scan_us / d, (double)m->evaluate_us / d,
                (double)m->detect_us / d, (double)m->total_us / d,
                hist_quantile(&m->check_seconds, 0.5), hist_quantile(&m->check_seconds, 0.9),
                hist_quantile(&m->check_seconds, 0.99), (unsigned long long)m->validations[0],
                (unsigned long long)m->validations[1], (unsigned long long)m->validations[2],
                (unsigned long long)m->validations[3], (unsigned long long)m->validation_errors,
                (unsigned long long)m->doc_bytes);
    cache_json(s, &b);
    sbuf_puts(&b, "}");
    return srv_reply_json(s, q, 200, &b);
}

int route_cache_stats(srv *s, srv_req *q)
{
    sbuf b;
    sbuf_init(&b);
    cache_json(s, &b);
    return srv_reply_json(s, q, 200, &b);
}

int route_cache_clear(srv *s, srv_req *q)
{
    /* libloki's cache has no flush: a new generation in every key makes all old entries
     * unreachable at once; they age out of the LRU (and Redis, by TTL). */
    unsigned long long invalidated = 0, gen = 0;
    if (s->cache) {
        loki_cache_stats st;
        loki_cache_stats_get(s->cache, &st);
        invalidated = st.entries;
        gen = atomic_fetch_add(&s->cache_gen, 1) + 1;
    }
    sbuf b;
    sbuf_init(&b);
    sbuf_printf(&b, "{\"cleared\":%llu,\"generation\":%llu}", invalidated, gen);
    return srv_reply_json(s, q, 200, &b);
}

int route_metrics(srv *s, srv_req *q)
{
    sbuf b;
    sbuf_init(&b);
    srv_metrics_render(s, &b);
    size_t len = 0;
    char *p = sbuf_take(&b, &len);
    return srv_reply(s, q, 200, "text/plain; version=0.0.4; charset=utf-8", p, len);
}

/* ---- audit analytics ------------------------------------------------------------------- */

static int audit_view(srv *s, srv_req *q, int (*fn)(audit *, sbuf *))
{
    if (!s->audit)
        return srv_error(s, q, 503, "audit_disabled", "the audit log is off (audit_db = off)");
    sbuf b;
    sbuf_init(&b);
    if (fn(s->audit, &b) != 0) {
        int rc = srv_error(s, q, 503, "audit_unavailable", "%s", b.p ? b.p : "unavailable");
        sbuf_release(&b);
        return rc;
    }
    return srv_reply_json(s, q, 200, &b);
}

int route_audit_stats(srv *s, srv_req *q)
{
    return audit_view(s, q, audit_table_stats);
}

int route_an_overview(srv *s, srv_req *q)
{
    return audit_view(s, q, audit_overview);
}

int route_an_modules(srv *s, srv_req *q)
{
    return audit_view(s, q, audit_modules);
}

int route_an_trends(srv *s, srv_req *q)
{
    const char *iv = srv_arg(q, "interval");
    const char *bs = srv_arg(q, "buckets");
    if (!iv)
        iv = "hour";
    if (strcmp(iv, "minute") && strcmp(iv, "hour") && strcmp(iv, "day"))
        return srv_error(s, q, 400, "invalid_argument",
                         "interval must be minute, hour or day (got '%.32s')", iv);
    unsigned long n = 24;
    if (bs) {
        char *end;
        n = strtoul(bs, &end, 10);
        if (*end || end == bs || n < 1 || n > 1000)
            return srv_error(s, q, 400, "invalid_argument", "buckets must be 1..1000");
    }
    if (!s->audit)
        return srv_error(s, q, 503, "audit_disabled", "the audit log is off (audit_db = off)");
    sbuf b;
    sbuf_init(&b);
    if (audit_trends(s->audit, iv, (unsigned)n, s->now_unix(), &b) != 0) {
        int rc = srv_error(s, q, 503, "audit_unavailable", "%s", b.p ? b.p : "unavailable");
        sbuf_release(&b);
        return rc;
    }
    return srv_reply_json(s, q, 200, &b);
}
