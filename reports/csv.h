/*
 * csv.h - the mailboxes of a report as a spreadsheet (RFC 4180 CSV).
 *
 * One row per mailbox and side: what an admin sorts and filters in Excel or
 * hands to a help desk. Columns (header row first):
 *
 *   user, side, login, folders, items, bytes, largest_folder,
 *   largest_folder_items, folders_over_limit, name_problems, large_messages,
 *   quota_percent, sync_copied, sync_moved, sync_deleted, sync_errors, status
 *
 * "login" is "imap ok; pop3 auth_failed"; a value that could not be read
 * (the mailbox did not log in, the check did not run) is "unknown", never 0.
 * "status" is the worst status of the row's checks. Checks without a side
 * (mailbox.quota, mailbox.compare) count on the source row.
 *
 * Encoding: UTF-8 with a byte-order mark (so that Excel does not guess a
 * code page), CRLF line ends, fields quoted when they hold a comma, quote,
 * CR or LF. A text cell starting with '=', '+', '-', '@', tab or CR is
 * prefixed with an apostrophe so that a spreadsheet shows it as text instead
 * of evaluating it (a folder named =HYPERLINK(...) stays a name).
 */
#ifndef CUTOVER_CSV_H
#define CUTOVER_CSV_H

#include "src/report.h"

/* The sheet for REP as a new NUL-terminated string (caller frees), or NULL
 * when it would be larger than 1 GiB. */
char *csv_render(const struct report *rep);

/*
 * Write the sheet for REP to PATH ("-" = stdout), atomically like the JSON
 * report. Returns 0, or -1 with *ERR naming the path and the OS error
 * (caller frees).
 */
int csv_write(const struct report *rep, const char *path, char **err);

#endif
