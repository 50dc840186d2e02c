/*
 * pop3.h - POP3 (RFC 1939) reply parser and client with CAPA (RFC 2449),
 * STLS (RFC 2595) and AUTH PLAIN (RFC 5034, RFC 4616).
 *
 * pop3_parser is pure (bytes in, replies out, no I/O): a single-line reply
 * ("+OK ...", "-ERR ...", or a SASL "+ " challenge), or, when the caller
 * said so, a multi-line reply ending in "." with dot-unstuffing (RFC 1939
 * section 3). Line length and the total size of a multi-line reply are
 * bounded; crossing a bound is an error naming it.
 *
 * pop3_client walks a session on net.c to READY: greeting, CAPA, STLS when
 * required, AUTH PLAIN (admin/master logins, or when offered) or USER/PASS,
 * STAT; then pop3_client_quit. One command at a time (no PIPELINING needed
 * for a probe). Ownership as in imap.h: the client owns its connection,
 * parser and copies of the secrets, and wipes the secrets.
 */
#ifndef CUTOVER_POP3_H
#define CUTOVER_POP3_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "net.h"
#include "mailsess.h"
#include "sasl.h"

/* ---- reply parser ---- */

enum pop3_reply_kind {
	POP3_REPLY_OK,       /* "+OK" */
	POP3_REPLY_ERR,      /* "-ERR" */
	POP3_REPLY_CONTINUE, /* "+ " SASL challenge (RFC 5034 section 4) */
};

struct pop3_reply {
	enum pop3_reply_kind kind;
	char *code;   /* extended response code without brackets ("AUTH",
	                 "SYS/TEMP", RFC 2449 section 8) or NULL */
	char *text;   /* the rest of the status line, "" when none */
	char **lines; /* multi-line body, dot-unstuffed, without CRLF */
	size_t n_lines;
};

#define POP3_DEFAULT_MAX_LINE 8192u
#define POP3_DEFAULT_MAX_BODY (4u * 1024u * 1024u)

enum pop3_parse {
	POP3_PARSE_DONE,  /* a reply is ready: pop3_parser_reply() */
	POP3_PARSE_MORE,  /* every byte was taken; feed more */
	POP3_PARSE_ERROR, /* see pop3_parser_error(); the parser is done for */
};

struct pop3_parser;

/* MAX_LINE bytes per line, MAX_BODY bytes per multi-line reply (0 = defaults). */
struct pop3_parser *pop3_parser_new(size_t max_line, size_t max_body);
void pop3_parser_free(struct pop3_parser *p);
/* The next reply is multi-line when it starts with +OK (CAPA, LIST, UIDL, RETR). */
void pop3_parser_expect(struct pop3_parser *p, int multiline);
/*
 * Feed LEN bytes; *USED says how many were consumed (all for MORE; up to the
 * end of the reply for DONE). The previous reply is freed on the next call,
 * and each reply resets the expectation to single-line.
 */
enum pop3_parse pop3_parser_feed(struct pop3_parser *p, const char *data, size_t len, size_t *used);
/* The reply after POP3_PARSE_DONE (owned by the parser), else NULL. */
const struct pop3_reply *pop3_parser_reply(const struct pop3_parser *p);
/* Why feeding failed, "" when it did not. */
const char *pop3_parser_error(const struct pop3_parser *p);

/* ---- client ---- */

enum pop3_state {
	POP3_S_CONNECT,
	POP3_S_GREETING,
	POP3_S_CAPA,
	POP3_S_STLS,
	POP3_S_AUTH,
	POP3_S_STAT,
	POP3_S_READY,
	POP3_S_QUIT,
	POP3_S_CLOSED,
	POP3_S_FAILED,
};

/* "connect", "greeting", "CAPA", "STLS", "login", "STAT", ... */
const char *pop3_state_str(enum pop3_state st);

struct pop3_client_opts {
	struct mailsess_opts sess; /* the server, TLS and the login (mailsess.h) */
};

struct pop3_client;

typedef void (*pop3_ready_fn)(struct pop3_client *c, void *arg);

/* Connect and walk to READY (or failure); READY_CB runs once from the loop.
 * Returns the client (caller frees); never NULL. */
struct pop3_client *pop3_client_open(
    struct event_base *base, const struct pop3_client_opts *o, pop3_ready_fn ready_cb, void *arg);

enum net_result pop3_client_result(const struct pop3_client *c);
/* "failed in login after 0.1 s: -ERR [AUTH] Authentication failed." */
const char *pop3_client_error(const struct pop3_client *c);
enum pop3_state pop3_client_state(const struct pop3_client *c);
/* CAPA lines as last seen (owned by the client). */
const char *const *pop3_client_caps(const struct pop3_client *c, size_t *n);
/* 1 when a CAPA line starts with the word NAME ("STLS", "SASL", "USER"). */
int pop3_client_has_cap(const struct pop3_client *c, const char *name);
const struct tls_facts *pop3_client_tls(const struct pop3_client *c);
/* The SASL mechanism of the login (SASL_NONE: USER/PASS or no login yet). */
enum sasl_mech pop3_client_mech(const struct pop3_client *c);
/* The decoded error challenge of a refused OAuth2 login, or NULL. */
const struct sasl_oauth_error *pop3_client_oauth_error(const struct pop3_client *c);
/* STAT after login: messages and octets (-1 before). */
long long pop3_client_messages(const struct pop3_client *c);
long long pop3_client_octets(const struct pop3_client *c);
/* Record a timeout where the client stands; call from the task's cancel. */
void pop3_client_timeout(struct pop3_client *c);
/* Send QUIT; DONE_CB (may be NULL) runs once when the server answered or
 * the connection ended. */
void pop3_client_quit(struct pop3_client *c, pop3_ready_fn done_cb, void *arg);
/* Close everything; no callback fires afterwards. NULL is fine. */
void pop3_client_free(struct pop3_client *c);

#endif
