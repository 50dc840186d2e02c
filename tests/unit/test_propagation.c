/*
 * test_propagation.c - the pure parts of dns.propagation: what counts as the
 * new answer, the status rules, server strings, --expect-* parsing, the
 * "expire by" time, resolvers lists and the curated public list file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/dnsmsg.h"
#include "src/propagation.h"

static struct prop_expect
mx(const char *arg)
{
	struct prop_expect e;
	char *err = NULL;

	memset(&e, 0, sizeof(e));
	e.name = "example.com";
	assert_int_equal(prop_expect_mx_parse(&e, arg, &err), 0);
	assert_null(err);
	return e;
}

static void
test_match_mx_hosts(void **state)
{
	struct prop_expect e = mx("mx1.new.example,mx2.new.example");
	const char *both[] = {"mx1.new.example", "MX2.new.example."};
	const char *one[] = {"mx1.new.example"};
	const char *mixed[] = {"mx1.new.example", "mx2.new.example", "mx1.emailsrvr.com"};

	(void)state;
	assert_int_equal(e.n_values, 2);
	assert_true(e.required[0] && e.required[1]);
	assert_int_equal(prop_match(&e, both, 2), 1);
	assert_int_equal(prop_match(&e, one, 1), 0);   /* a named host is missing */
	assert_int_equal(prop_match(&e, mixed, 3), 0); /* an old exchange is left */
	assert_int_equal(prop_match(&e, NULL, 0), 0);  /* nothing is not the new MX */
	prop_expect_clear(&e);
}

static void
test_match_mx_profile_and_pattern(void **state)
{
	struct prop_expect e = mx("microsoft365");
	struct prop_expect g = mx("google");
	struct prop_expect w = mx("*.mail.protection.outlook.com");
	const char *m365[] = {"contoso-com.mail.protection.outlook.com"};
	const char *rs[] = {"mx1.emailsrvr.com"};
	const char *goog[] = {"aspmx.l.google.com"};

	(void)state;
	assert_string_equal(e.values[0], "*.mail.protection.outlook.com");
	assert_false(e.required[0]);
	assert_int_equal(prop_match(&e, m365, 1), 1);
	assert_int_equal(prop_match(&e, rs, 1), 0);
	/* A profile with several patterns: one exchange of them is enough. */
	assert_true(g.n_values > 1);
	assert_int_equal(prop_match(&g, goog, 1), 1);
	assert_true(w.required[0]);
	assert_int_equal(prop_match(&w, m365, 1), 1);
	prop_expect_clear(&e);
	prop_expect_clear(&g);
	prop_expect_clear(&w);
}

static void
test_match_txt_cname(void **state)
{
	struct prop_expect t = {.type = DNSMSG_TXT,
	    .name = "example.com",
	    .values = {"v=spf1 include:spf.protection.outlook.com -all"},
	    .n_values = 1};
	struct prop_expect c = {.type = DNSMSG_CNAME,
	    .name = "autodiscover.example.com",
	    .values = {"autodiscover.outlook.com"},
	    .n_values = 1};
	const char *txt[] = {
	    "google-site-verification=x", "v=spf1 include:spf.protection.outlook.com -all"};
	const char *old[] = {"v=spf1 include:emailsrvr.com ~all"};
	const char *cn[] = {"AUTODISCOVER.outlook.com."};
	const char *cold[] = {"autodiscover.emailsrvr.com"};

	(void)state;
	assert_int_equal(prop_match(&t, txt, 2), 1);
	assert_int_equal(prop_match(&t, old, 1), 0);
	assert_int_equal(prop_match(&c, cn, 1), 1);
	assert_int_equal(prop_match(&c, cold, 1), 0);
}

static void
test_expect_mx_errors(void **state)
{
	struct prop_expect e;
	char *err = NULL;
	char many[40 * 20] = "";

	(void)state;
	memset(&e, 0, sizeof(e));
	assert_int_equal(prop_expect_mx_parse(&e, "not a host", &err), -1);
	assert_non_null(strstr(err, "neither a host name"));
	free(err);
	prop_expect_clear(&e);
	assert_int_equal(prop_expect_mx_parse(&e, "generic", &err), -1);
	assert_non_null(strstr(err, "no MX hosts"));
	free(err);
	prop_expect_clear(&e);
	assert_int_equal(prop_expect_mx_parse(&e, ",,", &err), -1);
	assert_string_equal(err, "no MX host given");
	free(err);
	prop_expect_clear(&e);
	for (int i = 0; i < 20; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "mx%d.example.com,", i);
	assert_int_equal(prop_expect_mx_parse(&e, many, &err), -1);
	assert_non_null(strstr(err, "at most"));
	free(err);
	prop_expect_clear(&e);
}

static void
test_name_value(void **state)
{
	char *n, *v, *err;

	(void)state;
	assert_int_equal(prop_name_value_parse("@=v=spf1 -all", "example.com", &n, &v, &err), 0);
	assert_string_equal(n, "example.com");
	assert_string_equal(v, "v=spf1 -all"); /* only the first '=' splits */
	free(n);
	free(v);
	assert_int_equal(
	    prop_name_value_parse("autodiscover.example.com=x.outlook.com", "e", &n, &v, &err), 0);
	assert_string_equal(n, "autodiscover.example.com");
	free(n);
	free(v);
	assert_int_equal(prop_name_value_parse("novalue", "e", &n, &v, &err), -1);
	assert_null(n);
	free(err);
	assert_int_equal(prop_name_value_parse("name=", "e", &n, &v, &err), -1);
	free(err);
}

static void
test_status_rules(void **state)
{
	struct prop_counts c;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(prop_status(&c), RESULT_ERROR); /* nobody asked */
	c.auth_error = 2;
	c.res_error = 1;
	assert_int_equal(prop_status(&c), RESULT_ERROR); /* nothing answered */
	c.res_match = 1;
	assert_int_equal(prop_status(&c), RESULT_WARN); /* errors hold it back */
	memset(&c, 0, sizeof(c));
	c.auth_match = 2;
	c.res_match = 3;
	assert_int_equal(prop_status(&c), RESULT_PASS);
	c.res_stale = 1;
	assert_int_equal(prop_status(&c), RESULT_WARN); /* caches still old */
	c.auth_stale = 1;
	assert_int_equal(prop_status(&c), RESULT_FAIL); /* a lagging name server */
	memset(&c, 0, sizeof(c));
	c.auth_stale = 1;
	c.res_stale = 2;
	assert_int_equal(prop_status(&c), RESULT_WARN); /* not flipped yet */
}

static void
test_server_parse(void **state)
{
	char ca[80], la[80];

	(void)state;
	assert_int_equal(prop_server_parse("192.0.2.1", 53, ca, sizeof(ca), la, sizeof(la)), 0);
	assert_string_equal(ca, "192.0.2.1:53");
	assert_string_equal(la, "192.0.2.1");
	assert_int_equal(
	    prop_server_parse("127.0.0.21:5340", 53, ca, sizeof(ca), la, sizeof(la)), 0);
	assert_string_equal(ca, "127.0.0.21:5340");
	assert_string_equal(la, "127.0.0.21:5340");
	assert_int_equal(
	    prop_server_parse("2001:DB8::0001", 53, ca, sizeof(ca), la, sizeof(la)), 0);
	assert_string_equal(ca, "[2001:db8::1]:53");
	assert_string_equal(la, "2001:db8::1");
	assert_int_equal(prop_server_parse("[::1]:5300", 53, ca, sizeof(ca), la, sizeof(la)), 0);
	assert_string_equal(ca, "[::1]:5300");
	assert_string_equal(la, "[::1]:5300");
	assert_int_equal(prop_server_parse("[::1]", 5340, ca, sizeof(ca), la, sizeof(la)), 0);
	assert_string_equal(ca, "[::1]:5340");
	assert_int_equal(
	    prop_server_parse("ns1.example.com", 53, ca, sizeof(ca), la, sizeof(la)), -1);
	assert_int_equal(prop_server_parse("1.2.3.4:0", 53, ca, sizeof(ca), la, sizeof(la)), -1);
	assert_int_equal(
	    prop_server_parse("1.2.3.4:65536", 53, ca, sizeof(ca), la, sizeof(la)), -1);
	assert_int_equal(prop_server_parse("1.2.3.4:", 53, ca, sizeof(ca), la, sizeof(la)), -1);
	assert_int_equal(prop_server_parse("[::1", 53, ca, sizeof(ca), la, sizeof(la)), -1);
	assert_int_equal(prop_server_parse("[::1]x", 53, ca, sizeof(ca), la, sizeof(la)), -1);
	assert_int_equal(prop_server_parse("", 53, ca, sizeof(ca), la, sizeof(la)), -1);
}

static void
test_format_utc(void **state)
{
	char buf[48];
	time_t now = 1795428000; /* 2026-11-23T10:00:00Z */

	(void)state;
	prop_format_utc(now + 4 * 3600 + 5 * 60, now, buf, sizeof(buf));
	assert_string_equal(buf, "14:05 UTC");
	/* "At the latest": 14:04:01 shows as 14:05. */
	prop_format_utc(now + 4 * 3600 + 4 * 60 + 1, now, buf, sizeof(buf));
	assert_string_equal(buf, "14:05 UTC");
	prop_format_utc(now + 86400, now, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-24 10:00 UTC");
}

/* ---- resolvers lists ------------------------------------------------------ */

static int
list(const char *text, struct prop_list *l, char **err)
{
	memset(l, 0, sizeof(*l));
	return prop_list_parse(text, strlen(text), "r.txt", l, err);
}

static void
test_list_lines(void **state)
{
	struct prop_list l;
	char *err = NULL;
	const char *text = "# public resolvers\n"
	                   "\n"
	                   "8.8.8.8   Google Public DNS | US | https://developers.google.com/x\n"
	                   "  [2001:db8::1]:5353\tlab v6   # a comment\n"
	                   "127.0.0.1:5300 lab |  \n"
	                   "192.0.2.1 Example | DE\r\n"
	                   "2001:db8::53";

	(void)state;
	assert_int_equal(list(text, &l, &err), 0);
	assert_null(err);
	assert_int_equal(l.n, 5);
	assert_string_equal(l.v[0].server, "8.8.8.8");
	assert_string_equal(l.v[0].operator, "Google Public DNS");
	assert_string_equal(l.v[0].country, "US");
	assert_string_equal(l.v[0].source, "https://developers.google.com/x");
	assert_int_equal(l.v[0].line, 3);
	assert_string_equal(l.v[1].server, "[2001:db8::1]:5353");
	assert_string_equal(l.v[1].operator, "lab v6");
	assert_null(l.v[1].country);
	assert_string_equal(l.v[2].operator, "lab");
	assert_null(l.v[2].country);
	assert_string_equal(l.v[3].country, "DE");
	assert_null(l.v[3].source);
	assert_string_equal(l.v[4].server, "2001:db8::53");
	assert_null(l.v[4].operator);
	assert_int_equal(l.v[4].line, 7);
	prop_list_free(&l);
}

static void
test_list_errors_name_the_line(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	    {"8.8.8.8\n8.8.8 Google\n", "r.txt:2: \"8.8.8\" is not an IP address"},
	    {"\n\n1.1.1.1 Cloudflare | USA\n", "r.txt:3: country \"USA\" is not an ISO 3166"},
	    {"1.1.1.1 Cloudflare | us\n", "r.txt:1: country \"us\""},
	    {"1.1.1.1 a | US | src | more\n", "r.txt:1: more than three fields"},
	    /* The same server in another spelling is still a duplicate. */
	    {"2001:db8::1\n# x\n2001:0db8:0::1\n",
	        "r.txt:3: 2001:0db8:0::1 is listed already "
	        "(line 1)"},
	    {"9.9.9.9\n9.9.9.9:53\n", "r.txt:2: 9.9.9.9:53 is listed already (line 1)"},
	    {"1.1.1.1\n2.2.2.2 a\x01 b\n", "r.txt:2: control character"},
	    {"host.example Google\n", "r.txt:1: \"host.example\" is not an IP address"},
	    {"1.1.1.1:99999\n", "r.txt:1: \"1.1.1.1:99999\""},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct prop_list l;
		char *err = NULL;

		assert_int_equal(list(cases[i].text, &l, &err), -1);
		assert_non_null(err);
		if (strstr(err, cases[i].want) != NULL)
			assert_true(1);
		else
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, cases[i].want);
		free(err);
		prop_list_free(&l);
	}
	{
		/* A NUL byte is a control character too, not the end of the line. */
		static const char nul[] = "1.1.1.1 a\0b\n";
		struct prop_list l;
		char *err = NULL;

		memset(&l, 0, sizeof(l));
		assert_int_equal(prop_list_parse(nul, sizeof(nul) - 1, "r.txt", &l, &err), -1);
		assert_non_null(strstr(err, "r.txt:1: control character (byte 0x00)"));
		free(err);
		prop_list_free(&l);
	}
}

/*
 * The curated list shipped with cutover: every line parses (addresses,
 * countries), no server is listed twice in any spelling (the parser refuses
 * duplicates), every entry has an operator, a country and a source page.
 */
static void
test_public_list_file(void **state)
{
	static const char *const paths[] = {
	    "contrib/resolvers/public-resolvers.txt",
	    "../../contrib/resolvers/public-resolvers.txt",
	};
	struct prop_list l;
	char *buf = NULL, *err = NULL;
	size_t len = 0, v4 = 0, v6 = 0, ops = 0;
	FILE *f = NULL;

	(void)state;
	for (size_t i = 0; i < 2 && f == NULL; i++)
		f = fopen(paths[i], "rb");
	assert_non_null(f);
	buf = malloc(1 << 20);
	assert_non_null(buf);
	len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	assert_true(len > 0 && len < (1 << 20));
	memset(&l, 0, sizeof(l));
	if (prop_list_parse(buf, len, "public-resolvers.txt", &l, &err) != 0)
		fail_msg("%s", err);
	assert_true(l.n >= 100);
	for (size_t i = 0; i < l.n; i++) {
		const struct prop_list_entry *e = &l.v[i];
		char cares[80], label[80];

		if (e->operator== NULL || e->country == NULL || e->source == NULL)
			fail_msg("public-resolvers.txt:%u: %s needs OPERATOR | COUNTRY | SOURCE",
			    e->line, e->server);
		assert_int_equal(strncmp(e->source, "https://", 8), 0);
		/* Plain addresses on port 53: public resolvers answer there. */
		assert_int_equal(
		    prop_server_parse(e->server, 53, cares, sizeof(cares), label, sizeof(label)),
		    0);
		assert_string_equal(label, e->server);
		if (strchr(e->server, ':') != NULL)
			v6++;
		else
			v4++;
		if (i == 0 || strcmp(e->operator, l.v[i - 1].operator) != 0)
			ops++;
	}
	assert_true(v4 >= 50 && v6 >= 40);
	assert_true(ops >= 20);
	prop_list_free(&l);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_match_mx_hosts),
	    cmocka_unit_test(test_match_mx_profile_and_pattern),
	    cmocka_unit_test(test_match_txt_cname),
	    cmocka_unit_test(test_expect_mx_errors),
	    cmocka_unit_test(test_name_value),
	    cmocka_unit_test(test_status_rules),
	    cmocka_unit_test(test_server_parse),
	    cmocka_unit_test(test_format_utc),
	    cmocka_unit_test(test_list_lines),
	    cmocka_unit_test(test_list_errors_name_the_line),
	    cmocka_unit_test(test_public_list_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
