/* SPDX-License-Identifier: MIT */
/*
 * Building the Vectorscan database, and caching it on disk keyed by the ruleset fingerprint.
 * A cache file is trusted only when its magic, fingerprint, Vectorscan version, pattern count
 * and SHA-256 all match; anything else is rebuilt and rewritten atomically (tmp + rename).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scan.h"

#define HS_FLAGS (HS_FLAG_CASELESS | HS_FLAG_DOTALL)
#define MAGIC "LOKIDB02"

typedef struct cache_header {
    char magic[8];
    char fingerprint[64];
    char hs_version[64];
    uint32_t n_patterns;
    uint32_t reserved;
    uint64_t db_len;
    unsigned char sha[32];
} cache_header;

static int mkdirs(const char *dir)
{
    char tmp[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char c = tmp[i];
            tmp[i] = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
                return -1;
            tmp[i] = c;
        }
    }
    return 0;
}

static void cache_path(const loki_ruleset *rs, const char *dir, char *out, size_t n)
{
    snprintf(out, n, "%s/%s.hsdb", dir, rs->fingerprint);
}

static void header_fill(cache_header *h, const loki_ruleset *rs)
{
    memset(h, 0, sizeof *h);
    memcpy(h->magic, MAGIC, 8);
    memcpy(h->fingerprint, rs->fingerprint, 64);
    snprintf(h->hs_version, sizeof h->hs_version, "%s", hs_version());
    h->n_patterns = (uint32_t)rs->n_patterns;
}

static int digest(const unsigned *widths, size_t nw, const char *db, size_t dblen,
                  unsigned char out[32])
{
    loki_sha256 h;
    if (loki__sha256_begin(&h))
        return -1;
    loki__sha256_update(&h, widths, nw * sizeof *widths);
    loki__sha256_update(&h, db, dblen);
    return loki__sha256_end(&h, out);
}

/* Returns 0 and fills db when a valid cache file exists. */
static int cache_load(const loki_ruleset *rs, const char *dir, loki_db *db)
{
    char path[4200];
    cache_path(rs, dir, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    int rc = -1;
    char *blob = NULL;
    unsigned *widths = NULL;
    cache_header h, want;
    header_fill(&want, rs);
    if (fread(&h, sizeof h, 1, f) != 1)
        goto out;
    if (memcmp(h.magic, want.magic, 8) || memcmp(h.fingerprint, want.fingerprint, 64) ||
        memcmp(h.hs_version, want.hs_version, 64) || h.n_patterns != want.n_patterns ||
        h.db_len == 0 || h.db_len > (1u << 30))
        goto out;
    widths = loki__calloc(rs->n_patterns, sizeof *widths);
    blob = loki__malloc((size_t)h.db_len);
    if (!widths || !blob)
        goto out;
    if (fread(widths, sizeof *widths, rs->n_patterns, f) != rs->n_patterns ||
        fread(blob, 1, (size_t)h.db_len, f) != h.db_len || fgetc(f) != EOF)
        goto out;
    unsigned char sha[32];
    if (digest(widths, rs->n_patterns, blob, (size_t)h.db_len, sha) || memcmp(sha, h.sha, 32))
        goto out;
    for (size_t i = 0; i < rs->n_patterns; i++)
        if (widths[i] == 0 || widths[i] > LOKI_MAX_PATTERN_WIDTH)
            goto out;
    hs_database_t *d = NULL;
    if (hs_deserialize_database(blob, (size_t)h.db_len, &d) != HS_SUCCESS)
        goto out;
    db->db = d;
    db->widths = widths;
    widths = NULL;
    db->from_cache = 1;
    rc = 0;
out:
    fclose(f);
    loki__free(blob);
    loki__free(widths);
    return rc;
}

static void cache_store(const loki_ruleset *rs, const char *dir, const loki_db *db)
{
    char *blob = NULL;
    size_t len = 0;
    if (mkdirs(dir) != 0)
        return;
    if (hs_serialize_database(db->db, &blob, &len) != HS_SUCCESS)
        return;
    cache_header h;
    header_fill(&h, rs);
    h.db_len = len;
    char path[4200], tmp[4300];
    cache_path(rs, dir, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (digest(db->widths, rs->n_patterns, blob, len, h.sha) == 0) {
        FILE *f = fopen(tmp, "wb");
        if (f) {
            int ok = fwrite(&h, sizeof h, 1, f) == 1 &&
                     fwrite(db->widths, sizeof *db->widths, rs->n_patterns, f) ==
                         rs->n_patterns &&
                     fwrite(blob, 1, len, f) == len;
            ok = (fclose(f) == 0) && ok;
            if (!ok || rename(tmp, path) != 0)
                unlink(tmp);
        }
    }
    free(blob); /* allocated by Vectorscan's misc allocator (malloc) */
}

static loki_status pattern_err(loki_error *err, const loki_pattern *p, const char *what)
{
    return loki__err_at(err, LOKI_EPARSE, p->file, p->line, p->col, "pattern /%.200s/ %s",
                        p->source, what);
}

static loki_status compile_db(loki_ruleset *rs, loki_db *db, loki_error *err)
{
    size_t n = rs->n_patterns;
    loki_status st = LOKI_OK;
    const char **exprs = loki__calloc(n, sizeof *exprs);
    unsigned *flags = loki__calloc(n, sizeof *flags);
    unsigned *ids = loki__calloc(n, sizeof *ids);
    db->widths = loki__calloc(n, sizeof *db->widths);
    if (!exprs || !flags || !ids || !db->widths) {
        st = loki__err(err, LOKI_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const loki_pattern *p = &rs->patterns[i];
        hs_expr_info_t *info = NULL;
        hs_compile_error_t *ce = NULL;
        if (hs_expression_info(p->regex, HS_FLAGS, &info, &ce) != HS_SUCCESS) {
            char m[300];
            snprintf(m, sizeof m, "is invalid or unsupported: %s",
                     ce && ce->message ? ce->message : "unknown error");
            hs_free_compile_error(ce);
            st = pattern_err(err, p, m);
            goto out;
        }
        unsigned w = info->max_width, minw = info->min_width;
        free(info);
        if (w == UINT_MAX) {
            st = pattern_err(err, p, "has unbounded width (use bounded repeats like .{0,80})");
            goto out;
        }
        if (w > LOKI_MAX_PATTERN_WIDTH) {
            char m[160];
            snprintf(m, sizeof m, "can match %u bytes; the limit is %u", w,
                     LOKI_MAX_PATTERN_WIDTH);
            st = pattern_err(err, p, m);
            goto out;
        }
        if (minw == 0) {
            st = pattern_err(err, p, "can match the empty string");
            goto out;
        }
        db->widths[i] = w;
        exprs[i] = p->regex;
        flags[i] = HS_FLAGS;
        ids[i] = (unsigned)i;
    }
    hs_compile_error_t *ce = NULL;
    if (hs_compile_multi(exprs, flags, ids, (unsigned)n, HS_MODE_BLOCK, NULL, &db->db, &ce) !=
        HS_SUCCESS) {
        if (ce && ce->expression >= 0 && (size_t)ce->expression < n)
            st = pattern_err(err, &rs->patterns[ce->expression], ce->message);
        else
            st = loki__err(err, LOKI_EINTERNAL, "scanner compile failed: %s",
                           ce && ce->message ? ce->message : "unknown error");
        hs_free_compile_error(ce);
        goto out;
    }
out:
    loki__free(exprs);
    loki__free(flags);
    loki__free(ids);
    return st;
}

pcre2_code *loki__pattern_code(loki_ruleset *rs, loki_pattern *p, loki_error *err)
{
    pcre2_code *re = atomic_load_explicit(&p->pcre, memory_order_acquire);
    if (re)
        return re;
    pthread_mutex_lock(&rs->pcre_lock);
    re = atomic_load_explicit(&p->pcre, memory_order_relaxed);
    if (!re) {
        int ec;
        PCRE2_SIZE eo;
        re = pcre2_compile((PCRE2_SPTR)p->regex, PCRE2_ZERO_TERMINATED,
                           PCRE2_CASELESS | PCRE2_DOTALL | PCRE2_NEVER_UTF |
                               PCRE2_USE_OFFSET_LIMIT | PCRE2_NEVER_BACKSLASH_C,
                           &ec, &eo, NULL);
        if (!re) {
            char emsg[160];
            pcre2_get_error_message(ec, (PCRE2_UCHAR *)emsg, sizeof emsg);
            loki__err_at(err, LOKI_EPARSE, p->file, p->line, p->col,
                         "pattern /%.200s/ is invalid: %s", p->source, emsg);
        } else {
            /* JIT is an optimisation: without it (no executable memory) matching still works. */
            pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
            atomic_store_explicit(&p->pcre, re, memory_order_release);
        }
    }
    pthread_mutex_unlock(&rs->pcre_lock);
    return re;
}

loki_status loki__db_build(loki_ruleset *rs, const char *cache_dir, int eager, loki_db *db,
                           loki_error *err)
{
    loki_status st;
    memset(db, 0, sizeof *db);
    if (rs->n_patterns == 0)
        return loki__err(err, LOKI_EINVAL, "the rule packs define no patterns");
    if (!(cache_dir && cache_load(rs, cache_dir, db) == 0)) {
        if ((st = compile_db(rs, db, err)) != LOKI_OK) {
            loki__db_release(db);
            return st;
        }
        if (cache_dir)
            cache_store(rs, cache_dir, db);
    }
    rs->max_width = 0;
    for (size_t i = 0; i < rs->n_patterns; i++) {
        rs->patterns[i].width = db->widths[i];
        if (db->widths[i] > rs->max_width)
            rs->max_width = db->widths[i];
        if (eager && !loki__pattern_code(rs, &rs->patterns[i], err)) {
            loki__db_release(db);
            return LOKI_EPARSE;
        }
    }
    return LOKI_OK;
}

void loki__db_release(loki_db *db)
{
    if (db->db)
        hs_free_database(db->db);
    loki__free(db->widths);
    memset(db, 0, sizeof *db);
}
