/*
 * http.h - libcurl's multi-socket API on the runner's libevent loop.
 *
 * libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when
 * to wake it (CURLMOPT_TIMERFUNCTION); libevent does the waiting. Transfers
 * therefore run concurrently with DNS and IMAP work on the same loop.
 * Bodies are kept up to a cap; past it the transfer stops with a
 * "body too large" error instead of growing without bound.
 */
#ifndef CUTOVER_HTTP_H
#define CUTOVER_HTTP_H

#include <stddef.h>

#include <event2/event.h>

#define HTTP_DEFAULT_MAX_BODY (1024 * 1024)

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
};

struct http_response {
	int curl_code;              /* CURLcode, 0 = ok */
	const char *error;          /* readable error or NULL */
	long status;                /* HTTP status of the last response, 0 if none */
	const char *final_url;
	long redirects;
	const char *body;           /* NUL-terminated, up to max_body bytes */
	size_t body_len;
	int body_truncated;
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
struct http_request *http_request(struct http_client *c, const struct http_request_opts *o,
    http_cb cb, void *arg);
/* Abort R at once; its callback is not called. */
void http_request_cancel(struct http_request *r);

#endif
