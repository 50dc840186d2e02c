/*
 * test_verdicts_web.c - the verdicts of the web.* checks at their edges
 * (checks/check_verdicts.h): web.webmail's HTTP statuses, TLS and the
 * certificate's days left, and its EWS probe; web.autodiscover's steps and
 * expectation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "checks/check_verdicts.h"
#include "json_path.h"

static struct webmail_summary
page(long status, long days_left)
{
	struct webmail_summary s = {
	    .side = "source",
	    .plan_url = "https://mail.example.com/",
	    .end = HTTP_FETCH_OK,
	    .url = "https://mail.example.com/owa/",
	    .status = status,
	    .n_hops = 2,
	    .https = 1,
	    .tls_version = "TLSv1.3",
	    .tls_verified = 1,
	    .tls_verify_error = "",
	    .has_expiry = 1,
	    .days_left = days_left,
	};

	return s;
}

static int
webmail(const struct webmail_summary *s, struct verdict *v)
{
	verdict_clear(v);
	return webmail_verdict(s, v);
}

static void
test_webmail_certificate_days(void **state)
{
	struct webmail_summary s = page(200, 14);
	struct verdict v = {0};

	(void)state;
	/* 14 days left is enough; 13 warns, with the right plural. */
	assert_int_equal(webmail(&s, &v), 1);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary,
	    "source webmail: https://mail.example.com/owa/ answers "
	    "HTTP 200 after 1 redirect; certificate valid 14 more days");
	s.days_left = 13;
	assert_int_equal(webmail(&s, &v), 1);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary,
	    "source webmail: HTTP 200 from "
	    "https://mail.example.com/owa/, but its certificate expires in 13 days");
	assert_non_null(strstr(v.advice, "Renew the certificate"));
	s.days_left = 1;
	webmail(&s, &v);
	assert_non_null(strstr(v.summary, "expires in 1 day"));
	assert_null(strstr(v.summary, "1 days"));
	/* No notAfter known: no expiry warning. */
	s.has_expiry = 0;
	webmail(&s, &v);
	assert_int_equal(v.status, RESULT_PASS);
	verdict_clear(&v);
}

static void
test_webmail_http_status(void **state)
{
	struct webmail_summary s = page(401, 90);
	struct verdict v = {0};

	(void)state;
	s.n_hops = 1;
	assert_int_equal(webmail(&s, &v), 1);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary,
	    "source webmail: https://mail.example.com/owa/ answers "
	    "HTTP 401 (authentication challenge) after 0 redirects; certificate valid 90 more "
	    "days");
	s.status = 299;
	assert_int_equal(webmail(&s, &v), 1);
	assert_int_equal(v.status, RESULT_PASS);
	s.status = 403;
	assert_int_equal(webmail(&s, &v), 0);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_non_null(strstr(v.advice, "Check the source webmail URL"));
	s.status = 399;
	assert_int_equal(webmail(&s, &v), 0);
	assert_string_equal(v.summary,
	    "source webmail: https://mail.example.com/owa/ answers "
	    "HTTP 399 without a usable Location");
	s.status = 499;
	assert_int_equal(webmail(&s, &v), 0);
	assert_int_equal(v.status, RESULT_FAIL);
	s.status = 500;
	assert_int_equal(webmail(&s, &v), 0);
	assert_non_null(strstr(v.summary, "(server error)"));
	verdict_clear(&v);
}

static void
test_webmail_tls(void **state)
{
	struct webmail_summary s = page(200, 90);
	struct verdict v = {0};

	(void)state;
	s.tls_version = "TLSv1.1";
	assert_int_equal(webmail(&s, &v), 1);
	assert_int_equal(v.status, RESULT_WARN);
	assert_non_null(strstr(v.summary, "over TLSv1.1, below TLS 1.2"));
	s.tls_version = "TLSv1.2";
	assert_int_equal(webmail(&s, &v), 1);
	assert_int_equal(v.status, RESULT_PASS);
	/* --insecure let an invalid certificate through: warn. */
	s.tls_verified = 0;
	s.tls_verify_error = "self-signed certificate";
	webmail(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_non_null(strstr(v.summary,
	    "(self-signed certificate; accepted only because of "
	    "--insecure)"));
	/* Plain http warns whatever else. */
	s = page(200, 90);
	s.https = 0;
	s.url = "http://mail.example.com/";
	webmail(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_non_null(strstr(v.summary, "over plain http"));
	/* A refused certificate fails; a timeout is an error. */
	s = page(0, 0);
	s.end = HTTP_FETCH_TRANSFER_FAILED;
	s.error = "SSL certificate problem";
	s.tls_verify_error = "certificate has expired";
	assert_int_equal(webmail(&s, &v), 0);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_non_null(strstr(v.summary, "not accepted: certificate has expired"));
	s.timed_out = 1;
	webmail(&s, &v);
	assert_int_equal(v.status, RESULT_ERROR);
	assert_string_equal(v.summary,
	    "source webmail: no response from "
	    "https://mail.example.com/owa/ in time");
	s.status = 200;
	webmail(&s, &v);
	assert_non_null(strstr(v.summary, "answered HTTP 200 but the response did not complete"));
	verdict_clear(&v);
}

static void
test_webmail_fetch_ends(void **state)
{
	struct webmail_summary s = page(0, 0);
	struct verdict v = {0};

	(void)state;
	s.end = HTTP_FETCH_DNS_FAILED;
	s.error = "mail.example.com: no such name";
	s.no_such_name = 1;
	assert_int_equal(webmail(&s, &v), 0);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_non_null(strstr(v.advice, "Publish an address record"));
	s.no_such_name = 0;
	webmail(&s, &v);
	assert_int_equal(v.status, RESULT_ERROR);
	assert_null(v.advice);
	s.end = HTTP_FETCH_REDIRECT_LOOP;
	webmail(&s, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_non_null(strstr(v.advice, "redirect loop"));
	s.end = HTTP_FETCH_TOO_MANY_REDIRECTS;
	webmail(&s, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_string_equal(v.advice,
	    "Make https://mail.example.com/ lead to the login page in "
	    "a few redirects.");
	verdict_clear(&v);
}

/* web.webmail's details: the fetch report, "exchange", and "ews" null when
 * no EWS probe follows (absent when one does: the probe writes it). */
static void
test_webmail_details(void **state)
{
	struct http_hop hop = {
	    .url = "https://mail.example.com/owa/", .method = "GET", .status = 200};
	struct http_fetch_result fr = {
	    .end = HTTP_FETCH_OK, .hops = &hop, .n_hops = 1, .last = &hop, .body = ""};
	struct webmail_summary s = page(200, 100);
	cJSON *d = cJSON_CreateObject();

	(void)state;
	s.fetch = &fr;
	s.now = 1795442400;
	webmail_details_json(&s, d);
	assert_string_equal(jstr(d, "url"), "https://mail.example.com/");
	assert_true(jnum(d, "http_status") == 200);
	assert_true(cJSON_IsFalse(jpath(d, "exchange")));
	assert_true(jnull(d, "ews"));
	cJSON_Delete(d);
	d = cJSON_CreateObject();
	s.exchange = 1;
	s.ews_probed = 1;
	webmail_details_json(&s, d);
	assert_true(cJSON_IsTrue(jpath(d, "exchange")));
	assert_null(jpath(d, "ews"));
	cJSON_Delete(d);
}

static void
test_ews(void **state)
{
	const char *challenges[] = {"Negotiate", "NTLM"};
	struct ews_summary s = {
	    .url = "https://mail.example.com/EWS/Exchange.asmx",
	    .http_status = 401,
	    .challenges = challenges,
	    .n_challenges = 2,
	    .reachable = 1,
	};
	struct verdict v = {0};
	cJSON *d = cJSON_CreateObject();
	char *text;

	(void)state;
	ews_verdict(&s, RESULT_WARN, "source webmail: ...", &v);
	assert_int_equal(v.status, RESULT_WARN); /* the page's verdict stands */
	assert_string_equal(v.summary, "source webmail: ...; EWS answers 401 (Negotiate)");
	verdict_clear(&v);
	s.reachable = 0;
	s.n_challenges = 0;
	ews_verdict(&s, RESULT_PASS, "p", &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary,
	    "p; but EWS https://mail.example.com/EWS/Exchange.asmx "
	    "does not answer with an authentication challenge (401 without WWW-Authenticate)");
	verdict_clear(&v);
	s.http_status = 404;
	ews_verdict(&s, RESULT_PASS, "p", &v);
	assert_non_null(strstr(v.summary, "(see details)"));
	verdict_clear(&v);
	s.error = "connection refused";
	ews_verdict(&s, RESULT_PASS, "p", &v);
	assert_non_null(strstr(v.summary, "(connection refused)"));
	verdict_clear(&v);
	s.http_status = 0;
	ews_details_json(&s, d);
	text = cJSON_PrintUnformatted(d);
	assert_string_equal(text,
	    "{\"www_authenticate\":[],\"url\":"
	    "\"https://mail.example.com/EWS/Exchange.asmx\",\"http_status\":null,"
	    "\"reachable\":false,\"error\":\"connection refused\"}");
	free(text);
	cJSON_Delete(d);
}

static void
test_autodiscover(void **state)
{
	struct web_ad_summary s = {
	    .domain = "example.com",
	    .reasons = {"https://example.com/autodiscover/autodiscover.xml answers HTTP 404", NULL,
	        "no redirect", "no SRV record _autodiscover._tcp.example.com"},
	};
	struct autodiscover_settings st;
	struct verdict v = {0};

	(void)state;
	/* No step found an endpoint: fail, every step's reason in order ("?" for none). */
	web_ad_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_string_equal(v.summary,
	    "no autodiscover method works for example.com "
	    "(https://example.com/autodiscover/autodiscover.xml answers HTTP 404; ?; no redirect; "
	    "no SRV record _autodiscover._tcp.example.com)");
	assert_non_null(strstr(v.advice, "(a CNAME to its autodiscover host)"));
	verdict_clear(&v);
	/* Step 2 answers 401: pass, with its reason. */
	s.win_step = 2;
	s.win_method = "autodiscover_host";
	s.win_points_to = "autodiscover.outlook.com";
	s.win_reason = "https://autodiscover.example.com/... asks for authentication (Basic)";
	web_ad_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary,
	    "autodiscover for example.com works (step 2, "
	    "autodiscover_host): https://autodiscover.example.com/... asks for authentication "
	    "(Basic)");
	verdict_clear(&v);
	/* It works, but elsewhere than expected: warn. */
	s.expected = "autodiscover.outlook.com";
	s.win_points_to = "mail.old.example";
	web_ad_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary,
	    "autodiscover for example.com works (step 2, "
	    "autodiscover_host) but points at mail.old.example, not at the expected "
	    "autodiscover.outlook.com");
	verdict_clear(&v);
	s.matches = 1;
	web_ad_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_PASS);
	verdict_clear(&v);
	/* Settings: a redirect, or the first server. */
	memset(&st, 0, sizeof(st));
	st.redirect = "user@example.onmicrosoft.com";
	s.win_settings = &st;
	web_ad_verdict(&s, &v);
	assert_non_null(strstr(v.summary,
	    "autodiscover_host): redirect to "
	    "user@example.onmicrosoft.com"));
	verdict_clear(&v);
	st.redirect = NULL;
	st.n_servers = 2;
	st.servers[0].type = "IMAP";
	st.servers[0].host = "imap.example.com";
	web_ad_verdict(&s, &v);
	assert_non_null(strstr(v.summary, "and gives 2 server settings (IMAP imap.example.com)"));
	verdict_clear(&v);
}

/* web.autodiscover's details: a line per step (the winner selected), the
 * winner's fetch as the web fields, step 2's when none won, and nulls for
 * what is not known. */
static void
test_autodiscover_details(void **state)
{
	struct web_ad_summary s = {.domain = "example.com", .email = "a@example.com"};
	cJSON *report = cJSON_Parse("{\"url\":\"https://autodiscover.example.com/a\","
	                            "\"http_status\":401,\"final_url\":\"https://x.example.net/a\","
	                            "\"redirects\":1,\"tls\":{\"verified\":true}}");
	cJSON *names = cJSON_Parse("[\"autodiscover.example.com\",\"x.example.net\"]");
	cJSON *d = cJSON_CreateObject();

	(void)state;
	/* No step won, no report anywhere: defaults for the web fields. */
	s.reasons[0] = s.steps[0].reason = "connection refused";
	s.steps[1].url = "https://autodiscover.example.com/autodiscover/autodiscover.xml";
	s.steps[4].url = "https://autoconfig.example.com/mail/config-v1.1.xml";
	web_ad_details_json(&s, d);
	assert_string_equal(jstr(d, "url"), s.steps[1].url);
	assert_true(jnum(d, "redirects") == 0);
	assert_int_equal(cJSON_GetArraySize(jpath(d, "redirect_chain")), 0);
	assert_true(jnull(d, "http_status"));
	assert_true(jnull(d, "tls"));
	assert_int_equal(cJSON_GetArraySize(jpath(d, "steps")), 4);
	assert_true(jnull(d, "steps.0.url"));
	assert_string_equal(jstr(d, "steps.0.reason"), "connection refused");
	assert_string_equal(jstr(d, "steps.1.reason"), "");
	assert_string_equal(jstr(d, "steps.3.method"), "srv");
	assert_int_equal(cJSON_GetArraySize(jpath(d, "steps.3.srv")), 0);
	assert_null(jpath(d, "steps.2.srv"));
	assert_true(jnull(d, "method"));
	assert_true(jnull(d, "points_to"));
	assert_true(jnull(d, "expected"));
	assert_true(jnull(d, "matches_expected"));
	assert_true(jnull(d, "user"));
	assert_true(jnull(d, "settings"));
	assert_true(cJSON_IsFalse(jpath(d, "autoconfig.found")));
	assert_true(jnull(d, "autoconfig.error"));
	cJSON_Delete(d);
	/* Step 2 won with a 401 challenge; an expectation it does not meet. */
	d = cJSON_CreateObject();
	s.steps[1] = (struct web_ad_step){.url = "https://autodiscover.example.com/a",
	    .found = 1,
	    .reason = "asks for authentication",
	    .report = report,
	    .names = names,
	    .points_to = "x.example.net"};
	s.win_step = 2;
	s.win_method = "autodiscover_host";
	s.expected = "autodiscover.outlook.com";
	s.user = "a@example.com";
	web_ad_details_json(&s, d);
	assert_true(jnum(d, "http_status") == 401);
	assert_string_equal(jstr(d, "final_url"), "https://x.example.net/a");
	assert_true(jnum(d, "redirects") == 1);
	assert_true(cJSON_IsTrue(jpath(d, "steps.1.selected")));
	assert_true(cJSON_IsFalse(jpath(d, "steps.0.selected")));
	assert_true(cJSON_IsTrue(jpath(d, "steps.1.tls_verified")));
	assert_true(jnull(d, "steps.0.tls_verified"));
	assert_string_equal(jstr(d, "steps.1.outcome"), "found");
	assert_string_equal(jstr(d, "steps.1.points_to"), "x.example.net");
	assert_string_equal(jstr(d, "steps.1.names.1"), "x.example.net");
	assert_string_equal(jstr(d, "method"), "autodiscover_host");
	assert_string_equal(jstr(d, "points_to"), "x.example.net");
	assert_string_equal(jstr(d, "expected"), "autodiscover.outlook.com");
	assert_true(cJSON_IsFalse(jpath(d, "matches_expected")));
	assert_string_equal(jstr(d, "user"), "a@example.com");
	cJSON_Delete(d);
	cJSON_Delete(report);
	cJSON_Delete(names);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_webmail_certificate_days),
	    cmocka_unit_test(test_webmail_http_status),
	    cmocka_unit_test(test_webmail_tls),
	    cmocka_unit_test(test_webmail_fetch_ends),
	    cmocka_unit_test(test_webmail_details),
	    cmocka_unit_test(test_ews),
	    cmocka_unit_test(test_autodiscover),
	    cmocka_unit_test(test_autodiscover_details),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
