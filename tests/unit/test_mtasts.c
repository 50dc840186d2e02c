/*
 * test_mtasts.c - MTA-STS (src/mtasts.h): the TXT record and policy grammars
 * of RFC 8461 sections 3.1 and 3.2 (its own examples), their errors, and the
 * MX patterns of section 4.1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/mtasts.h"

static int
txt(const char *s, char id[33], char *err)
{
	return mtasts_txt_parse(s, strlen(s), id, err, 200);
}

static void
test_txt(void **state)
{
	char id[33], err[200];

	(void)state;
	/* RFC 8461 section 3.1's example */
	assert_int_equal(txt("v=STSv1; id=20160831085700Z;", id, err), 1);
	assert_string_equal(id, "20160831085700Z");
	assert_int_equal(txt("v = STSv1 ;id = abc ; ext-1=val", id, err), 1);
	assert_string_equal(id, "abc");
	/* not STS records at all: ignored */
	assert_int_equal(txt("v=spf1 -all", id, err), 0);
	assert_int_equal(txt("v=STSv2; id=1", id, err), 0);
	assert_int_equal(txt("", id, err), 0);
	/* STS records that are broken */
	assert_int_equal(txt("v=STSv1; foo=bar", id, err), -1);
	assert_non_null(strstr(err, "no id="));
	assert_int_equal(txt("v=STSv1; id=has-dash", id, err), -1);
	assert_int_equal(txt("v=STSv1; id=123456789012345678901234567890123", id, err), -1);
	assert_non_null(strstr(err, "32"));
	assert_int_equal(txt("v=STSv1 id=1", id, err), -1);
	assert_int_equal(txt("v=STSv1; id=", id, err), -1);
}

static void
test_policy(void **state)
{
	static const char rfc[] = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
	                          "mx: *.example.net\r\nmx: backupmx.example.com\r\n"
	                          "max_age: 604800\r\n";
	struct mtasts_policy p;
	char err[200];

	(void)state;
	assert_int_equal(mtasts_policy_parse(rfc, strlen(rfc), &p, err, sizeof(err)), 0);
	assert_string_equal(p.mode, "enforce");
	assert_int_equal(p.max_age, 604800);
	assert_int_equal(p.n_mx, 3);
	assert_string_equal(p.mx[1], "*.example.net");
	mtasts_policy_free(&p);
	/* LF only, spaces around the value, unknown keys, no final terminator, mode none */
	{
		static const char none[] = "version:STSv1\nmode:  none \nx-ext: 1\nmax_age: 0";

		assert_int_equal(mtasts_policy_parse(none, strlen(none), &p, err, sizeof(err)), 0);
	}
	assert_string_equal(p.mode, "none");
	assert_int_equal(p.n_mx, 0);
	mtasts_policy_free(&p);
}

static void
bad_policy(const char *text, const char *why)
{
	struct mtasts_policy p;
	char err[200];

	assert_int_equal(mtasts_policy_parse(text, strlen(text), &p, err, sizeof(err)), -1);
	if (strstr(err, why) == NULL)
		fail_msg("\"%s\": \"%s\" does not say \"%s\"", text, err, why);
	assert_int_equal(p.n_mx, 0);
}

static void
test_policy_errors(void **state)
{
	(void)state;
	bad_policy("version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n", "STSv1");
	bad_policy("version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n", "mode must");
	bad_policy("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n", "above");
	bad_policy(
	    "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 12345678901\n", "10 digits");
	bad_policy("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n", "digits");
	bad_policy("version: STSv1\nmode: enforce\nmax_age: 60\n", "no mx");
	bad_policy("version: STSv1\nmode: enforce\nmx: a.example\n", "max_age");
	bad_policy("mode: enforce\nmx: a.example\nmax_age: 60\n", "version");
	bad_policy("version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 60\n", "mx pattern");
	bad_policy("version: STSv1\nmode: enforce\nmx: *.*.example\nmax_age: 60\n", "mx pattern");
	bad_policy("<html>hello</html>\n", "line 1");
	bad_policy("version: STSv1\nmode enforce\n", "line 2");
}

static void
test_mx_match(void **state)
{
	(void)state;
	assert_true(mtasts_mx_match("mail.example.com", "MAIL.example.com."));
	assert_true(mtasts_mx_match("*.example.net", "mx1.example.net"));
	/* one label only (section 4.1) */
	assert_false(mtasts_mx_match("*.example.net", "a.b.example.net"));
	assert_false(mtasts_mx_match("*.example.net", "example.net"));
	assert_false(mtasts_mx_match("*.example.net", ".example.net"));
	assert_false(mtasts_mx_match("mail.example.com", "mail.example.co"));
	assert_true(mtasts_mx_match(
	    "*.mail.protection.outlook.com", "contoso-com.mail.protection.outlook.com"));
}

static int
rpt(const char *s, char **uris, size_t *n, char *err)
{
	return mtasts_tlsrpt_parse(s, strlen(s), uris, 4, n, err, 200);
}

static void
test_tlsrpt(void **state)
{
	char *uris[4], err[200];
	size_t n;

	(void)state;
	/* RFC 8460 section 3's examples */
	assert_int_equal(rpt("v=TLSRPTv1; rua=mailto:reports@example.com", uris, &n, err), 1);
	assert_int_equal(n, 1);
	assert_string_equal(uris[0], "mailto:reports@example.com");
	free(uris[0]);
	assert_int_equal(rpt("v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt,"
	                     "mailto:r@example.com; ext=1;",
	                     uris, &n, err),
	    1);
	assert_int_equal(n, 2);
	assert_string_equal(uris[0], "https://reporting.example.com/v1/tlsrpt");
	free(uris[0]);
	free(uris[1]);
	assert_int_equal(rpt("v=spf1 -all", uris, &n, err), 0);
	assert_int_equal(rpt("v=TLSRPTv1", uris, &n, err), -1);
	assert_non_null(strstr(err, "no rua="));
	assert_int_equal(rpt("v=TLSRPTv1; rua=ftp://x.example/", uris, &n, err), -1);
	assert_non_null(strstr(err, "mailto: or https:"));
	assert_int_equal(n, 0);
	assert_int_equal(rpt("v=TLSRPTv1; rua=mailto:noat", uris, &n, err), -1);
	assert_int_equal(rpt("v=TLSRPTv1; rua=mailto:a@x.example,ftp://y", uris, &n, err), -1);
	assert_int_equal(n, 0); /* nothing left allocated */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_txt),
	    cmocka_unit_test(test_policy),
	    cmocka_unit_test(test_policy_errors),
	    cmocka_unit_test(test_mx_match),
	    cmocka_unit_test(test_tlsrpt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
