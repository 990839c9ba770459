/* SPDX-License-Identifier: MIT */
/*
 * Pattern rewriting: the conveniences of the pack language (docs/rules.md) turned into a
 * regex both Vectorscan and PCRE2 compile the same way:
 *   - a literal space (outside a character class) becomes \s{1,3}; followed by ? or * it
 *     becomes \s{0,3} (optional whitespace), followed by {m,n} it becomes \s{m,n};
 *   - \b is added where the pattern begins or ends with a word character.
 */
#include <ctype.h>
#include <string.h>

#include "rules.h"

static int escaped(const char *s, size_t j)
{
    size_t n = 0;
    while (j > 0 && s[j - 1] == '\\') {
        n++;
        j--;
    }
    return (int)(n & 1u);
}

static int begins_word(const char *s)
{
    size_t i = 0;
    for (;;) {
        if (s[i] == '(' && s[i + 1] == '?' && s[i + 2] == ':')
            i += 3;
        else if (s[i] == '(')
            i += 1;
        else
            break;
    }
    if (s[i] == '\\')
        return s[i + 1] == 'd' || s[i + 1] == 'w';
    return isalnum((unsigned char)s[i]) || s[i] == '_';
}

static int ends_word(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    size_t j = len - 1;
    for (;;) {
        if ((s[j] == '?' || s[j] == '*' || s[j] == '+' || s[j] == ')') && !escaped(s, j)) {
            if (j == 0)
                return 0;
            /* a lazy quantifier "??" or "+?" is handled by the same loop */
            j--;
            continue;
        }
        if (s[j] == '}' && !escaped(s, j)) {
            while (j > 0 && s[j] != '{')
                j--;
            if (j == 0)
                return 0;
            j--;
            continue;
        }
        break;
    }
    if (escaped(s, j))
        return s[j] == 'd' || s[j] == 'w';
    return isalnum((unsigned char)s[j]) || s[j] == '_';
}

char *loki__pattern_rewrite(loki_arena *a, const char *src)
{
    size_t len = strlen(src);
    loki_buf b;
    loki__buf_init(&b, 0);
    int pre = begins_word(src), post = ends_word(src, len);
    if (pre)
        loki__buf_adds(&b, "\\b");
    loki__buf_adds(&b, "(?:");
    int in_class = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '\\' && i + 1 < len) {
            loki__buf_add(&b, src + i, 2);
            i++;
            continue;
        }
        if (in_class) {
            if (c == ']')
                in_class = 0;
            loki__buf_addc(&b, c);
            continue;
        }
        if (c == '[') {
            in_class = 1;
            loki__buf_addc(&b, c);
            /* a ']' right after '[' or '[^' is a literal member */
            if (i + 1 < len && src[i + 1] == '^') {
                loki__buf_addc(&b, '^');
                i++;
            }
            if (i + 1 < len && src[i + 1] == ']') {
                loki__buf_addc(&b, ']');
                i++;
            }
            continue;
        }
        if (c == ' ') {
            while (i + 1 < len && src[i + 1] == ' ')
                i++;
            /* A quantifier after the space applies to the whitespace run: ' ?' is "optional
             * whitespace", not a lazy version of the run. */
            char q = i + 1 < len ? src[i + 1] : '\0';
            if (q == '?' || q == '*') {
                loki__buf_adds(&b, "\\s{0,3}");
                i++;
            } else if (q == '+') {
                loki__buf_adds(&b, "\\s{1,3}");
                i++;
            } else if (q == '{') {
                loki__buf_adds(&b, "\\s");
            } else {
                loki__buf_adds(&b, "\\s{1,3}");
            }
            continue;
        }
        loki__buf_addc(&b, c);
    }
    loki__buf_addc(&b, ')');
    if (post)
        loki__buf_adds(&b, "\\b");
    char *out = NULL;
    if (!b.oom)
        out = loki__arena_strndup(a, b.p, b.len);
    loki__buf_release(&b);
    return out;
}
