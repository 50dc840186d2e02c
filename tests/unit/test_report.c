/*
 * test_report.c - the report model (src/report.c) and its JSON form (reports/json.c).
 *
 * The JSON shape is a contract (reports/SCHEMA.md): these tests pin every
 * top-level field and type, the round trip, the error paths of the reader,
 * the atomic file write and string escaping.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "reports/json.h"
#include "src/report.h"
#include "src/util.h"

/* 2026-11-22T10:00:00Z */
#define TEST_STARTED ((time_t)1795341600)

/* ---- helpers ------------------------------------------------------------- */

static struct result *
test_result(const char *id, const char *subject, enum result_side side, enum result_status st,
    const char *summary)
{
	struct result *res = result_new(id, subject, side);

	result_set(res, st, "%s", summary);
	return res;
}

/* A report with one check of each kind of field. */
static struct report *
test_sample(void)
{
	struct report *rep = rpt_new("audit", "plans/example.json");
	struct result *res;
	cJSON *rec, *records;

	rep->started_at = TEST_STARTED;
	rep->duration_ms = 1234;
	rep->insecure = 1;

	res = test_result("dns.mx", "example.com", RESULT_SIDE_NONE, RESULT_PASS,
	    "2 MX records, provider rackspace");
	res->duration_ms = 4;
	records = cJSON_AddArrayToObject(res->details, "records");
	rec = cJSON_CreateObject();
	cJSON_AddNumberToObject(rec, "preference", 10);
	cJSON_AddStringToObject(rec, "exchange", "mx1.emailsrvr.com");
	cJSON_AddNumberToObject(rec, "ttl", 3600);
	cJSON_AddItemToArray(records, rec);
	cJSON_AddStringToObject(res->details, "provider", "rackspace");
	rpt_add(rep, res);

	res = test_result("imap.login", "alice@example.com", RESULT_SIDE_SOURCE, RESULT_WARN,
	    "login ok, certificate expires in 12 days");
	result_advise(res, "Renew the certificate of %s", "secure.emailsrvr.com");
	res->duration_ms = 310;
	rpt_add(rep, res);

	res = test_result("imap.login", "alice@example.com", RESULT_SIDE_DESTINATION, RESULT_SKIP,
	    "no destination password");
	rpt_add(rep, res);
	return rep;
}

static cJSON *
test_parse(const char *text)
{
	cJSON *json = cJSON_Parse(text);

	assert_non_null(json);
	return json;
}

/* Read a whole small file into a new string. */
static char *
test_slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	size_t n;

	assert_non_null(fp);
	buf = xmalloc(1 << 20);
	n = fread(buf, 1, (1 << 20) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static size_t
test_dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	for (e = readdir(d); e != NULL; e = readdir(d)) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}

static char *
test_mkdtemp(void)
{
	const char *base = getenv("TMPDIR");
	char *dir = xasprintf("%s/test_report.XXXXXX", base != NULL ? base : "/tmp");

	assert_non_null(mkdtemp(dir));
	return dir;
}

static void
test_rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return;
	for (e = readdir(d); e != NULL; e = readdir(d)) {
		char *p;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		p = xasprintf("%s/%s", dir, e->d_name);
		unlink(p);
		free(p);
	}
	closedir(d);
	rmdir(dir);
}

/* ---- counts -------------------------------------------------------------- */

static void
test_counts_empty(void **state)
{
	struct report *rep = rpt_new(NULL, NULL);
	size_t counts[RESULT_STATUS_COUNT];
	enum result_status worst = RESULT_ERROR;

	(void)state;
	rpt_counts(rep, counts, &worst);
	assert_int_equal(worst, RESULT_PASS);
	for (int i = 0; i < RESULT_STATUS_COUNT; i++)
		assert_int_equal(counts[i], 0);
	rpt_counts(rep, counts, NULL); /* WORST may be NULL */
	rpt_free(rep);
}

static void
test_counts_worst(void **state)
{
	static const struct {
		enum result_status add[4];
		size_t n;
		enum result_status worst;
	} cases[] = {
	    {{RESULT_PASS}, 1, RESULT_PASS},
	    {{RESULT_SKIP, RESULT_PASS}, 2, RESULT_PASS},
	    {{RESULT_SKIP, RESULT_SKIP}, 2, RESULT_SKIP},
	    {{RESULT_PASS, RESULT_WARN, RESULT_SKIP}, 3, RESULT_WARN},
	    {{RESULT_WARN, RESULT_FAIL, RESULT_PASS}, 3, RESULT_FAIL},
	    {{RESULT_ERROR, RESULT_FAIL, RESULT_WARN, RESULT_PASS}, 4, RESULT_ERROR},
	};

	(void)state;
	for (size_t c = 0; c < UTIL_ARRAY_LEN(cases); c++) {
		struct report *rep = rpt_new("dns", "example.com");
		size_t counts[RESULT_STATUS_COUNT], expect[RESULT_STATUS_COUNT] = {0};
		enum result_status worst;

		for (size_t i = 0; i < cases[c].n; i++) {
			rpt_add(
			    rep, test_result("x.y", "s", RESULT_SIDE_NONE, cases[c].add[i], "s"));
			expect[cases[c].add[i]]++;
		}
		rpt_counts(rep, counts, &worst);
		assert_int_equal(worst, cases[c].worst);
		for (int i = 0; i < RESULT_STATUS_COUNT; i++)
			assert_int_equal(counts[i], expect[i]);
		rpt_free(rep);
	}
}

static void
test_add_many(void **state)
{
	struct report *rep = rpt_new("audit", NULL);
	size_t counts[RESULT_STATUS_COUNT];

	(void)state;
	for (int i = 0; i < 1000; i++)
		rpt_add(rep,
		    test_result("imap.login", "u", RESULT_SIDE_SOURCE,
		        i % 2 ? RESULT_PASS : RESULT_WARN, "x"));
	assert_int_equal(rep->n_results, 1000);
	rpt_counts(rep, counts, NULL);
	assert_int_equal(counts[RESULT_PASS], 500);
	assert_int_equal(counts[RESULT_WARN], 500);
	assert_string_equal(rpt_at(rep, 999, 1)->id, "imap.login");
	rpt_free(rep);
}

/* ---- JSON shape ---------------------------------------------------------- */

static const cJSON *
test_member(const cJSON *obj, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (item == NULL)
		fail_msg("missing member \"%s\"", key);
	return item;
}

/* Bytes from a server that are not UTF-8 (a TXT record with 0x80, a cut
 * sequence, an overlong, a surrogate) become the text \xHH (reports/SCHEMA.md);
 * valid text stays. */
static void
test_json_utf8(void **state)
{
	struct report *rep = rpt_new("dns", "example.com");
	struct result *res =
	    test_result("dns.spf", "example.com", RESULT_SIDE_NONE, RESULT_FAIL, "syntax error");
	cJSON *root;
	const cJSON *d;

	(void)state;
	cJSON_AddStringToObject(res->details, "record",
	    "v=spf1 \x80"
	    "a:example.net -all");
	cJSON_AddStringToObject(res->details, "cut", "caf\xc3");
	cJSON_AddStringToObject(res->details, "overlong", "\xc0\xafx");
	cJSON_AddStringToObject(res->details, "surrogate", "\xed\xa0\x80");
	cJSON_AddStringToObject(res->details, "fine",
	    "Gr\xc3\xbc\xc3\x9f"
	    "e \xf0\x9f\x93\xa8");
	rpt_add(rep, res);
	root = rpt_to_json(rep);
	d = test_member(cJSON_GetArrayItem(test_member(root, "checks"), 0), "details");
	assert_string_equal(
	    cJSON_GetStringValue(test_member(d, "record")), "v=spf1 \\x80a:example.net -all");
	assert_string_equal(cJSON_GetStringValue(test_member(d, "cut")), "caf\\xc3");
	assert_string_equal(cJSON_GetStringValue(test_member(d, "overlong")), "\\xc0\\xafx");
	assert_string_equal(cJSON_GetStringValue(test_member(d, "surrogate")), "\\xed\\xa0\\x80");
	assert_string_equal(cJSON_GetStringValue(test_member(d, "fine")),
	    "Gr\xc3\xbc\xc3\x9f"
	    "e \xf0\x9f\x93\xa8");
	cJSON_Delete(root);
	rpt_free(rep);
}

static void
test_json_shape(void **state)
{
	struct report *rep = test_sample();
	cJSON *root = rpt_to_json(rep);
	const cJSON *tool, *opts, *summary, *counts, *checks, *c;
	static const char *const top[] = {"schema_version", "tool", "command", "target",
	    "started_at", "duration_ms", "options", "summary", "checks"};

	(void)state;
	assert_true(cJSON_IsObject(root));
	assert_int_equal(cJSON_GetArraySize(root), UTIL_ARRAY_LEN(top));
	for (size_t i = 0; i < UTIL_ARRAY_LEN(top); i++)
		test_member(root, top[i]);

	assert_true(cJSON_IsNumber(test_member(root, "schema_version")));
	assert_int_equal(test_member(root, "schema_version")->valueint, 1);
	tool = test_member(root, "tool");
	assert_string_equal(cJSON_GetStringValue(test_member(tool, "name")), "cutover");
#ifdef CUTOVER_VERSION
	assert_string_equal(cJSON_GetStringValue(test_member(tool, "version")), CUTOVER_VERSION);
#else
	assert_true(cJSON_IsString(test_member(tool, "version")));
#endif
	assert_string_equal(cJSON_GetStringValue(test_member(root, "command")), "audit");
	assert_string_equal(
	    cJSON_GetStringValue(test_member(root, "target")), "plans/example.json");
	assert_string_equal(
	    cJSON_GetStringValue(test_member(root, "started_at")), "2026-11-22T10:00:00Z");
	assert_true(cJSON_IsNumber(test_member(root, "duration_ms")));
	assert_int_equal(test_member(root, "duration_ms")->valueint, 1234);

	opts = test_member(root, "options");
	assert_true(cJSON_IsTrue(test_member(opts, "insecure")));
	assert_true(cJSON_IsFalse(test_member(opts, "allow_plaintext")));

	summary = test_member(root, "summary");
	assert_string_equal(cJSON_GetStringValue(test_member(summary, "status")), "warn");
	counts = test_member(summary, "counts");
	assert_int_equal(cJSON_GetArraySize(counts), 5);
	assert_int_equal(test_member(counts, "pass")->valueint, 1);
	assert_int_equal(test_member(counts, "warn")->valueint, 1);
	assert_int_equal(test_member(counts, "fail")->valueint, 0);
	assert_int_equal(test_member(counts, "error")->valueint, 0);
	assert_int_equal(test_member(counts, "skip")->valueint, 1);

	checks = test_member(root, "checks");
	assert_true(cJSON_IsArray(checks));
	assert_int_equal(cJSON_GetArraySize(checks), 3);

	c = cJSON_GetArrayItem(checks, 0);
	assert_int_equal(cJSON_GetArraySize(c), 8);
	assert_string_equal(cJSON_GetStringValue(test_member(c, "id")), "dns.mx");
	assert_string_equal(cJSON_GetStringValue(test_member(c, "subject")), "example.com");
	assert_true(cJSON_IsNull(test_member(c, "side")));
	assert_string_equal(cJSON_GetStringValue(test_member(c, "status")), "pass");
	assert_string_equal(
	    cJSON_GetStringValue(test_member(c, "summary")), "2 MX records, provider rackspace");
	assert_true(cJSON_IsNull(test_member(c, "advice")));
	assert_int_equal(test_member(c, "duration_ms")->valueint, 4);
	assert_true(cJSON_IsObject(test_member(c, "details")));
	assert_true(cJSON_Compare(test_member(c, "details"), rpt_at(rep, 0, 1)->details, 1));

	c = cJSON_GetArrayItem(checks, 1);
	assert_string_equal(cJSON_GetStringValue(test_member(c, "side")), "source");
	assert_string_equal(cJSON_GetStringValue(test_member(c, "status")), "warn");
	assert_string_equal(cJSON_GetStringValue(test_member(c, "advice")),
	    "Renew the certificate of secure.emailsrvr.com");
	c = cJSON_GetArrayItem(checks, 2);
	assert_string_equal(cJSON_GetStringValue(test_member(c, "side")), "destination");
	assert_string_equal(cJSON_GetStringValue(test_member(c, "status")), "skip");
	assert_int_equal(cJSON_GetArraySize(test_member(c, "details")), 0);

	cJSON_Delete(root);
	rpt_free(rep);
}

static void
test_json_empty(void **state)
{
	struct report *rep = rpt_new(NULL, NULL);
	cJSON *root = rpt_to_json(rep);
	const cJSON *summary;

	(void)state;
	assert_string_equal(cJSON_GetStringValue(test_member(root, "command")), "");
	assert_true(cJSON_IsNull(test_member(root, "target")));
	summary = test_member(root, "summary");
	assert_string_equal(cJSON_GetStringValue(test_member(summary, "status")), "pass");
	assert_int_equal(cJSON_GetArraySize(test_member(summary, "counts")), 5);
	assert_int_equal(cJSON_GetArraySize(test_member(root, "checks")), 0);
	cJSON_Delete(root);
	rpt_free(rep);
}

/* ---- round trip ---------------------------------------------------------- */

static void
test_round_trip(void **state)
{
	struct report *rep = test_sample(), *back = NULL;
	cJSON *a = rpt_to_json(rep), *b;
	char *err = NULL;
	char *ta, *tb;

	(void)state;
	assert_int_equal(rpt_from_json(a, &back, &err), 0);
	assert_null(err);
	assert_non_null(back);
	assert_int_equal(back->started_at, TEST_STARTED);
	assert_int_equal(back->duration_ms, 1234);
	assert_int_equal(back->insecure, 1);
	assert_int_equal(back->allow_plaintext, 0);
	assert_string_equal(back->target, "plans/example.json");
	assert_int_equal(back->n_results, 3);
	assert_int_equal(rpt_at(back, 1, 1)->side, RESULT_SIDE_SOURCE);
	assert_int_equal(rpt_at(back, 1, 1)->status, RESULT_WARN);
	assert_null(rpt_at(back, 0, 1)->advice);

	b = rpt_to_json(back);
	assert_true(cJSON_Compare(a, b, 1));
	ta = cJSON_Print(a);
	tb = cJSON_Print(b);
	assert_string_equal(ta, tb);
	cJSON_free(ta);
	cJSON_free(tb);
	cJSON_Delete(a);
	cJSON_Delete(b);
	rpt_free(back);
	rpt_free(rep);
}

/* The DESIGN.md example (no "target"/"options" extensions) is readable. */
static void
test_from_json_design_example(void **state)
{
	static const char text[] =
	    "{\"schema_version\": 1, \"tool\": {\"name\": \"cutover\", \"version\": \"0.1.0\"},"
	    " \"command\": \"audit\", \"started_at\": \"2026-11-22T10:00:00Z\","
	    " \"duration_ms\": 1234, \"summary\": {\"status\": \"pass\", \"counts\":"
	    " {\"pass\": 1, \"warn\": 0, \"fail\": 0, \"error\": 0, \"skip\": 0}},"
	    " \"checks\": [{\"id\": \"dns.mx\", \"subject\": \"example.com\", \"side\": null,"
	    " \"status\": \"pass\", \"summary\": \"2 MX records, provider rackspace\","
	    " \"advice\": null, \"duration_ms\": 4, \"details\": {}, \"future\": 1}],"
	    " \"future_field\": [1, 2]}";
	cJSON *json = test_parse(text);
	struct report *rep = NULL;
	char *err = NULL;

	(void)state;
	assert_int_equal(rpt_from_json(json, &rep, &err), 0);
	assert_null(rep->target);
	assert_int_equal(rep->insecure, 0);
	assert_string_equal(rep->command, "audit");
	assert_int_equal(rep->n_results, 1);
	rpt_free(rep);
	cJSON_Delete(json);
}

/*
 * Apply one edit to the sample report's JSON, read it back and expect an
 * error message containing WANT.
 */
struct test_bad {
	const char *path; /* "" = top level, "checks.1" = second check, ... */
	const char *key;
	const char *value; /* JSON text; NULL = delete the member */
	const char *want;
};

static cJSON *
test_locate(cJSON *root, const char *path)
{
	cJSON *node = root;
	char *copy = xstrdup(path), *p = copy;

	while (p != NULL && *p != '\0') {
		char *dot = strchr(p, '.');

		if (dot != NULL)
			*dot = '\0';
		if (cJSON_IsArray(node))
			node = cJSON_GetArrayItem(node, (int)strtol(p, NULL, 10));
		else
			node = cJSON_GetObjectItemCaseSensitive(node, p);
		assert_non_null(node);
		p = dot != NULL ? dot + 1 : NULL;
	}
	free(copy);
	return node;
}

static void
test_from_json_errors(void **state)
{
	static const struct test_bad cases[] = {
	    {"", "schema_version", "2", "schema_version: 2 is not supported"},
	    {"", "schema_version", "\"1\"", "schema_version: expected the number 1, got a string"},
	    {"", "schema_version", NULL, "schema_version: missing"},
	    {"", "tool", "[]", "tool: expected an object, got an array"},
	    {"tool", "name", "\"other\"", "tool.name: expected \"cutover\""},
	    {"tool", "version", "1", "tool.version: expected a string, got a number"},
	    {"", "command", "null", "command: expected a string, got null"},
	    {"", "target", "5", "target: expected a string or null, got a number"},
	    {"", "started_at", "\"2026-11-22 10:00:00\"", "started_at: expected a UTC time"},
	    {"", "started_at", "\"2026-02-30T10:00:00Z\"", "started_at: expected a UTC time"},
	    {"", "duration_ms", "-1", "duration_ms: expected a non-negative integer"},
	    {"", "duration_ms", "1.5", "duration_ms: expected a non-negative integer"},
	    {"", "options", "true", "options: expected an object, got a boolean"},
	    {"options", "insecure", "1", "options.insecure: expected a boolean, got a number"},
	    {"options", "allow_plaintext", NULL, "options.allow_plaintext: missing"},
	    {"", "summary", NULL, "summary: missing, expected an object"},
	    {"summary", "status", "\"bad\"",
	        "summary.status: expected one of pass, warn, fail, error, skip"},
	    {"summary", "status", "\"fail\"",
	        "summary.status: fail does not match the worst check status warn"},
	    {"summary.counts", "skip", NULL, "summary.counts.skip: missing"},
	    {"summary.counts", "warn", "7",
	        "summary.counts.warn: 7 does not match the 1 checks with status warn"},
	    {"", "checks", "{}", "checks: expected an array, got an object"},
	    {"checks.2", "status", "\"PASS\"",
	        "checks[2].status: expected one of pass, warn, fail, error, skip"},
	    {"checks.1", "status", NULL,
	        "checks[1].status: expected one of pass, warn, fail, error, skip"},
	    {"checks.0", "id", NULL, "checks[0].id: missing, expected a string"},
	    {"checks.0", "subject", "[]", "checks[0].subject: expected a string, got an array"},
	    {"checks.1", "side", "\"both\"",
	        "checks[1].side: expected one of source, destination, null"},
	    {"checks.1", "side", "\"\"", "checks[1].side: expected one of source, destination"},
	    {"checks.2", "summary", "null", "checks[2].summary: expected a string, got null"},
	    {"checks.2", "advice", "false",
	        "checks[2].advice: expected a string or null, got a boolean"},
	    {"checks.0", "duration_ms", "\"4\"", "checks[0].duration_ms: expected a non-negative"},
	    {"checks.0", "details", "null", "checks[0].details: expected an object, got null"},
	    {"checks.0", "details", NULL, "checks[0].details: missing, expected an object"},
	};
	struct report *rep = test_sample();

	(void)state;
	for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
		cJSON *root = rpt_to_json(rep);
		cJSON *obj = test_locate(root, cases[i].path);
		static struct report dummy;
		struct report *out = &dummy; /* must be reset to NULL */
		char *err = NULL;

		if (cases[i].value == NULL)
			cJSON_DeleteItemFromObjectCaseSensitive(obj, cases[i].key);
		else
			assert_true(cJSON_ReplaceItemInObjectCaseSensitive(
			    obj, cases[i].key, test_parse(cases[i].value)));
		assert_int_equal(rpt_from_json(root, &out, &err), -1);
		assert_null(out);
		assert_non_null(err);
		if (strstr(err, cases[i].want) != err)
			fail_msg("case %zu: got \"%s\", want \"%s...\"", i, err, cases[i].want);
		free(err);
		cJSON_Delete(root);
	}
	rpt_free(rep);
}

static void
test_from_json_not_object(void **state)
{
	cJSON *json = test_parse("[1, 2]");
	struct report *rep = NULL;
	char *err = NULL;

	(void)state;
	assert_int_equal(rpt_from_json(json, &rep, &err), -1);
	assert_string_equal(err, "report: expected an object, got an array");
	free(err);
	cJSON_Delete(json);

	json =
	    test_parse("{\"schema_version\":1,\"tool\":{\"name\":\"cutover\",\"version\":\"1\"},"
	               "\"command\":\"dns\",\"started_at\":\"2026-11-22T10:00:00Z\","
	               "\"duration_ms\":0,\"summary\":{\"status\":\"pass\",\"counts\":{\"pass\":0,"
	               "\"warn\":0,\"fail\":0,\"error\":0,\"skip\":0}},\"checks\":[{},7]}");
	assert_int_equal(rpt_from_json(json, &rep, &err), -1);
	assert_string_equal(err, "checks[0].id: missing, expected a string");
	free(err);
	cJSON_DeleteItemFromArray(cJSON_GetObjectItem(json, "checks"), 0);
	assert_int_equal(rpt_from_json(json, &rep, &err), -1);
	assert_string_equal(err, "checks[0]: expected an object, got a number");
	free(err);
	cJSON_Delete(json);
}

/* ---- writing ------------------------------------------------------------- */

static void
test_write_file(void **state)
{
	char *dir = test_mkdtemp();
	char *path = xasprintf("%s/report.json", dir);
	struct report *rep = test_sample(), *back = NULL;
	cJSON *json, *expect;
	char *text, *err = NULL;
	struct stat st;
	mode_t mask;

	(void)state;
	assert_int_equal(rpt_write_json(rep, path, &err), 0);
	assert_null(err);
	text = test_slurp(path);
	assert_true(strlen(text) > 2);
	assert_int_equal(text[strlen(text) - 1], '\n');
	json = test_parse(text);
	expect = rpt_to_json(rep);
	assert_true(cJSON_Compare(json, expect, 1));
	assert_int_equal(test_dir_entries(dir), 1); /* no temporary file left */
	/* A new file gets 0666 less the umask, not mkstemp's 0600. */
	mask = umask(022);
	umask(mask);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0666 & ~mask);
	free(text);
	cJSON_Delete(json);
	cJSON_Delete(expect);

	/* Overwriting replaces the whole file, again without leftovers. */
	rpt_add(rep,
	    test_result(
	        "dns.dmarc", "example.com", RESULT_SIDE_NONE, RESULT_FAIL, "no DMARC record"));
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(rpt_write_json(rep, path, &err), 0);
	assert_int_equal(test_dir_entries(dir), 1);
	/* ... and keeps the mode of the file it replaces. */
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(rpt_read_json(path, &back, &err), 0);
	assert_null(err);
	assert_int_equal(back->n_results, 4);
	assert_string_equal(rpt_at(back, 3, 1)->id, "dns.dmarc");

	rpt_free(back);
	rpt_free(rep);
	test_rmtree(dir);
	free(path);
	free(dir);
}

static void
test_write_errors(void **state)
{
	char *dir = test_mkdtemp();
	char *path = xasprintf("%s/missing/sub/report.json", dir);
	struct report *rep = test_sample();
	char *err = NULL;

	(void)state;
	assert_int_equal(rpt_write_json(rep, path, &err), -1);
	assert_non_null(err);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, strerror(ENOENT)));
	free(err);
	err = NULL;

	/* A folder in the way of the rename: error names it, no leftovers. */
	free(path);
	path = xasprintf("%s/adir", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(rpt_write_json(rep, path, &err), -1);
	assert_non_null(strstr(err, path));
	assert_int_equal(test_dir_entries(dir), 1);
	free(err);
	err = NULL;
	rmdir(path);

	assert_int_equal(rpt_write_json(rep, "", &err), -1);
	assert_non_null(err);
	free(err);

	rpt_free(rep);
	test_rmtree(dir);
	free(path);
	free(dir);
}

static void
test_write_stdout(void **state)
{
	char *dir = test_mkdtemp();
	char *path = xasprintf("%s/stdout.json", dir);
	struct report *rep = test_sample();
	char *text, *err = NULL;
	cJSON *json, *expect;
	FILE *fp;
	int saved;

	(void)state;
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_true(dup2(fileno(fp), STDOUT_FILENO) >= 0);
	fclose(fp);
	assert_int_equal(rpt_write_json(rep, "-", &err), 0);
	fflush(stdout);
	assert_true(dup2(saved, STDOUT_FILENO) >= 0);
	close(saved);
	assert_null(err);

	text = test_slurp(path);
	json = test_parse(text);
	expect = rpt_to_json(rep);
	assert_true(cJSON_Compare(json, expect, 1));
	assert_int_equal(text[strlen(text) - 1], '\n');
	free(text);
	cJSON_Delete(json);
	cJSON_Delete(expect);
	rpt_free(rep);
	test_rmtree(dir);
	free(path);
	free(dir);
}

static void
test_read_errors(void **state)
{
	char *dir = test_mkdtemp();
	char *path = xasprintf("%s/bad.json", dir);
	struct report *rep = NULL;
	char *err = NULL;
	FILE *fp;

	(void)state;
	assert_int_equal(rpt_read_json(path, &rep, &err), -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, strerror(ENOENT)));
	free(err);

	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("{\n  \"schema_version\": 1,\n  \"tool\": oops\n}\n", fp);
	fclose(fp);
	assert_int_equal(rpt_read_json(path, &rep, &err), -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, ":3:"));
	assert_non_null(strstr(err, "not valid JSON"));
	free(err);

	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("{\"schema_version\": 1, \"tool\": {\"name\": \"cutover\"}}", fp);
	fclose(fp);
	assert_int_equal(rpt_read_json(path, &rep, &err), -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "tool.version: missing"));
	assert_null(rep);
	free(err);

	test_rmtree(dir);
	free(path);
	free(dir);
}

/* ---- escaping ------------------------------------------------------------ */

static void
test_escaping(void **state)
{
	/* Control characters, quotes, backslash, and UTF-8 (Cyrillic, CJK, emoji). */
	static const char subject[] = "a\x01"
	                              "b\tc\nd\"e\\f/g \xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5"
	                              "\xd1\x82 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x93\xa7";
	struct report *rep = rpt_new("dns", "\"quoted\"\x1f");
	struct report *back = NULL;
	struct result *res;
	cJSON *root, *parsed;
	char *text, *err = NULL;

	(void)state;
	res = test_result(
	    "mailbox.folders", subject, RESULT_SIDE_SOURCE, RESULT_PASS, "Entw\xc3\xbcrfe \x7f");
	cJSON_AddStringToObject(res->details, "name", subject);
	rpt_add(rep, res);

	root = rpt_to_json(rep);
	text = cJSON_PrintUnformatted(root);
	assert_non_null(text);
	assert_non_null(strstr(text, "a\\u0001b\\tc\\nd\\\"e\\\\f/g "));
	assert_non_null(strstr(text, "\\\"quoted\\\"\\u001f"));
	/* Non-ASCII UTF-8 is kept as is, not \u-escaped. */
	assert_non_null(strstr(text, "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"));
	assert_non_null(strstr(text, "\xf0\x9f\x93\xa7"));
	assert_non_null(strstr(text, "Entw\xc3\xbcrfe"));
	/* No raw control character survives in the output. */
	for (const char *p = text; *p != '\0'; p++)
		assert_true((unsigned char)*p >= 0x20);

	parsed = test_parse(text);
	assert_int_equal(rpt_from_json(parsed, &back, &err), 0);
	assert_string_equal(rpt_at(back, 0, 1)->subject, subject);
	assert_string_equal(back->target, "\"quoted\"\x1f");
	assert_string_equal(
	    cJSON_GetStringValue(cJSON_GetObjectItem(rpt_at(back, 0, 1)->details, "name")),
	    subject);

	cJSON_free(text);
	cJSON_Delete(parsed);
	cJSON_Delete(root);
	rpt_free(back);
	rpt_free(rep);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_counts_empty),
	    cmocka_unit_test(test_counts_worst),
	    cmocka_unit_test(test_add_many),
	    cmocka_unit_test(test_json_shape),
	    cmocka_unit_test(test_json_utf8),
	    cmocka_unit_test(test_json_empty),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_from_json_design_example),
	    cmocka_unit_test(test_from_json_errors),
	    cmocka_unit_test(test_from_json_not_object),
	    cmocka_unit_test(test_write_file),
	    cmocka_unit_test(test_write_errors),
	    cmocka_unit_test(test_write_stdout),
	    cmocka_unit_test(test_read_errors),
	    cmocka_unit_test(test_escaping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
