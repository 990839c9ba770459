/* SPDX-License-Identifier: MIT */
/*
 * The Redis backend (hiredis 0.14, blocking API): a small pool of connections made lazily,
 * each with a connect and a per-command timeout. A connection that fails is dropped and
 * remade on its next use; failures are reported to the caller, whose circuit breaker decides
 * when to stop trying. Values are stored as plain strings with PX expiry.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "cache_int.h"
#include "util/util.h"

typedef struct redis_backend {
    loki__cache_backend base;
    char *host; /* NULL for a unix socket */
    char *path; /* unix socket path */
    int port;
    int db;
    char *password;
    loki__redis_opts o;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    redisContext **conns;
    unsigned char *busy;
} redis_backend;

/* ---- URL parsing ---- */

static loki_status parse_db(const char *s, int *db)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 0 || v > 1000000)
        return LOKI_EINVAL;
    *db = (int)v;
    return LOKI_OK;
}

static loki_status parse_unix(redis_backend *r, const char *p)
{
    const char *q = strchr(p, '?');
    size_t n = q ? (size_t)(q - p) : strlen(p);
    if (n == 0 || p[0] != '/')
        return LOKI_EINVAL;
    if (q) {
        if (strncmp(q + 1, "db=", 3) != 0 || parse_db(q + 4, &r->db) != LOKI_OK)
            return LOKI_EINVAL;
    }
    r->path = loki__strndup(p, n);
    return r->path ? LOKI_OK : LOKI_ENOMEM;
}

static loki_status parse_tcp(redis_backend *r, const char *p)
{
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p; /* "user:pw@" or "pw@": the user is ignored */
        r->password = loki__strndup(pw, (size_t)(at - pw));
        if (!r->password)
            return LOKI_ENOMEM;
        p = at + 1;
    }
    const char *slash = strchr(p, '/');
    size_t hl = slash ? (size_t)(slash - p) : strlen(p);
    const char *hend = p + hl;
    const char *port = NULL;
    const char *h0 = p, *h1;
    if (*p == '[') { /* [ipv6]:port */
        const char *rb = memchr(p, ']', hl);
        if (!rb)
            return LOKI_EINVAL;
        h0 = p + 1;
        h1 = rb;
        if (rb + 1 < hend && rb[1] == ':')
            port = rb + 2;
    } else {
        const char *colon = memchr(p, ':', hl);
        h1 = colon ? colon : hend;
        port = colon ? colon + 1 : NULL;
    }
    r->port = 6379;
    if (port) {
        char tmp[16];
        size_t pl = (size_t)(hend - port);
        if (pl == 0 || pl >= sizeof tmp)
            return LOKI_EINVAL;
        memcpy(tmp, port, pl);
        tmp[pl] = '\0';
        char *end = NULL;
        long v = strtol(tmp, &end, 10);
        if (*end || v <= 0 || v > 65535)
            return LOKI_EINVAL;
        r->port = (int)v;
    }
    if (slash && slash[1] && parse_db(slash + 1, &r->db) != LOKI_OK)
        return LOKI_EINVAL;
    r->host = h1 > h0 ? loki__strndup(h0, (size_t)(h1 - h0)) : loki__strdup("127.0.0.1");
    return r->host ? LOKI_OK : LOKI_ENOMEM;
}

static loki_status parse_url(redis_backend *r, const char *url)
{
    if (url[0] == '/')
        return parse_unix(r, url);
    if (strncmp(url, "unix://", 7) == 0)
        return parse_unix(r, url + 7);
    if (strncmp(url, "redis+unix://", 13) == 0)
        return parse_unix(r, url + 13);
    if (strncmp(url, "redis://", 8) == 0)
        return parse_tcp(r, url + 8);
    return LOKI_EINVAL;
}

/* ---- SIGPIPE: a write to a server that died must not kill the process ---- */

typedef struct sigpipe_guard {
    int on;
    int was_pending;
    sigset_t old;
} sigpipe_guard;

static int sigpipe_pending(void)
{
    sigset_t pend;
    sigemptyset(&pend);
    return sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE) == 1;
}

static void sigpipe_block(sigpipe_guard *g, int on)
{
    g->on = on;
    if (!on)
        return;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &g->old);
    g->was_pending = sigpipe_pending();
}

static void sigpipe_restore(sigpipe_guard *g)
{
    if (!g->on)
        return;
    /* Consume a SIGPIPE our own write raised, so unblocking does not deliver it. */
    if (!g->was_pending && sigpipe_pending()) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGPIPE);
        struct timespec zero = {0, 0};
        while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* ---- the pool ---- */

static struct timeval ms_tv(unsigned ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    return tv;
}

static int simple_ok(redisContext *c, const char *fmt, const char *arg)
{
    redisReply *rep = arg ? redisCommand(c, fmt, arg) : redisCommand(c, fmt);
    int ok = rep && rep->type != REDIS_REPLY_ERROR;
    if (rep)
        freeReplyObject(rep);
    return ok;
}

static redisContext *conn_open(redis_backend *r)
{
    struct timeval ct = ms_tv(r->o.connect_timeout_ms);
    redisContext *c = r->path ? redisConnectUnixWithTimeout(r->path, ct)
                              : redisConnectWithTimeout(r->host, r->port, ct);
    if (!c)
        return NULL;
    if (c->err || redisSetTimeout(c, ms_tv(r->o.io_timeout_ms)) != REDIS_OK)
        goto fail;
    if (r->password && !simple_ok(c, "AUTH %s", r->password))
        goto fail;
    if (r->db) {
        char db[16];
        snprintf(db, sizeof db, "%d", r->db);
        if (!simple_ok(c, "SELECT %s", db))
            goto fail;
    }
    return c;
fail:
    redisFree(c);
    return NULL;
}

static int timespec_after_ms(struct timespec *ts, unsigned ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
    return 0;
}

/* Takes a pool slot (waiting at most one command's worth of time) and makes sure it has a
 * live connection. Returns the slot, or -1 with *st set. */
static int conn_acquire(redis_backend *r, loki_status *st)
{
    struct timespec deadline;
    timespec_after_ms(&deadline, r->o.connect_timeout_ms + r->o.io_timeout_ms);
    int slot = -1;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        for (unsigned i = 0; i < r->o.pool_size && slot < 0; i++)
            if (!r->busy[i])
                slot = (int)i;
        if (slot >= 0)
            break;
        if (pthread_cond_timedwait(&r->cv, &r->mu, &deadline) != 0)
            break;
    }
    if (slot >= 0)
        r->busy[slot] = 1;
    pthread_mutex_unlock(&r->mu);
    if (slot < 0) {
        *st = LOKI_ETIMEOUT;
        return -1;
    }
    if (!r->conns[slot]) {
        r->conns[slot] = conn_open(r); /* the slot is ours: no lock needed */
        if (!r->conns[slot]) {
            pthread_mutex_lock(&r->mu);
            r->busy[slot] = 0;
            pthread_cond_signal(&r->cv);
            pthread_mutex_unlock(&r->mu);
            *st = LOKI_EIO;
            return -1;
        }
    }
    return slot;
}

/* Returns the slot; a connection that saw an error is closed, to be remade on next use. */
static void conn_release(redis_backend *r, int slot, int broken)
{
    if (broken) {
        redisFree(r->conns[slot]);
        r->conns[slot] = NULL;
    }
    pthread_mutex_lock(&r->mu);
    r->busy[slot] = 0;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static loki_status ctx_status(redisContext *c)
{
    if (c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
        return LOKI_ETIMEOUT;
    return LOKI_EIO;
}

/* ---- operations ---- */

static loki_status redis_get(loki__cache_backend *b, const char *key, size_t klen, uint64_t now,
                             void **val, size_t *vlen, uint64_t *ttl_left)
{
    (void)now;
    redis_backend *r = (redis_backend *)b;
    loki_status st = LOKI_OK;
    redisReply *get = NULL, *pttl = NULL;
    int slot = conn_acquire(r, &st);
    if (slot < 0)
        return st;
    redisContext *c = r->conns[slot];
    sigpipe_guard g;
    sigpipe_block(&g, r->o.sigpipe_guard);
    /* GET and PTTL in one round trip: the near cache needs the remaining lifetime. */
    redisAppendCommand(c, "GET %b", key, klen);
    redisAppendCommand(c, "PTTL %b", key, klen);
    void *rep = NULL;
    if (redisGetReply(c, &rep) != REDIS_OK) {
        st = ctx_status(c);
        goto out;
    }
    get = rep;
    if (redisGetReply(c, &rep) != REDIS_OK) {
        st = ctx_status(c);
        goto out;
    }
    pttl = rep;
    if (get->type == REDIS_REPLY_NIL) {
        st = LOKI_ENOTFOUND;
        goto out;
    }
    if (get->type != REDIS_REPLY_STRING) {
        st = LOKI_EIO;
        goto out;
    }
    if (get->len > r->o.max_value_bytes) {
        st = LOKI_ENOTFOUND; /* someone stored more than we accept: treat as absent */
        goto out;
    }
    char *copy = loki__malloc(get->len + 1);
    if (!copy) {
        st = LOKI_ENOMEM;
        goto out;
    }
    memcpy(copy, get->str, get->len);
    copy[get->len] = '\0';
    *val = copy;
    *vlen = get->len;
    if (ttl_left)
        *ttl_left =
            pttl->type == REDIS_REPLY_INTEGER && pttl->integer > 0 ? (uint64_t)pttl->integer : 0;
out:
    sigpipe_restore(&g);
    if (get)
        freeReplyObject(get);
    if (pttl)
        freeReplyObject(pttl);
    conn_release(r, slot, st == LOKI_EIO || st == LOKI_ETIMEOUT);
    return st;
}

static loki_status redis_set(loki__cache_backend *b, const char *key, size_t klen, const void *val,
                             size_t vlen, uint64_t ttl_ms, uint64_t now)
{
    (void)now;
    redis_backend *r = (redis_backend *)b;
    loki_status st = LOKI_OK;
    int slot = conn_acquire(r, &st);
    if (slot < 0)
        return st;
    redisContext *c = r->conns[slot];
    sigpipe_guard g;
    sigpipe_block(&g, r->o.sigpipe_guard);
    redisReply *rep;
    if (ttl_ms) {
        char px[24];
        snprintf(px, sizeof px, "%llu", (unsigned long long)ttl_ms);
        rep = redisCommand(c, "SET %b %b PX %s", key, klen, val, vlen, px);
    } else {
        rep = redisCommand(c, "SET %b %b", key, klen, val, vlen);
    }
    if (!rep)
        st = ctx_status(c);
    else if (rep->type == REDIS_REPLY_ERROR)
        st = LOKI_EIO;
    sigpipe_restore(&g);
    if (rep)
        freeReplyObject(rep);
    conn_release(r, slot, st != LOKI_OK);
    return st;
}

static loki_status redis_del(loki__cache_backend *b, const char *key, size_t klen)
{
    redis_backend *r = (redis_backend *)b;
    loki_status st = LOKI_OK;
    int slot = conn_acquire(r, &st);
    if (slot < 0)
        return st;
    redisContext *c = r->conns[slot];
    sigpipe_guard g;
    sigpipe_block(&g, r->o.sigpipe_guard);
    redisReply *rep = redisCommand(c, "DEL %b", key, klen);
    if (!rep)
        st = ctx_status(c);
    else if (rep->type == REDIS_REPLY_ERROR)
        st = LOKI_EIO;
    sigpipe_restore(&g);
    if (rep)
        freeReplyObject(rep);
    conn_release(r, slot, st != LOKI_OK);
    return st;
}

static void redis_destroy(loki__cache_backend *b)
{
    redis_backend *r = (redis_backend *)b;
    if (!r)
        return;
    if (r->conns) {
        for (unsigned i = 0; i < r->o.pool_size; i++)
            if (r->conns[i])
                redisFree(r->conns[i]);
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cv);
    }
    loki__free(r->conns);
    loki__free(r->busy);
    loki__free(r->host);
    loki__free(r->path);
    loki__free(r->password);
    loki__free(r);
}

static const loki__cache_vt redis_vt = {.name = "redis",
                                        .get = redis_get,
                                        .set = redis_set,
                                        .del = redis_del,
                                        .destroy = redis_destroy};

loki_status loki__cache_redis_create(const char *url, const loki__redis_opts *o,
                                     loki__cache_backend **out, loki_error *err)
{
    *out = NULL;
    redis_backend *r = loki__calloc(1, sizeof *r);
    if (!r)
        return loki__err(err, LOKI_ENOMEM, "out of memory");
    r->base.vt = &redis_vt;
    r->o = *o;
    if (r->o.pool_size == 0)
        r->o.pool_size = 1;
    loki_status st = parse_url(r, url);
    if (st != LOKI_OK) {
        redis_destroy(&r->base);
        return st == LOKI_ENOMEM ? loki__err(err, st, "out of memory")
                                 : loki__err(err, st,
                                             "bad Redis URL (want redis://host:port/db "
                                             "or unix:///path)");
    }
    r->conns = loki__calloc(r->o.pool_size, sizeof *r->conns);
    r->busy = loki__calloc(r->o.pool_size, 1);
    if (!r->conns || !r->busy) {
        loki__free(r->conns);
        r->conns = NULL;
        redis_destroy(&r->base);
        return loki__err(err, LOKI_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    *out = &r->base;
    return LOKI_OK;
}
