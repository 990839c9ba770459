/* SPDX-License-Identifier: MIT */
/* `loki redact`: print a text with its personal data masked (loki_redact()). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void redact_usage(FILE *f)
{
    fprintf(f,
            "usage: loki redact [FILE|-] [options]\n"
            "  --mask STYLE        stars (default: every character becomes '*'),\n"
            "                      type ([EMAIL], [CARD]...) or partial (keep the last 4)\n"
            "  --type T            document type (default unknown; see 'loki types')\n"
            "  --min-confidence X  mask values found with at least this confidence (default 0.5)\n"
            "  --max-bytes N       largest input accepted (default 268435456)\n"
            "  --count             also print the number of masked values on stderr\n"
            "exit status: 0 nothing masked, 1 values masked, 2 usage or input error\n");
}

static int parse_mask(const char *v, loki_mask_style *style)
{
    if (strcmp(v, "stars") == 0)
        *style = LOKI_MASK_STARS;
    else if (strcmp(v, "type") == 0)
        *style = LOKI_MASK_TYPE;
    else if (strcmp(v, "partial") == 0)
        *style = LOKI_MASK_PARTIAL;
    else
        return -1;
    return 0;
}

int cmd_redact(int argc, char **argv)
{
    loki_redact_options o;
    loki_redact_options_default(&o);
    const char *file = NULL;
    size_t max_bytes = 256u << 20;
    int count = 0;
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        if ((v = cli_optval(argc, argv, &i, "--mask", &missing))) {
            if (parse_mask(v, &o.style)) {
                fprintf(stderr, "loki: --mask: unknown style '%s' (stars, type, partial)\n", v);
                return EXIT_USAGE;
            }
        } else if ((v = cli_optval(argc, argv, &i, "--type", &missing))) {
            if (!loki_document_type_valid(v)) {
                fprintf(stderr, "loki: --type: unknown document type '%s' (see 'loki types')\n", v);
                return EXIT_USAGE;
            }
            o.document_type = v;
        } else if ((v = cli_optval(argc, argv, &i, "--min-confidence", &missing))) {
            char *end;
            double d = strtod(v, &end);
            if (*end || end == v || d < 0 || d > 1) {
                fprintf(stderr, "loki: --min-confidence: expected a number in 0..1, got '%s'\n", v);
                return EXIT_USAGE;
            }
            o.min_confidence = d;
        } else if ((v = cli_optval(argc, argv, &i, "--max-bytes", &missing))) {
            char *end;
            unsigned long long m = strtoull(v, &end, 10);
            if (*end || m == 0) {
                fprintf(stderr, "loki: --max-bytes: not a positive number: '%s'\n", v);
                return EXIT_USAGE;
            }
            max_bytes = (size_t)m;
        } else if (strcmp(argv[i], "--count") == 0) {
            count = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            redact_usage(stdout);
            return EXIT_CLEAN;
        } else if (missing) {
            fprintf(stderr, "loki: option %s needs a value\n", argv[i]);
            return EXIT_USAGE;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "loki: redact: unknown option '%s'\n", argv[i]);
            redact_usage(stderr);
            return EXIT_USAGE;
        } else if (file) {
            fprintf(stderr, "loki: redact: one input at a time ('%s' and '%s')\n", file, argv[i]);
            return EXIT_USAGE;
        } else {
            file = argv[i];
        }
    }
    if (!file) {
        if (isatty(0)) {
            fprintf(stderr, "loki: redact: no input (give FILE or - for standard input)\n");
            redact_usage(stderr);
            return EXIT_USAGE;
        }
        file = "-";
    }
    const char *name = strcmp(file, "-") == 0 ? "<stdin>" : file;
    char *text = NULL, *red = NULL;
    size_t len = 0, red_len = 0, masked = 0;
    char eb[300];
    if (cli_read_file(file, max_bytes, &text, &len, eb, sizeof eb)) {
        fprintf(stderr, "loki: %s: error: %s\n", name, eb);
        return EXIT_USAGE;
    }
    loki_error err;
    loki_status st = loki_redact(text, len, &o, &red, &red_len, &masked, &err);
    free(text);
    if (st != LOKI_OK) {
        fprintf(stderr, "loki: %s: error: %s\n", name, err.message);
        return EXIT_USAGE;
    }
    int rc = EXIT_CLEAN;
    if (fwrite(red, 1, red_len, stdout) != red_len || fflush(stdout) != 0) {
        fprintf(stderr, "loki: redact: write error\n");
        rc = EXIT_USAGE;
    } else if (masked) {
        rc = EXIT_FINDINGS;
    }
    free(red);
    if (count)
        fprintf(stderr, "loki: %s: %zu value%s masked\n", name, masked, masked == 1 ? "" : "s");
    return rc;
}
