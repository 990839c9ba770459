/* SPDX-License-Identifier: MIT */
/*
 * `loki serve`: the REST API over libloki. This header is the contract between the server's
 * files: configuration (config.c), the HTTP layer (http.c), routes (routes.c, validate.c), and
 * the building blocks each with their own section below: string buffer (sbuf.c), verdict cache
 * (libloki's loki_cache), token-bucket limiter (ratelimit.c), audit log (audit.c), metrics (metrics.c).
 * Only the public libloki API is used, and libloki's allocation wrapper (see below).
 */
#ifndef LOKI_SERVER_H
#define LOKI_SERVER_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "loki/loki.h"
/* The server allocates through libloki's wrapper (loki__malloc, loki__calloc, loki__realloc,
 * loki__strdup, loki__strndup; released with free()) so the allocation-failure tests reach
 * its request paths as they reach the library's (tests/unit/test_server_alloc.c). */
#include "../lib/util/util.h"

/* ---------------------------------------------------------------------------------------- */
/* String buffer (sbuf.c). Grows on demand; on allocation failure it sets `oom` and further   */
/* appends are ignored, so callers check once at the end. Not thread-safe (one owner).        */
/* ---------------------------------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

void sbuf_init(sbuf *b);
void sbuf_release(sbuf *b);
void sbuf_put(sbuf *b, const char *s, size_t n);
void sbuf_puts(sbuf *b, const char *s);
void sbuf_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (quotes included). */
void sbuf_json_str(sbuf *b, const char *s);
/* Hands the NUL-terminated buffer to the caller (NULL after an allocation failure). */
char *sbuf_take(sbuf *b, size_t *len);

/* SHA-256 helpers (OpenSSL). hex must hold 65 bytes. */
void srv_sha256(const void *p, size_t n, uint8_t out[32]);
void srv_hex(const uint8_t *p, size_t n, char *hex);

/* ---------------------------------------------------------------------------------------- */
/* Configuration (config.c): defaults < file (--config / LOKI_CONFIG) < LOKI_* env < flags.   */
/* ---------------------------------------------------------------------------------------- */

typedef struct srv_config {
    char listen[256];        /* host:port; port 0 picks a free port */
    char rules[1024];        /* "" = the CLI's default */
    char cache_dir[1024];    /* compiled-rules cache; "" = the CLI's default, "off" = none */
    unsigned threads;        /* MHD worker threads (0 = number of CPUs) */
    size_t max_body_bytes;   /* request body cap -> 413 */
    size_t header_memory;    /* per-connection memory for URL + headers -> 414/431 */
    unsigned conn_timeout;   /* idle/slow client timeout, seconds */
    unsigned max_conns;      /* total connections */
    unsigned max_conns_ip;   /* connections per client IP */
    char api_keys[4096];     /* comma-separated; "" = auth off */
    int protect_ops;         /* 1: health and metrics need a key too */
    double rate_limit;       /* requests per second per client; 0 = off */
    double rate_burst;       /* bucket size (default: max(1, rate_limit)) */
    char cors_origins[1024]; /* "" = CORS off, "*" or a comma list */
    char audit_db[1024];     /* SQLite path; "off" = no audit log */
    char access_log[1024];   /* "-" = stderr, "off", or a file path */
    size_t cache_entries;    /* verdict cache capacity; 0 = off */
    size_t cache_bytes;      /* verdict cache memory cap */
    unsigned cache_ttl;      /* seconds; 0 = no expiry */
    char redis_url[1024];    /* optional Redis tier of the cache ("" = memory only) */
    unsigned shutdown_timeout; /* seconds to let in-flight requests finish */
    unsigned batch_max;      /* documents per batch request */
    unsigned batch_threads;  /* parallel checks per batch (0 = number of CPUs) */
    unsigned request_timeout; /* seconds a request (headers done) may take to upload */
    char instance_id[128];   /* shown in health and metrics; "" = hostname:port */
    char ratelimit_redis[1024]; /* shared rate limits: "" = redis_url, "off" = local only */
    /* The interceptor (proxy.c; docs/interceptor.md). Keys are never logged or echoed. */
    char proxy_modules[1024];     /* modules checked on answers ("" = every loaded module) */
    char proxy_block[16];         /* risk that blocks: low|medium|high|critical|never */
    int proxy_validate_prompt;    /* 1: check the request's prompt before sending it */
    size_t proxy_stream_window;   /* streaming hold-back window, bytes of text */
    int proxy_pass_client_key;    /* 1: the client's own provider key is forwarded */
    char anthropic_base_url[512], openai_base_url[512], gemini_base_url[512];
    char anthropic_api_key[512], openai_api_key[512], gemini_api_key[512];
    unsigned provider_max_attempts;    /* attempts per call, the first included */
    unsigned provider_retry_base_ms;   /* first backoff cap */
    unsigned provider_timeout;         /* seconds for a whole upstream transfer */
    unsigned provider_connect_timeout; /* seconds to connect */
    unsigned provider_breaker_open_ms; /* time OPEN before a probe */
    unsigned provider_breaker_min_calls;
    double provider_breaker_failure_rate;
    unsigned provider_breaker_consecutive;
    double provider_rpm; /* upstream requests per minute per provider (0 = unlimited) */
} srv_config;

void srv_config_default(srv_config *c);
/* Applies file, env and argv (argv[0] is "serve"). Returns 0, 1 for --help (usage printed),
 * or -1 with a message printed. */
int srv_config_load(srv_config *c, int argc, char **argv);
void srv_config_usage(void);

/* ---------------------------------------------------------------------------------------- */
/* Validation results                                                                        */
/* ---------------------------------------------------------------------------------------- */

#define SRV_MAX_MODULES 64

/* What the audit log and the {validation, risk} shape need from a verdict, without the JSON. */
typedef struct srv_summary {
    char doc_sha256[65];
    size_t doc_bytes;
    loki_risk risk;
    unsigned by_status[5];     /* gate counts indexed by loki_gate_status */
    unsigned fail_by_sev[5];
    unsigned warn_by_sev[5];
    unsigned n_universal;
    size_t n_mod;
    const char *mod_id[SRV_MAX_MODULES]; /* engine-owned strings */
    unsigned mod_fail[SRV_MAX_MODULES];
    unsigned mod_warn[SRV_MAX_MODULES];
    double scan_ms, evaluate_ms, detect_ms, total_ms;
} srv_summary;


/* ---------------------------------------------------------------------------------------- */
/* Token buckets (ratelimit.c). `now` is passed in (seconds, any monotonic origin) so tests   */
/* are deterministic. Thread-safe.                                                           */
/* ---------------------------------------------------------------------------------------- */

typedef struct ratelimit ratelimit;
ratelimit *ratelimit_create(double rate, double burst, size_t max_clients);
void ratelimit_destroy(ratelimit *r);
/* Takes one token for `client`. Returns 1 if allowed; 0 if not, with *retry_after set to the
 * seconds until a token is available. */
int ratelimit_take(ratelimit *r, const char *client, double now, double *retry_after);

/* ---------------------------------------------------------------------------------------- */
/* Shared token buckets in Redis (ratelimit_redis.c): an atomic Lua script per take, Redis'   */
/* clock, EVALSHA with EVAL as fallback, a breaker in front. Thread-safe.                     */
/* ---------------------------------------------------------------------------------------- */

typedef struct rl_redis rl_redis;
typedef struct rl_redis_stats {
    int degraded;        /* the last call failed or the breaker is not closed */
    const char *breaker; /* "closed", "open", "half_open" */
    uint64_t allowed, limited, errors, skipped, evals;
    char reason[256]; /* why degraded ("" when not) */
} rl_redis_stats;

/* url: redis://[:pw@]host[:port][/db] or unix:///path. A Redis that is down does not fail
 * creation. Returns NULL with a message in err for a bad URL or no memory. */
rl_redis *rl_redis_create(const char *url, double rate, double burst, unsigned pool_size,
                          char *err, size_t errsz);
void rl_redis_destroy(rl_redis *r);
/* Takes one token for client. now: seconds, or < 0 for Redis' own clock (what the server
 * uses, so instances agree). Returns 1 allowed, 0 limited (*retry_after set), -1 when Redis
 * failed or is skipped: the caller decides locally. */
int rl_redis_take(rl_redis *r, const char *client, double now, double *retry_after);
void rl_redis_get_stats(rl_redis *r, rl_redis_stats *st);

/* Makes r ask `shared` first and use its own buckets only when shared returns -1. r owns
 * shared from now on (ratelimit_destroy destroys it). */
void ratelimit_set_shared(ratelimit *r, rl_redis *shared);
rl_redis *ratelimit_get_shared(ratelimit *r);

/* ---------------------------------------------------------------------------------------- */
/* Audit log (audit.c): SQLite in WAL mode, written by a background thread in batches. A      */
/* failing database (locked, read-only, full) never fails a request: rows are counted as      */
/* errors and reported in health. Never stores document text. Thread-safe.                    */
/* ---------------------------------------------------------------------------------------- */

typedef struct audit audit;
typedef struct audit_row {
    double ts; /* unix time */
    char client[80];
    char doc_type[48];
    char modules[1024]; /* comma list as requested ("" = all) */
    char route[32];
    int cache_hit;
    double duration_ms;
    srv_summary sum;
} audit_row;

typedef struct audit_stats {
    int enabled, open, failing; /* failing: the last write failed */
    uint64_t rows_written, errors, dropped, queued;
    char last_error[1400];
    char path[1024];
} audit_stats;

audit *audit_create(const char *path, const char *fingerprint, const char *version);
void audit_destroy(audit *a); /* flushes what is queued */
void audit_log(audit *a, const audit_row *row);
/* Writes queued rows now (the background thread also does every 200 ms). */
void audit_flush(audit *a);
void audit_get_stats(audit *a, audit_stats *st);
/* Analytics views rendered as JSON into out. Return 0, or -1 with a message in out. */
int audit_overview(audit *a, sbuf *out);
int audit_trends(audit *a, const char *interval, unsigned buckets, double now_unix, sbuf *out);
int audit_modules(audit *a, sbuf *out);
int audit_table_stats(audit *a, sbuf *out);

/* ---------------------------------------------------------------------------------------- */
/* Metrics (metrics.c): lock-free counters and histograms, rendered as Prometheus text.       */
/* ---------------------------------------------------------------------------------------- */

enum srv_route {
    RT_VALIDATE, RT_VALIDATE_DOC, RT_BATCH, RT_MODULES, RT_GATES, RT_HEALTH, RT_STATS,
    RT_AUDIT_STATS, RT_AN_OVERVIEW, RT_AN_TRENDS, RT_AN_MODULES, RT_METRICS, RT_CACHE_STATS,
    RT_CACHE_CLEAR, RT_PROXY_MESSAGES, RT_PROXY_CHAT, RT_OTHER, RT__COUNT
};
extern const char *const srv_route_names[RT__COUNT];

#define SRV_N_CODES 19
#define SRV_N_BUCKETS 14

typedef struct srv_hist {
    _Atomic uint64_t bucket[SRV_N_BUCKETS + 1]; /* last = +Inf */
    _Atomic uint64_t sum_us;
    _Atomic uint64_t count;
} srv_hist;

typedef struct srv_metrics {
    _Atomic uint64_t requests[RT__COUNT][SRV_N_CODES];
    srv_hist req_seconds[RT__COUNT];
    srv_hist check_seconds;
    _Atomic uint64_t validations[4]; /* by loki_risk */
    _Atomic uint64_t validation_errors;
    _Atomic uint64_t doc_bytes;
    _Atomic uint64_t rate_limited, auth_failures;
    _Atomic uint64_t scan_us, evaluate_us, detect_us, total_us, checks; /* profiler */
} srv_metrics;

void srv_metrics_request(srv_metrics *m, int route, unsigned status, double seconds);
void srv_hist_observe(srv_hist *h, double seconds);

/* ---------------------------------------------------------------------------------------- */
/* The server                                                                                */
/* ---------------------------------------------------------------------------------------- */

#define SRV_MAX_KEYS 64

typedef struct srv {
    srv_config cfg;
    loki_engine *eng;
    const char *fingerprint;
    struct loki_cache *cache; /* libloki's result cache; NULL when off */
    _Atomic uint64_t cache_gen; /* part of every key: /api/cache/clear bumps it */
    ratelimit *rl; /* NULL when off */
    audit *audit;  /* NULL when off */
    srv_metrics m;
    double (*now)(void);      /* monotonic seconds: the clock hook */
    double (*now_unix)(void); /* wall clock seconds */
    double started;
    _Atomic long inflight;
    _Atomic uint64_t req_seq;
    size_t n_keys;
    uint8_t key_sha[SRV_MAX_KEYS][32];
    size_t n_cors;
    char *cors[16];
    FILE *access_log; /* NULL = off */
    pthread_mutex_t log_lock;
    char *modules_json, *gates_json; /* precomputed catalog views */
    unsigned ncpu;
    struct srv_proxy *proxy; /* the interceptor (proxy.c); NULL when setup failed */
    struct MHD_Daemon *daemon; /* srv_start's daemon (embed.c); NULL under srv_run */
} srv;

/* A validation request after parsing, and its outcome. */
typedef struct vreq {
    const char *text;
    size_t len;
    const char *doc_type; /* NULL = unknown */
    const char *modules[SRV_MAX_MODULES];
    size_t n_modules;
    int no_universal;
    unsigned json_flags;
} vreq;

typedef struct vres {
    unsigned status; /* 200 or an HTTP error status */
    char *json;      /* verdict JSON (status 200) */
    size_t len;
    int cache_hit;
    srv_summary sum;
    char code[32];
    char msg[1024];
} vres;

/* Checks one document (cache first). Fills r; the caller frees r->json. Thread-safe. */
void srv_validate(srv *s, const vreq *q, vres *r);
/* Checks every module id against the engine. Returns 0, or -1 with an error in r. */
int srv_check_modules(srv *s, const vreq *q, vres *r);
/* The {"validation": ..., "risk": ...} shape of LOKI's /validate-document. */
char *srv_loki_shape(const vres *r, size_t *len);
void srv_risk_json(sbuf *b, const srv_summary *sum);

/* Builds the catalog JSON views; returns -1 on allocation failure. */
int srv_catalog_init(srv *s);
/* Prometheus text exposition of the server's metrics. */
void srv_metrics_render(srv *s, sbuf *out);

/* One HTTP request in flight (http.c owns it; routes.c reads it and replies through it). */
struct MHD_Connection;
typedef struct srv_req {
    struct MHD_Connection *conn;
    double t0;
    int route;
    const char *method;
    sbuf body;
    int too_large, replied, cache_hit;
    unsigned status;
    size_t bytes_out;
    double retry_after;
    uint64_t id;
    char ip[64];
    char client[80];
    char path[256];
    char xhdr[768]; /* extra response headers, "Name: value\n" lines (srv_add_header) */
} srv_req;

/* Replies with a malloc'd body (ownership passes to the reply, also on failure). Returns 0 when
 * the response was queued. */
int srv_reply(srv *s, srv_req *q, unsigned status, const char *ctype, char *body, size_t len);
/* Adds a header to the reply q will get (CORS, Retry-After and the rest are added as usual). */
void srv_add_header(srv_req *q, const char *name, const char *value);
/* Queues a response built by the caller (e.g. from a callback) with the usual headers; the
 * response is destroyed here. len is what the access log reports. Returns 0 when queued. */
struct MHD_Response;
int srv_queue(srv *s, srv_req *q, unsigned status, struct MHD_Response *r, size_t len);
int srv_reply_json(srv *s, srv_req *q, unsigned status, sbuf *b);
int srv_error(srv *s, srv_req *q, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* A query-string argument, or NULL. */
const char *srv_arg(srv_req *q, const char *name);
const char *srv_header(srv_req *q, const char *name);

/* Route handlers (routes.c). Each replies exactly once. */
typedef int (*srv_route_fn)(srv *s, srv_req *q);
int route_validate(srv *s, srv_req *q);
int route_validate_doc(srv *s, srv_req *q);
int route_batch(srv *s, srv_req *q);
int route_modules(srv *s, srv_req *q);
int route_gates(srv *s, srv_req *q);
int route_health(srv *s, srv_req *q);
int route_stats(srv *s, srv_req *q);
int route_audit_stats(srv *s, srv_req *q);
int route_an_overview(srv *s, srv_req *q);
int route_an_trends(srv *s, srv_req *q);
int route_an_modules(srv *s, srv_req *q);
int route_metrics(srv *s, srv_req *q);
int route_cache_stats(srv *s, srv_req *q);
int route_cache_clear(srv *s, srv_req *q);
/* The web page (static.c: /, /app.css, /app.js) and its recent-validations view
 * (audit_recent.c: GET /api/audit/recent). */
int route_static(srv *s, srv_req *q);
int route_audit_recent(srv *s, srv_req *q);

/* The interceptor (proxy.c, proxy_stream.c; docs/interceptor.md). setup returns -1 with a
 * message printed on bad provider settings. */
int srv_proxy_setup(srv *s);
void srv_proxy_teardown(srv *s);
int route_proxy_messages(srv *s, srv_req *q);
int route_proxy_chat(srv *s, srv_req *q);
/* Appends ,"providers":{...} (breaker state and counters) to a health object. */
void srv_proxy_health(srv *s, sbuf *b);
/* Prometheus families loki_proxy_*, loki_gen_ai_* and loki_provider_*. */
void srv_proxy_metrics(srv *s, sbuf *o);

/* Starts the HTTP daemon; runs until SIGTERM/SIGINT; drains and stops. */
int srv_run(srv *s);

/* Builds what the server runs on from s->cfg (engine, catalog, cache, limiter, interceptor,
 * audit log, access log; serve.c). Returns 0, or -1 with a message printed. srv_teardown
 * releases it, also after a failed srv_setup. */
int srv_setup(srv *s);
void srv_teardown(srv *s);
/* Starts the daemon on cfg.listen (http.c); NULL with a message printed on failure. *port is
 * the port bound (useful with port 0). */
struct MHD_Daemon;
struct MHD_Daemon *srv_http_start(srv *s, unsigned *port);

/* An in-process server for tests and fuzz targets (embed.c): srv_setup + srv_http_start on
 * cfg->listen ("127.0.0.1:0" picks a free port, returned in *port). No signals, no exit().
 * Returns NULL with a message printed on failure. srv_stop closes every connection, stops the
 * daemon and frees everything; srv_stop(NULL) is a no-op. */
srv *srv_start(const srv_config *cfg, unsigned *port);
void srv_stop(srv *s);

/* JSON request bodies (routes.c). srv_json_init makes cJSON allocate through libloki's
 * wrapper (process-wide; call before any thread parses). srv_json_parse parses p[0..n) like
 * cJSON_ParseWithLengthOpts and sets *oom when it failed for want of memory rather than
 * because of the input. Thread-safe. */
struct cJSON;
void srv_json_init(void);
struct cJSON *srv_json_parse(const char *p, size_t n, const char **end, int *oom);

/* Several instances (cluster.c). Fills cfg.instance_id when unset (hostname:port, or a random
 * id). */
void srv_cluster_instance_id(srv *s, unsigned port);
/* Attaches the shared Redis limiter to s->rl when rate limits are on and a Redis is
 * configured. Returns -1 with a message printed for a bad URL. */
int srv_cluster_setup(srv *s);
/* Appends ,"instance_id",... ,"degraded_reasons":[...] (and "ratelimit" when detailed) to a
 * health object. *degraded: in, the audit log's state; out, whether anything is degraded. */
void srv_cluster_health(srv *s, sbuf *b, int *degraded, int detailed);
/* Prometheus families loki_instance_info and loki_ratelimit_*. */
void srv_cluster_metrics(srv *s, sbuf *o);

/* Builds s->eng exactly as `loki serve` does (rules, compiled-rules cache, document cap), so
 * `loki cache warm` gets the same ruleset fingerprint; errors are printed with `who`. */
int srv_make_engine(srv *s, const char *who);

/* Fills sum from a verdict (for the audit log, metrics and replies). */
void srv_summarize(const loki_verdict *v, srv_summary *sum);

#endif
