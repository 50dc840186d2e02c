/*
 * dns_autodiscover.c - dns.autodiscover: where Outlook and phones look for
 * the mailbox server, and whether that is the provider we move to.
 *
 * Outlook tries https://autodiscover.DOMAIN/ before the SRV record
 * _autodiscover._tcp.DOMAIN (RFC 2782 format; Microsoft's autodiscover
 * protocol, [MS-OXDSCLI] section 3.1.5), so the host name decides when it
 * exists and the SRV record only when it does not. Three lookups run at
 * once: A and AAAA of autodiscover.DOMAIN (with the CNAME chain followed
 * across zones, src/dnschase.h) and SRV of _autodiscover._tcp.DOMAIN.
 *
 * The expected target comes from the plan's expect.autodiscover (itself
 * filled from the destination profile) or, for `cutover dns`, from the
 * --expect profile; the details say which ("expected.origin").
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "check_verdicts.h"
#include "src/dnschase.h"
#include "src/plan.h"
#include "src/profile.h"
#include "src/util.h"

enum { AD_A = 0, AD_AAAA, AD_SRV, AD_N };

struct ad_task;

struct ad_ref {
	struct ad_task *m;
	int which;
};

struct ad_task {
	struct task *t;
	char *domain;
	char *name[AD_N];     /* autodiscover.D, autodiscover.D, _autodiscover._tcp.D */
	const char *expected; /* borrowed from the plan or a profile */
	const char *origin;
	struct dnschase *ch[AD_N];
	struct ad_ref ref[AD_N];
	int pending;
	/* What came back. */
	int answered[AD_N];
	enum dns_status st[AD_N];
	enum dnschase_problem problem[AD_N];
	char *error[AD_N];
	cJSON *lookup[AD_N];
	char *chain[DNSCHASE_MAX_LINKS]; /* from the A lookup, or AAAA if longer */
	size_t n_chain;
	char **addr; /* the A and AAAA answers */
	size_t n_addr;
	struct dns_ad_srv *srv;
	size_t n_srv;
	char *srv_match; /* an SRV target equal to the expectation */
	char *srv_first; /* the first SRV target */
};

static void
ad_task_free(struct ad_task *m)
{
	for (int i = 0; i < AD_N; i++) {
		dnschase_cancel(m->ch[i]);
		free(m->name[i]);
		free(m->error[i]);
		cJSON_Delete(m->lookup[i]);
	}
	for (size_t i = 0; i < m->n_chain; i++)
		free(m->chain[i]);
	for (size_t i = 0; i < m->n_addr; i++)
		free(m->addr[i]);
	free(m->addr);
	for (size_t i = 0; i < m->n_srv; i++)
		free((char *)m->srv[i].target);
	free(m->srv);
	free(m->srv_match);
	free(m->srv_first);
	free(m->domain);
	free(m);
}

static void
ad_cancel(struct task *t, void *aux)
{
	struct ad_task *m = aux;
	struct result *res = task_result(t);
	struct dns_ad_summary s = {
	    .host = m->name[AD_A],
	    .srvname = m->name[AD_SRV],
	    .timed_out = 1,
	    .lookups = {m->lookup[AD_A], m->lookup[AD_AAAA], m->lookup[AD_SRV]},
	};
	struct verdict v = {0};

	for (int i = 0; i < AD_N && s.waiting == NULL; i++)
		if (m->lookup[i] == NULL)
			s.waiting = m->name[i];
	if (s.waiting == NULL)
		s.waiting = s.host;
	dns_ad_details_json(&s, res->details);
	dns_ad_verdict(&s, &v);
	verdict_apply(&v, res);
	ad_task_free(m);
}

static int
ad_negative(enum dns_status st)
{
	return st == DNS_NODATA || st == DNS_NXDOMAIN;
}

const char *
dns_ad_negative_str(enum dns_status st)
{
	return st == DNS_NXDOMAIN ? "does not exist (NXDOMAIN)" : "has no such record (NODATA)";
}

static int
ad_chain_has(const struct ad_task *m, const char *name)
{
	for (size_t i = 0; i < m->n_chain; i++)
		if (util_strieq(m->chain[i], name))
			return 1;
	return 0;
}

void
dns_ad_verdict(const struct dns_ad_summary *s, struct verdict *v)
{
	const char *host = s->host, *srvname = s->srvname, *final = s->final;
	const char *expected = s->expected;

	if (s->timed_out) {
		verdict_set(v, RESULT_ERROR, "timed out waiting for %s", s->waiting);
		return;
	}
	if (s->chain_problem != DNSCHASE_FINE) {
		if (s->chain_problem == DNSCHASE_LOOP)
			verdict_set(v, RESULT_FAIL,
			    "%s: CNAME loop (%s points back into the chain)", host, final);
		else
			verdict_set(v, RESULT_FAIL,
			    "%s: CNAME chain longer than %d links (stopped at "
			    "%s)",
			    host, DNSCHASE_MAX_LINKS, final);
		verdict_advise(v,
		    "Make %s a CNAME straight to the provider's autodiscover "
		    "host%s%s: clients give up on alias loops and long chains.",
		    host, expected != NULL ? " " : "", expected != NULL ? expected : "");
		return;
	}
	if (s->failed_type != NULL) {
		verdict_set(v, RESULT_ERROR, "autodiscover lookup failed: %s %s: %s (asked %s)",
		    s->failed_type, s->failed_name, s->failed_error, s->servers);
		return;
	}
	if (!s->host_exists && s->n_srv == 0 && expected == NULL) {
		/* Nothing published and nothing expected: not every provider uses
		 * autodiscover (Google Workspace does not). */
		verdict_set(v, RESULT_PASS,
		    "no autodiscover record (%s %s, %s %s); none expected, "
		    "use --expect PROFILE to compare",
		    host, dns_ad_negative_str(s->status_a), srvname,
		    dns_ad_negative_str(s->status_srv));
		return;
	}
	if (!s->host_exists && s->n_srv == 0) {
		verdict_set(v, RESULT_WARN, "no autodiscover record: %s %s, %s %s", host,
		    dns_ad_negative_str(s->status_a), srvname, dns_ad_negative_str(s->status_srv));
		verdict_advise(v,
		    "Publish %s CNAME %s (expected by %s%s) so that Outlook and "
		    "phones find the new mailbox server by themselves after the cutover.",
		    host, expected,
		    s->origin != NULL && strcmp(s->origin, "plan") != 0 ? "profile " : "",
		    s->origin != NULL ? s->origin : "plan");
		return;
	}
	if (s->host_exists && s->n_addr == 0) {
		if (s->n_chain > 0)
			verdict_set(v, RESULT_FAIL,
			    "%s is an alias of %s, which has no address: it %s", host, final,
			    dns_ad_negative_str(s->status_a));
		else
			verdict_set(v, RESULT_FAIL, "%s has no address: %s", host,
			    dns_ad_negative_str(s->status_a));
		verdict_advise(v,
		    "Point %s at a host that exists%s%s: clients that follow it "
		    "fail to connect.",
		    host, expected != NULL ? ", e.g. CNAME " : "",
		    expected != NULL ? expected : "");
		return;
	}
	if (expected != NULL && !s->matches) {
		const char *now = s->host_exists ? final : s->srv_first;
		const char *by = s->origin != NULL ? s->origin : "plan";
		const char *pre = strcmp(by, "plan") != 0 ? "profile " : "";

		if (s->host_exists && s->n_chain == 0)
			verdict_set(v, RESULT_WARN,
			    "%s has an address of its own, not a CNAME to %s "
			    "(expected by %s%s)",
			    host, expected, pre, by);
		else
			verdict_set(v, RESULT_WARN, "%s points to %s, not to %s (expected by %s%s)",
			    s->host_exists ? host : srvname, now, expected, pre, by);
		if (s->n_srv == 0 || s->srv_match != NULL)
			verdict_advise(v,
			    "At the cutover, change %s to CNAME %s, so that Outlook "
			    "and phones find the new mailbox server.",
			    host, expected);
		else
			verdict_advise(v,
			    "At the cutover, change %s to CNAME %s and the target of "
			    "%s to %s, so that Outlook and phones find the new mailbox server.",
			    host, expected, srvname, expected);
		return;
	}
	if (s->host_exists)
		verdict_set(v, RESULT_PASS, "%s %s%s, %d address%s%s", host,
		    s->n_chain > 0 ? "is an alias of " : "resolves", s->n_chain > 0 ? final : "",
		    s->n_addr, s->n_addr == 1 ? "" : "es", expected != NULL ? ", as expected" : "");
	else
		verdict_set(v, RESULT_PASS, "%s has no address record, SRV %s points to %s%s", host,
		    srvname, s->srv_match != NULL ? s->srv_match : s->srv_first,
		    expected != NULL ? ", as expected" : "");
}

/* The lookups of a check cut by its deadline: the ones with no answer say so. */
static void
dns_ad_timeout_json(const struct dns_ad_summary *s, cJSON *d)
{
	cJSON *arr = cJSON_AddArrayToObject(d, "lookups");
	static const char *const types[3] = {"A", "AAAA", "SRV"};

	for (int i = 0; i < 3; i++) {
		cJSON *l;

		if (s->lookups[i] != NULL) {
			cJSON_AddItemToArray(arr, cJSON_Duplicate(s->lookups[i], 1));
			continue;
		}
		l = cJSON_CreateObject();
		cJSON_AddStringToObject(l, "name", i == 2 ? s->srvname : s->host);
		cJSON_AddStringToObject(l, "type", types[i]);
		cJSON_AddStringToObject(l, "status", "timeout");
		cJSON_AddStringToObject(l, "error", "no answer before the check's deadline");
		cJSON_AddItemToArray(arr, l);
	}
}

void
dns_ad_details_json(const struct dns_ad_summary *s, cJSON *d)
{
	cJSON *arr;

	if (s->timed_out) {
		dns_ad_timeout_json(s, d);
		return;
	}
	util_json_add_str_or_null(d, "cname", s->n_chain > 0 ? s->chain[0] : NULL);
	arr = cJSON_AddArrayToObject(d, "cname_chain");
	for (size_t i = 0; i < s->n_chain; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(s->chain[i]));
	arr = cJSON_AddArrayToObject(d, "addresses");
	for (int i = 0; i < s->n_addr; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(s->addresses[i]));
	arr = cJSON_AddArrayToObject(d, "srv");
	for (int i = 0; i < s->n_srv; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "priority", s->srv[i].priority);
		cJSON_AddNumberToObject(o, "weight", s->srv[i].weight);
		cJSON_AddNumberToObject(o, "port", s->srv[i].port);
		cJSON_AddStringToObject(o, "target", s->srv[i].target);
		cJSON_AddItemToArray(arr, o);
	}
	if (s->expected != NULL) {
		cJSON *exp = cJSON_AddObjectToObject(d, "expected");

		cJSON_AddBoolToObject(d, "matches_expected", s->matches);
		cJSON_AddStringToObject(exp, "autodiscover", s->expected);
		cJSON_AddStringToObject(exp, "origin", s->origin != NULL ? s->origin : "plan");
	} else {
		cJSON_AddNullToObject(d, "matches_expected");
	}
	arr = cJSON_AddArrayToObject(d, "lookups");
	for (int i = 0; i < 3; i++)
		if (s->lookups[i] != NULL)
			cJSON_AddItemToArray(arr, cJSON_Duplicate(s->lookups[i], 1));
}

static void
ad_finish(struct ad_task *m)
{
	struct result *res = task_result(m->t);
	struct dns_ad_summary s = {
	    .host = m->name[AD_A],
	    .srvname = m->name[AD_SRV],
	    .n_chain = m->n_chain,
	    .n_addr = (int)m->n_addr,
	    .n_srv = (int)m->n_srv,
	    .expected = m->expected,
	    .origin = m->origin,
	    .status_a = m->st[AD_A],
	    .status_srv = m->st[AD_SRV],
	    .srv_match = m->srv_match,
	    .srv_first = m->srv_first,
	    .servers = dns_client_servers(runner_dns(task_runner(m->t))),
	    .chain = (const char *const *)m->chain,
	    .addresses = (const char *const *)m->addr,
	    .srv = m->srv,
	    .lookups = {m->lookup[AD_A], m->lookup[AD_AAAA], m->lookup[AD_SRV]},
	};
	struct verdict v = {0};
	int err_i = -1;

	/* The host exists when it has addresses or is an alias. */
	s.host_exists = s.n_addr > 0 || m->n_chain > 0;
	s.final = m->n_chain > 0 ? m->chain[m->n_chain - 1] : s.host;
	/* A failed lookup matters when nothing else decides: the host's when it
	 * gave no address, the SRV's when the host does not exist. */
	for (int i = AD_A; i <= AD_AAAA; i++)
		if (err_i < 0 && s.n_addr == 0 && m->st[i] != DNS_OK && !ad_negative(m->st[i]))
			err_i = i;
	if (err_i < 0 && !s.host_exists && m->st[AD_SRV] != DNS_OK && !ad_negative(m->st[AD_SRV]))
		err_i = AD_SRV;
	if (err_i >= 0) {
		s.failed_type = err_i == AD_SRV ? "SRV" : err_i == AD_A ? "A" : "AAAA";
		s.failed_name = err_i == AD_SRV ? s.srvname : s.final;
		s.failed_error = m->error[err_i];
	}
	for (int i = AD_A; i <= AD_AAAA && s.chain_problem == DNSCHASE_FINE; i++)
		s.chain_problem = m->problem[i];
	if (m->expected != NULL)
		s.matches = s.host_exists ? ad_chain_has(m, m->expected) : m->srv_match != NULL;
	dns_ad_details_json(&s, res->details);
	dns_ad_verdict(&s, &v);
	verdict_apply(&v, res);
	task_done(m->t);
	ad_task_free(m);
}

static void
ad_answer(void *arg, const struct dnschase_reply *r)
{
	struct ad_ref *ref = arg;
	struct ad_task *m = ref->m;
	int w = ref->which;
	const struct dnsmsg_rr *rr;
	size_t it = 0;

	m->ch[w] = NULL;
	m->answered[w] = 1;
	m->st[w] = r->status;
	m->problem[w] = r->problem;
	m->error[w] = xstrdup(r->error);
	m->lookup[w] = dnschase_json(m->name[w],
	    w == AD_A          ? DNSMSG_A
	        : w == AD_AAAA ? DNSMSG_AAAA
	                       : DNSMSG_SRV,
	    r);
	if (w != AD_SRV && r->n_chain > m->n_chain) {
		for (size_t i = 0; i < m->n_chain; i++)
			free(m->chain[i]);
		for (size_t i = 0; i < r->n_chain; i++)
			m->chain[i] = xstrdup(r->chain[i]);
		m->n_chain = r->n_chain;
	}
	if (r->status == DNS_OK && r->problem == DNSCHASE_FINE && w != AD_SRV) {
		while ((rr = dnsmsg_next(r->msg, DNSMSG_ANSWER, w == AD_A ? DNSMSG_A : DNSMSG_AAAA,
		            r->owner, &it)) != NULL) {
			m->addr = xrealloc(m->addr, (m->n_addr + 1) * sizeof(*m->addr));
			m->addr[m->n_addr++] = xstrdup(rr->addr);
		}
	}
	if (r->status == DNS_OK && r->problem == DNSCHASE_FINE && w == AD_SRV) {
		while (
		    (rr = dnsmsg_next(r->msg, DNSMSG_ANSWER, DNSMSG_SRV, r->owner, &it)) != NULL) {
			/* RFC 2782: a target of "." means the service is not offered. */
			const char *target = rr->target[0] != '\0' ? rr->target : ".";

			m->srv = xrealloc(m->srv, (m->n_srv + 1) * sizeof(*m->srv));
			m->srv[m->n_srv++] = (struct dns_ad_srv){
			    rr->priority, rr->weight, rr->port, xstrdup(target)};
			if (m->srv_first == NULL)
				m->srv_first = xstrdup(target);
			if (m->srv_match == NULL && m->expected != NULL &&
			    util_strieq(target, m->expected))
				m->srv_match = xstrdup(target);
		}
	}
	if (--m->pending == 0)
		ad_finish(m);
}

static void
ad_start(struct task *t, void *aux)
{
	struct ad_task *m = aux;
	struct dns_client *dns = runner_dns(task_runner(t));
	static const int types[AD_N] = {DNSMSG_A, DNSMSG_AAAA, DNSMSG_SRV};

	m->t = t;
	/* One reference for the loop itself: a lookup that completes at once
	 * must not finish the task while the others are still being sent. */
	m->pending = 1;
	for (int i = 0; i < AD_N; i++) {
		struct dnschase *ch;

		m->ref[i] = (struct ad_ref){m, i};
		m->pending++;
		ch = dnschase_start(dns, m->name[i], types[i], ad_answer, &m->ref[i]);
		if (ch != NULL)
			m->ch[i] = ch;
	}
	if (--m->pending == 0)
		ad_finish(m);
}

static void
ad_schedule(struct runner *r, const struct check_input *in)
{
	struct ad_task *m = xcalloc(1, sizeof(*m));

	m->domain = xstrdup(in->domain);
	m->name[AD_A] = xasprintf("autodiscover.%s", in->domain);
	m->name[AD_AAAA] = xstrdup(m->name[AD_A]);
	m->name[AD_SRV] = xasprintf("_autodiscover._tcp.%s", in->domain);
	if (in->plan != NULL) {
		m->expected = in->plan->expect.autodiscover;
		m->origin = in->plan->expect.autodiscover_from;
	} else {
		const struct profile *p = profile_find(in->expect_profile);

		if (p != NULL && p->autodiscover != NULL) {
			m->expected = p->autodiscover;
			m->origin = p->name;
		}
	}
	runner_add(r, NULL, result_new("dns.autodiscover", in->domain, RESULT_SIDE_NONE), ad_start,
	    ad_cancel, m, 0);
}

const struct check check_dns_autodiscover = {
    .id = "dns.autodiscover",
    .group = "dns",
    .title = "autodiscover.DOMAIN and _autodiscover._tcp SRV point to the expected provider",
    .commands = CHECK_CMD_AUDIT | CHECK_CMD_DNS,
    .schedule = ad_schedule,
};
