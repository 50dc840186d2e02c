/*
 * profile.h - built-in provider profiles (compiled-in data).
 *
 * A profile says what a provider looks like from DNS (MX patterns, SPF
 * include, autodiscover target, DKIM selectors) and which limits its
 * migrations have. The plan's "profile" fills "expect" and "limits" from
 * here; whatever the plan writes overrides the profile.
 */
#ifndef CUTOVER_PROFILE_H
#define CUTOVER_PROFILE_H

#include <stdint.h>

#define PROFILE_MAX_PATTERNS 8

/* Limits of a destination; -1 means "not set". */
struct profile_limits {
	int64_t folder_items;  /* items per folder (Exchange: 10,000 recommended) */
	int64_t message_bytes; /* largest message the migration moves */
	int64_t mailbox_bytes; /* mailbox quota */
	int64_t mailbox_items; /* items per mailbox the migration moves */
	int64_t folder_count;  /* folders per mailbox before clients degrade */
	double quota_headroom; /* share of the quota the source may fill (0.70) */
};

struct profile {
	const char *name;                                 /* "microsoft365" */
	const char *label;                                /* "Microsoft 365" */
	const char *mx[PROFILE_MAX_PATTERNS];             /* NULL-terminated patterns */
	const char *spf_include;                          /* NULL if none */
	const char *autodiscover;                         /* expected CNAME target or NULL */
	const char *dkim_selectors[PROFILE_MAX_PATTERNS]; /* NULL-terminated */
	struct profile_limits limits;
};

/* The profile named NAME, or NULL. */
const struct profile *profile_find(const char *name);
/* The profile whose MX patterns match EXCHANGE, or NULL. */
const struct profile *profile_match_mx(const char *exchange);
/* NULL-terminated list of all profiles, for help texts and suggestions. */
const struct profile *const *profile_all(void);

#endif
