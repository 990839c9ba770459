/* SPDX-License-Identifier: MIT */
/*
 * Incremental text/event-stream parser (WHATWG "Server-sent events" interpretation rules).
 * Bytes arrive split anywhere, so a line is accumulated until its end; a CR at the end of one
 * feed may be the first half of a CRLF, which is why `cr` survives between feeds. Lines and
 * events have hard caps: an upstream cannot make us buffer without bound.
 */
#include <string.h>

#include "prov_int.h"

struct loki_sse_parser {
    loki_buf line, data, event, id;
    int cr;       /* the previous byte was a CR: a following LF belongs to it */
    int bom_done; /* the first bytes were checked for a UTF-8 BOM */
    int has_data; /* a data field was seen for the current event */
    int dead;     /* a cap was hit; further feeds fail */
    size_t max_line, max_event;
};

loki_status loki_sse_parser_create(size_t max_line, size_t max_event, loki_sse_parser **out)
{
    *out = NULL;
    loki_sse_parser *p = loki__calloc(1, sizeof *p);
    if (!p)
        return LOKI_ENOMEM;
    p->max_line = max_line ? max_line : 64 * 1024;
    p->max_event = max_event ? max_event : 4 * 1024 * 1024;
    loki__buf_init(&p->line, p->max_line);
    loki__buf_init(&p->data, p->max_event);
    loki__buf_init(&p->event, p->max_line);
    loki__buf_init(&p->id, p->max_line);
    *out = p;
    return LOKI_OK;
}

void loki_sse_parser_destroy(loki_sse_parser *p)
{
    if (!p)
        return;
    loki__buf_release(&p->line);
    loki__buf_release(&p->data);
    loki__buf_release(&p->event);
    loki__buf_release(&p->id);
    loki__free(p);
}

int loki_sse_parser_pending(const loki_sse_parser *p)
{
    return p->line.len > 0 || p->has_data;
}

static loki_status set_buf(loki_buf *b, const char *s, size_t n)
{
    b->len = 0;
    if (loki__buf_add(b, s, n))
        return b->oom && n <= b->max ? LOKI_ENOMEM : LOKI_ELIMIT;
    return LOKI_OK;
}

static loki_status dispatch(loki_sse_parser *p, loki_sse_event_fn cb, void *ud, int *stop)
{
    loki_status st = LOKI_OK;
    if (!p->has_data)
        goto reset; /* an event with no data is not dispatched */
    size_t dl = p->data.len;
    if (dl && p->data.p[dl - 1] == '\n')
        dl--; /* the spec drops the final newline */
    loki_sse_event ev = {
        .event = p->event.len ? p->event.p : "message",
        .event_len = p->event.len ? p->event.len : 7,
        .data = dl ? p->data.p : "",
        .data_len = dl,
        .id = p->id.len ? p->id.p : "",
        .id_len = p->id.len,
    };
    if (dl)
        p->data.p[dl] = '\0';
    if (cb && cb(ud, &ev))
        *stop = 1;
reset:
    p->data.len = 0;
    p->event.len = 0;
    p->has_data = 0;
    return st;
}

static loki_status field(loki_sse_parser *p, const char *l, size_t n)
{
    const char *colon = memchr(l, ':', n);
    size_t nl = colon ? (size_t)(colon - l) : n;
    const char *v = colon ? colon + 1 : l + n;
    size_t vl = (size_t)(l + n - v);
    if (vl && *v == ' ') {
        v++;
        vl--;
    }
    if (nl == 4 && !memcmp(l, "data", 4)) {
        p->has_data = 1;
        if (loki__buf_add(&p->data, v, vl) || loki__buf_add(&p->data, "\n", 1))
            return p->data.len + vl + 1 > p->max_event ? LOKI_ELIMIT : LOKI_ENOMEM;
        return LOKI_OK;
    }
    if (nl == 5 && !memcmp(l, "event", 5))
        return set_buf(&p->event, v, vl);
    if (nl == 2 && !memcmp(l, "id", 2) && !memchr(v, '\0', vl))
        return set_buf(&p->id, v, vl);
    return LOKI_OK; /* retry and unknown fields are ignored */
}

/* One complete line (without its terminator). */
static loki_status line(loki_sse_parser *p, const char *l, size_t n, loki_sse_event_fn cb, void *ud,
                        int *stop)
{
    if (n == 0)
        return dispatch(p, cb, ud, stop);
    if (l[0] == ':')
        return LOKI_OK; /* comment (keep-alive pings) */
    return field(p, l, n);
}

static loki_status take_line(loki_sse_parser *p, const char *s, size_t n, loki_sse_event_fn cb,
                             void *ud, int *stop)
{
    loki_status st;
    if (p->line.len) {
        if (p->line.len + n > p->max_line)
            return LOKI_ELIMIT;
        if (loki__buf_add(&p->line, s, n))
            return LOKI_ENOMEM;
        st = line(p, p->line.p, p->line.len, cb, ud, stop);
        p->line.len = 0;
        return st;
    }
    if (n > p->max_line)
        return LOKI_ELIMIT;
    return line(p, s, n, cb, ud, stop);
}

static void strip_bom(loki_sse_parser *p, const char **buf, size_t *n)
{
    /* The BOM may itself arrive split; the line buffer holds its first bytes meanwhile. */
    static const char bom[3] = {'\xEF', '\xBB', '\xBF'};
    while (!p->bom_done && *n) {
        size_t have = p->line.len;
        if (**buf != bom[have]) {
            p->bom_done = 1; /* not a BOM: the held bytes are ordinary line bytes */
            return;
        }
        loki__buf_addc(&p->line, **buf);
        (*buf)++;
        (*n)--;
        if (p->line.len == 3) {
            p->line.len = 0;
            p->bom_done = 1;
        }
    }
}

loki_status loki_sse_parser_feed(loki_sse_parser *p, const char *buf, size_t n,
                                 loki_sse_event_fn cb, void *ud, int *stopped)
{
    int stop = 0;
    loki_status st = LOKI_OK;
    if (p->dead) {
        st = LOKI_ELIMIT;
        goto out;
    }
    strip_bom(p, &buf, &n);
    while (n && !stop) {
        if (p->cr) {
            p->cr = 0;
            if (*buf == '\n') {
                buf++;
                n--;
                continue;
            }
        }
        const char *e = buf;
        const char *end = buf + n;
        while (e < end && *e != '\n' && *e != '\r')
            e++;
        if (e == end) { /* no line end yet: keep the partial line */
            if (p->line.len + n > p->max_line) {
                st = LOKI_ELIMIT;
                goto out;
            }
            if (loki__buf_add(&p->line, buf, n)) {
                st = LOKI_ENOMEM;
                goto out;
            }
            break;
        }
        st = take_line(p, buf, (size_t)(e - buf), cb, ud, &stop);
        if (st != LOKI_OK)
            goto out;
        if (*e == '\r')
            p->cr = 1;
        n -= (size_t)(e - buf) + 1;
        buf = e + 1;
    }
out:
    if (st != LOKI_OK)
        p->dead = 1;
    if (stopped)
        *stopped = stop;
    return st;
}
