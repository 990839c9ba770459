/* SPDX-License-Identifier: MIT */
/* Bounded phrase matching for the detectors: every call looks at a fixed number of bytes, so
 * calling it at each word start keeps a scan linear. */
#include <string.h>

#include "detect_lex.h"

static int blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '-';
}

size_t loki__lx_phrase_at(const char *t, size_t len, size_t i, const char *ph)
{
    size_t j = i;
    for (const char *q = ph; *q; q++) {
        if (*q == ' ') {
            size_t k = 0;
            while (j < len && k < 8 && blank(t[j])) {
                j++;
                k++;
            }
            if (k == 0)
                return 0;
            continue;
        }
        if (*q == '\'') {
            if (j < len && t[j] == '\'') {
                j++;
                continue;
            }
            if (j + 2 < len && (unsigned char)t[j] == 0xE2 && (unsigned char)t[j + 1] == 0x80 &&
                (unsigned char)t[j + 2] == 0x99) {
                j += 3;
                continue;
            }
            return 0;
        }
        if (j >= len || lx_lower(t[j]) != *q)
            return 0;
        j++;
    }
    if (j == i)
        return 0;
    char last = ph[0] ? ph[strlen(ph) - 1] : 0;
    if (lx_alnum(last) && j < len && (lx_alnum(t[j]) || t[j] == '_'))
        return 0;
    return j;
}

int loki__lx_window_has(const char *t, size_t len, size_t from, size_t to, const char *const *words)
{
    if (to > len)
        to = len;
    for (size_t i = from; i < to; i++) {
        if (!lx_word_start(t, i) || !lx_alnum(t[i]))
            continue;
        char c = lx_lower(t[i]);
        for (const char *const *w = words; *w; w++)
            if ((*w)[0] == c && loki__lx_phrase_at(t, len, i, *w))
                return 1;
    }
    return 0;
}
