/* SPDX-License-Identifier: MIT */
/*
 * The provider-independent half of the codecs: the adapter table, results, non-streaming
 * parsing, the stream decoder shell and native error rendering. Each adapter file only knows
 * its own wire format; everything that is the same for all of them lives here.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "prov_int.h"

static const loki__adapter *const adapters[] = {
    [LOKI_PROVIDER_ANTHROPIC] = &loki__adapter_anthropic,
    [LOKI_PROVIDER_OPENAI] = &loki__adapter_openai,
    [LOKI_PROVIDER_GEMINI] = &loki__adapter_gemini,
};

const loki__adapter *loki__adapter_get(loki_provider_kind k)
{
    if ((unsigned)k >= sizeof adapters / sizeof adapters[0])
        return NULL;
    return adapters[k];
}

const char *loki_provider_kind_name(loki_provider_kind k)
{
    const loki__adapter *a = loki__adapter_get(k);
    return a ? a->name : "unknown";
}

int loki_provider_kind_parse(const char *name)
{
    if (!name)
        return -1;
    for (unsigned i = 0; i < sizeof adapters / sizeof adapters[0]; i++)
        if (!strcasecmp(name, adapters[i]->name))
            return (int)i;
    if (!strcasecmp(name, "ollama") || !strcasecmp(name, "vllm"))
        return LOKI_PROVIDER_OPENAI;
    return -1;
}

/* ---- JSON helpers ---- */

const char *loki__js_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int64_t loki__js_int(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9e15)
        return -1;
    return (int64_t)v->valuedouble;
}

void loki__usage_read(const cJSON *u, const char *in_key, const char *out_key, int64_t *in,
                      int64_t *out)
{
    if (!cJSON_IsObject(u))
        return;
    int64_t v = loki__js_int(u, in_key);
    if (v >= 0)
        *in = v;
    v = loki__js_int(u, out_key);
    if (v >= 0)
        *out = v;
}

loki_status loki__header_add(struct curl_slist **h, const char *prefix, const char *value)
{
    loki_buf b;
    loki__buf_init(&b, 0);
    loki__buf_adds(&b, prefix);
    loki__buf_adds(&b, value);
    struct curl_slist *n = b.oom ? NULL : curl_slist_append(*h, b.p);
    loki__buf_release(&b);
    if (!n)
        return LOKI_ENOMEM;
    *h = n;
    return LOKI_OK;
}

int loki__set_str(char **dst, const char *s)
{
    char *c = NULL;
    if (s && !(c = loki__strdup(s)))
        return -1;
    loki__free(*dst);
    *dst = c;
    return 0;
}

/* ---- results ---- */

void loki_provider_result_init(loki_provider_result *r)
{
    memset(r, 0, sizeof *r);
    r->input_tokens = -1;
    r->output_tokens = -1;
    r->retry_after_ms = -1;
}

void loki_provider_result_release(loki_provider_result *r)
{
    loki__free(r->body);
    loki__free(r->content_type);
    loki__free(r->text);
    loki__free(r->model);
    loki__free(r->stop_reason);
    loki_provider_result_init(r);
}

loki_status loki_provider_parse_response(loki_provider_kind kind, const char *body, size_t len,
                                         loki_provider_result *r, loki_error *err)
{
    const loki__adapter *a = loki__adapter_get(kind);
    if (!a || (!body && len))
        return loki__err(err, LOKI_EINVAL, "unknown provider kind");
    cJSON *root = cJSON_ParseWithLength(body ? body : "", len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return loki__err(err, LOKI_EPARSE, "%s response is not a JSON object", a->name);
    }
    loki_status st = a->parse(root, r);
    cJSON_Delete(root);
    if (st == LOKI_ENOMEM)
        return loki__err(err, st, "out of memory");
    if (st != LOKI_OK)
        return loki__err(err, st, "%s response has an unexpected shape", a->name);
    return LOKI_OK;
}

/* ---- stream decoder ---- */

loki_status loki_stream_decoder_create(loki_provider_kind kind, size_t max_text,
                                       loki_stream_decoder **out)
{
    *out = NULL;
    const loki__adapter *a = loki__adapter_get(kind);
    if (!a)
        return LOKI_EINVAL;
    loki_stream_decoder *d = loki__calloc(1, sizeof *d);
    if (!d)
        return LOKI_ENOMEM;
    d->ad = a;
    loki__buf_init(&d->text, max_text ? max_text : 32u * 1024 * 1024);
    loki__buf_init(&d->error_message, 4096);
    loki__buf_init(&d->scratch, d->text.max);
    d->input_tokens = d->output_tokens = -1;
    *out = d;
    return LOKI_OK;
}

void loki_stream_decoder_destroy(loki_stream_decoder *d)
{
    if (!d)
        return;
    cJSON_Delete(d->last);
    loki__buf_release(&d->text);
    loki__buf_release(&d->error_message);
    loki__buf_release(&d->scratch);
    loki__free(d->model);
    loki__free(d->stop_reason);
    loki__free(d);
}

int loki_stream_decoder_done(const loki_stream_decoder *d)
{
    return d->done;
}

loki_status loki__decoder_add_text(loki_stream_decoder *d, const char *s, loki_stream_delta *delta)
{
    size_t n = strlen(s);
    if (!n)
        return LOKI_OK;
    if (n > d->text.max - d->text.len)
        return LOKI_ELIMIT;
    if (loki__buf_add(&d->text, s, n))
        return LOKI_ENOMEM;
    delta->text = s;
    delta->text_len = n;
    return LOKI_OK;
}

void loki__decoder_set_error(loki_stream_decoder *d, const char *msg, loki_stream_delta *delta)
{
    d->error = 1;
    d->error_message.len = 0;
    d->error_message.oom = 0;
    if (msg) {
        size_t n = strlen(msg);
        loki__buf_add(&d->error_message, msg, n < 4000 ? n : 4000);
    }
    delta->error = 1;
    delta->error_message = d->error_message.len ? d->error_message.p : NULL;
    delta->error_message_len = d->error_message.len;
}

loki_status loki_stream_decoder_event(loki_stream_decoder *d, const loki_sse_event *ev,
                                      loki_stream_delta *delta)
{
    memset(delta, 0, sizeof *delta);
    cJSON_Delete(d->last);
    d->last = cJSON_ParseWithLength(ev->data, ev->data_len);
    return d->ad->decode(d, ev, d->last, delta);
}

loki_status loki_stream_decoder_finish(loki_stream_decoder *d, loki_provider_result *r)
{
    char *t = loki__strndup(d->text.p ? d->text.p : "", d->text.len);
    if (!t || loki__set_str(&r->model, d->model) ||
        loki__set_str(&r->stop_reason, d->stop_reason)) {
        loki__free(t);
        return LOKI_ENOMEM;
    }
    loki__free(r->text);
    r->text = t;
    r->text_len = d->text.len;
    if (d->input_tokens >= 0)
        r->input_tokens = d->input_tokens;
    if (d->output_tokens >= 0)
        r->output_tokens = d->output_tokens;
    r->streamed = 1;
    r->stream_complete = d->done && !d->error;
    return r->stream_complete ? LOKI_OK : LOKI_EIO;
}

/* ---- native errors ---- */

const char *loki_provider_error_type(loki_provider_kind kind, int http_status)
{
    const loki__adapter *a = loki__adapter_get(kind);
    return a ? a->error_type(http_status) : "error";
}

loki_status loki_provider_render_error(loki_provider_kind kind, int http_status, const char *type,
                                       const char *code, const char *message, size_t message_len,
                                       int sse, char **out, size_t *out_len)
{
    *out = NULL;
    if (out_len)
        *out_len = 0;
    const loki__adapter *a = loki__adapter_get(kind);
    if (!a || (!message && message_len))
        return LOKI_EINVAL;
    loki_buf b;
    loki__buf_init(&b, 0);
    if (sse) {
        loki__buf_adds(&b, a->sse_error_prefix);
        loki__buf_adds(&b, "data: ");
    }
    a->render_error(&b, http_status, type ? type : a->error_type(http_status), code,
                    message ? message : "", message_len);
    if (sse)
        loki__buf_adds(&b, "\n\n");
    if (b.oom || !b.p) {
        loki__buf_release(&b);
        return LOKI_ENOMEM;
    }
    *out = b.p;
    if (out_len)
        *out_len = b.len;
    return LOKI_OK;
}
