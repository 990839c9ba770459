/* SPDX-License-Identifier: MIT */
/* distinct(set): how many different patterns of the set matched at least once. */
#include "rules.h"

long loki__cond_distinct(const loki_cond *c, const loki_match_table *mt)
{
    return (long)mt->sets[c->args[0]].distinct;
}
