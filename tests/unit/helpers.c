/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

const char *th_tmpdir(const char *name)
{
    static char path[1024];
    const char *base = getenv("LOKI_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0700);
    snprintf(path, sizeof path, "%s/%s.%ld", base, name, (long)getpid());
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        abort();
    mkdir(path, 0700);
    return path;
}

void th_write(const char *dir, const char *file, const char *content)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    FILE *f = fopen(p, "wb");
    if (!f)
        abort();
    fputs(content, f);
    fclose(f);
}

loki_status th_engine(const char *pack, loki_engine **eng, loki_error *err)
{
    const char *d = th_tmpdir("pack");
    th_write(d, "p.yaml", pack);
    loki_engine_config cfg;
    loki_engine_config_default(&cfg);
    cfg.rules_path = d;
    return loki_engine_create(&cfg, eng, err);
}
