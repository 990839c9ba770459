/* SPDX-License-Identifier: MIT */
/*
 * Internal contract of the provider layer: the adapter table (one row per wire format, like
 * Redis's ConnectionType), the stream decoder state the adapters fill, the libcurl transfer
 * used by the retry loop, and small JSON helpers. Not installed.
 */
#ifndef LOKI_PROV_INT_H
#define LOKI_PROV_INT_H

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "../util/util.h"
#include "loki/providers.h"

struct loki_stream_decoder {
    const struct loki__adapter *ad;
    loki_buf text; /* accumulated deltas, capped */
    cJSON *last;   /* tree of the last event: delta.text points into it */
    char *model, *stop_reason;
    int64_t input_tokens, output_tokens;
    int done, error;
    loki_buf error_message;
    loki_buf scratch; /* adapters' per-event text (Gemini joins parts here) */
};

/* One wire format. Adding a provider is one file with one of these plus a row in
 * provider.c's table. */
typedef struct loki__adapter {
    loki_provider_kind kind;
    const char *name;
    const char *default_base_url;
    /* Appends the request path (and query) to url. model may be NULL (only Gemini needs it). */
    loki_status (*path)(loki_buf *url, const char *model, int stream);
    /* Appends the authentication header(s) for key (non-empty) to *h. */
    loki_status (*auth)(struct curl_slist **h, const char *key);
    /* Fills r->text/model/stop_reason/tokens from a parsed non-streaming body. */
    loki_status (*parse)(const cJSON *root, loki_provider_result *r);
    /* Decodes one SSE event whose data parsed to root (NULL when the data is not JSON). */
    loki_status (*decode)(loki_stream_decoder *d, const loki_sse_event *ev, const cJSON *root,
                          loki_stream_delta *delta);
    const char *(*error_type)(int http_status);
    /* Appends the native error object. */
    void (*render_error)(loki_buf *b, int http_status, const char *type, const char *code,
                         const char *msg, size_t msg_len);
    const char *sse_error_prefix; /* framing before "data: " of a stream error event */
} loki__adapter;

extern const loki__adapter loki__adapter_anthropic;
extern const loki__adapter loki__adapter_openai;
extern const loki__adapter loki__adapter_gemini;
const loki__adapter *loki__adapter_get(loki_provider_kind k);

/* ---- JSON helpers (prov_json.c) ---- */
/* Member `key` of obj as a string, or NULL. */
const char *loki__js_str(const cJSON *obj, const char *key);
/* Member `key` of obj as a non-negative integer, or -1. */
int64_t loki__js_int(const cJSON *obj, const char *key);
/* Replaces *dst with a copy of s (NULL clears). 0 or -1 on allocation failure. */
int loki__set_str(char **dst, const char *s);
/* Reads the token counts in_key/out_key of a usage object into *in and *out (left alone when
 * absent). Each provider names them differently. */
void loki__usage_read(const cJSON *u, const char *in_key, const char *out_key, int64_t *in,
                      int64_t *out);
/* Appends the header "<prefix><value>" (e.g. "x-api-key: " + key) to *h. */
loki_status loki__header_add(struct curl_slist **h, const char *prefix, const char *value);
/* Appends text to the decoder's accumulated text and points delta at it. */
loki_status loki__decoder_add_text(loki_stream_decoder *d, const char *s, loki_stream_delta *delta);
/* Records an error event. */
void loki__decoder_set_error(loki_stream_decoder *d, const char *msg, loki_stream_delta *delta);

/* ---- one HTTP transfer (http.c) ---- */
typedef struct loki__xfer {
    /* in */
    const char *url;
    struct curl_slist *headers;
    const char *body;
    size_t body_len;
    long connect_timeout_ms, timeout_ms, idle_timeout_ms;
    size_t max_body;
    /* Called with body bytes of a 2xx text/event-stream response; non-zero aborts. */
    int (*on_stream)(void *ud, const char *p, size_t n);
    void *ud;
    /* out */
    long status;
    loki_buf body_buf; /* non-stream (or non-2xx) body, capped at max_body */
    char content_type[128];
    char retry_after[64];
    int streaming; /* the response was 2xx text/event-stream */
    int aborted;   /* on_stream asked to stop */
    int too_big;   /* body exceeded max_body */
    int timed_out, connect_error;
    double ttfb_ms;
    char errbuf[CURL_ERROR_SIZE];
} loki__xfer;

/* Runs one transfer on a pooled handle. Returns LOKI_OK when a complete response arrived;
 * otherwise the flags in x say what happened. */
loki_status loki__http_perform(loki_http *h, loki__xfer *x);

#endif
