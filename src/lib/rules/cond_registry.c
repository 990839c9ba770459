/* SPDX-License-Identifier: MIT */
/* The condition-kind table. Adding a kind: one cond_<name>.c file, one row here, its test. */
#include "rules.h"

const loki_cond_func loki__cond_funcs[] = {
    {"count", "s", 1, 1, loki__cond_count},
    {"distinct", "s", 1, 0, loki__cond_distinct},
    {"near", "ssn", 0, 1, loki__cond_near},
};
const size_t loki__n_cond_funcs = sizeof loki__cond_funcs / sizeof loki__cond_funcs[0];
