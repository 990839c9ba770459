/* SPDX-License-Identifier: MIT */
/*
 * What a server needs to be one of several behind a load balancer: an instance id (config, or
 * hostname:port) shown in health and metrics, the shared rate limiter in Redis attached to the
 * local one, and the health/metrics view of both shared dependencies (the limiter's Redis and
 * the verdict cache's Redis tier), each degrading to a local stand-in rather than failing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loki/cache.h"
#include "server.h"

void srv_cluster_instance_id(srv *s, unsigned port)
{
    char *id = s->cfg.instance_id;
    size_t cap = sizeof s->cfg.instance_id;
    if (id[0])
        return;
    char host[64] = "";
    if (gethostname(host, sizeof host) == 0 && host[0]) {
        host[sizeof host - 1] = '\0';
        snprintf(id, cap, "%s:%u", host, port);
        return;
    }
    uint8_t rnd[6] = {0};
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
        if (fread(rnd, 1, sizeof rnd, f) != sizeof rnd)
            memset(rnd, 0, sizeof rnd);
        fclose(f);
    }
    char hex[13];
    srv_hex(rnd, sizeof rnd, hex);
    snprintf(id, cap, "loki-%s", hex);
}

/* The Redis URL of the shared limiter: ratelimit_redis, else the cache's redis_url; NULL when
 * limits are local ("off", or no Redis at all). */
static const char *limiter_url(const srv_config *c)
{
    if (!strcmp(c->ratelimit_redis, "off"))
        return NULL;
    if (c->ratelimit_redis[0])
        return c->ratelimit_redis;
    return c->redis_url[0] ? c->redis_url : NULL;
}

int srv_cluster_setup(srv *s)
{
    const char *url = limiter_url(&s->cfg);
    if (!s->rl || !url)
        return 0;
    char err[512];
    unsigned threads = s->cfg.threads ? s->cfg.threads : s->ncpu;
    rl_redis *shared =
        rl_redis_create(url, s->cfg.rate_limit, s->cfg.rate_burst, threads + 2, err, sizeof err);
    if (!shared) {
        fprintf(stderr, "loki serve: ratelimit_redis: %s\n", err);
        return -1;
    }
    ratelimit_set_shared(s->rl, shared);
    return 0;
}

static void reason(sbuf *b, int *n, const char *what, const char *detail)
{
    char msg[400];
    snprintf(msg, sizeof msg, "%s: %s", what, detail);
    sbuf_puts(b, (*n)++ ? "," : "");
    sbuf_json_str(b, msg);
}

void srv_cluster_health(srv *s, sbuf *b, int *degraded, int detailed)
{
    int n = 0;
    sbuf_puts(b, ",\"instance_id\":");
    sbuf_json_str(b, s->cfg.instance_id);
    sbuf_puts(b, ",\"degraded_reasons\":[");
    if (*degraded)
        reason(b, &n, "audit", "the audit database is failing or dropping rows");
    rl_redis *shared = s->rl ? ratelimit_get_shared(s->rl) : NULL;
    rl_redis_stats rs;
    if (shared) {
        rl_redis_get_stats(shared, &rs);
        if (rs.degraded)
            reason(b, &n, "ratelimit", rs.reason);
    }
    if (s->cache) {
        loki_cache_stats cs;
        loki_cache_stats_get(s->cache, &cs);
        if (cs.redis_configured && strcmp(cs.health, "ok") != 0)
            reason(b, &n, "cache",
                   "redis tier unavailable (breaker not closed); the memory tier serves");
    }
    sbuf_puts(b, "]");
    *degraded = n > 0;
    if (!detailed)
        return;
    if (!s->rl) {
        sbuf_puts(b, ",\"ratelimit\":{\"enabled\":false}");
        return;
    }
    sbuf_printf(b, ",\"ratelimit\":{\"enabled\":true,\"rate\":%g,\"burst\":%g,\"mode\":\"%s\"",
                s->cfg.rate_limit, s->cfg.rate_burst,
                !shared       ? "local"
                : rs.degraded ? "local_fallback"
                              : "shared");
    if (shared) {
        sbuf_printf(b,
                    ",\"state\":\"%s\",\"breaker\":\"%s\",\"redis_allowed\":%llu,"
                    "\"redis_limited\":%llu,\"redis_errors\":%llu,\"local_fallbacks\":%llu,"
                    "\"reason\":",
                    rs.degraded ? "degraded" : "ok", rs.breaker, (unsigned long long)rs.allowed,
                    (unsigned long long)rs.limited, (unsigned long long)rs.errors,
                    (unsigned long long)(rs.errors + rs.skipped));
        sbuf_json_str(b, rs.reason);
    }
    sbuf_puts(b, "}");
}

/* A Prometheus label value: backslash, quote and newline escaped. */
static void label_value(sbuf *o, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            sbuf_printf(o, "\\%c", *v);
        else if (*v == '\n')
            sbuf_puts(o, "\\n");
        else
            sbuf_put(o, v, 1);
    }
}

void srv_cluster_metrics(srv *s, sbuf *o)
{
    sbuf_puts(o, "# HELP loki_instance_info The instance id of this server (always 1).\n"
                 "# TYPE loki_instance_info gauge\nloki_instance_info{instance_id=\"");
    label_value(o, s->cfg.instance_id);
    sbuf_puts(o, "\"} 1\n");
    rl_redis *shared = s->rl ? ratelimit_get_shared(s->rl) : NULL;
    if (!shared)
        return;
    rl_redis_stats rs;
    rl_redis_get_stats(shared, &rs);
    sbuf_printf(o,
                "# HELP loki_ratelimit_shared_up 1 while rate limits are shared through "
                "Redis, 0 while local buckets stand in.\n"
                "# TYPE loki_ratelimit_shared_up gauge\nloki_ratelimit_shared_up %d\n"
                "# HELP loki_ratelimit_redis_decisions_total Rate-limit decisions made in "
                "Redis.\n# TYPE loki_ratelimit_redis_decisions_total counter\n"
                "loki_ratelimit_redis_decisions_total{result=\"allowed\"} %llu\n"
                "loki_ratelimit_redis_decisions_total{result=\"limited\"} %llu\n"
                "# HELP loki_ratelimit_redis_errors_total Redis calls of the limiter that "
                "failed.\n# TYPE loki_ratelimit_redis_errors_total counter\n"
                "loki_ratelimit_redis_errors_total %llu\n"
                "# HELP loki_ratelimit_local_fallbacks_total Decisions made by the local "
                "bucket because Redis failed or was skipped.\n"
                "# TYPE loki_ratelimit_local_fallbacks_total counter\n"
                "loki_ratelimit_local_fallbacks_total %llu\n",
                !rs.degraded, (unsigned long long)rs.allowed, (unsigned long long)rs.limited,
                (unsigned long long)rs.errors, (unsigned long long)(rs.errors + rs.skipped));
}
