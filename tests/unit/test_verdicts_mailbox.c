/*
 * test_verdicts_mailbox.c - the verdicts of the mailbox.* checks at their
 * edges (checks/check_verdicts.h): the quota's headroom and limit, the items
 * per folder, the item and folder limits, large messages, folder names and
 * the folder inventory; mailbox.compare and mailbox.folder_map.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "checks/check_verdicts.h"
#include "json_path.h"

#define MiB (1024 * 1024)

static struct quota_summary
quota(int64_t usage, int64_t limit)
{
	struct quota_summary s = {
	    .usage = usage,
	    .usage_from = usage >= 0 ? "quota" : NULL,
	    .limit = limit,
	    .limit_from = limit >= 0 ? "destination" : NULL,
	    .headroom = QUOTA_HEADROOM_DEFAULT,
	    .source_limit = -1,
	    .destination_usage = -1,
	};

	return s;
}

static enum result_status
quota_status(int64_t usage, int64_t limit, struct verdict *v)
{
	struct quota_summary s = quota(usage, limit);

	verdict_clear(v);
	quota_verdict(&s, v);
	return v->status;
}

static void
test_quota_edges(void **state)
{
	struct verdict v = {0};

	(void)state;
	/* 70 % of the limit is still fine; a byte more warns. */
	assert_int_equal(quota_status(70 * MiB, 100 * MiB, &v), RESULT_PASS);
	assert_string_equal(v.summary, "source uses 70.0 MiB, 70% of the destination's 100.0 MiB");
	assert_null(v.advice);
	assert_int_equal(quota_status(70 * MiB + 1, 100 * MiB, &v), RESULT_WARN);
	assert_string_equal(
	    v.summary, "source uses 70.0 MiB, 70% of the destination's 100.0 MiB (above 70%)");
	assert_non_null(v.advice);
	/* Exactly full still fits; one byte over does not. */
	assert_int_equal(quota_status(100 * MiB, 100 * MiB, &v), RESULT_WARN);
	assert_int_equal(quota_status(100 * MiB + 1, 100 * MiB, &v), RESULT_FAIL);
	assert_string_equal(
	    v.summary, "source uses 100.0 MiB, more than the destination's 100.0 MiB (100%)");
	assert_non_null(strstr(v.advice, "does not fit"));
	assert_int_equal(quota_status(0, 100 * MiB, &v), RESULT_PASS);
	/* Unknown usage is an error; an unknown (or zero) limit a skip. */
	assert_int_equal(quota_status(-1, 100 * MiB, &v), RESULT_ERROR);
	assert_int_equal(quota_status(5 * MiB, -1, &v), RESULT_SKIP);
	assert_non_null(strstr(v.summary, "source uses 5.0 MiB; no destination limit"));
	assert_int_equal(quota_status(5 * MiB, 0, &v), RESULT_SKIP);
	verdict_clear(&v);
}

static void
test_quota_headroom_from_plan(void **state)
{
	struct quota_summary s = quota(80 * MiB, 100 * MiB);
	struct verdict v = {0};

	(void)state;
	s.headroom = 0.80;
	quota_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_PASS);
	verdict_clear(&v);
	s.headroom = 0.79;
	quota_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_non_null(strstr(v.summary, "(above 79%)"));
	verdict_clear(&v);
}

static void
test_quota_details(void **state)
{
	struct quota_summary s = quota(50, 100);
	cJSON *d = cJSON_CreateObject();
	char *text;

	(void)state;
	s.destination_error = "failed in login";
	quota_details_json(&s, d);
	text = cJSON_PrintUnformatted(d);
	assert_string_equal(text,
	    "{\"source_usage_bytes\":50,\"destination_limit_bytes\":100,"
	    "\"ratio\":0.5,\"headroom\":0.7,\"source_usage_from\":\"quota\","
	    "\"destination_limit_from\":\"destination\",\"source_limit_bytes\":null,"
	    "\"destination_usage_bytes\":null,\"destination_error\":\"failed in login\"}");
	free(text);
	cJSON_Delete(d);
	s = quota(-1, -1);
	assert_true(quota_ratio(&s) < 0);
}

static struct folders_folder
folder(const char *name, uint32_t messages)
{
	struct folders_folder f;

	memset(&f, 0, sizeof(f));
	f.name = f.raw_name = (char *)name;
	f.has_status = 1;
	f.messages = messages;
	return f;
}

static void
test_items_edges(void **state)
{
	struct folders_folder fs[3] = {
	    folder("INBOX", 10000),
	    folder("Archive", 10001),
	    folder("Sent", 12139),
	};
	struct folders_inventory inv = {.folders = fs, .n = 1};
	struct items_summary s;
	struct verdict v = {0};

	(void)state;
	/* 10,000 items is the limit itself: fine. */
	items_summarize(&inv, ITEMS_LIMIT_DEFAULT, &s);
	items_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary, "no folder over 10,000 items");
	verdict_clear(&v);
	/* 10,001 warns. */
	inv.n = 2;
	items_summarize(&inv, ITEMS_LIMIT_DEFAULT, &s);
	items_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary, "1 folder over 10,000 items (largest: \"Archive\", 10,001)");
	assert_non_null(strstr(v.advice, "fewer than 10,000 items"));
	verdict_clear(&v);
	/* The largest is named, the count is plural. */
	inv.n = 3;
	items_summarize(&inv, ITEMS_LIMIT_DEFAULT, &s);
	items_verdict(&s, &v);
	assert_string_equal(v.summary, "2 folders over 10,000 items (largest: \"Sent\", 12,139)");
	verdict_clear(&v);
	/* A folder without STATUS is not counted; a plan limit replaces the default. */
	fs[2].has_status = 0;
	items_summarize(&inv, 10001, &s);
	assert_int_equal(s.n_over, 0);
	items_summarize(&inv, 5000, &s);
	assert_int_equal(s.n_over, 2);
	assert_string_equal(s.largest, "Archive");
	/* Without an inventory: nothing over, and the details still have their keys. */
	items_summarize(NULL, 7, &s);
	{
		cJSON *d = cJSON_CreateObject();
		char *text;

		items_details_json(&s, d);
		text = cJSON_PrintUnformatted(d);
		assert_string_equal(text, "{\"limit\":7,\"over\":[]}");
		free(text);
		cJSON_Delete(d);
	}
}

static void
test_limits_edges(void **state)
{
	struct limits_summary s = {
	    .total_messages = 1000000,
	    .folder_count = 500,
	    .items_limit = 1000000,
	    .folder_limit = 500,
	};
	struct verdict v = {0};

	(void)state;
	/* At both limits: pass. */
	limits_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary,
	    "1,000,000 items in 500 folders, within the "
	    "destination's limits");
	verdict_clear(&v);
	/* One folder more warns. */
	s.folder_count = 501;
	limits_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary, "501 folders, more than 500 (mail clients slow down)");
	assert_non_null(strstr(v.advice, "fewer than 500 remain"));
	verdict_clear(&v);
	/* One item more fails, and its advice stays first. */
	s.total_messages = 1000001;
	limits_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_string_equal(v.summary,
	    "1,000,001 items, the destination's migration stops at "
	    "1,000,000; 501 folders, more than 500 (mail clients slow down)");
	assert_non_null(strstr(v.advice, "fewer than 1,000,000 items remain"));
	verdict_clear(&v);
	/* Only one limit known: the other is not judged. */
	s.folder_limit = -1;
	s.total_messages = 10;
	limits_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_PASS);
	verdict_clear(&v);
	s.items_limit = -1;
	limits_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_SKIP);
	verdict_clear(&v);
}

static void
test_large_edges(void **state)
{
	struct large_summary s = {.limit = 150 * MiB};
	struct verdict v = {0};

	(void)state;
	large_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary, "no message larger than 150.0 MiB");
	verdict_clear(&v);
	s.not_counted = 2;
	large_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary,
	    "no message larger than 150.0 MiB found, but 2 folders "
	    "could not be searched");
	verdict_clear(&v);
	s.count = 1;
	s.n_folders = 1;
	large_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary, "1 message larger than 150.0 MiB in 1 folder");
	assert_non_null(strstr(v.advice, "skip messages over 150.0 MiB"));
	verdict_clear(&v);
	s.count = 3;
	s.n_folders = 2;
	large_verdict(&s, &v);
	assert_string_equal(v.summary, "3 messages larger than 150.0 MiB in 2 folders");
	verdict_clear(&v);
	s.limit = -1;
	large_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_SKIP);
	verdict_clear(&v);
}

static void
test_names_and_folders(void **state)
{
	struct names_summary n = {.n_names = 12};
	struct folders_summary f = {.n_folders = 12, .total_messages = 12139, .total_bytes = -1};
	struct verdict v = {0};

	(void)state;
	names_verdict(&n, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary, "all 12 folder names migrate as they are");
	verdict_clear(&v);
	n.n_bad = 1;
	n.n_problems = 2;
	n.first = "a/b";
	names_verdict(&n, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary,
	    "1 of 12 folder names need attention (2 problems; first: "
	    "\"a/b\")");
	verdict_clear(&v);
	folders_verdict(&f, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary, "12 folders, 12,139 messages, size unknown");
	verdict_clear(&v);
	f.total_bytes = 3 * MiB / 2;
	folders_verdict(&f, &v);
	assert_string_equal(v.summary, "12 folders, 12,139 messages, 1.5 MiB");
	verdict_clear(&v);
	f.truncated = 1;
	folders_verdict(&f, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary, "more than 12 folders: only the first were read");
	verdict_clear(&v);
	f.n_unreadable = 1;
	f.first_unreadable = "Junk";
	folders_verdict(&f, &v);
	assert_string_equal(v.summary, "12 folders, but 1 could not be read (Junk first)");
	verdict_clear(&v);
}

static void
test_compare(void **state)
{
	struct compare_summary s = {.n_pairs = 5, .source_total = 100, .destination_total = 100};
	struct verdict v = {0};

	(void)state;
	compare_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary, "5 folders, same message counts on both sides");
	verdict_clear(&v);
	/* Counts differ: warn (a sync may still be under way). */
	s.differences = 1;
	s.first_difference = "INBOX";
	s.destination_total = 90;
	compare_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary,
	    "1 difference: 0 source folders missing on the "
	    "destination, 100 vs 90 messages (first: \"INBOX\")");
	verdict_clear(&v);
	s.first_difference = NULL;
	compare_verdict(&s, &v);
	assert_non_null(strstr(v.summary, "(first: \"a destination-only folder\")"));
	verdict_clear(&v);
	/* Messages on one side only fail; a synced folder left short fails first. */
	s.n_one_sided = 1;
	s.first_one_sided = "Archive";
	compare_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_string_equal(v.summary,
	    "1 folder with messages exists on one side only (first: "
	    "\"Archive\"), 100 vs 90 messages");
	verdict_clear(&v);
	s.n_short = 2;
	s.first_short = "Sent";
	compare_verdict(&s, &v);
	assert_string_equal(v.summary,
	    "after the sync, 2 synced folders hold fewer messages on "
	    "the destination than on the source (first: \"Sent\"), 100 vs 90 messages");
	assert_non_null(strstr(v.advice, "cutover sync --verify"));
	verdict_clear(&v);
}

static void
test_folder_map(void **state)
{
	struct folder_map_summary s = {.n_mapped = 4, .n_new = 4, .moves = ""};
	struct verdict v = {0};

	(void)state;
	folder_map_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary, "4 folders keep their names (4 new on the destination)");
	verdict_clear(&v);
	s.n_moved = 1;
	s.n_left_out = 1;
	s.moves = "INBOX.Sent -> Sent Items";
	folder_map_verdict(&s, &v);
	assert_string_equal(v.summary,
	    "4 folders mapped, 4 new on the destination (some left "
	    "out): INBOX.Sent -> Sent Items");
	verdict_clear(&v);
	/* No NAMESPACE on one side: warn. An unused plan rule warns first. */
	s.guessed = "source";
	s.guessed_prefix = "INBOX.";
	folder_map_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary,
	    "the source has no NAMESPACE: its personal prefix "
	    "\"INBOX.\" was taken from LIST; 4 folders mapped, 4 new: INBOX.Sent -> Sent Items");
	verdict_clear(&v);
	s.n_unused_rules = 1;
	s.first_unused_rule = "Old/Name";
	folder_map_verdict(&s, &v);
	assert_string_equal(v.summary,
	    "1 plan folder_map rule names no source folder (first: "
	    "\"Old/Name\"); 4 folders mapped, 4 new: INBOX.Sent -> Sent Items");
	verdict_clear(&v);
}

/* mailbox.folders' details: a line per listed folder (a nonexistent one
 * left out, a \Noselect one with 0 bytes, unknowns null), the totals, and
 * just the user and empty totals when the inventory could not be read. */
static void
test_folders_details(void **state)
{
	struct folders_folder fs[3] = {
	    {.raw_name = "INBOX",
	        .name = "INBOX",
	        .name_ok = 1,
	        .has_status = 1,
	        .messages = 5,
	        .uidnext = 6,
	        .uidvalidity = 42,
	        .bytes = 5000,
	        .bytes_src = FOLDERS_BYTES_STATUS},
	    {.raw_name = "Gone", .name = "Gone", .flags = FOLDERS_F_NONEXISTENT, .bytes = -1},
	    {.raw_name = "Projekt &AOQ-",
	        .name = "Projekt ä",
	        .name_ok = 1,
	        .flags = FOLDERS_F_NOSELECT,
	        .special = FOLDERS_SPECIAL_SENT,
	        .bytes = -1,
	        .error = "NO [NONEXISTENT]"},
	};
	struct folders_inventory inv = {.folders = fs,
	    .n = 3,
	    .delim = '/',
	    .total_messages = 5,
	    .total_bytes = 5000,
	    .list_method = "LIST-STATUS",
	    .commands = 2};
	struct folders_summary s = {
	    .user = "alice@example.com", .connections = 1, .round_trips = 3};
	cJSON *d = cJSON_CreateObject();

	(void)state;
	folders_details_json(&s, d);
	assert_string_equal(jstr(d, "user"), "alice@example.com");
	assert_int_equal(cJSON_GetArraySize(jpath(d, "folders")), 0);
	assert_true(jnum(d, "total_messages") == 0);
	assert_true(jnull(d, "total_bytes"));
	assert_null(jpath(d, "list_method"));
	cJSON_Delete(d);
	d = cJSON_CreateObject();
	s.inv = &inv;
	folders_details_json(&s, d);
	assert_int_equal(cJSON_GetArraySize(jpath(d, "folders")), 2);
	assert_true(jnum(d, "folders.0.uidvalidity") == 42);
	assert_true(jnull(d, "folders.0.special_use"));
	assert_string_equal(jstr(d, "folders.0.bytes_source"), "status");
	assert_null(jpath(d, "folders.0.error"));
	assert_string_equal(jstr(d, "folders.1.name"), "Projekt ä");
	assert_true(jnum(d, "folders.1.bytes") == 0);
	assert_true(jnull(d, "folders.1.uidnext"));
	assert_true(cJSON_IsFalse(jpath(d, "folders.1.selectable")));
	assert_string_equal(jstr(d, "folders.1.special_use"), "\\Sent");
	assert_string_equal(jstr(d, "folders.1.error"), "NO [NONEXISTENT]");
	assert_string_equal(jstr(d, "folders.1.bytes_source"), "unknown");
	assert_true(jnum(d, "total_bytes") == 5000);
	assert_string_equal(jstr(d, "delimiter"), "/");
	assert_true(jnum(d, "round_trips") == 3);
	assert_true(jnum(d, "commands") == 2);
	cJSON_Delete(d);
	d = cJSON_CreateObject();
	inv.delim = '\0';
	inv.total_bytes = -1;
	folders_details_json(&s, d);
	assert_true(jnull(d, "delimiter"));
	assert_true(jnull(d, "total_bytes"));
	cJSON_Delete(d);
}

/* mailbox.limits' and mailbox.large_messages' details: limits null when
 * the destination has none, counts only once the folders were read, the
 * folders with large messages (never a \Noselect one or one not counted). */
static void
test_limits_large_details(void **state)
{
	struct folders_folder fs[3] = {
	    {.name = "INBOX", .large = 2},
	    {.name = "Archive", .large = -1},
	    {.name = "Node", .flags = FOLDERS_F_NOSELECT, .large = 5},
	};
	struct folders_inventory inv = {.folders = fs, .n = 3};
	struct limits_summary l = {.items_limit = -1, .folder_limit = 5000};
	struct large_summary g = {.limit = -1};
	cJSON *d = cJSON_CreateObject();

	(void)state;
	limits_details_json(&l, d);
	assert_true(jnull(d, "mailbox_items_limit"));
	assert_true(jnum(d, "folder_count_limit") == 5000);
	assert_null(jpath(d, "folder_count"));
	cJSON_Delete(d);
	d = cJSON_CreateObject();
	l.counted = 1;
	l.total_messages = 1234;
	l.folder_count = 3;
	limits_details_json(&l, d);
	assert_true(jnum(d, "total_messages") == 1234);
	assert_true(jnum(d, "folder_count") == 3);
	cJSON_Delete(d);
	/* No limit known: no limit_bytes, nothing counted. */
	d = cJSON_CreateObject();
	large_details_json(&g, d);
	assert_null(jpath(d, "limit_bytes"));
	assert_true(jnum(d, "count") == 0);
	assert_int_equal(cJSON_GetArraySize(jpath(d, "folders")), 0);
	assert_null(jpath(d, "folders_not_counted"));
	cJSON_Delete(d);
	d = cJSON_CreateObject();
	g = (struct large_summary){
	    .limit = 150 << 20, .count = 2, .n_folders = 1, .not_counted = 1, .inv = &inv};
	large_details_json(&g, d);
	assert_true(jnum(d, "limit_bytes") == 150 << 20);
	assert_true(jnum(d, "count") == 2);
	assert_int_equal(cJSON_GetArraySize(jpath(d, "folders")), 1);
	assert_string_equal(jstr(d, "folders.0.name"), "INBOX");
	assert_true(jnum(d, "folders_not_counted") == 1);
	cJSON_Delete(d);
}

/* mailbox.compare's details: empty lists and no totals until both sides
 * were read; then pairs and one-sided lines with nulls for the other side,
 * the missing and left-out folders, and the sync's shortfall only after one. */
static void
test_compare_details(void **state)
{
	struct folders_folder src = {.name = "Sent", .messages = 4};
	struct folders_folder dst = {.name = "Sent Items", .messages = 3};
	struct folders_folder only = {.name = "Old", .messages = 2};
	const struct compare_row rows[] = {{&src, &dst, "special_use"}, {NULL, &only, NULL}};
	const char *missing[] = {"Drafts"};
	const struct compare_left_out left[] = {{"Shared/x", "foreign_namespace"}};
	struct compare_summary s = {.user = "alice@example.com", .destination_user = "alice@new"};
	cJSON *d = cJSON_CreateObject();

	(void)state;
	compare_details_json(&s, d);
	assert_string_equal(jstr(d, "user"), "alice@example.com");
	assert_int_equal(cJSON_GetArraySize(jpath(d, "folders")), 0);
	assert_int_equal(cJSON_GetArraySize(jpath(d, "left_out")), 0);
	assert_true(jnum(d, "differences") == 0);
	assert_null(jpath(d, "destination_user"));
	assert_null(jpath(d, "source_total_messages"));
	cJSON_Delete(d);
	d = cJSON_CreateObject();
	s.compared = 1;
	s.rows = rows;
	s.n_rows = 2;
	s.missing = missing;
	s.n_missing = 1;
	s.left_out = left;
	s.n_left_out = 1;
	s.differences = 3;
	s.n_one_sided = 1;
	s.source_total = 4;
	s.destination_total = 5;
	compare_details_json(&s, d);
	assert_string_equal(jstr(d, "destination_user"), "alice@new");
	assert_string_equal(jstr(d, "folders.0.matched_by"), "special_use");
	assert_true(jnum(d, "folders.0.destination_messages") == 3);
	assert_true(jnull(d, "folders.1.source"));
	assert_true(jnull(d, "folders.1.source_messages"));
	assert_true(jnull(d, "folders.1.matched_by"));
	assert_string_equal(jstr(d, "missing_folders.0"), "Drafts");
	assert_string_equal(jstr(d, "left_out.0.reason"), "foreign_namespace");
	assert_true(jnum(d, "differences") == 3);
	assert_true(jnum(d, "destination_total_messages") == 5);
	assert_null(jpath(d, "synced_folders_short"));
	assert_true(jnum(d, "one_sided_with_messages") == 1);
	cJSON_Delete(d);
	/* After a sync with a short folder: the shortfall, not the one-sided count. */
	d = cJSON_CreateObject();
	s.after_sync = 1;
	s.n_short = 1;
	compare_details_json(&s, d);
	assert_true(jnum(d, "synced_folders_short") == 1);
	assert_null(jpath(d, "one_sided_with_messages"));
	cJSON_Delete(d);
}

/* mailbox.folder_map's details: the user and empty lists until both sides
 * were read; then the namespaces, every mapping, the folders left out and
 * the plan rules that named nothing. */
static void
test_folder_map_details(void **state)
{
	char src_prefix[] = "INBOX.", dst_prefix[] = "";
	struct folders_inventory si = {
	    .ns_method = "NAMESPACE", .ns_prefix = src_prefix, .ns_delim = '.'};
	struct folders_inventory di = {.ns_method = "LIST", .ns_prefix = dst_prefix, .delim = '/'};
	const struct folder_map_row rows[] = {
	    {"INBOX.Archiv.2019", "Archiv/2019", "name", 0, 12, 0},
	    {"Sent", "Sent Items", "special_use", 1, 3, 0},
	};
	const struct compare_left_out left[] = {{"Junk", "plan"}};
	const char *unused[] = {"Ablage"};
	struct folder_map_summary s = {
	    .user = "alice@example.com", .destination_user = "alice@new"};
	cJSON *d = cJSON_CreateObject();

	(void)state;
	folder_map_details_json(&s, d);
	assert_string_equal(jstr(d, "user"), "alice@example.com");
	assert_int_equal(cJSON_GetArraySize(jpath(d, "folders")), 0);
	assert_int_equal(cJSON_GetArraySize(jpath(d, "unused_rules")), 0);
	assert_null(jpath(d, "namespaces"));
	assert_null(jpath(d, "destination_user"));
	cJSON_Delete(d);
	d = cJSON_CreateObject();
	s.src = &si;
	s.dst = &di;
	s.rows = rows;
	s.n_mapped = 2;
	s.left_out = left;
	s.n_left_out = 1;
	s.unused_rules = unused;
	s.n_unused_rules = 1;
	folder_map_details_json(&s, d);
	assert_string_equal(jstr(d, "destination_user"), "alice@new");
	assert_string_equal(jstr(d, "namespaces.source.prefix"), "INBOX.");
	assert_string_equal(jstr(d, "namespaces.destination.method"), "LIST");
	assert_string_equal(jstr(d, "namespaces.destination.delimiter"), "/");
	assert_string_equal(jstr(d, "folders.0.destination"), "Archiv/2019");
	assert_true(cJSON_IsFalse(jpath(d, "folders.0.exists")));
	assert_true(cJSON_IsTrue(jpath(d, "folders.1.exists")));
	assert_string_equal(jstr(d, "folders.1.mapped_by"), "special_use");
	assert_true(jnum(d, "folders.1.messages") == 3);
	assert_string_equal(jstr(d, "left_out.0.source"), "Junk");
	assert_string_equal(jstr(d, "unused_rules.0"), "Ablage");
	cJSON_Delete(d);
}

/* mailbox.folder_names' details: only an empty list until the folders were
 * read; then each problem (conflicts_with only for a case duplicate) and
 * the delimiters, the source's null when flat. */
static void
test_names_details(void **state)
{
	const struct name_problem probs[] = {
	    {"Arbeit/Q1", "Arbeit/Q1", "contains the destination's delimiter", "delimiter",
	        "Arbeit_Q1", NULL},
	    {"work", "work", "differs from another name in case only", "case_duplicate", "work 2",
	        "Work"},
	};
	struct names_summary s = {0};
	cJSON *d = cJSON_CreateObject();

	(void)state;
	names_details_json(&s, d);
	assert_int_equal(cJSON_GetArraySize(jpath(d, "problems")), 0);
	assert_null(jpath(d, "destination_delimiter"));
	cJSON_Delete(d);
	d = cJSON_CreateObject();
	s = (struct names_summary){.n_names = 5,
	    .n_bad = 2,
	    .n_problems = 2,
	    .first = "Arbeit/Q1",
	    .problems = probs,
	    .read = 1,
	    .source_delim = '.',
	    .dest_delim = '/',
	    .dest_delim_from = "default"};
	names_details_json(&s, d);
	assert_string_equal(jstr(d, "problems.0.code"), "delimiter");
	assert_string_equal(jstr(d, "problems.0.suggestion"), "Arbeit_Q1");
	assert_null(jpath(d, "problems.0.conflicts_with"));
	assert_string_equal(jstr(d, "problems.1.conflicts_with"), "Work");
	assert_string_equal(jstr(d, "destination_delimiter"), "/");
	assert_string_equal(jstr(d, "destination_delimiter_from"), "default");
	assert_string_equal(jstr(d, "source_delimiter"), ".");
	cJSON_Delete(d);
	d = cJSON_CreateObject();
	s.source_delim = '\0';
	names_details_json(&s, d);
	assert_true(jnull(d, "source_delimiter"));
	cJSON_Delete(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_quota_edges),
	    cmocka_unit_test(test_quota_headroom_from_plan),
	    cmocka_unit_test(test_quota_details),
	    cmocka_unit_test(test_items_edges),
	    cmocka_unit_test(test_limits_edges),
	    cmocka_unit_test(test_large_edges),
	    cmocka_unit_test(test_names_and_folders),
	    cmocka_unit_test(test_folders_details),
	    cmocka_unit_test(test_names_details),
	    cmocka_unit_test(test_limits_large_details),
	    cmocka_unit_test(test_compare),
	    cmocka_unit_test(test_compare_details),
	    cmocka_unit_test(test_folder_map),
	    cmocka_unit_test(test_folder_map_details),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
