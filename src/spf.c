/*
 * spf.c - RFC 7208 SPF: parser, macro expander, check_host(). See spf.h
 * (including why this is not libspf2).
 *
 * The parser follows the ABNF of RFC 7208 section 12 and rejects the whole
 * record on the first syntax error (section 4.6: "If there are any syntax
 * errors anywhere in the record, check_host() returns immediately with the
 * result permerror"). The evaluator is a small state machine: one operation
 * (a TXT fetch, or the lookups of one term) in flight at a time, a stack of
 * frames for include and redirect, and a driver (spf_run) that is safe
 * against DNS callbacks arriving synchronously.
 */
#include "spf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strbuf.h"
#include "util.h"

#define SPF_MAX_DEPTH 24       /* frames: top + includes/redirects */
#define SPF_WALK_MAX_TERMS 60  /* walk mode: stop following after this many */
#define SPF_MACRO_MAX_OUT 4096 /* bound of one expansion */
#define SPF_MAX_PARTS 128      /* labels considered by a transformer */

const char *
spf_result_str(enum spf_result r)
{
	switch (r) {
	case SPF_NONE: return "none";
	case SPF_NEUTRAL: return "neutral";
	case SPF_PASS: return "pass";
	case SPF_FAIL: return "fail";
	case SPF_SOFTFAIL: return "softfail";
	case SPF_TEMPERROR: return "temperror";
	case SPF_PERMERROR: return "permerror";
	}
	return "permerror";
}

static int spf_error_set(struct spf_error *err, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
spf_error_set(struct spf_error *err, size_t pos, const char *fmt, ...)
{
	va_list ap;

	err->pos = pos;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- parser ------------------------------------------------------------- */

int
spf_is_spf_record(const char *text, size_t len)
{
	return len >= 6 && strncasecmp(text, "v=spf1", 6) == 0 && (len == 6 || text[6] == ' ');
}

static int
spf_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
spf_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
spf_alnum(int c)
{
	return spf_alpha(c) || spf_digit(c);
}

/* RFC 7208 section 12: toplabel = ( *alphanum ALPHA *alphanum ) /
 * ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static int
spf_toplabel(const char *s, size_t n)
{
	int alpha = 0, hyphen = 0;

	if (n == 0 || !spf_alnum((unsigned char)s[0]) || !spf_alnum((unsigned char)s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (spf_alpha((unsigned char)s[i]))
			alpha = 1;
		else if (s[i] == '-')
			hyphen = 1;
		else if (!spf_digit((unsigned char)s[i]))
			return 0;
	}
	return alpha || hyphen;
}

static int
spf_macro_letter(int c, int is_exp)
{
	c = tolower(c);
	if (strchr("slodiphv", c) != NULL && c != '\0')
		return 1;
	return is_exp && c != '\0' && strchr("crt", c) != NULL;
}

/*
 * Validate a macro-string (section 7.1) S of N bytes; BASE is its offset for
 * errors. *LAST_MACRO_END (may be NULL) receives the offset just past the last
 * macro-expand, 0 when there is none. Returns 0 or -1 with ERR.
 */
static int
spf_check_macro_string(
    const char *s, size_t n, size_t base, int is_exp, size_t *last_macro_end, struct spf_error *err)
{
	size_t i = 0;

	if (last_macro_end != NULL)
		*last_macro_end = 0;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];

		if (c != '%') {
			/* explanation-string = *( macro-string / SP ) (section 6.2) */
			if ((c < 0x21 || c > 0x7e) && !(is_exp && c == ' '))
				return spf_error_set(err, base + i, "invalid character 0x%02x", c);
			i++;
			continue;
		}
		if (i + 1 >= n)
			return spf_error_set(
			    err, base + i, "'%%' at the end: a literal %% is written %%%%");
		c = (unsigned char)s[i + 1];
		if (c == '%' || c == '_' || c == '-') {
			i += 2;
		} else if (c == '{') {
			size_t j = i + 2, digits = 0;

			if (j >= n || !spf_macro_letter((unsigned char)s[j], is_exp))
				return spf_error_set(err, base + i,
				    j < n && spf_macro_letter((unsigned char)s[j], 1)
				        ? "macro %%{%c} is allowed only in exp= "
				          "text (RFC 7208 section 7.2)"
				        : "unknown macro letter in '%%{%c'",
				    j < n ? s[j] : ' ');
			j++;
			while (j < n && spf_digit((unsigned char)s[j])) {
				if (digits == 0 && s[j] == '0')
					return spf_error_set(err, base + j,
					    "macro transformer digits "
					    "must be nonzero (RFC 7208 section 7.3)");
				digits++;
				j++;
			}
			if (j < n && (s[j] == 'r' || s[j] == 'R'))
				j++;
			while (j < n && strchr(".-+,/_=", s[j]) != NULL && s[j] != '\0')
				j++;
			if (j >= n || s[j] != '}')
				return spf_error_set(err, base + i,
				    "malformed macro (expected "
				    "%%{letter digits r delimiters})");
			i = j + 1;
		} else {
			return spf_error_set(err, base + i,
			    "invalid macro '%%%c' (allowed: %%{...} "
			    "%%%% %%_ %%-)",
			    c >= 0x21 && c <= 0x7e ? c : '?');
		}
		if (last_macro_end != NULL)
			*last_macro_end = i;
	}
	return 0;
}

/* domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand */
static int
spf_check_domain_spec(const char *s, size_t n, size_t base, struct spf_error *err)
{
	size_t last = 0, end = n, dot;

	if (n == 0)
		return spf_error_set(err, base, "empty domain");
	if (spf_check_macro_string(s, n, base, 0, &last, err) != 0)
		return -1;
	if (last == n)
		return 0;
	if (end > last && s[end - 1] == '.')
		end--;
	for (dot = end; dot > last && s[dot - 1] != '.'; dot--)
		;
	if (dot == last || dot == 0)
		return spf_error_set(err, base + last,
		    "domain must end in a dot and a top label "
		    "(a fully qualified name) or a macro");
	if (!spf_toplabel(s + dot, end - dot))
		return spf_error_set(
		    err, base + dot, "invalid top label \"%.*s\"", (int)(end - dot), s + dot);
	return 0;
}

/* Parse a CIDR length of at most MAXDIGITS digits, no leading zero. */
static int
spf_cidr(const char *s, size_t n, size_t maxdigits, int max, size_t base, int *out,
    struct spf_error *err)
{
	int v = 0;

	if (n == 0 || n > maxdigits || (n > 1 && s[0] == '0'))
		return spf_error_set(err, base, "invalid CIDR length \"/%.*s\"", (int)n, s);
	for (size_t i = 0; i < n; i++) {
		if (!spf_digit((unsigned char)s[i]))
			return spf_error_set(err, base, "invalid CIDR length \"/%.*s\"", (int)n, s);
		v = v * 10 + (s[i] - '0');
	}
	if (v > max)
		return spf_error_set(err, base, "CIDR length /%d is larger than %d", v, max);
	*out = v;
	return 0;
}

/* A strict dotted quad (section 12: qnum has no leading zeros). */
static int
spf_ip4(const char *s, size_t n, unsigned char out[4])
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		size_t start = i;
		int v = 0;

		while (i < n && spf_digit((unsigned char)s[i]) && i - start < 3)
			v = v * 10 + (s[i++] - '0');
		if (i == start || v > 255 || (i - start > 1 && s[start] == '0'))
			return -1;
		out[part] = (unsigned char)v;
		if (part < 3) {
			if (i >= n || s[i] != '.')
				return -1;
			i++;
		}
	}
	return i == n ? 0 : -1;
}

int
spf_parse_ip(const char *s, unsigned char out[16])
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	unsigned char buf[16];

	memset(out, 0, 16);
	if (s == NULL)
		return 0;
	if (spf_ip4(s, strlen(s), out) == 0)
		return 4;
	if (inet_pton(AF_INET6, s, buf) != 1)
		return 0;
	if (memcmp(buf, mapped, 12) == 0) {
		memcpy(out, buf + 12, 4);
		return 4;
	}
	memcpy(out, buf, 16);
	return 6;
}

static void
spf_term_clear(struct spf_term *t)
{
	free(t->text);
	free(t->domain_spec);
	free(t->name);
	free(t->value);
}

void
spf_record_free(struct spf_record *rec)
{
	if (rec == NULL)
		return;
	for (size_t i = 0; i < rec->n_terms; i++)
		spf_term_clear(&rec->terms[i]);
	free(rec->terms);
	free(rec);
}

static const struct {
	const char *name;
	enum spf_mech mech;
} spf_mechs[] = {
    {"all", SPF_MECH_ALL},
    {"include", SPF_MECH_INCLUDE},
    {"a", SPF_MECH_A},
    {"mx", SPF_MECH_MX},
    {"ptr", SPF_MECH_PTR},
    {"ip4", SPF_MECH_IP4},
    {"ip6", SPF_MECH_IP6},
    {"exists", SPF_MECH_EXISTS},
};

/* Parse the mechanism in S[0..N) (qualifier already removed) into T. */
static int
spf_parse_mechanism(struct spf_term *t, const char *s, size_t n, size_t base, struct spf_error *err)
{
	size_t nl = 0, cut, rest;
	int known = 0;

	while (nl < n && s[nl] != ':' && s[nl] != '/')
		nl++;
	for (size_t i = 0; i < UTIL_ARRAY_LEN(spf_mechs); i++) {
		if (strlen(spf_mechs[i].name) == nl && strncasecmp(s, spf_mechs[i].name, nl) == 0) {
			t->mech = spf_mechs[i].mech;
			known = 1;
		}
	}
	if (!known)
		return spf_error_set(
		    err, base, "unknown mechanism \"%.*s\"", (int)(nl < 40 ? nl : 40), s);
	rest = nl;
	switch (t->mech) {
	case SPF_MECH_ALL:
		if (rest != n)
			return spf_error_set(err, base + rest, "\"all\" takes no argument");
		return 0;
	case SPF_MECH_INCLUDE:
	case SPF_MECH_EXISTS:
		if (rest == n || s[rest] != ':')
			return spf_error_set(err, base + rest, "\"%s\" needs \":domain\"",
			    t->mech == SPF_MECH_INCLUDE ? "include" : "exists");
		if (spf_check_domain_spec(s + rest + 1, n - rest - 1, base + rest + 1, err) != 0)
			return -1;
		t->domain_spec = xstrndup(s + rest + 1, n - rest - 1);
		return 0;
	case SPF_MECH_PTR:
		if (rest == n)
			return 0;
		if (s[rest] != ':')
			return spf_error_set(err, base + rest, "\"ptr\" takes no CIDR length");
		if (spf_check_domain_spec(s + rest + 1, n - rest - 1, base + rest + 1, err) != 0)
			return -1;
		t->domain_spec = xstrndup(s + rest + 1, n - rest - 1);
		return 0;
	case SPF_MECH_A:
	case SPF_MECH_MX: {
		/* [ ":" domain-spec ] [ dual-cidr-length ], the CIDR part from the end */
		size_t j = n;

		cut = n;
		while (j > rest && spf_digit((unsigned char)s[j - 1]))
			j--;
		if (j < cut && j >= rest + 2 && s[j - 1] == '/' && s[j - 2] == '/') {
			if (spf_cidr(s + j, cut - j, 3, 128, base + j, &t->cidr6, err) != 0)
				return -1;
			cut = j - 2;
		}
		j = cut;
		while (j > rest && spf_digit((unsigned char)s[j - 1]))
			j--;
		if (j < cut && j >= rest + 1 && s[j - 1] == '/') {
			if (spf_cidr(s + j, cut - j, 2, 32, base + j, &t->cidr4, err) != 0)
				return -1;
			cut = j - 1;
		}
		if (rest == cut)
			return 0;
		if (s[rest] != ':')
			return spf_error_set(err, base + rest,
			    "unexpected \"%.*s\" after the "
			    "mechanism name",
			    (int)(cut - rest), s + rest);
		if (spf_check_domain_spec(s + rest + 1, cut - rest - 1, base + rest + 1, err) != 0)
			return -1;
		t->domain_spec = xstrndup(s + rest + 1, cut - rest - 1);
		return 0;
	}
	case SPF_MECH_IP4:
	case SPF_MECH_IP6: {
		char buf[64];
		size_t a = rest + 1, slash;
		int v6 = t->mech == SPF_MECH_IP6;

		if (rest == n || s[rest] != ':')
			return spf_error_set(
			    err, base + rest, "\"%s\" needs \":address\"", v6 ? "ip6" : "ip4");
		for (slash = a; slash < n && s[slash] != '/'; slash++)
			;
		if (slash < n &&
		    spf_cidr(s + slash + 1, n - slash - 1, v6 ? 3 : 2, v6 ? 128 : 32,
		        base + slash + 1, v6 ? &t->cidr6 : &t->cidr4, err) != 0)
			return -1;
		t->family = v6 ? 6 : 4;
		if (!v6) {
			if (spf_ip4(s + a, slash - a, t->addr) != 0)
				return spf_error_set(err, base + a, "invalid IPv4 address \"%.*s\"",
				    (int)(slash - a < 46 ? slash - a : 46), s + a);
			return 0;
		}
		if (slash - a >= sizeof(buf) || slash == a)
			return spf_error_set(err, base + a, "invalid IPv6 address");
		memcpy(buf, s + a, slash - a);
		buf[slash - a] = '\0';
		if (inet_pton(AF_INET6, buf, t->addr) != 1)
			return spf_error_set(err, base + a, "invalid IPv6 address \"%s\"", buf);
		return 0;
	}
	}
	return spf_error_set(err, base, "unknown mechanism");
}

/* Parse one term S[0..N) at offset BASE into T. */
static int
spf_parse_term(struct spf_term *t, const char *s, size_t n, size_t base, struct spf_error *err)
{
	size_t i = 0;

	memset(t, 0, sizeof(*t));
	t->cidr4 = t->cidr6 = -1;
	t->pos = base;
	t->text = xstrndup(s, n);
	t->qualifier = SPF_PASS;
	/* modifier = name "=" macro-string; name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) */
	if (spf_alpha((unsigned char)s[0])) {
		while (i < n &&
		    (spf_alnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_' || s[i] == '.'))
			i++;
		if (i < n && s[i] == '=') {
			t->name = xstrndup(s, i);
			t->value = xstrndup(s + i + 1, n - i - 1);
			if (strcasecmp(t->name, "redirect") == 0 ||
			    strcasecmp(t->name, "exp") == 0) {
				t->kind = tolower((unsigned char)t->name[0]) == 'r'
				    ? SPF_TERM_REDIRECT
				    : SPF_TERM_EXP;
				if (spf_check_domain_spec(
				        s + i + 1, n - i - 1, base + i + 1, err) != 0)
					return -1;
				t->domain_spec = xstrdup(t->value);
				return 0;
			}
			t->kind = SPF_TERM_UNKNOWN_MOD;
			/* section 6: unknown modifiers are ignored, but must be syntactically valid
			 */
			return spf_check_macro_string(
			    s + i + 1, n - i - 1, base + i + 1, 0, NULL, err);
		}
	}
	t->kind = SPF_TERM_MECHANISM;
	i = 0;
	switch (s[0]) {
	case '+':
		t->qualifier = SPF_PASS;
		i = 1;
		break;
	case '-':
		t->qualifier = SPF_FAIL;
		i = 1;
		break;
	case '~':
		t->qualifier = SPF_SOFTFAIL;
		i = 1;
		break;
	case '?':
		t->qualifier = SPF_NEUTRAL;
		i = 1;
		break;
	}
	if (i == n)
		return spf_error_set(err, base, "qualifier without a mechanism");
	return spf_parse_mechanism(t, s + i, n - i, base + i, err);
}

int
spf_parse(const char *text, size_t len, struct spf_record **out, struct spf_error *err)
{
	struct spf_record *rec;
	size_t p = 6, cap = 0;

	*out = NULL;
	memset(err, 0, sizeof(*err));
	if (!spf_is_spf_record(text, len))
		return spf_error_set(err, 0, "not an SPF record (must start with \"v=spf1\")");
	rec = xcalloc(1, sizeof(*rec));
	while (p < len) {
		size_t start, end;
		struct spf_term *t;

		if (text[p] != ' ') {
			spf_error_set(err, p, "expected a space between terms");
			goto fail;
		}
		while (p < len && text[p] == ' ')
			p++;
		if (p == len)
			break;
		start = p;
		while (p < len && text[p] != ' ')
			p++;
		end = p;
		for (size_t i = start; i < end; i++) {
			unsigned char c = (unsigned char)text[i];

			if (c < 0x21 || c > 0x7e) {
				spf_error_set(err, i,
				    "invalid character 0x%02x (only printable ASCII and "
				    "spaces, RFC 7208 section 12)",
				    c);
				goto fail;
			}
		}
		if (rec->n_terms == cap) {
			cap = cap ? cap * 2 : 8;
			rec->terms = xrealloc(rec->terms, cap * sizeof(*rec->terms));
		}
		t = &rec->terms[rec->n_terms];
		if (spf_parse_term(t, text + start, end - start, start, err) != 0) {
			spf_term_clear(t);
			goto fail;
		}
		rec->n_terms++;
	}
	for (size_t i = 0; i < rec->n_terms; i++) {
		struct spf_term *t = &rec->terms[i];

		if (t->kind == SPF_TERM_REDIRECT) {
			if (rec->redirect != NULL) {
				spf_error_set(err, t->pos,
				    "redirect= appears more than once (RFC 7208 "
				    "section 6)");
				goto fail;
			}
			rec->redirect = t;
		} else if (t->kind == SPF_TERM_EXP) {
			if (rec->exp != NULL) {
				spf_error_set(err, t->pos,
				    "exp= appears more than once (RFC 7208 section 6)");
				goto fail;
			}
			rec->exp = t;
		} else if (t->kind == SPF_TERM_MECHANISM) {
			if (t->mech == SPF_MECH_ALL)
				rec->has_all = 1;
			else if (t->mech != SPF_MECH_IP4 && t->mech != SPF_MECH_IP6)
				rec->dns_terms++;
		}
	}
	if (rec->redirect != NULL && !rec->has_all)
		rec->dns_terms++;
	*out = rec;
	return 0;
fail:
	spf_record_free(rec);
	return -1;
}

/* ---- macros --------------------------------------------------------------- */

int
spf_macro_uses_client(const char *spec)
{
	for (const char *p = spec; p != NULL && *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == '{' && p[2] != '\0' &&
		    strchr("icpvlsotrICPVLSOTR", p[2]) != NULL)
			return 1;
		if (p[0] == '%' && p[1] != '\0')
			p++;
	}
	return 0;
}

/* The value of macro LETTER (lowercase) into BUF. */
static void
spf_macro_value(int letter, const struct spf_macro_ctx *ctx, char *buf, size_t len)
{
	const char *sender = ctx->sender != NULL ? ctx->sender : "";
	const char *at = strrchr(sender, '@');

	switch (letter) {
	case 's': snprintf(buf, len, "%s", sender); break;
	case 'l':
		if (at == NULL || at == sender)
			snprintf(buf, len, "postmaster");
		else
			snprintf(buf, len, "%.*s", (int)(at - sender), sender);
		break;
	case 'o': snprintf(buf, len, "%s", at != NULL ? at + 1 : sender); break;
	case 'd': snprintf(buf, len, "%s", ctx->domain != NULL ? ctx->domain : ""); break;
	case 'i':
		if (ctx->family == 6) {
			size_t o = 0;

			/* Nibbles in upper case, as the OpenSPF suite expects in explanations
			 * (RFC 7208 leaves the case open; DNS names compare without it). */
			for (int i = 0; i < 16 && o + 4 < len; i++)
				o += (size_t)snprintf(buf + o, len - o, "%s%X.%X", i ? "." : "",
				    ctx->ip[i] >> 4, ctx->ip[i] & 0xf);
		} else {
			snprintf(buf, len, "%u.%u.%u.%u", ctx->ip[0], ctx->ip[1], ctx->ip[2],
			    ctx->ip[3]);
		}
		break;
	case 'c':
		if (ctx->family == 6)
			inet_ntop(AF_INET6, ctx->ip, buf, (socklen_t)len);
		else
			snprintf(buf, len, "%u.%u.%u.%u", ctx->ip[0], ctx->ip[1], ctx->ip[2],
			    ctx->ip[3]);
		break;
	case 'p':
		snprintf(buf, len, "%s", ctx->validated != NULL ? ctx->validated : "unknown");
		break;
	case 'v': snprintf(buf, len, "%s", ctx->family == 6 ? "ip6" : "in-addr"); break;
	case 'h': snprintf(buf, len, "%s", ctx->helo != NULL ? ctx->helo : "unknown"); break;
	case 'r':
		snprintf(buf, len, "%s", ctx->receiver != NULL ? ctx->receiver : "unknown");
		break;
	case 't': snprintf(buf, len, "%lld", (long long)ctx->now); break;
	default: buf[0] = '\0';
	}
}

/* Section 7.3: split VALUE on DELIMS, reverse if asked, keep the rightmost
 * DIGITS parts (0 = all), join with "."; URL-escape when ESCAPE. */
static void
spf_macro_transform(struct strbuf *b, const char *value, const char *delims, size_t ndelims,
    long digits, int reverse, int escape)
{
	const char *parts[SPF_MAX_PARTS];
	size_t lens[SPF_MAX_PARTS], n = 0, start = 0, first;
	size_t vlen = strlen(value);
	const char *dl = ndelims ? delims : ".";
	size_t ndl = ndelims ? ndelims : 1;

	for (size_t i = 0; i <= vlen; i++) {
		if (i == vlen || memchr(dl, value[i], ndl) != NULL) {
			if (n == SPF_MAX_PARTS) { /* keep the rightmost parts */
				memmove(parts, parts + 1, (n - 1) * sizeof(parts[0]));
				memmove(lens, lens + 1, (n - 1) * sizeof(lens[0]));
				n--;
			}
			parts[n] = value + start;
			lens[n] = i - start;
			n++;
			start = i + 1;
		}
	}
	if (reverse) {
		for (size_t i = 0; i < n / 2; i++) {
			const char *tp = parts[i];
			size_t tl = lens[i];

			parts[i] = parts[n - 1 - i];
			lens[i] = lens[n - 1 - i];
			parts[n - 1 - i] = tp;
			lens[n - 1 - i] = tl;
		}
	}
	first = digits > 0 && (size_t)digits < n ? n - (size_t)digits : 0;
	for (size_t i = first; i < n; i++) {
		if (i > first)
			strbuf_append(b, ".", 1);
		if (!escape) {
			strbuf_append(b, parts[i], lens[i]);
			continue;
		}
		for (size_t k = 0; k < lens[i]; k++) {
			unsigned char c = (unsigned char)parts[i][k];

			/* RFC 3986 unreserved characters stay, the rest is %XX */
			if (spf_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
				strbuf_append(b, (const char *)&parts[i][k], 1);
			} else {
				strbuf_appendf(b, "%%%02X", c);
			}
		}
	}
}

int
spf_macro_expand(const char *spec, size_t len, const struct spf_macro_ctx *ctx, int is_exp,
    int domain_spec, char **out, struct spf_error *err)
{
	struct strbuf b;
	size_t i = 0;

	*out = NULL;
	if (spf_check_macro_string(spec, len, 0, is_exp, NULL, err) != 0)
		return -1;
	strbuf_init(&b, SPF_MACRO_MAX_OUT);
	while (i < len) {
		char value[1100];
		size_t j;
		long digits = 0;
		int reverse = 0, letter, escape;

		if (spec[i] != '%' || i + 1 >= len) {
			strbuf_append(&b, spec + i, 1);
			i++;
			continue;
		}
		switch (spec[i + 1]) {
		case '%':
			strbuf_append(&b, "%", 1);
			i += 2;
			continue;
		case '_':
			strbuf_append(&b, " ", 1);
			i += 2;
			continue;
		case '-':
			strbuf_append(&b, "%20", 3);
			i += 2;
			continue;
		case '{': break;
		default: strbuf_free(&b); return spf_error_set(err, i, "invalid macro");
		}
		j = i + 2;
		if (j >= len || !spf_macro_letter((unsigned char)spec[j], is_exp)) {
			strbuf_free(&b);
			return spf_error_set(err, i, "invalid macro letter");
		}
		letter = tolower((unsigned char)spec[j]);
		escape = isupper((unsigned char)spec[j]) != 0;
		j++;
		while (j < len && spf_digit((unsigned char)spec[j])) {
			if (digits < 100000)
				digits = digits * 10 + (spec[j] - '0');
			j++;
		}
		if (j < len && (spec[j] == 'r' || spec[j] == 'R')) {
			reverse = 1;
			j++;
		}
		{
			size_t dstart = j;

			while (j < len && spec[j] != '}' && spec[j] != '\0' &&
			    strchr(".-+,/_=", spec[j]) != NULL)
				j++;
			if (j >= len || spec[j] != '}') {
				strbuf_free(&b);
				return spf_error_set(err, i, "malformed macro");
			}
			spf_macro_value(letter, ctx, value, sizeof(value));
			spf_macro_transform(
			    &b, value, spec + dstart, j - dstart, digits, reverse, escape);
		}
		i = j + 1;
	}
	if (b.over) {
		strbuf_free(&b);
		return spf_error_set(
		    err, 0, "macro expansion longer than %d bytes", SPF_MACRO_MAX_OUT);
	}
	if (domain_spec) {
		size_t off = 0;

		if (b.len > 0 && b.s[b.len - 1] == '.')
			b.s[--b.len] = '\0';
		/* section 7.3: remove left labels until the name fits 253 characters */
		while (b.len - off > 253) {
			char *dot = memchr(b.s + off, '.', b.len - off);

			if (dot == NULL)
				break;
			off = (size_t)(dot - b.s) + 1;
		}
		if (off > 0) {
			memmove(b.s, b.s + off, b.len - off + 1);
			b.len -= off;
		}
	}
	*out = strbuf_take(&b);
	return 0;
}

/* ---- check_host() -------------------------------------------------------- */

enum spf_op {
	OP_NONE = 0,
	OP_FETCH,
	OP_A,
	OP_EXISTS,
	OP_MX,
	OP_MX_ADDR,
	OP_PTR,
	OP_PTR_ADDR,
	OP_EXP, /* after the end: the TXT of exp= (section 6.2) */
};

/* One query of the current operation and its copied answer. */
struct spf_slot {
	struct spf_eval *e;
	void *handle;
	int done;
	enum spf_dns_status status;
	char *error;
	char **texts; /* TXT/MX/PTR */
	size_t *text_lens, *n_strings, *longest;
	size_t n_texts;
	unsigned char (*addrs)[16];
	size_t n_addrs;
	size_t wire_len;
	char *name; /* what was asked */
};

struct spf_frame {
	struct spf_node *node;
	struct spf_record *rec;
	size_t next;                     /* next term to evaluate */
	int redirected;                  /* this frame's result is its parent's (redirect) */
	int redirect_done;               /* redirect= was followed (walk mode may come back) */
	const struct spf_term *via_term; /* the include term in the parent */
};

struct spf_eval {
	char *domain, *sender, *helo;
	int family;
	unsigned char ip[16];
	int walk;
	time_t now;
	struct spf_dns dns;
	spf_done_cb done;
	void *arg;
	struct spf_outcome out;
	struct spf_frame frames[SPF_MAX_DEPTH];
	int depth;
	/* the operation in flight */
	enum spf_op op;
	const struct spf_term *term;
	char *target;
	struct spf_slot **slots;
	size_t n_slots;
	size_t pending;
	/* %{p}: 0 unknown, 1 computing, 2 known */
	int p_state;
	char *p_value;
	/* the record that decided the result: its domain and exp= (section 6.2) */
	char *decided_in, *exp_spec, *exp_text;
	int keep_decided; /* set by a redirect target: its parent keeps it */
	int exp_state;    /* 0 not yet, 1 asking TXT, 3 PTR, 4 addresses for %{p}, 2 done */
	int running, again, finished, reported, started;
};

static void spf_run(struct spf_eval *e);

static void
spf_slot_free(struct spf_slot *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_texts; i++)
		free(s->texts[i]);
	free(s->texts);
	free(s->text_lens);
	free(s->n_strings);
	free(s->longest);
	free(s->addrs);
	free(s->error);
	free(s->name);
	free(s);
}

static void
spf_slots_clear(struct spf_eval *e)
{
	for (size_t i = 0; i < e->n_slots; i++) {
		if (e->slots[i] == NULL)
			continue;
		if (e->slots[i]->handle != NULL && !e->slots[i]->done)
			e->dns.cancel(e->dns.ctx, e->slots[i]->handle);
		spf_slot_free(e->slots[i]);
	}
	free(e->slots);
	e->slots = NULL;
	e->n_slots = 0;
	e->pending = 0;
}

static void
spf_dns_answer_cb(void *arg, const struct spf_dns_answer *ans)
{
	struct spf_slot *s = arg;
	struct spf_eval *e = s->e;

	s->done = 1;
	s->handle = NULL;
	s->status = ans->status;
	s->wire_len = ans->wire_len;
	if (ans->status == SPF_DNS_OK && ans->n_rr == 0)
		s->status = SPF_DNS_NODATA;
	if (ans->error != NULL)
		s->error = xstrdup(ans->error);
	if (s->status == SPF_DNS_OK) {
		s->texts = xcalloc(ans->n_rr, sizeof(*s->texts));
		s->text_lens = xcalloc(ans->n_rr, sizeof(*s->text_lens));
		s->n_strings = xcalloc(ans->n_rr, sizeof(*s->n_strings));
		s->longest = xcalloc(ans->n_rr, sizeof(*s->longest));
		s->addrs = xcalloc(ans->n_rr, sizeof(*s->addrs));
		for (size_t i = 0; i < ans->n_rr; i++) {
			const struct spf_dns_rr *rr = &ans->rr[i];

			if (rr->text != NULL) {
				s->texts[s->n_texts] = xstrndup(rr->text, rr->text_len);
				s->text_lens[s->n_texts] = rr->text_len;
				s->n_strings[s->n_texts] = rr->n_strings;
				s->longest[s->n_texts] = rr->longest_string;
				s->n_texts++;
			} else {
				memcpy(s->addrs[s->n_addrs++], rr->addr, 16);
			}
		}
	}
	if (e->pending > 0)
		e->pending--;
	if (e->pending == 0)
		spf_run(e);
}

/* 1 when NAME can be asked at all (RFC 1035 label and name lengths). */
static int
spf_name_ok(const char *name)
{
	size_t label = 0, len = strlen(name);

	if (len == 0 || len > 253)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || name[i] == '.') {
			if (label == 0 || label > 63)
				return 0;
			label = 0;
		} else {
			label++;
		}
	}
	return 1;
}

/* Ask NAME for TYPE as part of the current operation. A name that cannot
 * exist is answered at once as NXDOMAIN (a void lookup). */
static void
spf_ask(struct spf_eval *e, const char *name, enum spf_qtype type)
{
	struct spf_slot *s = xcalloc(1, sizeof(*s));
	void *h;

	s->e = e;
	s->name = xstrdup(name);
	e->slots = xrealloc(e->slots, (e->n_slots + 1) * sizeof(*e->slots));
	e->slots[e->n_slots++] = s;
	e->pending++;
	if (!spf_name_ok(name)) {
		struct spf_dns_answer a = {.status = SPF_DNS_NXDOMAIN};

		spf_dns_answer_cb(s, &a);
		return;
	}
	h = e->dns.query(e->dns.ctx, name, type, spf_dns_answer_cb, s);
	if (!s->done)
		s->handle = h;
}

static struct spf_node *
spf_node_new(struct spf_node *parent, const char *domain, const char *via)
{
	struct spf_node *n = xcalloc(1, sizeof(*n));

	n->domain = xstrdup(domain);
	n->via = via;
	n->result = SPF_NONE;
	if (parent != NULL) {
		parent->children = xrealloc(
		    parent->children, (parent->n_children + 1) * sizeof(*parent->children));
		parent->children[parent->n_children++] = n;
	}
	return n;
}

static void
spf_node_free(struct spf_node *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->n_children; i++)
		spf_node_free(n->children[i]);
	free(n->children);
	free(n->domain);
	free(n->record);
	free(n->error);
	free(n);
}

static int
spf_node_total(struct spf_node *n)
{
	n->total_lookups = n->lookups;
	for (size_t i = 0; i < n->n_children; i++)
		n->total_lookups += spf_node_total(n->children[i]);
	return n->total_lookups;
}

static void spf_node_error(struct spf_node *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
spf_node_error(struct spf_node *n, const char *fmt, ...)
{
	va_list ap;

	if (n->error != NULL)
		return;
	va_start(ap, fmt);
	n->error = xvasprintf(fmt, ap);
	va_end(ap);
}

/* The whole evaluation ends with R (errors, the top frame's result). */
static void spf_finish(struct spf_eval *e, enum spf_result r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
spf_finish(struct spf_eval *e, enum spf_result r, const char *fmt, ...)
{
	va_list ap;

	if (e->finished)
		return;
	e->finished = 1;
	e->out.result = r;
	free(e->out.reason);
	va_start(ap, fmt);
	e->out.reason = xvasprintf(fmt, ap);
	va_end(ap);
	while (e->depth > 0) {
		struct spf_frame *f = &e->frames[--e->depth];

		if (f->node->result == SPF_NONE && f->node->record != NULL)
			f->node->result = r;
		spf_record_free(f->rec);
		f->rec = NULL;
	}
	if (e->out.tree != NULL)
		spf_node_total(e->out.tree);
	free(e->out.matched_in);
	e->out.matched_in = e->decided_in != NULL && r != SPF_PERMERROR && r != SPF_TEMPERROR
	    ? xstrdup(e->decided_in)
	    : NULL;
	e->op = OP_NONE;
}

static struct spf_frame *
spf_top(struct spf_eval *e)
{
	return &e->frames[e->depth - 1];
}

/* Count one DNS-querying term against the limit (section 4.6.4). Returns 0,
 * or -1 when the evaluation ended (permerror). */
static int
spf_count_lookup(struct spf_eval *e, struct spf_node *n, const struct spf_term *t)
{
	e->out.lookups++;
	n->lookups++;
	if (e->out.lookups > SPF_MAX_DNS_TERMS) {
		if (!e->walk) {
			spf_finish(e, SPF_PERMERROR,
			    "more than %d DNS-querying terms: %s in %s is "
			    "number %d (RFC 7208 section 4.6.4)",
			    SPF_MAX_DNS_TERMS, t->text, n->domain, e->out.lookups);
			return -1;
		}
		e->out.limit_exceeded = 1;
	}
	return 0;
}

/* Count a void lookup (NODATA/NXDOMAIN for a term, section 4.6.4). */
static int
spf_count_void(struct spf_eval *e, struct spf_node *n, const char *what)
{
	e->out.void_lookups++;
	n->void_lookups++;
	if (e->out.void_lookups > SPF_MAX_VOID) {
		if (!e->walk) {
			spf_finish(e, SPF_PERMERROR,
			    "more than %d void lookups: %s found nothing "
			    "(RFC 7208 section 4.6.4)",
			    SPF_MAX_VOID, what);
			return -1;
		}
		e->out.limit_exceeded = 1;
	}
	return 0;
}

static void
spf_ctx(struct spf_eval *e, const char *domain, struct spf_macro_ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->sender = e->sender;
	ctx->domain = domain;
	ctx->helo = e->helo;
	ctx->validated = e->p_value;
	ctx->family = e->family;
	memcpy(ctx->ip, e->ip, 16);
	ctx->now = e->now;
}

/* Expand the term's domain-spec (or the current domain). NULL: finished. */
static char *
spf_target(struct spf_eval *e, const struct spf_term *t)
{
	struct spf_frame *f = spf_top(e);
	struct spf_macro_ctx ctx;
	struct spf_error err;
	char *out;

	if (t->domain_spec == NULL)
		return xstrdup(f->node->domain);
	spf_ctx(e, f->node->domain, &ctx);
	if (spf_macro_expand(t->domain_spec, strlen(t->domain_spec), &ctx, 0, 1, &out, &err) != 0) {
		spf_finish(e, SPF_PERMERROR, "%s in %s: %s", t->text, f->node->domain, err.msg);
		return NULL;
	}
	if (out[0] == '\0') {
		free(out);
		spf_finish(e, SPF_PERMERROR, "%s in %s expands to an empty name", t->text,
		    f->node->domain);
		return NULL;
	}
	return out;
}

static int
spf_cidr_match(int family, const unsigned char *ip, const unsigned char *net, int prefix)
{
	int bits = family == 6 ? 128 : 32;

	if (prefix < 0 || prefix > bits)
		prefix = bits;
	for (int i = 0; i < prefix / 8; i++)
		if (ip[i] != net[i])
			return 0;
	if (prefix % 8) {
		unsigned char mask = (unsigned char)(0xff << (8 - prefix % 8));

		if ((ip[prefix / 8] & mask) != (net[prefix / 8] & mask))
			return 0;
	}
	return 1;
}

static int
spf_term_prefix(struct spf_eval *e, const struct spf_term *t)
{
	return e->family == 6 ? t->cidr6 : t->cidr4;
}

static void spf_frame_result(struct spf_eval *e, enum spf_result r, const char *matched);

/* Start fetching the SPF record of DOMAIN as a new frame (via top, include, redirect). */
static void
spf_fetch(struct spf_eval *e, const char *domain, const char *via, const struct spf_term *via_term)
{
	struct spf_node *parent = e->depth > 0 ? spf_top(e)->node : NULL;
	struct spf_node *n = spf_node_new(parent, domain, via);
	struct spf_frame *f;

	if (e->out.tree == NULL)
		e->out.tree = n;
	if (e->depth == SPF_MAX_DEPTH) {
		spf_node_error(n, "not followed: too deeply nested");
		if (e->walk) {
			e->out.limit_exceeded = 1;
			return;
		}
		spf_finish(e, SPF_PERMERROR, "includes nested too deeply at %s", domain);
		return;
	}
	f = &e->frames[e->depth++];
	memset(f, 0, sizeof(*f));
	f->node = n;
	f->redirected = strcmp(via, "redirect") == 0;
	f->via_term = via_term;
	e->op = OP_FETCH;
	spf_ask(e, domain, SPF_QT_TXT);
}

/* Walk mode, or an error inside an include in walk mode: drop the frame,
 * let the parent go on. */
static void
spf_frame_pop(struct spf_eval *e)
{
	struct spf_frame *f = spf_top(e);

	spf_record_free(f->rec);
	f->rec = NULL;
	e->depth--;
}

/* The TXT answer for the newest frame is in. */
static void
spf_fetch_done(struct spf_eval *e)
{
	struct spf_frame *f = spf_top(e);
	struct spf_node *n = f->node;
	struct spf_slot *s = e->slots[0];
	const char *via = n->via;
	int top = e->depth == 1;
	size_t pick = 0;
	struct spf_error err;
	enum spf_result r = SPF_NONE;

	e->op = OP_NONE;
	n->wire_len = s->wire_len;
	if (s->status == SPF_DNS_TEMPFAIL) {
		/* section 4.4: a DNS error other than NXDOMAIN is temperror */
		spf_node_error(
		    n, "TXT lookup failed: %s", s->error != NULL ? s->error : "DNS error");
		n->result = SPF_TEMPERROR;
		r = SPF_TEMPERROR;
		goto failed;
	}
	if (s->status != SPF_DNS_OK && !top &&
	    spf_count_void(e, e->frames[e->depth - 2].node, n->domain) != 0)
		goto out;
	for (size_t i = 0; i < s->n_texts; i++) {
		if (spf_is_spf_record(s->texts[i], s->text_lens[i])) {
			if (n->n_records == 0)
				pick = i;
			n->n_records++;
		}
	}
	if (n->n_records == 0) {
		spf_node_error(n,
		    s->status == SPF_DNS_NXDOMAIN ? "the domain does not exist" : "no SPF record");
		n->result = SPF_NONE;
		r = SPF_NONE;
		goto failed;
	}
	n->record = xstrndup(s->texts[pick], s->text_lens[pick]);
	n->n_strings = s->n_strings[pick];
	n->longest_string = s->longest[pick];
	if (n->n_records > 1) {
		/* section 4.5: more than one record is a permerror */
		spf_node_error(
		    n, "%d v=spf1 records (RFC 7208 section 4.5 allows one)", n->n_records);
		n->result = SPF_PERMERROR;
		r = SPF_PERMERROR;
		goto failed;
	}
	if (spf_parse(s->texts[pick], s->text_lens[pick], &f->rec, &err) != 0) {
		spf_node_error(n, "syntax error at position %zu: %s", err.pos + 1, err.msg);
		n->result = SPF_PERMERROR;
		r = SPF_PERMERROR;
		goto failed;
	}
	for (size_t i = 0; i < f->rec->n_terms; i++) {
		const struct spf_term *t = &f->rec->terms[i];

		if (t->kind == SPF_TERM_MECHANISM && t->mech == SPF_MECH_PTR)
			n->has_ptr = 1;
		if (t->kind == SPF_TERM_MECHANISM && t->mech == SPF_MECH_ALL &&
		    t->qualifier == SPF_PASS)
			n->has_plus_all = 1;
	}
	n->has_all = f->rec->has_all;
	n->has_redirect = f->rec->redirect != NULL;
	goto out;
failed:
	if (e->walk && !top) {
		spf_frame_pop(e);
		goto out;
	}
	if (r == SPF_NONE && !top) /* section 5.2 include / 6.1 redirect to "none" */
		spf_finish(e, SPF_PERMERROR, "%s:%s has no SPF record (%s)",
		    strcmp(via, "redirect") == 0 ? "redirect=" : "include", n->domain, n->error);
	else if (r == SPF_NONE)
		spf_finish(e, SPF_NONE, "%s: %s", n->domain, n->error);
	else
		spf_finish(e, r, "%s: %s", n->domain, n->error);
out:
	spf_slots_clear(e);
}

/* Is DOMAIN on the stack of frames (an include/redirect loop)? */
static int
spf_on_stack(struct spf_eval *e, const char *domain)
{
	for (int i = 0; i < e->depth; i++)
		if (util_strieq(e->frames[i].node->domain, domain))
			return 1;
	return 0;
}

/* The reverse name of the client: x.x.x.x.in-addr.arpa or the ip6.arpa nibbles. */
static void
spf_ptr_name(const struct spf_eval *e, char name[80])
{
	size_t o = 0;

	if (e->family == 6) {
		for (int i = 15; i >= 0; i--)
			o += (size_t)snprintf(
			    name + o, 80 - o, "%x.%x.", e->ip[i] & 0xf, e->ip[i] >> 4);
		snprintf(name + o, 80 - o, "ip6.arpa");
	} else {
		snprintf(
		    name, 80, "%u.%u.%u.%u.in-addr.arpa", e->ip[3], e->ip[2], e->ip[1], e->ip[0]);
	}
}

/* ptr and %{p}: ask the PTR of the client (section 5.5). */
static void
spf_ask_ptr(struct spf_eval *e)
{
	char name[80];

	spf_ptr_name(e, name);
	e->op = OP_PTR;
	spf_ask(e, name, SPF_QT_PTR);
}

static void
spf_start_term(struct spf_eval *e, const struct spf_term *t)
{
	struct spf_frame *f = spf_top(e);
	struct spf_node *n = f->node;
	enum spf_qtype addr_type = e->family == 6 ? SPF_QT_AAAA : SPF_QT_A;
	int client_dependent = t->domain_spec != NULL && spf_macro_uses_client(t->domain_spec);

	e->term = t;
	free(e->target);
	e->target = NULL;
	if (t->kind != SPF_TERM_MECHANISM)
		return; /* modifiers are handled at the end of the record */
	switch (t->mech) {
	case SPF_MECH_ALL: spf_frame_result(e, t->qualifier, t->text); return;
	case SPF_MECH_IP4:
	case SPF_MECH_IP6:
		if (!e->walk && t->family == e->family &&
		    spf_cidr_match(e->family, e->ip, t->addr, t->family == 6 ? t->cidr6 : t->cidr4))
			spf_frame_result(e, t->qualifier, t->text);
		return;
	default: break;
	}
	/* section 7.3: %{p} needs the validated name first; it costs no term */
	if (!e->walk && e->p_state == 0 && t->domain_spec != NULL &&
	    (strstr(t->domain_spec, "%{p") != NULL || strstr(t->domain_spec, "%{P") != NULL)) {
		e->p_state = 1;
		f->next--; /* come back to this term */
		spf_ask_ptr(e);
		return;
	}
	if (spf_count_lookup(e, n, t) != 0)
		return;
	if (e->walk && (client_dependent || t->mech == SPF_MECH_PTR)) {
		if (t->mech == SPF_MECH_INCLUDE) {
			struct spf_node *c = spf_node_new(n, t->domain_spec, "include");

			spf_node_error(c, "not followed: the name depends on the sender or IP");
		}
		return;
	}
	e->target = spf_target(e, t);
	if (e->target == NULL)
		return;
	switch (t->mech) {
	case SPF_MECH_INCLUDE:
		if (spf_on_stack(e, e->target)) {
			struct spf_node *c = spf_node_new(n, e->target, "include");

			spf_node_error(c, "include loop");
			c->result = SPF_PERMERROR;
			if (e->walk) {
				e->out.limit_exceeded = 1;
				return;
			}
			spf_finish(e, SPF_PERMERROR,
			    "include loop: %s includes %s, which is already "
			    "being evaluated (RFC 7208 section 5.2)",
			    n->domain, e->target);
			return;
		}
		if (e->walk && e->out.lookups > SPF_WALK_MAX_TERMS) {
			spf_node_error(spf_node_new(n, e->target, "include"),
			    "not followed: over "
			    "%d lookups",
			    SPF_WALK_MAX_TERMS);
			return;
		}
		spf_fetch(e, e->target, "include", t);
		return;
	case SPF_MECH_A:
		e->op = OP_A;
		spf_ask(e, e->target, addr_type);
		return;
	case SPF_MECH_EXISTS:
		e->op = OP_EXISTS;
		spf_ask(e, e->target, SPF_QT_A); /* section 5.7: always A */
		return;
	case SPF_MECH_MX:
		e->op = OP_MX;
		spf_ask(e, e->target, SPF_QT_MX);
		return;
	case SPF_MECH_PTR: spf_ask_ptr(e); return;
	default: return;
	}
}

/* The current record matched nothing: redirect= (6.1) or neutral (4.7). */
static void
spf_end_of_record(struct spf_eval *e)
{
	struct spf_frame *f = spf_top(e);
	const struct spf_term *rd = f->rec->redirect;
	char *target;

	if (rd == NULL || f->rec->has_all || f->redirect_done) {
		spf_frame_result(e, f->redirect_done ? SPF_PERMERROR : SPF_NEUTRAL, NULL);
		return;
	}
	f->redirect_done = 1;
	if (spf_count_lookup(e, f->node, rd) != 0)
		return;
	if (e->walk && spf_macro_uses_client(rd->domain_spec)) {
		spf_node_error(spf_node_new(f->node, rd->domain_spec, "redirect"),
		    "not followed: the name depends on the sender or IP");
		spf_frame_result(e, SPF_NEUTRAL, NULL);
		return;
	}
	target = spf_target(e, rd);
	if (target == NULL)
		return;
	if (spf_on_stack(e, target)) {
		struct spf_node *c = spf_node_new(f->node, target, "redirect");

		spf_node_error(c, "redirect loop");
		if (e->walk) {
			e->out.limit_exceeded = 1;
			spf_frame_result(e, SPF_PERMERROR, NULL);
		} else {
			spf_finish(e, SPF_PERMERROR,
			    "redirect loop: %s redirects to %s, which is "
			    "already being evaluated",
			    f->node->domain, target);
		}
		free(target);
		return;
	}
	spf_fetch(e, target, "redirect", rd);
	free(target);
}

/*
 * Frame F decides the result of its record: remember its domain and exp=,
 * unless a redirect target below it already did (section 6.1: the target's
 * result is the record's, and 6.2: so is the target's exp=, never the
 * redirecting record's). An include's own exp= never counts: the include's
 * parent decides afresh when the include matches.
 */
static void
spf_decided(struct spf_eval *e, const struct spf_frame *f)
{
	if (!e->keep_decided) {
		free(e->decided_in);
		free(e->exp_spec);
		e->decided_in = xstrdup(f->node->domain);
		e->exp_spec = f->rec != NULL && f->rec->exp != NULL && f->rec->exp->value != NULL
		    ? xstrdup(f->rec->exp->value)
		    : NULL;
	}
	e->keep_decided = f->redirected;
}

/*
 * The top frame evaluated to R (MATCHED: the term, NULL when nothing matched).
 * Pop it and give the result to its parent: the redirecting frame takes it
 * over, an include maps it (section 5.2).
 */
static void
spf_frame_result(struct spf_eval *e, enum spf_result r, const char *matched_text)
{
	struct spf_frame *f = spf_top(e);
	const struct spf_term *via_term = f->via_term;
	int redirected = f->redirected;
	char *child = xstrdup(f->node->domain);
	char *matched = matched_text != NULL ? xstrdup(matched_text) : NULL;

	f->node->result = r;
	spf_decided(e, f);
	if (e->depth == 1) {
		if (matched != NULL) {
			e->out.mechanism = xstrdup(matched);
			spf_finish(e, r, "matched %s in %s", matched, e->decided_in);
		} else if (e->walk) {
			spf_finish(e, r, "evaluated every term of %s", child);
		} else {
			spf_finish(e, r,
			    "no mechanism matched in %s; the default is neutral "
			    "(RFC 7208 section 4.7)",
			    e->decided_in);
		}
		goto out;
	}
	spf_frame_pop(e);
	if (redirected) {
		spf_frame_result(e, r, matched);
		goto out;
	}
	/* An include in the parent's record (section 5.2). */
	if (e->walk)
		goto out;
	switch (r) {
	case SPF_PASS:
		if (e->depth == 1) {
			struct spf_frame *p = spf_top(e);

			char *inside = xstrdup(e->decided_in != NULL ? e->decided_in : child);

			e->out.mechanism = xstrdup(via_term->text);
			p->node->result = via_term->qualifier;
			spf_decided(e, p);
			spf_finish(e, via_term->qualifier, "matched %s in %s (%s inside %s)",
			    via_term->text, p->node->domain, matched != NULL ? matched : "pass",
			    inside);
			free(inside);
		} else {
			spf_frame_result(e, via_term->qualifier, via_term->text);
		}
		break;
	case SPF_FAIL:
	case SPF_SOFTFAIL:
	case SPF_NEUTRAL: break; /* not a match: go on with the parent's next term */
	case SPF_TEMPERROR:
		spf_finish(e, SPF_TEMPERROR, "temperror inside include:%s", child);
		break;
	case SPF_PERMERROR:
	case SPF_NONE: spf_finish(e, SPF_PERMERROR, "permerror inside include:%s", child); break;
	}
out:
	free(matched);
	free(child);
}

/* Did any address answered in the slots match the client (with prefix)? */
static int
spf_slots_match(struct spf_eval *e, size_t from, int prefix)
{
	for (size_t i = from; i < e->n_slots; i++)
		for (size_t k = 0; k < e->slots[i]->n_addrs; k++)
			if (spf_cidr_match(e->family, e->ip, e->slots[i]->addrs[k], prefix))
				return 1;
	return 0;
}

/* 1 when NAME is DOMAIN or a subdomain of it. */
static int
spf_subdomain(const char *name, const char *domain)
{
	size_t ln = strlen(name), ld = strlen(domain);

	if (ln > 0 && name[ln - 1] == '.')
		ln--;
	if (ld > 0 && domain[ld - 1] == '.')
		ld--;
	if (ln == ld)
		return strncasecmp(name, domain, ln) == 0;
	return ln > ld && name[ln - ld - 1] == '.' && strncasecmp(name + ln - ld, domain, ld) == 0;
}

/*
 * %{p} (section 7.3): of the PTR names whose addresses (in the slots) include
 * the client, prefer DOMAIN or a subdomain of it; "unknown" when none.
 */
static void
spf_pick_validated(struct spf_eval *e, const char *domain)
{
	const char *pick = NULL;

	for (size_t i = 0; i < e->n_slots; i++) {
		struct spf_slot *s = e->slots[i];
		int valid = 0;

		for (size_t k = 0; k < s->n_addrs; k++)
			if (spf_cidr_match(e->family, e->ip, s->addrs[k], -1))
				valid = 1;
		if (valid &&
		    (pick == NULL ||
		        (spf_subdomain(s->name, domain) && !spf_subdomain(pick, domain))))
			pick = s->name;
	}
	e->p_state = 2;
	free(e->p_value);
	e->p_value = pick != NULL ? xstrdup(pick) : NULL;
}

/* The answers for the current operation are all in. */
static void
spf_op_done(struct spf_eval *e)
{
	struct spf_frame *f = spf_top(e);
	struct spf_node *n = f->node;
	const struct spf_term *t = e->term;
	struct spf_slot *s0 = e->n_slots > 0 ? e->slots[0] : NULL;
	enum spf_qtype addr_type = e->family == 6 ? SPF_QT_AAAA : SPF_QT_A;
	enum spf_op op = e->op;

	e->op = OP_NONE;
	switch (op) {
	case OP_FETCH: spf_fetch_done(e); return;
	case OP_A:
	case OP_EXISTS:
	case OP_MX:
	case OP_PTR:
		if (s0 == NULL)
			break;
		if (s0->status == SPF_DNS_TEMPFAIL) {
			if (op == OP_PTR && e->p_state == 1) {
				e->p_state = 2; /* %{p} becomes "unknown" (section 7.3) */
				break;
			}
			if (op == OP_PTR) {
				/* section 5.5: a DNS error on the PTR lookup is "no match" */
				break;
			}
			if (e->walk) {
				spf_node_error(n, "%s: lookup of %s failed: %s", t->text, s0->name,
				    s0->error != NULL ? s0->error : "DNS error");
				break;
			}
			spf_finish(e, SPF_TEMPERROR, "%s in %s: lookup of %s failed: %s", t->text,
			    n->domain, s0->name, s0->error != NULL ? s0->error : "DNS error");
			break;
		}
		if (s0->status != SPF_DNS_OK) {
			if (op == OP_PTR && e->p_state == 1) {
				e->p_state = 2;
				spf_count_void(e, n, s0->name);
				break;
			}
			spf_count_void(e, n, s0->name);
			break;
		}
		if (op == OP_A) {
			if (!e->walk && spf_slots_match(e, 0, spf_term_prefix(e, t)))
				spf_frame_result(e, t->qualifier, t->text);
			break;
		}
		if (op == OP_EXISTS) {
			if (!e->walk)
				spf_frame_result(e, t->qualifier, t->text);
			break;
		}
		if (op == OP_MX) {
			struct spf_slot *mx = s0;

			/* section 4.6.4: more than 10 MX names is a permerror */
			if (mx->n_texts > SPF_MAX_NAMES) {
				if (e->walk) {
					spf_node_error(n,
					    "%s: %zu MX names, more than %d (RFC 7208 "
					    "section 4.6.4)",
					    t->text, mx->n_texts, SPF_MAX_NAMES);
					e->out.limit_exceeded = 1;
					break;
				}
				spf_finish(e, SPF_PERMERROR,
				    "%s in %s: %zu MX names, more than %d (RFC "
				    "7208 section 4.6.4)",
				    t->text, n->domain, mx->n_texts, SPF_MAX_NAMES);
				break;
			}
			if (e->walk)
				break;
			e->slots[0] = NULL;
			spf_slots_clear(e);
			e->op = OP_MX_ADDR;
			e->pending = 1; /* hold the operation while asking */
			for (size_t i = 0; i < mx->n_texts; i++)
				if (mx->texts[i][0] != '\0')
					spf_ask(e, mx->texts[i], addr_type);
			spf_slot_free(mx);
			e->pending--;
			return;
		}
		/* OP_PTR: validate up to 10 names (section 5.5) */
		{
			struct spf_slot *ptr = s0;

			e->slots[0] = NULL;
			spf_slots_clear(e);
			e->op = OP_PTR_ADDR;
			e->pending = 1;
			for (size_t i = 0; i < ptr->n_texts && i < SPF_MAX_NAMES; i++)
				spf_ask(e, ptr->texts[i], addr_type);
			spf_slot_free(ptr);
			e->pending--;
			return;
		}
	case OP_MX_ADDR:
		if (spf_slots_match(e, 0, spf_term_prefix(e, t)))
			spf_frame_result(e, t->qualifier, t->text);
		break;
	case OP_PTR_ADDR: {
		const char *target = e->target;
		int matched = 0;

		if (e->p_state == 1) {
			spf_pick_validated(e, n->domain);
			break;
		}
		for (size_t i = 0; i < e->n_slots; i++) {
			struct spf_slot *s = e->slots[i];

			for (size_t k = 0; k < s->n_addrs; k++)
				if (spf_cidr_match(e->family, e->ip, s->addrs[k], -1) &&
				    spf_subdomain(s->name, target))
					matched = 1;
		}
		if (matched)
			spf_frame_result(e, t->qualifier, t->text);
		break;
	}
	default: break;
	}
	if (!e->finished)
		spf_slots_clear(e);
}

/* One step: start the next term, or finish the record. */
static void
spf_step(struct spf_eval *e)
{
	struct spf_frame *f;

	if (e->op != OP_NONE) {
		spf_op_done(e);
		return;
	}
	if (e->depth == 0) {
		if (!e->finished)
			spf_finish(e, SPF_NONE, "no record");
		return;
	}
	f = spf_top(e);
	if (f->rec == NULL) {
		spf_finish(e, SPF_PERMERROR, "internal error: no record to evaluate");
		return;
	}
	if (f->next < f->rec->n_terms) {
		const struct spf_term *t = &f->rec->terms[f->next++];

		spf_start_term(e, t);
		return;
	}
	spf_end_of_record(e);
}

/* The explanation used when there is no (usable) exp=: says who and what. */
static void
spf_default_explanation(struct spf_eval *e)
{
	char ip[INET6_ADDRSTRLEN];

	if (e->family == 6)
		inet_ntop(AF_INET6, e->ip, ip, sizeof(ip));
	else
		snprintf(ip, sizeof(ip), "%u.%u.%u.%u", e->ip[0], e->ip[1], e->ip[2], e->ip[3]);
	free(e->out.explanation);
	e->out.explanation =
	    xasprintf("%s is not allowed to send mail as %s (SPF fail)", ip, e->sender);
	e->out.explanation_source = "default";
}

/*
 * After a fail (section 6.2): expand the deciding record's exp= and ask its
 * TXT. Any problem (bad macro, a name that cannot exist) means "as if no exp
 * was given". The lookup is not counted against the limits of 4.6.4.
 */
static void
spf_exp_start(struct spf_eval *e)
{
	struct spf_macro_ctx ctx;
	struct spf_error err;
	char *name = NULL;

	e->exp_state = 2;
	if (e->walk || e->out.result != SPF_FAIL)
		return;
	spf_default_explanation(e);
	if (e->exp_spec == NULL || e->decided_in == NULL)
		return;
	spf_ctx(e, e->decided_in, &ctx);
	if (spf_macro_expand(e->exp_spec, strlen(e->exp_spec), &ctx, 0, 1, &name, &err) != 0 ||
	    !spf_name_ok(name)) {
		free(name);
		return;
	}
	e->exp_state = 1;
	e->op = OP_EXP;
	spf_ask(e, name, SPF_QT_TXT);
	free(name);
}

/* Expand the exp= TXT (e->exp_text) into the explanation; a bad macro keeps
 * the default. */
static void
spf_exp_expand(struct spf_eval *e)
{
	struct spf_macro_ctx ctx;
	struct spf_error err;
	char *text = NULL;

	e->exp_state = 2;
	e->op = OP_NONE;
	spf_ctx(e, e->decided_in, &ctx);
	if (spf_macro_expand(e->exp_text, strlen(e->exp_text), &ctx, 1, 0, &text, &err) != 0)
		return;
	free(e->out.explanation);
	e->out.explanation = text;
	e->out.explanation_source = "exp";
}

/*
 * The next answer for the explanation is in: the TXT of exp= (exactly one
 * record, section 6.2), then, when the text uses %{p} and it is not known
 * yet, the client's PTR names and their addresses (section 7.3).
 */
static void
spf_exp_step(struct spf_eval *e)
{
	struct spf_slot *s = e->n_slots > 0 ? e->slots[0] : NULL;
	enum spf_qtype addr_type = e->family == 6 ? SPF_QT_AAAA : SPF_QT_A;
	char ptr[80];

	switch (e->exp_state) {
	case 1:
		if (s == NULL || s->status != SPF_DNS_OK || s->n_texts != 1 ||
		    memchr(s->texts[0], '\0', s->text_lens[0]) != NULL) {
			e->exp_state = 2;
			e->op = OP_NONE;
			return;
		}
		e->exp_text = xstrdup(s->texts[0]);
		spf_slots_clear(e);
		if (e->p_state != 0 ||
		    (strstr(e->exp_text, "%{p") == NULL && strstr(e->exp_text, "%{P") == NULL)) {
			spf_exp_expand(e);
			return;
		}
		e->p_state = 1;
		e->exp_state = 3;
		spf_ptr_name(e, ptr);
		spf_ask(e, ptr, SPF_QT_PTR);
		return;
	case 3:
		if (s == NULL || s->status != SPF_DNS_OK) {
			e->p_state = 2;
			spf_exp_expand(e);
			return;
		}
		e->slots[0] = NULL;
		spf_slots_clear(e);
		e->exp_state = 4;
		e->pending = 1; /* hold the step while asking */
		for (size_t i = 0; i < s->n_texts && i < SPF_MAX_NAMES; i++)
			spf_ask(e, s->texts[i], addr_type);
		spf_slot_free(s);
		e->pending--;
		return;
	case 4:
		spf_pick_validated(e, e->decided_in);
		spf_slots_clear(e);
		spf_exp_expand(e);
		return;
	default: e->exp_state = 2; return;
	}
}

static void
spf_run(struct spf_eval *e)
{
	if (!e->started)
		return;
	if (e->running) {
		e->again = 1;
		return;
	}
	e->running = 1;
	do {
		e->again = 0;
		while (!e->finished && e->pending == 0)
			spf_step(e);
		if (e->finished && e->pending == 0 && e->exp_state == 0) {
			spf_slots_clear(e);
			spf_exp_start(e); /* a synchronous answer only sets AGAIN */
		}
		while (e->finished && e->pending == 0 && e->exp_state != 0 && e->exp_state != 2)
			spf_exp_step(e);
	} while (e->again && !e->finished && e->pending == 0);
	e->running = 0;
	if (e->finished && !e->reported && e->exp_state == 2) {
		e->reported = 1;
		spf_slots_clear(e);
		e->done(e->arg, &e->out); /* may free E */
	}
}

struct spf_eval *
spf_eval_start(
    const struct spf_eval_params *params, const struct spf_dns *dns, spf_done_cb done, void *arg)
{
	struct spf_eval *e = xcalloc(1, sizeof(*e));
	const char *domain = params->domain;
	size_t dl = strlen(domain);

	if (params->ip != NULL) {
		e->family = spf_parse_ip(params->ip, e->ip);
		if (e->family == 0) {
			free(e);
			return NULL;
		}
	} else {
		e->walk = 1;
		e->family = 4;
	}
	e->domain = dl > 0 && domain[dl - 1] == '.' ? xstrndup(domain, dl - 1) : xstrdup(domain);
	if (params->sender == NULL || params->sender[0] == '\0')
		e->sender = xasprintf("postmaster@%s", e->domain);
	else if (params->sender[0] == '@')
		e->sender = xasprintf("postmaster%s", params->sender); /* section 4.3 */
	else if (strchr(params->sender, '@') == NULL)
		e->sender = xasprintf("postmaster@%s", params->sender);
	else
		e->sender = xstrdup(params->sender);
	e->helo = xstrdup(params->helo != NULL ? params->helo : e->domain);
	e->now = params->now;
	e->dns = *dns;
	e->done = done;
	e->arg = arg;
	return e;
}

void
spf_eval_run(struct spf_eval *e)
{
	e->started = 1;
	e->running = 1; /* synchronous answers must not run ahead of us */
	/* section 4.3: a malformed <domain> (a label over 63 octets, an empty
	 * label, a domain literal, a single label) gives none without any lookup */
	if (!spf_name_ok(e->domain) || strchr(e->domain, '.') == NULL || e->domain[0] == '[') {
		e->out.tree = spf_node_new(NULL, e->domain, "top");
		spf_node_error(e->out.tree, "not a valid domain name");
		e->finished = 1;
		e->exp_state = 2;
		e->out.result = SPF_NONE;
		e->out.reason = xasprintf("%s is not a fully qualified domain name "
		                          "(RFC 7208 section 4.3)",
		    e->domain);
	} else {
		spf_fetch(e, e->domain, "top", NULL);
	}
	e->running = 0;
	e->again = 0;
	spf_run(e); /* may call DONE, which may free E */
}

void
spf_eval_free(struct spf_eval *e)
{
	if (e == NULL)
		return;
	spf_slots_clear(e);
	while (e->depth > 0)
		spf_record_free(e->frames[--e->depth].rec);
	spf_node_free(e->out.tree);
	free(e->out.reason);
	free(e->out.mechanism);
	free(e->target);
	free(e->p_value);
	free(e->decided_in);
	free(e->exp_spec);
	free(e->exp_text);
	free(e->out.explanation);
	free(e->out.matched_in);
	free(e->domain);
	free(e->sender);
	free(e->helo);
	free(e);
}
