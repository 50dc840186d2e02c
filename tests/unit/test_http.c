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

#include "src/http.h"
#include "src/util.h"
#include "loopback_http.h"

struct outcome {
	int done;
	int curl_code;
	long status;
	long redirects;
	char body[64];
	size_t body_len;
	int truncated;
	char final_url[128];
	char location[128];
	size_t n_challenges;
	char challenge0[64];
	int tls_present;
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
	} else if (strcmp(uri, "/auth") == 0) {
		struct evkeyvalq *h = evhttp_request_get_output_headers(req);

		evhttp_add_header(h, "WWW-Authenticate", "Basic realm=\"lab\"");
		evhttp_add_header(h, "WWW-Authenticate", "Negotiate");
		evhttp_send_reply(req, 401, "Unauthorized", out);
	} else if (strcmp(uri, "/loop1") == 0 || strcmp(uri, "/loop2") == 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Location",
		    uri[5] == '1' ? "/loop2" : "/loop1");
		evhttp_send_reply(req, 302, "Found", out);
	} else if (strncmp(uri, "/chain/", 7) == 0) {
		/* /chain/N redirects to /chain/N-1, /chain/0 to /hello */
		long long n = 0;
		char loc[64];

		util_parse_int(uri + 7, 0, 1000, &n);
		if (n == 0)
			snprintf(loc, sizeof(loc), "/hello");
		else
			snprintf(loc, sizeof(loc), "/chain/%lld", n - 1);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Location", loc);
		evhttp_send_reply(req, 302, "Found", out);
	} else if (strcmp(uri, "/post-redirect") == 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Location", "/method");
		evhttp_send_reply(req, 302, "Found", out);
	} else if (strcmp(uri, "/method") == 0) {
		const char *auth =
		    evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");

		evbuffer_add_printf(out, "%s%s",
		    evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST" : "GET",
		    auth == NULL                              ? ""
		        : strcmp(auth, "Bearer tok-123") == 0 ? " with the bearer token"
		                                              : " with credentials");
		evhttp_send_reply(req, 200, "OK", out);
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
	struct loopback_http *f = calloc(1, sizeof(*f));

	loopback_http_start(f, serve, NULL);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct loopback_http *f = *state;

	loopback_http_stop(f);
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
	snprintf(o->location, sizeof(o->location), "%s", resp->location ? resp->location : "");
	o->n_challenges = resp->n_www_authenticate;
	snprintf(o->challenge0, sizeof(o->challenge0), "%s",
	    resp->n_www_authenticate > 0 ? resp->www_authenticate[0] : "");
	o->tls_present = resp->tls.present;
	event_base_loopbreak(o->base);
}

static void
fetch(struct loopback_http *f, const char *path, long redirects, size_t max_body, struct outcome *o)
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
	struct loopback_http *f = *state;
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
	struct loopback_http *f = *state;
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

static void
test_location_and_challenges(void **state)
{
	struct loopback_http *f = *state;
	struct outcome o;
	char want[64];

	/* Not followed: the absolute target is reported. */
	fetch(f, "/redirect", 0, 0, &o);
	assert_int_equal(o.status, 302);
	snprintf(want, sizeof(want), "http://127.0.0.1:%d/hello", f->port);
	assert_string_equal(o.location, want);
	fetch(f, "/auth", 0, 0, &o);
	assert_int_equal(o.status, 401);
	assert_int_equal(o.n_challenges, 2);
	assert_string_equal(o.challenge0, "Basic realm=\"lab\"");
	assert_int_equal(o.tls_present, 0); /* plain http: no certificate */
}

struct fetch_outcome {
	int done;
	enum http_fetch_end end;
	size_t n_hops;
	long status;
	char body[64];
	char first_location[128];
	char error[256];
	struct event_base *base;
};

static void
on_fetch(void *arg, const struct http_fetch_result *res)
{
	struct fetch_outcome *o = arg;

	o->done++;
	o->end = res->end;
	o->n_hops = res->n_hops;
	o->status = res->last->status;
	snprintf(o->body, sizeof(o->body), "%s", res->body);
	snprintf(o->first_location, sizeof(o->first_location), "%s",
	    res->hops[0].location != NULL ? res->hops[0].location : "");
	snprintf(o->error, sizeof(o->error), "%s", res->error != NULL ? res->error : "");
	event_base_loopbreak(o->base);
}

static void
run_fetch(
    struct loopback_http *f, struct http_fetch_opts *fo, const char *path, struct fetch_outcome *o)
{
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", f->port, path);
	memset(o, 0, sizeof(*o));
	o->base = f->base;
	fo->url = url;
	if (fo->timeout_ms == 0)
		fo->timeout_ms = 5000;
	assert_non_null(http_fetch(f->client, fo, on_fetch, o));
	assert_int_equal(o->done, 0); /* never called back from inside http_fetch */
	event_base_dispatch(f->base);
	assert_int_equal(o->done, 1);
}

static void
test_fetch_chain(void **state)
{
	struct loopback_http *f = *state;
	struct http_fetch_opts fo;
	struct fetch_outcome o;

	memset(&fo, 0, sizeof(fo));
	fo.max_redirects = 5;
	run_fetch(f, &fo, "/chain/2", &o);
	assert_int_equal(o.end, HTTP_FETCH_OK);
	assert_int_equal(o.n_hops, 4); /* /chain/2 -> /chain/1 -> /chain/0 -> /hello */
	assert_int_equal(o.status, 200);
	assert_string_equal(o.body, "hello from loopback");
	assert_non_null(strstr(o.first_location, "/chain/1"));
}

static void
test_fetch_loop(void **state)
{
	struct loopback_http *f = *state;
	struct http_fetch_opts fo;
	struct fetch_outcome o;

	memset(&fo, 0, sizeof(fo));
	fo.max_redirects = 10;
	run_fetch(f, &fo, "/loop1", &o);
	assert_int_equal(o.end, HTTP_FETCH_REDIRECT_LOOP);
	assert_int_equal(o.n_hops, 2);
	assert_non_null(strstr(o.error, "redirect loop"));
}

static void
test_fetch_too_many(void **state)
{
	struct loopback_http *f = *state;
	struct http_fetch_opts fo;
	struct fetch_outcome o;

	memset(&fo, 0, sizeof(fo));
	fo.max_redirects = 3;
	run_fetch(f, &fo, "/chain/50", &o);
	assert_int_equal(o.end, HTTP_FETCH_TOO_MANY_REDIRECTS);
	assert_int_equal(o.n_hops, 4);
	/* asking for more than the hard cap is capped, not obeyed */
	fo.max_redirects = 1000;
	run_fetch(f, &fo, "/chain/100", &o);
	assert_int_equal(o.end, HTTP_FETCH_TOO_MANY_REDIRECTS);
	assert_int_equal(o.n_hops, HTTP_FETCH_MAX_HOPS + 1);
}

static void
test_fetch_method_and_credentials(void **state)
{
	struct loopback_http *f = *state;
	struct http_fetch_opts fo;
	struct fetch_outcome o;

	memset(&fo, 0, sizeof(fo));
	fo.max_redirects = 3;
	fo.body = "<x/>";
	fo.content_type = "text/xml";
	fo.username = "alice";
	fo.password = "secret";
	run_fetch(f, &fo, "/post-redirect", &o);
	/* 302 turns a POST into a GET; Basic credentials never go over http */
	assert_string_equal(o.body, "GET");
	fo.keep_method = 1;
	run_fetch(f, &fo, "/post-redirect", &o);
	assert_string_equal(o.body, "POST");
}

/* An OAuth2 access token goes as "Authorization: Bearer" (RFC 6750) when the
 * request carries one, and a fetch never sends it over plain http. */
static void
test_bearer_token(void **state)
{
	struct loopback_http *f = *state;
	struct http_request_opts ro;
	struct http_fetch_opts fo;
	struct fetch_outcome fout;
	struct outcome o;
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/method", f->port);
	memset(&ro, 0, sizeof(ro));
	memset(&o, 0, sizeof(o));
	o.base = f->base;
	ro.url = url;
	ro.timeout_ms = 5000;
	ro.bearer = "tok-123";
	assert_non_null(http_request(f->client, &ro, on_response, &o));
	event_base_dispatch(f->base);
	assert_string_equal(o.body, "GET with the bearer token");
	memset(&fo, 0, sizeof(fo));
	fo.bearer = "tok-123";
	run_fetch(f, &fo, "/method", &fout);
	assert_string_equal(fout.body, "GET");
}

static void
test_fetch_connect_to(void **state)
{
	struct loopback_http *f = *state;
	struct http_fetch_opts fo;
	struct fetch_outcome o;
	char map[64];
	const char *connect_to[2] = {map, NULL};

	/* a name that resolves nowhere, mapped onto the test server */
	snprintf(map, sizeof(map), "webmail.invalid:80:127.0.0.1:%d", f->port);
	memset(&fo, 0, sizeof(fo));
	memset(&o, 0, sizeof(o));
	o.base = f->base;
	fo.url = "http://webmail.invalid/hello";
	fo.timeout_ms = 5000;
	fo.connect_to = connect_to;
	http_fetch(f->client, &fo, on_fetch, &o);
	event_base_dispatch(f->base);
	assert_int_equal(o.end, HTTP_FETCH_OK);
	assert_int_equal(o.status, 200);
	assert_string_equal(o.body, "hello from loopback");
}

static void
test_fetch_cancel_and_bad_url(void **state)
{
	struct loopback_http *f = *state;
	struct http_fetch_opts fo;
	struct fetch_outcome o;
	struct http_fetch *h;

	memset(&fo, 0, sizeof(fo));
	memset(&o, 0, sizeof(o));
	o.base = f->base;
	fo.url = "ftp://127.0.0.1/x";
	http_fetch(f->client, &fo, on_fetch, &o);
	event_base_dispatch(f->base);
	assert_int_equal(o.done, 1);
	assert_int_equal(o.end, HTTP_FETCH_TRANSFER_FAILED);
	assert_non_null(strstr(o.error, "not an http(s) URL"));
	/* cancelled at once: the callback never runs */
	memset(&o, 0, sizeof(o));
	o.base = f->base;
	fo.url = "http://127.0.0.1:1/";
	h = http_fetch(f->client, &fo, on_fetch, &o);
	http_fetch_cancel(h);
	event_base_loop(f->base, EVLOOP_NONBLOCK);
	assert_int_equal(o.done, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_get, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_redirect_followed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_body_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_connection_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_location_and_challenges, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fetch_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fetch_loop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fetch_too_many, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fetch_method_and_credentials, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bearer_token, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fetch_connect_to, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fetch_cancel_and_bad_url, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
