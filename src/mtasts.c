/* mtasts.c - MTA-STS record, policy and MX patterns (see mtasts.h). */
#include "mtasts.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

static size_t
mtasts_wsp(const char *s, size_t i, size_t n)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i;
}

int
mtasts_txt_parse(const char *txt, size_t len, char id[33], char *err, size_t errlen)
{
	size_t i = 0;
	int have_id = 0;

	id[0] = '\0';
	/* sts-version = %s"v" *WSP "=" *WSP %s"STSv1" */
	if (len < 1 || txt[0] != 'v')
		return 0;
	i = mtasts_wsp(txt, 1, len);
	if (i >= len || txt[i] != '=')
		return 0;
	i = mtasts_wsp(txt, i + 1, len);
	if (len - i < 5 || memcmp(txt + i, "STSv1", 5) != 0)
		return 0;
	i += 5;
	while (i < len) {
		size_t k, ks, ke, vs, ve;

		/* sts-field-delim = *WSP ";" *WSP */
		i = mtasts_wsp(txt, i, len);
		if (i >= len)
			break;
		if (txt[i] != ';') {
			snprintf(err, errlen, "expected ';' at position %zu", i + 1);
			return -1;
		}
		i = mtasts_wsp(txt, i + 1, len);
		if (i >= len)
			break; /* a trailing delimiter is allowed */
		ks = i;
		while (i < len &&
		    (isalnum((unsigned char)txt[i]) || txt[i] == '_' || txt[i] == '-' ||
		        txt[i] == '.'))
			i++;
		ke = i;
		if (ke == ks || ke - ks > 32) {
			snprintf(err, errlen, "bad field name at position %zu", ks + 1);
			return -1;
		}
		i = mtasts_wsp(txt, i, len);
		if (i >= len || txt[i] != '=') {
			snprintf(
			    err, errlen, "expected '=' after \"%.*s\"", (int)(ke - ks), txt + ks);
			return -1;
		}
		vs = i = mtasts_wsp(txt, i + 1, len);
		while (i < len && txt[i] > 0x20 && txt[i] < 0x7f && txt[i] != ';' && txt[i] != '=')
			i++;
		ve = i;
		if (ve == vs) {
			snprintf(err, errlen, "empty value for \"%.*s\"", (int)(ke - ks), txt + ks);
			return -1;
		}
		if (ke - ks == 2 && memcmp(txt + ks, "id", 2) == 0 && !have_id) {
			if (ve - vs > 32) {
				snprintf(err, errlen, "id longer than 32 characters");
				return -1;
			}
			for (k = vs; k < ve; k++)
				if (!isalnum((unsigned char)txt[k])) {
					snprintf(
					    err, errlen, "id may hold only letters and digits");
					return -1;
				}
			memcpy(id, txt + vs, ve - vs);
			id[ve - vs] = '\0';
			have_id = 1;
		}
	}
	if (!have_id) {
		snprintf(err, errlen, "no id= field (RFC 8461 section 3.1)");
		return -1;
	}
	return 1;
}

void
mtasts_policy_free(struct mtasts_policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n_mx; i++)
		free(p->mx[i]);
	free(p->mx);
	memset(p, 0, sizeof(*p));
}

/* An mx value: "*." optional, then dot-separated labels of letters, digits, '-'. */
static int
mtasts_pattern_ok(const char *s, size_t n)
{
	size_t label = 0;

	if (n >= 2 && s[0] == '*' && s[1] == '.') {
		s += 2;
		n -= 2;
	}
	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if (isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_') {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return 1;
}

int
mtasts_policy_parse(
    const char *body, size_t len, struct mtasts_policy *out, char *err, size_t errlen)
{
	size_t i = 0, lineno = 0;
	int have_version = 0, have_mode = 0, have_age = 0;

	memset(out, 0, sizeof(*out));
	if (len > MTASTS_MAX_POLICY) {
		snprintf(err, errlen, "policy larger than %d bytes", MTASTS_MAX_POLICY);
		return -1;
	}
	while (i < len) {
		size_t s = i, e, ke, vs, ve;

		lineno++;
		while (i < len && body[i] != '\n')
			i++;
		e = i;
		if (i < len)
			i++; /* the LF */
		if (e > s && body[e - 1] == '\r')
			e--;
		if (e == s)
			continue; /* an empty line (a trailing terminator) */
		ke = s;
		while (ke < e && body[ke] != ':')
			ke++;
		if (ke == e || ke == s) {
			snprintf(err, errlen, "line %zu: not \"key: value\"", lineno);
			goto fail;
		}
		for (size_t k = s; k < ke; k++)
			if (!isalnum((unsigned char)body[k]) && body[k] != '_' && body[k] != '-' &&
			    body[k] != '.') {
				snprintf(err, errlen, "line %zu: bad key", lineno);
				goto fail;
			}
		vs = mtasts_wsp(body, ke + 1, e);
		ve = e;
		while (ve > vs && (body[ve - 1] == ' ' || body[ve - 1] == '\t'))
			ve--;
		for (size_t k = vs; k < ve; k++)
			if ((unsigned char)body[k] < 0x20 || body[k] == 0x7f) {
				snprintf(err, errlen, "line %zu: control character in the value",
				    lineno);
				goto fail;
			}
#define KEY(name) (ke - s == sizeof(name) - 1 && memcmp(body + s, name, sizeof(name) - 1) == 0)
#define VAL(word) (ve - vs == sizeof(word) - 1 && memcmp(body + vs, word, sizeof(word) - 1) == 0)
		if (KEY("version")) {
			if (have_version)
				continue;
			if (!VAL("STSv1")) {
				snprintf(err, errlen, "line %zu: version is not STSv1", lineno);
				goto fail;
			}
			have_version = 1;
		} else if (KEY("mode")) {
			if (have_mode)
				continue;
			if (!VAL("enforce") && !VAL("testing") && !VAL("none")) {
				snprintf(err, errlen,
				    "line %zu: mode must be enforce, testing or none", lineno);
				goto fail;
			}
			memcpy(out->mode, body + vs, ve - vs);
			out->mode[ve - vs] = '\0';
			have_mode = 1;
		} else if (KEY("max_age")) {
			long v = 0;

			if (have_age)
				continue;
			if (ve == vs || ve - vs > 10) {
				snprintf(err, errlen, "line %zu: max_age must be 1 to 10 digits",
				    lineno);
				goto fail;
			}
			for (size_t k = vs; k < ve; k++) {
				if (!isdigit((unsigned char)body[k])) {
					snprintf(err, errlen,
					    "line %zu: max_age must be 1 to 10 digits", lineno);
					goto fail;
				}
				v = v * 10 + (body[k] - '0');
			}
			if (v > MTASTS_MAX_AGE) {
				snprintf(err, errlen, "line %zu: max_age above %d", lineno,
				    MTASTS_MAX_AGE);
				goto fail;
			}
			out->max_age = v;
			have_age = 1;
		} else if (KEY("mx")) {
			if (!mtasts_pattern_ok(body + vs, ve - vs)) {
				snprintf(err, errlen, "line %zu: bad mx pattern", lineno);
				goto fail;
			}
			if (out->n_mx == MTASTS_MAX_MX) {
				snprintf(err, errlen, "more than %d mx lines", MTASTS_MAX_MX);
				goto fail;
			}
			out->mx = xrealloc(out->mx, (out->n_mx + 1) * sizeof(*out->mx));
			out->mx[out->n_mx++] = xstrndup(body + vs, ve - vs);
		}
#undef KEY
#undef VAL
		/* other keys: extensions, ignored (section 3.2) */
	}
	if (!have_version || !have_mode || !have_age) {
		snprintf(err, errlen, "missing %s (RFC 8461 section 3.2)",
		    !have_version    ? "version"
		        : !have_mode ? "mode"
		                     : "max_age");
		goto fail;
	}
	if (out->n_mx == 0 && strcmp(out->mode, "none") != 0) {
		snprintf(err, errlen, "no mx line (required unless mode is none)");
		goto fail;
	}
	return 0;
fail:
	mtasts_policy_free(out);
	return -1;
}

int
mtasts_mx_match(const char *pattern, const char *host)
{
	size_t lp = strlen(pattern), lh = strlen(host);
	const char *dot;

	if (lp > 0 && pattern[lp - 1] == '.')
		lp--;
	if (lh > 0 && host[lh - 1] == '.')
		lh--;
	if (lp >= 2 && pattern[0] == '*' && pattern[1] == '.') {
		/* exactly one label before the suffix */
		dot = memchr(host, '.', lh);
		if (dot == NULL || dot == host)
			return 0;
		return (size_t)(host + lh - dot) == lp - 1 &&
		    strncasecmp(dot, pattern + 1, lp - 1) == 0;
	}
	return lp == lh && strncasecmp(pattern, host, lp) == 0;
}

int
mtasts_tlsrpt_parse(
    const char *txt, size_t len, char **uris, size_t max, size_t *n, char *err, size_t errlen)
{
	size_t i;
	int have_rua = 0;

	*n = 0;
	/* tlsrpt-version = %s"v=TLSRPTv1" */
	if (len < 11 || memcmp(txt, "v=TLSRPTv1", 10) != 0 ||
	    (txt[10] != ';' && txt[10] != ' ' && txt[10] != '\t'))
		return len == 10 && memcmp(txt, "v=TLSRPTv1", 10) == 0
		    ? (snprintf(err, errlen, "no rua= field (RFC 8460 section 3)"), -1)
		    : 0;
	i = 10;
	while (i < len) {
		size_t ks, ke, vs, ve;

		i = mtasts_wsp(txt, i, len);
		if (i >= len)
			break;
		if (txt[i] != ';') {
			snprintf(err, errlen, "expected ';' at position %zu", i + 1);
			goto fail;
		}
		i = mtasts_wsp(txt, i + 1, len);
		if (i >= len)
			break;
		ks = i;
		while (i < len &&
		    (isalnum((unsigned char)txt[i]) || txt[i] == '_' || txt[i] == '-' ||
		        txt[i] == '.'))
			i++;
		ke = i;
		if (ke == ks || i >= len || txt[i] != '=') {
			snprintf(err, errlen, "bad field at position %zu", ks + 1);
			goto fail;
		}
		vs = ++i;
		while (i < len && txt[i] != ';' && txt[i] != ' ' && txt[i] != '\t')
			i++;
		ve = i;
		if (ke - ks != 3 || memcmp(txt + ks, "rua", 3) != 0 || have_rua)
			continue; /* extension fields are ignored */
		have_rua = 1;
		while (vs < ve) {
			size_t e = vs;

			while (e < ve && txt[e] != ',')
				e++;
			if (!((e - vs > 7 && strncasecmp(txt + vs, "mailto:", 7) == 0 &&
			          memchr(txt + vs, '@', e - vs) != NULL) ||
			        (e - vs > 8 && strncasecmp(txt + vs, "https://", 8) == 0))) {
				snprintf(err, errlen,
				    "rua: \"%.*s\" is not a mailto: or https: URI",
				    (int)(e - vs > 80 ? 80 : e - vs), txt + vs);
				goto fail;
			}
			if (*n < max)
				uris[(*n)++] = xstrndup(txt + vs, e - vs);
			vs = e + 1;
		}
	}
	if (!have_rua || *n == 0) {
		snprintf(err, errlen, "no rua= field (RFC 8460 section 3)");
		goto fail;
	}
	return 1;
fail:
	while (*n > 0)
		free(uris[--*n]);
	return -1;
}
