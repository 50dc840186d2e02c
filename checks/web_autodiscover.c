/*
 * web_autodiscover.c - web.autodiscover: can Outlook find the mailbox
 * settings for the plan's domain, and where does autodiscover point?
 *
 * Outlook's sequence ([MS-OXDSCLI] section 3.1.5), each step reported the
 * way a connectivity analyzer does:
 *   1 root_domain        POST https://DOMAIN/autodiscover/autodiscover.xml
 *   2 autodiscover_host  POST https://autodiscover.DOMAIN/autodiscover/autodiscover.xml
 *   3 http_redirect      GET  http://autodiscover.DOMAIN/autodiscover/autodiscover.xml,
 *                        and on a redirect to an https URL, POST there
 *   4 srv                SRV _autodiscover._tcp.DOMAIN (RFC 2782), then POST to
 *                        https://TARGET:PORT/autodiscover/autodiscover.xml
 * The first step that finds an autodiscover endpoint wins, as in Outlook. The
 * steps run concurrently (so one slow step does not eat the others' time) and
 * are judged in this order afterwards.
 *
 * Without credentials an endpoint is found when it answers 401 with an
 * authentication challenge (that is what Exchange does before a login) or 200
 * with autodiscover XML. With --autodiscover-user the POST carries Basic
 * credentials (https only) and only a 200 with POX settings counts; the
 * settings are parsed (src/autodiscover.c) and reported.
 *
 * Where it points: the host that answered and the aliases met resolving it;
 * compared with the expected autodiscover host (plan "expect" or the
 * destination profile): a mismatch warns. Thunderbird autoconfig
 * (https://autoconfig.DOMAIN/mail/config-v1.1.xml) is fetched as information
 * and never changes the status.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "src/autodiscover.h"
#include "check.h"
#include "check_verdicts.h"
#include "src/dns.h"
#include "src/dnsmsg.h"
#include "src/http.h"
#include "src/plan.h"
#include "src/oauth2.h"
#include "src/util.h"

#define AD_STEPS 4
#define AD_MAX_BODY AUTODISCOVER_MAX_INPUT
#define AD_PATH "/autodiscover/autodiscover.xml"
_Static_assert(
    AD_STEPS + 1 == sizeof(((struct web_ad_summary *)0)->steps) / sizeof(struct web_ad_step),
    "a summary step per step and autoconfig");

enum ad_step_id { AD_ROOT = 0, AD_HOST, AD_REDIRECT, AD_SRV, AD_AUTOCONFIG };

static const char *const ad_method_names[] = {
    "root_domain",
    "autodiscover_host",
    "http_redirect",
    "srv",
    "autoconfig",
};

struct ad_task;

struct ad_step {
	struct ad_task *a;
	enum ad_step_id id;
	char *url; /* the URL this step starts from, NULL before known */
	struct http_fetch *fetch;
	struct dns_query *q;
	int phase; /* http_redirect: 1 once POSTing to the target */
	int done;
	int found;
	char *reason;    /* why it failed, or what it found */
	cJSON *report;   /* http_fetch_report of its last fetch, or NULL */
	cJSON *names;    /* hosts and aliases this step reached */
	char *points_to; /* host that answered (or its alias target) */
	struct autodiscover_settings *settings;
	char *settings_error;
	cJSON *srv; /* SRV records, step 4 */
};

struct ad_task {
	struct task *t;
	const struct check_input *in;
	char *domain;
	char *email;
	char *user;                         /* --autodiscover-user or NULL */
	char *password;                     /* secret */
	const struct plan_side *oauth_side; /* the user's side logs in with OAuth2, or NULL */
	struct oauth2_wait *oauth_wait;
	char *bearer;  /* secret: its token, once fetched */
	char *request; /* POX request body */
	struct ad_step steps[AD_STEPS + 1];
	int pending;
};

static void
ad_step_clear(struct ad_step *s)
{
	http_fetch_cancel(s->fetch);
	dns_query_cancel(s->q);
	free(s->url);
	free(s->reason);
	free(s->points_to);
	free(s->settings_error);
	cJSON_Delete(s->report);
	cJSON_Delete(s->names);
	cJSON_Delete(s->srv);
	autodiscover_settings_free(s->settings);
}

static void
ad_free(struct ad_task *a)
{
	for (int i = 0; i <= AD_STEPS; i++)
		ad_step_clear(&a->steps[i]);
	free(a->domain);
	free(a->email);
	free(a->user);
	util_free_secret(a->password);
	util_free_secret(a->bearer);
	oauth2_cancel(a->oauth_wait);
	free(a->request);
	free(a);
}

static void
ad_cancel(struct task *t, void *aux)
{
	struct ad_task *a = aux;
	struct result *res = task_result(t);
	const char *waiting = NULL;

	for (int i = 0; i < AD_STEPS && waiting == NULL; i++)
		if (!a->steps[i].done)
			waiting = ad_method_names[i];
	result_set(res, RESULT_ERROR,
	    "autodiscover for %s did not finish in time (step %s "
	    "still waiting)",
	    a->domain, waiting != NULL ? waiting : "autoconfig");
	ad_free(a);
}

static int
ad_budget(struct task *t)
{
	const struct runner_opts *o = runner_opts(task_runner(t));
	int64_t left = task_started_ms(t) + o->timeout_ms - util_now_ms();

	left = left * 9 / 10;
	return left > 100 ? (int)left : 100;
}

static void
ad_fetch_opts(struct ad_task *a, struct http_fetch_opts *fo, const char *url, int post)
{
	const struct runner_opts *o = runner_opts(task_runner(a->t));

	memset(fo, 0, sizeof(*fo));
	fo->url = url;
	if (post) {
		fo->body = a->request;
		fo->content_type = "text/xml; charset=utf-8";
		fo->username = a->bearer == NULL ? a->user : NULL;
		fo->password = a->bearer == NULL ? a->password : NULL;
		fo->bearer = a->bearer;
		fo->keep_method = 1; /* Outlook re-POSTs to a redirect target */
		fo->max_redirects = 3;
	}
	fo->max_body = AD_MAX_BODY;
	fo->timeout_ms = ad_budget(a->t);
	fo->ca_file = o->ca_file;
	fo->insecure = o->insecure;
	fo->allow_old_tls = o->allow_old_tls;
	fo->dns = runner_dns(task_runner(a->t));
	fo->connect_to = a->in->connect_to;
}

static void ad_finish(struct ad_task *a);

static void
ad_step_done(struct ad_step *s)
{
	s->done = 1;
	if (--s->a->pending == 0)
		ad_finish(s->a);
}

static char *
ad_url_host(const char *url)
{
	CURLU *u = curl_url();
	char *h = NULL, *out = NULL;

	if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK)
		out = xstrdup(h);
	curl_free(h);
	curl_url_cleanup(u);
	return out;
}

/* Record the hosts and aliases of FR in S->names; the answering host (or the
 * end of its alias chain) becomes S->points_to. */
static void
ad_note_names(struct ad_step *s, const struct http_fetch_result *fr)
{
	if (s->names == NULL)
		s->names = cJSON_CreateArray();
	for (size_t i = 0; i < fr->n_hops; i++) {
		const struct http_hop *h = &fr->hops[i];
		char *host = ad_url_host(h->url);

		if (host != NULL)
			cJSON_AddItemToArray(s->names, cJSON_CreateString(host));
		for (size_t j = 0; j < h->n_cnames; j++)
			cJSON_AddItemToArray(s->names, cJSON_CreateString(h->cnames[j]));
		if (i == fr->n_hops - 1) {
			free(s->points_to);
			s->points_to =
			    h->n_cnames > 0 ? xstrdup(h->cnames[h->n_cnames - 1]) : xstrdup(host);
		}
		free(host);
	}
}

/* Judge the answer of an autodiscover POST. Sets found/reason/settings. */
static void
ad_judge_post(struct ad_step *s, const struct http_fetch_result *fr)
{
	struct ad_task *a = s->a;
	const struct http_hop *last = fr->last;
	char *perr = NULL;

	cJSON_Delete(s->report);
	s->report = cJSON_CreateObject();
	http_fetch_report(s->report, fr->hops[0].url, fr, time(NULL));
	ad_note_names(s, fr);
	free(s->reason);
	s->reason = NULL;
	if (fr->end != HTTP_FETCH_OK) {
		if (last->tls.verify_error[0] != '\0' && !last->timed_out)
			s->reason = xasprintf("TLS certificate of %s not accepted: %s", last->url,
			    last->tls.verify_error);
		else if (last->timed_out)
			s->reason = xasprintf("%s: no complete answer in time", last->url);
		else
			s->reason = xstrdup(fr->error);
		return;
	}
	if (last->status == 401) {
		if (a->user != NULL && strncasecmp(last->url, "http://", 7) == 0) {
			/* Credentials never go over plain http: not a rejection. */
			s->reason = xasprintf("%s asks for credentials, which are never sent over "
			                      "plain http (reached by a redirect from %s)",
			    last->url, fr->hops[0].url);
		} else if (a->user != NULL) {
			s->reason = xasprintf(
			    "%s rejected the credentials of %s (401)", last->url, a->user);
		} else if (last->n_www_authenticate > 0) {
			s->found = 1;
			s->reason = xasprintf("%s asks for authentication (%s)", last->url,
			    last->www_authenticate[0]);
		} else {
			s->reason = xasprintf(
			    "%s answers 401 without an authentication challenge", last->url);
		}
		return;
	}
	if (last->status != 200) {
		s->reason = xasprintf("%s answers HTTP %ld", last->url, last->status);
		return;
	}
	if (autodiscover_parse(AUTODISCOVER_POX, fr->body, fr->body_len, &s->settings, &perr) !=
	    0) {
		s->reason =
		    xasprintf("%s answers 200 but not with autodiscover XML: %s", last->url, perr);
		s->settings_error = perr;
		return;
	}
	if (s->settings->error_code != NULL && a->user != NULL) {
		s->reason = xasprintf("%s answers autodiscover error %s%s%s", last->url,
		    s->settings->error_code, s->settings->error_message != NULL ? ": " : "",
		    s->settings->error_message != NULL ? s->settings->error_message : "");
		return;
	}
	s->found = 1;
	s->reason = xasprintf("%s answers with autodiscover XML", last->url);
}

static void
ad_post_answer(void *arg, const struct http_fetch_result *fr)
{
	struct ad_step *s = arg;

	s->fetch = NULL;
	ad_judge_post(s, fr);
	ad_step_done(s);
}

static void
ad_post(struct ad_step *s, const char *url)
{
	struct http_fetch_opts fo;

	if (!s->phase) { /* the http_redirect step keeps its http:// URL */
		free(s->url);
		s->url = xstrdup(url);
	}
	ad_fetch_opts(s->a, &fo, url, 1);
	s->fetch = http_fetch(runner_http(task_runner(s->a->t)), &fo, ad_post_answer, s);
}

/* Step 3: the plain-http GET; a redirect to https leads to the POST. */
static void
ad_redirect_answer(void *arg, const struct http_fetch_result *fr)
{
	struct ad_step *s = arg;
	const struct http_hop *last = fr->last;

	s->fetch = NULL;
	s->report = cJSON_CreateObject();
	http_fetch_report(s->report, s->url, fr, time(NULL));
	ad_note_names(s, fr);
	if (fr->end != HTTP_FETCH_OK) {
		s->reason = xstrdup(fr->error);
	} else if (last->status < 300 || last->status >= 400 || last->location == NULL) {
		s->reason = xasprintf("%s answers HTTP %ld, not a redirect", s->url, last->status);
	} else if (strncasecmp(last->location, "https://", 8) != 0) {
		/* [MS-OXDSCLI] 3.1.5.4: only a redirect to https is followed. */
		s->reason = xasprintf("%s redirects to %s, which is not https (Outlook does not "
		                      "follow it)",
		    s->url, last->location);
	} else {
		char *target = xstrdup(last->location);

		s->phase = 1;
		ad_post(s, target);
		free(target);
		return;
	}
	ad_step_done(s);
}

/* Step 4: the SRV record. */
static void
ad_srv_answer(void *arg, const struct dns_reply *reply)
{
	struct ad_step *s = arg;
	const struct dnsmsg_rr *rr, *best = NULL;
	char *owner = xasprintf("_autodiscover._tcp.%s", s->a->domain);
	size_t it = 0;

	s->q = NULL;
	s->srv = cJSON_CreateArray();
	if (reply->status == DNS_OK) {
		const char *name = dnsmsg_resolve_cname(reply->msg, owner);

		while (
		    (rr = dnsmsg_next(reply->msg, DNSMSG_ANSWER, DNSMSG_SRV, name, &it)) != NULL) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddNumberToObject(o, "priority", rr->priority);
			cJSON_AddNumberToObject(o, "weight", rr->weight);
			cJSON_AddNumberToObject(o, "port", rr->port);
			cJSON_AddStringToObject(o, "target", rr->target != NULL ? rr->target : "");
			cJSON_AddItemToArray(s->srv, o);
			if (rr->target == NULL || rr->target[0] == '\0')
				continue;
			/* RFC 2782: lowest priority first, then the highest weight. */
			if (best == NULL || rr->priority < best->priority ||
			    (rr->priority == best->priority && rr->weight > best->weight))
				best = rr;
		}
	}
	if (best != NULL) {
		char *url = best->port == 443
		    ? xasprintf("https://%s" AD_PATH, best->target)
		    : xasprintf("https://%s:%u" AD_PATH, best->target, best->port);

		s->names = cJSON_CreateArray();
		cJSON_AddItemToArray(s->names, cJSON_CreateString(best->target));
		ad_post(s, url);
		free(url);
		free(owner);
		return;
	}
	if (reply->status == DNS_OK || reply->status == DNS_NODATA || reply->status == DNS_NXDOMAIN)
		s->reason = xasprintf("no SRV record %s", owner);
	else
		s->reason = xasprintf("SRV lookup of %s failed: %s", owner, reply->error);
	free(owner);
	ad_step_done(s);
}

/* Autoconfig (information only). */
static void
ad_autoconfig_answer(void *arg, const struct http_fetch_result *fr)
{
	struct ad_step *s = arg;
	char *perr = NULL;

	s->fetch = NULL;
	s->report = cJSON_CreateObject();
	http_fetch_report(s->report, s->url, fr, time(NULL));
	if (fr->end != HTTP_FETCH_OK)
		s->reason = xstrdup(fr->error);
	else if (fr->last->status != 200)
		s->reason = xasprintf("HTTP %ld", fr->last->status);
	else if (autodiscover_parse(
	             AUTODISCOVER_AUTOCONFIG, fr->body, fr->body_len, &s->settings, &perr) != 0)
		s->reason = xasprintf("not autoconfig XML: %s", perr);
	else
		s->found = 1;
	free(perr);
	ad_step_done(s);
}

static cJSON *
ad_settings_json(const struct autodiscover_settings *st)
{
	cJSON *o = cJSON_CreateObject(), *servers;

	if (st->kind == AUTODISCOVER_POX) {
		util_json_add_str_or_null(o, "display_name", st->display_name);
		util_json_add_str_or_null(o, "smtp_address", st->smtp_address);
		util_json_add_str_or_null(o, "action", st->action);
		util_json_add_str_or_null(o, "redirect", st->redirect);
		util_json_add_str_or_null(o, "error_code", st->error_code);
		util_json_add_str_or_null(o, "error_message", st->error_message);
	} else {
		util_json_add_str_or_null(o, "provider_id", st->provider_id);
		util_json_add_str_or_null(o, "display_name", st->display_name);
	}
	servers = cJSON_AddArrayToObject(o, st->kind == AUTODISCOVER_POX ? "protocols" : "servers");
	for (size_t i = 0; i < st->n_servers; i++) {
		const struct autodiscover_server *v = &st->servers[i];
		cJSON *p = cJSON_CreateObject();

		util_json_add_str_or_null(p, "type", v->type);
		if (st->kind == AUTODISCOVER_AUTOCONFIG)
			util_json_add_str_or_null(p, "direction", v->direction);
		util_json_add_str_or_null(p, "server", v->host);
		if (v->port > 0)
			cJSON_AddNumberToObject(p, "port", (double)v->port);
		else
			cJSON_AddNullToObject(p, "port");
		util_json_add_str_or_null(p, "security", v->security);
		if (st->kind == AUTODISCOVER_POX) {
			util_json_add_str_or_null(p, "ews_url", v->ews_url);
			util_json_add_str_or_null(p, "owa_url", v->owa_url);
			util_json_add_str_or_null(p, "as_url", v->as_url);
		}
		cJSON_AddItemToArray(servers, p);
	}
	return o;
}

/* Does any name the step reached match the expected autodiscover host? */
static int
ad_matches(const struct ad_step *s, const char *expected)
{
	const cJSON *n;

	cJSON_ArrayForEach(n, s->names) if (cJSON_IsString(n) &&
	    util_domain_match(expected, n->valuestring)) return 1;
	return 0;
}

static const char *
ad_report_str(const cJSON *report, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(report, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

void
web_ad_verdict(const struct web_ad_summary *s, struct verdict *v)
{
	const struct autodiscover_settings *st = s->win_settings;

	if (s->win_step == 0) {
		verdict_set(v, RESULT_FAIL, "no autodiscover method works for %s (%s; %s; %s; %s)",
		    s->domain, s->reasons[0] ? s->reasons[0] : "?",
		    s->reasons[1] ? s->reasons[1] : "?", s->reasons[2] ? s->reasons[2] : "?",
		    s->reasons[3] ? s->reasons[3] : "?");
		verdict_advise(v,
		    "Outlook cannot set up mailboxes of %s by itself. Publish "
		    "autodiscover.%s as the provider asks (%s), or an SRV record "
		    "_autodiscover._tcp.%s.",
		    s->domain, s->domain,
		    s->expected != NULL ? s->expected : "a CNAME to its autodiscover host",
		    s->domain);
	} else if (s->expected != NULL && !s->matches) {
		verdict_set(v, RESULT_WARN,
		    "autodiscover for %s works (step %d, %s) but points at "
		    "%s, not at the expected %s",
		    s->domain, s->win_step, s->win_method,
		    s->win_points_to != NULL ? s->win_points_to : "?", s->expected);
		verdict_advise(v,
		    "At the cutover, point autodiscover.%s at %s (CNAME), or "
		    "Outlook keeps configuring the old server.",
		    s->domain, s->expected);
	} else if (st != NULL && st->redirect != NULL) {
		verdict_set(v, RESULT_PASS, "autodiscover for %s works (step %d, %s): %s to %s",
		    s->domain, s->win_step, s->win_method,
		    st->action != NULL ? st->action : "redirect", st->redirect);
	} else if (st != NULL && st->n_servers > 0) {
		const struct autodiscover_server *sv = &st->servers[0];

		verdict_set(v, RESULT_PASS,
		    "autodiscover for %s works (step %d, %s) and gives "
		    "%zu server setting%s (%s %s)",
		    s->domain, s->win_step, s->win_method, st->n_servers,
		    st->n_servers == 1 ? "" : "s", sv->type != NULL ? sv->type : "?",
		    sv->host != NULL          ? sv->host
		        : sv->ews_url != NULL ? sv->ews_url
		                              : "?");
	} else {
		verdict_set(v, RESULT_PASS, "autodiscover for %s works (step %d, %s): %s",
		    s->domain, s->win_step, s->win_method, s->win_reason);
	}
}

/* Step I (S) as the details report it; SELECTED: it is the winning step. */
static cJSON *
ad_step_json(const struct web_ad_step *s, int i, int selected)
{
	cJSON *o = cJSON_CreateObject();
	const cJSON *st =
	    s->report != NULL ? cJSON_GetObjectItemCaseSensitive(s->report, "http_status") : NULL;
	const cJSON *tls =
	    s->report != NULL ? cJSON_GetObjectItemCaseSensitive(s->report, "tls") : NULL;

	cJSON_AddNumberToObject(o, "step", i + 1);
	cJSON_AddStringToObject(o, "method", ad_method_names[i]);
	if (s->url != NULL)
		cJSON_AddStringToObject(o, "url", s->url);
	else
		cJSON_AddNullToObject(o, "url");
	cJSON_AddStringToObject(o, "outcome", s->found ? "found" : "failed");
	cJSON_AddBoolToObject(o, "selected", selected);
	cJSON_AddStringToObject(o, "reason", s->reason != NULL ? s->reason : "");
	if (cJSON_IsNumber(st))
		cJSON_AddNumberToObject(o, "http_status", st->valuedouble);
	else
		cJSON_AddNullToObject(o, "http_status");
	if (ad_report_str(s->report, "final_url") != NULL)
		cJSON_AddStringToObject(o, "final_url", ad_report_str(s->report, "final_url"));
	else
		cJSON_AddNullToObject(o, "final_url");
	if (cJSON_IsObject(tls))
		cJSON_AddBoolToObject(o, "tls_verified",
		    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(tls, "verified")));
	else
		cJSON_AddNullToObject(o, "tls_verified");
	if (s->points_to != NULL && s->found)
		cJSON_AddStringToObject(o, "points_to", s->points_to);
	else
		cJSON_AddNullToObject(o, "points_to");
	cJSON_AddItemToObject(
	    o, "names", s->names != NULL ? cJSON_Duplicate(s->names, 1) : cJSON_CreateArray());
	if (i == AD_SRV)
		cJSON_AddItemToObject(
		    o, "srv", s->srv != NULL ? cJSON_Duplicate(s->srv, 1) : cJSON_CreateArray());
	return o;
}

/* The schema's common web fields into D, from SRC's report: the winning
 * step, or, when none won, step 2 (the canonical autodiscover host). */
static void
ad_web_fields_json(const struct web_ad_step *src, cJSON *d)
{
	static const char *const copy[] = {
	    "url",
	    "http_status",
	    "final_url",
	    "redirects",
	    "redirect_chain",
	    "tls",
	    "www_authenticate",
	    "timings_ms",
	};

	for (size_t k = 0; k < UTIL_ARRAY_LEN(copy); k++) {
		const cJSON *v = src->report != NULL
		    ? cJSON_GetObjectItemCaseSensitive(src->report, copy[k])
		    : NULL;

		if (v != NULL)
			cJSON_AddItemToObject(d, copy[k], cJSON_Duplicate(v, 1));
		else if (strcmp(copy[k], "url") == 0)
			cJSON_AddStringToObject(d, "url", src->url != NULL ? src->url : "");
		else if (strcmp(copy[k], "redirects") == 0)
			cJSON_AddNumberToObject(d, "redirects", 0);
		else if (strcmp(copy[k], "timings_ms") == 0)
			cJSON_AddObjectToObject(d, "timings_ms");
		else if (strcmp(copy[k], "redirect_chain") == 0 ||
		    strcmp(copy[k], "www_authenticate") == 0)
			cJSON_AddArrayToObject(d, copy[k]);
		else
			cJSON_AddNullToObject(d, copy[k]);
	}
}

/* The autoconfig probe (AC: Thunderbird's, reported beside Outlook's steps) into D. */
static void
ad_autoconfig_json(const struct web_ad_step *ac, cJSON *d)
{
	cJSON *acj = cJSON_AddObjectToObject(d, "autoconfig");
	const cJSON *st =
	    ac->report != NULL ? cJSON_GetObjectItemCaseSensitive(ac->report, "http_status") : NULL;

	cJSON_AddStringToObject(acj, "url", ac->url);
	cJSON_AddBoolToObject(acj, "found", ac->found);
	if (cJSON_IsNumber(st))
		cJSON_AddNumberToObject(acj, "http_status", st->valuedouble);
	else
		cJSON_AddNullToObject(acj, "http_status");
	if (ac->reason != NULL)
		cJSON_AddStringToObject(acj, "error", ac->reason);
	else
		cJSON_AddNullToObject(acj, "error");
	if (ac->settings != NULL)
		cJSON_AddItemToObject(acj, "settings", ad_settings_json(ac->settings));
	else
		cJSON_AddNullToObject(acj, "settings");
}

void
web_ad_details_json(const struct web_ad_summary *sm, cJSON *d)
{
	cJSON *steps = cJSON_CreateArray();
	const struct web_ad_step *win = sm->win_step > 0 ? &sm->steps[sm->win_step - 1] : NULL;

	for (int i = 0; i < AD_STEPS; i++)
		cJSON_AddItemToArray(steps, ad_step_json(&sm->steps[i], i, i + 1 == sm->win_step));
	ad_web_fields_json(win != NULL ? win : &sm->steps[AD_HOST], d);
	cJSON_AddItemToObject(d, "steps", steps);
	if (win != NULL) {
		cJSON_AddStringToObject(d, "method", sm->win_method);
		cJSON_AddStringToObject(
		    d, "points_to", win->points_to != NULL ? win->points_to : "");
	} else {
		cJSON_AddNullToObject(d, "method");
		cJSON_AddNullToObject(d, "points_to");
	}
	if (sm->expected != NULL) {
		cJSON_AddStringToObject(d, "expected", sm->expected);
		if (win != NULL)
			cJSON_AddBoolToObject(d, "matches_expected", sm->matches);
		else
			cJSON_AddNullToObject(d, "matches_expected");
	} else {
		cJSON_AddNullToObject(d, "expected");
		cJSON_AddNullToObject(d, "matches_expected");
	}
	util_json_add_str_or_null(d, "user", sm->user);
	cJSON_AddStringToObject(d, "email", sm->email);
	if (win != NULL && win->settings != NULL)
		cJSON_AddItemToObject(d, "settings", ad_settings_json(win->settings));
	else
		cJSON_AddNullToObject(d, "settings");
	ad_autoconfig_json(&sm->steps[AD_AUTOCONFIG], d);
}

static void
ad_finish(struct ad_task *a)
{
	struct result *res = task_result(a->t);
	const struct plan *plan = a->in->plan;
	const char *expected = plan != NULL ? plan->expect.autodiscover : NULL;
	const struct ad_step *win = NULL;
	struct web_ad_summary sm = {0};
	struct verdict vd = {0};

	for (int i = 0; i < AD_STEPS && win == NULL; i++)
		if (a->steps[i].found)
			win = &a->steps[i];
	sm.domain = a->domain;
	sm.expected = expected;
	sm.matches = expected != NULL && win != NULL && ad_matches(win, expected);
	for (int i = 0; i < AD_STEPS; i++)
		sm.reasons[i] = a->steps[i].reason;
	for (int i = 0; i <= AD_STEPS; i++) {
		const struct ad_step *s = &a->steps[i];

		sm.steps[i] = (struct web_ad_step){s->url, s->found, s->reason, s->report, s->names,
		    s->points_to, s->settings, s->srv};
	}
	sm.user = a->user;
	sm.email = a->email;
	if (win != NULL) {
		sm.win_step = (int)win->id + 1;
		sm.win_method = ad_method_names[win->id];
		sm.win_points_to = win->points_to;
		sm.win_reason = win->reason;
		sm.win_settings = win->settings;
	}
	web_ad_details_json(&sm, res->details);
	web_ad_verdict(&sm, &vd);
	verdict_apply(&vd, res);
	task_done(a->t);
	ad_free(a);
}

static void ad_steps(struct ad_task *a);

/* The user's OAuth2 token arrived (or not: then the POSTs go without
 * credentials and the steps say what the server answered). */
static void
ad_token(void *arg, const struct oauth2_token *tok)
{
	struct ad_task *a = arg;

	a->oauth_wait = NULL;
	if (tok->access_token != NULL)
		a->bearer = xstrdup(tok->access_token);
	ad_steps(a);
}

static void
ad_start(struct task *t, void *aux)
{
	struct ad_task *a = aux;

	a->t = t;
	if (a->oauth_side != NULL) {
		/* Exchange's autodiscover takes the same token as IMAP (Bearer). */
		a->oauth_wait = oauth2_get(oauth2_runner_cache(task_runner(t), a->oauth_side->name,
		                               a->in->plan->state_dir),
		    a->oauth_side->auth, a->user, ad_token, a);
		return;
	}
	ad_steps(a);
}

static void
ad_steps(struct ad_task *a)
{
	struct task *t = a->t;
	struct http_fetch_opts fo;
	struct ad_step *s;
	char *url;

	/* One reference for this function: nothing may finish the task while
	 * the steps are still being started (callbacks run from the loop, but
	 * a DNS answer may come synchronously). */
	a->pending = 1 + AD_STEPS + 1;
	for (int i = 0; i <= AD_STEPS; i++) {
		a->steps[i].a = a;
		a->steps[i].id = (enum ad_step_id)i;
	}
	url = xasprintf("https://%s" AD_PATH, a->domain);
	ad_post(&a->steps[AD_ROOT], url);
	free(url);
	url = xasprintf("https://autodiscover.%s" AD_PATH, a->domain);
	ad_post(&a->steps[AD_HOST], url);
	free(url);

	s = &a->steps[AD_REDIRECT];
	s->url = xasprintf("http://autodiscover.%s" AD_PATH, a->domain);
	ad_fetch_opts(a, &fo, s->url, 0);
	s->fetch = http_fetch(runner_http(task_runner(t)), &fo, ad_redirect_answer, s);

	s = &a->steps[AD_SRV];
	url = xasprintf("_autodiscover._tcp.%s", a->domain);
	{
		struct dns_query *q =
		    dns_query(runner_dns(task_runner(t)), url, DNSMSG_SRV, ad_srv_answer, s);

		if (q != NULL)
			s->q = q;
	}
	free(url);

	s = &a->steps[AD_AUTOCONFIG];
	{
		char *esc = curl_easy_escape(NULL, a->email, 0);

		s->url = xasprintf("https://autoconfig.%s/mail/config-v1.1.xml?emailaddress=%s",
		    a->domain, esc != NULL ? esc : "");
		curl_free(esc);
	}
	ad_fetch_opts(a, &fo, s->url, 0);
	fo.max_redirects = 3;
	s->fetch = http_fetch(runner_http(task_runner(t)), &fo, ad_autoconfig_answer, s);

	if (--a->pending == 0)
		ad_finish(a);
}

/* The side USER logs in to with OAuth2 (the destination's first), or NULL. */
static const struct plan_side *
ad_oauth_side(const struct plan *plan, const char *user)
{
	for (int d = 1; d >= 0; d--) {
		const struct plan_side *side = d ? &plan->destination : &plan->source;

		if (side->auth == NULL)
			continue;
		for (size_t i = 0; i < plan->n_mailboxes; i++) {
			const char *u =
			    d ? plan->mailboxes[i].dest_user : plan->mailboxes[i].source_user;

			if (u != NULL && util_strieq(u, user))
				return side;
		}
	}
	return NULL;
}

/* The password of USER in the plan: the destination's, else the source's. */
static const char *
ad_password(const struct plan *plan, const char *user)
{
	for (size_t i = 0; i < plan->n_mailboxes; i++) {
		const struct plan_mailbox *mb = &plan->mailboxes[i];

		if (mb->dest_user != NULL && mb->dest_password != NULL &&
		    util_strieq(mb->dest_user, user))
			return mb->dest_password;
	}
	for (size_t i = 0; i < plan->n_mailboxes; i++) {
		const struct plan_mailbox *mb = &plan->mailboxes[i];

		if (mb->source_user != NULL && mb->source_password != NULL &&
		    util_strieq(mb->source_user, user))
			return mb->source_password;
	}
	return NULL;
}

static void
ad_schedule(struct runner *r, const struct check_input *in)
{
	struct ad_task *a;
	const struct plan *plan = in->plan;

	if (plan == NULL || in->domain == NULL)
		return;
	a = xcalloc(1, sizeof(*a));
	a->in = in;
	a->domain = xstrdup(in->domain);
	if (in->autodiscover_user != NULL) {
		a->user = xstrdup(in->autodiscover_user);
		a->password = xstrdup(ad_password(plan, in->autodiscover_user));
		a->oauth_side = ad_oauth_side(plan, in->autodiscover_user);
		a->email = xstrdup(in->autodiscover_user);
	} else if (plan->n_mailboxes > 0 && plan->mailboxes[0].dest_user != NULL) {
		a->email = xstrdup(plan->mailboxes[0].dest_user);
	} else {
		a->email = xasprintf("postmaster@%s", in->domain);
	}
	a->request = autodiscover_request(a->email);
	runner_add(r, in->domain, result_new("web.autodiscover", in->domain, RESULT_SIDE_NONE),
	    ad_start, ad_cancel, a, 0);
}

const struct check check_web_autodiscover = {
    .id = "web.autodiscover",
    .group = "web",
    .title = "Outlook autodiscover sequence for the domain, where it points, its settings",
    .commands = CHECK_CMD_AUDIT,
    .schedule = ad_schedule,
};
