/* SPDX-License-Identifier: MIT */
/*
 * libloki LLM provider layer: adapters for the Anthropic Messages, OpenAI Chat Completions
 * (also Ollama, vLLM and other OpenAI-compatible upstreams) and Google Gemini APIs behind one
 * table of functions, an HTTP client on libcurl with connection reuse, an incremental SSE
 * parser with per-provider stream decoders, provider-native error bodies, and
 * loki_provider_call(): the one retry loop (circuit breaker, retry policy with Retry-After,
 * retry budget, token buckets, optional fallback). The library never reads the environment and
 * never logs; API keys are never copied into error messages or results.
 */
#ifndef LOKI_PROVIDERS_H
#define LOKI_PROVIDERS_H

#include <stddef.h>
#include <stdint.h>

#include "loki/loki.h"
#include "loki/resilience.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum loki_provider_kind {
    LOKI_PROVIDER_ANTHROPIC = 0, /* POST {base}/v1/messages, x-api-key + anthropic-version */
    LOKI_PROVIDER_OPENAI,        /* POST {base}/v1/chat/completions, Authorization: Bearer */
    LOKI_PROVIDER_GEMINI         /* POST {base}/v1beta/models/{model}:generateContent */
} loki_provider_kind;

/* "anthropic", "openai", "gemini". */
const char *loki_provider_kind_name(loki_provider_kind k);
/* Parses a kind name (case-insensitive; "ollama" and "vllm" map to OPENAI). -1 when unknown. */
int loki_provider_kind_parse(const char *name);

/* ---------------------------------------------------------------------------------------- */
/* SSE parser (text/event-stream, WHATWG rules)                                               */
/* ---------------------------------------------------------------------------------------- */

/* One dispatched event. The pointers are valid only during the callback. `event` is
 * "message" when the stream gave no `event:` line; `data` is the data lines joined with '\n'
 * (NUL-terminated for convenience; data_len excludes the NUL). */
typedef struct loki_sse_event {
    const char *event;
    size_t event_len;
    const char *data;
    size_t data_len;
    const char *id; /* last event id seen, "" if none */
    size_t id_len;
} loki_sse_event;

/* Called per event; return 0 to continue, non-zero to stop (loki_sse_feed returns LOKI_OK and
 * *stopped is set). */
typedef int (*loki_sse_event_fn)(void *ud, const loki_sse_event *ev);

typedef struct loki_sse_parser loki_sse_parser;

/* max_line: longest line accepted (default 64 KiB when 0); max_event: largest data of one
 * event (default 4 MiB when 0). Not thread-safe: one parser per stream. */
loki_status loki_sse_parser_create(size_t max_line, size_t max_event, loki_sse_parser **out);
void loki_sse_parser_destroy(loki_sse_parser *p); /* NULL is a no-op */
/* Feeds bytes split at any boundary. Handles LF, CRLF and CR line ends (also a CRLF split
 * between two feeds), comments (':'), `event`, `data` (multi-line), `id`, `retry` (ignored) and
 * a leading BOM. Returns LOKI_ELIMIT when a line or event exceeds its cap (the parser is then
 * dead), LOKI_ENOMEM, or LOKI_OK. `stopped` (may be NULL) is set to 1 if the callback stopped. */
loki_status loki_sse_parser_feed(loki_sse_parser *p, const char *buf, size_t n,
                                 loki_sse_event_fn cb, void *ud, int *stopped);
/* 1 when bytes of an undispatched event are buffered (a stream that ends now was cut). */
int loki_sse_parser_pending(const loki_sse_parser *p);

/* ---------------------------------------------------------------------------------------- */
/* Responses, stream decoding and native error bodies                                         */
/* ---------------------------------------------------------------------------------------- */

/* What an upstream call produced. Caller-owned: loki_provider_result_init() before use,
 * loki_provider_result_release() after. Strings are NUL-terminated. */
typedef struct loki_provider_result {
    int status; /* final HTTP status; 0 when there was no response */
    char *body; /* raw response body (non-streaming, or an error response) */
    size_t body_len;
    char *content_type; /* upstream Content-Type, or NULL */
    char *text;         /* generated text (streams: the concatenated deltas) */
    size_t text_len;
    char *model;            /* model the provider reports, or NULL */
    char *stop_reason;      /* stop_reason / finish_reason / finishReason, or NULL */
    int64_t input_tokens;   /* -1 when the provider did not report them */
    int64_t output_tokens;  /* -1 when absent */
    int64_t retry_after_ms; /* Retry-After of the final response (or of a local limit), or -1 */
    int streamed;           /* 1 when the response was an SSE stream */
    int stream_complete;    /* streams: 1 when the terminator was seen */
    int bytes_relayed;      /* streams: 1 once any byte went to the caller's callbacks */
    int aborted;            /* the caller's callback aborted the transfer */
    int used_fallback;      /* the fallback provider served the call */
    unsigned attempts;      /* upstream attempts made (0 if rejected before any) */
    double ttfb_ms;         /* time to the first response byte of the last attempt */
    double total_ms;        /* wall time of the whole call, retries and waits included */
} loki_provider_result;

void loki_provider_result_init(loki_provider_result *r);
void loki_provider_result_release(loki_provider_result *r); /* frees the strings, re-inits */

/*
 * Parses a non-streaming response body of the given kind into r->text, model, stop_reason and
 * tokens (r->body is not touched). Anthropic: the "text" blocks of content[] concatenated;
 * OpenAI: choices[0].message.content; Gemini: candidates[0].content.parts[].text. A body that
 * is not JSON fails with LOKI_EPARSE. Thread-safe.
 */
loki_status loki_provider_parse_response(loki_provider_kind kind, const char *body, size_t len,
                                         loki_provider_result *r, loki_error *err);

/* A streaming decoder for one provider's SSE events. */
typedef struct loki_stream_decoder loki_stream_decoder;

typedef struct loki_stream_delta {
    const char *text; /* text this event adds (valid until the next call), or NULL */
    size_t text_len;
    int done;  /* the event is the stream's terminator (message_stop, [DONE], Gemini
                * finishReason) */
    int error; /* the event is an error event; error_message says what (may be NULL) */
    const char *error_message;
    size_t error_message_len;
} loki_stream_delta;

/* max_text: cap on the accumulated text (default 32 MiB when 0). Not thread-safe. */
loki_status loki_stream_decoder_create(loki_provider_kind kind, size_t max_text,
                                       loki_stream_decoder **out);
void loki_stream_decoder_destroy(loki_stream_decoder *d); /* NULL is a no-op */
/* Decodes one event, accumulating text, model, stop reason and token counts. Events that are
 * not JSON (other than OpenAI's "[DONE]") fail with LOKI_EPARSE; text past max_text with
 * LOKI_ELIMIT. Unknown event types are ignored (delta with no text). */
loki_status loki_stream_decoder_event(loki_stream_decoder *d, const loki_sse_event *ev,
                                      loki_stream_delta *delta);
/* 1 once the terminator was decoded. */
int loki_stream_decoder_done(const loki_stream_decoder *d);
/* Copies the accumulated text, model, stop reason and tokens into r (replacing them) and sets
 * r->stream_complete. Returns LOKI_EIO when the stream ended without its terminator
 * (truncated) or carried an error event, LOKI_ENOMEM, else LOKI_OK. */
loki_status loki_stream_decoder_finish(loki_stream_decoder *d, loki_provider_result *r);

/*
 * Renders an error in the provider's own format so that the official SDKs raise it as an API
 * error carrying `message`:
 *   Anthropic {"type":"error","error":{"type":T,"message":M}}
 *   OpenAI    {"error":{"message":M,"type":T,"param":null,"code":C}}
 *   Gemini    {"error":{"code":HTTP,"message":M,"status":T}}
 * `type` NULL picks the provider's name for http_status (Anthropic invalid_request_error,
 * authentication_error, permission_error, not_found_error, request_too_large, rate_limit_error,
 * api_error, overloaded_error; OpenAI invalid_request_error, authentication_error,
 * rate_limit_error, server_error; Gemini INVALID_ARGUMENT, ... UNAVAILABLE). `code` (OpenAI
 * only) may be NULL (rendered as null). With sse = 1 the same object is framed as the
 * provider's stream error event: Anthropic "event: error\ndata: {...}\n\n", the others
 * "data: {...}\n\n" (and no terminator follows). *out is malloc'd and NUL-terminated; free()
 * it. Thread-safe.
 */
loki_status loki_provider_render_error(loki_provider_kind kind, int http_status, const char *type,
                                       const char *code, const char *message, size_t message_len,
                                       int sse, char **out, size_t *out_len);
/* The default error type name `type = NULL` selects above. Never NULL. */
const char *loki_provider_error_type(loki_provider_kind kind, int http_status);

/* ---------------------------------------------------------------------------------------- */
/* HTTP client: libcurl easy handles pooled for connection reuse                             */
/* ---------------------------------------------------------------------------------------- */

typedef struct loki_http loki_http;

/* max_idle: idle easy handles (each keeps its connections alive) kept for reuse (default 16
 * when 0). Initialises libcurl once per process. Thread-safe: one client serves all threads. */
loki_status loki_http_create(unsigned max_idle, loki_http **out);
/* No call may be running. NULL is a no-op. */
void loki_http_destroy(loki_http *h);

typedef struct loki_http_stats {
    uint64_t requests;        /* transfers started */
    uint64_t handles_created; /* easy handles created (reuse = requests - handles_created) */
    uint64_t connects;        /* new TCP connections (CURLINFO_NUM_CONNECTS summed) */
    unsigned idle;            /* handles in the pool now */
} loki_http_stats;
void loki_http_stats_get(loki_http *h, loki_http_stats *out);

/* ---------------------------------------------------------------------------------------- */
/* Providers                                                                                 */
/* ---------------------------------------------------------------------------------------- */

/* Time and randomness hooks; NULL members use CLOCK_MONOTONIC, nanosleep and a per-thread
 * generator. Tests inject them so retries take no real time. */
typedef struct loki_provider_hooks {
    int64_t (*now_ms)(void *ud);            /* monotonic milliseconds */
    void (*sleep_ms)(void *ud, int64_t ms); /* wait between attempts */
    double (*rand01)(void *ud);             /* uniform in [0, 1), for backoff jitter */
    void *ud;
} loki_provider_hooks;

/*
 * One upstream. Filled by loki_provider_config_default(); only grows at the end. Strings are
 * copied by loki_provider_create(). The library does not read the environment: `loki serve`
 * maps LOKI_ANTHROPIC_BASE_URL / LOKI_OPENAI_BASE_URL / LOKI_GEMINI_BASE_URL to base_url and
 * ANTHROPIC_API_KEY / OPENAI_API_KEY / GEMINI_API_KEY to api_key.
 */
typedef struct loki_provider_config {
    loki_provider_kind kind;
    const char *name;     /* breaker and stats name (default: the kind name) */
    const char *base_url; /* NULL: https://api.anthropic.com, https://api.openai.com,
                           * https://generativelanguage.googleapis.com */
    const char *api_key;  /* NULL or "": no key of ours */
    int pass_client_key;  /* 1: a key the client sent (request.client_api_key) is used instead
                           * of api_key (default 0) */
    const char *model;    /* default model (Gemini: used in the URL when the request gives
                           * none; the JSON body is never rewritten) */
    const char *anthropic_version; /* default "2023-06-01"; a client header overrides it */
    long connect_timeout_ms;       /* default 10000 */
    long timeout_ms;               /* whole transfer, default 600000 (long generations stream) */
    long idle_timeout_ms;      /* abort when no byte arrives for this long (default 60000; 0 off) */
    size_t max_response_bytes; /* body / accumulated text cap (default 32 MiB) */
    double requests_per_min;   /* token bucket on requests, 0 = unlimited (default) */
    double tokens_per_min;     /* token bucket on estimated request tokens, 0 = unlimited */
    loki_breaker_config breaker;
    loki_retry_policy retry;
    double retry_budget_ratio;      /* retries per first attempt in the window (default 0.2) */
    unsigned retry_budget_min;      /* retries always allowed per window (default 10) */
    int64_t retry_budget_window_ms; /* default 10000 */
    loki_provider_hooks hooks;
} loki_provider_config;

/* Defaults for `kind` as listed above. */
void loki_provider_config_default(loki_provider_config *c, loki_provider_kind kind);

typedef struct loki_provider loki_provider;

/* Creates a provider using `http` (shared; must outlive the provider). A base URL that is not
 * http(s) fails with LOKI_EINVAL. Thread-safe (independent providers). */
loki_status loki_provider_create(const loki_provider_config *c, loki_http *http,
                                 loki_provider **out, loki_error *err);
void loki_provider_destroy(loki_provider *p); /* NULL is a no-op; no call may be running */
const char *loki_provider_name(const loki_provider *p);
loki_provider_kind loki_provider_kind_of(const loki_provider *p);
/* The provider's circuit breaker (for health and metrics; owned by the provider). */
loki_breaker *loki_provider_breaker(loki_provider *p);
/* Served instead of p while p's breaker is open. Must speak the same wire format (same kind)
 * or LOKI_EINVAL; NULL removes it. Not thread-safe: set it before calls start. */
loki_status loki_provider_set_fallback(loki_provider *p, loki_provider *fallback);

typedef struct loki_provider_stats {
    uint64_t calls;            /* loki_provider_call() invocations on this provider */
    uint64_t attempts;         /* upstream attempts */
    uint64_t retries;          /* attempts after the first */
    uint64_t successes;        /* calls ending in a 2xx (streams: complete) */
    uint64_t failures;         /* calls ending in a transport error, 5xx/529, truncation */
    uint64_t rejected_open;    /* calls rejected by the open breaker */
    uint64_t rejected_rate;    /* calls rejected by the token buckets */
    uint64_t budget_exhausted; /* retries refused by the retry budget */
    uint64_t fallbacks;        /* calls handed to the fallback */
    uint64_t input_tokens, output_tokens; /* as reported by the provider */
} loki_provider_stats;
void loki_provider_stats_get(loki_provider *p, loki_provider_stats *out); /* thread-safe */

/* Raw response bytes of a 2xx SSE stream, as received. Return 0 to continue, non-zero to abort
 * the transfer (the call then returns LOKI_OK with result->aborted = 1). */
typedef int (*loki_provider_data_fn)(void *ud, const char *p, size_t n);
/* One decoded event of a 2xx SSE stream: the raw event and what it means. Return 0 to
 * continue, non-zero to abort. */
typedef int (*loki_provider_event_fn)(void *ud, const loki_sse_event *ev,
                                      const loki_stream_delta *delta);

typedef struct loki_provider_request {
    const char *body; /* the client's JSON body, forwarded unchanged */
    size_t body_len;
    int stream;                 /* the client asked for SSE ("stream": true; Gemini: picks
                                 * :streamGenerateContent?alt=sse). Responses are handled by their
                                 * Content-Type either way. */
    const char *model;          /* Gemini: model for the URL (NULL: config model) */
    const char *client_api_key; /* the client's own key, used when pass_client_key is set */
    /* Extra request headers ("Name: value"), e.g. anthropic-beta, anthropic-version,
     * openai-organization. Authorization, x-api-key, x-goog-api-key, Host, Content-Length and
     * Content-Type are ignored here (the adapter sets them). */
    const char *const *headers;
    size_t n_headers;
    double est_tokens;             /* for the tokens/min bucket; 0: body_len / 4 */
    loki_provider_data_fn on_data; /* streaming callbacks; either or both may be NULL */
    loki_provider_event_fn on_event;
    void *ud;
} loki_provider_request;

/*
 * Sends one request upstream through the retry loop: breaker allow -> (first attempt: retry
 * budget note, token buckets) -> attempt -> classify -> breaker record -> loki_retry_next
 * (Retry-After honoured) -> retry budget -> sleep hook -> next attempt. Retries only
 * timeouts, connection errors, 429, 500/502/503/504/529, and never once a streamed byte was
 * passed to on_data/on_event. When p's breaker is open before the first attempt and a
 * fallback is set, the fallback serves the call (result->used_fallback).
 *
 * Returns LOKI_OK whenever an HTTP response was obtained, whatever its status (the caller
 * relays upstream errors: result->status, result->body), and also when the caller aborted.
 * Otherwise: LOKI_ECIRCUIT_OPEN (breaker open, no fallback; result->retry_after_ms says when a
 * probe may pass), LOKI_ELIMIT (a token bucket refused; result->retry_after_ms; or the
 * response exceeded max_response_bytes), LOKI_ETIMEOUT, LOKI_EIO (connection failed or reset,
 * or a stream ended without its terminator: result->stream_complete = 0), LOKI_EPARSE (a 2xx
 * body or stream event that does not parse), LOKI_EINVAL, LOKI_ENOMEM. err->message never
 * contains a key. Thread-safe: any number of threads may call on one provider.
 */
loki_status loki_provider_call(loki_provider *p, const loki_provider_request *rq,
                               loki_provider_result *result, loki_error *err);

#ifdef __cplusplus
}
#endif
#endif
