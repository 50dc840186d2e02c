/*
 * console.h - the human summary of a report on a terminal or in a log.
 */
#ifndef CUTOVER_CONSOLE_H
#define CUTOVER_CONSOLE_H

#include <stdio.h>

#include "src/report.h"

/* 1 when OUT is a terminal and NO_COLOR is unset or empty (no-color.org). */
int console_use_color(FILE *out);

/*
 * Print one aligned line per check (status, id, subject, summary), grouped
 * under the headings the HTML report uses (reports/section.h), advice under
 * checks that are not passing, then the counts. Control characters in
 * strings from servers are shown as '?' (no terminal escapes from a peer). VERBOSE adds each
 * check's details as compact JSON. COLOR adds ANSI colours to statuses.
 */
void console_summary(FILE *out, const struct report *rep, int color, int verbose);

#endif
