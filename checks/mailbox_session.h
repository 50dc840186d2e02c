/*
 * mailbox_session.h - one IMAP session per mailbox per side, shared by the
 * mailbox.* checks: the gathering half of every mailbox check (the judging
 * is each check's fill function). Not a check itself. The functions keep
 * the prefix of the file's former name, mailaudit_.
 *
 * Each mailbox.* check calls mailaudit_schedule() with what it needs from
 * the source and the destination and a fill function. The run then creates,
 * per mailbox and side, one session task on the runner (one connection:
 * login, folders_fetch with the union of what the checks need, LOGOUT), a
 * mailbox at a time as the runner asks for more (runner_add_producer); every
 * check's result is attached to a session (task_attach_at, in the place the
 * schedule call reserved), so a mailbox costs one connection per side however
 * many checks run. Every mailbox.* check of a run schedules before the run
 * begins (a check scheduled later gets sessions of its own).
 *
 * A result that needs only the source is attached to the source session. A
 * result that needs the destination too is attached to the destination
 * session, which, once its own work is done, waits for the source session
 * of the same mailbox (the source sessions are queued first, so they never
 * wait behind it). When the plan has no destination IMAP (or no credentials
 * for it) the result is attached to the source session and the fill function
 * sees no destination.
 */
#ifndef CUTOVER_MAILBOX_SESSION_H
#define CUTOVER_MAILBOX_SESSION_H

#include "check.h"
#include "src/folders.h"
#include "src/plan.h"
#include "src/result.h"

/* What a check needs (mailaudit_schedule NEEDS). */
#define MAILAUDIT_SRC_LIST 0x1     /* source folder list */
#define MAILAUDIT_SRC_STATUS 0x2   /* + messages per folder */
#define MAILAUDIT_SRC_BYTES 0x4    /* + bytes per folder */
#define MAILAUDIT_SRC_LARGE 0x8    /* + messages over the destination's message_bytes */
#define MAILAUDIT_SRC_QUOTA 0x10   /* + GETQUOTAROOT */
#define MAILAUDIT_DST_LIST 0x100   /* destination folder list (delimiter) */
#define MAILAUDIT_DST_STATUS 0x200 /* + messages per folder */
#define MAILAUDIT_DST_QUOTA 0x400  /* + GETQUOTAROOT */
#define MAILAUDIT_DST_ANY 0xf00

/* One side of one mailbox as its fill function sees it. */
struct mailaudit_side {
	int present;                         /* the plan has this side's IMAP and a login */
	const char *user;                    /* the login user on this side */
	const struct folders_inventory *inv; /* NULL when it could not be read */
	const char *error;                   /* why not ("failed in login after ..."), or NULL */
	size_t round_trips;                  /* imap_client_round_trips of the session */
	int connections;                     /* connections the session opened (1) */
	const struct plan_side *plan;        /* the plan's side (limits, profile) */
};

struct sync_run;

struct mailaudit_view {
	const struct plan *plan;
	const struct plan_mailbox *mb;
	struct mailaudit_side src, dst;
	const struct sync_run *after_sync; /* check_input's: the sync this follows, or NULL */
};

/* Fill RES (status, summary, advice, details) from V. */
typedef void (*mailaudit_fill_fn)(struct result *res, const struct mailaudit_view *v);

/*
 * Schedule check ID (result side SIDE) for every mailbox of IN->plan: NEEDS
 * is MAILAUDIT_* bits; FILL runs when the sessions it depends on finished
 * (when a needed side could not be read, FILL still runs and sees its error).
 */
void mailaudit_schedule(struct runner *r, const struct check_input *in, const char *id,
    enum result_side side, unsigned needs, mailaudit_fill_fn fill);

/* The destination limit L of V, or DEF when the plan and profile leave it unset. */
int64_t mailaudit_limit(const struct mailaudit_view *v, int64_t l, int64_t def);

/*
 * The folder mapping sync will use for V (folders_map() with the plan's
 * "sync.folder_map"): V->src.inv->n entries (free with folders_mapping_free).
 * Both inventories must be present.
 */
struct folders_mapping *mailaudit_map(const struct mailaudit_view *v);

/* Report JSON helpers. */
/* A number or null (V < 0). Caller owns it. */
cJSON *mailaudit_num_or_null(int64_t v);
/* "12.3 MiB"-style size into BUF. Returns BUF. */
const char *mailaudit_size(int64_t bytes, char *buf, size_t len);

/* Set RES to an error explaining that SIDE ("source"/"destination") of V
 * could not be read. */
void mailaudit_side_error(struct result *res, const struct mailaudit_view *v, int dst);

/* 1 when both sides of V were read; else 0 with RES set: skipped when the
 * plan has no destination login, else mailaudit_side_error. For the checks
 * that pair the two sides (mailbox.compare, mailbox.folder_map). */
int mailaudit_both_sides(struct result *res, const struct mailaudit_view *v);

#endif
