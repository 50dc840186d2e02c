/*
 * net.c - TCP connections with implicit TLS or STARTTLS on bufferevents.
 * See net.h.
 *
 * Life of a connection (one state enum, one setter: net_set_state):
 *
 *   NET_S_START -> NET_S_RESOLVE -> NET_S_CONNECT -> [NET_S_HANDSHAKE] -> NET_S_OPEN
 *   NET_S_OPEN  -> NET_S_HANDSHAKE (net_starttls) -> NET_S_OPEN
 *   any         -> NET_S_FAILED (exactly one NET_EV_ERROR is delivered)
 *
 * The first step always runs from a zero-delay timer so that no callback
 * fires inside net_connect(). Every address of the host is tried in turn
 * (IPv4 first) until one accepts the TCP connection.
 *
 * TLS contexts are cached per CA file (loading the system store costs
 * milliseconds; hundreds of mailboxes share one context).
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "dns.h"
#include "fdlimit.h"
#include "util.h"

/* Unread input kept at most; the protocol parsers consume as it comes. */
#define NET_READ_HIGH_WATER (256 * 1024)
#define NET_MAX_ADDRS DNS_HOST_MAX
/* Out of descriptors: try again after this wait, doubling up to the most. */
#define NET_FD_WAIT_MS 5
#define NET_FD_WAIT_MAX_MS 250

enum net_state {
	NET_S_START,
	NET_S_RESOLVE,
	NET_S_CONNECT,
	NET_S_HANDSHAKE,
	NET_S_OPEN,
	NET_S_FAILED,
};

struct net_conn {
	struct event_base *base;
	net_cb cb;
	void *arg;
	enum net_state state;
	char *host;
	int port;
	int implicit_tls;
	int insecure;
	int allow_old_tls;
	int is_ip;     /* host is an IP literal: no SNI, check the IP */
	int upgrading; /* the handshake is a STARTTLS upgrade */
	char *ca_file;
	struct dns_client *dns;
	struct dns_host_query *dq;
	struct event *kick;
	struct event *fd_wait; /* out of descriptors: the retry timer */
	int fd_wait_ms;        /* the next wait */
	int in_connect;        /* inside bufferevent_socket_connect (see there) */
	char connect_err[200]; /* an error libevent reported from inside it */
	struct sockaddr_storage addrs[NET_MAX_ADDRS];
	socklen_t addr_lens[NET_MAX_ADDRS];
	size_t n_addrs, cur;
	struct bufferevent *sock; /* the TCP bufferevent */
	struct bufferevent *bev;  /* what we read and write: sock or the TLS filter */
	SSL *ssl;
	void (*drain_cb)(void *arg); /* net_set_drain */
	void *drain_arg;
	enum net_error err;
	char err_text[320];
	char peer[INET6_ADDRSTRLEN + 16];
	struct tls_facts tls;
};

const char *
net_result_str(enum net_result r)
{
	switch (r) {
	case NET_RESULT_OK: return "ok";
	case NET_RESULT_AUTH_FAILED: return "auth_failed";
	case NET_RESULT_TLS_FAILED: return "tls_failed";
	case NET_RESULT_CONNECT_FAILED: return "connect_failed";
	case NET_RESULT_TIMEOUT: return "timeout";
	case NET_RESULT_PROTOCOL_ERROR: return "protocol_error";
	case NET_RESULT_PLAINTEXT_REFUSED: return "plaintext_refused";
	}
	return "protocol_error";
}

enum net_tls_mode
net_tls_mode_for(int implicit, int allow_plaintext)
{
	if (implicit)
		return NET_TLS_IMPLICIT;
	return allow_plaintext ? NET_TLS_PLAIN_ALLOWED : NET_TLS_STARTTLS;
}

/* ---- TLS contexts ------------------------------------------------------------ */

/* Only contexts that loaded are cached: a failure (even a lasting one) is
 * tried again by the next connection, so a transient one (out of
 * descriptors, EINTR, ENOMEM) never poisons the rest of the run. */
struct net_ctx_entry {
	char *ca_file; /* NULL: system store only */
	SSL_CTX *ctx;
	struct net_ctx_entry *next;
};

static struct net_ctx_entry *net_ctxs;

/* The last OpenSSL error as text ("" when none); clears the queue. */
static void
net_ssl_error(char *buf, size_t len, unsigned long e)
{
	if (e == 0)
		e = ERR_peek_last_error();
	if (e == 0) {
		snprintf(buf, len, "no details from OpenSSL");
	} else {
		const char *reason = ERR_reason_error_string(e);

		if (reason != NULL)
			snprintf(buf, len, "%s", reason);
		else
			ERR_error_string_n(e, buf, len);
	}
	ERR_clear_error();
}

/*
 * Why loading a file failed, from OpenSSL's queue: the system error when
 * there is one ("Too many open files", not OpenSSL's "system lib"), else
 * the last reason. Clears the queue. Returns the errno found, or 0.
 */
static int
net_load_error(char *buf, size_t len)
{
	unsigned long e;
	int sys = 0;

	snprintf(buf, len, "no details from OpenSSL");
	while ((e = ERR_get_error()) != 0) {
		const char *reason = ERR_reason_error_string(e);

		if (ERR_GET_LIB(e) == ERR_LIB_SYS && sys == 0)
			sys = ERR_GET_REASON(e);
		else if (reason != NULL)
			snprintf(buf, len, "%s", reason);
	}
	if (sys != 0)
		snprintf(buf, len, "%s", strerror(sys));
	ERR_clear_error();
	return sys;
}

SSL_CTX *
net_tls_context(const char *ca_file, char *err, size_t len, int *out_of_fds)
{
	struct net_ctx_entry *e;
	SSL_CTX *ctx;
	char buf[200];
	int sys, probe;

	*out_of_fds = 0;
	err[0] = '\0';
	for (e = net_ctxs; e != NULL; e = e->next) {
		if ((e->ca_file == NULL) != (ca_file == NULL))
			continue;
		if (ca_file == NULL || strcmp(e->ca_file, ca_file) == 0)
			return e->ctx;
	}
	/* OpenSSL swallows a failure to read the system store (the context
	 * would silently lack it for the whole run): make sure a descriptor is
	 * free first. Loading opens one file at a time. */
	probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (probe < 0) {
		snprintf(err, len, "cannot load the TLS trust anchors: %s", strerror(errno));
		*out_of_fds = fdlimit_exhausted(errno);
		return NULL;
	}
	close(probe);
	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		net_ssl_error(buf, sizeof(buf), 0);
		snprintf(err, len, "cannot create a TLS context: %s", buf);
		return NULL;
	}
	/* The handshake runs to the end; net_verified() decides. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	/* TLS 1.0 and 1.1 only work at OpenSSL's security level 0: lower it for
	 * the protocol, but keep certificate checks (key sizes, signature
	 * algorithms) at the default level through the verify parameters'
	 * authentication level, which each connection's chain check applies
	 * last. Whether old TLS may carry a password is net_event_cb's call. */
	X509_VERIFY_PARAM_set_auth_level(SSL_CTX_get0_param(ctx), SSL_CTX_get_security_level(ctx));
	SSL_CTX_set_security_level(ctx, 0);
	SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
	if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		/* No system store is fine (only --ca-file then); no descriptor
		 * to read it is not: that context would lack it for good. */
		sys = net_load_error(buf, sizeof(buf));
		if (fdlimit_exhausted(sys)) {
			snprintf(err, len, "cannot load the system's CA store: %s", buf);
			*out_of_fds = 1;
			SSL_CTX_free(ctx);
			return NULL;
		}
	}
	if (ca_file != NULL && SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
		sys = net_load_error(buf, sizeof(buf));
		snprintf(err, len, "cannot load the CA file %s: %s", ca_file, buf);
		*out_of_fds = fdlimit_exhausted(sys);
		SSL_CTX_free(ctx);
		return NULL;
	}
	e = xcalloc(1, sizeof(*e));
	e->ca_file = xstrdup(ca_file);
	e->ctx = ctx;
	e->next = net_ctxs;
	net_ctxs = e;
	return ctx;
}

void
net_cleanup(void)
{
	while (net_ctxs != NULL) {
		struct net_ctx_entry *e = net_ctxs;

		net_ctxs = e->next;
		SSL_CTX_free(e->ctx);
		free(e->ca_file);
		free(e);
	}
}

/* ---- state and events --------------------------------------------------------- */

/* The only way to change the state. */
static void
net_set_state(struct net_conn *c, enum net_state st)
{
	c->state = st;
}

/* Deliver EV; C may be freed by the callback, so this is the caller's last act. */
static void
net_emit(struct net_conn *c, enum net_event ev)
{
	c->cb(c, ev, c->arg);
}

static void net_fail(struct net_conn *c, enum net_error err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record the error, stop all I/O and deliver NET_EV_ERROR (last act). */
static void
net_fail(struct net_conn *c, enum net_error err, const char *fmt, ...)
{
	va_list ap;

	if (c->state == NET_S_FAILED)
		return;
	va_start(ap, fmt);
	vsnprintf(c->err_text, sizeof(c->err_text), fmt, ap);
	va_end(ap);
	c->err = err;
	net_set_state(c, NET_S_FAILED);
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	net_emit(c, NET_EV_ERROR);
}

static void
net_format_peer(struct net_conn *c, const struct sockaddr *sa)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof(ip));
		snprintf(c->peer, sizeof(c->peer), "[%s]:%d", ip, c->port);
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof(ip));
		snprintf(c->peer, sizeof(c->peer), "%s:%d", ip, c->port);
	}
}

/* After a handshake: fill c->tls and say whether it verified. */
static int
net_collect_tls(struct net_conn *c)
{
	X509 *peer = SSL_get1_peer_certificate(c->ssl);
	long v = SSL_get_verify_result(c->ssl);

	c->tls.done = 1;
	tls_facts_build(&c->tls, c->ssl, peer);
	if (peer == NULL) {
		c->tls.verified = 0;
		snprintf(c->tls.verify_error, sizeof(c->tls.verify_error),
		    "the server sent no certificate");
		return 0;
	}
	X509_free(peer);
	c->tls.verified = v == X509_V_OK;
	if (v == X509_V_OK)
		c->tls.verify_error[0] = '\0';
	else if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH)
		tls_facts_host_mismatch(&c->tls, c->host);
	else
		snprintf(c->tls.verify_error, sizeof(c->tls.verify_error), "%s",
		    X509_verify_cert_error_string(v));
	return c->tls.verified;
}

/* ---- reading and TLS events ------------------------------------------------ */

static void
net_read_cb(struct bufferevent *bev, void *arg)
{
	struct net_conn *c = arg;

	(void)bev;
	if (c->state == NET_S_OPEN)
		net_emit(c, NET_EV_READ);
}

/* The output buffer drained to its low watermark (net_set_drain). */
static void
net_write_cb(struct bufferevent *bev, void *arg)
{
	struct net_conn *c = arg;

	(void)bev;
	if (c->state == NET_S_OPEN && c->drain_cb != NULL)
		c->drain_cb(c->drain_arg);
}

/* Text for an error event on BEV: OpenSSL's queue first, then errno. */
static void
net_bev_error(struct net_conn *c, struct bufferevent *bev, char *buf, size_t len)
{
	unsigned long e = c->ssl != NULL ? bufferevent_get_openssl_error(bev) : 0;
	int se = EVUTIL_SOCKET_ERROR();

	if (e != 0)
		net_ssl_error(buf, len, e);
	else if (se != 0)
		snprintf(buf, len, "%s", evutil_socket_error_to_string(se));
	else
		snprintf(buf, len, "connection closed");
}

static void
net_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct net_conn *c = arg;
	char buf[200];

	if (c->state == NET_S_HANDSHAKE) {
		if (what & BEV_EVENT_CONNECTED) {
			int ok = net_collect_tls(c);
			int upgrade = c->upgrading;

			if (!ok && !c->insecure) {
				net_fail(c, NET_ERR_VERIFY, "certificate of %s does not verify: %s",
				    c->host, c->tls.verify_error);
				return;
			}
			if (SSL_version(c->ssl) < TLS1_2_VERSION && !c->allow_old_tls) {
				net_fail(c, NET_ERR_TLS,
				    "%s negotiated %s, " NET_OLD_TLS_MARK " (Microsoft 365 "
				    "refuses it): no password is sent over it without "
				    "--allow-old-tls",
				    c->peer, c->tls.version);
				return;
			}
			net_set_state(c, NET_S_OPEN);
			bufferevent_enable(c->bev, EV_READ | EV_WRITE);
			/* libevent 2.1 may read application data (a greeting sent
			 * right after the server's Finished) before it reports the
			 * handshake done: net_read_cb dropped that read event, so
			 * deliver it again from the loop, after the event below. */
			if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
				bufferevent_trigger(c->bev, EV_READ,
				    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
			net_emit(c, upgrade ? NET_EV_TLS_DONE : NET_EV_CONNECTED);
			return;
		}
		if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
			if ((what & BEV_EVENT_EOF) && bufferevent_get_openssl_error(bev) == 0) {
				net_fail(c, NET_ERR_TLS,
				    "TLS handshake with %s failed: the server "
				    "closed the connection",
				    c->peer);
				return;
			}
			net_bev_error(c, bev, buf, sizeof(buf));
			net_fail(c, NET_ERR_TLS, "TLS handshake with %s failed: %s%s", c->peer, buf,
			    strstr(buf, "wrong version") != NULL
			        ? " (is this port plain text? use "
			          "STARTTLS or the implicit-TLS port)"
			        : "");
		}
		return;
	}
	if (c->state != NET_S_OPEN)
		return;
	if (what & BEV_EVENT_EOF) {
		net_fail(c, NET_ERR_CLOSED, "%s closed the connection", c->peer);
	} else if (what & BEV_EVENT_ERROR) {
		net_bev_error(c, bev, buf, sizeof(buf));
		net_fail(c, NET_ERR_IO, "connection to %s failed: %s", c->peer, buf);
	}
}

/* ---- out of descriptors ---------------------------------------------------------- */

static void net_connect_next(struct net_conn *c, const char *last_err);
static int net_start_handshake(struct net_conn *c);

/* The wait is over: redo the step that found no descriptor. */
static void
net_fd_retry(evutil_socket_t fd, short what, void *arg)
{
	struct net_conn *c = arg;

	(void)fd;
	(void)what;
	if (c->state == NET_S_HANDSHAKE && c->ssl == NULL)
		net_start_handshake(c);
	else
		net_connect_next(c, NULL);
}

/* Run net_fd_retry after a short wait, doubling up to NET_FD_WAIT_MAX_MS. */
static void
net_fd_wait_arm(struct net_conn *c)
{
	struct timeval tv;

	if (c->fd_wait == NULL) {
		c->fd_wait = evtimer_new(c->base, net_fd_retry, c);
		if (c->fd_wait == NULL)
			abort();
	}
	c->fd_wait_ms = c->fd_wait_ms == 0           ? NET_FD_WAIT_MS
	    : c->fd_wait_ms * 2 > NET_FD_WAIT_MAX_MS ? NET_FD_WAIT_MAX_MS
	                                             : c->fd_wait_ms * 2;
	tv.tv_sec = c->fd_wait_ms / 1000;
	tv.tv_usec = (c->fd_wait_ms % 1000) * 1000;
	evtimer_add(c->fd_wait, &tv);
}

/* Loading the trust anchors found no descriptor: start the handshake again
 * later. Nothing is read or written meanwhile (the state says handshake). */
static void
net_wait_for_tls(struct net_conn *c)
{
	net_set_state(c, NET_S_HANDSHAKE);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	net_fd_wait_arm(c);
}

/* Put a TLS filter on the socket bufferevent and start the handshake. */
static int
net_start_handshake(struct net_conn *c)
{
	char err[320];
	int out_of_fds;
	SSL_CTX *ctx = net_tls_context(c->ca_file, err, sizeof(err), &out_of_fds);
	struct bufferevent *f;
	char buf[200];

	if (ctx == NULL && out_of_fds) {
		/* Another connection will free a descriptor: try again then. */
		net_wait_for_tls(c);
		return 0;
	}
	if (ctx == NULL) {
		net_fail(c, NET_ERR_TLS, "%s", err);
		return -1;
	}
	c->ssl = SSL_new(ctx);
	if (c->ssl == NULL) {
		net_ssl_error(buf, sizeof(buf), 0);
		net_fail(c, NET_ERR_TLS, "cannot start TLS: %s", buf);
		return -1;
	}
	if (c->is_ip) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);

		X509_VERIFY_PARAM_set1_ip_asc(vp, c->host);
	} else {
		SSL_set_tlsext_host_name(c->ssl, c->host); /* SNI, RFC 6066 section 3 */
		SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		SSL_set1_host(c->ssl, c->host);
	}
	net_set_state(c, NET_S_HANDSHAKE);
	f = bufferevent_openssl_filter_new(
	    c->base, c->sock, c->ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (f == NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
		net_fail(c, NET_ERR_TLS, "cannot start TLS on the connection");
		return -1;
	}
	/* The filter owns the socket bufferevent and the SSL from here. */
	c->bev = f;
	bufferevent_openssl_set_allow_dirty_shutdown(f, 1);
	bufferevent_setcb(f, net_read_cb, net_write_cb, net_event_cb, c);
	bufferevent_setwatermark(f, EV_READ, 0, NET_READ_HIGH_WATER);
	bufferevent_enable(f, EV_READ | EV_WRITE);
	return 0;
}

int
net_starttls(struct net_conn *c)
{
	if (c->state != NET_S_OPEN || c->ssl != NULL) {
		snprintf(c->err_text, sizeof(c->err_text), "TLS already active or not connected");
		c->err = NET_ERR_TLS;
		return -1;
	}
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
		snprintf(c->err_text, sizeof(c->err_text),
		    "%s sent data before the TLS "
		    "handshake (not allowed after STARTTLS/STLS; possible injection)",
		    c->peer);
		c->err = NET_ERR_TLS;
		return -1;
	}
	c->upgrading = 1;
	bufferevent_disable(c->bev, EV_READ);
	net_start_handshake(c);
	return 0;
}

/* ---- connecting ----------------------------------------------------------------- */

static void
net_sock_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct net_conn *c = arg;
	char buf[200];

	if (c->state != NET_S_CONNECT) {
		net_event_cb(bev, what, arg);
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		if (c->implicit_tls) {
			net_start_handshake(c);
			return;
		}
		net_set_state(c, NET_S_OPEN);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		net_emit(c, NET_EV_CONNECTED);
		return;
	}
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
		int se = EVUTIL_SOCKET_ERROR();

		snprintf(buf, sizeof(buf), "%s",
		    se != 0 ? evutil_socket_error_to_string(se) : "connection failed");
		if (c->in_connect) {
			snprintf(c->connect_err, sizeof(c->connect_err), "%s", buf);
			return;
		}
		net_connect_next(c, buf);
	}
}

/*
 * The process (EMFILE) or the system (ENFILE) is out of descriptors: another
 * connection will free one soon. Step back to the current address and try it
 * again after a short wait, with no error; the task's deadline still holds.
 */
static void
net_wait_for_fd(struct net_conn *c)
{
	c->cur--;
	net_fd_wait_arm(c);
}

/* Try the next address; after the last one, fail with LAST_ERR. */
static void
net_connect_next(struct net_conn *c, const char *last_err)
{
	char reason[200];

	snprintf(reason, sizeof(reason), "%s", last_err != NULL ? last_err : "no address");
	while (c->cur < c->n_addrs) {
		const struct sockaddr *sa = (const struct sockaddr *)&c->addrs[c->cur];
		socklen_t len = c->addr_lens[c->cur];
		int fd, rc;

		c->cur++;
		if (c->sock != NULL) {
			bufferevent_free(c->sock);
			c->sock = c->bev = NULL;
		}
		net_format_peer(c, sa);
		/* Our own socket, so that running out of descriptors is seen here
		 * (libevent would report it as a failed connect). */
		fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			if (fdlimit_exhausted(errno)) {
				net_wait_for_fd(c);
				return;
			}
			snprintf(reason, sizeof(reason), "%s", strerror(errno));
			continue;
		}
		c->sock = bufferevent_socket_new(c->base, fd, BEV_OPT_CLOSE_ON_FREE);
		if (c->sock == NULL)
			abort();
		c->bev = c->sock;
		bufferevent_setcb(c->sock, net_read_cb, net_write_cb, net_sock_event_cb, c);
		bufferevent_setwatermark(c->sock, EV_READ, 0, NET_READ_HIGH_WATER);
		net_set_state(c, NET_S_CONNECT);
		/* An immediate failure calls the event callback from inside the
		 * connect (libevent 2.1): it only notes the error (in_connect) and
		 * the loop here goes on to the next address. */
		c->in_connect = 1;
		c->connect_err[0] = '\0';
		rc =
		    bufferevent_socket_connect(c->sock, (struct sockaddr *)(uintptr_t)sa, (int)len);
		c->in_connect = 0;
		if (rc == 0)
			return; /* net_sock_event_cb continues */
		snprintf(reason, sizeof(reason), "%s",
		    c->connect_err[0] != '\0'
		        ? c->connect_err
		        : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	}
	if (c->n_addrs > 1)
		net_fail(c, NET_ERR_CONNECT,
		    "cannot connect to %s port %d (%zu addresses tried, "
		    "last %s): %s",
		    c->host, c->port, c->n_addrs, c->peer, reason);
	else
		net_fail(c, NET_ERR_CONNECT, "cannot connect to %s: %s", c->peer, reason);
}

static void
net_add_addr(struct net_conn *c, const struct sockaddr *sa, socklen_t len)
{
	if (c->n_addrs == NET_MAX_ADDRS || len > sizeof(c->addrs[0]))
		return;
	memcpy(&c->addrs[c->n_addrs], sa, len);
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)&c->addrs[c->n_addrs])->sin_port = htons((uint16_t)c->port);
	else
		((struct sockaddr_in6 *)&c->addrs[c->n_addrs])->sin6_port =
		    htons((uint16_t)c->port);
	c->addr_lens[c->n_addrs++] = len;
}

static void
net_resolved(void *arg, const struct dns_host_reply *reply)
{
	struct net_conn *c = arg;

	c->dq = NULL;
	if (reply->status != DNS_OK) {
		net_fail(c, NET_ERR_RESOLVE, "cannot resolve %s: %s", c->host, reply->error);
		return;
	}
	for (size_t i = 0; i < reply->n; i++)
		net_add_addr(c, reply->addrs[i], reply->addr_lens[i]);
	net_connect_next(c, NULL);
}

/* Fill the addresses for an IP literal or localhost; 1 when done. */
static int
net_literal_addrs(struct net_conn *c)
{
	struct sockaddr_in a4;
	struct sockaddr_in6 a6;

	memset(&a4, 0, sizeof(a4));
	memset(&a6, 0, sizeof(a6));
	a4.sin_family = AF_INET;
	a6.sin6_family = AF_INET6;
	if (inet_pton(AF_INET, c->host, &a4.sin_addr) == 1) {
		c->is_ip = 1;
		net_add_addr(c, (struct sockaddr *)&a4, sizeof(a4));
		return 1;
	}
	if (inet_pton(AF_INET6, c->host, &a6.sin6_addr) == 1) {
		c->is_ip = 1;
		net_add_addr(c, (struct sockaddr *)&a6, sizeof(a6));
		return 1;
	}
	/* RFC 6761 section 6.3: localhost is the loopback, never asked of DNS. */
	if (util_strieq(c->host, "localhost") || util_strieq(c->host, "localhost.")) {
		inet_pton(AF_INET, "127.0.0.1", &a4.sin_addr);
		inet_pton(AF_INET6, "::1", &a6.sin6_addr);
		net_add_addr(c, (struct sockaddr *)&a4, sizeof(a4));
		net_add_addr(c, (struct sockaddr *)&a6, sizeof(a6));
		return 1;
	}
	return 0;
}

static void
net_kick(evutil_socket_t fd, short what, void *arg)
{
	struct net_conn *c = arg;

	(void)fd;
	(void)what;
	if (net_literal_addrs(c)) {
		net_connect_next(c, NULL);
		return;
	}
	if (c->dns == NULL) {
		net_fail(c, NET_ERR_RESOLVE, "cannot resolve %s: no resolver", c->host);
		return;
	}
	net_set_state(c, NET_S_RESOLVE);
	/* May call net_resolved at once (then returns NULL). */
	c->dq = dns_resolve_host(c->dns, c->host, net_resolved, c);
}

struct net_conn *
net_connect(struct event_base *base, const struct net_params *p, net_cb cb, void *arg)
{
	struct net_conn *c = xcalloc(1, sizeof(*c));
	struct timeval zero = {0, 0};

	c->base = base;
	c->cb = cb;
	c->arg = arg;
	c->host = xstrdup(p->host);
	c->port = p->port;
	c->implicit_tls = p->implicit_tls;
	c->insecure = p->insecure;
	c->allow_old_tls = p->allow_old_tls;
	c->ca_file = xstrdup(p->ca_file);
	c->dns = p->dns;
	snprintf(c->peer, sizeof(c->peer), "%s:%d", c->host, c->port);
	net_set_state(c, NET_S_START);
	c->kick = evtimer_new(base, net_kick, c);
	if (c->kick == NULL)
		abort();
	evtimer_add(c->kick, &zero);
	return c;
}

void
net_write(struct net_conn *c, const void *data, size_t len)
{
	if (c->bev != NULL && c->state == NET_S_OPEN)
		bufferevent_write(c->bev, data, len);
}

size_t
net_output_len(const struct net_conn *c)
{
	size_t n = 0;

	if (c->bev != NULL)
		n += evbuffer_get_length(bufferevent_get_output(c->bev));
	if (c->sock != NULL && c->sock != c->bev)
		n += evbuffer_get_length(bufferevent_get_output(c->sock));
	return n;
}

void
net_read_enable(struct net_conn *c, int on)
{
	if (c->bev == NULL || c->state != NET_S_OPEN)
		return;
	if (on)
		bufferevent_enable(c->bev, EV_READ);
	else
		bufferevent_disable(c->bev, EV_READ);
}

void
net_set_drain(struct net_conn *c, size_t low, void (*cb)(void *arg), void *arg)
{
	c->drain_cb = cb;
	c->drain_arg = arg;
	if (c->bev != NULL)
		bufferevent_setwatermark(c->bev, EV_WRITE, low, 0);
}

struct evbuffer *
net_input(struct net_conn *c)
{
	return bufferevent_get_input(c->bev);
}

const struct tls_facts *
net_tls(const struct net_conn *c)
{
	return &c->tls;
}

int
net_is_tls(const struct net_conn *c)
{
	return c->ssl != NULL && c->tls.done;
}

enum net_error
net_error(const struct net_conn *c)
{
	return c->err;
}

const char *
net_error_text(const struct net_conn *c)
{
	return c->err_text;
}

const char *
net_peer(const struct net_conn *c)
{
	return c->peer;
}

static void
net_ignore(struct net_conn *c, enum net_event ev, void *arg)
{
	(void)c;
	(void)ev;
	(void)arg;
}

void
net_detach(struct net_conn *c)
{
	c->cb = net_ignore;
	c->arg = NULL;
}

void
net_free(struct net_conn *c)
{
	if (c == NULL)
		return;
	dns_host_cancel(c->dq);
	if (c->kick != NULL)
		event_free(c->kick);
	if (c->fd_wait != NULL)
		event_free(c->fd_wait);
	/* The TLS filter owns the socket bufferevent and the SSL. */
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	else if (c->sock != NULL)
		bufferevent_free(c->sock);
	if (c->ssl != NULL && c->bev == NULL)
		SSL_free(c->ssl);
	free(c->host);
	free(c->ca_file);
	free(c);
}
