/*
 * dnsmsg.c - see dnsmsg.h.
 *
 * libresolv does the framing: ns_initparse() checks that the header counts
 * and every record's name/type/class/ttl/rdlength fit the buffer (and that
 * nothing trails the last record), ns_parserr() hands out one record at a
 * time with its owner already uncompressed. What libresolv does NOT do is
 * look inside RDATA: every field read here is checked against rdlength, and
 * a domain name inside RDATA is uncompressed against the whole message
 * (a compression pointer may point anywhere in it) but must END inside the
 * RDATA, since ns_name_uncompress() only knows the end of the message.
 */
#include "dnsmsg.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define DNSMSG_HEADER_LEN 12
#define DNSMSG_MAX_LEN 65535 /* RFC 1035 4.2.2: TCP length is 16 bits */
#define DNSMSG_MAX_CNAME_LINKS 16
#define DNSMSG_CLASS_IN 1
#define DNSMSG_TYPE_OPT 41

static const char *const dnsmsg_section_names[] = {
    [DNSMSG_ANSWER] = "answer",
    [DNSMSG_AUTHORITY] = "authority",
    [DNSMSG_ADDITIONAL] = "additional",
};

/* Where we are, for error messages. */
struct dnsmsg_ctx {
	const unsigned char *msg, *eom;
	enum dnsmsg_section section;
	int index;
	int type;
};

static char *dnsmsg_rr_error(const struct dnsmsg_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "answer record 2 (MX): <printf FMT>", a new string. */
static char *
dnsmsg_rr_error(const struct dnsmsg_ctx *ctx, const char *fmt, ...)
{
	char tbuf[16];
	char *what, *r;
	va_list ap;

	va_start(ap, fmt);
	what = xvasprintf(fmt, ap);
	va_end(ap);
	r = xasprintf("%s record %d (%s): %s", dnsmsg_section_names[ctx->section], ctx->index,
	    dnsmsg_type_str(ctx->type, tbuf, sizeof(tbuf)), what);
	free(what);
	return r;
}

/*
 * Copy a name from libresolv, which spells the root "." (ns_parserr's owner
 * included, whatever dn_expand(3) says); dnsmsg.h promises "".
 */
static char *
dnsmsg_name_dup(const char *name)
{
	return xstrdup(strcmp(name, ".") == 0 ? "" : name);
}

/*
 * Uncompress the domain name at *P, which must end at or before END (the end
 * of the RDATA), into a new string in *OUT (presentation form, escapes as
 * ns_name_ntop writes them, no trailing dot, "" for the root). Advances *P.
 * Returns 0, or -1 with *OUT untouched.
 */
static int
dnsmsg_rdata_name(
    const struct dnsmsg_ctx *ctx, const unsigned char **p, const unsigned char *end, char **out)
{
	char name[NS_MAXDNAME];
	int n;

	if (*p >= end)
		return -1;
	n = ns_name_uncompress(ctx->msg, ctx->eom, *p, name, sizeof(name));
	/* n counts the bytes at *P only (up to and incl. the first pointer) */
	if (n <= 0 || n > end - *p)
		return -1;
	*p += n;
	*out = dnsmsg_name_dup(name);
	return 0;
}

/* RFC 1035 3.3.14: one or more <character-string>s filling the RDATA. */
static int
dnsmsg_parse_txt(struct dnsmsg_rr *rr, const unsigned char *p, const unsigned char *end)
{
	const unsigned char *q;
	size_t n = 0, total = 0, i, off;

	if (p == end)
		return -1;
	/* first pass: count and check every string fits */
	for (q = p; q < end; q += 1 + (size_t)*q) {
		if ((size_t)*q > (size_t)(end - q - 1))
			return -1;
		n++;
		total += *q;
	}
	rr->strings = xcalloc(n, sizeof(*rr->strings));
	rr->string_lens = xcalloc(n, sizeof(*rr->string_lens));
	rr->n_strings = n;
	rr->text = xmalloc(total + 1);
	rr->text_len = total;
	off = 0;
	for (i = 0, q = p; i < n; i++, q += 1 + (size_t)*q) {
		size_t len = *q;

		rr->strings[i] = xmalloc(len + 1);
		memcpy(rr->strings[i], q + 1, len);
		rr->strings[i][len] = '\0';
		rr->string_lens[i] = len;
		memcpy(rr->text + off, q + 1, len);
		off += len;
	}
	rr->text[total] = '\0';
	return 0;
}

/*
 * Decode the RDATA of a known type into RR. Returns 0, or -1 with *ERR set.
 * Every fixed-size field is checked against the bytes left; names must end
 * inside the RDATA; and the fields must use the RDATA up exactly.
 */
static int
dnsmsg_parse_rdata(const struct dnsmsg_ctx *ctx, struct dnsmsg_rr *rr, const unsigned char *rdata,
    size_t rdlen, char **err)
{
	const unsigned char *p = rdata, *end = rdata + rdlen;
	const char *what = NULL;

	switch (rr->type) {
	case DNSMSG_A:
	case DNSMSG_AAAA: {
		int af = rr->type == DNSMSG_A ? AF_INET : AF_INET6;
		size_t want = rr->type == DNSMSG_A ? 4 : 16;

		/* RFC 1035 3.4.1 / RFC 3596 2.2: the format is defined for IN only */
		if (rr->rclass != DNSMSG_CLASS_IN)
			return 0;
		if (rdlen != want) {
			*err = dnsmsg_rr_error(ctx, "address is %zu bytes, not %zu", rdlen, want);
			return -1;
		}
		if (inet_ntop(af, rdata, rr->addr, sizeof(rr->addr)) == NULL) {
			*err = dnsmsg_rr_error(ctx, "cannot format the address");
			return -1;
		}
		return 0;
	}
	case DNSMSG_CNAME:
	case DNSMSG_NS:
	case DNSMSG_PTR:
		if (dnsmsg_rdata_name(ctx, &p, end, &rr->target) != 0) {
			what = "target name malformed or not inside the rdata";
			goto bad;
		}
		break;
	case DNSMSG_MX:
		/* RFC 1035 3.3.9: PREFERENCE(16) EXCHANGE(name, at least the root) */
		if (rdlen < 3) {
			*err = dnsmsg_rr_error(ctx, "rdata is %zu bytes, at least 3 needed", rdlen);
			return -1;
		}
		rr->preference = (uint16_t)ns_get16(p);
		p += 2;
		if (dnsmsg_rdata_name(ctx, &p, end, &rr->target) != 0) {
			what = "exchange name malformed or not inside the rdata";
			goto bad;
		}
		break;
	case DNSMSG_SRV:
		/* RFC 2782: PRIORITY(16) WEIGHT(16) PORT(16) TARGET(name) */
		if (rdlen < 7) {
			*err = dnsmsg_rr_error(ctx, "rdata is %zu bytes, at least 7 needed", rdlen);
			return -1;
		}
		rr->priority = (uint16_t)ns_get16(p);
		rr->weight = (uint16_t)ns_get16(p + 2);
		rr->port = (uint16_t)ns_get16(p + 4);
		p += 6;
		if (dnsmsg_rdata_name(ctx, &p, end, &rr->target) != 0) {
			what = "target name malformed or not inside the rdata";
			goto bad;
		}
		break;
	case DNSMSG_SOA:
		/* RFC 1035 3.3.13: MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM */
		if (dnsmsg_rdata_name(ctx, &p, end, &rr->mname) != 0 ||
		    dnsmsg_rdata_name(ctx, &p, end, &rr->rname) != 0) {
			what = "mname or rname malformed or not inside the rdata";
			goto bad;
		}
		if (end - p != 20) {
			*err =
			    dnsmsg_rr_error(ctx, "timers are %zu bytes, not 20", (size_t)(end - p));
			return -1;
		}
		rr->serial = (uint32_t)ns_get32(p);
		rr->refresh = (uint32_t)ns_get32(p + 4);
		rr->retry = (uint32_t)ns_get32(p + 8);
		rr->expire = (uint32_t)ns_get32(p + 12);
		rr->minimum = (uint32_t)ns_get32(p + 16);
		p += 20;
		break;
	case DNSMSG_TXT:
		if (dnsmsg_parse_txt(rr, p, end) != 0) {
			what = "character-strings do not fill the rdata";
			goto bad;
		}
		p = end;
		break;
	default: return 0;
	}
	if (p != end) {
		*err =
		    dnsmsg_rr_error(ctx, "%zu bytes after the fields in rdata", (size_t)(end - p));
		return -1;
	}
	return 0;
bad:
	*err = dnsmsg_rr_error(ctx, "%s", what);
	return -1;
}

static void
dnsmsg_rr_clear(struct dnsmsg_rr *rr)
{
	size_t i;

	free(rr->name);
	free(rr->target);
	for (i = 0; i < rr->n_strings; i++)
		free(rr->strings[i]);
	free(rr->strings);
	free(rr->string_lens);
	free(rr->text);
	free(rr->mname);
	free(rr->rname);
}

void
dnsmsg_free(struct dnsmsg *msg)
{
	size_t i;

	if (msg == NULL)
		return;
	for (i = 0; i < msg->n_rr; i++)
		dnsmsg_rr_clear(&msg->rr[i]);
	free(msg->rr);
	free(msg->qname);
	free(msg);
}

int
dnsmsg_parse(const unsigned char *buf, size_t len, struct dnsmsg **out, char **err)
{
	static const ns_sect sects[] = {ns_s_an, ns_s_ns, ns_s_ar};
	struct dnsmsg *msg = NULL;
	struct dnsmsg_ctx ctx;
	char *e = NULL;
	ns_msg handle;
	ns_rr rr;
	size_t total, k = 0, s;
	int i, count, r = -1;

	*out = NULL;
	if (err != NULL)
		*err = NULL;
	if (buf == NULL || len < DNSMSG_HEADER_LEN) {
		e = xasprintf("truncated header (%zu bytes)", buf == NULL ? 0 : len);
		goto out;
	}
	if (len > DNSMSG_MAX_LEN) {
		e = xasprintf("message longer than %d bytes", DNSMSG_MAX_LEN);
		goto out;
	}
	/* checks every record's frame fits, and that no bytes trail */
	if (ns_initparse(buf, (int)len, &handle) != 0) {
		e = xasprintf("malformed message: the records do not fit the %zu bytes", len);
		goto out;
	}
	msg = xcalloc(1, sizeof(*msg));
	msg->id = ns_msg_id(handle);
	msg->rcode = ns_msg_getflag(handle, ns_f_rcode);
	msg->aa = ns_msg_getflag(handle, ns_f_aa);
	msg->tc = ns_msg_getflag(handle, ns_f_tc);
	msg->rd = ns_msg_getflag(handle, ns_f_rd);
	msg->ra = ns_msg_getflag(handle, ns_f_ra);

	/* only the first question counts (RFC 9619: QDCOUNT is 0 or 1) */
	if (ns_msg_count(handle, ns_s_qd) > 0) {
		if (ns_parserr(&handle, ns_s_qd, 0, &rr) != 0) {
			e = xstrdup("malformed question");
			goto out;
		}
		msg->qname = dnsmsg_name_dup(ns_rr_name(rr));
		msg->qtype = (int)ns_rr_type(rr);
	}

	/* bounded by LEN: ns_initparse saw at least 11 bytes per record */
	total = (size_t)ns_msg_count(handle, ns_s_an) + ns_msg_count(handle, ns_s_ns) +
	    ns_msg_count(handle, ns_s_ar);
	if (total > 0)
		msg->rr = xcalloc(total, sizeof(*msg->rr));
	msg->n_rr = total; /* all zeroed, so dnsmsg_free can run any time */

	ctx.msg = buf;
	ctx.eom = buf + len;
	for (s = 0; s < UTIL_ARRAY_LEN(sects); s++) {
		count = ns_msg_count(handle, sects[s]);
		ctx.section = (enum dnsmsg_section)s;
		/* in order, so ns_parserr never rescans the section */
		for (i = 0; i < count; i++, k++) {
			struct dnsmsg_rr *out_rr = &msg->rr[k];

			ctx.index = i;
			ctx.type = 0;
			if (ns_parserr(&handle, sects[s], i, &rr) != 0) {
				e = xasprintf("%s record %d: malformed owner name or header",
				    dnsmsg_section_names[s], i);
				goto out;
			}
			ctx.type = (int)ns_rr_type(rr);
			out_rr->section = (enum dnsmsg_section)s;
			out_rr->name = dnsmsg_name_dup(ns_rr_name(rr));
			out_rr->type = (int)ns_rr_type(rr);
			out_rr->rclass = (int)ns_rr_class(rr);
			/*
			 * RFC 2181 8: a TTL with the top bit set is treated as
			 * zero. OPT (RFC 6891) keeps its raw bits: they are flags.
			 */
			out_rr->ttl = (uint32_t)ns_rr_ttl(rr);
			if (out_rr->ttl > INT32_MAX && out_rr->type != DNSMSG_TYPE_OPT)
				out_rr->ttl = 0;
			if (dnsmsg_parse_rdata(
			        &ctx, out_rr, ns_rr_rdata(rr), ns_rr_rdlen(rr), &e) != 0)
				goto out;
		}
	}
	*out = msg;
	msg = NULL; /* transferred */
	r = 0;
out:
	dnsmsg_free(msg);
	if (err != NULL) {
		*err = e;
		e = NULL; /* transferred */
	}
	free(e);
	return r;
}

/*
 * Length of NAME without one trailing dot that ends it as a separator (not an
 * escaped "\." that is part of the last label).
 */
static size_t
dnsmsg_name_len(const char *name)
{
	size_t len = strlen(name), bs = 0;

	if (len == 0 || name[len - 1] != '.')
		return len;
	while (bs < len - 1 && name[len - 2 - bs] == '\\')
		bs++;
	return bs % 2 == 0 ? len - 1 : len;
}

/*
 * The next character of presentation-form name S (LEN bytes) from *I: its
 * byte value, or -1 for a label separator (an unescaped dot). "\DDD" and
 * "\X" are the byte they stand for, as ns_name_ntop writes them and c-ares
 * reads a query name.
 */
static int
dnsmsg_name_char(const char *s, size_t len, size_t *i)
{
	unsigned char c = (unsigned char)s[(*i)++];

	if (c == '.')
		return -1;
	if (c != '\\' || *i >= len)
		return c;
	if (*i + 2 < len && isdigit((unsigned char)s[*i]) && isdigit((unsigned char)s[*i + 1]) &&
	    isdigit((unsigned char)s[*i + 2])) {
		int v = (s[*i] - '0') * 100 + (s[*i + 1] - '0') * 10 + (s[*i + 2] - '0');

		*i += 3;
		return v & 0xff;
	}
	return (unsigned char)s[(*i)++];
}

/*
 * DNS names compare ASCII case-insensitively (RFC 4343), trailing dot aside,
 * and byte by byte: "a\032b" (an answer's owner as libresolv spells it) is
 * the name "a b" that was asked.
 */
static int
dnsmsg_name_eq(const char *a, const char *b)
{
	size_t la = dnsmsg_name_len(a), lb = dnsmsg_name_len(b), i = 0, k = 0;

	while (i < la && k < lb) {
		int ca = dnsmsg_name_char(a, la, &i), cb = dnsmsg_name_char(b, lb, &k);

		if (ca >= 'A' && ca <= 'Z')
			ca = ca - 'A' + 'a';
		if (cb >= 'A' && cb <= 'Z')
			cb = cb - 'A' + 'a';
		if (ca != cb)
			return 0;
	}
	return i == la && k == lb;
}

const struct dnsmsg_rr *
dnsmsg_next(
    const struct dnsmsg *msg, enum dnsmsg_section section, int type, const char *name, size_t *iter)
{
	const struct dnsmsg_rr *rr;

	if (msg == NULL || iter == NULL)
		return NULL;
	while (*iter < msg->n_rr) {
		rr = &msg->rr[(*iter)++];
		if (rr->section != section || rr->type != type)
			continue;
		if (name != NULL && !dnsmsg_name_eq(rr->name, name))
			continue;
		return rr;
	}
	return NULL;
}

const char *
dnsmsg_resolve_cname(const struct dnsmsg *msg, const char *name)
{
	const struct dnsmsg_rr *rr;
	const char *cur = name;
	size_t iter;
	int links;

	if (msg == NULL || name == NULL)
		return name;
	/* a loop simply runs out of links: the name reached then is returned */
	for (links = 0; links < DNSMSG_MAX_CNAME_LINKS; links++) {
		iter = 0;
		rr = dnsmsg_next(msg, DNSMSG_ANSWER, DNSMSG_CNAME, cur, &iter);
		if (rr == NULL || rr->target == NULL)
			break;
		cur = rr->target;
	}
	return cur;
}

const char *
dnsmsg_type_str(int type, char *buf, size_t len)
{
	static const struct {
		int type;
		const char *name;
	} names[] = {
	    {1, "A"},
	    {2, "NS"},
	    {5, "CNAME"},
	    {6, "SOA"},
	    {12, "PTR"},
	    {15, "MX"},
	    {16, "TXT"},
	    {28, "AAAA"},
	    {33, "SRV"},
	    {41, "OPT"},
	    {43, "DS"},
	    {46, "RRSIG"},
	    {47, "NSEC"},
	    {48, "DNSKEY"},
	    {52, "TLSA"},
	    {99, "SPF"},
	    {257, "CAA"},
	};
	size_t i;

	if (buf == NULL || len == 0)
		return "";
	for (i = 0; i < UTIL_ARRAY_LEN(names); i++) {
		if (names[i].type == type) {
			snprintf(buf, len, "%s", names[i].name);
			return buf;
		}
	}
	snprintf(buf, len, "TYPE%d", type);
	return buf;
}
