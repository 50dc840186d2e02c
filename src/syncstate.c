/* syncstate.c - SQLite state of `cutover sync`. See syncstate.h. */
#include "syncstate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "util.h"

struct syncstate {
	sqlite3 *db;
	char *path;
	char err[256];
};

/*
 * Schema version 1. Later versions add migrations (syncstate_migrate);
 * never change these statements.
 */
static const char syncstate_schema_v1[] =
    "CREATE TABLE IF NOT EXISTS meta("
    "  key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS folder("
    "  id INTEGER PRIMARY KEY,"
    "  pair TEXT NOT NULL,"
    "  src_name TEXT NOT NULL,"
    "  src_uidvalidity INTEGER NOT NULL,"
    "  dst_name TEXT NOT NULL,"
    "  last_uid INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  UNIQUE(pair, src_name, src_uidvalidity));"
    "CREATE TABLE IF NOT EXISTS msg("
    "  folder_id INTEGER NOT NULL REFERENCES folder(id),"
    "  src_uid INTEGER NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  sha256 BLOB,"
    "  message_id TEXT,"
    "  dst_uidvalidity INTEGER NOT NULL DEFAULT 0,"
    "  dst_uidnext INTEGER NOT NULL DEFAULT 0,"
    "  dst_uid INTEGER NOT NULL DEFAULT 0,"
    "  updated_at INTEGER NOT NULL,"
    "  PRIMARY KEY(folder_id, src_uid)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS msg_state ON msg(folder_id, state);"
    "CREATE INDEX IF NOT EXISTS msg_dst ON msg(dst_uidvalidity, dst_uid);";

/*
 * Version 2: msg.written_ms, the wall-clock time (ms since the epoch) at
 * which the row was last written. For an INTENT it is the moment its APPEND
 * may have been completed: the reconciling side waits until a dead session's
 * command can no longer be arriving (sync.c, I3).
 */
static const char syncstate_migrate_v2[] =
    "ALTER TABLE msg ADD COLUMN written_ms INTEGER NOT NULL DEFAULT 0;"
    /* The message's flag sets (syncflags.h) at the last pass, on each side:
     * the base of the three-way flag merge. NULL: not known (copied by an
     * earlier version). */
    "ALTER TABLE msg ADD COLUMN src_flags TEXT;"
    "ALTER TABLE msg ADD COLUMN dst_flags TEXT;"
    /* One row per mailbox pair and pass, for `cutover sync --status`. */
    "CREATE TABLE IF NOT EXISTS pass("
    "  id INTEGER PRIMARY KEY,"
    "  pair TEXT NOT NULL,"
    "  started_ms INTEGER NOT NULL,"
    "  ended_ms INTEGER NOT NULL,"
    "  status TEXT NOT NULL,"
    "  summary TEXT NOT NULL,"
    "  copied INTEGER NOT NULL,"
    "  bytes INTEGER NOT NULL,"
    "  errors INTEGER NOT NULL,"
    "  dry_run INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS pass_pair ON pass(pair, id);";

/*
 * Version 3: what the source said of a folder at the end of its last settled
 * pass (UIDNEXT, MESSAGES, CONDSTORE's HIGHESTMODSEQ; 0 = not known). A
 * folder whose STATUS still says the same has nothing new to bring: the
 * next pass neither selects it nor lists its flags (sync.c, mbox_plan).
 */
static const char syncstate_migrate_v3[] =
    "ALTER TABLE folder ADD COLUMN seen_uidnext INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE folder ADD COLUMN seen_messages INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE folder ADD COLUMN seen_modseq INTEGER NOT NULL DEFAULT 0;";

/* Milliseconds since the epoch, as SQLite computes them. */
#define SYNCSTATE_NOW_MS "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"

static int
syncstate_fail(struct syncstate *s)
{
	snprintf(s->err, sizeof(s->err), "%s", sqlite3_errmsg(s->db));
	return -1;
}

const char *
syncstate_error(const struct syncstate *s)
{
	return s->err;
}

const char *
syncstate_path(const struct syncstate *s)
{
	return s->path;
}

static int
syncstate_exec(struct syncstate *s, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(s->err, sizeof(s->err), "%s", msg != NULL ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int
syncstate_prepare(struct syncstate *s, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) {
		*st = NULL;
		return syncstate_fail(s);
	}
	return 0;
}

/* Step a statement that returns no rows, then finalize it. */
static int
syncstate_step_done(struct syncstate *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE) {
		syncstate_fail(s);
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

/* Step a statement that returns one integer into *OUT, then finalize it. */
static int
syncstate_scalar(struct syncstate *s, sqlite3_stmt *st, int64_t *out)
{
	if (sqlite3_step(st) != SQLITE_ROW) {
		syncstate_fail(s);
		sqlite3_finalize(st);
		return -1;
	}
	*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return 0;
}

int
syncstate_schema_version(struct syncstate *s)
{
	sqlite3_stmt *st;
	int v = 0;

	if (syncstate_prepare(s, "SELECT value FROM meta WHERE key = 'schema_version'", &st) != 0)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		long long x;

		if (util_parse_int((const char *)sqlite3_column_text(st, 0), 0, 1000000, &x) == 0)
			v = (int)x;
	}
	sqlite3_finalize(st);
	return v;
}

/* Tighten MODE bits of PATH to at most WANT (best effort for the WAL files). */
static void
syncstate_tighten(const char *path, mode_t want)
{
	struct stat sb;

	if (stat(path, &sb) == 0 && (sb.st_mode & 07777 & ~want) != 0)
		(void)chmod(path, want);
}

int
syncstate_open(const char *dir, struct syncstate **out, char **err)
{
	struct syncstate *s = NULL;
	struct stat sb;
	mode_t old_umask;
	int rc, v;
	char *p;

	*out = NULL;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		*err = xasprintf("cannot create the state folder %s: %s", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		*err = xasprintf("the state folder %s is not a folder", dir);
		return -1;
	}
	syncstate_tighten(dir, 0700);
	s = xcalloc(1, sizeof(*s));
	s->path = xasprintf("%s/%s", dir, SYNCSTATE_FILE);
	old_umask = umask(077);
	rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
	umask(old_umask);
	if (rc != SQLITE_OK) {
		*err = xasprintf("cannot open the sync state %s: %s", s->path,
		    s->db != NULL ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	if (syncstate_exec(s, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON") != 0 ||
	    syncstate_exec(s, "BEGIN IMMEDIATE") != 0) {
		*err = xasprintf("cannot use the sync state %s: %s", s->path, s->err);
		goto fail;
	}
	if (syncstate_exec(s, syncstate_schema_v1) != 0) {
		*err = xasprintf("cannot create the sync state tables in %s: %s", s->path, s->err);
		(void)syncstate_exec(s, "ROLLBACK");
		goto fail;
	}
	v = syncstate_schema_version(s);
	if (v >= 0 && v < SYNCSTATE_SCHEMA_VERSION) {
		/* A new database (v 0) is created at version 1 and migrated like an
		 * old one, so both end with the same tables. */
		rc = 0;
		if (v < 2)
			rc = syncstate_exec(s, syncstate_migrate_v2);
		if (rc == 0 && v < 3)
			rc = syncstate_exec(s, syncstate_migrate_v3);
		if (rc == 0) {
			p = xasprintf("INSERT OR REPLACE INTO meta(key, value) "
			              "VALUES('schema_version', '%d')",
			    SYNCSTATE_SCHEMA_VERSION);
			rc = syncstate_exec(s, p);
			free(p);
		}
		if (rc != 0) {
			*err = xasprintf("cannot write %s: %s", s->path, s->err);
			(void)syncstate_exec(s, "ROLLBACK");
			goto fail;
		}
	} else if (v > SYNCSTATE_SCHEMA_VERSION || v < 0) {
		*err = xasprintf("the sync state %s has schema version %d; this cutover knows "
		                 "up to %d (use a newer cutover)",
		    s->path, v, SYNCSTATE_SCHEMA_VERSION);
		(void)syncstate_exec(s, "ROLLBACK");
		goto fail;
	}
	if (syncstate_exec(s, "COMMIT") != 0) {
		*err = xasprintf("cannot write %s: %s", s->path, s->err);
		goto fail;
	}
	syncstate_tighten(s->path, 0600);
	p = xasprintf("%s-wal", s->path);
	syncstate_tighten(p, 0600);
	free(p);
	p = xasprintf("%s-shm", s->path);
	syncstate_tighten(p, 0600);
	free(p);
	*out = s;
	return 0;
fail:
	syncstate_close(s);
	return -1;
}

void
syncstate_close(struct syncstate *s)
{
	if (s == NULL)
		return;
	if (s->db != NULL)
		sqlite3_close(s->db);
	free(s->path);
	free(s);
}

int
syncstate_begin(struct syncstate *s)
{
	return syncstate_exec(s, "BEGIN IMMEDIATE");
}

int
syncstate_commit(struct syncstate *s)
{
	return syncstate_exec(s, "COMMIT");
}

int
syncstate_rollback(struct syncstate *s)
{
	return syncstate_exec(s, "ROLLBACK");
}

void
syncstate_folder_clear(struct syncstate_folder *f)
{
	free(f->dst_name);
	memset(f, 0, sizeof(*f));
}

int
syncstate_folder_get(struct syncstate *s, const char *pair, const char *src_name,
    uint32_t uidvalidity, const char *dst_name, struct syncstate_folder *out)
{
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	if (syncstate_prepare(s,
	        "INSERT INTO folder(pair, src_name, src_uidvalidity, dst_name, created_at) "
	        "VALUES(?1, ?2, ?3, ?4, strftime('%s','now')) "
	        "ON CONFLICT(pair, src_name, src_uidvalidity) DO UPDATE SET dst_name = ?4",
	        &st) != 0)
		return -1;
	sqlite3_bind_text(st, 1, pair, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, src_name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, uidvalidity);
	sqlite3_bind_text(st, 4, dst_name, -1, SQLITE_STATIC);
	if (syncstate_step_done(s, st) != 0)
		return -1;
	if (syncstate_prepare(s,
	        "SELECT id, last_uid, dst_name, seen_uidnext, seen_messages, seen_modseq FROM "
	        "folder "
	        "WHERE pair = ?1 AND src_name = ?2 AND src_uidvalidity = ?3",
	        &st) != 0)
		return -1;
	sqlite3_bind_text(st, 1, pair, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, src_name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, uidvalidity);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		syncstate_fail(s);
		sqlite3_finalize(st);
		return -1;
	}
	out->id = sqlite3_column_int64(st, 0);
	out->last_uid = (uint32_t)sqlite3_column_int64(st, 1);
	out->dst_name = xstrdup((const char *)sqlite3_column_text(st, 2));
	out->seen_uidnext = (uint32_t)sqlite3_column_int64(st, 3);
	out->seen_messages = (uint32_t)sqlite3_column_int64(st, 4);
	out->seen_modseq = (uint64_t)sqlite3_column_int64(st, 5);
	out->src_uidvalidity = uidvalidity;
	sqlite3_finalize(st);
	return 0;
}

int
syncstate_set_seen(
    struct syncstate *s, int64_t folder_id, uint32_t uidnext, uint32_t messages, uint64_t modseq)
{
	sqlite3_stmt *st;

	if (syncstate_prepare(s,
	        "UPDATE folder SET seen_uidnext = ?2, seen_messages = ?3, seen_modseq = ?4 "
	        "WHERE id = ?1",
	        &st) != 0)
		return -1;
	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, uidnext);
	sqlite3_bind_int64(st, 3, messages);
	sqlite3_bind_int64(st, 4, modseq > INT64_MAX ? 0 : (int64_t)modseq);
	return syncstate_step_done(s, st);
}

int
syncstate_set_last_uid(struct syncstate *s, int64_t folder_id, uint32_t uid)
{
	sqlite3_stmt *st;

	if (syncstate_prepare(
	        s, "UPDATE folder SET last_uid = ?2 WHERE id = ?1 AND last_uid < ?2", &st) != 0)
		return -1;
	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, uid);
	return syncstate_step_done(s, st);
}

int
syncstate_other_uidvalidity(struct syncstate *s, const char *pair, const char *src_name,
    uint32_t uidvalidity, int64_t **ids, size_t *n)
{
	sqlite3_stmt *st;
	int rc;

	*ids = NULL;
	*n = 0;
	if (syncstate_prepare(s,
	        "SELECT f.id FROM folder f WHERE f.pair = ?1 AND f.src_name = ?2 "
	        "AND f.src_uidvalidity != ?3 AND EXISTS (SELECT 1 FROM msg m "
	        "WHERE m.folder_id = f.id AND m.state = 1) ORDER BY f.id",
	        &st) != 0)
		return -1;
	sqlite3_bind_text(st, 1, pair, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, src_name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, uidvalidity);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*ids = xrealloc(*ids, (*n + 1) * sizeof(**ids));
		(*ids)[(*n)++] = sqlite3_column_int64(st, 0);
	}
	if (rc != SQLITE_DONE) {
		syncstate_fail(s);
		sqlite3_finalize(st);
		free(*ids);
		*ids = NULL;
		*n = 0;
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

int
syncstate_put(struct syncstate *s, int64_t folder_id, const struct syncstate_msg *m)
{
	sqlite3_stmt *st;

	if (syncstate_prepare(s,
	        "INSERT OR REPLACE INTO msg(folder_id, src_uid, state, size, sha256, message_id, "
	        "dst_uidvalidity, dst_uidnext, dst_uid, updated_at, written_ms, src_flags, "
	        "dst_flags) "
	        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, strftime('%s','now'), " SYNCSTATE_NOW_MS
	        ", ?10, ?11)",
	        &st) != 0)
		return -1;
	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, m->src_uid);
	sqlite3_bind_int(st, 3, (int)m->state);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)m->size);
	if (m->has_hash)
		sqlite3_bind_blob(st, 5, m->sha256, sizeof(m->sha256), SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 5);
	if (m->message_id != NULL)
		sqlite3_bind_text(st, 6, m->message_id, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_int64(st, 7, m->dst_uidvalidity);
	sqlite3_bind_int64(st, 8, m->dst_uidnext);
	sqlite3_bind_int64(st, 9, m->dst_uid);
	if (m->src_flags != NULL)
		sqlite3_bind_text(st, 10, m->src_flags, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 10);
	if (m->dst_flags != NULL)
		sqlite3_bind_text(st, 11, m->dst_flags, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 11);
	return syncstate_step_done(s, st);
}

int
syncstate_done(struct syncstate *s, int64_t folder_id, uint32_t src_uid, uint32_t dst_uidvalidity,
    uint32_t dst_uid)
{
	sqlite3_stmt *st;

	if (syncstate_prepare(s,
	        "UPDATE msg SET state = 1, dst_uidvalidity = ?3, dst_uid = ?4, "
	        "updated_at = strftime('%s','now') WHERE folder_id = ?1 AND src_uid = ?2",
	        &st) != 0)
		return -1;
	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, src_uid);
	sqlite3_bind_int64(st, 3, dst_uidvalidity);
	sqlite3_bind_int64(st, 4, dst_uid);
	return syncstate_step_done(s, st);
}

int
syncstate_failed(struct syncstate *s, int64_t folder_id, uint32_t src_uid)
{
	sqlite3_stmt *st;

	if (syncstate_prepare(s,
	        "UPDATE msg SET state = 2, updated_at = strftime('%s','now') "
	        "WHERE folder_id = ?1 AND src_uid = ?2",
	        &st) != 0)
		return -1;
	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, src_uid);
	return syncstate_step_done(s, st);
}

int
syncstate_drop(struct syncstate *s, int64_t folder_id, uint32_t src_uid)
{
	sqlite3_stmt *st;

	if (syncstate_prepare(s, "DELETE FROM msg WHERE folder_id = ?1 AND src_uid = ?2", &st) != 0)
		return -1;
	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, src_uid);
	return syncstate_step_done(s, st);
}

void
syncstate_msg_clear(struct syncstate_msg *m)
{
	free(m->message_id);
	free(m->src_flags);
	free(m->dst_flags);
	m->message_id = m->src_flags = m->dst_flags = NULL;
}

void
syncstate_msgs_free(struct syncstate_msg *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		syncstate_msg_clear(&m[i]);
	free(m);
}

int
syncstate_msgs(struct syncstate *s, int64_t folder_id, int state, uint32_t above,
    struct syncstate_msg **out, size_t *n)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (syncstate_prepare(s,
	        "SELECT src_uid, state, size, sha256, message_id, dst_uidvalidity, dst_uidnext, "
	        "dst_uid, written_ms, src_flags, dst_flags FROM msg WHERE folder_id = ?1 AND (?2 < "
	        "0 OR state = ?2) "
	        "AND src_uid > ?3 ORDER BY src_uid",
	        &st) != 0)
		return -1;
	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int(st, 2, state);
	sqlite3_bind_int64(st, 3, above);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct syncstate_msg *m;
		const void *h;

		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		m = &(*out)[(*n)++];
		memset(m, 0, sizeof(*m));
		m->src_uid = (uint32_t)sqlite3_column_int64(st, 0);
		m->state = (enum syncstate_msg_state)sqlite3_column_int(st, 1);
		m->size = (uint64_t)sqlite3_column_int64(st, 2);
		h = sqlite3_column_blob(st, 3);
		if (h != NULL && sqlite3_column_bytes(st, 3) == (int)sizeof(m->sha256)) {
			memcpy(m->sha256, h, sizeof(m->sha256));
			m->has_hash = 1;
		}
		if (sqlite3_column_type(st, 4) != SQLITE_NULL)
			m->message_id = xstrdup((const char *)sqlite3_column_text(st, 4));
		m->dst_uidvalidity = (uint32_t)sqlite3_column_int64(st, 5);
		m->dst_uidnext = (uint32_t)sqlite3_column_int64(st, 6);
		m->dst_uid = (uint32_t)sqlite3_column_int64(st, 7);
		m->written_ms = sqlite3_column_int64(st, 8);
		if (sqlite3_column_type(st, 9) != SQLITE_NULL)
			m->src_flags = xstrdup((const char *)sqlite3_column_text(st, 9));
		if (sqlite3_column_type(st, 10) != SQLITE_NULL)
			m->dst_flags = xstrdup((const char *)sqlite3_column_text(st, 10));
	}
	if (rc != SQLITE_DONE) {
		syncstate_fail(s);
		sqlite3_finalize(st);
		syncstate_msgs_free(*out, *n);
		*out = NULL;
		*n = 0;
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

int
syncstate_dst_uids(struct syncstate *s, const char *pair, const char *dst_name,
    uint32_t dst_uidvalidity, uint32_t min_uid, uint32_t **out, size_t *n)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (syncstate_prepare(s,
	        "SELECT m.dst_uid FROM msg m JOIN folder f ON f.id = m.folder_id "
	        "WHERE f.pair = ?1 AND f.dst_name = ?2 AND m.state = 1 "
	        "AND m.dst_uidvalidity = ?3 AND m.dst_uid >= ?4 AND m.dst_uid > 0 "
	        "ORDER BY m.dst_uid",
	        &st) != 0)
		return -1;
	sqlite3_bind_text(st, 1, pair, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, dst_name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, dst_uidvalidity);
	sqlite3_bind_int64(st, 4, min_uid);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		(*out)[(*n)++] = (uint32_t)sqlite3_column_int64(st, 0);
	}
	if (rc != SQLITE_DONE) {
		syncstate_fail(s);
		sqlite3_finalize(st);
		free(*out);
		*out = NULL;
		*n = 0;
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

int
syncstate_count(struct syncstate *s, int state, int64_t *n)
{
	sqlite3_stmt *st;

	*n = 0;
	if (syncstate_prepare(s, "SELECT count(*) FROM msg WHERE ?1 < 0 OR state = ?1", &st) != 0)
		return -1;
	sqlite3_bind_int(st, 1, state);
	return syncstate_scalar(s, st, n);
}

int
syncstate_set_flags(struct syncstate *s, int64_t folder_id, uint32_t src_uid, const char *src_flags,
    const char *dst_flags)
{
	sqlite3_stmt *st;

	if (syncstate_prepare(s,
	        "UPDATE msg SET src_flags = ?3, dst_flags = ?4 WHERE folder_id = ?1 AND src_uid = "
	        "?2",
	        &st) != 0)
		return -1;
	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, src_uid);
	sqlite3_bind_text(st, 3, src_flags, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, dst_flags, -1, SQLITE_STATIC);
	return syncstate_step_done(s, st);
}

int
syncstate_pass_add(struct syncstate *s, const char *pair, const struct syncstate_pass *p)
{
	sqlite3_stmt *st;

	if (syncstate_prepare(s,
	        "INSERT INTO pass(pair, started_ms, ended_ms, status, summary, copied, bytes, "
	        "errors, dry_run) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	        &st) != 0)
		return -1;
	sqlite3_bind_text(st, 1, pair, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, p->started_ms);
	sqlite3_bind_int64(st, 3, p->ended_ms);
	sqlite3_bind_text(st, 4, p->status != NULL ? p->status : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, p->summary != NULL ? p->summary : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)p->copied);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)p->bytes);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)p->errors);
	sqlite3_bind_int(st, 9, p->dry_run);
	return syncstate_step_done(s, st);
}

int
syncstate_pass_last(
    struct syncstate *s, const char *pair, struct syncstate_pass *out, int64_t *passes)
{
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	*passes = 0;
	if (syncstate_prepare(s,
	        "SELECT started_ms, ended_ms, status, summary, copied, bytes, errors, dry_run, "
	        "(SELECT count(*) FROM pass WHERE pair = ?1) FROM pass WHERE pair = ?1 "
	        "ORDER BY id DESC LIMIT 1",
	        &st) != 0)
		return -1;
	sqlite3_bind_text(st, 1, pair, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->started_ms = sqlite3_column_int64(st, 0);
		out->ended_ms = sqlite3_column_int64(st, 1);
		out->status = xstrdup((const char *)sqlite3_column_text(st, 2));
		out->summary = xstrdup((const char *)sqlite3_column_text(st, 3));
		out->copied = (uint64_t)sqlite3_column_int64(st, 4);
		out->bytes = (uint64_t)sqlite3_column_int64(st, 5);
		out->errors = (uint64_t)sqlite3_column_int64(st, 6);
		out->dry_run = sqlite3_column_int(st, 7);
		*passes = sqlite3_column_int64(st, 8);
	} else if (rc != SQLITE_DONE) {
		syncstate_fail(s);
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

void
syncstate_pass_clear(struct syncstate_pass *p)
{
	free(p->status);
	free(p->summary);
	memset(p, 0, sizeof(*p));
}

int
syncstate_pair_counts(struct syncstate *s, const char *pair, int64_t counts[4], int64_t *folders)
{
	sqlite3_stmt *st;
	int rc;

	memset(counts, 0, 4 * sizeof(*counts));
	*folders = 0;
	if (syncstate_prepare(s,
	        "SELECT m.state, count(*) FROM msg m JOIN folder f ON f.id = m.folder_id "
	        "WHERE f.pair = ?1 GROUP BY m.state",
	        &st) != 0)
		return -1;
	sqlite3_bind_text(st, 1, pair, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int k = sqlite3_column_int(st, 0);

		if (k >= 0 && k < 4)
			counts[k] = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return syncstate_fail(s);
	if (syncstate_prepare(
	        s, "SELECT count(DISTINCT src_name) FROM folder WHERE pair = ?1", &st) != 0)
		return -1;
	sqlite3_bind_text(st, 1, pair, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		*folders = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return 0;
}

int
syncstate_now_ms(struct syncstate *s, int64_t *out)
{
	sqlite3_stmt *st;

	*out = 0;
	if (syncstate_prepare(s, "SELECT " SYNCSTATE_NOW_MS, &st) != 0)
		return -1;
	return syncstate_scalar(s, st, out);
}

int
syncstate_done_count(struct syncstate *s, int64_t folder_id, uint32_t dst_uidvalidity, int64_t *n)
{
	sqlite3_stmt *st;

	*n = 0;
	if (syncstate_prepare(s,
	        "SELECT count(*) FROM msg WHERE folder_id = ?1 AND state = 1 "
	        "AND dst_uidvalidity = ?2",
	        &st) != 0)
		return -1;
	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, dst_uidvalidity);
	return syncstate_scalar(s, st, n);
}

int
syncstate_folder_count(struct syncstate *s, const char *pair, const char *src_name,
    uint32_t uidvalidity, int state, int64_t *n)
{
	sqlite3_stmt *st;

	*n = 0;
	if (syncstate_prepare(s,
	        "SELECT count(*) FROM msg m JOIN folder f ON f.id = m.folder_id "
	        "WHERE f.pair = ?1 AND f.src_name = ?2 AND f.src_uidvalidity = ?3 AND m.state = ?4",
	        &st) != 0)
		return -1;
	sqlite3_bind_text(st, 1, pair, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, src_name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, uidvalidity);
	sqlite3_bind_int(st, 4, state);
	return syncstate_scalar(s, st, n);
}
