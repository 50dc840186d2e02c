/*
 * sync_moves.c - messages the user moved between folders since the last
 * pass (issue 15): moved on the destination too, never copied again.
 *
 * One step of the mailbox, after the plan and before any folder's pass
 * (mbox_moves), on the mailbox's first connections:
 *
 *   list    every queued folder T with UIDs above its last_uid: the new
 *           source messages (UID, size, Message-ID) that have no row in T
 *           and whose size and Message-ID are those of a DONE row of
 *           another folder O (a copy with a destination UID and a hash).
 *           Their bodies are hashed (BODY.PEEK[]); each is paired with a
 *           row of the same size, Message-ID and SHA-256, each row once.
 *   origin  every O of a pair is asked for the rows' source UIDs: a row
 *           whose source message is still in O is no move (the user copied
 *           the message; T's copy is copied like any new message).
 *   move    per O: SELECT O's destination folder (the rows' UIDVALIDITY),
 *           STATUS of each T's destination folder (UIDVALIDITY, UIDNEXT).
 *           INTENT rows in T are committed before the command that may
 *           move anything (as I1 for an APPEND), then UID MOVE (RFC 6851)
 *           or, without MOVE, UID COPY. COPYUID (RFC 4315) settles each
 *           INTENT into a DONE row of T with the new UID (the row keeps
 *           the flag bases of O's row, for the three-way merge) and O's row
 *           is dropped; after a UID COPY, only once STORE \Deleted and UID
 *           EXPUNGE of exactly those UIDs succeeded.
 *
 * Kill-safe (I3): an INTENT a kill left is resolved by T's pass like any
 * other (reconcile: same size and SHA-256 at or above the recorded UIDNEXT
 * becomes DONE, else it is dropped and the message copied). O's row whose
 * copy is gone from both sides is dropped by O's changes step; a copy made
 * but not yet expunged from O is a deletion like any other (counted;
 * --delete expunges it). No worker runs during this step: O's deletions
 * cannot take a copy T is about to move, and T never moves a copy whose
 * source is still in O.
 *
 * Without UIDPLUS on the destination (no COPYUID to settle by) and in a dry
 * run there is no such step. A failure only ends the step: the folders'
 * passes copy what is left, as before.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "imap.h"
#include "syncstate.h"
#include "sync_p.h"
#include "util.h"

/* A DONE row of a folder O that a moved message may be. */
struct mv_row {
	size_t o;    /* O in m->folders */
	int64_t fid; /* O's state folder */
	struct syncstate_msg m;
	int used;
};

enum mv_st { MV_CAND, MV_INTENT, MV_DONE };

/* A new source message of a folder T that may be a moved one. */
struct mv_cand {
	size_t t;    /* T in m->folders */
	int64_t fid; /* T's state folder */
	uint32_t uid;
	uint64_t size;
	char *msgid;
	unsigned char sha[32];
	int hashed;
	long row; /* index into rows; -1: no move */
	enum mv_st st;
};

struct sync_moves {
	struct sync_mbox *m;
	struct mv_row *rows;
	size_t n_rows;
	struct mv_cand *c;
	size_t n_c, cap_c;
	size_t fi, c0;     /* the folder looked at, its first candidate */
	uint32_t last_uid; /* list: T's last_uid */
	int64_t fid;       /* list: T's state folder */
	uint32_t *known;   /* list: T's rows above last_uid */
	size_t n_known;
	uint32_t uidv;             /* UIDVALIDITY of the folder just selected */
	uint32_t st_uidv, st_next; /* STATUS of a target's destination folder */
	size_t ti;                 /* move: the target folder */
	uint32_t *cp_src, *cp_dst; /* move: COPYUID pairs of the target's commands */
	size_t n_cp, cap_cp;
	int cmd_failed;      /* move: a command was not answered OK */
	int n_cmds, n_codes; /* move: commands sent, COPYUID codes received */
	EVP_MD_CTX *md;
	struct mv_cand *cur;
	int pending, failed;
};

static void mv_list_next(struct sync_moves *mv);
static void mv_pair(struct sync_moves *mv);
static void mv_origin_next(struct sync_moves *mv);
static void mv_move_next(struct sync_moves *mv);
static void mv_target_next(struct sync_moves *mv);

/* ================================================================ the step ===== */

void
mbox_moves_free(struct sync_mbox *m)
{
	struct sync_moves *mv = m->moves;

	if (mv == NULL)
		return;
	for (size_t i = 0; i < mv->n_rows; i++)
		syncstate_msg_clear(&mv->rows[i].m);
	free(mv->rows);
	for (size_t i = 0; i < mv->n_c; i++)
		free(mv->c[i].msgid);
	free(mv->c);
	free(mv->known);
	free(mv->cp_src);
	free(mv->cp_dst);
	EVP_MD_CTX_free(mv->md);
	free(mv);
	m->moves = NULL;
}

/* The step is over (done or given up): the folders' passes start. */
static void
mv_end(struct sync_moves *mv)
{
	struct sync_mbox *m = mv->m;

	if (m->src != NULL)
		imap_parser_set_sink(imap_client_parser(m->src), 0, NULL, NULL);
	mbox_moves_free(m);
	if (m->fatal == NULL && !m->finished)
		mbox_start_workers(m);
}

/* A connection that closed while idle answers nothing: a command sent on
 * it would be dropped without an answer. End the step (the workers
 * connect again). 1 when it ended. */
static int
mv_lost(struct sync_moves *mv)
{
	struct sync_mbox *m = mv->m;

	if (m->src != NULL && m->dst != NULL && imap_client_state(m->src) == IMAP_S_READY &&
	    imap_client_state(m->dst) == IMAP_S_READY)
		return 0;
	mv_end(mv);
	return 1;
}

/* A tagged answer: 1 when OK; a connection lost fails the step. */
static int
mv_ok(struct sync_moves *mv, const struct imap_response *r)
{
	sync_touch(mv->m);
	if (r == NULL) {
		mv->failed = 1;
		return 0;
	}
	return r->status == IMAP_ST_OK;
}

static void
mv_untagged_uidv(const struct imap_response *r, uint32_t *out)
{
	const char *rest;

	if (r->status == IMAP_ST_OK && imap_code_is(r, "UIDVALIDITY", &rest))
		(void)sync_parse_u32(rest, out);
}

/* Send CMD_NAME SET-of-UIDS ITEMS in commands of bounded length. */
static void
mv_send_sets(struct sync_moves *mv, struct imap_client *c, const char *name, uint32_t *uids,
    size_t n, const char *items, int items_is_mailbox, imap_untagged_fn untagged, imap_done_fn done)
{
	size_t off = 0;

	qsort(uids, n, sizeof(*uids), sync_cmp_u32);
	while (off < n) {
		size_t taken;
		char *set = sync_set_str(uids + off, n - off, &taken);
		struct imap_cmd *cmd = imap_cmd_new(c, name);

		imap_cmd_atom(cmd, set);
		if (items_is_mailbox)
			imap_cmd_string(cmd, items, strlen(items), 0);
		else if (items != NULL)
			imap_cmd_atom(cmd, items);
		free(set);
		mv->pending++;
		imap_cmd_send(cmd, untagged, done, mv);
		off += taken;
	}
}

/* ================================================================ list ===== */

static int
mv_sink(void *arg, const char *data, size_t len, uint64_t off, uint64_t total, int first)
{
	struct sync_moves *mv = arg;

	/* Progress for the watchdog as in sync_sink: a trickle is no progress. */
	mv->m->drip += len;
	if (first || off + len == total || mv->m->drip >= SYNC_DRIP_BYTES) {
		mv->m->drip = 0;
		sync_touch(mv->m);
	}
	if (first) {
		size_t plen;
		const char *pre = imap_parser_partial(imap_client_parser(mv->m->src), &plen);
		uint32_t uid = sync_prefix_uid(pre, plen);

		mv->cur = NULL;
		for (size_t i = mv->c0; uid != 0 && i < mv->n_c; i++)
			if (mv->c[i].uid == uid && !mv->c[i].hashed)
				mv->cur = &mv->c[i];
		if (mv->cur != NULL)
			EVP_DigestInit_ex(mv->md, EVP_sha256(), NULL);
	}
	if (mv->cur != NULL) {
		EVP_DigestUpdate(mv->md, data, len);
		if (off + len == total) {
			EVP_DigestFinal_ex(mv->md, mv->cur->sha, NULL);
			mv->cur->hashed = 1;
			mv->cur = NULL;
		}
	}
	return 0;
}

static int
mv_row_cmp(const void *a, const void *b)
{
	const struct mv_row *x = a, *y = b;

	if (x->m.size != y->m.size)
		return x->m.size < y->m.size ? -1 : 1;
	return strcmp(x->m.message_id, y->m.message_id);
}

/* The first row (rows are sorted by size and Message-ID) with SIZE and
 * MSGID, or -1. */
static long
mv_row_first(const struct sync_moves *mv, uint64_t size, const char *msgid)
{
	size_t lo = 0, hi = mv->n_rows;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct syncstate_msg *r = &mv->rows[mid].m;
		int c = r->size != size ? (r->size < size ? -1 : 1) : strcmp(r->message_id, msgid);

		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < mv->n_rows && mv->rows[lo].m.size == size &&
	    strcmp(mv->rows[lo].m.message_id, msgid) == 0)
		return (long)lo;
	return -1;
}

/* Is there a DONE row of another folder than T with SIZE and MSGID? */
static int
mv_row_fits(const struct sync_moves *mv, size_t t, uint64_t size, const char *msgid)
{
	long i = mv_row_first(mv, size, msgid);

	for (; i >= 0 && (size_t)i < mv->n_rows && mv->rows[i].m.size == size &&
	     strcmp(mv->rows[i].m.message_id, msgid) == 0;
	     i++)
		if (mv->rows[i].o != t)
			return 1;
	return 0;
}

/* Has a folder other than T a row a message may be? */
static int
mv_other_rows(const struct sync_moves *mv, size_t t)
{
	for (size_t i = 0; i < mv->n_rows; i++)
		if (mv->rows[i].o != t)
			return 1;
	return 0;
}

static void
mv_list_untagged(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_moves *mv = arg;
	uint32_t uid = 0;
	uint64_t size = 0;
	char *msgid = NULL;
	struct mv_cand *k;

	(void)c;
	sync_touch(mv->m);
	mv_untagged_uidv(r, &mv->uidv);
	if (!sync_parse_fetch(r, &uid, &size, &msgid))
		return;
	if (uid <= mv->last_uid || msgid == NULL || sync_has_u32(mv->known, mv->n_known, uid) ||
	    !mv_row_fits(mv, mv->fi, size, msgid)) {
		free(msgid);
		return;
	}
	if (mv->n_c == mv->cap_c) {
		mv->cap_c = mv->cap_c ? mv->cap_c * 2 : 64;
		mv->c = xrealloc(mv->c, mv->cap_c * sizeof(*mv->c));
	}
	k = &mv->c[mv->n_c++];
	memset(k, 0, sizeof(*k));
	k->t = mv->fi;
	k->fid = mv->fid;
	k->uid = uid;
	k->size = size;
	k->msgid = msgid;
	k->row = -1;
}

static void
mv_hash_done(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_moves *mv = arg;

	(void)c;
	(void)mv_ok(mv, r); /* a body not hashed is no candidate */
	if (--mv->pending > 0)
		return;
	imap_parser_set_sink(imap_client_parser(mv->m->src), 0, NULL, NULL);
	if (mv->failed) {
		mv_end(mv);
		return;
	}
	mv->fi++;
	mv_list_next(mv);
}

static void
mv_list_done(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_moves *mv = arg;
	const struct sync_folder *f = &mv->m->folders[mv->fi];
	uint32_t *uids;

	(void)c;
	if (!mv_ok(mv, r))
		mv->cmd_failed = 1;
	if (--mv->pending > 0)
		return;
	if (mv->failed) {
		mv_end(mv);
		return;
	}
	if (mv->cmd_failed || mv->uidv != f->st_uidvalidity) {
		/* Not listed, or another folder than STATUS saw: no moves into it. */
		for (size_t i = mv->c0; i < mv->n_c; i++)
			free(mv->c[i].msgid);
		mv->n_c = mv->c0;
	}
	if (mv->n_c == mv->c0) {
		mv->fi++;
		mv_list_next(mv);
		return;
	}
	uids = xcalloc(mv->n_c - mv->c0, sizeof(*uids));
	for (size_t i = mv->c0; i < mv->n_c; i++)
		uids[i - mv->c0] = mv->c[i].uid;
	imap_parser_set_sink(imap_client_parser(mv->m->src), 0, mv_sink, mv);
	mv_send_sets(mv, mv->m->src, "UID FETCH", uids, mv->n_c - mv->c0, "(UID BODY.PEEK[])", 0,
	    NULL, mv_hash_done);
	free(uids);
}

/* The next folder T that may have received moved messages: list its new
 * messages (then hash the candidates). */
static void
mv_list_next(struct sync_moves *mv)
{
	struct sync_mbox *m = mv->m;
	struct syncstate *st = m->run->st;

	if (mv_lost(mv))
		return;
	for (; mv->fi < m->n_folders; mv->fi++) {
		struct sync_folder *f = &m->folders[mv->fi];
		struct syncstate_folder sf;
		struct syncstate_msg *rows = NULL;
		size_t n = 0;
		struct imap_cmd *cmd;
		char set[32];
		int64_t fid;

		if (!f->queued || f->done || !f->has_status || f->st_uidvalidity == 0 ||
		    f->st_uidnext == 0)
			continue;
		if (syncstate_folder_get(
		        st, m->pair, f->src_raw, f->st_uidvalidity, f->dst_raw, &sf) != 0) {
			mv_end(mv);
			return;
		}
		fid = sf.id;
		mv->last_uid = sf.last_uid;
		syncstate_folder_clear(&sf);
		if (f->st_uidnext <= mv->last_uid + 1 || !mv_other_rows(mv, mv->fi))
			continue; /* nothing new, or no copy elsewhere it may be */
		if (syncstate_msgs(st, fid, -1, mv->last_uid, &rows, &n) != 0) {
			mv_end(mv);
			return;
		}
		free(mv->known);
		mv->known = xcalloc(n ? n : 1, sizeof(*mv->known));
		for (size_t i = 0; i < n; i++)
			mv->known[i] = rows[i].src_uid; /* by source UID: sorted */
		mv->n_known = n;
		syncstate_msgs_free(rows, n);
		mv->c0 = mv->n_c;
		mv->uidv = 0;
		mv->cmd_failed = 0;
		mv->fid = fid;
		mv->pending = 2;
		cmd = imap_cmd_new(m->src, "EXAMINE");
		imap_cmd_string(cmd, f->src_raw, strlen(f->src_raw), 0);
		imap_cmd_send(cmd, mv_list_untagged, mv_list_done, mv);
		snprintf(set, sizeof(set), "%u:*", mv->last_uid + 1);
		cmd = imap_cmd_new(m->src, "UID FETCH");
		imap_cmd_atom(cmd, set);
		imap_cmd_atom(cmd, "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])");
		imap_cmd_send(cmd, mv_list_untagged, mv_list_done, mv);
		return;
	}
	mv_pair(mv);
	mv->fi = 0;
	mv_origin_next(mv);
}

/* ================================================================ origin ===== */

/* Every hashed candidate with an unused row of another folder with the same
 * size, Message-ID and SHA-256. */
static void
mv_pair(struct sync_moves *mv)
{
	for (size_t k = 0; k < mv->n_c; k++) {
		struct mv_cand *c = &mv->c[k];
		long i;

		if (!c->hashed)
			continue;
		for (i = mv_row_first(mv, c->size, c->msgid);
		     i >= 0 && (size_t)i < mv->n_rows && mv->rows[i].m.size == c->size &&
		     strcmp(mv->rows[i].m.message_id, c->msgid) == 0;
		     i++) {
			struct mv_row *r = &mv->rows[i];

			/* Two source folders mapped to one destination folder: the
			 * copy is where it belongs; T copies it, O deletes its own. */
			if (!r->used && r->o != c->t &&
			    strcmp(mv->m->folders[r->o].dst_raw, mv->m->folders[c->t].dst_raw) !=
			        0 &&
			    memcmp(r->m.sha256, c->sha, sizeof(c->sha)) == 0) {
				r->used = 1;
				c->row = i;
				break;
			}
		}
	}
}

/* Candidates paired with a row of folder O (and, when T is not SIZE_MAX,
 * moving into T in state ST; ST < 0: any). */
static int
mv_of(const struct sync_moves *mv, const struct mv_cand *c, size_t o, size_t t, int st)
{
	return c->row >= 0 && mv->rows[c->row].o == o && (t == SIZE_MAX || c->t == t) &&
	    (st < 0 || (int)c->st == st);
}

static void
mv_unpair(struct sync_moves *mv, struct mv_cand *c)
{
	if (c->row >= 0)
		mv->rows[c->row].used = 0;
	c->row = -1;
}

/* No move for any candidate mv_of(O, T, ST): each is copied like new mail. */
static void
mv_unpair_of(struct sync_moves *mv, size_t o, size_t t, int st)
{
	for (size_t k = 0; k < mv->n_c; k++)
		if (mv_of(mv, &mv->c[k], o, t, st))
			mv_unpair(mv, &mv->c[k]);
}

static void
mv_origin_untagged(struct imap_client *cl, const struct imap_response *r, void *arg)
{
	struct sync_moves *mv = arg;
	uint32_t uid = 0;
	const struct imap_arg *a;

	(void)cl;
	sync_touch(mv->m);
	mv_untagged_uidv(r, &mv->uidv);
	if (r->keyword == NULL || !util_strieq(r->keyword, "FETCH") || r->args == NULL ||
	    r->args->type != IMAP_ARG_LIST)
		return;
	for (a = r->args->list; a != NULL && a->next != NULL; a = a->next->next)
		if (imap_arg_is(a, "UID") && a->next->type == IMAP_ARG_ATOM)
			(void)sync_parse_u32(a->next->str, &uid);
	/* Still in O: the user copied it, no move. */
	for (size_t k = 0; uid != 0 && k < mv->n_c; k++)
		if (mv_of(mv, &mv->c[k], mv->fi, SIZE_MAX, -1) &&
		    mv->rows[mv->c[k].row].m.src_uid == uid)
			mv_unpair(mv, &mv->c[k]);
}

static void
mv_origin_done(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_moves *mv = arg;

	(void)c;
	if (!mv_ok(mv, r))
		mv->cmd_failed = 1;
	if (--mv->pending > 0)
		return;
	if (mv->failed) {
		mv_end(mv);
		return;
	}
	if (mv->cmd_failed || mv->uidv != mv->m->folders[mv->fi].st_uidvalidity)
		mv_unpair_of(mv, mv->fi, SIZE_MAX, -1);
	mv->fi++;
	mv_origin_next(mv);
}

/* The next folder O some candidate's row is in: is its source message
 * still there? */
static void
mv_origin_next(struct sync_moves *mv)
{
	struct sync_mbox *m = mv->m;

	if (mv_lost(mv))
		return;
	for (; mv->fi < m->n_folders; mv->fi++) {
		const struct sync_folder *f = &m->folders[mv->fi];
		uint32_t *uids = xcalloc(mv->n_c ? mv->n_c : 1, sizeof(*uids));
		size_t n = 0;
		struct imap_cmd *cmd;

		for (size_t k = 0; k < mv->n_c; k++)
			if (mv_of(mv, &mv->c[k], mv->fi, SIZE_MAX, -1))
				uids[n++] = mv->rows[mv->c[k].row].m.src_uid;
		if (n == 0) {
			free(uids);
			continue;
		}
		mv->uidv = 0;
		mv->cmd_failed = 0;
		mv->pending = 1;
		cmd = imap_cmd_new(m->src, "EXAMINE");
		imap_cmd_string(cmd, f->src_raw, strlen(f->src_raw), 0);
		imap_cmd_send(cmd, mv_origin_untagged, mv_origin_done, mv);
		mv_send_sets(mv, m->src, "UID FETCH", uids, n, "(UID)", 0, mv_origin_untagged,
		    mv_origin_done);
		free(uids);
		return;
	}
	mv->fi = 0;
	mv_move_next(mv);
}

/* ================================================================ move ===== */

/* COPYUID uidvalidity source-set destination-set (RFC 4315 3) into the
 * pairs of the target's commands. */
static void
mv_copyuid(struct sync_moves *mv, const struct imap_response *r)
{
	const char *rest;
	uint32_t uv, *su, *du;
	size_t max = mv->n_c ? mv->n_c : 1;
	int n;

	if (r == NULL || r->status != IMAP_ST_OK || !imap_code_is(r, "COPYUID", &rest))
		return;
	su = xcalloc(max, sizeof(*su));
	du = xcalloc(max, sizeof(*du));
	n = sync_copyuid(rest, &uv, su, du, max);
	if (n > 0 && uv == mv->st_uidv) {
		if (mv->n_cp + (size_t)n > mv->cap_cp) {
			mv->cap_cp = mv->n_cp + (size_t)n;
			mv->cp_src = xrealloc(mv->cp_src, mv->cap_cp * sizeof(*mv->cp_src));
			mv->cp_dst = xrealloc(mv->cp_dst, mv->cap_cp * sizeof(*mv->cp_dst));
		}
		memcpy(mv->cp_src + mv->n_cp, su, (size_t)n * sizeof(*su));
		memcpy(mv->cp_dst + mv->n_cp, du, (size_t)n * sizeof(*du));
		mv->n_cp += (size_t)n;
		mv->n_codes++;
	}
	free(su);
	free(du);
}

static int
mv_has_move(const struct sync_moves *mv)
{
	return imap_client_has_cap(mv->m->dst, "MOVE");
}

static void
mv_state_failed(struct sync_moves *mv)
{
	(void)syncstate_rollback(mv->m->run->st);
	mv->failed = 1;
}

static void
mv_drop_done(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_moves *mv = arg;
	struct syncstate *st = mv->m->run->st;
	int rc;

	(void)c;
	if (!mv_ok(mv, r))
		mv->cmd_failed = 1;
	if (--mv->pending > 0)
		return;
	if (!mv->failed && !mv->cmd_failed) {
		/* Expunged from O's destination folder: O's rows go. */
		rc = syncstate_begin(st);
		for (size_t k = 0; rc == 0 && k < mv->n_c; k++)
			if (mv_of(mv, &mv->c[k], mv->fi, mv->ti, MV_DONE))
				rc = syncstate_drop(st, mv->rows[mv->c[k].row].fid,
				    mv->rows[mv->c[k].row].m.src_uid);
		if (rc == 0)
			rc = syncstate_commit(st);
		if (rc != 0)
			mv_state_failed(mv);
	}
	if (mv->failed) {
		mv_end(mv);
		return;
	}
	mv->ti++;
	mv_target_next(mv);
}

/* After UID COPY: \Deleted and UID EXPUNGE of exactly the copied UIDs in
 * O's destination folder (never a plain EXPUNGE). */
static void
mv_drop_copied(struct sync_moves *mv)
{
	uint32_t *uids;
	size_t n = 0;

	if (mv_lost(mv))
		return;
	uids = xcalloc(mv->n_c ? mv->n_c : 1, sizeof(*uids));
	for (size_t k = 0; k < mv->n_c; k++)
		if (mv_of(mv, &mv->c[k], mv->fi, mv->ti, MV_DONE))
			uids[n++] = mv->rows[mv->c[k].row].m.dst_uid;
	mv->cmd_failed = 0;
	mv->pending = 0;
	if (n > 0) {
		mv_send_sets(mv, mv->m->dst, "UID STORE", uids, n, "+FLAGS.SILENT (\\Deleted)", 0,
		    NULL, mv_drop_done);
		mv_send_sets(mv, mv->m->dst, "UID EXPUNGE", uids, n, NULL, 0, NULL, mv_drop_done);
	}
	free(uids);
	if (n == 0) {
		mv->ti++;
		mv_target_next(mv);
	}
}

/* The target's commands answered: settle the intents by COPYUID. */
static void
mv_settle(struct sync_moves *mv)
{
	struct sync_mbox *m = mv->m;
	struct syncstate *st = m->run->st;
	int move = mv_has_move(mv), rc, moved = 0;

	rc = syncstate_begin(st);
	for (size_t i = 0; rc == 0 && i < mv->n_cp; i++) {
		for (size_t k = 0; k < mv->n_c; k++) {
			struct mv_cand *c = &mv->c[k];

			if (!mv_of(mv, c, mv->fi, mv->ti, MV_INTENT) ||
			    mv->rows[c->row].m.dst_uid != mv->cp_src[i])
				continue;
			rc = syncstate_done(st, c->fid, c->uid, mv->st_uidv, mv->cp_dst[i]);
			if (rc == 0 && move)
				rc = syncstate_drop(
				    st, mv->rows[c->row].fid, mv->rows[c->row].m.src_uid);
			c->st = MV_DONE;
			moved++;
			break;
		}
	}
	/* Left out of the COPYUID of a command answered OK: not moved (gone
	 * meanwhile); the intent goes and T's pass copies the message. A command
	 * not answered OK, or a server that did not say COPYUID for every
	 * command (RFC 6851 says SHOULD), leaves its intents to T's pass: the
	 * moved copies are found there by size and SHA-256 (I3). */
	for (size_t k = 0; rc == 0 && !mv->cmd_failed && mv->n_codes >= mv->n_cmds && k < mv->n_c;
	     k++)
		if (mv_of(mv, &mv->c[k], mv->fi, mv->ti, MV_INTENT)) {
			rc = syncstate_drop(st, mv->c[k].fid, mv->c[k].uid);
			mv_unpair(mv, &mv->c[k]);
		}
	if (rc == 0)
		rc = syncstate_commit(st);
	if (rc != 0) {
		mv_state_failed(mv);
		mv_end(mv);
		return;
	}
	m->folders[mv->ti].moved += (uint64_t)moved;
	mv->n_cp = 0;
	if (!move) {
		mv_drop_copied(mv);
		return;
	}
	mv->ti++;
	mv_target_next(mv);
}

static void
mv_move_untagged(struct imap_client *c, const struct imap_response *r, void *arg)
{
	(void)c;
	sync_touch(((struct sync_moves *)arg)->m);
	mv_copyuid(arg, r); /* MOVE: an untagged OK (RFC 6851 4.3) */
}

static void
mv_move_done(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_moves *mv = arg;

	(void)c;
	if (!mv_ok(mv, r))
		mv->cmd_failed = 1;
	mv_copyuid(mv, r); /* COPY: the tagged OK */
	if (--mv->pending > 0)
		return;
	if (mv->failed) {
		mv_end(mv);
		return;
	}
	mv_settle(mv);
}

/* STATUS of T's destination folder known: commit the intents, then move. */
static void
mv_intents(struct sync_moves *mv)
{
	struct sync_mbox *m = mv->m;
	struct syncstate *st = m->run->st;
	uint32_t *uids;
	size_t n = 0;
	int rc;

	if (mv_lost(mv))
		return;
	uids = xcalloc(mv->n_c ? mv->n_c : 1, sizeof(*uids));
	rc = syncstate_begin(st);
	for (size_t k = 0; rc == 0 && k < mv->n_c; k++) {
		struct mv_cand *c = &mv->c[k];
		const struct syncstate_msg *o;
		struct syncstate_msg in;

		if (!mv_of(mv, c, mv->fi, mv->ti, MV_CAND))
			continue;
		o = &mv->rows[c->row].m;
		in = sync_intent_row(c->uid, c->size, c->sha, c->msgid, mv->st_uidv, mv->st_next);
		in.src_flags = o->src_flags; /* the flag bases go with the message */
		in.dst_flags = o->dst_flags;
		rc = syncstate_put(st, c->fid, &in);
		c->st = MV_INTENT;
		uids[n++] = o->dst_uid;
	}
	if (rc == 0)
		rc = syncstate_commit(st);
	if (rc != 0) {
		free(uids);
		mv_state_failed(mv);
		mv_end(mv);
		return;
	}
	mv->n_cp = 0;
	mv->n_codes = 0;
	mv->cmd_failed = 0;
	mv->pending = 0;
	mv_send_sets(mv, m->dst, mv_has_move(mv) ? "UID MOVE" : "UID COPY", uids, n,
	    m->folders[mv->ti].dst_raw, 1, mv_move_untagged, mv_move_done);
	mv->n_cmds = mv->pending;
	free(uids);
}

static void
mv_status_untagged(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_moves *mv = arg;
	const struct imap_arg *items;

	(void)c;
	sync_touch(mv->m);
	if (r->kind != IMAP_RESP_UNTAGGED || r->keyword == NULL ||
	    !util_strieq(r->keyword, "STATUS") || (items = imap_arg_nth(r->args, 1)) == NULL ||
	    items->type != IMAP_ARG_LIST)
		return;
	for (const struct imap_arg *a = items->list; a != NULL && a->next != NULL;
	     a = a->next->next) {
		if (a->next->type != IMAP_ARG_ATOM)
			continue;
		if (imap_arg_is(a, "UIDVALIDITY"))
			(void)sync_parse_u32(a->next->str, &mv->st_uidv);
		else if (imap_arg_is(a, "UIDNEXT"))
			(void)sync_parse_u32(a->next->str, &mv->st_next);
	}
}

static void
mv_status_done(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_moves *mv = arg;

	(void)c;
	if (!mv_ok(mv, r) || mv->st_uidv == 0 || mv->st_next == 0) {
		if (mv->failed) {
			mv_end(mv);
			return;
		}
		mv_unpair_of(mv, mv->fi, mv->ti, MV_CAND);
		mv->ti++;
		mv_target_next(mv);
		return;
	}
	mv_intents(mv);
}

/* The next folder T that messages of O (selected on the destination) move
 * into: STATUS of its destination folder, then intents and the move. */
static void
mv_target_next(struct sync_moves *mv)
{
	struct sync_mbox *m = mv->m;

	if (mv_lost(mv))
		return;
	for (; mv->ti < m->n_folders; mv->ti++) {
		const struct sync_folder *t = &m->folders[mv->ti];
		struct imap_cmd *cmd;
		size_t k;

		for (k = 0; k < mv->n_c; k++)
			if (mv_of(mv, &mv->c[k], mv->fi, mv->ti, MV_CAND))
				break;
		if (k == mv->n_c)
			continue;
		mv->st_uidv = mv->st_next = 0;
		cmd = imap_cmd_new(m->dst, "STATUS");
		imap_cmd_string(cmd, t->dst_raw, strlen(t->dst_raw), 0);
		imap_cmd_atom(cmd, "(UIDVALIDITY UIDNEXT)");
		imap_cmd_send(cmd, mv_status_untagged, mv_status_done, mv);
		return;
	}
	mv->fi++;
	mv_move_next(mv);
}

static void
mv_select_done(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_moves *mv = arg;
	int ok = mv_ok(mv, r);

	(void)c;
	if (mv->failed) {
		mv_end(mv);
		return;
	}
	/* Only copies under the UIDVALIDITY the rows name can be moved. */
	for (size_t k = 0; k < mv->n_c; k++)
		if (mv_of(mv, &mv->c[k], mv->fi, SIZE_MAX, -1) &&
		    (!ok || mv->rows[mv->c[k].row].m.dst_uidvalidity != mv->uidv))
			mv_unpair(mv, &mv->c[k]);
	mv->ti = 0;
	mv_target_next(mv);
}

static void
mv_select_untagged(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_moves *mv = arg;

	(void)c;
	sync_touch(mv->m);
	mv_untagged_uidv(r, &mv->uidv);
}

/* The next folder O that moved messages leave: SELECT its destination
 * folder. */
static void
mv_move_next(struct sync_moves *mv)
{
	struct sync_mbox *m = mv->m;

	if (mv_lost(mv))
		return;
	for (; mv->fi < m->n_folders; mv->fi++) {
		struct imap_cmd *cmd;
		size_t k;

		for (k = 0; k < mv->n_c; k++)
			if (mv_of(mv, &mv->c[k], mv->fi, SIZE_MAX, MV_CAND))
				break;
		if (k == mv->n_c)
			continue;
		mv->uidv = 0;
		cmd = imap_cmd_new(m->dst, "SELECT");
		imap_cmd_string(
		    cmd, m->folders[mv->fi].dst_raw, strlen(m->folders[mv->fi].dst_raw), 0);
		imap_cmd_send(cmd, mv_select_untagged, mv_select_done, mv);
		return;
	}
	mv_end(mv);
}

/* ================================================================ start ===== */

/* The DONE rows of the mailbox's folders (under the UIDVALIDITY STATUS saw)
 * that a moved message can be: with a hash, a Message-ID and a destination
 * UID. -1 when the state failed. */
static int
mv_load_rows(struct sync_moves *mv)
{
	struct sync_mbox *m = mv->m;
	struct syncstate *st = m->run->st;
	size_t cap = 0;

	for (size_t i = 0; i < m->n_folders; i++) {
		const struct sync_folder *f = &m->folders[i];
		struct syncstate_folder sf;
		struct syncstate_msg *rows = NULL;
		size_t n = 0;

		if (!f->has_status || f->st_uidvalidity == 0)
			continue;
		if (syncstate_folder_get(
		        st, m->pair, f->src_raw, f->st_uidvalidity, f->dst_raw, &sf) != 0)
			return -1;
		/* STATUS says what the folder's last settled pass saw: nothing
		 * left it since, it is no origin (and its rows stay on disk). */
		if (f->unchanged ||
		    (sf.seen_uidnext != 0 && sf.seen_uidnext == f->st_uidnext &&
		        sf.seen_messages == f->st_messages)) {
			syncstate_folder_clear(&sf);
			continue;
		}
		if (syncstate_msgs(st, sf.id, SYNCSTATE_DONE, 0, &rows, &n) != 0) {
			syncstate_folder_clear(&sf);
			return -1;
		}
		for (size_t k = 0; k < n; k++) {
			struct mv_row *r;

			if (!rows[k].has_hash || rows[k].message_id == NULL ||
			    rows[k].dst_uid == 0) {
				syncstate_msg_clear(&rows[k]);
				continue;
			}
			if (mv->n_rows == cap) {
				cap = cap ? cap * 2 : 256;
				mv->rows = xrealloc(mv->rows, cap * sizeof(*mv->rows));
			}
			r = &mv->rows[mv->n_rows++];
			r->o = i;
			r->fid = sf.id;
			r->m = rows[k]; /* the strings move */
			r->used = 0;
		}
		free(rows);
		syncstate_folder_clear(&sf);
	}
	if (mv->n_rows > 1)
		qsort(mv->rows, mv->n_rows, sizeof(*mv->rows), mv_row_cmp);
	return 0;
}

/*
 * Between the plan and the folders' passes: the moves (see the top of this
 * file), then mbox_start_workers.
 */
void
mbox_moves(struct sync_mbox *m)
{
	struct sync_moves *mv;

	if (m->run->o.dry_run || m->src == NULL || m->dst == NULL ||
	    imap_client_state(m->src) != IMAP_S_READY ||
	    imap_client_state(m->dst) != IMAP_S_READY || !imap_client_has_cap(m->dst, "UIDPLUS")) {
		mbox_start_workers(m);
		return;
	}
	mv = xcalloc(1, sizeof(*mv));
	mv->m = m;
	mv->md = EVP_MD_CTX_new();
	if (mv->md == NULL)
		abort();
	m->moves = mv;
	if (mv_load_rows(mv) != 0 || mv->n_rows == 0) {
		mv_end(mv);
		return;
	}
	mv_list_next(mv);
}
