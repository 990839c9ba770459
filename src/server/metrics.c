/* SPDX-License-Identifier: MIT */
/* Server metrics: relaxed atomic counters and fixed-bucket histograms (no locks on the request
 * path), rendered in the Prometheus text format 0.0.4. Names carry the loki_ prefix, counters
 * end in _total, durations are in seconds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loki/cache.h"
#include "server.h"

const char *const srv_route_names[RT__COUNT] = {
    "/api/validate", "/api/validate-document", "/api/validate/batch", "/api/modules",
    "/api/gates", "/api/health", "/api/stats", "/api/audit/stats", "/api/analytics/overview",
    "/api/analytics/trends", "/api/analytics/modules", "/metrics", "/api/cache/stats",
    "/api/cache/clear", "/v1/messages", "/v1/chat/completions", "other"};

static const unsigned codes[SRV_N_CODES] = {200, 204, 304, 400, 401, 404, 405, 408, 413, 414,
                                            415, 429, 431, 500, 503, 422, 502, 504, 529};
static const double bounds[SRV_N_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                             0.1,    0.25,  0.5,    1,     2.5,  5,     10};

static int code_index(unsigned status)
{
    for (int i = 0; i < SRV_N_CODES; i++)
        if (codes[i] == status)
            return i;
    return 13; /* anything unexpected is counted as a 500 (codes[13]) */
}

void srv_hist_observe(srv_hist *h, double seconds)
{
    int i = 0;
    while (i < SRV_N_BUCKETS && seconds > bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (uint64_t)(seconds * 1e6), memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

void srv_metrics_request(srv_metrics *m, int route, unsigned status, double seconds)
{
    atomic_fetch_add_explicit(&m->requests[route][code_index(status)], 1, memory_order_relaxed);
    srv_hist_observe(&m->req_seconds[route], seconds);
}

static void render_hist(sbuf *o, const char *name, const char *labels, srv_hist *h)
{
    uint64_t cum = 0;
    const char *sep = labels[0] ? "," : "";
    for (int i = 0; i <= SRV_N_BUCKETS; i++) {
        cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        if (i < SRV_N_BUCKETS)
            sbuf_printf(o, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, bounds[i],
                        (unsigned long long)cum);
        else
            sbuf_printf(o, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                        (unsigned long long)cum);
    }
    /* _count equals the +Inf bucket by construction (scrapes race with observations). */
    sbuf_printf(o, "%s_sum%s%s%s %.6f\n", name, labels[0] ? "{" : "", labels,
                labels[0] ? "}" : "", (double)h->sum_us / 1e6);
    sbuf_printf(o, "%s_count%s%s%s %llu\n", name, labels[0] ? "{" : "", labels,
                labels[0] ? "}" : "", (unsigned long long)cum);
}

static void counter(sbuf *o, const char *name, const char *help, uint64_t v)
{
    sbuf_printf(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
                (unsigned long long)v);
}

static void gauge(sbuf *o, const char *name, const char *help, double v)
{
    sbuf_printf(o, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name, name, v);
}

static double rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &res) != 2)
            res = 0;
        fclose(f);
    }
    return (double)res * (double)sysconf(_SC_PAGESIZE);
}

static void render_http(srv *s, sbuf *o)
{
    srv_metrics *m = &s->m;
    sbuf_puts(o, "# HELP loki_http_requests_total HTTP requests by route and status.\n"
                 "# TYPE loki_http_requests_total counter\n");
    for (int r = 0; r < RT__COUNT; r++)
        for (int c = 0; c < SRV_N_CODES; c++) {
            uint64_t v = m->requests[r][c];
            if (v)
                sbuf_printf(o, "loki_http_requests_total{route=\"%s\",code=\"%u\"} %llu\n",
                            srv_route_names[r], codes[c], (unsigned long long)v);
        }
    sbuf_puts(o, "# HELP loki_http_request_duration_seconds Time to answer a request.\n"
                 "# TYPE loki_http_request_duration_seconds histogram\n");
    for (int r = 0; r < RT__COUNT; r++) {
        if (!m->req_seconds[r].count)
            continue;
        char lab[96];
        snprintf(lab, sizeof lab, "route=\"%s\"", srv_route_names[r]);
        render_hist(o, "loki_http_request_duration_seconds", lab, &m->req_seconds[r]);
    }
    gauge(o, "loki_http_requests_in_flight", "Requests being processed.", (double)s->inflight);
    counter(o, "loki_rate_limited_total", "Requests refused with 429.", m->rate_limited);
    counter(o, "loki_auth_failures_total", "Requests refused with 401.", m->auth_failures);
}

static void render_checks(srv *s, sbuf *o)
{
    srv_metrics *m = &s->m;
    static const char *risk[4] = {"LOW", "MEDIUM", "HIGH", "CRITICAL"};
    sbuf_puts(o, "# HELP loki_validations_total Documents validated, by overall risk.\n"
                 "# TYPE loki_validations_total counter\n");
    for (int i = 0; i < 4; i++)
        sbuf_printf(o, "loki_validations_total{risk=\"%s\"} %llu\n", risk[i],
                    (unsigned long long)m->validations[i]);
    counter(o, "loki_validation_errors_total", "Documents rejected (encoding, limits...).",
            m->validation_errors);
    counter(o, "loki_document_bytes_total", "Bytes of documents validated.", m->doc_bytes);
    sbuf_puts(o, "# HELP loki_check_duration_seconds Engine time per uncached check.\n"
                 "# TYPE loki_check_duration_seconds histogram\n");
    render_hist(o, "loki_check_duration_seconds", "", &m->check_seconds);
}

static void render_cache_audit(srv *s, sbuf *o)
{
    if (s->cache) {
        /* The cache library renders its own loki_cache_* families. */
        loki_cache_stats st;
        char *txt = NULL;
        size_t n = 0;
        loki_cache_stats_get(s->cache, &st);
        if (loki_cache_stats_prometheus(&st, &txt, &n) == LOKI_OK) {
            sbuf_put(o, txt, n);
            if (n && txt[n - 1] != '\n')
                sbuf_puts(o, "\n");
        }
        free(txt);
    }
    if (s->audit) {
        audit_stats st;
        audit_get_stats(s->audit, &st);
        counter(o, "loki_audit_rows_total", "Audit rows written.", st.rows_written);
        counter(o, "loki_audit_errors_total", "Audit rows lost to database errors.", st.errors);
        counter(o, "loki_audit_dropped_total", "Audit rows dropped (queue full).", st.dropped);
        gauge(o, "loki_audit_queue_rows", "Audit rows waiting to be written.", (double)st.queued);
    }
}

void srv_metrics_render(srv *s, sbuf *o)
{
    sbuf_puts(o, "# HELP loki_build_info Engine version and ruleset fingerprint.\n"
                 "# TYPE loki_build_info gauge\n");
    sbuf_printf(o, "loki_build_info{version=\"%s\",ruleset=\"%s\"} 1\n", loki_version(),
                s->fingerprint);
    gauge(o, "loki_uptime_seconds", "Seconds since the server started.", s->now() - s->started);
    gauge(o, "loki_process_resident_memory_bytes", "Resident set size.", rss_bytes());
    gauge(o, "loki_modules_loaded", "Rule modules loaded.",
          (double)loki_engine_module_count(s->eng));
    render_http(s, o);
    render_checks(s, o);
    render_cache_audit(s, o);
    srv_cluster_metrics(s, o);
    srv_proxy_metrics(s, o);
}
