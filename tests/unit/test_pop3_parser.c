/*
 * test_pop3_parser.c - the POP3 reply parser on transcripts, fed whole, one
 * byte at a time and in random splits: greeting, CAPA with dot-stuffed
 * lines, -ERR to a multi-line command, [AUTH] codes, SASL "+ ", and hostile
 * input (lines and bodies over the bounds, garbage, NUL bytes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/pop3.h"

#define S(x) x, sizeof(x) - 1

/*
 * Feed DATA split by MODE (0 whole, 1 bytewise, >= 2 random). MULTI[i] says
 * whether reply i is multi-line. Returns the replies as text (caller frees),
 * or NULL with ERR set.
 */
static char *
feed(const char *data, size_t len, unsigned mode, const int *multi, size_t max_line,
    size_t max_body, char *err, size_t errlen)
{
	struct pop3_parser *p = pop3_parser_new(max_line, max_body);
	char *out = calloc(1, 1);
	size_t outlen = 0, off = 0, nreply = 0;
	unsigned seed = mode;

	err[0] = '\0';
	pop3_parser_expect(p, multi[0]);
	while (off < len) {
		size_t chunk = mode == 0 ? len - off
		    : mode == 1          ? 1
		                         : 1 + (size_t)(rand_r(&seed) % 9);
		size_t pos = 0;

		if (chunk > len - off)
			chunk = len - off;
		while (pos < chunk) {
			size_t used = 0;
			enum pop3_parse r =
			    pop3_parser_feed(p, data + off + pos, chunk - pos, &used);

			pos += used;
			if (r == POP3_PARSE_ERROR) {
				snprintf(err, errlen, "%s", pop3_parser_error(p));
				pop3_parser_free(p);
				free(out);
				return NULL;
			}
			if (r == POP3_PARSE_DONE) {
				const struct pop3_reply *rp = pop3_parser_reply(p);
				char line[512];
				int n = snprintf(line, sizeof(line), "%s [%s] |%s|",
				    rp->kind == POP3_REPLY_OK        ? "OK"
				        : rp->kind == POP3_REPLY_ERR ? "ERR"
				                                     : "+",
				    rp->code != NULL ? rp->code : "", rp->text);

				for (size_t i = 0; i < rp->n_lines; i++)
					n += snprintf(line + n, sizeof(line) - (size_t)n, " <%s>",
					    rp->lines[i]);
				out = realloc(out, outlen + (size_t)n + 2);
				memcpy(out + outlen, line, (size_t)n);
				outlen += (size_t)n;
				out[outlen++] = '\n';
				out[outlen] = '\0';
				nreply++;
				pop3_parser_expect(p, multi[nreply]);
			}
		}
		off += chunk;
	}
	pop3_parser_free(p);
	return out;
}

static char *
feed_all(const char *data, size_t len, const int *multi)
{
	char err[256];
	char *ref = feed(data, len, 0, multi, 0, 0, err, sizeof(err));

	assert_non_null(ref);
	for (unsigned mode = 1; mode < 30; mode++) {
		char *o = feed(data, len, mode, multi, 0, 0, err, sizeof(err));

		assert_non_null(o);
		assert_string_equal(o, ref);
		free(o);
	}
	return ref;
}

static void
expect_error(const char *data, size_t len, const int *multi, size_t max_line, size_t max_body,
    const char *needle)
{
	char err[256];

	for (unsigned mode = 0; mode < 10; mode++) {
		char *o = feed(data, len, mode, multi, max_line, max_body, err, sizeof(err));

		assert_null(o);
		if (strstr(err, needle) == NULL)
			fail_msg("error \"%s\" lacks \"%s\"", err, needle);
	}
}

static void
test_session(void **state)
{
	static const char t[] =
	    "+OK Dovecot (Debian) ready.\r\n"
	    "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nSTLS\r\nSASL PLAIN\r\n.\r\n"
	    "+OK Begin TLS negotiation now.\r\n"
	    "-ERR [AUTH] Authentication failed.\r\n"
	    "+OK Logged in.\r\n"
	    "+OK 3 1200\r\n"
	    "+OK 3 messages:\r\n1 400\r\n..2 hidden\r\n.\r\n"
	    "-ERR [SYS/TEMP] no UIDL now\r\n"
	    "+ \r\n"
	    "+OK Logging out.\r\n";
	static const int multi[] = {0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0};
	char *out = feed_all(S(t), multi);

	(void)state;
	assert_string_equal(out,
	    "OK [] |Dovecot (Debian) ready.|\n"
	    "OK [] || <CAPA> <TOP> <UIDL> <RESP-CODES> <PIPELINING> <STLS> <SASL PLAIN>\n"
	    "OK [] |Begin TLS negotiation now.|\n"
	    "ERR [AUTH] |Authentication failed.|\n"
	    "OK [] |Logged in.|\n"
	    "OK [] |3 1200|\n"
	    "OK [] |3 messages:| <1 400> <.2 hidden>\n"
	    "ERR [SYS/TEMP] |no UIDL now|\n"
	    "+ [] ||\n"
	    "OK [] |Logging out.|\n");
	free(out);
}

static void
test_bare_lf_and_empty_body(void **state)
{
	static const char t[] = "+OK hi\n+OK\n.\n";
	static const int multi[] = {0, 1, 0};
	char *out = feed_all(S(t), multi);

	(void)state;
	assert_string_equal(out, "OK [] |hi|\nOK [] ||\n");
	free(out);
}

static void
test_hostile(void **state)
{
	static const int single[] = {0, 0, 0};
	static const int multi[] = {1, 1, 1};
	char big[3000];

	(void)state;
	expect_error(S("HTTP/1.0 200 OK\r\n"), single, 0, 0, "not a POP3 reply");
	expect_error(S("+OKAY\r\n"), single, 0, 0, "not a POP3 reply");
	expect_error(S("\r\n"), single, 0, 0, "not a POP3 reply");
	expect_error(S("+OK a\0b\r\n"), single, 0, 0, "NUL");
	memset(big, 'a', sizeof(big));
	memcpy(big, "+OK ", 4);
	expect_error(big, sizeof(big), single, 1000, 0, "max_line");
	/* A multi-line reply that never ends stays within max_body. */
	{
		size_t n = 200000, off = 0;
		char *b = malloc(n);

		assert_non_null(b);
		memcpy(b, "+OK\r\n", 5);
		off = 5;
		while (off + 10 <= n) {
			memcpy(b + off, "12345678\r\n", 10);
			off += 10;
		}
		expect_error(b, off, multi, 0, 65536, "max_body");
		free(b);
	}
}

static void
test_random_bytes(void **state)
{
	unsigned seed = 9;
	char buf[300];
	static const int multi[512] = {1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1};

	(void)state;
	for (int round = 0; round < 3000; round++) {
		size_t n = (size_t)(rand_r(&seed) % sizeof(buf));
		char err[256];
		char *o;

		for (size_t i = 0; i < n; i++) {
			int r = rand_r(&seed) % 12;

			buf[i] = r == 0 ? '\n'
			    : r == 1    ? '.'
			    : r == 2    ? '+'
			    : r == 3    ? '-'
			                : (char)(rand_r(&seed) & 0xff);
		}
		o = feed(buf, n, (unsigned)round % 3, multi, 0, 0, err, sizeof(err));
		free(o);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_session),
	    cmocka_unit_test(test_bare_lf_and_empty_body),
	    cmocka_unit_test(test_hostile),
	    cmocka_unit_test(test_random_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
