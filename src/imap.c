/*
 * imap.c - the IMAP4rev1 client: tags, pipelining, literals, the login. See
 * imap.h. The response parser is imap_parse.c; what IMAP shares with POP3
 * (connection, credentials, failures, capabilities) is mailsess.c.
 *
 * Why hand-written: Debian has no maintained asynchronous IMAP client
 * library in C that runs on an existing libevent loop. `apt-cache search imap`
 * (Debian 12) offers libetpan (C, but its IMAP layer reads from its own
 * blocking mailstream), libkf5imap (C++ on the Qt event loop), the Cyrus
 * imclient for Perl, and Go/Perl/Python libraries. The client side of IMAP
 * needed here is small: a line/literal framer, a response parser, a tagged
 * queue; curl (lib/imap.c on pingpong.c) and isync (drv_imap.c) hand-write
 * theirs for the same reasons.
 */
#include "imap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailsess.h"
#include "util.h"

/* ================================================================ client ===== */

struct imap_part {
	char *data;
	size_t len;
};

struct imap_cmd {
	struct imap_client *c;
	char tag[16];
	char *name;              /* command name, for messages */
	struct imap_part *parts; /* each but the last ends in a synchronizing literal */
	size_t n_parts, cap_parts, sent;
	char *cur; /* part being built */
	size_t cur_len, cur_cap;
	int secret;
	int open; /* imap_cmd_send_open: the caller still writes (see imap_cmd_write) */
	int sasl; /* AUTHENTICATE: a "+" after the response is a challenge */
	imap_untagged_fn untagged;
	imap_done_fn done;
	void *arg;
	struct imap_cmd *next;
};

struct imap_client {
	struct mailsess s;         /* first: the shared session (mailsess.h) */
	struct imap_limits limits; /* the parser's, for a new parser on a retry */
	struct imap_parser *parser;
	enum imap_state state;
	char *greeting;
	char *bye; /* text of an untagged BYE */
	unsigned next_tag;
	struct imap_cmd *cmds;    /* sent or queued, oldest first */
	struct imap_cmd *waiting; /* sent up to a synchronizing literal, waits for "+" */
	imap_ready_fn ready_cb;
	void *ready_arg;
	int ready_called;
	imap_ready_fn logout_cb;
	void *logout_arg;
	size_t round_trips; /* see imap_client_round_trips */
};

static void imap_advance(struct imap_client *c);
static void imap_pump(struct imap_client *c);

const char *
imap_state_str(enum imap_state st)
{
	switch (st) {
	case IMAP_S_CONNECT: return "connect";
	case IMAP_S_GREETING: return "greeting";
	case IMAP_S_CAPABILITY: return "CAPABILITY";
	case IMAP_S_STARTTLS: return "STARTTLS";
	case IMAP_S_AUTH: return "login";
	case IMAP_S_READY: return "session";
	case IMAP_S_LOGOUT: return "LOGOUT";
	case IMAP_S_CLOSED: return "closed";
	case IMAP_S_FAILED: return "failed";
	}
	return "?";
}

/* The only way to change the state. */
static void
imap_set_state(struct imap_client *c, enum imap_state st)
{
	c->state = st;
}

int64_t
imap_client_elapsed_ms(const struct imap_client *c)
{
	return mailsess_elapsed_ms(&c->s);
}

/* Call the ready callback once. Returns 1 when the client is being freed. */
static int
imap_call_ready(struct imap_client *c)
{
	if (!c->ready_called && c->ready_cb != NULL) {
		c->ready_called = 1;
		c->ready_cb(c, c->ready_arg);
	}
	return c->s.free_pending;
}

static void imap_cmd_free(struct imap_cmd *cmd);

/*
 * ops->failed, after mailsess_fail recorded why: complete every command
 * with NULL and call the ready (or logout) callback.
 */
static void
imap_failed(struct mailsess *s)
{
	struct imap_client *c = (struct imap_client *)s;

	imap_set_state(c, IMAP_S_FAILED);
	while (c->cmds != NULL) {
		struct imap_cmd *cmd = c->cmds;

		c->cmds = cmd->next;
		if (cmd->done != NULL && !c->s.free_pending)
			cmd->done(c, NULL, cmd->arg);
		imap_cmd_free(cmd);
		if (c->s.free_pending)
			return;
	}
	c->waiting = NULL;
	if (imap_call_ready(c))
		return;
	if (c->logout_cb != NULL) {
		imap_ready_fn cb = c->logout_cb;

		c->logout_cb = NULL;
		cb(c, c->logout_arg);
	}
}

/* ---- capabilities ---- */

/* CUTOVER_IMAP_IGNORE="LITERAL+,STATUS=SIZE": act as if the server did not
 * offer these, so the fallbacks meet a real server (a testing switch). */
#define IMAP_IGNORE_ENV "CUTOVER_IMAP_IGNORE"

/* Set the capabilities from a space-separated list ("IMAP4rev1 STARTTLS"). */
static void
imap_caps_from_text(struct imap_client *c, const char *s)
{
	mailsess_caps_clear(&c->s);
	while (*s != '\0') {
		size_t n;

		while (*s == ' ')
			s++;
		n = strcspn(s, " ");
		if (n == 0)
			break;
		mailsess_caps_add(&c->s, s, n, IMAP_IGNORE_ENV);
		s += n;
	}
	c->s.have_caps = 1;
}

static void
imap_caps_from_args(struct imap_client *c, const struct imap_response *r)
{
	mailsess_caps_clear(&c->s);
	for (const struct imap_arg *a = r->args; a != NULL; a = a->next)
		if (a->type == IMAP_ARG_ATOM)
			mailsess_caps_add(&c->s, a->str, strlen(a->str), IMAP_IGNORE_ENV);
	c->s.have_caps = 1;
}

int
imap_client_has_cap(const struct imap_client *c, const char *name)
{
	return mailsess_has_cap(&c->s, name);
}

const char *const *
imap_client_caps(const struct imap_client *c, size_t *n)
{
	*n = c->s.n_caps;
	return (const char *const *)c->s.caps;
}

/* The SASL mechanisms offered, a bit per enum sasl_mech. */
static unsigned
imap_sasl_offers(const struct imap_client *c)
{
	return (imap_client_has_cap(c, "AUTH=PLAIN") ? 1u << SASL_PLAIN : 0) |
	    (imap_client_has_cap(c, "AUTH=XOAUTH2") ? 1u << SASL_XOAUTH2 : 0) |
	    (imap_client_has_cap(c, "AUTH=OAUTHBEARER") ? 1u << SASL_OAUTHBEARER : 0);
}

/* ---- commands ---- */

static void
imap_cmd_grow(struct imap_cmd *cmd, size_t n)
{
	if (cmd->cur_len + n + 1 > cmd->cur_cap) {
		size_t cap = cmd->cur_cap ? cmd->cur_cap : 64;
		char *nb;

		while (cap < cmd->cur_len + n + 1)
			cap *= 2;
		/* Grow by copying so a secret never lingers in freed memory. */
		nb = xmalloc(cap);
		if (cmd->cur_len > 0)
			memcpy(nb, cmd->cur, cmd->cur_len);
		if (cmd->cur != NULL) {
			explicit_bzero(cmd->cur, cmd->cur_cap);
			free(cmd->cur);
		}
		cmd->cur = nb;
		cmd->cur_cap = cap;
	}
}

static void
imap_cmd_put(struct imap_cmd *cmd, const char *s, size_t n)
{
	imap_cmd_grow(cmd, n);
	memcpy(cmd->cur + cmd->cur_len, s, n);
	cmd->cur_len += n;
	cmd->cur[cmd->cur_len] = '\0';
}

/* Close the current part (it ends where the server's "+" is awaited). */
static void
imap_cmd_end_part(struct imap_cmd *cmd)
{
	if (cmd->n_parts == cmd->cap_parts) {
		cmd->cap_parts = cmd->cap_parts ? cmd->cap_parts * 2 : 2;
		cmd->parts = xrealloc(cmd->parts, cmd->cap_parts * sizeof(*cmd->parts));
	}
	cmd->parts[cmd->n_parts].data = cmd->cur != NULL ? cmd->cur : xstrdup("");
	cmd->parts[cmd->n_parts].len = cmd->cur_len;
	cmd->n_parts++;
	cmd->cur = NULL;
	cmd->cur_len = cmd->cur_cap = 0;
}

struct imap_cmd *
imap_cmd_new(struct imap_client *c, const char *name)
{
	struct imap_cmd *cmd = xcalloc(1, sizeof(*cmd));

	cmd->c = c;
	snprintf(cmd->tag, sizeof(cmd->tag), "A%03u", ++c->next_tag);
	cmd->name = xstrdup(name);
	imap_cmd_put(cmd, cmd->tag, strlen(cmd->tag));
	imap_cmd_put(cmd, " ", 1);
	imap_cmd_put(cmd, name, strlen(name));
	return cmd;
}

void
imap_cmd_atom(struct imap_cmd *cmd, const char *atom)
{
	imap_cmd_put(cmd, " ", 1);
	imap_cmd_put(cmd, atom, strlen(atom));
}

void
imap_cmd_string(struct imap_cmd *cmd, const char *s, size_t len, int secret)
{
	int atom = len > 0, quotable = 1;
	char hdr[40];

	if (secret)
		cmd->secret = 1;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!imap_atom_char(ch))
			atom = 0;
		/* Quote only plain 7-bit text without '"' or '\': escapes are
		 * where servers disagree; anything else goes as a literal. */
		if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
			quotable = 0;
	}
	imap_cmd_put(cmd, " ", 1);
	if (atom && !util_strieq(s, "NIL")) {
		imap_cmd_put(cmd, s, len);
	} else if (quotable) {
		imap_cmd_put(cmd, "\"", 1);
		imap_cmd_put(cmd, s, len);
		imap_cmd_put(cmd, "\"", 1);
	} else if (imap_client_has_cap(cmd->c, "LITERAL+") ||
	    (imap_client_has_cap(cmd->c, "LITERAL-") && len <= 4096)) {
		/* RFC 7888: non-synchronizing literal, no round trip. */
		snprintf(hdr, sizeof(hdr), "{%zu+}\r\n", len);
		imap_cmd_put(cmd, hdr, strlen(hdr));
		imap_cmd_put(cmd, s, len);
	} else {
		snprintf(hdr, sizeof(hdr), "{%zu}\r\n", len);
		imap_cmd_put(cmd, hdr, strlen(hdr));
		imap_cmd_end_part(cmd);
		imap_cmd_put(cmd, s, len);
	}
}

static void
imap_cmd_free(struct imap_cmd *cmd)
{
	for (size_t i = 0; i < cmd->n_parts; i++) {
		if (cmd->secret)
			util_free_secret(cmd->parts[i].data);
		else
			free(cmd->parts[i].data);
	}
	if (cmd->cur != NULL) {
		explicit_bzero(cmd->cur, cmd->cur_cap);
		free(cmd->cur);
	}
	free(cmd->parts);
	free(cmd->name);
	free(cmd);
}

void
imap_cmd_send(struct imap_cmd *cmd, imap_untagged_fn untagged, imap_done_fn done, void *arg)
{
	struct imap_client *c = cmd->c;
	struct imap_cmd **pp;

	imap_cmd_put(cmd, "\r\n", 2);
	imap_cmd_end_part(cmd);
	cmd->untagged = untagged;
	cmd->done = done;
	cmd->arg = arg;
	if (c->s.over) {
		imap_cmd_free(cmd);
		return;
	}
	/* Nothing in flight: this command starts a new wait for the server. */
	if (c->cmds == NULL)
		c->round_trips++;
	for (pp = &c->cmds; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = cmd;
	imap_pump(c);
}

void
imap_cmd_send_open(struct imap_cmd *cmd, imap_untagged_fn untagged, imap_done_fn done, void *arg)
{
	struct imap_client *c = cmd->c;
	struct imap_cmd **pp;

	cmd->untagged = untagged;
	cmd->done = done;
	cmd->arg = arg;
	cmd->open = 1;
	if (c->s.over) {
		imap_cmd_free(cmd);
		return;
	}
	if (c->cmds == NULL)
		c->round_trips++;
	for (pp = &c->cmds; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = cmd;
	imap_pump(c);
}

/* CMD's text so far went out and nothing waits for "+": write straight through. */
static int
imap_cmd_live(const struct imap_cmd *cmd)
{
	const struct imap_client *c = cmd->c;

	if (c->waiting != NULL || cmd->sent < cmd->n_parts || cmd->cur_len > 0)
		return 0;
	for (const struct imap_cmd *o = c->cmds; o != NULL && o != cmd; o = o->next)
		if (o->sent < o->n_parts || o->open)
			return 0;
	return 1;
}

void
imap_cmd_write(struct imap_cmd *cmd, const void *data, size_t len)
{
	if (imap_cmd_live(cmd))
		net_write(cmd->c->s.conn, data, len);
	else
		imap_cmd_put(cmd, data, len);
}

void
imap_cmd_literal(struct imap_cmd *cmd, uint64_t size)
{
	struct imap_client *c = cmd->c;
	char hdr[40];

	/* RFC 7888: {n+} needs no "+" (LITERAL-: only up to 4096 bytes). */
	if (imap_client_has_cap(c, "LITERAL+") ||
	    (imap_client_has_cap(c, "LITERAL-") && size <= 4096)) {
		snprintf(hdr, sizeof(hdr), "{%llu+}\r\n", (unsigned long long)size);
		imap_cmd_write(cmd, hdr, strlen(hdr));
		return;
	}
	snprintf(hdr, sizeof(hdr), "{%llu}\r\n", (unsigned long long)size);
	imap_cmd_put(cmd, hdr, strlen(hdr));
	imap_cmd_end_part(cmd);
	imap_pump(c);
}

int
imap_cmd_blocked(const struct imap_cmd *cmd)
{
	return !imap_cmd_live(cmd);
}

void
imap_cmd_close(struct imap_cmd *cmd)
{
	imap_cmd_put(cmd, "\r\n", 2);
	imap_cmd_end_part(cmd);
	cmd->open = 0;
	imap_pump(cmd->c);
}

struct imap_parser *
imap_client_parser(struct imap_client *c)
{
	return c->parser;
}

struct net_conn *
imap_client_conn(struct imap_client *c)
{
	return c->s.conn;
}

/* Send what may be sent: every queued command until one waits for "+". */
static void
imap_pump(struct imap_client *c)
{
	if (c->waiting != NULL)
		return;
	for (struct imap_cmd *cmd = c->cmds; cmd != NULL; cmd = cmd->next) {
		while (cmd->sent < cmd->n_parts) {
			struct imap_part *pt = &cmd->parts[cmd->sent++];

			net_write(c->s.conn, pt->data, pt->len);
			if (cmd->secret)
				explicit_bzero(pt->data, pt->len);
			/* Every part of an open command ends in a synchronizing literal. */
			if (cmd->sent < cmd->n_parts || cmd->open) {
				c->waiting = cmd;
				return;
			}
		}
		if (cmd->open) {
			/* What the caller wrote while the command waited; nothing
			 * after an open command is sent until it is closed. */
			if (cmd->cur_len > 0) {
				net_write(c->s.conn, cmd->cur, cmd->cur_len);
				cmd->cur_len = 0;
			}
			return;
		}
	}
}

/* ---- session steps ---- */

static void
imap_on_capability(struct imap_client *c, const struct imap_response *r, void *arg)
{
	(void)arg;
	if (r == NULL)
		return;
	if (r->status != IMAP_ST_OK) {
		mailsess_fail(&c->s, NET_RESULT_PROTOCOL_ERROR, "CAPABILITY failed: %s %s",
		    imap_status_str(r->status), r->text);
		return;
	}
	if (!c->s.have_caps)
		imap_caps_from_text(c, ""); /* a server with none: don't ask again */
	imap_advance(c);
}

static void
imap_on_starttls(struct imap_client *c, const struct imap_response *r, void *arg)
{
	(void)arg;
	if (r == NULL)
		return;
	if (r->status != IMAP_ST_OK) {
		mailsess_fail(&c->s, NET_RESULT_TLS_FAILED, "the server refused STARTTLS: %s %s",
		    imap_status_str(r->status), r->text);
		return;
	}
	if (net_starttls(c->s.conn) != 0) {
		mailsess_fail(&c->s, NET_RESULT_PROTOCOL_ERROR, "%s", net_error_text(c->s.conn));
		return;
	}
	/* NET_EV_TLS_DONE continues (imap_tls_done). */
}

static void
imap_on_auth(struct imap_client *c, const struct imap_response *r, void *arg)
{
	const char *how = arg;
	char *text, st[SASL_OAUTH_STATUS_LEN];

	if (r == NULL)
		return;
	if (r->status != IMAP_ST_OK && mailsess_oauth_retry(&c->s))
		return; /* a fresh token, a new connection */
	/* The server's words, with any echo of a secret masked; then the
	 * secrets are no longer needed. */
	text = mailsess_scrub(&c->s, xstrdup(r->text));
	mailsess_forget_secrets(&c->s);
	if (r->status == IMAP_ST_OK) {
		free(text);
		if (imap_code_is(r, "CAPABILITY", NULL)) {
			const char *rest;

			imap_code_is(r, "CAPABILITY", &rest);
			imap_caps_from_text(c, rest);
		} else {
			mailsess_caps_clear(&c->s); /* RFC 3501 6.2.3: may change; ask again */
		}
		imap_set_state(c, IMAP_S_READY);
		imap_advance(c);
		return;
	}
	if (imap_code_is(r, "PRIVACYREQUIRED", NULL))
		mailsess_fail(&c->s, NET_RESULT_PLAINTEXT_REFUSED,
		    "the server refuses %s without TLS: %s", how, text);
	else if (r->status == IMAP_ST_BAD)
		mailsess_fail(&c->s, NET_RESULT_PROTOCOL_ERROR,
		    "the server rejected the %s command: %s", how, text);
	else if (c->s.oauth_refused)
		mailsess_fail(&c->s, NET_RESULT_AUTH_FAILED,
		    "%s refused the OAuth2 token (%s): %s%s%s%s", how,
		    mailsess_oauth_status(&c->s, st, sizeof(st)), r->code != NULL ? "[" : "",
		    r->code != NULL ? r->code : "", r->code != NULL ? "] " : "", text);
	else
		mailsess_fail(&c->s, NET_RESULT_AUTH_FAILED, "%s refused: %s%s%s%s%s", how,
		    r->code != NULL ? "[" : "", r->code != NULL ? r->code : "",
		    r->code != NULL ? "] " : "", text,
		    mailsess_login_hint(&c->s, imap_sasl_offers(c)));
	util_free_secret(text);
}

static void
imap_send_capability(struct imap_client *c)
{
	imap_set_state(c, c->state == IMAP_S_READY ? IMAP_S_READY : IMAP_S_CAPABILITY);
	imap_cmd_send(imap_cmd_new(c, "CAPABILITY"), NULL, imap_on_capability, NULL);
}

/* AUTHENTICATE MECH (RFC 3501 6.2.2) with SASL-IR (RFC 4959) when offered. */
static void
imap_send_sasl(struct imap_client *c, enum sasl_mech mech)
{
	static const char *const how[] = {
	    [SASL_PLAIN] = "AUTHENTICATE PLAIN",
	    [SASL_XOAUTH2] = "AUTHENTICATE XOAUTH2",
	    [SASL_OAUTHBEARER] = "AUTHENTICATE OAUTHBEARER",
	};
	char *b64 = mailsess_sasl_initial(&c->s, mech);
	struct imap_cmd *cmd;

	if (b64 == NULL) {
		mailsess_fail(&c->s, NET_RESULT_AUTH_FAILED,
		    "the user name or credential cannot be sent with %s (a control character)",
		    sasl_mech_name(mech));
		return;
	}
	c->s.mech = mech;
	cmd = imap_cmd_new(c, how[mech]);
	cmd->secret = 1;
	cmd->sasl = 1;
	if (imap_client_has_cap(c, "SASL-IR")) {
		imap_cmd_atom(cmd, b64);
	} else {
		/* The response goes after the server's "+". */
		imap_cmd_put(cmd, "\r\n", 2);
		imap_cmd_end_part(cmd);
		imap_cmd_put(cmd, b64, strlen(b64));
	}
	sasl_free(b64);
	imap_set_state(c, IMAP_S_AUTH);
	imap_cmd_send(cmd, NULL, imap_on_auth,
	    (void *)(mech == SASL_PLAIN && c->s.admin != NULL ? "AUTHENTICATE PLAIN (admin)"
	                                                      : how[mech]));
}

/* The login: OAuth2 and admin logins by SASL, else LOGIN (or PLAIN where
 * LOGIN is disabled). */
static void
imap_login(struct imap_client *c)
{
	const char *why;
	enum sasl_mech mech;

	if (c->s.password == NULL && c->s.token == NULL) {
		mailsess_fail(&c->s, NET_RESULT_AUTH_FAILED, "no password to log in with");
		return;
	}
	mech = mailsess_pick_mech(&c->s, imap_sasl_offers(c), &why);
	if (why != NULL) {
		mailsess_fail(&c->s, NET_RESULT_AUTH_FAILED, "%s", why);
		return;
	}
	if (mech == SASL_NONE && imap_client_has_cap(c, "LOGINDISABLED")) {
		if (!imap_client_has_cap(c, "AUTH=PLAIN")) {
			mailsess_fail(&c->s, NET_RESULT_PLAINTEXT_REFUSED,
			    "the server disables LOGIN (LOGINDISABLED) and offers no AUTH=PLAIN%s",
			    mailsess_login_hint(&c->s, imap_sasl_offers(c)));
			return;
		}
		mech = SASL_PLAIN;
	}
	if (mech != SASL_NONE) {
		imap_send_sasl(c, mech);
		return;
	}
	{
		struct imap_cmd *cmd = imap_cmd_new(c, "LOGIN");

		imap_cmd_string(cmd, c->s.user, strlen(c->s.user), 0);
		imap_cmd_string(cmd, c->s.password, strlen(c->s.password), 1);
		imap_set_state(c, IMAP_S_AUTH);
		imap_cmd_send(cmd, NULL, imap_on_auth, "LOGIN");
	}
}

/* Decide the next step of the session set-up. */
static void
imap_advance(struct imap_client *c)
{
	int want_tls;

	if (!c->s.have_caps) {
		imap_send_capability(c);
		return;
	}
	if (c->state == IMAP_S_READY) {
		imap_call_ready(c);
		return;
	}
	/* --allow-plaintext permits plaintext where TLS is not offered; it never
	 * skips STARTTLS that is (a password in clear to a server that could
	 * have had TLS is a downgrade). */
	want_tls = !net_is_tls(c->s.conn) &&
	    (c->s.tls == NET_TLS_STARTTLS ||
	        (c->s.tls == NET_TLS_PLAIN_ALLOWED &&
	            (imap_client_has_cap(c, "STARTTLS") ||
	                (c->s.user != NULL && imap_client_has_cap(c, "LOGINDISABLED")))));
	if (want_tls) {
		if (!imap_client_has_cap(c, "STARTTLS")) {
			if (c->s.tls == NET_TLS_STARTTLS)
				mailsess_fail(&c->s, NET_RESULT_PLAINTEXT_REFUSED,
				    "the server offers no STARTTLS; refusing to continue without "
				    "TLS (use imaps:// or --allow-plaintext)");
			else
				mailsess_fail(&c->s, NET_RESULT_PLAINTEXT_REFUSED,
				    "the server refuses plaintext logins (LOGINDISABLED) and "
				    "offers no STARTTLS");
			return;
		}
		imap_set_state(c, IMAP_S_STARTTLS);
		imap_cmd_send(imap_cmd_new(c, "STARTTLS"), NULL, imap_on_starttls, NULL);
		return;
	}
	if (c->s.user == NULL) {
		imap_set_state(c, IMAP_S_READY);
		imap_call_ready(c);
		return;
	}
	imap_login(c);
}

/* The greeting (RFC 3501 section 7.1): OK, PREAUTH or BYE. */
static void
imap_on_greeting(struct imap_client *c, const struct imap_response *r)
{
	const char *rest;

	if (r->kind != IMAP_RESP_UNTAGGED || r->status == IMAP_ST_NONE || r->status == IMAP_ST_NO ||
	    r->status == IMAP_ST_BAD) {
		mailsess_fail(
		    &c->s, NET_RESULT_PROTOCOL_ERROR, "not an IMAP greeting (expected \"* OK\")");
		return;
	}
	free(c->greeting);
	c->greeting = xstrdup(r->text);
	if (r->status == IMAP_ST_BYE) {
		mailsess_fail(&c->s, NET_RESULT_PROTOCOL_ERROR,
		    "the server refused the connection: %s", r->text);
		return;
	}
	if (imap_code_is(r, "CAPABILITY", &rest))
		imap_caps_from_text(c, rest);
	if (r->status == IMAP_ST_PREAUTH && !net_is_tls(c->s.conn) &&
	    (c->s.tls == NET_TLS_STARTTLS || imap_client_has_cap(c, "STARTTLS"))) {
		/* RFC 3501 6.2.1: no STARTTLS after PREAUTH; a connection that
		 * must upgrade cannot be used (RFC 9051 7.1.4 says to close). */
		mailsess_fail(&c->s, NET_RESULT_TLS_FAILED,
		    "the server skipped STARTTLS with PREAUTH: possible downgrade attack");
		return;
	}
	if (r->status == IMAP_ST_PREAUTH)
		imap_set_state(c, IMAP_S_READY);
	else
		imap_set_state(c, IMAP_S_CAPABILITY);
	imap_advance(c);
}

/*
 * A "+" nobody's literal waits for: during AUTHENTICATE, a challenge after
 * the response was sent. For OAuth2 it carries the server's error (RFC 7628
 * 3.2.3): decode it, send the dummy reply, and the tagged NO follows. Any
 * other mechanism's extra challenge is cancelled ("*", RFC 3501 6.2.2).
 * Returns 0 when handled.
 */
static int
imap_sasl_continue(struct imap_client *c, const struct imap_response *r)
{
	const struct imap_cmd *cmd = c->cmds;
	const char *reply;

	if (cmd == NULL || !cmd->sasl || cmd->sent < cmd->n_parts || c->state != IMAP_S_AUTH)
		return -1;
	if (c->s.mech == SASL_XOAUTH2 || c->s.mech == SASL_OAUTHBEARER)
		reply = mailsess_oauth_challenge(&c->s, r->text);
	else
		reply = "*";
	net_write(c->s.conn, reply, strlen(reply));
	net_write(c->s.conn, "\r\n", 2);
	return 0;
}

/* One complete response from the server. */
static void
imap_dispatch(struct imap_client *c, const struct imap_response *r)
{
	const char *rest;

	if (c->state == IMAP_S_GREETING) {
		imap_on_greeting(c, r);
		return;
	}
	if (r->kind == IMAP_RESP_CONTINUE) {
		if (c->waiting == NULL) {
			if (imap_sasl_continue(c, r) != 0)
				mailsess_fail(&c->s, NET_RESULT_PROTOCOL_ERROR,
				    "unexpected continuation request");
			return;
		}
		c->waiting = NULL;
		c->round_trips++; /* the literal waited for "+" */
		imap_pump(c);
		return;
	}
	if (r->kind == IMAP_RESP_UNTAGGED) {
		if (r->keyword != NULL && util_strieq(r->keyword, "CAPABILITY"))
			imap_caps_from_args(c, r);
		else if (r->status == IMAP_ST_OK && imap_code_is(r, "CAPABILITY", &rest))
			imap_caps_from_text(c, rest);
		else if (r->status == IMAP_ST_BYE) {
			free(c->bye);
			c->bye = xstrdup(r->text);
		}
		if (c->cmds != NULL && c->cmds->untagged != NULL)
			c->cmds->untagged(c, r, c->cmds->arg);
		return;
	}
	/* Tagged: complete the command with that tag. */
	{
		struct imap_cmd **pp, *cmd;

		for (pp = &c->cmds; *pp != NULL && strcmp((*pp)->tag, r->tag) != 0;
		     pp = &(*pp)->next)
			;
		cmd = *pp;
		if (cmd == NULL) {
			mailsess_fail(
			    &c->s, NET_RESULT_PROTOCOL_ERROR, "a reply to a command never sent");
			return;
		}
		*pp = cmd->next;
		if (c->waiting == cmd || cmd->open) {
			c->waiting = NULL; /* rejected before the literal was sent */
			cmd->open = 0;
			imap_pump(c);
		}
		if (r->status == IMAP_ST_OK && imap_code_is(r, "CAPABILITY", &rest) &&
		    cmd->done != imap_on_auth)
			imap_caps_from_text(c, rest);
		if (cmd->done != NULL)
			cmd->done(c, r, cmd->arg);
		imap_cmd_free(cmd);
	}
}

/* ---- the session's operations (mailsess_ops) ---- */

static const char *
imap_state_name(const struct mailsess *s)
{
	return imap_state_str(((const struct imap_client *)s)->state);
}

static void
imap_connected(struct mailsess *s)
{
	imap_set_state((struct imap_client *)s, IMAP_S_GREETING);
}

static void
imap_tls_done(struct mailsess *s)
{
	struct imap_client *c = (struct imap_client *)s;

	imap_set_state(c, IMAP_S_CAPABILITY);
	imap_advance(c);
}

/* Feed bytes to the parser and dispatch a complete response. */
static int
imap_feed(struct mailsess *s, const char *data, size_t len, size_t *used)
{
	struct imap_client *c = (struct imap_client *)s;
	enum imap_parse pr = imap_parser_feed(c->parser, data, len, used);

	if (pr == IMAP_PARSE_ERROR) {
		mailsess_fail(s, NET_RESULT_PROTOCOL_ERROR, "malformed response: %s",
		    imap_parser_error(c->parser));
		return -1;
	}
	return pr == IMAP_PARSE_DONE;
}

static void
imap_dispatch_ready(struct mailsess *s)
{
	struct imap_client *c = (struct imap_client *)s;

	imap_dispatch(c, imap_parser_response(c->parser));
}

static void imap_logout_finish(struct mailsess *s);

/* The connection ended: the end of a LOGOUT, or say where it was cut. */
static void
imap_closed(struct mailsess *s)
{
	struct imap_client *c = (struct imap_client *)s;
	uint64_t got, total;
	size_t plen;

	if (c->state == IMAP_S_LOGOUT) {
		mailsess_linger_stop(s);
		imap_logout_finish(s);
		return;
	}
	if (c->bye != NULL) {
		mailsess_fail(
		    s, NET_RESULT_PROTOCOL_ERROR, "the server ended the session (BYE): %s", c->bye);
		return;
	}
	(void)imap_parser_partial(c->parser, &plen);
	if (imap_parser_in_literal(c->parser, &got, &total))
		mailsess_fail(s, NET_RESULT_PROTOCOL_ERROR,
		    "%s inside a literal (%llu of %llu bytes received)", net_error_text(s->conn),
		    (unsigned long long)got, (unsigned long long)total);
	else if (plen > 0)
		mailsess_fail(s, NET_RESULT_PROTOCOL_ERROR, "%s in the middle of a response",
		    net_error_text(s->conn));
	else
		mailsess_fail(s, NET_RESULT_PROTOCOL_ERROR, "%s", net_error_text(s->conn));
}

static void
imap_timed_out(struct mailsess *s)
{
	struct imap_client *c = (struct imap_client *)s;

	c->ready_called = 1; /* the runner completes the task itself */
	c->logout_cb = NULL;
	imap_set_state(c, IMAP_S_FAILED);
}

static void
imap_restart(struct mailsess *s)
{
	struct imap_client *c = (struct imap_client *)s;

	imap_parser_free(c->parser);
	c->parser = imap_parser_new(&c->limits);
	free(c->greeting);
	free(c->bye);
	c->greeting = c->bye = NULL;
	c->waiting = NULL;
	imap_set_state(c, IMAP_S_CONNECT);
}

static void
imap_destroy(struct mailsess *s)
{
	struct imap_client *c = (struct imap_client *)s;

	while (c->cmds != NULL) {
		struct imap_cmd *cmd = c->cmds;

		c->cmds = cmd->next;
		imap_cmd_free(cmd);
	}
	imap_parser_free(c->parser);
	free(c->greeting);
	free(c->bye);
	free(c);
}

static const struct mailsess_ops imap_ops = {
    .proto = "IMAP",
    .state_name = imap_state_name,
    .connected = imap_connected,
    .tls_done = imap_tls_done,
    .feed = imap_feed,
    .dispatch = imap_dispatch_ready,
    .closed = imap_closed,
    .failed = imap_failed,
    .timed_out = imap_timed_out,
    .restart = imap_restart,
    .destroy = imap_destroy,
};

/* ---- the public client ---- */

struct imap_client *
imap_client_open(
    struct event_base *base, const struct imap_client_opts *o, imap_ready_fn ready_cb, void *arg)
{
	struct imap_client *c = xcalloc(1, sizeof(*c));

	c->ready_cb = ready_cb;
	c->ready_arg = arg;
	if (o->limits != NULL)
		c->limits = *o->limits;
	c->parser = imap_parser_new(&c->limits);
	imap_set_state(c, IMAP_S_CONNECT);
	mailsess_open(&c->s, &imap_ops, base, &o->sess);
	return c;
}

enum net_result
imap_client_result(const struct imap_client *c)
{
	return c->s.result;
}

const char *
imap_client_error(const struct imap_client *c)
{
	return c->s.error != NULL ? c->s.error : "";
}

size_t
imap_client_round_trips(const struct imap_client *c)
{
	return c->round_trips + (c->greeting != NULL);
}

enum imap_state
imap_client_state(const struct imap_client *c)
{
	return c->state;
}

const struct tls_facts *
imap_client_tls(const struct imap_client *c)
{
	return mailsess_tls(&c->s);
}

int
imap_client_malformed(const struct imap_client *c)
{
	return c->s.malformed;
}

enum sasl_mech
imap_client_mech(const struct imap_client *c)
{
	return c->s.mech;
}

const struct sasl_oauth_error *
imap_client_oauth_error(const struct imap_client *c)
{
	return c->s.oauth_refused ? &c->s.oauth_error : NULL;
}

const char *
imap_client_greeting(const struct imap_client *c)
{
	return c->greeting != NULL ? c->greeting : "";
}

void
imap_client_timeout(struct imap_client *c)
{
	mailsess_timeout(&c->s);
}

/* The session is over: report it to whoever asked for the LOGOUT. */
static void
imap_logout_finish(struct mailsess *s)
{
	struct imap_client *c = (struct imap_client *)s;
	imap_ready_fn cb = c->logout_cb;

	imap_set_state(c, IMAP_S_CLOSED);
	s->over = 1;
	c->logout_cb = NULL;
	if (cb != NULL)
		cb(c, c->logout_arg);
}

/* How long to wait for the server to close after LOGOUT's OK. */
#define IMAP_LOGOUT_LINGER_MS 1000

/*
 * LOGOUT's tagged OK: the server closes the connection next (RFC 3501
 * section 6.1.3). Wait for that close, briefly, before calling the session
 * over, so that a caller starting the next connection to the same server
 * really has one fewer open there (--per-host counts what the server sees).
 */
static void
imap_on_logout(struct imap_client *c, const struct imap_response *r, void *arg)
{
	(void)arg;
	if (r == NULL)
		return; /* the failure called the logout callback */
	mailsess_linger(&c->s, IMAP_LOGOUT_LINGER_MS, imap_logout_finish);
}

void
imap_client_logout(struct imap_client *c, imap_ready_fn done_cb, void *arg)
{
	c->ready_called = 1;
	if (c->s.over) {
		if (done_cb != NULL)
			done_cb(c, arg);
		return;
	}
	c->logout_cb = done_cb;
	c->logout_arg = arg;
	imap_set_state(c, IMAP_S_LOGOUT);
	imap_cmd_send(imap_cmd_new(c, "LOGOUT"), NULL, imap_on_logout, NULL);
}

void
imap_client_free(struct imap_client *c)
{
	if (c == NULL)
		return;
	c->ready_cb = NULL;
	c->logout_cb = NULL;
	mailsess_release(&c->s);
}
