/* SPDX-License-Identifier: MIT */
/* `loki serve`: builds the engine and the server's parts, starts the HTTP daemon, waits for
 * SIGTERM/SIGINT, then shuts down gracefully: stop accepting, let in-flight requests finish
 * (up to shutdown_timeout), stop the daemon, flush the audit log. */
#include <errno.h>
#include <microhttpd.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../cli/cli.h"
#include "loki/cache.h"
#include "server.h"

struct MHD_Daemon *srv_http_start(srv *s, unsigned *port);

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int srv_make_engine(srv *s, const char *who)
{
    loki_engine_config cfg;
    loki_engine_config_default(&cfg);
    cfg.rules_path = s->cfg.rules[0] ? s->cfg.rules : cli_default_rules();
    char *cache = NULL;
    if (strcmp(s->cfg.cache_dir, "off") != 0)
        cache = s->cfg.cache_dir[0] ? strdup(s->cfg.cache_dir) : cli_cache_dir();
    cfg.cache_dir = cache;
    /* Bodies are capped first; the engine's own cap is the same number. */
    cfg.max_document_bytes = s->cfg.max_body_bytes;
    loki_error err;
    loki_status st = loki_engine_create(&cfg, &s->eng, &err);
    free(cache);
    if (st != LOKI_OK) {
        cli_print_error(who, &err, st);
        return -1;
    }
    s->fingerprint = loki_engine_fingerprint(s->eng);
    return 0;
}

static int make_cache(srv *s)
{
    loki_cache_config cc;
    loki_cache_config_default(&cc);
    cc.max_entries = s->cfg.cache_entries;
    cc.max_bytes = s->cfg.cache_bytes;
    cc.default_ttl_ms = (uint64_t)s->cfg.cache_ttl * 1000;
    cc.max_value_bytes = s->cfg.max_body_bytes * 8 > cc.max_value_bytes
                             ? s->cfg.max_body_bytes * 8
                             : cc.max_value_bytes;
    cc.redis_url = s->cfg.redis_url[0] ? s->cfg.redis_url : NULL;
    loki_error err;
    memset(&err, 0, sizeof err);
    loki_status st = loki_cache_create(&cc, &s->cache, &err);
    if (st != LOKI_OK) {
        cli_print_error("loki serve: cache: ", &err, st);
        return -1;
    }
    return 0;
}

/* Splits a comma list in place into out[]; returns the count. */
static size_t split(char *list, char **out, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        char *e = t + strlen(t);
        while (e > t && e[-1] == ' ')
            *--e = '\0';
        if (*t)
            out[n++] = t;
    }
    return n;
}

int srv_setup(srv *s)
{
    s->now = mono;
    s->now_unix = wall;
    s->started = mono();
    long nc = sysconf(_SC_NPROCESSORS_ONLN);
    s->ncpu = nc > 0 ? (unsigned)nc : 1;
    pthread_mutex_init(&s->log_lock, NULL);
    srv_json_init();
    if (srv_make_engine(s, "loki serve: ") != 0 || srv_catalog_init(s) != 0)
        return -1;
    char keys[sizeof s->cfg.api_keys];
    char *kv[SRV_MAX_KEYS];
    snprintf(keys, sizeof keys, "%s", s->cfg.api_keys);
    s->n_keys = split(keys, kv, SRV_MAX_KEYS);
    for (size_t i = 0; i < s->n_keys; i++)
        srv_sha256(kv[i], strlen(kv[i]), s->key_sha[i]);
    explicit_bzero(keys, sizeof keys);
    s->n_cors = split(s->cfg.cors_origins, s->cors, 16);
    if (s->cfg.cache_entries && make_cache(s) != 0)
        return -1;
    /* Both return NULL only when out of memory: refuse to start rather than run without the
     * configured limits or audit log. */
    if (s->cfg.rate_limit > 0 &&
        !(s->rl = ratelimit_create(s->cfg.rate_limit, s->cfg.rate_burst, 100000))) {
        fprintf(stderr, "loki serve: out of memory\n");
        return -1;
    }
    if (srv_cluster_setup(s) != 0 || srv_proxy_setup(s) != 0)
        return -1;
    if (s->cfg.audit_db[0] && strcmp(s->cfg.audit_db, "off") != 0 &&
        !(s->audit = audit_create(s->cfg.audit_db, s->fingerprint, loki_version()))) {
        fprintf(stderr, "loki serve: out of memory\n");
        return -1;
    }
    if (!strcmp(s->cfg.access_log, "-")) {
        s->access_log = stderr;
    } else if (s->cfg.access_log[0] && strcmp(s->cfg.access_log, "off") != 0) {
        s->access_log = fopen(s->cfg.access_log, "a");
        if (!s->access_log) {
            fprintf(stderr, "loki serve: cannot open access log %s: %s\n", s->cfg.access_log,
                    strerror(errno));
            return -1;
        }
        setvbuf(s->access_log, NULL, _IOLBF, 0);
    }
    return 0;
}

void srv_teardown(srv *s)
{
    srv_proxy_teardown(s);
    audit_destroy(s->audit);
    loki_cache_destroy(s->cache);
    ratelimit_destroy(s->rl);
    if (s->access_log && s->access_log != stderr)
        fclose(s->access_log);
    free(s->modules_json);
    free(s->gates_json);
    loki_engine_destroy(s->eng);
    pthread_mutex_destroy(&s->log_lock);
}

int srv_run(srv *s)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    unsigned port = 0;
    struct MHD_Daemon *d = srv_http_start(s, &port);
    if (!d)
        return EXIT_USAGE;
    srv_cluster_instance_id(s, port);
    char host[256];
    snprintf(host, sizeof host, "%s", s->cfg.listen);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = '\0';
    fprintf(stderr, "loki serve: listening on http://%s:%u (%zu modules, %u threads)\n", host,
            port, loki_engine_module_count(s->eng), s->cfg.threads ? s->cfg.threads : s->ncpu);
    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    fprintf(stderr, "loki serve: %s: draining %ld in-flight request(s)\n", strsignal(sig),
            (long)s->inflight);
    MHD_quiesce_daemon(d); /* stop accepting; open connections finish */
    double deadline = mono() + s->cfg.shutdown_timeout;
    while (s->inflight > 0 && mono() < deadline) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    long left = (long)s->inflight;
    MHD_stop_daemon(d);
    if (left)
        fprintf(stderr, "loki serve: shutdown deadline passed with %ld request(s) unfinished\n",
                left);
    fprintf(stderr, "loki serve: stopped\n");
    return left ? 1 : EXIT_CLEAN;
}

int cmd_serve(int argc, char **argv)
{
    /* Block the stop signals before any thread exists so every thread inherits the mask and
     * only sigwait() in srv_run() sees them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Allocator tuning, so RSS under steady load stays flat once the verdict cache is full
     * (bench/soak.sh: 60 s warm-up, then 300 s within ±5 % of the RSS at its end).
     * - One malloc arena. glibc gives threads their own arenas (up to 8 per CPU); a cached
     *   verdict lives in the arena of the worker that built it, and memory an eviction frees
     *   there cannot serve another arena, so each arena creeps up to its largest share of
     *   the cache. With one arena every thread reuses what evictions free.
     * - A fixed 128 KiB mmap threshold (glibc's default value; setting it turns off the
     *   dynamic adjustment). Otherwise the first free of an mmapped block raises the
     *   threshold to that block's size: the audit queue (155 KiB-1.2 MiB, built by workers,
     *   freed by the audit thread every 200 ms) then comes from the heap and leaves holes.
     * bench/soak.sh, 32 MB cache, 2 CPUs: glibc's defaults drift by up to +14 % (78-92 MB),
     * an arena per CPU by 3-7 %; one arena alone +1.5 %; both settings 64 MB within ±1.1 %,
     * same CPU time per request. MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_ and their
     * GLIBC_TUNABLES still win. */
    const char *tun = getenv("GLIBC_TUNABLES");
    if (!getenv("MALLOC_ARENA_MAX") && !(tun && strstr(tun, "malloc.arena_max")))
        mallopt(M_ARENA_MAX, 1);
    if (!getenv("MALLOC_MMAP_THRESHOLD_") && !(tun && strstr(tun, "malloc.mmap_threshold")))
        mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    srv *s = calloc(1, sizeof *s);
    if (!s) {
        fprintf(stderr, "loki serve: out of memory\n");
        return EXIT_USAGE;
    }
    srv_config_default(&s->cfg);
    int rc = srv_config_load(&s->cfg, argc, argv);
    if (rc != 0) {
        free(s);
        return rc == 1 ? EXIT_CLEAN : EXIT_USAGE;
    }
    rc = srv_setup(s) == 0 ? srv_run(s) : EXIT_USAGE;
    srv_teardown(s);
    free(s);
    return rc;
}
