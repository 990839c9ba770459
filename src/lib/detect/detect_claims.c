/* SPDX-License-Identifier: MIT */
/*
 * Claim-level detectors: contradictions, unsupported claims (invented statistics, citations,
 * fabricated certainty, absolute guarantees), financial-promotion risk and Consumer Duty gaps.
 *
 * One pass over the words of the text. At each word start the whole phrase table is matched
 * at once (a trie, detect_lex.h; most words are ruled out by a hashed test of the word first),
 * and what a phrase means is recorded: for contradictions only the first occurrence of each
 * side of each claim class, so a class that has both sides is reported with both spans without
 * ever comparing sentences with each other. Sentence-level evidence (a year, a percentage, a
 * study word, a source) is kept as flags for the current sentence.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <pthread.h>
#include <string.h>

#include "detect.h"
#include "detect_lex.h"

enum kind {
    K_CONTRA,   /* contradiction class `cls`, side `side` */
    K_PROHIB,   /* financial promotion: prohibited claim */
    K_RISKWARN, /* financial promotion: a risk warning */
    K_ABSOLUTE, /* unsupported: absolute guarantee */
    K_CERTAIN,  /* unsupported: fabricated certainty ("studies show") */
    K_STUDY,    /* sentence evidence */
    K_INST,
    K_SOURCE,
    K_CD,     /* Consumer Duty term `cls` */
    K_INVEST, /* investment-context signal number `cls` */
    K_ETAL    /* "et al": citation evidence */
};

enum {
    F_INVEST = 1, /* only counts in an investment context */
    F_COND = 2,   /* still counts inside a conditional ("if", "may") clause */
};

typedef struct phrase {
    const char *p;
    unsigned char kind, cls, side, flags;
} phrase;

#define N_CONTRA 5
static const char *const contra_name[N_CONTRA] = {"risk level", "guarantees", "fees and charges",
                                                  "capital protection", "access to money"};
static const char *const contra_type[N_CONTRA] = {"risk_level", "guarantee", "fees",
                                                  "capital_protection", "access"};

#define N_CD 5
static const char *const cd_terms[N_CD] = {"foreseeable harm", "good faith", "consumer duty",
                                           "fair value", "consumer support"};

static const phrase phrases[] = {
    /* contradictions: class 0 risk level */
    {"low risk", K_CONTRA, 0, 0, 0},
    {"minimal risk", K_CONTRA, 0, 0, 0},
    {"very safe", K_CONTRA, 0, 0, 0},
    {"safe investment", K_CONTRA, 0, 0, 0},
    {"risk free", K_CONTRA, 0, 0, F_INVEST},
    {"no risk", K_CONTRA, 0, 0, F_INVEST},
    {"zero risk", K_CONTRA, 0, 0, F_INVEST},
    {"high risk", K_CONTRA, 0, 1, 0},
    {"highly speculative", K_CONTRA, 0, 1, 0},
    {"very risky", K_CONTRA, 0, 1, 0},
    {"speculative investment", K_CONTRA, 0, 1, 0},
    /* class 1 guarantees */
    {"guaranteed returns", K_CONTRA, 1, 0, 0},
    {"guaranteed return", K_CONTRA, 1, 0, 0},
    {"guaranteed income", K_CONTRA, 1, 0, 0},
    {"guaranteed profit", K_CONTRA, 1, 0, 0},
    {"guaranteed profits", K_CONTRA, 1, 0, 0},
    {"returns are guaranteed", K_CONTRA, 1, 0, 0},
    {"cannot lose", K_CONTRA, 1, 0, 0},
    {"can't lose", K_CONTRA, 1, 0, 0},
    {"may lose", K_CONTRA, 1, 1, F_COND},
    {"could lose", K_CONTRA, 1, 1, F_COND},
    {"might lose", K_CONTRA, 1, 1, F_COND},
    {"can lose", K_CONTRA, 1, 1, F_COND},
    {"lose some or all", K_CONTRA, 1, 1, F_COND},
    {"not guaranteed", K_CONTRA, 1, 1, F_COND},
    {"no guarantee", K_CONTRA, 1, 1, F_COND},
    /* class 2 fees */
    {"no fees", K_CONTRA, 2, 0, 0},
    {"no fee", K_CONTRA, 2, 0, 0},
    {"no charges", K_CONTRA, 2, 0, 0},
    {"free of charge", K_CONTRA, 2, 0, 0},
    {"fee free", K_CONTRA, 2, 0, 0},
    {"zero fees", K_CONTRA, 2, 0, 0},
    {"no commission", K_CONTRA, 2, 0, 0},
    {"charges apply", K_CONTRA, 2, 1, 0},
    {"fees apply", K_CONTRA, 2, 1, 0},
    {"fee applies", K_CONTRA, 2, 1, 0},
    {"we charge", K_CONTRA, 2, 1, 0},
    {"you will be charged", K_CONTRA, 2, 1, 0},
    {"annual fee", K_CONTRA, 2, 1, 0},
    {"management fee", K_CONTRA, 2, 1, 0},
    {"exit fee", K_CONTRA, 2, 1, 0},
    {"a fee of", K_CONTRA, 2, 1, 0},
    {"a charge of", K_CONTRA, 2, 1, 0},
    {"commission of", K_CONTRA, 2, 1, 0},
    /* class 3 capital protection */
    {"capital protected", K_CONTRA, 3, 0, 0},
    {"capital is protected", K_CONTRA, 3, 0, 0},
    {"capital guaranteed", K_CONTRA, 3, 0, 0},
    {"capital is guaranteed", K_CONTRA, 3, 0, 0},
    {"your capital is safe", K_CONTRA, 3, 0, 0},
    {"your money is safe", K_CONTRA, 3, 0, 0},
    {"capital at risk", K_CONTRA, 3, 1, F_COND},
    {"capital is at risk", K_CONTRA, 3, 1, F_COND},
    {"lose all of your", K_CONTRA, 3, 1, F_COND},
    {"lose more than", K_CONTRA, 3, 1, F_COND},
    /* class 4 access */
    {"withdraw at any time", K_CONTRA, 4, 0, 0},
    {"access your money at any time", K_CONTRA, 4, 0, 0},
    {"instant access", K_CONTRA, 4, 0, 0},
    {"no lock in", K_CONTRA, 4, 0, 0},
    {"lock in period", K_CONTRA, 4, 1, 0},
    {"locked in for", K_CONTRA, 4, 1, 0},
    {"cannot withdraw", K_CONTRA, 4, 1, 0},
    {"early withdrawal penalty", K_CONTRA, 4, 1, 0},
    {"early withdrawal fee", K_CONTRA, 4, 1, 0},

    /* financial promotion */
    {"guaranteed returns", K_PROHIB, 0, 0, 0},
    {"guaranteed return", K_PROHIB, 0, 0, 0},
    {"guaranteed income", K_PROHIB, 0, 0, 0},
    {"guaranteed profit", K_PROHIB, 0, 0, 0},
    {"guaranteed profits", K_PROHIB, 0, 0, 0},
    {"capital guaranteed", K_PROHIB, 0, 0, 0},
    {"risk free", K_PROHIB, 0, 0, F_INVEST},
    {"no risk", K_PROHIB, 0, 0, F_INVEST},
    {"zero risk", K_PROHIB, 0, 0, F_INVEST},
    {"cannot lose", K_PROHIB, 0, 0, 0},
    {"can't lose", K_PROHIB, 0, 0, 0},
    {"get rich quick", K_PROHIB, 0, 0, 0},
    {"double your money", K_PROHIB, 0, 0, 0},
    {"capital at risk", K_RISKWARN, 0, 0, F_COND},
    {"you could lose", K_RISKWARN, 0, 0, F_COND},
    {"you may lose", K_RISKWARN, 0, 0, F_COND},
    {"you might lose", K_RISKWARN, 0, 0, F_COND},
    {"you can lose", K_RISKWARN, 0, 0, F_COND},
    {"loss of all capital", K_RISKWARN, 0, 0, F_COND},
    {"lose some or all", K_RISKWARN, 0, 0, F_COND},
    {"no guarantee", K_RISKWARN, 0, 0, F_COND},
    {"not guaranteed", K_RISKWARN, 0, 0, F_COND},
    {"can go down as well as up", K_RISKWARN, 0, 0, F_COND},
    {"can fall as well as rise", K_RISKWARN, 0, 0, F_COND},
    {"past performance is not a reliable indicator", K_RISKWARN, 0, 0, F_COND},

    /* unsupported claims */
    {"guaranteed to", K_ABSOLUTE, 0, 0, 0},
    {"100% guaranteed", K_ABSOLUTE, 0, 0, 0},
    {"100% safe", K_ABSOLUTE, 0, 0, 0},
    {"100% accurate", K_ABSOLUTE, 0, 0, 0},
    {"completely risk free", K_ABSOLUTE, 0, 0, 0},
    {"guaranteed returns", K_ABSOLUTE, 0, 0, 0},
    {"guaranteed profit", K_ABSOLUTE, 0, 0, 0},
    {"cannot fail", K_ABSOLUTE, 0, 0, 0},
    {"can't fail", K_ABSOLUTE, 0, 0, 0},
    {"never fails", K_ABSOLUTE, 0, 0, 0},
    {"will definitely", K_ABSOLUTE, 0, 0, 0},
    {"certain to", K_ABSOLUTE, 0, 0, 0},
    {"always profitable", K_ABSOLUTE, 0, 0, 0},
    {"without any risk", K_ABSOLUTE, 0, 0, 0},
    {"studies show", K_CERTAIN, 0, 0, 0},
    {"studies have shown", K_CERTAIN, 0, 0, 0},
    {"research shows", K_CERTAIN, 0, 0, 0},
    {"research proves", K_CERTAIN, 0, 0, 0},
    {"research has shown", K_CERTAIN, 0, 0, 0},
    {"scientists agree", K_CERTAIN, 0, 0, 0},
    {"experts agree", K_CERTAIN, 0, 0, 0},
    {"it is a proven fact", K_CERTAIN, 0, 0, 0},
    {"proven fact", K_CERTAIN, 0, 0, 0},
    {"it is well known that", K_CERTAIN, 0, 0, 0},
    {"everyone knows", K_CERTAIN, 0, 0, 0},
    {"scientifically proven", K_CERTAIN, 0, 0, 0},
    {"clinically proven", K_CERTAIN, 0, 0, 0},
    {"study", K_STUDY, 0, 0, 0},
    {"studies", K_STUDY, 0, 0, 0},
    {"survey", K_STUDY, 0, 0, 0},
    {"research", K_STUDY, 0, 0, 0},
    {"researchers", K_STUDY, 0, 0, 0},
    {"report", K_STUDY, 0, 0, 0},
    {"analysis", K_STUDY, 0, 0, 0},
    {"paper", K_STUDY, 0, 0, 0},
    {"trial", K_STUDY, 0, 0, 0},
    {"poll", K_STUDY, 0, 0, 0},
    {"scientists", K_STUDY, 0, 0, 0},
    {"experts", K_STUDY, 0, 0, 0},
    {"university", K_INST, 0, 0, 0},
    {"harvard", K_INST, 0, 0, 0},
    {"stanford", K_INST, 0, 0, 0},
    {"oxford", K_INST, 0, 0, 0},
    {"cambridge", K_INST, 0, 0, 0},
    {"mit", K_INST, 0, 0, 0},
    {"yale", K_INST, 0, 0, 0},
    {"princeton", K_INST, 0, 0, 0},
    {"institute", K_INST, 0, 0, 0},
    {"journal", K_INST, 0, 0, 0},
    {"professor", K_INST, 0, 0, 0},
    {"http", K_SOURCE, 0, 0, 0},
    {"www.", K_SOURCE, 0, 0, 0},
    {"doi", K_SOURCE, 0, 0, 0},
    {"source:", K_SOURCE, 0, 0, 0},
    {"sources:", K_SOURCE, 0, 0, 0},
    {"available at", K_SOURCE, 0, 0, 0},
    {"isbn", K_SOURCE, 0, 0, 0},

    /* Consumer Duty */
    {"foreseeable harm", K_CD, 0, 0, 0},
    {"good faith", K_CD, 1, 0, 0},
    {"consumer duty", K_CD, 2, 0, 0},
    {"fair value", K_CD, 3, 0, 0},
    {"price and value", K_CD, 3, 0, 0},
    {"consumer support", K_CD, 4, 0, 0},

    /* investment context */
    {"invest", K_INVEST, 0, 0, 0},
    {"investment", K_INVEST, 0, 0, 0},
    {"investments", K_INVEST, 0, 0, 0},
    {"investing", K_INVEST, 0, 0, 0},
    {"returns", K_INVEST, 1, 0, 0},
    {"yield", K_INVEST, 2, 0, 0},
    {"portfolio", K_INVEST, 3, 0, 0},
    {"fund", K_INVEST, 4, 0, 0},
    {"funds", K_INVEST, 4, 0, 0},
    {"shares", K_INVEST, 5, 0, 0},
    {"stocks", K_INVEST, 5, 0, 0},
    {"equities", K_INVEST, 5, 0, 0},
    {"crypto", K_INVEST, 6, 0, 0},
    {"cryptocurrency", K_INVEST, 6, 0, 0},
    {"bitcoin", K_INVEST, 6, 0, 0},
    {"pension", K_INVEST, 7, 0, 0},
    {"isa", K_INVEST, 8, 0, 0},
    {"trading", K_INVEST, 9, 0, 0},
    {"cfd", K_INVEST, 9, 0, 0},
    {"cfds", K_INVEST, 9, 0, 0},
    {"bonds", K_INVEST, 10, 0, 0},
    {"dividend", K_INVEST, 11, 0, 0},
    {"dividends", K_INVEST, 11, 0, 0},
    {"interest rate", K_INVEST, 12, 0, 0},
    {"profit", K_INVEST, 13, 0, 0},
    {"profits", K_INVEST, 13, 0, 0},
    {"capital", K_INVEST, 14, 0, 0},

    {"et al", K_ETAL, 0, 0, 0},
};
#define N_PHRASES (sizeof phrases / sizeof phrases[0])

static const char *const w_negation[] = {
    "not",    "no",    "never",   "without", "cannot", "nor",    "neither", "isn't",
    "aren't", "don't", "doesn't", "won't",   "can't",  "wasn't", "weren't", NULL};
static const char *const w_mention[] = {
    "do not use",   "don't use",     "avoid",      "never use",   "must not",
    "should not",   "prohibited",    "banned",     "such as",     "e.g",
    "phrases like", "terms like",    "words like", "claims like", "claims of",
    "do not say",   "not permitted", "misleading", "instead of",  NULL};
static const char *const w_cond[] = {"if",    "unless",  "where", "may", "might",
                                     "could", "whether", "when",  NULL};

/* The lists prepared for matching, built once: every word start is matched against the whole
 * phrase table in one walk (detect_lex.h), not phrase by phrase. */
static const char *phrase_text[N_PHRASES + 1];
static lx_node nodes[2048];        /* 1,645 in use */
static unsigned short cells[4096]; /* 2,949 in use */
static const char *const w_percent[] = {" percent", " per cent", " out of", NULL};
static lx_dict d_phrases, d_negation, d_mention, d_cond, d_percent;
static pthread_once_t dicts_once = PTHREAD_ONCE_INIT;

static void build_dicts(void)
{
    lx_pool pool = {.node = nodes,
                    .cap_node = sizeof nodes / sizeof nodes[0],
                    .cell = cells,
                    .cap_cell = sizeof cells / sizeof cells[0]};
    for (size_t k = 0; k < N_PHRASES; k++)
        phrase_text[k] = phrases[k].p;
    loki__lx_dict_init(&d_phrases, phrase_text, &pool);
    loki__lx_dict_init(&d_negation, w_negation, &pool);
    loki__lx_dict_init(&d_mention, w_mention, &pool);
    loki__lx_dict_init(&d_cond, w_cond, &pool);
    loki__lx_dict_init(&d_percent, w_percent, &pool);
}

#define MAX_RANGES 8

typedef struct acc {
    size_t n;
    size_t r[MAX_RANGES][2];
    size_t count;
} acc;

typedef struct state {
    const char *t;
    size_t len;
    size_t sent; /* start of the current sentence */
    /* per sentence */
    int has_year, has_pct, has_study, has_inst, has_source, has_etal;
    size_t certain_s, certain_e; /* first certainty phrase in the sentence, or certain_e 0 */
    /* per document */
    int contra_seen[N_CONTRA][2];
    size_t contra_at[N_CONTRA][2][2];
    int contra_invest_only[N_CONTRA][2];
    acc prohib, prohib_invest, warn, absolute, certain, statistic, citation;
    unsigned cd_seen, invest_bits;
} state;

static void acc_add(acc *a, size_t s, size_t e)
{
    if (a->n < MAX_RANGES) {
        a->r[a->n][0] = s;
        a->r[a->n][1] = e;
        a->n++;
    }
    a->count++;
}

static size_t back_window(const state *st, size_t i, size_t w)
{
    size_t from = i > w ? i - w : 0;
    return from < st->sent ? st->sent : from;
}

/* One of the three words before i (inside the sentence) negates what follows. */
static int negated(const state *st, size_t i)
{
    size_t from = back_window(st, i, 40), words = 0, j = i;
    while (j > from && words < 3) {
        while (j > from && !lx_alnum(st->t[j - 1]))
            j--;
        size_t e = j;
        while (j > from && (lx_alnum(st->t[j - 1]) || st->t[j - 1] == '\''))
            j--;
        if (e == j)
            break;
        words++;
        if (loki__lx_dict_ends_at(&d_negation, st->t, e, j))
            return 1;
    }
    return 0;
}

/* The phrase is quoted or named as something to avoid, not asserted. */
static int mentioned(const state *st, size_t s, size_t e)
{
    const char *t = st->t;
    if (s > 0 && (t[s - 1] == '\'' || t[s - 1] == '"'))
        return 1;
    if (s >= 3 && (unsigned char)t[s - 3] == 0xE2 && (unsigned char)t[s - 2] == 0x80 &&
        ((unsigned char)t[s - 1] == 0x98 || (unsigned char)t[s - 1] == 0x9C))
        return 1;
    (void)e;
    return loki__lx_window_has(&d_mention, t, st->len, back_window(st, s, 120), s);
}

static int conditional(const state *st, size_t s)
{
    return loki__lx_window_has(&d_cond, st->t, st->len, back_window(st, s, 80), s);
}

static void on_phrase(state *st, const phrase *ph, size_t s, size_t e)
{
    switch ((enum kind)ph->kind) {
    case K_CONTRA: {
        int side = ph->side;
        if (negated(st, s) || mentioned(st, s, e))
            return;
        if (!(ph->flags & F_COND) && conditional(st, s))
            return;
        if (ph->flags & F_INVEST)
            side |= 2; /* resolved at the end, when the context is known */
        if (!st->contra_seen[ph->cls][ph->side] ||
            (st->contra_invest_only[ph->cls][ph->side] && !(side & 2))) {
            st->contra_seen[ph->cls][ph->side] = 1;
            st->contra_invest_only[ph->cls][ph->side] = (side & 2) != 0;
            st->contra_at[ph->cls][ph->side][0] = s;
            st->contra_at[ph->cls][ph->side][1] = e;
        }
        break;
    }
    case K_PROHIB:
        if (!negated(st, s) && !mentioned(st, s, e))
            acc_add(ph->flags & F_INVEST ? &st->prohib_invest : &st->prohib, s, e);
        break;
    case K_RISKWARN: acc_add(&st->warn, s, e); break;
    case K_ABSOLUTE:
        if (!negated(st, s) && !mentioned(st, s, e))
            acc_add(&st->absolute, s, e);
        break;
    case K_CERTAIN:
        if (!negated(st, s) && !mentioned(st, s, e) && st->certain_e == 0) {
            st->certain_s = s;
            st->certain_e = e;
        }
        break;
    case K_STUDY: st->has_study = 1; break;
    case K_INST: st->has_inst = 1; break;
    case K_SOURCE: st->has_source = 1; break;
    case K_CD: st->cd_seen |= 1u << ph->cls; break;
    case K_INVEST: st->invest_bits |= 1u << ph->cls; break;
    case K_ETAL: st->has_etal = 1; break;
    }
}

/* Numbers: a year (1900-2099) or a percentage ("97%", "97 percent", "9 out of 10"). */
static void on_number(state *st, size_t i)
{
    const char *t = st->t;
    size_t j = i;
    while (j < st->len && j - i < 12 && lx_digit(t[j]))
        j++;
    size_t nd = j - i;
    if (nd == 4 && (t[i] == '1' || t[i] == '2') && (t[i + 1] == '9' || t[i + 1] == '0') &&
        !(j < st->len && lx_alnum(t[j])))
        st->has_year = 1;
    size_t k = j;
    if (k + 1 < st->len && t[k] == '.' && lx_digit(t[k + 1])) {
        k++;
        while (k < st->len && k - j < 6 && lx_digit(t[k]))
            k++;
    }
    if (k < st->len && t[k] == '%')
        st->has_pct = 1;
    else if (loki__lx_dict_at(&d_percent, t, st->len, k))
        st->has_pct = 1;
}

static void end_sentence(state *st, size_t end)
{
    if (st->has_study && st->has_pct && (st->has_year || st->has_inst) && !st->has_source)
        acc_add(&st->statistic, st->sent, end);
    else if (st->has_etal && st->has_year && !st->has_source)
        acc_add(&st->citation, st->sent, end);
    if (st->certain_e && !st->has_source)
        acc_add(&st->certain, st->certain_s, st->certain_e);
    st->has_year = st->has_pct = st->has_study = st->has_inst = st->has_source = 0;
    st->has_etal = 0;
    st->certain_e = 0;
}

/* A sentence ends at '.', '!' or '?' before a blank, and at every line break. Returns the
 * offset where the next sentence starts, or 0 when i does not end one. */
static size_t sentence_break(const state *st, size_t i)
{
    char c = st->t[i];
    if (c == '\n')
        return i + 1;
    if ((c == '.' || c == '!' || c == '?') &&
        (i + 1 == st->len || st->t[i + 1] == ' ' || st->t[i + 1] == '\n' || st->t[i + 1] == '\r' ||
         st->t[i + 1] == '\t'))
        return i + 1;
    return 0;
}

/* A word t[i, e) starts at i: numbers, then every phrase of the table that matches there. */
static void on_word(state *st, size_t i, size_t e, lx_hit *hits)
{
    if (lx_digit(st->t[i]))
        on_number(st, i); /* and phrases such as "100% safe" below */
    if (!lx_dict_may_start(&d_phrases, st->t, i, e))
        return;
    size_t n = loki__lx_dict_match(&d_phrases, st->t, st->len, i, hits);
    for (size_t k = 0; k < n; k++)
        on_phrase(st, &phrases[hits[k].phrase], i, hits[k].end);
}

static void scan_text(state *st)
{
    const char *t = st->t;
    lx_hit hits[N_PHRASES];
    pthread_once(&dicts_once, build_dicts);
    for (size_t i = 0; i < st->len;) {
        unsigned cls = lx_class(t[i]);
        if (cls & LX_STOP) {
            size_t nb = sentence_break(st, i);
            if (nb) {
                /* The sentence range excludes leading blanks and the terminator's line
                 * break. */
                end_sentence(st, t[i] == '\n' ? i : i + 1);
                st->sent = nb;
                while (st->sent < st->len && (t[st->sent] == ' ' || t[st->sent] == '\t'))
                    st->sent++;
                i = nb;
                continue;
            }
        }
        if (!(cls & LX_ALNUM)) {
            i++;
            continue;
        }
        /* The rest of the word holds no word start and no sentence end. */
        size_t e = lx_word_end(t, st->len, i + 1);
        if (lx_word_start(t, i))
            on_word(st, i, e, hits);
        i = e;
    }
    end_sentence(st, st->len);
}

/* ---- turning state into hits ---- */

typedef struct out {
    loki_arena *arena;
    loki_claim_hit **hits;
    size_t *n, *cap;
    int oom;
} out;

static loki_claim_hit *push(out *o)
{
    if (o->oom)
        return NULL;
    if (*o->n == *o->cap) {
        size_t nc = *o->cap ? *o->cap * 2 : 16;
        loki_claim_hit *nv = loki__reallocarray(*o->hits, nc, sizeof *nv);
        if (!nv) {
            o->oom = 1;
            return NULL;
        }
        *o->hits = nv;
        *o->cap = nc;
    }
    loki_claim_hit *h = &(*o->hits)[(*o->n)++];
    memset(h, 0, sizeof *h);
    return h;
}

static const char *fmt(out *o, const char *f, ...) __attribute__((format(printf, 2, 3)));

static const char *fmt(out *o, const char *f, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    const char *r = loki__arena_strdup(o->arena, buf);
    if (!r)
        o->oom = 1;
    return r ? r : "";
}

static void from_acc(loki_claim_hit *h, const acc *a, const char *label)
{
    h->n_ranges = a->n;
    for (size_t k = 0; k < a->n; k++) {
        h->range[k][0] = a->r[k][0];
        h->range[k][1] = a->r[k][1];
        h->range_label[k] = label;
    }
}

static int is_type(const char *doc_type, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(doc_type, *list) == 0)
            return 1;
    return 0;
}

static unsigned popcount(unsigned v)
{
    unsigned c = 0;
    for (; v; v &= v - 1)
        c++;
    return c;
}

static void emit_contradictions(const state *st, out *o, int invest, int ai)
{
    for (int c = 0; c < N_CONTRA; c++) {
        if (!st->contra_seen[c][0] || !st->contra_seen[c][1])
            continue;
        /* "no risk" counts as a low-risk claim only where money is invested. */
        if (!invest && (st->contra_invest_only[c][0] || st->contra_invest_only[c][1]))
            continue;
        loki_claim_hit *h = push(o);
        if (!h)
            return;
        h->detector = "contradiction";
        h->type = contra_type[c];
        h->status = LOKI_FAIL;
        h->severity = invest || ai ? LOKI_SEV_HIGH : LOKI_SEV_MEDIUM;
        h->confidence = invest ? 0.75 : 0.6;
        h->message = fmt(o,
                         "Contradictory statements about %s: the document makes a claim "
                         "and its opposite",
                         contra_name[c]);
        h->suggestion = "Reconcile the two statements so the reader gets one consistent message.";
        h->n_ranges = 2;
        for (int s = 0; s < 2; s++) {
            h->range[s][0] = st->contra_at[c][s][0];
            h->range[s][1] = st->contra_at[c][s][1];
            h->range_label[s] = s == 0 ? "claim" : "contrary_claim";
        }
    }
}

static void emit_unsupported(const state *st, out *o, loki_severity sev)
{
    static const struct {
        size_t off;
        const char *type, *label, *msg;
        double conf;
    } kinds[] = {
        {offsetof(state, statistic), "unsupported_statistic", "statistic",
         "statistic(s) attributed to a study or institution without a source", 0.7},
        {offsetof(state, citation), "unverified_citation", "citation",
         "academic-style citation(s) without a reference to verify", 0.5},
        {offsetof(state, certain), "fabricated_certainty", "certainty",
         "appeal(s) to unnamed research or proof without a source", 0.6},
        {offsetof(state, absolute), "absolute_guarantee", "guarantee",
         "absolute guarantee(s) or claim(s) of certainty", 0.7},
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        const acc *a = (const acc *)((const char *)st + kinds[k].off);
        if (a->count == 0)
            continue;
        loki_claim_hit *h = push(o);
        if (!h)
            return;
        h->detector = "unsupported_claim";
        h->type = kinds[k].type;
        h->status = LOKI_WARNING;
        h->severity = sev;
        h->confidence = kinds[k].conf;
        h->message = fmt(o, "%zu %s", a->count, kinds[k].msg);
        h->suggestion = "Cite a verifiable source or remove the claim.";
        from_acc(h, a, kinds[k].label);
    }
}

static void emit_promotion(const state *st, out *o, int invest, int promo)
{
    acc all = st->prohib;
    if (invest)
        for (size_t k = 0; k < st->prohib_invest.n; k++)
            acc_add(&all, st->prohib_invest.r[k][0], st->prohib_invest.r[k][1]);
    if (invest)
        all.count += st->prohib_invest.count - st->prohib_invest.n;
    int warned = st->warn.count > 0;
    loki_claim_hit *h;
    if (all.count > 0) {
        if (!(h = push(o)))
            return;
        h->detector = "financial_promotion";
        h->type = "prohibited_claim";
        h->status = warned ? LOKI_WARNING : LOKI_FAIL;
        h->severity = warned ? LOKI_SEV_HIGH : LOKI_SEV_CRITICAL;
        h->confidence = warned ? 0.6 : 0.8;
        h->message = fmt(o,
                         warned ? "%zu prohibited claim(s) (guaranteed returns, risk-free...) "
                                  "next to a risk warning"
                                : "%zu prohibited claim(s) (guaranteed returns, risk-free...) "
                                  "and no risk warning",
                         all.count);
        h->suggestion = "Remove guarantees of returns or safety; financial promotions must be "
                        "fair, clear and not misleading (COBS 4) and carry a risk warning.";
        from_acc(h, &all, "prohibited");
    } else if (promo && !warned) {
        if (!(h = push(o)))
            return;
        h->detector = "financial_promotion";
        h->type = "missing_risk_warning";
        h->status = LOKI_WARNING;
        h->severity = LOKI_SEV_MEDIUM;
        h->confidence = 0.6;
        h->message = "Investment content without a risk warning (e.g. \"capital at risk\")";
        h->suggestion = "Add a prominent risk warning: the value of investments can fall and "
                        "investors may get back less than they put in.";
    }
}

static void emit_consumer_duty(const state *st, out *o)
{
    unsigned missing = ~st->cd_seen & ((1u << N_CD) - 1);
    if (!missing)
        return;
    char list[200] = "";
    size_t used = 0;
    for (int k = 0; k < N_CD; k++)
        if (missing & (1u << k))
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "",
                                     cd_terms[k]);
    loki_claim_hit *h = push(o);
    if (!h)
        return;
    int none = st->cd_seen == 0;
    h->detector = "consumer_duty";
    h->type = none ? "consumer_duty_absent" : "consumer_duty_gaps";
    h->status = LOKI_WARNING;
    h->severity = none ? LOKI_SEV_MEDIUM : LOKI_SEV_LOW;
    h->confidence = 0.5;
    h->message = fmt(o, "Consumer Duty outcomes not addressed (%zu missing): %s",
                     (size_t)popcount(missing), list);
    h->suggestion = "Address the Consumer Duty (PRIN 2A): good faith, avoiding foreseeable "
                    "harm, fair value and consumer support.";
}

loki_status loki__claims_scan(const char *text, size_t len, const char *doc_type, loki_arena *arena,
                              loki_claim_hit **hits, size_t *n, size_t *cap)
{
    static const char *const fin_types[] = {"financial_promotion", "financial_disclosure",
                                            "terms_of_business", NULL};
    static const char *const cd_types[] = {"financial_promotion", "financial_disclosure",
                                           "terms_of_business", "complaints_procedure", NULL};
    state st;
    memset(&st, 0, sizeof st);
    st.t = text;
    st.len = len;
    scan_text(&st);
    if (!doc_type)
        doc_type = "unknown";
    int ai = strcmp(doc_type, "ai_generated") == 0;
    int open = ai || strcmp(doc_type, "unknown") == 0;
    unsigned signals = popcount(st.invest_bits);
    int invest = is_type(doc_type, fin_types) || signals >= 2;
    int promo = strcmp(doc_type, "financial_promotion") == 0 || (open && signals >= 3);
    int cd = is_type(doc_type, cd_types) || (open && signals >= 3);
    loki_severity usev =
        open || strcmp(doc_type, "financial_promotion") == 0 ? LOKI_SEV_MEDIUM : LOKI_SEV_LOW;
    out o = {.arena = arena, .hits = hits, .n = n, .cap = cap};
    emit_contradictions(&st, &o, invest, ai);
    emit_unsupported(&st, &o, usev);
    if (invest || promo)
        emit_promotion(&st, &o, invest, promo);
    if (cd && len > 0)
        emit_consumer_duty(&st, &o);
    return o.oom ? LOKI_ENOMEM : LOKI_OK;
}
