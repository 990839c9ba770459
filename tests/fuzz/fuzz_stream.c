/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for a provider's streaming response: arbitrary bytes go through the SSE
 * parser, in pieces whose sizes come from the input, and each event through the provider's
 * stream decoder (loki_stream_decoder_event), then loki_stream_decoder_finish() — the path a
 * 2xx text/event-stream answer takes in provider.c. Built once per wire format with FUZZ_KIND
 * set to a loki_provider_kind.
 *
 * A leading comment line ":cap=N" (which SSE itself ignores) sets the decoder's max_text, so
 * the corpus can reach the text cap. Checked besides "no crash, no leak": an event fails only
 * with LOKI_EPARSE or LOKI_ELIMIT (nothing allocates past its means here, so LOKI_ENOMEM is a
 * bug); the deltas, concatenated, are exactly the text finish() returns, which never exceeds
 * the cap; finish() succeeds exactly when a terminator was decoded and no error event was.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loki/providers.h"

#ifndef FUZZ_KIND
#define FUZZ_KIND LOKI_PROVIDER_ANTHROPIC
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct state {
    loki_stream_decoder *dec;
    size_t max_text;
    char *text; /* the deltas concatenated */
    size_t len;
    loki_status failed;
    int done, error;
} state;

static int on_event(void *ud, const loki_sse_event *ev)
{
    state *s = ud;
    loki_stream_delta delta;
    loki_status st = loki_stream_decoder_event(s->dec, ev, &delta);
    if (st != LOKI_OK) {
        if (st != LOKI_EPARSE && st != LOKI_ELIMIT)
            abort();
        s->failed = st;
        return 1; /* provider.c stops the transfer on the first bad event */
    }
    if (delta.text) {
        if (delta.text_len == 0 || strlen(delta.text) != delta.text_len ||
            s->len + delta.text_len > s->max_text)
            abort();
        char *t = realloc(s->text, s->len + delta.text_len + 1);
        if (!t)
            abort();
        memcpy(t + s->len, delta.text, delta.text_len);
        s->text = t;
        s->len += delta.text_len;
    } else if (delta.text_len) {
        abort();
    }
    if (delta.done) {
        if (!loki_stream_decoder_done(s->dec))
            abort();
        s->done = 1;
    }
    if (delta.error) {
        if (delta.error_message && strlen(delta.error_message) != delta.error_message_len)
            abort();
        if (!delta.error_message && delta.error_message_len)
            abort();
        s->error = 1;
    }
    if (!delta.error && delta.error_message)
        abort();
    return 0;
}

/* max_text from a leading ":cap=N" line, else 0 (the default). */
static size_t cap_of(const uint8_t *data, size_t size)
{
    if (size < 6 || memcmp(data, ":cap=", 5) != 0)
        return 0;
    size_t n = 0;
    for (size_t i = 5; i < size && i < 12 && data[i] >= '0' && data[i] <= '9'; i++)
        n = n * 10 + (size_t)(data[i] - '0');
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20)
        return 0;
    state s = {.failed = LOKI_OK};
    size_t cap = cap_of(data, size);
    s.max_text = cap ? cap : 32u * 1024 * 1024;
    loki_sse_parser *sse = NULL;
    if (loki_sse_parser_create(0, 0, &sse) != LOKI_OK ||
        loki_stream_decoder_create(FUZZ_KIND, cap, &s.dec) != LOKI_OK)
        abort();
    uint32_t h = 2166136261u ^ (uint32_t)size;
    size_t off = 0;
    int stopped = 0;
    loki_status st = LOKI_OK;
    while (off < size && st == LOKI_OK && !stopped) {
        h = (h ^ data[off]) * 16777619u;
        size_t k = 1 + (h >> 8) % 200;
        if (k > size - off)
            k = size - off;
        st = loki_sse_parser_feed(sse, (const char *)data + off, k, on_event, &s, &stopped);
        off += k;
    }
    if (st != LOKI_OK && st != LOKI_ELIMIT)
        abort();
    if (stopped != (s.failed != LOKI_OK))
        abort();
    if (loki_stream_decoder_done(s.dec) != s.done)
        abort();

    loki_provider_result r;
    loki_provider_result_init(&r);
    loki_status fst = loki_stream_decoder_finish(s.dec, &r);
    if (fst != (s.done && !s.error ? LOKI_OK : LOKI_EIO))
        abort();
    if (!r.text || r.text_len != s.len || strlen(r.text) != r.text_len ||
        (s.len && memcmp(r.text, s.text, s.len) != 0) || r.text_len > s.max_text)
        abort();
    if (!r.streamed || r.stream_complete != (fst == LOKI_OK))
        abort();
    if (r.input_tokens < -1 || r.output_tokens < -1)
        abort();
    loki_provider_result_release(&r);
    free(s.text);
    loki_stream_decoder_destroy(s.dec);
    loki_sse_parser_destroy(sse);
    return 0;
}
