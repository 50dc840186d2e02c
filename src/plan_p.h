/*
 * plan_p.h - what the plan's own files share (plan.c, plan_sheet.c,
 * plan_auth.c); nothing else includes it.
 *
 * The field walk is table-driven, as OpenSSH's readconf.c: each JSON object of
 * the plan has one table of struct plan_key (name, type, where the value goes,
 * whether it is required), and plan_walk() does what every object needs in
 * one place: "expected an object", unknown keys (with a suggestion or the
 * list of valid keys), duplicate keys, missing required keys, type errors,
 * then each value stored by its type in the table's order. A value that needs
 * more than its type says is parsed by the entry's fn.
 *
 * Every message names the place: "plan.json:12: mailboxes[2].dest_user:
 * missing". The path is a stack of steps (ctx->steps); the line comes from
 * locating the path in the text (jscan_locate), from an anchor on the current
 * mailboxes[i] so that thousands of mailboxes stay linear.
 */
#ifndef CUTOVER_PLAN_P_H
#define CUTOVER_PLAN_P_H

#include <stddef.h>

#include <cJSON.h>

#include "jscan.h"
#include "plan.h"

#define PLAN_PATH_MAX 8  /* deepest field path validation uses */
#define PLAN_MAX_KEYS 16 /* most keys of one object */

struct plan_ctx {
	const char *text; /* the plan text (already syntax-checked) */
	size_t len;
	const char *file;  /* name in messages */
	struct plan *plan; /* the plan being filled */
	struct jscan_step steps[PLAN_PATH_MAX];
	size_t depth;
	char *err; /* first error, owned */
	/*
	 * Anchor: the byte offset and line of the field at steps[0..anchor_depth)
	 * (the current mailboxes[i]), so that locating a field inside it does
	 * not rescan the whole text: thousands of mailboxes stay linear.
	 */
	int have_anchor;
	size_t anchor_depth;
	size_t anchor_pos;
	size_t anchor_line;
	int no_lines; /* locating failed once: give paths only */
};

enum plan_type {
	PT_STRING,  /* non-empty string -> char *; `check`/`what` when set */
	PT_USER,    /* a user name -> char * */
	PT_SECRET,  /* a secret (secret_syntax; `check` when set) -> char *; its place at aux */
	PT_PATH,    /* a string joined with the plan's folder -> char *; its place at aux, if set */
	PT_URL,     /* `kind` URL -> struct plan_url * */
	PT_COUNT,   /* whole number >= 0, or null (-1) -> int64_t */
	PT_PORT,    /* 0..65535 -> int */
	PT_BOOL,    /* true or false -> int; 1 -> int at aux ("given") */
	PT_STRINGS, /* array of strings, each passing `check` -> char **, count -> size_t at aux */
	PT_FN,      /* fn(ctx, item, base, key) parses it */
};

struct plan_key;
typedef int (*plan_key_fn)(
    struct plan_ctx *ctx, const cJSON *item, void *base, const struct plan_key *k);

struct plan_key {
	const char *name;
	enum plan_type type;
	size_t off;          /* offset of the value in the struct being filled */
	size_t aux;          /* offset of the second field (see the type); 0: none
	                        (a second field is never a struct's first member) */
	const char *missing; /* NULL: optional; else the message when absent ... */
	/* ... if this says so (NULL: always) */
	int (*needed)(const struct plan_ctx *ctx, const void *base);
	plan_key_fn fn;              /* PT_FN */
	int always;                  /* PT_FN: also called (ITEM NULL) when the key is absent */
	int (*check)(const char *s); /* PT_STRING, PT_STRINGS, PT_SECRET: a value must pass */
	const char *what;            /* ... else this is the message */
	const char *kind;            /* PT_URL: "imap", "pop3", "webmail" */
};

/*
 * Validate OBJ (at the current path) against KEYS[0..N) and store each value
 * into BASE. Returns 0, or -1 with ctx->err set (the first error only).
 */
int plan_walk(
    struct plan_ctx *ctx, const cJSON *obj, const struct plan_key *keys, size_t n, void *base);

void plan_push_key(struct plan_ctx *ctx, const char *key);
void plan_push_index(struct plan_ctx *ctx, size_t index);
void plan_pop(struct plan_ctx *ctx);

/*
 * "plan.json:12: mailboxes[2].dest_user" for the current path; the line is
 * that of the current field, or of its parent when PARENT_LINE (the field
 * is missing). Without a line: "plan.json: mailboxes[2].dest_user". Caller frees.
 */
char *plan_where(const struct plan_ctx *ctx, int parent_line);

/* Record the first error at the current path (see plan_where). Returns -1. */
int plan_fail(struct plan_ctx *ctx, int parent_line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * "unknown WHAT "VALUE" (did you mean "NAME"? WHATs: a, b, c)" at the current
 * path, the suggestion only when one of NAMES is close. Returns -1.
 */
int plan_fail_unknown(
    struct plan_ctx *ctx, const char *what, const char *value, const char *const *names, size_t n);

/* A non-empty string at the current path into *OUT (caller frees). */
int plan_string(struct plan_ctx *ctx, const cJSON *item, char **out);

/*
 * A copy of S fit to quote in a message: at most 40 characters, anything but
 * printable ASCII shown as '?'. Caller frees.
 */
char *plan_echo(const char *s);

/* Index of the closest name in NAMES to S, or -1 when none is close. */
int plan_suggest(const char *s, const char *const *names, size_t n);

/* "a, b, c" of NAMES. Caller frees. */
char *plan_list(const char *const *names, size_t n);

/* Problems of a user name (static text), or NULL. */
const char *plan_user_syntax(const char *v);

/* "source_user", "source_password", "dest_user", "dest_password". */
extern const char *const plan_mailbox_keys[4];

/* Reject a source_user listed twice (case-insensitively); names the earliest repeat. */
int plan_check_duplicates(const struct plan_mailbox *mbs, size_t n, char **err);

/* ---- plan_auth.c: the per-side "auth" object (issue 13) ---------------------- */

/* Parse ITEM (the side's "auth") into side->auth, defaults from side->profile. */
int plan_auth_parse(struct plan_ctx *ctx, const cJSON *item, struct plan_side *side);

/* Resolve the side's auth secrets (env:/file:) against DIR. */
int plan_auth_resolve(struct plan_side *side, const char *dir, char **err);

/* Free side->auth (wiping secrets) and its places. */
void plan_auth_free(struct plan_side *side);

#endif
