/* SPDX-License-Identifier: MIT */
/* The web page at / (issue 9): serves the files embedded from web/ with their content type, a
 * strong ETag (answered with 304 on If-None-Match), revalidate-every-time caching, and a strict
 * Content-Security-Policy: the page's own script and style only, fetches to this origin only,
 * no inline code, no framing. */
#include <microhttpd.h>
#include <string.h>

#include "server.h"
#include "web_assets.h"

/* Everything the page needs is same-origin; data: only for the empty favicon. */
static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                          "form-action 'none'; frame-ancestors 'none'";

static const srv_web_asset *find_asset(const char *path)
{
    for (size_t i = 0; i < srv_web_n_assets; i++)
        if (strcmp(srv_web_assets[i].path, path) == 0)
            return &srv_web_assets[i];
    return NULL;
}

/* If-None-Match may list several validators, or be "*". */
static int etag_matches(const char *inm, const char *etag)
{
    if (!inm)
        return 0;
    if (strcmp(inm, "*") == 0)
        return 1;
    size_t n = strlen(etag);
    for (const char *p = strstr(inm, etag); p; p = strstr(p + 1, etag)) {
        char after = p[n];
        if (after == '\0' || after == ',' || after == ' ')
            return 1;
    }
    return 0;
}

int route_static(srv *s, srv_req *q)
{
    const srv_web_asset *a = find_asset(q->path);
    if (!a)
        return srv_error(s, q, 404, "not_found", "no route %s", q->path);
    unsigned status = etag_matches(srv_header(q, "If-None-Match"), a->etag) ? 304 : 200;
    size_t len = status == 200 ? a->len : 0;
    /* The bytes live in the binary for its whole life: no copy, nothing to free. */
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return srv_error(s, q, 503, "out_of_memory", "out of memory");
    MHD_add_response_header(r, "Content-Type", a->ctype);
    MHD_add_response_header(r, "ETag", a->etag);
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "Content-Security-Policy", csp);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
    enum MHD_Result ok = MHD_queue_response(q->conn, status, r);
    MHD_destroy_response(r);
    q->replied = 1;
    q->status = status;
    q->bytes_out = len;
    return ok == MHD_YES ? 0 : -1;
}
