/*
 * syncstate.h - the durable state of `cutover sync`: what was copied, and
 * what was about to be copied when the process died.
 *
 * One SQLite database, <state_dir>/sync.db (the folder is created 0700, the
 * files are 0600; it holds user names, folder names, UIDs, sizes, Message-IDs
 * and SHA-256 hashes, never a password). WAL journal, synchronous=FULL: a
 * committed transaction survives a crash of the process and of the machine.
 *
 * The model (schema version SYNCSTATE_SCHEMA_VERSION):
 *
 *   folder  one row per (mailbox pair, source folder, source UIDVALIDITY):
 *           the destination folder it maps to and last_uid, the highest
 *           source UID below which everything was copied or recorded as
 *           failed. A delta pass starts above last_uid. Since schema
 *           version 3 also what the source said of the folder at the end of
 *           its last settled pass (seen_*: UIDNEXT, MESSAGES, HIGHESTMODSEQ).
 *   msg     one row per source message the sync touched, keyed by (folder,
 *           source UID), with the time it was written (written_ms, schema
 *           version 2; a version 1 database is migrated on open), in one of
 *           three states:
 *             INTENT  about to be appended, or moved into this folder on
 *                     the destination from another folder's copy (sync
 *                     moves): the content hash and size, and the
 *                     destination's UIDVALIDITY and a lower bound of the
 *                     UID it will get (its UIDNEXT). Written and committed
 *                     before the command that appends (or moves) it is
 *                     complete (sent).
 *             DONE    on the destination (dst_uid when the server said it:
 *                     APPENDUID, RFC 4315, or found by reconciliation).
 *             FAILED  the destination refused it; retried by the next pass.
 *             SKIPPED larger than the destination's message limit: never
 *                     copied (mailbox.compare allows for it).
 *
 * Exactly-once: on restart, every INTENT row is looked for on the destination
 * (UIDs >= its dst_uidnext, same size and SHA-256) and becomes DONE when
 * found, or is dropped (to be copied again) when not. Sync code does that
 * (sync.c); this file only stores.
 *
 * Errors: every function returning int returns 0 on success and -1 on a
 * database error, with the reason in syncstate_error(). All functions are
 * synchronous (local disk).
 */
#ifndef CUTOVER_SYNCSTATE_H
#define CUTOVER_SYNCSTATE_H

#include <stddef.h>
#include <stdint.h>

#define SYNCSTATE_SCHEMA_VERSION 3
#define SYNCSTATE_FILE "sync.db"

enum syncstate_msg_state {
	SYNCSTATE_INTENT = 0,
	SYNCSTATE_DONE = 1,
	SYNCSTATE_FAILED = 2,
	SYNCSTATE_SKIPPED = 3, /* larger than the destination takes: not copied, not retried */
};

/* One folder row. Strings are owned by the struct (syncstate_folder_clear). */
struct syncstate_folder {
	int64_t id;
	uint32_t src_uidvalidity;
	uint32_t last_uid;
	char *dst_name;
	/* at the end of the last settled pass (0: not known; schema version 3) */
	uint32_t seen_uidnext, seen_messages;
	uint64_t seen_modseq; /* CONDSTORE HIGHESTMODSEQ (RFC 7162) */
};

/* One message row. message_id and the flag sets are owned (syncstate_msgs_free,
 * or syncstate_msg_clear for one row taken out of an array). */
struct syncstate_msg {
	uint32_t src_uid;
	enum syncstate_msg_state state;
	uint64_t size;
	unsigned char sha256[32];
	int has_hash;
	char *message_id;         /* without angle brackets stripped: as in the header, or NULL */
	uint32_t dst_uidvalidity; /* 0 = unknown */
	uint32_t dst_uidnext;     /* INTENT: lower bound of the destination UID */
	uint32_t dst_uid;         /* DONE: 0 = unknown */
	int64_t written_ms;       /* read only: when the row was last put (ms, wall clock) */
	char *src_flags;          /* flag sets at the last pass (syncflags.h), or NULL */
	char *dst_flags;
};

struct syncstate;

/*
 * Open (creating when needed) DIR/sync.db: DIR is created with mode 0700
 * (its parent must exist), the database and its WAL files are 0600 (umask
 * 077 while SQLite creates them). A DIR or database readable by others is
 * tightened, not refused. A database with a newer schema version than this
 * build knows is refused. Returns 0 and *OUT (caller closes), or -1 with
 * *ERR (caller frees) naming the path and the reason.
 */
int syncstate_open(const char *dir, struct syncstate **out, char **err);
void syncstate_close(struct syncstate *s);

/* The path of the database file (owned by S). */
const char *syncstate_path(const struct syncstate *s);
/* The last database error ("database is locked", ...), "" if none. */
const char *syncstate_error(const struct syncstate *s);
/* The schema version stored in the database. */
int syncstate_schema_version(struct syncstate *s);

/* Transactions (BEGIN IMMEDIATE / COMMIT / ROLLBACK). Not nested. */
int syncstate_begin(struct syncstate *s);
int syncstate_commit(struct syncstate *s);
int syncstate_rollback(struct syncstate *s);

/*
 * The folder row of (PAIR, SRC_NAME, UIDVALIDITY), created with DST_NAME and
 * last_uid 0 when missing; an existing row gets DST_NAME stored when it
 * changed. PAIR identifies the mailbox pair ("src_user\tdst_user"). Fills
 * *OUT (clear it with syncstate_folder_clear).
 */
int syncstate_folder_get(struct syncstate *s, const char *pair, const char *src_name,
    uint32_t uidvalidity, const char *dst_name, struct syncstate_folder *out);
void syncstate_folder_clear(struct syncstate_folder *f);

/* Record what the source said of FOLDER_ID at the end of a settled pass
 * (MODSEQ 0: the source has no CONDSTORE; all 0: forget). */
int syncstate_set_seen(
    struct syncstate *s, int64_t folder_id, uint32_t uidnext, uint32_t messages, uint64_t modseq);

/* Raise FOLDER_ID's last_uid to UID (never lowers it). */
int syncstate_set_last_uid(struct syncstate *s, int64_t folder_id, uint32_t uid);

/*
 * Folder ids of (PAIR, SRC_NAME) under another UIDVALIDITY than UIDVALIDITY
 * that have DONE messages (a source UIDVALIDITY change). *IDS (caller frees)
 * and *N; *N = 0 when none.
 */
int syncstate_other_uidvalidity(struct syncstate *s, const char *pair, const char *src_name,
    uint32_t uidvalidity, int64_t **ids, size_t *n);

/* Insert or replace the row of M->src_uid in FOLDER_ID with M's fields. */
int syncstate_put(struct syncstate *s, int64_t folder_id, const struct syncstate_msg *m);
/* Mark a row DONE with the destination UID (0 = unknown). */
int syncstate_done(struct syncstate *s, int64_t folder_id, uint32_t src_uid,
    uint32_t dst_uidvalidity, uint32_t dst_uid);
/* Mark a row FAILED (kept for the next pass). */
int syncstate_failed(struct syncstate *s, int64_t folder_id, uint32_t src_uid);
/* Delete the row (an intent that never reached the destination). */
int syncstate_drop(struct syncstate *s, int64_t folder_id, uint32_t src_uid);

/*
 * The rows of FOLDER_ID in STATE (or every state when STATE < 0) with a
 * source UID above ABOVE, by source UID. *OUT (free with syncstate_msgs_free)
 * and *N.
 */
int syncstate_msgs(struct syncstate *s, int64_t folder_id, int state, uint32_t above,
    struct syncstate_msg **out, size_t *n);
void syncstate_msgs_free(struct syncstate_msg *m, size_t n);
void syncstate_msg_clear(struct syncstate_msg *m);

/*
 * Destination UIDs >= MIN_UID that DONE rows of PAIR record in the
 * destination folder DST_NAME under DST_UIDVALIDITY (messages that are
 * accounted for, so reconciliation does not claim them twice). Sorted.
 * *OUT (caller frees) and *N.
 */
int syncstate_dst_uids(struct syncstate *s, const char *pair, const char *dst_name,
    uint32_t dst_uidvalidity, uint32_t min_uid, uint32_t **out, size_t *n);

/* How many rows of FOLDER_ID are DONE under DST_UIDVALIDITY (*N). */
int syncstate_done_count(
    struct syncstate *s, int64_t folder_id, uint32_t dst_uidvalidity, int64_t *n);

/* How many rows in STATE the folder (PAIR, SRC_NAME, UIDVALIDITY) has (*N;
 * 0 when there is no such folder). */
int syncstate_folder_count(struct syncstate *s, const char *pair, const char *src_name,
    uint32_t uidvalidity, int state, int64_t *n);

/* Record the flag sets of a message at this pass (the next merge's base). */
int syncstate_set_flags(struct syncstate *s, int64_t folder_id, uint32_t src_uid,
    const char *src_flags, const char *dst_flags);

/* One pass of one mailbox pair (the pass table, schema version 2). */
struct syncstate_pass {
	int64_t started_ms, ended_ms; /* wall clock */
	char *status;                 /* "pass", "warn", ... (owned) */
	char *summary;                /* the sync.mailbox summary (owned) */
	uint64_t copied, bytes, errors;
	int dry_run;
};

/* Record a finished pass of PAIR. */
int syncstate_pass_add(struct syncstate *s, const char *pair, const struct syncstate_pass *p);
/* The last pass of PAIR into *OUT (zeroed when none; clear with
 * syncstate_pass_clear) and how many passes it had. */
int syncstate_pass_last(
    struct syncstate *s, const char *pair, struct syncstate_pass *out, int64_t *passes);
void syncstate_pass_clear(struct syncstate_pass *p);
/* Rows of PAIR per state (COUNTS[SYNCSTATE_*]) and its source folders. */
int syncstate_pair_counts(
    struct syncstate *s, const char *pair, int64_t counts[4], int64_t *folders);

/* The database's clock (ms since the epoch, the clock of written_ms). */
int syncstate_now_ms(struct syncstate *s, int64_t *out);

/* Counts over the whole database, for tests and `--verbose`. */
int syncstate_count(struct syncstate *s, int state, int64_t *n);

#endif
