/*
 * runner.c - the event loop, the task queue and the limits. See runner.h.
 *
 * Tasks wait in one FIFO queue. runner_pump() starts, in order, every queued
 * task whose global and per-host slots are free; it runs whenever a task is
 * added or finishes. A finishing task may start others synchronously from
 * inside its own callback, so the pump guards against re-entry and loops
 * instead of recursing. When a pass leaves a producer (runner_add_producer)
 * with fewer than RUNNER_PRODUCE_AHEAD tasks queued, the pump asks it for its
 * next units and passes again, so a producer's tasks are made just before
 * slots can take them and the live set stays bounded.
 */
#include "runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "fdlimit.h"
#include "http.h"
#include "report.h"
#include "util.h"

enum task_state { TASK_QUEUED, TASK_RUNNING, TASK_DONE };

struct host_slot {
	char *name;
	int in_flight;
	int peak;
	size_t queued; /* tasks waiting with this as their host */
	struct host_slot *next;
};

/*
 * Fail fast on a dead server: what the tasks on one "host:port" target told
 * about reaching it (task_host_outcome). RUNNER_FAILFAST_AFTER failures in a
 * row with the same cause make the target dead; from then on its queued
 * fail-fast tasks end at once as "not tried" instead of each waiting out its
 * own timeout.
 */
#define RUNNER_FAILFAST_AFTER 3

struct ff_target {
	char *name;       /* "host:port" */
	char *cause;      /* class of the current run of failures */
	char *text;       /* the first failure of the run, as reported */
	size_t in_a_row;  /* failures with CAUSE in a row */
	size_t not_tried; /* tasks ended without trying */
	int dead;
	struct ff_target *next;
};

struct producer {
	runner_produce_fn produce;
	void *arg;
	void (*free_fn)(void *);
	size_t n_units, next; /* units in all, the next to produce */
	size_t queued;        /* its tasks waiting in the queue */
	struct producer *next_p;
};

struct task {
	struct runner *r;
	struct producer *prod; /* made by this producer, or NULL */
	struct task *next;     /* queue link while queued */
	enum task_state state;
	struct host_slot *host;  /* NULL: takes no slot */
	struct host_slot *host2; /* a second server it connects to, or NULL */
	int weight;              /* connections it holds on each of its hosts */
	struct result *res;
	task_fn start, cancel;
	void *aux;
	int timeout_ms;
	int64_t started_ms;
	struct event *timer;
	struct result **attached; /* task_attach: more results this task hands */
	size_t n_attached;
	int hidden;               /* runner_add without a result: RES is internal */
	struct ff_target *ff;     /* task_set_fail_fast target, or NULL */
	task_fn not_tried;        /* fills RES when the task is not tried */
	char *ff_cause, *ff_text; /* task_host_outcome: a failure to report */
	int ff_reached;           /* task_host_outcome: the server answered */
	int no_slots;             /* ended from the queue: holds no slot */
};

struct shared {
	const void *key;
	void *obj;
	void (*free_fn)(void *);
	struct shared *next;
};

struct runner {
	struct runner_opts opts;
	struct event_base *base;
	struct dns_client *dns;
	struct http_client *http;
	struct task *queue_head, **queue_tail;
	struct host_slot *hosts;
	int in_flight, peak;
	size_t total, finished;
	uint64_t seq;
	struct result **done; /* finished before runner_run had a report */
	size_t n_done, cap_done;
	struct task **running; /* to cancel on stop */
	size_t n_running, cap_running;
	int pumping, pump_again, stopping;
	size_t queued_hostless;    /* tasks waiting that take no slot */
	struct shared *shared;     /* runner_set_shared */
	struct ff_target *targets; /* fail-fast state per host:port */
	struct report *rep;        /* runner_run's: finished results go there */
	size_t rep_from;           /* its first result of this run */
	struct producer *producers, **producers_tail;
	struct producer *producing; /* whose PRODUCE runs now: its tasks are its */
	size_t live, peak_live;     /* tasks queued or running */
};

struct event_base *
runner_base(struct runner *r)
{
	return r->base;
}
const struct runner_opts *
runner_opts(struct runner *r)
{
	return &r->opts;
}
struct dns_client *
runner_dns(struct runner *r)
{
	return r->dns;
}
struct http_client *
runner_http(struct runner *r)
{
	return r->http;
}
struct result *
task_result(struct task *t)
{
	return t->res;
}
struct runner *
task_runner(struct task *t)
{
	return t->r;
}
int64_t
task_started_ms(struct task *t)
{
	return t->started_ms;
}
size_t
runner_total(struct runner *r)
{
	return r->total;
}
size_t
runner_finished(struct runner *r)
{
	return r->finished;
}
size_t
runner_live(struct runner *r)
{
	return r->live;
}
size_t
runner_peak_live(struct runner *r)
{
	return r->peak_live;
}

/*
 * Fit the connection limits to the file descriptors (src/fdlimit.h): the
 * soft limit is raised first; what is still too high is lowered, and said
 * once per process on stderr. Each DNS server may hold a UDP and a TCP socket.
 */
static void
runner_fit_descriptors(struct runner *r)
{
	static int said;
	char notice[320];

	if (fdlimit_clamp(&r->opts.concurrency, &r->opts.per_host,
	        2 * (long)(r->opts.n_resolvers > 0 ? r->opts.n_resolvers : 3), notice,
	        sizeof(notice)) &&
	    !said) {
		fprintf(stderr, "cutover: notice: %s\n", notice);
		said = 1;
	}
}

struct runner *
runner_new(const struct runner_opts *opts, char **err)
{
	struct runner *r = xcalloc(1, sizeof(*r));

	*err = NULL;
	r->opts = *opts;
	if (r->opts.concurrency <= 0)
		r->opts.concurrency = 64;
	if (r->opts.per_host <= 0)
		r->opts.per_host = 8;
	if (r->opts.timeout_ms <= 0)
		r->opts.timeout_ms = 15000;
	runner_fit_descriptors(r);
	r->queue_tail = &r->queue_head;
	r->producers_tail = &r->producers;
	r->base = event_base_new();
	if (r->base == NULL) {
		*err = xstrdup("cannot create the event loop");
		goto fail;
	}
	/* DNS answers must come before the task deadline: leave it a margin.
	 * RAW_RCODE: without it c-ares 1.18 turns a SERVFAIL or REFUSED answer
	 * into "connection refused" once no server is left to try, and checks
	 * must say which it was. */
	r->dns = dns_client_new(r->base, opts->resolvers, opts->n_resolvers, DNS_FLAG_RAW_RCODE,
	    r->opts.timeout_ms * 3 / 4, 2, err);
	if (r->dns == NULL)
		goto fail;
	r->http = http_client_new(r->base, err);
	if (r->http == NULL)
		goto fail;
	return r;
fail:
	runner_free(r);
	return NULL;
}

void
runner_free(struct runner *r)
{
	if (r == NULL)
		return;
	while (r->shared != NULL) {
		struct shared *sh = r->shared;

		r->shared = sh->next;
		if (sh->free_fn != NULL)
			sh->free_fn(sh->obj);
		free(sh);
	}
	while (r->queue_head != NULL) {
		struct task *t = r->queue_head;

		r->queue_head = t->next;
		result_free(t->res);
		free(t->ff_cause);
		free(t->ff_text);
		for (size_t i = 0; i < t->n_attached; i++)
			result_free(t->attached[i]);
		free(t->attached);
		free(t);
	}
	for (size_t i = 0; i < r->n_done; i++)
		result_free(r->done[i]);
	free(r->done);
	free(r->running);
	while (r->targets != NULL) {
		struct ff_target *f = r->targets;

		r->targets = f->next;
		free(f->name);
		free(f->cause);
		free(f->text);
		free(f);
	}
	while (r->hosts != NULL) {
		struct host_slot *h = r->hosts;

		r->hosts = h->next;
		free(h->name);
		free(h);
	}
	http_client_free(r->http);
	dns_client_free(r->dns);
	if (r->base != NULL)
		event_base_free(r->base);
	free(r);
}

static struct host_slot *
runner_host(struct runner *r, const char *name, int create)
{
	struct host_slot *h;

	for (h = r->hosts; h != NULL; h = h->next)
		if (util_strieq(h->name, name))
			return h;
	if (!create)
		return NULL;
	h = xcalloc(1, sizeof(*h));
	h->name = xstrdup(name);
	h->next = r->hosts;
	r->hosts = h;
	return h;
}

int
runner_peak_in_flight(struct runner *r, const char *host)
{
	struct host_slot *h;

	if (host == NULL)
		return r->peak;
	h = runner_host(r, host, 0);
	return h != NULL ? h->peak : 0;
}

static void runner_pump(struct runner *r);
static void runner_finish(struct task *t);

static void
runner_record(struct runner *r, struct result *res)
{
	/* Finished: it leaves memory for the report's spool until it is written. */
	if (r->rep != NULL) {
		rpt_add(r->rep, res);
		return;
	}
	if (r->n_done == r->cap_done) {
		r->cap_done = r->cap_done ? r->cap_done * 2 : 64;
		r->done = xrealloc(r->done, r->cap_done * sizeof(*r->done));
	}
	r->done[r->n_done++] = res;
}

/* Take (DIR +1) or give back (-1) the connection slots of T: WEIGHT on each
 * of its hosts, and as many in the global count. */
static void
runner_slots(struct task *t, int dir)
{
	struct runner *r = t->r;
	struct host_slot *hs[2] = {t->host, t->host2};

	for (int i = 0; i < 2; i++) {
		if (hs[i] == NULL)
			continue;
		hs[i]->in_flight += dir * t->weight;
		r->in_flight += dir * t->weight;
		if (hs[i]->in_flight > hs[i]->peak)
			hs[i]->peak = hs[i]->in_flight;
	}
	if (r->in_flight > r->peak)
		r->peak = r->in_flight;
}

/* 1 when T's slots are free now. */
static int
runner_fits(const struct task *t)
{
	const struct runner *r = t->r;
	int same = t->host2 == t->host;
	const struct host_slot *hs[2] = {t->host, same ? NULL : t->host2};

	if (t->host == NULL)
		return 1;
	for (int i = 0; i < 2; i++) {
		int need = t->weight * (i == 0 && same ? 2 : 1);

		if (hs[i] != NULL && hs[i]->in_flight + need > r->opts.per_host)
			return 0;
	}
	return r->in_flight + t->weight * (t->host2 != NULL ? 2 : 1) <= r->opts.concurrency;
}

/* Count what T reported about reaching its fail-fast target. */
static void
runner_ff_account(struct task *t)
{
	struct ff_target *f = t->ff;

	if (f == NULL)
		return;
	if (t->ff_reached) {
		f->in_a_row = 0;
		return;
	}
	if (t->ff_cause == NULL)
		return; /* nothing said (not tried, or no connection made) */
	if (f->cause == NULL || strcmp(f->cause, t->ff_cause) != 0) {
		free(f->cause);
		free(f->text);
		f->cause = t->ff_cause;
		f->text = t->ff_text;
		t->ff_cause = t->ff_text = NULL; /* transferred */
		f->in_a_row = 0;
	}
	f->in_a_row++;
	if (f->in_a_row >= RUNNER_FAILFAST_AFTER)
		f->dead = 1;
}

/* End queued T without starting it: its target is dead. */
static void
runner_not_tried(struct task *t)
{
	struct ff_target *f = t->ff;

	t->state = TASK_RUNNING;
	t->no_slots = 1;
	f->not_tried++;
	result_set(
	    t->res, RESULT_ERROR, "not tried: same cause as %zu others: %s", f->in_a_row, f->text);
	if (t->not_tried != NULL)
		t->not_tried(t, t->aux);
	runner_finish(t);
}

/* Complete T: record its results, free the task, release its slots. */
static void
runner_finish(struct task *t)
{
	struct runner *r = t->r;

	t->state = TASK_DONE;
	if (t->timer != NULL)
		event_free(t->timer);
	runner_ff_account(t);
	if (!t->res->status_set)
		result_set(
		    t->res, RESULT_ERROR, "the check ended without a result (internal error)");
	t->res->duration_ms = t->started_ms ? util_now_ms() - t->started_ms : 0;
	for (size_t i = 0; i < t->n_attached; i++) {
		struct result *a = t->attached[i];

		/* Not filled: it shares the task's fate ("timed out after 15.0 s"). */
		if (!a->status_set)
			result_set(a, t->res->status, "%s", t->res->summary);
		a->duration_ms = t->res->duration_ms;
		runner_record(r, a);
		r->finished++;
	}
	free(t->attached);
	/* Last: recording it hands it to the report, which frees it. */
	if (!t->hidden) {
		runner_record(r, t->res);
		r->finished++;
	} else {
		result_free(t->res);
	}
	t->res = NULL;
	for (size_t i = 0; i < r->n_running; i++) {
		if (r->running[i] == t) {
			r->running[i] = r->running[--r->n_running];
			break;
		}
	}
	if (!t->no_slots)
		runner_slots(t, -1);
	r->live--;
	free(t->ff_cause);
	free(t->ff_text);
	free(t);
	runner_pump(r);
}

void
task_done(struct task *t)
{
	runner_finish(t);
}

static void
runner_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct task *t = arg;
	struct runner *r = t->r;

	(void)fd;
	(void)what;
	if (r->stopping)
		result_set(t->res, RESULT_ERROR, "interrupted before the check finished");
	else
		result_set(t->res, RESULT_ERROR, "timed out after %.1f s", t->timeout_ms / 1000.0);
	/* The module may replace the summary with where it stood. */
	if (t->cancel != NULL)
		t->cancel(t, t->aux);
	runner_finish(t);
}

static void
runner_start(struct task *t)
{
	struct runner *r = t->r;

	t->state = TASK_RUNNING;
	t->started_ms = util_now_ms();
	runner_slots(t, +1);
	if (r->n_running == r->cap_running) {
		r->cap_running = r->cap_running ? r->cap_running * 2 : 64;
		r->running = xrealloc(r->running, r->cap_running * sizeof(*r->running));
	}
	r->running[r->n_running++] = t;
	if (t->cancel != NULL) {
		struct timeval tv = {t->timeout_ms / 1000, (t->timeout_ms % 1000) * 1000};

		t->timer = evtimer_new(r->base, runner_deadline, t);
		if (t->timer == NULL)
			abort();
		evtimer_add(t->timer, &tv);
	}
	t->start(t, t->aux); /* may finish T at once */
}

/*
 * 1 when no queued task can start now: none takes no slot, and the global
 * limit or every host with tasks waiting is full. With tens of thousands of
 * tasks queued this spares a walk of the whole queue on every completion
 * (which made a big audit's time grow with the square of its mailboxes).
 */
static int
runner_full(const struct runner *r)
{
	if (r->queued_hostless > 0)
		return 0;
	if (r->in_flight >= r->opts.concurrency)
		return 1;
	for (const struct host_slot *h = r->hosts; h != NULL; h = h->next)
		if (h->queued > 0 && h->in_flight < r->opts.per_host)
			return 0;
	return 1;
}

/* T leaves the queue (started or cancelled). */
static void
runner_dequeued(struct task *t)
{
	if (t->prod != NULL)
		t->prod->queued--;
	if (t->host != NULL)
		t->host->queued--;
	else
		t->r->queued_hostless--;
}

/* P adds the tasks of its next unit. */
static void
runner_produce_next(struct runner *r, struct producer *p)
{
	r->producing = p;
	p->produce(r, p->next++, p->arg);
	r->producing = NULL;
}

/* Ask each producer running low for its next units (in its order). Returns
 * 1 when any unit was produced. */
static int
runner_refill(struct runner *r)
{
	int made = 0;

	for (struct producer *p = r->producers; p != NULL; p = p->next_p) {
		while (p->next < p->n_units && p->queued < RUNNER_PRODUCE_AHEAD) {
			runner_produce_next(r, p);
			made = 1;
		}
	}
	return made;
}

/* 1 while a producer has units left. */
static int
runner_unproduced(const struct runner *r)
{
	for (const struct producer *p = r->producers; p != NULL; p = p->next_p)
		if (p->next < p->n_units)
			return 1;
	return 0;
}

static void
runner_pump(struct runner *r)
{
	if (r->pumping) {
		r->pump_again = 1;
		return;
	}
	r->pumping = 1;
	do {
		struct task **pp = &r->queue_head;

		r->pump_again = 0;
		/* Only this loop takes tasks out of the queue (runner_add appends,
		 * runner_stop sets STOPPING first), so PP stays valid across a start. */
		while (!r->stopping && *pp != NULL && !runner_full(r)) {
			struct task *t = *pp;
			int dead = t->ff != NULL && t->ff->dead;

			if (!dead && !runner_fits(t)) {
				pp = &t->next;
				continue;
			}
			*pp = t->next;
			if (r->queue_tail == &t->next)
				r->queue_tail = pp;
			t->next = NULL;
			runner_dequeued(t);
			/* Starting (or ending a task whose host is dead) may finish
			 * tasks at once: their slots come free, and the re-entrant pump
			 * asks (PUMP_AGAIN) for a pass from the head, so that a task
			 * skipped above starts first (FIFO). */
			if (dead)
				runner_not_tried(t);
			else
				runner_start(t);
			if (r->pump_again)
				break;
		}
		/* Queued tasks of a producer started: make the next ones. */
		if (!r->pump_again && !r->stopping && runner_refill(r))
			r->pump_again = 1;
	} while (r->pump_again && !r->stopping);
	r->pumping = 0;
}

/* runner_add with RES's place in the report order: PLACE, or a new one
 * (counted in runner_total) when NEW_PLACE. */
static struct task *
runner_add_placed(struct runner *r, int new_place, uint64_t place, const char *host,
    struct result *res, task_fn start, task_fn cancel, void *aux, int timeout_ms)
{
	struct task *t = xcalloc(1, sizeof(*t));

	t->r = r;
	if (res == NULL) {
		t->hidden = 1;
		res = result_new("runner.task", NULL, RESULT_SIDE_NONE);
	} else if (new_place) {
		res->seq = r->seq++;
		r->total++;
	} else {
		res->seq = place;
	}
	t->res = res;
	t->prod = r->producing;
	if (t->prod != NULL)
		t->prod->queued++;
	t->start = start;
	t->cancel = cancel;
	t->aux = aux;
	t->timeout_ms = timeout_ms > 0 ? timeout_ms : r->opts.timeout_ms;
	t->host = host != NULL ? runner_host(r, host, 1) : NULL;
	if (t->host != NULL)
		t->host->queued++;
	else
		r->queued_hostless++;
	t->weight = 1;
	*r->queue_tail = t;
	r->queue_tail = &t->next;
	if (++r->live > r->peak_live)
		r->peak_live = r->live;
	return t;
}

struct task *
runner_add(struct runner *r, const char *host, struct result *res, task_fn start, task_fn cancel,
    void *aux, int timeout_ms)
{
	return runner_add_placed(r, 1, 0, host, res, start, cancel, aux, timeout_ms);
}

struct task *
runner_add_at(struct runner *r, uint64_t place, const char *host, struct result *res, task_fn start,
    task_fn cancel, void *aux, int timeout_ms)
{
	return runner_add_placed(r, 0, place, host, res, start, cancel, aux, timeout_ms);
}

void
task_attach_at(struct task *t, uint64_t place, struct result *res)
{
	if (t->state == TASK_DONE)
		abort(); /* a programming error: the task is gone */
	res->seq = place;
	t->attached = xrealloc(t->attached, (t->n_attached + 1) * sizeof(*t->attached));
	t->attached[t->n_attached++] = res;
}

void
task_attach(struct task *t, struct result *res)
{
	struct runner *r = t->r;

	task_attach_at(t, r->seq++, res);
	r->total++;
}

uint64_t
runner_reserve(struct runner *r, size_t n)
{
	uint64_t first = r->seq;

	r->seq += n;
	r->total += n;
	return first;
}

/* Free a producer and its ARG (runner_free, with the shared state). */
static void
runner_producer_free(void *obj)
{
	struct producer *p = obj;

	if (p->free_fn != NULL)
		p->free_fn(p->arg);
	free(p);
}

void
runner_add_producer(
    struct runner *r, size_t n_units, runner_produce_fn produce, void *arg, void (*free_fn)(void *))
{
	struct producer *p = xcalloc(1, sizeof(*p));

	p->produce = produce;
	p->arg = arg;
	p->free_fn = free_fn;
	p->n_units = n_units;
	*r->producers_tail = p;
	r->producers_tail = &p->next_p;
	runner_set_shared(r, p, p, runner_producer_free);
}

void *
runner_shared(struct runner *r, const void *key)
{
	for (struct shared *sh = r->shared; sh != NULL; sh = sh->next)
		if (sh->key == key)
			return sh->obj;
	return NULL;
}

void
runner_set_shared(struct runner *r, const void *key, void *obj, void (*free_fn)(void *))
{
	struct shared *sh = xcalloc(1, sizeof(*sh));

	sh->key = key;
	sh->obj = obj;
	sh->free_fn = free_fn;
	sh->next = r->shared;
	r->shared = sh;
}

/* runner_stop: end every queued task without starting it. */
static void
runner_drop_queue(struct runner *r)
{
	while (r->queue_head != NULL) {
		struct task *t = r->queue_head;

		r->queue_head = t->next;
		runner_dequeued(t);
		result_set(t->res, RESULT_SKIP, "not started: interrupted");
		t->next = NULL;
		t->no_slots = 1; /* it never took any */
		if (t->not_tried != NULL) {
			t->state = TASK_RUNNING;
			t->not_tried(t, t->aux); /* the module frees its aux */
		}
		runner_finish(t);
	}
	r->queue_tail = &r->queue_head;
}

void
runner_stop(struct runner *r)
{
	r->stopping = 1;
	/* Running tasks end as on their deadline; queued ones never start. */
	while (r->n_running > 0) {
		struct task *t = r->running[r->n_running - 1];

		if (t->timer != NULL)
			evtimer_del(t->timer);
		runner_deadline(-1, 0, t);
	}
	runner_drop_queue(r);
	/* The units not produced yet end the same way, one at a time. */
	for (struct producer *p = r->producers; p != NULL; p = p->next_p) {
		while (p->next < p->n_units) {
			runner_produce_next(r, p);
			runner_drop_queue(r);
		}
	}
	event_base_loopbreak(r->base);
}

void
runner_sort_results(struct runner *r)
{
	if (r->rep != NULL)
		rpt_sort(r->rep, r->rep_from);
}

int
runner_run(struct runner *r, struct report *rep)
{
	int rc = 0;

	r->rep = rep;
	r->rep_from = rep->n_results;
	rpt_reserve(rep, r->total); /* every place is known (reserved) by now */
	for (size_t i = 0; i < r->n_done; i++)
		rpt_add(rep, r->done[i]);
	r->n_done = 0;
	runner_pump(r);
	while (!r->stopping && (r->live > 0 || r->finished < r->total || runner_unproduced(r))) {
		int lr;

		/* A producer added during the run (from a callback) starts here. */
		if (r->queue_head == NULL && runner_unproduced(r)) {
			runner_pump(r);
			continue;
		}
		lr = event_base_loop(r->base, EVLOOP_ONCE);

		if (lr < 0) {
			rc = -1;
			break;
		}
		if (lr == 1) {
			/* Tasks are open but nothing is left to wait for: a module
			 * lost track of one. End them rather than spin. */
			runner_stop(r);
			break;
		}
	}
	rpt_sort(rep, r->rep_from);
	r->rep = NULL;
	return rc;
}

int
task_set_footprint(struct task *t, const char *host2, int weight)
{
	const struct runner *r = t->r;
	int hosts, cap;

	if (t->state != TASK_QUEUED || t->host == NULL)
		return t->weight;
	t->host2 = host2 != NULL ? runner_host(t->r, host2, 1) : NULL;
	hosts = t->host2 != NULL ? 2 : 1;
	/* Never more than the limits allow, or the task could never start. */
	cap = t->host2 == t->host ? r->opts.per_host / 2 : r->opts.per_host;
	if (r->opts.concurrency / hosts < cap)
		cap = r->opts.concurrency / hosts;
	t->weight = weight < 1 ? 1 : weight > cap ? (cap < 1 ? 1 : cap) : weight;
	return t->weight;
}

int
task_weight(const struct task *t)
{
	return t->weight;
}

void
task_set_fail_fast(struct task *t, const char *target, task_fn not_tried)
{
	struct runner *r = t->r;
	struct ff_target *f;

	if (t->state != TASK_QUEUED || target == NULL)
		return;
	for (f = r->targets; f != NULL; f = f->next)
		if (util_strieq(f->name, target))
			break;
	if (f == NULL) {
		f = xcalloc(1, sizeof(*f));
		f->name = xstrdup(target);
		f->next = r->targets;
		r->targets = f;
	}
	t->ff = f;
	t->not_tried = not_tried;
}

void
task_host_outcome(struct task *t, const char *cause, const char *text)
{
	if (t->ff == NULL || t->ff_reached || t->ff_cause != NULL)
		return; /* the first word counts */
	if (cause == NULL) {
		t->ff_reached = 1;
		return;
	}
	t->ff_cause = xstrdup(cause);
	t->ff_text = xstrdup(text != NULL && text[0] != '\0' ? text : cause);
}

size_t
runner_not_tried_count(struct runner *r)
{
	size_t n = 0;

	for (const struct ff_target *f = r->targets; f != NULL; f = f->next)
		n += f->not_tried;
	return n;
}

const char *
task_not_tried_cause(struct task *t)
{
	return t->ff != NULL && t->ff->dead && !t->r->stopping ? t->ff->cause : NULL;
}
