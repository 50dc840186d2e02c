/*
 * check_verdicts.h - what each check observed (its summary struct) and how
 * it judges it, check by check: the rule book of the report.
 *
 * For each check: a summary struct filled by the check's gathering code,
 * X_verdict() (summary -> status, summary line and advice; pure: no I/O, no
 * JSON, no clock) and, where the details are built from the summary alone,
 * X_details_json() (summary -> the result's details, reports/SCHEMA.md).
 * Strings in a summary are borrowed from whoever gathered them. The edges
 * of every verdict are unit-tested in tests/unit/test_verdicts_*.c.
 */
#ifndef CUTOVER_CHECK_VERDICTS_H
#define CUTOVER_CHECK_VERDICTS_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "folders.h"
#include "http.h"
#include "verdict.h"

/* ---- mailbox.quota (mailbox_quota.c) ---- */

/* Above this share of the destination's limit the quota check warns. */
#define QUOTA_HEADROOM_DEFAULT 0.70

struct quota_summary {
	int64_t usage;              /* the source's usage in bytes, -1 unknown */
	const char *usage_from;     /* "quota", "folders" or NULL */
	int64_t limit;              /* the destination's limit in bytes, -1 unknown */
	const char *limit_from;     /* "destination", "plan" or NULL */
	double headroom;            /* warn above this ratio */
	int64_t source_limit;       /* the source's own quota limit, -1 */
	int64_t destination_usage;  /* the destination's usage, -1 */
	const char *source_quota_root;  /* or NULL */
	const char *destination_error;  /* the destination could not be read, or NULL */
};

/* usage / limit, or -1 when either is unknown. */
double quota_ratio(const struct quota_summary *s);
void quota_verdict(const struct quota_summary *s, struct verdict *out);
void quota_details_json(const struct quota_summary *s, cJSON *details);

/* ---- mailbox.folder_items (mailbox_folders.c) ---- */

/* More items than this in one folder warns (the destination's folder_items). */
#define ITEMS_LIMIT_DEFAULT 10000

struct items_summary {
	const struct folders_inventory *inv; /* the source's, or NULL */
	int64_t limit;
	size_t n_over;        /* folders holding more than LIMIT messages */
	const char *largest;  /* the fullest of them (the first when tied) */
	uint32_t most;        /* its messages */
};

/* Count INV's folders over LIMIT into S (INV may be NULL). */
void items_summarize(const struct folders_inventory *inv, int64_t limit, struct items_summary *s);
void items_verdict(const struct items_summary *s, struct verdict *out);
void items_details_json(const struct items_summary *s, cJSON *details);

/* ---- web.webmail (web_webmail.c) ---- */

/* A webmail certificate that expires in fewer days than this warns. */
#define WEBMAIL_EXPIRY_WARN_DAYS 14

/* What fetching one side's webmail URL met (the last hop's facts). */
struct webmail_summary {
	const char *side;             /* "source" or "destination" */
	const char *plan_url;         /* the URL in the plan */
	enum http_fetch_end end;
	const char *error;            /* the fetch's reason unless HTTP_FETCH_OK */
	int no_such_name;             /* DNS said NXDOMAIN or NODATA */
	const char *url;              /* the last hop's URL */
	long status;                  /* its HTTP status, 0 none */
	int timed_out;
	size_t n_hops;                /* requests made (redirects + 1) */
	int https;
	const char *tls_version;      /* "TLSv1.3", "" */
	int tls_verified;
	const char *tls_verify_error; /* "" when none */
	int has_expiry;               /* the certificate's notAfter is known */
	long days_left;               /* until then */
};

/* Returns 1 when the page is good enough to probe EWS behind it. */
int webmail_verdict(const struct webmail_summary *s, struct verdict *out);

/* What the EWS probe (GET /EWS/Exchange.asmx) of an Exchange webmail met. */
struct ews_summary {
	const char *url;
	long http_status;              /* 0 none */
	const char *const *challenges; /* WWW-Authenticate values */
	size_t n_challenges;
	const char *error;             /* the fetch's reason, or NULL */
	int reachable;                 /* 401 with a challenge */
};

/* The webmail verdict (PREV_STATUS, PREV_SUMMARY) with the EWS probe's word added. */
void ews_verdict(const struct ews_summary *s, enum result_status prev_status,
    const char *prev_summary, struct verdict *out);
void ews_details_json(const struct ews_summary *s, cJSON *ews);

#endif
