/* SPDX-License-Identifier: MIT */
/* The server in-process, for tests and fuzz targets: the same setup and daemon as `loki serve`,
 * started on an ephemeral loopback port and stopped by a call rather than a signal. */
#include <microhttpd.h>
#include <stdlib.h>

#include "server.h"

srv *srv_start(const srv_config *cfg, unsigned *port)
{
    srv *s = loki__calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg = *cfg;
    if (srv_setup(s) != 0)
        goto teardown;
    s->daemon = srv_http_start(s, port);
    if (!s->daemon)
        goto teardown;
    srv_cluster_instance_id(s, *port);
    return s;
teardown:
    srv_teardown(s);
    free(s);
    return NULL;
}

void srv_stop(srv *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->daemon);
    srv_teardown(s);
    free(s);
}
