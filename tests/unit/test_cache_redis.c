/* SPDX-License-Identifier: MIT */
/* The Redis tier against a real redis-server that each test starts on a temporary unix socket
 * or TCP port and stops: basic operations, the near cache, single-flight across threads, and
 * Redis killed mid-run (memory serves, breaker open in stats) then restarted (used again). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "loki/cache.h"

typedef struct server {
    pid_t pid;
    char dir[256];
    char sock[300];
    int port; /* 0: unix socket */
    char url[340];
} server;

static const char *redis_bin(void)
{
    const char *b = getenv("LOKI_REDIS_SERVER");
    return b && *b ? b : "/usr/bin/redis-server";
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static redisContext *direct(const server *s)
{
    struct timeval tv = {1, 0};
    return s->port ? redisConnectWithTimeout("127.0.0.1", s->port, tv)
                   : redisConnectUnixWithTimeout(s->sock, tv);
}

static int ping(const server *s)
{
    redisContext *c = direct(s);
    int ok = 0;
    if (c && !c->err) {
        redisReply *r = redisCommand(c, "PING");
        ok = r && r->type == REDIS_REPLY_STATUS;
        if (r)
            freeReplyObject(r);
    }
    if (c)
        redisFree(c);
    return ok;
}

/* Starts redis-server with no persistence, in the foreground, and waits until it answers. */
static void server_start(server *s)
{
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        const char *argv[] = {redis_bin(), "--port",       port,    "--bind",
                              "127.0.0.1", "--unixsocket", s->sock, "--dir",
                              s->dir,      "--save",       "",      "--appendonly",
                              "no",        "--daemonize",  "no",    NULL};
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    s->pid = pid;
    for (int i = 0; i < 500; i++) {
        if (ping(s))
            return;
        usleep(10000);
    }
    fail_msg("redis-server did not start");
}

static void server_kill(server *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
    unlink(s->sock);
}

static void server_init(server *s, int tcp)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "/tmp/loki-redis-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    snprintf(s->sock, sizeof s->sock, "%s/redis.sock", s->dir);
    if (tcp) {
        s->port = free_port();
        snprintf(s->url, sizeof s->url, "redis://127.0.0.1:%d/0", s->port);
    } else {
        snprintf(s->url, sizeof s->url, "unix://%s", s->sock);
    }
    server_start(s);
}

static void server_done(server *s)
{
    server_kill(s);
    rmdir(s->dir);
}

typedef struct fake_clock {
    uint64_t now;
} fake_clock;

static uint64_t fake_now(void *ud)
{
    return __atomic_load_n(&((fake_clock *)ud)->now, __ATOMIC_RELAXED);
}

static loki_cache *make(const server *s, int near, fake_clock *clk)
{
    loki_cache_config cfg;
    loki_cache_config_default(&cfg);
    cfg.redis_url = s->url;
    cfg.redis_near_cache = near;
    cfg.breaker_failures = 3;
    cfg.breaker_open_ms = 1000;
    cfg.breaker_close_successes = 2;
    if (clk) {
        cfg.clock = fake_now;
        cfg.clock_ud = clk;
    }
    loki_cache *c = NULL;
    loki_error err;
    assert_int_equal(loki_cache_create(&cfg, &c, &err), LOKI_OK);
    return c;
}

static int has(loki_cache *c, const char *k, const char *want)
{
    void *v = NULL;
    size_t n = 0;
    loki_status st = loki_cache_get(c, "r", k, strlen(k), &v, &n);
    if (st == LOKI_ENOTFOUND)
        return 0;
    assert_int_equal(st, LOKI_OK);
    if (want) {
        assert_int_equal(n, strlen(want));
        assert_memory_equal(v, want, n);
    }
    free(v);
    return 1;
}

static void put(loki_cache *c, const char *k, const char *v)
{
    assert_int_equal(loki_cache_set(c, "r", k, strlen(k), v, strlen(v), 0), LOKI_OK);
}

/* What Redis itself holds under the cache's full key ("loki:r:<k>"); -2 PTTL when absent. */
static long long redis_pttl(const server *s, const char *k, char *val, size_t cap)
{
    redisContext *c = direct(s);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    redisReply *r = redisCommand(c, "GET loki:r:%s", k);
    assert_non_null(r);
    if (val && r->type == REDIS_REPLY_STRING)
        snprintf(val, cap, "%.*s", (int)r->len, r->str);
    freeReplyObject(r);
    r = redisCommand(c, "PTTL loki:r:%s", k);
    long long ttl = r->integer;
    freeReplyObject(r);
    redisFree(c);
    return ttl;
}

static void basic_ops(server *s)
{
    loki_cache *c = make(s, 0, NULL);
    put(c, "k1", "hello");
    char v[64] = "";
    long long ttl = redis_pttl(s, "k1", v, sizeof v);
    assert_string_equal(v, "hello");
    assert_true(ttl > 3000 * 1000 && ttl <= 3960 * 1000); /* 1 h ± 10 % */
    assert_true(has(c, "k1", "hello"));
    assert_false(has(c, "nope", NULL));
    assert_int_equal(loki_cache_set(c, "r", "bin", 3, "a\0b", 3, 60000), LOKI_OK);
    void *bv;
    size_t bn;
    assert_int_equal(loki_cache_get(c, "r", "bin", 3, &bv, &bn), LOKI_OK);
    assert_int_equal(bn, 3);
    assert_memory_equal(bv, "a\0b", 3);
    free(bv);
    assert_int_equal(loki_cache_del(c, "r", "k1", 2), LOKI_OK);
    assert_false(has(c, "k1", NULL));
    assert_int_equal(redis_pttl(s, "k1", NULL, 0), -2);
    loki_cache_stats st;
    loki_cache_stats_get(c, &st);
    assert_string_equal(st.backend, "redis");
    assert_int_equal(st.breaker, LOKI_BREAKER_CLOSED);
    assert_int_equal(st.errors, 0);
    assert_int_equal(st.redis_hits, 2);
    assert_int_equal(st.memory_hits, 0);
    assert_int_equal(st.entries, 0); /* no near cache: memory untouched */
    loki_cache_destroy(c);
}

static void redis_over_tcp(void **state)
{
    (void)state;
    server s;
    server_init(&s, 1);
    basic_ops(&s);
    server_done(&s);
}

static void redis_over_unix_socket(void **state)
{
    (void)state;
    server s;
    server_init(&s, 0);
    basic_ops(&s);
    server_done(&s);
}

static void near_cache_shares_through_redis(void **state)
{
    (void)state;
    server s;
    server_init(&s, 0);
    loki_cache *a = make(&s, 1, NULL), *b = make(&s, 1, NULL);
    put(a, "shared", "from-a");
    assert_true(has(b, "shared", "from-a")); /* Redis hit in b, copied to b's memory */
    assert_true(has(b, "shared", "from-a")); /* memory hit */
    loki_cache_stats st;
    loki_cache_stats_get(b, &st);
    assert_int_equal(st.redis_hits, 1);
    assert_int_equal(st.memory_hits, 1);
    assert_int_equal(st.entries, 1);
    loki_cache_destroy(a);
    loki_cache_destroy(b);
    server_done(&s);
}

typedef struct targ {
    loki_cache *c;
    int *calls;
    loki_status st;
} targ;

static loki_status slow_compute(void *ud, void **val, size_t *len, uint64_t *ttl)
{
    (void)ttl;
    __atomic_add_fetch((int *)ud, 1, __ATOMIC_SEQ_CST);
    usleep(100000);
    *val = strdup("verdict");
    *len = 7;
    return LOKI_OK;
}

static void *gc_thread(void *arg)
{
    targ *a = arg;
    void *v = NULL;
    size_t n;
    a->st = loki_cache_get_or_compute(a->c, "r", "sf", 2, slow_compute, a->calls, &v, &n, NULL);
    if (a->st == LOKI_OK && (n != 7 || memcmp(v, "verdict", 7) != 0))
        a->st = LOKI_EINTERNAL;
    free(v);
    return NULL;
}

static void single_flight_with_redis(void **state)
{
    (void)state;
    server s;
    server_init(&s, 1);
    loki_cache *c = make(&s, 0, NULL);
    int calls = 0;
    enum { T = 8 };
    pthread_t th[T];
    targ args[T];
    for (int i = 0; i < T; i++) {
        args[i] = (targ){.c = c, .calls = &calls};
        pthread_create(&th[i], NULL, gc_thread, &args[i]);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].st, LOKI_OK);
    }
    assert_int_equal(calls, 1);
    char v[32] = "";
    redis_pttl(&s, "sf", v, sizeof v);
    assert_string_equal(v, "verdict");
    loki_cache_destroy(c);
    server_done(&s);
}

static void redis_killed_then_restarted(void **state)
{
    (void)state;
    server s;
    server_init(&s, 0);
    fake_clock clk = {10000};
    loki_cache *c = make(&s, 0, &clk);
    put(c, "before", "1");
    assert_true(has(c, "before", "1"));

    server_kill(&s);
    /* Nothing fails: misses and memory. Three failures open the breaker. */
    assert_false(has(c, "before", NULL));
    put(c, "during", "2");
    put(c, "during2", "3");
    loki_cache_stats st;
    loki_cache_stats_get(c, &st);
    assert_int_equal(st.breaker, LOKI_BREAKER_OPEN);
    assert_string_equal(st.health, "degraded");
    assert_int_equal(st.errors, 3);
    assert_true(has(c, "during", "2")); /* breaker open: straight to memory */
    assert_true(has(c, "during2", "3"));
    loki_cache_stats_get(c, &st);
    assert_int_equal(st.errors, 3);
    assert_int_equal(st.memory_hits, 2);
    assert_true(st.breaker_rejects >= 2);
    char *js = NULL;
    assert_int_equal(loki_cache_stats_json(&st, &js, NULL), LOKI_OK);
    assert_non_null(strstr(js, "\"breaker\":\"open\""));
    assert_non_null(strstr(js, "\"health\":\"degraded\""));
    free(js);
    char *pm = NULL;
    assert_int_equal(loki_cache_stats_prometheus(&st, &pm, NULL), LOKI_OK);
    assert_non_null(strstr(pm, "loki_cache_breaker_state 2\n"));
    assert_non_null(strstr(pm, "loki_cache_redis_up 0\n"));
    free(pm);

    server_start(&s);
    put(c, "while-open", "4"); /* still inside the open period: memory */
    assert_int_equal(redis_pttl(&s, "while-open", NULL, 0), -2);
    clk.now += 1000;
    put(c, "after", "5"); /* the probe: succeeds */
    loki_cache_stats_get(c, &st);
    assert_int_equal(st.breaker, LOKI_BREAKER_HALF_OPEN);
    put(c, "after2", "6"); /* second success closes it */
    loki_cache_stats_get(c, &st);
    assert_int_equal(st.breaker, LOKI_BREAKER_CLOSED);
    assert_string_equal(st.health, "ok");
    char v[16] = "";
    redis_pttl(&s, "after", v, sizeof v);
    assert_string_equal(v, "5");
    redis_pttl(&s, "after2", v, sizeof v);
    assert_string_equal(v, "6");
    uint64_t rh = st.redis_hits;
    assert_true(has(c, "after", "5"));
    loki_cache_stats_get(c, &st);
    assert_int_equal(st.redis_hits, rh + 1);
    loki_cache_destroy(c);
    server_done(&s);
}

/* With the near cache on, the values seen before the outage stay available from memory. */
static void near_cache_survives_outage(void **state)
{
    (void)state;
    server s;
    server_init(&s, 1);
    fake_clock clk = {10000};
    loki_cache *c = make(&s, 1, &clk);
    put(c, "v", "kept");
    server_kill(&s);
    for (int i = 0; i < 5; i++)
        assert_true(has(c, "v", "kept"));
    put(c, "w", "new");
    assert_true(has(c, "w", "new"));
    loki_cache_stats st;
    loki_cache_stats_get(c, &st);
    assert_int_equal(st.misses, 0);
    loki_cache_destroy(c);
    server_done(&s);
}

int main(void)
{
    if (access(redis_bin(), X_OK) != 0) {
        fprintf(stderr, "skipping: %s not found\n", redis_bin());
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(redis_over_tcp),
        cmocka_unit_test(redis_over_unix_socket),
        cmocka_unit_test(near_cache_shares_through_redis),
        cmocka_unit_test(single_flight_with_redis),
        cmocka_unit_test(redis_killed_then_restarted),
        cmocka_unit_test(near_cache_survives_outage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
