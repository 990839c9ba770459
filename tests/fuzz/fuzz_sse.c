/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the SSE parser (loki_sse_parser_feed) on arbitrary bytes. Each input is
 * parsed four times: with the default caps and with tiny ones, each fed whole and cut into
 * pieces whose sizes come from the input (so CRLF pairs, BOMs and lines straddle feeds). For a
 * given pair of caps both feeds must dispatch the same events and end in the same status: what
 * the parser says may not depend on where the network cut the stream. With the default caps the
 * events must also be those of reference(), a deliberately naive whole-buffer reading of the
 * WHATWG rules written here. Every event is checked against the header's contract, and a
 * parser that failed must stay dead.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loki/providers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What one run saw: the events serialised one after another, and how it ended. */
typedef struct run {
    size_t max_line, max_event;
    unsigned char *log;
    size_t len, cap;
    size_t events;
    loki_status st;
    int stopped, pending;
} run;

static void log_add(run *r, const void *p, size_t n)
{
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : 1024;
        while (cap < r->len + n)
            cap *= 2;
        unsigned char *q = realloc(r->log, cap);
        if (!q)
            abort();
        r->log = q;
        r->cap = cap;
    }
    if (n)
        memcpy(r->log + r->len, p, n);
    r->len += n;
}

static void log_field(run *r, const char *p, size_t n)
{
    log_add(r, &n, sizeof n);
    log_add(r, p, n);
}

static int has_byte(const char *p, size_t n, char c)
{
    return n && memchr(p, c, n) != NULL;
}

static int on_event(void *ud, const loki_sse_event *ev)
{
    run *r = ud;
    if (!ev->event || !ev->data || !ev->id)
        abort();
    /* An event always has a type ("message" when the stream named none). */
    if (ev->event_len == 0 || ev->event_len > r->max_line || ev->id_len > r->max_line)
        abort();
    if (ev->data_len > r->max_event || ev->data[ev->data_len] != '\0')
        abort();
    /* Lines were split at CR and LF, so no field may contain one (data joins lines with LF). */
    if (has_byte(ev->event, ev->event_len, '\n') || has_byte(ev->event, ev->event_len, '\r') ||
        has_byte(ev->id, ev->id_len, '\n') || has_byte(ev->id, ev->id_len, '\r') ||
        has_byte(ev->data, ev->data_len, '\r'))
        abort();
    if (has_byte(ev->id, ev->id_len, '\0')) /* an id with a NUL is ignored by the spec */
        abort();
    log_field(r, ev->event, ev->event_len);
    log_field(r, ev->data, ev->data_len);
    log_field(r, ev->id, ev->id_len);
    r->events++;
    /* An event named "stop" asks the parser to stop, as a caller aborting a stream does. */
    return ev->event_len == 4 && memcmp(ev->event, "stop", 4) == 0;
}

/* Parses data with r's caps, whole (pieces == 0) or in pieces. */
static void parse(run *r, const uint8_t *data, size_t size, int pieces)
{
    loki_sse_parser *p = NULL;
    if (loki_sse_parser_create(r->max_line, r->max_event, &p) != LOKI_OK)
        abort();
    const char *s = (const char *)data;
    loki_status st = LOKI_OK;
    int stopped = 0;
    if (!pieces) {
        st = loki_sse_parser_feed(p, s, size, on_event, r, &stopped);
    } else {
        uint32_t h = 2166136261u ^ (uint32_t)size;
        size_t off = 0;
        while (off < size && st == LOKI_OK && !stopped) {
            h = (h ^ data[off]) * 16777619u;
            size_t k = 1 + (h >> 8) % 29;
            if (k > size - off)
                k = size - off;
            st = loki_sse_parser_feed(p, s + off, k, on_event, r, &stopped);
            off += k;
        }
    }
    if (st != LOKI_OK && st != LOKI_ELIMIT) /* no allocation fails here */
        abort();
    if (st != LOKI_OK && stopped)
        abort();
    if (st == LOKI_ELIMIT) {
        int again = 0;
        if (loki_sse_parser_feed(p, "\n\n", 2, on_event, r, &again) != LOKI_ELIMIT || again)
            abort(); /* a parser past its cap stays dead */
    }
    r->st = st;
    r->stopped = stopped;
    r->pending = st == LOKI_OK ? loki_sse_parser_pending(p) : 0;
    /* Feeding nothing is always allowed and dispatches nothing. */
    if (st == LOKI_OK && !stopped) {
        size_t before = r->events;
        if (loki_sse_parser_feed(p, s, 0, on_event, r, NULL) != LOKI_OK || r->events != before)
            abort();
    }
    loki_sse_parser_destroy(p);
}

/* ---- the reference: the spec's steps, one line at a time, on the whole input ---- */

typedef struct text {
    char *p;
    size_t len;
} text;

static void text_set(text *t, const char *p, size_t n)
{
    char *q = realloc(t->p, n + 1);
    if (!q)
        abort();
    if (n)
        memcpy(q, p, n);
    q[n] = '\0';
    t->p = q;
    t->len = n;
}

static void text_add(text *t, const char *p, size_t n)
{
    char *q = realloc(t->p, t->len + n + 1);
    if (!q)
        abort();
    if (n)
        memcpy(q + t->len, p, n);
    t->len += n;
    q[t->len] = '\0';
    t->p = q;
}

/* Logs into r the events the spec dispatches for s (until one named "stop"). */
static void reference(run *r, const char *s, size_t n)
{
    text data = {0}, type = {0}, id = {0};
    int has_data = 0; /* the spec's "data buffer is not empty" */
    text_set(&data, "", 0);
    text_set(&type, "", 0);
    text_set(&id, "", 0);
    size_t i = n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    while (i < n) {
        size_t e = i;
        while (e < n && s[e] != '\r' && s[e] != '\n')
            e++;
        if (e == n)
            break; /* an unterminated last line is never processed */
        const char *l = s + i;
        size_t ll = e - i;
        i = e + (s[e] == '\r' && e + 1 < n && s[e + 1] == '\n' ? 2 : 1);
        if (ll == 0) {
            if (has_data) {
                size_t dl = data.len - 1; /* drop the final LF */
                loki_sse_event ev = {type.len ? type.p : "message",
                                     type.len ? type.len : 7,
                                     data.p,
                                     dl,
                                     id.p,
                                     id.len};
                data.p[dl] = '\0';
                if (on_event(r, &ev))
                    break;
            }
            has_data = 0;
            text_set(&data, "", 0);
            text_set(&type, "", 0);
            continue;
        }
        if (l[0] == ':')
            continue;
        size_t c = 0;
        while (c < ll && l[c] != ':')
            c++;
        const char *v = c < ll ? l + c + 1 : l + ll;
        size_t vl = (size_t)(l + ll - v);
        if (vl && v[0] == ' ') {
            v++;
            vl--;
        }
        if (c == 4 && memcmp(l, "data", 4) == 0) {
            text_add(&data, v, vl);
            text_add(&data, "\n", 1);
            has_data = 1;
        } else if (c == 5 && memcmp(l, "event", 5) == 0) {
            text_set(&type, v, vl);
        } else if (c == 2 && memcmp(l, "id", 2) == 0 && !(vl && memchr(v, '\0', vl))) {
            text_set(&id, v, vl);
        }
    }
    free(data.p);
    free(type.p);
    free(id.p);
}

static void compare(size_t max_line, size_t max_event, const uint8_t *data, size_t size)
{
    run whole = {.max_line = max_line ? max_line : 64 * 1024,
                 .max_event = max_event ? max_event : 4 * 1024 * 1024};
    run split = whole;
    parse(&whole, data, size, 0);
    parse(&split, data, size, 1);
    if (whole.st != split.st || whole.stopped != split.stopped || whole.pending != split.pending ||
        whole.events != split.events || whole.len != split.len ||
        (whole.len && memcmp(whole.log, split.log, whole.len)))
        abort();
    if (!max_line && !max_event) {
        /* The inputs stay far below the default caps, so nothing may differ from the spec. */
        run ref = {.max_line = whole.max_line, .max_event = whole.max_event};
        reference(&ref, (const char *)data, size);
        if (whole.st != LOKI_OK || ref.events != whole.events || ref.len != whole.len ||
            (ref.len && memcmp(ref.log, whole.log, ref.len)))
            abort();
        free(ref.log);
    }
    free(whole.log);
    free(split.log);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 60000) /* below the default line cap, which compare() relies on */
        return 0;
    /* The caps given as 0 mean the defaults; the tiny ones make ELIMIT reachable. */
    compare(0, 0, data, size);
    compare(48, 160, data, size);
    return 0;
}
