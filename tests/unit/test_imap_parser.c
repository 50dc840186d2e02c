/*
 * test_imap_parser.c - the IMAP response parser on transcripts: each fed
 * whole, one byte at a time and in random splits (fixed seeds), which must
 * all give the same responses. Literals split across reads, {n+} and ~{n},
 * quoted strings with escapes, nested lists, NIL, status texts, BYE, a
 * streamed literal, and hostile input (a 2 GB literal announced, lines over
 * the bound, garbage) that must each end in a specific error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/imap.h"

/* ---- a canonical text form of responses, to compare ---- */

struct sbuf {
	char *s;
	size_t len, cap;
};

static void
sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = realloc(b->s, b->cap);
		assert_non_null(b->s);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void
sb_args(struct sbuf *b, const struct imap_arg *a)
{
	char num[64];

	for (; a != NULL; a = a->next) {
		sb_str(b, " ");
		switch (a->type) {
		case IMAP_ARG_ATOM: sb_str(b, a->str); break;
		case IMAP_ARG_STRING:
			sb_str(b, "\"");
			sb_put(b, a->str, a->len);
			sb_str(b, "\"");
			break;
		case IMAP_ARG_LITERAL:
			snprintf(num, sizeof(num), "{%zu:", a->len);
			sb_str(b, num);
			for (size_t i = 0; i < a->len; i++) {
				/* NULs would end the text: show them escaped. */
				if (a->str[i] == '\0')
					sb_str(b, "\\0");
				else
					sb_put(b, a->str + i, 1);
			}
			sb_str(b, "}");
			break;
		case IMAP_ARG_STREAMED:
			snprintf(num, sizeof(num), "{stream %zu}", a->len);
			sb_str(b, num);
			break;
		case IMAP_ARG_NIL: sb_str(b, "NIL"); break;
		case IMAP_ARG_LIST:
			snprintf(num, sizeof(num), "(%zu:", a->n);
			sb_str(b, num);
			sb_args(b, a->list);
			sb_str(b, ")");
			break;
		}
	}
}

static void
sb_resp(struct sbuf *b, const struct imap_response *r)
{
	char num[32];

	sb_str(b, r->kind == IMAP_RESP_TAGGED ? "T " : r->kind == IMAP_RESP_UNTAGGED ? "U " : "C ");
	if (r->tag != NULL) {
		sb_str(b, r->tag);
		sb_str(b, " ");
	}
	if (r->kind == IMAP_RESP_CONTINUE) {
		sb_str(b, r->text);
	} else if (r->status != IMAP_ST_NONE) {
		sb_str(b, imap_status_str(r->status));
		if (r->code != NULL) {
			sb_str(b, " [");
			sb_str(b, r->code);
			sb_str(b, "]");
		}
		sb_str(b, " |");
		sb_str(b, r->text);
	} else {
		if (r->has_number) {
			snprintf(num, sizeof(num), "%u ", r->number);
			sb_str(b, num);
		}
		sb_str(b, r->keyword);
		snprintf(num, sizeof(num), " n=%zu", r->n_args);
		sb_str(b, num);
		sb_args(b, r->args);
	}
	sb_str(b, "\n");
}

/* Split modes: 0 whole, 1 one byte at a time, >= 2 random splits seeded. */
struct feed_result {
	char *out; /* canonical responses, caller frees */
	int error; /* 1 when the parser failed */
	char err[256];
};

static struct feed_result
feed(const char *data, size_t len, unsigned mode, const struct imap_limits *lim)
{
	struct imap_parser *p = imap_parser_new(lim);
	struct sbuf b = {0};
	struct feed_result fr;
	size_t off = 0;
	unsigned seed = mode;

	memset(&fr, 0, sizeof(fr));
	sb_str(&b, "");
	while (off < len && !fr.error) {
		size_t chunk = mode == 0 ? len - off
		    : mode == 1          ? 1
		                         : 1 + (size_t)(rand_r(&seed) % 17);
		size_t pos = 0;

		if (chunk > len - off)
			chunk = len - off;
		/* Feed this chunk completely, collecting every response in it. */
		while (pos < chunk) {
			size_t used = 0;
			enum imap_parse r =
			    imap_parser_feed(p, data + off + pos, chunk - pos, &used);

			pos += used;
			if (r == IMAP_PARSE_ERROR) {
				fr.error = 1;
				snprintf(fr.err, sizeof(fr.err), "%s", imap_parser_error(p));
				break;
			}
			if (r == IMAP_PARSE_DONE)
				sb_resp(&b, imap_parser_response(p));
			else
				assert_int_equal(pos, chunk);
		}
		off += chunk;
	}
	imap_parser_free(p);
	fr.out = b.s;
	return fr;
}

/* Feed every way; all must agree; return the canonical output. */
static char *
feed_all(const char *data, size_t len)
{
	struct feed_result ref = feed(data, len, 0, NULL);

	assert_false(ref.error);
	for (unsigned mode = 1; mode < 40; mode++) {
		struct feed_result fr = feed(data, len, mode, NULL);

		assert_false(fr.error);
		assert_string_equal(fr.out, ref.out);
		free(fr.out);
	}
	return ref.out;
}

static void
expect_error(const char *data, size_t len, const struct imap_limits *lim, const char *needle)
{
	for (unsigned mode = 0; mode < 10; mode++) {
		struct feed_result fr = feed(data, len, mode, lim);

		assert_true(fr.error);
		if (strstr(fr.err, needle) == NULL)
			fail_msg("error \"%s\" lacks \"%s\"", fr.err, needle);
		free(fr.out);
	}
}

#define S(x) x, sizeof(x) - 1

static void
test_dovecot_session(void **state)
{
	static const char t[] =
	    "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
	    "AUTH=PLAIN] Dovecot (Debian) ready.\r\n"
	    "* CAPABILITY IMAP4rev1 LITERAL+ STARTTLS LOGINDISABLED\r\n"
	    "A001 OK Pre-login capabilities listed, post-login capabilities have more.\r\n"
	    "A002 OK [CAPABILITY IMAP4rev1 QUOTA MOVE] Logged in\r\n"
	    "A003 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
	    "* BYE Logging out\r\n"
	    "A004 OK Logout completed (0.001 + 0.000 secs).\r\n";
	char *out = feed_all(S(t));

	(void)state;
	assert_string_equal(out,
	    "U OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
	    "AUTH=PLAIN] |Dovecot (Debian) ready.\n"
	    "U CAPABILITY n=4 IMAP4rev1 LITERAL+ STARTTLS LOGINDISABLED\n"
	    "T A001 OK |Pre-login capabilities listed, post-login capabilities have more.\n"
	    "T A002 OK [CAPABILITY IMAP4rev1 QUOTA MOVE] |Logged in\n"
	    "T A003 NO [AUTHENTICATIONFAILED] |Authentication failed.\n"
	    "U BYE |Logging out\n"
	    "T A004 OK |Logout completed (0.001 + 0.000 secs).\n");
	free(out);
}

static void
test_literals_split(void **state)
{
	static const char t[] =
	    "* 12 FETCH (UID 40 RFC822.SIZE 11 BODY[] {11}\r\nhello\r\nworl FLAGS (\\Seen))\r\n"
	    "* 13 FETCH (BODY[HEADER.FIELDS (FROM SUBJECT)] {5+}\r\nab\r\nc)\r\n"
	    "* 14 FETCH (BINARY[1] ~{3}\r\n\x00\x01\x02 UID 7)\r\n"
	    "* 15 FETCH (BODY[] {0}\r\n)\r\n"
	    "* LIST () \"/\" {7}\r\nfoo bar\r\n";
	char *out = feed_all(S(t));

	(void)state;
	assert_non_null(strstr(out,
	    "U 12 FETCH n=1 (8: UID 40 RFC822.SIZE 11 BODY[] {11:hello\r\nworl} "
	    "FLAGS (1: \\Seen))\n"));
	assert_non_null(
	    strstr(out, "U 13 FETCH n=1 (2: BODY[HEADER.FIELDS (FROM SUBJECT)] {5:ab\r\nc})\n"));
	assert_non_null(strstr(out, "U 14 FETCH n=1 (4: BINARY[1] {3:\\0\x01\x02} UID 7)\n"));
	assert_non_null(strstr(out, "U 15 FETCH n=1 (2: BODY[] {0:})\n"));
	assert_non_null(strstr(out, "U LIST n=3 (0:) \"/\" {7:foo bar}\n"));
	free(out);
}

static void
test_quoted_nested_nil(void **state)
{
	static const char t[] = "* LIST (\\HasNoChildren \\Sent) \".\" \"a \\\"b\\\" \\\\c\"\r\n"
	                        "* LIST (\\Noselect) NIL \"\"\r\n"
	                        "* 1 FETCH (BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" "
	                        "\"utf-8\") NIL NIL \"7bit\" 5 1 "
	                        "NIL NIL NIL NIL)(\"application\" \"pdf\" (\"name\" \"a.pdf\") NIL "
	                        "NIL \"base64\" 100 NIL "
	                        "(\"attachment\" (\"filename\" \"a.pdf\")) NIL NIL) \"mixed\" "
	                        "(\"boundary\" \"x\") NIL NIL NIL))\r\n"
	                        "* STATUS \"Entw&APw-rfe\" (MESSAGES 7 UIDNEXT 8 SIZE 20242)\r\n"
	                        "* 3 EXISTS\r\n"
	                        "* NAMESPACE ((\"\" \".\")) NIL NIL\r\n"
	                        "+ \r\n"
	                        "+\r\n"
	                        "+ YmFzZTY0\r\n"
	                        "* OK [UIDVALIDITY 1700000014] UIDs valid {5}\r\n";
	char *out = feed_all(S(t));

	(void)state;
	assert_non_null(
	    strstr(out, "U LIST n=3 (2: \\HasNoChildren \\Sent) \".\" \"a \"b\" \\c\"\n"));
	assert_non_null(strstr(out, "U LIST n=3 (1: \\Noselect) NIL \"\"\n"));
	assert_non_null(strstr(out, "U 1 FETCH n=1 (2: BODYSTRUCTURE (7: (12: \"text\""));
	assert_non_null(
	    strstr(out, "U STATUS n=2 \"Entw&APw-rfe\" (6: MESSAGES 7 UIDNEXT 8 SIZE 20242)\n"));
	assert_non_null(strstr(out, "U 3 EXISTS n=0\n"));
	assert_non_null(strstr(out, "U NAMESPACE n=3 (1: (2: \"\" \".\")) NIL NIL\n"));
	assert_non_null(strstr(out, "C \nC \nC YmFzZTY0\n"));
	/* A status text ending in {5} is text, not a literal. */
	assert_non_null(strstr(out, "U OK [UIDVALIDITY 1700000014] |UIDs valid {5}\n"));
	free(out);
}

static void
test_helpers(void **state)
{
	struct imap_parser *p = imap_parser_new(NULL);
	static const char t[] = "a7 OK [CAPABILITY IMAP4rev1 MOVE] done\r\n* 2 FETCH (UID 9)\r\n";
	size_t used;
	const struct imap_response *r;
	const char *rest;

	(void)state;
	assert_int_equal(imap_parser_feed(p, S(t), &used), IMAP_PARSE_DONE);
	r = imap_parser_response(p);
	assert_true(imap_code_is(r, "CAPABILITY", &rest));
	assert_string_equal(rest, "IMAP4rev1 MOVE");
	assert_false(imap_code_is(r, "CAPA", NULL));
	assert_int_equal(
	    imap_parser_feed(p, t + used, sizeof(t) - 1 - used, &used), IMAP_PARSE_DONE);
	r = imap_parser_response(p);
	assert_true(imap_arg_is(imap_arg_nth(r->args->list, 0), "uid"));
	assert_string_equal(imap_arg_nth(r->args->list, 1)->str, "9");
	assert_null(imap_arg_nth(r->args->list, 2));
	imap_parser_free(p);
}

/* ---- hostile input ---- */

static void
test_huge_literal(void **state)
{
	static const char t[] = "* 1 FETCH (BODY[] {2147483648}\r\n";
	static const char t2[] = "* 1 FETCH (BODY[] {99999999999999999999999}\r\n";
	struct imap_parser *p = imap_parser_new(NULL);
	size_t used;

	(void)state;
	/* The error comes on the announcement: nothing of 2 GB is allocated
	 * (ASan would report an allocation that size as a failure anyway). */
	assert_int_equal(imap_parser_feed(p, S(t), &used), IMAP_PARSE_ERROR);
	assert_non_null(strstr(imap_parser_error(p), "2147483648"));
	assert_non_null(strstr(imap_parser_error(p), "max_literal"));
	/* The parser stays failed. */
	assert_int_equal(imap_parser_feed(p, S("* OK\r\n"), &used), IMAP_PARSE_ERROR);
	imap_parser_free(p);
	expect_error(S(t), NULL, "max_literal");
	expect_error(S(t2), NULL, "not a number");
}

static int
sink_count(void *arg, const char *data, size_t len, uint64_t offset, uint64_t total, int first)
{
	uint64_t *got = arg;

	(void)data;
	if (first)
		assert_int_equal(offset, 0);
	assert_int_equal(offset, *got);
	assert_true(offset + len <= total);
	*got += len;
	return 0;
}

static void
test_streamed_literal(void **state)
{
	size_t n = 3000000, hlen;
	char hdr[64];
	char *buf;
	struct imap_parser *p;
	struct imap_limits lim = {0};
	uint64_t got = 0;
	size_t off = 0, used;
	unsigned seed = 7;
	int done = 0;

	(void)state;
	hlen = (size_t)snprintf(hdr, sizeof(hdr), "* 1 FETCH (BODY[] {%zu}\r\n", n);
	buf = malloc(hlen + n + 3);
	assert_non_null(buf);
	memcpy(buf, hdr, hlen);
	memset(buf + hlen, 'x', n);
	memcpy(buf + hlen + n, ")\r\n", 3);
	/* The literal is above max_literal, but it goes to the sink. */
	lim.max_literal = 1000;
	p = imap_parser_new(&lim);
	imap_parser_set_sink(p, 4096, sink_count, &got);
	while (off < hlen + n + 3) {
		size_t chunk = 1 + (size_t)(rand_r(&seed) % 70000);
		enum imap_parse r;

		if (chunk > hlen + n + 3 - off)
			chunk = hlen + n + 3 - off;
		r = imap_parser_feed(p, buf + off, chunk, &used);
		assert_int_not_equal(r, IMAP_PARSE_ERROR);
		off += used;
		if (r == IMAP_PARSE_DONE) {
			const struct imap_response *resp = imap_parser_response(p);
			const struct imap_arg *lit = imap_arg_nth(resp->args->list, 1);

			assert_int_equal(lit->type, IMAP_ARG_STREAMED);
			assert_int_equal(lit->len, n);
			done = 1;
		}
	}
	assert_true(done);
	assert_int_equal(got, n);
	imap_parser_free(p);
	free(buf);
}

static void
test_bounds(void **state)
{
	struct imap_limits lim = {0};
	char *line;
	size_t n = 5000;

	(void)state;
	lim.max_line = 1024;
	line = malloc(n + 3);
	assert_non_null(line);
	memcpy(line, "* OK ", 5);
	memset(line + 5, 'a', n - 5);
	memcpy(line + n, "\r\n", 2);
	expect_error(line, n + 2, &lim, "max_line");
	/* Without a CRLF at all, the bound still holds. */
	expect_error(line, n, &lim, "max_line");
	free(line);

	lim.max_line = 0;
	lim.max_depth = 3;
	expect_error(S("* X ((((a))))\r\n"), &lim, "max_depth");
	lim.max_depth = 0;
	lim.max_response = 100;
	expect_error(S("* 1 FETCH (BODY[] {60}\r\n"
	               "012345678901234567890123456789012345678901234567890123456789 X {60}\r\n"),
	    &lim, "max_response");
}

static void
test_garbage(void **state)
{
	(void)state;
	expect_error(S("\r\n"), NULL, "empty line");
	expect_error(S("A1 FOO bar\r\n"), NULL, "without OK");
	expect_error(S("A1\r\n"), NULL, "nothing after the tag");
	expect_error(S("* 1 FETCH (UID 1\r\n"), NULL, "unbalanced");
	expect_error(S("* X a)\r\n"), NULL, "unbalanced");
	expect_error(S("* LIST () \"/\" \"abc\r\n"), NULL, "unterminated");
	expect_error(S("* LIST () \"/\" \"a\\bc\"\r\n"), NULL, "bad escape");
	expect_error(S("* X \x01\r\n"), NULL, "unexpected character");
	expect_error(S("A1 BYE x\r\n"), NULL, "tagged response with BYE");
	expect_error(S("* 99999999999 EXISTS\r\n"), NULL, "message number");
	expect_error(S("* X {3} a\r\n"), NULL, "");
	expect_error(S("HTTP/1.1 400 Bad Request\r\n"), NULL, "");
}

/* Random bytes: the parser may accept or reject, never crash or hang. */
static void
test_random_bytes(void **state)
{
	unsigned seed = 42;
	char buf[512];

	(void)state;
	for (int round = 0; round < 2000; round++) {
		struct imap_parser *p = imap_parser_new(NULL);
		size_t n = (size_t)(rand_r(&seed) % sizeof(buf)), off = 0;

		for (size_t i = 0; i < n; i++) {
			int r = rand_r(&seed) % 20;

			buf[i] = r == 0 ? '\n'
			    : r == 1    ? '{'
			    : r == 2    ? '}'
			    : r == 3    ? '('
			    : r == 4    ? '"'
			                : (char)(rand_r(&seed) & 0xff);
		}
		while (off < n) {
			size_t used;
			enum imap_parse r = imap_parser_feed(p, buf + off, n - off, &used);

			if (r == IMAP_PARSE_ERROR)
				break;
			assert_true(used > 0 || off == n);
			off += used;
		}
		imap_parser_free(p);
	}
}

/* Many connections each within max_response still meet the process budget
 * (issue 14: 16 hostile servers must not add up to a gigabyte). */
static void
test_process_budget(void **state)
{
	enum { N = 80, LINE = 1000000 };
	struct imap_parser *ps[N];
	char *buf = malloc(LINE);
	size_t used, failed_at = 0;

	(void)state;
	assert_non_null(buf);
	memset(buf, 'a', LINE);
	memcpy(buf, "* OK ", 5);
	for (size_t i = 0; i < N; i++) {
		enum imap_parse r;

		ps[i] = imap_parser_new(NULL);
		r = imap_parser_feed(ps[i], buf, LINE, &used);
		if (r == IMAP_PARSE_ERROR && failed_at == 0) {
			failed_at = i;
			assert_non_null(strstr(imap_parser_error(ps[i]), "input budget"));
		}
	}
	/* 64 MiB / 1 MB: the 68th connection is the first refused. */
	assert_int_equal(failed_at, IMAP_PROCESS_BUDGET / LINE);
	for (size_t i = 0; i < N; i++)
		imap_parser_free(ps[i]);
	/* Freed parsers give their share back. */
	ps[0] = imap_parser_new(NULL);
	assert_int_equal(imap_parser_feed(ps[0], buf, LINE, &used), IMAP_PARSE_MORE);
	imap_parser_free(ps[0]);
	free(buf);
}

/* Values crossing servers: an INTERNALDATE is parsed and re-written, never
 * passed on as text (issue 14). */
static void
test_date_values(void **state)
{
	static const char *bad[] = {
	    "01-Jan-2024 10:00:00 +0000\" (\\Flagged INJECTED) \"01-Jan-2024 10:00:00 +0000",
	    "99-Foo-0000 99:99:99 +9999", "31-Apr-2024 10:00:00 +0000",
	    "29-Feb-2023 10:00:00 +0000", "01-Jan-2024 24:00:00 +0000",
	    "01-Jan-2024 10:00:00 +0000 ", "01-Jan-2024 10:00:00", "01-Jan-0000 10:00:00 +0000", "",
	    "1-Jan-2024 10:00:00 +00a0", "01-Jan-2024 10:00:00 +2460"};
	struct imap_date d;
	char out[IMAP_DATE_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(imap_date_parse(bad[i], strlen(bad[i]), &d), -1);
	assert_int_equal(imap_date_parse(S(" 5-feb-2021 23:59:60 -0930"), &d), 0);
	imap_date_format(&d, out);
	assert_string_equal(out, "05-Feb-2021 23:59:60 -0930");
	assert_int_equal(imap_date_parse(S("29-Feb-2024 00:00:00 +1400"), &d), 0);
	imap_date_format(&d, out);
	assert_string_equal(out, "29-Feb-2024 00:00:00 +1400");
	/* A NUL inside is not the end. */
	assert_int_equal(imap_date_parse("01-Jan-2024 10:00:00 +0000\0x", 28, &d), -1);
}

static void
test_flag_values(void **state)
{
	(void)state;
	assert_true(imap_flag_valid(S("\\Seen")));
	assert_true(imap_flag_valid(S("$Label1")));
	assert_true(imap_flag_valid(S("NonJunk")));
	assert_false(imap_flag_valid(S("\\")));
	assert_false(imap_flag_valid(S("")));
	assert_false(imap_flag_valid(S("a b")));
	assert_false(imap_flag_valid(S("x)")));
	assert_false(imap_flag_valid(S("Bad]Flag")));
	assert_false(imap_flag_valid(S("q\"")));
	assert_false(imap_flag_valid(S("{5}")));
	assert_false(imap_flag_valid(S("caf\xc3\xa9")));
	assert_false(imap_flag_valid(S("\\Seen\\")));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dovecot_session),
	    cmocka_unit_test(test_literals_split),
	    cmocka_unit_test(test_quoted_nested_nil),
	    cmocka_unit_test(test_helpers),
	    cmocka_unit_test(test_huge_literal),
	    cmocka_unit_test(test_streamed_literal),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_random_bytes),
	    cmocka_unit_test(test_date_values),
	    cmocka_unit_test(test_process_budget),
	    cmocka_unit_test(test_flag_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
