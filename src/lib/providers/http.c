/* SPDX-License-Identifier: MIT */
/*
 * The HTTP client: a LIFO pool of libcurl easy handles. An easy handle keeps its connection
 * cache across curl_easy_reset(), so handing the most recently used handle to the next
 * transfer reuses a warm keep-alive connection without the locking a share handle needs.
 * Each transfer runs on one thread with its own handle; only the pool is locked.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "prov_int.h"

struct loki_http {
    pthread_mutex_t mu;
    CURL **idle;
    unsigned n_idle, max_idle;
    _Atomic uint64_t requests, created, connects;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
    /* curl_global_init is not safe to race; after this it is never cleaned up (other code in
     * the process may use libcurl too). */
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

loki_status loki_http_create(unsigned max_idle, loki_http **out)
{
    *out = NULL;
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return LOKI_EINTERNAL;
    loki_http *h = loki__calloc(1, sizeof *h);
    if (!h)
        return LOKI_ENOMEM;
    h->max_idle = max_idle ? max_idle : 16;
    h->idle = loki__calloc(h->max_idle, sizeof *h->idle);
    if (!h->idle || pthread_mutex_init(&h->mu, NULL)) {
        loki__free(h->idle);
        loki__free(h);
        return LOKI_ENOMEM;
    }
    *out = h;
    return LOKI_OK;
}

void loki_http_destroy(loki_http *h)
{
    if (!h)
        return;
    for (unsigned i = 0; i < h->n_idle; i++)
        curl_easy_cleanup(h->idle[i]);
    pthread_mutex_destroy(&h->mu);
    loki__free(h->idle);
    loki__free(h);
}

void loki_http_stats_get(loki_http *h, loki_http_stats *out)
{
    out->requests = atomic_load(&h->requests);
    out->handles_created = atomic_load(&h->created);
    out->connects = atomic_load(&h->connects);
    pthread_mutex_lock(&h->mu);
    out->idle = h->n_idle;
    pthread_mutex_unlock(&h->mu);
}

static CURL *handle_get(loki_http *h)
{
    CURL *c = NULL;
    pthread_mutex_lock(&h->mu);
    if (h->n_idle)
        c = h->idle[--h->n_idle];
    pthread_mutex_unlock(&h->mu);
    if (c) {
        curl_easy_reset(c);
        return c;
    }
    c = curl_easy_init();
    if (c)
        atomic_fetch_add(&h->created, 1);
    return c;
}

static void handle_put(loki_http *h, CURL *c)
{
    pthread_mutex_lock(&h->mu);
    if (h->n_idle < h->max_idle) {
        h->idle[h->n_idle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&h->mu);
    if (c)
        curl_easy_cleanup(c);
}

typedef struct ctx {
    loki__xfer *x;
    CURL *c;
    int decided; /* the first body byte was seen: status and content type are known */
} ctx;

/* Copies a header value (trimmed) into a fixed field; longer values are cut, which is harmless
 * for the two headers kept. */
static void header_value(char *dst, size_t cap, const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
    loki__xfer *x = ((ctx *)ud)->x;
    size_t n = sz * nm;
    if (n >= 5 && !memcmp(p, "HTTP/", 5)) { /* a new response (after 1xx): forget the old */
        x->content_type[0] = '\0';
        x->retry_after[0] = '\0';
    } else if (n > 13 && !strncasecmp(p, "content-type:", 13)) {
        header_value(x->content_type, sizeof x->content_type, p + 13, n - 13);
    } else if (n > 12 && !strncasecmp(p, "retry-after:", 12)) {
        header_value(x->retry_after, sizeof x->retry_after, p + 12, n - 12);
    }
    return n;
}

static void decide(ctx *cx)
{
    loki__xfer *x = cx->x;
    cx->decided = 1;
    curl_easy_getinfo(cx->c, CURLINFO_RESPONSE_CODE, &x->status);
    x->streaming = x->status >= 200 && x->status < 300 &&
                   !strncasecmp(x->content_type, "text/event-stream", 17);
}

static size_t on_write(char *p, size_t sz, size_t nm, void *ud)
{
    ctx *cx = ud;
    loki__xfer *x = cx->x;
    size_t n = sz * nm;
    if (!cx->decided)
        decide(cx);
    if (x->streaming) {
        if (x->on_stream && x->on_stream(x->ud, p, n)) {
            x->aborted = 1;
            return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
        }
        return n;
    }
    if (n > x->max_body - x->body_buf.len) {
        x->too_big = 1;
        return 0;
    }
    if (loki__buf_add(&x->body_buf, p, n))
        return 0;
    return n;
}

static int is_connect_error(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM: return 1;
    default: return 0;
    }
}

static void set_options(CURL *c, loki__xfer *x, ctx *cx)
{
    curl_easy_setopt(c, CURLOPT_URL, x->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* required when threads use curl */
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, x->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, x->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, x->timeout_ms);
    if (x->idle_timeout_ms > 0) {
        /* curl's stall detector works in whole seconds: round up. */
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (x->idle_timeout_ms + 999) / 1000);
    }
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, cx);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, cx);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
}

loki_status loki__http_perform(loki_http *h, loki__xfer *x)
{
    x->status = 0;
    x->content_type[0] = x->retry_after[0] = x->errbuf[0] = '\0';
    x->streaming = x->aborted = x->too_big = x->timed_out = x->connect_error = 0;
    x->ttfb_ms = 0;
    x->body_buf.len = 0;
    CURL *c = handle_get(h);
    if (!c)
        return LOKI_ENOMEM;
    atomic_fetch_add(&h->requests, 1);
    ctx cx = {.x = x, .c = c};
    set_options(c, x, &cx);
    CURLcode rc = curl_easy_perform(c);
    if (!cx.decided)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->status);
    curl_off_t st_us = 0;
    long nconn = 0;
    curl_easy_getinfo(c, CURLINFO_STARTTRANSFER_TIME_T, &st_us);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &nconn);
    x->ttfb_ms = (double)st_us / 1000.0;
    atomic_fetch_add(&h->connects, (uint64_t)(nconn > 0 ? nconn : 0));
    /* The handles are not shared with the caller: drop its pointers before pooling. */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    handle_put(h, c);
    if (rc == CURLE_OK)
        return x->body_buf.oom ? LOKI_ENOMEM : LOKI_OK;
    if (x->aborted)
        return LOKI_OK;
    if (x->too_big)
        return LOKI_ELIMIT;
    if (rc == CURLE_WRITE_ERROR && x->body_buf.oom)
        return LOKI_ENOMEM;
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        x->timed_out = 1;
        return LOKI_ETIMEOUT;
    }
    x->connect_error = is_connect_error(rc);
    if (!x->errbuf[0])
        snprintf(x->errbuf, sizeof x->errbuf, "%s", curl_easy_strerror(rc));
    return LOKI_EIO;
}
