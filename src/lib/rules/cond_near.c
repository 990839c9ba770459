/* SPDX-License-Identifier: MIT */
/*
 * near(a, b, n): some match of a and some match of b lie within n bytes of each other (the gap
 * between them, 0 when they overlap), in either order. Both lists are sorted by start, so a
 * merge walk keeps this linear in the number of matches.
 */
#include "rules.h"

static int close_enough(const loki_match *x, const loki_match *y, size_t n)
{
    size_t gap;
    if (x->end <= y->start)
        gap = y->start - x->end;
    else if (y->end <= x->start)
        gap = x->start - y->end;
    else
        gap = 0;
    return gap <= n;
}

long loki__cond_near(const loki_cond *c, const loki_match_table *mt)
{
    for (size_t k = 0; k < mt->n_near; k++)
        if (mt->near_conds[k] == c)
            return mt->near_true[k];
    const loki_set_matches *a = &mt->sets[c->args[0]], *b = &mt->sets[c->args[1]];
    size_t n = (size_t)c->num;
    size_t i = 0, j = 0;
    /* For each match of a, the nearest b matches are the last b starting before it and the
     * first b starting at or after it; as a advances, the b cursor only moves forward. */
    for (i = 0; i < a->n; i++) {
        while (j < b->n && b->m[j].start < a->m[i].start)
            j++;
        if (j < b->n && close_enough(&a->m[i], &b->m[j], n))
            return 1;
        /* Earlier b matches may end late (long matches): check back while their start is
         * within reach of the widest pattern. */
        for (size_t k = j; k > 0; k--) {
            const loki_match *y = &b->m[k - 1];
            if (close_enough(&a->m[i], y, n))
                return 1;
            if (a->m[i].start - y->start > n + LOKI_MAX_PATTERN_WIDTH)
                break;
        }
    }
    return 0;
}
