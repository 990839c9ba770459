/* SPDX-License-Identifier: MIT */
/*
 * Universal detectors: PII with validators (Luhn, mod-97, NI prefix rules, NHS mod-11...),
 * contradictions, unsupported claims, financial-promotion risk and Consumer Duty gaps. They run
 * on every document regardless of modules. Internal; see docs/detectors.md and
 * docs/internals/detect.md.
 *
 * Everything here is linear in the length of the text: scanners look at most a fixed distance
 * ahead or behind any position, and the contradiction detector records which claim classes
 * appear in one pass instead of comparing sentences. The only global state is the word and
 * phrase tables (detect_lex.h), built once under pthread_once and read-only after, so every
 * function is thread-safe.
 */
#ifndef LOKI_DETECT_H
#define LOKI_DETECT_H

#include "../doc/doc.h"
#include "../util/util.h"
#include "loki/loki.h"

typedef struct loki_detect_input {
    const char *text; /* validated UTF-8 */
    size_t len;
    const char *doc_type;  /* "unknown" when not given (NULL is taken as "unknown") */
    const loki_posmap *pm; /* for line/column/code points of spans; NULL: built internally */
    loki_arena *arena;     /* everything returned is allocated here */
    unsigned max_spans;    /* per finding (0: 50) */
} loki_detect_input;

/* Most universal findings one document reports (PII occurrences beyond it are not reported,
 * but loki_redact() still masks them). */
#define LOKI_DETECT_MAX_FINDINGS 1000u
/* PII candidates below this confidence are not reported by loki__detect_all(). */
#define LOKI_DETECT_MIN_CONFIDENCE 0.4

/*
 * Runs every universal detector. On success *out and *n hold the findings (in the arena), in a
 * deterministic order: PII by position, then contradictions, unsupported claims, financial
 * promotion, Consumer Duty and cross-validation. Span texts of PII findings are masked; other
 * span texts have any PII inside them masked too. Cost is linear in len. Thread-safe.
 * Errors: LOKI_ENOMEM.
 */
loki_status loki__detect_all(const loki_detect_input *in, loki_universal_finding **out, size_t *n,
                             loki_error *err);

/* ---- PII (detect_pii.c), also used by loki_redact() ------------------------------------ */

typedef enum loki_pii_type {
    LOKI_PII_CARD = 0,     /* payment card: Luhn + IIN range + grouping */
    LOKI_PII_IBAN,         /* ISO 13616: country length + mod-97 (+ GB structure) */
    LOKI_PII_NI,           /* UK National Insurance number */
    LOKI_PII_NHS,          /* NHS number: mod-11 */
    LOKI_PII_SORT_ACCOUNT, /* UK sort code + account number: two ranges */
    LOKI_PII_SORT_CODE,    /* sort code alone, in "sort code" context */
    LOKI_PII_ACCOUNT,      /* 8-digit account number alone, in "account" context */
    LOKI_PII_PASSPORT,     /* 9 digits in passport context */
    LOKI_PII_DRIVING,      /* DVLA 16-character driving licence number */
    LOKI_PII_DOB,          /* a date in date-of-birth context */
    LOKI_PII_EMAIL,
    LOKI_PII_PHONE,    /* UK numbers: 0xxx or +44 */
    LOKI_PII_IP,       /* IPv4 or IPv6 */
    LOKI_PII_POSTCODE, /* UK postcode */
    LOKI_PII_N
} loki_pii_type;

enum {
    LOKI_PII_F_ROLE = 1u << 0,    /* an organisation's address/number (dpo@, 0300...) */
    LOKI_PII_F_EXAMPLE = 1u << 1, /* a reserved example value (example.com, Ofcom drama) */
};

typedef struct loki_pii {
    loki_pii_type type;
    size_t start, end;   /* the value; for SORT_ACCOUNT the sort code */
    size_t start2, end2; /* SORT_ACCOUNT: the account number; otherwise equal to end */
    double confidence;   /* 0..1, after context words */
    unsigned flags;      /* LOKI_PII_F_* */
} loki_pii;

/*
 * Finds every PII candidate in text (any confidence), sorted by start, not overlapping.
 * *out is allocated with loki__malloc (the caller loki__free()s it; NULL when *n is 0).
 * Returns LOKI_OK or LOKI_ENOMEM. Linear in len.
 */
loki_status loki__pii_scan(const char *text, size_t len, loki_pii **out, size_t *n);

/* "payment_card", "iban", "ni_number", ... */
const char *loki__pii_type_name(loki_pii_type t);
/* Mask label for redaction of range 1 or 2: "CARD", "IBAN", "NI_NUMBER", "SORT_CODE"... */
const char *loki__pii_label(loki_pii_type t, int second);
/* Severity of a candidate in a document of the given type (NULL = unknown). */
loki_severity loki__pii_severity(const loki_pii *p, const char *doc_type);

/* ---- validators (detect_validate.c): pure functions over (p, len) ---------------------- */

/* Luhn checksum over the digits of p (other bytes ignored). 1 valid, 0 not (or no digits). */
int loki__luhn_ok(const char *p, size_t len);
/* Known IIN range and length for a card number given as n digits. */
int loki__card_iin_ok(const char *digits, size_t n);
/* A full card check: 13-19 digits with consistent single space/hyphen grouping (4-4-4-4...,
 * 4-6-5, 4-6-4), a known IIN and Luhn. */
int loki__card_valid(const char *p, size_t len);
/* NI number: "AB123456C" or "AB 12 34 56 C" (uppercase). HMRC prefix rules; suffix A-D. The
 * specimen prefix QQ is accepted as a valid format. */
int loki__ni_valid(const char *p, size_t len);
/* IBAN, compact or grouped by 4 with single spaces: country length + mod-97 + GB structure. */
int loki__iban_valid(const char *p, size_t len);
/* Expected IBAN length for a two-letter country code, 0 when unknown. */
unsigned loki__iban_length(const char *cc);
/* NHS number: 10 digits (optionally 3-3-4 with spaces or hyphens), mod-11. */
int loki__nhs_valid(const char *p, size_t len);
/* Sort code: "12-34-56", "12 34 56" or "123456". */
int loki__sort_code_valid(const char *p, size_t len);
/* UK account number: exactly 8 digits. */
int loki__account_valid(const char *p, size_t len);
/* DVLA licence number: 16 characters, optional spaces after the 5th and 11th. */
int loki__dvla_valid(const char *p, size_t len);
/* UK postcode (uppercase), with or without the space; GIR 0AA. */
int loki__postcode_valid(const char *p, size_t len);
/* UK phone: 0xxxxxxxxx(x) or +44 forms, spaces/hyphens and "(0)" allowed. Returns 1 for a
 * personal-looking number, 2 for a non-geographic service number (03, 05, 08, 09), 0 if not
 * a UK number. */
int loki__uk_phone_valid(const char *p, size_t len);
/* E-mail address (the whole of p). */
int loki__email_valid(const char *p, size_t len);
/* Dotted-quad IPv4, each part 0-255 without leading zeros. */
int loki__ipv4_valid(const char *p, size_t len);
/* IPv6 text form (inet_pton). */
int loki__ipv6_valid(const char *p, size_t len);
/* A calendar date: dd/mm/yyyy, dd-mm-yyyy, dd.mm.yyyy, yyyy-mm-dd, "3 March 1985",
 * "March 3, 1985". Years 1900-2099. */
int loki__date_valid(const char *p, size_t len);

/* ---- claims (detect_claims.c) ------------------------------------------------------------ */

/* A claim-level hit before it becomes a finding: detector/type are static strings. */
typedef struct loki_claim_hit {
    const char *detector;
    const char *type;
    loki_gate_status status;
    loki_severity severity;
    double confidence;
    const char *message; /* static or arena */
    const char *suggestion;
    size_t n_ranges;
    size_t range[8][2]; /* byte ranges: spans of the finding */
    const char *range_label[8];
} loki_claim_hit;

/*
 * Runs contradictions, unsupported claims, financial promotion and Consumer Duty over the text
 * and appends their hits to *hits (grown with loki__reallocarray). Linear in len.
 */
loki_status loki__claims_scan(const char *text, size_t len, const char *doc_type, loki_arena *arena,
                              loki_claim_hit **hits, size_t *n, size_t *cap);

/* ---- cross-validation over gate results (for the engine) -------------------------------- */

/* Returns the status of module/gate in the current verdict, or LOKI_NA when it did not run. */
typedef loki_gate_status (*loki_gate_lookup)(void *ctx, const char *module, const char *gate);

/*
 * The cross-validation rules that combine gate results (docs/detectors.md): appends
 * findings with detector "cross_validation" to out[] (at most out_cap; returns the count).
 * Spans are empty; message and type are static strings.
 */
size_t loki__detect_cross(loki_gate_lookup lookup, void *ctx, loki_universal_finding *out,
                          size_t out_cap);

#endif
