/*
 * test_verdicts_propagation.c - dns.propagation's verdict (prop_verdict) at
 * its edges: nothing answered, a stale authoritative server, stale resolvers
 * with and without a known expiry, serials that differ, and how the
 * deadline, an interruption and a completed watch change the word.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/propagation.h"

/* 2026-11-23 14:00:00 UTC */
#define NOW ((time_t)1795442400)

static struct prop_summary
summary(size_t am, size_t as, size_t ae, size_t rm, size_t rs, size_t re)
{
	struct prop_summary s;

	memset(&s, 0, sizeof(s));
	s.label = "MX example.com";
	s.counts = (struct prop_counts){am, as, ae, rm, rs, re};
	s.status = prop_status(&s.counts);
	s.total = am + as + ae + rm + rs + re;
	s.answers_agree = 1;
	s.now = NOW;
	s.outcome = PROP_OUT_ROUND;
	s.rounds = 1;
	return s;
}

static void
judge(const struct prop_summary *s, struct verdict *v)
{
	verdict_clear(v);
	prop_verdict(s, v);
}

static void
test_all_match(void **state)
{
	struct prop_summary s = summary(2, 0, 0, 3, 0, 0);
	struct verdict v = {0};

	(void)state;
	judge(&s, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary, "MX example.com: all 5 servers have the new answer");
	assert_null(v.advice);
	verdict_clear(&v);
}

static void
test_nothing_answered(void **state)
{
	struct prop_summary s = summary(0, 0, 2, 0, 0, 1);
	struct verdict v = {0};

	(void)state;
	s.first_error = "timeout";
	s.first_error_server = "192.0.2.1";
	judge(&s, &v);
	assert_int_equal(v.status, RESULT_ERROR);
	assert_string_equal(v.summary, "MX example.com: no server answered (192.0.2.1: timeout)");
	assert_non_null(strstr(v.advice, "--authoritative"));
	/* No server at all: the discovery's error, or what is missing. */
	s = summary(0, 0, 0, 0, 0, 0);
	judge(&s, &v);
	assert_int_equal(v.status, RESULT_ERROR);
	assert_string_equal(v.summary,
	    "MX example.com: no server to ask (no authoritative "
	    "server and no resolver)");
	s.discovery_error = "NS example.com: NXDOMAIN";
	judge(&s, &v);
	assert_string_equal(v.summary,
	    "MX example.com: no server to ask (NS example.com: "
	    "NXDOMAIN)");
	/* The deadline does not turn an error into a fail. */
	s.outcome = PROP_OUT_DEADLINE;
	judge(&s, &v);
	assert_int_equal(v.status, RESULT_ERROR);
	verdict_clear(&v);
}

static void
test_stale_authoritative(void **state)
{
	struct prop_summary s = summary(1, 1, 0, 2, 0, 0);
	struct verdict v = {0};

	(void)state;
	/* A resolver has the new answer, a name server the old: fail. */
	s.stale_authoritative = "192.0.2.53";
	s.n_stale_authoritative = 1;
	judge(&s, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_string_equal(v.summary,
	    "MX example.com: authoritative server 192.0.2.53 still "
	    "serves the old answer while resolvers have the new one");
	assert_non_null(strstr(v.advice, "zone transfer"));
	s.n_stale_authoritative = 2;
	judge(&s, &v);
	assert_non_null(strstr(v.summary, "192.0.2.53 (and others) still"));
	/* No resolver has it yet: only a warning, blaming the name server. */
	s = summary(1, 1, 0, 0, 2, 0);
	s.stale_authoritative = "192.0.2.53";
	s.n_stale_authoritative = 1;
	s.expire_by = NOW + 600;
	judge(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary,
	    "MX example.com: 1 of 4 servers have the new answer, 3 "
	    "stale");
	assert_non_null(strstr(v.advice, "Authoritative server 192.0.2.53 still serves"));
	verdict_clear(&v);
}

static void
test_stale_resolvers(void **state)
{
	struct prop_summary s = summary(2, 0, 0, 1, 2, 1);
	struct verdict v = {0};

	(void)state;
	s.expire_by = NOW + 3600;
	s.first_error = "REFUSED";
	s.first_error_server = "192.0.2.9";
	judge(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary,
	    "MX example.com: 3 of 6 servers have the new answer, 2 "
	    "stale, 1 could not be asked; all caches expire by 15:00 UTC at the latest");
	assert_non_null(strstr(v.advice, "(by 15:00 UTC at the latest)"));
	/* No TTL known: no time promised. */
	s.expire_by = 0;
	judge(&s, &v);
	assert_string_equal(v.summary,
	    "MX example.com: 3 of 6 servers have the new answer, 2 "
	    "stale, 1 could not be asked");
	assert_non_null(strstr(v.advice, "until its TTL runs out. Nothing to fix"));
	/* Only errors: the advice names the server that could not be asked. */
	s = summary(2, 0, 0, 1, 0, 1);
	s.first_error = "REFUSED";
	s.first_error_server = "192.0.2.9";
	judge(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_non_null(strstr(v.advice, "192.0.2.9 could not be asked (REFUSED)"));
	verdict_clear(&v);
}

static void
test_serials_differ(void **state)
{
	int64_t serials[] = {2026112301, 2026112302};
	struct prop_summary s = summary(2, 0, 0, 1, 0, 0);
	struct verdict v = {0};

	(void)state;
	s.serials = serials;
	s.n_serials = 2;
	judge(&s, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary,
	    "MX example.com: all 3 servers have the new answer; "
	    "authoritative serials differ (2026112301 vs 2026112302)");
	assert_non_null(strstr(v.advice, "disagree on the zone's serial"));
	/* One serial: nothing said. */
	s.n_serials = 1;
	judge(&s, &v);
	assert_null(v.advice);
	verdict_clear(&v);
}

static void
test_outcomes(void **state)
{
	struct prop_summary s = summary(1, 0, 0, 1, 1, 0);
	struct verdict v = {0};

	(void)state;
	/* At the deadline, anything not complete fails. */
	s.outcome = PROP_OUT_DEADLINE;
	s.deadline_ms = 120000;
	s.rounds = 4;
	judge(&s, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_string_equal(v.summary,
	    "not fully propagated by the deadline (120 s, 4 rounds): "
	    "MX example.com: 2 of 3 servers have the new answer, 1 stale");
	/* Interrupted: a pass so far only warns; a warn stays a warn. */
	s.outcome = PROP_OUT_INTERRUPTED;
	s.rounds = 1;
	judge(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_non_null(strstr(v.summary, "interrupted after 1 round: "));
	s = summary(1, 0, 0, 1, 0, 0);
	s.outcome = PROP_OUT_INTERRUPTED;
	judge(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	/* A watch that completed says how long it took. */
	s.outcome = PROP_OUT_COMPLETE;
	s.watch = 1;
	s.rounds = 3;
	s.elapsed_ms = 61500;
	judge(&s, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary,
	    "MX example.com: all 2 servers have the new answer after "
	    "3 rounds (61.5 s)");
	/* Without --watch a completed round adds nothing. */
	s.watch = 0;
	judge(&s, &v);
	assert_string_equal(v.summary, "MX example.com: all 2 servers have the new answer");
	verdict_clear(&v);
}

/* The details: a row per server (nulls for what a failed server lacks), the
 * discovery object only when the name servers were looked up, the watch
 * object only with --watch, and the timeline as recorded. */
static void
test_details(void **state)
{
	struct prop_summary s = summary(1, 0, 0, 0, 1, 1);
	const char *expected[] = {"mx.new.example"}, *answer[] = {"mx.old.example"};
	const char *ns[] = {"ns1.example.com"};
	struct prop_server_row rows[3] = {
	    {.server = "192.0.2.1",
	        .name = "ns1.example.com",
	        .authoritative = 1,
	        .state = "match",
	        .answer = expected,
	        .n_answer = 1,
	        .ttl = 300,
	        .serial = 7,
	        .first_match_at = NOW,
	        .first_match_ms = 12},
	    {.server = "198.51.100.1",
	        .operator= "Example DNS",
	        .country = "DE",
	        .state = "stale",
	        .answer = answer,
	        .n_answer = 1,
	        .ttl = 60,
	        .serial = -1,
	        .expires_at = NOW + 60,
	        .first_match_ms = -1},
	    {.server = "203.0.113.9",
	        .state = "error",
	        .ttl = -1,
	        .serial = -1,
	        .error = "no answer within the time limit",
	        .error_code = "timeout",
	        .first_match_ms = -1},
	};
	int64_t serials[] = {7};
	cJSON *d = cJSON_CreateObject(), *srv, *timeline = cJSON_CreateArray();

	(void)state;
	s.record_type = "MX";
	s.record_name = "example.com";
	s.expected = expected;
	s.n_expected = 1;
	s.servers = rows;
	s.serials = serials;
	s.n_serials = 1;
	s.discovered = 1;
	s.ns = ns;
	s.n_ns = 1;
	s.expire_by = NOW + 60;
	cJSON_AddItemToArray(timeline, cJSON_CreateString("an event"));
	s.timeline = timeline;
	prop_details_json(&s, d);
	assert_string_equal(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(d, "record"), "type")->valuestring, "MX");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d, "servers")), 3);
	srv = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "servers"), 0);
	assert_string_equal(cJSON_GetObjectItem(srv, "role")->valuestring, "authoritative");
	assert_int_equal(cJSON_GetObjectItem(srv, "serial")->valueint, 7);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(srv, "operator")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(srv, "error")));
	assert_string_equal(
	    cJSON_GetObjectItem(srv, "first_match_at")->valuestring, "2026-11-23T14:00:00Z");
	srv = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "servers"), 1);
	assert_string_equal(cJSON_GetObjectItem(srv, "state")->valuestring, "stale");
	assert_string_equal(cJSON_GetObjectItem(srv, "country")->valuestring, "DE");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(srv, "serial")));
	assert_string_equal(
	    cJSON_GetObjectItem(srv, "expires_at")->valuestring, "2026-11-23T14:01:00Z");
	assert_null(cJSON_GetObjectItem(srv, "negative"));
	srv = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "servers"), 2);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(srv, "answer")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(srv, "ttl")));
	assert_string_equal(cJSON_GetObjectItem(srv, "error_code")->valuestring, "timeout");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(srv, "first_match_ms")));
	assert_int_equal(cJSON_GetObjectItem(d, "matched")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(d, "stale")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(d, "errors")->valueint, 1);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(d, "authoritative_agree")));
	assert_string_equal(
	    cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "discovery"), "ns"), 0)
	        ->valuestring,
	    "ns1.example.com");
	assert_true(
	    cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "discovery"), "error")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(d, "watch")));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d, "timeline")), 1);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(d, "timeline_truncated")));
	cJSON_Delete(d);

	/* Given name servers, no timeline yet, a watch that hit its deadline. */
	d = cJSON_CreateObject();
	s.discovered = 0;
	s.timeline = NULL;
	s.total = 0;
	s.watch = 1;
	s.interval_ms = 5000;
	s.outcome = PROP_OUT_DEADLINE;
	s.started_at = NOW;
	s.elapsed_ms = 1500;
	prop_details_json(&s, d);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(d, "discovery")));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d, "servers")), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d, "timeline")), 0);
	srv = cJSON_GetObjectItem(d, "watch");
	assert_true(cJSON_GetObjectItem(srv, "interval_s")->valuedouble == 5.0);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(srv, "deadline_s")));
	assert_string_equal(cJSON_GetObjectItem(srv, "outcome")->valuestring, "deadline");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(srv, "completed_at")));
	cJSON_Delete(d);
	cJSON_Delete(timeline);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_all_match),
	    cmocka_unit_test(test_nothing_answered),
	    cmocka_unit_test(test_stale_authoritative),
	    cmocka_unit_test(test_stale_resolvers),
	    cmocka_unit_test(test_serials_differ),
	    cmocka_unit_test(test_outcomes),
	    cmocka_unit_test(test_details),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
