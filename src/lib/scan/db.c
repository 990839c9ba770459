/* SPDX-License-Identifier: MIT */
/*
 * Building the Vectorscan database, and caching it on disk keyed by the ruleset fingerprint.
 * A cache file is trusted only when its magic, fingerprint, Vectorscan version, pattern count
 * and SHA-256 all match; anything else is rebuilt and rewritten atomically (tmp + rename).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scan.h"

#define HS_FLAGS (HS_FLAG_CASELESS | HS_FLAG_DOTALL)
#define MAGIC "LOKIDB03"
#define MAGIC_STREAM "LOKIST03"

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

static void cache_path(const loki_ruleset *rs, const char *dir, unsigned mode, char *out,
                       size_t n)
{
    snprintf(out, n, "%s/%s.%s", dir, rs->fingerprint, mode == HS_MODE_STREAM ? "hsstream" : "hsdb");
}

static void header_fill(cache_header *h, const loki_ruleset *rs, unsigned mode)
{
    memset(h, 0, sizeof *h);
    memcpy(h->magic, mode == HS_MODE_STREAM ? MAGIC_STREAM : MAGIC, 8);
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

/* File layout: header | widths[n_patterns] | u32 n_dbs | { u64 len | bytes } * n_dbs, with the
 * header's SHA-256 over everything after the header. A zero length is an empty database. */

/* Drops the mapped file pages before `upto` from memory (they are clean: the file has them).
 * Loading a 10 MB database then costs the database, not the database plus the file. */
static void drop_pages(const char *map, size_t upto)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t n = upto / pg * pg;
    if (n)
        madvise((void *)(uintptr_t)map, n, MADV_DONTNEED);
}

/* Returns 0 and fills db when a valid cache file exists. The file is mapped, not read. */
static int cache_load(const loki_ruleset *rs, const char *dir, unsigned mode, loki_db *db)
{
    char path[4200];
    cache_path(rs, dir, mode, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = -1;
    struct stat sb;
    char *map = MAP_FAILED;
    cache_header h, want;
    header_fill(&want, rs, mode);
    size_t want_dbs = rs->n_modules + 1, size = 0;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size <= sizeof h ||
        (uint64_t)sb.st_size > (1u << 30) + sizeof h)
        goto out;
    size = (size_t)sb.st_size;
    map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED)
        goto out;
    memcpy(&h, map, sizeof h);
    if (memcmp(h.magic, want.magic, 8) || memcmp(h.fingerprint, want.fingerprint, 64) ||
        memcmp(h.hs_version, want.hs_version, 64) || h.n_patterns != want.n_patterns ||
        h.db_len != size - sizeof h)
        goto out;
    const char *body = map + sizeof h;
    loki_sha256 hs;
    if (loki__sha256_begin(&hs))
        goto out;
    for (size_t o = 0; o < h.db_len; o += 1u << 20) { /* hash a megabyte, drop it */
        size_t n = h.db_len - o < (1u << 20) ? (size_t)h.db_len - o : 1u << 20;
        loki__sha256_update(&hs, body + o, n);
        drop_pages(map, sizeof h + o + n);
    }
    unsigned char sha[32];
    if (loki__sha256_end(&hs, sha) || memcmp(sha, h.sha, 32))
        goto out;
    size_t off = rs->n_patterns * sizeof(unsigned);
    uint32_t nd;
    if (off + 4 > h.db_len)
        goto out;
    memcpy(&nd, body + off, 4);
    off += 4;
    if (nd != want_dbs)
        goto out;
    db->widths = loki__calloc(rs->n_patterns, sizeof *db->widths);
    db->dbs = loki__calloc(want_dbs, sizeof *db->dbs);
    if (!db->widths || !db->dbs)
        goto out;
    db->n_dbs = want_dbs;
    memcpy(db->widths, body, rs->n_patterns * sizeof(unsigned));
    for (size_t i = 0; i < rs->n_patterns; i++)
        if (db->widths[i] == 0 || db->widths[i] > LOKI_MAX_PATTERN_WIDTH)
            goto out;
    for (size_t k = 0; k < want_dbs; k++) {
        uint64_t l;
        if (off + 8 > h.db_len)
            goto out;
        memcpy(&l, body + off, 8);
        off += 8;
        if (l > h.db_len - off)
            goto out;
        if (l && hs_deserialize_database(body + off, (size_t)l, &db->dbs[k]) != HS_SUCCESS)
            goto out;
        off += (size_t)l;
        drop_pages(map, sizeof h + off);
    }
    if (off != h.db_len)
        goto out;
    db->from_cache = 1;
    rc = 0;
out:
    if (map != MAP_FAILED)
        munmap(map, size);
    close(fd);
    if (rc != 0)
        loki__db_release(db);
    return rc;
}

static void cache_store(const loki_ruleset *rs, const char *dir, unsigned mode, const loki_db *db)
{
    if (mkdirs(dir) != 0)
        return;
    loki_buf b;
    loki__buf_init(&b, 1u << 30);
    loki__buf_add(&b, db->widths, rs->n_patterns * sizeof *db->widths);
    uint32_t nd = (uint32_t)db->n_dbs;
    loki__buf_add(&b, &nd, 4);
    for (size_t k = 0; k < db->n_dbs; k++) {
        char *blob = NULL;
        size_t len = 0;
        if (db->dbs[k] && hs_serialize_database(db->dbs[k], &blob, &len) != HS_SUCCESS) {
            loki__buf_release(&b);
            return;
        }
        uint64_t l = len;
        loki__buf_add(&b, &l, 8);
        loki__buf_add(&b, blob, len);
        free(blob); /* allocated by Vectorscan's misc allocator (malloc) */
    }
    cache_header h;
    header_fill(&h, rs, mode);
    h.db_len = b.len;
    char path[4200], tmp[4300];
    cache_path(rs, dir, mode, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (!b.oom && digest(NULL, 0, b.p, b.len, h.sha) == 0) {
        FILE *f = fopen(tmp, "wb");
        if (f) {
            int ok = fwrite(&h, sizeof h, 1, f) == 1 && fwrite(b.p, 1, b.len, f) == b.len;
            ok = (fclose(f) == 0) && ok;
            if (!ok || rename(tmp, path) != 0)
                unlink(tmp);
        }
    }
    loki__buf_release(&b);
}

static loki_status pattern_err(loki_error *err, const loki_pattern *p, const char *what)
{
    return loki__err_at(err, LOKI_EPARSE, p->file, p->line, p->col, "pattern /%.200s/ %s",
                        p->source, what);
}

static loki_status compile_db(loki_ruleset *rs, unsigned mode, loki_db *db, loki_error *err)
{
    size_t n = rs->n_patterns;
    loki_status st = LOKI_OK;
    const char **exprs = loki__calloc(n, sizeof *exprs);
    unsigned *flags = loki__calloc(n, sizeof *flags);
    unsigned *ids = loki__calloc(n, sizeof *ids);
    const char **sel_exprs = loki__calloc(n, sizeof *sel_exprs);
    unsigned *sel_flags = loki__calloc(n, sizeof *sel_flags);
    unsigned *sel_ids = loki__calloc(n, sizeof *sel_ids);
    db->widths = loki__calloc(n, sizeof *db->widths);
    if (!exprs || !flags || !ids || !sel_exprs || !sel_flags || !sel_ids || !db->widths) {
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
        /* A set read only for presence needs one match per pattern: Vectorscan can then stop
         * reporting that pattern, which is much of the scan cost on matching-heavy text. */
        flags[i] = HS_FLAGS | (rs->sets[p->set].needs_all ? 0u : HS_FLAG_SINGLEMATCH);
        ids[i] = (unsigned)i;
    }
    db->n_dbs = rs->n_modules + 1;
    db->dbs = loki__calloc(db->n_dbs, sizeof *db->dbs);
    if (!db->dbs) {
        st = loki__err(err, LOKI_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t k = 0; k < db->n_dbs && st == LOKI_OK; k++) {
        /* Select this database's patterns into the front of the arrays' copies. */
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            const loki_set *set = &rs->sets[rs->patterns[i].set];
            int in = k == LOKI_DB_DOMAIN ? (int)set->domain : set->module + 1 == k;
            if (!in)
                continue;
            sel_exprs[m] = exprs[i];
            sel_flags[m] = flags[i];
            sel_ids[m] = ids[i];
            m++;
        }
        if (m == 0)
            continue;
        hs_compile_error_t *ce = NULL;
        if (hs_compile_multi(sel_exprs, sel_flags, sel_ids, (unsigned)m, mode, NULL,
                             &db->dbs[k], &ce) != HS_SUCCESS) {
            if (ce && ce->expression >= 0 && (size_t)ce->expression < m)
                st = pattern_err(err, &rs->patterns[sel_ids[ce->expression]], ce->message);
            else
                st = loki__err(err, LOKI_EINTERNAL, "scanner compile failed: %s",
                               ce && ce->message ? ce->message : "unknown error");
            hs_free_compile_error(ce);
        }
    }
out:
    loki__free(exprs);
    loki__free(flags);
    loki__free(ids);
    loki__free(sel_exprs);
    loki__free(sel_flags);
    loki__free(sel_ids);
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
    if (!(cache_dir && cache_load(rs, cache_dir, HS_MODE_BLOCK, db) == 0)) {
        if ((st = compile_db(rs, HS_MODE_BLOCK, db, err)) != LOKI_OK) {
            loki__db_release(db);
            return st;
        }
        if (cache_dir)
            cache_store(rs, cache_dir, HS_MODE_BLOCK, db);
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

loki_status loki__db_build_stream(loki_ruleset *rs, const char *cache_dir, loki_db *db,
                                  loki_error *err)
{
    memset(db, 0, sizeof *db);
    if (cache_dir && cache_load(rs, cache_dir, HS_MODE_STREAM, db) == 0)
        return LOKI_OK;
    loki_status st = compile_db(rs, HS_MODE_STREAM, db, err);
    if (st != LOKI_OK) {
        loki__db_release(db);
        return st;
    }
    if (cache_dir)
        cache_store(rs, cache_dir, HS_MODE_STREAM, db);
    return LOKI_OK;
}

void loki__db_release(loki_db *db)
{
    for (size_t k = 0; db->dbs && k < db->n_dbs; k++)
        if (db->dbs[k])
            hs_free_database(db->dbs[k]);
    loki__free(db->dbs);
    loki__free(db->widths);
    memset(db, 0, sizeof *db);
}
