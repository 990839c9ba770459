/* SPDX-License-Identifier: MIT */
/* Validators for the PII detectors: checksums and official formats, so that a number that
 * merely looks like a card or an IBAN is not reported. Pure functions over (p, len). */
#include <arpa/inet.h>
#include <string.h>

#include "detect.h"

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

/* Copies the digits of p into d (at most cap); returns their count, or cap + 1 when more. */
static size_t digits_of(const char *p, size_t len, char *d, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(p[i]))
            continue;
        if (n == cap)
            return cap + 1;
        d[n++] = p[i];
    }
    return n;
}

int loki__luhn_ok(const char *p, size_t len)
{
    unsigned sum = 0, k = 0;
    for (size_t i = len; i-- > 0;) {
        if (!is_digit(p[i]))
            continue;
        unsigned v = (unsigned)(p[i] - '0');
        if (k++ & 1u) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
    }
    return k > 0 && sum % 10 == 0;
}

static unsigned prefix_num(const char *d, size_t n, size_t k)
{
    unsigned v = 0;
    for (size_t i = 0; i < k && i < n; i++)
        v = v * 10 + (unsigned)(d[i] - '0');
    return v;
}

int loki__card_iin_ok(const char *d, size_t n)
{
    if (n < 12 || n > 19)
        return 0;
    unsigned p1 = prefix_num(d, n, 1), p2 = prefix_num(d, n, 2), p3 = prefix_num(d, n, 3);
    unsigned p4 = prefix_num(d, n, 4), p6 = prefix_num(d, n, 6);
    if (p1 == 4) /* Visa */
        return n == 13 || n == 16 || n == 19;
    if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) /* Mastercard */
        return n == 16;
    if (p2 == 34 || p2 == 37) /* American Express */
        return n == 15;
    if (p4 == 6011 || (p3 >= 644 && p3 <= 649) || p2 == 65 || (p6 >= 622126 && p6 <= 622925))
        return n >= 16; /* Discover */
    if (p2 == 62)       /* UnionPay */
        return n >= 16;
    if (p4 >= 3528 && p4 <= 3589) /* JCB */
        return n >= 16;
    if ((p3 >= 300 && p3 <= 305) || p2 == 36 || p2 == 38 || p2 == 39) /* Diners Club */
        return n >= 14;
    if (p2 == 50 || (p2 >= 56 && p2 <= 58) || p2 == 63 || p2 == 67) /* Maestro */
        return n >= 12;
    return 0;
}

/* Group lengths of a number written with one kind of single separator. Returns the number of
 * groups (0 when the separators are mixed, doubled, or there are other characters). */
static size_t groups_of(const char *p, size_t len, size_t *g, size_t gcap, char *sep_out)
{
    size_t ng = 0, cur = 0;
    char sep = 0;
    for (size_t i = 0; i < len; i++) {
        if (is_digit(p[i])) {
            cur++;
            continue;
        }
        if ((p[i] != ' ' && p[i] != '-') || cur == 0 || (sep && p[i] != sep) || ng + 1 >= gcap)
            return 0;
        sep = p[i];
        g[ng++] = cur;
        cur = 0;
    }
    if (cur == 0)
        return 0;
    g[ng++] = cur;
    if (sep_out)
        *sep_out = sep;
    return ng;
}

int loki__card_valid(const char *p, size_t len)
{
    char d[20];
    size_t g[8];
    size_t n = digits_of(p, len, d, 19);
    if (n < 13 || n > 19)
        return 0;
    size_t ng = groups_of(p, len, g, 8, NULL);
    if (ng == 0)
        return 0;
    if (ng > 1) {
        int fours = 1;
        for (size_t i = 0; i + 1 < ng; i++)
            fours &= g[i] == 4;
        int amex = ng == 3 && g[0] == 4 && g[1] == 6 && (g[2] == 5 || g[2] == 4);
        if (!(fours && g[ng - 1] <= 4) && !amex)
            return 0;
    }
    size_t same = 1;
    while (same < n && d[same] == d[0])
        same++;
    if (same == n) /* 0000 0000 0000 0000 passes Luhn but is never a card */
        return 0;
    return loki__card_iin_ok(d, n) && loki__luhn_ok(d, n);
}

int loki__ni_valid(const char *p, size_t len)
{
    char c[9];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == ' ')
            continue;
        if (n == 9)
            return 0;
        c[n++] = p[i];
    }
    if (n != 9 || !is_upper(c[0]) || !is_upper(c[1]))
        return 0;
    for (int i = 2; i < 8; i++)
        if (!is_digit(c[i]))
            return 0;
    if (c[8] < 'A' || c[8] > 'D')
        return 0;
    if (c[0] == 'Q' && c[1] == 'Q') /* HMRC's specimen prefix: a valid format */
        return 1;
    if (strchr("DFIQUV", c[0]) || strchr("DFIOQUV", c[1]))
        return 0;
    static const char *const bad[] = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (c[0] == bad[i][0] && c[1] == bad[i][1])
            return 0;
    return 1;
}

/* ISO 13616 lengths (SWIFT IBAN registry). */
static const struct {
    char cc[3];
    unsigned char len;
} iban_len[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
    {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24},
    {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18},
    {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27},
    {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27},
    {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20},
    {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MN", 20}, {"MR", 27},
    {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24}, {"PL", 28},
    {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24}, {"SC", 31},
    {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23}, {"ST", 25}, {"SV", 28},
    {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
};

unsigned loki__iban_length(const char *cc)
{
    for (size_t i = 0; i < sizeof iban_len / sizeof iban_len[0]; i++)
        if (iban_len[i].cc[0] == cc[0] && iban_len[i].cc[1] == cc[1])
            return iban_len[i].len;
    return 0;
}

int loki__iban_valid(const char *p, size_t len)
{
    char c[40];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == ' ') {
            /* Spaces only between groups of four. */
            if (n == 0 || n % 4 != 0 || i + 1 == len || p[i + 1] == ' ')
                return 0;
            continue;
        }
        if (n == 34 || !(is_upper(p[i]) || is_digit(p[i])))
            return 0;
        c[n++] = p[i];
    }
    if (n < 15 || !is_upper(c[0]) || !is_upper(c[1]) || !is_digit(c[2]) || !is_digit(c[3]))
        return 0;
    if (loki__iban_length(c) != n)
        return 0;
    unsigned check = (unsigned)(c[2] - '0') * 10 + (unsigned)(c[3] - '0');
    if (check < 2 || check > 98)
        return 0;
    if (c[0] == 'G' && c[1] == 'B') {
        /* GB: 4-letter bank code, then sort code (6 digits) and account number (8 digits). */
        for (int i = 4; i < 8; i++)
            if (!is_upper(c[i]))
                return 0;
        for (size_t i = 8; i < n; i++)
            if (!is_digit(c[i]))
                return 0;
    }
    unsigned rem = 0;
    for (size_t k = 0; k < n; k++) {
        char ch = c[(k + 4) % n]; /* the first four characters move to the end */
        if (is_digit(ch))
            rem = (rem * 10 + (unsigned)(ch - '0')) % 97;
        else
            rem = (rem * 100 + (unsigned)(ch - 'A' + 10)) % 97;
    }
    return rem == 1;
}

int loki__nhs_valid(const char *p, size_t len)
{
    char d[11];
    size_t g[4];
    if (digits_of(p, len, d, 10) != 10)
        return 0;
    size_t ng = groups_of(p, len, g, 4, NULL);
    if (!(ng == 1 || (ng == 3 && g[0] == 3 && g[1] == 3 && g[2] == 4)))
        return 0;
    unsigned sum = 0;
    for (int i = 0; i < 9; i++)
        sum += (unsigned)(d[i] - '0') * (unsigned)(10 - i);
    unsigned check = 11 - sum % 11;
    if (check == 11)
        check = 0;
    if (check == 10)
        return 0;
    return check == (unsigned)(d[9] - '0');
}

int loki__sort_code_valid(const char *p, size_t len)
{
    size_t g[4];
    char d[7];
    if (digits_of(p, len, d, 6) != 6)
        return 0;
    size_t ng = groups_of(p, len, g, 4, NULL);
    return ng == 1 || (ng == 3 && g[0] == 2 && g[1] == 2 && g[2] == 2);
}

int loki__account_valid(const char *p, size_t len)
{
    if (len != 8)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!is_digit(p[i]))
            return 0;
    return 1;
}

static int upper_or_9(char c)
{
    return is_upper(c) || c == '9';
}

int loki__dvla_valid(const char *p, size_t len)
{
    char c[16];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == ' ' && (n == 5 || n == 11) && i > 0 && p[i - 1] != ' ')
            continue;
        if (n == 16)
            return 0;
        c[n++] = p[i];
    }
    if (n != 16 || !is_upper(c[0]))
        return 0;
    for (int i = 1; i < 5; i++)
        if (!upper_or_9(c[i]))
            return 0;
    for (int i = 5; i < 11; i++)
        if (!is_digit(c[i]))
            return 0;
    unsigned month = (unsigned)(c[6] - '0') * 10 + (unsigned)(c[7] - '0');
    unsigned day = (unsigned)(c[8] - '0') * 10 + (unsigned)(c[9] - '0');
    if (month > 50) /* +50 for women */
        month -= 50;
    if (month < 1 || month > 12 || day < 1 || day > 31)
        return 0;
    if (!is_upper(c[11]) || !upper_or_9(c[12]) || !is_digit(c[13]))
        return 0;
    for (int i = 14; i < 16; i++)
        if (!(is_upper(c[i]) || is_digit(c[i])))
            return 0;
    return 1;
}

int loki__postcode_valid(const char *p, size_t len)
{
    char c[8];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == ' ' && n >= 2 && i + 4 == len)
            continue;
        if (n == 7)
            return 0;
        c[n++] = p[i];
    }
    if (n < 5)
        return 0;
    if (n == 6 && memcmp(c, "GIR0AA", 6) == 0)
        return 1;
    /* Inward code: digit + two letters from the allowed set. */
    const char *in = c + n - 3;
    if (!is_digit(in[0]))
        return 0;
    for (int i = 1; i < 3; i++)
        if (!is_upper(in[i]) || strchr("CIKMOV", in[i]))
            return 0;
    size_t on = n - 3; /* outward: A9, A99, AA9, AA99, A9A, AA9A */
    if (!is_upper(c[0]) || strchr("QVX", c[0]))
        return 0;
    if (on == 2)
        return is_digit(c[1]);
    if (on == 3) {
        if (is_digit(c[1]) && is_digit(c[2]))
            return 1; /* A99 */
        if (is_upper(c[1]) && is_digit(c[2]))
            return !strchr("IJZ", c[1]); /* AA9 */
        if (is_digit(c[1]) && is_upper(c[2]))
            return strchr("ABCDEFGHJKPSTUW", c[2]) != NULL; /* A9A */
        return 0;
    }
    if (on == 4) {
        if (!is_upper(c[1]) || strchr("IJZ", c[1]) || !is_digit(c[2]))
            return 0;
        if (is_digit(c[3]))
            return 1;                                                  /* AA99 */
        return is_upper(c[3]) && strchr("ABEHMNPRVWXY", c[3]) != NULL; /* AA9A */
    }
    return 0;
}

int loki__uk_phone_valid(const char *p, size_t len)
{
    char d[16];
    size_t n = 0, i = 0;
    int intl = 0;
    if (len >= 3 && p[0] == '+') {
        if (p[1] != '4' || p[2] != '4')
            return 0;
        intl = 1;
        i = 3;
    }
    d[n++] = '0';
    int saw_zero_paren = 0;
    for (; i < len; i++) {
        char ch = p[i];
        if (intl && !saw_zero_paren && ch == '(' && i + 2 < len && p[i + 1] == '0' &&
            p[i + 2] == ')') {
            saw_zero_paren = 1;
            i += 2;
            continue;
        }
        if (ch == ' ' || ch == '-' || ch == '(' || ch == ')')
            continue;
        if (!is_digit(ch) || n == 15)
            return 0;
        d[n++] = ch;
    }
    /* National form: drop the '0' we prefixed when the text had its own leading 0. */
    const char *q = d;
    if (!intl) {
        q = d + 1;
        n--;
    }
    if (n < 10 || n > 11 || q[0] != '0')
        return 0;
    switch (q[1]) {
    case '1':
    case '2': return n == 11 || (n == 10 && q[1] == '1') ? 1 : 0;
    case '7': return n == 11 && q[2] != '0' ? 1 : 0;
    case '3':
    case '5':
    case '9': return n == 11 ? 2 : 0;
    case '8': return 2;
    default: return 0;
    }
}

static int email_local_char(char c)
{
    return is_digit(c) || is_upper(c) || (c >= 'a' && c <= 'z') || strchr("._%+-", c) != NULL;
}

int loki__email_valid(const char *p, size_t len)
{
    const char *at = memchr(p, '@', len);
    if (!at || len > 254)
        return 0;
    size_t ll = (size_t)(at - p), dl = len - ll - 1;
    if (ll == 0 || ll > 64 || dl < 4 || p[0] == '.' || at[-1] == '.')
        return 0;
    for (size_t i = 0; i < ll; i++)
        if (!email_local_char(p[i]) || (p[i] == '.' && p[i + 1] == '.'))
            return 0;
    const char *d = at + 1;
    size_t labels = 0, lab = 0, last_start = 0;
    for (size_t i = 0; i <= dl; i++) {
        char ch = i < dl ? d[i] : '.';
        if (ch == '.') {
            if (lab == 0 || lab > 63 || d[i - 1] == '-' || d[i - lab] == '-')
                return 0;
            labels++;
            last_start = i - lab;
            lab = 0;
            continue;
        }
        if (!(is_digit(ch) || is_upper(ch) || (ch >= 'a' && ch <= 'z') || ch == '-'))
            return 0;
        lab++;
    }
    if (labels < 2 || dl - last_start < 2)
        return 0;
    for (size_t i = last_start; i < dl; i++) /* the TLD is letters */
        if (!(is_upper(d[i]) || (d[i] >= 'a' && d[i] <= 'z')))
            return 0;
    return 1;
}

int loki__ipv4_valid(const char *p, size_t len)
{
    unsigned parts = 0, v = 0, nd = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || p[i] == '.') {
            if (nd == 0 || v > 255 || (nd > 1 && p[i - nd] == '0'))
                return 0;
            parts++;
            v = nd = 0;
            continue;
        }
        if (!is_digit(p[i]) || nd == 3)
            return 0;
        v = v * 10 + (unsigned)(p[i] - '0');
        nd++;
    }
    return parts == 4;
}

int loki__ipv6_valid(const char *p, size_t len)
{
    char buf[64];
    unsigned char out[16];
    if (len < 2 || len >= sizeof buf)
        return 0;
    memcpy(buf, p, len);
    buf[len] = '\0';
    return inet_pton(AF_INET6, buf, out) == 1;
}

static const char *const months[] = {"january",   "february", "march",    "april",
                                     "may",       "june",     "july",     "august",
                                     "september", "october",  "november", "december"};

/* Month name (full or 3-letter, any case) at p; returns 1-12 and its length in *ml. */
static int month_at(const char *p, size_t len, size_t *ml)
{
    for (int m = 0; m < 12; m++) {
        size_t full = strlen(months[m]), k = 0;
        while (k < full && k < len && (p[k] | 0x20) == months[m][k])
            k++;
        if (k == full ||
            (k == 3 && (k == len || !((p[3] | 0x20) >= 'a' && (p[3] | 0x20) <= 'z')))) {
            *ml = k;
            return m + 1;
        }
    }
    return 0;
}

static size_t num_at(const char *p, size_t len, size_t i, size_t maxd, unsigned *v)
{
    size_t k = 0;
    *v = 0;
    while (i + k < len && k < maxd && is_digit(p[i + k])) {
        *v = *v * 10 + (unsigned)(p[i + k] - '0');
        k++;
    }
    return k;
}

static int dmy_ok(unsigned d, unsigned m, unsigned y)
{
    static const unsigned char mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return y >= 1900 && y <= 2099 && m >= 1 && m <= 12 && d >= 1 && d <= mdays[m - 1];
}

int loki__date_valid(const char *p, size_t len)
{
    unsigned a, b, c;
    size_t k1, k2, k3, ml;
    if (len < 8 || len > 20)
        return 0;
    if (is_digit(p[0])) {
        k1 = num_at(p, len, 0, 4, &a);
        if (k1 == 4 && len == 10 && p[4] == '-' && p[7] == '-') { /* yyyy-mm-dd */
            k2 = num_at(p, len, 5, 2, &b);
            k3 = num_at(p, len, 8, 2, &c);
            return k2 == 2 && k3 == 2 && dmy_ok(c, b, a);
        }
        if (k1 > 2 || k1 >= len)
            return 0;
        char sep = p[k1];
        if (sep == '/' || sep == '-' || sep == '.') {
            k2 = num_at(p, len, k1 + 1, 2, &b);
            if (k2 == 0 || k1 + 1 + k2 >= len || p[k1 + 1 + k2] != sep)
                return 0;
            k3 = num_at(p, len, k1 + 2 + k2, 4, &c);
            return k3 == 4 && k1 + 2 + k2 + k3 == len && dmy_ok(a, b, c);
        }
        if (sep != ' ') /* "3 March 1985" */
            return 0;
        int m = month_at(p + k1 + 1, len - k1 - 1, &ml);
        size_t j = k1 + 1 + ml;
        if (!m || j >= len || p[j] != ' ')
            return 0;
        k3 = num_at(p, len, j + 1, 4, &c);
        return k3 == 4 && j + 1 + k3 == len && dmy_ok(a, (unsigned)m, c);
    }
    int m = month_at(p, len, &ml); /* "March 3, 1985" */
    if (!m || ml >= len || p[ml] != ' ')
        return 0;
    k1 = num_at(p, len, ml + 1, 2, &a);
    size_t j = ml + 1 + k1;
    if (k1 == 0 || j + 1 >= len || p[j] != ',' || p[j + 1] != ' ')
        return 0;
    k3 = num_at(p, len, j + 2, 4, &c);
    return k3 == 4 && j + 2 + k3 == len && dmy_ok(a, (unsigned)m, c);
}
