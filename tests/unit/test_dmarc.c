/*
 * test_dmarc.c - the DMARC record parser (src/dmarc.c) against RFC 7489
 * sections 6.3 and 6.4: record selection, every tag, defaults, and syntax
 * errors with their positions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/dmarc.h"

static struct dmarc_record *
parse_ok(const char *txt)
{
	struct dmarc_record *rec = NULL;
	struct dmarc_error err;

	if (dmarc_parse(txt, strlen(txt), &rec, &err) != 0)
		fail_msg("\"%s\": unexpected error at %zu: %s", txt, err.pos, err.msg);
	assert_non_null(rec);
	return rec;
}

/* Parse TXT expecting an error at POS whose message contains WORD. */
static void
parse_bad(const char *txt, size_t pos, const char *word)
{
	struct dmarc_record *rec = (struct dmarc_record *)1;
	struct dmarc_error err;

	if (dmarc_parse(txt, strlen(txt), &rec, &err) == 0)
		fail_msg("\"%s\": parsed, expected an error at %zu", txt, pos);
	assert_null(rec);
	if (err.pos != pos || strstr(err.msg, word) == NULL)
		fail_msg("\"%s\": error at %zu \"%s\", expected at %zu with \"%s\"", txt, err.pos,
		    err.msg, pos, word);
}

static void
test_selection(void **state)
{
	(void)state;
	assert_true(dmarc_is_record("v=DMARC1; p=none", 16));
	assert_true(dmarc_is_record("v = DMARC1;p=none", 17));
	assert_true(dmarc_is_record("V=DMARC1", 8));
	assert_true(dmarc_is_record(" v=DMARC1 ; p=none", 18));
	assert_false(dmarc_is_record("v=DMARC10; p=none", 17));
	assert_false(dmarc_is_record("v=dmarc1; p=none", 16)); /* %x44... is case-sensitive */
	assert_false(dmarc_is_record("p=none; v=DMARC1", 16));
	assert_false(dmarc_is_record("v=spf1 -all", 11));
	assert_false(dmarc_is_record("", 0));
	assert_false(dmarc_is_record("v=", 2));
}

static void
test_minimal_and_defaults(void **state)
{
	struct dmarc_record *rec = parse_ok("v=DMARC1; p=none");

	(void)state;
	assert_int_equal(rec->p, DMARC_POLICY_NONE);
	assert_int_equal(rec->sp, DMARC_POLICY_NONE); /* sp defaults to p */
	assert_int_equal(rec->pct, 100);
	assert_int_equal(rec->adkim, 'r');
	assert_int_equal(rec->aspf, 'r');
	assert_int_equal(rec->fo, DMARC_FO_0);
	assert_string_equal(rec->fo_text, "0");
	assert_string_equal(rec->rf, "afrf");
	assert_int_equal(rec->ri, 86400);
	assert_int_equal(rec->n_rua, 0);
	assert_int_equal(rec->written, DMARC_TAG_P);
	dmarc_free(rec);
	rec = parse_ok("v=DMARC1;p=reject;");
	assert_int_equal(rec->p, DMARC_POLICY_REJECT);
	dmarc_free(rec);
	rec = parse_ok("v=DMARC1 ;  P = Quarantine ;  ");
	assert_int_equal(rec->p, DMARC_POLICY_QUARANTINE);
	dmarc_free(rec);
}

static void
test_every_tag(void **state)
{
	struct dmarc_record *rec =
	    parse_ok("v=DMARC1; p=reject; sp=quarantine; pct=50; "
	             "rua=mailto:agg@example.com, mailto:agg@other.example!10m; "
	             "ruf=mailto:afr@example.com!512; adkim=s; aspf=S; fo=1 : d:s; rf=afrf:iodef; "
	             "ri=3600");

	(void)state;
	assert_int_equal(rec->p, DMARC_POLICY_REJECT);
	assert_int_equal(rec->sp, DMARC_POLICY_QUARANTINE);
	assert_int_equal(rec->pct, 50);
	assert_int_equal(rec->n_rua, 2);
	assert_string_equal(rec->rua[0].uri, "mailto:agg@example.com");
	assert_int_equal(rec->rua[0].max_bytes, 0);
	assert_string_equal(rec->rua[1].uri, "mailto:agg@other.example");
	assert_int_equal(rec->rua[1].max_bytes, 10 * 1024 * 1024);
	assert_int_equal(rec->n_ruf, 1);
	assert_int_equal(rec->ruf[0].max_bytes, 512);
	assert_int_equal(rec->adkim, 's');
	assert_int_equal(rec->aspf, 's');
	assert_int_equal(rec->fo, DMARC_FO_1 | DMARC_FO_D | DMARC_FO_S);
	assert_string_equal(rec->fo_text, "1:d:s");
	assert_string_equal(rec->rf, "afrf:iodef");
	assert_int_equal(rec->ri, 3600);
	assert_int_equal(rec->n_unknown, 0);
	dmarc_free(rec);
}

static void
test_limits(void **state)
{
	struct dmarc_record *rec;

	(void)state;
	rec = parse_ok("v=DMARC1; p=none; pct=0; ri=4294967295; rua=https://r.example/x!1t");
	assert_int_equal(rec->pct, 0);
	assert_int_equal(rec->ri, 4294967295U);
	assert_int_equal(rec->rua[0].max_bytes, 1ULL << 40);
	dmarc_free(rec);
	parse_bad("v=DMARC1; p=none; pct=101", 22, "out of range");
	parse_bad("v=DMARC1; p=none; pct=0100", 22, "out of range");
	parse_bad("v=DMARC1; p=none; ri=4294967296", 21, "out of range");
	parse_bad("v=DMARC1; p=none; rua=mailto:a@b!99999999999999999999", 33, "out of range");
}

static void
test_unknown_tags_kept(void **state)
{
	struct dmarc_record *rec = parse_ok("v=DMARC1; p=none; rue=mailto:x@example.com; x_1=2");

	(void)state;
	assert_int_equal(rec->n_unknown, 2);
	assert_string_equal(rec->unknown[0], "rue");
	assert_string_equal(rec->unknown[1], "x_1");
	assert_int_equal(rec->n_rua, 0);
	dmarc_free(rec);
}

static void
test_syntax_errors(void **state)
{
	(void)state;
	parse_bad("p=none; v=DMARC1", 0, "must start with v=DMARC1");
	parse_bad("v=DMARC1 p=none", 9, "expected \";\"");
	parse_bad("v=DMARC1; p=quarantin", 12, "none, quarantine or reject");
	parse_bad("v=DMARC1", 8, "p= is missing");
	parse_bad("v=DMARC1; rua=mailto:a@example.com", 34, "p= is missing");
	parse_bad("v=DMARC1; p=none; p=reject", 18, "appears twice");
	parse_bad("v=DMARC1; p=none; v=DMARC1", 18, "only once");
	parse_bad("v=DMARC1;; p=none", 9, "empty tag");
	parse_bad("v=DMARC1; 1p=none", 10, "tag name");
	parse_bad("v=DMARC1; p none", 12, "expected \"=\"");
	parse_bad("v=DMARC1; p=none; adkim=x", 24, "r (relaxed) or s (strict)");
	parse_bad("v=DMARC1; p=none; aspf=rs", 23, "r (relaxed) or s (strict)");
	parse_bad("v=DMARC1; p=none; pct=5%", 23, "decimal");
	parse_bad("v=DMARC1; p=none; pct=", 22, "needs a number");
	parse_bad("v=DMARC1; p=none; fo=2", 21, "0, 1, d and s");
	parse_bad("v=DMARC1; p=none; fo=1,d", 22, "separated by \":\"");
	parse_bad("v=DMARC1; p=none; rf=:afrf", 21, "report format");
	parse_bad("v=DMARC1; p=none; rua=dmarc@example.com", 22, "without a scheme");
	parse_bad("v=DMARC1; p=none; rua=mailto:a@example.com,", 43, "empty URI");
	parse_bad("v=DMARC1; p=none; rua=mailto:a@b mailto:c@d", 33, "separated by commas");
	parse_bad("v=DMARC1; p=none; rua=mailto:", 28, "nothing after");
	parse_bad("v=DMARC1; p=none; rua=mailto:a@b!", 32, "followed by a size");
	parse_bad("v=DMARC1; p=none; rua=mailto:a@b!10x", 35, "k, m, g or t");
	parse_bad("v=DMARC1; p=none; rua=mailto:a@b!10mb", 36, "after the size");
	parse_bad("v=DMARC1; p=none; rua=1mailto:a@b", 22, "scheme");
}

static void
test_bytes_and_bounds(void **state)
{
	struct dmarc_record *rec = NULL;
	struct dmarc_error err;
	char big[DMARC_MAX_RECORD + 2];
	char uris[2048];
	size_t o;
	static const char nul[] = "v=DMARC1; p=no\0ne";

	(void)state;
	assert_int_equal(dmarc_parse(nul, sizeof(nul) - 1, &rec, &err), -1);
	assert_int_equal(err.pos, 14);
	assert_non_null(strstr(err.msg, "0x00"));
	assert_int_equal(dmarc_parse("v=DMARC1; p=none\x80", 17, &rec, &err), -1);
	assert_int_equal(err.pos, 16);
	memset(big, 'a', sizeof(big));
	memcpy(big, "v=DMARC1; p=none; x=", 20);
	assert_int_equal(dmarc_parse(big, sizeof(big), &rec, &err), -1);
	assert_non_null(strstr(err.msg, "longer than"));
	o = (size_t)snprintf(uris, sizeof(uris), "v=DMARC1; p=none; rua=");
	for (int i = 0; i <= DMARC_MAX_URIS; i++)
		o += (size_t)snprintf(
		    uris + o, sizeof(uris) - o, "%smailto:r%d@example.com", i ? "," : "", i);
	assert_int_equal(dmarc_parse(uris, o, &rec, &err), -1);
	assert_non_null(strstr(err.msg, "more than 16 URIs"));
	assert_null(rec);
}

/* Every prefix of a valid record either parses or fails cleanly. */
static void
test_every_prefix(void **state)
{
	static const char full[] =
	    "v=DMARC1; p=reject; sp=none; pct=5; rua=mailto:a@b!1k,"
	    "mailto:c@d; ruf=mailto:e@f; adkim=s; aspf=r; fo=0:1:d:s; rf=afrf; ri=60; zz=1;";

	(void)state;
	for (size_t n = 0; n <= sizeof(full) - 1; n++) {
		struct dmarc_record *rec = NULL;
		struct dmarc_error err;

		if (dmarc_parse(full, n, &rec, &err) == 0)
			dmarc_free(rec);
		else
			assert_true(err.pos <= n);
	}
}

static void
test_starter(void **state)
{
	char *s = dmarc_starter_record("example.com");
	struct dmarc_record *rec = parse_ok(s);

	(void)state;
	assert_string_equal(s, "v=DMARC1; p=none; rua=mailto:dmarc-reports@example.com");
	assert_int_equal(rec->p, DMARC_POLICY_NONE);
	dmarc_free(rec);
	free(s);
	assert_string_equal(dmarc_policy_str(DMARC_POLICY_REJECT), "reject");
	assert_null(dmarc_policy_str(DMARC_POLICY_UNSET));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_selection),
	    cmocka_unit_test(test_minimal_and_defaults),
	    cmocka_unit_test(test_every_tag),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_unknown_tags_kept),
	    cmocka_unit_test(test_syntax_errors),
	    cmocka_unit_test(test_bytes_and_bounds),
	    cmocka_unit_test(test_every_prefix),
	    cmocka_unit_test(test_starter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
