/*
 * csvread.c - the RFC 4180 record reader; see csvread.h.
 */
#include "csvread.h"

#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"
#include "util.h"

/* Record a failure of the current record. Returns -1. */
static int
csvread_fail(struct csvread *c, size_t line, size_t field, const char *msg)
{
	c->err_line = line;
	c->err_field = field;
	c->err_msg = msg;
	return -1;
}

void
csvread_warn(struct csvread *c, char *line)
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
csvread_clear_fields(struct csvread *c)
{
	size_t k;

	for (k = 0; k < c->nf; k++)
		util_free_secret(c->fields[k]);
	c->nf = 0;
}

/* Line break at I? Returns its length (1 or 2) or 0. */
static size_t
csvread_eol(const struct csvread *c, size_t i)
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
 * skipped.
 */
int
csvread_next(struct csvread *c)
{
	csvread_clear_fields(c);
	for (;;) {
		size_t k = c->i, e;

		if (c->i >= c->n)
			return 0;
		while (k < c->n && (c->s[k] == ' ' || c->s[k] == '\t'))
			k++;
		e = csvread_eol(c, k);
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
					return csvread_fail(c, qline, c->nf,
					    "quoted field is never closed (the quote opens here)");
				if (c->s[k] == '"') {
					if (k + 1 < c->n && c->s[k + 1] == '"') {
						k += 2;
						continue;
					}
					break;
				}
				if (c->s[k] == '\n' || (c->s[k] == '\r' && csvread_eol(c, k) == 1))
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
			if (c->i < c->n && c->s[c->i] != c->sep && csvread_eol(c, c->i) == 0) {
				util_free_secret(field);
				return csvread_fail(c, c->line, c->nf,
				    "unexpected text after a closing quote (double a quote inside "
				    "a quoted field)");
			}
		} else {
			k = c->i;
			while (k < c->n && c->s[k] != c->sep && csvread_eol(c, k) == 0) {
				if (c->s[k] == '"')
					return csvread_fail(c, c->line, c->nf,
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
			return csvread_fail(c, c->line, c->nf, "contains a NUL byte");
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
		e = csvread_eol(c, c->i);
		c->i += e;
		c->line++;
		return 1;
	}
}

void
csvread_trim(char *s)
{
	size_t n = strlen(s), a = 0;

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	while (s[a] == ' ' || s[a] == '\t')
		a++;
	if (a > 0)
		memmove(s, s + a, n - a + 1);
}

/* Line (1-based) of byte offset AT in S. */
static size_t
csvread_line_of(const char *s, size_t at)
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
csvread_iconv(const char *from, const char *s, size_t len, size_t *outlen, size_t *bad)
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
		secret_wipe_free(out, cap + 1);
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
csvread_decode(struct csvread *c, char **conv, size_t *convlen, char **err)
{
	size_t bad = 0, bad2 = 0, n;
	char *copy;

	*conv = NULL;
	copy = csvread_iconv("UTF-8", c->s, c->n, &n, &bad);
	if (copy != NULL) {
		secret_wipe_free(copy, n + 1);
		return 0;
	}
	*conv = csvread_iconv("WINDOWS-1252", c->s, c->n, convlen, &bad2);
	if (*conv == NULL) {
		*err =
		    xasprintf("%s:%zu: byte %zu (0x%02x) is neither UTF-8 nor Windows-1252; save "
		              "the sheet as \"CSV UTF-8\"",
		        c->path, csvread_line_of(c->s, bad2), bad2 + 1 + (size_t)(c->s - c->base),
		        (unsigned char)c->s[bad2]);
		return -1;
	}
	csvread_warn(c,
	    xasprintf("%s:%zu: not UTF-8 (byte %zu is 0x%02x); read as "
	              "Windows-1252 (save the sheet as \"CSV UTF-8\" to avoid this)",
	        c->path, csvread_line_of(c->s, bad), bad + 1 + (size_t)(c->s - c->base),
	        (unsigned char)c->s[bad]));
	return 0;
}

/*
 * The field separator: whichever of comma, semicolon and tab the first
 * non-blank line (the header) holds most of outside quotes; comma on a tie.
 * Excel writes semicolons where the decimal mark is a comma.
 */
static char
csvread_sniff(const struct csvread *c)
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

const char *
csvread_sepname(char sep)
{
	return sep == ';' ? "semicolon" : sep == '\t' ? "tab" : "comma";
}

int
csvread_open(struct csvread *c, const char *data, size_t len, const char *path, char **err)
{
	*err = NULL;
	memset(c, 0, sizeof(*c));
	c->s = data;
	c->base = data;
	c->n = len;
	c->line = 1;
	c->sep = ',';
	c->path = path;
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
		c->s += 3;
		c->n -= 3;
	}
	if (csvread_decode(c, &c->conv, &c->convlen, err) != 0)
		return -1;
	if (c->conv != NULL) {
		c->s = c->conv;
		c->n = c->convlen;
	}
	c->sep = csvread_sniff(c);
	return 0;
}

char *
csvread_take_warnings(struct csvread *c)
{
	char *w = c->warn;

	c->warn = NULL;
	return w;
}

void
csvread_close(struct csvread *c)
{
	csvread_clear_fields(c);
	free(c->fields);
	c->fields = NULL;
	free(c->warn);
	c->warn = NULL;
	if (c->conv != NULL)
		secret_wipe_free(c->conv, c->convlen + 1);
	c->conv = NULL;
}
