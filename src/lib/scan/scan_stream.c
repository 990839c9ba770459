/* SPDX-License-Identifier: MIT */
/*
 * Streaming enumeration. hs_scan_stream() reports match ends at document offsets as the bytes
 * go by, and loki__scan_on_match() records candidate regions exactly as for one block scan.
 * What changes is when a region is handed to PCRE2: a match that starts at p needs the text up
 * to p + width + 1, so after bytes [.., end) have arrived, only starts below
 * safe = end - max_width - 1 can be settled. Each round enumerates every region (or the part of
 * a region) below safe and keeps the rest pending; the per-pattern "last match end" carried by
 * the scratch makes the rounds add up to one leftmost, non-overlapping enumeration over the
 * whole document. Every new region ends after the previous round's scanned end, so it starts
 * at or after the previous safe: each round's matches start after all earlier rounds' matches,
 * and the per-set lists stay sorted when rounds are appended.
 */
#include <stdint.h>
#include <string.h>

#include "scan.h"

loki_status loki__scan_stream_round(loki_ruleset *rs, loki_scratch *s, const char *text,
                                    size_t tbase, size_t end, int eof, size_t *safe_out,
                                    loki_error *err)
{
    size_t W = rs->max_width + 1;
    size_t safe = eof ? SIZE_MAX : (end > W ? end - W : 0);
    size_t n = s->n_regions, nready = 0, nkeep = 0;
    if (n > s->cap_ready) {
        loki_region *r = loki__reallocarray(s->ready, n, sizeof *r);
        if (!r)
            return loki__err(err, LOKI_ENOMEM, "out of memory");
        s->ready = r;
        s->cap_ready = n;
    }
    loki_region *ready = s->ready;
    for (size_t i = 0; i < n; i++) {
        loki_region r = s->regions[i];
        if (r.end < safe) {
            ready[nready++] = r;
            continue;
        }
        if (r.start < safe) {
            ready[nready++] = (loki_region){r.pattern, r.start, safe - 1};
            r.start = safe; /* the rest waits for more text */
        }
        s->regions[nkeep++] = r;
    }
    s->n_regions = nkeep;
    /* Only a pattern's latest region may grow; regions created in order, so the last kept one
     * of each pattern is its open region. */
    memset(s->open, 0xff, rs->n_patterns * sizeof *s->open);
    for (size_t i = 0; i < nkeep; i++)
        s->open[s->regions[i].pattern] = (int)i;
    s->tbase = tbase;
    loki_status st = loki__scan_enumerate(rs, s, ready, nready, text, end, err);
    *safe_out = eof ? end : safe;
    return st;
}

size_t loki__scan_pending_from(const loki_scratch *s, size_t dflt)
{
    size_t m = dflt;
    for (size_t i = 0; i < s->n_regions; i++)
        if (s->regions[i].start < m)
            m = s->regions[i].start;
    return m;
}
