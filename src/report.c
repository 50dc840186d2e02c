/*
 * report.c - the report of one run: the results in report order, their
 * counts, and the scratch file their details may wait in (see report.h).
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
	return rep;
}

void
rpt_free(struct report *rep)
{
	if (rep == NULL)
		return;
	for (size_t i = 0; i < rep->n_results; i++)
		result_free(rep->results[i]);
	free(rep->results);
	spool_free(rep->spool);
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

struct spool *
rpt_spool(struct report *rep)
{
	char *err = NULL;

	if (rep->spool == NULL && !rep->spool_failed) {
		rep->spool = spool_new(NULL, &err);
		rep->spool_failed = rep->spool == NULL;
		free(err); /* not fatal: the details stay in memory */
	}
	return rep->spool;
}

void
rpt_load_details(const struct report *rep)
{
	for (size_t i = 0; i < rep->n_results; i++) {
		struct result *res = rep->results[i];

		/* Spooled before rpt_add could make them UTF-8: now. */
		if (res->details == NULL && result_unspool(res) == 0 && res->details != NULL)
			rpt_utf8_tree(res->details->child);
	}
}

void
rpt_add(struct report *rep, struct result *res)
{
	size_t n = rep->n_results;

	/* Everything a report holds is UTF-8, whatever a server sent. */
	rpt_utf8_str(&res->subject);
	rpt_utf8_str(&res->summary);
	rpt_utf8_str(&res->advice);
	if (res->details != NULL)
		rpt_utf8_tree(res->details->child);

	/*
	 * Capacity is implicit: 8 up to 8 results, then the next power of two,
	 * so the array grows (doubles) exactly when N reaches a power of two.
	 */
	if (n == 0)
		rep->results = xrealloc(rep->results, 8 * sizeof(*rep->results));
	else if (n >= 8 && (n & (n - 1)) == 0)
		rep->results = xrealloc(rep->results, 2 * n * sizeof(*rep->results));
	rep->results[n] = res;
	rep->n_results = n + 1;
}

void
rpt_counts(const struct report *rep, size_t counts[RESULT_STATUS_COUNT], enum result_status *worst)
{
	enum result_status w = RESULT_PASS;

	for (int i = 0; i < RESULT_STATUS_COUNT; i++)
		counts[i] = 0;
	for (size_t i = 0; i < rep->n_results; i++) {
		enum result_status st = rpt_status_of(rep->results[i]);

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
