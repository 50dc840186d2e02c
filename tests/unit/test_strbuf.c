/*
 * test_strbuf.c - the capped string builder (src/strbuf.h): appends up to
 * the cap exactly, refusal past it (whole, and sticky), printf appends,
 * embedded NUL bytes, reading a file at, under and over the cap, take/free.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/strbuf.h"

static void
test_empty(void **state)
{
	struct strbuf b;
	char *s;

	(void)state;
	strbuf_init(&b, 10);
	assert_string_equal(strbuf_str(&b), "");
	assert_int_equal(b.len, 0);
	s = strbuf_take(&b);
	assert_string_equal(s, "");
	free(s);
	strbuf_free(&b);
}

static void
test_append_to_the_cap(void **state)
{
	struct strbuf b;

	(void)state;
	strbuf_init(&b, 8);
	assert_int_equal(strbuf_appends(&b, "abc"), 0);
	assert_int_equal(strbuf_append(&b, "defgh", 5), 0); /* exactly 8 */
	assert_string_equal(strbuf_str(&b), "abcdefgh");
	assert_int_equal(b.over, 0);
	assert_int_equal(strbuf_append(&b, "", 0), 0); /* nothing fits nothing */
	assert_int_equal(strbuf_appends(&b, "i"), -1);
	assert_int_equal(b.over, 1);
	assert_string_equal(strbuf_str(&b), "abcdefgh");
	strbuf_free(&b);
}

static void
test_refusal_is_whole_and_sticky(void **state)
{
	struct strbuf b;

	(void)state;
	strbuf_init(&b, 5);
	assert_int_equal(strbuf_appends(&b, "ab"), 0);
	assert_int_equal(strbuf_appends(&b, "cdef"), -1); /* would be 6: none of it */
	assert_string_equal(strbuf_str(&b), "ab");
	/* Fits, but the buffer is over: refused, the content a prefix of whole appends. */
	assert_int_equal(strbuf_appends(&b, "c"), -1);
	assert_int_equal(strbuf_appendf(&b, "%d", 1), -1);
	assert_string_equal(strbuf_str(&b), "ab");
	strbuf_free(&b);
	assert_int_equal(b.over, 0);
	assert_int_equal(strbuf_appends(&b, "abcde"), 0);
	strbuf_free(&b);
}

static void
test_appendf(void **state)
{
	struct strbuf b;

	(void)state;
	strbuf_init(&b, 12);
	assert_int_equal(strbuf_appendf(&b, "%s:%d", "host", 993), 0);
	assert_string_equal(strbuf_str(&b), "host:993");
	assert_int_equal(strbuf_appendf(&b, "%s", "long"), 0); /* 12 */
	assert_int_equal(strbuf_appendf(&b, "%c", 'x'), -1);
	assert_string_equal(strbuf_str(&b), "host:993long");
	strbuf_free(&b);
}

static void
test_grows_byte_by_byte(void **state)
{
	struct strbuf b;
	char *s;

	(void)state;
	strbuf_init(&b, 100000);
	for (int i = 0; i < 100000; i++)
		assert_int_equal(strbuf_append(&b, &"abcdefghij"[i % 10], 1), 0);
	assert_int_equal(b.len, 100000);
	assert_true(b.cap <= 100001);
	assert_memory_equal(b.s + 99990, "abcdefghij", 10);
	assert_int_equal(strbuf_append(&b, "x", 1), -1);
	s = strbuf_take(&b);
	assert_int_equal(strlen(s), 100000);
	free(s);
	assert_null(b.s);
	assert_int_equal(b.max, 100000);
	strbuf_free(&b);
}

static void
test_embedded_nul(void **state)
{
	struct strbuf b;

	(void)state;
	strbuf_init(&b, 16);
	assert_int_equal(strbuf_append(&b, "a\0b", 3), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.s, "a\0b\0", 4);
	strbuf_free(&b);
}

/* A temporary file of N bytes ('x'), rewound. */
static FILE *
file_of(size_t n)
{
	FILE *f = tmpfile();

	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		fputc('x', f);
	rewind(f);
	return f;
}

static void
test_read_file(void **state)
{
	static const size_t sizes[] = {0, 1, 65535, 65536, 65537, 200000};
	struct strbuf b;

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		FILE *f = file_of(sizes[i]);

		strbuf_init(&b, 200000);
		assert_int_equal(strbuf_read(&b, f), 0);
		assert_int_equal(b.len, sizes[i]);
		assert_int_equal(strlen(strbuf_str(&b)), sizes[i]);
		assert_int_equal(b.over, 0);
		strbuf_free(&b);
		fclose(f);
	}
}

static void
test_read_file_over_the_cap(void **state)
{
	struct strbuf b;
	FILE *f;

	(void)state;
	/* Exactly at the cap: fine; one byte more: over, first MAX bytes kept. */
	f = file_of(70000);
	strbuf_init(&b, 70000);
	assert_int_equal(strbuf_read(&b, f), 0);
	assert_int_equal(b.len, 70000);
	strbuf_free(&b);
	fclose(f);

	f = file_of(70001);
	strbuf_init(&b, 70000);
	assert_int_equal(strbuf_read(&b, f), -1);
	assert_int_equal(b.over, 1);
	assert_int_equal(b.len, 70000);
	assert_int_equal(ferror(f), 0);
	strbuf_free(&b);
	fclose(f);

	/* After something appended: the cap counts it. */
	f = file_of(10);
	strbuf_init(&b, 12);
	assert_int_equal(strbuf_appends(&b, "abc"), 0);
	assert_int_equal(strbuf_read(&b, f), -1);
	assert_int_equal(b.len, 12);
	assert_string_equal(strbuf_str(&b), "abcxxxxxxxxx");
	strbuf_free(&b);
	fclose(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_append_to_the_cap),
	    cmocka_unit_test(test_refusal_is_whole_and_sticky),
	    cmocka_unit_test(test_appendf),
	    cmocka_unit_test(test_grows_byte_by_byte),
	    cmocka_unit_test(test_embedded_nul),
	    cmocka_unit_test(test_read_file),
	    cmocka_unit_test(test_read_file_over_the_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
