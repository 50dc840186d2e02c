/* cmd_sync.c - `cutover sync PLAN`: the resumable delta sync (src/sync.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checks/check.h"
#include "cli.h"
#include "reports/json.h"
#include "src/plan.h"
#include "src/report.h"
#include "src/runner.h"
#include "src/shard.h"
#include "src/sync.h"
#include "src/syncstate.h"
#include "src/util.h"

enum {
	OPT_MAILBOX = CLI_OPT_COMMAND,
	OPT_SHARD,
	OPT_FOLDERS,
	OPT_EXCLUDE,
	OPT_DRY_RUN,
	OPT_MAX_RATE,
	OPT_JOBS,
	OPT_BATCH,
	OPT_NO_MULTIAPPEND,
	OPT_STATE_DIR,
	OPT_NO_COMPARE,
	OPT_VERIFY,
	OPT_STATUS,
	OPT_DELETE,
	OPT_SINCE,
};

#define SYNC_MAX_GLOBS 64
#define SYNC_MAX_USERS 256
#define SYNC_PROGRESS_MS 500       /* the live line on a terminal */
#define SYNC_PROGRESS_LOG_MS 10000 /* one line per period without a terminal */
#define SYNC_PARTIAL_MS                                                                            \
	30000 /* --json rewritten with "partial": true (a                                          \
	       * multiple of SYNC_PROGRESS_LOG_MS) */

static const struct option sync_options[] = {
    {"mailbox", required_argument, NULL, OPT_MAILBOX},
    {"shard", required_argument, NULL, OPT_SHARD},
    {"folders", required_argument, NULL, OPT_FOLDERS},
    {"exclude", required_argument, NULL, OPT_EXCLUDE},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"max-rate", required_argument, NULL, OPT_MAX_RATE},
    {"jobs", required_argument, NULL, OPT_JOBS},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"no-multiappend", no_argument, NULL, OPT_NO_MULTIAPPEND},
    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
    {"no-compare", no_argument, NULL, OPT_NO_COMPARE},
    {"verify", no_argument, NULL, OPT_VERIFY},
    {"status", no_argument, NULL, OPT_STATUS},
    {"delete", no_argument, NULL, OPT_DELETE},
    {"since", required_argument, NULL, OPT_SINCE},
    {NULL, 0, NULL, 0},
};

static struct {
	const char *users[SYNC_MAX_USERS];
	size_t n_users;
	unsigned shard_k, shard_n;
	const char *folders[SYNC_MAX_GLOBS];
	size_t n_folders;
	const char *exclude[SYNC_MAX_GLOBS];
	size_t n_exclude;
	int dry_run, no_multiappend, no_compare, verify, status, delete_vanished;
	int64_t since; /* --since, seconds since the epoch; 0 = none */
	double max_msgs, max_bytes;
	long jobs, batch;
	const char *state_dir;
} sync_cli;

static void
sync_help(FILE *out)
{
	fputs("Usage: cutover sync PLAN [OPTIONS]\n"
	      "\n"
	      "Copy every message the destination does not have yet, for every mailbox pair\n"
	      "of the plan: a first full pass weeks ahead, delta passes, the final pass after\n"
	      "the MX flip (cutover propagation --then 'cutover sync plan.json'). Run it as\n"
	      "often as you like, kill it, restart it: a message is never copied twice and\n"
	      "never lost. Messages are copied byte for byte (no header added), with their\n"
	      "flags, keywords and INTERNALDATE; duplicates and messages without a Message-ID\n"
	      "are copied like any other.\n"
	      "\n"
	      "Messages copied by an earlier pass follow the source: flags and keywords\n"
	      "changed there since are changed on the destination (a change made only on\n"
	      "the destination is kept; both changed: the union, counted as a conflict).\n"
	      "\n"
	      "Folders map by special use first (\\Sent to the destination's \\Sent, e.g.\n"
	      "\"Sent Items\"), then by name with the hierarchy delimiter translated\n"
	      "(Archive.2019 -> Archive/2019). A name holding the destination's delimiter\n"
	      "gets it replaced by '-' (Clients/Partners -> Clients-Partners; the report\n"
	      "lists every rewrite). Missing folders are created.\n"
	      "\n"
	      "The plan's \"sync\" object (folders, exclude, since, delete, folder_map) holds\n"
	      "the settings every pass of the plan uses; options given here override them.\n"
	      "\n"
	      "State lives in the plan's state_dir (default .cutover next to the plan):\n"
	      "sync.db, SQLite, mode 0600, no passwords. Keep it between passes; deleting it\n"
	      "makes the next pass copy everything again.\n"
	      "\n"
	      "Options:\n"
	      "  --mailbox USER       sync only this mailbox (source or destination user;\n"
	      "                       repeatable)\n"
	      "  --shard K/N          sync only shard K of N of the mailboxes (as audit)\n"
	      "  --folders GLOB       only source folders matching GLOB (fnmatch on the UTF-8\n"
	      "                       name with the source's delimiter; repeatable)\n"
	      "  --exclude GLOB       leave out source folders matching GLOB (repeatable)\n"
	      "  --dry-run            say what would be copied; change nothing on the servers\n"
	      "  --max-rate RATE      at most RATE messages per second (\"20\"), or bytes per\n"
	      "                       second with a K/M/G suffix (\"5M\"); both may be given\n"
	      "  --jobs N             folders copied in parallel per mailbox (default 2; each\n"
	      "                       uses one connection per side)\n"
	      "  --batch N            messages per MULTIAPPEND command (default 100)\n"
	      "  --no-multiappend     one message per APPEND even when MULTIAPPEND is offered\n"
	      "  --state-dir DIR      keep the state here instead of the plan's state_dir\n"
	      "  --no-compare         do not end with the mailbox.compare check\n"
	      "  --verify             check every message the state says was copied by size\n"
	      "                       and SHA-256 on the destination (streamed), and every\n"
	      "                       source message for a record; copy again what is\n"
	      "                       missing (never twice). Without it each pass counts\n"
	      "                       the recorded copies on the destination.\n"
	      "  --since DAY          copy only messages with an INTERNALDATE on or after DAY\n"
	      "                       (YYYY-MM-DD, 00:00 UTC); older ones stay where they are\n"
	      "                       and a later pass without it copies them\n"
	      "  --delete             expunge on the destination the copies whose source\n"
	      "                       message is gone; only copies cutover made, by UID\n"
	      "                       EXPUNGE (servers without UIDPLUS: reported, not\n"
	      "                       deleted). Without it they are counted as\n"
	      "                       deleted_pending. A message moved to another folder\n"
	      "                       at the source is moved on the destination, with or\n"
	      "                       without --delete (reported as moved).\n"
	      "  --status             connect to nothing: print, per mailbox, the last pass\n"
	      "                       (when, result, copied, errors) and what the state holds\n"
	      "                       (copied, failed and waiting to be retried, interrupted\n"
	      "                       copies to reconcile); --json writes it as a report\n"
	      "\n"
	      "--per-host and --concurrency count every connection: a mailbox with N jobs\n"
	      "holds N to each server (fewer when the limits are lower); --timeout is how\n"
	      "long a mailbox may make no progress at all (progress: a message started or\n"
	      "copied, or 16 KiB moved; keep-alive noise and trickles are none). After\n"
	      "giving up on a server, sync sends it no LOGOUT and no mailbox.compare.\n"
	      "A server asking to slow down ([THROTTLED], [UNAVAILABLE], \"Suggested Backoff\n"
	      "Time\") gets a pause and a retry, not a failure.\n"
	      "\n"
	      "Examples:\n"
	      "  cutover sync plan.json --dry-run\n"
	      "  cutover sync plan.json --verify --json verified.json\n"
	      "  cutover sync plan.json --status\n"
	      "  cutover sync plan.json --json sync.json\n"
	      "  cutover sync plan.json --mailbox alice@example.com --exclude 'Junk*'\n"
	      "  cutover sync plan.json --max-rate 50 --max-rate 10M --per-host 4\n"
	      "  cutover propagation example.com --expect-mx '*.outlook.com' --watch \\\n"
	      "      --then 'cutover sync plan.json --json final-sync.json'\n"
	      "\n",
	    out);
}

/* "20" messages/s, or "5M" / "512K" / "1G" bytes/s. */
static int
sync_parse_rate(struct cli *c, const char *arg)
{
	char *end;
	double v = strtod(arg, &end);
	double mult = 0;

	if (end == arg || v <= 0 || v > 1e12)
		return cli_value_error(c, "--max-rate", arg,
		    "a positive number of messages per "
		    "second, or bytes with K/M/G (\"5M\")");
	if (*end == '\0') {
		sync_cli.max_msgs = v;
		return CLI_CONTINUE;
	}
	switch (toupper((unsigned char)*end)) {
	case 'B': mult = 1; break;
	case 'K': mult = 1024; break;
	case 'M': mult = 1024 * 1024; break;
	case 'G': mult = 1024.0 * 1024 * 1024; break;
	}
	if (mult == 0 ||
	    (end[1] != '\0' && !(toupper((unsigned char)end[1]) == 'B' && end[2] == '\0')))
		return cli_value_error(c, "--max-rate", arg,
		    "a positive number of messages per "
		    "second, or bytes with K/M/G (\"5M\")");
	sync_cli.max_bytes = v * mult;
	return CLI_CONTINUE;
}

static int
sync_option(struct cli *c, int opt, const char *arg)
{
	switch (opt) {
	case OPT_MAILBOX:
		if (sync_cli.n_users == SYNC_MAX_USERS)
			return cli_usage_error(c, "--mailbox: at most %d", SYNC_MAX_USERS);
		sync_cli.users[sync_cli.n_users++] = arg;
		return CLI_CONTINUE;
	case OPT_SHARD: {
		const char *want;

		if (shard_parse(arg, &sync_cli.shard_k, &sync_cli.shard_n, &want) != 0)
			return cli_value_error(c, "--shard", arg, want);
		return CLI_CONTINUE;
	}
	case OPT_FOLDERS:
		if (sync_cli.n_folders == SYNC_MAX_GLOBS)
			return cli_usage_error(c, "--folders: at most %d", SYNC_MAX_GLOBS);
		sync_cli.folders[sync_cli.n_folders++] = arg;
		return CLI_CONTINUE;
	case OPT_EXCLUDE:
		if (sync_cli.n_exclude == SYNC_MAX_GLOBS)
			return cli_usage_error(c, "--exclude: at most %d", SYNC_MAX_GLOBS);
		sync_cli.exclude[sync_cli.n_exclude++] = arg;
		return CLI_CONTINUE;
	case OPT_DRY_RUN: sync_cli.dry_run = 1; return CLI_CONTINUE;
	case OPT_NO_MULTIAPPEND: sync_cli.no_multiappend = 1; return CLI_CONTINUE;
	case OPT_NO_COMPARE: sync_cli.no_compare = 1; return CLI_CONTINUE;
	case OPT_VERIFY: sync_cli.verify = 1; return CLI_CONTINUE;
	case OPT_STATUS: sync_cli.status = 1; return CLI_CONTINUE;
	case OPT_DELETE: sync_cli.delete_vanished = 1; return CLI_CONTINUE;
	case OPT_SINCE:
		if (plan_parse_day(arg, &sync_cli.since) != 0)
			return cli_value_error(
			    c, "--since", arg, "a day as YYYY-MM-DD (2019-01-01)");
		return CLI_CONTINUE;
	case OPT_MAX_RATE: return sync_parse_rate(c, arg);
	case OPT_JOBS: return cli_parse_long(c, "--jobs", arg, 1, 64, &sync_cli.jobs);
	case OPT_BATCH: return cli_parse_long(c, "--batch", arg, 1, 10000, &sync_cli.batch);
	case OPT_STATE_DIR: sync_cli.state_dir = arg; return CLI_CONTINUE;
	}
	return cli_usage_error(c, "unexpected option");
}

/* ---- progress line ---- */

struct sync_progress {
	const struct sync_run *run;
	int64_t t0;
	int drawn;
	int tty; /* a live line (\r) naming the mailboxes in flight, or a line per tick */
};

static void
sync_progress_tick(void *arg)
{
	struct sync_progress *p = arg;
	const struct sync_stats *s;
	double el = (double)(util_now_ms() - p->t0) / 1000.0, rate, mbs;
	char eta[32] = "-", who[160];

	if (p->run == NULL)
		return;
	s = sync_run_stats(p->run);
	rate = el > 0 ? (double)s->msgs_done / el : 0;
	mbs = el > 0 ? (double)s->bytes_done / el / (1024.0 * 1024) : 0;
	if (rate > 0 && s->msgs_total > s->msgs_done) {
		long left = (long)((double)(s->msgs_total - s->msgs_done) / rate);

		snprintf(eta, sizeof(eta), "%ld:%02ld", left / 60, left % 60);
	}
	fprintf(stderr,
	    "%ssync: %zu/%zu mailboxes, %llu/%llu messages, %.1f/%.1f MB, %.0f msg/s, "
	    "%.1f MB/s, ETA %s",
	    p->tty ? "\r\033[K" : "", s->mailboxes_done, s->mailboxes_total,
	    (unsigned long long)s->msgs_done, (unsigned long long)s->msgs_total,
	    (double)s->bytes_done / (1024.0 * 1024), (double)s->bytes_total / (1024.0 * 1024), rate,
	    mbs, eta);
	if (p->tty && sync_run_in_flight(p->run, who, sizeof(who)) > 0) {
		for (char *q = who; *q != '\0'; q++)
			if (iscntrl((unsigned char)*q))
				*q = '?'; /* no terminal escapes from a plan's user names */
		fprintf(stderr, " [%s]", who);
	}
	if (!p->tty)
		fputc('\n', stderr);
	fflush(stderr);
	p->drawn = p->tty;
}

/* The period of the progress line without a terminal (CUTOVER_SYNC_TICK_MS). */
static long
sync_tick_ms(void)
{
	const char *e = getenv("CUTOVER_SYNC_TICK_MS");
	long long v;

	if (e != NULL && util_parse_int(e, 50, 3600000, &v) == 0)
		return (long)v;
	return SYNC_PROGRESS_LOG_MS;
}

/* ---- the report during the run ---- */

struct sync_partial {
	struct runner *r;
	const struct report *rep; /* the run's: command, target, options */
	const char *path;
	int64_t t0;
};

/* Rewrite --json (atomically) with what finished so far, "partial": true. */
static void
sync_partial_tick(void *arg)
{
	struct sync_partial *p = arg;
	struct report tmp;
	char *err = NULL;

	runner_sort_results(p->r); /* what finished so far, in schedule order */
	tmp = *p->rep;
	tmp.partial = 1;
	tmp.duration_ms = util_now_ms() - p->t0;
	if (rpt_write_json(&tmp, p->path, &err) != 0) {
		fprintf(stderr, "cutover sync: cannot write the partial report: %s\n", err);
		free(err);
	}
}

/* After the last mailbox: mailbox.compare from the audit, on the same plan. */
struct sync_after {
	struct check_input in;
	int enabled;
	struct sync_run *run;
	struct plan *view; /* the plan without the mailboxes the sync gave up on */
};

static void
sync_all_done(struct runner *r, void *arg)
{
	struct sync_after *a = arg;
	const struct plan *plan = a->in.plan;

	if (!a->enabled)
		return;
	/* Give up once: a server that stalled the sync is not asked again. */
	a->view = xmalloc(sizeof(*a->view));
	*a->view = *plan;
	a->view->mailboxes =
	    xcalloc(plan->n_mailboxes ? plan->n_mailboxes : 1, sizeof(*a->view->mailboxes));
	a->view->n_mailboxes = 0;
	for (size_t i = 0; i < plan->n_mailboxes; i++)
		if (!sync_gave_up(a->run, &plan->mailboxes[i]))
			a->view->mailboxes[a->view->n_mailboxes++] = plan->mailboxes[i];
	a->in.plan = a->view;
	a->in.mailboxes_total = a->view->n_mailboxes;
	if (a->view->n_mailboxes == 0)
		return;
	for (const struct check *const *ck = check_registry(); *ck != NULL; ck++)
		if (strcmp((*ck)->id, "mailbox.compare") == 0)
			(*ck)->schedule(r, &a->in);
}

/* A view of PLAN with only the mailboxes --mailbox names. */
static struct plan *
sync_pick(const struct plan *plan, size_t *missing)
{
	struct plan *view = xmalloc(sizeof(*view));

	*view = *plan;
	view->mailboxes =
	    xcalloc(plan->n_mailboxes ? plan->n_mailboxes : 1, sizeof(*view->mailboxes));
	view->n_mailboxes = 0;
	*missing = (size_t)-1;
	for (size_t u = 0; u < sync_cli.n_users; u++) {
		int found = 0;

		for (size_t i = 0; i < plan->n_mailboxes; i++) {
			const struct plan_mailbox *mb = &plan->mailboxes[i];

			if ((mb->source_user != NULL &&
			        util_strieq(mb->source_user, sync_cli.users[u])) ||
			    (mb->dest_user != NULL &&
			        util_strieq(mb->dest_user, sync_cli.users[u]))) {
				int dup = 0;

				for (size_t k = 0; k < view->n_mailboxes; k++)
					if (view->mailboxes[k].source_user == mb->source_user)
						dup = 1;
				if (!dup)
					view->mailboxes[view->n_mailboxes++] = *mb;
				found = 1;
			}
		}
		if (!found && *missing == (size_t)-1)
			*missing = u;
	}
	return view;
}

/* ---- --status: the state, no connection ---- */

static struct result *
sync_status_result(struct syncstate *st, const struct plan_mailbox *mb)
{
	struct result *res = result_new("sync.status", mb->source_user, RESULT_SIDE_NONE);
	char *pair = xasprintf("%s\t%s", mb->source_user, mb->dest_user);
	struct syncstate_pass p;
	int64_t passes = 0, counts[4], folders = 0;
	cJSON *d = res->details, *lp, *sj;

	cJSON_AddStringToObject(d, "user", mb->source_user);
	cJSON_AddStringToObject(d, "destination_user", mb->dest_user);
	if (syncstate_pass_last(st, pair, &p, &passes) != 0 ||
	    syncstate_pair_counts(st, pair, counts, &folders) != 0) {
		cJSON_AddNumberToObject(d, "passes", 0);
		cJSON_AddNullToObject(d, "last_pass");
		sj = cJSON_AddObjectToObject(d, "state");
		result_set(res, RESULT_ERROR, "cannot read %s: %s", syncstate_path(st),
		    syncstate_error(st));
		free(pair);
		return res;
	}
	cJSON_AddNumberToObject(d, "passes", (double)passes);
	if (passes == 0) {
		cJSON_AddNullToObject(d, "last_pass");
	} else {
		char when[32];

		lp = cJSON_AddObjectToObject(d, "last_pass");
		util_iso8601((time_t)(p.started_ms / 1000), when, sizeof(when));
		cJSON_AddStringToObject(lp, "started_at", when);
		cJSON_AddNumberToObject(lp, "duration_ms",
		    (double)(p.ended_ms > p.started_ms ? p.ended_ms - p.started_ms : 0));
		cJSON_AddStringToObject(lp, "status", p.status);
		cJSON_AddStringToObject(lp, "summary", p.summary);
		cJSON_AddNumberToObject(lp, "copied", (double)p.copied);
		cJSON_AddNumberToObject(lp, "bytes", (double)p.bytes);
		cJSON_AddNumberToObject(lp, "errors", (double)p.errors);
		cJSON_AddBoolToObject(lp, "dry_run", p.dry_run);
	}
	sj = cJSON_AddObjectToObject(d, "state");
	cJSON_AddNumberToObject(sj, "folders", (double)folders);
	cJSON_AddNumberToObject(sj, "copied", (double)counts[SYNCSTATE_DONE]);
	cJSON_AddNumberToObject(sj, "failed", (double)counts[SYNCSTATE_FAILED]);
	cJSON_AddNumberToObject(sj, "intents", (double)counts[SYNCSTATE_INTENT]);
	cJSON_AddNumberToObject(sj, "too_large", (double)counts[SYNCSTATE_SKIPPED]);
	if (passes == 0) {
		result_set(res, RESULT_SKIP, "never synced");
	} else {
		enum result_status last = RESULT_ERROR;
		char when[32];

		(void)result_status_parse(p.status, &last);
		util_iso8601((time_t)(p.ended_ms / 1000), when, sizeof(when));
		result_set(res, last, "last pass %s%s: %s; %lld copied in all, %lld to retry%s",
		    when, p.dry_run ? " (dry run)" : "", p.summary,
		    (long long)counts[SYNCSTATE_DONE], (long long)counts[SYNCSTATE_FAILED],
		    counts[SYNCSTATE_INTENT] > 0 ? ", an interrupted copy to reconcile" : "");
		if (counts[SYNCSTATE_FAILED] > 0 || counts[SYNCSTATE_INTENT] > 0 ||
		    last == RESULT_FAIL || last == RESULT_ERROR)
			result_advise(res,
			    "Run `cutover sync` again: it retries what failed and "
			    "continues where the last pass stopped.");
	}
	syncstate_pass_clear(&p);
	free(pair);
	return res;
}

static int
sync_status_cmd(
    struct cli *c, const struct plan *plan, const struct plan *use, struct syncstate *st)
{
	struct report *rep = rpt_new("sync", c->args[0]);
	int rc;

	(void)plan;
	rep->started_at = time(NULL);
	for (size_t i = 0; i < use->n_mailboxes; i++)
		rpt_add(rep, sync_status_result(st, &use->mailboxes[i]));
	rc = cli_output(c, rep);
	rpt_free(rep);
	return rc;
}

/*
 * Load the plan named on the command line into *PLAN (the caller frees it)
 * and check it can be synced: an imap URL on both sides. Returns
 * CLI_CONTINUE or an exit code, having said why.
 */
static int
sync_load_plan(struct cli *c, struct plan **plan)
{
	char *err = NULL;

	*plan = NULL;
	if (c->n_args != 1)
		return cli_usage_error(c,
		    c->n_args == 0 ? "which plan? e.g. 'cutover sync plan.json'"
		                   : "one plan at a time (got %d arguments)",
		    c->n_args);
	if (plan_load(c->args[0], plan, &err) != 0) {
		fprintf(stderr, "cutover sync: %s\n", err);
		free(err);
		return CLI_EXIT_DATAERR;
	}
	if ((*plan)->warnings != NULL && !c->quiet)
		cli_warnings(c, (*plan)->warnings);
	if ((*plan)->source.imap == NULL || (*plan)->destination.imap == NULL) {
		fprintf(stderr,
		    "cutover sync: the plan needs an imap URL for both source and "
		    "destination\n");
		plan_free(*plan);
		*plan = NULL;
		return CLI_EXIT_DATAERR;
	}
	return CLI_CONTINUE;
}

/*
 * The mailboxes this run syncs: PLAN's, only those --mailbox names
 * (*PICKED), only this --shard's (*SHARDED); *USE is the narrowest. The
 * caller frees *PICKED and *SHARDED, even on error. Returns CLI_CONTINUE or
 * an exit code, having said why.
 */
static int
sync_narrow(
    const struct plan *plan, struct plan **picked, struct plan **sharded, const struct plan **use)
{
	*use = plan;
	if (sync_cli.n_users > 0) {
		size_t missing;

		*picked = sync_pick(plan, &missing);
		if (missing != (size_t)-1) {
			fprintf(stderr,
			    "cutover sync: --mailbox %s: no mailbox of the plan has this "
			    "user\n",
			    sync_cli.users[missing]);
			return CLI_EXIT_DATAERR;
		}
		*use = *picked;
	}
	if (sync_cli.shard_n > 0) {
		*sharded = shard_plan(*use, sync_cli.shard_k, sync_cli.shard_n);
		*use = *sharded;
	}
	return CLI_CONTINUE;
}

/*
 * The plan's "sync" settings, so that every pass (the final one from
 * propagation --then included) uses them; the command line overrides.
 */
static void
sync_opts_init(const struct cli *c, const struct plan *plan, struct sync_opts *so)
{
	memset(so, 0, sizeof(*so));
	if (sync_cli.n_folders > 0) {
		so->folders = sync_cli.folders;
		so->n_folders = sync_cli.n_folders;
	} else if (plan->sync.n_folders > 0) {
		so->folders = (const char *const *)plan->sync.folders;
		so->n_folders = plan->sync.n_folders;
	}
	if (sync_cli.n_exclude > 0) {
		so->exclude = sync_cli.exclude;
		so->n_exclude = sync_cli.n_exclude;
	} else if (plan->sync.n_exclude > 0) {
		so->exclude = (const char *const *)plan->sync.exclude;
		so->n_exclude = plan->sync.n_exclude;
	}
	so->since = sync_cli.since != 0 ? sync_cli.since : plan->sync.since_t;
	so->dry_run = sync_cli.dry_run;
	so->verify = sync_cli.verify;
	so->delete_vanished = sync_cli.delete_vanished || plan->sync.delete_vanished;
	so->max_msgs = sync_cli.max_msgs;
	so->max_bytes = sync_cli.max_bytes;
	so->jobs = (int)sync_cli.jobs;
	so->batch = (int)sync_cli.batch;
	so->no_multiappend = sync_cli.no_multiappend;
	so->idle_ms = (int64_t)(c->timeout_s * 1000);
}

/*
 * The run loop's two ticks: TICKS[0] the progress (PROGRESS), TICKS[1] the
 * partial --json report (PARTIAL, on R's results so far and REP); a tick
 * with no period set never fires.
 */
static void
sync_ticks_init(const struct cli *c, struct runner *r, const struct report *rep,
    const struct sync_run *run, int64_t t0, struct cli_tick ticks[2],
    struct sync_progress *progress, struct sync_partial *partial)
{
	memset(ticks, 0, 2 * sizeof(ticks[0]));
	memset(progress, 0, sizeof(*progress));
	if (!c->no_progress && !c->quiet) {
		/* On a terminal a live line; in cron, nohup or --then a line every 10 s. */
		progress->tty = isatty(fileno(stderr));
		progress->run = run;
		progress->t0 = t0;
		ticks[0].ms = progress->tty ? SYNC_PROGRESS_MS : sync_tick_ms();
	}
	ticks[0].fn = sync_progress_tick;
	ticks[0].arg = progress;
	ticks[0].drawn = &progress->drawn;
	memset(partial, 0, sizeof(*partial));
	if (c->json_path != NULL && strcmp(c->json_path, "-") != 0) {
		partial->r = r;
		partial->rep = rep;
		partial->path = c->json_path;
		partial->t0 = t0;
		ticks[1].ms = sync_tick_ms() * (SYNC_PARTIAL_MS / SYNC_PROGRESS_LOG_MS);
	}
	ticks[1].fn = sync_partial_tick;
	ticks[1].arg = partial;
}

static int
sync_run_cmd(struct cli *c)
{
	struct plan *plan = NULL, *picked = NULL, *sharded = NULL;
	const struct plan *use;
	struct syncstate *st = NULL;
	struct sync_opts so;
	struct sync_after after;
	struct sync_progress progress;
	struct sync_partial partial;
	struct cli_tick ticks[2];
	struct runner_opts ro;
	struct runner *r = NULL;
	struct report *rep = NULL;
	struct sync_run *run = NULL;
	const char *const *resolvers;
	size_t n_resolvers;
	char *err = NULL;
	int64_t t0 = util_now_ms();
	int rc;

	memset(&after, 0, sizeof(after)); /* the out: path reads after.view */
	rc = sync_load_plan(c, &plan);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = sync_narrow(plan, &picked, &sharded, &use);
	if (rc != CLI_CONTINUE)
		goto out;
	if (syncstate_open(sync_cli.state_dir != NULL ? sync_cli.state_dir : plan->state_dir, &st,
	        &err) != 0) {
		fprintf(stderr, "cutover sync: %s\n", err);
		free(err);
		rc = CLI_EXIT_IOERR;
		goto out;
	}
	if (sync_cli.status) {
		rc = sync_status_cmd(c, plan, use, st);
		goto out;
	}
	n_resolvers = c->n_resolvers > 0 ? c->n_resolvers : plan->n_resolvers;
	resolvers = c->n_resolvers > 0 ? c->resolvers : (const char *const *)plan->resolvers;
	cli_runner_opts(
	    c, &ro, resolvers, n_resolvers, c->ca_file != NULL ? c->ca_file : plan->ca_file);
	r = cli_runner_new(c, &ro);
	if (r == NULL) {
		rc = CLI_EXIT_DATAERR;
		goto out;
	}
	rep = cli_report_new(c, c->args[0]);

	sync_opts_init(c, plan, &so);
	memset(&after, 0, sizeof(after));
	after.in.plan = use;
	after.in.domain = plan->domain;
	after.in.mailboxes_total = use->n_mailboxes;
	after.enabled = !sync_cli.no_compare && !sync_cli.dry_run;
	if (!c->quiet && sync_cli.shard_n > 0)
		fprintf(stderr, "cutover sync: shard %u/%u: %zu of %zu mailboxes\n",
		    sync_cli.shard_k, sync_cli.shard_n, use->n_mailboxes, plan->n_mailboxes);
	run = sync_schedule(r, use, &so, st, sync_all_done, &after);
	after.in.after_sync = run;
	after.run = run;

	/* Ctrl-C and SIGTERM (Kubernetes, systemd) alike stop the run; the report
	 * says what finished (cli_run_loop). */
	sync_ticks_init(c, r, rep, run, t0, ticks, &progress, &partial);
	rc = cli_run_loop(c, r, rep, t0, NULL, NULL, ticks, UTIL_ARRAY_LEN(ticks));
	runner_free(r);
	r = NULL;
	if (rc != 0) {
		rc = CLI_EXIT_SOFTWARE;
		goto out;
	}
	rc = cli_output(c, rep);
out:
	rpt_free(rep);
	sync_run_free(run);
	if (after.view != NULL) {
		free(after.view->mailboxes);
		free(after.view);
	}
	syncstate_close(st);
	shard_plan_free(sharded);
	if (picked != NULL) {
		free(picked->mailboxes);
		free(picked);
	}
	plan_free(plan);
	return rc;
}

const struct cli_command cli_cmd_sync = {
    .name = "sync",
    .synopsis = "PLAN",
    .summary = "resumable delta sync source -> destination, exactly once",
    .help = sync_help,
    .options = sync_options,
    .option = sync_option,
    .run = sync_run_cmd,
};
