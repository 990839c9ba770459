/* SPDX-License-Identifier: MIT */
/* GET /api/audit/recent: the latest audit rows for the page's "recent validations" view
 * (issue 9). Only what the audit log holds — hashes, sizes, types, modules, verdict counts,
 * timing — never text, and not the client id. Reads through its own read-only SQLite
 * connection (WAL lets it run beside the writer), after flushing the queue so a validation
 * just made is listed. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define RECENT_DEFAULT 50
#define RECENT_MAX 500

static const char recent_sql[] =
    "SELECT ts, route, doc_sha256, doc_bytes, doc_type, modules, overall_risk, n_pass, n_fail,"
    " n_warning, n_na, n_error, n_universal, cache_hit, duration_ms,"
    " CASE WHEN json_valid(module_results) THEN module_results ELSE '{}' END"
    " FROM audit ORDER BY id DESC LIMIT ?";

static const char *col(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

static void put_row(sbuf *b, sqlite3_stmt *st)
{
    sbuf_printf(b, "{\"ts\":%.3f,\"route\":", sqlite3_column_double(st, 0));
    sbuf_json_str(b, col(st, 1));
    sbuf_puts(b, ",\"doc_sha256\":");
    sbuf_json_str(b, col(st, 2));
    sbuf_printf(b, ",\"doc_bytes\":%lld,\"doc_type\":", (long long)sqlite3_column_int64(st, 3));
    sbuf_json_str(b, col(st, 4));
    sbuf_puts(b, ",\"modules\":");
    sbuf_json_str(b, col(st, 5));
    sbuf_puts(b, ",\"overall_risk\":");
    sbuf_json_str(b, col(st, 6));
    sbuf_printf(b,
                ",\"gates\":{\"pass\":%d,\"fail\":%d,\"warning\":%d,\"na\":%d,\"error\":%d},"
                "\"universal_findings\":%d,\"cache_hit\":%s,\"duration_ms\":%.3f,"
                "\"module_results\":%s}",
                sqlite3_column_int(st, 7), sqlite3_column_int(st, 8), sqlite3_column_int(st, 9),
                sqlite3_column_int(st, 10), sqlite3_column_int(st, 11), sqlite3_column_int(st, 12),
                sqlite3_column_int(st, 13) ? "true" : "false", sqlite3_column_double(st, 14),
                col(st, 15));
}

/* Renders up to `limit` rows into out; -1 with a message in *err on failure. */
static int read_recent(const char *path, unsigned limit, sbuf *out, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = -1, n = 0, step;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        goto close_db;
    sqlite3_busy_timeout(db, 200);
    if (sqlite3_prepare_v2(db, recent_sql, -1, &st, NULL) != SQLITE_OK)
        goto close_db;
    sqlite3_bind_int(st, 1, (int)limit);
    sbuf_puts(out, "{\"rows\":[");
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (n++)
            sbuf_puts(out, ",");
        put_row(out, st);
    }
    if (step != SQLITE_DONE)
        goto close_db;
    sbuf_printf(out, "],\"count\":%d,\"limit\":%u}", n, limit);
    rc = 0;
close_db:
    if (rc != 0)
        snprintf(err, errlen, "audit log unavailable: %s",
                 db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

int route_audit_recent(srv *s, srv_req *q)
{
    unsigned long limit = RECENT_DEFAULT;
    const char *arg = srv_arg(q, "limit");
    if (arg) {
        char *end;
        limit = strtoul(arg, &end, 10);
        if (*end || end == arg || limit < 1 || limit > RECENT_MAX)
            return srv_error(s, q, 400, "invalid_argument", "limit must be 1..%d", RECENT_MAX);
    }
    if (!s->audit)
        return srv_error(s, q, 503, "audit_disabled", "the audit log is off (audit_db = off)");
    audit_flush(s->audit);
    audit_stats as;
    audit_get_stats(s->audit, &as);
    char err[1200];
    sbuf b;
    sbuf_init(&b);
    if (read_recent(as.path, (unsigned)limit, &b, err, sizeof err) != 0) {
        sbuf_release(&b);
        return srv_error(s, q, 503, "audit_unavailable", "%s", err);
    }
    return srv_reply_json(s, q, 200, &b);
}
