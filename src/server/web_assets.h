/* SPDX-License-Identifier: MIT */
/* The web page's files, embedded at build time: web/embed.cmake turns the files in web/ into
 * byte arrays in the generated web_assets.c; static.c serves them. Read-only, any thread. */
#ifndef LOKI_WEB_ASSETS_H
#define LOKI_WEB_ASSETS_H

#include <stddef.h>

typedef struct srv_web_asset {
    const char *path;          /* URL path: "/" for index.html, "/app.js"... */
    const char *ctype;         /* Content-Type */
    const char *etag;          /* quoted strong validator: a prefix of the file's SHA-256 */
    const unsigned char *data; /* NUL-terminated for convenience; len excludes the NUL */
    size_t len;
} srv_web_asset;

extern const srv_web_asset srv_web_assets[];
extern const size_t srv_web_n_assets;

#endif
