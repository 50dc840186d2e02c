/*
 * test_smtp.c - the SMTP reply parser (src/smtp.h): single and multi-line
 * replies, enhanced status codes, replies split anywhere, and every bound
 * and malformation named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/smtp.h"

/* Feed TEXT in pieces of STEP bytes (0: at once) until one reply or an error. */
static enum smtp_parse
feed(struct smtp_parser *p, const char *text, size_t step, size_t *consumed)
{
	size_t len = strlen(text), off = 0;
	enum smtp_parse r = SMTP_PARSE_MORE;

	while (off < len) {
		size_t n = step == 0 || step > len - off ? len - off : step, used = 0;

		r = smtp_parser_feed(p, text + off, n, &used);
		off += used;
		if (r != SMTP_PARSE_MORE)
			break;
	}
	if (consumed != NULL)
		*consumed = off;
	return r;
}

static void
test_single_and_enhanced(void **state)
{
	struct smtp_parser *p = smtp_parser_new();
	const struct smtp_reply *r;
	size_t used;

	(void)state;
	assert_int_equal(
	    feed(p, "550 5.1.1 <nobody@example.com>: User unknown\r\n", 0, &used), SMTP_PARSE_DONE);
	r = smtp_parser_reply(p);
	assert_int_equal(r->code, 550);
	assert_string_equal(r->enhanced, "5.1.1");
	assert_string_equal(r->text, "<nobody@example.com>: User unknown");
	assert_int_equal(r->n_lines, 1);
	/* no enhanced code; a code alone; bare LF */
	assert_int_equal(feed(p, "220 mx.example.com ESMTP\r\n", 0, NULL), SMTP_PARSE_DONE);
	assert_string_equal(smtp_parser_reply(p)->enhanced, "");
	assert_string_equal(smtp_parser_reply(p)->text, "mx.example.com ESMTP");
	assert_int_equal(feed(p, "250\n", 0, NULL), SMTP_PARSE_DONE);
	assert_int_equal(smtp_parser_reply(p)->code, 250);
	assert_string_equal(smtp_parser_reply(p)->text, "");
	/* "5.1.1x" is not an enhanced code; a four-digit part is not either */
	assert_int_equal(feed(p, "550 5.1.1x no\r\n", 0, NULL), SMTP_PARSE_DONE);
	assert_string_equal(smtp_parser_reply(p)->enhanced, "");
	assert_int_equal(feed(p, "550 5.1234.1 no\r\n", 0, NULL), SMTP_PARSE_DONE);
	assert_string_equal(smtp_parser_reply(p)->enhanced, "");
	assert_int_equal(
	    feed(p, "550 5.4.1 Recipient address rejected: Access denied\r\n", 0, NULL),
	    SMTP_PARSE_DONE);
	assert_string_equal(smtp_parser_reply(p)->enhanced, "5.4.1");
	smtp_parser_free(p);
}

static void
test_multiline_any_split(void **state)
{
	static const char ehlo[] = "250-mx.example.com Hello\r\n250-PIPELINING\r\n"
	                           "250-STARTTLS\r\n250 SIZE 10240000\r\n221 2.0.0 Bye\r\n";
	(void)state;
	for (size_t step = 0; step < 12; step++) {
		struct smtp_parser *p = smtp_parser_new();
		const struct smtp_reply *r;
		size_t used;

		assert_int_equal(feed(p, ehlo, step, &used), SMTP_PARSE_DONE);
		r = smtp_parser_reply(p);
		assert_int_equal(r->code, 250);
		assert_int_equal(r->n_lines, 4);
		assert_string_equal(r->lines[0], "mx.example.com Hello");
		assert_string_equal(r->lines[2], "STARTTLS");
		assert_string_equal(r->lines[3], "SIZE 10240000");
		/* the next reply is left for the next feed */
		assert_int_equal(feed(p, ehlo + used, step, NULL), SMTP_PARSE_DONE);
		assert_int_equal(smtp_parser_reply(p)->code, 221);
		assert_string_equal(smtp_parser_reply(p)->enhanced, "2.0.0");
		smtp_parser_free(p);
	}
}

static void
test_multiline_enhanced_text(void **state)
{
	struct smtp_parser *p = smtp_parser_new();

	(void)state;
	assert_int_equal(
	    feed(p, "450-4.7.1 Greylisted,\r\n450 4.7.1 try later\r\n", 0, NULL), SMTP_PARSE_DONE);
	assert_string_equal(smtp_parser_reply(p)->enhanced, "4.7.1");
	assert_string_equal(smtp_parser_reply(p)->text, "Greylisted, try later");
	smtp_parser_free(p);
}

static void
bad(const char *text, const char *why)
{
	struct smtp_parser *p = smtp_parser_new();
	size_t used;

	assert_int_equal(feed(p, text, 0, &used), SMTP_PARSE_ERROR);
	if (strstr(smtp_parser_error(p), why) == NULL)
		fail_msg(
		    "\"%s\": error \"%s\" does not say \"%s\"", text, smtp_parser_error(p), why);
	/* once failed, it stays failed */
	assert_int_equal(smtp_parser_feed(p, "250 ok\r\n", 8, &used), SMTP_PARSE_ERROR);
	smtp_parser_free(p);
}

static void
test_errors(void **state)
{
	char *big;
	size_t n;

	(void)state;
	bad("hello\r\n", "three-digit code");
	bad("25\r\n", "three-digit code");
	bad("199 too low\r\n", "outside 2xx-5xx");
	bad("600 too high\r\n", "outside 2xx-5xx");
	bad("250_x\r\n", "not a space or '-'");
	bad("250-a\r\n251 b\r\n", "changes its code");
	big = malloc(SMTP_MAX_LINE + 16);
	memset(big, 'x', SMTP_MAX_LINE + 8);
	memcpy(big, "250 ", 4);
	big[SMTP_MAX_LINE + 8] = '\0';
	bad(big, "longer than");
	free(big);
	n = (SMTP_MAX_LINES + 1) * 8;
	big = malloc(n + 1);
	for (size_t i = 0; i < SMTP_MAX_LINES + 1; i++)
		memcpy(big + i * 8, "250-ab\r\n", 8);
	big[n] = '\0';
	bad(big, "lines");
	free(big);
	{
		struct smtp_parser *p = smtp_parser_new();
		size_t used;

		assert_int_equal(smtp_parser_feed(p, "250 a\0b\r\n", 9, &used), SMTP_PARSE_ERROR);
		assert_non_null(strstr(smtp_parser_error(p), "NUL"));
		smtp_parser_free(p);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_single_and_enhanced),
	    cmocka_unit_test(test_multiline_any_split),
	    cmocka_unit_test(test_multiline_enhanced_text),
	    cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
