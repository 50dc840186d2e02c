/*
 * http.c - libcurl multi-socket glue for libevent, and http_fetch on top of
 * it. See http.h.
 *
 * The pattern is curl's docs/examples/multi-event.c: one event per socket
 * libcurl asks us to watch, one timer for libcurl's own timeouts, and after
 * every action a sweep of curl_multi_info_read() for finished transfers.
 *
 * TLS facts: libcurl (OpenSSL backend) gives each connection its own SSL_CTX
 * and lets us adjust it (CURLOPT_SSL_CTX_FUNCTION). We keep OpenSSL's verify
 * mode and decision as they are and only wrap the verify callback to record
 * the leaf certificate and the first verification error; CURLINFO_CERTINFO
 * would describe only certificates that verified. With --insecure, libcurl
 * still verifies against the usual trust anchors (so the facts stay
 * precise) and our callback accepts whatever it finds; only libcurl's own
 * host-name check is switched off (ours still runs). A fresh connection without
 * session reuse (opts->fresh) makes sure a handshake happens every time.
 */
#include "http.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "dns.h"
#include "dnsmsg.h"
#include "net.h"
#include "strbuf.h"
#include "util.h"

struct http_client {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	struct http_request *reqs; /* in flight, to free on shutdown */
	int in_callback;
};

struct http_request {
	struct http_client *c;
	CURL *easy;
	http_cb cb;
	void *arg;
	struct strbuf body; /* capped at the request's max_body */
	int truncated;
	struct curl_slist *resolve, *headers, *connect_to;
	char *req_body;
	char *host; /* the URL's host, for the certificate check */
	char *content_type;
	char *challenges[HTTP_MAX_CHALLENGES];
	size_t n_challenges;
	struct tls_facts tls;
	int host_checked;
	int insecure;   /* accept any certificate, but still judge it */
	int old_tls_ok; /* TLS 1.0/1.1 may carry this request */
	char errbuf[CURL_ERROR_SIZE];
	struct http_request *prev, *next;
};

struct http_sock {
	struct event *ev;
};

static int http_library_users;
static int http_ssl_index = -1;

static void http_check_done(struct http_client *c);

static void
http_unlink(struct http_request *r)
{
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		r->c->reqs = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
}

static void
http_clear_challenges(struct http_request *r)
{
	for (size_t i = 0; i < r->n_challenges; i++)
		free(r->challenges[i]);
	r->n_challenges = 0;
}

static void
http_request_free(struct http_request *r)
{
	curl_multi_remove_handle(r->c->multi, r->easy);
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->resolve);
	curl_slist_free_all(r->headers);
	curl_slist_free_all(r->connect_to);
	http_clear_challenges(r);
	free(r->content_type);
	free(r->host);
	free(r->req_body);
	strbuf_free(&r->body);
	free(r);
}

static void
http_sock_event(evutil_socket_t fd, short what, void *arg)
{
	struct http_client *c = arg;
	int mask =
	    ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
	int running;

	curl_multi_socket_action(c->multi, fd, mask, &running);
	http_check_done(c);
}

static void
http_timer_event(evutil_socket_t fd, short what, void *arg)
{
	struct http_client *c = arg;
	int running;

	(void)fd;
	(void)what;
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	http_check_done(c);
}

static int
http_socket_cb(CURL *easy, curl_socket_t s, int action, void *userp, void *socketp)
{
	struct http_client *c = userp;
	struct http_sock *hs = socketp;
	short what;

	(void)easy;
	if (action == CURL_POLL_REMOVE) {
		if (hs != NULL) {
			event_free(hs->ev);
			free(hs);
			curl_multi_assign(c->multi, s, NULL);
		}
		return 0;
	}
	what = (short)(EV_PERSIST | ((action & CURL_POLL_IN) ? EV_READ : 0) |
	    ((action & CURL_POLL_OUT) ? EV_WRITE : 0));
	if (hs == NULL) {
		hs = xcalloc(1, sizeof(*hs));
		curl_multi_assign(c->multi, s, hs);
	} else {
		event_free(hs->ev);
	}
	hs->ev = event_new(c->base, s, what, http_sock_event, c);
	if (hs->ev == NULL)
		abort();
	event_add(hs->ev, NULL);
	return 0;
}

static int
http_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_client *c = userp;
	struct timeval tv;

	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(c->timer);
		return 0;
	}
	/* 0 means "now": still go through the loop, never recurse into curl. */
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(c->timer, &tv);
	return 0;
}

static size_t
http_write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct http_request *r = userp;
	size_t n = size * nmemb;

	if (strbuf_append(&r->body, data, n) != 0) {
		r->truncated = 1;
		return 0; /* makes curl fail with CURLE_WRITE_ERROR: bounded */
	}
	return n;
}

/* One header line. A status line starts a new response (after a 100 or a
 * followed redirect): only the last response's headers are kept. libcurl
 * itself bounds a header line (CURL_MAX_HTTP_HEADER); we bound what we keep. */
static size_t
http_header_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct http_request *r = userp;
	size_t n = size * nmemb, len = n;
	const char *colon, *v;

	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		http_clear_challenges(r);
		free(r->content_type);
		r->content_type = NULL;
		return n;
	}
	while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n' || data[len - 1] == ' '))
		len--;
	colon = memchr(data, ':', len);
	if (colon == NULL)
		return n;
	v = colon + 1;
	while (v < data + len && (*v == ' ' || *v == '\t'))
		v++;
	if ((size_t)(colon - data) == 16 && strncasecmp(data, "WWW-Authenticate", 16) == 0) {
		size_t vlen = (size_t)(data + len - v);

		if (r->n_challenges < HTTP_MAX_CHALLENGES)
			r->challenges[r->n_challenges++] = xstrndup(
			    v, vlen < HTTP_MAX_CHALLENGE_LEN ? vlen : HTTP_MAX_CHALLENGE_LEN);
	} else if ((size_t)(colon - data) == 12 && strncasecmp(data, "Content-Type", 12) == 0) {
		size_t vlen = (size_t)(data + len - v);

		free(r->content_type);
		r->content_type = xstrndup(v, vlen < 256 ? vlen : 256);
	}
	return n;
}

/* ---- TLS facts ------------------------------------------------------------ */

static struct http_request *
http_request_of_ssl(const SSL *ssl)
{
	if (ssl == NULL || http_ssl_index < 0)
		return NULL;
	return SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), http_ssl_index);
}

/*
 * OpenSSL's verify callback, wrapped: record the leaf and the first error,
 * then return OpenSSL's own verdict unchanged (so --insecure still means
 * SSL_VERIFY_NONE and the default still fails the handshake). libcurl checks
 * the host name after the handshake; we check it here too so that "verified"
 * holds the whole truth even when verification is off.
 */
static int
http_verify_cb(int preverify_ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct http_request *r = http_request_of_ssl(ssl);
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);

	if (r == NULL)
		return preverify_ok;
	/* The version is settled by now (ServerHello came first): end the
	 * handshake before a password could follow it over old TLS. */
	if (!r->old_tls_ok && SSL_version(ssl) < TLS1_2_VERSION) {
		tls_facts_build(&r->tls, ssl, NULL);
		snprintf(r->tls.verify_error, sizeof(r->tls.verify_error),
		    "the server negotiated %s, " NET_OLD_TLS_MARK " (Microsoft 365 refuses it): no "
		    "password is sent over it without --allow-old-tls",
		    SSL_get_version(ssl));
		X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	if (!r->tls.present && leaf != NULL)
		tls_facts_build(&r->tls, NULL, leaf);
	if (!preverify_ok && r->tls.verify_error[0] == '\0')
		snprintf(r->tls.verify_error, sizeof(r->tls.verify_error), "%s",
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(xs)));
	if (preverify_ok && X509_STORE_CTX_get_error_depth(xs) == 0 && !r->host_checked &&
	    leaf != NULL && r->host != NULL) {
		unsigned char ip[16];
		int is_ip =
		    inet_pton(AF_INET, r->host, ip) == 1 || inet_pton(AF_INET6, r->host, ip) == 1;
		int ok = is_ip ? X509_check_ip_asc(leaf, r->host, 0) == 1
		               : X509_check_host(leaf, r->host, 0, 0, NULL) == 1;

		r->host_checked = 1;
		if (!ok && r->tls.verify_error[0] == '\0')
			tls_facts_host_mismatch(&r->tls, r->host);
	}
	if (r->insecure) {
		/* --insecure: the facts are recorded, the handshake goes on, and
		 * libcurl's later look at the verify result finds nothing wrong. */
		X509_STORE_CTX_set_error(xs, X509_V_OK);
		return 1;
	}
	return preverify_ok;
}

static void
http_info_cb(const SSL *ssl, int where, int ret)
{
	struct http_request *r = http_request_of_ssl(ssl);

	(void)ret;
	if (r == NULL || !(where & SSL_CB_HANDSHAKE_DONE))
		return;
	tls_facts_build(&r->tls, ssl, NULL);
}

static CURLcode
http_ssl_ctx_cb(CURL *easy, void *sslctx, void *userp)
{
	SSL_CTX *ctx = sslctx;

	(void)easy;
	SSL_CTX_set_ex_data(ctx, http_ssl_index, userp);
	/* libcurl makes a context per connection. TLS 1.0/1.1 need OpenSSL's
	 * security level 0 (so that an old server is reported, not just
	 * refused); certificate checks keep the default level through the
	 * verify parameters' authentication level (as src/net.c). */
	X509_VERIFY_PARAM_set_auth_level(SSL_CTX_get0_param(ctx), SSL_CTX_get_security_level(ctx));
	SSL_CTX_set_security_level(ctx, 0);
	SSL_CTX_set_verify(ctx, SSL_CTX_get_verify_mode(ctx), http_verify_cb);
	SSL_CTX_set_info_callback(ctx, http_info_cb);
	return CURLE_OK;
}

/* ---- completion ------------------------------------------------------------- */

static double
http_ms(CURL *easy, CURLINFO info)
{
	curl_off_t us = 0;

	curl_easy_getinfo(easy, info, &us);
	return us / 1000.0;
}

static int
http_tls_failure(int code)
{
	return code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CONNECT_ERROR ||
	    code == CURLE_SSL_CERTPROBLEM || code == CURLE_SSL_CACERT_BADFILE ||
	    code == CURLE_SSL_ISSUER_ERROR || code == CURLE_SSL_PINNEDPUBKEYNOTMATCH;
}

static void
http_check_done(struct http_client *c)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
		struct http_request *r = NULL;
		struct http_response resp;
		char *url = NULL, *loc = NULL, *ip = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		memset(&resp, 0, sizeof(resp));
		resp.curl_code = m->data.result;
		if (r->truncated) {
			resp.error = "response body larger than the limit";
		} else if (m->data.result == CURLE_OUT_OF_MEMORY && r->errbuf[0] == '\0') {
			/* libcurl 7.x reports a header line over its 100 KB limit
			 * (CURL_MAX_HTTP_HEADER) as "Out of memory". */
			resp.error = "response header too long (over 100 KB)";
		} else if (m->data.result != CURLE_OK) {
			resp.error =
			    r->errbuf[0] != '\0' ? r->errbuf : curl_easy_strerror(m->data.result);
		}
		resp.timed_out = m->data.result == CURLE_OPERATION_TIMEDOUT;
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp.status);
		curl_easy_getinfo(r->easy, CURLINFO_EFFECTIVE_URL, &url);
		curl_easy_getinfo(r->easy, CURLINFO_REDIRECT_COUNT, &resp.redirects);
		curl_easy_getinfo(r->easy, CURLINFO_REDIRECT_URL, &loc);
		curl_easy_getinfo(r->easy, CURLINFO_PRIMARY_IP, &ip);
		resp.final_url = url;
		resp.location = resp.status >= 300 && resp.status < 400 ? loc : NULL;
		resp.primary_ip = ip != NULL && ip[0] != '\0' ? ip : NULL;
		resp.content_type = r->content_type;
		resp.www_authenticate = (const char *const *)r->challenges;
		resp.n_www_authenticate = r->n_challenges;
		resp.body = strbuf_str(&r->body);
		resp.body_len = r->body.len;
		resp.body_truncated = r->truncated;
		resp.tls = r->tls;
		if (resp.tls.present) {
			if (resp.tls.verify_error[0] == '\0' && http_tls_failure(resp.curl_code))
				snprintf(resp.tls.verify_error, sizeof(resp.tls.verify_error), "%s",
				    resp.error);
			resp.tls.verified = resp.tls.verify_error[0] == '\0';
		} else if (http_tls_failure(resp.curl_code)) {
			snprintf(
			    resp.tls.verify_error, sizeof(resp.tls.verify_error), "%s", resp.error);
		}
		resp.ms_dns = http_ms(r->easy, CURLINFO_NAMELOOKUP_TIME_T);
		resp.ms_connect = http_ms(r->easy, CURLINFO_CONNECT_TIME_T);
		resp.ms_tls = http_ms(r->easy, CURLINFO_APPCONNECT_TIME_T);
		resp.ms_first_byte = http_ms(r->easy, CURLINFO_STARTTRANSFER_TIME_T);
		resp.ms_total = http_ms(r->easy, CURLINFO_TOTAL_TIME_T);
		http_unlink(r);
		r->cb(r->arg, &resp);
		http_request_free(r);
	}
}

struct http_client *
http_client_new(struct event_base *base, char **err)
{
	struct http_client *c = xcalloc(1, sizeof(*c));

	*err = NULL;
	if (http_library_users++ == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		*err = xstrdup("cannot initialise libcurl");
		free(c);
		http_library_users--;
		return NULL;
	}
	if (http_ssl_index < 0)
		http_ssl_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	c->base = base;
	c->multi = curl_multi_init();
	c->timer = evtimer_new(base, http_timer_event, c);
	if (c->multi == NULL || c->timer == NULL)
		abort();
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, http_socket_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, http_timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	return c;
}

void
http_client_free(struct http_client *c)
{
	if (c == NULL)
		return;
	while (c->reqs != NULL) {
		struct http_request *r = c->reqs;

		http_unlink(r);
		http_request_free(r);
	}
	curl_multi_cleanup(c->multi);
	event_free(c->timer);
	free(c);
	if (--http_library_users == 0)
		curl_global_cleanup();
}

/* The host of URL (without IPv6 brackets), or NULL. Caller frees. */
static char *
http_url_host(const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL, *out = NULL;
	size_t n;

	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
		out = xstrndup(host + 1, n - 2);
	else
		out = xstrdup(host);
out:
	curl_free(host);
	curl_url_cleanup(u);
	return out;
}

struct http_request *
http_request(struct http_client *c, const struct http_request_opts *o, http_cb cb, void *arg)
{
	struct http_request *r = xcalloc(1, sizeof(*r));
	CURL *e = curl_easy_init();

	if (e == NULL)
		abort();
	r->c = c;
	r->easy = e;
	r->cb = cb;
	r->arg = arg;
	strbuf_init(&r->body, o->max_body ? o->max_body : HTTP_DEFAULT_MAX_BODY);
	r->host = http_url_host(o->url);
	curl_easy_setopt(e, CURLOPT_URL, o->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, http_header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, http_ssl_ctx_cb);
	curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, r);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "cutover/" CUTOVER_VERSION);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	if (o->max_redirects > 0) {
		curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(e, CURLOPT_MAXREDIRS, o->max_redirects);
	}
	if (o->timeout_ms > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
	if (o->ca_file != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
	r->old_tls_ok = o->allow_old_tls || (o->username == NULL && o->bearer == NULL);
	if (o->insecure) {
		r->insecure = 1;
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (o->fresh) {
		curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
		curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L);
	}
	for (size_t i = 0; o->resolve != NULL && o->resolve[i] != NULL; i++)
		r->resolve = curl_slist_append(r->resolve, o->resolve[i]);
	if (r->resolve != NULL)
		curl_easy_setopt(e, CURLOPT_RESOLVE, r->resolve);
	for (size_t i = 0; o->connect_to != NULL && o->connect_to[i] != NULL; i++)
		r->connect_to = curl_slist_append(r->connect_to, o->connect_to[i]);
	if (r->connect_to != NULL)
		curl_easy_setopt(e, CURLOPT_CONNECT_TO, r->connect_to);
	if (o->username != NULL) {
		/* libcurl keeps its own copies; ours are never stored. */
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERNAME, o->username);
		curl_easy_setopt(e, CURLOPT_PASSWORD, o->password != NULL ? o->password : "");
	} else if (o->bearer != NULL) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, o->bearer);
	}
	if (o->body != NULL) {
		r->req_body = xstrdup(o->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->req_body);
		if (o->content_type != NULL) {
			char *h = xasprintf("Content-Type: %s", o->content_type);

			r->headers = curl_slist_append(r->headers, h);
			free(h);
			curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
		}
	}
	if (o->method != NULL)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, o->method);
	r->next = c->reqs;
	if (c->reqs != NULL)
		c->reqs->prev = r;
	c->reqs = r;
	/* curl_multi_add_handle only arms the timer: the transfer starts from
	 * the loop, so the callback never runs inside this call. */
	curl_multi_add_handle(c->multi, e);
	return r;
}

void
http_request_cancel(struct http_request *r)
{
	if (r == NULL)
		return;
	http_unlink(r);
	http_request_free(r);
}

/* ---- http_fetch --------------------------------------------------------------- */

#define FETCH_MAX_CNAMES 8
#define FETCH_MAX_ADDRS 8
/* CURLOPT_RESOLVE's address list: FETCH_MAX_ADDRS "[IPv6]" and commas fit. */
#define HTTP_RESOLVE_MAX 1024

struct http_fetch {
	struct http_client *c;
	http_fetch_cb cb;
	void *arg;
	/* options, copied */
	char *method, *body, *content_type, *username, *password, *bearer, *ca_file;
	char **connect_to;
	size_t n_connect_to;
	int max_redirects, keep_method, insecure, allow_old_tls;
	size_t max_body;
	int64_t started_ms, deadline_ms;
	struct dns_client *dns;
	char *first_host;
	/* the hops */
	struct http_hop hops[HTTP_FETCH_MAX_HOPS + 1];
	size_t n_hops;
	/* the current hop */
	char *host, *conn_host, *scheme;
	int port, conn_port;
	char *qname; /* name being looked up */
	int qtype;
	int cname_links;
	int64_t dns_started_ms;
	struct dns_query *q;
	char *addrs[FETCH_MAX_ADDRS];
	size_t n_addrs;
	struct http_request *req;
	/* the end */
	enum http_fetch_end end;
	char *error;
	char *body_last;
	size_t body_len;
	int body_truncated;
	char *content_type_last;
	struct event *finish_ev;
};

const char *
http_fetch_end_str(enum http_fetch_end end)
{
	switch (end) {
	case HTTP_FETCH_OK: return "ok";
	case HTTP_FETCH_DNS_FAILED: return "dns_failed";
	case HTTP_FETCH_TRANSFER_FAILED: return "transfer_failed";
	case HTTP_FETCH_REDIRECT_LOOP: return "redirect_loop";
	case HTTP_FETCH_TOO_MANY_REDIRECTS: return "too_many_redirects";
	case HTTP_FETCH_BAD_REDIRECT: return "bad_redirect";
	}
	return "error";
}

static void
http_hop_clear(struct http_hop *h)
{
	free(h->url);
	free(h->method);
	free(h->location);
	free(h->error);
	free(h->address);
	for (size_t i = 0; i < h->n_cnames; i++)
		free(h->cnames[i]);
	free(h->cnames);
	for (size_t i = 0; i < h->n_www_authenticate; i++)
		free(h->www_authenticate[i]);
	free(h->www_authenticate);
	memset(h, 0, sizeof(*h));
}

static void
http_fetch_clear_addrs(struct http_fetch *f)
{
	for (size_t i = 0; i < f->n_addrs; i++)
		free(f->addrs[i]);
	f->n_addrs = 0;
}

static void
http_fetch_free(struct http_fetch *f)
{
	for (size_t i = 0; i < f->n_hops; i++)
		http_hop_clear(&f->hops[i]);
	for (size_t i = 0; i < f->n_connect_to; i++)
		free(f->connect_to[i]);
	free(f->connect_to);
	http_fetch_clear_addrs(f);
	free(f->method);
	free(f->body);
	free(f->content_type);
	free(f->username);
	util_free_secret(f->password);
	util_free_secret(f->bearer);
	free(f->ca_file);
	free(f->first_host);
	free(f->host);
	free(f->conn_host);
	free(f->scheme);
	free(f->qname);
	free(f->error);
	free(f->body_last);
	free(f->content_type_last);
	if (f->finish_ev != NULL)
		event_free(f->finish_ev);
	free(f);
}

void
http_fetch_cancel(struct http_fetch *f)
{
	if (f == NULL)
		return;
	dns_query_cancel(f->q);
	http_request_cancel(f->req);
	http_fetch_free(f);
}

static void
http_fetch_finish_event(evutil_socket_t fd, short what, void *arg)
{
	struct http_fetch *f = arg;
	struct http_fetch_result res;

	(void)fd;
	(void)what;
	memset(&res, 0, sizeof(res));
	res.end = f->end;
	res.error = f->error;
	res.hops = f->hops;
	res.n_hops = f->n_hops;
	res.last = &f->hops[f->n_hops - 1];
	res.body = f->body_last != NULL ? f->body_last : "";
	res.body_len = f->body_len;
	res.body_truncated = f->body_truncated;
	res.content_type = f->content_type_last;
	res.ms_total = (double)(util_now_ms() - f->started_ms);
	f->cb(f->arg, &res);
	http_fetch_free(f);
}

/* End the fetch; the callback runs from the loop (never inside http_fetch()). */
static void http_fetch_end(struct http_fetch *f, enum http_fetch_end end, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
http_fetch_end(struct http_fetch *f, enum http_fetch_end end, const char *fmt, ...)
{
	struct timeval now = {0, 0};
	va_list ap;

	f->end = end;
	if (fmt != NULL) {
		va_start(ap, fmt);
		f->error = xvasprintf(fmt, ap);
		va_end(ap);
		if (f->n_hops > 0 && f->hops[f->n_hops - 1].error == NULL)
			f->hops[f->n_hops - 1].error = xstrdup(f->error);
	}
	f->finish_ev = evtimer_new(f->c->base, http_fetch_finish_event, f);
	if (f->finish_ev == NULL)
		abort();
	evtimer_add(f->finish_ev, &now);
}

static int
http_is_ip(const char *host)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* IPv6 addresses go in brackets in CURLOPT_RESOLVE / CONNECT_TO entries. */
static char *
http_bracket(const char *addr)
{
	return strchr(addr, ':') != NULL ? xasprintf("[%s]", addr) : xstrdup(addr);
}

static void http_fetch_response(void *arg, const struct http_response *resp);

static void
http_fetch_transfer(struct http_fetch *f)
{
	struct http_hop *hop = &f->hops[f->n_hops - 1];
	struct http_request_opts ro;
	const char *resolve[2] = {NULL, NULL}, *connect_to[2] = {NULL, NULL};
	char *resolve_entry = NULL, *connect_entry = NULL;
	int64_t left = f->deadline_ms - util_now_ms();
	int https = strcmp(f->scheme, "https") == 0;

	if (left <= 0) {
		hop->timed_out = 1;
		http_fetch_end(f, HTTP_FETCH_TRANSFER_FAILED, "timed out before connecting to %s",
		    f->conn_host);
		return;
	}
	memset(&ro, 0, sizeof(ro));
	if (f->n_addrs > 0) {
		struct strbuf list;

		strbuf_init(&list, HTTP_RESOLVE_MAX);
		for (size_t i = 0; i < f->n_addrs; i++) {
			char *b = http_bracket(f->addrs[i]);

			strbuf_appendf(&list, "%s%s", i ? "," : "", b);
			free(b);
		}
		if (list.over) {
			strbuf_free(&list);
			http_fetch_end(f, HTTP_FETCH_TRANSFER_FAILED,
			    "%s has more addresses than "
			    "fit in %d bytes",
			    f->conn_host, HTTP_RESOLVE_MAX);
			return;
		}
		resolve_entry =
		    xasprintf("%s:%d:%s", f->conn_host, f->conn_port, strbuf_str(&list));
		strbuf_free(&list);
		resolve[0] = resolve_entry;
		ro.resolve = resolve;
	}
	if (!util_strieq(f->conn_host, f->host) || f->conn_port != f->port) {
		char *b = http_bracket(f->conn_host), *h = http_bracket(f->host);

		connect_entry = xasprintf("%s:%d:%s:%d", h, f->port, b, f->conn_port);
		free(b);
		free(h);
		connect_to[0] = connect_entry;
		ro.connect_to = connect_to;
	}
	ro.url = hop->url;
	ro.method = hop->method;
	if (strcmp(hop->method, "GET") != 0 && strcmp(hop->method, "HEAD") != 0) {
		ro.body = f->body;
		ro.content_type = f->content_type;
	}
	if (strcmp(hop->method, "GET") == 0 ||
	    (ro.body != NULL && strcmp(hop->method, "POST") == 0))
		ro.method = NULL; /* libcurl's own GET / POST */
	ro.max_body = f->max_body;
	ro.timeout_ms = (int)left;
	ro.ca_file = f->ca_file;
	ro.insecure = f->insecure;
	ro.allow_old_tls = f->allow_old_tls;
	ro.fresh = 1;
	/* RFC 7617 section 4: Basic sends the password in clear; only over TLS,
	 * and only to the host the caller named. */
	if (https && util_strieq(f->host, f->first_host)) {
		ro.username = f->username;
		ro.password = f->password;
		ro.bearer = f->bearer;
	}
	f->req = http_request(f->c, &ro, http_fetch_response, f);
	free(resolve_entry);
	free(connect_entry);
}

static void http_fetch_lookup(struct http_fetch *f, const char *name, int type);

static void
http_fetch_dns(void *arg, const struct dns_reply *reply)
{
	struct http_fetch *f = arg;
	struct http_hop *hop = &f->hops[f->n_hops - 1];
	const struct dnsmsg_rr *rr;
	const char *name;
	size_t it = 0;

	f->q = NULL;
	hop->ms_dns += (double)(util_now_ms() - f->dns_started_ms);
	if (reply->status == DNS_OK && reply->msg != NULL) {
		/* Walk the alias chain inside the answer, recording every link. */
		name = f->qname;
		for (int i = 0; i < FETCH_MAX_CNAMES; i++) {
			it = 0;
			rr = dnsmsg_next(reply->msg, DNSMSG_ANSWER, DNSMSG_CNAME, name, &it);
			if (rr == NULL || rr->target == NULL)
				break;
			if (hop->n_cnames < FETCH_MAX_CNAMES) {
				hop->cnames =
				    xrealloc(hop->cnames, (hop->n_cnames + 1) * sizeof(char *));
				hop->cnames[hop->n_cnames++] = xstrdup(rr->target);
			}
			f->cname_links++;
			name = rr->target;
		}
		it = 0;
		while ((rr = dnsmsg_next(reply->msg, DNSMSG_ANSWER, f->qtype, name, &it)) != NULL)
			if (f->n_addrs < FETCH_MAX_ADDRS && rr->addr[0] != '\0')
				f->addrs[f->n_addrs++] = xstrdup(rr->addr);
		if (f->n_addrs > 0) {
			http_fetch_transfer(f);
			return;
		}
		if (!util_strieq(name, f->qname)) {
			/* An alias into another zone, which an authoritative-only
			 * server does not follow: ask for the target (bounded). */
			char *target = xstrdup(name);

			if (f->cname_links > FETCH_MAX_CNAMES) {
				hop->dns_status = DNS_ERROR;
				http_fetch_end(f, HTTP_FETCH_DNS_FAILED,
				    "cannot resolve %s: more than "
				    "%d aliases (CNAME)",
				    f->conn_host, FETCH_MAX_CNAMES);
				free(target);
				return;
			}
			http_fetch_lookup(f, target, f->qtype);
			free(target);
			return;
		}
	}
	if ((reply->status == DNS_OK || reply->status == DNS_NODATA) && f->qtype == DNSMSG_A) {
		char *last = xstrdup(f->qname);

		http_fetch_lookup(f, last, DNSMSG_AAAA);
		free(last);
		return;
	}
	hop->dns_status = reply->status == DNS_OK ? DNS_NODATA : (int)reply->status;
	if (reply->status == DNS_OK || reply->status == DNS_NODATA)
		http_fetch_end(f, HTTP_FETCH_DNS_FAILED,
		    "cannot resolve %s: no address (A or AAAA)", f->conn_host);
	else
		http_fetch_end(f, HTTP_FETCH_DNS_FAILED, "cannot resolve %s: %s (asked %s)",
		    f->conn_host, dns_status_str(reply->status), dns_client_servers(f->dns));
}

static void
http_fetch_lookup(struct http_fetch *f, const char *name, int type)
{
	struct dns_query *q;

	free(f->qname);
	f->qname = xstrdup(name);
	f->qtype = type;
	f->dns_started_ms = util_now_ms();
	q = dns_query(f->dns, name, type, http_fetch_dns, f);
	if (q != NULL) /* NULL: answered already */
		f->q = q;
}

/* Where HOST:PORT is connected to after --connect-to. Sets conn_host/port. */
static void
http_fetch_map(struct http_fetch *f)
{
	free(f->conn_host);
	f->conn_host = xstrdup(f->host);
	f->conn_port = f->port;
	for (size_t i = 0; i < f->n_connect_to; i++) {
		char *e = f->connect_to[i];
		char *p1 = strchr(e, ':'), *p2, *p3;
		long long port;

		if (p1 == NULL || (p2 = strchr(p1 + 1, ':')) == NULL ||
		    (p3 = strchr(p2 + 1, ':')) == NULL)
			continue;
		if (p1 != e &&
		    ((size_t)(p1 - e) != strlen(f->host) ||
		        strncasecmp(e, f->host, (size_t)(p1 - e)) != 0))
			continue;
		if (p2 != p1 + 1) {
			char *ps = xstrndup(p1 + 1, (size_t)(p2 - p1 - 1));
			int ok = util_parse_int(ps, 1, 65535, &port) == 0 && port == f->port;

			free(ps);
			if (!ok)
				continue;
		}
		if (p3 != p2 + 1) {
			free(f->conn_host);
			f->conn_host = xstrndup(p2 + 1, (size_t)(p3 - p2 - 1));
		}
		if (p3[1] != '\0' && util_parse_int(p3 + 1, 1, 65535, &port) == 0)
			f->conn_port = (int)port;
		return;
	}
}

/* Start a hop to URL with METHOD. */
static void
http_fetch_hop(struct http_fetch *f, const char *url, const char *method)
{
	struct http_hop *hop = &f->hops[f->n_hops++];
	CURLU *u = curl_url();
	char *scheme = NULL, *port = NULL;
	long long p = 0;

	hop->url = xstrdup(url);
	hop->method = xstrdup(method);
	free(f->host);
	f->host = http_url_host(url);
	http_fetch_clear_addrs(f);
	f->cname_links = 0;
	if (u == NULL || f->host == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    util_parse_int(port, 1, 65535, &p) != 0 ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
		http_fetch_end(f,
		    f->n_hops == 1 ? HTTP_FETCH_TRANSFER_FAILED : HTTP_FETCH_BAD_REDIRECT,
		    "not an http(s) URL: %s", url);
		goto out;
	}
	free(f->scheme);
	f->scheme = xstrdup(scheme);
	f->port = (int)p;
	if (f->first_host == NULL)
		f->first_host = xstrdup(f->host);
	http_fetch_map(f);
	if (f->dns == NULL || http_is_ip(f->conn_host)) {
		http_fetch_transfer(f);
	} else if (util_strieq(f->conn_host, "localhost")) {
		/* RFC 6761 section 6.3: localhost is the loopback, never asked. */
		f->addrs[f->n_addrs++] = xstrdup("127.0.0.1");
		http_fetch_transfer(f);
	} else {
		http_fetch_lookup(f, f->conn_host, DNSMSG_A);
	}
out:
	curl_free(scheme);
	curl_free(port);
	curl_url_cleanup(u);
}

static void
http_fetch_response(void *arg, const struct http_response *resp)
{
	struct http_fetch *f = arg;
	struct http_hop *hop = &f->hops[f->n_hops - 1];
	const char *method;

	f->req = NULL;
	hop->status = resp->status;
	hop->curl_code = resp->curl_code;
	hop->timed_out = resp->timed_out;
	hop->tls = resp->tls;
	hop->address = xstrdup(resp->primary_ip);
	hop->location = xstrdup(resp->location);
	hop->ms_connect = resp->ms_connect;
	hop->ms_tls = resp->ms_tls;
	hop->ms_first_byte = resp->ms_first_byte;
	hop->ms_total = resp->ms_total;
	if (resp->n_www_authenticate > 0) {
		hop->www_authenticate = xcalloc(resp->n_www_authenticate, sizeof(char *));
		for (size_t i = 0; i < resp->n_www_authenticate; i++)
			hop->www_authenticate[i] = xstrdup(resp->www_authenticate[i]);
		hop->n_www_authenticate = resp->n_www_authenticate;
	}
	free(f->body_last);
	f->body_last = xstrndup(resp->body, resp->body_len);
	f->body_len = resp->body_len;
	f->body_truncated = resp->body_truncated;
	free(f->content_type_last);
	f->content_type_last = xstrdup(resp->content_type);
	if (resp->curl_code != 0) {
		hop->error = xstrdup(resp->error);
		http_fetch_end(f, HTTP_FETCH_TRANSFER_FAILED, "%s", resp->error);
		return;
	}
	if (resp->status < 300 || resp->status >= 400 || resp->location == NULL ||
	    f->max_redirects <= 0) {
		http_fetch_end(f, HTTP_FETCH_OK, NULL);
		return;
	}
	for (size_t i = 0; i < f->n_hops; i++) {
		if (strcmp(f->hops[i].url, resp->location) == 0) {
			http_fetch_end(f, HTTP_FETCH_REDIRECT_LOOP,
			    "redirect loop: %s leads back to %s", hop->url, resp->location);
			return;
		}
	}
	if ((int)f->n_hops > f->max_redirects) {
		http_fetch_end(
		    f, HTTP_FETCH_TOO_MANY_REDIRECTS, "more than %d redirects", f->max_redirects);
		return;
	}
	/* RFC 9110 section 15.4: 303 turns into GET; 301/302 do in practice
	 * (browsers), unless the caller repeats the method like Outlook does;
	 * 307/308 keep it. */
	method = hop->method;
	if (resp->status == 303 ||
	    ((resp->status == 301 || resp->status == 302) && !f->keep_method))
		method = strcmp(hop->method, "HEAD") == 0 ? "HEAD" : "GET";
	http_fetch_hop(f, resp->location, method);
}

struct http_fetch *
http_fetch(struct http_client *c, const struct http_fetch_opts *o, http_fetch_cb cb, void *arg)
{
	struct http_fetch *f = xcalloc(1, sizeof(*f));

	f->c = c;
	f->cb = cb;
	f->arg = arg;
	f->body = xstrdup(o->body);
	f->method = xstrdup(o->method != NULL ? o->method : o->body != NULL ? "POST" : "GET");
	f->content_type = xstrdup(o->content_type);
	f->username = xstrdup(o->username);
	f->password = xstrdup(o->password);
	f->bearer = xstrdup(o->bearer);
	f->ca_file = xstrdup(o->ca_file);
	f->insecure = o->insecure;
	f->allow_old_tls = o->allow_old_tls;
	f->keep_method = o->keep_method;
	f->max_redirects =
	    o->max_redirects < HTTP_FETCH_MAX_HOPS ? o->max_redirects : HTTP_FETCH_MAX_HOPS;
	f->max_body = o->max_body;
	f->dns = o->dns;
	f->started_ms = util_now_ms();
	f->deadline_ms = f->started_ms + (o->timeout_ms > 0 ? o->timeout_ms : 15000);
	for (size_t i = 0; o->connect_to != NULL && o->connect_to[i] != NULL; i++) {
		f->connect_to = xrealloc(f->connect_to, (f->n_connect_to + 1) * sizeof(char *));
		f->connect_to[f->n_connect_to++] = xstrdup(o->connect_to[i]);
	}
	http_fetch_hop(f, o->url, f->method);
	return f;
}

/* ---- report shapes ------------------------------------------------------------ */

static cJSON *
http_str_array(char *const *v, size_t n)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
	return a;
}

/* A phase duration: B - A in ms, or null when the phase was not reached. */
static void
http_add_phase(cJSON *o, const char *key, double a, double b)
{
	if (b > 0 && b >= a)
		cJSON_AddNumberToObject(o, key, (double)(int64_t)((b - a) * 10) / 10.0);
	else
		cJSON_AddNullToObject(o, key);
}

void
http_fetch_report(cJSON *details, const char *url, const struct http_fetch_result *res, time_t now)
{
	const struct http_hop *last = res->last;
	cJSON *chain = cJSON_CreateArray(), *t;
	int https = strncasecmp(last->url, "https:", 6) == 0;

	cJSON_AddStringToObject(details, "url", url);
	if (last->status > 0) {
		cJSON_AddNumberToObject(details, "http_status", (double)last->status);
		cJSON_AddStringToObject(details, "final_url", last->url);
	} else {
		cJSON_AddNullToObject(details, "http_status");
		cJSON_AddNullToObject(details, "final_url");
	}
	cJSON_AddNumberToObject(details, "redirects", (double)(res->n_hops - 1));
	for (size_t i = 0; i < res->n_hops; i++) {
		const struct http_hop *h = &res->hops[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "url", h->url);
		cJSON_AddStringToObject(o, "method", h->method);
		if (h->status > 0)
			cJSON_AddNumberToObject(o, "status", (double)h->status);
		else
			cJSON_AddNullToObject(o, "status");
		util_json_add_str_or_null(o, "location", util_nonempty(h->location));
		util_json_add_str_or_null(o, "address", util_nonempty(h->address));
		cJSON_AddItemToObject(o, "cnames", http_str_array(h->cnames, h->n_cnames));
		cJSON_AddItemToObject(o, "www_authenticate",
		    http_str_array(h->www_authenticate, h->n_www_authenticate));
		if (h->tls.present)
			cJSON_AddBoolToObject(o, "tls_verified", h->tls.verified);
		else
			cJSON_AddNullToObject(o, "tls_verified");
		util_json_add_str_or_null(o, "error", util_nonempty(h->error));
		cJSON_AddItemToArray(chain, o);
	}
	cJSON_AddItemToObject(details, "redirect_chain", chain);
	cJSON_AddItemToObject(
	    details, "tls", https ? tls_facts_json(&last->tls, now) : cJSON_CreateNull());
	cJSON_AddItemToObject(details, "www_authenticate",
	    http_str_array(last->www_authenticate, last->n_www_authenticate));
	t = cJSON_AddObjectToObject(details, "timings_ms");
	if (last->ms_dns > 0 || last->address != NULL)
		cJSON_AddNumberToObject(t, "dns", (double)(int64_t)(last->ms_dns * 10) / 10.0);
	else
		cJSON_AddNullToObject(t, "dns");
	http_add_phase(t, "connect", 0, last->ms_connect);
	if (https)
		http_add_phase(t, "tls", last->ms_connect, last->ms_tls);
	else
		cJSON_AddNullToObject(t, "tls");
	http_add_phase(t, "first_byte", https && last->ms_tls > 0 ? last->ms_tls : last->ms_connect,
	    last->ms_first_byte);
	cJSON_AddNumberToObject(t, "total", (double)(int64_t)(res->ms_total * 10) / 10.0);
	cJSON_AddStringToObject(details, "result", http_fetch_end_str(res->end));
	util_json_add_str_or_null(details, "error", util_nonempty(res->error));
}
