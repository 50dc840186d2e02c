/*
 * test_http.c - real HTTP requests through the libcurl multi-socket glue on
 * a libevent loop, against libevent's own HTTP server on 127.0.0.1 (a real
 * server, running on the same loop).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "http.h"

struct fixture {
	struct event_base *base;
	struct evhttp *srv;
	int port;
	struct http_client *client;
};

struct outcome {
	int done;
	int curl_code;
	long status;
	long redirects;
	char body[64];
	size_t body_len;
	int truncated;
	char final_url[128];
	struct event_base *base;
};

static void
serve(struct evhttp_request *req, void *arg)
{
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *out = evbuffer_new();

	(void)arg;
	if (strcmp(uri, "/hello") == 0) {
		evbuffer_add_printf(out, "hello from loopback");
		evhttp_send_reply(req, 200, "OK", out);
	} else if (strcmp(uri, "/redirect") == 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Location", "/hello");
		evhttp_send_reply(req, 302, "Found", out);
	} else if (strcmp(uri, "/big") == 0) {
		static char chunk[4096];

		memset(chunk, 'x', sizeof(chunk));
		for (int i = 0; i < 64; i++) /* 256 KiB */
			evbuffer_add(out, chunk, sizeof(chunk));
		evhttp_send_reply(req, 200, "OK", out);
	} else {
		evhttp_send_reply(req, 404, "Not Found", out);
	}
	evbuffer_free(out);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char *err = NULL;

	f->base = event_base_new();
	f->srv = evhttp_new(f->base);
	evhttp_set_gencb(f->srv, serve, NULL);
	bs = evhttp_bind_socket_with_handle(f->srv, "127.0.0.1", 0);
	assert_non_null(bs);
	getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &len);
	f->port = ntohs(sin.sin_port);
	f->client = http_client_new(f->base, &err);
	assert_non_null(f->client);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	http_client_free(f->client);
	evhttp_free(f->srv);
	event_base_free(f->base);
	free(f);
	return 0;
}

static void
on_response(void *arg, const struct http_response *resp)
{
	struct outcome *o = arg;

	o->done = 1;
	o->curl_code = resp->curl_code;
	o->status = resp->status;
	o->redirects = resp->redirects;
	o->truncated = resp->body_truncated;
	o->body_len = resp->body_len;
	snprintf(o->body, sizeof(o->body), "%s", resp->body);
	snprintf(o->final_url, sizeof(o->final_url), "%s", resp->final_url ? resp->final_url : "");
	event_base_loopbreak(o->base);
}

static void
fetch(struct fixture *f, const char *path, long redirects, size_t max_body, struct outcome *o)
{
	struct http_request_opts ro;
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", f->port, path);
	memset(&ro, 0, sizeof(ro));
	memset(o, 0, sizeof(*o));
	o->base = f->base;
	ro.url = url;
	ro.max_redirects = redirects;
	ro.max_body = max_body;
	ro.timeout_ms = 5000;
	assert_non_null(http_request(f->client, &ro, on_response, o));
	assert_int_equal(o->done, 0); /* never called back from inside http_request */
	event_base_dispatch(f->base);
	assert_int_equal(o->done, 1);
}

static void
test_get(void **state)
{
	struct outcome o;

	fetch(*state, "/hello", 0, 0, &o);
	assert_int_equal(o.curl_code, 0);
	assert_int_equal(o.status, 200);
	assert_string_equal(o.body, "hello from loopback");
}

static void
test_redirect_followed(void **state)
{
	struct fixture *f = *state;
	struct outcome o;
	char want[64];

	fetch(f, "/redirect", 5, 0, &o);
	assert_int_equal(o.status, 200);
	assert_int_equal(o.redirects, 1);
	snprintf(want, sizeof(want), "http://127.0.0.1:%d/hello", f->port);
	assert_string_equal(o.final_url, want);
}

static void
test_body_bounded(void **state)
{
	struct outcome o;

	fetch(*state, "/big", 0, 16 * 1024, &o);
	assert_int_not_equal(o.curl_code, 0);
	assert_int_equal(o.truncated, 1);
	assert_true(o.body_len <= 16 * 1024);
}

static void
test_connection_refused(void **state)
{
	struct fixture *f = *state;
	struct http_request_opts ro;
	struct outcome o;

	memset(&ro, 0, sizeof(ro));
	memset(&o, 0, sizeof(o));
	o.base = f->base;
	ro.url = "http://127.0.0.1:1/"; /* nothing listens on port 1 */
	ro.timeout_ms = 5000;
	http_request(f->client, &ro, on_response, &o);
	event_base_dispatch(f->base);
	assert_int_equal(o.done, 1);
	assert_int_not_equal(o.curl_code, 0);
	assert_int_equal(o.status, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redirect_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
