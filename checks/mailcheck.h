/*
 * mailcheck.h - what imap_probe.c and pop3_probe.c share: which endpoints
 * of a server to probe, and the TLS facts and capabilities as report JSON
 * (reports/SCHEMA.md, imap.tls / imap.login). Not a check itself.
 */
#ifndef CUTOVER_MAILCHECK_H
#define CUTOVER_MAILCHECK_H

#include <cJSON.h>

#include "net.h"
#include "plan.h"
#include "result.h"

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

/* "implicit" or "starttls". */
const char *mailcheck_mode_str(int implicit);

/* The TLS object of imap.tls (FULL: every field) or imap.login (short);
 * cJSON null when INFO is NULL or no handshake completed. Caller owns it. */
cJSON *mailcheck_tls_json(const struct net_tls_info *info, int full);

/* A JSON array of the N strings of CAPS. Caller owns it. */
cJSON *mailcheck_caps_json(const char *const *caps, size_t n);

/* The report status for a login result (pass, fail or error). */
enum result_status mailcheck_login_status(enum net_result r);

/* Set RES's advice for login result R of USER on SIDE at HOST:PORT (none for ok). */
void mailcheck_login_advice(struct result *res, enum net_result r, const char *proto,
    const char *user, const char *side, const char *host, int port);

#endif
