/* SPDX-License-Identifier: MIT */
/*
 * Token buckets shared by every instance through Redis: one hash per client key, refilled and
 * drawn from by a Lua script that Redis runs atomically, so a client's limit holds no matter
 * which instance it reaches. Time is Redis' own clock (TIME inside the script) so instances
 * with skewed clocks still agree. A failing Redis never fails a request: the caller falls back
 * to its local bucket, a breaker stops us from paying a connect timeout per request, and the
 * state is reported (degraded + reason) for /api/health and /metrics.
 */
#include <errno.h>
#include <math.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "loki/resilience.h"
#include "server.h"

/*
 * KEYS[1] bucket; ARGV rate (tokens/s), burst, now (seconds; < 0 = Redis TIME).
 * Returns {allowed (0/1), retry_after seconds as a string} (Lua numbers become integers on the
 * way out, so the fraction travels as text). The key expires once the bucket would be full
 * again: a full bucket is the same as no bucket.
 */
static const char script[] =
    "local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "if now < 0 then\n"
    "  local t = redis.call('TIME')\n"
    "  now = tonumber(t[1]) + tonumber(t[2]) / 1000000\n"
    "end\n"
    "local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')\n"
    "local tokens, last = tonumber(b[1]), tonumber(b[2])\n"
    "if not tokens or not last then tokens, last = burst, now end\n"
    "if now > last then\n"
    "  tokens = math.min(burst, tokens + (now - last) * rate)\n"
    "  last = now\n"
    "end\n"
    "local allowed, retry = 0, 0\n"
    "if tokens >= 1 then\n"
    "  tokens = tokens - 1\n"
    "  allowed = 1\n"
    "elseif rate > 0 then\n"
    "  retry = (1 - tokens) / rate\n"
    "else\n"
    "  retry = 3600\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(last))\n"
    "local ttl = 1000\n"
    "if rate > 0 then ttl = math.ceil((burst - tokens) / rate * 1000) + 1000 end\n"
    "redis.call('PEXPIRE', KEYS[1], ttl)\n"
    "return {allowed, tostring(retry)}\n";

#define POOL_MAX 16
#define KEY_PREFIX "loki:rl:"

struct rl_redis {
    char *host, *path, *password; /* path: unix socket (host NULL) */
    int port, db;
    unsigned connect_ms, io_ms;
    double rate, burst;
    char sha[41];
    pthread_mutex_t mu; /* guards the pool, the breaker and the reason */
    pthread_cond_t cv;
    redisContext *idle[POOL_MAX];
    unsigned n_idle, n_open, pool_size;
    loki_breaker *breaker;
    char reason[256];
    _Atomic int degraded;
    _Atomic uint64_t allowed, limited, errors, skipped, evals;
};

/* ---- URL ------------------------------------------------------------------------------- */

static int parse_int(const char *p, size_t n, long lo, long hi, int *out)
{
    char tmp[16];
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    char *end;
    long v = strtol(tmp, &end, 10);
    if (*end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* Same URL forms as the verdict cache: redis://[[user]:pw@]host[:port][/db], unix:///path
 * [?db=N] (also redis+unix://), or a bare absolute socket path. */
static int parse_url(rl_redis *r, const char *url)
{
    const char *p = url;
    if (!strncmp(p, "unix://", 7) || !strncmp(p, "redis+unix://", 13) || p[0] == '/') {
        p = p[0] == '/' ? p : strstr(p, "://") + 3;
        const char *q = strchr(p, '?');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (n == 0 || p[0] != '/')
            return -1;
        if (q && (strncmp(q + 1, "db=", 3) || parse_int(q + 4, strlen(q + 4), 0, 1000000, &r->db)))
            return -1;
        r->path = loki__strndup(p, n);
        return r->path ? 0 : -1;
    }
    if (strncmp(p, "redis://", 8) != 0)
        return -1;
    p += 8;
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        r->password = loki__strndup(pw, (size_t)(at - pw));
        if (!r->password)
            return -1;
        p = at + 1;
    }
    const char *slash = strchr(p, '/');
    size_t hl = slash ? (size_t)(slash - p) : strlen(p);
    const char *colon = memchr(p, ':', hl);
    size_t hostlen = colon ? (size_t)(colon - p) : hl;
    r->port = 6379;
    if (colon && parse_int(colon + 1, hl - hostlen - 1, 1, 65535, &r->port))
        return -1;
    if (slash && slash[1] && parse_int(slash + 1, strlen(slash + 1), 0, 1000000, &r->db))
        return -1;
    r->host = hostlen ? loki__strndup(p, hostlen) : loki__strdup("127.0.0.1");
    return r->host ? 0 : -1;
}

/* ---- connections ----------------------------------------------------------------------- */

static struct timeval ms_tv(unsigned ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    return tv;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* reason = "redis: <what><detail>" */
static void set_reason(rl_redis *r, const char *what, const char *detail)
{
    pthread_mutex_lock(&r->mu);
    snprintf(r->reason, sizeof r->reason, "redis: %s%s", what, detail);
    pthread_mutex_unlock(&r->mu);
}

static int cmd_ok(redisContext *c, int argc, const char **argv)
{
    redisReply *rep = redisCommandArgv(c, argc, argv, NULL);
    int ok = rep && rep->type != REDIS_REPLY_ERROR;
    if (rep)
        freeReplyObject(rep);
    return ok;
}

static redisContext *conn_open(rl_redis *r)
{
    struct timeval ct = ms_tv(r->connect_ms);
    redisContext *c = r->path ? redisConnectUnixWithTimeout(r->path, ct)
                              : redisConnectWithTimeout(r->host, r->port, ct);
    if (!c) {
        set_reason(r, "", "out of memory");
        return NULL;
    }
    if (c->err) {
        set_reason(r, "connect: ", c->errstr);
        goto fail;
    }
    if (redisSetTimeout(c, ms_tv(r->io_ms)) != REDIS_OK)
        goto fail;
    if (r->password && !cmd_ok(c, 2, (const char *[]){"AUTH", r->password})) {
        set_reason(r, "", "AUTH failed");
        goto fail;
    }
    if (r->db) {
        char db[16];
        snprintf(db, sizeof db, "%d", r->db);
        if (!cmd_ok(c, 2, (const char *[]){"SELECT", db})) {
            set_reason(r, "", "SELECT failed");
            goto fail;
        }
    }
    return c;
fail:
    redisFree(c);
    return NULL;
}

/* An idle connection, a new one while under pool_size, or NULL after waiting one I/O timeout. */
static redisContext *conn_get(rl_redis *r)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += (long)r->io_ms * 1000000L;
    deadline.tv_sec += deadline.tv_nsec / 1000000000L;
    deadline.tv_nsec %= 1000000000L;
    redisContext *c = NULL;
    int make = 0;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        if (r->n_idle) {
            c = r->idle[--r->n_idle];
            break;
        }
        if (r->n_open < r->pool_size) {
            r->n_open++;
            make = 1;
            break;
        }
        if (pthread_cond_timedwait(&r->cv, &r->mu, &deadline) != 0)
            break;
    }
    pthread_mutex_unlock(&r->mu);
    if (!make) {
        if (!c)
            set_reason(r, "", "connection pool exhausted");
        return c;
    }
    c = conn_open(r); /* outside the lock: a connect can take connect_ms */
    if (!c) {
        pthread_mutex_lock(&r->mu);
        r->n_open--;
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
    }
    return c;
}

/* Returns a connection to the pool; one that saw an error is closed (remade on next use). */
static void conn_put(rl_redis *r, redisContext *c, int broken)
{
    pthread_mutex_lock(&r->mu);
    if (broken || r->n_idle == POOL_MAX) {
        redisFree(c);
        r->n_open--;
    } else {
        r->idle[r->n_idle++] = c;
    }
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* ---- the limiter ----------------------------------------------------------------------- */

rl_redis *rl_redis_create(const char *url, double rate, double burst, unsigned pool_size, char *err,
                          size_t errsz)
{
    rl_redis *r = loki__calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->rate = rate;
    r->burst = burst < 1 ? 1 : burst;
    r->connect_ms = 200;
    r->io_ms = 100;
    r->pool_size = pool_size < 2 ? 2 : pool_size > POOL_MAX ? POOL_MAX : pool_size;
    if (parse_url(r, url) != 0) {
        snprintf(err, errsz,
                 "bad Redis URL '%.200s' (want redis://[:password@]host[:port][/db] "
                 "or unix:///path)",
                 url);
        goto fail;
    }
    /* A dead Redis is skipped for a second after two failures in a row, then probed. */
    loki_breaker_config bc;
    loki_breaker_config_default(&bc);
    bc.consecutive_failures = 2;
    bc.open_ms = 1000;
    bc.half_open_probes = 1;
    bc.success_threshold = 1;
    if (loki_breaker_create("ratelimit-redis", &bc, &r->breaker) != LOKI_OK) {
        snprintf(err, errsz, "out of memory");
        goto fail;
    }
    uint8_t d[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)script, strlen(script), d);
    srv_hex(d, sizeof d, r->sha);
    return r;
fail:
    rl_redis_destroy(r);
    return NULL;
}

void rl_redis_destroy(rl_redis *r)
{
    if (!r)
        return;
    for (unsigned i = 0; i < r->n_idle; i++)
        redisFree(r->idle[i]);
    loki_breaker_destroy(r->breaker);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r->host);
    free(r->path);
    if (r->password)
        explicit_bzero(r->password, strlen(r->password));
    free(r->password);
    free(r);
}

/* EVALSHA, and EVAL when this Redis has not seen the script yet (restart, SCRIPT FLUSH, a
 * failover to a replica); EVAL also caches it for the next EVALSHA. */
static redisReply *run_script(rl_redis *r, redisContext *c, const char *key, const char *now)
{
    char rate[32], burst[32];
    snprintf(rate, sizeof rate, "%.17g", r->rate);
    snprintf(burst, sizeof burst, "%.17g", r->burst);
    const char *argv[7] = {"EVALSHA", r->sha, "1", key, rate, burst, now};
    redisReply *rep = redisCommandArgv(c, 7, argv, NULL);
    if (rep && rep->type == REDIS_REPLY_ERROR && !strncmp(rep->str, "NOSCRIPT", 8)) {
        freeReplyObject(rep);
        argv[0] = "EVAL";
        argv[1] = script;
        atomic_fetch_add_explicit(&r->evals, 1, memory_order_relaxed);
        rep = redisCommandArgv(c, 7, argv, NULL);
    }
    return rep;
}

/* Reads {allowed, "retry"}; returns 1/0, or -1 when the reply is not what the script returns. */
static int read_reply(const redisReply *rep, double *retry_after)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_INTEGER)
        return -1;
    const redisReply *ra = rep->element[1];
    double retry = 0;
    if (ra->type == REDIS_REPLY_STRING)
        retry = strtod(ra->str, NULL);
    if (rep->element[0]->integer)
        return 1;
    if (retry_after)
        *retry_after = isfinite(retry) && retry > 0 ? retry : 1;
    return 0;
}

static void record(rl_redis *r, int ok)
{
    pthread_mutex_lock(&r->mu);
    loki_breaker_record(r->breaker, ok, mono_ms());
    if (ok)
        r->reason[0] = '\0';
    pthread_mutex_unlock(&r->mu);
    atomic_store(&r->degraded, !ok);
    if (!ok)
        atomic_fetch_add_explicit(&r->errors, 1, memory_order_relaxed);
}

int rl_redis_take(rl_redis *r, const char *client, double now, double *retry_after)
{
    int64_t wait;
    pthread_mutex_lock(&r->mu);
    loki_status st = loki_breaker_allow(r->breaker, mono_ms(), &wait);
    pthread_mutex_unlock(&r->mu);
    if (st != LOKI_OK) {
        atomic_fetch_add_explicit(&r->skipped, 1, memory_order_relaxed);
        return -1;
    }
    redisContext *c = conn_get(r);
    if (!c) {
        record(r, 0);
        return -1;
    }
    char key[sizeof KEY_PREFIX + 80], nowbuf[32];
    snprintf(key, sizeof key, KEY_PREFIX "%s", client);
    snprintf(nowbuf, sizeof nowbuf, "%.6f", now);
    redisReply *rep = run_script(r, c, key, nowbuf);
    int res = -1, broken = 1;
    if (!rep) {
        set_reason(r, "", c->errstr[0] ? c->errstr : "no reply");
    } else if (rep->type == REDIS_REPLY_ERROR) {
        set_reason(r, "script: ", rep->str);
        broken = 0;
    } else if ((res = read_reply(rep, retry_after)) < 0) {
        set_reason(r, "", "unexpected script reply");
        broken = 0;
    } else {
        broken = 0;
    }
    if (rep)
        freeReplyObject(rep);
    conn_put(r, c, broken);
    record(r, res >= 0);
    if (res > 0)
        atomic_fetch_add_explicit(&r->allowed, 1, memory_order_relaxed);
    else if (res == 0)
        atomic_fetch_add_explicit(&r->limited, 1, memory_order_relaxed);
    return res;
}

void rl_redis_get_stats(rl_redis *r, rl_redis_stats *st)
{
    memset(st, 0, sizeof *st);
    loki_breaker_stats bs;
    pthread_mutex_lock(&r->mu);
    loki_breaker_stats_get(r->breaker, mono_ms(), &bs);
    snprintf(st->reason, sizeof st->reason, "%s", r->reason);
    pthread_mutex_unlock(&r->mu);
    st->breaker = loki_circuit_state_name(bs.state);
    st->degraded = atomic_load(&r->degraded) || bs.state != LOKI_CIRCUIT_CLOSED;
    if (st->degraded && !st->reason[0])
        snprintf(st->reason, sizeof st->reason, "redis: unavailable");
    st->allowed = atomic_load(&r->allowed);
    st->limited = atomic_load(&r->limited);
    st->errors = atomic_load(&r->errors);
    st->skipped = atomic_load(&r->skipped);
    st->evals = atomic_load(&r->evals);
}
