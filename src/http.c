/*
 * http.c - libcurl multi-socket glue for libevent. See http.h.
 *
 * The pattern is curl's docs/examples/multi-event.c: one event per socket
 * libcurl asks us to watch, one timer for libcurl's own timeouts, and after
 * every action a sweep of curl_multi_info_read() for finished transfers.
 */
#include "http.h"

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "util.h"

struct http_client {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	struct http_request *reqs;  /* in flight, to free on shutdown */
	int in_callback;
};

struct http_request {
	struct http_client *c;
	CURL *easy;
	http_cb cb;
	void *arg;
	char *body;
	size_t body_len, max_body;
	int truncated;
	struct curl_slist *resolve, *headers;
	char *req_body;
	char errbuf[CURL_ERROR_SIZE];
	struct http_request *prev, *next;
};

struct http_sock {
	struct event *ev;
};

static int http_library_users;

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
http_request_free(struct http_request *r)
{
	curl_multi_remove_handle(r->c->multi, r->easy);
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->resolve);
	curl_slist_free_all(r->headers);
	free(r->req_body);
	free(r->body);
	free(r);
}

static void
http_sock_event(evutil_socket_t fd, short what, void *arg)
{
	struct http_client *c = arg;
	int mask = ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
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

	if (r->body_len + n > r->max_body) {
		r->truncated = 1;
		return 0; /* makes curl fail with CURLE_WRITE_ERROR: bounded */
	}
	r->body = xrealloc(r->body, r->body_len + n + 1);
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return n;
}

static double
http_ms(CURL *easy, CURLINFO info)
{
	curl_off_t us = 0;

	curl_easy_getinfo(easy, info, &us);
	return us / 1000.0;
}

static void
http_check_done(struct http_client *c)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
		struct http_request *r = NULL;
		struct http_response resp;
		char *url = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		memset(&resp, 0, sizeof(resp));
		resp.curl_code = m->data.result;
		if (r->truncated) {
			resp.error = "response body larger than the limit";
		} else if (m->data.result != CURLE_OK) {
			resp.error = r->errbuf[0] != '\0' ? r->errbuf : curl_easy_strerror(m->data.result);
		}
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp.status);
		curl_easy_getinfo(r->easy, CURLINFO_EFFECTIVE_URL, &url);
		curl_easy_getinfo(r->easy, CURLINFO_REDIRECT_COUNT, &resp.redirects);
		resp.final_url = url;
		resp.body = r->body != NULL ? r->body : "";
		resp.body_len = r->body_len;
		resp.body_truncated = r->truncated;
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
	r->max_body = o->max_body ? o->max_body : HTTP_DEFAULT_MAX_BODY;
	curl_easy_setopt(e, CURLOPT_URL, o->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
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
	if (o->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	for (size_t i = 0; o->resolve != NULL && o->resolve[i] != NULL; i++)
		r->resolve = curl_slist_append(r->resolve, o->resolve[i]);
	if (r->resolve != NULL)
		curl_easy_setopt(e, CURLOPT_RESOLVE, r->resolve);
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
