/* SPDX-License-Identifier: MIT */
/* Human-readable verdicts: grouped by module, worst first within a module, spans as
 * FILE:LINE:COL with the excerpt, colour on a terminal. */
#include <string.h>

#include "cli.h"
#include "loki/extract.h"

#define RED "\033[31m"
#define YEL "\033[33m"
#define GRN "\033[32m"
#define DIM "\033[2m"
#define BLD "\033[1m"
#define RST "\033[0m"

static const char *status_color(loki_gate_status s)
{
    switch (s) {
    case LOKI_FAIL: return RED;
    case LOKI_WARNING: return YEL;
    case LOKI_PASS: return GRN;
    default: return DIM;
    }
}

static void excerpt(FILE *f, const char *p, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n && i < 80; i++) {
        char c = p[i];
        fputc(c == '\n' || c == '\r' || c == '\t' ? ' ' : c, f);
    }
    if (n > 80)
        fputs("...", f);
    fputc('"', f);
}

static void where(FILE *f, const char *name, const loki_span *s, const loki_extracted *ex)
{
    loki_location loc;
    char buf[160];
    if (ex && loki_extracted_locate(ex, s->start, &loc) == LOKI_OK &&
        loki_location_format(&loc, buf, sizeof buf) > 0)
        fprintf(f, "          at %s (%s) ", name, buf);
    else
        fprintf(f, "          at %s:%u:%u ", name, s->line, s->column);
}

static void finding(FILE *f, const char *name, const loki_finding *g, int color,
                    const loki_extracted *ex)
{
    const char *c = color ? status_color(g->status) : "";
    const char *r = color ? RST : "";
    fprintf(f, "  %s%-7s%s %-8s %s%s%s: %s\n", c, loki_status_name(g->status), r,
            g->status == LOKI_FAIL || g->status == LOKI_WARNING ? loki_severity_name(g->severity)
                                                                : "",
            color ? BLD : "", g->gate->id, r, g->message);
    if (g->status == LOKI_FAIL || g->status == LOKI_WARNING) {
        fprintf(f, "          %slegal: %s%s\n", color ? DIM : "", g->gate->legal_source, r);
        if (g->suggestion)
            fprintf(f, "          fix: %s\n", g->suggestion);
        if (g->penalty)
            fprintf(f, "          penalty: %s\n", g->penalty);
        for (size_t i = 0; i < g->n_spans; i++) {
            where(f, name, &g->spans[i], ex);
            excerpt(f, g->spans[i].text, g->spans[i].text_len);
            fputc('\n', f);
        }
    }
}

void render_text(FILE *f, const char *name, const loki_verdict *v, int color, int all,
                 const loki_extracted *ex)
{
    const char *rc = v->overall_risk >= LOKI_RISK_HIGH ? RED
                     : v->overall_risk == LOKI_RISK_MEDIUM ? YEL : GRN;
    unsigned fails = 0, warns = 0;
    for (int s = 0; s < 5; s++) {
        fails += v->fail_by_severity[s];
        warns += v->warning_by_severity[s];
    }
    fprintf(f, "%s%s%s: %s%s risk%s — %u FAIL, %u WARNING (type: %s", color ? BLD : "", name,
            color ? RST : "", color ? rc : "", loki_risk_name(v->overall_risk),
            color ? RST : "", fails, warns, v->document_type);
    if (v->n_detected_types)
        fprintf(f, "; looks like %s", v->detected_types[0]);
    fputs(")\n", f);
    for (size_t m = 0; m < v->n_modules; m++) {
        const loki_module_result *mr = &v->modules[m];
        if (!mr->applicable && !all)
            continue;
        if (!all && mr->summary[LOKI_FAIL] == 0 && mr->summary[LOKI_WARNING] == 0)
            continue;
        fprintf(f, "%s%s%s (%s %s): %u pass, %u fail, %u warning, %u n/a\n", color ? BLD : "",
                mr->module->id, color ? RST : "", mr->module->name, mr->module->version,
                mr->summary[LOKI_PASS], mr->summary[LOKI_FAIL], mr->summary[LOKI_WARNING],
                mr->summary[LOKI_NA]);
        /* FAILs first (worst severity first), then WARNINGs, then the rest with --all. */
        for (int pass = 0; pass < 3; pass++)
            for (int sev = LOKI_SEV_CRITICAL; sev >= LOKI_SEV_NONE; sev--)
                for (size_t g = 0; g < mr->n_findings; g++) {
                    const loki_finding *x = &mr->findings[g];
                    if ((int)x->severity != sev)
                        continue;
                    if ((pass == 0 && x->status == LOKI_FAIL) ||
                        (pass == 1 && x->status == LOKI_WARNING) ||
                        (pass == 2 && all && x->status != LOKI_FAIL &&
                         x->status != LOKI_WARNING))
                        finding(f, name, x, color, ex);
                }
    }
    if (v->n_universal) {
        fprintf(f, "%suniversal%s (detectors run on every document): %zu finding%s\n",
                color ? BLD : "", color ? RST : "", v->n_universal, v->n_universal == 1 ? "" : "s");
        for (size_t i = 0; i < v->n_universal; i++) {
            const loki_universal_finding *u = &v->universal[i];
            const char *c = color ? status_color(u->status) : "", *r = color ? RST : "";
            fprintf(f, "  %s%-7s%s %-8s %s.%s: %s\n", c, loki_status_name(u->status), r,
                    loki_severity_name(u->severity), u->detector, u->type, u->message);
            if (u->suggestion)
                fprintf(f, "          fix: %s\n", u->suggestion);
            for (size_t s = 0; s < u->n_spans; s++) {
                where(f, name, &u->spans[s], ex);
                excerpt(f, u->spans[s].text, u->spans[s].text_len);
                fputc('\n', f);
            }
        }
    }
    if (fails == 0 && warns == 0 && !all)
        fprintf(f, "  no findings\n");
}
