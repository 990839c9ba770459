/* SPDX-License-Identifier: MIT */
/*
 * Universal detectors: PII with validators (Luhn, mod-97, NI prefix rules, NHS mod-11...),
 * contradictions, unsupported claims, financial-promotion risk and Consumer Duty gaps. They run
 * on every document regardless of modules. Internal; see docs/detectors.md.
 */
#ifndef LOKI_DETECT_H
#define LOKI_DETECT_H

#include "../doc/doc.h"
#include "../util/util.h"
#include "loki/loki.h"

typedef struct loki_detect_input {
    const char *text;       /* validated UTF-8 */
    size_t len;
    const char *doc_type;   /* "unknown" when not given */
    const loki_posmap *pm;  /* for line/column/code points of spans */
    loki_arena *arena;      /* everything returned is allocated here */
    unsigned max_spans;     /* per finding */
} loki_detect_input;

/*
 * Runs every universal detector. On success *out/*n hold the findings (in the arena), in a
 * deterministic order. Cost is linear in len. Thread-safe.
 */
loki_status loki__detect_all(const loki_detect_input *in, loki_universal_finding **out,
                             size_t *n, loki_error *err);

#endif
