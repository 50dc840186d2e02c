/*
 * verdict.h - what a check concludes from what it observed: a status, the
 * one-line summary and the advice of a result, before they are put into it.
 *
 * Every check splits its work in three: gather what it observed into a
 * summary struct (I/O), judge the summary into a verdict (pure: no I/O, no
 * JSON, unit-tested at every PASS/WARN/FAIL edge in tests/unit/test_verdicts_*.c)
 * and describe the summary as the result's details (cJSON). verdict_apply()
 * then hands the verdict to the result.
 *
 * Ownership: a verdict owns its strings; verdict_apply() and verdict_clear()
 * free them. A zeroed struct verdict is empty (no status yet).
 */
#ifndef CUTOVER_VERDICT_H
#define CUTOVER_VERDICT_H

#include "result.h"

struct verdict {
	enum result_status status;
	char *summary; /* NULL until verdict_set() */
	char *advice;  /* NULL: nothing to do */
};

/* Set the status and the printf-style summary (replacing earlier ones). */
void verdict_set(struct verdict *v, enum result_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Set the printf-style advice (replacing earlier advice). */
void verdict_advise(struct verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Put V's status, summary and advice (if any) into RES, and clear V. A V
 * without a summary leaves RES as it is. */
void verdict_apply(struct verdict *v, struct result *res);
/*
 * Raise V to ST with SUMMARY and ADVICE (both taken; ADVICE may be NULL)
 * when V has no summary yet or ST is worse than V's status: of several
 * findings, the first of the worst is the one the result says.
 */
void verdict_raise(struct verdict *v, enum result_status st, char *summary, char *advice);
void verdict_clear(struct verdict *v);

#endif
