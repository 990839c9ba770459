/* SPDX-License-Identifier: MIT */
/* `loki check --stream` and inputs too large to hold: read in pieces and fed to a streaming
 * check (loki_stream_*), with a progress line on a terminal. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define PIECE (1u << 20)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_cb(void *ctx, uint64_t done, uint64_t total)
{
    cli_progress *p = ctx;
    if (!p->total)
        p->total = total;
    double t = now_s();
    if (t - p->last < 0.2)
        return;
    p->last = t;
    p->shown = 1;
    if (p->total)
        fprintf(stderr, "\rloki: %s: %llu of %llu MB (%u%%)", p->name,
                (unsigned long long)(done >> 20), (unsigned long long)(p->total >> 20),
                (unsigned)(done * 100 / p->total));
    else
        fprintf(stderr, "\rloki: %s: %llu MB", p->name, (unsigned long long)(done >> 20));
    fflush(stderr);
}

void cli_progress_start(cli_progress *p, const char *name, uint64_t total, int enable,
                        loki_check_options *o)
{
    *p = (cli_progress){name, total, now_s(), 0};
    if (enable && isatty(2)) {
        o->progress = cli_progress_cb;
        o->progress_ctx = p;
    }
}

void cli_progress_clear(cli_progress *p)
{
    if (p->shown)
        fputs("\r\033[K", stderr);
    p->shown = 0;
}

int cli_check_stream(loki_engine *eng, FILE *f, const char *pre, size_t pre_len,
                     const loki_check_options *opts, const char *name, uint64_t size_hint,
                     int show_progress, loki_verdict **out, char *errmsg, size_t errsz)
{
    loki_check_options o = *opts;
    cli_progress pg;
    cli_progress_start(&pg, name, size_hint, show_progress, &o);
    loki_stream *st = NULL;
    loki_error err;
    loki_status rc = loki_stream_begin(eng, &o, &st, &err);
    char *piece = rc == LOKI_OK ? malloc(PIECE) : NULL;
    if (rc == LOKI_OK && !piece) {
        rc = LOKI_ENOMEM;
        snprintf(err.message, sizeof err.message, "out of memory");
    }
    if (rc == LOKI_OK && pre_len)
        rc = loki_stream_feed(st, pre, pre_len, &err);
    while (rc == LOKI_OK) {
        size_t n = fread(piece, 1, PIECE, f);
        if (n)
            rc = loki_stream_feed(st, piece, n, &err);
        if (n < PIECE) {
            if (ferror(f)) {
                snprintf(errmsg, errsz, "read error: %s", strerror(errno));
                free(piece);
                loki_stream_destroy(st);
                return -1;
            }
            break;
        }
    }
    if (rc == LOKI_OK)
        rc = loki_stream_end(st, out, &err);
    cli_progress_clear(&pg);
    free(piece);
    loki_stream_destroy(st);
    if (rc != LOKI_OK) {
        snprintf(errmsg, errsz, "%s", err.message);
        return -1;
    }
    return 0;
}

int cli_streamable_name(const char *path)
{
    static const char *const doc_ext[] = {".docx", ".pdf", ".html", ".htm", ".xhtml", ".md",
                                          ".markdown", ".eml", NULL};
    size_t n = strlen(path);
    for (const char *const *e = doc_ext; *e; e++) {
        size_t k = strlen(*e);
        if (n >= k && strcasecmp(path + n - k, *e) == 0)
            return 0;
    }
    return 1;
}
