/* SPDX-License-Identifier: MIT */
/* Engine lifecycle, the scratch pool, the catalog views, names and document types. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine_int.h"

const char *loki_version(void)
{
    return LOKI_VERSION_STRING;
}

const char *loki_strerror(loki_status st)
{
    switch (st) {
    case LOKI_OK: return "success";
    case LOKI_ENOMEM: return "out of memory";
    case LOKI_EINVAL: return "invalid argument";
    case LOKI_EPARSE: return "parse error";
    case LOKI_EIO: return "input/output error";
    case LOKI_ETIMEOUT: return "timed out";
    case LOKI_ELIMIT: return "limit exceeded";
    case LOKI_ECIRCUIT_OPEN: return "circuit breaker open";
    case LOKI_EENCODING: return "invalid text encoding";
    case LOKI_ENOTFOUND: return "not found";
    case LOKI_EINTERNAL: return "internal error";
    }
    return "unknown error";
}

static const char *const sev_names[] = {"none", "low", "medium", "high", "critical"};
static const char *const status_names[] = {"PASS", "FAIL", "WARNING", "N/A", "ERROR"};
static const char *const risk_names[] = {"LOW", "MEDIUM", "HIGH", "CRITICAL"};

const char *loki_severity_name(loki_severity s)
{
    return (unsigned)s < 5 ? sev_names[s] : "none";
}

const char *loki_status_name(loki_gate_status s)
{
    return (unsigned)s < 5 ? status_names[s] : "ERROR";
}

const char *loki_risk_name(loki_risk r)
{
    return (unsigned)r < 4 ? risk_names[r] : "LOW";
}

int loki_severity_parse(const char *name)
{
    for (int i = 0; i < 5; i++)
        if (strcasecmp(name, sev_names[i]) == 0)
            return i;
    return -1;
}

static const char *const doc_types[] = {
    "privacy_notice", "privacy_policy", "cookie_policy", "consent_form",
    "data_processing_agreement", "dpia", "data_breach_notice", "dsar_response",
    "data_protection_policy", "financial_promotion", "terms_of_business",
    "financial_disclosure", "complaints_procedure", "nda", "contract", "settlement_agreement",
    "invoice", "tax_guidance", "disciplinary_letter", "grievance_letter", "employment_contract",
    "employment_letter", "hr_policy", "policy", "ai_generated", "unknown", NULL};

const char *const *loki_document_types(void)
{
    return doc_types;
}

int loki_document_type_valid(const char *type)
{
    for (const char *const *t = doc_types; *t; t++)
        if (strcmp(*t, type) == 0)
            return 1;
    return 0;
}

void loki_engine_config_default(loki_engine_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_document_bytes = 256u << 20;
    cfg->max_pack_bytes = 4u << 20;
    cfg->max_spans_per_finding = 50;
    cfg->jobs = 1;
    cfg->parallel_threshold = 1u << 20;
    cfg->stream_segment_bytes = 1u << 20;
}

void loki_check_options_default(loki_check_options *opts)
{
    memset(opts, 0, sizeof *opts);
}

loki_status loki_engine_create(const loki_engine_config *cfg, loki_engine **out,
                               loki_error *err)
{
    loki__err_clear(err);
    if (!out)
        return loki__err(err, LOKI_EINVAL, "out is NULL");
    *out = NULL;
    if (!cfg || !cfg->rules_path || !*cfg->rules_path)
        return loki__err(err, LOKI_EINVAL, "no rules path given");
    loki_engine *eng = loki__calloc(1, sizeof *eng);
    if (!eng)
        return loki__err(err, LOKI_ENOMEM, "out of memory");
    eng->cfg = *cfg;
    if (!eng->cfg.max_document_bytes)
        eng->cfg.max_document_bytes = 256u << 20;
    if (!eng->cfg.max_pack_bytes)
        eng->cfg.max_pack_bytes = 4u << 20;
    if (!eng->cfg.max_spans_per_finding)
        eng->cfg.max_spans_per_finding = 50;
    if (!eng->cfg.jobs)
        eng->cfg.jobs = 1;
    if (eng->cfg.jobs > 64)
        eng->cfg.jobs = 64;
    if (!eng->cfg.parallel_threshold)
        eng->cfg.parallel_threshold = 1u << 20;
    if (!eng->cfg.stream_segment_bytes)
        eng->cfg.stream_segment_bytes = 1u << 20;
    if (eng->cfg.stream_segment_bytes < 4096)
        eng->cfg.stream_segment_bytes = 4096;
    if (pthread_mutex_init(&eng->pool_lock, NULL) != 0) {
        loki__free(eng);
        return loki__err(err, LOKI_ENOMEM, "cannot create a mutex");
    }
    if (pthread_mutex_init(&eng->sdb_lock, NULL) != 0) {
        pthread_mutex_destroy(&eng->pool_lock);
        loki__free(eng);
        return loki__err(err, LOKI_ENOMEM, "cannot create a mutex");
    }
    if (cfg->cache_dir && !(eng->cache_dir = loki__strdup(cfg->cache_dir))) {
        loki_engine_destroy(eng);
        return loki__err(err, LOKI_ENOMEM, "out of memory");
    }
    loki_load_config lc = {cfg->rules_path, cfg->modules, cfg->n_modules, eng->cfg.max_pack_bytes};
    loki_status st = loki__rules_load(&lc, &eng->rs, err);
    if (st == LOKI_OK)
        st = loki__db_build(eng->rs, cfg->cache_dir, cfg->validate_all, &eng->db, err);
    if (st != LOKI_OK) {
        loki_engine_destroy(eng);
        return st;
    }
    /* Strings in the config belong to the caller; the engine keeps only what it copied. */
    eng->cfg.rules_path = NULL;
    eng->cfg.cache_dir = NULL;
    eng->cfg.modules = NULL;
    eng->cfg.n_modules = 0;
    *out = eng;
    return LOKI_OK;
}

void loki_engine_destroy(loki_engine *eng)
{
    if (!eng)
        return;
    loki_scratch *s = eng->pool;
    while (s) {
        loki_scratch *n = s->next;
        loki__scratch_destroy(s, eng->rs ? eng->rs->n_sets : 0);
        s = n;
    }
    loki__db_release(&eng->db);
    loki__db_release(&eng->sdb);
    loki__rules_free(eng->rs);
    pthread_mutex_destroy(&eng->pool_lock);
    pthread_mutex_destroy(&eng->sdb_lock);
    loki__free(eng->cache_dir);
    loki__free(eng);
}

const loki_db *loki__engine_stream_db(loki_engine *eng, loki_error *err)
{
    pthread_mutex_lock(&eng->sdb_lock);
    loki_status st = LOKI_OK;
    if (!eng->sdb_ready) {
        st = loki__db_build_stream(eng->rs, eng->cache_dir, &eng->sdb, err);
        eng->sdb_ready = st == LOKI_OK;
    }
    pthread_mutex_unlock(&eng->sdb_lock);
    return st == LOKI_OK ? &eng->sdb : NULL;
}

loki_scratch *loki__engine_scratch_get(loki_engine *eng)
{
    pthread_mutex_lock(&eng->pool_lock);
    loki_scratch *s = eng->pool;
    if (s)
        eng->pool = s->next;
    pthread_mutex_unlock(&eng->pool_lock);
    if (!s)
        s = loki__scratch_create(eng->rs, &eng->db);
    return s;
}

void loki__engine_scratch_put(loki_engine *eng, loki_scratch *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&eng->pool_lock);
    s->next = eng->pool;
    eng->pool = s;
    pthread_mutex_unlock(&eng->pool_lock);
}

void loki_engine_stats_get(const loki_engine *eng, loki_engine_stats *out)
{
    loki_engine *e = (loki_engine *)eng; /* atomics are read-only here */
    out->checks = atomic_load_explicit(&e->st_checks, memory_order_relaxed);
    out->errors = atomic_load_explicit(&e->st_errors, memory_order_relaxed);
    out->bytes = atomic_load_explicit(&e->st_bytes, memory_order_relaxed);
    out->parallel = atomic_load_explicit(&e->st_parallel, memory_order_relaxed);
    out->scan_ms = (double)atomic_load_explicit(&e->st_scan_us, memory_order_relaxed) / 1e3;
    out->evaluate_ms = (double)atomic_load_explicit(&e->st_eval_us, memory_order_relaxed) / 1e3;
    out->detect_ms = (double)atomic_load_explicit(&e->st_detect_us, memory_order_relaxed) / 1e3;
}

const char *loki_engine_fingerprint(const loki_engine *eng)
{
    return eng->rs->fingerprint;
}

int loki_engine_db_from_cache(const loki_engine *eng)
{
    return eng->db.from_cache;
}

size_t loki_engine_module_count(const loki_engine *eng)
{
    return eng->rs->n_modules;
}

const loki_module_info *loki_engine_module(const loki_engine *eng, size_t i)
{
    return i < eng->rs->n_modules ? eng->rs->module_infos[i] : NULL;
}

const loki_module_info *loki_engine_find_module(const loki_engine *eng, const char *id)
{
    for (size_t i = 0; i < eng->rs->n_modules; i++)
        if (strcmp(eng->rs->modules[i].info.id, id) == 0)
            return &eng->rs->modules[i].info;
    return NULL;
}

size_t loki_engine_example_count(const loki_engine *eng)
{
    return eng->rs->n_examples;
}

const loki_example *loki_engine_example(const loki_engine *eng, size_t i)
{
    return i < eng->rs->n_examples ? &eng->rs->examples[i] : NULL;
}
