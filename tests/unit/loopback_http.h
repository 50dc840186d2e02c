/*
 * loopback_http.h - a unit test's HTTP server on 127.0.0.1 (libevent's
 * evhttp, a free port) and our http client on the same event base, for the
 * tests that talk HTTP to themselves (test_http.c, test_oauth2.c). Include
 * it after <cmocka.h>.
 */
#ifndef CUTOVER_TEST_LOOPBACK_HTTP_H
#define CUTOVER_TEST_LOOPBACK_HTTP_H

#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "src/http.h"

struct loopback_http {
	struct event_base *base;
	struct evhttp *srv;
	int port; /* where SRV listens */
	struct http_client *client;
};

/* Start L: every request goes to SERVE(REQ, ARG). Fails the test on error. */
static inline void
loopback_http_start(
    struct loopback_http *l, void (*serve)(struct evhttp_request *, void *), void *arg)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char *err = NULL;

	l->base = event_base_new();
	l->srv = evhttp_new(l->base);
	evhttp_set_gencb(l->srv, serve, arg);
	bs = evhttp_bind_socket_with_handle(l->srv, "127.0.0.1", 0);
	assert_non_null(bs);
	getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &len);
	l->port = ntohs(sin.sin_port);
	l->client = http_client_new(l->base, &err);
	assert_non_null(l->client);
}

static inline void
loopback_http_stop(struct loopback_http *l)
{
	http_client_free(l->client);
	evhttp_free(l->srv);
	event_base_free(l->base);
}

#endif
