/* SPDX-License-Identifier: MIT */
/* The HTTP layer on libmicrohttpd: per-request context, body accumulation under a hard cap,
 * routing (404/405), CORS, API keys, rate limits, replies, the JSON-lines access log and the
 * per-request metrics. Route handlers run on MHD's worker threads. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <math.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "server.h"

#define OPS 1  /* health and metrics: open unless protect_ops */
#define PAGE 2 /* the web page's files: no secrets, always open, never rate limited */

typedef struct route {
    const char *path;
    const char *method;
    int id;
    srv_route_fn fn;
    int flags;
} route;

static const route routes[] = {
    {"/api/validate", "POST", RT_VALIDATE, route_validate, 0},
    {"/api/validate-document", "POST", RT_VALIDATE_DOC, route_validate_doc, 0},
    {"/validate-document", "POST", RT_VALIDATE_DOC, route_validate_doc, 0},
    {"/api/validate/batch", "POST", RT_BATCH, route_batch, 0},
    {"/api/modules", "GET", RT_MODULES, route_modules, 0},
    {"/api/gates", "GET", RT_GATES, route_gates, 0},
    {"/api/health", "GET", RT_HEALTH, route_health, OPS},
    {"/api/stats", "GET", RT_STATS, route_stats, 0},
    {"/api/audit/stats", "GET", RT_AUDIT_STATS, route_audit_stats, 0},
    {"/api/analytics/overview", "GET", RT_AN_OVERVIEW, route_an_overview, 0},
    {"/api/analytics/trends", "GET", RT_AN_TRENDS, route_an_trends, 0},
    {"/api/analytics/modules", "GET", RT_AN_MODULES, route_an_modules, 0},
    {"/metrics", "GET", RT_METRICS, route_metrics, OPS},
    {"/api/cache/stats", "GET", RT_CACHE_STATS, route_cache_stats, 0},
    {"/api/cache/clear", "POST", RT_CACHE_CLEAR, route_cache_clear, 0},
    {"/api/audit/recent", "GET", RT_OTHER, route_audit_recent, 0},
    {"/v1/messages", "POST", RT_PROXY_MESSAGES, route_proxy_messages, 0},
    {"/v1/chat/completions", "POST", RT_PROXY_CHAT, route_proxy_chat, 0},
    {"/", "GET", RT_OTHER, route_static, PAGE},
    {"/app.css", "GET", RT_OTHER, route_static, PAGE},
    {"/app.js", "GET", RT_OTHER, route_static, PAGE},
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

const char *srv_arg(srv_req *q, const char *name)
{
    return MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *srv_header(srv_req *q, const char *name)
{
    return MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, name);
}

/* The origin to echo in Access-Control-Allow-Origin, or NULL when CORS does not apply. */
static const char *cors_origin(srv *s, srv_req *q)
{
    if (!s->n_cors)
        return NULL;
    const char *origin = srv_header(q, "Origin");
    if (!origin)
        return NULL;
    for (size_t i = 0; i < s->n_cors; i++)
        if (strcmp(s->cors[i], "*") == 0 || strcmp(s->cors[i], origin) == 0)
            return strcmp(s->cors[i], "*") == 0 ? "*" : origin;
    return NULL;
}

static void add_headers(srv *s, srv_req *q, struct MHD_Response *r, unsigned status)
{
    const char *origin = cors_origin(s, q);
    if (origin) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
        MHD_add_response_header(r, "Vary", "Origin");
        MHD_add_response_header(r, "Access-Control-Expose-Headers",
                                "Retry-After, X-Loki-Cache, X-Loki-Risk, X-Loki-Verdict");
    }
    if (status == 429) {
        char ra[32];
        snprintf(ra, sizeof ra, "%.0f", ceil(q->retry_after < 1 ? 1 : q->retry_after));
        MHD_add_response_header(r, "Retry-After", ra);
    }
    if (status == 401)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"loki\"");
    if (status == 413)
        MHD_add_response_header(r, "Connection", "close");
    if (q->route == RT_VALIDATE || q->route == RT_VALIDATE_DOC)
        MHD_add_response_header(r, "X-Loki-Cache", q->cache_hit ? "hit" : "miss");
    char line[sizeof q->xhdr];
    for (const char *p = q->xhdr, *nl; *p && (nl = strchr(p, '\n')); p = nl + 1) {
        size_t n = (size_t)(nl - p);
        memcpy(line, p, n);
        line[n] = '\0';
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        MHD_add_response_header(r, line, colon + 2);
    }
}

void srv_add_header(srv_req *q, const char *name, const char *value)
{
    size_t used = strlen(q->xhdr);
    snprintf(q->xhdr + used, sizeof q->xhdr - used, "%s: %s\n", name, value);
}

int srv_queue(srv *s, srv_req *q, unsigned status, struct MHD_Response *r, size_t len)
{
    add_headers(s, q, r, status);
    enum MHD_Result ok = MHD_queue_response(q->conn, status, r);
    MHD_destroy_response(r);
    q->replied = 1;
    q->status = status;
    q->bytes_out = len;
    return ok == MHD_YES ? 0 : -1;
}

int srv_reply(srv *s, srv_req *q, unsigned status, const char *ctype, char *body, size_t len)
{
    /* Out of memory: a static body, so answering needs no allocation of ours. */
    static const char oom[] = "{\"error\":{\"code\":\"out_of_memory\",\"message\":\"out of "
                              "memory\"}}";
    enum MHD_ResponseMemoryMode mode = MHD_RESPMEM_MUST_FREE;
    if (!body) {
        body = (char *)oom;
        mode = MHD_RESPMEM_PERSISTENT;
        status = 503;
        len = sizeof oom - 1;
        ctype = "application/json";
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return -1;
    }
    if (ctype)
        MHD_add_response_header(r, "Content-Type", ctype);
    add_headers(s, q, r, status);
    if (status == 405) {
        char allow[64] = "OPTIONS";
        for (size_t i = 0; i < N_ROUTES; i++)
            if (strcmp(routes[i].path, q->path) == 0)
                snprintf(allow, sizeof allow, "%s, OPTIONS", routes[i].method);
        MHD_add_response_header(r, "Allow", allow);
    }
    enum MHD_Result ok = MHD_queue_response(q->conn, status, r);
    MHD_destroy_response(r);
    q->replied = 1;
    q->status = status;
    q->bytes_out = len;
    return ok == MHD_YES ? 0 : -1;
}

int srv_reply_json(srv *s, srv_req *q, unsigned status, sbuf *b)
{
    size_t len = 0;
    char *p = sbuf_take(b, &len);
    return srv_reply(s, q, status, "application/json", p, len);
}

int srv_error(srv *s, srv_req *q, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sbuf b;
    sbuf_init(&b);
    sbuf_puts(&b, "{\"error\":{\"code\":");
    sbuf_json_str(&b, code);
    sbuf_puts(&b, ",\"message\":");
    sbuf_json_str(&b, msg);
    sbuf_puts(&b, "}}");
    return srv_reply_json(s, q, status, &b);
}

static void client_ip(srv_req *q)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(q->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(q->ip, sizeof q->ip, "unknown");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, q->ip,
                  sizeof q->ip);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, q->ip,
                  sizeof q->ip);
}

/* Constant-time check of the presented key against every configured key (no early exit). */
static int authenticate(srv *s, srv_req *q)
{
    const char *key = srv_header(q, "X-API-Key");
    const char *auth = srv_header(q, "Authorization");
    if (!key && auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        key = auth + 7;
        while (*key == ' ')
            key++;
    }
    if (!key || !*key)
        return 0;
    uint8_t d[32];
    srv_sha256(key, strlen(key), d);
    int found = 0;
    for (size_t i = 0; i < s->n_keys; i++)
        found |= CRYPTO_memcmp(d, s->key_sha[i], 32) == 0;
    if (found) {
        char hex[65];
        srv_hex(d, 6, hex);
        snprintf(q->client, sizeof q->client, "key:%s", hex);
    }
    return found;
}

static const route *find_route(const char *path, const char *method, int *path_known)
{
    *path_known = 0;
    for (size_t i = 0; i < N_ROUTES; i++) {
        if (strcmp(routes[i].path, path) != 0)
            continue;
        *path_known = 1;
        if (strcmp(routes[i].method, method) == 0)
            return &routes[i];
    }
    return NULL;
}

static int preflight(srv *s, srv_req *q)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (char *)"", MHD_RESPMEM_PERSISTENT);
    if (!r)
        return -1;
    add_headers(s, q, r, 204);
    MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    MHD_add_response_header(r, "Access-Control-Allow-Headers",
                            "Authorization, Content-Type, X-API-Key");
    MHD_add_response_header(r, "Access-Control-Max-Age", "600");
    enum MHD_Result ok = MHD_queue_response(q->conn, MHD_HTTP_NO_CONTENT, r);
    MHD_destroy_response(r);
    q->replied = 1;
    q->status = 204;
    return ok == MHD_YES ? 0 : -1;
}

/* Everything decided from the request line and headers: route, CORS, auth, limits. Returns
 * the route to run once the body is in, or NULL when a reply was already queued. */
static const route *admit(srv *s, srv_req *q, const char *method)
{
    int known;
    const route *rt = find_route(q->path, method, &known);
    q->route = rt ? rt->id : RT_OTHER;
    if (!rt && known && strcmp(method, "OPTIONS") == 0 && cors_origin(s, q)) {
        preflight(s, q);
        return NULL;
    }
    if (!rt) {
        if (known)
            srv_error(s, q, 405, "method_not_allowed", "%s is not allowed on %s", method,
                      q->path);
        else
            srv_error(s, q, 404, "not_found", "no route %s", q->path);
        return NULL;
    }
    int open = ((rt->flags & OPS) && !s->cfg.protect_ops) || (rt->flags & PAGE);
    if (s->n_keys && !open && !authenticate(s, q)) {
        s->m.auth_failures++;
        srv_error(s, q, 401, "unauthorized",
                  "a valid API key is required (Authorization: Bearer KEY or X-API-Key: KEY)");
        return NULL;
    }
    if (!q->client[0])
        snprintf(q->client, sizeof q->client, "ip:%s", q->ip);
    if (s->rl && !(rt->flags & (OPS | PAGE)) &&
        !ratelimit_take(s->rl, q->client, s->now(), &q->retry_after)) {
        s->m.rate_limited++;
        srv_error(s, q, 429, "rate_limited", "rate limit exceeded; retry after %.0f s",
                  ceil(q->retry_after < 1 ? 1 : q->retry_after));
        return NULL;
    }
    const char *cl = srv_header(q, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body_bytes) {
        srv_error(s, q, 413, "payload_too_large", "request body is larger than %zu bytes",
                  s->cfg.max_body_bytes);
        return NULL;
    }
    return rt;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **ctx)
{
    (void)version;
    srv *s = cls;
    srv_req *q = *ctx;
    if (!q) {
        q = loki__calloc(1, sizeof *q);
        if (!q)
            return MHD_NO;
        *ctx = q;
        s->inflight++;
        q->t0 = s->now();
        q->conn = c;
        q->method = method;
        q->route = RT_OTHER;
        q->id = ++s->req_seq;
        snprintf(q->path, sizeof q->path, "%s", url);
        sbuf_init(&q->body);
        client_ip(q);
        if (!admit(s, q, method) && !q->replied)
            return MHD_NO;
        return MHD_YES;
    }
    if (*upload_size) {
        if (s->now() - q->t0 > s->cfg.request_timeout)
            return MHD_NO; /* a client trickling its body: drop the connection */
        if (!q->replied && !q->too_large) {
            if (q->body.len + *upload_size > s->cfg.max_body_bytes) {
                q->too_large = 1;
                sbuf_release(&q->body);
            } else {
                sbuf_put(&q->body, upload, *upload_size);
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (q->replied)
        return MHD_YES;
    int known;
    const route *rt = find_route(q->path, method, &known);
    int rc;
    if (q->too_large)
        rc = srv_error(s, q, 413, "payload_too_large", "request body is larger than %zu bytes",
                       s->cfg.max_body_bytes);
    else if (q->body.oom)
        rc = srv_error(s, q, 503, "out_of_memory", "out of memory reading the request");
    else
        rc = rt->fn(s, q);
    return rc == 0 ? MHD_YES : MHD_NO;
}

static void access_log(srv *s, srv_req *q, double secs)
{
    char ts[40];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03ldZ", now.tv_nsec / 1000000);
    sbuf b;
    sbuf_init(&b);
    sbuf_printf(&b, "{\"ts\":\"%s\",\"id\":%llu,\"ip\":\"%s\",\"client\":", ts,
                (unsigned long long)q->id, q->ip);
    sbuf_json_str(&b, q->client);
    sbuf_printf(&b, ",\"method\":");
    sbuf_json_str(&b, q->method ? q->method : "");
    sbuf_puts(&b, ",\"path\":");
    sbuf_json_str(&b, q->path);
    sbuf_printf(&b, ",\"status\":%u,\"bytes\":%zu,\"ms\":%.3f", q->status, q->bytes_out,
                secs * 1000);
    if (q->route == RT_VALIDATE || q->route == RT_VALIDATE_DOC)
        sbuf_printf(&b, ",\"cache\":\"%s\"", q->cache_hit ? "hit" : "miss");
    sbuf_puts(&b, "}\n");
    if (!b.oom) {
        pthread_mutex_lock(&s->log_lock);
        fwrite(b.p, 1, b.len, s->access_log);
        pthread_mutex_unlock(&s->log_lock);
    }
    sbuf_release(&b);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **ctx,
                         enum MHD_RequestTerminationCode toe)
{
    (void)c;
    srv *s = cls;
    srv_req *q = *ctx;
    if (!q)
        return;
    double secs = s->now() - q->t0;
    if (!q->status)
        q->status = toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? 408 : 400;
    srv_metrics_request(&s->m, q->route, q->status, secs);
    if (s->access_log)
        access_log(s, q, secs);
    sbuf_release(&q->body);
    free(q);
    *ctx = NULL;
    s->inflight--;
}

static int parse_listen(const char *listen, struct sockaddr_in *sa)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    if (!colon || (size_t)(colon - listen) >= sizeof host)
        return -1;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end || port > 65535 || end == colon + 1)
        return -1;
    sa->sin_port = htons((uint16_t)port);
    if (!host[0] || strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0)
        sa->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (strcmp(host, "localhost") == 0)
        sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return -1;
    return 0;
}

/* Starts the daemon; returns NULL with a message printed on failure. */
struct MHD_Daemon *srv_http_start(srv *s, unsigned *port);
struct MHD_Daemon *srv_http_start(srv *s, unsigned *port)
{
    struct sockaddr_in sa;
    if (parse_listen(s->cfg.listen, &sa) != 0) {
        fprintf(stderr, "loki serve: bad listen address '%s' (want HOST:PORT, IPv4)\n",
                s->cfg.listen);
        return NULL;
    }
    unsigned threads = s->cfg.threads ? s->cfg.threads : s->ncpu;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.conn_timeout,
        MHD_OPTION_CONNECTION_LIMIT, s->cfg.max_conns, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        s->cfg.max_conns_ip, MHD_OPTION_CONNECTION_MEMORY_LIMIT, s->cfg.header_memory,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024,
        MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "loki serve: cannot listen on %s\n", s->cfg.listen);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    *port = di ? di->port : ntohs(sa.sin_port);
    return d;
}
