/*
 * http.h - libcurl's multi-socket API on the runner's libevent loop.
 *
 * libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when
 * to wake it (CURLMOPT_TIMERFUNCTION); libevent does the waiting. Transfers
 * therefore run concurrently with DNS and IMAP work on the same loop.
 * Bodies are kept up to a cap; past it the transfer stops with a
 * "body too large" error instead of growing without bound.
 *
 * Two layers:
 *   http_request()  one transfer (libcurl may follow redirects itself).
 *                   Its response carries the TLS facts of the server
 *                   certificate (collected in OpenSSL's verify callback, so
 *                   they exist even when verification fails), the redirect
 *                   target of a 3xx and the WWW-Authenticate challenges.
 *   http_fetch()    what the web checks use: resolves every host name with
 *                   c-ares through the runner's DNS client (so --resolver
 *                   means the same everywhere) and hands libcurl the
 *                   addresses (CURLOPT_RESOLVE); follows redirects itself one
 *                   hop at a time, so every hop is reported (URL, status,
 *                   TLS facts, challenges) and a loop is recognised as one.
 *
 * Ownership: options are read during the call only (strings are copied).
 * Responses and fetch results are valid during the callback only.
 */
#ifndef CUTOVER_HTTP_H
#define CUTOVER_HTTP_H

#include <stddef.h>
#include <time.h>

#include <cJSON.h>
#include <event2/event.h>

#include "tlsfacts.h"

#define HTTP_DEFAULT_MAX_BODY (1024 * 1024)
/* WWW-Authenticate headers kept per response, and the length of each. */
#define HTTP_MAX_CHALLENGES 8
#define HTTP_MAX_CHALLENGE_LEN 512
/* Redirects http_fetch follows at most, whatever the caller asks. */
#define HTTP_FETCH_MAX_HOPS 16

struct dns_client;

struct http_request_opts {
	const char *url;
	const char *method;         /* NULL = GET (or POST when body is set) */
	const char *body;           /* request body or NULL */
	const char *content_type;   /* for the body */
	long max_redirects;         /* 0 = do not follow */
	size_t max_body;            /* 0 = HTTP_DEFAULT_MAX_BODY */
	int timeout_ms;             /* whole transfer */
	const char *ca_file;        /* extra CA bundle, or NULL */
	int insecure;               /* skip certificate verification */
	const char *const *resolve; /* CURLOPT_RESOLVE entries "host:port:addr", NULL-terminated */
	const char *const *connect_to; /* CURLOPT_CONNECT_TO entries, NULL-terminated */
	const char *username;          /* HTTP Basic credentials, or NULL (RFC 7617) */
	const char *password;          /* secret: never copied into a response */
	const char *bearer;            /* OAuth2 access token (RFC 6750), secret; or NULL */
	int fresh;         /* new connection, no TLS session reuse: TLS facts every time */
	int allow_old_tls; /* send USERNAME/PASSWORD over TLS 1.0/1.1 too; without
	                      credentials old TLS is always negotiated (and reported) */
};

/*
 * http_response.tls: the server certificate as seen in the handshake (the
 * leaf), and whether it verified (tlsfacts.h). Filled in OpenSSL's verify
 * callback, so an expired or untrusted certificate is described too; the
 * host name is checked there as well (X509_check_host), so "verified" is
 * meaningful even with --insecure. done stays 0: a resumed session shows
 * no certificate, and the report then says null (no certificate seen).
 */

struct http_response {
	int curl_code;     /* CURLcode, 0 = ok */
	const char *error; /* readable error or NULL */
	long status;       /* HTTP status of the last response, 0 if none */
	const char *final_url;
	long redirects;
	const char *location;                /* absolute target of a 3xx not followed, or NULL */
	const char *content_type;            /* or NULL */
	const char *const *www_authenticate; /* challenges of the last response */
	size_t n_www_authenticate;
	const char *primary_ip; /* address connected to, or NULL */
	const char *body;       /* NUL-terminated, up to max_body bytes */
	size_t body_len;
	int body_truncated;
	int timed_out; /* the transfer hit timeout_ms */
	struct tls_facts tls;
	double ms_dns, ms_connect, ms_tls, ms_first_byte, ms_total;
};

struct http_client;
struct http_request;

typedef void (*http_cb)(void *arg, const struct http_response *resp);

/* A client on BASE. Returns NULL with *ERR (caller frees) if libcurl fails. */
struct http_client *http_client_new(struct event_base *base, char **err);
/* Free the client; transfers still running are dropped without callbacks. */
void http_client_free(struct http_client *c);

/*
 * Start a transfer. CB runs exactly once from the loop (never from inside
 * this call) unless the request is cancelled first; the response is valid
 * during the callback only. The handle is valid until then.
 */
struct http_request *http_request(
    struct http_client *c, const struct http_request_opts *o, http_cb cb, void *arg);
/* Abort R at once; its callback is not called. */
void http_request_cancel(struct http_request *r);

/* ---- http_fetch: resolve with c-ares, follow redirects hop by hop -------- */

/* How a fetch ended. */
enum http_fetch_end {
	HTTP_FETCH_OK = 0,          /* a final response (anything but a followed 3xx) */
	HTTP_FETCH_DNS_FAILED,      /* a host name did not resolve */
	HTTP_FETCH_TRANSFER_FAILED, /* connect, TLS, timeout, body too large ... */
	HTTP_FETCH_REDIRECT_LOOP,   /* a Location led back to a URL already visited */
	HTTP_FETCH_TOO_MANY_REDIRECTS,
	HTTP_FETCH_BAD_REDIRECT, /* a Location that is not an http(s) URL */
};

struct http_fetch_opts {
	const char *url;
	const char *method; /* NULL = GET (or POST when body is set) */
	const char *body;
	const char *content_type;
	/* Basic credentials: sent only over https and only to the first URL's
	 * host (a redirect elsewhere never receives them). */
	const char *username;
	const char *password;
	const char *bearer; /* OAuth2 access token: same rule as Basic (secret) */
	int max_redirects;  /* 0 = report the 3xx as final; capped at HTTP_FETCH_MAX_HOPS */
	int keep_method;    /* repeat METHOD and BODY on 301/302 too (307/308 always do) */
	size_t max_body;    /* per hop; 0 = HTTP_DEFAULT_MAX_BODY */
	int timeout_ms;     /* the whole fetch, all hops and lookups */
	const char *ca_file;
	int insecure;
	int allow_old_tls;      /* as http_request_opts */
	struct dns_client *dns; /* resolver; NULL = libcurl resolves (system) */
	/* curl --connect-to style "HOST:PORT:HOST2:PORT2" (empty HOST/PORT match
	 * any, empty HOST2/PORT2 keep the original), NULL-terminated. */
	const char *const *connect_to;
};

/* One request of a fetch. */
struct http_hop {
	char *url;
	char *method;
	long status;    /* 0 when no response */
	char *location; /* absolute redirect target or NULL */
	char *error;    /* readable reason when the hop failed, else NULL */
	int dns_status; /* enum dns_status of a failed lookup, 0 otherwise */
	int curl_code;
	int timed_out;
	char *address; /* the address connected to, or NULL */
	char **cnames; /* alias chain met resolving the host, in order */
	size_t n_cnames;
	char **www_authenticate;
	size_t n_www_authenticate;
	struct tls_facts tls;
	double ms_dns;                                      /* our c-ares lookup */
	double ms_connect, ms_tls, ms_first_byte, ms_total; /* libcurl's, for this hop */
};

struct http_fetch_result {
	enum http_fetch_end end;
	const char *error;           /* readable reason unless HTTP_FETCH_OK */
	const struct http_hop *hops; /* every request made, in order (at least one) */
	size_t n_hops;
	const struct http_hop *last; /* hops + n_hops - 1 */
	const char *body;            /* of the last hop, NUL-terminated, "" when none */
	size_t body_len;
	int body_truncated;
	const char *content_type; /* of the last hop, or NULL */
	double ms_total;          /* the whole fetch */
};

struct http_fetch;

typedef void (*http_fetch_cb)(void *arg, const struct http_fetch_result *res);

/*
 * Start a fetch of O->url. CB runs exactly once from the loop (never from
 * inside this call) unless the fetch is cancelled first; the result is valid
 * during the callback only. Returns the handle, valid until then.
 */
struct http_fetch *http_fetch(
    struct http_client *c, const struct http_fetch_opts *o, http_fetch_cb cb, void *arg);
/* Stop F at once (its DNS query and transfer); CB is not called. NULL is fine. */
void http_fetch_cancel(struct http_fetch *f);

/* "ok", "dns_failed", "transfer_failed", "redirect_loop", ... */
const char *http_fetch_end_str(enum http_fetch_end end);

/*
 * Add to DETAILS what a fetch of URL showed: url, http_status, final_url,
 * redirects (count), redirect_chain (every hop: url, method, status,
 * location, address, cnames, www_authenticate, tls_verified, error), tls
 * (of the last hop: tls_facts_json, NOW gives days_left), www_authenticate
 * (of the last hop), timings_ms (dns, connect, tls, first_byte of the last
 * hop as phase durations; total for the whole fetch), result
 * (http_fetch_end_str) and error.
 */
void http_fetch_report(
    cJSON *details, const char *url, const struct http_fetch_result *res, time_t now);

#endif
