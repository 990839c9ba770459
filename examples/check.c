/* SPDX-License-Identifier: MIT */
/* Example: build an engine from the bundled rule packs, check one text, print the verdict as
 * JSON. usage: example-check RULES_DIR ["text to check"] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loki/loki.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s RULES_DIR [TEXT]\n", argv[0]);
        return 2;
    }
    const char *text = argc > 2 ? argv[2]
                                : "Privacy notice. By using our website you agree to the "
                                  "collection of your personal data. We keep it indefinitely.";
    loki_engine_config cfg;
    loki_engine_config_default(&cfg);
    cfg.rules_path = argv[1];
    loki_engine *eng = NULL;
    loki_error err;
    if (loki_engine_create(&cfg, &eng, &err) != LOKI_OK) {
        fprintf(stderr, "%s:%u:%u: %s\n", err.file, err.line, err.column, err.message);
        return 1;
    }
    loki_check_options opts;
    loki_check_options_default(&opts);
    opts.document_type = "privacy_notice";
    loki_verdict *v = NULL;
    if (loki_check(eng, text, strlen(text), &opts, &v, &err) != LOKI_OK) {
        fprintf(stderr, "check failed: %s\n", err.message);
        loki_engine_destroy(eng);
        return 1;
    }
    /* Walk the findings directly... */
    for (size_t m = 0; m < v->n_modules; m++)
        for (size_t g = 0; g < v->modules[m].n_findings; g++) {
            const loki_finding *f = &v->modules[m].findings[g];
            if (f->status == LOKI_FAIL)
                printf("FAIL %s.%s (%s): %s [%s]\n", v->modules[m].module->id, f->gate->id,
                       loki_severity_name(f->severity), f->message, f->gate->legal_source);
        }
    /* ...or render the whole verdict. */
    char *json = NULL;
    if (loki_verdict_to_json(v, LOKI_JSON_NO_TIMINGS, &json, NULL) == LOKI_OK)
        printf("%zu bytes of JSON, overall risk %s\n", strlen(json),
               loki_risk_name(v->overall_risk));
    free(json);
    loki_verdict_destroy(v);
    loki_engine_destroy(eng);
    return 0;
}
