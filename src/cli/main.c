/* SPDX-License-Identifier: MIT */
/* `loki`: the command-line face of libloki. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: loki <command> [options]\n"
            "\n"
            "commands:\n"
            "  check [FILE...|-]     check documents (text, json or sarif output)\n"
            "  modules               list the loaded modules\n"
            "  gates [MODULE]        list gates: id, severity, legal source\n"
            "  types                 list the document types\n"
            "  rules lint [PATH]     validate rule packs (errors with file:line:column)\n"
            "  rules test [PATH]     run every gate's inline examples\n"
            "  bench [FILE...]       measure check time and throughput\n"
#ifdef LOKI_HAVE_REDACT
            "  redact [FILE|-]       print the text with personal data masked\n"
#endif
#ifdef LOKI_HAVE_SERVE
            "  serve                 run the REST API and LLM interceptor\n"
            "  cache warm DIR        precompute verdicts into the shared Redis cache\n"
#endif
            "  version               print the version\n"
            "\n"
            "common options: --rules DIR  --modules a,b  --no-cache\n"
            "run 'loki check --help' for the options of check.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (strcmp(cmd, "modules") == 0)
        return cmd_modules(argc - 1, argv + 1);
    if (strcmp(cmd, "gates") == 0)
        return cmd_gates(argc - 1, argv + 1);
    if (strcmp(cmd, "types") == 0)
        return cmd_types(argc - 1, argv + 1);
    if (strcmp(cmd, "rules") == 0)
        return cmd_rules(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0)
        return cmd_bench(argc - 1, argv + 1);
#ifdef LOKI_HAVE_SERVE
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "cache") == 0)
        return cmd_cache(argc - 1, argv + 1);
#endif
#ifdef LOKI_HAVE_REDACT
    if (strcmp(cmd, "redact") == 0)
        return cmd_redact(argc - 1, argv + 1);
#endif
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("loki %s\n", loki_version());
        return EXIT_CLEAN;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return EXIT_CLEAN;
    }
    fprintf(stderr, "loki: unknown command '%s'\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
