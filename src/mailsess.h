/*
 * mailsess.h - what an IMAP and a POP3 session have in common: the
 * connection, the credentials (wiped when done), the outcome and its
 * explanation, timeouts, scrubbing of server echoes, the read loop,
 * capabilities, the linger after LOGOUT/QUIT and deferred freeing.
 *
 * Each protocol client embeds a struct mailsess as its FIRST member (as
 * curl's protocol states embed `struct pingpong`) and hands it a table of
 * operations; everything that differs (commands, replies, states, the login
 * dialogue) stays in imap.c and pop3.c. The SASL messages come from sasl.c.
 *
 * Life cycle: mailsess_open() connects; network events go to the protocol
 * through ops (connected, tls_done, feed, closed); the protocol calls
 * mailsess_fail() when the session cannot go on (the message is prefixed
 * with the state and the time and scrubbed of the secrets, then ops->failed
 * completes whatever waits); mailsess_timeout() when the caller's deadline
 * passed; mailsess_release() frees it now or, inside a callback, once the
 * callback returns.
 */
#ifndef CUTOVER_MAILSESS_H
#define CUTOVER_MAILSESS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>

#include "net.h"
#include "sasl.h"

struct mailsess;

struct oauth2_cache;
struct oauth2_config;
struct oauth2_wait;

/*
 * How to reach the server and log in: what both clients take (imap.h and
 * pop3.h embed it as `sess` in their options). Strings are copied; secrets
 * are wiped when the login is over.
 */
struct mailsess_opts {
	const char *host;
	int port;
	enum net_tls_mode tls;
	const char *ca_file;
	int insecure;
	int allow_old_tls; /* log in even when TLS 1.0/1.1 was negotiated */
	struct dns_client *dns;
	/* The login; USER NULL = none (stop once connected and greeted). One of
	 * PASSWORD, TOKEN or OAUTH_CACHE gives the secret. ADMIN: the
	 * authentication identity of a master-user login (SASL PLAIN with USER
	 * as authorization identity). */
	const char *user;
	const char *password; /* secret: the user's, or the admin's with ADMIN */
	const char *admin;
	const char *token; /* secret: an OAuth2 access token (XOAUTH2/OAUTHBEARER) */
	/*
	 * OAuth2 from the run's token cache (oauth2.h): the session first gets a
	 * token for OAUTH_CFG and USER and connects with it; when the server
	 * refuses it as invalid, the session drops it from the cache and starts
	 * again, once, with a fresh token (it may have expired on the way).
	 */
	struct oauth2_cache *oauth_cache;
	const struct oauth2_config *oauth_cfg;
};

struct mailsess_ops {
	const char *proto; /* "IMAP", "POP3": for messages */
	/* The protocol's current state in words ("greeting", "login", ...). */
	const char *(*state_name)(const struct mailsess *s);
	void (*connected)(struct mailsess *s); /* TCP up (and implicit TLS done) */
	void (*tls_done)(struct mailsess *s);  /* STARTTLS/STLS handshake done */
	/* Parse bytes, setting *USED: 1 when a complete response is ready (then
	 * dispatch, after the bytes were drained: a STARTTLS answer must leave
	 * nothing unread), 0 when more is needed, -1 after mailsess_fail. */
	int (*feed)(struct mailsess *s, const char *data, size_t len, size_t *used);
	void (*dispatch)(struct mailsess *s);
	/* The connection ended after connecting (closed or I/O error): the
	 * protocol finishes a LOGOUT/QUIT or fails saying where it was cut. */
	void (*closed)(struct mailsess *s);
	/* After mailsess_fail recorded the outcome: complete what waits. */
	void (*failed)(struct mailsess *s);
	/* After mailsess_timeout: drop the callbacks (the caller ends the task). */
	void (*timed_out)(struct mailsess *s);
	/* Back to CONNECT for a new connection (a retried OAuth2 login): drop
	 * what was learnt from the old one (parser, greeting, capabilities). */
	void (*restart)(struct mailsess *s);
	/* Free the protocol's own parts (not the struct mailsess fields). */
	void (*destroy)(struct mailsess *s);
};

struct mailsess {
	const struct mailsess_ops *ops;
	struct event_base *base;
	struct net_conn *conn;
	char *host, *ca_file;
	int port;
	enum net_tls_mode tls;
	int insecure, allow_old_tls;
	char *user, *password, *admin, *token; /* owned copies; secrets wiped */
	enum net_result result;
	char *error;
	int over;      /* failed, timed out or closed: no more callbacks */
	int malformed; /* failed on what the server said (garbage, a bound
	                  crossed, a reply out of place), not on a cut */
	int cut;       /* the connection ended under the session */
	int64_t started_ms;
	char **caps;
	size_t n_caps;
	int have_caps;
	int tls_ever;    /* TLS was up at some point */
	int dispatching; /* inside a network callback */
	int free_pending;
	struct event *linger; /* after LOGOUT/QUIT, until the server closes */
	void (*linger_done)(struct mailsess *s);
	/* The login: the mechanism sent and a refused OAuth2 token's challenge. */
	enum sasl_mech mech;
	int oauth_refused; /* the server sent an OAuth2 error challenge */
	struct sasl_oauth_error oauth_error;
	/* OAuth2 from the cache (see mailsess_opts). */
	struct oauth2_cache *oauth_cache;
	const struct oauth2_config *oauth_cfg;
	char *oauth_subject;
	struct oauth2_wait *oauth_wait; /* a token request in flight */
	int oauth_retried;
	time_t token_issued;      /* when the token was granted, 0 unknown */
	struct net_conn *retired; /* the connection a retry gave up */
	struct dns_client *dns;
};

/* Connect (see net_connect); the protocol's ops get the events. S is zeroed first. */
void mailsess_open(struct mailsess *s, const struct mailsess_ops *ops, struct event_base *base,
    const struct mailsess_opts *o);

/* Record RES and "failed in STATE after T s: ..." (secrets masked), mark the
 * session over and call ops->failed. Does nothing when already over. */
void mailsess_fail(struct mailsess *s, enum net_result res, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The caller's deadline passed: record "timed out in STATE after T s". */
void mailsess_timeout(struct mailsess *s);

/* Replace every occurrence of the password or token in TEXT (owned, freed)
 * by "***" and return the new text (a server may echo what it was sent). */
char *mailsess_scrub(const struct mailsess *s, char *text);
/* The login is over: wipe and drop the password and token. */
void mailsess_forget_secrets(struct mailsess *s);

int64_t mailsess_elapsed_ms(const struct mailsess *s);
/* The TLS facts, or NULL when the connection never completed a handshake. */
const struct tls_facts *mailsess_tls(const struct mailsess *s);

/* ---- capabilities ---- */
void mailsess_caps_clear(struct mailsess *s);
/* Add one (at most 256 are kept). IGNORE_ENV names an environment variable
 * listing capabilities to act as if not offered ("LITERAL+,STATUS=SIZE"), a
 * testing switch so fallbacks meet a real server; NULL = none. */
void mailsess_caps_add(struct mailsess *s, const char *name, size_t len, const char *ignore_env);
/* 1 when a capability equals NAME ignoring case (IMAP "AUTH=PLAIN"). */
int mailsess_has_cap(const struct mailsess *s, const char *name);
/* 1 when a capability's first word is NAME (POP3 "SASL PLAIN": "SASL"). */
int mailsess_has_cap_word(const struct mailsess *s, const char *name);
/* 1 when a capability "LIST a b c" (first word LIST) holds the word ITEM
 * (POP3 "SASL PLAIN XOAUTH2"). */
int mailsess_cap_list_has(const struct mailsess *s, const char *list, const char *item);

/*
 * The SASL mechanism for this login, given which ones the server offers
 * (OFFERS, a bit per enum sasl_mech: 1u << SASL_PLAIN ...): a token takes
 * OAUTHBEARER, else XOAUTH2; an admin login PLAIN. SASL_NONE when the
 * credentials need a mechanism the server lacks (*WHY says which), or when
 * none is needed (a password without admin: the protocol's own login or
 * PLAIN, its choice; *WHY NULL).
 */
enum sasl_mech mailsess_pick_mech(const struct mailsess *s, unsigned offers, const char **why);
/* The initial response for MECH from the credentials (sasl_free it), or NULL. */
char *mailsess_sasl_initial(const struct mailsess *s, enum sasl_mech mech);
/* A continuation during an OAuth2 login: decode the server's error
 * challenge TEXT into s->oauth_error and return the dummy reply to send
 * (static), per RFC 7628 3.2.3. */
const char *mailsess_oauth_challenge(struct mailsess *s, const char *text);
/* The server refused the OAuth2 token: when it came from the cache and
 * was not retried yet, drop it and start again with a fresh one (returns 1:
 * the protocol does nothing more; its ops->restart is called). Else 0. */
int mailsess_oauth_retry(struct mailsess *s);
/* "status 401, scope mail" from the server's OAuth2 error challenge
 * ("status not given" without one), written into BUF (LEN bytes). */
const char *mailsess_oauth_status(const struct mailsess *s, char *buf, size_t len);
/* Words for a refused login that the server's offer explains ("this server
 * wants OAuth2 ..."), appended to a failure message, or "" (static). */
const char *mailsess_login_hint(const struct mailsess *s, unsigned offers);

/* ---- the end ---- */
/* Wait up to MS for the server to close after LOGOUT/QUIT, then DONE. */
void mailsess_linger(struct mailsess *s, int ms, void (*done)(struct mailsess *s));
/* Stop lingering now (the server closed); returns the done function or NULL. */
void (*mailsess_linger_stop(struct mailsess *s))(struct mailsess *s);
/* Free now, or after the network callback running now returns. */
void mailsess_release(struct mailsess *s);

#endif
