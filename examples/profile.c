/* SPDX-License-Identifier: MIT */
/* Example: time checks with the profiler and print its report and Prometheus exposition.
 * usage: example-profile RULES_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loki/loki.h"
#include "loki/obs.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s RULES_DIR\n", argv[0]);
        return 2;
    }
    loki_engine_config ec;
    loki_engine_config_default(&ec);
    ec.rules_path = argv[1];
    loki_engine *eng = NULL;
    loki_profiler *prof = NULL;
    loki_error err;
    if (loki_engine_create(&ec, &eng, &err) != LOKI_OK ||
        loki_profiler_create(NULL, &prof) != LOKI_OK) {
        fprintf(stderr, "%s\n", err.message);
        loki_engine_destroy(eng);
        return 1;
    }
    loki_check_options o;
    loki_check_options_default(&o);
    o.profiler = prof; /* the engine times scan, evaluate and detectors into it */
    const char *t = "Dear Sam, you are invited to a disciplinary hearing tomorrow. You may not "
                    "bring anyone with you.";
    for (int i = 0; i < 100; i++) {
        loki_verdict *v = NULL;
        LOKI_PROF_SCOPE(prof, "my_request"); /* your own operations nest around them */
        if (loki_check(eng, t, strlen(t), &o, &v, &err) == LOKI_OK)
            loki_verdict_destroy(v);
    }
    char *rep = NULL;
    if (loki_profiler_text(prof, &rep, NULL) == LOKI_OK)
        fputs(rep, stdout);
    free(rep);
    if (loki_profiler_prometheus(prof, &rep, NULL) == LOKI_OK)
        printf("%.400s...\n", rep);
    free(rep);
    loki_profiler_destroy(prof);
    loki_engine_destroy(eng);
    return 0;
}
