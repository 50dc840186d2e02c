/*
 * smtp.c - SMTP reply parser and probe client (see smtp.h for the contract
 * and why it is hand-written).
 */
#include "smtp.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

/* ---- reply parser ------------------------------------------------------- */

struct smtp_parser {
	char line[SMTP_MAX_LINE + 1]; /* the line being read */
	size_t len;
	struct smtp_reply cur;   /* being assembled */
	struct smtp_reply reply; /* the last complete one */
	int have_reply;
	char error[200];
};

static void
smtp_reply_clear(struct smtp_reply *r)
{
	for (size_t i = 0; i < r->n_lines; i++)
		free(r->lines[i]);
	free(r->lines);
	free(r->text);
	memset(r, 0, sizeof(*r));
}

struct smtp_parser *
smtp_parser_new(void)
{
	return xcalloc(1, sizeof(struct smtp_parser));
}

void
smtp_parser_free(struct smtp_parser *p)
{
	if (p == NULL)
		return;
	smtp_reply_clear(&p->cur);
	smtp_reply_clear(&p->reply);
	free(p);
}

static enum smtp_parse smtp_perr(struct smtp_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum smtp_parse
smtp_perr(struct smtp_parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->error, sizeof(p->error), fmt, ap);
	va_end(ap);
	return SMTP_PARSE_ERROR;
}

/* RFC 3463: class "." subject "." detail, class 2/4/5, 1-3 digits each, then
 * a space or the end. Returns the length, 0 when TEXT does not start with one. */
static size_t
smtp_enhanced_len(const char *text)
{
	size_t i = 0;

	if (text[0] != '2' && text[0] != '4' && text[0] != '5')
		return 0;
	i = 1;
	for (int part = 0; part < 2; part++) {
		size_t d = 0;

		if (text[i] != '.')
			return 0;
		i++;
		while (isdigit((unsigned char)text[i]) && d < 4) {
			i++;
			d++;
		}
		if (d == 0 || d > 3)
			return 0;
	}
	return text[i] == ' ' || text[i] == '\0' ? i : 0;
}

/* One complete line (without CRLF) into the current reply. Returns 1 when it
 * was the last line of the reply, 0 for more, -1 on error. */
static int
smtp_take_line(struct smtp_parser *p, const char *s, size_t n)
{
	int code;
	char sep;
	const char *text;

	if (n < 3 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
	    !isdigit((unsigned char)s[2]))
		return smtp_perr(p, "reply line without a three-digit code"), -1;
	code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	if (code < 200 || code > 599)
		return smtp_perr(p, "reply code %d outside 2xx-5xx (RFC 5321 section 4.2)", code),
		       -1;
	sep = n > 3 ? s[3] : ' ';
	if (sep != ' ' && sep != '-')
		return smtp_perr(p, "reply code %d followed by '%c', not a space or '-'", code,
		           isprint((unsigned char)sep) ? sep : '?'),
		       -1;
	if (p->cur.n_lines > 0 && code != p->cur.code)
		return smtp_perr(
		           p, "multi-line reply changes its code from %d to %d", p->cur.code, code),
		       -1;
	if (p->cur.n_lines == SMTP_MAX_LINES)
		return smtp_perr(p, "reply longer than %u lines", SMTP_MAX_LINES), -1;
	p->cur.code = code;
	text = n > 4 ? s + 4 : "";
	p->cur.lines = xrealloc(p->cur.lines, (p->cur.n_lines + 1) * sizeof(*p->cur.lines));
	p->cur.lines[p->cur.n_lines++] = xstrndup(text, n > 4 ? n - 4 : 0);
	return sep == ' ' ? 1 : 0;
}

/* The current reply is complete: enhanced code and joined text. */
static void
smtp_finish_reply(struct smtp_parser *p)
{
	struct smtp_reply *r = &p->cur;
	size_t total = 0, o = 0, skip;

	skip = smtp_enhanced_len(r->lines[0]);
	if (skip > 0 && skip < sizeof(r->enhanced)) {
		memcpy(r->enhanced, r->lines[0], skip);
		r->enhanced[skip] = '\0';
	} else {
		skip = 0;
	}
	for (size_t i = 0; i < r->n_lines; i++)
		total += strlen(r->lines[i]) + 1;
	r->text = xmalloc(total + 1);
	for (size_t i = 0; i < r->n_lines; i++) {
		const char *t = r->lines[i];
		size_t l;

		if (i == 0) {
			t += skip;
			while (*t == ' ')
				t++;
		} else {
			/* the same enhanced code usually starts every line: drop it there too */
			size_t k = smtp_enhanced_len(t);

			if (k > 0 && skip > 0 && strncmp(t, r->enhanced, k) == 0)
				for (t += k; *t == ' '; t++)
					;
		}
		l = strlen(t);
		if (o > 0 && l > 0)
			r->text[o++] = ' ';
		memcpy(r->text + o, t, l);
		o += l;
	}
	r->text[o] = '\0';
	smtp_reply_clear(&p->reply);
	p->reply = *r;
	memset(r, 0, sizeof(*r));
	p->have_reply = 1;
}

enum smtp_parse
smtp_parser_feed(struct smtp_parser *p, const char *data, size_t len, size_t *used)
{
	size_t i = 0;

	*used = 0;
	if (p->error[0] != '\0')
		return SMTP_PARSE_ERROR;
	if (p->have_reply) {
		smtp_reply_clear(&p->reply);
		p->have_reply = 0;
	}
	while (i < len) {
		char c = data[i++];
		int r;

		if (c != '\n') {
			if (p->len >= SMTP_MAX_LINE)
				return smtp_perr(
				    p, "reply line longer than %u bytes", SMTP_MAX_LINE);
			if (c == '\0')
				return smtp_perr(p, "NUL byte in a reply line");
			p->line[p->len++] = c;
			continue;
		}
		/* CRLF, or a bare LF from a sloppy server */
		if (p->len > 0 && p->line[p->len - 1] == '\r')
			p->len--;
		p->line[p->len] = '\0';
		r = smtp_take_line(p, p->line, p->len);
		p->len = 0;
		if (r < 0) {
			*used = i;
			return SMTP_PARSE_ERROR;
		}
		if (r == 1) {
			smtp_finish_reply(p);
			*used = i;
			return SMTP_PARSE_DONE;
		}
	}
	*used = i;
	return SMTP_PARSE_MORE;
}

const struct smtp_reply *
smtp_parser_reply(const struct smtp_parser *p)
{
	return p->have_reply ? &p->reply : NULL;
}

const char *
smtp_parser_error(const struct smtp_parser *p)
{
	return p->error;
}

/* ---- probe -------------------------------------------------------------- */

enum smtp_step {
	ST_CONNECT,
	ST_BANNER,
	ST_EHLO,
	ST_HELO,
	ST_STARTTLS,
	ST_TLS,
	ST_EHLO2,
	ST_MAIL,
	ST_RCPT,
	ST_RSET,
	ST_QUIT,
	ST_DONE,
};

static const char *const smtp_step_names[] = {"connect", "banner", "EHLO", "HELO", "STARTTLS",
    "TLS handshake", "EHLO after STARTTLS", "MAIL FROM", "RCPT TO", "RSET", "QUIT", "done"};

struct smtp_probe {
	struct net_conn *conn;
	struct smtp_parser *parser;
	enum smtp_step step;
	char *host, *helo;
	enum smtp_outcome outcome;
	char *error;
	char *banner;
	char **ehlo;
	size_t n_ehlo;
	int starttls, pipelining;
	int mail_code;
	struct smtp_rcpt *rcpts;
	size_t n_rcpts, next_reply, next_send;
	smtp_done_fn done;
	void *arg;
	int finished;
	int in_cb, done_pending; /* inside smtp_net_cb: DONE waits until its end */
	char peer[80];
};

const char *
smtp_outcome_str(enum smtp_outcome o)
{
	switch (o) {
	case SMTP_OUT_OK: return "ok";
	case SMTP_OUT_CONNECT_FAILED: return "connect_failed";
	case SMTP_OUT_TLS_FAILED: return "tls_failed";
	case SMTP_OUT_TIMEOUT: return "timeout";
	case SMTP_OUT_PROTOCOL_ERROR: return "protocol_error";
	case SMTP_OUT_REFUSED: return "refused";
	}
	return "protocol_error";
}

const char *
smtp_rcpt_status_str(enum smtp_rcpt_status s)
{
	switch (s) {
	case SMTP_RCPT_UNTESTED: return "not_tested";
	case SMTP_RCPT_ACCEPTED: return "accepted";
	case SMTP_RCPT_DEFERRED: return "deferred";
	case SMTP_RCPT_REJECTED: return "rejected";
	}
	return "not_tested";
}

/* The session is over: keep the peer, drop the connection, tell the caller. */
static void
smtp_end(struct smtp_probe *p)
{
	smtp_done_fn cb = p->done;

	if (p->finished)
		return;
	p->finished = 1;
	if (p->conn != NULL) {
		snprintf(p->peer, sizeof(p->peer), "%s", net_peer(p->conn));
		/* keep the TLS facts: the connection stays until smtp_probe_free */
	}
	p->step = ST_DONE;
	if (p->in_cb) {
		p->done_pending = 1; /* smtp_net_cb calls it as its last act */
		return;
	}
	if (cb != NULL)
		cb(p, p->arg); /* may free P */
}

static void smtp_fail(struct smtp_probe *p, enum smtp_outcome o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
smtp_fail(struct smtp_probe *p, enum smtp_outcome o, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (p->finished)
		return;
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	free(p->error);
	p->error = xasprintf("%s: %s", smtp_step_names[p->step], msg);
	free(msg);
	p->outcome = o;
	smtp_end(p);
}

static void smtp_send(struct smtp_probe *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
smtp_send(struct smtp_probe *p, const char *fmt, ...)
{
	va_list ap;
	char *line;

	va_start(ap, fmt);
	line = xvasprintf(fmt, ap);
	va_end(ap);
	net_write(p->conn, line, strlen(line));
	free(line);
}

static void
smtp_send_ehlo(struct smtp_probe *p, enum smtp_step step)
{
	p->step = step;
	smtp_send(p, "EHLO %s\r\n", p->helo);
}

/* Keywords of an EHLO reply (RFC 5321 4.1.1.1: the lines after the first). */
static void
smtp_take_ehlo(struct smtp_probe *p, const struct smtp_reply *r)
{
	for (size_t i = 0; i < p->n_ehlo; i++)
		free(p->ehlo[i]);
	free(p->ehlo);
	p->ehlo = xcalloc(r->n_lines, sizeof(*p->ehlo));
	p->n_ehlo = 0;
	p->pipelining = 0; /* STARTTLS stays "offered" once the first EHLO said so */
	for (size_t i = 1; i < r->n_lines; i++) {
		const char *kw = r->lines[i];
		size_t n = strcspn(kw, " ");

		p->ehlo[p->n_ehlo++] = xstrdup(kw);
		if (n == 8 && strncasecmp(kw, "STARTTLS", 8) == 0)
			p->starttls = 1;
		if (n == 10 && strncasecmp(kw, "PIPELINING", 10) == 0)
			p->pipelining = 1;
	}
}

static void
smtp_send_rcpts(struct smtp_probe *p)
{
	/* pipelined: every RCPT at once (RFC 2920 section 3.1); else one at a time */
	do {
		smtp_send(p, "RCPT TO:<%s>\r\n", p->rcpts[p->next_send].address);
		p->next_send++;
	} while (p->pipelining && p->next_send < p->n_rcpts);
}

static void
smtp_after_ehlo(struct smtp_probe *p)
{
	if (p->starttls && !net_is_tls(p->conn)) {
		p->step = ST_STARTTLS;
		smtp_send(p, "STARTTLS\r\n");
		return;
	}
	p->step = ST_MAIL;
	smtp_send(p, "MAIL FROM:<>\r\n");
}

static char *
smtp_reply_str(const struct smtp_reply *r)
{
	return xasprintf("%d%s%s %s", r->code, r->enhanced[0] ? " " : "", r->enhanced, r->text);
}

/* One complete reply for the current step. */
static void
smtp_on_reply(struct smtp_probe *p, const struct smtp_reply *r)
{
	char *s;

	switch (p->step) {
	case ST_BANNER:
		free(p->banner);
		p->banner = xstrdup(r->text);
		if (r->code != 220) {
			s = smtp_reply_str(r);
			smtp_send(p, "QUIT\r\n");
			smtp_fail(p, SMTP_OUT_REFUSED, "%s", s);
			free(s);
			return;
		}
		smtp_send_ehlo(p, ST_EHLO);
		return;
	case ST_EHLO:
	case ST_EHLO2:
		if (r->code == 250) {
			smtp_take_ehlo(p, r);
			smtp_after_ehlo(p);
			return;
		}
		if (p->step == ST_EHLO && r->code >= 500) { /* a pre-ESMTP server */
			p->step = ST_HELO;
			smtp_send(p, "HELO %s\r\n", p->helo);
			return;
		}
		s = smtp_reply_str(r);
		smtp_fail(p, SMTP_OUT_REFUSED, "%s", s);
		free(s);
		return;
	case ST_HELO:
		if (r->code != 250) {
			s = smtp_reply_str(r);
			smtp_fail(p, SMTP_OUT_REFUSED, "%s", s);
			free(s);
			return;
		}
		smtp_after_ehlo(p);
		return;
	case ST_STARTTLS:
		if (r->code != 220) {
			s = smtp_reply_str(r);
			smtp_fail(p, SMTP_OUT_TLS_FAILED, "%s", s);
			free(s);
			return;
		}
		p->step = ST_TLS;
		if (net_starttls(p->conn) != 0)
			smtp_fail(p, SMTP_OUT_PROTOCOL_ERROR,
			    "the server sent data before the TLS handshake (CVE-2011-0411)");
		return;
	case ST_MAIL:
		p->mail_code = r->code;
		if (r->code != 250) {
			s = smtp_reply_str(r);
			smtp_send(p, "QUIT\r\n");
			smtp_fail(p, SMTP_OUT_REFUSED, "%s", s);
			free(s);
			return;
		}
		if (p->n_rcpts == 0) {
			p->step = ST_RSET;
			smtp_send(p, "RSET\r\n");
			return;
		}
		p->step = ST_RCPT;
		smtp_send_rcpts(p);
		return;
	case ST_RCPT: {
		struct smtp_rcpt *rc = &p->rcpts[p->next_reply++];

		rc->code = r->code;
		snprintf(rc->enhanced, sizeof(rc->enhanced), "%s", r->enhanced);
		rc->text = xstrdup(r->text);
		rc->status = r->code < 300 ? SMTP_RCPT_ACCEPTED
		    : r->code < 500        ? SMTP_RCPT_DEFERRED
		                           : SMTP_RCPT_REJECTED;
		if (p->next_reply < p->n_rcpts) {
			if (!p->pipelining)
				smtp_send_rcpts(p);
			return;
		}
		p->step = ST_RSET;
		smtp_send(p, "RSET\r\n");
		return;
	}
	case ST_RSET:
		p->step = ST_QUIT;
		smtp_send(p, "QUIT\r\n");
		return;
	case ST_QUIT: smtp_end(p); return;
	default: smtp_fail(p, SMTP_OUT_PROTOCOL_ERROR, "unexpected reply %d", r->code); return;
	}
}

static void
smtp_read(struct smtp_probe *p)
{
	struct evbuffer *in = net_input(p->conn);

	while (!p->finished && evbuffer_get_length(in) > 0) {
		size_t avail = evbuffer_get_length(in), used = 0;
		const char *data = (const char *)evbuffer_pullup(in, (ev_ssize_t)avail);
		enum smtp_parse r = smtp_parser_feed(p->parser, data, avail, &used);

		evbuffer_drain(in, used);
		if (r == SMTP_PARSE_ERROR) {
			smtp_fail(p, SMTP_OUT_PROTOCOL_ERROR, "%s", smtp_parser_error(p->parser));
			return;
		}
		if (r == SMTP_PARSE_MORE)
			return;
		if (p->step == ST_TLS) { /* nothing may come before the handshake */
			smtp_fail(p, SMTP_OUT_PROTOCOL_ERROR, "reply before the TLS handshake");
			return;
		}
		smtp_on_reply(p, smtp_parser_reply(p->parser));
	}
}

static void
smtp_net_cb(struct net_conn *c, enum net_event ev, void *arg)
{
	struct smtp_probe *p = arg;

	(void)c;
	p->in_cb = 1;
	switch (ev) {
	case NET_EV_CONNECTED: p->step = ST_BANNER; break;
	case NET_EV_TLS_DONE: smtp_send_ehlo(p, ST_EHLO2); break;
	case NET_EV_READ: smtp_read(p); break;
	case NET_EV_ERROR: {
		enum net_error e = net_error(p->conn);
		const char *why = net_error_text(p->conn);

		if (p->step == ST_QUIT || (e == NET_ERR_CLOSED && p->step == ST_DONE)) {
			smtp_end(p); /* closing after QUIT is what servers do */
		} else if (e == NET_ERR_RESOLVE || e == NET_ERR_CONNECT) {
			smtp_fail(p, SMTP_OUT_CONNECT_FAILED, "%s", why);
		} else if (e == NET_ERR_TLS || e == NET_ERR_VERIFY) {
			smtp_fail(p, SMTP_OUT_TLS_FAILED, "%s", why);
		} else {
			smtp_fail(p, SMTP_OUT_PROTOCOL_ERROR, "%s", why);
		}
		break;
	}
	}
	p->in_cb = 0;
	if (p->done_pending) {
		p->done_pending = 0;
		if (p->done != NULL)
			p->done(p, p->arg); /* may free P: nothing after this */
	}
}

struct smtp_probe *
smtp_probe_start(
    struct event_base *base, const struct smtp_probe_opts *o, smtp_done_fn done, void *arg)
{
	struct smtp_probe *p = xcalloc(1, sizeof(*p));
	struct net_params np;

	p->host = xstrdup(o->host);
	p->helo = xstrdup(o->helo != NULL ? o->helo : "localhost");
	p->parser = smtp_parser_new();
	p->done = done;
	p->arg = arg;
	p->n_rcpts = o->n_rcpts;
	p->rcpts = xcalloc(o->n_rcpts + 1, sizeof(*p->rcpts));
	for (size_t i = 0; i < o->n_rcpts; i++)
		p->rcpts[i].address = xstrdup(o->rcpts[i]);
	memset(&np, 0, sizeof(np));
	np.host = o->host;
	np.port = o->port;
	np.ca_file = o->ca_file;
	np.insecure = o->insecure;
	np.dns = o->dns;
	p->step = ST_CONNECT;
	p->conn = net_connect(base, &np, smtp_net_cb, p);
	return p;
}

enum smtp_outcome
smtp_probe_outcome(const struct smtp_probe *p)
{
	return p->outcome;
}

const char *
smtp_probe_error(const struct smtp_probe *p)
{
	return p->error != NULL ? p->error : "";
}

const char *
smtp_probe_banner(const struct smtp_probe *p)
{
	return p->banner;
}

const char *const *
smtp_probe_ehlo(const struct smtp_probe *p, size_t *n)
{
	*n = p->n_ehlo;
	return (const char *const *)p->ehlo;
}

int
smtp_probe_offered_starttls(const struct smtp_probe *p)
{
	return p->starttls;
}

int
smtp_probe_pipelined(const struct smtp_probe *p)
{
	return p->pipelining;
}

const struct tls_facts *
smtp_probe_tls(const struct smtp_probe *p)
{
	return p->conn != NULL ? net_tls(p->conn) : NULL;
}

int
smtp_probe_mail_code(const struct smtp_probe *p)
{
	return p->mail_code;
}

const struct smtp_rcpt *
smtp_probe_rcpts(const struct smtp_probe *p, size_t *n)
{
	*n = p->n_rcpts;
	return p->rcpts;
}

const char *
smtp_probe_peer(const struct smtp_probe *p)
{
	return p->peer[0] != '\0' ? p->peer : p->conn != NULL ? net_peer(p->conn) : "";
}

void
smtp_probe_timeout(struct smtp_probe *p)
{
	if (p->finished)
		return;
	p->done = NULL;
	smtp_fail(p, SMTP_OUT_TIMEOUT, "no answer in time");
}

void
smtp_probe_free(struct smtp_probe *p)
{
	if (p == NULL)
		return;
	net_free(p->conn);
	smtp_parser_free(p->parser);
	for (size_t i = 0; i < p->n_ehlo; i++)
		free(p->ehlo[i]);
	free(p->ehlo);
	for (size_t i = 0; i < p->n_rcpts; i++) {
		free(p->rcpts[i].address);
		free(p->rcpts[i].text);
	}
	free(p->rcpts);
	free(p->banner);
	free(p->error);
	free(p->host);
	free(p->helo);
	free(p);
}
