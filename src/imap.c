/*
 * imap.c - IMAP4rev1 response parser and client. See imap.h.
 *
 * Why hand-written: Debian has no maintained asynchronous IMAP client
 * library in C that runs on an existing libevent loop. `apt-cache search imap`
 * (Debian 12) offers libetpan (C, but its IMAP layer reads from its own
 * blocking mailstream), libkf5imap (C++ on the Qt event loop), the Cyrus
 * imclient for Perl, and Go/Perl/Python libraries. The client side of IMAP
 * needed here is small: a line/literal framer, a response parser, a tagged
 * queue; curl (lib/imap.c on pingpong.c) and isync (drv_imap.c) hand-write
 * theirs for the same reasons.
 *
 * The parser works in two steps:
 *
 *  framing  bytes are collected line by line. A data response line that
 *           ends in a literal marker ({n}, {n+}, ~{n}; RFC 3501 section 4.3,
 *           RFC 7888, RFC 3516) switches to byte-count mode for n bytes,
 *           then line mode resumes: the response goes on after the literal.
 *           Each line segment is bounded (max_line); a literal's size is
 *           checked against max_literal (or max_stream when it goes to the
 *           sink) when announced, before anything is allocated.
 *  parsing  when the last line of a response is complete, the kept text is
 *           tokenised into a tree (atoms, strings, literals, NIL, lists).
 *
 * Status responses (OK/NO/BAD/BYE/PREAUTH and "+") carry free text after an
 * optional [code] (RFC 3501 section 7.1); they never contain literals, so a
 * "{5}" at the end of their text is text.
 */
#include "imap.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "util.h"

/* ================================================================ parser ===== */

enum imap_pstate { P_LINE, P_LITERAL, P_DONE, P_ERROR };

struct imap_lit {
	size_t at;  /* offset in buf right after the marker's "}" */
	char *data; /* kept literal (NUL-terminated) or NULL when streamed */
	uint64_t len;
};

struct imap_parser {
	struct imap_limits lim;
	enum imap_pstate st;
	char *buf; /* the response's text, lines joined without CRLF */
	size_t len, cap;
	size_t line_start; /* where the current line segment starts in buf */
	int first_line_done;
	int status_like; /* a status or continuation response: no literals */
	struct imap_lit *lits;
	size_t n_lits, cap_lits;
	size_t kept; /* bytes kept for this response (text + literals) */
	/* the literal being read */
	uint64_t lit_total, lit_got;
	char *lit_data;
	int lit_stream;
	/* sink for large literals */
	imap_sink_fn sink;
	void *sink_arg;
	size_t sink_min;
	struct imap_response *resp;
	char err[240];
};

static void imap_perr(struct imap_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
imap_perr(struct imap_parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	p->st = P_ERROR;
}

static void
imap_arg_free(struct imap_arg *a)
{
	while (a != NULL) {
		struct imap_arg *next = a->next;

		imap_arg_free(a->list);
		free(a->str);
		free(a);
		a = next;
	}
}

static void
imap_response_free(struct imap_response *r)
{
	if (r == NULL)
		return;
	free(r->tag);
	free(r->code);
	free(r->text);
	free(r->keyword);
	imap_arg_free(r->args);
	free(r);
}

/*
 * Bytes kept by every parser of the process (one event loop, no threads):
 * max_response bounds one connection, this bounds them all together, so
 * --concurrency hostile servers cannot add up to gigabytes.
 */
static size_t imap_kept_all;

/* Can N more bytes be kept? Sets the error when not. */
static int
imap_budget_ok(struct imap_parser *p, size_t n)
{
	if (p->kept + n > p->lim.max_response) {
		imap_perr(p, "response larger than %zu bytes (max_response)", p->lim.max_response);
		return 0;
	}
	if (imap_kept_all + n > IMAP_PROCESS_BUDGET) {
		imap_perr(p,
		    "responses of all connections together over %u MiB (the process's input "
		    "budget)",
		    (unsigned)(IMAP_PROCESS_BUDGET >> 20));
		return 0;
	}
	p->kept += n;
	imap_kept_all += n;
	return 1;
}

/* Forget the response being built or returned; keep limits and sink. */
static void
imap_parser_reset(struct imap_parser *p)
{
	imap_response_free(p->resp);
	p->resp = NULL;
	for (size_t i = 0; i < p->n_lits; i++)
		free(p->lits[i].data);
	p->n_lits = 0;
	free(p->lit_data);
	p->lit_data = NULL;
	imap_kept_all -= p->kept;
	p->len = p->line_start = p->kept = 0;
	p->first_line_done = p->status_like = 0;
	p->lit_total = p->lit_got = 0;
	p->lit_stream = 0;
	/* Give back a buffer grown for one huge response. */
	if (p->cap > 65536) {
		free(p->buf);
		p->buf = NULL;
		p->cap = 0;
	}
	p->st = P_LINE;
}

struct imap_parser *
imap_parser_new(const struct imap_limits *limits)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));

	if (limits != NULL)
		p->lim = *limits;
	if (p->lim.max_line == 0)
		p->lim.max_line = IMAP_DEFAULT_MAX_LINE;
	if (p->lim.max_literal == 0)
		p->lim.max_literal = IMAP_DEFAULT_MAX_LITERAL;
	if (p->lim.max_stream == 0)
		p->lim.max_stream = IMAP_DEFAULT_MAX_STREAM;
	if (p->lim.max_response == 0)
		p->lim.max_response = IMAP_DEFAULT_MAX_RESPONSE;
	if (p->lim.max_depth == 0)
		p->lim.max_depth = IMAP_DEFAULT_MAX_DEPTH;
	p->st = P_LINE;
	return p;
}

void
imap_parser_free(struct imap_parser *p)
{
	if (p == NULL)
		return;
	imap_parser_reset(p);
	free(p->buf);
	free(p->lits);
	free(p);
}

void
imap_parser_set_sink(struct imap_parser *p, size_t min_bytes, imap_sink_fn sink, void *arg)
{
	p->sink = sink;
	p->sink_arg = arg;
	p->sink_min = min_bytes;
}

const struct imap_response *
imap_parser_response(const struct imap_parser *p)
{
	return p->st == P_DONE ? p->resp : NULL;
}

const char *
imap_parser_partial(const struct imap_parser *p, size_t *len)
{
	*len = p->st == P_LINE || p->st == P_LITERAL ? p->len : 0;
	return p->buf != NULL ? p->buf : "";
}

int
imap_parser_in_literal(const struct imap_parser *p, uint64_t *got, uint64_t *total)
{
	*got = p->lit_got;
	*total = p->lit_total;
	return p->st == P_LITERAL;
}

const char *
imap_parser_error(const struct imap_parser *p)
{
	return p->st == P_ERROR ? p->err : "";
}

/* Append N bytes to the response text (bounds already checked). */
static void
imap_buf_append(struct imap_parser *p, const char *data, size_t n)
{
	if (p->len + n + 1 > p->cap) {
		size_t cap = p->cap ? p->cap : 256;

		while (cap < p->len + n + 1)
			cap *= 2;
		p->buf = xrealloc(p->buf, cap);
		p->cap = cap;
	}
	memcpy(p->buf + p->len, data, n);
	p->len += n;
	p->buf[p->len] = '\0';
}

static int
imap_word_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

static enum imap_status
imap_status_word(const char *s, size_t n)
{
	if (imap_word_is(s, n, "OK"))
		return IMAP_ST_OK;
	if (imap_word_is(s, n, "NO"))
		return IMAP_ST_NO;
	if (imap_word_is(s, n, "BAD"))
		return IMAP_ST_BAD;
	if (imap_word_is(s, n, "BYE"))
		return IMAP_ST_BYE;
	if (imap_word_is(s, n, "PREAUTH"))
		return IMAP_ST_PREAUTH;
	return IMAP_ST_NONE;
}

/* Classify the first line: continuation, or a status response (no literals). */
static void
imap_classify_first_line(struct imap_parser *p)
{
	const char *s = p->buf, *end = p->buf + p->len, *sp, *w, *we;

	p->first_line_done = 1;
	if (p->len > 0 && s[0] == '+') {
		p->status_like = 1;
		return;
	}
	sp = memchr(s, ' ', (size_t)(end - s));
	if (sp == NULL)
		return;
	w = sp + 1;
	we = memchr(w, ' ', (size_t)(end - w));
	if (we == NULL)
		we = end;
	if (imap_status_word(w, (size_t)(we - w)) != IMAP_ST_NONE)
		p->status_like = 1;
}

/*
 * Does the segment buf[start..len) end in a literal marker outside a quoted
 * string? Returns 1 and the size, 0 when not, -1 (error set) when the number
 * is unusable.
 */
static int
imap_literal_marker(struct imap_parser *p, size_t start, uint64_t *size)
{
	const char *s = p->buf + start;
	size_t n = p->len - start, i, digits_end, digits_start;
	int inq = 0;
	uint64_t v = 0;

	if (n < 3 || s[n - 1] != '}')
		return 0;
	i = n - 1;
	if (i > 0 && s[i - 1] == '+')
		i--;
	digits_end = i;
	while (i > 0 && isdigit((unsigned char)s[i - 1]))
		i--;
	digits_start = i;
	if (digits_start == digits_end || i == 0 || s[i - 1] != '{')
		return 0;
	/* The '{' must not sit inside a quoted string. */
	for (size_t k = 0; k < i - 1; k++) {
		if (inq && s[k] == '\\') {
			k++;
			continue;
		}
		if (s[k] == '"')
			inq = !inq;
	}
	if (inq)
		return 0;
	if (digits_end - digits_start > 19) {
		imap_perr(p, "literal size %.*s is not a number we accept",
		    (int)(digits_end - digits_start > 30 ? 30 : digits_end - digits_start),
		    s + digits_start);
		return -1;
	}
	for (size_t k = digits_start; k < digits_end; k++)
		v = v * 10 + (uint64_t)(s[k] - '0');
	*size = v;
	return 1;
}

/* A line segment is complete (CRLF stripped): literal or end of response. */
static void imap_line_done(struct imap_parser *p);

static void imap_parse_response(struct imap_parser *p);

static void
imap_line_done(struct imap_parser *p)
{
	uint64_t size = 0;
	int r = 0;

	if (!p->first_line_done) {
		if (p->len == 0) {
			imap_perr(p, "empty line where a response was expected");
			return;
		}
		imap_classify_first_line(p);
	}
	if (!p->status_like)
		r = imap_literal_marker(p, p->line_start, &size);
	if (r < 0)
		return;
	if (r == 0) {
		imap_parse_response(p);
		return;
	}
	/* A literal follows. Check the bounds before allocating anything. */
	p->lit_stream = p->sink != NULL && size >= p->sink_min;
	if (p->lit_stream) {
		if (size > p->lim.max_stream) {
			imap_perr(p,
			    "literal of %llu bytes announced, more than the limit of %llu "
			    "bytes (max_stream)",
			    (unsigned long long)size, (unsigned long long)p->lim.max_stream);
			return;
		}
	} else {
		if (size > p->lim.max_literal) {
			imap_perr(p,
			    "literal of %llu bytes announced, more than the limit of %zu "
			    "bytes (max_literal)",
			    (unsigned long long)size, p->lim.max_literal);
			return;
		}
		if (!imap_budget_ok(p, (size_t)size))
			return;
		p->lit_data = xmalloc((size_t)size + 1);
	}
	if (p->n_lits == p->cap_lits) {
		p->cap_lits = p->cap_lits ? p->cap_lits * 2 : 4;
		p->lits = xrealloc(p->lits, p->cap_lits * sizeof(*p->lits));
	}
	p->lits[p->n_lits].at = p->len;
	p->lits[p->n_lits].data = NULL;
	p->lits[p->n_lits].len = size;
	p->n_lits++;
	p->lit_total = size;
	p->lit_got = 0;
	p->st = P_LITERAL;
	if (size == 0 || p->lit_stream) {
		/* The sink sees the first call even for an empty literal. */
		if (p->lit_stream && p->sink(p->sink_arg, "", 0, 0, size, 1) != 0) {
			imap_perr(p, "the literal's consumer stopped");
			return;
		}
	}
	if (size == 0) {
		if (p->lit_data != NULL)
			p->lit_data[0] = '\0';
		p->lits[p->n_lits - 1].data = p->lit_data;
		p->lit_data = NULL;
		p->st = P_LINE;
		p->line_start = p->len;
	}
}

enum imap_parse
imap_parser_feed(struct imap_parser *p, const char *data, size_t len, size_t *used)
{
	size_t i = 0;

	*used = 0;
	if (p->st == P_ERROR)
		return IMAP_PARSE_ERROR;
	if (p->st == P_DONE)
		imap_parser_reset(p);
	while (i < len) {
		if (p->st == P_LITERAL) {
			uint64_t want = p->lit_total - p->lit_got;
			size_t n = len - i < want ? len - i : (size_t)want;

			if (p->lit_stream) {
				if (p->sink(p->sink_arg, data + i, n, p->lit_got, p->lit_total,
				        0) != 0) {
					imap_perr(p, "the literal's consumer stopped");
					break;
				}
			} else {
				memcpy(p->lit_data + p->lit_got, data + i, n);
			}
			p->lit_got += n;
			i += n;
			if (p->lit_got == p->lit_total) {
				struct imap_lit *l = &p->lits[p->n_lits - 1];

				if (p->lit_data != NULL) {
					p->lit_data[p->lit_total] = '\0';
					l->data = p->lit_data;
					p->lit_data = NULL;
				}
				p->st = P_LINE;
				p->line_start = p->len;
			}
			continue;
		}
		/* Line mode: take bytes up to LF. */
		{
			const char *lf = memchr(data + i, '\n', len - i);
			size_t n = lf != NULL ? (size_t)(lf - (data + i)) : len - i;
			size_t seg = p->len - p->line_start;

			if (seg + n > p->lim.max_line) {
				imap_perr(
				    p, "line longer than %zu bytes (max_line)", p->lim.max_line);
				break;
			}
			if (!imap_budget_ok(p, n))
				break;
			imap_buf_append(p, data + i, n);
			i += n;
			if (lf == NULL)
				break;
			i++; /* the LF */
			/* Strip the CR of CRLF; a bare LF is tolerated. */
			if (p->len > p->line_start && p->buf[p->len - 1] == '\r') {
				p->len--;
				p->buf[p->len] = '\0';
				p->kept--;
				imap_kept_all--;
			}
			imap_line_done(p);
			if (p->st == P_DONE || p->st == P_ERROR)
				break;
		}
	}
	*used = i;
	if (p->st == P_DONE)
		return IMAP_PARSE_DONE;
	if (p->st == P_ERROR)
		return IMAP_PARSE_ERROR;
	return IMAP_PARSE_MORE;
}

/* ---- tokenising a complete response ---- */

struct imap_tok {
	struct imap_parser *p;
	size_t pos;
	size_t next_lit; /* index of the next literal in p->lits */
};

/* The end of the text that may be read before the next literal. */
static size_t
imap_tok_limit(const struct imap_tok *t)
{
	return t->next_lit < t->p->n_lits ? t->p->lits[t->next_lit].at : t->p->len;
}

static int
imap_is_atom_end(char c)
{
	return c == ' ' || c == '(' || c == ')' || c == '"' || c == '{' ||
	    (unsigned char)c < 0x20 || c == 0x7f;
}

/* Read a word up to a space or the end (tags, keywords). */
static size_t
imap_tok_word(struct imap_tok *t, const char **w)
{
	size_t lim = imap_tok_limit(t), start = t->pos;

	while (t->pos < lim && t->p->buf[t->pos] != ' ')
		t->pos++;
	*w = t->p->buf + start;
	return t->pos - start;
}

static struct imap_arg *
imap_new_arg(enum imap_arg_type type)
{
	struct imap_arg *a = xcalloc(1, sizeof(*a));

	a->type = type;
	return a;
}

/* Quoted string at t->pos (on the opening quote). */
static struct imap_arg *
imap_tok_quoted(struct imap_tok *t)
{
	struct imap_parser *p = t->p;
	size_t lim = imap_tok_limit(t), start = ++t->pos, n = 0;
	struct imap_arg *a;
	char *out;

	/* First pass: find the end and the unescaped length. */
	while (t->pos < lim && p->buf[t->pos] != '"') {
		if (p->buf[t->pos] == '\\') {
			if (t->pos + 1 >= lim ||
			    (p->buf[t->pos + 1] != '\\' && p->buf[t->pos + 1] != '"')) {
				imap_perr(p, "bad escape in a quoted string at byte %zu", t->pos);
				return NULL;
			}
			t->pos++;
		}
		t->pos++;
		n++;
	}
	if (t->pos >= lim) {
		imap_perr(p, "unterminated quoted string");
		return NULL;
	}
	a = imap_new_arg(IMAP_ARG_STRING);
	a->str = out = xmalloc(n + 1);
	a->len = n;
	for (size_t k = start; k < t->pos; k++) {
		if (p->buf[k] == '\\')
			k++;
		*out++ = p->buf[k];
	}
	*out = '\0';
	t->pos++; /* closing quote */
	return a;
}

/* Literal marker at t->pos ("{", or "~{"): the literal that follows it. */
static struct imap_arg *
imap_tok_literal(struct imap_tok *t)
{
	struct imap_parser *p = t->p;
	struct imap_lit *l;
	struct imap_arg *a;

	if (t->next_lit >= p->n_lits) {
		imap_perr(p, "literal marker not at the end of a line");
		return NULL;
	}
	l = &p->lits[t->next_lit];
	/* The marker must end exactly where the literal was recorded. */
	while (t->pos < l->at && p->buf[t->pos] != ' ' && p->buf[t->pos] != ')')
		t->pos++;
	if (t->pos != l->at) {
		imap_perr(p, "literal marker not at the end of a line");
		return NULL;
	}
	t->next_lit++;
	if (l->data != NULL) {
		a = imap_new_arg(IMAP_ARG_LITERAL);
		a->str = l->data;
		l->data = NULL;
	} else {
		a = imap_new_arg(IMAP_ARG_STREAMED);
	}
	a->len = (size_t)l->len;
	return a;
}

/* Atom at t->pos; "[...]" inside an atom may hold spaces and parentheses
 * (BODY[HEADER.FIELDS (FROM)], RFC 3501 section 7.4.2). */
static struct imap_arg *
imap_tok_atom(struct imap_tok *t)
{
	struct imap_parser *p = t->p;
	size_t lim = imap_tok_limit(t), start = t->pos;
	struct imap_arg *a;

	while (t->pos < lim) {
		char c = p->buf[t->pos];

		if (c == '[') {
			const char *close = memchr(p->buf + t->pos, ']', lim - t->pos);
			size_t k = t->pos;

			/* Only text may sit in brackets: no controls, no quotes, no literal. */
			while (close != NULL && k < (size_t)(close - p->buf) &&
			    (unsigned char)p->buf[k] >= 0x20 && p->buf[k] != '"' &&
			    p->buf[k] != '{')
				k++;
			if (close != NULL && k == (size_t)(close - p->buf)) {
				t->pos = k + 1;
				continue;
			}
		}
		if (imap_is_atom_end(c))
			break;
		t->pos++;
	}
	if (t->pos == start) {
		imap_perr(p, "unexpected character 0x%02x at byte %zu",
		    (unsigned char)p->buf[start], start);
		return NULL;
	}
	if (imap_word_is(p->buf + start, t->pos - start, "NIL"))
		return imap_new_arg(IMAP_ARG_NIL);
	a = imap_new_arg(IMAP_ARG_ATOM);
	a->len = t->pos - start;
	a->str = xmalloc(a->len + 1);
	memcpy(a->str, p->buf + start, a->len);
	a->str[a->len] = '\0';
	return a;
}

/*
 * Parse arguments from t->pos to the end into *OUT (count in *N). Nested
 * lists use an explicit stack bounded by max_depth. Returns 0 or -1.
 */
static int
imap_tok_args(struct imap_tok *t, struct imap_arg **out, size_t *n)
{
	struct imap_parser *p = t->p;
	struct frame {
		struct imap_arg *list; /* the open list */
	} * stack;
	unsigned depth = 0;
	struct imap_arg **tail = out;
	size_t *count = n;
	int rc = -1;

	stack = xcalloc(p->lim.max_depth + 1, sizeof(*stack));
	*out = NULL;
	*n = 0;
	for (;;) {
		struct imap_arg *a = NULL;
		char c;

		while (t->pos < p->len && p->buf[t->pos] == ' ')
			t->pos++;
		if (t->pos >= p->len)
			break;
		c = p->buf[t->pos];
		if (c == '(') {
			if (depth >= p->lim.max_depth) {
				imap_perr(
				    p, "lists nested deeper than %u (max_depth)", p->lim.max_depth);
				goto out;
			}
			a = imap_new_arg(IMAP_ARG_LIST);
			*tail = a;
			(*count)++;
			stack[depth].list = a;
			depth++;
			tail = &a->list;
			count = &a->n;
			t->pos++;
			continue;
		}
		if (c == ')') {
			if (depth == 0) {
				imap_perr(p, "unbalanced ')' at byte %zu", t->pos);
				goto out;
			}
			depth--;
			tail = &stack[depth].list->next;
			count = depth > 0 ? &stack[depth - 1].list->n : n;
			t->pos++;
			continue;
		}
		if (c == '"')
			a = imap_tok_quoted(t);
		else if (c == '{' || (c == '~' && t->pos + 1 < p->len && p->buf[t->pos + 1] == '{'))
			a = imap_tok_literal(t);
		else
			a = imap_tok_atom(t);
		if (a == NULL)
			goto out;
		*tail = a;
		tail = &a->next;
		(*count)++;
	}
	if (depth > 0) {
		imap_perr(p, "unbalanced '(': %u list(s) not closed", depth);
		goto out;
	}
	if (t->next_lit != p->n_lits) {
		imap_perr(p, "literal without a marker");
		goto out;
	}
	rc = 0;
out:
	free(stack);
	return rc;
}

/* resp-text (RFC 3501 section 9): ["[" resp-text-code "]" SP] text */
static void
imap_tok_resp_text(struct imap_tok *t, struct imap_response *r)
{
	struct imap_parser *p = t->p;
	const char *s = p->buf + t->pos, *end = p->buf + p->len;

	if (s < end && *s == ' ')
		s++;
	if (s < end && *s == '[') {
		const char *close = memchr(s, ']', (size_t)(end - s));

		if (close != NULL) {
			r->code = xstrndup(s + 1, (size_t)(close - s - 1));
			s = close + 1;
			if (s < end && *s == ' ')
				s++;
		}
	}
	r->text = xstrndup(s, (size_t)(end - s));
	t->pos = p->len;
}

static void
imap_parse_response(struct imap_parser *p)
{
	struct imap_tok t = {p, 0, 0};
	struct imap_response *r = xcalloc(1, sizeof(*r));
	const char *w;
	size_t wn;

	p->resp = r;
	if (p->buf[0] == '+') {
		r->kind = IMAP_RESP_CONTINUE;
		t.pos = 1;
		if (t.pos < p->len && p->buf[t.pos] == ' ')
			t.pos++;
		r->text = xstrndup(p->buf + t.pos, p->len - t.pos);
		p->st = P_DONE;
		return;
	}
	wn = imap_tok_word(&t, &w);
	if (wn == 0) {
		imap_perr(p, "response without a tag");
		return;
	}
	if (wn == 1 && w[0] == '*') {
		r->kind = IMAP_RESP_UNTAGGED;
	} else {
		r->kind = IMAP_RESP_TAGGED;
		for (size_t k = 0; k < wn; k++) {
			if (imap_is_atom_end(w[k]) || w[k] == '+') {
				imap_perr(p, "malformed tag");
				return;
			}
		}
		r->tag = xstrndup(w, wn);
	}
	if (t.pos >= p->len) {
		imap_perr(p, "response with nothing after the tag");
		return;
	}
	t.pos++;
	wn = imap_tok_word(&t, &w);
	if (r->kind == IMAP_RESP_UNTAGGED && wn > 0 && isdigit((unsigned char)w[0])) {
		long long v;
		char num[16];

		if (wn >= sizeof(num)) {
			imap_perr(p, "message number too long");
			return;
		}
		memcpy(num, w, wn);
		num[wn] = '\0';
		if (util_parse_int(num, 0, 4294967295LL, &v) != 0) {
			imap_perr(p, "bad message number");
			return;
		}
		r->has_number = 1;
		r->number = (uint32_t)v;
		if (t.pos < p->len)
			t.pos++;
		wn = imap_tok_word(&t, &w);
	}
	if (wn == 0) {
		imap_perr(p, "response without a keyword");
		return;
	}
	r->status = r->has_number ? IMAP_ST_NONE : imap_status_word(w, wn);
	if (r->status != IMAP_ST_NONE) {
		if (r->kind == IMAP_RESP_TAGGED && r->status != IMAP_ST_OK &&
		    r->status != IMAP_ST_NO && r->status != IMAP_ST_BAD) {
			imap_perr(p, "tagged response with %s", imap_status_str(r->status));
			return;
		}
		imap_tok_resp_text(&t, r);
		p->st = P_DONE;
		return;
	}
	if (r->kind == IMAP_RESP_TAGGED) {
		imap_perr(p, "tagged response without OK, NO or BAD");
		return;
	}
	for (size_t k = 0; k < wn; k++) {
		if (imap_is_atom_end(w[k]) || w[k] == '[' || w[k] == ']') {
			imap_perr(p, "malformed response keyword");
			return;
		}
	}
	r->keyword = xstrndup(w, wn);
	if (imap_tok_args(&t, &r->args, &r->n_args) != 0)
		return;
	p->st = P_DONE;
}

/* ---- helpers ---- */

const struct imap_arg *
imap_arg_nth(const struct imap_arg *first, size_t n)
{
	while (first != NULL && n-- > 0)
		first = first->next;
	return first;
}

int
imap_arg_is(const struct imap_arg *arg, const char *word)
{
	return arg != NULL && arg->type == IMAP_ARG_ATOM && util_strieq(arg->str, word);
}

int
imap_code_is(const struct imap_response *r, const char *word, const char **rest)
{
	size_t n = strlen(word);

	if (r->code == NULL || strncasecmp(r->code, word, n) != 0 ||
	    (r->code[n] != '\0' && r->code[n] != ' '))
		return 0;
	if (rest != NULL)
		*rest = r->code[n] == ' ' ? r->code + n + 1 : r->code + n;
	return 1;
}

const char *
imap_status_str(enum imap_status st)
{
	switch (st) {
	case IMAP_ST_OK: return "OK";
	case IMAP_ST_NO: return "NO";
	case IMAP_ST_BAD: return "BAD";
	case IMAP_ST_BYE: return "BYE";
	case IMAP_ST_PREAUTH: return "PREAUTH";
	case IMAP_ST_NONE: break;
	}
	return "data";
}

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
	imap_untagged_fn untagged;
	imap_done_fn done;
	void *arg;
	struct imap_cmd *next;
};

/* How long to wait for the server to close after LOGOUT's OK. */
#define IMAP_LOGOUT_LINGER_MS 1000

struct imap_client {
	struct event_base *base;
	struct imap_client_opts o; /* strings below are owned copies */
	char *host, *ca_file, *user, *password, *admin;
	struct net_conn *conn;
	struct imap_parser *parser;
	enum imap_state state;
	enum net_result result;
	char *error;
	char *greeting;
	char *bye; /* text of an untagged BYE */
	char **caps;
	size_t n_caps;
	int have_caps;
	unsigned next_tag;
	struct imap_cmd *cmds;    /* sent or queued, oldest first */
	struct imap_cmd *waiting; /* sent up to a synchronizing literal, waits for "+" */
	int64_t started_ms;
	imap_ready_fn ready_cb;
	void *ready_arg;
	int ready_called;
	imap_ready_fn logout_cb;
	void *logout_arg;
	struct event *logout_linger; /* after LOGOUT's OK, until the server closes */
	int dispatching;
	int free_pending;
	int tls_ever;
	size_t round_trips; /* see imap_client_round_trips */
};

static void imap_advance(struct imap_client *c);
static void imap_logout_finish(struct imap_client *c);
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
	return util_now_ms() - c->started_ms;
}

/* Replace every occurrence of the secrets in S by "***" (a server may echo). */
static char *
imap_scrub(const struct imap_client *c, char *s)
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

/* Call the ready callback once. Returns 1 when the client is being freed. */
static int
imap_call_ready(struct imap_client *c)
{
	if (!c->ready_called && c->ready_cb != NULL) {
		c->ready_called = 1;
		c->ready_cb(c, c->ready_arg);
	}
	return c->free_pending;
}

static void imap_fail(struct imap_client *c, enum net_result res, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Fail the session: record RESULT and "failed in STATE after T s: ...",
 * complete every command with NULL and call the ready (or logout) callback.
 */
static void
imap_fail(struct imap_client *c, enum net_result res, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (c->state == IMAP_S_FAILED || c->state == IMAP_S_CLOSED)
		return;
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	free(c->error);
	c->error = xasprintf("failed in %s after %.1f s: %s", imap_state_str(c->state),
	    imap_client_elapsed_ms(c) / 1000.0, msg);
	c->error = imap_scrub(c, c->error);
	free(msg);
	c->result = res;
	imap_set_state(c, IMAP_S_FAILED);
	while (c->cmds != NULL) {
		struct imap_cmd *cmd = c->cmds;

		c->cmds = cmd->next;
		if (cmd->done != NULL && !c->free_pending)
			cmd->done(c, NULL, cmd->arg);
		for (size_t i = 0; i < cmd->n_parts; i++) {
			if (cmd->secret)
				util_free_secret(cmd->parts[i].data);
			else
				free(cmd->parts[i].data);
		}
		free(cmd->parts);
		free(cmd->name);
		free(cmd);
		if (c->free_pending)
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

static void
imap_caps_clear(struct imap_client *c)
{
	for (size_t i = 0; i < c->n_caps; i++)
		free(c->caps[i]);
	free(c->caps);
	c->caps = NULL;
	c->n_caps = 0;
	c->have_caps = 0;
}

/*
 * 1 when the capability NAME (LEN bytes) is listed in CUTOVER_IMAP_IGNORE
 * ("LITERAL+,STATUS=SIZE"): a testing switch that makes cutover act as if
 * the server did not offer it, so the fallbacks meet a real server.
 */
static int
imap_cap_ignored(const char *name, size_t len)
{
	const char *e = getenv("CUTOVER_IMAP_IGNORE");

	while (e != NULL && *e != '\0') {
		size_t n = strcspn(e, ",");

		if (n == len && strncasecmp(e, name, n) == 0)
			return 1;
		e += n;
		if (*e == ',')
			e++;
	}
	return 0;
}

static void
imap_caps_add(struct imap_client *c, const char *name, size_t len)
{
	if (c->n_caps >= 256 || imap_cap_ignored(name, len))
		return;
	c->caps = xrealloc(c->caps, (c->n_caps + 1) * sizeof(*c->caps));
	c->caps[c->n_caps++] = xstrndup(name, len);
}

/* Set the capabilities from a space-separated list ("IMAP4rev1 STARTTLS"). */
static void
imap_caps_from_text(struct imap_client *c, const char *s)
{
	imap_caps_clear(c);
	while (*s != '\0') {
		size_t n;

		while (*s == ' ')
			s++;
		n = strcspn(s, " ");
		if (n == 0)
			break;
		imap_caps_add(c, s, n);
		s += n;
	}
	c->have_caps = 1;
}

static void
imap_caps_from_args(struct imap_client *c, const struct imap_response *r)
{
	imap_caps_clear(c);
	for (const struct imap_arg *a = r->args; a != NULL; a = a->next)
		if (a->type == IMAP_ARG_ATOM)
			imap_caps_add(c, a->str, strlen(a->str));
	c->have_caps = 1;
}

int
imap_client_has_cap(const struct imap_client *c, const char *name)
{
	for (size_t i = 0; i < c->n_caps; i++)
		if (util_strieq(c->caps[i], name))
			return 1;
	return 0;
}

const char *const *
imap_client_caps(const struct imap_client *c, size_t *n)
{
	*n = c->n_caps;
	return (const char *const *)c->caps;
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

/* ATOM-CHAR (RFC 3501 section 9): not atom-specials, not 8-bit. */
static int
imap_atom_char(unsigned char ch)
{
	return ch > 0x20 && ch < 0x7f && strchr("(){%*\"\\]", ch) == NULL;
}

int
imap_flag_valid(const char *s, size_t len)
{
	size_t i = 0;

	if (len > 0 && s[0] == '\\')
		i = 1;
	if (i >= len || len > 1024)
		return 0;
	for (; i < len; i++)
		if (!imap_atom_char((unsigned char)s[i]))
			return 0;
	return 1;
}

static const char imap_months[12][4] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* N digits at *P into *OUT; advances *P. */
static int
imap_date_digits(const char **p, const char *end, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (*p >= end || (unsigned char)**p < '0' || (unsigned char)**p > '9')
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return 0;
}

int
imap_date_parse(const char *s, size_t len, struct imap_date *d)
{
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char *p = s, *end = s + len;
	int zh, zm, sign, leap;

	memset(d, 0, sizeof(*d));
	/* date-day-fixed = (SP DIGIT) / 2DIGIT; some servers send one digit */
	if (p < end && *p == ' ')
		p++;
	if (imap_date_digits(&p, end, 1, &d->day) != 0)
		return -1;
	if (p < end && *p >= '0' && *p <= '9')
		d->day = d->day * 10 + (*p++ - '0');
	if (p >= end || *p++ != '-' || end - p < 4)
		return -1;
	d->mon = 0;
	for (int i = 0; i < 12; i++)
		if (strncasecmp(p, imap_months[i], 3) == 0)
			d->mon = i + 1;
	if (d->mon == 0)
		return -1;
	p += 3;
	if (*p++ != '-' || imap_date_digits(&p, end, 4, &d->year) != 0)
		return -1;
	if (p >= end || *p++ != ' ' || imap_date_digits(&p, end, 2, &d->hour) != 0 || p >= end ||
	    *p++ != ':' || imap_date_digits(&p, end, 2, &d->min) != 0 || p >= end || *p++ != ':' ||
	    imap_date_digits(&p, end, 2, &d->sec) != 0)
		return -1;
	if (p >= end || *p++ != ' ' || p >= end || (*p != '+' && *p != '-'))
		return -1;
	sign = *p++ == '-' ? -1 : 1;
	if (imap_date_digits(&p, end, 2, &zh) != 0 || imap_date_digits(&p, end, 2, &zm) != 0 ||
	    p != end)
		return -1;
	leap = (d->year % 4 == 0 && d->year % 100 != 0) || d->year % 400 == 0;
	if (d->year < 1 || d->day < 1 || d->day > mdays[d->mon - 1] ||
	    (d->mon == 2 && d->day == 29 && !leap) || d->hour > 23 || d->min > 59 || d->sec > 60 ||
	    zh > 23 || zm > 59)
		return -1;
	d->zone = sign * (zh * 60 + zm);
	return 0;
}

void
imap_date_format(const struct imap_date *d, char out[IMAP_DATE_LEN])
{
	unsigned z = (unsigned)(d->zone < 0 ? -d->zone : d->zone) % 6000u;

	snprintf(out, IMAP_DATE_LEN, "%02u-%s-%04u %02u:%02u:%02u %c%02u%02u",
	    (unsigned)d->day % 100u, imap_months[(unsigned)(d->mon - 1) % 12u],
	    (unsigned)d->year % 10000u, (unsigned)d->hour % 100u, (unsigned)d->min % 100u,
	    (unsigned)d->sec % 100u, d->zone < 0 ? '-' : '+', z / 60u, z % 60u);
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
	if (c->state == IMAP_S_FAILED || c->state == IMAP_S_CLOSED) {
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
	if (c->state == IMAP_S_FAILED || c->state == IMAP_S_CLOSED) {
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
		net_write(cmd->c->conn, data, len);
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
	return c->conn;
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

			net_write(c->conn, pt->data, pt->len);
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
				net_write(c->conn, cmd->cur, cmd->cur_len);
				cmd->cur_len = 0;
			}
			return;
		}
	}
}

/* ---- session steps ---- */

static char *
imap_b64(const unsigned char *in, size_t n)
{
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	return out;
}

static void
imap_on_capability(struct imap_client *c, const struct imap_response *r, void *arg)
{
	(void)arg;
	if (r == NULL)
		return;
	if (r->status != IMAP_ST_OK) {
		imap_fail(c, NET_RESULT_PROTOCOL_ERROR, "CAPABILITY failed: %s %s",
		    imap_status_str(r->status), r->text);
		return;
	}
	if (!c->have_caps)
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
		imap_fail(c, NET_RESULT_TLS_FAILED, "the server refused STARTTLS: %s %s",
		    imap_status_str(r->status), r->text);
		return;
	}
	if (net_starttls(c->conn) != 0) {
		imap_fail(c, NET_RESULT_PROTOCOL_ERROR, "%s", net_error_text(c->conn));
		return;
	}
	/* NET_EV_TLS_DONE continues (imap_net_cb). */
}

static void
imap_on_auth(struct imap_client *c, const struct imap_response *r, void *arg)
{
	const char *how = arg;
	char *text;

	if (r == NULL)
		return;
	/* The server's words, with any echo of the password masked; then the
	 * password is no longer needed. */
	text = imap_scrub(c, xstrdup(r->text));
	util_free_secret(c->password);
	c->password = NULL;
	if (r->status == IMAP_ST_OK) {
		free(text);
		if (imap_code_is(r, "CAPABILITY", NULL)) {
			const char *rest;

			imap_code_is(r, "CAPABILITY", &rest);
			imap_caps_from_text(c, rest);
		} else {
			imap_caps_clear(c); /* RFC 3501 6.2.3: may change; ask again */
		}
		imap_set_state(c, IMAP_S_READY);
		imap_advance(c);
		return;
	}
	if (imap_code_is(r, "PRIVACYREQUIRED", NULL))
		imap_fail(c, NET_RESULT_PLAINTEXT_REFUSED,
		    "the server refuses %s without TLS: "
		    "%s",
		    how, text);
	else if (r->status == IMAP_ST_BAD)
		imap_fail(c, NET_RESULT_PROTOCOL_ERROR, "the server rejected the %s command: %s",
		    how, text);
	else
		imap_fail(c, NET_RESULT_AUTH_FAILED, "%s refused: %s%s%s%s", how,
		    r->code != NULL ? "[" : "", r->code != NULL ? r->code : "",
		    r->code != NULL ? "] " : "", text);
	util_free_secret(text);
}

static void
imap_send_capability(struct imap_client *c)
{
	imap_set_state(c, c->state == IMAP_S_READY ? IMAP_S_READY : IMAP_S_CAPABILITY);
	imap_cmd_send(imap_cmd_new(c, "CAPABILITY"), NULL, imap_on_capability, NULL);
}

/* AUTHENTICATE PLAIN (RFC 4616) with SASL-IR (RFC 4959) when offered. */
static void
imap_send_plain(struct imap_client *c)
{
	const char *authz = c->admin != NULL ? c->user : "";
	const char *authc = c->admin != NULL ? c->admin : c->user;
	size_t nz = strlen(authz), nc = strlen(authc), np = strlen(c->password);
	size_t n = nz + 1 + nc + 1 + np;
	unsigned char *msg = xmalloc(n);
	char *b64;
	struct imap_cmd *cmd;

	memcpy(msg, authz, nz);
	msg[nz] = '\0';
	memcpy(msg + nz + 1, authc, nc);
	msg[nz + 1 + nc] = '\0';
	memcpy(msg + nz + 1 + nc + 1, c->password, np);
	b64 = imap_b64(msg, n);
	explicit_bzero(msg, n);
	free(msg);
	cmd = imap_cmd_new(c, "AUTHENTICATE PLAIN");
	cmd->secret = 1;
	if (imap_client_has_cap(c, "SASL-IR")) {
		imap_cmd_atom(cmd, b64);
	} else {
		/* The response goes after the server's "+" (RFC 3501 6.2.2). */
		imap_cmd_put(cmd, "\r\n", 2);
		imap_cmd_end_part(cmd);
		imap_cmd_put(cmd, b64, strlen(b64));
	}
	util_free_secret(b64);
	imap_set_state(c, IMAP_S_AUTH);
	imap_cmd_send(cmd, NULL, imap_on_auth,
	    c->admin != NULL ? "AUTHENTICATE PLAIN (admin)" : "AUTHENTICATE PLAIN");
}

/* Decide the next step of the session set-up. */
static void
imap_advance(struct imap_client *c)
{
	int want_tls;

	if (c->state == IMAP_S_READY) {
		if (!c->have_caps) {
			imap_send_capability(c);
			return;
		}
		imap_call_ready(c);
		return;
	}
	if (!c->have_caps) {
		imap_send_capability(c);
		return;
	}
	/* --allow-plaintext permits plaintext where TLS is not offered; it never
	 * skips STARTTLS that is (a password in clear to a server that could
	 * have had TLS is a downgrade). */
	want_tls = !net_is_tls(c->conn) &&
	    (c->o.tls == IMAP_TLS_STARTTLS ||
	        (c->o.tls == IMAP_TLS_PLAIN_ALLOWED &&
	            (imap_client_has_cap(c, "STARTTLS") ||
	                (c->user != NULL && imap_client_has_cap(c, "LOGINDISABLED")))));
	if (want_tls) {
		if (!imap_client_has_cap(c, "STARTTLS")) {
			if (c->o.tls == IMAP_TLS_STARTTLS)
				imap_fail(c, NET_RESULT_PLAINTEXT_REFUSED,
				    "the server offers no "
				    "STARTTLS; refusing to continue without TLS (use imaps:// or "
				    "--allow-plaintext)");
			else
				imap_fail(c, NET_RESULT_PLAINTEXT_REFUSED,
				    "the server refuses "
				    "plaintext logins (LOGINDISABLED) and offers no STARTTLS");
			return;
		}
		imap_set_state(c, IMAP_S_STARTTLS);
		imap_cmd_send(imap_cmd_new(c, "STARTTLS"), NULL, imap_on_starttls, NULL);
		return;
	}
	if (c->user == NULL) {
		imap_set_state(c, IMAP_S_READY);
		imap_call_ready(c);
		return;
	}
	if (c->password == NULL) {
		imap_fail(c, NET_RESULT_AUTH_FAILED, "no password to log in with");
		return;
	}
	if (c->admin != NULL || imap_client_has_cap(c, "LOGINDISABLED")) {
		/* Master-user logins need an authorization identity: SASL PLAIN. */
		if (!imap_client_has_cap(c, "AUTH=PLAIN")) {
			if (c->admin != NULL)
				imap_fail(c, NET_RESULT_AUTH_FAILED,
				    "the server does not offer "
				    "AUTHENTICATE PLAIN, needed for the admin login");
			else
				imap_fail(c, NET_RESULT_PLAINTEXT_REFUSED,
				    "the server disables LOGIN "
				    "(LOGINDISABLED) and offers no AUTH=PLAIN");
			return;
		}
		imap_send_plain(c);
		return;
	}
	{
		struct imap_cmd *cmd = imap_cmd_new(c, "LOGIN");

		imap_cmd_string(cmd, c->user, strlen(c->user), 0);
		imap_cmd_string(cmd, c->password, strlen(c->password), 1);
		imap_set_state(c, IMAP_S_AUTH);
		imap_cmd_send(cmd, NULL, imap_on_auth, "LOGIN");
	}
}

/* The greeting (RFC 3501 section 7.1): OK, PREAUTH or BYE. */
static void
imap_on_greeting(struct imap_client *c, const struct imap_response *r)
{
	const char *rest;

	if (r->kind != IMAP_RESP_UNTAGGED || r->status == IMAP_ST_NONE || r->status == IMAP_ST_NO ||
	    r->status == IMAP_ST_BAD) {
		imap_fail(c, NET_RESULT_PROTOCOL_ERROR, "not an IMAP greeting (expected \"* OK\")");
		return;
	}
	free(c->greeting);
	c->greeting = xstrdup(r->text);
	if (r->status == IMAP_ST_BYE) {
		imap_fail(
		    c, NET_RESULT_PROTOCOL_ERROR, "the server refused the connection: %s", r->text);
		return;
	}
	if (imap_code_is(r, "CAPABILITY", &rest))
		imap_caps_from_text(c, rest);
	if (r->status == IMAP_ST_PREAUTH && !net_is_tls(c->conn) &&
	    (c->o.tls == IMAP_TLS_STARTTLS || imap_client_has_cap(c, "STARTTLS"))) {
		/* RFC 3501 6.2.1: no STARTTLS after PREAUTH; a connection that
		 * must upgrade cannot be used (RFC 9051 7.1.4 says to close). */
		imap_fail(c, NET_RESULT_TLS_FAILED,
		    "the server skipped STARTTLS with PREAUTH: possible downgrade attack");
		return;
	}
	if (r->status == IMAP_ST_PREAUTH)
		imap_set_state(c, IMAP_S_READY);
	else
		imap_set_state(c, IMAP_S_CAPABILITY);
	imap_advance(c);
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
			imap_fail(c, NET_RESULT_PROTOCOL_ERROR, "unexpected continuation request");
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
			imap_fail(c, NET_RESULT_PROTOCOL_ERROR, "a reply to a command never sent");
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

static void
imap_really_free(struct imap_client *c)
{
	while (c->cmds != NULL) {
		struct imap_cmd *cmd = c->cmds;

		c->cmds = cmd->next;
		imap_cmd_free(cmd);
	}
	if (c->logout_linger != NULL)
		event_free(c->logout_linger);
	net_free(c->conn);
	imap_parser_free(c->parser);
	imap_caps_clear(c);
	free(c->host);
	free(c->ca_file);
	free(c->user);
	util_free_secret(c->password);
	free(c->admin);
	free(c->error);
	free(c->greeting);
	free(c->bye);
	free(c);
}

/* Feed what arrived to the parser and dispatch complete responses. */
static void
imap_read(struct imap_client *c)
{
	struct evbuffer *in = net_input(c->conn);

	while (evbuffer_get_length(in) > 0 && !c->free_pending) {
		struct evbuffer_iovec v;
		size_t used = 0;
		enum imap_parse pr;

		if (c->state == IMAP_S_FAILED || c->state == IMAP_S_CLOSED)
			return;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			return;
		pr = imap_parser_feed(c->parser, v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
		if (pr == IMAP_PARSE_ERROR) {
			imap_fail(c, NET_RESULT_PROTOCOL_ERROR, "malformed response: %s",
			    imap_parser_error(c->parser));
			return;
		}
		if (pr == IMAP_PARSE_DONE)
			imap_dispatch(c, imap_parser_response(c->parser));
	}
}

static void
imap_net_cb(struct net_conn *conn, enum net_event ev, void *arg)
{
	struct imap_client *c = arg;

	(void)conn;
	c->dispatching++;
	switch (ev) {
	case NET_EV_CONNECTED:
		if (net_is_tls(c->conn))
			c->tls_ever = 1;
		imap_set_state(c, IMAP_S_GREETING);
		break;
	case NET_EV_TLS_DONE:
		c->tls_ever = 1;
		/* RFC 3501 6.2.1: forget what was learnt before TLS. */
		imap_caps_clear(c);
		imap_set_state(c, IMAP_S_CAPABILITY);
		imap_advance(c);
		break;
	case NET_EV_READ: imap_read(c); break;
	case NET_EV_ERROR:
		switch (net_error(c->conn)) {
		case NET_ERR_RESOLVE:
		case NET_ERR_CONNECT:
			imap_fail(c, NET_RESULT_CONNECT_FAILED, "%s", net_error_text(c->conn));
			break;
		case NET_ERR_TLS:
		case NET_ERR_VERIFY:
			imap_fail(c, NET_RESULT_TLS_FAILED, "%s", net_error_text(c->conn));
			break;
		default:
			if (c->state == IMAP_S_LOGOUT) {
				imap_logout_finish(c);
			} else if (c->bye != NULL) {
				imap_fail(c, NET_RESULT_PROTOCOL_ERROR,
				    "the server ended the session (BYE): "
				    "%s",
				    c->bye);
			} else {
				uint64_t got, total;
				size_t plen;

				/* Say where the stream was cut. */
				(void)imap_parser_partial(c->parser, &plen);
				if (imap_parser_in_literal(c->parser, &got, &total))
					imap_fail(c, NET_RESULT_PROTOCOL_ERROR,
					    "%s inside a literal (%llu of %llu bytes received)",
					    net_error_text(c->conn), (unsigned long long)got,
					    (unsigned long long)total);
				else if (plen > 0)
					imap_fail(c, NET_RESULT_PROTOCOL_ERROR,
					    "%s in the middle of a response",
					    net_error_text(c->conn));
				else
					imap_fail(c, NET_RESULT_PROTOCOL_ERROR, "%s",
					    net_error_text(c->conn));
			}
			break;
		}
		break;
	}
	c->dispatching--;
	if (c->free_pending && c->dispatching == 0)
		imap_really_free(c);
}

struct imap_client *
imap_client_open(
    struct event_base *base, const struct imap_client_opts *o, imap_ready_fn ready_cb, void *arg)
{
	struct imap_client *c = xcalloc(1, sizeof(*c));
	struct net_params np;

	c->base = base;
	c->o = *o;
	c->host = xstrdup(o->host);
	c->ca_file = xstrdup(o->ca_file);
	c->user = xstrdup(o->user);
	c->password = xstrdup(o->password);
	c->admin = xstrdup(o->admin);
	c->o.host = c->host;
	c->o.ca_file = c->ca_file;
	c->o.user = c->o.password = c->o.admin = NULL; /* use the copies */
	c->ready_cb = ready_cb;
	c->ready_arg = arg;
	c->started_ms = util_now_ms();
	c->parser = imap_parser_new(o->limits);
	imap_set_state(c, IMAP_S_CONNECT);
	memset(&np, 0, sizeof(np));
	np.host = c->host;
	np.port = o->port;
	np.implicit_tls = o->tls == IMAP_TLS_IMPLICIT;
	np.ca_file = c->ca_file;
	np.insecure = o->insecure;
	np.allow_old_tls = o->allow_old_tls || o->user == NULL; /* no login: no password */
	np.dns = o->dns;
	c->conn = net_connect(base, &np, imap_net_cb, c);
	return c;
}

enum net_result
imap_client_result(const struct imap_client *c)
{
	return c->result;
}

const char *
imap_client_error(const struct imap_client *c)
{
	return c->error != NULL ? c->error : "";
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

const struct net_tls_info *
imap_client_tls(const struct imap_client *c)
{
	const struct net_tls_info *t = net_tls(c->conn);

	return t->done ? t : NULL;
}

const char *
imap_client_greeting(const struct imap_client *c)
{
	return c->greeting != NULL ? c->greeting : "";
}

void
imap_client_timeout(struct imap_client *c)
{
	if (c->state == IMAP_S_FAILED || c->state == IMAP_S_CLOSED)
		return;
	free(c->error);
	c->error = xasprintf("timed out in %s after %.1f s", imap_state_str(c->state),
	    imap_client_elapsed_ms(c) / 1000.0);
	c->result = NET_RESULT_TIMEOUT;
	c->ready_called = 1; /* the runner completes the task itself */
	c->logout_cb = NULL;
	imap_set_state(c, IMAP_S_FAILED);
}

/* The session is over: report it to whoever asked for the LOGOUT. */
static void
imap_logout_finish(struct imap_client *c)
{
	imap_ready_fn cb = c->logout_cb;

	if (c->logout_linger != NULL) {
		event_free(c->logout_linger);
		c->logout_linger = NULL;
	}
	imap_set_state(c, IMAP_S_CLOSED);
	c->logout_cb = NULL;
	if (cb != NULL)
		cb(c, c->logout_arg);
}

static void
imap_logout_linger_done(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	imap_logout_finish(arg);
}

/*
 * LOGOUT's tagged OK: the server closes the connection next (RFC 3501
 * section 6.1.3). Wait for that close, briefly, before calling the session
 * over, so that a caller starting the next connection to the same server
 * really has one fewer open there (--per-host counts what the server sees).
 */
static void
imap_on_logout(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct timeval linger = {IMAP_LOGOUT_LINGER_MS / 1000, (IMAP_LOGOUT_LINGER_MS % 1000) * 1000};

	(void)arg;
	if (r == NULL)
		return; /* imap_fail called the logout callback */
	c->logout_linger = evtimer_new(c->base, imap_logout_linger_done, c);
	if (c->logout_linger == NULL || evtimer_add(c->logout_linger, &linger) != 0)
		imap_logout_finish(c);
}

void
imap_client_logout(struct imap_client *c, imap_ready_fn done_cb, void *arg)
{
	c->ready_called = 1;
	if (c->state == IMAP_S_FAILED || c->state == IMAP_S_CLOSED) {
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
	if (c->dispatching > 0) {
		c->free_pending = 1;
		return;
	}
	imap_really_free(c);
}
