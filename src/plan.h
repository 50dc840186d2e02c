/*
 * plan.h - the plan file (JSON) and the mailbox sheet (CSV).
 *
 * A plan says what is migrated: the domain, the source and destination
 * servers (URLs, an optional admin/master login, provider profile, limits),
 * what DNS should look like after the cutover ("expect"), and the mailboxes.
 * The format is the contract in DESIGN.md ("Plan file (JSON)").
 *
 * Loading has three steps so that parsing stays pure (unit tests, fuzzing):
 *   plan_parse()    text -> struct plan; no file, no environment access.
 *                   Password fields still hold their references as written
 *                   ("env:NAME", "file:PATH" or a literal).
 *   plan_resolve()  plan_read_sheet() + plan_resolve_secrets():
 *   plan_read_sheet()      reads mailboxes_csv (warnings in plan->warnings)
 *                          and checks duplicates; no secret is touched;
 *   plan_resolve_secrets() checks every mailbox has a password or its side
 *                          an admin or an auth, and resolves env:/file:
 *                          passwords and auth references (secret.h). A run
 *                          that logs in to nothing (--only dns,
 *                          --list-mailboxes) never calls it, so unset
 *                          variables do not matter.
 *   plan_open()     reads the file, then plan_parse() + plan_read_sheet().
 *   plan_load()     plan_open() + plan_resolve_secrets().
 *
 * Errors come back as one allocated message in *err (caller frees), naming
 * the place: "plan.json:4:17: syntax error: ...", "plan.json:12:
 * mailboxes[2].dest_user: missing", "users.csv:5: dest_user: empty". The
 * caller prints it and exits 65. A password's value never appears in an error.
 *
 * Ownership: a struct plan owns every string and array it points to;
 * plan_free() releases all of it, wiping secrets. Nothing in it points into
 * the text that was parsed. Relative paths (ca_file, mailboxes_csv, state_dir,
 * file: secrets) are already joined with the plan file's folder.
 *
 * A side's "auth" (plan_auth.c) fills side->auth: flow, tenant, client_id,
 * token_url/device_url/scope (from the profile when the plan leaves them
 * out, token_url_from/scope_from naming where each came from). Its
 * client_secret and access_token resolve as passwords do (env:, the first
 * line of a file:, or a literal); client_certificate, client_key and key_file
 * must be env:/file: references and resolve to the whole content (PEM, JSON).
 * Before plan_resolve_secrets() all five hold the reference as written.
 */
#ifndef CUTOVER_PLAN_H
#define CUTOVER_PLAN_H

#include <stddef.h>

#include "profile.h"
#include "oauth2.h"

/* Largest plan or CSV file plan_load()/plan_resolve() read. */
#define PLAN_MAX_FILE_BYTES (16u * 1024u * 1024u)

/* How a server connection gets TLS. */
enum plan_tls {
	PLAN_TLS_IMPLICIT = 0, /* imaps://, pop3s://, https:// */
	PLAN_TLS_STARTTLS,     /* imap://, pop3:// : must upgrade (STARTTLS/STLS) */
	PLAN_TLS_NONE          /* http:// */
};

/* A parsed server URL. All strings owned by the struct; see plan_url_clear(). */
struct plan_url {
	char *url;    /* as written in the plan */
	char *scheme; /* lower case: "imaps", "pop3", "https" ... */
	char *host;   /* host name or IP literal, without IPv6 brackets */
	int port;     /* explicit or the scheme's default (993/143/995/110/443/80) */
	enum plan_tls tls;
	char *path; /* http(s): path and query, "/" when absent; NULL otherwise */
};

/* References an "auth" object may hold (see struct plan_side). */
#define PLAN_AUTH_NREFS 5

/* A login used for every mailbox of one side (Dovecot master user, etc.). */
struct plan_admin {
	char *user;
	char *password;    /* secret: reference before plan_resolve(), value after */
	char *password_at; /* place for messages: "plan.json:9: source.admin.password" */
};

/* One side of the migration ("source" or "destination"). */
struct plan_side {
	const char *name;              /* "source" or "destination" (static) */
	int present;                   /* the plan has this object */
	char *profile_name;            /* as written, NULL when absent */
	const struct profile *profile; /* built-in profile, NULL when absent */
	struct plan_url *imap;         /* NULL when absent */
	struct plan_url *pop3;         /* NULL when absent */
	struct plan_url *webmail;      /* NULL when absent */
	struct plan_admin *admin;      /* NULL when absent */
	struct oauth2_config *auth;    /* "auth" (issue 13), NULL when absent */
	/*
	 * Places of the auth object's references, for resolve errors (internal
	 * use): client_secret, client_certificate, client_key, key_file,
	 * access_token; NULL when absent.
	 */
	char *auth_at[PLAN_AUTH_NREFS];
	/*
	 * The second port probed besides the URL's (the other TLS mode: 143
	 * for imaps://...:993, 993 for imap://...:143; likewise 110/995):
	 * -1 = derive it, 0 = probe only the URL's port, else that port.
	 */
	int imap_other_port;
	int pop3_other_port;
	/*
	 * The profile's limits overridden key by key by the plan's "limits";
	 * -1 (or -1.0 for quota_headroom) means not set anywhere.
	 */
	struct profile_limits limits;
};

/*
 * What DNS should show after the cutover. Filled from the destination's
 * profile, each key overridden by the plan's "expect". The *_from fields say
 * where each value came from: "plan", a profile name ("microsoft365"), or NULL
 * when nobody set it (then the list is empty / the string NULL). They point to
 * static storage.
 */
struct plan_expect {
	char **mx; /* MX patterns, "*.mail.protection.outlook.com" */
	size_t n_mx;
	const char *mx_from;
	char **spf_include; /* SPF include domains */
	size_t n_spf_include;
	const char *spf_include_from;
	char *autodiscover; /* expected autodiscover CNAME target, or NULL */
	const char *autodiscover_from;
	char *verification; /* Microsoft 365 domain verification TXT "MS=ms12345678",
	                       or NULL (only from the plan) */
	char *go_live;      /* the day the MX flips, "YYYY-MM-DD" (UTC), or NULL */
};

/* One entry of "sync": {"folder_map": {...}}. */
struct plan_folder_map {
	char *from; /* the source folder as written (UTF-8; see folders_map()) */
	char *to;   /* the destination folder (UTF-8, '/' between levels); NULL: leave out */
	char *at;   /* "plan.json:31: sync.folder_map.Junk", for messages */
};

/*
 * The plan's "sync" object: the settings every `cutover sync` pass of the
 * plan uses (the final pass from `propagation --then` included).
 */
struct plan_sync {
	/* "folder_map": source folder -> destination folder or null (leave the
	 * folder out); wins over every automatic rule (folders_map()). In the
	 * plan's order. */
	struct plan_folder_map *folder_map;
	size_t n_folder_map;
	/* "folders" / "exclude": fnmatch globs on the UTF-8 source folder name,
	 * as --folders / --exclude (the command line replaces them). */
	char **folders;
	size_t n_folders;
	char **exclude;
	size_t n_exclude;
	/* "since": "YYYY-MM-DD"; only messages with an INTERNALDATE on or after
	 * that day (00:00 UTC) are copied. since_t is 0 when absent. */
	char *since;
	int64_t since_t;
	/* "delete": true = --delete. has_delete tells whether it was given. */
	int delete_vanished, has_delete;
};

/* One mailbox to audit or sync. */
struct plan_mailbox {
	char *source_user;
	char *source_password; /* secret; NULL when source.admin or source.auth logs in */
	char *dest_user;
	char *dest_password; /* secret; NULL when destination.admin or .auth logs in */
	char *origin;        /* "plan.json: mailboxes[2]" or "users.csv:5" */
	/* Places of the password fields, for resolve errors (internal use);
	 * freed (NULL) once plan_resolve_secrets() succeeded. */
	char *source_password_at;
	char *dest_password_at;
};

struct plan {
	char *path;       /* the plan file as given ("plan.json") */
	char *dir;        /* its folder ("." when none) */
	char *domain;     /* required; trailing dot removed */
	char **resolvers; /* "ADDR[:PORT]" / "[V6]:PORT" strings as written */
	size_t n_resolvers;
	char **public_resolvers;
	size_t n_public_resolvers;
	char *ca_file; /* joined with dir, or NULL */
	struct plan_side source;
	struct plan_side destination;
	struct plan_expect expect;
	struct plan_mailbox *mailboxes; /* "mailboxes" first, then the CSV rows */
	size_t n_mailboxes;
	char *mailboxes_csv;    /* joined with dir, or NULL */
	char *mailboxes_csv_at; /* "plan.json:15: mailboxes_csv", for messages */
	char *state_dir;        /* joined with dir; default "<dir>/.cutover" */
	struct plan_sync sync;  /* "sync"; all empty when absent */
	char *warnings;         /* sheet warnings, '\n'-separated lines, or NULL */
	int sheet_read;         /* plan_read_sheet() succeeded */
	int resolved;           /* plan_resolve_secrets() succeeded */
};

/*
 * Parse and validate plan TEXT (LEN bytes, need not be NUL-terminated). PATH
 * names the file in messages and gives the folder relative paths are joined
 * with (NULL: "plan", folder "."). No file or environment access: passwords
 * stay references and mailboxes_csv is not read. Returns 0 with a new plan in
 * *OUT (caller frees with plan_free), or -1 with *OUT NULL and a message in
 * *ERR (caller frees).
 */
int plan_parse(const char *text, size_t len, const char *path, struct plan **out, char **err);

/*
 * Read PLAN->mailboxes_csv (appending its rows), check duplicates and that each
 * mailbox has a password or its side an admin or an auth, and resolve every
 * env:/file: password and auth reference into its value. Returns 0, or -1 with a message in *ERR
 * (caller frees); after a failure the plan may hold some resolved secrets and must only be freed.
 * Calling it again after success does nothing.
 */
int plan_resolve(struct plan *plan, char **err);

/* "YYYY-MM-DD" (a real day) into seconds since the epoch at 00:00 UTC.
 * Returns 0, or -1 when S is not such a day. */
int plan_parse_day(const char *s, int64_t *out);

/* The two halves of plan_resolve(), each idempotent; same returns. */
int plan_read_sheet(struct plan *plan, char **err);
int plan_resolve_secrets(struct plan *plan, char **err);

/* plan_load() without plan_resolve_secrets(): passwords stay references. */
int plan_open(const char *path, struct plan **out, char **err);

/*
 * Read the file at PATH (at most PLAN_MAX_FILE_BYTES), plan_parse() it and
 * plan_resolve() it. Returns 0 with *OUT set (caller frees), or -1 with a
 * message in *ERR (caller frees).
 */
int plan_load(const char *path, struct plan **out, char **err);

/* Free PLAN and everything it owns, wiping secrets. NULL is fine. */
void plan_free(struct plan *plan);

/*
 * Parse the mailbox sheet DATA (LEN bytes): RFC 4180 CSV with a header naming
 * source_user, source_password, dest_user, dest_password in any order and
 * case, or Microsoft 365's migration batch header EmailAddress (= dest_user),
 * UserName (= source_user), Password (= source_password). The separator is
 * sniffed from the header: comma, semicolon or tab; errors after that name
 * it when it is not a comma. A leading BOM is skipped. A file that is not
 * UTF-8 is read as Windows-1252 (with a warning); a byte that is neither is an
 * error naming its line and offset. Other columns are ignored with one
 * warning naming them (unless one looks like a misspelt known column: error).
 * The user columns are required; a missing password column or an empty cell
 * gives NULL. PATH names the file in messages ("users.csv:5: dest_user:
 * empty"). Password cells are kept as written (references are not resolved).
 * Returns 0 with a new array in *OUT and its length in *N (free each entry
 * with plan_mailbox_clear, then the array) and, when WARN is not NULL, the
 * warnings ('\n'-separated lines, caller frees) or NULL in *WARN; or -1 with
 * *OUT NULL, *N 0 and a message in *ERR (caller frees).
 */
int plan_csv_parse(const char *data, size_t len, const char *path, struct plan_mailbox **out,
    size_t *n, char **warn, char **err);

/* Free the strings of MB (wiping passwords) and zero it. */
void plan_mailbox_clear(struct plan_mailbox *mb);

/* A short name for MB in reports and progress: its source user. */
const char *plan_mailbox_label(const struct plan_mailbox *mb);

/*
 * Parse URL for KIND: "imap" (imap://, imaps://), "pop3" (pop3://, pop3s://)
 * or "webmail" (http://, https://). Form: scheme://host[:port][/path]; the host
 * may be an IPv6 literal in brackets; user names or passwords in the URL are
 * refused; imap and pop3 URLs take no path. Returns 0 and fills *OUT (free its
 * strings with plan_url_clear), or -1 with *OUT zeroed and "not a valid URL:
 * <reason>" in *ERR (caller frees; the reason does not repeat the URL).
 */
int plan_url_parse(const char *url, const char *kind, struct plan_url *out, char **err);

/* Free the strings of U and zero it. NULL is fine. */
void plan_url_clear(struct plan_url *u);

/* "implicit", "starttls" or "none". */
const char *plan_tls_str(enum plan_tls tls);

#endif
