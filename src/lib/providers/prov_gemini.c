/* SPDX-License-Identifier: MIT */
/* Google Gemini generateContent: the model is part of the URL, the key goes in
 * x-goog-api-key (never in the query string, where it would end up in access logs). Streams
 * (streamGenerateContent?alt=sse) are whole response chunks with no terminator event: the
 * chunk that carries a finishReason ends the stream. */
#include <string.h>

#include "prov_int.h"

static int model_ok(const char *m)
{
    if (!*m)
        return 0;
    for (; *m; m++)
        if (!((*m >= 'a' && *m <= 'z') || (*m >= 'A' && *m <= 'Z') || (*m >= '0' && *m <= '9') ||
              *m == '-' || *m == '.' || *m == '_'))
            return 0;
    return 1;
}

static loki_status path(loki_buf *url, const char *model, int stream)
{
    if (!model)
        return LOKI_EINVAL;
    if (!strncmp(model, "models/", 7))
        model += 7;
    if (!model_ok(model))
        return LOKI_EINVAL; /* it goes into the URL path */
    int has_v = (url->len >= 7 && !memcmp(url->p + url->len - 7, "/v1beta", 7)) ||
                (url->len >= 3 && !memcmp(url->p + url->len - 3, "/v1", 3));
    loki__buf_printf(url, "%s/models/%s:%s", has_v ? "" : "/v1beta", model,
                     stream ? "streamGenerateContent?alt=sse" : "generateContent");
    return url->oom ? LOKI_ENOMEM : LOKI_OK;
}

static loki_status auth(struct curl_slist **h, const char *key)
{
    return loki__header_add(h, "x-goog-api-key: ", key);
}

static void usage(const cJSON *u, int64_t *in, int64_t *out)
{
    loki__usage_read(u, "promptTokenCount", "candidatesTokenCount", in, out);
}

static const cJSON *cand0(const cJSON *root)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "candidates");
    return cJSON_IsArray(c) ? cJSON_GetArrayItem(c, 0) : NULL;
}

/* Appends the text parts of candidates[0] (thought summaries excluded). LOKI_ELIMIT when they
 * do not fit under t's cap (the buffer's own failure flag cannot tell that from LOKI_ENOMEM). */
static loki_status add_parts(const cJSON *cand, loki_buf *t)
{
    const cJSON *parts = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cand, "content"), "parts");
    const cJSON *pt;
    cJSON_ArrayForEach(pt, parts)
    {
        const char *s = loki__js_str(pt, "text");
        if (!s || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pt, "thought")))
            continue;
        size_t n = strlen(s);
        if (n > t->max - t->len)
            return LOKI_ELIMIT;
        if (loki__buf_add(t, s, n))
            return LOKI_ENOMEM;
    }
    return LOKI_OK;
}

static loki_status parse(const cJSON *root, loki_provider_result *r)
{
    const cJSON *c = cand0(root);
    if (!c && !cJSON_GetObjectItemCaseSensitive(root, "promptFeedback"))
        return LOKI_EPARSE;
    loki_buf t;
    loki__buf_init(&t, 0);
    loki_status st = loki__buf_add(&t, "", 0) ? LOKI_ENOMEM : add_parts(c, &t);
    if (st == LOKI_OK && (loki__set_str(&r->model, loki__js_str(root, "modelVersion")) ||
                          loki__set_str(&r->stop_reason, loki__js_str(c, "finishReason"))))
        st = LOKI_ENOMEM;
    if (st != LOKI_OK) {
        loki__buf_release(&t);
        return st;
    }
    loki__free(r->text);
    r->text = t.p;
    r->text_len = t.len;
    usage(cJSON_GetObjectItemCaseSensitive(root, "usageMetadata"), &r->input_tokens,
          &r->output_tokens);
    return LOKI_OK;
}

static loki_status decode(loki_stream_decoder *d, const loki_sse_event *ev, const cJSON *root,
                          loki_stream_delta *delta)
{
    (void)ev;
    if (!cJSON_IsObject(root))
        return LOKI_EPARSE;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (e) {
        loki__decoder_set_error(d, cJSON_IsObject(e) ? loki__js_str(e, "message") : NULL, delta);
        return LOKI_OK;
    }
    const char *m = loki__js_str(root, "modelVersion");
    if (m && !d->model && loki__set_str(&d->model, m))
        return LOKI_ENOMEM;
    usage(cJSON_GetObjectItemCaseSensitive(root, "usageMetadata"), &d->input_tokens,
          &d->output_tokens);
    const cJSON *c = cand0(root);
    /* Parts of one chunk are joined first so the delta is one contiguous piece of text; the
     * decoder's scratch buffer keeps it alive until the next event. Its cap is the text's: a
     * chunk that does not fit is LOKI_ELIMIT, and no failure carries over to the next chunk. */
    loki_buf *t = &d->scratch;
    t->len = 0;
    t->oom = 0;
    loki_status st = add_parts(c, t);
    if (st == LOKI_OK && t->len)
        st = loki__decoder_add_text(d, t->p, delta);
    const char *fr = loki__js_str(c, "finishReason");
    if (st == LOKI_OK && fr) {
        if (loki__set_str(&d->stop_reason, fr))
            return LOKI_ENOMEM;
        d->done = 1;
        delta->done = 1;
    }
    return st;
}

static const char *error_type(int s)
{
    switch (s) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 429: return "RESOURCE_EXHAUSTED";
    case 503: return "UNAVAILABLE";
    case 504: return "DEADLINE_EXCEEDED";
    default: return s >= 500 || s < 400 ? "INTERNAL" : "FAILED_PRECONDITION";
    }
}

static void render_error(loki_buf *b, int status, const char *type, const char *code,
                         const char *msg, size_t n)
{
    (void)code;
    loki__buf_printf(b, "{\"error\":{\"code\":%d,\"message\":", status);
    loki__buf_json_str(b, msg, n);
    loki__buf_adds(b, ",\"status\":");
    loki__buf_json_str(b, type, strlen(type));
    loki__buf_adds(b, "}}");
}

const loki__adapter loki__adapter_gemini = {
    .kind = LOKI_PROVIDER_GEMINI,
    .name = "gemini",
    .default_base_url = "https://generativelanguage.googleapis.com",
    .path = path,
    .auth = auth,
    .parse = parse,
    .decode = decode,
    .error_type = error_type,
    .render_error = render_error,
    .sse_error_prefix = "",
};
