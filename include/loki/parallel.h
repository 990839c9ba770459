/* SPDX-License-Identifier: MIT */
/*
 * libloki — chunked parallel processing of large texts, for any per-chunk function.
 *
 * loki_check() already scans one large document on several threads (loki_engine_config.jobs)
 * with an exact result. This API offers the same machinery for other work: the text is cut
 * into chunks at paragraph, else line, else sentence boundaries, neighbouring chunks share
 * `overlap` bytes (so anything shorter than the overlap lies wholly inside some chunk), a
 * thread pool runs the caller's function on each chunk, and the results are aggregated:
 *
 *   LOKI_AGG_ALL           every chunk's result, in text order;
 *   LOKI_AGG_MERGE         folded in text order with the caller's merge function;
 *   LOKI_AGG_MAX_SEVERITY  the result with the highest severity (the earliest on ties).
 *
 * Results the aggregation does not keep are handed to the caller's free function.
 */
#ifndef LOKI_PARALLEL_H
#define LOKI_PARALLEL_H

#include <stddef.h>
#include <stdint.h>

#include "loki/loki.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct loki_chunk {
    const char *text;   /* the chunk, overlap included; not NUL-terminated */
    size_t len;
    size_t offset;      /* of text[0] in the whole text */
    size_t own_start;   /* [own_start, own_end): the bytes this chunk alone owns (no overlap), */
    size_t own_end;     /* as whole-text offsets; the owned ranges tile the text exactly */
    size_t index;       /* 0-based, in text order */
    size_t count;       /* number of chunks */
} loki_chunk;

typedef struct loki_chunk_result {
    void *value;  /* the caller's result (may be NULL) */
    int severity; /* read by LOKI_AGG_MAX_SEVERITY (e.g. a loki_severity) */
} loki_chunk_result;

typedef enum loki_aggregate {
    LOKI_AGG_ALL = 0,
    LOKI_AGG_MERGE,
    LOKI_AGG_MAX_SEVERITY,
} loki_aggregate;

typedef struct loki_parallel_options {
    size_t chunk_bytes; /* target chunk size (default 1 MiB; at least 4 KiB) */
    size_t overlap;     /* bytes shared by neighbouring chunks (default 0) */
    unsigned jobs;      /* threads (default 1; at most 64) */
    loki_aggregate aggregate;
    /* Called on a pool thread for each chunk; returns LOKI_OK or an error (the first error
     * in text order is returned, with its message). */
    loki_status (*fn)(void *ctx, const loki_chunk *chunk, loki_chunk_result *out,
                      loki_error *err);
    /* LOKI_AGG_MERGE: folds `next` into `*acc` (text order; *acc starts as the first chunk's
     * value). Runs on the calling thread. The merge owns `next` afterwards. */
    loki_status (*merge)(void *ctx, void **acc, void *next, loki_error *err);
    /* Frees a result the aggregation drops (or all of them after an error). May be NULL. */
    void (*free_value)(void *ctx, void *value);
    /* Called from the calling thread as chunks complete: chunks done of total. May be NULL. */
    void (*progress)(void *ctx, size_t done, size_t total);
    void *ctx;
} loki_parallel_options;

void loki_parallel_options_default(loki_parallel_options *o);

/*
 * Processes text[0, len). On success:
 *   LOKI_AGG_ALL:          *values is a loki__malloc'd array of *n_values results (free it with
 *                          free(); the values are the caller's);
 *   LOKI_AGG_MERGE and
 *   LOKI_AGG_MAX_SEVERITY: *values points to one slot holding the chosen value, *n_values = 1
 *                          (0 for an empty text), *severity (may be NULL) its severity.
 * Errors: LOKI_EINVAL (no fn, or MERGE without merge), LOKI_ENOMEM, or fn's/merge's error.
 */
loki_status loki_parallel_process(const char *text, size_t len, const loki_parallel_options *o,
                                  void ***values, size_t *n_values, int *severity,
                                  loki_error *err);

/*
 * Estimated wall time in milliseconds to check `bytes` with `jobs` threads, from the engine's
 * measured throughput so far (its statistics), or from a conservative built-in figure before
 * the engine has checked anything. Parallel speed-up is taken as 0.8 per extra thread.
 */
double loki_engine_estimate_ms(const loki_engine *eng, uint64_t bytes, unsigned jobs);

#ifdef __cplusplus
}
#endif

#endif
