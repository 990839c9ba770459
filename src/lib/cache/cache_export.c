/* SPDX-License-Identifier: MIT */
/* Cache stats rendered as JSON (for `loki stats` and the API) and as Prometheus text. */
#include <string.h>

#include "cache_int.h"
#include "util/util.h"

static loki_status finish(loki_buf *b, char **out, size_t *out_len)
{
    if (b->oom || !b->p) {
        loki__buf_release(b);
        return LOKI_ENOMEM;
    }
    *out = b->p;
    if (out_len)
        *out_len = b->len;
    return LOKI_OK;
}

loki_status loki_cache_stats_json(const loki_cache_stats *s, char **out, size_t *out_len)
{
    *out = NULL;
    loki_buf b;
    loki__buf_init(&b, 1u << 16);
    loki__buf_printf(&b,
                     "{\"backend\":\"%s\",\"health\":\"%s\",\"breaker\":\"%s\","
                     "\"hits\":%llu,\"misses\":%llu,\"hit_rate\":%.4f,\"sets\":%llu,",
                     s->backend ? s->backend : "memory", s->health ? s->health : "ok",
                     s->redis_configured ? loki_breaker_state_name(s->breaker) : "none",
                     (unsigned long long)s->hits, (unsigned long long)s->misses, s->hit_rate,
                     (unsigned long long)s->sets);
    loki__buf_printf(&b,
                     "\"evictions\":%llu,\"expirations\":%llu,\"errors\":%llu,"
                     "\"memory_hits\":%llu,\"redis_hits\":%llu,\"fallbacks\":%llu,",
                     (unsigned long long)s->evictions, (unsigned long long)s->expirations,
                     (unsigned long long)s->errors, (unsigned long long)s->memory_hits,
                     (unsigned long long)s->redis_hits, (unsigned long long)s->fallbacks);
    loki__buf_printf(&b,
                     "\"computes\":%llu,\"shared\":%llu,\"too_large\":%llu,\"entries\":%llu,"
                     "\"bytes\":%llu,\"max_bytes\":%llu,\"breaker_opens\":%llu,"
                     "\"breaker_rejects\":%llu}",
                     (unsigned long long)s->computes, (unsigned long long)s->shared,
                     (unsigned long long)s->too_large, (unsigned long long)s->entries,
                     (unsigned long long)s->bytes, (unsigned long long)s->max_bytes,
                     (unsigned long long)s->breaker_opens, (unsigned long long)s->breaker_rejects);
    return finish(&b, out, out_len);
}

static void prom(loki_buf *b, const char *name, const char *type, const char *help, uint64_t v)
{
    loki__buf_printf(b, "# HELP loki_cache_%s %s\n# TYPE loki_cache_%s %s\nloki_cache_%s %llu\n",
                     name, help, name, type, name, (unsigned long long)v);
}

loki_status loki_cache_stats_prometheus(const loki_cache_stats *s, char **out, size_t *out_len)
{
    *out = NULL;
    loki_buf b;
    loki__buf_init(&b, 1u << 16);
    prom(&b, "hits_total", "counter", "Cache lookups that found a value.", s->hits);
    prom(&b, "misses_total", "counter", "Cache lookups that found nothing.", s->misses);
    prom(&b, "sets_total", "counter", "Values stored.", s->sets);
    prom(&b, "evictions_total", "counter", "Entries evicted by the memory budget.", s->evictions);
    prom(&b, "expirations_total", "counter", "Entries dropped because their TTL ran out.",
         s->expirations);
    prom(&b, "errors_total", "counter", "Redis operations that failed (absorbed).", s->errors);
    prom(&b, "fallbacks_total", "counter",
         "Operations served by memory because Redis failed or was skipped.", s->fallbacks);
    prom(&b, "computes_total", "counter", "get_or_compute calls that computed.", s->computes);
    prom(&b, "singleflight_shared_total", "counter",
         "get_or_compute calls that waited for a concurrent computation.", s->shared);
    prom(&b, "breaker_opens_total", "counter", "Times the Redis circuit breaker opened.",
         s->breaker_opens);
    prom(&b, "entries", "gauge", "Entries in the memory tier.", s->entries);
    prom(&b, "bytes", "gauge", "Bytes held by the memory tier.", s->bytes);
    prom(&b, "max_bytes", "gauge", "Byte budget of the memory tier.", s->max_bytes);
    loki__buf_printf(&b,
                     "# HELP loki_cache_breaker_state Redis breaker: 0 closed, 1 half-open, 2 "
                     "open.\n# TYPE loki_cache_breaker_state gauge\nloki_cache_breaker_state %d\n",
                     (int)s->breaker);
    loki__buf_printf(&b,
                     "# HELP loki_cache_redis_up 1 when Redis is configured and in use.\n"
                     "# TYPE loki_cache_redis_up gauge\nloki_cache_redis_up %d\n",
                     s->redis_configured && s->breaker == LOKI_BREAKER_CLOSED);
    return finish(&b, out, out_len);
}
