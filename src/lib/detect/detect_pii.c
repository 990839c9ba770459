/* SPDX-License-Identifier: MIT */
/*
 * PII scanner: hand-written recognisers tried at word starts, each looking a bounded distance
 * ahead, then validated (detect_validate.c) and scored by nearby context words. A candidate is
 * only what passes its validator; context raises or lowers its confidence (Presidio-style).
 * The main pass stops only at bytes a value can start with (digits, capitals, '+', '('); the
 * e-mail and IPv6 passes only around '@' and ':' (memchr).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "detect_lex.h"

#define CTX_BEFORE 60u
#define CTX_AFTER 30u
#define CTX_BOOST 0.25
#define CTX_PENALTY 0.3

typedef struct scan {
    const char *t;
    size_t len;
    loki_pii *v;
    size_t n, cap;
    int oom;
} scan;

static const char *const w_card[] = {"card", "visa",   "mastercard", "amex",    "credit", "debit",
                                     "cvv",  "expiry", "pan",        "payment", NULL};
static const char *const w_iban[] = {"iban",  "bank", "account", "transfer",
                                     "swift", "bic",  "payee",   NULL};
static const char *const w_ni[] = {"national insurance", "ni number", "ni no", "nino",
                                   "insurance number",   NULL};
static const char *const w_nhs[] = {"nhs", "health", "patient", "hospital", "gp", NULL};
static const char *const w_sort[] = {"sort code", "sortcode", NULL};
static const char *const w_acct[] = {"account number", "account no",   "acc no", "a/c",
                                     "acct",           "bank account", NULL};
static const char *const w_passport[] = {"passport", NULL};
static const char *const w_dvla[] = {"driving", "licence", "license", "dvla", NULL};
static const char *const w_dob[] = {"date of birth", "dob",      "d.o.b",     "born",
                                    "birth",         "birthday", "birthdate", NULL};
static const char *const w_phone[] = {"tel",     "telephone", "phone", "mobile",   "call",
                                      "contact", "ring",      "text",  "whatsapp", NULL};
static const char *const w_ip[] = {"ip",    "address",    "server", "host", "logged",
                                   "login", "connection", "client", NULL};
static const char *const w_not_ip[] = {"section", "clause",   "version", "paragraph",  "para",
                                       "article", "schedule", "rule",    "regulation", "part",
                                       "step",    "v",        "cass",    "cobs",       "sysc",
                                       "prin",    NULL};
static const char *const w_post[] = {"address", "postcode", "post code", "street", "road",
                                     "lane",    "house",    "flat",      "avenue", NULL};
static const char *const w_neg[] = {"example",   "e.g",         "sample",   "dummy",
                                    "fake",      "placeholder", "specimen", "fictitious",
                                    "fictional", "test",        "format",   NULL};

/* The word lists prepared for matching (detect_lex.h), built once. */
static lx_dict d_card, d_iban, d_ni, d_nhs, d_sort, d_acct, d_passport, d_dvla, d_dob, d_phone,
    d_ip, d_not_ip, d_post, d_neg;
static lx_node nodes[1024];            /* 542 in use */
static unsigned short cells[1024];     /* 704 in use */
static unsigned char value_start[256]; /* see next_start() */
static pthread_once_t dicts_once = PTHREAD_ONCE_INIT;

static void build_dicts(void)
{
    for (unsigned c = 0; c < 256; c++)
        value_start[c] = (lx_class((char)c) & (LX_DIGIT | LX_UPPER)) || c == '+' || c == '(';
    lx_pool pool = {.node = nodes,
                    .cap_node = sizeof nodes / sizeof nodes[0],
                    .cell = cells,
                    .cap_cell = sizeof cells / sizeof cells[0]};
    static const struct {
        lx_dict *d;
        const char *const *words;
    } lists[] = {
        {&d_card, w_card}, {&d_iban, w_iban},         {&d_ni, w_ni},     {&d_nhs, w_nhs},
        {&d_sort, w_sort}, {&d_acct, w_acct},         {&d_dob, w_dob},   {&d_dvla, w_dvla},
        {&d_ip, w_ip},     {&d_passport, w_passport}, {&d_post, w_post}, {&d_phone, w_phone},
        {&d_neg, w_neg},   {&d_not_ip, w_not_ip},
    };
    for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++)
        loki__lx_dict_init(lists[k].d, lists[k].words, &pool);
}

static int ctx(const scan *sc, size_t s, size_t e, const lx_dict *w)
{
    size_t from = s > CTX_BEFORE ? s - CTX_BEFORE : 0;
    return loki__lx_window_has(w, sc->t, sc->len, from, e + CTX_AFTER);
}

/* Base confidence adjusted by the type's context words and the generic negative ones. */
static double score(const scan *sc, size_t s, size_t e, double base, const lx_dict *w)
{
    double c = base;
    if (w && ctx(sc, s, e, w))
        c += CTX_BOOST;
    if (ctx(sc, s, e, &d_neg))
        c -= CTX_PENALTY;
    return c < 0 ? 0 : c > 1 ? 1 : c;
}

static void add2(scan *sc, loki_pii_type ty, size_t s, size_t e, size_t s2, size_t e2, double conf,
                 unsigned flags)
{
    if (sc->oom)
        return;
    if (sc->n == sc->cap) {
        size_t nc = sc->cap ? sc->cap * 2 : 64;
        loki_pii *nv = loki__reallocarray(sc->v, nc, sizeof *nv);
        if (!nv) {
            sc->oom = 1;
            return;
        }
        sc->v = nv;
        sc->cap = nc;
    }
    sc->v[sc->n++] = (loki_pii){.type = ty,
                                .start = s,
                                .end = e,
                                .start2 = s2,
                                .end2 = e2,
                                .confidence = conf,
                                .flags = flags};
}

static void add(scan *sc, loki_pii_type ty, size_t s, size_t e, double conf, unsigned flags)
{
    add2(sc, ty, s, e, e, e, conf, flags);
}

/* The byte after a value must not continue a word or a number. */
static int end_ok(const scan *sc, size_t e)
{
    if (e >= sc->len)
        return 1;
    char c = sc->t[e];
    if (lx_alnum(c) || c == '_' || c == '@')
        return 0;
    /* "1234." ends a sentence, "1234.5" continues a number. */
    if ((c == '.' || c == '-' || c == '/') && e + 1 < sc->len && lx_alnum(sc->t[e + 1]))
        return 0;
    return 1;
}

/* A value may start at i: not inside a word, a number or an address. */
static int start_ok(const scan *sc, size_t i)
{
    if (i == 0)
        return 1;
    char p = sc->t[i - 1];
    if (lx_alnum(p) || p == '_' || p == '@')
        return 0;
    /* (NUL too: the text never holds one, and this once was a strchr() on that set.) */
    int joiner = p == '.' || p == '-' || p == '/' || p == ':' || p == ',' || p == '+' || !p;
    if (joiner && i >= 2 && lx_alnum(sc->t[i - 2]))
        return p == ':' && lx_alpha(sc->t[i - 2]); /* "Tel:07..." */
    return 1;
}

/* ---- digit groups: "4111 1111 1111 1111", "12-34-56", "0303 123 1113" ---- */

typedef struct groups {
    size_t n;
    size_t s[8], e[8];
    char sep[8]; /* separator after group k */
} groups;

static void digit_groups(const scan *sc, size_t i, groups *g)
{
    g->n = 0;
    size_t j = i, total = 0;
    while (g->n < 8 && j < sc->len && lx_digit(sc->t[j])) {
        size_t s = j;
        while (j < sc->len && lx_digit(sc->t[j]) && total < 24) {
            j++;
            total++;
        }
        g->s[g->n] = s;
        g->e[g->n] = j;
        g->sep[g->n] = 0;
        g->n++;
        if (total >= 24 || j + 1 >= sc->len)
            break;
        char c = sc->t[j];
        if ((c == ' ' || c == '-') && lx_digit(sc->t[j + 1])) {
            g->sep[g->n - 1] = c;
            j++;
        } else {
            break;
        }
    }
}

static size_t glen(const groups *g, size_t k)
{
    return g->e[k] - g->s[k];
}

/* Looks for a standalone 8-digit number starting within 60 bytes after `from`. */
static int account_after(const scan *sc, size_t from, size_t *s, size_t *e)
{
    size_t lim = from + 60 < sc->len ? from + 60 : sc->len;
    for (size_t j = from; j < lim; j++) {
        if (!lx_digit(sc->t[j]) || !start_ok(sc, j))
            continue;
        size_t k = j;
        while (k < sc->len && k - j < 9 && lx_digit(sc->t[k]))
            k++;
        if (k - j == 8 && end_ok(sc, k)) {
            *s = j;
            *e = k;
            return 1;
        }
        j = k;
    }
    return 0;
}

static size_t try_sort_code(scan *sc, const groups *g)
{
    if (g->n < 3 || glen(g, 0) != 2 || glen(g, 1) != 2 || glen(g, 2) != 2 || !g->sep[0] ||
        g->sep[0] != g->sep[1])
        return 0;
    size_t s = g->s[0], e = g->e[2];
    if (g->n > 3 && g->sep[2] == g->sep[0] && glen(g, 3) != 8)
        return 0; /* 12-34-56-78: not a sort code */
    if (g->n == 3 && !end_ok(sc, e))
        return 0;
    size_t as, ae;
    if (g->n > 3 && glen(g, 3) == 8 && (g->n == 4 || g->sep[3] == 0) && end_ok(sc, g->e[3])) {
        as = g->s[3];
        ae = g->e[3];
    } else if (!account_after(sc, e, &as, &ae)) {
        if (ctx(sc, s, e, &d_sort))
            add(sc, LOKI_PII_SORT_CODE, s, e, score(sc, s, e, 0.7, NULL), 0);
        return e;
    }
    double conf = score(sc, s, ae, 0.65, &d_sort);
    if (ctx(sc, s, ae, &d_acct))
        conf = conf + 0.1 > 1 ? 1 : conf + 0.1;
    add2(sc, LOKI_PII_SORT_ACCOUNT, s, e, as, ae, conf, 0);
    return e;
}

static size_t try_card(scan *sc, const groups *g)
{
    for (size_t k = g->n; k-- > 0;) {
        size_t s = g->s[0], e = g->e[k];
        if (e - s < 13 || e - s > 23)
            continue;
        if (!end_ok(sc, e) && k + 1 == g->n)
            continue;
        if (loki__card_valid(sc->t + s, e - s)) {
            add(sc, LOKI_PII_CARD, s, e, score(sc, s, e, 0.7, &d_card), 0);
            return e;
        }
    }
    return 0;
}

static unsigned phone_flags(const scan *sc, size_t s, size_t e)
{
    /* Ofcom's drama ranges: fictional numbers meant for examples. */
    static const char *const drama[] = {"07700900", "01632960", "02079460", "01134960",
                                        "08081570", "09098790", "03069990", NULL};
    char d[16];
    size_t n = 0;
    size_t i = s;
    if (sc->t[i] == '+') {
        d[n++] = '0';
        i += 3;
    }
    for (; i < e && n < 15; i++) {
        if (lx_digit(sc->t[i]) && !(n == 1 && d[0] == '0' && sc->t[i] == '0'))
            d[n++] = sc->t[i];
    }
    d[n] = '\0';
    for (const char *const *p = drama; *p; p++)
        if (strncmp(d, *p, strlen(*p)) == 0)
            return LOKI_PII_F_EXAMPLE;
    return 0;
}

/* Phone numbers: "+44 (0)20 7946 0958", "(020) 7946 0958", "07700 900123". */
static size_t try_phone(scan *sc, size_t i)
{
    const char *t = sc->t;
    size_t j = i;
    if (t[j] == '+') {
        if (j + 3 >= sc->len || t[j + 1] != '4' || t[j + 2] != '4')
            return 0;
        j += 3;
        if (j < sc->len && t[j] == ' ')
            j++;
        if (j + 3 < sc->len && t[j] == '(' && t[j + 1] == '0' && t[j + 2] == ')') {
            j += 3;
            if (j < sc->len && t[j] == ' ')
                j++;
        }
    } else if (t[j] == '(') {
        size_t k = j + 1;
        while (k < sc->len && k - j <= 6 && lx_digit(t[k]))
            k++;
        if (k >= sc->len || t[k] != ')' || t[j + 1] != '0' || k - j < 4)
            return 0;
        j = k + 1;
        if (j < sc->len && t[j] == ' ')
            j++;
    } else if (t[j] != '0') {
        return 0;
    }
    if (j >= sc->len || !lx_digit(t[j]))
        return 0;
    groups g;
    digit_groups(sc, j, &g);
    for (size_t k = g.n; k-- > 0;) {
        size_t e = g.e[k];
        if (!end_ok(sc, e))
            continue;
        int v = loki__uk_phone_valid(t + i, e - i);
        if (!v)
            continue;
        unsigned fl = phone_flags(sc, i, e);
        double base = v == 2 ? 0.5 : 0.6;
        if (v == 2)
            fl |= LOKI_PII_F_ROLE;
        double c = score(sc, i, e, base, &d_phone);
        add(sc, LOKI_PII_PHONE, i, e, fl & LOKI_PII_F_EXAMPLE && c > 0.3 ? 0.3 : c, fl);
        return e;
    }
    return 0;
}

static size_t try_nhs(scan *sc, const groups *g)
{
    size_t s = g->s[0], e;
    int grouped = g->n >= 3 && glen(g, 0) == 3 && glen(g, 1) == 3 && glen(g, 2) == 4 && g->sep[0] &&
                  g->sep[0] == g->sep[1];
    if (grouped)
        e = g->e[2];
    else if (glen(g, 0) == 10)
        e = g->e[0];
    else
        return 0;
    if (!end_ok(sc, e) || !loki__nhs_valid(sc->t + s, e - s))
        return 0;
    int nhs_ctx = ctx(sc, s, e, &d_nhs);
    if (sc->t[s] == '0' && !nhs_ctx && loki__uk_phone_valid(sc->t + s, e - s))
        return 0; /* a phone number that happens to pass mod-11 */
    double c = score(sc, s, e, grouped ? 0.5 : 0.3, NULL);
    if (nhs_ctx)
        c = c + 0.4 > 1 ? 1 : c + 0.4;
    add(sc, LOKI_PII_NHS, s, e, c, 0);
    return e;
}

static int month_initial(char c)
{
    switch (c | 0x20) {
    case 'j':
    case 'f':
    case 'm':
    case 'a':
    case 's':
    case 'o':
    case 'n':
    case 'd': return 1;
    default: return 0;
    }
}

/* '/', '-', '.' (and NUL, as a strchr() on them once had it; texts never hold one) */
static int date_sep(char c)
{
    return c == '/' || c == '-' || c == '.' || c == '\0';
}

static size_t try_date(scan *sc, size_t i)
{
    const char *t = sc->t;
    size_t j = i;
    if (lx_digit(t[i])) {
        while (j < sc->len && j - i < 10 && (lx_digit(t[j]) || date_sep(t[j])))
            j++;
        while (j > i && !lx_digit(t[j - 1]))
            j--;
        if (!loki__date_valid(t + i, j - i)) {
            /* "3 March 1985" */
            j = i;
            while (j < sc->len && j - i < 2 && lx_digit(t[j]))
                j++;
            if (j >= sc->len || t[j] != ' ')
                return 0;
            j++;
            size_t w = j;
            while (j < sc->len && j - w < 9 && lx_alpha(t[j]))
                j++;
            if (j + 5 > sc->len || t[j] != ' ')
                return 0;
            j += 5;
            if (!loki__date_valid(t + i, j - i))
                return 0;
        }
    } else {
        /* "March 3, 1985" (the validator wants a month's name, so its initial first) */
        if (!month_initial(t[i]))
            return 0;
        while (j < sc->len && j - i < 9 && lx_alpha(t[j]))
            j++;
        if (j >= sc->len || t[j] != ' ')
            return 0;
        j++;
        while (j < sc->len && lx_digit(t[j]) && j - i < 13)
            j++;
        if (j + 6 > sc->len || t[j] != ',')
            return 0;
        j += 6;
        if (!loki__date_valid(t + i, j - i))
            return 0;
    }
    if (!end_ok(sc, j))
        return 0;
    if (ctx(sc, i, i, &d_dob))
        add(sc, LOKI_PII_DOB, i, j, score(sc, i, j, 0.8, NULL), 0);
    return j; /* a date is never another kind of number */
}

static size_t try_ipv4(scan *sc, size_t i)
{
    size_t j = i;
    while (j < sc->len && j - i < 16 && (lx_digit(sc->t[j]) || sc->t[j] == '.'))
        j++;
    while (j > i && sc->t[j - 1] == '.')
        j--;
    if (!end_ok(sc, j) || !loki__ipv4_valid(sc->t + i, j - i))
        return 0;
    double c = score(sc, i, j, 0.6, &d_ip);
    if (ctx(sc, i, i, &d_not_ip))
        c -= 0.4;
    add(sc, LOKI_PII_IP, i, j, c < 0 ? 0 : c, 0);
    return j;
}

static size_t try_digits(scan *sc, size_t i)
{
    size_t e;
    if ((e = try_date(sc, i)) || (e = try_ipv4(sc, i)))
        return e;
    groups g;
    digit_groups(sc, i, &g);
    if ((e = try_sort_code(sc, &g)) || (e = try_card(sc, &g)) || (e = try_nhs(sc, &g)))
        return e;
    if (sc->t[i] == '0' && (e = try_phone(sc, i)))
        return e;
    size_t s = g.s[0], n0 = glen(&g, 0);
    e = g.e[0];
    if (!end_ok(sc, e) && g.n == 1)
        return 0;
    if (n0 == 9 && ctx(sc, s, e, &d_passport)) {
        add(sc, LOKI_PII_PASSPORT, s, e, score(sc, s, e, 0.75, NULL), 0);
        return e;
    }
    if (n0 == 8 && ctx(sc, s, e, &d_acct)) {
        add(sc, LOKI_PII_ACCOUNT, s, e, score(sc, s, e, 0.6, NULL), 0);
        return e;
    }
    return 0;
}

/* ---- letters first: IBAN, NI number, driving licence, postcode, "March 3, 1985" ---- */

static size_t try_iban(scan *sc, size_t i)
{
    const char *t = sc->t;
    if (i + 4 > sc->len || !lx_upper(t[i + 1]) || !lx_digit(t[i + 2]) || !lx_digit(t[i + 3]))
        return 0;
    unsigned want = loki__iban_length(t + i);
    if (!want)
        return 0;
    size_t j = i, n = 0;
    while (n < want && j < sc->len) {
        if (t[j] == ' ' && n % 4 == 0 && n > 0 && j + 1 < sc->len && t[j + 1] != ' ') {
            j++;
            continue;
        }
        if (!(lx_upper(t[j]) || lx_digit(t[j])))
            break;
        j++;
        n++;
    }
    if (n != want || !end_ok(sc, j) || !loki__iban_valid(t + i, j - i))
        return 0;
    add(sc, LOKI_PII_IBAN, i, j, score(sc, i, j, 0.85, &d_iban), 0);
    return j;
}

static size_t try_ni(scan *sc, size_t i)
{
    const char *t = sc->t;
    size_t j = i + 2;
    if (j >= sc->len || !lx_upper(t[i + 1]))
        return 0;
    for (int pair = 0; pair < 3; pair++) {
        if (j < sc->len && t[j] == ' ')
            j++;
        if (j + 2 > sc->len || !lx_digit(t[j]) || !lx_digit(t[j + 1]))
            return 0;
        j += 2;
    }
    if (j < sc->len && t[j] == ' ')
        j++;
    if (j >= sc->len || !lx_upper(t[j]))
        return 0;
    j++;
    if (!end_ok(sc, j) || !loki__ni_valid(t + i, j - i))
        return 0;
    double base = t[i] == 'Q' && t[i + 1] == 'Q' ? 0.5 : 0.6;
    add(sc, LOKI_PII_NI, i, j, score(sc, i, j, base, &d_ni), 0);
    return j;
}

static size_t try_dvla(scan *sc, size_t i)
{
    const char *t = sc->t;
    size_t j = i, n = 0;
    /* The sixth character (after an optional space) is the decade digit: a quick no for the
     * capitalised words that get here. */
    size_t d = i + 5 < sc->len && t[i + 5] == ' ' ? i + 6 : i + 5;
    if (d >= sc->len || !lx_digit(t[d]))
        return 0;
    while (n < 16 && j < sc->len) {
        if (t[j] == ' ' && (n == 5 || n == 11) && t[j - 1] != ' ') {
            j++;
            continue;
        }
        if (!(lx_upper(t[j]) || lx_digit(t[j])))
            break;
        j++;
        n++;
    }
    if (n != 16 || !end_ok(sc, j) || !loki__dvla_valid(t + i, j - i))
        return 0;
    add(sc, LOKI_PII_DRIVING, i, j, score(sc, i, j, 0.7, &d_dvla), 0);
    return j;
}

static size_t try_postcode(scan *sc, size_t i)
{
    const char *t = sc->t;
    /* The inward code's digit comes 2 to 5 bytes in (checked for each length below too). */
    size_t k = i + 2;
    while (k <= i + 5 && k + 3 <= sc->len && !lx_digit(t[k]))
        k++;
    if (k > i + 5 || k + 3 > sc->len)
        return 0;
    for (size_t on = 4; on >= 2; on--) {
        if (i + on + 3 > sc->len)
            continue;
        for (int sp = 1; sp >= 0; sp--) {
            size_t j = i + on + (size_t)sp + 3;
            /* The inward code starts with a digit: checked first, it rules out most words. */
            if (j > sc->len || !lx_digit(t[j - 3]) || (sp && t[i + on] != ' ') || !end_ok(sc, j))
                continue;
            if (!sp && lx_alnum(t[i + on]) == 0)
                continue;
            if (loki__postcode_valid(t + i, j - i)) {
                add(sc, LOKI_PII_POSTCODE, i, j, score(sc, i, j, sp ? 0.55 : 0.4, &d_post), 0);
                return j;
            }
        }
    }
    return 0;
}

static size_t try_upper(scan *sc, size_t i)
{
    size_t e;
    /* An IBAN, NI number, licence number or postcode has a capital or a digit second, so a
     * capitalised word can only be a month ("March 3, 1985"). */
    int code = i + 1 < sc->len && (lx_upper(sc->t[i + 1]) || lx_digit(sc->t[i + 1]));
    if (code && ((e = try_iban(sc, i)) || (e = try_ni(sc, i)) || (e = try_dvla(sc, i)) ||
                 (e = try_postcode(sc, i))))
        return e;
    return month_initial(sc->t[i]) ? try_date(sc, i) : 0;
}

/* ---- e-mail: found from each '@' ---- */

static int local_char(char c)
{
    return lx_alnum(c) || (c && strchr("._%+-", c));
}

static int domain_char(char c)
{
    return lx_alnum(c) || c == '.' || c == '-';
}

static int role_local(const char *p, size_t n)
{
    static const char *const roles[] = {"dpo",
                                        "privacy",
                                        "dataprotection",
                                        "gdpr",
                                        "info",
                                        "contact",
                                        "support",
                                        "help",
                                        "enquiries",
                                        "enquiry",
                                        "complaints",
                                        "complaint",
                                        "hr",
                                        "admin",
                                        "sales",
                                        "office",
                                        "hello",
                                        "team",
                                        "noreply",
                                        "no-reply",
                                        "accounts",
                                        "billing",
                                        "legal",
                                        "compliance",
                                        "service",
                                        "customerservice",
                                        "careers",
                                        "jobs",
                                        "press",
                                        "media",
                                        "feedback",
                                        "webmaster",
                                        "postmaster",
                                        "security",
                                        "data",
                                        "protection",
                                        "dsar",
                                        "foi",
                                        "ico",
                                        NULL};
    size_t s = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && lx_alnum(p[i]))
            continue;
        size_t tl = i - s;
        for (const char *const *r = roles; *r; r++) {
            if (strlen(*r) != tl)
                continue;
            size_t k = 0;
            while (k < tl && lx_lower(p[s + k]) == (*r)[k])
                k++;
            if (k == tl)
                return 1;
        }
        s = i + 1;
    }
    return 0;
}

static int example_domain(const char *p, size_t n)
{
    static const char *const ex[] = {"example",    "yourcompany", "yourdomain", "company.com",
                                     "domain.com", "email.com",   "test.",      "invalid",
                                     "localhost",  "acme.",       NULL};
    for (const char *const *e = ex; *e; e++) {
        size_t el = strlen(*e);
        for (size_t i = 0; i + el <= n; i++) {
            size_t k = 0;
            while (k < el && lx_lower(p[i + k]) == (*e)[k])
                k++;
            if (k == el)
                return 1;
        }
    }
    return 0;
}

static void scan_emails(scan *sc)
{
    const char *t = sc->t;
    size_t prev_end = 0;
    for (size_t a = 0; a < sc->len; a++) {
        const char *at = memchr(t + a, '@', sc->len - a);
        if (!at)
            break;
        a = (size_t)(at - t);
        if (a < prev_end)
            continue;
        size_t s = a;
        while (s > prev_end && a - s < 64 && local_char(t[s - 1]))
            s--;
        while (s < a && t[s] == '.')
            s++;
        size_t e = a + 1;
        while (e < sc->len && e - a < 254 && domain_char(t[e]))
            e++;
        while (e > a + 1 && (t[e - 1] == '.' || t[e - 1] == '-'))
            e--;
        if (s == a || !loki__email_valid(t + s, e - s))
            continue;
        unsigned fl = 0;
        if (role_local(t + s, a - s))
            fl |= LOKI_PII_F_ROLE;
        if (example_domain(t + a + 1, e - a - 1))
            fl |= LOKI_PII_F_EXAMPLE;
        double c = score(sc, s, e, 0.9, NULL);
        add(sc, LOKI_PII_EMAIL, s, e, fl & LOKI_PII_F_EXAMPLE && c > 0.3 ? 0.3 : c, fl);
        prev_end = e;
    }
}

/* ---- IPv6: runs of hex digits, ':' and '.' ---- */

static int v6_char(char c)
{
    return lx_digit(c) || (lx_lower(c) >= 'a' && lx_lower(c) <= 'f') || c == ':' || c == '.';
}

/* One stretch of v6 characters, from its first byte a: a value starts at the first byte not
 * preceded by a letter, digit or ':' and runs to the end of the stretch. Returns that end. */
static size_t v6_stretch(scan *sc, size_t a)
{
    const char *t = sc->t;
    size_t i = a;
    while (i < sc->len && v6_char(t[i]) && i > 0 && (lx_alnum(t[i - 1]) || t[i - 1] == ':'))
        i++;
    if (i >= sc->len || !v6_char(t[i]))
        return i;
    size_t j = i, colons = 0, hex = 0;
    while (j < sc->len && v6_char(t[j])) {
        colons += t[j] == ':';
        hex += t[j] != ':' && t[j] != '.';
        j++;
    }
    size_t e = j;
    while (e > i && t[e - 1] == '.')
        e--;
    if (colons >= 2 && hex >= 3 && e - i <= 45 && !(j < sc->len && lx_alnum(t[j])) &&
        loki__ipv6_valid(t + i, e - i))
        add(sc, LOKI_PII_IP, i, e, score(sc, i, e, 0.8, &d_ip), 0);
    return j;
}

/* An address has colons, so only the stretches around a ':' are looked at (memchr). */
static void scan_ipv6(scan *sc)
{
    const char *t = sc->t;
    size_t done = 0; /* every stretch before it is handled */
    const char *colon;
    while (done < sc->len && (colon = memchr(t + done, ':', sc->len - done)) != NULL) {
        size_t a = (size_t)(colon - t);
        while (a > done && v6_char(t[a - 1]))
            a--;
        done = v6_stretch(sc, a);
    }
}

/* ---- putting it together ---- */

/* The next offset from i where the main pass may find a value: a digit, a capital, or the '+'
 * or '(' of a phone number. Other bytes go four at a time. */
static size_t next_start(const char *t, size_t len, size_t i)
{
    const unsigned char *u = (const unsigned char *)t;
    while (i + 4 <= len && !(value_start[u[i]] | value_start[u[i + 1]] | value_start[u[i + 2]] |
                             value_start[u[i + 3]]))
        i += 4;
    while (i < len && !value_start[u[i]])
        i++;
    return i;
}

static size_t ext_end(const loki_pii *p)
{
    return p->end2 > p->end ? p->end2 : p->end;
}

static int by_start(const void *a, const void *b)
{
    const loki_pii *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (ext_end(x) != ext_end(y))
        return ext_end(x) > ext_end(y) ? -1 : 1;
    return (int)x->type - (int)y->type;
}

/* Sorts and drops overlaps, keeping the more confident (then longer) candidate. */
static size_t resolve(loki_pii *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, by_start);
    size_t k = 0;
    for (size_t i = 1; i < n; i++) {
        if (v[i].start >= ext_end(&v[k])) {
            v[++k] = v[i];
            continue;
        }
        if (v[i].confidence > v[k].confidence)
            v[k] = v[i];
    }
    return k + 1;
}

loki_status loki__pii_scan(const char *text, size_t len, loki_pii **out, size_t *n)
{
    scan sc = {.t = text, .len = len};
    pthread_once(&dicts_once, build_dicts);
    for (size_t i = next_start(text, len, 0); i < len && !sc.oom; i = next_start(text, len, i)) {
        size_t e = 0;
        if (start_ok(&sc, i)) {
            if (lx_digit(text[i]))
                e = try_digits(&sc, i);
            else if (lx_upper(text[i]))
                e = try_upper(&sc, i);
            else
                e = try_phone(&sc, i);
        }
        if (e > i) {
            i = e;
            continue;
        }
        /* No value starts inside a word (start_ok): go past it. */
        i = lx_alnum(text[i]) ? lx_word_end(text, len, i + 1) : i + 1;
    }
    scan_emails(&sc);
    scan_ipv6(&sc);
    if (sc.oom) {
        loki__free(sc.v);
        *out = NULL;
        *n = 0;
        return LOKI_ENOMEM;
    }
    *n = resolve(sc.v, sc.n);
    *out = sc.v;
    if (*n == 0) {
        loki__free(sc.v);
        *out = NULL;
    }
    return LOKI_OK;
}

/* ---- names and severity ---- */

static const char *const type_names[LOKI_PII_N] = {
    "payment_card", "iban",           "ni_number",  "nhs_number",      "sort_code_account",
    "sort_code",    "account_number", "passport",   "driving_licence", "date_of_birth",
    "email",        "phone",          "ip_address", "postcode"};

static const char *const labels[LOKI_PII_N] = {
    "CARD",      "IBAN",           "NI_NUMBER",  "NHS_NUMBER",      "SORT_CODE",
    "SORT_CODE", "ACCOUNT_NUMBER", "PASSPORT",   "DRIVING_LICENCE", "DATE_OF_BIRTH",
    "EMAIL",     "PHONE",          "IP_ADDRESS", "POSTCODE"};

const char *loki__pii_type_name(loki_pii_type t)
{
    return (unsigned)t < LOKI_PII_N ? type_names[t] : "pii";
}

const char *loki__pii_label(loki_pii_type t, int second)
{
    if (t == LOKI_PII_SORT_ACCOUNT && second)
        return "ACCOUNT_NUMBER";
    return (unsigned)t < LOKI_PII_N ? labels[t] : "PII";
}

/* Document classes: 0 AI answer or unknown, 1 published notice/policy (contacts expected),
 * 2 personal correspondence/contract (personal data expected), 3 invoice. */
static int doc_class(const char *doc_type)
{
    static const char *const published[] = {"privacy_notice",
                                            "privacy_policy",
                                            "cookie_policy",
                                            "consent_form",
                                            "data_protection_policy",
                                            "financial_promotion",
                                            "financial_disclosure",
                                            "terms_of_business",
                                            "complaints_procedure",
                                            "tax_guidance",
                                            "hr_policy",
                                            "policy",
                                            "dpia",
                                            NULL};
    static const char *const personal[] = {"data_processing_agreement",
                                           "data_breach_notice",
                                           "dsar_response",
                                           "nda",
                                           "contract",
                                           "settlement_agreement",
                                           "disciplinary_letter",
                                           "grievance_letter",
                                           "employment_contract",
                                           "employment_letter",
                                           NULL};
    if (!doc_type)
        return 0;
    if (strcmp(doc_type, "invoice") == 0)
        return 3;
    for (const char *const *p = published; *p; p++)
        if (strcmp(*p, doc_type) == 0)
            return 1;
    for (const char *const *p = personal; *p; p++)
        if (strcmp(*p, doc_type) == 0)
            return 2;
    return 0;
}

#define L LOKI_SEV_LOW
#define M LOKI_SEV_MEDIUM
#define H LOKI_SEV_HIGH
#define C LOKI_SEV_CRITICAL
/* Severity by type and document class (AI/unknown, published, personal, invoice). */
static const unsigned char sev_table[LOKI_PII_N][4] = {
    [LOKI_PII_CARD] = {C, C, C, C},         [LOKI_PII_IBAN] = {H, M, L, L},
    [LOKI_PII_NI] = {C, H, M, H},           [LOKI_PII_NHS] = {C, H, M, H},
    [LOKI_PII_SORT_ACCOUNT] = {H, M, L, L}, [LOKI_PII_SORT_CODE] = {M, L, L, L},
    [LOKI_PII_ACCOUNT] = {M, L, L, L},      [LOKI_PII_PASSPORT] = {H, H, M, H},
    [LOKI_PII_DRIVING] = {H, H, M, H},      [LOKI_PII_DOB] = {M, M, L, M},
    [LOKI_PII_EMAIL] = {M, L, L, L},        [LOKI_PII_PHONE] = {M, L, L, L},
    [LOKI_PII_IP] = {M, L, L, L},           [LOKI_PII_POSTCODE] = {L, L, L, L},
};
#undef L
#undef M
#undef H
#undef C

loki_severity loki__pii_severity(const loki_pii *p, const char *doc_type)
{
    if ((unsigned)p->type >= LOKI_PII_N)
        return LOKI_SEV_LOW;
    if (p->flags & (LOKI_PII_F_ROLE | LOKI_PII_F_EXAMPLE))
        return LOKI_SEV_LOW; /* an organisation's mailbox or a reserved example value */
    int s = sev_table[p->type][doc_class(doc_type)];
    if (p->confidence < 0.5 && s > LOKI_SEV_LOW)
        s--;
    return (loki_severity)s;
}
