/* SPDX-License-Identifier: MIT */
/* False positives: the universal detectors on the compliant templates of the shared corpus
 * (document type unknown) must report nothing at high or critical severity. Skipped (77)
 * when the corpus is absent. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/detect.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *p = malloc(cap);
    size_t r;
    while (p && (r = fread(p + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *q = realloc(p, cap *= 2);
            if (!q) {
                free(p);
                p = NULL;
            }
            p = q;
        }
    }
    fclose(f);
    *len = n;
    return p;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    DIR *d = opendir(argv[1]);
    if (!d) {
        printf("skip: no corpus at %s\n", argv[1]);
        return 77;
    }
    struct dirent *e;
    unsigned files = 0, total = 0, bad = 0;
    while ((e = readdir(d))) {
        size_t nl = strlen(e->d_name);
        if (nl < 5 || strcmp(e->d_name + nl - 4, ".txt") != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
        size_t len;
        char *text = slurp(path, &len);
        if (!text)
            return 2;
        loki_arena a;
        loki__arena_init(&a);
        loki_detect_input in = {.text = text, .len = len, .doc_type = "unknown", .arena = &a};
        loki_universal_finding *f;
        size_t n;
        if (loki__detect_all(&in, &f, &n, NULL) != LOKI_OK)
            return 2;
        files++;
        total += (unsigned)n;
        for (size_t i = 0; i < n; i++) {
            if (f[i].severity < LOKI_SEV_HIGH)
                continue;
            bad++;
            printf("FAIL %s: %s/%s %s\n", e->d_name, f[i].detector, f[i].type,
                   loki_severity_name(f[i].severity));
        }
        loki__arena_release(&a);
        free(text);
    }
    closedir(d);
    printf("%u templates, %u findings, %u at high or critical\n", files, total, bad);
    return bad ? 1 : 0;
}
