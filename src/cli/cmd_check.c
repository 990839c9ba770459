/* SPDX-License-Identifier: MIT */
/* `loki check`: read each input, check it, render text/JSON/SARIF, and pick the exit code. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "loki/extract.h"
#include "loki/obs.h"

static void check_usage(FILE *f)
{
    fprintf(f,
            "usage: loki check [FILE...|-] [options]\n"
            "  --type T            document type (default unknown; see 'loki types')\n"
            "  --modules a,b       modules to run (default: all)\n"
            "  --format F          text (default), json or sarif\n"
            "  --input-format F    auto (default: sniffed), text, docx, pdf, html, markdown, eml\n"
            "  --fail-on SEV       exit 1 when a FAIL at or above SEV is found (default high;\n"
            "                      none = never)\n"
            "  --all               text: also list PASS and N/A gates\n"
            "  --color WHEN        auto (default), always, never\n"
            "  --compact           json: one line per verdict\n"
            "  --no-timings        json: omit timestamp and timings (stable output)\n"
            "  --max-bytes N       largest input held in memory (default 268435456)\n"
            "  --stream            check plain-text input as a stream, in bounded memory,\n"
            "                      whatever its size (no document extraction)\n"
            "  --stream-above N    stream plain-text inputs larger than N bytes automatically\n"
            "                      (default 67108864; 0 = never)\n"
            "  --rules DIR         rule packs (default: the bundled rules)\n"
            "  --no-cache          do not use the compiled-rules cache\n"
            "  --jobs N            threads for one large document (default: CPUs)\n"
            "  --no-universal      do not run the universal detectors (PII, claims, ...)\n"
            "  --stats             print engine statistics (JSON) to standard error\n"
            "  --profile           print where the time went (read, scan, evaluate, render)\n"
            "                      to standard error\n"
            "exit status: 0 clean, 1 findings at or above --fail-on, 2 usage or input error\n");
}

typedef struct input {
    const char *name;
    loki_verdict *v;
    loki_extracted *ex; /* non-NULL when the text was extracted from DOCX/PDF/HTML/MD/e-mail */
    char errmsg[700];
    int failed;
} input;

static int worst_fail(const loki_verdict *v)
{
    for (int s = LOKI_SEV_CRITICAL; s > LOKI_SEV_NONE; s--)
        if (v->fail_by_severity[s])
            return s;
    return -1;
}

/* Where each reported span lies in the original document, for extracted formats. */
static void print_source_locations(FILE *f, const input *in, int pretty)
{
    const char *nl = pretty ? "\n  " : "";
    fprintf(f, "%s\"source_format\": \"%s\",%s\"source_locations\": [", nl,
            loki_doc_format_name(loki_extracted_format(in->ex)), nl);
    int first = 1;
    const loki_verdict *v = in->v;
    for (size_t m = 0; m < v->n_modules; m++)
        for (size_t g = 0; g < v->modules[m].n_findings; g++) {
            const loki_finding *fd = &v->modules[m].findings[g];
            for (size_t s = 0; s < fd->n_spans; s++) {
                loki_location loc;
                if (loki_extracted_locate(in->ex, fd->spans[s].start, &loc) != LOKI_OK)
                    continue;
                fprintf(f, "%s{\"module\": \"%s\", \"gate\": \"%s\", \"start\": %zu, "
                           "\"page\": %u, \"paragraph\": %u, \"part\": \"%s\", \"line\": %u, "
                           "\"column\": %u}",
                        first ? "" : ", ", v->modules[m].module->id, fd->gate->id,
                        fd->spans[s].start, loc.page, loc.paragraph, loc.part ? loc.part : "",
                        loc.line, loc.column);
                first = 0;
            }
        }
    fputs("],", f);
}

/* Adds "file" as the first member of a rendered verdict. */
static void print_json_with_file(FILE *f, const char *name, const char *json, int pretty)
{
    char *q = NULL;
    size_t n = strlen(name);
    /* JSON-escape the file name through a tiny local escaper (names are rarely odd). */
    q = malloc(n * 6 + 3);
    if (!q)
        return;
    char *o = q;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20) {
            o += sprintf(o, "\\u%04x", c);
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    *o = '\0';
    fprintf(f, "{%s\"file\": %s,%s", pretty ? "\n  " : "", q, "");
    free(q);
    (void)json;
}

/* Starts with bytes that say "a document format, not plain text"? */
static int document_magic(const char *p, size_t n)
{
    return (n >= 4 && memcmp(p, "%PDF", 4) == 0) || (n >= 4 && memcmp(p, "PK\3\4", 4) == 0) ||
           (n >= 2 && (((unsigned char)p[0] == 0xFF && (unsigned char)p[1] == 0xFE) ||
                       ((unsigned char)p[0] == 0xFE && (unsigned char)p[1] == 0xFF)));
}

/*
 * Streams the input when asked to, or when it is plain text larger than stream_above. Returns
 * -1 with a message; otherwise *done = 1 with *v set when it was streamed, or the input read
 * into memory (*text, *len: small standard input) or left for the caller (both NULL/0).
 */
static int stream_input(loki_engine *eng, const char *path, const char *name,
                        const loki_check_options *opts, int force, size_t stream_above, int sp,
                        loki_verdict **v, char **text, size_t *len, int *done, char *eb,
                        size_t ebsz)
{
    int is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        snprintf(eb, ebsz, "cannot open: %s", strerror(errno));
        return -1;
    }
    struct stat sb;
    int have_stat = fstat(fileno(f), &sb) == 0;
    int regular = have_stat && S_ISREG(sb.st_mode);
    if (!is_stdin && have_stat && S_ISDIR(sb.st_mode)) {
        fclose(f);
        snprintf(eb, ebsz, "is a directory");
        return -1;
    }
    int rc = 0;
    char head[8];
    if (!force && regular) {
        /* A file: its size decides, and its first bytes (a PDF or DOCX is never streamed). */
        size_t hn = (size_t)sb.st_size > stream_above && (is_stdin || cli_streamable_name(path))
                        ? fread(head, 1, sizeof head, f)
                        : 0;
        if (hn == 0 || document_magic(head, hn)) {
            if (!is_stdin)
                fclose(f);
            else if (hn && fseek(f, 0, SEEK_SET) != 0)
                rc = -1, snprintf(eb, ebsz, "cannot re-read standard input");
            return rc;
        }
        rc = cli_check_stream(eng, f, head, hn, opts, name, (uint64_t)sb.st_size, sp, v, eb,
                              ebsz);
        *done = rc == 0;
    } else if (!force) {
        /* A pipe: read up to the limit; only if there is more does it become a stream. */
        char *pre = NULL;
        size_t n = 0;
        int more = 0;
        if (cli_read_prefix(f, stream_above, &pre, &n, &more)) {
            snprintf(eb, ebsz, "read error or out of memory");
            rc = -1;
        } else if (!more || document_magic(pre, n)) {
            *text = pre;
            *len = n;
            if (more) {
                free(pre);
                *text = NULL;
                rc = -1;
                snprintf(eb, ebsz, "a document of more than %zu bytes on standard input; save "
                                   "it to a file", stream_above);
            }
        } else {
            rc = cli_check_stream(eng, f, pre, n, opts, name, 0, sp, v, eb, ebsz);
            free(pre);
            *done = rc == 0;
        }
    } else {
        rc = cli_check_stream(eng, f, NULL, 0, opts, name, regular ? (uint64_t)sb.st_size : 0, sp,
                              v, eb, ebsz);
        *done = rc == 0;
    }
    if (!is_stdin)
        fclose(f);
    return rc;
}

typedef struct check_job {
    loki_engine *eng;
    const char **files;
    input *in;
    size_t n_files;
    const loki_check_options *opts;
    size_t max_bytes, stream_above;
    int force_stream, input_format;
    loki_profiler *prof;
    int op_read;
    atomic_size_t next;
} check_job;

/* Reads, extracts and checks input i into in[i]. */
static void check_one(check_job *j, size_t i)
{
    loki_engine *eng = j->eng;
    const char **files = j->files;
    input *in = j->in;
    const loki_check_options opts = *j->opts;
    size_t max_bytes = j->max_bytes, stream_above = j->stream_above;
    int force_stream = j->force_stream, input_format = j->input_format;
    loki_profiler *prof = j->prof;
    int op_read = j->op_read;
    in[i].name = strcmp(files[i], "-") == 0 ? "<stdin>" : files[i];
    char *text = NULL;
    size_t len = 0;
    char eb[300];
    int rr = 0, done = 0;
    int textual = input_format == LOKI_FORMAT_AUTO || input_format == LOKI_FORMAT_TEXT;
    if (force_stream || (stream_above && textual)) {
        /* Streamed: forced, or plain text too large to hold (a file larger than
         * --stream-above, or standard input that turns out to be). */
        rr = stream_input(eng, files[i], in[i].name, &opts, force_stream, stream_above,
                          j->n_files == 1, &in[i].v, &text, &len, &done, eb, sizeof eb);
    }
    if (!rr && text && len > max_bytes) {
        free(text);
        text = NULL;
        rr = -1;
        snprintf(eb, sizeof eb, "larger than the %zu-byte limit (--max-bytes)", max_bytes);
    }
    loki_prof_scope rs = loki_prof_begin(prof, op_read);
    if (!rr && !done && !text)
        rr = cli_read_file(files[i], max_bytes, &text, &len, eb, sizeof eb);
    loki_prof_end(&rs);
    if (!rr && !text && done)
        return;
    if (rr) {
        snprintf(in[i].errmsg, sizeof in[i].errmsg, "%s", eb);
        in[i].failed = 1;
        return;
    }
    loki_error err;
    /* Documents (DOCX, PDF, HTML, Markdown, e-mail, UTF-16 text) are turned into text
     * first; plain UTF-8 text is checked as it is, so its encoding errors are reported
     * with their byte offsets rather than repaired. */
    loki_extract_options xo;
    loki_extract_options_default(&xo);
    xo.max_input_bytes = max_bytes;
    xo.format = (loki_doc_format)input_format;
    loki_extracted *ex = NULL;
    loki_status st = loki_extract(text, len, strcmp(files[i], "-") ? files[i] : NULL, &xo,
                                  &ex, &err);
    if (st == LOKI_EINVAL && input_format == LOKI_FORMAT_AUTO) {
        /* Not a document format we know: check the bytes as text, which reports exactly
         * where they stop being UTF-8. */
        ex = NULL;
        st = LOKI_OK;
    }
    if (st != LOKI_OK) {
        free(text);
        snprintf(in[i].errmsg, sizeof in[i].errmsg, "%s", err.message);
        in[i].failed = 1;
        return;
    }
    int has_bom = len >= 2 && (((unsigned char)text[0] == 0xFF && (unsigned char)text[1] == 0xFE) ||
                               ((unsigned char)text[0] == 0xFE && (unsigned char)text[1] == 0xFF));
    const char *ct = text;
    size_t cl = len;
    if (ex && loki_extracted_format(ex) == LOKI_FORMAT_TEXT && !has_bom) {
        loki_extracted_destroy(ex);
        ex = NULL;
    } else if (ex) {
        ct = loki_extracted_text(ex, &cl);
    }
    in[i].ex = ex;
    /* A large document held in memory: a progress line while it is checked. */
    loki_check_options o1 = opts;
    cli_progress pg;
    cli_progress_start(&pg, in[i].name, cl, j->n_files == 1 && cl >= (16u << 20), &o1);
    st = loki_check(eng, ct, cl, &o1, &in[i].v, &err);
    cli_progress_clear(&pg);
    free(text);
    if (st != LOKI_OK) {
        snprintf(in[i].errmsg, sizeof in[i].errmsg, "%s", err.message);
        in[i].failed = 1;
        return;
    }
}

static void *check_worker(void *arg)
{
    check_job *j = arg;
    size_t i;
    while ((i = atomic_fetch_add(&j->next, 1)) < j->n_files)
        check_one(j, i);
    return NULL;
}

int cmd_check(int argc, char **argv)
{
    cli_common c = {0};
    const char *type = NULL, *format = "text", *color = "auto";
    int fail_on = LOKI_SEV_HIGH, all = 0, compact = 0, no_timings = 0, profile = 0;
    int no_universal = 0, input_format = LOKI_FORMAT_AUTO, stats = 0;
    loki_profiler *prof = NULL;
    size_t max_bytes = 256u << 20, stream_above = 64u << 20;
    int force_stream = 0;
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    size_t n_files = 0;
    int rc = EXIT_USAGE;
    input *in = NULL;
    loki_engine *eng = NULL;
    if (!files)
        return EXIT_USAGE;
    for (int i = 1; i < argc; i++) {
        int missing = 0, r;
        const char *v;
        if ((r = cli_common_opt(&c, argc, argv, &i)) != 0) {
            if (r < 0)
                goto out;
            continue;
        }
        if ((v = cli_optval(argc, argv, &i, "--type", &missing))) {
            type = v;
        } else if ((v = cli_optval(argc, argv, &i, "--format", &missing))) {
            format = v;
        } else if ((v = cli_optval(argc, argv, &i, "--fail-on", &missing))) {
            fail_on = loki_severity_parse(v);
            if (fail_on < 0) {
                fprintf(stderr, "loki: --fail-on: unknown severity '%s' "
                                "(none, low, medium, high, critical)\n", v);
                goto out;
            }
        } else if ((v = cli_optval(argc, argv, &i, "--input-format", &missing))) {
            input_format = loki_doc_format_parse(v);
            if (input_format < 0) {
                fprintf(stderr, "loki: --input-format: unknown format '%s' (auto, text, docx, "
                                "pdf, html, markdown, eml)\n", v);
                goto out;
            }
        } else if ((v = cli_optval(argc, argv, &i, "--color", &missing))) {
            color = v;
        } else if ((v = cli_optval(argc, argv, &i, "--max-bytes", &missing))) {
            char *end;
            unsigned long long m = strtoull(v, &end, 10);
            if (*end || m == 0) {
                fprintf(stderr, "loki: --max-bytes: not a positive number: '%s'\n", v);
                goto out;
            }
            max_bytes = (size_t)m;
        } else if ((v = cli_optval(argc, argv, &i, "--stream-above", &missing))) {
            char *end;
            errno = 0;
            unsigned long long m = strtoull(v, &end, 10);
            if (*end || *v == '-' || errno) {
                fprintf(stderr, "loki: --stream-above: not a number of bytes: '%s'\n", v);
                goto out;
            }
            stream_above = (size_t)m;
        } else if (strcmp(argv[i], "--stream") == 0) {
            force_stream = 1;
        } else if (strcmp(argv[i], "--stats") == 0) {
            stats = 1;
        } else if (strcmp(argv[i], "--no-universal") == 0) {
            no_universal = 1;
        } else if (strcmp(argv[i], "--profile") == 0) {
            profile = 1;
        } else if (strcmp(argv[i], "--all") == 0) {
            all = 1;
        } else if (strcmp(argv[i], "--compact") == 0) {
            compact = 1;
        } else if (strcmp(argv[i], "--no-timings") == 0) {
            no_timings = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            check_usage(stdout);
            rc = EXIT_CLEAN;
            goto out;
        } else if (missing) {
            fprintf(stderr, "loki: option %s needs a value\n", argv[i]);
            goto out;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "loki: check: unknown option '%s'\n", argv[i]);
            check_usage(stderr);
            goto out;
        } else {
            files[n_files++] = argv[i];
        }
    }
    if (strcmp(format, "text") && strcmp(format, "json") && strcmp(format, "sarif")) {
        fprintf(stderr, "loki: --format: unknown format '%s' (text, json, sarif)\n", format);
        goto out;
    }
    if (type && !loki_document_type_valid(type)) {
        fprintf(stderr, "loki: --type: unknown document type '%s'; valid types:", type);
        for (const char *const *t = loki_document_types(); *t; t++)
            fprintf(stderr, " %s", *t);
        fputc('\n', stderr);
        goto out;
    }
    if (n_files == 0) {
        if (isatty(0)) {
            fprintf(stderr, "loki: check: no input (give FILE... or - for standard input)\n");
            check_usage(stderr);
            goto out;
        }
        files[n_files++] = "-";
    }
    if (cli_engine(&c, &eng, 1))
        goto out;
    in = calloc(n_files, sizeof *in);
    if (!in)
        goto out;
    if (profile && loki_profiler_create(NULL, &prof) != LOKI_OK) {
        fprintf(stderr, "loki: out of memory (profiler)\n");
        goto out;
    }
    loki_check_options opts;
    loki_check_options_default(&opts);
    opts.document_type = type;
    opts.profiler = prof;
    opts.no_universal = no_universal;
    int op_read = loki_profiler_op(prof, "read"), op_render = loki_profiler_op(prof, "render");
    /* Several inputs are checked in parallel (one engine, many threads); output keeps the
     * order of the command line. */
    check_job job = {eng, files, in, n_files, &opts, max_bytes, stream_above, force_stream,
                     input_format, prof, op_read, 0};
    atomic_init(&job.next, 0);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nth = c.jobs ? c.jobs : (ncpu > 0 ? (size_t)ncpu : 1);
    if (nth > n_files)
        nth = n_files;
    if (nth > 64)
        nth = 64;
    pthread_t th[64];
    int started[64] = {0};
    for (size_t t = 1; t < nth; t++)
        started[t] = pthread_create(&th[t], NULL, check_worker, &job) == 0;
    check_worker(&job);
    for (size_t t = 1; t < nth; t++)
        if (started[t])
            pthread_join(th[t], NULL);
    int input_error = 0, findings = 0;
    for (size_t i = 0; i < n_files; i++) {
        if (in[i].failed) {
            input_error = 1;
            continue;
        }
        int w = worst_fail(in[i].v);
        if (fail_on > LOKI_SEV_NONE && w >= fail_on)
            findings = 1;
    }
    for (size_t i = 0; i < n_files; i++)
        if (in[i].failed)
            fprintf(stderr, "loki: %s: error: %s\n", in[i].name, in[i].errmsg);
    loki_prof_scope render_scope = loki_prof_begin(prof, op_render);
    if (strcmp(format, "json") == 0) {
        unsigned fl = (compact ? 0 : LOKI_JSON_PRETTY) | (no_timings ? LOKI_JSON_NO_TIMINGS : 0);
        if (n_files > 1)
            printf("[\n");
        for (size_t i = 0; i < n_files; i++) {
            if (in[i].failed) {
                printf("{\"file\": \"%s\", \"error\": {\"message\": \"see stderr\"}}",
                       in[i].name);
            } else {
                char *js = NULL;
                if (loki_verdict_to_json(in[i].v, fl, &js, NULL) != LOKI_OK) {
                    fprintf(stderr, "loki: out of memory rendering JSON\n");
                    input_error = 1;
                    continue;
                }
                print_json_with_file(stdout, in[i].name, js, !compact);
                if (in[i].ex)
                    print_source_locations(stdout, &in[i], !compact);
                fputs(js + 1, stdout);
                free(js);
            }
            printf(i + 1 < n_files ? ",\n" : "\n");
        }
        if (n_files > 1)
            printf("]\n");
    } else if (strcmp(format, "sarif") == 0) {
        const char **names = calloc(n_files, sizeof *names);
        const loki_verdict **vs = calloc(n_files, sizeof *vs);
        size_t k = 0;
        for (size_t i = 0; names && vs && i < n_files; i++)
            if (!in[i].failed) {
                names[k] = in[i].name;
                vs[k++] = in[i].v;
            }
        char *s = names && vs ? render_sarif(eng, names, vs, k) : NULL;
        if (s) {
            fputs(s, stdout);
            fputc('\n', stdout);
        } else {
            fprintf(stderr, "loki: out of memory rendering SARIF\n");
            input_error = 1;
        }
        free(s);
        free(names);
        free(vs);
    } else {
        int col = strcmp(color, "always") == 0 || (strcmp(color, "auto") == 0 && isatty(1) &&
                                                   !getenv("NO_COLOR"));
        for (size_t i = 0; i < n_files; i++)
            if (!in[i].failed)
                render_text(stdout, in[i].name, in[i].v, col, all, in[i].ex);
    }
    loki_prof_end(&render_scope);
    if (prof) {
        char *rep = NULL;
        if (loki_profiler_text(prof, &rep, NULL) == LOKI_OK)
            fprintf(stderr, "%s", rep);
        free(rep);
    }
    if (stats) {
        loki_engine_stats es;
        loki_engine_stats_get(eng, &es);
        fprintf(stderr,
                "{\"checks\": %llu, \"errors\": %llu, \"bytes\": %llu, \"parallel\": %llu, "
                "\"scan_ms\": %.3f, \"evaluate_ms\": %.3f, \"detect_ms\": %.3f, "
                "\"db_from_cache\": %s}\n",
                (unsigned long long)es.checks, (unsigned long long)es.errors,
                (unsigned long long)es.bytes, (unsigned long long)es.parallel, es.scan_ms,
                es.evaluate_ms, es.detect_ms, loki_engine_db_from_cache(eng) ? "true" : "false");
    }
    rc = input_error ? EXIT_USAGE : findings ? EXIT_FINDINGS : EXIT_CLEAN;
out:
    loki_profiler_destroy(prof);
    if (in)
        for (size_t i = 0; i < n_files; i++) {
            loki_verdict_destroy(in[i].v);
            loki_extracted_destroy(in[i].ex);
        }
    free(in);
    free(files);
    free(c.modules_arg);
    loki_engine_destroy(eng);
    return rc;
}
