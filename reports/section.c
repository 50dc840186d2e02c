/* section.c - see section.h. */
#include "section.h"

#include <string.h>

static int
section_prefix(const char *id, const char *prefix)
{
	return strncmp(id, prefix, strlen(prefix)) == 0;
}

static int
section_suffix(const char *id, const char *suffix)
{
	size_t l = strlen(id), s = strlen(suffix);

	return l >= s && strcmp(id + l - s, suffix) == 0;
}

enum section
section_of(const char *id)
{
	if (id == NULL)
		return SECTION_OTHER;
	if (strcmp(id, "dns.propagation") == 0)
		return SECTION_PROPAGATION;
	if (section_prefix(id, "dns."))
		return SECTION_DNS;
	if (section_prefix(id, "web."))
		return SECTION_WEB;
	if (section_prefix(id, "mailbox.") || section_suffix(id, ".login"))
		return SECTION_MAILBOXES;
	if (section_prefix(id, "sync."))
		return SECTION_SYNC;
	if (section_suffix(id, ".tls") || section_prefix(id, "imap.") ||
	    section_prefix(id, "pop3.") || section_prefix(id, "smtp.") ||
	    section_prefix(id, "auth."))
		return SECTION_CONNECTIVITY;
	return SECTION_OTHER;
}

const char *
section_title(enum section s)
{
	static const char *const titles[SECTION_COUNT] = {
	    [SECTION_DNS] = "DNS",
	    [SECTION_PROPAGATION] = "Propagation",
	    [SECTION_CONNECTIVITY] = "Connectivity",
	    [SECTION_MAILBOXES] = "Mailboxes",
	    [SECTION_WEB] = "Web",
	    [SECTION_SYNC] = "Sync",
	    [SECTION_OTHER] = "Other checks",
	};

	return (unsigned)s < SECTION_COUNT ? titles[s] : "Other checks";
}

const char *
section_slug(enum section s)
{
	static const char *const slugs[SECTION_COUNT] = {
	    [SECTION_DNS] = "dns",
	    [SECTION_PROPAGATION] = "propagation",
	    [SECTION_CONNECTIVITY] = "connectivity",
	    [SECTION_MAILBOXES] = "mailboxes",
	    [SECTION_WEB] = "web",
	    [SECTION_SYNC] = "sync",
	    [SECTION_OTHER] = "other",
	};

	return (unsigned)s < SECTION_COUNT ? slugs[s] : "other";
}
