/* SPDX-License-Identifier: MIT */
/*
 * Cache and profiler micro-benchmarks (medians): memory-tier hit, key building over a 10 KB
 * document, Redis hit over loopback TCP and a unix socket (a throwaway redis-server is started
 * unless --redis URL is given), and the profiler's per-scope cost and relative overhead.
 * Usage: loki-cache-bench [--redis URL] [--iters N]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "loki/cache.h"
#include "loki/obs.h"
#include "util/util.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *s, size_t n)
{
    qsort(s, n, sizeof *s, cmp_u64);
    printf("%-44s median %8.2f us   p99 %8.2f us   (n=%zu)\n", what, (double)s[n / 2] / 1e3,
           (double)s[n * 99 / 100] / 1e3, n);
}

static void bench_gets(const char *what, loki_cache *c, const char *key, size_t iters)
{
    uint64_t *s = malloc(iters * sizeof *s);
    for (size_t i = 0; i < iters; i++) {
        void *v;
        size_t n;
        uint64_t t0 = now_ns();
        loki_status st = loki_cache_get(c, "verdict", key, 64, &v, &n);
        s[i] = now_ns() - t0;
        if (st != LOKI_OK) {
            fprintf(stderr, "%s: get failed: %s\n", what, loki_strerror(st));
            exit(1);
        }
        free(v);
    }
    report(what, s, iters);
    free(s);
}

static char *verdict_json(size_t n)
{
    char *v = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        v[i] = "{\"module\":\"gdpr\",\"status\":\"PASS\"},"[i % 33];
    v[n] = '\0';
    return v;
}

static loki_cache *open_cache(const char *url)
{
    loki_cache_config cfg;
    loki_cache_config_default(&cfg);
    cfg.redis_url = url;
    cfg.redis_near_cache = 0; /* measure Redis itself */
    loki_cache *c = NULL;
    loki_error err;
    if (loki_cache_create(&cfg, &c, &err) != LOKI_OK) {
        fprintf(stderr, "cache: %s\n", err.message);
        exit(1);
    }
    return c;
}

static void bench_cache(const char *url, const char *label, size_t iters)
{
    char key[65];
    char *doc = verdict_json(10 * 1024);
    const char *mods[] = {"gdpr", "fca_consumer_duty", "eu_ai_act"};
    loki_cache_key_parts kp = {.text = doc,
                               .text_len = strlen(doc),
                               .document_type = "email",
                               .modules = mods,
                               .n_modules = 3,
                               .ruleset_fingerprint = "0123456789abcdef"};
    char *val = verdict_json(4096);
    loki_cache *c = open_cache(url);
    loki_cache_key_build(&kp, key);
    if (loki_cache_set(c, "verdict", key, 64, val, 4096, 0) != LOKI_OK) {
        fprintf(stderr, "set failed\n");
        exit(1);
    }
    char what[96];
    snprintf(what, sizeof what, "%s hit (4 KB verdict)", label);
    bench_gets(what, c, key, iters);
    if (!url) {
        uint64_t *s = malloc(iters * sizeof *s);
        for (size_t i = 0; i < iters; i++) {
            uint64_t t0 = now_ns();
            loki_cache_key_build(&kp, key);
            void *v;
            size_t n;
            loki_cache_get(c, "verdict", key, 64, &v, &n);
            s[i] = now_ns() - t0;
            free(v);
        }
        report("memory: key build (10 KB doc) + hit", s, iters);
        free(s);
    }
    loki_cache_stats st;
    loki_cache_stats_get(c, &st);
    if (st.errors)
        fprintf(stderr, "warning: %llu Redis errors\n", (unsigned long long)st.errors);
    loki_cache_destroy(c);
    free(val);
    free(doc);
}

/* ---- a throwaway redis-server ---- */

static pid_t start_redis(const char *dir, int port, char *tcp_url, char *unix_url, size_t cap)
{
    char sock[300], ports[16];
    snprintf(sock, sizeof sock, "%s/redis.sock", dir);
    snprintf(ports, sizeof ports, "%d", port);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout))
            _exit(127);
        execl("/usr/bin/redis-server", "redis-server", "--port", ports, "--bind", "127.0.0.1",
              "--unixsocket", sock, "--dir", dir, "--save", "", "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
    snprintf(tcp_url, cap, "redis://127.0.0.1:%d", port);
    snprintf(unix_url, cap, "unix://%s", sock);
    for (int i = 0; i < 300; i++) {
        struct stat sb;
        if (stat(sock, &sb) == 0)
            return pid;
        usleep(10000);
    }
    return pid;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- profiler ---- */

static volatile uint64_t sink;

/* Stand-in for a profiled phase: ~50 µs of arithmetic (a 10 KB check's phases are 50-500 µs). */
static void work(unsigned n)
{
    uint64_t x = sink;
    for (unsigned i = 0; i < n; i++)
        x = x * 6364136223846793005ull + 1442695040888963407ull;
    sink = x;
}

static void bench_profiler(void)
{
    loki_profiler *p = NULL;
    loki_profiler_create(NULL, &p);
    int op = loki_profiler_op(p, "phase");
    enum { SCOPES = 2000000 };
    uint64_t t0 = now_ns();
    for (int i = 0; i < SCOPES; i++) {
        loki_prof_scope s = loki_prof_begin(p, op);
        loki_prof_end(&s);
    }
    double per_scope = (double)(now_ns() - t0) / SCOPES;
    printf("%-44s %8.1f ns per begin/end pair\n", "profiler: scope cost", per_scope);

    /* Relative overhead on 50 µs phases: interleaved rounds, the fastest of each (the least
     * disturbed by other load on the machine). */
    enum { ROUNDS = 201, PER = 50 };
    unsigned n = 1024;
    uint64_t a0 = now_ns();
    work(n);
    uint64_t t_small = now_ns() - a0;
    n = (unsigned)((double)n * 50000.0 / (double)(t_small ? t_small : 1)); /* ~50 us */
    uint64_t plain[ROUNDS], prof[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        uint64_t a = now_ns();
        for (int i = 0; i < PER; i++)
            work(n);
        plain[r] = now_ns() - a;
        a = now_ns();
        for (int i = 0; i < PER; i++) {
            loki_prof_scope s = loki_prof_begin(p, op);
            work(n);
            loki_prof_end(&s);
        }
        prof[r] = now_ns() - a;
    }
    qsort(plain, ROUNDS, sizeof *plain, cmp_u64);
    qsort(prof, ROUNDS, sizeof *prof, cmp_u64);
    double phase_us = (double)plain[0] / PER / 1e3;
    printf("%-44s %8.3f %% on %.0f us phases (analytic: %.4f %%)\n", "profiler: overhead",
           100.0 * ((double)prof[0] - (double)plain[0]) / (double)plain[0], phase_us,
           100.0 * per_scope / (phase_us * 1e3));
    loki_profiler_destroy(p);
}

int main(int argc, char **argv)
{
    const char *url = NULL;
    size_t iters = 100000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--redis") == 0 && i + 1 < argc)
            url = argv[++i];
        else if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc)
            iters = strtoul(argv[++i], NULL, 10);
    }
    if (iters < 100)
        iters = 100;
    bench_cache(NULL, "memory:", iters);
    if (url) {
        bench_cache(url, "redis:", iters / 4);
    } else if (access("/usr/bin/redis-server", X_OK) == 0) {
        char dir[] = "/tmp/loki-bench-XXXXXX";
        char tcp[400], unx[400];
        if (mkdtemp(dir)) {
            pid_t pid = start_redis(dir, free_port(), tcp, unx, sizeof tcp);
            bench_cache(tcp, "redis tcp loopback:", iters / 4);
            bench_cache(unx, "redis unix socket:", iters / 4);
            kill(pid, SIGTERM);
            waitpid(pid, NULL, 0);
            char sock[300];
            snprintf(sock, sizeof sock, "%s/redis.sock", dir);
            unlink(sock);
            rmdir(dir);
        }
    }
    bench_profiler();
    return 0;
}
