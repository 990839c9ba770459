/* SPDX-License-Identifier: MIT */
/* Fuzz target: the rule-pack loader and compiler on arbitrary bytes as a pack file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loki/loki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/loki-fuzz-rules.%ld", (long)getpid());
        mkdir(dir, 0700);
    }
    char path[300];
    snprintf(path, sizeof path, "%s/p.yaml", dir);
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    loki_engine_config cfg;
    loki_engine_config_default(&cfg);
    cfg.rules_path = dir;
    loki_engine *eng = NULL;
    loki_error err;
    if (loki_engine_create(&cfg, &eng, &err) == LOKI_OK) {
        /* A pack that loads must also check text and run its examples without trouble. */
        loki_verdict *v = NULL;
        const char *t = "privacy notice: we collect personal data and keep it forever.";
        if (loki_check(eng, t, strlen(t), NULL, &v, &err) == LOKI_OK) {
            char *js = NULL;
            if (loki_verdict_to_json(v, 0, &js, NULL) == LOKI_OK)
                free(js);
            loki_verdict_destroy(v);
        }
        for (size_t i = 0; i < loki_engine_example_count(eng); i++) {
            const loki_example *e = loki_engine_example(eng, i);
            loki_gate_status gs;
            loki_engine_test_gate(eng, e->module_id, e->gate_id, e->text, strlen(e->text), &gs,
                                  &err);
        }
        loki_engine_destroy(eng);
    }
    return 0;
}
