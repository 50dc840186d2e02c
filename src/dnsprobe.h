/*
 * dnsprobe.h - one DNS question to one named server, for thousands of
 * servers at once over a few shared UDP sockets.
 *
 * A c-ares channel sends a query to "its" servers; asking 1,000 servers the
 * same question that way takes 1,000 channels and 1,000+ sockets. A dnsprobe
 * keeps a small pool of unconnected UDP sockets per address family (at most
 * DNSPROBE_MAX_SOCKETS each, a new one only when the others hold
 * DNSPROBE_PER_SOCKET queries), sends each query to its server with
 * sendto(), and matches an answer by socket, query ID, source address and
 * question: an answer from another address, or to another question, is
 * dropped. Queries are built by c-ares (ares_create_query, with EDNS0) and
 * answers parsed by dnsmsg_parse(); only the datagram transport is ours.
 *
 * - Query IDs are random (getrandom) and unique per socket among pending
 *   queries.
 * - Retransmission: TRIES attempts, each TIMEOUT_MS / TRIES; then
 *   DNS_TIMEOUT.
 * - "Port unreachable" (nothing listens there) comes back as DNS_CONNREFUSED:
 *   the sockets have IP_RECVERR / IPV6_RECVERR, and the error queue hands
 *   back the bounced datagram (so its ID) and its destination.
 * - A truncated answer (TC) is asked again over TCP by a one-off c-ares
 *   client for that server alone (dns.h), with the time left.
 * - Answers map to enum dns_status as dns.c's do (raw rcodes: SERVFAIL and
 *   REFUSED come back as such).
 *
 * Ownership: the dnsprobe lives on BASE and must be freed before it. A
 * query handle is valid until its callback returns or it is cancelled.
 */
#ifndef CUTOVER_DNSPROBE_H
#define CUTOVER_DNSPROBE_H

#include <stddef.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "dns.h"

#define DNSPROBE_MAX_SOCKETS 16 /* per address family */
#define DNSPROBE_PER_SOCKET 128 /* pending queries before another socket opens */

struct dnsprobe;
struct dnsprobe_query;

/*
 * A new probe on BASE. TIMEOUT_MS is one query's whole budget, split over
 * TRIES sends. Returns NULL with *ERR (caller frees) only when c-ares cannot
 * be initialised.
 */
struct dnsprobe *dnsprobe_new(struct event_base *base, int timeout_ms, int tries, char **err);
/* Close the sockets; pending queries end without their callbacks. NULL is fine. */
void dnsprobe_free(struct dnsprobe *d);
/* Sockets open now (for tests and benchmarks). */
size_t dnsprobe_sockets(const struct dnsprobe *d);

/*
 * Ask the server at SA (LEN bytes, AF_INET or AF_INET6) for TYPE of NAME,
 * class IN, with RD set unless FLAGS has DNS_FLAG_NORECURSE. CB runs exactly
 * once from the loop unless the query is cancelled. When the query cannot
 * even be sent (a bad name, no socket), CB has already run and NULL is
 * returned.
 */
struct dnsprobe_query *dnsprobe_query(struct dnsprobe *d, const struct sockaddr *sa, socklen_t len,
    const char *name, int type, unsigned flags, dns_cb cb, void *arg);
/* Stop caring about Q: its callback will not run. NULL is fine. */
void dnsprobe_cancel(struct dnsprobe_query *q);

/*
 * "1.2.3.4:53" or "[2001:db8::1]:53" (prop_server_parse's c-ares form) into
 * *SS and *LEN. Returns 0, or -1 when S is not in that form.
 */
int dnsprobe_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len);

#endif
