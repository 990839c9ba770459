/* SPDX-License-Identifier: MIT */
/*
 * pattern_cost: which patterns make the scan slow. Compiles each pattern of the packs on its
 * own, scans the input (repeated to 1 MiB) with it, and prints the most expensive ones with
 * their file:line, the time per MiB and the number of matches. A pack author's tool.
 * usage: loki-pattern-cost RULES_DIR FILE... [--top N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hs/hs.h>

#include "engine/engine_int.h"

typedef struct cost {
    size_t idx;
    double ms;
    unsigned long hits;
} cost;

static int on_hit(unsigned int id, unsigned long long from, unsigned long long to,
                  unsigned int flags, void *ctx)
{
    (void)id, (void)from, (void)to, (void)flags;
    (*(unsigned long *)ctx)++;
    return 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int by_ms(const void *a, const void *b)
{
    double x = ((const cost *)a)->ms, y = ((const cost *)b)->ms;
    return x < y ? 1 : x > y ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s RULES_DIR FILE... [--top N]\n", argv[0]);
        return 2;
    }
    int top = 30;
    size_t cap = 1 << 20, len = 0;
    char *doc = malloc(cap + 1);
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--top") == 0 && i + 1 < argc) {
            top = atoi(argv[++i]);
            continue;
        }
        FILE *f = fopen(argv[i], "rb");
        if (!f)
            continue;
        len += fread(doc + len, 1, cap - len, f);
        fclose(f);
    }
    for (size_t o = len; len && o < cap; o++) /* repeat to 1 MiB */
        doc[o] = doc[o % len];
    len = cap;
    loki_engine_config cfg;
    loki_engine_config_default(&cfg);
    cfg.rules_path = argv[1];
    loki_engine *eng;
    loki_error err;
    if (loki_engine_create(&cfg, &eng, &err) != LOKI_OK) {
        fprintf(stderr, "%s:%u:%u: %s\n", err.file, err.line, err.column, err.message);
        return 2;
    }
    loki_ruleset *rs = eng->rs;
    cost *c = calloc(rs->n_patterns, sizeof *c);
    double total = 0;
    for (size_t i = 0; i < rs->n_patterns; i++) {
        hs_database_t *db = NULL;
        hs_compile_error_t *ce = NULL;
        hs_scratch_t *sc = NULL;
        c[i].idx = i;
        if (hs_compile(rs->patterns[i].regex, HS_FLAG_CASELESS | HS_FLAG_DOTALL, HS_MODE_BLOCK,
                       NULL, &db, &ce) != HS_SUCCESS) {
            hs_free_compile_error(ce);
            continue;
        }
        hs_alloc_scratch(db, &sc);
        double best = 1e9;
        for (int r = 0; r < 3; r++) {
            unsigned long hits = 0;
            double a = now_ms();
            hs_scan(db, doc, (unsigned)len, 0, sc, on_hit, &hits);
            double t = now_ms() - a;
            if (t < best)
                best = t;
            c[i].hits = hits;
        }
        c[i].ms = best;
        total += best;
        hs_free_scratch(sc);
        hs_free_database(db);
    }
    qsort(c, rs->n_patterns, sizeof *c, by_ms);
    printf("%zu patterns, sum of single-pattern scans %.1f ms per MiB\n", rs->n_patterns, total);
    printf("%8s %9s  %s\n", "ms/MiB", "ends", "pattern (file:line)");
    for (int i = 0; i < top && (size_t)i < rs->n_patterns; i++) {
        const loki_pattern *p = &rs->patterns[c[i].idx];
        printf("%8.3f %9lu  %s:%u  /%s/\n", c[i].ms, c[i].hits, p->file, p->line, p->source);
    }
    free(c);
    free(doc);
    loki_engine_destroy(eng);
    return 0;
}
