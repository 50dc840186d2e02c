/*
 * spf.h - Sender Policy Framework (RFC 7208): record parser, macro expander
 * and check_host() over an abstract asynchronous DNS interface.
 *
 * Why hand-written: Debian 12 has one C SPF library, libspf2 1.2.10
 * (upstream's last release; the Debian package has only seen non-maintainer
 * uploads since, 1.2.10-7.1 for CVE-2021-20314 and 1.2.10-7.2 for a glibc
 * build fix, checked with apt-cache/apt-get download). Its DNS layer is a
 * synchronous lookup function (SPF_dns_lookup_t returns the answer) and the
 * resolver layer calls res_nquery(), which blocks the thread: it cannot run
 * on our libevent loop next to thousands of probes, and it hides the lookup
 * counts per include that this tool exists to show. So: a small parser and
 * an evaluator that asks for DNS through struct spf_dns (function pointers),
 * which checks/dns_spf.c adapts to src/dns.h and tests/unit/test_spf.c to an
 * in-memory table.
 *
 * Ownership: spf_parse and spf_macro_expand return new objects the caller
 * frees. An spf_eval owns everything it allocates; the tree and the outcome
 * it hands to the done callback stay valid until spf_eval_free().
 */
#ifndef CUTOVER_SPF_H
#define CUTOVER_SPF_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* RFC 7208 section 2.6 results; the order is not significant. */
enum spf_result {
	SPF_NONE = 0,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

/* "pass", "fail", ... as RFC 7208 spells them. */
const char *spf_result_str(enum spf_result r);

/* Limits of RFC 7208 section 4.6.4. */
#define SPF_MAX_DNS_TERMS 10 /* include a mx ptr exists redirect */
#define SPF_MAX_VOID 2       /* lookups returning NODATA/NXDOMAIN */
#define SPF_MAX_NAMES 10     /* MX exchanges / PTR names looked up per term */

/* ---- parser (RFC 7208 sections 4.6, 5, 6, 12) --------------------------- */

enum spf_mech {
	SPF_MECH_ALL = 0,
	SPF_MECH_INCLUDE,
	SPF_MECH_A,
	SPF_MECH_MX,
	SPF_MECH_PTR,
	SPF_MECH_IP4,
	SPF_MECH_IP6,
	SPF_MECH_EXISTS,
};

enum spf_term_kind {
	SPF_TERM_MECHANISM = 0,
	SPF_TERM_REDIRECT,
	SPF_TERM_EXP,
	SPF_TERM_UNKNOWN_MOD
};

struct spf_term {
	enum spf_term_kind kind;
	enum spf_mech mech;        /* mechanisms */
	enum spf_result qualifier; /* SPF_PASS for "+" or none, SPF_FAIL "-", SPF_SOFTFAIL "~",
	                              SPF_NEUTRAL "?" */
	char *text;                /* the term as written */
	size_t pos;                /* byte offset of the term in the record */
	char *domain_spec; /* macro-string, NULL when absent (a, mx, ptr default to <domain>) */
	int cidr4, cidr6;  /* prefix lengths; -1 when not written */
	int family;        /* ip4: 4, ip6: 6 */
	unsigned char addr[16]; /* ip4 (first 4 bytes) / ip6 network */
	char *name;             /* modifiers: the name as written */
	char *value;            /* modifiers: the macro-string */
};

struct spf_record {
	struct spf_term *terms;
	size_t n_terms;
	const struct spf_term *redirect; /* points into terms, or NULL */
	const struct spf_term *exp;
	int has_all;   /* an "all" anywhere: redirect= is ignored (6.1) */
	int dns_terms; /* terms that query DNS: include a mx ptr exists (+ redirect) */
};

/* A syntax error: what is wrong, and where (byte offset, 0 = first character). */
struct spf_error {
	size_t pos;
	char msg[160];
};

/*
 * 1 when TEXT (LEN bytes, a whole TXT record) has the version section of RFC
 * 7208 section 4.5: "v=spf1" (any case) followed by a space or the end.
 */
int spf_is_spf_record(const char *text, size_t len);

/*
 * Parse a whole SPF record TEXT of LEN bytes (starting with "v=spf1").
 * Returns 0 and a new *OUT (free with spf_record_free), or -1 with *ERR
 * filled: the first syntax error (unknown mechanism, bad CIDR, bad address,
 * bad macro, bad domain-end, duplicate redirect/exp, stray characters) and
 * its offset. Pure: no DNS, no allocation on the error path that survives.
 */
int spf_parse(const char *text, size_t len, struct spf_record **out, struct spf_error *err);
void spf_record_free(struct spf_record *rec);

/* ---- macros (RFC 7208 section 7) ---------------------------------------- */

/* What macros expand to. Strings are borrowed. */
struct spf_macro_ctx {
	const char *sender;    /* s: "local@domain" (already postmaster@ if empty) */
	const char *domain;    /* d: the current <domain> */
	const char *helo;      /* h: HELO/EHLO name, NULL = "unknown" */
	const char *receiver;  /* r: NULL = "unknown" */
	const char *validated; /* p: validated domain name, NULL = "unknown" */
	int family;            /* 4 or 6: the client address */
	unsigned char ip[16];
	time_t now; /* t */
};

/*
 * Expand the macro-string SPEC (LEN bytes) with CTX. IS_EXP allows the
 * letters c, r and t (explanation text only, 7.2); DOMAIN_SPEC applies the
 * domain rules of 7.3 (trailing dot dropped, left labels removed until the
 * name fits 253 characters). Returns 0 and *OUT (caller frees), or -1 with
 * *ERR (the bad macro and its offset in SPEC).
 */
int spf_macro_expand(const char *spec, size_t len, const struct spf_macro_ctx *ctx, int is_exp,
    int domain_spec, char **out, struct spf_error *err);

/* 1 when SPEC uses a macro that depends on the client (i c p v l s o t r). */
int spf_macro_uses_client(const char *spec);

/* ---- the abstract DNS ---------------------------------------------------- */

enum spf_dns_status {
	SPF_DNS_OK = 0,   /* records of the type (n_rr > 0) */
	SPF_DNS_NODATA,   /* NOERROR, no records of the type: a void lookup */
	SPF_DNS_NXDOMAIN, /* RCODE 3: a void lookup */
	SPF_DNS_TEMPFAIL, /* SERVFAIL, timeout, refused...: temperror (2.6.6) */
};

enum spf_qtype { SPF_QT_A = 1, SPF_QT_PTR = 12, SPF_QT_MX = 15, SPF_QT_TXT = 16, SPF_QT_AAAA = 28 };

struct spf_dns_rr {
	const char *text; /* TXT: character-strings joined; MX/PTR: target name */
	size_t text_len;
	size_t n_strings;       /* TXT: how many character-strings */
	size_t longest_string;  /* TXT: longest one, bytes */
	unsigned char addr[16]; /* A: 4 bytes, AAAA: 16 */
};

struct spf_dns_answer {
	enum spf_dns_status status;
	const char *error; /* readable cause for TEMPFAIL, else NULL */
	const struct spf_dns_rr *rr;
	size_t n_rr;
	size_t wire_len; /* size of the DNS answer in bytes, 0 when unknown */
};

typedef void (*spf_dns_cb)(void *arg, const struct spf_dns_answer *ans);

/*
 * How the evaluator asks for DNS. query() asks NAME for TYPE and calls CB
 * exactly once with an answer valid during the call; it returns a handle
 * for cancel(), or NULL when CB has already run (synchronous tables do that).
 * cancel() stops a pending query: its callback must not run.
 */
struct spf_dns {
	void *(*query)(void *ctx, const char *name, enum spf_qtype type, spf_dns_cb cb, void *arg);
	void (*cancel)(void *ctx, void *handle);
	void *ctx;
};

/* ---- check_host() (RFC 7208 section 4) ---------------------------------- */

/* One record visited: the top domain, an include, or a redirect target. */
struct spf_node {
	char *domain;
	const char *via;  /* "top", "include", "redirect" */
	char *record;     /* the selected v=spf1 record, NULL if none */
	size_t n_strings; /* TXT character-strings of the record */
	size_t longest_string;
	size_t wire_len;   /* size of the TXT answer */
	int n_records;     /* v=spf1 records found (> 1 is a permerror) */
	int lookups;       /* DNS-querying terms of this record itself */
	int void_lookups;  /* void lookups of this record's own terms */
	int total_lookups; /* lookups + every descendant's */
	int has_ptr, has_plus_all, has_all, has_redirect;
	enum spf_result result; /* what this record evaluated to */
	char *error;            /* syntax error / loop / no record / DNS error, or NULL */
	struct spf_node **children;
	size_t n_children;
};

struct spf_outcome {
	enum spf_result result;
	char *reason;    /* why, readable (never NULL once done) */
	char *mechanism; /* the term that matched, or NULL */
	int lookups;     /* DNS-querying terms evaluated */
	int void_lookups;
	int limit_exceeded;    /* walk mode: lookups or voids above the limits */
	struct spf_node *tree; /* the root */
	char *matched_in;      /* the domain whose record decided the result (a redirect
	                          target, an include's parent), NULL when none did */
	/* fail only (RFC 7208 section 6.2): the explanation, and where it came from:
	 * "exp" (the exp= of the deciding record, fetched and expanded) or "default"
	 * (no exp=, or its name/TXT/macros failed: "proceed as if no exp") */
	char *explanation;
	const char *explanation_source;
};

struct spf_eval_params {
	const char *domain; /* <domain> */
	const char *sender; /* MAIL FROM; NULL/"" = postmaster@domain (4.3) */
	const char *helo;   /* %{h}: the HELO/EHLO name; NULL = domain */
	const char *ip;     /* client address (text); NULL = walk mode */
	time_t now;
};

struct spf_eval;
typedef void (*spf_done_cb)(void *arg, const struct spf_outcome *out);

/*
 * Prepare check_host() for PARAMS over DNS (nothing is asked yet). With an
 * IP it is the receiver's evaluation (section 4.6: stops at the first match,
 * the limits end it with permerror). Without one it is a walk: every include
 * and redirect is followed whatever the terms would match, a/mx/exists are
 * looked up when they do not depend on the client (void lookups, the 10-name
 * limit), ptr is counted but not asked, and the limits are counted but do not
 * stop it, so the tree shows the full cost of the policy; the walk's result
 * is what a client that matches nothing would get.
 * Returns the evaluation (free with spf_eval_free), or NULL when
 * PARAMS->ip does not parse. Strings in PARAMS are copied.
 */
struct spf_eval *spf_eval_start(
    const struct spf_eval_params *params, const struct spf_dns *dns, spf_done_cb done, void *arg);
/*
 * Run it: DONE is called exactly once, from spf_eval_run itself when the DNS
 * answers synchronously, or later from a DNS callback, unless spf_eval_free
 * comes first. DONE may free the evaluation; spf_eval_run must then be the
 * caller's last use of E.
 */
void spf_eval_run(struct spf_eval *e);
/* Cancel pending queries and free everything, outcome and tree included. */
void spf_eval_free(struct spf_eval *e);

/* Parse an address "192.0.2.1" / "2001:db8::1" (IPv4-mapped IPv6 becomes
 * IPv4, RFC 7208 section 5). Returns 4 or 6, or 0 when it does not parse. */
int spf_parse_ip(const char *s, unsigned char out[16]);

#endif
