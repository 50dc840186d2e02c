/*
 * sync_util.c - pure helpers of the sync engine (no I/O, no state):
 * unit-tested and fuzzed through sync.h.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "imap.h"
#include "net.h"
#include "syncflags.h"
#include "syncstate.h"
#include "sync_p.h"
#include "util.h"

/* ================================================================ helpers ===== */

char *
sync_map_name(const char *raw, char src_delim, char dst_delim, int *rewritten)
{
	return folders_map_name(raw, src_delim, dst_delim, 1, rewritten);
}

char *
sync_message_id(const char *hdr, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t eol = i;

		while (eol < len && hdr[eol] != '\n')
			eol++;
		if (eol - i >= 11 && strncasecmp(hdr + i, "Message-ID:", 11) == 0) {
			char buf[999];
			size_t o = 0, k = i + 11;

			/* Unfold: continuation lines start with a space or tab. */
			for (;;) {
				for (; k < eol && o < sizeof(buf) - 1; k++)
					if (hdr[k] != '\r')
						buf[o++] = hdr[k];
				if (eol + 1 < len &&
				    (hdr[eol + 1] == ' ' || hdr[eol + 1] == '\t')) {
					k = eol + 1;
					eol = k;
					while (eol < len && hdr[eol] != '\n')
						eol++;
					continue;
				}
				break;
			}
			buf[o] = '\0';
			{
				char *s = buf, *e = buf + o;

				while (s < e && isspace((unsigned char)*s))
					s++;
				while (e > s && isspace((unsigned char)e[-1]))
					e--;
				if (e == s)
					return NULL;
				return xstrndup(s, (size_t)(e - s));
			}
		}
		i = eol + 1;
	}
	return NULL;
}

int
sync_uid_set(const char *s, uint32_t *out, size_t max)
{
	size_t n = 0;

	while (*s != '\0') {
		unsigned long long a = 0, b;
		int digits = 0;

		while (isdigit((unsigned char)*s) && digits < 11) {
			a = a * 10 + (unsigned long long)(*s++ - '0');
			digits++;
		}
		if (digits == 0 || a == 0 || a > 4294967295ULL)
			return -1;
		b = a;
		if (*s == ':') {
			s++;
			b = 0;
			digits = 0;
			while (isdigit((unsigned char)*s) && digits < 11) {
				b = b * 10 + (unsigned long long)(*s++ - '0');
				digits++;
			}
			if (digits == 0 || b == 0 || b > 4294967295ULL)
				return -1;
		}
		if (b < a) {
			unsigned long long t = a;

			a = b;
			b = t;
		}
		if (b - a + 1 > max - n)
			return -1;
		for (unsigned long long u = a; u <= b; u++)
			out[n++] = (uint32_t)u;
		if (*s == ',')
			s++;
		else if (*s != '\0')
			return -1;
	}
	return (int)n;
}

int
sync_copyuid(const char *s, uint32_t *uidvalidity, uint32_t *src, uint32_t *dst, size_t max)
{
	const char *a = strchr(s, ' '), *b;
	char *ss, *ds, num[16];
	int ns, nd;

	if (a == NULL || (size_t)(a - s) >= sizeof(num) || (b = strchr(a + 1, ' ')) == NULL)
		return -1;
	memcpy(num, s, (size_t)(a - s));
	num[a - s] = '\0';
	if (sync_parse_u32(num, uidvalidity) != 0 || *uidvalidity == 0)
		return -1;
	ss = xstrndup(a + 1, (size_t)(b - a - 1));
	ds = xstrndup(b + 1, strcspn(b + 1, " "));
	ns = sync_uid_set(ss, src, max);
	nd = sync_uid_set(ds, dst, max);
	free(ss);
	free(ds);
	return ns > 0 && ns == nd ? ns : -1;
}

long
sync_throttle_ms(const char *code, const char *text)
{
	const char *p;

	if (text != NULL && (p = strcasestr(text, "Suggested Backoff Time")) != NULL) {
		long v = 0;

		p += strlen("Suggested Backoff Time");
		while (*p != '\0' && !isdigit((unsigned char)*p))
			p++;
		while (isdigit((unsigned char)*p) && v < 100000000)
			v = v * 10 + (*p++ - '0');
		return v > 0 ? v : -1;
	}
	if (code != NULL &&
	    (strncasecmp(code, "THROTTLED", 9) == 0 || strncasecmp(code, "UNAVAILABLE", 11) == 0 ||
	        strncasecmp(code, "LIMIT", 5) == 0 || strncasecmp(code, "INUSE", 5) == 0))
		return -1;
	return 0;
}

/* "a:b,c" for the sorted UIDS[0..N), at most SYNC_SET_MAX characters: *TAKEN
 * says how many UIDs it covers. Caller frees. */
char *
sync_set_str(const uint32_t *uids, size_t n, size_t *taken)
{
	char *s = xmalloc(SYNC_SET_MAX + 32);
	size_t len = 0, i = 0;

	s[0] = '\0';
	while (i < n && len < SYNC_SET_MAX) {
		size_t j = i;

		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		if (j > i)
			len += (size_t)snprintf(
			    s + len, 32, "%s%u:%u", len ? "," : "", uids[i], uids[j]);
		else
			len += (size_t)snprintf(s + len, 32, "%s%u", len ? "," : "", uids[i]);
		i = j + 1;
	}
	*taken = i;
	return s;
}

int
sync_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int
sync_has_u32(const uint32_t *v, size_t n, uint32_t x)
{
	return n > 0 && bsearch(&x, v, n, sizeof(*v), sync_cmp_u32) != NULL;
}

struct syncstate_msg
sync_intent_row(uint32_t src_uid, uint64_t size, const unsigned char *sha256, char *msgid,
    uint32_t uidvalidity, uint32_t uidnext)
{
	struct syncstate_msg in;

	memset(&in, 0, sizeof(in));
	in.src_uid = src_uid;
	in.state = SYNCSTATE_INTENT;
	in.size = size;
	memcpy(in.sha256, sha256, sizeof(in.sha256));
	in.has_hash = 1;
	in.message_id = msgid;
	in.dst_uidvalidity = uidvalidity;
	in.dst_uidnext = uidnext;
	return in;
}

/* The UID in the text of a FETCH response so far ("* 3 FETCH (UID 45 BODY[] "). */
uint32_t
sync_prefix_uid(const char *s, size_t len)
{
	for (size_t i = 0; i + 4 < len; i++) {
		if ((s[i] == '(' || s[i] == ' ') && strncasecmp(s + i + 1, "UID ", 4) == 0) {
			unsigned long long v = 0;
			size_t k = i + 5;
			int d = 0;

			while (k < len && isdigit((unsigned char)s[k]) && d < 11) {
				v = v * 10 + (unsigned long long)(s[k++] - '0');
				d++;
			}
			if (d > 0 && v <= 4294967295ULL)
				return (uint32_t)v;
		}
	}
	return 0;
}

/* A number up to MAX at S, ending at one of STOP (or the end). */
static int
sync_parse_num(const char *s, const char *stop, long long max, long long *v)
{
	char buf[24];
	size_t n = strcspn(s, stop);

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return util_parse_int(buf, 0, max, v);
}

int
sync_parse_u32(const char *s, uint32_t *out)
{
	long long v;

	if (sync_parse_num(s, " ]", 4294967295LL, &v) != 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

uint32_t
sync_watermark(const void *ctx, size_t n, sync_mark_fn mark, size_t *cursor)
{
	uint32_t uid = 0;

	while (*cursor < n && mark(ctx, *cursor, &uid))
		(*cursor)++;
	if (*cursor == 0)
		return 0;
	(void)mark(ctx, *cursor - 1, &uid);
	return uid;
}

int64_t
sync_settle_wait(int64_t written_ms, int64_t now_ms, int64_t settle_ms, int round)
{
	int64_t left = written_ms + settle_ms - now_ms, step = 100;

	if (left <= 0)
		return 0;
	for (int i = 0; i < round && step < 1000; i++)
		step *= 2;
	if (step > 1000)
		step = 1000;
	return step < left ? step : left;
}

/* Seconds since the epoch of an INTERNALDATE as imap_date_format wrote it;
 * INT64_MAX (never "older") when it does not parse. */
int64_t
sync_date_epoch(const char *date)
{
	struct imap_date d;
	struct tm tm;

	if (date == NULL || imap_date_parse(date, strlen(date), &d) != 0)
		return INT64_MAX;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = d.year - 1900;
	tm.tm_mon = d.mon - 1;
	tm.tm_mday = d.day;
	tm.tm_hour = d.hour;
	tm.tm_min = d.min;
	tm.tm_sec = d.sec;
	return (int64_t)timegm(&tm) - (int64_t)d.zone * 60;
}

/* A FETCH response with UID and RFC822.SIZE (and the Message-ID of a
 * BODY[HEADER.FIELDS (MESSAGE-ID)], or NULL): 1, or 0 when it is not one. */
int
sync_parse_fetch(const struct imap_response *r, uint32_t *uid, uint64_t *size, char **msgid)
{
	int have_uid = 0, have_size = 0;

	*msgid = NULL;
	if (r->keyword == NULL || !util_strieq(r->keyword, "FETCH") || r->args == NULL ||
	    r->args->type != IMAP_ARG_LIST)
		return 0;
	for (const struct imap_arg *a = r->args->list; a != NULL && a->next != NULL;
	     a = a->next->next) {
		const struct imap_arg *v = a->next;

		if (imap_arg_is(a, "UID") && v->type == IMAP_ARG_ATOM) {
			have_uid = sync_parse_u32(v->str, uid) == 0;
		} else if (imap_arg_is(a, "RFC822.SIZE") && v->type == IMAP_ARG_ATOM) {
			long long x;

			have_size = util_parse_int(v->str, 0, 1LL << 50, &x) == 0;
			*size = (uint64_t)x;
		} else if (a->type == IMAP_ARG_ATOM &&
		    strncasecmp(a->str, "BODY[HEADER", 11) == 0 &&
		    (v->type == IMAP_ARG_LITERAL || v->type == IMAP_ARG_STRING)) {
			free(*msgid);
			*msgid = sync_message_id(v->str, v->len);
		}
	}
	if (!have_uid || !have_size) {
		free(*msgid);
		*msgid = NULL;
		return 0;
	}
	return 1;
}

/* A mod-sequence (RFC 7162: 1 to 2^63 - 1) ending at SP, "]" or ")". */
int
sync_parse_u64(const char *s, uint64_t *out)
{
	long long v;

	if (sync_parse_num(s, " ])", INT64_MAX, &v) != 0)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

/*
 * "* STATUS mailbox (HIGHESTMODSEQ n ...)" (RFC 3501 7.2.4, RFC 7162 3.1.2):
 * 1 with *NAME (the mailbox as sent, owned by R) and *MODSEQ (0 when the
 * answer has none: NOMODSEQ), 0 when R is no STATUS, -1 when malformed.
 */
int
sync_status_modseq(const struct imap_response *r, const char **name, uint64_t *modseq)
{
	const struct imap_arg *mb, *items;

	*modseq = 0;
	if (r->kind != IMAP_RESP_UNTAGGED || r->keyword == NULL ||
	    !util_strieq(r->keyword, "STATUS"))
		return 0;
	mb = imap_arg_nth(r->args, 0);
	items = imap_arg_nth(r->args, 1);
	if (mb == NULL ||
	    (mb->type != IMAP_ARG_ATOM && mb->type != IMAP_ARG_STRING &&
	        mb->type != IMAP_ARG_LITERAL) ||
	    items == NULL || items->type != IMAP_ARG_LIST)
		return -1;
	*name = mb->str;
	for (const struct imap_arg *a = items->list; a != NULL && a->next != NULL;
	     a = a->next->next) {
		if (imap_arg_is(a, "HIGHESTMODSEQ") &&
		    (a->next->type != IMAP_ARG_ATOM || sync_parse_u64(a->next->str, modseq) != 0))
			return -1;
	}
	return 1;
}
