/*
 * report.c - the report of one run: the results in report order, their
 * counts, and the scratch file they wait in (see report.h).
 * Its JSON form is reports/json.c.
 *
 * Allocation failure aborts (util.h).
 */
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spool.h"
#include "util.h"

static void
rpt_utf8_oom(void)
{
	fprintf(stderr, "cutover: out of memory (making the report UTF-8)\n");
	abort();
}

enum result_status
rpt_status_of(const struct result *res)
{
	/* An out-of-range status is a bug in a check; count it as an error. */
	if ((unsigned)res->status >= RESULT_STATUS_COUNT)
		return RESULT_ERROR;
	return res->status;
}

struct report *
rpt_new(const char *command, const char *target)
{
	struct report *rep = xcalloc(1, sizeof(*rep));

	rep->command = xstrdup(command);
	rep->target = xstrdup(target);
	rep->started_at = time(NULL);
	rep->kept = xcalloc(1, sizeof(*rep->kept));
	return rep;
}

void
rpt_free(struct report *rep)
{
	if (rep == NULL)
		return;
	rpt_unload(rep);
	free(rep->kept);
	free(rep->entries);
	spool_free(rep->spool);
	spool_free(rep->mem_spool);
	free(rep->command);
	free(rep->target);
	free(rep);
}

/* Bytes of the valid UTF-8 sequence at S (RFC 3629: no overlong form, no
 * surrogate, nothing above U+10FFFF), or 0 when S does not start one. */
static size_t
rpt_utf8_len(const unsigned char *s)
{
	unsigned cp;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1fu;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0fu;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07u;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3fu);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/*
 * Names and texts from servers may hold bytes that are not UTF-8 (an 8-bit
 * folder name, invalid modified UTF-7 kept raw); reports/SCHEMA.md promises
 * UTF-8. Each invalid byte becomes the ASCII text "\xHH" (and a backslash
 * in such a string "\\", so the escaping is reversible); valid strings are
 * left exactly as they are. Returns a new string, or NULL when S is valid.
 */
static char *
rpt_utf8_fix(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0, len = strlen(s), k;
	char *out;

	while (i < len && (k = rpt_utf8_len(p + i)) != 0)
		i += k;
	if (i == len)
		return NULL;
	out = xmalloc(len * 4 + 1);
	for (i = 0; i < len;) {
		k = rpt_utf8_len(p + i);
		if (k == 0) {
			o += (size_t)snprintf(out + o, 5, "\\x%02x", p[i]);
			i++;
		} else if (p[i] == '\\') {
			out[o++] = '\\';
			out[o++] = '\\';
			i++;
		} else {
			memcpy(out + o, p + i, k);
			o += k;
			i += k;
		}
	}
	out[o] = '\0';
	return out;
}

void
rpt_utf8_tree(cJSON *item)
{
	for (; item != NULL; item = item->next) {
		if (cJSON_IsString(item) && item->valuestring != NULL) {
			char *fixed = rpt_utf8_fix(item->valuestring);

			if (fixed != NULL && cJSON_SetValuestring(item, fixed) == NULL)
				rpt_utf8_oom();
			free(fixed);
		}
		if (item->string != NULL && !(item->type & cJSON_StringIsConst)) {
			char *fixed = rpt_utf8_fix(item->string);

			if (fixed != NULL) {
				cJSON_free(item->string);
				item->string = cJSON_malloc(strlen(fixed) + 1);
				if (item->string == NULL)
					rpt_utf8_oom();
				memcpy(item->string, fixed, strlen(fixed) + 1);
				free(fixed);
			}
		}
		rpt_utf8_tree(item->child);
	}
}

static void
rpt_utf8_str(char **s)
{
	char *fixed = *s != NULL ? rpt_utf8_fix(*s) : NULL;

	if (fixed != NULL) {
		free(*s);
		*s = fixed;
	}
}

/*
 * A result in the spool: this header, then its id, subject, summary, advice
 * and details (compact JSON) back to back, of the lengths LEN gives
 * (RPT_NONE: NULL). Written and read by this process only.
 */
#define RPT_NONE UINT32_MAX
/* struct rpt_entry.at: offset << 8, this bit, the status below it. */
#define RPT_IN_MEM 0x80u
#define RPT_STATUS 0x7fu
enum { RPT_ID, RPT_SUBJECT, RPT_SUMMARY, RPT_ADVICE, RPT_DETAILS, RPT_FIELDS };

struct rpt_rec {
	int64_t duration_ms;
	uint64_t seq;
	int32_t side, status, status_set;
	uint32_t len[RPT_FIELDS];
};

/* Where RES (whose fields are UTF-8 already) goes: a new buffer of *LEN. */
static char *
rpt_record(const struct result *res, size_t *len)
{
	struct rpt_rec h = {res->duration_ms, res->seq, (int32_t)res->side, (int32_t)res->status,
	    res->status_set, {0}};
	char *details = res->details != NULL ? cJSON_PrintUnformatted(res->details) : NULL;
	const char *f[RPT_FIELDS] = {res->id, res->subject, res->summary, res->advice, details};
	size_t total = sizeof(h);
	char *out, *p;

	if (res->details != NULL && details == NULL)
		abort(); /* out of memory */
	for (int i = 0; i < RPT_FIELDS; i++) {
		size_t n = f[i] != NULL ? strlen(f[i]) : 0;

		if (n >= RPT_NONE || total + n >= RPT_NONE) {
			fprintf(stderr, "cutover: a result of 4 GiB or more\n");
			abort();
		}
		h.len[i] = f[i] != NULL ? (uint32_t)n : RPT_NONE;
		total += n;
	}
	out = xmalloc(total);
	memcpy(out, &h, sizeof(h));
	p = out + sizeof(h);
	for (int i = 0; i < RPT_FIELDS; i++)
		if (f[i] != NULL) {
			memcpy(p, f[i], h.len[i]);
			p += h.len[i];
		}
	cJSON_free(details);
	*len = total;
	return out;
}

/* Store RES in E (its place in the spool). Frees RES. */
static void
rpt_store(struct report *rep, struct rpt_entry *e, struct result *res)
{
	size_t len;
	uint64_t off;
	int in_mem;
	char *rec;
	char *err = NULL;

	/* Everything a report holds is UTF-8, whatever a server sent. */
	rpt_utf8_str(&res->subject);
	rpt_utf8_str(&res->summary);
	rpt_utf8_str(&res->advice);
	if (res->details != NULL)
		rpt_utf8_tree(res->details->child);
	rec = rpt_record(res, &len);
	if (rep->spool == NULL && !rep->spool_failed) {
		rep->spool = spool_new(NULL, &err);
		rep->spool_failed = rep->spool == NULL;
		free(err); /* not fatal: the results stay in memory */
	}
	in_mem = rep->spool == NULL || spool_put(rep->spool, rec, len, &off) != 0;
	if (in_mem) {
		if (rep->mem_spool == NULL)
			rep->mem_spool = spool_new_mem();
		(void)spool_put(rep->mem_spool, rec, len, &off); /* memory: cannot fail */
	}
	e->at = off << 8 | (in_mem ? RPT_IN_MEM : 0) | (uint64_t)rpt_status_of(res);
	e->len = (uint32_t)len;
	e->seq = (uint32_t)res->seq;
	free(rec);
	result_free(res);
}

/* REC of LEN bytes as a result, or NULL when it is not one. */
static struct result *
rpt_parse_record(const char *rec, size_t len, int with_details)
{
	struct rpt_rec h;
	char *f[RPT_FIELDS] = {NULL};
	struct result *res;
	size_t at = sizeof(h);

	if (len < sizeof(h))
		return NULL;
	memcpy(&h, rec, sizeof(h));
	for (int i = 0; i < RPT_FIELDS; i++) {
		if (h.len[i] == RPT_NONE)
			continue;
		if (h.len[i] > len - at) { /* not what rpt_record wrote */
			for (int k = 0; k < i; k++)
				free(f[k]);
			return NULL;
		}
		if (i != RPT_DETAILS || with_details)
			f[i] = xstrndup(rec + at, h.len[i]);
		at += h.len[i];
	}
	res = xcalloc(1, sizeof(*res));
	res->id = f[RPT_ID] != NULL ? f[RPT_ID] : xstrdup("");
	res->subject = f[RPT_SUBJECT] != NULL ? f[RPT_SUBJECT] : xstrdup("");
	res->summary = f[RPT_SUMMARY] != NULL ? f[RPT_SUMMARY] : xstrdup("");
	res->advice = f[RPT_ADVICE];
	res->side = (enum result_side)h.side;
	res->status = (enum result_status)h.status;
	res->status_set = h.status_set;
	res->duration_ms = h.duration_ms;
	res->seq = h.seq;
	if (with_details) {
		res->details = f[RPT_DETAILS] != NULL ? cJSON_Parse(f[RPT_DETAILS]) : NULL;
		free(f[RPT_DETAILS]);
		if (res->details == NULL)
			res->details = cJSON_CreateObject();
		if (res->details == NULL)
			abort(); /* out of memory */
	}
	return res;
}

static struct result *
rpt_read(const struct report *rep, size_t i, int with_details)
{
	const struct rpt_entry *e = &rep->entries[i];
	struct spool *sp = (e->at & RPT_IN_MEM) ? rep->mem_spool : rep->spool;
	char *rec = sp != NULL ? spool_get(sp, e->at >> 8, e->len) : NULL;
	struct result *res = rec != NULL ? rpt_parse_record(rec, e->len, with_details) : NULL;

	free(rec);
	if (res == NULL) {
		res = result_new("report.lost", "", RESULT_SIDE_NONE);
		result_set(res, RESULT_ERROR,
		    "lost: this result could not be read back from the scratch file");
		res->seq = e->seq;
	}
	return res;
}

struct result *
rpt_get(const struct report *rep, size_t i)
{
	return rpt_read(rep, i, 1);
}

struct result *
rpt_get_brief(const struct report *rep, size_t i)
{
	return rpt_read(rep, i, 0);
}

struct result *
rpt_at(const struct report *rep, size_t i, int details)
{
	struct rpt_kept *k = rep->kept;

	if (k->v == NULL)
		k->v = xcalloc(rep->n_results + 1, sizeof(*k->v));
	if (k->v[i] != NULL && details && k->v[i]->details == NULL) {
		result_free(k->v[i]);
		k->v[i] = NULL;
		k->n--;
	}
	if (k->v[i] == NULL) {
		k->v[i] = rpt_read(rep, i, details);
		k->n++;
	}
	return k->v[i];
}

void
rpt_unload(const struct report *rep)
{
	struct rpt_kept *k = rep->kept;

	for (size_t i = 0; k->v != NULL && i < rep->n_results; i++)
		result_free(k->v[i]);
	free(k->v);
	k->v = NULL;
	k->n = 0;
}

/* Result I changes place or content: drop its kept copy, or all of them
 * when results move (rpt_add may grow the report, rpt_sort reorders). */
static void
rpt_forget(struct report *rep, size_t i)
{
	if (rep->kept->v == NULL)
		return;
	if (i >= rep->n_results) {
		rpt_unload(rep);
	} else if (rep->kept->v[i] != NULL) {
		result_free(rep->kept->v[i]);
		rep->kept->v[i] = NULL;
		rep->kept->n--;
	}
}

enum result_status
rpt_status_at(const struct report *rep, size_t i)
{
	return (enum result_status)(rep->entries[i].at & RPT_STATUS);
}

void
rpt_add(struct report *rep, struct result *res)
{
	size_t n = rep->n_results;

	if (n == rep->cap_entries) {
		rep->cap_entries = n < 8 ? 8 : 2 * n;
		rep->entries = xrealloc(rep->entries, rep->cap_entries * sizeof(*rep->entries));
	}
	rpt_forget(rep, n); /* the kept copies' array is as long as the report was */
	memset(&rep->entries[n], 0, sizeof(rep->entries[n]));
	rpt_store(rep, &rep->entries[n], res);
	rep->n_results = n + 1;
}

void
rpt_reserve(struct report *rep, size_t n)
{
	if (n > rep->cap_entries - rep->n_results) {
		rep->cap_entries = rep->n_results + n;
		rep->entries = xrealloc(rep->entries, rep->cap_entries * sizeof(*rep->entries));
	}
}

void
rpt_replace(struct report *rep, size_t i, struct result *res)
{
	rpt_forget(rep, i);
	rpt_store(rep, &rep->entries[i], res);
}

static int
rpt_cmp_seq(const void *a, const void *b)
{
	const struct rpt_entry *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void
rpt_sort(struct report *rep, size_t from)
{
	rpt_forget(rep, rep->n_results);
	if (from < rep->n_results)
		qsort(
		    rep->entries + from, rep->n_results - from, sizeof(*rep->entries), rpt_cmp_seq);
}

void
rpt_counts(const struct report *rep, size_t counts[RESULT_STATUS_COUNT], enum result_status *worst)
{
	enum result_status w = RESULT_PASS;

	for (int i = 0; i < RESULT_STATUS_COUNT; i++)
		counts[i] = 0;
	for (size_t i = 0; i < rep->n_results; i++) {
		enum result_status st = rpt_status_at(rep, i);

		counts[st]++;
		/* A skipped check does not make a passing run look worse. */
		if (st != RESULT_SKIP)
			w = result_worse(w, st);
	}
	if (rep->n_results > 0 && counts[RESULT_SKIP] == rep->n_results)
		w = RESULT_SKIP;
	if (worst != NULL)
		*worst = w;
}
