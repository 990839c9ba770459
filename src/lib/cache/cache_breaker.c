/* SPDX-License-Identifier: MIT */
/*
 * The circuit breaker guarding Redis (DESIGN.md §6): CLOSED until enough consecutive failures,
 * then OPEN (every call rejected at once) for open_ms, then HALF_OPEN where one probe at a time
 * goes through; enough probe successes close it, one failure reopens it. Time is passed in so
 * tests drive it without sleeping.
 */
#include "cache_int.h"

void loki__breaker_init(loki__breaker *br, unsigned fail_threshold, uint64_t open_ms,
                        unsigned close_successes)
{
    pthread_mutex_init(&br->mu, NULL);
    br->state = LOKI_BREAKER_CLOSED;
    br->failures = br->successes = br->probing = 0;
    br->opened_at = 0;
    br->fail_threshold = fail_threshold ? fail_threshold : 1;
    br->close_successes = close_successes ? close_successes : 1;
    br->open_ms = open_ms;
    br->opens = br->rejects = 0;
}

void loki__breaker_release(loki__breaker *br)
{
    pthread_mutex_destroy(&br->mu);
}

static void trip(loki__breaker *br, uint64_t now)
{
    br->state = LOKI_BREAKER_OPEN;
    br->opened_at = now;
    br->failures = br->successes = br->probing = 0;
    br->opens++;
}

int loki__breaker_allow(loki__breaker *br, uint64_t now)
{
    int ok = 0;
    pthread_mutex_lock(&br->mu);
    switch (br->state) {
    case LOKI_BREAKER_CLOSED: ok = 1; break;
    case LOKI_BREAKER_OPEN:
        if (now - br->opened_at < br->open_ms)
            break;
        br->state = LOKI_BREAKER_HALF_OPEN;
        br->successes = 0;
        br->probing = 0;
        /* the first call after the open period is the probe */
        __attribute__((fallthrough));
    case LOKI_BREAKER_HALF_OPEN:
        if (br->probing == 0) {
            br->probing = 1;
            ok = 1;
        }
        break;
    }
    if (!ok)
        br->rejects++;
    pthread_mutex_unlock(&br->mu);
    return ok;
}

void loki__breaker_done(loki__breaker *br, int ok, uint64_t now)
{
    pthread_mutex_lock(&br->mu);
    switch (br->state) {
    case LOKI_BREAKER_CLOSED:
        if (ok)
            br->failures = 0;
        else if (++br->failures >= br->fail_threshold)
            trip(br, now);
        break;
    case LOKI_BREAKER_HALF_OPEN:
        br->probing = 0;
        if (!ok)
            trip(br, now);
        else if (++br->successes >= br->close_successes) {
            br->state = LOKI_BREAKER_CLOSED;
            br->failures = 0;
        }
        break;
    case LOKI_BREAKER_OPEN:
        /* A call admitted while closed finished after another tripped the breaker. */
        break;
    }
    pthread_mutex_unlock(&br->mu);
}

loki_breaker_state loki__breaker_state(loki__breaker *br, uint64_t *opens, uint64_t *rejects)
{
    pthread_mutex_lock(&br->mu);
    loki_breaker_state s = br->state;
    if (opens)
        *opens = br->opens;
    if (rejects)
        *rejects = br->rejects;
    pthread_mutex_unlock(&br->mu);
    return s;
}
