/*
 * util.h - allocation wrappers, strings and clocks shared by every layer.
 *
 * Allocation failure aborts the process (xmalloc and friends): network and
 * protocol failures are the product's data, running out of memory is not.
 */
#ifndef CUTOVER_UTIL_H
#define CUTOVER_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <cJSON.h>

#define UTIL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Allocate or abort with a message on stderr. Never return NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* Duplicate S (NULL gives NULL). Caller frees. */
char *xstrdup(const char *s);
/* Duplicate at most N bytes of S and terminate. Caller frees. */
char *xstrndup(const char *s, size_t n);
/* printf into a new string. Caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Overwrite then free a secret (a password); NULL is fine. */
void util_free_secret(char *s);

/* Milliseconds on a monotonic clock, for durations and deadlines. */
int64_t util_now_ms(void);

/* Format T as "2026-11-22T10:00:00Z" into BUF (at least 21 bytes). */
void util_iso8601(time_t t, char *buf, size_t len);

/*
 * Parse a whole decimal string into *OUT within [MIN, MAX]. Returns 0, or -1
 * on anything else (empty, junk, overflow). Replaces atoi/strtol misuse.
 */
int util_parse_int(const char *s, long long min, long long max, long long *out);

/* Case-insensitive ASCII comparison of whole strings; 1 when equal. */
int util_strieq(const char *a, const char *b);

/*
 * Match NAME against PATTERN where a leading "*." matches one or more labels
 * ("*.mail.protection.outlook.com"), case-insensitively, ignoring a trailing
 * dot on either side. Returns 1 on match.
 */
int util_domain_match(const char *pattern, const char *name);

/*
 * Write LEN bytes of DATA to PATH ("-" = standard output) so that a reader
 * sees either the old file or the whole new one: a temporary file in the
 * same folder, fsync, rename, fsync of the folder. A new file gets 0666 less
 * the umask, a replaced one keeps its mode. Returns 0, or -1 with *ERR
 * ("cannot write WHAT PATH: reason", caller frees); no temporary file is left.
 */
int util_write_file(const char *path, const char *data, size_t len, const char *what, char **err);

/*
 * util_write_file for output too big to hold in memory: WRITE_FN(OUT, ARG)
 * writes it to OUT (returns 0, or -1 after a failed write), and the file
 * is committed the same way (temporary file, fsync, rename; "-" = standard
 * output). Returns 0, or -1 with *ERR (caller frees).
 */
int util_write_stream(const char *path, int (*write_fn)(FILE *out, void *arg), void *arg,
    const char *what, char **err);

/* "a string", "a number", "a boolean", "null", ... for messages about JSON. */
const char *util_json_type(const cJSON *item);

/* Add KEY to object O: the string V, or null when V is NULL. */
void util_json_add_str_or_null(cJSON *o, const char *key, const char *v);

/* S, or NULL when S is NULL or "" (for util_json_add_str_or_null). */
const char *util_nonempty(const char *s);

/*
 * 1 when S is a host or domain name: labels of letters, digits, '-' (not at a
 * label's edge) and '_', at most 63 bytes each and 253 in all, a trailing dot
 * allowed; with ALLOW_WILD a leading "*." too. ASCII only (IDNs as xn--).
 */
int util_hostname_ok(const char *s, int allow_wild);

/* Levenshtein distance between two short strings (for "did you mean"). */
size_t util_edit_distance(const char *a, const char *b);

#endif
