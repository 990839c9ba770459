/* SPDX-License-Identifier: MIT */
/* Randomised equivalence test: the phrase tries (loki__lx_dict_*) against the phrase-by-phrase
 * matcher they replaced (loki__lx_phrase_at), at every position of 20,000 random texts built
 * from pieces that stress word boundaries, apostrophes, UTF-8 and repeated phrases. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "detect/detect_lex.h"

static const char *const L1[] = {"low risk", "no risk", "no fee", "no fees", "can't lose", "can", "cannot",
    "e.g", "d.o.b", "a/c", "100% safe", "source:", "www.", "et al", "v", "a fee of", "risk free",
    "guaranteed return", "guaranteed returns", "guaranteed returns", "it's", "x'y", "ab", "abc", "abcd",
    "a", "a b", "a  b", "ip", "isa", "1", "12", "q.", NULL};
static const char *const L2[] = {" percent", " per cent", " out of", "'s", "' x", NULL};
static const char *const L3[] = {"not", "no", "never", "isn't", "can't", "won't", "don't", NULL};

static int old_window_has(const char *t, size_t len, size_t from, size_t to, const char *const *words)
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

static const char *pieces[] = {"a", "b", "c", "e", "g", "i", "l", "n", "o", "p", "r", "s", "t", "v", "w", "x", "y",
    "A", "B", "N", "O", "R", "I", "S", "V", "E", "G", " ", " ", "  ", "        ", "         ", "\t", "\n", "-", "\r",
    "'", "\xE2\x80\x99", "\xE2\x80", "\xE2", "\xE2\x80\x98", "_", "0", "1", "2", "%", ".", ":", "/", "@", "k",
    "low risk", "no fee", "guaranteed return", "can", "cannot", "e.g", "d.o.b", "100", "safe", "source", "www",
    "et", "al", "percent", "per", "cent", "out", "of", "it", "isn", "won", "don", "\xC3\xA9", "ab", "abc", "abcd", "q"};

int main(int argc, char **argv)
{
    static lx_node nodes[4096];
    static unsigned short cells[8192];
    lx_pool pool = {.node = nodes, .cap_node = 4096, .cell = cells, .cap_cell = 8192};
    const char *const *lists[] = {L1, L2, L3};
    lx_dict d[3];
    for (int k = 0; k < 3; k++)
        loki__lx_dict_init(&d[k], lists[k], &pool);
    unsigned seed = argc > 1 ? (unsigned)atoi(argv[1]) : 1;
    srand(seed);
    size_t checks = 0, matches = 0;
    for (int iter = 0; iter < 20000; iter++) {
        char t[400];
        size_t len = 0;
        int np = rand() % 40;
        for (int p = 0; p < np; p++) {
            const char *s = pieces[rand() % (sizeof pieces / sizeof pieces[0])];
            size_t n = strlen(s);
            if (len + n > sizeof t)
                break;
            memcpy(t + len, s, n);
            len += n;
        }
        char *u = malloc(len ? len : 1);
        memcpy(u, t, len);
        for (int k = 0; k < 3; k++) {
            const char *const *ph = lists[k];
            for (size_t i = 0; i <= len; i++) {
                lx_hit hits[LX_DICT_MAX];
                size_t n = i < len ? loki__lx_dict_match(&d[k], u, len, i, hits) : 0;
                size_t m = 0;
                for (unsigned q = 0; ph[q]; q++) {
                    size_t e = i < len ? loki__lx_phrase_at(u, len, i, ph[q]) : 0;
                    if (!e)
                        continue;
                    if (m >= n || hits[m].phrase != q || hits[m].end != e) {
                        printf("MISMATCH list %d seed %u iter %d at %zu phrase %u\n", k, seed, iter, i, q);
                        return 1;
                    }
                    m++;
                }
                if (m != n) {
                    printf("EXTRA list %d iter %d at %zu\n", k, iter, i);
                    return 1;
                }
                matches += n;
                checks++;
                /* may_start must not reject a word start where something matches */
                if (n && i < len && lx_alnum(u[i]) && lx_word_start(u, i) &&
                    !lx_dict_may_start(&d[k], u, i, lx_word_end(u, len, i + 1))) {
                    printf("MAYSTART list %d iter %d at %zu\n", k, iter, i);
                    return 1;
                }
                /* ends_at against phrase_at with len = e */
                for (size_t e = i; e <= len && i < len; e += 1 + (size_t)(rand() % 3)) {
                    int want = 0;
                    for (unsigned q = 0; ph[q]; q++)
                        want |= loki__lx_phrase_at(u, e, i, ph[q]) == e && e > i;
                    if (want != loki__lx_dict_ends_at(&d[k], u, e, i)) {
                        printf("ENDS list %d iter %d at %zu..%zu\n", k, iter, i, e);
                        return 1;
                    }
                }
                int at = 0;
                for (unsigned q = 0; ph[q] && i < len; q++)
                    at |= loki__lx_phrase_at(u, len, i, ph[q]) != 0;
                if (i < len && at != loki__lx_dict_at(&d[k], u, len, i)) {
                    printf("AT list %d iter %d at %zu\n", k, iter, i);
                    return 1;
                }
            }
            for (int w = 0; w < 20; w++) {
                size_t from = len ? (size_t)rand() % (len + 1) : 0, to = from + (size_t)(rand() % 60);
                if (old_window_has(u, len, from, to, ph) != loki__lx_window_has(&d[k], u, len, from, to)) {
                    printf("WINDOW list %d iter %d %zu..%zu\n", k, iter, from, to);
                    return 1;
                }
            }
        }
        free(u);
    }
    printf("ok: %zu positions, %zu matches, nodes %zu cells %zu\n", checks, matches, pool.n_node, pool.n_cell);
    return 0;
}
