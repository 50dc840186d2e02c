/*
 * imap_parse.c - the IMAP4rev1 response parser and the pure helpers on its
 * values (dates, flags). See imap.h. No I/O: the unit tests and the fuzz
 * target need nothing else.
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

#include "util.h"

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

/* ---- values ---- */

/* ATOM-CHAR (RFC 3501 section 9): not atom-specials, not 8-bit. */
int
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
