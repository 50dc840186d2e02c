/*
 * jscan.c - the strict JSON syntax scanner; see jscan.h.
 *
 * A recursive descent over the bytes with an explicit depth limit, so that
 * hostile nesting is a message, not a stack overflow. The locating functions
 * reuse the same value skipper on text already checked.
 */
#include "jscan.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* ---- positions ------------------------------------------------------------- */

void
jscan_linecol(const char *s, size_t n, size_t pos, size_t *line, size_t *col)
{
	size_t i, l = 1, c = 1;

	if (pos > n)
		pos = n;
	for (i = 0; i < pos; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '\n') {
			l++;
			c = 1;
		} else if ((ch & 0xc0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}

size_t
jscan_count_lines(const char *s, size_t n)
{
	size_t i, l = 0;

	for (i = 0; i < n; i++)
		if (s[i] == '\n')
			l++;
	return l;
}

/* ---- the scanner ------------------------------------------------------------- */

struct jscan {
	const char *s;
	size_t n;
	size_t i;
	int depth;
	size_t epos;      /* error position (byte offset) */
	const char *emsg; /* error message (static or ebuf) */
	char ebuf[96];
};

/* A scanner over the N bytes at S, at byte AT. */
static void
jscan_init(struct jscan *j, const char *s, size_t n, size_t at)
{
	memset(j, 0, sizeof(*j));
	j->s = s;
	j->n = n;
	j->i = at;
}

static int
jscan_fail(struct jscan *j, size_t pos, const char *msg)
{
	j->epos = pos;
	j->emsg = msg;
	return -1;
}

static void
jscan_ws(struct jscan *j)
{
	while (j->i < j->n &&
	    (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' || j->s[j->i] == '\r'))
		j->i++;
}

/* Describe the unexpected byte at I; never echoes letters or digits (secrets). */
static int
jscan_unexpected(struct jscan *j, const char *expected)
{
	unsigned char c = (unsigned char)j->s[j->i];
	const char *sep = expected ? " (expected " : "";
	const char *end = expected ? ")" : "";

	if (expected == NULL)
		expected = "";
	if (c == '\'')
		return jscan_fail(j, j->i, "single quotes are not JSON (use double quotes)");
	if (c == '/' && j->i + 1 < j->n && (j->s[j->i + 1] == '/' || j->s[j->i + 1] == '*'))
		return jscan_fail(j, j->i, "comments are not allowed in JSON");
	if (isalnum(c) && c < 0x80)
		snprintf(j->ebuf, sizeof(j->ebuf), "unexpected unquoted text%s%s%s", sep, expected,
		    *sep ? end : " (strings need double quotes)");
	else if (c > 0x20 && c < 0x7f)
		snprintf(j->ebuf, sizeof(j->ebuf), "unexpected character '%c'%s%s%s", c, sep,
		    expected, end);
	else
		snprintf(j->ebuf, sizeof(j->ebuf), "unexpected byte 0x%02x%s%s%s", c, sep, expected,
		    end);
	return jscan_fail(j, j->i, j->ebuf);
}

static int
jscan_hex4(struct jscan *j, size_t at, unsigned *out)
{
	unsigned v = 0;
	size_t k;

	if (at + 4 > j->n)
		return -1;
	for (k = 0; k < 4; k++) {
		unsigned char c = (unsigned char)j->s[at + k];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* A string starting at the '"' at I; leaves I after the closing quote. */
static int
jscan_string(struct jscan *j)
{
	size_t start = j->i;
	unsigned u, lo;

	j->i++;
	for (;;) {
		unsigned char c;

		if (j->i >= j->n)
			return jscan_fail(j, start, "unterminated string");
		c = (unsigned char)j->s[j->i];
		if (c == '"') {
			j->i++;
			return 0;
		}
		if (c == '\n' || c == '\r')
			return jscan_fail(
			    j, start, "unterminated string (a string cannot span lines)");
		if (c < 0x20) {
			snprintf(j->ebuf, sizeof(j->ebuf),
			    "control character 0x%02x in a string (write it as \\u%04x)", c, c);
			return jscan_fail(j, j->i, j->ebuf);
		}
		if (c != '\\') {
			j->i++;
			continue;
		}
		if (j->i + 1 >= j->n)
			return jscan_fail(j, start, "unterminated string");
		c = (unsigned char)j->s[j->i + 1];
		if (c != 'u') {
			if (strchr("\"\\/bfnrt", c) == NULL || c == '\0')
				return jscan_fail(j, j->i,
				    "invalid escape in a string (valid: \\\" \\\\ \\/ \\b \\f \\n "
				    "\\r \\t \\uXXXX)");
			j->i += 2;
			continue;
		}
		if (jscan_hex4(j, j->i + 2, &u) != 0)
			return jscan_fail(j, j->i, "invalid \\u escape (expected 4 hex digits)");
		if (u >= 0xdc00 && u <= 0xdfff)
			return jscan_fail(j, j->i, "invalid \\u escape (lone low surrogate)");
		if (u >= 0xd800 && u <= 0xdbff) {
			if (j->i + 7 >= j->n || j->s[j->i + 6] != '\\' || j->s[j->i + 7] != 'u' ||
			    jscan_hex4(j, j->i + 8, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
				return jscan_fail(j, j->i,
				    "invalid \\u escape (high surrogate without a low one)");
			j->i += 6;
		}
		j->i += 6;
	}
}

static int
jscan_digits(struct jscan *j)
{
	size_t start = j->i;

	while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
		j->i++;
	return j->i > start ? 0 : -1;
}

static int
jscan_number(struct jscan *j)
{
	size_t start = j->i;

	if (j->s[j->i] == '-')
		j->i++;
	if (j->i < j->n && j->s[j->i] == '0') {
		j->i++;
		if (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
			return jscan_fail(j, start, "invalid number (leading zero)");
	} else if (jscan_digits(j) != 0) {
		return jscan_fail(j, start, "invalid number");
	}
	if (j->i < j->n && j->s[j->i] == '.') {
		j->i++;
		if (jscan_digits(j) != 0)
			return jscan_fail(j, start, "invalid number (digits expected after '.')");
	}
	if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
		j->i++;
		if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-'))
			j->i++;
		if (jscan_digits(j) != 0)
			return jscan_fail(j, start, "invalid number (digits expected in exponent)");
	}
	if (j->i - start > 60) /* cJSON reads at most 63 characters of a number */
		return jscan_fail(j, start, "number too long");
	return 0;
}

static int jscan_value(struct jscan *j);

/* Message for input that ends inside a container opened at OPEN. */
static int
jscan_eof(struct jscan *j, size_t open)
{
	size_t line, col;

	jscan_linecol(j->s, j->n, open, &line, &col);
	snprintf(j->ebuf, sizeof(j->ebuf),
	    "unexpected end of input ('%c' from line %zu is not closed)", j->s[open], line);
	return jscan_fail(j, j->n, j->ebuf);
}

static int
jscan_container(struct jscan *j)
{
	size_t open = j->i;
	int is_obj = j->s[open] == '{';
	char close = is_obj ? '}' : ']';
	size_t comma = 0;
	int have_comma = 0;

	if (++j->depth > JSCAN_MAX_DEPTH)
		return jscan_fail(j, open, "nested too deeply (more than 64 levels)");
	j->i++;
	jscan_ws(j);
	if (j->i < j->n && j->s[j->i] == close) {
		j->i++;
		j->depth--;
		return 0;
	}
	for (;;) {
		jscan_ws(j);
		if (j->i >= j->n)
			return jscan_eof(j, open);
		if (have_comma && j->s[j->i] == close)
			return jscan_fail(j, comma,
			    is_obj ? "trailing comma before '}'" : "trailing comma before ']'");
		if (is_obj) {
			if (j->s[j->i] != '"')
				return jscan_unexpected(j, "a key in double quotes");
			if (jscan_string(j) != 0)
				return -1;
			jscan_ws(j);
			if (j->i >= j->n)
				return jscan_eof(j, open);
			if (j->s[j->i] != ':')
				return jscan_unexpected(j, "':' after the key");
			j->i++;
			jscan_ws(j);
		}
		if (jscan_value(j) != 0)
			return -1;
		jscan_ws(j);
		if (j->i >= j->n)
			return jscan_eof(j, open);
		if (j->s[j->i] == ',') {
			comma = j->i;
			have_comma = 1;
			j->i++;
			continue;
		}
		if (j->s[j->i] == close) {
			j->i++;
			j->depth--;
			return 0;
		}
		if (j->s[j->i] == '"' || j->s[j->i] == '{' || j->s[j->i] == '[')
			return jscan_fail(j, j->i,
			    is_obj ? "expected ',' or '}' (missing comma?)"
			           : "expected ',' or ']' (missing comma?)");
		return jscan_unexpected(j, is_obj ? "',' or '}'" : "',' or ']'");
	}
}

/* One value at I (no leading white space); leaves I after it. */
static int
jscan_value(struct jscan *j)
{
	static const char *const lits[] = {"true", "false", "null"};
	size_t k, len;
	char c;

	if (j->i >= j->n)
		return jscan_fail(j, j->n, "unexpected end of input (expected a value)");
	c = j->s[j->i];
	if (c == '{' || c == '[')
		return jscan_container(j);
	if (c == '"')
		return jscan_string(j);
	if (c == '-' || (c >= '0' && c <= '9'))
		return jscan_number(j);
	for (k = 0; k < UTIL_ARRAY_LEN(lits); k++) {
		len = strlen(lits[k]);
		if (j->n - j->i >= len && memcmp(j->s + j->i, lits[k], len) == 0 &&
		    (j->n - j->i == len || !isalnum((unsigned char)j->s[j->i + len]))) {
			j->i += len;
			return 0;
		}
	}
	if (c == '}' || c == ']')
		return jscan_fail(j, j->i, "expected a value");
	return jscan_unexpected(j, NULL);
}

/* Whole document: optional UTF-8 BOM, one value, white space. */
static int
jscan_doc(struct jscan *j)
{
	if (j->n >= 3 && memcmp(j->s, "\xef\xbb\xbf", 3) == 0)
		j->i = 3;
	jscan_ws(j);
	if (j->i >= j->n)
		return jscan_fail(j, j->i, "empty file (expected a JSON object)");
	if (jscan_value(j) != 0)
		return -1;
	jscan_ws(j);
	if (j->i < j->n)
		return jscan_fail(j, j->i, "unexpected text after the end of the JSON value");
	return 0;
}

int
jscan_document(const char *s, size_t n, struct jscan_error *e)
{
	struct jscan j;

	jscan_init(&j, s, n, 0);
	memset(e, 0, sizeof(*e));
	if (jscan_doc(&j) == 0)
		return 0;
	e->pos = j.epos;
	if (j.emsg == j.ebuf) {
		memcpy(e->buf, j.ebuf, sizeof(e->buf));
		e->msg = e->buf;
	} else {
		e->msg = j.emsg;
	}
	return -1;
}

/* ---- locating fields in checked text ----------------------------------------- */

/* Skip the value at I and the ',' after it (more members follow). */
static int
jscan_skip_member(struct jscan *j)
{
	j->depth = 0;
	if (jscan_value(j) != 0)
		return -1;
	jscan_ws(j);
	if (j->i >= j->n || j->s[j->i] != ',')
		return -1;
	j->i++;
	return 0;
}

long
jscan_locate(const char *s, size_t len, size_t start, const struct jscan_step *steps, size_t n)
{
	struct jscan j;
	size_t k, idx, keypos = 0;

	if (n == 0)
		return -1;
	jscan_init(&j, s, len, start);
	if (start == 0 && len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		j.i = 3;
	jscan_ws(&j);
	for (k = 0; k < n; k++) {
		if (steps[k].key != NULL) {
			size_t kl = strlen(steps[k].key);

			if (j.i >= len || s[j.i] != '{')
				return -1;
			j.i++;
			for (;;) {
				int match;

				jscan_ws(&j);
				if (j.i >= len || s[j.i] != '"')
					return -1;
				keypos = j.i;
				if (jscan_string(&j) != 0)
					return -1;
				match = j.i - keypos - 2 == kl &&
				    memcmp(s + keypos + 1, steps[k].key, kl) == 0;
				jscan_ws(&j);
				if (j.i >= len || s[j.i] != ':')
					return -1;
				j.i++;
				jscan_ws(&j);
				if (match)
					break;
				if (jscan_skip_member(&j) != 0)
					return -1;
			}
			if (k == n - 1)
				return (long)keypos;
		} else {
			if (j.i >= len || s[j.i] != '[')
				return -1;
			j.i++;
			for (idx = 0;; idx++) {
				jscan_ws(&j);
				if (j.i >= len || s[j.i] == ']')
					return -1;
				if (idx == steps[k].index)
					break;
				if (jscan_skip_member(&j) != 0)
					return -1;
			}
			if (k == n - 1)
				return (long)j.i;
		}
	}
	return -1;
}

long
jscan_array_first(const char *s, size_t n, size_t keypos)
{
	struct jscan j;

	jscan_init(&j, s, n, keypos);
	if (j.i >= n || s[j.i] != '"' || jscan_string(&j) != 0)
		return -1;
	jscan_ws(&j);
	if (j.i >= j.n || j.s[j.i] != ':')
		return -1;
	j.i++;
	jscan_ws(&j);
	if (j.i >= j.n || j.s[j.i] != '[')
		return -1;
	j.i++;
	jscan_ws(&j);
	return (long)j.i;
}

long
jscan_next_element(const char *s, size_t n, size_t pos)
{
	struct jscan j;

	jscan_init(&j, s, n, pos);
	if (jscan_value(&j) != 0)
		return -1;
	jscan_ws(&j);
	if (j.i < j.n && j.s[j.i] == ',') {
		j.i++;
		jscan_ws(&j);
	}
	return (long)j.i;
}
