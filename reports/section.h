/*
 * section.h - which part of a report a check id belongs to.
 *
 * The HTML report (reports/html.c) and the console summary (reports/console.c)
 * group checks the same way, by the prefix of the check id, so that a check
 * id added later lands in a sensible group without touching either: an id
 * no rule knows goes to SECTION_OTHER, which both still show in full.
 */
#ifndef CUTOVER_SECTION_H
#define CUTOVER_SECTION_H

enum section {
	SECTION_DNS = 0,      /* dns.* except dns.propagation */
	SECTION_PROPAGATION,  /* dns.propagation */
	SECTION_CONNECTIVITY, /* *.tls, other imap.* / pop3.* / smtp.* server checks, auth.* */
	SECTION_MAILBOXES,    /* *.login, mailbox.* */
	SECTION_WEB,          /* web.* */
	SECTION_SYNC,         /* sync.* */
	SECTION_OTHER,        /* anything else */
	SECTION_COUNT
};

/* The section of check ID (never fails: unknown ids give SECTION_OTHER). */
enum section section_of(const char *id);
/* "DNS", "Propagation", ... (static). */
const char *section_title(enum section s);
/* "dns", "propagation", ... for HTML ids and anchors (static). */
const char *section_slug(enum section s);

#endif
