/*
 * check_verdicts.h - what each check observed (its summary struct) and how
 * it judges it, check by check: the rule book of the report.
 *
 * For each check: a summary struct filled by the check's gathering code,
 * X_verdict() (summary -> status, summary line and advice; pure: no I/O, no
 * JSON, no clock) and X_details_json() (summary -> the result's details,
 * reports/SCHEMA.md; pure too: the fields marked "for the details only"
 * are there for it). Strings in a summary are borrowed from whoever
 * gathered them and live until the details are written. The edges of every
 * verdict and details writer are unit-tested in tests/unit/test_verdicts_*.c.
 * The imap.* and pop3.* ones are server_probe.h's (mailcheck_tls_*,
 * mailcheck_login_*), dns.propagation's propagation.h's (prop_verdict,
 * prop_details_json). A check cut by its deadline (the cancel handlers)
 * goes through the same functions, with the summary's timed_out set (for
 * dns.spf, spf_timeout_verdict); nothing is written while gathering.
 */
#ifndef CUTOVER_CHECK_VERDICTS_H
#define CUTOVER_CHECK_VERDICTS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cJSON.h>

#include "src/autodiscover.h"
#include "src/dmarc.h"
#include "src/dns.h"
#include "src/dnschase.h"
#include "src/folders.h"
#include "src/http.h"
#include "src/mtasts.h"
#include "src/smtp.h"
#include "src/spf.h"
#include "src/verdict.h"

/* ---- dns.mx and dns.mx_ttl (dns_mx.c) ---- */

/* The MX lookup's STATUS (ERROR, asked SERVERS): returns 0 for DNS_OK, else 1
 * with V set (no MX, no such domain, a failed lookup). */
int mx_lookup_verdict(const char *domain, enum dns_status status, const char *error,
    const char *servers, struct verdict *v);
/* A null MX (RFC 7505); VALID: alone, with preference 0. */
void mx_null_verdict(const char *domain, int valid, struct verdict *v);

/* One MX record and what the lookups of its exchange found. */
struct mx_record {
	unsigned preference;
	const char *exchange;
	uint32_t ttl;
	const char *const *addresses; /* A and AAAA */
	size_t n_addresses;
	const char *cname;        /* the exchange is an alias of this, or NULL */
	const char *lookup_error; /* an address lookup failed, or NULL */
};

/* What dns.mx found out about the exchanges (the first of each kind). */
struct mx_summary {
	size_t n_ex;          /* exchanges checked */
	const char *provider; /* the profile all belong to, or NULL */
	int mixed;            /* they belong to different providers */
	const char *noaddr;   /* an exchange with no address, or NULL */
	size_t n_noaddr;
	const char *alias, *alias_target; /* an exchange that is a CNAME, and its target */
	const char *lookup_err;           /* an exchange whose address lookup failed */
	const char *const *expect_mx;     /* the MX patterns after cutover, or NULL */
	int all_expected;                 /* every exchange matches them */
	int past_go_live;                 /* the plan's go-live day is over */
	const char *go_live;              /* that day, "YYYY-MM-DD" */
	/* For the details only: */
	const char *resolver;            /* the resolvers asked */
	const struct mx_record *records; /* the N_EX records checked */
	int authoritative;               /* the MX answer had the AA flag */
	const char *expect_origin;       /* where EXPECT_MX came from; NULL: the plan */
	size_t not_checked;              /* records past the ones checked */
	int no_records;                  /* the lookup failed or found none: nothing else set */
	int null_mx;                     /* a null MX among the records: only they are set */
};
void mx_verdict(const struct mx_summary *s, struct verdict *v);
void mx_details_json(const struct mx_summary *s, cJSON *details);

/* dns.mx_ttl: the RRset's TTL against the recommended maximum MAX. */
void mx_ttl_verdict(uint32_t ttl, long max, int authoritative, struct verdict *v);

/* What dns.mx_ttl reports. */
struct mx_ttl_summary {
	long max;          /* the recommended maximum */
	int known;         /* there is an MX RRset (else its TTL is null) */
	uint32_t ttl;      /* its TTL (the highest of the records) */
	int authoritative; /* the answer had the AA flag */
};
void mx_ttl_details_json(const struct mx_ttl_summary *s, cJSON *details);

/* ---- dns.spf (dns_spf.c) ---- */

/* A remark on the policy: CODE (stable, for scripts), the record's domain, a sentence. */
struct spf_lint {
	const char *code;
	char *domain;
	char *message;
};

/* What the walk of the domain's SPF policy found (the limits are spf.h's
 * SPF_MAX_DNS_TERMS and SPF_MAX_VOID). */
struct spf_walk_summary {
	const char *domain;
	const struct spf_node *tree; /* the walk's root (details only) */
	const char *record;          /* the domain's own v=spf1 record, or NULL */
	int n_records;               /* v=spf1 records found */
	const char *error;           /* the root's problem, or NULL */
	enum spf_result result;      /* the walk's */
	int lookups, void_lookups;
	const char *costliest_via; /* the child costing most lookups, or NULL */
	const char *costliest_domain;
	int costliest_lookups;
	const char *broken_via; /* the first broken record below the root, or NULL */
	const char *broken_domain;
	const char *broken_error;
	const struct spf_lint *lints;
	size_t n_lints;
	const char *const *expected; /* includes the destination needs, or NULL */
	const char *origin;          /* where they came from: "plan" or a profile */
	const char *missing;         /* the first of them not reached, or NULL */
};

/* The record to publish (caller frees), or NULL when there is nothing to suggest. */
char *spf_record_to_publish(const struct spf_walk_summary *s);
/* Raise V (verdict_raise) with every finding of the walk. */
void spf_walk_verdict(const struct spf_walk_summary *s, struct verdict *v);
void spf_walk_details_json(const struct spf_walk_summary *s, cJSON *details);
void spf_lints_json(const struct spf_lint *lints, size_t n, cJSON *arr);
/* Adding include:MISSING (INCLUDE_LOOKUPS with what it pulls in) makes AFTER lookups. */
void spf_dest_verdict(const char *missing, int after, int include_lookups, struct verdict *v);
/* check_host(IP, IDENTITY) gave R for REASON. */
void spf_ip_verdict(
    const char *identity, const char *ip, enum spf_result r, const char *reason, struct verdict *v);
/* Nothing found: the pass line (IP_PASSES: the --ip evaluated, or NULL). */
void spf_pass_verdict(
    const char *record, int lookups, int authorizes, const char *ip_passes, struct verdict *v);

/* --ip: the client and identity given to check_host(), and what it said. */
struct spf_ip_summary {
	const char *ip;
	const char *sender;        /* --sender, or NULL / "": postmaster@IDENTITY */
	const char *helo;          /* --helo, or NULL */
	const char *identity;      /* the <domain> evaluated (RFC 7208 sections 2.3, 2.4) */
	const char *identity_kind; /* "mailfrom" or "helo" */
	/* check_host()'s outcome; NULL when it was not run because the domain's
	 * own TXT lookup failed (it would stop there: temperror, section 4.4) */
	const struct spf_outcome *outcome;
};

/* Everything dns.spf reports, stage by stage. */
struct spf_summary {
	const char *resolver;                /* the resolvers asked */
	const struct spf_walk_summary *walk; /* the walk, or NULL when it did not run */
	int dest_walked;                     /* the destination's include was walked */
	int lookups_after_adding;            /* then: the policy's lookups with it added */
	const struct spf_ip_summary *ip;     /* --ip evaluated, or NULL (none, or not an address) */
};
void spf_details_json(const struct spf_summary *s, cJSON *details);
/* The check's deadline passed at PHASE (1 the walk, 2 the destination's
 * include, 3 --ip); the details stay empty. */
void spf_timeout_verdict(const char *domain, int phase, struct verdict *v);

/* ---- dns.autodiscover (dns_autodiscover.c) ---- */

/* An SRV record of _autodiscover._tcp.DOMAIN. */
struct dns_ad_srv {
	unsigned priority, weight, port;
	const char *target; /* "." when the service is not offered (RFC 2782) */
};

/* What the A, AAAA (CNAMEs followed) and SRV lookups of autodiscover found. */
struct dns_ad_summary {
	const char *host;                    /* autodiscover.DOMAIN */
	const char *srvname;                 /* _autodiscover._tcp.DOMAIN */
	const char *final;                   /* the end of the host's CNAME chain (or the host) */
	size_t n_chain;                      /* CNAMEs followed */
	int n_addr, n_srv;                   /* addresses of the host, SRV records */
	int host_exists;                     /* has addresses or is an alias */
	enum dnschase_problem chain_problem; /* a loop or too long a chain (A or AAAA) */
	const char *failed_type; /* "A", "AAAA", "SRV": the lookup failure that decides */
	const char *failed_name;
	const char *failed_error;
	const char *servers; /* the resolvers asked */
	enum dns_status status_a, status_srv;
	const char *expected;              /* the destination's autodiscover host, or NULL */
	const char *origin;                /* "plan" or a profile name (NULL: plan) */
	int matches;                       /* the chain (or an SRV target) reaches EXPECTED */
	const char *srv_match, *srv_first; /* an SRV target equal to EXPECTED; the first one */
	/* The check's deadline passed first: only HOST, SRVNAME, WAITING and LOOKUPS
	 * are set, a NULL lookup being one with no answer yet. */
	int timed_out;
	const char *waiting; /* then: the first name with no answer (or HOST) */
	/* For the details only: */
	const char *const *chain;     /* the N_CHAIN CNAMEs followed */
	const char *const *addresses; /* the N_ADDR addresses */
	const struct dns_ad_srv *srv; /* the N_SRV records */
	const cJSON *lookups[3];      /* the A, AAAA, SRV lookups (dnschase_json) */
};

/* "does not exist (NXDOMAIN)" or "has no such record (NODATA)". */
const char *dns_ad_negative_str(enum dns_status st);
void dns_ad_verdict(const struct dns_ad_summary *s, struct verdict *v);
void dns_ad_details_json(const struct dns_ad_summary *s, cJSON *details);

/* ---- dns.dmarc (dns_dmarc.c) ---- */

/* The TXT records at _dmarc.DOMAIN and the one DMARC record among them. */
struct dmarc_summary {
	const char *name; /* _dmarc.DOMAIN */
	const char *domain;
	const char *owner;              /* where the records were (after CNAMEs) */
	const char *starter;            /* a record to start with, for advice */
	size_t n_txt, n_dmarc;          /* TXT records; those starting with v=DMARC1 */
	const char *record;             /* the one DMARC record's text (n_dmarc == 1) */
	const struct dmarc_record *rec; /* it parsed, or NULL: ERR says why */
	const struct dmarc_error *err;
	int timed_out; /* the check's deadline passed before the answer: only NAME is set */
	/* For the details only: */
	const cJSON *lookup;      /* the TXT lookup (dnschase_json), or NULL */
	int listed;               /* the lookup answered: the records are listed */
	const char *const *dmarc; /* the N_DMARC v=DMARC1 records (listed) */
};
void dmarc_verdict(const struct dmarc_summary *s, struct verdict *v);
void dmarc_details_json(const struct dmarc_summary *s, cJSON *details);
/* A known tag one edit away from NAME ("rue" -> "rua"), or NULL. */
const char *dmarc_suggest(const char *name);

/* ---- dns.dkim (dns_dkim.c) ---- */

/* What the lookup of one DKIM selector found. */
struct dkim_selector {
	const char *selector;
	const char *name;    /* SELECTOR._domainkey.DOMAIN */
	const char *cname;   /* the first alias met, or NULL */
	int published;       /* a key record with a key */
	const char *record;  /* that record (or a revoked one), or NULL */
	const cJSON *lookup; /* the lookup (dnschase_json) */
};

/* The selectors of the destination profile and the first that is not right. */
struct dkim_summary {
	const char *domain;
	const char *profile;  /* "microsoft365" */
	size_t n_sel, n_pub;  /* selectors asked; published with a key */
	const char *servers;  /* the resolvers asked */
	const char *err_name; /* a selector whose lookup failed, or NULL */
	const char *err_error, *err_final;
	int err_chain;             /* it failed on a CNAME loop or long chain */
	const char *missing_name;  /* a selector not published, or NULL */
	const char *missing_final; /* where its CNAMEs led */
	enum dns_status missing_status;
	int missing_revoked; /* a key record with an empty p= */
	/* The check's deadline passed first: only WAITING is set and the details
	 * stay empty, as before any answer. */
	int timed_out;
	const char *waiting; /* then: the first selector with no answer, or NULL (still
	                        at the MX lookup: the runner's "timed out" line stays) */
	/* For the details only: */
	const struct dkim_selector *selectors; /* the N_SEL selectors */
	const char *chosen_by;                 /* "--expect", "plan" or "mx" */
};
void dkim_verdict(const struct dkim_summary *s, struct verdict *v);
void dkim_details_json(const struct dkim_summary *s, cJSON *details);

/* ---- dns.mta_sts (dns_mta_sts.c) ---- */

/* The published MTA-STS policy against the MX expected after the flip. */
struct sts_summary {
	const struct mtasts_policy *policy;
	const char *const *expect; /* the expected MX (hosts or "*." patterns), or NULL */
	const char *url;           /* where the policy is served */
	const char *domain;
	const char *suggested_id; /* a new id for the TXT record (a UTC timestamp) */
};
void sts_verdict(const struct sts_summary *s, struct verdict *v);
/* The v=STSv1 TXT records (N_RECORDS; ID_VALID: the first has a good id, else
 * WHY): returns 1 with V set when that decides (none, or not valid), 0 when
 * the policy must be fetched. */
int sts_txt_verdict(
    const char *domain, int n_records, int id_valid, const char *why, struct verdict *v);
/* The policy at URL could not be used (WHY). */
void sts_unusable_verdict(const char *url, const char *domain, const char *why, struct verdict *v);
void sts_details_json(const struct sts_summary *s, cJSON *details);

/* ---- dns.m365_verification (dns_m365_verification.c) ---- */

/* The MS=ms... TXT records of the domain. */
struct msv_summary {
	const char *domain;
	const char *want;           /* the plan's expect.verification, or NULL */
	size_t n_records;           /* MS= records published */
	const char *first;          /* the first of them, or NULL */
	int found;                  /* WANT is among them */
	const char *const *records; /* the N_RECORDS MS= records (details only) */
};
void msv_verdict(const struct msv_summary *s, struct verdict *v);
void msv_details_json(const struct msv_summary *s, cJSON *details);

/* ---- dns.tls_rpt (dns_tls_rpt.c) ---- */

/* The v=TLSRPTv1 records at _smtp._tls.DOMAIN. */
struct tlsrpt_summary {
	const char *name; /* _smtp._tls.DOMAIN */
	const char *domain;
	size_t n_records;
	const char *error;     /* why the record is not valid (or more than one), or NULL */
	const char *first_rua; /* the first report address of the first record */
	size_t n_rua;
	/* For the details only: */
	const char *record;     /* the first record, or NULL */
	const char *const *rua; /* its N_RUA report addresses */
};
void tlsrpt_verdict(const struct tlsrpt_summary *s, struct verdict *v);
void tlsrpt_details_json(const struct tlsrpt_summary *s, cJSON *details);

/* ---- web.webmail (web_webmail.c) ---- */

/* A webmail certificate that expires in fewer days than this warns. */
#define WEBMAIL_EXPIRY_WARN_DAYS 14

/* What fetching one side's webmail URL met (the last hop's facts). */
struct webmail_summary {
	const char *side;     /* "source" or "destination" */
	const char *plan_url; /* the URL in the plan */
	enum http_fetch_end end;
	const char *error; /* the fetch's reason unless HTTP_FETCH_OK */
	int no_such_name;  /* DNS said NXDOMAIN or NODATA */
	const char *url;   /* the last hop's URL */
	long status;       /* its HTTP status, 0 none */
	int timed_out;
	size_t n_hops; /* requests made (redirects + 1) */
	int https;
	const char *tls_version; /* "TLSv1.3", "" */
	int tls_verified;
	const char *tls_verify_error; /* "" when none */
	int has_expiry;               /* the certificate's notAfter is known */
	long days_left;               /* until then */
	/* For the details only: */
	const struct http_fetch_result *fetch; /* the whole fetch (http_fetch_report) */
	time_t now;                            /* when it ended */
	int exchange;                          /* an Exchange host (OWA or the profile) */
	int ews_probed;                        /* an EWS probe follows (its details: ews) */
};

/* Returns 1 when the page is good enough to probe EWS behind it. */
int webmail_verdict(const struct webmail_summary *s, struct verdict *out);
/* The fetch report, "exchange", and "ews": null unless EWS_PROBED. */
void webmail_details_json(const struct webmail_summary *s, cJSON *details);

/* What the EWS probe (GET /EWS/Exchange.asmx) of an Exchange webmail met. */
struct ews_summary {
	const char *url;
	long http_status;              /* 0 none */
	const char *const *challenges; /* WWW-Authenticate values */
	size_t n_challenges;
	const char *error; /* the fetch's reason, or NULL */
	int reachable;     /* 401 with a challenge */
};

/* The webmail verdict (PREV_STATUS, PREV_SUMMARY) with the EWS probe's word added. */
void ews_verdict(const struct ews_summary *s, enum result_status prev_status,
    const char *prev_summary, struct verdict *out);
void ews_details_json(const struct ews_summary *s, cJSON *ews);

/* ---- web.autodiscover (web_autodiscover.c) ---- */

/* What one autodiscover step (or the autoconfig probe) met. */
struct web_ad_step {
	const char *url;       /* where it started, or NULL before known */
	int found;             /* it found an endpoint */
	const char *reason;    /* why it failed, or what it found; or NULL */
	const cJSON *report;   /* http_fetch_report of its last fetch, or NULL */
	const cJSON *names;    /* hosts and aliases it reached (an array), or NULL */
	const char *points_to; /* the host that answered (or its alias target) */
	const struct autodiscover_settings *settings; /* parsed, or NULL */
	const cJSON *srv;                             /* step 4's SRV records (an array), or NULL */
};

/* How Outlook's four autodiscover steps went, in their order. */
struct web_ad_summary {
	const char *domain;
	const char *reasons[4];    /* each step's reason (NULL: none) */
	int win_step;              /* the first step that found an endpoint (1-4), 0 none */
	const char *win_method;    /* its name: "root_domain", ... */
	const char *win_points_to; /* the host that answered (or its alias target) */
	const char *win_reason;
	const struct autodiscover_settings *win_settings; /* parsed POX settings, or NULL */
	const char *expected; /* the plan's expected autodiscover host, or NULL */
	int matches;          /* a name the winning step reached matches it */
	/* For the details only: */
	struct web_ad_step steps[5]; /* the four steps, then the autoconfig probe */
	const char *user;            /* --autodiscover-user, or NULL */
	const char *email;           /* the address asked about */
};
void web_ad_verdict(const struct web_ad_summary *s, struct verdict *v);
void web_ad_details_json(const struct web_ad_summary *s, cJSON *details);

/* ---- mailbox.folders, folder_names, limits, large_messages (mailbox_folders.c) ---- */

/* The source's folder inventory, as mailbox.folders sums it up. */
struct folders_summary {
	size_t n_folders;    /* listed folders */
	size_t n_unreadable; /* folders whose STATUS or size failed */
	const char *first_unreadable;
	int truncated; /* more folders than were read */
	int64_t total_messages;
	int64_t total_bytes; /* -1 unknown */
	/* For the details only: */
	const char *user;                    /* the source mailbox */
	const struct folders_inventory *inv; /* or NULL: not read */
	int connections;                     /* how the inventory was read */
	size_t round_trips;
};
void folders_verdict(const struct folders_summary *s, struct verdict *v);
void folders_details_json(const struct folders_summary *s, cJSON *details);

/* Folder names that will not migrate as they are (folders_name_problems). */
/* One problem of one folder name (a name may have several). */
struct name_problem {
	const char *name, *raw_name;
	const char *reason, *code;  /* folders_name_reason; a stable code */
	const char *suggestion;     /* a name that would migrate */
	const char *conflicts_with; /* the name it collides with (case_duplicate), or NULL */
};

struct names_summary {
	size_t n_names, n_bad, n_problems;
	const char *first; /* the first name with a problem */
	/* For the details only: */
	const struct name_problem *problems; /* the N_PROBLEMS problems */
	int read;                            /* the source's folders were read */
	char source_delim;                   /* '\0': none (flat) */
	char dest_delim;
	const char *dest_delim_from; /* "destination" (its LIST) or "default" */
};
void names_verdict(const struct names_summary *s, struct verdict *v);
void names_details_json(const struct names_summary *s, cJSON *details);

/* The mailbox against the destination's item and folder limits (-1: none). */
struct limits_summary {
	int64_t total_messages;
	size_t folder_count;
	int64_t items_limit;  /* more items fail: the migration stops there */
	int64_t folder_limit; /* more folders warn */
	int counted;          /* the source's folders were read (details only) */
};
void limits_verdict(const struct limits_summary *s, struct verdict *v);
void limits_details_json(const struct limits_summary *s, cJSON *details);

/* Messages over the destination's message size limit (-1: none known). */
struct large_summary {
	int64_t limit;
	int64_t count;      /* messages over it */
	size_t n_folders;   /* folders holding them */
	size_t not_counted; /* folders that could not be searched */
	/* The source's folders (their "large" counts) for the details, or NULL
	 * when they were not read or there is no limit. */
	const struct folders_inventory *inv;
};
void large_verdict(const struct large_summary *s, struct verdict *v);
void large_details_json(const struct large_summary *s, cJSON *details);

/* ---- mailbox.folder_items (mailbox_folders.c) ---- */

/* More items than this in one folder warns (the destination's folder_items). */
#define ITEMS_LIMIT_DEFAULT 10000

struct items_summary {
	const struct folders_inventory *inv; /* the source's, or NULL */
	int64_t limit;
	size_t n_over;       /* folders holding more than LIMIT messages */
	const char *largest; /* the fullest of them (the first when tied) */
	uint32_t most;       /* its messages */
};

/* Count INV's folders over LIMIT into S (INV may be NULL). */
void items_summarize(const struct folders_inventory *inv, int64_t limit, struct items_summary *s);
void items_verdict(const struct items_summary *s, struct verdict *out);
void items_details_json(const struct items_summary *s, cJSON *details);

/* ---- mailbox.quota (mailbox_quota.c) ---- */

/* Above this share of the destination's limit the quota check warns. */
#define QUOTA_HEADROOM_DEFAULT 0.70

struct quota_summary {
	int64_t usage;                 /* the source's usage in bytes, -1 unknown */
	const char *usage_from;        /* "quota", "folders" or NULL */
	int64_t limit;                 /* the destination's limit in bytes, -1 unknown */
	const char *limit_from;        /* "destination", "plan" or NULL */
	double headroom;               /* warn above this ratio */
	int64_t source_limit;          /* the source's own quota limit, -1 */
	int64_t destination_usage;     /* the destination's usage, -1 */
	const char *source_quota_root; /* or NULL */
	const char *destination_error; /* the destination could not be read, or NULL */
};

/* usage / limit, or -1 when either is unknown. */
double quota_ratio(const struct quota_summary *s);
void quota_verdict(const struct quota_summary *s, struct verdict *out);
void quota_details_json(const struct quota_summary *s, cJSON *details);

/* ---- mailbox.compare (mailbox_compare.c) ---- */

/* A line of mailbox.compare's folders: a pair, or a folder on one side only. */
struct compare_row {
	const struct folders_folder *src, *dst; /* either may be NULL */
	const char *matched_by;                 /* "name", "special_use", ...; or NULL */
};

/* A source folder the sync leaves out, and why ("plan", "foreign_namespace"). */
struct compare_left_out {
	const char *source;
	const char *reason;
};

/* Source and destination folders paired by the sync's mapping, counted. */
struct compare_summary {
	size_t n_short; /* after a sync: synced folders short on the destination */
	const char *first_short;
	size_t n_one_sided; /* folders with messages on one side only */
	const char *first_one_sided;
	size_t differences; /* folders missing or with other counts */
	size_t n_missing;   /* source folders missing on the destination */
	size_t n_pairs;
	const char *first_difference; /* or NULL: a destination-only folder */
	int64_t source_total, destination_total;
	/* For the details only: */
	const char *user, *destination_user;
	int compared; /* both sides' folders were read (else the lists are empty) */
	const struct compare_row *rows;
	size_t n_rows;
	const char *const *missing; /* the N_MISSING source folders not on the destination */
	const struct compare_left_out *left_out;
	size_t n_left_out;
	int after_sync; /* the compare follows a sync */
};
void compare_verdict(const struct compare_summary *s, struct verdict *v);
void compare_details_json(const struct compare_summary *s, cJSON *details);

/* ---- mailbox.folder_map (mailbox_folder_map.c) ---- */

/* A source folder and where the sync puts it. */
struct folder_map_row {
	const char *source, *destination;
	const char *mapped_by; /* folders_by_str */
	int exists;            /* DESTINATION is there already */
	uint32_t messages;
	int rewritten; /* characters the destination refuses were replaced */
};

/* Where the sync will put the source folders. */
struct folder_map_summary {
	size_t n_mapped, n_new; /* folders mapped; of them, new on the destination */
	size_t n_moved;         /* mapped under another name */
	size_t n_left_out;
	const char *moves;     /* "A -> B, C -> D and 3 more", "" when none */
	size_t n_unused_rules; /* plan folder_map rules naming no source folder */
	const char *first_unused_rule;
	const char *guessed;        /* "source"/"destination" without NAMESPACE, or NULL */
	const char *guessed_prefix; /* the prefix taken from LIST there */
	/* For the details only: */
	const char *user, *destination_user;
	const struct folders_inventory *src, *dst; /* both read, or NULL: nothing mapped */
	const struct folder_map_row *rows;         /* the N_MAPPED mappings */
	const struct compare_left_out *left_out;   /* the N_LEFT_OUT folders left out */
	const char *const *unused_rules;           /* the N_UNUSED_RULES rules' "from" */
};
void folder_map_verdict(const struct folder_map_summary *s, struct verdict *v);
void folder_map_details_json(const struct folder_map_summary *s, cJSON *details);

/* ---- smtp.mx (smtp_mx.c) ---- */

/* What the probe of one MX host met. */
struct smtp_mx_host_facts {
	const char *host;
	int preference;
	enum smtp_outcome outcome;
	const char *error;        /* the probe's error unless it went well; NULL: none */
	const char *peer;         /* the address connected to, "" */
	const char *banner;       /* or NULL */
	const char *const *esmtp; /* the EHLO keywords */
	size_t n_esmtp;
	int starttls, pipelining;      /* offered, used */
	const struct tls_facts *tls;   /* the handshake, or NULL: none */
	const struct smtp_rcpt *rcpts; /* the recipients' answers */
	size_t n_rcpts;
};

/* What the probes of every MX host met, counted (the first of each kind kept). */
struct smtp_mx_tally {
	const char *domain;
	int port;
	size_t n_hosts, n_rcpts;
	size_t accepted, rejected, deferred, untested;                /* recipient checks */
	size_t connect_failed, tls_failed, other_failed, no_starttls; /* hosts */
	char first_reject[300], first_defer[300], first_fail[300];
	const char *advice; /* for the first rejection, or NULL */
	/* For the details only: */
	const char *mx_source;                  /* "expected" (the plan's hosts) or "dns" */
	const char *helo;                       /* the name we greet with */
	const char *const *recipients;          /* the N_RCPTS addresses probed */
	const struct smtp_mx_host_facts *hosts; /* the N_HOSTS probes, or NULL: none ran */
};
void smtp_mx_verdict(const struct smtp_mx_tally *y, struct verdict *v);
void smtp_mx_details_json(const struct smtp_mx_tally *y, cJSON *details);

/* ---- auth.token (auth_token.c) ---- */

/* How a side asks for its OAuth2 token, and what the token endpoint gave. */
struct auth_token_summary {
	const char *flow;                                           /* oauth2_flow_name */
	const char *token_url, *token_url_from, *scope, *client_id; /* the side's, or NULL */
	const char *user;               /* the mailbox asked for, or NULL */
	int answered;                   /* the cache answered (else the rest is unset) */
	int obtained;                   /* a token came */
	const char *error_code, *error; /* why not (NULL: unknown) */
	int permanent;                  /* retrying will not help */
	time_t expires_at;              /* 0: unknown */
	long long lifetime_s;           /* as the endpoint said; -1: EXPIRES_AT - NOW */
	time_t now;
	int jwt;                               /* the token is a JWT (its claims read) */
	const char *roles, *scopes, *audience; /* its claims, "" when none */
	const char *const *required;           /* the permissions the mail logins need */
	size_t n_required;
	const char *const *missing; /* of them, those the token lacks */
	size_t n_missing;
	int in_roles; /* they are application roles (else delegated scopes) */
};
void auth_token_verdict(const struct auth_token_summary *s, struct verdict *v);
void auth_token_details_json(const struct auth_token_summary *s, cJSON *details);

#endif
