/*
 * dns.h - c-ares driven by the runner's libevent loop.
 *
 * A dns_client is one c-ares channel (one server set, one set of flags). Its
 * sockets are watched by libevent through c-ares' socket-state callback, and
 * c-ares' own retransmission timeouts run on one libevent timer fed by
 * ares_timeout(): nothing ever blocks. c-ares retries truncated UDP answers
 * over TCP by itself.
 *
 * Answers are parsed with dnsmsg_parse() so that every record keeps its TTL.
 */
#ifndef CUTOVER_DNS_H
#define CUTOVER_DNS_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "dnsmsg.h"

/* What became of a query: a result a user can read, one value per cause. */
enum dns_status {
	DNS_OK = 0,      /* NOERROR with at least one answer record */
	DNS_NODATA,      /* NOERROR, the name exists but has no such record */
	DNS_NXDOMAIN,    /* the name does not exist */
	DNS_SERVFAIL,    /* the server failed to answer */
	DNS_REFUSED,     /* the server refused (not authoritative, ACL) */
	DNS_TIMEOUT,     /* no answer in time */
	DNS_CONNREFUSED, /* nothing listens there */
	DNS_MALFORMED,   /* an answer that does not parse */
	DNS_CANCELLED,   /* never delivered to the caller */
	DNS_ERROR,       /* anything else (see error text) */
};

#define DNS_FLAG_NORECURSE 0x1 /* RD=0: ask authoritative servers directly */
#define DNS_FLAG_RAW_RCODE 0x2 /* report SERVFAIL/REFUSED as is, don't try the next server */

struct dns_reply {
	enum dns_status status;
	const char *error; /* readable reason, never NULL */
	const struct dnsmsg
	    *msg; /* parsed answer or NULL (timeout etc.); valid during the callback */
	int64_t elapsed_ms;
};

struct dns_client;
struct dns_query;

typedef void (*dns_cb)(void *arg, const struct dns_reply *reply);

/*
 * A client for SERVERS ("ADDR", "ADDR:PORT", "[V6]:PORT"; NULL or N = 0 for
 * the system configuration). TIMEOUT_MS is the whole budget of one query
 * (split over TRIES attempts). Returns NULL with *ERR (caller frees) on a bad
 * server string or a c-ares failure.
 */
struct dns_client *dns_client_new(struct event_base *base, const char *const *servers, size_t n,
    unsigned flags, int timeout_ms, int tries, char **err);
/* Free the client; pending queries are cancelled without their callbacks. */
void dns_client_free(struct dns_client *c);
/* The servers as a readable list ("127.0.0.1:5300" or "system resolvers"). */
const char *dns_client_servers(const struct dns_client *c);

/*
 * Query NAME for TYPE (class IN). CB is called exactly once, from the loop,
 * unless the query is cancelled first. The returned handle is valid until the
 * callback returns or dns_query_cancel is called. When c-ares completes the
 * query at once (a malformed name), CB has already run and NULL is returned.
 */
struct dns_query *dns_query(struct dns_client *c, const char *name, int type, dns_cb cb, void *arg);
/* Stop caring about Q: its callback will not be called. */
void dns_query_cancel(struct dns_query *q);

/* "timeout", "nxdomain", ... for details fields. */
const char *dns_status_str(enum dns_status st);

/* ---- host names to addresses (for connections) ----------------------------- */

struct sockaddr;
struct dns_host_query;

/*
 * The addresses of a host: IPv4 first, then IPv6, at most DNS_HOST_MAX.
 * ADDRS point into storage owned by dns.c, valid during the callback only.
 */
#define DNS_HOST_MAX 8
struct dns_host_reply {
	enum dns_status status; /* DNS_OK with n >= 1, or why not */
	const char *error;      /* readable reason, never NULL */
	const struct sockaddr *addrs[DNS_HOST_MAX];
	unsigned addr_lens[DNS_HOST_MAX];
	size_t n;
};

typedef void (*dns_host_cb)(void *arg, const struct dns_host_reply *reply);

/*
 * Resolve host NAME to addresses with c-ares' getaddrinfo on C's channel,
 * so /etc/hosts is honoured and nothing blocks. IP literals and "localhost"
 * are better handled by the caller (see net.c). CB is called exactly once,
 * from the loop, unless cancelled first. Returns a handle valid until the
 * callback returns or dns_host_cancel is called; NULL when CB already ran.
 */
struct dns_host_query *dns_resolve_host(
    struct dns_client *c, const char *name, dns_host_cb cb, void *arg);
/* Stop caring about Q: its callback will not be called. NULL is fine. */
void dns_host_cancel(struct dns_host_query *q);

#endif
