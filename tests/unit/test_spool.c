/*
 * test_spool.c - results spooled out of memory (issue 19) and the streamed
 * JSON report: the same bytes as printing the whole tree at once, whether
 * the results wait in a scratch file or in memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "reports/json.h"
#include "src/report.h"
#include "src/spool.h"
#include "src/util.h"

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = xmalloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* What rpt_write_json wrote before it streamed: the whole tree printed. */
static char *
whole_tree(const struct report *rep)
{
	cJSON *root = rpt_to_json(rep);
	char *p = cJSON_Print(root);
	char *text = xasprintf("%s\n", p);

	cJSON_free(p);
	cJSON_Delete(root);
	return text;
}

static char *
streamed(const struct report *rep)
{
	char path[] = "/tmp/cutover-test-report-XXXXXX";
	char *err = NULL, *text;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(rpt_write_json(rep, path, &err), 0);
	text = slurp(path);
	unlink(path);
	return text;
}

/* Result I of the sample: every kind of value a result holds. */
static struct result *
sample_result(size_t i)
{
	struct result *res = result_new(i % 2 ? "mailbox.folders" : "imap.login",
	    "user@example.com", i % 3 == 0 ? RESULT_SIDE_SOURCE : RESULT_SIDE_DESTINATION);
	cJSON *folders = cJSON_AddArrayToObject(res->details, "folders");

	result_set(res, i % 5 == 0 ? RESULT_WARN : RESULT_PASS, "result %zu \"quoted\"", i);
	if (i % 4 == 0)
		result_advise(res, "advice with\nnewline and \xc3\xa9");
	res->duration_ms = (int64_t)i * 7;
	cJSON_AddStringToObject(res->details, "user", "Entw\xc3\xbcrfe & <tags>\t");
	cJSON_AddNumberToObject(res->details, "ratio", 0.1 * (double)i);
	cJSON_AddNumberToObject(res->details, "bytes", 1e12 + (double)i);
	cJSON_AddNullToObject(res->details, "error");
	cJSON_AddBoolToObject(res->details, "ok", i % 2);
	cJSON_AddObjectToObject(res->details, "empty");
	cJSON_AddArrayToObject(res->details, "none");
	for (size_t k = 0; k < i % 4; k++) {
		cJSON *f = cJSON_CreateObject();

		cJSON_AddStringToObject(f, "name", k ? "Sent" : "INBOX");
		cJSON_AddNumberToObject(f, "messages", (double)k);
		cJSON_AddItemToArray(folders, f);
	}
	res->seq = i;
	return res;
}

/* A report of N sample results; without a scratch file when IN_MEMORY. */
static struct report *
sample_in(size_t n, int in_memory)
{
	struct report *rep = rpt_new("audit", "plan.json");

	rep->started_at = 1700000000;
	rep->duration_ms = 1234;
	rep->spool_failed = in_memory; /* as when no file can be made */
	for (size_t i = 0; i < n; i++)
		rpt_add(rep, sample_result(i));
	return rep;
}

static struct report *
sample(size_t n)
{
	return sample_in(n, 0);
}

static void
test_stream_equals_whole_tree(void **state)
{
	size_t sizes[] = {0, 1, 2, 17};

	(void)state;
	for (size_t s = 0; s < UTIL_ARRAY_LEN(sizes); s++) {
		struct report *rep = sample(sizes[s]);
		char *a = whole_tree(rep), *b = streamed(rep);

		assert_string_equal(a, b);
		free(a);
		free(b);
		rpt_free(rep);
	}
}

static void
test_results_leave_memory_and_come_back(void **state)
{
	struct report *rep = sample(17), *mem = sample_in(17, 1), *back = NULL;
	char *file_text, *mem_text, *back_text, *err = NULL;

	(void)state;
	/* In the scratch file, nothing of them but the entries in memory. */
	assert_non_null(rep->spool);
	assert_null(rep->mem_spool);
	assert_true(spool_size(rep->spool) > 0);
	assert_int_equal(rep->kept->n, 0);
	assert_int_equal(sizeof(struct rpt_entry), 16);
	/* Each comes back with the values it was given. */
	for (size_t i = 0; i < rep->n_results; i++) {
		struct result *want = sample_result(i), *got = rpt_get(rep, i);

		assert_string_equal(got->id, want->id);
		assert_string_equal(got->subject, want->subject);
		assert_int_equal(got->side, want->side);
		assert_int_equal(got->status, want->status);
		assert_string_equal(got->summary, want->summary);
		if (want->advice == NULL)
			assert_null(got->advice);
		else
			assert_string_equal(got->advice, want->advice);
		assert_int_equal(got->duration_ms, want->duration_ms);
		assert_int_equal(got->seq, want->seq);
		assert_true(cJSON_Compare(got->details, want->details, 1));
		assert_int_equal(rpt_status_at(rep, i), want->status);
		result_free(want);
		result_free(got);
	}
	/* Writing did not bring them back into memory. */
	file_text = streamed(rep);
	assert_int_equal(rep->kept->n, 0);
	/* Without a scratch file (kept in memory): the same report. */
	assert_null(mem->spool);
	assert_non_null(mem->mem_spool);
	mem_text = streamed(mem);
	assert_string_equal(file_text, mem_text);
	/* Read back from its JSON form and written again: the same bytes. */
	assert_int_equal(rpt_parse_json(file_text, strlen(file_text), "r.json", &back, &err), 0);
	back_text = streamed(back);
	assert_string_equal(file_text, back_text);
	free(file_text);
	free(mem_text);
	free(back_text);
	rpt_free(back);
	rpt_free(mem);
	rpt_free(rep);
}

static void
test_replace_and_sort(void **state)
{
	struct report *rep = rpt_new("audit", "plan.json");
	struct result *res;

	(void)state;
	for (size_t i = 0; i < 5; i++) {
		res = sample_result(i);
		res->seq = 4 - i; /* finished in reverse schedule order */
		rpt_add(rep, res);
	}
	/* Room made ahead is what the report grows into. */
	rpt_reserve(rep, 100);
	assert_int_equal(rep->cap_entries, 105);
	rpt_reserve(rep, 10);
	assert_int_equal(rep->cap_entries, 105);
	/* Only the part from 1 on is put in order. */
	rpt_sort(rep, 1);
	assert_int_equal(rpt_at(rep, 0, 1)->seq, 4);
	for (size_t i = 1; i < 5; i++)
		assert_int_equal(rpt_at(rep, i, 0)->seq, i - 1);
	/* A kept copy goes, the replacement is what comes back. */
	res = rpt_get(rep, 2);
	result_set(res, RESULT_SKIP, "replaced");
	rpt_replace(rep, 2, res);
	assert_null(rep->kept->v[2]);
	assert_int_equal(rep->kept->n, 4);
	assert_string_equal(rpt_at(rep, 2, 1)->summary, "replaced");
	assert_int_equal(rpt_status_at(rep, 2), RESULT_SKIP);
	rpt_unload(rep);
	assert_int_equal(rep->kept->n, 0);
	assert_null(rep->kept->v);
	rpt_free(rep);
}

static void
test_spool_round_trip_big_and_small(void **state)
{
	char *err = NULL;
	struct spool *sp = spool_new(NULL, &err);
	size_t big = 200 * 1024;
	char *blob = xmalloc(big);
	uint64_t o1, o2, o3;
	char *got;

	(void)state;
	assert_non_null(sp);
	memset(blob, 'x', big);
	assert_int_equal(spool_put(sp, "abc", 3, &o1), 0);
	assert_int_equal(spool_put(sp, blob, big, &o2), 0);
	assert_int_equal(spool_put(sp, "def", 3, &o3), 0);
	got = spool_get(sp, o3, 3);
	assert_string_equal(got, "def");
	free(got);
	got = spool_get(sp, o1, 3);
	assert_string_equal(got, "abc");
	free(got);
	got = spool_get(sp, o2, big);
	assert_memory_equal(got, blob, big);
	free(got);
	assert_int_equal(spool_size(sp), big + 6);
	spool_free(sp);
	free(blob);
}

static void
test_no_spool_folder_keeps_memory(void **state)
{
	char *err = NULL;

	(void)state;
	assert_null(spool_new("/nonexistent/folder", &err));
	assert_non_null(strstr(err, "/nonexistent/folder"));
	free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stream_equals_whole_tree),
	    cmocka_unit_test(test_results_leave_memory_and_come_back),
	    cmocka_unit_test(test_replace_and_sort),
	    cmocka_unit_test(test_spool_round_trip_big_and_small),
	    cmocka_unit_test(test_no_spool_folder_keeps_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
