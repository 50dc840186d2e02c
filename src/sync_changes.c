/*
 * sync_changes.c - the source's changes since the last pass (issue 15):
 * three-way flags, deletions.
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

/* ================================================================ changes since the last pass
 * ===== */

/*
 * The tagged answer R on C to a command of the changes or check steps:
 * 1 when it is OK. Otherwise 0, and the worker fails (retried when the
 * connection broke) or backs off (throttled). WHAT names the command.
 */
int
worker_answer_ok(
    struct sync_worker *w, struct imap_client *c, const struct imap_response *r, const char *what)
{
	const char *folder = c == w->dst ? w->f->dst_name : w->f->src_name;

	if (w->failing)
		return 0;
	if (r == NULL) {
		worker_fail(w, 1, 0, "%s in %s: %s", what, folder,
		    c != NULL ? imap_client_error(c) : "connection closed");
		return 0;
	}
	if (sync_throttled(w, r))
		return 0;
	if (r->status != IMAP_ST_OK) {
		worker_fail(w, 0, 0, "%s in %s failed: %s %s", what, folder,
		    imap_status_str(r->status), r->text);
		return 0;
	}
	return 1;
}

/* A message's flags as one side lists them now: UID and flag set. */
struct sync_fl {
	uint32_t uid;
	char *set;
};

static int
sync_fl_cmp(const void *a, const void *b)
{
	const struct sync_fl *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static struct sync_fl *
sync_fl_find(struct sync_fl *v, size_t n, uint32_t uid)
{
	struct sync_fl key = {uid, NULL};

	return n > 0 ? bsearch(&key, v, n, sizeof(*v), sync_fl_cmp) : NULL;
}

static void
sync_fl_free(struct sync_fl **v, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*v)[i].set);
	free(*v);
	*v = NULL;
	*n = 0;
}

/* Forget the changes step's data. */
void
changes_reset(struct sync_worker *w)
{
	syncstate_msgs_free(w->crow, w->n_crow_all);
	w->crow = NULL;
	w->n_crow = w->n_crow_all = 0;
	for (size_t i = 0; i < w->n_bases; i++) {
		free(w->bases[i].bs);
		free(w->bases[i].bd);
	}
	free(w->bases);
	w->bases = NULL;
	w->n_bases = 0;
	free(w->gone);
	free(w->gone_src);
	w->gone = w->gone_src = NULL;
	w->n_gone = 0;
	free(w->both_gone);
	w->both_gone = NULL;
	w->n_both_gone = 0;
	w->gone_step = 0;
	w->changes_failed = 0;
	w->chg_updated = w->chg_conflicts = 0;
	w->chg_since = 0;
	sync_fl_free(&w->sfl, &w->n_sfl);
	sync_fl_free(&w->dfl, &w->n_dfl);
	w->cap_sfl = w->cap_dfl = 0;
}

/* The flag set of "(\\Seen $Label1)" (what APPEND took). Caller frees. */
char *
sync_flags_of_paren(const char *s)
{
	const char *v[128];
	char *copy = xstrdup(s), *p = copy, *out;
	size_t n = 0;

	while (*p != '\0' && n < UTIL_ARRAY_LEN(v)) {
		while (*p == '(' || *p == ')' || *p == ' ')
			*p++ = '\0';
		if (*p == '\0')
			break;
		v[n++] = p;
		while (*p != '\0' && *p != ' ' && *p != ')')
			p++;
	}
	out = syncflags_norm(v, n);
	free(copy);
	return out;
}

/* FETCH (UID FLAGS) responses of either side into its list. */
static void
changes_untagged(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_worker *w = arg;
	int dst = c == w->dst;
	uint32_t uid = 0;
	const struct imap_arg *flags = NULL;
	const char *v[128];
	size_t n = 0;
	struct sync_fl **list = dst ? &w->dfl : &w->sfl;
	size_t *cnt = dst ? &w->n_dfl : &w->n_sfl, *cap = dst ? &w->cap_dfl : &w->cap_sfl;

	sync_touch(w->m);
	if (r->keyword == NULL || !util_strieq(r->keyword, "FETCH") || r->args == NULL ||
	    r->args->type != IMAP_ARG_LIST)
		return;
	for (const struct imap_arg *a = r->args->list; a != NULL && a->next != NULL;
	     a = a->next->next) {
		if (imap_arg_is(a, "UID") && a->next->type == IMAP_ARG_ATOM)
			(void)sync_parse_u32(a->next->str, &uid);
		else if (imap_arg_is(a, "FLAGS") && a->next->type == IMAP_ARG_LIST)
			flags = a->next;
	}
	if (uid == 0 || flags == NULL)
		return; /* not what we asked for: nothing to act on */
	for (const struct imap_arg *f = flags->list; f != NULL && n < UTIL_ARRAY_LEN(v);
	     f = f->next)
		if (f->type == IMAP_ARG_ATOM)
			v[n++] = f->str;
	if (*cnt == *cap) {
		*cap = *cap ? *cap * 2 : 256;
		*list = xrealloc(*list, *cap * sizeof(**list));
	}
	(*list)[*cnt].uid = uid;
	(*list)[(*cnt)++].set = syncflags_norm(v, n);
}

/* Keep the flags of SET the destination folder keeps (PERMANENTFLAGS). */
static char *
changes_keepable(struct sync_worker *w, const char *set)
{
	const char *v[128];
	char *copy = xstrdup(set), *p = copy, *out;
	size_t n = 0;

	while (*p != '\0' && n < UTIL_ARRAY_LEN(v)) {
		char *e = p + strcspn(p, " ");

		if (*e != '\0')
			*e++ = '\0';
		if (meta_flag_ok(w, p))
			v[n++] = p;
		p = e;
	}
	out = syncflags_norm(v, n);
	free(copy);
	return out;
}

static void changes_store_done(struct imap_client *c, const struct imap_response *r, void *arg);
static void changes_next(struct sync_worker *w);
static void changes_record(struct sync_worker *w);

/* UID STORE UIDS[0..N) (sorted) OP (SET) in commands of bounded length. */
static void
changes_store(struct sync_worker *w, uint32_t *uids, size_t n, const char *op, const char *set)
{
	size_t off = 0;

	qsort(uids, n, sizeof(*uids), sync_cmp_u32);
	while (off < n) {
		size_t taken;
		char *s = sync_set_str(uids + off, n - off, &taken);
		char *fl = xasprintf("(%s)", set);
		struct imap_cmd *cmd = imap_cmd_new(w->dst, "UID STORE");

		imap_cmd_atom(cmd, s);
		imap_cmd_atom(cmd, op);
		imap_cmd_atom(cmd, fl); /* every element passed syncflags_ok */
		free(s);
		free(fl);
		w->pending++;
		imap_cmd_send(cmd, NULL, changes_store_done, w);
		off += taken;
	}
}

/* One change to apply: the destination UID and the flags to add / remove. */
struct sync_chg {
	uint32_t dst_uid;
	char *set;
};

static int
sync_chg_cmp(const void *a, const void *b)
{
	const struct sync_chg *x = a, *y = b;
	int c = strcmp(x->set, y->set);

	return c != 0 ? c : (x->dst_uid < y->dst_uid ? -1 : x->dst_uid > y->dst_uid);
}

/* STOREs grouped by flag set: one command (or a few) per distinct set. */
static void
changes_store_groups(struct sync_worker *w, struct sync_chg *v, size_t n, const char *op)
{
	uint32_t *uids = xcalloc(n ? n : 1, sizeof(*uids));
	size_t i = 0;

	qsort(v, n, sizeof(*v), sync_chg_cmp);
	while (i < n) {
		size_t k = 0, j = i;

		while (j < n && strcmp(v[j].set, v[i].set) == 0)
			uids[k++] = v[j++].dst_uid;
		changes_store(w, uids, k, op, v[i].set);
		i = j;
	}
	free(uids);
	for (size_t t = 0; t < n; t++)
		free(v[t].set);
	free(v);
}

static void
changes_expunge_done(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_worker *w = arg;

	(void)c;
	if (w->failing)
		return;
	if (r == NULL || r->status != IMAP_ST_OK) {
		w->changes_failed = 1;
		folder_set_error(w->f,
		    r == NULL ? "UID EXPUNGE: connection closed"
		              : "UID EXPUNGE refused by the destination");
	}
	if (--w->pending == 0)
		changes_record(w);
}

static void
changes_store_done(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_worker *w = arg;

	(void)c;
	if (w->failing)
		return;
	if (r == NULL) {
		worker_fail(w, 1, 0, "STORE in %s: %s", w->f->dst_name,
		    w->dst != NULL ? imap_client_error(w->dst) : "connection closed");
		return;
	}
	if (sync_throttled(w, r))
		return;
	if (r->status != IMAP_ST_OK) {
		char *e = xasprintf("STORE in %s refused: %s %s", w->f->dst_name,
		    imap_status_str(r->status), r->text);

		folder_set_error(w->f, e);
		free(e);
		w->changes_failed = 1;
	}
	if (--w->pending == 0)
		changes_next(w);
}

/* After the flag STOREs: the deletions (one STORE \Deleted, then UID
 * EXPUNGE of exactly those UIDs: RFC 4315 2.1, never a plain EXPUNGE that
 * would take mail the user marked), then the record. */
static void
changes_next(struct sync_worker *w)
{
	size_t off = 0;

	if (w->n_gone == 0 || w->changes_failed || w->gone_step != 0) {
		changes_record(w);
		return;
	}
	w->gone_step = 1;
	changes_store(w, w->gone, w->n_gone, "+FLAGS.SILENT", "\\Deleted");
	while (off < w->n_gone) {
		size_t taken;
		char *s = sync_set_str(w->gone + off, w->n_gone - off, &taken);
		struct imap_cmd *cmd = imap_cmd_new(w->dst, "UID EXPUNGE");

		imap_cmd_atom(cmd, s);
		free(s);
		w->pending++;
		imap_cmd_send(cmd, NULL, changes_expunge_done, w);
		off += taken;
	}
}

/* Everything answered: record the new flag bases and the deletions, then
 * check the folder (I4). */
static void
changes_record(struct sync_worker *w)
{
	struct syncstate *st = w->m->run->st;
	struct sync_folder *f = w->f;
	int rc;

	rc = syncstate_begin(st);
	for (size_t i = 0; rc == 0 && !w->changes_failed && i < w->n_bases; i++)
		rc = syncstate_set_flags(
		    st, w->sf.id, w->bases[i].src_uid, w->bases[i].bs, w->bases[i].bd);
	for (size_t i = 0; rc == 0 && !w->changes_failed && w->gone_step == 1 && i < w->n_gone; i++)
		rc = syncstate_drop(st, w->sf.id, w->gone_src[i]);
	for (size_t i = 0; rc == 0 && !w->changes_failed && i < w->n_both_gone; i++)
		rc = syncstate_drop(st, w->sf.id, w->both_gone[i]);
	if (rc == 0)
		rc = syncstate_commit(st);
	if (rc != 0) {
		(void)syncstate_rollback(st);
		worker_fail(
		    w, 0, 0, "cannot update %s: %s", syncstate_path(st), syncstate_error(st));
		return;
	}
	if (!w->changes_failed) {
		f->flags_updated += w->chg_updated;
		f->conflicts += w->chg_conflicts;
		if (w->gone_step == 1)
			f->deleted += w->n_gone;
		w->chg_settled = 1;
	} else {
		f->errors++;
	}
	changes_reset(w);
	worker_check(w);
}

/* Both sides listed: merge every copied message's flags, find what the
 * source no longer has, and send the STOREs. */
static void
changes_apply(struct sync_worker *w)
{
	struct sync_chg *add = NULL, *rem = NULL;
	size_t n_add = 0, n_rem = 0;
	int may_delete = w->m->run->o.delete_vanished && imap_client_has_cap(w->dst, "UIDPLUS");

	if (w->n_sfl > 1)
		qsort(w->sfl, w->n_sfl, sizeof(*w->sfl), sync_fl_cmp);
	if (w->n_dfl > 1)
		qsort(w->dfl, w->n_dfl, sizeof(*w->dfl), sync_fl_cmp);
	w->bases = xcalloc(w->n_crow ? w->n_crow : 1, sizeof(*w->bases));
	w->gone = xcalloc(w->n_crow ? w->n_crow : 1, sizeof(*w->gone));
	w->gone_src = xcalloc(w->n_crow ? w->n_crow : 1, sizeof(*w->gone_src));
	w->both_gone = xcalloc(w->n_crow ? w->n_crow : 1, sizeof(*w->both_gone));
	add = xcalloc(w->n_crow ? w->n_crow : 1, sizeof(*add));
	rem = xcalloc(w->n_crow ? w->n_crow : 1, sizeof(*rem));
	for (size_t i = 0; i < w->n_crow; i++) {
		struct syncstate_msg *row = &w->crow[i];
		struct sync_fl *s = sync_fl_find(w->sfl, w->n_sfl, row->src_uid);
		struct sync_fl *d = sync_fl_find(w->dfl, w->n_dfl, row->dst_uid);
		struct sync_fl unchanged;
		char *sk, *target, *a, *r;
		int conflict = 0;

		if (d == NULL && s == NULL && !w->chg_since) {
			/* Gone from both sides (moved on the destination by a run that
			 * was stopped before it recorded it, or deleted there too):
			 * nothing to copy or delete, the row goes. */
			w->both_gone[w->n_both_gone++] = row->src_uid;
			continue;
		}
		if (d == NULL)
			continue; /* not on the destination: the check (I4) copies it again */
		if (s == NULL && w->chg_since) {
			/* Not listed CHANGEDSINCE and still there: as at the last pass. */
			unchanged.uid = row->src_uid;
			unchanged.set = row->src_flags;
			s = &unchanged;
		}
		if (s == NULL) {
			/* Gone from the source since it was copied: deleted or moved. */
			if (may_delete) {
				w->gone[w->n_gone] = row->dst_uid;
				w->gone_src[w->n_gone++] = row->src_uid;
			} else {
				w->f->deleted_pending++;
			}
			continue;
		}
		sk = changes_keepable(w, s->set);
		target = syncflags_merge(row->src_flags != NULL ? row->src_flags : sk, sk,
		    row->dst_flags != NULL ? row->dst_flags : d->set, d->set, &conflict);
		a = syncflags_minus(target, d->set);
		r = syncflags_minus(d->set, target);
		if (*a != '\0') {
			add[n_add].dst_uid = row->dst_uid;
			add[n_add++].set = a;
		} else {
			free(a);
		}
		if (*r != '\0') {
			rem[n_rem].dst_uid = row->dst_uid;
			rem[n_rem++].set = r;
		} else {
			free(r);
		}
		if (strcmp(target, d->set) != 0)
			w->chg_updated++;
		w->chg_conflicts += (uint64_t)conflict;
		if (row->src_flags == NULL || strcmp(row->src_flags, sk) != 0 ||
		    row->dst_flags == NULL || strcmp(row->dst_flags, target) != 0) {
			w->bases[w->n_bases].src_uid = row->src_uid;
			w->bases[w->n_bases].bs = sk;
			w->bases[w->n_bases++].bd = target;
		} else {
			free(sk);
			free(target);
		}
	}
	sync_fl_free(&w->sfl, &w->n_sfl);
	sync_fl_free(&w->dfl, &w->n_dfl);
	w->pending = 0;
	w->gone_step = 0;
	if (n_add > 0)
		changes_store_groups(w, add, n_add, "+FLAGS.SILENT");
	else
		free(add);
	if (n_rem > 0)
		changes_store_groups(w, rem, n_rem, "-FLAGS.SILENT");
	else
		free(rem);
	if (w->pending == 0)
		changes_next(w); /* no flag to change */
}

static void
changes_fetch_done(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct sync_worker *w = arg;

	if (worker_answer_ok(w, c, r, "UID FETCH FLAGS") && --w->pending == 0)
		changes_apply(w);
}

/*
 * May the source list only the flags that changed since the last settled
 * pass (CHANGEDSINCE its HIGHESTMODSEQ)? Only when a copy it does not list is
 * known to be there, unchanged: no source message below the UIDNEXT of that
 * pass is gone (they were seen_messages, and are as many now: EXISTS less
 * those that arrived since), and every copy has a recorded flag base.
 */
static int
changes_since_ok(struct sync_worker *w)
{
	uint32_t arrived = w->meta_arrived; /* listed by earlier chunks */

	if (w->sf.seen_modseq == 0 || w->src_modseq == 0 || w->sf.seen_uidnext == 0 ||
	    w->sf.last_uid >= w->sf.seen_uidnext || !imap_client_has_cap(w->src, "CONDSTORE"))
		return 0;
	for (size_t i = 0; i < w->n_crow; i++)
		if (w->crow[i].src_flags == NULL || w->crow[i].src_uid >= w->sf.seen_uidnext)
			return 0;
	for (size_t i = 0; i < w->n_msgs; i++)
		if (w->msgs[i].uid >= w->sf.seen_uidnext)
			arrived++;
	return w->src_exists >= arrived && w->src_exists - arrived == w->sf.seen_messages;
}

/*
 * Issue 15: what changed since the last pass among the messages copied
 * before. Both sides list the flags of the copies (the source: UIDs 1 to the
 * highest copied; the destination: the copies' UIDs), then changes_apply.
 */
void
worker_changes(struct sync_worker *w)
{
	struct syncstate *st = w->m->run->st;
	struct syncstate_msg *rows = NULL;
	uint32_t *uids, top = 0;
	size_t n = 0, k = 0, off = 0;
	struct imap_cmd *cmd;
	char set[32];

	w->ph = W_CHANGES;
	/* The pass began without copies (a full copy): none to read. */
	if (!w->none_done && syncstate_msgs(st, w->sf.id, SYNCSTATE_DONE, 0, &rows, &n) != 0) {
		worker_fail(w, 0, 0, "cannot read %s: %s", syncstate_path(st), syncstate_error(st));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct syncstate_msg tmp;

		/* Only copies made by earlier passes: this pass's own copies carry
		 * the flags of now (a full copy lists no flags a second time). */
		if (rows[i].dst_uidvalidity != w->dst_uidvalidity || rows[i].dst_uid == 0)
			continue;
		if (worker_copied_now(w, rows[i].src_uid))
			continue;
		tmp = rows[k];
		rows[k++] = rows[i];
		rows[i] = tmp;
		if (rows[k - 1].src_uid > top)
			top = rows[k - 1].src_uid;
	}
	w->crow = rows;
	w->n_crow = k;
	w->n_crow_all = n;
	if (k == 0) {
		changes_reset(w);
		w->chg_settled = 1;
		worker_check(w);
		return;
	}
	worker_sink_mode(w, w->src, SINK_NONE);
	worker_sink_mode(w, w->dst, SINK_NONE);
	w->pending = 0;
	snprintf(set, sizeof(set), "1:%u", top);
	cmd = imap_cmd_new(w->src, "UID FETCH");
	imap_cmd_atom(cmd, set);
	imap_cmd_atom(cmd, "(UID FLAGS)");
	w->chg_since = changes_since_ok(w);
	if (w->chg_since) {
		/* RFC 7162 3.1.4.1: only what changed after the settled pass */
		char mod[48];

		snprintf(
		    mod, sizeof(mod), "(CHANGEDSINCE %llu)", (unsigned long long)w->sf.seen_modseq);
		imap_cmd_atom(cmd, mod);
	}
	w->pending++;
	imap_cmd_send(cmd, changes_untagged, changes_fetch_done, w);
	uids = xcalloc(k, sizeof(*uids));
	for (size_t i = 0; i < k; i++)
		uids[i] = rows[i].dst_uid;
	qsort(uids, k, sizeof(*uids), sync_cmp_u32);
	while (off < k) {
		size_t taken;
		char *s = sync_set_str(uids + off, k - off, &taken);

		cmd = imap_cmd_new(w->dst, "UID FETCH");
		imap_cmd_atom(cmd, s);
		imap_cmd_atom(cmd, "(UID FLAGS)");
		free(s);
		w->pending++;
		imap_cmd_send(cmd, changes_untagged, changes_fetch_done, w);
		off += taken;
	}
	free(uids);
}
