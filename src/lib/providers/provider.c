/* SPDX-License-Identifier: MIT */
/*
 * A provider handle and loki_provider_call(): the one retry loop around upstream calls. The
 * loop is the only place that sleeps, and it sleeps through a hook so tests take no real
 * time. A retry happens only when nothing reached the caller's stream callbacks: once a byte
 * was relayed, the client has seen part of an answer and a second answer cannot be spliced in.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "prov_int.h"

struct loki_provider {
    const loki__adapter *ad;
    loki_http *http;
    char *name, *base_url, *api_key, *model, *anthropic_version;
    int pass_client_key;
    long connect_timeout_ms, timeout_ms, idle_timeout_ms;
    size_t max_response_bytes;
    loki_breaker *breaker;
    loki_retry_budget *budget;
    loki_bucket *req_bucket, *tok_bucket; /* NULL when unlimited */
    loki_retry_policy retry;
    loki_provider_hooks hooks;
    loki_provider *fallback;
    _Atomic uint64_t calls, attempts, retries, successes, failures, rejected_open, rejected_rate,
        budget_exhausted, fallbacks, input_tokens, output_tokens;
};

/* ---- default hooks ---- */

static int64_t default_now(void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void default_sleep(void *ud, int64_t ms)
{
    (void)ud;
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static double default_rand(void *ud)
{
    (void)ud;
    static _Thread_local uint64_t s;
    if (!s) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)(uintptr_t)&s ^ (uint64_t)ts.tv_sec;
        s |= 1;
    }
    s ^= s << 13; /* xorshift64: jitter needs spread, not cryptographic quality */
    s ^= s >> 7;
    s ^= s << 17;
    return (double)(s >> 11) / 9007199254740992.0;
}

static int64_t now_ms(const loki_provider *p)
{
    return p->hooks.now_ms ? p->hooks.now_ms(p->hooks.ud) : default_now(NULL);
}

/* ---- configuration and lifetime ---- */

void loki_provider_config_default(loki_provider_config *c, loki_provider_kind kind)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->anthropic_version = "2023-06-01";
    c->connect_timeout_ms = 10000;
    c->timeout_ms = 600000;
    c->idle_timeout_ms = 60000;
    c->max_response_bytes = 32u * 1024 * 1024;
    loki_breaker_config_default(&c->breaker);
    loki_retry_policy_default(&c->retry);
    c->retry_budget_ratio = 0.2;
    c->retry_budget_min = 10;
    c->retry_budget_window_ms = 10000;
}

static int has_crlf(const char *s)
{
    return s && strpbrk(s, "\r\n") != NULL;
}

static loki_status check_config(const loki_provider_config *c, loki_error *err)
{
    if (!loki__adapter_get(c->kind))
        return loki__err(err, LOKI_EINVAL, "unknown provider kind %d", (int)c->kind);
    const char *u = c->base_url;
    if (u && strncasecmp(u, "http://", 7) && strncasecmp(u, "https://", 8))
        return loki__err(err, LOKI_EINVAL, "provider base URL must be http:// or https://");
    if (has_crlf(u) || has_crlf(c->model) || has_crlf(c->anthropic_version))
        return loki__err(err, LOKI_EINVAL, "provider settings must not contain line breaks");
    if (has_crlf(c->api_key)) /* never echo the key itself */
        return loki__err(err, LOKI_EINVAL, "provider API key contains a line break");
    if (c->timeout_ms <= 0 || c->connect_timeout_ms <= 0 || c->max_response_bytes == 0)
        return loki__err(err, LOKI_EINVAL, "provider timeouts and limits must be positive");
    return LOKI_OK;
}

static loki_status make_buckets(loki_provider *p, const loki_provider_config *c, int64_t now)
{
    /* Per-minute limits with a burst of one minute's worth, like the providers' own. */
    if (c->requests_per_min > 0 &&
        loki_bucket_create(c->requests_per_min / 60.0, c->requests_per_min, now, &p->req_bucket) !=
            LOKI_OK)
        return LOKI_ENOMEM;
    if (c->tokens_per_min > 0 && loki_bucket_create(c->tokens_per_min / 60.0, c->tokens_per_min,
                                                    now, &p->tok_bucket) != LOKI_OK)
        return LOKI_ENOMEM;
    return LOKI_OK;
}

loki_status loki_provider_create(const loki_provider_config *c, loki_http *http,
                                 loki_provider **out, loki_error *err)
{
    *out = NULL;
    loki_status st = check_config(c, err);
    if (st != LOKI_OK)
        return st;
    if (!http)
        return loki__err(err, LOKI_EINVAL, "provider needs an HTTP client");
    loki_provider *p = loki__calloc(1, sizeof *p);
    if (!p)
        return loki__err(err, LOKI_ENOMEM, "out of memory");
    p->ad = loki__adapter_get(c->kind);
    p->http = http;
    p->pass_client_key = c->pass_client_key;
    p->connect_timeout_ms = c->connect_timeout_ms;
    p->timeout_ms = c->timeout_ms;
    p->idle_timeout_ms = c->idle_timeout_ms;
    p->max_response_bytes = c->max_response_bytes;
    p->retry = c->retry;
    p->hooks = c->hooks;
    const char *base = c->base_url ? c->base_url : p->ad->default_base_url;
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    p->base_url = loki__strndup(base, bl);
    p->name = loki__strdup(c->name ? c->name : p->ad->name);
    if (!p->base_url || !p->name ||
        loki__set_str(&p->api_key, c->api_key && *c->api_key ? c->api_key : NULL) ||
        loki__set_str(&p->model, c->model) ||
        loki__set_str(&p->anthropic_version, c->anthropic_version) ||
        loki_breaker_create(p->name, &c->breaker, &p->breaker) != LOKI_OK ||
        loki_retry_budget_create(c->retry_budget_ratio, c->retry_budget_min,
                                 c->retry_budget_window_ms, &p->budget) != LOKI_OK ||
        make_buckets(p, c, now_ms(p)) != LOKI_OK) {
        loki_provider_destroy(p);
        return loki__err(err, LOKI_ENOMEM, "out of memory");
    }
    *out = p;
    return LOKI_OK;
}

void loki_provider_destroy(loki_provider *p)
{
    if (!p)
        return;
    if (p->api_key) /* do not leave the key in freed heap memory */
        memset(p->api_key, 0, strlen(p->api_key));
    loki__free(p->api_key);
    loki__free(p->name);
    loki__free(p->base_url);
    loki__free(p->model);
    loki__free(p->anthropic_version);
    loki_breaker_destroy(p->breaker);
    loki_retry_budget_destroy(p->budget);
    loki_bucket_destroy(p->req_bucket);
    loki_bucket_destroy(p->tok_bucket);
    loki__free(p);
}

const char *loki_provider_name(const loki_provider *p)
{
    return p->name;
}

loki_provider_kind loki_provider_kind_of(const loki_provider *p)
{
    return p->ad->kind;
}

loki_breaker *loki_provider_breaker(loki_provider *p)
{
    return p->breaker;
}

loki_status loki_provider_set_fallback(loki_provider *p, loki_provider *fallback)
{
    if (fallback && (fallback == p || fallback->ad != p->ad))
        return LOKI_EINVAL;
    p->fallback = fallback;
    return LOKI_OK;
}

void loki_provider_stats_get(loki_provider *p, loki_provider_stats *o)
{
    o->calls = atomic_load(&p->calls);
    o->attempts = atomic_load(&p->attempts);
    o->retries = atomic_load(&p->retries);
    o->successes = atomic_load(&p->successes);
    o->failures = atomic_load(&p->failures);
    o->rejected_open = atomic_load(&p->rejected_open);
    o->rejected_rate = atomic_load(&p->rejected_rate);
    o->budget_exhausted = atomic_load(&p->budget_exhausted);
    o->fallbacks = atomic_load(&p->fallbacks);
    o->input_tokens = atomic_load(&p->input_tokens);
    o->output_tokens = atomic_load(&p->output_tokens);
}

/* ---- request building ---- */

static int header_is(const char *h, const char *name)
{
    size_t n = strlen(name);
    return !strncasecmp(h, name, n) && h[n] == ':';
}

static int header_reserved(const char *h)
{
    static const char *const names[] = {
        "authorization", "x-api-key",         "x-goog-api-key", "host",      "content-length",
        "content-type",  "transfer-encoding", "expect",         "connection"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (header_is(h, names[i]))
            return 1;
    return 0;
}

static loki_status add_header(struct curl_slist **h, const char *line)
{
    struct curl_slist *n = curl_slist_append(*h, line);
    if (!n)
        return LOKI_ENOMEM;
    *h = n;
    return LOKI_OK;
}

static loki_status build_headers(const loki_provider *p, const loki_provider_request *rq,
                                 struct curl_slist **h, loki_error *err)
{
    /* "Expect:" stops curl's 100-continue round trip on larger bodies. */
    if (add_header(h, "Content-Type: application/json") || add_header(h, "Expect:"))
        return loki__err(err, LOKI_ENOMEM, "out of memory");
    int client_version = 0;
    for (size_t i = 0; i < rq->n_headers; i++) {
        const char *line = rq->headers[i];
        if (!line || !strchr(line, ':') || has_crlf(line))
            return loki__err(err, LOKI_EINVAL, "request header %zu is malformed", i);
        if (header_reserved(line))
            continue;
        client_version |= header_is(line, "anthropic-version");
        if (add_header(h, line))
            return loki__err(err, LOKI_ENOMEM, "out of memory");
    }
    if (p->ad->kind == LOKI_PROVIDER_ANTHROPIC && !client_version && p->anthropic_version) {
        char line[160];
        snprintf(line, sizeof line, "anthropic-version: %s", p->anthropic_version);
        if (add_header(h, line))
            return loki__err(err, LOKI_ENOMEM, "out of memory");
    }
    const char *key = p->api_key;
    if (p->pass_client_key && rq->client_api_key && *rq->client_api_key)
        key = rq->client_api_key;
    if (has_crlf(key))
        return loki__err(err, LOKI_EINVAL, "API key contains a line break");
    if (key && p->ad->auth(h, key) != LOKI_OK)
        return loki__err(err, LOKI_ENOMEM, "out of memory");
    return LOKI_OK;
}

static loki_status build_url(const loki_provider *p, const loki_provider_request *rq, loki_buf *url,
                             loki_error *err)
{
    loki__buf_adds(url, p->base_url);
    loki_status st = p->ad->path(url, rq->model ? rq->model : p->model, rq->stream);
    if (st == LOKI_EINVAL)
        return loki__err(err, st, "provider %s: a valid model name is required", p->name);
    if (st != LOKI_OK || url->oom)
        return loki__err(err, LOKI_ENOMEM, "out of memory");
    return LOKI_OK;
}

/* ---- one attempt ---- */

typedef struct stream_state {
    const loki_provider_request *rq;
    loki_sse_parser *sse;
    loki_stream_decoder *dec;
    int relayed; /* bytes reached the caller's callbacks */
    int caller_abort;
    loki_status failed; /* a decode error stopped the transfer */
} stream_state;

static int on_sse_event(void *ud, const loki_sse_event *ev)
{
    stream_state *ss = ud;
    loki_stream_delta delta;
    loki_status st = loki_stream_decoder_event(ss->dec, ev, &delta);
    if (st != LOKI_OK) {
        ss->failed = st;
        return 1;
    }
    if (ss->rq->on_event) {
        ss->relayed = 1;
        if (ss->rq->on_event(ss->rq->ud, ev, &delta)) {
            ss->caller_abort = 1;
            return 1;
        }
    }
    return 0;
}

static int on_stream_bytes(void *ud, const char *p, size_t n)
{
    stream_state *ss = ud;
    if (ss->rq->on_data) {
        ss->relayed = 1;
        if (ss->rq->on_data(ss->rq->ud, p, n)) {
            ss->caller_abort = 1;
            return 1;
        }
    }
    int stop = 0;
    loki_status st = loki_sse_parser_feed(ss->sse, p, n, on_sse_event, ss, &stop);
    if (st != LOKI_OK)
        ss->failed = st;
    return stop || st != LOKI_OK;
}

/* Moves what the transfer produced into the result. */
static loki_status take_response(loki__xfer *x, loki_provider_result *r)
{
    r->status = (int)x->status;
    if (x->content_type[0] && loki__set_str(&r->content_type, x->content_type))
        return LOKI_ENOMEM;
    r->retry_after_ms = x->retry_after[0] ? loki_retry_after_parse(x->retry_after, time(NULL)) : -1;
    if (!x->streaming) {
        if (loki__buf_add(&x->body_buf, "", 0))
            return LOKI_ENOMEM;
        r->body = x->body_buf.p;
        r->body_len = x->body_buf.len;
        loki__buf_init(&x->body_buf, x->body_buf.max); /* ownership moved */
    }
    return LOKI_OK;
}

static loki_status finish_stream(const loki_provider *p, loki__xfer *x, loki_status xst,
                                 stream_state *ss, loki_provider_result *r, loki_attempt *a,
                                 loki_error *err)
{
    r->streamed = 1;
    r->bytes_relayed = ss->relayed;
    a->bytes_relayed = ss->relayed;
    if (ss->caller_abort) {
        r->aborted = 1;
        return LOKI_OK;
    }
    if (ss->failed != LOKI_OK)
        return loki__err(err, ss->failed, "provider %s: stream event %s", p->name,
                         ss->failed == LOKI_ELIMIT ? "too large" : "does not parse");
    loki_status st = loki_stream_decoder_finish(ss->dec, r);
    if (st == LOKI_ENOMEM)
        return loki__err(err, st, "out of memory");
    if (st == LOKI_OK)
        return LOKI_OK;
    /* A cut stream counts as a connection failure: retryable unless bytes were relayed. */
    a->connect_error = 1;
    if (ss->dec->error)
        return loki__err(err, LOKI_EIO, "provider %s: stream error event: %.300s", p->name,
                         ss->dec->error_message.len ? ss->dec->error_message.p : "(no message)");
    if (xst == LOKI_ETIMEOUT)
        a->timed_out = 1;
    return loki__err(err, xst == LOKI_ETIMEOUT ? LOKI_ETIMEOUT : LOKI_EIO,
                     "provider %s: stream truncated (no terminator)%s%s", p->name,
                     x->errbuf[0] ? ": " : "", x->errbuf);
}

static loki_status attempt_once(loki_provider *p, const loki_provider_request *rq, loki__xfer *x,
                                loki_provider_result *r, loki_attempt *a, loki_error *err)
{
    memset(a, 0, sizeof *a);
    a->retry_after_ms = -1;
    stream_state ss = {.rq = rq, .failed = LOKI_OK};
    loki_status st = LOKI_ENOMEM;
    if (loki_sse_parser_create(0, p->max_response_bytes, &ss.sse) != LOKI_OK ||
        loki_stream_decoder_create(p->ad->kind, p->max_response_bytes, &ss.dec) != LOKI_OK) {
        st = loki__err(err, LOKI_ENOMEM, "out of memory");
        goto out;
    }
    x->on_stream = on_stream_bytes;
    x->ud = &ss;
    loki_status xst = loki__http_perform(p->http, x);
    r->ttfb_ms = x->ttfb_ms;
    if (take_response(x, r) != LOKI_OK) {
        st = loki__err(err, LOKI_ENOMEM, "out of memory");
        goto out;
    }
    a->http_status = r->status;
    a->retry_after_ms = r->retry_after_ms;
    if (x->streaming) {
        st = finish_stream(p, x, xst, &ss, r, a, err);
        goto out;
    }
    if (xst == LOKI_ELIMIT) {
        st = loki__err(err, xst, "provider %s: response larger than %zu bytes", p->name,
                       p->max_response_bytes);
    } else if (xst == LOKI_ETIMEOUT || xst == LOKI_EIO) {
        a->http_status = 0; /* a partial response is no response */
        a->timed_out = x->timed_out;
        a->connect_error = x->connect_error;
        st = loki__err(err, xst, "provider %s: %s: %s", p->name,
                       xst == LOKI_ETIMEOUT ? "timed out" : "request failed", x->errbuf);
    } else if (xst != LOKI_OK) {
        st = loki__err(err, xst, "provider %s: %s", p->name, loki_strerror(xst));
    } else if (r->status >= 200 && r->status < 300) {
        st = loki_provider_parse_response(p->ad->kind, r->body, r->body_len, r, err);
    } else {
        st = LOKI_OK; /* an upstream error response: the caller relays it */
    }
out:
    loki_stream_decoder_destroy(ss.dec);
    loki_sse_parser_destroy(ss.sse);
    return st;
}

/* ---- the retry loop ---- */

static int attempt_failed(const loki_attempt *a)
{
    /* What counts against the breaker: the provider being down or overloaded. 4xx (429
     * included: the provider is up and answering) are the client's or the account's business. */
    return a->timed_out || a->connect_error || a->http_status >= 500;
}

/* Token buckets, in two steps: a peek before the breaker is asked (a refusal consumes
 * nothing) and the take once the breaker let the call through (a call rejected by the open
 * breaker consumes nothing either). Retries are not charged: the retry budget bounds them. */
static double est_tokens(const loki_provider_request *rq)
{
    return rq->est_tokens > 0 ? rq->est_tokens : (double)rq->body_len / 4.0;
}

static int bucket_peek(loki_bucket *b, double n, int64_t now, int64_t *wait_ms)
{
    if (!b || loki_bucket_level(b, now) >= n)
        return 1;
    int64_t w = 0;
    if (loki_bucket_take(b, n, now, &w))
        return 2; /* refilled since the peek (another thread, a clock tick): the take stands */
    if (w > *wait_ms)
        *wait_ms = w;
    return 0;
}

static int rate_peek(loki_provider *p, const loki_provider_request *rq, int64_t now,
                     int64_t *wait_ms, int taken[2])
{
    *wait_ms = 0;
    int a = bucket_peek(p->req_bucket, 1, now, wait_ms);
    int b = bucket_peek(p->tok_bucket, est_tokens(rq), now, wait_ms);
    taken[0] = a == 2;
    taken[1] = b == 2;
    return a && b;
}

static void rate_take(loki_provider *p, const loki_provider_request *rq, int64_t now,
                      const int taken[2])
{
    int64_t w;
    if (p->req_bucket && !taken[0])
        loki_bucket_take(p->req_bucket, 1, now, &w);
    if (p->tok_bucket && !taken[1])
        loki_bucket_take(p->tok_bucket, est_tokens(rq), now, &w);
}

static loki_status call_on(loki_provider *p, const loki_provider_request *rq,
                           loki_provider_result *r, loki_error *err, int may_fall_back);

static loki_status reject_open(loki_provider *p, const loki_provider_request *rq,
                               loki_provider_result *r, loki_error *err, int may_fall_back,
                               int64_t retry_after)
{
    atomic_fetch_add(&p->rejected_open, 1);
    if (may_fall_back && p->fallback) {
        atomic_fetch_add(&p->fallbacks, 1);
        loki_status st = call_on(p->fallback, rq, r, err, 0);
        r->used_fallback = 1;
        return st;
    }
    r->retry_after_ms = retry_after;
    return loki__err(err, LOKI_ECIRCUIT_OPEN, "provider %s: circuit breaker open", p->name);
}

static loki_status retry_loop(loki_provider *p, const loki_provider_request *rq, loki__xfer *x,
                              loki_provider_result *r, loki_error *err)
{
    loki_status st = LOKI_OK;
    for (unsigned n = 1;; n++) {
        int64_t now = now_ms(p), ra = -1;
        if (n > 1 && loki_breaker_allow(p->breaker, now, &ra) != LOKI_OK)
            break; /* opened while we waited: the last outcome stands */
        unsigned attempts = r->attempts;
        loki_provider_result_release(r);
        r->attempts = attempts + 1;
        atomic_fetch_add(&p->attempts, 1);
        if (n > 1)
            atomic_fetch_add(&p->retries, 1);
        loki_attempt a;
        st = attempt_once(p, rq, x, r, &a, err);
        now = now_ms(p);
        loki_breaker_record(p->breaker, !attempt_failed(&a), now);
        if (st == LOKI_OK && r->status >= 200 && r->status < 300)
            break;
        int64_t wait = 0;
        double u = p->hooks.rand01 ? p->hooks.rand01(p->hooks.ud) : default_rand(NULL);
        if (r->aborted || !loki_retry_next(&p->retry, n, &a, u, &wait))
            break;
        if (!loki_retry_budget_take(p->budget, now)) {
            atomic_fetch_add(&p->budget_exhausted, 1);
            break;
        }
        if (p->hooks.sleep_ms)
            p->hooks.sleep_ms(p->hooks.ud, wait);
        else
            default_sleep(NULL, wait);
    }
    return st;
}

static void account(loki_provider *p, loki_status st, const loki_provider_result *r)
{
    if (st == LOKI_OK && r->status >= 200 && r->status < 300 && !r->aborted)
        atomic_fetch_add(&p->successes, 1);
    else if (st == LOKI_ETIMEOUT || st == LOKI_EIO || r->status >= 500)
        atomic_fetch_add(&p->failures, 1);
    if (r->input_tokens > 0)
        atomic_fetch_add(&p->input_tokens, (uint64_t)r->input_tokens);
    if (r->output_tokens > 0)
        atomic_fetch_add(&p->output_tokens, (uint64_t)r->output_tokens);
}

static loki_status call_on(loki_provider *p, const loki_provider_request *rq,
                           loki_provider_result *r, loki_error *err, int may_fall_back)
{
    atomic_fetch_add(&p->calls, 1);
    loki_buf url;
    loki__buf_init(&url, 16384);
    struct curl_slist *hdrs = NULL;
    loki__xfer x;
    memset(&x, 0, sizeof x);
    loki__buf_init(&x.body_buf, p->max_response_bytes + 1);
    int64_t now = now_ms(p), wait = -1;
    loki_status st = build_url(p, rq, &url, err);
    if (st != LOKI_OK || (st = build_headers(p, rq, &hdrs, err)) != LOKI_OK)
        goto out;
    int taken[2];
    if (!rate_peek(p, rq, now, &wait, taken)) {
        atomic_fetch_add(&p->rejected_rate, 1);
        r->retry_after_ms = wait;
        st = loki__err(err, LOKI_ELIMIT, "provider %s: local rate limit reached", p->name);
        goto out;
    }
    int64_t ra = -1;
    if (loki_breaker_allow(p->breaker, now, &ra) != LOKI_OK) {
        st = reject_open(p, rq, r, err, may_fall_back, ra);
        goto out;
    }
    rate_take(p, rq, now, taken);
    loki_retry_budget_note_request(p->budget, now);
    x.url = url.p;
    x.headers = hdrs;
    x.body = rq->body;
    x.body_len = rq->body_len;
    x.connect_timeout_ms = p->connect_timeout_ms;
    x.timeout_ms = p->timeout_ms;
    x.idle_timeout_ms = p->idle_timeout_ms;
    x.max_body = p->max_response_bytes;
    st = retry_loop(p, rq, &x, r, err);
    account(p, st, r);
out:
    curl_slist_free_all(hdrs);
    loki__buf_release(&url);
    loki__buf_release(&x.body_buf);
    return st;
}

loki_status loki_provider_call(loki_provider *p, const loki_provider_request *rq,
                               loki_provider_result *r, loki_error *err)
{
    if (!p || !rq || !r || (!rq->body && rq->body_len))
        return loki__err(err, LOKI_EINVAL, "invalid provider call");
    loki_provider_result_release(r);
    double t0 = loki__now_ms(); /* real time even under test hooks: it is a measurement */
    loki_status st = call_on(p, rq, r, err, 1);
    r->total_ms = loki__now_ms() - t0;
    return st;
}
