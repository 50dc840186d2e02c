/*
 * imap_probe.c - imap.tls and imap.login.
 *
 * imap.tls, per side and endpoint: the plan's IMAP URL gives one port; the
 * other mode's port is derived (993 <-> 143, or 10993 <-> 10143; see
 * mailcheck_endpoints) and probed too, so the report says which of implicit
 * TLS and STARTTLS work and with what certificate. Verified and valid for
 * 14 days or more: pass; expiring sooner: warn; not verifying: fail (warn
 * with --insecure). The derived port not answering is a skip: the plan does
 * not use it.
 *
 * imap.login, per mailbox and side: connect as the URL says, STARTTLS when
 * imap:// (required unless --allow-plaintext), then LOGIN with the mailbox
 * password or AUTHENTICATE PLAIN as the side's admin (master user) on behalf
 * of the user; capabilities after login; LOGOUT. When a source login fails
 * and the source has a POP3 URL on the same host, the same credentials are
 * tried over POP3 in the same task (one connection at a time, so the
 * per-host limit holds): POP3 working where IMAP does not gets advice.
 *
 * Every task names the server host, so the runner's --per-host limit caps
 * the connections to one server.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "src/imap.h"
#include "server_probe.h"
#include "src/plan.h"
#include "src/pop3.h"
#include "src/util.h"

struct iprobe {
	struct task *t;
	struct runner *r;
	const struct plan_side *side;
	const char *side_name;
	struct mailcheck_endpoint ep;
	/* login only */
	const char *user;
	const char *password; /* borrowed from the plan (alive for the run) */
	const char *admin;
	struct mailcheck_login lg; /* all of the login (OAuth2 too) */
	struct imap_client *c;
	struct pop3_client *pc; /* POP3 fallback for the advice */
	enum net_result imap_res;
	int login;
	/* The result as filled, restored if the deadline hits during LOGOUT or
	 * the POP3 attempt (the runner overwrites the summary on a timeout). */
	int filled;
	enum result_status snap_status;
	char *snap_summary, *snap_advice;
	cJSON *snap_details;
};

static void
iprobe_free(struct iprobe *p)
{
	imap_client_free(p->c);
	pop3_client_free(p->pc);
	free(p->snap_summary);
	free(p->snap_advice);
	cJSON_Delete(p->snap_details);
	free(p);
}

static void
iprobe_snapshot(struct iprobe *p)
{
	struct result *out = task_result(p->t);

	p->filled = 1;
	p->snap_status = out->status;
	free(p->snap_summary);
	free(p->snap_advice);
	cJSON_Delete(p->snap_details);
	p->snap_summary = xstrdup(out->summary);
	p->snap_advice = xstrdup(out->advice);
	p->snap_details = cJSON_Duplicate(out->details, 1);
}

static void
iprobe_restore(struct iprobe *p)
{
	struct result *out = task_result(p->t);

	result_set(out, p->snap_status, "%s", p->snap_summary);
	free(out->advice);
	out->advice = p->snap_advice;
	p->snap_advice = NULL;
	cJSON_Delete(out->details);
	out->details = p->snap_details;
	p->snap_details = NULL;
}

/* ---- imap.tls -------------------------------------------------------------- */

static void
iprobe_tls_fill(struct iprobe *p, enum net_result res, const char *error)
{
	struct mailcheck_tls_probe probe = {
	    .ep = &p->ep,
	    .proto_label = "IMAP",
	    .starttls = "STARTTLS",
	    .side_name = p->side_name,
	    .result = res,
	    .error = error,
	    .tls = imap_client_tls(p->c),
	};

	probe.caps = imap_client_caps(p->c, &probe.n_caps);
	mailcheck_tls_fill(task_result(p->t), &probe);
}

static void
iprobe_tls_closed(struct imap_client *c, void *arg)
{
	struct iprobe *p = arg;
	struct task *t = p->t;

	(void)c;
	iprobe_free(p);
	task_done(t);
}

static void
iprobe_tls_ready(struct imap_client *c, void *arg)
{
	struct iprobe *p = arg;
	enum net_result res = imap_client_result(c);

	iprobe_tls_fill(p, res, imap_client_error(c));
	iprobe_snapshot(p);
	if (res == NET_RESULT_OK) {
		imap_client_logout(c, iprobe_tls_closed, p);
		return;
	}
	iprobe_tls_closed(c, p);
}

/* ---- imap.login --------------------------------------------------------------- */

static void
iprobe_login_fill(struct iprobe *p)
{
	struct result *out = task_result(p->t);
	const struct tls_facts *tls = imap_client_tls(p->c);
	enum net_result res = imap_client_result(p->c);
	size_t n;
	const char *const *caps = imap_client_caps(p->c, &n);
	const struct plan_url *u = p->side->imap;

	struct mailcheck_login_summary s = {
	    .result = res,
	    .error = imap_client_error(p->c),
	    .user = p->user,
	    .ep = &p->ep,
	    .caps = caps,
	    .n_caps = n,
	    .tls = tls,
	    .auth = mailcheck_auth_str(&p->lg),
	    .mechanism = imap_client_mech(p->c) != SASL_NONE
	        ? sasl_mech_name(imap_client_mech(p->c))
	        : "LOGIN",
	    .messages = -1,
	};

	p->imap_res = res;
	mailcheck_login_details_json(&s, out->details);
	if (res == NET_RESULT_OK) {
		result_set(out, RESULT_PASS, "login ok as %s%s%s (%s:%d, %s)", p->user,
		    p->admin != NULL ? " via admin " : "", p->admin != NULL ? p->admin : "",
		    p->ep.host, p->ep.port, tls != NULL ? tls->version : "no TLS");
		return;
	}
	result_set(out, mailcheck_login_status(res), "%s", imap_client_error(p->c));
	if (p->lg.oauth != NULL && res == NET_RESULT_AUTH_FAILED &&
	    strstr(imap_client_error(p->c), "OAuth2 token:") == NULL)
		mailcheck_oauth_advice(out, "imap", p->user, p->side_name);
	else
		mailcheck_login_advice(out, res, "imap", p->user, p->side_name, u->host, u->port);
}

static void
iprobe_login_finish(struct iprobe *p)
{
	struct task *t = p->t;

	iprobe_free(p);
	task_done(t);
}

static void
iprobe_pop3_quit(struct pop3_client *pc, void *arg)
{
	(void)pc;
	iprobe_login_finish(arg);
}

static void
iprobe_pop3_ready(struct pop3_client *pc, void *arg)
{
	struct iprobe *p = arg;
	struct result *out = task_result(p->t);

	if (pop3_client_result(pc) == NET_RESULT_OK) {
		cJSON_AddBoolToObject(out->details, "pop3_works", 1);
		result_advise(out,
		    "POP3 works for %s but IMAP does not: mail may live only on the "
		    "users' computers (POP3 clients download and often delete it from the "
		    "server). Check the users' mail clients, and migrate their local mail "
		    "(PST/MBOX export) or ask the provider to enable IMAP first.",
		    p->user);
		iprobe_snapshot(p);
		pop3_client_quit(pc, iprobe_pop3_quit, p);
		return;
	}
	cJSON_AddBoolToObject(out->details, "pop3_works", 0);
	iprobe_login_finish(p);
}

/* IMAP failed on the source: does POP3 work with the same credentials? */
static int
iprobe_try_pop3(struct iprobe *p)
{
	const struct plan_url *pu = p->side->pop3;
	const struct runner_opts *ro = runner_opts(p->r);
	struct pop3_client_opts o;

	if (pu == NULL || !util_strieq(pu->host, p->ep.host) || p->imap_res == NET_RESULT_TIMEOUT ||
	    p->imap_res == NET_RESULT_OK || strcmp(p->side_name, "source") != 0)
		return 0;
	memset(&o, 0, sizeof(o));
	o.sess.host = pu->host;
	o.sess.port = pu->port;
	o.sess.tls = net_tls_mode_for(pu->tls == PLAN_TLS_IMPLICIT, ro->allow_plaintext);
	o.sess.ca_file = ro->ca_file;
	o.sess.insecure = ro->insecure;
	o.sess.allow_old_tls = ro->allow_old_tls;
	o.sess.dns = runner_dns(p->r);
	o.sess.user = p->user;
	o.sess.password = p->password;
	o.sess.admin = p->admin;
	p->pc = pop3_client_open(runner_base(p->r), &o, iprobe_pop3_ready, p);
	return 1;
}

static void
iprobe_login_closed(struct imap_client *c, void *arg)
{
	(void)c;
	iprobe_login_finish(arg);
}

static void
iprobe_login_ready(struct imap_client *c, void *arg)
{
	struct iprobe *p = arg;

	iprobe_login_fill(p);
	iprobe_snapshot(p);
	mailcheck_outcome(p->t, imap_client_result(c), 1, imap_client_error(c));
	if (imap_client_result(c) == NET_RESULT_OK) {
		imap_client_logout(c, iprobe_login_closed, p);
		return;
	}
	/* Close the IMAP connection before any other one is opened. */
	imap_client_free(p->c);
	p->c = NULL;
	if (iprobe_try_pop3(p))
		return;
	iprobe_login_finish(p);
}

/* ---- tasks ------------------------------------------------------------------------- */

static void
iprobe_start(struct task *t, void *aux)
{
	struct iprobe *p = aux;
	const struct runner_opts *ro = runner_opts(p->r);
	struct imap_client_opts o;

	memset(&o, 0, sizeof(o));
	o.sess.host = p->ep.host;
	o.sess.port = p->ep.port;
	o.sess.tls = net_tls_mode_for(p->ep.implicit, p->login && ro->allow_plaintext);
	o.sess.ca_file = ro->ca_file;
	o.sess.insecure = ro->insecure;
	o.sess.allow_old_tls = ro->allow_old_tls;
	o.sess.dns = runner_dns(p->r);
	if (p->login) {
		o.sess.user = p->user;
		o.sess.password = p->password;
		o.sess.admin = p->admin;
		mailcheck_oauth_opts(
		    p->r, p->side_name, &p->lg, &o.sess.oauth_cache, &o.sess.oauth_cfg);
	}
	p->t = t;
	p->c = imap_client_open(
	    runner_base(p->r), &o, p->login ? iprobe_login_ready : iprobe_tls_ready, p);
}

static void
iprobe_cancel(struct task *t, void *aux)
{
	struct iprobe *p = aux;
	struct result *out = task_result(t);

	if (p->filled) {
		/* Only LOGOUT or the POP3 attempt was slow: the result stands. */
		iprobe_restore(p);
		if (p->pc != NULL && !cJSON_HasObjectItem(out->details, "pop3_works"))
			cJSON_AddBoolToObject(out->details, "pop3_works", 0);
	} else if (p->c != NULL) {
		int past_greeting = imap_client_state(p->c) > IMAP_S_GREETING;

		imap_client_timeout(p->c);
		cJSON_Delete(out->details);
		out->details = cJSON_CreateObject();
		if (p->login)
			mailcheck_outcome(
			    t, NET_RESULT_TIMEOUT, past_greeting, imap_client_error(p->c));
		if (p->login)
			iprobe_login_fill(p);
		else
			iprobe_tls_fill(p, NET_RESULT_TIMEOUT, imap_client_error(p->c));
	}
	iprobe_free(p);
}

/* Never started: its server is dead (runner fail fast) or the run stopped. */
static void
iprobe_not_tried(struct task *t, void *aux)
{
	struct iprobe *p = aux;

	if (p->login)
		mailcheck_login_not_tried(
		    task_result(t), task_not_tried_cause(t), &p->ep, p->user, p->admin);
	iprobe_free(p);
}

static void *
iprobe_make(struct runner *r, const struct plan_side *side, const struct mailcheck_endpoint *ep,
    const struct mailcheck_login *login)
{
	struct iprobe *p = xcalloc(1, sizeof(*p));

	p->r = r;
	p->side = side;
	p->side_name = side->name;
	p->ep = *ep;
	if (login != NULL) {
		p->login = 1;
		p->user = login->user;
		p->password = login->password;
		p->admin = login->admin;
		p->lg = *login;
	}
	return p;
}

static const struct mailcheck_probe iprobe_probe = {
    .proto = "imap",
    .make = iprobe_make,
    .start = iprobe_start,
    .cancel = iprobe_cancel,
    .not_tried = iprobe_not_tried,
};

static void
imap_tls_schedule(struct runner *r, const struct check_input *in)
{
	mailcheck_schedule_tls(r, in, &iprobe_probe);
}

static void
imap_login_schedule(struct runner *r, const struct check_input *in)
{
	mailcheck_schedule_logins(r, in, &iprobe_probe);
}

const struct check check_imap_tls = {
    .id = "imap.tls",
    .group = "imap",
    .title = "IMAP implicit TLS and STARTTLS ports: handshake and certificate",
    .commands = CHECK_CMD_AUDIT,
    .schedule = imap_tls_schedule,
    .scope = CHECK_SCOPE_ONCE,
};

const struct check check_imap_login = {
    .id = "imap.login",
    .group = "imap",
    .title = "IMAP login for every mailbox on source and destination",
    .commands = CHECK_CMD_AUDIT,
    .schedule = imap_login_schedule,
    .scope = CHECK_SCOPE_MAILBOX,
};
