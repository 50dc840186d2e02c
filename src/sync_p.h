/*
 * sync_p.h - the sync engine's private types, shared by its parts (none of
 * this is an interface to the rest of cutover: that is sync.h):
 *
 *   sync.c          connections, failure, the folder's steps in order
 *                   (select, metadata, check I4), the mailbox and the run
 *   sync_util.c     pure helpers (UID sets, Message-ID, throttle answers,
 *                   the watermark of I2, the settle wait of I3)
 *   sync_copy.c     the streaming copy that keeps I1 and I2: flow control,
 *                   the sink, APPEND batches and their answers
 *   sync_match.c    matching destination or source messages to state rows by
 *                   size and SHA-256: reconcile (I3) and UIDVALIDITY recovery,
 *                   one matcher driven by a table
 *   sync_changes.c  the source's changes since the last pass (flags, deletions)
 *   sync_moves.c    messages moved between folders since the last pass, moved
 *                   on the destination before the folders' passes
 *
 * The invariants I1-I4 are stated at the top of sync.c.
 */
#ifndef CUTOVER_SYNC_P_H
#define CUTOVER_SYNC_P_H

#include <stdint.h>
#include <stddef.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "imap.h"
#include "runner.h"
#include "sync.h"
#include "syncstate.h"
#include "util.h"

#include "util.h"

#ifndef SYNC_META_MSGS       /* tests build with a small one: -DSYNC_META_MSGS=7 */
#define SYNC_META_MSGS 10000 /* messages listed (and held) per metadata FETCH */
#endif
#define SYNC_FETCH_MSGS 200                         /* messages per UID FETCH of bodies */
#define SYNC_FETCH_BYTES (16u * 1024 * 1024)        /* bytes per UID FETCH of bodies */
#define SYNC_FETCH_WINDOW 2                         /* body FETCH commands in flight */
#define SYNC_OUT_HIGH (1024u * 1024)                /* pause the source above this */
#define SYNC_OUT_LOW (256u * 1024)                  /* resume below this */
#define SYNC_TASK_TIMEOUT_MS (7 * 24 * 3600 * 1000) /* the runner's deadline; idle_ms is ours */
#define SYNC_MAX_RETRIES 8
/* Body bytes that count as progress for the watchdog (a trickle below
 * SYNC_DRIP_BYTES per --timeout is a stalled server). */
#define SYNC_DRIP_BYTES (16u * 1024u)
#define SYNC_BACKOFF_MAX_MS 60000
#define SYNC_SET_MAX 900          /* characters of a UID set in one command */
#define SYNC_SETTLE_QUIET_MS 2000 /* I3: no growth on the destination for this long */

/*
 * A message of the pass. Settled (I2): M_DONE, M_FAILED (a FAILED row),
 * M_SKIP (too large). Open: M_NEW (not copied yet), M_BATCH (in an APPEND
 * not answered yet), M_LOST (not on the destination and no row: its APPEND
 * was refused before it was complete or throttled; the next pass copies it),
 * M_OLD (before --since: not copied, and open, so that a pass without it
 * copies the message).
 */
enum sync_msg_st { M_NEW, M_BATCH, M_DONE, M_FAILED, M_SKIP, M_LOST, M_OLD };

struct sync_msg {
	uint32_t uid;
	uint64_t size;
	char *flags; /* "(\\Seen $Label1)" as APPEND takes it */
	char *date;  /* INTERNALDATE, or NULL */
	char *msgid;
	unsigned char sha[32];
	enum sync_msg_st st;
	uint32_t seq, ord; /* metadata FETCH: message number, arrival order */
	unsigned have;     /* metadata FETCH: SYNC_HAVE_* items received */
};

struct sync_folder {
	char *src_raw, *src_name, *dst_raw, *dst_name;
	const char *how; /* folders_by_str(): "plan", "special-use", "name", "guess", "new" */
	int rewritten, create, created, exists;
	int subscribe;  /* subscribed on the source, not yet on the destination */
	int subscribed; /* subscribed on the destination (after this run) */
	uint32_t st_uidnext, st_uidvalidity, st_messages;
	int has_status;
	/* CONDSTORE: HIGHESTMODSEQ at the end of the last settled pass and now
	 * (STATUS); modseq_ask: unchanged unless the HIGHESTMODSEQ moved */
	uint64_t seen_modseq, st_modseq;
	int modseq_ask;
	int unchanged; /* STATUS says the same as after the last settled pass */
	uint64_t copied, bytes, errors, skipped, too_large, reconciled, recovered;
	uint64_t would_copy, would_bytes, intents_dropped;
	uint64_t throttled; /* answers asking us to slow down */
	/* I4: what the state claimed, checked against the destination */
	uint64_t checked, missing, mismatched, unverifiable, unrecorded;
	/* changes since the last pass (issue 15) */
	uint64_t flags_updated, conflicts, deleted, deleted_pending;
	uint64_t moved;   /* moved here on the destination from another folder (sync_moves.c) */
	uint64_t older;   /* before --since: not copied */
	int check_rounds; /* checks made this run (a second one copies nothing more) */
	int check_forced; /* queued because the destination holds fewer than claimed */
	int changes_only; /* queued for the changes since the last pass, nothing new */
	char *error;
	char **dropped; /* keywords the destination does not keep */
	size_t n_dropped;
	int queued, busy, done;
	int retries;              /* failures in a row without a message copied */
	uint64_t copied_at_retry; /* COPIED when the last retry was made */
};

struct sync_worker;

struct sync_batch {
	struct sync_worker *w;
	struct imap_cmd *cmd; /* the open APPEND; NULL once answered */
	size_t *idx;          /* indexes into w->msgs */
	size_t n, cap;
	uint64_t bytes;
	uint32_t uidnext_lb;
	int closed;
	struct sync_batch *next;
};

struct sync_cand {
	uint32_t uid;
	uint64_t size;
	char *msgid;
	unsigned char sha[32];
	int hashed, used;
};

enum sync_phase {
	W_IDLE,
	W_CONNECT,
	W_SELECT,
	W_RECONCILE,
	W_RECOVER,
	W_META,
	W_COPY,
	W_CHECK,
	W_CHANGES,
};

enum sync_sink_mode { SINK_NONE, SINK_COPY, SINK_HASH };

struct sync_mbox;

struct sync_worker {
	struct sync_mbox *m;
	struct imap_client *src, *dst;
	int src_ready, dst_ready;
	int live; /* counts in m->workers_live */
	struct sync_folder *f;
	enum sync_phase ph;
	int pending;
	int failing;
	char *err;
	int retry;
	long backoff_ms;
	struct event *timer;  /* deferred failure handling and backoff */
	struct event *flow;   /* resume check while the source is paused */
	struct event *settle; /* look for young unmatched intents again (I3) */
	/* the folder being synced */
	struct syncstate_folder sf;
	int have_sf;
	uint32_t src_uidvalidity, src_uidnext, src_exists;
	uint32_t dst_exists; /* the destination's EXISTS, as last announced */
	uint32_t dst_uidvalidity, dst_uidnext;
	uint64_t src_modseq; /* the source's HIGHESTMODSEQ at EXAMINE (0: none) */
	int chg_since;       /* the source listed flags CHANGEDSINCE the settled pass */
	int chg_settled;     /* the changes step ran and everything in it succeeded */
	char **perm;
	size_t n_perm;
	int perm_known, perm_any;
	struct sync_msg *msgs;
	size_t n_msgs, cap_msgs;
	uint32_t *skip_uids; /* DONE rows above last_uid (reconciled, recovered) */
	size_t n_skip;
	uint32_t *failed_uids;
	size_t n_failed;
	size_t next_req, next_expect;
	size_t wm_cursor; /* sync_watermark's cursor over msgs (I2) */
	/* The listing in chunks of about SYNC_META_MSGS messages (worker_meta,
	 * meta_more): memory does not grow with the folder. */
	uint32_t meta_next, meta_hi, meta_span; /* next chunk from; this one's end (0: "*"); UIDs */
	int meta_chunks;                        /* chunks listed by this pass */
	int wm_hold;   /* a chunk left something unsettled: last_uid stays (I2) */
	int none_done; /* the pass began without DONE rows: no copy to follow (worker_changes) */
	uint64_t meta_listed;    /* messages the earlier chunks listed */
	uint32_t meta_arrived;   /* of which at or above the settled pass's UIDNEXT */
	uint32_t (*done_rng)[2]; /* UID ranges the earlier chunks copied (worker_changes) */
	size_t n_done_rng;
	const struct sync_matcher *matcher; /* the matching step in progress (sync_match.c) */
	int settle_round;                   /* times the intents were looked for (I3) */
	int64_t settle_now, settle_ms, settle_wait; /* this round: clock, settle time, wait */
	uint32_t settle_top, settle_seen; /* highest destination UID: last round, this one */
	int64_t settle_changed_ms;        /* when settle_top last changed (state's clock) */
	int fetches;
	int fetch_errors;
	/* streaming */
	enum sync_sink_mode sink;
	struct sync_msg *cur;
	struct sync_cand *cur_cand;
	int cur_live;
	EVP_MD_CTX *md;
	struct sync_batch *open;
	struct sync_batch *inflight;
	int paused;
	/* reconcile and recovery */
	struct syncstate_msg *intents;
	size_t n_intents;
	struct sync_cand *cands;
	size_t n_cands, cap_cands, next_cand;
	struct syncstate_msg *old;
	size_t n_old;
	/* I4: DONE rows being checked (cands hold their destination UIDs) */
	struct syncstate_msg *claims; /* the first n_claims of n_claims_all rows */
	size_t n_claims, n_claims_all;
	uint32_t *known_uids; /* --verify: source UIDs with a row */
	size_t n_known;
	/* changes since the last pass (worker_changes) */
	struct syncstate_msg *crow; /* the first n_crow of n_crow_all DONE rows */
	size_t n_crow, n_crow_all;
	struct sync_fl *sfl, *dfl; /* flags listed by the source / destination */
	size_t n_sfl, cap_sfl, n_dfl, cap_dfl;
	struct sync_base {
		uint32_t src_uid;
		char *bs, *bd;
	} * bases; /* new flag bases to record */
	size_t n_bases;
	uint32_t *gone, *gone_src; /* copies whose source is gone: dst / src UIDs */
	size_t n_gone;
	uint32_t *both_gone; /* source UIDs of copies gone from both sides */
	size_t n_both_gone;
	int gone_step, changes_failed;
	uint64_t chg_updated, chg_conflicts;
};

struct sync_run {
	struct runner *r;
	const struct plan *plan;
	struct sync_opts o;
	struct syncstate *st;
	struct sync_stats stats;
	size_t open_tasks;
	sync_done_fn done;
	void *done_arg;
	int64_t t0;
	uint64_t rate_msgs, rate_bytes;
	/* the folders this run synced, for mailbox.compare (sync_run_synced) */
	struct sync_note {
		char *user, *src_raw;
		uint64_t allowed;
	} * notes;
	size_t n_notes;
	struct sync_mbox *active;            /* mailboxes started and not finished */
	const struct plan_mailbox **gave_up; /* mailboxes whose servers stalled */
	size_t n_gave_up;
};

struct sync_mbox {
	struct sync_run *run;
	const struct plan_mailbox *mb;
	struct task *t;
	char *pair;
	int64_t t0, last_activity;
	uint64_t drip;                 /* body bytes since the last touch (sync_sink) */
	struct imap_client *src, *dst; /* the first connections, handed to worker 0 */
	int src_ready, dst_ready;
	struct folders_job *sjob, *djob;
	int jobs_left;
	int max_workers; /* workers the runner's limits grant (task_set_footprint) */
	struct folders_inventory *sinv, *dinv;
	struct sync_folder *folders;
	size_t n_folders;
	int creates;
	int statuses; /* STATUS (HIGHESTMODSEQ) commands in flight (mbox_plan) */
	struct sync_worker *workers;
	int n_workers, workers_live;
	int started_workers;
	char *fatal;
	enum net_result fatal_res; /* the login's outcome when a login was fatal */
	int finished;
	int logouts;
	struct sync_mbox *act_prev, *act_next; /* in run->active while started */
	int active;
	struct event *kick;     /* deferred: finish the mailbox */
	struct event *watchdog; /* idle timeout */
	uint64_t rewritten, created;
	uint64_t subscribed;      /* SUBSCRIBE commands that succeeded */
	cJSON *mapinfo;           /* "namespaces" and "left_out" for the report (mbox_map) */
	struct sync_moves *moves; /* the moves step in progress (sync_moves.c) */
};

/* Shared between the parts, by the file that defines them. */
/* sync.c: the folder's steps, failure, bookkeeping */
void batch_free(struct sync_batch *b);
void folder_set_error(struct sync_folder *f, const char *msg);
int meta_flag_ok(struct sync_worker *w, const char *flag);
int sync_throttled(struct sync_worker *w, const struct imap_response *r);
void worker_check(struct sync_worker *w);
void worker_fail(struct sync_worker *w, int retry, long backoff_ms, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void worker_finish(struct sync_worker *w);
void worker_meta(struct sync_worker *w);

void mbox_start_workers(struct sync_mbox *m);

/* sync_moves.c: messages moved between folders since the last pass */
void mbox_moves(struct sync_mbox *m);
void mbox_moves_free(struct sync_mbox *m);

/* sync_util.c: pure helpers */
int sync_cmp_u32(const void *a, const void *b);
int64_t sync_date_epoch(const char *date);
int sync_has_u32(const uint32_t *v, size_t n, uint32_t x);
/* The INTENT row of source UID SRC_UID (SIZE, SHA256, MSGID borrowed) that
 * is committed before the command that may put it in a destination folder
 * of UIDVALIDITY at or above UIDNEXT (I1): an APPEND or a move. */
struct syncstate_msg sync_intent_row(uint32_t src_uid, uint64_t size, const unsigned char *sha256,
    char *msgid, uint32_t uidvalidity, uint32_t uidnext);
int sync_parse_fetch(const struct imap_response *r, uint32_t *uid, uint64_t *size, char **msgid);
int sync_parse_u32(const char *s, uint32_t *out);
int sync_parse_u64(const char *s, uint64_t *out);
int sync_status_modseq(const struct imap_response *r, const char **name, uint64_t *modseq);
uint32_t sync_prefix_uid(const char *s, size_t len);
char *sync_set_str(const uint32_t *uids, size_t n, size_t *taken);

/* sync_copy.c: the streaming copy (I1, I2) */
int batch_close(struct sync_worker *w);
void batch_done(struct imap_client *c, const struct imap_response *r, void *arg);
void copy_check_done(struct sync_worker *w);
void flow_drain_cb(void *arg);
void flow_timer_cb(evutil_socket_t fd, short what, void *arg);
int64_t sync_rate_wait(struct sync_run *run);
void worker_copy(struct sync_worker *w);
struct sync_msg *worker_find_msg(struct sync_worker *w, uint32_t uid);
int worker_copied_now(struct sync_worker *w, uint32_t uid);
void worker_sink_mode(struct sync_worker *w, struct imap_client *c, enum sync_sink_mode mode);
uint32_t worker_watermark(struct sync_worker *w, int expunged_ok);

/* sync_changes.c: changes since the last pass */
void changes_reset(struct sync_worker *w);
char *sync_flags_of_paren(const char *s);
int worker_answer_ok(
    struct sync_worker *w, struct imap_client *c, const struct imap_response *r, const char *what);
void worker_changes(struct sync_worker *w);

/* sync_match.c: the matcher (I3, UIDVALIDITY recovery) */
void cand_add(struct sync_worker *w, uint32_t uid, uint64_t size, char *msgid);
void cand_fetch(struct sync_worker *w, struct imap_client *c, imap_done_fn done, const char *items,
    imap_untagged_fn untagged);
void reconcile_settle_cb(evutil_socket_t fd, short what, void *arg);
void worker_reconcile(struct sync_worker *w);
int worker_recover(struct sync_worker *w);

static inline void
sync_touch(struct sync_mbox *m)
{
	m->last_activity = util_now_ms();
}

static inline struct event_base *
sync_base(struct sync_mbox *m)
{
	return runner_base(m->run->r);
}

#endif
