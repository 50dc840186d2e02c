/*
 * dnsmsg.h - a parsed DNS message (RFC 1035 section 4), with TTLs.
 *
 * c-ares 1.18 hands us the raw answer; its typed parsers drop TTLs for most
 * types, and TTLs are what a cutover is about. dnsmsg_parse() is pure (bytes
 * in, struct out, no I/O) so it can be unit-tested and fuzzed; it walks the
 * message with glibc's libresolv (ns_initparse/ns_parserr/ns_name_uncompress),
 * a long-lived library, rather than a hand-written decoder.
 */
#ifndef CUTOVER_DNSMSG_H
#define CUTOVER_DNSMSG_H

#include <stddef.h>
#include <stdint.h>

enum dnsmsg_type {
	DNSMSG_A = 1,
	DNSMSG_NS = 2,
	DNSMSG_CNAME = 5,
	DNSMSG_SOA = 6,
	DNSMSG_PTR = 12,
	DNSMSG_MX = 15,
	DNSMSG_TXT = 16,
	DNSMSG_AAAA = 28,
	DNSMSG_SRV = 33,
};

enum dnsmsg_section { DNSMSG_ANSWER = 0, DNSMSG_AUTHORITY = 1, DNSMSG_ADDITIONAL = 2 };

struct dnsmsg_rr {
	enum dnsmsg_section section;
	char *name; /* owner, case as sent, no trailing dot; "" = root */
	int type;   /* enum dnsmsg_type or any other number */
	int rclass;
	uint32_t ttl;
	/* MX exchange, CNAME/NS/PTR target, SRV target; "" for the root (null MX) */
	char *target;
	uint16_t preference;             /* MX */
	uint16_t priority, weight, port; /* SRV */
	char addr[46];                   /* A/AAAA in text form */
	/* TXT: the character-strings, each NUL-terminated with its length kept
	 * (a string may hold a NUL byte); text = all strings concatenated. */
	char **strings;
	size_t *string_lens;
	size_t n_strings;
	char *text;
	size_t text_len;
	/* SOA */
	char *mname, *rname;
	uint32_t serial, refresh, retry, expire, minimum;
};

struct dnsmsg {
	uint16_t id;
	int rcode;          /* 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED, ... */
	int aa, tc, rd, ra; /* header flags */
	char *qname;        /* the question's name, or NULL if none */
	int qtype;
	struct dnsmsg_rr *rr; /* answer, then authority, then additional */
	size_t n_rr;
};

/*
 * Parse the DNS message BUF of LEN bytes. Returns 0 and a new *OUT (free with
 * dnsmsg_free), or -1 with *ERR (caller frees) saying what is malformed. A
 * record of a known type whose RDATA is malformed makes the whole message
 * malformed; records of unknown types are kept with only the common fields
 * (so are A and AAAA outside class IN, whose RDATA means something else).
 * A TTL with the top bit set reads as 0 (RFC 2181 section 8), except OPT's.
 */
int dnsmsg_parse(const unsigned char *buf, size_t len, struct dnsmsg **out, char **err);
void dnsmsg_free(struct dnsmsg *msg);

/*
 * Iterate the records of SECTION and TYPE whose owner is NAME (case-insensitive,
 * trailing dot ignored; NULL = any owner). Start with *ITER = 0; returns the next
 * match or NULL at the end.
 */
const struct dnsmsg_rr *dnsmsg_next(const struct dnsmsg *msg, enum dnsmsg_section section, int type,
    const char *name, size_t *iter);

/*
 * Follow the CNAME chain for NAME inside the answer section (at most 16 links)
 * and return the final owner name (a pointer into MSG, or NAME itself). A
 * loop stops after 16 links and returns the name reached then.
 */
const char *dnsmsg_resolve_cname(const struct dnsmsg *msg, const char *name);

/* "MX", "TXT", ... or "TYPE65" style into BUF. */
const char *dnsmsg_type_str(int type, char *buf, size_t len);

#endif
