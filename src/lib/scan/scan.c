/* SPDX-License-Identifier: MIT */
/*
 * One pass of Vectorscan over the text records, per pattern, merged candidate regions
 * [end - width, end]; PCRE2 (JIT) then enumerates the leftmost non-overlapping matches whose
 * start lies in those regions. Every real match ends at a reported end offset and starts at
 * most `width` bytes before it, so the regions cover every match start and the result equals a
 * leftmost enumeration over the whole text, at the cost of a scan plus small windows.
 */
#include <stdlib.h>
#include <string.h>

#include "scan.h"

loki_scratch *loki__scratch_create(const loki_ruleset *rs, const loki_db *db)
{
    loki_scratch *s = loki__calloc(1, sizeof *s);
    if (!s)
        return NULL;
    size_t np = rs->n_patterns;
    s->widths = db->widths;
    s->open = loki__calloc(np, sizeof *s->open);
    s->mt.sets = loki__calloc(rs->n_sets, sizeof *s->mt.sets);
    s->mt.n_sets = rs->n_sets;
    s->done = loki__calloc(np, sizeof *s->done);
    s->last_end = loki__calloc(np, sizeof *s->last_end);
    s->matched = loki__calloc(np, sizeof *s->matched);
    s->round_from = loki__calloc(rs->n_sets, sizeof *s->round_from);
    s->md = pcre2_match_data_create(1, NULL);
    s->mc = pcre2_match_context_create(NULL);
    if (!s->open || !s->mt.sets || !s->md || !s->mc || !s->done || !s->last_end ||
        !s->matched || !s->round_from) {
        loki__scratch_destroy(s, rs->n_sets);
        return NULL;
    }
    /* One scratch grown to fit every database. */
    for (size_t k = 0; k < db->n_dbs; k++)
        if (db->dbs[k] && hs_alloc_scratch(db->dbs[k], &s->hs) != HS_SUCCESS) {
            loki__scratch_destroy(s, rs->n_sets);
            return NULL;
        }
    return s;
}

void loki__scratch_destroy(loki_scratch *s, size_t n_sets)
{
    if (!s)
        return;
    if (s->hs)
        hs_free_scratch(s->hs);
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mc);
    loki__free(s->open);
    loki__free(s->done);
    loki__free(s->last_end);
    loki__free(s->matched);
    loki__free(s->round_from);
    loki__free(s->ready);
    loki__free(s->regions);
    loki__free(s->sorted);
    loki__free(s->pm);
    if (s->mt.sets)
        for (size_t i = 0; i < n_sets; i++) {
            loki__free(s->mt.sets[i].m);
            loki__free(s->mt.sets[i].loc);
        }
    loki__free(s->mt.sets);
    loki__free(s);
}

int loki__scan_on_match(unsigned int id, unsigned long long from, unsigned long long to,
                        unsigned int flags, void *ctx)
{
    (void)from;
    (void)flags;
    loki_scratch *s = ctx;
    if (s->chunked) {
        if (s->done_of[id])
            return 0;
        to += s->base;
        if (to <= s->lo || to > s->hi)
            return 0; /* another chunk's end (or an artefact of this chunk's edges) */
    } else if (s->done[id]) {
        return 0; /* scanned by an earlier database for this document */
    }
    size_t w = s->widths[id];
    size_t start = to > w ? (size_t)to - w : 0;
    int r = s->open[id];
    if (r >= 0 && start <= s->regions[r].end) {
        s->regions[r].end = (size_t)to;
        return 0;
    }
    if (s->n_regions == s->cap_regions) {
        size_t nc = s->cap_regions ? s->cap_regions * 2 : 256;
        loki_region *nr = nc > (size_t)INT32_MAX
                              ? NULL
                              : loki__reallocarray(s->regions, nc, sizeof *nr);
        if (!nr) {
            s->oom = 1;
            return 1; /* stop scanning */
        }
        s->regions = nr;
        s->cap_regions = nc;
    }
    s->regions[s->n_regions] = (loki_region){id, start, (size_t)to};
    s->open[id] = (int)s->n_regions++;
    return 0;
}

static int push_match(loki_set_matches *sm, const loki_match *m)
{
    if (sm->n == sm->cap) {
        size_t nc = sm->cap ? sm->cap * 2 : 8;
        loki_match *nm = loki__reallocarray(sm->m, nc, sizeof *nm);
        if (!nm)
            return -1;
        sm->m = nm;
        sm->cap = nc;
    }
    sm->m[sm->n++] = *m;
    return 0;
}

static int cmp_match(const void *a, const void *b)
{
    const loki_match *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->pattern < y->pattern ? -1 : x->pattern > y->pattern;
}

/* PCRE2 over one pattern's regions (sorted by end, disjoint). Appends to its set. The text
 * holds document bytes [s->tbase, len); offsets everywhere else are document offsets. */
static loki_status enumerate(loki_ruleset *rs, loki_pattern *p, unsigned pi, const loki_region *rg,
                             size_t n, loki_scratch *s, const char *text, size_t len,
                             loki_error *err)
{
    loki_set_matches *sm = &s->mt.sets[p->set];
    int all = rs->sets[p->set].needs_all != 0;
    if (!all && s->matched[pi])
        return LOKI_OK; /* presence is all that is read, and it is known */
    pcre2_code *re = loki__pattern_code(rs, p, err);
    if (!re)
        return LOKI_EPARSE;
    size_t tb = s->tbase, last_end = s->last_end[pi];
    for (size_t i = 0; i < n; i++) {
        size_t pos = rg[i].start > last_end ? rg[i].start : last_end;
        /* A match starting by rg.end ends by rg.end + width; one byte more keeps \b and $
         * honest at that end. Anything that would need the (false) end of this shortened
         * subject starts after the offset limit, so it is never reported. Without the cut,
         * PCRE2's first-character search would run to the end of the text on every call. */
        size_t sub = rg[i].end + p->width + 1;
        if (sub > len)
            sub = len;
        while (pos <= rg[i].end && pos < len) {
            pcre2_set_offset_limit(s->mc, rg[i].end - tb);
            int rc = pcre2_match(re, (PCRE2_SPTR)text, sub - tb, pos - tb, 0, s->md, s->mc);
            if (rc == PCRE2_ERROR_NOMATCH)
                break;
            if (rc < 0)
                return loki__err_at(err, LOKI_EINTERNAL, p->file, p->line, p->col,
                                    "regex engine error %d on pattern /%.200s/", rc, p->source);
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
            loki_match m = {ov[0] + tb, ov[1] + tb, pi};
            if (push_match(sm, &m))
                return loki__err(err, LOKI_ENOMEM, "out of memory");
            if (!s->matched[pi]) {
                s->matched[pi] = 1;
                sm->distinct++;
            }
            if (!all)
                return LOKI_OK;
            last_end = m.end;
            s->last_end[pi] = last_end;
            pos = m.end > m.start ? m.end : m.end + 1;
        }
    }
    return LOKI_OK;
}

void loki__scan_reset(const loki_ruleset *rs, loki_scratch *s)
{
    for (size_t i = 0; i < rs->n_sets; i++) {
        s->mt.sets[i].n = 0;
        s->mt.sets[i].total = 0;
        s->mt.sets[i].distinct = 0;
        s->round_from[i] = 0;
    }
    memset(s->open, 0xff, rs->n_patterns * sizeof *s->open);
    memset(s->done, 0, rs->n_patterns * sizeof *s->done);
    memset(s->last_end, 0, rs->n_patterns * sizeof *s->last_end);
    memset(s->matched, 0, rs->n_patterns * sizeof *s->matched);
    s->tbase = 0;
    s->n_regions = 0;
    s->enumerated = 0;
    s->oom = 0;
}

static int cmp_region(const void *a, const void *b)
{
    const loki_region *x = a, *y = b;
    if (x->pattern != y->pattern)
        return x->pattern < y->pattern ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

loki_status loki__scan_db(loki_ruleset *rs, const loki_db *db, size_t which, loki_scratch *s,
                          const char *text, size_t len, loki_error *err)
{
    hs_database_t *d = which < db->n_dbs ? db->dbs[which] : NULL;
    if (!d || len == 0)
        return LOKI_OK;
    size_t from = s->n_regions;
    hs_error_t he = hs_scan(d, text, (unsigned)len, 0, s->hs, loki__scan_on_match, s);
    if (s->oom)
        return loki__err(err, LOKI_ENOMEM, "out of memory recording matches");
    if (he != HS_SUCCESS && he != HS_SCAN_TERMINATED)
        return loki__err(err, LOKI_EINTERNAL, "scanner failed (error %d)", (int)he);
    return loki__scan_finish(rs, which, s, from, text, len, err);
}

loki_status loki__scan_finish(loki_ruleset *rs, size_t which, loki_scratch *s, size_t from,
                              const char *text, size_t len, loki_error *err)
{
    /* Mark this database's patterns as done so a later database does not count them again. */
    for (size_t i = 0; i < rs->n_patterns; i++) {
        const loki_set *set = &rs->sets[rs->patterns[i].set];
        if (which == LOKI_DB_DOMAIN ? set->domain != 0 : set->module + 1 == which)
            s->done[i] = 1;
    }
    return loki__scan_enumerate(rs, s, s->regions + from, s->n_regions - from, text, len, err);
}

loki_status loki__scan_enumerate(loki_ruleset *rs, loki_scratch *s, const loki_region *rg,
                                 size_t nr, const char *text, size_t len, loki_error *err)
{
    if (nr == 0)
        return LOKI_OK;
    /* Group the regions by pattern; within a pattern they stay in end order. */
    loki_region *sorted = loki__reallocarray(s->sorted, nr, sizeof *sorted);
    if (!sorted)
        return loki__err(err, LOKI_ENOMEM, "out of memory");
    s->sorted = sorted;
    memcpy(sorted, rg, nr * sizeof *sorted);
    qsort(sorted, nr, sizeof *sorted, cmp_region);
    size_t i = 0;
    while (i < nr) {
        unsigned pi = sorted[i].pattern;
        size_t j = i;
        while (j < nr && sorted[j].pattern == pi)
            j++;
        loki_pattern *p = &rs->patterns[pi];
        if (rs->sets[p->set].used) {
            loki_status st = enumerate(rs, p, pi, sorted + i, j - i, s, text, len, err);
            if (st != LOKI_OK)
                return st;
        }
        i = j;
    }
    /* Sort each set's new matches and drop identical spans found by two of its patterns.
     * (Matches of earlier streaming rounds all start before any new one.) */
    for (size_t k = 0; k < rs->n_sets; k++) {
        loki_set_matches *sm = &s->mt.sets[k];
        size_t a = s->round_from[k];
        if (sm->n - a >= 2) {
            qsort(sm->m + a, sm->n - a, sizeof *sm->m, cmp_match);
            size_t o = a + 1;
            for (size_t q = a + 1; q < sm->n; q++)
                if (sm->m[q].start != sm->m[o - 1].start || sm->m[q].end != sm->m[o - 1].end)
                    sm->m[o++] = sm->m[q];
            sm->n = o;
        }
        sm->total += sm->n - a;
        s->round_from[k] = sm->n;
    }
    return LOKI_OK;
}

loki_status loki__scan(loki_ruleset *rs, const loki_db *db, loki_scratch *s,
                       const char *text, size_t len, loki_error *err)
{
    loki__scan_reset(rs, s);
    for (size_t m = 0; m < rs->n_modules; m++) {
        loki_status st = loki__scan_db(rs, db, LOKI_DB_MODULE(m), s, text, len, err);
        if (st != LOKI_OK)
            return st;
    }
    return LOKI_OK;
}
