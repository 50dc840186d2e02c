/*
 * test_verdicts_mail.c - the imap.tls / pop3.tls verdict (server_probe.h,
 * mailcheck_tls_verdict) at its edges: the certificate's days left, old TLS,
 * --insecure, and what a port that does not work means when the plan named
 * it and when cutover only derived it; imap.login / pop3.login
 * (mailcheck_login_verdict); and smtp.mx's tally of hosts and
 * recipients (check_verdicts.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "checks/check_verdicts.h"
#include "checks/server_probe.h"
#include "json_path.h"

static const struct mailcheck_endpoint ep993 = {"imap.example.com", 993, 1, 1};
static const struct mailcheck_endpoint ep143 = {"imap.example.com", 143, 0, 0};

/* The verdicts' clock: the probes below say it is NOW. */
#define NOW ((time_t)1790000000)

/* notAfter DAYS whole days (and an hour) after NOW. */
static void
set_days(struct tls_facts *t, long days)
{
	t->not_after = NOW + (time_t)days * 86400 + 3600;
}

static struct tls_facts
cert(long days_left)
{
	struct tls_facts t;

	memset(&t, 0, sizeof(t));
	t.done = 1;
	strcpy(t.version, "TLSv1.3");
	t.has_expiry = 1;
	set_days(&t, days_left);
	t.verified = 1;
	strcpy(t.expires, "2026-12-20T12:00:00Z");
	return t;
}

static struct mailcheck_tls_probe
probe(const struct mailcheck_endpoint *ep, enum net_result r, const struct tls_facts *tls,
    const char *error)
{
	struct mailcheck_tls_probe p = {
	    .ep = ep,
	    .proto_label = "IMAP",
	    .starttls = "STARTTLS",
	    .side_name = "source",
	    .result = r,
	    .error = error,
	    .tls = tls,
	    .now = NOW,
	};

	return p;
}

static void
judge(const struct mailcheck_tls_probe *p, struct verdict *v)
{
	verdict_clear(v);
	mailcheck_tls_verdict(p, v);
}

static void
test_tls_certificate_days(void **state)
{
	struct tls_facts t = cert(MAILCHECK_CERT_WARN_DAYS);
	struct mailcheck_tls_probe p = probe(&ep993, NET_RESULT_OK, &t, NULL);
	struct verdict v = {0};

	(void)state;
	/* 14 days left is enough; 13 warns. */
	judge(&p, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary, "TLSv1.3, implicit: certificate valid for 14 days");
	assert_null(v.advice);
	set_days(&t, MAILCHECK_CERT_WARN_DAYS - 1);
	judge(&p, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary,
	    "TLSv1.3, implicit: certificate expires in 13 days "
	    "(2026-12-20T12:00:00Z)");
	assert_string_equal(v.advice,
	    "Renew the certificate of imap.example.com before the "
	    "migration window.");
	/* Expired: still the same word, with a negative count. */
	set_days(&t, -2);
	judge(&p, &v);
	assert_int_equal(v.status, RESULT_WARN);
	/* No notAfter known: nothing said about it. */
	t.has_expiry = 0;
	judge(&p, &v);
	assert_int_equal(v.status, RESULT_PASS);
	verdict_clear(&v);
}

static void
test_tls_version_and_verification(void **state)
{
	struct tls_facts t = cert(90);
	struct mailcheck_tls_probe p = probe(&ep143, NET_RESULT_OK, &t, NULL);
	struct verdict v = {0};

	(void)state;
	strcpy(t.version, "TLSv1.1");
	judge(&p, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary,
	    "TLSv1.1, starttls: below TLS 1.2 (Microsoft 365 refuses "
	    "it)");
	assert_non_null(strstr(v.advice, "Enable TLS 1.2 or later on imap.example.com"));
	strcpy(t.version, "TLSv1.2");
	judge(&p, &v);
	assert_int_equal(v.status, RESULT_PASS);
	/* --insecure let an unverified certificate through: warn, whatever its days. */
	t.verified = 0;
	strcpy(t.verify_error, "self-signed certificate");
	judge(&p, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary,
	    "TLSv1.2, starttls: certificate does not verify "
	    "(self-signed certificate), accepted because of --insecure");
	verdict_clear(&v);
}

static void
test_tls_failures(void **state)
{
	struct mailcheck_tls_probe p =
	    probe(&ep993, NET_RESULT_TLS_FAILED, NULL, "certificate verify failed");
	struct verdict v = {0};

	(void)state;
	judge(&p, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_string_equal(v.summary, "certificate verify failed");
	assert_non_null(strstr(v.advice, "--ca-file"));
	/* A refused connection fails on the plan's port, is a skip on a derived one. */
	p = probe(&ep993, NET_RESULT_CONNECT_FAILED, NULL, "connection refused");
	judge(&p, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_string_equal(v.advice,
	    "Check the host and port of the source IMAP URL in the "
	    "plan.");
	p.ep = &ep143;
	judge(&p, &v);
	assert_int_equal(v.status, RESULT_SKIP);
	assert_string_equal(v.summary, "port 143 (starttls) not available: connection refused");
	/* No STARTTLS: a fail on the plan's port, a warning on the other one. */
	p = probe(&ep143, NET_RESULT_PLAINTEXT_REFUSED, NULL, "no STARTTLS capability");
	judge(&p, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary, "port 143 offers no STARTTLS: no STARTTLS capability");
	p.ep = &ep993;
	judge(&p, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	/* A timeout is an error, not the server's fault to judge. */
	p = probe(&ep993, NET_RESULT_TIMEOUT, NULL, "no greeting in time");
	judge(&p, &v);
	assert_int_equal(v.status, RESULT_ERROR);
	verdict_clear(&v);
}

static enum result_status
login(enum net_result r, const char *error, struct verdict *v)
{
	struct mailcheck_login_summary s = {
	    .result = r,
	    .error = error,
	    .proto = "imap",
	    .user = "alice@example.com",
	    .side = "source",
	    .host = "imap.example.com",
	    .port = 993,
	};

	verdict_clear(v);
	mailcheck_login_verdict(&s, v);
	return v->status;
}

static void
test_login(void **state)
{
	struct verdict v = {0};

	(void)state;
	assert_int_equal(login(NET_RESULT_OK, "", &v), RESULT_PASS);
	assert_null(v.advice);
	/* A wrong password is the mailbox's failure; the network's is an error. */
	assert_int_equal(
	    login(NET_RESULT_AUTH_FAILED, "NO [AUTHENTICATIONFAILED]", &v), RESULT_FAIL);
	assert_string_equal(v.summary, "NO [AUTHENTICATIONFAILED]");
	assert_string_equal(v.advice,
	    "Check the source password of alice@example.com in the "
	    "plan (or the admin login), and that imap access is enabled for this mailbox on "
	    "imap.example.com.");
	assert_int_equal(login(NET_RESULT_CONNECT_FAILED, "connection refused", &v), RESULT_ERROR);
	assert_non_null(strstr(v.advice, "imap.example.com:993 is reachable from here"));
	assert_int_equal(login(NET_RESULT_TIMEOUT, "no greeting in time", &v), RESULT_ERROR);
	/* TLS: old versions get their own advice. */
	assert_int_equal(login(NET_RESULT_TLS_FAILED, "TLSv1.1 is below TLS 1.2", &v), RESULT_FAIL);
	assert_non_null(strstr(v.advice, "Enable TLS 1.2 or later on imap.example.com"));
	login(NET_RESULT_TLS_FAILED, "certificate verify failed", &v);
	assert_non_null(strstr(v.advice, "Fix the certificate of imap.example.com:993"));
	assert_int_equal(login(NET_RESULT_PLAINTEXT_REFUSED, "no STARTTLS", &v), RESULT_FAIL);
	assert_non_null(strstr(v.advice, "(imaps://)"));
	verdict_clear(&v);
}

static void
test_smtp_mx(void **state)
{
	struct smtp_mx_tally y = {
	    .domain = "example.com",
	    .port = 25,
	    .n_hosts = 2,
	    .n_rcpts = 1,
	    .accepted = 2,
	};
	struct verdict v = {0};

	(void)state;
	smtp_mx_verdict(&y, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary,
	    "2 MX hosts of example.com accept all 1 recipient, with "
	    "STARTTLS");
	verdict_clear(&v);
	/* One host without STARTTLS: warn. */
	y.no_starttls = 1;
	smtp_mx_verdict(&y, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary,
	    "2 recipients accepted, but 1 of 2 MX hosts offers no "
	    "STARTTLS: mail to example.com travels unencrypted");
	verdict_clear(&v);
	/* A deferral warns before that; a rejection fails, with its own advice. */
	y.deferred = 1;
	strcpy(y.first_defer, "postmaster@example.com: 451 4.7.1 greylisted");
	smtp_mx_verdict(&y, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary,
	    "1 of 2 recipient checks deferred (4xx), e.g. "
	    "postmaster@example.com: 451 4.7.1 greylisted");
	verdict_clear(&v);
	y.rejected = 1;
	strcpy(y.first_reject, "x@example.com: 550 5.1.1 unknown");
	y.advice = "No such user";
	smtp_mx_verdict(&y, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_string_equal(v.advice, "No such user");
	verdict_clear(&v);
	/* A host that failed outranks the recipients; all unreachable says port 25. */
	y.tls_failed = 1;
	strcpy(y.first_fail, "mx2.example.com certificate verify failed");
	smtp_mx_verdict(&y, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_string_equal(v.summary,
	    "1 of 2 MX hosts of example.com failed: mx2.example.com "
	    "certificate verify failed");
	assert_non_null(strstr(v.advice, "MTA-STS, DANE"));
	verdict_clear(&v);
	y.tls_failed = 0;
	y.connect_failed = 2;
	smtp_mx_verdict(&y, &v);
	assert_string_equal(v.summary,
	    "no MX host of example.com could be reached on port 25: "
	    "mx2.example.com certificate verify failed");
	verdict_clear(&v);
	/* One of two unreachable is a failure of that host only. */
	y.connect_failed = 1;
	smtp_mx_verdict(&y, &v);
	assert_non_null(strstr(v.summary, "1 of 2 MX hosts of example.com failed"));
	assert_non_null(strstr(v.advice, "block outbound port 25"));
	verdict_clear(&v);
}

/* imap.tls / pop3.tls details: the endpoint, the handshake's facts (null
 * without one), the capabilities, and the error or null. */
static void
test_tls_details(void **state)
{
	struct tls_facts t = cert(100);
	const char *caps[] = {"IMAP4rev1", "STARTTLS"};
	struct mailcheck_tls_probe p = probe(&ep143, NET_RESULT_OK, &t, "");
	cJSON *d = cJSON_CreateObject();

	(void)state;
	p.caps = caps;
	p.n_caps = 2;
	mailcheck_tls_details_json(&p, d);
	assert_string_equal(jstr(d, "server"), "imap.example.com");
	assert_true(jnum(d, "port") == 143);
	assert_string_equal(jstr(d, "mode"), "starttls");
	assert_string_equal(jstr(d, "result"), "ok");
	assert_string_equal(jstr(d, "tls.version"), "TLSv1.3");
	assert_true(cJSON_IsFalse(jpath(d, "from_plan")));
	assert_string_equal(jstr(d, "capabilities.1"), "STARTTLS");
	assert_true(jnull(d, "error"));
	cJSON_Delete(d);
	d = cJSON_CreateObject();
	p = probe(&ep993, NET_RESULT_CONNECT_FAILED, NULL, "connection refused");
	mailcheck_tls_details_json(&p, d);
	assert_string_equal(jstr(d, "mode"), "implicit");
	assert_true(jnull(d, "tls"));
	assert_int_equal(cJSON_GetArraySize(jpath(d, "capabilities")), 0);
	assert_string_equal(jstr(d, "error"), "connection refused");
	cJSON_Delete(d);
}

/* imap.login / pop3.login details: the error only when the login failed,
 * the POP3 inbox's size only when known. */
static void
test_login_details(void **state)
{
	struct tls_facts t = cert(100);
	struct mailcheck_login_summary s = {
	    .result = NET_RESULT_OK,
	    .error = "",
	    .user = "alice@example.com",
	    .ep = &ep993,
	    .tls = &t,
	    .now = NOW,
	    .auth = "password",
	    .mechanism = "PLAIN",
	    .messages = -1,
	};
	cJSON *d = cJSON_CreateObject();

	(void)state;
	mailcheck_login_details_json(&s, d);
	assert_string_equal(jstr(d, "user"), "alice@example.com");
	assert_string_equal(jstr(d, "auth"), "password");
	assert_string_equal(jstr(d, "mechanism"), "PLAIN");
	assert_true(jnull(d, "error"));
	assert_null(jpath(d, "messages"));
	cJSON_Delete(d);
	d = cJSON_CreateObject();
	s.messages = 12;
	s.octets = 34567;
	mailcheck_login_details_json(&s, d);
	assert_true(jnum(d, "messages") == 12);
	assert_true(jnum(d, "octets") == 34567);
	cJSON_Delete(d);
	d = cJSON_CreateObject();
	s.result = NET_RESULT_AUTH_FAILED;
	s.error = "authentication failed";
	s.tls = NULL;
	mailcheck_login_details_json(&s, d);
	assert_string_equal(jstr(d, "result"), "auth_failed");
	assert_string_equal(jstr(d, "error"), "authentication failed");
	assert_true(jnull(d, "tls"));
	assert_null(jpath(d, "messages"));
	cJSON_Delete(d);
}

/* smtp.mx's details: the probe's set-up, no "mx" before any probe ran;
 * then a line per host (error, banner and TLS null when absent) and per
 * recipient with its codes and advice. */
static void
test_smtp_mx_details(void **state)
{
	const char *rcpts[] = {"alice@example.com", "nobody@example.com"};
	const char *kw[] = {"PIPELINING", "STARTTLS"};
	struct tls_facts t = cert(100);
	struct smtp_rcpt answers[] = {
	    {(char *)"alice@example.com", SMTP_RCPT_ACCEPTED, 250, "2.1.5", (char *)"OK"},
	    {(char *)"nobody@example.com", SMTP_RCPT_REJECTED, 550, "5.1.1", NULL},
	};
	const struct smtp_mx_host_facts hosts[] = {
	    {.host = "mx1.example.com",
	        .preference = 10,
	        .outcome = SMTP_OUT_OK,
	        .peer = "192.0.2.25",
	        .banner = "220 mx1 ESMTP",
	        .esmtp = kw,
	        .n_esmtp = 2,
	        .starttls = 1,
	        .pipelining = 1,
	        .tls = &t,
	        .rcpts = answers,
	        .n_rcpts = 2},
	    {.host = "mx2.example.com",
	        .preference = 20,
	        .outcome = SMTP_OUT_CONNECT_FAILED,
	        .error = "connection refused",
	        .peer = ""},
	};
	struct smtp_mx_tally y = {.domain = "example.com",
	    .port = 25,
	    .n_rcpts = 2,
	    .mx_source = "dns",
	    .helo = "probe.example.net",
	    .recipients = rcpts};
	cJSON *d = cJSON_CreateObject();

	(void)state;
	smtp_mx_details_json(&y, d);
	assert_string_equal(jstr(d, "mx_source"), "dns");
	assert_true(jnum(d, "port") == 25);
	assert_string_equal(jstr(d, "recipients.1"), "nobody@example.com");
	assert_null(jpath(d, "mx"));
	cJSON_Delete(d);
	d = cJSON_CreateObject();
	y.hosts = hosts;
	y.n_hosts = 2;
	smtp_mx_details_json(&y, d);
	assert_string_equal(jstr(d, "mx.0.result"), "ok");
	assert_true(jnull(d, "mx.0.error"));
	assert_string_equal(jstr(d, "mx.0.esmtp.1"), "STARTTLS");
	assert_string_equal(jstr(d, "mx.0.tls.version"), "TLSv1.3");
	assert_string_equal(jstr(d, "mx.0.recipients.0.status"), "accepted");
	assert_true(jnull(d, "mx.0.recipients.0.advice"));
	assert_string_equal(jstr(d, "mx.0.recipients.1.enhanced_code"), "5.1.1");
	assert_true(jnull(d, "mx.0.recipients.1.text"));
	assert_non_null(strstr(jstr(d, "mx.0.recipients.1.advice"), "No such user"));
	assert_string_equal(jstr(d, "mx.1.error"), "connection refused");
	assert_true(jnull(d, "mx.1.banner"));
	assert_true(jnull(d, "mx.1.tls"));
	assert_int_equal(cJSON_GetArraySize(jpath(d, "mx.1.recipients")), 0);
	cJSON_Delete(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tls_certificate_days),
	    cmocka_unit_test(test_tls_version_and_verification),
	    cmocka_unit_test(test_tls_failures),
	    cmocka_unit_test(test_login),
	    cmocka_unit_test(test_tls_details),
	    cmocka_unit_test(test_login_details),
	    cmocka_unit_test(test_smtp_mx),
	    cmocka_unit_test(test_smtp_mx_details),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
