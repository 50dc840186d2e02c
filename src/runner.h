/*
 * runner.h - one event loop, many tasks.
 *
 * The runner owns the libevent event_base, the default DNS client (c-ares on
 * the loop), the HTTP client (libcurl multi-socket on the loop), the
 * concurrency limits, the per-task deadlines and the results.
 *
 * A check module schedules tasks with runner_add(). A task is started when a
 * global slot and a slot for its host are free (tasks without a host take no
 * slot: DNS queries share one c-ares channel). Each task ends by calling
 * task_done() exactly once; its result then belongs to the runner. When the
 * deadline passes first, the runner calls the task's cancel function, which
 * must stop every operation of the task (callbacks must no longer fire) and
 * may describe where it stood in the result; the runner then completes the
 * task itself. Only the runner frees a task, after it completed.
 *
 * Ownership in one line: the caller of runner_add() gives the runner the
 * result; AUX stays the module's, and the module frees it in its own start
 * path (before task_done) or in cancel.
 */
#ifndef CUTOVER_RUNNER_H
#define CUTOVER_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "result.h"

struct dns_client;
struct http_client;
struct plan;
struct report;

struct runner_opts {
	int concurrency;              /* global in-flight connections (default 64) */
	int per_host;                 /* per server host (default 8) */
	int timeout_ms;               /* per task (default 15000) */
	const char *const *resolvers; /* ADDR[:PORT] list, NULL = system config */
	size_t n_resolvers;
	const char *ca_file; /* extra trust anchors, or NULL */
	int insecure;        /* skip certificate verification */
	int allow_plaintext; /* permit LOGIN without TLS */
	int allow_old_tls;   /* permit LOGIN over TLS 1.0/1.1 */
	int verbose;
};

struct runner;
struct task;

typedef void (*task_fn)(struct task *t, void *aux);

/*
 * Create a runner. Returns NULL with *ERR set (caller frees) when the DNS or
 * HTTP client cannot be set up (e.g. a malformed --resolver).
 */
struct runner *runner_new(const struct runner_opts *opts, char **err);
void runner_free(struct runner *r);

struct event_base *runner_base(struct runner *r);
const struct runner_opts *runner_opts(struct runner *r);
/* The default DNS client (the --resolver servers or the system's). */
struct dns_client *runner_dns(struct runner *r);
struct http_client *runner_http(struct runner *r);

/*
 * Schedule a task producing RES (ownership passes to the runner); RES NULL
 * makes a task whose only results are those attached to it (task_attach),
 * e.g. a session several checks share; only results count in runner_total
 * and runner_finished, and task_result gives an internal result whose status and summary the
 * attached results inherit when left unset. HOST names the server for the per-host limit, or NULL
 * for a task that opens no connection of its own. START runs when the task may begin; CANCEL runs
 * on the deadline (may be NULL if START always finishes synchronously). TIMEOUT_MS <= 0 takes the
 * runner's default. Returns the task (owned by the runner; valid until task_done returns).
 */
struct task *runner_add(struct runner *r, const char *host, struct result *res, task_fn start,
    task_fn cancel, void *aux, int timeout_ms);

/*
 * Lazy scheduling, for checks with a task (or a few) per mailbox: rather
 * than adding tens of thousands of tasks before the run, the schedule
 * function reserves the places of all its results in the report order
 * (runner_reserve: N places, the first returned; runner_total counts them
 * from then on) and adds a producer of N_UNITS units, one per mailbox.
 * During the run the runner calls PRODUCE(R, I, ARG) for I = 0, 1, ...,
 * N_UNITS - 1, in order, whenever fewer than RUNNER_PRODUCE_AHEAD of that
 * producer's tasks wait in the queue; PRODUCE adds unit I's tasks as a
 * schedule function would, each result in its reserved place
 * (runner_add_at, task_attach_at; task_set_fail_fast, task_set_footprint
 * as usual). So only the running tasks and a few queued ones per producer
 * are alive at once, however many mailboxes the plan has, and the report,
 * the progress counts and fail fast are as if every task had been added up
 * front. Producers are pulled side by side, each in its own order (one
 * per side keeps both servers busy). runner_stop produces the units left
 * and ends their tasks at once like queued ones ("not started:
 * interrupted"). FREE_FN (may be NULL) frees ARG in runner_free.
 */
#define RUNNER_PRODUCE_AHEAD 8

typedef void (*runner_produce_fn)(struct runner *r, size_t i, void *arg);

void runner_add_producer(struct runner *r, size_t n_units, runner_produce_fn produce, void *arg,
    void (*free_fn)(void *));
uint64_t runner_reserve(struct runner *r, size_t n);

/* runner_add and task_attach for a result whose place PLACE was reserved
 * (runner_reserve); it is not counted again in runner_total. */
struct task *runner_add_at(struct runner *r, uint64_t place, const char *host, struct result *res,
    task_fn start, task_fn cancel, void *aux, int timeout_ms);
void task_attach_at(struct task *t, uint64_t place, struct result *res);

/* Tasks alive now (queued or running) and the most seen at once. */
size_t runner_live(struct runner *r);
size_t runner_peak_live(struct runner *r);

/*
 * Before T starts: it holds WEIGHT connections to its host and, when HOST2 is
 * given, WEIGHT more to HOST2 (a sync holds both servers). The per-host and
 * global limits count them all. WEIGHT is clamped so the task fits the
 * limits at all; returns the weight granted (task_weight), which is how many
 * connections per host the task may open.
 */
int task_set_footprint(struct task *t, const char *host2, int weight);
int task_weight(const struct task *t);

/* The result to fill, the runner, and when the task started (monotonic ms). */
struct result *task_result(struct task *t);
struct runner *task_runner(struct task *t);
int64_t task_started_ms(struct task *t);

/*
 * Finish the task: the result is final and goes to the report, the slots are
 * released and queued tasks start. A result whose status was never set becomes
 * an error. Must be called exactly once, never from CANCEL.
 */
void task_done(struct task *t);

/*
 * A task that hands several results (one IMAP session serving several
 * checks of a mailbox): attach RES (ownership passes to the runner) to T,
 * which must not have completed yet (typically right after runner_add, or
 * from another check's schedule function before the run). RES takes its
 * place in the report order now and counts in runner_total; it goes to the
 * report when T completes, with T's duration. A RES whose status was never
 * set by then takes T's status and summary (e.g. "timed out after 15.0 s").
 */
void task_attach(struct task *t, struct result *res);

/*
 * Fail fast on a dead server. A task whose work begins with a connection to
 * one server opts in before the run with task_set_fail_fast(T, TARGET,
 * NOT_TRIED), TARGET naming the server ("host:port"), and says how the
 * connection went with task_host_outcome() before it completes (from its
 * start path or its cancel): CAUSE NULL when the server answered (a greeting,
 * a TLS handshake, even a refused login), else the class of the failure
 * ("connect_failed", "tls_failed", "timeout") with TEXT, the readable reason
 * ("connection refused by 127.0.0.1:993"; copied). When 3 tasks in a row on
 * one target failed with the same CAUSE, the target is dead: its queued
 * fail-fast tasks are never started; each ends at once with status error and
 * the summary "not tried: same cause as N others: TEXT", after which the
 * runner calls NOT_TRIED(T, AUX) (may be NULL) so that the module can add its
 * details and free AUX (START and CANCEL are not called for such a task).
 * NOT_TRIED also runs for a queued task when runner_stop() ends the run
 * (then with the summary "not started: interrupted" and no cause).
 * Tasks already running finish on their own. A 200-mailbox run against a
 * silent server thus takes about two timeouts, not 200 / per_host of them.
 */
void task_set_fail_fast(struct task *t, const char *target, task_fn not_tried);
void task_host_outcome(struct task *t, const char *cause, const char *text);
/* In NOT_TRIED: the CAUSE that made T's target dead (owned by the runner), or
 * NULL when the run was interrupted. */
const char *task_not_tried_cause(struct task *t);
/* How many tasks ended as "not tried" so far (for summaries and tests). */
size_t runner_not_tried_count(struct runner *r);

/*
 * State a module shares between its checks' schedule functions for one run
 * (e.g. the IMAP session of each mailbox): the object stored under KEY (the
 * address of something of the module's), or NULL. runner_set_shared stores
 * OBJ under KEY (a new KEY; the caller checked runner_shared first); FREE_FN
 * (may be NULL) frees it first thing in runner_free, before the loop is freed.
 */
void *runner_shared(struct runner *r, const void *key);
void runner_set_shared(struct runner *r, const void *key, void *obj, void (*free_fn)(void *));

/*
 * Run the loop until every scheduled task has completed and every producer
 * is done (or runner_stop was called). Results move into REP (rpt_add:
 * out of memory, into its spool) as soon as their task completes, so a
 * module must not touch a result after that; at the end they are in
 * schedule order (reserved places included). Returns 0, or
 * -1 if the loop failed.
 */
int runner_run(struct runner *r, struct report *rep);

/* Ask runner_run to return soon: pending tasks are cancelled as on a timeout,
 * with the reason "interrupted". Safe to call from a signal event. */
void runner_stop(struct runner *r);

/*
 * During runner_run: put the results finished so far in its report in
 * schedule order (what runner_run hands over at its end), for reports
 * written during a run. Nothing outside runner_run.
 */
void runner_sort_results(struct runner *r);

/* Results scheduled (or reserved), finished, and the most connections seen
 * in flight at once (for one HOST when given), for progress lines and tests. */
size_t runner_total(struct runner *r);
size_t runner_finished(struct runner *r);
int runner_peak_in_flight(struct runner *r, const char *host);

#endif
