/* SPDX-License-Identifier: MIT */
/* Catalog commands (modules, gates, types) and `loki rules lint|test`. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int parse_common_only(cli_common *c, int argc, char **argv, const char **pos,
                             const char *cmd)
{
    for (int i = 1; i < argc; i++) {
        int r = cli_common_opt(c, argc, argv, &i);
        if (r < 0)
            return -1;
        if (r > 0)
            continue;
        if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "loki: %s: unknown option '%s'\n", cmd, argv[i]);
            return -1;
        }
        if (pos && !*pos) {
            *pos = argv[i];
            continue;
        }
        fprintf(stderr, "loki: %s: unexpected argument '%s'\n", cmd, argv[i]);
        return -1;
    }
    return 0;
}

int cmd_modules(int argc, char **argv)
{
    cli_common c = {0};
    loki_engine *eng = NULL;
    if (parse_common_only(&c, argc, argv, NULL, "modules") || cli_engine(&c, &eng, 1)) {
        free(c.modules_arg);
        return EXIT_USAGE;
    }
    printf("%-20s %-32s %-8s %s\n", "MODULE", "NAME", "VERSION", "GATES");
    size_t total = 0;
    for (size_t i = 0; i < loki_engine_module_count(eng); i++) {
        const loki_module_info *m = loki_engine_module(eng, i);
        printf("%-20s %-32s %-8s %zu\n", m->id, m->name, m->version, m->n_gates);
        total += m->n_gates;
    }
    printf("%zu modules, %zu gates\n", loki_engine_module_count(eng), total);
    loki_engine_destroy(eng);
    free(c.modules_arg);
    return EXIT_CLEAN;
}

int cmd_gates(int argc, char **argv)
{
    cli_common c = {0};
    loki_engine *eng = NULL;
    const char *mod = NULL;
    if (parse_common_only(&c, argc, argv, &mod, "gates") || cli_engine(&c, &eng, 1)) {
        free(c.modules_arg);
        return EXIT_USAGE;
    }
    int rc = EXIT_CLEAN;
    if (mod && !loki_engine_find_module(eng, mod)) {
        fprintf(stderr, "loki: gates: unknown module '%s'\n", mod);
        rc = EXIT_USAGE;
        goto out;
    }
    size_t n = 0;
    for (size_t i = 0; i < loki_engine_module_count(eng); i++) {
        const loki_module_info *m = loki_engine_module(eng, i);
        if (mod && strcmp(mod, m->id) != 0)
            continue;
        for (size_t g = 0; g < m->n_gates; g++, n++)
            printf("%s.%-34s %-9s %s\n", m->id, m->gates[g]->id,
                   loki_severity_name(m->gates[g]->severity), m->gates[g]->legal_source);
    }
    printf("%zu gates\n", n);
out:
    loki_engine_destroy(eng);
    free(c.modules_arg);
    return rc;
}

int cmd_types(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    for (const char *const *t = loki_document_types(); *t; t++)
        printf("%s\n", *t);
    return EXIT_CLEAN;
}

static int rules_lint(cli_common *c)
{
    c->no_cache = 1; /* a lint compiles everything, so every pattern is checked */
    c->validate_all = 1;
    loki_engine *eng = NULL;
    if (cli_engine(c, &eng, 1))
        return EXIT_FINDINGS;
    size_t gates = 0;
    for (size_t i = 0; i < loki_engine_module_count(eng); i++)
        gates += loki_engine_module(eng, i)->n_gates;
    printf("ok: %zu modules, %zu gates, %zu examples\n", loki_engine_module_count(eng), gates,
           loki_engine_example_count(eng));
    loki_engine_destroy(eng);
    return EXIT_CLEAN;
}

static void print_example(const char *t)
{
    putchar('"');
    for (size_t i = 0; t[i] && i < 100; i++)
        putchar(t[i] == '\n' ? ' ' : t[i]);
    if (strlen(t) > 100)
        fputs("...", stdout);
    putchar('"');
}

static int rules_test(cli_common *c, int verbose)
{
    loki_engine *eng = NULL;
    if (cli_engine(c, &eng, 1))
        return EXIT_USAGE;
    size_t passed = 0, failed = 0;
    for (size_t i = 0; i < loki_engine_example_count(eng); i++) {
        const loki_example *e = loki_engine_example(eng, i);
        loki_gate_status got;
        loki_error err;
        loki_status st = loki_engine_test_gate(eng, e->module_id, e->gate_id, e->text,
                                               strlen(e->text), &got, &err);
        if (st != LOKI_OK) {
            printf("%s:%u:%u: %s.%s: error: %s\n", e->file, e->line, e->column, e->module_id,
                   e->gate_id, err.message);
            failed++;
            continue;
        }
        if (got == e->expect) {
            passed++;
            if (verbose)
                printf("ok   %s.%s %s\n", e->module_id, e->gate_id, loki_status_name(got));
            continue;
        }
        failed++;
        printf("%s:%u:%u: %s.%s: expected %s, got %s: ", e->file, e->line, e->column,
               e->module_id, e->gate_id, loki_status_name(e->expect), loki_status_name(got));
        print_example(e->text);
        putchar('\n');
    }
    printf("%zu passed, %zu failed\n", passed, failed);
    loki_engine_destroy(eng);
    return failed ? EXIT_FINDINGS : EXIT_CLEAN;
}

int cmd_rules(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: loki rules lint|test [PATH] [--rules DIR] [--modules a,b]\n");
        return EXIT_USAGE;
    }
    const char *sub = argv[1];
    cli_common c = {0};
    const char *path = NULL;
    int verbose = 0;
    for (int i = 2; i < argc; i++) {
        int r = cli_common_opt(&c, argc, argv, &i);
        if (r < 0) {
            free(c.modules_arg);
            return EXIT_USAGE;
        }
        if (r > 0)
            continue;
        if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
            verbose = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "loki: rules: unknown option '%s'\n", argv[i]);
            free(c.modules_arg);
            return EXIT_USAGE;
        } else if (!path) {
            path = argv[i];
        } else {
            fprintf(stderr, "loki: rules: unexpected argument '%s'\n", argv[i]);
            free(c.modules_arg);
            return EXIT_USAGE;
        }
    }
    if (path)
        c.rules = path;
    int rc;
    if (strcmp(sub, "lint") == 0) {
        rc = rules_lint(&c);
    } else if (strcmp(sub, "test") == 0) {
        rc = rules_test(&c, verbose);
    } else {
        fprintf(stderr, "loki: rules: unknown subcommand '%s' (lint, test)\n", sub);
        rc = EXIT_USAGE;
    }
    free(c.modules_arg);
    return rc;
}
