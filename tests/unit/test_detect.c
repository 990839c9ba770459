/* SPDX-License-Identifier: MIT */
/* Universal detectors: every validator with valid and invalid values, PII findings with exact
 * spans and masked excerpts, severity by document type, the claim detectors, redaction, and
 * allocation failures. */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "detect/detect.h"
#include "helpers.h"

#define S(x) x, strlen(x)

/* ---- validators ---- */

static void card_validator(void **st)
{
    (void)st;
    assert_true(loki__card_valid(S("4111111111111111")));
    assert_true(loki__card_valid(S("4111 1111 1111 1111")));
    assert_true(loki__card_valid(S("4111-1111-1111-1111")));
    assert_true(loki__card_valid(S("5555 5555 5555 4444"))); /* Mastercard */
    assert_true(loki__card_valid(S("3782 822463 10005")));   /* Amex 4-6-5 */
    assert_true(loki__card_valid(S("6011111111111117")));    /* Discover */
    assert_false(loki__card_valid(S("4111111111111112")));   /* Luhn fails */
    assert_false(loki__card_valid(S("4111 1111 1111 1112")));
    assert_false(loki__card_valid(S("1234567812345670"))); /* Luhn ok, no issuer */
    assert_true(loki__luhn_ok(S("1234567812345670")));
    assert_false(loki__card_valid(S("0000000000000000")));
    assert_false(loki__card_valid(S("4111 1111-1111 1111")));  /* mixed separators */
    assert_false(loki__card_valid(S("4111  1111 1111 1111"))); /* double space */
    assert_false(loki__card_valid(S("41 11111111 111111")));   /* odd grouping */
    assert_true(loki__card_valid(S("378282246310005")));
    assert_false(loki__card_valid(S("5555555555554444000"))); /* Mastercard is 16 digits */
}

static void ni_validator(void **st)
{
    (void)st;
    assert_true(loki__ni_valid(S("QQ 12 34 56 C"))); /* HMRC's specimen: valid format */
    assert_true(loki__ni_valid(S("QQ123456C")));
    assert_true(loki__ni_valid(S("AB123456C")));
    assert_true(loki__ni_valid(S("JG 10 37 59 A")));
    assert_false(loki__ni_valid(S("AB123456E"))); /* suffix A-D only */
    assert_false(loki__ni_valid(S("DA123456A"))); /* first letter D */
    assert_false(loki__ni_valid(S("FA123456A")));
    assert_false(loki__ni_valid(S("AO123456A"))); /* second letter O */
    assert_false(loki__ni_valid(S("AV123456A")));
    assert_false(loki__ni_valid(S("QA123456A"))); /* Q only as the QQ specimen */
    assert_false(loki__ni_valid(S("BG123456A")));
    assert_false(loki__ni_valid(S("GB123456A")));
    assert_false(loki__ni_valid(S("NK123456A")));
    assert_false(loki__ni_valid(S("TN123456A")));
    assert_false(loki__ni_valid(S("ZZ123456A")));
    assert_false(loki__ni_valid(S("AB12345C")));
    assert_false(loki__ni_valid(S("ab123456c")));
}

static void iban_validator(void **st)
{
    (void)st;
    assert_true(loki__iban_valid(S("GB82WEST12345698765432")));
    assert_true(loki__iban_valid(S("GB82 WEST 1234 5698 7654 32")));
    assert_true(loki__iban_valid(S("DE89370400440532013000")));
    assert_true(loki__iban_valid(S("FR1420041010050500013M02606")));
    assert_false(loki__iban_valid(S("GB83WEST12345698765432"))); /* wrong check digits */
    assert_false(loki__iban_valid(S("GB82WEST12345698765433"))); /* one digit changed */
    assert_false(loki__iban_valid(S("GB82WEST1234569876543")));  /* GB is 22 long */
    assert_false(loki__iban_valid(S("DE8937040044053201300")));
    assert_false(loki__iban_valid(S("XX82WEST12345698765432")));      /* unknown country */
    assert_false(loki__iban_valid(S("GB82 WE ST12 3456 9876 5432"))); /* bad grouping */
    assert_int_equal(loki__iban_length("GB"), 22);
    assert_int_equal(loki__iban_length("NO"), 15);
    assert_int_equal(loki__iban_length("ZZ"), 0);
}

static void other_validators(void **st)
{
    (void)st;
    assert_true(loki__nhs_valid(S("943 476 5919")));
    assert_true(loki__nhs_valid(S("9434765919")));
    assert_false(loki__nhs_valid(S("943 476 5918")));
    assert_false(loki__nhs_valid(S("94 34 76 5919")));
    assert_true(loki__sort_code_valid(S("12-34-56")));
    assert_true(loki__sort_code_valid(S("12 34 56")));
    assert_false(loki__sort_code_valid(S("12-345-6")));
    assert_true(loki__account_valid(S("12345678")));
    assert_false(loki__account_valid(S("1234567")));
    assert_true(loki__dvla_valid(S("MORGA753116SM9IJ")));
    assert_true(loki__dvla_valid(S("MORGA 753116 SM9IJ")));
    assert_false(loki__dvla_valid(S("MORGA713116SM9IJ"))); /* month 13 */
    assert_false(loki__dvla_valid(S("MORGA753326SM9IJ"))); /* day 32 */
    assert_true(loki__postcode_valid(S("SW1A 2AA")));
    assert_true(loki__postcode_valid(S("M1 1AE")));
    assert_true(loki__postcode_valid(S("EC1A1BB")));
    assert_true(loki__postcode_valid(S("GIR 0AA")));
    assert_false(loki__postcode_valid(S("QA1 1AA")));  /* Q never first */
    assert_false(loki__postcode_valid(S("SW1A 2CA"))); /* C never inward */
    assert_int_equal(loki__uk_phone_valid(S("07912 345678")), 1);
    assert_int_equal(loki__uk_phone_valid(S("+44 7912 345678")), 1);
    assert_int_equal(loki__uk_phone_valid(S("+44 (0)20 7946 0958")), 1);
    assert_int_equal(loki__uk_phone_valid(S("(020) 7946 0958")), 1);
    assert_int_equal(loki__uk_phone_valid(S("0303 123 1113")), 2); /* service number */
    assert_int_equal(loki__uk_phone_valid(S("0800 023 4567")), 2);
    assert_int_equal(loki__uk_phone_valid(S("0791 234")), 0);
    assert_int_equal(loki__uk_phone_valid(S("+33 1 23 45 67 89")), 0);
    assert_int_equal(loki__uk_phone_valid(S("07012 345678")), 0);
    assert_true(loki__email_valid(S("jane.doe@gmail.com")));
    assert_true(loki__email_valid(S("a+b@mail.example.co.uk")));
    assert_false(loki__email_valid(S("jane..doe@gmail.com")));
    assert_false(loki__email_valid(S("jane@localhost")));
    assert_false(loki__email_valid(S("jane@gmail.c0m")));
    assert_false(loki__email_valid(S("@gmail.com")));
    assert_true(loki__ipv4_valid(S("192.168.1.20")));
    assert_false(loki__ipv4_valid(S("256.1.1.1")));
    assert_false(loki__ipv4_valid(S("1.2.3")));
    assert_false(loki__ipv4_valid(S("01.2.3.4")));
    assert_true(loki__ipv6_valid(S("2001:db8::1")));
    assert_false(loki__ipv6_valid(S("12:30:45")));
    assert_true(loki__date_valid(S("12/03/1985")));
    assert_true(loki__date_valid(S("1985-03-12")));
    assert_true(loki__date_valid(S("3 March 1985")));
    assert_true(loki__date_valid(S("March 3, 1985")));
    assert_false(loki__date_valid(S("31/02/1985")));
    assert_false(loki__date_valid(S("12/13/1985")));
}

/* ---- findings ---- */

typedef struct run {
    loki_arena arena;
    loki_universal_finding *f;
    size_t n;
} run;

static void detect(run *r, const char *text, const char *type)
{
    loki__arena_init(&r->arena);
    loki_detect_input in = {
        .text = text, .len = strlen(text), .doc_type = type, .arena = &r->arena};
    loki_error err;
    assert_int_equal(loki__detect_all(&in, &r->f, &r->n, &err), LOKI_OK);
}

static const loki_universal_finding *find(const run *r, const char *type)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->f[i].type, type) == 0)
            return &r->f[i];
    return NULL;
}

static size_t count_detector(const run *r, const char *det)
{
    size_t c = 0;
    for (size_t i = 0; i < r->n; i++)
        c += strcmp(r->f[i].detector, det) == 0;
    return c;
}

/* The finding exists, its first span is exactly `value` in text, and its excerpt hides it. */
static const loki_universal_finding *expect_span(const run *r, const char *text, const char *type,
                                                 const char *value)
{
    const loki_universal_finding *f = find(r, type);
    assert_non_null(f);
    assert_string_equal(f->detector, "pii");
    assert_true(f->n_spans >= 1);
    const char *at = strstr(text, value);
    assert_non_null(at);
    assert_int_equal(f->spans[0].start, (size_t)(at - text));
    assert_int_equal(f->spans[0].end, (size_t)(at - text) + strlen(value));
    assert_int_equal(f->spans[0].text_len, strlen(value));
    assert_true(memcmp(f->spans[0].text, value, strlen(value)) != 0);
    assert_non_null(memchr(f->spans[0].text, '*', f->spans[0].text_len));
    assert_true(f->confidence >= 0.5 && f->confidence <= 1.0);
    return f;
}

static const char DOC[] =
    "Dear customer,\n"
    "Your card 4111 1111 1111 1111 is on file; NI number QQ 12 34 56 C.\n"
    "Pay into IBAN GB82 WEST 1234 5698 7654 32 and write to jane.doe@gmail.com\n"
    "or call 07912 345678.\n";

static const char DOC_BAD[] =
    "Dear customer,\n"
    "Your card 4111 1111 1111 1112 is on file; NI number QQ 12 34 56 C.\n"
    "Pay into IBAN GB83 WEST 1234 5698 7654 32 and write to jane.doe@gmail.com\n"
    "or call 07912 345678.\n";

static void document_pii(void **st)
{
    (void)st;
    run r;
    detect(&r, DOC, "ai_generated");
    const loki_universal_finding *card =
        expect_span(&r, DOC, "payment_card", "4111 1111 1111 1111");
    assert_int_equal(card->spans[0].line, 2);
    assert_int_equal(card->spans[0].column, 11);
    assert_int_equal(card->spans[0].char_start, 25);
    assert_memory_equal(card->spans[0].text, "**** **** **** 1111", 19);
    assert_int_equal(card->severity, LOKI_SEV_CRITICAL);
    assert_int_equal(card->status, LOKI_FAIL);
    const loki_universal_finding *ni = expect_span(&r, DOC, "ni_number", "QQ 12 34 56 C");
    assert_int_equal(ni->spans[0].line, 2);
    const loki_universal_finding *iban =
        expect_span(&r, DOC, "iban", "GB82 WEST 1234 5698 7654 32");
    assert_int_equal(iban->spans[0].line, 3);
    assert_int_equal(iban->spans[0].column, 15);
    const loki_universal_finding *mail = expect_span(&r, DOC, "email", "jane.doe@gmail.com");
    assert_memory_equal(mail->spans[0].text, "j***.***@gmail.com", 18);
    const loki_universal_finding *ph = expect_span(&r, DOC, "phone", "07912 345678");
    assert_int_equal(ph->spans[0].line, 4);
    assert_int_equal(ph->spans[0].column, 9);
    assert_int_equal(count_detector(&r, "pii"), 5);
    loki__arena_release(&r.arena);

    detect(&r, DOC_BAD, "ai_generated");
    assert_null(find(&r, "payment_card"));
    assert_null(find(&r, "iban"));
    assert_non_null(find(&r, "ni_number"));
    assert_non_null(find(&r, "email"));
    assert_non_null(find(&r, "phone"));
    loki__arena_release(&r.arena);
}

static void more_pii_types(void **st)
{
    (void)st;
    const char *t = "NHS number 943 476 5919.\n"
                    "Sort code 12-34-56, account number 12345678.\n"
                    "Date of birth: 12/03/1985. Passport number 123456789.\n"
                    "Driving licence MORGA753116SM9IJ. Address: 1 High Street, London SW1A 2AA.\n"
                    "Login from IP 192.168.1.20 and 2001:db8::1.\n";
    run r;
    detect(&r, t, "unknown");
    expect_span(&r, t, "nhs_number", "943 476 5919");
    const loki_universal_finding *sa = expect_span(&r, t, "sort_code_account", "12-34-56");
    assert_int_equal(sa->n_spans, 2);
    assert_int_equal(sa->spans[1].start, (size_t)(strstr(t, "12345678") - t));
    assert_string_equal(sa->spans[1].label, "account_number");
    expect_span(&r, t, "date_of_birth", "12/03/1985");
    expect_span(&r, t, "passport", "123456789");
    expect_span(&r, t, "driving_licence", "MORGA753116SM9IJ");
    expect_span(&r, t, "postcode", "SW1A 2AA");
    expect_span(&r, t, "ip_address", "192.168.1.20");
    loki__arena_release(&r.arena);

    /* Without context, 9 digits, a date and an NHS-valid bare 10-digit run are not PII. */
    const char *u = "Order 123456789 shipped 12/03/1985, ref 9434765919, version 1.2.3.4.\n";
    detect(&r, u, "unknown");
    assert_int_equal(count_detector(&r, "pii"), 0);
    loki__arena_release(&r.arena);
}

static void placeholders_and_roles(void **st)
{
    (void)st;
    run r;
    const char *t = "Contact our DPO at [DPO_EMAIL] or [EMAIL], phone [PHONE], IBAN [IBAN].\n";
    detect(&r, t, "unknown");
    assert_int_equal(r.n, 0);
    loki__arena_release(&r.arena);

    /* A privacy notice naming its DPO mailbox: reported, but low. */
    const char *p = "Our Data Protection Officer: dpo@acmebank.co.uk, or jane.doe@gmail.com.\n";
    detect(&r, p, "privacy_notice");
    assert_int_equal(r.n, 2);
    assert_int_equal(r.f[0].severity, LOKI_SEV_LOW);
    assert_int_equal(r.f[0].status, LOKI_WARNING);
    assert_int_equal(r.f[1].severity, LOKI_SEV_LOW);
    loki__arena_release(&r.arena);
    detect(&r, p, "ai_generated");
    assert_int_equal(r.f[0].severity, LOKI_SEV_LOW); /* still a role mailbox */
    assert_int_equal(r.f[1].severity, LOKI_SEV_MEDIUM);
    loki__arena_release(&r.arena);
}

static void severity_by_document_type(void **st)
{
    (void)st;
    const char *t = "Card number 4111 1111 1111 1111. NI number AB 12 34 56 C.\n";
    run r;
    detect(&r, t, "ai_generated");
    assert_int_equal(find(&r, "payment_card")->severity, LOKI_SEV_CRITICAL);
    assert_int_equal(find(&r, "ni_number")->severity, LOKI_SEV_CRITICAL);
    loki__arena_release(&r.arena);
    detect(&r, t, "employment_contract");
    assert_int_equal(find(&r, "payment_card")->severity, LOKI_SEV_CRITICAL);
    assert_int_equal(find(&r, "ni_number")->severity, LOKI_SEV_MEDIUM);
    assert_int_equal(find(&r, "ni_number")->status, LOKI_WARNING);
    loki__arena_release(&r.arena);
    const char *iban = "Please pay to GB82 WEST 1234 5698 7654 32.\n";
    detect(&r, iban, "invoice");
    assert_int_equal(find(&r, "iban")->severity, LOKI_SEV_LOW);
    loki__arena_release(&r.arena);
    detect(&r, iban, NULL);
    assert_int_equal(find(&r, "iban")->severity, LOKI_SEV_HIGH);
    loki__arena_release(&r.arena);
}

static void invoice_cross_validation(void **st)
{
    (void)st;
    run r;
    detect(&r, "INVOICE 42. Paid by card 4111 1111 1111 1111.\n", "unknown");
    const loki_universal_finding *f = find(&r, "sensitive_pii_in_invoice");
    assert_non_null(f);
    assert_int_equal(f->severity, LOKI_SEV_CRITICAL);
    assert_string_equal(f->detector, "cross_validation");
    loki__arena_release(&r.arena);
}

/* ---- claims ---- */

static void contradictions(void **st)
{
    (void)st;
    const char *t = "This fund is low risk. Returns are excellent.\n"
                    "Please note: it is a high risk investment.\n"
                    "There are no fees. An annual fee of 1% applies.\n";
    run r;
    detect(&r, t, "unknown");
    const loki_universal_finding *f = find(&r, "risk_level");
    assert_non_null(f);
    assert_string_equal(f->detector, "contradiction");
    assert_int_equal(f->status, LOKI_FAIL);
    assert_int_equal(f->n_spans, 2);
    assert_int_equal(f->spans[0].start, (size_t)(strstr(t, "low risk") - t));
    assert_int_equal(f->spans[1].start, (size_t)(strstr(t, "high risk") - t));
    assert_int_equal(f->spans[1].line, 2);
    f = find(&r, "fees");
    assert_non_null(f);
    assert_memory_equal(f->spans[0].text, "no fees", 7);
    assert_memory_equal(f->spans[1].text, "annual fee", 10);
    loki__arena_release(&r.arena);

    /* Negated or conditional statements are not claims. */
    const char *u = "This is not a low risk product; it is high risk.\n"
                    "The copy is free of charge. If requests are excessive we may charge a fee.\n";
    detect(&r, u, "unknown");
    assert_int_equal(count_detector(&r, "contradiction"), 0);
    loki__arena_release(&r.arena);
}

static void unsupported_claims(void **st)
{
    (void)st;
    const char *t = "A 2023 Harvard study found 97% of savers prefer us.\n"
                    "Studies show our method works. Results are 100% guaranteed.\n";
    run r;
    detect(&r, t, "ai_generated");
    const loki_universal_finding *f = find(&r, "unsupported_statistic");
    assert_non_null(f);
    assert_int_equal(f->status, LOKI_WARNING);
    assert_int_equal(f->spans[0].start, 0);
    assert_int_equal(f->spans[0].end,
                     strlen("A 2023 Harvard study found 97% of savers prefer us."));
    assert_non_null(find(&r, "fabricated_certainty"));
    assert_non_null(find(&r, "absolute_guarantee"));
    loki__arena_release(&r.arena);

    const char *u = "A 2023 Harvard study found 97% of savers prefer us (source: "
                    "https://example.org/study).\n";
    detect(&r, u, "ai_generated");
    assert_null(find(&r, "unsupported_statistic"));
    loki__arena_release(&r.arena);
}

static void financial_promotion(void **st)
{
    (void)st;
    const char *t = "Invest in our fund today for guaranteed returns on your shares.\n";
    run r;
    detect(&r, t, "financial_promotion");
    const loki_universal_finding *f = find(&r, "prohibited_claim");
    assert_non_null(f);
    assert_int_equal(f->status, LOKI_FAIL);
    assert_int_equal(f->severity, LOKI_SEV_CRITICAL);
    assert_memory_equal(f->spans[0].text, "guaranteed returns", 18);
    assert_non_null(find(&r, "consumer_duty_absent"));
    loki__arena_release(&r.arena);

    const char *w = "Invest in our fund for guaranteed returns. Capital at risk.\n";
    detect(&r, w, "financial_promotion");
    f = find(&r, "prohibited_claim");
    assert_int_equal(f->status, LOKI_WARNING);
    assert_int_equal(f->severity, LOKI_SEV_HIGH);
    loki__arena_release(&r.arena);

    /* A compliance template listing phrases to avoid does not make the claims. */
    const char *q = "Invest in funds and shares. Capital at risk.\nDO NOT USE:\n"
                    "- 'Guaranteed returns'\n- 'Risk-free'\n";
    detect(&r, q, "financial_promotion");
    assert_null(find(&r, "prohibited_claim"));
    assert_null(find(&r, "missing_risk_warning"));
    loki__arena_release(&r.arena);

    const char *m = "Invest in our fund: strong returns, a growing portfolio and dividends.\n";
    detect(&r, m, "unknown");
    assert_non_null(find(&r, "missing_risk_warning"));
    loki__arena_release(&r.arena);

    /* Consumer Duty: partly addressed is a low warning naming what is missing. */
    const char *cd = "We act in good faith, deliver fair value and consumer support.\n";
    detect(&r, cd, "terms_of_business");
    f = find(&r, "consumer_duty_gaps");
    assert_non_null(f);
    assert_int_equal(f->severity, LOKI_SEV_LOW);
    assert_non_null(strstr(f->message, "foreseeable harm"));
    assert_null(strstr(f->message, "fair value"));
    loki__arena_release(&r.arena);
}

static void excerpts_mask_pii_inside_claims(void **st)
{
    (void)st;
    const char *t = "A 2021 Oxford study of card 4111 1111 1111 1111 found 90% fraud.\n";
    run r;
    detect(&r, t, "unknown");
    const loki_universal_finding *f = find(&r, "unsupported_statistic");
    assert_non_null(f);
    assert_null(memmem(f->spans[0].text, f->spans[0].text_len, "4111 1111", 9));
    assert_non_null(memmem(f->spans[0].text, f->spans[0].text_len, "**** **** **** ****", 19));
    loki__arena_release(&r.arena);
}

/* ---- cross-validation over gates ---- */

static loki_gate_status fake_lookup(void *cx, const char *module, const char *gate)
{
    (void)cx;
    if (strcmp(module, "gdpr_uk") == 0 &&
        (strcmp(gate, "automated_decisions") == 0 || strcmp(gate, "rights") == 0))
        return LOKI_FAIL;
    return LOKI_NA;
}

static void cross_rules(void **st)
{
    (void)st;
    loki_universal_finding out[8];
    size_t n = loki__detect_cross(fake_lookup, NULL, out, 8);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].type, "gdpr_automation_rights_gap");
    assert_int_equal(out[0].severity, LOKI_SEV_CRITICAL);
}

/* ---- redaction ---- */

static void redact_styles(void **st)
{
    (void)st;
    const char *t = "Mail jane.doe@gmail.com, card 4111 1111 1111 1111, ref [EMAIL].";
    loki_redact_options o;
    loki_redact_options_default(&o);
    assert_int_equal(o.style, LOKI_MASK_STARS);
    char *out = NULL;
    size_t out_len = 0, n = 0;
    loki_error err;
    assert_int_equal(loki_redact(t, strlen(t), &o, &out, &out_len, &n, &err), LOKI_OK);
    assert_string_equal(out, "Mail ******************, card *******************, ref [EMAIL].");
    assert_int_equal(out_len, strlen(t));
    assert_int_equal(n, 2);
    free(out);
    o.style = LOKI_MASK_TYPE;
    assert_int_equal(loki_redact(t, strlen(t), &o, &out, &out_len, &n, &err), LOKI_OK);
    assert_string_equal(out, "Mail [EMAIL], card [CARD], ref [EMAIL].");
    free(out);
    o.style = LOKI_MASK_PARTIAL;
    assert_int_equal(loki_redact(t, strlen(t), &o, &out, NULL, NULL, &err), LOKI_OK);
    assert_string_equal(out, "Mail **************.com, card ***************1111, ref [EMAIL].");
    free(out);

    /* Sort code and account number are masked separately, the words between kept. */
    const char *sa = "Sort code 12-34-56, account number 12345678.";
    assert_int_equal(loki_redact(sa, strlen(sa), NULL, &out, NULL, &n, &err), LOKI_OK);
    assert_string_equal(out, "Sort code ********, account number ********.");
    assert_int_equal(n, 1);
    free(out);

    /* Nothing to mask, empty text, bad UTF-8, bad options. */
    assert_int_equal(loki_redact("plain", 5, NULL, &out, &out_len, &n, &err), LOKI_OK);
    assert_string_equal(out, "plain");
    assert_int_equal(n, 0);
    free(out);
    assert_int_equal(loki_redact("", 0, NULL, &out, &out_len, &n, &err), LOKI_OK);
    assert_string_equal(out, "");
    free(out);
    assert_int_equal(loki_redact("ab\xff", 3, NULL, &out, NULL, NULL, &err), LOKI_EENCODING);
    assert_int_equal(err.offset, 2);
    assert_null(out);
    o.document_type = "no_such_type";
    assert_int_equal(loki_redact("x", 1, &o, &out, NULL, NULL, &err), LOKI_EINVAL);
}

static void redact_min_confidence(void **st)
{
    (void)st;
    /* The Ofcom drama number is an example: below the default threshold. */
    const char *t = "Call 07700 900123 or 07912 345678.";
    char *out = NULL;
    size_t n = 0;
    assert_int_equal(loki_redact(t, strlen(t), NULL, &out, NULL, &n, NULL), LOKI_OK);
    assert_string_equal(out, "Call 07700 900123 or ************.");
    free(out);
    loki_redact_options o;
    loki_redact_options_default(&o);
    o.min_confidence = 0;
    assert_int_equal(loki_redact(t, strlen(t), &o, &out, NULL, &n, NULL), LOKI_OK);
    assert_int_equal(n, 2);
    free(out);
}

/* ---- allocation failures: a clean LOKI_ENOMEM, never a crash or a leak ---- */

static void alloc_failures(void **st)
{
    (void)st;
    char *out = NULL;
    int ok = 0;
    for (unsigned long k = 1; k < 200 && !ok; k++) {
        loki__alloc_fail_at(k);
        loki_status s = loki_redact(DOC, strlen(DOC), NULL, &out, NULL, NULL, NULL);
        loki__alloc_fail_at(0);
        assert_true(s == LOKI_OK || s == LOKI_ENOMEM);
        if (s == LOKI_OK) {
            free(out);
            ok = 1;
        }
    }
    assert_true(ok);
    ok = 0;
    for (unsigned long k = 1; k < 400 && !ok; k++) {
        loki_arena a;
        loki__arena_init(&a);
        loki_detect_input in = {
            .text = DOC, .len = strlen(DOC), .doc_type = "unknown", .arena = &a};
        loki_universal_finding *f;
        size_t n;
        loki__alloc_fail_at(k);
        loki_status s = loki__detect_all(&in, &f, &n, NULL);
        loki__alloc_fail_at(0);
        assert_true(s == LOKI_OK || s == LOKI_ENOMEM);
        ok = s == LOKI_OK;
        loki__arena_release(&a);
    }
    assert_true(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(card_validator),
        cmocka_unit_test(ni_validator),
        cmocka_unit_test(iban_validator),
        cmocka_unit_test(other_validators),
        cmocka_unit_test(document_pii),
        cmocka_unit_test(more_pii_types),
        cmocka_unit_test(placeholders_and_roles),
        cmocka_unit_test(severity_by_document_type),
        cmocka_unit_test(invoice_cross_validation),
        cmocka_unit_test(contradictions),
        cmocka_unit_test(unsupported_claims),
        cmocka_unit_test(financial_promotion),
        cmocka_unit_test(excerpts_mask_pii_inside_claims),
        cmocka_unit_test(cross_rules),
        cmocka_unit_test(redact_styles),
        cmocka_unit_test(redact_min_confidence),
        cmocka_unit_test(alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
