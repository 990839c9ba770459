/* SPDX-License-Identifier: MIT */
/* CLI helpers: default paths (environment is read here, never in the library), file input,
 * common options and error printing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

const char *cli_default_rules(void)
{
    const char *e = getenv("LOKI_RULES_DIR");
    if (e && *e)
        return e;
    struct stat st;
    if (stat(LOKI_INSTALL_RULES, &st) == 0 && S_ISDIR(st.st_mode)) {
        /* Prefer the source tree when running from a build tree next to it. */
        if (stat(LOKI_SOURCE_RULES, &st) == 0 && S_ISDIR(st.st_mode))
            return LOKI_SOURCE_RULES;
        return LOKI_INSTALL_RULES;
    }
    return LOKI_SOURCE_RULES;
}

char *cli_cache_dir(void)
{
    const char *e = getenv("LOKI_CACHE_DIR");
    char buf[4096];
    if (e && *e)
        return strdup(e);
    const char *x = getenv("XDG_CACHE_HOME");
    if (x && *x) {
        snprintf(buf, sizeof buf, "%s/loki", x);
        return strdup(buf);
    }
    const char *h = getenv("HOME");
    if (h && *h) {
        snprintf(buf, sizeof buf, "%s/.cache/loki", h);
        return strdup(buf);
    }
    return NULL;
}

int cli_read_prefix(FILE *f, size_t limit, char **out, size_t *len, int *more)
{
    size_t cap = limit < 65536 ? (limit ? limit : 1) : 65536, n = 0;
    char *p = malloc(cap);
    *more = 0;
    if (!p)
        return CLI_READ_ENOMEM;
    for (;;) {
        if (n == cap) {
            if (n >= limit) {
                int c = fgetc(f);
                if (c != EOF) {
                    ungetc(c, f);
                    *more = 1;
                }
                break;
            }
            size_t nc = cap * 2 < limit ? cap * 2 : limit;
            char *q = realloc(p, nc);
            if (!q) {
                free(p);
                return CLI_READ_ENOMEM;
            }
            p = q;
            cap = nc;
        }
        size_t r = fread(p + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    if (ferror(f)) {
        free(p);
        return CLI_READ_EIO;
    }
    *out = p;
    *len = n;
    return 0;
}

int cli_read_file(const char *path, size_t max, char **out, size_t *len, char *errbuf,
                  size_t errsz)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        snprintf(errbuf, errsz, "cannot open: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (f != stdin && fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        snprintf(errbuf, errsz, "is a directory");
        return -1;
    }
    char *p = NULL;
    size_t n = 0;
    int more = 0;
    int rc = cli_read_prefix(f, max, &p, &n, &more);
    if (f != stdin)
        fclose(f);
    if (rc == 0 && more) {
        free(p);
        snprintf(errbuf, errsz, "larger than the %zu-byte limit (--max-bytes)", max);
        return -1;
    }
    if (rc != 0) {
        snprintf(errbuf, errsz, "%s", rc == CLI_READ_ENOMEM ? "out of memory" : "read error");
        return -1;
    }
    *out = p;
    *len = n;
    return 0;
}

const char *cli_optval(int argc, char **argv, int *i, const char *opt, int *missing)
{
    size_t n = strlen(opt);
    const char *a = argv[*i];
    if (strncmp(a, opt, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

int cli_common_opt(cli_common *c, int argc, char **argv, int *i)
{
    int missing = 0;
    const char *v;
    if ((v = cli_optval(argc, argv, i, "--rules", &missing))) {
        c->rules = v;
        return 1;
    }
    if ((v = cli_optval(argc, argv, i, "--modules", &missing))) {
        free(c->modules_arg);
        c->modules_arg = strdup(v);
        c->n_modules = 0;
        for (char *tok = strtok(c->modules_arg, ","); tok; tok = strtok(NULL, ",")) {
            if (!*tok)
                continue;
            if (c->n_modules == 64) {
                fprintf(stderr, "loki: too many modules\n");
                return -1;
            }
            c->modules[c->n_modules++] = tok;
        }
        return 1;
    }
    if ((v = cli_optval(argc, argv, i, "--jobs", &missing))) {
        char *end;
        long j = strtol(v, &end, 10);
        if (*end || j < 1 || j > 64) {
            fprintf(stderr, "loki: --jobs: expected a number from 1 to 64, got '%s'\n", v);
            return -1;
        }
        c->jobs = (unsigned)j;
        return 1;
    }
    if (strcmp(argv[*i], "--no-cache") == 0) {
        c->no_cache = 1;
        return 1;
    }
    if (missing) {
        fprintf(stderr, "loki: option %s needs a value\n", argv[*i]);
        return -1;
    }
    return 0;
}

void cli_print_error(const char *prefix, const loki_error *err, loki_status st)
{
    if (err->file[0] && err->line)
        fprintf(stderr, "%s%s:%u:%u: error: %s\n", prefix, err->file, err->line, err->column,
                err->message);
    else if (err->file[0])
        fprintf(stderr, "%s%s: error: %s\n", prefix, err->file, err->message);
    else
        fprintf(stderr, "%serror: %s\n", prefix,
                err->message[0] ? err->message : loki_strerror(st));
}

int cli_engine(cli_common *c, loki_engine **eng, int need_modules_subset)
{
    loki_engine_config cfg;
    loki_engine_config_default(&cfg);
    cfg.rules_path = c->rules ? c->rules : cli_default_rules();
    char *cache = c->no_cache ? NULL : cli_cache_dir();
    cfg.cache_dir = cache;
    cfg.validate_all = c->validate_all;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cfg.jobs = c->jobs ? c->jobs : (ncpu > 0 ? (unsigned)ncpu : 1);
    if (need_modules_subset && c->n_modules) {
        cfg.modules = c->modules;
        cfg.n_modules = c->n_modules;
    }
    loki_error err;
    loki_status st = loki_engine_create(&cfg, eng, &err);
    free(cache);
    if (st != LOKI_OK) {
        cli_print_error("loki: ", &err, st);
        return -1;
    }
    return 0;
}
