/* SPDX-License-Identifier: MIT */
/*
 * The interceptor (proxy.c, proxy_stream.c): POST /v1/messages and /v1/chat/completions
 * forwarded through libloki's provider layer, the generated text checked by the engine, the
 * verdict added in-band. This header is private to those two files; server.h declares what
 * the rest of the server calls (setup, routes, health, metrics).
 */
#ifndef LOKI_SERVER_PROXY_H
#define LOKI_SERVER_PROXY_H

#include "loki/providers.h"
#include "server.h"

enum { PX_ANTHROPIC = 0, PX_OPENAI, PX_GEMINI, PX__N };
enum { PX_ALLOWED = 0, PX_FLAGGED, PX_BLOCKED };
/* Outcome of one proxied call, for loki_proxy_requests_total{result}. */
enum { PR_OK = 0, PR_BLOCKED, PR_UPSTREAM_ERROR, PR_BREAKER_OPEN, PR_RATE_LIMITED, PR_FAILED,
       PR_TRUNCATED, PR_PROMPT_BLOCKED, PR__N };

#define PX_TOK_BUCKETS 14

typedef struct px_tok_hist {
    _Atomic uint64_t bucket[PX_TOK_BUCKETS + 1];
    _Atomic uint64_t sum, count;
} px_tok_hist;

typedef struct px_metrics {
    _Atomic uint64_t requests[PX__N][2][PR__N]; /* [api][stream][result] */
    _Atomic uint64_t verdicts[PX__N][3];
    srv_hist duration[PX__N]; /* whole proxied call, validation included */
    srv_hist ttft[PX__N];     /* request sent -> first upstream byte */
    srv_hist check;           /* engine time per proxied check */
    px_tok_hist tokens[PX__N][2]; /* [api][input, output] */
    _Atomic uint64_t stream_checks, stream_blocked_midway, stream_leaked;
} px_metrics;

typedef struct srv_proxy {
    loki_http *http;
    loki_provider *prov[PX__N];
    char modules_buf[1024];
    const char *modules[SRV_MAX_MODULES];
    size_t n_modules;
    int block_risk; /* loki_risk at or above which an answer is blocked; 4 = never */
    size_t window;  /* streaming hold-back window, bytes of text */
    _Atomic int live_streams; /* producer threads running (teardown waits for them) */
    px_metrics m;
} srv_proxy;

/* A checked text and what the policy makes of it. */
typedef struct px_verdict {
    int verdict; /* PX_ALLOWED, PX_FLAGGED, PX_BLOCKED */
    int evidence_block; /* blocked by a FAIL that has spans (safe to act on mid-stream) */
    loki_risk risk;
    char *loki_json; /* the `loki` object, malloc'd */
    size_t loki_len;
    char reason[512]; /* the first blocking finding, for the error message */
    srv_summary sum;
    double check_ms;
    size_t first_span; /* earliest byte of a blocking finding's spans (SIZE_MAX: none) */
    int ok; /* 0: the engine failed (text not UTF-8, too large...); reason says why */
} px_verdict;

/* Checks text under the configured policy. Always fills v (v->ok = 0 on engine failure). */
void px_check(srv *s, const char *text, size_t len, px_verdict *v);
void px_verdict_release(px_verdict *v);
const char *px_verdict_name(int v);
/* Error body in the provider's own format with LOKI's message and, when loki_json is set, the
 * `loki` object added. malloc'd; NULL on allocation failure. */
char *px_error_body(int api, unsigned status, const char *code, const char *msg,
                    const char *loki_json, size_t loki_len, size_t *len);
/* Appends ,"loki":{...} inside a JSON object body. NULL when body is not an object. */
char *px_add_loki(const char *body, size_t len, const char *loki, size_t loki_len,
                  size_t *out_len);
void px_audit(srv *s, srv_req *q, int api, const px_verdict *v, double ms);
void px_count(srv *s, int api, int stream, int result, const loki_provider_result *r);

/* What a handler extracted from the client request. */
typedef struct px_call {
    int api;
    int stream;
    char model[256];
    const char *headers[8];
    char hbuf[8][512];
    size_t n_headers;
    const char *client_key;
} px_call;

/* Turns a finished upstream call (no stream relayed) into the client's reply. */
int px_respond(srv *s, srv_req *q, const px_call *c, loki_status st, loki_provider_result *r,
               const loki_error *err, double t0);
/* The streaming path (proxy_stream.c): replies (SSE, or a plain reply when no stream came). */
int px_stream(srv *s, srv_req *q, const px_call *c, double t0);

#endif
