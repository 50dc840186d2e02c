/*
 * pop3_parse.c - the POP3 reply parser. See pop3.h. No I/O.
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

#include "util.h"

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
