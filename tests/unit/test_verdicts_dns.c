/*
 * test_verdicts_dns.c - the verdicts of the dns.* checks at their edges
 * (checks/check_verdicts.h): dns.spf's lookup and void-lookup limits, its
 * records, lints, the destination's include and check_host(), and its
 * details stage by stage; dns.mx's exchanges and go-live; dns.mx_ttl's
 * threshold; dns.autodiscover's host, SRV and expectation; dns.dmarc's count, syntax, tags and
 * policy; dns.dkim's selectors; dns.mta_sts's policy against the new MX; dns.m365_verification and
 * dns.tls_rpt; and the timeouts of dns.spf, dns.autodiscover, dns.dkim and dns.dmarc.
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

static struct spf_walk_summary
walk(const char *record, int lookups, int voids)
{
	struct spf_walk_summary s = {
	    .domain = "example.com",
	    .record = record,
	    .n_records = record != NULL,
	    .result = SPF_NEUTRAL,
	    .lookups = lookups,
	    .void_lookups = voids,
	    .origin = "plan",
	};

	return s;
}

static void
judge(const struct spf_walk_summary *s, struct verdict *v)
{
	verdict_clear(v);
	spf_walk_verdict(s, v);
}

static void
test_spf_lookup_limit(void **state)
{
	struct spf_walk_summary s = walk("v=spf1 include:a.example -all", 10, 0);
	struct verdict v = {0};

	(void)state;
	/* 10 lookups is the limit itself: nothing to say. */
	judge(&s, &v);
	assert_null(v.summary);
	spf_pass_verdict(s.record, 10, 0, NULL, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary, "\"v=spf1 include:a.example -all\": 10 of 10 DNS lookups");
	/* 11 is a permerror, and the advice names the costliest include. */
	s.lookups = 11;
	s.costliest_via = "include";
	s.costliest_domain = "a.example";
	s.costliest_lookups = 8;
	judge(&s, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_string_equal(v.summary,
	    "SPF needs 11 DNS lookups, over the limit of 10: "
	    "receivers return permerror (RFC 7208 section 4.6.4)");
	assert_non_null(strstr(v.advice, "; the costliest is include:a.example with 8 "));
	/* The pass line does not replace a finding. */
	spf_pass_verdict(s.record, 11, 0, NULL, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	verdict_clear(&v);
}

static void
test_spf_void_limit(void **state)
{
	struct spf_walk_summary s = walk("v=spf1 a:gone.example -all", 1, 2);
	struct verdict v = {0};

	(void)state;
	judge(&s, &v);
	assert_null(v.summary);
	s.void_lookups = 3;
	judge(&s, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_non_null(strstr(v.summary, "SPF has 3 void lookups"));
	verdict_clear(&v);
}

static void
test_spf_records(void **state)
{
	struct spf_walk_summary s = walk(NULL, 0, 0);
	struct verdict v = {0};
	char *rec;

	(void)state;
	/* No record: warn, and say what to publish. */
	s.error = "no SPF record";
	judge(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary, "no SPF record for example.com");
	assert_non_null(strstr(v.advice, "\"v=spf1 mx -all\""));
	s.missing = "spf.protection.outlook.com";
	rec = spf_record_to_publish(&s);
	assert_string_equal(rec, "v=spf1 include:spf.protection.outlook.com -all");
	free(rec);
	s.error = "NXDOMAIN";
	judge(&s, &v);
	assert_string_equal(v.summary, "no SPF record for example.com (NXDOMAIN)");
	/* The lookup failed: an error, and nothing to publish. */
	s.result = SPF_TEMPERROR;
	s.error = "SERVFAIL";
	judge(&s, &v);
	assert_int_equal(v.status, RESULT_ERROR);
	assert_string_equal(v.summary, "SPF lookup for example.com failed: SERVFAIL");
	assert_null(spf_record_to_publish(&s));
	/* Two records: permerror. */
	s = walk("v=spf1 -all", 0, 0);
	s.n_records = 2;
	judge(&s, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_non_null(strstr(v.summary, "2 SPF records for example.com"));
	/* A syntax error. */
	s.n_records = 1;
	s.error = "unknown mechanism \"foo\"";
	judge(&s, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_string_equal(v.advice, "Fix the record: \"v=spf1 -all\".");
	verdict_clear(&v);
}

static void
test_spf_broken_and_lints(void **state)
{
	struct spf_lint lints[] = {
	    {"long_record", "example.com", "long"},
	    {"ptr", "example.com", "example.com uses the ptr mechanism"},
	    {"plus_all", "example.com", "example.com has +all"},
	};
	struct spf_walk_summary s = walk("v=spf1 ptr +all", 1, 0);
	struct verdict v = {0};

	(void)state;
	/* A lookup failure below the top is a temperror: warn. */
	s.broken_via = "include";
	s.broken_domain = "b.example";
	s.broken_error = "lookup failed: SERVFAIL";
	judge(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.advice,
	    "Fix or remove include:b.example; receivers that reach it "
	    "return temperror.");
	s.broken_error = "no SPF record";
	judge(&s, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_non_null(strstr(v.advice, "return permerror."));
	/* Lints: long_record says nothing, ptr warns, +all fails; the first worst wins. */
	s.broken_via = NULL;
	s.lints = lints;
	s.n_lints = 2;
	judge(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary, "SPF: example.com uses the ptr mechanism");
	s.n_lints = 3;
	judge(&s, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_string_equal(v.summary, "SPF: example.com has +all");
	assert_null(v.advice);
	verdict_clear(&v);
}

static void
test_spf_destination(void **state)
{
	const char *want[] = {"spf.protection.outlook.com", NULL};
	struct spf_walk_summary s = walk("v=spf1 mx -all", 1, 0);
	struct verdict v = {0};

	(void)state;
	s.expected = want;
	s.missing = want[0];
	s.origin = "microsoft365";
	judge(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary,
	    "SPF of example.com does not authorize the destination "
	    "yet (include:spf.protection.outlook.com, from microsoft365)");
	assert_string_equal(v.advice,
	    "Before the cutover, publish: \"v=spf1 mx "
	    "include:spf.protection.outlook.com -all\"");
	/* Adding it makes exactly 10: fine. */
	spf_dest_verdict(want[0], 10, 9, &v);
	assert_null(strstr(v.advice, "make room"));
	/* 11: the advice says the record would break, and the summary stays the first warn. */
	spf_dest_verdict(want[0], 11, 10, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_non_null(strstr(v.summary, "does not authorize the destination"));
	assert_non_null(strstr(v.advice,
	    " But that record needs 11 DNS lookups, over the limit "
	    "of 10: make room first."));
	verdict_clear(&v);
	/* On its own (nothing said yet), over the limit warns. */
	spf_dest_verdict(want[0], 12, 11, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary,
	    "adding include:spf.protection.outlook.com would make SPF "
	    "need 12 DNS lookups, over the limit of 10 (RFC 7208 section 4.6.4)");
	verdict_clear(&v);
	/* Reached: authorizes, and the pass line says so. */
	spf_pass_verdict("v=spf1 include:spf.protection.outlook.com -all", 3, 1, "192.0.2.1", &v);
	assert_string_equal(v.summary,
	    "\"v=spf1 include:spf.protection.outlook.com -all\": 3 of "
	    "10 DNS lookups, authorizes the destination, 192.0.2.1 passes");
	verdict_clear(&v);
}

static void
test_spf_check_host(void **state)
{
	struct verdict v = {0};

	(void)state;
	spf_ip_verdict("example.com", "192.0.2.1", SPF_PASS, "matched ip4", &v);
	assert_null(v.summary);
	spf_ip_verdict("example.com", "192.0.2.1", SPF_SOFTFAIL, "~all", &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary, "SPF for example.com from 192.0.2.1: softfail (~all)");
	spf_ip_verdict("example.com", "192.0.2.1", SPF_PERMERROR, "syntax", &v);
	assert_int_equal(v.status, RESULT_FAIL);
	spf_ip_verdict("example.com", "192.0.2.1", SPF_TEMPERROR, "SERVFAIL", &v);
	assert_int_equal(v.status, RESULT_ERROR);
	verdict_clear(&v);
}

/* The details of a whole dns.spf run, stage by stage (spf_details_json). */
static char top_domain[] = "example.com", top_record[] = "v=spf1 mx -all";

static struct spf_node *
spf_top(void)
{
	static struct spf_node n;

	memset(&n, 0, sizeof(n));
	n.domain = top_domain;
	n.via = "top";
	n.record = top_record;
	n.n_records = 1;
	n.lookups = n.total_lookups = 1;
	return &n;
}

static cJSON *
spf_details(const struct spf_summary *s)
{
	cJSON *d = cJSON_CreateObject();

	spf_details_json(s, d);
	return d;
}

static void
test_spf_details_stages(void **state)
{
	const char *want[] = {"spf.protection.outlook.com", NULL};
	struct spf_walk_summary w = walk(top_record, 1, 0);
	struct spf_summary s = {.resolver = "127.0.0.1:53", .walk = &w};
	cJSON *d, *it;
	const char *keys_nothing[] = {"resolver", "record", "records_found", "dns_lookups",
	    "void_lookups", "dns_lookup_limit", "includes", "include_tree", "walk_result",
	    "authorizes_destination", "lints"};
	size_t k = 0;

	(void)state;
	w.tree = spf_top();
	/* No destination include expected, no --ip: the walk alone, in this order. */
	d = spf_details(&s);
	cJSON_ArrayForEach(it, d)
	{
		assert_true(k < sizeof(keys_nothing) / sizeof(keys_nothing[0]));
		assert_string_equal(it->string, keys_nothing[k++]);
	}
	assert_int_equal(k, sizeof(keys_nothing) / sizeof(keys_nothing[0]));
	assert_true(jnull(d, "authorizes_destination"));
	assert_string_equal(jstr(d, "include_tree.record"), "v=spf1 mx -all");
	assert_null(jpath(d, "expected"));
	assert_int_equal(cJSON_GetArraySize(jpath(d, "lints")), 0);
	cJSON_Delete(d);
	/* The include is reached: authorizes, nothing to publish, no second walk. */
	w.expected = want;
	d = spf_details(&s);
	assert_true(cJSON_IsTrue(jpath(d, "authorizes_destination")));
	assert_string_equal(jstr(d, "expected.spf_include.0"), "spf.protection.outlook.com");
	assert_string_equal(jstr(d, "expected.origin"), "plan");
	assert_null(jpath(d, "record_to_publish"));
	assert_null(jpath(d, "lookups_after_adding"));
	cJSON_Delete(d);
	/* Missing: the walk of the include says what the record would cost. */
	w.missing = want[0];
	s.dest_walked = 1;
	s.lookups_after_adding = 11;
	d = spf_details(&s);
	assert_true(cJSON_IsFalse(jpath(d, "authorizes_destination")));
	assert_string_equal(
	    jstr(d, "record_to_publish"), "v=spf1 mx include:spf.protection.outlook.com -all");
	assert_int_equal((int)jnum(d, "lookups_after_adding"), 11);
	assert_string_equal(jpath(d, "lookups_after_adding")->next->string, "lints");
	cJSON_Delete(d);
	/* No walk at all: the resolver and no lints. */
	s = (struct spf_summary){.resolver = "127.0.0.1:53"};
	d = spf_details(&s);
	assert_int_equal(cJSON_GetArraySize(d), 2);
	assert_int_equal(cJSON_GetArraySize(jpath(d, "lints")), 0);
	cJSON_Delete(d);
}

static void
test_spf_details_ip(void **state)
{
	struct spf_walk_summary w = walk(top_record, 1, 0);
	struct spf_outcome o = {
	    .result = SPF_PASS,
	    .reason = (char[]){"matched mx"},
	    .mechanism = (char[]){"mx"},
	    .lookups = 1,
	};
	struct spf_ip_summary ip = {
	    .ip = "192.0.2.1",
	    .identity = "example.com",
	    .identity_kind = "mailfrom",
	    .outcome = &o,
	};
	struct spf_summary s = {.resolver = "127.0.0.1:53", .walk = &w, .ip = &ip};
	struct spf_lint lint = {"ptr", top_domain, (char[]){"uses ptr"}};
	cJSON *d;

	(void)state;
	w.tree = o.tree = spf_top();
	w.lints = &lint;
	w.n_lints = 1;
	/* pass: the evaluation, then the result, then the lints */
	d = spf_details(&s);
	assert_string_equal(jstr(d, "result"), "pass");
	assert_string_equal(jpath(d, "evaluation")->next->string, "result");
	assert_string_equal(jpath(d, "result")->next->string, "lints");
	assert_string_equal(jstr(d, "lints.0.code"), "ptr");
	assert_string_equal(jstr(d, "evaluation.ip"), "192.0.2.1");
	/* RFC 7208 section 4.3: no sender is postmaster@ the domain */
	assert_string_equal(jstr(d, "evaluation.sender"), "postmaster@example.com");
	assert_string_equal(jstr(d, "evaluation.identity"), "mailfrom");
	assert_string_equal(jstr(d, "evaluation.mechanism"), "mx");
	assert_string_equal(jstr(d, "evaluation.include_tree.domain"), "example.com");
	assert_null(jpath(d, "evaluation.helo"));
	assert_null(jpath(d, "evaluation.matched_in"));
	assert_null(jpath(d, "evaluation.explanation"));
	cJSON_Delete(d);
	/* fail, with an explanation, a sender and a HELO name */
	o.result = SPF_FAIL;
	o.mechanism = (char[]){"-all"};
	o.matched_in = top_domain;
	o.explanation = (char[]){"not ours"};
	o.explanation_source = "exp";
	ip.sender = "alice@example.com";
	ip.helo = "mx.example.net";
	d = spf_details(&s);
	assert_string_equal(jstr(d, "result"), "fail");
	assert_string_equal(jstr(d, "evaluation.result"), "fail");
	assert_string_equal(jstr(d, "evaluation.sender"), "alice@example.com");
	assert_string_equal(jstr(d, "evaluation.helo"), "mx.example.net");
	assert_string_equal(jstr(d, "evaluation.matched_in"), "example.com");
	assert_string_equal(jstr(d, "evaluation.explanation"), "not ours");
	assert_string_equal(jstr(d, "evaluation.explanation_source"), "exp");
	cJSON_Delete(d);
	/* neutral, nothing matched: mechanism null; an empty sender is postmaster@ again */
	o = (struct spf_outcome){.result = SPF_NEUTRAL, .reason = (char[]){"no match"}};
	o.tree = spf_top();
	ip.sender = "";
	d = spf_details(&s);
	assert_string_equal(jstr(d, "result"), "neutral");
	assert_true(jnull(d, "evaluation.mechanism"));
	assert_string_equal(jstr(d, "evaluation.sender"), "postmaster@example.com");
	cJSON_Delete(d);
	/* The domain's own lookup failed: temperror without an evaluation. */
	ip.outcome = NULL;
	d = spf_details(&s);
	assert_string_equal(jstr(d, "result"), "temperror");
	assert_null(jpath(d, "evaluation"));
	cJSON_Delete(d);
	/* --ip not an address (or none): neither. */
	s.ip = NULL;
	d = spf_details(&s);
	assert_null(jpath(d, "result"));
	assert_null(jpath(d, "evaluation"));
	cJSON_Delete(d);
}

static void
test_mx_ttl(void **state)
{
	struct verdict v = {0};

	(void)state;
	/* At the recommended maximum: pass; one second more: warn. */
	mx_ttl_verdict(3600, 3600, 1, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary, "MX TTL is 3600 s (recommended at most 3600 s)");
	verdict_clear(&v);
	mx_ttl_verdict(3601, 3600, 1, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary,
	    "MX TTL is 3601 s (1.0 h), above the recommended 3600 s "
	    "before a cutover");
	/* The advice aims at 300 s, or lower when the maximum is lower. */
	assert_non_null(strstr(v.advice,
	    "Lower the MX TTL to 300 s or less, and do it at least "
	    "3601 s"));
	verdict_clear(&v);
	mx_ttl_verdict(301, 120, 1, &v);
	assert_non_null(strstr(v.advice, "to 120 s or less"));
	verdict_clear(&v);
	/* A resolver's cached TTL counts down: said so. */
	mx_ttl_verdict(60, 3600, 0, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_non_null(strstr(v.summary,
	    "; as cached by the resolver, the zone's TTL may be "
	    "higher"));
	verdict_clear(&v);
}

static void
test_mx_exchanges(void **state)
{
	const char *expect[] = {"*.mail.protection.outlook.com", NULL};
	struct mx_summary s = {.n_ex = 2, .provider = "google"};
	struct verdict v = {0};

	(void)state;
	mx_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary, "2 MX records, provider google");
	verdict_clear(&v);
	s.provider = NULL;
	s.mixed = 1;
	mx_verdict(&s, &v);
	assert_string_equal(v.summary, "2 MX records, provider mixed");
	verdict_clear(&v);
	/* A lookup error warns; an alias warns first; no address fails first of all. */
	s.lookup_err = "mx2.example.com";
	mx_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_non_null(strstr(v.summary, "the address of mx2.example.com could not be looked up"));
	verdict_clear(&v);
	s.alias = "mx1.example.com";
	s.alias_target = "host.example.net";
	mx_verdict(&s, &v);
	assert_string_equal(
	    v.summary, "MX exchange mx1.example.com is a CNAME (to host.example.net)");
	verdict_clear(&v);
	s.noaddr = "mx3.example.com";
	s.n_noaddr = 1;
	mx_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_string_equal(v.summary, "1 of 2 MX exchanges has no address: mx3.example.com");
	verdict_clear(&v);
	s.n_noaddr = 2;
	s.n_ex = 2;
	mx_verdict(&s, &v);
	assert_non_null(strstr(v.summary, "2 of 2 MX exchanges have no address"));
	verdict_clear(&v);
	/* Expected MX: before go-live the old MX passes, after it fails. */
	s = (struct mx_summary){
	    .n_ex = 1, .provider = "google", .expect_mx = expect, .go_live = "2026-11-28"};
	mx_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary,
	    "1 MX record, provider google: still the google MX, "
	    "expected until go-live");
	verdict_clear(&v);
	s.past_go_live = 1;
	mx_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_string_equal(v.summary,
	    "1 MX record, provider google: still the google MX after "
	    "the go-live date 2026-11-28");
	assert_non_null(strstr(v.advice, "(expected: *.mail.protection.outlook.com)"));
	verdict_clear(&v);
	s.all_expected = 1;
	s.provider = "microsoft365";
	mx_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_non_null(strstr(v.summary, "already the expected MX"));
	verdict_clear(&v);
}

/* dns.mx's details: each record with its addresses (resolves false with
 * none), the provider ("mixed", or null), the expectation only when given,
 * and records_not_checked only when some were left out. */
/* dns.mx_ttl's details: the TTL null without MX records, else with the AA flag. */
static void
test_mx_ttl_details(void **state)
{
	struct mx_ttl_summary s = {.max = 3600};
	cJSON *d = cJSON_CreateObject();

	(void)state;
	mx_ttl_details_json(&s, d);
	assert_true(jnum(d, "recommended_max") == 3600);
	assert_true(jnull(d, "ttl"));
	assert_null(jpath(d, "authoritative"));
	cJSON_Delete(d);
	d = cJSON_CreateObject();
	s = (struct mx_ttl_summary){.max = 3600, .known = 1, .ttl = 86400, .authoritative = 1};
	mx_ttl_details_json(&s, d);
	assert_true(jnum(d, "ttl") == 86400);
	assert_true(cJSON_IsTrue(jpath(d, "authoritative")));
	cJSON_Delete(d);
}

static void
test_mx_details(void **state)
{
	const char *addrs[] = {"192.0.2.25"};
	const char *expect[] = {"*.mail.protection.outlook.com", NULL};
	const struct mx_record recs[] = {
	    {10, "mx1.example.com", 3600, addrs, 1, NULL, NULL},
	    {20, "mx2.example.com", 3600, NULL, 0, "mail.example.net", "SERVFAIL"},
	};
	struct mx_summary s = {.n_ex = 2, .records = recs, .resolver = "127.0.0.1:53", .mixed = 1};
	cJSON *d = cJSON_CreateObject();

	(void)state;
	mx_details_json(&s, d);
	assert_string_equal(jstr(d, "resolver"), "127.0.0.1:53");
	assert_true(jnum(d, "records.0.preference") == 10);
	assert_string_equal(jstr(d, "records.0.addresses.0"), "192.0.2.25");
	assert_true(jnull(d, "records.0.cname"));
	assert_true(cJSON_IsTrue(jpath(d, "records.0.resolves")));
	assert_null(jpath(d, "records.0.lookup_error"));
	assert_int_equal(cJSON_GetArraySize(jpath(d, "records.1.addresses")), 0);
	assert_true(cJSON_IsFalse(jpath(d, "records.1.resolves")));
	assert_string_equal(jstr(d, "records.1.cname"), "mail.example.net");
	assert_string_equal(jstr(d, "records.1.lookup_error"), "SERVFAIL");
	assert_string_equal(jstr(d, "provider"), "mixed");
	assert_true(cJSON_IsFalse(jpath(d, "null_mx")));
	assert_true(cJSON_IsFalse(jpath(d, "authoritative")));
	assert_null(jpath(d, "expected"));
	assert_null(jpath(d, "records_not_checked"));
	cJSON_Delete(d);
	d = cJSON_CreateObject();
	s = (struct mx_summary){.n_ex = 0,
	    .records = recs,
	    .resolver = "127.0.0.1:53",
	    .expect_mx = expect,
	    .authoritative = 1,
	    .not_checked = 3};
	mx_details_json(&s, d);
	assert_int_equal(cJSON_GetArraySize(jpath(d, "records")), 0);
	assert_true(jnull(d, "provider"));
	assert_string_equal(jstr(d, "expected.mx.0"), "*.mail.protection.outlook.com");
	assert_string_equal(jstr(d, "expected.origin"), "plan");
	assert_true(cJSON_IsFalse(jpath(d, "expected.matches")));
	assert_true(jnum(d, "records_not_checked") == 3);
	cJSON_Delete(d);
	d = cJSON_CreateObject();
	s.provider = "microsoft365";
	s.expect_origin = "microsoft365";
	s.all_expected = 1;
	mx_details_json(&s, d);
	assert_string_equal(jstr(d, "provider"), "microsoft365");
	assert_string_equal(jstr(d, "expected.origin"), "microsoft365");
	assert_true(cJSON_IsTrue(jpath(d, "expected.matches")));
	cJSON_Delete(d);
	/* No records: the empty list, a null provider, nothing about exchanges. */
	d = cJSON_CreateObject();
	s = (struct mx_summary){.resolver = "127.0.0.1:53", .no_records = 1};
	mx_details_json(&s, d);
	assert_int_equal(cJSON_GetArraySize(jpath(d, "records")), 0);
	assert_true(jnull(d, "provider"));
	assert_true(cJSON_IsFalse(jpath(d, "null_mx")));
	assert_null(jpath(d, "authoritative"));
	cJSON_Delete(d);
	/* A null MX (RFC 7505): its record as ".", without addresses. */
	d = cJSON_CreateObject();
	{
		const struct mx_record null_rec[] = {{0, "", 300, NULL, 0, NULL, NULL}};

		s = (struct mx_summary){
		    .resolver = "127.0.0.1:53", .n_ex = 1, .records = null_rec, .null_mx = 1};
		mx_details_json(&s, d);
	}
	assert_string_equal(jstr(d, "records.0.exchange"), ".");
	assert_true(jnum(d, "records.0.ttl") == 300);
	assert_null(jpath(d, "records.0.addresses"));
	assert_true(cJSON_IsTrue(jpath(d, "null_mx")));
	assert_null(jpath(d, "authoritative"));
	cJSON_Delete(d);
}

static void
test_mx_lookup(void **state)
{
	struct verdict v = {0};

	(void)state;
	assert_int_equal(mx_lookup_verdict("example.com", DNS_OK, NULL, "127.0.0.1", &v), 0);
	assert_null(v.summary);
	assert_int_equal(mx_lookup_verdict("example.com", DNS_NODATA, NULL, "127.0.0.1", &v), 1);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_string_equal(v.summary, "no MX records for example.com");
	assert_int_equal(mx_lookup_verdict("example.com", DNS_NXDOMAIN, NULL, "127.0.0.1", &v), 1);
	assert_string_equal(v.summary, "example.com does not exist in DNS (NXDOMAIN)");
	assert_int_equal(
	    mx_lookup_verdict("example.com", DNS_SERVFAIL, "SERVFAIL", "127.0.0.1", &v), 1);
	assert_int_equal(v.status, RESULT_ERROR);
	assert_string_equal(v.summary,
	    "MX lookup for example.com failed: SERVFAIL (asked "
	    "127.0.0.1)");
	mx_null_verdict("example.com", 1, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_non_null(strstr(v.summary, "null MX (RFC 7505)"));
	mx_null_verdict("example.com", 0, &v);
	assert_non_null(strstr(v.summary, "invalid null MX"));
	verdict_clear(&v);
}

static struct dns_ad_summary
ad(int n_addr, size_t n_chain, const char *final, const char *expected, int matches)
{
	struct dns_ad_summary s = {
	    .host = "autodiscover.example.com",
	    .srvname = "_autodiscover._tcp.example.com",
	    .final = final != NULL ? final : "autodiscover.example.com",
	    .n_chain = n_chain,
	    .n_addr = n_addr,
	    .host_exists = n_addr > 0 || n_chain > 0,
	    .chain_problem = DNSCHASE_FINE,
	    .servers = "127.0.0.1:5300",
	    .status_a = n_addr > 0 ? DNS_OK : DNS_NXDOMAIN,
	    .status_srv = DNS_NXDOMAIN,
	    .expected = expected,
	    .origin = expected != NULL ? "microsoft365" : NULL,
	    .matches = matches,
	};

	return s;
}

static void
test_autodiscover(void **state)
{
	const char *m365 = "autodiscover.outlook.com";
	struct dns_ad_summary s = ad(0, 0, NULL, NULL, 0);
	struct verdict v = {0};

	(void)state;
	/* Nothing published, nothing expected: fine (not every provider has it). */
	dns_ad_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary,
	    "no autodiscover record (autodiscover.example.com does "
	    "not exist (NXDOMAIN), _autodiscover._tcp.example.com does not exist (NXDOMAIN)); "
	    "none expected, use --expect PROFILE to compare");
	verdict_clear(&v);
	/* Expected but missing: warn, naming the profile. */
	s = ad(0, 0, NULL, m365, 0);
	dns_ad_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.advice,
	    "Publish autodiscover.example.com CNAME "
	    "autodiscover.outlook.com (expected by profile microsoft365) so that Outlook and "
	    "phones find the new mailbox server by themselves after the cutover.");
	verdict_clear(&v);
	/* An alias of the expected host: pass. */
	s = ad(2, 1, m365, m365, 1);
	dns_ad_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary,
	    "autodiscover.example.com is an alias of "
	    "autodiscover.outlook.com, 2 addresses, as expected");
	verdict_clear(&v);
	/* Its own address: warn. */
	s = ad(1, 0, NULL, m365, 0);
	dns_ad_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_non_null(strstr(v.summary,
	    "has an address of its own, not a CNAME to "
	    "autodiscover.outlook.com (expected by profile microsoft365)"));
	verdict_clear(&v);
	/* An alias to nowhere: fail. */
	s = ad(0, 1, "gone.example.net", NULL, 0);
	dns_ad_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_string_equal(v.summary,
	    "autodiscover.example.com is an alias of "
	    "gone.example.net, which has no address: it does not exist (NXDOMAIN)");
	verdict_clear(&v);
	/* A CNAME loop fails before anything else; a failed lookup is an error. */
	s.chain_problem = DNSCHASE_LOOP;
	dns_ad_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_non_null(strstr(v.summary, "CNAME loop"));
	verdict_clear(&v);
	s = ad(0, 0, NULL, NULL, 0);
	s.failed_type = "A";
	s.failed_name = s.host;
	s.failed_error = "SERVFAIL";
	dns_ad_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_ERROR);
	assert_string_equal(v.summary,
	    "autodiscover lookup failed: A autodiscover.example.com: "
	    "SERVFAIL (asked 127.0.0.1:5300)");
	verdict_clear(&v);
	/* Only the SRV record, pointing at the expected host: pass. */
	s = ad(0, 0, NULL, m365, 1);
	s.n_srv = 1;
	s.srv_match = s.srv_first = m365;
	dns_ad_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary,
	    "autodiscover.example.com has no address record, SRV "
	    "_autodiscover._tcp.example.com points to autodiscover.outlook.com, as expected");
	verdict_clear(&v);
}

/* The dns.dmarc verdict on one record TEXT. */
static void
dmarc(const char *text, struct verdict *v)
{
	struct dmarc_record *rec = NULL;
	struct dmarc_error err;
	struct dmarc_summary s = {
	    .name = "_dmarc.example.com",
	    .domain = "example.com",
	    .owner = "_dmarc.example.com",
	    .starter = "v=DMARC1; p=none",
	    .n_txt = 1,
	    .n_dmarc = 1,
	    .record = text,
	    .err = &err,
	};

	if (dmarc_parse(text, strlen(text), &rec, &err) == 0)
		s.rec = rec;
	verdict_clear(v);
	dmarc_verdict(&s, v);
	dmarc_free(rec);
}

static void
test_dmarc(void **state)
{
	struct dmarc_summary s = {
	    .name = "_dmarc.example.com",
	    .owner = "_dmarc.example.com",
	    .starter = "v=DMARC1",
	    .n_txt = 2,
	};
	struct verdict v = {0};

	(void)state;
	/* None of the TXT records is DMARC: warn; two: fail. */
	dmarc_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary,
	    "no DMARC record: none of the 2 TXT records at "
	    "_dmarc.example.com starts with v=DMARC1");
	verdict_clear(&v);
	s.n_dmarc = 2;
	dmarc_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	verdict_clear(&v);
	/* One record: its policy decides the words, never the status. */
	dmarc("v=DMARC1; p=none", &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary,
	    "DMARC policy none (monitoring only), no aggregate "
	    "reports (rua=)");
	assert_null(v.advice);
	dmarc("v=DMARC1; p=none; rua=mailto:d@example.com", &v);
	assert_non_null(strstr(v.summary, ", aggregate reports requested"));
	dmarc("v=DMARC1; p=reject; sp=quarantine; pct=50", &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary,
	    "DMARC policy reject, subdomains quarantine on 50% of "
	    "failing mail");
	assert_non_null(strstr(v.advice, "With p=reject"));
	/* An unknown tag warns, with a suggestion one edit away. */
	dmarc("v=DMARC1; p=none; rue=mailto:d@example.com", &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary,
	    "DMARC policy none, but the record has 1 unknown tag "
	    "(rue: did you mean rua), which receivers ignore");
	/* A syntax error fails, with its position. */
	dmarc("v=DMARC1; p=maybe", &v);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_non_null(strstr(v.summary, "DMARC record syntax error at position "));
	assert_null(dmarc_suggest("xyz"));
	assert_string_equal(dmarc_suggest("aspff"), "aspf");
	verdict_clear(&v);
}

/* dns.dmarc's details: record and policy null unless there is exactly one
 * record; a parse error with its position; the tags with their defaults. */
static void
test_dmarc_details(void **state)
{
	const char *good = "v=DMARC1; p=reject; rua=mailto:d@example.com; foo=1";
	const char *bad = "v=DMARC1; p=maybe";
	const char *two[] = {good, bad};
	struct dmarc_record *rec = NULL;
	struct dmarc_error err = {0};
	struct dmarc_summary s = {.name = "_dmarc.example.com", .err = &err};
	cJSON *d = cJSON_CreateObject();

	(void)state;
	/* The lookup failed: no records listed. */
	dmarc_details_json(&s, d);
	assert_int_equal(cJSON_GetArraySize(jpath(d, "lookups")), 0);
	assert_null(jpath(d, "records"));
	assert_true(jnull(d, "record"));
	assert_true(jnull(d, "policy"));
	cJSON_Delete(d);
	/* Two records: listed, neither judged. */
	d = cJSON_CreateObject();
	s.listed = 1;
	s.n_txt = s.n_dmarc = 2;
	s.dmarc = two;
	dmarc_details_json(&s, d);
	assert_string_equal(jstr(d, "records.1"), bad);
	assert_true(jnull(d, "record"));
	assert_true(jnull(d, "policy"));
	assert_null(jpath(d, "tags"));
	cJSON_Delete(d);
	/* One that does not parse: the error and where. */
	d = cJSON_CreateObject();
	s.n_dmarc = 1;
	s.dmarc = &bad;
	s.record = bad;
	assert_int_not_equal(dmarc_parse(bad, strlen(bad), &rec, &err), 0);
	dmarc_details_json(&s, d);
	assert_string_equal(jstr(d, "record"), bad);
	assert_true(jnull(d, "policy"));
	assert_non_null(jstr(d, "error.message"));
	assert_true(jnum(d, "error.position") == (double)err.pos);
	cJSON_Delete(d);
	/* One that parses: policy, tags, unknown tags. */
	d = cJSON_CreateObject();
	s.dmarc = &good;
	s.record = good;
	assert_int_equal(dmarc_parse(good, strlen(good), &rec, &err), 0);
	s.rec = rec;
	dmarc_details_json(&s, d);
	assert_string_equal(jstr(d, "policy"), "reject");
	assert_non_null(jpath(d, "tags"));
	assert_string_equal(jstr(d, "unknown_tags.0"), "foo");
	assert_null(jpath(d, "error"));
	cJSON_Delete(d);
	dmarc_free(rec);
}

static void
test_dkim(void **state)
{
	struct dkim_summary s = {
	    .domain = "example.com",
	    .profile = "microsoft365",
	    .n_sel = 2,
	    .n_pub = 2,
	    .servers = "127.0.0.1:5300",
	};
	struct verdict v = {0};

	(void)state;
	dkim_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary, "2 of 2 DKIM selectors of profile microsoft365 published");
	verdict_clear(&v);
	/* One missing: warn, with the provider's way to publish it. */
	s.n_pub = 1;
	s.missing_name = s.missing_final = "selector2._domainkey.example.com";
	s.missing_status = DNS_NXDOMAIN;
	dkim_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary,
	    "1 of 2 DKIM selectors of profile microsoft365 published; "
	    "selector2._domainkey.example.com does not exist (NXDOMAIN)");
	assert_non_null(strstr(v.advice, "Microsoft Defender portal"));
	verdict_clear(&v);
	s.missing_final = "selector2-example-com._domainkey.tenant.onmicrosoft.com";
	s.missing_status = DNS_NODATA;
	s.profile = "google";
	s.n_sel = 1;
	s.n_pub = 0;
	dkim_verdict(&s, &v);
	assert_non_null(strstr(v.summary,
	    "is an alias of selector2-example-com._domainkey."
	    "tenant.onmicrosoft.com, which has no TXT record (NODATA)"));
	assert_string_equal(v.advice,
	    "Publish the DKIM selector the provider gives you "
	    "(selector2._domainkey.example.com) before go-live, then enable signing.");
	verdict_clear(&v);
	s.missing_revoked = 1;
	dkim_verdict(&s, &v);
	assert_non_null(strstr(v.summary, "has a revoked key (empty p=)"));
	verdict_clear(&v);
	/* A failed lookup is an error; a CNAME loop a failure. Both before a missing one. */
	s.err_name = "selector1._domainkey.example.com";
	s.err_final = s.err_name;
	s.err_error = "SERVFAIL";
	dkim_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_ERROR);
	assert_string_equal(v.summary,
	    "DKIM lookup for selector1._domainkey.example.com failed: "
	    "SERVFAIL (asked 127.0.0.1:5300)");
	verdict_clear(&v);
	s.err_chain = 1;
	s.err_error = "CNAME loop";
	dkim_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	verdict_clear(&v);
}

static void
sts(const char *policy, const char *const *expect, struct verdict *v, char **publish)
{
	struct mtasts_policy p;
	char err[200];
	struct sts_summary s = {
	    .policy = &p,
	    .expect = expect,
	    .url = "https://mta-sts.example.com/.well-known/"
	           "mta-sts.txt",
	    .domain = "example.com",
	    .suggested_id = "20261123140000",
	};
	cJSON *d = cJSON_CreateObject();
	const cJSON *text;

	assert_int_equal(mtasts_policy_parse(policy, strlen(policy), &p, err, sizeof(err)), 0);
	verdict_clear(v);
	sts_verdict(&s, v);
	sts_details_json(&s, d);
	text = cJSON_GetObjectItemCaseSensitive(d, "policy_to_publish");
	*publish = cJSON_IsString(text) ? strdup(text->valuestring) : NULL;
	cJSON_Delete(d);
	mtasts_policy_free(&p);
}

static void
test_mta_sts(void **state)
{
	const char *m365[] = {"*.mail.protection.outlook.com", NULL};
	const char *host[] = {"example-com.mail.protection.outlook.com", NULL};
	struct verdict v = {0};
	char *publish;

	(void)state;
	/* Enforce without the new MX: fail, and the policy to publish adds it. */
	sts("version: STSv1\nmode: enforce\nmx: mx.old.example\nmax_age: 86400\n", m365, &v,
	    &publish);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_string_equal(v.summary,
	    "MTA-STS policy in mode enforce does not allow the new MX "
	    "*.mail.protection.outlook.com: MTA-STS senders (Gmail, Microsoft) will refuse to "
	    "deliver after the flip");
	assert_string_equal(publish,
	    "version: STSv1\nmode: enforce\nmx: mx.old.example\n"
	    "mx: *.mail.protection.outlook.com\nmax_age: 86400\n");
	assert_non_null(strstr(v.advice, "id=20261123140000;"));
	free(publish);
	/* Testing: only a warning. */
	sts("version: STSv1\nmode: testing\nmx: mx.old.example\nmax_age: 86400\n", m365, &v,
	    &publish);
	assert_int_equal(v.status, RESULT_WARN);
	free(publish);
	/* A pattern that covers the new host: pass, nothing to publish. */
	sts("version: STSv1\nmode: enforce\nmx: *.mail.protection.outlook.com\nmax_age: 86400\n",
	    host, &v, &publish);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary,
	    "MTA-STS policy (enforce) already allows the new MX "
	    "(example-com.mail.protection.outlook.com)");
	assert_null(publish);
	/* Mode none, or nothing expected: not compared. */
	sts("version: STSv1\nmode: none\nmax_age: 86400\n", m365, &v, &publish);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary, "MTA-STS policy in mode none, 0 mx patterns, max_age 86400");
	assert_null(publish);
	sts("version: STSv1\nmode: enforce\nmx: mx.old.example\nmax_age: 86400\n", NULL, &v,
	    &publish);
	assert_string_equal(v.summary,
	    "MTA-STS policy in mode enforce, 1 mx pattern, max_age "
	    "86400");
	verdict_clear(&v);
	/* The TXT record decides first: none passes (optional), two or a bad id warn. */
	assert_int_equal(sts_txt_verdict("example.com", 0, 0, "", &v), 1);
	assert_int_equal(v.status, RESULT_PASS);
	verdict_clear(&v);
	assert_int_equal(sts_txt_verdict("example.com", 1, 1, "", &v), 0);
	assert_null(v.summary);
	assert_int_equal(sts_txt_verdict("example.com", 2, 1, "", &v), 1);
	assert_int_equal(v.status, RESULT_WARN);
	assert_non_null(strstr(v.summary, "more than one v=STSv1 record"));
	verdict_clear(&v);
	assert_int_equal(sts_txt_verdict("example.com", 1, 0, "id: not alphanumeric", &v), 1);
	assert_string_equal(v.summary,
	    "the MTA-STS TXT record at _mta-sts.example.com is not "
	    "valid: id: not alphanumeric");
	verdict_clear(&v);
	sts_unusable_verdict(
	    "https://mta-sts.example.com/.well-known/mta-sts.txt", "example.com", "HTTP 404", &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_non_null(strstr(v.advice, "for mta-sts.example.com"));
	verdict_clear(&v);
}

static void
test_m365_verification(void **state)
{
	struct msv_summary s = {.domain = "example.com", .want = "MS=ms12345678"};
	struct verdict v = {0};

	(void)state;
	msv_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_string_equal(v.summary,
	    "no Microsoft 365 verification record at example.com "
	    "(expected MS=ms12345678)");
	verdict_clear(&v);
	s.n_records = 1;
	s.first = "MS=ms87654321";
	msv_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_string_equal(v.summary,
	    "the verification record at example.com is "
	    "MS=ms87654321, not MS=ms12345678");
	verdict_clear(&v);
	s.found = 1;
	msv_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_PASS);
	verdict_clear(&v);
	/* Nothing expected: any MS= record passes, none warns. */
	s.want = NULL;
	msv_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary,
	    "Microsoft 365 verification record published "
	    "(MS=ms87654321)");
	verdict_clear(&v);
	s.n_records = 0;
	msv_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	verdict_clear(&v);
}

static void
test_tls_rpt(void **state)
{
	struct tlsrpt_summary s = {.name = "_smtp._tls.example.com", .domain = "example.com"};
	struct verdict v = {0};

	(void)state;
	/* Optional: none is a pass. */
	tlsrpt_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary,
	    "no TLS reporting (no v=TLSRPTv1 record at "
	    "_smtp._tls.example.com; optional)");
	verdict_clear(&v);
	s.n_records = 1;
	s.first_rua = "mailto:tls@example.com";
	s.n_rua = 1;
	tlsrpt_verdict(&s, &v);
	assert_string_equal(v.summary, "TLS reports go to mailto:tls@example.com");
	verdict_clear(&v);
	s.n_rua = 2;
	tlsrpt_verdict(&s, &v);
	assert_string_equal(v.summary, "TLS reports go to mailto:tls@example.com and more");
	verdict_clear(&v);
	/* Invalid (or two records): warn. */
	s.n_records = 2;
	s.error = "2 v=TLSRPTv1 records (RFC 8460 section 3 allows one)";
	tlsrpt_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_non_null(strstr(v.advice, "rua=mailto:tls-reports@example.com"));
	verdict_clear(&v);
}

/* dns.autodiscover's details: the chain's first link or null, the addresses
 * and SRV records as found, the expectation only when there is one. */
static void
test_autodiscover_details(void **state)
{
	const char *chain[] = {"autodiscover.outlook.com", "autod.ms-acdc.office.com"};
	const char *addrs[] = {"192.0.2.1", "2001:db8::1"};
	const struct dns_ad_srv srv[] = {{10, 5, 443, "mail.example.com"}, {20, 0, 0, "."}};
	struct dns_ad_summary s = {.host = "autodiscover.example.com"};
	cJSON *lookup = cJSON_CreateObject(), *d = cJSON_CreateObject();

	(void)state;
	cJSON_AddStringToObject(lookup, "type", "A");
	/* Nothing found, nothing expected: empty lists, nulls. */
	s.lookups[0] = lookup;
	dns_ad_details_json(&s, d);
	assert_true(jnull(d, "cname"));
	assert_int_equal(cJSON_GetArraySize(jpath(d, "cname_chain")), 0);
	assert_int_equal(cJSON_GetArraySize(jpath(d, "addresses")), 0);
	assert_int_equal(cJSON_GetArraySize(jpath(d, "srv")), 0);
	assert_true(jnull(d, "matches_expected"));
	assert_null(jpath(d, "expected"));
	assert_int_equal(cJSON_GetArraySize(jpath(d, "lookups")), 1);
	assert_string_equal(jstr(d, "lookups.0.type"), "A");
	cJSON_Delete(d);
	/* An alias chain with addresses, SRV records and an expectation by profile. */
	d = cJSON_CreateObject();
	s.chain = chain;
	s.n_chain = 2;
	s.addresses = addrs;
	s.n_addr = 2;
	s.srv = srv;
	s.n_srv = 2;
	s.expected = "autodiscover.outlook.com";
	s.origin = "microsoft365";
	s.matches = 1;
	dns_ad_details_json(&s, d);
	assert_string_equal(jstr(d, "cname"), "autodiscover.outlook.com");
	assert_string_equal(jstr(d, "cname_chain.1"), "autod.ms-acdc.office.com");
	assert_string_equal(jstr(d, "addresses.1"), "2001:db8::1");
	assert_true(jnum(d, "srv.0.priority") == 10);
	assert_true(jnum(d, "srv.0.port") == 443);
	assert_string_equal(jstr(d, "srv.1.target"), ".");
	assert_true(cJSON_IsTrue(jpath(d, "matches_expected")));
	assert_string_equal(jstr(d, "expected.origin"), "microsoft365");
	cJSON_Delete(d);
	/* No origin: the plan. */
	d = cJSON_CreateObject();
	s.origin = NULL;
	s.matches = 0;
	dns_ad_details_json(&s, d);
	assert_string_equal(jstr(d, "expected.origin"), "plan");
	assert_true(cJSON_IsFalse(jpath(d, "matches_expected")));
	cJSON_Delete(d);
	cJSON_Delete(lookup);
}

/* dns.dkim's details: a line per selector (cname and record null when
 * absent), the profile's selectors as expected, the count published. */
static void
test_dkim_details(void **state)
{
	cJSON *lookup = cJSON_CreateObject(), *d = cJSON_CreateObject();
	const struct dkim_selector sels[] = {
	    {"selector1", "selector1._domainkey.example.com",
	        "selector1-example-com._domainkey.example.onmicrosoft.com", 1, "v=DKIM1; p=MIIB",
	        lookup},
	    {"selector2", "selector2._domainkey.example.com", NULL, 0, NULL, NULL},
	};
	struct dkim_summary s = {.profile = "microsoft365",
	    .n_sel = 2,
	    .n_pub = 1,
	    .selectors = sels,
	    .chosen_by = "plan"};

	(void)state;
	cJSON_AddStringToObject(lookup, "type", "TXT");
	dkim_details_json(&s, d);
	assert_string_equal(jstr(d, "selectors.0.cname"),
	    "selector1-example-com._domainkey.example.onmicrosoft.com");
	assert_true(cJSON_IsTrue(jpath(d, "selectors.0.published")));
	assert_string_equal(jstr(d, "selectors.0.lookup.type"), "TXT");
	assert_true(jnull(d, "selectors.1.cname"));
	assert_true(jnull(d, "selectors.1.record"));
	assert_true(cJSON_IsFalse(jpath(d, "selectors.1.published")));
	assert_string_equal(jstr(d, "expected.selectors.1"), "selector2");
	assert_string_equal(jstr(d, "expected.origin"), "microsoft365");
	assert_string_equal(jstr(d, "expected.chosen_by"), "plan");
	assert_true(jnum(d, "published") == 1);
	cJSON_Delete(d);
	cJSON_Delete(lookup);
}

/* dns.m365_verification's and dns.tls_rpt's details: lists empty and
 * values null when nothing was found. */
static void
test_txt_record_details(void **state)
{
	const char *ms[] = {"MS=ms12345678"},
	           *rua[] = {"mailto:a@example.com", "https://r.example"};
	struct msv_summary m = {.domain = "example.com"};
	struct tlsrpt_summary t = {.name = "_smtp._tls.example.com"};
	cJSON *d = cJSON_CreateObject();

	(void)state;
	msv_details_json(&m, d);
	assert_int_equal(cJSON_GetArraySize(jpath(d, "records")), 0);
	assert_true(jnull(d, "expected"));
	cJSON_Delete(d);
	d = cJSON_CreateObject();
	m = (struct msv_summary){.want = "MS=ms1", .n_records = 1, .records = ms};
	msv_details_json(&m, d);
	assert_string_equal(jstr(d, "records.0"), "MS=ms12345678");
	assert_string_equal(jstr(d, "expected"), "MS=ms1");
	cJSON_Delete(d);
	d = cJSON_CreateObject();
	tlsrpt_details_json(&t, d);
	assert_int_equal(cJSON_GetArraySize(jpath(d, "rua")), 0);
	assert_true(jnull(d, "record"));
	assert_true(jnull(d, "error"));
	cJSON_Delete(d);
	d = cJSON_CreateObject();
	t = (struct tlsrpt_summary){.n_records = 2,
	    .record = "v=TLSRPTv1; rua=mailto:a@example.com",
	    .rua = rua,
	    .n_rua = 2,
	    .error = "2 v=TLSRPTv1 records"};
	tlsrpt_details_json(&t, d);
	assert_string_equal(jstr(d, "rua.1"), "https://r.example");
	assert_string_equal(jstr(d, "record"), "v=TLSRPTv1; rua=mailto:a@example.com");
	assert_string_equal(jstr(d, "error"), "2 v=TLSRPTv1 records");
	cJSON_Delete(d);
}

/* A check cut by its deadline (the cancel paths): which name it waited for,
 * and the lookups with no answer marked as such. */
static void
test_dns_timeouts(void **state)
{
	struct dns_ad_summary ad = {
	    .host = "autodiscover.example.com",
	    .srvname = "_autodiscover._tcp.example.com",
	    .timed_out = 1,
	    .waiting = "_autodiscover._tcp.example.com",
	    .expected = "autodiscover.outlook.com", /* not written: only the lookups */
	};
	struct dkim_summary dk = {.timed_out = 1, .waiting = "selector2._domainkey.example.com"};
	struct dmarc_summary dm = {.name = "_dmarc.example.com", .timed_out = 1};
	cJSON *a = cJSON_CreateObject(), *d;
	struct verdict v = {0};

	(void)state;
	/* dns.autodiscover: A and AAAA answered, SRV did not. */
	cJSON_AddStringToObject(a, "status", "nxdomain");
	ad.lookups[0] = ad.lookups[1] = a;
	dns_ad_verdict(&ad, &v);
	assert_int_equal(v.status, RESULT_ERROR);
	assert_string_equal(v.summary, "timed out waiting for _autodiscover._tcp.example.com");
	assert_null(v.advice);
	verdict_clear(&v);
	d = cJSON_CreateObject();
	dns_ad_details_json(&ad, d);
	assert_int_equal(cJSON_GetArraySize(d), 1);
	assert_int_equal(cJSON_GetArraySize(jpath(d, "lookups")), 3);
	assert_string_equal(jstr(d, "lookups.1.status"), "nxdomain");
	assert_string_equal(jstr(d, "lookups.2.name"), "_autodiscover._tcp.example.com");
	assert_string_equal(jstr(d, "lookups.2.type"), "SRV");
	assert_string_equal(jstr(d, "lookups.2.status"), "timeout");
	assert_string_equal(jstr(d, "lookups.2.error"), "no answer before the check's deadline");
	cJSON_Delete(d);
	/* None answered: three stubs, A and AAAA named after the host. */
	ad.lookups[0] = ad.lookups[1] = NULL;
	d = cJSON_CreateObject();
	dns_ad_details_json(&ad, d);
	assert_string_equal(jstr(d, "lookups.0.name"), "autodiscover.example.com");
	assert_string_equal(jstr(d, "lookups.0.type"), "A");
	assert_string_equal(jstr(d, "lookups.1.type"), "AAAA");
	assert_string_equal(jstr(d, "lookups.1.status"), "timeout");
	cJSON_Delete(d);
	cJSON_Delete(a);
	/* dns.dkim: a selector had no answer; the details stay empty. */
	dkim_verdict(&dk, &v);
	assert_int_equal(v.status, RESULT_ERROR);
	assert_string_equal(
	    v.summary, "timed out waiting for the TXT record of selector2._domainkey.example.com");
	verdict_clear(&v);
	d = cJSON_CreateObject();
	dkim_details_json(&dk, d);
	assert_int_equal(cJSON_GetArraySize(d), 0);
	cJSON_Delete(d);
	/* Still at the MX lookup: nothing to say, the runner's line stays. */
	dk.waiting = NULL;
	dkim_verdict(&dk, &v);
	assert_null(v.summary);
	/* dns.spf: the stage it was at; its details stay empty. */
	spf_timeout_verdict("example.com", 2, &v);
	assert_int_equal(v.status, RESULT_ERROR);
	assert_string_equal(v.summary,
	    "SPF check of example.com did not finish in time (walking the destination's include)");
	verdict_clear(&v);
	spf_timeout_verdict("example.com", 3, &v);
	assert_string_equal(v.summary,
	    "SPF check of example.com did not finish in time "
	    "(evaluating check_host() for --ip)");
	verdict_clear(&v);
	/* dns.dmarc: the one lookup, marked. */
	dmarc_verdict(&dm, &v);
	assert_int_equal(v.status, RESULT_ERROR);
	assert_string_equal(
	    v.summary, "timed out waiting for the TXT records of _dmarc.example.com");
	verdict_clear(&v);
	d = cJSON_CreateObject();
	dmarc_details_json(&dm, d);
	assert_int_equal(cJSON_GetArraySize(d), 1);
	assert_string_equal(jstr(d, "lookups.0.name"), "_dmarc.example.com");
	assert_string_equal(jstr(d, "lookups.0.type"), "TXT");
	assert_string_equal(jstr(d, "lookups.0.status"), "timeout");
	assert_null(jpath(d, "record"));
	cJSON_Delete(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_spf_lookup_limit),
	    cmocka_unit_test(test_spf_void_limit),
	    cmocka_unit_test(test_spf_records),
	    cmocka_unit_test(test_spf_broken_and_lints),
	    cmocka_unit_test(test_spf_destination),
	    cmocka_unit_test(test_spf_check_host),
	    cmocka_unit_test(test_spf_details_stages),
	    cmocka_unit_test(test_spf_details_ip),
	    cmocka_unit_test(test_mx_ttl),
	    cmocka_unit_test(test_mx_ttl_details),
	    cmocka_unit_test(test_mx_exchanges),
	    cmocka_unit_test(test_mx_details),
	    cmocka_unit_test(test_mx_lookup),
	    cmocka_unit_test(test_autodiscover),
	    cmocka_unit_test(test_autodiscover_details),
	    cmocka_unit_test(test_dmarc),
	    cmocka_unit_test(test_dmarc_details),
	    cmocka_unit_test(test_dkim),
	    cmocka_unit_test(test_dkim_details),
	    cmocka_unit_test(test_txt_record_details),
	    cmocka_unit_test(test_mta_sts),
	    cmocka_unit_test(test_m365_verification),
	    cmocka_unit_test(test_tls_rpt),
	    cmocka_unit_test(test_dns_timeouts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
