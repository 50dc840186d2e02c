/*
 * pop3.c - POP3 reply parser and client. See pop3.h.
 *
 * Replies (RFC 1939 section 3): a status line "+OK text" or "-ERR text",
 * optionally with an extended response code "[AUTH]" (RFC 2449 section 8,
 * RFC 3206). A multi-line reply follows a +OK status line with lines ended
 * by CRLF; a line starting with "." is byte-stuffed (the "." is removed)
 * and a line of just "." ends it. SASL challenges are "+ base64" (RFC 5034).
 */
#include "pop3.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "util.h"

/* ================================================================ parser ===== */

enum pop3_pstate { PP_STATUS, PP_BODY, PP_DONE, PP_ERROR };

struct pop3_parser {
	size_t max_line, max_body;
	enum pop3_pstate st;
	int multiline;
	char *line; /* the line being collected */
	size_t len, cap;
	size_t body; /* bytes of the multi-line body so far */
	struct pop3_reply *reply;
	size_t cap_lines;
	char err[200];
};

static void pop3_perr(struct pop3_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
pop3_perr(struct pop3_parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	p->st = PP_ERROR;
}

static void
pop3_reply_free(struct pop3_reply *r)
{
	if (r == NULL)
		return;
	free(r->code);
	free(r->text);
	for (size_t i = 0; i < r->n_lines; i++)
		free(r->lines[i]);
	free(r->lines);
	free(r);
}

struct pop3_parser *
pop3_parser_new(size_t max_line, size_t max_body)
{
	struct pop3_parser *p = xcalloc(1, sizeof(*p));

	p->max_line = max_line ? max_line : POP3_DEFAULT_MAX_LINE;
	p->max_body = max_body ? max_body : POP3_DEFAULT_MAX_BODY;
	p->st = PP_STATUS;
	return p;
}

void
pop3_parser_free(struct pop3_parser *p)
{
	if (p == NULL)
		return;
	pop3_reply_free(p->reply);
	free(p->line);
	free(p);
}

void
pop3_parser_expect(struct pop3_parser *p, int multiline)
{
	p->multiline = multiline;
}

const struct pop3_reply *
pop3_parser_reply(const struct pop3_parser *p)
{
	return p->st == PP_DONE ? p->reply : NULL;
}

const char *
pop3_parser_error(const struct pop3_parser *p)
{
	return p->st == PP_ERROR ? p->err : "";
}

/* The status line is complete in p->line. */
static void
pop3_status_line(struct pop3_parser *p)
{
	struct pop3_reply *r = xcalloc(1, sizeof(*r));
	const char *s = p->line, *rest;

	p->reply = r;
	if (strncmp(s, "+OK", 3) == 0 && (s[3] == '\0' || s[3] == ' ')) {
		r->kind = POP3_REPLY_OK;
		rest = s + 3;
	} else if (strncmp(s, "-ERR", 4) == 0 && (s[4] == '\0' || s[4] == ' ')) {
		r->kind = POP3_REPLY_ERR;
		rest = s + 4;
	} else if (s[0] == '+' && (s[1] == '\0' || s[1] == ' ')) {
		r->kind = POP3_REPLY_CONTINUE;
		rest = s + 1;
	} else {
		pop3_perr(p, "not a POP3 reply (expected +OK or -ERR)");
		return;
	}
	if (*rest == ' ')
		rest++;
	if (r->kind != POP3_REPLY_CONTINUE && *rest == '[') {
		const char *close = strchr(rest, ']');

		if (close != NULL) {
			r->code = xstrndup(rest + 1, (size_t)(close - rest - 1));
			rest = close + 1;
			if (*rest == ' ')
				rest++;
		}
	}
	r->text = xstrdup(rest);
	if (r->kind == POP3_REPLY_OK && p->multiline) {
		p->st = PP_BODY;
		p->body = 0;
	} else {
		p->st = PP_DONE;
	}
	p->multiline = 0; /* the expectation is for one reply */
}

/* One line of a multi-line body is complete in p->line. */
static void
pop3_body_line(struct pop3_parser *p)
{
	struct pop3_reply *r = p->reply;
	const char *s = p->line;

	if (strcmp(s, ".") == 0) {
		p->st = PP_DONE;
		return;
	}
	if (s[0] == '.')
		s++; /* dot-unstuffing */
	p->body += strlen(s) + 2;
	if (p->body > p->max_body) {
		pop3_perr(p, "multi-line reply larger than %zu bytes (max_body)", p->max_body);
		return;
	}
	if (r->n_lines == p->cap_lines) {
		p->cap_lines = p->cap_lines ? p->cap_lines * 2 : 8;
		r->lines = xrealloc(r->lines, p->cap_lines * sizeof(*r->lines));
	}
	r->lines[r->n_lines++] = xstrdup(s);
}

enum pop3_parse
pop3_parser_feed(struct pop3_parser *p, const char *data, size_t len, size_t *used)
{
	size_t i = 0;

	*used = 0;
	if (p->st == PP_ERROR)
		return POP3_PARSE_ERROR;
	if (p->st == PP_DONE) {
		pop3_reply_free(p->reply);
		p->reply = NULL;
		p->cap_lines = 0;
		p->st = PP_STATUS;
	}
	while (i < len) {
		const char *lf = memchr(data + i, '\n', len - i);
		size_t n = lf != NULL ? (size_t)(lf - (data + i)) : len - i;

		if (p->len + n > p->max_line) {
			pop3_perr(p, "line longer than %zu bytes (max_line)", p->max_line);
			break;
		}
		if (p->len + n + 1 > p->cap) {
			size_t cap = p->cap ? p->cap : 128;

			while (cap < p->len + n + 1)
				cap *= 2;
			p->line = xrealloc(p->line, cap);
			p->cap = cap;
		}
		memcpy(p->line + p->len, data + i, n);
		p->len += n;
		p->line[p->len] = '\0';
		i += n;
		if (lf == NULL)
			break;
		i++;
		if (p->len > 0 && p->line[p->len - 1] == '\r')
			p->line[--p->len] = '\0';
		if (memchr(p->line, '\0', p->len) != NULL) {
			pop3_perr(p, "NUL byte in a reply line");
			break;
		}
		if (p->st == PP_STATUS)
			pop3_status_line(p);
		else
			pop3_body_line(p);
		p->len = 0;
		if (p->st == PP_DONE || p->st == PP_ERROR)
			break;
	}
	*used = i;
	if (p->st == PP_DONE)
		return POP3_PARSE_DONE;
	if (p->st == PP_ERROR)
		return POP3_PARSE_ERROR;
	return POP3_PARSE_MORE;
}

/* ================================================================ client ===== */

/* How long to wait for the server to close after QUIT's +OK. */
#define POP3_QUIT_LINGER_MS 1000

struct pop3_client {
	struct event_base *base;
	struct pop3_client_opts o;
	char *host, *ca_file, *user, *password, *admin;
	struct net_conn *conn;
	struct pop3_parser *parser;
	enum pop3_state state;
	enum net_result result;
	char *error;
	char **caps;
	size_t n_caps;
	int have_caps;
	long long messages, octets;
	int64_t started_ms;
	pop3_ready_fn ready_cb, quit_cb;
	void *ready_arg, *quit_arg;
	int ready_called;
	int dispatching, free_pending;
	int sent_user; /* USER sent, PASS next */
	struct event *quit_linger; /* after QUIT's +OK, until the server closes */
};

static void pop3_advance(struct pop3_client *c);
static void pop3_set_state(struct pop3_client *c, enum pop3_state st);

/* The session is over: report it to whoever asked for the QUIT. */
static void
pop3_quit_finish(struct pop3_client *c)
{
	pop3_ready_fn cb = c->quit_cb;

	if (c->quit_linger != NULL) {
		event_free(c->quit_linger);
		c->quit_linger = NULL;
	}
	pop3_set_state(c, POP3_S_CLOSED);
	c->quit_cb = NULL;
	if (cb != NULL)
		cb(c, c->quit_arg);
}

static void
pop3_quit_linger_done(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pop3_quit_finish(arg);
}

const char *
pop3_state_str(enum pop3_state st)
{
	switch (st) {
	case POP3_S_CONNECT: return "connect";
	case POP3_S_GREETING: return "greeting";
	case POP3_S_CAPA: return "CAPA";
	case POP3_S_STLS: return "STLS";
	case POP3_S_AUTH: return "login";
	case POP3_S_STAT: return "STAT";
	case POP3_S_READY: return "session";
	case POP3_S_QUIT: return "QUIT";
	case POP3_S_CLOSED: return "closed";
	case POP3_S_FAILED: return "failed";
	}
	return "?";
}

/* The only way to change the state. */
static void
pop3_set_state(struct pop3_client *c, enum pop3_state st)
{
	c->state = st;
}

static char *
pop3_scrub(const struct pop3_client *c, char *s)
{
	const char *sec = c->password;
	size_t n = sec != NULL ? strlen(sec) : 0;
	char *hit;

	if (n < 3)
		return s;
	while ((hit = strstr(s, sec)) != NULL) {
		char *t = xasprintf("%.*s***%s", (int)(hit - s), s, hit + n);

		util_free_secret(s);
		s = t;
	}
	return s;
}

static void pop3_fail(struct pop3_client *c, enum net_result res, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
pop3_fail(struct pop3_client *c, enum net_result res, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	pop3_ready_fn cb;

	if (c->state == POP3_S_FAILED || c->state == POP3_S_CLOSED)
		return;
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	free(c->error);
	c->error = xasprintf("failed in %s after %.1f s: %s", pop3_state_str(c->state),
	    (util_now_ms() - c->started_ms) / 1000.0, msg);
	c->error = pop3_scrub(c, c->error);
	free(msg);
	c->result = res;
	pop3_set_state(c, POP3_S_FAILED);
	if (!c->ready_called && c->ready_cb != NULL) {
		c->ready_called = 1;
		c->ready_cb(c, c->ready_arg);
		return;
	}
	cb = c->quit_cb;
	c->quit_cb = NULL;
	if (cb != NULL)
		cb(c, c->quit_arg);
}

/* Send one command line; EXPECT_MULTI when a +OK reply is multi-line. */
static void
pop3_send(struct pop3_client *c, const char *line, int expect_multi)
{
	pop3_parser_expect(c->parser, expect_multi);
	net_write(c->conn, line, strlen(line));
	net_write(c->conn, "\r\n", 2);
}

static void
pop3_caps_clear(struct pop3_client *c)
{
	for (size_t i = 0; i < c->n_caps; i++)
		free(c->caps[i]);
	free(c->caps);
	c->caps = NULL;
	c->n_caps = 0;
	c->have_caps = 0;
}

int
pop3_client_has_cap(const struct pop3_client *c, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < c->n_caps; i++)
		if (strncasecmp(c->caps[i], name, n) == 0 &&
		    (c->caps[i][n] == '\0' || c->caps[i][n] == ' '))
			return 1;
	return 0;
}

/* "SASL PLAIN LOGIN": is MECH among the SASL mechanisms? */
static int
pop3_has_sasl(const struct pop3_client *c, const char *mech)
{
	for (size_t i = 0; i < c->n_caps; i++) {
		const char *s = c->caps[i];

		if (strncasecmp(s, "SASL ", 5) != 0)
			continue;
		s += 5;
		while (*s != '\0') {
			size_t n = strcspn(s, " ");

			if (n == strlen(mech) && strncasecmp(s, mech, n) == 0)
				return 1;
			s += n;
			while (*s == ' ')
				s++;
		}
	}
	return 0;
}

static void
pop3_send_plain(struct pop3_client *c)
{
	const char *authz = c->admin != NULL ? c->user : "";
	const char *authc = c->admin != NULL ? c->admin : c->user;
	size_t nz = strlen(authz), nc = strlen(authc), np = strlen(c->password);
	size_t n = nz + 1 + nc + 1 + np;
	unsigned char *msg = xmalloc(n);
	char *b64 = xmalloc(4 * ((n + 2) / 3) + 1), *line;

	memcpy(msg, authz, nz);
	msg[nz] = '\0';
	memcpy(msg + nz + 1, authc, nc);
	msg[nz + 1 + nc] = '\0';
	memcpy(msg + nz + 1 + nc + 1, c->password, np);
	EVP_EncodeBlock((unsigned char *)b64, msg, (int)n);
	explicit_bzero(msg, n);
	free(msg);
	/* RFC 5034 section 4: the initial response on the AUTH line. */
	line = xasprintf("AUTH PLAIN %s", b64);
	util_free_secret(b64);
	pop3_set_state(c, POP3_S_AUTH);
	pop3_send(c, line, 0);
	util_free_secret(line);
}

static void
pop3_advance(struct pop3_client *c)
{
	int want_tls;

	if (!c->have_caps) {
		pop3_set_state(c, POP3_S_CAPA);
		pop3_send(c, "CAPA", 1);
		return;
	}
	/* --allow-plaintext permits plaintext where TLS is not offered: STLS
	 * offered is always taken, and so is a server offering no plaintext
	 * login (Dovecot lists neither USER nor SASL mechanisms before STLS). */
	want_tls = !net_is_tls(c->conn) &&
	    (c->o.tls == POP3_TLS_STARTTLS ||
	        (c->o.tls == POP3_TLS_PLAIN_ALLOWED &&
	            (pop3_client_has_cap(c, "STLS") ||
	                (c->user != NULL && c->n_caps > 0 && !pop3_client_has_cap(c, "USER") &&
	                    !pop3_has_sasl(c, "PLAIN")))));
	if (want_tls) {
		if (!pop3_client_has_cap(c, "STLS")) {
			pop3_fail(c, NET_RESULT_PLAINTEXT_REFUSED,
			    c->o.tls == POP3_TLS_STARTTLS ? "the server offers no STLS; refusing "
			                                    "to continue without TLS (use "
			                                    "pop3s:// or --allow-plaintext)"
			                                  : "the server offers no plaintext "
			                                    "login and no STLS");
			return;
		}
		pop3_set_state(c, POP3_S_STLS);
		pop3_send(c, "STLS", 0);
		return;
	}
	if (c->user == NULL) {
		pop3_set_state(c, POP3_S_READY);
		c->ready_called = 1;
		if (c->ready_cb != NULL)
			c->ready_cb(c, c->ready_arg);
		return;
	}
	if (c->password == NULL) {
		pop3_fail(c, NET_RESULT_AUTH_FAILED, "no password to log in with");
		return;
	}
	if (strpbrk(c->user, "\r\n") != NULL || strpbrk(c->password, "\r\n") != NULL) {
		pop3_fail(
		    c, NET_RESULT_AUTH_FAILED, "the user name or password contains a line break");
		return;
	}
	if (c->admin != NULL || pop3_has_sasl(c, "PLAIN")) {
		if (c->admin != NULL && !pop3_has_sasl(c, "PLAIN")) {
			pop3_fail(c, NET_RESULT_AUTH_FAILED,
			    "the server does not offer SASL PLAIN, "
			    "needed for the admin login");
			return;
		}
		pop3_send_plain(c);
		return;
	}
	{
		char *line = xasprintf("USER %s", c->user);

		pop3_set_state(c, POP3_S_AUTH);
		c->sent_user = 1;
		pop3_send(c, line, 0);
		free(line);
	}
}

/* Split "+OK 12 3456" into numbers. */
static void
pop3_parse_stat(struct pop3_client *c, const char *text)
{
	char a[24], b[24];
	size_t n = strcspn(text, " ");
	long long v;

	if (n == 0 || n >= sizeof(a))
		return;
	memcpy(a, text, n);
	a[n] = '\0';
	text += n;
	while (*text == ' ')
		text++;
	n = strcspn(text, " ");
	if (n == 0 || n >= sizeof(b))
		return;
	memcpy(b, text, n);
	b[n] = '\0';
	if (util_parse_int(a, 0, INT64_MAX, &v) == 0)
		c->messages = v;
	if (util_parse_int(b, 0, INT64_MAX, &v) == 0)
		c->octets = v;
}

static void
pop3_auth_reply(struct pop3_client *c, const struct pop3_reply *r)
{
	if (r->kind == POP3_REPLY_OK) {
		util_free_secret(c->password);
		c->password = NULL;
		pop3_set_state(c, POP3_S_STAT);
		pop3_send(c, "STAT", 0);
		return;
	}
	if (r->kind == POP3_REPLY_CONTINUE) {
		/* Initial response refused as such: send an empty response to end. */
		pop3_fail(c, NET_RESULT_PROTOCOL_ERROR, "unexpected SASL challenge");
		return;
	}
	if (strcasestr(r->text, "plaintext") != NULL) {
		pop3_fail(c, NET_RESULT_PLAINTEXT_REFUSED,
		    "the server refuses plaintext logins: "
		    "-ERR %s",
		    r->text);
		return;
	}
	pop3_fail(c, NET_RESULT_AUTH_FAILED, "login refused: -ERR %s%s%s%s",
	    r->code != NULL ? "[" : "", r->code != NULL ? r->code : "", r->code != NULL ? "] " : "",
	    r->text);
}

static void
pop3_dispatch(struct pop3_client *c, const struct pop3_reply *r)
{
	switch (c->state) {
	case POP3_S_GREETING:
		if (r->kind != POP3_REPLY_OK) {
			pop3_fail(c, NET_RESULT_PROTOCOL_ERROR,
			    "the server refused the "
			    "connection: %s",
			    r->text);
			return;
		}
		pop3_advance(c);
		return;
	case POP3_S_CAPA:
		pop3_caps_clear(c);
		if (r->kind == POP3_REPLY_OK) {
			c->caps = xcalloc(r->n_lines > 0 ? r->n_lines : 1, sizeof(*c->caps));
			for (size_t i = 0; i < r->n_lines && i < 256; i++)
				c->caps[c->n_caps++] = xstrdup(r->lines[i]);
		}
		c->have_caps = 1; /* -ERR: an old server without CAPA */
		pop3_advance(c);
		return;
	case POP3_S_STLS:
		if (r->kind != POP3_REPLY_OK) {
			pop3_fail(c, NET_RESULT_TLS_FAILED, "the server refused STLS: %s", r->text);
			return;
		}
		if (net_starttls(c->conn) != 0)
			pop3_fail(c, NET_RESULT_PROTOCOL_ERROR, "%s", net_error_text(c->conn));
		return;
	case POP3_S_AUTH:
		if (c->sent_user && r->kind == POP3_REPLY_OK) {
			char *line = xasprintf("PASS %s", c->password);

			c->sent_user = 0;
			pop3_send(c, line, 0);
			util_free_secret(line);
			return;
		}
		c->sent_user = 0;
		pop3_auth_reply(c, r);
		return;
	case POP3_S_STAT:
		if (r->kind == POP3_REPLY_OK)
			pop3_parse_stat(c, r->text);
		pop3_set_state(c, POP3_S_READY);
		c->ready_called = 1;
		if (c->ready_cb != NULL)
			c->ready_cb(c, c->ready_arg);
		return;
	case POP3_S_QUIT: {
		/* The server closes next (RFC 1939 section 6): wait for that,
		 * briefly, so the next connection to this server really comes
		 * after this one (--per-host counts what the server sees). */
		struct timeval linger = {POP3_QUIT_LINGER_MS / 1000,
		    (POP3_QUIT_LINGER_MS % 1000) * 1000};

		c->quit_linger = evtimer_new(c->base, pop3_quit_linger_done, c);
		if (c->quit_linger == NULL || evtimer_add(c->quit_linger, &linger) != 0)
			pop3_quit_finish(c);
		return;
	}
	default: pop3_fail(c, NET_RESULT_PROTOCOL_ERROR, "unexpected reply: %s", r->text); return;
	}
}

static void
pop3_really_free(struct pop3_client *c)
{
	if (c->quit_linger != NULL)
		event_free(c->quit_linger);
	net_free(c->conn);
	pop3_parser_free(c->parser);
	pop3_caps_clear(c);
	free(c->host);
	free(c->ca_file);
	free(c->user);
	util_free_secret(c->password);
	free(c->admin);
	free(c->error);
	free(c);
}

static void
pop3_read(struct pop3_client *c)
{
	struct evbuffer *in = net_input(c->conn);

	while (evbuffer_get_length(in) > 0 && !c->free_pending) {
		struct evbuffer_iovec v;
		size_t used = 0;
		enum pop3_parse pr;

		if (c->state == POP3_S_FAILED || c->state == POP3_S_CLOSED)
			return;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			return;
		pr = pop3_parser_feed(c->parser, v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
		if (pr == POP3_PARSE_ERROR) {
			pop3_fail(c, NET_RESULT_PROTOCOL_ERROR, "malformed reply: %s",
			    pop3_parser_error(c->parser));
			return;
		}
		if (pr == POP3_PARSE_DONE)
			pop3_dispatch(c, pop3_parser_reply(c->parser));
	}
}

static void
pop3_net_cb(struct net_conn *conn, enum net_event ev, void *arg)
{
	struct pop3_client *c = arg;

	(void)conn;
	c->dispatching++;
	switch (ev) {
	case NET_EV_CONNECTED: pop3_set_state(c, POP3_S_GREETING); break;
	case NET_EV_TLS_DONE:
		pop3_caps_clear(c); /* RFC 2595 section 4: forget pre-TLS capabilities */
		pop3_advance(c);
		break;
	case NET_EV_READ: pop3_read(c); break;
	case NET_EV_ERROR:
		switch (net_error(c->conn)) {
		case NET_ERR_RESOLVE:
		case NET_ERR_CONNECT:
			pop3_fail(c, NET_RESULT_CONNECT_FAILED, "%s", net_error_text(c->conn));
			break;
		case NET_ERR_TLS:
		case NET_ERR_VERIFY:
			pop3_fail(c, NET_RESULT_TLS_FAILED, "%s", net_error_text(c->conn));
			break;
		default:
			if (c->state == POP3_S_QUIT) {
				pop3_quit_finish(c);
			} else {
				pop3_fail(
				    c, NET_RESULT_PROTOCOL_ERROR, "%s", net_error_text(c->conn));
			}
			break;
		}
		break;
	}
	c->dispatching--;
	if (c->free_pending && c->dispatching == 0)
		pop3_really_free(c);
}

struct pop3_client *
pop3_client_open(
    struct event_base *base, const struct pop3_client_opts *o, pop3_ready_fn ready_cb, void *arg)
{
	struct pop3_client *c = xcalloc(1, sizeof(*c));
	struct net_params np;

	c->o = *o;
	c->host = xstrdup(o->host);
	c->ca_file = xstrdup(o->ca_file);
	c->user = xstrdup(o->user);
	c->password = xstrdup(o->password);
	c->admin = xstrdup(o->admin);
	c->o.host = c->host;
	c->o.ca_file = c->ca_file;
	c->o.user = c->o.password = c->o.admin = NULL;
	c->ready_cb = ready_cb;
	c->ready_arg = arg;
	c->messages = c->octets = -1;
	c->started_ms = util_now_ms();
	c->parser = pop3_parser_new(0, 0);
	pop3_set_state(c, POP3_S_CONNECT);
	memset(&np, 0, sizeof(np));
	np.host = c->host;
	np.port = o->port;
	np.implicit_tls = o->tls == POP3_TLS_IMPLICIT;
	np.ca_file = c->ca_file;
	np.insecure = o->insecure;
	np.allow_old_tls = o->allow_old_tls || o->user == NULL; /* no login: no password */
	np.dns = o->dns;
	c->base = base;
	c->conn = net_connect(base, &np, pop3_net_cb, c);
	return c;
}

enum net_result
pop3_client_result(const struct pop3_client *c)
{
	return c->result;
}

const char *
pop3_client_error(const struct pop3_client *c)
{
	return c->error != NULL ? c->error : "";
}

enum pop3_state
pop3_client_state(const struct pop3_client *c)
{
	return c->state;
}

const char *const *
pop3_client_caps(const struct pop3_client *c, size_t *n)
{
	*n = c->n_caps;
	return (const char *const *)c->caps;
}

const struct net_tls_info *
pop3_client_tls(const struct pop3_client *c)
{
	const struct net_tls_info *t = net_tls(c->conn);

	return t->done ? t : NULL;
}

long long
pop3_client_messages(const struct pop3_client *c)
{
	return c->messages;
}

long long
pop3_client_octets(const struct pop3_client *c)
{
	return c->octets;
}

void
pop3_client_timeout(struct pop3_client *c)
{
	if (c->state == POP3_S_FAILED || c->state == POP3_S_CLOSED)
		return;
	free(c->error);
	c->error = xasprintf("timed out in %s after %.1f s", pop3_state_str(c->state),
	    (util_now_ms() - c->started_ms) / 1000.0);
	c->result = NET_RESULT_TIMEOUT;
	c->ready_called = 1;
	c->quit_cb = NULL;
	pop3_set_state(c, POP3_S_FAILED);
}

void
pop3_client_quit(struct pop3_client *c, pop3_ready_fn done_cb, void *arg)
{
	c->quit_cb = done_cb;
	c->quit_arg = arg;
	c->ready_called = 1;
	if (c->state == POP3_S_FAILED || c->state == POP3_S_CLOSED) {
		c->quit_cb = NULL;
		if (done_cb != NULL)
			done_cb(c, arg);
		return;
	}
	pop3_set_state(c, POP3_S_QUIT);
	pop3_send(c, "QUIT", 0);
}

void
pop3_client_free(struct pop3_client *c)
{
	if (c == NULL)
		return;
	c->ready_cb = NULL;
	c->quit_cb = NULL;
	if (c->dispatching > 0) {
		c->free_pending = 1;
		return;
	}
	pop3_really_free(c);
}
