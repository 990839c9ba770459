/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for loki_extract(). Built once per extractor with FUZZ_FORMAT set to a
 * loki_doc_format (LOKI_FORMAT_AUTO exercises sniffing). Besides "no crash, no leak" it checks
 * the result's contract: valid UTF-8 without NULs, and every offset locates.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loki/extract.h"

#ifndef FUZZ_FORMAT
#define FUZZ_FORMAT LOKI_FORMAT_AUTO
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int valid_utf8(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        size_t k = c < 0x80             ? 1
                   : (c & 0xE0) == 0xC0 ? 2
                   : (c & 0xF0) == 0xE0 ? 3
                   : (c & 0xF8) == 0xF0 ? 4
                                        : 0;
        if (!k || k > n - i || c == 0)
            return 0;
        for (size_t j = 1; j < k; j++)
            if ((p[i + j] & 0xC0) != 0x80)
                return 0;
        i += k;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    loki_extract_options o;
    loki_extract_options_default(&o);
    o.format = FUZZ_FORMAT;
    /* Small caps keep each run fast and make the cap paths reachable. */
    o.max_output_bytes = 1 << 20;
    o.max_uncompressed_bytes = 4 << 20;
    o.max_pdf_pages = 50;
    o.max_mime_parts = 64;
    loki_extracted *ex = NULL;
    loki_error err;
    loki_status st = loki_extract(data, size, "fuzz", &o, &ex, &err);
    if (st != LOKI_OK) {
        if (ex || err.message[0] == '\0')
            abort(); /* a failure must leave no result and say why */
        return 0;
    }
    size_t len;
    const char *t = loki_extracted_text(ex, &len);
    if (!t || strlen(t) != len || !valid_utf8((const unsigned char *)t, len))
        abort();
    loki_location loc;
    size_t step = len / 64 + 1;
    for (size_t off = 0; off <= len; off += step)
        if (loki_extracted_locate(ex, off, &loc) != LOKI_OK)
            abort();
    if (loki_extracted_locate(ex, len, &loc) != LOKI_OK ||
        loki_extracted_locate(ex, len + 1, &loc) != LOKI_EINVAL)
        abort();
    char buf[128];
    loki_location_format(&loc, buf, sizeof buf);
    loki_extracted_destroy(ex);
    return 0;
}
