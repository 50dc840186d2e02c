/*
 * folders.h - the folder inventory of one IMAP mailbox, over one session.
 *
 * folders_fetch() runs on an imap_client that is READY (logged in) and
 * collects, with a handful of round trips however many folders there are:
 *
 *   1. NAMESPACE (RFC 2342; LIST "" "" without it), then LIST "" "*"
 *      (RFC 3501 section 6.3.8), with RETURN (SPECIAL-USE) when
 *      the server offers LIST-EXTENDED and SPECIAL-USE (RFC 5258, RFC 6154)
 *      and RETURN (... STATUS (...)) with LIST-STATUS (RFC 5819); XLIST for
 *      old Gmail-style servers without SPECIAL-USE; else plain LIST. Pipelined
 *      with GETQUOTAROOT "INBOX" (RFC 9208 section 4.3.1) when asked, and
 *      LSUB "" "*" when subscriptions are asked and LIST-EXTENDED cannot
 *      RETURN (SUBSCRIBED). Folders of other users' and shared namespaces
 *      are listed (FOLDERS_F_FOREIGN) but get no STATUS.
 *   2. STATUS (MESSAGES UIDNEXT UIDVALIDITY [SIZE]) for every selectable
 *      folder (unless LIST-STATUS answered already), all pipelined (at most
 *      FOLDERS_WINDOW in flight). SIZE is STATUS=SIZE (RFC 8438).
 *   3. Only where needed, pipelined: EXAMINE + UID FETCH 1:* (RFC822.SIZE)
 *      summed as the responses stream in (never held as a list) when the
 *      server has no STATUS=SIZE; EXAMINE + UID SEARCH LARGER n (RETURN
 *      (COUNT) with ESEARCH, RFC 4731) for folders that may hold a message
 *      over the size limit (a folder whose total is below it cannot).
 *
 * Names are decoded from modified UTF-7 (RFC 3501 section 5.1.3) with
 * glibc's iconv "UTF-7-IMAP"; a name that does not decode keeps its raw
 * form in `name` and has name_ok 0: reported, not fatal. \Noselect and
 * \NonExistent folders are listed but get no STATUS.
 *
 * Ownership: the caller owns the imap_client and keeps it alive until the
 * job's callback ran or folders_job_free() was called; the job owns the
 * inventory until folders_job_take(). A job never logs out, never frees the
 * client. The pure helpers (folders_mutf7_*, folders_name_*, folders_special_*,
 * folders_match) have no I/O and are unit-tested and fuzzed.
 */
#ifndef CUTOVER_FOLDERS_H
#define CUTOVER_FOLDERS_H

#include <stddef.h>
#include <stdint.h>

struct imap_client;
struct imap_response;

/* RFC 6154 special-use attributes (plus RFC 8457 \Important). */
enum folders_special {
	FOLDERS_SPECIAL_NONE = 0,
	FOLDERS_SPECIAL_ALL,
	FOLDERS_SPECIAL_ARCHIVE,
	FOLDERS_SPECIAL_DRAFTS,
	FOLDERS_SPECIAL_FLAGGED,
	FOLDERS_SPECIAL_JUNK,
	FOLDERS_SPECIAL_SENT,
	FOLDERS_SPECIAL_TRASH,
	FOLDERS_SPECIAL_IMPORTANT,
};

/* LIST attributes kept (RFC 3501 7.2.2, RFC 5258 3). */
#define FOLDERS_F_NOSELECT 0x1    /* \Noselect: a hierarchy node, no messages */
#define FOLDERS_F_NONEXISTENT 0x2 /* \NonExistent (implies \Noselect) */
#define FOLDERS_F_NOINFERIORS 0x4 /* \Noinferiors */
#define FOLDERS_F_HASCHILDREN 0x8 /* \HasChildren */
#define FOLDERS_F_SUBSCRIBED 0x10 /* \Subscribed (LIST-EXTENDED) or listed by LSUB */
#define FOLDERS_F_FOREIGN 0x20    /* in another user's or a shared namespace (no STATUS) */

/* Where a folder's byte count came from. */
enum folders_bytes_src {
	FOLDERS_BYTES_NONE = 0, /* unknown (bytes is -1) */
	FOLDERS_BYTES_STATUS,   /* STATUS (SIZE), RFC 8438 */
	FOLDERS_BYTES_FETCH,    /* the sum of RFC822.SIZE from UID FETCH */
};

struct folders_folder {
	char *raw_name; /* as the server sent it (modified UTF-7) */
	char *name;     /* UTF-8; the raw name when it did not decode */
	int name_ok;    /* 1 when the raw name decoded (or was plain ASCII) */
	char delim;     /* hierarchy delimiter of this name; '\0' when NIL (flat) */
	unsigned flags; /* FOLDERS_F_* */
	enum folders_special special;
	int has_status;       /* STATUS (or LIST-STATUS) answered */
	uint32_t messages;    /* valid with has_status */
	uint32_t uidnext;     /* 0 when unknown */
	uint32_t uidvalidity; /* 0 when unknown */
	int64_t bytes;        /* -1 when unknown */
	enum folders_bytes_src bytes_src;
	int64_t large; /* messages over opts.large_over; -1 when not counted */
	char *error;   /* why STATUS/EXAMINE/FETCH/SEARCH failed here, or NULL */
};

/* What a job found. Every string and array is owned by the inventory. */
struct folders_inventory {
	struct folders_folder *folders; /* in the server's LIST order */
	size_t n;
	char delim;              /* the hierarchy delimiter (INBOX's, else the first one seen) */
	int64_t total_messages;  /* sum over folders with has_status */
	int64_t total_bytes;     /* sum of bytes; -1 when any selectable folder's is unknown */
	const char *list_method; /* "LIST-STATUS", "LIST-EXTENDED", "XLIST" or "LIST" (static) */
	/* GETQUOTAROOT "INBOX" (with opts FOLDERS_WANT_QUOTA and the QUOTA capability). */
	int has_quota;               /* a STORAGE resource was reported */
	char *quota_root;            /* its root name, or NULL */
	int64_t quota_used_bytes;    /* STORAGE usage x 1024 (RFC 9208 5.1: units of 1024 octets) */
	int64_t quota_limit_bytes;   /* STORAGE limit x 1024; -1 when the root has none */
	int64_t quota_used_messages; /* MESSAGE resource, -1 when absent */
	int64_t quota_limit_messages; /* -1 when absent */
	int large_counted; /* opts asked FOLDERS_WANT_LARGE and every folder was counted */
	/*
	 * The personal namespace (RFC 2342): NAMESPACE when the server has it,
	 * else LIST "" "" for the delimiter and the folder names for the prefix
	 * (folders_ns_guess). Folder paths are taken relative to ns_prefix.
	 */
	const char *ns_method; /* "NAMESPACE" or "LIST" (static) */
	char *ns_prefix;       /* as the server sends it ("INBOX.", ""); never NULL */
	char ns_delim;         /* its delimiter ('\0': flat or unknown) */
	char **ns_foreign;     /* prefixes of other users' and shared namespaces */
	size_t n_ns_foreign;
	size_t n_foreign;  /* folders under them (FOLDERS_F_FOREIGN) */
	int subscriptions; /* FOLDERS_F_SUBSCRIBED is known (opts FOLDERS_WANT_SUBSCRIBED) */
	size_t commands;   /* IMAP commands this job sent */
	int truncated;     /* more than opts.max_folders: the rest was ignored */
};

/* What to collect (folders_opts.want). LIST is always done. */
#define FOLDERS_WANT_STATUS 0x1      /* messages, uidnext, uidvalidity */
#define FOLDERS_WANT_BYTES 0x2       /* bytes per folder (implies STATUS) */
#define FOLDERS_WANT_LARGE 0x4       /* count messages over large_over (implies STATUS) */
#define FOLDERS_WANT_QUOTA 0x8       /* GETQUOTAROOT "INBOX" */
#define FOLDERS_WANT_SUBSCRIBED 0x10 /* RETURN (SUBSCRIBED), else LSUB "" "*" */

/* Capabilities a job may be told to ignore (tests, benchmarks, odd servers). */
#define FOLDERS_IGNORE_LIST_STATUS 0x1
#define FOLDERS_IGNORE_STATUS_SIZE 0x2
#define FOLDERS_IGNORE_LIST_EXTENDED 0x4 /* also skips RETURN (SPECIAL-USE) */
#define FOLDERS_IGNORE_ESEARCH 0x8
#define FOLDERS_IGNORE_NAMESPACE 0x10 /* LIST "" "" and the names decide */

/* Commands in flight at most during the STATUS/EXAMINE phases. */
#define FOLDERS_WINDOW 128
/* Folders kept at most; the rest is ignored (truncated = 1). */
#define FOLDERS_DEFAULT_MAX 100000

struct folders_opts {
	unsigned want;      /* FOLDERS_WANT_* */
	int64_t large_over; /* FOLDERS_WANT_LARGE: count messages with RFC822.SIZE > this */
	unsigned ignore;    /* FOLDERS_IGNORE_* */
	size_t max_folders; /* 0 = FOLDERS_DEFAULT_MAX */
};

struct folders_job;

/*
 * Called once, from the loop, when the job finished: folders_job_error() is
 * NULL on success. The callback may free the job and the client.
 */
typedef void (*folders_done_fn)(struct folders_job *job, void *aux);

/*
 * Start collecting the inventory over C (borrowed; must outlive the job). O
 * is copied. DONE runs once with AUX, from the loop, never from inside this
 * call, and only when none of the job's commands is in flight any more.
 * Returns the job (caller frees with folders_job_free), or NULL when C is not
 * READY (logged in); nothing was sent then.
 */
struct folders_job *folders_fetch(
    struct imap_client *c, const struct folders_opts *o, folders_done_fn done, void *aux);

/* NULL when the job succeeded or is still running, else why it failed
 * ("LIST failed: NO ...", or the client's error). Owned by the job. */
const char *folders_job_error(const struct folders_job *job);

/* The inventory so far (complete after a successful callback); owned by the job. */
const struct folders_inventory *folders_job_inventory(const struct folders_job *job);

/* Take the inventory out of the job (caller frees with folders_inventory_free);
 * the job keeps an empty one. */
struct folders_inventory *folders_job_take(struct folders_job *job);

/*
 * Free the job. After its callback this is always safe. Before it (a
 * deadline), commands of the job are still queued in the client and refer to
 * the job: call imap_client_timeout() first or free the client right after,
 * before the loop runs again, so no callback fires. NULL is fine.
 */
void folders_job_free(struct folders_job *job);

void folders_inventory_free(struct folders_inventory *inv);

/* ---- pure helpers ---------------------------------------------------------- */

/*
 * Modified UTF-7 (RFC 3501 section 5.1.3) to UTF-8 with iconv "UTF-7-IMAP".
 * Returns a new NUL-terminated string (caller frees), or NULL when RAW is not
 * valid modified UTF-7 (or iconv lacks the charset). LEN is RAW's length.
 */
char *folders_mutf7_decode(const char *raw, size_t len);
/* UTF-8 to modified UTF-7; NULL when S is not valid UTF-8. Caller frees. */
char *folders_mutf7_encode(const char *s, size_t len);

/* The attribute of a LIST/XLIST flag ("\\Sent", "\\AllMail", "\\Spam" ...),
 * FOLDERS_SPECIAL_NONE when it is none. Case-insensitive. */
enum folders_special folders_special_from_flag(const char *flag);
/* "\\Sent" etc., NULL for NONE. */
const char *folders_special_str(enum folders_special s);
/* A guess from a common name ("Sent Items", "Gesendet", "Deleted Items",
 * "Spam" ...; the last hierarchy level of NAME split at DELIM), for servers
 * without SPECIAL-USE. FOLDERS_SPECIAL_NONE when unknown. */
enum folders_special folders_special_guess(const char *name, char delim);
/* The rank of the well-known top-level name REL_UTF8 among the guesses (the
 * first name of a class first: "Drafts" before "Entwuerfe"), -1 when it is
 * none or not top-level (DELIM in it); *SP gets its class. */
int folders_guess_rank(const char *rel_utf8, char delim, enum folders_special *sp);

/*
 * Interpret one untagged response as LIST/XLIST data: fills *F (raw_name,
 * name, name_ok, delim, flags, special; the rest zeroed with bytes and large
 * -1). Returns 1 when R was a LIST/XLIST response and F was filled (caller
 * frees with folders_folder_clear), 0 when R is something else, -1 when it
 * is a malformed LIST response.
 */
int folders_parse_list(const struct imap_response *r, struct folders_folder *f);

/*
 * Interpret "* STATUS mailbox (MESSAGES n UIDNEXT n ...)" (RFC 3501 7.2.4):
 * applies the values to F when F's raw name equals the response's mailbox
 * name. *NAME (optional) is set to the mailbox name (borrowed from R).
 * Returns 1 when R was a STATUS response, 0 when not, -1 when malformed.
 */
int folders_parse_status(
    const struct imap_response *r, const char **name, struct folders_folder *f);

void folders_folder_clear(struct folders_folder *f);

/* ---- folder name rules (what breaks migrations) ---------------------------- */

/* Why a name is a problem (bits; folders_name_reason() gives the text). */
#define FOLDERS_NP_SLASH 0x1         /* '/' in a level: Microsoft's IMAP migration skips it */
#define FOLDERS_NP_DEST_DELIM 0x2    /* the destination's delimiter in a level */
#define FOLDERS_NP_COMMA 0x4         /* ',' */
#define FOLDERS_NP_PERIOD 0x8        /* '.' in a level */
#define FOLDERS_NP_AMPERSAND 0x10    /* '&' */
#define FOLDERS_NP_SPACE_EDGE 0x20   /* a level starts or ends with a space */
#define FOLDERS_NP_NON_ASCII 0x40    /* non-ASCII characters */
#define FOLDERS_NP_CASE_DUP 0x80     /* another folder differs only in case */
#define FOLDERS_NP_TOO_LONG 0x100    /* a level longer than FOLDERS_MAX_LEVEL_CHARS */
#define FOLDERS_NP_TOO_DEEP 0x200    /* more than FOLDERS_MAX_DEPTH levels */
#define FOLDERS_NP_UNDECODABLE 0x400 /* not valid modified UTF-7 */
#define FOLDERS_NP_RESERVED 0x800    /* a top level the destination reserves (Calendar ...) */
#define FOLDERS_NP_COUNT 12

/* Exchange/Outlook: folder names up to 255 characters; migration tools and
 * Outlook's PST paths get into trouble with deep trees. */
#define FOLDERS_MAX_LEVEL_CHARS 255
#define FOLDERS_MAX_DEPTH 10

struct folders_name_rules {
	char src_delim;  /* the source's hierarchy delimiter ('\0': flat) */
	char dest_delim; /* the destination's ('\0': unknown, '/' assumed) */
	int microsoft;   /* destination is Microsoft 365/Exchange: reserved names apply */
};

/*
 * The problems of NAME (UTF-8, levels split at RULES->src_delim), without
 * FOLDERS_NP_CASE_DUP (see folders_name_case_dups) and FOLDERS_NP_UNDECODABLE
 * (the caller knows). Returns FOLDERS_NP_* bits, 0 when the name is fine.
 */
unsigned folders_name_problems(const char *name, const struct folders_name_rules *rules);

/* The text for one FOLDERS_NP_* bit ("contains '/' (Microsoft's IMAP migration
 * skips such folders)"), in static storage; "" for an unknown bit. */
const char *folders_name_reason(unsigned bit);

/*
 * For each of the N UTF-8 NAMES, set DUP[i] to the index of an earlier name
 * that equals it ignoring case (ASCII and Latin-1 letters; the delimiter
 * compared as a delimiter), or (size_t)-1. DUP has N entries.
 */
void folders_name_case_dups(const char *const *names, size_t n, size_t *dup);

/*
 * A suggested rename of NAME fixing PROBLEMS (FOLDERS_NP_* bits): forbidden
 * characters become '-', '&' becomes "and", edge spaces go, accented Latin
 * letters lose their accents, long levels are cut, levels past the depth
 * limit are joined with " - ", a case duplicate gets " (2)". Levels stay
 * separated by RULES->src_delim. Returns a new string (caller frees).
 */
char *folders_name_suggest(
    const char *name, unsigned problems, const struct folders_name_rules *rules);

/* ---- source vs destination -------------------------------------------------- */

/* What takes the place of the destination's delimiter inside a level. */
#define FOLDERS_DELIM_REPLACEMENT '-'

/*
 * The destination name of the source folder NAME: split at SRC_DELIM ('\0':
 * flat), each level's DST_DELIM replaced by FOLDERS_DELIM_REPLACEMENT
 * (source "Clients/Partners" in a '.' hierarchy becomes "Clients-Partners"
 * where '/' is the destination's delimiter), joined with DST_DELIM. MUTF7:
 * NAME is modified UTF-7 as LISTed, whose "&...-" runs are copied as they
 * are; else it is UTF-8. *REWRITTEN (may be NULL) is set to 1 when a
 * replacement happened. The one rule the sync creates folders by and the
 * compare check pairs them by. Caller frees.
 */
char *folders_map_name(const char *name, char src_delim, char dst_delim, int mutf7, int *rewritten);

/*
 * Match the source folders to the destination's: first by special use (the
 * attribute, else folders_special_guess), then by name mapped with
 * folders_map_name (source "Archive.2019" <-> destination "Archive/2019"),
 * INBOX case-insensitively. Only folders with has_status (selectable) take
 * part. Fills MAP[i] (SRC->n entries) with the destination index for source
 * folder i, or (size_t)-1 when it has none. Each destination folder is used
 * at most once.
 */
void folders_match(
    const struct folders_inventory *src, const struct folders_inventory *dst, size_t *map);

/* ---- the folder mapping (sync, mailbox.compare, mailbox.folder_map) --------- */

/* Which rule decided a source folder's destination (folders_map). */
enum folders_by {
	FOLDERS_BY_NONE = 0, /* not a folder with messages (\Noselect, STATUS failed) */
	FOLDERS_BY_PLAN,     /* the plan's "sync": {"folder_map"} */
	FOLDERS_BY_SPECIAL,  /* the same RFC 6154 attribute, both sides advertise them */
	FOLDERS_BY_NAME,     /* the same path below each side's personal namespace */
	FOLDERS_BY_GUESS,    /* well-known names (Sent / Sent Items, Entwuerfe / Drafts) */
	FOLDERS_BY_NEW,      /* no partner: the destination folder is to be created */
	FOLDERS_BY_LEFT_OUT, /* the plan maps it to null */
	FOLDERS_BY_FOREIGN,  /* another user's or a shared namespace: left out */
};

/* A user rule: source folder FROM goes to TO (UTF-8, '/' between levels,
 * relative to the destination's personal namespace), NULL: left out. */
struct folders_rule {
	const char *from;
	const char *to;
};

struct folders_mapping {
	size_t dst;     /* the destination folder's index, or (size_t)-1 (new, left out) */
	char *dst_raw;  /* the destination name as sent (modified UTF-7); NULL when left out */
	char *dst_name; /* the same in UTF-8; NULL when left out */
	enum folders_by by;
	int rewritten; /* a level held the destination's delimiter (replaced) */
	int rule;      /* index of the plan rule that decided, else -1 */
};

/*
 * Map every source folder of SRC to the destination DST, in this order:
 *   0. folders of other users' and shared namespaces are left out;
 *   1. RULES (N_RULES, may be NULL): a rule's FROM names a source folder by
 *      its full name or its path below the personal namespace, with the
 *      source's delimiter or '/' between levels ("INBOX.Old.Name",
 *      "Old.Name", "Old/Name"); TO NULL leaves it out;
 *   2. special use, when both sides advertise attributes;
 *   3. exact name: the path below the source's personal namespace prefix,
 *      delimiter translated (folders_map_name) and re-rooted under the
 *      destination's ("INBOX.Archive.2019" -> "Archive/2019"); INBOX to INBOX;
 *   4. well-known names (folders_special_guess, or a folder's attribute), of
 *      top-level folders only, the first name of folders_special_guess's
 *      table first ("Drafts" before "Entwuerfe");
 *   5. else a new folder of the re-rooted name.
 * Steps 2-4 take each destination folder once, and only selectable ones
 * that are unused: an exact match is never displaced by a guess. OUT has
 * SRC->n entries (free with folders_mapping_free). Only folders with
 * has_status are mapped; the others get FOLDERS_BY_NONE.
 */
void folders_map(const struct folders_inventory *src, const struct folders_inventory *dst,
    const struct folders_rule *rules, size_t n_rules, struct folders_mapping *out);
void folders_mapping_free(struct folders_mapping *m, size_t n);

/* "plan", "special-use", "name", "guess", "new", "left-out", "foreign", "none". */
const char *folders_by_str(enum folders_by by);

/* RAW (a folder of INV) below INV's personal namespace prefix: "Archive.2019"
 * for "INBOX.Archive.2019" under "INBOX."; RAW itself when not under it. */
const char *folders_relative(const struct folders_inventory *inv, const char *raw);

/* The delimiter of INV's personal namespace (ns_delim, else delim, else '/'). */
char folders_ns_delim_of(const struct folders_inventory *inv);

/* {"source": ..., "destination": ...}, each side's personal namespace as the
 * reports show it (method, prefix in UTF-8, delimiter): sync.mailbox and
 * mailbox.folder_map alike. Caller owns the object. */
struct cJSON;
struct cJSON *folders_namespaces_json(
    const struct folders_inventory *src, const struct folders_inventory *dst);

/*
 * Parse "* NAMESPACE (("" "/")) NIL (("#shared/" "/"))" (RFC 2342 section
 * 5): the first personal namespace into *PREFIX (caller frees) and *DELIM,
 * every other-users' and shared prefix appended to *FOREIGN / *N_FOREIGN
 * (caller frees). Returns 1 when R was NAMESPACE, 0 when not, -1 when it is
 * malformed (nothing set then).
 */
int folders_parse_namespace(
    const struct imap_response *r, char **prefix, char *delim, char ***foreign, size_t *n_foreign);

/*
 * Without NAMESPACE: the personal prefix the N raw folder NAMES suggest with
 * hierarchy delimiter DELIM: "INBOX<delim>" when more folders sit below
 * INBOX than beside it (a Courier/Cyrus-style server, perhaps with a public
 * namespace beside), else "". Caller frees.
 */
char *folders_ns_guess(const char *const *names, size_t n, char delim);

#endif
