/* SPDX-License-Identifier: MIT */
/*
 * SARIF 2.1.0: one run, one rule per gate (id "module.gate"), one result per evaluated gate.
 * kind: FAIL → fail, WARNING → review, PASS → pass, N/A → notApplicable; level from the
 * severity for fail/review (critical, high → error; medium → warning; low → note), none
 * otherwise. Built with cJSON: this is not a hot path.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *level(const loki_finding *f)
{
    if (f->status != LOKI_FAIL && f->status != LOKI_WARNING)
        return "none";
    switch (f->severity) {
    case LOKI_SEV_CRITICAL:
    case LOKI_SEV_HIGH: return "error";
    case LOKI_SEV_MEDIUM: return "warning";
    default: return "note";
    }
}

static const char *kind(loki_gate_status s)
{
    switch (s) {
    case LOKI_FAIL: return "fail";
    case LOKI_WARNING: return "review";
    case LOKI_PASS: return "pass";
    default: return "notApplicable";
    }
}

static cJSON *rules_array(const loki_engine *eng)
{
    cJSON *rules = cJSON_CreateArray();
    for (size_t m = 0; m < loki_engine_module_count(eng); m++) {
        const loki_module_info *mi = loki_engine_module(eng, m);
        for (size_t g = 0; g < mi->n_gates; g++) {
            const loki_gate_info *gi = mi->gates[g];
            char id[160];
            snprintf(id, sizeof id, "%s.%s", mi->id, gi->id);
            cJSON *r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "id", id);
            cJSON_AddStringToObject(r, "name", gi->id);
            cJSON *sd = cJSON_AddObjectToObject(r, "shortDescription");
            cJSON_AddStringToObject(sd, "text", gi->title);
            cJSON *props = cJSON_AddObjectToObject(r, "properties");
            cJSON_AddStringToObject(props, "legal_source", gi->legal_source);
            cJSON_AddStringToObject(props, "severity", loki_severity_name(gi->severity));
            cJSON_AddStringToObject(props, "module", mi->id);
            cJSON_AddItemToArray(rules, r);
        }
    }
    return rules;
}

static void add_location(cJSON *locs, const char *uri, const loki_span *s)
{
    cJSON *loc = cJSON_CreateObject();
    cJSON *pl = cJSON_AddObjectToObject(loc, "physicalLocation");
    cJSON *al = cJSON_AddObjectToObject(pl, "artifactLocation");
    cJSON_AddStringToObject(al, "uri", uri);
    if (s) {
        cJSON *rg = cJSON_AddObjectToObject(pl, "region");
        cJSON_AddNumberToObject(rg, "startLine", s->line);
        cJSON_AddNumberToObject(rg, "startColumn", s->column);
        cJSON_AddNumberToObject(rg, "charOffset", (double)s->char_start);
        cJSON_AddNumberToObject(rg, "charLength", (double)(s->char_end - s->char_start));
        cJSON *sn = cJSON_AddObjectToObject(rg, "snippet");
        char *t = strndup(s->text, s->text_len);
        cJSON_AddStringToObject(sn, "text", t ? t : "");
        free(t);
    }
    cJSON_AddItemToArray(locs, loc);
}

char *render_sarif(const loki_engine *eng, const char *const *names,
                   const loki_verdict *const *verdicts, size_t n)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "$schema",
                            "https://json.schemastore.org/sarif-2.1.0.json");
    cJSON_AddStringToObject(root, "version", "2.1.0");
    cJSON *runs = cJSON_AddArrayToObject(root, "runs");
    cJSON *run = cJSON_CreateObject();
    cJSON_AddItemToArray(runs, run);
    cJSON *tool = cJSON_AddObjectToObject(run, "tool");
    cJSON *drv = cJSON_AddObjectToObject(tool, "driver");
    cJSON_AddStringToObject(drv, "name", "loki");
    cJSON_AddStringToObject(drv, "version", loki_version());
    cJSON_AddStringToObject(drv, "semanticVersion", loki_version());
    cJSON_AddItemToObject(drv, "rules", rules_array(eng));
    cJSON *results = cJSON_AddArrayToObject(run, "results");
    for (size_t i = 0; i < n; i++) {
        const loki_verdict *v = verdicts[i];
        for (size_t m = 0; m < v->n_modules; m++) {
            const loki_module_result *mr = &v->modules[m];
            for (size_t g = 0; g < mr->n_findings; g++) {
                const loki_finding *f = &mr->findings[g];
                char id[160];
                snprintf(id, sizeof id, "%s.%s", mr->module->id, f->gate->id);
                cJSON *r = cJSON_CreateObject();
                cJSON_AddStringToObject(r, "ruleId", id);
                cJSON_AddStringToObject(r, "kind", kind(f->status));
                cJSON_AddStringToObject(r, "level", level(f));
                cJSON *msg = cJSON_AddObjectToObject(r, "message");
                char text[2048];
                snprintf(text, sizeof text, "%s%s%s", f->message,
                         f->suggestion ? " Fix: " : "", f->suggestion ? f->suggestion : "");
                cJSON_AddStringToObject(msg, "text", text);
                cJSON *locs = cJSON_AddArrayToObject(r, "locations");
                if (f->n_spans == 0)
                    add_location(locs, names[i], NULL);
                for (size_t s = 0; s < f->n_spans; s++)
                    add_location(locs, names[i], &f->spans[s]);
                cJSON *props = cJSON_AddObjectToObject(r, "properties");
                cJSON_AddStringToObject(props, "status", loki_status_name(f->status));
                cJSON_AddStringToObject(props, "severity", loki_severity_name(f->severity));
                cJSON_AddStringToObject(props, "legal_source", f->gate->legal_source);
                cJSON_AddStringToObject(props, "document_hash", v->document_hash);
                cJSON_AddItemToArray(results, r);
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        const loki_verdict *v = verdicts[i];
        for (size_t k = 0; k < v->n_universal; k++) {
            const loki_universal_finding *u = &v->universal[k];
            char id[160];
            snprintf(id, sizeof id, "universal.%s.%s", u->detector, u->type);
            cJSON *r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "ruleId", id);
            cJSON_AddStringToObject(r, "kind", u->status == LOKI_FAIL ? "fail" : "review");
            loki_finding tmp = {0};
            tmp.status = u->status;
            tmp.severity = u->severity;
            cJSON_AddStringToObject(r, "level", level(&tmp));
            cJSON *msg = cJSON_AddObjectToObject(r, "message");
            cJSON_AddStringToObject(msg, "text", u->message);
            cJSON *locs = cJSON_AddArrayToObject(r, "locations");
            if (u->n_spans == 0)
                add_location(locs, names[i], NULL);
            for (size_t s = 0; s < u->n_spans; s++)
                add_location(locs, names[i], &u->spans[s]);
            cJSON *props = cJSON_AddObjectToObject(r, "properties");
            cJSON_AddNumberToObject(props, "confidence", u->confidence);
            cJSON_AddItemToArray(results, r);
        }
    }
    char *out = cJSON_Print(root);
    cJSON_Delete(root);
    return out;
}
