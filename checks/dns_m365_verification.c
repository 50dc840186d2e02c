/*
 * dns_m365_verification.c - dns.m365_verification: the Microsoft 365 domain
 * verification record, a TXT "MS=ms12345678" at the apex, which the tenant
 * asks for before it accepts the domain (and before it accepts mail for it:
 * recipients of a domain that is not accepted get 550 5.4.1).
 *
 * Runs when the destination is Microsoft 365 (--expect microsoft365, the
 * plan's destination profile) or the plan gives expect.verification; with
 * the latter, the published value must be that one.
 *
 * Details: {"records": ["MS=ms..."], "expected": "MS=ms..." or null}.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cJSON.h>

#include "check.h"
#include "check_verdicts.h"
#include "src/dns.h"
#include "src/dnsmsg.h"
#include "src/util.h"

struct msv_task {
	struct task *t;
	const struct check_input *in;
	char *domain;
	struct dns_query *q;
};

static void
msv_free(struct msv_task *m)
{
	if (m->q != NULL)
		dns_query_cancel(m->q);
	free(m->domain);
	free(m);
}

static void
msv_answer(void *arg, const struct dns_reply *reply)
{
	struct msv_task *m = arg;
	struct result *res = task_result(m->t);
	const char *want = m->in->expect_verification;
	const char **texts = NULL;
	const struct dnsmsg_rr *rr;
	const char *owner;
	size_t it = 0, n = 0;
	int found = 0;
	struct msv_summary sm = {.domain = m->domain, .want = want};
	struct verdict v = {0};

	m->q = NULL;
	if (reply->status != DNS_OK && reply->status != DNS_NODATA &&
	    reply->status != DNS_NXDOMAIN) {
		result_set(
		    res, RESULT_ERROR, "TXT lookup of %s failed: %s", m->domain, reply->error);
		goto done;
	}
	owner = reply->status == DNS_OK ? dnsmsg_resolve_cname(reply->msg, m->domain) : NULL;
	while (owner != NULL &&
	    (rr = dnsmsg_next(reply->msg, DNSMSG_ANSWER, DNSMSG_TXT, owner, &it)) != NULL) {
		if (rr->text == NULL || rr->text_len < 3 || strncasecmp(rr->text, "MS=", 3) != 0)
			continue;
		texts = xrealloc(texts, (n + 1) * sizeof(*texts));
		texts[n++] = rr->text;
		if (want != NULL && strcmp(rr->text, want) == 0)
			found = 1;
	}
	sm.n_records = n;
	sm.found = found;
	sm.first = n > 0 ? texts[0] : NULL;
	sm.records = texts;
	msv_verdict(&sm, &v);
	verdict_apply(&v, res);
done:
	msv_details_json(&sm, res->details);
	free(texts);
	task_done(m->t);
	msv_free(m);
}

void
msv_details_json(const struct msv_summary *s, cJSON *d)
{
	cJSON *arr = cJSON_AddArrayToObject(d, "records");

	for (size_t i = 0; i < s->n_records; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(s->records[i]));
	util_json_add_str_or_null(d, "expected", s->want);
}

void
msv_verdict(const struct msv_summary *s, struct verdict *v)
{
	if (s->want != NULL && s->found) {
		verdict_set(
		    v, RESULT_PASS, "Microsoft 365 verification record %s is published", s->want);
	} else if (s->want != NULL) {
		if (s->n_records == 0)
			verdict_set(v, RESULT_FAIL,
			    "no Microsoft 365 verification record at %s "
			    "(expected %s)",
			    s->domain, s->want);
		else
			verdict_set(v, RESULT_FAIL, "the verification record at %s is %s, not %s",
			    s->domain, s->first, s->want);
		verdict_advise(v,
		    "Publish the TXT record \"%s\" at %s (the value the Microsoft 365 "
		    "admin center shows under Settings > Domains), then verify the "
		    "domain there. Until the tenant accepts the domain, its recipients "
		    "are rejected with 550 5.4.1.",
		    s->want, s->domain);
	} else if (s->n_records > 0) {
		verdict_set(
		    v, RESULT_PASS, "Microsoft 365 verification record published (%s)", s->first);
	} else {
		verdict_set(v, RESULT_WARN,
		    "no Microsoft 365 verification record (TXT MS=ms...) at "
		    "%s",
		    s->domain);
		verdict_advise(v,
		    "Unless the domain is already verified in the tenant, publish the "
		    "TXT record the Microsoft 365 admin center shows (MS=ms followed by "
		    "digits; add it to the plan as expect.verification to check the "
		    "value). Until the domain is accepted, its recipients are rejected "
		    "with 550 5.4.1.");
	}
}

static void
msv_start(struct task *t, void *aux)
{
	struct msv_task *m = aux;
	struct dns_query *q;

	m->t = t;
	q = dns_query(runner_dns(task_runner(t)), m->domain, DNSMSG_TXT, msv_answer, m);
	if (q != NULL) /* NULL: answered already, M is gone */
		m->q = q;
}

static void
msv_cancel(struct task *t, void *aux)
{
	(void)t;
	msv_free(aux);
}

static void
msv_schedule(struct runner *r, const struct check_input *in)
{
	struct msv_task *m;

	if (in->expect_verification == NULL &&
	    (in->expect_profile == NULL || strcmp(in->expect_profile, "microsoft365") != 0))
		return; /* not moving to Microsoft 365 */
	m = xcalloc(1, sizeof(*m));
	m->in = in;
	m->domain = xstrdup(in->domain);
	runner_add(r, NULL, result_new("dns.m365_verification", in->domain, RESULT_SIDE_NONE),
	    msv_start, msv_cancel, m, 0);
}

const struct check check_dns_m365_verification = {
    .id = "dns.m365_verification",
    .group = "dns",
    .title = "Microsoft 365 domain verification TXT record (MS=ms...) published",
    .commands = CHECK_CMD_AUDIT | CHECK_CMD_DNS,
    .schedule = msv_schedule,
};
