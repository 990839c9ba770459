/* SPDX-License-Identifier: MIT */
/*
 * The verdict cache key. Every input that can change a verdict goes in, so a rule change or an
 * engine upgrade can never be served an old verdict. Fields are length-prefixed (so "ab"+"c" and
 * "a"+"bc" differ) and the module list is sorted and de-duplicated (so order does not matter).
 */
#include <stdlib.h>
#include <string.h>

#include "cache_int.h"
#include "util/util.h"

static int add_len(loki_sha256 *h, size_t n)
{
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    return loki__sha256_update(h, len, sizeof len);
}

static int add_field(loki_sha256 *h, const char *p, size_t n)
{
    if (add_len(h, n))
        return -1;
    return n ? loki__sha256_update(h, p, n) : 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

loki_status loki_cache_key_build(const loki_cache_key_parts *kp, char out[65])
{
    out[0] = '\0';
    if (!kp || (!kp->text && kp->text_len) || (!kp->modules && kp->n_modules) ||
        (!kp->extra && kp->extra_len))
        return LOKI_EINVAL;
    const char **mods = NULL;
    if (kp->n_modules) {
        mods = loki__reallocarray(NULL, kp->n_modules, sizeof *mods);
        if (!mods)
            return LOKI_ENOMEM;
        memcpy(mods, kp->modules, kp->n_modules * sizeof *mods);
        for (size_t i = 0; i < kp->n_modules; i++)
            if (!mods[i]) {
                loki__free(mods);
                return LOKI_EINVAL;
            }
        qsort(mods, kp->n_modules, sizeof *mods, cmp_str);
    }
    size_t n_unique = 0;
    for (size_t i = 0; i < kp->n_modules; i++)
        if (i == 0 || strcmp(mods[i], mods[i - 1]) != 0)
            mods[n_unique++] = mods[i];

    const char *type = kp->document_type ? kp->document_type : "unknown";
    const char *fp = kp->ruleset_fingerprint ? kp->ruleset_fingerprint : "";
    const char *ver = kp->engine_version ? kp->engine_version : loki_version();
    static const char tag[] = "loki-verdict-key-v1";
    loki_status st = LOKI_EINTERNAL;
    loki_sha256 h;
    if (loki__sha256_begin(&h))
        goto out_mods;
    int bad = add_field(&h, tag, sizeof tag - 1) || add_field(&h, kp->text, kp->text_len) ||
              add_field(&h, type, strlen(type)) || add_field(&h, fp, strlen(fp)) ||
              add_field(&h, ver, strlen(ver)) || add_field(&h, kp->extra, kp->extra_len) ||
              add_len(&h, n_unique);
    for (size_t i = 0; i < n_unique && !bad; i++)
        bad = add_field(&h, mods[i], strlen(mods[i]));
    unsigned char md[32];
    if (loki__sha256_end(&h, md) || bad)
        goto out_mods;
    loki__hex(md, sizeof md, out);
    st = LOKI_OK;
out_mods:
    loki__free(mods);
    return st;
}
