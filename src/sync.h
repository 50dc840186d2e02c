/*
 * sync.h - the delta sync engine of `cutover sync`: IMAP to IMAP, resumable,
 * exactly once.
 *
 * One runner task per mailbox pair of the plan (host: the source server, so
 * --per-host bounds the mailboxes copied from one server at once). A task:
 *
 *   1. logs in on both sides and lists both (folders.h: NAMESPACE, LIST
 *      with SPECIAL-USE and SUBSCRIBED or LSUB, STATUS pipelined), maps every
 *      selectable source folder with folders_map() (the plan's
 *      sync.folder_map, special use, the path below each side's namespace
 *      prefix with the hierarchy delimiter translated, well-known names; the
 *      same mapping mailbox.compare and mailbox.folder_map use); a level
 *      holding the destination's delimiter gets it replaced by
 *      SYNC_DELIM_REPLACEMENT (reported). Missing destination folders are
 *      created with the source's modified UTF-7 name (so names round-trip
 *      byte for byte) and subscribed when the source folder is.
 *   2. skips every folder whose STATUS (UIDVALIDITY, UIDNEXT) shows nothing
 *      above what the state (syncstate.h) says was copied: a pass with
 *      nothing new costs no command per folder beyond the pipelined STATUS.
 *   3. moves on the destination what the user moved between source folders
 *      since the last pass (sync_moves.c: a new message of one folder with
 *      the size, Message-ID and SHA-256 of a copy whose source left another
 *      folder), before any folder's pass: UID MOVE, or UID COPY and UID
 *      EXPUNGE, with intents committed first and settled from COPYUID.
 *   4. runs up to `jobs` folder workers, each with its own source and
 *      destination connection: SELECT/EXAMINE; reconcile intents left by a
 *      crash; recover a source UIDVALIDITY change by (Message-ID, size,
 *      SHA-256); fetch metadata (UID FLAGS INTERNALDATE RFC822.SIZE
 *      Message-ID) above the last copied UID; then pipelined
 *      UID FETCH (BODY.PEEK[]) whose literals stream, through the parser's
 *      literal sink, straight into MULTIAPPEND (RFC 3502) commands on the
 *      destination. Memory does not grow with message size: the source is
 *      paused while the destination's send buffer is above a high mark.
 *      Nor with the folder's size: the metadata is listed in UID ranges of
 *      about 10,000 messages (SYNC_META_MSGS), each copied before the next
 *      is listed (--verify lists the whole folder at once).
 *
 * Exactly once: a batch's intents (source UID, size, SHA-256, Message-ID,
 * destination UIDVALIDITY and UIDNEXT lower bound) are committed to SQLite
 * after its last literal and before the CRLF that completes the APPEND;
 * a server commits an APPEND only when the command is complete (RFC 3502
 * section 6.3.11: all or nothing), so a message can reach the destination
 * only with its intent on disk. APPENDUID (RFC 4315) turns intents into
 * results. After a crash, intents are looked for on the destination (UIDs
 * from the lower bound, same size and SHA-256) and marked done, or dropped
 * once the killed session's last command can no longer arrive (sync.c I3).
 * A folder's last_uid is the end of the prefix of settled messages (I2);
 * after each folder's pass its recorded copies are looked up on the
 * destination and what is missing is copied again (I4).
 *
 * Ownership: a sync_run borrows the runner, the plan and the state for its
 * life; results go to the runner (one sync.mailbox per pair).
 */
#ifndef CUTOVER_SYNC_H
#define CUTOVER_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "folders.h"

struct runner;
struct plan;
struct syncstate;

/* What replaces the destination's delimiter inside a source folder level. */
#define SYNC_DELIM_REPLACEMENT FOLDERS_DELIM_REPLACEMENT
/* Defaults. */
#define SYNC_DEFAULT_JOBS 2
#define SYNC_DEFAULT_BATCH 100
#define SYNC_DEFAULT_BATCH_BYTES (32ull * 1024 * 1024)

struct sync_opts {
	const char *const *folders; /* fnmatch globs on the UTF-8 source name; NULL = all */
	size_t n_folders;
	const char *const *exclude; /* globs of folders to leave out */
	size_t n_exclude;
	int dry_run;          /* list what would be copied; change nothing */
	double max_msgs;      /* messages per second over the run, 0 = no limit */
	double max_bytes;     /* bytes per second over the run, 0 = no limit */
	int jobs;             /* folders in parallel per mailbox (0 = default) */
	int batch;            /* messages per APPEND command at most (0 = default) */
	uint64_t batch_bytes; /* bytes per APPEND command at most (0 = default) */
	int64_t idle_ms;      /* fail a mailbox when nothing moved for this long */
	int no_multiappend;   /* one message per APPEND even when MULTIAPPEND is offered */
	int verify;           /* check size and SHA-256 of every copied message (I4) */
	int delete_vanished;  /* expunge copies whose source message is gone (--delete) */
	int64_t since;        /* copy only INTERNALDATEs on or after (epoch s); 0 = all */
};

/* Progress over the whole run (for the progress line). */
struct sync_stats {
	uint64_t msgs_done, bytes_done;   /* copied so far */
	uint64_t msgs_total, bytes_total; /* to copy, as far as known */
	size_t mailboxes_done, mailboxes_total;
};

struct sync_run;
struct plan_mailbox;

/* Called once when every mailbox task has finished (from a task, before its
 * task_done): schedule follow-up checks (mailbox.compare) here. */
typedef void (*sync_done_fn)(struct runner *r, void *arg);

/*
 * Schedule one task per mailbox of PLAN on R. O is copied (its arrays are
 * borrowed). DONE (may be NULL) runs when the last mailbox finished.
 * Returns the run (caller frees after runner_run returned).
 */
struct sync_run *sync_schedule(struct runner *r, const struct plan *plan, const struct sync_opts *o,
    struct syncstate *st, sync_done_fn done, void *arg);
const struct sync_stats *sync_run_stats(const struct sync_run *run);
/* The source users of the mailboxes being synced now, ", "-separated, at most
 * LEN-1 bytes ("..." when cut) into BUF. Returns how many there are. */
size_t sync_run_in_flight(const struct sync_run *run, char *buf, size_t len);

/* 1 when the sync of MB (a mailbox of the plan given to sync_schedule) gave
 * up because nothing moved for --timeout: follow-up checks leave it alone
 * instead of waiting out another timeout on the same stalled server. */
int sync_gave_up(const struct sync_run *run, const struct plan_mailbox *mb);
void sync_run_free(struct sync_run *run);

/*
 * For mailbox.compare after a sync: did RUN sync the source folder SRC_RAW
 * (modified UTF-7, as LISTed) of SOURCE_USER? 1 with *ALLOWED = how many
 * fewer messages its destination folder may hold (too large for the
 * destination, never copied); 0 when the run left the folder out (--folders,
 * --exclude, --mailbox) or RUN is NULL.
 */
int sync_run_synced(
    const struct sync_run *run, const char *source_user, const char *src_raw, uint64_t *allowed);

/* ---- pure helpers (unit-tested) ---- */

/*
 * The destination name for a source folder: RAW (modified UTF-7 as the
 * source LISTed it) mapped by folders_map_name, the rule mailbox.compare
 * pairs folders by. Caller frees the result.
 */
char *sync_map_name(const char *raw, char src_delim, char dst_delim, int *rewritten);

/* The Message-ID header's value in HDR (LEN bytes, a header section), unfolded
 * and trimmed, at most 998 bytes; NULL when absent. Caller frees. */
char *sync_message_id(const char *hdr, size_t len);

/*
 * Expand the uid-set of an APPENDUID/COPYUID code ("5:9,12", RFC 4315
 * section 3) into OUT (at most MAX). Returns how many, or -1 when malformed
 * or longer than MAX.
 */
int sync_uid_set(const char *s, uint32_t *out, size_t max);

/*
 * The text of a COPYUID code after its name ("uidvalidity source-set
 * destination-set", RFC 4315 section 3) into *UIDVALIDITY and the pairs
 * SRC[i] -> DST[i] (at most MAX each, in the order the sets give). Returns
 * how many pairs, or -1 when malformed, longer than MAX or the two sets
 * differ in length.
 */
int sync_copyuid(const char *s, uint32_t *uidvalidity, uint32_t *src, uint32_t *dst, size_t max);

/*
 * I2 (sync.c): the highest UID a folder's last_uid may take. The pass's
 * messages are 0..N-1 in ascending UID order; MARK(CTX, I, &uid) gives
 * message I's UID and returns nonzero when it is settled in the state (DONE,
 * FAILED or too large). *CURSOR (0 at the start of a pass; settled messages
 * never become open again) is where the scan resumes, so a pass costs O(N)
 * over all its calls. Returns the UID of the last message of the settled
 * prefix, 0 when the first message is open (or N is 0).
 */
typedef int (*sync_mark_fn)(const void *ctx, size_t i, uint32_t *uid);
uint32_t sync_watermark(const void *ctx, size_t n, sync_mark_fn mark, size_t *cursor);

/*
 * I3 (sync.c): how long to keep looking for an intent written at
 * WRITTEN_MS (the state's clock) at time NOW_MS before dropping it: 0 when
 * it may be dropped now (its APPEND can no longer arrive: SETTLE_MS passed),
 * else the milliseconds to wait before looking again (ROUND: how many times
 * it was looked for already; 100 ms doubling up to 1 s, never past the end
 * of the settle time).
 */
int64_t sync_settle_wait(int64_t written_ms, int64_t now_ms, int64_t settle_ms, int round);

/* Items of a metadata FETCH, merged across responses (RFC 3501 7.4.2). */
#define SYNC_HAVE_UID 0x01u
#define SYNC_HAVE_SIZE 0x02u
#define SYNC_HAVE_DATE 0x04u
#define SYNC_HAVE_FLAGS 0x08u
#define SYNC_BAD_SIZE 0x10u /* present but not a number we accept */
#define SYNC_BAD_DATE 0x20u /* present but not a valid date-time */

/* What one FETCH response says about a message, parsed into values. */
struct sync_meta {
	uint32_t uid;
	uint64_t size;
	char *flags;   /* "(\\Seen $Label)": only valid flags, as APPEND takes them */
	char *date;    /* INTERNALDATE re-written by imap_date_format */
	char *msgid;   /* Message-ID from the header fields, or NULL */
	unsigned have; /* SYNC_HAVE_* / SYNC_BAD_* */
};

/*
 * Parse the items of the FETCH response R (UID, RFC822.SIZE, INTERNALDATE,
 * FLAGS, BODY[HEADER.FIELDS ...]) into *M (caller frees flags, date,
 * msgid). Nothing is copied as text: the date is parsed and re-written,
 * each flag checked (imap_flag_valid). KEEP (may be NULL: keep every valid
 * flag) sees each flag with VALID 0 or 1 and says whether to keep it.
 */
struct imap_response;
void sync_meta_parse(const struct imap_response *r, struct sync_meta *m,
    int (*keep)(void *arg, const char *flag, int valid), void *arg);

/* A suggested backoff from a server response (Microsoft's "Suggested Backoff
 * Time: N milliseconds", [THROTTLED], [UNAVAILABLE]) in ms; 0 when the text
 * is not about throttling, -1 for "throttled, no time given". */
long sync_throttle_ms(const char *code, const char *text);

#endif
