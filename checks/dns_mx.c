/*
 * dns_mx.c - dns.mx and dns.mx_ttl: where mail for the domain goes today,
 * and how long resolvers may keep that answer after the switch.
 *
 * dns.mx: the MX RRset with preferences and TTLs, the provider the exchanges
 * belong to (built-in profiles), a null MX (RFC 7505) or no MX at all
 * (senders then fall back to the address record, RFC 5321 section 5.1), and
 * for every exchange its addresses: an exchange with no A/AAAA fails, one
 * that is a CNAME warns (RFC 2181 section 10.3 says MX must not point to an
 * alias; RFC 5321 section 5.1 tolerates it, not every sender does).
 *
 * dns.mx_ttl: the MX TTL against the recommended maximum before a cutover.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "check_verdicts.h"
#include "src/dns.h"
#include "src/dnsmsg.h"
#include "src/profile.h"
#include "src/util.h"

#define MX_MAX_EXCHANGES 16

struct mx_task;

/* What an address query's callback needs: the task, the exchange, A or AAAA. */
struct mx_addr_ref {
	struct mx_task *m;
	size_t idx;
	int which; /* 0 = A, 1 = AAAA */
};

struct mx_exchange {
	uint16_t preference;
	struct mx_addr_ref ref[2];
	char *name; /* "" for a null MX */
	uint32_t ttl;
	struct dns_query *q[2]; /* A, AAAA */
	int answered[2];
	enum dns_status st[2];
	char *cname; /* canonical name when NAME is an alias */
	char **addr; /* A and AAAA answers */
	size_t n_addr;
	const char *error; /* first lookup error, static text */
};

struct mx_task {
	struct task *t;
	const struct check_input *in;
	char *domain;
	struct dns_query *mxq;
	dns_cb answer; /* what to do with the MX answer */
	struct mx_exchange ex[MX_MAX_EXCHANGES];
	size_t n_ex, n_total;
	int pending;
	int authoritative;
};

static void
mx_task_free(struct mx_task *m)
{
	for (size_t i = 0; i < m->n_ex; i++) {
		dns_query_cancel(m->ex[i].q[0]);
		dns_query_cancel(m->ex[i].q[1]);
		free(m->ex[i].name);
		free(m->ex[i].cname);
		for (size_t j = 0; j < m->ex[i].n_addr; j++)
			free(m->ex[i].addr[j]);
		free(m->ex[i].addr);
	}
	dns_query_cancel(m->mxq);
	free(m->domain);
	free(m);
}

static void
mx_cancel(struct task *t, void *aux)
{
	struct mx_task *m = aux;

	(void)t;
	mx_task_free(m);
}

static int
mx_cmp(const void *a, const void *b)
{
	const struct mx_exchange *x = a, *y = b;

	if (x->preference != y->preference)
		return x->preference < y->preference ? -1 : 1;
	return strcasecmp(x->name, y->name);
}

int
mx_lookup_verdict(const char *domain, enum dns_status status, const char *error,
    const char *servers, struct verdict *v)
{
	switch (status) {
	case DNS_OK: return 0;
	case DNS_NODATA:
		verdict_set(v, RESULT_FAIL, "no MX records for %s", domain);
		verdict_advise(v,
		    "Publish MX records for %s. Without them senders fall back to "
		    "the domain's address record (RFC 5321 section 5.1), which is rarely a mail "
		    "server, so mail bounces or is lost.",
		    domain);
		return 1;
	case DNS_NXDOMAIN:
		verdict_set(v, RESULT_FAIL, "%s does not exist in DNS (NXDOMAIN)", domain);
		verdict_advise(v,
		    "Check the spelling of the domain and that it is registered and "
		    "delegated to working name servers.");
		return 1;
	default:
		verdict_set(v, RESULT_ERROR, "MX lookup for %s failed: %s (asked %s)", domain,
		    error, servers);
		return 1;
	}
}

/* Fill the result for a lookup of the MX RRset that did not give records. */
static int
mx_lookup_failed(
    struct result *res, const char *domain, const struct dns_reply *reply, const char *servers)
{
	struct verdict v = {0};
	int failed = mx_lookup_verdict(domain, reply->status, reply->error, servers, &v);

	verdict_apply(&v, res);
	return failed;
}

/* Collect the MX RRset from REPLY into M; returns the number of records. */
static size_t
mx_collect(struct mx_task *m, const struct dns_reply *reply)
{
	const struct dnsmsg_rr *rr;
	const char *owner = dnsmsg_resolve_cname(reply->msg, m->domain);
	size_t it = 0;

	m->authoritative = reply->msg->aa;
	while ((rr = dnsmsg_next(reply->msg, DNSMSG_ANSWER, DNSMSG_MX, owner, &it)) != NULL) {
		m->n_total++;
		if (m->n_ex == MX_MAX_EXCHANGES)
			continue;
		m->ex[m->n_ex].preference = rr->preference;
		m->ex[m->n_ex].name = xstrdup(rr->target);
		m->ex[m->n_ex].ttl = rr->ttl;
		m->n_ex++;
	}
	qsort(m->ex, m->n_ex, sizeof(m->ex[0]), mx_cmp);
	return m->n_ex;
}

/* Both checks start the same way: one task that asks for the MX RRset and
 * hands the answer to ANSWER. */
static void
mx_start(struct task *t, void *aux)
{
	struct mx_task *m = aux;
	struct dns_query *q;

	m->t = t;
	q = dns_query(runner_dns(task_runner(t)), m->domain, DNSMSG_MX, m->answer, m);
	if (q != NULL) /* NULL: answered already, M is gone */
		m->mxq = q;
}

static void
mx_schedule_query(struct runner *r, const struct check_input *in, const char *id, dns_cb answer)
{
	struct mx_task *m = xcalloc(1, sizeof(*m));

	m->in = in;
	m->domain = xstrdup(in->domain);
	m->answer = answer;
	runner_add(
	    r, NULL, result_new(id, in->domain, RESULT_SIDE_NONE), mx_start, mx_cancel, m, 0);
}

/* ---- dns.mx ------------------------------------------------------------- */

/* 1 when DAY ("YYYY-MM-DD", UTC; validated by the plan) is over. */
static int
mx_past_go_live(const char *day)
{
	struct tm tm;
	char today[16];
	time_t now = time(NULL);

	if (day == NULL)
		return 0;
	gmtime_r(&now, &tm);
	strftime(today, sizeof(today), "%Y-%m-%d", &tm);
	return strcmp(today, day) > 0; /* ISO dates compare as text */
}

/* The profile all exchanges belong to; *MIXED when they disagree. */
static const char *
mx_provider(const struct mx_task *m, int *mixed)
{
	const struct profile *p = NULL;
	size_t matched = 0;

	*mixed = 0;
	for (size_t i = 0; i < m->n_ex; i++) {
		const struct profile *q = profile_match_mx(m->ex[i].name);

		if (q == NULL)
			continue;
		if (p != NULL && q != p)
			*mixed = 1;
		p = q;
		matched++;
	}
	if (matched > 0 && matched < m->n_ex)
		*mixed = 1;
	return *mixed ? NULL : p != NULL ? p->name : NULL;
}

static int
mx_matches(const char *const *patterns, const char *name)
{
	for (size_t i = 0; patterns != NULL && patterns[i] != NULL; i++)
		if (util_domain_match(patterns[i], name))
			return 1;
	return 0;
}

void
mx_null_verdict(const char *domain, int valid, struct verdict *v)
{
	if (valid)
		verdict_set(v, RESULT_FAIL,
		    "null MX (RFC 7505): %s declares that it accepts no mail", domain);
	else
		verdict_set(v, RESULT_FAIL,
		    "invalid null MX: the root \".\" is mixed with other MX "
		    "records (RFC 7505 section 3)");
	verdict_advise(v,
	    "Replace the null MX with the mail provider's MX records before "
	    "go-live, or mail to %s keeps bouncing.",
	    domain);
}

void
mx_verdict(const struct mx_summary *s, struct verdict *v)
{
	const char *plural = s->n_ex == 1 ? "" : "s";
	const char *provider = s->provider != NULL ? s->provider : s->mixed ? "mixed" : "unknown";

	if (s->noaddr != NULL) {
		verdict_set(v, RESULT_FAIL, "%zu of %zu MX exchange%s ha%s no address: %s",
		    s->n_noaddr, s->n_ex, plural, s->n_noaddr == 1 ? "s" : "ve", s->noaddr);
		verdict_advise(v,
		    "Give %s an A or AAAA record, or point the MX at a host that "
		    "has one: senders cannot deliver to an exchange without an address.",
		    s->noaddr);
	} else if (s->alias != NULL) {
		verdict_set(
		    v, RESULT_WARN, "MX exchange %s is a CNAME (to %s)", s->alias, s->alias_target);
		verdict_advise(v,
		    "Point the MX record at the canonical name %s: MX targets must "
		    "not be aliases (RFC 2181 section 10.3) and some senders refuse them.",
		    s->alias_target);
	} else if (s->lookup_err != NULL) {
		verdict_set(v, RESULT_WARN,
		    "%zu MX record%s, but the address of %s could not be "
		    "looked up",
		    s->n_ex, plural, s->lookup_err);
		verdict_advise(v,
		    "Run the check again; if it persists, check the name servers of "
		    "%s.",
		    s->lookup_err);
	} else if (s->expect_mx != NULL && s->all_expected) {
		verdict_set(v, RESULT_PASS, "%zu MX record%s, provider %s: already the expected MX",
		    s->n_ex, plural, provider);
	} else if (s->expect_mx != NULL && s->past_go_live) {
		verdict_set(v, RESULT_FAIL,
		    "%zu MX record%s, provider %s: still the %s MX after "
		    "the go-live date %s",
		    s->n_ex, plural, provider, s->provider != NULL ? s->provider : "old",
		    s->go_live);
		verdict_advise(v,
		    "The plan says the MX flipped on %s: point the MX records at the "
		    "new provider (expected: %s), or correct expect.go_live.",
		    s->go_live, s->expect_mx[0]);
	} else if (s->expect_mx != NULL) {
		/* before the flip this is how it should be; the summary says so */
		verdict_set(v, RESULT_PASS,
		    "%zu MX record%s, provider %s: still the %s MX, "
		    "expected until go-live",
		    s->n_ex, plural, provider, s->provider != NULL ? s->provider : "old");
	} else {
		verdict_set(
		    v, RESULT_PASS, "%zu MX record%s, provider %s", s->n_ex, plural, provider);
	}
}

void
mx_details_json(const struct mx_summary *s, cJSON *d)
{
	cJSON *records;

	cJSON_AddStringToObject(d, "resolver", s->resolver);
	records = cJSON_AddArrayToObject(d, "records");
	if (s->no_records || s->null_mx) {
		for (size_t i = 0; s->null_mx && i < s->n_ex; i++) {
			cJSON *rec = cJSON_CreateObject();

			cJSON_AddNumberToObject(rec, "preference", s->records[i].preference);
			cJSON_AddStringToObject(rec, "exchange",
			    s->records[i].exchange[0] ? s->records[i].exchange : ".");
			cJSON_AddNumberToObject(rec, "ttl", s->records[i].ttl);
			cJSON_AddItemToArray(records, rec);
		}
		cJSON_AddNullToObject(d, "provider");
		cJSON_AddBoolToObject(d, "null_mx", s->null_mx);
		return;
	}
	for (size_t i = 0; i < s->n_ex; i++) {
		const struct mx_record *x = &s->records[i];
		cJSON *rec = cJSON_CreateObject(), *addrs;

		cJSON_AddNumberToObject(rec, "preference", x->preference);
		cJSON_AddStringToObject(rec, "exchange", x->exchange);
		cJSON_AddNumberToObject(rec, "ttl", x->ttl);
		addrs = cJSON_AddArrayToObject(rec, "addresses");
		for (size_t j = 0; j < x->n_addresses; j++)
			cJSON_AddItemToArray(addrs, cJSON_CreateString(x->addresses[j]));
		util_json_add_str_or_null(rec, "cname", x->cname);
		cJSON_AddBoolToObject(rec, "resolves", x->n_addresses > 0);
		if (x->lookup_error != NULL)
			cJSON_AddStringToObject(rec, "lookup_error", x->lookup_error);
		cJSON_AddItemToArray(records, rec);
	}
	if (s->provider != NULL)
		cJSON_AddStringToObject(d, "provider", s->provider);
	else if (s->mixed)
		cJSON_AddStringToObject(d, "provider", "mixed");
	else
		cJSON_AddNullToObject(d, "provider");
	cJSON_AddBoolToObject(d, "null_mx", 0);
	cJSON_AddBoolToObject(d, "authoritative", s->authoritative);
	if (s->expect_mx != NULL) {
		cJSON *exp = cJSON_AddObjectToObject(d, "expected");
		cJSON *pats = cJSON_AddArrayToObject(exp, "mx");

		for (size_t i = 0; s->expect_mx[i] != NULL; i++)
			cJSON_AddItemToArray(pats, cJSON_CreateString(s->expect_mx[i]));
		cJSON_AddStringToObject(
		    exp, "origin", s->expect_origin ? s->expect_origin : "plan");
		cJSON_AddBoolToObject(exp, "matches", s->all_expected);
	}
	if (s->not_checked > 0)
		cJSON_AddNumberToObject(d, "records_not_checked", (double)s->not_checked);
}

static void
mx_finish(struct mx_task *m)
{
	struct result *res = task_result(m->t);
	struct mx_record recs[MX_MAX_EXCHANGES];
	struct mx_summary s = {
	    .n_ex = m->n_ex,
	    .all_expected = 1,
	    .expect_mx = m->in->expect_mx,
	    .go_live = m->in->expect_go_live,
	    .past_go_live = mx_past_go_live(m->in->expect_go_live),
	    .resolver = dns_client_servers(runner_dns(task_runner(m->t))),
	    .records = recs,
	    .authoritative = m->authoritative,
	    .expect_origin = m->in->expect_mx_origin,
	    .not_checked = m->n_total - m->n_ex,
	};
	struct verdict v = {0};

	for (size_t i = 0; i < m->n_ex; i++) {
		const struct mx_exchange *x = &m->ex[i];
		int resolves = x->n_addr > 0;

		recs[i] = (struct mx_record){x->preference, x->name, x->ttl,
		    (const char *const *)x->addr, x->n_addr, x->cname, x->error};
		if (!resolves && x->error == NULL && s.noaddr == NULL)
			s.noaddr = x->name;
		if (!resolves && x->error == NULL)
			s.n_noaddr++;
		if (x->error != NULL && s.lookup_err == NULL)
			s.lookup_err = x->name;
		if (x->cname != NULL && s.alias == NULL) {
			s.alias = x->name;
			s.alias_target = x->cname;
		}
		if (!mx_matches(m->in->expect_mx, x->name))
			s.all_expected = 0;
	}
	s.provider = mx_provider(m, &s.mixed);
	mx_details_json(&s, res->details);
	mx_verdict(&s, &v);
	verdict_apply(&v, res);
	task_done(m->t);
	mx_task_free(m);
}

void
mx_ttl_verdict(uint32_t ttl, long max, int authoritative, struct verdict *v)
{
	if ((long)ttl > max) {
		verdict_set(v, RESULT_WARN,
		    "MX TTL is %u s (%.1f h), above the recommended %ld s "
		    "before a cutover",
		    ttl, ttl / 3600.0, max);
		verdict_advise(v,
		    "Lower the MX TTL to %ld s or less, and do it at least %u s "
		    "(the current TTL) before go-live: resolvers may keep the old MX for up to one "
		    "old TTL after you change it.",
		    max < 300 ? max : 300, ttl);
	} else {
		verdict_set(v, RESULT_PASS, "MX TTL is %u s (recommended at most %ld s)%s", ttl,
		    max,
		    authoritative ? ""
		                  : "; as cached by the resolver, the zone's TTL may be higher");
	}
}

static void
mx_addr_answer(struct mx_task *m, struct mx_exchange *x, int which, const struct dns_reply *reply)
{
	x->q[which] = NULL;
	x->answered[which] = 1;
	x->st[which] = reply->status;
	if (reply->status == DNS_OK) {
		const char *canon = dnsmsg_resolve_cname(reply->msg, x->name);
		const struct dnsmsg_rr *rr;
		size_t it = 0;

		if (!util_strieq(canon, x->name) && x->cname == NULL)
			x->cname = xstrdup(canon);
		while ((rr = dnsmsg_next(reply->msg, DNSMSG_ANSWER, which ? DNSMSG_AAAA : DNSMSG_A,
		            canon, &it)) != NULL) {
			x->addr = xrealloc(x->addr, (x->n_addr + 1) * sizeof(*x->addr));
			x->addr[x->n_addr++] = xstrdup(rr->addr);
		}
	} else if (reply->status != DNS_NODATA && reply->status != DNS_NXDOMAIN &&
	    x->error == NULL) {
		x->error = dns_status_str(reply->status);
	}
	if (--m->pending == 0)
		mx_finish(m);
}

static void
mx_addr_cb(void *arg, const struct dns_reply *reply)
{
	struct mx_addr_ref *ref = arg;

	mx_addr_answer(ref->m, &ref->m->ex[ref->idx], ref->which, reply);
}

static void
mx_answer(void *arg, const struct dns_reply *reply)
{
	struct mx_task *m = arg;
	struct result *res = task_result(m->t);
	struct dns_client *dns = runner_dns(task_runner(m->t));
	struct verdict v = {0};

	m->mxq = NULL;
	if (mx_lookup_failed(res, m->domain, reply, dns_client_servers(dns)) ||
	    mx_collect(m, reply) == 0) {
		if (reply->status == DNS_OK) /* only a CNAME, or records for another owner */
			mx_lookup_failed(res, m->domain, &(struct dns_reply){.status = DNS_NODATA},
			    dns_client_servers(dns));
		mx_details_json(
		    &(struct mx_summary){.resolver = dns_client_servers(dns), .no_records = 1},
		    res->details);
		task_done(m->t);
		mx_task_free(m);
		return;
	}
	/* RFC 7505: a single MX of preference 0 with the root as exchange. */
	for (size_t i = 0; i < m->n_ex; i++) {
		if (m->ex[i].name[0] == '\0') {
			struct mx_record recs[MX_MAX_EXCHANGES];

			for (size_t j = 0; j < m->n_ex; j++)
				recs[j] = (struct mx_record){
				    .preference = m->ex[j].preference,
				    .exchange = m->ex[j].name,
				    .ttl = m->ex[j].ttl,
				};
			mx_details_json(&(struct mx_summary){.resolver = dns_client_servers(dns),
			                    .n_ex = m->n_ex,
			                    .records = recs,
			                    .null_mx = 1},
			    res->details);
			mx_null_verdict(m->domain, m->n_ex == 1 && m->ex[0].preference == 0, &v);
			verdict_apply(&v, res);
			task_done(m->t);
			mx_task_free(m);
			return;
		}
	}
	/* One reference for the loop itself: a query that completes at once must
	 * not finish the task while we are still issuing the others. */
	m->pending = 1;
	for (size_t i = 0; i < m->n_ex; i++) {
		for (int w = 0; w < 2; w++) {
			m->ex[i].ref[w] = (struct mx_addr_ref){m, i, w};
			m->pending++;
			m->ex[i].q[w] = dns_query(dns, m->ex[i].name, w ? DNSMSG_AAAA : DNSMSG_A,
			    mx_addr_cb, &m->ex[i].ref[w]);
		}
	}
	if (--m->pending == 0)
		mx_finish(m);
}

static void
mx_schedule(struct runner *r, const struct check_input *in)
{
	mx_schedule_query(r, in, "dns.mx", mx_answer);
}

const struct check check_dns_mx = {
    .id = "dns.mx",
    .group = "dns",
    .title = "MX records, their provider, and that every exchange has an address",
    .commands = CHECK_CMD_AUDIT | CHECK_CMD_DNS,
    .schedule = mx_schedule,
};

/* ---- dns.mx_ttl ---------------------------------------------------------- */

void
mx_ttl_details_json(const struct mx_ttl_summary *s, cJSON *d)
{
	cJSON_AddNumberToObject(d, "recommended_max", (double)s->max);
	if (!s->known) {
		cJSON_AddNullToObject(d, "ttl");
		return;
	}
	cJSON_AddNumberToObject(d, "ttl", s->ttl);
	cJSON_AddBoolToObject(d, "authoritative", s->authoritative);
}

static void
mx_ttl_answer(void *arg, const struct dns_reply *reply)
{
	struct mx_task *m = arg;
	struct result *res = task_result(m->t);
	struct dns_client *dns = runner_dns(task_runner(m->t));
	struct mx_ttl_summary s = {.max = m->in->mx_ttl_max};
	struct verdict v = {0};

	m->mxq = NULL;
	if (reply->status == DNS_NODATA || reply->status == DNS_NXDOMAIN ||
	    (reply->status == DNS_OK && mx_collect(m, reply) == 0)) {
		result_set(res, RESULT_SKIP, "no MX records, so no MX TTL to check (see dns.mx)");
		goto out;
	}
	if (reply->status != DNS_OK) {
		result_set(res, RESULT_ERROR, "MX lookup for %s failed: %s (asked %s)", m->domain,
		    reply->error, dns_client_servers(dns));
		goto out;
	}
	if (m->n_ex == 1 && m->ex[0].name[0] == '\0') {
		result_set(res, RESULT_SKIP, "null MX: the domain takes no mail (see dns.mx)");
		goto out;
	}
	/* The RRset's TTL: they should all be equal (RFC 2181 section 5.2);
	 * if not, resolvers may use the lowest, caches may keep the highest. */
	for (size_t i = 0; i < m->n_ex; i++)
		if (m->ex[i].ttl > s.ttl)
			s.ttl = m->ex[i].ttl;
	s.known = 1;
	s.authoritative = m->authoritative;
	mx_ttl_verdict(s.ttl, s.max, s.authoritative, &v);
	verdict_apply(&v, res);
out:
	mx_ttl_details_json(&s, res->details);
	task_done(m->t);
	mx_task_free(m);
}

static void
mx_ttl_schedule(struct runner *r, const struct check_input *in)
{
	mx_schedule_query(r, in, "dns.mx_ttl", mx_ttl_answer);
}

const struct check check_dns_mx_ttl = {
    .id = "dns.mx_ttl",
    .group = "dns",
    .title = "MX TTL low enough that the switch propagates quickly",
    .commands = CHECK_CMD_AUDIT | CHECK_CMD_DNS,
    .schedule = mx_ttl_schedule,
};
