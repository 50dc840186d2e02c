/*
 * dmarc.c - DMARC record parser (RFC 7489 sections 6.3 and 6.4).
 *
 * The record is a DKIM-style tag list (RFC 6376 section 3.2):
 *
 *   tag-list  = tag-spec *( ";" tag-spec ) [ ";" ]
 *   tag-spec  = [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
 *   tag-name  = ALPHA *ALNUMPUNC
 *   tag-value = [ tval *( 1*(WSP / FWS) tval ) ]     tval = 1*VALCHAR
 *   VALCHAR   = %x21-3A / %x3C-7E
 *
 * and the values of the tags DMARC defines follow section 6.4. ABNF quoted
 * strings are case-insensitive, so are tag names and keyword values here;
 * "DMARC1" is written in %x notation there and so is case-sensitive.
 * Whitespace is SP, HTAB, CR and LF (FWS folds lines with CRLF).
 */
#include "dmarc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

struct dmarc_parser {
	const char *s;
	size_t len;
	struct dmarc_record *rec;
	struct dmarc_error *err;
};

static int dmarc_fail(struct dmarc_parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
dmarc_fail(struct dmarc_parser *p, size_t pos, const char *fmt, ...)
{
	va_list ap;

	p->err->pos = pos;
	va_start(ap, fmt);
	vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

static int
dmarc_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
dmarc_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
dmarc_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* VALCHAR: printable US-ASCII except ";" (RFC 6376 section 3.2). */
static int
dmarc_valchar(char c)
{
	unsigned char u = (unsigned char)c;

	return (u >= 0x21 && u <= 0x3a) || (u >= 0x3c && u <= 0x7e);
}

/* Is [S, S+N) equal to the NUL-terminated WORD, ignoring case? */
static int
dmarc_word(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

/* Printable form of a value for messages: at most 40 bytes, no control bytes. */
static const char *
dmarc_show(const char *s, size_t n, char *buf, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 4 < size; i++) {
		if (i == 40) {
			buf[o++] = '.';
			buf[o++] = '.';
			buf[o++] = '.';
			break;
		}
		buf[o++] = dmarc_valchar(s[i]) || s[i] == ' ' ? s[i] : '?';
	}
	buf[o] = '\0';
	return buf;
}

const char *
dmarc_policy_str(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_POLICY_NONE: return "none";
	case DMARC_POLICY_QUARANTINE: return "quarantine";
	case DMARC_POLICY_REJECT: return "reject";
	case DMARC_POLICY_UNSET: break;
	}
	return NULL;
}

/* dmarc-request = "none" / "quarantine" / "reject" (section 6.4). */
static int
dmarc_policy(struct dmarc_parser *p, const char *tag, const char *v, size_t n, size_t pos,
    enum dmarc_policy *out)
{
	char show[48];

	if (dmarc_word(v, n, "none"))
		*out = DMARC_POLICY_NONE;
	else if (dmarc_word(v, n, "quarantine"))
		*out = DMARC_POLICY_QUARANTINE;
	else if (dmarc_word(v, n, "reject"))
		*out = DMARC_POLICY_REJECT;
	else
		return dmarc_fail(p, pos, "%s=%s: the policy must be none, quarantine or reject",
		    tag, dmarc_show(v, n, show, sizeof(show)));
	return 0;
}

/* An unsigned decimal of at most MAXDIGITS digits, not above MAX. */
static int
dmarc_number(struct dmarc_parser *p, const char *tag, const char *v, size_t n, size_t pos,
    size_t maxdigits, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;

	if (n == 0)
		return dmarc_fail(p, pos, "%s= needs a number", tag);
	for (size_t i = 0; i < n; i++) {
		if (!dmarc_digit(v[i]))
			return dmarc_fail(p, pos + i, "%s= must be a decimal number", tag);
		if (i >= maxdigits || x > (max - (uint64_t)(v[i] - '0')) / 10)
			return dmarc_fail(p, pos, "%s= is out of range (at most %llu)", tag,
			    (unsigned long long)max);
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	*out = x;
	return 0;
}

/*
 * dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ], separated by
 * *WSP "," *WSP (section 6.4). Commas and "!" inside a URI must be
 * percent-encoded (section 6.2), so splitting at them is exact. The URI
 * itself is checked for a scheme (RFC 3986 section 3.1) and a non-empty rest.
 */
static int
dmarc_uris(struct dmarc_parser *p, const char *tag, const char *v, size_t n, size_t pos,
    struct dmarc_uri **out, size_t *n_out)
{
	size_t i = 0;

	for (;;) {
		size_t start, end, bang, k;
		uint64_t size = 0;
		struct dmarc_uri *u;

		while (i < n && dmarc_ws(v[i]))
			i++;
		start = i;
		while (i < n && v[i] != ',' && !dmarc_ws(v[i]))
			i++;
		end = i;
		while (i < n && dmarc_ws(v[i]))
			i++;
		if (i < n && v[i] != ',')
			return dmarc_fail(p, pos + i, "%s=: URIs are separated by commas", tag);
		if (start == end)
			return dmarc_fail(p, pos + start, "%s=: empty URI", tag);
		if (*n_out == DMARC_MAX_URIS)
			return dmarc_fail(
			    p, pos + start, "%s=: more than %d URIs", tag, DMARC_MAX_URIS);
		/* The scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":". */
		if (!dmarc_alpha(v[start]))
			return dmarc_fail(p, pos + start,
			    "%s=: a URI starts with its scheme, "
			    "e.g. mailto:",
			    tag);
		for (k = start + 1; k < end && v[k] != ':'; k++)
			if (!dmarc_alpha(v[k]) && !dmarc_digit(v[k]) && v[k] != '+' &&
			    v[k] != '-' && v[k] != '.')
				break;
		if (k == end || v[k] != ':')
			return dmarc_fail(p, pos + start,
			    "%s=: URI without a scheme (write "
			    "mailto:ADDRESS)",
			    tag);
		bang = k;
		while (bang < end && v[bang] != '!')
			bang++;
		if (bang == k + 1)
			return dmarc_fail(p, pos + k, "%s=: nothing after the URI scheme", tag);
		if (bang < end) {
			size_t d = bang + 1, digits_end;
			uint64_t mult = 1;

			digits_end = d;
			while (digits_end < end && dmarc_digit(v[digits_end]))
				digits_end++;
			if (digits_end == d)
				return dmarc_fail(p, pos + bang,
				    "%s=: \"!\" must be followed by a "
				    "size, e.g. !10m",
				    tag);
			if (digits_end < end) {
				switch (v[digits_end]) {
				case 'k':
				case 'K': mult = 1ULL << 10; break;
				case 'm':
				case 'M': mult = 1ULL << 20; break;
				case 'g':
				case 'G': mult = 1ULL << 30; break;
				case 't':
				case 'T': mult = 1ULL << 40; break;
				default:
					return dmarc_fail(p, pos + digits_end,
					    "%s=: size unit must be k, m, g "
					    "or t",
					    tag);
				}
				if (digits_end + 1 != end)
					return dmarc_fail(p, pos + digits_end + 1,
					    "%s=: unexpected text "
					    "after the size",
					    tag);
			}
			if (dmarc_number(p, tag, v + d, digits_end - d, pos + d, 15,
			        999999999999999ULL, &size) != 0)
				return -1;
			if (size > UINT64_MAX / mult)
				return dmarc_fail(p, pos + d, "%s=: size limit out of range", tag);
			size *= mult;
		}
		*out = xrealloc(*out, (*n_out + 1) * sizeof(**out));
		u = &(*out)[(*n_out)++];
		u->uri = xstrndup(v + start, bang - start);
		u->max_bytes = size;
		if (i == n)
			return 0;
		i++; /* the comma */
	}
}

/* dmarc-fo = "0" / "1" / "d" / "s", joined by *WSP ":" *WSP. */
static int
dmarc_fo(struct dmarc_parser *p, const char *v, size_t n, size_t pos)
{
	char text[2 * 4 + 1];
	size_t o = 0, i = 0;
	unsigned fo = 0;

	for (;;) {
		unsigned bit;

		while (i < n && dmarc_ws(v[i]))
			i++;
		if (i == n)
			return dmarc_fail(p, pos + i, "fo=: expected 0, 1, d or s");
		switch (v[i]) {
		case '0': bit = DMARC_FO_0; break;
		case '1': bit = DMARC_FO_1; break;
		case 'd':
		case 'D': bit = DMARC_FO_D; break;
		case 's':
		case 'S': bit = DMARC_FO_S; break;
		default:
			return dmarc_fail(p, pos + i,
			    "fo=: options are 0, 1, d and s, separated by "
			    "\":\"");
		}
		if ((fo & bit) == 0 && o + 2 < sizeof(text)) {
			if (o > 0)
				text[o++] = ':';
			text[o++] = (char)(v[i] | 0x20);
		}
		fo |= bit;
		i++;
		while (i < n && dmarc_ws(v[i]))
			i++;
		if (i == n)
			break;
		if (v[i] != ':')
			return dmarc_fail(p, pos + i, "fo=: options are separated by \":\"");
		i++;
	}
	text[o] = '\0';
	p->rec->fo = fo;
	free(p->rec->fo_text);
	p->rec->fo_text = xstrdup(text);
	return 0;
}

/* dmarc-rfmt = Keyword *( *WSP ":" *WSP Keyword ), Keyword = ldh-str. */
static int
dmarc_rf(struct dmarc_parser *p, const char *v, size_t n, size_t pos)
{
	size_t i = 0;

	for (;;) {
		size_t start;

		while (i < n && dmarc_ws(v[i]))
			i++;
		start = i;
		while (i < n && (dmarc_alpha(v[i]) || dmarc_digit(v[i]) || v[i] == '-'))
			i++;
		if (i == start || !dmarc_alpha(v[start]))
			return dmarc_fail(
			    p, pos + start, "rf=: expected a report format such as afrf");
		while (i < n && dmarc_ws(v[i]))
			i++;
		if (i == n)
			break;
		if (v[i] != ':')
			return dmarc_fail(p, pos + i, "rf=: formats are separated by \":\"");
		i++;
	}
	free(p->rec->rf);
	p->rec->rf = xstrndup(v, n);
	return 0;
}

/* One tag NAME=VALUE; VPOS is the value's offset in the record. */
static int
dmarc_tag(struct dmarc_parser *p, const char *name, size_t nlen, size_t npos, const char *v,
    size_t n, size_t vpos)
{
	static const struct {
		const char *name;
		unsigned bit;
	} known[] = {
	    {"p", DMARC_TAG_P},
	    {"sp", DMARC_TAG_SP},
	    {"pct", DMARC_TAG_PCT},
	    {"rua", DMARC_TAG_RUA},
	    {"ruf", DMARC_TAG_RUF},
	    {"adkim", DMARC_TAG_ADKIM},
	    {"aspf", DMARC_TAG_ASPF},
	    {"fo", DMARC_TAG_FO},
	    {"rf", DMARC_TAG_RF},
	    {"ri", DMARC_TAG_RI},
	};
	struct dmarc_record *rec = p->rec;
	char show[48];
	unsigned bit = 0;
	uint64_t num = 0;

	if (dmarc_word(name, nlen, "v"))
		return dmarc_fail(p, npos, "v= may appear only once, as the first tag");
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (dmarc_word(name, nlen, known[i].name))
			bit = known[i].bit;
	if (bit == 0) {
		/* Section 6.3: unknown tags MUST be ignored; keep the name for lint. */
		rec->unknown = xrealloc(rec->unknown, (rec->n_unknown + 1) * sizeof(*rec->unknown));
		rec->unknown[rec->n_unknown++] = xstrndup(name, nlen);
		return 0;
	}
	if (rec->written & bit)
		return dmarc_fail(
		    p, npos, "tag %s appears twice", dmarc_show(name, nlen, show, sizeof(show)));
	rec->written |= bit;
	switch (bit) {
	case DMARC_TAG_P: return dmarc_policy(p, "p", v, n, vpos, &rec->p);
	case DMARC_TAG_SP: return dmarc_policy(p, "sp", v, n, vpos, &rec->sp);
	case DMARC_TAG_PCT:
		if (dmarc_number(p, "pct", v, n, vpos, 3, 100, &num) != 0)
			return -1;
		rec->pct = (int)num;
		return 0;
	case DMARC_TAG_RUA: return dmarc_uris(p, "rua", v, n, vpos, &rec->rua, &rec->n_rua);
	case DMARC_TAG_RUF: return dmarc_uris(p, "ruf", v, n, vpos, &rec->ruf, &rec->n_ruf);
	case DMARC_TAG_ADKIM:
	case DMARC_TAG_ASPF:
		if (n != 1 || (v[0] != 'r' && v[0] != 's' && v[0] != 'R' && v[0] != 'S'))
			return dmarc_fail(p, vpos, "%s= must be r (relaxed) or s (strict)",
			    bit == DMARC_TAG_ADKIM ? "adkim" : "aspf");
		if (bit == DMARC_TAG_ADKIM)
			rec->adkim = (char)(v[0] | 0x20);
		else
			rec->aspf = (char)(v[0] | 0x20);
		return 0;
	case DMARC_TAG_FO: return dmarc_fo(p, v, n, vpos);
	case DMARC_TAG_RF: return dmarc_rf(p, v, n, vpos);
	case DMARC_TAG_RI:
		if (dmarc_number(p, "ri", v, n, vpos, 32, UINT32_MAX, &num) != 0)
			return -1;
		rec->ri = (uint32_t)num;
		return 0;
	}
	return 0;
}

/* v=DMARC1 at the start: returns the offset after it, or 0 if absent. */
static size_t
dmarc_version(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && dmarc_ws(s[i]))
		i++;
	if (i == len || (s[i] != 'v' && s[i] != 'V'))
		return 0;
	i++;
	while (i < len && dmarc_ws(s[i]))
		i++;
	if (i == len || s[i] != '=')
		return 0;
	i++;
	while (i < len && dmarc_ws(s[i]))
		i++;
	if (len - i < 6 || memcmp(s + i, "DMARC1", 6) != 0)
		return 0;
	i += 6;
	if (i < len && s[i] != ';' && !dmarc_ws(s[i]))
		return 0;
	return i;
}

int
dmarc_is_record(const char *txt, size_t len)
{
	return dmarc_version(txt, len) > 0;
}

void
dmarc_free(struct dmarc_record *rec)
{
	if (rec == NULL)
		return;
	for (size_t i = 0; i < rec->n_rua; i++)
		free(rec->rua[i].uri);
	for (size_t i = 0; i < rec->n_ruf; i++)
		free(rec->ruf[i].uri);
	for (size_t i = 0; i < rec->n_unknown; i++)
		free(rec->unknown[i]);
	free(rec->rua);
	free(rec->ruf);
	free(rec->unknown);
	free(rec->fo_text);
	free(rec->rf);
	free(rec);
}

int
dmarc_parse(const char *txt, size_t len, struct dmarc_record **out, struct dmarc_error *err)
{
	struct dmarc_parser p = {txt, len, NULL, err};
	size_t i;
	int r = -1;

	*out = NULL;
	memset(err, 0, sizeof(*err));
	p.rec = xcalloc(1, sizeof(*p.rec));
	p.rec->pct = 100;
	p.rec->adkim = 'r';
	p.rec->aspf = 'r';
	p.rec->fo = DMARC_FO_0;
	p.rec->fo_text = xstrdup("0");
	p.rec->rf = xstrdup("afrf");
	p.rec->ri = 86400;
	if (len > DMARC_MAX_RECORD) {
		dmarc_fail(&p, DMARC_MAX_RECORD, "record longer than %d bytes", DMARC_MAX_RECORD);
		goto out;
	}
	/* Section 6.3: "v" is required and MUST be the first tag. */
	i = dmarc_version(txt, len);
	if (i == 0) {
		dmarc_fail(&p, 0, "a DMARC record must start with v=DMARC1");
		goto out;
	}
	while (i < len && dmarc_ws(txt[i]))
		i++;
	if (i < len && txt[i] != ';') {
		dmarc_fail(&p, i, "expected \";\" after v=DMARC1");
		goto out;
	}
	while (i < len) {
		size_t npos, nlen, vpos, vend;

		i++; /* the ";" */
		while (i < len && dmarc_ws(txt[i]))
			i++;
		if (i == len)
			break; /* a trailing ";" is allowed */
		npos = i;
		if (!dmarc_alpha(txt[i])) {
			dmarc_fail(&p, i,
			    txt[i] == ';' ? "empty tag (\";;\")"
			                  : "expected a tag name (a letter)");
			goto out;
		}
		while (i < len && (dmarc_alpha(txt[i]) || dmarc_digit(txt[i]) || txt[i] == '_'))
			i++;
		nlen = i - npos;
		while (i < len && dmarc_ws(txt[i]))
			i++;
		if (i == len || txt[i] != '=') {
			char show[48];

			dmarc_fail(&p, i, "expected \"=\" after the tag name %s",
			    dmarc_show(txt + npos, nlen, show, sizeof(show)));
			goto out;
		}
		i++;
		while (i < len && dmarc_ws(txt[i]))
			i++;
		vpos = i;
		while (i < len && txt[i] != ';') {
			if (!dmarc_valchar(txt[i]) && !dmarc_ws(txt[i])) {
				dmarc_fail(&p, i, "byte 0x%02x is not allowed in a tag value",
				    (unsigned char)txt[i]);
				goto out;
			}
			i++;
		}
		vend = i;
		while (vend > vpos && dmarc_ws(txt[vend - 1]))
			vend--;
		if (dmarc_tag(&p, txt + npos, nlen, npos, txt + vpos, vend - vpos, vpos) != 0)
			goto out;
	}
	if (!(p.rec->written & DMARC_TAG_P)) {
		dmarc_fail(&p, len, "p= is missing; it is required (RFC 7489 section 6.3)");
		goto out;
	}
	if (!(p.rec->written & DMARC_TAG_SP))
		p.rec->sp = p.rec->p;
	*out = p.rec;
	p.rec = NULL;
	r = 0;
out:
	dmarc_free(p.rec);
	return r;
}

char *
dmarc_starter_record(const char *domain)
{
	return xasprintf("v=DMARC1; p=none; rua=mailto:dmarc-reports@%s", domain);
}
