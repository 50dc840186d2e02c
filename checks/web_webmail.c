/*
 * web_webmail.c - web.webmail: can users reach webmail on each side?
 *
 * Webmail is the users' lifeline during a migration: it works before any
 * client is reconfigured. For the plan's source and destination webmail
 * URL: GET it through http_fetch (names resolved with the run's resolvers,
 * redirects followed one hop at a time, at most WEBMAIL_MAX_REDIRECTS) and
 * judge what a user's browser would meet:
 *
 *   pass  a 2xx page (a login page) or a 401 challenge (RFC 9110 section
 *         15.5.2: the server asks for credentials, so it is there)
 *   warn  ... but the certificate expires within WEBMAIL_EXPIRY_WARN_DAYS
 *         days, the final URL is plain http, the certificate was not
 *         verified (--insecure), or an Exchange host's EWS does not answer
 *   fail  a TLS failure, a 5xx, a redirect loop or too many redirects,
 *         another 4xx, or a host name that does not exist
 *   error could not be checked: timeout (a server that drips bytes ends
 *         here), connection refused, DNS server failure
 *
 * Exchange-style hosts (a path under /owa, or the microsoft365 profile) get
 * an EWS probe: GET /EWS/Exchange.asmx on the final host; a 401 with a
 * WWW-Authenticate challenge means EWS is reachable ([MS-OXWSCORE] is
 * served there, and clients authenticate after that challenge).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "check.h"
#include "check_verdicts.h"
#include "src/dns.h"
#include "src/http.h"
#include "src/net.h"
#include "src/plan.h"
#include "src/util.h"

#define WEBMAIL_MAX_REDIRECTS 10
#define WEBMAIL_MAX_BODY (1024 * 1024)

struct webmail_task {
	struct task *t;
	const struct check_input *in;
	const struct plan_side *side;
	char *url;
	struct http_fetch *fetch;
	int ews_phase; /* 1 while the EWS probe runs */
	char *ews_url;
	int exchange; /* probe EWS */
};

static void
webmail_free(struct webmail_task *w)
{
	http_fetch_cancel(w->fetch);
	free(w->url);
	free(w->ews_url);
	free(w);
}

static void
webmail_cancel(struct task *t, void *aux)
{
	struct webmail_task *w = aux;
	struct result *res = task_result(t);

	if (w->ews_phase)
		result_set(res, RESULT_ERROR,
		    "webmail %s answered, but the EWS probe %s did not "
		    "finish in time",
		    w->url, w->ews_url);
	else
		result_set(res, RESULT_ERROR, "webmail %s: no complete answer in time", w->url);
	webmail_free(w);
}

/* Time left for a fetch: the task's deadline less a margin, so that the
 * fetch reports its own specific reason before the runner steps in. */
static int
webmail_budget(struct task *t)
{
	const struct runner_opts *o = runner_opts(task_runner(t));
	int64_t left = task_started_ms(t) + o->timeout_ms - util_now_ms();

	left = left * 9 / 10;
	return left > 100 ? (int)left : 100;
}

static void
webmail_fetch_opts(struct webmail_task *w, struct http_fetch_opts *fo, const char *url)
{
	const struct runner_opts *o = runner_opts(task_runner(w->t));

	memset(fo, 0, sizeof(*fo));
	fo->url = url;
	fo->max_body = WEBMAIL_MAX_BODY;
	fo->timeout_ms = webmail_budget(w->t);
	fo->ca_file = o->ca_file;
	fo->insecure = o->insecure;
	fo->dns = runner_dns(task_runner(w->t));
	fo->connect_to = w->in->connect_to;
}

/* Is any hop under /owa (Outlook on the web)? */
static int
webmail_is_owa(const struct http_fetch_result *res)
{
	for (size_t i = 0; i < res->n_hops; i++) {
		const char *u = res->hops[i].url;
		const char *p = strstr(u, "://");

		p = p != NULL ? strchr(p + 3, '/') : NULL;
		if (p != NULL && strncasecmp(p, "/owa", 4) == 0 &&
		    (p[4] == '\0' || p[4] == '/' || p[4] == '?'))
			return 1;
	}
	return 0;
}

/* scheme://host[:port]/EWS/Exchange.asmx of URL, or NULL. Caller frees. */
static char *
webmail_ews_url(const char *url)
{
	CURLU *u = curl_url();
	char *out = NULL, *s = NULL;

	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_PATH, "/EWS/Exchange.asmx", 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_QUERY, NULL, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &s, 0) != CURLUE_OK)
		goto out;
	out = xstrdup(s);
out:
	curl_free(s);
	curl_url_cleanup(u);
	return out;
}

static void
webmail_done(struct webmail_task *w)
{
	task_done(w->t);
	webmail_free(w);
}

void
ews_verdict(const struct ews_summary *s, enum result_status prev_status, const char *prev_summary,
    struct verdict *out)
{
	if (!s->reachable) {
		verdict_set(out, RESULT_WARN,
		    "%s; but EWS %s does not answer with an "
		    "authentication challenge (%s)",
		    prev_summary, s->url,
		    s->error != NULL            ? s->error
		        : s->http_status == 401 ? "401 without WWW-Authenticate"
		                                : "see details");
		verdict_advise(out,
		    "Outlook, mobile clients and migration tools reach Exchange "
		    "through EWS; make %s reachable (it should answer 401 with a challenge).",
		    s->url);
	} else {
		verdict_set(
		    out, prev_status, "%s; EWS answers 401 (%s)", prev_summary, s->challenges[0]);
	}
}

void
ews_details_json(const struct ews_summary *s, cJSON *ews)
{
	cJSON *ch = cJSON_AddArrayToObject(ews, "www_authenticate");

	cJSON_AddStringToObject(ews, "url", s->url);
	if (s->http_status > 0)
		cJSON_AddNumberToObject(ews, "http_status", (double)s->http_status);
	else
		cJSON_AddNullToObject(ews, "http_status");
	for (size_t i = 0; i < s->n_challenges; i++)
		cJSON_AddItemToArray(ch, cJSON_CreateString(s->challenges[i]));
	cJSON_AddBoolToObject(ews, "reachable", s->reachable);
	util_json_add_str_or_null(ews, "error", s->error);
}

static void
webmail_ews_answer(void *arg, const struct http_fetch_result *fr)
{
	struct webmail_task *w = arg;
	struct result *res = task_result(w->t);
	const struct http_hop *h = fr->last;
	struct ews_summary s = {
	    .url = w->ews_url,
	    .http_status = h->status,
	    .challenges = (const char *const *)h->www_authenticate,
	    .n_challenges = h->n_www_authenticate,
	    .error = fr->error,
	    .reachable = h->status == 401 && h->n_www_authenticate > 0,
	};
	struct verdict vd = {0};

	w->fetch = NULL;
	ews_details_json(&s, cJSON_AddObjectToObject(res->details, "ews"));
	ews_verdict(&s, res->status, res->summary, &vd);
	verdict_apply(&vd, res);
	webmail_done(w);
}

int
webmail_verdict(const struct webmail_summary *s, struct verdict *out)
{
	long status = s->status;
	const char *side = s->side;

	switch (s->end) {
	case HTTP_FETCH_DNS_FAILED:
		if (s->no_such_name) {
			verdict_set(out, RESULT_FAIL, "%s webmail: %s", side, s->error);
			verdict_advise(out,
			    "Publish an address record for the webmail host, or fix "
			    "the %s webmail URL in the plan.",
			    side);
		} else {
			verdict_set(out, RESULT_ERROR, "%s webmail: %s", side, s->error);
		}
		return 0;
	case HTTP_FETCH_REDIRECT_LOOP:
		verdict_set(out, RESULT_FAIL, "%s webmail: %s", side, s->error);
		verdict_advise(out,
		    "Browsers give up on a redirect loop (\"too many redirects\"); "
		    "fix the redirect rules of the web server or load balancer.");
		return 0;
	case HTTP_FETCH_TOO_MANY_REDIRECTS:
	case HTTP_FETCH_BAD_REDIRECT:
		verdict_set(out, RESULT_FAIL, "%s webmail: %s", side, s->error);
		verdict_advise(
		    out, "Make %s lead to the login page in a few redirects.", s->plan_url);
		return 0;
	case HTTP_FETCH_TRANSFER_FAILED:
		if (s->tls_verify_error[0] != '\0' && !s->timed_out) {
			verdict_set(out, RESULT_FAIL,
			    "%s webmail: TLS certificate of %s not accepted: %s", side, s->url,
			    s->tls_verify_error);
			verdict_advise(out,
			    "Browsers will show a certificate warning (or refuse): "
			    "install a valid certificate for the webmail host.");
		} else if (s->timed_out && status > 0) {
			verdict_set(out, RESULT_ERROR,
			    "%s webmail: %s answered HTTP %ld but the response "
			    "did not complete in time (the server sends too slowly)",
			    side, s->url, status);
		} else if (s->timed_out) {
			verdict_set(out, RESULT_ERROR, "%s webmail: no response from %s in time",
			    side, s->url);
		} else {
			verdict_set(
			    out, RESULT_ERROR, "%s webmail: %s: %s", side, s->url, s->error);
		}
		return 0;
	case HTTP_FETCH_OK: break;
	}
	if (status >= 500) {
		verdict_set(out, RESULT_FAIL, "%s webmail: %s answers HTTP %ld (server error)",
		    side, s->url, status);
		verdict_advise(out, "The webmail server fails; check its logs and back-ends.");
		return 0;
	}
	if (status >= 300 && status < 400) {
		verdict_set(out, RESULT_FAIL,
		    "%s webmail: %s answers HTTP %ld without a usable "
		    "Location",
		    side, s->url, status);
		return 0;
	}
	if (!(status >= 200 && status < 300) && status != 401) {
		verdict_set(
		    out, RESULT_FAIL, "%s webmail: %s answers HTTP %ld", side, s->url, status);
		verdict_advise(out,
		    "Check the %s webmail URL in the plan: users should reach a "
		    "login page.",
		    side);
		return 0;
	}
	if (s->https &&
	    (strcmp(s->tls_version, "TLSv1") == 0 || strcmp(s->tls_version, "TLSv1.1") == 0)) {
		verdict_set(out, RESULT_WARN,
		    "%s webmail: HTTP %ld from %s over %s, " NET_OLD_TLS_MARK
		    " (Microsoft 365 refuses it, and so do current browsers)",
		    side, status, s->url, s->tls_version);
		verdict_advise(out, "Enable TLS 1.2 or later on the webmail server of %s.", side);
	} else if (s->https && !s->tls_verified) {
		verdict_set(out, RESULT_WARN,
		    "%s webmail: HTTP %ld from %s, but its certificate is "
		    "not valid (%s; accepted only because of --insecure)",
		    side, status, s->url, s->tls_verify_error);
		verdict_advise(out,
		    "Install a valid certificate: users' browsers do not have "
		    "--insecure.");
	} else if (!s->https) {
		verdict_set(out, RESULT_WARN, "%s webmail: HTTP %ld from %s over plain http", side,
		    status, s->url);
		verdict_advise(out,
		    "Serve webmail over https only, and redirect http to https: "
		    "passwords typed into a plain-http page travel in clear.");
	} else if (s->has_expiry && s->days_left < WEBMAIL_EXPIRY_WARN_DAYS) {
		verdict_set(out, RESULT_WARN,
		    "%s webmail: HTTP %ld from %s, but its certificate "
		    "expires in %ld day%s",
		    side, status, s->url, s->days_left, s->days_left == 1 ? "" : "s");
		verdict_advise(
		    out, "Renew the certificate of %s before the migration weekend.", s->url);
	} else {
		verdict_set(out, RESULT_PASS,
		    "%s webmail: %s answers HTTP %ld%s after %zu "
		    "redirect%s; certificate valid %ld more days",
		    side, s->url, status, status == 401 ? " (authentication challenge)" : "",
		    s->n_hops - 1, s->n_hops == 2 ? "" : "s", s->days_left);
	}
	return 1;
}

/* What the webmail fetch FR of W met. */
static void
webmail_summarize(
    const struct webmail_task *w, const struct http_fetch_result *fr, struct webmail_summary *s)
{
	const struct http_hop *last = fr->last;

	memset(s, 0, sizeof(*s));
	s->side = w->side->name;
	s->plan_url = w->url;
	s->end = fr->end;
	s->error = fr->error;
	s->no_such_name = last->dns_status == DNS_NXDOMAIN || last->dns_status == DNS_NODATA;
	s->url = last->url;
	s->status = last->status;
	s->timed_out = last->timed_out;
	s->n_hops = fr->n_hops;
	s->https = strncasecmp(last->url, "https:", 6) == 0;
	s->tls_version = last->tls.version;
	s->tls_verified = last->tls.verified;
	s->tls_verify_error = last->tls.verify_error;
	s->has_expiry = last->tls.not_after != 0;
	s->now = time(NULL);
	s->days_left = tls_facts_days_left(&last->tls, s->now);
	s->fetch = fr;
}

void
webmail_details_json(const struct webmail_summary *s, cJSON *d)
{
	http_fetch_report(d, s->plan_url, s->fetch, s->now);
	cJSON_AddBoolToObject(d, "exchange", s->exchange);
	if (!s->ews_probed)
		cJSON_AddNullToObject(d, "ews");
}

static void
webmail_answer(void *arg, const struct http_fetch_result *fr)
{
	struct webmail_task *w = arg;
	struct result *res = task_result(w->t);
	struct http_fetch_opts fo;
	struct webmail_summary s;
	struct verdict vd = {0};
	int good;

	w->fetch = NULL;
	webmail_summarize(w, fr, &s);
	good = webmail_verdict(&s, &vd);
	w->exchange = w->exchange || webmail_is_owa(fr);
	if (good && w->exchange)
		w->ews_url = webmail_ews_url(fr->last->url);
	s.exchange = w->exchange;
	s.ews_probed = w->ews_url != NULL;
	webmail_details_json(&s, res->details);
	verdict_apply(&vd, res);
	if (!s.ews_probed) {
		webmail_done(w);
		return;
	}
	w->ews_phase = 1;
	webmail_fetch_opts(w, &fo, w->ews_url);
	fo.max_body = 64 * 1024;
	w->fetch = http_fetch(runner_http(task_runner(w->t)), &fo, webmail_ews_answer, w);
}

static void
webmail_start(struct task *t, void *aux)
{
	struct webmail_task *w = aux;
	struct http_fetch_opts fo;

	w->t = t;
	webmail_fetch_opts(w, &fo, w->url);
	fo.max_redirects = WEBMAIL_MAX_REDIRECTS;
	w->fetch = http_fetch(runner_http(task_runner(t)), &fo, webmail_answer, w);
}

static void
webmail_skip(struct task *t, void *aux)
{
	(void)aux;
	task_done(t);
}

static void
webmail_schedule_side(struct runner *r, const struct check_input *in, const struct plan_side *side,
    enum result_side rs)
{
	struct webmail_task *w;
	struct result *res;

	if (!side->present)
		return;
	if (side->webmail == NULL) {
		res = result_new("web.webmail", in->domain, rs);
		result_set(res, RESULT_SKIP, "no webmail URL for the %s in the plan", side->name);
		runner_add(r, NULL, res, webmail_skip, NULL, NULL, 0);
		return;
	}
	w = xcalloc(1, sizeof(*w));
	w->in = in;
	w->side = side;
	w->url = xstrdup(side->webmail->url);
	w->exchange = side->profile != NULL && strcmp(side->profile->name, "microsoft365") == 0;
	runner_add(r, side->webmail->host, result_new("web.webmail", side->webmail->url, rs),
	    webmail_start, webmail_cancel, w, 0);
}

static void
webmail_schedule(struct runner *r, const struct check_input *in)
{
	if (in->plan == NULL)
		return;
	webmail_schedule_side(r, in, &in->plan->source, RESULT_SIDE_SOURCE);
	webmail_schedule_side(r, in, &in->plan->destination, RESULT_SIDE_DESTINATION);
}

const struct check check_web_webmail = {
    .id = "web.webmail",
    .group = "web",
    .title = "webmail (OWA) reachable: status, redirects, TLS, timings, EWS",
    .commands = CHECK_CMD_AUDIT,
    .schedule = webmail_schedule,
};
