/*
 * dns_tls_rpt.c - dns.tls_rpt: SMTP TLS reporting (RFC 8460), the TXT record
 * at _smtp._tls.DOMAIN: where senders report TLS and MTA-STS failures, which
 * is how a broken policy shows up after the MX flip.
 *
 * Details: {"record": string or null, "rua": [URIs], "error": string or null}.
 */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "check.h"
#include "check_verdicts.h"
#include "src/dns.h"
#include "src/dnsmsg.h"
#include "src/mtasts.h"
#include "src/util.h"

#define TLSRPT_MAX_RUA 16

struct rpt_task {
	struct task *t;
	char *domain, *name;
	struct dns_query *q;
};

static void
rpt_free(struct rpt_task *m)
{
	if (m->q != NULL)
		dns_query_cancel(m->q);
	free(m->name);
	free(m->domain);
	free(m);
}

void
tlsrpt_details_json(const struct tlsrpt_summary *s, cJSON *d)
{
	cJSON *arr = cJSON_AddArrayToObject(d, "rua");

	for (size_t i = 0; i < s->n_rua; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(s->rua[i]));
	util_json_add_str_or_null(d, "record", s->record);
	util_json_add_str_or_null(d, "error", s->error);
}

static void
rpt_answer(void *arg, const struct dns_reply *reply)
{
	struct rpt_task *m = arg;
	struct result *res = task_result(m->t);
	const struct dnsmsg_rr *rr;
	const char *owner;
	char *uris[TLSRPT_MAX_RUA], *first[TLSRPT_MAX_RUA], err[200] = "";
	size_t it = 0, n = 0, n_first = 0;
	int found = 0, bad = 0;
	struct tlsrpt_summary sm = {.name = m->name, .domain = m->domain};
	struct verdict v = {0};

	m->q = NULL;
	if (reply->status != DNS_OK && reply->status != DNS_NODATA &&
	    reply->status != DNS_NXDOMAIN) {
		result_set(res, RESULT_ERROR, "TXT lookup of %s failed: %s", m->name, reply->error);
		goto done;
	}
	owner = reply->status == DNS_OK ? dnsmsg_resolve_cname(reply->msg, m->name) : NULL;
	while (owner != NULL &&
	    (rr = dnsmsg_next(reply->msg, DNSMSG_ANSWER, DNSMSG_TXT, owner, &it)) != NULL) {
		int r = rr->text != NULL ? mtasts_tlsrpt_parse(rr->text, rr->text_len, uris,
		                               TLSRPT_MAX_RUA, &n, err, sizeof(err))
		                         : 0;

		if (r == 0)
			continue;
		if (found++ == 0) {
			sm.record = rr->text;
			if (r < 0)
				bad = 1;
			memcpy(first, uris, n * sizeof(*uris));
			n_first = n;
		} else {
			for (size_t i = 0; i < n; i++)
				free(uris[i]);
		}
		n = 0;
	}
	if (found > 1) {
		bad = 1;
		snprintf(err, sizeof(err), "%d v=TLSRPTv1 records (RFC 8460 section 3 allows one)",
		    found);
	}
	sm.n_records = (size_t)found;
	sm.error = bad ? err : NULL;
	sm.rua = (const char *const *)first;
	sm.n_rua = n_first;
	sm.first_rua = n_first > 0 ? first[0] : NULL;
	tlsrpt_verdict(&sm, &v);
	verdict_apply(&v, res);
done:
	tlsrpt_details_json(&sm, res->details);
	for (size_t i = 0; i < n_first; i++)
		free(first[i]);
	task_done(m->t);
	rpt_free(m);
}

void
tlsrpt_verdict(const struct tlsrpt_summary *s, struct verdict *v)
{
	if (s->n_records == 0) {
		verdict_set(v, RESULT_PASS,
		    "no TLS reporting (no v=TLSRPTv1 record at %s; optional)", s->name);
	} else if (s->error != NULL) {
		verdict_set(v, RESULT_WARN, "the TLS reporting record at %s is not valid: %s",
		    s->name, s->error);
		verdict_advise(v,
		    "Publish one record \"v=TLSRPTv1; rua=mailto:tls-reports@%s\": "
		    "senders ignore an invalid one, and its reports are how TLS or "
		    "MTA-STS failures after the flip become visible.",
		    s->domain);
	} else {
		verdict_set(v, RESULT_PASS, "TLS reports go to %s%s", s->first_rua,
		    s->n_rua > 1 ? " and more" : "");
	}
}

static void
rpt_start(struct task *t, void *aux)
{
	struct rpt_task *m = aux;
	struct dns_query *q;

	m->t = t;
	q = dns_query(runner_dns(task_runner(t)), m->name, DNSMSG_TXT, rpt_answer, m);
	if (q != NULL) /* NULL: answered already, M is gone */
		m->q = q;
}

static void
rpt_cancel(struct task *t, void *aux)
{
	(void)t;
	rpt_free(aux);
}

static void
rpt_schedule(struct runner *r, const struct check_input *in)
{
	struct rpt_task *m = xcalloc(1, sizeof(*m));

	m->domain = xstrdup(in->domain);
	m->name = xasprintf("_smtp._tls.%s", in->domain);
	runner_add(r, NULL, result_new("dns.tls_rpt", in->domain, RESULT_SIDE_NONE), rpt_start,
	    rpt_cancel, m, 0);
}

const struct check check_dns_tls_rpt = {
    .id = "dns.tls_rpt",
    .group = "dns",
    .title = "SMTP TLS reporting record (RFC 8460) at _smtp._tls",
    .commands = CHECK_CMD_AUDIT | CHECK_CMD_DNS,
    .schedule = rpt_schedule,
};
