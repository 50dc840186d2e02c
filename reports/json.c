/*
 * json.c - the JSON form of a report (schema_version 1; see json.h). The
 * report itself, what the runner fills, is src/report.c.
 *
 * The shape written here is the contract documented in reports/SCHEMA.md and
 * validated by reports/report.schema.json; keep the three in step. Fields are
 * only ever added, never renamed or removed.
 *
 * Allocation failure aborts (util.h): cJSON returning NULL while building a
 * tree can only mean out of memory, so the builders below abort on it.
 */
#include "json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/strbuf.h"
#include "src/util.h"

#ifndef CUTOVER_VERSION
#define CUTOVER_VERSION "0.0.0"
#endif

#define RPT_TOOL_NAME "cutover"
/* The statuses as the error messages list them (schema order, not enum order). */
#define RPT_STATUS_LIST "pass, warn, fail, error, skip"
/* JSON numbers are doubles: integers are exact up to 2^53. */
#define RPT_MAX_EXACT_INT 9007199254740992.0
/* A report file larger than this is refused by rpt_read_json. */
#define RPT_MAX_FILE_BYTES (512L * 1024 * 1024)

/* ---- building ------------------------------------------------------------ */

static void
rpt_oom(void)
{
	fprintf(stderr, "cutover: out of memory (building the JSON report)\n");
	abort();
}

static cJSON *
rpt_checked(cJSON *item)
{
	if (item == NULL)
		rpt_oom();
	return item;
}

static void
rpt_put(cJSON *obj, const char *key, cJSON *item)
{
	rpt_checked(item);
	if (!cJSON_AddItemToObject(obj, key, item))
		rpt_oom();
}

/* A string member, or null when S is NULL. */
static void
rpt_put_str(cJSON *obj, const char *key, const char *s)
{
	rpt_put(obj, key, s != NULL ? cJSON_CreateString(s) : cJSON_CreateNull());
}

static void
rpt_put_num(cJSON *obj, const char *key, double v)
{
	rpt_put(obj, key, cJSON_CreateNumber(v));
}

static void
rpt_put_bool(cJSON *obj, const char *key, int v)
{
	rpt_put(obj, key, cJSON_CreateBool(v ? 1 : 0));
}

static cJSON *
rpt_check_to_json(const struct result *res)
{
	cJSON *c = rpt_checked(cJSON_CreateObject());
	cJSON *details;

	rpt_put_str(c, "id", res->id != NULL ? res->id : "");
	rpt_put_str(c, "subject", res->subject != NULL ? res->subject : "");
	rpt_put_str(c, "side", result_side_str(res->side));
	rpt_put_str(c, "status", result_status_str(rpt_status_of(res)));
	rpt_put_str(c, "summary", res->summary != NULL ? res->summary : "");
	rpt_put_str(c, "advice", res->advice);
	rpt_put_num(c, "duration_ms", (double)(res->duration_ms > 0 ? res->duration_ms : 0));
	if (cJSON_IsObject(res->details)) {
		details = cJSON_Duplicate(res->details, 1);
	} else {
		details = cJSON_CreateObject();
	}
	rpt_put(c, "details", details);
	/* rpt_add made the result UTF-8 already: this only makes sure. */
	rpt_utf8_tree(c);
	return c;
}

/* The report; its "checks" (the last member) empty unless WITH_CHECKS. */
static cJSON *
rpt_json_root(const struct report *rep, int with_checks)
{
	static const enum result_status order[] = {
	    RESULT_PASS,
	    RESULT_WARN,
	    RESULT_FAIL,
	    RESULT_ERROR,
	    RESULT_SKIP,
	};
	cJSON *root = rpt_checked(cJSON_CreateObject());
	cJSON *tool, *options, *summary, *counts_obj, *checks;
	size_t counts[RESULT_STATUS_COUNT];
	enum result_status worst;
	char when[32];

	rpt_counts(rep, counts, &worst);
	util_iso8601(rep->started_at, when, sizeof(when));

	rpt_put_num(root, "schema_version", RPT_SCHEMA_VERSION);
	tool = rpt_checked(cJSON_CreateObject());
	rpt_put_str(tool, "name", RPT_TOOL_NAME);
	rpt_put_str(tool, "version", CUTOVER_VERSION);
	rpt_put(root, "tool", tool);
	rpt_put_str(root, "command", rep->command != NULL ? rep->command : "");
	rpt_put_str(root, "target", rep->target);
	rpt_put_str(root, "started_at", when);
	rpt_put_num(root, "duration_ms", (double)(rep->duration_ms > 0 ? rep->duration_ms : 0));
	options = rpt_checked(cJSON_CreateObject());
	rpt_put_bool(options, "insecure", rep->insecure);
	rpt_put_bool(options, "allow_plaintext", rep->allow_plaintext);
	rpt_put_bool(options, "allow_old_tls", rep->allow_old_tls);
	rpt_put(root, "options", options);
	if (rep->partial)
		rpt_put_bool(root, "partial", 1);

	summary = rpt_checked(cJSON_CreateObject());
	rpt_put_str(summary, "status", result_status_str(worst));
	counts_obj = rpt_checked(cJSON_CreateObject());
	for (size_t i = 0; i < UTIL_ARRAY_LEN(order); i++)
		rpt_put_num(counts_obj, result_status_str(order[i]), (double)counts[order[i]]);
	rpt_put(summary, "counts", counts_obj);
	rpt_put(root, "summary", summary);

	checks = rpt_checked(cJSON_CreateArray());
	for (size_t i = 0; with_checks && i < rep->n_results; i++) {
		struct result *res = rpt_get(rep, i);

		if (!cJSON_AddItemToArray(checks, rpt_check_to_json(res)))
			rpt_oom();
		result_free(res);
	}
	rpt_put(root, "checks", checks);
	rpt_utf8_tree(root); /* also what no result holds: the target, partial reports */
	return root;
}

cJSON *
rpt_to_json(const struct report *rep)
{
	return rpt_json_root(rep, 1);
}

/* ---- writing ------------------------------------------------------------- */

/*
 * The report as pretty-printed text ending in a newline, cJSON_Print of
 * rpt_to_json, streamed to OUT one check at a time. cJSON prints the root's
 * members one tab in and the elements of an array after "[", separated by
 * ", ", two levels deeper than the array's own line; a check printed on its
 * own is the same text two levels shallower, and a raw newline only ever
 * appears as formatting (strings escape theirs). So: print the root with an
 * empty "checks" (its last member), and put each check, with two tabs after
 * every newline, between the "[" and the "]" (tests/unit/test_spool.c holds
 * this to the whole tree's bytes).
 */
static int
rpt_stream(FILE *out, void *arg)
{
	const struct report *rep = arg;
	cJSON *root = rpt_json_root(rep, 0);
	char *text = cJSON_Print(root);
	char *tail;
	int rc = 0;

	cJSON_Delete(root);
	if (text == NULL)
		rpt_oom();
	tail = strrchr(text, '[');
	if (tail == NULL || strcmp(tail, "[]\n}") != 0)
		abort(); /* "checks" is the last member (rpt_to_json) */
	if (fwrite(text, 1, (size_t)(tail - text) + 1, out) != (size_t)(tail - text) + 1)
		rc = -1;
	for (size_t i = 0; i < rep->n_results && rc == 0; i++) {
		struct result *res = rpt_get(rep, i); /* one at a time from the spool */
		cJSON *c = rpt_check_to_json(res);
		char *one = cJSON_Print(c);

		result_free(res);
		cJSON_Delete(c);
		if (one == NULL)
			rpt_oom();
		if (i > 0 && fputs(", ", out) == EOF)
			rc = -1;
		for (const char *p = one; *p != '\0' && rc == 0; p++) {
			if (putc(*p, out) == EOF || (*p == '\n' && fputs("\t\t", out) == EOF))
				rc = -1;
		}
		cJSON_free(one);
	}
	if (rc == 0 && fputs(tail + 1, out) == EOF)
		rc = -1;
	if (rc == 0 && putc('\n', out) == EOF)
		rc = -1;
	cJSON_free(text);
	return rc;
}

int
rpt_write_json(const struct report *rep, const char *path, char **err)
{
	return util_write_stream(path, rpt_stream, (void *)(uintptr_t)rep, "report", err);
}

/* ---- reading ------------------------------------------------------------- */

/*
 * Set *ERR to "PATH: expected WHAT, got TYPE" (or "missing") and return -1.
 * PREFIX is the path of the containing value ("" for the top, "checks[2]").
 */
static int
rpt_type_error(char **err, const char *prefix, const char *key, const cJSON *item, const char *what)
{
	const char *dot = (*prefix != '\0' && key != NULL) ? "." : "";

	if (item == NULL)
		*err = xasprintf(
		    "%s%s%s: missing, expected %s", prefix, dot, key != NULL ? key : "", what);
	else
		*err = xasprintf("%s%s%s: expected %s, got %s", prefix, dot, key != NULL ? key : "",
		    what, util_json_type(item));
	return -1;
}

/* Member KEY of OBJ (exact case, unlike cJSON_GetObjectItem). */
static const cJSON *
rpt_member(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static int
rpt_get_string(const cJSON *obj, const char *prefix, const char *key, int nullable,
    const char **out, char **err)
{
	const cJSON *item = rpt_member(obj, key);

	if (nullable && cJSON_IsNull(item)) {
		*out = NULL;
		return 0;
	}
	if (!cJSON_IsString(item) || item->valuestring == NULL)
		return rpt_type_error(
		    err, prefix, key, item, nullable ? "a string or null" : "a string");
	*out = item->valuestring;
	return 0;
}

/* A non-negative integer that a double holds exactly. */
static int
rpt_get_uint(const cJSON *obj, const char *prefix, const char *key, int64_t *out, char **err)
{
	const cJSON *item = rpt_member(obj, key);
	double d;

	if (!cJSON_IsNumber(item))
		return rpt_type_error(err, prefix, key, item, "a non-negative integer");
	d = item->valuedouble;
	/* Range first, so the cast below is defined; no libm needed. */
	if (!isfinite(d) || d < 0 || d > RPT_MAX_EXACT_INT || (double)(int64_t)d != d) {
		*err = xasprintf("%s%s%s: expected a non-negative integer, got %g", prefix,
		    *prefix != '\0' ? "." : "", key, d);
		return -1;
	}
	*out = (int64_t)d;
	return 0;
}

static int
rpt_get_bool(const cJSON *obj, const char *prefix, const char *key, int *out, char **err)
{
	const cJSON *item = rpt_member(obj, key);

	if (!cJSON_IsBool(item))
		return rpt_type_error(err, prefix, key, item, "a boolean");
	*out = cJSON_IsTrue(item) ? 1 : 0;
	return 0;
}

static int
rpt_get_object(const cJSON *obj, const char *prefix, const char *key, const cJSON **out, char **err)
{
	const cJSON *item = rpt_member(obj, key);

	if (!cJSON_IsObject(item))
		return rpt_type_error(err, prefix, key, item, "an object");
	*out = item;
	return 0;
}

static int
rpt_get_status(
    const cJSON *obj, const char *prefix, const char *key, enum result_status *out, char **err)
{
	const cJSON *item = rpt_member(obj, key);

	if (!cJSON_IsString(item) || item->valuestring == NULL ||
	    result_status_parse(item->valuestring, out) != 0) {
		*err = xasprintf("%s%s%s: expected one of " RPT_STATUS_LIST, prefix,
		    *prefix != '\0' ? "." : "", key);
		return -1;
	}
	return 0;
}

/* N decimal digits at S into *OUT; 0 or -1. */
static int
rpt_digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Parse exactly "YYYY-MM-DDTHH:MM:SSZ" (UTC) into *OUT. 0 or -1. */
static int
rpt_parse_time(const char *s, time_t *out)
{
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	struct tm tm;
	int y, mo, d, h, mi, se;
	time_t t;

	if (strlen(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[19] != 'Z')
		return -1;
	if (rpt_digits(s, 4, &y) != 0 || rpt_digits(s + 5, 2, &mo) != 0 ||
	    rpt_digits(s + 8, 2, &d) != 0 || rpt_digits(s + 11, 2, &h) != 0 ||
	    rpt_digits(s + 14, 2, &mi) != 0 || rpt_digits(s + 17, 2, &se) != 0)
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
	    se > 60)
		return -1;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = t;
	return 0;
}

/* One element of "checks" into a new result (*OUT). */
static int
rpt_check_from_json(const cJSON *c, size_t idx, struct result **out, char **err)
{
	struct result *res = NULL;
	const char *id = NULL, *subject = NULL, *side_s = NULL, *summary = NULL;
	const char *advice = NULL;
	const cJSON *details = NULL;
	enum result_side side;
	enum result_status status;
	int64_t dur;
	char prefix[48];
	int rc = -1;

	*out = NULL;
	snprintf(prefix, sizeof(prefix), "checks[%zu]", idx);
	if (!cJSON_IsObject(c)) {
		rpt_type_error(err, prefix, NULL, c, "an object");
		goto out;
	}
	if (rpt_get_string(c, prefix, "id", 0, &id, err) != 0 ||
	    rpt_get_string(c, prefix, "subject", 0, &subject, err) != 0 ||
	    rpt_get_string(c, prefix, "side", 1, &side_s, err) != 0)
		goto out;
	/* "" is not a side in the JSON form: none is written as null. */
	if (side_s != NULL && (*side_s == '\0' || result_side_parse(side_s, &side) != 0)) {
		*err = xasprintf("%s.side: expected one of source, destination, null", prefix);
		goto out;
	}
	if (side_s == NULL)
		side = RESULT_SIDE_NONE;
	if (rpt_get_status(c, prefix, "status", &status, err) != 0 ||
	    rpt_get_string(c, prefix, "summary", 0, &summary, err) != 0 ||
	    rpt_get_string(c, prefix, "advice", 1, &advice, err) != 0 ||
	    rpt_get_uint(c, prefix, "duration_ms", &dur, err) != 0 ||
	    rpt_get_object(c, prefix, "details", &details, err) != 0)
		goto out;

	res = result_new(id, subject, side);
	free(res->summary);
	res->summary = xstrdup(summary);
	res->status = status;
	res->status_set = 1;
	res->advice = xstrdup(advice);
	res->duration_ms = dur;
	cJSON_Delete(res->details);
	res->details = rpt_checked(cJSON_Duplicate(details, 1));
	res->seq = idx;
	*out = res;
	res = NULL; /* transferred */
	rc = 0;
out:
	result_free(res);
	return rc;
}

/*
 * The summary must agree with the checks: it is derived data, and a report
 * whose summary disagrees has been edited or damaged.
 */
static int
rpt_check_summary(const struct report *rep, const cJSON *summary, char **err)
{
	static const enum result_status order[] = {
	    RESULT_PASS,
	    RESULT_WARN,
	    RESULT_FAIL,
	    RESULT_ERROR,
	    RESULT_SKIP,
	};
	size_t counts[RESULT_STATUS_COUNT];
	enum result_status worst, st;
	const cJSON *counts_obj = NULL;
	int64_t n;

	rpt_counts(rep, counts, &worst);
	if (rpt_get_status(summary, "summary", "status", &st, err) != 0 ||
	    rpt_get_object(summary, "summary", "counts", &counts_obj, err) != 0)
		return -1;
	for (size_t i = 0; i < UTIL_ARRAY_LEN(order); i++) {
		const char *name = result_status_str(order[i]);

		if (rpt_get_uint(counts_obj, "summary.counts", name, &n, err) != 0)
			return -1;
		if ((uint64_t)n != (uint64_t)counts[order[i]]) {
			*err = xasprintf("summary.counts.%s: %" PRId64
			                 " does not match the %zu checks with status %s",
			    name, n, counts[order[i]], name);
			return -1;
		}
	}
	if (st != worst) {
		*err = xasprintf("summary.status: %s does not match the worst check status %s",
		    result_status_str(st), result_status_str(worst));
		return -1;
	}
	return 0;
}

int
rpt_from_json(const cJSON *json, struct report **out, char **err)
{
	struct report *rep = NULL;
	const cJSON *item, *tool = NULL, *options, *summary = NULL, *checks;
	const char *command = NULL, *target = NULL, *started = NULL, *s = NULL;
	time_t started_at;
	int64_t dur;
	size_t idx = 0;
	int rc = -1;

	*out = NULL;
	*err = NULL;
	if (!cJSON_IsObject(json)) {
		*err = xasprintf("report: expected an object, got %s", util_json_type(json));
		goto out;
	}
	item = rpt_member(json, "schema_version");
	if (!cJSON_IsNumber(item)) {
		rpt_type_error(err, "", "schema_version", item, "the number 1");
		goto out;
	}
	if (item->valuedouble != RPT_SCHEMA_VERSION) {
		*err = xasprintf("schema_version: %g is not supported (expected %d)",
		    item->valuedouble, RPT_SCHEMA_VERSION);
		goto out;
	}
	if (rpt_get_object(json, "", "tool", &tool, err) != 0 ||
	    rpt_get_string(tool, "tool", "name", 0, &s, err) != 0)
		goto out;
	if (strcmp(s, RPT_TOOL_NAME) != 0) {
		*err = xasprintf("tool.name: expected \"%s\", got \"%s\"", RPT_TOOL_NAME, s);
		goto out;
	}
	if (rpt_get_string(tool, "tool", "version", 0, &s, err) != 0 ||
	    rpt_get_string(json, "", "command", 0, &command, err) != 0 ||
	    rpt_get_string(json, "", "started_at", 0, &started, err) != 0)
		goto out;
	if (rpt_parse_time(started, &started_at) != 0) {
		*err = xasprintf("started_at: expected a UTC time like 2026-11-22T10:00:00Z, "
		                 "got \"%s\"",
		    started);
		goto out;
	}
	if (rpt_get_uint(json, "", "duration_ms", &dur, err) != 0)
		goto out;
	/* "target" and "options" are extensions: optional when reading. */
	if (rpt_member(json, "target") != NULL &&
	    rpt_get_string(json, "", "target", 1, &target, err) != 0)
		goto out;

	rep = rpt_new(command, target);
	rep->started_at = started_at;
	rep->duration_ms = dur;
	options = rpt_member(json, "options");
	if (options != NULL) {
		if (!cJSON_IsObject(options)) {
			rpt_type_error(err, "", "options", options, "an object");
			goto out;
		}
		if (rpt_get_bool(options, "options", "insecure", &rep->insecure, err) != 0 ||
		    rpt_get_bool(
		        options, "options", "allow_plaintext", &rep->allow_plaintext, err) != 0)
			goto out;
		/* Reports written before --allow-old-tls existed lack it. */
		if (rpt_member(options, "allow_old_tls") != NULL &&
		    rpt_get_bool(options, "options", "allow_old_tls", &rep->allow_old_tls, err) !=
		        0)
			goto out;
	}
	if (rpt_get_object(json, "", "summary", &summary, err) != 0)
		goto out;
	checks = rpt_member(json, "checks");
	if (!cJSON_IsArray(checks)) {
		rpt_type_error(err, "", "checks", checks, "an array");
		goto out;
	}
	cJSON_ArrayForEach(item, checks)
	{
		struct result *res;

		if (rpt_check_from_json(item, idx, &res, err) != 0)
			goto out;
		rpt_add(rep, res);
		idx++;
	}
	if (rpt_check_summary(rep, summary, err) != 0)
		goto out;
	*out = rep;
	rep = NULL; /* transferred */
	rc = 0;
out:
	rpt_free(rep);
	return rc;
}

/* 1-based line and column of byte OFF in TEXT, for parse errors. */
static void
rpt_line_col(const char *text, size_t off, size_t *line, size_t *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && text[i] != '\0'; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

int
rpt_parse_json(const char *text, size_t len, const char *name, struct report **out, char **err)
{
	cJSON *json = NULL;
	const char *end = NULL;
	char *inner = NULL;
	int rc = -1;

	*out = NULL;
	*err = NULL;
	if (strlen(text) != len) {
		*err = xasprintf("%s: not valid JSON (contains a NUL byte)", name);
		goto out;
	}
	/*
	 * The length includes the terminator: with require_null_terminated,
	 * cJSON 1.7.15 wants to see the NUL inside the given length.
	 */
	json = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1);
	if (json == NULL) {
		size_t line, col, off = end != NULL && end >= text ? (size_t)(end - text) : 0;

		rpt_line_col(text, off, &line, &col);
		*err = xasprintf("%s:%zu:%zu: not valid JSON", name, line, col);
		goto out;
	}
	if (rpt_from_json(json, out, &inner) != 0) {
		*err = xasprintf("%s: %s", name, inner);
		goto out;
	}
	rc = 0;
out:
	free(inner);
	cJSON_Delete(json);
	return rc;
}

int
rpt_read_json(const char *path, struct report **out, char **err)
{
	FILE *fp = NULL;
	struct strbuf buf;
	int rc = -1;

	*out = NULL;
	*err = NULL;
	strbuf_init(&buf, (size_t)RPT_MAX_FILE_BYTES);
	fp = fopen(path, "rb");
	if (fp == NULL) {
		*err = xasprintf("cannot read report %s: %s", path, strerror(errno));
		goto out;
	}
	if (strbuf_read(&buf, fp) != 0) {
		if (buf.over)
			*err = xasprintf("cannot read report %s: larger than %ld bytes", path,
			    RPT_MAX_FILE_BYTES);
		else
			*err = xasprintf("cannot read report %s: %s", path, strerror(errno));
		goto out;
	}
	rc = rpt_parse_json(strbuf_str(&buf), buf.len, path, out, err);
out:
	if (fp != NULL)
		fclose(fp);
	strbuf_free(&buf);
	return rc;
}
