/* SPDX-License-Identifier: MIT */
/* Fuzz target: loki_check() on arbitrary bytes with the bundled rule packs (LOKI_FUZZ_RULES). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loki/loki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static loki_engine *eng;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!eng) {
        loki_engine_config cfg;
        loki_engine_config_default(&cfg);
        const char *r = getenv("LOKI_FUZZ_RULES");
        cfg.rules_path = r ? r : LOKI_SOURCE_RULES;
        const char *c = getenv("LOKI_CACHE_DIR");
        cfg.cache_dir = c;
        cfg.jobs = 2;
        cfg.parallel_threshold = 4096;
        loki_error err;
        if (loki_engine_create(&cfg, &eng, &err) != LOKI_OK)
            abort();
    }
    loki_verdict *v = NULL;
    loki_error err;
    loki_check_options o;
    loki_check_options_default(&o);
    /* The first byte picks the document type, so applicability paths are fuzzed too. */
    const char *const *types = loki_document_types();
    size_t nt = 0;
    while (types[nt])
        nt++;
    if (size > 0) {
        o.document_type = types[data[0] % nt];
        data++;
        size--;
    }
    loki_status st = loki_check(eng, (const char *)data, size, &o, &v, &err);
    if (st == LOKI_OK) {
        char *js = NULL;
        if (loki_verdict_to_json(v, LOKI_JSON_PRETTY, &js, NULL) == LOKI_OK)
            free(js);
        loki_verdict_destroy(v);
    } else if (st != LOKI_EENCODING && st != LOKI_ELIMIT) {
        abort(); /* arbitrary text gets a verdict or an encoding/limit error, nothing else */
    }
    return 0;
}
