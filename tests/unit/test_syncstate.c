/*
 * test_syncstate.c - the SQLite state of `cutover sync` (src/syncstate.c):
 * permissions, schema version, intents and results, persistence across a
 * reopen, rollback of an unfinished transaction, and the lookups the
 * reconciliation uses.
 */
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
#include <sqlite3.h>

#include "src/syncstate.h"
#include "src/util.h"

static char *
tmpdir(void)
{
	char tmpl[] = "/tmp/test_syncstate.XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return xasprintf("%s/state", d);
}

static void
rmtree(const char *dir)
{
	const char *slash = strrchr(dir, '/');
	char *cmd = xasprintf("rm -rf '%.*s'", (int)(slash - dir), dir);

	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	free(cmd);
}

static struct syncstate_msg
mkmsg(uint32_t uid, uint64_t size, unsigned char fill, uint32_t dst_uidnext)
{
	struct syncstate_msg m;

	memset(&m, 0, sizeof(m));
	m.src_uid = uid;
	m.state = SYNCSTATE_INTENT;
	m.size = size;
	memset(m.sha256, fill, sizeof(m.sha256));
	m.has_hash = 1;
	m.message_id = (char *)"<a@b>";
	m.dst_uidvalidity = 77;
	m.dst_uidnext = dst_uidnext;
	return m;
}

static void
test_open_modes_and_version(void **state)
{
	char *dir = tmpdir();
	struct syncstate *s = NULL;
	struct stat sb;
	char *err = NULL;

	(void)state;
	assert_int_equal(syncstate_open(dir, &s, &err), 0);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	assert_int_equal(stat(syncstate_path(s), &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(syncstate_schema_version(s), SYNCSTATE_SCHEMA_VERSION);
	syncstate_close(s);

	/* A future schema is refused with a clear message. */
	{
		sqlite3 *db;
		char *path = xasprintf("%s/%s", dir, SYNCSTATE_FILE);

		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db,
		                     "UPDATE meta SET value = '99' WHERE key = "
		                     "'schema_version'",
		                     NULL, NULL, NULL),
		    SQLITE_OK);
		sqlite3_close(db);
		free(path);
	}
	assert_int_equal(syncstate_open(dir, &s, &err), -1);
	assert_non_null(strstr(err, "schema version 99"));
	free(err);
	rmtree(dir);
	free(dir);
}

/* A version 2 database (before the seen_* columns) is migrated on open and
 * keeps its rows; the folder starts with nothing seen. */
static void
test_migrate_v2_seen(void **state)
{
	char *dir = tmpdir();
	struct syncstate *s = NULL;
	struct syncstate_folder f;
	char *err = NULL, *path;
	sqlite3 *db;

	(void)state;
	assert_int_equal(syncstate_open(dir, &s, &err), 0);
	assert_int_equal(syncstate_folder_get(s, "a\tb", "INBOX", 7, "INBOX", &f), 0);
	assert_int_equal(syncstate_set_last_uid(s, f.id, 42), 0);
	syncstate_folder_clear(&f);
	syncstate_close(s);
	path = xasprintf("%s/%s", dir, SYNCSTATE_FILE);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	                     "ALTER TABLE folder DROP COLUMN seen_uidnext;"
	                     "ALTER TABLE folder DROP COLUMN seen_messages;"
	                     "ALTER TABLE folder DROP COLUMN seen_modseq;"
	                     "UPDATE meta SET value = '2' WHERE key = 'schema_version'",
	                     NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	free(path);
	assert_int_equal(syncstate_open(dir, &s, &err), 0);
	assert_int_equal(syncstate_schema_version(s), SYNCSTATE_SCHEMA_VERSION);
	assert_int_equal(syncstate_folder_get(s, "a\tb", "INBOX", 7, "INBOX", &f), 0);
	assert_int_equal(f.last_uid, 42);
	assert_true(f.seen_uidnext == 0 && f.seen_messages == 0 && f.seen_modseq == 0);
	assert_int_equal(syncstate_set_seen(s, f.id, 43, 40, 9000000000ull), 0);
	syncstate_folder_clear(&f);
	assert_int_equal(syncstate_folder_get(s, "a\tb", "INBOX", 7, "INBOX", &f), 0);
	assert_true(
	    f.seen_uidnext == 43 && f.seen_messages == 40 && f.seen_modseq == 9000000000ull);
	syncstate_folder_clear(&f);
	syncstate_close(s);
	rmtree(dir);
	free(dir);
}

static void
test_loose_permissions_tightened(void **state)
{
	char *dir = tmpdir();
	struct syncstate *s = NULL;
	struct stat sb;
	char *err = NULL;

	(void)state;
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(syncstate_open(dir, &s, &err), 0);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	syncstate_close(s);
	rmtree(dir);
	free(dir);
}

static void
test_intent_done_and_reopen(void **state)
{
	char *dir = tmpdir();
	struct syncstate *s = NULL;
	struct syncstate_folder f, f2;
	struct syncstate_msg m, *rows = NULL;
	size_t n = 0;
	uint32_t *uids = NULL;
	char *err = NULL;
	int64_t count;

	(void)state;
	assert_int_equal(syncstate_open(dir, &s, &err), 0);
	assert_int_equal(syncstate_folder_get(s, "a\tb", "INBOX", 1000, "INBOX", &f), 0);
	assert_int_equal(f.last_uid, 0);
	assert_string_equal(f.dst_name, "INBOX");

	/* Three intents in one transaction, then results for two. */
	assert_int_equal(syncstate_begin(s), 0);
	for (uint32_t uid = 1; uid <= 3; uid++) {
		m = mkmsg(uid, 100 * uid, (unsigned char)uid, 50);
		assert_int_equal(syncstate_put(s, f.id, &m), 0);
	}
	assert_int_equal(syncstate_commit(s), 0);
	assert_int_equal(syncstate_begin(s), 0);
	assert_int_equal(syncstate_done(s, f.id, 1, 77, 50), 0);
	assert_int_equal(syncstate_done(s, f.id, 2, 77, 51), 0);
	assert_int_equal(syncstate_set_last_uid(s, f.id, 2), 0);
	assert_int_equal(syncstate_set_last_uid(s, f.id, 1), 0); /* never lowers */
	assert_int_equal(syncstate_commit(s), 0);

	/* A transaction left open is rolled back by the next open (a crash). */
	assert_int_equal(syncstate_begin(s), 0);
	m = mkmsg(4, 400, 4, 52);
	assert_int_equal(syncstate_put(s, f.id, &m), 0);
	syncstate_close(s);
	s = NULL;

	assert_int_equal(syncstate_open(dir, &s, &err), 0);
	assert_int_equal(syncstate_folder_get(s, "a\tb", "INBOX", 1000, "INBOX", &f2), 0);
	assert_int_equal(f2.id, f.id);
	assert_int_equal(f2.last_uid, 2);
	assert_int_equal(syncstate_msgs(s, f.id, SYNCSTATE_INTENT, 0, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].src_uid, 3);
	assert_int_equal(rows[0].size, 300);
	assert_int_equal(rows[0].dst_uidnext, 50);
	assert_int_equal(rows[0].has_hash, 1);
	assert_int_equal(rows[0].sha256[0], 3);
	assert_string_equal(rows[0].message_id, "<a@b>");
	syncstate_msgs_free(rows, n);
	assert_int_equal(syncstate_count(s, -1, &count), 0);
	assert_int_equal(count, 3);

	/* The destination UIDs that are accounted for. */
	assert_int_equal(syncstate_dst_uids(s, "a\tb", "INBOX", 77, 51, &uids, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(uids[0], 51);
	free(uids);

	/* Failed and dropped rows. */
	assert_int_equal(syncstate_failed(s, f.id, 3), 0);
	assert_int_equal(syncstate_msgs(s, f.id, SYNCSTATE_FAILED, 0, &rows, &n), 0);
	assert_int_equal(n, 1);
	syncstate_msgs_free(rows, n);
	assert_int_equal(syncstate_drop(s, f.id, 3), 0);
	assert_int_equal(syncstate_msgs(s, f.id, -1, 0, &rows, &n), 0);
	assert_int_equal(n, 2);
	syncstate_msgs_free(rows, n);
	syncstate_folder_clear(&f);
	syncstate_folder_clear(&f2);
	syncstate_close(s);
	rmtree(dir);
	free(dir);
}

static void
test_uidvalidity_change(void **state)
{
	char *dir = tmpdir();
	struct syncstate *s = NULL;
	struct syncstate_folder f, g;
	struct syncstate_msg m;
	int64_t *ids = NULL;
	size_t n = 0;
	char *err = NULL;

	(void)state;
	assert_int_equal(syncstate_open(dir, &s, &err), 0);
	assert_int_equal(syncstate_folder_get(s, "p", "Work", 1, "Work", &f), 0);
	m = mkmsg(9, 10, 1, 1);
	assert_int_equal(syncstate_put(s, f.id, &m), 0);
	assert_int_equal(syncstate_done(s, f.id, 9, 77, 1), 0);
	assert_int_equal(syncstate_folder_get(s, "p", "Work", 2, "Work", &g), 0);
	assert_true(g.id != f.id);
	assert_int_equal(syncstate_other_uidvalidity(s, "p", "Work", 2, &ids, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], f.id);
	free(ids);
	assert_int_equal(syncstate_other_uidvalidity(s, "p", "Work", 1, &ids, &n), 0);
	assert_int_equal(n, 0);
	free(ids);
	syncstate_folder_clear(&f);
	syncstate_folder_clear(&g);
	syncstate_close(s);
	rmtree(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_open_modes_and_version),
	    cmocka_unit_test(test_loose_permissions_tightened),
	    cmocka_unit_test(test_migrate_v2_seen),
	    cmocka_unit_test(test_intent_done_and_reopen),
	    cmocka_unit_test(test_uidvalidity_change),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
