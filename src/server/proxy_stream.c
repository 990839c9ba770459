/* SPDX-License-Identifier: MIT */
/*
 * Streaming (SSE) through the interceptor. A producer thread runs the upstream call; each
 * decoded event is re-framed and held back until the text it carries is validated and lies
 * more than `proxy_stream_window` bytes behind the newest text, so that a violating phrase is
 * caught (the prefix is re-checked every window/4 bytes) before it reaches the client. The
 * MHD worker serving the client reads the released bytes from a callback response.
 *
 * The end of a stream: complete and allowed -> the held text, the provider's terminator, then
 * `event: loki` with the verdict. Blocked (midway or by the final check) -> a provider-native
 * error event, `event: loki`, and no terminator, so SDKs raise an API error. Cut upstream ->
 * the validated text, a native error event naming the truncation, `event: loki`.
 */
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

typedef struct mark {
    size_t byte_end; /* end of the event in `held` */
    size_t text_end; /* text length once the event is included */
} mark;

typedef struct pstream {
    _Atomic int refs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    srv *s;
    px_call c;
    char *body;
    size_t body_len;
    char client[80];
    char key[1024]; /* the client's provider key, when passed through; wiped at the end */
    double t0;
    /* Filled by the producer; read by the handler only once `finished` (and not started). */
    loki_status st;
    loki_provider_result r;
    loki_error err;
    /* Shared under mu. */
    int started, finished, client_gone;
    sbuf out;
    size_t out_pos;
    /* Producer only. */
    sbuf text, held, term;
    mark *marks;
    size_t n_marks, cap_marks;
    size_t checked_len, released_text, step;
    unsigned checks;
    int blocked_midway;
    px_verdict v; /* the verdict that blocked midway */
} pstream;

static void ps_unref(pstream *ps)
{
    if (atomic_fetch_sub(&ps->refs, 1) != 1)
        return;
    loki_provider_result_release(&ps->r);
    sbuf_release(&ps->out);
    sbuf_release(&ps->text);
    sbuf_release(&ps->held);
    sbuf_release(&ps->term);
    px_verdict_release(&ps->v);
    free(ps->marks);
    free(ps->body);
    explicit_bzero(ps->key, sizeof ps->key);
    pthread_mutex_destroy(&ps->mu);
    pthread_cond_destroy(&ps->cv);
    free(ps);
}

/* Hands bytes to the client side. */
static void emit(pstream *ps, const char *p, size_t n)
{
    pthread_mutex_lock(&ps->mu);
    sbuf_put(&ps->out, p, n);
    pthread_cond_broadcast(&ps->cv);
    pthread_mutex_unlock(&ps->mu);
}

/* Releases the held events whose text ends at or before `limit`. */
static void release(pstream *ps, size_t limit)
{
    size_t k = 0;
    while (k < ps->n_marks && ps->marks[k].text_end <= limit)
        k++;
    if (!k)
        return;
    size_t bytes = ps->marks[k - 1].byte_end;
    ps->released_text = ps->marks[k - 1].text_end;
    emit(ps, ps->held.p, bytes);
    memmove(ps->held.p, ps->held.p + bytes, ps->held.len - bytes);
    ps->held.len -= bytes;
    memmove(ps->marks, ps->marks + k, (ps->n_marks - k) * sizeof *ps->marks);
    ps->n_marks -= k;
    for (size_t i = 0; i < ps->n_marks; i++)
        ps->marks[i].byte_end -= bytes;
}

static void frame(sbuf *b, const loki_sse_event *ev)
{
    if (ev->event_len && strcmp(ev->event, "message") != 0) {
        sbuf_puts(b, "event: ");
        sbuf_put(b, ev->event, ev->event_len);
        sbuf_puts(b, "\n");
    }
    const char *p = ev->data, *end = ev->data + ev->data_len;
    for (;;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        sbuf_puts(b, "data: ");
        sbuf_put(b, p, nl ? (size_t)(nl - p) : (size_t)(end - p));
        sbuf_puts(b, "\n");
        if (!nl)
            break;
        p = nl + 1;
    }
    sbuf_puts(b, "\n");
}

static int push_mark(pstream *ps)
{
    if (ps->n_marks == ps->cap_marks) {
        size_t cap = ps->cap_marks ? ps->cap_marks * 2 : 64;
        mark *m = loki__realloc(ps->marks, cap * sizeof *m);
        if (!m)
            return -1;
        ps->marks = m;
        ps->cap_marks = cap;
    }
    ps->marks[ps->n_marks++] = (mark){ps->held.len, ps->text.len};
    return 0;
}

static size_t limit_of(const pstream *ps)
{
    size_t w = ps->s->proxy->window;
    return ps->checked_len > w ? ps->checked_len - w : 0;
}

/* Re-checks the text so far. Returns 1 when it must be blocked now. */
static int check_prefix(pstream *ps)
{
    srv_proxy *px = ps->s->proxy;
    px_verdict v;
    px_check(ps->s, ps->text.p, ps->text.len, &v);
    ps->checks++;
    atomic_fetch_add_explicit(&px->m.stream_checks, 1, memory_order_relaxed);
    /* Midway only findings with evidence (spans) block: a gate failing for something that is
     * missing may be satisfied by text still to come. The final check applies the full policy. */
    if (v.ok && v.verdict == PX_BLOCKED && v.evidence_block) {
        px_verdict_release(&ps->v);
        ps->v = v;
        ps->blocked_midway = 1;
        return 1;
    }
    px_verdict_release(&v);
    if (v.ok)
        ps->checked_len = ps->text.len;
    return 0;
}

static int on_event(void *ud, const loki_sse_event *ev, const loki_stream_delta *d)
{
    pstream *ps = ud;
    pthread_mutex_lock(&ps->mu);
    int gone = ps->client_gone;
    if (!ps->started) {
        ps->started = 1;
        pthread_cond_broadcast(&ps->cv);
    }
    pthread_mutex_unlock(&ps->mu);
    if (gone)
        return 1;
    if (d->error)
        return 0; /* the call fails with the event's message; we send our own error event */
    if (d->done) {
        frame(&ps->term, ev);
        return 0;
    }
    if (ps->term.len) { /* after the terminator (OpenAI usage chunk...): keep the order */
        frame(&ps->term, ev);
        return 0;
    }
    frame(&ps->held, ev);
    if (d->text_len)
        sbuf_put(&ps->text, d->text, d->text_len);
    if (ps->held.oom || ps->text.oom || push_mark(ps) != 0)
        return 1;
    if (ps->text.len >= ps->checked_len + ps->step && check_prefix(ps))
        return 1;
    release(ps, limit_of(ps));
    return 0;
}

/* `event: loki` with the verdict and how the stream went. */
static void loki_event(pstream *ps, const px_verdict *v, const char *end)
{
    sbuf b;
    sbuf_init(&b);
    sbuf_puts(&b, "event: loki\ndata: ");
    if (v && v->ok && v->loki_json && v->loki_len > 1)
        sbuf_put(&b, v->loki_json, v->loki_len - 1);
    else
        sbuf_puts(&b, "{\"verdict\":null");
    sbuf_printf(&b, ",\"stream\":{\"end\":\"%s\",\"checks\":%u,\"relayed_text_bytes\":%zu,"
                    "\"text_bytes\":%zu,\"window\":%zu}}\n\n",
                end, ps->checks, ps->released_text, ps->text.len,
                ps->s->proxy->window);
    if (!b.oom)
        emit(ps, b.p, b.len);
    sbuf_release(&b);
}

static void error_event(pstream *ps, unsigned status, const char *code, const char *msg)
{
    char *ev = NULL;
    size_t n = 0;
    if (loki_provider_render_error(ps->c.api == PX_ANTHROPIC ? LOKI_PROVIDER_ANTHROPIC
                                                             : LOKI_PROVIDER_OPENAI,
                                   (int)status, NULL, code, msg, strlen(msg), 1, &ev,
                                   &n) == LOKI_OK)
        emit(ps, ev, n);
    free(ev);
}

static void audit_stream(pstream *ps, const px_verdict *v)
{
    srv_req q;
    memset(&q, 0, sizeof q);
    snprintf(q.client, sizeof q.client, "%s", ps->client);
    px_audit(ps->s, &q, ps->c.api, v, (ps->s->now() - ps->t0) * 1000);
    if (v->ok)
        atomic_fetch_add_explicit(&ps->s->proxy->m.verdicts[ps->c.api][v->verdict], 1,
                                  memory_order_relaxed);
}

static void blocked_end(pstream *ps, const px_verdict *v, const char *end)
{
    char msg[700];
    snprintf(msg, sizeof msg, "LOKI blocked this answer (risk %s): %s", loki_risk_name(v->risk),
             v->reason);
    if (v->first_span < ps->released_text)
        atomic_fetch_add_explicit(&ps->s->proxy->m.stream_leaked, 1, memory_order_relaxed);
    error_event(ps, 422, "loki_blocked", msg);
    loki_event(ps, v, end);
}

/* After the upstream call returned: the end of the stream. */
static void finish_streamed(pstream *ps)
{
    srv_proxy *px = ps->s->proxy;
    int result = PR_OK;
    if (ps->blocked_midway) {
        atomic_fetch_add_explicit(&px->m.stream_blocked_midway, 1, memory_order_relaxed);
        audit_stream(ps, &ps->v);
        blocked_end(ps, &ps->v, "blocked");
        result = PR_BLOCKED;
    } else {
        px_verdict v;
        px_check(ps->s, ps->text.p ? ps->text.p : "", ps->text.len, &v);
        int complete = ps->st == LOKI_OK && ps->r.stream_complete && !ps->r.aborted;
        if (v.ok)
            audit_stream(ps, &v);
        if (!v.ok) {
            error_event(ps, 502, "loki_check_failed", v.reason);
            loki_event(ps, &v, "check_failed");
            result = PR_FAILED;
        } else if (v.verdict == PX_BLOCKED) {
            blocked_end(ps, &v, "blocked");
            result = PR_BLOCKED;
        } else {
            release(ps, SIZE_MAX);
            if (complete) {
                emit(ps, ps->term.p, ps->term.len);
                loki_event(ps, &v, "complete");
            } else {
                char msg[700];
                snprintf(msg, sizeof msg, "LOKI: upstream stream ended early: %s",
                         ps->err.message[0] ? ps->err.message : loki_strerror(ps->st));
                error_event(ps, 502, "upstream_truncated", msg);
                loki_event(ps, &v, "truncated");
                result = PR_TRUNCATED;
            }
        }
        px_verdict_release(&v);
    }
    px_count(ps->s, ps->c.api, 1, result, &ps->r);
    srv_hist_observe(&px->m.duration[ps->c.api], ps->s->now() - ps->t0);
}

static void *producer(void *arg)
{
    pstream *ps = arg;
    loki_provider_request rq;
    memset(&rq, 0, sizeof rq);
    rq.body = ps->body;
    rq.body_len = ps->body_len;
    rq.stream = 1;
    rq.client_api_key = ps->c.client_key;
    rq.headers = ps->c.headers;
    rq.n_headers = ps->c.n_headers;
    rq.on_event = on_event;
    rq.ud = ps;
    ps->st = loki_provider_call(ps->s->proxy->prov[ps->c.api], &rq, &ps->r, &ps->err);
    pthread_mutex_lock(&ps->mu);
    int started = ps->started;
    pthread_mutex_unlock(&ps->mu);
    if (started)
        finish_streamed(ps);
    srv_proxy *px = ps->s->proxy;
    pthread_mutex_lock(&ps->mu);
    ps->finished = 1;
    pthread_cond_broadcast(&ps->cv);
    pthread_mutex_unlock(&ps->mu);
    ps_unref(ps);
    atomic_fetch_sub(&px->live_streams, 1);
    return NULL;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    pstream *ps = cls;
    pthread_mutex_lock(&ps->mu);
    while (ps->out_pos == ps->out.len && !ps->finished)
        pthread_cond_wait(&ps->cv, &ps->mu);
    size_t n = ps->out.len - ps->out_pos;
    if (n > max)
        n = max;
    if (n) {
        memcpy(buf, ps->out.p + ps->out_pos, n);
        ps->out_pos += n;
        if (ps->out_pos == ps->out.len)
            ps->out_pos = ps->out.len = 0;
    }
    pthread_mutex_unlock(&ps->mu);
    return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void reader_free(void *cls)
{
    pstream *ps = cls;
    pthread_mutex_lock(&ps->mu);
    ps->client_gone = 1;
    pthread_mutex_unlock(&ps->mu);
    ps_unref(ps);
}

static pstream *ps_create(srv *s, srv_req *q, const px_call *c, double t0)
{
    pstream *ps = loki__calloc(1, sizeof *ps);
    if (!ps)
        return NULL;
    ps->body = loki__malloc(q->body.len + 1);
    if (!ps->body) {
        free(ps);
        return NULL;
    }
    memcpy(ps->body, q->body.p, q->body.len);
    ps->body_len = q->body.len;
    atomic_init(&ps->refs, 2);
    pthread_mutex_init(&ps->mu, NULL);
    pthread_cond_init(&ps->cv, NULL);
    ps->s = s;
    ps->c = *c;
    /* The header pointers point into c->hbuf: repoint them at our copy. */
    for (size_t i = 0; i < ps->c.n_headers; i++)
        ps->c.headers[i] = ps->c.hbuf[i];
    snprintf(ps->client, sizeof ps->client, "%s", q->client);
    if (c->client_key) {
        snprintf(ps->key, sizeof ps->key, "%s", c->client_key);
        ps->c.client_key = ps->key;
    }
    ps->t0 = t0;
    size_t w = s->proxy->window;
    ps->step = w / 4 < 32 ? 32 : w / 4;
    loki_provider_result_init(&ps->r);
    sbuf_init(&ps->out);
    sbuf_init(&ps->text);
    sbuf_init(&ps->held);
    sbuf_init(&ps->term);
    return ps;
}

int px_stream(srv *s, srv_req *q, const px_call *c, double t0)
{
    pstream *ps = ps_create(s, q, c, t0);
    if (!ps)
        return srv_reply(s, q, 503, NULL, NULL, 0);
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    atomic_fetch_add(&s->proxy->live_streams, 1);
    if (pthread_create(&th, &at, producer, ps) != 0) {
        pthread_attr_destroy(&at);
        atomic_fetch_sub(&s->proxy->live_streams, 1);
        atomic_store(&ps->refs, 1);
        ps_unref(ps);
        return srv_reply(s, q, 503, NULL, NULL, 0);
    }
    pthread_attr_destroy(&at);
    pthread_mutex_lock(&ps->mu);
    while (!ps->started && !ps->finished)
        pthread_cond_wait(&ps->cv, &ps->mu);
    int started = ps->started;
    pthread_mutex_unlock(&ps->mu);
    if (!started) { /* no stream came: an error, a refusal, or a JSON answer */
        pthread_mutex_lock(&ps->mu);
        while (!ps->finished)
            pthread_cond_wait(&ps->cv, &ps->mu);
        pthread_mutex_unlock(&ps->mu);
        int rc = px_respond(s, q, &ps->c, ps->st, &ps->r, &ps->err, t0);
        ps_unref(ps);
        return rc;
    }
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, reader, ps, reader_free);
    if (!r) {
        reader_free(ps);
        return -1;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    srv_add_header(q, "x-loki-verdict", "pending");
    return srv_queue(s, q, 200, r, 0);
}
