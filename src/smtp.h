/*
 * smtp.h - SMTP (RFC 5321) reply parser and a probe client: banner, EHLO,
 * STARTTLS (RFC 3207), MAIL FROM:<> and RCPT TO for each recipient, RSET,
 * QUIT. Never DATA: nothing is ever delivered.
 *
 * Why hand-written: libcurl speaks SMTP but only to send a message (its
 * smtp:// transfer always ends in DATA, and a rejected RCPT fails the whole
 * transfer without the per-recipient replies); none of the project's
 * libraries parses SMTP replies. The parser is small and bounded.
 *
 * smtp_parser is pure (bytes in, replies out): a reply is one or more lines
 * "CODE-text" ending with "CODE text" (RFC 5321 section 4.2), every line the
 * same three-digit code 2xx-5xx; the enhanced status code of RFC 3463
 * ("5.1.1") is taken from the start of the first line's text. Line length,
 * line count and so the reply size are bounded; crossing a bound, a bad code
 * or a line with a different code is an error naming it.
 *
 * smtp_probe walks one session on net.c and reports what each step said.
 * RCPT commands are pipelined (RFC 2920) when the server offers PIPELINING.
 * The probe owns its connection, parser and copies of everything it was given.
 */
#ifndef CUTOVER_SMTP_H
#define CUTOVER_SMTP_H

#include <stddef.h>

#include <event2/event.h>

#include "net.h"

/* ---- reply parser ---- */

#define SMTP_MAX_LINE 2048u /* bytes per reply line, CRLF included (RFC 5321: 512) */
#define SMTP_MAX_LINES 128u /* lines per reply */

struct smtp_reply {
	int code;          /* 200..599 */
	char enhanced[16]; /* "5.1.1" (RFC 3463) from the first line, or "" */
	char **lines;      /* the text of each line, without code, separator and CRLF */
	size_t n_lines;    /* at least 1 */
	char *text;        /* the lines joined with " ", the enhanced code left out */
};

enum smtp_parse {
	SMTP_PARSE_DONE,  /* a reply is ready: smtp_parser_reply() */
	SMTP_PARSE_MORE,  /* every byte was taken; feed more */
	SMTP_PARSE_ERROR, /* see smtp_parser_error(); the parser is done for */
};

struct smtp_parser;

struct smtp_parser *smtp_parser_new(void);
void smtp_parser_free(struct smtp_parser *p);
/*
 * Feed LEN bytes; *USED says how many were consumed (all for MORE; up to the
 * end of the reply for DONE). The previous reply is freed on the next call.
 */
enum smtp_parse smtp_parser_feed(struct smtp_parser *p, const char *data, size_t len, size_t *used);
/* The reply after SMTP_PARSE_DONE (owned by the parser), else NULL. */
const struct smtp_reply *smtp_parser_reply(const struct smtp_parser *p);
/* Why feeding failed, "" when it did not. */
const char *smtp_parser_error(const struct smtp_parser *p);

/* ---- probe ---- */

enum smtp_outcome {
	SMTP_OUT_OK = 0,         /* the session ran to the end (recipients have their replies) */
	SMTP_OUT_CONNECT_FAILED, /* no TCP connection (name, route, port) */
	SMTP_OUT_TLS_FAILED,     /* STARTTLS failed or the certificate did not verify */
	SMTP_OUT_TIMEOUT,        /* the deadline passed (smtp_probe_timeout) */
	SMTP_OUT_PROTOCOL_ERROR, /* a reply we cannot read, or the connection dropped */
	SMTP_OUT_REFUSED,        /* the banner, EHLO/HELO or MAIL FROM was refused */
};

/* "ok", "connect_failed", "tls_failed", "timeout", "protocol_error", "refused". */
const char *smtp_outcome_str(enum smtp_outcome o);

enum smtp_rcpt_status {
	SMTP_RCPT_UNTESTED = 0, /* the session ended before its reply */
	SMTP_RCPT_ACCEPTED,     /* 2xx */
	SMTP_RCPT_DEFERRED,     /* 4xx: greylisting, throttling */
	SMTP_RCPT_REJECTED,     /* 5xx */
};

/* "not_tested", "accepted", "deferred", "rejected". */
const char *smtp_rcpt_status_str(enum smtp_rcpt_status s);

struct smtp_rcpt {
	char *address;
	enum smtp_rcpt_status status;
	int code;
	char enhanced[16];
	char *text; /* the reply text, or NULL */
};

struct smtp_probe_opts {
	const char *host; /* MX host name (the certificate is checked against it) */
	int port;
	const char *helo; /* EHLO name */
	const char *ca_file;
	int insecure;
	struct dns_client *dns;
	const char *const *rcpts; /* recipients, N_RCPTS of them */
	size_t n_rcpts;
};

struct smtp_probe;
typedef void (*smtp_done_fn)(struct smtp_probe *p, void *arg);

/* Start; DONE runs once from the loop when the session ended (may free P).
 * Returns the probe (caller frees); never NULL. */
struct smtp_probe *smtp_probe_start(
    struct event_base *base, const struct smtp_probe_opts *o, smtp_done_fn done, void *arg);

enum smtp_outcome smtp_probe_outcome(const struct smtp_probe *p);
/* Why it did not end OK ("connection refused by 127.0.0.1:25", "banner: 554 ..."), or "". */
const char *smtp_probe_error(const struct smtp_probe *p);
/* The banner's text, or NULL. */
const char *smtp_probe_banner(const struct smtp_probe *p);
/* EHLO keywords as last seen (after STARTTLS: the second EHLO's). */
const char *const *smtp_probe_ehlo(const struct smtp_probe *p, size_t *n);
int smtp_probe_offered_starttls(const struct smtp_probe *p);
int smtp_probe_pipelined(const struct smtp_probe *p);
const struct tls_facts *smtp_probe_tls(const struct smtp_probe *p);
/* The MAIL FROM reply (code 0 when not reached). */
int smtp_probe_mail_code(const struct smtp_probe *p);
/* Per recipient, in the order given. */
const struct smtp_rcpt *smtp_probe_rcpts(const struct smtp_probe *p, size_t *n);
/* The address connected to, or "". */
const char *smtp_probe_peer(const struct smtp_probe *p);
/* Record a timeout where the probe stands; no callback fires afterwards. */
void smtp_probe_timeout(struct smtp_probe *p);
/* Close everything; no callback fires afterwards. NULL is fine. */
void smtp_probe_free(struct smtp_probe *p);

#endif
