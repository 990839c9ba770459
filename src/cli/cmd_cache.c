/* SPDX-License-Identifier: MIT */
/*
 * `loki cache warm DIR`: precomputes the verdict of every file under DIR into the shared
 * (Redis) verdict cache, so the servers answer those documents from the cache. It checks
 * through the server's own srv_validate(): the key (text, type, sorted modules, options,
 * ruleset fingerprint, engine version, generation 0) and the stored value format are the
 * server's by construction, not by a copy that could drift. Settings come from the server's
 * configuration (--config FILE / LOKI_CONFIG, LOKI_* variables), then the flags here.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../server/server.h"
#include "cli.h"
#include "loki/cache.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: loki cache warm DIR [options]\n"
               "Checks every file under DIR (recursively; dot-files skipped) and stores the\n"
               "verdicts in the shared Redis verdict cache, with the keys `loki serve` uses: a\n"
               "warmed document is a cache hit on every instance (for requests with the same\n"
               "document_type and modules, default options, and before any /api/cache/clear).\n"
               "\n"
               "  --redis URL        the cache's Redis (default: redis_url of the config)\n"
               "  --config FILE      the server's config file (also LOKI_CONFIG)\n"
               "  --rules DIR        rule packs (must be the servers' packs)\n"
               "  --type T           document_type of the requests to serve (default: none)\n"
               "  --modules a,b      modules of the requests to serve (default: all)\n"
               "  --jobs N           parallel checks (default: one per CPU)\n"
               "  --quiet            print only the summary\n");
}

typedef struct files {
    char **p;
    size_t n, cap;
} files;

static int add_file(files *fl, const char *path)
{
    if (fl->n == fl->cap) {
        size_t cap = fl->cap ? fl->cap * 2 : 64;
        char **np = realloc(fl->p, cap * sizeof *np);
        if (!np)
            return -1;
        fl->p = np;
        fl->cap = cap;
    }
    fl->p[fl->n] = strdup(path);
    if (!fl->p[fl->n])
        return -1;
    fl->n++;
    return 0;
}

/* Collects regular files under dir (depth-limited so a symlink loop ends). */
static int walk(files *fl, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "loki cache warm: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path)
            continue;
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode) && depth < 32)
            rc = walk(fl, path, depth + 1);
        else if (S_ISREG(st.st_mode))
            rc = add_file(fl, path);
    }
    closedir(d);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct warm {
    srv *s;
    const files *fl;
    vreq proto; /* type and modules; text filled per file */
    int quiet;
    _Atomic size_t next;
    _Atomic size_t computed, present, failed;
    pthread_mutex_t out;
} warm;

static void warm_one(warm *w, const char *path)
{
    char err[256];
    char *text = NULL;
    size_t len = 0;
    vres r;
    memset(&r, 0, sizeof r);
    if (cli_read_file(path, w->s->cfg.max_body_bytes, &text, &len, err, sizeof err) != 0) {
        r.status = 413;
        snprintf(r.msg, sizeof r.msg, "%s", err);
    } else {
        vreq q = w->proto;
        q.text = text;
        q.len = len;
        srv_validate(w->s, &q, &r);
    }
    if (r.status == 200)
        atomic_fetch_add(r.cache_hit ? &w->present : &w->computed, 1);
    else
        atomic_fetch_add(&w->failed, 1);
    if (!w->quiet || r.status != 200) {
        pthread_mutex_lock(&w->out);
        if (r.status == 200)
            printf("%-8s %-8s %s\n", r.cache_hit ? "present" : "stored", loki_risk_name(r.sum.risk),
                   path);
        else
            fprintf(stderr, "loki cache warm: %s: %s\n", path, r.msg);
        pthread_mutex_unlock(&w->out);
    }
    free(r.json);
    free(text);
}

static void *warm_worker(void *arg)
{
    warm *w = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&w->next, 1);
        if (i >= w->fl->n)
            return NULL;
        warm_one(w, w->fl->p[i]);
    }
}

/* The cache as the server's (same prefix and TTL), Redis only: a value that could not reach
 * Redis would be lost with this process, so the memory tier is no near cache here. */
static int make_cache(srv *s)
{
    loki_cache_config cc;
    loki_cache_config_default(&cc);
    cc.default_ttl_ms = (uint64_t)s->cfg.cache_ttl * 1000;
    cc.max_value_bytes = s->cfg.max_body_bytes * 8 > cc.max_value_bytes ? s->cfg.max_body_bytes * 8
                                                                        : cc.max_value_bytes;
    cc.redis_url = s->cfg.redis_url;
    cc.redis_near_cache = 0;
    cc.breaker_failures = 1;
    cc.redis_io_timeout_ms = 2000;
    loki_error err;
    memset(&err, 0, sizeof err);
    loki_status st = loki_cache_create(&cc, &s->cache, &err);
    if (st != LOKI_OK) {
        cli_print_error("loki cache warm: redis: ", &err, st);
        return -1;
    }
    /* Fail now, not after checking a thousand files into a memory tier that dies with us. */
    loki_cache_set(s->cache, "warm-probe", "probe", 5, "1", 1, 10000);
    loki_cache_stats cs;
    loki_cache_stats_get(s->cache, &cs);
    if (cs.errors) {
        fprintf(stderr, "loki cache warm: Redis at %s is not reachable\n", s->cfg.redis_url);
        return -1;
    }
    return 0;
}

typedef struct warm_args {
    const char *dir, *config, *redis, *rules, *type, *modules;
    unsigned jobs;
    int quiet;
} warm_args;

static int parse_args(int argc, char **argv, warm_args *a)
{
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        char *end;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 1;
        } else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
            a->quiet = 1;
        } else if ((v = cli_optval(argc, argv, &i, "--redis", &missing))) {
            a->redis = v;
        } else if ((v = cli_optval(argc, argv, &i, "--config", &missing))) {
            a->config = v;
        } else if ((v = cli_optval(argc, argv, &i, "--rules", &missing))) {
            a->rules = v;
        } else if ((v = cli_optval(argc, argv, &i, "--type", &missing))) {
            a->type = v;
        } else if ((v = cli_optval(argc, argv, &i, "--modules", &missing))) {
            a->modules = v;
        } else if ((v = cli_optval(argc, argv, &i, "--jobs", &missing))) {
            unsigned long j = strtoul(v, &end, 10);
            if (*end || j < 1 || j > 64) {
                fprintf(stderr, "loki cache warm: --jobs: expected 1 to 64, got '%s'\n", v);
                return -1;
            }
            a->jobs = (unsigned)j;
        } else if (missing) {
            fprintf(stderr, "loki cache warm: option %s needs a value\n", argv[i]);
            return -1;
        } else if (argv[i][0] == '-' || a->dir) {
            fprintf(stderr, "loki cache warm: unexpected argument '%s'\n", argv[i]);
            return -1;
        } else {
            a->dir = argv[i];
        }
    }
    if (!a->dir) {
        usage(stderr);
        return -1;
    }
    return 0;
}

/* Server settings (config file, LOKI_* environment), then the flags. */
static int load_config(srv *s, const warm_args *a)
{
    srv_config_default(&s->cfg);
    char *sargv[] = {"serve", "--config", (char *)(a->config ? a->config : ""), NULL};
    if (srv_config_load(&s->cfg, a->config ? 3 : 1, sargv) != 0)
        return -1;
    if (a->redis)
        snprintf(s->cfg.redis_url, sizeof s->cfg.redis_url, "%s", a->redis);
    if (a->rules)
        snprintf(s->cfg.rules, sizeof s->cfg.rules, "%s", a->rules);
    if (!s->cfg.redis_url[0]) {
        fprintf(stderr, "loki cache warm: no Redis configured (--redis URL, redis_url in the "
                        "config, or LOKI_REDIS_URL); a memory cache would die with this "
                        "process\n");
        return -1;
    }
    return 0;
}

static void split_modules(char *list, vreq *q)
{
    char *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t && q->n_modules < SRV_MAX_MODULES;
         t = strtok_r(NULL, ",", &save))
        if (*t)
            q->modules[q->n_modules++] = t;
}

static int run_warm(srv *s, const warm_args *a, char *mods)
{
    files fl = {0};
    warm w = {.s = s, .fl = &fl, .quiet = a->quiet};
    pthread_mutex_init(&w.out, NULL);
    w.proto.doc_type = a->type;
    if (mods)
        split_modules(mods, &w.proto);
    int rc = EXIT_USAGE;
    vres r;
    memset(&r, 0, sizeof r);
    if (srv_check_modules(s, &w.proto, &r) != 0) {
        fprintf(stderr, "loki cache warm: %s\n", r.msg);
        goto out;
    }
    if (walk(&fl, a->dir, 0) != 0)
        goto out;
    qsort(fl.p, fl.n, sizeof *fl.p, cmp_str);
    unsigned nt = a->jobs ? a->jobs : s->ncpu;
    if (nt > fl.n)
        nt = fl.n ? (unsigned)fl.n : 1;
    pthread_t th[64];
    unsigned started = 0;
    double t0 = mono();
    for (unsigned i = 1; i < nt; i++)
        if (pthread_create(&th[started], NULL, warm_worker, &w) == 0)
            started++;
    warm_worker(&w);
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    loki_cache_stats cs;
    loki_cache_stats_get(s->cache, &cs);
    printf("warmed %zu file(s) in %.2f s: %zu stored, %zu already present, %zu failed; "
           "redis errors %llu\n",
           fl.n, mono() - t0, (size_t)w.computed, (size_t)w.present, (size_t)w.failed,
           (unsigned long long)cs.errors);
    if (cs.errors)
        fprintf(stderr, "loki cache warm: Redis failed during warming; some verdicts were not "
                        "stored (run it again)\n");
    rc = w.failed || cs.errors ? EXIT_FINDINGS : EXIT_CLEAN;
out:
    for (size_t i = 0; i < fl.n; i++)
        free(fl.p[i]);
    free(fl.p);
    pthread_mutex_destroy(&w.out);
    return rc;
}

static int cache_warm(int argc, char **argv)
{
    warm_args a = {0};
    int prc = parse_args(argc, argv, &a);
    if (prc != 0)
        return prc > 0 ? EXIT_CLEAN : EXIT_USAGE;
    srv *s = calloc(1, sizeof *s);
    char *mods = a.modules ? strdup(a.modules) : NULL;
    int rc = EXIT_USAGE;
    if (!s || (a.modules && !mods)) {
        fprintf(stderr, "loki cache warm: out of memory\n");
        goto out;
    }
    s->now = mono;
    s->now_unix = mono;
    long nc = sysconf(_SC_NPROCESSORS_ONLN);
    s->ncpu = nc > 0 ? (unsigned)nc : 1;
    if (load_config(s, &a) != 0 || srv_make_engine(s, "loki cache warm: ") != 0 || make_cache(s) != 0)
        goto out;
    rc = run_warm(s, &a, mods);
out:
    if (s) {
        loki_cache_destroy(s->cache);
        loki_engine_destroy(s->eng);
    }
    free(s);
    free(mods);
    return rc;
}

int cmd_cache(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "warm"))
        return cache_warm(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return EXIT_CLEAN;
    }
    fprintf(stderr, "loki cache: unknown subcommand '%s'\n", argc >= 2 ? argv[1] : "");
    usage(stderr);
    return EXIT_USAGE;
}
