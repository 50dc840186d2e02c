/*
 * server_probe.h - what imap_probe.c and pop3_probe.c share: which endpoints
 * of a server to probe, and the TLS facts and capabilities as report JSON
 * (reports/SCHEMA.md, imap.tls / imap.login). Not a check itself. The
 * functions keep the prefix of the file's former name, mailcheck_.
 */
#ifndef CUTOVER_SERVER_PROBE_H
#define CUTOVER_SERVER_PROBE_H

#include <time.h>

#include <cJSON.h>

#include "src/net.h"
#include "src/plan.h"
#include "check.h"
#include "src/result.h"
#include "src/verdict.h"

/* One port of a mail server to probe. HOST is borrowed from the plan. */
struct mailcheck_endpoint {
	const char *host;
	int port;
	int implicit;  /* implicit TLS (993/995) or STARTTLS/STLS (143/110) */
	int from_plan; /* the plan's own URL (0: the derived other port) */
};

/*
 * The endpoints of URL for PROTO ("imap" or "pop3"): the plan's port, then
 * the other mode's port: 993 <-> 143, 995 <-> 110, and for a non-standard
 * port whose last three digits are one of those, the same swap of those
 * digits (10993 <-> 10143). OTHER_PORT, the plan's imap_other_port or
 * pop3_other_port, overrides that: 0 = no second port, > 0 = that port.
 * Fills OUT (2 entries) and returns how many.
 */
int mailcheck_endpoints(const struct plan_url *url, const char *proto, int other_port,
    struct mailcheck_endpoint out[2]);

/* The login a probe makes; the strings are borrowed from the plan. */
struct oauth2_cache;
struct oauth2_config;

struct mailcheck_login {
	const char *user;
	const char *password;              /* the user's, or the admin's when ADMIN is set */
	const char *admin;                 /* master user logging in as USER, or NULL */
	const struct oauth2_config *oauth; /* the side's "auth": an OAuth2 login, or NULL */
	const char *state_dir;             /* the plan's (device-code refresh tokens) */
};

/*
 * What a probe module (imap_probe.c, pop3_probe.c) hands the schedulers
 * below: its protocol, and how to make the aux of one probe task (LOGIN NULL
 * for a TLS probe of ENDPOINT, else a login there) and run it.
 */
struct mailcheck_probe {
	const char *proto; /* "imap" or "pop3": the plan URL and the ids */
	void *(*make)(struct runner *r, const struct plan_side *side,
	    const struct mailcheck_endpoint *ep, const struct mailcheck_login *login);
	task_fn start, cancel;
	/* Fill a login result never tried because its server is dead
	 * (task_set_fail_fast), and free the aux; NULL: no fail fast. */
	task_fn not_tried;
};

/* PROTO.tls: one task per endpoint of each side's server (see
 * mailcheck_endpoints), subject "host:port". */
void mailcheck_schedule_tls(
    struct runner *r, const struct check_input *in, const struct mailcheck_probe *probe);
/* PROTO.login: one task per mailbox per side, on the URL's endpoint, with
 * the mailbox's password or else the side's admin. */
void mailcheck_schedule_logins(
    struct runner *r, const struct check_input *in, const struct mailcheck_probe *probe);

/*
 * Tell the runner how the connection of task T to its server went
 * (task_host_outcome): R is the session's result so far, TEXT its reason;
 * PAST_GREETING is 1 when the session got past the greeting (a timeout in
 * the login is the mailbox's, a timeout before it is the server's).
 */
void mailcheck_outcome(struct task *t, enum net_result r, int past_greeting, const char *text);

/*
 * Fill the PROTO.login result OUT of a login never tried (the runner's
 * NOT_TRIED: its server is dead, CAUSE as task_not_tried_cause; or the run was
 * interrupted first, CAUSE NULL) with the details a login has.
 */
void mailcheck_login_not_tried(struct result *out, const char *cause,
    const struct mailcheck_endpoint *ep, const char *user, const char *admin);

/* "host:port" of a fail-fast target (task_set_fail_fast). Caller frees. */
char *mailcheck_target(const char *host, int port);

/* A certificate that expires in fewer days than this warns. */
#define MAILCHECK_CERT_WARN_DAYS 14

/* What one TLS probe of an endpoint found. */
struct mailcheck_tls_probe {
	const struct mailcheck_endpoint *ep;
	const char *proto_label; /* "IMAP" or "POP3", for advice */
	const char *starttls;    /* "STARTTLS" or "STLS" */
	const char *side_name;   /* "source" or "destination" */
	enum net_result result;
	const char *error; /* or NULL */
	const struct tls_facts *tls;
	const char *const *caps;
	size_t n_caps;
	time_t now; /* for the days left; 0 = the clock's now */
};

/* Fill the PROTO.tls result OUT (details, status, summary, advice) from P. */
void mailcheck_tls_fill(struct result *out, const struct mailcheck_tls_probe *p);
/* P as the PROTO.tls details (reports/SCHEMA.md) into D. */
void mailcheck_tls_details_json(const struct mailcheck_tls_probe *p, cJSON *d);
/* The PROTO.tls verdict on P: the handshake's outcome, the TLS version, the
 * certificate's verification and days left (MAILCHECK_CERT_WARN_DAYS). */
void mailcheck_tls_verdict(const struct mailcheck_tls_probe *p, struct verdict *v);

/* "implicit" or "starttls". */
const char *mailcheck_mode_str(int implicit);

/* A JSON array of the N strings of CAPS. Caller owns it. */
cJSON *mailcheck_caps_json(const char *const *caps, size_t n);

/* The report status for a login result (pass, fail or error). */
enum result_status mailcheck_login_status(enum net_result r);

/* "oauth2", "admin" or "password": how LOGIN logs in (the details' "auth"). */
const char *mailcheck_auth_str(const struct mailcheck_login *login);
/* The OAuth2 part of a session's options for LOGIN on SIDE: the run's token
 * cache and the side's config (both NULL for a password login). */
void mailcheck_oauth_opts(struct runner *r, const char *side, const struct mailcheck_login *login,
    struct oauth2_cache **cache, const struct oauth2_config **cfg);
/* The advice for an OAuth2 login the server refused with a token in hand:
 * Exchange Online's causes (proto "imap" or "pop3"). */
void mailcheck_oauth_advice(
    struct result *res, const char *proto, const char *user, const char *side);

/* What one PROTO.login met. */
struct mailcheck_login_summary {
	enum net_result result;
	const char *error; /* the session's error text ("" when none) */
	const char *proto; /* "imap" or "pop3" */
	const char *user;
	const char *side; /* "source" or "destination" */
	const char *host;
	int port;
	/* For the details only (mailcheck_login_details_json): */
	const struct mailcheck_endpoint *ep; /* where the login went */
	const char *const *caps;             /* the server's capabilities */
	size_t n_caps;
	const struct tls_facts *tls; /* or NULL: no TLS */
	time_t now;                  /* for the certificate's days left; 0: the clock's */
	const char *auth;            /* mailcheck_auth_str */
	const char *mechanism;       /* the SASL mechanism, or "LOGIN" / "USER" */
	long long messages, octets;  /* POP3: the inbox after a login; -1: left out */
};

/* The PROTO.login verdict: mailcheck_login_status, the error as the summary,
 * and what to do about it. */
void mailcheck_login_verdict(const struct mailcheck_login_summary *s, struct verdict *v);
/* S as the PROTO.login details (reports/SCHEMA.md) into D. */
void mailcheck_login_details_json(const struct mailcheck_login_summary *s, cJSON *d);

/* Set RES's advice for login result R of USER on SIDE at HOST:PORT (none for ok). */
void mailcheck_login_advice(struct result *res, enum net_result r, const char *proto,
    const char *user, const char *side, const char *host, int port);

#endif
