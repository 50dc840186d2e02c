/*
 * cmd_report.c - `cutover report render|merge`: saved reports, no network.
 *
 *   cutover report render REPORT.json --html OUT.html
 *   cutover report merge A.json B.json... --json OUT.json [--html OUT.html]
 *
 * Merge semantics (also in reports/SCHEMA.md, "Merging reports"):
 *   - every input must come from the same command ("audit" with "audit");
 *   - a check is identified by (id, subject, side). The same check in several
 *     inputs (a domain check run by every shard, the same shard merged twice)
 *     is kept once: the copy with the worst status wins (a problem is never
 *     hidden by a merge), the earlier input on a tie;
 *   - order: checks grouped by id in the order ids first appear, and within
 *     an id in input order (shard 1's mailboxes, then shard 2's ...);
 *   - summary and counts are recomputed from the merged checks;
 *   - started_at is the earliest start, duration_ms the span from it to the
 *     latest end, options the OR of the inputs (a relaxed run shows), target
 *     the first input's.
 * Merging the N reports of `audit --shard K/N` thus gives the checks and
 * counts of one unsharded audit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "reports/json.h"
#include "src/report.h"
#include "src/util.h"

static void
report_help(FILE *out)
{
	fputs("Usage: cutover report render REPORT.json [--html OUT.html] [--json OUT.json]\n"
	      "       cutover report merge A.json B.json... [--json OUT.json] [--html OUT.html]\n"
	      "\n"
	      "Work with saved JSON reports (reports/SCHEMA.md); no network traffic.\n"
	      "\n"
	      "render  Read REPORT.json and write it as one self-contained HTML page with\n"
	      "        --html (opens offline in any browser: send it to whoever owns the\n"
	      "        domain), as a spreadsheet of the mailboxes with --csv, or print\n"
	      "        the summary when no output is given.\n"
	      "merge   Combine reports of the same command into one, e.g. the N reports of\n"
	      "        'cutover audit --shard K/N'. Counts are recomputed. A check present\n"
	      "        in several reports (same id, subject and side: a DNS check each\n"
	      "        shard ran, a report given twice) is kept once, the copy with the\n"
	      "        worst status winning. Merging every shard gives the checks and\n"
	      "        counts of one unsharded run.\n"
	      "\n"
	      "The exit code is the report's status like any run (0 pass/skip, 1 warn,\n"
	      "2 fail/error); 65 when an input is not a valid report or the commands\n"
	      "differ, 74 when an output cannot be written.\n"
	      "\n"
	      "Examples:\n"
	      "  cutover report render audit.json --html audit.html\n"
	      "  cutover report render audit.json --csv mailboxes.csv\n"
	      "  cutover report merge shard-*.json --json audit.json --html audit.html\n"
	      "  cutover report render audit.json          (summary on the terminal)\n"
	      "\n",
	    out);
}

/* One check of one input, for the merge. */
struct report_entry {
	struct result *res; /* read back from its input (rpt_get): owned */
	size_t seq;         /* position in the concatenation of the inputs */
	size_t id_rank;     /* smallest seq of any check with the same id */
	int winner;
};

static int
report_side_cmp(enum result_side a, enum result_side b)
{
	return (int)a < (int)b ? -1 : (int)a > (int)b;
}

/* By (id, subject, side), then input order. */
static int
report_cmp_key(const void *a, const void *b)
{
	const struct report_entry *x = a, *y = b;
	int c = strcmp(x->res->id, y->res->id);

	if (c == 0)
		c = strcmp(x->res->subject, y->res->subject);
	if (c == 0)
		c = report_side_cmp(x->res->side, y->res->side);
	if (c == 0)
		c = x->seq < y->seq ? -1 : x->seq > y->seq;
	return c;
}

/* Output order: ids in order of first appearance, then input order. */
static int
report_cmp_order(const void *a, const void *b)
{
	const struct report_entry *x = a, *y = b;

	if (x->id_rank != y->id_rank)
		return x->id_rank < y->id_rank ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int
report_same_key(const struct result *a, const struct result *b)
{
	return strcmp(a->id, b->id) == 0 && strcmp(a->subject, b->subject) == 0 &&
	    a->side == b->side;
}

/* Status rank for "worst wins": report order pass < skip < warn < fail < error. */
static int
report_rank(const struct result *res)
{
	return (unsigned)res->status < RESULT_STATUS_COUNT ? (int)res->status : RESULT_ERROR;
}

/*
 * Merge IN[0..N) into a new report (caller frees): the results of the inputs
 * are read back and copied. *DUPLICATES gets the checks dropped.
 */
static struct report *
report_merge(struct report **in, size_t n, size_t *duplicates)
{
	struct report *out;
	struct report_entry *e;
	size_t total = 0, k = 0, dups = 0;
	int64_t start_ms, end_ms;

	for (size_t i = 0; i < n; i++)
		total += in[i]->n_results;
	e = xcalloc(total > 0 ? total : 1, sizeof(*e));
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < in[i]->n_results; j++) {
			e[k].res = rpt_get(in[i], j);
			e[k].seq = k;
			k++;
		}
	qsort(e, total, sizeof(*e), report_cmp_key);
	for (size_t i = 0; i < total;) {
		size_t id_end = i, rank = e[i].seq;

		/* The run of entries with this id: its first appearance. */
		while (id_end < total && strcmp(e[id_end].res->id, e[i].res->id) == 0) {
			if (e[id_end].seq < rank)
				rank = e[id_end].seq;
			id_end++;
		}
		for (size_t j = i; j < id_end;) {
			size_t best = j, end = j;

			while (end < id_end && report_same_key(e[end].res, e[j].res)) {
				/* Sorted by seq within the key: strictly worse replaces. */
				if (report_rank(e[end].res) > report_rank(e[best].res))
					best = end;
				end++;
			}
			e[best].winner = 1;
			dups += end - j - 1;
			j = end;
		}
		for (size_t j = i; j < id_end; j++)
			e[j].id_rank = rank;
		i = id_end;
	}
	qsort(e, total, sizeof(*e), report_cmp_order);

	out = rpt_new(in[0]->command, in[0]->target);
	start_ms = (int64_t)in[0]->started_at * 1000;
	end_ms = start_ms + in[0]->duration_ms;
	for (size_t i = 0; i < n; i++) {
		int64_t s = (int64_t)in[i]->started_at * 1000;

		if (s < start_ms)
			start_ms = s;
		if (s + in[i]->duration_ms > end_ms)
			end_ms = s + in[i]->duration_ms;
		out->insecure |= in[i]->insecure;
		out->allow_plaintext |= in[i]->allow_plaintext;
		out->allow_old_tls |= in[i]->allow_old_tls;
	}
	out->started_at = (time_t)(start_ms / 1000);
	out->duration_ms = end_ms - start_ms;
	for (size_t i = 0; i < total; i++) {
		if (!e[i].winner) {
			result_free(e[i].res);
			continue;
		}
		e[i].res->seq = out->n_results;
		rpt_add(out, e[i].res); /* transferred to OUT */
	}
	free(e);
	*duplicates = dups;
	return out;
}

static int
report_render(struct cli *c)
{
	struct report *rep = NULL;
	char *err = NULL;
	int rc;

	if (c->n_args != 2)
		return cli_usage_error(c,
		    c->n_args < 2 ? "which report? e.g. 'cutover report "
		                    "render audit.json --html audit.html'"
		                  : "render takes one report (got %d)",
		    c->n_args - 1);
	if (rpt_read_json(c->args[1], &rep, &err) != 0) {
		fprintf(stderr, "cutover report: %s\n", err);
		free(err);
		return CLI_EXIT_DATAERR;
	}
	rc = cli_output(c, rep);
	rpt_free(rep);
	return rc;
}

static int
report_merge_run(struct cli *c)
{
	struct report **in;
	struct report *out = NULL;
	size_t n = (size_t)(c->n_args - 1), dups = 0, i;
	char *err = NULL;
	int rc = CLI_EXIT_DATAERR;

	if (c->n_args < 3)
		return cli_usage_error(c,
		    "merge needs at least two reports, e.g. 'cutover report "
		    "merge shard-1.json shard-2.json --json audit.json'");
	in = xcalloc(n, sizeof(*in));
	/* Report pointers are freed by rpt_free in the loop at "out". */
	for (i = 0; i < n; i++) {
		if (rpt_read_json(c->args[i + 1], &in[i], &err) != 0) {
			fprintf(stderr, "cutover report: %s\n", err);
			free(err);
			goto out;
		}
		if (strcmp(in[i]->command, in[0]->command) != 0) {
			fprintf(stderr,
			    "cutover report: %s is a report of 'cutover %s' and %s of "
			    "'cutover %s': only reports of the same command can be merged\n",
			    c->args[1], in[0]->command, c->args[i + 1], in[i]->command);
			goto out;
		}
	}
	for (i = 1; i < n; i++)
		if ((in[0]->target == NULL) != (in[i]->target == NULL) ||
		    (in[0]->target != NULL && strcmp(in[0]->target, in[i]->target) != 0)) {
			if (!c->quiet)
				fprintf(stderr,
				    "cutover report: note: the reports are about different "
				    "targets; the merged report names the first one's\n");
			break;
		}
	out = report_merge(in, n, &dups);
	if (dups > 0 && !c->quiet)
		fprintf(stderr,
		    "cutover report: %zu check%s present in more than one report "
		    "(same id, subject and side) kept once, the worst status winning\n",
		    dups, dups == 1 ? "" : "s");
	rc = cli_output(c, out);
out:
	for (i = 0; i < n; i++)
		rpt_free(in[i]);
	free(in);
	rpt_free(out);
	return rc;
}

static int
report_run(struct cli *c)
{
	if (c->n_args < 1)
		return cli_usage_error(c,
		    "render or merge? e.g. 'cutover report render "
		    "audit.json --html audit.html'");
	if (strcmp(c->args[0], "render") == 0)
		return report_render(c);
	if (strcmp(c->args[0], "merge") == 0)
		return report_merge_run(c);
	return cli_usage_error(c, "unknown action '%s' (render or merge)", c->args[0]);
}

const struct cli_command cli_cmd_report = {
    .name = "report",
    .synopsis = "render|merge ...",
    .summary = "render a saved report as HTML, or merge shard reports into one",
    .help = report_help,
    .run = report_run,
};
