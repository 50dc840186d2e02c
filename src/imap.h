/*
 * imap.h - IMAP4rev1 (RFC 3501, RFC 9051) response parser and client.
 *
 * Two layers:
 *
 * 1. imap_parser: a pure incremental parser of server responses. Bytes in,
 *    complete responses out, no I/O: imap_parser_feed() takes whatever the
 *    socket gave (one byte or a megabyte) and says when a whole response is
 *    ready. Literals ({n}, {n+}, ~{n}) are bounded; a literal larger than the
 *    limit is an error as soon as its size is announced, before anything is
 *    allocated. With a literal sink, literals of at least sink_min bytes are
 *    not kept but passed on in chunks as they arrive (FETCH BODY[] of a large
 *    message), so memory stays bounded whatever the message size.
 *
 * 2. imap_client: a session on a net_conn (net.h): greeting, CAPABILITY,
 *    STARTTLS, LOGIN or AUTHENTICATE PLAIN (with an authorization identity
 *    for master users), then any command through a tagged queue with
 *    pipelining, and LOGOUT. The folder audit and the delta sync build their
 *    commands (LIST, STATUS, FETCH, APPEND) on imap_cmd_*.
 *
 * Ownership: a response belongs to the parser and is valid until the next
 * imap_parser_feed/imap_parser_free; a client owns its connection, parser,
 * queued commands and capability list. Secrets given to the client are
 * copied and wiped when no longer needed; they never appear in error texts.
 */
#ifndef CUTOVER_IMAP_H
#define CUTOVER_IMAP_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "net.h"
#include "mailsess.h"
#include "sasl.h"

/* ---- the response parser ------------------------------------------------------ */

enum imap_arg_type {
	IMAP_ARG_ATOM,     /* also numbers, flags (\Seen), BODY[...] sections */
	IMAP_ARG_STRING,   /* quoted string, unescaped */
	IMAP_ARG_LITERAL,  /* literal kept in memory */
	IMAP_ARG_STREAMED, /* literal passed to the sink; only len is known */
	IMAP_ARG_NIL,
	IMAP_ARG_LIST,
};

struct imap_arg {
	enum imap_arg_type type;
	char *str;             /* ATOM/STRING/LITERAL: NUL-terminated (may hold NULs) */
	size_t len;            /* bytes in str, or the streamed literal's size */
	struct imap_arg *list; /* LIST: first element */
	size_t n;              /* LIST: number of elements */
	struct imap_arg *next; /* next sibling */
};

enum imap_resp_kind {
	IMAP_RESP_UNTAGGED, /* "* ..." */
	IMAP_RESP_TAGGED,   /* "A1 OK ..." */
	IMAP_RESP_CONTINUE, /* "+ ..." */
};

enum imap_status {
	IMAP_ST_NONE = 0, /* a data response ("* 3 EXISTS", "* LIST ...") */
	IMAP_ST_OK,
	IMAP_ST_NO,
	IMAP_ST_BAD,
	IMAP_ST_BYE,
	IMAP_ST_PREAUTH,
};

/*
 * One server response. Status responses (OK/NO/BAD/BYE/PREAUTH, RFC 3501
 * section 7.1) have CODE (the resp-text-code without brackets, e.g.
 * "CAPABILITY IMAP4rev1 STARTTLS") and TEXT; data responses have an optional
 * NUMBER ("* 23 EXISTS", "* 5 FETCH (...)"), a KEYWORD and ARGS.
 */
struct imap_response {
	enum imap_resp_kind kind;
	char *tag; /* TAGGED: the tag; NULL otherwise */
	enum imap_status status;
	char *code; /* or NULL */
	char *text; /* "" when absent; CONTINUE: the rest of the line */
	int has_number;
	uint32_t number;
	char *keyword;         /* data responses: "CAPABILITY", "EXISTS", ... */
	struct imap_arg *args; /* data responses: the arguments after KEYWORD */
	size_t n_args;
};

/* Bounds: crossing one is a protocol error that names it. 0 = default. */
struct imap_limits {
	size_t max_line;     /* bytes of one line between literals (default 1 MiB) */
	size_t max_literal;  /* a literal kept in memory (default 64 KiB: CAPABILITY,
	                        LIST, STATUS, header fields; bodies go to a sink) */
	uint64_t max_stream; /* a literal passed to the sink (default 4 GiB) */
	size_t max_response; /* all kept bytes of one response (default 2 MiB) */
	unsigned max_depth;  /* list nesting (default 64) */
};

#define IMAP_DEFAULT_MAX_LINE (1024u * 1024u)
/* Kept literals are small so that a hostile server's 16 MB literals in
 * CAPABILITY cost nothing: a process with --concurrency connections keeps at
 * most that many times max_response. */
#define IMAP_DEFAULT_MAX_LITERAL (64u * 1024u)
#define IMAP_DEFAULT_MAX_STREAM (4ull * 1024u * 1024u * 1024u)
#define IMAP_DEFAULT_MAX_RESPONSE (2u * 1024u * 1024u)
#define IMAP_DEFAULT_MAX_DEPTH 64u
/* All parsers of the process together keep at most this much. */
#define IMAP_PROCESS_BUDGET (64u * 1024u * 1024u)

enum imap_parse {
	IMAP_PARSE_DONE,  /* a response is ready: imap_parser_response() */
	IMAP_PARSE_MORE,  /* every byte was taken; feed more */
	IMAP_PARSE_ERROR, /* see imap_parser_error(); the parser is done for */
};

/*
 * A literal sink: called with the bytes of a streamed literal as they come.
 * FIRST marks the first call (OFFSET 0, LEN may be 0 for an empty literal),
 * TOTAL is the announced size, and the call with OFFSET + LEN == TOTAL is the
 * last. Returning non-zero stops the parser with an error.
 */
typedef int (*imap_sink_fn)(
    void *arg, const char *data, size_t len, uint64_t offset, uint64_t total, int first);

struct imap_parser;

/* A new parser with LIMITS (NULL = defaults). Caller frees. */
struct imap_parser *imap_parser_new(const struct imap_limits *limits);
void imap_parser_free(struct imap_parser *p);

/* Stream literals of at least MIN_BYTES to SINK (NULL: keep every literal,
 * bounded by max_literal). Applies from the next literal announced. */
void imap_parser_set_sink(struct imap_parser *p, size_t min_bytes, imap_sink_fn sink, void *arg);

/*
 * Feed LEN bytes of DATA. *USED is set to how many were consumed: all of
 * them for IMAP_PARSE_MORE; up to the end of the response for DONE (feed the
 * rest afterwards); unspecified for ERROR. The previous response is freed on
 * the next call.
 */
enum imap_parse imap_parser_feed(struct imap_parser *p, const char *data, size_t len, size_t *used);

/*
 * The text of the response being read, up to the literal being streamed
 * (valid inside a sink call: "* 12 FETCH (UID 345 BODY[] "), without the
 * literal marker's line end; *LEN = 0 between responses. Owned by the parser.
 */
const char *imap_parser_partial(const struct imap_parser *p, size_t *len);

/* 1 while a literal is being read (*GOT of *TOTAL bytes so far), else 0:
 * "closed inside a literal" is a better error than "closed". */
int imap_parser_in_literal(const struct imap_parser *p, uint64_t *got, uint64_t *total);

/* The response after IMAP_PARSE_DONE (owned by the parser), else NULL. */
const struct imap_response *imap_parser_response(const struct imap_parser *p);
/* Why feeding failed ("line longer than 1048576 bytes (max_line)"), "" if not. */
const char *imap_parser_error(const struct imap_parser *p);

/* Helpers on responses. */
/* The Nth argument (0-based) of a list or of the response args, or NULL. */
const struct imap_arg *imap_arg_nth(const struct imap_arg *first, size_t n);
/* 1 when ARG is an atom equal to WORD ignoring ASCII case. */
int imap_arg_is(const struct imap_arg *arg, const char *word);
/* 1 when the response code starts with the atom WORD; *REST (optional) is
 * what follows it ("" when nothing). */
int imap_code_is(const struct imap_response *r, const char *word, const char **rest);
const char *imap_status_str(enum imap_status st);

/*
 * Values that cross from one server into a command to another are parsed and
 * written by us, never copied as text (a hostile source must not be able to
 * add arguments to the destination's APPEND).
 *
 * An INTERNALDATE (RFC 3501 section 9, date-time without its quotes):
 * "dd-Mon-yyyy hh:mm:ss +zzzz", the day one or two digits (or space-padded).
 */
struct imap_date {
	int year, mon, day; /* mon 1..12 */
	int hour, min, sec; /* sec 0..60 */
	int zone;           /* minutes east of UTC, -1439..1439 */
};
#define IMAP_DATE_LEN 27 /* "01-Jan-2024 10:00:00 +0000" and its NUL */

/* Parse S (LEN bytes) into *D. Returns 0, or -1 when S is not a valid
 * date-time (a quote, a day 31 in April, hour 99, year 0, trailing text). */
int imap_date_parse(const char *s, size_t len, struct imap_date *d);
/* Write D as RFC 3501 date-time text (without quotes) into OUT. */
void imap_date_format(const struct imap_date *d, char out[IMAP_DATE_LEN]);
/* 1 when CH is an ATOM-CHAR (RFC 3501 section 9): not atom-specials, not 8-bit. */
int imap_atom_char(unsigned char ch);
/* 1 when S (LEN bytes) is a flag APPEND may carry (RFC 3501 section 9):
 * "\" atom (system flag or flag-extension) or an atom (keyword); 0 for
 * anything with a space, quote, parenthesis, bracket, 8-bit or control. */
int imap_flag_valid(const char *s, size_t len);

/* ---- the client ------------------------------------------------------------------ */

enum imap_state {
	IMAP_S_CONNECT, /* resolving, TCP connect, implicit TLS handshake */
	IMAP_S_GREETING,
	IMAP_S_CAPABILITY,
	IMAP_S_STARTTLS, /* STARTTLS command and its handshake */
	IMAP_S_AUTH,     /* LOGIN or AUTHENTICATE */
	IMAP_S_READY,    /* authenticated (or connected, without credentials) */
	IMAP_S_LOGOUT,
	IMAP_S_CLOSED, /* finished cleanly */
	IMAP_S_FAILED,
};

/* "connect", "greeting", "CAPABILITY", "STARTTLS", "login", ... */
const char *imap_state_str(enum imap_state st);

struct imap_client_opts {
	struct mailsess_opts sess; /* the server, TLS and the login (mailsess.h) */
	const struct imap_limits *limits;
};

struct imap_client;

/* Called once when the client reaches READY or fails (see imap_client_result). */
typedef void (*imap_ready_fn)(struct imap_client *c, void *arg);

/*
 * Connect and walk the session to READY: greeting (BYE ends it; PREAUTH
 * skips the login), capabilities (from the greeting's code or CAPABILITY),
 * STARTTLS when required, then LOGIN or AUTHENTICATE PLAIN. READY_CB runs
 * once, from the loop. Returns the client (caller frees); never NULL.
 */
struct imap_client *imap_client_open(
    struct event_base *base, const struct imap_client_opts *o, imap_ready_fn ready_cb, void *arg);

/* Outcome so far (NET_RESULT_OK while all goes well) and its explanation:
 * "authentication failed in login after 0.1 s: [AUTHENTICATIONFAILED] ..." */
enum net_result imap_client_result(const struct imap_client *c);
const char *imap_client_error(const struct imap_client *c);
enum imap_state imap_client_state(const struct imap_client *c);
/* Milliseconds since imap_client_open. */
int64_t imap_client_elapsed_ms(const struct imap_client *c);
/*
 * Round trips so far: the greeting, plus every command sent while no other
 * command was in flight, plus every "+" a synchronizing literal waited for.
 * Pipelined commands share one. For tests and benchmarks of pipelining.
 */
size_t imap_client_round_trips(const struct imap_client *c);
/* The capabilities as last seen (owned by the client), and their count. */
const char *const *imap_client_caps(const struct imap_client *c, size_t *n);
/* 1 when the capability NAME (e.g. "STARTTLS", "AUTH=PLAIN") was offered. */
int imap_client_has_cap(const struct imap_client *c, const char *name);
/* The TLS facts, or NULL when the connection never got TLS. */
const struct tls_facts *imap_client_tls(const struct imap_client *c);
/* 1 when the session failed on what the server said (garbage, a bound
 * crossed, a reply out of place): it would say it again. 0 for a cut
 * connection (with or without BYE), a timeout, a refusal. */
int imap_client_malformed(const struct imap_client *c);
/* The SASL mechanism of the login (SASL_NONE: LOGIN or no login yet). */
enum sasl_mech imap_client_mech(const struct imap_client *c);
/* The decoded error challenge of a refused OAuth2 login, or NULL. */
const struct sasl_oauth_error *imap_client_oauth_error(const struct imap_client *c);
/* The server's greeting text (after "* OK"), "" before it arrived. */
const char *imap_client_greeting(const struct imap_client *c);
/* Describe where the client stands for a timeout ("in STARTTLS after 15.0 s")
 * and mark it timed out. Call from the task's cancel before imap_client_free. */
void imap_client_timeout(struct imap_client *c);

/* ---- commands (pipelined) ---- */

struct imap_cmd;
/* Untagged responses while the command is the oldest in flight. */
typedef void (*imap_untagged_fn)(struct imap_client *c, const struct imap_response *r, void *arg);
/* The tagged completion (NULL when the connection failed first). */
typedef void (*imap_done_fn)(struct imap_client *c, const struct imap_response *r, void *arg);

/* Start a command with the atom NAME ("SELECT"). Owned by the client once sent. */
struct imap_cmd *imap_cmd_new(struct imap_client *c, const char *name);
/* Append " ATOM" as is (caller makes sure it is an atom or sequence set). */
void imap_cmd_atom(struct imap_cmd *cmd, const char *atom);
/*
 * Append " STRING" as an astring (RFC 3501 section 4.3): an atom when
 * possible, a quoted string when it has only 7-bit text, else a literal
 * ({n+} with LITERAL+, RFC 7888; a synchronizing {n} otherwise). SECRET
 * wipes the copy after sending.
 */
void imap_cmd_string(struct imap_cmd *cmd, const char *s, size_t len, int secret);
/* Queue CMD; it is sent at once unless a synchronizing literal waits. */
void imap_cmd_send(struct imap_cmd *cmd, imap_untagged_fn untagged, imap_done_fn done, void *arg);

/*
 * Streamed commands (APPEND of a message read from another server): queue
 * CMD like imap_cmd_send but leave it open; the caller then adds text with
 * imap_cmd_write (no CRLF is added), literal headers with imap_cmd_literal,
 * and ends it with imap_cmd_close, which adds the final CRLF. Commands queued
 * after an open command wait until it is closed. Writes go straight to the
 * connection while nothing is pending before them; otherwise (a synchronizing
 * literal waits for "+") they are kept until they can go: imap_cmd_blocked
 * says so, and a caller copying a large body stops reading its source then.
 * When DONE runs (the server answered early, or the connection failed), CMD
 * is gone: the caller must not write or close it afterwards.
 */
void imap_cmd_send_open(
    struct imap_cmd *cmd, imap_untagged_fn untagged, imap_done_fn done, void *arg);
void imap_cmd_write(struct imap_cmd *cmd, const void *data, size_t len);
/* A literal header for SIZE bytes: "{n+}\r\n" with LITERAL+ (RFC 7888), else
 * "{n}\r\n" and the data waits for the server's "+" (RFC 3501 section 4.3). */
void imap_cmd_literal(struct imap_cmd *cmd, uint64_t size);
int imap_cmd_blocked(const struct imap_cmd *cmd);
void imap_cmd_close(struct imap_cmd *cmd);

/* The client's parser (to set a literal sink: imap_parser_set_sink) and its
 * connection (flow control: net_output_len, net_read_enable). Owned by C. */
struct imap_parser *imap_client_parser(struct imap_client *c);
struct net_conn *imap_client_conn(struct imap_client *c);

/* Send LOGOUT and close after its completion (or BYE); DONE_CB runs once
 * (may be NULL), at once when the session had already ended. The client
 * stays valid until freed. */
void imap_client_logout(struct imap_client *c, imap_ready_fn done_cb, void *arg);

/* Close everything; no callback fires afterwards. NULL is fine. */
void imap_client_free(struct imap_client *c);

#endif
