/*
 * mailbox_session.c - the per-mailbox IMAP sessions of the mailbox.* checks.
 * See mailbox_session.h.
 *
 * A session is a runner task without a result of its own (runner_add with
 * NULL): the checks' results are attached to it. Its life: connect and log
 * in (imap.c), folders_fetch (folders.c) with the union of what its checks
 * asked for, LOGOUT, then fill. A destination session whose checks need the
 * source too waits, after its LOGOUT, for the source session of its mailbox
 * and is woken from the loop (never from inside the source's completion).
 *
 * The checks' schedule functions only register (what each needs, its fill,
 * the report places of its results: runner_reserve) in a per-run record that
 * the next one finds (runner_shared). The run is a producer on the runner
 * (runner_add_producer): the sessions and results of a mailbox are made when
 * the runner asks for that mailbox, and freed, inventories and all, as soon
 * as both its sessions completed, so memory holds the mailboxes in flight,
 * not all of them.
 */
#include "mailbox_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "src/imap.h"
#include "server_probe.h"
#include "src/oauth2.h"
#include "src/util.h"

struct ma_fill {
	mailaudit_fill_fn fill;
	struct result *res;
};

struct ma_mbox;

struct ma_session {
	struct ma_run *run;
	struct ma_mbox *mbox;
	int dst; /* 0 source, 1 destination */
	const struct plan_side *side;
	const char *user, *password, *admin; /* borrowed from the plan */
	const struct oauth2_config *oauth;   /* the side's auth: an OAuth2 login, or NULL */
	unsigned want;                       /* FOLDERS_WANT_* */
	struct task *t;
	struct imap_client *c;
	struct folders_job *job;
	struct folders_inventory *inv;
	char *error;
	size_t round_trips;
	int finished;     /* the IMAP part is over (inventory or error) */
	int completed;    /* the task is done (or being cancelled) */
	int waiting;      /* destination: waits for the source session */
	int wake_pending; /* destination: ma_wake is scheduled */
	struct ma_fill *fills;
	size_t n_fills;
};

/* A mailbox being audited: made by ma_produce, freed by ma_release. */
struct ma_mbox {
	const struct plan_mailbox *mb;
	struct ma_session *s[2];
	struct ma_mbox *prev, *next; /* the run's mailboxes in flight */
};

/* One mailbox.* check registered by mailaudit_schedule. */
struct ma_check {
	char *id;
	enum result_side side;
	unsigned needs;
	mailaudit_fill_fn fill;
	uint64_t first; /* the report place of mailbox 0's result */
};

struct ma_run {
	const struct plan *plan;
	const struct sync_run *after_sync; /* check_input's */
	struct runner *r;
	struct ma_check *checks;
	size_t n_checks;
	int producing; /* the runner asked for a mailbox: no more checks join */
	struct ma_mbox *live;
};

/* runner_shared under MA_KEY: the run checks still join (the runner's
 * producer owns and frees the run itself). */
struct ma_current {
	struct ma_run *run;
};

static const int ma_key; /* runner_shared key */

static void
ma_session_free(struct ma_session *s)
{
	if (s == NULL)
		return;
	folders_job_free(s->job);
	imap_client_free(s->c);
	folders_inventory_free(s->inv);
	free(s->error);
	free(s->fills);
	free(s);
}

static void
ma_mbox_free(struct ma_run *run, struct ma_mbox *m)
{
	if (m->prev != NULL)
		m->prev->next = m->next;
	else
		run->live = m->next;
	if (m->next != NULL)
		m->next->prev = m->prev;
	ma_session_free(m->s[0]);
	ma_session_free(m->s[1]);
	free(m);
}

static void
ma_run_free(void *arg)
{
	struct ma_run *run = arg;

	while (run->live != NULL)
		ma_mbox_free(run, run->live);
	for (size_t k = 0; k < run->n_checks; k++)
		free(run->checks[k].id);
	free(run->checks);
	free(run);
}

/* ---- filling ---- */

static void
ma_view_side(struct mailaudit_side *vs, const struct ma_session *s, const struct plan_side *ps)
{
	memset(vs, 0, sizeof(*vs));
	vs->plan = ps;
	if (s == NULL)
		return;
	vs->present = 1;
	vs->user = s->user;
	vs->inv = s->inv;
	vs->round_trips = s->round_trips;
	vs->connections = 1;
	if (s->inv == NULL)
		vs->error = s->error != NULL ? s->error
		    : s->finished            ? "the session ended without an inventory"
		                             : "the session did not finish in time";
}

/* Free M once no session of it runs or waits for a wake-up: its results
 * are all filled by then. */
static void
ma_release(struct ma_mbox *m)
{
	for (int k = 0; k < 2; k++)
		if (m->s[k] != NULL && (!m->s[k]->completed || m->s[k]->wake_pending))
			return;
	ma_mbox_free(m->s[0] != NULL ? m->s[0]->run : m->s[1]->run, m);
}

static void
ma_fill_all(struct ma_session *s)
{
	struct mailaudit_view v;
	const struct plan *plan = s->run->plan;

	v.plan = plan;
	v.mb = s->mbox->mb;
	v.after_sync = s->run->after_sync;
	ma_view_side(&v.src, s->mbox->s[0], &plan->source);
	ma_view_side(&v.dst, s->mbox->s[1], &plan->destination);
	for (size_t i = 0; i < s->n_fills; i++)
		s->fills[i].fill(s->fills[i].res, &v);
}

/* Fill and complete S (not from its cancel). */
static void
ma_complete(struct ma_session *s)
{
	struct task *t = s->t;

	ma_fill_all(s);
	s->completed = 1;
	ma_release(s->mbox);
	task_done(t);
}

static void
ma_wake(evutil_socket_t fd, short what, void *arg)
{
	struct ma_session *s = arg;

	(void)fd;
	(void)what;
	s->wake_pending = 0;
	if (s->completed || !s->waiting) {
		ma_release(s->mbox); /* cancelled meanwhile */
		return;
	}
	s->waiting = 0;
	ma_complete(s);
}

/* The source of S's mailbox finished: wake a waiting destination session. */
static void
ma_wake_waiter(struct ma_session *src)
{
	struct ma_session *d = src->mbox->s[1];
	struct timeval now = {0, 0};

	if (src->dst || d == NULL || !d->waiting || d->completed || d->wake_pending)
		return;
	if (event_base_once(runner_base(src->run->r), -1, EV_TIMEOUT, ma_wake, d, &now) != 0)
		abort();
	d->wake_pending = 1;
}

/* The IMAP part of S is over (client freed by now or soon). */
static void
ma_finished(struct ma_session *s)
{
	struct ma_session *src = s->mbox->s[0];

	s->finished = 1;
	if (s->dst && src != NULL && !src->finished && s->n_fills > 0) {
		s->waiting = 1;
		return;
	}
	if (!s->dst)
		ma_wake_waiter(s);
	ma_complete(s);
}

static void
ma_logged_out(struct imap_client *c, void *arg)
{
	struct ma_session *s = arg;

	(void)c;
	imap_client_free(s->c);
	s->c = NULL;
	ma_finished(s);
}

static void
ma_fetched(struct folders_job *job, void *arg)
{
	struct ma_session *s = arg;

	s->round_trips = imap_client_round_trips(s->c);
	if (folders_job_error(job) != NULL) {
		s->error = xstrdup(folders_job_error(job));
	} else {
		s->inv = folders_job_take(job);
	}
	folders_job_free(job);
	s->job = NULL;
	if (s->error != NULL && imap_client_result(s->c) != NET_RESULT_OK) {
		imap_client_free(s->c);
		s->c = NULL;
		ma_finished(s);
		return;
	}
	imap_client_logout(s->c, ma_logged_out, s);
}

static void
ma_ready(struct imap_client *c, void *arg)
{
	struct ma_session *s = arg;
	struct folders_opts o;

	mailcheck_outcome(s->t, imap_client_result(c), 1, imap_client_error(c));
	if (imap_client_result(c) == NET_RESULT_OK) {
		memset(&o, 0, sizeof(o));
		o.want = s->want;
		o.large_over = s->side == &s->run->plan->source
		    ? s->run->plan->destination.limits.message_bytes
		    : -1;
		if (o.large_over < 0)
			o.want &= ~(unsigned)FOLDERS_WANT_LARGE;
		s->job = folders_fetch(c, &o, ma_fetched, s);
		if (s->job != NULL)
			return;
	}
	s->error = xstrdup(imap_client_error(c));
	s->round_trips = imap_client_round_trips(c);
	imap_client_free(s->c);
	s->c = NULL;
	ma_finished(s);
}

static void
ma_start(struct task *t, void *aux)
{
	struct ma_session *s = aux;
	const struct runner_opts *ro = runner_opts(s->run->r);
	const struct plan_url *u = s->side->imap;
	struct imap_client_opts o;

	s->t = t;
	memset(&o, 0, sizeof(o));
	o.sess.host = u->host;
	o.sess.port = u->port;
	o.sess.tls = net_tls_mode_for(u->tls == PLAN_TLS_IMPLICIT, ro->allow_plaintext);
	o.sess.ca_file = ro->ca_file;
	o.sess.insecure = ro->insecure;
	o.sess.allow_old_tls = ro->allow_old_tls;
	o.sess.dns = runner_dns(s->run->r);
	o.sess.user = s->user;
	o.sess.password = s->password;
	o.sess.admin = s->admin;
	if (s->oauth != NULL) {
		o.sess.oauth_cache =
		    oauth2_runner_cache(s->run->r, s->side->name, s->run->plan->state_dir);
		o.sess.oauth_cfg = s->oauth;
	}
	s->c = imap_client_open(runner_base(s->run->r), &o, ma_ready, s);
}

static void
ma_cancel(struct task *t, void *aux)
{
	struct ma_session *s = aux;

	s->completed = 1;
	s->waiting = 0;
	if (!s->finished) {
		s->finished = 1;
		if (s->c != NULL) {
			int past_greeting = imap_client_state(s->c) > IMAP_S_GREETING;

			imap_client_timeout(s->c);
			mailcheck_outcome(
			    t, NET_RESULT_TIMEOUT, past_greeting, imap_client_error(s->c));
			free(s->error);
			s->error = xstrdup(imap_client_error(s->c));
			s->round_trips = imap_client_round_trips(s->c);
		}
	}
	/* The job's commands are in the client: free both now (folders.h). */
	folders_job_free(s->job);
	s->job = NULL;
	imap_client_free(s->c);
	s->c = NULL;
	if (!s->dst)
		ma_wake_waiter(s);
	ma_fill_all(s);
	ma_release(s->mbox);
}

/* Never started. Its server is dead (runner fail fast): the session ends like
 * a failed one; or the run was interrupted. */
static void
ma_not_tried(struct task *t, void *aux)
{
	struct ma_session *s = aux;

	s->t = t;
	if (task_not_tried_cause(t) == NULL) {
		/* The run stopped before it started: its checks keep the task's
		 * "not started: interrupted" (a skip), nothing to fill. */
		s->completed = 1;
		s->finished = 1;
		s->waiting = 0;
		if (!s->dst)
			ma_wake_waiter(s);
		ma_release(s->mbox);
		return;
	}
	free(s->error);
	s->error = xstrdup(task_result(t)->summary);
	ma_cancel(t, aux);
}

/* ---- scheduling ---- */

/* The session of mailbox M on side DST, queued; NULL when the plan cannot
 * log in there. */
static struct ma_session *
ma_session_new(struct ma_run *run, struct ma_mbox *m, int dst)
{
	const struct plan_side *ps = dst ? &run->plan->destination : &run->plan->source;
	const char *user = dst ? m->mb->dest_user : m->mb->source_user;
	const char *pw = dst ? m->mb->dest_password : m->mb->source_password;
	struct ma_session *s;
	char *target;

	if (!ps->present || ps->imap == NULL || user == NULL)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->run = run;
	s->mbox = m;
	s->dst = dst;
	s->side = ps;
	s->user = user;
	s->password = pw;
	if (pw == NULL && ps->admin != NULL) {
		s->admin = ps->admin->user;
		s->password = ps->admin->password;
	}
	if (ps->auth != NULL) {
		s->oauth = ps->auth; /* the token replaces the password */
		s->password = s->admin = NULL;
	} else if (s->password == NULL) {
		free(s);
		return NULL;
	}
	m->s[dst] = s;
	/* No result of its own: the checks' results are attached to it. */
	s->t = runner_add(run->r, ps->imap->host, NULL, ma_start, ma_cancel, s, 0);
	target = mailcheck_target(ps->imap->host, ps->imap->port);
	task_set_fail_fast(s->t, target, ma_not_tried);
	free(target);
	return s;
}

static unsigned
ma_want(unsigned needs, int dst)
{
	unsigned w = 0;

	if (!dst) {
		if (needs & MAILAUDIT_SRC_STATUS)
			w |= FOLDERS_WANT_STATUS;
		if (needs & MAILAUDIT_SRC_BYTES)
			w |= FOLDERS_WANT_BYTES;
		if (needs & MAILAUDIT_SRC_LARGE)
			w |= FOLDERS_WANT_LARGE;
		if (needs & MAILAUDIT_SRC_QUOTA)
			w |= FOLDERS_WANT_QUOTA;
	} else {
		if (needs & MAILAUDIT_DST_STATUS)
			w |= FOLDERS_WANT_STATUS;
		if (needs & MAILAUDIT_DST_QUOTA)
			w |= FOLDERS_WANT_QUOTA;
	}
	return w;
}

struct folders_mapping *
mailaudit_map(const struct mailaudit_view *v)
{
	const struct plan_sync *ps = &v->plan->sync;
	struct folders_rule *rules = xcalloc(ps->n_folder_map + 1, sizeof(*rules));
	struct folders_mapping *m = xcalloc(v->src.inv->n + 1, sizeof(*m));

	for (size_t k = 0; k < ps->n_folder_map; k++) {
		rules[k].from = ps->folder_map[k].from;
		rules[k].to = ps->folder_map[k].to;
	}
	folders_map(v->src.inv, v->dst.inv, rules, ps->n_folder_map, m);
	free(rules);
	return m;
}

int64_t
mailaudit_limit(const struct mailaudit_view *v, int64_t l, int64_t def)
{
	(void)v;
	return l >= 0 ? l : def;
}

cJSON *
mailaudit_num_or_null(int64_t v)
{
	return v < 0 ? cJSON_CreateNull() : cJSON_CreateNumber((double)v);
}

const char *
mailaudit_size(int64_t bytes, char *buf, size_t len)
{
	static const char *const unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%lld bytes", (long long)bytes);
	else
		snprintf(buf, len, "%.1f %s", v, unit[u]);
	return buf;
}

void
mailaudit_side_error(struct result *res, const struct mailaudit_view *v, int dst)
{
	const struct mailaudit_side *s = dst ? &v->dst : &v->src;

	cJSON_AddStringToObject(res->details, "error", s->error != NULL ? s->error : "");
	/* The source user is the result's subject already: without it the same
	 * cause reads the same for every mailbox (the console groups it). */
	if (dst)
		result_set(res, RESULT_ERROR, "could not read the destination mailbox %s: %s",
		    s->user != NULL ? s->user : "", s->error != NULL ? s->error : "no session");
	else
		result_set(res, RESULT_ERROR, "could not read the source mailbox: %s",
		    s->error != NULL ? s->error : "no session");
}

int
mailaudit_both_sides(struct result *res, const struct mailaudit_view *v)
{
	if (!v->dst.present) {
		result_set(
		    res, RESULT_SKIP, "the plan has no destination IMAP login for this mailbox");
		return 0;
	}
	if (v->src.inv == NULL || v->dst.inv == NULL) {
		mailaudit_side_error(res, v, v->src.inv != NULL);
		return 0;
	}
	return 1;
}

static void
ma_skip_start(struct task *t, void *aux)
{
	(void)aux;
	result_set(task_result(t), RESULT_SKIP, "the plan has no source IMAP URL");
	task_done(t);
}

/*
 * The runner asks for mailbox I (runner_add_producer): its sessions, source
 * first (a destination session may wait for its source, never the other way
 * round, and the queue is first in, first out), then every registered
 * check's result in its reserved place.
 */
static void
ma_produce(struct runner *r, size_t i, void *arg)
{
	struct ma_run *run = arg;
	struct ma_mbox *m = xcalloc(1, sizeof(*m));
	unsigned needs = 0;

	run->producing = 1;
	m->mb = &run->plan->mailboxes[i];
	m->next = run->live;
	if (run->live != NULL)
		run->live->prev = m;
	run->live = m;
	for (size_t k = 0; k < run->n_checks; k++)
		needs |= run->checks[k].needs;
	if (ma_session_new(run, m, 0) != NULL)
		m->s[0]->want = ma_want(needs, 0);
	if ((needs & MAILAUDIT_DST_ANY) && ma_session_new(run, m, 1) != NULL)
		m->s[1]->want = ma_want(needs, 1);
	for (size_t k = 0; k < run->n_checks; k++) {
		const struct ma_check *ck = &run->checks[k];
		struct ma_session *s =
		    (ck->needs & MAILAUDIT_DST_ANY) && m->s[1] != NULL ? m->s[1] : m->s[0];
		struct result *res = result_new(ck->id, plan_mailbox_label(m->mb), ck->side);

		if (s == NULL) {
			runner_add_at(r, ck->first + i, NULL, res, ma_skip_start, NULL, NULL, 0);
			continue;
		}
		s->fills = xrealloc(s->fills, (s->n_fills + 1) * sizeof(*s->fills));
		s->fills[s->n_fills].fill = ck->fill;
		s->fills[s->n_fills].res = res;
		s->n_fills++;
		task_attach_at(s->t, ck->first + i, res);
	}
	if (m->s[0] == NULL && m->s[1] == NULL)
		ma_mbox_free(run, m); /* only skips: nothing waits for it */
}

/* The run mailbox checks of PLAN join now: a new one when the last has begun. */
static struct ma_run *
ma_run_get(struct runner *r, const struct plan *plan)
{
	struct ma_current *cur = runner_shared(r, &ma_key);
	struct ma_run *run;

	if (cur == NULL) {
		cur = xcalloc(1, sizeof(*cur));
		runner_set_shared(r, &ma_key, cur, free);
	}
	if (cur->run != NULL && !cur->run->producing && cur->run->plan == plan)
		return cur->run;
	run = xcalloc(1, sizeof(*run));
	run->plan = plan;
	run->r = r;
	runner_add_producer(r, plan->n_mailboxes, ma_produce, run, ma_run_free);
	cur->run = run;
	return run;
}

void
mailaudit_schedule(struct runner *r, const struct check_input *in, const char *id,
    enum result_side side, unsigned needs, mailaudit_fill_fn fill)
{
	const struct plan *plan = in->plan;
	struct ma_run *run;
	struct ma_check *ck;

	if (plan == NULL)
		return;
	run = ma_run_get(r, plan);
	if (in->after_sync != NULL)
		run->after_sync = in->after_sync;
	run->checks = xrealloc(run->checks, (run->n_checks + 1) * sizeof(*run->checks));
	ck = &run->checks[run->n_checks++];
	ck->id = xstrdup(id);
	ck->side = side;
	ck->needs = needs;
	ck->fill = fill;
	ck->first = runner_reserve(r, plan->n_mailboxes);
}
