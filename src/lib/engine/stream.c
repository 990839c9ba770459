/* SPDX-License-Identifier: MIT */
/*
 * Streaming checks: a document of any size in bounded memory, with the same rule-pack verdict
 * as loki_check() on the whole text.
 *
 * Bytes are buffered until a segment (about cfg.stream_segment_bytes, cut after a line end)
 * is complete and valid UTF-8. Each segment goes through the stream-mode Vectorscan databases
 * (match ends are reported at document offsets, so nothing is rescanned at segment edges) and
 * then one enumeration round (scan/scan_stream.c) turns every candidate region whose text is
 * complete into matches. After the round, for each pattern set:
 *   - the total count grows (count() reads it);
 *   - the first `keep` matches are kept, with their line/column, code-point offsets and text
 *     recorded now, because the text will be gone by the time the verdict is built (spans and
 *     detected-type signals need no more than max_spans_per_finding + 1 of them);
 *   - sets read by near() keep a tail of recent matches; near() is evaluated on the tails
 *     every round and remembered once true, and matches too far behind to pair with any later
 *     one are dropped.
 * The buffer then keeps only the text a later round can still need: from the first offset at
 * which a match may still start (the round's "safe" offset). Memory is therefore a couple of
 * segments plus the kept matches, whatever the document's size.
 *
 * The universal detectors (PII, claims...) run on each segment as it completes, with their
 * spans moved to document offsets and lines; see loki.h for what that changes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../detect/detect.h"
#include "../doc/doc.h"
#include "engine_int.h"

typedef struct cursor {
    size_t off;          /* document offset */
    unsigned line, col;  /* 1-based line; code points before off on its line */
    size_t cp;           /* code points before off */
} cursor;

struct loki_stream {
    loki_engine *eng;
    loki_check_options opts;
    const loki_db *sdb;
    loki_scratch *s;
    hs_stream_t **hs;             /* per database; NULL when not scanned */
    unsigned char *domain_mask;   /* per pattern: in a domain set */
    unsigned char *own_done;      /* the scratch's own done[]: all zero in a stream (nothing
                                     marks it), so it doubles as "skip nothing" */
    int by_domain;
    char *buf;                    /* document bytes [bbase, bbase + blen) */
    size_t bbase, blen, cap;
    size_t scanned;               /* end of the last segment */
    size_t valid;                 /* bytes [0, valid) are valid UTF-8 */
    cursor cur;                   /* at the last round's safe offset */
    uint64_t fed;
    loki_sha256 sha;
    int sha_open;
    size_t keep;                  /* matches kept per set */
    size_t *kept;                 /* per set: matches kept and located so far */
    loki_arena loc_arena;         /* texts of kept matches */
    /* near() */
    size_t n_near;
    const loki_cond **near_conds;
    unsigned char *near_true;
    loki_set_matches *tails;      /* per set (empty for sets no near() reads) */
    size_t *reach;                /* per set: the largest near() distance it is read with */
    unsigned char *near_set;
    /* the verdict under construction (universal findings accumulate in its arena) */
    loki_verdict_impl *vi;
    loki_universal_finding *uni;
    size_t n_uni, cap_uni;
    double scan_ms, detect_ms;
    /* per-round work arrays, kept (a long stream would otherwise fragment the heap) */
    size_t *before;
    size_t *pos;
    cursor *at;
    size_t cap_pos;
    loki_status failed;
    loki_error failed_err;
};

static void advance(cursor *c, const char *buf, size_t bbase, size_t to)
{
    for (size_t i = c->off; i < to; i++) {
        unsigned char b = (unsigned char)buf[i - bbase];
        if (b == '\n') {
            c->line++;
            c->col = 0;
            c->cp++;
        } else if ((b & 0xC0) != 0x80) {
            c->col++;
            c->cp++;
        }
    }
    c->off = to;
}

/* Collects the near() conditions of every gate, outcome and domain guard. */
static int near_collect(loki_stream *st, const loki_cond *c)
{
    if (!c)
        return 0;
    if (c->kind == COND_FUNC && strcmp(c->func->name, "near") == 0) {
        for (size_t i = 0; i < st->n_near; i++)
            if (st->near_conds[i] == c)
                return 0;
        const loki_cond **nc = loki__reallocarray(st->near_conds, st->n_near + 1, sizeof *nc);
        if (!nc)
            return -1;
        st->near_conds = nc;
        nc[st->n_near++] = c;
        for (int k = 0; k < 2; k++) {
            st->near_set[c->args[k]] = 1;
            if ((size_t)c->num > st->reach[c->args[k]])
                st->reach[c->args[k]] = (size_t)c->num;
        }
        return 0;
    }
    return near_collect(st, c->a) || near_collect(st, c->b);
}

static loki_status fail(loki_stream *st, loki_status code, loki_error *err)
{
    st->failed = code;
    if (err)
        st->failed_err = *err;
    return code;
}

void loki_stream_destroy(loki_stream *st)
{
    if (!st)
        return;
    loki_ruleset *rs = st->eng->rs;
    for (size_t k = 0; st->hs && k < st->sdb->n_dbs; k++)
        if (st->hs[k])
            hs_close_stream(st->hs[k], NULL, NULL, NULL);
    if (st->s) {
        st->s->done = st->own_done;
        loki__scratch_destroy(st->s, rs->n_sets);
    }
    if (st->sha_open) {
        unsigned char md[32];
        loki__sha256_end(&st->sha, md);
    }
    for (size_t k = 0; st->tails && k < rs->n_sets; k++)
        loki__free(st->tails[k].m);
    loki__free(st->tails);
    loki__free(st->hs);
    loki__free(st->domain_mask);
    loki__free(st->buf);
    loki__free(st->kept);
    loki__free(st->near_conds);
    loki__free(st->near_true);
    loki__free(st->reach);
    loki__free(st->near_set);
    loki__free(st->uni);
    loki__free(st->before);
    loki__free(st->pos);
    loki__free(st->at);
    loki__arena_release(&st->loc_arena);
    if (st->vi)
        loki_verdict_destroy(&st->vi->pub);
    loki__free(st);
}

loki_status loki_stream_begin(loki_engine *eng, const loki_check_options *opts,
                              loki_stream **out, loki_error *err)
{
    loki__err_clear(err);
    if (!eng || !out)
        return loki__err(err, LOKI_EINVAL, "engine or out is NULL");
    *out = NULL;
    loki_check_options defaults;
    if (!opts) {
        loki_check_options_default(&defaults);
        opts = &defaults;
    }
    loki_status rc = loki__check_options_valid(eng, opts, err);
    if (rc != LOKI_OK)
        return rc;
    const loki_db *sdb = loki__engine_stream_db(eng, err);
    if (!sdb)
        return err && err->code ? err->code : LOKI_EINTERNAL;
    loki_ruleset *rs = eng->rs;
    loki_stream *st = loki__calloc(1, sizeof *st);
    if (!st)
        return loki__err(err, LOKI_ENOMEM, "out of memory");
    st->eng = eng;
    st->opts = *opts;
    st->sdb = sdb;
    loki__arena_init(&st->loc_arena);
    st->keep = (size_t)eng->cfg.max_spans_per_finding + 1;
    if (st->keep < 8)
        st->keep = 8; /* detected-type signals read the first 6 */
    const char *type = opts->document_type ? opts->document_type : "unknown";
    st->by_domain = strcmp(type, "unknown") == 0 || strcmp(type, "ai_generated") == 0;
    st->cur.line = 1;
    st->s = loki__scratch_create(rs, sdb);
    st->own_done = st->s ? st->s->done : NULL;
    st->hs = loki__calloc(sdb->n_dbs, sizeof *st->hs);
    st->domain_mask = loki__calloc(rs->n_patterns, 1);
    st->kept = loki__calloc(rs->n_sets, sizeof *st->kept);
    st->tails = loki__calloc(rs->n_sets, sizeof *st->tails);
    st->reach = loki__calloc(rs->n_sets, sizeof *st->reach);
    st->near_set = loki__calloc(rs->n_sets, 1);
    st->vi = loki__calloc(1, sizeof *st->vi);
    st->before = loki__calloc(rs->n_sets, sizeof *st->before);
    st->cap = 2 * eng->cfg.stream_segment_bytes + 65536;
    st->buf = loki__malloc(st->cap);
    if (!st->s || !st->hs || !st->domain_mask || !st->kept || !st->tails ||
        !st->reach || !st->near_set || !st->vi || !st->before || !st->buf)
        goto oom;
    loki__arena_init(&st->vi->arena);
    loki__arena_init(&st->vi->arena2);
    for (size_t i = 0; i < rs->n_sets; i++) {
        st->s->mt.sets[i].loc = loki__calloc(st->keep, sizeof(loki_match_loc));
        if (!st->s->mt.sets[i].loc)
            goto oom;
    }
    for (size_t i = 0; i < rs->n_patterns; i++)
        st->domain_mask[i] = rs->sets[rs->patterns[i].set].domain != 0;
    for (size_t m = 0; m < rs->n_modules; m++) {
        const loki_module *mod = &rs->modules[m];
        if (near_collect(st, mod->domain))
            goto oom;
        for (size_t g = 0; g < mod->info.n_gates; g++) {
            if (near_collect(st, mod->gates[g].relevant))
                goto oom;
            for (size_t o = 0; o < mod->gates[g].n_outcomes; o++)
                if (near_collect(st, mod->gates[g].outcomes[o].when))
                    goto oom;
        }
    }
    st->near_true = loki__calloc(st->n_near ? st->n_near : 1, 1);
    if (!st->near_true)
        goto oom;
    loki__scan_reset(rs, st->s);
    /* Which databases run: the domain one when the type is to be inferred, then every
     * requested module (applicability is decided at the end, from the same matches). */
    for (size_t k = 0; k < sdb->n_dbs; k++) {
        int want = k == LOKI_DB_DOMAIN ? st->by_domain : 1;
        if (k != LOKI_DB_DOMAIN && opts->modules && opts->n_modules) {
            want = 0;
            for (size_t i = 0; i < opts->n_modules; i++)
                want |= strcmp(opts->modules[i], rs->modules[k - 1].info.id) == 0;
        }
        if (want && sdb->dbs[k] && hs_open_stream(sdb->dbs[k], 0, &st->hs[k]) != HS_SUCCESS)
            goto oom;
    }
    if (loki__sha256_begin(&st->sha)) {
        loki_stream_destroy(st);
        return loki__err(err, LOKI_EINTERNAL, "SHA-256 failed");
    }
    st->sha_open = 1;
    *out = st;
    return LOKI_OK;
oom:
    loki_stream_destroy(st);
    return loki__err(err, LOKI_ENOMEM, "out of memory");
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Index of x in the sorted pos[0, n) (it is there). */
static size_t find(const size_t *pos, size_t n, size_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pos[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Locates the matches each set newly keeps, copies their text, and drops the rest. */
static loki_status keep_matches(loki_stream *st, loki_error *err)
{
    loki_ruleset *rs = st->eng->rs;
    loki_scratch *s = st->s;
    /* Offsets to locate, in order: every new kept match's start and end. */
    size_t n_pos = 0;
    for (size_t k = 0; k < rs->n_sets; k++) {
        size_t n = s->mt.sets[k].n < st->keep ? s->mt.sets[k].n : st->keep;
        if (n > st->kept[k])
            n_pos += 2 * (n - st->kept[k]);
    }
    if (n_pos) {
        if (n_pos > st->cap_pos) {
            size_t *np = loki__reallocarray(st->pos, n_pos, sizeof *np);
            if (np)
                st->pos = np;
            cursor *na = np ? loki__reallocarray(st->at, n_pos, sizeof *na) : NULL;
            if (!na)
                return loki__err(err, LOKI_ENOMEM, "out of memory");
            st->at = na;
            st->cap_pos = n_pos;
        }
        size_t *pos = st->pos;
        cursor *at = st->at;
        size_t j = 0;
        for (size_t k = 0; k < rs->n_sets; k++) {
            loki_set_matches *sm = &s->mt.sets[k];
            for (size_t i = st->kept[k]; i < sm->n && i < st->keep; i++) {
                pos[j++] = sm->m[i].start;
                pos[j++] = sm->m[i].end;
            }
        }
        qsort(pos, n_pos, sizeof *pos, cmp_size);
        cursor c = st->cur;
        for (size_t i = 0; i < n_pos; i++) {
            advance(&c, st->buf, st->bbase, pos[i]);
            at[i] = c;
        }
        loki_status rc = LOKI_OK;
        for (size_t k = 0; k < rs->n_sets && rc == LOKI_OK; k++) {
            loki_set_matches *sm = &s->mt.sets[k];
            for (size_t i = st->kept[k]; i < sm->n && i < st->keep; i++) {
                const loki_match *m = &sm->m[i];
                const cursor *a = &at[find(pos, n_pos, m->start)];
                loki_match_loc *l = &sm->loc[i];
                l->line = a->line;
                l->column = a->col + 1;
                l->char_start = a->cp;
                l->char_end = at[find(pos, n_pos, m->end)].cp;
                const char *t = st->buf + (m->start - st->bbase);
                size_t tl = loki__utf8_excerpt_len(t, m->end - m->start, LOKI_SPAN_TEXT_MAX);
                l->text = loki__arena_strndup(&st->loc_arena, t, tl);
                l->text_len = tl;
                if (!l->text)
                    rc = loki__err(err, LOKI_ENOMEM, "out of memory");
            }
        }
        if (rc != LOKI_OK)
            return rc;
    }
    for (size_t k = 0; k < rs->n_sets; k++) {
        loki_set_matches *sm = &s->mt.sets[k];
        if (sm->n > st->keep)
            sm->n = st->keep;
        st->kept[k] = sm->n;
        s->round_from[k] = sm->n;
    }
    return LOKI_OK;
}

/* near(): new matches join the tails, every condition not yet true is evaluated on them, and
 * matches that no later match can be near are dropped. */
static loki_status near_round(loki_stream *st, size_t safe, const size_t *before,
                              loki_error *err)
{
    if (!st->n_near)
        return LOKI_OK;
    loki_ruleset *rs = st->eng->rs;
    for (size_t k = 0; k < rs->n_sets; k++) {
        if (!st->near_set[k])
            continue;
        loki_set_matches *sm = &st->s->mt.sets[k], *t = &st->tails[k];
        size_t add = sm->n - before[k];
        if (!add)
            continue;
        if (t->n + add > t->cap) {
            size_t nc = (t->n + add) * 2;
            loki_match *nm = loki__reallocarray(t->m, nc, sizeof *nm);
            if (!nm)
                return loki__err(err, LOKI_ENOMEM, "out of memory");
            t->m = nm;
            t->cap = nc;
        }
        memcpy(t->m + t->n, sm->m + before[k], add * sizeof *t->m);
        t->n += add;
        t->total = t->n;
    }
    loki_match_table view = {.sets = st->tails, .n_sets = rs->n_sets};
    for (size_t i = 0; i < st->n_near; i++)
        if (!st->near_true[i])
            st->near_true[i] = loki__cond_near(st->near_conds[i], &view) != 0;
    for (size_t k = 0; k < rs->n_sets; k++) {
        loki_set_matches *t = &st->tails[k];
        size_t o = 0;
        for (size_t i = 0; i < t->n; i++)
            if (t->m[i].end + st->reach[k] >= safe) /* a later match starts at >= safe */
                t->m[o++] = t->m[i];
        t->n = t->total = o;
    }
    return LOKI_OK;
}

/* Deep-copies a detector finding into the verdict, moved from segment to document positions. */
static loki_status add_universal(loki_stream *st, const loki_universal_finding *f,
                                 const cursor *seg)
{
    loki_arena *a = &st->vi->arena;
    if (st->n_uni == st->cap_uni) {
        size_t nc = st->cap_uni ? st->cap_uni * 2 : 16;
        loki_universal_finding *nu = loki__reallocarray(st->uni, nc, sizeof *nu);
        if (!nu)
            return LOKI_ENOMEM;
        st->uni = nu;
        st->cap_uni = nc;
    }
    loki_universal_finding *u = &st->uni[st->n_uni];
    *u = *f;
    u->detector = f->detector ? loki__arena_strdup(a, f->detector) : NULL;
    u->type = f->type ? loki__arena_strdup(a, f->type) : NULL;
    u->message = f->message ? loki__arena_strdup(a, f->message) : NULL;
    u->suggestion = f->suggestion ? loki__arena_strdup(a, f->suggestion) : NULL;
    loki_span *sp = f->n_spans ? loki__arena_array(a, f->n_spans, sizeof *sp) : NULL;
    if ((f->detector && !u->detector) || (f->type && !u->type) ||
        (f->message && !u->message) || (f->suggestion && !u->suggestion) ||
        (f->n_spans && !sp))
        return LOKI_ENOMEM;
    for (size_t i = 0; i < f->n_spans; i++) {
        loki_span x = f->spans[i];
        x.start += seg->off;
        x.end += seg->off;
        x.char_start += seg->cp;
        x.char_end += seg->cp;
        if (x.line == 1)
            x.column += seg->col;
        x.line += seg->line - 1;
        x.text = x.text ? loki__arena_strndup(a, x.text, x.text_len) : NULL;
        x.label = x.label ? loki__arena_strdup(a, x.label) : NULL;
        if ((f->spans[i].text && !x.text) || (f->spans[i].label && !x.label))
            return LOKI_ENOMEM;
        sp[i] = x;
    }
    u->spans = sp;
    st->n_uni++;
    return LOKI_OK;
}

static loki_status run_detectors(loki_stream *st, size_t from, size_t to, loki_error *err)
{
    if (st->opts.no_universal || st->n_uni >= LOKI_STREAM_MAX_UNIVERSAL || to == from)
        return LOKI_OK;
    cursor seg = st->cur;
    advance(&seg, st->buf, st->bbase, from);
    loki_arena tmp;
    loki__arena_init(&tmp);
    loki_detect_input in = {st->buf + (from - st->bbase), to - from,
                            st->opts.document_type ? st->opts.document_type : "unknown", NULL,
                            &tmp, st->eng->cfg.max_spans_per_finding};
    loki_universal_finding *u = NULL;
    size_t n = 0;
    loki_status rc = loki__detect_all(&in, &u, &n, err);
    for (size_t i = 0; rc == LOKI_OK && i < n && st->n_uni < LOKI_STREAM_MAX_UNIVERSAL; i++)
        if (add_universal(st, &u[i], &seg) != LOKI_OK)
            rc = loki__err(err, LOKI_ENOMEM, "out of memory");
    loki__arena_release(&tmp);
    return rc;
}

/* Runs the segment [scanned, end) through the scanners, one enumeration round and the
 * detectors, then drops the text no later round needs. */
static loki_status round_run(loki_stream *st, size_t end, int eof, loki_error *err)
{
    loki_ruleset *rs = st->eng->rs;
    loki_scratch *s = st->s;
    double t0 = loki__now_ms();
    for (size_t k = 0; k < st->sdb->n_dbs; k++) {
        if (!st->hs[k])
            continue;
        /* With the domain database running, its patterns are not counted again by a module. */
        s->done = st->by_domain && k != LOKI_DB_DOMAIN ? st->domain_mask : st->own_done;
        hs_error_t he = HS_SUCCESS;
        if (end > st->scanned)
            he = hs_scan_stream(st->hs[k], st->buf + (st->scanned - st->bbase),
                                (unsigned)(end - st->scanned), 0, s->hs, loki__scan_on_match, s);
        if (eof && (he == HS_SUCCESS || he == HS_SCAN_TERMINATED)) {
            he = hs_close_stream(st->hs[k], s->hs, loki__scan_on_match, s);
            st->hs[k] = NULL;
        }
        if (s->oom)
            return loki__err(err, LOKI_ENOMEM, "out of memory recording matches");
        if (he != HS_SUCCESS && he != HS_SCAN_TERMINATED)
            return loki__err(err, LOKI_EINTERNAL, "scanner failed (error %d)", (int)he);
    }
    s->done = st->own_done;
    size_t *before = st->before;
    for (size_t k = 0; k < rs->n_sets; k++)
        before[k] = s->mt.sets[k].n;
    size_t safe = 0;
    loki_status rc = loki__scan_stream_round(rs, s, st->buf, st->bbase, end, eof, &safe, err);
    if (rc == LOKI_OK)
        rc = near_round(st, safe, before, err);
    if (rc == LOKI_OK)
        rc = keep_matches(st, err);
    double t1 = loki__now_ms();
    if (rc == LOKI_OK)
        rc = run_detectors(st, st->scanned, end, err);
    st->scan_ms += t1 - t0;
    st->detect_ms += loki__now_ms() - t1;
    if (rc != LOKI_OK)
        return rc;
    st->scanned = end;
    if (!eof) {
        /* Everything before `safe` is settled: move the cursor there and forget the text. */
        size_t keep_from = loki__scan_pending_from(s, safe);
        advance(&st->cur, st->buf, st->bbase, keep_from);
        size_t drop = keep_from - st->bbase;
        memmove(st->buf, st->buf + drop, st->blen - drop);
        st->blen -= drop;
        st->bbase = keep_from;
    }
    if (st->opts.progress)
        st->opts.progress(st->opts.progress_ctx, (uint64_t)end, 0);
    return LOKI_OK;
}

/* Length of the trailing bytes of p[0, n) that start a UTF-8 sequence not yet complete. */
static size_t incomplete_tail(const char *p, size_t n)
{
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char b = (unsigned char)p[n - back];
        if ((b & 0xC0) == 0x80)
            continue;
        size_t need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
        return need > back ? back : 0;
    }
    return 0;
}

/* Validates the buffered bytes up to the last complete character (all of them at eof). */
static loki_status validate_more(loki_stream *st, int eof, loki_error *err)
{
    size_t avail = st->bbase + st->blen;
    const char *p = st->buf + (st->valid - st->bbase);
    size_t n = avail - st->valid;
    if (!eof)
        n -= incomplete_tail(p, n);
    const char *why = "invalid UTF-8";
    size_t bad = loki__utf8_check(p, n, &why);
    if (bad < n) {
        cursor c = st->cur;
        advance(&c, st->buf, st->bbase, st->valid + bad);
        return loki__err_encoding(err, why, c.off, c.line, c.col + 1);
    }
    st->valid += n;
    return LOKI_OK;
}

/* Where the next segment ends: after the last line end once a segment's worth is valid, or
 * anywhere valid at twice that; 0 while more text is needed. */
static size_t segment_end(const loki_stream *st)
{
    size_t seg = st->eng->cfg.stream_segment_bytes;
    if (st->valid - st->scanned < seg)
        return 0;
    const char *from = st->buf + (st->scanned - st->bbase);
    size_t n = st->valid - st->scanned;
    for (size_t i = n; i > n / 2; i--)
        if (from[i - 1] == '\n')
            return st->scanned + i;
    return n >= 2 * seg ? st->valid : 0;
}

loki_status loki_stream_feed(loki_stream *st, const void *data, size_t len, loki_error *err)
{
    loki__err_clear(err);
    if (!st)
        return loki__err(err, LOKI_EINVAL, "stream is NULL");
    if (st->failed) {
        if (err)
            *err = st->failed_err;
        return st->failed;
    }
    if (!data && len)
        return loki__err(err, LOKI_EINVAL, "data is NULL");
    const char *p = data;
    while (len) {
        /* Take at most a segment at a time so the buffer stays near two segments. */
        size_t seg = st->eng->cfg.stream_segment_bytes;
        size_t take = len < seg ? len : seg;
        if (st->blen + take > st->cap) {
            size_t nc = st->cap ? st->cap : seg + 4096;
            while (nc < st->blen + take)
                nc *= 2;
            char *nb = loki__realloc(st->buf, nc);
            if (!nb)
                return fail(st, loki__err(err, LOKI_ENOMEM, "out of memory"), err);
            st->buf = nb;
            st->cap = nc;
        }
        memcpy(st->buf + st->blen, p, take);
        st->blen += take;
        if (loki__sha256_update(&st->sha, p, take))
            return fail(st, loki__err(err, LOKI_EINTERNAL, "SHA-256 failed"), err);
        st->fed += take;
        p += take;
        len -= take;
        loki_status rc = validate_more(st, 0, err);
        size_t end;
        while (rc == LOKI_OK && (end = segment_end(st)) != 0)
            rc = round_run(st, end, 0, err);
        if (rc != LOKI_OK)
            return fail(st, rc, err);
    }
    return LOKI_OK;
}

uint64_t loki_stream_bytes(const loki_stream *st)
{
    return st ? st->fed : 0;
}

loki_status loki_stream_end(loki_stream *st, loki_verdict **out, loki_error *err)
{
    loki__err_clear(err);
    if (!st || !out)
        return loki__err(err, LOKI_EINVAL, "stream or out is NULL");
    *out = NULL;
    if (st->failed) {
        if (err)
            *err = st->failed_err;
        return st->failed;
    }
    loki_engine *eng = st->eng;
    loki_status rc = validate_more(st, 1, err);
    if (rc == LOKI_OK)
        rc = round_run(st, st->bbase + st->blen, 1, err);
    if (rc != LOKI_OK) {
        atomic_fetch_add_explicit(&eng->st_errors, 1, memory_order_relaxed);
        return fail(st, rc, err);
    }
    loki_verdict *v = &st->vi->pub;
    unsigned char md[32];
    st->sha_open = 0;
    if (loki__sha256_end(&st->sha, md))
        return fail(st, loki__err(err, LOKI_EINTERNAL, "SHA-256 failed"), err);
    loki__hex(md, 32, v->document_hash);
    v->document_bytes = (size_t)st->fed;
    v->timestamp = st->opts.timestamp ? st->opts.timestamp : (int64_t)time(NULL);
    if (st->n_uni) {
        loki_universal_finding *u = loki__arena_array(&st->vi->arena, st->n_uni, sizeof *u);
        if (!u)
            return fail(st, loki__err(err, LOKI_ENOMEM, "out of memory"), err);
        memcpy(u, st->uni, st->n_uni * sizeof *u);
        v->universal = u;
        v->n_universal = st->n_uni;
    }
    loki_match_table *mt = &st->s->mt;
    mt->near_conds = (const loki_cond *const *)st->near_conds;
    mt->near_true = st->near_true;
    mt->n_near = st->n_near;
    double eval_ms = 0;
    rc = loki__check_finish_stream(eng, &st->opts, st->s, v, &eval_ms, err);
    mt->near_conds = NULL;
    mt->n_near = 0;
    if (rc != LOKI_OK) {
        atomic_fetch_add_explicit(&eng->st_errors, 1, memory_order_relaxed);
        return fail(st, rc, err);
    }
    v->scan_ms = st->scan_ms;
    v->evaluate_ms = eval_ms;
    v->detect_ms = st->detect_ms;
    v->total_ms = st->scan_ms + eval_ms + st->detect_ms;
    atomic_fetch_add_explicit(&eng->st_checks, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&eng->st_bytes, st->fed, memory_order_relaxed);
    atomic_fetch_add_explicit(&eng->st_scan_us, (uint64_t)(v->scan_ms * 1e3),
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&eng->st_eval_us, (uint64_t)(eval_ms * 1e3), memory_order_relaxed);
    atomic_fetch_add_explicit(&eng->st_detect_us, (uint64_t)(v->detect_ms * 1e3),
                              memory_order_relaxed);
    *out = v;
    st->vi = NULL; /* the verdict is the caller's now */
    st->failed = LOKI_EINVAL;
    loki__err(&st->failed_err, LOKI_EINVAL, "the stream has ended");
    return LOKI_OK;
}
