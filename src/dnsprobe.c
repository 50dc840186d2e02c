/*
 * dnsprobe.c - many DNS servers over a few UDP sockets. See dnsprobe.h.
 *
 * Only the datagram transport is written here: packets are built by c-ares
 * and parsed by dnsmsg_parse() (libresolv). Invariants: a pending query sits
 * in its socket's by_id[] slot and has its timer armed; it leaves both
 * before its callback runs (dnsprobe_end), so a callback may start or cancel
 * any other query. ID matching follows RFC 1035 section 7.3 (ID, question,
 * and here also the server's address and port); RFC 5452 section 9.1 for
 * random IDs.
 */
#include "dnsprobe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <ares.h>

#include "util.h"

#define DNSPROBE_EDNS_SIZE 1232 /* the DNS flag day 2020 UDP size */
#define DNSPROBE_MAX_BURST 512  /* datagrams read per wake-up, then back to the loop */

struct dnsprobe_sock {
	struct dnsprobe *d;
	int fd;
	int family;
	struct event *ev;
	struct dnsprobe_query **by_id; /* 65536 slots */
	size_t n_pending;
};

struct dnsprobe_query {
	struct dnsprobe *d;
	struct dnsprobe_sock *sock; /* NULL once off the socket (TCP, done) */
	uint16_t id;
	struct sockaddr_storage sa;
	socklen_t salen;
	unsigned char *pkt; /* ares_create_query's, ares_free_string */
	int pkt_len;
	char *name;
	int type;
	unsigned flags;
	int tries_left;
	int64_t started_ms;
	struct event *timer;
	dns_cb cb; /* NULL once cancelled */
	void *arg;
	int in_cb;              /* inside its callback: freed after it returns */
	struct dns_client *tcp; /* truncation fallback */
	struct dns_query *tcpq;
};

struct dnsprobe {
	struct event_base *base;
	int timeout_ms, tries;
	struct dnsprobe_sock *socks[2][DNSPROBE_MAX_SOCKETS]; /* [0] IPv4, [1] IPv6 */
	size_t n_socks[2];
	/* c-ares clients of finished TCP fallbacks: freed from the loop, never
	 * inside their own callback. */
	struct dns_client **reap;
	size_t n_reap, cap_reap;
	struct event *reaper;
	unsigned char rnd[512];
	size_t rnd_left;
	unsigned char buf[65536];
};

static void dnsprobe_read(evutil_socket_t fd, short what, void *arg);
static void dnsprobe_timeout(evutil_socket_t fd, short what, void *arg);

int
dnsprobe_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *colon;
	long long port;
	size_t n;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		struct sockaddr_in6 *sa6 = (struct sockaddr_in6 *)ss;

		if (close == NULL || close[1] != ':' || (n = (size_t)(close - s - 1)) == 0 ||
		    n >= sizeof(addr))
			return -1;
		memcpy(addr, s + 1, n);
		addr[n] = '\0';
		if (inet_pton(AF_INET6, addr, &sa6->sin6_addr) != 1 ||
		    util_parse_int(close + 2, 1, 65535, &port) != 0)
			return -1;
		sa6->sin6_family = AF_INET6;
		sa6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sa6);
		return 0;
	}
	colon = strchr(s, ':');
	if (colon == NULL || (n = (size_t)(colon - s)) == 0 || n >= sizeof(addr))
		return -1;
	memcpy(addr, s, n);
	addr[n] = '\0';
	{
		struct sockaddr_in *sa4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, addr, &sa4->sin_addr) != 1 ||
		    util_parse_int(colon + 1, 1, 65535, &port) != 0)
			return -1;
		sa4->sin_family = AF_INET;
		sa4->sin_port = htons((uint16_t)port);
		*len = sizeof(*sa4);
	}
	return 0;
}

/* Same address and port? */
static int
dnsprobe_same(const struct sockaddr_storage *a, const void *b, socklen_t blen)
{
	const struct sockaddr *sb = b;

	if (blen < (socklen_t)sizeof(sa_family_t) || a->ss_family != sb->sa_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = b;

		return blen >= (socklen_t)sizeof(*y) && x->sin_port == y->sin_port &&
		    x->sin_addr.s_addr == y->sin_addr.s_addr;
	} else {
		const struct sockaddr_in6 *x = (const void *)a, *y = b;

		return blen >= (socklen_t)sizeof(*y) && x->sin6_port == y->sin6_port &&
		    memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
}

static uint16_t
dnsprobe_random16(struct dnsprobe *d)
{
	uint16_t v;

	if (d->rnd_left < 2) {
		ssize_t n = getrandom(d->rnd, sizeof(d->rnd), 0);

		if (n != (ssize_t)sizeof(d->rnd))
			abort(); /* the kernel's CSPRNG is not optional */
		d->rnd_left = sizeof(d->rnd);
	}
	d->rnd_left -= 2;
	memcpy(&v, d->rnd + d->rnd_left, 2);
	return v;
}

/* ---- sockets -------------------------------------------------------------- */

static struct dnsprobe_sock *
dnsprobe_sock_open(struct dnsprobe *d, int v6)
{
	struct dnsprobe_sock *s;
	int fd, on = 1, rcvbuf = 4 << 20;

	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	/* ICMP errors into the error queue (port unreachable = connection refused). */
	if (v6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof(on));
	else
		(void)setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof(on));
	/* A round's answers arrive in a burst; the kernel caps this at rmem_max. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	s = xcalloc(1, sizeof(*s));
	s->d = d;
	s->fd = fd;
	s->family = v6 ? AF_INET6 : AF_INET;
	s->by_id = xcalloc(65536, sizeof(s->by_id[0]));
	s->ev = event_new(d->base, fd, EV_READ | EV_PERSIST, dnsprobe_read, s);
	if (s->ev == NULL)
		abort();
	event_add(s->ev, NULL);
	return s;
}

/* The socket for a new query to FAMILY: the least busy one, or a new one
 * when every socket holds DNSPROBE_PER_SOCKET queries (up to the cap). */
static struct dnsprobe_sock *
dnsprobe_sock_pick(struct dnsprobe *d, int family)
{
	int v6 = family == AF_INET6;
	struct dnsprobe_sock *best = NULL;

	for (size_t i = 0; i < d->n_socks[v6]; i++)
		if (best == NULL || d->socks[v6][i]->n_pending < best->n_pending)
			best = d->socks[v6][i];
	if ((best == NULL || best->n_pending >= DNSPROBE_PER_SOCKET) &&
	    d->n_socks[v6] < DNSPROBE_MAX_SOCKETS) {
		struct dnsprobe_sock *s = dnsprobe_sock_open(d, v6);

		if (s != NULL) {
			d->socks[v6][d->n_socks[v6]++] = s;
			best = s;
		}
	}
	if (best != NULL && best->n_pending >= 65536 - 1)
		return NULL; /* every ID of every socket is in use */
	return best;
}

/* ---- queries -------------------------------------------------------------- */

/* Take Q off its socket and timer (it stays allocated). */
static void
dnsprobe_detach(struct dnsprobe_query *q)
{
	if (q->sock != NULL) {
		q->sock->by_id[q->id] = NULL;
		q->sock->n_pending--;
		q->sock = NULL;
	}
	if (q->timer != NULL)
		evtimer_del(q->timer);
}

static void
dnsprobe_query_free(struct dnsprobe_query *q)
{
	dnsprobe_detach(q);
	if (q->timer != NULL)
		event_free(q->timer);
	dns_query_cancel(q->tcpq);
	dns_client_free(q->tcp);
	if (q->pkt != NULL)
		ares_free_string(q->pkt);
	free(q->name);
	free(q);
}

/* Hand the reply to the caller and free Q. */
static void
dnsprobe_end(struct dnsprobe_query *q, const struct dns_reply *reply)
{
	dnsprobe_detach(q);
	if (q->cb != NULL) {
		q->in_cb = 1;
		q->cb(q->arg, reply);
		q->in_cb = 0;
	}
	dnsprobe_query_free(q);
}

static void
dnsprobe_end_status(struct dnsprobe_query *q, enum dns_status st, const char *error)
{
	struct dns_reply reply;

	memset(&reply, 0, sizeof(reply));
	reply.status = st;
	reply.error = error;
	reply.elapsed_ms = util_now_ms() - q->started_ms;
	dnsprobe_end(q, &reply);
}

static int
dnsprobe_send(struct dnsprobe_query *q)
{
	ssize_t n = -1;

	/* A pending ICMP error (sk_err) fails the next send on the socket, whatever
	 * its destination: that error is about another datagram (the error queue
	 * has it), so send again. */
	for (int attempt = 0; attempt < 4; attempt++) {
		n = sendto(q->sock->fd, q->pkt, (size_t)q->pkt_len, 0, (struct sockaddr *)&q->sa,
		    q->salen);
		if (n == q->pkt_len)
			return 0;
		if (n >= 0 || (errno != ECONNREFUSED && errno != EHOSTUNREACH && errno != EINTR))
			break;
	}
	/* Still another datagram's error, a full send buffer: the retransmission
	 * timer tries again. Anything else (no route at all) ends the query. */
	if (n < 0 &&
	    (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == EINTR || errno == EAGAIN ||
	        errno == ENOBUFS))
		return 0;
	return -1;
}

static void
dnsprobe_arm(struct dnsprobe_query *q)
{
	int per_try = q->d->timeout_ms / (q->d->tries > 0 ? q->d->tries : 1);
	struct timeval tv;

	if (per_try < 50)
		per_try = 50;
	tv.tv_sec = per_try / 1000;
	tv.tv_usec = (per_try % 1000) * 1000;
	evtimer_add(q->timer, &tv);
}

static void
dnsprobe_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct dnsprobe_query *q = arg;

	(void)fd;
	(void)what;
	if (q->sock == NULL)
		return;
	if (--q->tries_left > 0 && dnsprobe_send(q) == 0) {
		dnsprobe_arm(q);
		return;
	}
	dnsprobe_end_status(q, DNS_TIMEOUT, "no answer (timeout)");
}

struct dnsprobe_query *
dnsprobe_query(struct dnsprobe *d, const struct sockaddr *sa, socklen_t len, const char *name,
    int type, unsigned flags, dns_cb cb, void *arg)
{
	struct dnsprobe_query *q = xcalloc(1, sizeof(*q));
	struct dnsprobe_sock *s;
	int r;

	q->d = d;
	q->cb = cb;
	q->arg = arg;
	q->name = xstrdup(name);
	q->type = type;
	q->flags = flags;
	q->tries_left = d->tries > 0 ? d->tries : 1;
	q->started_ms = util_now_ms();
	if (len > (socklen_t)sizeof(q->sa))
		len = sizeof(q->sa);
	memcpy(&q->sa, sa, len);
	q->salen = len;
	q->timer = evtimer_new(d->base, dnsprobe_timeout, q);
	if (q->timer == NULL)
		abort();
	r = ares_create_query(name, 1 /* IN */, type, 0, !(flags & DNS_FLAG_NORECURSE), &q->pkt,
	    &q->pkt_len, DNSPROBE_EDNS_SIZE);
	if (r != ARES_SUCCESS || q->pkt_len < 12) {
		dnsprobe_end_status(
		    q, DNS_ERROR, r == ARES_EBADNAME ? "not a valid DNS name" : ares_strerror(r));
		return NULL;
	}
	s = dnsprobe_sock_pick(d, sa->sa_family);
	if (s == NULL) {
		dnsprobe_end_status(
		    q, DNS_ERROR, "cannot open a UDP socket for this address family");
		return NULL;
	}
	do
		q->id = dnsprobe_random16(d);
	while (s->by_id[q->id] != NULL);
	q->pkt[0] = (unsigned char)(q->id >> 8);
	q->pkt[1] = (unsigned char)(q->id & 0xff);
	q->sock = s;
	s->by_id[q->id] = q;
	s->n_pending++;
	if (dnsprobe_send(q) != 0) {
		dnsprobe_end_status(q, DNS_ERROR,
		    errno == ENETUNREACH ? "cannot send the query: "
		                           "network unreachable (no route to that address)"
		                         : "cannot send the query");
		return NULL;
	}
	dnsprobe_arm(q);
	return q;
}

void
dnsprobe_cancel(struct dnsprobe_query *q)
{
	if (q == NULL)
		return;
	q->cb = NULL;
	if (!q->in_cb)
		dnsprobe_query_free(q);
}

/* ---- answers -------------------------------------------------------------- */

static void
dnsprobe_reap_event(evutil_socket_t fd, short what, void *arg)
{
	struct dnsprobe *d = arg;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < d->n_reap; i++)
		dns_client_free(d->reap[i]);
	d->n_reap = 0;
}

static void
dnsprobe_tcp_cb(void *arg, const struct dns_reply *reply)
{
	struct dnsprobe_query *q = arg;
	struct dnsprobe *d = q->d;
	struct timeval now = {0, 0};

	/* The client must not be freed inside its own callback: reap it later. */
	if (d->n_reap == d->cap_reap) {
		d->cap_reap = d->cap_reap ? d->cap_reap * 2 : 8;
		d->reap = xrealloc(d->reap, d->cap_reap * sizeof(d->reap[0]));
	}
	d->reap[d->n_reap++] = q->tcp;
	q->tcp = NULL;
	q->tcpq = NULL;
	evtimer_add(d->reaper, &now);
	dnsprobe_end(q, reply);
}

/* A truncated answer: ask the same server again over TCP (RFC 7766). */
static void
dnsprobe_truncated(struct dnsprobe_query *q)
{
	char addr[INET6_ADDRSTRLEN], server[INET6_ADDRSTRLEN + 10], *err = NULL;
	const char *servers[1] = {server};
	int64_t left = q->d->timeout_ms - (util_now_ms() - q->started_ms);
	unsigned port;

	dnsprobe_detach(q);
	if (q->sa.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sa6 = (const void *)&q->sa;

		inet_ntop(AF_INET6, &sa6->sin6_addr, addr, sizeof(addr));
		port = ntohs(sa6->sin6_port);
		snprintf(server, sizeof(server), "[%s]:%u", addr, port);
	} else {
		const struct sockaddr_in *sa4 = (const void *)&q->sa;

		inet_ntop(AF_INET, &sa4->sin_addr, addr, sizeof(addr));
		port = ntohs(sa4->sin_port);
		snprintf(server, sizeof(server), "%s:%u", addr, port);
	}
	q->tcp = dns_client_new(q->d->base, servers, 1, q->flags | DNS_FLAG_RAW_RCODE,
	    left > 500 ? (int)left : 500, 1, &err);
	if (q->tcp == NULL) {
		dnsprobe_end_status(q, DNS_ERROR, "truncated answer, and TCP could not be tried");
		free(err);
		return;
	}
	q->tcpq = dns_query(q->tcp, q->name, q->type, dnsprobe_tcp_cb, q);
}

/* The status of an answer, as dns.c gives it for c-ares' (raw rcodes). */
static void
dnsprobe_status(const struct dnsmsg *msg, struct dns_reply *reply)
{
	size_t answers = 0;

	for (size_t i = 0; i < msg->n_rr; i++)
		if (msg->rr[i].section == DNSMSG_ANSWER)
			answers++;
	switch (msg->rcode) {
	case 0:
		reply->status = answers > 0 ? DNS_OK : DNS_NODATA;
		reply->error = answers > 0 ? "ok" : "no record of that type (NODATA)";
		break;
	case 2:
		reply->status = DNS_SERVFAIL;
		reply->error = "server failure (SERVFAIL)";
		break;
	case 3:
		reply->status = DNS_NXDOMAIN;
		reply->error = "name does not exist (NXDOMAIN)";
		break;
	case 5:
		reply->status = DNS_REFUSED;
		reply->error = "query refused (REFUSED)";
		break;
	case 1:
		reply->status = DNS_ERROR;
		reply->error = "format error (FORMERR)";
		break;
	case 4:
		reply->status = DNS_ERROR;
		reply->error = "not implemented (NOTIMP)";
		break;
	default:
		reply->status = DNS_ERROR;
		reply->error = "unexpected response code";
		break;
	}
}

static void
dnsprobe_answer(struct dnsprobe_sock *s, const unsigned char *buf, size_t len,
    const struct sockaddr_storage *from, socklen_t fromlen)
{
	struct dnsprobe_query *q;
	struct dnsmsg *msg = NULL;
	struct dns_reply reply;
	char *err = NULL;
	uint16_t id;

	if (len < 12)
		return;
	id = (uint16_t)(buf[0] << 8 | buf[1]);
	q = s->by_id[id];
	/* Only the server asked may answer (RFC 5452 section 9.1). */
	if (q == NULL || !dnsprobe_same(&q->sa, from, fromlen))
		return;
	if (!(buf[2] & 0x80))
		return; /* QR=0: a query, not an answer */
	memset(&reply, 0, sizeof(reply));
	if (dnsmsg_parse(buf, len, &msg, &err) != 0) {
		/* The header matched, so this is that server's broken answer. */
		reply.status = DNS_MALFORMED;
		reply.error = err;
		reply.elapsed_ms = util_now_ms() - q->started_ms;
		dnsprobe_end(q, &reply);
		free(err);
		return;
	}
	if (msg->qname == NULL || msg->qtype != q->type || !util_strieq(msg->qname, q->name)) {
		dnsmsg_free(msg);
		return; /* another question: not ours */
	}
	if (msg->tc) {
		dnsmsg_free(msg);
		dnsprobe_truncated(q);
		return;
	}
	dnsprobe_status(msg, &reply);
	reply.msg = msg;
	reply.elapsed_ms = util_now_ms() - q->started_ms;
	dnsprobe_end(q, &reply);
	dnsmsg_free(msg);
}

/* One message from the error queue: an ICMP error about one of our datagrams. */
static int
dnsprobe_errqueue(struct dnsprobe_sock *s)
{
	struct sockaddr_storage dst;
	unsigned char payload[64], control[512];
	struct iovec iov = {payload, sizeof(payload)};
	struct msghdr mh;
	struct cmsghdr *cm;
	const struct sock_extended_err *ee = NULL;
	struct dnsprobe_query *q;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	mh.msg_name = &dst;
	mh.msg_namelen = sizeof(dst);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = control;
	mh.msg_controllen = sizeof(control);
	n = recvmsg(s->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT);
	if (n < 0)
		return -1;
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm))
		if ((cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_RECVERR) ||
		    (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_RECVERR))
			ee = (const struct sock_extended_err *)CMSG_DATA(cm);
	if (ee == NULL || n < 2 ||
	    (ee->ee_origin != SO_EE_ORIGIN_ICMP && ee->ee_origin != SO_EE_ORIGIN_ICMP6))
		return 0;
	/* The bounced datagram is our query: its first two bytes are the ID. */
	q = s->by_id[(uint16_t)(payload[0] << 8 | payload[1])];
	if (q == NULL || !dnsprobe_same(&q->sa, &dst, mh.msg_namelen))
		return 0;
	if (ee->ee_errno == ECONNREFUSED)
		dnsprobe_end_status(q, DNS_CONNREFUSED, "connection refused: no DNS server there");
	else if (ee->ee_errno == EHOSTUNREACH || ee->ee_errno == ENETUNREACH)
		dnsprobe_end_status(q, DNS_ERROR,
		    ee->ee_errno == EHOSTUNREACH ? "host unreachable (ICMP)"
		                                 : "network unreachable (ICMP)");
	return 0;
}

static void
dnsprobe_read(evutil_socket_t fd, short what, void *arg)
{
	struct dnsprobe_sock *s = arg;
	struct dnsprobe *d = s->d;

	(void)what;
	for (int i = 0; i < DNSPROBE_MAX_BURST; i++) {
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof(from);
		ssize_t n;

		while (dnsprobe_errqueue(s) == 0)
			;
		n = recvfrom(
		    fd, d->buf, sizeof(d->buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			continue; /* an ICMP error reported here: the error queue has it */
		}
		dnsprobe_answer(s, d->buf, (size_t)n, &from, fromlen);
	}
}

/* ---- probe ---------------------------------------------------------------- */

struct dnsprobe *
dnsprobe_new(struct event_base *base, int timeout_ms, int tries, char **err)
{
	struct dnsprobe *d = xcalloc(1, sizeof(*d));

	*err = NULL;
	d->base = base;
	d->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
	d->tries = tries > 0 ? tries : 1;
	d->reaper = evtimer_new(base, dnsprobe_reap_event, d);
	if (d->reaper == NULL) {
		*err = xstrdup("cannot create a libevent timer");
		free(d);
		return NULL;
	}
	return d;
}

size_t
dnsprobe_sockets(const struct dnsprobe *d)
{
	return d->n_socks[0] + d->n_socks[1];
}

void
dnsprobe_free(struct dnsprobe *d)
{
	if (d == NULL)
		return;
	for (int v6 = 0; v6 < 2; v6++) {
		for (size_t i = 0; i < d->n_socks[v6]; i++) {
			struct dnsprobe_sock *s = d->socks[v6][i];

			for (size_t id = 0; id < 65536 && s->n_pending > 0; id++) {
				if (s->by_id[id] != NULL) {
					s->by_id[id]->cb = NULL;
					dnsprobe_query_free(s->by_id[id]);
				}
			}
			event_free(s->ev);
			close(s->fd);
			free(s->by_id);
			free(s);
		}
	}
	dnsprobe_reap_event(-1, 0, d);
	event_free(d->reaper);
	free(d->reap);
	free(d);
}
