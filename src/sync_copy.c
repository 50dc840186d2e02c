/*
 * sync_copy.c - the streaming copy. Bodies stream from the source
 * FETCH into APPEND batches on the destination; it keeps I1 (batch_close)
 * and I2 (batch_done, copy_check_done): see the top of sync.c.
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

static void copy_pump(struct sync_worker *w);
static void batch_untagged(struct imap_client *c, const struct imap_response *r, void *arg);

/* ================================================================ run-wide rate ===== */

/* Milliseconds to wait before more may be read to honour --max-rate. */
int64_t
sync_rate_wait(struct sync_run *run)
{
	double need = 0, el = (double)(util_now_ms() - run->t0) / 1000.0;

	if (run->o.max_msgs > 0)
		need = (double)run->rate_msgs / run->o.max_msgs;
	if (run->o.max_bytes > 0 && (double)run->rate_bytes / run->o.max_bytes > need)
		need = (double)run->rate_bytes / run->o.max_bytes;
	return need > el ? (int64_t)((need - el) * 1000.0) + 1 : 0;
}

/* ================================================================ flow control ===== */

static int
flow_need_pause(struct sync_worker *w, int64_t *wait_ms)
{
	*wait_ms = sync_rate_wait(w->m->run);
	if (*wait_ms > 0)
		return 1;
	if (w->dst == NULL)
		return 0;
	if (net_output_len(imap_client_conn(w->dst)) > SYNC_OUT_HIGH)
		return 1;
	if (w->open != NULL && w->open->cmd != NULL && imap_cmd_blocked(w->open->cmd))
		return 1;
	return 0;
}

static void
flow_arm(struct sync_worker *w, int64_t ms)
{
	struct timeval tv;

	if (ms < 2)
		ms = 2;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(w->flow, &tv);
}

static void
flow_check(struct sync_worker *w)
{
	int64_t wait_ms;

	if (w->src == NULL || w->failing)
		return;
	if (flow_need_pause(w, &wait_ms)) {
		if (!w->paused) {
			net_read_enable(imap_client_conn(w->src), 0);
			w->paused = 1;
		}
		flow_arm(w, wait_ms);
		return;
	}
	if (w->paused) {
		w->paused = 0;
		evtimer_del(w->flow);
		net_read_enable(imap_client_conn(w->src), 1);
	}
}

void
flow_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	flow_check(arg);
}

void
flow_drain_cb(void *arg)
{
	struct sync_worker *w = arg;

	if (w->paused)
		flow_check(w);
}

/* ================================================================ sink ===== */

static int sync_sink(
    void *arg, const char *data, size_t len, uint64_t off, uint64_t total, int first);

void
worker_sink_mode(struct sync_worker *w, struct imap_client *c, enum sync_sink_mode mode)
{
	w->sink = mode;
	if (mode == SINK_NONE)
		imap_parser_set_sink(imap_client_parser(c), 0, NULL, NULL);
	else
		imap_parser_set_sink(imap_client_parser(c), 0, sync_sink, w);
}

struct sync_msg *
worker_find_msg(struct sync_worker *w, uint32_t uid)
{
	size_t lo = 0, hi = w->n_msgs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (w->msgs[mid].uid == uid)
			return &w->msgs[mid];
		if (w->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Open a new APPEND command on the destination (RFC 3501 6.3.11, RFC 3502). */
static struct sync_batch *
batch_open(struct sync_worker *w)
{
	struct sync_batch *b = xcalloc(1, sizeof(*b));
	struct imap_cmd *cmd;

	if (w->dst == NULL || imap_client_state(w->dst) != IMAP_S_READY) {
		free(b);
		return NULL;
	}
	b->w = w;
	b->uidnext_lb = w->dst_uidnext;
	cmd = imap_cmd_new(w->dst, "APPEND");
	imap_cmd_string(cmd, w->f->dst_raw, strlen(w->f->dst_raw), 0);
	b->cmd = cmd;
	return b;
}

/*
 * I1: commit the intents of the open batch, then complete its APPEND.
 * Returns -1 (worker failing) when the state could not be written.
 */
int
batch_close(struct sync_worker *w)
{
	struct sync_batch *b = w->open, **pp;
	struct syncstate *st = w->m->run->st;
	int rc = 0;

	w->open = NULL;
	if (b == NULL)
		return 0;
	if (b->cmd == NULL) { /* answered early: already accounted for */
		batch_free(b);
		return 0;
	}
	rc = syncstate_begin(st);
	for (size_t i = 0; rc == 0 && i < b->n; i++) {
		struct sync_msg *m = &w->msgs[b->idx[i]];
		struct syncstate_msg sm = sync_intent_row(
		    m->uid, m->size, m->sha, m->msgid, w->dst_uidvalidity, b->uidnext_lb);

		/* The flags appended: both sides' base for the next pass's merge. */
		sm.src_flags = sm.dst_flags = sync_flags_of_paren(m->flags);
		rc = syncstate_put(st, w->sf.id, &sm);
		free(sm.src_flags);
	}
	if (rc == 0)
		rc = syncstate_commit(st);
	if (rc != 0) {
		(void)syncstate_rollback(st);
		worker_fail(w, 0, 0, "cannot record the copy in %s: %s", syncstate_path(st),
		    syncstate_error(st));
		batch_free(b);
		return -1;
	}
	b->closed = 1;
	for (pp = &w->inflight; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = b;
	imap_cmd_close(b->cmd);
	return 0;
}

/* Start streaming message M (TOTAL bytes) into the open APPEND. */
static int
copy_begin(struct sync_worker *w, struct sync_msg *m, uint64_t total)
{
	struct sync_batch *b = w->open;
	char *pre;

	if (b != NULL && b->cmd == NULL) {
		/* The server answered that APPEND before it was complete. */
		batch_free(b);
		w->open = b = NULL;
	}
	if (b == NULL) {
		b = batch_open(w);
		if (b == NULL) {
			worker_fail(w, 1, 0, "the destination connection is gone: %s",
			    w->dst != NULL ? imap_client_error(w->dst) : "closed");
			return -1;
		}
		w->open = b;
		imap_cmd_send_open(b->cmd, batch_untagged, batch_done, b);
	}
	/* RFC 3502: append-message = SP [flag-list SP] [date-time SP] literal */
	pre = xasprintf(" %s%s%s%s ", m->flags, m->date != NULL ? " \"" : "",
	    m->date != NULL ? m->date : "", m->date != NULL ? "\"" : "");
	imap_cmd_write(b->cmd, pre, strlen(pre));
	free(pre);
	imap_cmd_literal(b->cmd, total);
	m->size = total;
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		b->idx = xrealloc(b->idx, b->cap * sizeof(*b->idx));
	}
	b->idx[b->n++] = (size_t)(m - w->msgs);
	m->st = M_BATCH;
	EVP_DigestInit_ex(w->md, EVP_sha256(), NULL);
	w->cur = m;
	w->cur_live = 1;
	return 0;
}

/* The destination's EXISTS as its APPEND answers announce it (RFC 3501
 * 7.3.1, 7.4.1): I4's count after the pass (worker_check) needs it, the NOOP
 * there repeats nothing already announced. */
static void
batch_untagged(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_batch *b = arg;

	(void)c;
	if (r->keyword == NULL || !r->has_number)
		return;
	if (util_strieq(r->keyword, "EXISTS"))
		b->w->dst_exists = r->number;
	else if (util_strieq(r->keyword, "EXPUNGE") && b->w->dst_exists > 0)
		b->w->dst_exists--;
}

static void
copy_end(struct sync_worker *w)
{
	struct sync_msg *m = w->cur;
	struct sync_run *run = w->m->run;
	struct sync_batch *b = w->open;
	int multi =
	    w->dst != NULL && imap_client_has_cap(w->dst, "MULTIAPPEND") && !run->o.no_multiappend;
	size_t max = multi ? (size_t)run->o.batch : 1;

	EVP_DigestFinal_ex(w->md, m->sha, NULL);
	w->cur = NULL;
	w->cur_live = 0;
	run->rate_msgs++;
	if (b == NULL)
		return;
	b->bytes += m->size;
	if (b->n >= max || b->bytes >= run->o.batch_bytes)
		(void)batch_close(w);
}

static void
hash_end(struct sync_worker *w)
{
	EVP_DigestFinal_ex(w->md, w->cur_cand->sha, NULL);
	w->cur_cand->hashed = 1;
	w->cur_cand = NULL;
}

static int
sync_sink(void *arg, const char *data, size_t len, uint64_t off, uint64_t total, int first)
{
	struct sync_worker *w = arg;

	if (w->failing)
		return -1;
	/* Progress is a message started or ended, or SYNC_DRIP_BYTES moved: a
	 * body dripped a byte at a time does not keep the watchdog away. */
	w->m->drip += len;
	if (first || off + len == total || w->m->drip >= SYNC_DRIP_BYTES) {
		w->m->drip = 0;
		sync_touch(w->m);
	}
	if (w->sink == SINK_HASH) {
		if (first) {
			size_t plen;
			const char *pre = imap_parser_partial(
			    imap_client_parser(
			        w->ph == W_RECONCILE || w->ph == W_CHECK ? w->dst : w->src),
			    &plen);
			uint32_t uid = sync_prefix_uid(pre, plen);

			w->cur_cand = NULL;
			for (size_t i = 0; i < w->n_cands; i++) {
				struct sync_cand *c = &w->cands[i];

				if (!c->hashed && (uid != 0 ? c->uid == uid : i >= w->next_cand)) {
					w->cur_cand = c;
					w->next_cand = i + 1;
					break;
				}
			}
			if (w->cur_cand != NULL)
				EVP_DigestInit_ex(w->md, EVP_sha256(), NULL);
		}
		if (w->cur_cand != NULL) {
			EVP_DigestUpdate(w->md, data, len);
			if (off + len == total)
				hash_end(w);
		}
		return 0;
	}
	if (w->sink != SINK_COPY)
		return 0;
	if (first) {
		size_t plen;
		const char *pre = imap_parser_partial(imap_client_parser(w->src), &plen);
		uint32_t uid = sync_prefix_uid(pre, plen);
		struct sync_msg *m = NULL;

		if (uid != 0) {
			m = worker_find_msg(w, uid);
		} else {
			/* No UID before the body: the next one requested, in order. */
			while (w->next_expect < w->next_req && w->msgs[w->next_expect].st != M_NEW)
				w->next_expect++;
			if (w->next_expect < w->next_req)
				m = &w->msgs[w->next_expect];
		}
		w->cur = NULL;
		w->cur_live = 0;
		if (m != NULL && m->st == M_NEW && copy_begin(w, m, total) != 0)
			return -1;
	}
	if (w->cur != NULL && w->open != NULL && w->open->cmd != NULL) {
		if (len > 0) {
			imap_cmd_write(w->open->cmd, data, len);
			EVP_DigestUpdate(w->md, data, len);
		}
		w->m->run->rate_bytes += len;
		if (off + len == total)
			copy_end(w);
	} else if (w->cur != NULL && off + len == total) {
		/* The APPEND was answered early: this message failed with it. */
		w->cur = NULL;
	}
	flow_check(w);
	return 0;
}

/* ================================================================ APPEND results ===== */

/* sync_watermark's view of the pass: settled states (I2). EXPUNGED_OK also
 * settles M_NEW: at the end of a pass whose body FETCHes all succeeded, a
 * message still new was expunged by the server meanwhile. */
struct wm_view {
	const struct sync_msg *msgs;
	int expunged_ok;
};

static int
wm_mark(const void *ctx, size_t i, uint32_t *uid)
{
	const struct wm_view *v = ctx;
	enum sync_msg_st st = v->msgs[i].st;

	*uid = v->msgs[i].uid;
	return st == M_DONE || st == M_FAILED || st == M_SKIP || (v->expunged_ok && st == M_NEW);
}

/* The last_uid the pass may record now (I2); 0 = no change. */
uint32_t
worker_watermark(struct sync_worker *w, int expunged_ok)
{
	struct wm_view v = {w->msgs, expunged_ok};

	if (w->wm_hold)
		return 0; /* an earlier chunk of the listing left one unsettled */
	return sync_watermark(&v, w->n_msgs, wm_mark, &w->wm_cursor);
}

void
batch_done(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_batch *b = arg, **pp;
	struct sync_worker *w = b->w;
	struct sync_folder *f = w->f;
	struct syncstate *st = w->m->run->st;
	const char *rest = NULL;
	uint32_t *uids = NULL, max_uid = 0, dst_uv = w->dst_uidvalidity;
	int n_uids = -1, rc;

	(void)c;
	b->cmd = NULL;
	if (r == NULL) {
		/* The connection failed: intents stay and are reconciled. */
		worker_fail(w, 1, 0, "APPEND to %s: %s", f->dst_name,
		    w->dst != NULL ? imap_client_error(w->dst) : "connection closed");
		return;
	}
	sync_touch(w->m);
	if (!b->closed) {
		/* Answered before we completed it: nothing of it was appended, and
		 * it has no rows: open until the next pass copies it (I2). */
		for (size_t i = 0; i < b->n; i++)
			w->msgs[b->idx[i]].st = M_LOST;
		if (sync_throttled(w, r))
			return;
		f->errors += b->n;
		{
			char *e = xasprintf("APPEND to %s refused: %s %s", f->dst_name,
			    imap_status_str(r->status), r->text);

			folder_set_error(f, e);
			free(e);
		}
		return;
	}
	for (pp = &w->inflight; *pp != NULL && *pp != b; pp = &(*pp)->next)
		;
	if (*pp == b)
		*pp = b->next;
	if (r->status == IMAP_ST_OK && imap_code_is(r, "APPENDUID", &rest)) {
		/* RFC 4315 section 3: APPENDUID uidvalidity uid-set */
		const char *sp = strchr(rest, ' ');

		if (sp != NULL && sync_parse_u32(rest, &dst_uv) == 0) {
			uids = xcalloc(b->n ? b->n : 1, sizeof(*uids));
			n_uids = sync_uid_set(sp + 1, uids, b->n);
		}
	}
	if (r->status != IMAP_ST_OK && sync_throttled(w, r)) {
		/* Nothing was appended (RFC 3502: all or none): drop the intents;
		 * the messages stay open (I2) for the retry to copy. */
		if (syncstate_begin(st) == 0) {
			for (size_t i = 0; i < b->n; i++)
				(void)syncstate_drop(st, w->sf.id, w->msgs[b->idx[i]].uid);
			(void)syncstate_commit(st);
		}
		for (size_t i = 0; i < b->n; i++)
			w->msgs[b->idx[i]].st = M_LOST;
		free(uids);
		batch_free(b);
		return;
	}
	/* The batch's messages settle in memory first: the watermark (I2) is
	 * written in the same transaction as their rows. */
	for (size_t i = 0; i < b->n; i++)
		w->msgs[b->idx[i]].st = r->status == IMAP_ST_OK ? M_DONE : M_FAILED;
	max_uid = worker_watermark(w, 0);
	rc = syncstate_begin(st);
	for (size_t i = 0; rc == 0 && i < b->n; i++) {
		struct sync_msg *m = &w->msgs[b->idx[i]];

		if (r->status == IMAP_ST_OK)
			rc = syncstate_done(
			    st, w->sf.id, m->uid, dst_uv, n_uids == (int)b->n ? uids[i] : 0);
		else
			rc = syncstate_failed(st, w->sf.id, m->uid);
	}
	if (rc == 0 && max_uid > 0)
		rc = syncstate_set_last_uid(st, w->sf.id, max_uid); /* I2 */
	if (rc == 0)
		rc = syncstate_commit(st);
	if (rc != 0) {
		(void)syncstate_rollback(st);
		worker_fail(w, 0, 0, "cannot record the copy in %s: %s", syncstate_path(st),
		    syncstate_error(st));
		free(uids);
		batch_free(b);
		return;
	}
	for (size_t i = 0; i < b->n; i++) {
		struct sync_msg *m = &w->msgs[b->idx[i]];

		if (r->status == IMAP_ST_OK) {
			f->copied++;
			f->bytes += m->size;
			w->m->run->stats.msgs_done++;
			w->m->run->stats.bytes_done += m->size;
		} else {
			f->errors++;
		}
	}
	if (r->status != IMAP_ST_OK) {
		char *e = xasprintf("APPEND of %zu message(s) to %s refused: %s %s%s%s%s", b->n,
		    f->dst_name, imap_status_str(r->status), r->code != NULL ? "[" : "",
		    r->code != NULL ? r->code : "", r->code != NULL ? "] " : "", r->text);

		folder_set_error(f, e);
		free(e);
	}
	if (n_uids > 0 && uids[n_uids - 1] + 1 > w->dst_uidnext)
		w->dst_uidnext = uids[n_uids - 1] + 1;
	free(uids);
	batch_free(b);
	copy_check_done(w);
}

/* ================================================================ copy ===== */

static void
copy_fetch_done(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_worker *w = arg;

	(void)c;
	if (r == NULL) {
		worker_fail(w, 1, 0, "FETCH from %s: %s", w->f->src_name,
		    w->src != NULL ? imap_client_error(w->src) : "connection closed");
		return;
	}
	w->fetches--;
	if (sync_throttled(w, r))
		return;
	if (r->status != IMAP_ST_OK) {
		char *e = xasprintf(
		    "FETCH in %s: %s %s", w->f->src_name, imap_status_str(r->status), r->text);

		folder_set_error(w->f, e);
		free(e);
		w->fetch_errors++;
	}
	copy_pump(w);
}

/* Keep SYNC_FETCH_WINDOW body fetches in flight; close the last batch at the end. */
static void
copy_pump(struct sync_worker *w)
{
	if (w->failing)
		return;
	while (w->fetches < SYNC_FETCH_WINDOW && w->next_req < w->n_msgs) {
		uint32_t *uids = xcalloc(SYNC_FETCH_MSGS, sizeof(*uids));
		size_t n = 0, taken = 0, start = w->next_req;
		uint64_t bytes = 0;
		struct imap_cmd *cmd;
		char *set;

		while (w->next_req < w->n_msgs && n < SYNC_FETCH_MSGS && bytes < SYNC_FETCH_BYTES) {
			struct sync_msg *m = &w->msgs[w->next_req];

			if (m->st == M_NEW) {
				uids[n++] = m->uid;
				bytes += m->size;
			}
			w->next_req++;
		}
		if (n == 0) {
			free(uids);
			continue;
		}
		set = sync_set_str(uids, n, &taken);
		if (taken < n) {
			/* The set got too long: request the rest next time. */
			size_t k = start;

			for (size_t left = taken; k < w->n_msgs; k++) {
				if (w->msgs[k].st != M_NEW)
					continue;
				if (left == 0)
					break;
				left--;
			}
			w->next_req = k;
		}
		free(uids);
		cmd = imap_cmd_new(w->src, "UID FETCH");
		imap_cmd_atom(cmd, set);
		imap_cmd_atom(cmd, "(UID BODY.PEEK[])");
		free(set);
		w->fetches++;
		imap_cmd_send(cmd, NULL, copy_fetch_done, w);
	}
	copy_check_done(w);
}

void
copy_check_done(struct sync_worker *w)
{
	if (w->failing || w->ph != W_COPY)
		return;
	if (w->fetches > 0 || w->next_req < w->n_msgs)
		return;
	if (w->cur != NULL)
		return;
	if (w->open != NULL && batch_close(w) != 0)
		return;
	if (w->inflight != NULL)
		return;
	worker_finish(w);
}

void
worker_copy(struct sync_worker *w)
{
	w->ph = W_COPY;
	worker_sink_mode(w, w->src, SINK_COPY);
	copy_pump(w);
}
