/*
 * csvread.h - an RFC 4180 record reader for sheets people save from Excel.
 *
 * What it accepts, so callers need not care: a leading UTF-8 BOM; a file that
 * is not UTF-8 read as Windows-1252 (with a warning; a byte that is neither is
 * an error naming its line and offset); the separator sniffed from the first
 * non-blank line (comma, semicolon or tab, whichever it holds most of outside
 * quotes; comma on a tie); CRLF, LF or CR line ends; quoted fields with ""
 * for a quote and line breaks inside; blank lines skipped.
 *
 * It knows nothing about what the columns mean. Fields may hold secrets
 * (passwords): messages never quote a field, and every buffer is wiped before
 * it is freed. It reads only the LEN bytes it is given.
 *
 *   struct csvread r;
 *   if (csvread_open(&r, data, len, "users.csv", &err) != 0) ...
 *   while ((rc = csvread_next(&r)) == 1) ... r.fields[0..r.nf) ... r.rec_line ...
 *   if (rc < 0) ... r.err_line, r.err_field, r.err_msg ...
 *   csvread_close(&r);
 */
#ifndef CUTOVER_CSVREAD_H
#define CUTOVER_CSVREAD_H

#include <stddef.h>

struct csvread {
	/* the current record (csvread_next returned 1): NF fields, NUL-terminated.
	 * A caller may take a field: set fields[k] to NULL (it then owns it and
	 * wipes it). */
	char **fields;
	size_t nf;
	size_t rec_line;  /* the line the record starts on (1-based) */
	char sep;         /* ',', ';' or '\t' */
	const char *path; /* as given to csvread_open */
	/* after csvread_next returned -1: the line, the field (0-based) and why */
	size_t err_line;
	size_t err_field;
	const char *err_msg; /* static text */
	/* private */
	const char *base; /* the data as given (for byte offsets) */
	const char *s;    /* the text read: after a BOM, UTF-8 */
	size_t n;
	size_t i;
	size_t line;
	size_t cap;
	char *conv; /* Windows-1252 converted to UTF-8, or NULL */
	size_t convlen;
	char *warn;
};

/*
 * Start reading the LEN bytes at DATA (kept, not copied: it must outlive R).
 * PATH names the file in messages. Returns 0, or -1 with *ERR (caller frees)
 * when the data is neither UTF-8 nor Windows-1252; csvread_close(R) either way.
 */
int csvread_open(struct csvread *r, const char *data, size_t len, const char *path, char **err);

/* The next record: 1, 0 at the end, -1 with err_line/err_field/err_msg set. */
int csvread_next(struct csvread *r);

/* Append LINE (taken) to the warnings. */
void csvread_warn(struct csvread *r, char *line);

/* The warnings so far, '\n'-separated (caller frees), or NULL; R has none after. */
char *csvread_take_warnings(struct csvread *r);

/* Wipe and free everything R holds. */
void csvread_close(struct csvread *r);

/* "comma", "semicolon" or "tab". */
const char *csvread_sepname(char sep);

/* Trim spaces and tabs around S in place. */
void csvread_trim(char *s);

#endif
