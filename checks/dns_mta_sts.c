/*
 * dns_mta_sts.c - dns.mta_sts: the domain's MTA-STS policy (RFC 8461) and
 * whether it lets senders deliver to the expected new MX.
 *
 * The TXT record at _mta-sts.DOMAIN, then the policy at
 * https://mta-sts.DOMAIN/.well-known/mta-sts.txt (libcurl through
 * http_fetch: certificate verified, no redirect followed, at most 64 KiB,
 * section 3.3). A policy in mode enforce whose mx patterns do not cover the
 * expected MX (--expect's profile, the plan's expect.mx) makes every
 * MTA-STS-aware sender refuse the new MX the moment the MX flips: a failure,
 * with the policy to publish and a new id. In mode testing it is a warning.
 *
 * Details: {txt, id, policy_url, http_status, content_type, tls, policy
 * {mode, max_age, mx}, error, expected_mx, covers_expected, policy_to_publish,
 * suggested_id} (reports/SCHEMA.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cJSON.h>

#include "check.h"
#include "check_verdicts.h"
#include "src/dns.h"
#include "src/dnsmsg.h"
#include "src/http.h"
#include "src/mtasts.h"
#include "src/util.h"

struct sts_task {
	struct task *t;
	const struct check_input *in;
	char *domain;
	char *url;
	struct dns_query *q;
	struct http_fetch *fetch;
	char id[33];
};

static void
sts_free(struct sts_task *s)
{
	if (s->q != NULL)
		dns_query_cancel(s->q);
	http_fetch_cancel(s->fetch);
	free(s->url);
	free(s->domain);
	free(s);
}

static void
sts_done(struct sts_task *s)
{
	s->q = NULL;
	s->fetch = NULL;
	task_done(s->t);
	sts_free(s);
}

/* Is the expected MX entry E (a host, or "*.suffix") covered by a pattern? */
static int
sts_covers(const struct mtasts_policy *p, const char *e)
{
	for (size_t i = 0; i < p->n_mx; i++) {
		if (strncmp(e, "*.", 2) == 0) {
			if (util_strieq(p->mx[i], e) ||
			    (strncmp(p->mx[i], "*.", 2) != 0 && mtasts_mx_match(e, p->mx[i])))
				return 1;
		} else if (mtasts_mx_match(p->mx[i], e)) {
			return 1;
		}
	}
	return 0;
}

/* The policy with the expected MX added, as it should be published. */
static char *
sts_policy_text(const struct mtasts_policy *p, const char *const *expect)
{
	size_t cap = 256, len = 0;
	char *out = xmalloc(cap);

#define STS_ADD(...)                                                                               \
	do {                                                                                       \
		int n_ = snprintf(out + len, cap - len, __VA_ARGS__);                              \
		while ((size_t)n_ >= cap - len) {                                                  \
			cap *= 2;                                                                  \
			out = xrealloc(out, cap);                                                  \
			n_ = snprintf(out + len, cap - len, __VA_ARGS__);                          \
		}                                                                                  \
		len += (size_t)n_;                                                                 \
	} while (0)
	STS_ADD("version: STSv1\nmode: %s\n", p->mode);
	for (size_t i = 0; i < p->n_mx; i++)
		STS_ADD("mx: %s\n", p->mx[i]);
	for (size_t i = 0; expect != NULL && expect[i] != NULL; i++)
		if (!sts_covers(p, expect[i]))
			STS_ADD("mx: %s\n", expect[i]);
	STS_ADD("max_age: %ld\n", p->max_age);
#undef STS_ADD
	return out;
}

/* How many of S's expected MX the policy does not cover; the first into FIRST. */
static size_t
sts_missing(const struct sts_summary *s, char *first, size_t len)
{
	size_t missing = 0;

	first[0] = '\0';
	for (size_t i = 0; s->expect != NULL && s->expect[i] != NULL; i++)
		if (!sts_covers(s->policy, s->expect[i]) && missing++ == 0)
			snprintf(first, len, "%s", s->expect[i]);
	return missing;
}

/* 1 when S's policy is compared with the expected MX at all. */
static int
sts_compared(const struct sts_summary *s)
{
	return !(s->expect == NULL || s->expect[0] == NULL || strcmp(s->policy->mode, "none") == 0);
}

void
sts_details_json(const struct sts_summary *s, cJSON *d)
{
	cJSON *arr = cJSON_AddArrayToObject(d, "expected_mx");
	char first[256];
	size_t missing = sts_missing(s, first, sizeof(first));
	char *text;

	for (size_t i = 0; s->expect != NULL && s->expect[i] != NULL; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(s->expect[i]));
	if (!sts_compared(s)) {
		cJSON_AddNullToObject(d, "covers_expected");
		return;
	}
	cJSON_AddBoolToObject(d, "covers_expected", missing == 0);
	if (missing == 0)
		return;
	text = sts_policy_text(s->policy, s->expect);
	cJSON_AddStringToObject(d, "policy_to_publish", text);
	cJSON_AddStringToObject(d, "suggested_id", s->suggested_id);
	free(text);
}

void
sts_verdict(const struct sts_summary *s, struct verdict *v)
{
	const struct mtasts_policy *p = s->policy;
	char first[256], *text;
	size_t missing = sts_missing(s, first, sizeof(first));

	if (!sts_compared(s)) {
		verdict_set(v, RESULT_PASS,
		    "MTA-STS policy in mode %s, %zu mx pattern%s, max_age %ld", p->mode, p->n_mx,
		    p->n_mx == 1 ? "" : "s", p->max_age);
		return;
	}
	if (missing == 0) {
		verdict_set(v, RESULT_PASS, "MTA-STS policy (%s) already allows the new MX (%s)",
		    p->mode, s->expect[0]);
		return;
	}
	if (strcmp(p->mode, "enforce") == 0)
		verdict_set(v, RESULT_FAIL,
		    "MTA-STS policy in mode enforce does not allow the new "
		    "MX %s: MTA-STS senders (Gmail, Microsoft) will refuse to deliver after the "
		    "flip",
		    first);
	else
		verdict_set(v, RESULT_WARN,
		    "MTA-STS policy in mode testing does not list the new "
		    "MX %s: senders will report failures (TLS-RPT) after the flip",
		    first);
	text = sts_policy_text(p, s->expect);
	verdict_advise(v,
	    "Before the MX flip, publish at %s:\n%sthen change the TXT record at "
	    "_mta-sts.%s to \"v=STSv1; id=%s;\" (a new id, or senders keep the cached "
	    "policy for up to max_age = %ld s). Keep the old MX in the policy until "
	    "the flip is done.",
	    s->url, text, s->domain, s->suggested_id, p->max_age);
	free(text);
}

static void
sts_judge(struct sts_task *s, const struct mtasts_policy *p)
{
	struct result *res = task_result(s->t);
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	struct sts_summary sm = {
	    .policy = p,
	    .expect = s->in->expect_mx,
	    .url = s->url,
	    .domain = s->domain,
	    .suggested_id = when,
	};
	struct verdict v = {0};

	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y%m%d%H%M%S", &tm);
	sts_details_json(&sm, res->details);
	sts_verdict(&sm, &v);
	verdict_apply(&v, res);
}

static void
sts_policy_answer(void *arg, const struct http_fetch_result *fr)
{
	struct sts_task *s = arg;
	struct result *res = task_result(s->t);
	struct mtasts_policy p;
	char err[200];
	cJSON *pol;
	struct verdict v = {0};

	s->fetch = NULL;
	cJSON_AddNumberToObject(
	    res->details, "http_status", fr->last != NULL ? fr->last->status : 0);
	if (fr->content_type != NULL)
		cJSON_AddStringToObject(res->details, "content_type", fr->content_type);
	else
		cJSON_AddNullToObject(res->details, "content_type");
	cJSON_AddItemToObject(res->details, "tls",
	    fr->last != NULL ? tls_facts_json(&fr->last->tls, time(NULL)) : cJSON_CreateNull());
	err[0] = '\0';
	if (fr->end != HTTP_FETCH_OK)
		snprintf(err, sizeof(err), "%s", fr->error != NULL ? fr->error : "fetch failed");
	else if (fr->last->status >= 300 && fr->last->status < 400)
		snprintf(err, sizeof(err),
		    "HTTP %ld redirect: RFC 8461 section 3.3 forbids "
		    "following it",
		    fr->last->status);
	else if (fr->last->status != 200)
		snprintf(err, sizeof(err), "HTTP %ld", fr->last->status);
	else if (fr->body_truncated)
		snprintf(err, sizeof(err), "policy larger than %d bytes", MTASTS_MAX_POLICY);
	else if (fr->content_type == NULL || strncasecmp(fr->content_type, "text/plain", 10) != 0)
		snprintf(err, sizeof(err), "Content-Type %s, not text/plain (RFC 8461 section 3.2)",
		    fr->content_type != NULL ? fr->content_type : "missing");
	if (err[0] == '\0' &&
	    mtasts_policy_parse(fr->body, fr->body_len, &p, err, sizeof(err)) == 0) {
		cJSON *mx;

		pol = cJSON_AddObjectToObject(res->details, "policy");
		cJSON_AddStringToObject(pol, "mode", p.mode);
		cJSON_AddNumberToObject(pol, "max_age", (double)p.max_age);
		mx = cJSON_AddArrayToObject(pol, "mx");
		for (size_t i = 0; i < p.n_mx; i++)
			cJSON_AddItemToArray(mx, cJSON_CreateString(p.mx[i]));
		cJSON_AddNullToObject(res->details, "error");
		sts_judge(s, &p);
		mtasts_policy_free(&p);
		sts_done(s);
		return;
	}
	cJSON_AddNullToObject(res->details, "policy");
	cJSON_AddStringToObject(res->details, "error", err);
	sts_unusable_verdict(s->url, s->domain, err, &v);
	verdict_apply(&v, res);
	sts_done(s);
}

void
sts_unusable_verdict(const char *url, const char *domain, const char *why, struct verdict *v)
{
	verdict_set(v, RESULT_WARN,
	    "MTA-STS record published, but the policy at %s is not "
	    "usable: %s",
	    url, why);
	verdict_advise(v,
	    "Senders treat this as no policy, or keep a cached one: serve a "
	    "valid policy (text/plain, 200, no redirect, a certificate valid "
	    "for mta-sts.%s), or remove the _mta-sts TXT record.",
	    domain);
}

int
sts_txt_verdict(const char *domain, int n_records, int id_valid, const char *why, struct verdict *v)
{
	if (n_records == 0) {
		verdict_set(v, RESULT_PASS,
		    "no MTA-STS policy (no v=STSv1 TXT record at "
		    "_mta-sts.%s)",
		    domain);
		return 1;
	}
	if (n_records > 1 || !id_valid) {
		verdict_set(v, RESULT_WARN,
		    "the MTA-STS TXT record at _mta-sts.%s is not valid: %s", domain,
		    n_records > 1 ? "more than one v=STSv1 record (RFC 8461 section 3.1)" : why);
		verdict_advise(v,
		    "Publish exactly one record \"v=STSv1; id=...;\" (id: up to 32 "
		    "letters and digits); senders ignore an invalid one.");
		return 1;
	}
	return 0;
}

static int
sts_budget(struct task *t)
{
	const struct runner_opts *o = runner_opts(task_runner(t));
	int64_t left = (task_started_ms(t) + o->timeout_ms - util_now_ms()) * 9 / 10;

	return left > 100 ? (int)left : 100;
}

static void
sts_txt_answer(void *arg, const struct dns_reply *reply)
{
	struct sts_task *s = arg;
	struct result *res = task_result(s->t);
	const struct dnsmsg_rr *rr;
	const char *owner;
	char err[200], id[33], *name;
	size_t it = 0;
	int n_sts = 0;
	struct http_fetch_opts fo;
	struct verdict v = {0};

	s->q = NULL;
	name = xasprintf("_mta-sts.%s", s->domain);
	if (reply->status != DNS_OK && reply->status != DNS_NODATA &&
	    reply->status != DNS_NXDOMAIN) {
		cJSON_AddNullToObject(res->details, "txt");
		result_set(res, RESULT_ERROR, "TXT lookup of %s failed: %s", name, reply->error);
		free(name);
		sts_done(s);
		return;
	}
	err[0] = '\0';
	owner = reply->status == DNS_OK ? dnsmsg_resolve_cname(reply->msg, name) : NULL;
	while (owner != NULL &&
	    (rr = dnsmsg_next(reply->msg, DNSMSG_ANSWER, DNSMSG_TXT, owner, &it)) != NULL) {
		int r = rr->text != NULL
		    ? mtasts_txt_parse(rr->text, rr->text_len, id, err, sizeof(err))
		    : 0;

		if (r == 0)
			continue;
		if (n_sts++ == 0) {
			cJSON_AddStringToObject(res->details, "txt", rr->text);
			if (r == 1)
				memcpy(s->id, id, sizeof(s->id));
		}
	}
	free(name);
	if (n_sts == 0)
		cJSON_AddNullToObject(res->details, "txt");
	else
		util_json_add_str_or_null(res->details, "id", s->id[0] != '\0' ? s->id : NULL);
	if (sts_txt_verdict(s->domain, n_sts, s->id[0] != '\0', err, &v)) {
		verdict_apply(&v, res);
		sts_done(s);
		return;
	}
	memset(&fo, 0, sizeof(fo));
	fo.url = s->url;
	fo.max_redirects = 0;
	fo.max_body = MTASTS_MAX_POLICY + 1;
	fo.timeout_ms = sts_budget(s->t);
	fo.ca_file = runner_opts(task_runner(s->t))->ca_file;
	fo.insecure = runner_opts(task_runner(s->t))->insecure;
	fo.dns = runner_dns(task_runner(s->t));
	fo.connect_to = s->in->connect_to;
	s->fetch = http_fetch(runner_http(task_runner(s->t)), &fo, sts_policy_answer, s);
}

static void
sts_start(struct task *t, void *aux)
{
	struct sts_task *s = aux;
	struct dns_query *q;
	char *name = xasprintf("_mta-sts.%s", s->domain);

	s->t = t;
	cJSON_AddStringToObject(task_result(t)->details, "policy_url", s->url);
	q = dns_query(runner_dns(task_runner(t)), name, DNSMSG_TXT, sts_txt_answer, s);
	free(name);
	if (q != NULL) /* NULL: answered already, S may be gone */
		s->q = q;
}

static void
sts_cancel(struct task *t, void *aux)
{
	(void)t;
	sts_free(aux);
}

static void
sts_schedule(struct runner *r, const struct check_input *in)
{
	struct sts_task *s = xcalloc(1, sizeof(*s));

	s->in = in;
	s->domain = xstrdup(in->domain);
	s->url = xasprintf("https://mta-sts.%s/.well-known/mta-sts.txt", in->domain);
	runner_add(r, NULL, result_new("dns.mta_sts", in->domain, RESULT_SIDE_NONE), sts_start,
	    sts_cancel, s, 0);
}

const struct check check_dns_mta_sts = {
    .id = "dns.mta_sts",
    .group = "dns",
    .title = "MTA-STS (RFC 8461): the policy allows the new MX before the flip",
    .commands = CHECK_CMD_AUDIT | CHECK_CMD_DNS,
    .schedule = sts_schedule,
};
