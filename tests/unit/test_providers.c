/* SPDX-License-Identifier: MIT */
/* Provider codecs without a network: the SSE parser under random chunk splits and every line
 * ending, the non-streaming parsers and stream decoders of each provider, truncation, native
 * error bodies (checked by parsing them back), and allocation failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "loki/providers.h"
#include "util/util.h"

/* ---- SSE parser ---- */

typedef struct collected {
    char buf[8192];
    size_t len;
    int n;
    int stop_after; /* 0: never stop */
} collected;

/* Records each event as "<event>|<data>|<id>\n". */
static int collect(void *ud, const loki_sse_event *ev)
{
    collected *c = ud;
    int w =
        snprintf(c->buf + c->len, sizeof c->buf - c->len, "%.*s|%.*s|%.*s\n", (int)ev->event_len,
                 ev->event, (int)ev->data_len, ev->data, (int)ev->id_len, ev->id);
    assert_true(w > 0 && (size_t)w < sizeof c->buf - c->len);
    assert_int_equal(ev->data[ev->data_len], '\0');
    c->len += (size_t)w;
    c->n++;
    return c->stop_after && c->n >= c->stop_after;
}

static const char sse_input[] = "\xEF\xBB\xBF: a comment before anything\n"
                                "event: message_start\n"
                                "data: {\"a\":1}\n"
                                "\n"
                                "data: line one\r\n"
                                "data: line two\r\n"
                                "id: 7\r\n"
                                "\r\n"
                                ": keep-alive\r"
                                "event: x\r"
                                "data:no-space\r"
                                "retry: 100\r"
                                "\r"
                                "event: ignored-no-data\n"
                                "\n"
                                "data\n"
                                "\n"
                                "unknown: field\n"
                                "data:  two spaces\n"
                                "\n"
                                "data: [DONE]\n"
                                "\n"
                                "data: cut off at the end";

static const char sse_expected[] = "message_start|{\"a\":1}|\n"
                                   "message|line one\nline two|7\n"
                                   "x|no-space|7\n"
                                   "message||7\n"
                                   "message| two spaces|7\n"
                                   "message|[DONE]|7\n";

static void sse_whole_and_pending(void **st)
{
    (void)st;
    loki_sse_parser *p;
    assert_int_equal(loki_sse_parser_create(0, 0, &p), LOKI_OK);
    collected c = {0};
    assert_int_equal(loki_sse_parser_feed(p, sse_input, sizeof sse_input - 1, collect, &c, NULL),
                     LOKI_OK);
    assert_string_equal(c.buf, sse_expected);
    assert_true(loki_sse_parser_pending(p)); /* "data: cut off..." never ended */
    loki_sse_parser_destroy(p);
}

static void sse_random_splits(void **st)
{
    (void)st;
    srand(12345);
    size_t n = sizeof sse_input - 1;
    for (int round = 0; round < 2000; round++) {
        loki_sse_parser *p;
        assert_int_equal(loki_sse_parser_create(0, 0, &p), LOKI_OK);
        collected c = {0};
        size_t off = 0;
        while (off < n) {
            size_t k = round < 10 ? 1 : (size_t)(rand() % 9); /* 1-byte feeds, and zero */
            if (k > n - off)
                k = n - off;
            assert_int_equal(loki_sse_parser_feed(p, sse_input + off, k, collect, &c, NULL),
                             LOKI_OK);
            off += k;
        }
        assert_string_equal(c.buf, sse_expected);
        loki_sse_parser_destroy(p);
    }
}

static void sse_crlf_split_between_feeds(void **st)
{
    (void)st;
    loki_sse_parser *p;
    assert_int_equal(loki_sse_parser_create(0, 0, &p), LOKI_OK);
    collected c = {0};
    /* "\r" ends a line; the "\n" arriving next must not count as an empty line. */
    assert_int_equal(loki_sse_parser_feed(p, "data: a\r", 8, collect, &c, NULL), LOKI_OK);
    assert_int_equal(loki_sse_parser_feed(p, "\ndata: b\r", 9, collect, &c, NULL), LOKI_OK);
    assert_int_equal(c.n, 0);
    assert_int_equal(loki_sse_parser_feed(p, "\n\r\n", 3, collect, &c, NULL), LOKI_OK);
    assert_string_equal(c.buf, "message|a\nb|\n");
    loki_sse_parser_destroy(p);
}

static void sse_caps_and_stop(void **st)
{
    (void)st;
    loki_sse_parser *p;
    assert_int_equal(loki_sse_parser_create(16, 32, &p), LOKI_OK);
    collected c = {0};
    /* A line longer than 16 bytes, arriving in pieces with no line end. */
    assert_int_equal(loki_sse_parser_feed(p, "data: 0123456", 13, collect, &c, NULL), LOKI_OK);
    assert_int_equal(loki_sse_parser_feed(p, "789abcdef", 9, collect, &c, NULL), LOKI_ELIMIT);
    /* Dead afterwards. */
    assert_int_equal(loki_sse_parser_feed(p, "\n\n", 2, collect, &c, NULL), LOKI_ELIMIT);
    loki_sse_parser_destroy(p);

    /* Event data over 32 bytes in short lines. */
    assert_int_equal(loki_sse_parser_create(16, 32, &p), LOKI_OK);
    const char *many = "data: 0123456789\ndata: 0123456789\ndata: 0123456789\n";
    assert_int_equal(loki_sse_parser_feed(p, many, strlen(many), collect, &c, NULL), LOKI_ELIMIT);
    loki_sse_parser_destroy(p);

    /* The callback stops the feed after the first event. */
    assert_int_equal(loki_sse_parser_create(0, 0, &p), LOKI_OK);
    collected c2 = {.stop_after = 1};
    int stopped = 0;
    const char *two = "data: 1\n\ndata: 2\n\n";
    assert_int_equal(loki_sse_parser_feed(p, two, strlen(two), collect, &c2, &stopped), LOKI_OK);
    assert_int_equal(stopped, 1);
    assert_int_equal(c2.n, 1);
    loki_sse_parser_destroy(p);
}

/* ---- non-streaming parsers ---- */

static void parse_anthropic(void **st)
{
    (void)st;
    const char *body =
        "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\","
        "\"content\":[{\"type\":\"text\",\"text\":\"Hello, \"},{\"type\":\"tool_use\",\"id\":\"t\","
        "\"name\":\"f\",\"input\":{}},{\"type\":\"text\",\"text\":\"world\\u00e9\"}],"
        "\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":12,\"output_tokens\":5}}";
    loki_provider_result r;
    loki_provider_result_init(&r);
    assert_int_equal(
        loki_provider_parse_response(LOKI_PROVIDER_ANTHROPIC, body, strlen(body), &r, NULL),
        LOKI_OK);
    assert_string_equal(r.text, "Hello, world\xc3\xa9");
    assert_int_equal(r.text_len, 14);
    assert_string_equal(r.model, "claude-x");
    assert_string_equal(r.stop_reason, "end_turn");
    assert_int_equal(r.input_tokens, 12);
    assert_int_equal(r.output_tokens, 5);
    loki_provider_result_release(&r);

    loki_error err;
    assert_int_equal(
        loki_provider_parse_response(LOKI_PROVIDER_ANTHROPIC, "{\"content\":", 11, &r, &err),
        LOKI_EPARSE);
    assert_int_equal(
        loki_provider_parse_response(LOKI_PROVIDER_ANTHROPIC, "{\"x\":1}", 7, &r, &err),
        LOKI_EPARSE);
    loki_provider_result_release(&r);
}

static void parse_openai(void **st)
{
    (void)st;
    const char *body = "{\"id\":\"c\",\"object\":\"chat.completion\",\"model\":\"gpt-x\","
                       "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                       "\"content\":\"Hi there\"},\"finish_reason\":\"stop\"}],"
                       "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}";
    loki_provider_result r;
    loki_provider_result_init(&r);
    assert_int_equal(
        loki_provider_parse_response(LOKI_PROVIDER_OPENAI, body, strlen(body), &r, NULL), LOKI_OK);
    assert_string_equal(r.text, "Hi there");
    assert_string_equal(r.model, "gpt-x");
    assert_string_equal(r.stop_reason, "stop");
    assert_int_equal(r.input_tokens, 9);
    assert_int_equal(r.output_tokens, 2);
    loki_provider_result_release(&r);
    /* Tool calls: content null, no usage. */
    const char *tool = "{\"choices\":[{\"message\":{\"content\":null,\"tool_calls\":[]}}]}";
    assert_int_equal(
        loki_provider_parse_response(LOKI_PROVIDER_OPENAI, tool, strlen(tool), &r, NULL), LOKI_OK);
    assert_string_equal(r.text, "");
    assert_int_equal(r.input_tokens, -1);
    loki_provider_result_release(&r);
}

static void parse_gemini(void **st)
{
    (void)st;
    const char *body = "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"thinking\","
                       "\"thought\":true},{\"text\":\"Bonjour \"},{\"text\":\"monde\"}],"
                       "\"role\":\"model\"},\"finishReason\":\"STOP\"}],\"usageMetadata\":"
                       "{\"promptTokenCount\":4,\"candidatesTokenCount\":3},"
                       "\"modelVersion\":\"gemini-x\"}";
    loki_provider_result r;
    loki_provider_result_init(&r);
    assert_int_equal(
        loki_provider_parse_response(LOKI_PROVIDER_GEMINI, body, strlen(body), &r, NULL), LOKI_OK);
    assert_string_equal(r.text, "Bonjour monde");
    assert_string_equal(r.model, "gemini-x");
    assert_string_equal(r.stop_reason, "STOP");
    assert_int_equal(r.input_tokens, 4);
    assert_int_equal(r.output_tokens, 3);
    loki_provider_result_release(&r);
}

/* ---- stream decoders ---- */

typedef struct decoded {
    loki_stream_decoder *d;
    char text[4096];
    size_t len;
    int done, error, events;
    loki_status st;
} decoded;

static int decode_cb(void *ud, const loki_sse_event *ev)
{
    decoded *x = ud;
    loki_stream_delta delta;
    x->st = loki_stream_decoder_event(x->d, ev, &delta);
    if (x->st != LOKI_OK)
        return 1;
    x->events++;
    if (delta.text) {
        memcpy(x->text + x->len, delta.text, delta.text_len);
        x->len += delta.text_len;
        x->text[x->len] = '\0';
    }
    x->done |= delta.done;
    x->error |= delta.error;
    return 0;
}

/* Runs a whole stream through a parser and decoder with random splits; fills r. */
static loki_status run_stream(loki_provider_kind k, const char *s, decoded *x,
                              loki_provider_result *r, unsigned seed)
{
    memset(x, 0, sizeof *x);
    loki_sse_parser *p;
    assert_int_equal(loki_sse_parser_create(0, 0, &p), LOKI_OK);
    assert_int_equal(loki_stream_decoder_create(k, 0, &x->d), LOKI_OK);
    srand(seed);
    size_t n = strlen(s), off = 0;
    while (off < n) {
        size_t step = 1 + (size_t)(rand() % 23);
        if (step > n - off)
            step = n - off;
        assert_int_equal(loki_sse_parser_feed(p, s + off, step, decode_cb, x, NULL), LOKI_OK);
        assert_int_equal(x->st, LOKI_OK);
        off += step;
    }
    loki_status st = loki_stream_decoder_finish(x->d, r);
    loki_stream_decoder_destroy(x->d);
    loki_sse_parser_destroy(p);
    return st;
}

static const char anthropic_stream[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"claude-s\","
    "\"usage\":{\"input_tokens\":21,\"output_tokens\":1}}}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
    "\"text\":\"\"}}\n\n"
    "event: ping\ndata: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"Hello\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
    "\"input_json_delta\",\"partial_json\":\"{}\"}}\n\n"
    "event: content_block_delta\r\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\" world\"}}\r\n\r\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
    "\"usage\":{\"output_tokens\":2}}\n\n";
static const char anthropic_stop[] = "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

static void decode_anthropic(void **st)
{
    (void)st;
    char full[4096];
    snprintf(full, sizeof full, "%s%s", anthropic_stream, anthropic_stop);
    for (unsigned seed = 1; seed < 50; seed++) {
        decoded x;
        loki_provider_result r;
        loki_provider_result_init(&r);
        assert_int_equal(run_stream(LOKI_PROVIDER_ANTHROPIC, full, &x, &r, seed), LOKI_OK);
        assert_string_equal(x.text, "Hello world");
        assert_true(x.done);
        assert_string_equal(r.text, "Hello world");
        assert_string_equal(r.model, "claude-s");
        assert_string_equal(r.stop_reason, "end_turn");
        assert_int_equal(r.input_tokens, 21);
        assert_int_equal(r.output_tokens, 2);
        assert_int_equal(r.stream_complete, 1);
        loki_provider_result_release(&r);
    }
    /* No message_stop: truncated. */
    decoded x;
    loki_provider_result r;
    loki_provider_result_init(&r);
    assert_int_equal(run_stream(LOKI_PROVIDER_ANTHROPIC, anthropic_stream, &x, &r, 3), LOKI_EIO);
    assert_int_equal(r.stream_complete, 0);
    assert_string_equal(r.text, "Hello world");
    loki_provider_result_release(&r);
    /* An error event. */
    const char *err = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                      "\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
    assert_int_equal(run_stream(LOKI_PROVIDER_ANTHROPIC, err, &x, &r, 3), LOKI_EIO);
    assert_true(x.error);
    loki_provider_result_release(&r);
}

static void decode_openai(void **st)
{
    (void)st;
    const char *s =
        "data: {\"id\":\"c\",\"model\":\"gpt-s\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
        "\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n"
        "data: {\"id\":\"c\",\"model\":\"gpt-s\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
        "\"Hi \"},\"finish_reason\":null}]}\n\n"
        ": OPENROUTER PROCESSING\n\n"
        "data: {\"id\":\"c\",\"model\":\"gpt-s\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
        "\"there\"},\"finish_reason\":null}]}\n\n"
        "data: {\"id\":\"c\",\"model\":\"gpt-s\",\"choices\":[{\"index\":0,\"delta\":{},"
        "\"finish_reason\":\"stop\"}]}\n\n"
        "data: {\"id\":\"c\",\"model\":\"gpt-s\",\"choices\":[],\"usage\":{\"prompt_tokens\":8,"
        "\"completion_tokens\":2}}\n\n";
    char full[4096];
    snprintf(full, sizeof full, "%sdata: [DONE]\n\n", s);
    decoded x;
    loki_provider_result r;
    loki_provider_result_init(&r);
    assert_int_equal(run_stream(LOKI_PROVIDER_OPENAI, full, &x, &r, 7), LOKI_OK);
    assert_string_equal(r.text, "Hi there");
    assert_string_equal(r.model, "gpt-s");
    assert_string_equal(r.stop_reason, "stop");
    assert_int_equal(r.input_tokens, 8);
    assert_int_equal(r.output_tokens, 2);
    loki_provider_result_release(&r);
    assert_int_equal(run_stream(LOKI_PROVIDER_OPENAI, s, &x, &r, 7), LOKI_EIO);
    assert_int_equal(r.stream_complete, 0);
    loki_provider_result_release(&r);

    /* Not JSON and not [DONE]: a parse error. */
    loki_stream_decoder *d;
    assert_int_equal(loki_stream_decoder_create(LOKI_PROVIDER_OPENAI, 0, &d), LOKI_OK);
    loki_sse_event ev = {.event = "message", .event_len = 7, .data = "nope", .data_len = 4};
    loki_stream_delta delta;
    assert_int_equal(loki_stream_decoder_event(d, &ev, &delta), LOKI_EPARSE);
    loki_stream_decoder_destroy(d);
}

static void decode_gemini(void **st)
{
    (void)st;
    const char *s = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Guten \"},"
                    "{\"text\":\"Tag\"}],\"role\":\"model\"},\"index\":0}],"
                    "\"modelVersion\":\"gemini-s\"}\r\n\r\n";
    const char *end = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"!\"}],"
                      "\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],"
                      "\"usageMetadata\":{\"promptTokenCount\":3,\"candidatesTokenCount\":4}}"
                      "\r\n\r\n";
    char full[4096];
    snprintf(full, sizeof full, "%s%s", s, end);
    decoded x;
    loki_provider_result r;
    loki_provider_result_init(&r);
    assert_int_equal(run_stream(LOKI_PROVIDER_GEMINI, full, &x, &r, 11), LOKI_OK);
    assert_string_equal(x.text, "Guten Tag!");
    assert_string_equal(r.model, "gemini-s");
    assert_string_equal(r.stop_reason, "STOP");
    assert_int_equal(r.output_tokens, 4);
    loki_provider_result_release(&r);
    assert_int_equal(run_stream(LOKI_PROVIDER_GEMINI, s, &x, &r, 11), LOKI_EIO);
    loki_provider_result_release(&r);
}

static void decoder_text_cap(void **st)
{
    (void)st;
    loki_stream_decoder *d;
    assert_int_equal(loki_stream_decoder_create(LOKI_PROVIDER_OPENAI, 8, &d), LOKI_OK);
    const char *data = "{\"choices\":[{\"delta\":{\"content\":\"123456\"}}]}";
    loki_sse_event ev = {
        .event = "message", .event_len = 7, .data = data, .data_len = strlen(data)};
    loki_stream_delta delta;
    assert_int_equal(loki_stream_decoder_event(d, &ev, &delta), LOKI_OK);
    assert_int_equal(loki_stream_decoder_event(d, &ev, &delta), LOKI_ELIMIT);
    loki_stream_decoder_destroy(d);
}

/* ---- native errors ---- */

static cJSON *parse_back(const char *s)
{
    cJSON *j = cJSON_Parse(s);
    assert_non_null(j);
    return j;
}

static void render_errors(void **st)
{
    (void)st;
    char *out;
    size_t n;
    const char *msg = "Blocked by LOKI: \"FCA-COBS-4\" failed\n(critical)";
    assert_int_equal(loki_provider_render_error(LOKI_PROVIDER_ANTHROPIC, 422, NULL, NULL, msg,
                                                strlen(msg), 0, &out, &n),
                     LOKI_OK);
    assert_int_equal(strlen(out), n);
    cJSON *j = parse_back(out);
    assert_string_equal(cJSON_GetObjectItem(j, "type")->valuestring, "error");
    cJSON *e = cJSON_GetObjectItem(j, "error");
    assert_string_equal(cJSON_GetObjectItem(e, "type")->valuestring, "invalid_request_error");
    assert_string_equal(cJSON_GetObjectItem(e, "message")->valuestring, msg);
    cJSON_Delete(j);
    free(out);

    assert_int_equal(loki_provider_render_error(LOKI_PROVIDER_OPENAI, 400, "loki_blocked",
                                                "content_blocked", msg, strlen(msg), 0, &out, &n),
                     LOKI_OK);
    j = parse_back(out);
    e = cJSON_GetObjectItem(j, "error");
    assert_string_equal(cJSON_GetObjectItem(e, "message")->valuestring, msg);
    assert_string_equal(cJSON_GetObjectItem(e, "type")->valuestring, "loki_blocked");
    assert_string_equal(cJSON_GetObjectItem(e, "code")->valuestring, "content_blocked");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(e, "param")));
    cJSON_Delete(j);
    free(out);

    assert_int_equal(
        loki_provider_render_error(LOKI_PROVIDER_GEMINI, 503, NULL, NULL, "down", 4, 0, &out, &n),
        LOKI_OK);
    assert_string_equal(
        out, "{\"error\":{\"code\":503,\"message\":\"down\",\"status\":\"UNAVAILABLE\"}}");
    free(out);

    /* Stream framing. */
    assert_int_equal(
        loki_provider_render_error(LOKI_PROVIDER_ANTHROPIC, 529, NULL, NULL, "x", 1, 1, &out, &n),
        LOKI_OK);
    assert_string_equal(out, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                             "\"overloaded_error\",\"message\":\"x\"}}\n\n");
    free(out);
    assert_int_equal(
        loki_provider_render_error(LOKI_PROVIDER_OPENAI, 500, NULL, NULL, "x", 1, 1, &out, &n),
        LOKI_OK);
    assert_string_equal(out, "data: {\"error\":{\"message\":\"x\",\"type\":\"server_error\","
                             "\"param\":null,\"code\":null}}\n\n");
    /* Our own decoder recognises our own error event. */
    loki_stream_decoder *d;
    assert_int_equal(loki_stream_decoder_create(LOKI_PROVIDER_OPENAI, 0, &d), LOKI_OK);
    loki_sse_event ev = {.event = "message", .event_len = 7, .data = out + 6, .data_len = n - 8};
    loki_stream_delta delta;
    assert_int_equal(loki_stream_decoder_event(d, &ev, &delta), LOKI_OK);
    assert_true(delta.error);
    assert_int_equal(delta.error_message_len, 1);
    loki_stream_decoder_destroy(d);
    free(out);

    assert_string_equal(loki_provider_error_type(LOKI_PROVIDER_ANTHROPIC, 429), "rate_limit_error");
    assert_string_equal(loki_provider_error_type(LOKI_PROVIDER_OPENAI, 503), "server_error");
    assert_int_equal(loki_provider_kind_parse("vLLM"), LOKI_PROVIDER_OPENAI);
    assert_int_equal(loki_provider_kind_parse("Gemini"), LOKI_PROVIDER_GEMINI);
    assert_int_equal(loki_provider_kind_parse("nope"), -1);
}

/* ---- allocation failures: a clean error, never a crash or a leak ---- */

static void alloc_failures(void **st)
{
    (void)st;
    char full[4096];
    snprintf(full, sizeof full, "%s%s", anthropic_stream, anthropic_stop);
    for (unsigned long k = 1; k < 200; k++) {
        loki__alloc_fail_at(k);
        loki_sse_parser *p = NULL;
        decoded x;
        memset(&x, 0, sizeof x);
        loki_provider_result r;
        loki_provider_result_init(&r);
        loki_status s1 = loki_sse_parser_create(0, 0, &p);
        loki_status s2 =
            s1 == LOKI_OK ? loki_stream_decoder_create(LOKI_PROVIDER_ANTHROPIC, 0, &x.d) : s1;
        if (s2 == LOKI_OK) {
            loki_status fs = loki_sse_parser_feed(p, full, strlen(full), decode_cb, &x, NULL);
            assert_true(fs == LOKI_OK || fs == LOKI_ENOMEM);
            if (fs == LOKI_OK && x.st == LOKI_OK) {
                loki_status f = loki_stream_decoder_finish(x.d, &r);
                assert_true(f == LOKI_OK || f == LOKI_ENOMEM);
            } else if (fs == LOKI_OK) {
                assert_int_equal(x.st, LOKI_ENOMEM);
            }
        } else {
            assert_int_equal(s2, LOKI_ENOMEM);
        }
        char *out = NULL;
        loki_status rs = loki_provider_render_error(LOKI_PROVIDER_OPENAI, 400, NULL, NULL, "m", 1,
                                                    1, &out, NULL);
        assert_true(rs == LOKI_OK || rs == LOKI_ENOMEM);
        free(out);
        loki_stream_decoder_destroy(x.d);
        loki_sse_parser_destroy(p);
        loki_provider_result_release(&r);
    }
    loki__alloc_fail_at(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sse_whole_and_pending),
        cmocka_unit_test(sse_random_splits),
        cmocka_unit_test(sse_crlf_split_between_feeds),
        cmocka_unit_test(sse_caps_and_stop),
        cmocka_unit_test(parse_anthropic),
        cmocka_unit_test(parse_openai),
        cmocka_unit_test(parse_gemini),
        cmocka_unit_test(decode_anthropic),
        cmocka_unit_test(decode_openai),
        cmocka_unit_test(decode_gemini),
        cmocka_unit_test(decoder_text_cap),
        cmocka_unit_test(render_errors),
        cmocka_unit_test(alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
