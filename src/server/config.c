/* SPDX-License-Identifier: MIT */
/* Server configuration. One table names every setting once; the same name is a file key
 * (`max_body_bytes = 10m`), an environment variable (LOKI_MAX_BODY_BYTES) and a flag
 * (--max-body-bytes). Later sources win: defaults < file < environment < flags. */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

typedef enum { T_STR, T_UINT, T_SIZE, T_DOUBLE, T_BOOL } opt_type;

typedef struct opt {
    const char *name; /* file key; flag is --name with '-' for '_' */
    const char *env;  /* environment variable */
    opt_type type;
    size_t off, size;
    const char *help;
} opt;

#define S(f) offsetof(srv_config, f), sizeof(((srv_config *)0)->f)
static const opt opts[] = {
    {"listen", "LOKI_LISTEN", T_STR, S(listen), "host:port to listen on (127.0.0.1:8787)"},
    {"rules", "LOKI_RULES_DIR", T_STR, S(rules), "rule-pack directory (bundled rules)"},
    {"cache_dir", "LOKI_CACHE_DIR", T_STR, S(cache_dir), "compiled-rules cache dir, or off"},
    {"threads", "LOKI_THREADS", T_UINT, S(threads), "HTTP worker threads (0 = CPUs)"},
    {"max_body_bytes", "LOKI_MAX_BODY_BYTES", T_SIZE, S(max_body_bytes),
     "largest request body (10m) -> 413"},
    {"header_memory", "LOKI_HEADER_MEMORY", T_SIZE, S(header_memory),
     "memory for URL + headers per connection (32k) -> 414/431"},
    {"conn_timeout", "LOKI_CONN_TIMEOUT", T_UINT, S(conn_timeout),
     "seconds a connection may be idle or slow (15)"},
    {"max_conns", "LOKI_MAX_CONNS", T_UINT, S(max_conns), "connection limit (1024)"},
    {"max_conns_per_ip", "LOKI_MAX_CONNS_PER_IP", T_UINT, S(max_conns_ip),
     "connections per client IP (256; 0 = unlimited)"},
    {"api_keys", "LOKI_API_KEYS", T_STR, S(api_keys), "comma-separated API keys (auth off)"},
    {"protect_ops", "LOKI_PROTECT_OPS", T_BOOL, S(protect_ops),
     "health and metrics need a key too (false)"},
    {"rate_limit", "LOKI_RATE_LIMIT", T_DOUBLE, S(rate_limit),
     "requests/second per client (0 = off)"},
    {"rate_burst", "LOKI_RATE_BURST", T_DOUBLE, S(rate_burst), "token-bucket size"},
    {"cors_origins", "LOKI_CORS_ORIGINS", T_STR, S(cors_origins),
     "allowed origins, * or a comma list (off)"},
    {"audit_db", "LOKI_AUDIT_DB", T_STR, S(audit_db), "SQLite audit log (loki-audit.db), or off"},
    {"access_log", "LOKI_ACCESS_LOG", T_STR, S(access_log), "JSON-lines access log: -, off, FILE"},
    {"cache_entries", "LOKI_CACHE_ENTRIES", T_SIZE, S(cache_entries),
     "verdict cache entries (10000; 0 = off)"},
    {"cache_bytes", "LOKI_CACHE_BYTES", T_SIZE, S(cache_bytes), "verdict cache memory (256m)"},
    {"cache_ttl", "LOKI_CACHE_TTL", T_UINT, S(cache_ttl), "verdict cache TTL seconds (3600)"},
    {"redis_url", "LOKI_REDIS_URL", T_STR, S(redis_url),
     "Redis tier of the verdict cache (memory only)"},
    {"shutdown_timeout", "LOKI_SHUTDOWN_TIMEOUT", T_UINT, S(shutdown_timeout),
     "seconds in-flight requests get on SIGTERM (30)"},
    {"batch_max", "LOKI_BATCH_MAX", T_UINT, S(batch_max), "documents per batch (100)"},
    {"batch_threads", "LOKI_BATCH_THREADS", T_UINT, S(batch_threads),
     "parallel checks per batch (0 = CPUs)"},
    {"request_timeout", "LOKI_REQUEST_TIMEOUT", T_UINT, S(request_timeout),
     "seconds to receive a request body (60)"},
    {"instance_id", "LOKI_INSTANCE_ID", T_STR, S(instance_id),
     "id in health and metrics (hostname:port)"},
    {"ratelimit_redis", "LOKI_RATELIMIT_REDIS", T_STR, S(ratelimit_redis),
     "Redis for shared rate limits (redis_url; off = local)"},
    /* The interceptor (docs/interceptor.md). */
    {"proxy_modules", "LOKI_PROXY_MODULES", T_STR, S(proxy_modules),
     "modules checked on proxied answers (all)"},
    {"proxy_block", "LOKI_PROXY_BLOCK", T_STR, S(proxy_block),
     "risk that blocks an answer: low|medium|high|critical|never (critical)"},
    {"proxy_validate_prompt", "LOKI_PROXY_VALIDATE_PROMPT", T_BOOL, S(proxy_validate_prompt),
     "check the prompt before sending it (false)"},
    {"proxy_stream_window", "LOKI_PROXY_STREAM_WINDOW", T_SIZE, S(proxy_stream_window),
     "streamed text held back for validation (256)"},
    {"proxy_pass_client_key", "LOKI_PROXY_PASS_CLIENT_KEY", T_BOOL, S(proxy_pass_client_key),
     "forward the client's own provider key (false)"},
    {"anthropic_base_url", "LOKI_ANTHROPIC_BASE_URL", T_STR, S(anthropic_base_url),
     "Anthropic API (https://api.anthropic.com)"},
    {"openai_base_url", "LOKI_OPENAI_BASE_URL", T_STR, S(openai_base_url),
     "OpenAI-compatible API (https://api.openai.com)"},
    {"gemini_base_url", "LOKI_GEMINI_BASE_URL", T_STR, S(gemini_base_url),
     "Gemini API (https://generativelanguage.googleapis.com)"},
    {"anthropic_api_key", "ANTHROPIC_API_KEY", T_STR, S(anthropic_api_key),
     "key LOKI sends to Anthropic"},
    {"openai_api_key", "OPENAI_API_KEY", T_STR, S(openai_api_key), "key LOKI sends to OpenAI"},
    {"gemini_api_key", "GEMINI_API_KEY", T_STR, S(gemini_api_key), "key LOKI sends to Gemini"},
    {"provider_max_attempts", "LOKI_PROVIDER_MAX_ATTEMPTS", T_UINT, S(provider_max_attempts),
     "upstream attempts per call, first included (3)"},
    {"provider_retry_base_ms", "LOKI_PROVIDER_RETRY_BASE_MS", T_UINT, S(provider_retry_base_ms),
     "first retry backoff cap, ms (200)"},
    {"provider_timeout", "LOKI_PROVIDER_TIMEOUT", T_UINT, S(provider_timeout),
     "seconds for a whole upstream call (600)"},
    {"provider_connect_timeout", "LOKI_PROVIDER_CONNECT_TIMEOUT", T_UINT,
     S(provider_connect_timeout), "seconds to connect upstream (10)"},
    {"provider_breaker_open_ms", "LOKI_PROVIDER_BREAKER_OPEN_MS", T_UINT,
     S(provider_breaker_open_ms), "ms a provider breaker stays open (10000)"},
    {"provider_breaker_min_calls", "LOKI_PROVIDER_BREAKER_MIN_CALLS", T_UINT,
     S(provider_breaker_min_calls), "calls in the window before the rate counts (10)"},
    {"provider_breaker_failure_rate", "LOKI_PROVIDER_BREAKER_FAILURE_RATE", T_DOUBLE,
     S(provider_breaker_failure_rate), "failure rate that opens the breaker (0.5)"},
    {"provider_breaker_consecutive", "LOKI_PROVIDER_BREAKER_CONSECUTIVE", T_UINT,
     S(provider_breaker_consecutive), "failures in a row that open the breaker (5)"},
    {"provider_rpm", "LOKI_PROVIDER_RPM", T_DOUBLE, S(provider_rpm),
     "upstream requests per minute per provider (0 = unlimited)"},
};
#undef S
#define N_OPTS (sizeof opts / sizeof opts[0])

void srv_config_default(srv_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->listen, sizeof c->listen, "127.0.0.1:8787");
    c->max_body_bytes = 10u << 20;
    c->header_memory = 32u << 10;
    c->conn_timeout = 15;
    c->max_conns = 1024;
    snprintf(c->audit_db, sizeof c->audit_db, "loki-audit.db");
    snprintf(c->access_log, sizeof c->access_log, "-");
    c->cache_entries = 10000;
    c->cache_bytes = 256u << 20;
    c->cache_ttl = 3600;
    c->shutdown_timeout = 30;
    c->batch_max = 100;
    c->max_conns_ip = 256;
    c->request_timeout = 60;
    snprintf(c->proxy_block, sizeof c->proxy_block, "critical");
    c->proxy_stream_window = 256;
    c->provider_max_attempts = 3;
    c->provider_retry_base_ms = 200;
    c->provider_timeout = 600;
    c->provider_connect_timeout = 10;
    c->provider_breaker_open_ms = 10000;
    c->provider_breaker_min_calls = 10;
    c->provider_breaker_failure_rate = 0.5;
    c->provider_breaker_consecutive = 5;
}

void srv_config_usage(void)
{
    fprintf(stdout, "usage: loki serve [--config FILE] [--listen HOST:PORT] [options]\n"
                    "Settings come from (later wins): defaults, the config file (key = value\n"
                    "lines), LOKI_* environment variables, then flags.\n\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", opts[i].name);
        for (char *p = flag + 2; *p; p++)
            if (*p == '_')
                *p = '-';
        fprintf(stdout, "  %-20s %-22s %s\n", flag, opts[i].env, opts[i].help);
    }
    fprintf(stdout, "  %-20s %-22s %s\n", "--config", "LOKI_CONFIG", "config file");
}

static int parse_size(const char *v, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (end == v || errno || *v == '-')
        return -1;
    unsigned long long mul = 1;
    switch (tolower((unsigned char)*end)) {
    case 'k': mul = 1ull << 10; end++; break;
    case 'm': mul = 1ull << 20; end++; break;
    case 'g': mul = 1ull << 30; end++; break;
    default: break;
    }
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end || n > SIZE_MAX / mul)
        return -1;
    *out = (size_t)(n * mul);
    return 0;
}

static int set_opt(srv_config *c, const opt *o, const char *v, const char *where)
{
    char *dst = (char *)c + o->off;
    char *end;
    switch (o->type) {
    case T_STR:
        if (strlen(v) >= o->size)
            goto bad;
        memcpy(dst, v, strlen(v) + 1);
        return 0;
    case T_UINT: {
        errno = 0;
        unsigned long n = strtoul(v, &end, 10);
        if (end == v || *end || errno || n > 1000000 || *v == '-')
            goto bad;
        *(unsigned *)(void *)dst = (unsigned)n;
        return 0;
    }
    case T_SIZE:
        if (parse_size(v, (size_t *)(void *)dst) != 0)
            goto bad;
        return 0;
    case T_DOUBLE: {
        errno = 0;
        double d = strtod(v, &end);
        if (end == v || *end || errno || d < 0)
            goto bad;
        *(double *)(void *)dst = d;
        return 0;
    }
    case T_BOOL:
        if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on"))
            *(int *)(void *)dst = 1;
        else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off"))
            *(int *)(void *)dst = 0;
        else
            goto bad;
        return 0;
    }
bad:
    fprintf(stderr, "loki serve: %s: invalid value for %s: '%s'\n", where, o->name, v);
    return -1;
}

static const opt *find_key(const char *key)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (strcmp(opts[i].name, key) == 0)
            return &opts[i];
    return NULL;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int load_file(srv_config *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "loki serve: cannot open config %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[8192], where[1200];
    unsigned ln = 0;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        ln++;
        char *s = trim(line);
        if (!*s || *s == '#' || *s == ';')
            continue;
        char *eq = strchr(s, '=');
        snprintf(where, sizeof where, "%s:%u", path, ln);
        if (!eq) {
            fprintf(stderr, "loki serve: %s: expected key = value\n", where);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        size_t vl = strlen(val);
        if (vl >= 2 && (val[0] == '"' || val[0] == '\'') && val[vl - 1] == val[0]) {
            val[vl - 1] = '\0';
            val++;
        }
        const opt *o = find_key(key);
        if (!o) {
            fprintf(stderr, "loki serve: %s: unknown setting '%s'\n", where, key);
            rc = -1;
            break;
        }
        rc = set_opt(c, o, val, where);
    }
    fclose(f);
    return rc;
}

/* Matches argv[*i] against --name / --name=value; returns the value or NULL. */
static const char *flag_value(const opt *o, int argc, char **argv, int *i, int *missing)
{
    char flag[64];
    snprintf(flag, sizeof flag, "--%s", o->name);
    for (char *p = flag + 2; *p; p++)
        if (*p == '_')
            *p = '-';
    size_t n = strlen(flag);
    const char *a = argv[*i];
    if (strncmp(a, flag, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (o->type == T_BOOL && (*i + 1 >= argc || strncmp(argv[*i + 1], "--", 2) == 0))
        return "true";
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

int srv_config_load(srv_config *c, int argc, char **argv)
{
    const char *file = getenv("LOKI_CONFIG");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            srv_config_usage();
            return 1;
        }
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            file = argv[++i];
        else if (!strncmp(argv[i], "--config=", 9))
            file = argv[i] + 9;
    }
    if (file && *file && load_file(c, file) != 0)
        return -1;
    for (size_t k = 0; k < N_OPTS; k++) {
        const char *v = getenv(opts[k].env);
        if (v && set_opt(c, &opts[k], v, opts[k].env) != 0)
            return -1;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config")) {
            i++;
            continue;
        }
        if (!strncmp(argv[i], "--config=", 9))
            continue;
        int missing = 0, done = 0;
        for (size_t k = 0; k < N_OPTS && !done; k++) {
            const char *v = flag_value(&opts[k], argc, argv, &i, &missing);
            if (missing) {
                fprintf(stderr, "loki serve: option %s needs a value\n", argv[i]);
                return -1;
            }
            if (v) {
                if (set_opt(c, &opts[k], v, "command line") != 0)
                    return -1;
                done = 1;
            }
        }
        if (!done) {
            fprintf(stderr, "loki serve: unknown option '%s' (see loki serve --help)\n", argv[i]);
            return -1;
        }
    }
    if (c->rate_limit > 0 && c->rate_burst <= 0)
        c->rate_burst = c->rate_limit < 1 ? 1 : c->rate_limit;
    if (c->max_body_bytes == 0) {
        fprintf(stderr, "loki serve: max_body_bytes must be > 0\n");
        return -1;
    }
    return 0;
}
