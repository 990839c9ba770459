/* SPDX-License-Identifier: MIT */
/*
 * Exact parallel scanning of one large document. The text is cut into k chunks at paragraph
 * (else line, else sentence) boundaries near len*i/k. Chunk i owns the match ends in
 * (b[i], b[i+1]]. It is scanned from well before b[i] — at least the widest pattern plus one
 * byte, moved back to a non-word character so that no \b-prefixed match can start at the
 * artificial beginning — to one byte past b[i+1], so that a \b after an owned end sees the real
 * next byte. Every real match ending in (b[i], b[i+1]] lies inside that window, so the chunk
 * reports it; ends outside the owned range are dropped. The regions of all chunks, in chunk
 * order, are then exactly the regions of a one-thread scan, and the PCRE2 pass and everything
 * after it run once, as usual. (Single-match patterns: a chunk may stop reporting a pattern
 * after a real match in its overlap; that match is owned and reported by an earlier chunk, so
 * the first match over the whole text is still found.)
 */
#include <ctype.h>
#include <pthread.h>
#include <string.h>

#include "scan.h"

typedef struct job {
    hs_database_t *d;
    loki_scratch *w;
    const char *text;
    size_t off, n;
    hs_error_t he;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    j->he = hs_scan(j->d, j->text + j->off, (unsigned)j->n, 0, j->w->hs, loki__scan_on_match,
                    j->w);
    return NULL;
}

static int is_word(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

loki_status loki__scan_db_par(loki_ruleset *rs, const loki_db *db, size_t which, loki_scratch *s,
                              const loki_par *par, const char *text, size_t len,
                              loki_error *err)
{
    hs_database_t *d = which < db->n_dbs ? db->dbs[which] : NULL;
    size_t k = par ? par->n_workers : 0;
    if (!d || len == 0)
        return LOKI_OK;
    if (k > 64)
        k = 64;
    if (k < 2 || len < 2 * par->min_chunk)
        return loki__scan_db(rs, db, which, s, text, len, err);
    if (len / k < par->min_chunk)
        k = len / par->min_chunk;
    size_t b[65];
    b[0] = 0;
    for (size_t i = 1; i < k; i++) {
        size_t c = loki__cut_near(text, len, len / k * i, 65536);
        b[i] = c > b[i - 1] ? c : b[i - 1];
    }
    b[k] = len;
    job jobs[64] = {{0}};
    pthread_t th[64];
    int started[64] = {0};
    size_t W = rs->max_width + 1;
    for (size_t i = 0; i < k; i++) {
        loki_scratch *w = par->workers[i];
        size_t o = b[i] > W ? b[i] - W : 0;
        while (o > 0 && is_word(text[o]))
            o--;
        size_t e = b[i + 1] < len ? b[i + 1] + 1 : len;
        memset(w->open, 0xff, rs->n_patterns * sizeof *w->open);
        w->n_regions = 0;
        w->oom = 0;
        w->chunked = 1;
        w->lo = b[i];
        w->hi = b[i + 1];
        w->base = o;
        w->done_of = s->done;
        jobs[i] = (job){d, w, text, o, e - o, HS_SUCCESS};
    }
    for (size_t i = 1; i < k; i++)
        started[i] = pthread_create(&th[i], NULL, run_job, &jobs[i]) == 0;
    run_job(&jobs[0]);
    for (size_t i = 1; i < k; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        else
            run_job(&jobs[i]); /* no thread to be had: do it here */
    }
    loki_status st = LOKI_OK;
    size_t from = s->n_regions;
    for (size_t i = 0; i < k && st == LOKI_OK; i++) {
        loki_scratch *w = par->workers[i];
        w->chunked = 0;
        if (w->oom)
            st = loki__err(err, LOKI_ENOMEM, "out of memory recording matches");
        else if (jobs[i].he != HS_SUCCESS)
            st = loki__err(err, LOKI_EINTERNAL, "scanner failed (error %d)", (int)jobs[i].he);
        else if (w->n_regions) {
            size_t need = s->n_regions + w->n_regions;
            if (need > s->cap_regions) {
                loki_region *nr = loki__reallocarray(s->regions, need, sizeof *nr);
                if (!nr) {
                    st = loki__err(err, LOKI_ENOMEM, "out of memory");
                    break;
                }
                s->regions = nr;
                s->cap_regions = need;
            }
            memcpy(s->regions + s->n_regions, w->regions, w->n_regions * sizeof *w->regions);
            s->n_regions = need;
        }
    }
    if (st != LOKI_OK)
        return st;
    return loki__scan_finish(rs, which, s, from, text, len, err);
}
