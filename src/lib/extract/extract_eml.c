/* SPDX-License-Identifier: MIT */
/* E-mail (RFC 5322 + MIME): the display headers (RFC 2047 words decoded) and the text of the
 * body, walking multiparts (the text/plain side of an alternative), decoding quoted-printable
 * and base64 and converting charsets to UTF-8. Each decoded source line stays anchored to its
 * line in the message file. */
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <string.h>

#include "extract_int.h"

enum { CTE_IDENTITY = 0, CTE_QP, CTE_BASE64 };

typedef struct mime {
    char type[48], subtype[48];
    char charset[48];
    char boundary[128];
    int cte, attachment;
    size_t body; /* offset of the body */
    uint32_t body_line;
} mime;

typedef struct eml {
    ex_emit *e;
    const char *p;
    const loki_extract_options *o;
    unsigned parts;
    loki_error *err;
} eml;

/* An anchor: decoded bytes from `off` on come from source line `line`. */
typedef struct anchor {
    size_t off;
    uint32_t line;
} anchor;

typedef struct decoded {
    loki_buf b;
    anchor *a;
    size_t n, cap;
} decoded;

/* The line at i (< end): its length without CR/LF, and where the next one starts. */
static size_t line_at(const char *p, size_t i, size_t end, size_t *next)
{
    const char *nl = memchr(p + i, '\n', end - i);
    size_t len = nl ? (size_t)(nl - (p + i)) : end - i;
    *next = nl ? i + len + 1 : end;
    if (len && p[i + len - 1] == '\r')
        len--;
    return len;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Base64 with a carried state so that quads may span lines. */
typedef struct b64 {
    uint32_t acc;
    int bits;
} b64;

static int b64_feed(b64 *s, const char *p, size_t n, loki_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        int v = b64val(p[i]);
        if (v < 0)
            continue; /* '=', whitespace and junk carry no bits */
        s->acc = (s->acc << 6) | (uint32_t)v;
        s->bits += 6;
        if (s->bits >= 8) {
            s->bits -= 8;
            if (loki__buf_addc(out, (char)((s->acc >> s->bits) & 0xFF)))
                return -1;
        }
    }
    return 0;
}

/* Decodes one quoted-printable line; returns 1 for a soft break (no newline follows). */
static int qp_line(const char *p, size_t n, loki_buf *out, int q_underscore)
{
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--; /* trailing whitespace is transport padding */
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '=' && i + 1 == n)
            return 1;
        if (p[i] == '=' && i + 2 < n + 1 && hexval(p[i + 1]) >= 0 && i + 2 < n &&
            hexval(p[i + 2]) >= 0) {
            loki__buf_addc(out, (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2])));
            i += 2;
        } else if (q_underscore && p[i] == '_') {
            loki__buf_addc(out, ' ');
        } else {
            loki__buf_addc(out, p[i]);
        }
    }
    return 0;
}

static int charset_is(const char *cs, const char *const *names)
{
    for (; *names; names++)
        if (loki__ex_ieq(cs, strlen(cs), *names))
            return 1;
    return 0;
}

static const char *const utf8_names[] = {"", "utf-8", "utf8", "us-ascii", "ascii", NULL};
static const char *const latin_names[] = {"iso-8859-1", "latin1",      "iso8859-1", "windows-1252",
                                          "cp1252",     "iso-8859-15", NULL};

/* Appends p[0..n) in charset cs to out as UTF-8 (unknown charsets pass through). */
static int to_utf8(const char *cs, const char *p, size_t n, loki_buf *out)
{
    if (charset_is(cs, utf8_names))
        return loki__buf_add(out, p, n);
    if (charset_is(cs, latin_names))
        return loki__ex_cp1252_to_utf8(out, p, n);
    iconv_t cd = iconv_open("UTF-8", cs);
    if (cd == (iconv_t)-1)
        return loki__buf_add(out, p, n);
    char *in = (char *)p;
    size_t left = n;
    int rc = 0;
    while (left && rc == 0) {
        if (loki__buf_reserve(out, left * 4 + 16)) {
            rc = -1;
            break;
        }
        char *o = out->p + out->len;
        size_t room = out->cap - out->len - 1, before = room;
        size_t r = iconv(cd, &in, &left, &o, &room);
        out->len += before - room;
        out->p[out->len] = '\0';
        if (r == (size_t)-1 && errno != E2BIG) {
            /* An invalid or truncated sequence: mark it and go on. */
            if (loki__buf_adds(out, "\xEF\xBF\xBD"))
                rc = -1;
            in++;
            left--;
        }
    }
    iconv_close(cd);
    return rc;
}

/* ---- headers ---- */

/* Decodes RFC 2047 encoded-words in a header value. */
static int decode_words(const char *v, size_t n, loki_buf *out)
{
    size_t i = 0;
    int last_word = 0; /* whitespace between two encoded words is dropped */
    size_t ws_from = 0;
    while (i < n) {
        if (v[i] == '=' && i + 1 < n && v[i + 1] == '?') {
            const char *cs = v + i + 2;
            size_t rest = n - (size_t)(cs - v);
            /* Encoded words are short (RFC 2047: 75 bytes); bounded searches keep a
             * header full of stray "=?" linear. */
            const char *q1 = memchr(cs, '?', rest < 48 ? rest : 48);
            const char *q2 = q1 && q1 + 2 < v + n && q1[2] == '?' ? q1 + 2 : NULL;
            const char *end = NULL;
            if (q2)
                for (const char *k = q2 + 1; k + 1 < v + n && k < q2 + 1024; k++)
                    if (k[0] == '?' && k[1] == '=') {
                        end = k;
                        break;
                    }
            if (end && q1 - cs < 40) {
                char charset[48];
                snprintf(charset, sizeof charset, "%.*s", (int)(q1 - cs), cs);
                char *star = strchr(charset, '*'); /* RFC 2231 language suffix */
                if (star)
                    *star = '\0';
                loki_buf raw;
                loki__buf_init(&raw, 0);
                if (q1[1] == 'B' || q1[1] == 'b') {
                    b64 s = {0};
                    b64_feed(&s, q2 + 1, (size_t)(end - q2 - 1), &raw);
                } else {
                    qp_line(q2 + 1, (size_t)(end - q2 - 1), &raw, 1);
                }
                if (!last_word && ws_from < i)
                    loki__buf_add(out, v + ws_from, i - ws_from);
                int rc = raw.oom ? -1 : to_utf8(charset, raw.p ? raw.p : "", raw.len, out);
                loki__buf_release(&raw);
                if (rc)
                    return -1;
                i = (size_t)(end - v) + 2;
                ws_from = i;
                last_word = 1;
                continue;
            }
        }
        if (v[i] == ' ' || v[i] == '\t') {
            i++;
            continue;
        }
        if (ws_from < i)
            loki__buf_add(out, v + ws_from, i - ws_from);
        loki__buf_addc(out, v[i]);
        i++;
        ws_from = i;
        last_word = 0;
    }
    if (!last_word && ws_from < n)
        loki__buf_add(out, v + ws_from, n - ws_from);
    return out->oom ? -1 : 0;
}

/* Copies the value of a parameter (boundary=..., charset=...) from a header value. */
static void param(const char *v, size_t n, const char *name, char *out, size_t outn)
{
    size_t nl = strlen(name);
    out[0] = '\0';
    for (size_t i = 0; i + nl < n; i++) {
        if ((i == 0 || v[i - 1] == ';' || v[i - 1] == ' ' || v[i - 1] == '\t') &&
            loki__ex_istarts(v + i, n - i, name) && v[i + nl] == '=') {
            size_t a = i + nl + 1, b;
            if (a < n && v[a] == '"') {
                a++;
                for (b = a; b < n && v[b] != '"'; b++)
                    ;
            } else {
                for (b = a; b < n && v[b] != ';' && v[b] != ' ' && v[b] != '\t'; b++)
                    ;
            }
            snprintf(out, outn, "%.*s", (int)(b - a), v + a);
            return;
        }
    }
}

static void parse_ctype(mime *m, const char *v, size_t n)
{
    size_t i = 0;
    while (i < n && (v[i] == ' ' || v[i] == '\t'))
        i++;
    size_t s = i;
    while (i < n && v[i] != '/' && v[i] != ';' && v[i] != ' ')
        i++;
    snprintf(m->type, sizeof m->type, "%.*s", (int)(i - s), v + s);
    if (i < n && v[i] == '/') {
        s = ++i;
        while (i < n && v[i] != ';' && v[i] != ' ' && v[i] != '\t')
            i++;
        snprintf(m->subtype, sizeof m->subtype, "%.*s", (int)(i - s), v + s);
    }
    param(v, n, "charset", m->charset, sizeof m->charset);
    param(v, n, "boundary", m->boundary, sizeof m->boundary);
}

static int is_display_header(const char *name, size_t n)
{
    static const char *const shown[] = {"from", "to", "cc", "subject", "date", NULL};
    for (const char *const *s = shown; *s; s++)
        if (loki__ex_ieq(name, n, *s))
            return 1;
    return 0;
}

static int has_word(const char *h, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++)
        if (h[i] == '=' && h[i + 1] == '?')
            return 1;
    return 0;
}

/* Emits "Name: value" for a display header. A plain one-line header maps column by column;
 * a folded or encoded one maps to its first line. */
static int emit_header(eml *m, size_t a, size_t b, size_t name_len, uint32_t line)
{
    const char *h = m->p + a;
    size_t n = b - a;
    if (!memchr(h, '\n', n) && !memchr(h, '\r', n) && !has_word(h, n))
        return loki__ex_put(m->e, h, n, line, 1) || loki__ex_put_at(m->e, "\n", 1, line, 1);
    loki_buf v;
    loki__buf_init(&v, 0);
    /* Unfold: CRLF + WSP becomes the WSP. */
    for (size_t i = name_len + 1; i < n; i++)
        if (h[i] != '\r' && h[i] != '\n')
            loki__buf_addc(&v, h[i]);
    loki_buf out;
    loki__buf_init(&out, 0);
    loki__buf_add(&out, h, name_len);
    loki__buf_adds(&out, ":");
    int rc = v.oom || decode_words(v.p ? v.p : "", v.len, &out) || loki__buf_addc(&out, '\n');
    if (!rc)
        rc = loki__ex_put_at(m->e, out.p, out.len, line, 1);
    loki__buf_release(&v);
    loki__buf_release(&out);
    return rc ? -1 : 0;
}

/*
 * Reads the header block at a: fills *mm and emits the display headers when `show`. Returns
 * -1 when the emitter failed.
 */
static int headers(eml *m, size_t a, size_t end, uint32_t line, int show, mime *mm)
{
    size_t i = a, next;
    memset(mm, 0, sizeof *mm);
    while (i < end) {
        size_t len = line_at(m->p, i, end, &next);
        if (len == 0) { /* the blank line ending the headers */
            i = next;
            line++;
            break;
        }
        /* One header: this line plus its continuation lines. */
        size_t h_end = next, k = next;
        uint32_t h_line = line, lines = 1;
        while (k < end && (m->p[k] == ' ' || m->p[k] == '\t')) {
            size_t n2;
            size_t l2 = line_at(m->p, k, end, &n2);
            h_end = k + l2;
            k = n2;
            lines++;
        }
        if (lines == 1)
            h_end = i + len;
        const char *h = m->p + i;
        const char *colon = memchr(h, ':', len);
        if (colon) {
            size_t nl = (size_t)(colon - h);
            const char *v = colon + 1;
            size_t vn = (size_t)(m->p + h_end - v);
            if (loki__ex_ieq(h, nl, "content-type"))
                parse_ctype(mm, v, vn);
            else if (loki__ex_ieq(h, nl, "content-transfer-encoding")) {
                while (vn && (*v == ' ' || *v == '\t'))
                    v++, vn--;
                mm->cte = loki__ex_istarts(v, vn, "quoted-printable") ? CTE_QP
                          : loki__ex_istarts(v, vn, "base64")         ? CTE_BASE64
                                                                      : CTE_IDENTITY;
            } else if (loki__ex_ieq(h, nl, "content-disposition")) {
                while (vn && (*v == ' ' || *v == '\t'))
                    v++, vn--;
                mm->attachment = loki__ex_istarts(v, vn, "attachment");
            } else if (show && is_display_header(h, nl)) {
                if (loki__ex_part(m->e, "headers") || emit_header(m, i, h_end, nl, h_line))
                    return -1;
            }
        }
        i = k;
        line += lines;
    }
    mm->body = i;
    mm->body_line = line;
    if (!mm->type[0]) {
        snprintf(mm->type, sizeof mm->type, "text");
        snprintf(mm->subtype, sizeof mm->subtype, "plain");
    }
    return 0;
}

/* Decodes a body into d, anchoring each source line. */
static int decode_body(const mime *mm, const char *p, size_t a, size_t end, uint32_t line,
                       decoded *d, size_t cap)
{
    b64 s = {0};
    size_t i = a, next;
    loki__buf_init(&d->b, cap);
    while (i < end) {
        size_t len = line_at(p, i, end, &next);
        if (d->n == d->cap) {
            size_t c = d->cap ? d->cap * 2 : 64;
            anchor *na = loki__reallocarray(d->a, c, sizeof *na);
            if (!na)
                return -1;
            d->a = na;
            d->cap = c;
        }
        d->a[d->n++] = (anchor){d->b.len, line};
        if (mm->cte == CTE_BASE64) {
            if (b64_feed(&s, p + i, len, &d->b))
                return -1;
        } else if (mm->cte == CTE_QP) {
            if (!qp_line(p + i, len, &d->b, 0) && next > i + len)
                loki__buf_addc(&d->b, '\n');
        } else {
            loki__buf_add(&d->b, p + i, len);
            if (next > i + len)
                loki__buf_addc(&d->b, '\n');
        }
        if (d->b.oom)
            return -1;
        i = next;
        line++;
    }
    return 0;
}

static void decoded_release(decoded *d)
{
    loki__buf_release(&d->b);
    loki__free(d->a);
}

static loki_status emit_text_part(eml *m, const mime *mm, size_t end)
{
    decoded d = {0};
    loki_status st = LOKI_OK;
    int html = loki__ex_ieq(mm->subtype, strlen(mm->subtype), "html");
    if (decode_body(mm, m->p, mm->body, end, mm->body_line, &d, m->e->max_out)) {
        st = d.b.oom && d.b.len + 16 > d.b.max
                 ? loki__err(m->err, LOKI_ELIMIT,
                             "decoded e-mail part exceeds "
                             "max_output_bytes")
                 : loki__err(m->err, LOKI_ENOMEM, "out of memory decoding e-mail");
        goto out;
    }
    if (loki__ex_part(m->e, "body") || loki__ex_sep(m->e, '\n')) {
        st = loki__ex_fail(m->e, m->err);
        goto out;
    }
    int passthrough = charset_is(mm->charset, utf8_names) || charset_is(mm->charset, latin_names);
    if (html || !passthrough) {
        loki_buf u;
        loki__buf_init(&u, m->e->max_out);
        if (to_utf8(mm->charset, d.b.p ? d.b.p : "", d.b.len, &u)) {
            loki__buf_release(&u);
            st = loki__err(m->err, LOKI_ENOMEM, "out of memory converting e-mail charset");
            goto out;
        }
        if (html)
            st = loki__extract_html(m->e, u.p ? u.p : "", u.len, mm->body_line, "UTF-8", m->err);
        else if (loki__ex_put_at(m->e, u.p ? u.p : "", u.len, mm->body_line, 1))
            st = loki__ex_fail(m->e, m->err);
        loki__buf_release(&u);
        goto out;
    }
    int latin = charset_is(mm->charset, latin_names);
    for (size_t k = 0; k < d.n && st == LOKI_OK; k++) {
        size_t a = d.a[k].off, b = k + 1 < d.n ? d.a[k + 1].off : d.b.len;
        const char *s = d.b.p ? d.b.p + a : "";
        int rc;
        if (latin) {
            loki_buf u;
            loki__buf_init(&u, 0);
            rc = loki__ex_cp1252_to_utf8(&u, s, b - a) ||
                 loki__ex_put(m->e, u.p ? u.p : "", u.len, d.a[k].line, 1);
            loki__buf_release(&u);
        } else if (mm->cte == CTE_BASE64) {
            rc = loki__ex_put_at(m->e, s, b - a, d.a[k].line, 1);
        } else {
            rc = loki__ex_put(m->e, s, b - a, d.a[k].line, 1);
        }
        if (rc)
            st = loki__ex_fail(m->e, m->err);
    }
out:
    decoded_release(&d);
    return st;
}

static loki_status entity(eml *m, size_t a, size_t end, uint32_t line, int show, unsigned depth);

/* A part's preference inside multipart/alternative: plain text first, then HTML. */
static int alt_rank(eml *m, size_t a, size_t end)
{
    mime mm;
    /* Parse the part's headers only; nothing is emitted with show = 0. */
    if (headers(m, a, end, 1, 0, &mm))
        return 0;
    if (!loki__ex_ieq(mm.type, strlen(mm.type), "text") || mm.attachment)
        return 0;
    return loki__ex_ieq(mm.subtype, strlen(mm.subtype), "plain")  ? 2
           : loki__ex_ieq(mm.subtype, strlen(mm.subtype), "html") ? 1
                                                                  : 0;
}

/* "--boundary" or "--boundary--", optionally followed by whitespace. */
static int is_boundary(const char *l, size_t len, const char *b, size_t bl)
{
    if (len < bl + 2 || l[0] != '-' || l[1] != '-' || memcmp(l + 2, b, bl) != 0)
        return 0;
    size_t i = bl + 2;
    if (i + 1 < len && l[i] == '-' && l[i + 1] == '-')
        i += 2;
    while (i < len && (l[i] == ' ' || l[i] == '\t'))
        i++;
    return i == len;
}

static loki_status multipart(eml *m, const mime *mm, size_t end, unsigned depth)
{
    size_t bl = strlen(mm->boundary);
    size_t starts[64], ends[64];
    uint32_t lines[64];
    size_t np = 0, i = mm->body, next, cur = SIZE_MAX;
    uint32_t line = mm->body_line, cur_line = 0;
    loki_status st = LOKI_OK;
    if (!bl)
        return LOKI_OK; /* a multipart without a boundary has no readable parts */
    int alternative = loki__ex_ieq(mm->subtype, strlen(mm->subtype), "alternative");
    while (i < end) {
        size_t len = line_at(m->p, i, end, &next);
        const char *l = m->p + i;
        if (is_boundary(l, len, mm->boundary, bl)) {
            int close = len >= bl + 4 && l[bl + 2] == '-' && l[bl + 3] == '-';
            if (cur != SIZE_MAX) {
                if (np == sizeof starts / sizeof *starts)
                    return loki__err(m->err, LOKI_ELIMIT,
                                     "e-mail multipart has more than %zu parts", np);
                if (++m->parts > m->o->max_mime_parts)
                    return loki__err(m->err, LOKI_ELIMIT,
                                     "e-mail has more than %u MIME parts (max_mime_parts)",
                                     m->o->max_mime_parts);
                starts[np] = cur;
                ends[np] = i;
                lines[np++] = cur_line;
            }
            cur = close ? SIZE_MAX : next;
            cur_line = line + 1;
            if (close)
                break;
        }
        i = next;
        line++;
    }
    if (cur != SIZE_MAX && np < sizeof starts / sizeof *starts) { /* unterminated last part */
        starts[np] = cur;
        ends[np] = end;
        lines[np++] = cur_line;
    }
    if (alternative) {
        size_t best = SIZE_MAX;
        int best_rank = 0;
        for (size_t k = 0; k < np; k++) {
            int r = alt_rank(m, starts[k], ends[k]);
            if (r > best_rank) {
                best_rank = r;
                best = k;
            }
        }
        if (best != SIZE_MAX)
            st = entity(m, starts[best], ends[best], lines[best], 0, depth + 1);
        return st;
    }
    for (size_t k = 0; k < np && st == LOKI_OK; k++)
        st = entity(m, starts[k], ends[k], lines[k], 0, depth + 1);
    return st;
}

static loki_status entity(eml *m, size_t a, size_t end, uint32_t line, int show, unsigned depth)
{
    mime mm;
    if (depth > m->o->max_mime_depth)
        return loki__err(m->err, LOKI_ELIMIT,
                         "e-mail MIME nesting deeper than %u "
                         "(max_mime_depth)",
                         m->o->max_mime_depth);
    if (headers(m, a, end, line, show, &mm))
        return loki__ex_fail(m->e, m->err);
    size_t tl = strlen(mm.type), sl = strlen(mm.subtype);
    if (loki__ex_ieq(mm.type, tl, "multipart"))
        return multipart(m, &mm, end, depth);
    if (loki__ex_ieq(mm.type, tl, "message") && loki__ex_ieq(mm.subtype, sl, "rfc822"))
        return entity(m, mm.body, end, mm.body_line, 1, depth + 1);
    if (!loki__ex_ieq(mm.type, tl, "text") || mm.attachment)
        return LOKI_OK;
    if (!loki__ex_ieq(mm.subtype, sl, "plain") && !loki__ex_ieq(mm.subtype, sl, "html"))
        return LOKI_OK;
    return emit_text_part(m, &mm, end);
}

loki_status loki__extract_eml(ex_emit *e, const char *p, size_t n, loki_error *err)
{
    eml m = {.e = e, .p = p, .o = e->o, .err = err};
    return entity(&m, 0, n, 1, 1, 0);
}
