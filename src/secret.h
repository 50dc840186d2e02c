/*
 * secret.h - secret references (env:NAME, file:PATH) and the files that hold
 * secrets.
 *
 * A secret field of the plan (a password, an OAuth2 client secret or key) is
 * written as a reference and resolved only when a run logs in:
 *   env:NAME    the environment variable NAME (an error when unset or empty);
 *   file:PATH   the file, relative to the plan's folder: its first line (a
 *               password) or all of it (a PEM key, a JSON key file);
 *   anything else is the secret itself, taken literally.
 * "ENV:", "File:" and other spellings in the wrong case are refused rather than
 * taken as a secret.
 *
 * Contract for every function here: a secret's value never appears in a
 * message (messages name the field, the variable or the path), and every
 * buffer that held one is wiped before it is freed. Messages come back as one
 * allocated string in *ERR (caller frees), prefixed with AT, the caller's
 * name for the field ("plan.json:9: source.admin.password").
 */
#ifndef CUTOVER_SECRET_H
#define CUTOVER_SECRET_H

#include <stddef.h>

/* Bytes read from a file: secret. */
#define SECRET_FILE_MAX 65536

/* What a reference resolves to. */
enum secret_form {
	SECRET_LINE,  /* file: the first line (passwords, client secrets, tokens) */
	SECRET_WHOLE, /* file: the whole file (PEM keys, JSON key files) */
};

/*
 * Syntax of a reference or literal V: NULL when fine, else the reason (static
 * text that never includes the value): "empty", "contains a line break", "did
 * you mean env: (lower case)? ...", "env: needs a variable name ...", "file:
 * needs a path".
 */
const char *secret_syntax(const char *v);

/*
 * Resolve *SECRET (a reference, or a literal left as it is) in place: the old
 * string is wiped and freed and *SECRET gets the value. file: paths are joined
 * with DIR. NULL is fine (nothing to do). Returns 0, or -1 with *ERR: "AT:
 * environment variable NAME is not set", "... is empty", "AT: cannot read
 * PATH: <reason>", "AT: PATH is larger than N bytes", "AT: PATH: the first
 * line is empty" (SECRET_LINE) or "AT: PATH is empty" (SECRET_WHOLE).
 */
int secret_resolve(
    char **secret, enum secret_form form, const char *at, const char *dir, char **err);

/*
 * Read the whole file at PATH (at most MAX bytes) into *OUT (NUL-terminated,
 * wipe and free with secret_wipe_free(*OUT, *LEN + 1)) and *LEN. Growing the
 * buffer never leaves an unwiped copy behind. Returns 0, -1 with errno set, or
 * -2 when the file is larger than MAX.
 */
int secret_read_file(const char *path, size_t max, char **out, size_t *len);

/* Wipe LEN bytes at BUF and free it. NULL is fine. */
void secret_wipe_free(char *buf, size_t len);

/* REL joined with DIR unless REL is absolute or DIR is ".". Caller frees. */
char *secret_join(const char *dir, const char *rel);

#endif
