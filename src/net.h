/*
 * net.h - one TCP connection on the runner's loop, with TLS.
 *
 * A net_conn is a libevent bufferevent: a socket bufferevent for the TCP
 * connection and, once TLS starts, an OpenSSL filter bufferevent on top of
 * it (bufferevent_openssl_filter_new). Implicit TLS (993, 995) starts the
 * filter right after the TCP connect; STARTTLS/STLS starts the same filter
 * in place when the protocol asks for it (net_starttls). Nothing blocks:
 * host names are resolved with c-ares (dns_resolve_host; IP literals and
 * "localhost" without asking anyone, RFC 6761 section 6.3), the connect is
 * non-blocking, and deadlines are the runner's (the task's cancel frees the
 * connection).
 *
 * Certificates are verified against the system store plus the --ca-file,
 * with the host name (or IP literal) checked, and SNI sent for names. The
 * handshake always runs to the end so that the facts a user needs can be
 * shown (version, cipher, subject, issuer, notAfter, days left, the verify
 * error); only then does a certificate that does not verify end the
 * connection with NET_ERR_VERIFY, unless the connection is insecure.
 * TLS 1.0 and 1.1 are negotiated (so that an old server can be named, and
 * Microsoft 365 refuses both), but such a connection ends with NET_ERR_TLS
 * right after the handshake unless allow_old_tls is set: a protocol client
 * sets it only when it sends no password (a probe) or with --allow-old-tls.
 *
 * Callbacks: every event is delivered through one callback, from the loop,
 * never from inside net_connect/net_starttls/net_write. The callback may
 * call net_free on the connection.
 */
#ifndef CUTOVER_NET_H
#define CUTOVER_NET_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "tlsfacts.h"

struct dns_client;
struct net_conn;

/*
 * The outcome of a protocol session as the report names it (DESIGN.md:
 * imap.login and pop3.login "result"); shared by imap.c and pop3.c.
 */
enum net_result {
	NET_RESULT_OK = 0,
	NET_RESULT_AUTH_FAILED,       /* the server said no to the credentials */
	NET_RESULT_TLS_FAILED,        /* handshake failed or certificate did not verify */
	NET_RESULT_CONNECT_FAILED,    /* name, route or port: no TCP connection */
	NET_RESULT_TIMEOUT,           /* the deadline passed */
	NET_RESULT_PROTOCOL_ERROR,    /* the server said something we cannot accept */
	NET_RESULT_PLAINTEXT_REFUSED, /* we would have had to send a password in clear */
};

/* "ok", "auth_failed", "tls_failed", "connect_failed", "timeout",
 * "protocol_error", "plaintext_refused". */
const char *net_result_str(enum net_result r);

/* In the error text of a connection that ended because TLS 1.0/1.1 was
 * negotiated without allow_old_tls, and in the summaries that report it. */
#define NET_OLD_TLS_MARK "below TLS 1.2"

/*
 * How a mail session gets TLS: the one mapping of a URL's scheme (imaps://,
 * pop3s:// = implicit) and --allow-plaintext, for IMAP and POP3 alike.
 */
enum net_tls_mode {
	NET_TLS_IMPLICIT,      /* imaps://, pop3s:// */
	NET_TLS_STARTTLS,      /* imap://, pop3:// : STARTTLS/STLS required */
	NET_TLS_PLAIN_ALLOWED, /* imap://, pop3:// with --allow-plaintext: plain unless the
	                          server offers the upgrade or refuses plaintext logins */
};

/* IMPLICIT when the URL asks for implicit TLS, else by ALLOW_PLAINTEXT. */
enum net_tls_mode net_tls_mode_for(int implicit, int allow_plaintext);

enum net_error {
	NET_ERR_NONE = 0,
	NET_ERR_RESOLVE, /* host name did not resolve */
	NET_ERR_CONNECT, /* refused, unreachable, ... (every address tried) */
	NET_ERR_TLS,     /* TLS handshake failed (or the CA file did not load) */
	NET_ERR_VERIFY,  /* handshake done, certificate did not verify */
	NET_ERR_CLOSED,  /* the peer closed the connection */
	NET_ERR_IO,      /* read/write error after connecting */
};

enum net_event {
	NET_EV_CONNECTED, /* TCP up; with implicit TLS: handshake done (and verified) */
	NET_EV_TLS_DONE,  /* net_starttls finished: the connection is now TLS */
	NET_EV_READ,      /* new bytes in net_input() */
	NET_EV_ERROR,     /* see net_error()/net_error_text(); no more events */
};

struct net_params {
	const char *host; /* name or IP literal (no brackets); copied */
	int port;
	int implicit_tls;       /* start TLS right after the connect */
	const char *ca_file;    /* extra trust anchors, or NULL */
	int insecure;           /* do not end the connection when verification fails */
	int allow_old_tls;      /* TLS 1.0/1.1 may carry data; otherwise such a handshake
	                           ends in NET_ERR_TLS (nothing is sent over it) */
	struct dns_client *dns; /* resolver for names (runner_dns) */
};

typedef void (*net_cb)(struct net_conn *c, enum net_event ev, void *arg);

/*
 * Start connecting to P->host:P->port. CB receives NET_EV_CONNECTED or
 * NET_EV_ERROR first, then NET_EV_READ/NET_EV_TLS_DONE/NET_EV_ERROR. Returns
 * the connection (caller frees with net_free); never NULL.
 */
struct net_conn *net_connect(
    struct event_base *base, const struct net_params *p, net_cb cb, void *arg);

/*
 * Upgrade a plaintext connection to TLS in place (STARTTLS, STLS). Unread
 * plaintext input is an error (a server or a man in the middle injecting
 * data before the handshake, CVE-2011-0411): returns -1 then, with
 * NET_ERR_TLS set, and the caller should treat it as a protocol error.
 * Otherwise returns 0 and NET_EV_TLS_DONE or NET_EV_ERROR follows.
 */
int net_starttls(struct net_conn *c);

/* Queue LEN bytes for sending (copied). */
void net_write(struct net_conn *c, const void *data, size_t len);

/*
 * Flow control, for copying from one connection into another with bounded
 * memory (cutover sync): the bytes queued for sending and not yet taken by
 * the kernel (TLS layer included); stop or resume reading (input already
 * buffered stays, at most 256 KiB); and a callback run from the loop when
 * the output buffer drained to LOW bytes or less (NULL CB: none). The
 * callback may be called while net_output_len() is still above LOW (the TLS
 * layer's own buffer); callers check again.
 */
size_t net_output_len(const struct net_conn *c);
void net_read_enable(struct net_conn *c, int on);
void net_set_drain(struct net_conn *c, size_t low, void (*cb)(void *arg), void *arg);

/* The bytes received and not yet consumed; the caller drains what it used. */
struct evbuffer *net_input(struct net_conn *c);

/* The TLS facts (done is 0 before a handshake completed). */
const struct tls_facts *net_tls(const struct net_conn *c);
/* Whether the connection is encrypted now. */
int net_is_tls(const struct net_conn *c);

/* The error after NET_EV_ERROR, and a readable reason ("connection refused
 * by 127.0.0.1:10993"). The text never contains data sent by the caller. */
enum net_error net_error(const struct net_conn *c);
const char *net_error_text(const struct net_conn *c);

/* The address connected to ("127.0.0.1:10993", "[::1]:993") or the host. */
const char *net_peer(const struct net_conn *c);

/* From now on C delivers no event (a session that gave up this connection
 * from inside its callback frees it later, outside). */
void net_detach(struct net_conn *c);

/* Close and free; pending events are dropped. NULL is fine. */
void net_free(struct net_conn *c);

/*
 * The TLS client context every connection with CA_FILE (NULL: the system
 * store only) shares: created and loaded on first use, and cached only when
 * that worked. On failure returns NULL with ERR (LEN bytes) saying why in
 * the system's words ("cannot load the CA file ca.pem: Too many open
 * files"), and *OUT_OF_FDS set when it was for want of a descriptor (try
 * again once one is free); the next call tries again. Exposed for tests.
 */
struct ssl_ctx_st *net_tls_context(const char *ca_file, char *err, size_t len, int *out_of_fds);

/* Free the cached TLS contexts (at exit; optional). */
void net_cleanup(void);

#endif
