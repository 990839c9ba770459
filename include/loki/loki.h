/* SPDX-License-Identifier: MIT */
/*
 * libloki: the public API of the LOKI compliance engine.
 *
 * An engine is built once from a directory of rule packs and is then immutable: any number of
 * threads may call loki_check() on one engine at the same time. A verdict is owned by the caller
 * and freed with loki_verdict_destroy(). The library never prints, exits or reads the
 * environment; every failure is a loki_status with details in a loki_error filled by the callee.
 */
#ifndef LOKI_H
#define LOKI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LOKI_VERSION_MAJOR 0
#define LOKI_VERSION_MINOR 3
#define LOKI_VERSION_PATCH 0
#define LOKI_VERSION_STRING "0.3.0"

/* Returns LOKI_VERSION_STRING of the library actually linked. */
const char *loki_version(void);

typedef enum loki_status {
    LOKI_OK = 0,
    LOKI_ENOMEM,         /* an allocation failed */
    LOKI_EINVAL,         /* an argument is invalid (unknown module, unknown document type...) */
    LOKI_EPARSE,         /* a rule pack or other structured input does not parse */
    LOKI_EIO,            /* a file could not be read or written */
    LOKI_ETIMEOUT,       /* an operation ran out of time */
    LOKI_ELIMIT,         /* an input is larger than a configured limit */
    LOKI_ECIRCUIT_OPEN,  /* a circuit breaker rejected the call */
    LOKI_EENCODING,      /* text is not valid UTF-8 (or contains NUL bytes) */
    LOKI_ENOTFOUND,      /* a named thing does not exist */
    LOKI_EINTERNAL       /* a dependency failed unexpectedly (scanner, regex engine) */
} loki_status;

/* A short static description of a status code. Never NULL. */
const char *loki_strerror(loki_status st);

/*
 * Details of a failure. `file`, `line` and `column` (1-based) locate errors in rule packs;
 * `offset` is the byte offset of an error inside a checked document (or SIZE_MAX when not
 * applicable). Callers may pass NULL where they accept loki_error *.
 */
typedef struct loki_error {
    loki_status code;
    char message[512];
    char file[512];
    unsigned line;
    unsigned column;
    size_t offset;
} loki_error;

/* ---------------------------------------------------------------------------------------- */
/* Engine                                                                                    */
/* ---------------------------------------------------------------------------------------- */

typedef struct loki_engine loki_engine;

typedef struct loki_engine_config {
    /* Directory of *.yaml rule packs, or a single pack file. Required. */
    const char *rules_path;
    /* Directory for the compiled-database cache, or NULL to compile every time. The library
     * creates it if missing. The CLI passes $XDG_CACHE_HOME/loki or ~/.cache/loki. */
    const char *cache_dir;
    /* Modules to load (ids), or NULL/0 for every pack found. Unknown ids fail with EINVAL. */
    const char *const *modules;
    size_t n_modules;
    /* Largest document loki_check() accepts, in bytes (default 256 MiB). */
    size_t max_document_bytes;
    /* Largest rule-pack file accepted, in bytes (default 4 MiB). */
    size_t max_pack_bytes;
    /* Most spans reported per finding (default 50). */
    unsigned max_spans_per_finding;
    /* Compile every pattern's span regex now instead of on first use (for linting). */
    int validate_all;
    /* Threads used to scan one large document (default 1). The verdict is identical for any
     * value. */
    unsigned jobs;
    /* Documents at least this large are split into chunks scanned in parallel when jobs > 1
     * (default 1 MiB). */
    size_t parallel_threshold;
    /* Streaming checks (loki_stream_*) work through the text in segments of about this many
     * bytes (default 1 MiB, at least 4 KiB); memory use is a few segments. */
    size_t stream_segment_bytes;
} loki_engine_config;

/* Fills *cfg with defaults (rules_path NULL: the caller must set it). */
void loki_engine_config_default(loki_engine_config *cfg);

/*
 * Loads, validates and compiles the rule packs. On failure *out is NULL and err says which
 * file, line and column were wrong. Thread-safe (independent engines).
 */
loki_status loki_engine_create(const loki_engine_config *cfg, loki_engine **out,
                               loki_error *err);
/* Frees the engine; NULL is a no-op. No check may be running on it. */
void loki_engine_destroy(loki_engine *eng);

/* Counters of an engine since it was created. Thread-safe to read at any time. */
typedef struct loki_engine_stats {
    uint64_t checks;       /* loki_check() calls that returned a verdict */
    uint64_t errors;       /* loki_check() calls that failed (bad input, limits, memory) */
    uint64_t bytes;        /* bytes of text checked */
    uint64_t parallel;     /* checks scanned on several threads */
    double scan_ms, evaluate_ms, detect_ms; /* total time in each phase */
} loki_engine_stats;

void loki_engine_stats_get(const loki_engine *eng, loki_engine_stats *out);

/* SHA-256 (hex) over the loaded packs and the engine's rule-compiler version. */
const char *loki_engine_fingerprint(const loki_engine *eng);
/* 1 when the compiled database came from the on-disk cache, 0 when it was compiled. */
int loki_engine_db_from_cache(const loki_engine *eng);

/* ---------------------------------------------------------------------------------------- */
/* Catalog (read-only views into the engine; valid while the engine lives)                   */
/* ---------------------------------------------------------------------------------------- */

typedef enum loki_severity {
    LOKI_SEV_NONE = 0,
    LOKI_SEV_LOW,
    LOKI_SEV_MEDIUM,
    LOKI_SEV_HIGH,
    LOKI_SEV_CRITICAL
} loki_severity;

typedef enum loki_gate_status {
    LOKI_PASS = 0,
    LOKI_FAIL,
    LOKI_WARNING,
    LOKI_NA,
    LOKI_ERROR
} loki_gate_status;

/* "none", "low", ... and "PASS", "FAIL", "WARNING", "N/A", "ERROR". */
const char *loki_severity_name(loki_severity s);
const char *loki_status_name(loki_gate_status s);
/* Parses a severity name (case-insensitive); returns -1 when unknown. */
int loki_severity_parse(const char *name);

typedef struct loki_gate_info {
    const char *id;
    const char *title;
    const char *legal_source;
    loki_severity severity;
    const char *file; /* the pack it came from, and the line of its `id` */
    unsigned line;
} loki_gate_info;

typedef struct loki_module_info {
    const char *id;
    const char *name;
    const char *version;
    const char *description;
    const char *file;
    size_t n_gates;
    const loki_gate_info *const *gates;
    size_t n_applies_to;
    const char *const *applies_to;
} loki_module_info;

size_t loki_engine_module_count(const loki_engine *eng);
const loki_module_info *loki_engine_module(const loki_engine *eng, size_t i);
/* Returns NULL when no module has this id. */
const loki_module_info *loki_engine_find_module(const loki_engine *eng, const char *id);

/* The document types LOKI knows, NULL-terminated (see docs/rules.md). */
const char *const *loki_document_types(void);
int loki_document_type_valid(const char *type);

/* ---------------------------------------------------------------------------------------- */
/* Checking                                                                                  */
/* ---------------------------------------------------------------------------------------- */

typedef struct loki_check_options {
    /* A document type from loki_document_types(), or NULL for "unknown". */
    const char *document_type;
    /* Modules to evaluate (ids), or NULL/0 for every loaded module. */
    const char *const *modules;
    size_t n_modules;
    /* Unix time written into the verdict's timestamp; 0 means "now". Tests pin it. */
    int64_t timestamp;
    /* 1: do not run the universal detectors (PII, contradictions, claims...). */
    int no_universal;
    /* When not NULL, the phases of the check (scan, evaluate, detectors) are timed into this
     * profiler (include/loki/obs.h). */
    struct loki_profiler *profiler;
    /* When not NULL, called from the checking thread as a long check advances: `done` bytes
     * of `total` (total is 0 when unknown, as for a stream). At most once per segment or
     * scan phase, so it costs nothing measurable. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
} loki_check_options;

void loki_check_options_default(loki_check_options *opts);

typedef struct loki_span {
    size_t start, end;           /* byte offsets into the text, end exclusive */
    size_t char_start, char_end; /* the same in Unicode code points */
    unsigned line, column;       /* 1-based; column counts code points */
    const char *text;            /* the matched text, at most 200 bytes, not NUL-terminated */
    size_t text_len;
    const char *label;           /* the pattern set that matched */
} loki_span;

typedef struct loki_finding {
    const loki_gate_info *gate;
    loki_gate_status status;
    loki_severity severity;
    const char *message;
    const char *suggestion; /* may be NULL */
    const char *penalty;    /* may be NULL */
    size_t n_spans;
    const loki_span *spans;
} loki_finding;

typedef struct loki_module_result {
    const loki_module_info *module;
    int applicable; /* 0: every finding is N/A because the module does not apply */
    size_t n_findings;
    const loki_finding *findings; /* in pack order */
    unsigned summary[5];          /* counts indexed by loki_gate_status */
} loki_module_result;

/*
 * A finding of a universal detector (run on every document regardless of modules; see
 * docs/detectors.md). For PII the span texts are masked: the full value never appears in a
 * verdict, a log or text output.
 */
typedef struct loki_universal_finding {
    const char *detector;   /* "pii", "contradiction", "unsupported_claim",
                               "financial_promotion", "consumer_duty", "cross_validation" */
    const char *type;       /* e.g. "payment_card", "ni_number", "iban", "contradiction" */
    loki_gate_status status; /* FAIL or WARNING */
    loki_severity severity;
    double confidence;      /* 0..1 */
    const char *message;
    const char *suggestion; /* may be NULL */
    size_t n_spans;
    const loki_span *spans;
} loki_universal_finding;

typedef enum loki_risk { LOKI_RISK_LOW = 0, LOKI_RISK_MEDIUM, LOKI_RISK_HIGH, LOKI_RISK_CRITICAL } loki_risk;
const char *loki_risk_name(loki_risk r);

typedef struct loki_verdict {
    char document_hash[65]; /* SHA-256 of the text, hex */
    int64_t timestamp;
    size_t document_bytes;
    const char *document_type;          /* as given, or "unknown" */
    size_t n_detected_types;
    const char *const *detected_types;  /* inferred types, best first (type unknown only) */
    const char *ruleset_fingerprint;
    size_t n_modules;
    const loki_module_result *modules;
    loki_risk overall_risk;
    unsigned fail_by_severity[5];    /* FAIL counts indexed by loki_severity */
    unsigned warning_by_severity[5]; /* WARNING counts indexed by loki_severity */
    double scan_ms, evaluate_ms, total_ms;
    size_t n_universal;
    const loki_universal_finding *universal;
    double detect_ms;
    /* Why each detected type was inferred: for detected_types[i], the signals that matched. */
    const char *const *const *detected_signals; /* NULL-terminated list per detected type */
} loki_verdict;

/*
 * Checks `len` bytes of UTF-8 text (NUL termination not needed). Invalid UTF-8 or NUL bytes
 * fail with LOKI_EENCODING and err->offset/line/column locating the first bad byte; a text
 * larger than max_document_bytes fails with LOKI_ELIMIT; an unknown module or document type
 * fails with LOKI_EINVAL. Thread-safe: many threads may check on one engine.
 */
loki_status loki_check(loki_engine *eng, const char *text, size_t len,
                       const loki_check_options *opts, loki_verdict **out, loki_error *err);
void loki_verdict_destroy(loki_verdict *v);

/*
 * Streaming checks: a text of any size, fed in pieces of any size (a file or stdin), checked
 * in bounded memory (a few stream_segment_bytes). The rule-pack verdict is exactly the one
 * loki_check() gives for the whole text: same gates, statuses, spans with line/column, detected
 * types, hash and size. The universal detectors run on each segment (cut at a line end) rather
 * than on the whole text, so a contradiction between two distant segments is not reported
 * and at most LOKI_STREAM_MAX_UNIVERSAL findings are kept; see docs/performance.md.
 * max_document_bytes does not apply. A stream is used by one thread at a time.
 *
 *   loki_stream_begin()  checks the options (LOKI_EINVAL for an unknown module or type);
 *   loki_stream_feed()   takes the next bytes; invalid UTF-8 or a NUL byte fails with
 *                        LOKI_EENCODING located at its document offset/line/column, and every
 *                        later call then fails the same way;
 *   loki_stream_end()    finishes and returns the verdict (free with loki_verdict_destroy);
 *   loki_stream_destroy() frees the stream (always, also after an error; NULL is a no-op).
 */
#define LOKI_STREAM_MAX_UNIVERSAL 1000u
typedef struct loki_stream loki_stream;
loki_status loki_stream_begin(loki_engine *eng, const loki_check_options *opts,
                              loki_stream **out, loki_error *err);
loki_status loki_stream_feed(loki_stream *st, const void *data, size_t len, loki_error *err);
loki_status loki_stream_end(loki_stream *st, loki_verdict **out, loki_error *err);
void loki_stream_destroy(loki_stream *st);
/* Bytes fed so far. */
uint64_t loki_stream_bytes(const loki_stream *st);

enum {
    LOKI_JSON_PRETTY = 1u << 0,     /* indent with two spaces */
    LOKI_JSON_NO_TIMINGS = 1u << 1, /* omit timestamp and timings (byte-stable output) */
};

/*
 * Renders the verdict as JSON (docs/verdict.md). *out is malloc'd and NUL-terminated; the
 * caller frees it with free().
 */
loki_status loki_verdict_to_json(const loki_verdict *v, unsigned flags, char **out,
                                 size_t *out_len);

/*
 * Runs a single gate on a text with the module's domain treated as true: what
 * `loki rules test` uses for a gate's examples. *status receives the outcome.
 */
loki_status loki_engine_test_gate(loki_engine *eng, const char *module_id, const char *gate_id,
                                  const char *text, size_t len, loki_gate_status *status,
                                  loki_error *err);

/* Every gate example in the loaded packs, for `loki rules test`. */
typedef struct loki_example {
    const char *module_id;
    const char *gate_id;
    loki_gate_status expect;
    const char *text;
    const char *file;
    unsigned line, column;
} loki_example;
size_t loki_engine_example_count(const loki_engine *eng);
const loki_example *loki_engine_example(const loki_engine *eng, size_t i);

/* ---------------------------------------------------------------------------------------- */
/* Redaction                                                                                 */
/* ---------------------------------------------------------------------------------------- */

typedef enum loki_mask_style {
    LOKI_MASK_STARS = 0, /* every character of the value becomes '*' (length kept) */
    LOKI_MASK_TYPE,      /* the value becomes [TYPE], e.g. [EMAIL] */
    LOKI_MASK_PARTIAL    /* keep the last 4 characters, star the rest */
} loki_mask_style;

typedef struct loki_redact_options {
    loki_mask_style style;
    const char *document_type; /* NULL = unknown */
    double min_confidence;     /* findings below this are left alone (default 0.5) */
} loki_redact_options;

void loki_redact_options_default(loki_redact_options *o);

/*
 * Returns the text with every PII finding masked. *out is malloc'd and NUL-terminated; the
 * caller frees it. *n_masked receives the number of values masked. Needs no engine: the PII
 * detectors are built in. Thread-safe.
 */
loki_status loki_redact(const char *text, size_t len, const loki_redact_options *opts,
                        char **out, size_t *out_len, size_t *n_masked, loki_error *err);

#ifdef __cplusplus
}
#endif
#endif /* LOKI_H */
