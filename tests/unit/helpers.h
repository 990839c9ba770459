/* SPDX-License-Identifier: MIT */
/* Test helpers: temporary rule-pack directories written from strings. */
#ifndef LOKI_TEST_HELPERS_H
#define LOKI_TEST_HELPERS_H

#include <stddef.h>

#include "loki/loki.h"

/* Creates a fresh directory under $LOKI_TEST_TMP (or /tmp) and returns its path (static). */
const char *th_tmpdir(const char *name);
/* Writes content to dir/file. */
void th_write(const char *dir, const char *file, const char *content);
/* Builds an engine over one pack given as text; returns the status, fills err. */
loki_status th_engine(const char *pack, loki_engine **eng, loki_error *err);

#endif
