/*
 * test_runner.c - the runner's queue, limits, deadlines and report order,
 * with tasks that finish on libevent timers (no network).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/plan.h"
#include "src/report.h"
#include "src/runner.h"
#include "src/shard.h"
#include "src/util.h"

struct timed {
	struct task *t;
	struct event *ev;
	int ms;
	int never; /* never finishes: only the deadline ends it */
	int cancelled;
	int *live, *peak_live; /* tasks running at once, across hosts */
	int *not_tried;        /* timed_not_tried calls */
};

static void
timed_fire(evutil_socket_t fd, short what, void *arg)
{
	struct timed *x = arg;

	(void)fd;
	(void)what;
	(*x->live)--;
	result_set(task_result(x->t), RESULT_PASS, "slept %d ms", x->ms);
	event_free(x->ev);
	x->ev = NULL;
	task_done(x->t);
}

static void
timed_start(struct task *t, void *aux)
{
	struct timed *x = aux;
	struct timeval tv = {0, x->ms * 1000};

	x->t = t;
	(*x->live)++;
	if (*x->live > *x->peak_live)
		*x->peak_live = *x->live;
	if (x->never)
		return;
	x->ev = evtimer_new(runner_base(task_runner(t)), timed_fire, x);
	evtimer_add(x->ev, &tv);
}

static void
timed_cancel(struct task *t, void *aux)
{
	struct timed *x = aux;

	(void)t;
	x->cancelled = 1;
	(*x->live)--;
	if (x->ev != NULL)
		event_free(x->ev);
	x->ev = NULL;
	result_set(task_result(t), RESULT_ERROR, "timed out while sleeping");
}

static struct runner *
new_runner(int concurrency, int per_host, int timeout_ms)
{
	struct runner_opts o;
	struct runner *r;
	char *err = NULL;

	memset(&o, 0, sizeof(o));
	o.concurrency = concurrency;
	o.per_host = per_host;
	o.timeout_ms = timeout_ms;
	r = runner_new(&o, &err);
	assert_non_null(r);
	assert_null(err);
	return r;
}

static void
test_limits_and_order(void **state)
{
	struct runner *r = new_runner(3, 2, 5000);
	struct report *rep = rpt_new("test", NULL);
	struct timed x[12];
	int live = 0, peak = 0;
	char subject[16];

	(void)state;
	memset(x, 0, sizeof(x));
	for (int i = 0; i < 12; i++) {
		x[i].ms = 5 + (11 - i) * 2; /* later tasks finish sooner */
		x[i].live = &live;
		x[i].peak_live = &peak;
		snprintf(subject, sizeof(subject), "t%02d", i);
		runner_add(r,
		    i % 3 == 0       ? "a.example"
		        : i % 3 == 1 ? "b.example"
		                     : "c.example",
		    result_new("test.sleep", subject, RESULT_SIDE_NONE), timed_start, timed_cancel,
		    &x[i], 0);
	}
	assert_int_equal(runner_run(r, rep), 0);
	assert_int_equal(rep->n_results, 12);
	/* Report order is schedule order, whatever the finishing order was. */
	for (int i = 0; i < 12; i++) {
		snprintf(subject, sizeof(subject), "t%02d", i);
		assert_string_equal(rpt_at(rep, i, 1)->subject, subject);
		assert_int_equal(rpt_at(rep, i, 1)->status, RESULT_PASS);
	}
	assert_int_equal(peak, 3);
	assert_int_equal(runner_peak_in_flight(r, NULL), 3);
	assert_true(runner_peak_in_flight(r, "a.example") <= 2);
	assert_true(runner_peak_in_flight(r, "b.example") <= 2);
	assert_int_equal(runner_finished(r), 12);
	runner_free(r);
	rpt_free(rep);
}

static void
test_per_host_cap(void **state)
{
	struct runner *r = new_runner(64, 2, 5000);
	struct report *rep = rpt_new("test", NULL);
	struct timed x[9];
	int live = 0, peak = 0;

	(void)state;
	memset(x, 0, sizeof(x));
	for (int i = 0; i < 9; i++) {
		x[i].ms = 10;
		x[i].live = &live;
		x[i].peak_live = &peak;
		runner_add(r, "IMAP.example",
		    result_new("test.sleep", "one host", RESULT_SIDE_SOURCE), timed_start,
		    timed_cancel, &x[i], 0);
	}
	assert_int_equal(runner_run(r, rep), 0);
	/* Host names compare case-insensitively: one host, two at a time. */
	assert_int_equal(peak, 2);
	assert_int_equal(runner_peak_in_flight(r, "imap.example"), 2);
	runner_free(r);
	rpt_free(rep);
}

static void
test_deadline(void **state)
{
	struct runner *r = new_runner(8, 8, 5000);
	struct report *rep = rpt_new("test", NULL);
	struct timed slow, quick;
	int live = 0, peak = 0;

	(void)state;
	memset(&slow, 0, sizeof(slow));
	memset(&quick, 0, sizeof(quick));
	slow.never = 1;
	slow.live = quick.live = &live;
	slow.peak_live = quick.peak_live = &peak;
	quick.ms = 1;
	runner_add(r, "h", result_new("test.sleep", "stalls", RESULT_SIDE_NONE), timed_start,
	    timed_cancel, &slow, 150);
	runner_add(r, "h", result_new("test.sleep", "quick", RESULT_SIDE_NONE), timed_start,
	    timed_cancel, &quick, 0);
	assert_int_equal(runner_run(r, rep), 0);
	assert_int_equal(slow.cancelled, 1);
	assert_int_equal(quick.cancelled, 0);
	assert_int_equal(rpt_at(rep, 0, 1)->status, RESULT_ERROR);
	assert_string_equal(rpt_at(rep, 0, 1)->summary, "timed out while sleeping");
	assert_int_equal(rpt_at(rep, 1, 1)->status, RESULT_PASS);
	assert_int_equal(live, 0);
	runner_free(r);
	rpt_free(rep);
}

static void
unset_start(struct task *t, void *aux)
{
	(void)aux;
	task_done(t); /* finishes at once without setting a status */
}

static void
test_unset_result_is_error(void **state)
{
	struct runner *r = new_runner(8, 8, 5000);
	struct report *rep = rpt_new("test", NULL);

	(void)state;
	runner_add(
	    r, NULL, result_new("test.none", "x", RESULT_SIDE_NONE), unset_start, NULL, NULL, 0);
	assert_int_equal(runner_run(r, rep), 0);
	assert_int_equal(rep->n_results, 1);
	assert_int_equal(rpt_at(rep, 0, 1)->status, RESULT_ERROR);
	runner_free(r);
	rpt_free(rep);
}

static int shared_freed;

static void
shared_free(void *obj)
{
	shared_freed++;
	free(obj);
}

/* task_attach: one task, several results in schedule order; unfilled ones
 * share the task's fate (here its deadline). runner_shared per run. */
static void
test_attached_results(void **state)
{
	static const int key = 0;
	struct runner *r = new_runner(4, 4, 60);
	struct report *rep = rpt_new("test", NULL);
	struct timed x[2];
	int live = 0, peak = 0;
	struct task *a, *b;
	struct result *filled;

	(void)state;
	memset(x, 0, sizeof(x));
	shared_freed = 0;
	assert_null(runner_shared(r, &key));
	runner_set_shared(r, &key, xstrdup("state"), shared_free);
	assert_string_equal(runner_shared(r, &key), "state");
	for (int i = 0; i < 2; i++) {
		x[i].ms = 5;
		x[i].live = &live;
		x[i].peak_live = &peak;
	}
	x[1].never = 1;
	a = runner_add(r, "h.example", result_new("test.a", "one", RESULT_SIDE_NONE), timed_start,
	    timed_cancel, &x[0], 0);
	b = runner_add(r, "h.example", result_new("test.a", "two", RESULT_SIDE_NONE), timed_start,
	    timed_cancel, &x[1], 0);
	/* A second check attaches to the sessions scheduled by the first. */
	filled = result_new("test.b", "one", RESULT_SIDE_NONE);
	result_set(filled, RESULT_WARN, "filled by the session");
	task_attach(a, filled);
	task_attach(b, result_new("test.b", "two", RESULT_SIDE_NONE));
	assert_int_equal(runner_total(r), 4);
	assert_int_equal(runner_run(r, rep), 0);
	assert_int_equal(runner_finished(r), 4);
	assert_int_equal(rep->n_results, 4);
	assert_string_equal(rpt_at(rep, 0, 1)->id, "test.a");
	assert_string_equal(rpt_at(rep, 1, 1)->id, "test.a");
	assert_string_equal(rpt_at(rep, 2, 1)->id, "test.b");
	assert_string_equal(rpt_at(rep, 2, 1)->subject, "one");
	assert_int_equal(rpt_at(rep, 2, 1)->status, RESULT_WARN);
	assert_string_equal(rpt_at(rep, 3, 1)->subject, "two");
	assert_int_equal(rpt_at(rep, 3, 1)->status, RESULT_ERROR);
	assert_string_equal(rpt_at(rep, 3, 1)->summary, "timed out while sleeping");
	assert_int_equal(shared_freed, 0);
	runner_free(r);
	assert_int_equal(shared_freed, 1);
	rpt_free(rep);
}

static void
test_footprint_counts_every_connection(void **state)
{
	struct runner *r = new_runner(64, 4, 5000);
	struct report *rep = rpt_new("test", NULL);
	struct timed x[6];
	int live = 0, peak = 0;

	(void)state;
	memset(x, 0, sizeof(x));
	for (int i = 0; i < 6; i++) {
		struct task *t;

		x[i].ms = 10;
		x[i].live = &live;
		x[i].peak_live = &peak;
		t = runner_add(r, "src.example", result_new("test.sync", "pair", RESULT_SIDE_NONE),
		    timed_start, timed_cancel, &x[i], 0);
		/* Two connections to each server per task: at most 2 tasks at once. */
		assert_int_equal(task_set_footprint(t, "dst.example", 2), 2);
	}
	assert_int_equal(runner_run(r, rep), 0);
	assert_int_equal(peak, 2);
	assert_int_equal(runner_peak_in_flight(r, "src.example"), 4);
	assert_int_equal(runner_peak_in_flight(r, "dst.example"), 4);
	assert_int_equal(runner_peak_in_flight(r, NULL), 8);
	runner_free(r);
	rpt_free(rep);

	/* A weight beyond the limits is clamped so the task can start at all. */
	r = new_runner(64, 3, 5000);
	rep = rpt_new("test", NULL);
	memset(x, 0, sizeof(x));
	x[0].ms = 1;
	x[0].live = &live;
	x[0].peak_live = &peak;
	assert_int_equal(
	    task_set_footprint(runner_add(r, "h", result_new("t", "s", RESULT_SIDE_NONE),
	                           timed_start, timed_cancel, &x[0], 0),
	        "h", 8),
	    1);
	assert_int_equal(runner_run(r, rep), 0);
	assert_int_equal(rpt_at(rep, 0, 1)->status, RESULT_PASS);
	runner_free(r);
	rpt_free(rep);
}

static void
test_bad_resolver(void **state)
{
	struct runner_opts o;
	const char *bad[] = {"not an address"};
	char *err = NULL;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.resolvers = bad;
	o.n_resolvers = 1;
	assert_null(runner_new(&o, &err));
	assert_non_null(err);
	assert_non_null(strstr(err, "not an address"));
	free(err);
}

/* ---- fail fast on a dead server ---- */

struct ff {
	int refuse;     /* this task's server refuses */
	int *starts;    /* tasks started */
	int *not_tried; /* NOT_TRIED hooks run */
	char cause[32]; /* what NOT_TRIED saw */
};

static void
ff_start(struct task *t, void *aux)
{
	struct ff *x = aux;

	(*x->starts)++;
	if (x->refuse) {
		result_set(task_result(t), RESULT_ERROR, "connection refused by 192.0.2.1:993");
		task_host_outcome(t, "connect_failed", "connection refused by 192.0.2.1:993");
	} else {
		result_set(task_result(t), RESULT_PASS, "login ok");
		task_host_outcome(t, NULL, NULL);
	}
	task_done(t);
}

static void
ff_not_tried(struct task *t, void *aux)
{
	struct ff *x = aux;
	const char *c = task_not_tried_cause(t);

	(*x->not_tried)++;
	snprintf(x->cause, sizeof(x->cause), "%s", c != NULL ? c : "(none)");
}

static void
test_fail_fast(void **state)
{
	struct runner *r = new_runner(64, 1, 5000);
	struct report *rep = rpt_new("audit", NULL);
	struct ff x[20];
	int starts = 0, not_tried = 0;

	(void)state;
	memset(x, 0, sizeof(x));
	/* 10 tasks on a refusing server, then 10 on a good one; one at a time */
	for (int i = 0; i < 20; i++) {
		struct task *t;

		x[i].refuse = i < 10;
		x[i].starts = &starts;
		x[i].not_tried = &not_tried;
		t = runner_add(r, i < 10 ? "dead.example" : "good.example",
		    result_new("imap.login", "u", RESULT_SIDE_SOURCE), ff_start, NULL, &x[i], 0);
		task_set_fail_fast(
		    t, i < 10 ? "dead.example:993" : "good.example:993", ff_not_tried);
	}
	assert_int_equal(runner_run(r, rep), 0);
	/* three refusals in a row, then the other seven are not tried */
	assert_int_equal(starts, 3 + 10);
	assert_int_equal(not_tried, 7);
	assert_int_equal(runner_not_tried_count(r), 7);
	assert_string_equal(x[9].cause, "connect_failed");
	assert_int_equal(rep->n_results, 20);
	assert_int_equal(rpt_at(rep, 9, 1)->status, RESULT_ERROR);
	assert_string_equal(rpt_at(rep, 9, 1)->summary,
	    "not tried: same cause as 3 others: connection refused by 192.0.2.1:993");
	assert_int_equal(rpt_at(rep, 19, 1)->status, RESULT_PASS);
	rpt_free(rep);
	runner_free(r);
}

/* A success between failures resets the count: a flaky server is tried. */
static void
test_fail_fast_needs_failures_in_a_row(void **state)
{
	struct runner *r = new_runner(64, 1, 5000);
	struct report *rep = rpt_new("audit", NULL);
	struct ff x[12];
	int starts = 0, not_tried = 0;

	(void)state;
	memset(x, 0, sizeof(x));
	for (int i = 0; i < 12; i++) {
		struct task *t;

		x[i].refuse = i % 3 != 2; /* fail, fail, ok, ... */
		x[i].starts = &starts;
		x[i].not_tried = &not_tried;
		t = runner_add(r, "flaky.example",
		    result_new("imap.login", "u", RESULT_SIDE_SOURCE), ff_start, NULL, &x[i], 0);
		task_set_fail_fast(t, "flaky.example:993", ff_not_tried);
	}
	assert_int_equal(runner_run(r, rep), 0);
	assert_int_equal(starts, 12);
	assert_int_equal(not_tried, 0);
	rpt_free(rep);
	runner_free(r);
}

/* ---- lazy scheduling (runner_add_producer) ---- */

/*
 * Like a mailbox audit: per mailbox, a login task on the source server and a
 * session on the destination whose result is attached (task_attach_at),
 * from two producers, made as the runner asks.
 */
struct lazy {
	const struct plan *plan;
	int session;     /* 0: logins on a.example; 1: sessions on b.example */
	uint64_t first;  /* reserved place of mailbox 0's result */
	size_t next;     /* the unit the runner should ask for next */
	struct timed *x; /* one per mailbox */
	int never;       /* tasks never finish (only runner_stop ends them) */
	struct ff *ff;   /* one per mailbox: fail fast on a refusing server */
	struct runner *r;
};

/* NOT_TRIED of a timed task: only runner_stop ends one unstarted here. */
static void
timed_not_tried(struct task *t, void *aux)
{
	struct timed *x = aux;

	assert_null(task_not_tried_cause(t));
	(*x->not_tried)++;
}

static void
lazy_produce(struct runner *r, size_t i, void *arg)
{
	struct lazy *l = arg;
	const char *user = l->plan->mailboxes[i].source_user;
	struct result *res =
	    result_new(l->session ? "test.folders" : "test.login", user, RESULT_SIDE_SOURCE);
	struct task *t;

	assert_int_equal(i, l->next); /* in plan order, each once */
	l->next++;
	if (l->ff != NULL) {
		t = runner_add_at(
		    r, l->first + i, "dead.example", res, ff_start, NULL, &l->ff[i], 0);
		task_set_fail_fast(t, "dead.example:993", ff_not_tried);
		return;
	}
	l->x[i].ms = 1 + (int)(i % 3);
	l->x[i].never = l->never;
	if (!l->session) {
		t = runner_add_at(
		    r, l->first + i, "a.example", res, timed_start, timed_cancel, &l->x[i], 0);
	} else {
		t = runner_add(r, "b.example", NULL, timed_start, timed_cancel, &l->x[i], 0);
		task_attach_at(t, l->first + i, res);
	}
	if (l->never)
		task_set_fail_fast(t, "a.example:993", timed_not_tried);
}

static struct plan *
lazy_plan(size_t n)
{
	struct plan *p = xcalloc(1, sizeof(*p));

	p->domain = xstrdup("example.com");
	p->mailboxes = xcalloc(n, sizeof(*p->mailboxes));
	p->n_mailboxes = n;
	for (size_t i = 0; i < n; i++) {
		p->mailboxes[i].source_user = xasprintf("user%03zu@example.com", i);
		p->mailboxes[i].dest_user = xasprintf("user%03zu@example.com", i);
	}
	return p;
}

static void
lazy_add(
    struct runner *r, struct lazy *l, const struct plan *plan, int session, int *live, int *peak)
{
	memset(l, 0, sizeof(*l));
	l->plan = plan;
	l->session = session;
	l->r = r;
	l->x = xcalloc(plan->n_mailboxes ? plan->n_mailboxes : 1, sizeof(*l->x));
	for (size_t i = 0; i < plan->n_mailboxes; i++) {
		l->x[i].live = live;
		l->x[i].peak_live = peak;
	}
	l->first = runner_reserve(r, plan->n_mailboxes);
	runner_add_producer(r, plan->n_mailboxes, lazy_produce, l, NULL);
}

/* Results in plan order per check, the checks in schedule order, the total
 * known before the run, and only a few tasks alive at any time. */
static void
test_producer_order_and_bounds(void **state)
{
	struct runner *r = new_runner(6, 2, 5000);
	struct report *rep = rpt_new("audit", NULL);
	struct plan *plan = lazy_plan(200);
	struct lazy logins, sessions;
	int live = 0, peak = 0;

	(void)state;
	runner_add(r, NULL, result_new("test.first", "example.com", RESULT_SIDE_NONE), unset_start,
	    NULL, NULL, 0);
	lazy_add(r, &logins, plan, 0, &live, &peak);
	lazy_add(r, &sessions, plan, 1, &live, &peak);
	runner_add(r, NULL, result_new("test.last", "example.com", RESULT_SIDE_NONE), unset_start,
	    NULL, NULL, 0);
	assert_int_equal(runner_total(r), 402); /* progress knows the count up front */
	assert_int_equal(runner_live(r), 2);    /* nothing of the mailboxes made yet */
	assert_int_equal(runner_run(r, rep), 0);
	assert_int_equal(logins.next, 200);
	assert_int_equal(sessions.next, 200);
	assert_int_equal(runner_finished(r), 402);
	assert_int_equal(rep->n_results, 402);
	assert_string_equal(rpt_at(rep, 0, 1)->id, "test.first");
	for (size_t i = 0; i < 200; i++) {
		const struct result *a = rpt_at(rep, 1 + i, 1), *b = rpt_at(rep, 201 + i, 1);

		assert_string_equal(a->id, "test.login");
		assert_string_equal(a->subject, plan->mailboxes[i].source_user);
		assert_int_equal(a->status, RESULT_PASS);
		assert_string_equal(b->id, "test.folders");
		assert_string_equal(b->subject, plan->mailboxes[i].source_user);
		assert_int_equal(b->status, RESULT_PASS); /* the session's, inherited */
	}
	assert_string_equal(rpt_at(rep, 401, 1)->id, "test.last");
	/* Running: at most 2 per host; queued: at most RUNNER_PRODUCE_AHEAD per
	 * producer, and the two extra tasks. Not 400. */
	assert_true(peak <= 4);
	assert_true(runner_peak_live(r) <= 4 + 2 * RUNNER_PRODUCE_AHEAD + 2);
	assert_true(runner_peak_in_flight(r, "a.example") == 2);
	assert_true(runner_peak_in_flight(r, "b.example") == 2); /* both sides busy at once */
	assert_int_equal(runner_live(r), 0);
	runner_free(r);
	rpt_free(rep);
	free(logins.x);
	free(sessions.x);
	plan_free(plan);
}

/* --shard: a producer over the shard's view makes that slice, in plan order. */
static void
test_producer_shard(void **state)
{
	struct runner *r = new_runner(8, 8, 5000);
	struct report *rep = rpt_new("audit", NULL);
	struct plan *plan = lazy_plan(60);
	struct plan *view = shard_plan(plan, 2, 3);
	size_t n, *idx = shard_select(plan, 2, 3, &n);
	struct lazy l;
	int live = 0, peak = 0;

	(void)state;
	assert_true(n > 0 && n < 60);
	lazy_add(r, &l, view, 0, &live, &peak);
	assert_int_equal(runner_total(r), n);
	assert_int_equal(runner_run(r, rep), 0);
	assert_int_equal(rep->n_results, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(
		    rpt_at(rep, i, 1)->subject, plan->mailboxes[idx[i]].source_user);
	runner_free(r);
	rpt_free(rep);
	free(l.x);
	free(idx);
	shard_plan_free(view);
	plan_free(plan);
}

static void
lazy_interrupt(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	runner_stop(arg);
}

/* SIGINT (runner_stop): the running tasks end as interrupted, every mailbox
 * not produced yet is produced and ends "not started: interrupted", and the
 * module's NOT_TRIED sees each one (to free what it made). */
static void
test_producer_interrupted(void **state)
{
	struct runner *r = new_runner(4, 4, 5000);
	struct report *rep = rpt_new("audit", NULL);
	struct plan *plan = lazy_plan(100);
	struct timeval tv = {0, 50 * 1000};
	struct event *stop = evtimer_new(runner_base(r), lazy_interrupt, r);
	struct lazy l;
	int live = 0, peak = 0, not_tried = 0, skips = 0;

	(void)state;
	lazy_add(r, &l, plan, 0, &live, &peak);
	l.never = 1;
	for (int i = 0; i < 100; i++)
		l.x[i].not_tried = &not_tried;
	evtimer_add(stop, &tv);
	assert_int_equal(runner_run(r, rep), 0);
	assert_int_equal(l.next, 100);
	assert_int_equal(rep->n_results, 100);
	assert_int_equal(runner_finished(r), 100);
	for (int i = 0; i < 100; i++) {
		const struct result *res = rpt_at(rep, i, 1);

		assert_string_equal(res->subject, plan->mailboxes[i].source_user);
		if (i < 4) {
			assert_int_equal(res->status, RESULT_ERROR); /* was running */
		} else {
			assert_int_equal(res->status, RESULT_SKIP);
			assert_string_equal(res->summary, "not started: interrupted");
			skips++;
		}
	}
	assert_int_equal(skips, 96);
	assert_int_equal(not_tried, 96);
	assert_int_equal(live, 0);
	assert_true(runner_peak_live(r) <= 4 + RUNNER_PRODUCE_AHEAD);
	event_free(stop);
	runner_free(r);
	rpt_free(rep);
	free(l.x);
	plan_free(plan);
}

/* Fail fast on a dead server works across produced units: three refusals,
 * then every later mailbox ends "not tried" without being started. */
static void
test_producer_fail_fast(void **state)
{
	struct runner *r = new_runner(64, 1, 5000);
	struct report *rep = rpt_new("audit", NULL);
	struct plan *plan = lazy_plan(50);
	struct ff *ff = xcalloc(50, sizeof(*ff));
	struct lazy l;
	int live = 0, peak = 0, starts = 0, not_tried = 0;

	(void)state;
	lazy_add(r, &l, plan, 0, &live, &peak);
	for (int i = 0; i < 50; i++) {
		ff[i].refuse = 1;
		ff[i].starts = &starts;
		ff[i].not_tried = &not_tried;
	}
	l.ff = ff;
	assert_int_equal(runner_run(r, rep), 0);
	assert_int_equal(starts, 3);
	assert_int_equal(not_tried, 47);
	assert_int_equal(rep->n_results, 50);
	assert_string_equal(rpt_at(rep, 49, 1)->subject, plan->mailboxes[49].source_user);
	assert_string_equal(rpt_at(rep, 49, 1)->summary,
	    "not tried: same cause as 3 others: connection refused by 192.0.2.1:993");
	runner_free(r);
	rpt_free(rep);
	free(l.x);
	free(ff);
	plan_free(plan);
}

/* A producer added by a task's callback during the run (cutover sync adds
 * mailbox.compare after its last mailbox) is run too, its results last. */
struct late {
	struct lazy l;
	const struct plan *plan;
	int live, peak;
};

static void
late_start(struct task *t, void *aux)
{
	struct late *x = aux;

	result_set(task_result(t), RESULT_PASS, "first");
	lazy_add(task_runner(t), &x->l, x->plan, 0, &x->live, &x->peak);
	task_done(t);
}

static void
test_producer_added_during_run(void **state)
{
	struct runner *r = new_runner(8, 8, 5000);
	struct report *rep = rpt_new("sync", NULL);
	struct plan *plan = lazy_plan(30);
	struct late x;

	(void)state;
	memset(&x, 0, sizeof(x));
	x.plan = plan;
	runner_add(
	    r, NULL, result_new("test.first", "x", RESULT_SIDE_NONE), late_start, NULL, &x, 0);
	assert_int_equal(runner_run(r, rep), 0);
	assert_int_equal(rep->n_results, 31);
	assert_string_equal(rpt_at(rep, 30, 1)->subject, plan->mailboxes[29].source_user);
	assert_int_equal(rpt_at(rep, 30, 1)->status, RESULT_PASS);
	runner_free(r);
	rpt_free(rep);
	free(x.l.x);
	plan_free(plan);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_limits_and_order),
	    cmocka_unit_test(test_per_host_cap),
	    cmocka_unit_test(test_deadline),
	    cmocka_unit_test(test_unset_result_is_error),
	    cmocka_unit_test(test_footprint_counts_every_connection),
	    cmocka_unit_test(test_bad_resolver),
	    cmocka_unit_test(test_attached_results),
	    cmocka_unit_test(test_fail_fast),
	    cmocka_unit_test(test_fail_fast_needs_failures_in_a_row),
	    cmocka_unit_test(test_producer_order_and_bounds),
	    cmocka_unit_test(test_producer_shard),
	    cmocka_unit_test(test_producer_interrupted),
	    cmocka_unit_test(test_producer_fail_fast),
	    cmocka_unit_test(test_producer_added_during_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
