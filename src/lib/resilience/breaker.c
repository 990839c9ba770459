/* SPDX-License-Identifier: MIT */
/*
 * Circuit breaker: CLOSED → OPEN on N consecutive failures, or on a failure rate over a rolling
 * window once it holds enough calls; OPEN rejects at once until open_ms have passed; then
 * HALF_OPEN lets a few probes through; enough probe successes close it, one failure reopens it.
 * The window is a ring of 10 buckets so the rate forgets old calls without storing each one.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "../util/util.h"
#include "loki/resilience.h"

#define NBUCKETS 10

struct loki_breaker {
    pthread_mutex_t lock;
    char name[64];
    loki_breaker_config cfg;
    loki_circuit_state state;
    int64_t since;
    unsigned consecutive;
    unsigned probes_out, probe_ok;
    struct {
        int64_t start;
        unsigned calls, failures;
    } win[NBUCKETS];
    uint64_t calls, successes, failures, rejected, opened, half_opened, closed;
};

void loki_breaker_config_default(loki_breaker_config *c)
{
    c->consecutive_failures = 5;
    c->failure_rate = 0.5;
    c->min_calls = 10;
    c->window_ms = 30000;
    c->open_ms = 10000;
    c->half_open_probes = 1;
    c->success_threshold = 1;
}

const char *loki_circuit_state_name(loki_circuit_state s)
{
    switch (s) {
    case LOKI_CIRCUIT_CLOSED: return "closed";
    case LOKI_CIRCUIT_OPEN: return "open";
    case LOKI_CIRCUIT_HALF_OPEN: return "half_open";
    }
    return "unknown";
}

loki_status loki_breaker_create(const char *name, const loki_breaker_config *c,
                                loki_breaker **out)
{
    loki_breaker *b = loki__calloc(1, sizeof *b);
    if (!b)
        return LOKI_ENOMEM;
    if (pthread_mutex_init(&b->lock, NULL) != 0) {
        loki__free(b);
        return LOKI_ENOMEM;
    }
    snprintf(b->name, sizeof b->name, "%s", name ? name : "");
    if (c)
        b->cfg = *c;
    else
        loki_breaker_config_default(&b->cfg);
    if (b->cfg.window_ms < NBUCKETS)
        b->cfg.window_ms = NBUCKETS;
    if (!b->cfg.half_open_probes)
        b->cfg.half_open_probes = 1;
    if (!b->cfg.success_threshold)
        b->cfg.success_threshold = 1;
    *out = b;
    return LOKI_OK;
}

void loki_breaker_destroy(loki_breaker *b)
{
    if (!b)
        return;
    pthread_mutex_destroy(&b->lock);
    loki__free(b);
}

const char *loki_breaker_name(const loki_breaker *b)
{
    return b->name;
}

static void window_totals(loki_breaker *b, int64_t now, unsigned *calls, unsigned *fails)
{
    *calls = *fails = 0;
    for (int i = 0; i < NBUCKETS; i++)
        if (now - b->win[i].start < b->cfg.window_ms) {
            *calls += b->win[i].calls;
            *fails += b->win[i].failures;
        }
}

static void window_add(loki_breaker *b, int64_t now, int failed)
{
    int64_t width = b->cfg.window_ms / NBUCKETS;
    int64_t slot_start = now - (now % width);
    int i = (int)((now / width) % NBUCKETS);
    if (b->win[i].start != slot_start) {
        b->win[i].start = slot_start;
        b->win[i].calls = b->win[i].failures = 0;
    }
    b->win[i].calls++;
    b->win[i].failures += failed != 0;
}

static void go(loki_breaker *b, loki_circuit_state s, int64_t now)
{
    b->state = s;
    b->since = now;
    b->probes_out = b->probe_ok = 0;
    if (s == LOKI_CIRCUIT_OPEN)
        b->opened++;
    else if (s == LOKI_CIRCUIT_HALF_OPEN)
        b->half_opened++;
    else {
        b->closed++;
        b->consecutive = 0;
        memset(b->win, 0, sizeof b->win);
    }
}

loki_status loki_breaker_allow(loki_breaker *b, int64_t now_ms, int64_t *retry_after_ms)
{
    loki_status st = LOKI_OK;
    pthread_mutex_lock(&b->lock);
    if (b->state == LOKI_CIRCUIT_OPEN && now_ms - b->since >= b->cfg.open_ms)
        go(b, LOKI_CIRCUIT_HALF_OPEN, now_ms);
    if (b->state == LOKI_CIRCUIT_OPEN) {
        st = LOKI_ECIRCUIT_OPEN;
        if (retry_after_ms)
            *retry_after_ms = b->cfg.open_ms - (now_ms - b->since);
    } else if (b->state == LOKI_CIRCUIT_HALF_OPEN) {
        if (b->probes_out >= b->cfg.half_open_probes) {
            st = LOKI_ECIRCUIT_OPEN;
            if (retry_after_ms)
                *retry_after_ms = 0;
        } else {
            b->probes_out++;
        }
    }
    if (st == LOKI_OK)
        b->calls++;
    else
        b->rejected++;
    pthread_mutex_unlock(&b->lock);
    return st;
}

void loki_breaker_record(loki_breaker *b, int success, int64_t now_ms)
{
    pthread_mutex_lock(&b->lock);
    if (success)
        b->successes++;
    else
        b->failures++;
    if (b->state == LOKI_CIRCUIT_HALF_OPEN) {
        if (!success) {
            go(b, LOKI_CIRCUIT_OPEN, now_ms);
        } else if (++b->probe_ok >= b->cfg.success_threshold) {
            go(b, LOKI_CIRCUIT_CLOSED, now_ms);
        } else if (b->probes_out > 0) {
            b->probes_out--; /* let the next probe through */
        }
    } else if (b->state == LOKI_CIRCUIT_CLOSED) {
        window_add(b, now_ms, !success);
        b->consecutive = success ? 0 : b->consecutive + 1;
        unsigned calls, fails;
        window_totals(b, now_ms, &calls, &fails);
        int by_count = b->cfg.consecutive_failures && b->consecutive >= b->cfg.consecutive_failures;
        int by_rate = b->cfg.failure_rate > 0 && calls >= b->cfg.min_calls &&
                      (double)fails >= b->cfg.failure_rate * (double)calls;
        if (by_count || by_rate)
            go(b, LOKI_CIRCUIT_OPEN, now_ms);
    }
    /* A late result while OPEN changes nothing. */
    pthread_mutex_unlock(&b->lock);
}

void loki_breaker_stats_get(loki_breaker *b, int64_t now_ms, loki_breaker_stats *out)
{
    pthread_mutex_lock(&b->lock);
    if (b->state == LOKI_CIRCUIT_OPEN && now_ms - b->since >= b->cfg.open_ms)
        go(b, LOKI_CIRCUIT_HALF_OPEN, now_ms);
    out->state = b->state;
    out->calls = b->calls;
    out->successes = b->successes;
    out->failures = b->failures;
    out->rejected = b->rejected;
    out->opened = b->opened;
    out->half_opened = b->half_opened;
    out->closed = b->closed;
    window_totals(b, now_ms, &out->window_calls, &out->window_failures);
    out->state_since_ms = b->since;
    pthread_mutex_unlock(&b->lock);
}
