/*
 * report.h - the report of one run: its results in report order and what
 * the run was about. The runner fills it (rpt_add); the writers in reports/
 * (the JSON form reports/json.h, the HTML page, the CSV sheet, the console)
 * only read it. The results wait in a scratch file until they are written
 * (an audit of tens of thousands of mailboxes: memory does not grow with
 * them). Everything a report holds is UTF-8, whatever a server sent.
 */
#ifndef CUTOVER_REPORT_H
#define CUTOVER_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cJSON.h>

#include "result.h"

/*
 * What stays in memory of one result: where it waits in the spool, and what
 * counting and ordering need. The rest (id, subject, summary, advice,
 * details) is read back one result at a time (rpt_get, rpt_at), so a report
 * of 100,000 results holds 16 bytes of each (1.6 MB).
 */
struct rpt_entry {
	uint64_t at;  /* the record's place in the spool << 8 | in memory spool (0x80) |
	                 status (rpt_status_of); read through report.c only */
	uint32_t seq; /* schedule order (struct result.seq; 4 billion results) */
	uint32_t len; /* the record's length */
};

/* The copies rpt_at keeps (by result), until rpt_unload. */
struct rpt_kept {
	struct result **v; /* n_results long, or NULL when none is kept */
	size_t n;          /* copies kept */
};

struct report {
	char *command;     /* "dns", "audit", "propagation", "sync" */
	char *target;      /* what the run was about: a domain or a plan path */
	time_t started_at; /* wall clock, UTC */
	int64_t duration_ms;
	int insecure;              /* --insecure was given: shown in the report */
	int allow_plaintext;       /* --allow-plaintext was given */
	int partial;               /* written during the run: more results will follow */
	int allow_old_tls;         /* --allow-old-tls was given */
	struct rpt_entry *entries; /* owned; report order */
	size_t n_results;
	size_t cap_entries;      /* ENTRIES has room for this many */
	struct rpt_kept *kept;   /* owned, made by rpt_new */
	struct spool *spool;     /* where the results wait (a scratch file), or NULL */
	struct spool *mem_spool; /* where they wait when no file can take them */
	int spool_failed;        /* no scratch file could be made */
};

/* A new empty report for COMMAND about TARGET (either may be NULL). A
 * struct report is made by rpt_new only. */
struct report *rpt_new(const char *command, const char *target);
/* Free the report and every result in it. */
void rpt_free(struct report *rep);
/*
 * Append RES (ownership transferred). Its strings and details are made
 * UTF-8, and it leaves memory at once: it is written to the report's scratch
 * file (src/spool.h; made on the first call in $TMPDIR, in memory when none
 * can be made) and freed. Only what struct rpt_entry holds stays.
 */
void rpt_add(struct report *rep, struct result *res);

/*
 * Result I of REP read back from the spool: a new result the caller frees
 * (result_free), the same values rpt_add was given. Never NULL: if the
 * scratch file cannot be read, an "error" result says so.
 */
struct result *rpt_get(const struct report *rep, size_t i);
/* The same without its details (NULL): less to read, for a quick look. */
struct result *rpt_get_brief(const struct report *rep, size_t i);

/*
 * Result I of REP, read back once and kept (in KEPT) until rpt_unload or
 * rpt_free: for writers that need many results at once (the
 * HTML page, the CSV sheet). Changing it does not change the report (use
 * rpt_replace). Without DETAILS the copy may lack its details (NULL), which
 * costs less memory.
 */
struct result *rpt_at(const struct report *rep, size_t i, int details);
/* Free every copy rpt_at kept. */
void rpt_unload(const struct report *rep);

/* Make room for N more results at once (a run that knows how many it will
 * add): the entries are not copied to a twice larger array on the way. */
void rpt_reserve(struct report *rep, size_t n);

/* Replace result I of REP by RES (ownership transferred; see rpt_add). */
void rpt_replace(struct report *rep, size_t i, struct result *res);

/* Status of result I as rpt_status_of() counts it (no read back). */
enum result_status rpt_status_at(const struct report *rep, size_t i);

/* Put results FROM..n_results of REP in schedule order (their seq). */
void rpt_sort(struct report *rep, size_t from);

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
