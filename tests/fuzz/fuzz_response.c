/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for loki_provider_parse_response(): a non-streaming response body of one
 * provider on arbitrary bytes. Built once per wire format with FUZZ_KIND set to a
 * loki_provider_kind. Besides "no crash, no leak" it checks the contract: the only failure is
 * LOKI_EPARSE, a success yields NUL-terminated text whose length is text_len, and parsing the
 * same body again into the same result replaces (not leaks, not appends) what was there.
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

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check(const loki_provider_result *r)
{
    if (!r->text || strlen(r->text) != r->text_len)
        abort();
    if (r->input_tokens < -1 || r->output_tokens < -1)
        abort();
    if (r->body || r->streamed) /* parsing never touches the body or the stream flags */
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20)
        return 0;
    /* A copy of exactly size bytes, so that ASan sees any read past the body's end. */
    char *body = malloc(size ? size : 1);
    if (!body)
        return 0;
    if (size)
        memcpy(body, data, size);
    loki_provider_result r;
    loki_provider_result_init(&r);
    loki_error err;
    memset(&err, 0, sizeof err);
    loki_status st = loki_provider_parse_response(FUZZ_KIND, body, size, &r, &err);
    if (st != LOKI_OK && st != LOKI_EPARSE)
        abort();
    if (st != LOKI_OK) {
        if (!err.message[0] || r.text || r.model || r.stop_reason)
            abort(); /* a failure says why and leaves the result alone */
        goto out;
    }
    check(&r);
    char *text = strdup(r.text);
    char *model = r.model ? strdup(r.model) : NULL;
    char *stop = r.stop_reason ? strdup(r.stop_reason) : NULL;
    int64_t in = r.input_tokens, outt = r.output_tokens;
    /* Again into the same result: the fields are replaced by equal ones. */
    if (loki_provider_parse_response(FUZZ_KIND, body, size, &r, &err) != LOKI_OK)
        abort();
    check(&r);
    if (strcmp(text, r.text) != 0 || !same_str(model, r.model) || !same_str(stop, r.stop_reason) ||
        in != r.input_tokens || outt != r.output_tokens)
        abort();
    free(text);
    free(model);
    free(stop);
out:
    loki_provider_result_release(&r);
    free(body);
    return 0;
}
