/*
 * sync.c - the delta sync engine. See sync.h for the design; the invariants
 * that make it exactly-once are stated where they are kept:
 *
 *  I1  An APPEND is completed (its final CRLF written) only after the
 *      intents of every message in it are committed (batch_close).
 *  I2  A folder's last_uid only grows, and only to a UID at or below which
 *      every source message of the pass is settled in the state: DONE,
 *      FAILED (retried by the next pass) or too large. Batches answer in
 *      any order and a batch may fail, be throttled or be answered before it
 *      was complete: last_uid never passes a message whose batch has not
 *      been answered (M_BATCH), whose intents were dropped (M_LOST) or that
 *      was not copied yet (M_NEW). It is the watermark of the pass
 *      (sync_watermark), written in the transaction that settles the batch
 *      (batch_done); the end of a folder's pass settles what the server
 *      expunged meanwhile (copy_check_done). A batch's highest UID alone is
 *      not enough: that lost whole batches whose intents a later run
 *      dropped below an advanced last_uid (issue 18).
 *  I3  Intents are resolved (DONE or dropped) before anything else is copied
 *      into a folder (reconcile), comparing size and SHA-256 of destination
 *      messages at or above the intent's UIDNEXT lower bound that no DONE row
 *      accounts for. An intent is dropped only once its APPEND can no longer
 *      arrive: a killed run's last command may still be stored by the
 *      server after the restart has looked. Unmatched intents written less
 *      than the settle time (--timeout) ago are looked for again, with
 *      backoff, until they match or the settle time is over.
 *      A move between folders (sync_moves.c) is kept the same way: its
 *      INTENT rows in the target folder are committed before UID MOVE or
 *      UID COPY is sent, and one a kill left is reconciled like any other.
 *  I4  What the state says was copied is checked against the destination
 *      after every folder's pass (destination UIDs of DONE rows; with
 *      --verify, size and SHA-256 of every one, and source messages at or
 *      below last_uid that have no row): a claimed message the destination
 *      lacks becomes FAILED and is copied again in the same run.
 *
 * Teardown never happens inside a client or parser callback: failures are
 * recorded and a zero-delay timer does the freeing (worker_fail, mbox_kick).
 *
 * The engine is split on its seams (sync_p.h lists the parts): this file
 * keeps the order of a folder's steps, failure, the mailbox and the run.
 */
#include "sync.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>
#include <event2/event.h>
#include <openssl/evp.h>

#include "folders.h"
#include "imap.h"
#include "net.h"
#include "plan.h"
#include "result.h"
#include "runner.h"
#include "syncflags.h"
#include "syncstate.h"
#include "oauth2.h"
#include "sync_p.h"
#include "util.h"

static void worker_next(struct sync_worker *w);
static int meta_more(struct sync_worker *w);
static void mbox_activate(struct sync_mbox *m, int on);
static void mbox_check_done(struct sync_mbox *m);
static void mbox_fatal(struct sync_mbox *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* ================================================================ connections ===== */

static struct imap_client *
sync_open(struct sync_mbox *m, int dest, imap_ready_fn cb, void *arg)
{
	const struct plan *plan = m->run->plan;
	const struct plan_side *side = dest ? &plan->destination : &plan->source;
	const struct runner_opts *ro = runner_opts(m->run->r);
	struct imap_client_opts o;

	memset(&o, 0, sizeof(o));
	o.sess.host = side->imap->host;
	o.sess.port = side->imap->port;
	o.sess.tls = net_tls_mode_for(side->imap->tls == PLAN_TLS_IMPLICIT, ro->allow_plaintext);
	o.sess.ca_file = ro->ca_file;
	o.sess.insecure = ro->insecure;
	o.sess.allow_old_tls = ro->allow_old_tls;
	o.sess.dns = runner_dns(m->run->r);
	o.sess.user = dest ? m->mb->dest_user : m->mb->source_user;
	o.sess.password = dest ? m->mb->dest_password : m->mb->source_password;
	if (side->auth != NULL) {
		o.sess.password = NULL; /* the token replaces it */
		o.sess.oauth_cache = oauth2_runner_cache(m->run->r, side->name, plan->state_dir);
		o.sess.oauth_cfg = side->auth;
	} else if (o.sess.password == NULL && side->admin != NULL) {
		o.sess.admin = side->admin->user;
		o.sess.password = side->admin->password;
	}
	return imap_client_open(sync_base(m), &o, cb, arg);
}

/* A failure running again cannot mend: a login refused (password, token,
 * permission, no such mailbox), a certificate not trusted, a password that
 * would go in clear, a full destination. */
static int
sync_permanent(enum net_result res, const char *text)
{
	return res == NET_RESULT_AUTH_FAILED || res == NET_RESULT_TLS_FAILED ||
	    res == NET_RESULT_PLAINTEXT_REFUSED || strstr(text, "OVERQUOTA") != NULL;
}

/* What to fix for a permanent failure (a sentence). */
static const char *
sync_permanent_advice(enum net_result res, const char *text)
{
	if (strstr(text, "OVERQUOTA") != NULL)
		return "The destination mailbox is full: raise its quota (or archive at the "
		       "source) before the next pass.";
	switch (res) {
	case NET_RESULT_AUTH_FAILED:
		if (strstr(text, "OAuth2") != NULL)
			return "The OAuth2 login was refused: run `cutover audit` on the plan for "
			       "the cause (auth.token and imap.login say what to change).";
		return "The login was refused: check the user and password (or the admin or "
		       "auth object) of that side in the plan, and that the mailbox exists "
		       "and allows IMAP; `cutover audit` shows each login.";
	case NET_RESULT_TLS_FAILED:
		return "The server's certificate is not trusted: fix it, or pass its CA with "
		       "--ca-file.";
	case NET_RESULT_PLAINTEXT_REFUSED:
		return "The password would travel unencrypted: use the imaps:// URL or a port "
		       "with STARTTLS (--allow-plaintext only on a trusted network).";
	default: break;
	}
	return "Fix the cause above.";
}

/* A NO/BAD/BYE that asks us to slow down: fail the worker for a retry. */
int
sync_throttled(struct sync_worker *w, const struct imap_response *r)
{
	long ms;

	if (r == NULL ||
	    (r->status != IMAP_ST_NO && r->status != IMAP_ST_BAD && r->status != IMAP_ST_BYE))
		return 0;
	ms = sync_throttle_ms(r->code, r->text);
	if (ms == 0)
		return 0;
	if (w->f != NULL)
		w->f->throttled++;
	if (ms > SYNC_BACKOFF_MAX_MS) {
		/* Waiting 11 days is no backoff: say so instead of stalling. */
		worker_fail(w, 0, 0,
		    "the server asks to wait %ld s, longer than we wait (%d s): %s%s%s%s",
		    ms / 1000, SYNC_BACKOFF_MAX_MS / 1000, r->code != NULL ? "[" : "",
		    r->code != NULL ? r->code : "", r->code != NULL ? "] " : "", r->text);
		return 1;
	}
	worker_fail(w, 1, ms > 0 ? ms : 0, "the server asks to slow down: %s%s%s%s",
	    r->code != NULL ? "[" : "", r->code != NULL ? r->code : "", r->code != NULL ? "] " : "",
	    r->text);
	return 1;
}

/* ================================================================ folder bookkeeping ===== */

static void
folder_drop_keyword(struct sync_folder *f, const char *kw)
{
	for (size_t i = 0; i < f->n_dropped; i++)
		if (strcmp(f->dropped[i], kw) == 0)
			return;
	if (f->n_dropped >= 64)
		return;
	f->dropped = xrealloc(f->dropped, (f->n_dropped + 1) * sizeof(*f->dropped));
	f->dropped[f->n_dropped++] = xstrdup(kw);
}

void
folder_set_error(struct sync_folder *f, const char *msg)
{
	free(f->error);
	f->error = xstrdup(msg);
}

void
batch_free(struct sync_batch *b)
{
	if (b == NULL)
		return;
	free(b->idx);
	free(b);
}

/* A pass lists the folder from its start again (worker_meta). */
static void
meta_reset(struct sync_worker *w)
{
	w->meta_next = w->meta_hi = w->meta_span = 0;
	w->meta_chunks = w->wm_hold = w->none_done = 0;
	w->meta_listed = 0;
	w->meta_arrived = 0;
	free(w->done_rng);
	w->done_rng = NULL;
	w->n_done_rng = 0;
}

/* Did this pass copy source UID? (the chunk in hand, or an earlier one) */
int
worker_copied_now(struct sync_worker *w, uint32_t uid)
{
	const struct sync_msg *m = worker_find_msg(w, uid);
	size_t lo = 0, hi = w->n_done_rng;

	if (m != NULL)
		return m->st == M_DONE;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (uid < w->done_rng[mid][0])
			hi = mid;
		else if (uid > w->done_rng[mid][1])
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

/* Forget everything about the folder the worker had (not the connections). */
static void
worker_reset_folder(struct sync_worker *w)
{
	for (size_t i = 0; i < w->n_msgs; i++) {
		free(w->msgs[i].flags);
		free(w->msgs[i].date);
		free(w->msgs[i].msgid);
	}
	free(w->msgs);
	w->msgs = NULL;
	w->n_msgs = w->cap_msgs = 0;
	free(w->skip_uids);
	w->skip_uids = NULL;
	w->n_skip = 0;
	free(w->failed_uids);
	w->failed_uids = NULL;
	w->n_failed = 0;
	for (size_t i = 0; i < w->n_perm; i++)
		free(w->perm[i]);
	free(w->perm);
	w->perm = NULL;
	w->n_perm = 0;
	w->perm_known = w->perm_any = 0;
	w->next_req = w->next_expect = 0;
	w->wm_cursor = 0;
	meta_reset(w);
	w->settle_round = 0;
	w->settle_top = w->settle_seen = 0;
	w->settle_changed_ms = 0;
	if (w->settle != NULL)
		evtimer_del(w->settle);
	w->fetches = w->fetch_errors = 0;
	w->pending = 0;
	w->cur = NULL;
	w->cur_cand = NULL;
	w->cur_live = 0;
	batch_free(w->open);
	w->open = NULL;
	while (w->inflight != NULL) {
		struct sync_batch *b = w->inflight;

		w->inflight = b->next;
		batch_free(b);
	}
	syncstate_msgs_free(w->intents, w->n_intents);
	w->intents = NULL;
	w->n_intents = 0;
	for (size_t i = 0; i < w->n_cands; i++)
		free(w->cands[i].msgid);
	free(w->cands);
	w->cands = NULL;
	w->n_cands = w->cap_cands = w->next_cand = 0;
	syncstate_msgs_free(w->old, w->n_old);
	w->old = NULL;
	w->n_old = 0;
	syncstate_msgs_free(w->claims, w->n_claims_all);
	w->claims = NULL;
	w->n_claims = w->n_claims_all = 0;
	free(w->known_uids);
	w->known_uids = NULL;
	w->n_known = 0;
	changes_reset(w);
	if (w->have_sf)
		syncstate_folder_clear(&w->sf);
	w->have_sf = 0;
	w->src_uidvalidity = w->src_uidnext = w->src_exists = w->dst_exists = 0;
	w->dst_uidvalidity = w->dst_uidnext = 0;
	w->src_modseq = 0;
	w->chg_since = w->chg_settled = 0;
	w->sink = SINK_NONE;
}

/*
 * A folder's pass that settled everything (no error, nothing left pending)
 * records what the source said at EXAMINE: a next pass whose STATUS says the
 * same skips the folder (mbox_plan). Without CONDSTORE nothing is recorded:
 * a flag change moves no UIDNEXT or MESSAGES.
 */
static void
folder_settled(struct sync_worker *w)
{
	struct sync_folder *f = w->f;
	struct syncstate *st = w->m->run->st;

	if (w->m->run->o.dry_run || !w->have_sf || !w->chg_settled || w->src_modseq == 0 ||
	    f->errors > 0 || f->error != NULL || f->deleted_pending > 0 || f->missing > 0 ||
	    w->failing || w->wm_hold)
		return; /* wm_hold: an earlier chunk left one unsettled (older than --since) */
	for (size_t i = 0; i < w->n_msgs; i++)
		if (w->msgs[i].st != M_DONE && w->msgs[i].st != M_SKIP)
			return;
	/* A failure only costs the next pass a look at the folder. */
	(void)syncstate_set_seen(st, w->sf.id, w->src_uidnext, w->src_exists, w->src_modseq);
}

/* The folder is finished (successfully or not): account and take the next. */
static void
folder_done(struct sync_worker *w)
{
	struct sync_folder *f = w->f;

	if (f != NULL) {
		folder_settled(w);
		for (size_t i = 0; i < w->n_msgs; i++)
			if (w->msgs[i].st == M_NEW && !w->m->run->o.dry_run)
				f->skipped++; /* expunged while we copied */
		f->busy = 0;
		f->done = 1;
	}
	if (w->src != NULL)
		worker_sink_mode(w, w->src, SINK_NONE);
	if (w->dst != NULL)
		worker_sink_mode(w, w->dst, SINK_NONE);
	worker_reset_folder(w);
	w->f = NULL;
	w->ph = W_IDLE;
	worker_next(w);
}

/* ================================================================ failure ===== */

static void
worker_free_clients(struct sync_worker *w)
{
	imap_client_free(w->src);
	imap_client_free(w->dst);
	w->src = w->dst = NULL;
	w->src_ready = w->dst_ready = 0;
	w->paused = 0;
	if (w->flow != NULL)
		evtimer_del(w->flow);
}

static void
worker_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sync_worker *w = arg;
	struct sync_folder *f = w->f;

	(void)fd;
	(void)what;
	if (w->failing) {
		/* The deferred part of worker_fail: close (an APPEND not completed
		 * is discarded by the server), then retry or give up the folder. */
		w->failing = 0;
		worker_free_clients(w);
		/* A folder that copies between throttles is making progress:
		 * the retry limit is for failures in a row, not per run. */
		if (f != NULL && f->copied != f->copied_at_retry) {
			f->retries = 0;
			f->copied_at_retry = f->copied;
		}
		if (f != NULL && w->retry && f->retries < SYNC_MAX_RETRIES) {
			long ms = w->backoff_ms;

			f->retries++;
			if (ms <= 0) {
				ms = 1000L << (f->retries - 1);
				if (ms > SYNC_BACKOFF_MAX_MS)
					ms = SYNC_BACKOFF_MAX_MS;
			}
			worker_reset_folder(w);
			f->busy = 0;
			w->f = NULL;
			w->ph = W_IDLE;
			{
				struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

				evtimer_add(w->timer, &tv);
			}
			return;
		}
		if (f != NULL) {
			/* The folder counts at least one error; what was not
			 * copied is copied by the next run. */
			if (w->retry) {
				char *e = xasprintf(
				    "%s (gave up after %d retries)", w->err, SYNC_MAX_RETRIES);

				folder_set_error(f, e);
				free(e);
			} else {
				folder_set_error(f, w->err);
			}
			if (f->errors == 0)
				f->errors = 1;
			folder_done(w);
		} else {
			worker_next(w);
		}
		return;
	}
	/* The backoff ended. */
	worker_next(w);
}

void
worker_fail(struct sync_worker *w, int retry, long backoff_ms, const char *fmt, ...)
{
	va_list ap;

	if (w->failing)
		return;
	w->failing = 1;
	free(w->err);
	va_start(ap, fmt);
	w->err = xvasprintf(fmt, ap);
	va_end(ap);
	/* A server that sent what we cannot parse sends it again: retrying
	 * only hides the cause behind the watchdog's "nothing moved". */
	if ((w->src != NULL && imap_client_malformed(w->src)) ||
	    (w->dst != NULL && imap_client_malformed(w->dst)))
		retry = 0;
	w->retry = retry;
	w->backoff_ms = backoff_ms;
	w->sink = SINK_NONE;
	event_active(w->timer, EV_TIMEOUT, 0);
}

/* ================================================================ check (I4) ===== */

static int
cand_uid_cmp(const void *a, const void *b)
{
	const struct sync_cand *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static struct sync_cand *
worker_find_cand(struct sync_worker *w, uint32_t uid)
{
	struct sync_cand key;

	key.uid = uid;
	return bsearch(&key, w->cands, w->n_cands, sizeof(*w->cands), cand_uid_cmp);
}

/* Forget the pass's messages (not the folder): a second pass over the same
 * folder follows (the check found claimed messages missing). */
static void
worker_reset_pass(struct sync_worker *w)
{
	for (size_t i = 0; i < w->n_msgs; i++) {
		free(w->msgs[i].flags);
		free(w->msgs[i].date);
		free(w->msgs[i].msgid);
	}
	w->n_msgs = 0;
	free(w->skip_uids);
	w->skip_uids = NULL;
	w->n_skip = 0;
	free(w->failed_uids);
	w->failed_uids = NULL;
	w->n_failed = 0;
	free(w->known_uids);
	w->known_uids = NULL;
	w->n_known = 0;
	w->next_req = w->next_expect = 0;
	w->wm_cursor = 0;
	w->fetches = w->fetch_errors = 0;
	for (size_t i = 0; i < w->n_cands; i++)
		free(w->cands[i].msgid);
	w->n_cands = 0;
	syncstate_msgs_free(w->claims, w->n_claims_all);
	w->claims = NULL;
	w->n_claims = w->n_claims_all = 0;
}

/* Every check command answered: settle what the destination lacks. */
static void
check_resolve(struct sync_worker *w)
{
	struct syncstate *st = w->m->run->st;
	struct sync_folder *f = w->f;
	int verify = w->m->run->o.verify, rc;
	uint64_t missing = 0;

	worker_sink_mode(w, w->dst, SINK_NONE);
	rc = syncstate_begin(st);
	for (size_t i = 0; rc == 0 && i < w->n_claims; i++) {
		struct syncstate_msg *cl = &w->claims[i];
		struct sync_cand *c = worker_find_cand(w, cl->dst_uid);

		if (c == NULL || !c->hashed) {
			/* Claimed, not there: copied again by this run. */
			rc = syncstate_failed(st, w->sf.id, cl->src_uid);
			missing++;
		} else if (verify && cl->has_hash &&
		    (c->size != cl->size || memcmp(c->sha, cl->sha256, sizeof(c->sha)) != 0)) {
			/* There, with other bytes: the destination changed it. Copying
			 * it again would leave two; reported, not repaired. */
			f->mismatched++;
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
	f->checked += w->n_claims - missing;
	f->missing += missing;
	if (missing > 0 && f->check_rounds == 1) {
		/* The copies the check found missing are FAILED rows now: one more
		 * pass over the folder copies them (and is checked once more). */
		worker_reset_pass(w);
		meta_reset(w);
		worker_meta(w);
		return;
	}
	folder_done(w);
}

static void
check_untagged(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_worker *w = arg;
	uint32_t uid = 0;
	uint64_t size = 0;
	char *msgid = NULL;
	struct sync_cand *cand;

	(void)c;
	sync_touch(w->m);
	if (w->m->run->o.verify) {
		/* The bodies stream into the hash sink; RFC822.SIZE is checked too. */
		if (sync_parse_fetch(r, &uid, &size, &msgid) && (cand = worker_find_cand(w, uid)))
			cand->size = size;
		free(msgid);
		return;
	}
	if (r->keyword == NULL || !util_strieq(r->keyword, "FETCH") || r->args == NULL ||
	    r->args->type != IMAP_ARG_LIST)
		return;
	for (const struct imap_arg *a = r->args->list; a != NULL && a->next != NULL;
	     a = a->next->next)
		if (imap_arg_is(a, "UID") && a->next->type == IMAP_ARG_ATOM &&
		    sync_parse_u32(a->next->str, &uid) == 0 && (cand = worker_find_cand(w, uid)))
			cand->hashed = 1; /* seen */
}

static void
check_done(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_worker *w = arg;

	if (worker_answer_ok(w, c, r, "checking: UID FETCH") && --w->pending == 0)
		check_resolve(w);
}

/*
 * I4: the DONE rows of the folder under the destination's UIDVALIDITY are
 * looked for on the destination by UID (with --verify: size and SHA-256 of
 * each, streamed). Rows without a destination UID (no UIDPLUS) are counted
 * as unverifiable. Then check_resolve.
 */
static void
worker_check_uids(struct sync_worker *w)
{
	struct syncstate *st = w->m->run->st;
	struct sync_folder *f = w->f;
	struct syncstate_msg *rows = NULL;
	uint32_t *uids;
	size_t n = 0, k = 0, off = 0;

	if (syncstate_msgs(st, w->sf.id, SYNCSTATE_DONE, 0, &rows, &n) != 0) {
		worker_fail(w, 0, 0, "cannot read %s: %s", syncstate_path(st), syncstate_error(st));
		return;
	}
	/* The claims to check first: DONE under this UIDVALIDITY with a UID. */
	for (size_t i = 0; i < n; i++) {
		struct syncstate_msg tmp;

		if (rows[i].dst_uidvalidity != w->dst_uidvalidity)
			continue;
		if (rows[i].dst_uid == 0) {
			if (f->check_rounds == 1)
				f->unverifiable++;
			continue;
		}
		tmp = rows[k];
		rows[k++] = rows[i];
		rows[i] = tmp;
	}
	syncstate_msgs_free(w->claims, w->n_claims_all);
	w->claims = rows;
	w->n_claims_all = n;
	w->n_claims = k;
	for (size_t i = 0; i < w->n_cands; i++)
		free(w->cands[i].msgid);
	w->n_cands = 0;
	if (k == 0) {
		folder_done(w);
		return;
	}
	for (size_t i = 0; i < k; i++)
		cand_add(w, rows[i].dst_uid, 0, NULL);
	qsort(w->cands, w->n_cands, sizeof(*w->cands), cand_uid_cmp);
	if (w->m->run->o.verify) {
		cand_fetch(w, w->dst, check_done, "(UID RFC822.SIZE BODY.PEEK[])", check_untagged);
		return;
	}
	worker_sink_mode(w, w->dst, SINK_NONE);
	uids = xcalloc(w->n_cands, sizeof(*uids));
	for (size_t i = 0; i < w->n_cands; i++)
		uids[i] = w->cands[i].uid;
	w->pending = 0;
	while (off < w->n_cands) {
		size_t taken;
		char *set = sync_set_str(uids + off, w->n_cands - off, &taken);
		struct imap_cmd *cmd = imap_cmd_new(w->dst, "UID FETCH");

		imap_cmd_atom(cmd, set);
		imap_cmd_atom(cmd, "(UID)");
		free(set);
		w->pending++;
		imap_cmd_send(cmd, check_untagged, check_done, w);
		off += taken;
	}
	free(uids);
}

static void
check_count_untagged(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_worker *w = arg;

	(void)c;
	sync_touch(w->m);
	if (r->keyword != NULL && util_strieq(r->keyword, "EXISTS") && r->has_number)
		w->dst_exists = r->number;
}

/* After NOOP: the destination holds at least as many messages as the state
 * says this folder copied there, or its copies are looked up by UID. */
static void
check_count_done(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_worker *w = arg;
	struct syncstate *st = w->m->run->st;
	int64_t claimed = 0;

	if (!worker_answer_ok(w, c, r, "checking: NOOP"))
		return;
	if (syncstate_done_count(st, w->sf.id, w->dst_uidvalidity, &claimed) != 0) {
		worker_fail(w, 0, 0, "cannot read %s: %s", syncstate_path(st), syncstate_error(st));
		return;
	}
	if ((int64_t)w->dst_exists >= claimed && !w->f->check_forced) {
		w->f->checked += (uint64_t)claimed;
		folder_done(w);
		return;
	}
	worker_check_uids(w);
}

/*
 * I4, after every pass: the counts (NOOP brings the destination's EXISTS up
 * to date, RFC 3501 6.1.2); when they do not add up, or with --verify, every
 * copy is looked up (worker_check_uids).
 */
void
worker_check(struct sync_worker *w)
{
	w->ph = W_CHECK;
	w->f->check_rounds++;
	if (w->m->run->o.verify || w->f->check_rounds > 1) {
		worker_check_uids(w);
		return;
	}
	worker_sink_mode(w, w->dst, SINK_NONE);
	imap_cmd_send(imap_cmd_new(w->dst, "NOOP"), check_count_untagged, check_count_done, w);
}

/* The folder's pass is over: record the final watermark (I2), then check
 * what the state claims (I4). */
void
worker_finish(struct sync_worker *w)
{
	struct syncstate *st = w->m->run->st;
	uint32_t wm = worker_watermark(w, w->fetch_errors == 0);

	/* Everything the pass listed settled: the DONE rows above last_uid it
	 * skipped (reconciled after a crash) are settled too, so the end of the
	 * pass may pass them (every UID up to there was listed or is a row). */
	if (w->fetch_errors == 0 && w->meta_hi == 0 && !w->wm_hold && w->wm_cursor == w->n_msgs &&
	    w->n_skip > 0 && w->skip_uids[w->n_skip - 1] > wm)
		wm = w->skip_uids[w->n_skip - 1];
	if (wm > 0 && syncstate_set_last_uid(st, w->sf.id, wm) != 0) {
		worker_fail(
		    w, 0, 0, "cannot update %s: %s", syncstate_path(st), syncstate_error(st));
		return;
	}
	if (meta_more(w))
		return;
	if (w->m->run->o.dry_run || w->dst == NULL || w->dst_uidvalidity == 0 ||
	    w->f->check_rounds >= 2) {
		folder_done(w);
		return;
	}
	if (w->f->check_rounds == 0)
		worker_changes(w); /* then worker_check */
	else
		worker_check(w);
}

/* ================================================================ metadata ===== */

/*
 * The chunk in hand is done (copied, or counted by --dry-run): list the next
 * one, if the listing stopped short of "*". The UIDs copied are kept as
 * ranges (worker_copied_now); a chunk that left a message unsettled holds
 * last_uid where it is for the rest of the pass (I2: wm_hold).
 */
static int
meta_more(struct sync_worker *w)
{
	struct sync_folder *f = w->f;

	if (w->meta_hi == 0 || w->fetch_errors > 0 || w->failing)
		return 0;
	if (w->wm_cursor < w->n_msgs)
		w->wm_hold = 1;
	for (size_t i = 0; i < w->n_msgs; i++) {
		const struct sync_msg *m = &w->msgs[i];
		size_t k = w->n_done_rng;

		if (m->uid >= w->sf.seen_uidnext)
			w->meta_arrived++;
		if (m->st == M_NEW && !w->m->run->o.dry_run)
			f->skipped++; /* expunged while we copied */
		if (m->st != M_DONE)
			continue;
		if (k > 0 && w->done_rng[k - 1][1] + 1 == m->uid) {
			w->done_rng[k - 1][1] = m->uid;
			continue;
		}
		if (k % 256 == 0)
			w->done_rng = xrealloc(w->done_rng, (k + 256) * sizeof(*w->done_rng));
		w->done_rng[k][0] = w->done_rng[k][1] = m->uid;
		w->n_done_rng++;
	}
	w->meta_listed += w->n_msgs;
	/* sparse UIDs: wider chunks; dense again: narrower */
	if (w->n_msgs < SYNC_META_MSGS / 2 && w->meta_span < (1u << 30))
		w->meta_span *= 2;
	else if (w->n_msgs > SYNC_META_MSGS && w->meta_span > SYNC_META_MSGS)
		w->meta_span /= 2;
	w->meta_next = w->meta_hi + 1;
	w->meta_chunks++;
	worker_reset_pass(w);
	worker_meta(w);
	return 1;
}

/* Keep the flag for APPEND? Keywords only where PERMANENTFLAGS allow them. */
int
meta_flag_ok(struct sync_worker *w, const char *flag)
{
	if (util_strieq(flag, "\\Recent"))
		return 0; /* RFC 3501 6.3.11: not settable by APPEND */
	if (flag[0] == '\\')
		return 1;
	if (!w->perm_known || w->perm_any)
		return 1;
	for (size_t i = 0; i < w->n_perm; i++)
		if (util_strieq(w->perm[i], flag))
			return 1;
	folder_drop_keyword(w->f, flag);
	return 0;
}

/* sync_meta_parse's filter: invalid flags are named in the report, valid
 * ones kept where the destination's PERMANENTFLAGS allow them. */
static int
meta_keep(void *arg, const char *flag, int valid)
{
	struct sync_worker *w = arg;

	if (!valid) {
		folder_drop_keyword(w->f, flag);
		return 0;
	}
	return meta_flag_ok(w, flag);
}

void
sync_meta_parse(const struct imap_response *r, struct sync_meta *m,
    int (*keep)(void *arg, const char *flag, int valid), void *arg)
{
	const struct imap_arg *a;

	memset(m, 0, sizeof(*m));
	if (r->args == NULL || r->args->type != IMAP_ARG_LIST)
		return;
	for (a = r->args->list; a != NULL && a->next != NULL; a = a->next->next) {
		const struct imap_arg *v = a->next;

		if (imap_arg_is(a, "UID") && v->type == IMAP_ARG_ATOM) {
			if (sync_parse_u32(v->str, &m->uid) == 0)
				m->have |= SYNC_HAVE_UID;
		} else if (imap_arg_is(a, "RFC822.SIZE")) {
			long long x;

			if (v->type == IMAP_ARG_ATOM &&
			    util_parse_int(v->str, 0, 1LL << 50, &x) == 0) {
				m->size = (uint64_t)x;
				m->have |= SYNC_HAVE_SIZE;
			} else {
				m->have |= SYNC_BAD_SIZE;
			}
		} else if (imap_arg_is(a, "INTERNALDATE")) {
			struct imap_date d;

			if ((v->type == IMAP_ARG_STRING || v->type == IMAP_ARG_LITERAL) &&
			    imap_date_parse(v->str, v->len, &d) == 0) {
				free(m->date);
				m->date = xmalloc(IMAP_DATE_LEN);
				imap_date_format(&d, m->date);
				m->have |= SYNC_HAVE_DATE;
			} else {
				m->have |= SYNC_BAD_DATE;
			}
		} else if (imap_arg_is(a, "FLAGS") && v->type == IMAP_ARG_LIST) {
			size_t len = 2, o = 0;
			char *s;

			for (const struct imap_arg *fl = v->list; fl != NULL; fl = fl->next)
				if (fl->type == IMAP_ARG_ATOM)
					len += strlen(fl->str) + 1;
			s = xmalloc(len + 1);
			s[o++] = '(';
			for (const struct imap_arg *fl = v->list; fl != NULL; fl = fl->next) {
				int valid = fl->type == IMAP_ARG_ATOM &&
				    strlen(fl->str) == fl->len && imap_flag_valid(fl->str, fl->len);
				size_t n;

				if (!valid) {
					/* Not a flag: never sent on. */
					if ((fl->type == IMAP_ARG_ATOM ||
					        fl->type == IMAP_ARG_STRING) &&
					    keep != NULL)
						(void)keep(arg, fl->str, 0);
					continue;
				}
				if (keep != NULL && !keep(arg, fl->str, 1))
					continue;
				n = strlen(fl->str);
				if (o > 1)
					s[o++] = ' ';
				memcpy(s + o, fl->str, n);
				o += n;
			}
			s[o++] = ')';
			s[o] = '\0';
			free(m->flags);
			m->flags = s;
			m->have |= SYNC_HAVE_FLAGS;
		} else if (a->type == IMAP_ARG_ATOM &&
		    strncasecmp(a->str, "BODY[HEADER", 11) == 0 &&
		    (v->type == IMAP_ARG_LITERAL || v->type == IMAP_ARG_STRING)) {
			free(m->msgid);
			m->msgid = sync_message_id(v->str, v->len);
		}
	}
}

/*
 * One FETCH response of the metadata FETCH. RFC 3501 section 7.4.2 lets a
 * server split a message's items over several responses, so each response
 * becomes a partial entry (keyed by its message number) that meta_done
 * merges. Every value is parsed here: the INTERNALDATE into a date re-written
 * by imap_date_format, the flags checked one by one (imap_flag_valid), so
 * nothing the source sent reaches the destination's APPEND as text.
 */
static void
meta_untagged(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_worker *w = arg;
	struct sync_msg m;

	(void)c;
	if (sync_throttled(w, r) || r->keyword == NULL || !util_strieq(r->keyword, "FETCH") ||
	    r->args == NULL || r->args->type != IMAP_ARG_LIST || !r->has_number || r->number == 0)
		return; /* keep-alive noise is no progress */
	/* Progress is a message number not seen yet; repeats are not. */
	if (w->n_msgs == 0 || r->number > w->msgs[w->n_msgs - 1].seq)
		sync_touch(w->m);
	if (w->n_msgs >= 4 * ((size_t)w->src_exists + 1024)) {
		worker_fail(w, 0, 0, "FETCH in %s: more than %zu responses for %u message(s)",
		    w->f->src_name, w->n_msgs, w->src_exists);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.seq = r->number;
	m.ord = (uint32_t)w->n_msgs;
	{
		struct sync_meta v;

		sync_meta_parse(r, &v, meta_keep, w);
		m.uid = v.uid;
		m.size = v.size;
		m.flags = v.flags;
		m.date = v.date;
		m.msgid = v.msgid;
		m.have = v.have;
	}
	if (w->n_msgs == w->cap_msgs) {
		w->cap_msgs = w->cap_msgs ? w->cap_msgs * 2 : 64;
		w->msgs = xrealloc(w->msgs, w->cap_msgs * sizeof(*w->msgs));
	}
	m.st = M_NEW;
	w->msgs[w->n_msgs++] = m;
}

static int
meta_cmp(const void *a, const void *b)
{
	const struct sync_msg *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* Too large for the destination: a SKIPPED row each, so that last_uid may
 * pass them (I2) and mailbox.compare knows why they are not there. */
static int
meta_record_skipped(struct sync_worker *w)
{
	struct syncstate *st = w->m->run->st;
	int rc = syncstate_begin(st);

	for (size_t i = 0; rc == 0 && i < w->n_msgs; i++) {
		struct sync_msg *m = &w->msgs[i];
		struct syncstate_msg sm;

		if (m->st != M_SKIP)
			continue;
		memset(&sm, 0, sizeof(sm));
		sm.src_uid = m->uid;
		sm.state = SYNCSTATE_SKIPPED;
		sm.size = m->size;
		sm.message_id = m->msgid;
		rc = syncstate_put(st, w->sf.id, &sm);
	}
	if (rc == 0)
		rc = syncstate_commit(st);
	if (rc != 0) {
		(void)syncstate_rollback(st);
		worker_fail(
		    w, 0, 0, "cannot record in %s: %s", syncstate_path(st), syncstate_error(st));
	}
	return rc;
}

static int
meta_cmp_seq(const void *a, const void *b)
{
	const struct sync_msg *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->ord < y->ord ? -1 : x->ord > y->ord;
}

/* Merge the items of SRC into DST (a later response wins), freeing SRC's. */
static void
meta_merge(struct sync_msg *dst, struct sync_msg *src)
{
	if (src->have & SYNC_HAVE_UID)
		dst->uid = src->uid;
	if (src->have & SYNC_HAVE_SIZE)
		dst->size = src->size;
	if (src->date != NULL) {
		free(dst->date);
		dst->date = src->date;
		src->date = NULL;
	}
	if (src->flags != NULL) {
		free(dst->flags);
		dst->flags = src->flags;
		src->flags = NULL;
	}
	if (src->msgid != NULL) {
		free(dst->msgid);
		dst->msgid = src->msgid;
		src->msgid = NULL;
	}
	dst->have |= src->have;
	if (src->have & SYNC_HAVE_SIZE)
		dst->have &= ~SYNC_BAD_SIZE;
	if (src->have & SYNC_HAVE_DATE)
		dst->have &= ~SYNC_BAD_DATE;
	free(src->flags);
	free(src->date);
	free(src->msgid);
}

/* Did we ask for UID? (last_uid+1:* and the failed ones, below UIDNEXT) */
static int
meta_asked(struct sync_worker *w, uint32_t uid)
{
	if (uid == 0 || (w->src_uidnext != 0 && uid >= w->src_uidnext))
		return 0;
	if (sync_has_u32(w->skip_uids, w->n_skip, uid))
		return 0;
	/* a chunk of the listing: its UID range only (worker_meta) */
	if ((w->meta_hi != 0 && uid > w->meta_hi) || (w->meta_chunks > 0 && uid < w->meta_next))
		return 0;
	if (uid > w->sf.last_uid || sync_has_u32(w->failed_uids, w->n_failed, uid))
		return 1;
	/* --verify lists every message: those the state has no row for (I4). */
	return w->m->run->o.verify && !sync_has_u32(w->known_uids, w->n_known, uid);
}

/* Why message M cannot be copied, or NULL when every item arrived. */
static const char *
meta_missing(const struct sync_msg *m)
{
	if (m->have & SYNC_BAD_SIZE)
		return "malformed RFC822.SIZE";
	if (!(m->have & SYNC_HAVE_SIZE))
		return "no RFC822.SIZE";
	if (m->have & SYNC_BAD_DATE)
		return "malformed INTERNALDATE";
	if (!(m->have & SYNC_HAVE_DATE))
		return "no INTERNALDATE";
	if (!(m->have & SYNC_HAVE_FLAGS))
		return "no FLAGS";
	return NULL;
}

/*
 * Merge the partial entries by message number, keep only the UIDs we asked
 * for (a server repeating messages or inventing UIDs gets nothing copied
 * twice), then by UID. A message whose data did not all arrive fails with
 * the reason instead of being skipped or copied without its flags.
 */
static void
meta_settle(struct sync_worker *w)
{
	struct sync_folder *f = w->f;
	struct syncstate *st = w->m->run->st;
	size_t n = 0, no_uid = 0, failed = 0;

	if (w->n_msgs > 1)
		qsort(w->msgs, w->n_msgs, sizeof(*w->msgs), meta_cmp_seq);
	for (size_t i = 0; i < w->n_msgs; i++) {
		if (n > 0 && w->msgs[n - 1].seq == w->msgs[i].seq)
			meta_merge(&w->msgs[n - 1], &w->msgs[i]);
		else
			w->msgs[n++] = w->msgs[i];
	}
	w->n_msgs = n;
	n = 0;
	for (size_t i = 0; i < w->n_msgs; i++) {
		struct sync_msg *m = &w->msgs[i];

		if (!(m->have & SYNC_HAVE_UID))
			no_uid++;
		if (!(m->have & SYNC_HAVE_UID) || !meta_asked(w, m->uid)) {
			free(m->flags);
			free(m->date);
			free(m->msgid);
			continue;
		}
		w->msgs[n++] = *m;
	}
	w->n_msgs = n;
	if (w->n_msgs > 1)
		qsort(w->msgs, w->n_msgs, sizeof(*w->msgs), meta_cmp);
	n = 0;
	for (size_t i = 0; i < w->n_msgs; i++) {
		/* One UID under two message numbers: the same message. */
		if (n > 0 && w->msgs[n - 1].uid == w->msgs[i].uid)
			meta_merge(&w->msgs[n - 1], &w->msgs[i]);
		else
			w->msgs[n++] = w->msgs[i];
	}
	w->n_msgs = n;
	for (size_t i = 0; i < w->n_msgs; i++) {
		struct sync_msg *m = &w->msgs[i];
		const char *why = meta_missing(m);

		if (why == NULL)
			continue;
		m->st = M_FAILED;
		f->errors++;
		if (failed++ == 0) {
			char *e =
			    xasprintf("FETCH in %s: message UID %u: %s", f->src_name, m->uid, why);

			folder_set_error(f, e);
			free(e);
		}
		/* A FAILED row (a new message has none yet): retried by the next
		 * pass, and settled for the watermark (I2). */
		if (syncstate_begin(st) == 0) {
			struct syncstate_msg sm;

			memset(&sm, 0, sizeof(sm));
			sm.src_uid = m->uid;
			sm.state = SYNCSTATE_FAILED;
			sm.size = m->size;
			if (syncstate_put(st, w->sf.id, &sm) == 0)
				(void)syncstate_commit(st);
			else
				(void)syncstate_rollback(st);
		}
	}
	if (failed > 1) {
		char *e = xasprintf("%s (and %zu more message(s) with incomplete FETCH data)",
		    f->error, failed - 1);

		folder_set_error(f, e);
		free(e);
	}
	if (no_uid > 0 && failed == 0 && w->n_msgs == 0) {
		char *e =
		    xasprintf("FETCH in %s: %zu response(s) without a UID", f->src_name, no_uid);

		folder_set_error(f, e);
		free(e);
		f->errors += no_uid;
	}
}

static void
meta_done(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_worker *w = arg;
	struct sync_folder *f = w->f;
	struct sync_run *run = w->m->run;
	int64_t limit = run->plan->destination.limits.message_bytes;
	size_t n = 0;

	(void)c;
	if (w->failing)
		return;
	if (r == NULL) {
		worker_fail(w, 1, 0, "FETCH in %s: %s", f->src_name,
		    w->src != NULL ? imap_client_error(w->src) : "connection closed");
		return;
	}
	if (sync_throttled(w, r))
		return;
	if (r->status != IMAP_ST_OK) {
		worker_fail(w, 0, 0, "UID FETCH in %s failed: %s %s", f->src_name,
		    imap_status_str(r->status), r->text);
		return;
	}
	meta_settle(w);
	for (size_t i = 0; i < w->n_msgs; i++) {
		struct sync_msg *m = &w->msgs[i];

		if (m->st == M_FAILED)
			continue;
		n++;
		if (limit > 0 && m->size > (uint64_t)limit) {
			m->st = M_SKIP;
			f->too_large++;
			continue;
		}
		if (run->o.since > 0 && sync_date_epoch(m->date) < run->o.since) {
			m->st = M_OLD;
			f->older++;
			continue;
		}
		if (m->uid <= w->sf.last_uid && !sync_has_u32(w->failed_uids, w->n_failed, m->uid))
			f->unrecorded++; /* --verify: below last_uid without a row */
		if (run->o.dry_run) {
			f->would_copy++;
			f->would_bytes += m->size;
		} else {
			run->stats.msgs_total++;
			run->stats.bytes_total += m->size;
		}
	}
	if (w->meta_hi == 0 && f->check_rounds == 0 && w->src_exists > w->meta_listed + w->n_msgs)
		f->skipped += w->src_exists - (w->meta_listed + w->n_msgs);
	if (!run->o.dry_run && f->too_large > 0 && meta_record_skipped(w) != 0)
		return;
	if (run->o.dry_run) {
		if (!meta_more(w))
			folder_done(w);
		return;
	}
	if (n == 0) {
		worker_finish(w); /* nothing to copy: the pass is over */
		return;
	}
	worker_copy(w);
}

/* The UID set of the next chunk of the listing (and the failed UIDs first):
 * about SYNC_META_MSGS messages, the last one up to "*". */
static char *
meta_range(struct sync_worker *w, const char *failed)
{
	uint32_t lo = w->meta_next;

	if (w->src_uidnext > lo && w->src_uidnext - lo > w->meta_span)
		w->meta_hi = lo + w->meta_span - 1;
	if (w->meta_hi != 0)
		return failed != NULL ? xasprintf("%s,%u:%u", failed, lo, w->meta_hi)
		                      : xasprintf("%u:%u", lo, w->meta_hi);
	return failed != NULL ? xasprintf("%s,%u:*", failed, lo) : xasprintf("%u:*", lo);
}

void
worker_meta(struct sync_worker *w)
{
	struct syncstate *st = w->m->run->st;
	struct syncstate_msg *rows = NULL;
	size_t n = 0;
	struct imap_cmd *cmd;
	char *set, *failed_set = NULL;

	w->ph = W_META;
	if (w->meta_chunks == 0) {
		int64_t done = 0;

		w->meta_next = w->sf.last_uid + 1;
		w->meta_span = SYNC_META_MSGS;
		if (syncstate_done_count(st, w->sf.id, w->dst_uidvalidity, &done) != 0)
			goto dberr;
		w->none_done = done == 0;
	}
	w->meta_hi = 0;
	/* DONE rows above last_uid (reconciled or recovered) are not copied again. */
	if (syncstate_msgs(st, w->sf.id, SYNCSTATE_DONE, w->meta_next - 1, &rows, &n) != 0)
		goto dberr;
	w->skip_uids = xcalloc(n ? n : 1, sizeof(*w->skip_uids));
	for (size_t i = 0; i < n; i++)
		w->skip_uids[i] = rows[i].src_uid;
	w->n_skip = n;
	syncstate_msgs_free(rows, n);
	rows = NULL;
	n = 0;
	/* the failed ones: with the first chunk */
	if (w->meta_chunks == 0 &&
	    syncstate_msgs(st, w->sf.id, SYNCSTATE_FAILED, 0, &rows, &n) != 0)
		goto dberr;
	w->failed_uids = xcalloc(n ? n : 1, sizeof(*w->failed_uids));
	for (size_t i = 0; i < n; i++)
		w->failed_uids[i] = rows[i].src_uid;
	w->n_failed = n;
	syncstate_msgs_free(rows, n);
	if (w->m->run->o.verify) {
		/* Every source message is listed: those without a row are copied. */
		if (syncstate_msgs(st, w->sf.id, -1, 0, &rows, &n) != 0)
			goto dberr;
		w->known_uids = xcalloc(n ? n : 1, sizeof(*w->known_uids));
		for (size_t i = 0; i < n; i++)
			if (rows[i].state != SYNCSTATE_FAILED)
				w->known_uids[w->n_known++] = rows[i].src_uid;
		syncstate_msgs_free(rows, n);
		set = xstrdup("1:*");
	} else if (w->n_failed == 0 && w->src_uidnext != 0 && w->meta_next >= w->src_uidnext) {
		if (w->src_exists > w->meta_listed && w->f->check_rounds == 0)
			w->f->skipped += w->src_exists - w->meta_listed;
		if (w->m->run->o.dry_run)
			folder_done(w);
		else
			worker_finish(w);
		return;
	} else if (w->n_failed > 0) {
		size_t taken;

		failed_set = sync_set_str(w->failed_uids, w->n_failed, &taken);
		set = meta_range(w, failed_set);
	} else {
		set = meta_range(w, NULL);
	}
	free(failed_set);
	worker_sink_mode(w, w->src, SINK_NONE);
	cmd = imap_cmd_new(w->src, "UID FETCH");
	imap_cmd_atom(cmd, set);
	imap_cmd_atom(
	    cmd, "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])");
	free(set);
	imap_cmd_send(cmd, meta_untagged, meta_done, w);
	return;
dberr:
	worker_fail(w, 0, 0, "cannot read %s: %s", syncstate_path(st), syncstate_error(st));
}

/* ================================================================ select ===== */

static void
select_untagged(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_worker *w = arg;
	int dst = c == w->dst;
	const char *rest;
	uint32_t v;

	/* No sync_touch: untagged lines do not advance a SELECT (a server
	 * answering with noise forever must meet the watchdog). */
	if (sync_throttled(w, r))
		return;
	if (r->keyword != NULL && util_strieq(r->keyword, "EXISTS") && r->has_number) {
		if (!dst)
			w->src_exists = r->number;
		else
			w->dst_exists = r->number;
		return;
	}
	if (r->status != IMAP_ST_OK)
		return;
	if (imap_code_is(r, "UIDVALIDITY", &rest) && sync_parse_u32(rest, &v) == 0) {
		if (dst)
			w->dst_uidvalidity = v;
		else
			w->src_uidvalidity = v;
	} else if (imap_code_is(r, "UIDNEXT", &rest) && sync_parse_u32(rest, &v) == 0) {
		if (dst)
			w->dst_uidnext = v;
		else
			w->src_uidnext = v;
	} else if (!dst && imap_code_is(r, "HIGHESTMODSEQ", &rest)) {
		/* RFC 7162 3.1.2.1; NOMODSEQ (3.1.2.2) leaves it 0 */
		if (sync_parse_u64(rest, &w->src_modseq) != 0)
			w->src_modseq = 0;
	} else if (dst && imap_code_is(r, "PERMANENTFLAGS", &rest)) {
		/* RFC 3501 7.1: PERMANENTFLAGS (flag ... [\*]) */
		const char *p = rest;

		w->perm_known = 1;
		while (*p != '\0') {
			size_t n;

			while (*p == ' ' || *p == '(' || *p == ')')
				p++;
			n = strcspn(p, " ()");
			if (n == 0)
				break;
			if (n == 2 && strncmp(p, "\\*", 2) == 0)
				w->perm_any = 1;
			else if (w->n_perm < 1024) {
				w->perm = xrealloc(w->perm, (w->n_perm + 1) * sizeof(*w->perm));
				w->perm[w->n_perm++] = xstrndup(p, n);
			}
			p += n;
		}
	}
}

static void
worker_after_select(struct sync_worker *w)
{
	struct syncstate *st = w->m->run->st;
	struct sync_folder *f = w->f;
	int rc;

	if (w->src_uidvalidity == 0) {
		worker_fail(w, 0, 0, "%s: the source sent no UIDVALIDITY", f->src_name);
		return;
	}
	if (syncstate_folder_get(
	        st, w->m->pair, f->src_raw, w->src_uidvalidity, f->dst_raw, &w->sf) != 0) {
		worker_fail(w, 0, 0, "cannot use %s: %s", syncstate_path(st), syncstate_error(st));
		return;
	}
	w->have_sf = 1;
	if (syncstate_msgs(st, w->sf.id, SYNCSTATE_INTENT, 0, &w->intents, &w->n_intents) != 0) {
		worker_fail(w, 0, 0, "cannot read %s: %s", syncstate_path(st), syncstate_error(st));
		return;
	}
	if (w->n_intents > 0 && !w->m->run->o.dry_run && w->dst != NULL) {
		worker_reconcile(w);
		return;
	}
	rc = w->m->run->o.dry_run ? 0 : worker_recover(w);
	if (rc == 0)
		worker_meta(w);
}

static void
select_done(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_worker *w = arg;
	const char *what = c == w->dst ? "SELECT" : "EXAMINE";
	const char *name = c == w->dst ? w->f->dst_name : w->f->src_name;

	if (r == NULL) {
		worker_fail(w, 1, 0, "%s %s: %s", what, name, imap_client_error(c));
		return;
	}
	if (sync_throttled(w, r))
		return;
	if (r->status != IMAP_ST_OK) {
		worker_fail(w, 0, 0, "%s %s failed: %s %s", what, name, imap_status_str(r->status),
		    r->text);
		return;
	}
	if (--w->pending == 0 && !w->failing)
		worker_after_select(w);
}

static void
worker_select(struct sync_worker *w)
{
	struct sync_folder *f = w->f;
	struct imap_cmd *cmd;

	w->ph = W_SELECT;
	w->pending = 0;
	/* A folder a dry run would create does not exist yet: nothing to SELECT. */
	if (!(w->m->run->o.dry_run && f->create && !f->created)) {
		cmd = imap_cmd_new(w->dst, "SELECT");
		imap_cmd_string(cmd, f->dst_raw, strlen(f->dst_raw), 0);
		w->pending++;
		imap_cmd_send(cmd, select_untagged, select_done, w);
	}
	cmd = imap_cmd_new(w->src, "EXAMINE");
	imap_cmd_string(cmd, f->src_raw, strlen(f->src_raw), 0);
	/* CONDSTORE: the answer carries HIGHESTMODSEQ (RFC 7162 3.1.8) */
	if (imap_client_has_cap(w->src, "CONDSTORE"))
		imap_cmd_atom(cmd, "(CONDSTORE)");
	w->pending++;
	imap_cmd_send(cmd, select_untagged, select_done, w);
}

/* ================================================================ workers ===== */

static void
worker_connected(struct imap_client *c, void *arg)
{
	struct sync_worker *w = arg;
	int dst = c == w->dst;

	sync_touch(w->m);
	if (imap_client_result(c) != NET_RESULT_OK) {
		enum net_result res = imap_client_result(c);

		w->ph = W_CONNECT;
		worker_fail(w, res == NET_RESULT_CONNECT_FAILED || res == NET_RESULT_TIMEOUT, 0,
		    "%s login: %s", dst ? "destination" : "source", imap_client_error(c));
		return;
	}
	if (dst)
		w->dst_ready = 1;
	else
		w->src_ready = 1;
	if (w->src_ready && w->dst_ready) {
		net_set_drain(imap_client_conn(w->dst), SYNC_OUT_LOW, flow_drain_cb, w);
		worker_select(w);
	}
}

static void
worker_end(struct sync_worker *w)
{
	if (!w->live)
		return;
	w->live = 0;
	w->m->workers_live--;
	mbox_check_done(w->m);
}

static void
worker_next(struct sync_worker *w)
{
	struct sync_mbox *m = w->m;
	struct sync_folder *f = NULL;

	if (m->fatal != NULL) {
		worker_end(w);
		return;
	}
	for (size_t i = 0; i < m->n_folders; i++) {
		if (m->folders[i].queued && !m->folders[i].done && !m->folders[i].busy) {
			f = &m->folders[i];
			break;
		}
	}
	if (f == NULL) {
		worker_end(w);
		return;
	}
	f->busy = 1;
	w->f = f;
	if (w->src != NULL && w->dst != NULL && w->src_ready && w->dst_ready &&
	    imap_client_state(w->src) == IMAP_S_READY &&
	    imap_client_state(w->dst) == IMAP_S_READY) {
		worker_select(w);
		return;
	}
	worker_free_clients(w);
	w->ph = W_CONNECT;
	w->src = sync_open(m, 0, worker_connected, w);
	w->dst = sync_open(m, 1, worker_connected, w);
}

static void
worker_init(struct sync_mbox *m, struct sync_worker *w)
{
	memset(w, 0, sizeof(*w));
	w->m = m;
	w->timer = evtimer_new(sync_base(m), worker_timer_cb, w);
	w->flow = evtimer_new(sync_base(m), flow_timer_cb, w);
	w->settle = evtimer_new(sync_base(m), reconcile_settle_cb, w);
	w->md = EVP_MD_CTX_new();
	if (w->timer == NULL || w->flow == NULL || w->settle == NULL || w->md == NULL)
		abort();
}

static void
worker_destroy(struct sync_worker *w)
{
	worker_free_clients(w);
	worker_reset_folder(w);
	if (w->timer != NULL)
		event_free(w->timer);
	if (w->flow != NULL)
		event_free(w->flow);
	if (w->settle != NULL)
		event_free(w->settle);
	EVP_MD_CTX_free(w->md);
	free(w->err);
	memset(w, 0, sizeof(*w));
}

/* ================================================================ the mailbox ===== */

static int
sync_glob_any(const char *const *globs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (fnmatch(globs[i], name, 0) == 0)
			return 1;
	return 0;
}

static void
mbox_free_folders(struct sync_mbox *m)
{
	for (size_t i = 0; i < m->n_folders; i++) {
		struct sync_folder *f = &m->folders[i];

		free(f->src_raw);
		free(f->src_name);
		free(f->dst_raw);
		free(f->dst_name);
		free(f->error);
		for (size_t k = 0; k < f->n_dropped; k++)
			free(f->dropped[k]);
		free(f->dropped);
	}
	free(m->folders);
	m->folders = NULL;
	m->n_folders = 0;
	cJSON_Delete(m->mapinfo);
	m->mapinfo = NULL;
}

static void
mbox_teardown(struct sync_mbox *m)
{
	mbox_moves_free(m);
	for (int i = 0; i < m->n_workers; i++)
		worker_destroy(&m->workers[i]);
	free(m->workers);
	m->workers = NULL;
	m->n_workers = 0;
	folders_job_free(m->sjob);
	folders_job_free(m->djob);
	m->sjob = m->djob = NULL;
	imap_client_free(m->src);
	imap_client_free(m->dst);
	m->src = m->dst = NULL;
	folders_inventory_free(m->sinv);
	folders_inventory_free(m->dinv);
	m->sinv = m->dinv = NULL;
	if (m->kick != NULL)
		event_free(m->kick);
	if (m->watchdog != NULL)
		event_free(m->watchdog);
	m->kick = m->watchdog = NULL;
}

static void
mbox_free(struct sync_mbox *m)
{
	mbox_teardown(m);
	mbox_free_folders(m);
	free(m->pair);
	free(m->fatal);
	free(m);
}

static void
sync_fmt_bytes(char *buf, size_t len, uint64_t b)
{
	if (b >= 1024ull * 1024 * 1024)
		snprintf(buf, len, "%.1f GB", (double)b / (1024.0 * 1024 * 1024));
	else if (b >= 1024ull * 1024)
		snprintf(buf, len, "%.1f MB", (double)b / (1024.0 * 1024));
	else if (b >= 1024)
		snprintf(buf, len, "%.1f KB", (double)b / 1024.0);
	else
		snprintf(buf, len, "%llu bytes", (unsigned long long)b);
}

/* "folders_subscribed", "namespaces" and "left_out" (mbox_map). */
static void
mbox_fill_map(const struct sync_mbox *m, cJSON *d)
{
	cJSON_AddNumberToObject(d, "folders_subscribed", (double)m->subscribed);
	for (const cJSON *it = m->mapinfo != NULL ? m->mapinfo->child : NULL; it != NULL;
	     it = it->next)
		cJSON_AddItemToObject(d, it->string, cJSON_Duplicate(it, 1));
}

/* Fill the sync.mailbox result (reports/SCHEMA.md). */
/* The sums over a mailbox's folders: what sync.mailbox judges. */
struct sync_totals {
	uint64_t copied, bytes, skipped, errors, too_large, reconciled, recovered, throttled;
	uint64_t would, would_bytes, dropped_kw, unfinished, flags_updated, conflicts;
	uint64_t deleted, deleted_pending, moved;
	uint64_t v_checked, v_missing, v_mismatched, v_unverifiable, v_unrecorded;
	size_t v_folders;
	const struct sync_folder *v_first; /* the first folder the check found short */
};

static void
totals_add(struct sync_totals *t, const struct sync_folder *f)
{
	t->copied += f->copied;
	t->bytes += f->bytes;
	t->skipped += f->skipped;
	t->errors += f->errors;
	t->too_large += f->too_large;
	t->reconciled += f->reconciled;
	t->recovered += f->recovered;
	t->throttled += f->throttled;
	t->would += f->would_copy;
	t->would_bytes += f->would_bytes;
	t->dropped_kw += f->n_dropped;
	if (!f->done && f->queued)
		t->unfinished++;
	t->flags_updated += f->flags_updated;
	t->conflicts += f->conflicts;
	t->deleted += f->deleted;
	t->deleted_pending += f->deleted_pending;
	t->moved += f->moved;
	t->v_checked += f->checked;
	t->v_missing += f->missing;
	t->v_mismatched += f->mismatched;
	t->v_unverifiable += f->unverifiable;
	t->v_unrecorded += f->unrecorded;
	if (f->check_rounds > 0)
		t->v_folders++;
	if ((f->missing > 0 || f->mismatched > 0 || f->unrecorded > 0) && t->v_first == NULL)
		t->v_first = f;
}

/* The details of one folder. */
static cJSON *
mbox_folder_json(const struct sync_mbox *m, const struct sync_folder *f)
{
	cJSON *o = cJSON_CreateObject(), *kw = cJSON_CreateArray();

	cJSON_AddStringToObject(o, "source", f->src_name);
	cJSON_AddStringToObject(o, "destination", f->dst_name);
	cJSON_AddStringToObject(o, "source_raw", f->src_raw);
	cJSON_AddStringToObject(o, "destination_raw", f->dst_raw);
	cJSON_AddStringToObject(o, "mapped_by", f->how);
	cJSON_AddBoolToObject(o, "created", f->created);
	cJSON_AddBoolToObject(o, "rewritten", f->rewritten);
	cJSON_AddBoolToObject(o, "subscribed", f->subscribed);
	cJSON_AddNumberToObject(o, "copied", (double)f->copied);
	cJSON_AddNumberToObject(o, "skipped", (double)f->skipped);
	cJSON_AddNumberToObject(o, "bytes", (double)f->bytes);
	cJSON_AddNumberToObject(o, "errors", (double)f->errors);
	cJSON_AddNumberToObject(o, "too_large", (double)f->too_large);
	cJSON_AddNumberToObject(o, "reconciled", (double)f->reconciled);
	cJSON_AddNumberToObject(o, "recovered", (double)f->recovered);
	cJSON_AddNumberToObject(o, "throttled", (double)f->throttled);
	cJSON_AddNumberToObject(o, "flags_updated", (double)f->flags_updated);
	cJSON_AddNumberToObject(o, "conflicts", (double)f->conflicts);
	cJSON_AddNumberToObject(o, "deleted", (double)f->deleted);
	cJSON_AddNumberToObject(o, "deleted_pending", (double)f->deleted_pending);
	cJSON_AddNumberToObject(o, "moved", (double)f->moved);
	cJSON_AddBoolToObject(o, "unchanged", f->unchanged);
	if (m->run->o.since > 0)
		cJSON_AddNumberToObject(o, "older_than_since", (double)f->older);
	if (f->check_rounds > 0) {
		cJSON *v = cJSON_CreateObject();

		cJSON_AddStringToObject(v, "mode", m->run->o.verify ? "sha256" : "count");
		cJSON_AddNumberToObject(v, "checked", (double)f->checked);
		cJSON_AddNumberToObject(v, "missing", (double)f->missing);
		cJSON_AddNumberToObject(v, "mismatched", (double)f->mismatched);
		cJSON_AddNumberToObject(v, "unverifiable", (double)f->unverifiable);
		cJSON_AddNumberToObject(v, "unrecorded", (double)f->unrecorded);
		cJSON_AddItemToObject(o, "verify", v);
	}
	if (m->run->o.dry_run) {
		cJSON_AddNumberToObject(o, "would_copy", (double)f->would_copy);
		cJSON_AddNumberToObject(o, "would_copy_bytes", (double)f->would_bytes);
	}
	for (size_t k = 0; k < f->n_dropped; k++)
		cJSON_AddItemToArray(kw, cJSON_CreateString(f->dropped[k]));
	cJSON_AddItemToObject(o, "keywords_dropped", kw);
	util_json_add_str_or_null(o, "error", f->error);
	return o;
}

/* What mailbox.compare after the sync may allow for F: too large, or before
 * --since. */
static void
mbox_note(struct sync_mbox *m, const struct sync_folder *f)
{
	struct sync_note *nt;
	int64_t big = 0;

	(void)syncstate_folder_count(
	    m->run->st, m->pair, f->src_raw, f->st_uidvalidity, SYNCSTATE_SKIPPED, &big);
	m->run->notes = xrealloc(m->run->notes, (m->run->n_notes + 1) * sizeof(*m->run->notes));
	nt = &m->run->notes[m->run->n_notes++];
	nt->user = xstrdup(m->mb->source_user);
	nt->src_raw = xstrdup(f->src_raw);
	nt->allowed = (uint64_t)big + f->older;
}

/* Why F's name was rewritten on the destination. */
static cJSON *
mbox_rewritten_json(const struct sync_mbox *m, const struct sync_folder *f)
{
	cJSON *x = cJSON_CreateObject();
	char *why = xasprintf("'%c' is the destination's hierarchy delimiter; replaced by '%c'",
	    m->dinv != NULL && m->dinv->delim ? m->dinv->delim : '/', SYNC_DELIM_REPLACEMENT);

	cJSON_AddStringToObject(x, "source", f->src_name);
	cJSON_AddStringToObject(x, "destination", f->dst_name);
	cJSON_AddStringToObject(x, "reason", why);
	free(why);
	return x;
}

/* The mailbox's sums into D. */
static void
mbox_totals_json(const struct sync_mbox *m, const struct sync_totals *t, cJSON *d)
{
	cJSON_AddNumberToObject(d, "copied", (double)t->copied);
	cJSON_AddNumberToObject(d, "bytes", (double)t->bytes);
	cJSON_AddNumberToObject(d, "duration_ms", (double)(util_now_ms() - m->t0));
	cJSON_AddNumberToObject(d, "skipped", (double)t->skipped);
	cJSON_AddNumberToObject(d, "errors", (double)t->errors);
	cJSON_AddNumberToObject(d, "too_large", (double)t->too_large);
	cJSON_AddNumberToObject(d, "reconciled", (double)t->reconciled);
	cJSON_AddNumberToObject(d, "recovered", (double)t->recovered);
	cJSON_AddNumberToObject(d, "throttled", (double)t->throttled);
	cJSON_AddNumberToObject(d, "folders_created", (double)m->created);
	cJSON_AddNumberToObject(d, "flags_updated", (double)t->flags_updated);
	cJSON_AddNumberToObject(d, "conflicts", (double)t->conflicts);
	cJSON_AddNumberToObject(d, "deleted", (double)t->deleted);
	cJSON_AddNumberToObject(d, "deleted_pending", (double)t->deleted_pending);
	cJSON_AddNumberToObject(d, "moved", (double)t->moved);
	mbox_fill_map(m, d);
}

/* The verify object of the details. */
static cJSON *
mbox_verify_json(const struct sync_mbox *m, const struct sync_totals *t)
{
	cJSON *v = cJSON_CreateObject();

	cJSON_AddStringToObject(v, "mode", m->run->o.verify ? "sha256" : "count");
	cJSON_AddNumberToObject(v, "folders", (double)t->v_folders);
	cJSON_AddNumberToObject(v, "checked", (double)t->v_checked);
	cJSON_AddNumberToObject(v, "missing", (double)t->v_missing);
	cJSON_AddNumberToObject(v, "mismatched", (double)t->v_mismatched);
	cJSON_AddNumberToObject(v, "unverifiable", (double)t->v_unverifiable);
	cJSON_AddNumberToObject(v, "unrecorded", (double)t->v_unrecorded);
	return v;
}

/* A mailbox that stopped (a fatal error, or interrupted): the verdict. */
static void
mbox_stopped_verdict(struct sync_mbox *m, const struct sync_totals *t, int interrupted,
    const char *b1, struct result *res)
{
	cJSON *d = res->details;

	if (m->fatal != NULL && !interrupted && sync_permanent(m->fatal_res, m->fatal)) {
		/* Running again changes nothing (and repeated refused logins lock
		 * accounts): say what to fix. */
		cJSON_AddStringToObject(d, "error_class", "permanent");
		result_set(res, RESULT_FAIL, "failed after %llu message(s) copied (%s): %s",
		    (unsigned long long)t->copied, b1, m->fatal);
		result_advise(res,
		    "%s Then run `cutover sync` again: it continues where it "
		    "stopped and never copies a message twice.",
		    sync_permanent_advice(m->fatal_res, m->fatal));
		return;
	}
	cJSON_AddStringToObject(d, "error_class", "transient");
	result_set(res, RESULT_ERROR, "%s after %llu message(s) copied (%s): %s",
	    interrupted ? "stopped" : "failed", (unsigned long long)t->copied, b1,
	    m->fatal != NULL ? m->fatal : "interrupted");
	result_advise(res,
	    "Run `cutover sync` again: it continues where it stopped and "
	    "never copies a message twice.");
}

/* A mailbox that ran to its end: the verdict. */
static void
mbox_verdict(
    const struct sync_mbox *m, const struct sync_totals *t, const char *b1, struct result *res)
{
	if (t->v_first != NULL) {
		/* I4: the state claimed copies the destination did not have. */
		result_set(res, RESULT_FAIL,
		    "the state said %llu message(s) were copied that the destination lacked "
		    "(first: %llu in %s)%s%s; copied again: %llu message(s) copied (%s) in this "
		    "run",
		    (unsigned long long)(t->v_missing + t->v_unrecorded),
		    (unsigned long long)(t->v_first->missing + t->v_first->unrecorded),
		    t->v_first->dst_name,
		    t->v_mismatched > 0 ? ", and some differ from what was copied" : "",
		    t->errors > 0 ? ", with errors" : "", (unsigned long long)t->copied, b1);
		result_advise(res,
		    "Someone or something removed messages from the destination, "
		    "or an earlier cutover lost them: they were copied again. Run "
		    "`cutover sync --verify` once more to confirm nothing is missing; "
		    "\"mismatched\" messages were changed on the destination and are "
		    "left as they are.");
		return;
	}
	if (t->errors > 0 || t->unfinished > 0) {
		result_set(res, RESULT_FAIL, "%llu message(s) copied (%s), %llu error(s)%s",
		    (unsigned long long)t->copied, b1, (unsigned long long)t->errors,
		    t->unfinished ? ", some folders not synced" : "");
		result_advise(res,
		    "See the folders' \"error\" in the details; a new run retries "
		    "what failed.");
		return;
	}
	if (m->run->o.dry_run) {
		result_set(res, RESULT_PASS,
		    "dry run: would copy %llu message(s) (%s) in %zu folder(s)",
		    (unsigned long long)t->would, b1, m->n_folders);
		return;
	}
	if (t->too_large > 0 || t->dropped_kw > 0) {
		result_set(res, RESULT_WARN,
		    "%llu message(s) copied (%s); %llu too large for the "
		    "destination, %llu keyword(s) not kept",
		    (unsigned long long)t->copied, b1, (unsigned long long)t->too_large,
		    (unsigned long long)t->dropped_kw);
		return;
	}
	{
		char chg[200] = "";

		if (t->flags_updated > 0 || t->deleted > 0 || t->deleted_pending > 0 ||
		    t->moved > 0)
			snprintf(chg, sizeof(chg),
			    "; %llu moved between folders, flags of %llu updated%s, %llu deleted, "
			    "%llu gone from the source (--delete removes them)",
			    (unsigned long long)t->moved, (unsigned long long)t->flags_updated,
			    t->conflicts > 0 ? " (with conflicts)" : "",
			    (unsigned long long)t->deleted, (unsigned long long)t->deleted_pending);
		if (t->copied == 0)
			result_set(res, RESULT_PASS,
			    "nothing new: %llu message(s) already on the "
			    "destination in %zu folder(s)%s",
			    (unsigned long long)t->skipped, m->n_folders, chg);
		else
			result_set(res, RESULT_PASS,
			    "%llu message(s) copied (%s) in %zu folder(s)%s%s%s",
			    (unsigned long long)t->copied, b1, m->n_folders,
			    t->reconciled > 0 ? ", earlier interrupted copies reconciled" : "",
			    t->throttled > 0 ? "; the server throttled, backed off and retried"
			                     : "",
			    chg);
	}
}

/* The sync.mailbox result of M: details (per folder, sums) and verdict. */
static void
mbox_fill(struct sync_mbox *m, struct result *res, int interrupted)
{
	cJSON *d = res->details, *arr = cJSON_CreateArray(), *rw = cJSON_CreateArray();
	struct sync_totals t;
	int dry = m->run->o.dry_run;
	char b1[32];

	memset(&t, 0, sizeof(t));
	cJSON_AddStringToObject(d, "user", m->mb->source_user);
	cJSON_AddStringToObject(d, "destination_user", m->mb->dest_user);
	for (size_t i = 0; i < m->n_folders; i++) {
		struct sync_folder *f = &m->folders[i];

		cJSON_AddItemToArray(arr, mbox_folder_json(m, f));
		if ((f->queued || f->done) && !dry)
			mbox_note(m, f);
		if (f->rewritten)
			cJSON_AddItemToArray(rw, mbox_rewritten_json(m, f));
		totals_add(&t, f);
	}
	cJSON_AddItemToObject(d, "folders", arr);
	mbox_totals_json(m, &t, d);
	cJSON_AddItemToObject(d, "rewritten", rw);
	cJSON_AddBoolToObject(d, "dry_run", dry);
	cJSON_AddItemToObject(d, "verify", mbox_verify_json(m, &t));
	if (dry) {
		cJSON_AddNumberToObject(d, "would_copy", (double)t.would);
		cJSON_AddNumberToObject(d, "would_copy_bytes", (double)t.would_bytes);
	}
	sync_fmt_bytes(b1, sizeof(b1), dry ? t.would_bytes : t.bytes);
	if (m->fatal != NULL || interrupted)
		mbox_stopped_verdict(m, &t, interrupted, b1, res);
	else
		mbox_verdict(m, &t, b1, res);
}

/* The pass of this pair, for `cutover sync --status` (best effort: the copy
 * itself is recorded already; a state that cannot take the row only loses
 * the history line). */
static void
mbox_record_pass(struct sync_mbox *m, const struct result *res)
{
	struct syncstate_pass p;
	const cJSON *d = res->details;
	int64_t now = 0;

	memset(&p, 0, sizeof(p));
	(void)syncstate_now_ms(m->run->st, &now);
	p.ended_ms = now;
	p.started_ms = now - (util_now_ms() - m->t0);
	p.status = (char *)result_status_str(res->status);
	p.summary = res->summary;
	p.copied = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(d, "copied"));
	p.bytes = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(d, "bytes"));
	p.errors = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(d, "errors"));
	p.dry_run = m->run->o.dry_run;
	if (syncstate_pass_add(m->run->st, m->pair, &p) != 0 && m->run->o.dry_run == 0)
		fprintf(stderr, "cutover sync: cannot record the pass in %s: %s\n",
		    syncstate_path(m->run->st), syncstate_error(m->run->st));
}

static void
mbox_logged_out(struct imap_client *c, void *arg)
{
	struct sync_mbox *m = arg;

	(void)c;
	if (--m->logouts == 0)
		event_active(m->kick, EV_TIMEOUT, 0);
}

/* LOGOUT a session that is READY (counted in m->logouts); free any other. */
static void
mbox_logout(struct sync_mbox *m, struct imap_client **cp)
{
	if (*cp == NULL)
		return;
	/* A server we gave up on (the watchdog) gets no LOGOUT to wait for. */
	if (imap_client_state(*cp) != IMAP_S_READY || sync_gave_up(m->run, m->mb)) {
		imap_client_free(*cp);
		*cp = NULL;
		return;
	}
	m->logouts++;
	imap_client_logout(*cp, mbox_logged_out, m);
}

/* Deferred: every worker ended; log out, then complete the task. */
static void
mbox_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sync_mbox *m = arg;
	struct sync_run *run = m->run;
	struct task *t = m->t;

	(void)fd;
	(void)what;
	if (m->finished == 1) {
		/* Log out every connection still open (politely), once. */
		m->finished = 2;
		m->logouts = 1;
		sync_touch(m);
		for (int i = 0; i < m->n_workers; i++) {
			mbox_logout(m, &m->workers[i].src);
			mbox_logout(m, &m->workers[i].dst);
		}
		mbox_logout(m, &m->src);
		mbox_logout(m, &m->dst);
		mbox_logged_out(NULL, m);
		return;
	}
	if (m->finished != 2 || m->logouts > 0)
		return;
	m->finished = 3;
	mbox_fill(m, task_result(t), 0);
	mbox_record_pass(m, task_result(t));
	mbox_activate(m, 0);
	mbox_free(m);
	run->stats.mailboxes_done++;
	if (--run->open_tasks == 0 && run->done != NULL)
		run->done(run->r, run->done_arg);
	task_done(t);
}

static void
mbox_check_done(struct sync_mbox *m)
{
	if (m->finished || m->workers_live > 0 || m->creates > 0 || m->jobs_left > 0)
		return;
	if (m->started_workers == 0 && m->fatal == NULL && m->sinv == NULL)
		return; /* still logging in / listing */
	m->finished = 1;
	event_active(m->kick, EV_TIMEOUT, 0);
}

static void
mbox_fatal(struct sync_mbox *m, const char *fmt, ...)
{
	va_list ap;

	if (m->fatal != NULL)
		return;
	va_start(ap, fmt);
	m->fatal = xvasprintf(fmt, ap);
	va_end(ap);
	for (int i = 0; i < m->n_workers; i++)
		if (m->workers[i].live)
			worker_fail(&m->workers[i], 0, 0, "%s", m->fatal);
	if (m->workers_live == 0) {
		m->creates = 0;
		m->jobs_left = 0;
		m->finished = 1;
		event_active(m->kick, EV_TIMEOUT, 0);
	}
}

static void
mbox_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sync_mbox *m = arg;
	int64_t idle = util_now_ms() - m->last_activity;

	(void)fd;
	(void)what;
	if (m->finished == 2 && idle > 5000) {
		/* LOGOUT unanswered: just close. */
		for (int i = 0; i < m->n_workers; i++)
			worker_free_clients(&m->workers[i]);
		imap_client_free(m->src);
		imap_client_free(m->dst);
		m->src = m->dst = NULL;
		m->logouts = 0;
		event_active(m->kick, EV_TIMEOUT, 0);
		return;
	}
	if (m->finished || m->run->o.idle_ms <= 0 || idle < m->run->o.idle_ms)
		return;
	/* Paused by --max-rate is not idle. */
	if (sync_rate_wait(m->run) > 0) {
		sync_touch(m);
		return;
	}
	m->run->gave_up =
	    xrealloc(m->run->gave_up, (m->run->n_gave_up + 1) * sizeof(*m->run->gave_up));
	m->run->gave_up[m->run->n_gave_up++] = m->mb;
	for (int i = 0; i < m->n_workers; i++) {
		/* Say what went wrong last, not only that time ran out. */
		if (m->workers[i].err != NULL) {
			mbox_fatal(m, "nothing moved for %.0f s (--timeout); last error: %s",
			    (double)idle / 1000.0, m->workers[i].err);
			return;
		}
	}
	mbox_fatal(m, "nothing moved for %.0f s (--timeout)", (double)idle / 1000.0);
}

void
mbox_start_workers(struct sync_mbox *m)
{
	size_t work = 0;
	int n;

	for (size_t i = 0; i < m->n_folders; i++)
		if (m->folders[i].queued && !m->folders[i].done)
			work++;
	n = m->max_workers;
	if ((size_t)n > work)
		n = (int)work;
	if (n < 1)
		n = 1;
	m->workers = xcalloc((size_t)n, sizeof(*m->workers));
	m->n_workers = n;
	for (int i = 0; i < n; i++) {
		worker_init(m, &m->workers[i]);
		m->workers[i].live = 1;
		m->workers_live++;
	}
	m->started_workers = 1;
	/* Worker 0 takes the connections that listed the folders. */
	m->workers[0].src = m->src;
	m->workers[0].dst = m->dst;
	m->workers[0].src_ready = m->workers[0].dst_ready = 1;
	m->src = m->dst = NULL;
	net_set_drain(
	    imap_client_conn(m->workers[0].dst), SYNC_OUT_LOW, flow_drain_cb, &m->workers[0]);
	for (int i = 0; i < n; i++)
		worker_next(&m->workers[i]);
}

/* Which folders have work: STATUS against the state (no command per folder). */
/* Does F's destination folder (STATUS of the listing) hold fewer messages
 * than the DONE rows of the state folder FOLDER_ID claim it got? */
static int
mbox_dst_short(struct sync_mbox *m, const struct sync_folder *f, int64_t folder_id)
{
	int64_t done = 0;

	if (m->dinv == NULL)
		return 0;
	for (size_t i = 0; i < m->dinv->n; i++) {
		const struct folders_folder *d = &m->dinv->folders[i];

		if (strcmp(d->raw_name, f->dst_raw) != 0 || !d->has_status || d->uidvalidity == 0)
			continue;
		if (syncstate_done_count(m->run->st, folder_id, d->uidvalidity, &done) != 0)
			return 0;
		return done > (int64_t)d->messages;
	}
	return 0;
}

/* ======================================================= unchanged folders (CONDSTORE) ===== */

/*
 * The folders whose STATUS says what the last settled pass saw are skipped
 * when their HIGHESTMODSEQ did not move either (RFC 7162 3.1.1: every change
 * to a message, flags included, raises it): no SELECT, no flag listing.
 */
static void
mbox_plan_end(struct sync_mbox *m)
{
	for (size_t i = 0; i < m->n_folders; i++) {
		struct sync_folder *f = &m->folders[i];

		if (!f->modseq_ask)
			continue;
		f->modseq_ask = 0;
		if (f->st_modseq == 0 || f->st_modseq != f->seen_modseq || f->done)
			continue;
		f->queued = 0;
		f->changes_only = 0;
		f->unchanged = 1;
		f->skipped = f->st_messages;
		f->done = 1;
	}
	mbox_moves(m);
}

static void
mbox_modseq_untagged(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_mbox *m = arg;
	const char *name;
	uint64_t modseq;

	(void)c;
	if (sync_status_modseq(r, &name, &modseq) != 1)
		return;
	for (size_t i = 0; i < m->n_folders; i++)
		if (m->folders[i].modseq_ask && strcmp(m->folders[i].src_raw, name) == 0)
			m->folders[i].st_modseq = modseq;
}

static void
mbox_modseq_done(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_mbox *m = arg;

	(void)c;
	(void)r; /* a STATUS that failed leaves st_modseq 0: the folder is looked at */
	sync_touch(m);
	if (--m->statuses == 0 && m->fatal == NULL && !m->finished)
		mbox_plan_end(m);
}

/* STATUS (HIGHESTMODSEQ) of the folders that may be unchanged, pipelined. */
static void
mbox_plan_ask(struct sync_mbox *m)
{
	for (size_t i = 0; i < m->n_folders; i++) {
		struct imap_cmd *cmd;

		if (!m->folders[i].modseq_ask)
			continue;
		cmd = imap_cmd_new(m->src, "STATUS");
		imap_cmd_string(cmd, m->folders[i].src_raw, strlen(m->folders[i].src_raw), 0);
		imap_cmd_atom(cmd, "(HIGHESTMODSEQ)");
		m->statuses++;
		imap_cmd_send(cmd, mbox_modseq_untagged, mbox_modseq_done, m);
	}
	if (m->statuses == 0)
		mbox_moves(m);
}

static void
mbox_plan(struct sync_mbox *m)
{
	struct syncstate *st = m->run->st;

	for (size_t i = 0; i < m->n_folders; i++) {
		struct sync_folder *f = &m->folders[i];
		struct syncstate_folder sf;
		struct syncstate_msg *rows = NULL;
		int64_t *ids = NULL;
		size_t n_rows = 0, n_ids = 0;
		int work = 1, same = 0;

		if (f->done)
			continue;
		if (f->has_status && f->st_uidvalidity != 0 && f->st_uidnext != 0 &&
		    syncstate_folder_get(
		        st, m->pair, f->src_raw, f->st_uidvalidity, f->dst_raw, &sf) == 0) {
			if (syncstate_msgs(st, sf.id, -1, sf.last_uid, &rows, &n_rows) == 0) {
				int open_rows = 0;

				for (size_t k = 0; k < n_rows; k++)
					if (rows[k].state != SYNCSTATE_DONE)
						open_rows = 1;
				syncstate_msgs_free(rows, n_rows);
				if (!open_rows &&
				    syncstate_msgs(
				        st, sf.id, SYNCSTATE_FAILED, 0, &rows, &n_rows) == 0) {
					open_rows = n_rows > 0;
					syncstate_msgs_free(rows, n_rows);
				}
				if (!open_rows && sf.last_uid + 1 >= f->st_uidnext)
					work = 0;
				/* A new UIDVALIDITY with copies under the old one: recover. */
				if (!work && sf.last_uid == 0 && f->st_messages > 0 &&
				    syncstate_other_uidvalidity(st, m->pair, f->src_raw,
				        f->st_uidvalidity, &ids, &n_ids) == 0) {
					work = n_ids > 0;
					free(ids);
				}
				/* I4 without a command: the destination holds fewer
				 * messages than the state says were copied there. */
				if (!work && mbox_dst_short(m, f, sf.id)) {
					work = 1;
					f->check_forced = 1;
				}
				/* What STATUS says now is what the last settled pass saw. */
				same = sf.seen_modseq != 0 && sf.seen_uidnext == f->st_uidnext &&
				    sf.seen_messages == f->st_messages;
				f->seen_modseq = sf.seen_modseq;
			}
			syncstate_folder_clear(&sf);
		}
		if (m->run->o.verify && !m->run->o.dry_run)
			work = 1; /* every folder is checked */
		if (!work && !m->run->o.dry_run && f->has_status && f->st_uidvalidity != 0) {
			/* Copies made earlier may have changed at the source (flags,
			 * deletions): without a way to ask what changed (CONDSTORE's
			 * HIGHESTMODSEQ is not used yet) the folder is looked at. */
			int64_t done = 0;

			if (syncstate_folder_count(st, m->pair, f->src_raw, f->st_uidvalidity,
			        SYNCSTATE_DONE, &done) == 0 &&
			    done > 0) {
				work = 1;
				f->changes_only = 1;
				/* CONDSTORE: unless its HIGHESTMODSEQ moved (mbox_plan_end) */
				f->modseq_ask = same && imap_client_has_cap(m->src, "CONDSTORE");
			}
		}
		if (!work && !(f->create && !f->created)) {
			f->skipped = f->st_messages;
			f->done = 1;
			continue;
		}
		f->queued = 1;
	}
	mbox_plan_ask(m);
}

static void
mbox_create_done(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_folder *f = arg;

	(void)c;
	if (r != NULL && (r->status == IMAP_ST_OK || imap_code_is(r, "ALREADYEXISTS", NULL))) {
		f->created = 1;
	} else {
		char *e = xasprintf(
		    "CREATE %s failed: %s", f->dst_name, r != NULL ? r->text : "connection closed");

		folder_set_error(f, e);
		free(e);
		f->errors++;
		f->done = 1;
	}
}

struct sync_create {
	struct sync_mbox *m;
	struct sync_folder *f;
};

static void
mbox_create_cb(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_create *cr = arg;
	struct sync_mbox *m = cr->m;

	sync_touch(m);
	mbox_create_done(c, r, cr->f);
	if (cr->f->created)
		m->created++;
	free(cr);
	if (--m->creates == 0 && m->fatal == NULL)
		mbox_plan(m);
}

static int
sync_special_cmp(const void *a, const void *b)
{
	const struct sync_folder *x = a, *y = b;
	int xi = util_strieq(x->src_raw, "INBOX"), yi = util_strieq(y->src_raw, "INBOX");

	if (xi != yi)
		return yi - xi;
	return strcmp(x->src_raw, y->src_raw);
}

static void
mbox_subscribe_cb(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_create *cr = arg;
	struct sync_mbox *m = cr->m;

	(void)c;
	sync_touch(m);
	if (r != NULL && r->status == IMAP_ST_OK) {
		cr->f->subscribed = 1;
		m->subscribed++;
	}
	free(cr);
	if (--m->creates == 0 && m->fatal == NULL)
		mbox_plan(m);
}

/* Is the destination folder RAW subscribed? */
static int
mbox_dst_subscribed(const struct folders_inventory *di, const char *raw)
{
	for (size_t j = 0; j < di->n; j++)
		if (strcmp(di->folders[j].raw_name, raw) == 0)
			return (di->folders[j].flags & FOLDERS_F_SUBSCRIBED) != 0;
	return 0;
}

/*
 * Map every selectable source folder (sync.h step 1) with folders_map() and
 * the plan's "sync.folder_map", CREATE the missing and SUBSCRIBE those
 * subscribed on the source.
 */
static void
mbox_map(struct sync_mbox *m)
{
	const struct folders_inventory *si = m->sinv, *di = m->dinv;
	const struct sync_opts *o = &m->run->o;
	const struct plan_sync *ps = &m->run->plan->sync;
	struct folders_rule *rules = xcalloc(ps->n_folder_map + 1, sizeof(*rules));
	struct folders_mapping *map = xcalloc(si->n ? si->n : 1, sizeof(*map));
	cJSON *left = cJSON_CreateArray();

	for (size_t k = 0; k < ps->n_folder_map; k++) {
		rules[k].from = ps->folder_map[k].from;
		rules[k].to = ps->folder_map[k].to;
	}
	folders_map(si, di, rules, ps->n_folder_map, map);
	free(rules);
	cJSON_Delete(m->mapinfo);
	m->mapinfo = cJSON_CreateObject();
	cJSON_AddItemToObject(m->mapinfo, "namespaces", folders_namespaces_json(si, di));
	cJSON_AddItemToObject(m->mapinfo, "left_out", left);
	m->folders = xcalloc(si->n ? si->n : 1, sizeof(*m->folders));
	for (size_t i = 0; i < si->n; i++) {
		const struct folders_folder *sf = &si->folders[i];
		struct sync_folder *f;

		if (map[i].by == FOLDERS_BY_LEFT_OUT || map[i].by == FOLDERS_BY_FOREIGN) {
			cJSON *x = cJSON_CreateObject();

			cJSON_AddStringToObject(x, "source", sf->name);
			cJSON_AddStringToObject(x, "reason",
			    map[i].by == FOLDERS_BY_LEFT_OUT ? "plan" : "foreign_namespace");
			cJSON_AddItemToArray(left, x);
			continue;
		}
		if (!sf->has_status || (sf->flags & (FOLDERS_F_NOSELECT | FOLDERS_F_NONEXISTENT)) ||
		    map[i].dst_raw == NULL)
			continue;
		if (o->n_folders > 0 && !sync_glob_any(o->folders, o->n_folders, sf->name))
			continue;
		if (o->n_exclude > 0 && sync_glob_any(o->exclude, o->n_exclude, sf->name))
			continue;
		f = &m->folders[m->n_folders++];
		f->src_raw = xstrdup(sf->raw_name);
		f->src_name = xstrdup(sf->name);
		f->has_status = sf->has_status;
		f->st_uidnext = sf->uidnext;
		f->st_uidvalidity = sf->uidvalidity;
		f->st_messages = sf->messages;
		f->dst_raw = xstrdup(map[i].dst_raw);
		f->dst_name = xstrdup(map[i].dst_name);
		f->how = folders_by_str(map[i].by);
		f->rewritten = map[i].rewritten;
		if (map[i].dst != (size_t)-1) {
			f->exists = 1;
		} else {
			for (size_t j = 0; j < di->n; j++) {
				if (strcmp(di->folders[j].raw_name, f->dst_raw) == 0 ||
				    (util_strieq(f->dst_raw, "INBOX") &&
				        util_strieq(di->folders[j].raw_name, "INBOX"))) {
					f->exists = 1;
					if (di->folders[j].flags &
					    (FOLDERS_F_NOSELECT | FOLDERS_F_NONEXISTENT))
						f->exists =
						    0; /* a hierarchy node: make it a folder */
					break;
				}
			}
			if (!f->exists)
				f->create = 1;
			else if (map[i].by == FOLDERS_BY_NEW)
				f->how = "name"; /* already there (another folder maps to it too) */
			if (f->rewritten)
				m->rewritten++;
		}
		f->subscribed = di->subscriptions && mbox_dst_subscribed(di, f->dst_raw);
		f->subscribe = si->subscriptions && (sf->flags & FOLDERS_F_SUBSCRIBED) &&
		    !f->subscribed && !util_strieq(f->dst_raw, "INBOX");
		if (f->subscribe && o->dry_run)
			f->subscribed = 1; /* would be */
	}
	folders_mapping_free(map, si->n);
	qsort(m->folders, m->n_folders, sizeof(*m->folders), sync_special_cmp);
	/* CREATE the missing folders and SUBSCRIBE, pipelined; parents come first
	 * in name order and RFC 3501 6.3.3 has servers create missing superiors
	 * anyway. A folder's SUBSCRIBE follows its CREATE. */
	if (!o->dry_run) {
		for (size_t i = 0; i < m->n_folders; i++) {
			struct sync_folder *f = &m->folders[i];
			struct sync_create *cr;
			struct imap_cmd *cmd;

			if (f->create) {
				cr = xcalloc(1, sizeof(*cr));
				cr->m = m;
				cr->f = f;
				cmd = imap_cmd_new(m->dst, "CREATE");
				imap_cmd_string(cmd, f->dst_raw, strlen(f->dst_raw), 0);
				m->creates++;
				imap_cmd_send(cmd, NULL, mbox_create_cb, cr);
			}
			if (f->subscribe) {
				cr = xcalloc(1, sizeof(*cr));
				cr->m = m;
				cr->f = f;
				cmd = imap_cmd_new(m->dst, "SUBSCRIBE");
				imap_cmd_string(cmd, f->dst_raw, strlen(f->dst_raw), 0);
				m->creates++;
				imap_cmd_send(cmd, NULL, mbox_subscribe_cb, cr);
			}
		}
	}
	if (m->creates == 0)
		mbox_plan(m);
}

static void
mbox_listed(struct folders_job *job, void *aux)
{
	struct sync_mbox *m = aux;
	const char *err = folders_job_error(job);

	sync_touch(m);
	if (m->fatal != NULL || m->finished)
		return;
	if (err != NULL) {
		mbox_fatal(m, "listing the %s folders: %s",
		    job == m->sjob ? "source" : "destination", err);
		return;
	}
	if (--m->jobs_left > 0)
		return;
	m->sinv = folders_job_take(m->sjob);
	m->dinv = folders_job_take(m->djob);
	folders_job_free(m->sjob);
	folders_job_free(m->djob);
	m->sjob = m->djob = NULL;
	mbox_map(m);
}

static void
mbox_ready(struct imap_client *c, void *arg)
{
	struct sync_mbox *m = arg;
	struct folders_opts fo;

	sync_touch(m);
	if (imap_client_result(c) != NET_RESULT_OK) {
		m->fatal_res = imap_client_result(c);
		mbox_fatal(m, "%s login: %s", c == m->src ? "source" : "destination",
		    imap_client_error(c));
		return;
	}
	if (c == m->src)
		m->src_ready = 1;
	else
		m->dst_ready = 1;
	if (!m->src_ready || !m->dst_ready)
		return;
	memset(&fo, 0, sizeof(fo));
	fo.want = FOLDERS_WANT_STATUS | FOLDERS_WANT_SUBSCRIBED;
	m->jobs_left = 2;
	m->sjob = folders_fetch(m->src, &fo, mbox_listed, m);
	m->djob = folders_fetch(m->dst, &fo, mbox_listed, m);
}

static void
mbox_activate(struct sync_mbox *m, int on)
{
	struct sync_run *run = m->run;

	if (on && !m->active) {
		m->act_prev = NULL;
		m->act_next = run->active;
		if (run->active != NULL)
			run->active->act_prev = m;
		run->active = m;
	} else if (!on && m->active) {
		if (m->act_prev != NULL)
			m->act_prev->act_next = m->act_next;
		else
			run->active = m->act_next;
		if (m->act_next != NULL)
			m->act_next->act_prev = m->act_prev;
	}
	m->active = on;
}

static void
mbox_start(struct task *t, void *aux)
{
	struct sync_mbox *m = aux;
	struct timeval sec = {1, 0};

	mbox_activate(m, 1);
	m->t = t;
	m->t0 = util_now_ms();
	sync_touch(m);
	m->kick = evtimer_new(sync_base(m), mbox_kick_cb, m);
	m->watchdog = event_new(sync_base(m), -1, EV_PERSIST, mbox_watchdog_cb, m);
	if (m->kick == NULL || m->watchdog == NULL)
		abort();
	event_add(m->watchdog, &sec);
	m->src = sync_open(m, 0, mbox_ready, m);
	m->dst = sync_open(m, 1, mbox_ready, m);
}

static void
mbox_cancel(struct task *t, void *aux)
{
	struct sync_mbox *m = aux;
	struct sync_run *run = m->run;

	/* Connections close without completing an open APPEND: the server
	 * discards it; committed intents are reconciled by the next run. */
	for (int i = 0; i < m->n_workers; i++)
		if (m->workers[i].src != NULL)
			imap_client_timeout(m->workers[i].src);
	mbox_teardown(m);
	mbox_fill(m, task_result(t), 1);
	if (m->t0 != 0)
		mbox_record_pass(m, task_result(t));
	mbox_activate(m, 0);
	mbox_free_folders(m);
	free(m->pair);
	free(m->fatal);
	free(m);
	run->stats.mailboxes_done++;
	run->open_tasks--;
}

/* ================================================================ the run ===== */

/* The producer of a run's mailbox tasks (runner_add_producer). */
struct sync_producer {
	struct sync_run *run;
	uint64_t first; /* the report place of mailbox 0 (runner_reserve) */
};

/* Mailbox I's task, made when the runner has room for it: a plan of tens of
 * thousands of mailboxes does not hold them all at once. */
static void
sync_produce(struct runner *r, size_t i, void *arg)
{
	struct sync_producer *p = arg;
	struct sync_run *run = p->run;
	const struct plan *plan = run->plan;
	const struct plan_mailbox *mb = &plan->mailboxes[i];
	struct sync_mbox *m = xcalloc(1, sizeof(*m));
	struct result *res = result_new("sync.mailbox", mb->source_user, RESULT_SIDE_NONE);
	struct task *t;

	m->run = run;
	m->mb = mb;
	m->pair = xasprintf("%s\t%s", mb->source_user, mb->dest_user);
	t = runner_add_at(r, p->first + i, plan->source.imap->host, res, mbox_start, mbox_cancel, m,
	    SYNC_TASK_TIMEOUT_MS);
	/* Each worker holds one connection per side: --per-host and
	 * --concurrency count them all, and may grant fewer workers. */
	m->max_workers = task_set_footprint(
	    t, plan->destination.imap != NULL ? plan->destination.imap->host : NULL, run->o.jobs);
}

struct sync_run *
sync_schedule(struct runner *r, const struct plan *plan, const struct sync_opts *o,
    struct syncstate *st, sync_done_fn done, void *arg)
{
	struct sync_run *run = xcalloc(1, sizeof(*run));

	run->r = r;
	run->plan = plan;
	run->o = *o;
	if (run->o.jobs <= 0)
		run->o.jobs = SYNC_DEFAULT_JOBS;
	if (run->o.batch <= 0)
		run->o.batch = SYNC_DEFAULT_BATCH;
	if (run->o.batch_bytes == 0)
		run->o.batch_bytes = SYNC_DEFAULT_BATCH_BYTES;
	run->st = st;
	run->done = done;
	run->done_arg = arg;
	run->t0 = util_now_ms();
	/* Every mailbox counts from the start; its task comes when the runner
	 * asks for it (lazy scheduling, src/runner.h). */
	run->open_tasks = plan->n_mailboxes;
	run->stats.mailboxes_total = plan->n_mailboxes;
	if (plan->n_mailboxes > 0) {
		struct sync_producer *p = xcalloc(1, sizeof(*p));

		p->run = run;
		p->first = runner_reserve(r, plan->n_mailboxes);
		runner_add_producer(r, plan->n_mailboxes, sync_produce, p, free);
	}
	if (run->open_tasks == 0 && done != NULL)
		done(r, arg);
	return run;
}

const struct sync_stats *
sync_run_stats(const struct sync_run *run)
{
	return &run->stats;
}

int
sync_gave_up(const struct sync_run *run, const struct plan_mailbox *mb)
{
	for (size_t i = 0; run != NULL && i < run->n_gave_up; i++)
		if (run->gave_up[i] == mb)
			return 1;
	return 0;
}

void
sync_run_free(struct sync_run *run)
{
	if (run == NULL)
		return;
	for (size_t i = 0; i < run->n_notes; i++) {
		free(run->notes[i].user);
		free(run->notes[i].src_raw);
	}
	free(run->notes);
	free(run->gave_up);
	free(run);
}

int
sync_run_synced(
    const struct sync_run *run, const char *source_user, const char *src_raw, uint64_t *allowed)
{
	*allowed = 0;
	if (run == NULL)
		return 0;
	for (size_t i = 0; i < run->n_notes; i++) {
		if (strcmp(run->notes[i].user, source_user) == 0 &&
		    strcmp(run->notes[i].src_raw, src_raw) == 0) {
			*allowed = run->notes[i].allowed;
			return 1;
		}
	}
	return 0;
}

size_t
sync_run_in_flight(const struct sync_run *run, char *buf, size_t len)
{
	size_t n = 0, o = 0;

	if (len > 0)
		buf[0] = '\0';
	for (const struct sync_mbox *a = run->active; a != NULL; a = a->act_next) {
		const char *u = a->mb->source_user;
		size_t ul = strlen(u);

		if (o + ul + 6 < len) {
			o += (size_t)snprintf(buf + o, len - o, "%s%s", n > 0 ? ", " : "", u);
		} else if (o + 4 < len && (o < 3 || strcmp(buf + o - 3, "...") != 0)) {
			o += (size_t)snprintf(buf + o, len - o, "...");
		}
		n++;
	}
	return n;
}
