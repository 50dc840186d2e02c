/*
 * test_html.c - the HTML report (reports/html.c).
 *
 * The page is read by people who never ran cutover, from strings servers,
 * DNS and plans chose: every one must arrive as text. These tests put a
 * hostile string into every kind of field (ids, subjects, summaries,
 * advice, details keys and values of every known check, the report's
 * target) and check that none survives as markup, that the page is one
 * file with no reference to anything outside it, and that the counts and
 * sections shown are the report's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "reports/html.h"
#include "src/report.h"
#include "src/util.h"

#define EVIL "<img src=x onerror=alert(1)>"
#define EVIL_ATTR "\" onmouseover=\"alert(2)\" x='"
/* The same, written inside a JSON string. */
#define EVIL_ATTR_J "\\\" onmouseover=\\\"alert(2)\\\" x='"
#define EVIL_SCRIPT "</script><script>alert(3)</script>"

static size_t
test_count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

static struct result *
test_add(struct report *rep, const char *id, const char *subject, enum result_side side,
    enum result_status st, const char *details_json)
{
	struct result *res = result_new(id, subject, side);

	result_set(res, st, "summary %s %s", EVIL, EVIL_ATTR);
	if (st != RESULT_PASS)
		result_advise(res, "advice %s %s", EVIL_SCRIPT, EVIL);
	if (details_json != NULL) {
		cJSON_Delete(res->details);
		res->details = cJSON_Parse(details_json);
		assert_non_null(res->details);
	}
	rpt_add(rep, res);
	return res;
}

/* One check of every known id (and an unknown one), hostile strings everywhere. */
static struct report *
test_hostile_report(void)
{
	struct report *rep = rpt_new("audit", "plan " EVIL ".json");

	rep->started_at = 1795341600;
	rep->duration_ms = 4817;
	test_add(rep, "dns.mx", "ex" EVIL ".com", RESULT_SIDE_NONE, RESULT_PASS,
	    "{\"records\":[{\"preference\":10,\"exchange\":\"mx." EVIL "\",\"ttl\":3600}],"
	    "\"provider\":\"" EVIL "\"}");
	test_add(rep, "dns.mx_ttl", "example.com", RESULT_SIDE_NONE, RESULT_WARN,
	    "{\"ttl\":3600,\"recommended_max\":300}");
	test_add(rep, "dns.spf", "example.com", RESULT_SIDE_NONE, RESULT_FAIL,
	    "{\"record\":\"v=spf1 " EVIL "\",\"dns_lookups\":12,\"void_lookups\":0,"
	    "\"includes\":[\"" EVIL "\"],\"authorizes_destination\":false,"
	    "\"record_to_publish\":\"" EVIL_SCRIPT "\","
	    "\"include_tree\":{\"domain\":\"example.com\",\"via\":\"top\",\"record\":\"" EVIL "\","
	    "\"lookups\":1,\"total_lookups\":12,\"error\":null,\"children\":[{\"domain\":\"" EVIL
	    "\",\"via\":\"include\",\"record\":null,\"lookups\":11,\"error\":\"" EVIL "\","
	    "\"children\":[]}]}}");
	test_add(rep, "dns.autodiscover", "example.com", RESULT_SIDE_NONE, RESULT_WARN,
	    "{\"cname\":\"" EVIL "\",\"srv\":[{\"priority\":0,\"weight\":0,\"port\":443,"
	    "\"target\":\"" EVIL "\"}],\"matches_expected\":false}");
	test_add(rep, "dns.dmarc", "example.com", RESULT_SIDE_NONE, RESULT_PASS,
	    "{\"record\":\"v=DMARC1; p=" EVIL "\",\"policy\":\"none\"}");
	test_add(rep, "dns.propagation", "example.com", RESULT_SIDE_NONE, RESULT_WARN,
	    "{\"expected\":[\"" EVIL "\"],\"servers\":[{\"server\":\"" EVIL "\",\"role\":"
	    "\"authoritative\",\"state\":\"match\",\"answer\":[\"" EVIL "\"],\"ttl\":300,"
	    "\"serial\":2026112201,\"error\":null},{\"server\":\"8.8.8.8\",\"role\":\"resolver\","
	    "\"state\":\"stale\",\"answer\":[\"old\"],\"ttl\":2711,\"serial\":null,\"error\":null},"
	    "{\"server\":\"9.9.9.9\",\"role\":\"resolver\",\"state\":\"" EVIL "\",\"answer\":null,"
	    "\"ttl\":null,\"serial\":null,\"error\":\"" EVIL "\"}],\"matched\":1,\"total\":3,"
	    "\"timeline\":[{\"at\":\"" EVIL "\",\"server\":\"8.8.8.8\",\"from\":\"stale\","
	    "\"to\":\"match\"}]}");
	test_add(rep, "imap.tls", "imap." EVIL ":993", RESULT_SIDE_SOURCE, RESULT_PASS,
	    "{\"server\":\"" EVIL "\",\"port\":993,\"mode\":\"implicit\",\"result\":\"ok\","
	    "\"tls\":{\"version\":\"TLSv1.3\",\"cipher\":\"" EVIL "\",\"cert_subject\":\"CN=" EVIL
	    "\",\"cert_issuer\":\"" EVIL_ATTR_J "\",\"cert_expires\":\"2027-01-15T23:59:59Z\","
	    "\"days_left\":54,\"verified\":false,\"verify_error\":\"" EVIL "\"}}");
	test_add(rep, "pop3.tls", "pop3.example.com:995", RESULT_SIDE_SOURCE, RESULT_FAIL,
	    "{\"server\":\"pop3.example.com\",\"port\":995,\"mode\":\"implicit\","
	    "\"result\":\"tls_failed\",\"tls\":null}");
	test_add(rep, "imap.login", "alice" EVIL "@example.com", RESULT_SIDE_SOURCE, RESULT_PASS,
	    "{\"server\":\"s\",\"user\":\"" EVIL "\",\"result\":\"ok\",\"capabilities\":[\"" EVIL
	    "\"],\"tls\":null}");
	test_add(rep, "imap.login", "alice" EVIL "@example.com", RESULT_SIDE_DESTINATION,
	    RESULT_ERROR,
	    "{\"server\":\"d\",\"user\":\"a\",\"result\":\"" EVIL "\","
	    "\"capabilities\":[],\"tls\":null}");
	test_add(rep, "mailbox.folders", "alice" EVIL "@example.com", RESULT_SIDE_SOURCE,
	    RESULT_PASS,
	    "{\"user\":\"" EVIL "\",\"folders\":[{\"name\":\"INBOX\","
	    "\"raw_name\":\"INBOX\",\"messages\":5120,\"bytes\":734003200,\"special_use\":null},"
	    "{\"name\":\"" EVIL "\",\"raw_name\":\"" EVIL_ATTR_J "\",\"messages\":18211,"
	    "\"bytes\":null,\"special_use\":\"" EVIL "\"}],\"total_messages\":23331,"
	    "\"total_bytes\":null}");
	test_add(rep, "mailbox.folder_items", "alice" EVIL "@example.com", RESULT_SIDE_NONE,
	    RESULT_FAIL, "{\"limit\":10000,\"over\":[{\"name\":\"" EVIL "\",\"messages\":18211}]}");
	test_add(rep, "mailbox.quota", "alice" EVIL "@example.com", RESULT_SIDE_NONE, RESULT_WARN,
	    "{\"source_usage_bytes\":41875931136,\"destination_limit_bytes\":"
	    "53687091200,\"ratio\":0.78,\"headroom\":0.7}");
	test_add(rep, "web.webmail", "example.com", RESULT_SIDE_DESTINATION, RESULT_PASS,
	    "{\"url\":\"" EVIL "\",\"http_status\":200,\"final_url\":\"" EVIL_ATTR_J "\","
	    "\"redirects\":1,\"tls\":{\"version\":\"" EVIL "\",\"verified\":true},"
	    "\"timings_ms\":{\"dns\":1.2,\"total\":95}}");
	test_add(rep, "sync.mailbox", "alice@example.com", RESULT_SIDE_NONE, RESULT_PASS,
	    "{\"user\":\"" EVIL "\",\"folders\":[],\"copied\":0,\"bytes\":0,\"duration_ms\":1}");
	test_add(rep, "future." EVIL, "s" EVIL, RESULT_SIDE_NONE, RESULT_SKIP,
	    "{\"" EVIL "\":{\"" EVIL_ATTR_J "\":[[\"" EVIL "\"],{\"k\":\"" EVIL_SCRIPT "\"}]}}");
	return rep;
}

static void
test_escape(void **state)
{
	char *e;

	(void)state;
	e = html_escape("<a href=\"x\" title='y'>&amp;</a>");
	assert_string_equal(e, "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;");
	free(e);
	e = html_escape(NULL);
	assert_string_equal(e, "");
	free(e);
	e = html_escape("tab\tnl\ncr\resc\033del\177 Entw\xc3\xbcrfe");
	assert_string_equal(e, "tab\tnl\ncr\resc&#xFFFD;del&#xFFFD; Entw\xc3\xbcrfe");
	free(e);
	e = html_escape(EVIL);
	assert_string_equal(e, "&lt;img src=x onerror=alert(1)&gt;");
	free(e);
}

/* Nothing hostile survives as markup, anywhere. */
static void
test_hostile_strings_are_text(void **state)
{
	struct report *rep = test_hostile_report();
	char *page = html_render(rep);

	(void)state;
	assert_int_equal(test_count(page, "<img"), 0);
	assert_int_equal(test_count(page, "onmouseover=\""), 0);
	assert_int_equal(test_count(page, "onerror=alert(1)>"), 0);
	assert_int_equal(test_count(page, "<script"), 1); /* ours, at the end */
	assert_int_equal(test_count(page, "</script>"), 1);
	assert_true(strstr(page, "<script>") > strstr(page, "</main>"));
	assert_int_equal(test_count(page, "alert(3)</script>"), 0);
	/* The escaped forms are there: the data is shown, not dropped. */
	assert_true(test_count(page, "&lt;img src=x onerror=alert(1)&gt;") > 30);
	assert_non_null(strstr(page, "&quot; onmouseover=&quot;alert(2)&quot; x=&#39;"));
	/* The folder's raw name went into a title attribute, escaped. */
	assert_non_null(strstr(page, "title=\"as sent by the server: &quot; onmouseover="));
	free(page);
	rpt_free(rep);
}

/* One file: no external scripts, styles, fonts, images or frames. */
static void
test_self_contained(void **state)
{
	struct report *rep = test_hostile_report();
	char *page = html_render(rep);
	static const char *const forbidden[] = {
	    "http://",
	    "https://",
	    "src=\"",
	    "src='",
	    "<link",
	    "@import",
	    "url(",
	    "<iframe",
	    "<object",
	    "<embed",
	    "<img",
	    "//fonts",
	};

	(void)state;
	assert_true(strncmp(page, "<!DOCTYPE html>", 15) == 0);
	assert_non_null(strstr(page, "</html>\n"));
	for (size_t i = 0; i < UTIL_ARRAY_LEN(forbidden); i++)
		if (strstr(page, forbidden[i]) != NULL)
			fail_msg("page references \"%s\"", forbidden[i]);
	assert_non_null(strstr(page, "Content-Security-Policy\" content=\"default-src 'none'"));
	assert_non_null(strstr(page, "script-src 'sha256-"));
	assert_non_null(strstr(page, "prefers-color-scheme:dark"));
	assert_non_null(strstr(page, "@media print"));
	free(page);
	rpt_free(rep);
}

static const char *
test_count_of(const char *page, const char *status)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "data-count=\"%s\">", status);
	p = strstr(page, key);
	assert_non_null(p);
	return p + strlen(key);
}

/* The counts and sections shown are the report's; unknown ids still appear. */
static void
test_counts_and_sections(void **state)
{
	struct report *rep = test_hostile_report();
	char *page = html_render(rep);

	(void)state;
	assert_int_equal(strncmp(test_count_of(page, "pass"), "7<", 2), 0);
	assert_int_equal(strncmp(test_count_of(page, "warn"), "4<", 2), 0);
	assert_int_equal(strncmp(test_count_of(page, "fail"), "3<", 2), 0);
	assert_int_equal(strncmp(test_count_of(page, "error"), "1<", 2), 0);
	assert_int_equal(strncmp(test_count_of(page, "skip"), "1<", 2), 0);
	assert_non_null(strstr(page, "id=\"overall\" data-status=\"error\""));
	static const char *const sections[] = {
	    "<section id=\"fix-first\">",
	    "<section id=\"dns\">",
	    "<section id=\"propagation\">",
	    "<section id=\"connectivity\">",
	    "<section id=\"mailboxes\">",
	    "<section id=\"web\">",
	    "<section id=\"sync\">",
	    "<section id=\"other\">",
	};
	const char *prev = page;
	for (size_t i = 0; i < UTIL_ARRAY_LEN(sections); i++) {
		const char *at = strstr(page, sections[i]);

		if (at == NULL)
			fail_msg("missing %s", sections[i]);
		assert_true(at > prev);
		prev = at;
	}
	/* The unknown check is in "Other checks" with its id, escaped. */
	assert_non_null(strstr(
	    strstr(page, "<section id=\"other\">"), "future.&lt;img src=x onerror=alert(1)&gt;"));
	/* Mailboxes: one row for alice with the quota and the largest folder. */
	assert_non_null(strstr(page, "id=\"mailbox-table\""));
	assert_non_null(strstr(page, "78%"));
	assert_non_null(strstr(page, "18,211"));
	assert_non_null(strstr(page, "<details class=\"folders\""));
	/* Propagation: the role x state matrix and the timeline. */
	assert_non_null(strstr(page, "class=\"matrix\""));
	assert_non_null(strstr(page, "Timeline"));
	/* SPF: the include tree with the lookup count. */
	assert_non_null(strstr(page, "Include tree"));
	assert_non_null(strstr(page, "12 of 10 allowed"));
	free(page);
	rpt_free(rep);
}

/* Details of unexpected shapes (wrong types, deep nesting) never crash and
 * never lose the check. */
static void
test_odd_details(void **state)
{
	struct report *rep = rpt_new("audit", NULL);
	char deep[4096] = "";
	char *page;

	(void)state;
	for (int i = 0; i < 200; i++)
		strcat(deep, "{\"a\":[");
	strcat(deep, "1");
	for (int i = 0; i < 200; i++)
		strcat(deep, "]}");
	test_add(rep, "dns.mx", "x", RESULT_SIDE_NONE, RESULT_PASS,
	    "{\"records\":\"not an array\",\"provider\":7}");
	test_add(rep, "dns.propagation", "x", RESULT_SIDE_NONE, RESULT_PASS,
	    "{\"servers\":[1,\"two\",null,{\"state\":5}],\"matched\":\"x\",\"total\":0}");
	test_add(rep, "mailbox.folders", "u", RESULT_SIDE_SOURCE, RESULT_PASS,
	    "{\"folders\":[{\"messages\":\"many\"},7,{\"name\":null}]}");
	test_add(rep, "mailbox.quota", "u", RESULT_SIDE_NONE, RESULT_PASS,
	    "{\"ratio\":1e308,\"headroom\":-5}");
	test_add(rep, "web.webmail", "u", RESULT_SIDE_NONE, RESULT_PASS,
	    "{\"tls\":[],\"timings_ms\":{\"total\":\"x\"}}");
	test_add(rep, "odd.deep", "u", RESULT_SIDE_NONE, RESULT_PASS, deep);
	page = html_render(rep);
	assert_non_null(strstr(page, "odd.deep"));
	assert_non_null(strstr(page, "(see the JSON report)"));
	assert_non_null(strstr(page, "</html>"));
	free(page);
	rpt_free(rep);
}

static void
test_write_file(void **state)
{
	struct report *rep = test_hostile_report();
	char dir[] = "/tmp/test_html.XXXXXX", *path, *err = NULL;
	FILE *f;
	char head[16] = "";

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = xasprintf("%s/r.html", dir);
	assert_int_equal(html_write(rep, path, &err), 0);
	assert_null(err);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(head, sizeof(head), f));
	fclose(f);
	assert_string_equal(head, "<!DOCTYPE html>");
	unlink(path);
	free(path);
	/* A folder that does not exist: an error naming the path. */
	path = xasprintf("%s/missing/r.html", dir);
	assert_int_equal(html_write(rep, path, &err), -1);
	assert_non_null(strstr(err, path));
	free(err);
	free(path);
	rmdir(dir);
	rpt_free(rep);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escape),
	    cmocka_unit_test(test_hostile_strings_are_text),
	    cmocka_unit_test(test_self_contained),
	    cmocka_unit_test(test_counts_and_sections),
	    cmocka_unit_test(test_odd_details),
	    cmocka_unit_test(test_write_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
