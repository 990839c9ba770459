/* SPDX-License-Identifier: MIT */
/* Example: check a large document on several threads (jobs) and show that the verdict is the
 * same as a one-thread check. usage: example-parallel RULES_DIR [MiB] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loki/loki.h"

static loki_engine *engine(const char *rules, unsigned jobs)
{
    loki_engine_config c;
    loki_engine_config_default(&c);
    c.rules_path = rules;
    c.jobs = jobs;
    loki_engine *e = NULL;
    loki_error err;
    if (loki_engine_create(&c, &e, &err) != LOKI_OK)
        fprintf(stderr, "%s\n", err.message);
    return e;
}

static char *render(loki_engine *e, const char *t, size_t n, double *ms)
{
    loki_check_options o;
    loki_check_options_default(&o);
    o.timestamp = 1; /* fixed, so the two verdicts can be compared byte for byte */
    loki_verdict *v = NULL;
    loki_error err;
    char *json = NULL;
    if (loki_check(e, t, n, &o, &v, &err) == LOKI_OK) {
        *ms = v->total_ms;
        loki_verdict_to_json(v, LOKI_JSON_NO_TIMINGS, &json, NULL);
        loki_verdict_destroy(v);
    }
    return json;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s RULES_DIR [MiB]\n", argv[0]);
        return 2;
    }
    size_t n = (size_t)(argc > 2 ? atoi(argv[2]) : 4) << 20;
    const char *para = "We collect personal data to run the service and keep it for six years. "
                       "Capital at risk: you may get back less than you invest.\n\n";
    char *t = malloc(n);
    for (size_t i = 0; i < n; i++)
        t[i] = para[i % strlen(para)];
    loki_engine *one = engine(argv[1], 1), *two = engine(argv[1], 2);
    if (!one || !two)
        return 1;
    double m1 = 0, m2 = 0;
    char *a = render(one, t, n, &m1), *b = render(two, t, n, &m2);
    printf("%zu MiB: 1 job %.1f ms, 2 jobs %.1f ms, verdicts %s\n", n >> 20, m1, m2,
           a && b && strcmp(a, b) == 0 ? "identical" : "DIFFERENT");
    int rc = a && b && strcmp(a, b) == 0 ? 0 : 1;
    free(a);
    free(b);
    free(t);
    loki_engine_destroy(one);
    loki_engine_destroy(two);
    return rc;
}
