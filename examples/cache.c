/* SPDX-License-Identifier: MIT */
/* Example: cache verdicts with loki_cache_get_or_compute (memory tier; set LOKI_REDIS_URL in
 * your own program's configuration to add Redis). The second check of the same text is a hit.
 * usage: example-cache RULES_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loki/cache.h"
#include "loki/loki.h"

typedef struct job {
    loki_engine *eng;
    const char *text;
} job;

/* The expensive function: check and render. Errors are returned, never cached. */
static loki_status compute(void *ud, void **val, size_t *len, uint64_t *ttl_ms)
{
    (void)ttl_ms;
    job *j = ud;
    loki_verdict *v = NULL;
    loki_error err;
    loki_status st = loki_check(j->eng, j->text, strlen(j->text), NULL, &v, &err);
    if (st != LOKI_OK)
        return st;
    char *json = NULL;
    st = loki_verdict_to_json(v, 0, &json, len);
    loki_verdict_destroy(v);
    *val = json;
    return st;
}

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
    loki_cache *cache = NULL;
    loki_error err;
    loki_cache_config cc;
    loki_cache_config_default(&cc);
    if (loki_engine_create(&ec, &eng, &err) != LOKI_OK ||
        loki_cache_create(&cc, &cache, &err) != LOKI_OK) {
        fprintf(stderr, "%s\n", err.message);
        loki_engine_destroy(eng);
        return 1;
    }
    job j = {eng, "Invoice INV-7. VAT number GB123456789. Total due: £120.00."};
    loki_cache_key_parts kp = {0};
    kp.text = j.text;
    kp.text_len = strlen(j.text);
    kp.ruleset_fingerprint = loki_engine_fingerprint(eng);
    char key[65];
    loki_cache_key_build(&kp, key);
    for (int i = 0; i < 2; i++) {
        void *val = NULL;
        size_t len = 0;
        int hit = 0;
        loki_status st =
            loki_cache_get_or_compute(cache, "verdict", key, 64, compute, &j, &val, &len, &hit);
        printf("check %d: %s, %zu bytes (%s)\n", i + 1, loki_strerror(st), len,
               hit ? "from cache" : "computed");
        free(val);
    }
    loki_cache_stats s;
    loki_cache_stats_get(cache, &s);
    printf("hits %llu, misses %llu\n", (unsigned long long)s.hits, (unsigned long long)s.misses);
    loki_cache_destroy(cache);
    loki_engine_destroy(eng);
    return 0;
}
