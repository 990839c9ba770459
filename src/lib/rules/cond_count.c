/* SPDX-License-Identifier: MIT */
/* count(set): number of distinct matches of the set. */
#include <limits.h>

#include "rules.h"

long loki__cond_count(const loki_cond *c, const loki_match_table *mt)
{
    size_t n = mt->sets[c->args[0]].total;
    return n > (size_t)LONG_MAX ? LONG_MAX : (long)n;
}
