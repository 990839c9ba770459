/* SPDX-License-Identifier: MIT */
/* Allocation-failure injection on the server's request paths (SQLite/curl style). The server
 * runs in-process on a loopback port; for each kind of request the N-th allocation made while
 * it is served fails, for N = 1, 2, ... until a request completes without reaching N. Every
 * run must end in the normal answer, a 5xx JSON error or a closed connection (never a crash,
 * a hang, a 4xx the request did not deserve, a truncated 200 or a leak: LeakSanitizer), and
 * the server must answer normally afterwards. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"
#include "server.h"

static const char PACK_M[] =
    "module: m\nname: M\nversion: '1'\n"
    "patterns:\n  subject: ['privacy notice', 'personal data']\n"
    "gates:\n"
    "  - id: g\n    title: G\n    severity: high\n    legal: L\n"
    "    relevant: subject\n"
    "    patterns:\n      bad: ['forbidden', 'never.{0,10}delete']\n"
    "    outcomes:\n      - when: bad & count(subject) >= 1\n        status: FAIL\n"
    "        message: bad\n        spans: [bad, subject]\n"
    "    examples:\n      pass: ['privacy notice']\n      fail: ['privacy notice forbidden']\n";

static const char PACK_N[] =
    "module: n\nname: N\nversion: '1'\n"
    "patterns:\n  money: ['invest', 'returns?']\n"
    "gates:\n"
    "  - id: risk\n    title: Risk warning\n    severity: medium\n    legal: COBS 4\n"
    "    relevant: money\n"
    "    patterns:\n      warn: ['capital at risk']\n"
    "    outcomes:\n      - when: '!warn'\n        status: FAIL\n"
    "        message: no risk warning\n        spans: [money]\n"
    "    examples:\n      pass: ['invest, capital at risk']\n      fail: ['invest now']\n";

/* What the fake upstream provider answers to every call. */
static const char ANSWER[] =
    "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-test\","
    "\"content\":[{\"type\":\"text\",\"text\":\"Our privacy notice: we never delete personal "
    "data. Invest for great returns.\"}],\"stop_reason\":\"end_turn\","
    "\"usage\":{\"input_tokens\":12,\"output_tokens\":20}}";

static srv *S;
static unsigned PORT;
static struct MHD_Daemon *UPSTREAM;
static char TMP[512];

/* ---- a tiny HTTP client ------------------------------------------------------------------ */

typedef struct reply {
    unsigned status; /* 0: the connection closed without a status line */
    char *raw;
    size_t len;
    const char *body;
    size_t body_len;
} reply;

/* Sends req on a fresh connection and reads to EOF. Returns 0, or -1 when the server could not
 * be reached or did not answer within 30 s (a hang). */
static int http_call(const char *req, size_t n, reply *r)
{
    memset(r, 0, sizeof *r);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)PORT);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    for (size_t off = 0; off < n;) {
        ssize_t w = send(fd, req + off, n - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server may answer and close before reading everything */
        off += (size_t)w;
    }
    size_t cap = 1 << 16;
    r->raw = malloc(cap);
    int rc = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 30000) <= 0) {
            rc = -1;
            break;
        }
        if (r->len + 1 == cap)
            r->raw = realloc(r->raw, cap *= 2);
        ssize_t got = recv(fd, r->raw + r->len, cap - r->len - 1, 0);
        if (got <= 0)
            break; /* EOF, or reset by a server that dropped the connection */
        r->len += (size_t)got;
    }
    close(fd);
    r->raw[r->len] = '\0';
    unsigned st = 0;
    if (sscanf(r->raw, "HTTP/1.%*d %u", &st) == 1)
        r->status = st;
    const char *hdr_end = strstr(r->raw, "\r\n\r\n");
    r->body = hdr_end ? hdr_end + 4 : r->raw + r->len;
    r->body_len = (size_t)(r->raw + r->len - r->body);
    return rc;
}

static void reply_free(reply *r)
{
    free(r->raw);
    r->raw = NULL;
}

/* A server that stopped answering cannot be stopped either (srv_stop would wait for the stuck
 * worker): report and leave at once rather than hang until the ctest timeout. */
static void hung(const char *what)
{
    print_error("%s: the server is stuck (no answer within 30 s)\n", what);
    fflush(NULL);
    _exit(1);
}

/* Waits until the server has finished with every request (on_completed ran). */
static void wait_idle(void)
{
    for (int i = 0; i < 30000 && atomic_load(&S->inflight) > 0; i++) {
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&S->inflight) != 0)
        hung("waiting for the requests in flight");
}

static char *request(const char *method, const char *path, const char *ctype, const char *body)
{
    size_t blen = body ? strlen(body) : 0;
    size_t cap = blen + 1024;
    char *req = malloc(cap);
    int n = snprintf(req, cap,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     "Origin: http://example.test\r\n%s%s%sContent-Length: %zu\r\n"
                     "anthropic-version: 2023-06-01\r\n\r\n",
                     method, path, ctype ? "Content-Type: " : "", ctype ? ctype : "",
                     ctype ? "\r\n" : "", blen);
    if (body && (size_t)n + blen < cap)
        memcpy(req + n, body, blen + 1);
    return req;
}

/* One uninjected request; returns its status. */
static unsigned plain_call(const char *method, const char *path, const char *ctype,
                           const char *body)
{
    char *req = request(method, path, ctype, body);
    reply r;
    if (http_call(req, strlen(req), &r) != 0)
        hung(path);
    wait_idle();
    unsigned st = r.status;
    reply_free(&r);
    free(req);
    return st;
}

/* ---- the fake upstream provider ---------------------------------------------------------- */

static enum MHD_Result upstream(void *cls, struct MHD_Connection *c, const char *url,
                                const char *method, const char *version, const char *upload,
                                size_t *upload_size, void **ctx)
{
    (void)cls, (void)url, (void)method, (void)version, (void)upload;
    static int seen;
    if (!*ctx) {
        *ctx = &seen;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(sizeof ANSWER - 1, (void *)ANSWER, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ok = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ok;
}

static unsigned start_upstream(void)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    UPSTREAM = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                                upstream, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                MHD_OPTION_END);
    assert_non_null(UPSTREAM);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(UPSTREAM, MHD_DAEMON_INFO_BIND_PORT);
    return di->port;
}

/* ---- the server ------------------------------------------------------------------------- */

/* A JSON upload of an HTML document as document_base64. */
static char B64_BODY[1024];

static void b64_body(void)
{
    static const char html[] = "<html><body><h1>Privacy notice</h1><p>We never delete your "
                               "personal data. Invest for returns.</p></body></html>";
    static const char d[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char enc[512];
    size_t n = sizeof html - 1, o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)html[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)html[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)html[i + 2];
        enc[o++] = d[v >> 18 & 63];
        enc[o++] = d[v >> 12 & 63];
        enc[o++] = i + 1 < n ? d[v >> 6 & 63] : '=';
        enc[o++] = i + 2 < n ? d[v & 63] : '=';
    }
    enc[o] = '\0';
    snprintf(B64_BODY, sizeof B64_BODY,
             "{\"document_base64\":\"%s\",\"filename\":\"notice.html\",\"modules\":[\"m\"]}", enc);
}

static int group_setup(void **st)
{
    (void)st;
    snprintf(TMP, sizeof TMP, "%s", th_tmpdir("server_alloc"));
    th_write(TMP, "m.yaml", PACK_M);
    th_write(TMP, "n.yaml", PACK_N);
    b64_body();
    return 0;
}

static int setup(void **st)
{
    (void)st;
    unsigned up = start_upstream();
    srv_config c;
    srv_config_default(&c);
    snprintf(c.listen, sizeof c.listen, "127.0.0.1:0");
    snprintf(c.rules, sizeof c.rules, "%s", TMP);
    snprintf(c.cache_dir, sizeof c.cache_dir, "off");
    snprintf(c.audit_db, sizeof c.audit_db, "%s/audit.db", TMP);
    snprintf(c.access_log, sizeof c.access_log, "%s/access.log", TMP);
    snprintf(c.cors_origins, sizeof c.cors_origins, "*");
    snprintf(c.anthropic_base_url, sizeof c.anthropic_base_url, "http://127.0.0.1:%u", up);
    snprintf(c.anthropic_api_key, sizeof c.anthropic_api_key, "test-key");
    /* One worker and one batch thread: the N-th allocation is the same one on every run. */
    c.threads = 1;
    c.batch_threads = 1;
    /* Rate limits on, shared through a Redis that is down: the local fallback and the
     * degraded health report run too. */
    c.rate_limit = 1e6;
    c.rate_burst = 1e6;
    snprintf(c.ratelimit_redis, sizeof c.ratelimit_redis, "redis://127.0.0.1:1");
    c.provider_max_attempts = 1;
    c.provider_breaker_min_calls = 1000000;
    c.provider_breaker_consecutive = 1000000;
    S = srv_start(&c, &PORT);
    assert_non_null(S);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    srv_stop(S);
    MHD_stop_daemon(UPSTREAM);
    return 0;
}

/* ---- the requests ----------------------------------------------------------------------- */

enum { PREP_NONE, PREP_MISS, PREP_HIT };

typedef struct kind {
    const char *name;
    const char *method, *path, *ctype, *body;
    unsigned expect; /* the status without injection */
    int prep;        /* PREP_MISS: cache cleared before each run; PREP_HIT: warmed */
    int json;        /* a 200 must be a complete JSON document */
} kind;

#define DOC "Our privacy notice: we never delete personal data. forbidden. Invest for returns."

static const kind KINDS[] = {
    {"validate json (miss)", "POST", "/api/validate", "application/json",
     "{\"text\":\"" DOC "\",\"document_type\":\"privacy_notice\",\"modules\":[\"m\",\"n\"],"
     "\"options\":{\"no_timings\":true}}",
     200, PREP_MISS, 1},
    {"validate json (hit)", "POST", "/api/validate", "application/json", "{\"text\":\"" DOC "\"}",
     200, PREP_HIT, 1},
    {"validate text/plain + query", "POST",
     "/api/validate?modules=m,n&document_type=privacy_notice&pretty=1&no_universal=1",
     "text/plain; charset=utf-8", DOC, 200, PREP_MISS, 1},
    {"validate-document (LOKI shape)", "POST", "/api/validate-document", "application/json",
     "{\"text\":\"" DOC "\"}", 200, PREP_MISS, 1},
    {"validate document_base64 (html)", "POST", "/api/validate", "application/json", B64_BODY, 200,
     PREP_MISS, 1},
    {"batch", "POST", "/api/validate/batch", "application/json",
     "{\"documents\":[\"" DOC "\",{\"id\":\"b\",\"text\":\"plain words\"},{\"id\":\"c\"}],"
     "\"modules\":[\"m\",\"n\"]}",
     200, PREP_MISS, 1},
    {"health detailed", "GET", "/api/health?detailed=true", NULL, NULL, 200, PREP_NONE, 1},
    {"metrics", "GET", "/metrics", NULL, NULL, 200, PREP_NONE, 0},
    {"cache clear", "POST", "/api/cache/clear", NULL, NULL, 200, PREP_NONE, 1},
    {"stats", "GET", "/api/stats", NULL, NULL, 200, PREP_NONE, 1},
    {"modules", "GET", "/api/modules", NULL, NULL, 200, PREP_NONE, 1},
    {"gates of an unknown module", "GET", "/api/gates?module=nope", NULL, NULL, 400, PREP_NONE, 1},
    {"analytics overview", "GET", "/api/analytics/overview", NULL, NULL, 200, PREP_NONE, 1},
    {"audit recent", "GET", "/api/audit/recent?limit=5", NULL, NULL, 200, PREP_NONE, 1},
    {"malformed json", "POST", "/api/validate", "application/json", "{\"text\": \"a\",", 400,
     PREP_NONE, 1},
    {"unknown route", "GET", "/nope", NULL, NULL, 404, PREP_NONE, 1},
    {"CORS preflight", "OPTIONS", "/api/validate", NULL, NULL, 204, PREP_NONE, 0},
    {"proxy /v1/messages", "POST", "/v1/messages", "application/json",
     "{\"model\":\"claude-test\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\","
     "\"content\":\"Write a privacy notice\"}]}",
     200, PREP_NONE, 1},
};
#define N_KINDS (sizeof KINDS / sizeof KINDS[0])

static void prep(const kind *k)
{
    if (k->prep == PREP_MISS)
        assert_int_equal(plain_call("POST", "/api/cache/clear", NULL, NULL), 200);
    else if (k->prep == PREP_HIT)
        assert_int_equal(plain_call(k->method, k->path, k->ctype, k->body), k->expect);
    /* The audit queue is empty, so a validation allocates a new one on every run. */
    audit_flush(S->audit);
}

typedef struct tally {
    unsigned long points, normal, errors, closed;
} tally;

/* Checks one injected run's reply; fails the test on an unacceptable one. */
static void judge(const kind *k, unsigned long n, const reply *r, tally *t)
{
    if (r->status == 0) {
        t->closed++;
        return;
    }
    if (r->status == k->expect) {
        t->normal++;
        if (r->status == 200 && k->json) {
            cJSON *j = cJSON_ParseWithLength(r->body, r->body_len);
            if (!j)
                fail_msg("%s, allocation %lu: 200 with a body that is not JSON: %.300s", k->name, n,
                         r->body);
            cJSON_Delete(j);
        }
        return;
    }
    if (r->status >= 500 && r->status < 600 && strstr(r->body, "\"error\":{")) {
        t->errors++;
        return;
    }
    fail_msg("%s, allocation %lu: status %u (want %u, a 5xx JSON error or a closed "
             "connection): %.300s",
             k->name, n, r->status, k->expect, r->body);
}

/* Runs k with the N-th allocation failing for N = 1, 2, ...; returns the points tried. */
static unsigned long run_kind(const kind *k)
{
    char *req = request(k->method, k->path, k->ctype, k->body);
    size_t len = strlen(req);
    tally t = {0};
    unsigned long n;
    for (n = 1; n < 20000; n++) {
        prep(k);
        loki__alloc_fail_at(n);
        reply r;
        if (http_call(req, len, &r) != 0) {
            print_error("%s, allocation %lu: ", k->name, n);
            hung("request");
        }
        wait_idle();
        unsigned long made = loki__alloc_fail_at(0);
        if (made < n) { /* completed without reaching the failure: the normal answer */
            if (r.status != k->expect)
                fail_msg("%s: status %u without injection (want %u): %.300s", k->name, r.status,
                         k->expect, r.body);
            reply_free(&r);
            break;
        }
        judge(k, n, &r, &t);
        reply_free(&r);
        /* The server still works. */
        assert_int_equal(plain_call("GET", "/api/health", NULL, NULL), 200);
    }
    free(req);
    assert_true(n < 20000);
    print_message("%-34s %5lu allocation points: %lu normal, %lu 5xx, %lu closed\n", k->name, n - 1,
                  t.normal, t.errors, t.closed);
    return n - 1;
}

static void every_route_survives_allocation_failures(void **st)
{
    (void)st;
    unsigned long total = 0;
    for (size_t i = 0; i < N_KINDS; i++)
        total += run_kind(&KINDS[i]);
    print_message("%zu kinds of request, %lu allocation failure points in all\n", N_KINDS, total);
    assert_true(total > 100); /* the loops really walked through the allocations */
}

/* A server that cannot start says so (NULL) and leaves nothing behind; one that starts with
 * an allocation failed along the way answers. */
static void start_fails_cleanly(void **st)
{
    (void)st;
    srv_config c;
    srv_config_default(&c);
    snprintf(c.rules, sizeof c.rules, "%s", TMP);
    snprintf(c.cache_dir, sizeof c.cache_dir, "off");
    snprintf(c.audit_db, sizeof c.audit_db, "off");
    snprintf(c.listen, sizeof c.listen, "not-an-address");
    unsigned port = 0;
    assert_null(srv_start(&c, &port));
    snprintf(c.listen, sizeof c.listen, "127.0.0.1:0");
    snprintf(c.rules, sizeof c.rules, "%s/no-such-dir", TMP);
    assert_null(srv_start(&c, &port));
    snprintf(c.rules, sizeof c.rules, "%s", TMP);
    snprintf(c.audit_db, sizeof c.audit_db, "%s/start.db", TMP);
    snprintf(c.access_log, sizeof c.access_log, "off");
    c.rate_limit = 100;
    unsigned long n, started = 0;
    for (n = 1; n < 20000; n++) {
        loki__alloc_fail_at(n);
        srv *s = srv_start(&c, &port);
        unsigned long made = loki__alloc_fail_at(0);
        if (s) {
            started++;
            /* Started means started with everything configured, nothing silently off. */
            assert_non_null(s->rl);
            assert_non_null(s->audit);
            assert_non_null(s->cache);
            assert_non_null(s->proxy);
            srv *keep = S;
            unsigned keep_port = PORT;
            S = s;
            PORT = port;
            assert_int_equal(plain_call("GET", "/api/health", NULL, NULL), 200);
            S = keep;
            PORT = keep_port;
        }
        srv_stop(s);
        if (s && made < n)
            break;
    }
    assert_true(n < 20000);
    print_message("start-up: %lu allocation points, %lu of them still started\n", n - 1,
                  started - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(start_fails_cleanly),
        cmocka_unit_test_setup_teardown(every_route_survives_allocation_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
