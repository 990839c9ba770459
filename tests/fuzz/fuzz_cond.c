/* SPDX-License-Identifier: MIT */
/* Fuzz target: the condition parser and evaluator on arbitrary expressions. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *names[] = {"a", "b", "c"};

static int resolve(void *ctx, const char *name, size_t len)
{
    (void)ctx;
    for (int i = 0; i < 3; i++)
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
            return i;
    return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *expr = malloc(size + 1);
    memcpy(expr, data, size);
    expr[size] = '\0';
    loki_match ma[] = {{1, 3, 0}, {10, 20, 1}};
    loki_set_matches sets[3] = {
        {.m = ma, .n = 2, .cap = 2, .total = 2, .distinct = 2},
        {.m = ma + 1, .n = 1, .cap = 1, .total = 1, .distinct = 1},
        {.m = NULL, .n = 0, .cap = 0, .total = 0, .distinct = 0},
    };
    loki_match_table mt = {.sets = sets, .n_sets = 3};
    loki_arena a;
    loki__arena_init(&a);
    loki_cond *c = NULL;
    char msg[256];
    size_t pos;
    if (loki__cond_parse(&a, expr, resolve, NULL, &c, msg, sizeof msg, &pos) == 0)
        (void)loki__cond_eval(c, &mt);
    else if (pos > size)
        abort(); /* an error position must lie inside the expression */
    loki__arena_release(&a);
    free(expr);
    return 0;
}
