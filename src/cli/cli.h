/* SPDX-License-Identifier: MIT */
/* Shared pieces of the `loki` command: option parsing helpers, file reading, default paths,
 * the renderers. The CLI uses only the public libloki API. */
#ifndef LOKI_CLI_H
#define LOKI_CLI_H

#include <stdio.h>

#include "loki/loki.h"

#define EXIT_CLEAN 0
#define EXIT_FINDINGS 1
#define EXIT_USAGE 2

typedef struct cli_common {
    const char *rules;   /* --rules, or the default */
    int no_cache;        /* --no-cache */
    int validate_all;    /* compile every span regex at start-up (rules lint) */
    unsigned jobs;       /* --jobs N (0: one per online CPU) */
    char *modules_arg;   /* --modules a,b (split into modules) */
    const char *modules[64];
    size_t n_modules;
} cli_common;

/* Parses a common option at argv[*i]; returns 1 if consumed, 0 if not one, -1 on error. */
int cli_common_opt(cli_common *c, int argc, char **argv, int *i);
/* Creates the engine for c (modules restricted to c->modules when set); prints errors. */
int cli_engine(cli_common *c, loki_engine **eng, int need_modules_subset);
const char *cli_default_rules(void);
char *cli_cache_dir(void);
/* Reads a file ("-" = stdin) up to max bytes. Returns 0, or -1 with a message in errbuf. */
int cli_read_file(const char *path, size_t max, char **out, size_t *len, char *errbuf,
                  size_t errsz);
/* Streaming checks (check_stream.c). cli_check_stream() feeds pre[0, pre_len) and then the
 * rest of f to a streaming check; returns 0 with *out, or -1 with a message. */
int cli_check_stream(loki_engine *eng, FILE *f, const char *pre, size_t pre_len,
                     const loki_check_options *opts, const char *name, uint64_t size_hint,
                     int show_progress, loki_verdict **out, char *errmsg, size_t errsz);
/* A progress line on standard error (only when it is a terminal), fed by o->progress. */
typedef struct cli_progress {
    const char *name;
    uint64_t total; /* 0: unknown (a pipe) */
    double last;
    int shown;
} cli_progress;
void cli_progress_start(cli_progress *p, const char *name, uint64_t total, int enable,
                        loki_check_options *o);
void cli_progress_cb(void *ctx, uint64_t done, uint64_t total);
void cli_progress_clear(cli_progress *p);
/* Reads up to limit bytes of f (util.c); *more says whether f has more. Returns 0, or
 * CLI_READ_ENOMEM / CLI_READ_EIO. cli_read_file() is this with "more" as an error. */
#define CLI_READ_ENOMEM (-1)
#define CLI_READ_EIO (-2)
int cli_read_prefix(FILE *f, size_t limit, char **out, size_t *len, int *more);
/* 0 when the name says the file is a document format (extracted, never streamed). */
int cli_streamable_name(const char *path);

/* Value of "--opt=value" or "--opt value"; advances *i. NULL if argv[*i] is not --opt. */
const char *cli_optval(int argc, char **argv, int *i, const char *opt, int *missing);
void cli_print_error(const char *prefix, const loki_error *err, loki_status st);

int cmd_check(int argc, char **argv);
int cmd_modules(int argc, char **argv);
int cmd_gates(int argc, char **argv);
int cmd_types(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_serve(int argc, char **argv);  /* src/server/ (LOKI_HAVE_SERVE) */
int cmd_redact(int argc, char **argv); /* src/cli/cmd_redact.c (LOKI_HAVE_REDACT) */
int cmd_cache(int argc, char **argv);  /* src/cli/cmd_cache.c (needs LOKI_HAVE_SERVE) */

/* Renderers */
struct loki_extracted;
/* ex: when the text was extracted from a document, spans are located in the original. */
void render_text(FILE *f, const char *name, const loki_verdict *v, int color, int all,
                 const struct loki_extracted *ex);
/* SARIF 2.1.0 log for several verdicts; returns malloc'd JSON or NULL. */
char *render_sarif(const loki_engine *eng, const char *const *names,
                   const loki_verdict *const *verdicts, size_t n);

#endif
