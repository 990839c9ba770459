/* SPDX-License-Identifier: MIT */
/* OpenAI Chat Completions: POST /v1/chat/completions with a bearer token. The same adapter
 * serves Ollama, vLLM and other OpenAI-compatible servers through their base URL. Streams are
 * untyped `data:` chunks ending in `data: [DONE]`. */
#include <string.h>

#include "prov_int.h"

static loki_status path(loki_buf *url, const char *model, int stream)
{
    (void)model;
    (void)stream;
    int has_v1 = url->len >= 3 && !memcmp(url->p + url->len - 3, "/v1", 3);
    loki__buf_adds(url, has_v1 ? "/chat/completions" : "/v1/chat/completions");
    return url->oom ? LOKI_ENOMEM : LOKI_OK;
}

static loki_status auth(struct curl_slist **h, const char *key)
{
    return loki__header_add(h, "Authorization: Bearer ", key);
}

static void usage(const cJSON *u, int64_t *in, int64_t *out)
{
    loki__usage_read(u, "prompt_tokens", "completion_tokens", in, out);
}

static const cJSON *choice0(const cJSON *root)
{
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(root, "choices");
    return cJSON_IsArray(ch) ? cJSON_GetArrayItem(ch, 0) : NULL;
}

static loki_status parse(const cJSON *root, loki_provider_result *r)
{
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "choices")))
        return LOKI_EPARSE;
    const cJSON *c = choice0(root);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(c, "message");
    const char *content = loki__js_str(msg, "content"); /* null for tool calls */
    char *t = loki__strdup(content ? content : "");
    if (!t || loki__set_str(&r->model, loki__js_str(root, "model")) ||
        loki__set_str(&r->stop_reason, loki__js_str(c, "finish_reason"))) {
        loki__free(t);
        return LOKI_ENOMEM;
    }
    loki__free(r->text);
    r->text = t;
    r->text_len = strlen(t);
    usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), &r->input_tokens, &r->output_tokens);
    return LOKI_OK;
}

static loki_status decode(loki_stream_decoder *d, const loki_sse_event *ev, const cJSON *root,
                          loki_stream_delta *delta)
{
    if (!root) {
        if (ev->data_len == 6 && !memcmp(ev->data, "[DONE]", 6)) {
            d->done = 1;
            delta->done = 1;
            return LOKI_OK;
        }
        return LOKI_EPARSE;
    }
    if (!cJSON_IsObject(root))
        return LOKI_EPARSE;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (e) {
        loki__decoder_set_error(d, cJSON_IsObject(e) ? loki__js_str(e, "message") : NULL, delta);
        return LOKI_OK;
    }
    const char *m = loki__js_str(root, "model");
    if (m && !d->model && loki__set_str(&d->model, m))
        return LOKI_ENOMEM;
    usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), &d->input_tokens, &d->output_tokens);
    const cJSON *c = choice0(root);
    const char *fr = loki__js_str(c, "finish_reason");
    if (fr && loki__set_str(&d->stop_reason, fr))
        return LOKI_ENOMEM;
    const char *s = loki__js_str(cJSON_GetObjectItemCaseSensitive(c, "delta"), "content");
    return s ? loki__decoder_add_text(d, s, delta) : LOKI_OK;
}

static const char *error_type(int s)
{
    switch (s) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 429: return "rate_limit_error";
    default: return s >= 500 || s < 400 ? "server_error" : "invalid_request_error";
    }
}

static void render_error(loki_buf *b, int status, const char *type, const char *code,
                         const char *msg, size_t n)
{
    (void)status;
    loki__buf_adds(b, "{\"error\":{\"message\":");
    loki__buf_json_str(b, msg, n);
    loki__buf_adds(b, ",\"type\":");
    loki__buf_json_str(b, type, strlen(type));
    loki__buf_adds(b, ",\"param\":null,\"code\":");
    if (code)
        loki__buf_json_str(b, code, strlen(code));
    else
        loki__buf_adds(b, "null");
    loki__buf_adds(b, "}}");
}

const loki__adapter loki__adapter_openai = {
    .kind = LOKI_PROVIDER_OPENAI,
    .name = "openai",
    .default_base_url = "https://api.openai.com",
    .path = path,
    .auth = auth,
    .parse = parse,
    .decode = decode,
    .error_type = error_type,
    .render_error = render_error,
    .sse_error_prefix = "",
};
