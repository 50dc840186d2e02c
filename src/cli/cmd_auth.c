/*
 * cmd_auth.c - `cutover auth login PLAN --side SIDE [--mailbox USER]`: the
 * OAuth2 device sign-in (RFC 8628) for a side whose auth flow is
 * device_code (issue 13).
 *
 *   1. POST client_id and scope to the device authorization endpoint
 *      (auth.device_url, or derived from the Entra ID / Google token_url);
 *   2. print the verification URL and the user code;
 *   3. poll the token endpoint (grant_type device_code) on the event loop,
 *      every "interval" seconds (default 5, RFC 8628 3.5): authorization_pending
 *      polls again, slow_down adds 5 seconds, expired_token / access_denied
 *      stop with advice; the device code's expires_in bounds it all;
 *   4. keep the refresh token in <state_dir>/oauth2-<side>[-<user>].token
 *      (mode 0600, written atomically); later runs redeem it without asking.
 *
 * The device code, the tokens and a client secret never reach the console.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "cli.h"
#include "src/http.h"
#include "src/oauth2.h"
#include "src/plan.h"
#include "src/util.h"

enum { OPT_SIDE = CLI_OPT_COMMAND, OPT_MAILBOX };

#define AUTH_DEFAULT_INTERVAL 5   /* seconds, RFC 8628 3.2 */
#define AUTH_DEFAULT_LIFETIME 900 /* a device code without expires_in */
#define AUTH_MAX_INTERVAL 300

static const struct option auth_options[] = {
    {"side", required_argument, NULL, OPT_SIDE},
    {"mailbox", required_argument, NULL, OPT_MAILBOX},
    {NULL, 0, NULL, 0},
};

static struct {
	const char *side;
	const char *mailbox;
} auth_opts;

static void
auth_help(FILE *out)
{
	fputs("Usage: cutover auth login PLAN --side source|destination [--mailbox USER]\n"
	      "\n"
	      "Sign in once for a side whose plan says \"auth\": {\"type\": \"oauth2\",\n"
	      "\"flow\": \"device_code\", ...} (one delegated admin, or a small office\n"
	      "without an app secret). cutover prints a web address and a code: open the\n"
	      "address on any device, enter the code and sign in with the account the\n"
	      "migration uses. Meanwhile cutover waits (asking the token endpoint every\n"
	      "few seconds, as it is told) and then keeps the refresh token in the plan's\n"
	      "state_dir as oauth2-SIDE.token (or oauth2-SIDE-USER.token with --mailbox),\n"
	      "readable by you only (0600). Later audits and syncs redeem it without\n"
	      "asking, and save the new one the provider hands out.\n"
	      "\n"
	      "Microsoft 365: the app registration needs 'Allow public client flows'\n"
	      "(Authentication) and the delegated permission IMAP.AccessAsUser.All (or\n"
	      "POP.AccessAsUser.All); offline_access is added to the scope for you.\n"
	      "Other flows (client_credentials, service_account, access_token) need no\n"
	      "sign-in.\n"
	      "\n"
	      "Options:\n"
	      "  --side SIDE          source or destination: whose auth object to use\n"
	      "                       (required)\n"
	      "  --mailbox USER       sign in for this one mailbox user of the side (a\n"
	      "                       token per mailbox) instead of once for the side\n"
	      "\n"
	      "Exit status: 0 signed in, 2 the sign-in was declined, expired or failed,\n"
	      "65 the plan has no device_code auth on that side.\n"
	      "\n"
	      "Examples:\n"
	      "  cutover auth login plan.json --side destination\n"
	      "  cutover auth login plan.json --side source --mailbox alice@example.com\n"
	      "\n",
	    out);
}

static int
auth_option(struct cli *c, int opt, const char *arg)
{
	switch (opt) {
	case OPT_SIDE:
		if (strcmp(arg, "source") != 0 && strcmp(arg, "destination") != 0)
			return cli_value_error(c, "--side", arg, "expected source or destination");
		auth_opts.side = arg;
		return CLI_CONTINUE;
	case OPT_MAILBOX:
		if (*arg == '\0' || strpbrk(arg, "/\r\n\t ") != NULL || strlen(arg) > 254)
			return cli_value_error(c, "--mailbox", arg,
			    "expected a mailbox user of the "
			    "plan (e.g. alice@example.com)");
		auth_opts.mailbox = arg;
		return CLI_CONTINUE;
	}
	return cli_usage_error(c, "unexpected option");
}

/* The sign-in as it goes, on the loop. */
struct auth_login {
	struct event_base *base;
	struct http_client *http;
	const struct oauth2_config *cfg;
	const char *ca_file;
	int insecure, timeout_ms;
	char *device_url, *scope, *path;
	char *device_code; /* secret */
	int64_t interval;
	int64_t deadline_ms; /* when the device code expires */
	struct http_request *req;
	struct event *timer;
	int rc; /* the exit code once done */
};

static void auth_poll(evutil_socket_t fd, short what, void *arg);

static void
auth_finish(struct auth_login *l, int rc)
{
	l->rc = rc;
	event_base_loopbreak(l->base);
}

/* POST BODY (a secret) to URL; CB gets the answer. */
static void
auth_post(struct auth_login *l, const char *url, char *body, http_cb cb)
{
	struct http_request_opts ro;

	memset(&ro, 0, sizeof(ro));
	ro.url = url;
	ro.method = "POST";
	ro.body = body;
	ro.content_type = "application/x-www-form-urlencoded";
	ro.max_body = 256 * 1024;
	ro.timeout_ms = l->timeout_ms;
	ro.ca_file = l->ca_file;
	ro.insecure = l->insecure;
	l->req = http_request(l->http, &ro, cb, l);
	util_free_secret(body);
}

static void
auth_wait(struct auth_login *l)
{
	struct timeval tv = {(time_t)l->interval, 0};

	evtimer_add(l->timer, &tv);
}

/* Say why the endpoint refused, with the advice. */
static void
auth_refused(struct auth_login *l, const char *what, const struct oauth2_response *r)
{
	int permanent;
	const char *advice = oauth2_error_advice(r->error, r->aadsts, &permanent);
	char code[64];

	if (r->aadsts != 0)
		snprintf(code, sizeof(code), "AADSTS%ld", r->aadsts);
	else
		snprintf(code, sizeof(code), "%.40s", r->error != NULL ? r->error : "error");
	for (char *p = code; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	fprintf(stderr, "cutover auth: %s refused the sign-in (%s): %s\n", what, code, advice);
	auth_finish(l, CLI_EXIT_FAIL);
}

static void
auth_token_answer(void *arg, const struct http_response *resp)
{
	struct auth_login *l = arg;
	struct oauth2_response r;
	char *err = NULL;

	l->req = NULL;
	if (resp->curl_code != 0) {
		/* a passing network failure: keep polling while the code lives */
		fprintf(stderr, "cutover auth: the token endpoint %s: %s (trying again)\n",
		    l->cfg->token_url, resp->error != NULL ? resp->error : "transfer failed");
		auth_wait(l);
		return;
	}
	if (oauth2_response_parse(resp->body, resp->body_len, &r) != 0) {
		fprintf(stderr,
		    "cutover auth: the token endpoint %s answered HTTP %ld without an "
		    "OAuth2 answer: check auth.token_url\n",
		    l->cfg->token_url, resp->status);
		auth_finish(l, CLI_EXIT_FAIL);
		return;
	}
	if (r.error != NULL &&
	    (strcmp(r.error, "authorization_pending") == 0 || strcmp(r.error, "slow_down") == 0)) {
		if (strcmp(r.error, "slow_down") == 0 && l->interval < AUTH_MAX_INTERVAL)
			l->interval += 5; /* RFC 8628 3.5 */
		oauth2_response_clear(&r);
		auth_wait(l);
		return;
	}
	if (r.error != NULL || r.access_token == NULL) {
		auth_refused(l, "the token endpoint", &r);
		oauth2_response_clear(&r);
		return;
	}
	if (r.refresh_token == NULL) {
		fprintf(stderr,
		    "cutover auth: signed in, but the token endpoint gave no refresh "
		    "token, so later runs could not sign in on their own. For Microsoft 365 the "
		    "scope "
		    "needs offline_access; for Google the app must be allowed offline access.\n");
		oauth2_response_clear(&r);
		auth_finish(l, CLI_EXIT_FAIL);
		return;
	}
	if (oauth2_token_file_write(l->path, r.refresh_token, &err) != 0) {
		fprintf(stderr, "cutover auth: %s\n", err);
		free(err);
		oauth2_response_clear(&r);
		auth_finish(l, CLI_EXIT_IOERR);
		return;
	}
	oauth2_response_clear(&r);
	printf("Signed in. The refresh token is in %s (readable by you only);\n"
	       "audits and syncs of this plan use it from now on.\n",
	    l->path);
	auth_finish(l, CLI_EXIT_OK);
}

static void
auth_poll(evutil_socket_t fd, short what, void *arg)
{
	struct auth_login *l = arg;
	const char *kv[] = {"grant_type", "urn:ietf:params:oauth:grant-type:device_code",
	    "device_code", l->device_code, "client_id", l->cfg->client_id, "client_secret",
	    l->cfg->client_secret, NULL};

	(void)fd;
	(void)what;
	if (util_now_ms() >= l->deadline_ms) {
		int permanent;

		fprintf(stderr, "cutover auth: %s\n",
		    oauth2_error_advice("expired_token", 0, &permanent));
		auth_finish(l, CLI_EXIT_FAIL);
		return;
	}
	auth_post(l, l->cfg->token_url, oauth2_form(kv), auth_token_answer);
}

static void
auth_device_answer(void *arg, const struct http_response *resp)
{
	struct auth_login *l = arg;
	struct oauth2_response r;
	int64_t life;

	l->req = NULL;
	if (resp->curl_code != 0) {
		fprintf(stderr,
		    "cutover auth: cannot reach the device authorization endpoint %s: "
		    "%s\n",
		    l->device_url, resp->error != NULL ? resp->error : "transfer failed");
		auth_finish(l, CLI_EXIT_FAIL);
		return;
	}
	if (oauth2_response_parse(resp->body, resp->body_len, &r) != 0) {
		fprintf(stderr,
		    "cutover auth: the device authorization endpoint %s answered HTTP "
		    "%ld without an OAuth2 answer: check auth.device_url\n",
		    l->device_url, resp->status);
		auth_finish(l, CLI_EXIT_FAIL);
		return;
	}
	if (r.error != NULL || r.device_code == NULL || r.user_code == NULL ||
	    r.verification_uri == NULL) {
		if (r.error == NULL) {
			fprintf(stderr,
			    "cutover auth: the device authorization endpoint %s answered "
			    "without %s\n",
			    l->device_url,
			    r.device_code == NULL     ? "a device_code"
			        : r.user_code == NULL ? "a user_code"
			                              : "a verification_uri");
			auth_finish(l, CLI_EXIT_FAIL);
		} else {
			auth_refused(l, "the device authorization endpoint", &r);
		}
		oauth2_response_clear(&r);
		return;
	}
	l->device_code = r.device_code;
	r.device_code = NULL;
	l->interval =
	    r.interval > 0 && r.interval <= AUTH_MAX_INTERVAL ? r.interval : AUTH_DEFAULT_INTERVAL;
	life = r.expires_in > 0 ? r.expires_in : AUTH_DEFAULT_LIFETIME;
	l->deadline_ms = util_now_ms() + life * 1000;
	/* user_code and the URL are for the user's eyes: printable only */
	for (char *p = r.user_code; *p != '\0'; p++)
		if (*p < 0x21 || *p > 0x7e)
			*p = '?';
	for (char *p = r.verification_uri; *p != '\0'; p++)
		if (*p < 0x21 || *p > 0x7e)
			*p = '?';
	printf("To sign in, open %s\nand enter the code %s (valid %lld min).\n"
	       "Waiting for the sign-in ...\n",
	    r.verification_uri, r.user_code, (long long)(life + 59) / 60);
	fflush(stdout);
	oauth2_response_clear(&r);
	auth_wait(l);
}

/* The user given to --mailbox is one of SIDE's mailboxes. */
static int
auth_has_mailbox(const struct plan *plan, int dest, const char *user)
{
	for (size_t i = 0; i < plan->n_mailboxes; i++) {
		const char *u =
		    dest ? plan->mailboxes[i].dest_user : plan->mailboxes[i].source_user;

		if (u != NULL && util_strieq(u, user))
			return 1;
	}
	return 0;
}

static int
auth_login_run(struct cli *c, struct plan *plan)
{
	int dest = strcmp(auth_opts.side, "destination") == 0;
	const struct plan_side *side = dest ? &plan->destination : &plan->source;
	const struct oauth2_config *cfg = side->auth;
	struct auth_login l;
	char *err = NULL;
	const char *kv[5];

	if (cfg == NULL) {
		fprintf(stderr,
		    "cutover auth: %s: the %s has no \"auth\" object: add one with "
		    "\"type\": \"oauth2\", \"flow\": \"device_code\" (README.md, \"Microsoft 365 "
		    "destination\")\n",
		    plan->path, side->name);
		return CLI_EXIT_DATAERR;
	}
	if (cfg->flow != OAUTH2_FLOW_DEVICE_CODE) {
		fprintf(stderr,
		    "cutover auth: %s: %s.auth.flow is %s, which needs no sign-in; "
		    "'auth login' is for the device_code flow\n",
		    plan->path, side->name, oauth2_flow_name(cfg->flow));
		return CLI_EXIT_DATAERR;
	}
	if (cfg->client_id == NULL || cfg->token_url == NULL) {
		fprintf(stderr, "cutover auth: %s: %s.auth.%s is not set\n", plan->path, side->name,
		    cfg->client_id == NULL ? "client_id" : "token_url");
		return CLI_EXIT_DATAERR;
	}
	if (auth_opts.mailbox != NULL && !auth_has_mailbox(plan, dest, auth_opts.mailbox)) {
		fprintf(stderr,
		    "cutover auth: --mailbox %s: no mailbox of the plan has this %s "
		    "user\n",
		    auth_opts.mailbox, side->name);
		return CLI_EXIT_DATAERR;
	}
	memset(&l, 0, sizeof(l));
	l.cfg = cfg;
	l.device_url = oauth2_device_url(cfg);
	if (l.device_url == NULL) {
		fprintf(stderr,
		    "cutover auth: %s: set %s.auth.device_url (the device authorization "
		    "endpoint): it cannot be derived from %s\n",
		    plan->path, side->name, cfg->token_url);
		return CLI_EXIT_DATAERR;
	}
	if (mkdir(plan->state_dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "cutover auth: cannot create the state folder %s: %s\n",
		    plan->state_dir, strerror(errno));
		free(l.device_url);
		return CLI_EXIT_IOERR;
	}
	l.path = oauth2_token_file(plan->state_dir, side->name, auth_opts.mailbox);
	l.scope = oauth2_device_scope(cfg);
	l.ca_file = c->ca_file != NULL ? c->ca_file : plan->ca_file;
	l.insecure = c->insecure;
	l.timeout_ms = (int)(c->timeout_s * 1000);
	l.rc = CLI_EXIT_SOFTWARE;
	l.base = event_base_new();
	l.http = l.base != NULL ? http_client_new(l.base, &err) : NULL;
	if (l.http == NULL) {
		fprintf(stderr, "cutover auth: %s\n",
		    err != NULL ? err : "cannot start the event loop");
		free(err);
		goto out;
	}
	l.timer = evtimer_new(l.base, auth_poll, &l);
	kv[0] = "client_id";
	kv[1] = cfg->client_id;
	kv[2] = "scope";
	kv[3] = *l.scope != '\0' ? l.scope : NULL;
	kv[4] = NULL;
	auth_post(&l, l.device_url, oauth2_form(kv), auth_device_answer);
	if (event_base_dispatch(l.base) < 0)
		l.rc = CLI_EXIT_SOFTWARE;
out:
	http_request_cancel(l.req);
	if (l.timer != NULL)
		event_free(l.timer);
	http_client_free(l.http);
	if (l.base != NULL)
		event_base_free(l.base);
	util_free_secret(l.device_code);
	free(l.device_url);
	free(l.scope);
	free(l.path);
	return l.rc;
}

static int
auth_run(struct cli *c)
{
	struct plan *plan = NULL;
	char *err = NULL;
	int rc;

	if (c->n_args < 1 || strcmp(c->args[0], "login") != 0)
		return cli_usage_error(c,
		    c->n_args == 0 ? "what? e.g. 'cutover auth login plan.json "
		                     "--side destination'"
		                   : "unknown subcommand '%s' (only 'login')",
		    c->args[0]);
	if (c->n_args != 2)
		return cli_usage_error(c,
		    c->n_args == 1 ? "which plan? e.g. 'cutover auth login "
		                     "plan.json --side destination'"
		                   : "one plan at a time (got %d arguments)",
		    c->n_args - 1);
	if (auth_opts.side == NULL)
		return cli_usage_error(c, "which side? --side source or --side destination");
	if (plan_open(c->args[1], &plan, &err) != 0) {
		fprintf(stderr, "cutover auth: %s\n", err);
		free(err);
		return CLI_EXIT_DATAERR;
	}
	if (plan->warnings != NULL && !c->quiet)
		cli_warnings(c, plan->warnings);
	/* a client secret, when the app has one, is a reference until resolved */
	{
		const struct plan_side *s =
		    strcmp(auth_opts.side, "destination") == 0 ? &plan->destination : &plan->source;

		if (s->auth != NULL && s->auth->flow == OAUTH2_FLOW_DEVICE_CODE &&
		    s->auth->client_secret != NULL && plan_resolve_secrets(plan, &err) != 0) {
			fprintf(stderr, "cutover auth: %s\n", err);
			free(err);
			plan_free(plan);
			return CLI_EXIT_DATAERR;
		}
	}
	rc = auth_login_run(c, plan);
	plan_free(plan);
	return rc;
}

const struct cli_command cli_cmd_auth = {
    .name = "auth",
    .synopsis = "login PLAN",
    .summary = "OAuth2 device sign-in for a side (keeps the refresh token)",
    .help = auth_help,
    .options = auth_options,
    .option = auth_option,
    .run = auth_run,
};
