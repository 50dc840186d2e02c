/*
 * profile.c - the built-in provider profiles.
 *
 * Sources for the numbers: Microsoft's Exchange Online limits (150 MB per
 * item, 50 GB default mailbox, 10,000 items per folder recommended for
 * migration batches, IMAP migration stops at 500,000 items and moves
 * messages up to 35 MB); Rackspace Email (25 GB mailboxes, 50 MB messages);
 * Google Workspace (25 MB sending limit per message for migrations via IMAP).
 */
#include "profile.h"

#include <stddef.h>
#include <string.h>

#include "util.h"

#define NOLIMIT -1

static const struct profile profile_microsoft365 = {
    .name = "microsoft365",
    .label = "Microsoft 365",
    .mx = {"*.mail.protection.outlook.com", NULL},
    .spf_include = "spf.protection.outlook.com",
    .autodiscover = "autodiscover.outlook.com",
    .dkim_selectors = {"selector1", "selector2", NULL},
    .limits = {.folder_items = 10000,
        .message_bytes = 36700160,
        .mailbox_bytes = 53687091200LL,
        .mailbox_items = 500000,
        .folder_count = 500,
        .quota_headroom = 0.70},
};

static const struct profile profile_rackspace = {
    .name = "rackspace",
    .label = "Rackspace Email",
    .mx = {"mx1.emailsrvr.com", "mx2.emailsrvr.com", "*.emailsrvr.com", NULL},
    .spf_include = "emailsrvr.com",
    .autodiscover = "autodiscover.emailsrvr.com",
    .dkim_selectors = {NULL},
    .limits = {.folder_items = NOLIMIT,
        .message_bytes = 52428800,
        .mailbox_bytes = 26843545600LL,
        .mailbox_items = NOLIMIT,
        .folder_count = NOLIMIT,
        .quota_headroom = 0.70},
};

static const struct profile profile_google = {
    .name = "google",
    .label = "Google Workspace",
    .mx = {"aspmx.l.google.com", "*.aspmx.l.google.com", "smtp.google.com", "*.googlemail.com",
        NULL},
    .spf_include = "_spf.google.com",
    .autodiscover = NULL,
    .dkim_selectors = {"google", NULL},
    .limits = {.folder_items = NOLIMIT,
        .message_bytes = 26214400,
        .mailbox_bytes = 32212254720LL,
        .mailbox_items = NOLIMIT,
        .folder_count = NOLIMIT,
        .quota_headroom = 0.70},
};

static const struct profile profile_generic = {
    .name = "generic",
    .label = "generic IMAP host",
    .mx = {NULL},
    .spf_include = NULL,
    .autodiscover = NULL,
    .dkim_selectors = {NULL},
    .limits = {.folder_items = 10000,
        .message_bytes = NOLIMIT,
        .mailbox_bytes = NOLIMIT,
        .mailbox_items = NOLIMIT,
        .folder_count = NOLIMIT,
        .quota_headroom = 0.70},
};

static const struct profile *const profile_list[] = {
    &profile_microsoft365,
    &profile_rackspace,
    &profile_google,
    &profile_generic,
    NULL,
};

const struct profile *
profile_find(const char *name)
{
	for (size_t i = 0; profile_list[i] != NULL; i++)
		if (name != NULL && strcmp(profile_list[i]->name, name) == 0)
			return profile_list[i];
	return NULL;
}

const struct profile *
profile_match_mx(const char *exchange)
{
	for (size_t i = 0; profile_list[i] != NULL; i++)
		for (size_t j = 0; profile_list[i]->mx[j] != NULL; j++)
			if (util_domain_match(profile_list[i]->mx[j], exchange))
				return profile_list[i];
	return NULL;
}

const struct profile *const *
profile_all(void)
{
	return profile_list;
}
