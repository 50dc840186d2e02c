/*
 * report.h - the report of one run: its results in report order and what
 * the run was about. The runner fills it (rpt_add); the writers in reports/
 * (the JSON form reports/json.h, the HTML page, the CSV sheet, the console)
 * only read it. Everything a report holds is UTF-8, whatever a server sent.
 */
#ifndef CUTOVER_REPORT_H
#define CUTOVER_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cJSON.h>

#include "result.h"

struct report {
	char *command;     /* "dns", "audit", "propagation", "sync" */
	char *target;      /* what the run was about: a domain or a plan path */
	time_t started_at; /* wall clock, UTC */
	int64_t duration_ms;
	int insecure;            /* --insecure was given: shown in the report */
	int allow_plaintext;     /* --allow-plaintext was given */
	int partial;             /* written during the run: more results will follow */
	int allow_old_tls;       /* --allow-old-tls was given */
	struct result **results; /* owned; report order */
	size_t n_results;
	struct spool *spool; /* where results' details wait (rpt_spool), or NULL */
	int spool_failed;    /* rpt_spool could not make one: keep them in memory */
};

/* A new empty report for COMMAND about TARGET (either may be NULL). */
struct report *rpt_new(const char *command, const char *target);
/* Free the report and every result in it. */
void rpt_free(struct report *rep);
/* Append RES (ownership transferred). */
void rpt_add(struct report *rep, struct result *res);

/*
 * The scratch file the results' details of REP may be moved to while a run
 * goes on (src/spool.h; made on first call in $TMPDIR, freed with REP), or
 * NULL when none can be made (then everything stays in memory).
 */
struct spool *rpt_spool(struct report *rep);

/* Bring every spooled result's details back into memory (for writers that
 * need them all at once: HTML, the verbose console summary). */
void rpt_load_details(const struct report *rep);

/* Count results per status; *WORST (may be NULL) gets the worst status
 * (pass for an empty report). */
void rpt_counts(
    const struct report *rep, size_t counts[RESULT_STATUS_COUNT], enum result_status *worst);

/*
 * The status of RES as a report counts and writes it: an out-of-range status
 * (a bug in a check) counts as an error.
 */
enum result_status rpt_status_of(const struct result *res);

/*
 * Make every string and key of the cJSON list ITEM (its siblings and their
 * children) UTF-8: each byte that is not becomes the text "\xHH" (and a
 * backslash in such a string "\\"); valid strings are left as they are.
 */
void rpt_utf8_tree(cJSON *item);

#endif
