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

#include "report.h"
#include "runner.h"
#include "util.h"

struct timed {
	struct task *t;
	struct event *ev;
	int ms;
	int never;             /* never finishes: only the deadline ends it */
	int cancelled;
	int *live, *peak_live; /* tasks running at once, across hosts */
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
		runner_add(r, i % 3 == 0 ? "a.example" : i % 3 == 1 ? "b.example" : "c.example",
		    result_new("test.sleep", subject, RESULT_SIDE_NONE), timed_start, timed_cancel,
		    &x[i], 0);
	}
	assert_int_equal(runner_run(r, rep), 0);
	assert_int_equal(rep->n_results, 12);
	/* Report order is schedule order, whatever the finishing order was. */
	for (int i = 0; i < 12; i++) {
		snprintf(subject, sizeof(subject), "t%02d", i);
		assert_string_equal(rep->results[i]->subject, subject);
		assert_int_equal(rep->results[i]->status, RESULT_PASS);
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
		runner_add(r, "IMAP.example", result_new("test.sleep", "one host", RESULT_SIDE_SOURCE),
		    timed_start, timed_cancel, &x[i], 0);
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
	assert_int_equal(rep->results[0]->status, RESULT_ERROR);
	assert_string_equal(rep->results[0]->summary, "timed out while sleeping");
	assert_int_equal(rep->results[1]->status, RESULT_PASS);
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
	runner_add(r, NULL, result_new("test.none", "x", RESULT_SIDE_NONE), unset_start, NULL, NULL, 0);
	assert_int_equal(runner_run(r, rep), 0);
	assert_int_equal(rep->n_results, 1);
	assert_int_equal(rep->results[0]->status, RESULT_ERROR);
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
	assert_string_equal(rep->results[0]->id, "test.a");
	assert_string_equal(rep->results[1]->id, "test.a");
	assert_string_equal(rep->results[2]->id, "test.b");
	assert_string_equal(rep->results[2]->subject, "one");
	assert_int_equal(rep->results[2]->status, RESULT_WARN);
	assert_string_equal(rep->results[3]->subject, "two");
	assert_int_equal(rep->results[3]->status, RESULT_ERROR);
	assert_string_equal(rep->results[3]->summary, "timed out while sleeping");
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
	assert_int_equal(task_set_footprint(runner_add(r, "h", result_new("t", "s",
	    RESULT_SIDE_NONE), timed_start, timed_cancel, &x[0], 0), "h", 8), 1);
	assert_int_equal(runner_run(r, rep), 0);
	assert_int_equal(rep->results[0]->status, RESULT_PASS);
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
	int refuse;       /* this task's server refuses */
	int *starts;      /* tasks started */
	int *not_tried;   /* NOT_TRIED hooks run */
	char cause[32];   /* what NOT_TRIED saw */
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
		task_set_fail_fast(t, i < 10 ? "dead.example:993" : "good.example:993",
		    ff_not_tried);
	}
	assert_int_equal(runner_run(r, rep), 0);
	/* three refusals in a row, then the other seven are not tried */
	assert_int_equal(starts, 3 + 10);
	assert_int_equal(not_tried, 7);
	assert_int_equal(runner_not_tried_count(r), 7);
	assert_string_equal(x[9].cause, "connect_failed");
	assert_int_equal(rep->n_results, 20);
	assert_int_equal(rep->results[9]->status, RESULT_ERROR);
	assert_string_equal(rep->results[9]->summary,
	    "not tried: same cause as 3 others: connection refused by 192.0.2.1:993");
	assert_int_equal(rep->results[19]->status, RESULT_PASS);
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
		t = runner_add(r, "flaky.example", result_new("imap.login", "u", RESULT_SIDE_SOURCE),
		    ff_start, NULL, &x[i], 0);
		task_set_fail_fast(t, "flaky.example:993", ff_not_tried);
	}
	assert_int_equal(runner_run(r, rep), 0);
	assert_int_equal(starts, 12);
	assert_int_equal(not_tried, 0);
	rpt_free(rep);
	runner_free(r);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
