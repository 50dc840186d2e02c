/*
 * smtp_mx.c - smtp.mx: will the domain's MX hosts take mail for these
 * recipients? One task per domain: the MX lookup, then one SMTP probe per
 * exchange (src/smtp.h; all at once, one connection each): banner, EHLO,
 * STARTTLS with the certificate checked against the MX name, MAIL FROM:<>
 * and RCPT TO for every recipient, RSET, QUIT. Never DATA.
 *
 * Details: {"port", "helo", "recipients": [...], "mx": [{"host", "preference",
 * "result", "error", "peer", "banner", "esmtp", "starttls", "pipelining",
 * "tls", "recipients": [{"address", "status", "code", "enhanced_code",
 * "text", "advice"}]}]} (reports/SCHEMA.md).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "check.h"
#include "check_verdicts.h"
#include "src/dns.h"
#include "src/dnsmsg.h"
#include "server_probe.h"
#include "src/smtp.h"
#include "src/util.h"

#define SMTP_MAX_MX 10

struct smtp_mx_task;

struct smtp_mx_host {
	struct smtp_mx_task *owner;
	char *name;
	int preference;
	struct smtp_probe *probe;
	int done;
};

struct smtp_mx_task {
	struct task *t;
	const struct check_input *in;
	char *domain;
	char helo[256];
	struct dns_query *q;
	struct smtp_mx_host hosts[SMTP_MAX_MX];
	size_t n_hosts, n_done;
	const char **rcpts;
	size_t n_rcpts;
	char *postmaster;
};

static void
smtp_mx_free(struct smtp_mx_task *m)
{
	if (m->q != NULL)
		dns_query_cancel(m->q);
	for (size_t i = 0; i < m->n_hosts; i++) {
		smtp_probe_free(m->hosts[i].probe);
		free(m->hosts[i].name);
	}
	free(m->rcpts);
	free(m->postmaster);
	free(m->domain);
	free(m);
}

/* Advice for a rejected or deferred recipient, from its codes. */
static const char *
smtp_mx_advice(const struct smtp_rcpt *rc, const char *host)
{
	int m365 = util_domain_match("*.mail.protection.outlook.com", host);

	if (rc->status == SMTP_RCPT_DEFERRED)
		return "A temporary refusal (4xx): greylisting or throttling. Senders retry, so "
		       "mail arrives late rather than not at all; run the probe again in a few "
		       "minutes.";
	if (rc->status != SMTP_RCPT_REJECTED)
		return NULL;
	if (strcmp(rc->enhanced, "5.4.1") == 0)
		return m365 ? "Microsoft 365 refuses the address (directory-based edge blocking): "
		              "the domain is not an accepted domain of the tenant yet, or the "
		              "user does not exist there. Add the domain and the mailbox (or "
		              "its alias) before the MX flip."
		            : "The server refuses the recipient (5.4.1: no answer from host / "
		              "access denied): the domain is not accepted there, or the user "
		              "is unknown.";
	if (strcmp(rc->enhanced, "5.1.1") == 0)
		return "No such user on this server (5.1.1): create the mailbox or the alias "
		       "before mail is sent here.";
	if (strcmp(rc->enhanced, "5.7.1") == 0 || rc->code == 554)
		return "The server does not accept mail for this domain (relaying denied): it "
		       "is not configured as a destination for it.";
	return "The server refuses this recipient permanently (5xx): mail to it would "
	       "bounce.";
}

/* What the probe of host H met (its strings are the probe's). */
static struct smtp_mx_host_facts
smtp_mx_host_facts(const struct smtp_mx_host *h)
{
	const struct smtp_probe *p = h->probe;
	struct smtp_mx_host_facts f = {
	    .host = h->name,
	    .preference = h->preference,
	    .outcome = p != NULL ? smtp_probe_outcome(p) : SMTP_OUT_TIMEOUT,
	    .peer = p != NULL ? smtp_probe_peer(p) : "",
	};

	if (p == NULL)
		return f;
	if (f.outcome != SMTP_OUT_OK)
		f.error = smtp_probe_error(p);
	f.banner = smtp_probe_banner(p);
	f.esmtp = smtp_probe_ehlo(p, &f.n_esmtp);
	f.starttls = smtp_probe_offered_starttls(p);
	f.pipelining = smtp_probe_pipelined(p);
	f.tls = smtp_probe_tls(p) != NULL && smtp_probe_tls(p)->done ? smtp_probe_tls(p) : NULL;
	f.rcpts = smtp_probe_rcpts(p, &f.n_rcpts);
	return f;
}

/* Count what F met into Y. */
static void
smtp_mx_tally_host(const struct smtp_mx_host_facts *f, struct smtp_mx_tally *y)
{
	switch (f->outcome) {
	case SMTP_OUT_OK:
		if (f->tls == NULL)
			y->no_starttls++;
		break;
	case SMTP_OUT_CONNECT_FAILED: y->connect_failed++; break;
	case SMTP_OUT_TLS_FAILED: y->tls_failed++; break;
	default: y->other_failed++; break;
	}
	if (f->outcome != SMTP_OUT_OK && y->first_fail[0] == '\0')
		snprintf(y->first_fail, sizeof(y->first_fail), "%s %s", f->host,
		    f->error != NULL ? f->error : "not reached");
	for (size_t i = 0; i < f->n_rcpts; i++) {
		const struct smtp_rcpt *rc = &f->rcpts[i];

		switch (rc->status) {
		case SMTP_RCPT_ACCEPTED: y->accepted++; break;
		case SMTP_RCPT_UNTESTED: y->untested++; break;
		case SMTP_RCPT_DEFERRED:
			y->deferred++;
			if (y->first_defer[0] == '\0')
				snprintf(y->first_defer, sizeof(y->first_defer), "%s: %d %s%s%s",
				    rc->address, rc->code, rc->enhanced, rc->enhanced[0] ? " " : "",
				    rc->text);
			break;
		case SMTP_RCPT_REJECTED:
			y->rejected++;
			if (y->first_reject[0] == '\0') {
				snprintf(y->first_reject, sizeof(y->first_reject), "%s: %d %s%s%s",
				    rc->address, rc->code, rc->enhanced, rc->enhanced[0] ? " " : "",
				    rc->text);
				y->advice = smtp_mx_advice(rc, f->host);
			}
			break;
		}
	}
}

static cJSON *
smtp_mx_rcpt_json(const struct smtp_rcpt *rc, const char *host)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddStringToObject(r, "address", rc->address);
	cJSON_AddStringToObject(r, "status", smtp_rcpt_status_str(rc->status));
	if (rc->code != 0)
		cJSON_AddNumberToObject(r, "code", rc->code);
	else
		cJSON_AddNullToObject(r, "code");
	util_json_add_str_or_null(r, "enhanced_code", util_nonempty(rc->enhanced));
	util_json_add_str_or_null(r, "text", rc->text);
	util_json_add_str_or_null(r, "advice", smtp_mx_advice(rc, host));
	return r;
}

static cJSON *
smtp_mx_host_json(const struct smtp_mx_host_facts *f)
{
	cJSON *o = cJSON_CreateObject(), *arr;

	cJSON_AddStringToObject(o, "host", f->host);
	cJSON_AddNumberToObject(o, "preference", f->preference);
	cJSON_AddStringToObject(o, "result", smtp_outcome_str(f->outcome));
	util_json_add_str_or_null(o, "error", f->error);
	cJSON_AddStringToObject(o, "peer", f->peer);
	util_json_add_str_or_null(o, "banner", f->banner);
	arr = cJSON_AddArrayToObject(o, "esmtp");
	for (size_t i = 0; i < f->n_esmtp; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(f->esmtp[i]));
	cJSON_AddBoolToObject(o, "starttls", f->starttls);
	cJSON_AddBoolToObject(o, "pipelining", f->pipelining);
	if (f->tls != NULL)
		cJSON_AddItemToObject(o, "tls", tls_facts_json(f->tls, time(NULL)));
	else
		cJSON_AddNullToObject(o, "tls");
	arr = cJSON_AddArrayToObject(o, "recipients");
	for (size_t i = 0; i < f->n_rcpts; i++)
		cJSON_AddItemToArray(arr, smtp_mx_rcpt_json(&f->rcpts[i], f->host));
	return o;
}

void
smtp_mx_details_json(const struct smtp_mx_tally *y, cJSON *d)
{
	cJSON *arr;

	cJSON_AddStringToObject(d, "mx_source", y->mx_source);
	cJSON_AddNumberToObject(d, "port", y->port);
	cJSON_AddStringToObject(d, "helo", y->helo);
	arr = cJSON_AddArrayToObject(d, "recipients");
	for (size_t i = 0; i < y->n_rcpts; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(y->recipients[i]));
	if (y->hosts == NULL)
		return;
	arr = cJSON_AddArrayToObject(d, "mx");
	for (size_t i = 0; i < y->n_hosts; i++)
		cJSON_AddItemToArray(arr, smtp_mx_host_json(&y->hosts[i]));
}

/* The summary of M before any probe ran (the details' first keys). */
static void
smtp_mx_tally_init(const struct smtp_mx_task *m, struct smtp_mx_tally *y)
{
	memset(y, 0, sizeof(*y));
	y->domain = m->domain;
	y->port = m->in->smtp_port;
	y->n_rcpts = m->n_rcpts;
	y->mx_source = m->in->smtp_hosts != NULL ? "expected" : "dns";
	y->helo = m->helo;
	y->recipients = m->rcpts;
}

/* Every probe ended (or the deadline came): the result. */
static void
smtp_mx_report(struct smtp_mx_task *m)
{
	struct result *res = task_result(m->t);
	struct smtp_mx_host_facts facts[SMTP_MAX_MX];
	struct smtp_mx_tally y;
	struct verdict v = {0};

	smtp_mx_tally_init(m, &y);
	for (size_t i = 0; i < m->n_hosts; i++) {
		facts[i] = smtp_mx_host_facts(&m->hosts[i]);
		smtp_mx_tally_host(&facts[i], &y);
	}
	y.n_hosts = m->n_hosts;
	y.hosts = facts;
	smtp_mx_details_json(&y, res->details);
	smtp_mx_verdict(&y, &v);
	verdict_apply(&v, res);
}

void
smtp_mx_verdict(const struct smtp_mx_tally *y, struct verdict *v)
{
	size_t total = y->n_rcpts * y->n_hosts,
	       failed = y->connect_failed + y->tls_failed + y->other_failed;

	if (y->connect_failed > 0 && y->connect_failed + y->other_failed == y->n_hosts) {
		verdict_set(v, RESULT_FAIL, "no MX host of %s could be reached on port %d: %s",
		    y->domain, y->port, y->first_fail);
		verdict_advise(v,
		    "Check the host and the port. Many networks (home, office, "
		    "cloud providers) block outbound port 25: run the probe from a "
		    "machine that may send mail, or allow it for this test.");
	} else if (failed > 0) {
		verdict_set(v, RESULT_FAIL, "%zu of %zu MX host%s of %s failed: %s", failed,
		    y->n_hosts, y->n_hosts == 1 ? "" : "s", y->domain, y->first_fail);
		if (y->tls_failed > 0)
			verdict_advise(v,
			    "Senders that require TLS (MTA-STS, DANE) will not deliver to "
			    "a host whose certificate does not verify for its MX name: "
			    "install a certificate valid for the MX host name.");
		else if (y->connect_failed > 0)
			verdict_advise(v,
			    "Many networks block outbound port 25: if every other check "
			    "passes, run the probe from a machine that may send mail.");
	} else if (y->rejected > 0) {
		verdict_set(v, RESULT_FAIL, "%zu of %zu recipient check%s rejected, e.g. %s",
		    y->rejected, total, total == 1 ? "" : "s", y->first_reject);
		if (y->advice != NULL)
			verdict_advise(v, "%s", y->advice);
	} else if (y->deferred > 0) {
		verdict_set(v, RESULT_WARN, "%zu of %zu recipient check%s deferred (4xx), e.g. %s",
		    y->deferred, total, total == 1 ? "" : "s", y->first_defer);
		verdict_advise(v,
		    "Greylisting or throttling: senders retry, so mail arrives late. "
		    "Run the probe again in a few minutes.");
	} else if (y->no_starttls > 0) {
		verdict_set(v, RESULT_WARN,
		    "%zu recipient%s accepted, but %zu of %zu MX host%s "
		    "offer%s no STARTTLS: mail to %s travels unencrypted",
		    y->accepted, y->accepted == 1 ? "" : "s", y->no_starttls, y->n_hosts,
		    y->n_hosts == 1 ? "" : "s", y->no_starttls == 1 ? "s" : "", y->domain);
		verdict_advise(v,
		    "Enable STARTTLS (RFC 3207) with a certificate for the MX host "
		    "name.");
	} else {
		verdict_set(v, RESULT_PASS,
		    "%zu MX host%s of %s accept%s all %zu recipient%s, with "
		    "STARTTLS",
		    y->n_hosts, y->n_hosts == 1 ? "" : "s", y->domain, y->n_hosts == 1 ? "s" : "",
		    y->n_rcpts, y->n_rcpts == 1 ? "" : "s");
	}
}

static void
smtp_mx_probe_done(struct smtp_probe *p, void *arg)
{
	struct smtp_mx_host *h = arg;
	struct smtp_mx_task *m = h->owner;

	(void)p;
	h->done = 1;
	if (++m->n_done < m->n_hosts)
		return;
	smtp_mx_report(m);
	task_done(m->t);
	smtp_mx_free(m);
}

static void smtp_mx_probe_all(struct smtp_mx_task *m);

static int
smtp_mx_cmp(const void *a, const void *b)
{
	const struct smtp_mx_host *x = a, *y = b;

	return x->preference - y->preference;
}

static void
smtp_mx_answer(void *arg, const struct dns_reply *reply)
{
	struct smtp_mx_task *m = arg;
	struct result *res = task_result(m->t);
	const struct dnsmsg_rr *rr;
	const char *owner;
	size_t it = 0;
	struct smtp_mx_tally y;

	m->q = NULL;
	if (reply->status != DNS_OK) {
		if (reply->status == DNS_NODATA || reply->status == DNS_NXDOMAIN)
			result_set(res, RESULT_FAIL, "no MX records for %s (%s)", m->domain,
			    dns_status_str(reply->status));
		else
			result_set(res, RESULT_ERROR, "MX lookup for %s failed: %s", m->domain,
			    reply->error);
		goto done;
	}
	owner = dnsmsg_resolve_cname(reply->msg, m->domain);
	while ((rr = dnsmsg_next(reply->msg, DNSMSG_ANSWER, DNSMSG_MX, owner, &it)) != NULL) {
		if (m->n_hosts == SMTP_MAX_MX)
			break;
		if (rr->target == NULL || rr->target[0] == '\0')
			continue; /* null MX (RFC 7505): no mail at all */
		m->hosts[m->n_hosts].owner = m;
		m->hosts[m->n_hosts].name = xstrdup(rr->target);
		m->hosts[m->n_hosts].preference = rr->preference;
		m->n_hosts++;
	}
	if (m->n_hosts == 0) {
		result_set(res, RESULT_FAIL, "%s has no MX host to take mail (null MX or none)",
		    m->domain);
		goto done;
	}
	qsort(m->hosts, m->n_hosts, sizeof(m->hosts[0]), smtp_mx_cmp);
	smtp_mx_probe_all(m);
	return;
done:
	smtp_mx_tally_init(m, &y);
	smtp_mx_details_json(&y, res->details);
	task_done(m->t);
	smtp_mx_free(m);
}

/* One probe per host, all at once. */
static void
smtp_mx_probe_all(struct smtp_mx_task *m)
{
	struct smtp_probe_opts o;

	memset(&o, 0, sizeof(o));
	o.port = m->in->smtp_port;
	o.helo = m->helo;
	o.ca_file = runner_opts(task_runner(m->t))->ca_file;
	o.insecure = runner_opts(task_runner(m->t))->insecure;
	o.dns = runner_dns(task_runner(m->t));
	o.rcpts = m->rcpts;
	o.n_rcpts = m->n_rcpts;
	for (size_t i = 0; i < m->n_hosts; i++) {
		o.host = m->hosts[i].name;
		m->hosts[i].probe = smtp_probe_start(
		    runner_base(task_runner(m->t)), &o, smtp_mx_probe_done, &m->hosts[i]);
	}
}

static void
smtp_mx_start(struct task *t, void *aux)
{
	struct smtp_mx_task *m = aux;
	struct dns_query *q;

	m->t = t;
	if (m->in->smtp_hosts != NULL) { /* the destination's MX, before the flip */
		for (size_t i = 0; m->in->smtp_hosts[i] != NULL && m->n_hosts < SMTP_MAX_MX; i++) {
			m->hosts[m->n_hosts].owner = m;
			m->hosts[m->n_hosts].name = xstrdup(m->in->smtp_hosts[i]);
			m->hosts[m->n_hosts].preference = 0;
			m->n_hosts++;
		}
		smtp_mx_probe_all(m);
		return;
	}
	q = dns_query(runner_dns(task_runner(t)), m->domain, DNSMSG_MX, smtp_mx_answer, m);
	if (q != NULL) /* NULL: answered already, M may be gone */
		m->q = q;
}

static void
smtp_mx_cancel(struct task *t, void *aux)
{
	struct smtp_mx_task *m = aux;

	if (m->q == NULL) {
		for (size_t i = 0; i < m->n_hosts; i++)
			if (!m->hosts[i].done)
				smtp_probe_timeout(m->hosts[i].probe);
		smtp_mx_report(m);
	} else {
		struct smtp_mx_tally y;

		smtp_mx_tally_init(m, &y);
		smtp_mx_details_json(&y, task_result(t)->details);
	}
	smtp_mx_free(m);
}

static void
smtp_mx_schedule(struct runner *r, const struct check_input *in)
{
	struct smtp_mx_task *m;
	size_t n = 0;

	if (in->domain == NULL)
		return;
	m = xcalloc(1, sizeof(*m));
	m->in = in;
	m->domain = xstrdup(in->domain);
	if (in->smtp_helo != NULL) {
		snprintf(m->helo, sizeof(m->helo), "%s", in->smtp_helo);
	} else if (gethostname(m->helo, sizeof(m->helo) - 1) != 0 || m->helo[0] == '\0') {
		snprintf(m->helo, sizeof(m->helo), "localhost");
	}
	for (n = 0; in->smtp_rcpts != NULL && in->smtp_rcpts[n] != NULL; n++)
		;
	if (n == 0) {
		/* RFC 5321 section 4.5.1: every domain accepts postmaster */
		m->postmaster = xasprintf("postmaster@%s", in->domain);
		m->rcpts = xcalloc(1, sizeof(*m->rcpts));
		m->rcpts[0] = m->postmaster;
		m->n_rcpts = 1;
	} else {
		m->rcpts = xcalloc(n, sizeof(*m->rcpts));
		for (size_t i = 0; i < n; i++)
			m->rcpts[i] = in->smtp_rcpts[i];
		m->n_rcpts = n;
	}
	runner_add(r, NULL, result_new("smtp.mx", in->domain, RESULT_SIDE_NONE), smtp_mx_start,
	    smtp_mx_cancel, m, 0);
}

const struct check check_smtp_mx = {
    .id = "smtp.mx",
    .group = "smtp",
    .title = "the MX hosts take mail for the recipients: STARTTLS, RCPT TO accepted",
    .commands = CHECK_CMD_AUDIT | CHECK_CMD_SMTP,
    .schedule = smtp_mx_schedule,
    .scope = CHECK_SCOPE_ONCE,
    .on_request = 1, /* port 25 is often blocked: `audit --only smtp` */
};
