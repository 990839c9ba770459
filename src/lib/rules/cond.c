/* SPDX-License-Identifier: MIT */
/*
 * Condition language: recursive-descent parser and evaluator.
 *   expr := and ('|' and)*      and := unary ('&' unary)*      unary := '!' unary | primary
 *   primary := '(' expr ')' | 'true' | 'false' | NAME | FUNC '(' args ')' [CMP INT]
 * Function kinds come from the registry table (cond_registry.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "rules.h"

typedef struct parser {
    const char *s;
    size_t pos;
    loki_arena *a;
    loki_set_resolver resolve;
    void *ctx;
    char *msg;
    size_t msgsz;
    int failed;
    int depth;
} parser;

#define MAX_DEPTH 64

/* fmt is one of this file's literals with at most one %s. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void fail(parser *p, const char *fmt, const char *arg)
{
    if (p->failed)
        return;
    p->failed = 1;
    snprintf(p->msg, p->msgsz, fmt, arg ? arg : "");
}
#pragma GCC diagnostic pop

static void skip_ws(parser *p)
{
    while (p->s[p->pos] && isspace((unsigned char)p->s[p->pos]))
        p->pos++;
}

static int is_ident(int c)
{
    return isalnum(c) || c == '_';
}

static loki_cond *node(parser *p, loki_cond_kind k)
{
    loki_cond *c = loki__arena_alloc(p->a, sizeof *c);
    if (!c)
        fail(p, "out of memory", NULL);
    else
        c->kind = k;
    return c;
}

static size_t ident(parser *p, const char **start)
{
    skip_ws(p);
    *start = p->s + p->pos;
    size_t n = 0;
    while (is_ident((unsigned char)p->s[p->pos + n]))
        n++;
    p->pos += n;
    return n;
}

static int expect(parser *p, char c)
{
    skip_ws(p);
    if (p->s[p->pos] != c) {
        char want[2] = {c, 0};
        fail(p, "expected '%s'", want);
        return -1;
    }
    p->pos++;
    return 0;
}

static int set_arg(parser *p, unsigned *out)
{
    const char *name;
    size_t n = ident(p, &name);
    if (n == 0) {
        fail(p, "expected a pattern-set name", NULL);
        return -1;
    }
    int idx = p->resolve(p->ctx, name, n);
    if (idx < 0) {
        char tmp[128];
        snprintf(tmp, sizeof tmp, "%.*s", (int)(n > 100 ? 100 : n), name);
        p->pos -= n;
        fail(p, "undefined pattern set '%s'", tmp);
        return -1;
    }
    *out = (unsigned)idx;
    return 0;
}

static int int_arg(parser *p, long *out)
{
    skip_ws(p);
    if (!isdigit((unsigned char)p->s[p->pos])) {
        fail(p, "expected a non-negative integer", NULL);
        return -1;
    }
    long v = 0;
    while (isdigit((unsigned char)p->s[p->pos])) {
        if (v > 100000000) {
            fail(p, "number too large", NULL);
            return -1;
        }
        v = v * 10 + (p->s[p->pos++] - '0');
    }
    *out = v;
    return 0;
}

static int cmp_op(parser *p, loki_cmp *out)
{
    skip_ws(p);
    const char *s = p->s + p->pos;
    if (s[0] == '>' && s[1] == '=') { *out = CMP_GE; p->pos += 2; }
    else if (s[0] == '<' && s[1] == '=') { *out = CMP_LE; p->pos += 2; }
    else if (s[0] == '=' && s[1] == '=') { *out = CMP_EQ; p->pos += 2; }
    else if (s[0] == '>') { *out = CMP_GT; p->pos += 1; }
    else if (s[0] == '<') { *out = CMP_LT; p->pos += 1; }
    else {
        fail(p, "expected a comparison (>=, >, <=, <, ==)", NULL);
        return -1;
    }
    return 0;
}

static loki_cond *parse_or(parser *p);

static loki_cond *parse_func(parser *p, const loki_cond_func *f)
{
    loki_cond *c = node(p, COND_FUNC);
    if (!c || expect(p, '('))
        return NULL;
    c->func = f;
    unsigned si = 0;
    for (const char *a = f->args; *a; a++) {
        if (a != f->args && expect(p, ','))
            return NULL;
        if (*a == 's') {
            if (set_arg(p, &c->args[si++]))
                return NULL;
        } else if (int_arg(p, &c->num)) {
            return NULL;
        }
    }
    if (expect(p, ')'))
        return NULL;
    if (f->needs_cmp) {
        if (cmp_op(p, &c->cmp) || int_arg(p, &c->rhs))
            return NULL;
    }
    return c;
}

static loki_cond *parse_primary(parser *p)
{
    skip_ws(p);
    char c = p->s[p->pos];
    if (c == '(') {
        p->pos++;
        loki_cond *e = parse_or(p);
        if (!e || expect(p, ')'))
            return NULL;
        return e;
    }
    const char *name;
    size_t start = p->pos;
    size_t n = ident(p, &name);
    if (n == 0) {
        if (c == '\0')
            fail(p, "unexpected end of condition", NULL);
        else
            fail(p, "unexpected character in condition", NULL);
        return NULL;
    }
    if (n == 4 && memcmp(name, "true", 4) == 0)
        return node(p, COND_TRUE);
    if (n == 5 && memcmp(name, "false", 5) == 0)
        return node(p, COND_FALSE);
    skip_ws(p);
    if (p->s[p->pos] == '(') {
        for (size_t i = 0; i < loki__n_cond_funcs; i++) {
            const loki_cond_func *f = &loki__cond_funcs[i];
            if (strlen(f->name) == n && memcmp(f->name, name, n) == 0)
                return parse_func(p, f);
        }
        char tmp[128];
        snprintf(tmp, sizeof tmp, "%.*s", (int)(n > 100 ? 100 : n), name);
        p->pos = start;
        fail(p, "unknown function '%s' (known: count, distinct, near)", tmp);
        return NULL;
    }
    p->pos = start;
    loki_cond *s = node(p, COND_SET);
    if (!s || set_arg(p, &s->set))
        return NULL;
    return s;
}

static loki_cond *parse_unary(parser *p)
{
    skip_ws(p);
    if (p->s[p->pos] == '!') {
        p->pos++;
        if (++p->depth > MAX_DEPTH) {
            fail(p, "condition nested too deeply", NULL);
            return NULL;
        }
        loki_cond *inner = parse_unary(p);
        p->depth--;
        if (!inner)
            return NULL;
        loki_cond *c = node(p, COND_NOT);
        if (c)
            c->a = inner;
        return c;
    }
    if (p->s[p->pos] == '(') {
        if (++p->depth > MAX_DEPTH) {
            fail(p, "condition nested too deeply", NULL);
            return NULL;
        }
        loki_cond *c = parse_primary(p);
        p->depth--;
        return c;
    }
    return parse_primary(p);
}

static loki_cond *parse_and(parser *p)
{
    loki_cond *l = parse_unary(p);
    while (l) {
        skip_ws(p);
        if (p->s[p->pos] != '&')
            break;
        p->pos++;
        if (p->s[p->pos] == '&')
            p->pos++; /* accept && too */
        loki_cond *r = parse_unary(p);
        if (!r)
            return NULL;
        loki_cond *c = node(p, COND_AND);
        if (!c)
            return NULL;
        c->a = l;
        c->b = r;
        l = c;
    }
    return l;
}

static loki_cond *parse_or(parser *p)
{
    loki_cond *l = parse_and(p);
    while (l) {
        skip_ws(p);
        if (p->s[p->pos] != '|')
            break;
        p->pos++;
        if (p->s[p->pos] == '|')
            p->pos++;
        loki_cond *r = parse_and(p);
        if (!r)
            return NULL;
        loki_cond *c = node(p, COND_OR);
        if (!c)
            return NULL;
        c->a = l;
        c->b = r;
        l = c;
    }
    return l;
}

int loki__cond_parse(loki_arena *a, const char *expr, loki_set_resolver resolve, void *ctx,
                     loki_cond **out, char *msg, size_t msgsz, size_t *errpos)
{
    parser p = {.s = expr, .a = a, .resolve = resolve, .ctx = ctx, .msg = msg, .msgsz = msgsz};
    loki_cond *c = parse_or(&p);
    if (c && !p.failed) {
        skip_ws(&p);
        if (p.s[p.pos] != '\0')
            fail(&p, "unexpected text after condition", NULL);
    }
    if (p.failed || !c) {
        if (!p.failed)
            fail(&p, "invalid condition", NULL);
        *errpos = p.pos;
        return -1;
    }
    *out = c;
    return 0;
}

static int compare(long v, loki_cmp op, long rhs)
{
    switch (op) {
    case CMP_GE: return v >= rhs;
    case CMP_GT: return v > rhs;
    case CMP_LE: return v <= rhs;
    case CMP_LT: return v < rhs;
    case CMP_EQ: return v == rhs;
    }
    return 0;
}

int loki__cond_eval(const loki_cond *c, const loki_match_table *mt)
{
    switch (c->kind) {
    case COND_TRUE: return 1;
    case COND_FALSE: return 0;
    case COND_SET: return mt->sets[c->set].n > 0;
    case COND_NOT: return !loki__cond_eval(c->a, mt);
    case COND_AND: return loki__cond_eval(c->a, mt) && loki__cond_eval(c->b, mt);
    case COND_OR: return loki__cond_eval(c->a, mt) || loki__cond_eval(c->b, mt);
    case COND_FUNC: {
        long v = c->func->eval(c, mt);
        return c->func->needs_cmp ? compare(v, c->cmp, c->rhs) : v != 0;
    }
    }
    return 0;
}

static void mark_one(loki_set *s, int domain)
{
    s->used = 1;
    if (domain)
        s->domain = 1;
}

void loki__cond_mark(const loki_cond *c, loki_set *sets, int domain)
{
    if (!c)
        return;
    switch (c->kind) {
    case COND_SET: mark_one(&sets[c->set], domain); break;
    case COND_NOT: loki__cond_mark(c->a, sets, domain); break;
    case COND_AND:
    case COND_OR:
        loki__cond_mark(c->a, sets, domain);
        loki__cond_mark(c->b, sets, domain);
        break;
    case COND_FUNC: {
        unsigned k = 0;
        for (const char *a = c->func->args; *a; a++)
            if (*a == 's')
            {
                loki_set *s = &sets[c->args[k++]];
                mark_one(s, domain);
                if (c->func->needs_all)
                    s->needs_all = 1;
            }
        break;
    }
    default: break;
    }
}
