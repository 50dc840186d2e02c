/*
 * report.h - the report of one run, and its JSON form (schema_version 1).
 *
 * The JSON shape is a contract: reports/SCHEMA.md documents every field and
 * reports/report.schema.json validates it. Extend, never rename or remove.
 * This layer reads results and never touches the network.
 */
#ifndef CUTOVER_REPORT_H
#define CUTOVER_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cJSON.h>

#include "result.h"

#define RPT_SCHEMA_VERSION 1

struct report {
	char *command;          /* "dns", "audit", "propagation", "sync" */
	char *target;           /* what the run was about: a domain or a plan path */
	time_t started_at;      /* wall clock, UTC */
	int64_t duration_ms;
	int insecure;           /* --insecure was given: shown in the report */
	int allow_plaintext;    /* --allow-plaintext was given */
	int partial;            /* written during the run: more results will follow */
	int allow_old_tls;      /* --allow-old-tls was given */
	struct result **results;/* owned; report order */
	size_t n_results;
	struct spool *spool;    /* where results' details wait (rpt_spool), or NULL */
	int spool_failed;       /* rpt_spool could not make one: keep them in memory */
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
void rpt_counts(const struct report *rep, size_t counts[RESULT_STATUS_COUNT],
    enum result_status *worst);

/* The report as a new cJSON tree (caller deletes). Never NULL. */
cJSON *rpt_to_json(const struct report *rep);

/*
 * Write the JSON report to PATH ("-" = stdout), pretty-printed, ending in a
 * newline: the same bytes as cJSON_Print(rpt_to_json(REP)) and a newline,
 * but streamed, one check at a time (spooled details are read back one at a
 * time too), so memory does not grow with the report. Files are written to
 * a temporary name in the same folder and renamed, so a reader never sees
 * half a report. Returns 0, or -1 with *ERR
 * set to a message naming the path and the OS error (caller frees).
 */
int rpt_write_json(const struct report *rep, const char *path, char **err);

/*
 * Read a report back from its JSON form (for `report render` and `report
 * merge`). Returns 0 and *OUT, or -1 with *ERR naming what is wrong (the field
 * path, e.g. "checks[3].status"). Unknown extra fields are ignored.
 */
int rpt_from_json(const cJSON *json, struct report **out, char **err);

/*
 * Read the report file PATH (at most 512 MiB) and rpt_from_json() it.
 * Returns 0 and *OUT (caller frees with rpt_free), or -1 with *ERR (caller
 * frees) naming the path: "cannot read report r.json: No such file or
 * directory", "r.json:3:14: not valid JSON", "r.json: checks[3].status: ...".
 */
int rpt_read_json(const char *path, struct report **out, char **err);

#endif
