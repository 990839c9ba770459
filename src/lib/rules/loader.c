/* SPDX-License-Identifier: MIT */
/*
 * Rule-pack loader: YAML (libyaml document API) → the rule model. Every error names the file,
 * line and column of the node at fault. Patterns are checked with PCRE2 here (syntax); their
 * width and Vectorscan support are checked when the database is built (scan/db.c), also with
 * their location.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <yaml.h>

#include "rules.h"

typedef struct loader {
    loki_ruleset *rs;
    loki_error *err;
    const char *file; /* arena copy */
    yaml_document_t *doc;
    size_t sets_cap, pats_cap, ex_cap;
    unsigned module;  /* index of the module being loaded */
    int gate;         /* -1 while loading module-level parts */
    loki_status st;
} loader;

/* ---- YAML helpers ---- */

static yaml_node_t *nd(loader *L, int idx)
{
    return yaml_document_get_node(L->doc, idx);
}

/* fmt is one of this file's literals with at most two %s; a and b may be NULL. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static loki_status at(loader *L, const yaml_node_t *n, loki_status code, const char *fmt,
                      const char *a, const char *b)
{
    char msg[400];
    snprintf(msg, sizeof msg, fmt, a ? a : "", b ? b : "");
    L->st = loki__err_at(L->err, code, L->file, n ? (unsigned)n->start_mark.line + 1 : 0,
                         n ? (unsigned)n->start_mark.column + 1 : 0, "%s", msg);
    return L->st;
}
#pragma GCC diagnostic pop

static const char *kind_name(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

static int is_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE;
}

static const char *sval(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* Checks a mapping's keys: all scalars, no duplicates, all in `allowed` (NULL-terminated). */
static int check_keys(loader *L, yaml_node_t *map, const char *const *allowed, const char *what)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = nd(L, p->key);
        if (!is_scalar(k)) {
            at(L, k, LOKI_EPARSE, "%s keys must be plain words", what, NULL);
            return -1;
        }
        int ok = allowed == NULL;
        for (const char *const *a = allowed; a && *a; a++)
            if (strcmp(*a, sval(k)) == 0)
                ok = 1;
        if (!ok) {
            at(L, k, LOKI_EPARSE, "unknown key '%s' in %s", sval(k), what);
            return -1;
        }
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *k2 = nd(L, q->key);
            if (is_scalar(k2) && strcmp(sval(k2), sval(k)) == 0) {
                at(L, k, LOKI_EPARSE, "duplicate key '%s' in %s", sval(k), what);
                return -1;
            }
        }
    }
    return 0;
}

static yaml_node_t *get(loader *L, yaml_node_t *map, const char *key)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = nd(L, p->key);
        if (is_scalar(k) && strcmp(sval(k), key) == 0)
            return nd(L, p->value);
    }
    return NULL;
}

/* A required/optional non-empty scalar string copied into the arena. */
static const char *str_field(loader *L, yaml_node_t *map, const char *key, int required,
                             const char *what)
{
    yaml_node_t *v = get(L, map, key);
    if (!v) {
        if (required)
            at(L, map, LOKI_EPARSE, "%s is missing required key '%s'", what, key);
        return NULL;
    }
    if (!is_scalar(v) || v->data.scalar.length == 0) {
        at(L, v, LOKI_EPARSE, "'%s' must be a non-empty string", key, NULL);
        return NULL;
    }
    const char *s = loki__arena_strndup(&L->rs->arena, sval(v), v->data.scalar.length);
    if (!s)
        at(L, v, LOKI_ENOMEM, "out of memory", NULL, NULL);
    return s;
}

static int valid_id(const char *s)
{
    if (!(s[0] >= 'a' && s[0] <= 'z'))
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return 0;
    return strlen(s) <= 64;
}

/* ---- sets and patterns ---- */

typedef struct resolve_ctx {
    loader *L;
} resolve_ctx;

static int find_set(loader *L, const char *name, size_t len, int gate)
{
    loki_ruleset *rs = L->rs;
    for (size_t i = rs->n_sets; i > 0; i--) {
        const loki_set *s = &rs->sets[i - 1];
        if (s->module != L->module)
            break; /* sets of one module are contiguous and loaded last */
        if (s->gate != gate)
            continue;
        if (strlen(s->name) == len && memcmp(s->name, name, len) == 0)
            return (int)(i - 1);
    }
    return -1;
}

static int resolver(void *ctx, const char *name, size_t len)
{
    loader *L = ((resolve_ctx *)ctx)->L;
    int i = L->gate >= 0 ? find_set(L, name, len, L->gate) : -1;
    if (i < 0)
        i = find_set(L, name, len, -1);
    return i;
}

static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 64;
    void *p = loki__reallocarray(*arr, nc, size);
    if (!p)
        return -1;
    *arr = p;
    *cap = nc;
    return 0;
}

static int add_pattern(loader *L, yaml_node_t *v, unsigned set)
{
    loki_ruleset *rs = L->rs;
    if (!is_scalar(v) || v->data.scalar.length == 0) {
        at(L, v, LOKI_EPARSE, "a pattern must be a non-empty string, not %s", kind_name(v), NULL);
        return -1;
    }
    if (v->data.scalar.length > 2000) {
        at(L, v, LOKI_EPARSE, "pattern longer than 2000 characters", NULL, NULL);
        return -1;
    }
    if (grow((void **)&rs->patterns, &L->pats_cap, rs->n_patterns, sizeof *rs->patterns)) {
        at(L, v, LOKI_ENOMEM, "out of memory", NULL, NULL);
        return -1;
    }
    loki_pattern *p = &rs->patterns[rs->n_patterns];
    memset(p, 0, sizeof *p);
    p->source = loki__arena_strndup(&rs->arena, sval(v), v->data.scalar.length);
    p->regex = p->source ? loki__pattern_rewrite(&rs->arena, p->source) : NULL;
    if (!p->regex) {
        at(L, v, LOKI_ENOMEM, "out of memory", NULL, NULL);
        return -1;
    }
    p->set = set;
    p->file = L->file;
    p->line = (unsigned)v->start_mark.line + 1;
    p->col = (unsigned)v->start_mark.column + 1;
    rs->n_patterns++;
    return 0;
}

/* patterns: { name: [regex, ...] } at module (gate = -1) or gate level. */
static int load_sets(loader *L, yaml_node_t *map)
{
    loki_ruleset *rs = L->rs;
    if (map->type != YAML_MAPPING_NODE) {
        at(L, map, LOKI_EPARSE, "'patterns' must be a mapping of set names to lists", NULL, NULL);
        return -1;
    }
    if (check_keys(L, map, NULL, "patterns"))
        return -1;
    for (yaml_node_pair_t *pp = map->data.mapping.pairs.start;
         pp < map->data.mapping.pairs.top; pp++) {
        yaml_node_t *k = nd(L, pp->key), *v = nd(L, pp->value);
        const char *name = sval(k);
        if (!valid_id(name) || strcmp(name, "true") == 0 || strcmp(name, "false") == 0 ||
            strcmp(name, "count") == 0 || strcmp(name, "near") == 0 ||
            strcmp(name, "distinct") == 0) {
            at(L, k, LOKI_EPARSE, "invalid set name '%s' (lower-case letters, digits, _; not a "
               "keyword)", name, NULL);
            return -1;
        }
        if (L->gate >= 0 && find_set(L, name, strlen(name), -1) >= 0) {
            at(L, k, LOKI_EPARSE, "set '%s' is already defined at module level", name, NULL);
            return -1;
        }
        if (grow((void **)&rs->sets, &L->sets_cap, rs->n_sets, sizeof *rs->sets)) {
            at(L, k, LOKI_ENOMEM, "out of memory", NULL, NULL);
            return -1;
        }
        unsigned si = (unsigned)rs->n_sets;
        loki_set *s = &rs->sets[si];
        memset(s, 0, sizeof *s);
        s->name = loki__arena_strdup(&rs->arena, name);
        s->module = L->module;
        s->gate = L->gate;
        s->first_pattern = (unsigned)rs->n_patterns;
        rs->n_sets++;
        if (!s->name) {
            at(L, k, LOKI_ENOMEM, "out of memory", NULL, NULL);
            return -1;
        }
        if (is_scalar(v)) {
            if (add_pattern(L, v, si))
                return -1;
        } else if (v->type == YAML_SEQUENCE_NODE) {
            for (yaml_node_item_t *it = v->data.sequence.items.start;
                 it < v->data.sequence.items.top; it++)
                if (add_pattern(L, nd(L, *it), si))
                    return -1;
        } else {
            at(L, v, LOKI_EPARSE, "set '%s' must be a list of patterns", name, NULL);
            return -1;
        }
        rs->sets[si].n_patterns = (unsigned)rs->n_patterns - rs->sets[si].first_pattern;
        if (rs->sets[si].n_patterns == 0) {
            at(L, v, LOKI_EPARSE, "set '%s' has no patterns and can never match", name, NULL);
            return -1;
        }
    }
    return 0;
}

static int parse_cond(loader *L, yaml_node_t *v, const char *key, loki_cond **out)
{
    if (!is_scalar(v) || v->data.scalar.length == 0) {
        at(L, v, LOKI_EPARSE, "'%s' must be a condition string", key, NULL);
        return -1;
    }
    resolve_ctx ctx = {L};
    char msg[256];
    size_t pos = 0;
    if (loki__cond_parse(&L->rs->arena, sval(v), resolver, &ctx, out, msg, sizeof msg, &pos)) {
        /* Point at the character within the condition when it is a plain one-line scalar. */
        unsigned line = (unsigned)v->start_mark.line + 1;
        unsigned col = (unsigned)v->start_mark.column + 1;
        if (v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !strchr(sval(v), '\n'))
            col += (unsigned)pos;
        else if (v->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                 v->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE)
            col += (unsigned)pos + 1;
        L->st = loki__err_at(L->err, LOKI_EPARSE, L->file, line, col, "in '%s': %s", key, msg);
        return -1;
    }
    loki__cond_mark(*out, L->rs->sets, strcmp(key, "domain") == 0);
    return 0;
}

static int parse_status(const char *s, loki_gate_status *out)
{
    if (strcmp(s, "PASS") == 0) *out = LOKI_PASS;
    else if (strcmp(s, "FAIL") == 0) *out = LOKI_FAIL;
    else if (strcmp(s, "WARNING") == 0) *out = LOKI_WARNING;
    else return -1;
    return 0;
}

static int severity_field(loader *L, yaml_node_t *map, loki_severity *out, int required)
{
    yaml_node_t *v = get(L, map, "severity");
    if (!v) {
        if (required) {
            at(L, map, LOKI_EPARSE, "gate is missing required key 'severity'", NULL, NULL);
            return -1;
        }
        return 1;
    }
    int s = is_scalar(v) ? loki_severity_parse(sval(v)) : -1;
    if (s < 0) {
        at(L, v, LOKI_EPARSE, "unknown severity '%s' (none, low, medium, high, critical)",
           is_scalar(v) ? sval(v) : "?", NULL);
        return -1;
    }
    *out = (loki_severity)s;
    return 0;
}

static const char *const outcome_keys[] = {"when", "status", "severity", "message",
                                           "suggestion", "penalty", "spans", NULL};

static int load_outcome(loader *L, yaml_node_t *m, loki_gate *g, loki_outcome *o, int last)
{
    if (m->type != YAML_MAPPING_NODE) {
        at(L, m, LOKI_EPARSE, "an outcome must be a mapping, not %s", kind_name(m), NULL);
        return -1;
    }
    if (check_keys(L, m, outcome_keys, "outcome"))
        return -1;
    yaml_node_t *w = get(L, m, "when");
    if (w) {
        if (parse_cond(L, w, "when", &o->when))
            return -1;
    } else if (!last) {
        at(L, m, LOKI_EPARSE, "an outcome without 'when' always holds; it must be the last one",
           NULL, NULL);
        return -1;
    }
    yaml_node_t *st = get(L, m, "status");
    if (!st) {
        at(L, m, LOKI_EPARSE, "outcome is missing required key 'status'", NULL, NULL);
        return -1;
    }
    if (!is_scalar(st) || parse_status(sval(st), &o->status)) {
        at(L, st, LOKI_EPARSE, "unknown status '%s' (PASS, FAIL, WARNING)",
           is_scalar(st) ? sval(st) : "?", NULL);
        return -1;
    }
    o->severity = g->info.severity;
    if (severity_field(L, m, &o->severity, 0) < 0)
        return -1;
    if (o->status == LOKI_PASS)
        o->severity = LOKI_SEV_NONE;
    if (!(o->message = str_field(L, m, "message", 1, "outcome")))
        return -1;
    if (get(L, m, "suggestion") && !(o->suggestion = str_field(L, m, "suggestion", 0, "")))
        return -1;
    if (get(L, m, "penalty") && !(o->penalty = str_field(L, m, "penalty", 0, "")))
        return -1;
    yaml_node_t *sp = get(L, m, "spans");
    if (sp) {
        if (sp->type != YAML_SEQUENCE_NODE) {
            at(L, sp, LOKI_EPARSE, "'spans' must be a list of set names", NULL, NULL);
            return -1;
        }
        size_t n = (size_t)(sp->data.sequence.items.top - sp->data.sequence.items.start);
        o->span_sets = loki__arena_array(&L->rs->arena, n ? n : 1, sizeof *o->span_sets);
        if (!o->span_sets) {
            at(L, sp, LOKI_ENOMEM, "out of memory", NULL, NULL);
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            yaml_node_t *e = nd(L, sp->data.sequence.items.start[i]);
            if (!is_scalar(e)) {
                at(L, e, LOKI_EPARSE, "'spans' must list set names", NULL, NULL);
                return -1;
            }
            resolve_ctx ctx = {L};
            int si = resolver(&ctx, sval(e), e->data.scalar.length);
            if (si < 0) {
                at(L, e, LOKI_EPARSE, "undefined pattern set '%s' in spans", sval(e), NULL);
                return -1;
            }
            o->span_sets[i] = (unsigned)si;
            L->rs->sets[si].used = 1;
            L->rs->sets[si].needs_all = 1;
        }
        o->n_span_sets = n;
    }
    return 0;
}

static int add_example(loader *L, yaml_node_t *v, loki_gate *g, loki_gate_status expect)
{
    loki_ruleset *rs = L->rs;
    if (!is_scalar(v) || v->data.scalar.length == 0) {
        at(L, v, LOKI_EPARSE, "an example must be a non-empty string", NULL, NULL);
        return -1;
    }
    if (grow((void **)&rs->examples, &L->ex_cap, rs->n_examples, sizeof *rs->examples)) {
        at(L, v, LOKI_ENOMEM, "out of memory", NULL, NULL);
        return -1;
    }
    loki_example *e = &rs->examples[rs->n_examples];
    e->module_id = rs->modules[L->module].info.id;
    e->gate_id = g->info.id;
    e->expect = expect;
    e->text = loki__arena_strndup(&rs->arena, sval(v), v->data.scalar.length);
    e->file = L->file;
    e->line = (unsigned)v->start_mark.line + 1;
    e->column = (unsigned)v->start_mark.column + 1;
    if (!e->text) {
        at(L, v, LOKI_ENOMEM, "out of memory", NULL, NULL);
        return -1;
    }
    rs->n_examples++;
    return 0;
}

static int load_examples(loader *L, yaml_node_t *m, loki_gate *g)
{
    static const char *const keys[] = {"pass", "fail", "warn", "na", NULL};
    static const loki_gate_status st[] = {LOKI_PASS, LOKI_FAIL, LOKI_WARNING, LOKI_NA};
    if (m->type != YAML_MAPPING_NODE) {
        at(L, m, LOKI_EPARSE, "'examples' must be a mapping with pass/fail lists", NULL, NULL);
        return -1;
    }
    if (check_keys(L, m, keys, "examples"))
        return -1;
    for (int k = 0; keys[k]; k++) {
        yaml_node_t *v = get(L, m, keys[k]);
        if (!v) {
            if (k < 2) {
                at(L, m, LOKI_EPARSE, "examples need at least one '%s' example", keys[k], NULL);
                return -1;
            }
            continue;
        }
        if (v->type != YAML_SEQUENCE_NODE || v->data.sequence.items.top ==
                                                 v->data.sequence.items.start) {
            at(L, v, LOKI_EPARSE, "'%s' examples must be a non-empty list of texts", keys[k],
               NULL);
            return -1;
        }
        for (yaml_node_item_t *it = v->data.sequence.items.start;
             it < v->data.sequence.items.top; it++)
            if (add_example(L, nd(L, *it), g, st[k]))
                return -1;
    }
    return 0;
}

static const char *const gate_keys[] = {"id", "title", "severity", "legal", "relevant",
                                        "patterns", "outcomes", "examples", NULL};

static int load_gate(loader *L, yaml_node_t *m, loki_module *mod, size_t gi)
{
    loki_gate *g = &mod->gates[gi];
    if (m->type != YAML_MAPPING_NODE) {
        at(L, m, LOKI_EPARSE, "a gate must be a mapping, not %s", kind_name(m), NULL);
        return -1;
    }
    if (check_keys(L, m, gate_keys, "gate"))
        return -1;
    yaml_node_t *idn = get(L, m, "id");
    if (!(g->info.id = str_field(L, m, "id", 1, "gate")))
        return -1;
    if (!valid_id(g->info.id)) {
        at(L, idn, LOKI_EPARSE, "invalid gate id '%s' (lower-case letters, digits, _)",
           g->info.id, NULL);
        return -1;
    }
    for (size_t j = 0; j < gi; j++)
        if (strcmp(mod->gates[j].info.id, g->info.id) == 0) {
            at(L, idn, LOKI_EPARSE, "duplicate gate id '%s' in module '%s'", g->info.id,
               mod->info.id);
            return -1;
        }
    g->info.file = L->file;
    g->info.line = (unsigned)idn->start_mark.line + 1;
    if (!(g->info.title = str_field(L, m, "title", 1, "gate")))
        return -1;
    if (!(g->info.legal_source = str_field(L, m, "legal", 1, "gate")))
        return -1;
    if (severity_field(L, m, &g->info.severity, 1))
        return -1;
    L->gate = (int)gi;
    yaml_node_t *v;
    if ((v = get(L, m, "patterns")) && load_sets(L, v))
        return -1;
    if ((v = get(L, m, "relevant")) && parse_cond(L, v, "relevant", &g->relevant))
        return -1;
    v = get(L, m, "outcomes");
    if (!v || v->type != YAML_SEQUENCE_NODE ||
        v->data.sequence.items.top == v->data.sequence.items.start) {
        at(L, v ? v : m, LOKI_EPARSE, "gate '%s' needs a non-empty 'outcomes' list", g->info.id,
           NULL);
        return -1;
    }
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    g->outcomes = loki__arena_array(&L->rs->arena, n, sizeof *g->outcomes);
    if (!g->outcomes) {
        at(L, v, LOKI_ENOMEM, "out of memory", NULL, NULL);
        return -1;
    }
    g->n_outcomes = n;
    for (size_t i = 0; i < n; i++)
        if (load_outcome(L, nd(L, v->data.sequence.items.start[i]), g, &g->outcomes[i],
                         i + 1 == n))
            return -1;
    v = get(L, m, "examples");
    if (!v) {
        at(L, m, LOKI_EPARSE, "gate '%s' has no 'examples' (pass and fail texts)", g->info.id,
           NULL);
        return -1;
    }
    if (load_examples(L, v, g))
        return -1;
    L->gate = -1;
    return 0;
}

static const char *const module_keys[] = {"module", "name", "version", "description",
                                          "applies_to", "domain", "patterns", "gates", NULL};

static int load_module(loader *L, yaml_node_t *root)
{
    loki_ruleset *rs = L->rs;
    loki_module *mod = &rs->modules[L->module];
    if (check_keys(L, root, module_keys, "rule pack"))
        return -1;
    yaml_node_t *idn = get(L, root, "module");
    if (!(mod->info.id = str_field(L, root, "module", 1, "rule pack")))
        return -1;
    if (!valid_id(mod->info.id)) {
        at(L, idn, LOKI_EPARSE, "invalid module id '%s'", mod->info.id, NULL);
        return -1;
    }
    for (unsigned j = 0; j < L->module; j++)
        if (strcmp(rs->modules[j].info.id, mod->info.id) == 0) {
            at(L, idn, LOKI_EPARSE, "duplicate module id '%s' (also in %s)", mod->info.id,
               rs->modules[j].info.file);
            return -1;
        }
    mod->info.file = L->file;
    if (!(mod->info.name = str_field(L, root, "name", 1, "rule pack")))
        return -1;
    if (!(mod->info.version = str_field(L, root, "version", 1, "rule pack")))
        return -1;
    if (get(L, root, "description") &&
        !(mod->info.description = str_field(L, root, "description", 0, "")))
        return -1;
    yaml_node_t *v = get(L, root, "applies_to");
    if (v) {
        if (v->type != YAML_SEQUENCE_NODE) {
            at(L, v, LOKI_EPARSE, "'applies_to' must be a list of document types", NULL, NULL);
            return -1;
        }
        size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
        mod->applies_to = loki__arena_array(&rs->arena, n + 1, sizeof *mod->applies_to);
        if (!mod->applies_to) {
            at(L, v, LOKI_ENOMEM, "out of memory", NULL, NULL);
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            yaml_node_t *e = nd(L, v->data.sequence.items.start[i]);
            if (!is_scalar(e) || !loki_document_type_valid(sval(e)) ||
                strcmp(sval(e), "unknown") == 0) {
                at(L, e, LOKI_EPARSE, "unknown document type '%s' (see docs/rules.md)",
                   is_scalar(e) ? sval(e) : "?", NULL);
                return -1;
            }
            mod->applies_to[i] = loki__arena_strdup(&rs->arena, sval(e));
            if (!mod->applies_to[i]) {
                at(L, e, LOKI_ENOMEM, "out of memory", NULL, NULL);
                return -1;
            }
        }
        mod->info.n_applies_to = n;
        mod->info.applies_to = mod->applies_to;
    }
    L->gate = -1;
    if ((v = get(L, root, "patterns")) && load_sets(L, v))
        return -1;
    if ((v = get(L, root, "domain")) && parse_cond(L, v, "domain", &mod->domain))
        return -1;
    v = get(L, root, "gates");
    if (!v || v->type != YAML_SEQUENCE_NODE ||
        v->data.sequence.items.top == v->data.sequence.items.start) {
        at(L, v ? v : root, LOKI_EPARSE, "rule pack needs a non-empty 'gates' list", NULL, NULL);
        return -1;
    }
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    mod->gates = loki__arena_array(&rs->arena, n, sizeof *mod->gates);
    mod->gate_infos = loki__arena_array(&rs->arena, n, sizeof *mod->gate_infos);
    if (!mod->gates || !mod->gate_infos) {
        at(L, v, LOKI_ENOMEM, "out of memory", NULL, NULL);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (load_gate(L, nd(L, v->data.sequence.items.start[i]), mod, i))
            return -1;
        mod->gate_infos[i] = &mod->gates[i].info;
    }
    mod->info.n_gates = n;
    mod->info.gates = mod->gate_infos;
    return 0;
}

/* ---- files ---- */

static loki_status read_file(const char *path, size_t max, char **out, size_t *len,
                             loki_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return loki__err_at(err, LOKI_EIO, path, 0, 0, "cannot open rule pack: %s",
                            strerror(errno));
    loki_buf b;
    loki__buf_init(&b, max);
    char tmp[16384];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        if (loki__buf_add(&b, tmp, n))
            break;
    int rerr = ferror(f);
    fclose(f);
    if (b.oom) {
        int too_big = b.len + sizeof tmp > max;
        loki__buf_release(&b);
        if (too_big)
            return loki__err_at(err, LOKI_ELIMIT, path, 0, 0,
                                "rule pack larger than the %zu-byte limit", max);
        return loki__err(err, LOKI_ENOMEM, "out of memory reading %s", path);
    }
    if (rerr) {
        loki__buf_release(&b);
        return loki__err_at(err, LOKI_EIO, path, 0, 0, "read error");
    }
    if (!b.p && loki__buf_reserve(&b, 1)) {
        loki__buf_release(&b);
        return loki__err(err, LOKI_ENOMEM, "out of memory");
    }
    *out = b.p;
    *len = b.len;
    return LOKI_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the packs: a single file, or *.yaml or *.yml files in a directory (not starting with '_'),
 * sorted by name so the ruleset (and its fingerprint) never depends on directory order. */
static loki_status list_packs(const char *path, char ***out, size_t *n_out, loki_error *err)
{
    struct stat st;
    *out = NULL;
    *n_out = 0;
    if (stat(path, &st) != 0)
        return loki__err_at(err, LOKI_EIO, path, 0, 0, "rules path not found: %s",
                            strerror(errno));
    char **v = NULL;
    size_t n = 0, cap = 0;
    if (!S_ISDIR(st.st_mode)) {
        v = loki__calloc(1, sizeof *v);
        if (!v || !(v[0] = loki__strdup(path))) {
            loki__free(v);
            return loki__err(err, LOKI_ENOMEM, "out of memory");
        }
        *out = v;
        *n_out = 1;
        return LOKI_OK;
    }
    DIR *d = opendir(path);
    if (!d)
        return loki__err_at(err, LOKI_EIO, path, 0, 0, "cannot open rules directory: %s",
                            strerror(errno));
    struct dirent *de;
    loki_status rc = LOKI_OK;
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        size_t l = strlen(nm);
        if (nm[0] == '_' || nm[0] == '.')
            continue;
        if (!((l > 5 && strcmp(nm + l - 5, ".yaml") == 0) ||
              (l > 4 && strcmp(nm + l - 4, ".yml") == 0)))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nv = loki__reallocarray(v, nc, sizeof *v);
            if (!nv) {
                rc = loki__err(err, LOKI_ENOMEM, "out of memory");
                break;
            }
            v = nv;
            cap = nc;
        }
        size_t pl = strlen(path);
        char *full = loki__malloc(pl + l + 2);
        if (!full) {
            rc = loki__err(err, LOKI_ENOMEM, "out of memory");
            break;
        }
        memcpy(full, path, pl);
        size_t o = pl;
        if (pl && path[pl - 1] != '/')
            full[o++] = '/';
        memcpy(full + o, nm, l + 1);
        v[n++] = full;
    }
    closedir(d);
    if (rc == LOKI_OK && n == 0)
        rc = loki__err_at(err, LOKI_ENOTFOUND, path, 0, 0, "no rule packs (*.yaml) found");
    if (rc != LOKI_OK) {
        for (size_t i = 0; i < n; i++)
            loki__free(v[i]);
        loki__free(v);
        return rc;
    }
    qsort(v, n, sizeof *v, cmp_str);
    *out = v;
    *n_out = n;
    return LOKI_OK;
}

static int wanted(const loki_load_config *cfg, const char *id)
{
    if (!cfg->modules || cfg->n_modules == 0)
        return 1;
    for (size_t i = 0; i < cfg->n_modules; i++)
        if (strcmp(cfg->modules[i], id) == 0)
            return 1;
    return 0;
}

/* Parses one file; returns 1 when the pack was skipped (module not wanted). */
static int load_file(loader *L, const loki_load_config *cfg, const char *path, loki_sha256 *fp)
{
    char *data = NULL;
    size_t len = 0;
    int rc = -1;
    yaml_parser_t parser;
    yaml_document_t doc;
    int have_parser = 0, have_doc = 0;
    L->file = loki__arena_strdup(&L->rs->arena, path);
    if (!L->file) {
        L->st = loki__err(L->err, LOKI_ENOMEM, "out of memory");
        goto out;
    }
    if ((L->st = read_file(path, cfg->max_pack_bytes, &data, &len, L->err)) != LOKI_OK)
        goto out;
    const char *why = NULL;
    extern size_t loki__utf8_check(const char *p, size_t len, const char **why);
    size_t bad = loki__utf8_check(data, len, &why);
    if (bad < len) {
        unsigned line = 1, col = 1;
        for (size_t i = 0; i < bad; i++) {
            if (data[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        L->st = loki__err_at(L->err, LOKI_EPARSE, L->file, line, col, "%s in rule pack", why);
        goto out;
    }
    if (!yaml_parser_initialize(&parser)) {
        L->st = loki__err(L->err, LOKI_ENOMEM, "out of memory (YAML parser)");
        goto out;
    }
    have_parser = 1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    if (!yaml_parser_load(&parser, &doc)) {
        L->st = loki__err_at(L->err, LOKI_EPARSE, L->file,
                             (unsigned)parser.problem_mark.line + 1,
                             (unsigned)parser.problem_mark.column + 1, "YAML error: %s%s%s",
                             parser.problem ? parser.problem : "syntax error",
                             parser.context ? " " : "", parser.context ? parser.context : "");
        goto out;
    }
    have_doc = 1;
    L->doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || root->type != YAML_MAPPING_NODE) {
        L->st = loki__err_at(L->err, LOKI_EPARSE, L->file, root ? (unsigned)root->start_mark.line + 1 : 1,
                             root ? (unsigned)root->start_mark.column + 1 : 1,
                             "a rule pack must be a YAML mapping with 'module' and 'gates'");
        goto out;
    }
    yaml_node_t *idn = get(L, root, "module");
    if (idn && is_scalar(idn) && !wanted(cfg, sval(idn))) {
        rc = 1;
        goto out;
    }
    /* The fingerprint covers what was loaded: file name (not directory) and bytes. */
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char lenbuf[32];
    int ln = snprintf(lenbuf, sizeof lenbuf, "\n%zu\n", len);
    if (loki__sha256_update(fp, base, strlen(base)) || loki__sha256_update(fp, lenbuf, (size_t)ln) ||
        loki__sha256_update(fp, data, len)) {
        L->st = loki__err(L->err, LOKI_EINTERNAL, "hashing failed");
        goto out;
    }
    if (load_module(L, root))
        goto out;
    rc = 0;
out:
    if (have_doc)
        yaml_document_delete(&doc);
    if (have_parser)
        yaml_parser_delete(&parser);
    loki__free(data);
    L->doc = NULL;
    return rc;
}

/* _doctypes.yaml: { doctypes: { <type>: { signals: [patterns], min: N } } }. Its sets belong
 * to no module (index n_modules) and are scanned with the domain guards. */
static int load_doctypes(loader *L, const char *path, loki_sha256 *fp, size_t max)
{
    char *data = NULL;
    size_t len = 0;
    int rc = -1;
    yaml_parser_t parser;
    yaml_document_t doc;
    int have_parser = 0, have_doc = 0;
    loki_ruleset *rs = L->rs;
    L->file = loki__arena_strdup(&rs->arena, path);
    if (!L->file || (L->st = read_file(path, max, &data, &len, L->err)) != LOKI_OK) {
        if (!L->file)
            L->st = loki__err(L->err, LOKI_ENOMEM, "out of memory");
        goto out;
    }
    if (!yaml_parser_initialize(&parser)) {
        L->st = loki__err(L->err, LOKI_ENOMEM, "out of memory (YAML parser)");
        goto out;
    }
    have_parser = 1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    if (!yaml_parser_load(&parser, &doc)) {
        L->st = loki__err_at(L->err, LOKI_EPARSE, L->file,
                             (unsigned)parser.problem_mark.line + 1,
                             (unsigned)parser.problem_mark.column + 1, "YAML error: %s",
                             parser.problem ? parser.problem : "syntax error");
        goto out;
    }
    have_doc = 1;
    L->doc = &doc;
    loki__sha256_update(fp, "_doctypes\n", 10);
    loki__sha256_update(fp, data, len);
    static const char *const top_keys[] = {"doctypes", NULL};
    static const char *const type_keys[] = {"signals", "min", NULL};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || root->type != YAML_MAPPING_NODE) {
        at(L, root, LOKI_EPARSE, "the document-type file must be a mapping with 'doctypes'",
           NULL, NULL);
        goto out;
    }
    if (check_keys(L, root, top_keys, "document-type file"))
        goto out;
    yaml_node_t *dt = get(L, root, "doctypes");
    if (!dt || dt->type != YAML_MAPPING_NODE) {
        at(L, dt ? dt : root, LOKI_EPARSE, "'doctypes' must map type names to signals", NULL,
           NULL);
        goto out;
    }
    if (check_keys(L, dt, NULL, "doctypes"))
        goto out;
    size_t n = (size_t)(dt->data.mapping.pairs.top - dt->data.mapping.pairs.start);
    rs->doctypes = loki__arena_array(&rs->arena, n ? n : 1, sizeof *rs->doctypes);
    if (!rs->doctypes) {
        at(L, dt, LOKI_ENOMEM, "out of memory", NULL, NULL);
        goto out;
    }
    L->module = (unsigned)rs->n_modules;
    L->gate = -1;
    for (yaml_node_pair_t *p = dt->data.mapping.pairs.start; p < dt->data.mapping.pairs.top; p++) {
        yaml_node_t *k = nd(L, p->key), *v = nd(L, p->value);
        const char *name = sval(k);
        if (!loki_document_type_valid(name) || strcmp(name, "unknown") == 0 ||
            strcmp(name, "ai_generated") == 0) {
            at(L, k, LOKI_EPARSE, "unknown document type '%s'", name, NULL);
            goto out;
        }
        if (v->type != YAML_MAPPING_NODE || check_keys(L, v, type_keys, "document type")) {
            if (v->type != YAML_MAPPING_NODE)
                at(L, v, LOKI_EPARSE, "'%s' must have 'signals' and 'min'", name, NULL);
            goto out;
        }
        yaml_node_t *sig = get(L, v, "signals"), *mn = get(L, v, "min");
        if (!sig || !mn || !is_scalar(mn)) {
            at(L, v, LOKI_EPARSE, "'%s' needs 'signals' (a list) and 'min' (a number)", name,
               NULL);
            goto out;
        }
        char *end;
        long minv = strtol(sval(mn), &end, 10);
        if (*end || minv < 1 || minv > 100) {
            at(L, mn, LOKI_EPARSE, "'min' must be a number from 1 to 100", NULL, NULL);
            goto out;
        }
        /* One set per type, named after it; build a one-entry mapping view by hand. */
        if (grow((void **)&rs->sets, &L->sets_cap, rs->n_sets, sizeof *rs->sets)) {
            at(L, k, LOKI_ENOMEM, "out of memory", NULL, NULL);
            goto out;
        }
        unsigned si = (unsigned)rs->n_sets;
        loki_set *s = &rs->sets[si];
        memset(s, 0, sizeof *s);
        s->name = loki__arena_strdup(&rs->arena, name);
        s->module = L->module;
        s->gate = -1;
        s->first_pattern = (unsigned)rs->n_patterns;
        s->used = 1;
        s->domain = 1;
        s->needs_all = 1; /* the signals are reported */
        rs->n_sets++;
        if (sig->type != YAML_SEQUENCE_NODE) {
            at(L, sig, LOKI_EPARSE, "'signals' must be a list of patterns", NULL, NULL);
            goto out;
        }
        for (yaml_node_item_t *it = sig->data.sequence.items.start;
             it < sig->data.sequence.items.top; it++)
            if (add_pattern(L, nd(L, *it), si))
                goto out;
        rs->sets[si].n_patterns = (unsigned)rs->n_patterns - rs->sets[si].first_pattern;
        if (rs->sets[si].n_patterns == 0) {
            at(L, sig, LOKI_EPARSE, "'%s' has no signals", name, NULL);
            goto out;
        }
        rs->doctypes[rs->n_doctypes++] = (loki_doctype){rs->sets[si].name, si, (unsigned)minv};
    }
    rc = 0;
out:
    if (have_doc)
        yaml_document_delete(&doc);
    if (have_parser)
        yaml_parser_delete(&parser);
    loki__free(data);
    L->doc = NULL;
    return rc;
}

#define RULES_FORMAT "loki-rules/2"

loki_status loki__rules_load(const loki_load_config *cfg, loki_ruleset **out, loki_error *err)
{
    char **files = NULL;
    size_t n_files = 0;
    loki_sha256 fp = {0};
    loki_status st;
    *out = NULL;
    loki_ruleset *rs = loki__calloc(1, sizeof *rs);
    if (!rs)
        return loki__err(err, LOKI_ENOMEM, "out of memory");
    loki__arena_init(&rs->arena);
    pthread_mutex_init(&rs->pcre_lock, NULL);
    if ((st = list_packs(cfg->path, &files, &n_files, err)) != LOKI_OK)
        goto fail;
    rs->modules = loki__arena_array(&rs->arena, n_files, sizeof *rs->modules);
    if (!rs->modules || loki__sha256_begin(&fp)) {
        st = loki__err(err, LOKI_ENOMEM, "out of memory");
        goto fail;
    }
    loki__sha256_update(&fp, RULES_FORMAT, sizeof RULES_FORMAT);
    loader L = {.rs = rs, .err = err, .gate = -1};
    for (size_t i = 0; i < n_files; i++) {
        L.module = (unsigned)rs->n_modules;
        int r = load_file(&L, cfg, files[i], &fp);
        if (r < 0) {
            st = L.st ? L.st : LOKI_EPARSE;
            goto fail;
        }
        if (r == 0)
            rs->n_modules++;
    }
    for (size_t i = 0; cfg->modules && i < cfg->n_modules; i++) {
        int found = 0;
        for (size_t j = 0; j < rs->n_modules; j++)
            found |= strcmp(rs->modules[j].info.id, cfg->modules[i]) == 0;
        if (!found) {
            st = loki__err(err, LOKI_EINVAL, "unknown module '%s' (not found in %s)",
                           cfg->modules[i], cfg->path);
            goto fail;
        }
    }
    if (rs->n_modules == 0) {
        st = loki__err_at(err, LOKI_ENOTFOUND, cfg->path, 0, 0, "no rule packs loaded");
        goto fail;
    }
    /* The document-type signals, when the rules directory has them. */
    {
        struct stat sb;
        char dtp[4096];
        snprintf(dtp, sizeof dtp, "%s/_doctypes.yaml", cfg->path);
        if (stat(cfg->path, &sb) == 0 && S_ISDIR(sb.st_mode) && stat(dtp, &sb) == 0 &&
            load_doctypes(&L, dtp, &fp, cfg->max_pack_bytes)) {
            st = L.st ? L.st : LOKI_EPARSE;
            goto fail;
        }
    }
    rs->module_infos = loki__arena_array(&rs->arena, rs->n_modules, sizeof *rs->module_infos);
    if (!rs->module_infos) {
        st = loki__err(err, LOKI_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < rs->n_modules; i++)
        rs->module_infos[i] = &rs->modules[i].info;
    unsigned char md[32];
    if (loki__sha256_end(&fp, md)) {
        st = loki__err(err, LOKI_EINTERNAL, "hashing failed");
        goto fail;
    }
    loki__hex(md, 32, rs->fingerprint);
    for (size_t i = 0; i < n_files; i++)
        loki__free(files[i]);
    loki__free(files);
    *out = rs;
    return LOKI_OK;
fail:
    if (fp.ctx) {
        unsigned char discard[32];
        loki__sha256_end(&fp, discard);
    }
    for (size_t i = 0; i < n_files; i++)
        loki__free(files[i]);
    loki__free(files);
    loki__rules_free(rs);
    return st ? st : LOKI_EPARSE;
}

void loki__rules_free(loki_ruleset *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->n_patterns; i++)
        pcre2_code_free(atomic_load(&rs->patterns[i].pcre));
    pthread_mutex_destroy(&rs->pcre_lock);
    loki__free(rs->patterns);
    loki__free(rs->sets);
    loki__free(rs->examples);
    loki__arena_release(&rs->arena);
    loki__free(rs);
}
