/*
 * plan.c - the plan file (JSON) and the mailbox sheet (CSV); see plan.h.
 *
 * JSON is first checked by a small strict scanner of our own (RFC 8259) so
 * that syntax errors say line, column and what was expected; cJSON then builds
 * the tree. The same scanner finds the line of a field for semantic errors
 * (cJSON does not keep positions). Validation walks the tree with a path
 * stack ("mailboxes[2].dest_user") and rejects unknown keys at every level.
 *
 * Secrets: a password value is never put into an error message. Messages
 * only ever quote key names, column names, profile names, user names,
 * environment variable names and file paths, never a string value of a
 * password field or anything from a line the CSV header did not recognise.
 * Buffers that held plan text or secrets are wiped before they are freed.
 */
#include "plan.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "util.h"

#define PLAN_MAX_DEPTH 64         /* JSON nesting the scanner accepts */
#define PLAN_PATH_MAX 8           /* deepest field path validation uses */
#define PLAN_SECRET_FILE_MAX 65536 /* bytes read from a file: secret */
#define PLAN_ECHO_MAX 40          /* longest name quoted back in a message */

static const char plan_from_plan[] = "plan";

/* ---- small helpers --------------------------------------------------------- */

/* Wipe and free a buffer of known length (plan text, CSV data). */
static void
plan_wipe_free(char *buf, size_t len)
{
	if (buf == NULL)
		return;
	explicit_bzero(buf, len);
	free(buf);
}

/*
 * A copy of S fit to quote in a message: at most PLAN_ECHO_MAX characters,
 * anything but printable ASCII shown as '?'. Caller frees.
 */
static char *
plan_echo(const char *s)
{
	size_t n = strlen(s), i, k = n > PLAN_ECHO_MAX ? PLAN_ECHO_MAX : n;
	char *out = xmalloc(k + 4);

	for (i = 0; i < k; i++) {
		unsigned char c = (unsigned char)s[i];

		out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (k < n) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	out[k] = '\0';
	return out;
}

/* The folder of PATH: "." when it has none. Caller frees. */
static char *
plan_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

/* REL joined with DIR unless it is absolute. Caller frees. */
static char *
plan_join(const char *dir, const char *rel)
{
	size_t dl = strlen(dir);

	if (rel[0] == '/' || strcmp(dir, ".") == 0)
		return xstrdup(rel);
	if (dl > 0 && dir[dl - 1] == '/')
		return xasprintf("%s%s", dir, rel);
	return xasprintf("%s/%s", dir, rel);
}

/* 1-based line and column (in characters, UTF-8 aware) of byte POS. */
static void
plan_linecol(const char *s, size_t n, size_t pos, size_t *line, size_t *col)
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

/* Number of '\n' in the N bytes at S. */
static size_t
plan_count_lines(const char *s, size_t n)
{
	size_t i, l = 0;

	for (i = 0; i < n; i++)
		if (s[i] == '\n')
			l++;
	return l;
}

/* Index of the closest name in NAMES to S, or -1 when none is close. */
static int
plan_suggest(const char *s, const char *const *names, size_t n)
{
	size_t i, best = (size_t)-1, len = strlen(s);
	int at = -1;

	for (i = 0; i < n; i++) {
		size_t d = util_edit_distance(s, names[i]);

		if (d < best) {
			best = d;
			at = (int)i;
		}
	}
	if (at < 0 || best == (size_t)-1)
		return -1;
	if (best <= 2 || best * 3 <= len)
		return at;
	return -1;
}

/* "a, b, c" of NAMES. Caller frees. */
static char *
plan_list(const char *const *names, size_t n)
{
	char *out = xstrdup(""), *next;
	size_t i;

	for (i = 0; i < n; i++) {
		next = xasprintf("%s%s%s", out, i ? ", " : "", names[i]);
		free(out);
		out = next;
	}
	return out;
}

/* "ADDR", "ADDR:PORT", "V6", "[V6]" or "[V6]:PORT" with numeric addresses. */
static int
plan_resolver_ok(const char *s)
{
	unsigned char addr[16];
	const char *colon, *port = NULL;
	char *host = NULL;
	long long pn;
	int ok = 0;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL)
			goto out;
		host = xstrndup(s + 1, (size_t)(close - s - 1));
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			goto out;
		if (inet_pton(AF_INET6, host, addr) != 1)
			goto out;
	} else {
		colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL) {
			ok = inet_pton(AF_INET6, s, addr) == 1;
			goto out;
		}
		host = colon ? xstrndup(s, (size_t)(colon - s)) : xstrdup(s);
		if (colon != NULL)
			port = colon + 1;
		if (inet_pton(AF_INET, host, addr) != 1)
			goto out;
	}
	if (port != NULL && util_parse_int(port, 1, 65535, &pn) != 0)
		goto out;
	ok = 1;
out:
	free(host);
	return ok;
}

/*
 * Syntax of a password reference: "env:NAME" needs a variable name, "file:"
 * needs a path; anything else is a literal. Returns NULL when fine, or the
 * reason (static text that never includes the value).
 */
static const char *
plan_secret_syntax(const char *v)
{
	size_t i;

	if (v[0] == '\0')
		return "empty";
	if (strpbrk(v, "\r\n") != NULL)
		return "contains a line break";
	/* "ENV:X" or "File:x" is a reference typed in the wrong case, not a password */
	if (strncasecmp(v, "env:", 4) == 0 && strncmp(v, "env:", 4) != 0)
		return "did you mean env: (lower case)? a reference is env:NAME or file:PATH";
	if (strncasecmp(v, "file:", 5) == 0 && strncmp(v, "file:", 5) != 0)
		return "did you mean file: (lower case)? a reference is env:NAME or file:PATH";
	if (strncmp(v, "env:", 4) == 0) {
		const char *name = v + 4;

		if (name[0] == '\0' || isdigit((unsigned char)name[0]))
			return "env: needs a variable name (letters, digits and _)";
		for (i = 0; name[i] != '\0'; i++)
			if (!(isalnum((unsigned char)name[i]) || name[i] == '_') ||
			    (unsigned char)name[i] >= 0x80)
				return "env: needs a variable name (letters, digits and _)";
	} else if (strncmp(v, "file:", 5) == 0) {
		if (v[5] == '\0')
			return "file: needs a path";
	}
	return NULL;
}

/* Problems of a user name (static text), or NULL. */
static const char *
plan_user_syntax(const char *v)
{
	size_t i, n = strlen(v);

	if (n == 0)
		return "empty";
	for (i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return "contains a control character";
	if (isspace((unsigned char)v[0]) || isspace((unsigned char)v[n - 1]))
		return "has leading or trailing spaces";
	return NULL;
}

/* ---- URLs ------------------------------------------------------------------ */

struct plan_scheme {
	const char *kind;
	const char *scheme;
	int port;
	enum plan_tls tls;
};

static const struct plan_scheme plan_schemes[] = {
	{"imap", "imaps", 993, PLAN_TLS_IMPLICIT},
	{"imap", "imap", 143, PLAN_TLS_STARTTLS},
	{"pop3", "pop3s", 995, PLAN_TLS_IMPLICIT},
	{"pop3", "pop3", 110, PLAN_TLS_STARTTLS},
	{"webmail", "https", 443, PLAN_TLS_IMPLICIT},
	{"webmail", "http", 80, PLAN_TLS_NONE},
};

const char *
plan_tls_str(enum plan_tls tls)
{
	switch (tls) {
	case PLAN_TLS_IMPLICIT:
		return "implicit";
	case PLAN_TLS_STARTTLS:
		return "starttls";
	case PLAN_TLS_NONE:
		return "none";
	}
	return "none";
}

void
plan_url_clear(struct plan_url *u)
{
	if (u == NULL)
		return;
	free(u->url);
	free(u->scheme);
	free(u->host);
	free(u->path);
	memset(u, 0, sizeof(*u));
}

int
plan_url_parse(const char *url, const char *kind, struct plan_url *out, char **err)
{
	const struct plan_scheme *sch = NULL, *first = NULL;
	const char *sep, *auth, *auth_end, *host_end, *port = NULL, *rest;
	char *host = NULL, *scheme = NULL, *reason = NULL;
	unsigned char addr[16];
	long long pn;
	size_t i;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	*err = NULL;
	for (i = 0; i < UTIL_ARRAY_LEN(plan_schemes); i++) {
		if (strcmp(plan_schemes[i].kind, kind) != 0)
			continue;
		if (first == NULL)
			first = &plan_schemes[i];
	}
	if (first == NULL) {
		reason = xasprintf("unknown kind of URL \"%s\"", kind);
		goto out;
	}
	for (i = 0; url[i] != '\0'; i++) {
		if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f) {
			reason = xstrdup("contains spaces or control characters");
			goto out;
		}
	}
	sep = strstr(url, "://");
	if (sep == NULL) {
		reason = xasprintf("expected %s://HOST[:PORT]", first->scheme);
		goto out;
	}
	scheme = xstrndup(url, (size_t)(sep - url));
	for (i = 0; scheme[i] != '\0'; i++)
		scheme[i] = (char)tolower((unsigned char)scheme[i]);
	for (i = 0; i < UTIL_ARRAY_LEN(plan_schemes); i++)
		if (strcmp(plan_schemes[i].kind, kind) == 0 &&
		    strcmp(plan_schemes[i].scheme, scheme) == 0)
			sch = &plan_schemes[i];
	if (sch == NULL) {
		reason = xasprintf("the scheme must be %s:// or %s://", first[0].scheme,
		    first[1].scheme);
		goto out;
	}
	auth = sep + 3;
	auth_end = auth + strcspn(auth, "/?#");
	if (memchr(auth, '@', (size_t)(auth_end - auth)) != NULL) {
		reason = xstrdup("user names and passwords do not belong in the URL "
		    "(use \"admin\" or the mailboxes)");
		goto out;
	}
	if (auth == auth_end) {
		reason = xstrdup("missing host");
		goto out;
	}
	if (auth[0] == '[') {
		const char *close = memchr(auth, ']', (size_t)(auth_end - auth));

		if (close == NULL) {
			reason = xstrdup("'[' of an IPv6 address is not closed");
			goto out;
		}
		host = xstrndup(auth + 1, (size_t)(close - auth - 1));
		if (inet_pton(AF_INET6, host, addr) != 1) {
			reason = xstrdup("bad IPv6 address in brackets");
			goto out;
		}
		host_end = close + 1;
		if (host_end < auth_end && *host_end != ':') {
			reason = xstrdup("unexpected text after ']'");
			goto out;
		}
	} else {
		host_end = memchr(auth, ':', (size_t)(auth_end - auth));
		if (host_end == NULL)
			host_end = auth_end;
		else if (memchr(host_end + 1, ':', (size_t)(auth_end - host_end - 1)) != NULL) {
			reason = xstrdup("an IPv6 address needs brackets ([::1]:993)");
			goto out;
		}
		host = xstrndup(auth, (size_t)(host_end - auth));
		if (!util_hostname_ok(host, 0)) {
			reason = xstrdup("bad host name");
			goto out;
		}
	}
	if (host_end < auth_end) {
		char *pstr;
		int bad;

		port = host_end + 1;
		pstr = xstrndup(port, (size_t)(auth_end - port));
		bad = util_parse_int(pstr, 1, 65535, &pn) != 0;
		free(pstr);
		if (bad) {
			reason = xstrdup("the port must be a number from 1 to 65535");
			goto out;
		}
	}
	rest = auth_end;
	if (sch->tls != PLAN_TLS_NONE && strcmp(kind, "webmail") != 0) {
		if (!(rest[0] == '\0' || strcmp(rest, "/") == 0)) {
			reason = xasprintf("%s URLs take no path", kind);
			goto out;
		}
	}
	out->url = xstrdup(url);
	out->scheme = scheme;
	scheme = NULL; /* transferred */
	out->host = host;
	host = NULL; /* transferred */
	out->port = port != NULL ? (int)pn : sch->port;
	out->tls = sch->tls;
	if (strcmp(kind, "webmail") == 0) {
		size_t plen = strcspn(rest, "#");

		if (plen == 0)
			out->path = xstrdup("/");
		else if (rest[0] == '?')
			out->path = xasprintf("/%.*s", (int)plen, rest);
		else
			out->path = xstrndup(rest, plen);
	}
	rc = 0;
out:
	if (rc != 0)
		*err = xasprintf("not a valid URL: %s", reason);
	free(reason);
	free(scheme);
	free(host);
	return rc;
}

/* ---- JSON syntax scanner (RFC 8259) ---------------------------------------- */

struct plan_js {
	const char *s;
	size_t n;
	size_t i;
	int depth;
	size_t epos;          /* error position (byte offset) */
	const char *emsg;     /* error message (static or ebuf) */
	char ebuf[96];
};

static int
plan_js_fail(struct plan_js *j, size_t pos, const char *msg)
{
	j->epos = pos;
	j->emsg = msg;
	return -1;
}

static void
plan_js_ws(struct plan_js *j)
{
	while (j->i < j->n &&
	    (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' || j->s[j->i] == '\r'))
		j->i++;
}

/* Describe the unexpected byte at I; never echoes letters or digits (secrets). */
static int
plan_js_unexpected(struct plan_js *j, const char *expected)
{
	unsigned char c = (unsigned char)j->s[j->i];
	const char *sep = expected ? " (expected " : "";
	const char *end = expected ? ")" : "";

	if (expected == NULL)
		expected = "";
	if (c == '\'')
		return plan_js_fail(j, j->i, "single quotes are not JSON (use double quotes)");
	if (c == '/' && j->i + 1 < j->n && (j->s[j->i + 1] == '/' || j->s[j->i + 1] == '*'))
		return plan_js_fail(j, j->i, "comments are not allowed in JSON");
	if (isalnum(c) && c < 0x80)
		snprintf(j->ebuf, sizeof(j->ebuf), "unexpected unquoted text%s%s%s", sep, expected,
		    *sep ? end : " (strings need double quotes)");
	else if (c > 0x20 && c < 0x7f)
		snprintf(j->ebuf, sizeof(j->ebuf), "unexpected character '%c'%s%s%s", c, sep,
		    expected, end);
	else
		snprintf(j->ebuf, sizeof(j->ebuf), "unexpected byte 0x%02x%s%s%s", c, sep, expected,
		    end);
	return plan_js_fail(j, j->i, j->ebuf);
}

static int
plan_js_hex4(struct plan_js *j, size_t at, unsigned *out)
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
plan_js_string(struct plan_js *j)
{
	size_t start = j->i;
	unsigned u, lo;

	j->i++;
	for (;;) {
		unsigned char c;

		if (j->i >= j->n)
			return plan_js_fail(j, start, "unterminated string");
		c = (unsigned char)j->s[j->i];
		if (c == '"') {
			j->i++;
			return 0;
		}
		if (c == '\n' || c == '\r')
			return plan_js_fail(j, start,
			    "unterminated string (a string cannot span lines)");
		if (c < 0x20) {
			snprintf(j->ebuf, sizeof(j->ebuf),
			    "control character 0x%02x in a string (write it as \\u%04x)", c, c);
			return plan_js_fail(j, j->i, j->ebuf);
		}
		if (c != '\\') {
			j->i++;
			continue;
		}
		if (j->i + 1 >= j->n)
			return plan_js_fail(j, start, "unterminated string");
		c = (unsigned char)j->s[j->i + 1];
		if (c != 'u') {
			if (strchr("\"\\/bfnrt", c) == NULL || c == '\0')
				return plan_js_fail(j, j->i,
				    "invalid escape in a string (valid: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
			j->i += 2;
			continue;
		}
		if (plan_js_hex4(j, j->i + 2, &u) != 0)
			return plan_js_fail(j, j->i, "invalid \\u escape (expected 4 hex digits)");
		if (u >= 0xdc00 && u <= 0xdfff)
			return plan_js_fail(j, j->i, "invalid \\u escape (lone low surrogate)");
		if (u >= 0xd800 && u <= 0xdbff) {
			if (j->i + 7 >= j->n || j->s[j->i + 6] != '\\' || j->s[j->i + 7] != 'u' ||
			    plan_js_hex4(j, j->i + 8, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
				return plan_js_fail(j, j->i,
				    "invalid \\u escape (high surrogate without a low one)");
			j->i += 6;
		}
		j->i += 6;
	}
}

static int
plan_js_digits(struct plan_js *j)
{
	size_t start = j->i;

	while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
		j->i++;
	return j->i > start ? 0 : -1;
}

static int
plan_js_number(struct plan_js *j)
{
	size_t start = j->i;

	if (j->s[j->i] == '-')
		j->i++;
	if (j->i < j->n && j->s[j->i] == '0') {
		j->i++;
		if (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
			return plan_js_fail(j, start, "invalid number (leading zero)");
	} else if (plan_js_digits(j) != 0) {
		return plan_js_fail(j, start, "invalid number");
	}
	if (j->i < j->n && j->s[j->i] == '.') {
		j->i++;
		if (plan_js_digits(j) != 0)
			return plan_js_fail(j, start, "invalid number (digits expected after '.')");
	}
	if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
		j->i++;
		if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-'))
			j->i++;
		if (plan_js_digits(j) != 0)
			return plan_js_fail(j, start, "invalid number (digits expected in exponent)");
	}
	if (j->i - start > 60) /* cJSON reads at most 63 characters of a number */
		return plan_js_fail(j, start, "number too long");
	return 0;
}

static int plan_js_value(struct plan_js *j);

/* Message for input that ends inside a container opened at OPEN. */
static int
plan_js_eof(struct plan_js *j, size_t open)
{
	size_t line, col;

	plan_linecol(j->s, j->n, open, &line, &col);
	snprintf(j->ebuf, sizeof(j->ebuf), "unexpected end of input ('%c' from line %zu is not closed)",
	    j->s[open], line);
	return plan_js_fail(j, j->n, j->ebuf);
}

static int
plan_js_container(struct plan_js *j)
{
	size_t open = j->i;
	int is_obj = j->s[open] == '{';
	char close = is_obj ? '}' : ']';
	size_t comma = 0;
	int have_comma = 0;

	if (++j->depth > PLAN_MAX_DEPTH)
		return plan_js_fail(j, open, "nested too deeply (more than 64 levels)");
	j->i++;
	plan_js_ws(j);
	if (j->i < j->n && j->s[j->i] == close) {
		j->i++;
		j->depth--;
		return 0;
	}
	for (;;) {
		plan_js_ws(j);
		if (j->i >= j->n)
			return plan_js_eof(j, open);
		if (have_comma && j->s[j->i] == close)
			return plan_js_fail(j, comma,
			    is_obj ? "trailing comma before '}'" : "trailing comma before ']'");
		if (is_obj) {
			if (j->s[j->i] != '"')
				return plan_js_unexpected(j, "a key in double quotes");
			if (plan_js_string(j) != 0)
				return -1;
			plan_js_ws(j);
			if (j->i >= j->n)
				return plan_js_eof(j, open);
			if (j->s[j->i] != ':')
				return plan_js_unexpected(j, "':' after the key");
			j->i++;
			plan_js_ws(j);
		}
		if (plan_js_value(j) != 0)
			return -1;
		plan_js_ws(j);
		if (j->i >= j->n)
			return plan_js_eof(j, open);
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
			return plan_js_fail(j, j->i,
			    is_obj ? "expected ',' or '}' (missing comma?)"
				   : "expected ',' or ']' (missing comma?)");
		return plan_js_unexpected(j, is_obj ? "',' or '}'" : "',' or ']'");
	}
}

/* One value at I (no leading white space); leaves I after it. */
static int
plan_js_value(struct plan_js *j)
{
	static const char *const lits[] = {"true", "false", "null"};
	size_t k, len;
	char c;

	if (j->i >= j->n)
		return plan_js_fail(j, j->n, "unexpected end of input (expected a value)");
	c = j->s[j->i];
	if (c == '{' || c == '[')
		return plan_js_container(j);
	if (c == '"')
		return plan_js_string(j);
	if (c == '-' || (c >= '0' && c <= '9'))
		return plan_js_number(j);
	for (k = 0; k < UTIL_ARRAY_LEN(lits); k++) {
		len = strlen(lits[k]);
		if (j->n - j->i >= len && memcmp(j->s + j->i, lits[k], len) == 0 &&
		    (j->n - j->i == len || !isalnum((unsigned char)j->s[j->i + len]))) {
			j->i += len;
			return 0;
		}
	}
	if (c == '}' || c == ']')
		return plan_js_fail(j, j->i, "expected a value");
	return plan_js_unexpected(j, NULL);
}

/* Whole document: optional UTF-8 BOM, one value, white space. */
static int
plan_js_document(struct plan_js *j)
{
	if (j->n >= 3 && memcmp(j->s, "\xef\xbb\xbf", 3) == 0)
		j->i = 3;
	plan_js_ws(j);
	if (j->i >= j->n)
		return plan_js_fail(j, j->i, "empty file (expected a JSON object)");
	if (plan_js_value(j) != 0)
		return -1;
	plan_js_ws(j);
	if (j->i < j->n)
		return plan_js_fail(j, j->i, "unexpected text after the end of the JSON value");
	return 0;
}

/* ---- validation context ------------------------------------------------------ */

/* One step of a field path: an object key, or (key NULL) an array index. */
struct plan_step {
	const char *key;
	size_t index;
};

struct plan_ctx {
	const char *text;     /* the plan text (already syntax-checked) */
	size_t len;
	const char *file;     /* name in messages */
	struct plan_step steps[PLAN_PATH_MAX];
	size_t depth;
	char *err;            /* first error, owned */
	/*
	 * Anchor: the byte offset and line of the field at steps[0..anchor_depth)
	 * (the current mailboxes[i]), so that locating a field inside it does
	 * not rescan the whole text: thousands of mailboxes stay linear.
	 */
	int have_anchor;
	size_t anchor_depth;
	size_t anchor_pos;
	size_t anchor_line;
	int no_lines;         /* locating failed once: give paths only */
};

static void
plan_push_key(struct plan_ctx *ctx, const char *key)
{
	if (ctx->depth < PLAN_PATH_MAX) {
		ctx->steps[ctx->depth].key = key;
		ctx->steps[ctx->depth].index = 0;
	}
	ctx->depth++;
}

static void
plan_push_index(struct plan_ctx *ctx, size_t index)
{
	if (ctx->depth < PLAN_PATH_MAX) {
		ctx->steps[ctx->depth].key = NULL;
		ctx->steps[ctx->depth].index = index;
	}
	ctx->depth++;
}

static void
plan_pop(struct plan_ctx *ctx)
{
	ctx->depth--;
}

/*
 * Byte offset of the field at STEPS[0..N) in the (valid) text: the key's
 * opening quote for object members, the value for array elements. -1 when it
 * cannot be found (escaped key spelling, N == 0).
 */
static long
plan_locate(const char *s, size_t len, size_t start, const struct plan_step *steps, size_t n)
{
	struct plan_js j;
	size_t k, idx, keypos = 0;

	if (n == 0)
		return -1;
	memset(&j, 0, sizeof(j));
	j.s = s;
	j.n = len;
	j.i = start;
	if (start == 0 && len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		j.i = 3;
	plan_js_ws(&j);
	for (k = 0; k < n; k++) {
		if (steps[k].key != NULL) {
			size_t kl = strlen(steps[k].key);

			if (j.i >= len || s[j.i] != '{')
				return -1;
			j.i++;
			for (;;) {
				int match;

				plan_js_ws(&j);
				if (j.i >= len || s[j.i] != '"')
					return -1;
				keypos = j.i;
				if (plan_js_string(&j) != 0)
					return -1;
				match = j.i - keypos - 2 == kl &&
				    memcmp(s + keypos + 1, steps[k].key, kl) == 0;
				plan_js_ws(&j);
				if (j.i >= len || s[j.i] != ':')
					return -1;
				j.i++;
				plan_js_ws(&j);
				if (match)
					break;
				j.depth = 0;
				if (plan_js_value(&j) != 0)
					return -1;
				plan_js_ws(&j);
				if (j.i >= len || s[j.i] != ',')
					return -1;
				j.i++;
			}
			if (k == n - 1)
				return (long)keypos;
		} else {
			if (j.i >= len || s[j.i] != '[')
				return -1;
			j.i++;
			for (idx = 0;; idx++) {
				plan_js_ws(&j);
				if (j.i >= len || s[j.i] == ']')
					return -1;
				if (idx == steps[k].index)
					break;
				j.depth = 0;
				if (plan_js_value(&j) != 0)
					return -1;
				plan_js_ws(&j);
				if (j.i >= len || s[j.i] != ',')
					return -1;
				j.i++;
			}
			if (k == n - 1)
				return (long)j.i;
		}
	}
	return -1;
}

/* "source.admin.user", "mailboxes[2]" of the first N steps. Caller frees. */
static char *
plan_path_str(const struct plan_ctx *ctx, size_t n)
{
	char *out = xstrdup(""), *next, *echo;
	size_t k;

	if (n > PLAN_PATH_MAX)
		n = PLAN_PATH_MAX;
	for (k = 0; k < n; k++) {
		if (ctx->steps[k].key != NULL) {
			echo = plan_echo(ctx->steps[k].key);
			next = xasprintf("%s%s%s", out, k ? "." : "", echo);
			free(echo);
		} else {
			next = xasprintf("%s[%zu]", out, ctx->steps[k].index);
		}
		free(out);
		out = next;
	}
	return out;
}

/*
 * "plan.json:12: mailboxes[2].dest_user" for the current path; the line is
 * that of the current field, or of its parent when PARENT_LINE (the field
 * is missing). Without a line: "plan.json: mailboxes[2].dest_user".
 */
static char *
plan_where(const struct plan_ctx *ctx, int parent_line)
{
	size_t ln = ctx->depth > PLAN_PATH_MAX ? PLAN_PATH_MAX : ctx->depth;
	size_t line, col;
	char *path, *out;
	long pos;

	if (parent_line && ln > 0)
		ln--;
	pos = -1;
	line = 0;
	if (ctx->no_lines) {
		/* no line numbers */
	} else if (ctx->have_anchor && ln >= ctx->anchor_depth) {
		pos = ln == ctx->anchor_depth ? (long)ctx->anchor_pos
		    : plan_locate(ctx->text, ctx->len, ctx->anchor_pos,
			  ctx->steps + ctx->anchor_depth, ln - ctx->anchor_depth);
		if (pos >= 0)
			line = ctx->anchor_line +
			    plan_count_lines(ctx->text + ctx->anchor_pos, (size_t)pos - ctx->anchor_pos);
	} else {
		pos = plan_locate(ctx->text, ctx->len, 0, ctx->steps, ln);
		if (pos >= 0)
			plan_linecol(ctx->text, ctx->len, (size_t)pos, &line, &col);
	}
	path = plan_path_str(ctx, ctx->depth);
	if (pos >= 0) {
		out = xasprintf("%s:%zu:%s%s", ctx->file, line, path[0] ? " " : "", path);
	} else {
		out = xasprintf("%s%s%s", ctx->file, path[0] ? ": " : "", path);
	}
	free(path);
	return out;
}

static int plan_fail(struct plan_ctx *ctx, int parent_line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record the first error at the current path. Returns -1. */
static int
plan_fail(struct plan_ctx *ctx, int parent_line, const char *fmt, ...)
{
	va_list ap;
	char *msg, *where;

	if (ctx->err != NULL)
		return -1;
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	where = plan_where(ctx, parent_line);
	ctx->err = xasprintf("%s: %s", where, msg);
	free(where);
	free(msg);
	return -1;
}

/*
 * Check that OBJ (at the current path) is an object whose keys are all in
 * KEYS, each once; FOUND[k] gets the member for KEYS[k] or NULL.
 */
static int
plan_members(struct plan_ctx *ctx, const cJSON *obj, const char *const *keys, size_t nkeys,
    const cJSON **found)
{
	const cJSON *it;
	size_t k;

	for (k = 0; k < nkeys; k++)
		found[k] = NULL;
	if (!cJSON_IsObject(obj))
		return plan_fail(ctx, 0, "expected an object, found %s", util_json_type(obj));
	for (it = obj->child; it != NULL; it = it->next) {
		const char *name = it->string != NULL ? it->string : "";
		int hit = -1;

		for (k = 0; k < nkeys; k++)
			if (strcmp(name, keys[k]) == 0)
				hit = (int)k;
		plan_push_key(ctx, name);
		if (hit < 0) {
			int s = plan_suggest(name, keys, nkeys);
			char *all;

			if (s >= 0)
				return plan_fail(ctx, 0, "unknown key (did you mean \"%s\"?)", keys[s]);
			all = plan_list(keys, nkeys);
			plan_fail(ctx, 0, "unknown key (valid keys: %s)", all);
			free(all);
			return -1;
		}
		if (found[hit] != NULL)
			return plan_fail(ctx, 0, "duplicate key");
		found[hit] = it;
		plan_pop(ctx);
	}
	return 0;
}

/* A non-empty string at the current path into *OUT (caller frees). */
static int
plan_string(struct plan_ctx *ctx, const cJSON *item, char **out)
{
	*out = NULL;
	if (!cJSON_IsString(item) || item->valuestring == NULL)
		return plan_fail(ctx, 0, "expected a string, found %s", util_json_type(item));
	if (item->valuestring[0] == '\0')
		return plan_fail(ctx, 0, "empty");
	*out = xstrdup(item->valuestring);
	return 0;
}

/* An array of strings passing CHECK (may be NULL); WHAT names a bad element. */
static int
plan_string_array(struct plan_ctx *ctx, const cJSON *item, int (*check)(const char *),
    const char *what, char ***out, size_t *n)
{
	const cJSON *it;
	size_t i = 0, count;
	char **arr;

	if (!cJSON_IsArray(item))
		return plan_fail(ctx, 0, "expected an array of strings, found %s",
		    util_json_type(item));
	count = (size_t)cJSON_GetArraySize(item);
	arr = xcalloc(count + 1, sizeof(*arr));
	for (it = item->child; it != NULL; it = it->next, i++) {
		plan_push_index(ctx, i);
		if (plan_string(ctx, it, &arr[i]) != 0)
			goto fail;
		if (check != NULL && !check(arr[i])) {
			plan_fail(ctx, 0, "%s", what);
			goto fail;
		}
		plan_pop(ctx);
	}
	*out = arr;
	*n = i;
	return 0;
fail:
	for (i = 0; i < count; i++)
		free(arr[i]);
	free(arr);
	return -1;
}

static void
plan_free_strings(char **arr, size_t n)
{
	size_t i;

	if (arr == NULL)
		return;
	for (i = 0; i < n; i++)
		free(arr[i]);
	free(arr);
}

static int
plan_check_host(const char *s)
{
	return util_hostname_ok(s, 0);
}

static int
plan_check_pattern(const char *s)
{
	return util_hostname_ok(s, 1);
}

/* A count limit: null gives -1, else a whole number >= 0. */
static int
plan_count(struct plan_ctx *ctx, const cJSON *item, int64_t *out)
{
	double v;

	if (cJSON_IsNull(item)) {
		*out = -1;
		return 0;
	}
	if (!cJSON_IsNumber(item))
		return plan_fail(ctx, 0, "expected a number, found %s", util_json_type(item));
	v = item->valuedouble;
	if (!isfinite(v) || v < 0 || v > 9007199254740992.0 || v != (double)(int64_t)v)
		return plan_fail(ctx, 0, "expected a whole number >= 0");
	*out = (int64_t)v;
	return 0;
}

/* ---- the plan ----------------------------------------------------------------- */

enum { SIDE_PROFILE, SIDE_IMAP, SIDE_POP3, SIDE_WEBMAIL, SIDE_ADMIN, SIDE_LIMITS,
	SIDE_IMAP_OTHER_PORT, SIDE_POP3_OTHER_PORT, SIDE_NKEYS };
static const char *const plan_side_keys[] = {
	"profile", "imap", "pop3", "webmail", "admin", "limits", "imap_other_port",
	"pop3_other_port",
};

enum { LIM_FOLDER_ITEMS, LIM_MESSAGE_BYTES, LIM_MAILBOX_BYTES, LIM_MAILBOX_ITEMS,
	LIM_FOLDER_COUNT, LIM_QUOTA_HEADROOM, LIM_NKEYS };
static const char *const plan_limit_keys[] = {
	"folder_items", "message_bytes", "mailbox_bytes", "mailbox_items", "folder_count",
	"quota_headroom",
};

enum { ADM_USER, ADM_PASSWORD, ADM_NKEYS };
static const char *const plan_admin_keys[] = {"user", "password"};

enum { EXP_MX, EXP_SPF, EXP_AUTODISCOVER, EXP_VERIFICATION, EXP_GO_LIVE, EXP_NKEYS };
static const char *const plan_expect_keys[] = {"mx", "spf_include", "autodiscover",
    "verification", "go_live"};

enum { MB_SOURCE_USER, MB_SOURCE_PASSWORD, MB_DEST_USER, MB_DEST_PASSWORD, MB_NKEYS };
static const char *const plan_mailbox_keys[] = {
	"source_user", "source_password", "dest_user", "dest_password",
};

enum { TOP_DOMAIN, TOP_RESOLVERS, TOP_PUBLIC_RESOLVERS, TOP_CA_FILE, TOP_SOURCE,
	TOP_DESTINATION, TOP_EXPECT, TOP_MAILBOXES, TOP_MAILBOXES_CSV, TOP_STATE_DIR, TOP_SYNC, TOP_NKEYS };
static const char *const plan_top_keys[] = {
	"domain", "resolvers", "public_resolvers", "ca_file", "source", "destination",
	"expect", "mailboxes", "mailboxes_csv", "state_dir", "sync",
};

enum { SYNC_FOLDER_MAP, SYNC_FOLDERS, SYNC_EXCLUDE, SYNC_SINCE, SYNC_DELETE, SYNC_NKEYS };
static const char *const plan_sync_keys[] = {"folder_map", "folders", "exclude", "since",
    "delete"};

static void
plan_limits_unset(struct profile_limits *l)
{
	l->folder_items = -1;
	l->message_bytes = -1;
	l->mailbox_bytes = -1;
	l->mailbox_items = -1;
	l->folder_count = -1;
	l->quota_headroom = -1.0;
}

static int
plan_parse_url(struct plan_ctx *ctx, const cJSON *item, const char *kind, struct plan_url **out)
{
	char *s = NULL, *uerr = NULL;
	struct plan_url *u;

	if (plan_string(ctx, item, &s) != 0)
		return -1;
	u = xcalloc(1, sizeof(*u));
	if (plan_url_parse(s, kind, u, &uerr) != 0) {
		plan_fail(ctx, 0, "%s", uerr);
		free(uerr);
		free(u);
		free(s);
		return -1;
	}
	free(s);
	*out = u;
	return 0;
}

/* A password field (reference syntax only) and where it is written. */
static int
plan_password(struct plan_ctx *ctx, const cJSON *item, char **out, char **at)
{
	const char *why;

	*out = NULL;
	*at = NULL;
	if (!cJSON_IsString(item) || item->valuestring == NULL)
		return plan_fail(ctx, 0, "expected a string, found %s", util_json_type(item));
	why = plan_secret_syntax(item->valuestring);
	if (why != NULL)
		return plan_fail(ctx, 0, "%s", why);
	*out = xstrdup(item->valuestring);
	*at = plan_where(ctx, 0);
	return 0;
}

static int
plan_parse_admin(struct plan_ctx *ctx, const cJSON *obj, struct plan_admin **out)
{
	const cJSON *f[ADM_NKEYS];
	struct plan_admin *a = xcalloc(1, sizeof(*a));
	const char *why;
	int rc = -1;

	if (plan_members(ctx, obj, plan_admin_keys, ADM_NKEYS, f) != 0)
		goto out;
	plan_push_key(ctx, "user");
	if (f[ADM_USER] == NULL) {
		plan_fail(ctx, 1, "missing");
		goto out;
	}
	if (plan_string(ctx, f[ADM_USER], &a->user) != 0)
		goto out;
	why = plan_user_syntax(a->user);
	if (why != NULL) {
		plan_fail(ctx, 0, "%s", why);
		goto out;
	}
	plan_pop(ctx);
	plan_push_key(ctx, "password");
	if (f[ADM_PASSWORD] == NULL) {
		plan_fail(ctx, 1, "missing");
		goto out;
	}
	if (plan_password(ctx, f[ADM_PASSWORD], &a->password, &a->password_at) != 0)
		goto out;
	plan_pop(ctx);
	*out = a;
	a = NULL; /* transferred */
	rc = 0;
out:
	if (a != NULL) {
		free(a->user);
		util_free_secret(a->password);
		free(a->password_at);
		free(a);
	}
	return rc;
}

static int
plan_parse_limits(struct plan_ctx *ctx, const cJSON *obj, struct profile_limits *l)
{
	const cJSON *f[LIM_NKEYS];
	int64_t *counts[LIM_QUOTA_HEADROOM];
	size_t k;

	counts[LIM_FOLDER_ITEMS] = &l->folder_items;
	counts[LIM_MESSAGE_BYTES] = &l->message_bytes;
	counts[LIM_MAILBOX_BYTES] = &l->mailbox_bytes;
	counts[LIM_MAILBOX_ITEMS] = &l->mailbox_items;
	counts[LIM_FOLDER_COUNT] = &l->folder_count;
	if (plan_members(ctx, obj, plan_limit_keys, LIM_NKEYS, f) != 0)
		return -1;
	for (k = 0; k < LIM_QUOTA_HEADROOM; k++) {
		if (f[k] == NULL)
			continue;
		plan_push_key(ctx, plan_limit_keys[k]);
		if (plan_count(ctx, f[k], counts[k]) != 0)
			return -1;
		plan_pop(ctx);
	}
	if (f[LIM_QUOTA_HEADROOM] != NULL) {
		const cJSON *q = f[LIM_QUOTA_HEADROOM];

		plan_push_key(ctx, "quota_headroom");
		if (cJSON_IsNull(q)) {
			l->quota_headroom = -1.0;
		} else if (!cJSON_IsNumber(q)) {
			return plan_fail(ctx, 0, "expected a number, found %s", util_json_type(q));
		} else if (!isfinite(q->valuedouble) || q->valuedouble <= 0 || q->valuedouble > 1) {
			return plan_fail(ctx, 0,
			    "expected a share of the quota above 0 and at most 1 (0.70 = 70%%)");
		} else {
			l->quota_headroom = q->valuedouble;
		}
		plan_pop(ctx);
	}
	return 0;
}

static int
plan_parse_side(struct plan_ctx *ctx, const cJSON *obj, struct plan_side *side)
{
	const cJSON *f[SIDE_NKEYS];

	if (plan_members(ctx, obj, plan_side_keys, SIDE_NKEYS, f) != 0)
		return -1;
	side->present = 1;
	if (f[SIDE_PROFILE] != NULL) {
		plan_push_key(ctx, "profile");
		if (plan_string(ctx, f[SIDE_PROFILE], &side->profile_name) != 0)
			return -1;
		side->profile = profile_find(side->profile_name);
		if (side->profile == NULL) {
			const struct profile *const *all = profile_all();
			const char *names[16];
			size_t n = 0;
			int s;
			char *list, *echo;

			while (all[n] != NULL && n < UTIL_ARRAY_LEN(names)) {
				names[n] = all[n]->name;
				n++;
			}
			s = plan_suggest(side->profile_name, names, n);
			list = plan_list(names, n);
			echo = plan_echo(side->profile_name);
			if (s >= 0)
				plan_fail(ctx, 0, "unknown profile \"%s\" (did you mean \"%s\"? profiles: %s)",
				    echo, names[s], list);
			else
				plan_fail(ctx, 0, "unknown profile \"%s\" (profiles: %s)", echo, list);
			free(list);
			free(echo);
			return -1;
		}
		side->limits = side->profile->limits;
		plan_pop(ctx);
	}
	if (f[SIDE_IMAP] != NULL) {
		plan_push_key(ctx, "imap");
		if (plan_parse_url(ctx, f[SIDE_IMAP], "imap", &side->imap) != 0)
			return -1;
		plan_pop(ctx);
	}
	if (f[SIDE_POP3] != NULL) {
		plan_push_key(ctx, "pop3");
		if (plan_parse_url(ctx, f[SIDE_POP3], "pop3", &side->pop3) != 0)
			return -1;
		plan_pop(ctx);
	}
	for (int k = SIDE_IMAP_OTHER_PORT; k <= SIDE_POP3_OTHER_PORT; k++) {
		int *port = k == SIDE_IMAP_OTHER_PORT ? &side->imap_other_port : &side->pop3_other_port;
		int64_t v;

		*port = -1;
		if (f[k] == NULL)
			continue;
		plan_push_key(ctx, plan_side_keys[k]);
		if (plan_count(ctx, f[k], &v) != 0)
			return -1;
		if (v > 65535)
			return plan_fail(ctx, 0, "expected a port from 1 to 65535, or 0 for none");
		*port = (int)v;
		plan_pop(ctx);
	}
	if (f[SIDE_WEBMAIL] != NULL) {
		plan_push_key(ctx, "webmail");
		if (plan_parse_url(ctx, f[SIDE_WEBMAIL], "webmail", &side->webmail) != 0)
			return -1;
		plan_pop(ctx);
	}
	if (f[SIDE_ADMIN] != NULL) {
		plan_push_key(ctx, "admin");
		if (plan_parse_admin(ctx, f[SIDE_ADMIN], &side->admin) != 0)
			return -1;
		plan_pop(ctx);
	}
	if (f[SIDE_LIMITS] != NULL) {
		plan_push_key(ctx, "limits");
		if (plan_parse_limits(ctx, f[SIDE_LIMITS], &side->limits) != 0)
			return -1;
		plan_pop(ctx);
	}
	return 0;
}

/* Defaults from the destination profile, then the plan's "expect" (may be NULL). */
static int
plan_parse_expect(struct plan_ctx *ctx, const cJSON *obj, struct plan *p)
{
	const struct profile *prof = p->destination.profile;
	struct plan_expect *e = &p->expect;
	const cJSON *f[EXP_NKEYS];
	size_t k;

	if (prof != NULL) {
		for (k = 0; prof->mx[k] != NULL; k++)
			;
		if (k > 0) {
			e->mx = xcalloc(k + 1, sizeof(*e->mx));
			for (e->n_mx = 0; e->n_mx < k; e->n_mx++)
				e->mx[e->n_mx] = xstrdup(prof->mx[e->n_mx]);
			e->mx_from = prof->name;
		}
		if (prof->spf_include != NULL) {
			e->spf_include = xcalloc(2, sizeof(*e->spf_include));
			e->spf_include[0] = xstrdup(prof->spf_include);
			e->n_spf_include = 1;
			e->spf_include_from = prof->name;
		}
		if (prof->autodiscover != NULL) {
			e->autodiscover = xstrdup(prof->autodiscover);
			e->autodiscover_from = prof->name;
		}
	}
	if (obj == NULL)
		return 0;
	if (plan_members(ctx, obj, plan_expect_keys, EXP_NKEYS, f) != 0)
		return -1;
	if (f[EXP_MX] != NULL) {
		char **arr = NULL;
		size_t n = 0;

		plan_push_key(ctx, "mx");
		if (plan_string_array(ctx, f[EXP_MX], plan_check_pattern,
			"not a host name or \"*.\" pattern", &arr, &n) != 0)
			return -1;
		plan_free_strings(e->mx, e->n_mx);
		e->mx = arr;
		e->n_mx = n;
		e->mx_from = plan_from_plan;
		plan_pop(ctx);
	}
	if (f[EXP_SPF] != NULL) {
		char **arr = NULL;
		size_t n = 0;

		plan_push_key(ctx, "spf_include");
		if (plan_string_array(ctx, f[EXP_SPF], plan_check_host, "not a domain name", &arr,
			&n) != 0)
			return -1;
		plan_free_strings(e->spf_include, e->n_spf_include);
		e->spf_include = arr;
		e->n_spf_include = n;
		e->spf_include_from = plan_from_plan;
		plan_pop(ctx);
	}
	if (f[EXP_AUTODISCOVER] != NULL) {
		char *s = NULL;

		plan_push_key(ctx, "autodiscover");
		if (plan_string(ctx, f[EXP_AUTODISCOVER], &s) != 0)
			return -1;
		if (!util_hostname_ok(s, 0)) {
			free(s);
			return plan_fail(ctx, 0, "not a host name");
		}
		free(e->autodiscover);
		e->autodiscover = s;
		e->autodiscover_from = plan_from_plan;
		plan_pop(ctx);
	}
	if (f[EXP_VERIFICATION] != NULL) {
		char *s = NULL;
		size_t n;

		plan_push_key(ctx, "verification");
		if (plan_string(ctx, f[EXP_VERIFICATION], &s) != 0)
			return -1;
		/* Microsoft 365's domain verification TXT record: MS=ms and digits */
		n = strlen(s);
		if (n < 6 || n > 24 || strncmp(s, "MS=ms", 5) != 0 || strspn(s + 5, "0123456789") != n - 5) {
			free(s);
			return plan_fail(ctx, 0, "expected the TXT value Microsoft 365 gives, "
			                         "e.g. \"MS=ms12345678\"");
		}
		free(e->verification);
		e->verification = s;
		plan_pop(ctx);
	}
	if (f[EXP_GO_LIVE] != NULL) {
		char *s = NULL;
		struct tm tm;
		const char *end;

		plan_push_key(ctx, "go_live");
		if (plan_string(ctx, f[EXP_GO_LIVE], &s) != 0)
			return -1;
		memset(&tm, 0, sizeof(tm));
		end = strlen(s) == 10 ? strptime(s, "%Y-%m-%d", &tm) : NULL;
		if (end == NULL || *end != '\0') {
			free(s);
			return plan_fail(ctx, 0, "expected the go-live date as YYYY-MM-DD (UTC)");
		}
		free(e->go_live);
		e->go_live = s;
		plan_pop(ctx);
	}
	return 0;
}

static int
plan_parse_user(struct plan_ctx *ctx, const cJSON *item, char **out)
{
	const char *why;

	if (plan_string(ctx, item, out) != 0)
		return -1;
	why = plan_user_syntax(*out);
	if (why != NULL)
		return plan_fail(ctx, 0, "%s", why);
	return 0;
}

static int
plan_parse_mailbox(struct plan_ctx *ctx, const cJSON *obj, size_t index, struct plan *p,
    struct plan_mailbox *mb)
{
	const cJSON *f[MB_NKEYS];

	if (plan_members(ctx, obj, plan_mailbox_keys, MB_NKEYS, f) != 0)
		return -1;
	mb->origin = xasprintf("%s: mailboxes[%zu]", ctx->file, index);
	plan_push_key(ctx, "source_user");
	if (f[MB_SOURCE_USER] == NULL)
		return plan_fail(ctx, 1, "missing");
	if (plan_parse_user(ctx, f[MB_SOURCE_USER], &mb->source_user) != 0)
		return -1;
	plan_pop(ctx);
	plan_push_key(ctx, "source_password");
	if (f[MB_SOURCE_PASSWORD] == NULL) {
		if (p->source.admin == NULL)
			return plan_fail(ctx, 1, "missing (and source has no \"admin\" to log in with)");
	} else if (plan_password(ctx, f[MB_SOURCE_PASSWORD], &mb->source_password,
		       &mb->source_password_at) != 0) {
		return -1;
	}
	plan_pop(ctx);
	plan_push_key(ctx, "dest_user");
	if (f[MB_DEST_USER] == NULL)
		return plan_fail(ctx, 1, "missing");
	if (plan_parse_user(ctx, f[MB_DEST_USER], &mb->dest_user) != 0)
		return -1;
	plan_pop(ctx);
	plan_push_key(ctx, "dest_password");
	if (f[MB_DEST_PASSWORD] == NULL) {
		if (p->destination.admin == NULL)
			return plan_fail(ctx, 1,
			    "missing (and destination has no \"admin\" to log in with)");
	} else if (plan_password(ctx, f[MB_DEST_PASSWORD], &mb->dest_password,
		       &mb->dest_password_at) != 0) {
		return -1;
	}
	plan_pop(ctx);
	return 0;
}

/*
 * Anchor on element 0 of the array at the current path (one scan from the
 * start of the text). Without it, later messages carry no line numbers.
 */
static void
plan_anchor_first(struct plan_ctx *ctx)
{
	struct plan_js j;
	size_t line, col;
	long key = plan_locate(ctx->text, ctx->len, 0, ctx->steps, ctx->depth);

	ctx->have_anchor = 0;
	if (key < 0 || ctx->depth + 1 > PLAN_PATH_MAX) {
		ctx->no_lines = 1;
		return;
	}
	memset(&j, 0, sizeof(j));
	j.s = ctx->text;
	j.n = ctx->len;
	j.i = (size_t)key;
	if (plan_js_string(&j) != 0)
		goto fail;
	plan_js_ws(&j);
	if (j.i >= j.n || j.s[j.i] != ':')
		goto fail;
	j.i++;
	plan_js_ws(&j);
	if (j.i >= j.n || j.s[j.i] != '[')
		goto fail;
	j.i++;
	plan_js_ws(&j);
	plan_linecol(ctx->text, ctx->len, j.i, &line, &col);
	ctx->have_anchor = 1;
	ctx->anchor_depth = ctx->depth + 1;
	ctx->anchor_pos = j.i;
	ctx->anchor_line = line;
	return;
fail:
	ctx->no_lines = 1;
}

/* Move the anchor from element i to element i + 1. */
static void
plan_anchor_next(struct plan_ctx *ctx)
{
	struct plan_js j;

	if (!ctx->have_anchor)
		return;
	memset(&j, 0, sizeof(j));
	j.s = ctx->text;
	j.n = ctx->len;
	j.i = ctx->anchor_pos;
	if (plan_js_value(&j) != 0)
		goto fail;
	plan_js_ws(&j);
	if (j.i < j.n && j.s[j.i] == ',') {
		j.i++;
		plan_js_ws(&j);
	}
	ctx->anchor_line += plan_count_lines(ctx->text + ctx->anchor_pos, j.i - ctx->anchor_pos);
	ctx->anchor_pos = j.i;
	return;
fail:
	ctx->have_anchor = 0;
	ctx->no_lines = 1;
}

static int
plan_parse_mailboxes(struct plan_ctx *ctx, const cJSON *arr, struct plan *p)
{
	const cJSON *it;
	size_t count, i = 0;

	if (!cJSON_IsArray(arr))
		return plan_fail(ctx, 0, "expected an array of objects, found %s",
		    util_json_type(arr));
	count = (size_t)cJSON_GetArraySize(arr);
	p->mailboxes = xcalloc(count + 1, sizeof(*p->mailboxes));
	plan_anchor_first(ctx);
	for (it = arr->child; it != NULL; it = it->next, i++) {
		plan_push_index(ctx, i);
		p->n_mailboxes = i + 1; /* so plan_free sees a half-filled entry */
		if (plan_parse_mailbox(ctx, it, i, p, &p->mailboxes[i]) != 0)
			return -1;
		plan_pop(ctx);
		plan_anchor_next(ctx);
	}
	ctx->have_anchor = 0;
	return 0;
}

struct plan_dup {
	const char *user;
	size_t index;
};

static int
plan_dup_cmp(const void *a, const void *b)
{
	const struct plan_dup *x = a, *y = b;
	int c = strcasecmp(x->user, y->user);

	if (c != 0)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Reject a source_user listed twice (case-insensitively); names the earliest repeat. */
static int
plan_check_duplicates(const struct plan_mailbox *mbs, size_t n, char **err)
{
	struct plan_dup *d;
	size_t i, first = 0, later = (size_t)-1, group = 0;
	char *echo;

	if (n < 2)
		return 0;
	d = xmalloc(n * sizeof(*d));
	for (i = 0; i < n; i++) {
		d[i].user = mbs[i].source_user != NULL ? mbs[i].source_user : "";
		d[i].index = i;
	}
	qsort(d, n, sizeof(*d), plan_dup_cmp);
	for (i = 1; i < n; i++) {
		if (strcasecmp(d[i].user, d[i - 1].user) != 0) {
			group = i;
			continue;
		}
		if (d[i].index < later) {
			later = d[i].index;
			first = d[group].index;
		}
	}
	free(d);
	if (later == (size_t)-1)
		return 0;
	echo = plan_echo(mbs[later].source_user);
	*err = xasprintf("%s: source_user \"%s\" is listed twice (first at %s)", mbs[later].origin,
	    echo, mbs[first].origin);
	free(echo);
	return -1;
}

/* "folder_map": {"Old/Name": "New/Name", "Junk": null}. */
static int
plan_parse_folder_map(struct plan_ctx *ctx, const cJSON *obj, struct plan_sync *ps)
{
	size_t n = 0;

	if (!cJSON_IsObject(obj))
		return plan_fail(ctx, 0, "expected an object (source folder -> destination folder "
		    "or null), found %s", util_json_type(obj));
	for (const cJSON *it = obj->child; it != NULL; it = it->next)
		n++;
	ps->folder_map = xcalloc(n ? n : 1, sizeof(*ps->folder_map));
	for (const cJSON *it = obj->child; it != NULL; it = it->next) {
		const char *name = it->string != NULL ? it->string : "";
		struct plan_folder_map *e;

		plan_push_key(ctx, name);
		if (name[0] == '\0')
			return plan_fail(ctx, 0, "empty source folder name");
		for (size_t k = 0; k < ps->n_folder_map; k++)
			if (strcmp(ps->folder_map[k].from, name) == 0)
				return plan_fail(ctx, 0, "duplicate key");
		if (!cJSON_IsNull(it) && !cJSON_IsString(it))
			return plan_fail(ctx, 0, "expected a destination folder name or null (leave "
			    "the folder out), found %s", util_json_type(it));
		e = &ps->folder_map[ps->n_folder_map];
		if (cJSON_IsString(it)) {
			const char *v = it->valuestring != NULL ? it->valuestring : "";

			if (v[0] == '\0' || v[0] == '/' || v[strlen(v) - 1] == '/' ||
			    strstr(v, "//") != NULL)
				return plan_fail(ctx, 0, "not a folder name (levels separated by one "
				    "'/', none empty)");
			e->to = xstrdup(v);
		}
		e->from = xstrdup(name);
		e->at = plan_where(ctx, 0);
		ps->n_folder_map++;
		plan_pop(ctx);
	}
	return 0;
}

static int
plan_parse_sync(struct plan_ctx *ctx, const cJSON *obj, struct plan_sync *ps)
{
	const cJSON *f[SYNC_NKEYS];

	if (plan_members(ctx, obj, plan_sync_keys, SYNC_NKEYS, f) != 0)
		return -1;
	if (f[SYNC_FOLDER_MAP] != NULL) {
		plan_push_key(ctx, "folder_map");
		if (plan_parse_folder_map(ctx, f[SYNC_FOLDER_MAP], ps) != 0)
			return -1;
		plan_pop(ctx);
	}
	if (f[SYNC_FOLDERS] != NULL) {
		plan_push_key(ctx, "folders");
		if (plan_string_array(ctx, f[SYNC_FOLDERS], NULL, NULL, &ps->folders,
		        &ps->n_folders) != 0)
			return -1;
		plan_pop(ctx);
	}
	if (f[SYNC_EXCLUDE] != NULL) {
		plan_push_key(ctx, "exclude");
		if (plan_string_array(ctx, f[SYNC_EXCLUDE], NULL, NULL, &ps->exclude,
		        &ps->n_exclude) != 0)
			return -1;
		plan_pop(ctx);
	}
	if (f[SYNC_SINCE] != NULL) {
		plan_push_key(ctx, "since");
		if (plan_string(ctx, f[SYNC_SINCE], &ps->since) != 0)
			return -1;
		if (plan_parse_day(ps->since, &ps->since_t) != 0)
			return plan_fail(ctx, 0, "expected a day as YYYY-MM-DD (2019-01-01)");
		plan_pop(ctx);
	}
	if (f[SYNC_DELETE] != NULL) {
		plan_push_key(ctx, "delete");
		if (!cJSON_IsBool(f[SYNC_DELETE]))
			return plan_fail(ctx, 0, "expected true or false, found %s",
			    util_json_type(f[SYNC_DELETE]));
		ps->delete_vanished = cJSON_IsTrue(f[SYNC_DELETE]);
		ps->has_delete = 1;
		plan_pop(ctx);
	}
	return 0;
}

int
plan_parse_day(const char *s, int64_t *out)
{
	struct tm tm, back;
	int v[3] = {0, 0, 0};
	static const int width[3] = {4, 2, 2};
	size_t o = 0;
	time_t t;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (int k = 0; k < 3; k++, o++) {
		for (int i = 0; i < width[k]; i++, o++) {
			if (!isdigit((unsigned char)s[o]))
				return -1;
			v[k] = v[k] * 10 + (s[o] - '0');
		}
	}
	if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	t = timegm(&tm);
	/* timegm moves 2019-02-30 to March 2: refuse a day it moved. */
	if (gmtime_r(&t, &back) == NULL || back.tm_mday != v[2] || back.tm_mon != v[1] - 1)
		return -1;
	*out = (int64_t)t;
	return 0;
}

static int
plan_fill(struct plan_ctx *ctx, const cJSON *root, struct plan *p)
{
	const cJSON *f[TOP_NKEYS];
	char *s = NULL;
	size_t len;

	if (!cJSON_IsObject(root))
		return plan_fail(ctx, 0, "the plan must be a JSON object, found %s",
		    util_json_type(root));
	if (plan_members(ctx, root, plan_top_keys, TOP_NKEYS, f) != 0)
		return -1;

	plan_push_key(ctx, "domain");
	if (f[TOP_DOMAIN] == NULL)
		return plan_fail(ctx, 1, "missing (the domain being migrated, \"example.com\")");
	if (plan_string(ctx, f[TOP_DOMAIN], &p->domain) != 0)
		return -1;
	if (!util_hostname_ok(p->domain, 0))
		return plan_fail(ctx, 0, "not a valid domain name (international names: use the "
					 "xn-- form)");
	len = strlen(p->domain);
	if (p->domain[len - 1] == '.')
		p->domain[len - 1] = '\0';
	plan_pop(ctx);

	if (f[TOP_RESOLVERS] != NULL) {
		plan_push_key(ctx, "resolvers");
		if (plan_string_array(ctx, f[TOP_RESOLVERS], plan_resolver_ok,
			"not an IP address (ADDR, ADDR:PORT or [IPV6]:PORT)", &p->resolvers,
			&p->n_resolvers) != 0)
			return -1;
		plan_pop(ctx);
	}
	if (f[TOP_PUBLIC_RESOLVERS] != NULL) {
		plan_push_key(ctx, "public_resolvers");
		if (plan_string_array(ctx, f[TOP_PUBLIC_RESOLVERS], plan_resolver_ok,
			"not an IP address (ADDR, ADDR:PORT or [IPV6]:PORT)", &p->public_resolvers,
			&p->n_public_resolvers) != 0)
			return -1;
		plan_pop(ctx);
	}
	if (f[TOP_CA_FILE] != NULL) {
		plan_push_key(ctx, "ca_file");
		if (plan_string(ctx, f[TOP_CA_FILE], &s) != 0)
			return -1;
		p->ca_file = plan_join(p->dir, s);
		free(s);
		s = NULL;
		plan_pop(ctx);
	}
	if (f[TOP_SOURCE] != NULL) {
		plan_push_key(ctx, "source");
		if (plan_parse_side(ctx, f[TOP_SOURCE], &p->source) != 0)
			return -1;
		plan_pop(ctx);
	}
	if (f[TOP_DESTINATION] != NULL) {
		plan_push_key(ctx, "destination");
		if (plan_parse_side(ctx, f[TOP_DESTINATION], &p->destination) != 0)
			return -1;
		plan_pop(ctx);
	}
	plan_push_key(ctx, "expect");
	if (plan_parse_expect(ctx, f[TOP_EXPECT], p) != 0)
		return -1;
	plan_pop(ctx);
	if (f[TOP_MAILBOXES] != NULL) {
		plan_push_key(ctx, "mailboxes");
		if (plan_parse_mailboxes(ctx, f[TOP_MAILBOXES], p) != 0)
			return -1;
		plan_pop(ctx);
	}
	if (f[TOP_MAILBOXES_CSV] != NULL) {
		plan_push_key(ctx, "mailboxes_csv");
		if (plan_string(ctx, f[TOP_MAILBOXES_CSV], &s) != 0)
			return -1;
		p->mailboxes_csv = plan_join(p->dir, s);
		free(s);
		s = NULL;
		p->mailboxes_csv_at = plan_where(ctx, 0);
		plan_pop(ctx);
	}
	if (f[TOP_STATE_DIR] != NULL) {
		plan_push_key(ctx, "state_dir");
		if (plan_string(ctx, f[TOP_STATE_DIR], &s) != 0)
			return -1;
		p->state_dir = plan_join(p->dir, s);
		free(s);
		plan_pop(ctx);
	} else {
		p->state_dir = plan_join(p->dir, ".cutover");
	}
	if (f[TOP_SYNC] != NULL) {
		plan_push_key(ctx, "sync");
		if (plan_parse_sync(ctx, f[TOP_SYNC], &p->sync) != 0)
			return -1;
		plan_pop(ctx);
	}
	return plan_check_duplicates(p->mailboxes, p->n_mailboxes, &ctx->err);
}

/* Overwrite every string value of the tree (it held the plan's secrets). */
static void
plan_json_wipe(cJSON *item)
{
	for (; item != NULL; item = item->next) {
		if (item->valuestring != NULL)
			explicit_bzero(item->valuestring, strlen(item->valuestring));
		if (item->child != NULL)
			plan_json_wipe(item->child);
	}
}

static struct plan *
plan_new(const char *path)
{
	struct plan *p = xcalloc(1, sizeof(*p));

	p->path = xstrdup(path != NULL ? path : "plan");
	p->dir = path != NULL ? plan_dirname(path) : xstrdup(".");
	p->source.name = "source";
	p->destination.name = "destination";
	p->source.imap_other_port = p->source.pop3_other_port = -1;
	p->destination.imap_other_port = p->destination.pop3_other_port = -1;
	plan_limits_unset(&p->source.limits);
	plan_limits_unset(&p->destination.limits);
	return p;
}

int
plan_parse(const char *text, size_t len, const char *path, struct plan **out, char **err)
{
	struct plan_ctx ctx;
	struct plan_js js;
	struct plan *p = NULL;
	cJSON *root = NULL;
	char *buf = NULL;
	const char *end = NULL;
	size_t line, col;
	int rc = -1;

	*out = NULL;
	*err = NULL;
	memset(&ctx, 0, sizeof(ctx));
	ctx.text = text;
	ctx.len = len;
	ctx.file = path != NULL ? path : "plan";

	memset(&js, 0, sizeof(js));
	js.s = text;
	js.n = len;
	if (plan_js_document(&js) != 0) {
		plan_linecol(text, len, js.epos, &line, &col);
		ctx.err = xasprintf("%s:%zu:%zu: syntax error: %s", ctx.file, line, col, js.emsg);
		goto out;
	}
	/* cJSON gets a NUL-terminated copy: it must never read past our buffer. */
	buf = xmalloc(len + 1);
	memcpy(buf, text, len);
	buf[len] = '\0';
	root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (root == NULL) {
		size_t pos = end != NULL && end >= buf ? (size_t)(end - buf) : 0;

		plan_linecol(text, len, pos, &line, &col);
		ctx.err = xasprintf("%s:%zu:%zu: syntax error: value cannot be read", ctx.file,
		    line, col);
		goto out;
	}
	p = plan_new(path);
	if (plan_fill(&ctx, root, p) != 0)
		goto out;
	*out = p;
	p = NULL; /* transferred */
	rc = 0;
out:
	if (rc != 0) {
		*err = ctx.err != NULL ? ctx.err : xstrdup("plan: invalid");
		ctx.err = NULL;
	}
	free(ctx.err);
	plan_free(p);
	if (root != NULL) {
		plan_json_wipe(root);
		cJSON_Delete(root);
	}
	plan_wipe_free(buf, len + 1);
	return rc;
}

/* ---- mailbox CSV (RFC 4180) ----------------------------------------------------- */

enum { COL_SOURCE_USER, COL_SOURCE_PASSWORD, COL_DEST_USER, COL_DEST_PASSWORD, COL_N };

struct plan_csv {
	const char *base;         /* the data as given (for byte offsets) */
	const char *s;            /* the text parsed: after a BOM, UTF-8 */
	size_t n;
	size_t i;
	size_t line;              /* physical line at i */
	const char *path;
	char **fields;            /* current record */
	size_t nf;
	size_t cap;
	size_t rec_line;          /* line the current record starts on */
	int ncols;                /* header columns, 0 while reading the header */
	int col_of[COL_N];        /* header position of each known column */
	char sep;                 /* field separator: ',', ';' or '\t' (sniffed) */
	char *warn;               /* warnings so far, '\n'-separated, or NULL */
};

/*
 * Header names the sheet may use, case-insensitive: ours, and the Microsoft
 * 365 IMAP migration batch (EmailAddress = the Microsoft 365 mailbox, i.e. our
 * destination; UserName/Password = the login at the source).
 */
static const struct {
	const char *name;
	int col;
} plan_csv_names[] = {
	{"source_user", COL_SOURCE_USER}, {"source_password", COL_SOURCE_PASSWORD},
	{"dest_user", COL_DEST_USER}, {"dest_password", COL_DEST_PASSWORD},
	{"EmailAddress", COL_DEST_USER}, {"UserName", COL_SOURCE_USER},
	{"Password", COL_SOURCE_PASSWORD},
};

/* "comma", "semicolon" or "tab". */
static const char *
plan_csv_sepname(char sep)
{
	return sep == ';' ? "semicolon" : sep == '\t' ? "tab" : "comma";
}

/* Append a line to c->warn. */
static void
plan_csv_warn(struct plan_csv *c, char *line)
{
	char *w;

	if (c->warn == NULL) {
		c->warn = line;
		return;
	}
	w = xasprintf("%s\n%s", c->warn, line);
	free(c->warn);
	free(line);
	c->warn = w;
}

static void
plan_csv_clear_fields(struct plan_csv *c)
{
	size_t k;

	for (k = 0; k < c->nf; k++)
		util_free_secret(c->fields[k]);
	c->nf = 0;
}

/* Name of field K of a record, for messages. Caller frees. */
static char *
plan_csv_colname(const struct plan_csv *c, size_t k)
{
	int col;

	for (col = 0; col < COL_N && c->ncols > 0; col++)
		if ((size_t)c->col_of[col] == k)
			return xstrdup(plan_mailbox_keys[col]);
	return xasprintf("column %zu", k + 1);
}

static int
plan_csv_fail(struct plan_csv *c, char **err, size_t line, size_t field, const char *msg)
{
	char *name = plan_csv_colname(c, field);

	*err = xasprintf("%s:%zu: %s: %s", c->path, line, name, msg);
	free(name);
	return -1;
}

/* Line break at I? Returns its length (1 or 2) or 0. */
static size_t
plan_csv_eol(const struct plan_csv *c, size_t i)
{
	if (i >= c->n)
		return 0;
	if (c->s[i] == '\n')
		return 1;
	if (c->s[i] == '\r')
		return (i + 1 < c->n && c->s[i + 1] == '\n') ? 2 : 1;
	return 0;
}

/*
 * Next record into c->fields. Blank lines (empty or only spaces and tabs) are
 * skipped. Returns 1 with a record, 0 at the end, -1 with *ERR.
 */
static int
plan_csv_record(struct plan_csv *c, char **err)
{
	plan_csv_clear_fields(c);
	for (;;) {
		size_t k = c->i, e;

		if (c->i >= c->n)
			return 0;
		while (k < c->n && (c->s[k] == ' ' || c->s[k] == '\t'))
			k++;
		e = plan_csv_eol(c, k);
		if (k < c->n && e == 0)
			break;
		c->i = k + e;
		c->line++;
	}
	c->rec_line = c->line;
	for (;;) {
		size_t start = c->i, k, o = 0, e;
		char *field;

		if (c->i < c->n && c->s[c->i] == '"') {
			size_t qline = c->line;

			/* find the closing quote; "" is an escaped quote */
			k = c->i + 1;
			for (;;) {
				if (k >= c->n)
					return plan_csv_fail(c, err, qline, c->nf,
					    "quoted field is never closed (the quote opens here)");
				if (c->s[k] == '"') {
					if (k + 1 < c->n && c->s[k + 1] == '"') {
						k += 2;
						continue;
					}
					break;
				}
				if (c->s[k] == '\n' || (c->s[k] == '\r' && plan_csv_eol(c, k) == 1))
					c->line++;
				k++;
			}
			field = xmalloc(k - start);
			for (e = start + 1; e < k; e++) {
				field[o++] = c->s[e];
				if (c->s[e] == '"')
					e++;
			}
			field[o] = '\0';
			c->i = k + 1;
			if (c->i < c->n && c->s[c->i] != c->sep && plan_csv_eol(c, c->i) == 0) {
				util_free_secret(field);
				return plan_csv_fail(c, err, c->line, c->nf,
				    "unexpected text after a closing quote (double a quote inside "
				    "a quoted field)");
			}
		} else {
			k = c->i;
			while (k < c->n && c->s[k] != c->sep && plan_csv_eol(c, k) == 0) {
				if (c->s[k] == '"')
					return plan_csv_fail(c, err, c->line, c->nf,
					    "quote inside an unquoted field (quote the whole field "
					    "and double the quote)");
				k++;
			}
			field = xstrndup(c->s + start, k - start);
			o = k - start;
			c->i = k;
		}
		if (memchr(field, '\0', o) != NULL) {
			util_free_secret(field);
			return plan_csv_fail(c, err, c->line, c->nf, "contains a NUL byte");
		}
		if (c->nf == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 8;
			c->fields = xrealloc(c->fields, c->cap * sizeof(*c->fields));
		}
		c->fields[c->nf++] = field;
		if (c->i >= c->n)
			return 1;
		if (c->s[c->i] == c->sep) {
			c->i++;
			continue;
		}
		e = plan_csv_eol(c, c->i);
		c->i += e;
		c->line++;
		return 1;
	}
}

/* Trim spaces and tabs in place. */
static void
plan_trim(char *s)
{
	size_t n = strlen(s), a = 0;

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	while (s[a] == ' ' || s[a] == '\t')
		a++;
	if (a > 0)
		memmove(s, s + a, n - a + 1);
}

/* The column a header name stands for, or -1. */
static int
plan_csv_known(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(plan_csv_names) / sizeof(plan_csv_names[0]); i++)
		if (util_strieq(name, plan_csv_names[i].name))
			return plan_csv_names[i].col;
	return -1;
}

/*
 * Map the header record to columns. A name close to a known column that is
 * not there yet is an error (a typo would otherwise drop a column silently);
 * any other unknown column is ignored with one warning naming them all.
 * The user columns are required; a missing password column reads as empty
 * cells (an admin login, or the destination's own migration credentials).
 */
static int
plan_csv_header(struct plan_csv *c, char **err)
{
	char *ignored = NULL, *next, *echo;
	size_t k, n_ignored = 0;
	int col, known = 0;

	for (col = 0; col < COL_N; col++)
		c->col_of[col] = -1;
	for (k = 0; k < c->nf; k++) {
		plan_trim(c->fields[k]);
		if (plan_csv_known(c->fields[k]) >= 0)
			known++;
	}
	if (known == 0) {
		*err = xasprintf("%s:%zu: the first line must be the header "
				 "source_user,source_password,dest_user,dest_password (or Microsoft "
				 "365's EmailAddress,UserName,Password)",
		    c->path, c->rec_line);
		return -1;
	}
	for (k = 0; k < c->nf; k++) {
		int hit = plan_csv_known(c->fields[k]);

		if (hit < 0)
			continue;
		if (c->col_of[hit] >= 0) {
			*err = xasprintf("%s:%zu: column %s appears twice", c->path, c->rec_line,
			    plan_mailbox_keys[hit]);
			return -1;
		}
		c->col_of[hit] = (int)k;
	}
	for (k = 0; k < c->nf; k++) {
		int s;

		if (plan_csv_known(c->fields[k]) >= 0)
			continue;
		s = plan_suggest(c->fields[k], plan_mailbox_keys, COL_N);
		echo = plan_echo(c->fields[k]);
		if (s >= 0 && c->col_of[s] < 0) {
			*err = xasprintf("%s:%zu: unknown column \"%s\" (did you mean \"%s\"?)", c->path,
			    c->rec_line, echo, plan_mailbox_keys[s]);
			free(echo);
			free(ignored);
			return -1;
		}
		next = xasprintf("%s%s\"%s\"", ignored ? ignored : "", ignored ? ", " : "", echo);
		free(ignored);
		free(echo);
		ignored = next;
		n_ignored++;
	}
	for (col = 0; col < COL_N; col++) {
		if (c->col_of[col] < 0 && (col == COL_SOURCE_USER || col == COL_DEST_USER)) {
			*err = xasprintf("%s:%zu: missing column %s", c->path, c->rec_line,
			    plan_mailbox_keys[col]);
			free(ignored);
			return -1;
		}
	}
	if (ignored != NULL)
		plan_csv_warn(c, xasprintf("%s:%zu: ignoring %s %s (cutover reads source_user, "
					   "source_password, dest_user, dest_password)",
				     c->path, c->rec_line, n_ignored == 1 ? "column" : "columns",
				     ignored));
	free(ignored);
	c->ncols = (int)c->nf;
	return 0;
}

/* Fill MB from the current record (field count already checked). */
static int
plan_csv_row(struct plan_csv *c, struct plan_mailbox *mb, char **err)
{
	char **user[2] = {&mb->source_user, &mb->dest_user};
	char **pass[2] = {&mb->source_password, &mb->dest_password};
	char **pass_at[2] = {&mb->source_password_at, &mb->dest_password_at};
	const int ucol[2] = {COL_SOURCE_USER, COL_DEST_USER};
	const int pcol[2] = {COL_SOURCE_PASSWORD, COL_DEST_PASSWORD};
	const char *why;
	size_t s;

	mb->origin = xasprintf("%s:%zu", c->path, c->rec_line);
	for (s = 0; s < 2; s++) {
		size_t uk = (size_t)c->col_of[ucol[s]], pk;

		plan_trim(c->fields[uk]);
		why = plan_user_syntax(c->fields[uk]);
		if (why != NULL)
			return plan_csv_fail(c, err, c->rec_line, uk, why);
		*user[s] = c->fields[uk];
		c->fields[uk] = xstrdup(""); /* transferred */
		*pass_at[s] = xasprintf("%s:%zu: %s", c->path, c->rec_line,
		    plan_mailbox_keys[pcol[s]]);
		if (c->col_of[pcol[s]] < 0)
			continue;
		pk = (size_t)c->col_of[pcol[s]];
		if (c->fields[pk][0] == '\0')
			continue;
		why = plan_secret_syntax(c->fields[pk]);
		if (why != NULL)
			return plan_csv_fail(c, err, c->rec_line, pk, why);
		*pass[s] = c->fields[pk];
		c->fields[pk] = xstrdup(""); /* transferred */
	}
	return 0;
}

void
plan_mailbox_clear(struct plan_mailbox *mb)
{
	if (mb == NULL)
		return;
	free(mb->source_user);
	util_free_secret(mb->source_password);
	free(mb->dest_user);
	util_free_secret(mb->dest_password);
	free(mb->origin);
	free(mb->source_password_at);
	free(mb->dest_password_at);
	memset(mb, 0, sizeof(*mb));
}

const char *
plan_mailbox_label(const struct plan_mailbox *mb)
{
	return mb->source_user != NULL ? mb->source_user : "";
}

/* Line (1-based) of byte offset AT in S. */
static size_t
plan_csv_line_of(const char *s, size_t at)
{
	size_t line = 1, i;

	for (i = 0; i < at; i++)
		if (s[i] == '\n' || (s[i] == '\r' && (i + 1 >= at || s[i + 1] != '\n')))
			line++;
	return line;
}

/*
 * Convert LEN bytes of S from FROM to UTF-8 with iconv. Returns a new
 * NUL-terminated buffer (caller wipes and frees) with its length in *OUTLEN, or
 * NULL with the offset of the first byte FROM does not define in *BAD.
 */
static char *
plan_csv_iconv(const char *from, const char *s, size_t len, size_t *outlen, size_t *bad)
{
	iconv_t cd = iconv_open("UTF-8", from);
	/* UTF-8 stays as long; a Windows-1252 byte becomes at most 3 bytes */
	size_t cap = (strcmp(from, "UTF-8") == 0 ? len : len * 3) + 1, left_in = len,
	       left_out = cap;
	char *out, *ip = (char *)s, *op;

	if (cd == (iconv_t)-1) {
		*bad = 0;
		return NULL;
	}
	out = xmalloc(cap + 1);
	op = out;
	if (iconv(cd, &ip, &left_in, &op, &left_out) == (size_t)-1) {
		*bad = (size_t)(ip - s);
		iconv_close(cd);
		plan_wipe_free(out, cap + 1);
		return NULL;
	}
	iconv_close(cd);
	*op = '\0';
	*outlen = (size_t)(op - out);
	return out;
}

/*
 * A sheet must end up UTF-8 (reports promise it). A file that is not UTF-8 is
 * what Excel's plain "CSV" writes on Windows: read it as Windows-1252 with a
 * warning; a byte that Windows-1252 does not define either is refused. Returns
 * 0 with *CONV NULL (already UTF-8) or a converted copy, -1 with *ERR.
 */
static int
plan_csv_decode(struct plan_csv *c, char **conv, size_t *convlen, char **err)
{
	size_t bad = 0, bad2 = 0, n;
	char *copy;

	*conv = NULL;
	copy = plan_csv_iconv("UTF-8", c->s, c->n, &n, &bad);
	if (copy != NULL) {
		plan_wipe_free(copy, n + 1);
		return 0;
	}
	*conv = plan_csv_iconv("WINDOWS-1252", c->s, c->n, convlen, &bad2);
	if (*conv == NULL) {
		*err = xasprintf("%s:%zu: byte %zu (0x%02x) is neither UTF-8 nor Windows-1252; save "
				 "the sheet as \"CSV UTF-8\"",
		    c->path, plan_csv_line_of(c->s, bad2), bad2 + 1 + (size_t)(c->s - c->base),
		    (unsigned char)c->s[bad2]);
		return -1;
	}
	plan_csv_warn(c, xasprintf("%s:%zu: not UTF-8 (byte %zu is 0x%02x); read as "
				   "Windows-1252 (save the sheet as \"CSV UTF-8\" to avoid this)",
			     c->path, plan_csv_line_of(c->s, bad), bad + 1 + (size_t)(c->s - c->base),
			     (unsigned char)c->s[bad]));
	return 0;
}

/*
 * The field separator: whichever of comma, semicolon and tab the first
 * non-blank line (the header) holds most of outside quotes; comma on a tie.
 * Excel writes semicolons where the decimal mark is a comma.
 */
static char
plan_csv_sniff(const struct plan_csv *c)
{
	size_t i = c->i, comma = 0, semi = 0, tab = 0;
	int quoted = 0, seen = 0;

	for (; i < c->n; i++) {
		char ch = c->s[i];

		if (ch == '"')
			quoted = !quoted;
		else if (!quoted && (ch == '\n' || ch == '\r')) {
			if (seen)
				break;
		} else if (!quoted && ch == ',')
			comma++;
		else if (!quoted && ch == ';')
			semi++;
		else if (!quoted && ch == '\t')
			tab++;
		if (ch != '\n' && ch != '\r' && ch != ' ' && ch != '\t')
			seen = 1;
	}
	if (semi > comma && semi >= tab)
		return ';';
	if (tab > comma && tab > semi)
		return '\t';
	return ',';
}

int
plan_csv_parse(const char *data, size_t len, const char *path, struct plan_mailbox **out,
    size_t *n, char **warn, char **err)
{
	struct plan_csv c;
	struct plan_mailbox *mbs = NULL;
	char *conv = NULL;
	size_t count = 0, cap = 0, k, convlen = 0;
	int r, rc = -1;

	*out = NULL;
	*n = 0;
	*err = NULL;
	if (warn != NULL)
		*warn = NULL;
	memset(&c, 0, sizeof(c));
	c.s = data;
	c.base = data;
	c.n = len;
	c.line = 1;
	c.sep = ',';
	c.path = path != NULL ? path : "mailboxes.csv";
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
		c.s += 3;
		c.n -= 3;
	}
	if (plan_csv_decode(&c, &conv, &convlen, err) != 0)
		goto out;
	if (conv != NULL) {
		c.s = conv;
		c.n = convlen;
	}
	c.sep = plan_csv_sniff(&c);
	r = plan_csv_record(&c, err);
	if (r < 0)
		goto out;
	if (r == 0) {
		*err = xasprintf("%s: empty file (expected the header "
				 "source_user,source_password,dest_user,dest_password)",
		    c.path);
		goto out;
	}
	if (plan_csv_header(&c, err) != 0)
		goto out;
	for (;;) {
		r = plan_csv_record(&c, err);
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		if (c.nf != (size_t)c.ncols) {
			if (c.nf < (size_t)c.ncols) {
				char *name = plan_csv_colname(&c, c.nf);

				*err = xasprintf("%s:%zu: expected %d fields, found %zu (%s is missing)",
				    c.path, c.rec_line, c.ncols, c.nf, name);
				free(name);
			} else {
				*err = xasprintf("%s:%zu: expected %d fields, found %zu (a %s "
						 "in a value needs quotes)",
				    c.path, c.rec_line, c.ncols, c.nf, plan_csv_sepname(c.sep));
			}
			goto out;
		}
		if (count == cap) {
			cap = cap ? cap * 2 : 16;
			mbs = xrealloc(mbs, cap * sizeof(*mbs));
		}
		memset(&mbs[count], 0, sizeof(*mbs));
		count++;
		if (plan_csv_row(&c, &mbs[count - 1], err) != 0)
			goto out;
	}
	*out = mbs;
	*n = count;
	mbs = NULL; /* transferred */
	if (warn != NULL) {
		*warn = c.warn;
		c.warn = NULL; /* transferred */
	}
	rc = 0;
out:
	if (rc != 0 && *err != NULL && c.sep != ',') {
		/* every message names the separator the sheet was read with */
		char *e = xasprintf("%s (fields separated by %ss)", *err, plan_csv_sepname(c.sep));

		free(*err);
		*err = e;
	}
	if (mbs != NULL) {
		for (k = 0; k < count; k++)
			plan_mailbox_clear(&mbs[k]);
		free(mbs);
	}
	plan_csv_clear_fields(&c);
	free(c.fields);
	free(c.warn);
	if (conv != NULL)
		plan_wipe_free(conv, convlen + 1);
	return rc;
}

/* ---- secrets and files -------------------------------------------------------- */

/*
 * Read the whole file at PATH (at most MAX bytes) into *OUT (NUL-terminated,
 * caller frees) and *LEN. Returns 0, -1 with errno set, or -2 when too large.
 */
static int
plan_read_file(const char *path, size_t max, char **out, size_t *len)
{
	char *buf = NULL;
	size_t used = 0, cap = 0;
	ssize_t r;
	int fd, saved;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (;;) {
		if (used == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *nbuf;

			if (cap > max)
				break;
			/* grow by copying so no unwiped copy of a secret is left behind */
			nbuf = xmalloc(ncap + 1);
			if (buf != NULL)
				memcpy(nbuf, buf, used);
			plan_wipe_free(buf, cap + 1);
			buf = nbuf;
			cap = ncap;
		}
		r = read(fd, buf + used, cap - used);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			saved = errno;
			close(fd);
			plan_wipe_free(buf, cap + 1);
			errno = saved;
			return -1;
		}
		if (r == 0)
			break;
		used += (size_t)r;
	}
	close(fd);
	if (used > max) {
		plan_wipe_free(buf, cap + 1);
		return -2;
	}
	buf[used] = '\0';
	*out = buf;
	*len = used;
	return 0;
}

/* Resolve one password reference in place; AT names the field in messages. */
static int
plan_secret_resolve(char **secret, const char *at, const char *dir, char **err)
{
	const char *v = *secret;

	if (v == NULL)
		return 0;
	if (strncmp(v, "env:", 4) == 0) {
		const char *val = getenv(v + 4);

		if (val == NULL) {
			*err = xasprintf("%s: environment variable %s is not set", at, v + 4);
			return -1;
		}
		if (val[0] == '\0') {
			*err = xasprintf("%s: environment variable %s is empty", at, v + 4);
			return -1;
		}
		util_free_secret(*secret);
		*secret = xstrdup(val);
		return 0;
	}
	if (strncmp(v, "file:", 5) == 0) {
		char *path = plan_join(dir, v + 5), *data = NULL;
		size_t len, line;
		int r = plan_read_file(path, PLAN_SECRET_FILE_MAX, &data, &len);

		if (r == -1) {
			*err = xasprintf("%s: cannot read %s: %s", at, path, strerror(errno));
			free(path);
			return -1;
		}
		if (r == -2) {
			*err = xasprintf("%s: %s is larger than %d bytes", at, path,
			    PLAN_SECRET_FILE_MAX);
			free(path);
			return -1;
		}
		line = strcspn(data, "\r\n");
		if (line == 0 || memchr(data, '\0', line) != NULL) {
			*err = xasprintf("%s: %s: the first line is empty", at, path);
			free(path);
			plan_wipe_free(data, len + 1);
			return -1;
		}
		free(path);
		util_free_secret(*secret);
		*secret = xstrndup(data, line);
		plan_wipe_free(data, len + 1);
		return 0;
	}
	return 0;
}

int
plan_read_sheet(struct plan *p, char **err)
{
	struct plan_mailbox *rows = NULL;
	char *data = NULL, *warn = NULL;
	size_t len = 0, nrows = 0;
	int r;

	*err = NULL;
	if (p->sheet_read)
		return 0;
	if (p->mailboxes_csv != NULL) {
		const char *at = p->mailboxes_csv_at ? p->mailboxes_csv_at : p->path;

		r = plan_read_file(p->mailboxes_csv, PLAN_MAX_FILE_BYTES, &data, &len);
		if (r == -1) {
			*err = xasprintf("%s: cannot read %s: %s", at, p->mailboxes_csv,
			    strerror(errno));
			return -1;
		}
		if (r == -2) {
			*err = xasprintf("%s: %s is larger than %u bytes", at, p->mailboxes_csv,
			    PLAN_MAX_FILE_BYTES);
			return -1;
		}
		r = plan_csv_parse(data, len, p->mailboxes_csv, &rows, &nrows, &warn, err);
		plan_wipe_free(data, len + 1);
		if (r != 0)
			return -1;
		p->warnings = warn;
		p->mailboxes = xrealloc(p->mailboxes,
		    (p->n_mailboxes + nrows + 1) * sizeof(*p->mailboxes));
		if (nrows > 0)
			memcpy(p->mailboxes + p->n_mailboxes, rows, nrows * sizeof(*rows));
		p->n_mailboxes += nrows;
		free(rows);
	}
	if (plan_check_duplicates(p->mailboxes, p->n_mailboxes, err) != 0)
		return -1;
	p->sheet_read = 1;
	return 0;
}

int
plan_resolve_secrets(struct plan *p, char **err)
{
	struct plan_side *sides[2] = {&p->source, &p->destination};
	size_t i, s;

	*err = NULL;
	if (p->resolved)
		return 0;
	for (i = 0; i < p->n_mailboxes; i++) {
		struct plan_mailbox *mb = &p->mailboxes[i];

		if (mb->source_password == NULL && p->source.admin == NULL) {
			*err = xasprintf("%s: source_password: empty (and source has no \"admin\" "
					 "to log in with)", mb->origin);
			return -1;
		}
		if (mb->dest_password == NULL && p->destination.admin == NULL) {
			*err = xasprintf("%s: dest_password: empty (and destination has no "
					 "\"admin\" to log in with)", mb->origin);
			return -1;
		}
	}
	for (s = 0; s < 2; s++) {
		struct plan_admin *a = sides[s]->admin;

		if (a != NULL && plan_secret_resolve(&a->password, a->password_at, p->dir, err) != 0)
			return -1;
	}
	for (i = 0; i < p->n_mailboxes; i++) {
		struct plan_mailbox *mb = &p->mailboxes[i];

		if (plan_secret_resolve(&mb->source_password, mb->source_password_at, p->dir,
			err) != 0)
			return -1;
		if (plan_secret_resolve(&mb->dest_password, mb->dest_password_at, p->dir, err) != 0)
			return -1;
	}
	p->resolved = 1;
	return 0;
}

int
plan_resolve(struct plan *p, char **err)
{
	if (plan_read_sheet(p, err) != 0)
		return -1;
	return plan_resolve_secrets(p, err);
}

int
plan_open(const char *path, struct plan **out, char **err)
{
	struct plan *p = NULL;
	char *text = NULL;
	size_t len = 0;
	int r, rc = -1;

	*out = NULL;
	*err = NULL;
	r = plan_read_file(path, PLAN_MAX_FILE_BYTES, &text, &len);
	if (r == -1) {
		*err = xasprintf("cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	if (r == -2) {
		*err = xasprintf("%s: larger than %u bytes", path, PLAN_MAX_FILE_BYTES);
		goto out;
	}
	if (plan_parse(text, len, path, &p, err) != 0)
		goto out;
	if (plan_read_sheet(p, err) != 0)
		goto out;
	*out = p;
	p = NULL; /* transferred */
	rc = 0;
out:
	plan_free(p);
	plan_wipe_free(text, len + 1);
	return rc;
}

int
plan_load(const char *path, struct plan **out, char **err)
{
	struct plan *p = NULL;

	*out = NULL;
	if (plan_open(path, &p, err) != 0)
		return -1;
	if (plan_resolve_secrets(p, err) != 0) {
		plan_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

static void
plan_side_clear(struct plan_side *side)
{
	free(side->profile_name);
	plan_url_clear(side->imap);
	free(side->imap);
	plan_url_clear(side->pop3);
	free(side->pop3);
	plan_url_clear(side->webmail);
	free(side->webmail);
	if (side->admin != NULL) {
		free(side->admin->user);
		util_free_secret(side->admin->password);
		free(side->admin->password_at);
		free(side->admin);
	}
}

void
plan_free(struct plan *p)
{
	size_t i;

	if (p == NULL)
		return;
	free(p->path);
	free(p->dir);
	free(p->domain);
	plan_free_strings(p->resolvers, p->n_resolvers);
	plan_free_strings(p->public_resolvers, p->n_public_resolvers);
	free(p->ca_file);
	plan_side_clear(&p->source);
	plan_side_clear(&p->destination);
	plan_free_strings(p->expect.mx, p->expect.n_mx);
	plan_free_strings(p->expect.spf_include, p->expect.n_spf_include);
	free(p->expect.autodiscover);
	free(p->expect.verification);
	free(p->expect.go_live);
	for (i = 0; i < p->n_mailboxes; i++)
		plan_mailbox_clear(&p->mailboxes[i]);
	free(p->mailboxes);
	free(p->mailboxes_csv);
	free(p->mailboxes_csv_at);
	free(p->state_dir);
	free(p->warnings);
	for (i = 0; i < p->sync.n_folder_map; i++) {
		free(p->sync.folder_map[i].from);
		free(p->sync.folder_map[i].to);
		free(p->sync.folder_map[i].at);
	}
	free(p->sync.folder_map);
	plan_free_strings(p->sync.folders, p->sync.n_folders);
	plan_free_strings(p->sync.exclude, p->sync.n_exclude);
	free(p->sync.since);
	free(p);
}
