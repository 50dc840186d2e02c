/*
 * result.h - the one thing a check task produces.
 *
 * A result is what the report shows as one entry of "checks" (see
 * reports/SCHEMA.md): an id such as "dns.mx", the subject it is about, the
 * side (source, destination or none), a status, a one-line summary, optional
 * advice, a duration and a details object whose shape is fixed per id.
 *
 * Ownership: a result owns all its strings and its details (a cJSON object).
 * Check tasks fill the result the runner gave them; the runner owns the result
 * list and frees it.
 */
#ifndef CUTOVER_RESULT_H
#define CUTOVER_RESULT_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

enum result_status {
	RESULT_PASS = 0,
	RESULT_SKIP,
	RESULT_WARN,
	RESULT_FAIL,
	RESULT_ERROR,
	RESULT_STATUS_COUNT
};

enum result_side { RESULT_SIDE_NONE = 0, RESULT_SIDE_SOURCE, RESULT_SIDE_DESTINATION };

struct result {
	char *id;      /* "dns.mx" */
	char *subject; /* "example.com", "alice@example.com" */
	enum result_side side;
	enum result_status status;
	int status_set; /* 0 until result_set() was called */
	char *summary;  /* one line, never NULL once set */
	char *advice;   /* NULL when there is nothing to do */
	int64_t duration_ms;
	cJSON *details; /* an object; NULL only in a copy rpt_at read without */
	uint64_t seq;   /* schedule order, for stable report order */
};

/* New result with an empty details object. Caller (normally the runner) owns it. */
struct result *result_new(const char *id, const char *subject, enum result_side side);
void result_free(struct result *res);

/* Set status and printf-style summary (replacing earlier ones). */
void result_set(struct result *res, enum result_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Set printf-style advice (replacing earlier advice). */
void result_advise(struct result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "pass", "warn", ... ; and back. result_status_parse returns -1 if unknown. */
const char *result_status_str(enum result_status st);
int result_status_parse(const char *s, enum result_status *out);
/* "source", "destination", or NULL for none; and back ("" or NULL = none). */
const char *result_side_str(enum result_side side);
int result_side_parse(const char *s, enum result_side *out);

/* The worse of two statuses in the order pass < skip < warn < fail < error
 * (for exit codes fail and error rank the same). A report's summary status
 * leaves skipped checks out: see rpt_counts(). */
enum result_status result_worse(enum result_status a, enum result_status b);

/* Exit code for a worst status: 0 pass/skip, 1 warn, 2 fail/error. */
int result_exit_code(enum result_status worst);

#endif
