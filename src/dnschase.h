/*
 * dnschase.h - ask for NAME/TYPE and follow CNAMEs across zones.
 *
 * A recursive resolver follows a CNAME chain itself and answers with the
 * whole chain; an authoritative server (the lab's Knot, or asking a
 * provider's name servers directly) answers only the part inside its own
 * zone and stops at the first CNAME that leaves it. dnschase asks again for
 * the last name of the chain until records of TYPE (or a negative answer)
 * come back, so checks see the same thing through either kind of server.
 * The chain is bounded (DNSCHASE_MAX_LINKS CNAME links, RFC 1034 section
 * 3.6.2 leaves the bound to the resolver) and loops are detected.
 *
 * Everything runs on the dns_client's loop; nothing blocks.
 */
#ifndef CUTOVER_DNSCHASE_H
#define CUTOVER_DNSCHASE_H

#include <stddef.h>

#include <cJSON.h>

#include "dns.h"

#define DNSCHASE_MAX_LINKS 8

enum dnschase_problem {
	DNSCHASE_FINE = 0,
	DNSCHASE_LOOP,     /* a CNAME points back to a name of the chain */
	DNSCHASE_TOO_LONG, /* more than DNSCHASE_MAX_LINKS links */
};

struct dnschase_reply {
	/*
	 * Of the last query: DNS_OK when OWNER has records of TYPE; DNS_NODATA or
	 * DNS_NXDOMAIN when the chain ends at a name without them (also when a
	 * NOERROR answer carries only records for other owners); otherwise the
	 * failure (SERVFAIL, timeout, ...). On a PROBLEM, the status of the last
	 * answer that was read (normally DNS_OK).
	 */
	enum dns_status status;
	const char *error; /* readable, never NULL */
	enum dnschase_problem problem;
	const char *owner;        /* last name of the chain (NAME when no CNAME) */
	const char *const *chain; /* the CNAME targets in order; n_chain of them */
	size_t n_chain;
	const struct dnsmsg *msg; /* the last answer, or NULL (timeout etc.) */
	int queries;              /* how many queries were sent */
};

struct dnschase;

/* Valid during the callback only: copy what you keep. */
typedef void (*dnschase_cb)(void *arg, const struct dnschase_reply *reply);

/*
 * Look up NAME/TYPE through C, following CNAMEs. CB runs exactly once unless
 * the chase is cancelled first. Returns the handle, or NULL when CB has
 * already run (c-ares rejected the name at once), as dns_query does.
 */
struct dnschase *dnschase_start(
    struct dns_client *c, const char *name, int type, dnschase_cb cb, void *arg);

/* Stop: CB will not run; frees the chase. NULL is a no-op. */
void dnschase_cancel(struct dnschase *ch);

/*
 * A report entry for a finished chase of NAME/TYPE (caller owns it):
 * {"name", "type", "status" (dns_status_str), "error" (null when ok),
 *  "cname_chain" [...], "queries", and "problem" ("loop", "too_long") only
 *  when there was one}.
 */
cJSON *dnschase_json(const char *name, int type, const struct dnschase_reply *r);

/* "loop", "too_long" or NULL for DNSCHASE_FINE. */
const char *dnschase_problem_str(enum dnschase_problem p);

#endif
