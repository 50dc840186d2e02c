/*
 * autodiscover.h - the XML of Outlook autodiscover (POX) and of Thunderbird
 * autoconfig, parsed from untrusted bytes.
 *
 * Pure: bytes in, a struct out, no I/O (unit tests and a fuzz target feed
 * it directly). Hostile input is bounded: at most AUTODISCOVER_MAX_INPUT
 * bytes, AUTODISCOVER_MAX_DEPTH nested elements, AUTODISCOVER_MAX_ELEMENTS
 * elements, AUTODISCOVER_MAX_TEXT bytes of text per element, and no document
 * type declaration at all (so no entities: neither "billion laughs" nor
 * external ones). Crossing a bound is an error naming it, never a bigger
 * allocation.
 *
 * The POX exchange is [MS-OXDSCLI] (Autodiscover Publishing and Lookup
 * Protocol) sections 2.2.3 (request) and 2.2.4 (response); autoconfig is the
 * Mozilla "config-v1.1.xml" format.
 */
#ifndef CUTOVER_AUTODISCOVER_H
#define CUTOVER_AUTODISCOVER_H

#include <stddef.h>

#define AUTODISCOVER_MAX_INPUT (256 * 1024)
#define AUTODISCOVER_MAX_DEPTH 32
#define AUTODISCOVER_MAX_ELEMENTS 4096
#define AUTODISCOVER_MAX_TEXT 2048
#define AUTODISCOVER_MAX_SERVERS 16

enum autodiscover_kind {
	AUTODISCOVER_POX = 0,    /* root <Autodiscover> */
	AUTODISCOVER_AUTOCONFIG, /* root <clientConfig> */
};

/* One server setting: a POX <Protocol> or an autoconfig incoming/outgoing server. */
struct autodiscover_server {
	char *type; /* POX: EXCH, EXPR, WEB, IMAP, POP3, SMTP ...; autoconfig: imap, pop3, smtp */
	char *direction; /* autoconfig: "incoming" / "outgoing"; NULL for POX */
	char *host;      /* POX <Server>, autoconfig <hostname> */
	long port;       /* 0 when absent or not a number */
	char *security;  /* POX <SSL>/<Encryption> ("on", "off", "TLS"); autoconfig <socketType> */
	char *ews_url;   /* POX <EwsUrl> */
	char *owa_url;   /* POX <OWAUrl> */
	char *as_url;    /* POX <ASUrl> */
};

struct autodiscover_settings {
	enum autodiscover_kind kind;
	char *display_name;  /* POX <User><DisplayName>, autoconfig <displayName> */
	char *smtp_address;  /* POX <AutoDiscoverSMTPAddress> */
	char *action;        /* POX <Action>: settings, redirectAddr, redirectUrl */
	char *redirect;      /* POX <RedirectAddr> or <RedirectUrl> */
	char *error_code;    /* POX <Error><ErrorCode> */
	char *error_message; /* POX <Error><Message> */
	char *provider_id;   /* autoconfig <emailProvider id=...> */
	struct autodiscover_server servers[AUTODISCOVER_MAX_SERVERS];
	size_t n_servers;
	size_t n_servers_dropped; /* past AUTODISCOVER_MAX_SERVERS */
};

/*
 * Parse BUF (LEN bytes, need not be NUL-terminated) as KIND. Returns 0 with
 * a new *OUT (free with autodiscover_settings_free), or -1 with *OUT NULL
 * and *ERR (caller frees) saying what is wrong: "not well-formed (invalid
 * token) at line 3", "document type declarations are not accepted", "nesting
 * deeper than 32 elements", "root element is <html>, not <Autodiscover>".
 */
int autodiscover_parse(enum autodiscover_kind kind, const char *buf, size_t len,
    struct autodiscover_settings **out, char **err);
void autodiscover_settings_free(struct autodiscover_settings *s);

/* The POX request body for EMAIL (XML-escaped). Caller frees. */
char *autodiscover_request(const char *email);

#endif
