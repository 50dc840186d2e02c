/*
 * pop3_probe.c - pop3.tls and pop3.login.
 *
 * pop3.tls, per side and endpoint: the plan's POP3 URL and the other mode's
 * port (995 <-> 110, or 10995 <-> 10110; see mailcheck_endpoints), as for
 * imap.tls: pass when verified and valid 14 days or more, warn when it
 * expires sooner, fail when it does not verify, skip when the derived port
 * does not answer.
 *
 * pop3.login, per mailbox and side: connect as the URL says, STLS when
 * pop3:// (required unless --allow-plaintext), AUTH PLAIN (as the side's
 * admin on behalf of the user, or when offered) or USER/PASS, STAT, QUIT.
 * Tasks name the server host for the runner's --per-host limit.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "server_probe.h"
#include "src/plan.h"
#include "src/pop3.h"
#include "src/util.h"

struct pprobe {
	struct task *t;
	struct runner *r;
	const struct plan_side *side;
	struct mailcheck_endpoint ep;
	const char *user, *password, *admin;
	struct mailcheck_login lg; /* all of the login (OAuth2 too) */
	int login;
	struct pop3_client *c;
	int filled;
	enum result_status snap_status;
	char *snap_summary, *snap_advice;
	cJSON *snap_details;
};

static void
pprobe_free(struct pprobe *p)
{
	pop3_client_free(p->c);
	free(p->snap_summary);
	free(p->snap_advice);
	cJSON_Delete(p->snap_details);
	free(p);
}

static void
pprobe_snapshot(struct pprobe *p)
{
	struct result *out = task_result(p->t);

	p->filled = 1;
	p->snap_status = out->status;
	p->snap_summary = xstrdup(out->summary);
	p->snap_advice = xstrdup(out->advice);
	p->snap_details = cJSON_Duplicate(out->details, 1);
}

static void
pprobe_tls_fill(struct pprobe *p, enum net_result res, const char *error)
{
	struct mailcheck_tls_probe probe = {
	    .ep = &p->ep,
	    .proto_label = "POP3",
	    .starttls = "STLS",
	    .side_name = p->side->name,
	    .result = res,
	    .error = error,
	    .tls = pop3_client_tls(p->c),
	};

	probe.caps = pop3_client_caps(p->c, &probe.n_caps);
	mailcheck_tls_fill(task_result(p->t), &probe);
}

static void
pprobe_login_fill(struct pprobe *p)
{
	struct result *out = task_result(p->t);
	const struct tls_facts *tls = pop3_client_tls(p->c);
	enum net_result res = pop3_client_result(p->c);
	size_t n;
	const char *const *caps = pop3_client_caps(p->c, &n);

	long long m = res == NET_RESULT_OK ? pop3_client_messages(p->c) : -1;
	struct mailcheck_login_summary s = {
	    .result = res,
	    .error = pop3_client_error(p->c),
	    .user = p->user,
	    .ep = &p->ep,
	    .caps = caps,
	    .n_caps = n,
	    .tls = tls,
	    .auth = mailcheck_auth_str(&p->lg),
	    .mechanism = pop3_client_mech(p->c) != SASL_NONE
	        ? sasl_mech_name(pop3_client_mech(p->c))
	        : "USER",
	    .messages = m,
	    .octets = m >= 0 ? pop3_client_octets(p->c) : -1,
	};

	mailcheck_login_details_json(&s, out->details);
	if (res == NET_RESULT_OK) {
		result_set(out, RESULT_PASS,
		    "login ok as %s%s%s (%s:%d, %s), %lld messages in the "
		    "POP3 inbox",
		    p->user, p->admin != NULL ? " via admin " : "",
		    p->admin != NULL ? p->admin : "", p->ep.host, p->ep.port,
		    tls != NULL ? tls->version : "no TLS", m);
		return;
	}
	result_set(out, mailcheck_login_status(res), "%s", pop3_client_error(p->c));
	if (p->lg.oauth != NULL && res == NET_RESULT_AUTH_FAILED &&
	    strstr(pop3_client_error(p->c), "OAuth2 token:") == NULL)
		mailcheck_oauth_advice(out, "pop3", p->user, p->side->name);
	else
		mailcheck_login_advice(
		    out, res, "pop3", p->user, p->side->name, p->ep.host, p->ep.port);
}

static void
pprobe_closed(struct pop3_client *c, void *arg)
{
	struct pprobe *p = arg;
	struct task *t = p->t;

	(void)c;
	pprobe_free(p);
	task_done(t);
}

static void
pprobe_ready(struct pop3_client *c, void *arg)
{
	struct pprobe *p = arg;
	enum net_result res = pop3_client_result(c);

	if (p->login) {
		pprobe_login_fill(p);
		mailcheck_outcome(p->t, res, 1, pop3_client_error(c));
	} else {
		pprobe_tls_fill(p, res, pop3_client_error(c));
	}
	pprobe_snapshot(p);
	if (res == NET_RESULT_OK) {
		pop3_client_quit(c, pprobe_closed, p);
		return;
	}
	pprobe_closed(c, p);
}

static void
pprobe_start(struct task *t, void *aux)
{
	struct pprobe *p = aux;
	const struct runner_opts *ro = runner_opts(p->r);
	struct pop3_client_opts o;

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
		    p->r, p->side->name, &p->lg, &o.sess.oauth_cache, &o.sess.oauth_cfg);
	}
	p->t = t;
	p->c = pop3_client_open(runner_base(p->r), &o, pprobe_ready, p);
}

static void
pprobe_cancel(struct task *t, void *aux)
{
	struct pprobe *p = aux;
	struct result *out = task_result(t);

	if (p->filled) {
		result_set(out, p->snap_status, "%s", p->snap_summary);
		free(out->advice);
		out->advice = p->snap_advice;
		p->snap_advice = NULL;
		cJSON_Delete(out->details);
		out->details = p->snap_details;
		p->snap_details = NULL;
	} else {
		int past_greeting = pop3_client_state(p->c) > POP3_S_GREETING;

		pop3_client_timeout(p->c);
		cJSON_Delete(out->details);
		out->details = cJSON_CreateObject();
		if (p->login)
			mailcheck_outcome(
			    t, NET_RESULT_TIMEOUT, past_greeting, pop3_client_error(p->c));
		if (p->login)
			pprobe_login_fill(p);
		else
			pprobe_tls_fill(p, NET_RESULT_TIMEOUT, pop3_client_error(p->c));
	}
	pprobe_free(p);
}

/* Never started: its server is dead (runner fail fast) or the run stopped. */
static void
pprobe_not_tried(struct task *t, void *aux)
{
	struct pprobe *p = aux;

	if (p->login)
		mailcheck_login_not_tried(
		    task_result(t), task_not_tried_cause(t), &p->ep, p->user, p->admin);
	pprobe_free(p);
}

static void *
pprobe_make(struct runner *r, const struct plan_side *side, const struct mailcheck_endpoint *ep,
    const struct mailcheck_login *login)
{
	struct pprobe *p = xcalloc(1, sizeof(*p));

	p->r = r;
	p->side = side;
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

static const struct mailcheck_probe pprobe_probe = {
    .proto = "pop3",
    .make = pprobe_make,
    .start = pprobe_start,
    .cancel = pprobe_cancel,
    .not_tried = pprobe_not_tried,
};

static void
pop3_tls_schedule(struct runner *r, const struct check_input *in)
{
	mailcheck_schedule_tls(r, in, &pprobe_probe);
}

static void
pop3_login_schedule(struct runner *r, const struct check_input *in)
{
	mailcheck_schedule_logins(r, in, &pprobe_probe);
}

const struct check check_pop3_tls = {
    .id = "pop3.tls",
    .group = "pop3",
    .title = "POP3 implicit TLS and STLS ports: handshake and certificate",
    .commands = CHECK_CMD_AUDIT,
    .schedule = pop3_tls_schedule,
    .scope = CHECK_SCOPE_ONCE,
};

const struct check check_pop3_login = {
    .id = "pop3.login",
    .group = "pop3",
    .title = "POP3 login for every mailbox on source and destination",
    .commands = CHECK_CMD_AUDIT,
    .schedule = pop3_login_schedule,
    .scope = CHECK_SCOPE_MAILBOX,
};
