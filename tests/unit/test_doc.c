/* SPDX-License-Identifier: MIT */
/* UTF-8 validation and byte → line/column/code-point mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "doc/doc.h"
#include "util/util.h"
#include "helpers.h"

static void utf8_valid(void **st)
{
    (void)st;
    const char *s = "Plain ASCII, £100, café, 日本, emoji 😀.";
    assert_int_equal(loki__utf8_check(s, strlen(s), NULL), strlen(s));
    assert_int_equal(loki__utf8_check("", 0, NULL), 0);
}

static void utf8_invalid(void **st)
{
    (void)st;
    const char *why = NULL;
    /* A lone continuation byte after 5 good bytes. */
    assert_int_equal(loki__utf8_check("hello\x80 world", 12, &why), 5);
    assert_string_equal(why, "invalid UTF-8 lead byte");
    /* Overlong encoding of '/'. */
    assert_int_equal(loki__utf8_check("ab\xc0\xaf", 4, &why), 2);
    /* Overlong 3-byte form of U+007F. */
    assert_int_equal(loki__utf8_check("\xe0\x81\xbf", 3, &why), 0);
    assert_string_equal(why, "overlong UTF-8 encoding");
    /* UTF-16 surrogate U+D800 encoded in UTF-8. */
    assert_int_equal(loki__utf8_check("x\xed\xa0\x80", 4, &why), 1);
    assert_string_equal(why, "UTF-8 encodes an invalid code point");
    /* Truncated 3-byte sequence at the end. */
    assert_int_equal(loki__utf8_check("abc\xe2\x82", 5, &why), 3);
    assert_string_equal(why, "truncated UTF-8 sequence");
    /* NUL byte, found by the 8-byte fast path too. */
    assert_int_equal(loki__utf8_check("abcdefghij\0klmnop", 17, &why), 10);
    assert_string_equal(why, "NUL byte");
    /* Above U+10FFFF. */
    assert_int_equal(loki__utf8_check("\xf4\x90\x80\x80", 4, &why), 0);
}

static void posmap_lines_and_codepoints(void **st)
{
    (void)st;
    const char *t = "line one\nsecond £ line\n\ncafé here";
    loki_posmap m;
    assert_int_equal(loki__posmap_init(&m, t, strlen(t)), 0);
    unsigned line, col;
    size_t cp;
    loki__posmap_locate(&m, 0, &line, &col, &cp);
    assert_int_equal(line, 1);
    assert_int_equal(col, 1);
    assert_int_equal(cp, 0);
    /* "line" in "second £ line": bytes: "second " 7, "£" 2 bytes, " " → 'l' at byte 9+10 */
    size_t off = (size_t)(strstr(t, "line\n\n") - t);
    loki__posmap_locate(&m, off, &line, &col, &cp);
    assert_int_equal(line, 2);
    assert_int_equal(col, 10); /* s e c o n d _ £ _ l → 10th code point */
    assert_int_equal(cp, off - 1); /* one two-byte character before it */
    off = (size_t)(strstr(t, "here") - t);
    loki__posmap_locate(&m, off, &line, &col, &cp);
    assert_int_equal(line, 4);
    assert_int_equal(col, 6);
    loki__posmap_release(&m);
}

static void posmap_long_line(void **st)
{
    (void)st;
    /* 20,000 two-byte characters on one line: checkpoints must give the same answer as a
     * linear count. */
    size_t n = 20000;
    char *t = malloc(n * 2 + 10);
    for (size_t i = 0; i < n; i++)
        memcpy(t + 2 * i, "\xc3\xa9", 2);
    memcpy(t + 2 * n, "\nend", 5);
    loki_posmap m;
    assert_int_equal(loki__posmap_init(&m, t, 2 * n + 4), 0);
    unsigned line, col, l2, c2;
    size_t cp;
    for (size_t off = 0; off < 2 * n; off += 2 * 997) {
        loki__posmap_locate(&m, off, &line, &col, &cp);
        loki__locate_linear(t, off, &l2, &c2);
        assert_int_equal(line, l2);
        assert_int_equal(col, c2);
        assert_int_equal(cp, off / 2);
    }
    loki__posmap_locate(&m, 2 * n + 1, &line, &col, &cp);
    assert_int_equal(line, 2);
    assert_int_equal(col, 1);
    loki__posmap_release(&m);
    free(t);
}

/* A capped buffer refuses to grow past its cap, also one character at a time (a bug fix: the
 * single-character fast path used to skip the cap). */
static void buffer_cap_holds(void **st)
{
    (void)st;
    loki_buf b;
    loki__buf_init(&b, 10);
    assert_int_equal(loki__buf_adds(&b, "12345"), 0);
    int failed = 0;
    for (int i = 0; i < 100; i++)
        failed |= loki__buf_addc(&b, 'x') != 0;
    assert_true(failed);
    assert_true(b.len <= 10);
    assert_int_equal(loki__buf_adds(&b, "more"), -1);
    loki__buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utf8_valid),
        cmocka_unit_test(utf8_invalid),
        cmocka_unit_test(posmap_lines_and_codepoints),
        cmocka_unit_test(posmap_long_line),
        cmocka_unit_test(buffer_cap_holds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
