/*
 * sync_match.c - matching messages to state rows by size and SHA-256:
 * reconcile (I3) and UIDVALIDITY recovery.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "imap.h"
#include "net.h"
#include "syncflags.h"
#include "syncstate.h"
#include "sync_p.h"
#include "util.h"

/* ================================================================ hashing candidates ===== */

void
cand_add(struct sync_worker *w, uint32_t uid, uint64_t size, char *msgid)
{
	struct sync_cand *c;

	if (w->n_cands == w->cap_cands) {
		w->cap_cands = w->cap_cands ? w->cap_cands * 2 : 16;
		w->cands = xrealloc(w->cands, w->cap_cands * sizeof(*w->cands));
	}
	c = &w->cands[w->n_cands++];
	memset(c, 0, sizeof(*c));
	c->uid = uid;
	c->size = size;
	c->msgid = msgid;
}

/* UID FETCH <cands> ITEMS on C, hashing every body (UNTAGGED sees each
 * response, may be NULL); DONE follows each command. */
void
cand_fetch(struct sync_worker *w, struct imap_client *c, imap_done_fn done, const char *items,
    imap_untagged_fn untagged)
{
	uint32_t *uids = xcalloc(w->n_cands ? w->n_cands : 1, sizeof(*uids));
	size_t off = 0;

	for (size_t i = 0; i < w->n_cands; i++)
		uids[i] = w->cands[i].uid;
	qsort(uids, w->n_cands, sizeof(*uids), sync_cmp_u32);
	worker_sink_mode(w, c, SINK_HASH);
	w->next_cand = 0;
	w->pending = 0;
	while (off < w->n_cands) {
		size_t taken;
		char *set = sync_set_str(uids + off, w->n_cands - off, &taken);
		struct imap_cmd *cmd = imap_cmd_new(c, "UID FETCH");

		imap_cmd_atom(cmd, set);
		imap_cmd_atom(cmd, items);
		free(set);
		w->pending++;
		imap_cmd_send(cmd, untagged, done, w);
		off += taken;
	}
	free(uids);
}

/* ================================================================ the matcher ===== */

/*
 * One matcher for both jobs. It lists one side of the folder (UID FETCH SET
 * ITEMS), keeps as candidates the messages a row may be (fits), leaves out
 * those the state already accounts for (prune), hashes the rest
 * (BODY.PEEK[]), and pairs every row with an unused candidate that fits and
 * has the row's SHA-256: the job says what a match (hit) and no match (miss)
 * mean, and how the step ends (end).
 *
 *               reconcile (I3)                    UIDVALIDITY recovery
 *   rows        INTENT rows of the folder         DONE rows of the old UIDVALIDITY
 *   looks on    the destination, from the lowest  the source, 1:*
 *               intent's UIDNEXT lower bound
 *   fits        same size, UID at or above the    same size and Message-ID
 *               intent's lower bound
 *   prune       UIDs a DONE row accounts for      -
 *   hit         DONE with that destination UID    DONE with the new source UID
 *   miss        dropped once its APPEND cannot    none: copied again
 *               arrive, else looked for again
 */
struct sync_matcher {
	enum sync_phase ph;
	int on_dst;        /* look on the destination (else the source) */
	const char *doing; /* errors say "<doing> <folder><after>: ..." */
	const char *after;
	const char *items; /* what the listing fetches */
	struct syncstate_msg *(*rows)(struct sync_worker *w, size_t **n);
	int (*fits)(
	    const struct syncstate_msg *row, uint32_t uid, uint64_t size, const char *msgid);
	int (*prune)(struct sync_worker *w); /* NULL: nothing to leave out; -1: failed */
	int (*begin)(struct sync_worker *w); /* NULL: nothing; else 0 or -1 (state failed) */
	int (*hit)(
	    struct sync_worker *w, const struct syncstate_msg *row, const struct sync_cand *c);
	int (*miss)(struct sync_worker *w, const struct syncstate_msg *row, int *keep);
	void (*end)(struct sync_worker *w, size_t kept, int rc);
};

enum { MATCH_INTENTS, MATCH_OLD };

static struct imap_client *
match_client(const struct sync_worker *w)
{
	return w->matcher->on_dst ? w->dst : w->src;
}

static const char *
match_folder(const struct sync_worker *w)
{
	return w->matcher->on_dst ? w->f->dst_name : w->f->src_name;
}

/*
 * End of a matching step: commit what it recorded unless RC says the state
 * failed (then fail the worker), forget the candidates, go on.
 */
static void
worker_matched(struct sync_worker *w, int rc)
{
	struct syncstate *st = w->m->run->st;

	if (rc == 0)
		rc = syncstate_commit(st);
	if (rc != 0) {
		(void)syncstate_rollback(st);
		worker_fail(
		    w, 0, 0, "cannot update %s: %s", syncstate_path(st), syncstate_error(st));
		return;
	}
	for (size_t i = 0; i < w->n_cands; i++)
		free(w->cands[i].msgid);
	w->n_cands = 0;
	worker_meta(w);
}

static struct sync_cand *
match_find(struct sync_worker *w, const struct syncstate_msg *row)
{
	if (!row->has_hash)
		return NULL;
	for (size_t j = 0; j < w->n_cands; j++) {
		struct sync_cand *c = &w->cands[j];

		if (!c->used && c->hashed && w->matcher->fits(row, c->uid, c->size, c->msgid) &&
		    memcmp(c->sha, row->sha256, sizeof(c->sha)) == 0)
			return c;
	}
	return NULL;
}

/* Every row against the hashed candidates; the rows the job keeps stay. */
static void
match_resolve(struct sync_worker *w)
{
	const struct sync_matcher *mt = w->matcher;
	struct syncstate *st = w->m->run->st;
	size_t *n, kept = 0;
	struct syncstate_msg *rows = mt->rows(w, &n);
	int rc;

	worker_sink_mode(w, match_client(w), SINK_NONE);
	rc = mt->begin != NULL ? mt->begin(w) : 0;
	if (rc == 0)
		rc = syncstate_begin(st);
	for (size_t i = 0; i < *n; i++) {
		struct syncstate_msg *row = &rows[i];
		struct sync_cand *hit;
		int keep = 1;

		if (rc == 0) {
			keep = 0;
			if ((hit = match_find(w, row)) != NULL) {
				hit->used = 1;
				rc = mt->hit(w, row, hit);
			} else {
				rc = mt->miss(w, row, &keep);
			}
		}
		if (keep)
			rows[kept++] = *row;
		else
			syncstate_msg_clear(row);
	}
	*n = kept;
	mt->end(w, kept, rc);
}

static int
match_answer(struct sync_worker *w, struct imap_client *c, const struct imap_response *r)
{
	const struct sync_matcher *mt = w->matcher;

	if (w->failing)
		return 0;
	if (r == NULL) {
		worker_fail(w, 1, 0, "%s %s%s: %s", mt->doing, match_folder(w), mt->after,
		    c != NULL ? imap_client_error(c) : "connection closed");
		return 0;
	}
	return !sync_throttled(w, r);
}

static void
match_hash_done(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_worker *w = arg;

	(void)c;
	if (match_answer(w, match_client(w), r) && --w->pending == 0)
		match_resolve(w);
}

static void
match_list_untagged(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_worker *w = arg;
	struct syncstate_msg *rows;
	size_t *n;
	uint32_t uid = 0;
	uint64_t size = 0;
	char *msgid;

	(void)c;
	sync_touch(w->m);
	if (!sync_parse_fetch(r, &uid, &size, &msgid))
		return;
	if (uid > w->settle_seen)
		w->settle_seen = uid;
	rows = w->matcher->rows(w, &n);
	for (size_t i = 0; i < *n; i++) {
		if (w->matcher->fits(&rows[i], uid, size, msgid)) {
			cand_add(w, uid, size, msgid);
			return;
		}
	}
	free(msgid);
}

static void
match_list_done(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_worker *w = arg;

	(void)c;
	if (!match_answer(w, match_client(w), r))
		return;
	if (r->status != IMAP_ST_OK) {
		worker_fail(w, 0, 0, "UID FETCH in %s failed: %s %s", match_folder(w),
		    imap_status_str(r->status), r->text);
		return;
	}
	if (w->matcher->prune != NULL && w->matcher->prune(w) != 0)
		return;
	if (w->n_cands == 0) {
		match_resolve(w);
		return;
	}
	cand_fetch(w, match_client(w), match_hash_done, "(UID BODY.PEEK[])", NULL);
}

/* List SET on the matcher's side, then hash and resolve (or, with no SET,
 * resolve at once: no row can match). */
static void
match_start(struct sync_worker *w, const struct sync_matcher *mt, const char *set)
{
	struct imap_cmd *cmd;

	w->matcher = mt;
	w->ph = mt->ph;
	if (set == NULL) {
		match_resolve(w);
		return;
	}
	worker_sink_mode(w, match_client(w), SINK_NONE);
	cmd = imap_cmd_new(match_client(w), "UID FETCH");
	imap_cmd_atom(cmd, set);
	imap_cmd_atom(cmd, mt->items);
	imap_cmd_send(cmd, match_list_untagged, match_list_done, w);
}

/* ================================================================ reconcile (I3) ===== */

static struct syncstate_msg *
intent_rows(struct sync_worker *w, size_t **n)
{
	*n = &w->n_intents;
	return w->intents;
}

static int
intent_fits(const struct syncstate_msg *in, uint32_t uid, uint64_t size, const char *msgid)
{
	(void)msgid;
	return in->size == size && uid >= in->dst_uidnext;
}

/* Destination messages a DONE row accounts for are not candidates. */
static int
intent_prune(struct sync_worker *w)
{
	struct syncstate *st = w->m->run->st;
	uint32_t *acc = NULL;
	size_t n_acc = 0, k = 0;

	if (syncstate_dst_uids(
	        st, w->m->pair, w->f->dst_raw, w->dst_uidvalidity, 1, &acc, &n_acc) != 0) {
		worker_fail(w, 0, 0, "cannot read %s: %s", syncstate_path(st), syncstate_error(st));
		return -1;
	}
	for (size_t i = 0; i < w->n_cands; i++) {
		if (sync_has_u32(acc, n_acc, w->cands[i].uid)) {
			free(w->cands[i].msgid);
			continue;
		}
		w->cands[k++] = w->cands[i];
	}
	w->n_cands = k;
	free(acc);
	return 0;
}

/*
 * A dead session still storing its last commands makes the destination
 * grow; once it stayed the same for SYNC_SETTLE_QUIET_MS, nothing more is
 * arriving and the settle time is over early.
 */
static int
intent_begin(struct sync_worker *w)
{
	int rc;

	w->settle_ms = w->m->run->o.idle_ms;
	w->settle_wait = 0;
	w->settle_now = 0;
	rc = syncstate_now_ms(w->m->run->st, &w->settle_now);
	if (w->settle_round == 0 || w->settle_seen != w->settle_top) {
		w->settle_top = w->settle_seen;
		w->settle_changed_ms = w->settle_now;
	} else if (w->settle_now - w->settle_changed_ms >= SYNC_SETTLE_QUIET_MS) {
		w->settle_ms = 0;
	}
	w->settle_seen = 0;
	return rc;
}

static int
intent_hit(struct sync_worker *w, const struct syncstate_msg *in, const struct sync_cand *c)
{
	w->f->reconciled++;
	return syncstate_done(w->m->run->st, w->sf.id, in->src_uid, w->dst_uidvalidity, c->uid);
}

/* I3: dropped (copied again) only when its APPEND can no longer arrive; a
 * younger one is kept and the destination looked at again. */
static int
intent_miss(struct sync_worker *w, const struct syncstate_msg *in, int *keep)
{
	int64_t wt;

	if (in->size == UINT64_MAX) /* dropped already: another UIDVALIDITY */
		return 0;
	wt = sync_settle_wait(in->written_ms, w->settle_now, w->settle_ms, w->settle_round);
	if (wt > 0) {
		if (wt > w->settle_wait)
			w->settle_wait = wt;
		*keep = 1;
		return 0;
	}
	w->f->intents_dropped++;
	return syncstate_drop(w->m->run->st, w->sf.id, in->src_uid);
}

static void
intent_end(struct sync_worker *w, size_t kept, int rc)
{
	struct syncstate *st = w->m->run->st;

	if (kept == 0 || rc != 0) {
		worker_matched(w, rc);
		return;
	}
	/* Some may still be arriving from a session that died: look again. */
	if (syncstate_commit(st) != 0) {
		(void)syncstate_rollback(st);
		worker_fail(
		    w, 0, 0, "cannot update %s: %s", syncstate_path(st), syncstate_error(st));
		return;
	}
	for (size_t i = 0; i < w->n_cands; i++)
		free(w->cands[i].msgid);
	w->n_cands = 0;
	w->settle_round++;
	sync_touch(w->m);
	{
		struct timeval tv = {
		    (time_t)(w->settle_wait / 1000), (suseconds_t)((w->settle_wait % 1000) * 1000)};

		evtimer_add(w->settle, &tv);
	}
}

void
reconcile_settle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sync_worker *w = arg;

	(void)fd;
	(void)what;
	if (w->failing || w->ph != W_RECONCILE || w->dst == NULL)
		return;
	sync_touch(w->m);
	worker_reconcile(w);
}

/* ================================================================ UIDVALIDITY recovery ===== */

static int
sync_msgid_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static struct syncstate_msg *
old_rows(struct sync_worker *w, size_t **n)
{
	*n = &w->n_old;
	return w->old;
}

static int
old_fits(const struct syncstate_msg *o, uint32_t uid, uint64_t size, const char *msgid)
{
	(void)uid;
	return o->size == size && sync_msgid_eq(o->message_id, msgid);
}

static int
old_hit(struct sync_worker *w, const struct syncstate_msg *o, const struct sync_cand *c)
{
	struct syncstate_msg sm = *o;

	sm.src_uid = c->uid;
	sm.state = SYNCSTATE_DONE;
	w->f->recovered++;
	return syncstate_put(w->m->run->st, w->sf.id, &sm);
}

static int
old_miss(struct sync_worker *w, const struct syncstate_msg *o, int *keep)
{
	(void)w;
	(void)o;
	*keep = 1; /* no row: the next step copies the message again */
	return 0;
}

static void
old_end(struct sync_worker *w, size_t kept, int rc)
{
	(void)kept;
	worker_matched(w, rc);
}

/* ================================================================ the table ===== */

static const struct sync_matcher sync_matchers[] = {
    [MATCH_INTENTS] = {W_RECONCILE, 1, "reconciling", "", "(UID RFC822.SIZE)", intent_rows,
        intent_fits, intent_prune, intent_begin, intent_hit, intent_miss, intent_end},
    [MATCH_OLD] = {W_RECOVER, 0, "matching", " after a UIDVALIDITY change",
        "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])", old_rows, old_fits, NULL, NULL,
        old_hit, old_miss, old_end},
};

/* ================================================================ starting a step ===== */

static void
reconcile_noop_done(struct imap_client *c, const struct imap_response *r, void *arg)
{
	/* Nothing to do: a failed connection fails the FETCH that follows. */
	(void)c;
	(void)r;
	(void)arg;
}

void
worker_reconcile(struct sync_worker *w)
{
	struct syncstate *st = w->m->run->st;
	uint32_t low = UINT32_MAX;
	char set[32];
	int rc;

	w->ph = W_RECONCILE;
	/* Intents from another destination UIDVALIDITY cannot be checked. */
	rc = syncstate_begin(st);
	for (size_t i = 0; rc == 0 && i < w->n_intents; i++) {
		if (w->intents[i].dst_uidvalidity != w->dst_uidvalidity) {
			rc = syncstate_drop(st, w->sf.id, w->intents[i].src_uid);
			w->f->intents_dropped++;
			w->intents[i].size = UINT64_MAX; /* matches nothing */
		} else if (w->intents[i].dst_uidnext < low) {
			low = w->intents[i].dst_uidnext;
		}
	}
	if (rc == 0)
		rc = syncstate_commit(st);
	if (rc != 0) {
		(void)syncstate_rollback(st);
		worker_fail(
		    w, 0, 0, "cannot update %s: %s", syncstate_path(st), syncstate_error(st));
		return;
	}
	if (low == UINT32_MAX) {
		match_start(w, &sync_matchers[MATCH_INTENTS], NULL);
		return;
	}
	snprintf(set, sizeof(set), "%u:*", low > 0 ? low : 1);
	if (w->settle_round > 0) {
		/* Looking again: NOOP lets the server show what other sessions
		 * stored meanwhile (RFC 3501 6.1.2) before the FETCH. */
		imap_cmd_send(imap_cmd_new(w->dst, "NOOP"), NULL, reconcile_noop_done, w);
	}
	match_start(w, &sync_matchers[MATCH_INTENTS], set);
}

/* Returns 1 when a recovery started, 0 when none is needed, -1 on failure. */
int
worker_recover(struct sync_worker *w)
{
	struct syncstate *st = w->m->run->st;
	int64_t *ids = NULL;
	size_t n_ids = 0;
	struct syncstate_msg *rows = NULL;
	size_t n_rows = 0;

	if (w->sf.last_uid != 0)
		return 0;
	if (syncstate_msgs(st, w->sf.id, -1, 0, &rows, &n_rows) != 0)
		goto dberr;
	syncstate_msgs_free(rows, n_rows);
	if (n_rows > 0)
		return 0;
	if (syncstate_other_uidvalidity(
	        st, w->m->pair, w->f->src_raw, w->src_uidvalidity, &ids, &n_ids) != 0)
		goto dberr;
	for (size_t i = 0; i < n_ids; i++) {
		if (syncstate_msgs(st, ids[i], SYNCSTATE_DONE, 0, &rows, &n_rows) != 0) {
			free(ids);
			goto dberr;
		}
		w->old = xrealloc(w->old, (w->n_old + n_rows + 1) * sizeof(*w->old));
		memcpy(w->old + w->n_old, rows, n_rows * sizeof(*rows));
		w->n_old += n_rows;
		free(rows); /* the message_id strings moved to w->old */
	}
	free(ids);
	if (w->n_old == 0)
		return 0;
	match_start(w, &sync_matchers[MATCH_OLD], "1:*");
	return 1;
dberr:
	worker_fail(w, 0, 0, "cannot read %s: %s", syncstate_path(st), syncstate_error(st));
	return -1;
}
