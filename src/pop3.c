/*
 * pop3.c - the POP3 client: CAPA, STLS, the login, STAT. See pop3.h. The
 * reply parser is pop3_parse.c; what POP3 shares with IMAP (connection,
 * credentials, failures, capabilities) is mailsess.c.
 *
 * Why hand-written: for the reasons imap.c gives (no asynchronous client
 * library for an existing libevent loop in Debian); the POP3 needed here is
 * a greeting, CAPA, STLS, a login and STAT.
 */
#include "pop3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailsess.h"
#include "util.h"

/* How long to wait for the server to close after QUIT's +OK. */
#define POP3_QUIT_LINGER_MS 1000

struct pop3_client {
	struct mailsess s; /* first: the shared session (mailsess.h) */
	struct pop3_parser *parser;
	enum pop3_state state;
	long long messages, octets;
	pop3_ready_fn ready_cb, quit_cb;
	void *ready_arg, *quit_arg;
	int ready_called;
	int sent_user; /* USER sent, PASS next */
};

static void pop3_advance(struct pop3_client *c);

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

/* Call the ready callback once. */
static void
pop3_call_ready(struct pop3_client *c)
{
	if (!c->ready_called) {
		c->ready_called = 1;
		if (c->ready_cb != NULL)
			c->ready_cb(c, c->ready_arg);
	}
}

/* Send one command line; EXPECT_MULTI when a +OK reply is multi-line. */
static void
pop3_send(struct pop3_client *c, const char *line, int expect_multi)
{
	pop3_parser_expect(c->parser, expect_multi);
	net_write(c->s.conn, line, strlen(line));
	net_write(c->s.conn, "\r\n", 2);
}

int
pop3_client_has_cap(const struct pop3_client *c, const char *name)
{
	return mailsess_has_cap_word(&c->s, name);
}

/* The SASL mechanisms offered ("SASL PLAIN XOAUTH2"), a bit per enum sasl_mech. */
static unsigned
pop3_sasl_offers(const struct pop3_client *c)
{
	return (mailsess_cap_list_has(&c->s, "SASL", "PLAIN") ? 1u << SASL_PLAIN : 0) |
	    (mailsess_cap_list_has(&c->s, "SASL", "XOAUTH2") ? 1u << SASL_XOAUTH2 : 0) |
	    (mailsess_cap_list_has(&c->s, "SASL", "OAUTHBEARER") ? 1u << SASL_OAUTHBEARER : 0);
}

/* AUTH MECH with the initial response on the line (RFC 5034 section 4). */
static void
pop3_send_sasl(struct pop3_client *c, enum sasl_mech mech)
{
	char *b64 = mailsess_sasl_initial(&c->s, mech), *line;

	if (b64 == NULL) {
		mailsess_fail(&c->s, NET_RESULT_AUTH_FAILED,
		    "the user name or credential cannot be sent with %s (a control character)",
		    sasl_mech_name(mech));
		return;
	}
	c->s.mech = mech;
	line = xasprintf("AUTH %s %s", sasl_mech_name(mech), b64);
	sasl_free(b64);
	pop3_set_state(c, POP3_S_AUTH);
	pop3_send(c, line, 0);
	util_free_secret(line);
}

/* The login: OAuth2, admin and (when offered) password logins by SASL,
 * else USER/PASS. */
static void
pop3_login(struct pop3_client *c)
{
	const char *why;
	enum sasl_mech mech;

	if (c->s.password == NULL && c->s.token == NULL) {
		mailsess_fail(&c->s, NET_RESULT_AUTH_FAILED, "no password to log in with");
		return;
	}
	if (strpbrk(c->s.user, "\r\n") != NULL ||
	    (c->s.password != NULL && strpbrk(c->s.password, "\r\n") != NULL)) {
		mailsess_fail(&c->s, NET_RESULT_AUTH_FAILED,
		    "the user name or password contains a line break");
		return;
	}
	mech = mailsess_pick_mech(&c->s, pop3_sasl_offers(c), &why);
	if (why != NULL) {
		mailsess_fail(&c->s, NET_RESULT_AUTH_FAILED, "%s", why);
		return;
	}
	if (mech == SASL_NONE && (pop3_sasl_offers(c) & (1u << SASL_PLAIN)))
		mech = SASL_PLAIN;
	if (mech != SASL_NONE) {
		pop3_send_sasl(c, mech);
		return;
	}
	{
		char *line = xasprintf("USER %s", c->s.user);

		pop3_set_state(c, POP3_S_AUTH);
		c->sent_user = 1;
		pop3_send(c, line, 0);
		free(line);
	}
}

static void
pop3_advance(struct pop3_client *c)
{
	int want_tls;

	if (!c->s.have_caps) {
		pop3_set_state(c, POP3_S_CAPA);
		pop3_send(c, "CAPA", 1);
		return;
	}
	/* --allow-plaintext permits plaintext where TLS is not offered: STLS
	 * offered is always taken, and so is a server offering no plaintext
	 * login (Dovecot lists neither USER nor SASL mechanisms before STLS). */
	want_tls = !net_is_tls(c->s.conn) &&
	    (c->s.tls == NET_TLS_STARTTLS ||
	        (c->s.tls == NET_TLS_PLAIN_ALLOWED &&
	            (pop3_client_has_cap(c, "STLS") ||
	                (c->s.user != NULL && c->s.n_caps > 0 && !pop3_client_has_cap(c, "USER") &&
	                    !mailsess_cap_list_has(&c->s, "SASL", "PLAIN")))));
	if (want_tls) {
		if (!pop3_client_has_cap(c, "STLS")) {
			mailsess_fail(&c->s, NET_RESULT_PLAINTEXT_REFUSED,
			    c->s.tls == NET_TLS_STARTTLS
			        ? "the server offers no STLS; refusing to continue without TLS "
			          "(use pop3s:// or --allow-plaintext)"
			        : "the server offers no plaintext login and no STLS");
			return;
		}
		pop3_set_state(c, POP3_S_STLS);
		pop3_send(c, "STLS", 0);
		return;
	}
	if (c->s.user == NULL) {
		pop3_set_state(c, POP3_S_READY);
		pop3_call_ready(c);
		return;
	}
	pop3_login(c);
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
	char *text, st[SASL_OAUTH_STATUS_LEN];

	if (r->kind == POP3_REPLY_OK) {
		mailsess_forget_secrets(&c->s);
		pop3_set_state(c, POP3_S_STAT);
		pop3_send(c, "STAT", 0);
		return;
	}
	if (r->kind == POP3_REPLY_CONTINUE) {
		/* After an OAuth2 initial response: the server's error challenge;
		 * the dummy reply brings the -ERR (RFC 7628 3.2.3). Anything
		 * else is cancelled with "*" (RFC 5034 section 4). */
		const char *reply = c->s.mech == SASL_XOAUTH2 || c->s.mech == SASL_OAUTHBEARER
		    ? mailsess_oauth_challenge(&c->s, r->text)
		    : "*";

		pop3_send(c, reply, 0);
		return;
	}
	if (mailsess_oauth_retry(&c->s))
		return; /* a fresh token, a new connection */
	text = mailsess_scrub(&c->s, xstrdup(r->text));
	mailsess_forget_secrets(&c->s);
	if (strcasestr(text, "plaintext") != NULL)
		mailsess_fail(&c->s, NET_RESULT_PLAINTEXT_REFUSED,
		    "the server refuses plaintext logins: -ERR %s", text);
	else if (c->s.oauth_refused)
		mailsess_fail(&c->s, NET_RESULT_AUTH_FAILED,
		    "AUTH %s refused the OAuth2 token (%s): -ERR %s%s%s%s",
		    sasl_mech_name(c->s.mech), mailsess_oauth_status(&c->s, st, sizeof(st)),
		    r->code != NULL ? "[" : "", r->code != NULL ? r->code : "",
		    r->code != NULL ? "] " : "", text);
	else
		mailsess_fail(&c->s, NET_RESULT_AUTH_FAILED, "login refused: -ERR %s%s%s%s%s",
		    r->code != NULL ? "[" : "", r->code != NULL ? r->code : "",
		    r->code != NULL ? "] " : "", text,
		    mailsess_login_hint(&c->s, pop3_sasl_offers(c)));
	util_free_secret(text);
}

static void pop3_quit_finish(struct mailsess *s);

static void
pop3_dispatch(struct pop3_client *c, const struct pop3_reply *r)
{
	switch (c->state) {
	case POP3_S_GREETING:
		if (r->kind != POP3_REPLY_OK) {
			mailsess_fail(&c->s, NET_RESULT_PROTOCOL_ERROR,
			    "the server refused the connection: %s", r->text);
			return;
		}
		pop3_advance(c);
		return;
	case POP3_S_CAPA:
		mailsess_caps_clear(&c->s);
		if (r->kind == POP3_REPLY_OK)
			for (size_t i = 0; i < r->n_lines; i++)
				mailsess_caps_add(&c->s, r->lines[i], strlen(r->lines[i]), NULL);
		c->s.have_caps = 1; /* -ERR: an old server without CAPA */
		pop3_advance(c);
		return;
	case POP3_S_STLS:
		if (r->kind != POP3_REPLY_OK) {
			mailsess_fail(
			    &c->s, NET_RESULT_TLS_FAILED, "the server refused STLS: %s", r->text);
			return;
		}
		if (net_starttls(c->s.conn) != 0)
			mailsess_fail(
			    &c->s, NET_RESULT_PROTOCOL_ERROR, "%s", net_error_text(c->s.conn));
		return;
	case POP3_S_AUTH:
		if (c->sent_user && r->kind == POP3_REPLY_OK) {
			char *line = xasprintf("PASS %s", c->s.password);

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
		pop3_call_ready(c);
		return;
	case POP3_S_QUIT:
		/* The server closes next (RFC 1939 section 6): wait for that,
		 * briefly, so the next connection to this server really comes
		 * after this one (--per-host counts what the server sees). */
		mailsess_linger(&c->s, POP3_QUIT_LINGER_MS, pop3_quit_finish);
		return;
	default:
		mailsess_fail(&c->s, NET_RESULT_PROTOCOL_ERROR, "unexpected reply: %s", r->text);
		return;
	}
}

/* ---- the session's operations (mailsess_ops) ---- */

static const char *
pop3_state_name(const struct mailsess *s)
{
	return pop3_state_str(((const struct pop3_client *)s)->state);
}

static void
pop3_connected(struct mailsess *s)
{
	pop3_set_state((struct pop3_client *)s, POP3_S_GREETING);
}

static void
pop3_tls_done(struct mailsess *s)
{
	pop3_advance((struct pop3_client *)s);
}

static int
pop3_feed(struct mailsess *s, const char *data, size_t len, size_t *used)
{
	struct pop3_client *c = (struct pop3_client *)s;
	enum pop3_parse pr = pop3_parser_feed(c->parser, data, len, used);

	if (pr == POP3_PARSE_ERROR) {
		mailsess_fail(s, NET_RESULT_PROTOCOL_ERROR, "malformed reply: %s",
		    pop3_parser_error(c->parser));
		return -1;
	}
	return pr == POP3_PARSE_DONE;
}

static void
pop3_dispatch_ready(struct mailsess *s)
{
	struct pop3_client *c = (struct pop3_client *)s;

	pop3_dispatch(c, pop3_parser_reply(c->parser));
}

static void
pop3_closed(struct mailsess *s)
{
	if (((struct pop3_client *)s)->state == POP3_S_QUIT) {
		mailsess_linger_stop(s);
		pop3_quit_finish(s);
		return;
	}
	mailsess_fail(s, NET_RESULT_PROTOCOL_ERROR, "%s", net_error_text(s->conn));
}

static void
pop3_failed(struct mailsess *s)
{
	struct pop3_client *c = (struct pop3_client *)s;
	pop3_ready_fn cb;

	pop3_set_state(c, POP3_S_FAILED);
	if (!c->ready_called && c->ready_cb != NULL) {
		pop3_call_ready(c);
		return;
	}
	cb = c->quit_cb;
	c->quit_cb = NULL;
	if (cb != NULL)
		cb(c, c->quit_arg);
}

static void
pop3_timed_out(struct mailsess *s)
{
	struct pop3_client *c = (struct pop3_client *)s;

	c->ready_called = 1;
	c->quit_cb = NULL;
	pop3_set_state(c, POP3_S_FAILED);
}

static void
pop3_restart(struct mailsess *s)
{
	struct pop3_client *c = (struct pop3_client *)s;

	pop3_parser_free(c->parser);
	c->parser = pop3_parser_new(0, 0);
	c->sent_user = 0;
	pop3_set_state(c, POP3_S_CONNECT);
}

static void
pop3_destroy(struct mailsess *s)
{
	struct pop3_client *c = (struct pop3_client *)s;

	pop3_parser_free(c->parser);
	free(c);
}

static const struct mailsess_ops pop3_ops = {
    .proto = "POP3",
    .state_name = pop3_state_name,
    .connected = pop3_connected,
    .tls_done = pop3_tls_done,
    .feed = pop3_feed,
    .dispatch = pop3_dispatch_ready,
    .closed = pop3_closed,
    .failed = pop3_failed,
    .timed_out = pop3_timed_out,
    .restart = pop3_restart,
    .destroy = pop3_destroy,
};

/* ---- the public client ---- */

struct pop3_client *
pop3_client_open(
    struct event_base *base, const struct pop3_client_opts *o, pop3_ready_fn ready_cb, void *arg)
{
	struct pop3_client *c = xcalloc(1, sizeof(*c));

	c->ready_cb = ready_cb;
	c->ready_arg = arg;
	c->messages = c->octets = -1;
	c->parser = pop3_parser_new(0, 0);
	pop3_set_state(c, POP3_S_CONNECT);
	mailsess_open(&c->s, &pop3_ops, base, &o->sess);
	return c;
}

enum net_result
pop3_client_result(const struct pop3_client *c)
{
	return c->s.result;
}

const char *
pop3_client_error(const struct pop3_client *c)
{
	return c->s.error != NULL ? c->s.error : "";
}

enum pop3_state
pop3_client_state(const struct pop3_client *c)
{
	return c->state;
}

const char *const *
pop3_client_caps(const struct pop3_client *c, size_t *n)
{
	*n = c->s.n_caps;
	return (const char *const *)c->s.caps;
}

const struct tls_facts *
pop3_client_tls(const struct pop3_client *c)
{
	return mailsess_tls(&c->s);
}

enum sasl_mech
pop3_client_mech(const struct pop3_client *c)
{
	return c->s.mech;
}

const struct sasl_oauth_error *
pop3_client_oauth_error(const struct pop3_client *c)
{
	return c->s.oauth_refused ? &c->s.oauth_error : NULL;
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
	mailsess_timeout(&c->s);
}

/* The session is over: report it to whoever asked for the QUIT. */
static void
pop3_quit_finish(struct mailsess *s)
{
	struct pop3_client *c = (struct pop3_client *)s;
	pop3_ready_fn cb = c->quit_cb;

	pop3_set_state(c, POP3_S_CLOSED);
	s->over = 1;
	c->quit_cb = NULL;
	if (cb != NULL)
		cb(c, c->quit_arg);
}

void
pop3_client_quit(struct pop3_client *c, pop3_ready_fn done_cb, void *arg)
{
	c->ready_called = 1;
	if (c->s.over) {
		if (done_cb != NULL)
			done_cb(c, arg);
		return;
	}
	c->quit_cb = done_cb;
	c->quit_arg = arg;
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
	mailsess_release(&c->s);
}
