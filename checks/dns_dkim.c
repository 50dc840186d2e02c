/*
 * dns_dkim.c - dns.dkim: are the provider's DKIM selectors published?
 *
 * Some providers sign with fixed selector names and let the domain owner
 * delegate them: Microsoft 365 asks for selector1._domainkey.DOMAIN and
 * selector2._domainkey.DOMAIN as CNAMEs to keys it hosts under
 * TENANT.onmicrosoft.com, and DKIM signing cannot be switched on before they
 * exist. For each selector of the profile, the TXT record at
 * SELECTOR._domainkey.DOMAIN is looked up with the CNAME chain followed across
 * zones (src/dnschase.h), and it counts as published when it ends at a DKIM
 * key record (RFC 6376 section 3.6.1: "v=DKIM1" first if present, and a
 * non-empty "p=", an empty one meaning a revoked key).
 *
 * The profile is the --expect one (`cutover dns`), the destination's
 * (`cutover audit`), or else the one the current MX belongs to.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "check_verdicts.h"
#include "src/dnschase.h"
#include "src/profile.h"
#include "src/util.h"

struct dkim_task;

struct dkim_sel {
	struct dkim_task *m;
	const char *selector; /* borrowed from the profile */
	char *name;           /* SELECTOR._domainkey.DOMAIN */
	struct dnschase *ch;
	enum dns_status st;
	enum dnschase_problem problem;
	char *error;
	char *final; /* last name of the chain */
	int published, revoked;
	int answered;
	char *cname;  /* the first alias met, or NULL */
	char *record; /* the key record, or NULL */
	cJSON *lookup;
};

struct dkim_task {
	struct task *t;
	char *domain;
	const struct profile *profile;
	const char *chosen_by; /* "--expect", "plan" or "mx" */
	struct dns_query *mxq;
	struct dkim_sel sel[PROFILE_MAX_PATTERNS];
	size_t n_sel;
	int pending;
};

static void
dkim_task_free(struct dkim_task *m)
{
	dns_query_cancel(m->mxq);
	for (size_t i = 0; i < m->n_sel; i++) {
		dnschase_cancel(m->sel[i].ch);
		free(m->sel[i].name);
		free(m->sel[i].error);
		free(m->sel[i].final);
		free(m->sel[i].cname);
		free(m->sel[i].record);
		cJSON_Delete(m->sel[i].lookup);
	}
	free(m->domain);
	free(m);
}

static void
dkim_cancel(struct task *t, void *aux)
{
	struct dkim_task *m = aux;
	struct dkim_summary s = {.timed_out = 1};
	struct verdict v = {0};

	for (size_t i = 0; i < m->n_sel && s.waiting == NULL; i++)
		if (!m->sel[i].answered)
			s.waiting = m->sel[i].name;
	dkim_details_json(&s, task_result(t)->details);
	dkim_verdict(&s, &v);
	verdict_apply(&v, task_result(t)); /* no summary: the runner's stays */
	dkim_task_free(m);
}

/*
 * Whether TXT is a DKIM key record (RFC 6376 section 3.6.1, tag list of
 * section 3.2): *REVOKED is set for an empty p=. Only a scan: no copy, no
 * allocation; the record is bounded by the DNS message.
 */
static int
dkim_is_key(const char *txt, size_t len, int *revoked)
{
	size_t i = 0;
	int first = 1, have_p = 0;

	*revoked = 0;
	while (i < len) {
		size_t ns, ne, vs, ve;

		while (i < len &&
		    (txt[i] == ' ' || txt[i] == '\t' || txt[i] == '\r' || txt[i] == '\n'))
			i++;
		ns = i;
		while (i < len && txt[i] != '=' && txt[i] != ';')
			i++;
		ne = i;
		while (ne > ns && (txt[ne - 1] == ' ' || txt[ne - 1] == '\t'))
			ne--;
		if (i == len || txt[i] != '=') {
			if (ne > ns)
				return 0; /* a tag without "=" */
			i++;
			continue;
		}
		vs = ++i;
		while (i < len && txt[i] != ';')
			i++;
		ve = i;
		while (vs < ve && (txt[vs] == ' ' || txt[vs] == '\t'))
			vs++;
		while (ve > vs && (txt[ve - 1] == ' ' || txt[ve - 1] == '\t'))
			ve--;
		if (ne - ns == 1 && txt[ns] == 'v' &&
		    (!first || ve - vs != 5 || memcmp(txt + vs, "DKIM1", 5) != 0))
			return 0; /* v= must be first and DKIM1 */
		if (ne - ns == 1 && txt[ns] == 'p') {
			have_p = 1;
			*revoked = ve == vs;
		}
		first = 0;
		if (i < len)
			i++;
	}
	return have_p;
}

/* How a selector that is not published reads: "does not exist (NXDOMAIN)" ... */
static const char *
dkim_missing_str(enum dns_status st)
{
	return st == DNS_NXDOMAIN ? "does not exist (NXDOMAIN)"
	    : st == DNS_NODATA    ? "has no TXT record (NODATA)"
	                          : "has no DKIM key record";
}

void
dkim_verdict(const struct dkim_summary *s, struct verdict *v)
{
	const char *label = s->profile;

	if (s->timed_out) {
		if (s->waiting != NULL)
			verdict_set(v, RESULT_ERROR, "timed out waiting for the TXT record of %s",
			    s->waiting);
		return;
	}
	if (s->err_name != NULL && !s->err_chain) {
		verdict_set(v, RESULT_ERROR, "DKIM lookup for %s failed: %s (asked %s)",
		    s->err_final, s->err_error, s->servers);
	} else if (s->err_name != NULL) {
		verdict_set(v, RESULT_FAIL, "DKIM selector %s: %s (at %s)", s->err_name,
		    s->err_error, s->err_final);
		verdict_advise(v, "Point %s straight at the provider's key record.", s->err_name);
	} else if (s->missing_name != NULL) {
		if (s->missing_revoked)
			verdict_set(v, RESULT_WARN,
			    "%zu of %zu DKIM selectors of profile %s "
			    "published; %s has a revoked key (empty p=)",
			    s->n_pub, s->n_sel, label, s->missing_name);
		else if (util_strieq(s->missing_final, s->missing_name))
			verdict_set(v, RESULT_WARN,
			    "%zu of %zu DKIM selectors of profile %s "
			    "published; %s %s",
			    s->n_pub, s->n_sel, label, s->missing_name,
			    dkim_missing_str(s->missing_status));
		else
			verdict_set(v, RESULT_WARN,
			    "%zu of %zu DKIM selectors of profile %s "
			    "published; %s is an alias of %s, which %s",
			    s->n_pub, s->n_sel, label, s->missing_name, s->missing_final,
			    dkim_missing_str(s->missing_status));
		if (strcmp(label, "microsoft365") == 0)
			verdict_advise(v,
			    "Publish selector1._domainkey.%s and selector2._domainkey.%s "
			    "as CNAMEs to the values the Microsoft Defender portal shows on its "
			    "DKIM page "
			    "(selector1-DOMAIN-WITH-DASHES._domainkey.TENANT.onmicrosoft.com), "
			    "then "
			    "enable DKIM signing for %s: without it, mail from Microsoft 365 fails "
			    "DMARC "
			    "alignment once SPF changes.",
			    s->domain, s->domain, s->domain);
		else
			verdict_advise(v,
			    "Publish the DKIM selector%s the provider gives you (%s) "
			    "before go-live, then enable signing.",
			    s->n_sel == 1 ? "" : "s", s->missing_name);
	} else {
		verdict_set(v, RESULT_PASS, "%zu of %zu DKIM selectors of profile %s published",
		    s->n_pub, s->n_sel, label);
	}
}

void
dkim_details_json(const struct dkim_summary *s, cJSON *d)
{
	cJSON *sels, *exp, *names;

	if (s->timed_out)
		return;
	sels = cJSON_AddArrayToObject(d, "selectors");
	exp = cJSON_AddObjectToObject(d, "expected");
	names = cJSON_AddArrayToObject(exp, "selectors");
	cJSON_AddStringToObject(exp, "origin", s->profile);
	cJSON_AddStringToObject(exp, "chosen_by", s->chosen_by);
	for (size_t i = 0; i < s->n_sel; i++) {
		const struct dkim_selector *x = &s->selectors[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddItemToArray(names, cJSON_CreateString(x->selector));
		cJSON_AddStringToObject(o, "selector", x->selector);
		cJSON_AddStringToObject(o, "name", x->name);
		util_json_add_str_or_null(o, "cname", x->cname);
		cJSON_AddBoolToObject(o, "published", x->published);
		util_json_add_str_or_null(o, "record", x->record);
		if (x->lookup != NULL)
			cJSON_AddItemToObject(o, "lookup", cJSON_Duplicate(x->lookup, 1));
		cJSON_AddItemToArray(sels, o);
	}
	cJSON_AddNumberToObject(d, "published", (double)s->n_pub);
}

static void
dkim_finish(struct dkim_task *m)
{
	struct result *res = task_result(m->t);
	struct dkim_selector sels[PROFILE_MAX_PATTERNS];
	struct dkim_sel *err = NULL, *missing = NULL;
	struct dkim_summary sm = {
	    .domain = m->domain,
	    .profile = m->profile->name,
	    .n_sel = m->n_sel,
	    .servers = dns_client_servers(runner_dns(task_runner(m->t))),
	    .selectors = sels,
	    .chosen_by = m->chosen_by,
	};
	struct verdict v = {0};

	for (size_t i = 0; i < m->n_sel; i++) {
		struct dkim_sel *s = &m->sel[i];

		sels[i] = (struct dkim_selector){
		    s->selector, s->name, s->cname, s->published, s->record, s->lookup};
		if (s->published)
			sm.n_pub++;
		else if (err == NULL &&
		    (s->problem != DNSCHASE_FINE ||
		        (s->st != DNS_OK && s->st != DNS_NODATA && s->st != DNS_NXDOMAIN)))
			err = s;
		else if (missing == NULL)
			missing = s;
	}
	if (err != NULL) {
		sm.err_name = err->name;
		sm.err_error = err->error;
		sm.err_final = err->final;
		sm.err_chain = err->problem != DNSCHASE_FINE;
	}
	if (missing != NULL) {
		sm.missing_name = missing->name;
		sm.missing_final = missing->final;
		sm.missing_status = missing->st;
		sm.missing_revoked = missing->revoked;
	}
	dkim_details_json(&sm, res->details);
	dkim_verdict(&sm, &v);
	verdict_apply(&v, res);
	task_done(m->t);
	dkim_task_free(m);
}

static void
dkim_answer(void *arg, const struct dnschase_reply *r)
{
	struct dkim_sel *s = arg;
	struct dkim_task *m = s->m;
	const struct dnsmsg_rr *rr;
	size_t it = 0;
	const char *record = NULL;

	s->ch = NULL;
	s->st = r->status;
	s->problem = r->problem;
	s->error = xstrdup(r->error);
	s->final = xstrdup(r->owner);
	if (r->status == DNS_OK && r->problem == DNSCHASE_FINE) {
		while (
		    (rr = dnsmsg_next(r->msg, DNSMSG_ANSWER, DNSMSG_TXT, r->owner, &it)) != NULL) {
			int revoked;

			if (rr->text == NULL || !dkim_is_key(rr->text, rr->text_len, &revoked))
				continue;
			record = rr->text;
			s->revoked = revoked;
			s->published = !revoked;
			break;
		}
	}
	s->answered = 1;
	s->cname = r->n_chain > 0 ? xstrdup(r->chain[0]) : NULL;
	s->record = record != NULL ? xstrdup(record) : NULL;
	s->lookup = dnschase_json(s->name, DNSMSG_TXT, r);
	if (--m->pending == 0)
		dkim_finish(m);
}

/* Look up every selector of the profile. */
static void
dkim_selectors(struct dkim_task *m)
{
	struct dns_client *dns = runner_dns(task_runner(m->t));

	for (size_t i = 0; m->profile->dkim_selectors[i] != NULL; i++) {
		struct dkim_sel *s = &m->sel[m->n_sel++];

		s->m = m;
		s->selector = m->profile->dkim_selectors[i];
		s->name = xasprintf("%s._domainkey.%s", s->selector, m->domain);
	}
	m->pending = 1;
	for (size_t i = 0; i < m->n_sel; i++) {
		struct dnschase *ch;

		m->pending++;
		ch = dnschase_start(dns, m->sel[i].name, DNSMSG_TXT, dkim_answer, &m->sel[i]);
		if (ch != NULL)
			m->sel[i].ch = ch;
	}
	if (--m->pending == 0)
		dkim_finish(m);
}

static void
dkim_skip(struct dkim_task *m, const char *why)
{
	struct result *res = task_result(m->t);

	cJSON_AddArrayToObject(res->details, "selectors");
	cJSON_AddNullToObject(res->details, "expected");
	result_set(res, RESULT_SKIP, "%s", why);
	task_done(m->t);
	dkim_task_free(m);
}

static void
dkim_mx_answer(void *arg, const struct dns_reply *reply)
{
	struct dkim_task *m = arg;
	const struct dnsmsg_rr *rr;
	size_t it = 0;

	m->mxq = NULL;
	if (reply->status != DNS_OK && reply->status != DNS_NODATA &&
	    reply->status != DNS_NXDOMAIN) {
		struct result *res = task_result(m->t);

		cJSON_AddArrayToObject(res->details, "selectors");
		cJSON_AddNullToObject(res->details, "expected");
		result_set(res, RESULT_ERROR,
		    "cannot tell which DKIM selectors to look for: the MX "
		    "lookup for %s failed: %s",
		    m->domain, reply->error);
		task_done(m->t);
		dkim_task_free(m);
		return;
	}
	if (reply->status == DNS_OK) {
		const char *owner = dnsmsg_resolve_cname(reply->msg, m->domain);

		while (
		    (rr = dnsmsg_next(reply->msg, DNSMSG_ANSWER, DNSMSG_MX, owner, &it)) != NULL) {
			const struct profile *p = profile_match_mx(rr->target);

			if (p != NULL && p->dkim_selectors[0] != NULL) {
				m->profile = p;
				break;
			}
		}
	}
	if (m->profile == NULL) {
		dkim_skip(m,
		    "no DKIM selectors to look for: the MX belongs to no provider "
		    "profile that defines them (use --expect PROFILE)");
		return;
	}
	m->chosen_by = "mx";
	dkim_selectors(m);
}

static void
dkim_start(struct task *t, void *aux)
{
	struct dkim_task *m = aux;
	struct dns_query *q;

	m->t = t;
	if (m->profile != NULL) {
		if (m->profile->dkim_selectors[0] == NULL) {
			char *why =
			    xasprintf("profile %s defines no DKIM selectors", m->profile->name);

			dkim_skip(m, why);
			free(why);
			return;
		}
		dkim_selectors(m);
		return;
	}
	q = dns_query(runner_dns(task_runner(t)), m->domain, DNSMSG_MX, dkim_mx_answer, m);
	if (q != NULL) /* NULL: answered already, M is gone */
		m->mxq = q;
}

static void
dkim_schedule(struct runner *r, const struct check_input *in)
{
	struct dkim_task *m = xcalloc(1, sizeof(*m));

	m->domain = xstrdup(in->domain);
	m->profile = profile_find(in->expect_profile);
	m->chosen_by = in->plan != NULL ? "plan" : "--expect";
	runner_add(r, NULL, result_new("dns.dkim", in->domain, RESULT_SIDE_NONE), dkim_start,
	    dkim_cancel, m, 0);
}

const struct check check_dns_dkim = {
    .id = "dns.dkim",
    .group = "dns",
    .title = "DKIM selectors of the provider profile published (CNAME and key record)",
    .commands = CHECK_CMD_AUDIT | CHECK_CMD_DNS,
    .schedule = dkim_schedule,
};
