/* SPDX-License-Identifier: MIT */
/*
 * `loki bench`: in-process timing of loki_check() with the engine already built (start-up
 * excluded). For each input and each target size, the input is repeated (whole paragraphs)
 * to the size, checked once to warm up, then N times; the median, min and p90 per check and
 * the median throughput are printed, with the method.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static char *repeat_to(const char *src, size_t n, size_t target)
{
    char *p = malloc(target + 1);
    if (!p)
        return NULL;
    size_t o = 0;
    while (o < target) {
        size_t k = n < target - o ? n : target - o;
        memcpy(p + o, src, k);
        o += k;
        if (o < target)
            p[o++] = '\n';
    }
    /* Do not end inside a UTF-8 sequence. */
    while (o > 0 && ((unsigned char)p[o - 1] & 0xC0) == 0x80)
        o--;
    if (o > 0 && ((unsigned char)p[o - 1] & 0xC0) == 0xC0)
        o--;
    p[o] = '\0';
    return p;
}

static size_t parse_size(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (*end == 'k' || *end == 'K')
        v *= 1024;
    else if (*end == 'm' || *end == 'M')
        v *= 1024 * 1024;
    return v > 0 ? (size_t)v : 0;
}

int cmd_bench(int argc, char **argv)
{
    cli_common c = {0};
    const char *files[256];
    size_t nf = 0, sizes[16], ns = 0;
    int iters = 0;
    const char *type = NULL;
    for (int i = 1; i < argc; i++) {
        int r = cli_common_opt(&c, argc, argv, &i), missing = 0;
        const char *v;
        if (r < 0)
            return EXIT_USAGE;
        if (r > 0)
            continue;
        if ((v = cli_optval(argc, argv, &i, "--iterations", &missing))) {
            iters = atoi(v);
        } else if ((v = cli_optval(argc, argv, &i, "--type", &missing))) {
            type = v;
        } else if ((v = cli_optval(argc, argv, &i, "--sizes", &missing))) {
            char *dup = strdup(v);
            for (char *t = strtok(dup, ","); t && ns < 16; t = strtok(NULL, ","))
                if ((sizes[ns] = parse_size(t)) > 0)
                    ns++;
            free(dup);
        } else if (missing || (argv[i][0] == '-' && argv[i][1])) {
            fprintf(stderr, "usage: loki bench [FILE...] [--sizes 1k,10k,100k,1m] "
                            "[--iterations N] [--type T] [--modules a,b] [--rules DIR]\n");
            return EXIT_USAGE;
        } else if (nf < 256) {
            files[nf++] = argv[i];
        }
    }
    if (ns == 0) {
        size_t d[] = {1024, 10 * 1024, 100 * 1024, 1024 * 1024};
        memcpy(sizes, d, sizeof d);
        ns = 4;
    }
    loki_engine *eng = NULL;
    double t0 = now_ms();
    if (cli_engine(&c, &eng, 1))
        return EXIT_USAGE;
    double t_engine = now_ms() - t0;
    /* Input: the files given, concatenated; otherwise every gate example of the packs. */
    size_t cap = 1 << 20, len = 0;
    char *src = malloc(cap);
    if (!src)
        return EXIT_USAGE;
    if (nf) {
        for (size_t i = 0; i < nf; i++) {
            char *t;
            size_t n;
            char eb[300];
            if (cli_read_file(files[i], 64u << 20, &t, &n, eb, sizeof eb)) {
                fprintf(stderr, "loki: bench: %s: %s\n", files[i], eb);
                free(src);
                loki_engine_destroy(eng);
                return EXIT_USAGE;
            }
            if (len + n + 2 > cap) {
                cap = (len + n + 2) * 2;
                src = realloc(src, cap);
            }
            memcpy(src + len, t, n);
            len += n;
            src[len++] = '\n';
            free(t);
        }
    } else {
        for (size_t i = 0; i < loki_engine_example_count(eng); i++) {
            const char *t = loki_engine_example(eng, i)->text;
            size_t n = strlen(t);
            if (len + n + 3 > cap) {
                cap = (len + n + 3) * 2;
                src = realloc(src, cap);
            }
            memcpy(src + len, t, n);
            len += n;
            memcpy(src + len, "\n\n", 2);
            len += 2;
        }
    }
    size_t gates = 0;
    for (size_t i = 0; i < loki_engine_module_count(eng); i++)
        gates += loki_engine_module(eng, i)->n_gates;
    printf("loki bench %s: %zu modules, %zu gates; engine start-up %.1f ms (compiled db %s)\n",
           loki_version(), loki_engine_module_count(eng), gates, t_engine,
           loki_engine_db_from_cache(eng) ? "from cache" : "compiled");
    printf("method: input = %s repeated to each size; 1 warm-up check, then N timed "
           "loki_check() calls (in-process, one thread, verdict built, not rendered); "
           "median/min/p90 per check; MB/s = size / median\n",
           nf ? "the given files" : "every rule example");
    printf("%10s %6s %12s %12s %12s %10s %12s %12s\n", "size", "N", "median_ms", "min_ms",
           "p90_ms", "MB/s", "scan_ms", "detect_ms");
    loki_check_options o;
    loki_check_options_default(&o);
    o.document_type = type;
    int rc = EXIT_CLEAN;
    for (size_t s = 0; s < ns; s++) {
        char *doc = repeat_to(src, len, sizes[s]);
        size_t dl = strlen(doc);
        int n = iters > 0 ? iters : dl <= 16384 ? 2000 : dl <= 262144 ? 200 : 30;
        double *t = calloc((size_t)n, sizeof *t), *ts = calloc((size_t)n, sizeof *ts),
               *td = calloc((size_t)n, sizeof *td);
        loki_verdict *v = NULL;
        loki_error err;
        if (loki_check(eng, doc, dl, &o, &v, &err) != LOKI_OK) {
            fprintf(stderr, "loki: bench: %s\n", err.message);
            rc = EXIT_USAGE;
            free(doc);
            free(t);
            free(ts);
            free(td);
            break;
        }
        loki_verdict_destroy(v);
        for (int k = 0; k < n; k++) {
            double a = now_ms();
            loki_check(eng, doc, dl, &o, &v, &err);
            t[k] = now_ms() - a;
            ts[k] = v->scan_ms;
            td[k] = v->detect_ms;
            loki_verdict_destroy(v);
        }
        qsort(t, (size_t)n, sizeof *t, cmp_d);
        qsort(ts, (size_t)n, sizeof *ts, cmp_d);
        qsort(td, (size_t)n, sizeof *td, cmp_d);
        double med = t[n / 2];
        printf("%10zu %6d %12.4f %12.4f %12.4f %10.1f %12.4f %12.4f\n", dl, n, med, t[0],
               t[(n * 9) / 10], (double)dl / (1024.0 * 1024.0) / (med / 1000.0), ts[n / 2],
               td[n / 2]);
        free(t);
        free(ts);
        free(td);
        free(doc);
    }
    free(src);
    free(c.modules_arg);
    loki_engine_destroy(eng);
    return rc;
}
