/*
 * propagation.h - dns.propagation: who still sees the old MX (TXT, CNAME),
 * asked of every authoritative server and every resolver at once.
 *
 * One "watch" (struct prop) asks a set of DNS servers, any number of them,
 * through one dnsprobe (a few shared UDP sockets, src/dnsprobe.h):
 * authoritative servers with recursion off (RD=0), resolvers with recursion
 * on, all with raw rcodes so that SERVFAIL and REFUSED come back as such. One round sends every
 * query at once and ends when the last server answered or gave up; with `watch` set, rounds repeat
 * every interval (a libevent timer, never sleep) until every server matches.
 *
 * Each expectation (--expect-mx, --expect-txt, --expect-cname) is one runner
 * task producing one dns.propagation result (reports/SCHEMA.md). The tasks'
 * deadline is the run's: --timeout for one round, --deadline for a watch. On
 * the deadline or runner_stop() (SIGINT), each task's cancel writes where the
 * watch stood, including the timeline.
 *
 * Ownership: the caller creates the watch with prop_new() before runner_run()
 * and frees it with prop_free() after runner_run() returned and before
 * runner_free() (the watch owns a dnsprobe, sockets and timers on the runner's event base).
 * The config and everything it points to are borrowed for the watch's life.
 *
 * The pure helpers at the end (matching, status, times, server strings) have
 * no I/O and are unit-tested in tests/unit/test_propagation.c.
 */
#ifndef CUTOVER_PROPAGATION_H
#define CUTOVER_PROPAGATION_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "result.h"
#include "runner.h"
#include "verdict.h"

#define PROP_MAX_LIST_LINE 1024 /* longest line of a resolvers list */
#define PROP_MAX_EXPECT 8       /* --expect-* options */
#define PROP_MAX_VALUES 16      /* values of one expectation (MX hosts) */
#define PROP_MAX_NS 16          /* NS names followed in discovery */
#define PROP_MAX_ANSWER 32      /* records of one answer kept */
#define PROP_MAX_TIMELINE 4096  /* timeline events kept per expectation (or 8 a server) */

enum prop_role { PROP_AUTHORITATIVE = 0, PROP_RESOLVER };

enum prop_state {
	PROP_UNKNOWN = 0, /* not answered yet */
	PROP_MATCH,       /* answers what is expected */
	PROP_STALE,       /* answers something else (the old record, or nothing) */
	PROP_ERROR,       /* could not be asked: timeout, SERVFAIL, REFUSED, ... */
};

/* One thing to watch: the record TYPE (DNSMSG_MX, _TXT, _CNAME) of NAME. */
struct prop_expect {
	int type;
	const char *name;
	/* MX: host names or "*." patterns; TXT: the whole expected text; CNAME:
	 * the target (a pattern). */
	const char *values[PROP_MAX_VALUES];
	/* MX only: 1 when the value must be seen among the exchanges (a host the
	 * user named), 0 when it is one of several allowed (a profile's
	 * patterns). */
	unsigned char required[PROP_MAX_VALUES];
	unsigned char
	    owned[PROP_MAX_VALUES]; /* values[i] is allocated (free with prop_expect_clear) */
	size_t n_values;
};

struct prop;

/* Who runs a resolver: "Google Public DNS", "US". Either may be NULL. */
struct prop_meta {
	const char *operator;
	const char *country;
};

/* Called after every round (and never from a cancel): print progress. */
typedef void (*prop_round_fn)(void *arg, const struct prop *p);

struct prop_config {
	const char *domain;               /* the zone: NS and SOA are asked for it */
	const struct prop_expect *expect; /* n_expect >= 1 */
	size_t n_expect;
	/* "ADDR", "ADDR:PORT", "[V6]:PORT". n_authoritative == 0: discover the
	 * NS set of DOMAIN through runner_dns() and ask each address on NS_PORT. */
	const char *const *authoritative;
	size_t n_authoritative;
	const char *const *resolvers;
	size_t n_resolvers;
	/* NULL, or n_resolvers entries: each resolver's operator and country
	 * (from a resolvers list; NULL members when unknown). Borrowed. */
	const struct prop_meta *resolver_meta;
	int ns_port;     /* 53 unless a lab says otherwise */
	int timeout_ms;  /* budget of one server's queries in a round */
	int watch;       /* repeat rounds until all match */
	int interval_ms; /* between round starts */
	int deadline_ms; /* watch: 0 = none */
	int then;        /* --then given (recorded in the report) */
	prop_round_fn on_round;
	void *on_round_arg;
};

/*
 * A new watch on runner R. Returns NULL with *ERR (caller frees) for a bad
 * server string.
 */
struct prop *prop_new(struct runner *r, const struct prop_config *cfg, char **err);
/* Add one task per expectation to the runner (call once, before runner_run). */
void prop_schedule(struct prop *p);
/* Mark the watch as interrupted (SIGINT); call before runner_stop(). */
void prop_interrupt(struct prop *p);
/* 1 when every expectation reached "all servers match" (the --then rule). */
int prop_complete(const struct prop *p);
/* Free the watch and its sockets. NULL is fine. */
void prop_free(struct prop *p);

/* ---- read-only view for progress output (valid during on_round) ------ */

struct prop_view {
	const char *server;   /* "127.0.0.1:5300", "192.0.2.53" */
	const char *ns_name;  /* discovered NS host, or NULL */
	const char *operator; /* from a resolvers list, or NULL */
	const char *country;  /* ISO 3166 code from a resolvers list, or NULL */
	enum prop_role role;
	enum prop_state state;
	const char *answer;   /* "mx1.example.com, mx2.example.com", "" or NULL on error */
	int64_t ttl;          /* -1 = none */
	int64_t serial;       /* -1 = none */
	const char *error;    /* NULL unless state is error */
	time_t expires_at;    /* a stale resolver's cache expiry (answer + TTL), else 0 */
	int changed;          /* state or answer changed in the last round */
	const char *previous; /* the state before the change, NULL on the first answer */
};

size_t prop_n_expect(const struct prop *p);
size_t prop_n_servers(const struct prop *p);
/* Expectation I as "MX example.com"; its status after the last round. */
const char *prop_expect_label(const struct prop *p, size_t i);
enum result_status prop_expect_status(const struct prop *p, size_t i, size_t *matched);
int prop_expect_done(const struct prop *p, size_t i);
/* Server S for expectation I. */
void prop_view(const struct prop *p, size_t i, size_t s, struct prop_view *out);
/* Rounds finished; milliseconds since the watch started. */
unsigned prop_rounds(const struct prop *p);
int64_t prop_elapsed_ms(const struct prop *p);

/* ---- pure helpers -------------------------------------------------------- */

/*
 * Does ANSWER (N record values: MX exchanges, TXT texts, CNAME targets) show
 * what E expects? MX: at least one exchange, every exchange matches one of
 * the values (util_domain_match), and every required value matches one
 * exchange. TXT: one text equals a value exactly. CNAME: the target matches a
 * value. Returns 1 or 0.
 */
int prop_match(const struct prop_expect *e, const char *const *answer, size_t n);

/*
 * Fill E from an --expect-mx argument "HOST[,HOST...]" where a HOST may also
 * be a profile name (microsoft365 ...: its MX patterns, not required one by
 * one). Appends to what E already holds. Returns 0, or -1 with *ERR (caller
 * frees).
 */
int prop_expect_mx_parse(struct prop_expect *e, const char *arg, char **err);

/* Free the values E owns and zero E. */
void prop_expect_clear(struct prop_expect *e);

/*
 * Split "NAME=VALUE" (--expect-txt, --expect-cname) into *NAME and *VALUE
 * (new strings, caller frees); "@" as NAME means DOMAIN. Returns 0, or -1
 * with *ERR (caller frees) when the '=' or a side is missing.
 */
int prop_name_value_parse(
    const char *arg, const char *domain, char **name, char **value, char **err);

/* Server counts of one expectation in one round. */
struct prop_counts {
	size_t auth_match, auth_stale, auth_error;
	size_t res_match, res_stale, res_error;
};

/*
 * The status of one round: error when nothing answered; fail when an
 * authoritative server is stale while a resolver already has the new answer
 * (the zone changed, that server did not follow); warn while anything is
 * stale or could not be asked; pass when every server matches.
 */
enum result_status prop_status(const struct prop_counts *c);

/* Why a result is written: a round ended, or the watch completed, reached its
 * deadline or was interrupted. */
enum prop_outcome { PROP_OUT_ROUND, PROP_OUT_COMPLETE, PROP_OUT_DEADLINE, PROP_OUT_INTERRUPTED };

/* One server's line of the details (reports/SCHEMA.md, dns.propagation servers). */
struct prop_server_row {
	const char *server;                     /* its label: "192.0.2.1", "[::1]:5300" */
	const char *name, *operator, * country; /* the NS host, a resolvers list's words; or NULL */
	int authoritative;                      /* else a resolver */
	const char *state;                      /* "match", "stale" or "error" */
	const char *const *answer;              /* the answer (state match or stale; else null) */
	size_t n_answer;
	int64_t ttl, serial;            /* -1: null */
	const char *error, *error_code; /* NULL: null */
	const char *negative;           /* "nodata", "nxdomain"; NULL: left out */
	time_t expires_at;              /* a stale resolver's cache expiry; 0: null */
	time_t first_match_at;          /* 0: null */
	int64_t first_match_ms;         /* -1: null */
};

/* What one expectation's result says, as the watch stands when it ends. Its
 * strings are borrowed from the watch; the rows and serials are its own. */
struct prop_summary {
	const char *label;         /* "MX example.com" */
	enum result_status status; /* prop_status(&counts) */
	struct prop_counts counts;
	size_t total;                    /* servers asked */
	const char *stale_authoritative; /* the first stale authoritative server, or NULL */
	size_t n_stale_authoritative;
	const char *first_error; /* the first server not answering: why, and who */
	const char *first_error_server;
	const char *discovery_error; /* NS discovery failed, or NULL */
	int64_t *serials;            /* the authoritative SOA serials, distinct, ascending */
	size_t n_serials;
	int answers_agree; /* the authoritative servers' answers are alike */
	time_t expire_by;  /* the last stale resolver cache expiry, or 0 */
	time_t now;
	enum prop_outcome outcome;
	int watch;
	int deadline_ms;
	unsigned rounds;
	int64_t elapsed_ms;
	/* For the details only: */
	const char *record_type; /* "MX", "TXT", "CNAME" */
	const char *record_name;
	const char *const *expected; /* the expected values */
	size_t n_expected;
	struct prop_server_row *servers; /* TOTAL of them */
	int discovered;                  /* the name servers were looked up (no --authoritative) */
	const char *const *ns;           /* the NS names found */
	size_t n_ns;
	int interval_ms; /* the watch's */
	int then;
	time_t started_at;
	const cJSON *timeline; /* the changes seen (an array), or NULL: empty */
	int timeline_truncated;
};

/* Free what prop_summary owns (the rows and serials). */
void prop_summary_clear(struct prop_summary *sm);

/* SM as the result's details (reports/SCHEMA.md, dns.propagation) into D. */
void prop_details_json(const struct prop_summary *sm, cJSON *d);

/*
 * The result of one expectation: prop_status's rule, worded with the server
 * to blame and what to do; a serial mismatch noted; at the deadline
 * anything short of "every server has it" fails, an interrupted pass warns.
 */
void prop_verdict(const struct prop_summary *sm, struct verdict *out);

/*
 * Normalise a server string for c-ares and for display: "ADDR", "ADDR:PORT",
 * "[V6]:PORT" or a bare IPv6 address, with DEFAULT_PORT when none is given.
 * Writes the c-ares form ("1.2.3.4:53", "[::1]:53") to CARES and the display
 * form (port omitted when 53) to LABEL. Returns 0, or -1 when S is not an IP
 * address with an optional port.
 */
int prop_server_parse(
    const char *s, int default_port, char *cares, size_t cares_len, char *label, size_t label_len);

/*
 * A resolvers list (--resolvers-file, the curated public list): one server a
 * line, "ADDR[:PORT] [OPERATOR [| COUNTRY [| SOURCE]]]", '#' starts a
 * comment, blank lines are fine. OPERATOR is free text ("Google Public
 * DNS"), COUNTRY an ISO 3166-1 alpha-2 code ("US"), SOURCE where the address
 * was taken from. An address listed twice (in any spelling) is an error.
 */
struct prop_list_entry {
	char *server;    /* as written: "8.8.8.8", "127.0.0.1:5300" */
	char *canonical; /* prop_server_parse's c-ares form: "8.8.8.8:53" */
	char *operator;  /* NULL when absent */
	char *country;   /* NULL when absent; two upper-case letters */
	char *source;    /* NULL when absent */
	unsigned line;
};

struct prop_list {
	struct prop_list_entry *v;
	size_t n, cap;
};

/*
 * Parse BUF (LEN bytes; need not be NUL-terminated) and append its entries
 * to L. Returns 0, or -1 with *ERR (caller frees) naming PATH, the line and
 * what is wrong ("list.txt:12: \"8.8.8\" is not an IP address ...").
 */
int prop_list_parse(const char *buf, size_t len, const char *path, struct prop_list *l, char **err);
/* Free the entries of L and zero it. */
void prop_list_free(struct prop_list *l);

/*
 * T rounded up to the minute ("at the latest") as "14:05 UTC" when that is on
 * NOW's UTC day, else "2026-11-23 14:05 UTC", into BUF.
 */
void prop_format_utc(time_t t, time_t now, char *buf, size_t len);

#endif
