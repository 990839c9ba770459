/* SPDX-License-Identifier: MIT */
/*
 * Resilience building blocks for calls to external services (LLM providers, Redis): a circuit
 * breaker, a retry policy with exponential backoff and full jitter, and token buckets. Every
 * function takes the current time (`now_ms`, a monotonic clock in milliseconds) from the caller,
 * so tests are deterministic and nothing here sleeps. Breakers and buckets are thread-safe.
 */
#ifndef LOKI_RESILIENCE_H
#define LOKI_RESILIENCE_H

#include <stddef.h>
#include <stdint.h>

#include "loki/loki.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- circuit breaker ---- */

typedef enum loki_circuit_state {
    LOKI_CIRCUIT_CLOSED = 0,
    LOKI_CIRCUIT_OPEN,
    LOKI_CIRCUIT_HALF_OPEN
} loki_circuit_state;

typedef struct loki_breaker_config {
    unsigned consecutive_failures; /* open after this many failures in a row (default 5) */
    double failure_rate;           /* open when failures/calls in the window reach this (0.5) */
    unsigned min_calls;            /* ...and the window holds at least this many calls (10) */
    int64_t window_ms;             /* length of the rolling window (default 30000) */
    int64_t open_ms;               /* time OPEN before probes are allowed (default 10000) */
    unsigned half_open_probes;     /* calls let through while HALF_OPEN (default 1) */
    unsigned success_threshold;    /* probe successes needed to close (default 1) */
} loki_breaker_config;

void loki_breaker_config_default(loki_breaker_config *c);

typedef struct loki_breaker loki_breaker;

typedef struct loki_breaker_stats {
    loki_circuit_state state;
    uint64_t calls, successes, failures, rejected; /* totals since creation */
    uint64_t opened, half_opened, closed;          /* transitions */
    unsigned window_calls, window_failures;
    int64_t state_since_ms;
} loki_breaker_stats;

loki_status loki_breaker_create(const char *name, const loki_breaker_config *c,
                                loki_breaker **out);
void loki_breaker_destroy(loki_breaker *b);
const char *loki_breaker_name(const loki_breaker *b);
/* Asks to make a call. Returns LOKI_OK (go ahead; report the outcome with loki_breaker_record)
 * or LOKI_ECIRCUIT_OPEN (rejected at once; *retry_after_ms says when a probe may pass). */
loki_status loki_breaker_allow(loki_breaker *b, int64_t now_ms, int64_t *retry_after_ms);
void loki_breaker_record(loki_breaker *b, int success, int64_t now_ms);
void loki_breaker_stats_get(loki_breaker *b, int64_t now_ms, loki_breaker_stats *out);
const char *loki_circuit_state_name(loki_circuit_state s);

/* ---- retry policy ---- */

typedef struct loki_retry_policy {
    unsigned max_attempts;  /* including the first (default 3) */
    int64_t base_ms;        /* first backoff cap (default 200) */
    int64_t max_backoff_ms; /* cap on any one wait (default 10000) */
    int64_t max_retry_after_ms; /* longest Retry-After honoured (default 60000) */
} loki_retry_policy;

void loki_retry_policy_default(loki_retry_policy *p);

/* What happened to an attempt, for the retry decision. */
typedef struct loki_attempt {
    int http_status;         /* 0 when no response (connection error or timeout) */
    int timed_out;           /* the attempt hit its timeout */
    int connect_error;       /* could not connect / connection reset before a response */
    int64_t retry_after_ms;  /* parsed Retry-After, or -1 */
    int bytes_relayed;       /* 1 once any response byte was forwarded to the client */
} loki_attempt;

/* 1 if the outcome may be retried: timeouts, connection errors, 429, 500, 502, 503, 504, 529 —
 * and never once a byte was relayed. */
int loki_retry_retryable(const loki_attempt *a);
/*
 * Decides whether attempt number `attempt` (1-based, the one that just failed) is followed by
 * another, and how long to wait first: exponential backoff with full jitter (uniform in
 * [0, min(max_backoff, base * 2^(attempt-1))]) using `rand01` (a value in [0,1) supplied by the
 * caller), or the Retry-After when given (capped). Returns 1 with *wait_ms, or 0 to stop.
 */
int loki_retry_next(const loki_retry_policy *p, unsigned attempt, const loki_attempt *a,
                    double rand01, int64_t *wait_ms);
/* Parses an HTTP Retry-After value (delta-seconds, or an IMF-fixdate relative to now_unix).
 * Returns milliseconds, or -1 when it does not parse. */
int64_t loki_retry_after_parse(const char *value, int64_t now_unix);

/* A retry budget: retries may add at most `ratio` of the first attempts in the window, so that
 * an outage cannot multiply the load. Thread-safe. */
typedef struct loki_retry_budget loki_retry_budget;
loki_status loki_retry_budget_create(double ratio, unsigned min_per_window, int64_t window_ms,
                                     loki_retry_budget **out);
void loki_retry_budget_destroy(loki_retry_budget *b);
void loki_retry_budget_note_request(loki_retry_budget *b, int64_t now_ms);
/* 1 and counts the retry when the budget allows it, else 0. */
int loki_retry_budget_take(loki_retry_budget *b, int64_t now_ms);

/* ---- token bucket ---- */

typedef struct loki_bucket loki_bucket;
/* `rate_per_s` tokens are added per second up to `burst`. The bucket starts full. */
loki_status loki_bucket_create(double rate_per_s, double burst, int64_t now_ms,
                               loki_bucket **out);
void loki_bucket_destroy(loki_bucket *b);
/* Takes n tokens if available (returns 1); else returns 0 and *wait_ms says when they will be. */
int loki_bucket_take(loki_bucket *b, double n, int64_t now_ms, int64_t *wait_ms);
double loki_bucket_level(loki_bucket *b, int64_t now_ms);

#ifdef __cplusplus
}
#endif
#endif
