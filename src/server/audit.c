/* SPDX-License-Identifier: MIT */
/* The audit log: one SQLite row per validation (hashes, sizes, modules, verdict summary,
 * client id, timing; never the text). Requests only append to an in-memory queue; a
 * background thread writes the queue in one transaction every 200 ms, so a slow, locked,
 * read-only or full database costs rows (counted, reported in health), never a request. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"

#define QUEUE_MAX 20000
#define REOPEN_EVERY 5.0

struct audit {
    pthread_mutex_t qlock; /* queue */
    audit_row *q;
    size_t nq;
    pthread_mutex_t dblock; /* the connection (writer and analytics readers) */
    sqlite3 *db;
    double last_open_try;
    char path[1024];
    char fingerprint[80], version[32];
    pthread_t thread;
    pthread_cond_t cv;
    int stop, started;
    _Atomic uint64_t rows, errors, dropped;
    _Atomic int failing;
    char last_error[1400]; /* under dblock */
};

static const char *const schema =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS audit("
    " id INTEGER PRIMARY KEY, ts REAL NOT NULL, client TEXT, route TEXT,"
    " doc_sha256 TEXT NOT NULL, doc_bytes INTEGER, doc_type TEXT, modules TEXT,"
    " overall_risk TEXT, n_pass INTEGER, n_fail INTEGER, n_warning INTEGER, n_na INTEGER,"
    " n_error INTEGER, n_universal INTEGER, ruleset_fingerprint TEXT, engine_version TEXT,"
    " cache_hit INTEGER, duration_ms REAL,"
    " module_results TEXT);" /* JSON {"module": [fails, warnings], ...} */
    "CREATE INDEX IF NOT EXISTS audit_ts ON audit(ts);";

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void set_error(audit *a, const char *what)
{
    snprintf(a->last_error, sizeof a->last_error, "%s: %s", what,
             a->db ? sqlite3_errmsg(a->db) : "cannot open");
}

/* Opens the database if it is not open; with dblock held. */
static int ensure_open(audit *a)
{
    if (a->db)
        return 0;
    double now = wall();
    if (a->last_open_try != 0 && now - a->last_open_try < REOPEN_EVERY)
        return -1;
    a->last_open_try = now;
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(a->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                               SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 50);
        rc = sqlite3_exec(db, schema, NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        snprintf(a->last_error, sizeof a->last_error, "open %s: %s", a->path,
                 db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return -1;
    }
    a->db = db;
    return 0;
}

static int insert_row(audit *a, sqlite3_stmt *st, const audit_row *r)
{
    static const char *risk[4] = {"LOW", "MEDIUM", "HIGH", "CRITICAL"};
    const srv_summary *s = &r->sum;
    int i = 1;
    sqlite3_reset(st);
    sqlite3_bind_double(st, i++, r->ts);
    sqlite3_bind_text(st, i++, r->client, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, r->route, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, s->doc_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, i++, (sqlite3_int64)s->doc_bytes);
    sqlite3_bind_text(st, i++, r->doc_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, r->modules, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, risk[s->risk & 3], -1, SQLITE_STATIC);
    for (int k = 0; k < 5; k++)
        sqlite3_bind_int(st, i++, (int)s->by_status[k]);
    sqlite3_bind_int(st, i++, (int)s->n_universal);
    sqlite3_bind_text(st, i++, a->fingerprint, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, a->version, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, i++, r->cache_hit);
    sqlite3_bind_double(st, i++, r->duration_ms);
    /* Module ids come from the rule packs, which only allow [a-z0-9_]: no escaping needed. */
    char mods[SRV_MAX_MODULES * 48 + 4];
    size_t off = 0;
    mods[off++] = '{';
    for (size_t m = 0; m < s->n_mod && off < sizeof mods - 48; m++) {
        int n = snprintf(mods + off, sizeof mods - off, "%s\"%.24s\":[%u,%u]", m ? "," : "",
                         s->mod_id[m], s->mod_fail[m], s->mod_warn[m]);
        if (n > 0)
            off += (size_t)n;
    }
    mods[off++] = '}';
    sqlite3_bind_text(st, i++, mods, (int)off, SQLITE_TRANSIENT);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
}

/* Writes rows in one transaction; with dblock held. */
static void write_rows(audit *a, const audit_row *rows, size_t n)
{
    sqlite3_stmt *st = NULL;
    if (n == 0)
        return;
    if (ensure_open(a) != 0)
        goto fail;
    if (sqlite3_exec(a->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        set_error(a, "begin");
        goto fail;
    }
    if (sqlite3_prepare_v2(a->db,
                           "INSERT INTO audit(ts,client,route,doc_sha256,doc_bytes,doc_type,"
                           "modules,overall_risk,n_pass,n_fail,n_warning,n_na,n_error,"
                           "n_universal,ruleset_fingerprint,engine_version,cache_hit,"
                           "duration_ms,module_results)"
                           " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK) {
        set_error(a, "prepare");
        goto rollback;
    }
    for (size_t i = 0; i < n; i++)
        if (insert_row(a, st, &rows[i]) != 0) {
            set_error(a, "insert");
            goto rollback;
        }
    if (sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        set_error(a, "commit");
        goto rollback;
    }
    sqlite3_finalize(st);
    a->rows += n;
    a->failing = 0;
    return;
rollback:
    sqlite3_finalize(st);
    sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
fail:
    a->errors += n;
    a->failing = 1;
}

/* Takes the queue and writes it; with dblock held. */
static void flush_locked(audit *a)
{
    pthread_mutex_lock(&a->qlock);
    audit_row *rows = a->q;
    size_t n = a->nq;
    a->q = NULL;
    a->nq = 0;
    pthread_mutex_unlock(&a->qlock);
    write_rows(a, rows, n);
    free(rows);
}

void audit_flush(audit *a)
{
    pthread_mutex_lock(&a->dblock);
    flush_locked(a);
    pthread_mutex_unlock(&a->dblock);
}

static void *writer(void *arg)
{
    audit *a = arg;
    pthread_mutex_lock(&a->qlock);
    while (!a->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&a->cv, &a->qlock, &ts);
        if (a->nq == 0)
            continue;
        pthread_mutex_unlock(&a->qlock);
        audit_flush(a);
        pthread_mutex_lock(&a->qlock);
    }
    pthread_mutex_unlock(&a->qlock);
    return NULL;
}

audit *audit_create(const char *path, const char *fingerprint, const char *version)
{
    audit *a = loki__calloc(1, sizeof *a);
    if (!a)
        return NULL;
    snprintf(a->path, sizeof a->path, "%s", path);
    snprintf(a->fingerprint, sizeof a->fingerprint, "%s", fingerprint);
    snprintf(a->version, sizeof a->version, "%s", version);
    pthread_mutex_init(&a->qlock, NULL);
    pthread_mutex_init(&a->dblock, NULL);
    pthread_cond_init(&a->cv, NULL);
    pthread_mutex_lock(&a->dblock);
    if (ensure_open(a) != 0) {
        a->failing = 1;
        fprintf(stderr, "loki serve: warning: audit log unavailable (%s); validations go on\n",
                a->last_error);
    }
    pthread_mutex_unlock(&a->dblock);
    if (pthread_create(&a->thread, NULL, writer, a) == 0)
        a->started = 1;
    return a;
}

void audit_destroy(audit *a)
{
    if (!a)
        return;
    if (a->started) {
        pthread_mutex_lock(&a->qlock);
        a->stop = 1;
        pthread_cond_signal(&a->cv);
        pthread_mutex_unlock(&a->qlock);
        pthread_join(a->thread, NULL);
    }
    a->last_open_try = 0; /* one last chance to write the tail */
    audit_flush(a);
    sqlite3_close(a->db);
    free(a->q);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->qlock);
    pthread_mutex_destroy(&a->dblock);
    free(a);
}

void audit_log(audit *a, const audit_row *row)
{
    pthread_mutex_lock(&a->qlock);
    if (a->nq >= QUEUE_MAX) {
        pthread_mutex_unlock(&a->qlock);
        a->dropped++;
        return;
    }
    /* The queue grows by doubling from 64; it is handed to the writer whole. */
    if ((a->nq & (a->nq - 1)) == 0 && a->nq >= 64) {
        audit_row *q = loki__realloc(a->q, 2 * a->nq * sizeof *q);
        if (!q) {
            pthread_mutex_unlock(&a->qlock);
            a->dropped++;
            return;
        }
        a->q = q;
    } else if (!a->q) {
        a->q = loki__malloc(64 * sizeof *a->q);
        if (!a->q) {
            pthread_mutex_unlock(&a->qlock);
            a->dropped++;
            return;
        }
    }
    a->q[a->nq++] = *row;
    pthread_mutex_unlock(&a->qlock);
}

void audit_get_stats(audit *a, audit_stats *st)
{
    memset(st, 0, sizeof *st);
    st->enabled = 1;
    st->rows_written = a->rows;
    st->errors = a->errors;
    st->dropped = a->dropped;
    st->failing = a->failing;
    pthread_mutex_lock(&a->qlock);
    st->queued = a->nq;
    pthread_mutex_unlock(&a->qlock);
    /* trylock: health must answer even while the writer waits on a locked database. */
    if (pthread_mutex_trylock(&a->dblock) == 0) {
        st->open = a->db != NULL;
        snprintf(st->last_error, sizeof st->last_error, "%s", a->last_error);
        pthread_mutex_unlock(&a->dblock);
    } else {
        st->open = 1;
    }
    snprintf(st->path, sizeof st->path, "%s", a->path);
}

/* ---- analytics ------------------------------------------------------------------------- */

/* Runs a query after writing what is queued; with dblock held on success. */
static int query(audit *a, const char *sql, sqlite3_stmt **st, sbuf *out)
{
    pthread_mutex_lock(&a->dblock);
    flush_locked(a);
    if (ensure_open(a) != 0 || sqlite3_prepare_v2(a->db, sql, -1, st, NULL) != SQLITE_OK) {
        sbuf_printf(out, "audit log unavailable: %s",
                    a->db ? sqlite3_errmsg(a->db) : a->last_error);
        pthread_mutex_unlock(&a->dblock);
        return -1;
    }
    return 0;
}

static void done(audit *a, sqlite3_stmt *st)
{
    sqlite3_finalize(st);
    pthread_mutex_unlock(&a->dblock);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

int audit_overview(audit *a, sbuf *out)
{
    sqlite3_stmt *st;
    if (query(a,
              "SELECT COUNT(*), COUNT(DISTINCT doc_sha256), COALESCE(SUM(doc_bytes),0),"
              " COALESCE(AVG(duration_ms),0), COALESCE(AVG(cache_hit),0),"
              " SUM(overall_risk='LOW'), SUM(overall_risk='MEDIUM'),"
              " SUM(overall_risk='HIGH'), SUM(overall_risk='CRITICAL'),"
              " COALESCE(SUM(n_fail),0), COALESCE(SUM(n_warning),0), MIN(ts), MAX(ts),"
              " COUNT(DISTINCT client) FROM audit",
              &st, out) != 0)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        sbuf_printf(out,
                    "{\"total_validations\":%lld,\"unique_documents\":%lld,\"total_bytes\":%lld,"
                    "\"avg_duration_ms\":%.3f,\"cache_hit_rate\":%.4f,"
                    "\"by_risk\":{\"LOW\":%lld,\"MEDIUM\":%lld,\"HIGH\":%lld,\"CRITICAL\":%lld},"
                    "\"total_fails\":%lld,\"total_warnings\":%lld,\"first_ts\":%.3f,"
                    "\"last_ts\":%.3f,\"clients\":%lld",
                    sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                    sqlite3_column_int64(st, 2), sqlite3_column_double(st, 3),
                    sqlite3_column_double(st, 4), sqlite3_column_int64(st, 5),
                    sqlite3_column_int64(st, 6), sqlite3_column_int64(st, 7),
                    sqlite3_column_int64(st, 8), sqlite3_column_int64(st, 9),
                    sqlite3_column_int64(st, 10), sqlite3_column_double(st, 11),
                    sqlite3_column_double(st, 12), sqlite3_column_int64(st, 13));
    }
    sqlite3_finalize(st);
    sbuf_puts(out, ",\"by_document_type\":{");
    if (sqlite3_prepare_v2(a->db,
                           "SELECT doc_type, COUNT(*) FROM audit GROUP BY doc_type"
                           " ORDER BY 2 DESC LIMIT 50",
                           -1, &st, NULL) == SQLITE_OK) {
        for (int first = 1; sqlite3_step(st) == SQLITE_ROW; first = 0) {
            if (!first)
                sbuf_puts(out, ",");
            sbuf_json_str(out, col_text(st, 0));
            sbuf_printf(out, ":%lld", sqlite3_column_int64(st, 1));
        }
    }
    sbuf_puts(out, "}}");
    done(a, st);
    return 0;
}

int audit_trends(audit *a, const char *interval, unsigned buckets, double now_unix, sbuf *out)
{
    double width = strcmp(interval, "day") == 0 ? 86400 : strcmp(interval, "minute") == 0 ? 60
                                                                                      : 3600;
    double end = ((double)(long long)(now_unix / width) + 1) * width;
    double start = end - width * buckets;
    sqlite3_stmt *st;
    if (query(a,
              "SELECT CAST((ts - ?1) / ?2 AS INTEGER) AS b, COUNT(*),"
              " SUM(overall_risk='LOW'), SUM(overall_risk='MEDIUM'), SUM(overall_risk='HIGH'),"
              " SUM(overall_risk='CRITICAL'), AVG(duration_ms), SUM(cache_hit)"
              " FROM audit WHERE ts >= ?1 AND ts < ?3 GROUP BY b ORDER BY b",
              &st, out) != 0)
        return -1;
    sqlite3_bind_double(st, 1, start);
    sqlite3_bind_double(st, 2, width);
    sqlite3_bind_double(st, 3, end);
    sbuf_printf(out, "{\"interval\":\"%s\",\"buckets\":[",
                width == 86400 ? "day" : width == 60 ? "minute" : "hour");
    int rc = sqlite3_step(st);
    for (unsigned b = 0; b < buckets; b++) {
        long long n = 0, r[4] = {0}, hits = 0;
        double avg = 0;
        if (rc == SQLITE_ROW && sqlite3_column_int64(st, 0) == (long long)b) {
            n = sqlite3_column_int64(st, 1);
            for (int k = 0; k < 4; k++)
                r[k] = sqlite3_column_int64(st, 2 + k);
            avg = sqlite3_column_double(st, 6);
            hits = sqlite3_column_int64(st, 7);
            rc = sqlite3_step(st);
        }
        time_t t = (time_t)(start + b * width);
        struct tm tm;
        char iso[32];
        gmtime_r(&t, &tm);
        strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
        sbuf_printf(out,
                    "%s{\"start\":\"%s\",\"validations\":%lld,\"by_risk\":{\"LOW\":%lld,"
                    "\"MEDIUM\":%lld,\"HIGH\":%lld,\"CRITICAL\":%lld},\"avg_duration_ms\":%.3f,"
                    "\"cache_hits\":%lld}",
                    b ? "," : "", iso, n, r[0], r[1], r[2], r[3], avg, hits);
    }
    sbuf_puts(out, "]}");
    done(a, st);
    return 0;
}

int audit_modules(audit *a, sbuf *out)
{
    sqlite3_stmt *st;
    if (query(a,
              "SELECT j.key, COUNT(*), SUM(j.value ->> 0), SUM(j.value ->> 1),"
              " SUM((j.value ->> 0) > 0) FROM audit, json_each(audit.module_results) AS j"
              " GROUP BY j.key ORDER BY j.key",
              &st, out) != 0)
        return -1;
    sbuf_puts(out, "{\"modules\":[");
    for (int first = 1; sqlite3_step(st) == SQLITE_ROW; first = 0) {
        long long n = sqlite3_column_int64(st, 1), failed = sqlite3_column_int64(st, 4);
        sbuf_printf(out, "%s{\"module\":", first ? "" : ",");
        sbuf_json_str(out, col_text(st, 0));
        sbuf_printf(out,
                    ",\"validations\":%lld,\"fails\":%lld,\"warnings\":%lld,"
                    "\"documents_failing\":%lld,\"fail_rate\":%.4f}",
                    n, sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3), failed,
                    n ? (double)failed / (double)n : 0.0);
    }
    sbuf_puts(out, "]}");
    done(a, st);
    return 0;
}

int audit_table_stats(audit *a, sbuf *out)
{
    audit_stats as;
    audit_get_stats(a, &as);
    sqlite3_stmt *st;
    if (query(a, "SELECT COUNT(*), MIN(ts), MAX(ts), SUM(cache_hit) FROM audit", &st, out) != 0)
        return -1;
    long long rows = 0, hits = 0;
    double first = 0, last = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        rows = sqlite3_column_int64(st, 0);
        first = sqlite3_column_double(st, 1);
        last = sqlite3_column_double(st, 2);
        hits = sqlite3_column_int64(st, 3);
    }
    sbuf_puts(out, "{\"path\":");
    sbuf_json_str(out, a->path);
    sbuf_printf(out,
                ",\"rows\":%lld,\"cache_hit_rows\":%lld,\"first_ts\":%.3f,\"last_ts\":%.3f,"
                "\"rows_written\":%llu,\"errors\":%llu,\"dropped\":%llu,\"last_error\":",
                rows, hits, first, last, (unsigned long long)a->rows,
                (unsigned long long)a->errors, (unsigned long long)a->dropped);
    sbuf_json_str(out, a->last_error);
    sbuf_puts(out, "}");
    done(a, st);
    return 0;
}
