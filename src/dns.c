/*
 * dns.c - c-ares on the libevent loop. See dns.h.
 *
 * c-ares 1.18 (Debian 12) has no per-query cancel: a cancelled query stays in
 * the channel until it completes, and its callback just frees the handle.
 */
#include "dns.h"

#include <stdlib.h>
#include <string.h>

#include <ares.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <sys/socket.h>

#include "strbuf.h"
#include "util.h"

struct dns_sock {
	ares_socket_t fd;
	struct event *ev;
	struct dns_sock *next;
};

struct dns_client {
	struct event_base *base;
	ares_channel channel;
	struct dns_sock *socks;
	struct event *timer;
	char *servers;
	int destroying;
	int tcp_seen; /* c-ares opened a TCP socket: after a truncated (TC) answer */
};

struct dns_query {
	struct dns_client *c;
	dns_cb cb; /* NULL once cancelled */
	void *arg;
	int64_t started_ms;
	int submitting; /* inside ares_query(): don't free yet */
	int finished;
};

static int dns_library_users;

static void dns_reset_timer(struct dns_client *c);

static void
dns_sock_event(evutil_socket_t fd, short what, void *arg)
{
	struct dns_client *c = arg;

	ares_process_fd(c->channel, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
	    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	dns_reset_timer(c);
}

static void
dns_timer_event(evutil_socket_t fd, short what, void *arg)
{
	struct dns_client *c = arg;

	(void)fd;
	(void)what;
	ares_process_fd(c->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	dns_reset_timer(c);
}

static void
dns_reset_timer(struct dns_client *c)
{
	struct timeval tv, *tvp;

	if (c->destroying)
		return;
	tvp = ares_timeout(c->channel, NULL, &tv);
	if (tvp == NULL)
		evtimer_del(c->timer);
	else
		evtimer_add(c->timer, tvp);
}

/* c-ares tells us which sockets to watch; mirror that in libevent events. */
static void
dns_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns_client *c = data;
	struct dns_sock **pp, *s;
	short what = (short)((readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));

	for (pp = &c->socks; *pp != NULL && (*pp)->fd != fd; pp = &(*pp)->next)
		;
	s = *pp;
	if (what == 0) {
		if (s != NULL) {
			*pp = s->next;
			event_free(s->ev);
			free(s);
		}
		return;
	}
	if (s == NULL) {
		int type = 0;
		socklen_t tlen = sizeof(type);

		/* Without ARES_FLAG_USEVC, TCP means a UDP answer came truncated. */
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0 && type == SOCK_STREAM)
			c->tcp_seen = 1;
		s = xcalloc(1, sizeof(*s));
		s->fd = fd;
		s->next = c->socks;
		c->socks = s;
	} else {
		event_free(s->ev);
	}
	s->ev = event_new(c->base, fd, what | EV_PERSIST, dns_sock_event, c);
	if (s->ev == NULL)
		abort();
	event_add(s->ev, NULL);
}

const char *
dns_status_str(enum dns_status st)
{
	switch (st) {
	case DNS_OK: return "ok";
	case DNS_NODATA: return "nodata";
	case DNS_NXDOMAIN: return "nxdomain";
	case DNS_SERVFAIL: return "servfail";
	case DNS_REFUSED: return "refused";
	case DNS_TIMEOUT: return "timeout";
	case DNS_CONNREFUSED: return "connection_refused";
	case DNS_MALFORMED: return "malformed";
	case DNS_CANCELLED: return "cancelled";
	case DNS_ERROR: break;
	}
	return "error";
}

/* The resolvers of one client as c-ares's comma-separated list: at most this
 * long (over a thousand "[IPv6]:PORT" addresses). */
#define DNS_SERVERS_MAX_BYTES 65536

struct dns_client *
dns_client_new(struct event_base *base, const char *const *servers, size_t n, unsigned flags,
    int timeout_ms, int tries, char **err)
{
	struct dns_client *c = xcalloc(1, sizeof(*c));
	struct ares_options o;
	int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS |
	    ARES_OPT_EDNSPSZ;
	int r;

	*err = NULL;
	if (dns_library_users++ == 0 &&
	    (r = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		*err = xasprintf("cannot initialise c-ares: %s", ares_strerror(r));
		goto fail;
	}
	if (tries < 1)
		tries = 1;
	if (timeout_ms < tries * 100)
		timeout_ms = tries * 100;
	memset(&o, 0, sizeof(o));
	o.sock_state_cb = dns_sock_state;
	o.sock_state_cb_data = c;
	/* c-ares doubles the timeout on each retry: t + 2t + 4t ... ~ budget. */
	o.timeout = timeout_ms / ((1 << tries) - 1);
	o.tries = tries;
	o.flags = ARES_FLAG_EDNS;
	o.ednspsz = 1232; /* DNS flag day 2020: avoids fragmentation */
	if (flags & DNS_FLAG_NORECURSE)
		o.flags |= ARES_FLAG_NORECURSE;
	if (flags & DNS_FLAG_RAW_RCODE)
		o.flags |= ARES_FLAG_NOCHECKRESP;
	c->base = base;
	r = ares_init_options(&c->channel, &o, mask);
	if (r != ARES_SUCCESS) {
		*err = xasprintf("cannot initialise c-ares: %s", ares_strerror(r));
		c->channel = NULL;
		goto fail;
	}
	if (n > 0) {
		struct strbuf b;
		char *csv;

		strbuf_init(&b, DNS_SERVERS_MAX_BYTES);
		for (size_t i = 0; i < n; i++)
			strbuf_appendf(&b, "%s%s", i > 0 ? "," : "", servers[i]);
		if (b.over) {
			*err = xasprintf("too many resolvers: their list is longer than %d bytes",
			    DNS_SERVERS_MAX_BYTES);
			strbuf_free(&b);
			goto fail;
		}
		csv = strbuf_take(&b);
		r = ares_set_servers_ports_csv(c->channel, csv);
		if (r != ARES_SUCCESS) {
			*err = xasprintf("invalid resolver address \"%s\": %s (use ADDR, ADDR:PORT "
			                 "or [IPv6]:PORT)",
			    csv, ares_strerror(r));
			free(csv);
			goto fail;
		}
		c->servers = csv;
	} else {
		c->servers = xstrdup("system resolvers");
	}
	c->timer = evtimer_new(base, dns_timer_event, c);
	if (c->timer == NULL)
		abort();
	return c;
fail:
	dns_client_free(c);
	return NULL;
}

void
dns_client_free(struct dns_client *c)
{
	if (c == NULL)
		return;
	c->destroying = 1;
	if (c->channel != NULL)
		ares_destroy(c->channel); /* pending callbacks run with ARES_EDESTRUCTION */
	while (c->socks != NULL) {
		struct dns_sock *s = c->socks;

		c->socks = s->next;
		event_free(s->ev);
		free(s);
	}
	if (c->timer != NULL)
		event_free(c->timer);
	free(c->servers);
	free(c);
	if (--dns_library_users == 0)
		ares_library_cleanup();
}

const char *
dns_client_servers(const struct dns_client *c)
{
	return c->servers;
}

/* ECONNREFUSED after c-ares went to TCP: the server is there, it answered
 * truncated over UDP, then refused or closed the TCP connection. */
#define DNS_TC_CLOSED_TEXT                                                                         \
	"the UDP answer was truncated (TC) and the server refused or closed the TCP "              \
	"connection to retry"

static enum dns_status
dns_map_status(int status, const char **error)
{
	switch (status) {
	case ARES_SUCCESS: *error = "ok"; return DNS_OK;
	case ARES_ENODATA: *error = "no record of that type (NODATA)"; return DNS_NODATA;
	case ARES_ENOTFOUND: *error = "name does not exist (NXDOMAIN)"; return DNS_NXDOMAIN;
	case ARES_ESERVFAIL: *error = "server failure (SERVFAIL)"; return DNS_SERVFAIL;
	case ARES_EREFUSED: *error = "query refused (REFUSED)"; return DNS_REFUSED;
	case ARES_ETIMEOUT: *error = "no answer (timeout)"; return DNS_TIMEOUT;
	case ARES_ECONNREFUSED:
		*error = "connection refused: no DNS server there";
		return DNS_CONNREFUSED;
	case ARES_EBADRESP: *error = "malformed answer"; return DNS_MALFORMED;
	case ARES_ECANCELLED:
	case ARES_EDESTRUCTION: *error = "cancelled"; return DNS_CANCELLED;
	default: *error = ares_strerror(status); return DNS_ERROR;
	}
}

static void
dns_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_query *q = arg;
	struct dns_reply reply;
	struct dnsmsg *msg = NULL;
	char *perr = NULL;

	(void)timeouts;
	if (q->cb == NULL) {
		if (q->submitting)
			q->finished = 1;
		else
			free(q);
		return;
	}
	memset(&reply, 0, sizeof(reply));
	reply.status = dns_map_status(status, &reply.error);
	if (status == ARES_ECONNREFUSED && q->c->tcp_seen)
		reply.error = DNS_TC_CLOSED_TEXT;
	if (abuf != NULL && alen > 0 && dnsmsg_parse(abuf, (size_t)alen, &msg, &perr) != 0) {
		if (reply.status == DNS_OK) {
			reply.status = DNS_MALFORMED;
			reply.error = perr;
		}
	}
	/* With RAW_RCODE c-ares hands over SERVFAIL/REFUSED answers as success. */
	if (reply.status == DNS_OK && msg != NULL) {
		if (msg->rcode == ns_r_servfail)
			reply.status = dns_map_status(ARES_ESERVFAIL, &reply.error);
		else if (msg->rcode == ns_r_refused)
			reply.status = dns_map_status(ARES_EREFUSED, &reply.error);
		else if (msg->rcode == ns_r_nxdomain)
			reply.status = dns_map_status(ARES_ENOTFOUND, &reply.error);
	}
	reply.msg = msg;
	reply.elapsed_ms = util_now_ms() - q->started_ms;
	q->cb(q->arg, &reply);
	dnsmsg_free(msg);
	free(perr);
	if (q->submitting)
		q->finished = 1;
	else
		free(q);
}

struct dns_query *
dns_query(struct dns_client *c, const char *name, int type, dns_cb cb, void *arg)
{
	struct dns_query *q = xcalloc(1, sizeof(*q));

	q->c = c;
	q->cb = cb;
	q->arg = arg;
	q->started_ms = util_now_ms();
	/* The callback may run synchronously (a bad name, no memory): then
	 * the query is over and the caller gets NULL, as dns.h says. */
	q->submitting = 1;
	ares_query(c->channel, name, ns_c_in, type, dns_answer, q);
	q->submitting = 0;
	if (q->finished) {
		free(q);
		return NULL;
	}
	dns_reset_timer(c);
	return q;
}

void
dns_query_cancel(struct dns_query *q)
{
	if (q != NULL)
		q->cb = NULL;
}

/* ---- host names to addresses ------------------------------------------------- */

struct dns_host_query {
	struct dns_client *c;
	dns_host_cb cb; /* NULL once cancelled */
	void *arg;
	int submitting;
	int finished;
};

static void
dns_host_answer(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct dns_host_query *q = arg;
	struct dns_host_reply reply;
	struct ares_addrinfo_node *n;

	(void)timeouts;
	if (q->cb != NULL) {
		memset(&reply, 0, sizeof(reply));
		reply.status = dns_map_status(status, &reply.error);
		if (status == ARES_ECONNREFUSED && q->c->tcp_seen)
			reply.error = DNS_TC_CLOSED_TEXT;
		/* IPv4 first, then IPv6: loopback labs and most hosts prefer v4. */
		for (int fam = 0; fam < 2 && ai != NULL; fam++) {
			for (n = ai->nodes; n != NULL && reply.n < DNS_HOST_MAX; n = n->ai_next) {
				if (n->ai_family != (fam == 0 ? AF_INET : AF_INET6))
					continue;
				reply.addrs[reply.n] = n->ai_addr;
				reply.addr_lens[reply.n] = (unsigned)n->ai_addrlen;
				reply.n++;
			}
		}
		if (reply.status == DNS_OK && reply.n == 0)
			reply.status = dns_map_status(ARES_ENODATA, &reply.error);
		q->cb(q->arg, &reply);
	}
	if (ai != NULL)
		ares_freeaddrinfo(ai);
	if (q->submitting)
		q->finished = 1;
	else
		free(q);
}

struct dns_host_query *
dns_resolve_host(struct dns_client *c, const char *name, dns_host_cb cb, void *arg)
{
	struct dns_host_query *q = xcalloc(1, sizeof(*q));
	struct ares_addrinfo_hints hints;

	q->c = c;
	q->cb = cb;
	q->arg = arg;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	q->submitting = 1;
	ares_getaddrinfo(c->channel, name, NULL, &hints, dns_host_answer, q);
	q->submitting = 0;
	if (q->finished) {
		free(q);
		return NULL;
	}
	dns_reset_timer(c);
	return q;
}

void
dns_host_cancel(struct dns_host_query *q)
{
	if (q != NULL)
		q->cb = NULL;
}
