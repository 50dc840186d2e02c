/* server_probe.c - helpers shared by the IMAP and POP3 probes. See server_probe.h. */
#include "server_probe.h"

#include "src/oauth2.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/util.h"

static int
mailcheck_other_port(int port, int implicit, int tls_port, int plain_port)
{
	int from = implicit ? tls_port : plain_port, to = implicit ? plain_port : tls_port;

	if (port == from)
		return to;
	if (port > 1000 && port % 1000 == from)
		return port - from + to;
	return 0;
}

int
mailcheck_endpoints(
    const struct plan_url *url, const char *proto, int other_port, struct mailcheck_endpoint out[2])
{
	int imap = strcmp(proto, "imap") == 0;
	int implicit = url->tls == PLAN_TLS_IMPLICIT;
	int other = other_port >= 0
	    ? other_port
	    : mailcheck_other_port(url->port, implicit, imap ? 993 : 995, imap ? 143 : 110);

	out[0].host = url->host;
	out[0].port = url->port;
	out[0].implicit = implicit;
	out[0].from_plan = 1;
	if (other <= 0 || other > 65535)
		return 1;
	out[1].host = url->host;
	out[1].port = other;
	out[1].implicit = !implicit;
	out[1].from_plan = 0;
	return 2;
}

const char *
mailcheck_mode_str(int implicit)
{
	return implicit ? "implicit" : "starttls";
}

cJSON *
mailcheck_caps_json(const char *const *caps, size_t n)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(caps[i]));
	return a;
}

const char *
mailcheck_auth_str(const struct mailcheck_login *login)
{
	if (login->oauth != NULL)
		return "oauth2";
	return login->admin != NULL ? "admin" : "password";
}

void
mailcheck_oauth_opts(struct runner *r, const char *side, const struct mailcheck_login *login,
    struct oauth2_cache **cache, const struct oauth2_config **cfg)
{
	*cache = NULL;
	*cfg = login->oauth;
	if (login->oauth != NULL)
		*cache = oauth2_runner_cache(r, side, login->state_dir);
}

void
mailcheck_oauth_advice(struct result *res, const char *proto, const char *user, const char *side)
{
	const char *perm = strcmp(proto, "pop3") == 0 ? "POP.AccessAsApp" : "IMAP.AccessAsApp";

	result_advise(res,
	    "The token was accepted by the identity provider but the %s server refused "
	    "it for %s. On Microsoft 365 the causes are, in order: the application is "
	    "not registered in Exchange (New-ServicePrincipal -AppId ... -ObjectId ...), "
	    "it has no FullAccess on this mailbox (Add-MailboxPermission -Identity %s "
	    "-User <service principal> -AccessRights FullAccess), the permission %s "
	    "lacks admin consent, or %s is disabled for the mailbox (Set-CASMailbox "
	    "-Identity %s -%sEnabled $true). On Google Workspace: domain-wide "
	    "delegation for https://mail.google.com/ and IMAP access for the user. "
	    "(Side: %s.)",
	    proto, user, user, perm, strcmp(proto, "pop3") == 0 ? "POP" : "IMAP", user,
	    strcmp(proto, "pop3") == 0 ? "Pop" : "Imap", side);
}

enum result_status
mailcheck_login_status(enum net_result r)
{
	switch (r) {
	case NET_RESULT_OK: return RESULT_PASS;
	case NET_RESULT_CONNECT_FAILED:
	case NET_RESULT_TIMEOUT: return RESULT_ERROR;
	default: return RESULT_FAIL;
	}
}

/* Advice for a server that negotiated TLS 1.0 or 1.1 (one %s: the host). */
#define MAILCHECK_OLD_TLS_ADVICE                                                                   \
	"Enable TLS 1.2 or later on %s: Microsoft 365 refuses TLS 1.0 and 1.1, and "               \
	"cutover sends no password over them unless --allow-old-tls is given."

void
mailcheck_login_verdict(const struct mailcheck_login_summary *s, struct verdict *v)
{
	const char *proto = s->proto, *user = s->user, *side = s->side, *host = s->host;
	int port = s->port;

	verdict_set(v, mailcheck_login_status(s->result), "%s", s->error);
	switch (s->result) {
	case NET_RESULT_OK: break;
	case NET_RESULT_AUTH_FAILED:
		if (strstr(s->error, "offers OAuth2 logins") != NULL) {
			verdict_advise(v,
			    "%s:%d wants OAuth2 (as Microsoft 365 and Google Workspace do): "
			    "give the %s side of the plan an \"auth\" object instead of "
			    "passwords; the README's section \"Microsoft 365 destination\" "
			    "lists the steps.",
			    host, port, side);
			break;
		}
		verdict_advise(v,
		    "Check the %s password of %s in the plan (or the admin login), "
		    "and that %s access is enabled for this mailbox on %s.",
		    side, user, proto, host);
		break;
	case NET_RESULT_TLS_FAILED:
		if (strstr(s->error, NET_OLD_TLS_MARK) != NULL) {
			verdict_advise(v, MAILCHECK_OLD_TLS_ADVICE, host);
			break;
		}
		verdict_advise(v,
		    "Fix the certificate of %s:%d, or pass the CA that signed it with "
		    "--ca-file; --insecure skips verification (not for production).",
		    host, port);
		break;
	case NET_RESULT_CONNECT_FAILED:
		verdict_advise(v,
		    "Check the server name and port of the %s %s URL in the plan "
		    "and that %s:%d is reachable from here (firewall, VPN).",
		    side, proto, host, port);
		break;
	case NET_RESULT_TIMEOUT:
		verdict_advise(v,
		    "%s:%d did not answer in time: check the network path, or raise "
		    "--timeout / lower --per-host if the server throttles.",
		    host, port);
		break;
	case NET_RESULT_PROTOCOL_ERROR:
		verdict_advise(v,
		    "Check that %s:%d speaks %s in the mode the URL says (implicit "
		    "TLS for %ss://, STARTTLS for %s://).",
		    host, port, proto, proto, proto);
		break;
	case NET_RESULT_PLAINTEXT_REFUSED:
		verdict_advise(v,
		    "Use the implicit-TLS URL (%ss://) or a port that offers "
		    "STARTTLS; --allow-plaintext sends the password unencrypted.",
		    proto);
		break;
	}
}

void
mailcheck_login_advice(struct result *res, enum net_result r, const char *proto, const char *user,
    const char *side, const char *host, int port)
{
	struct mailcheck_login_summary s = {
	    .result = r,
	    .error = res->summary != NULL ? res->summary : "",
	    .proto = proto,
	    .user = user,
	    .side = side,
	    .host = host,
	    .port = port,
	};
	struct verdict v = {0};

	mailcheck_login_verdict(&s, &v);
	if (v.advice != NULL)
		result_advise(res, "%s", v.advice);
	verdict_clear(&v);
}

static enum result_side
mailcheck_side(const struct plan_side *side)
{
	return strcmp(side->name, "source") == 0 ? RESULT_SIDE_SOURCE : RESULT_SIDE_DESTINATION;
}

/* The server URL and second port of SIDE for PROBE's protocol, or NULL. */
static const struct plan_url *
mailcheck_url(const struct plan_side *side, const struct mailcheck_probe *probe, int *other_port)
{
	int imap = strcmp(probe->proto, "imap") == 0;

	*other_port = imap ? side->imap_other_port : side->pop3_other_port;
	if (!side->present)
		return NULL;
	return imap ? side->imap : side->pop3;
}

void
mailcheck_schedule_tls(
    struct runner *r, const struct check_input *in, const struct mailcheck_probe *probe)
{
	char *id;

	if (in->plan == NULL)
		return;
	id = xasprintf("%s.tls", probe->proto);
	for (int s = 0; s < 2; s++) {
		const struct plan_side *side = s == 0 ? &in->plan->source : &in->plan->destination;
		struct mailcheck_endpoint eps[2];
		const struct plan_url *url;
		int other, n;

		url = mailcheck_url(side, probe, &other);
		if (url == NULL)
			continue;
		n = mailcheck_endpoints(url, probe->proto, other, eps);
		for (int i = 0; i < n; i++) {
			char *subject = xasprintf("%s:%d", eps[i].host, eps[i].port);
			struct result *res = result_new(id, subject, mailcheck_side(side));

			free(subject);
			runner_add(r, eps[i].host, res, probe->start, probe->cancel,
			    probe->make(r, side, &eps[i], NULL), 0);
		}
	}
	free(id);
}

/* The logins of one side, made a mailbox at a time as the runner asks
 * (runner_add_producer): their report places are reserved up front. */
struct mailcheck_logins {
	const struct mailcheck_probe *probe;
	const struct plan *plan; /* borrowed for the run (check_input) */
	const struct plan_side *side;
	struct mailcheck_endpoint ep;
	char *id, *target;
	uint64_t first; /* the place of mailbox 0's result */
};

static void
mailcheck_logins_free(void *arg)
{
	struct mailcheck_logins *l = arg;

	free(l->id);
	free(l->target);
	free(l);
}

static void
mailcheck_login_produce(struct runner *r, size_t i, void *arg)
{
	const struct mailcheck_logins *l = arg;
	const struct mailcheck_probe *probe = l->probe;
	const struct plan_mailbox *mb = &l->plan->mailboxes[i];
	int src = l->side == &l->plan->source;
	struct mailcheck_login login;
	struct task *t;

	login.user = src ? mb->source_user : mb->dest_user;
	login.password = src ? mb->source_password : mb->dest_password;
	login.admin = NULL;
	login.oauth = l->side->auth;
	login.state_dir = l->plan->state_dir;
	if (login.oauth != NULL) {
		login.password = NULL; /* the token replaces it */
	} else if (login.password == NULL && l->side->admin != NULL) {
		login.admin = l->side->admin->user;
		login.password = l->side->admin->password;
	}
	t = runner_add_at(r, l->first + i, l->ep.host,
	    result_new(l->id, login.user, mailcheck_side(l->side)), probe->start, probe->cancel,
	    probe->make(r, l->side, &l->ep, &login), 0);
	if (probe->not_tried != NULL)
		task_set_fail_fast(t, l->target, probe->not_tried);
}

void
mailcheck_schedule_logins(
    struct runner *r, const struct check_input *in, const struct mailcheck_probe *probe)
{
	const struct plan *plan = in->plan;

	if (plan == NULL)
		return;
	for (int s = 0; s < 2; s++) {
		const struct plan_side *side = s == 0 ? &plan->source : &plan->destination;
		struct mailcheck_endpoint eps[2];
		const struct plan_url *url;
		struct mailcheck_logins *l;
		int other;

		url = mailcheck_url(side, probe, &other);
		if (url == NULL)
			continue;
		mailcheck_endpoints(url, probe->proto, other, eps);
		l = xcalloc(1, sizeof(*l));
		l->probe = probe;
		l->plan = plan;
		l->side = side;
		l->ep = eps[0];
		l->id = xasprintf("%s.login", probe->proto);
		l->target = mailcheck_target(eps[0].host, eps[0].port);
		l->first = runner_reserve(r, plan->n_mailboxes);
		runner_add_producer(
		    r, plan->n_mailboxes, mailcheck_login_produce, l, mailcheck_logins_free);
	}
}

void
mailcheck_tls_details_json(const struct mailcheck_tls_probe *p, cJSON *d)
{
	const struct mailcheck_endpoint *ep = p->ep;

	cJSON_AddStringToObject(d, "server", ep->host);
	cJSON_AddNumberToObject(d, "port", ep->port);
	cJSON_AddStringToObject(d, "mode", mailcheck_mode_str(ep->implicit));
	cJSON_AddStringToObject(d, "result", net_result_str(p->result));
	cJSON_AddItemToObject(d, "tls", tls_facts_json(p->tls, p->now != 0 ? p->now : time(NULL)));
	cJSON_AddBoolToObject(d, "from_plan", ep->from_plan);
	cJSON_AddItemToObject(d, "capabilities", mailcheck_caps_json(p->caps, p->n_caps));
	util_json_add_str_or_null(d, "error", p->error != NULL ? util_nonempty(p->error) : NULL);
}

void
mailcheck_tls_fill(struct result *out, const struct mailcheck_tls_probe *p)
{
	struct verdict v = {0};

	mailcheck_tls_details_json(p, out->details);
	mailcheck_tls_verdict(p, &v);
	verdict_apply(&v, out);
}

void
mailcheck_login_details_json(const struct mailcheck_login_summary *s, cJSON *d)
{
	const struct mailcheck_endpoint *ep = s->ep;

	cJSON_AddStringToObject(d, "server", ep->host);
	cJSON_AddStringToObject(d, "user", s->user);
	cJSON_AddStringToObject(d, "result", net_result_str(s->result));
	cJSON_AddItemToObject(d, "capabilities", mailcheck_caps_json(s->caps, s->n_caps));
	cJSON_AddItemToObject(d, "tls", tls_facts_json(s->tls, s->now != 0 ? s->now : time(NULL)));
	cJSON_AddNumberToObject(d, "port", ep->port);
	cJSON_AddStringToObject(d, "mode", mailcheck_mode_str(ep->implicit));
	cJSON_AddStringToObject(d, "auth", s->auth);
	cJSON_AddStringToObject(d, "mechanism", s->mechanism);
	if (s->result != NET_RESULT_OK) {
		cJSON_AddStringToObject(d, "error", s->error);
		return;
	}
	cJSON_AddNullToObject(d, "error");
	if (s->messages >= 0) {
		cJSON_AddNumberToObject(d, "messages", (double)s->messages);
		cJSON_AddNumberToObject(d, "octets", (double)s->octets);
	}
}

void
mailcheck_tls_verdict(const struct mailcheck_tls_probe *p, struct verdict *v)
{
	const struct mailcheck_endpoint *ep = p->ep;
	const struct tls_facts *tls = p->tls;
	const char *mode = mailcheck_mode_str(ep->implicit);
	const char *error = p->error != NULL ? p->error : "";

	if (p->result == NET_RESULT_OK && tls != NULL) {
		long days_left = tls_facts_days_left(tls, p->now != 0 ? p->now : time(NULL));

		if (strcmp(tls->version, "TLSv1") == 0 || strcmp(tls->version, "TLSv1.1") == 0) {
			verdict_set(v, RESULT_WARN,
			    "%s, %s: " NET_OLD_TLS_MARK " (Microsoft 365 refuses it)", tls->version,
			    mode);
			verdict_advise(v, MAILCHECK_OLD_TLS_ADVICE, ep->host);
		} else if (!tls->verified) {
			verdict_set(v, RESULT_WARN,
			    "%s, %s: certificate does not verify (%s), "
			    "accepted because of --insecure",
			    tls->version, mode, tls->verify_error);
			verdict_advise(v,
			    "Fix the certificate before the migration tool connects; "
			    "it will verify it.");
		} else if (tls->has_expiry && days_left < MAILCHECK_CERT_WARN_DAYS) {
			verdict_set(v, RESULT_WARN, "%s, %s: certificate expires in %ld days (%s)",
			    tls->version, mode, days_left, tls->expires);
			verdict_advise(v,
			    "Renew the certificate of %s before the migration window.", ep->host);
		} else {
			verdict_set(v, RESULT_PASS, "%s, %s: certificate valid for %ld days",
			    tls->version, mode, days_left);
		}
		return;
	}
	switch (p->result) {
	case NET_RESULT_TLS_FAILED:
		verdict_set(v, RESULT_FAIL, "%s", error);
		verdict_advise(v,
		    "Install a certificate valid for %s from a public CA, or pass "
		    "the CA with --ca-file.",
		    ep->host);
		break;
	case NET_RESULT_CONNECT_FAILED:
		if (!ep->from_plan) {
			verdict_set(v, RESULT_SKIP, "port %d (%s) not available: %s", ep->port,
			    mode, error);
		} else {
			verdict_set(v, RESULT_FAIL, "%s", error);
			verdict_advise(v, "Check the host and port of the %s %s URL in the plan.",
			    p->side_name, p->proto_label);
		}
		break;
	case NET_RESULT_TIMEOUT: verdict_set(v, RESULT_ERROR, "%s", error); break;
	case NET_RESULT_PLAINTEXT_REFUSED:
		verdict_set(v, ep->from_plan ? RESULT_FAIL : RESULT_WARN,
		    "port %d offers no %s: %s", ep->port, p->starttls, error);
		break;
	default: verdict_set(v, RESULT_FAIL, "%s", error); break;
	}
}

void
mailcheck_outcome(struct task *t, enum net_result r, int past_greeting, const char *text)
{
	switch (r) {
	case NET_RESULT_CONNECT_FAILED: task_host_outcome(t, "connect_failed", text); break;
	case NET_RESULT_TLS_FAILED: task_host_outcome(t, "tls_failed", text); break;
	case NET_RESULT_TIMEOUT:
		task_host_outcome(t, past_greeting ? NULL : "timeout", text);
		break;
	default: task_host_outcome(t, NULL, NULL); break; /* the server answered */
	}
}

char *
mailcheck_target(const char *host, int port)
{
	return xasprintf(strchr(host, ':') != NULL ? "[%s]:%d" : "%s:%d", host, port);
}

void
mailcheck_login_not_tried(struct result *out, const char *cause,
    const struct mailcheck_endpoint *ep, const char *user, const char *admin)
{
	cJSON_AddStringToObject(out->details, "server", ep->host);
	cJSON_AddStringToObject(out->details, "user", user);
	if (cause != NULL)
		cJSON_AddStringToObject(out->details, "result", cause);
	cJSON_AddItemToObject(out->details, "capabilities", cJSON_CreateArray());
	cJSON_AddNullToObject(out->details, "tls");
	cJSON_AddNumberToObject(out->details, "port", ep->port);
	cJSON_AddStringToObject(out->details, "mode", mailcheck_mode_str(ep->implicit));
	cJSON_AddStringToObject(out->details, "auth", admin != NULL ? "admin" : "password");
	cJSON_AddStringToObject(out->details, "error", out->summary);
	cJSON_AddBoolToObject(out->details, "not_tried", 1);
}
