/* SPDX-License-Identifier: MIT */
/* Anthropic Messages API: POST /v1/messages with x-api-key and anthropic-version; responses
 * carry content blocks; streams are typed events ending in message_stop. */
#include <string.h>

#include "prov_int.h"

static loki_status path(loki_buf *url, const char *model, int stream)
{
    (void)model;
    (void)stream;
    /* A base URL that already names the version (SDK style) is not doubled. */
    int has_v1 = url->len >= 3 && !memcmp(url->p + url->len - 3, "/v1", 3);
    loki__buf_adds(url, has_v1 ? "/messages" : "/v1/messages");
    return url->oom ? LOKI_ENOMEM : LOKI_OK;
}

static loki_status auth(struct curl_slist **h, const char *key)
{
    return loki__header_add(h, "x-api-key: ", key);
}

static void usage(const cJSON *u, int64_t *in, int64_t *out)
{
    loki__usage_read(u, "input_tokens", "output_tokens", in, out);
}

static loki_status parse(const cJSON *root, loki_provider_result *r)
{
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(root, "content");
    if (!cJSON_IsArray(content))
        return LOKI_EPARSE;
    loki_buf t;
    loki__buf_init(&t, 0);
    loki__buf_add(&t, "", 0);
    const cJSON *blk;
    cJSON_ArrayForEach(blk, content)
    {
        const char *type = loki__js_str(blk, "type");
        const char *s = loki__js_str(blk, "text");
        if (type && s && !strcmp(type, "text"))
            loki__buf_adds(&t, s);
    }
    if (t.oom || loki__set_str(&r->model, loki__js_str(root, "model")) ||
        loki__set_str(&r->stop_reason, loki__js_str(root, "stop_reason"))) {
        loki__buf_release(&t);
        return LOKI_ENOMEM;
    }
    loki__free(r->text);
    r->text = t.p;
    r->text_len = t.len;
    usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), &r->input_tokens, &r->output_tokens);
    return LOKI_OK;
}

static loki_status decode(loki_stream_decoder *d, const loki_sse_event *ev, const cJSON *root,
                          loki_stream_delta *delta)
{
    if (!cJSON_IsObject(root))
        return LOKI_EPARSE;
    const char *type = loki__js_str(root, "type");
    if (!type)
        type = ev->event; /* the data normally repeats the event name */
    if (!strcmp(type, "content_block_delta")) {
        const cJSON *dl = cJSON_GetObjectItemCaseSensitive(root, "delta");
        const char *dt = loki__js_str(dl, "type");
        const char *s = loki__js_str(dl, "text");
        if (dt && s && !strcmp(dt, "text_delta"))
            return loki__decoder_add_text(d, s, delta);
    } else if (!strcmp(type, "content_block_start")) {
        const cJSON *cb = cJSON_GetObjectItemCaseSensitive(root, "content_block");
        const char *ct = loki__js_str(cb, "type");
        const char *s = loki__js_str(cb, "text");
        if (ct && s && !strcmp(ct, "text"))
            return loki__decoder_add_text(d, s, delta);
    } else if (!strcmp(type, "message_start")) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "message");
        if (loki__set_str(&d->model, loki__js_str(m, "model")))
            return LOKI_ENOMEM;
        usage(cJSON_GetObjectItemCaseSensitive(m, "usage"), &d->input_tokens, &d->output_tokens);
    } else if (!strcmp(type, "message_delta")) {
        const cJSON *dl = cJSON_GetObjectItemCaseSensitive(root, "delta");
        const char *sr = loki__js_str(dl, "stop_reason");
        if (sr && loki__set_str(&d->stop_reason, sr))
            return LOKI_ENOMEM;
        usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), &d->input_tokens, &d->output_tokens);
    } else if (!strcmp(type, "message_stop")) {
        d->done = 1;
        delta->done = 1;
    } else if (!strcmp(type, "error")) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
        loki__decoder_set_error(d, loki__js_str(e, "message"), delta);
    }
    return LOKI_OK; /* ping, content_block_stop, unknown future events */
}

static const char *error_type(int s)
{
    switch (s) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 529: return "overloaded_error";
    default: return s >= 500 || s < 400 ? "api_error" : "invalid_request_error";
    }
}

static void render_error(loki_buf *b, int status, const char *type, const char *code,
                         const char *msg, size_t n)
{
    (void)status;
    (void)code;
    loki__buf_adds(b, "{\"type\":\"error\",\"error\":{\"type\":");
    loki__buf_json_str(b, type, strlen(type));
    loki__buf_adds(b, ",\"message\":");
    loki__buf_json_str(b, msg, n);
    loki__buf_adds(b, "}}");
}

const loki__adapter loki__adapter_anthropic = {
    .kind = LOKI_PROVIDER_ANTHROPIC,
    .name = "anthropic",
    .default_base_url = "https://api.anthropic.com",
    .path = path,
    .auth = auth,
    .parse = parse,
    .decode = decode,
    .error_type = error_type,
    .render_error = render_error,
    .sse_error_prefix = "event: error\n",
};
